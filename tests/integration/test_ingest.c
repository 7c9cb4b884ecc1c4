/* test_ingest - the ingest script against a real redis-server: a new
 * session, a second message in the same session, a duplicate stored once,
 * a closed session reopened with its history kept, the events appended in
 * order, the routing queue, and the read API's rendering and pagination. */
#include "og_core.h"
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct og_connector fake_desc = {.name = "fake"};
static struct og_plugin fake_plugin = {.desc = &fake_desc};
static struct og_channel chan = {.id = "c1", .routing = "default", .plugin = &fake_plugin};

static struct og_inbound msg(const char *dedup, const char *from, const char *text)
{
    struct og_inbound m = {.struct_size = sizeof m,
                           .dedup_key = dedup,
                           .kind = OG_KIND_TEXT,
                           .text = text,
                           .provider_message_id = dedup};
    m.from.external_id = from;
    m.from.name = "Ann Example";
    m.raw = "{\"raw\":1}";
    m.raw_len = 9;
    return m;
}

static long long redis_int(struct og_test_redis *r, const char *args)
{
    char *out = og_test_redis_cli(r, args);
    long long v = out ? atoll(out) : -1;
    free(out);
    return v;
}

/* "<cmd> {t}:<kind>:<id> <field>" (HEXISTS, HGET) as an integer. */
static long long hfield(struct og_test_redis *r, const char *cmd, const char *kind, const char *id,
                        const char *field)
{
    char args[256];
    snprintf(args, sizeof args, "%s {t}:%s:%s %s", cmd, kind, id, field);
    return redis_int(r, args);
}

static json_object *parse(char *json)
{
    json_object *j = json_tokener_parse(json);
    free(json);
    return j;
}

static const char *jstr(json_object *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_object *cur = o;
    for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, ".")) {
        if (json_object_is_type(cur, json_type_array))
            cur = json_object_array_get_idx(cur, (size_t)atoi(tok));
        else if (!json_object_object_get_ex(cur, tok, &cur))
            cur = NULL;
    }
    return cur ? json_object_get_string(cur) : NULL;
}

int main(void)
{
    struct og_test_redis rs;
    if (og_test_redis_start(&rs) != 0) {
        fprintf(stderr, "cannot start redis-server\n");
        return 1;
    }
    struct og_core *c = og_test_core_new(&rs, "t", 2);
    CHECK(c != NULL);

    /* 1. a new contact and session */
    struct og_ingest_result r1, r2, r3, r4;
    struct og_inbound m1 = msg("d1", "u1", "hello");
    struct og_attachment att = {.url = "https://x/a.png", .mime_type = "image/png", .size = 12};
    m1.attachments = &att;
    m1.n_attachments = 1;
    CHECK_INT(og_core_ingest(c, &chan, &m1, &r1), OG_OK);
    CHECK_INT(r1.duplicate, 0);
    CHECK_INT(r1.session_created, 1);
    CHECK(strncmp(r1.session_id, "ses_", 4) == 0);
    CHECK(strncmp(r1.message_id, "msg_", 4) == 0);
    CHECK_INT(redis_int(&rs, "ZCARD {t}:queue:default"), 1);
    CHECK_INT(redis_int(&rs, "XLEN {t}:events"), 3); /* contact, session, message */
    /* a session of one message keeps its id in m0, no zset (msgs_add), and
     * reads it back as the zset would: listed, and nothing after it */
    char key[128];
    snprintf(key, sizeof key, "HGET {t}:ses:%s m0", r1.session_id);
    char *m0 = og_test_redis_cli(&rs, key);
    CHECK(m0 && strncmp(m0, r1.message_id, strlen(r1.message_id)) == 0);
    free(m0);
    snprintf(key, sizeof key, "EXISTS {t}:ses:%s:msgs", r1.session_id);
    CHECK_INT(redis_int(&rs, key), 0);
    /* nor updated_at and last_message_at while a customer's message is
     * the last change (last_customer_ms), nor window_ms while it is 0:
     * rendered from them */
    CHECK_INT(hfield(&rs, "HEXISTS", "ses", r1.session_id, "updated_at"), 0);
    CHECK_INT(hfield(&rs, "HEXISTS", "ses", r1.session_id, "last_message_at"), 0);
    CHECK_INT(hfield(&rs, "HEXISTS", "ses", r1.session_id, "window_ms"), 0);
    /* the message's status, delivered, is implied (no st); none of the
     * statistics' fields is written: st_t0 is created_at's ms (that is,
     * last_customer_ms's), st_fi, st_w (= st_t0) and st_nin (1) are implied
     * while m0 holds the one message (st_first) */
    CHECK_INT(hfield(&rs, "HEXISTS", "msg", r1.message_id, "st"), 0);
    CHECK_INT(hfield(&rs, "HEXISTS", "ses", r1.session_id, "st_t0"), 0);
    long long t0 = hfield(&rs, "HGET", "ses", r1.session_id, "last_customer_ms");
    CHECK(t0 > 1700000000000LL);
    CHECK_INT(hfield(&rs, "HEXISTS", "ses", r1.session_id, "st_nin"), 0);
    CHECK_INT(hfield(&rs, "HEXISTS", "ses", r1.session_id, "st_fi"), 0);
    char *sj1 = NULL;
    CHECK_INT(og_test_session_json(c, r1.session_id, &sj1), OG_OK);
    json_object *so1 = json_tokener_parse(sj1 ? sj1 : "");
    CHECK(jstr(so1, "created_at") && jstr(so1, "updated_at") &&
          strcmp(jstr(so1, "created_at"), jstr(so1, "updated_at")) == 0);
    CHECK(jstr(so1, "last_message_at") &&
          strcmp(jstr(so1, "created_at"), jstr(so1, "last_message_at")) == 0);
    json_object_put(so1);
    free(sj1);
    char *lj = NULL;
    CHECK_INT(og_test_list_messages(c, r1.session_id, NULL, 50, &lj), OG_OK);
    json_object *l1 = json_tokener_parse(lj ? lj : "");
    CHECK_INT(json_object_array_length(json_object_object_get(l1, "items")), 1);
    CHECK_STR(jstr(l1, "items.0.id"), r1.message_id);
    CHECK_STR(jstr(l1, "items.0.status"), "delivered");
    json_object_put(l1);
    free(lj);
    CHECK_INT(og_test_list_messages(c, r1.session_id, r1.message_id, 50, &lj), OG_OK);
    l1 = json_tokener_parse(lj ? lj : "");
    CHECK_INT(json_object_array_length(json_object_object_get(l1, "items")), 0);
    json_object_put(l1);
    free(lj);

    /* 2. the same contact again: same session, history grows */
    struct og_inbound m2 = msg("d2", "u1", "second");
    m2.reply_to_provider_id = "d1";
    CHECK_INT(og_core_ingest(c, &chan, &m2, &r2), OG_OK);
    CHECK_INT(r2.session_created, 0);
    CHECK_STR(r2.session_id, r1.session_id);
    CHECK_INT(redis_int(&rs, "XLEN {t}:events"), 4);

    /* 3. a redelivery: acknowledged, stored once */
    CHECK_INT(og_core_ingest(c, &chan, &m2, &r3), OG_OK);
    CHECK_INT(r3.duplicate, 1);
    CHECK_STR(r3.message_id, r2.message_id);
    snprintf(key, sizeof key, "ZCARD {t}:ses:%s:msgs", r1.session_id);
    CHECK_INT(redis_int(&rs, key), 2); /* the second wrote both ids into the zset */
    CHECK_INT(hfield(&rs, "HEXISTS", "ses", r1.session_id, "m0"), 0);
    /* a customer's further message writes neither updated_at nor
     * last_message_at: both are last_customer_ms's, the later of the
     * stored ones and it (og_render_session, prelude.lua session_render) */
    CHECK_INT(hfield(&rs, "HEXISTS", "ses", r1.session_id, "updated_at"), 0);
    CHECK_INT(hfield(&rs, "HEXISTS", "ses", r1.session_id, "last_message_at"), 0);
    {
        char *sj = NULL;
        CHECK_INT(og_test_session_json(c, r1.session_id, &sj), OG_OK);
        json_object *so = parse(sj);
        const char *lc = jstr(so, "last_customer_message_at");
        CHECK(lc && strcmp(lc, jstr(so, "created_at")) >= 0);
        CHECK_STR(jstr(so, "last_message_at"), lc);
        CHECK_STR(jstr(so, "updated_at"), lc);
        char *lcs = og_strdup(lc ? lc : "");
        json_object_put(so);
        /* a stored time later than it wins, for each of the two */
        const char *set[] = {"HSET {t}:ses:%s last_message_at 2099-01-01T00:00:00.000Z",
                             "HSET {t}:ses:%s updated_at 2100-01-01T00:00:00.000Z",
                             "HSET {t}:ses:%s last_message_at 2000-01-01T00:00:00.000Z"};
        const char *want_lm[] = {"2099-01-01T00:00:00.000Z", "2099-01-01T00:00:00.000Z", NULL};
        const char *want_up[] = {"2099-01-01T00:00:00.000Z", "2100-01-01T00:00:00.000Z",
                                 "2100-01-01T00:00:00.000Z"};
        char cmd[256];
        for (int i = 0; i < 3; i++) {
            snprintf(cmd, sizeof cmd, set[i], r1.session_id);
            free(og_test_redis_cli(&rs, cmd));
            CHECK_INT(og_test_session_json(c, r1.session_id, &sj), OG_OK);
            so = parse(sj);
            CHECK_STR(jstr(so, "last_message_at"), want_lm[i] ? want_lm[i] : lcs);
            CHECK_STR(jstr(so, "updated_at"), want_up[i]);
            json_object_put(so);
        }
        free(lcs);
        snprintf(cmd, sizeof cmd, "HDEL {t}:ses:%s last_message_at updated_at", r1.session_id);
        free(og_test_redis_cli(&rs, cmd));
    }
    /* the second message wrote the implied ones first (msgs_add) */
    CHECK_INT(hfield(&rs, "HGET", "ses", r1.session_id, "st_nin"), 2);
    CHECK_INT(hfield(&rs, "HGET", "ses", r1.session_id, "st_fi"), t0);
    CHECK_INT(hfield(&rs, "HGET", "ses", r1.session_id, "st_w"), t0);
    CHECK_INT(hfield(&rs, "HEXISTS", "ses", r1.session_id, "st_t0"), 0); /* still implied */
    CHECK_INT(redis_int(&rs, "XLEN {t}:events"), 4);
    CHECK_INT(redis_int(&rs, "EXISTS {t}:dedup:c1:d2"), 0); /* the pmid index covers it */

    /* a platform whose delivery key is not the message id (Telegram's
     * update_id): the delivery key is remembered for the dedup window, and a
     * redelivery of the same message under a new delivery key is caught too */
    struct og_inbound u1 = msg("u:55", "u1", "by update id");
    u1.provider_message_id = "chat1:55";
    struct og_ingest_result ru;
    CHECK_INT(og_core_ingest(c, &chan, &u1, &ru), OG_OK);
    CHECK_INT(ru.duplicate, 0);
    CHECK_INT(redis_int(&rs, "TTL {t}:dedup:c1:u:55") > 8 * 86400, 1);
    CHECK_INT(og_core_ingest(c, &chan, &u1, &ru), OG_OK);
    CHECK_INT(ru.duplicate, 1);
    u1.dedup_key = "u:56";
    CHECK_INT(og_core_ingest(c, &chan, &u1, &ru), OG_OK);
    CHECK_INT(ru.duplicate, 1);

    /* the read side renders docs/json.md's shapes */
    char *json = NULL;
    CHECK_INT(og_test_session_json(c, r1.session_id, &json), OG_OK);
    json_object *s = parse(json);
    CHECK_STR(jstr(s, "status"), "new");
    CHECK_STR(jstr(s, "channel"), "c1");
    CHECK_STR(jstr(s, "connector"), "fake");
    CHECK_STR(jstr(s, "contact.name"), "Ann Example");
    CHECK_STR(jstr(s, "contact.external_id"), "u1");
    CHECK(json_object_is_type(json_object_object_get(s, "agent_id"), json_type_null));
    CHECK(json_object_is_type(json_object_object_get(s, "success_codes"), json_type_array));
    json_object_put(s);
    CHECK_INT(og_test_list_messages(c, r1.session_id, NULL, 50, &json), OG_OK);
    json_object *ml = parse(json);
    CHECK_INT(json_object_array_length(json_object_object_get(ml, "items")), 3);
    CHECK_STR(jstr(ml, "items.0.text"), "hello");
    CHECK_STR(jstr(ml, "items.0.direction"), "in");
    CHECK_STR(jstr(ml, "items.0.kind"), "text");
    CHECK_STR(jstr(ml, "items.0.attachments.0.source_url"), "https://x/a.png");
    CHECK(jstr(ml, "items.0.attachments.0.url") &&
          strncmp(jstr(ml, "items.0.attachments.0.url"), "/api/v1/messages/msg_", 21) == 0);
    CHECK_STR(jstr(ml, "items.0.sender.type"), "contact");
    CHECK_STR(jstr(ml, "items.1.reply_to"), r1.message_id);
    CHECK(json_object_is_type(json_object_object_get(ml, "next_cursor"), json_type_null));
    json_object_put(ml);
    CHECK_INT(og_test_list_messages(c, "ses_00000000000000000000000000", NULL, 50, &json),
              OG_ERR_NOT_FOUND);

    /* 4. a closed session is reopened with its history */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "HSET {t}:ses:%s status closed close_reason solved", r1.session_id);
    free(og_test_redis_cli(&rs, cmd));
    snprintf(cmd, sizeof cmd, "ZREM {t}:idx:st:new %s", r1.session_id);
    free(og_test_redis_cli(&rs, cmd));
    snprintf(cmd, sizeof cmd, "ZADD {t}:idx:st:closed 0 %s", r1.session_id);
    free(og_test_redis_cli(&rs, cmd));
    free(og_test_redis_cli(&rs, "DEL {t}:queue:default"));
    struct og_inbound m4 = msg("d4", "u1", "back again");
    CHECK_INT(og_core_ingest(c, &chan, &m4, &r4), OG_OK);
    CHECK_INT(r4.session_created, 2);
    CHECK_STR(r4.session_id, r1.session_id);
    CHECK_INT(redis_int(&rs, key), 4);
    CHECK_INT(redis_int(&rs, "ZCARD {t}:queue:default"), 1);
    CHECK_INT(redis_int(&rs, "ZCARD {t}:idx:st:closed"), 0);
    CHECK_INT(og_test_session_json(c, r1.session_id, &json), OG_OK);
    s = parse(json);
    CHECK_STR(jstr(s, "status"), "new");
    CHECK(json_object_is_type(json_object_object_get(s, "close_reason"), json_type_null));
    json_object_put(s);
    char *types = og_test_redis_cli(&rs, "XRANGE {t}:events - +");
    CHECK(types && strstr(types, "session.reopened"));
    CHECK(types && strstr(types, "contact.created") < strstr(types, "session.created"));
    free(types);

    /* 5. many sessions: newest first, filters, cursor pagination */
    for (int i = 0; i < 25; i++) {
        char d[16], u[16];
        snprintf(d, sizeof d, "p%d", i);
        snprintf(u, sizeof u, "user%d", i);
        struct og_inbound m = msg(d, u, "hi");
        struct og_ingest_result rr;
        CHECK_INT(og_core_ingest(c, &chan, &m, &rr), OG_OK);
    }
    int seen = 0;
    char cursor[64] = "";
    for (int page = 0; page < 10; page++) {
        CHECK_INT(og_test_list_sessions(c, "new", "c1", cursor, 10, &json), OG_OK);
        json_object *l = parse(json);
        seen += (int)json_object_array_length(json_object_object_get(l, "items"));
        const char *nc = json_object_get_string(json_object_object_get(l, "next_cursor"));
        snprintf(cursor, sizeof cursor, "%s", nc ? nc : "");
        json_object_put(l);
        if (!*cursor)
            break;
    }
    CHECK_INT(seen, 26);
    CHECK_INT(og_test_list_sessions(c, "closed", NULL, NULL, 10, &json), OG_OK);
    json_object *l = parse(json);
    CHECK_INT(json_object_array_length(json_object_object_get(l, "items")), 0);
    json_object_put(l);
    CHECK_INT(og_test_list_sessions(c, NULL, "other", NULL, 10, &json), OG_OK);
    l = parse(json);
    CHECK_INT(json_object_array_length(json_object_object_get(l, "items")), 0);
    json_object_put(l);
    /* by channel alone (no index of its own: idx:all, filtered), paged */
    seen = 0;
    cursor[0] = '\0';
    for (int page = 0; page < 10; page++) {
        CHECK_INT(og_test_list_sessions(c, NULL, "c1", cursor, 10, &json), OG_OK);
        l = parse(json);
        json_object *items = json_object_object_get(l, "items");
        for (size_t i = 0; i < json_object_array_length(items); i++)
            CHECK_STR(json_object_get_string(
                          json_object_object_get(json_object_array_get_idx(items, i), "channel")),
                      "c1");
        seen += (int)json_object_array_length(items);
        const char *nc = json_object_get_string(json_object_object_get(l, "next_cursor"));
        snprintf(cursor, sizeof cursor, "%s", nc ? nc : "");
        json_object_put(l);
        if (!*cursor)
            break;
    }
    CHECK_INT(seen, 26);

    /* 6. scripts survive SCRIPT FLUSH (NOSCRIPT -> reload) */
    free(og_test_redis_cli(&rs, "SCRIPT FLUSH"));
    struct og_inbound m6 = msg("d6", "u1", "after flush");
    struct og_ingest_result r6;
    CHECK_INT(og_core_ingest(c, &chan, &m6, &r6), OG_OK);
    CHECK_INT(r6.duplicate, 0);

    /* 7. Redis down: UNAVAILABLE, fast; back up: works again */
    og_test_redis_kill(&rs);
    struct og_inbound m7 = msg("d7", "u1", "while down");
    struct og_ingest_result r7;
    CHECK_INT(og_core_ingest(c, &chan, &m7, &r7), OG_ERR_UNAVAILABLE);
    CHECK_INT(og_test_redis_restart(&rs), 0);
    og_err e = OG_ERR_UNAVAILABLE;
    for (int i = 0; i < 300 && e != OG_OK; i++) { /* back-off is at most 2 s; slack for load */
        e = og_core_ingest(c, &chan, &m7, &r7);
        if (e != OG_OK)
            usleep(50000);
    }
    CHECK_INT(e, OG_OK);
    CHECK_INT(redis_int(&rs, key), 6); /* AOF kept everything acknowledged */

    /* the raw payload (store_raw): beside the message, not in its hash, and
     * expiring after the default retention (a day) */
    char rkey[128];
    snprintf(rkey, sizeof rkey, "HEXISTS {t}:msg:%s raw", r2.message_id);
    CHECK_INT(redis_int(&rs, rkey), 0);
    snprintf(rkey, sizeof rkey, "GET {t}:raw:%s", r2.message_id);
    char *raw = og_test_redis_cli(&rs, rkey);
    CHECK(raw && strncmp(raw, "{\"raw\":1}", 9) == 0);
    free(raw);
    snprintf(rkey, sizeof rkey, "TTL {t}:raw:%s", r2.message_id);
    long long ttl = redis_int(&rs, rkey);
    CHECK(ttl > 86400 - 60 && ttl <= 86400);
    /* "none" keeps no payload, a retention in hours expires then, "always"
     * never: the channel's own setting */
    struct og_channel chan2 = chan;
    const int64_t keeps[] = {OG_STORE_RAW_NONE, 2 * 3600, OG_STORE_RAW_ALWAYS};
    const long long want_ttl[] = {-2, 2 * 3600, -1}; /* TTL: -2 no key, -1 no expiry */
    for (int i = 0; i < 3; i++) {
        char d[16];
        snprintf(d, sizeof d, "raw%d", i);
        struct og_inbound mr = msg(d, "u-raw", "raw kept?");
        struct og_ingest_result rr;
        chan2.store_raw_s = keeps[i];
        CHECK_INT(og_core_ingest(c, &chan2, &mr, &rr), OG_OK);
        snprintf(rkey, sizeof rkey, "TTL {t}:raw:%s", rr.message_id);
        ttl = redis_int(&rs, rkey);
        CHECK(want_ttl[i] < 0 ? ttl == want_ttl[i]
                              : (ttl > want_ttl[i] - 60 && ttl <= want_ttl[i]));
    }

    /* contacts: one that begins in its own thread has no P:contact key (its
     * thread's session names it), and is the same contact when it writes in
     * a group thread; one that begins in a group has the key, and is the
     * same contact in its own thread later */
    struct og_inbound g1 = msg("g1", "u-g", "just me");
    struct og_ingest_result rg1, rg2, rh1, rh2;
    CHECK_INT(og_core_ingest(c, &chan, &g1, &rg1), OG_OK);
    CHECK_INT(redis_int(&rs, "EXISTS {t}:contact:c1:u-g"), 0);
    struct og_inbound g2 = msg("g2", "u-g", "in the group");
    g2.thread_id = "grp-1";
    CHECK_INT(og_core_ingest(c, &chan, &g2, &rg2), OG_OK);
    CHECK_INT(rg2.session_created, 1);
    char q1[160], q2[160];
    snprintf(q1, sizeof q1, "HGET {t}:ses:%s contact_id", rg1.session_id);
    snprintf(q2, sizeof q2, "HGET {t}:ses:%s contact_id", rg2.session_id);
    char *c1 = og_test_redis_cli(&rs, q1), *c2 = og_test_redis_cli(&rs, q2);
    CHECK(c1 && c2 && strncmp(c1, "con_", 4) == 0);
    CHECK_STR(c2, c1);
    free(c1), free(c2);
    struct og_inbound h1 = msg("h1", "u-h", "hello group");
    h1.thread_id = "grp-1";
    CHECK_INT(og_core_ingest(c, &chan, &h1, &rh1), OG_OK);
    CHECK_STR(rh1.session_id, rg2.session_id);
    char *hk = og_test_redis_cli(&rs, "GET {t}:contact:c1:u-h");
    CHECK(hk && strncmp(hk, "con_", 4) == 0);
    struct og_inbound h2 = msg("h2", "u-h", "now privately");
    CHECK_INT(og_core_ingest(c, &chan, &h2, &rh2), OG_OK);
    CHECK_INT(rh2.session_created, 1);
    snprintf(q1, sizeof q1, "HGET {t}:ses:%s contact_id", rh2.session_id);
    c1 = og_test_redis_cli(&rs, q1);
    CHECK(c1 && hk && strcmp(c1, hk) == 0);
    free(c1), free(hk);
    /* u-g's own session archived (archive.lua: its hash gone, the archive's
     * index naming the contact): u-g is still the same contact in a group */
    snprintf(q1, sizeof q1, "HGET {t}:ses:%s contact_id", rg1.session_id);
    c1 = og_test_redis_cli(&rs, q1);
    CHECK(c1 != NULL);
    c1[strcspn(c1, "\r\n")] = 0;
    snprintf(q2, sizeof q2, "RENAME {t}:ses:%s {t}:stash", rg1.session_id);
    free(og_test_redis_cli(&rs, q2));
    snprintf(q2, sizeof q2, "HSET {t}:arch:loc %s '20300101.ogs\t0\t1\t%s\tc1\tu-g'",
             rg1.session_id, c1);
    free(og_test_redis_cli(&rs, q2));
    struct og_inbound g3 = msg("g3", "u-g", "in another group");
    g3.thread_id = "grp-2";
    struct og_ingest_result rg3;
    CHECK_INT(og_core_ingest(c, &chan, &g3, &rg3), OG_OK);
    CHECK_INT(rg3.session_created, 1);
    snprintf(q2, sizeof q2, "HGET {t}:ses:%s contact_id", rg3.session_id);
    c2 = og_test_redis_cli(&rs, q2);
    CHECK(c2 && strncmp(c2, c1, strlen(c1)) == 0);
    free(c2);
    snprintf(q2, sizeof q2, "RENAME {t}:stash {t}:ses:%s", rg1.session_id);
    free(og_test_redis_cli(&rs, q2));
    snprintf(q2, sizeof q2, "HDEL {t}:arch:loc %s", rg1.session_id);
    free(og_test_redis_cli(&rs, q2));
    free(c1);
    og_core_free(c);
    og_test_redis_stop(&rs);
    return og_test_done();
}
