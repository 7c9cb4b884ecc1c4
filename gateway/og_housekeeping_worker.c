/* og_housekeeping_worker - the daemon's periodic upkeep, one thread: every
 * OG_INSTANCE_BEAT_MS it renews this instance's heartbeat and takes over
 * the work of instances whose heartbeat stopped (og_instance.h), and it
 * trims the core's streams below what their consumer groups still owe
 * (og_stream_trim: nothing owed is removed unless a stream grows past its
 * bound, and then the loss is logged and counted), and it moves closed
 * sessions to the archive and deletes archived ones past their retention
 * (og_archive_step: bounded batches, repeated while there is a backlog).
 * Any number of instances may run it at once: each step is one atomic
 * script, and the archive's claims are leased. */
#include "og_archive.h"
#include "og_gateway.h"
#include "og_instance.h"
#include "og_log.h"
#include "og_stream.h"
#include "og_thread.h"
#include "og_util.h"

#include <stdlib.h>

/* The bounds that protect Redis when a consumer stops (about 2 GB of
 * events at typical sizes), and how long events stay for SSE clients that
 * resume with Last-Event-ID. */
#define EVENTS_MAX 1000000
#define EVENTS_RETAIN_MS (10 * 60 * 1000)
#define OUTBOX_MAX 1000000

struct og_housekeeping {
    struct og_gateway *g; /* [borrowed] */
    struct og_thread t;
};

static void *run(struct og_thread *t)
{
    struct og_housekeeping *h = t->arg;
    while (og_thread_running(t)) {
        struct og_reap rp;
        og_instance_beat(h->g->core);
        og_instance_reap(h->g->core, &rp);
        struct og_trim tr;
        og_stream_trim(h->g->core, OG_STREAM_EVENTS, EVENTS_MAX, EVENTS_RETAIN_MS, &tr);
        og_stream_trim(h->g->core, OG_STREAM_OUTBOX, OUTBOX_MAX, 0, &tr);
        /* a backlog (archiving just turned on) goes in batches, a beat's
         * time at most, so the heartbeat is never late */
        int64_t until = og_mono_ms() + OG_INSTANCE_BEAT_MS / 2;
        struct og_archive_pass ap;
        do {
            if (og_archive_step(h->g->core, &ap) != OG_OK)
                break;
            if (ap.archived || ap.deleted)
                og_debug("archive: %d sessions archived, %d deleted", ap.archived, ap.deleted);
        } while ((ap.archived > 0 || ap.superseded > 0) && og_mono_ms() < until &&
                 og_thread_running(t));
        og_thread_nap(t, OG_INSTANCE_BEAT_MS);
    }
    return NULL;
}

static struct og_housekeeping *state;

static int start(struct og_gateway *g)
{
    struct og_housekeeping *h = og_calloc(1, sizeof *h);
    h->g = g;
    if (og_thread_start(&h->t, run, h) != 0) {
        free(h);
        return -1;
    }
    state = h;
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

const struct og_worker og_worker_housekeeping = {"housekeeping", start, stop};
