/* og_batch - group commit for a Lua script: concurrent callers' arguments
 * are gathered into one script call (FCALL), so Redis (one thread, the
 * bottleneck of ingest) parses one command, runs one script and appends one
 * AOF record per batch instead of per call.
 *
 * There is no batching thread and no timer. A caller that finds fewer than
 * max_inflight batches running leads one at once: it takes every call queued
 * so far (its own included, up to max_items), runs the script and hands each
 * waiting caller its part of the reply. Callers arriving meanwhile queue
 * up and form the next batch. So a lone caller pays one round trip as
 * before, and under load batches grow by themselves.
 *
 * The script's contract: ARGV = the head arguments given at creation, then
 * every call's arguments one after the other (every call has the same
 * argc); it returns an array with one reply per call, in order. A script
 * should isolate calls from each other (pcall), so one bad call fails alone.
 * If the script call as a whole fails, every call in it gets that error. */
#ifndef OG_BATCH_H
#define OG_BATCH_H
#include "og_redis.h"

struct og_batch;

/* head[0..head_argc) are copied; s is borrowed and must outlive the batch.
 * [xfer, og_batch_free] */
struct og_batch *og_batch_new(struct og_script *s, int head_argc, const char *const *head,
                              int max_items, int max_inflight);
/* Every batch then waits for replicas replicas (WAIT, og_redis_eval_wait)
 * before its calls complete; 0 = no WAIT (the default). */
void og_batch_set_wait(struct og_batch *b, int replicas, int timeout_ms);
void og_batch_free(struct og_batch *b);

/* A call as a batch's front sees it (og_batch_set_front). */
struct og_batch_item {
    int argc;
    const char **argv;  /* borrowed */
    const size_t *lens; /* borrowed, or NULL */
    /* set by the front for a call it completes (done = 1): its reply in the
     * script's shape [xfer], or err != OG_OK and no reply */
    int done;
    og_err err;
    redisReply *reply;
};
/* A front takes a batch's calls before the script does, over the same pool:
 * those it completes are not sent to the script, the rest are, in their
 * order, after the front has returned (og_ingest.h: the common case of
 * ingest in C, the rest by ingest.lua). */
typedef void (*og_batch_front_fn)(void *ud, struct og_redis *r, struct og_batch_item *items, int n);
/* fn NULL: none (the default); ud borrowed. Set once before use. */
void og_batch_set_front(struct og_batch *b, og_batch_front_fn fn, void *ud);

/* Runs one call (argc arguments; lens may be NULL for C strings) as part of
 * a batch, sent over r (every caller of one batch passes the same pool).
 * On OG_OK *reply is this call's element of the script's reply
 * [xfer, freeReplyObject]; a reply of the wrong shape is OG_ERR_INTERNAL. */
og_err og_batch_call(struct og_batch *b, struct og_redis *r, int argc, const char **argv,
                     const size_t *lens, redisReply **reply);

/* Script calls made so far (each carried one or more calls), for /metrics. */
unsigned long long og_batch_count(struct og_batch *b);
#endif
