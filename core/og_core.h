/* og_core - the engine's context: the Redis pool, the loaded scripts, the
 * key prefix, and the operations the gateway and the connectors' sink call.
 *
 * Ingest (og_core_ingest) is one Lua script: de-duplication, contact,
 * session (created or reopened), message, events and the routing queue are
 * written atomically, so a platform is acknowledged only after all of it is
 * in Redis, and a crash can never leave half a message. Concurrent ingests
 * share one script call (og_batch.h: group commit); each message in it is
 * still stored all-or-nothing and acknowledged only after the call. */
#ifndef OG_CORE_H
#define OG_CORE_H
#include "og_batch.h"
#include "og_channel.h"
#include "og_redis.h"

#include <omnigate/connector.h>
#include <stdatomic.h>
#include <stdint.h>

struct og_core_opts {
    const struct og_redis_opts *redis;
    const char *prefix;          /* "og" -> keys "{og}:..." */
    int64_t dedup_ttl_s;         /* default 8 days + 1 hour */
};

struct og_core_stats {           /* monotonic counters for /metrics */
    atomic_ullong ingested, duplicates, ingest_errors, sessions_created, sessions_reopened;
    atomic_ullong ingest_us_sum; /* total script latency, microseconds */
};

struct og_core {
    struct og_redis *redis;      /* owned */
    char *tag;                   /* owned: "{og}" */
    int64_t dedup_ttl_s;
    struct og_script *ingest, *read; /* owned */
    struct og_batch *ingest_batch;   /* owned: group commit of ingest */
    struct og_core_stats stats;
};

/* A script with the shared prelude (core/lua/prelude.lua) in front: every
 * core module builds its scripts this way. body is a og_lua_<name> constant
 * generated from core/lua/<name>.lua. [xfer, og_script_free] */
struct og_script *og_core_script(const char *name, const char *body);

/* [xfer, og_core_free]; NULL and errbuf on bad options. Connects lazily. */
struct og_core *og_core_new(const struct og_core_opts *o, char *errbuf, size_t errlen);
void og_core_free(struct og_core *c);

/* The outcome of storing one inbound message. Ids are NUL-terminated. */
struct og_ingest_result {
    int duplicate;               /* 1: already stored, nothing written */
    int session_created;         /* 1: new session, 2: reopened */
    char session_id[48];
    char message_id[48];
};
og_err og_core_ingest(struct og_core *c, const struct og_channel *ch, const struct og_inbound *m,
                      struct og_ingest_result *res);

/* A sink for og_channel that ingests into this core (the daemon's sink). */
struct og_channel_sink og_core_sink(struct og_core *c);

/* Read API. JSON texts are [xfer]. */
og_err og_core_session_json(struct og_core *c, const char *id, char **json);
/* Writes {"items":[...],"next_cursor":...} into *json. */
og_err og_core_list_sessions(struct og_core *c, const char *status, const char *channel,
                             const char *cursor, int limit, char **json);
og_err og_core_list_messages(struct og_core *c, const char *session_id, const char *cursor,
                             int limit, char **json);
/* {"items":[...],"next_cursor":...} from a list script's reply: element 0
 * the next cursor ("" = none), then one JSON text per item. [xfer] */
char *og_core_render_list(const redisReply *r);

/* Connector state (polling offsets). *val [xfer] or NULL when unset. */
og_err og_core_state_get(struct og_core *c, const char *channel, const char *key, char **val);
og_err og_core_state_set(struct og_core *c, const char *channel, const char *key,
                         const char *val);
#endif
