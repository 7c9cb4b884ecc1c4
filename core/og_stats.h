/* og_stats - statistics (#20; docs/statistics.md): figures per local day,
 * hour, agent, channel or group of a period, from the counters the scripts
 * keep per UTC hour and day, and the hours' totals, as the facts change
 * (core/lua/prelude.lua, "Statistics": counted in the script that changes
 * the fact, applied in bulk by og_stats_apply), so a query reads a few
 * hashes per day and never a session.
 *
 * What is counted where (the docs have the full list):
 *   chats, proactive/reactive, missed, durations, first response,
 *   resolution, success codes, goals closed: when a session closes (a chat
 *   is a session handled: closed in the period; a reopened session that
 *   closes again counts again, its figures measured from the reopen);
 *   messages, response times, transfers, auto-forwards, queue waits, goals
 *   achieved, CSAT, presence: when they happen; the queue over time
 *   (queue_avg, queue_max, longest_wait_s) when a wait ends, split over
 *   its hours, and the waits still going on when read.
 * Buckets are local to the requested zone (og_tz.h): whole-hour offsets
 * are exact; a half-hour zone's figures are those of the UTC hours that
 * start in each local day or hour (30 minutes late). */
#ifndef OG_STATS_H
#define OG_STATS_H
#include "og_core.h"

#include <stddef.h>
#include <stdint.h>

/* The counters of one vector, 0-based (prelude.lua's ST, 1-based). */
enum og_stats_field {
    OG_ST_CHATS,
    OG_ST_PROACTIVE,
    OG_ST_REACTIVE,
    OG_ST_MISSED,
    OG_ST_DUR_SUM, /* ms */
    OG_ST_DUR_N,
    OG_ST_FR_SUM,
    OG_ST_FR_N,
    OG_ST_RES_SUM,
    OG_ST_RES_N,
    OG_ST_MSG_IN,
    OG_ST_MSG_OUT,
    OG_ST_TRANSFERS,
    OG_ST_AUTO_FORWARDS,
    OG_ST_RESP_SUM,
    OG_ST_RESP_N,
    OG_ST_CSAT_N,
    OG_ST_CSAT_SUM,
    OG_ST_CSAT1, /* ..OG_ST_CSAT1 + 4: scores 1..5 */
    OG_ST_GOALS_CLOSED = OG_ST_CSAT1 + 5,
    OG_ST_GOALS_ACHIEVED,
    OG_ST_ONLINE, /* ms */
    OG_ST_AWAY,
    OG_ST_OFFLINE,
    OG_ST_NEW,
    OG_ST_QWAIT_SUM,
    OG_ST_QWAIT_N,
    OG_ST_QWAIT_MAX,
    OG_ST_HIST, /* 20 buckets of response times, edges og_stats_hist_edge */
    /* the queue over time (P:st:q:<day>, never in a vector): */
    OG_ST_QUEUE_MS = OG_ST_HIST + 20, /* waits' time within the bucket */
    OG_ST_QUEUE_LONGEST,              /* ms, the longest wait there */
    OG_ST_QUEUE_MAX,                  /* most waiting at once; -1 not known */
    OG_ST_SPAN_MS,                    /* the bucket's elapsed length */
    OG_ST__N
};
/* The numbers a counter vector may hold (the rest are the queue's). */
#define OG_ST_VEC_N OG_ST_QUEUE_MS
/* The upper edge in seconds of histogram bucket i (0..18); bucket 19 is
 * longer than 86400 s. */
int og_stats_hist_edge(int i);

struct og_stats_query {
    const char *from, *to; /* local days "YYYY-MM-DD", inclusive */
    const char *tz;        /* IANA zone; NULL = "UTC" */
    const char *group_by;  /* day | hour | agent | channel | group; NULL = day */
    /* filters, NULL = any */
    const char *channel, *agent_id, *group, *success_code;
    /* the configured channels: group_by=channel lists them even when empty */
    const char *const *channels;
    size_t n_channels;
};

/* One bucket's (or the total's) sums. */
struct og_stats_acc {
    int64_t v[OG_ST__N];
    char **codes; /* owned: success codes seen, with their counts */
    int64_t *code_n;
    size_t n_codes;
};
struct og_stats_bucket {
    char *key; /* owned: "2026-12-02", "2026-12-02T13", an agent, channel or group */
    struct og_stats_acc a;
};
struct og_stats {
    char from[11], to[11], tz[65], group_by[8];
    struct og_stats_acc total;
    struct og_stats_bucket *b; /* owned, in key order (time order for day and hour) */
    size_t n;
    int queue_max; /* 1: OG_ST_QUEUE_MAX is known (no filter) for the total and time buckets */
    size_t *slot, n_slot; /* owned, private: og_stats.c's index of b by key */
};

/* The longest period a query may cover. */
#define OG_STATS_MAX_DAYS 400

/* Computes the statistics of q. OG_ERR_INVALID with a message (bad dates,
 * from after to, more than OG_STATS_MAX_DAYS days, an unknown zone or
 * group_by, a malformed filter). *out [xfer, og_stats_free]. */
og_err og_stats_compute(struct og_core *c, const struct og_stats_query *q, struct og_stats **out,
                        char *msg, size_t msglen);
void og_stats_free(struct og_stats *s);
/* The input checks of og_stats_compute alone (the exports use them). */
og_err og_stats_check(const struct og_stats_query *q, char *msg, size_t msglen);
/* GET /api/v1/stats's body (docs/json.md). [xfer] */
char *og_stats_json(const struct og_stats *s);
/* An average in seconds of a sum in ms over n; -1 when n is 0. */
double og_stats_avg_s(const struct og_stats_acc *a, enum og_stats_field sum, enum og_stats_field n);
/* The 90th percentile of response times in s (the upper edge of the
 * histogram bucket it falls in); -1 when there are none. */
int og_stats_p90_s(const struct og_stats_acc *a);

/* The write path (#22): the scripts that count append each fact to a
 * pending list instead of writing the counters; og_stats_apply takes up to
 * max of the oldest and applies them in one atomic step (stats.lua
 * "apply": summed per counter, each counter written once), so a fact is
 * applied exactly once whatever the number of instances and callers.
 * *applied gets the facts applied, *left those still pending (either may
 * be NULL). The statistics worker calls it every ~200 ms. */
#define OG_STATS_APPLY_MAX 1000
og_err og_stats_apply(struct og_core *c, int max, long *applied, long *left);
/* Applies everything pending (a bounded number of og_stats_apply steps):
 * every read of the counters (og_stats_compute) calls it first, so a query
 * sees every fact counted before it. */
og_err og_stats_apply_all(struct og_core *c);

/* `omnigate stats rebuild` (for upgrades and repairs): deletes every hourly
 * counter and counts again from what is stored: each session's timeline
 * and messages replayed through the scripts' own counting (stats.lua), and
 * the presence intervals of P:st:pres. Meant for a stopped deployment:
 * facts that happen meanwhile may be counted twice or lost. What stored
 * data cannot say is in docs/statistics.md (a goal's close when the goal
 * was changed since; a timeline past its 1000 newest entries). *sessions and
 * *intervals get the counts done. */
og_err og_stats_rebuild(struct og_core *c, long *sessions, long *intervals);
#endif
