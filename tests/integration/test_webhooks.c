/* test_webhooks - outbound webhooks end to end: a real redis-server, the
 * daemon with the example connector "signed_json", and webhook sinks
 * (og_fake) with scripted answers. Covers: delivery of every event type
 * with Standard Webhooks headers (signature verified, body byte for byte the
 * stream's event), a sink failing N times, 410 disabling the subscription,
 * 429 with Retry-After, a hanging sink (attempt timeout), per-session order
 * under failures, secret rotation (two signatures during the overlap, one
 * after), dead-letter + replay (by event id and since), redirects not
 * followed, examples/webhook_consumer on real deliveries, the admin API
 * (validation, conflicts, auth), and that every stream entry ends up
 * acknowledged. */
#include "og_test.h"
#include "og_util.h"
#include "og_webhooks.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define WHSEC "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static struct og_test_daemon d;
static struct og_test_redis rs;

/* ------------------------------------------------------------ helpers */

static long post_signed(const char *body)
{
    return og_test_post_signed(&d, "demo", SECRET, body, strlen(body));
}

static long post_msg(const char *msg_id, const char *user, const char *text)
{
    char *b = og_sprintf("{\"id\":\"%s\",\"from\":{\"id\":\"%s\",\"name\":\"%s\"},"
                         "\"text\":\"%s\"}",
                         msg_id, user, user, text);
    long st = post_signed(b);
    free(b);
    return st;
}

static long api(const char *method, const char *path, const char *body, json_object **out)
{
    char *url = og_sprintf("%s/api/v1%s", d.base, path);
    struct og_test_resp r = og_test_http(method, url,
                                         "Authorization: Bearer " OG_TEST_ADMIN_TOKEN
                                         "\nContent-Type: application/json",
                                         body, body ? strlen(body) : 0);
    if (out)
        *out = json_tokener_parse(r.body);
    free(url), free(r.body);
    return r.status;
}

static const char *jget(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

/* 1 when the request carries a valid signature with secret (any entry). */
static int sig_valid(const struct og_fake_req *q, const char *secret, int *entries)
{
    char id[128], ts[32], sig[512];
    if (!og_fake_header(q, "webhook-id", id, sizeof id) ||
        !og_fake_header(q, "webhook-timestamp", ts, sizeof ts) ||
        !og_fake_header(q, "webhook-signature", sig, sizeof sig))
        return 0;
    char want[128];
    if (og_webhook_sign(secret, id, atoll(ts), q->body, q->body_len, want, sizeof want) != 0)
        return 0;
    int ok = 0, n = 0;
    for (char *tok = strtok(sig, " "); tok; tok = strtok(NULL, " ")) {
        n++;
        if (strcmp(tok, want) == 0)
            ok = 1;
    }
    if (entries)
        *entries = n;
    return ok;
}

static const char *hdr(const struct og_fake_req *q, const char *name, char *buf, size_t n)
{
    const char *v = og_fake_header(q, name, buf, n);
    return v ? v : "";
}

/* Waits until the fake has at least n requests (or ms pass). */
static int wait_count(struct og_fake *f, size_t n, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        if (og_fake_count(f) >= n)
            return 1;
        usleep(20000);
    }
    return og_fake_count(f) >= n;
}

static json_object *body_json(const struct og_fake_req *q)
{
    return json_tokener_parse(q->body);
}

static char *event_type(const struct og_fake_req *q)
{
    json_object *j = body_json(q);
    char *t = og_strdup(jget(j, "type"));
    json_object_put(j);
    return t;
}

/* The text of a message.received delivery, [xfer]. */
static char *msg_text(const struct og_fake_req *q)
{
    json_object *j = body_json(q), *data, *m;
    char *t = NULL;
    if (json_object_object_get_ex(j, "data", &data) &&
        json_object_object_get_ex(data, "message", &m))
        t = og_strdup(jget(m, "text"));
    json_object_put(j);
    return t;
}

static redisContext *rc;

static long long xpending(void)
{
    redisReply *r = redisCommand(rc, "XPENDING {og}:events webhooks");
    long long n = r && r->type == REDIS_REPLY_ARRAY ? r->element[0]->integer : -1;
    freeReplyObject(r);
    return n;
}

/* Creates an API subscription pointing at f and waits for the dispatchers
 * to see it. */
static void create_sub(const char *id, struct og_fake *f, const char *schedule, int timeout_ms)
{
    char *body = og_sprintf("{\"id\":\"%s\",\"url\":\"%s/%s\",\"secret\":\"%s\","
                            "\"events\":[\"message.received\"],\"retry_schedule_s\":%s,"
                            "\"timeout_ms\":%d}",
                            id, og_fake_base(f), id, WHSEC, schedule, timeout_ms);
    CHECK_INT(api("POST", "/webhooks", body, NULL), 201);
    free(body);
    usleep(600000); /* dispatchers reload within 250 ms */
}

static void delete_sub(const char *id)
{
    char *path = og_sprintf("/webhooks/%s", id);
    CHECK_INT(api("DELETE", path, NULL, NULL), 200);
    free(path);
}

/* Waits until the subscription lists n attempts with status (a result is
 * recorded just after the sink answered). */
static void wait_deliveries(const char *id, const char *status, size_t n)
{
    char *path = og_sprintf("/webhooks/%s/deliveries?status=%s", id, status);
    for (int i = 0; i < 100; i++) {
        json_object *l = NULL;
        api("GET", path, NULL, &l);
        size_t have = json_object_array_length(json_object_object_get(l, "items"));
        json_object_put(l);
        if (have >= n)
            break;
        usleep(50000);
    }
    free(path);
}

/* --------------------------------------------------------- sink scripts */

struct per_event {
    pthread_mutex_t mu;
    char ids[256][64];
    int tries[256];
    int n;
    int fail_first; /* answer 500 to the first fail_first attempts of each id */
    int mode;       /* slow sink: 0 = 429, 1 = hang, 2 = ok */
};

static int count_try(struct per_event *p, const struct og_fake_req *q)
{
    char id[64];
    hdr(q, "webhook-id", id, sizeof id);
    pthread_mutex_lock(&p->mu);
    int i = 0;
    while (i < p->n && strcmp(p->ids[i], id) != 0)
        i++;
    if (i == p->n && p->n < 256)
        snprintf(p->ids[p->n++], 64, "%s", id);
    int t = ++p->tries[i];
    pthread_mutex_unlock(&p->mu);
    return t;
}

static int fail_first_handler(void *ud, const struct og_fake_req *q, struct og_fake_resp *r)
{
    struct per_event *p = ud;
    int t = count_try(p, q);
    r->status = t <= p->fail_first ? 500 : 200;
    r->body = t <= p->fail_first ? "boom" : "ok";
    r->content_type = "text/plain";
    return 1;
}

static int slow_handler(void *ud, const struct og_fake_req *q, struct og_fake_resp *r)
{
    int t = count_try(ud, q);
    r->content_type = "text/plain";
    r->body = "";
    if (t == 1) {
        r->status = 429;
        r->headers = "Retry-After: 2\n";
    } else if (t == 2) {
        r->status = 200;
        r->delay_ms = 1500; /* longer than the subscription's 500 ms timeout */
    } else {
        r->status = 204;
    }
    return 1;
}

/* The first request waits 600 ms, so that a session's later events queue up
 * behind it and go out as chains (several items per claim). */
static int hold_first_handler(void *ud, const struct og_fake_req *q, struct og_fake_resp *r)
{
    int t = count_try(ud, q);
    struct per_event *p = ud;
    pthread_mutex_lock(&p->mu);
    int first = p->n == 1 && t == 1;
    pthread_mutex_unlock(&p->mu);
    r->status = 204;
    r->body = "";
    r->content_type = "text/plain";
    r->delay_ms = first ? 600 : 0;
    return 1;
}

/* ------------------------------------------------------------ the tests */

static struct og_fake *s_all, *s_flaky, *s_gone, *s_slow, *s_dead, *s_order, *s_rot, *s_burst,
    *s_ghost;
static struct per_event pe_flaky, pe_slow, pe_order, pe_burst;

static void test_all_events(void)
{
    CHECK_INT(post_msg("a-1", "ann", "hello"), 200);
    /* contact.created, session.created, message.received (+ status) */
    CHECK(wait_count(s_all, 3, 5000));
    usleep(300000);
    size_t n = og_fake_count(s_all);
    int seen_msg = 0, seen_ses = 0, seen_con = 0;
    for (size_t i = 0; i < n; i++) {
        const struct og_fake_req *q = og_fake_get(s_all, i);
        char id[64], ts[32], ct[64];
        CHECK_STR(q->method, "POST");
        CHECK_STR(q->url, "/all");
        CHECK(sig_valid(q, WHSEC, NULL));
        CHECK_STR(hdr(q, "content-type", ct, sizeof ct), "application/json");
        long long t = atoll(hdr(q, "webhook-timestamp", ts, sizeof ts));
        CHECK(t > og_now_ms() / 1000 - 60 && t <= og_now_ms() / 1000 + 1);
        json_object *j = body_json(q);
        CHECK_STR(jget(j, "id"), hdr(q, "webhook-id", id, sizeof id));
        const char *type = jget(j, "type");
        seen_msg += type && strcmp(type, "message.received") == 0;
        seen_ses += type && strcmp(type, "session.created") == 0;
        seen_con += type && strcmp(type, "contact.created") == 0;
        /* byte for byte the stream entry's event field */
        redisReply *r = redisCommand(rc, "XRANGE {og}:events - +");
        int found = 0;
        for (size_t k = 0; r && k < r->elements; k++) {
            redisReply *f = r->element[k]->element[1];
            for (size_t x = 0; x + 1 < f->elements; x += 2)
                if (strcmp(f->element[x]->str, "event") == 0 &&
                    f->element[x + 1]->len == q->body_len &&
                    memcmp(f->element[x + 1]->str, q->body, q->body_len) == 0)
                    found = 1;
        }
        freeReplyObject(r);
        CHECK(found);
        json_object_put(j);
    }
    CHECK_INT(seen_msg, 1);
    CHECK_INT(seen_ses, 1);
    CHECK_INT(seen_con, 1);
    /* a second message of the same session: only message.received (and no
     * duplicate of the earlier ones) */
    og_fake_reset(s_all);
    CHECK_INT(post_msg("a-2", "ann", "again"), 200);
    CHECK(wait_count(s_all, 1, 5000));
    usleep(300000);
    size_t got = og_fake_count(s_all);
    CHECK(got >= 1);
    char *t0 = event_type(og_fake_get(s_all, 0));
    CHECK_STR(t0, "message.received");
    free(t0);
}

static void test_flaky(void)
{
    /* flaky fails the first 2 attempts of each event; schedule [0,0,0,0] */
    create_sub("flaky", s_flaky, "[0,0,0,0]", 2000);
    CHECK_INT(post_msg("f-1", "fred", "flaky one"), 200);
    CHECK(wait_count(s_flaky, 3, 8000));
    wait_deliveries("flaky", "ok", 1);
    usleep(300000);
    CHECK_INT(og_fake_count(s_flaky), 3);
    char id0[64], idk[64];
    hdr(og_fake_get(s_flaky, 0), "webhook-id", id0, sizeof id0);
    for (size_t i = 0; i < og_fake_count(s_flaky); i++) {
        CHECK_STR(hdr(og_fake_get(s_flaky, i), "webhook-id", idk, sizeof idk), id0);
        CHECK(sig_valid(og_fake_get(s_flaky, i), WHSEC, NULL));
    }
    json_object *l = NULL;
    CHECK_INT(api("GET", "/webhooks/flaky/deliveries", NULL, &l), 200);
    json_object *items = json_object_object_get(l, "items");
    CHECK_INT(json_object_array_length(items), 3);
    /* newest first: ok, failed, failed */
    json_object *a0 = json_object_array_get_idx(items, 0),
                *a2 = json_object_array_get_idx(items, 2);
    CHECK_STR(jget(a0, "status"), "ok");
    CHECK_STR(jget(a0, "attempt"), "3");
    CHECK_STR(jget(a0, "event_id"), id0);
    CHECK_STR(jget(a2, "status"), "failed");
    CHECK_STR(jget(a2, "status_code"), "500");
    CHECK_STR(jget(a2, "error"), "HTTP 500");
    CHECK_STR(jget(a2, "type"), jget(a0, "type"));
    /* times as RFC 3339; only a failed attempt has a next one */
    const char *at = jget(a0, "at"), *next = jget(a2, "next_attempt_at");
    CHECK(at && strlen(at) == 24 && at[10] == 'T' && at[23] == 'Z');
    CHECK(next && strlen(next) == 24 && strcmp(next, jget(a2, "at")) >= 0);
    CHECK(jget(a0, "next_attempt_at") == NULL);
    CHECK(jget(a0, "error") == NULL);
    CHECK(jget(a0, "latency_ms") != NULL);
    json_object_put(l);
    CHECK_INT(api("GET", "/webhooks/flaky/deliveries?status=failed", NULL, &l), 200);
    CHECK_INT(json_object_array_length(json_object_object_get(l, "items")), 2);
    json_object_put(l);
    CHECK_INT(api("GET", "/webhooks/flaky/deliveries?status=bogus", NULL, NULL), 400);
    delete_sub("flaky");
}

static void test_gone(void)
{
    /* "gone" answers 410 to everything: the first message (test_all_events)
     * disabled it; 410 is not retried */
    CHECK(wait_count(s_gone, 1, 5000));
    wait_deliveries("gone", "dead", 1);
    usleep(300000);
    CHECK_INT(og_fake_count(s_gone), 1);
    json_object *s = NULL;
    CHECK_INT(api("GET", "/webhooks/gone", NULL, &s), 200);
    CHECK_STR(jget(s, "enabled"), "false");
    CHECK(jget(s, "disabled_reason") && strstr(jget(s, "disabled_reason"), "410"));
    CHECK_STR(jget(s, "source"), "config");
    json_object_put(s);
    json_object *l = NULL;
    CHECK_INT(api("GET", "/webhooks/gone/deliveries?status=dead", NULL, &l), 200);
    /* the 410 itself; events already queued when it came are dead-lettered
     * as "subscription disabled" without an attempt */
    json_object *dl = json_object_object_get(l, "items");
    int n410 = 0, n_disabled = 0;
    for (size_t i = 0; i < json_object_array_length(dl); i++) {
        json_object *a = json_object_array_get_idx(dl, i);
        const char *code = jget(a, "status_code"), *err = jget(a, "error");
        n410 += code && strcmp(code, "410") == 0;
        n_disabled += !code && err && strcmp(err, "subscription disabled") == 0;
    }
    CHECK_INT(n410, 1);
    CHECK_INT(n410 + n_disabled, (long long)json_object_array_length(dl));
    json_object_put(l);
    CHECK_INT(post_msg("g-1", "gina", "while disabled"), 200);
    usleep(800000);
    CHECK_INT(og_fake_count(s_gone), 1); /* disabled: nothing more */
    /* config subscriptions: only enabling/disabling through the API */
    CHECK_INT(api("PATCH", "/webhooks/gone", "{\"url\":\"http://127.0.0.1:1/x\"}", NULL), 409);
    CHECK_INT(api("PATCH", "/webhooks/gone", "{\"enabled\":true}", &s), 200);
    CHECK_STR(jget(s, "enabled"), "true");
    json_object_put(s);
    usleep(600000);
    CHECK_INT(post_msg("g-2", "gina", "enabled again"), 200);
    CHECK(wait_count(s_gone, 2, 5000));
    usleep(500000);
    CHECK_INT(og_fake_count(s_gone), 2);
    CHECK_INT(api("GET", "/webhooks/gone", NULL, &s), 200);
    CHECK_STR(jget(s, "enabled"), "false"); /* the 410 disabled it again */
    json_object_put(s);
}

static void test_slow(void)
{
    /* 429 + Retry-After: 2, then a hang past the 500 ms timeout, then 204 */
    create_sub("slow", s_slow, "[0,0,0]", 500);
    CHECK_INT(post_msg("s-1", "sam", "slow"), 200);
    CHECK(wait_count(s_slow, 3, 10000));
    json_object *l = NULL;
    wait_deliveries("slow", "ok", 1);
    CHECK_INT(api("GET", "/webhooks/slow/deliveries", NULL, &l), 200);
    json_object *items = json_object_object_get(l, "items");
    CHECK_INT(json_object_array_length(items), 3);
    json_object *a0 = json_object_array_get_idx(items, 0),
                *a1 = json_object_array_get_idx(items, 1),
                *a2 = json_object_array_get_idx(items, 2);
    CHECK_STR(jget(a2, "status_code"), "429");
    CHECK_STR(jget(a1, "status"), "failed");
    CHECK(jget(a1, "status_code") == NULL); /* no answer: timed out */
    CHECK(jget(a1, "error") && strstr(jget(a1, "error"), "timed out") != NULL);
    CHECK(json_object_get_int(json_object_object_get(a1, "latency_ms")) >= 450);
    CHECK(json_object_get_int(json_object_object_get(a1, "latency_ms")) < 1400);
    CHECK_STR(jget(a0, "status"), "ok");
    CHECK_STR(jget(a0, "status_code"), "204");
    json_object_put(l);
    /* the second attempt waited for Retry-After (2 s) although the schedule says 0 */
    char ts1[32], ts2[32];
    long long d12 = atoll(hdr(og_fake_get(s_slow, 1), "webhook-timestamp", ts2, sizeof ts2)) -
                    atoll(hdr(og_fake_get(s_slow, 0), "webhook-timestamp", ts1, sizeof ts1));
    CHECK(d12 >= 1 && d12 <= 4);
    delete_sub("slow");
}

static void test_order(void)
{
    /* order fails the first attempt of every event; two sessions interleaved */
    create_sub("order", s_order, "[0,0,0]", 2000);
    for (int i = 0; i < 12; i++) {
        char id[32], text[32];
        snprintf(id, sizeof id, "o-%d", i);
        snprintf(text, sizeof text, "%s %d", i % 2 ? "bob" : "amy", i / 2);
        CHECK_INT(post_msg(id, i % 2 ? "bob-o" : "amy-o", text), 200);
    }
    CHECK(wait_count(s_order, 24, 15000));
    usleep(300000);
    size_t n = og_fake_count(s_order);
    CHECK_INT(n, 24);
    /* per session: event k+1 is first tried only after event k succeeded */
    const char *who[] = {"amy", "bob"};
    for (int w = 0; w < 2; w++) {
        int expect = 0, attempts_of_current = 0, ok = 1;
        for (size_t i = 0; i < n; i++) {
            char *t = msg_text(og_fake_get(s_order, i));
            if (t && strncmp(t, who[w], 3) == 0) {
                int k = atoi(t + 4);
                if (k != expect)
                    ok = 0;
                if (++attempts_of_current == 2) { /* failed once, then ok */
                    expect++;
                    attempts_of_current = 0;
                }
            }
            free(t);
        }
        CHECK(ok);
        CHECK_INT(expect, 6);
    }
    delete_sub("order");
}

static void test_burst(void)
{
    /* 40 events of one session while its first one is in flight: they wait
     * in the session's queue and go out in chains, in order, each once */
    create_sub("burst", s_burst, "[0,0]", 2000);
    for (int i = 0; i < 40; i++) {
        char id[32], text[32];
        snprintf(id, sizeof id, "b-%d", i);
        snprintf(text, sizeof text, "cat %d", i);
        CHECK_INT(post_msg(id, "cat-b", text), 200);
    }
    /* the first is still held by the sink: the rest are queued */
    redisReply *k = redisCommand(rc, "KEYS {og}:wh:burst:q:*");
    CHECK(k && k->type == REDIS_REPLY_ARRAY && k->elements == 1);
    if (k && k->elements == 1) {
        redisReply *l = redisCommand(rc, "LLEN %s", k->element[0]->str);
        CHECK(l && l->integer >= 20);
        freeReplyObject(l);
    }
    freeReplyObject(k);
    CHECK(wait_count(s_burst, 40, 10000));
    usleep(300000);
    size_t n = og_fake_count(s_burst);
    CHECK_INT(n, 40);
    for (size_t i = 0; i < n; i++) {
        char *t = msg_text(og_fake_get(s_burst, i)), want[32];
        snprintf(want, sizeof want, "cat %zu", i);
        CHECK_STR(t, want);
        free(t);
    }
    /* every entry acknowledged, nothing left owing */
    redisReply *o = redisCommand(rc, "HLEN {og}:wh:owe");
    CHECK(o && o->integer == 0);
    freeReplyObject(o);
    delete_sub("burst");
}

static void test_fetch(void)
{
    /* Queue items whose body the dispatcher does not hold: one for an entry
     * the stream no longer has (dead-lettered, nothing sent), then a replay
     * of an entry already delivered (no longer cached: its body is read from
     * the stream and sent byte for byte). */
    create_sub("ghost", s_ghost, "[0]", 2000);
    const char *ev = "{\"id\":\"evt_fetchme\",\"type\":\"test.none\",\"data\":{}}";
    char id[64];
    redisReply *x = redisCommand(rc,
                                 "XADD {og}:events * id evt_fetchme type test.none session "
                                 "ses_ghost event %s",
                                 ev);
    CHECK(x && x->type == REDIS_REPLY_STRING);
    char xid[64];
    snprintf(xid, sizeof xid, "%s", x && x->str ? x->str : "");
    freeReplyObject(x);
    /* only "all" (every type) wants it: once delivered there, its body is
     * no longer cached */
    int seen = 0;
    for (int t = 0; t < 100 && !seen; t++, usleep(50000))
        for (size_t i = 0; i < og_fake_count(s_all) && !seen; i++)
            seen =
                strcmp(hdr(og_fake_get(s_all, i), "webhook-id", id, sizeof id), "evt_fetchme") == 0;
    CHECK(seen);
    usleep(300000);
    /* the gone entry was queued for two subscriptions, the other one is
     * done with it: its dead letter here makes it acknowledged */
    freeReplyObject(redisCommand(rc, "HSET {og}:wh:owe 0-1 1"));
    freeReplyObject(
        redisCommand(rc,
                     "RPUSH {og}:wh:ghost:q:ses_ghost 0-1\t2\tevt_gone\tmessage.received "
                     "r:%s\t0\tevt_fetchme\ttest.none",
                     xid));
    freeReplyObject(redisCommand(rc, "ZADD {og}:wh:due 0 ghost\tses_ghost"));
    CHECK(wait_count(s_ghost, 1, 5000));
    usleep(300000);
    CHECK_INT(og_fake_count(s_ghost), 1);
    const struct og_fake_req *q = og_fake_get(s_ghost, 0);
    CHECK(q && q->body_len == strlen(ev) && memcmp(q->body, ev, q->body_len) == 0);
    if (q) {
        CHECK_STR(hdr(q, "webhook-id", id, sizeof id), "evt_fetchme");
        CHECK(sig_valid(q, WHSEC, NULL));
    }
    wait_deliveries("ghost", "dead", 1);
    json_object *l = NULL;
    CHECK_INT(api("GET", "/webhooks/ghost/deliveries?status=dead", NULL, &l), 200);
    const char *js = json_object_to_json_string(l);
    CHECK(strstr(js, "evt_gone") != NULL);
    CHECK(strstr(js, "no longer in the stream") != NULL);
    json_object_put(l);
    redisReply *o = redisCommand(rc, "HEXISTS {og}:wh:owe 0-1");
    CHECK(o && o->integer == 0);
    freeReplyObject(o);
    o = redisCommand(rc, "LLEN {og}:wh:ghost:q:ses_ghost");
    CHECK(o && o->integer == 0);
    freeReplyObject(o);
    delete_sub("ghost");
}

static void test_rotation(void)
{
    char *body = og_sprintf("{\"id\":\"rot\",\"url\":\"%s/rot\",\"secret\":\"%s\","
                            "\"events\":[\"message.received\"],\"retry_schedule_s\":[0]}",
                            og_fake_base(s_rot), WHSEC);
    json_object *s = NULL;
    CHECK_INT(api("POST", "/webhooks", body, &s), 201);
    CHECK_STR(jget(s, "secret"), WHSEC);
    CHECK_STR(jget(s, "source"), "api");
    json_object_put(s);
    CHECK_INT(api("POST", "/webhooks", body, NULL), 409);
    free(body);
    usleep(600000); /* dispatchers reload within 250 ms */
    CHECK_INT(post_msg("r-1", "rita", "before rotation"), 200);
    CHECK(wait_count(s_rot, 1, 5000));
    int entries = 0;
    CHECK(sig_valid(og_fake_get(s_rot, 0), WHSEC, &entries));
    CHECK_INT(entries, 1);

    CHECK_INT(api("POST", "/webhooks/rot/rotate", "{\"overlap_s\":60}", &s), 200);
    char *b_secret = og_strdup(jget(s, "secret"));
    CHECK(b_secret && strncmp(b_secret, "whsec_", 6) == 0 && strcmp(b_secret, WHSEC) != 0);
    CHECK(jget(s, "previous_secret_valid_until") != NULL);
    json_object_put(s);
    /* the secret is never shown again */
    CHECK_INT(api("GET", "/webhooks/rot", NULL, &s), 200);
    CHECK(jget(s, "secret") == NULL);
    json_object_put(s);
    usleep(600000);
    CHECK_INT(post_msg("r-2", "rita", "during overlap"), 200);
    CHECK(wait_count(s_rot, 2, 5000));
    CHECK(sig_valid(og_fake_get(s_rot, 1), b_secret, &entries));
    CHECK_INT(entries, 2);
    CHECK(sig_valid(og_fake_get(s_rot, 1), WHSEC, NULL));

    CHECK_INT(api("POST", "/webhooks/rot/rotate", "{\"overlap_s\":0}", &s), 200);
    char *c_secret = og_strdup(jget(s, "secret"));
    json_object_put(s);
    usleep(600000);
    CHECK_INT(post_msg("r-3", "rita", "after overlap"), 200);
    CHECK(wait_count(s_rot, 3, 5000));
    CHECK(sig_valid(og_fake_get(s_rot, 2), c_secret, &entries));
    CHECK_INT(entries, 1);
    CHECK(!sig_valid(og_fake_get(s_rot, 2), b_secret, NULL));
    CHECK(!sig_valid(og_fake_get(s_rot, 2), WHSEC, NULL));
    free(b_secret), free(c_secret);
    CHECK_INT(api("POST", "/webhooks/rot/rotate", "{\"secret\":\"whsec_x\"}", NULL), 400);
    CHECK_INT(api("POST", "/webhooks/nope/rotate", "{}", NULL), 404);
}

static void test_dead_and_replay(void)
{
    struct og_fake_resp fail = {500, "no", "text/plain", NULL, 0};
    og_fake_set_default(s_dead, &fail);
    create_sub("dead", s_dead, "[0]", 1000);
    int64_t t0 = og_now_ms();
    CHECK_INT(post_msg("d-1", "dora", "will die"), 200);
    CHECK(wait_count(s_dead, 2, 5000)); /* schedule [0]: 2 attempts */
    wait_deliveries("dead", "dead", 1);
    usleep(300000);
    CHECK_INT(og_fake_count(s_dead), 2);
    json_object *l = NULL;
    CHECK_INT(api("GET", "/webhooks/dead/deliveries?status=dead", NULL, &l), 200);
    json_object *items = json_object_object_get(l, "items");
    CHECK_INT(json_object_array_length(items), 1);
    char *eid = og_strdup(jget(json_object_array_get_idx(items, 0), "event_id"));
    json_object_put(l);
    char id0[64];
    CHECK_STR(eid, hdr(og_fake_get(s_dead, 0), "webhook-id", id0, sizeof id0));
    /* the stream entry was acknowledged (dead-lettered counts as done) */
    usleep(200000);

    struct og_fake_resp ok = {200, "ok", "text/plain", NULL, 0};
    og_fake_set_default(s_dead, &ok);
    char *body = og_sprintf("{\"event_id\":\"%s\"}", eid);
    json_object *r = NULL;
    CHECK_INT(api("POST", "/webhooks/dead/replay", body, &r), 202);
    CHECK_STR(jget(r, "queued"), "1");
    json_object_put(r);
    free(body);
    CHECK(wait_count(s_dead, 3, 5000));
    char id2[64];
    CHECK_STR(hdr(og_fake_get(s_dead, 2), "webhook-id", id2, sizeof id2), eid);
    CHECK(sig_valid(og_fake_get(s_dead, 2), WHSEC, NULL));
    wait_deliveries("dead", "ok", 1);
    CHECK_INT(api("GET", "/webhooks/dead/deliveries?status=ok", NULL, &l), 200);
    CHECK_INT(json_object_array_length(json_object_object_get(l, "items")), 1);
    json_object_put(l);

    /* replay since: every message.received since t0 (one) */
    char since[32];
    og_time_rfc3339(t0, since);
    body = og_sprintf("{\"since\":\"%s\"}", since);
    CHECK_INT(api("POST", "/webhooks/dead/replay", body, &r), 202);
    CHECK_STR(jget(r, "queued"), "1");
    json_object_put(r);
    free(body);
    CHECK(wait_count(s_dead, 4, 5000));
    CHECK_STR(hdr(og_fake_get(s_dead, 3), "webhook-id", id2, sizeof id2), eid);
    /* bad replays */
    CHECK_INT(api("POST", "/webhooks/dead/replay", "{}", NULL), 400);
    CHECK_INT(api("POST", "/webhooks/dead/replay", "{\"event_id\":\"evt_x\"}", NULL), 400);
    CHECK_INT(api("POST", "/webhooks/dead/replay",
                  "{\"event_id\":\"evt_01AAAAAAAAAAAAAAAAAAAAAAAA\"}", NULL),
              404);
    CHECK_INT(api("POST", "/webhooks/dead/replay", "{\"since\":\"yesterday\"}", NULL), 400);
    free(eid);
    delete_sub("dead");
}

/* 503 with Retry-After as an HTTP-date is honoured too. */
static int date_handler(void *ud, const struct og_fake_req *q, struct og_fake_resp *r)
{
    static char hdrs[96];
    int t = count_try(ud, q);
    r->content_type = "text/plain";
    r->body = "";
    r->status = 204;
    if (t == 1) {
        time_t when = time(NULL) + 3;
        struct tm tm;
        gmtime_r(&when, &tm);
        strftime(hdrs, sizeof hdrs, "Retry-After: %a, %d %b %Y %H:%M:%S GMT\n", &tm);
        r->status = 503;
        r->headers = hdrs;
    }
    return 1;
}

static void test_retry_date(void)
{
    struct og_fake *f = og_fake_start();
    struct per_event pe = {.fail_first = 0};
    pthread_mutex_init(&pe.mu, NULL);
    og_fake_set_handler(f, date_handler, &pe);
    create_sub("dated", f, "[0]", 2000);
    CHECK_INT(post_msg("t-1", "tess", "dated retry"), 200);
    CHECK(wait_count(f, 2, 8000));
    char a[32], b[32];
    long long gap = atoll(hdr(og_fake_get(f, 1), "webhook-timestamp", b, sizeof b)) -
                    atoll(hdr(og_fake_get(f, 0), "webhook-timestamp", a, sizeof a));
    CHECK(gap >= 2 && gap <= 5); /* waited for the date although the schedule says 0 */
    wait_deliveries("dated", "ok", 1);
    delete_sub("dated");
    og_fake_stop(f);
    pthread_mutex_destroy(&pe.mu);
}

/* A 3xx is a failure and is never followed. */
static void test_redirect(void)
{
    struct og_fake *redir = og_fake_start(), *target = og_fake_start();
    char *loc = og_sprintf("Location: %s/elsewhere\n", og_fake_base(target));
    struct og_fake_resp r302 = {302, "", "text/plain", loc, 0};
    og_fake_set_default(redir, &r302);
    create_sub("redir", redir, "[0]", 1000);
    CHECK_INT(post_msg("x-1", "xavier", "redirected"), 200);
    CHECK(wait_count(redir, 2, 5000));
    wait_deliveries("redir", "dead", 1);
    usleep(300000);
    CHECK_INT(og_fake_count(redir), 2);
    CHECK_INT(og_fake_count(target), 0);
    json_object *l = NULL;
    CHECK_INT(api("GET", "/webhooks/redir/deliveries", NULL, &l), 200);
    json_object *a0 = json_object_array_get_idx(json_object_object_get(l, "items"), 0);
    CHECK_STR(jget(a0, "status"), "dead");
    CHECK_STR(jget(a0, "status_code"), "302");
    json_object_put(l);
    delete_sub("redir");
    og_fake_stop(redir), og_fake_stop(target);
    free(loc);
}

/* Lines of the consumer's output starting with prefix. */
static int count_lines(const char *path, const char *prefix)
{
    size_t len = 0;
    char *t = og_test_read_file(path, &len);
    int n = 0;
    for (char *p = t; p && *p;) {
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            n++;
        char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
    }
    free(t);
    return n;
}

static int wait_lines(const char *path, const char *prefix, int n, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        if (count_lines(path, prefix) >= n)
            return 1;
        usleep(20000);
    }
    return 0;
}

static long consumer_post(int port, const char *id, long long ts, const char *secret,
                          const char *body)
{
    char sig[128] = "v1,AAAA";
    if (secret)
        og_webhook_sign(secret, id, ts, body, strlen(body), sig, sizeof sig);
    char *h = og_sprintf("webhook-id: %s\nwebhook-timestamp: %lld\nwebhook-signature: %s\n"
                         "Content-Type: application/json",
                         id, ts, sig);
    char *url = og_sprintf("http://127.0.0.1:%d/hook", port);
    struct og_test_resp r = og_test_http("POST", url, h, body, strlen(body));
    free(h), free(url), free(r.body);
    return r.status;
}

/* examples/webhook_consumer against real deliveries, a replay (duplicate),
 * a forged signature and a stale timestamp. */
static void test_consumer(void)
{
    char *dir = og_test_tmpdir();
    char *out = og_sprintf("%s/consumer.out", dir);
    char *bin = og_sprintf("%s/bin/webhook_consumer", OG_BINARY_DIR);
    int port = og_test_free_port();
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    pid_t pid = og_test_fork();
    if (pid == 0) {
        FILE *f = freopen(out, "w", stdout);
        (void)f;
        execl(bin, bin, "--port", ports, "--secret", WHSEC, "--tolerance", "300", (char *)NULL);
        _exit(127);
    }
    CHECK(wait_lines(out, "listening", 1, 5000));
    char *body = og_sprintf("{\"id\":\"cons\",\"url\":\"http://127.0.0.1:%d/hook\","
                            "\"secret\":\"%s\",\"events\":[\"message.received\"],"
                            "\"retry_schedule_s\":[0]}",
                            port, WHSEC);
    CHECK_INT(api("POST", "/webhooks", body, NULL), 201);
    free(body);
    usleep(600000);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "c-%d", i);
        CHECK_INT(post_msg(id, "carl", "to the consumer"), 200);
    }
    CHECK(wait_lines(out, "accepted evt_", 3, 5000));
    wait_deliveries("cons", "ok", 3);
    /* a replay arrives with the same webhook-id: acknowledged, not processed */
    json_object *l = NULL;
    CHECK_INT(api("GET", "/webhooks/cons/deliveries?status=ok", NULL, &l), 200);
    json_object *items = json_object_object_get(l, "items");
    CHECK_INT(json_object_array_length(items), 3);
    char *eid = og_strdup(jget(json_object_array_get_idx(items, 0), "event_id"));
    json_object_put(l);
    char *rb = og_sprintf("{\"event_id\":\"%s\"}", eid);
    CHECK_INT(api("POST", "/webhooks/cons/replay", rb, NULL), 202);
    free(rb);
    CHECK(wait_lines(out, "duplicate evt_", 1, 5000));
    wait_deliveries("cons", "ok", 4);
    CHECK_INT(api("GET", "/webhooks/cons/deliveries?status=ok", NULL, &l), 200);
    CHECK_INT(json_object_array_length(json_object_object_get(l, "items")), 4); /* 200 too */
    json_object_put(l);
    CHECK_INT(count_lines(out, "accepted evt_"), 3);
    /* forged and stale requests are refused; a correct one is accepted */
    long long now = og_now_ms() / 1000;
    CHECK_INT(consumer_post(port, "evt_forged", now, NULL, "{}"), 401);
    CHECK_INT(
        consumer_post(port, "evt_wrongkey", now, "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "{}"),
        401);
    CHECK_INT(consumer_post(port, "evt_stale", now - 1000, WHSEC, "{}"), 401);
    CHECK_INT(consumer_post(port, "evt_fresh", now, WHSEC, "{\"x\":1}"), 204);
    CHECK_INT(count_lines(out, "rejected bad-signature"), 2);
    CHECK_INT(count_lines(out, "rejected timestamp-out-of-tolerance"), 1);
    CHECK_INT(count_lines(out, "accepted evt_fresh"), 1);
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    delete_sub("cons");
    free(eid), free(out), free(bin);
    og_test_rmdir(dir);
    free(dir);
}

static void test_api(void)
{
    json_object *l = NULL;
    CHECK_INT(api("GET", "/webhooks", NULL, &l), 200);
    json_object *items = json_object_object_get(l, "items");
    CHECK(json_object_array_length(items) >= 3); /* all, gone, rot */
    for (size_t i = 0; i < json_object_array_length(items); i++)
        CHECK(jget(json_object_array_get_idx(items, i), "secret") == NULL);
    CHECK(strstr(json_object_to_json_string(l), "whsec_") == NULL);
    json_object_put(l);

    /* validation: nothing stored on bad input */
    json_object *e = NULL;
    CHECK_INT(api("POST", "/webhooks", "{\"url\":\"http://x/\",\"events\":[\"nope.nope\"]}", &e),
              400);
    CHECK(strstr(json_object_to_json_string(e), "events[0]") != NULL);
    json_object_put(e);
    CHECK_INT(api("POST", "/webhooks", "{\"url\":\"ftp://x/\"}", NULL), 400);
    CHECK_INT(api("POST", "/webhooks", "{\"url\":\"http://x/\",\"from_config\":true}", NULL), 400);
    CHECK_INT(api("POST", "/webhooks", "not json", NULL), 400);
    CHECK_INT(api("GET", "/webhooks", NULL, &l), 200);
    size_t before = json_object_array_length(json_object_object_get(l, "items"));
    json_object_put(l);

    /* create without id/secret: both generated */
    json_object *s = NULL;
    CHECK_INT(api("POST", "/webhooks", "{\"url\":\"http://127.0.0.1:1/x\"}", &s), 201);
    char *id = og_strdup(jget(s, "id"));
    unsigned char key[64];
    CHECK(og_webhook_secret_decode(jget(s, "secret"), key) == 32);
    json_object_put(s);
    char *path = og_sprintf("/webhooks/%s", id);
    CHECK_INT(api("PATCH", path, "{\"events\":[\"session.closed\"],\"timeout_ms\":1000}", &s), 200);
    CHECK_STR(json_object_to_json_string(json_object_object_get(s, "events")),
              "[ \"session.closed\" ]");
    json_object_put(s);
    CHECK_INT(api("PATCH", path, "{\"timeout_ms\":5}", NULL), 400);
    CHECK_INT(api("PATCH", path, "{\"secret\":\"" WHSEC "\"}", NULL), 400); /* rotate instead */
    CHECK_INT(api("DELETE", path, NULL, NULL), 200);
    CHECK_INT(api("GET", path, NULL, NULL), 404);
    CHECK_INT(api("DELETE", path, NULL, NULL), 404);
    CHECK_INT(api("DELETE", "/webhooks/all", NULL, NULL), 409); /* from the config */
    CHECK_INT(api("GET", "/webhooks", NULL, &l), 200);
    CHECK_INT(json_object_array_length(json_object_object_get(l, "items")), before);
    json_object_put(l);
    free(path), free(id);

    /* admin only */
    char *url = og_sprintf("%s/api/v1/webhooks", d.base);
    struct og_test_resp r = og_test_http("GET", url, NULL, NULL, 0);
    CHECK_INT(r.status, 401);
    free(r.body), free(url);
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    rc = redisConnect("127.0.0.1", rs.port);
    s_all = og_fake_start(), s_flaky = og_fake_start(), s_gone = og_fake_start();
    s_slow = og_fake_start(), s_dead = og_fake_start(), s_order = og_fake_start();
    s_rot = og_fake_start(), s_burst = og_fake_start(), s_ghost = og_fake_start();
    pthread_mutex_init(&pe_flaky.mu, NULL);
    pthread_mutex_init(&pe_burst.mu, NULL);
    og_fake_set_handler(s_burst, hold_first_handler, &pe_burst);
    pthread_mutex_init(&pe_slow.mu, NULL);
    pthread_mutex_init(&pe_order.mu, NULL);
    pe_flaky.fail_first = 2;
    pe_order.fail_first = 1;
    og_fake_set_handler(s_flaky, fail_first_handler, &pe_flaky);
    og_fake_set_handler(s_order, fail_first_handler, &pe_order);
    og_fake_set_handler(s_slow, slow_handler, &pe_slow);
    struct og_fake_resp gone = {410, "gone", "text/plain", NULL, 0};
    og_fake_set_default(s_gone, &gone);

    const char *channels = "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{"
                           "\"secret\":\"" SECRET "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]";
    char *extra =
        og_sprintf("\"webhooks\":["
                   "{\"id\":\"all\",\"url\":\"%s/all\",\"secret\":\"" WHSEC "\",\"events\":[\"*\"],"
                   "\"retry_schedule_s\":[0,1]},"
                   "{\"id\":\"gone\",\"url\":\"%s/g\",\"secret\":\"" WHSEC "\","
                   "\"events\":[\"message.received\"]}],"
                   "\"webhook_dispatch\":{\"concurrency\":16}",
                   og_fake_base(s_all), og_fake_base(s_gone));
    if (og_test_daemon_start(&d, rs.url, channels, extra) != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    free(extra);

    /* each sink only sees its own events: the tests use different users */
    test_all_events();
    test_flaky();
    test_gone();
    test_slow();
    test_order();
    test_burst();
    test_fetch();
    test_rotation();
    test_dead_and_replay();
    test_consumer();
    test_redirect();
    test_retry_date();
    test_api();

    /* everything delivered or dead-lettered: nothing left pending */
    int pending_zero = 0;
    for (int i = 0; i < 100 && !pending_zero; i++) {
        pending_zero = xpending() == 0;
        usleep(50000);
    }
    CHECK(pending_zero);

    /* /metrics counts the attempts by outcome: all three happened above */
    char *murl = og_sprintf("%s/metrics", d.base);
    struct og_test_resp m = og_test_http("GET", murl, NULL, NULL, 0);
    unsigned long long ok = 0, retry = 0, dead = 0;
    const char *p = strstr(m.body, "omnigate_webhook_attempts_total{outcome=\"ok\"} ");
    if (p)
        sscanf(p,
               "omnigate_webhook_attempts_total{outcome=\"ok\"} %llu\n"
               "omnigate_webhook_attempts_total{outcome=\"retry\"} %llu\n"
               "omnigate_webhook_attempts_total{outcome=\"dead\"} %llu",
               &ok, &retry, &dead);
    CHECK(ok > 0 && retry > 0 && dead > 0);
    free(m.body), free(murl);

    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    redisFree(rc);
    og_fake_stop(s_all), og_fake_stop(s_flaky), og_fake_stop(s_gone), og_fake_stop(s_slow);
    og_fake_stop(s_dead), og_fake_stop(s_order), og_fake_stop(s_rot);
    og_fake_stop(s_burst), og_fake_stop(s_ghost);
    og_test_redis_stop(&rs);
    return og_test_done();
}
