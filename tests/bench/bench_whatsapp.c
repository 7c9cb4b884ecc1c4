/* bench_whatsapp - WhatsApp webhook ingest through the daemon: signed
 * "messages" webhook POSTs (X-Hub-Signature-256) carrying 1 and then 10 text
 * messages each, over 64 keep-alive connections (og_bench)
 * into a local redis-server. Every 200 means each message of the batch, its
 * session and its contact are durably in Redis. Prints POST/s, messages/s
 * and p50/p99 latency per POST for both batch sizes.
 *
 * usage: bench_whatsapp [POSTs per run (default 20000)] [max seconds per run (default 15)] */
#include "og_bench.h"
#include "og_test.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "bench-wa-secret"
#define CONTACTS 2000

/* One signed POST with `per` messages, ids unique across the whole run. */
static void make_req(struct og_bench_req *r, const char *url, size_t post, int per)
{
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":"
                    "\"102290129340398\",\"changes\":[{\"field\":\"messages\",\"value\":{"
                    "\"messaging_product\":\"whatsapp\",\"metadata\":{\"display_phone_number\":"
                    "\"15550783881\",\"phone_number_id\":\"106540352242922\"},\"contacts\":[");
    for (int i = 0; i < per; i++) {
        size_t c = (post * (size_t)per + (size_t)i) % CONTACTS;
        og_buf_printf(&b, "%s{\"profile\":{\"name\":\"Customer %zu\"},\"wa_id\":\"1555%07zu\"}",
                      i ? "," : "", c, c);
    }
    og_buf_puts(&b, "],\"messages\":[");
    for (int i = 0; i < per; i++) {
        size_t c = (post * (size_t)per + (size_t)i) % CONTACTS;
        og_buf_printf(&b,
                      "%s{\"from\":\"1555%07zu\",\"id\":\"wamid.bench.%d.%zu.%d\",\"timestamp\":"
                      "\"1749416383\",\"type\":\"text\",\"text\":{\"body\":\"Does it come in "
                      "another color? (%zu/%d)\"}}",
                      i ? "," : "", c, per, post, i, post, i);
    }
    og_buf_puts(&b, "]}}]}]}");
    unsigned char mac[32];
    char hex[65];
    og_hmac_sha256(SECRET, strlen(SECRET), b.data, b.len, mac);
    og_hex_encode(mac, 32, hex, sizeof hex);
    r->body = b.data;
    r->len = b.len;
    r->headers = og_sprintf("X-Hub-Signature-256: sha256=%s\nContent-Type: application/json", hex);
    r->url = og_strdup(url);
}

static int run(const char *url, size_t n, int per, double max_s)
{
    struct og_bench_req *reqs = og_calloc(n, sizeof *reqs);
    for (size_t i = 0; i < n; i++)
        make_req(&reqs[i], url, i, per);
    size_t warm = n / 10 < 1000 ? n / 10 : 1000;
    struct og_bench_result w = og_bench_run(reqs, warm, 64, 5);
    struct og_bench_result r = og_bench_run(reqs + w.done, n - w.done, 64, max_s);
    char label[96];
    snprintf(label, sizeof label, "whatsapp ingest, %d message%s/POST (%zu bytes)", per,
             per == 1 ? "" : "s", reqs[0].len);
    og_bench_print(label, &r);
    printf("  = %.0f messages/s durable\n", r.rps * per);
    og_bench_free(reqs, n);
    return r.failed != 0 || w.failed != 0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 20000;
    double max_s = argc > 2 ? atof(argv[2]) : 15.0;
    if (n < 10)
        n = 10;
    struct og_test_redis rs;
    struct og_test_daemon d;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    const char *ch = "[{\"id\":\"wa\",\"connector\":\"whatsapp\",\"options\":{"
                     "\"access_token\":\"bench-token\",\"app_secret\":\"" SECRET "\","
                     "\"verify_token\":\"bench-verify\",\"phone_number_id\":\"106540352242922\","
                     "\"api_base\":\"http://127.0.0.1:9\"}}]";
    if (og_test_daemon_start(&d, rs.url, ch, "\"log_level\":\"warn\"") != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    char *url = og_sprintf("%s/hooks/wa", d.base);
    printf("64 connections, %d customers, local redis-server (AOF everysec), "
           "up to %zu POSTs or %.0f s per run\n",
           CONTACTS, n, max_s);
    int bad = run(url, n, 1, max_s);
    bad |= run(url, n, 10, max_s);
    free(url);
    og_test_daemon_stop(&d);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    return bad;
}
