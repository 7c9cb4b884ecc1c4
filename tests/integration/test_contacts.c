/* test_contacts - GET and PATCH /api/v1/contacts/{id} through the daemon
 * against a real redis-server: validation (bad e-mail, bad phone, unknown
 * field, wrong types, empty body -> 400 with nothing changed; unknown or
 * malformed id -> 404), a good PATCH returns and stores the contact, sessions
 * show it, and later inbound messages do not overwrite the fields the
 * business set (the 'locked' list) while still updating the others; clearing
 * with null; opt-out round trip; auth. */
#include "og_render.h"
#include "og_test.h"
#include "og_util.h"

#include <hiredis/hiredis.h>

#include <stdlib.h>
#include <string.h>

#define SECRET "s3cret-key"
#define CHANNELS                                                                                   \
    "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET            \
    "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]"
#define AUTH "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\nContent-Type: application/json"

static long post_msg(struct og_test_daemon *d, const char *id, const char *profile,
                     const char *text)
{
    char *body = og_sprintf("{\"id\":\"%s\",\"from\":%s,\"text\":\"%s\"}", id, profile, text);
    long st = og_test_post_signed(d, "demo", SECRET, body, strlen(body));
    free(body);
    return st;
}

static long req(struct og_test_daemon *d, const char *method, const char *path, const char *headers,
                const char *body, char **out)
{
    char *url = og_sprintf("%s/api/v1%s", d->base, path);
    struct og_test_resp r = og_test_http(method, url, headers, body, body ? strlen(body) : 0);
    free(url);
    if (out)
        *out = r.body;
    else
        free(r.body);
    return r.status;
}

static const char *jget(json_object *o, const char *k)
{
    return json_object_get_string(json_object_object_get(o, k));
}

/* og_render_js escapes every byte as Redis's cjson.encode does: the list's
 * sessions (C) and the events' (Lua) carry the same text. */
static void test_js_escapes(const struct og_test_redis *rs)
{
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    redisContext *rc = redisConnect("127.0.0.1", rs->port);
    CHECK(rc && !rc->err);
    redisReply *r =
        redisCommand(rc, "EVAL %s 0 %b", "return cjson.encode(ARGV[1])", all, sizeof all);
    CHECK(r && r->type == REDIS_REPLY_STRING);
    struct og_buf b = {0};
    og_render_js(&b, all, sizeof all);
    CHECK(r && b.len == r->len && memcmp(b.data, r->str, b.len) == 0);
    og_buf_free(&b);
    if (r)
        freeReplyObject(r);
    redisFree(rc);
}

int main(void)
{
    struct og_test_redis rs;
    struct og_test_daemon d;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    if (og_test_daemon_start(&d, rs.url, CHANNELS, NULL) != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    CHECK_INT(post_msg(&d, "m-1", "{\"id\":\"u1\",\"name\":\"Ann\",\"phone\":\"+1555\"}", "hi"),
              200);
    long st;
    json_object *l = og_test_api_get(&d, "/api/v1/sessions?channel=demo", &st);
    json_object *s0 = json_object_array_get_idx(json_object_object_get(l, "items"), 0);
    json_object *c0 = json_object_object_get(s0, "contact");
    char *cid = og_strdup(jget(c0, "id"));
    char *sid = og_strdup(jget(s0, "id"));
    CHECK(cid && strncmp(cid, "con_", 4) == 0);
    CHECK(json_object_object_get_ex(c0, "followups_opt_out", NULL));
    json_object_put(l);
    char *path = og_sprintf("/contacts/%s", cid);

    /* GET */
    char *before = NULL;
    CHECK_INT(req(&d, "GET", path, AUTH, NULL, &before), 200);
    json_object *cj = json_tokener_parse(before);
    CHECK_STR(jget(cj, "name"), "Ann");
    CHECK_STR(jget(cj, "phone"), "+1555");
    CHECK(json_object_get_boolean(json_object_object_get(cj, "followups_opt_out")) == 0);
    json_object_put(cj);
    CHECK_INT(req(&d, "GET", path, NULL, NULL, NULL), 401);
    CHECK_INT(req(&d, "GET", "/contacts/con_00000000000000000000000000", AUTH, NULL, NULL), 404);
    CHECK_INT(req(&d, "GET", "/contacts/nope", AUTH, NULL, NULL), 404);

    /* PATCH validation: 400 and nothing changed */
    static const char *const bad[] = {
        "{\"email\":\"not-an-address\"}",
        "{\"email\":\"a b@example.com\"}",
        "{\"email\":\"ann@example\"}",
        "{\"email\":\"ann@exa mple.com\"}",
        "{\"email\":\"x@y.com\\r\\nBcc: evil@example.com\"}",
        "{\"name\":\"Ann\",\"email\":\"bad\"}", /* one bad field: nothing at all is set */
        "{\"phone\":\"call me\"}",
        "{\"phone\":\"+1 (555) 0100 1234 5678 9999\"}",
        "{\"name\":42}",
        "{\"name\":\"line\\nbreak\"}",
        "{\"followups_opt_out\":\"yes\"}",
        "{\"nickname\":\"A\"}",
        "{}",
        "[]",
        "{\"name\":",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *out = NULL;
        long code = req(&d, "PATCH", path, AUTH, bad[i], &out);
        if (code != 400)
            fprintf(stderr, "  body %s -> %ld %s\n", bad[i], code, out);
        CHECK_INT(code, 400);
        CHECK(strstr(out, "\"error\"") != NULL);
        free(out);
    }
    char *after = NULL;
    CHECK_INT(req(&d, "GET", path, AUTH, NULL, &after), 200);
    CHECK_STR(after, before);
    free(after);
    CHECK_INT(req(&d, "PATCH", "/contacts/con_00000000000000000000000000", AUTH, "{\"name\":\"X\"}",
                  NULL),
              404);
    CHECK_INT(req(&d, "PATCH", "/contacts/bogus", AUTH, "{\"name\":\"X\"}", NULL), 404);
    CHECK_INT(req(&d, "PATCH", path, NULL, "{\"name\":\"X\"}", NULL), 401);

    /* a good PATCH */
    char *out = NULL;
    CHECK_INT(req(&d, "PATCH", path, AUTH,
                  "{\"name\":\"Ann Smith\",\"email\":\"ann.smith@example.org\","
                  "\"followups_opt_out\":true}",
                  &out),
              200);
    cj = json_tokener_parse(out);
    CHECK_STR(jget(cj, "name"), "Ann Smith");
    CHECK_STR(jget(cj, "email"), "ann.smith@example.org");
    CHECK_STR(jget(cj, "phone"), "+1555");
    CHECK(json_object_get_boolean(json_object_object_get(cj, "followups_opt_out")) == 1);
    CHECK_STR(jget(cj, "id"), cid);
    json_object_put(cj);
    free(out);
    /* the session shows the new contact */
    char *spath = og_sprintf("/api/v1/sessions/%s", sid);
    json_object *sj = og_test_api_get(&d, spath, &st);
    CHECK_STR(jget(json_object_object_get(sj, "contact"), "name"), "Ann Smith");
    json_object_put(sj);

    /* the platform's profile no longer overwrites name/email, still phone */
    CHECK_INT(post_msg(&d, "m-2",
                       "{\"id\":\"u1\",\"name\":\"ann_platform\",\"email\":\"old@example.com\","
                       "\"phone\":\"+1666\"}",
                       "again"),
              200);
    CHECK_INT(req(&d, "GET", path, AUTH, NULL, &out), 200);
    cj = json_tokener_parse(out);
    CHECK_STR(jget(cj, "name"), "Ann Smith");
    CHECK_STR(jget(cj, "email"), "ann.smith@example.org");
    CHECK_STR(jget(cj, "phone"), "+1666");
    json_object_put(cj);
    free(out);

    /* clearing with null, and opting back in */
    CHECK_INT(req(&d, "PATCH", path, AUTH, "{\"phone\":null,\"followups_opt_out\":false}", &out),
              200);
    cj = json_tokener_parse(out);
    CHECK(json_object_object_get(cj, "phone") == NULL);
    CHECK(json_object_get_boolean(json_object_object_get(cj, "followups_opt_out")) == 0);
    json_object_put(cj);
    free(out);
    /* and it stays cleared: phone is locked now */
    CHECK_INT(post_msg(&d, "m-3", "{\"id\":\"u1\",\"phone\":\"+1777\"}", "third"), 200);
    CHECK_INT(req(&d, "GET", path, AUTH, NULL, &out), 200);
    cj = json_tokener_parse(out);
    CHECK(json_object_object_get(cj, "phone") == NULL);
    json_object_put(cj);
    free(out);

    /* follow-ups list of a session without any, and of an unknown session */
    char *fpath = og_sprintf("/sessions/%s/followups", sid);
    CHECK_INT(req(&d, "GET", fpath, AUTH, NULL, &out), 200);
    CHECK(strstr(out, "\"items\":[]") != NULL);
    free(out);
    CHECK_INT(
        req(&d, "GET", "/sessions/ses_00000000000000000000000000/followups", AUTH, NULL, NULL),
        404);

    free(before), free(path), free(spath), free(fpath), free(cid), free(sid);
    test_js_escapes(&rs);
    /* a name with every kind of character JSON escapes, and more */
    CHECK_INT(post_msg(&d, "m-9",
                       "{\"id\":\"u0\",\"name\":\"Q\\\"/\\\\\\b\\f\\u0001\\u007f\\t"
                       "\\u00e9\\ud83d\\ude00 <x>\",\"username\":\"a/b\"}",
                       "first"),
              200);
    /* edited contacts: the list (C) renders them as one GET (Lua) does */
    CHECK(og_test_render_agrees(&d) > 0);
    CHECK(og_test_messages_agree(&d, rs.port) >= 2);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    return og_test_done();
}
