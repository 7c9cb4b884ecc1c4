/* og_workers - the daemon's background workers, started after Redis and the
 * channels and before the HTTP server, stopped in reverse order after it.
 * Each worker lives in its own file and adds one row here. */
#include "og_gateway.h"
#include "og_log.h"

extern const struct og_worker og_worker_followups;
extern const struct og_worker og_worker_webhooks;
extern const struct og_worker og_worker_housekeeping;
extern const struct og_worker og_worker_sentinel;
extern const struct og_worker og_worker_stats;

static const struct og_worker *const workers[] = {
    &og_worker_sentinel, /* first: the others find the master it follows */
    &og_worker_stats,    /* stopped after the others: applies what they counted last */
    &og_worker_followups, &og_worker_send,         &og_worker_sse, &og_worker_routing,
    &og_worker_webhooks,  &og_worker_housekeeping, NULL, /* rows go above this line:
                                                            &og_worker_<name>, */
};

int og_workers_start(struct og_gateway *g)
{
    for (size_t i = 0; workers[i]; i++) {
        if (workers[i]->start(g) != 0) {
            og_error("worker %s failed to start", workers[i]->name);
            while (i-- > 0)
                workers[i]->stop(g);
            return -1;
        }
        og_debug("worker %s started", workers[i]->name);
    }
    return 0;
}

void og_workers_stop(struct og_gateway *g)
{
    size_t n = 0;
    while (workers[n])
        n++;
    while (n-- > 0)
        workers[n]->stop(g);
}
