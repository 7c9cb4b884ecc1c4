/* test_ops_http - the conversation operations of #19 (parts 2, 4 and 6)
 * through the running daemon, with the example connector signed_json as
 * the customers' channel and a real redis-server:
 *   - groups: /api/v1/groups CRUD and its roles, a routing policy of the
 *     config whose group:NAME only the API fills, routing through it, delete
 *     refused while in use;
 *   - sensitive words: customers' messages in Latin with accents, Cyrillic
 *     and Japanese flagged (message JSON, GET /api/v1/flagged, a
 *     message.flagged webhook delivered to a fake endpoint), an agent's
 *     message blocked with 422 message_blocked and its terms, nothing
 *     stored;
 *   - canned responses: scopes by role, search, rendering for a session;
 *   - the timeline: GET /api/v1/sessions/{id}/timeline after routing, a
 *     transfer with a comment and a close, visible as the session is;
 *   - soft delete: a deleted agent's name stays in the timeline, its record
 *     answers with "deleted":true, its token no longer does. */
#include "og_test.h"
#include "og_util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define WHSEC "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static struct og_test_redis rs;
static struct og_test_daemon d;
static struct og_fake *hook;

/* One API call with token (NULL: the admin token); the answer parsed [xfer]. */
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

/* The status of one API call whose answer is not needed. */
static long call(const char *token, const char *method, const char *path, const char *body)
{
    long st;
    json_object_put(api(token, method, path, body, &st));
    return st;
}

/* A string at a path of keys ("error.code") in o; JSON null is "null",
 * other values their JSON text; "" when absent. */
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
        return "";
    return json_object_is_type(o, json_type_string)
               ? json_object_get_string(o)
               : json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

static size_t n_items(json_object *j)
{
    json_object *items = NULL;
    json_object_object_get_ex(j, "items", &items);
    return json_object_is_type(items, json_type_array) ? json_object_array_length(items) : 0;
}

static json_object *item(json_object *j, size_t i)
{
    json_object *items = NULL;
    json_object_object_get_ex(j, "items", &items);
    return json_object_array_get_idx(items, i);
}

/* A customer's message (a JSON string literal's contents as text); the
 * session id out, through Redis. */
static void customer(const char *user, const char *text, char sid[48])
{
    char *b = og_sprintf("{\"id\":\"evt-%s-%lld\",\"from\":{\"id\":\"%s\",\"name\":\"Name %s\"},"
                         "\"text\":\"%s\"}",
                         user, (long long)og_now_ms(), user, user, text);
    CHECK_INT(og_test_post_signed(&d, "demo", SECRET, b, strlen(b)), 200);
    free(b);
    char *s = og_test_redis_line(&rs, OG_TEST_BUCKET("HGET") "{og}:th:demo: %s", user);
    snprintf(sid, 48, "%s", s);
    free(s);
}

static void create_agent(const char *body, char id[48], char tok[80])
{
    long st;
    json_object *j = api(NULL, "POST", "/agents", body, &st);
    CHECK_INT(st, 201);
    snprintf(id, 48, "%s", at(j, "agent.id"));
    snprintf(tok, 80, "%s", at(j, "token"));
    json_object_put(j);
}

static void presence(const char *id, const char *tok, const char *status)
{
    char *path = og_sprintf("/agents/%s/presence", id);
    char *body = og_sprintf("{\"status\":\"%s\"}", status);
    CHECK_INT(call(tok, "PUT", path, body), 200);
    free(path), free(body);
}

/* Waits (up to 5 s) for the routing worker to give sid an agent. [xfer] */
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

static char ann[48], ann_tok[80], meg[48], meg_tok[80];

/* ---------------------------------------------------------------- groups */

static void test_groups(char sid[48])
{
    long st;
    /* the config names group:api-team; nobody is in it yet */
    json_object *g = api(ann_tok, "GET", "/groups", NULL, &st);
    CHECK_INT(st, 200);
    CHECK_INT(n_items(g), 1);
    CHECK_STR(at(item(g, 0), "name"), "api-team");
    CHECK_STR(at(item(g, 0), "routing"), "[\"default\"]");
    CHECK_STR(at(item(g, 0), "members"), "[]");
    json_object_put(g);
    CHECK_INT(call(NULL, "POST", "/groups", "{\"name\":\"api-team\"}"), 409);
    CHECK_INT(call(ann_tok, "POST", "/groups", "{\"name\":\"night\"}"), 403);
    CHECK_INT(call(meg_tok, "POST", "/groups", "{\"name\":\"night shift\"}"), 400);
    CHECK_INT(call(meg_tok, "POST", "/groups", "{\"name\":\"night\",\"colour\":\"red\"}"), 400);
    CHECK_INT(call(meg_tok, "POST", "/groups", "{\"name\":\"night\",\"members\":[\"agt_x\"]}"),
              400);
    char *body = og_sprintf("{\"name\":\"night\",\"members\":[\"%s\"]}", ann);
    g = api(meg_tok, "POST", "/groups", body, &st);
    free(body);
    CHECK_INT(st, 201);
    CHECK_STR(at(g, "name"), "night");
    CHECK(strstr(at(g, "members"), ann) != NULL);
    json_object_put(g);

    /* a customer waits: the policy's only group is empty */
    presence(ann, ann_tok, "online");
    customer("u1", "hello, my order", sid);
    usleep(300000);
    char *a = og_test_redis_line(&rs, "HGET {og}:ses:%s agent_id", sid);
    CHECK_STR(a, "");
    free(a);
    /* the API fills the config's group: routing finds Ann through it */
    char *path = og_sprintf("/groups/api-team/members/%s", ann);
    CHECK_INT(call(ann_tok, "PUT", path, NULL), 403);
    CHECK_INT(call(meg_tok, "PUT", path, NULL), 200);
    free(path);
    a = wait_agent(sid);
    CHECK_STR(a, ann);
    free(a);
    json_object *me = api(ann_tok, "GET", "/agents/me", NULL, &st);
    CHECK(strstr(at(me, "groups"), "api-team") && strstr(at(me, "groups"), "night"));
    json_object_put(me);

    /* a transfer to the group made through the API: Meg, its free member, gets it */
    path = og_sprintf("/groups/night/members/%s", meg);
    CHECK_INT(call(meg_tok, "PUT", path, NULL), 200);
    free(path);
    presence(meg, meg_tok, "online");
    char s9[48];
    customer("u9", "another question", s9);
    a = wait_agent(s9);
    CHECK_STR(a, ann); /* api-team: Ann only */
    free(a);
    path = og_sprintf("/sessions/%s/transfer", s9);
    CHECK_INT(call(ann_tok, "POST", path, "{\"group\":\"night\"}"), 200);
    free(path);
    a = og_test_redis_line(&rs, "HGET {og}:ses:%s agent_id", s9);
    CHECK_STR(a, meg); /* least chats in night: Meg 0, Ann 1 */
    free(a);
    a = og_test_redis_line(&rs, "HGET {og}:ses:%s group", s9);
    CHECK_STR(a, "night");
    free(a);

    /* rename, members, delete when unused */
    CHECK_INT(call(meg_tok, "PATCH", "/groups/api-team", "{\"name\":\"other\"}"), 409);
    g = api(meg_tok, "PATCH", "/groups/night", "{\"name\":\"late\"}", &st);
    CHECK_INT(st, 200);
    CHECK_STR(at(g, "name"), "late");
    json_object_put(g);
    CHECK_INT(call(meg_tok, "GET", "/groups/night", NULL), 404);
    a = og_test_redis_line(&rs, "HGET {og}:ses:%s group", s9); /* Meg's open session follows */
    CHECK_STR(a, "late");
    free(a);
    /* a rename with a missing member changes nothing */
    CHECK_INT(call(meg_tok, "PATCH", "/groups/late",
                   "{\"name\":\"later\",\"members\":[\"agt_00000000000000000000000000\"]}"),
              404);
    CHECK_INT(call(meg_tok, "GET", "/groups/later", NULL), 404);
    g = api(meg_tok, "DELETE", "/groups/late", NULL, &st);
    CHECK_INT(st, 409);
    CHECK_STR(at(g, "error.code"), "conflict");
    CHECK(strstr(at(g, "error.message"), "member") != NULL);
    json_object_put(g);
    CHECK_INT(call(meg_tok, "PATCH", "/groups/late", "{\"members\":[]}"), 200);
    CHECK_INT(call(meg_tok, "DELETE", "/groups/late", NULL), 200);
    CHECK_INT(call(meg_tok, "GET", "/groups/late", NULL), 404);
    CHECK_INT(call(meg_tok, "DELETE", "/groups/api-team", NULL), 409);
}

/* ------------------------------------------------------- sensitive words */

/* Waits (up to 5 s) for n message.flagged deliveries; returns how many came. */
static size_t wait_hooks(size_t n)
{
    for (int i = 0; i < 100 && og_fake_count(hook) < n; i++)
        usleep(50000);
    return og_fake_count(hook);
}

static void test_sensitive(const char *sid)
{
    long st;
    char s2[48], s3[48], s4[48];
    customer("u1", "Vous êtes un ÍDÍÖT", s2); /* the same session as u1's */
    CHECK_STR(s2, sid);
    customer("u2", "Ты идиотка", s3);
    customer("u3", "ﾊﾞｶやろう", s4);
    customer("u4", "idiomatic idiots", s4); /* neither is the whole word */

    json_object *f = api(meg_tok, "GET", "/flagged", NULL, &st);
    CHECK_INT(st, 200);
    CHECK_INT(n_items(f), 3);
    CHECK_STR(at(item(f, 0), "message.sensitive_terms"), "[\"バカ\"]");
    CHECK_STR(at(item(f, 0), "message.flags"), "[\"sensitive\"]");
    CHECK_STR(at(item(f, 1), "message.sensitive_terms"), "[\"идиот*\"]");
    CHECK_STR(at(item(f, 2), "message.sensitive_terms"), "[\"idiot\"]");
    CHECK_STR(at(item(f, 2), "session.id"), sid);
    json_object_put(f);
    CHECK_INT(call(ann_tok, "GET", "/flagged", NULL), 403);
    CHECK_INT(call(meg_tok, "GET", "/flagged?direction=sideways", NULL), 400);
    f = api(meg_tok, "GET", "/flagged?direction=out", NULL, &st);
    CHECK_INT(n_items(f), 0);
    json_object_put(f);

    /* message.flagged reached the subscription, once per message */
    CHECK_INT(wait_hooks(3), 3);
    int seen = 0;
    for (size_t i = 0; i < og_fake_count(hook); i++) {
        json_object *e = json_tokener_parse(og_fake_get(hook, i)->body);
        CHECK_STR(at(e, "type"), "message.flagged");
        seen += strcmp(at(e, "data.terms"), "[\"идиот*\"]") == 0;
        json_object_put(e);
    }
    CHECK_INT(seen, 1);

    /* Ann's words: refused (block_agents), nothing stored, then a clean one */
    char *path = og_sprintf("/sessions/%s/messages", sid);
    json_object *h = api(ann_tok, "GET", path, NULL, &st);
    size_t before = n_items(h);
    json_object_put(h);
    json_object *r = api(ann_tok, "POST", path, "{\"text\":\"I GUARANTEE a refund\"}", &st);
    CHECK_INT(st, 422);
    CHECK_STR(at(r, "error.code"), "message_blocked");
    CHECK_STR(at(r, "error.terms"), "[\"guarantee*\"]");
    json_object_put(r);
    h = api(ann_tok, "GET", path, NULL, &st);
    CHECK_INT(n_items(h), before);
    json_object_put(h);
    CHECK_INT(call(ann_tok, "POST", path, "{\"text\":\"We will look into it\"}"), 202);
    h = api(ann_tok, "GET", path, NULL, &st);
    CHECK_INT(n_items(h), before + 1);
    json_object_put(h);
    free(path);
    usleep(200000);
    CHECK_INT(og_fake_count(hook), 3); /* nothing flagged for the blocked one */
}

/* ---------------------------------------------------------------- canned */

static void test_canned(const char *sid)
{
    long st;
    CHECK_INT(call(ann_tok, "POST", "/canned",
                   "{\"shortcut\":\"#hello\",\"text\":\"Hi\",\"scope\":\"global\"}"),
              403);
    CHECK_INT(call(meg_tok, "POST", "/canned",
                   "{\"shortcut\":\"#hello\",\"text\":\"Hi {{survey_url}}\",\"scope\":\"global\"}"),
              400);
    json_object *c = api(meg_tok, "POST", "/canned",
                         "{\"shortcut\":\"#hello\",\"title\":\"Greeting\",\"text\":\"Hi "
                         "{{contact.name}}, {{agent.name}} here.\",\"scope\":\"global\"}",
                         &st);
    CHECK_INT(st, 201);
    char hello[48];
    snprintf(hello, sizeof hello, "%s", at(c, "id"));
    CHECK_STR(at(c, "scope"), "global");
    json_object_put(c);
    CHECK_INT(call(meg_tok, "POST", "/canned",
                   "{\"shortcut\":\"#HELLO\",\"text\":\"again\",\"scope\":\"global\"}"),
              409);
    c = api(ann_tok, "POST", "/canned", "{\"shortcut\":\"#hello-mine\",\"text\":\"Mine\"}", &st);
    CHECK_INT(st, 201);
    CHECK_STR(at(c, "scope"), "agent");
    CHECK_STR(at(c, "owner_id"), ann);
    char mine[48];
    snprintf(mine, sizeof mine, "%s", at(c, "id"));
    json_object_put(c);

    json_object *l = api(ann_tok, "GET", "/canned?q=%23hel", NULL, &st);
    CHECK_INT(st, 200);
    CHECK_INT(n_items(l), 2);
    CHECK_STR(at(item(l, 0), "shortcut"), "#hello");
    json_object_put(l);
    l = api(meg_tok, "GET", "/canned", NULL, &st); /* not Ann's own */
    CHECK_INT(n_items(l), 1);
    json_object_put(l);
    char *path = og_sprintf("/canned/%s", mine);
    CHECK_INT(call(meg_tok, "GET", path, NULL), 404);
    CHECK_INT(call(ann_tok, "PATCH", path, "{\"text\":\"Mine, edited\"}"), 200);
    CHECK_INT(call(ann_tok, "DELETE", path, NULL), 200);
    CHECK_INT(call(ann_tok, "GET", path, NULL), 404);
    free(path);

    path = og_sprintf("/canned/%s/render?session_id=%s", hello, sid);
    json_object *rj = api(ann_tok, "GET", path, NULL, &st);
    CHECK_INT(st, 200);
    CHECK_STR(at(rj, "text"), "Hi Name u1, Ann here.");
    json_object_put(rj);
    free(path);
    path = og_sprintf("/canned/%s/render", hello);
    CHECK_INT(call(ann_tok, "GET", path, NULL), 400);
    free(path);
}

/* ------------------------------------------------ timeline, soft delete */

static void test_timeline(const char *sid)
{
    long st;
    presence(meg, meg_tok, "online");
    char *body = og_sprintf("{\"agent_id\":\"%s\",\"comment\":\"billing question\"}", meg);
    char *path = og_sprintf("/sessions/%s/transfer", sid);
    CHECK_INT(call(ann_tok, "POST", path, body), 200);
    free(body), free(path);
    path = og_sprintf("/sessions/%s/close", sid);
    CHECK_INT(call(meg_tok, "POST", path, "{\"reason\":\"solved\"}"), 200);
    free(path);

    path = og_sprintf("/sessions/%s/timeline", sid);
    json_object *t = api(meg_tok, "GET", path, NULL, &st);
    CHECK_INT(st, 200);
    CHECK_INT(n_items(t), 4);
    CHECK_STR(at(item(t, 0), "kind"), "created");
    CHECK_STR(at(item(t, 0), "by.name"), "Name u1");
    CHECK_STR(at(item(t, 1), "kind"), "assigned");
    CHECK_STR(at(item(t, 1), "by.type"), "system");
    CHECK_STR(at(item(t, 1), "agent.name"), "Ann");
    CHECK_STR(at(item(t, 1), "group"), "api-team");
    CHECK_STR(at(item(t, 2), "kind"), "transferred");
    CHECK_STR(at(item(t, 2), "by.name"), "Ann");
    CHECK_STR(at(item(t, 2), "to.name"), "Meg");
    CHECK_STR(at(item(t, 2), "comment"), "billing question");
    CHECK_STR(at(item(t, 3), "kind"), "closed");
    CHECK_STR(at(item(t, 3), "by.name"), "Meg");
    json_object_put(t);
    CHECK_INT(call(ann_tok, "GET", path, NULL), 404); /* no longer Ann's to see */
    CHECK_INT(call(NULL, "GET", "/sessions/ses_nope/timeline", NULL), 404);
    char *paged = og_sprintf("%s?limit=3&cursor=3", path);
    t = api(NULL, "GET", paged, NULL, &st);
    CHECK_INT(n_items(t), 1);
    CHECK_STR(at(t, "next_cursor"), "null");
    json_object_put(t);
    free(paged);

    /* Ann is deleted: her name stays, she can no longer sign in */
    presence(ann, ann_tok, "offline");
    char *apath = og_sprintf("/agents/%s", ann);
    CHECK_INT(call(NULL, "DELETE", apath, NULL), 200);
    json_object *a = api(NULL, "GET", apath, NULL, &st);
    CHECK_INT(st, 200);
    CHECK_STR(at(a, "name"), "Ann");
    CHECK_STR(at(a, "deleted"), "true");
    json_object_put(a);
    CHECK_INT(call(ann_tok, "GET", "/agents/me", NULL), 401);
    json_object *l = api(NULL, "GET", "/agents", NULL, &st);
    CHECK(!strstr(json_object_to_json_string(l), ann));
    json_object_put(l);
    l = api(NULL, "GET", "/agents?deleted=true", NULL, &st);
    CHECK(strstr(json_object_to_json_string(l), ann) != NULL);
    json_object_put(l);
    t = api(meg_tok, "GET", path, NULL, &st);
    CHECK_STR(at(item(t, 1), "agent.name"), "Ann");
    CHECK_STR(at(item(t, 2), "by.name"), "Ann");
    json_object_put(t);
    json_object *g = api(meg_tok, "GET", "/groups/api-team", NULL, &st);
    CHECK_STR(at(g, "members"), "[]"); /* out of her groups */
    json_object_put(g);
    free(apath);
    free(path);
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    hook = og_fake_start();
    const char *channels =
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]";
    char *extra =
        og_sprintf("\"routing\":{\"default\":{\"levels\":[{\"name\":\"l\",\"members\":[\"group:api-"
                   "team\"]}]}},"
                   "\"sensitive_words\":{\"customers\":[\"idiot\",\"идиот*\",\"バカ\"],"
                   "\"agents\":[\"guarantee*\"],\"block_agents\":true},"
                   "\"webhooks\":[{\"id\":\"mon\",\"url\":\"%s/hook\",\"secret\":\"" WHSEC "\","
                   "\"events\":[\"message.flagged\"]}]",
                   og_fake_base(hook));
    if (og_test_daemon_start(&d, rs.url, channels, extra) != 0) {
        free(extra);
        og_fake_stop(hook);
        og_test_redis_stop(&rs);
        return 1;
    }
    free(extra);
    create_agent("{\"name\":\"Ann\",\"email\":\"ann@o.io\"}", ann, ann_tok);
    create_agent("{\"name\":\"Meg\",\"email\":\"meg@o.io\",\"role\":\"manager\"}", meg, meg_tok);
    char sid[48];
    test_groups(sid);
    test_sensitive(sid);
    test_canned(sid);
    test_timeline(sid);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_fake_stop(hook);
    og_test_redis_stop(&rs);
    return og_test_done();
}
