/* bench_line - LINE webhook ingest through the daemon: signed LINE text
 * events (one per body, the shape of a real capture, ~560 bytes) POSTed to
 * /hooks/line over 64 keep-alive connections (og_bench), into a local
 * redis-server; every 2xx means the signature was checked and the message,
 * its session and events are durable in Redis. Sender profiles come from a
 * fake LINE API on 127.0.0.1: each of the 2000 users is looked up once
 * during warm-up and cached after, as in steady state. Prints req/s and
 * p50/p99 latency.
 *
 * usage: bench_line [requests (default 20000)] [max seconds (default 20)] */
#include "og_bench.h"
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

#define SECRET "bench-line-channel-secret"
#define USERS 2000

static int profile_api(void *ud, const struct og_fake_req *req, struct og_fake_resp *resp)
{
    (void)ud;
    if (strncmp(req->url, "/v2/bot/profile/", 16) != 0)
        return 0;
    resp->status = 200;
    resp->body =
        "{\"displayName\":\"Bench User\",\"pictureUrl\":\"https://profile.line-scdn.net/b\"}";
    return 1;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 20000;
    double max_s = argc > 2 ? atof(argv[2]) : 20.0;
    struct og_test_redis rs;
    struct og_test_daemon d;
    struct og_fake *api = og_fake_start();
    og_fake_set_handler(api, profile_api, NULL);
    if (og_test_redis_start(&rs) != 0)
        return 1;
    char *ch = og_sprintf("[{\"id\":\"line\",\"connector\":\"line\",\"options\":{"
                          "\"channel_secret\":\"" SECRET "\",\"channel_access_token\":\"bench\","
                          "\"api_base\":\"%s\"}}]",
                          og_fake_base(api));
    if (og_test_daemon_start(&d, rs.url, ch, "\"log_level\":\"warn\"") != 0) {
        free(ch);
        og_test_redis_stop(&rs);
        og_fake_stop(api);
        return 1;
    }
    free(ch);

    size_t warm = n < 2 * USERS ? n / 2 : USERS; /* one request per user: fills the cache */
    struct og_bench_req *reqs = og_calloc(n, sizeof *reqs);
    char *url = og_sprintf("%s/hooks/line", d.base);
    for (size_t i = 0; i < n; i++) {
        unsigned char mac[32];
        char sig[64];
        size_t u = i % USERS;
        reqs[i].body = og_sprintf(
            "{\"destination\":\"Ucb2c792cebe7c9ba974a01d62b0e8b24\",\"events\":[{\"type\":"
            "\"message\",\"message\":{\"type\":\"text\",\"id\":\"%018zu\",\"quoteToken\":"
            "\"QI7HYu-Q5tlexRGwjDKvIPbtsDGIXO7l9Z\",\"text\":\"hello from bench user %zu, "
            "message %zu\"},\"webhookEventId\":\"01K1X3GJT3NC0ZNPD%09zu\",\"deliveryContext\":"
            "{\"isRedelivery\":false},\"timestamp\":1754397166222,\"source\":{\"type\":\"user\","
            "\"userId\":\"U%032zx\"},\"replyToken\":\"ec0186b265ef46dd87505db6249741f5\","
            "\"mode\":\"active\"}]}",
            500000000000000000 + i, u, i, i, u);
        reqs[i].len = strlen(reqs[i].body);
        og_hmac_sha256(SECRET, strlen(SECRET), reqs[i].body, reqs[i].len, mac);
        og_base64_encode(mac, sizeof mac, sig, sizeof sig);
        reqs[i].headers = og_sprintf("X-Line-Signature: %s\nContent-Type: application/json", sig);
        reqs[i].url = og_strdup(url);
    }
    /* Warm up: connections, scripts, the thread pool and the profile cache. */
    struct og_bench_result w = og_bench_run(reqs, warm, 64, 10);
    size_t lookups = og_fake_count(api);
    struct og_bench_result r = og_bench_run(reqs + w.done, n - w.done, 64, max_s);
    printf("LINE text event, body %zu bytes, 64 connections, %d users, local redis-server "
           "(AOF everysec); warm-up %zu requests (%zu profile lookups), then %zu more lookups\n",
           reqs[0].len, USERS, w.done, lookups, og_fake_count(api) - lookups);
    og_bench_print("line webhook ingest (signed, durable)", &r);
    og_bench_free(reqs, n);
    free(url);
    og_test_daemon_stop(&d);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    og_fake_stop(api);
    return r.failed || w.failed ? 1 : 0;
}
