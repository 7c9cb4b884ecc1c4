/* og_routing_worker - see og_routing_worker.h.
 *
 * One thread per instance. Every tick (TICK_MS, or at once after a kick) it
 * drains each auto policy's queue (up to DRAIN_MAX assignments per script
 * call, a bounded number of calls per tick so one busy policy cannot starve
 * the timers) and fires due timers. All decisions happen inside route.lua,
 * so any number of instances may run this loop on one Redis at once.
 *
 * Agents from the config are seeded (upserted by e-mail) by the first
 * successful tick; while Redis is down the tick retries. */
#include "og_routing_worker.h"
#include "og_agents.h"
#include "og_config_routing.h"
#include "og_log.h"
#include "og_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_MS 50
#define DRAIN_MAX 100
#define DRAIN_SCAN 400
#define DRAIN_CALLS 10
#define TIMERS_MAX 200

static int seed_agents(struct og_routing_worker *w)
{
    for (size_t i = 0; i < w->cfg->n_agents; i++) {
        const struct og_config_agent *a = &w->cfg->agents[i];
        struct og_agent_fields f;
        char err[160], id[48], sha[65] = "";
        if (og_agents_fields_from_json(a->fields, 1, &f, err, sizeof err) != 0)
            continue; /* the config loader has reported it */
        og_id_new("agt_", og_now_ms(), id, sizeof id);
        if (a->token)
            og_agents_token_sha(a->token, sha);
        struct og_routing_result res;
        og_agents_put(w->r, "seed", id, a->token ? sha : NULL, &f, &res);
        og_agent_fields_free(&f);
        og_routing_result_free(&res);
        if (res.err == OG_ERR_UNAVAILABLE)
            return -1;
        if (res.err != OG_OK)
            og_warn("routing: agents[%zu]: %s", i, res.message[0] ? res.message
                                                                  : og_strerror(res.err));
    }
    return 0;
}

/* One pass; 1 when a queue may still have assignable sessions (the loop
 * then goes on without waiting for the next tick). */
static int tick(struct og_routing_worker *w)
{
    int more = 0;
    if (!w->seeded && seed_agents(w) == 0)
        w->seeded = 1;
    for (size_t p = 0; p < w->r->n_policies; p++) {
        if (w->r->policies[p].manual)
            continue;
        for (int calls = 0; calls < DRAIN_CALLS; calls++) {
            int n = 0;
            if (og_routing_drain(w->r, w->r->policies[p].name, DRAIN_MAX, DRAIN_SCAN, &n) !=
                    OG_OK ||
                n < DRAIN_MAX)
                break;
            if (calls == DRAIN_CALLS - 1)
                more = 1;
        }
    }
    int moved = 0, archived = 0;
    og_routing_fire_timers(w->r, TIMERS_MAX, &moved, &archived);
    if (moved || archived)
        og_debug("routing: %d auto-forwarded, %d archived", moved, archived);
    return more;
}

static void *run(void *arg)
{
    struct og_routing_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        w->kicked = 0;
        pthread_mutex_unlock(&w->mu);
        int more = tick(w);
        pthread_mutex_lock(&w->mu);
        if (w->stop || w->kicked || more)
            continue;
        struct timespec ts = og_deadline(CLOCK_MONOTONIC, TICK_MS);
        while (!w->stop && !w->kicked &&
               pthread_cond_timedwait(&w->cv, &w->mu, &ts) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

void og_routing_kick(struct og_gateway *g)
{
    struct og_routing_worker *w = g->routing;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->kicked = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* "pol=g1,g2;pol2=*": which agents' groups see each policy's queue. */
static char *policy_groups(const struct og_routing *r)
{
    struct og_buf b = {0};
    for (size_t i = 0; i < r->n_policies; i++) {
        const struct og_routing_policy *p = &r->policies[i];
        og_buf_printf(&b, "%s%s=", i ? ";" : "", p->name);
        if (p->all_agents)
            og_buf_puts(&b, "*");
        for (size_t j = 0; j < p->n_groups; j++)
            og_buf_printf(&b, "%s%s", j || p->all_agents ? "," : "", p->groups[j]);
    }
    og_buf_append(&b, "", 0);
    return b.data;
}

static int start(struct og_gateway *g)
{
    struct og_routing_worker *w = og_calloc(1, sizeof *w);
    const struct og_config_routing *cr = g->cfg->routing;
    struct og_routing_opts o = {cr->policies, cr->archive_after_s, cr->offline_returns_sessions};
    char errbuf[256];
    w->r = og_routing_new(g->core, &o, errbuf, sizeof errbuf);
    if (!w->r) {
        og_error("routing: %s", errbuf);
        free(w);
        return -1;
    }
    w->cfg = cr;
    w->policy_groups = policy_groups(w->r);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    g->routing = w;
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        g->routing = NULL;
        og_routing_free(w->r);
        free(w->policy_groups);
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
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    g->routing = NULL;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    og_routing_free(w->r);
    free(w->policy_groups);
    free(w);
}

const struct og_worker og_worker_routing = {"routing", start, stop};
