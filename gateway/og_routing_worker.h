/* og_routing_worker - the routing engine's place in the daemon: its state
 * (struct og_gateway.routing), the worker thread that seeds the configured
 * agents, drains the policies' queues and fires the auto-forward and archive
 * timers, and og_routing_kick() for API handlers whose change may let a
 * waiting session be assigned now (presence, close, transfer, reopen). */
#ifndef OG_ROUTING_WORKER_H
#define OG_ROUTING_WORKER_H
#include "og_gateway.h"
#include "og_routing.h"

#include <pthread.h>

struct og_config_routing;

struct og_routing_worker {
    struct og_routing *r;                   /* owned */
    const struct og_config_routing *cfg;    /* [borrowed] from g->cfg */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int kicked, stop, seeded;
    char *policy_groups;                    /* owned: "pol=g1,g2;pol2=*" for read.lua */
};

/* Wakes the worker for an immediate queue pass (this instance; the others
 * find the work on their next tick). */
void og_routing_kick(struct og_gateway *g);
#endif
