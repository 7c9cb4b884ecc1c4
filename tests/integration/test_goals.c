/* test_goals - chat goals (#19.5, ../shared/product/000-chat-goals.txt)
 * through the running daemon on a real redis-server, with the example
 * connector signed_json and OMNIGATE_TEST_DAY_S=2 (a window's day lasts
 * 2 s):
 *   - PUT/GET /api/v1/channels/{id}/goal: roles, validation (nothing
 *     changes), null removes, a goal from the config file is 409;
 *     POST /api/v1/contacts/{id}/events: roles, validation, 404;
 *   - none (no goal), in_process before the first reply (a greeting does
 *     not start the window, an event before it does not count), the
 *     snapshot at the agent's first reply (a goal change later does not
 *     touch it), achieved by a contact event (goal.achieved, stays
 *     achieved), achieved by a success code at close, missed when the
 *     window passes (goal.missed, a later event does not count, also for a
 *     closed session and across a restart);
 *   - reopen: achieved with the goal unchanged stays achieved; achieved
 *     with the goal changed, and not achieved (missed, and a window still
 *     open), are measured again from the agent's next reply against the
 *     goal then;
 *   - a conversation the agent starts is measured from the agent's reply
 *     after the customer's answer;
 *   - the per-day counters for statistics (closed, achieved, missed per
 *     channel and agent) and the timeline's goal entries. */
#include "og_test.h"
#include "og_util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"

static struct og_test_redis rs;
static struct og_test_daemon d;
static struct og_fake *plat;
static char ann[48], ann_tok[80], meg[48], meg_tok[80];

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
    json_object_put(api(token, method, path, body, &st));
    return st;
}

/* A value at a path of keys ("goal.status"): strings as they are, JSON null
 * "null", others their JSON text, "" when absent. [borrowed from o] */
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

static void customer(const char *user, const char *text, char sid[48])
{
    static int n;
    char *b = og_sprintf("{\"id\":\"evt-%s-%d\",\"from\":{\"id\":\"%s\",\"name\":\"Name %s\"},"
                         "\"text\":\"%s\"}",
                         user, ++n, user, user, text);
    CHECK_INT(og_test_post_signed(&d, "demo", SECRET, b, strlen(b)), 200);
    free(b);
    char *s = og_test_redis_line(&rs, OG_TEST_BUCKET("HGET") "{og}:th:demo: %s", user);
    snprintf(sid, 48, "%s", s);
    free(s);
}

/* The session's value at path, copied. */
static void field(const char *sid, const char *path, char *out, size_t n)
{
    long st;
    char *p = og_sprintf("/sessions/%s", sid);
    json_object *j = api(NULL, "GET", p, NULL, &st);
    free(p);
    CHECK_INT(st, 200);
    snprintf(out, n, "%s", at(j, path));
    json_object_put(j);
}

/* Checks the session's goal: status, event, window ("null" for none), and
 * whether started_at / achieved_at are set. */
static void goal_is(const char *sid, const char *status, const char *event, const char *days,
                    int started, int achieved, int line)
{
    long st;
    char *p = og_sprintf("/sessions/%s", sid);
    json_object *j = api(NULL, "GET", p, NULL, &st);
    free(p);
    int ok = !strcmp(at(j, "goal.status"), status) && !strcmp(at(j, "goal.event"), event) &&
             !strcmp(at(j, "goal.window_days"), days) &&
             (strcmp(at(j, "goal.started_at"), "null") != 0) == started &&
             (strcmp(at(j, "goal.achieved_at"), "null") != 0) == achieved;
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  line %d: want %s %s %s started %d achieved %d, got %s\n", line, status,
                event, days, started, achieved, at(j, "goal"));
    json_object_put(j);
}
#define GOAL_IS(sid, status, event, days, started, achieved)                                       \
    goal_is(sid, status, event, days, started, achieved, __LINE__)

static void contact_of(const char *sid, char cid[48])
{
    field(sid, "contact.id", cid, 48);
}

/* Reports a contact event as the manager; the achieved sessions' JSON text. */
static void event(const char *cid, const char *name, char *achieved, size_t n)
{
    long st;
    char *p = og_sprintf("/contacts/%s/events", cid);
    char *b = og_sprintf("{\"name\":\"%s\"}", name);
    json_object *j = api(meg_tok, "POST", p, b, &st);
    CHECK_INT(st, 200);
    CHECK_STR(at(j, "name"), name);
    snprintf(achieved, n, "%s", at(j, "achieved"));
    json_object_put(j);
    free(p), free(b);
}

static void put_goal(const char *body)
{
    CHECK_INT(call(meg_tok, "PUT", "/channels/demo/goal", body), 200);
}

static char *wait_agent(const char *sid)
{
    for (int i = 0; i < 100; i++) {
        char *a = og_test_redis_line(&rs, "HGET {og}:ses:%s agent_id", sid);
        if (*a)
            return a;
        free(a);
        usleep(50000);
    }
    return og_strdup("");
}

/* Ann (who routing gives every session) replies. */
static void reply(const char *sid)
{
    char *a = wait_agent(sid);
    CHECK_STR(a, ann);
    free(a);
    char *path = og_sprintf("/sessions/%s/messages", sid);
    CHECK_INT(call(ann_tok, "POST", path, "{\"text\":\"Let me help\"}"), 202);
    free(path);
}

static void close_with(const char *sid, const char *codes)
{
    char *path = og_sprintf("/sessions/%s/close", sid);
    char *body = og_sprintf("{\"reason\":\"solved\",\"success_codes\":%s}", codes);
    CHECK_INT(call(ann_tok, "POST", path, body), 200);
    free(path), free(body);
}

/* Events of type about sid in the stream. */
static int events(const char *sid, const char *type)
{
    char *out = og_test_redis_cli(&rs, "XRANGE {og}:events - +");
    char *t = og_sprintf("\"type\":\"%s\"", type);
    int n = 0;
    for (char *line = strtok(out ? out : "", "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, t) && strstr(line, sid))
            n++;
    free(t), free(out);
    return n;
}

/* A goal counter summed over the days kept (field "achieved:ch:demo"...). */
static long counter(const char *what, const char *scope, const char *id)
{
    char *out =
        og_test_redis_line(&rs,
                           "EVAL \"local n = 0 for _, key in ipairs(redis.call('KEYS', "
                           "'{og}:stats:goals:*')) do n = n + tonumber(redis.call('HGET', key, "
                           "ARGV[1]) or '0') end return n\" 0 %s:%s:%s",
                           what, scope, id);
    long n = atol(out);
    free(out);
    return n;
}

/* Timeline entries of kind goal with this status (and via, if given). */
static int goal_entries(const char *sid, const char *status, const char *via)
{
    long st;
    char *p = og_sprintf("/sessions/%s/timeline?limit=200", sid);
    json_object *j = api(NULL, "GET", p, NULL, &st), *items = NULL;
    free(p);
    int n = 0;
    json_object_object_get_ex(j, "items", &items);
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *e = json_object_array_get_idx(items, i);
        if (!strcmp(at(e, "kind"), "goal") && !strcmp(at(e, "status"), status) &&
            (!via || !strcmp(at(e, "via"), via)))
            n++;
    }
    json_object_put(j);
    return n;
}

static int wait_status(const char *sid, const char *status, int ms)
{
    char v[64] = "";
    for (int i = 0; i <= ms / 50; i++) {
        field(sid, "goal.status", v, sizeof v);
        if (!strcmp(v, status))
            return 1;
        usleep(50000);
    }
    fprintf(stderr, "  %s: goal %s, not %s\n", sid, v, status);
    return 0;
}

/* ------------------------------------------------------------ the tests */

static void test_api(void)
{
    long st;
    json_object *j = api(ann_tok, "GET", "/channels/demo/goal", NULL, &st);
    CHECK_INT(st, 200);
    CHECK_STR(at(j, "goal"), "null");
    CHECK_STR(at(j, "source"), "null");
    json_object_put(j);
    const char *good = "{\"event\":\"order_placed\",\"window_days\":1}";
    CHECK_INT(call(ann_tok, "PUT", "/channels/demo/goal", good), 403);
    CHECK_INT(call(meg_tok, "PUT", "/channels/nope/goal", good), 404);
    CHECK_INT(call(meg_tok, "PUT", "/channels/demo/goal",
                   "{\"event\":\"order_placed\",\"window_days\":2}"),
              400);
    CHECK_INT(call(meg_tok, "PUT", "/channels/demo/goal",
                   "{\"event\":\"order placed\",\"window_days\":1}"),
              400);
    CHECK_INT(call(meg_tok, "PUT", "/channels/demo/goal",
                   "{\"event\":\"order_placed\",\"window_days\":1,\"x\":1}"),
              400);
    CHECK_INT(call(meg_tok, "PUT", "/channels/demo/goal", "{\"event\":\"order_placed\"}"), 400);
    CHECK_INT(call(meg_tok, "PUT", "/channels/demo/goal", "[1]"), 400);
    CHECK_INT(call(meg_tok, "PUT", "/channels/demo/goal", "{"), 400);
    j = api(NULL, "GET", "/channels/demo/goal", NULL, &st);
    CHECK_STR(at(j, "goal"), "null"); /* nothing changed */
    json_object_put(j);
    /* the config file sets shop's goal */
    j = api(NULL, "GET", "/channels/shop/goal", NULL, &st);
    CHECK_STR(at(j, "goal.event"), "paid");
    CHECK_STR(at(j, "goal.window_days"), "3");
    CHECK_STR(at(j, "source"), "config");
    json_object_put(j);
    j = api(meg_tok, "PUT", "/channels/shop/goal", good, &st);
    CHECK_INT(st, 409);
    CHECK(strstr(at(j, "error.message"), "configuration file") != NULL);
    json_object_put(j);
    CHECK_INT(call(NULL, "PUT", "/channels/shop/goal", "null"), 409);
    /* set, read back, remove with null */
    j = api(meg_tok, "PUT", "/channels/demo/goal", good, &st);
    CHECK_INT(st, 200);
    CHECK_STR(at(j, "goal.event"), "order_placed");
    CHECK_STR(at(j, "source"), "api");
    json_object_put(j);
    j = api(NULL, "PUT", "/channels/demo/goal", "null", &st);
    CHECK_INT(st, 200);
    CHECK_STR(at(j, "goal"), "null");
    json_object_put(j);
    /* contact events */
    CHECK_INT(call(meg_tok, "POST", "/contacts/con_00000000000000000000000000/events",
                   "{\"name\":\"order_placed\"}"),
              404);
    CHECK_INT(call(meg_tok, "POST", "/contacts/nope/events", "{\"name\":\"order_placed\"}"), 404);
}

/* No goal, then the snapshot at the first reply: events before it and
 * other events do not count, the channel's goal changing does not touch
 * it, the goal event achieves it once. */
static void test_snapshot(char s1[48], char s2[48])
{
    char cid[48], got[256], v[64], at1[64];
    customer("c1", "hello", s1);
    GOAL_IS(s1, "none", "null", "null", 0, 0);
    reply(s1);
    put_goal("{\"event\":\"order_placed\",\"window_days\":1}");
    GOAL_IS(s1, "none", "null", "null", 0, 0); /* measured with no goal at its first reply */

    customer("c2", "I want to buy", s2);
    GOAL_IS(s2, "in_process", "order_placed", "1", 0, 0);
    /* the greeting (a system text) has gone out: the window has not started */
    for (int i = 0; i < 100 && strcmp(v, "system") != 0; i++) {
        char *m =
            og_test_redis_line(&rs,
                               "EVAL \"local ids = redis.call('ZRANGE', KEYS[1], 0, -1) for _, id "
                               "in ipairs(ids) do if redis.call('HGET', '{og}:msg:' .. id, 'auto') "
                               "then return 'system' end end return ''\" 1 {og}:ses:%s:msgs",
                               s2);
        snprintf(v, sizeof v, "%s", m);
        free(m);
        usleep(50000);
    }
    CHECK_STR(v, "system");
    GOAL_IS(s2, "in_process", "order_placed", "1", 0, 0);
    contact_of(s2, cid);
    CHECK_INT(call(ann_tok, "POST", "/contacts/x/events", "{\"name\":\"order_placed\"}"), 403);
    char *p = og_sprintf("/contacts/%s/events", cid);
    CHECK_INT(call(meg_tok, "POST", p, "{\"name\":\"order placed\"}"), 400);
    CHECK_INT(call(meg_tok, "POST", p, "{\"name\":\"order_placed\",\"at\":1}"), 400);
    free(p);
    event(cid, "order_placed", got, sizeof got); /* before the window: does not count */
    CHECK_STR(got, "[]");
    GOAL_IS(s2, "in_process", "order_placed", "1", 0, 0);

    reply(s2);
    GOAL_IS(s2, "in_process", "order_placed", "1", 1, 0);
    put_goal("{\"event\":\"signup\",\"window_days\":3}");
    GOAL_IS(s2, "in_process", "order_placed", "1", 1, 0); /* the snapshot holds */
    event(cid, "signup", got, sizeof got);
    CHECK_STR(got, "[]");
    long before = counter("achieved", "agent", ann);
    event(cid, "order_placed", got, sizeof got);
    char *want = og_sprintf("[\"%s\"]", s2);
    CHECK_STR(got, want);
    free(want);
    GOAL_IS(s2, "achieved", "order_placed", "1", 1, 1);
    CHECK_INT(events(s2, "goal.achieved"), 1);
    CHECK_INT(counter("achieved", "agent", ann), before + 1);
    field(s2, "goal.achieved_at", at1, sizeof at1);
    usleep(2500000); /* past the window: achieved stays */
    event(cid, "order_placed", got, sizeof got);
    CHECK_STR(got, "[]");
    GOAL_IS(s2, "achieved", "order_placed", "1", 1, 1);
    field(s2, "goal.achieved_at", v, sizeof v);
    CHECK_STR(v, at1);
    CHECK_INT(events(s2, "goal.achieved"), 1);
    CHECK_INT(events(s2, "goal.missed"), 0);
    CHECK_INT(goal_entries(s2, "in_process", NULL), 1);
    CHECK_INT(goal_entries(s2, "achieved", "event"), 1);
}

/* Missed when the window passes, closed or not; a success code other than
 * the goal does nothing; a late event does not count. */
static void test_missed(char s3[48])
{
    char cid[48], got[256];
    put_goal("{\"event\":\"order_placed\",\"window_days\":1}");
    customer("c3", "question", s3);
    reply(s3);
    long missed = counter("missed", "ch", "demo"), closed = counter("closed", "ch", "demo");
    close_with(s3, "[\"upsell\"]");
    CHECK_INT(counter("closed", "ch", "demo"), closed + 1);
    GOAL_IS(s3, "in_process", "order_placed", "1", 1, 0);
    CHECK(wait_status(s3, "missed", 5000));
    GOAL_IS(s3, "missed", "order_placed", "1", 1, 0);
    CHECK_INT(events(s3, "goal.missed"), 1);
    CHECK_INT(counter("missed", "ch", "demo"), missed + 1);
    contact_of(s3, cid);
    event(cid, "order_placed", got, sizeof got);
    CHECK_STR(got, "[]");
    GOAL_IS(s3, "missed", "order_placed", "1", 1, 0);
}

/* A success code of the goal's name at close achieves it. */
static void test_success_code(char s4[48])
{
    customer("c4", "buying", s4);
    reply(s4);
    long ach = counter("achieved", "ch", "demo"), closed = counter("closed", "agent", ann);
    close_with(s4, "[\"order_placed\"]");
    GOAL_IS(s4, "achieved", "order_placed", "1", 1, 1);
    CHECK_INT(events(s4, "goal.achieved"), 1);
    CHECK_INT(goal_entries(s4, "achieved", "success_code"), 1);
    CHECK_INT(counter("achieved", "ch", "demo"), ach + 1);
    CHECK_INT(counter("closed", "agent", ann), closed + 1);
}

/* Reopen, case 1: achieved and the goal unchanged: achieved it stays. */
static void test_reopen_unchanged(const char *s4)
{
    char started[64], achieved[64], v[64];
    field(s4, "goal.started_at", started, sizeof started);
    field(s4, "goal.achieved_at", achieved, sizeof achieved);
    customer("c4", "one more thing", (char[48]){0});
    field(s4, "status", v, sizeof v);
    CHECK(strcmp(v, "closed") != 0);
    GOAL_IS(s4, "achieved", "order_placed", "1", 1, 1);
    reply(s4);
    GOAL_IS(s4, "achieved", "order_placed", "1", 1, 1);
    field(s4, "goal.started_at", v, sizeof v);
    CHECK_STR(v, started);
    field(s4, "goal.achieved_at", v, sizeof v);
    CHECK_STR(v, achieved);
    CHECK_INT(events(s4, "goal.achieved"), 1);
}

/* Reopen, case 2: achieved but the goal changed: measured again from the
 * next reply against the new goal, and achieved anew. */
static void test_reopen_changed(const char *s2)
{
    char cid[48], got[256], v[64], old_start[64], old_at[64];
    close_with(s2, "[]");
    field(s2, "goal.started_at", old_start, sizeof old_start);
    field(s2, "goal.achieved_at", old_at, sizeof old_at);
    put_goal("{\"event\":\"signup\",\"window_days\":1}");
    GOAL_IS(s2, "achieved", "order_placed", "1", 1, 1); /* closed: the snapshot holds */
    customer("c2", "back again", (char[48]){0});
    GOAL_IS(s2, "in_process", "signup", "1", 0, 0);
    CHECK_INT(goal_entries(s2, "in_process", NULL), 2); /* started, reopened */
    reply(s2);
    GOAL_IS(s2, "in_process", "signup", "1", 1, 0);
    field(s2, "goal.started_at", v, sizeof v);
    CHECK(strcmp(v, old_start) > 0);
    contact_of(s2, cid);
    event(cid, "signup", got, sizeof got);
    CHECK(strstr(got, s2) != NULL);
    GOAL_IS(s2, "achieved", "signup", "1", 1, 1);
    field(s2, "goal.achieved_at", v, sizeof v);
    CHECK(strcmp(v, old_at) > 0);
    CHECK_INT(events(s2, "goal.achieved"), 2);
}

/* Reopen, case 3: not achieved (missed; and a window still open): measured
 * again from the next reply against the goal then. */
static void test_reopen_not_achieved(const char *s3)
{
    char cid[48], got[256], v[64], first[64];
    customer("c3", "still need help", (char[48]){0});
    GOAL_IS(s3, "in_process", "signup", "1", 0, 0);
    reply(s3);
    GOAL_IS(s3, "in_process", "signup", "1", 1, 0);
    contact_of(s3, cid);
    event(cid, "signup", got, sizeof got);
    CHECK(strstr(got, s3) != NULL);
    GOAL_IS(s3, "achieved", "signup", "1", 1, 1);

    /* a window still open when the session is closed and reopened */
    char s5[48];
    put_goal("{\"event\":\"signup\",\"window_days\":3}");
    customer("c5", "hi", s5);
    reply(s5);
    GOAL_IS(s5, "in_process", "signup", "3", 1, 0);
    field(s5, "goal.started_at", first, sizeof first);
    close_with(s5, "[]");
    customer("c5", "me again", (char[48]){0});
    GOAL_IS(s5, "in_process", "signup", "3", 0, 0);
    usleep(20000);
    reply(s5);
    field(s5, "goal.started_at", v, sizeof v);
    CHECK(strcmp(v, first) > 0);
    GOAL_IS(s5, "in_process", "signup", "3", 1, 0);
}

/* A conversation the agent starts: measured from the agent's reply to the
 * customer's answer. */
static void test_agent_started(const char *s1)
{
    char v[64];
    long closed = counter("closed", "ch", "demo");
    close_with(s1, "[]");
    CHECK_INT(counter("closed", "ch", "demo"), closed); /* it had no goal */
    char cid[48];
    contact_of(s1, cid);
    char *body = og_sprintf("{\"channel\":\"demo\",\"contact_id\":\"%s\",\"text\":\"News!\"}", cid);
    CHECK_INT(call(ann_tok, "POST", "/sessions", body), 201);
    free(body);
    GOAL_IS(s1, "in_process", "signup", "3", 0, 0);
    field(s1, "status", v, sizeof v);
    CHECK_STR(v, "awaiting");
    customer("c1", "tell me more", (char[48]){0});
    GOAL_IS(s1, "in_process", "signup", "3", 0, 0);
    reply(s1);
    GOAL_IS(s1, "in_process", "signup", "3", 1, 0);
}

/* The window's timer fires after a restart. */
static void test_restart(void)
{
    char s6[48];
    put_goal("{\"event\":\"signup\",\"window_days\":1}");
    customer("c6", "hello", s6);
    reply(s6);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    usleep(2500000); /* the window ends while nobody runs */
    char *st = og_test_redis_line(&rs, "HGET {og}:ses:%s g_st", s6);
    CHECK_STR(st, "in_process");
    free(st);
    CHECK_INT(og_test_daemon_restart(&d), 0);
    CHECK(wait_status(s6, "missed", 5000));
    CHECK_INT(events(s6, "goal.missed"), 1);
}

int main(void)
{
    setenv("OMNIGATE_TEST_DAY_S", "2", 1);
    if (og_test_redis_start(&rs) != 0)
        return 1;
    plat = og_fake_start();
    char *channels = og_sprintf(
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"%s/r\"},\"texts\":{\"greeting\":\"Hello!\"}},"
        "{\"id\":\"shop\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"%s/r\"},\"goal\":{\"event\":\"paid\",\"window_days\":3}}]",
        og_fake_base(plat), og_fake_base(plat));
    if (og_test_daemon_start(&d, rs.url, channels, NULL) != 0) {
        free(channels);
        og_fake_stop(plat);
        og_test_redis_stop(&rs);
        return 1;
    }
    free(channels);
    long st;
    json_object *j = api(NULL, "POST", "/agents", "{\"name\":\"Ann\",\"email\":\"ann@o.io\"}", &st);
    snprintf(ann, sizeof ann, "%s", at(j, "agent.id"));
    snprintf(ann_tok, sizeof ann_tok, "%s", at(j, "token"));
    json_object_put(j);
    j = api(NULL, "POST", "/agents",
            "{\"name\":\"Meg\",\"email\":\"meg@o.io\",\"role\":\"manager\"}", &st);
    snprintf(meg, sizeof meg, "%s", at(j, "agent.id"));
    snprintf(meg_tok, sizeof meg_tok, "%s", at(j, "token"));
    json_object_put(j);
    char *path = og_sprintf("/agents/%s/presence", ann);
    CHECK_INT(call(ann_tok, "PUT", path, "{\"status\":\"online\"}"), 200);
    free(path);

    char s1[48], s2[48], s3[48], s4[48];
    test_api();
    test_snapshot(s1, s2);
    test_missed(s3);
    test_success_code(s4);
    test_reopen_unchanged(s4);
    test_reopen_changed(s2);
    test_reopen_not_achieved(s3);
    test_agent_started(s1);
    test_restart();
    /* every goal state above, rendered by the list (C) as by one GET (Lua) */
    CHECK(og_test_render_agrees(&d) >= 4);
    CHECK(og_test_messages_agree(&d, rs.port) > 0);

    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_fake_stop(plat);
    og_test_redis_stop(&rs);
    return og_test_done();
}
