/* og_batch - see og_batch.h. */
#include "og_batch.h"
#include "og_script.h"
#include "og_util.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A call's state. Every change but the last is made under the batch's
 * lock; DONE is stored by the call's leader without it, once the call is
 * off the queue, and is the last thing the leader does to the call (it is
 * on the caller's stack, gone once the caller sees DONE). A waiting caller
 * sleeps on the state word itself (a futex), so that a leader wakes it
 * without the lock: woken callers used to queue up on the lock the leader
 * still held while it woke the others, a second sleep each. */
enum { QUEUED, KICKED /* queued, asked to lead the next batch */, TAKEN, DONE };

struct call {
    int argc;
    const char **argv;  /* borrowed from the caller, who waits */
    const size_t *lens; /* borrowed, or NULL */
    redisReply *reply;  /* [xfer] to the caller */
    og_err err;
    atomic_int state;
    struct call *next;
};

struct og_batch {
    struct og_script *script; /* borrowed */
    int head_argc;
    char **head; /* owned */
    int max_items, max_inflight;
    int wait_replicas, wait_ms; /* set once before use: WAIT after each batch */
    og_batch_front_fn front;    /* set once before use, or NULL */
    void *front_ud;
    pthread_mutex_t mu; /* guards everything below */
    struct call *first, *last;
    int leaders; /* batches running */
    unsigned long long batches;
};

struct og_batch *og_batch_new(struct og_script *s, int head_argc, const char *const *head,
                              int max_items, int max_inflight)
{
    struct og_batch *b = og_calloc(1, sizeof *b);
    b->script = s;
    b->head_argc = head_argc;
    b->head = og_calloc((size_t)head_argc + 1, sizeof *b->head);
    for (int i = 0; i < head_argc; i++)
        b->head[i] = og_strdup(head[i]);
    b->max_items = max_items > 0 ? max_items : 1;
    b->max_inflight = max_inflight > 0 ? max_inflight : 1;
    pthread_mutex_init(&b->mu, NULL);
    return b;
}

void og_batch_free(struct og_batch *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->head_argc; i++)
        free(b->head[i]);
    free(b->head);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

/* The calls of it[0..n) that the front left (left of them, argc
 * arguments with the head) as one script call; completes each. */
static void script(struct og_batch *b, struct og_redis *redis, struct og_batch_item *it, int n,
                   int left, int argc)
{
    const char **av = og_calloc((size_t)argc, sizeof *av);
    size_t *al = og_calloc((size_t)argc, sizeof *al);
    int k = 0;
    for (int i = 0; i < b->head_argc; i++, k++) {
        av[k] = b->head[i];
        al[k] = strlen(b->head[i]);
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; !it[j].done && i < it[j].argc; i++, k++) {
            av[k] = it[j].argv[i];
            al[k] = it[j].lens ? it[j].lens[i] : strlen(it[j].argv[i]);
        }
    pthread_mutex_lock(&b->mu);
    b->batches++;
    pthread_mutex_unlock(&b->mu);
    redisReply *r = NULL;
    og_err e = b->wait_replicas > 0 ? og_redis_eval_wait(redis, b->script, argc, av, al,
                                                         b->wait_replicas, b->wait_ms, &r)
                                    : og_redis_eval(redis, b->script, 0, argc, av, al, &r);
    free(av);
    free(al);
    if (e == OG_OK && (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)left))
        /* a script error (og_redis_eval logged it); Redis out of memory or
         * loading is "try later" (og_script.h) */
        e = r->type == REDIS_REPLY_ERROR && og_script_busy_error(r->str) ? OG_ERR_UNAVAILABLE
                                                                         : OG_ERR_INTERNAL;
    for (int j = 0, i = 0; j < n; j++) {
        if (it[j].done)
            continue;
        it[j].err = e;
        if (e == OG_OK) {
            it[j].reply = r->element[i];
            r->element[i] = NULL; /* now the caller's; freeReplyObject skips NULL */
        }
        i++;
    }
    if (r)
        freeReplyObject(r);
}

/* The futex calls on a call's state (Linux). A wake may reach an address
 * whose call has returned: at worst a spurious wake-up of whatever waits
 * there now, which every waiter here tolerates (it checks its state). */
static void state_wait(atomic_int *st, int seen)
{
    syscall(SYS_futex, st, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

static void state_wake(atomic_int *st)
{
    syscall(SYS_futex, st, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Called with mu held; returns with mu held. Takes up to max_items queued
 * calls, offers them to the front (if any), runs those it left as one
 * script call, and completes each of them. */
static void lead(struct og_batch *b, struct og_redis *redis)
{
    struct call *taken = b->first, *tail = NULL, *c;
    int n = 0, argc = b->head_argc;
    for (c = taken; c && n < b->max_items; c = c->next) {
        atomic_store_explicit(&c->state, TAKEN, memory_order_relaxed);
        argc += c->argc;
        tail = c;
        n++;
    }
    b->first = tail->next;
    if (!b->first)
        b->last = NULL;
    tail->next = NULL;
    b->leaders++;
    pthread_mutex_unlock(&b->mu);

    struct og_batch_item *it = og_calloc((size_t)n, sizeof *it);
    int i = 0;
    for (c = taken; c; c = c->next, i++)
        it[i] = (struct og_batch_item){.argc = c->argc, .argv = c->argv, .lens = c->lens};
    if (b->front)
        b->front(b->front_ud, redis, it, n);
    int left = 0;
    for (i = 0; i < n; i++)
        if (!it[i].done)
            left++;
        else
            argc -= it[i].argc;
    if (left > 0)
        script(b, redis, it, n, left, argc);
    /* The taken calls are off the queue: nobody but this leader touches
     * them until DONE, so they are completed without the lock. */
    i = 0;
    for (c = taken; c; i++) {
        struct call *next = c->next; /* c is on a caller's stack: gone once DONE */
        c->err = it[i].err;
        c->reply = it[i].reply;
        atomic_store_explicit(&c->state, DONE, memory_order_release);
        state_wake(&c->state);
        c = next;
    }
    free(it);

    pthread_mutex_lock(&b->mu);
    b->leaders--;
    if (b->first && atomic_load_explicit(&b->first->state, memory_order_relaxed) == QUEUED) {
        /* the next batch: its first caller leads it */
        atomic_store_explicit(&b->first->state, KICKED, memory_order_relaxed);
        state_wake(&b->first->state);
    }
}

og_err og_batch_call(struct og_batch *b, struct og_redis *redis, int argc, const char **argv,
                     const size_t *lens, redisReply **reply)
{
    struct call c = {.argc = argc, .argv = argv, .lens = lens};
    atomic_init(&c.state, QUEUED);
    pthread_mutex_lock(&b->mu);
    if (b->last)
        b->last->next = &c;
    else
        b->first = &c;
    b->last = &c;
    for (;;) {
        int st = atomic_load_explicit(&c.state, memory_order_acquire);
        if (st == DONE)
            break;
        if (st != TAKEN && b->leaders < b->max_inflight) {
            lead(b, redis);
            continue;
        }
        if (st == KICKED) /* another caller led first: wait for the next kick */
            atomic_store_explicit(&c.state, QUEUED, memory_order_relaxed);
        pthread_mutex_unlock(&b->mu);
        /* until a leader completes the call or asks it to lead */
        while ((st = atomic_load_explicit(&c.state, memory_order_acquire)) != DONE && st != KICKED)
            state_wait(&c.state, st);
        if (st == DONE)
            goto done; /* without the lock: the leader is finished with c */
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
done:
    *reply = c.reply;
    return c.err;
}

void og_batch_set_front(struct og_batch *b, og_batch_front_fn fn, void *ud)
{
    b->front = fn;
    b->front_ud = ud;
}

void og_batch_set_wait(struct og_batch *b, int replicas, int timeout_ms)
{
    b->wait_replicas = replicas;
    b->wait_ms = timeout_ms;
}

unsigned long long og_batch_count(struct og_batch *b)
{
    pthread_mutex_lock(&b->mu);
    unsigned long long n = b->batches;
    pthread_mutex_unlock(&b->mu);
    return n;
}
