/* og_metrics - /metrics in the Prometheus text exposition format. Counters
 * are atomics bumped on the hot path; queue depths are read from Redis at
 * scrape time (a scrape is rare, the hot path is not). The process_*
 * metrics follow the Prometheus client libraries' names, read from /proc. */
#include "og_edge.h"
#include "og_gateway.h"
#include "og_instance.h"
#include "og_outbox.h"
#include "og_stream.h"
#include "og_util.h"
#include "og_webhooks.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const double bucket_le[12] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

void og_metrics_observe_hook(struct og_gateway *g, int64_t us)
{
    double s = (double)us / 1e6;
    for (int i = 0; i < 12; i++)
        if (s <= bucket_le[i]) {
            atomic_fetch_add(&g->stats.hook_latency_buckets[i], 1);
            break;
        }
    atomic_fetch_add(&g->stats.hook_latency_count, 1);
    atomic_fetch_add(&g->stats.hook_latency_us_sum, (unsigned long long)us);
}

/* process_*: CPU, memory, descriptors, start time (as the Prometheus client
 * libraries name them). Values that cannot be read are left out. */
static void process_metrics(struct og_buf *b)
{
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/stat", "r");
    char line[1024];
    if (f && fgets(line, sizeof line, f) && tick > 0) {
        /* after the ")" that ends the command name: fields 3.. */
        const char *p = strrchr(line, ')');
        unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
        long long rss = 0;
        if (p && sscanf(p + 2,
                        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                        "%*d %*d %llu %llu %lld",
                        &utime, &stime, &start, &vsize, &rss) == 5) {
            double boot = 0;
            FILE *st = fopen("/proc/stat", "r");
            char l2[256];
            while (st && fgets(l2, sizeof l2, st))
                if (sscanf(l2, "btime %lf", &boot) == 1)
                    break;
            if (st)
                fclose(st);
            og_buf_printf(b,
                          "# HELP process_cpu_seconds_total User and system CPU time spent.\n"
                          "# TYPE process_cpu_seconds_total counter\n"
                          "process_cpu_seconds_total %.2f\n"
                          "# HELP process_resident_memory_bytes Resident memory size.\n"
                          "# TYPE process_resident_memory_bytes gauge\n"
                          "process_resident_memory_bytes %lld\n"
                          "# HELP process_virtual_memory_bytes Virtual memory size.\n"
                          "# TYPE process_virtual_memory_bytes gauge\n"
                          "process_virtual_memory_bytes %llu\n",
                          (double)(utime + stime) / (double)tick, rss * page, vsize);
            if (boot > 0)
                og_buf_printf(b,
                              "# HELP process_start_time_seconds Start time since the epoch.\n"
                              "# TYPE process_start_time_seconds gauge\n"
                              "process_start_time_seconds %.2f\n",
                              boot + (double)start / (double)tick);
        }
    }
    if (f)
        fclose(f);
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        long n = -1; /* the directory's own descriptor */
        while (readdir(d))
            n++;
        closedir(d);
        og_buf_printf(b,
                      "# HELP process_open_fds Open file descriptors.\n"
                      "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n",
                      n - 2); /* . and .. */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        og_buf_printf(b,
                      "# HELP process_max_fds Maximum open file descriptors.\n"
                      "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
                      (unsigned long long)rl.rlim_cur);
}

/* Per-channel counters, one line per channel and outcome. */
static void channel_metrics(struct og_gateway *g, struct og_buf *b)
{
    og_buf_puts(b, "# HELP omnigate_channel_messages_total Inbound messages per channel "
                   "(stored, or recognised as a redelivery).\n"
                   "# TYPE omnigate_channel_messages_total counter\n");
    for (size_t i = 0; i < g->n_channels; i++) {
        const struct og_channel *ch = g->channels[i];
        og_buf_printf(b,
                      "omnigate_channel_messages_total{channel=\"%s\",connector=\"%s\","
                      "result=\"stored\"} %llu\n"
                      "omnigate_channel_messages_total{channel=\"%s\",connector=\"%s\","
                      "result=\"duplicate\"} %llu\n",
                      ch->id, ch->plugin->desc->name, atomic_load(&ch->stats.received), ch->id,
                      ch->plugin->desc->name, atomic_load(&ch->stats.duplicates));
    }
    og_buf_puts(b, "# HELP omnigate_channel_sends_total Send attempts per channel by outcome.\n"
                   "# TYPE omnigate_channel_sends_total counter\n");
    for (size_t i = 0; i < g->n_channels; i++) {
        const struct og_channel *ch = g->channels[i];
        og_buf_printf(b,
                      "omnigate_channel_sends_total{channel=\"%s\",outcome=\"sent\"} %llu\n"
                      "omnigate_channel_sends_total{channel=\"%s\",outcome=\"retried\"} %llu\n"
                      "omnigate_channel_sends_total{channel=\"%s\",outcome=\"failed\"} %llu\n",
                      ch->id, atomic_load(&ch->stats.sent), ch->id, atomic_load(&ch->stats.retried),
                      ch->id, atomic_load(&ch->stats.failed));
    }
}

/* Per subscription, from Redis (every instance's trims mark them): whether
 * it is lagging (lost events to events.max_bytes, og_webhooks.h) and how
 * many events it lost since the mark was set. */
static void webhook_lag_metrics(struct og_gateway *g, struct og_buf *b)
{
    struct og_webhook_sub *subs = NULL;
    size_t n = 0;
    if (og_webhooks_load(g->core, &subs, &n) != OG_OK)
        return;
    og_buf_puts(b, "# HELP omnigate_webhook_lagging 1 while a webhook subscription is marked "
                   "lagging: events were dropped from the event stream (events.max_bytes) before "
                   "it was sent them; cleared by PATCH {\"lagging\":null}.\n"
                   "# TYPE omnigate_webhook_lagging gauge\n");
    for (size_t i = 0; i < n; i++)
        og_buf_printf(b, "omnigate_webhook_lagging{webhook=\"%s\"} %d\n", subs[i].id,
                      subs[i].lag.lost > 0);
    og_buf_puts(b, "# HELP omnigate_webhook_lost_events Events a lagging webhook subscription "
                   "lost since it was marked (0 when it is not lagging).\n"
                   "# TYPE omnigate_webhook_lost_events gauge\n");
    for (size_t i = 0; i < n; i++)
        og_buf_printf(b, "omnigate_webhook_lost_events{webhook=\"%s\"} %lld\n", subs[i].id,
                      subs[i].lag.lost);
    og_webhook_subs_free(subs, n);
}

char *og_metrics_render(struct og_gateway *g)
{
    static const char *const routes[4] = {"hooks", "api", "health", "other"};
    static const char *const classes[4] = {"2xx", "3xx", "4xx", "5xx"};
    struct og_buf b = {0};
    og_buf_printf(&b,
                  "# HELP omnigate_build_info The version and connector ABI of this build.\n"
                  "# TYPE omnigate_build_info gauge\n"
                  "omnigate_build_info{version=\"%s\",abi=\"%d.%d\"} 1\n",
                  OG_VERSION, OG_CONNECTOR_ABI_MAJOR, OG_CONNECTOR_ABI_MINOR);
    process_metrics(&b);
    channel_metrics(g, &b);
    og_buf_puts(&b, "# HELP omnigate_http_requests_total HTTP requests answered.\n"
                    "# TYPE omnigate_http_requests_total counter\n");
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            og_buf_printf(&b, "omnigate_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
                          routes[r], classes[c], atomic_load(&g->stats.requests[r][c]));
    og_buf_puts(&b, "# HELP omnigate_hook_duration_seconds Time to answer a platform webhook.\n"
                    "# TYPE omnigate_hook_duration_seconds histogram\n");
    unsigned long long cum = 0;
    for (int i = 0; i < 12; i++) {
        cum += atomic_load(&g->stats.hook_latency_buckets[i]);
        og_buf_printf(&b, "omnigate_hook_duration_seconds_bucket{le=\"%g\"} %llu\n", bucket_le[i],
                      cum);
    }
    unsigned long long cnt = atomic_load(&g->stats.hook_latency_count);
    og_buf_printf(&b, "omnigate_hook_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cnt);
    og_buf_printf(&b, "omnigate_hook_duration_seconds_sum %.6f\n",
                  (double)atomic_load(&g->stats.hook_latency_us_sum) / 1e6);
    og_buf_printf(&b, "omnigate_hook_duration_seconds_count %llu\n", cnt);

    const struct og_core_stats *s = og_core_stats(g->core);
    unsigned long long direct, direct_conflicts;
    og_core_ingest_direct(g->core, &direct, &direct_conflicts);
    og_buf_printf(&b,
                  "# HELP omnigate_ingest_total Inbound messages stored.\n"
                  "# TYPE omnigate_ingest_total counter\nomnigate_ingest_total %llu\n"
                  "# HELP omnigate_ingest_duplicates_total Redeliveries recognised and skipped.\n"
                  "# TYPE omnigate_ingest_duplicates_total counter\n"
                  "omnigate_ingest_duplicates_total %llu\n"
                  "# HELP omnigate_ingest_errors_total Ingest attempts Redis did not accept.\n"
                  "# TYPE omnigate_ingest_errors_total counter\n"
                  "omnigate_ingest_errors_total %llu\n"
                  "# HELP omnigate_sessions_created_total Sessions created.\n"
                  "# TYPE omnigate_sessions_created_total counter\n"
                  "omnigate_sessions_created_total %llu\n"
                  "# HELP omnigate_sessions_reopened_total Closed sessions reopened.\n"
                  "# TYPE omnigate_sessions_reopened_total counter\n"
                  "omnigate_sessions_reopened_total %llu\n"
                  "# HELP omnigate_ingest_seconds_total Time spent in the ingest script.\n"
                  "# TYPE omnigate_ingest_seconds_total counter\n"
                  "omnigate_ingest_seconds_total %.6f\n"
                  "# HELP omnigate_ingest_batches_total Ingest script calls (group commit: "
                  "each stores one or more messages).\n"
                  "# TYPE omnigate_ingest_batches_total counter\n"
                  "omnigate_ingest_batches_total %llu\n"
                  "# HELP omnigate_ingest_direct_total Messages stored with plain commands "
                  "(MULTI/EXEC) without the ingest script: a further message in an open "
                  "conversation.\n"
                  "# TYPE omnigate_ingest_direct_total counter\n"
                  "omnigate_ingest_direct_total %llu\n"
                  "# HELP omnigate_ingest_direct_conflicts_total Batches of those whose keys "
                  "changed meanwhile (EXEC aborted): their messages went to the script.\n"
                  "# TYPE omnigate_ingest_direct_conflicts_total counter\n"
                  "omnigate_ingest_direct_conflicts_total %llu\n",
                  atomic_load(&s->ingested), atomic_load(&s->duplicates),
                  atomic_load(&s->ingest_errors), atomic_load(&s->sessions_created),
                  atomic_load(&s->sessions_reopened), (double)atomic_load(&s->ingest_us_sum) / 1e6,
                  og_core_ingest_batches(g->core), direct, direct_conflicts);

    og_buf_printf(&b,
                  "# HELP omnigate_archive_sessions_total Closed sessions moved out of Redis "
                  "into the archive (retention.archive_after_days).\n"
                  "# TYPE omnigate_archive_sessions_total counter\n"
                  "omnigate_archive_sessions_total %llu\n"
                  "# HELP omnigate_archive_restored_total Archived sessions brought back into "
                  "Redis (a customer wrote again, an agent acted on one).\n"
                  "# TYPE omnigate_archive_restored_total counter\n"
                  "omnigate_archive_restored_total %llu\n"
                  "# HELP omnigate_archive_deleted_total Archived sessions deleted with their "
                  "segments (retention.delete_after_days).\n"
                  "# TYPE omnigate_archive_deleted_total counter\n"
                  "omnigate_archive_deleted_total %llu\n"
                  "# HELP omnigate_contacts_erased_total Contacts erased (DELETE "
                  "/api/v1/contacts/{id}).\n"
                  "# TYPE omnigate_contacts_erased_total counter\n"
                  "omnigate_contacts_erased_total %llu\n",
                  atomic_load(&s->archived), atomic_load(&s->archive_restored),
                  atomic_load(&s->archive_deleted), atomic_load(&s->contacts_erased));

    struct og_outbox_stats *o = &og_outbox_stats;
    og_buf_printf(&b,
                  "# HELP omnigate_replies_total Agent messages accepted for sending.\n"
                  "# TYPE omnigate_replies_total counter\nomnigate_replies_total %llu\n"
                  "# HELP omnigate_sends_total Send attempts by outcome.\n"
                  "# TYPE omnigate_sends_total counter\n"
                  "omnigate_sends_total{outcome=\"sent\"} %llu\n"
                  "omnigate_sends_total{outcome=\"retried\"} %llu\n"
                  "omnigate_sends_total{outcome=\"failed\"} %llu\n"
                  "# HELP omnigate_statuses_total Delivery statuses from platforms.\n"
                  "# TYPE omnigate_statuses_total counter\n"
                  "omnigate_statuses_total{kind=\"applied\"} %llu\n"
                  "omnigate_statuses_total{kind=\"duplicate\"} %llu\n"
                  "omnigate_statuses_total{kind=\"unknown_message\"} %llu\n",
                  atomic_load(&o->replies), atomic_load(&o->sent), atomic_load(&o->retried),
                  atomic_load(&o->failed), atomic_load(&o->statuses), atomic_load(&o->status_dups),
                  atomic_load(&o->status_unknown));

    og_buf_printf(&b,
                  "# HELP omnigate_webhook_attempts_total Webhook delivery attempts by outcome.\n"
                  "# TYPE omnigate_webhook_attempts_total counter\n"
                  "omnigate_webhook_attempts_total{outcome=\"ok\"} %llu\n"
                  "omnigate_webhook_attempts_total{outcome=\"retry\"} %llu\n"
                  "omnigate_webhook_attempts_total{outcome=\"dead\"} %llu\n",
                  atomic_load(&og_webhook_stats.ok), atomic_load(&og_webhook_stats.retried),
                  atomic_load(&og_webhook_stats.dead));

    og_buf_printf(&b,
                  "# HELP omnigate_stream_trimmed_total Stream entries trimmed (acknowledged "
                  "by every consumer group, or past the bound).\n"
                  "# TYPE omnigate_stream_trimmed_total counter\n"
                  "omnigate_stream_trimmed_total %llu\n"
                  "# HELP omnigate_stream_owed_lost_total Entries trimmed past a stream's bound "
                  "before a consumer had them (logged).\n"
                  "# TYPE omnigate_stream_owed_lost_total counter\n"
                  "omnigate_stream_owed_lost_total %llu\n"
                  "# HELP omnigate_webhook_events_lost_total Events this instance's trims "
                  "dropped before a webhook subscription was sent them, summed over "
                  "subscriptions (logged per subscription).\n"
                  "# TYPE omnigate_webhook_events_lost_total counter\n"
                  "omnigate_webhook_events_lost_total %llu\n",
                  atomic_load(&og_stream_stats.trimmed), atomic_load(&og_stream_stats.owed_lost),
                  atomic_load(&og_stream_stats.webhook_lost));
    long long ev_bytes = atomic_load(&og_stream_stats.events_bytes);
    if (ev_bytes > 0)
        og_buf_printf(&b,
                      "# HELP omnigate_events_stream_bytes The event stream's Redis memory "
                      "(MEMORY USAGE) at this instance's last trim; bounded by "
                      "events.max_bytes.\n"
                      "# TYPE omnigate_events_stream_bytes gauge\n"
                      "omnigate_events_stream_bytes %lld\n"
                      "# HELP omnigate_events_stream_max_bytes events.max_bytes.\n"
                      "# TYPE omnigate_events_stream_max_bytes gauge\n"
                      "omnigate_events_stream_max_bytes %lld\n",
                      ev_bytes, (long long)atomic_load(&g->events_max_bytes));

    og_buf_printf(&b,
                  "# HELP omnigate_takeover_total Work of stopped instances handed back to the "
                  "live ones (pending stream entries, leases).\n"
                  "# TYPE omnigate_takeover_total counter\n"
                  "omnigate_takeover_total{kind=\"entries\"} %llu\n"
                  "omnigate_takeover_total{kind=\"leases\"} %llu\n",
                  atomic_load(&og_instance_stats.entries), atomic_load(&og_instance_stats.leases));

    if (og_core_has_sentinels(g->core))
        og_buf_printf(&b,
                      "# HELP omnigate_redis_failovers_total Times the Redis pool moved to "
                      "another master the sentinels named.\n"
                      "# TYPE omnigate_redis_failovers_total counter\n"
                      "omnigate_redis_failovers_total %llu\n",
                      og_core_failovers(g->core));

    /* Depths from Redis; absent when Redis is down (the scrape still works). */
    long long n = 0;
    int up = og_core_depth(g->core, OG_DEPTH_EVENTS, NULL, &n) == OG_OK;
    og_buf_puts(&b, "# HELP omnigate_redis_up 1 when Redis answered this scrape.\n"
                    "# TYPE omnigate_redis_up gauge\n");
    og_buf_printf(&b, "omnigate_redis_up %d\n", up);
    if (up)
        og_buf_printf(&b,
                      "# HELP omnigate_events_stream_length Events in the stream.\n"
                      "# TYPE omnigate_events_stream_length gauge\n"
                      "omnigate_events_stream_length %lld\n",
                      n);
    if (up && og_core_depth(g->core, OG_DEPTH_OUTBOX, NULL, &n) == OG_OK)
        og_buf_printf(&b,
                      "# HELP omnigate_outbox_length Entries in the send queue stream.\n"
                      "# TYPE omnigate_outbox_length gauge\nomnigate_outbox_length %lld\n",
                      n);
    if (up && og_core_depth(g->core, OG_DEPTH_STATS_PENDING, NULL, &n) == OG_OK)
        og_buf_printf(&b,
                      "# HELP omnigate_stats_pending_facts Statistics facts counted but not "
                      "applied yet (the statistics worker applies them every ~200 ms).\n"
                      "# TYPE omnigate_stats_pending_facts gauge\n"
                      "omnigate_stats_pending_facts %lld\n",
                      n);
    if (up) {
        og_buf_puts(&b, "# HELP omnigate_routing_queue_depth Sessions waiting for an agent.\n"
                        "# TYPE omnigate_routing_queue_depth gauge\n");
        for (size_t i = 0; i < g->n_channels; i++) {
            /* one line per policy, even when several channels share it */
            int seen = 0;
            for (size_t j = 0; j < i; j++)
                seen |= strcmp(g->channels[j]->routing, g->channels[i]->routing) == 0;
            if (!seen &&
                og_core_depth(g->core, OG_DEPTH_QUEUE, g->channels[i]->routing, &n) == OG_OK)
                og_buf_printf(&b, "omnigate_routing_queue_depth{policy=\"%s\"} %lld\n",
                              g->channels[i]->routing, n);
        }
    }
    if (up)
        webhook_lag_metrics(g, &b);
    og_edge_metrics(g->edge, &b); /* connections, refusals, slow clients */
    return b.data;
}
