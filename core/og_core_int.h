/* og_core_int - struct og_core, for core/ only. Outside core/ the core is
 * opaque (og_core.h declares it): the gateway, config and the connectors
 * reach its state only through core functions, so nothing outside core/
 * can name a Redis key or hold a connection. */
#ifndef OG_CORE_INT_H
#define OG_CORE_INT_H
#include "og_auth.h"
#include "og_batch.h"
#include "og_core.h"
#include "og_ingest.h"
#include "og_keys.h"
#include "og_redis.h"
#include "og_script.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct og_media_s3;  /* og_media_s3.c */
struct og_routing;   /* og_routing.c */
struct og_sensitive; /* og_sensitive.h */
struct og_texts;     /* og_texts.h */
struct og_retired;   /* og_core.c */

struct og_core {
    struct og_redis *redis;           /* owned: the shared pool */
    char *redis_url, *redis_password; /* owned: for connections of their own (og_stream) */
    int pool_size;
    char *tag; /* owned: "{og}", the prefix with its hash tag */
    int64_t dedup_ttl_s;
    struct og_script *lua[OG_LUA__LAST]; /* owned: og_script.h */
    struct og_fnlib *lua_lib;            /* owned: their Redis Function library */
    struct og_batch *ingest_batch;       /* owned: group commit of ingest */
    struct og_ingest_front ingest_front; /* its front: the common case in C */
    /* owned: compiled policies, og_routing.c. Atomic: SIGHUP swaps it
     * (og_core_reload), and the one it replaces is kept in retired until
     * og_core_free, since other threads may still read it. */
    struct og_routing *_Atomic routing;
    struct og_core_stats stats;
    struct og_auth_opts auth; /* sign-in lifetimes and limits, defaults filled */
    /* Sensitive words (og_sensitive.h), NULL when a list is empty: */
    struct og_sensitive *sw_customers, *sw_agents; /* owned */
    int sw_block_agents;
    struct og_texts *_Atomic texts; /* owned: the channels' automatic texts (og_texts.h) */
    struct og_retired *retired;     /* owned: what og_core_reload replaced */
    pthread_mutex_t reload_mu;      /* one reload at a time */
    char *goals_sync_json; /* owned: the config's goals for goals.lua's sync (og_goals.h) */
    atomic_int goals_synced;
    int64_t goal_day_ms;         /* a goal window's day: 86400000, or OMNIGATE_TEST_DAY_S's */
    char *public_url;            /* owned: the attachment links' origin ("" = relative) */
    unsigned char media_key[32]; /* og_media_link_key(og_core_opts.media_secret) */
    int64_t media_link_ttl_s;
    /* This process's id ("gw_..."): names its consumers and leases, so that
     * another instance can take over its work when its heartbeat stops
     * (og_instance.h). */
    char instance[48];
    /* Sentinel (og_sentinel.h), NULL without: */
    struct og_sentinel *sentinel; /* owned; used by one thread at a time */
    pthread_mutex_t fo_mu;        /* guards fo_why */
    char fo_why[320];             /* why no master is known now; "" when one is */
    int64_t fo_next_ask_ms;       /* the failover worker's next routine ask */
    int64_t fo_last_ask_ms;       /* and its last ask */
    int fo_trouble;               /* the pool met trouble since then */
    atomic_int has_master;        /* the sentinels named one once */
    atomic_ullong failovers;      /* moves after the first */
    /* The channels whose survey message carries reply buttons (ABI 1.3),
     * set before the workers start (og_texts_set_survey_buttons). Owned. */
    char **survey_buttons;
    size_t n_survey_buttons;
    /* The archive (og_archive.h): */
    char *arch_dir;                        /* owned; NULL = none */
    int64_t arch_after_ms, arch_delete_ms; /* 0 = never */
    int arch_batch;
    int arch_backfilled;         /* archive.lua's backfill said done (under arch_mu) */
    int arch_mode_set;           /* archive.lua's mode was told this process's setting */
    pthread_mutex_t arch_mu;     /* this process's appends and deletions */
    struct og_media_s3 *arch_s3; /* [borrowed] retention.store "s3"; NULL = files */
    unsigned long long arch_seq; /* its objects so far (under arch_mu) */
};

/* og_auth.c: fills the fields left 0 with their defaults. */
void og_auth_opts_defaults(struct og_auth_opts *o);
#endif
