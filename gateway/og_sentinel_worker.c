/* og_sentinel_worker - Redis Sentinel failover (redis.sentinels): one thread
 * that keeps the core's pool on the current master. Each round waits up to
 * ROUND_MS for a sentinel's +switch-master and asks the sentinels again at
 * once when a Redis connection broke or a write met READONLY, else every 5 s
 * (og_core_failover_step: the core owns the sentinels and the pool; this
 * file owns only the thread). While no master is reachable the pool answers
 * 503 and /readyz says why; the other workers keep retrying on their own
 * and resume on the new master. Not started without sentinels. */
#include "og_gateway.h"
#include "og_log.h"
#include "og_thread.h"
#include "og_util.h"

#include <stdlib.h>

/* A round's wait: how late a broken connection is answered by asking the
 * sentinels, and how promptly a stop is seen. */
#define ROUND_MS 200

struct og_sentinel_worker {
    struct og_gateway *g; /* [borrowed] */
    struct og_thread t;
};

static void *run(struct og_thread *t)
{
    struct og_sentinel_worker *w = t->arg;
    while (og_thread_running(t))
        og_core_failover_step(w->g->core, ROUND_MS);
    return NULL;
}

static struct og_sentinel_worker *state;

static int start(struct og_gateway *g)
{
    if (!og_core_has_sentinels(g->core))
        return 0;
    struct og_sentinel_worker *w = og_calloc(1, sizeof *w);
    w->g = g;
    if (og_thread_start(&w->t, run, w) != 0) {
        free(w);
        return -1;
    }
    state = w;
    return 0;
}

static void stop(struct og_gateway *g)
{
    (void)g;
    if (!state)
        return;
    og_thread_stop(&state->t);
    free(state);
    state = NULL;
}

const struct og_worker og_worker_sentinel = {"sentinel", start, stop};
