/* og_thread - see og_thread.h. */
#include "og_thread.h"
#include "og_util.h"

#include <time.h>

static void *trampoline(void *arg)
{
    struct og_thread *t = arg;
    return t->fn(t);
}

int og_thread_start(struct og_thread *t, void *(*fn)(struct og_thread *t), void *arg)
{
    t->fn = fn;
    t->arg = arg;
    t->kicked = 0;
    atomic_store(&t->stop, 0);
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&t->th, NULL, trampoline, t) != 0) {
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        return -1;
    }
    t->started = 1;
    return 0;
}

int og_thread_running(struct og_thread *t)
{
    return !atomic_load(&t->stop);
}

void og_thread_nap(struct og_thread *t, int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = og_deadline(CLOCK_MONOTONIC, ms);
    pthread_mutex_lock(&t->mu);
    while (!atomic_load(&t->stop) && !t->kicked &&
           pthread_cond_timedwait(&t->cv, &t->mu, &ts) == 0) {
    }
    t->kicked = 0;
    pthread_mutex_unlock(&t->mu);
}

void og_thread_kick(struct og_thread *t)
{
    if (!t->started)
        return;
    pthread_mutex_lock(&t->mu);
    t->kicked = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

void og_thread_ask_stop(struct og_thread *t)
{
    if (!t->started)
        return;
    pthread_mutex_lock(&t->mu);
    atomic_store(&t->stop, 1);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

void og_thread_stop(struct og_thread *t)
{
    if (!t->started)
        return;
    og_thread_ask_stop(t);
    pthread_join(t->th, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    t->started = 0;
}
