/* og_core - the engine: all of omnigate's state and every Redis key and
 * script. The core is opaque outside core/ (struct og_core is defined in
 * og_core_int.h): the gateway, config and tests reach it only through the
 * functions of the core's headers (og_core.h, og_sessions.h, og_routing.h,
 * og_agents.h, og_contacts.h, og_outbox.h, og_followups.h, og_webhooks.h,
 * og_stream.h and the others beside them), which take the core as their first
 * argument. og_core_new() builds every service from one options struct
 * (scripts, the ingest batcher, the routing policies, the close rules) and
 * owns them; the daemon's threads only borrow the core. The core creates
 * no thread, serves no socket and knows no HTTP status.
 *
 * Ingest (og_core_ingest) is one Lua script: de-duplication, contact,
 * session (created or reopened), message, events and the routing queue are
 * written atomically, so a platform is acknowledged only after all of it is
 * in Redis, and a crash can never leave half a message. Concurrent ingests
 * share one script call (og_batch.h: group commit); each message in it is
 * still stored all-or-nothing and acknowledged only after the call. */
#ifndef OG_CORE_H
#define OG_CORE_H
#include "og_channel.h"

#include <json-c/json.h>
#include <omnigate/connector.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct og_core;
struct og_routing_opts;   /* og_routing.h */
struct og_auth_opts;      /* og_auth.h */
struct og_sensitive_opts; /* og_sensitive.h */
struct og_texts_conf;     /* og_texts.h */
struct og_goal_seed;      /* og_goals.h */
struct og_archive_opts;   /* og_archive.h */

struct og_core_opts {
    const char *redis_url;      /* redis://host:port[/db] or unix:///path */
    const char *redis_password; /* NULL = none */
    /* Sentinel (redis.sentinels, og_sentinel.h): when n_sentinels > 0 the
     * master is asked of these "host:port" sentinels (redis_url is ignored)
     * by og_core_failover_resolve, and followed by og_core_failover_step. */
    const char *const *sentinels;
    size_t n_sentinels;
    const char *master_name;
    const char *sentinel_password;         /* NULL = none */
    int pool_size;                         /* connections shared by all threads */
    const char *prefix;                    /* "og" -> keys "{og}:..." */
    int64_t dedup_ttl_s;                   /* default 8 days + 1 hour */
    const struct og_routing_opts *routing; /* NULL: the implicit default policy */
    const struct og_auth_opts *auth;       /* NULL: og_auth.h's defaults */
    /* redis.durability "replicated": ingest is acknowledged only once this
     * many replicas have it (WAIT); 0 = no WAIT. */
    int wait_replicas;
    int wait_timeout_ms;
    const struct og_sensitive_opts *sensitive; /* NULL: no sensitive words */
    /* The channels' automatic texts (og_texts.h) and the goals the config
     * sets (og_goals.h: one per configured channel); copied. */
    const struct og_texts_conf *texts;
    size_t n_texts;
    const struct og_goal_seed *goals;
    size_t n_goals;
    int64_t goal_day_ms; /* a goal window's day; 0 = 86400000 (OMNIGATE_TEST_DAY_S) */
    /* Attachment links (og_media.h): an inbound attachment's url is stored
     * as the signed omnigate link <public_url>/api/v1/messages/<id>/
     * attachments/<n>?exp=..&sig=.. (the platform's own url moves to
     * source_url), signed with og_media_link_key(media_secret) and valid
     * media_link_ttl_s (0 = 7 days). public_url NULL or "" = relative. */
    const char *public_url;
    const char *media_secret; /* api.admin_token; NULL = "" */
    int64_t media_link_ttl_s;
    const struct og_archive_opts *archive; /* NULL: no archive (og_archive.h); copied */
    /* Tests and benchmarks: every message is stored by ingest.lua, none by
     * the C path (og_ingest.h), whose output is checked against it. */
    int ingest_script_only;
};

/* [xfer, og_core_free]; NULL and errbuf on bad options. Connects lazily:
 * nothing touches Redis before the first call that needs it. */
struct og_core *og_core_new(const struct og_core_opts *o, char *errbuf, size_t errlen);
void og_core_free(struct og_core *c);
/* SIGHUP: replaces the routing policies and the channels' automatic texts
 * (same shapes as og_core_opts's, copied) while every thread keeps running;
 * the texts are written to Redis again by the next routing pass. On an
 * error (OG_ERR_INVALID, errbuf says why) nothing changed. */
og_err og_core_reload(struct og_core *c, const struct og_routing_opts *routing,
                      const struct og_texts_conf *texts, size_t n_texts, char *errbuf,
                      size_t errlen);
/* Points the (still unconnected) pool at another Redis, e.g. the embedded
 * server's socket once it runs. OG_ERR_INVALID for a malformed URL. */
og_err og_core_retarget(struct og_core *c, const char *url, char *errbuf, size_t errlen);
/* How the configured Redis keeps what it accepts (redis.durability
 * "fsync"): OG_OK when it has AOF with appendfsync always; OG_ERR_RETRYABLE
 * (a warning: msg names the exposure) with appendfsync everysec or no
 * (about a second of acknowledged messages can be lost on a power loss);
 * OG_ERR_PERMANENT (refuse to start) without AOF: a restart loses
 * everything acknowledged; OG_ERR_UNAVAILABLE when Redis cannot be asked
 * now. msg says which. */
og_err og_core_check_persistence(struct og_core *c, char *msg, size_t msglen);
/* Sentinel. 1 when the core finds its master through sentinels. */
int og_core_has_sentinels(const struct og_core *c);
/* Asks the sentinels for the master, checks that it is one (ROLE) and
 * points the pool there: OG_OK; OG_ERR_UNAVAILABLE and why (no sentinel
 * answered, none names a master, the one named is not a master);
 * OG_ERR_UNSUPPORTED without sentinels. For start-up; then the worker. */
og_err og_core_failover_resolve(struct og_core *c, char *why, size_t whylen);
/* The failover worker's step (one thread calls it in a loop): waits up to
 * wait_ms for a +switch-master from a sentinel; asks them again at once when
 * a connection failed or a write met READONLY, and at least every 5 s
 * anyway. The pool follows a new master (og_redis_set_addr: old connections
 * dropped, in-flight commands 503, the script library reloaded if the new
 * master lacks it). 1 when
 * the pool moved, 0 otherwise. */
int og_core_failover_step(struct og_core *c, int wait_ms);
/* Times the pool moved to another master (for /metrics). */
unsigned long long og_core_failovers(struct og_core *c);
/* Loads the scripts into Redis (one Redis Function library, og_script.h),
 * for start-up: OG_OK when Redis has them; OG_ERR_INTERNAL when Redis
 * refuses the code (a broken script: msg says where; do not start);
 * OG_ERR_UNAVAILABLE when Redis cannot take it now (the first call loads
 * it later). */
og_err og_core_load_scripts(struct og_core *c, char *msg, size_t msglen);
/* 1 when Redis answers a PING now. */
int og_core_ping(struct og_core *c);
/* 1 when Redis takes a write now; else 0 and why ("unreachable", or Redis's
 * refusal, e.g. out of memory). For /readyz. */
int og_core_health(struct og_core *c, char *why, size_t whylen);

/* Monotonic counters for /metrics. */
struct og_core_stats {
    atomic_ullong ingested, duplicates, ingest_errors, sessions_created, sessions_reopened;
    atomic_ullong ingest_us_sum; /* total script latency, microseconds */
    /* the archive (og_archive.h): sessions moved out of Redis, brought back,
     * deleted with their segments (delete_after_days); contacts erased */
    atomic_ullong archived, archive_restored, archive_deleted, contacts_erased;
};
const struct og_core_stats *og_core_stats(const struct og_core *c);
/* Ingest script calls so far (each stores one or more messages). */
unsigned long long og_core_ingest_batches(struct og_core *c);
/* Messages the C path stored without the script (og_ingest.h), and its
 * batches that met a concurrent change and went to the script instead. */
void og_core_ingest_direct(struct og_core *c, unsigned long long *stored,
                           unsigned long long *conflicts);

/* Lengths for /metrics: the event stream, the send queue, a routing
 * policy's queue (name), the statistics facts not applied yet.
 * OG_ERR_UNAVAILABLE while Redis is down. */
enum og_depth { OG_DEPTH_EVENTS, OG_DEPTH_OUTBOX, OG_DEPTH_QUEUE, OG_DEPTH_STATS_PENDING };
og_err og_core_depth(struct og_core *c, enum og_depth what, const char *name, long long *n);

/* The outcome of storing one inbound message. Ids are NUL-terminated. */
struct og_ingest_result {
    int duplicate;       /* 1: already stored, nothing written */
    int session_created; /* 1: new session, 2: reopened */
    char session_id[48];
    char message_id[48];
};
og_err og_core_ingest(struct og_core *c, const struct og_channel *ch, const struct og_inbound *m,
                      struct og_ingest_result *res);

/* A sink for og_channel that ingests into this core (the daemon's sink). */
struct og_channel_sink og_core_sink(struct og_core *c);

/* Connector state (polling offsets). *val [xfer] or NULL when unset. */
og_err og_core_state_get(struct og_core *c, const char *channel, const char *key, char **val);
og_err og_core_state_set(struct og_core *c, const char *channel, const char *key, const char *val);
#endif
