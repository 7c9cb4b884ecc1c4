/* og_stats_worker - applies the statistics facts the scripts counted
 * (og_stats_apply; docs/statistics.md, "The write path"): every
 * STATS_APPLY_MS it takes the pending facts in steps of
 * OG_STATS_APPLY_MAX until none is left, or for at most STATS_ROUND_MS so
 * that it naps between rounds even under a flood. Any number of instances
 * run it at once: each step takes its facts off the list and applies them
 * in one script, so none is applied twice. A read of the statistics
 * applies what is pending itself first, so the worker only keeps the list
 * short (and each step small); figures are never late because of it. */
#include "og_gateway.h"
#include "og_log.h"
#include "og_stats.h"
#include "og_thread.h"
#include "og_util.h"

#include <stdlib.h>

/* How often the list is emptied: a step applies the facts of ~200 ms of a
 * busy ingest, summed per counter (the fewer steps, the more a counter's
 * facts share its one write). */
#define STATS_APPLY_MS 200
#define STATS_ROUND_MS 1000

struct og_stats_worker {
    struct og_gateway *g; /* [borrowed] */
    struct og_thread t;
};

static void *run(struct og_thread *t)
{
    struct og_stats_worker *w = t->arg;
    int failing = 0;
    while (og_thread_running(t)) {
        int64_t until = og_mono_ms() + STATS_ROUND_MS;
        long left = 0;
        do {
            og_err e = og_stats_apply(w->g->core, OG_STATS_APPLY_MAX, NULL, &left);
            if (e != OG_OK) {
                if (!failing++) /* once per outage, not every round */
                    og_warn("stats: applying the pending facts failed (%s); retrying",
                            og_err_name(e));
                break;
            }
            if (failing)
                og_info("stats: applying the pending facts again");
            failing = 0;
        } while (left > 0 && og_mono_ms() < until && og_thread_running(t));
        og_thread_nap(t, STATS_APPLY_MS);
    }
    return NULL;
}

static struct og_stats_worker *state;

static int start(struct og_gateway *g)
{
    struct og_stats_worker *w = og_calloc(1, sizeof *w);
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
    /* what this instance's scripts counted last is applied before it goes
     * (another instance, or the next read, would apply it otherwise) */
    long left = 1;
    for (int i = 0; i < 100 && left > 0; i++)
        if (og_stats_apply(g->core, OG_STATS_APPLY_MAX, NULL, &left) != OG_OK)
            break;
    free(state);
    state = NULL;
}

const struct og_worker og_worker_stats = {"stats", start, stop};
