/* bench_send - agent replies end to end: POST /api/v1/sessions/{id}/messages
 * (the reply script: store, history, outbox) over 32 keep-alive connections,
 * then the send queue delivering each through the example connector
 * (signed_json: build, sign, POST) to a local sink (og_fake) answering 200.
 * The channel's rate limit is set out of the way (100000/s) so the figure is
 * the pipeline's. Prints the reply API's req/s and p50/p99, and sends/s from
 * the first reply until the sink has seen every message.
 *
 * usage: bench_send [replies (default 20000)] [send workers (default 8)]
 *                   [max seconds (default 30)] */
#include "og_bench.h"
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "bench-secret"
#define CONTACTS 200

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 20000;
    int workers = argc > 2 ? atoi(argv[2]) : 8;
    double max_s = argc > 3 ? atof(argv[3]) : 30.0;
    struct og_test_redis rs;
    struct og_test_daemon d;
    struct og_fake *sink = og_fake_start();
    if (og_test_redis_start(&rs) != 0)
        return 1;
    char *ch = og_sprintf("[{\"id\":\"bench\",\"connector\":\"signed_json\","
                          "\"rate_limit_per_s\":100000,\"options\":{\"secret\":\"" SECRET
                          "\",\"reply_url\":\"%s/r\"}}]",
                          og_fake_base(sink));
    char *extra = og_sprintf("\"log_level\":\"warn\",\"send\":{\"workers\":%d}", workers);
    if (og_test_daemon_start(&d, rs.url, ch, extra) != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    free(ch), free(extra);

    /* CONTACTS customers write first: one session each */
    struct og_bench_req *in = og_calloc(CONTACTS, sizeof *in);
    for (size_t i = 0; i < CONTACTS; i++) {
        in[i].body =
            og_sprintf("{\"id\":\"in-%zu\",\"from\":{\"id\":\"c-%zu\"},\"text\":\"hi\"}", i, i);
        in[i].len = strlen(in[i].body);
        in[i].headers = og_test_signed_headers(SECRET, in[i].body, in[i].len);
        in[i].url = og_sprintf("%s/hooks/bench", d.base);
    }
    og_bench_run(in, CONTACTS, 16, 10);
    og_bench_free(in, CONTACTS);
    long st;
    json_object *l = og_test_api_get(&d, "/api/v1/sessions?limit=200", &st);
    json_object *items = json_object_object_get(l, "items");
    size_t ns = json_object_array_length(items);
    if (ns == 0) {
        fprintf(stderr, "no sessions\n");
        return 1;
    }

    struct og_bench_req *reqs = og_calloc(n, sizeof *reqs);
    for (size_t i = 0; i < n; i++) {
        const char *sid = json_object_get_string(
            json_object_object_get(json_object_array_get_idx(items, i % ns), "id"));
        reqs[i].url = og_sprintf("%s/api/v1/sessions/%s/messages", d.base, sid);
        reqs[i].headers = og_sprintf("Authorization: Bearer %s\nContent-Type: application/json",
                                     OG_TEST_ADMIN_TOKEN);
        reqs[i].body = og_sprintf("{\"text\":\"Thanks for writing, this is answer %zu of the "
                                  "benchmark; we will get back to you shortly.\"}",
                                  i);
        reqs[i].len = strlen(reqs[i].body);
    }
    json_object_put(l);
    int64_t t0 = og_mono_ms();
    struct og_bench_result r = og_bench_run(reqs, n, 32, max_s);
    og_bench_print("reply API (202, queued)", &r);
    size_t want = r.ok;
    while (og_fake_count(sink) < want && og_mono_ms() - t0 < (int64_t)(max_s * 2000))
        usleep(10000);
    double secs = (double)(og_mono_ms() - t0) / 1000.0;
    size_t got = og_fake_count(sink);
    printf("%-40s %8zu sent in %.2f s = %8.0f sends/s (%d send workers)%s\n",
           "send queue -> signed_json -> sink", got, secs, got / secs, workers,
           got < want ? " [TIMED OUT]" : "");
    og_bench_free(reqs, n);
    og_test_daemon_stop(&d);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    og_fake_stop(sink);
    return 0;
}
