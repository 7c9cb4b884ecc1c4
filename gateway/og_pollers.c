/* og_pollers - one thread per channel whose connector pulls its updates
 * (Telegram getUpdates, VK Bots Long Poll, IMAP). Each thread calls poll()
 * in a loop; an error backs off (1 s doubling to 30 s) so a dead platform or
 * Redis is not hammered. poll_wakeup() cuts a long poll short at shutdown. */
#include "og_gateway.h"
#include "og_http_client.h"
#include "og_log.h"
#include "og_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct poller {
    struct og_channel *ch;
    pthread_t th;
    struct og_pollers *owner;
};

struct og_pollers {
    struct poller *p;
    size_t n;
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void *run(void *arg)
{
    struct poller *p = arg;
    const struct og_connector *c = p->ch->plugin->desc;
    int64_t backoff = 1000;
    while (!atomic_load(&p->owner->stop)) {
        og_err e = c->poll(p->ch->inst, 25000);
        if (e == OG_OK) {
            backoff = 1000;
            continue;
        }
        if (e == OG_ERR_UNSUPPORTED)
            break; /* this instance is configured not to poll */
        og_log_write(OG_LOG_WARN, p->ch->scope, "poll: %s; retrying in %lld ms", og_strerror(e),
                     (long long)backoff);
        pthread_mutex_lock(&p->owner->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += backoff / 1000;
        ts.tv_nsec += (backoff % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000)
            ts.tv_sec++, ts.tv_nsec -= 1000000000;
        if (!atomic_load(&p->owner->stop))
            pthread_cond_timedwait(&p->owner->cv, &p->owner->mu, &ts);
        pthread_mutex_unlock(&p->owner->mu);
        backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
    }
    og_http_client_thread_cleanup();
    return NULL;
}

struct og_pollers *og_pollers_start(struct og_channel **chs, size_t n)
{
    struct og_pollers *ps = og_calloc(1, sizeof *ps);
    pthread_mutex_init(&ps->mu, NULL);
    pthread_cond_init(&ps->cv, NULL);
    ps->p = og_calloc(n ? n : 1, sizeof *ps->p);
    for (size_t i = 0; i < n; i++) {
        if (!chs[i]->plugin->desc->poll)
            continue;
        struct poller *p = &ps->p[ps->n++];
        p->ch = chs[i];
        p->owner = ps;
        pthread_create(&p->th, NULL, run, p);
    }
    return ps;
}

void og_pollers_stop(struct og_pollers *ps)
{
    if (!ps)
        return;
    pthread_mutex_lock(&ps->mu);
    atomic_store(&ps->stop, 1);
    pthread_cond_broadcast(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
    for (size_t i = 0; i < ps->n; i++)
        if (ps->p[i].ch->plugin->desc->poll_wakeup)
            ps->p[i].ch->plugin->desc->poll_wakeup(ps->p[i].ch->inst);
    for (size_t i = 0; i < ps->n; i++)
        pthread_join(ps->p[i].th, NULL);
    pthread_mutex_destroy(&ps->mu);
    pthread_cond_destroy(&ps->cv);
    free(ps->p);
    free(ps);
}
