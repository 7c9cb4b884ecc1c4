/* og_webhook_dispatch - the Redis side of webhook delivery: the steps a
 * dispatcher (gateway/og_webhook_worker.c: its thread and the libcurl multi
 * loop) drives, each one round trip of a core/lua/webhook_dispatch_*.lua
 * script (og_webhooks.h describes the pipeline):
 *   read   new entries of {og}:events, queued for the subscriptions that
 *          want them; their bodies go into the dispatchers' event cache;
 *   step   the results of finished attempts are recorded and their queues
 *          moved on (popped, retried, dead-lettered, acknowledged), then
 *          due queues are claimed under a lease; the claimed items come
 *          back parsed, with their bodies (from the cache, else fetched
 *          from the stream in one more round trip);
 *   skip   with no subscription at all, the group moves past new entries.
 * A claim's lease is recorded under this instance (og_instance.h), so that
 * when the instance dies another takes its queues over within seconds, and
 * a clean stop hands them back at once.
 *
 * Every script replies in og_script.h's shape; the functions below turn the
 * replies into C values, so no caller sees Redis. One dispatcher thread
 * uses its results and claims; the core and the event cache are shared. */
#ifndef OG_WEBHOOK_DISPATCH_H
#define OG_WEBHOOK_DISPATCH_H
#include "og_core.h"
#include "og_event_cache.h"
#include "og_webhooks.h"

#include <stddef.h>
#include <stdint.h>

/* Reads up to count new entries as consumer of the group "webhooks" and
 * queues them for the active subscriptions among subs [n_subs], the copy
 * the caller holds at version ver (og_webhooks_version); the bodies of the
 * entries queued go into cache. OG_OK with *n:
 *   > 0  entries read;
 *   0    nothing new: last_id [last_len] is the stream's last entry id, to
 *        wait for a newer one (og_stream_wait);
 *   -1   the subscriptions changed since ver: nothing was read; reload them
 *        and call again.
 * OG_ERR_NOT_FOUND: the group does not exist (the stream was deleted):
 * create it again. Anything else: Redis is unavailable or failed (logged). */
og_err og_webhook_dispatch_read(struct og_core *c, const char *consumer, int count, long long ver,
                                const struct og_webhook_sub *subs, size_t n_subs,
                                struct og_event_cache *cache, int *n, char *last_id,
                                size_t last_len);

/* ------------------------------------------------------------ results */

/* The results of finished attempts, gathered by the dispatcher thread
 * between two steps, per claim in queue order. Opaque. */
struct og_webhook_results;

/* [xfer, og_webhook_dispatch_results_free] */
struct og_webhook_results *og_webhook_dispatch_results_new(void);
void og_webhook_dispatch_results_free(struct og_webhook_results *r);
/* Values gathered and not yet handed to a step (0 = nothing to report). */
size_t og_webhook_dispatch_results_count(const struct og_webhook_results *r);
/* Opens the results of one claim: its member and subscription as the
 * claim named them, the failed tries of its first item before this claim. */
void og_webhook_dispatch_result_open(struct og_webhook_results *r, const char *member,
                                     const char *sub, int tries);
/* One item's result in the open claim, in queue order. head and n: the
 * item's (og_webhook_item); outcome: "ok", "retry" (ends the claim's
 * results; next_ms is then the next attempt's time), "dead" (filed in the
 * dead-letter set) or "drop" (the subscription is gone). With status ("ok",
 * "failed", "dead") the attempt is recorded in the subscription's
 * deliveries (og_webhook_attempt_put; etype, attempt, code, latency_ms,
 * error, at_ms: when it was judged, the clock reading next_ms was computed
 * from, so that a record never shows its retry before itself), else nothing
 * is. Counts the outcome in og_webhook_stats. */
void og_webhook_dispatch_result_add(struct og_webhook_results *r, const char *head,
                                    const char *outcome, int n, const char *eid, const char *etype,
                                    const char *status, int attempt, long code, int64_t latency_ms,
                                    const char *error, int64_t at_ms, int64_t next_ms);
/* Closes the open claim; next_due_ms: the time of the retry that ended it,
 * else 0. A claim without results is taken back (its lease brings it
 * back). */
void og_webhook_dispatch_result_close(struct og_webhook_results *r, int64_t next_due_ms);

/* ------------------------------------------------------------- claims */

/* One claimed queue item. */
struct og_webhook_claimed {
    struct og_webhook_item item; /* parsed (owned; a caller may take it) */
    const char *raw;             /* [borrowed from the claims] the item as stored */
    int ok;                      /* parsed; else the item is damaged */
    int gone;                    /* the stream no longer holds its event */
    /* a reference (a caller may take it), NULL when not had: gone, or not
     * readable now (the claim's lease brings it back) */
    struct og_event_body *body;
};

/* One claimed (subscription, session) queue: its first items, in order. */
struct og_webhook_claim {
    const char *member, *sub;         /* [borrowed from the claims] */
    int tries;                        /* failed attempts of the first item so far */
    struct og_webhook_claimed *items; /* [n_items] within the claims' items */
    size_t n_items;
};

struct og_webhook_claims {
    int stale;                  /* the subscriptions changed since ver: nothing was claimed */
    struct og_webhook_claim *v; /* owned [n] */
    size_t n;
    struct og_webhook_claimed *items; /* owned [n_items], every claim's */
    size_t n_items;
    void *reply; /* owned: the script's reply, which the strings point into */
};
/* Frees what the claims still own (items and bodies not taken). */
void og_webhook_dispatch_claims_free(struct og_webhook_claims *cl);

/* One round trip (webhook_dispatch_step.lua): hands res to Redis, then
 * claims up to max_claims due queues (0: only report) under a lease of
 * lease_ms from now_ms, if the subscriptions are still at version ver; the
 * bodies of the claimed items come from cache, else from the stream.
 * OG_OK: res was recorded and is empty again; *out [free with
 * og_webhook_dispatch_claims_free] holds the claims. OG_ERR_UNAVAILABLE:
 * Redis is unavailable; res is kept for the next step. Anything else: the
 * step failed (logged) and res is dropped: the claims' leases bring their
 * queues back. */
og_err og_webhook_dispatch_step(struct og_core *c, struct og_webhook_results *res, int max_claims,
                                int64_t now_ms, int64_t lease_ms, long long ver,
                                struct og_event_cache *cache, struct og_webhook_claims *out);

/* With no subscription at all, moves the group past the stream's new
 * entries (webhook_dispatch_skip.lua). 1 when it did, 0 when a subscription
 * exists or Redis failed. */
int og_webhook_dispatch_skip(struct og_core *c);
#endif
