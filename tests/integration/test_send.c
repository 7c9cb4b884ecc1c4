/* test_send - agent replies through the daemon and the send queue, against
 * a real redis-server and the example connector (signed_json), whose send()
 * POSTs to its reply_url: an og_fake here. Covers: 202 pending -> sent with
 * the provider id (the fake answers {"id":"pm-<our id>"}), the session moves
 * active -> awaiting (and back on the customer's next message) and its
 * auto-forward timer stops; a 500 is retried, a 400 fails with its error,
 * a 429 waits for Retry-After; bad input is refused and changes nothing; a
 * closed session refuses replies; a channel's rate_limit_per_s spaces sends;
 * POST /api/v1/sessions starts (or refuses) a conversation. */
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define AUTH "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\nContent-Type: application/json"

static struct og_test_redis rs;
static struct og_test_daemon d;

/* Answers 200 {"id":"pm-<the message id in the body>"}. */
static int echo_id(void *ud, const struct og_fake_req *req, struct og_fake_resp *resp)
{
    (void)ud;
    static __thread char buf[128];
    const char *p = strstr(req->body, "\"id\":\"");
    snprintf(buf, sizeof buf, "{\"id\":\"pm-%.*s\"}", p ? 30 : 0, p ? p + 6 : "");
    resp->status = 200;
    resp->body = buf;
    return 1;
}

static long post_signed(const char *channel, const char *body)
{
    return og_test_post_signed(&d, channel, SECRET, body, strlen(body));
}

/* The outbox stream's last-generated-id, as a redis-cli argument list. */
#define LAST_ID                                                                                    \
    "EVAL \"local r = redis.call('XINFO', 'STREAM', KEYS[1]) for i = 1, #r, 2 do if r[i] == "      \
    "'last-generated-id' then return r[i + 1] end end\" 1 {og}:outbox%s"

static char *cli(const char *fmt, const char *a)
{
    char *args = og_sprintf(fmt, a);
    char *out = og_test_redis_cli(&rs, args);
    free(args);
    if (out)
        out[strcspn(out, "\n")] = 0;
    return out;
}

/* POST path with body; *json the parsed answer [xfer]. */
static long api_post(const char *path, const char *body, json_object **json)
{
    char *url = og_sprintf("%s/api/v1%s", d.base, path);
    struct og_test_resp r = og_test_http("POST", url, AUTH, body, strlen(body));
    free(url);
    if (json)
        *json = json_tokener_parse(r.body);
    free(r.body);
    return r.status;
}

static const char *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

/* Replies with text; returns the message id in mid ("" on failure). */
static long reply(const char *sid, const char *text, char mid[48])
{
    char *path = og_sprintf("/sessions/%s/messages", sid);
    char *body = og_sprintf("{\"text\":\"%s\"}", text);
    json_object *j = NULL;
    long st = api_post(path, body, &j);
    snprintf(mid, 48, "%s", jget(j, "id") ? jget(j, "id") : "");
    if (st == 202)
        CHECK_STR(jget(j, "status"), "pending");
    json_object_put(j);
    free(path), free(body);
    return st;
}

/* Waits up to ms for the message's status to become want. */
static int wait_status(const char *mid, const char *want, int ms)
{
    for (int t = 0; t < ms; t += 20) {
        char *st = cli("HGET {og}:msg:%s st", mid);
        int ok = st && strcmp(st, want) == 0;
        free(st);
        if (ok)
            return 1;
        usleep(20000);
    }
    return 0;
}

static size_t posts_for(struct og_fake *f, const char *mid)
{
    size_t n = 0;
    char *needle = og_sprintf("\"id\":\"%s\"", mid);
    for (size_t i = 0; i < og_fake_count(f); i++)
        if (strstr(og_fake_get(f, i)->body, needle))
            n++;
    free(needle);
    return n;
}

static char *session_of(const char *channel)
{
    char *path = og_sprintf("/api/v1/sessions?channel=%s", channel);
    long st;
    json_object *l = og_test_api_get(&d, path, &st);
    json_object *s0 = json_object_array_get_idx(json_object_object_get(l, "items"), 0);
    char *sid = og_strdup(jget(s0, "id"));
    json_object_put(l);
    free(path);
    return sid;
}

static long long events_of(const char *type)
{
    char *args = og_sprintf("EVAL \"local n=0 for _,e in ipairs(redis.call('XRANGE',KEYS[1],'-',"
                            "'+')) do if e[2][4]=='%s' then n=n+1 end end return n\" 1 "
                            "{og}:events",
                            type);
    char *out = og_test_redis_cli(&rs, args);
    long long v = out ? atoll(out) : -1;
    free(args), free(out);
    return v;
}

int main(void)
{
    struct og_fake *f = og_fake_start(), *f2 = og_fake_start();
    og_fake_set_handler(f, echo_id, NULL);
    og_fake_set_handler(f2, echo_id, NULL);
    if (og_test_redis_start(&rs) != 0)
        return 1;
    char *channels = og_sprintf(
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"%s/r\"}},"
        "{\"id\":\"slow\",\"connector\":\"signed_json\",\"rate_limit_per_s\":5,"
        "\"options\":{\"secret\":\"" SECRET "\",\"reply_url\":\"%s/r\"}}]",
        og_fake_base(f), og_fake_base(f2));
    if (og_test_daemon_start(&d, rs.url, channels,
                             "\"send\":{\"workers\":2,\"retry_backoff_ms\":200,"
                             "\"retry_max_ms\":1000,\"claim_idle_ms\":2000}") != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    free(channels);

    /* a customer writes; the session is assigned (active), with an auto-forward timer */
    CHECK_INT(post_signed("demo", "{\"id\":\"in-1\",\"from\":{\"id\":\"u-1\"},\"text\":\"hi\"}"),
              200);
    char *sid = session_of("demo");
    CHECK(sid != NULL);
    char *o = cli("EVAL \"redis.call('HSET','{og}:ses:'..ARGV[1],'status','active') "
                  "redis.call('ZREM','{og}:idx:st:new',ARGV[1]) "
                  "redis.call('ZADD','{og}:idx:st:active',0,ARGV[1]) "
                  "redis.call('ZADD','{og}:timers:autoforward',1,ARGV[1])\" 0 %s",
                  sid);
    free(o);

    /* 1. reply -> 202 pending -> the connector POSTs it -> sent with provider id */
    char mid[48];
    CHECK_INT(reply(sid, "Hello Ann", mid), 202);
    CHECK(wait_status(mid, "sent", 10000));
    CHECK_INT(posts_for(f, mid), 1);
    const struct og_fake_req *rq = og_fake_get(f, 0);
    CHECK(rq && strstr(rq->body, "\"text\":\"Hello Ann\"") && strstr(rq->body, "\"to\":\"u-1\""));
    char hb[128];
    CHECK(rq && og_fake_header(rq, "x-signature", hb, sizeof hb) != NULL);
    char *path = og_sprintf("/api/v1/sessions/%s/messages", sid);
    long st;
    json_object *ml = og_test_api_get(&d, path, &st);
    json_object *m1 = json_object_array_get_idx(json_object_object_get(ml, "items"), 1);
    char *want_pm = og_sprintf("pm-%s", mid);
    CHECK_STR(jget(m1, "provider_message_id"), want_pm);
    CHECK_STR(jget(m1, "status"), "sent");
    CHECK_STR(jget(m1, "direction"), "out");
    CHECK_STR(jget(json_object_object_get(m1, "sender"), "id"), "admin");
    json_object_put(ml);
    o = cli("EVAL \"return redis.call('HGET', KEYS[1] .. redis.sha1hex(ARGV[1]):sub(1, 3), "
            "ARGV[1])\" 1 {og}:pm:demo: %s",
            want_pm);
    CHECK_STR(o, mid);
    free(o), free(want_pm);
    o = cli("HGET {og}:ses:%s status", sid);
    CHECK_STR(o, "awaiting");
    free(o);
    o = cli("ZSCORE {og}:timers:autoforward %s", sid);
    CHECK_STR(o, "");
    free(o);
    CHECK_INT(events_of("message.sent"), 1);
    CHECK_INT(events_of("session.status_changed"), 1);
    /* the customer answers: active again */
    CHECK_INT(post_signed("demo", "{\"id\":\"in-2\",\"from\":{\"id\":\"u-1\"},\"text\":\"ok\"}"),
              200);
    o = cli("HGET {og}:ses:%s status", sid);
    CHECK_STR(o, "active");
    free(o);

    /* 2. a 500 is retried, then sent */
    struct og_fake_resp r500 = {.status = 500, .body = "{\"error\":\"down\"}"};
    og_fake_push(f, &r500);
    CHECK_INT(reply(sid, "retry me", mid), 202);
    CHECK(wait_status(mid, "sent", 10000));
    CHECK_INT(posts_for(f, mid), 2);

    /* 3. a 400 fails at once, with the receiver's words */
    struct og_fake_resp r400 = {.status = 400, .body = "{\"error\":\"no such user\"}"};
    og_fake_push(f, &r400);
    CHECK_INT(reply(sid, "refused", mid), 202);
    CHECK(wait_status(mid, "failed", 10000));
    usleep(600000); /* longer than a retry would take */
    CHECK_INT(posts_for(f, mid), 1);
    o = cli("HGET {og}:msg:%s err", mid);
    CHECK(o && strstr(o, "\"code\":\"400\"") && strstr(o, "no such user"));
    free(o);
    CHECK_INT(events_of("message.failed"), 1);

    /* 4. 429 with Retry-After: 1 -> the next try comes after a second */
    struct og_fake_resp r429 = {.status = 429, .body = "{}", .headers = "Retry-After: 1\n"};
    og_fake_push(f, &r429);
    int64_t t0 = og_mono_ms();
    CHECK_INT(reply(sid, "slow down", mid), 202);
    CHECK(wait_status(mid, "sent", 10000));
    CHECK(og_mono_ms() - t0 >= 900);
    CHECK_INT(posts_for(f, mid), 2);

    /* 5. bad input is refused and changes nothing */
    /* The housekeeping worker may trim sent entries meanwhile, so compare
     * the stream's last id (which trimming never changes), not its length. */
    char *last = cli(LAST_ID, "");
    json_object *j = NULL;
    free(path);
    path = og_sprintf("/sessions/%s/messages", sid);
    CHECK_INT(api_post(path, "{}", &j), 400);
    CHECK(json_object_object_get(j, "error") != NULL);
    json_object_put(j);
    CHECK_INT(api_post(path, "{\"text\":5}", NULL), 400);
    CHECK_INT(api_post(path, "{\"text\":\"x\",\"bogus\":1}", NULL), 400);
    CHECK_INT(api_post(path, "{\"attachments\":[{\"url\":\"ftp://x\"}]}", NULL), 400);
    CHECK_INT(api_post(path, "not json", NULL), 400);
    CHECK_INT(
        api_post("/sessions/ses_00000000000000000000000000/messages", "{\"text\":\"x\"}", NULL),
        404);
    CHECK_INT(api_post("/sessions/nonsense/messages", "{\"text\":\"x\"}", NULL), 404);
    o = cli(LAST_ID, "");
    CHECK(last && *last && o && strcmp(o, last) == 0);
    free(o);
    free(last);
    /* an attachment only is fine */
    CHECK_INT(api_post(path,
                       "{\"attachments\":[{\"url\":\"https://cdn.example.com/a.pdf\","
                       "\"name\":\"a.pdf\",\"mime_type\":\"application/pdf\"}]}",
                       &j),
              202);
    CHECK_STR(jget(j, "kind"), "file");
    json_object_put(j);
    /* no token -> 401 */
    char *url = og_sprintf("%s/api/v1%s", d.base, path);
    struct og_test_resp tr = og_test_http("POST", url, NULL, "{\"text\":\"x\"}", 12);
    CHECK_INT(tr.status, 401);
    free(tr.body), free(url);

    /* 6. rate_limit_per_s 5: six replies take at least a second */
    CHECK_INT(post_signed("slow", "{\"id\":\"in-9\",\"from\":{\"id\":\"u-9\"},\"text\":\"hi\"}"),
              200);
    char *sid2 = session_of("slow");
    char mids[6][48];
    t0 = og_mono_ms();
    for (int i = 0; i < 6; i++)
        CHECK_INT(reply(sid2, "burst", mids[i]), 202);
    for (int i = 0; i < 6; i++)
        CHECK(wait_status(mids[i], "sent", 10000));
    int64_t took = og_mono_ms() - t0;
    CHECK(took >= 900 && took < 8000); /* 5 gaps of 200 ms */
    CHECK_INT(og_fake_count(f2), 6);

    /* 7. starting a conversation */
    CHECK_INT(
        api_post("/sessions", "{\"channel\":\"demo\",\"external_id\":\"u-1\",\"text\":\"x\"}", &j),
        409);
    CHECK(strstr(json_object_to_json_string(j), "session_open") != NULL);
    json_object_put(j);
    o = cli("EVAL \"redis.call('HSET','{og}:ses:'..ARGV[1],'status','closed') "
            "redis.call('ZREM','{og}:idx:st:active',ARGV[1]) "
            "redis.call('ZADD','{og}:idx:st:closed',0,ARGV[1])\" 0 %s",
            sid);
    free(o);
    /* closed: replies are refused, a new conversation reopens it */
    CHECK_INT(reply(sid, "too late", mid), 409);
    CHECK_INT(api_post("/sessions",
                       "{\"channel\":\"demo\",\"external_id\":\"u-1\",\"text\":\"we are back\"}",
                       &j),
              201);
    json_object *ns = json_object_object_get(j, "session"),
                *nm = json_object_object_get(j, "message");
    CHECK_STR(jget(ns, "id"), sid);
    /* the admin token is not an agent: the conversation waits in the
     * routing queue for one (#14.18; it used to stay "awaiting" unqueued) */
    CHECK_STR(jget(ns, "status"), "new");
    snprintf(mid, sizeof mid, "%s", jget(nm, "id") ? jget(nm, "id") : "");
    json_object_put(j);
    CHECK(wait_status(mid, "sent", 10000));
    CHECK_INT(posts_for(f, mid), 1);
    CHECK_INT(api_post("/sessions",
                       "{\"channel\":\"demo\",\"external_id\":\"nobody\",\"text\":\"x\"}", NULL),
              404);
    CHECK_INT(api_post("/sessions", "{\"channel\":\"nope\",\"external_id\":\"u-1\",\"text\":\"x\"}",
                       NULL),
              400);
    CHECK_INT(api_post("/sessions", "{\"channel\":\"demo\",\"text\":\"x\"}", NULL), 400);

    free(path), free(sid), free(sid2);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    /* a clean stop with nothing pending leaves no consumer behind */
    o = cli("XINFO CONSUMERS {og}:outbox senders%s", "");
    CHECK_STR(o, "");
    free(o);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    og_fake_stop(f);
    og_fake_stop(f2);
    return og_test_done();
}
