/* og_script - the core's Lua scripts and the one way to call them.
 *
 * Every script lives in core/lua/ and is named after the C module that calls
 * it: <module>.lua, or <module>_<step>.lua when a module needs several round
 * trips that must stay separate (webhook_dispatch_read, _step...). The build
 * embeds each as og_lua_<name>. og_core_new() makes them ONE Redis Function
 * library (og_script_library): prelude.lua (keys, renderers, events) at its
 * top level, then each script's text as the body of a function
 * og_<name>_<hash> (and its no-writes twin og_<name>_ro_<hash>), in a
 * library omnigate_<hash>; hash is the first 16 hex digits of the SHA-1 of
 * the whole library, so versions sharing one Redis never call each other's
 * code. The prelude's top level thus runs once per FUNCTION LOAD, not per
 * call (as EVALSHA it cost every call 15-25 us of Redis time); what it
 * keeps between calls is reset by call_begin() at the start of each. The
 * library is loaded at start (og_core_load_scripts) and again whenever
 * Redis says it has not got it (og_redis_eval). The core keeps the scripts
 * for its whole life, so a module never builds or frees one.
 *
 * A script body is a function body: KEYS and ARGV are its parameters, as
 * EVAL had them, and it may refer to at most 59 of the prelude's locals
 * (Lua 5.1 takes 60 upvalues per function; call_begin is one; routing.lua,
 * the widest, uses ~30); a script over that, or any other error in the
 * library, fails FUNCTION LOAD, which refuses the start (og-unit-script
 * loads every script). A new top-level variable in prelude.lua that a call
 * changes must be reset in call_begin, or it leaks into the next call
 * (og-unit-script scans core/lua for such changes).
 *
 * The reply shape every script follows:
 *   {"ok", value...}              success; the values are the op's own
 *   {"err", code, message}        a refusal: code is an og_err name
 *                                 (og_err_name: not_found, conflict,
 *                                 invalid, forbidden...), message says why
 *                                 in words an API client may see
 * A batched script (og_batch.h) returns one such reply per call. A Redis
 * error reply (the script raised: a bug, or Redis out of memory) is logged
 * and returned as OG_ERR_INTERNAL, or OG_ERR_UNAVAILABLE when Redis says
 * "try later" (OOM, LOADING, BUSY, MASTERDOWN, READONLY). */
#ifndef OG_SCRIPT_H
#define OG_SCRIPT_H
#include "og_redis.h"

#include <omnigate/connector.h>

struct og_core;

enum og_lua {
    OG_LUA_INGEST,                 /* og_core.c: store inbound messages (batched) */
    OG_LUA_SESSIONS,               /* og_sessions.c: list, get, messages, read markers */
    OG_LUA_CONTACTS,               /* og_contacts.c: get, patch */
    OG_LUA_AGENTS,                 /* og_agents.c: the agent store, token lookup */
    OG_LUA_AUTH,                   /* og_auth.c: passwords, cookie sessions, sign-in limits */
    OG_LUA_ROUTING,                /* og_routing.c: queues, assignment, close, presence, timers */
    OG_LUA_OUTBOX,                 /* og_outbox.c: the send queue's steps */
    OG_LUA_OUTBOX_REPLY,           /* og_outbox.c: an agent's reply or new conversation */
    OG_LUA_OUTBOX_STATUS,          /* og_outbox.c: platform delivery statuses */
    OG_LUA_FOLLOWUPS,              /* og_followups.c: e-mail follow-ups */
    OG_LUA_WEBHOOK_ADMIN,          /* og_webhooks.c: subscriptions, replay */
    OG_LUA_WEBHOOK_DISPATCH_READ,  /* og_webhook_dispatch.c: read and queue new events */
    OG_LUA_WEBHOOK_DISPATCH_STEP,  /* og_webhook_dispatch.c: settle attempts, claim queues */
    OG_LUA_WEBHOOK_DISPATCH_FETCH, /* og_webhook_dispatch.c: bodies missing from the cache */
    OG_LUA_WEBHOOK_DISPATCH_SKIP,  /* og_webhook_dispatch.c: skip the stream while unsubscribed */
    OG_LUA_STREAM,                 /* og_stream.c: trimming below what every group owes */
    OG_LUA_GROUPS,                 /* og_groups.c: agent groups */
    OG_LUA_CANNED,                 /* og_canned.c: canned responses */
    OG_LUA_TEXTS,                  /* og_texts.c: automatic texts */
    OG_LUA_GOALS,                  /* og_goals.c: chat goals */
    OG_LUA_INSTANCES,              /* og_instance.c: heartbeats, takeover of dead instances' work */
    OG_LUA_STATS,                  /* og_stats.c: statistics, rebuild, exports, report links */
    OG_LUA_WEBCHAT,                /* og_webchat.c: visitors, tokens, limits */
    OG_LUA_CSAT,                   /* og_csat.c: satisfaction survey answers */
    OG_LUA_ARCHIVE,                /* og_archive.c: sessions out of Redis and back */
    OG_LUA__LAST
};

/* The library of n scripts (names[i] "ingest" with text bodies[i]) after
 * prelude, and into scripts[i] each one's function [xfer, og_script_free].
 * [xfer, og_fnlib_free; it must outlive the scripts] */
struct og_fnlib *og_script_library(const char *prelude, size_t n, const char *const *names,
                                   const char *const *bodies, struct og_script **scripts);

/* FUNCTION LOAD of the core's library (og_core_load_scripts). */
og_err og_script_load(struct og_core *c, char *msg, size_t msglen);

/* The script of id, [borrowed from c]. */
struct og_script *og_core_lua(struct og_core *c, enum og_lua id);

/* Runs script id with argv (ARGV only, no KEYS; lens NULL for C strings).
 * OG_OK: *reply [xfer, freeReplyObject] is the {"ok", ...} array. A
 * refusal returns its og_err with the script's message in msg (msg may be
 * NULL), *reply NULL. */
og_err og_script_call(struct og_core *c, enum og_lua id, int argc, const char **argv,
                      const size_t *lens, redisReply **reply, char *msg, size_t msglen);

/* Applies the reply rule to one reply (a whole script's, or one call's of a
 * batch): OG_OK when r is {"ok", ...}; else the refusal's og_err (message
 * into msg) or OG_ERR_INTERNAL for any other shape. Does not free r. */
og_err og_script_reply(const char *name, const redisReply *r, char *msg, size_t msglen);

/* "try later" Redis error replies (OOM, LOADING, BUSY, MASTERDOWN,
 * READONLY): 1 when err is one. */
int og_script_busy_error(const char *err);
#endif
