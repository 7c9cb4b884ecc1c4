/* og_stream - reading the core's Redis streams, the one way: P:events (every
 * event; read by the webhook dispatchers, the follow-ups and the live SSE
 * stream) and P:outbox (the send queue).
 *
 * A consumer (og_stream_consumer) is one member of a consumer group with a
 * Redis connection of its own, since a blocking read must not hold a pooled
 * connection and its socket timeout must exceed the block time. Each round
 * of og_stream_consume() takes over entries another consumer left pending
 * for too long (XAUTOCLAIM: an instance that died), reads new ones
 * (XREADGROUP, blocking), hands each to the caller and acknowledges those
 * the caller is done with, so work survives a crash: an entry is
 * acknowledged only when handled. A group Redis lost (a FLUSHALL, a Redis
 * without persistence) is created again.
 *
 * A tail reader (og_stream_tail) follows the stream without a group, from a
 * position the caller keeps (the live SSE stream). og_stream_range() reads
 * what came after an id (a client resuming with Last-Event-ID).
 *
 * Entries are handed over as og_stream_entry: their id and field/value
 * pairs, [borrowed] for the call. */
#ifndef OG_STREAM_H
#define OG_STREAM_H
#include "og_core.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum og_stream_id { OG_STREAM_EVENTS, OG_STREAM_OUTBOX };

/* The consumer groups (their names are stored in Redis: never change them). */
#define OG_GROUP_SENDERS "senders"     /* P:outbox: the send queue's workers */
#define OG_GROUP_FOLLOWUPS "followups" /* P:events: the e-mail follow-ups */
#define OG_GROUP_WEBHOOKS "webhooks"   /* P:events: the webhook dispatchers */

struct og_stream_entry {
    const char *id;        /* "1700000000000-0" */
    size_t n;              /* field/value pairs */
    const char *const *fv; /* [2n] name, value, name, value... */
    const size_t *len;     /* [2n] their lengths */
};
/* The value of field name [borrowed], or NULL. */
const char *og_stream_field(const struct og_stream_entry *e, const char *name);

/* What a handler did with an entry. */
enum og_stream_verdict {
    OG_STREAM_ACK, /* done: acknowledge it */
    OG_STREAM_KEEP /* leave it pending: it was acknowledged elsewhere (in
                      the script that recorded its outcome), or it is to
                      be taken over again after the idle time */
};
/* claimed: 1 when the entry was taken over from another consumer. */
typedef enum og_stream_verdict (*og_stream_fn)(void *ud, const struct og_stream_entry *e,
                                               int claimed);

struct og_stream_consumer;
/* Joins group (created at start "$" = new entries only, or "0" = all) as
 * consumer. Entries pending longer than idle_ms for another consumer are
 * taken over (0 = never). Connects lazily. [xfer, og_stream_consumer_free] */
struct og_stream_consumer *og_stream_consumer_new(struct og_core *c, enum og_stream_id s,
                                                  const char *group, const char *consumer,
                                                  const char *start, int64_t idle_ms);
/* One round (see above): up to count new entries, blocking up to block_ms
 * for the first. *n gets the entries handed to fn. OG_ERR_UNAVAILABLE while
 * Redis is unreachable (the caller waits a moment). */
og_err og_stream_consume(struct og_stream_consumer *sc, int count, int block_ms, og_stream_fn fn,
                         void *ud, size_t *n);
/* Leaves the group when nothing is pending for this consumer (so the group
 * does not collect one dead name per restart), and frees it. */
void og_stream_consumer_free(struct og_stream_consumer *sc);

/* Creates group on the stream (start as above) unless it exists. */
og_err og_stream_group_ensure(struct og_core *c, enum og_stream_id s, const char *group,
                              const char *start);
/* Waits up to block_ms (on the shared pool; keep it under 1 s) for an entry
 * after id ("" = after the newest). */
og_err og_stream_wait(struct og_core *c, enum og_stream_id s, const char *id, int block_ms);

struct og_stream_tail;
/* A reader without a group, with its own connection. [xfer, og_stream_tail_free] */
struct og_stream_tail *og_stream_tail_new(struct og_core *c, enum og_stream_id s);
void og_stream_tail_free(struct og_stream_tail *t);
/* The newest entry's id into id ("0-0" when the stream is empty). */
og_err og_stream_tail_newest(struct og_stream_tail *t, char *id, size_t idsz);
/* Up to count entries after pos (exclusive), blocking up to block_ms for
 * the first; each goes to fn (its verdict is ignored) and pos moves to the
 * last one. *n gets how many. */
og_err og_stream_tail_read(struct og_stream_tail *t, char *pos, size_t possz, int count,
                           int block_ms, og_stream_fn fn, void *ud, size_t *n);
/* Trims stream s below the oldest entry any consumer group still owes
 * (pending, or not read yet), keeping every entry of the last retain_ms
 * (clients resume from an id; 0 = none; Redis's clock). Only beyond a bound
 * (max_entries, or max_bytes as MEMORY USAGE measures the stream; 0 = none)
 * are owed entries cut, the oldest first, down to 95 % of the bound; then
 * it is logged (one line per group, and on P:events one per webhook
 * subscription that lost events, which is marked lagging:
 * og_webhooks_lagging) and counted (og_stream_stats). Called every second
 * or so by the daemon; a long cut goes in rounds of a few ms of Redis's
 * time each. */
struct og_trim_bounds {
    long long max_entries; /* 0 = no bound */
    long long max_bytes;   /* 0 = no bound */
    int64_t retain_ms;
};
struct og_trim {
    long long removed;   /* entries removed */
    long long owed_lost; /* of which a group still owed */
    char first_lost[48]; /* the oldest owed entry removed, or "" */
    long long length;    /* entries left */
    long long bytes;     /* their MEMORY USAGE (0 when max_bytes is 0) */
    long long lagging;   /* webhook subscriptions that lost events in this trim */
};
og_err og_stream_trim(struct og_core *c, enum og_stream_id s, const struct og_trim_bounds *b,
                      struct og_trim *t);
struct og_stream_stats {
    atomic_ullong trimmed, owed_lost;
    atomic_ullong webhook_lost; /* events dropped before a subscription was sent them */
    atomic_llong events_length; /* P:events after this instance's last trim */
    atomic_llong events_bytes;  /* its MEMORY USAGE then (0 = not measured) */
};
extern struct og_stream_stats og_stream_stats;

/* Up to count entries after id (exclusive), oldest first, on the shared pool. */
og_err og_stream_range(struct og_core *c, enum og_stream_id s, const char *after, int count,
                       og_stream_fn fn, void *ud, size_t *n);
#endif
