/* bench_footprint - what a message costs Redis (#22): memory and time.
 *
 *   1. bytes: N one-message sessions (a new contact each, ~100-byte text,
 *      the raw platform body a signed_json webhook would carry) are stored
 *      through og_core_ingest (the ingest script, group-committed from 8
 *      threads) into a fresh redis-server without AOF; then M further
 *      messages of ~100 bytes into those sessions, and M more (with M <= N
 *      the first round is each conversation's second message, the one that
 *      writes what a one-message session implies). used_memory deltas per
 *      session and per message are printed with the event stream as it is
 *      after the ingest and after it is trimmed (what remains once every
 *      consumer has acknowledged its events), and one sample session's keys
 *      with their encodings and MEMORY USAGE (and the bucket hashes its
 *      thread and provider id are fields of, shared with other ids).
 *   2. speed: signed example-connector webhooks with ~100-byte texts POSTed
 *      to the daemon over 64 keep-alive connections (og_bench; every 2xx
 *      means the message, its session and events are in Redis, AOF
 *      everysec): req/s, p50/p99, and Redis's own time per message
 *      (INFO commandstats), as bench_ingest prints it.
 *   3. flat cost: with 1k, 100k and 1M stored sessions (filled by the same
 *      bulk path as 1.), the time of one ingest of a new session, one
 *      further message, one agent reply (og_outbox_reply), one page of
 *      the session list (50) and one of a conversation's messages (the
 *      customer's and the reply), each run alone K times: median and p99
 *      latency in this process, and Redis us per operation.
 *   4. archive: up to 20,000 closed two-message sessions moved to the
 *      archive's segment files (og_archive_step): sessions/s, and the Redis
 *      memory freed per session.
 *
 * usage: bench_footprint [sessions N (default 100000)] [further messages M
 *        (default 100000)] [largest scale (default 1000000; 0 skips 3.; 10000000 adds 10M)]
 *        [HTTP requests (default 30000; 0 skips 2.)]
 *        [more redis-server arguments for 1. and 3., e.g. the embedded
 *         server's "--hash-max-listpack-value 1024"] */
#include "og_archive.h"
#include "og_bench.h"
#include "og_core.h"
#include "og_err.h"
#include "og_log.h"
#include "og_outbox.h"
#include "og_routing.h"
#include "og_sessions.h"
#include "og_test.h"
#include "og_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SECRET "bench-secret"
#define THREADS 8
#define K 2000 /* operations timed at each scale */

static struct og_connector desc = {.name = "signed_json"};
static struct og_plugin plugin = {.desc = &desc};
static struct og_channel chan = {.id = "bench", .routing = "default", .plugin = &plugin};

/* ~100 bytes of text; n makes every message unique */
static void text_of(char *buf, size_t n, const char *who, size_t i)
{
    snprintf(buf, n,
             "Hello, my order %s-%zu has not arrived yet. Could you please check where it is "
             "now? Thanks!",
             who, i);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One message from contact "<who>-<contact>" (its own thread), with a
 * unique provider id "<who>-<id>". 0 on success. */
static int ingest_one(struct og_core *c, const char *who, size_t contact, size_t id,
                      struct og_ingest_result *res)
{
    char ext[64], pmid[64], name[64], text[160], raw[512];
    snprintf(ext, sizeof ext, "%s-%zu", who, contact);
    snprintf(pmid, sizeof pmid, "%s-m%zu", who, id);
    snprintf(name, sizeof name, "Customer %zu", contact);
    text_of(text, sizeof text, who, id);
    int rl = snprintf(raw, sizeof raw,
                      "{\"id\":\"%s\",\"from\":{\"id\":\"%s\",\"name\":\"%s\"},"
                      "\"text\":\"%s\"}",
                      pmid, ext, name, text);
    struct og_inbound m = {.struct_size = sizeof m,
                           .dedup_key = pmid,
                           .provider_message_id = pmid,
                           .kind = OG_KIND_TEXT,
                           .text = text,
                           .raw = raw,
                           .raw_len = (size_t)rl};
    m.from.external_id = ext;
    m.from.name = name;
    struct og_ingest_result r;
    og_err e = og_core_ingest(c, &chan, &m, res ? res : &r);
    if (e != OG_OK)
        fprintf(stderr, "ingest %s: %s\n", pmid, og_strerror(e));
    return e == OG_OK ? 0 : -1;
}

/* The bulk fill: messages [first, first + n) from contacts (i % contacts)
 * + contact0, over THREADS threads (they share the ingest's group commit). */
struct fill {
    struct og_core *c;
    const char *who;
    size_t first, n, contacts, contact0;
    atomic_size_t next;
    atomic_int failed;
};

static void *fill_thread(void *arg)
{
    struct fill *f = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&f->next, 1);
        if (i >= f->n || atomic_load(&f->failed))
            return NULL;
        size_t id = f->first + i;
        if (ingest_one(f->c, f->who, f->contact0 + id % f->contacts, id, NULL) != 0)
            atomic_store(&f->failed, 1);
    }
}

/* 0 when all n were stored; prints the rate */
static int fill(struct og_core *c, const char *who, size_t first, size_t n, size_t contacts,
                size_t contact0)
{
    struct fill f = {
        .c = c, .who = who, .first = first, .n = n, .contacts = contacts, .contact0 = contact0};
    pthread_t t[THREADS];
    double t0 = now_s();
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, fill_thread, &f);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    double dt = now_s() - t0;
    if (n >= 10000)
        fprintf(stderr, "  (filled %zu messages in %.1f s: %.0f/s)\n", n, dt, (double)n / dt);
    return atomic_load(&f.failed) ? -1 : 0;
}

static long long info_field(struct og_test_redis *rs, const char *section, const char *field)
{
    char args[64];
    snprintf(args, sizeof args, "INFO %s", section);
    char *out = og_test_redis_cli(rs, args);
    long long v = -1;
    size_t fl = strlen(field);
    for (char *l = out ? strtok(out, "\r\n") : NULL; l; l = strtok(NULL, "\r\n"))
        if (strncmp(l, field, fl) == 0 && l[fl] == ':')
            v = atoll(l + fl + 1);
    free(out);
    return v;
}

static long long cli_int(struct og_test_redis *rs, const char *args)
{
    char *out = og_test_redis_cli(rs, args);
    long long v = out ? atoll(out) : -1;
    free(out);
    return v;
}

static long long dbsize(struct og_test_redis *rs)
{
    return cli_int(rs, "DBSIZE");
}

static long long xlen(struct og_test_redis *rs)
{
    return cli_int(rs, "XLEN {og}:events");
}

/* What store_raw's retention will have freed: the raw payloads' keys
 * deleted as their expiry would (the count). */
static long long drop_raw(struct og_test_redis *rs)
{
    return cli_int(rs, "EVAL \"local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do "
                       "redis.call('DEL', k) n = n + 1 end return n\" 0 {og}:raw:*");
}

/* The keyspace's bucket arrays (main and expires dictionaries): they
 * double at powers of two, a step of megabytes that would land on
 * whichever phase crosses one; MEMORY STATS's overhead.hashtable.* less
 * the 24-byte entry of each key, which is counted. */
static long long bucket_bytes(struct og_test_redis *rs)
{
    char *out = og_test_redis_cli(rs, "MEMORY STATS");
    long long b = 0;
    int take = 0;
    for (char *l = out ? strtok(out, "\r\n") : NULL; l; l = strtok(NULL, "\r\n")) {
        if (take)
            b += atoll(l);
        take = !strcmp(l, "overhead.hashtable.main") || !strcmp(l, "overhead.hashtable.expires");
    }
    free(out);
    out = og_test_redis_cli(rs, "INFO keyspace");
    long long keys = 0, expires = 0;
    char *p = out ? strstr(out, "db0:keys=") : NULL;
    if (p)
        sscanf(p, "db0:keys=%lld,expires=%lld", &keys, &expires);
    free(out);
    return b - 24 * (keys + expires);
}

/* used_memory without the bucket arrays (bucket_bytes): what the data
 * itself takes, a key's dictionary entry included. */
static long long used_memory(struct og_test_redis *rs)
{
    return info_field(rs, "memory", "used_memory") - bucket_bytes(rs);
}

/* The sum of usec over INFO commandstats; with top, prints the commands
 * that took more than 2% of it, per op. */
static double redis_usec(struct og_test_redis *rs, int top, size_t ops)
{
    char *out = og_test_redis_cli(rs, "INFO commandstats");
    double sum = 0;
    for (char *l = out ? strtok(out, "\r\n") : NULL; l; l = strtok(NULL, "\r\n")) {
        char name[64];
        long long calls = 0, usec = 0;
        if (sscanf(l, "cmdstat_%63[^:]:calls=%lld,usec=%lld", name, &calls, &usec) == 3)
            sum += (double)usec;
    }
    free(out);
    if (!top || sum <= 0)
        return sum;
    out = og_test_redis_cli(rs, "INFO commandstats");
    for (char *l = out ? strtok(out, "\r\n") : NULL; l; l = strtok(NULL, "\r\n")) {
        char name[64];
        long long calls = 0, usec = 0;
        if (sscanf(l, "cmdstat_%63[^:]:calls=%lld,usec=%lld", name, &calls, &usec) == 3 &&
            (double)usec > 0.02 * sum)
            printf("      redis %-12s %5.2f calls/op %6.1f us/op\n", name,
                   (double)calls / (double)ops, (double)usec / (double)ops);
    }
    free(out);
    return sum;
}

static void cli(struct og_test_redis *rs, const char *args)
{
    free(og_test_redis_cli(rs, args));
}

/* One key of the sample session: its type, encoding and MEMORY USAGE. */
static long long show_key(struct og_test_redis *rs, const char *what, const char *key)
{
    char args[512];
    snprintf(args, sizeof args, "MEMORY USAGE %s SAMPLES 0", key);
    char *mu = og_test_redis_cli(rs, args);
    snprintf(args, sizeof args, "OBJECT ENCODING %s", key);
    char *enc = og_test_redis_cli(rs, args);
    long long b = mu ? atoll(mu) : 0;
    if (enc)
        enc[strcspn(enc, "\r\n")] = 0;
    if (b > 0)
        printf("    %-22s %6lld B  %-10s %s\n", what, b, enc ? enc : "", key);
    free(mu), free(enc);
    return b;
}

/* The bucket hash holding id (prelude.lua thread_get, pmid_get: prefix and
 * the first three hex digits of SHA-1(id)): its MEMORY USAGE, and per id. */
static void show_bucket(struct og_test_redis *rs, const char *what, const char *prefix,
                        const char *id)
{
    char args[256];
    snprintf(args, sizeof args,
             "EVAL \"return KEYS[1] .. redis.sha1hex(ARGV[1]):sub(1, 3)\" 1 %s %s", prefix, id);
    char *o = og_test_redis_cli(rs, args);
    if (o && strncmp(o, prefix, strlen(prefix)) == 0) {
        char bucket[128];
        snprintf(bucket, sizeof bucket, "%.*s", (int)strcspn(o, "\r\n"), o);
        snprintf(args, sizeof args, "HLEN %s", bucket);
        char *n = og_test_redis_cli(rs, args);
        long long b = show_key(rs, what, bucket);
        long long ids = n ? atoll(n) : 0;
        if (ids > 0)
            printf("    %-22s %6lld B  per id (%lld ids in the bucket)\n", "", b / ids, ids);
        free(n);
    }
    free(o);
}

static void sample_keys(struct og_test_redis *rs, const char *sid, const char *mid, const char *who,
                        size_t contact, size_t id)
{
    char key[256], ext[64], cid[64] = "";
    snprintf(ext, sizeof ext, "%s-%zu", who, contact);
    snprintf(key, sizeof key, "HGET {og}:ses:%s contact_id", sid);
    char *o = og_test_redis_cli(rs, key);
    if (o)
        snprintf(cid, sizeof cid, "%.*s", (int)strcspn(o, "\r\n"), o);
    free(o);
    long long sum = 0;
    printf("  one session's keys (%s):\n", sid);
    snprintf(key, sizeof key, "{og}:ses:%s", sid);
    sum += show_key(rs, "session hash", key);
    snprintf(key, sizeof key, "{og}:ses:%s:msgs", sid);
    sum += show_key(rs, "message index", key);
    snprintf(key, sizeof key, "{og}:ses:%s:tl", sid);
    sum += show_key(rs, "timeline", key);
    snprintf(key, sizeof key, "{og}:msg:%s", mid);
    sum += show_key(rs, "message hash", key);
    snprintf(key, sizeof key, "{og}:raw:%s", mid);
    sum += show_key(rs, "raw payload", key);
    snprintf(key, sizeof key, "{og}:con:%s", cid);
    sum += show_key(rs, "contact hash", key);
    snprintf(key, sizeof key, "{og}:contact:bench:%s", ext);
    sum += show_key(rs, "contact by external id", key);
    /* before #22 (shown only when there) */
    snprintf(key, sizeof key, "{og}:thread:bench:%s", ext);
    sum += show_key(rs, "thread -> session", key);
    snprintf(key, sizeof key, "{og}:pmid:bench:%s-m%zu", who, id);
    sum += show_key(rs, "provider id -> message", key);
    /* since: fields of buckets shared with other ids (prelude.lua thread_get,
     * pmid_get), not in the sum */
    show_bucket(rs, "thread bucket", "{og}:th:bench:", ext);
    snprintf(key, sizeof key, "%s-m%zu", who, id);
    show_bucket(rs, "provider id bucket", "{og}:pm:bench:", key);
    printf("    %-22s %6lld B  (MEMORY USAGE counts the key's own allocations; the\n"
           "    %-22s          main dictionary's entry and the indexes come on top)\n",
           "sum", sum, "");
}

/* One round of m further messages (ids from first on, contact i % n):
 * prints used_memory per message with their events, with the stream
 * trimmed and with the raw payloads dropped; *base is used_memory before
 * the round, and after it on return. 0 on success. */
static int further_round(struct og_core *c, struct og_test_redis *rs, const char *what, size_t n,
                         size_t first, size_t m, long long *base)
{
    if (fill(c, "f", first, m, n, 0) != 0)
        return -1;
    long long m1 = used_memory(rs), xl = xlen(rs);
    cli(rs, "XTRIM {og}:events MAXLEN 0");
    long long m2 = used_memory(rs);
    drop_raw(rs);
    long long m3 = used_memory(rs);
    printf("  %zu %s: %.0f B each with their %.1f events, %.0f B once the stream is trimmed, "
           "%.0f B once the raw payloads expired too\n",
           m, what, (double)(m1 - *base) / (double)m, (double)xl / (double)m,
           (double)(m2 - *base) / (double)m, (double)(m3 - *base) / (double)m);
    *base = m3;
    return 0;
}

static const char *g_redis_args = "--appendonly no"; /* parts 1 and 3 */

static int part_bytes(size_t n, size_t m)
{
    struct og_test_redis rs;
    if (og_test_redis_start_with(&rs, g_redis_args) != 0)
        return -1;
    struct og_core *c = og_test_core_new(&rs, "og", THREADS);
    if (!c) {
        og_test_redis_stop(&rs);
        return -1;
    }
    int rc = -1;
    char *lp = og_test_redis_cli(&rs, "CONFIG GET hash-max-listpack-*");
    for (char *p = lp; p && *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    printf("1. bytes (used_memory deltas less the keyspace's bucket arrays, which double at "
           "powers of two: ~8-16 B per key more on average; redis-server without AOF; %s)\n",
           lp ? lp : "");
    free(lp);
    /* warm-up: scripts loaded, the indexes and the hour's statistics keys
     * exist, the stream's first node is allocated */
    if (fill(c, "w", 0, 1000, 1000, 0) != 0)
        goto out;
    cli(&rs, "XTRIM {og}:events MAXLEN 0");
    drop_raw(&rs);
    long long m0 = used_memory(&rs), keys0 = dbsize(&rs);
    if (fill(c, "f", 0, n, n, 0) != 0)
        goto out;
    long long m1 = used_memory(&rs);
    long long xl = xlen(&rs);
    cli(&rs, "XTRIM {og}:events MAXLEN 0");
    long long m2 = used_memory(&rs);
    long long keys = dbsize(&rs);
    long long raws = drop_raw(&rs), m2r = used_memory(&rs);
    printf("  %zu one-message sessions: %.0f B each with their %.1f events in the stream, "
           "%.0f B once the stream is trimmed (%.1f keys each), %.0f B once the raw payloads "
           "expired too (store_raw; %lld dropped)\n",
           n, (double)(m1 - m0) / (double)n, (double)xl / (double)n, (double)(m2 - m0) / (double)n,
           (double)(keys - keys0) / (double)n, (double)(m2r - m0) / (double)n, raws);
    m2 = m2r;
    /* further messages: contact i % n writes again. With m <= n the first
     * round is each conversation's second message, which also writes what
     * a one-message session implies (the zset of its message ids, its
     * statistics' st_fi, st_w, st_nin); the second round is the third and
     * later. */
    if (further_round(c, &rs, "further messages (~100-byte text)", n, n, m, &m2) != 0 ||
        further_round(c, &rs, "more further messages", n, n + m, m, &m2) != 0)
        goto out;
    /* one more message into a sample session, to name its keys */
    struct og_ingest_result r;
    if (ingest_one(c, "f", n / 2, n + 2 * m, &r) != 0)
        goto out;
    sample_keys(&rs, r.session_id, r.message_id, "f", n / 2, n + 2 * m);
    rc = 0;
out:
    og_core_free(c);
    og_test_redis_stop(&rs);
    return rc;
}

static int part_speed(size_t n)
{
    struct og_test_redis rs;
    struct og_test_daemon d;
    if (og_test_redis_start(&rs) != 0)
        return -1;
    const char *ch =
        "[{\"id\":\"bench\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"http://127.0.0.1:9/\"}}]";
    char *redis = og_sprintf("{\"url\":\"%s\",\"durability\":\"fsync\"}", rs.url);
    int started = og_test_daemon_start(&d, redis, ch, "\"log_level\":\"warn\"");
    free(redis);
    if (started != 0) {
        og_test_redis_stop(&rs);
        return -1;
    }
    struct og_bench_req *reqs = og_calloc(n, sizeof *reqs);
    char *url = og_sprintf("%s/hooks/bench", d.base);
    for (size_t i = 0; i < n; i++) {
        char text[160];
        text_of(text, sizeof text, "h", i);
        reqs[i].body = og_sprintf("{\"id\":\"h-%zu\",\"from\":{\"id\":\"contact-%zu\",\"name\":"
                                  "\"Customer %zu\"},\"text\":\"%s\"}",
                                  i, i % 2000, i % 2000, text);
        reqs[i].len = strlen(reqs[i].body);
        reqs[i].headers = og_test_signed_headers(SECRET, reqs[i].body, reqs[i].len);
        reqs[i].url = og_strdup(url);
    }
    struct og_bench_result w = og_bench_run(reqs, n < 2000 ? n : 2000, 64, 5);
    cli(&rs, "CONFIG RESETSTAT");
    double cpu0 = og_bench_redis_cpu_s(&rs);
    struct og_bench_result r = og_bench_run(reqs + w.done, n - w.done, 64, 30);
    double cpu = og_bench_redis_cpu_s(&rs) - cpu0;
    printf("2. speed: signed_json webhooks, ~100-byte texts, 2000 contacts, 64 connections, "
           "AOF everysec\n");
    double us = redis_usec(&rs, 1, r.done ? r.done : 1);
    og_bench_print("  ingest (durable)", &r);
    printf("  Redis commandstats (bench_ingest's figure: a script's commands count twice) "
           "%.1f us per message; Redis main thread CPU %.1f us per message (%.0f%% busy)\n",
           r.done ? us / (double)r.done : 0.0, r.done ? cpu * 1e6 / (double)r.done : 0.0,
           100.0 * cpu / r.seconds);
    og_bench_free(reqs, n);
    free(url);
    og_test_daemon_stop(&d);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    return r.failed ? -1 : 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Prints the median and p99 of lat[0..n) (ms -> us) and Redis us per op. */
static double g_cpu0;

static void report(struct og_test_redis *rs, const char *what, double *lat, size_t n)
{
    qsort(lat, n, sizeof *lat, cmp_d);
    double cpu = og_bench_redis_cpu_s(rs) - g_cpu0;
    double us = redis_usec(rs, 0, n);
    printf("    %-24s p50 %7.1f us  p99 %7.1f us  Redis main thread %6.1f us/op "
           "(commandstats %6.1f)\n",
           what, lat[n / 2] * 1e6, lat[n * 99 / 100] * 1e6, cpu * 1e6 / (double)n, us / (double)n);
    cli(rs, "CONFIG RESETSTAT");
    g_cpu0 = og_bench_redis_cpu_s(rs);
}

static int part_scale(size_t largest)
{
    struct og_test_redis rs;
    if (og_test_redis_start_with(&rs, g_redis_args) != 0)
        return -1;
    struct og_core *c = og_test_core_new(&rs, "og", THREADS);
    if (!c) {
        og_test_redis_stop(&rs);
        return -1;
    }
    int rc = -1;
    static double lat[K];
    size_t stored = 0, probe = 0; /* sessions stored; probes' provider ids */
    char(*sids)[48] = og_calloc(K, sizeof *sids);
    printf("3. flat cost: one operation at a time, %d of each, at each number of stored "
           "sessions\n",
           K);
    static const size_t scales[] = {1000, 100000, 1000000, 10000000};
    for (size_t si = 0; si < sizeof scales / sizeof *scales && scales[si] <= largest; si++) {
        size_t scale = scales[si];
        if (scale > stored && fill(c, "s", stored, scale - stored, scale - stored, stored) != 0)
            goto out;
        stored = scale;
        /* a grown keyspace is rehashed incrementally (a step per command,
         * a millisecond per 100 ms when idle): give it time, and at the
         * largest scale measure twice, the second time after 30 s more */
        int last = si + 1 == sizeof scales / sizeof *scales || scales[si + 1] > largest;
        sleep(scale >= 100000 ? 10 : 0);
    again:
        printf("  %zu sessions (used_memory %.0f MB)\n", stored,
               (double)used_memory(&rs) / 1048576.0);
        fflush(stdout);
        cli(&rs, "CONFIG RESETSTAT");
        g_cpu0 = og_bench_redis_cpu_s(&rs);
        for (size_t i = 0; i < K; i++) { /* new sessions: contacts never seen */
            struct og_ingest_result r;
            double t0 = now_s();
            if (ingest_one(c, "p", 10000000 + probe, probe, &r) != 0)
                goto out;
            lat[i] = now_s() - t0;
            snprintf(sids[i], sizeof sids[i], "%s", r.session_id);
            probe++;
        }
        report(&rs, "ingest, new session", lat, K);
        for (size_t i = 0; i < K; i++) { /* further messages, spread over the stored */
            double t0 = now_s();
            if (ingest_one(c, "s", (i * 7919) % stored, 50000000 + probe, NULL) != 0)
                goto out;
            lat[i] = now_s() - t0;
            probe++;
        }
        report(&rs, "ingest, further message", lat, K);
        for (size_t i = 0; i < K; i++) {
            struct og_outbox_msg m = {.text = "Thanks, we are looking into it.",
                                      .sender_id = "admin"};
            char *json = NULL, mid[48];
            double t0 = now_s();
            og_err e = og_outbox_reply(c, sids[i], &m, &json, mid, sizeof mid);
            lat[i] = now_s() - t0;
            free(json);
            if (e != OG_OK) {
                fprintf(stderr, "reply: %s\n", og_strerror(e));
                goto out;
            }
        }
        report(&rs, "agent reply", lat, K);
        for (size_t i = 0; i < K; i++) {
            char *json = NULL;
            double t0 = now_s();
            og_err e = og_test_list_sessions(c, NULL, NULL, NULL, 50, &json);
            lat[i] = now_s() - t0;
            free(json);
            if (e != OG_OK) {
                fprintf(stderr, "list: %s\n", og_strerror(e));
                goto out;
            }
        }
        report(&rs, "session list (50)", lat, K);
        for (size_t i = 0; i < K; i++) { /* the customer's message and the reply */
            char *json = NULL;
            double t0 = now_s();
            og_err e = og_test_list_messages(c, sids[i], NULL, 50, &json);
            lat[i] = now_s() - t0;
            free(json);
            if (e != OG_OK) {
                fprintf(stderr, "messages: %s\n", og_strerror(e));
                goto out;
            }
        }
        report(&rs, "messages page (2)", lat, K);
        stored += K;
        if (last && scale >= 100000) {
            last = 0;
            sleep(30);
            printf("  again, 30 s later:\n");
            goto again;
        }
    }
    rc = 0;
out:
    free(sids);
    og_core_free(c);
    og_test_redis_stop(&rs);
    return rc;
}

/* 4. the archive (#22.3): n two-message sessions closed, then moved to
 * segment files by og_archive_step (as the housekeeping worker runs it,
 * 100 sessions a step) with archive_after 1 ms: sessions/s and the Redis
 * memory freed per session. */
static int part_archive(size_t n)
{
    struct og_test_redis rs;
    if (og_test_redis_start_with(&rs, g_redis_args) != 0)
        return -1;
    struct og_core *c = og_test_core_new(&rs, "og", THREADS);
    if (!c) {
        og_test_redis_stop(&rs);
        return -1;
    }
    int rc = -1;
    char *dir = og_test_tmpdir();
    char(*sids)[48] = og_calloc(n, sizeof *sids);
    static const struct og_viewer admin = {OG_ROLE_ADMIN, "", NULL, 0};
    for (size_t i = 0; i < n; i++) {
        struct og_ingest_result r;
        if (ingest_one(c, "a", i, 2 * i, &r) != 0 || ingest_one(c, "a", i, 2 * i + 1, NULL) != 0)
            goto out;
        snprintf(sids[i], sizeof sids[i], "%s", r.session_id);
    }
    for (size_t i = 0; i < n; i++) {
        struct og_routing_result res = {0};
        og_routing_close(c, &admin, sids[i], "solved", NULL, 0, &res);
        og_err e = res.err;
        og_routing_result_free(&res);
        if (e != OG_OK) {
            fprintf(stderr, "close: %s\n", og_strerror(e));
            goto out;
        }
    }
    cli(&rs, "XTRIM {og}:events MAXLEN 0");
    usleep(5000);
    long long m0 = used_memory(&rs);
    struct og_archive_opts o = {.dir = dir, .after_ms = 1, .batch = 100};
    og_archive_configure(c, &o);
    size_t archived = 0;
    double t0 = now_s();
    while (archived < n && now_s() - t0 < 600) {
        struct og_archive_pass p = {0};
        if (og_archive_step(c, &p) != OG_OK)
            goto out;
        if (p.archived == 0)
            break;
        archived += (size_t)p.archived;
    }
    double dt = now_s() - t0;
    long long m1 = used_memory(&rs);
    char *du = og_sprintf("du -sb %s", dir);
    FILE *f = popen(du, "r");
    long long disk = 0;
    if (f && fscanf(f, "%lld", &disk) != 1)
        disk = 0;
    if (f)
        pclose(f);
    free(du);
    printf("4. archive: %zu closed two-message sessions archived in %.2f s = %.0f sessions/s; "
           "Redis freed %.0f B per session (%.0f B of segment file each)\n",
           archived, dt, (double)archived / dt,
           (double)(m0 - m1) / (double)(archived ? archived : 1),
           (double)disk / (double)(archived ? archived : 1));
    rc = archived == n ? 0 : -1;
out:
    free(sids);
    og_core_free(c);
    og_test_redis_stop(&rs);
    og_test_rmdir(dir);
    free(dir);
    return rc;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 100000;
    size_t m = argc > 2 ? (size_t)atol(argv[2]) : 100000;
    size_t largest = argc > 3 ? (size_t)atol(argv[3]) : 1000000;
    size_t reqs = argc > 4 ? (size_t)atol(argv[4]) : 30000;
    if (argc > 5) /* e.g. the embedded server's "--hash-max-listpack-value 1024" */
        g_redis_args = og_sprintf("--appendonly no %s", argv[5]);
    og_log_level = OG_LOG_WARN;
    int rc = 0;
    if (n && m && part_bytes(n, m) != 0)
        rc = 1;
    fflush(stdout);
    if (reqs && part_speed(reqs) != 0)
        rc = 1;
    fflush(stdout);
    if (largest && part_scale(largest) != 0)
        rc = 1;
    fflush(stdout);
    if (n && part_archive(n < 20000 ? n : 20000) != 0)
        rc = 1;
    return rc;
}
