/* og_instance - instances' heartbeats, and the takeover of a dead
 * instance's work. Several gateway instances share one Redis; each claims
 * work (send-queue entries, events for the follow-ups, follow-ups and
 * webhook queues under a lease) in its own name, og_core_instance(). Work
 * left by an instance that dies is handed back at once, not after idle
 * times and leases of tens of seconds: every instance beats every
 * OG_INSTANCE_BEAT_MS (a key that expires after OG_INSTANCE_TTL_MS) and,
 * on the same tick, reaps the instances whose heartbeat is gone
 * (core/lua/instances.lua says exactly what is handed back). A clean stop
 * hands back what the instance still holds (og_instance_leave).
 *
 * An instance that stalls longer than the TTL is taken for dead: its work
 * may then run twice, which at-least-once delivery allows. */
#ifndef OG_INSTANCE_H
#define OG_INSTANCE_H
#include "og_core.h"

#include <stdint.h>

#define OG_INSTANCE_BEAT_MS 1000
#define OG_INSTANCE_TTL_MS 3000

/* This process's id [borrowed from c], e.g. "gw_01J...": consumer names
 * are it or it + "-<n>". */
const char *og_core_instance(const struct og_core *c);

/* Refreshes this instance's heartbeat (and registers it). */
og_err og_instance_beat(struct og_core *c);

struct og_reap {
    long long dead;    /* instances found dead (still being handed back) */
    long long entries; /* pending stream entries handed back */
    long long leases;  /* leases handed back */
};
/* Hands back the work of every instance whose heartbeat is gone. */
og_err og_instance_reap(struct og_core *c, struct og_reap *out);
/* Ends this instance's heartbeat and hands back what it still holds; call
 * once its workers have stopped. */
og_err og_instance_leave(struct og_core *c, struct og_reap *out);

/* Totals since start, for /metrics. */
struct og_instance_stats {
    _Atomic unsigned long long entries, leases;
};
extern struct og_instance_stats og_instance_stats;
#endif
