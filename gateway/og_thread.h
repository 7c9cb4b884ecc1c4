/* og_thread - the one way the daemon's workers run: a thread with a stop
 * flag, a nap that a kick or stop ends early, and a stop that wakes and
 * joins it. Every worker loop is
 *
 *     while (og_thread_running(t)) { ...one round...; og_thread_nap(t, ms); }
 *
 * so every worker stops within one round of its stop. */
#ifndef OG_THREAD_H
#define OG_THREAD_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct og_thread {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    atomic_int stop;
    int kicked; /* under mu */
    int started;
    void *(*fn)(struct og_thread *t);
    void *arg; /* [borrowed] the worker's state, for fn */
};

/* Starts fn(t) on a new thread; t must stay put until og_thread_stop.
 * 0, or -1 when no thread could be made (t is then as before). */
int og_thread_start(struct og_thread *t, void *(*fn)(struct og_thread *t), void *arg);
/* 1 until stop was asked. */
int og_thread_running(struct og_thread *t);
/* Sleeps up to ms, less when kicked or stopped; a kick that came while
 * the thread was busy ends the next nap at once. */
void og_thread_nap(struct og_thread *t, int64_t ms);
/* Wakes the thread's nap (more work, e.g. a session closed). */
void og_thread_kick(struct og_thread *t);
/* Asks it to stop, wakes it, and joins it. Safe on a thread never started. */
void og_thread_stop(struct og_thread *t);
/* Only asks (several threads then stop together); og_thread_stop joins. */
void og_thread_ask_stop(struct og_thread *t);
#endif
