/* bench_ingest - durable ingest through the daemon: signed example-connector
 * (signed_json) POSTs with 1 KB bodies over 64 keep-alive connections into a
 * local redis-server; every 2xx means the message, its session and events
 * are in Redis. Prints req/s and p50/p99 latency.
 *
 * usage: bench_ingest [requests (default 60000)] [max seconds (default 20)]
 *                     [http threads (0: omnigate's own default)]
 *                     [durability: everysec (default, the old setting) | fsync |
 *                      replicated | relaxed]
 * redis.durability's cost: fsync runs Redis with appendfsync always,
 * replicated adds a replica and WAITs for it on every batch (with AOF
 * everysec), relaxed runs Redis without AOF. OG_BENCH_EXTRA: more of the
 * daemon's config, appended to it (',"store_raw":"none"');
 * OG_BENCH_REDIS_ARGS: redis-server's arguments instead of the mode's;
 * OG_BENCH_REDIS_UNIX=1: the daemon reaches Redis over a unix socket, as
 * the embedded Redis (the default deployment) is reached, not loopback TCP. */
#include "og_bench.h"
#include "og_test.h"
#include "og_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "bench-secret"

/* A customer's text of about n bytes: words drawn from a small vocabulary
 * with a generator seeded by i, so every text differs and compresses
 * roughly as words do. 900 times one letter compressed to almost nothing
 * in the AOF's base file, and Redis rewrites its AOF each time the file
 * has grown by the base's size: more often than with real texts. */
static void text_of(char *out, size_t n, size_t i)
{
    static const char *const words[] = {
        "hello",   "order",  "delivery", "please",  "thanks",   "when",   "will",    "my",
        "package", "arrive", "today",    "I",       "need",     "help",   "with",    "the",
        "payment", "card",   "was",      "charged", "twice",    "can",    "you",     "check",
        "address", "is",     "wrong",    "number",  "tracking", "still",  "not",     "working",
        "refund",  "size",   "return",   "store",   "open",     "Monday", "morning", "account",
        "login",   "code",   "email",    "sent",    "again",    "thank",  "you,",    "great!"};
    uint64_t x = 0x9e3779b97f4a7c15ULL * (i + 1);
    size_t len = 0;
    for (;;) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        const char *w = words[x % (sizeof words / sizeof words[0])];
        size_t wl = strlen(w);
        if (len + wl + 1 >= n)
            break;
        if (len)
            out[len++] = ' ';
        memcpy(out + len, w, wl);
        len += wl;
    }
    out[len] = 0;
}

/* CPU seconds (user + system) process pid has used so far, from /proc. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* after the command name */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 60000;
    double max_s = argc > 2 ? atof(argv[2]) : 20.0;
    const char *mode = argc > 4 ? argv[4] : "everysec";
    struct og_test_redis rs, replica = {0};
    struct og_test_daemon d;
    const char *redis_args = !strcmp(mode, "fsync")     ? "--appendfsync always"
                             : !strcmp(mode, "relaxed") ? "--appendonly no"
                                                        : NULL;
    if (getenv("OG_BENCH_REDIS_ARGS"))
        redis_args = getenv("OG_BENCH_REDIS_ARGS");
    int unix_sock = getenv("OG_BENCH_REDIS_UNIX") && atoi(getenv("OG_BENCH_REDIS_UNIX")) > 0;
    char *args = unix_sock ? og_sprintf("--unixsocket r.sock --unixsocketperm 700 %s",
                                        redis_args ? redis_args : "")
                           : og_strdup(redis_args ? redis_args : "");
    int rc = og_test_redis_start_with(&rs, args);
    free(args);
    if (rc != 0)
        return 1;
    if (!strcmp(mode, "replicated")) {
        char rep[64];
        snprintf(rep, sizeof rep, "--replicaof 127.0.0.1 %d", rs.port);
        if (og_test_redis_start_with(&replica, rep) != 0)
            return 1;
        usleep(500000); /* the first sync */
    }
    printf("durability %s\n", mode);
    const char *ch =
        "[{\"id\":\"bench\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"http://127.0.0.1:9/\"}}]";
    const char *more = getenv("OG_BENCH_EXTRA");
    char *extra = argc > 3 && atoi(argv[3]) > 0
                      ? og_sprintf("\"log_level\":\"warn\",\"http\":{\"threads\":%d}%s",
                                   atoi(argv[3]), more ? more : "")
                      : og_sprintf("\"log_level\":\"warn\"%s", more ? more : "");
    char *rurl = unix_sock ? og_sprintf("unix://%s/r.sock", rs.dir) : og_strdup(rs.url);
    printf("redis over %s\n", unix_sock ? "a unix socket" : "loopback TCP");
    char *redis = og_sprintf("{\"url\":\"%s\",\"durability\":\"%s\"}", rurl,
                             !strcmp(mode, "everysec") ? "fsync" : mode);
    free(rurl);
    int started = og_test_daemon_start(&d, redis, ch, extra);
    free(redis);
    free(extra);
    if (started != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    char text[901]; /* body ~1 KB with the envelope */
    struct og_bench_req *reqs = og_calloc(n, sizeof *reqs);
    char *url = og_sprintf("%s/hooks/bench", d.base);
    for (size_t i = 0; i < n; i++) {
        text_of(text, sizeof text, i);
        reqs[i].body = og_sprintf("{\"id\":\"b-%zu\",\"from\":{\"id\":\"contact-%zu\",\"name\":"
                                  "\"Bench %zu\"},\"text\":\"%s\"}",
                                  i, i % 2000, i % 2000, text);
        reqs[i].len = strlen(reqs[i].body);
        reqs[i].headers = og_test_signed_headers(SECRET, reqs[i].body, reqs[i].len);
        reqs[i].url = og_strdup(url);
    }
    /* warm up connections, scripts and the thread pool */
    struct og_bench_result w = og_bench_run(reqs, n < 2000 ? n : 2000, 64, 5);
    free(og_test_redis_cli(&rs, "CONFIG RESETSTAT"));
    double cpu0 = og_bench_redis_cpu_s(&rs), gw0 = proc_cpu_s(d.pid);
    double in0 = og_bench_redis_info(&rs, "stats", "total_net_input_bytes");
    double out0 = og_bench_redis_info(&rs, "stats", "total_net_output_bytes");
    double mem0 = og_bench_redis_info(&rs, "memory", "used_memory");
    double rw0 = og_bench_redis_info(&rs, "persistence", "aof_rewrites");
    double kid0 = og_bench_redis_info(&rs, "cpu", "used_cpu_sys_children") +
                  og_bench_redis_info(&rs, "cpu", "used_cpu_user_children");
    struct og_bench_result r = og_bench_run(reqs + w.done, n - w.done, 64, max_s);
    double cpu = og_bench_redis_cpu_s(&rs) - cpu0, gw = proc_cpu_s(d.pid) - gw0;
    double in = og_bench_redis_info(&rs, "stats", "total_net_input_bytes") - in0;
    double out = og_bench_redis_info(&rs, "stats", "total_net_output_bytes") - out0;
    double mem = og_bench_redis_info(&rs, "memory", "used_memory") - mem0;
    double rw = og_bench_redis_info(&rs, "persistence", "aof_rewrites") - rw0;
    double kid = og_bench_redis_info(&rs, "cpu", "used_cpu_sys_children") +
                 og_bench_redis_info(&rs, "cpu", "used_cpu_user_children") - kid0;
    /* Redis's own view: where its time went during the run (every script
     * and command of every worker, not only ingest). */
    char *stats = og_test_redis_cli(&rs, "INFO commandstats");
    double redis_us = 0, redis_calls = 0, exec_us = 0;
    for (char *line = stats ? strtok(stats, "\r\n") : NULL; line; line = strtok(NULL, "\r\n")) {
        char name[64];
        long long calls = 0, usec = 0;
        if (sscanf(line, "cmdstat_%63[^:]:calls=%lld,usec=%lld", name, &calls, &usec) == 3 &&
            usec > 0) {
            redis_us += (double)usec;
            if (!strcmp(name, "exec")) /* its commands have lines of their own too */
                exec_us += (double)usec;
            if (strcmp(name, "multi") && strcmp(name, "exec")) /* the transaction's frame */
                redis_calls += (double)calls;
            if ((double)usec > 0.0002 * r.seconds * 1e6)
                printf("redis %-12s %9lld calls %8.1f us/call %5.1f%% of the run\n", name, calls,
                       (double)usec / (double)calls, 100.0 * (double)usec / (r.seconds * 1e6));
        }
    }
    free(stats);
    og_bench_print("signed_json ingest (durable)", &r);
    printf("redis busy %.0f%% of the run: %.1f us of Redis time per ingested message\n",
           100.0 * redis_us / (r.seconds * 1e6), r.done ? redis_us / (double)r.done : 0.0);
    /* The same without EXEC's lines: a transaction's commands are counted
     * once, in their own lines (a script's are still counted twice). */
    printf("redis command time: %.1f us per ingested message (EXEC's commands counted once)\n",
           r.done ? (redis_us - exec_us) / (double)r.done : 0.0);
    printf("redis main thread CPU: %.1f us per ingested message (%.0f%% of a CPU)\n",
           r.done ? cpu * 1e6 / (double)r.done : 0.0, 100.0 * cpu / r.seconds);
    printf("gateway CPU (omnigate, all threads): %.1f us per ingested message (%.0f%% of a CPU)\n",
           r.done ? gw * 1e6 / (double)r.done : 0.0, 100.0 * gw / r.seconds);
    /* Redis rewrites its AOF in a child process each time the file has
     * doubled (auto-aof-rewrite-percentage 100): CPU the same two cores
     * give, counted once a child has ended. */
    printf("redis AOF rewrites during the run: %.0f, their CPU %.1f us per ingested message (base "
           "file %.0f MB)\n",
           rw, r.done ? kid * 1e6 / (double)r.done : 0.0,
           og_bench_redis_info(&rs, "persistence", "aof_base_size") / 1e6);
    /* Beside the times above, what does not depend on the machine's speed
     * (the commands a little, through the batch sizes): what a message costs
     * Redis in commands, bytes read and written, and memory kept. */
    if (r.done)
        printf("redis per ingested message: %.2f commands (MULTI/EXEC not counted), %.0f bytes in "
               "(commands), %.0f out (replies), %.0f more used_memory\n",
               redis_calls / (double)r.done, in / (double)r.done, out / (double)r.done,
               mem / (double)r.done);
    /* The daemon's own view of the same run: time spent answering a hook. */
    char *murl = og_sprintf("%s/metrics", d.base);
    struct og_test_resp m = og_test_http("GET", murl, NULL, NULL, 0);
    for (char *line = strtok(m.body, "\n"); line; line = strtok(NULL, "\n"))
        if (strncmp(line, "omnigate_hook_duration_seconds_", 31) == 0 ||
            strncmp(line, "omnigate_ingest_", 16) == 0)
            printf("daemon %s\n", line);
    free(m.body), free(murl);
    og_bench_free(reqs, n);
    free(url);
    og_test_daemon_stop(&d);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    if (replica.pid)
        og_test_redis_stop(&replica);
    return r.failed ? 1 : 0;
}
