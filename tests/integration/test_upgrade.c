/* test_upgrade - the compact storage of #22 reads the same as before, and
 * data an older version wrote still reads (daemon + real redis-server):
 *   - a customer's message is stored compactly (field m, prelude.lua
 *     msg_pack: no 'j', and no 'st' while it is delivered), and the API
 *     shows it exactly as the
 *     message.received event carried it (values and key order), for a text
 *     with quotes, key-like runs, a tab and non-ASCII, attachments with a
 *     location, and a reply; its attachment is found (og_attachments.c
 *     decodes m);
 *   - the same message rewritten as an older version stored it (field j)
 *     reads the same;
 *   - a contact has no stored JSON any more; an older contact's stale 'j' is
 *     not shown (the fields are), and goes at its next change;
 *   - a session a customer's message created has no timeline list: its
 *     "created" entry is implied (tl0) and shown as it was written before;
 *     the next entry (a close) writes the list with it first;
 *   - last_customer_message_at is rendered from last_customer_ms, or shown
 *     as an older version stored it;
 *   - an older version's provider id key de-duplicates and resolves a reply,
 *     and its thread key finds the thread's session. */
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define CHANNELS                                                                                   \
    "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET            \
    "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]"
#define AUTH "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\nContent-Type: application/json"

static struct og_test_redis rs;

static long post(struct og_test_daemon *d, const char *body)
{
    return og_test_post_signed(d, "demo", SECRET, body, strlen(body));
}

/* redis-cli's answer with its trailing newline cut [xfer] */
static char *cli(const char *args)
{
    char *o = og_test_redis_cli(&rs, args);
    if (!o)
        return og_strdup("");
    o[strcspn(o, "\r\n")] = 0;
    return o;
}

/* HSET key field <value>, the value passed through a file (any bytes) */
static void hset_file(const char *key, const char *field, const char *value)
{
    char path[] = "/tmp/og_upgrade_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK(write(fd, value, strlen(value)) == (ssize_t)strlen(value));
    close(fd);
    char *args = og_sprintf("-x HSET %s %s < %s", key, field, path);
    free(og_test_redis_cli(&rs, args));
    free(args);
    unlink(path);
}

/* The message.received events' messages by id (one object, keys = ids). */
static json_object *received(void)
{
    char *all = og_test_redis_cli(&rs, "XRANGE {og}:events - +");
    json_object *out = json_object_new_object();
    for (char *line = strtok(all ? all : "", "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "{\"id\":", 6) != 0 || !strstr(line, "\"type\":\"message.received\""))
            continue;
        json_object *ev = json_tokener_parse(line), *data = NULL, *m = NULL, *id = NULL;
        if (ev && json_object_object_get_ex(ev, "data", &data) &&
            json_object_object_get_ex(data, "message", &m) &&
            json_object_object_get_ex(m, "id", &id))
            json_object_object_add(out, json_object_get_string(id), json_object_get(m));
        json_object_put(ev);
    }
    free(all);
    return out;
}

/* The top-level keys of o in order, comma-joined [xfer]. */
static char *key_order(json_object *o)
{
    struct og_buf b = {0};
    og_buf_puts(&b, "");
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        og_buf_printf(&b, "%s,", key);
    }
    return b.data;
}

/* The session's history through the API: each message equals the event's
 * (values and key order). Returns the items [xfer]. */
static json_object *check_history(struct og_test_daemon *d, const char *sid, json_object *events,
                                  size_t want)
{
    char *path = og_sprintf("/api/v1/sessions/%s/messages", sid);
    long st = 0;
    json_object *page = og_test_api_get(d, path, &st);
    free(path);
    CHECK_INT(st, 200);
    json_object *items = NULL;
    json_object_object_get_ex(page, "items", &items);
    CHECK_INT(items ? (long long)json_object_array_length(items) : -1, (long long)want);
    for (size_t i = 0; items && i < json_object_array_length(items); i++) {
        json_object *m = json_object_array_get_idx(items, i), *id = NULL, *ev = NULL;
        json_object_object_get_ex(m, "id", &id);
        CHECK(json_object_object_get_ex(events, json_object_get_string(id), &ev));
        CHECK(json_object_equal(m, ev));
        char *a = key_order(m), *b = key_order(ev);
        CHECK_STR(a, b);
        if (!json_object_equal(m, ev))
            fprintf(stderr, "  api   %s\n  event %s\n", json_object_to_json_string(m),
                    json_object_to_json_string(ev));
        free(a);
        free(b);
    }
    json_object *out = json_object_get(items);
    json_object_put(page);
    return out;
}

static const char *sget(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

int main(void)
{
    struct og_test_daemon d;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    if (og_test_daemon_start(&d, rs.url, CHANNELS, NULL) != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    /* text that looks like the coded keys, escapes, a tab, non-ASCII */
    CHECK_INT(post(&d, "{\"id\":\"m-1\",\"from\":{\"id\":\"u1\",\"name\":\"Ann \\\"A\\\"\","
                       "\"phone\":\"+1555\"},\"text\":\"say \\\"kind\\\": {\\\"text\\\":1},"
                       "\\\"url\\\":\\u0001\\ttab \\u00fcn\\u00ef \\ud83c\\udf89\","
                       "\"attachments\":[{\"url\":\"http://127.0.0.1:9/a.png\","
                       "\"mime_type\":\"image/png\",\"name\":\"a,\\\"name\\\":.png\",\"size\":12}],"
                       "\"location\":{\"latitude\":52.52,\"longitude\":13.405,\"name\":\"here\"}}"),
              200);
    CHECK_INT(post(&d, "{\"id\":\"m-2\",\"from\":{\"id\":\"u1\"},\"text\":\"and a reply\","
                       "\"reply_to\":\"m-1\"}"),
              200);
    long st;
    json_object *l = og_test_api_get(&d, "/api/v1/sessions?channel=demo", &st);
    json_object *s0 = json_object_array_get_idx(json_object_object_get(l, "items"), 0);
    char *sid = og_strdup(sget(s0, "id"));
    char *cid = og_strdup(sget(json_object_object_get(s0, "contact"), "id"));
    json_object_put(l);
    CHECK(strncmp(sid, "ses_", 4) == 0 && strncmp(cid, "con_", 4) == 0);

    /* stored compactly, shown as the events carried it */
    json_object *events = received();
    CHECK_INT(json_object_object_length(events), 2);
    json_object *items = check_history(&d, sid, events, 2);
    json_object *m1 = json_object_array_get_idx(items, 0),
                *m2 = json_object_array_get_idx(items, 1);
    char *mid1 = og_strdup(sget(m1, "id")), *mid2 = og_strdup(sget(m2, "id"));
    CHECK_STR(sget(m2, "reply_to"), mid1);
    CHECK_STR(sget(m1, "direction"), "in");
    CHECK(strstr(sget(m1, "text"), "\"kind\": {\"text\":1},\"url\":\001\ttab") != NULL);
    char *args = og_sprintf("HEXISTS {og}:msg:%s j", mid1);
    char *o = cli(args);
    CHECK_STR(o, "0");
    free(o);
    free(args);
    args = og_sprintf("HEXISTS {og}:msg:%s m", mid1);
    o = cli(args);
    CHECK_STR(o, "1");
    free(o);
    free(args);
    /* its attachment is found (fetching it from port 9 fails: not a 404) */
    char *url = og_sprintf("%s/api/v1/messages/%s/attachments/0", d.base, mid1);
    struct og_test_resp r = og_test_http("GET", url, AUTH, NULL, 0);
    CHECK(r.status != 404 && r.status != 0);
    free(r.body);
    free(url);
    url = og_sprintf("%s/api/v1/messages/%s/attachments/1", d.base, mid1);
    r = og_test_http("GET", url, AUTH, NULL, 0);
    CHECK_INT(r.status, 404);
    free(r.body);
    free(url);

    /* a compact message's status, delivered, is implied: no field st */
    args = og_sprintf("HEXISTS {og}:msg:%s st", mid1);
    o = cli(args);
    CHECK_STR(o, "0");
    free(o);
    free(args);

    /* an older version's format: j is the JSON without status and closing
     * brace, st its status; m gone. Reads the same. */
    const char *tails[] = {",\"status\":\"delivered\",\"error\":null}"};
    for (int i = 0; i < 2; i++) {
        json_object *ev = NULL;
        json_object_object_get_ex(events, i ? mid2 : mid1, &ev);
        const char *full = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t n = strlen(full), t = strlen(tails[0]);
        CHECK(n > t && strcmp(full + n - t, tails[0]) == 0);
        char *j = og_sprintf("%.*s", (int)(n - t), full);
        char *key = og_sprintf("{og}:msg:%s", i ? mid2 : mid1);
        hset_file(key, "j", j);
        args = og_sprintf("HSET %s st delivered", key);
        free(og_test_redis_cli(&rs, args));
        free(args);
        args = og_sprintf("HDEL %s m", key);
        free(og_test_redis_cli(&rs, args));
        free(args);
        free(key);
        free(j);
    }
    json_object_put(items);
    items = check_history(&d, sid, events, 2);
    json_object_put(items);
    args = og_sprintf("HEXISTS {og}:msg:%s m", mid1);
    o = cli(args);
    CHECK_STR(o, "0");
    free(o);
    free(args);
    url = og_sprintf("%s/api/v1/messages/%s/attachments/0", d.base, mid1);
    r = og_test_http("GET", url, AUTH, NULL, 0);
    CHECK(r.status != 404 && r.status != 0);
    free(r.body);
    free(url);

    /* provider ids: an older version's string key still de-duplicates and
     * resolves a reply (prelude.lua pmid_get); new ones are bucket fields */
    args = og_sprintf("SET {og}:pmid:demo:old-1 %s", mid1);
    free(og_test_redis_cli(&rs, args));
    free(args);
    CHECK_INT(post(&d, "{\"id\":\"old-1\",\"from\":{\"id\":\"u1\"},\"text\":\"dup\"}"), 200);
    CHECK_INT(post(&d, "{\"id\":\"m-4\",\"from\":{\"id\":\"u1\"},\"text\":\"re\","
                       "\"reply_to\":\"old-1\"}"),
              200);
    o = cli("EXISTS {og}:pmid:demo:m-4");
    CHECK_STR(o, "0");
    free(o);
    o = cli("EVAL \"return redis.call('HGET', KEYS[1] .. redis.sha1hex(ARGV[1]):sub(1, 3), "
            "ARGV[1])\" 1 {og}:pm:demo: m-4");
    CHECK(strncmp(o, "msg_", 4) == 0);
    free(o);
    json_object_put(events);
    events = received();
    items = check_history(&d, sid, events, 3); /* old-1 was a duplicate */
    CHECK_STR(sget(json_object_array_get_idx(items, 2), "reply_to"), mid1);
    json_object_put(items);

    /* threads: an older version's string key still finds the session */
    o = cli(OG_TEST_BUCKET("HGET") "{og}:th:demo: u1");
    CHECK_STR(o, sid);
    free(o);
    free(og_test_redis_cli(&rs, OG_TEST_BUCKET("HDEL") "{og}:th:demo: u1"));
    args = og_sprintf("SET {og}:thread:demo:u1 %s", sid);
    free(og_test_redis_cli(&rs, args));
    free(args);
    CHECK_INT(post(&d, "{\"id\":\"m-5\",\"from\":{\"id\":\"u1\"},\"text\":\"still here\"}"), 200);
    json_object_put(events);
    events = received();
    items = check_history(&d, sid, events, 4); /* the same session */
    json_object_put(items);
    l = og_test_api_get(&d, "/api/v1/sessions?channel=demo", &st);
    CHECK_INT((long long)json_object_array_length(json_object_object_get(l, "items")), 1);
    json_object_put(l);

    /* contacts: no stored JSON; an older one's stale j is not shown */
    char *ckey = og_sprintf("{og}:con:%s", cid);
    args = og_sprintf("HEXISTS %s j", ckey);
    o = cli(args);
    CHECK_STR(o, "0");
    free(o);
    hset_file(ckey, "j", "{\"id\":\"x\",\"name\":\"Stale\"}");
    char *cpath = og_sprintf("/api/v1/contacts/%s", cid);
    json_object *c = og_test_api_get(&d, cpath, &st);
    CHECK_INT(st, 200);
    CHECK_STR(sget(c, "id"), cid);
    CHECK_STR(sget(c, "name"), "Ann \"A\"");
    CHECK_STR(sget(c, "phone"), "+1555");
    json_object_put(c);
    CHECK_INT(
        post(&d, "{\"id\":\"m-3\",\"from\":{\"id\":\"u1\",\"name\":\"Annie\"},\"text\":\"x\"}"),
        200);
    o = cli(args);
    CHECK_STR(o, "0"); /* the change dropped the stale copy */
    free(o);
    free(args);
    c = og_test_api_get(&d, cpath, &st);
    CHECK_STR(sget(c, "name"), "Annie");
    json_object_put(c);
    char *spath = og_sprintf("/api/v1/sessions/%s", sid);
    json_object *s = og_test_api_get(&d, spath, &st);
    CHECK_STR(sget(json_object_object_get(s, "contact"), "name"), "Annie");
    /* last_customer_message_at is rendered from last_customer_ms: the same
     * instant as last_message_at (one customer message set both) */
    CHECK(sget(s, "last_customer_message_at") != NULL);
    CHECK_STR(sget(s, "last_customer_message_at"), sget(s, "last_message_at"));
    json_object_put(s);
    /* an older session stored the text; without the ms it is shown */
    char *hs = og_sprintf("HDEL {og}:ses:%s last_customer_ms", sid);
    free(og_test_redis_cli(&rs, hs));
    free(hs);
    hs = og_sprintf("HSET {og}:ses:%s last_customer_message_at 2020-01-02T03:04:05.678Z", sid);
    free(og_test_redis_cli(&rs, hs));
    free(hs);
    s = og_test_api_get(&d, spath, &st);
    CHECK_STR(sget(s, "last_customer_message_at"), "2020-01-02T03:04:05.678Z");
    json_object_put(s);

    /* the timeline: a session a customer's message created keeps no list
     * (tl0 implies its "created" entry); the next entry writes the list with
     * that entry first, the same as shown before */
    char *tlk = og_sprintf("EXISTS {og}:ses:%s:tl", sid);
    o = cli(tlk);
    CHECK_STR(o, "0");
    free(o);
    char *tpath = og_sprintf("/api/v1/sessions/%s/timeline", sid);
    json_object *tl = og_test_api_get(&d, tpath, &st);
    CHECK_INT(st, 200);
    json_object *tli = json_object_object_get(tl, "items");
    CHECK_INT(tli ? (long long)json_object_array_length(tli) : -1, 1);
    json_object *e0 = json_object_array_get_idx(tli, 0);
    char *created = og_strdup(json_object_to_json_string_ext(e0, JSON_C_TO_STRING_PLAIN));
    s = og_test_api_get(&d, spath, &st);
    char *want = og_sprintf("{\"at\":\"%s\",\"kind\":\"created\",\"by\":{\"type\":\"contact\","
                            "\"id\":\"%s\",\"name\":\"Ann \\\"A\\\"\"},\"channel\":\"demo\","
                            "\"origin\":\"customer\"}",
                            sget(s, "created_at"), cid);
    CHECK_STR(created, want);
    free(want);
    json_object_put(s);
    json_object_put(tl);
    char *curl = og_sprintf("%s/api/v1/sessions/%s/close", d.base, sid);
    r = og_test_http("POST", curl, AUTH, "{\"reason\":\"solved\"}", 19);
    CHECK_INT(r.status, 200);
    free(r.body);
    free(curl);
    o = cli(tlk);
    CHECK_STR(o, "1");
    free(o);
    tl = og_test_api_get(&d, tpath, &st);
    tli = json_object_object_get(tl, "items");
    CHECK_INT(tli ? (long long)json_object_array_length(tli) : -1, 2);
    CHECK_STR(
        json_object_to_json_string_ext(json_object_array_get_idx(tli, 0), JSON_C_TO_STRING_PLAIN),
        created);
    CHECK_STR(sget(json_object_array_get_idx(tli, 1), "kind"), "closed");
    json_object_put(tl);
    char *hk = og_sprintf("HEXISTS {og}:ses:%s tl0", sid);
    o = cli(hk);
    CHECK_STR(o, "0");
    free(o);
    free(hk);
    free(created);
    free(tpath);
    free(tlk);

    json_object_put(events);
    free(spath);
    free(cpath);
    free(ckey);
    free(mid1);
    free(mid2);
    free(sid);
    free(cid);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    return og_test_done();
}
