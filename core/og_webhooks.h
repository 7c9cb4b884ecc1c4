/* og_webhooks - outbound webhooks: Standard Webhooks signing, subscriptions
 * and their Redis state, and the three steps of the at-least-once delivery
 * pipeline that the dispatcher (gateway/og_webhook_worker.c) drives through
 * og_webhook_dispatch.h.
 *
 * The pipeline, all of it in Redis so any instance can continue any other's
 * work (keys in core/lua/prelude.lua; scripts core/lua/webhook_dispatch_*.lua;
 * steps 2 and 3 share one round trip, webhook_dispatch_step.lua):
 *   1. read: new entries of {og}:events are read by the consumer group
 *      "webhooks" and, in the same script (webhook_dispatch_read.lua), appended as
 *      small queue items (entry id, event id, type) to every matching
 *      subscription's per-session queue; a queue that was empty becomes
 *      due. An entry is thus never read without being queued, and queues
 *      hold a session's events in stream order whoever read them. The
 *      entry stays pending in the group (not acknowledged). The dispatcher
 *      keeps the event bodies the script returns (og_event_cache.h) and
 *      reads the stream again only for bodies it does not hold
 *      (webhook_dispatch_fetch.lua).
 *   2. claim: due (subscription, session) queues are taken from one sorted
 *      set atomically, with up to OG_WEBHOOK_CHAIN items each; the claim is
 *      a lease (the score moves to now + lease), so a queue whose claimer
 *      died becomes due again by itself (at once when its instance's
 *      heartbeat stops: og_instance.h). The items of a claim are sent one
 *      after another, each only after a 2xx for the one before.
 *   3. result: the attempt is recorded; on 2xx or dead-letter the queue's
 *      head is popped; when a claim's chain ends the session's next items
 *      are made due now, behind the queues due longer (due queues are
 *      claimed oldest first, docs/webhooks.md); when every
 *      subscription is done with an entry it is XACKed.
 * Only one item of a (subscription, session) queue is ever in flight, which
 * keeps per-session order; different sessions run in parallel. While no
 * subscription exists at all, the group is moved past new entries
 * (webhook_dispatch_skip.lua) instead of reading them.
 *
 * Secrets never reach a log line; API listings hide them. */
#ifndef OG_WEBHOOKS_H
#define OG_WEBHOOKS_H
#include "og_core.h"

#include <json-c/json.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct og_hmac; /* og_util.h */
struct og_buf;  /* og_util.h */

#define OG_WEBHOOK_MAX_RETRIES 32
#define OG_WEBHOOK_DELIVERIES_CAP 1000 /* attempts kept per subscription */
#define OG_WEBHOOK_CHAIN 16            /* queue items handed out per claim */

/* A queue item: "<head>\t<n>\t<event id>\t<type>", where head is the stream
 * entry id ("r:<entry id>" for a replay) and n the number of subscriptions
 * the entry was queued for (0 for a replay). */
struct og_webhook_item {
    const char *head, *eid, *type; /* [borrowed] NUL-terminated parts of buf */
    int n;
    char *buf; /* owned */
};
/* Builds an item. [xfer] */
char *og_webhook_item_new(const char *head, int n, const char *eid, const char *type);
/* The stream entry id of an item's head (without a replay's "r:"). [borrowed] */
const char *og_webhook_item_entry(const struct og_webhook_item *it);
/* Splits an item; 0, or -1 when it is not one (out is then empty). Free
 * with og_webhook_item_clear. */
int og_webhook_item_parse(const char *item, size_t len, struct og_webhook_item *out);
void og_webhook_item_clear(struct og_webhook_item *it);

/* ------------------------------------------------------------- signing */

/* Decodes "whsec_<base64>" into key (>= 64 bytes). Returns the key length
 * (24..64) or -1 when the text is not such a secret. */
int og_webhook_secret_decode(const char *secret, unsigned char key[64]);
/* "v1,<base64 HMAC-SHA256(key, id.ts.body)>" into out (>= 48 bytes).
 * 0 on success, -1 when the secret is malformed. */
int og_webhook_sign(const char *secret, const char *id, int64_t ts, const void *body, size_t len,
                    char *out, size_t outsz);
/* The same with the secret decoded and keyed once, for many messages:
 * NULL when the secret is malformed. Not thread-safe (og_hmac).
 * [xfer, og_hmac_free] */
struct og_hmac *og_webhook_signer_new(const char *secret);
int og_webhook_sign_with(struct og_hmac *signer, const char *id, int64_t ts, const void *body,
                         size_t len, char *out, size_t outsz);
/* A new random "whsec_" secret of 32 bytes. [xfer] */
char *og_webhook_secret_new(void);
/* 1 when t is an event type of docs/json.md (og-docs-events keeps the two
 * lists equal). Subscriptions to "*" or "<family>.*" also get
 * types added later; the dispatcher treats types generically. */
int og_webhook_event_type_known(const char *t);

/* --------------------------------------------------------- subscriptions */

/* A subscription's lagging mark (P:webhooks:lag, set by core/lua/stream.lua):
 * events were dropped from the event stream (events.max_bytes) before it
 * was sent them. It stays until an operator clears it
 * (og_webhooks_lag_clear: PATCH {"lagging": null}), so a loss is seen by a
 * person even when the subscription has caught up since. */
struct og_webhook_lag {
    long long lost;                  /* events lost since the mark was set; 0 = not lagging */
    char first_event[48];            /* the first lost event's id */
    char last_event[48];             /* the last lost event's id */
    int64_t first_at_ms, last_at_ms; /* when they were appended (their entry ids) */
    int64_t since_ms;                /* when the mark was set */
};

struct og_webhook_sub {
    char *id, *url;
    char *secret;      /* current "whsec_..." */
    char *secret_prev; /* still signing until prev_until_ms, or NULL */
    int64_t prev_until_ms;
    char **events; /* "*", event types, or families ("session.*") */
    size_t n_events;
    int64_t retry_s[OG_WEBHOOK_MAX_RETRIES]; /* delays before attempts 2..n+1 */
    size_t n_retry;                          /* 0 = the default schedule */
    int64_t timeout_ms;
    int enabled; /* as configured / set through the API */
    int from_config;
    char *disabled_reason; /* set when a 410 disabled it, else NULL */
    char *created_at, *updated_at;
    struct og_webhook_lag lag; /* read with the subscription, never stored with it */
};

/* Parses a stored or submitted subscription object. On error returns -1
 * with a message naming the field in err. partial: fields not present are
 * left as they are (for updates). */
int og_webhook_sub_parse(json_object *j, struct og_webhook_sub *s, int partial, char *err,
                         size_t errlen);
/* The subscription as stored (with_secret = 1) or as shown by the API
 * (secrets hidden, its lagging mark shown). [xfer] */
char *og_webhook_sub_json(const struct og_webhook_sub *s, int with_secret);
void og_webhook_sub_clear(struct og_webhook_sub *s);
/* 1 when the subscription wants events of type t. */
int og_webhook_sub_matches(const struct og_webhook_sub *s, const char *type);
/* Effective: enabled and not disabled by a 410. */
int og_webhook_sub_active(const struct og_webhook_sub *s);
/* Delay in ms before the attempt after `failed` failures (1-based), with
 * +-10% jitter; -1 when the schedule is exhausted (dead-letter). */
int64_t og_webhook_retry_delay_ms(const struct og_webhook_sub *s, int failed);

/* ---------------------------------------------------------- Redis state */

/* All subscriptions. *subs [xfer, og_webhook_subs_free]. */
og_err og_webhooks_load(struct og_core *c, struct og_webhook_sub **subs, size_t *n);
void og_webhook_subs_free(struct og_webhook_sub *subs, size_t n);
/* The version counter, bumped by every change (cache invalidation). */
og_err og_webhooks_version(struct og_core *c, long long *ver);
/* One subscription; OG_ERR_NOT_FOUND when absent. s is filled [owned by s]. */
og_err og_webhooks_get(struct og_core *c, const char *id, struct og_webhook_sub *s);
/* Stores s (create or replace). create = 1 fails with OG_ERR_CONFLICT when
 * the id exists. */
og_err og_webhooks_put(struct og_core *c, const struct og_webhook_sub *s, int create);
og_err og_webhooks_delete(struct og_core *c, const char *id);
/* Config subscriptions replace the stored config ones (removed ones go). */
og_err og_webhooks_sync_config(struct og_core *c, const struct og_webhook_sub *subs, size_t n);
/* Clears a subscription's lagging mark (og_webhook_lag); OG_OK also when
 * there was none. */
og_err og_webhooks_lag_clear(struct og_core *c, const char *id);
/* Marks a subscription disabled (a 410), or clears that (reason NULL). */
og_err og_webhooks_set_disabled(struct og_core *c, const char *id, const char *reason);
/* Appends an attempt as P:webhook:<sub>:deliveries keeps it (compact:
 * tab-separated status, event id, type, attempt, status code (0 = none),
 * latency, at and next attempt (ms, 0 = none), error; the API renders it).
 * status: "ok", "failed" or "dead". */
void og_webhook_attempt_put(struct og_buf *b, const char *status, const char *eid, const char *type,
                            int attempt, long code, int64_t latency_ms, int64_t at_ms,
                            int64_t next_ms, const char *error);
/* Attempts, newest first: {"items":[...]} filtered by status (NULL = all). [xfer] */
og_err og_webhooks_deliveries(struct og_core *c, const char *id, const char *status, int limit,
                              char **json);
/* Queues events again for one subscription: the event with event_id, or
 * every matching event since since_ms (at most max). *queued = how many. */
og_err og_webhooks_replay(struct og_core *c, const struct og_webhook_sub *s, const char *event_id,
                          int64_t since_ms, int max, int *queued);

/* Delivery attempts by outcome, for /metrics (bumped by the dispatcher). */
struct og_webhook_stats {
    atomic_ullong ok, retried, dead;
};
extern struct og_webhook_stats og_webhook_stats;
#endif
