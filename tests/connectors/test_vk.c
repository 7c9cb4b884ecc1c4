/* test_vk - the VK connector against Callback API payloads
 * (tests/connectors/fixtures/vk/) and a fake VK API on 127.0.0.1: options,
 * confirmation and secret checks, normalization of every kind, profiles via
 * users.get, redelivery keys, Bots Long Poll (ts across a restart, failed
 * 1/2/3), messages.send with random_id, the photo/doc upload flows and the
 * error mapping. */
#include "og_test.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GROUP "199493573"
#define SECRET "my_secret"

static char opts[1024];

static const char *cb_opts(const char *base, int profiles)
{
    snprintf(opts, sizeof opts,
             "{\"access_token\":\"vk1.a.TOKEN\",\"group_id\":" GROUP ",\"confirmation\":"
             "\"693d0ba9\",\"secret\":\"" SECRET "\",\"api_base\":\"%s\",\"timeout_ms\":1000,"
             "\"fetch_profiles\":%s}",
             base ? base : "http://127.0.0.1:9", profiles ? "true" : "false");
    return opts;
}

static const char *lp_opts(const char *base)
{
    snprintf(opts, sizeof opts,
             "{\"access_token\":\"vk1.a.TOKEN\",\"group_id\":" GROUP ",\"confirmation\":"
             "\"693d0ba9\",\"mode\":\"longpoll\",\"api_base\":\"%s\",\"timeout_ms\":1000,"
             "\"fetch_profiles\":false}",
             base);
    return opts;
}

static char *fixture(const char *name, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/connectors/fixtures/vk/%s.json", name);
    char *b = og_test_read_src(rel, len);
    if (!b)
        fprintf(stderr, "missing fixture %s\n", rel);
    return b;
}

static struct og_test_http post_fixture(struct og_test_conn *c, const char *name)
{
    size_t len = 0;
    char *b = fixture(name, &len);
    struct og_test_http r =
        og_test_conn_request(c, "POST", "", NULL, "Content-Type: application/json\n", b, len);
    free(b);
    return r;
}

static struct og_test_http post_str(struct og_test_conn *c, const char *body)
{
    return og_test_conn_request(c, "POST", "", NULL, NULL, body, strlen(body));
}

static const char *jget(json_object *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_object *cur = o;
    for (char *save = NULL, *seg = strtok_r(buf, ".", &save); seg && cur;
         seg = strtok_r(NULL, ".", &save)) {
        json_object *next = NULL;
        if (json_object_is_type(cur, json_type_array))
            next = json_object_array_get_idx(cur, (size_t)atoi(seg));
        else if (!json_object_object_get_ex(cur, seg, &next))
            next = NULL;
        cur = next;
    }
    return cur && !json_object_is_type(cur, json_type_null) ? json_object_get_string(cur) : NULL;
}

static json_object *last_msg(struct og_test_conn *c)
{
    size_t n = og_test_conn_messages(c);
    return n ? og_test_conn_message(c, n - 1) : NULL;
}

/* The url-decoded value of key in a form body or query ("" if absent). */
static const char *form(const char *body, const char *key)
{
    static char out[4][20000];
    static int k;
    char *o = out[k++ & 3];
    o[0] = 0;
    size_t kl = strlen(key);
    for (const char *p = body; p && *p;) {
        const char *end = strchr(p, '&');
        if (!end)
            end = p + strlen(p);
        if ((size_t)(end - p) > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t n = 0;
            for (const char *s = p + kl + 1; s < end && n < sizeof out[0] - 1; s++) {
                if (*s == '%' && s + 2 < end + 1 && isxdigit((unsigned char)s[1]) &&
                    isxdigit((unsigned char)s[2])) {
                    char h[3] = {s[1], s[2], 0};
                    o[n++] = (char)strtol(h, NULL, 16);
                    s += 2;
                } else {
                    o[n++] = *s == '+' ? ' ' : *s;
                }
            }
            o[n] = 0;
            return o;
        }
        p = *end ? end + 1 : end;
    }
    return o;
}

static void push(struct og_fake *f, int status, const char *body, int delay_ms)
{
    struct og_fake_resp r = {
        .status = status, .body = body, .content_type = "application/json", .delay_ms = delay_ms};
    og_fake_push(f, &r);
}

/* ------------------------------------------------------------- options */

static void test_options(void)
{
    char *e = og_test_conn_open_errors("vk", "{\"group_id\":1,\"confirmation\":\"x\","
                                             "\"secret\":\"s\"}");
    CHECK(strstr(e, "access_token") != NULL);
    free(e);
    e = og_test_conn_open_errors("vk", "{\"access_token\":\"t\",\"confirmation\":\"x\","
                                       "\"secret\":\"s\"}");
    CHECK(strstr(e, "group_id") != NULL);
    free(e);
    e = og_test_conn_open_errors("vk", "{\"access_token\":\"t\",\"group_id\":\"1\","
                                       "\"confirmation\":\"x\",\"secret\":\"s\"}");
    CHECK(strstr(e, "group_id") != NULL);
    free(e);
    e = og_test_conn_open_errors("vk", "{\"access_token\":\"t\",\"group_id\":1,\"secret\":\"s\"}");
    CHECK(strstr(e, "confirmation") != NULL);
    free(e);
    e = og_test_conn_open_errors("vk", "{\"access_token\":\"t\",\"group_id\":1,"
                                       "\"confirmation\":\"x\"}");
    CHECK(strstr(e, "secret is required in callback mode") != NULL);
    free(e);
    e = og_test_conn_open_errors("vk", "{\"access_token\":\"t\",\"group_id\":1,"
                                       "\"confirmation\":\"x\",\"secret\":\"s\",\"mode\":\"x\"}");
    CHECK(strstr(e, "mode") != NULL);
    free(e);
    struct og_test_conn *c = og_test_conn_open("vk", lp_opts("http://127.0.0.1:9"));
    CHECK(c != NULL);
    if (c) {
        const struct og_connector *d = og_test_conn_desc(c);
        CHECK(d->platform_api && strstr(d->platform_api, "5.199"));
        struct og_test_http r = post_fixture(c, "text");
        CHECK_INT(r.status, 404);
        CHECK_INT(og_test_conn_messages(c), 0);
    }
    og_test_conn_close(c);
}

/* --------------------------------------------- confirmation and secret */

static void test_callback_auth(void)
{
    struct og_test_conn *c = og_test_conn_open("vk", cb_opts(NULL, 0));
    CHECK(c != NULL);
    if (!c)
        return;
    struct og_test_http r = post_fixture(c, "confirmation");
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "693d0ba9");
    CHECK(strncmp(r.content_type, "text/plain", 10) == 0);
    r = post_str(c, "{\"type\":\"confirmation\",\"group_id\":1}");
    CHECK_INT(r.status, 403);
    CHECK(strstr(r.body, "693d0ba9") == NULL);
    r = post_str(c, "{\"type\":\"confirmation\",\"group_id\":" GROUP ",\"secret\":\"nope\"}");
    CHECK_INT(r.status, 403);
    r = post_str(c, "{\"type\":\"confirmation\",\"group_id\":" GROUP ",\"secret\":\"" SECRET "\"}");
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "693d0ba9");

    /* Every other event needs the secret and our group. */
    size_t len;
    char *b = fixture("text", &len);
    char *bad = strdup(b);
    char *s = strstr(bad, "\"my_secret\"");
    memcpy(s, "\"my_secreT\"", 11);
    r = og_test_conn_request(c, "POST", "", NULL, NULL, bad, len);
    CHECK_INT(r.status, 403);
    CHECK(strcmp(r.body, "ok") != 0);
    memcpy(s, "\"mx\"       ", 11); /* shorter secret, same length body */
    r = og_test_conn_request(c, "POST", "", NULL, NULL, bad, len);
    CHECK_INT(r.status, 403);
    free(bad);
    r = post_str(c, "{\"type\":\"message_new\",\"event_id\":\"e1\",\"group_id\":" GROUP
                    ",\"object\":{\"message\":{\"id\":1,\"from_id\":2,\"peer_id\":2,"
                    "\"text\":\"x\"}}}");
    CHECK_INT(r.status, 403);
    bad = strdup(b);
    s = strstr(bad, GROUP);
    s[0] = '9';
    r = og_test_conn_request(c, "POST", "", NULL, NULL, bad, len);
    CHECK_INT(r.status, 403);
    free(bad);
    CHECK_INT(og_test_conn_messages(c), 0);
    r = og_test_conn_request(c, "POST", "", NULL, NULL, "not json", 8);
    CHECK_INT(r.status, 400);
    r = og_test_conn_request(c, "GET", "", NULL, NULL, NULL, 0);
    CHECK(r.status >= 400);
    CHECK_INT(og_test_conn_messages(c), 0);

    r = og_test_conn_request(c, "POST", "", NULL, NULL, b, len);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "ok");
    CHECK_INT(og_test_conn_messages(c), 1);
    free(b);
    og_test_conn_close(c);
}

/* ------------------------------------------------------- normalization */

static void test_kinds(void)
{
    struct og_test_conn *c = og_test_conn_open("vk", cb_opts(NULL, 0));
    CHECK(c != NULL);
    if (!c)
        return;
    json_object *m;
    struct og_test_http r = post_fixture(c, "text");
    CHECK_STR(r.body, "ok");
    m = last_msg(c);
    CHECK_STR(jget(m, "dedup_key"), "20a812cb0e42e89e4fbe5f49df1600e1e79983ac");
    CHECK_STR(jget(m, "provider_message_id"), "1450");
    CHECK_STR(jget(m, "thread_id"), "22757746");
    CHECK_STR(jget(m, "from.external_id"), "22757746");
    CHECK(jget(m, "from.name") == NULL); /* fetch_profiles off */
    CHECK_STR(jget(m, "kind"), "text");
    CHECK_STR(jget(m, "text"), "hello");
    CHECK_INT(json_object_get_int64(json_object_object_get(m, "timestamp_ms")), 1634665118000LL);
    {
        size_t len;
        char *b = fixture("text", &len);
        CHECK_STR(jget(m, "raw"), b);
        free(b);
    }

    post_fixture(c, "photo");
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "image");
    CHECK_STR(jget(m, "text"), "look at this");
    CHECK_STR(jget(m, "attachments.0.url"), "https://sun9-1.userapi.com/x.jpg");
    CHECK_STR(jget(m, "attachments.0.media_id"), "photo22757746_457239017_abc123");

    post_fixture(c, "doc");
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "file");
    CHECK_STR(jget(m, "text"), "the report");
    CHECK_STR(jget(m, "attachments.0.name"), "report.pdf");
    CHECK_STR(jget(m, "attachments.0.mime_type"), "application/pdf");
    CHECK_STR(jget(m, "attachments.0.size"), "52344");
    CHECK_STR(jget(m, "attachments.0.url"), "https://vk.com/doc22757746_612345?hash=1");
    CHECK_STR(jget(m, "attachments.0.media_id"), "doc22757746_612345");

    post_fixture(c, "video");
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "video");
    CHECK(jget(m, "text") == NULL);
    CHECK_STR(jget(m, "attachments.0.name"), "My clip");
    CHECK_STR(jget(m, "attachments.0.media_id"), "video22757746_456239018_vk42");

    post_fixture(c, "audio");
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "audio");
    CHECK_STR(jget(m, "attachments.0.name"), "Band - Song");
    CHECK_STR(jget(m, "attachments.0.url"), "https://cs1.vkuseraudio.net/song.mp3");

    post_fixture(c, "voice");
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "audio");
    CHECK_STR(jget(m, "attachments.0.mime_type"), "audio/ogg");
    CHECK_STR(jget(m, "attachments.0.url"), "https://psv4.userapi.com/voice.ogg");

    post_fixture(c, "sticker");
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "sticker");
    CHECK_STR(jget(m, "attachments.0.url"), "https://vk.com/sticker/1-9-512");
    CHECK_STR(jget(m, "attachments.0.media_id"), "9");

    post_fixture(c, "location");
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "location");
    CHECK(jget(m, "location.latitude") && atof(jget(m, "location.latitude")) > 59.929);
    CHECK(jget(m, "location.longitude") && atof(jget(m, "location.longitude")) > 30.309);
    CHECK_STR(jget(m, "location.name"), "Saint Petersburg, Russia");

    post_fixture(c, "reply");
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "text");
    CHECK_STR(jget(m, "reply_to"), "1449");

    post_fixture(c, "group_chat");
    m = last_msg(c);
    CHECK_STR(jget(m, "thread_id"), "2000000001");
    CHECK_STR(jget(m, "from.external_id"), "33333333");
    CHECK_STR(jget(m, "provider_message_id"), "2000000001:77");
    CHECK_STR(jget(m, "reply_to"), "2000000001:76");

    post_fixture(c, "wall");
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "system");
    CHECK_STR(jget(m, "text"), "[unsupported VK message: wall]");

    size_t before = og_test_conn_messages(c);
    r = post_fixture(c, "edit");
    CHECK_STR(r.body, "ok");
    CHECK_INT(og_test_conn_messages(c), before + 1);
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "system");
    CHECK_STR(jget(m, "text"), "[edited] hello, world");
    CHECK_STR(jget(m, "reply_to"), "1450");
    CHECK(jget(m, "provider_message_id") == NULL);

    /* Events we do not handle: "ok", nothing stored. */
    before = og_test_conn_messages(c);
    const char *skip[] = {"message_reply", "message_allow", "message_read"};
    for (size_t i = 0; i < 3; i++) {
        r = post_fixture(c, skip[i]);
        CHECK_INT(r.status, 200);
        CHECK_STR(r.body, "ok");
    }
    CHECK_INT(og_test_conn_messages(c), before);
    og_test_conn_close(c);
}

static void test_redelivery(void)
{
    struct og_test_conn *c = og_test_conn_open("vk", cb_opts(NULL, 0));
    CHECK(c != NULL);
    if (!c)
        return;
    post_fixture(c, "text");
    post_fixture(c, "text"); /* VK re-sends with X-Retry-Counter */
    post_fixture(c, "photo");
    CHECK_INT(og_test_conn_messages(c), 3);
    const char *k0 = jget(og_test_conn_message(c, 0), "dedup_key");
    const char *k1 = jget(og_test_conn_message(c, 1), "dedup_key");
    const char *k2 = jget(og_test_conn_message(c, 2), "dedup_key");
    CHECK_STR(k0, k1);
    CHECK(k0 && k2 && strcmp(k0, k2) != 0);
    og_test_conn_fail_emits(c, 1, OG_ERR_UNAVAILABLE);
    struct og_test_http r = post_fixture(c, "doc");
    CHECK_INT(r.status, 503);
    CHECK(strcmp(r.body, "ok") != 0);
    og_test_conn_close(c);
}

/* --------------------------------------------------------- profiles */

static int users_get_calls;

static int profile_handler(void *ud, const struct og_fake_req *q, struct og_fake_resp *resp)
{
    if (strcmp(q->url, "/method/users.get") == 0) {
        users_get_calls++;
        resp->status = 200;
        resp->content_type = "application/json";
        if (strcmp(form(q->body, "user_ids"), "22757746") == 0)
            resp->body = "{\"response\":[{\"id\":22757746,\"first_name\":\"Pavel\","
                         "\"last_name\":\"Durov\",\"screen_name\":\"durov\",\"photo_100\":"
                         "\"https://sun9-1.userapi.com/avatar.jpg\"}]}";
        else
            resp->body = "{\"error\":{\"error_code\":10,\"error_msg\":\"Internal server error\"}}";
        return 1;
    }
    return 0;
}

static void test_profiles(void)
{
    struct og_fake *f = og_fake_start();
    og_fake_set_handler(f, profile_handler, NULL);
    struct og_test_conn *c = og_test_conn_open("vk", cb_opts(og_fake_base(f), 1));
    CHECK(c != NULL);
    if (!c) {
        og_fake_stop(f);
        return;
    }
    users_get_calls = 0;
    post_fixture(c, "text");
    json_object *m = last_msg(c);
    CHECK_STR(jget(m, "from.name"), "Pavel Durov");
    CHECK_STR(jget(m, "from.username"), "durov");
    CHECK_STR(jget(m, "from.avatar_url"), "https://sun9-1.userapi.com/avatar.jpg");
    const struct og_fake_req *q = og_fake_get(f, 0);
    CHECK(q && strcmp(form(q->body, "access_token"), "vk1.a.TOKEN") == 0);
    CHECK(q && strcmp(form(q->body, "v"), "5.199") == 0);
    CHECK(q && strstr(q->url, "TOKEN") == NULL);
    post_fixture(c, "photo");
    CHECK_STR(jget(last_msg(c), "from.name"), "Pavel Durov");
    CHECK_INT(users_get_calls, 1); /* cached */
    /* A failed lookup still stores the message, without a name. */
    post_fixture(c, "group_chat");
    m = last_msg(c);
    CHECK_STR(jget(m, "from.external_id"), "33333333");
    CHECK(jget(m, "from.name") == NULL);
    CHECK_INT(og_test_conn_messages(c), 3);
    og_test_conn_close(c);
    og_fake_stop(f);
}

/* --------------------------------------------------------- long poll */

static void test_longpoll(void)
{
    struct og_fake *f = og_fake_start();
    char srv[512], lp[200];
    snprintf(lp, sizeof lp, "%s/lp/wh199", og_fake_base(f));
    struct og_test_conn *c = og_test_conn_open("vk", lp_opts(og_fake_base(f)));
    CHECK(c != NULL);
    if (!c) {
        og_fake_stop(f);
        return;
    }
    const struct og_connector *d = og_test_conn_desc(c);
    size_t len;
    char *e1 = fixture("text", &len), *e2 = fixture("photo", &len), *e3 = fixture("doc", &len);
    char *e4 = fixture("video", &len);
    char body[16384];

    snprintf(srv, sizeof srv, "{\"response\":{\"key\":\"K1\",\"server\":\"%s\",\"ts\":\"4\"}}", lp);
    push(f, 200, srv, 0);
    snprintf(body, sizeof body, "{\"ts\":\"6\",\"updates\":[%s,%s]}", e1, e2);
    push(f, 200, body, 0);
    og_err e = d->poll(og_test_conn_inst(c), 0);
    CHECK_INT(e, OG_OK);
    CHECK_INT(og_fake_count(f), 2);
    const struct og_fake_req *q = og_fake_get(f, 0);
    CHECK_STR(q->url, "/method/groups.getLongPollServer");
    CHECK_STR(form(q->body, "group_id"), GROUP);
    q = og_fake_get(f, 1);
    CHECK_STR(q->method, "GET");
    CHECK_STR(q->url, "/lp/wh199?act=a_check&key=K1&ts=4&wait=0");
    CHECK_INT(og_test_conn_messages(c), 2);
    CHECK_STR(jget(og_test_conn_message(c, 0), "dedup_key"),
              "20a812cb0e42e89e4fbe5f49df1600e1e79983ac");
    CHECK_STR(jget(og_test_conn_message(c, 1), "kind"), "image");
    CHECK_STR(og_test_state_get("test:lp_ts"), "6");
    og_fake_reset(f);

    /* Restart: the stored ts wins over the server's newest. */
    og_test_conn_close(c);
    og_test_conn_clear(c = og_test_conn_open("vk", lp_opts(og_fake_base(f))));
    d = og_test_conn_desc(c);
    snprintf(srv, sizeof srv, "{\"response\":{\"key\":\"K2\",\"server\":\"%s\",\"ts\":\"100\"}}",
             lp);
    push(f, 200, srv, 0);
    snprintf(body, sizeof body, "{\"ts\":\"7\",\"updates\":[%s]}", e3);
    push(f, 200, body, 0);
    e = d->poll(og_test_conn_inst(c), 3000);
    CHECK_INT(e, OG_OK);
    CHECK_STR(og_fake_get(f, 1)->url, "/lp/wh199?act=a_check&key=K2&ts=6&wait=3");
    CHECK_INT(og_test_conn_messages(c), 1);
    CHECK_STR(og_test_state_get("test:lp_ts"), "7");
    og_fake_reset(f);

    /* The host asks for 25 s; poll_wait_s (default 5) bounds the wait. */
    push(f, 200, "{\"ts\":\"7\",\"updates\":[]}", 0);
    CHECK_INT(d->poll(og_test_conn_inst(c), 25000), OG_OK);
    CHECK_STR(og_fake_get(f, 0)->url, "/lp/wh199?act=a_check&key=K2&ts=7&wait=5");
    og_fake_reset(f);

    /* failed 1: continue with the new ts, same key. */
    push(f, 200, "{\"failed\":1,\"ts\":30}", 0);
    e = d->poll(og_test_conn_inst(c), 0);
    CHECK_INT(e, OG_OK);
    CHECK_INT(og_fake_count(f), 1);
    CHECK_STR(og_test_state_get("test:lp_ts"), "30");
    push(f, 200, "{\"ts\":\"30\",\"updates\":[]}", 0);
    d->poll(og_test_conn_inst(c), 0);
    CHECK_STR(og_fake_get(f, 1)->url, "/lp/wh199?act=a_check&key=K2&ts=30&wait=0");
    og_fake_reset(f);

    /* failed 2: a new key, the same ts. */
    push(f, 200, "{\"failed\":2}", 0);
    snprintf(srv, sizeof srv, "{\"response\":{\"key\":\"K3\",\"server\":\"%s\",\"ts\":\"999\"}}",
             lp);
    push(f, 200, srv, 0);
    e = d->poll(og_test_conn_inst(c), 0);
    CHECK_INT(e, OG_OK);
    CHECK_STR(og_fake_get(f, 1)->url, "/method/groups.getLongPollServer");
    CHECK_STR(og_test_state_get("test:lp_ts"), "30");
    push(f, 200, "{\"ts\":\"30\",\"updates\":[]}", 0);
    d->poll(og_test_conn_inst(c), 0);
    CHECK_STR(og_fake_get(f, 2)->url, "/lp/wh199?act=a_check&key=K3&ts=30&wait=0");
    og_fake_reset(f);

    /* failed 3: a new key and a new ts. */
    push(f, 200, "{\"failed\":3}", 0);
    snprintf(srv, sizeof srv, "{\"response\":{\"key\":\"K4\",\"server\":\"%s\",\"ts\":\"500\"}}",
             lp);
    push(f, 200, srv, 0);
    e = d->poll(og_test_conn_inst(c), 0);
    CHECK_INT(e, OG_OK);
    CHECK_STR(og_test_state_get("test:lp_ts"), "500");
    push(f, 200, "{\"ts\":\"500\",\"updates\":[]}", 0);
    d->poll(og_test_conn_inst(c), 0);
    CHECK_STR(og_fake_get(f, 2)->url, "/lp/wh199?act=a_check&key=K4&ts=500&wait=0");
    og_fake_reset(f);

    /* An emit failure: the ts does not move, the same updates come again. */
    og_test_conn_clear(c);
    snprintf(body, sizeof body, "{\"ts\":\"502\",\"updates\":[%s,%s]}", e4, e1);
    push(f, 200, body, 0);
    og_test_conn_fail_emits(c, 1, OG_ERR_UNAVAILABLE);
    e = d->poll(og_test_conn_inst(c), 0);
    CHECK_INT(e, OG_ERR_UNAVAILABLE);
    CHECK_STR(og_test_state_get("test:lp_ts"), "500");
    push(f, 200, body, 0);
    e = d->poll(og_test_conn_inst(c), 0);
    CHECK_INT(e, OG_OK);
    CHECK_STR(og_fake_get(f, 1)->url, "/lp/wh199?act=a_check&key=K4&ts=500&wait=0");
    CHECK_STR(og_test_state_get("test:lp_ts"), "502");
    CHECK_INT(og_test_conn_messages(c), 2);
    og_fake_reset(f);

    /* API errors of getLongPollServer are mapped. */
    push(f, 200, "{\"failed\":2}", 0);
    push(f, 200, "{\"error\":{\"error_code\":5,\"error_msg\":\"User authorization failed\"}}", 0);
    e = d->poll(og_test_conn_inst(c), 0);
    CHECK_INT(e, OG_ERR_AUTH);
    og_fake_reset(f);

    /* poll_wakeup: the next poll returns at once without a request. */
    d->poll_wakeup(og_test_conn_inst(c));
    e = d->poll(og_test_conn_inst(c), 5000);
    CHECK_INT(e, OG_OK);
    CHECK_INT(og_fake_count(f), 0);
    og_test_conn_close(c);

    /* Callback mode does not poll: the host stops calling. */
    c = og_test_conn_open("vk", cb_opts(og_fake_base(f), 0));
    d = og_test_conn_desc(c);
    time_t t0 = time(NULL);
    CHECK_INT(d->poll(og_test_conn_inst(c), 5000), OG_ERR_UNSUPPORTED);
    CHECK(time(NULL) - t0 < 2);
    CHECK_INT(og_fake_count(f), 0);
    og_test_conn_close(c);
    free(e1), free(e2), free(e3), free(e4);
    og_fake_stop(f);
}

/* --------------------------------------------------------------- send */

static struct og_outbound out_text(const char *text)
{
    struct og_outbound o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.message_id = "msg_0001";
    o.thread_id = "22757746";
    o.contact_external_id = "22757746";
    o.kind = OG_KIND_TEXT;
    o.text = text;
    o.last_inbound_age_ms = -1;
    return o;
}

static og_err do_send(struct og_test_conn *c, const struct og_outbound *o,
                      struct og_send_result *res)
{
    memset(res, 0, sizeof *res);
    res->struct_size = sizeof *res;
    return og_test_conn_desc(c)->send(og_test_conn_inst(c), o, res);
}

/* Routes the upload flow by URL. */
struct flow {
    char base[128];
    char upload_photo[256], upload_doc[256];
    int fail_step; /* 0 none; 1 download 404; 2 download 302; 3 getUploadServer error */
};

static int flow_handler(void *ud, const struct og_fake_req *q, struct og_fake_resp *r)
{
    struct flow *fl = ud;
    static _Thread_local char buf[1024];
    r->status = 200;
    r->content_type = "application/json";
    if (strncmp(q->url, "/files/", 7) == 0) {
        if (fl->fail_step == 1) {
            r->status = 404;
            r->body = "not found";
        } else if (fl->fail_step == 2) {
            r->status = 302;
            r->body = "";
            r->headers = "Location: https://elsewhere.example/x.jpg\n";
        } else {
            r->body = strstr(q->url, ".pdf") ? "%PDF-1.4 fake" : "JPEGDATA";
            r->content_type = strstr(q->url, ".pdf") ? "application/pdf" : "image/jpeg";
        }
    } else if (strcmp(q->url, "/method/photos.getMessagesUploadServer") == 0) {
        if (fl->fail_step == 3) {
            r->body = "{\"error\":{\"error_code\":5,\"error_msg\":\"User authorization failed: "
                      "invalid access_token (4).\"}}";
        } else {
            snprintf(buf, sizeof buf,
                     "{\"response\":{\"album_id\":-64,\"upload_url\":\"%s/upload/photo?a=1\","
                     "\"group_id\":199493573}}",
                     fl->base);
            r->body = buf;
        }
    } else if (strcmp(q->url, "/upload/photo?a=1") == 0) {
        r->body = "{\"server\":1234,\"photo\":\"[{\\\"photo\\\":\\\"abc\\\"}]\",\"hash\":\"h4sh\"}";
    } else if (strcmp(q->url, "/method/photos.saveMessagesPhoto") == 0) {
        r->body = "{\"response\":[{\"id\":457239100,\"owner_id\":-199493573,\"access_key\":"
                  "\"ak1\",\"sizes\":[]}]}";
    } else if (strcmp(q->url, "/method/docs.getMessagesUploadServer") == 0) {
        snprintf(buf, sizeof buf, "{\"response\":{\"upload_url\":\"%s/upload/doc\"}}", fl->base);
        r->body = buf;
    } else if (strcmp(q->url, "/upload/doc") == 0) {
        r->body = "{\"file\":\"22757746|0|0|file-token\"}";
    } else if (strcmp(q->url, "/method/docs.save") == 0) {
        r->body = "{\"response\":{\"type\":\"doc\",\"doc\":{\"id\":612399,\"owner_id\":22757746,"
                  "\"title\":\"report.pdf\"}}}";
    } else if (strcmp(q->url, "/method/messages.send") == 0) {
        r->body = "{\"response\":777}";
    } else {
        return 0;
    }
    return 1;
}

static void test_send(void)
{
    struct og_fake *f = og_fake_start();
    struct og_test_conn *c = og_test_conn_open("vk", cb_opts(og_fake_base(f), 0));
    CHECK(c != NULL);
    if (!c) {
        og_fake_stop(f);
        return;
    }
    struct og_send_result res;
    og_err e;

    /* Text with a reply; random_id stable across a retry. */
    struct og_outbound o = out_text("Hello");
    o.reply_to_provider_id = "1450";
    push(f, 200, "{\"response\":12345}", 0);
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_OK);
    CHECK_STR(res.provider_message_id, "12345");
    free(res.provider_message_id);
    const struct og_fake_req *q = og_fake_get(f, 0);
    CHECK_STR(q->method, "POST");
    CHECK_STR(q->url, "/method/messages.send");
    CHECK_STR(form(q->body, "peer_id"), "22757746");
    CHECK_STR(form(q->body, "message"), "Hello");
    CHECK_STR(form(q->body, "reply_to"), "1450");
    CHECK_STR(form(q->body, "access_token"), "vk1.a.TOKEN");
    CHECK_STR(form(q->body, "v"), "5.199");
    char rid1[32];
    snprintf(rid1, sizeof rid1, "%s", form(q->body, "random_id"));
    long long rid = atoll(rid1);
    CHECK(rid > 0 && rid <= 0x7fffffffLL);
    push(f, 200, "{\"response\":12345}", 0);
    e = do_send(c, &o, &res);
    free(res.provider_message_id);
    CHECK_STR(form(og_fake_get(f, 1)->body, "random_id"), rid1);
    o.message_id = "msg_0002";
    push(f, 200, "{\"response\":12346}", 0);
    e = do_send(c, &o, &res);
    free(res.provider_message_id);
    CHECK(strcmp(form(og_fake_get(f, 2)->body, "random_id"), rid1) != 0);
    og_fake_reset(f);

    /* Buttons: an id whose payload would pass VK's 255 characters is
     * refused before any call (quotes double in the JSON payload). */
    char qid[201];
    memset(qid, '"', 200);
    qid[200] = 0;
    struct og_button btn = {qid, "Quote"};
    o = out_text("Pick");
    o.buttons = &btn;
    o.n_buttons = 1;
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_ERR_INVALID);
    CHECK(strstr(res.error_message, "255") != NULL);
    CHECK_INT(og_fake_count(f), 0);

    /* A reply in a group chat quotes by conversation_message_id. */
    o = out_text("to the chat");
    o.thread_id = "2000000001";
    o.reply_to_provider_id = "2000000001:76";
    push(f, 200, "{\"response\":1}", 0);
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_OK);
    free(res.provider_message_id);
    q = og_fake_get(f, 0);
    CHECK_STR(form(q->body, "peer_id"), "2000000001");
    json_object *fw = json_tokener_parse(form(q->body, "forward"));
    CHECK_STR(jget(fw, "peer_id"), "2000000001");
    CHECK_STR(jget(fw, "conversation_message_ids.0"), "76");
    CHECK_STR(jget(fw, "is_reply"), "true");
    json_object_put(fw);
    og_fake_reset(f);

    /* Over 9000 characters: several messages, each with its own random_id. */
    {
        char *t = malloc(12001);
        memset(t, 'z', 12000);
        t[12000] = 0;
        t[8000] = '\n';
        o = out_text(t);
        push(f, 200, "{\"response\":501}", 0);
        push(f, 200, "{\"response\":502}", 0);
        e = do_send(c, &o, &res);
        CHECK_INT(e, OG_OK);
        CHECK_STR(res.provider_message_id, "501");
        free(res.provider_message_id);
        CHECK_INT(og_fake_count(f), 2);
        const char *m0 = form(og_fake_get(f, 0)->body, "message");
        CHECK_INT(strlen(m0), 8001);
        const char *m1 = form(og_fake_get(f, 1)->body, "message");
        CHECK_INT(strlen(m1), 3999);
        CHECK(strcmp(form(og_fake_get(f, 0)->body, "random_id"),
                     form(og_fake_get(f, 1)->body, "random_id")) != 0);
        CHECK_STR(form(og_fake_get(f, 0)->body, "random_id"), rid1);
        free(t);
        og_fake_reset(f);
    }

    /* Error mapping: VK answers errors with HTTP 200. */
    static const struct {
        int code;
        og_err want;
    } map[] = {{5, OG_ERR_AUTH},         {27, OG_ERR_AUTH},         {6, OG_ERR_RATE_LIMITED},
               {9, OG_ERR_RATE_LIMITED}, {29, OG_ERR_RATE_LIMITED}, {10, OG_ERR_RETRYABLE},
               {901, OG_ERR_PERMANENT},  {902, OG_ERR_PERMANENT},   {15, OG_ERR_PERMANENT},
               {917, OG_ERR_PERMANENT},  {945, OG_ERR_PERMANENT},   {914, OG_ERR_PERMANENT},
               {100, OG_ERR_PERMANENT}};
    o = out_text("x");
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        char b[256], code[16];
        snprintf(b, sizeof b,
                 "{\"error\":{\"error_code\":%d,\"error_msg\":\"message %d\",\"request_params\":"
                 "[{\"key\":\"method\",\"value\":\"messages.send\"}]}}",
                 map[i].code, map[i].code);
        push(f, 200, b, 0);
        e = do_send(c, &o, &res);
        CHECK_INT(e, map[i].want);
        snprintf(code, sizeof code, "%d", map[i].code);
        CHECK_STR(res.error_code, code);
        snprintf(b, sizeof b, "message %d", map[i].code);
        CHECK_STR(res.error_message, b);
        CHECK(res.provider_message_id == NULL);
        if (map[i].code == 6)
            CHECK_INT(res.retry_after_ms, 1000);
    }
    push(f, 500, "oops", 0);
    CHECK_INT(do_send(c, &o, &res), OG_ERR_RETRYABLE);
    push(f, 200, "not json", 0);
    CHECK_INT(do_send(c, &o, &res), OG_ERR_RETRYABLE);
    push(f, 200, "{\"response\":1}", 2500); /* beyond timeout_ms 1000 */
    CHECK_INT(do_send(c, &o, &res), OG_ERR_RETRYABLE);
    CHECK_STR(res.error_code, "transport");
    o.thread_id = "user";
    o.contact_external_id = NULL;
    CHECK_INT(do_send(c, &o, &res), OG_ERR_INVALID);
    o = out_text(NULL);
    CHECK_INT(do_send(c, &o, &res), OG_ERR_INVALID);
    o = out_text("x");
    o.kind = OG_KIND_CONTACT;
    CHECK_INT(do_send(c, &o, &res), OG_ERR_UNSUPPORTED);
    og_fake_reset(f);

    /* Image by URL: the photo upload flow. */
    struct flow fl = {0};
    snprintf(fl.base, sizeof fl.base, "%s", og_fake_base(f));
    og_fake_set_handler(f, flow_handler, &fl);
    char url[256];
    snprintf(url, sizeof url, "%s/files/cat.jpg", og_fake_base(f));
    struct og_attachment img = {.url = url, .mime_type = "image/jpeg"};
    o = out_text("a cat");
    o.kind = OG_KIND_IMAGE;
    o.attachments = &img;
    o.n_attachments = 1;
    o.message_id = "msg_img";
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_OK);
    CHECK_STR(res.provider_message_id, "777");
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(f), 5);
    if (og_fake_count(f) == 5) {
        CHECK_STR(og_fake_get(f, 0)->url, "/files/cat.jpg");
        CHECK_STR(og_fake_get(f, 0)->method, "GET");
        q = og_fake_get(f, 1);
        CHECK_STR(q->url, "/method/photos.getMessagesUploadServer");
        CHECK_STR(form(q->body, "peer_id"), "22757746");
        q = og_fake_get(f, 2);
        CHECK_STR(q->url, "/upload/photo?a=1");
        CHECK(strstr(q->body, "name=\"photo\"") != NULL);
        CHECK(strstr(q->body, "filename=\"cat.jpg\"") != NULL);
        CHECK(strstr(q->body, "JPEGDATA") != NULL);
        q = og_fake_get(f, 3);
        CHECK_STR(q->url, "/method/photos.saveMessagesPhoto");
        CHECK_STR(form(q->body, "server"), "1234");
        CHECK_STR(form(q->body, "hash"), "h4sh");
        CHECK_STR(form(q->body, "photo"), "[{\"photo\":\"abc\"}]");
        q = og_fake_get(f, 4);
        CHECK_STR(q->url, "/method/messages.send");
        CHECK_STR(form(q->body, "attachment"), "photo-199493573_457239100_ak1");
        CHECK_STR(form(q->body, "message"), "a cat");
        char rid_img[32];
        snprintf(rid_img, sizeof rid_img, "%s", form(q->body, "random_id"));
        /* A retry re-uploads but sends with the same random_id. */
        og_fake_reset(f);
        e = do_send(c, &o, &res);
        free(res.provider_message_id);
        CHECK_INT(og_fake_count(f), 5);
        if (og_fake_count(f) == 5)
            CHECK_STR(form(og_fake_get(f, 4)->body, "random_id"), rid_img);
    }
    og_fake_reset(f);

    /* File by URL: the doc upload flow. */
    snprintf(url, sizeof url, "%s/files/report.pdf", og_fake_base(f));
    struct og_attachment doc = {.url = url, .mime_type = "application/pdf", .name = "report.pdf"};
    o = out_text(NULL);
    o.kind = OG_KIND_FILE;
    o.attachments = &doc;
    o.n_attachments = 1;
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_OK);
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(f), 5);
    if (og_fake_count(f) == 5) {
        q = og_fake_get(f, 1);
        CHECK_STR(q->url, "/method/docs.getMessagesUploadServer");
        CHECK_STR(form(q->body, "type"), "doc");
        CHECK_STR(form(q->body, "peer_id"), "22757746");
        q = og_fake_get(f, 2);
        CHECK(strstr(q->body, "name=\"file\"") != NULL);
        CHECK(strstr(q->body, "%PDF-1.4 fake") != NULL);
        q = og_fake_get(f, 3);
        CHECK_STR(q->url, "/method/docs.save");
        CHECK_STR(form(q->body, "file"), "22757746|0|0|file-token");
        q = og_fake_get(f, 4);
        CHECK_STR(form(q->body, "attachment"), "doc22757746_612399");
        CHECK(strstr(q->body, "message=") == NULL);
    }
    og_fake_reset(f);

    /* An existing media_id is sent as is. */
    struct og_attachment ref = {.media_id = "photo22757746_457239017_abc123"};
    o = out_text("again");
    o.kind = OG_KIND_IMAGE;
    o.attachments = &ref;
    o.n_attachments = 1;
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_OK);
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(f), 1);
    CHECK_STR(form(og_fake_get(f, 0)->body, "attachment"), "photo22757746_457239017_abc123");
    og_fake_reset(f);

    /* Upload failures: nothing is sent. */
    snprintf(url, sizeof url, "%s/files/cat.jpg", og_fake_base(f));
    img.url = url;
    o = out_text("a cat");
    o.kind = OG_KIND_IMAGE;
    o.attachments = &img;
    o.n_attachments = 1;
    fl.fail_step = 1;
    CHECK_INT(do_send(c, &o, &res), OG_ERR_PERMANENT);
    fl.fail_step = 2;
    CHECK_INT(do_send(c, &o, &res), OG_ERR_PERMANENT);
    CHECK(strstr(res.error_message, "redirect") != NULL);
    fl.fail_step = 3;
    CHECK_INT(do_send(c, &o, &res), OG_ERR_AUTH);
    CHECK_STR(res.error_code, "5");
    for (size_t i = 0; i < og_fake_count(f); i++)
        CHECK(strcmp(og_fake_get(f, i)->url, "/method/messages.send") != 0);
    og_fake_set_handler(f, NULL, NULL);
    og_test_conn_close(c);

    /* Transport failure. */
    c = og_test_conn_open("vk", cb_opts("http://127.0.0.1:9", 0));
    o = out_text("x");
    CHECK_INT(do_send(c, &o, &res), OG_ERR_RETRYABLE);
    og_test_conn_close(c);
    og_fake_stop(f);
}

int main(void)
{
    test_options();
    test_callback_auth();
    test_kinds();
    test_redelivery();
    test_profiles();
    test_longpoll();
    test_send();
    return og_test_done();
}
