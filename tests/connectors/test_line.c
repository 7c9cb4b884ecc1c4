/* test_line - the LINE connector (connectors/line) through the harness.
 *
 * Inbound: the documented webhook payloads in fixtures/line/ are signed here
 * with OpenSSL (Base64 HMAC-SHA256 under the channel secret, independently
 * of the host's helpers) and fed to handle_http; what the plugin emits is
 * checked field by field for every kind, a multi-event body, group and room
 * sources, redelivery, standby, unhandled event types, signature failures
 * and a failing store. Sender profiles come from a fake LINE API.
 *
 * Outbound: send() talks to the same fake on 127.0.0.1, which records every
 * request: reply with a fresh token, push with a stale one, the fallbacks
 * (invalid reply token, 5xx), the retry key (recomputed here with OpenSSL),
 * 409, 429, 401, 403, 400, 500, a slow answer, a timeout, a refused
 * connection and text splitting. */
#include "og_http_client.h"
#include "og_log.h"
#include "og_test.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "line-channel-secret-0123"
#define TOKEN "line-access-token-XYZ"
#define DATA_BASE "https://api-data.example.test"

/* ------------------------------------------------------------- helpers */

/* Base64(HMAC-SHA256(secret, body)), computed with OpenSSL. */
static void sign(const char *secret, const char *body, size_t len, char out[64])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &n);
    EVP_EncodeBlock((unsigned char *)out, mac, (int)n);
}

static struct og_test_http post_with_sig(struct og_test_conn *c, const char *body, size_t len,
                                         const char *sig)
{
    char headers[256];
    if (sig)
        snprintf(headers, sizeof headers, "Content-Type: application/json\nX-Line-Signature: %s\n",
                 sig);
    else
        snprintf(headers, sizeof headers, "Content-Type: application/json\n");
    return og_test_conn_request(c, "POST", "", NULL, headers, body, len);
}

static struct og_test_http post_signed(struct og_test_conn *c, const char *body)
{
    char sig[64];
    sign(SECRET, body, strlen(body), sig);
    return post_with_sig(c, body, strlen(body), sig);
}

static char *fixture(const char *name)
{
    char rel[128];
    snprintf(rel, sizeof rel, "tests/connectors/fixtures/line/%s", name);
    char *path = og_test_src(rel);
    char *s = og_test_read_file(path, NULL);
    if (!s)
        fprintf(stderr, "cannot read %s\n", path);
    free(path);
    return s;
}

/* Posts a fixture signed; returns the HTTP status. */
static int post_fixture(struct og_test_conn *c, const char *name)
{
    char *body = fixture(name);
    if (!body)
        return -1;
    struct og_test_http r = post_signed(c, body);
    free(body);
    return r.status;
}

/* "a.b.0.c" lookup returning a string (numbers printed) or NULL. */
static const char *jpath(json_object *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_object *cur = o;
    char *save = NULL;
    for (char *seg = strtok_r(buf, ".", &save); seg && cur; seg = strtok_r(NULL, ".", &save)) {
        json_object *next = NULL;
        if (json_object_is_type(cur, json_type_array))
            next = json_object_array_get_idx(cur, (size_t)atoi(seg));
        else if (!json_object_object_get_ex(cur, seg, &next))
            next = NULL;
        cur = next;
    }
    return cur && !json_object_is_type(cur, json_type_null) ? json_object_get_string(cur) : NULL;
}

static int64_t jint(json_object *o, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    return json_object_get_int64(v);
}

static size_t jlen(json_object *o, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    return v && json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
}

/* The raw member parses back as the event it came from. */
static void check_raw(json_object *m, const char *webhook_event_id)
{
    const char *raw = jpath(m, "raw");
    CHECK(raw != NULL);
    json_object *ev = raw ? json_tokener_parse(raw) : NULL;
    CHECK(ev != NULL);
    CHECK_STR(jpath(ev, "webhookEventId"), webhook_event_id);
    json_object_put(ev);
}

/* The expected X-Line-Retry-Key, computed here with OpenSSL. */
static void expected_key(const char *message_id, char out[37])
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)message_id, strlen(message_id), h);
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x40);
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static int is_uuid_v4(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

/* The fake LINE API's profile endpoints; everything else falls through to
 * the queue's default. Users whose id starts with "U4" have no profile. */
static int fake_line(void *ud, const struct og_fake_req *req, struct og_fake_resp *resp)
{
    (void)ud;
    if (strcmp(req->method, "GET") != 0)
        return 0;
    if (strncmp(req->url, "/v2/bot/profile/U4", 18) == 0) {
        resp->status = 404;
        resp->body = "{\"message\":\"Not found\"}";
        return 1;
    }
    if (strncmp(req->url, "/v2/bot/profile/", 16) == 0) {
        resp->status = 200;
        resp->body = "{\"displayName\":\"Taro\",\"userId\":\"U8d55942f87f2155f24550b7fe6eac9c0\","
                     "\"language\":\"ja\",\"pictureUrl\":\"https://profile.line-scdn.net/taro\","
                     "\"statusMessage\":\"Hello\"}";
        return 1;
    }
    if (strncmp(req->url, "/v2/bot/group/", 14) == 0 && strstr(req->url, "/member/")) {
        resp->status = 200;
        resp->body = "{\"displayName\":\"Group Member\",\"userId\":\"U1\"}";
        return 1;
    }
    if (strncmp(req->url, "/v2/bot/room/", 13) == 0 && strstr(req->url, "/member/")) {
        resp->status = 200;
        resp->body = "{\"displayName\":\"Room Member\",\"pictureUrl\":\"https://p/r\"}";
        return 1;
    }
    return 0;
}

static size_t count_requests(struct og_fake *f, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < og_fake_count(f); i++) {
        const struct og_fake_req *r = og_fake_get(f, i);
        if (r && strncmp(r->url, prefix, strlen(prefix)) == 0)
            n++;
    }
    return n;
}

/* ----------------------------------------------------------- descriptor */

static void test_descriptor(struct og_test_conn *c)
{
    const struct og_connector *d = og_test_conn_desc(c);
    CHECK_STR(d->name, "line");
    CHECK(d->platform_api && strstr(d->platform_api, "LINE Messaging API"));
    CHECK(d->handle_http && d->send && !d->poll);
    const char *names[] = {"channel_secret", "channel_access_token", "api_base", "api_data_base"};
    size_t n = 0;
    for (const struct og_option *o = d->options; o->name; o++, n++) {
        CHECK(n < 4);
        if (n < 4)
            CHECK_STR(o->name, names[n]);
        if (n < 2)
            CHECK(o->flags == (OG_OPT_REQUIRED | OG_OPT_SECRET));
        if (n == 2)
            CHECK_STR(o->def, "https://api.line.me");
        if (n == 3)
            CHECK_STR(o->def, "https://api-data.line.me");
    }
    CHECK_INT(n, 4);
}

static void test_options(void)
{
    char *e = og_test_conn_open_errors("line", "{\"channel_access_token\":\"t\"}");
    CHECK(strstr(e, "channel_secret") != NULL);
    free(e);
    e = og_test_conn_open_errors("line", "{\"channel_secret\":\"s\"}");
    CHECK(strstr(e, "channel_access_token") != NULL);
    free(e);
    e = og_test_conn_open_errors(
        "line", "{\"channel_secret\":\"s\",\"channel_access_token\":\"t\",\"bot_token\":\"x\"}");
    CHECK(strstr(e, "bot_token") != NULL);
    free(e);
    e = og_test_conn_open_errors(
        "line",
        "{\"channel_secret\":\"s\",\"channel_access_token\":\"t\",\"api_base\":\"ftp://x\"}");
    CHECK(strstr(e, "api_base") != NULL);
    free(e);
    /* Defaults alone are enough. */
    e = og_test_conn_open_errors("line",
                                 "{\"channel_secret\":\"s\",\"channel_access_token\":\"t\"}");
    CHECK_STR(e, "");
    free(e);
}

/* --------------------------------------------------------------- inbound */

static void test_text(struct og_test_conn *c, struct og_fake *f)
{
    og_test_conn_clear(c);
    og_fake_reset(f);
    CHECK_INT(post_fixture(c, "text.json"), 200);
    CHECK_INT(og_test_conn_messages(c), 1);
    json_object *m = og_test_conn_message(c, 0);
    CHECK_STR(jpath(m, "kind"), "text");
    CHECK_STR(jpath(m, "text"), "hello");
    CHECK_STR(jpath(m, "dedup_key"), "01K1X3GJT3NC0ZNPDA6D3BDJP3");
    CHECK_STR(jpath(m, "provider_message_id"), "573052424819310747");
    CHECK_STR(jpath(m, "thread_id"), "U8d55942f87f2155f24550b7fe6eac9c0");
    CHECK_STR(jpath(m, "from.external_id"), "U8d55942f87f2155f24550b7fe6eac9c0");
    CHECK_STR(jpath(m, "from.name"), "Taro");
    CHECK_STR(jpath(m, "from.avatar_url"), "https://profile.line-scdn.net/taro");
    CHECK_STR(jpath(m, "reply_token"), "ec0186b265ef46dd87505db6249741f5");
    CHECK(jpath(m, "reply_to") == NULL);
    CHECK_INT(jint(m, "timestamp_ms"), 1754397166222LL);
    CHECK_INT(jlen(m, "attachments"), 0);
    check_raw(m, "01K1X3GJT3NC0ZNPDA6D3BDJP3");

    /* One profile lookup, with the bearer token. */
    CHECK_INT(count_requests(f, "/v2/bot/profile/U8d55942f87f2155f24550b7fe6eac9c0"), 1);
    const struct og_fake_req *rq = og_fake_get(f, 0);
    if (rq) {
        char buf[128];
        CHECK_STR(rq->method, "GET");
        CHECK_STR(og_fake_header(rq, "authorization", buf, sizeof buf), "Bearer " TOKEN);
    }
    /* The same user again: from the cache, no second call. */
    og_test_conn_clear(c);
    CHECK_INT(post_fixture(c, "image.json"), 200);
    CHECK_STR(jpath(og_test_conn_message(c, 0), "from.name"), "Taro");
    CHECK_INT(og_fake_count(f), 1);
}

static void test_text_emoji_quoted(struct og_test_conn *c, struct og_fake *f)
{
    og_test_conn_clear(c);
    og_fake_reset(f);
    CHECK_INT(post_fixture(c, "text_emoji_quoted.json"), 200);
    CHECK_INT(og_test_conn_messages(c), 1);
    json_object *m = og_test_conn_message(c, 0);
    CHECK_STR(jpath(m, "kind"), "text");
    CHECK_STR(jpath(m, "text"), "@example Hello, world! (love)");
    CHECK_STR(jpath(m, "reply_to"), "468789532432007169");
    CHECK_STR(jpath(m, "provider_message_id"), "468789577898262530");
    /* No profile (404): stored without a name; remembered, not asked again. */
    CHECK(jpath(m, "from.name") == NULL);
    CHECK_STR(jpath(m, "from.external_id"), "U4af4980629a2e3f3c8d1e2b4d3f4c5a6");
    CHECK_INT(og_fake_count(f), 1);
    CHECK_INT(post_fixture(c, "text_emoji_quoted.json"), 200);
    CHECK_INT(og_fake_count(f), 1);
}

static void test_media(struct og_test_conn *c)
{
    struct {
        const char *file, *kind, *id, *url, *name;
        int64_t size;
    } cases[] = {
        {"image.json", "image", "535883069103014193",
         DATA_BASE "/v2/bot/message/535883069103014193/content", NULL, 0},
        {"image_external.json", "image", "354718705033693861", "https://example.com/original.jpg",
         NULL, 0},
        {"video.json", "video", "325708", DATA_BASE "/v2/bot/message/325708/content", NULL, 0},
        {"audio.json", "audio", "325709", DATA_BASE "/v2/bot/message/325709/content", NULL, 0},
        {"file.json", "file", "325710", DATA_BASE "/v2/bot/message/325710/content", "file.txt",
         2138},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        og_test_conn_clear(c);
        CHECK_INT(post_fixture(c, cases[i].file), 200);
        CHECK_INT(og_test_conn_messages(c), 1);
        json_object *m = og_test_conn_message(c, 0);
        CHECK_STR(jpath(m, "kind"), cases[i].kind);
        CHECK_STR(jpath(m, "provider_message_id"), cases[i].id);
        CHECK_INT(jlen(m, "attachments"), 1);
        CHECK_STR(jpath(m, "attachments.0.media_id"), cases[i].id);
        CHECK_STR(jpath(m, "attachments.0.url"), cases[i].url);
        if (cases[i].name)
            CHECK_STR(jpath(m, "attachments.0.name"), cases[i].name);
        CHECK_INT(atoll(jpath(m, "attachments.0.size") ? jpath(m, "attachments.0.size") : "0"),
                  cases[i].size);
        CHECK(jpath(m, "text") == NULL);
        CHECK(jpath(m, "reply_token") != NULL);
    }
}

static void test_sticker_location(struct og_test_conn *c)
{
    og_test_conn_clear(c);
    CHECK_INT(post_fixture(c, "sticker.json"), 200);
    json_object *m = og_test_conn_message(c, 0);
    CHECK_STR(jpath(m, "kind"), "sticker");
    CHECK_STR(jpath(m, "attachments.0.media_id"), "11537:52002738");
    CHECK(jpath(m, "attachments.0.url") == NULL);
    CHECK_STR(jpath(m, "reply_to"), "1501597000");
    CHECK_STR(jpath(m, "provider_message_id"), "1501597916");

    og_test_conn_clear(c);
    CHECK_INT(post_fixture(c, "location.json"), 200);
    m = og_test_conn_message(c, 0);
    CHECK_STR(jpath(m, "kind"), "location");
    CHECK_STR(jpath(m, "location.name"), "my location");
    CHECK_STR(jpath(m, "location.address"), "1-3 Kioicho, Chiyoda-ku, Tokyo, 102-8282, Japan");
    json_object *loc = NULL, *lat = NULL, *lon = NULL;
    json_object_object_get_ex(m, "location", &loc);
    json_object_object_get_ex(loc, "latitude", &lat);
    json_object_object_get_ex(loc, "longitude", &lon);
    CHECK(json_object_get_double(lat) > 35.6591 && json_object_get_double(lat) < 35.6592);
    CHECK(json_object_get_double(lon) > 139.7037 && json_object_get_double(lon) < 139.7038);
}

static void test_multi(struct og_test_conn *c, struct og_fake *f)
{
    og_test_conn_clear(c);
    og_fake_reset(f);
    CHECK_INT(post_fixture(c, "multi.json"), 200);
    CHECK_INT(og_test_conn_messages(c), 6);
    json_object *m = og_test_conn_message(c, 0);
    CHECK_STR(jpath(m, "kind"), "text");
    CHECK_STR(jpath(m, "thread_id"), "Ca56f94637c4b4d62e4f5c4f4f4f4f4f4");
    CHECK_STR(jpath(m, "from.external_id"), "U11111111111111111111111111111111");
    CHECK_STR(jpath(m, "from.name"), "Group Member");
    CHECK_STR(jpath(m, "reply_token"), "rt-group-1");
    m = og_test_conn_message(c, 1);
    CHECK_STR(jpath(m, "kind"), "image");
    CHECK_STR(jpath(m, "thread_id"), "Ra8dbf4673c4c812cd491258042226c99");
    CHECK_STR(jpath(m, "from.external_id"), "U22222222222222222222222222222222");
    CHECK_STR(jpath(m, "from.name"), "Room Member");
    m = og_test_conn_message(c, 2);
    CHECK_STR(jpath(m, "kind"), "interactive");
    CHECK_STR(jpath(m, "text"), "action=buy&itemid=111");
    CHECK_STR(jpath(m, "dedup_key"), "01H0000000000000000000PB01");
    CHECK_STR(jpath(m, "reply_token"), "rt-postback-1");
    CHECK(jpath(m, "provider_message_id") == NULL);
    m = og_test_conn_message(c, 3);
    CHECK_STR(jpath(m, "kind"), "system");
    CHECK_STR(jpath(m, "text"), "follow");
    CHECK_STR(jpath(m, "thread_id"), "U44444444444444444444444444444444");
    m = og_test_conn_message(c, 4);
    CHECK_STR(jpath(m, "kind"), "system");
    CHECK_STR(jpath(m, "text"), "unfollow");
    CHECK(jpath(m, "reply_token") == NULL);
    m = og_test_conn_message(c, 5);
    CHECK_STR(jpath(m, "kind"), "system");
    CHECK_STR(jpath(m, "text"), "unsend");
    CHECK_STR(jpath(m, "reply_to"), "325708");
    CHECK_STR(jpath(m, "thread_id"), "Ca56f94637c4b4d62e4f5c4f4f4f4f4f4");
    check_raw(m, "01H0000000000000000000UNS1");
    /* Group and room members are looked up through their own endpoints. */
    CHECK_INT(count_requests(f, "/v2/bot/group/Ca56f94637c4b4d62e4f5c4f4f4f4f4f4/member/"
                                "U11111111111111111111111111111111"),
              1);
    CHECK_INT(count_requests(f, "/v2/bot/room/Ra8dbf4673c4c812cd491258042226c99/member/"), 1);
}

static void test_signature(struct og_test_conn *c)
{
    char *body = fixture("text.json");
    if (!body)
        return;
    size_t len = strlen(body);
    char sig[64];
    og_test_conn_clear(c);

    /* Signed with another secret. */
    sign("not-the-secret", body, len, sig);
    struct og_test_http r = post_with_sig(c, body, len, sig);
    CHECK_INT(r.status, 401);
    CHECK_INT(r.err, OG_ERR_SIGNATURE);
    /* No header at all. */
    r = post_with_sig(c, body, len, NULL);
    CHECK_INT(r.status, 401);
    /* Empty header. */
    r = post_with_sig(c, body, len, "");
    CHECK_INT(r.status, 401);
    /* The body altered by one byte after signing. */
    sign(SECRET, body, len, sig);
    char *altered = strdup(body);
    char *h = strstr(altered, "hello");
    if (h)
        h[0] = 'j';
    r = post_with_sig(c, altered, len, sig);
    CHECK_INT(r.status, 401);
    /* The right MAC in hex instead of Base64. */
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char hex[80];
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)body, len, mac, &n);
    for (unsigned i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    r = post_with_sig(c, body, len, hex);
    CHECK_INT(r.status, 401);
    /* A truncated signature. */
    sig[20] = 0;
    r = post_with_sig(c, body, len, sig);
    CHECK_INT(r.status, 401);
    CHECK_INT(og_test_conn_messages(c), 0);
    /* The genuine one passes. */
    sign(SECRET, body, len, sig);
    r = post_with_sig(c, body, len, sig);
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(c), 1);
    free(altered);
    free(body);
}

static void test_verify_and_skips(struct og_test_conn *c)
{
    og_test_conn_clear(c);
    CHECK_INT(post_fixture(c, "verify_empty.json"), 200);
    CHECK_INT(og_test_conn_messages(c), 0);
    /* An unsigned verify request is still refused. */
    char *body = fixture("verify_empty.json");
    if (body) {
        CHECK_INT(post_with_sig(c, body, strlen(body), NULL).status, 401);
        free(body);
    }

    CHECK_INT(post_fixture(c, "standby.json"), 200);
    CHECK_INT(og_test_conn_messages(c), 0);

    CHECK_INT(post_fixture(c, "unhandled.json"), 200);
    CHECK_INT(og_test_conn_messages(c), 0);

    /* Odd but signed events: no source, no id, no type, unknown message
     * type, a location out of range. Never a 5xx. */
    const char *odd =
        "{\"destination\":\"U0\",\"events\":["
        "{\"type\":\"message\",\"webhookEventId\":\"E1\",\"mode\":\"active\","
        "\"message\":{\"type\":\"text\",\"id\":\"1\",\"text\":\"no source\"}},"
        "{\"type\":\"message\",\"mode\":\"active\",\"source\":{\"type\":\"user\",\"userId\":"
        "\"U8d55942f87f2155f24550b7fe6eac9c0\"},\"message\":{\"type\":\"text\",\"id\":\"2\","
        "\"text\":\"no event id\"}},"
        "{\"webhookEventId\":\"E3\"},"
        "17,"
        "{\"type\":\"message\",\"webhookEventId\":\"E4\",\"mode\":\"active\",\"source\":{\"type\":"
        "\"user\",\"userId\":\"U8d55942f87f2155f24550b7fe6eac9c0\"},\"message\":{\"type\":"
        "\"hologram\",\"id\":\"4\"}},"
        "{\"type\":\"message\",\"webhookEventId\":\"E5\",\"mode\":\"active\",\"source\":{\"type\":"
        "\"user\",\"userId\":\"U8d55942f87f2155f24550b7fe6eac9c0\"},\"message\":{\"type\":"
        "\"location\",\"id\":\"5\",\"latitude\":91,\"longitude\":0}}"
        "]}";
    og_test_conn_clear(c);
    struct og_test_http r = post_signed(c, odd);
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(c), 2);
    json_object *m = og_test_conn_message(c, 0);
    CHECK_STR(jpath(m, "dedup_key"), "msg:2"); /* no webhookEventId: the message id */
    CHECK_STR(jpath(m, "text"), "no event id");
    m = og_test_conn_message(c, 1);
    CHECK_STR(jpath(m, "kind"), "system");
    CHECK_STR(jpath(m, "dedup_key"), "E4");
    CHECK(jpath(m, "text") && strstr(jpath(m, "text"), "hologram"));
}

static void test_redelivery(struct og_test_conn *c)
{
    og_test_conn_clear(c);
    CHECK_INT(post_fixture(c, "text.json"), 200);
    CHECK_INT(post_fixture(c, "redelivery.json"), 200);
    CHECK_INT(og_test_conn_messages(c), 2);
    CHECK_STR(jpath(og_test_conn_message(c, 0), "dedup_key"),
              jpath(og_test_conn_message(c, 1), "dedup_key"));
    CHECK_STR(jpath(og_test_conn_message(c, 1), "dedup_key"), "01K1X3GJT3NC0ZNPDA6D3BDJP3");
    CHECK_STR(jpath(og_test_conn_message(c, 1), "provider_message_id"), "573052424819310747");
}

static void test_invalid(struct og_test_conn *c)
{
    og_test_conn_clear(c);
    CHECK_INT(post_signed(c, "not json").status, 400);
    CHECK_INT(post_signed(c, "[1,2]").status, 400);
    CHECK_INT(post_signed(c, "{\"destination\":\"U0\"}").status, 400);
    CHECK_INT(post_signed(c, "{\"destination\":\"U0\",\"events\":{}}").status, 400);
    CHECK_INT(post_signed(c, "").status, 400);
    CHECK_INT(og_test_conn_messages(c), 0);
    struct og_test_http r = og_test_conn_request(c, "GET", "", NULL, NULL, NULL, 0);
    CHECK_INT(r.status, 405);
    char *body = fixture("text.json");
    if (body) {
        char sig[64], headers[128];
        sign(SECRET, body, strlen(body), sig);
        snprintf(headers, sizeof headers, "X-Line-Signature: %s\n", sig);
        r = og_test_conn_request(c, "POST", "/other", NULL, headers, body, strlen(body));
        CHECK_INT(r.status, 404);
        r = og_test_conn_request(c, "POST", "/", NULL, headers, body, strlen(body));
        CHECK_INT(r.status, 200);
        free(body);
    }
}

static void test_emit_failure(struct og_test_conn *c)
{
    og_test_conn_clear(c);
    og_test_conn_fail_emits(c, 1, OG_ERR_UNAVAILABLE);
    struct og_test_http r;
    char *body = fixture("multi.json");
    if (!body)
        return;
    r = post_signed(c, body);
    CHECK_INT(r.status, 503);
    CHECK_INT(r.err, OG_ERR_UNAVAILABLE);
    CHECK_INT(og_test_conn_messages(c), 0); /* stopped at the first failure */
    /* LINE redelivers; now the store is back. */
    r = post_signed(c, body);
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(c), 6);
    free(body);
}

/* --------------------------------------------------------------- outbound */

static og_err do_send(struct og_test_conn *c, const struct og_outbound *m,
                      struct og_send_result *res)
{
    memset(res, 0, sizeof *res);
    res->retry_after_ms = -2;
    return og_test_conn_desc(c)->send(og_test_conn_inst(c), m, res);
}

static const char *hdr(const struct og_fake_req *rq, const char *name)
{
    static char buf[256];
    return rq ? og_fake_header(rq, name, buf, sizeof buf) : NULL;
}

static const char sent_ok[] =
    "{\"sentMessages\":[{\"id\":\"461230966842064897\",\"quoteToken\":\"IStG5h1Tz7b\"}]}";

static void test_send_reply(struct og_test_conn *c, struct og_fake *f)
{
    struct og_outbound m = {
        .struct_size = sizeof m,
        .message_id = "msg_01REPLY",
        .thread_id = "U8d55942f87f2155f24550b7fe6eac9c0",
        .contact_external_id = "U8d55942f87f2155f24550b7fe6eac9c0",
        .kind = OG_KIND_TEXT,
        .text = "Hello \"Taro\"",
        .reply_to_provider_id = "573052424819310747",
        .reply_token = "ec0186b265ef46dd87505db6249741f5",
        .reply_token_age_ms = 1200,
        .last_inbound_age_ms = 1200,
    };
    struct og_send_result res;
    og_fake_reset(f);
    og_fake_push(f, &(struct og_fake_resp){.status = 200, .body = sent_ok});
    CHECK_INT(do_send(c, &m, &res), OG_OK);
    CHECK_STR(res.provider_message_id, "461230966842064897");
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(f), 1);
    const struct og_fake_req *rq = og_fake_get(f, 0);
    if (rq) {
        CHECK_STR(rq->method, "POST");
        CHECK_STR(rq->url, "/v2/bot/message/reply");
        CHECK_STR(hdr(rq, "authorization"), "Bearer " TOKEN);
        CHECK_STR(hdr(rq, "content-type"), "application/json");
        CHECK(hdr(rq, "x-line-retry-key") == NULL); /* reply does not take one */
        json_object *b = json_tokener_parse(rq->body);
        CHECK(b != NULL);
        CHECK_STR(jpath(b, "replyToken"), "ec0186b265ef46dd87505db6249741f5");
        CHECK_INT(jlen(b, "messages"), 1);
        CHECK_STR(jpath(b, "messages.0.type"), "text");
        CHECK_STR(jpath(b, "messages.0.text"), "Hello \"Taro\"");
        CHECK(jpath(b, "to") == NULL);
        json_object_put(b);
    }
}

static void test_send_push(struct og_test_conn *c, struct og_fake *f)
{
    char want[37];
    struct og_outbound m = {
        .struct_size = sizeof m,
        .message_id = "msg_02PUSH",
        .thread_id = "Ca56f94637c4b4d62e4f5c4f4f4f4f4f4",
        .contact_external_id = "U11111111111111111111111111111111",
        .kind = OG_KIND_TEXT,
        .text = "later",
        .reply_token = "rt-old",
        .reply_token_age_ms = 60000, /* stale */
        .last_inbound_age_ms = 60000,
    };
    struct og_send_result res;
    expected_key("msg_02PUSH", want);
    CHECK(is_uuid_v4(want));

    /* Stale token: push to the thread (the group), with the retry key. */
    og_fake_reset(f);
    og_fake_push(f, &(struct og_fake_resp){.status = 200, .body = sent_ok});
    CHECK_INT(do_send(c, &m, &res), OG_OK);
    CHECK_STR(res.provider_message_id, "461230966842064897");
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(f), 1);
    const struct og_fake_req *rq = og_fake_get(f, 0);
    char key1[64] = "";
    if (rq) {
        CHECK_STR(rq->url, "/v2/bot/message/push");
        CHECK_STR(hdr(rq, "authorization"), "Bearer " TOKEN);
        snprintf(key1, sizeof key1, "%s",
                 hdr(rq, "x-line-retry-key") ? hdr(rq, "x-line-retry-key") : "");
        CHECK_STR(key1, want);
        CHECK(is_uuid_v4(key1));
        json_object *b = json_tokener_parse(rq->body);
        CHECK_STR(jpath(b, "to"), "Ca56f94637c4b4d62e4f5c4f4f4f4f4f4");
        CHECK_STR(jpath(b, "messages.0.text"), "later");
        CHECK(jpath(b, "replyToken") == NULL);
        json_object_put(b);
    }

    /* No token at all: push as well; a second send of the same message id
     * carries the identical key, another message id another key. */
    m.reply_token = NULL;
    og_fake_reset(f);
    CHECK_INT(do_send(c, &m, &res), OG_OK); /* default answer "{}": no id */
    free(res.provider_message_id);
    CHECK_STR(hdr(og_fake_get(f, 0), "x-line-retry-key"), key1);
    struct og_outbound other = m;
    other.message_id = "msg_03OTHER";
    CHECK_INT(do_send(c, &other, &res), OG_OK);
    free(res.provider_message_id);
    const char *k3 = hdr(og_fake_get(f, 1), "x-line-retry-key");
    CHECK(k3 && is_uuid_v4(k3) && strcmp(k3, key1) != 0);

    /* No thread id: the contact. */
    struct og_outbound direct = m;
    direct.thread_id = NULL;
    og_fake_reset(f);
    CHECK_INT(do_send(c, &direct, &res), OG_OK);
    free(res.provider_message_id);
    json_object *b = json_tokener_parse(og_fake_get(f, 0) ? og_fake_get(f, 0)->body : "{}");
    CHECK_STR(jpath(b, "to"), "U11111111111111111111111111111111");
    json_object_put(b);

    /* Nobody to send to. */
    direct.contact_external_id = NULL;
    og_fake_reset(f);
    CHECK_INT(do_send(c, &direct, &res), OG_ERR_PERMANENT);
    CHECK_INT(og_fake_count(f), 0);

    /* 409: the same retry key was accepted before -> success. */
    og_fake_reset(f);
    og_fake_push(
        f, &(struct og_fake_resp){.status = 409,
                                  .body = "{\"message\":\"The retry key is already accepted\","
                                          "\"sentMessages\":[{\"id\":\"461230966842064999\"}]}"});
    CHECK_INT(do_send(c, &m, &res), OG_OK);
    CHECK_STR(res.provider_message_id, "461230966842064999");
    free(res.provider_message_id);
    og_fake_push(
        f, &(struct og_fake_resp){.status = 409,
                                  .body = "{\"message\":\"The retry key is already accepted\"}"});
    CHECK_INT(do_send(c, &m, &res), OG_OK);
    CHECK_STR(res.provider_message_id, want); /* no ids given: the retry key */
    free(res.provider_message_id);
}

static void test_send_fallbacks(struct og_test_conn *c, struct og_fake *f)
{
    struct og_outbound m = {
        .struct_size = sizeof m,
        .message_id = "msg_04FALLBACK",
        .thread_id = "U8d55942f87f2155f24550b7fe6eac9c0",
        .kind = OG_KIND_TEXT,
        .text = "fallback",
        .reply_token = "rt-used",
        .reply_token_age_ms = 3000,
    };
    struct og_send_result res;
    char want[37];

    /* 400 Invalid reply token -> push with the retry key. */
    expected_key(m.message_id, want);
    og_fake_reset(f);
    og_fake_push(
        f, &(struct og_fake_resp){.status = 400, .body = "{\"message\":\"Invalid reply token\"}"});
    og_fake_push(f, &(struct og_fake_resp){.status = 200, .body = sent_ok});
    CHECK_INT(do_send(c, &m, &res), OG_OK);
    CHECK_STR(res.provider_message_id, "461230966842064897");
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(f), 2);
    if (og_fake_count(f) == 2) {
        CHECK_STR(og_fake_get(f, 0)->url, "/v2/bot/message/reply");
        CHECK_STR(og_fake_get(f, 1)->url, "/v2/bot/message/push");
        CHECK_STR(hdr(og_fake_get(f, 1), "x-line-retry-key"), want);
        json_object *b = json_tokener_parse(og_fake_get(f, 1)->body);
        CHECK_STR(jpath(b, "messages.0.text"), "fallback");
        CHECK_STR(jpath(b, "to"), "U8d55942f87f2155f24550b7fe6eac9c0");
        json_object_put(b);
    }

    /* The next message handed the same (now spent) token: straight to push. */
    m.message_id = "msg_04bSAMETOKEN";
    og_fake_reset(f);
    CHECK_INT(do_send(c, &m, &res), OG_OK);
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(f), 1);
    CHECK_STR(og_fake_get(f, 0) ? og_fake_get(f, 0)->url : NULL, "/v2/bot/message/push");

    /* 500 on reply -> push at once; and a retry of the same message never
     * spends the token again. */
    m.message_id = "msg_05REPLY500";
    m.reply_token = "rt-500";
    og_fake_reset(f);
    og_fake_push(f, &(struct og_fake_resp){.status = 500, .body = "{\"message\":\"oops\"}"});
    og_fake_push(f, &(struct og_fake_resp){.status = 500, .body = "{\"message\":\"oops\"}"});
    CHECK_INT(do_send(c, &m, &res), OG_ERR_RETRYABLE);
    CHECK_INT(og_fake_count(f), 2);
    if (og_fake_count(f) == 2) {
        CHECK_STR(og_fake_get(f, 0)->url, "/v2/bot/message/reply");
        CHECK_STR(og_fake_get(f, 1)->url, "/v2/bot/message/push");
    }
    og_fake_reset(f);
    og_fake_push(f, &(struct og_fake_resp){.status = 200, .body = sent_ok});
    CHECK_INT(do_send(c, &m, &res), OG_OK);
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(f), 1);
    CHECK_STR(og_fake_get(f, 0) ? og_fake_get(f, 0)->url : NULL, "/v2/bot/message/push");

    /* A retry with a fresh token still pushes: this message spent one. */
    m.reply_token = "rt-500-again";
    og_fake_reset(f);
    CHECK_INT(do_send(c, &m, &res), OG_OK);
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(f), 1);
    CHECK_STR(og_fake_get(f, 0) ? og_fake_get(f, 0)->url : NULL, "/v2/bot/message/push");

    /* A 400 about the body on reply: permanent, no push. */
    m.message_id = "msg_06BADBODY";
    m.reply_token = "rt-400";
    og_fake_reset(f);
    og_fake_push(f, &(struct og_fake_resp){
                        .status = 400,
                        .body = "{\"message\":\"The request body has 1 error(s)\",\"details\":"
                                "[{\"message\":\"May not be empty\",\"property\":"
                                "\"messages[0].text\"}]}"});
    CHECK_INT(do_send(c, &m, &res), OG_ERR_PERMANENT);
    CHECK_INT(og_fake_count(f), 1);
    CHECK_STR(res.error_code, "400");
    CHECK(strstr(res.error_message, "The request body has 1 error(s)") != NULL);
    CHECK(strstr(res.error_message, "May not be empty") != NULL);
    CHECK(strstr(res.error_message, "messages[0].text") != NULL);

    /* 429 on reply: rate limited, no push. */
    m.message_id = "msg_07REPLY429";
    m.reply_token = "rt-429";
    og_fake_reset(f);
    og_fake_push(f, &(struct og_fake_resp){.status = 429,
                                           .body = "{\"message\":\"Too Many Requests\"}",
                                           .headers = "Retry-After: 3\n"});
    CHECK_INT(do_send(c, &m, &res), OG_ERR_RATE_LIMITED);
    CHECK_INT(res.retry_after_ms, 3000);
    CHECK_INT(og_fake_count(f), 1);
}

static void test_send_errors(struct og_test_conn *c, struct og_fake *f)
{
    struct og_outbound m = {
        .struct_size = sizeof m,
        .message_id = "msg_08ERR",
        .thread_id = "U8d55942f87f2155f24550b7fe6eac9c0",
        .kind = OG_KIND_TEXT,
        .text = "x",
    };
    struct og_send_result res;

    og_fake_reset(f);
    og_fake_push(
        f, &(struct og_fake_resp){.status = 429,
                                  .body = "{\"message\":\"You have reached your monthly limit.\"}",
                                  .headers = "Retry-After: 7\n"});
    CHECK_INT(do_send(c, &m, &res), OG_ERR_RATE_LIMITED);
    CHECK_INT(res.retry_after_ms, 7000);
    CHECK_STR(res.error_code, "429");
    CHECK_STR(res.error_message, "You have reached your monthly limit.");
    og_fake_push(f, &(struct og_fake_resp){.status = 429, .body = "{}"});
    CHECK_INT(do_send(c, &m, &res), OG_ERR_RATE_LIMITED);
    CHECK_INT(res.retry_after_ms, -1);

    struct {
        int status;
        og_err want;
    } map[] = {{401, OG_ERR_AUTH},      {403, OG_ERR_PERMANENT}, {400, OG_ERR_PERMANENT},
               {404, OG_ERR_PERMANENT}, {500, OG_ERR_RETRYABLE}, {502, OG_ERR_RETRYABLE},
               {503, OG_ERR_RETRYABLE}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        og_fake_reset(f);
        og_fake_push(
            f, &(struct og_fake_resp){.status = map[i].status,
                                      .body = "{\"message\":\"Authentication failed due to the "
                                              "following reason: invalid token.\"}"});
        og_err e = do_send(c, &m, &res);
        CHECK_INT(e, map[i].want);
        char code[16];
        snprintf(code, sizeof code, "%d", map[i].status);
        CHECK_STR(res.error_code, code);
        CHECK(strstr(res.error_message, "invalid token") != NULL);
        CHECK(res.provider_message_id == NULL);
    }
    /* A non-JSON error body. */
    og_fake_reset(f);
    og_fake_push(f, &(struct og_fake_resp){.status = 502,
                                           .body = "<html>bad gateway</html>",
                                           .content_type = "text/html"});
    CHECK_INT(do_send(c, &m, &res), OG_ERR_RETRYABLE);
    CHECK_STR(res.error_message, "HTTP 502 from LINE");

    /* A slow answer within the timeout is still a success. */
    og_fake_reset(f);
    og_fake_push(f, &(struct og_fake_resp){.status = 200, .body = sent_ok, .delay_ms = 1500});
    CHECK_INT(do_send(c, &m, &res), OG_OK);
    CHECK_STR(res.provider_message_id, "461230966842064897");
    free(res.provider_message_id);
}

static void test_send_kinds(struct og_test_conn *c, struct og_fake *f)
{
    struct og_attachment img[] = {{.url = "https://cdn.example.com/a.jpg"}};
    struct og_outbound m = {
        .struct_size = sizeof m,
        .message_id = "msg_09IMG",
        .thread_id = "U8d55942f87f2155f24550b7fe6eac9c0",
        .kind = OG_KIND_IMAGE,
        .text = "caption",
        .attachments = img,
        .n_attachments = 1,
    };
    struct og_send_result res;
    og_fake_reset(f);
    CHECK_INT(do_send(c, &m, &res), OG_OK);
    free(res.provider_message_id);
    json_object *b = json_tokener_parse(og_fake_get(f, 0) ? og_fake_get(f, 0)->body : "{}");
    CHECK_INT(jlen(b, "messages"), 2);
    CHECK_STR(jpath(b, "messages.0.type"), "image");
    CHECK_STR(jpath(b, "messages.0.originalContentUrl"), "https://cdn.example.com/a.jpg");
    CHECK_STR(jpath(b, "messages.0.previewImageUrl"), "https://cdn.example.com/a.jpg");
    CHECK_STR(jpath(b, "messages.1.type"), "text");
    CHECK_STR(jpath(b, "messages.1.text"), "caption");
    json_object_put(b);

    /* A document: a link in text. */
    struct og_attachment doc[] = {{.url = "https://cdn.example.com/r.pdf",
                                   .name = "report.pdf",
                                   .mime_type = "application/pdf",
                                   .size = 1234}};
    m.kind = OG_KIND_FILE;
    m.text = "Your report";
    m.attachments = doc;
    og_fake_reset(f);
    CHECK_INT(do_send(c, &m, &res), OG_OK);
    free(res.provider_message_id);
    b = json_tokener_parse(og_fake_get(f, 0) ? og_fake_get(f, 0)->body : "{}");
    CHECK_INT(jlen(b, "messages"), 1);
    CHECK_STR(jpath(b, "messages.0.type"), "text");
    CHECK_STR(jpath(b, "messages.0.text"),
              "Your report\nreport.pdf: https://cdn.example.com/r.pdf");
    json_object_put(b);

    /* A sticker in the inbound media_id form. */
    struct og_attachment st[] = {{.media_id = "11537:52002738"}};
    m.kind = OG_KIND_STICKER;
    m.text = NULL;
    m.attachments = st;
    og_fake_reset(f);
    CHECK_INT(do_send(c, &m, &res), OG_OK);
    free(res.provider_message_id);
    b = json_tokener_parse(og_fake_get(f, 0) ? og_fake_get(f, 0)->body : "{}");
    CHECK_STR(jpath(b, "messages.0.type"), "sticker");
    CHECK_STR(jpath(b, "messages.0.packageId"), "11537");
    CHECK_STR(jpath(b, "messages.0.stickerId"), "52002738");
    json_object_put(b);

    /* Unsupported or empty: refused before any request. */
    og_fake_reset(f);
    m.kind = OG_KIND_LOCATION;
    CHECK_INT(do_send(c, &m, &res), OG_ERR_UNSUPPORTED);
    m.kind = OG_KIND_IMAGE;
    m.attachments = NULL;
    m.n_attachments = 0;
    CHECK_INT(do_send(c, &m, &res), OG_ERR_PERMANENT);
    m.kind = OG_KIND_TEXT;
    m.text = "";
    CHECK_INT(do_send(c, &m, &res), OG_ERR_PERMANENT);
    CHECK_STR(res.error_code, "empty");
    CHECK_INT(og_fake_count(f), 0);
}

/* Length of s in UTF-16 code units. */
static size_t u16len(const char *s, size_t n)
{
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch & 0xc0) != 0x80)
            u += ch >= 0xf0 ? 2 : 1;
    }
    return u;
}

static void test_send_split(struct og_test_conn *c, struct og_fake *f)
{
    struct og_outbound m = {
        .struct_size = sizeof m,
        .message_id = "msg_10SPLIT",
        .thread_id = "U8d55942f87f2155f24550b7fe6eac9c0",
        .kind = OG_KIND_TEXT,
    };
    struct og_send_result res;

    /* 12000 characters of words -> 3 messages, cut after spaces. */
    size_t n = 12000;
    char *t = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        t[i] = (i % 10 == 9) ? ' ' : (char)('a' + i % 26);
    t[n] = 0;
    m.text = t;
    og_fake_reset(f);
    CHECK_INT(do_send(c, &m, &res), OG_OK);
    free(res.provider_message_id);
    json_object *b = json_tokener_parse(og_fake_get(f, 0) ? og_fake_get(f, 0)->body : "{}");
    CHECK_INT(jlen(b, "messages"), 3);
    char *joined = calloc(1, n + 1);
    for (size_t i = 0; i < jlen(b, "messages"); i++) {
        char p[48];
        snprintf(p, sizeof p, "messages.%u.text", (unsigned)i);
        const char *s = jpath(b, p);
        CHECK(s && strlen(s) <= 5000);
        if (s && i + 1 < jlen(b, "messages"))
            CHECK(s[strlen(s) - 1] == ' ');
        if (s && strlen(joined) + strlen(s) <= n)
            strcat(joined, s);
    }
    CHECK_STR(joined, t);
    free(joined);
    json_object_put(b);

    /* Astral-plane emoji count twice: 2600 of them = 5200 units -> 2 parts,
     * never cut inside one. */
    const char *emoji = "\xF0\x9F\x98\x80";
    char *e = malloc(2600 * 4 + 1);
    for (size_t i = 0; i < 2600; i++)
        memcpy(e + 4 * i, emoji, 4);
    e[2600 * 4] = 0;
    m.text = e;
    og_fake_reset(f);
    CHECK_INT(do_send(c, &m, &res), OG_OK);
    free(res.provider_message_id);
    b = json_tokener_parse(og_fake_get(f, 0) ? og_fake_get(f, 0)->body : "{}");
    CHECK_INT(jlen(b, "messages"), 2);
    const char *p0 = jpath(b, "messages.0.text"), *p1 = jpath(b, "messages.1.text");
    CHECK(p0 && u16len(p0, strlen(p0)) <= 5000 && strlen(p0) % 4 == 0);
    CHECK(p1 && strlen(p0) + strlen(p1) == 2600 * 4);
    json_object_put(b);
    free(e);

    /* Exactly 5 x 5000 fits; one more character does not, and nothing is sent. */
    char *big = malloc(25002);
    memset(big, 'x', 25001);
    big[25000] = 0;
    m.text = big;
    og_fake_reset(f);
    CHECK_INT(do_send(c, &m, &res), OG_OK);
    free(res.provider_message_id);
    b = json_tokener_parse(og_fake_get(f, 0) ? og_fake_get(f, 0)->body : "{}");
    CHECK_INT(jlen(b, "messages"), 5);
    json_object_put(b);
    big[25000] = 'x';
    big[25001] = 0;
    og_fake_reset(f);
    CHECK_INT(do_send(c, &m, &res), OG_ERR_PERMANENT);
    CHECK_STR(res.error_code, "too_long");
    CHECK_INT(og_fake_count(f), 0);
    free(big);
    free(t);
}

/* Transport failures: a refused connection and a timeout are retryable. */
static void test_send_transport(void)
{
    int port = og_test_free_port();
    char opts[256];
    snprintf(opts, sizeof opts,
             "{\"channel_secret\":\"" SECRET "\",\"channel_access_token\":\"" TOKEN "\","
             "\"api_base\":\"http://127.0.0.1:%d\"}",
             port);
    struct og_test_conn *c = og_test_conn_open("line", opts);
    CHECK(c != NULL);
    if (!c)
        return;
    struct og_outbound m = {.struct_size = sizeof m,
                            .message_id = "msg_11T",
                            .thread_id = "U1",
                            .kind = OG_KIND_TEXT,
                            .text = "x"};
    struct og_send_result res;
    CHECK_INT(do_send(c, &m, &res), OG_ERR_RETRYABLE);
    CHECK_STR(res.error_code, "transport");
    /* Inbound still works without the profile API: stored without a name. */
    og_test_conn_clear(c);
    CHECK_INT(post_fixture(c, "text.json"), 200);
    CHECK_INT(og_test_conn_messages(c), 1);
    CHECK(jpath(og_test_conn_message(c, 0), "from.name") == NULL);
    og_test_conn_close(c);

    /* A fake that answers after the send timeout (10 s). */
    struct og_fake *slow = og_fake_start();
    snprintf(opts, sizeof opts,
             "{\"channel_secret\":\"" SECRET "\",\"channel_access_token\":\"" TOKEN "\","
             "\"api_base\":\"%s\"}",
             og_fake_base(slow));
    c = og_test_conn_open("line", opts);
    CHECK(c != NULL);
    if (c) {
        og_fake_push(slow,
                     &(struct og_fake_resp){.status = 200, .body = sent_ok, .delay_ms = 10800});
        CHECK_INT(do_send(c, &m, &res), OG_ERR_RETRYABLE);
        CHECK_STR(res.error_code, "transport");
        og_test_conn_close(c);
    }
    og_fake_stop(slow);
}

/* Runs a few calls that log (refused signatures, send errors, transport
 * failures, at debug level) with stderr sent to a file, then checks that
 * neither the channel secret nor the access token appears in it. */
static void test_no_secrets_logged(struct og_test_conn *c, struct og_fake *f)
{
    char path[] = "/tmp/og-line-log-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    int saved_level = og_log_level;
    og_log_level = OG_LOG_DEBUG;
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);

    char *body = fixture("text.json");
    if (body) {
        post_with_sig(c, body, strlen(body), "bm9wZQ==");
        post_with_sig(c, body, strlen(body), NULL);
        post_signed(c, "{\"events\":7}");
        free(body);
    }
    struct og_outbound m = {.struct_size = sizeof m,
                            .message_id = "msg_12LOG",
                            .thread_id = "U1",
                            .kind = OG_KIND_TEXT,
                            .text = "x",
                            .reply_token = "rt-log",
                            .reply_token_age_ms = 10};
    struct og_send_result res;
    og_fake_reset(f);
    og_fake_push(
        f, &(struct og_fake_resp){.status = 400, .body = "{\"message\":\"Invalid reply token\"}"});
    og_fake_push(f, &(struct og_fake_resp){.status = 401, .body = "{\"message\":\"bad token\"}"});
    do_send(c, &m, &res);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    og_log_level = saved_level;
    char *log = og_test_read_file(path, NULL);
    CHECK(log != NULL);
    if (log) {
        CHECK(strstr(log, "x-line-signature") != NULL); /* something was logged */
        CHECK(strstr(log, SECRET) == NULL);
        CHECK(strstr(log, TOKEN) == NULL);
    }
    free(log);
    close(fd);
    unlink(path);
}

int main(void)
{
    struct og_fake *f = og_fake_start();
    og_fake_set_handler(f, fake_line, NULL);
    char opts[512];
    snprintf(opts, sizeof opts,
             "{\"channel_secret\":\"" SECRET "\",\"channel_access_token\":\"" TOKEN "\","
             "\"api_base\":\"%s/\",\"api_data_base\":\"" DATA_BASE "/\"}",
             og_fake_base(f));
    struct og_test_conn *c = og_test_conn_open("line", opts);
    CHECK(c != NULL);
    if (c) {
        test_descriptor(c);
        test_text(c, f);
        test_text_emoji_quoted(c, f);
        test_media(c);
        test_sticker_location(c);
        test_multi(c, f);
        test_signature(c);
        test_verify_and_skips(c);
        test_redelivery(c);
        test_invalid(c);
        test_emit_failure(c);
        test_send_reply(c, f);
        test_send_push(c, f);
        test_send_fallbacks(c, f);
        test_send_errors(c, f);
        test_send_kinds(c, f);
        test_send_split(c, f);
        test_no_secrets_logged(c, f);
        og_test_conn_close(c);
    }
    test_options();
    test_send_transport();
    og_http_client_thread_cleanup();
    og_fake_stop(f);
    return og_test_done();
}
