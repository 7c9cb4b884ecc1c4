/* og_housekeeping_worker - the daemon's periodic upkeep, one thread: every
 * OG_INSTANCE_BEAT_MS it renews this instance's heartbeat and takes over
 * the work of instances whose heartbeat stopped (og_instance.h), and it
 * trims the core's streams below what their consumer groups still owe
 * (og_stream_trim: nothing owed is removed unless a stream grows past its
 * bound, and then the loss is logged, counted, and each webhook
 * subscription that lost events is marked lagging). The event stream keeps
 * events.retain_s at least and is bounded by events.max_bytes (both
 * applied again on SIGHUP: og_housekeeping_bounds). It also moves closed
 * sessions to the archive and deletes archived ones past their retention
 * (og_archive_step: bounded batches, repeated while there is a backlog).
 * Once a minute it sweeps the media store (og_media_sweep: files unused
 * past media.max_age_s, then the least recently used past media.max_bytes;
 * a store's puts sweep too, but an idle store still ages).
 * Any number of instances may run it at once: each step is one atomic
 * script, and the archive's claims are leased. */
#include "og_archive.h"
#include "og_gateway.h"
#include "og_instance.h"
#include "og_log.h"
#include "og_media.h"
#include "og_stream.h"
#include "og_thread.h"
#include "og_util.h"

#include <stdlib.h>

/* The send queue's bound when its senders stop: an entry is only a message
 * id (the message itself is in its hash), so a million is ~100 MB; it is
 * never reached while a sender runs. */
#define OUTBOX_MAX 1000000
/* How often the media store is swept. */
#define MEDIA_SWEEP_MS 60000

struct og_housekeeping {
    struct og_gateway *g; /* [borrowed] */
    struct og_thread t;
};

static void *run(struct og_thread *t)
{
    struct og_housekeeping *h = t->arg;
    int64_t next_sweep = og_mono_ms() + MEDIA_SWEEP_MS;
    while (og_thread_running(t)) {
        if (h->g->media && og_mono_ms() >= next_sweep) {
            struct og_media_usage u;
            if (og_media_sweep(h->g->media, &u) == OG_OK && (u.evicted || u.expired))
                og_info("media: %lld files evicted (size cap), %lld expired (age); %lld files, "
                        "%lld bytes kept",
                        (long long)u.evicted, (long long)u.expired, (long long)u.files,
                        (long long)u.bytes);
            next_sweep = og_mono_ms() + MEDIA_SWEEP_MS;
        }
        struct og_reap rp;
        og_instance_beat(h->g->core);
        og_instance_reap(h->g->core, &rp);
        struct og_trim tr;
        struct og_trim_bounds ev = {
            .max_bytes = atomic_load(&h->g->events_max_bytes),
            .retain_ms = atomic_load(&h->g->events_retain_ms),
        };
        struct og_trim_bounds ob = {.max_entries = OUTBOX_MAX};
        og_stream_trim(h->g->core, OG_STREAM_EVENTS, &ev, &tr);
        og_stream_trim(h->g->core, OG_STREAM_OUTBOX, &ob, &tr);
        /* a backlog (archiving just turned on) goes in batches, a beat's
         * time at most, so the heartbeat is never late */
        int64_t until = og_mono_ms() + OG_INSTANCE_BEAT_MS / 2;
        struct og_archive_pass ap;
        do {
            if (og_archive_step(h->g->core, &ap) != OG_OK)
                break;
            if (ap.archived || ap.deleted)
                og_debug("archive: %d sessions archived, %d deleted", ap.archived, ap.deleted);
        } while ((ap.archived > 0 || ap.superseded > 0 || ap.more) && og_mono_ms() < until &&
                 og_thread_running(t));
        og_thread_nap(t, OG_INSTANCE_BEAT_MS);
    }
    return NULL;
}

static struct og_housekeeping *state;

void og_housekeeping_bounds(struct og_gateway *g, const struct og_config *cfg)
{
    atomic_store(&g->events_retain_ms, (long long)cfg->events.retain_s * 1000);
    atomic_store(&g->events_max_bytes, (long long)cfg->events.max_bytes);
}

static int start(struct og_gateway *g)
{
    struct og_housekeeping *h = og_calloc(1, sizeof *h);
    h->g = g;
    og_housekeeping_bounds(g, g->cfg);
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
