/* test_events_retention - the event stream kept by consumer progress
 * (#22.2), end to end: the daemon on redis-server with events.retain_s 1.
 *   (b) a webhook whose sink answers at once: after 300 messages (326
 *       events) the stream shrinks to about what one second keeps;
 *   (c) a webhook whose sink is down (connection refused, next try in an
 *       hour) owes 100 message.received events: under events.max_bytes
 *       every one stays in the stream and in the subscription's queues,
 *       long after retain_s, and nothing is marked lagging;
 *   (a) events.max_bytes lowered by SIGHUP to 128 KiB and 200 messages
 *       more: the oldest owed events go, and the subscription is marked
 *       lagging with exactly the first lost event id and the count of
 *       events lost (all it was owed minus what the stream still holds),
 *       seen in GET /api/v1/webhooks/{id}, the list, /metrics and one log
 *       line; PATCH {"lagging": null} clears it (anything else is a 400).
 * It prints the stream's entries and bytes at each step. */
#include "og_test.h"
#include "og_util.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define WHSEC "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define AUTH "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\nContent-Type: application/json"

static struct og_test_daemon d;
static struct og_test_redis rs;
static redisContext *rc;

static long post_msg(int i)
{
    char *body = og_sprintf("{\"id\":\"m-%d\",\"from\":{\"id\":\"u-%d\",\"name\":\"U\"},"
                            "\"text\":\"message number %d, a text of about a hundred bytes as "
                            "a customer would write it to the shop\"}",
                            i, i % 13, i);
    long st = og_test_post_signed(&d, "demo", SECRET, body, strlen(body));
    free(body);
    return st;
}

static long long redis_int(const char *cmd)
{
    redisReply *r = redisCommand(rc, cmd);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

static void figures(const char *when)
{
    printf("%-44s XLEN %6lld  MEMORY USAGE %8lld bytes\n", when, redis_int("XLEN {og}:events"),
           redis_int("MEMORY USAGE {og}:events SAMPLES 16"));
}

static long api(const char *method, const char *path, const char *body, char **out)
{
    char *url = og_sprintf("%s%s", d.base, path);
    struct og_test_resp r = og_test_http(method, url, AUTH, body, body ? strlen(body) : 0);
    free(url);
    if (out)
        *out = r.body;
    else
        free(r.body);
    return r.status;
}

static void create_webhook(const char *id, const char *url, const char *extra)
{
    char *body = og_sprintf("{\"id\":\"%s\",\"url\":\"%s\",\"secret\":\"" WHSEC "\","
                            "\"events\":[\"message.received\"]%s}",
                            id, url, extra);
    CHECK_INT(api("POST", "/api/v1/webhooks", body, NULL), 201);
    free(body);
}

/* message.received entries after entry id mark, oldest first: their
 * event ids into ids (when not NULL, [cap]); returns how many. */
static int received_after(const char *mark, char (*ids)[48], int cap)
{
    redisReply *r = redisCommand(rc, "XRANGE {og}:events (%s +", mark);
    int n = 0;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *f = r->element[i]->element[1];
        const char *type = "", *eid = "";
        for (size_t k = 0; k + 1 < f->elements; k += 2) {
            if (strcmp(f->element[k]->str, "type") == 0)
                type = f->element[k + 1]->str;
            else if (strcmp(f->element[k]->str, "id") == 0)
                eid = f->element[k + 1]->str;
        }
        if (strcmp(type, "message.received") != 0)
            continue;
        if (ids && n < cap)
            snprintf(ids[n], sizeof ids[n], "%s", eid);
        n++;
    }
    freeReplyObject(r);
    return n;
}

/* Items queued for subscription sub, over all its sessions' queues. */
static long long queued(const char *sub)
{
    redisReply *r = redisCommand(rc, "KEYS {og}:wh:%s:q:*", sub);
    long long n = 0;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *l = redisCommand(rc, "LLEN %s", r->element[i]->str);
        n += l && l->type == REDIS_REPLY_INTEGER ? l->integer : 0;
        freeReplyObject(l);
    }
    freeReplyObject(r);
    return n;
}

/* The webhook's "lagging" object [xfer, json_object_put], NULL when null;
 * *status the answer's. */
static json_object *lagging(const char *id, long *status)
{
    char *path = og_sprintf("/api/v1/webhooks/%s", id);
    json_object *j = og_test_api_get(&d, path, status), *l = NULL;
    free(path);
    if (j && json_object_object_get_ex(j, "lagging", &l) && l)
        json_object_get(l);
    else
        l = NULL;
    json_object_put(j);
    return l;
}

static long long lag_int(json_object *l, const char *key)
{
    json_object *v;
    return l && json_object_object_get_ex(l, key, &v) ? json_object_get_int64(v) : -1;
}

static const char *lag_str(json_object *l, const char *key)
{
    json_object *v;
    return l && json_object_object_get_ex(l, key, &v) ? json_object_get_string(v) : NULL;
}

static char *metrics(void)
{
    char *url = og_sprintf("%s/metrics", d.base);
    struct og_test_resp r = og_test_http("GET", url, NULL, NULL, 0);
    free(url);
    return r.body;
}

/* The value of the metric line that starts with name (labels included). */
static long long metric(const char *text, const char *name)
{
    char *needle = og_sprintf("\n%s ", name);
    const char *p = text ? strstr(text, needle) : NULL;
    long long v = p ? atoll(p + strlen(needle)) : -1;
    free(needle);
    return v;
}

static char *last_id(void)
{
    redisReply *r = redisCommand(rc, "XREVRANGE {og}:events + - COUNT 1");
    char *id = og_strdup(
        r && r->type == REDIS_REPLY_ARRAY && r->elements ? r->element[0]->element[0]->str : "0-0");
    freeReplyObject(r);
    return id;
}

static int log_has(const char *needle)
{
    char *path = og_sprintf("%s/omnigate.log", d.dir);
    char *t = og_test_read_file(path, NULL);
    int r = t && strstr(t, needle) != NULL;
    free(t);
    free(path);
    return r;
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    rc = redisConnect("127.0.0.1", rs.port);
    struct og_fake *sink = og_fake_start();
    const char *channels = "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{"
                           "\"secret\":\"" SECRET "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]";
    const char *events = "\"events\":{\"retain_s\":1,\"max_bytes\":1048576}";
    if (og_test_daemon_start(&d, rs.url, channels, events) != 0) {
        og_fake_stop(sink);
        og_test_redis_stop(&rs);
        return 1;
    }

    /* (b) consumers keeping up: the stream stays small */
    char *fast = og_sprintf("%s/fast", og_fake_base(sink));
    create_webhook("fast", fast, "");
    free(fast);
    usleep(300000); /* the dispatchers loaded it */
    for (int i = 0; i < 300; i++)
        CHECK_INT(post_msg(i), 200);
    figures("(b) 300 messages posted:");
    for (int i = 0; i < 200 && og_fake_count(sink) < 300; i++)
        usleep(50000);
    CHECK_INT((long long)og_fake_count(sink), 300);
    long long len = -1;
    for (int i = 0; i < 60 && (len = redis_int("XLEN {og}:events")) > 30; i++)
        usleep(100000);
    figures("(b) delivered, retain_s 1 later:");
    CHECK(len >= 0 && len <= 30);
    redisReply *xi = redisCommand(rc, "XINFO STREAM {og}:events");
    long long added = -1;
    for (size_t i = 0; xi && xi->type == REDIS_REPLY_ARRAY && i + 1 < xi->elements; i += 2)
        if (strcmp(xi->element[i]->str, "entries-added") == 0)
            added = xi->element[i + 1]->integer;
    freeReplyObject(xi);
    printf("(b) entries ever added: %lld\n", added);
    CHECK(added >= 300); /* a message.received each, and 13 new contacts and sessions */
    CHECK_INT(api("DELETE", "/api/v1/webhooks/fast", NULL, NULL), 200);

    /* (c) a stopped consumer under the bound: nothing it is owed goes */
    char *mark = last_id();
    create_webhook("slow", "http://127.0.0.1:9/slow", ",\"retry_schedule_s\":[3600]");
    usleep(300000);
    for (int i = 300; i < 400; i++)
        CHECK_INT(post_msg(i), 200);
    char first[48] = "";
    char(*ids)[48] = og_calloc(400, sizeof *ids);
    CHECK_INT(received_after(mark, ids, 400), 100);
    snprintf(first, sizeof first, "%s", ids[0]);
    for (int i = 0; i < 100 && queued("slow") < 100; i++)
        usleep(50000);
    sleep(3); /* three trims past retain_s */
    figures("(c) 100 owed to a stopped webhook, 3 s:");
    CHECK_INT(received_after(mark, NULL, 0), 100);
    CHECK_INT(queued("slow"), 100);
    long st = 0;
    json_object *l = lagging("slow", &st);
    CHECK_INT(st, 200);
    CHECK(l == NULL);
    json_object_put(l);
    char *m = metrics();
    CHECK_INT(metric(m, "omnigate_webhook_lagging{webhook=\"slow\"}"), 0);
    CHECK_INT(metric(m, "omnigate_stream_owed_lost_total"), 0);
    CHECK(metric(m, "omnigate_events_stream_bytes") > 0);
    free(m);
    CHECK(!log_has("is lagging"));

    /* (a) past a small bound: the loss is exact and said everywhere */
    char *cfg = og_test_read_file(d.config_path, NULL);
    char *at = cfg ? strstr(cfg, "\"max_bytes\":1048576") : NULL;
    CHECK(at != NULL);
    if (at) {
        memcpy(at, "\"max_bytes\":131072 ", strlen("\"max_bytes\":1048576"));
        FILE *f = fopen(d.config_path, "w");
        fputs(cfg, f);
        fclose(f);
        kill(d.pid, SIGHUP);
    }
    free(cfg);
    for (int i = 0; i < 100 && !log_has("SIGHUP: applied"); i++)
        usleep(50000);
    for (int i = 400; i < 600; i++)
        CHECK_INT(post_msg(i), 200);
    /* until the count stays the same for 2 s (every trim is done) */
    long long lost = -1, prev = -2;
    for (int i = 0; i < 40 && !(lost > 0 && lost == prev); i++) {
        prev = lost;
        usleep(1000000);
        json_object_put(l);
        l = lagging("slow", &st);
        lost = lag_int(l, "lost_events");
        if (lost > 0 && lost == prev) { /* once more, a trim later */
            usleep(1200000);
            json_object_put(l);
            l = lagging("slow", &st);
            lost = lag_int(l, "lost_events");
        }
    }
    figures("(a) max_bytes 131072, 200 more messages:");
    int left = received_after(mark, NULL, 0);
    printf("(a) owed 300, still in the stream %d, lost %lld, first lost %s\n", left, lost,
           lag_str(l, "first_lost_event_id") ? lag_str(l, "first_lost_event_id") : "-");
    CHECK(l != NULL);
    CHECK(left > 0 && left < 300);
    CHECK_INT(lost, 300 - left);
    CHECK_STR(lag_str(l, "first_lost_event_id"), first);
    CHECK(lag_str(l, "since") && lag_str(l, "first_lost_at") && lag_str(l, "last_lost_at"));
    CHECK_INT(queued("slow"), left); /* the lost ones left its queues too */
    CHECK(redis_int("MEMORY USAGE {og}:events SAMPLES 16") <= 131072);
    /* the list shows it too */
    json_object *list = og_test_api_get(&d, "/api/v1/webhooks", &st), *items, *lv;
    CHECK_INT(st, 200);
    CHECK(list && json_object_object_get_ex(list, "items", &items) &&
          json_object_array_length(items) == 1 &&
          json_object_object_get_ex(json_object_array_get_idx(items, 0), "lagging", &lv) &&
          lag_int(lv, "lost_events") == lost);
    json_object_put(list);
    m = metrics();
    CHECK_INT(metric(m, "omnigate_webhook_lagging{webhook=\"slow\"}"), 1);
    CHECK_INT(metric(m, "omnigate_webhook_lost_events{webhook=\"slow\"}"), lost);
    CHECK_INT(metric(m, "omnigate_webhook_events_lost_total"), lost);
    CHECK(metric(m, "omnigate_events_stream_bytes") <= 131072);
    free(m);
    char *line = og_sprintf("subscription slow is lagging: ");
    CHECK(log_has(line));
    free(line);
    line = og_sprintf("first lost event %s", first);
    CHECK(log_has(line));
    free(line);

    /* clearing: only null */
    CHECK_INT(api("PATCH", "/api/v1/webhooks/slow", "{\"lagging\":5}", NULL), 400);
    CHECK_INT(api("PATCH", "/api/v1/webhooks/slow", "{\"lagging\":null}", NULL), 200);
    json_object_put(l);
    l = lagging("slow", &st);
    CHECK(l == NULL);
    m = metrics();
    CHECK_INT(metric(m, "omnigate_webhook_lagging{webhook=\"slow\"}"), 0);
    CHECK_INT(metric(m, "omnigate_webhook_lost_events{webhook=\"slow\"}"), 0);
    free(m);

    json_object_put(l);
    free(ids);
    free(mark);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    redisFree(rc);
    og_fake_stop(sink);
    og_test_redis_stop(&rs);
    return og_test_done();
}
