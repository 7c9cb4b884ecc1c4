/* bench_assign - routing throughput: two omnigate instances on one local
 * redis-server, 200 agents (max_chats 1000 each, policy default: every
 * agent, least_chats). Sessions are first queued while every agent is away
 * (signed_json POSTs spread over both instances, one new customer each); then
 * all 200 agents go online at once (one EVAL) and the clock runs until both
 * instances' routing workers have emptied the queue. Prints sessions/s queued and
 * assignments/s, and checks the outcome in Redis (every session assigned
 * once, load spread, no agent over capacity).
 *
 * usage: bench_assign [sessions (default 20000)] [max seconds (default 60)] */
#include "og_bench.h"
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "bench-secret"
#define AGENTS 200

static struct og_test_redis rs;

static long long rint_(const char *args)
{
    char *o = og_test_redis_cli(&rs, args);
    long long v = o ? atoll(o) : -1;
    free(o);
    return v;
}

/* API call through one daemon, answer discarded; HTTP status returned. */
static long call(struct og_test_daemon *d, const char *method, const char *path, const char *body,
                 char *out, size_t outsz)
{
    char *url = og_sprintf("%s/api/v1%s", d->base, path);
    struct og_test_resp r = og_test_http(method, url,
                                         "Authorization: Bearer " OG_TEST_ADMIN_TOKEN
                                         "\nContent-Type: application/json",
                                         body, body ? strlen(body) : 0);
    if (out)
        snprintf(out, outsz, "%s", r.body);
    free(url);
    free(r.body);
    return r.status;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 20000;
    double max_s = argc > 2 ? atof(argv[2]) : 60.0;
    struct og_test_daemon d[2];
    if (og_test_redis_start(&rs) != 0)
        return 1;
    const char *ch = "[{\"id\":\"bench\",\"connector\":\"signed_json\",\"options\":{"
                     "\"secret\":\"" SECRET "\",\"reply_url\":\"http://127.0.0.1:9/\"}}]";
    if (og_test_daemon_start(&d[0], rs.url, ch, "\"log_level\":\"warn\"") != 0 ||
        og_test_daemon_start(&d[1], rs.url, ch, "\"log_level\":\"warn\"") != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    char ids[AGENTS][48];
    for (int i = 0; i < AGENTS; i++) {
        char body[128], out[2048];
        snprintf(body, sizeof body, "{\"email\":\"bench%d@example.com\",\"max_chats\":1000}", i);
        if (call(&d[i % 2], "POST", "/agents", body, out, sizeof out) != 201) {
            fprintf(stderr, "cannot create agent: %s\n", out);
            return 1;
        }
        char *p = strstr(out, "\"id\":\"");
        snprintf(ids[i], sizeof ids[i], "%.30s", p ? p + 6 : "");
        ids[i][strcspn(ids[i], "\"")] = 0;
    }

    struct og_bench_req *reqs = og_calloc(n, sizeof *reqs);
    for (size_t i = 0; i < n; i++) {
        reqs[i].body = og_sprintf("{\"id\":\"a-%zu\",\"from\":{\"id\":\"customer-%zu\"},"
                                  "\"text\":\"hello\"}",
                                  i, i);
        reqs[i].len = strlen(reqs[i].body);
        reqs[i].headers = og_test_signed_headers(SECRET, reqs[i].body, reqs[i].len);
        reqs[i].url = og_sprintf("%s/hooks/bench", d[i % 2].base);
    }
    struct og_bench_result q = og_bench_run(reqs, n, 32, max_s);
    long long queued = rint_("ZCARD {og}:queue:default");
    printf("2 instances, %d agents, local redis-server (AOF everysec), policy least_chats\n",
           AGENTS);
    og_bench_print("new sessions queued (ingest, both instances)", &q);

    /* All 200 agents go online in one step (the same fields the presence
     * script writes), so the clock measures routing alone; the API path for
     * presence is exercised by og-int-agents. */
    int64_t t0 = og_mono_ms();
    free(og_test_redis_cli(&rs,
                           "EVAL \"for _, a in ipairs(redis.call('SMEMBERS', '{og}:agents')) do "
                           "redis.call('HSET', '{og}:agent:' .. a, 'presence', 'online') "
                           "redis.call('SADD', '{og}:online', a) end\" 0"));
    long long left = queued;
    while (left > 0 && og_mono_ms() - t0 < (int64_t)(max_s * 1000)) {
        usleep(10000);
        left = rint_("ZCARD {og}:queue:default");
    }
    double secs = (double)(og_mono_ms() - t0) / 1000.0;
    long long active = rint_("ZCARD {og}:idx:st:active");
    printf("assigned %lld of %lld queued sessions in %.2f s: "
           "%.0f assignments/s\n",
           queued - left, queued, secs, (double)(queued - left) / secs);
    char *o = og_test_redis_cli(
        &rs, "EVAL \"local mn, mx = 1e9, 0 for _, a in ipairs(redis.call('SMEMBERS', "
             "'{og}:agents')) do local c = tonumber(redis.call('HGET', '{og}:agent:' .. a, "
             "'chats')) if c < mn then mn = c end if c > mx then mx = c end end "
             "return {mn, mx}\" 0");
    char *nl = o ? strchr(o, '\n') : NULL;
    printf("load per agent: min %lld, max %lld; active sessions %lld\n", o ? atoll(o) : -1,
           nl ? atoll(nl + 1) : -1, active);
    free(o);
    og_bench_free(reqs, n);
    og_test_daemon_stop(&d[0]);
    og_test_daemon_stop(&d[1]);
    og_test_daemon_free(&d[0]);
    og_test_daemon_free(&d[1]);
    og_test_redis_stop(&rs);
    return active == queued ? 0 : 1;
}
