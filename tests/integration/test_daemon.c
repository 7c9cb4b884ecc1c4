/* test_daemon - the example connector end to end through the running
 * daemon, against a real redis-server: signed POST -> 2xx -> session and
 * message readable through the API; wrong signature -> 401 and nothing
 * stored; malformed JSON -> 400; body over the limit -> 413 (by
 * Content-Length and chunked); API auth; Redis killed and restarted while
 * omnigate runs -> 503 while down, normal after, nothing acknowledged lost;
 * SIGTERM -> exit 0; --check names the key path and refuses. */
#include "og_test.h"
#include "og_util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"

static long post_signed(struct og_test_daemon *d, const char *body)
{
    return og_test_post_signed(d, "demo", SECRET, body, strlen(body));
}

static char *msg_body(int i)
{
    return og_sprintf("{\"id\":\"evt-%d\",\"from\":{\"id\":\"user-%d\",\"name\":\"User %d\"},"
                      "\"text\":\"message %d\"}",
                      i, i % 7, i % 7, i);
}

static long long dbsize(struct og_test_redis *r)
{
    char *o = og_test_redis_cli(r, "DBSIZE");
    long long v = o ? atoll(o) : -1;
    free(o);
    return v;
}

static long long count_messages(struct og_test_redis *r)
{
    /* every stored message hash; independent of the API under test */
    char *o = og_test_redis_cli(r, "EVAL \"return #redis.call('KEYS', '{og}:msg:*')\" 0");
    long long v = o ? atoll(o) : -1;
    free(o);
    return v;
}

static int run_check(const char *config_text, char **output)
{
    char *dir = og_test_tmpdir();
    char *path = og_sprintf("%s/bad.json", dir);
    FILE *f = fopen(path, "w");
    fputs(config_text, f);
    fclose(f);
    char *cmd = og_sprintf("%s/bin/omnigate --config %s --check 2>&1", OG_BINARY_DIR, path);
    FILE *p = popen(cmd, "r");
    struct og_buf b = {0};
    char tmp[1024];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, p)) > 0)
        og_buf_append(&b, tmp, n);
    int st = pclose(p);
    og_buf_append(&b, "", 0);
    *output = b.data;
    og_test_rmdir(dir);
    free(dir), free(path), free(cmd);
    return st;
}

int main(void)
{
    struct og_test_redis rs;
    struct og_test_daemon d;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    const char *channels = "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{"
                           "\"secret\":\"" SECRET "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]";
    if (og_test_daemon_start(&d, rs.url, channels, "\"http\":{\"max_body_bytes\":4096}") != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }

    /* http.threads 0: 4 per CPU, at least 64 (an ingest holds its thread
     * until its group commit: the threads bound a commit's size) */
    {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        char want[64];
        snprintf(want, sizeof want, "(%ld threads,", ncpu * 4 > 64 ? ncpu * 4 : 64);
        char *logp = og_sprintf("%s/omnigate.log", d.dir);
        CHECK(og_test_wait_file(logp, want, 2000));
        free(logp);
    }

    /* signed POST -> 200 -> visible through the API */
    char *b = og_sprintf("{\"id\":\"evt-a\",\"from\":{\"id\":\"u-1\",\"name\":\"Ann\","
                         "\"email\":\"ann@example.com\"},\"text\":\"hello there\"}");
    CHECK_INT(post_signed(&d, b), 200);
    CHECK_INT(post_signed(&d, b), 200); /* a redelivery: acknowledged again */
    long st;
    json_object *l = og_test_api_get(&d, "/api/v1/sessions?channel=demo", &st);
    CHECK_INT(st, 200);
    json_object *items = json_object_object_get(l, "items");
    CHECK_INT(json_object_array_length(items), 1);
    json_object *s0 = json_object_array_get_idx(items, 0);
    const char *sid = json_object_get_string(json_object_object_get(s0, "id"));
    CHECK(sid && strncmp(sid, "ses_", 4) == 0);
    json_object *contact = json_object_object_get(s0, "contact");
    CHECK_STR(json_object_get_string(json_object_object_get(contact, "name")), "Ann");
    CHECK_STR(json_object_get_string(json_object_object_get(contact, "email")), "ann@example.com");
    CHECK_STR(json_object_get_string(json_object_object_get(s0, "status")), "new");
    char *path = og_sprintf("/api/v1/sessions/%s/messages", sid);
    json_object *ml = og_test_api_get(&d, path, &st);
    CHECK_INT(st, 200);
    json_object *mi = json_object_object_get(ml, "items");
    CHECK_INT(json_object_array_length(mi), 1); /* the redelivery was stored once */
    json_object *m0 = json_object_array_get_idx(mi, 0);
    CHECK_STR(json_object_get_string(json_object_object_get(m0, "text")), "hello there");
    CHECK_STR(json_object_get_string(json_object_object_get(m0, "provider_message_id")), "evt-a");
    json_object_put(ml);
    free(path);
    path = og_sprintf("/api/v1/sessions/%s", sid);
    json_object *one = og_test_api_get(&d, path, &st);
    CHECK_INT(st, 200);
    CHECK_STR(json_object_get_string(json_object_object_get(one, "id")), sid);
    json_object_put(one);
    free(path);
    json_object_put(l);
    free(b);

    /* bad input changes nothing */
    long long before = dbsize(&rs);
    char *url = og_sprintf("%s/hooks/demo", d.base);
    const char *good = "{\"id\":\"evt-b\",\"from\":{\"id\":\"u-2\"},\"text\":\"x\"}";
    struct og_test_resp r = og_test_http(
        "POST", url,
        "X-Signature: sha256=0000000000000000000000000000000000000000000000000000000000000000",
        good, strlen(good));
    CHECK_INT(r.status, 401);
    CHECK(strstr(r.body, "\"error\"") != NULL);
    free(r.body);
    r = og_test_http("POST", url, NULL, good, strlen(good));
    CHECK_INT(r.status, 401);
    free(r.body);
    CHECK_INT(post_signed(&d, "{\"id\":\"evt-c\",\"from\":"), 400);
    CHECK_INT(post_signed(&d, "[1,2,3]"), 400);
    /* a NUL in an id would make "a\u0000b" a duplicate of "a" (#14.13);
     * a key twice is read differently by different readers (#14.14) */
    CHECK_INT(post_signed(&d, "{\"id\":\"evt-n\\u0000x\",\"from\":{\"id\":\"u-9\"},"
                              "\"text\":\"x\"}"),
              400);
    CHECK_INT(post_signed(&d, "{\"id\":\"evt-d\",\"id\":\"evt-e\",\"from\":{\"id\":\"u-9\"},"
                              "\"text\":\"x\"}"),
              400);
    char *big = og_malloc(5001);
    memset(big, 'a', 5000);
    big[5000] = 0;
    r = og_test_http("POST", url, "Content-Type: application/json", big, 5000);
    CHECK_INT(r.status, 413);
    CHECK(strstr(r.body, "payload_too_large") != NULL);
    free(r.body);
    r = og_test_http("POST", url, "Transfer-Encoding: chunked", big, 5000);
    CHECK_INT(r.status, 413);
    free(r.body);
    free(big);
    free(url);
    CHECK_INT(dbsize(&rs), before);

    /* routing and auth */
    url = og_sprintf("%s/hooks/nope", d.base);
    r = og_test_http("POST", url, NULL, "{}", 2);
    CHECK_INT(r.status, 404);
    free(r.body), free(url);
    url = og_sprintf("%s/api/v1/sessions", d.base);
    r = og_test_http("GET", url, NULL, NULL, 0);
    CHECK_INT(r.status, 401);
    free(r.body);
    r = og_test_http("GET", url, "Authorization: Bearer wrong-token-wrong-token", NULL, 0);
    CHECK_INT(r.status, 401);
    free(r.body), free(url);
    json_object_put(og_test_api_get(&d, "/api/v1/sessions/ses_00000000000000000000000000", &st));
    CHECK_INT(st, 404);
    json_object_put(og_test_api_get(&d, "/api/v1/sessions?limit=0", &st));
    CHECK_INT(st, 400);
    json_object_put(og_test_api_get(&d, "/api/v1/sessions?status=bogus", &st));
    CHECK_INT(st, 400);

    /* metrics count what happened */
    url = og_sprintf("%s/metrics", d.base);
    r = og_test_http("GET", url, NULL, NULL, 0);
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body, "omnigate_ingest_total 1\n") != NULL);
    CHECK(strstr(r.body, "omnigate_ingest_duplicates_total 1\n") != NULL);
    CHECK(strstr(r.body, "omnigate_routing_queue_depth{policy=\"default\"} 1") != NULL);
    /* statistics facts waiting for the worker: a gauge read from Redis */
    const char *pend = strstr(r.body, "\nomnigate_stats_pending_facts ");
    CHECK(pend && atoll(strchr(pend + 1, ' ')) >= 0);
    /* #15.8: build info, the process, per-channel counters */
    CHECK(strstr(r.body, "omnigate_build_info{version=\"") && strstr(r.body, ",abi=\"1."));
    CHECK(strstr(r.body,
                 "omnigate_channel_messages_total{channel=\"demo\",connector=\"signed_json\","
                 "result=\"stored\"} 1\n"));
    CHECK(strstr(r.body,
                 "omnigate_channel_messages_total{channel=\"demo\",connector=\"signed_json\","
                 "result=\"duplicate\"} 1\n"));
    CHECK(strstr(r.body, "omnigate_channel_sends_total{channel=\"demo\",outcome=\"sent\"} "));
    const char *rss = strstr(r.body, "\nprocess_resident_memory_bytes ");
    CHECK(rss && atoll(strchr(rss + 1, ' ')) > 1000000);
    const char *fds = strstr(r.body, "\nprocess_open_fds ");
    CHECK(fds && atoll(strchr(fds + 1, ' ')) > 3);
    const char *started = strstr(r.body, "\nprocess_start_time_seconds ");
    CHECK(started && llabs(atoll(strchr(started + 1, ' ')) - og_now_ms() / 1000) < 600);
    CHECK(strstr(r.body, "\nprocess_cpu_seconds_total "));
    free(r.body);
    /* the content type names the format's version and charset */
    char *ct_cmd = og_sprintf("curl -s -o /dev/null -w '%%{content_type}' %s", url);
    FILE *ctp = popen(ct_cmd, "r");
    char ct[128] = "";
    CHECK(ctp && fgets(ct, sizeof ct, ctp));
    CHECK_STR(ct, "text/plain; version=0.0.4; charset=utf-8");
    if (ctp)
        pclose(ctp);
    free(ct_cmd), free(url);

    /* Redis killed and restarted while omnigate runs */
    int acked = 0;
    for (int i = 0; i < 20; i++) {
        char *mb = msg_body(i);
        acked += post_signed(&d, mb) == 200;
        free(mb);
    }
    CHECK_INT(acked, 20);
    og_test_redis_kill(&rs);
    int unavailable = 0;
    for (int i = 20; i < 30; i++) {
        char *mb = msg_body(i);
        long s = post_signed(&d, mb);
        unavailable += s == 503;
        acked += s == 200;
        free(mb);
    }
    CHECK_INT(unavailable, 10);
    url = og_sprintf("%s/readyz", d.base);
    r = og_test_http("GET", url, NULL, NULL, 0);
    CHECK_INT(r.status, 503);
    free(r.body);
    CHECK_INT(og_test_redis_restart(&rs), 0);
    long ready = 0;
    for (int i = 0; i < 100 && ready != 200; i++) {
        r = og_test_http("GET", url, NULL, NULL, 0);
        ready = r.status;
        free(r.body);
        if (ready != 200)
            usleep(50000);
    }
    CHECK_INT(ready, 200);
    free(url);
    for (int i = 20; i < 30; i++) { /* the platform retries what got 503 */
        char *mb = msg_body(i);
        acked += post_signed(&d, mb) == 200;
        free(mb);
    }
    CHECK_INT(acked, 30);
    CHECK_INT(count_messages(&rs), 31); /* 30 + evt-a: nothing acknowledged was lost */

    /* Stopping drains: a connection in the middle of its request keeps the
     * daemon draining (up to 2 s), and a new connection meanwhile is closed
     * without an answer (og_edge_drain); the stop is clean. */
    int held = og_test_raw_connect(NULL, d.port); /* answered once: taken in by then */
    CHECK(held >= 0 &&
          og_test_raw_send(held, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", (size_t)-1) == 0);
    CHECK_INT(og_test_raw_answer(held, 2000, NULL), 200);
    CHECK(og_test_raw_send(held, "GET /healthz HTTP/1.1\r\nHost: x\r\n", (size_t)-1) == 0);
    kill(d.pid, SIGTERM);
    char *logp = og_sprintf("%s/omnigate.log", d.dir);
    int draining = og_test_wait_file(logp, "draining and stopping", 2000);
    free(logp);
    CHECK(draining);
    usleep(100000); /* the line comes just before the drain begins */
    int fresh = og_test_raw_connect(NULL, d.port);
    if (fresh >= 0) { /* the listening socket stays open while draining */
        og_test_raw_send(fresh, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", (size_t)-1);
        CHECK_INT(og_test_raw_answer(fresh, 1000, NULL) > 0, 0);
        close(fresh);
    }
    CHECK(fresh >= 0);
    if (held >= 0)
        close(held);

    /* clean stop */
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);

    /* a bad config names the key path and omnigate refuses to start */
    char *out = NULL;
    int cs = run_check("{\"listen\":\"127.0.0.1:1\",\"api\":{\"admin_token\":\"0123456789abcdef\"},"
                       "\"channels\":[{\"id\":\"a\",\"connector\":\"signed_json\",\"options\":"
                       "{\"reply_url\":\"http://x\"}},{\"id\":\"b\",\"connector\":\"nosuch\"}]}",
                       &out);
    CHECK(cs != 0);
    CHECK(strstr(out, "channels[0].options.secret: required") != NULL);
    CHECK(strstr(out, "channels[1].connector: unknown connector 'nosuch'") != NULL);
    free(out);
    cs = run_check("{\"api\":{\"admin_token\":\"0123456789abcdef\"},\"channels\":[{\"id\":\"a\","
                   "\"connector\":\"signed_json\",\"options\":{\"secret\":\"k\","
                   "\"reply_url\":\"http://x\"}}]}",
                   &out);
    CHECK_INT(cs, 0);
    CHECK(strstr(out, "ok") != NULL);
    free(out);

    /* config/omnigate.example.json (every key) passes --check, channel options
     * included; its connector_dir is relative to a source tree built with make */
    char *cmd = og_sprintf("cd %s && OMNIGATE_ADMIN_TOKEN=0123456789abcdef0123 "
                           "OMNIGATE_DEMO_SECRET=s OMNIGATE_REDIS_PASSWORD= %s/bin/omnigate "
                           "--config config/omnigate.example.json --check "
                           "--connector-dir %s/lib/omnigate/connectors 2>&1",
                           OG_SOURCE_DIR, OG_BINARY_DIR, OG_BINARY_DIR);
    FILE *p = popen(cmd, "r");
    char line[512] = "";
    size_t got = p ? fread(line, 1, sizeof line - 1, p) : 0;
    line[got] = 0;
    CHECK_INT(p ? pclose(p) : -1, 0);
    CHECK(strstr(line, "config/omnigate.example.json: ok") != NULL);
    if (!strstr(line, ": ok"))
        fprintf(stderr, "%s\n", line);
    free(cmd);
    return og_test_done();
}
