/* og_routing_worker - the routing engine's thread: seeds the configured
 * agents, then every tick (TICK_MS, or at once after og_routing_kick) runs
 * one pass of og_routing_step (drain the auto policies' queues, fire the
 * auto-forward and archive timers). All decisions happen inside the core's
 * routing script, so any number of instances may run this loop on one Redis
 * at once.
 *
 * Agents from the config are seeded (upserted by e-mail) by the first pass
 * that reaches Redis; while Redis is down the pass retries. */
#include "og_agents.h"
#include "og_config_routing.h"
#include "og_gateway.h"
#include "og_log.h"
#include "og_routing.h"
#include "og_thread.h"
#include "og_util.h"

#include <stdlib.h>

#define TICK_MS 50

struct og_routing_worker {
    struct og_gateway *g; /* [borrowed] */
    struct og_thread t;
    struct og_agent_seed *seeds; /* owned array; fields borrowed from the config */
    size_t n_seeds;
    int seeded;
};

static void *run(struct og_thread *t)
{
    struct og_routing_worker *w = t->arg;
    while (og_thread_running(t)) {
        if (!w->seeded && og_agents_seed(w->g->core, w->seeds, w->n_seeds) == OG_OK)
            w->seeded = 1;
        int moved = 0, archived = 0;
        int more = og_routing_step(w->g->core, NULL, &moved, &archived);
        if (moved || archived)
            og_debug("routing: %d auto-forwarded, %d archived", moved, archived);
        if (!more)
            og_thread_nap(t, TICK_MS);
    }
    return NULL;
}

void og_routing_kick(struct og_gateway *g)
{
    if (g->routing)
        og_thread_kick(&g->routing->t);
}

static int start(struct og_gateway *g)
{
    struct og_routing_worker *w = og_calloc(1, sizeof *w);
    const struct og_config_routing *cr = g->cfg->routing;
    w->g = g;
    w->n_seeds = cr->n_agents;
    w->seeds = og_calloc(w->n_seeds + 1, sizeof *w->seeds);
    for (size_t i = 0; i < cr->n_agents; i++)
        w->seeds[i] = (struct og_agent_seed){cr->agents[i].fields, cr->agents[i].token};
    g->routing = w;
    if (og_thread_start(&w->t, run, w) != 0) {
        g->routing = NULL;
        free(w->seeds);
        free(w);
        return -1;
    }
    return 0;
}

static void stop(struct og_gateway *g)
{
    struct og_routing_worker *w = g->routing;
    if (!w)
        return;
    og_thread_stop(&w->t);
    g->routing = NULL;
    free(w->seeds);
    free(w);
}

const struct og_worker og_worker_routing = {"routing", start, stop};
