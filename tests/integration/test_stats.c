/* test_stats - statistics (#20) through the running daemon on a real
 * redis-server, with a scripted day on the test clock (OMNIGATE_TEST_CLOCK:
 * the daemon's og_now_ms reads the file this test writes before each step).
 *
 * The day, 2030-06-14 (D), UTC, two signed_json channels "demo" (goal SALE,
 * 1 day) and "shop", a manual routing policy (agents take sessions), agents
 * Ann (group vip) and Bob, manager Meg; created at D-1 20:00:
 *   08:00 Ann online; 09:00 Bob online; 12:30 Ann away; 12:55 Ann online;
 *   17:00 Bob offline; 18:00 Ann offline; the clock ends at D+1 06:00.
 *   S1 demo c1: 09:10:00 in, 09:10:30 Ann takes, 09:11:00 out, 09:12:00 in,
 *      09:12:20 out, 09:20:00 closed [SALE] (goal achieved).
 *   S2 shop c2: 10:00:00 in, 10:00:10 Bob takes, 10:02:00 out, 10:05:00 Bob
 *      transfers to group vip, 10:05:30 Ann takes, 10:06:00 in, 10:06:45 out,
 *      10:30:00 closed [SALE, UPSELL].
 *   S4 demo c4: 11:00:00 in, 11:00:05 Ann takes, 11:01:05 out, 11:05:05
 *      closed [INFO]; 13:00:00 Ann starts a conversation with c4 (proactive,
 *      the session reopens), 13:30:00 in, 13:31:00 out, 13:40:00 closed [SALE].
 *   S3 demo c3: 21:50:00 in, nobody answers, 22:40:00 the admin closes it
 *      (missed; in Berlin that is D+1 00:40).
 * Every figure is asserted against values computed by hand (in the
 * comments) for UTC, Europe/Berlin (UTC+2) and Asia/Kolkata (UTC+5:30: a
 * local day is the UTC hours starting in it, D-1 19:00 to D 19:00 UTC);
 * then roles and bad input; then `omnigate stats rebuild` deletes every
 * hourly counter and counts again from the stored sessions and presence
 * intervals: every hash equals the live one, field for field. Then the CSV
 * exports, parsed back (RFC 4180) and compared with the day and with
 * GET /stats; report links (scope, no other report or parameter, forged
 * and revoked tokens, the hourly limit, uses logged). Then the write path
 * (#22): facts pending with no worker are applied by the read, in bulk as
 * one by one, never twice when two apply at once; the daemon's worker
 * empties the list by itself. */
#include "og_core.h"
#include "og_stats.h"
#include "og_test.h"
#include "og_util.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"

static struct og_test_redis rs;
static struct og_test_daemon d;
static struct og_fake *plat;
static char clock_path[512];
static char ann[48], ann_tok[80], bob[48], bob_tok[80], meg[48], meg_tok[80];

/* D = 2030-06-14 00:00 UTC in ms */
#define D_MS 1907625600000LL
static int64_t T(int day, int h, int m, int s)
{
    return D_MS + (int64_t)day * 86400000 + ((int64_t)h * 3600 + m * 60 + s) * 1000;
}

static void clock_set(int64_t ms)
{
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", clock_path);
    FILE *f = fopen(tmp, "w");
    fprintf(f, "%lld", (long long)ms);
    fclose(f);
    rename(tmp, clock_path); /* whole or nothing for the daemon's reads */
}

static json_object *api(const char *token, const char *method, const char *path, const char *body,
                        long *status)
{
    char *url = og_sprintf("%s/api/v1%s", d.base, path);
    char *h = og_sprintf("Authorization: Bearer %s\nContent-Type: application/json",
                         token ? token : OG_TEST_ADMIN_TOKEN);
    struct og_test_resp r = og_test_http(method, url, h, body, body ? strlen(body) : 0);
    *status = r.status;
    json_object *j = json_tokener_parse(r.body);
    free(url), free(h), free(r.body);
    return j;
}

static long call(const char *token, const char *method, const char *path, const char *body)
{
    long st;
    json_object *j = api(token, method, path, body, &st);
    if (st >= 300)
        fprintf(stderr, "  %s %s: %ld %s\n", method, path, st,
                j ? json_object_to_json_string(j) : "");
    json_object_put(j);
    return st;
}

/* A value at a path of keys ("total.csat.avg"): strings as they are, JSON
 * null "null", others their JSON text, "" when absent. [borrowed from o] */
static const char *at(json_object *o, const char *path)
{
    char key[64];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        if (!json_object_object_get_ex(o, key, &o))
            return "";
        path += n + (path[n] == '.');
        if (!o)
            return *path ? "" : "null";
    }
    if (!o)
        return "null";
    return json_object_is_type(o, json_type_string)
               ? json_object_get_string(o)
               : json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

static void customer(int64_t ms, const char *ch, const char *user, const char *text, char *sid)
{
    static int n;
    clock_set(ms);
    char *b = og_sprintf("{\"id\":\"evt-%s-%d\",\"from\":{\"id\":\"%s\",\"name\":\"Name %s\"},"
                         "\"text\":\"%s\"}",
                         user, ++n, user, user, text);
    CHECK_INT(og_test_post_signed(&d, ch, SECRET, b, strlen(b)), 200);
    free(b);
    if (sid) {
        char *s = og_test_redis_line(&rs, OG_TEST_BUCKET("HGET") "{og}:th:%s: %s", ch, user);
        snprintf(sid, 48, "%s", s);
        free(s);
    }
}

static void at_time(int64_t ms, const char *tok, const char *method, const char *fmt,
                    const char *sid, const char *body, long want)
{
    clock_set(ms);
    char *path = og_sprintf(fmt, sid);
    CHECK_INT(call(tok, method, path, body), want);
    free(path);
}
static void take(int64_t ms, const char *tok, const char *sid)
{
    at_time(ms, tok, "POST", "/sessions/%s/assign", sid, NULL, 200);
}
static void reply(int64_t ms, const char *tok, const char *sid)
{
    at_time(ms, tok, "POST", "/sessions/%s/messages", sid, "{\"text\":\"Let me help\"}", 202);
}
static void close_with(int64_t ms, const char *tok, const char *sid, const char *codes)
{
    char *b = og_sprintf("{\"reason\":\"solved\",\"success_codes\":%s}", codes);
    at_time(ms, tok, "POST", "/sessions/%s/close", sid, b, 200);
    free(b);
}
static void presence(int64_t ms, const char *id, const char *tok, const char *st)
{
    char *b = og_sprintf("{\"status\":\"%s\"}", st);
    at_time(ms, tok, "PUT", "/agents/%s/presence", id, b, 200);
    free(b);
}

static void agent(const char *body, char *id, char *tok)
{
    long st;
    json_object *j = api(NULL, "POST", "/agents", body, &st);
    CHECK_INT(st, 201);
    snprintf(id, 48, "%s", at(j, "agent.id"));
    snprintf(tok, 80, "%s", at(j, "token"));
    json_object_put(j);
}

static char s1[48], s2[48], s3[48], s4[48], sw[48];

static void script_day(void)
{
    clock_set(T(-1, 20, 0, 0));
    agent("{\"name\":\"Ann\",\"email\":\"ann@o.io\",\"groups\":[\"desk\",\"vip\"]}", ann, ann_tok);
    agent("{\"name\":\"Bob\",\"email\":\"bob@o.io\",\"groups\":[\"desk\"]}", bob, bob_tok);
    agent("{\"name\":\"Meg\",\"email\":\"meg@o.io\",\"role\":\"manager\"}", meg, meg_tok);
    clock_set(T(-1, 21, 0, 0));
    CHECK_INT(call(meg_tok, "PUT", "/channels/demo/goal", "{\"event\":\"SALE\",\"window_days\":1}"),
              200);
    presence(T(0, 8, 0, 0), ann, ann_tok, "online");
    presence(T(0, 9, 0, 0), bob, bob_tok, "online");

    customer(T(0, 9, 10, 0), "demo", "c1", "hi", s1);
    take(T(0, 9, 10, 30), ann_tok, s1);
    reply(T(0, 9, 11, 0), ann_tok, s1);
    customer(T(0, 9, 12, 0), "demo", "c1", "and?", NULL);
    reply(T(0, 9, 12, 20), ann_tok, s1);
    close_with(T(0, 9, 20, 0), ann_tok, s1, "[\"SALE\"]");

    customer(T(0, 10, 0, 0), "shop", "c2", "price?", s2);
    take(T(0, 10, 0, 10), bob_tok, s2);
    reply(T(0, 10, 2, 0), bob_tok, s2);
    at_time(T(0, 10, 5, 0), bob_tok, "POST", "/sessions/%s/transfer", s2, "{\"group\":\"vip\"}",
            200);
    take(T(0, 10, 5, 30), ann_tok, s2);
    customer(T(0, 10, 6, 0), "shop", "c2", "ok", NULL);
    reply(T(0, 10, 6, 45), ann_tok, s2);
    close_with(T(0, 10, 30, 0), ann_tok, s2, "[\"UPSELL\",\"SALE\"]");

    customer(T(0, 11, 0, 0), "demo", "c4", "order?", s4);
    take(T(0, 11, 0, 5), ann_tok, s4);
    reply(T(0, 11, 1, 5), ann_tok, s4);
    close_with(T(0, 11, 5, 5), ann_tok, s4, "[\"INFO\"]");

    presence(T(0, 12, 30, 0), ann, ann_tok, "away");
    presence(T(0, 12, 55, 0), ann, ann_tok, "online");
    clock_set(T(0, 13, 0, 0));
    char cid[48];
    char *c = og_test_redis_line(&rs, "HGET {og}:ses:%s contact_id", s4);
    snprintf(cid, sizeof cid, "%s", c);
    free(c);
    char *b = og_sprintf("{\"channel\":\"demo\",\"contact_id\":\"%s\",\"text\":\"News!\"}", cid);
    CHECK_INT(call(ann_tok, "POST", "/sessions", b), 201);
    free(b);
    customer(T(0, 13, 30, 0), "demo", "c4", "tell me", NULL);
    reply(T(0, 13, 31, 0), ann_tok, s4);
    close_with(T(0, 13, 40, 0), ann_tok, s4, "[\"SALE\"]");

    presence(T(0, 17, 0, 0), bob, bob_tok, "offline");
    presence(T(0, 18, 0, 0), ann, ann_tok, "offline");

    customer(T(0, 21, 50, 0), "demo", "c3", "anyone?", s3);
    close_with(T(0, 22, 40, 0), NULL, s3, "[]");

    /* D+2: a web chat visitor rates Ann 4 of 5 after the close */
    clock_set(T(2, 10, 0, 0));
    char *url = og_sprintf("%s/webchat/site/start", d.base);
    const char *h = "Origin: http://shop.test\nContent-Type: application/json";
    const char *sb = "{\"name\":\"Wanda\",\"question\":\"hello?\"}";
    struct og_test_resp r = og_test_http("POST", url, h, sb, strlen(sb));
    CHECK_INT(r.status, 201);
    json_object *j = json_tokener_parse(r.body);
    char wtok[128];
    snprintf(sw, sizeof sw, "%s", at(j, "session.id"));
    snprintf(wtok, sizeof wtok, "%s", at(j, "token"));
    json_object_put(j);
    free(r.body), free(url);
    take(T(2, 10, 0, 20), ann_tok, sw);
    reply(T(2, 10, 1, 0), ann_tok, sw);
    close_with(T(2, 10, 5, 0), ann_tok, sw, "[]");
    clock_set(T(2, 10, 6, 0));
    url = og_sprintf("%s/webchat/site/csat", d.base);
    char *hh = og_sprintf("Origin: http://shop.test\nContent-Type: application/json\n"
                          "Authorization: Bearer %s",
                          wtok);
    r = og_test_http("POST", url, hh, "{\"score\":4}", 11);
    CHECK_INT(r.status, 201);
    if (r.status != 201)
        fprintf(stderr, "  csat: %s\n", r.body);
    free(r.body), free(url), free(hh);

    /* D+3: the queue over time (test_queue). q1 (demo) waits from 08:30, q2
     * (shop) from 08:50, q3 (demo) from 09:10: three at once; Ann takes q1 at
     * 09:20, Bob q2 at 09:40, the admin closes q3 at 10:15 (65 min); q4
     * (demo) waits from 11:00 on */
    char q1[48], q2[48], q3[48];
    customer(T(3, 8, 30, 0), "demo", "q1", "hello", q1);
    customer(T(3, 8, 50, 0), "shop", "q2", "hello", q2);
    customer(T(3, 9, 10, 0), "demo", "q3", "hello", q3);
    take(T(3, 9, 20, 0), ann_tok, q1);
    take(T(3, 9, 40, 0), bob_tok, q2);
    close_with(T(3, 10, 15, 0), NULL, q3, "[]");
    close_with(T(3, 10, 30, 0), ann_tok, q1, "[]");
    close_with(T(3, 10, 30, 0), bob_tok, q2, "[]");
    customer(T(3, 11, 0, 0), "demo", "q4", "still there?", NULL);
    clock_set(T(1, 6, 0, 0));
}

static json_object *stats(const char *tok, const char *query, long want)
{
    long st;
    char *p = og_sprintf("/stats?%s", query);
    json_object *j = api(tok, "GET", p, NULL, &st);
    if (st != want)
        fprintf(stderr, "  /stats?%s: %ld %s\n", query, st, j ? json_object_to_json_string(j) : "");
    CHECK_INT(st, want);
    free(p);
    return j;
}

/* A number at path equals want (to the thousandth), or is null for want < 0. */
static void num_is(json_object *j, const char *path, double want, int line)
{
    const char *v = at(j, path);
    int ok = want < 0 ? !strcmp(v, "null") : (*v && fabs(strtod(v, NULL) - want) < 0.0006);
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  line %d: %s is '%s', want %g\n", line, path, v, want);
}
#define NUM(j, path, want) num_is(j, path, want, __LINE__)

/* The bucket with key. [borrowed from j] */
static json_object *bucket(json_object *j, const char *key)
{
    json_object *bs = NULL;
    json_object_object_get_ex(j, "buckets", &bs);
    for (size_t i = 0; bs && i < json_object_array_length(bs); i++) {
        json_object *b = json_object_array_get_idx(bs, i);
        if (!strcmp(at(b, "key"), key))
            return b;
    }
    fprintf(stderr, "  no bucket %s\n", key);
    return NULL;
}

static size_t n_buckets(json_object *j)
{
    json_object *bs = NULL;
    json_object_object_get_ex(j, "buckets", &bs);
    return bs ? json_object_array_length(bs) : 0;
}

static void test_utc(void)
{
    json_object *j = stats(meg_tok, "from=2030-06-14&to=2030-06-14", 200);
    CHECK_STR(at(j, "tz"), "UTC");
    CHECK_STR(at(j, "group_by"), "day");
    CHECK_INT(n_buckets(j), 1);
    json_object *t = NULL;
    json_object_object_get_ex(j, "total", &t);
    NUM(t, "chats", 5);     /* S1, S2, S4 twice, S3 */
    NUM(t, "proactive", 1); /* S4's second episode */
    NUM(t, "reactive", 4);
    NUM(t, "messages_in", 7);
    NUM(t, "messages_out", 7);
    NUM(t, "transfers", 1);
    NUM(t, "auto_forwards", 0);
    NUM(t, "missed", 1);                   /* S3 */
    NUM(t, "avg_duration_s", 1621);        /* (600 + 1800 + 305 + 2400 + 3000) / 5 */
    NUM(t, "avg_first_response_s", 76.25); /* (60 + 120 + 65 + 60) / 4 */
    NUM(t, "avg_response_s", 61.667);      /* (60 + 20 + 120 + 45 + 65 + 60) / 6 */
    NUM(t, "p90_response_s", 120);         /* the 6th of 6 is 120 s: the bucket up to 120 */
    NUM(t, "avg_resolution_s", 1261);      /* (600 + 1800 + 305 + 600 + 3000) / 5 */
    NUM(t, "csat.count", 0);
    NUM(t, "csat.avg", -1);
    NUM(t, "success_codes.SALE", 3);
    NUM(t, "success_codes.UPSELL", 1);
    NUM(t, "success_codes.INFO", 1);
    NUM(t, "goals.closed", 4);   /* demo's closes: S1, S4 twice, S3 */
    NUM(t, "goals.achieved", 2); /* S1 and S4's second, by the code SALE */
    NUM(t, "goals.rate", 0.5);
    CHECK_STR(at(t, "online_s"), ""); /* presence only with group_by=agent */
    json_object *b = bucket(j, "2030-06-14");
    NUM(b, "chats", 5);
    NUM(b, "avg_duration_s", 1621);
    json_object_put(j);

    /* per hour: 24 buckets, empty ones with zeros */
    j = stats(meg_tok, "from=2030-06-14&to=2030-06-14&group_by=hour", 200);
    CHECK_INT(n_buckets(j), 24);
    NUM(bucket(j, "2030-06-14T09"), "chats", 1);
    NUM(bucket(j, "2030-06-14T09"), "messages_in", 2);
    NUM(bucket(j, "2030-06-14T09"), "avg_response_s", 40); /* (60 + 20) / 2 */
    NUM(bucket(j, "2030-06-14T22"), "missed", 1);
    NUM(bucket(j, "2030-06-14T03"), "chats", 0);
    NUM(bucket(j, "2030-06-14T03"), "avg_duration_s", -1);
    json_object_put(j);

    /* per agent, with presence time over the UTC day */
    j = stats(meg_tok, "from=2030-06-14&to=2030-06-14&group_by=agent", 200);
    CHECK_INT(n_buckets(j), 3); /* Ann, Bob, Meg, each present */
    b = bucket(j, ann);
    NUM(b, "chats", 4);
    NUM(b, "messages_out", 6);
    NUM(b, "messages_in", 3);     /* 09:12, 10:06, 13:30: while hers */
    NUM(b, "avg_response_s", 50); /* (60 + 20 + 45 + 65 + 60) / 5 */
    NUM(b, "transfers", 0);
    NUM(b, "online_s", 34500); /* 08:00-12:30, 12:55-18:00 */
    NUM(b, "away_s", 1500);
    NUM(b, "offline_s", 50400); /* 00:00-08:00, 18:00-24:00 */
    b = bucket(j, bob);
    NUM(b, "chats", 0);
    NUM(b, "transfers", 1);
    NUM(b, "messages_out", 1);
    NUM(b, "avg_response_s", 120);
    NUM(b, "online_s", 28800);
    NUM(b, "offline_s", 57600);
    b = bucket(j, meg);
    NUM(b, "offline_s", 86400);
    NUM(b, "chats", 0);
    json_object_put(j);

    /* per channel and group, filters */
    j = stats(meg_tok, "from=2030-06-14&to=2030-06-14&group_by=channel", 200);
    CHECK_INT(n_buckets(j), 3);
    NUM(bucket(j, "site"), "chats", 0);
    NUM(bucket(j, "demo"), "chats", 4);
    NUM(bucket(j, "shop"), "chats", 1);
    NUM(bucket(j, "shop"), "success_codes.UPSELL", 1);
    json_object_put(j);
    j = stats(meg_tok, "from=2030-06-14&to=2030-06-14&group_by=group", 200);
    NUM(bucket(j, "vip"), "chats", 1);       /* S2, taken from the group's queue */
    NUM(bucket(j, "vip"), "messages_in", 1); /* 10:06 */
    json_object_put(j);
    j = stats(meg_tok, "from=2030-06-14&to=2030-06-14&success_code=SALE", 200);
    NUM(bucket(j, "2030-06-14"), "chats", 3);
    NUM(bucket(j, "2030-06-14"), "avg_duration_s", 1600); /* (600 + 1800 + 2400) / 3 */
    NUM(bucket(j, "2030-06-14"), "goals.achieved", 2);
    json_object_put(j);
    j = stats(meg_tok, "from=2030-06-14&to=2030-06-14&channel=shop&agent_id=", 400);
    json_object_put(j);
    char *q = og_sprintf("from=2030-06-14&to=2030-06-14&channel=demo&agent_id=%s", ann);
    j = stats(meg_tok, q, 200);
    NUM(j, "total.chats", 3);                     /* S1, S4 twice */
    NUM(j, "total.avg_first_response_s", 61.667); /* (60 + 65 + 60) / 3 */
    json_object_put(j);
    free(q);
}

static void test_zones(void)
{
    /* Berlin, UTC+2: D is 2030-06-13 22:00 to 06-14 22:00 UTC; S3's close at
     * 22:40 UTC is D+1 00:40 there, its message (21:50) still D */
    json_object *j = stats(meg_tok, "from=2030-06-14&to=2030-06-15&tz=Europe/Berlin", 200);
    CHECK_STR(at(j, "tz"), "Europe/Berlin");
    CHECK_INT(n_buckets(j), 2);
    json_object *b = bucket(j, "2030-06-14");
    NUM(b, "chats", 4);
    NUM(b, "missed", 0);
    NUM(b, "messages_in", 7);
    NUM(b, "avg_duration_s", 1276.25);  /* (600 + 1800 + 305 + 2400) / 4 */
    NUM(b, "avg_resolution_s", 826.25); /* (600 + 1800 + 305 + 600) / 4 */
    NUM(b, "goals.closed", 3);
    NUM(b, "goals.rate", 0.667);
    b = bucket(j, "2030-06-15");
    NUM(b, "chats", 1);
    NUM(b, "missed", 1);
    NUM(b, "messages_in", 0);
    NUM(b, "avg_duration_s", 3000);
    json_object_put(j);
    j = stats(meg_tok, "from=2030-06-14&to=2030-06-14&tz=Europe/Berlin&group_by=hour", 200);
    CHECK_INT(n_buckets(j), 24);
    NUM(bucket(j, "2030-06-14T11"), "chats", 1);       /* S1 at 09:20 UTC */
    NUM(bucket(j, "2030-06-14T23"), "messages_in", 1); /* S3 at 21:50 UTC */
    json_object_put(j);
    j = stats(meg_tok, "from=2030-06-14&to=2030-06-14&tz=Europe/Berlin&group_by=agent", 200);
    NUM(bucket(j, ann), "offline_s", 50400); /* 22:00-08:00, 18:00-22:00 UTC */
    NUM(bucket(j, ann), "online_s", 34500);
    NUM(bucket(j, bob), "offline_s", 57600);
    json_object_put(j);

    /* Kolkata, UTC+5:30: D is the UTC hours 2030-06-13 19:00 to 06-14 18:00
     * (local 00:30 to 00:30); S3 (21:50, 22:40 UTC) falls on D+1 */
    j = stats(meg_tok, "from=2030-06-14&to=2030-06-15&tz=Asia/Kolkata", 200);
    b = bucket(j, "2030-06-14");
    NUM(b, "chats", 4);
    NUM(b, "messages_in", 6);
    NUM(b, "missed", 0);
    NUM(b, "avg_first_response_s", 76.25);
    b = bucket(j, "2030-06-15");
    NUM(b, "chats", 1);
    NUM(b, "messages_in", 1);
    NUM(b, "missed", 1);
    json_object_put(j);
    j = stats(meg_tok, "from=2030-06-14&to=2030-06-14&tz=Asia/Kolkata&group_by=hour", 200);
    CHECK_INT(n_buckets(j), 24);
    NUM(bucket(j, "2030-06-14T14"), "chats", 1); /* the UTC hour 09:00 starts at 14:30 */
    NUM(bucket(j, "2030-06-14T14"), "messages_in", 2);
    NUM(bucket(j, "2030-06-14T00"), "chats", 0);
    json_object_put(j);
    j = stats(meg_tok, "from=2030-06-14&to=2030-06-14&tz=Asia/Kolkata&group_by=agent", 200);
    /* 20:00 (created) to 08:00 and 18:00 to 19:00 UTC */
    NUM(bucket(j, ann), "offline_s", 46800);
    NUM(bucket(j, ann), "online_s", 34500);
    NUM(bucket(j, bob), "offline_s", 54000); /* 20:00-09:00, 17:00-19:00 */
    json_object_put(j);
}

/* D+2: the web chat session and its rating */
static void test_csat(void)
{
    json_object *j = stats(meg_tok, "from=2030-06-16&to=2030-06-16&group_by=agent", 200);
    NUM(j, "total.chats", 1);
    NUM(j, "total.csat.count", 1);
    NUM(j, "total.csat.avg", 4);
    NUM(j, "total.csat.distribution.4", 1);
    NUM(j, "total.csat.distribution.5", 0);
    NUM(bucket(j, ann), "csat.count", 1);
    NUM(bucket(j, ann), "avg_first_response_s", 60);
    NUM(bucket(j, bob), "csat.count", 0);
    json_object_put(j);
    j = stats(meg_tok, "from=2030-06-14&to=2030-06-14", 200);
    NUM(j, "total.csat.count", 0); /* not on D */
    json_object_put(j);
    j = stats(meg_tok, "from=2030-06-16&to=2030-06-16&group_by=channel", 200);
    CHECK_INT(n_buckets(j), 3); /* demo, shop, site: configured ones are present */
    NUM(bucket(j, "site"), "csat.avg", 4);
    NUM(bucket(j, "demo"), "chats", 0);
    json_object_put(j);
}

static void test_roles_and_input(void)
{
    /* an agent sees only its own figures */
    json_object *j = stats(bob_tok, "from=2030-06-14&to=2030-06-14&group_by=agent", 200);
    CHECK_INT(n_buckets(j), 1);
    NUM(bucket(j, bob), "transfers", 1);
    NUM(j, "total.chats", 0);
    NUM(j, "total.messages_out", 1);
    json_object_put(j);
    j = stats(ann_tok, "from=2030-06-14&to=2030-06-14", 200);
    NUM(j, "total.chats", 4);
    json_object_put(j);
    char *q = og_sprintf("from=2030-06-14&to=2030-06-14&agent_id=%s", ann);
    json_object_put(stats(bob_tok, q, 403));
    free(q);
    long st;
    char *url = og_sprintf("%s/api/v1/stats?from=2030-06-14&to=2030-06-14", d.base);
    struct og_test_resp r = og_test_http("GET", url, NULL, NULL, 0);
    CHECK_INT(r.status, 401);
    free(r.body), free(url);
    const char *bad[] = {"from=2030-06-15&to=2030-06-14",
                         "from=2030-01-01&to=2031-02-05",
                         "from=2030-06-14&to=2030-06-14&tz=Mars/Olympus",
                         "from=2030-06-14&to=2030-06-14&tz=../../etc/passwd",
                         "from=2030-06-14&to=2030-06-14&group_by=week",
                         "from=2030-06-14&to=2030-06-14&colour=red",
                         "from=2030-06-31&to=2030-07-01",
                         "to=2030-06-14",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        j = stats(meg_tok, bad[i], 400);
        CHECK(*at(j, "error.message"));
        json_object_put(j);
    }
    j = api(meg_tok, "GET", "/stats?from=2030-06-15&to=2030-06-14", NULL, &st);
    CHECK(strstr(at(j, "error.message"), "after") != NULL);
    json_object_put(j);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every hourly counter of deployment tag ({og}) as sorted "key field value"
 * lines; sets (the days' tuple sets, with sets != 0) as "key member". [xfer] */
static char *dump_counters_of(const char *tag, int sets, size_t *n_fields)
{
    char *args = og_sprintf("--raw KEYS %s:st:[hbdqt%s]:*", tag, sets ? "u" : "");
    char *keys = og_test_redis_cli(&rs, args);
    free(args);
    char **lines = NULL;
    size_t n = 0;
    for (char *k = strtok(keys, "\n"); k; k = strtok(NULL, "\n")) {
        if (strstr(k, ":st:u:")) {
            args = og_sprintf("--raw SMEMBERS %s", k);
            char *m = og_test_redis_cli(&rs, args);
            free(args);
            char *save = NULL;
            for (char *f = strtok_r(m, "\n", &save); f; f = strtok_r(NULL, "\n", &save)) {
                lines = og_realloc(lines, (n + 1) * sizeof *lines);
                lines[n++] = og_sprintf("%s %s", k, f);
            }
            free(m);
            continue;
        }
        args = og_sprintf("--raw HGETALL %s", k);
        char *h = og_test_redis_cli(&rs, args);
        free(args);
        char *save = NULL, *f = strtok_r(h, "\n", &save);
        while (f) {
            char *v = strtok_r(NULL, "\n", &save);
            lines = og_realloc(lines, (n + 1) * sizeof *lines);
            lines[n++] = og_sprintf("%s %s %s", k, f, v ? v : "");
            f = strtok_r(NULL, "\n", &save);
        }
        free(h);
    }
    free(keys);
    qsort(lines, n, sizeof *lines, cmp_str);
    struct og_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        og_buf_printf(&b, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
    *n_fields = n;
    return b.data ? b.data : og_strdup("");
}

static char *dump_counters(size_t *n_fields)
{
    return dump_counters_of("{og}", 0, n_fields);
}

static void test_rebuild(void)
{
    size_t n_live = 0, n_again = 0;
    /* the read applies what is pending: the live counters are complete */
    json_object *before = stats(meg_tok, "from=2030-06-13&to=2030-06-15&tz=Asia/Kolkata", 200);
    char *live = dump_counters(&n_live);
    CHECK(n_live > 20);
    char *cmd = og_sprintf("%s/bin/omnigate --config %s stats rebuild > %s/rebuild.out 2>&1",
                           OG_BINARY_DIR, d.config_path, d.dir);
    CHECK_INT(system(cmd), 0);
    free(cmd);
    char *out_path = og_sprintf("%s/rebuild.out", d.dir);
    char *out = og_test_read_file(out_path, NULL);
    CHECK(out && strstr(out, "rebuilt from 9 sessions and 6 presence intervals"));
    if (out && !strstr(out, "rebuilt from 9 sessions"))
        fprintf(stderr, "  %s", out);
    free(out), free(out_path);
    char *again = dump_counters(&n_again);
    CHECK_INT(n_again, n_live);
    CHECK_STR(again, live);
    if (strcmp(again, live) != 0)
        fprintf(stderr, "--- live\n%s--- rebuilt\n%s", live, again);
    json_object *after = stats(meg_tok, "from=2030-06-13&to=2030-06-15&tz=Asia/Kolkata", 200);
    CHECK_STR(json_object_to_json_string(after), json_object_to_json_string(before));
    json_object_put(before), json_object_put(after);
    free(again);
    /* counters gone wrong (an hour lost, a stray field) are repaired */
    char *a = og_sprintf("DEL {og}:st:d:%lld", (long long)(T(0, 9, 0, 0) / 86400000));
    free(og_test_redis_cli(&rs, a));
    free(a);
    a = og_sprintf("HSET {og}:st:h:%lld stray 1", (long long)(T(0, 10, 0, 0) / 3600000));
    free(og_test_redis_cli(&rs, a));
    free(a);
    char *broken = dump_counters(&n_again);
    CHECK(strcmp(broken, live) != 0);
    free(broken);
    cmd = og_sprintf("%s/bin/omnigate --config %s stats rebuild > /dev/null 2>&1", OG_BINARY_DIR,
                     d.config_path);
    CHECK_INT(system(cmd), 0);
    free(cmd);
    again = dump_counters(&n_again);
    CHECK_STR(again, live);
    free(live), free(again);
}

/* ------------------------------------------------------------- CSV */

struct csv {
    size_t n;     /* rows, the header included */
    char ***cell; /* [row][col] */
    size_t *ncol;
};

/* Parses RFC 4180 text strictly (CRLF line ends, quoted fields); 0 when
 * well formed. */
static int csv_parse(const char *t, struct csv *c)
{
    memset(c, 0, sizeof *c);
    const char *p = t;
    while (*p) {
        c->cell = og_realloc(c->cell, (c->n + 1) * sizeof *c->cell);
        c->ncol = og_realloc(c->ncol, (c->n + 1) * sizeof *c->ncol);
        c->cell[c->n] = NULL;
        c->ncol[c->n] = 0;
        for (;;) {
            struct og_buf f = {0};
            og_buf_puts(&f, "");
            if (*p == '"') {
                p++;
                for (;;) {
                    if (!*p)
                        return -1;
                    if (*p == '"' && p[1] == '"')
                        og_buf_append(&f, p, 1), p += 2;
                    else if (*p == '"') {
                        p++;
                        break;
                    } else
                        og_buf_append(&f, p++, 1);
                }
            } else {
                while (*p && *p != ',' && *p != '\r' && *p != '\n') {
                    if (*p == '"')
                        return -1;
                    og_buf_append(&f, p++, 1);
                }
            }
            c->cell[c->n] = og_realloc(c->cell[c->n], (c->ncol[c->n] + 1) * sizeof(char *));
            c->cell[c->n][c->ncol[c->n]++] = f.data;
            if (*p == ',') {
                p++;
                continue;
            }
            if (p[0] == '\r' && p[1] == '\n') {
                p += 2;
                break;
            }
            return -1; /* a bare LF, or the end without CRLF */
        }
        c->n++;
    }
    return 0;
}

static void csv_free(struct csv *c)
{
    for (size_t i = 0; i < c->n; i++) {
        for (size_t k = 0; k < c->ncol[i]; k++)
            free(c->cell[i][k]);
        free(c->cell[i]);
    }
    free(c->cell), free(c->ncol);
}

/* The cell of row r in the column named col ("" when absent). */
static const char *cell(const struct csv *c, size_t r, const char *col)
{
    for (size_t k = 0; c->n && k < c->ncol[0]; k++)
        if (!strcmp(c->cell[0][k], col))
            return r < c->n && k < c->ncol[r] ? c->cell[r][k] : "";
    return "";
}

/* The first row whose column col is val, or 0. */
static size_t row_where(const struct csv *c, const char *col, const char *val)
{
    for (size_t r = 1; r < c->n; r++)
        if (!strcmp(cell(c, r, col), val))
            return r;
    fprintf(stderr, "  no row with %s = %s\n", col, val);
    return 0;
}

/* GETs url (a path on the daemon) with tok (NULL: none); the body parsed as
 * CSV into c. The status. */
static long get_csv(const char *tok, const char *path, struct csv *c, char **ctype)
{
    char *url = og_sprintf("%s%s", d.base, path);
    char *h = tok ? og_sprintf("Authorization: Bearer %s", tok) : NULL;
    struct og_test_resp r = og_test_http("GET", url, h, NULL, 0);
    memset(c, 0, sizeof *c);
    if (r.status == 200)
        CHECK_INT(csv_parse(r.body, c), 0);
    if (ctype)
        *ctype = NULL;
    free(url), free(h), free(r.body);
    return r.status;
}

static void test_exports(void)
{
    struct csv c;
    /* conversations, in Berlin: the four sessions created on D there */
    char *cid = og_test_redis_line(&rs, "HGET {og}:ses:%s contact_id", s3);
    char *p = og_sprintf("/contacts/%s", cid);
    clock_set(T(1, 6, 0, 0));
    CHECK_INT(call(meg_tok, "PATCH", p, "{\"name\":\"=SUM(1,2) \\\"Jo\\\"\"}"), 200);
    free(p), free(cid);
    CHECK_INT(
        get_csv(meg_tok,
                "/api/v1/exports/conversations?from=2030-06-14&to=2030-06-14&tz=Europe/Berlin", &c,
                NULL),
        200);
    CHECK_INT(c.n, 5);
    CHECK_STR(c.cell[0][0], "session_id");
    CHECK_INT(c.ncol[0], 18);
    CHECK_STR(cell(&c, 1, "session_id"), s1);
    CHECK_STR(cell(&c, 4, "session_id"), s3);
    size_t r = row_where(&c, "session_id", s2);
    CHECK_STR(cell(&c, r, "channel"), "shop");
    CHECK_STR(cell(&c, r, "contact_name"), "Name c2");
    CHECK_STR(cell(&c, r, "agent_id"), ann);
    CHECK_STR(cell(&c, r, "agent_name"), "Ann");
    CHECK_STR(cell(&c, r, "group"), "vip");
    CHECK_STR(cell(&c, r, "status"), "closed");
    CHECK_STR(cell(&c, r, "created_at"), "2030-06-14T12:00:00+02:00");
    CHECK_STR(cell(&c, r, "first_reply_at"), "2030-06-14T12:02:00+02:00");
    CHECK_STR(cell(&c, r, "closed_at"), "2030-06-14T12:30:00+02:00");
    CHECK_STR(cell(&c, r, "close_reason"), "solved");
    CHECK_STR(cell(&c, r, "success_codes"), "UPSELL;SALE");
    CHECK_STR(cell(&c, r, "messages_in"), "2");
    CHECK_STR(cell(&c, r, "messages_out"), "2");
    r = row_where(&c, "session_id", s4);
    CHECK_STR(cell(&c, r, "messages_in"), "2");
    CHECK_STR(cell(&c, r, "messages_out"), "3");
    CHECK_STR(cell(&c, r, "goal_status"), "achieved");
    CHECK_STR(cell(&c, r, "goal_event"), "SALE");
    CHECK_STR(cell(&c, r, "first_reply_at"), "2030-06-14T15:00:00+02:00"); /* the reopen's */
    r = row_where(&c, "session_id", s3);
    CHECK_STR(cell(&c, r, "contact_name"), "'=SUM(1,2) \"Jo\""); /* quoted, not a formula */
    CHECK_STR(cell(&c, r, "agent_id"), "");
    CHECK_STR(cell(&c, r, "closed_at"), "2030-06-15T00:40:00+02:00");
    csv_free(&c);
    /* filters; in Kolkata S3 was created on D+1 */
    CHECK_INT(get_csv(meg_tok,
                      "/api/v1/exports/conversations?from=2030-06-14&to=2030-06-14&tz=Asia/Kolkata"
                      "&success_code=SALE",
                      &c, NULL),
              200);
    CHECK_INT(c.n, 4); /* S1, S2, S4 (its codes now) */
    CHECK_STR(cell(&c, 1, "created_at"), "2030-06-14T14:40:00+05:30");
    csv_free(&c);

    /* the web chat session of D+2 with its rating */
    CHECK_INT(
        get_csv(meg_tok, "/api/v1/exports/conversations?from=2030-06-16&to=2030-06-16", &c, NULL),
        200);
    CHECK_INT(c.n, 2);
    CHECK_STR(cell(&c, 1, "session_id"), sw);
    CHECK_STR(cell(&c, 1, "contact_name"), "Wanda");
    CHECK_STR(cell(&c, 1, "csat"), "4");
    CHECK_STR(cell(&c, 1, "channel"), "site");
    csv_free(&c);

    /* agent performance equals GET /stats per agent */
    CHECK_INT(get_csv(meg_tok, "/api/v1/exports/agent_performance?from=2030-06-14&to=2030-06-14",
                      &c, NULL),
              200);
    CHECK_INT(c.n, 4);
    r = row_where(&c, "agent_id", ann);
    CHECK_STR(cell(&c, r, "agent_name"), "Ann");
    CHECK_STR(cell(&c, r, "chats"), "4");
    CHECK_STR(cell(&c, r, "avg_response_s"), "50");
    CHECK_STR(cell(&c, r, "online_s"), "34500");
    CHECK_STR(cell(&c, r, "away_s"), "1500");
    CHECK_STR(cell(&c, r, "offline_s"), "50400");
    CHECK_STR(cell(&c, r, "goals_achieved"), "2");
    CHECK_STR(cell(&c, r, "csat_avg"), "");
    r = row_where(&c, "agent_id", bob);
    CHECK_STR(cell(&c, r, "transfers"), "1");
    CHECK_STR(cell(&c, r, "avg_first_response_s"), "");
    csv_free(&c);

    /* traffic per Berlin hour: 12 is 10:00 UTC */
    CHECK_INT(get_csv(meg_tok,
                      "/api/v1/exports/traffic?from=2030-06-14&to=2030-06-14&tz=Europe/Berlin", &c,
                      NULL),
              200);
    CHECK_INT(c.n, 25);
    r = row_where(&c, "hour", "2030-06-14T12");
    CHECK_STR(cell(&c, r, "new_sessions"), "1");
    CHECK_STR(cell(&c, r, "chats"), "1");
    CHECK_STR(cell(&c, r, "messages_in"), "2");
    CHECK_STR(cell(&c, r, "messages_out"), "2");
    CHECK_STR(cell(&c, r, "queue_waits"), "2"); /* 10 s (Bob), 30 s (Ann, vip) */
    CHECK_STR(cell(&c, r, "avg_queue_wait_s"), "20");
    CHECK_STR(cell(&c, r, "max_queue_wait_s"), "30");
    CHECK_STR(cell(&c, r, "queue_avg"), "0.011"); /* 40 s of 3600 */
    CHECK_STR(cell(&c, r, "queue_max"), "1");
    CHECK_STR(cell(&c, r, "longest_wait_s"), "30");
    r = row_where(&c, "hour", "2030-06-14T23"); /* 21:00 UTC: S3 waits from 21:50 */
    CHECK_STR(cell(&c, r, "queue_avg"), "0.167");
    CHECK_STR(cell(&c, r, "longest_wait_s"), "600");
    r = row_where(&c, "hour", "2030-06-14T02");
    CHECK_STR(cell(&c, r, "new_sessions"), "0");
    csv_free(&c);

    /* agent activity over the UTC day: the intervals clipped to it */
    CHECK_INT(
        get_csv(meg_tok, "/api/v1/exports/agent_activity?from=2030-06-14&to=2030-06-14", &c, NULL),
        200);
    CHECK_INT(c.n, 10); /* Ann 5, Bob 3, Meg 1 */
    double sum[3] = {0, 0, 0};
    int ann_rows = 0;
    for (size_t i = 1; i < c.n; i++) {
        if (strcmp(cell(&c, i, "agent_id"), ann) != 0)
            continue;
        ann_rows++;
        const char *st = cell(&c, i, "state");
        sum[!strcmp(st, "online") ? 0
            : !strcmp(st, "away") ? 1
                                  : 2] += strtod(cell(&c, i, "duration_s"), NULL);
    }
    CHECK_INT(ann_rows, 5);
    CHECK(sum[0] == 34500 && sum[1] == 1500 && sum[2] == 50400);
    r = row_where(&c, "state", "away");
    CHECK_STR(cell(&c, r, "start"), "2030-06-14T12:30:00+00:00");
    CHECK_STR(cell(&c, r, "end"), "2030-06-14T12:55:00+00:00");
    CHECK_STR(cell(&c, r, "agent_name"), "Ann");
    r = row_where(&c, "agent_id", meg);
    CHECK_STR(cell(&c, r, "duration_s"), "86400");
    csv_free(&c);

    /* agents, a deleted one included */
    long st;
    json_object *j = api(NULL, "POST", "/agents", "{\"name\":\"Zed\",\"email\":\"zed@o.io\"}", &st);
    char zed[48];
    snprintf(zed, sizeof zed, "%s", at(j, "agent.id"));
    json_object_put(j);
    p = og_sprintf("/agents/%s", zed);
    CHECK_INT(call(NULL, "DELETE", p, NULL), 200);
    free(p);
    CHECK_INT(get_csv(meg_tok, "/api/v1/exports/agents?from=2030-06-14&to=2030-06-14", &c, NULL),
              200);
    CHECK_INT(c.n, 5);
    r = row_where(&c, "id", zed);
    CHECK_STR(cell(&c, r, "deleted_at"), "2030-06-15T06:00:00+00:00");
    r = row_where(&c, "id", ann);
    CHECK_STR(cell(&c, r, "groups"), "desk;vip");
    CHECK_STR(cell(&c, r, "email"), "ann@o.io");
    CHECK_STR(cell(&c, r, "created_at"), "2030-06-13T20:00:00+00:00");
    csv_free(&c);

    /* who and what */
    CHECK_INT(get_csv(ann_tok, "/api/v1/exports/traffic?from=2030-06-14&to=2030-06-14", &c, NULL),
              403);
    CHECK_INT(get_csv(meg_tok, "/api/v1/exports/payroll?from=2030-06-14&to=2030-06-14", &c, NULL),
              404);
    CHECK_INT(get_csv(meg_tok, "/api/v1/exports/traffic?from=2030-06-14&to=2030-06-14&tz=Nowhere",
                      &c, NULL),
              400);
    CHECK_INT(get_csv(meg_tok, "/api/v1/exports/traffic?from=2030-06-14&to=2030-06-13", &c, NULL),
              400);
    CHECK_INT(
        get_csv(meg_tok, "/api/v1/exports/traffic?from=2030-06-14&to=2030-06-14&x=1", &c, NULL),
        400);
}

static void test_links(void)
{
    long st;
    json_object *j = api(meg_tok, "POST", "/report-links",
                         "{\"report\":\"conversations\",\"filters\":{\"channel\":\"shop\"}}", &st);
    CHECK_INT(st, 201);
    char id[48], token[80], path[200];
    snprintf(id, sizeof id, "%s", at(j, "id"));
    snprintf(token, sizeof token, "%s", at(j, "token"));
    CHECK_INT(strlen(token), 64);
    CHECK(strstr(at(j, "url"), token) != NULL);
    json_object_put(j);
    /* stored hashed: the token itself is nowhere in Redis */
    char *keys = og_test_redis_cli(&rs, "--raw KEYS {og}:rl:*");
    CHECK(strstr(keys, token) == NULL);
    free(keys);
    char *dump = og_test_redis_line(&rs, "HGETALL {og}:rl:%s", id);
    CHECK(strstr(dump, token) == NULL);
    free(dump);

    struct csv c;
    snprintf(path, sizeof path, "/reports/%s?from=2030-06-14&to=2030-06-14&tz=Europe/Berlin",
             token);
    CHECK_INT(get_csv(NULL, path, &c, NULL), 200);
    CHECK_INT(c.n, 2); /* only shop's session: the link's filter */
    CHECK_STR(cell(&c, 1, "session_id"), s2);
    CHECK_STR(cell(&c, 1, "created_at"), "2030-06-14T12:00:00+02:00");
    csv_free(&c);
    /* its report and filters are the link's: nothing else opens */
    snprintf(path, sizeof path, "/reports/%s?from=2030-06-14&to=2030-06-14&report=agents", token);
    CHECK_INT(get_csv(NULL, path, &c, NULL), 400);
    snprintf(path, sizeof path, "/reports/%s?from=2030-06-14&to=2030-06-14&channel=demo", token);
    CHECK_INT(get_csv(NULL, path, &c, NULL), 400);
    snprintf(path, sizeof path, "/api/v1/exports/agents?from=2030-06-14&to=2030-06-14");
    char *u = og_sprintf("%s%s", d.base, path);
    char *h = og_sprintf("Authorization: Bearer %s", token);
    struct og_test_resp rr = og_test_http("GET", u, h, NULL, 0);
    CHECK_INT(rr.status, 401); /* a link's token is no API token */
    free(u), free(h), free(rr.body);
    char forged[80];
    snprintf(forged, sizeof forged, "%s", token);
    forged[0] = forged[0] == 'a' ? 'b' : 'a';
    snprintf(path, sizeof path, "/reports/%s?from=2030-06-14&to=2030-06-14", forged);
    CHECK_INT(get_csv(NULL, path, &c, NULL), 401);
    CHECK_INT(get_csv(NULL, "/reports/nothex?from=2030-06-14&to=2030-06-14", &c, NULL), 401);

    /* listed with its uses; managers only; bad input */
    j = api(meg_tok, "GET", "/report-links", NULL, &st);
    CHECK_INT(st, 200);
    json_object *items = NULL;
    json_object_object_get_ex(j, "items", &items);
    CHECK_INT(json_object_array_length(items), 1);
    json_object *it = json_object_array_get_idx(items, 0);
    CHECK_STR(at(it, "id"), id);
    CHECK_STR(at(it, "report"), "conversations");
    CHECK_STR(at(it, "filters.channel"), "shop");
    CHECK_STR(at(it, "uses"), "1"); /* the CSV; the 400s were refused before the token */
    CHECK_STR(at(it, "token"), "");
    json_object_put(j);
    CHECK_INT(call(ann_tok, "POST", "/report-links", "{\"report\":\"traffic\"}"), 403);
    CHECK_INT(call(ann_tok, "GET", "/report-links", NULL), 403);
    CHECK_INT(call(meg_tok, "POST", "/report-links", "{\"report\":\"payroll\"}"), 400);
    CHECK_INT(call(meg_tok, "POST", "/report-links",
                   "{\"report\":\"traffic\",\"filters\":{\"colour\":\"red\"}}"),
              400);
    CHECK_INT(call(meg_tok, "POST", "/report-links", "{\"report\":\"traffic\",\"x\":1}"), 400);

    /* revoked: it opens nothing */
    snprintf(path, sizeof path, "/report-links/%s", id);
    CHECK_INT(call(meg_tok, "DELETE", path, NULL), 200);
    CHECK_INT(call(meg_tok, "DELETE", path, NULL), 404);
    snprintf(path, sizeof path, "/reports/%s?from=2030-06-14&to=2030-06-14", token);
    CHECK_INT(get_csv(NULL, path, &c, NULL), 401);

    /* the hourly limit, and every use logged */
    j = api(meg_tok, "POST", "/report-links", "{\"report\":\"agents\"}", &st);
    snprintf(id, sizeof id, "%s", at(j, "id"));
    snprintf(token, sizeof token, "%s", at(j, "token"));
    json_object_put(j);
    snprintf(path, sizeof path, "/reports/%s?from=2030-06-14&to=2030-06-14", token);
    int ok = 0;
    for (int i = 0; i < 60; i++)
        ok += get_csv(NULL, path, &c, NULL) == 200, csv_free(&c);
    CHECK_INT(ok, 60);
    CHECK_INT(get_csv(NULL, path, &c, NULL), 429);
    char *n = og_test_redis_line(&rs, "LLEN {og}:rl:%s:uses", id);
    CHECK_STR(n, "61");
    free(n);
    clock_set(T(1, 7, 0, 0)); /* the next hour */
    CHECK_INT(get_csv(NULL, path, &c, NULL), 200);
    csv_free(&c);
}

/* The queue over time (script_day's D+3 and D), asked at D+3 11:30: q4
 * still waits. */
static void test_queue(void)
{
    clock_set(T(3, 11, 30, 0));
    json_object *j = stats(meg_tok, "from=2030-06-17&to=2030-06-17&group_by=hour", 200);
    json_object *b = bucket(j, "2030-06-17T08");
    NUM(b, "queue_avg", 0.667);     /* q1 08:30-09:00, q2 08:50-09:00: 2400 s of 3600 */
    NUM(b, "queue_max", 2);         /* 08:50 */
    NUM(b, "longest_wait_s", 1800); /* q1 by 09:00 */
    b = bucket(j, "2030-06-17T09");
    NUM(b, "queue_avg", 1.833);     /* q1 1200 + q2 2400 + q3 3000 s */
    NUM(b, "queue_max", 3);         /* 09:10-09:20 */
    NUM(b, "longest_wait_s", 3000); /* q1 and q2, 50 min each */
    b = bucket(j, "2030-06-17T10");
    NUM(b, "queue_avg", 0.25); /* q3 10:00-10:15 */
    NUM(b, "queue_max", 1);    /* q3 from before 10:00 */
    NUM(b, "longest_wait_s", 3900);
    b = bucket(j, "2030-06-17T11");
    NUM(b, "queue_avg", 1); /* q4, 11:00 up to now: 1800 s of the 1800 so far */
    NUM(b, "queue_max", 1);
    NUM(b, "longest_wait_s", 1800);
    b = bucket(j, "2030-06-17T07");
    NUM(b, "queue_avg", 0);
    NUM(b, "queue_max", 0);
    NUM(b, "longest_wait_s", 0);
    NUM(bucket(j, "2030-06-17T12"), "queue_avg", -1); /* still to come */
    json_object_put(j);

    /* the day in three zones: 11700 s of waits */
    j = stats(meg_tok, "from=2030-06-17&to=2030-06-17", 200);
    NUM(j, "total.queue_avg", 0.283); /* over 00:00-11:30, 41400 s */
    NUM(j, "total.queue_max", 3);
    NUM(j, "total.longest_wait_s", 3900);
    NUM(bucket(j, "2030-06-17"), "queue_max", 3);
    json_object_put(j);
    j = stats(meg_tok, "from=2030-06-17&to=2030-06-17&tz=Europe/Berlin", 200);
    NUM(j, "total.queue_avg", 0.241); /* from 06-16 22:00 UTC: 48600 s */
    NUM(j, "total.queue_max", 3);
    json_object_put(j);
    j = stats(meg_tok, "from=2030-06-17&to=2030-06-17&tz=Asia/Kolkata", 200);
    NUM(j, "total.queue_avg", 0.197); /* from 06-16 19:00 UTC: 59400 s */
    json_object_put(j);
    j = stats(meg_tok, "from=2030-06-17&to=2030-06-17&tz=Asia/Kolkata&group_by=hour", 200);
    NUM(bucket(j, "2030-06-17T14"), "queue_avg", 1.833); /* the UTC hour 09 */
    NUM(bucket(j, "2030-06-17T14"), "queue_max", 3);
    json_object_put(j);

    /* by channel; filters: the most at once is kept for all queues only */
    j = stats(meg_tok, "from=2030-06-17&to=2030-06-17&group_by=channel", 200);
    NUM(bucket(j, "demo"), "queue_avg", 0.21); /* q1 3000 + q3 3900 + q4 1800 s */
    NUM(bucket(j, "demo"), "longest_wait_s", 3900);
    NUM(bucket(j, "demo"), "queue_max", -1);
    NUM(bucket(j, "shop"), "queue_avg", 0.072); /* q2 3000 s */
    NUM(bucket(j, "shop"), "longest_wait_s", 3000);
    NUM(bucket(j, "site"), "queue_avg", 0);
    NUM(j, "total.queue_max", 3);
    json_object_put(j);
    j = stats(meg_tok, "from=2030-06-17&to=2030-06-17&channel=shop", 200);
    NUM(j, "total.queue_avg", 0.072);
    NUM(j, "total.longest_wait_s", 3000);
    NUM(j, "total.queue_max", -1);
    json_object_put(j);
    char *qs = og_sprintf("from=2030-06-17&to=2030-06-17&agent_id=%s", ann);
    j = stats(meg_tok, qs, 200);
    NUM(j, "total.queue_avg", 0); /* a waiting session has no agent */
    NUM(j, "total.longest_wait_s", 0);
    NUM(j, "total.queue_max", -1);
    json_object_put(j);
    free(qs);

    /* D: S1 30 s, S2 10 + 30 s, S4 5 s, S3 21:50-22:40 */
    j = stats(meg_tok, "from=2030-06-14&to=2030-06-14&group_by=hour", 200);
    NUM(j, "total.queue_avg", 0.036); /* 3075 s of 86400 */
    NUM(j, "total.queue_max", 1);
    NUM(j, "total.longest_wait_s", 3000);
    NUM(bucket(j, "2030-06-14T21"), "queue_avg", 0.167);
    NUM(bucket(j, "2030-06-14T21"), "longest_wait_s", 600);
    NUM(bucket(j, "2030-06-14T22"), "queue_avg", 0.667);
    NUM(bucket(j, "2030-06-14T22"), "queue_max", 1);
    NUM(bucket(j, "2030-06-14T10"), "longest_wait_s", 30); /* S2 in the group's queue */
    json_object_put(j);
    clock_set(T(1, 7, 0, 0));
}

/* An hour written before hours kept totals (an upgrade, {og}:st:tv after
 * it): read from its tuples, and its totals made from them at its next
 * fact. Runs last: it adds a fact to D 10:00. */
static void test_hour_totals(void)
{
    const char *q = "from=2030-06-14&to=2030-06-14&group_by=hour";
    json_object *before = stats(meg_tok, q, 200);
    json_object *b = bucket(before, "2030-06-14T10");
    NUM(b, "messages_in", 2); /* S2: 10:00, 10:06 */
    NUM(b, "chats", 1);
    NUM(b, "success_codes.SALE", 1);
    NUM(b, "success_codes.UPSELL", 1);
    char *cmd = og_sprintf("HDEL {og}:st:t:%lld 10 c10", (long long)(T(0, 0, 0, 0) / 86400000));
    char *n = og_test_redis_cli(&rs, cmd);
    CHECK(n && atoi(n) == 2);
    free(n), free(cmd);
    cmd = og_sprintf("SET {og}:st:tv %lld", (long long)(T(1, 0, 0, 0) / 3600000));
    free(og_test_redis_cli(&rs, cmd));
    free(cmd);
    json_object *legacy = stats(meg_tok, q, 200);
    CHECK_STR(json_object_to_json_string(legacy), json_object_to_json_string(before));
    json_object_put(legacy), json_object_put(before);
    /* a new session at 10:40 */
    customer(T(0, 10, 40, 0), "shop", "c9", "late", NULL);
    clock_set(T(1, 8, 0, 0));
    json_object *j = stats(meg_tok, q, 200);
    b = bucket(j, "2030-06-14T10");
    NUM(b, "messages_in", 3);
    NUM(b, "chats", 1);
    NUM(b, "success_codes.SALE", 1);
    NUM(b, "success_codes.UPSELL", 1);
    json_object_put(j);
    cmd = og_sprintf("HGET {og}:st:t:%lld c10", (long long)(T(0, 0, 0, 0) / 86400000));
    n = og_test_redis_cli(&rs, cmd);
    CHECK(n && strstr(n, "SALE") && strstr(n, "UPSELL"));
    free(n), free(cmd);
}

/* Filtered queries read only their tuples' fields, listed per UTC day in
 * P:st:u:<day> from the hour P:st:uv on; an hour before it (written by an
 * older version, without the sets) is read whole, with the same figures. */
static void test_tuple_sets(void)
{
    const char *qs[3] = {"from=2030-06-14&to=2030-06-15&group_by=hour&agent_id=%s",
                         "from=2030-06-14&to=2030-06-15&tz=Europe/Berlin&channel=demo%s",
                         "from=2030-06-14&to=2030-06-15&tz=Asia/Kolkata&group_by=agent&channel="
                         "shop&success_code=SALE%s"};
    char *day = og_sprintf("{og}:st:u:%lld", (long long)(T(0, 0, 0, 0) / 86400000));
    char *cmd = og_sprintf("SCARD %s", day);
    char *n = og_test_redis_cli(&rs, cmd);
    CHECK(n && atoi(n) >= 3); /* the day's tuples: channels, agents, presence */
    free(n), free(cmd);
    for (int i = 0; i < 3; i++) {
        char *q = og_sprintf(qs[i], i == 0 ? ann : "");
        json_object *sets = stats(meg_tok, q, 200);
        /* as an older version left it: no sets, every hour read whole */
        free(og_test_redis_cli(&rs, "SET {og}:st:uv 999999999"));
        json_object *whole = stats(meg_tok, q, 200);
        CHECK_STR(json_object_to_json_string(whole), json_object_to_json_string(sets));
        json_object_put(whole);
        /* a day's set gone (never written) while uv says it was: the
         * figures of that day go missing, so the sets are what is read */
        free(og_test_redis_cli(&rs, "SET {og}:st:uv 0"));
        cmd = og_sprintf("RENAME %s %s:x", day, day);
        free(og_test_redis_cli(&rs, cmd));
        free(cmd);
        json_object *missing = stats(meg_tok, q, 200);
        if (i == 0)
            CHECK(strcmp(json_object_to_json_string(missing), json_object_to_json_string(sets)));
        json_object_put(missing);
        cmd = og_sprintf("RENAME %s:x %s", day, day);
        free(og_test_redis_cli(&rs, cmd));
        free(cmd);
        json_object *again = stats(meg_tok, q, 200);
        CHECK_STR(json_object_to_json_string(again), json_object_to_json_string(sets));
        json_object_put(again), json_object_put(sets);
        free(q);
    }
    free(day);
}

/* ------------------------------------------------- the write path (#22) */

static long long redis_ll(const char *fmt, const char *arg)
{
    char *v = og_test_redis_line(&rs, fmt, arg);
    long long n = atoll(v);
    free(v);
    return n;
}

/* The i-th number (1-based, prelude.lua's ST) of a vector text; 0 past its end. */
static long long vec_at(const char *v, int i)
{
    for (int k = 1; v && *v; k++) {
        if (k == i)
            return atoll(v);
        v = strchr(v, ',');
        v = v ? v + 1 : NULL;
    }
    return 0;
}

/* Deletes deployment {w}'s counters (not its pending facts). */
static void w_counters_del(void)
{
    free(og_test_redis_cli(&rs, "EVAL \"for _, k in ipairs(redis.call('KEYS', ARGV[1])) do "
                                "redis.call('DEL', k) end\" 0 '{w}:st:[hdtqu]:*'"));
}

struct racer {
    struct og_core *c;
    long applied;
    int ok;
};

/* Applies 7 facts at a time until none is left. */
static void *race(void *arg)
{
    struct racer *r = arg;
    long left = 1;
    r->ok = 1;
    for (int i = 0; i < 100000 && left > 0; i++) {
        long n = 0;
        if (og_stats_apply(r->c, 7, &n, &left) != OG_OK) {
            r->ok = 0;
            break;
        }
        r->applied += n;
    }
    return NULL;
}

static struct og_connector w_desc = {.name = "fake"};
static struct og_plugin w_plugin = {.desc = &w_desc};

/* A second deployment ({w}) on the same Redis, driven in process: no
 * statistics worker runs for it, so its facts stay pending until a read or
 * og_stats_apply takes them. */
static void test_write_path(void)
{
    struct og_core *c = og_test_core_new(&rs, "w", 4);
    CHECK(c != NULL);
    if (!c)
        return;
    struct og_channel chans[2] = {{.id = "web", .routing = "default", .plugin = &w_plugin},
                                  {.id = "app", .routing = "default", .plugin = &w_plugin}};
    /* 240 customer messages of 24 contacts (12 per channel), 40 an hour
     * from D+1 08:00 */
    int stored = 0;
    for (int i = 0; i < 240; i++) {
        clock_set(T(1, 8 + i / 40, i % 40, 0));
        char dedup[32], from[32];
        snprintf(dedup, sizeof dedup, "w-%d", i);
        snprintf(from, sizeof from, "wc-%d", i % 24);
        struct og_inbound m = {.struct_size = sizeof m,
                               .dedup_key = dedup,
                               .kind = OG_KIND_TEXT,
                               .text = "hi",
                               .provider_message_id = dedup};
        m.from.external_id = from;
        m.from.name = "W";
        struct og_ingest_result r;
        stored += og_core_ingest(c, &chans[i % 2], &m, &r) == OG_OK;
    }
    CHECK_INT(stored, 240);
    char *tk = og_sprintf("{w}:st:t:%lld", (long long)(T(1, 0, 0, 0) / 86400000));
    /* counted, not applied: a fact each (and the queue's), no counter yet */
    long long pending = redis_ll("LLEN %s", "{w}:st:pending");
    CHECK(pending >= 240);
    CHECK_INT(redis_ll("EXISTS %s", tk), 0);
    free(og_test_redis_cli(&rs, "COPY {w}:st:pending {w}:st:saved"));

    /* (a) a read applies everything pending first: totals, and a filtered
     * read of the hour keys and tuple sets */
    const char *chan_ids[] = {"web", "app"};
    struct og_stats_query q = {.from = "2030-06-15",
                               .to = "2030-06-15",
                               .group_by = "channel",
                               .channels = chan_ids,
                               .n_channels = 2};
    struct og_stats *st = NULL;
    char msg[256] = "";
    CHECK_INT(og_stats_compute(c, &q, &st, msg, sizeof msg), OG_OK);
    if (st) {
        CHECK_INT(st->total.v[OG_ST_MSG_IN], 240);
        CHECK_INT(st->total.v[OG_ST_NEW], 24);
        CHECK_INT(st->n, 2);
        for (size_t i = 0; i < st->n; i++)
            CHECK_INT(st->b[i].a.v[OG_ST_MSG_IN], 120);
    }
    og_stats_free(st);
    CHECK_INT(redis_ll("LLEN %s", "{w}:st:pending"), 0);
    struct og_stats_query qh = {.from = "2030-06-15", .to = "2030-06-15", .group_by = "hour"};
    st = NULL;
    CHECK_INT(og_stats_compute(c, &qh, &st, msg, sizeof msg), OG_OK);
    for (size_t i = 0; st && i < st->n; i++) {
        int h = atoi(st->b[i].key + 11); /* "2030-06-15T08" */
        CHECK_INT(st->b[i].a.v[OG_ST_MSG_IN], h >= 8 && h < 14 ? 40 : 0);
        if (h == 8)
            CHECK_INT(st->b[i].a.v[OG_ST_QUEUE_MAX], 24); /* all new in the first hour */
    }
    og_stats_free(st);
    char *hour8 = og_test_redis_line(&rs, "HGET %s 8", tk);
    CHECK_INT(vec_at(hour8, 11), 40); /* ST.msg_in */
    free(hour8);
    size_t n_bulk = 0, n_one = 0;
    char *bulk = dump_counters_of("{w}", 1, &n_bulk);
    CHECK(n_bulk > 20);

    /* (b) the same facts applied one at a time (as counting inline did):
     * the same counters, field for field, tuple sets included */
    w_counters_del();
    free(og_test_redis_cli(&rs, "COPY {w}:st:saved {w}:st:pending REPLACE"));
    long left = 1, applied = 0, total = 0;
    for (long i = 0; i < pending + 10 && left > 0; i++) {
        CHECK_INT(og_stats_apply(c, 1, &applied, &left), OG_OK);
        total += applied;
    }
    CHECK_INT(total, pending);
    char *one = dump_counters_of("{w}", 1, &n_one);
    CHECK_INT(n_one, n_bulk);
    CHECK_STR(one, bulk);
    free(one);

    /* (c) two appliers at once on the same list: each fact is applied by
     * exactly one of them */
    w_counters_del();
    free(og_test_redis_cli(&rs, "COPY {w}:st:saved {w}:st:pending REPLACE"));
    struct racer ra = {.c = c}, rb = {.c = c};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, race, &ra);
    pthread_create(&tb, NULL, race, &rb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(ra.ok && rb.ok);
    CHECK_INT(ra.applied + rb.applied, pending);
    char *raced = dump_counters_of("{w}", 1, &n_one);
    CHECK_STR(raced, bulk);
    free(raced);
    /* and an apply with nothing pending changes nothing */
    applied = -1;
    CHECK_INT(og_stats_apply(c, 1000, &applied, &left), OG_OK);
    CHECK_INT(applied, 0);
    CHECK_INT(left, 0);
    char *again = dump_counters_of("{w}", 1, &n_one);
    CHECK_STR(again, bulk);
    free(again), free(bulk), free(tk);
    free(og_test_redis_cli(&rs, "DEL {w}:st:saved"));
    og_core_free(c);
}

/* The daemon's statistics worker applies the pending facts by itself: no
 * statistics read happens here, yet the counters get the messages. */
static void test_worker(void)
{
    char *tk = og_sprintf("{og}:st:t:%lld", (long long)(T(2, 0, 0, 0) / 86400000));
    customer(T(2, 9, 0, 0), "shop", "c-worker", "hello", NULL);
    customer(T(2, 9, 1, 0), "shop", "c-worker", "again", NULL);
    long long n_in = 0, pending = -1;
    for (int i = 0; i < 100 && !(n_in == 2 && pending == 0); i++) {
        char *v = og_test_redis_line(&rs, "HGET %s 9", tk);
        n_in = vec_at(v, 11); /* ST.msg_in */
        free(v);
        pending = redis_ll("LLEN %s", "{og}:st:pending");
        if (!(n_in == 2 && pending == 0))
            usleep(100000);
    }
    CHECK_INT(n_in, 2);
    CHECK_INT(pending, 0);
    free(tk);
}

int main(void)
{
    char *dir = og_sprintf("/tmp/og-stats-clock-%d", (int)getpid());
    snprintf(clock_path, sizeof clock_path, "%s", dir);
    free(dir);
    clock_set(T(-1, 20, 0, 0));
    setenv("OMNIGATE_TEST_CLOCK", clock_path, 1);
    if (og_test_redis_start(&rs) != 0)
        return 1;
    plat = og_fake_start();
    char *channels = og_sprintf(
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"routing\":\"desk\",\"options\":"
        "{\"secret\":\"" SECRET "\",\"reply_url\":\"%s/r\"}},"
        "{\"id\":\"shop\",\"connector\":\"signed_json\",\"routing\":\"desk\",\"options\":"
        "{\"secret\":\"" SECRET "\",\"reply_url\":\"%s/r\"}},"
        "{\"id\":\"site\",\"connector\":\"webchat\",\"routing\":\"desk\",\"options\":"
        "{\"allowed_origins\":\"http://shop.test\"},\"csat\":{\"scale\":5}}]",
        og_fake_base(plat), og_fake_base(plat));
    if (og_test_daemon_start(&d, rs.url, channels,
                             "\"routing\":{\"desk\":{\"mode\":\"manual\",\"levels\":[{\"members\":"
                             "[\"group:desk\"]}]}}") != 0) {
        free(channels);
        og_fake_stop(plat);
        og_test_redis_stop(&rs);
        unlink(clock_path);
        return 1;
    }
    free(channels);
    script_day();
    test_utc();
    test_zones();
    test_csat();
    test_roles_and_input();
    test_rebuild();
    test_exports();
    test_links();
    test_queue();
    test_hour_totals();
    test_tuple_sets();
    test_write_path();
    test_worker();

    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_fake_stop(plat);
    og_test_redis_stop(&rs);
    unlink(clock_path);
    return og_test_done();
}
