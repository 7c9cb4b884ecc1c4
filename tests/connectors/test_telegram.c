/* test_telegram - the Telegram connector against recorded Bot API payloads
 * (tests/connectors/fixtures/telegram/) and a fake Bot API on 127.0.0.1:
 * options, webhook verification, normalization of every kind, redelivery
 * keys, getUpdates polling with its offset across a restart, and every send
 * path with its error mapping. */
#include "og_test.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN "123456:ABC-DEF_ghi"
#define SECRET "s3cr3t_T0ken-x"
#define HDR "X-Telegram-Bot-Api-Secret-Token: " SECRET "\n"

static char opts[512];

static const char *webhook_opts(const char *base)
{
    snprintf(opts, sizeof opts,
             "{\"bot_token\":\"" TOKEN "\",\"secret_token\":\"" SECRET "\",\"api_base\":\"%s\","
             "\"timeout_ms\":1000}",
             base ? base : "http://127.0.0.1:9");
    return opts;
}

static const char *polling_opts(const char *base)
{
    snprintf(opts, sizeof opts,
             "{\"bot_token\":\"" TOKEN "\",\"mode\":\"polling\",\"api_base\":\"%s\","
             "\"timeout_ms\":1000}",
             base);
    return opts;
}

static char *fixture(const char *name, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/connectors/fixtures/telegram/%s.json", name);
    char *b = og_test_read_src(rel, len);
    if (!b)
        fprintf(stderr, "missing fixture %s\n", rel);
    return b;
}

static struct og_test_http post_fixture(struct og_test_conn *c, const char *name,
                                        const char *headers)
{
    size_t len = 0;
    char *b = fixture(name, &len);
    struct og_test_http r = og_test_conn_request(c, "POST", "", NULL, headers, b, len);
    free(b);
    return r;
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

/* ------------------------------------------------------------- options */

static void test_options(void)
{
    char *e = og_test_conn_open_errors("telegram", "{\"secret_token\":\"abc\"}");
    CHECK(strstr(e, "bot_token") != NULL);
    free(e);
    e = og_test_conn_open_errors("telegram", "{\"bot_token\":\"" TOKEN "\"}");
    CHECK(strstr(e, "secret_token is required in webhook mode") != NULL);
    free(e);
    e = og_test_conn_open_errors("telegram",
                                 "{\"bot_token\":\"" TOKEN "\",\"secret_token\":\"bad token!\"}");
    CHECK(strstr(e, "secret_token") != NULL);
    free(e);
    e = og_test_conn_open_errors("telegram", "{\"bot_token\":\"" TOKEN
                                             "\",\"mode\":\"push\",\"secret_token\":\"a\"}");
    CHECK(strstr(e, "mode") != NULL);
    free(e);
    e = og_test_conn_open_errors("telegram", "{\"bot_token\":\"" TOKEN
                                             "\",\"mode\":\"polling\",\"poll_wait_s\":51}");
    CHECK(strstr(e, "poll_wait_s") != NULL);
    free(e);
    e = og_test_conn_open_errors("telegram", "{\"bot_token\":\"" TOKEN
                                             "\",\"secret_token\":\"a\",\"colour\":\"red\"}");
    CHECK(strstr(e, "colour") != NULL);
    free(e);
    /* Polling needs no secret token. */
    struct og_test_conn *c = og_test_conn_open("telegram", polling_opts("http://127.0.0.1:9"));
    CHECK(c != NULL);
    const struct og_connector *d = c ? og_test_conn_desc(c) : NULL;
    CHECK(d && d->platform_api && strstr(d->platform_api, "Bot API"));
    CHECK(d && d->poll && d->poll_wakeup && d->handle_http && d->send);
    /* A polling channel has no webhook. */
    if (c) {
        struct og_test_http r = post_fixture(c, "text", HDR);
        CHECK_INT(r.status, 404);
        CHECK_INT(og_test_conn_messages(c), 0);
    }
    og_test_conn_close(c);
}

/* ----------------------------------------------------------- signature */

static void test_signature(void)
{
    struct og_test_conn *c = og_test_conn_open("telegram", webhook_opts(NULL));
    CHECK(c != NULL);
    if (!c)
        return;
    struct og_test_http r = post_fixture(c, "text", NULL);
    CHECK_INT(r.status, 401);
    r = post_fixture(c, "text", "X-Telegram-Bot-Api-Secret-Token: s3cr3t_T0ken-y\n");
    CHECK_INT(r.status, 401);
    r = post_fixture(c, "text", "X-Telegram-Bot-Api-Secret-Token: s3cr3t\n");
    CHECK_INT(r.status, 401);
    r = post_fixture(c, "text", "X-Telegram-Bot-Api-Secret-Token: \n");
    CHECK_INT(r.status, 401);
    CHECK_INT(og_test_conn_messages(c), 0);
    /* Header names are case-insensitive. */
    r = post_fixture(c, "text", "x-telegram-bot-api-secret-token: " SECRET "\n");
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(c), 1);
    /* GET is not a delivery. */
    r = og_test_conn_request(c, "GET", "", NULL, HDR, NULL, 0);
    CHECK(r.status >= 400);
    /* Not JSON / not an Update: 400, nothing stored. */
    r = og_test_conn_request(c, "POST", "", NULL, HDR, "{not json", 9);
    CHECK_INT(r.status, 400);
    r = og_test_conn_request(c, "POST", "", NULL, HDR, "{\"message\":{}}", 14);
    CHECK_INT(r.status, 400);
    CHECK_INT(og_test_conn_messages(c), 1);
    og_test_conn_close(c);
}

/* ------------------------------------------------------- normalization */

static void test_kinds(void)
{
    struct og_test_conn *c = og_test_conn_open("telegram", webhook_opts(NULL));
    CHECK(c != NULL);
    if (!c)
        return;
    json_object *m;
    struct og_test_http r = post_fixture(c, "text", HDR);
    CHECK_INT(r.status, 200);
    m = last_msg(c);
    CHECK_STR(jget(m, "dedup_key"), "u:815390101");
    CHECK_STR(jget(m, "provider_message_id"), "1111111:1365");
    CHECK_STR(jget(m, "thread_id"), "1111111");
    CHECK_STR(jget(m, "from.external_id"), "1111111");
    CHECK_STR(jget(m, "from.name"), "Test User");
    CHECK_STR(jget(m, "from.username"), "testuser");
    CHECK_STR(jget(m, "kind"), "text");
    CHECK_STR(jget(m, "text"), "hello");
    CHECK_INT(json_object_get_int64(json_object_object_get(m, "timestamp_ms")), 1441645532000LL);
    CHECK(jget(m, "reply_to") == NULL);
    {
        size_t len;
        char *b = fixture("text", &len);
        CHECK_STR(jget(m, "raw"), b);
        free(b);
    }

    post_fixture(c, "photo", HDR);
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "image");
    CHECK_STR(jget(m, "text"), "look at this");
    CHECK_INT(json_object_array_length(json_object_object_get(m, "attachments")), 1);
    CHECK_STR(jget(m, "attachments.0.media_id"), "AgACAgIAAxkBAAID-large");
    CHECK_STR(jget(m, "attachments.0.size"), "51234");
    CHECK_STR(jget(m, "attachments.0.mime_type"), "image/jpeg");
    CHECK(jget(m, "attachments.0.url") == NULL); /* would contain the token */

    post_fixture(c, "video", HDR);
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "video");
    CHECK_STR(jget(m, "text"), "my clip");
    CHECK_STR(jget(m, "attachments.0.media_id"), "BAACAgIAAxkBAAIvideo");
    CHECK_STR(jget(m, "attachments.0.name"), "clip.mp4");
    CHECK_STR(jget(m, "attachments.0.mime_type"), "video/mp4");

    post_fixture(c, "voice", HDR);
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "audio");
    CHECK_STR(jget(m, "attachments.0.mime_type"), "audio/ogg");
    CHECK_STR(jget(m, "attachments.0.media_id"), "AwACAgIAAxkBAAIvoice");
    CHECK(jget(m, "text") == NULL);

    post_fixture(c, "audio", HDR);
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "audio");
    CHECK_STR(jget(m, "attachments.0.name"), "song.mp3");
    CHECK_STR(jget(m, "attachments.0.mime_type"), "audio/mpeg");

    post_fixture(c, "document", HDR);
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "file");
    CHECK_STR(jget(m, "text"), "the report");
    CHECK_STR(jget(m, "attachments.0.name"), "report.pdf");
    CHECK_STR(jget(m, "attachments.0.mime_type"), "application/pdf");
    CHECK_STR(jget(m, "attachments.0.size"), "52344");
    CHECK_STR(jget(m, "attachments.0.media_id"), "BQACAgIAAxkBAAIC-doc");

    post_fixture(c, "sticker", HDR);
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "sticker");
    CHECK_STR(jget(m, "attachments.0.media_id"), "CAACAgIAAxkBAAIsticker");
    CHECK_STR(jget(m, "attachments.0.mime_type"), "image/webp");
    CHECK_STR(jget(m, "text"), "\xF0\x9F\x98\x80");

    post_fixture(c, "location", HDR);
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "location");
    CHECK(jget(m, "location.latitude") && atof(jget(m, "location.latitude")) > 52.52 &&
          atof(jget(m, "location.latitude")) < 52.5201);
    CHECK(jget(m, "location.longitude") && atof(jget(m, "location.longitude")) > 13.4049);
    CHECK_INT(json_object_array_length(json_object_object_get(m, "attachments")), 0);

    post_fixture(c, "venue", HDR);
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "location");
    CHECK_STR(jget(m, "location.name"), "Brandenburg Gate");
    CHECK_STR(jget(m, "location.address"), "Pariser Platz, 10117 Berlin");

    post_fixture(c, "contact", HDR);
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "contact");
    CHECK_STR(jget(m, "text"), "Anna Schmidt: +491701234567");

    post_fixture(c, "reply", HDR);
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "text");
    CHECK_STR(jget(m, "reply_to"), "1111111:1365");
    CHECK_STR(jget(m, "provider_message_id"), "1111111:1375");

    post_fixture(c, "animation", HDR);
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "video");
    CHECK_STR(jget(m, "attachments.0.media_id"), "CgACAgIAAxkBAAIanim");

    post_fixture(c, "poll", HDR);
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "system");
    CHECK_STR(jget(m, "text"), "[unsupported Telegram message: poll]");

    post_fixture(c, "group_text", HDR);
    m = last_msg(c);
    CHECK_STR(jget(m, "thread_id"), "-1001234567890");
    CHECK_STR(jget(m, "from.external_id"), "4444444");
    CHECK_STR(jget(m, "from.name"), "Group");
    CHECK_STR(jget(m, "provider_message_id"), "-1001234567890:18");

    /* A location out of range is a note, not a place. */
    {
        const char *b = "{\"update_id\":815390130,\"message\":{\"message_id\":1390,\"from\":"
                        "{\"id\":1111111,\"first_name\":\"Test\"},\"chat\":{\"id\":1111111,"
                        "\"type\":\"private\"},\"date\":1441645532,\"location\":{\"latitude\":"
                        "91.5,\"longitude\":13.4}}}";
        r = og_test_conn_request(c, "POST", "", NULL, HDR, b, strlen(b));
        CHECK_INT(r.status, 200);
        m = last_msg(c);
        CHECK_STR(jget(m, "kind"), "system");
        CHECK_STR(jget(m, "text"), "[invalid location]");
        CHECK(jget(m, "location") == NULL);
    }

    /* Edits: acknowledged, a system note on the original. */
    size_t before = og_test_conn_messages(c);
    r = post_fixture(c, "edited", HDR);
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(c), before + 1);
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "system");
    CHECK_STR(jget(m, "text"), "[edited] hello, world");
    CHECK_STR(jget(m, "reply_to"), "1111111:1365");
    CHECK(jget(m, "provider_message_id") == NULL);
    CHECK_STR(jget(m, "dedup_key"), "u:815390120");

    /* A tap on an inline keyboard button: the button's id and title, and
     * the webhook answered with answerCallbackQuery. */
    before = og_test_conn_messages(c);
    r = post_fixture(c, "callback_query", HDR);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "{\"method\":\"answerCallbackQuery\",\"callback_query_id\":"
                      "\"4382bfdwdsb323b2d9\"}");
    CHECK_INT(og_test_conn_messages(c), before + 1);
    m = last_msg(c);
    CHECK_STR(jget(m, "kind"), "interactive");
    CHECK_STR(jget(m, "text"), "Option 1");
    CHECK_STR(jget(m, "payload"), "choice:1");
    CHECK_STR(jget(m, "thread_id"), "1111111");
    CHECK_STR(jget(m, "reply_to"), "1111111:1380");
    CHECK_STR(jget(m, "dedup_key"), "u:815390121");

    /* Unhandled update types and service messages: 200, nothing stored. */
    before = og_test_conn_messages(c);
    r = post_fixture(c, "service", HDR);
    CHECK_INT(r.status, 200);
    r = og_test_conn_request(c, "POST", "", NULL, HDR,
                             "{\"update_id\":9,\"my_chat_member\":{\"x\":1}}", 40);
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(c), before);
    og_test_conn_close(c);
}

static void test_redelivery(void)
{
    struct og_test_conn *c = og_test_conn_open("telegram", webhook_opts(NULL));
    CHECK(c != NULL);
    if (!c)
        return;
    post_fixture(c, "text", HDR);
    post_fixture(c, "text", HDR); /* Telegram redelivers the same update */
    post_fixture(c, "reply", HDR);
    CHECK_INT(og_test_conn_messages(c), 3);
    const char *k0 = jget(og_test_conn_message(c, 0), "dedup_key");
    const char *k1 = jget(og_test_conn_message(c, 1), "dedup_key");
    const char *k2 = jget(og_test_conn_message(c, 2), "dedup_key");
    CHECK_STR(k0, k1);
    CHECK(k0 && k2 && strcmp(k0, k2) != 0);
    /* A failed store is not acknowledged, so Telegram will redeliver. */
    og_test_conn_fail_emits(c, 1, OG_ERR_UNAVAILABLE);
    struct og_test_http r = post_fixture(c, "photo", HDR);
    CHECK_INT(r.status, 503);
    og_test_conn_close(c);
}

/* --------------------------------------------------------------- send */

static struct og_outbound out_text(const char *text)
{
    struct og_outbound o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.message_id = "msg_0001";
    o.thread_id = "1111111";
    o.contact_external_id = "1111111";
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

static json_object *req_json(struct og_fake *f, size_t i)
{
    const struct og_fake_req *q = og_fake_get(f, i);
    return q && q->body ? json_tokener_parse(q->body) : NULL;
}

static const char *OK_MSG = "{\"ok\":true,\"result\":{\"message_id\":2001,\"chat\":{\"id\":1111111,"
                            "\"type\":\"private\"},\"date\":1441645600,\"text\":\"x\"}}";

static void push_ok(struct og_fake *f, int id)
{
    char b[256];
    snprintf(b, sizeof b,
             "{\"ok\":true,\"result\":{\"message_id\":%d,\"chat\":{\"id\":1111111,"
             "\"type\":\"private\"},\"date\":1441645600}}",
             id);
    struct og_fake_resp r = {.status = 200, .body = b, .content_type = "application/json"};
    og_fake_push(f, &r);
}

static void push(struct og_fake *f, int status, const char *body, const char *headers, int delay_ms)
{
    struct og_fake_resp r = {.status = status,
                             .body = body,
                             .content_type = "application/json",
                             .headers = headers,
                             .delay_ms = delay_ms};
    og_fake_push(f, &r);
}

/* Counts UTF-16 units of UTF-8 text (valid input assumed). */
static size_t u16(const char *s, size_t n)
{
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch & 0xC0) != 0x80)
            u += (ch >= 0xF0) ? 2 : 1;
    }
    return u;
}

static int valid_utf8_edges(const char *s, size_t n)
{
    return n == 0 || (((unsigned char)s[0] & 0xC0) != 0x80);
}

static void test_send(void)
{
    struct og_fake *f = og_fake_start();
    struct og_test_conn *c = og_test_conn_open("telegram", webhook_opts(og_fake_base(f)));
    CHECK(c != NULL);
    if (!c) {
        og_fake_stop(f);
        return;
    }
    struct og_send_result res;
    og_err e;

    /* Plain text with a reply. */
    push(f, 200, OK_MSG, NULL, 0);
    struct og_outbound o = out_text("Hi there");
    o.reply_to_provider_id = "1111111:1365";
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_OK);
    CHECK_STR(res.provider_message_id, "1111111:2001");
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(f), 1);
    const struct og_fake_req *q = og_fake_get(f, 0);
    CHECK_STR(q->method, "POST");
    CHECK_STR(q->url, "/bot" TOKEN "/sendMessage");
    json_object *b = req_json(f, 0);
    CHECK_STR(jget(b, "chat_id"), "1111111");
    CHECK(json_object_is_type(json_object_object_get(b, "chat_id"), json_type_int));
    CHECK_STR(jget(b, "text"), "Hi there");
    CHECK_STR(jget(b, "reply_parameters.message_id"), "1365");
    CHECK(jget(b, "reply_parameters.chat_id") == NULL);
    json_object_put(b);
    og_fake_reset(f);

    /* Photo by URL with a caption. */
    struct og_attachment img = {.url = "https://example.com/a.jpg", .mime_type = "image/jpeg"};
    o = out_text("look");
    o.kind = OG_KIND_IMAGE;
    o.attachments = &img;
    o.n_attachments = 1;
    push(f, 200, OK_MSG, NULL, 0);
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_OK);
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(f), 1);
    CHECK_STR(og_fake_get(f, 0)->url, "/bot" TOKEN "/sendPhoto");
    b = req_json(f, 0);
    CHECK_STR(jget(b, "photo"), "https://example.com/a.jpg");
    CHECK_STR(jget(b, "caption"), "look");
    json_object_put(b);
    og_fake_reset(f);

    /* Document by URL, no caption. */
    struct og_attachment doc = {
        .url = "https://example.com/a.pdf", .mime_type = "application/pdf", .name = "a.pdf"};
    o = out_text(NULL);
    o.kind = OG_KIND_FILE;
    o.attachments = &doc;
    o.n_attachments = 1;
    push(f, 200, OK_MSG, NULL, 0);
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_OK);
    free(res.provider_message_id);
    CHECK_STR(og_fake_get(f, 0)->url, "/bot" TOKEN "/sendDocument");
    b = req_json(f, 0);
    CHECK_STR(jget(b, "document"), "https://example.com/a.pdf");
    CHECK(jget(b, "caption") == NULL);
    json_object_put(b);
    og_fake_reset(f);

    /* Long text: split on UTF-8 boundaries, preferring newlines. */
    {
        size_t n = 0;
        char *t = malloc(20000);
        for (int i = 0; i < 3000; i++)
            t[n++] = 'a';
        t[n++] = '\n';
        for (int i = 0; i < 1500; i++) { /* 2-byte é */
            t[n++] = (char)0xC3;
            t[n++] = (char)0xA9;
        }
        for (int i = 0; i < 2500; i++) { /* 4-byte emoji = 2 UTF-16 units */
            memcpy(t + n, "\xF0\x9F\x98\x80", 4);
            n += 4;
        }
        t[n] = 0;
        o = out_text(t);
        o.message_id = "msg_long";
        for (int i = 0; i < 4; i++)
            push_ok(f, 3000 + i);
        e = do_send(c, &o, &res);
        CHECK_INT(e, OG_OK);
        CHECK_STR(res.provider_message_id, "1111111:3000");
        free(res.provider_message_id);
        size_t cnt = og_fake_count(f);
        CHECK(cnt >= 3);
        char *joined = calloc(1, n + 1);
        size_t jl = 0;
        for (size_t i = 0; i < cnt; i++) {
            json_object *bi = req_json(f, i);
            const char *ti = jget(bi, "text");
            size_t tl = ti ? strlen(ti) : 0;
            CHECK(tl > 0 && u16(ti, tl) <= 4096);
            CHECK(valid_utf8_edges(ti, tl));
            if (i == 0)
                CHECK(tl == 3001 && ti[3000] == '\n'); /* cut after the newline */
            if (jl + tl <= n) {
                memcpy(joined + jl, ti, tl);
                jl += tl;
            }
            json_object_put(bi);
        }
        CHECK_INT(jl, n);
        CHECK(memcmp(joined, t, n) == 0);
        free(joined);
        free(t);
        og_fake_reset(f);
    }

    /* Error mapping. */
    o = out_text("x");
    push(f, 429,
         "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after "
         "35\",\"parameters\":{\"retry_after\":35}}",
         "Retry-After: 35\n", 0);
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_ERR_RATE_LIMITED);
    CHECK_INT(res.retry_after_ms, 35000);
    CHECK_STR(res.error_code, "429");
    CHECK_STR(res.error_message, "Too Many Requests: retry after 35");
    CHECK(res.provider_message_id == NULL);

    push(f, 401, "{\"ok\":false,\"error_code\":401,\"description\":\"Unauthorized\"}", NULL, 0);
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_ERR_AUTH);
    CHECK_STR(res.error_code, "401");

    push(f, 403,
         "{\"ok\":false,\"error_code\":403,\"description\":\"Forbidden: bot was blocked by the "
         "user\"}",
         NULL, 0);
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_ERR_PERMANENT);
    CHECK_STR(res.error_message, "Forbidden: bot was blocked by the user");

    push(f, 403,
         "{\"ok\":false,\"error_code\":403,\"description\":\"Forbidden: user is deactivated\"}",
         NULL, 0);
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_ERR_PERMANENT);

    push(f, 400,
         "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}", NULL,
         0);
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_ERR_PERMANENT);
    CHECK_STR(res.error_code, "400");
    CHECK_STR(res.error_message, "Bad Request: chat not found");

    push(f, 400,
         "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: group chat was upgraded "
         "to a supergroup chat\",\"parameters\":{\"migrate_to_chat_id\":-1001234567890}}",
         NULL, 0);
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_ERR_PERMANENT);
    CHECK(strstr(res.error_message, "-1001234567890") != NULL);

    push(f, 500, "{\"ok\":false,\"error_code\":500,\"description\":\"Internal Server Error\"}",
         NULL, 0);
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_ERR_RETRYABLE);

    push(f, 502, "<html>bad gateway</html>", NULL, 0);
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_ERR_RETRYABLE);

    /* Slower than timeout_ms (1000): a timeout is retryable. */
    push(f, 200, OK_MSG, NULL, 2500);
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_ERR_RETRYABLE);
    CHECK_STR(res.error_code, "transport");
    CHECK(res.provider_message_id == NULL);
    og_fake_reset(f);

    /* Nothing to send / unsupported kind. */
    o = out_text(NULL);
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_ERR_INVALID);
    o = out_text("x");
    o.kind = OG_KIND_LOCATION;
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_ERR_UNSUPPORTED);
    CHECK_INT(og_fake_count(f), 0);

    /* A two-part send that fails half way resumes at the failed part. */
    {
        char *t = malloc(6001);
        memset(t, 'b', 6000);
        t[6000] = 0;
        o = out_text(t);
        o.message_id = "msg_resume";
        push_ok(f, 4000);
        push(f, 500, "{\"ok\":false,\"error_code\":500,\"description\":\"Internal Server Error\"}",
             NULL, 0);
        e = do_send(c, &o, &res);
        CHECK_INT(e, OG_ERR_RETRYABLE);
        CHECK_INT(og_fake_count(f), 2);
        og_fake_reset(f);
        push_ok(f, 4001);
        e = do_send(c, &o, &res);
        CHECK_INT(e, OG_OK);
        CHECK_STR(res.provider_message_id, "1111111:4000");
        free(res.provider_message_id);
        CHECK_INT(og_fake_count(f), 1); /* only the second part */
        json_object *bi = req_json(f, 0);
        CHECK_INT(strlen(jget(bi, "text") ? jget(bi, "text") : ""), 6000 - 4096);
        json_object_put(bi);
        CHECK_STR(og_test_state_get("test:send:msg_resume"), "");
        free(t);
        og_fake_reset(f);
    }
    og_test_conn_close(c);

    /* Transport failure: nothing listens. */
    c = og_test_conn_open("telegram", webhook_opts("http://127.0.0.1:9"));
    o = out_text("x");
    e = do_send(c, &o, &res);
    CHECK_INT(e, OG_ERR_RETRYABLE);
    og_test_conn_close(c);
    og_fake_stop(f);
}

/* ------------------------------------------------------------ polling */

static void test_polling(void)
{
    struct og_fake *f = og_fake_start();
    struct og_test_conn *c = og_test_conn_open("telegram", polling_opts(og_fake_base(f)));
    CHECK(c != NULL);
    if (!c) {
        og_fake_stop(f);
        return;
    }
    const struct og_connector *d = og_test_conn_desc(c);
    size_t tl;
    char *t1 = fixture("text", &tl);
    char *t2 = fixture("photo", &tl);
    char body[8192];
    snprintf(body, sizeof body, "{\"ok\":true,\"result\":[%s,%s]}", t1, t2);
    push(f, 200, body, NULL, 0);
    og_err e = d->poll(og_test_conn_inst(c), 0);
    CHECK_INT(e, OG_OK);
    CHECK_INT(og_test_conn_messages(c), 2);
    CHECK_STR(jget(og_test_conn_message(c, 0), "dedup_key"), "u:815390101");
    CHECK_STR(jget(og_test_conn_message(c, 1), "kind"), "image");
    CHECK_INT(og_fake_count(f), 1);
    CHECK_STR(og_fake_get(f, 0)->url, "/bot" TOKEN "/getUpdates");
    json_object *b = req_json(f, 0);
    CHECK(jget(b, "offset") == NULL);
    CHECK_STR(jget(b, "timeout"), "0");
    json_object_put(b);
    CHECK_STR(og_test_state_get("test:offset"), "815390103");
    og_fake_reset(f);

    /* Restart: the next getUpdates confirms everything stored. */
    og_test_conn_close(c);
    c = og_test_conn_open("telegram", polling_opts(og_fake_base(f)));
    CHECK(c != NULL);
    if (!c) {
        free(t1), free(t2);
        og_fake_stop(f);
        return;
    }
    d = og_test_conn_desc(c);
    push(f, 200, "{\"ok\":true,\"result\":[]}", NULL, 0);
    e = d->poll(og_test_conn_inst(c), 2000);
    CHECK_INT(e, OG_OK);
    b = req_json(f, 0);
    CHECK_STR(jget(b, "offset"), "815390103");
    CHECK_STR(jget(b, "timeout"), "2");
    json_object_put(b);
    /* The host asks for 25 s; poll_wait_s (default 5) bounds the wait. */
    push(f, 200, "{\"ok\":true,\"result\":[]}", NULL, 0);
    e = d->poll(og_test_conn_inst(c), 25000);
    CHECK_INT(e, OG_OK);
    b = req_json(f, 1);
    CHECK_STR(jget(b, "timeout"), "5");
    json_object_put(b);
    CHECK_INT(og_test_conn_messages(c), 0);
    og_fake_reset(f);

    /* An emit failure stops at that update, which is fetched again. */
    char *t3 = fixture("video", &tl); /* 815390103 */
    char *t4 = fixture("voice", &tl); /* 815390104 */
    char *t5 = fixture("audio", &tl); /* 815390105 */
    snprintf(body, sizeof body, "{\"ok\":true,\"result\":[%s,%s,%s]}", t3, t4, t5);
    push(f, 200, body, NULL, 0);
    og_test_conn_fail_emits(c, 1, OG_ERR_UNAVAILABLE);
    e = d->poll(og_test_conn_inst(c), 0);
    CHECK_INT(e, OG_ERR_UNAVAILABLE);
    CHECK_INT(og_test_conn_messages(c), 0);
    CHECK_STR(og_test_state_get("test:offset"), "815390103");
    snprintf(body, sizeof body, "{\"ok\":true,\"result\":[%s,%s,%s]}", t3, t4, t5);
    push(f, 200, body, NULL, 0);
    e = d->poll(og_test_conn_inst(c), 0);
    CHECK_INT(e, OG_OK);
    b = req_json(f, 1);
    CHECK_STR(jget(b, "offset"), "815390103");
    json_object_put(b);
    CHECK_INT(og_test_conn_messages(c), 3);
    CHECK_STR(og_test_state_get("test:offset"), "815390106");
    /* No update was emitted twice. */
    for (size_t i = 0; i < og_test_conn_messages(c); i++)
        for (size_t j = i + 1; j < og_test_conn_messages(c); j++)
            CHECK(strcmp(jget(og_test_conn_message(c, i), "dedup_key"),
                         jget(og_test_conn_message(c, j), "dedup_key")) != 0);
    /* raw is the update's own JSON. */
    json_object *raw = json_tokener_parse(jget(og_test_conn_message(c, 0), "raw"));
    CHECK_STR(jget(raw, "update_id"), "815390103");
    json_object_put(raw);
    og_fake_reset(f);

    /* Conflict (a webhook is set): an error, the offset does not move. */
    push(f, 409,
         "{\"ok\":false,\"error_code\":409,\"description\":\"Conflict: can't use getUpdates "
         "method while webhook is active; use deleteWebhook to delete the webhook first\"}",
         NULL, 0);
    e = d->poll(og_test_conn_inst(c), 0);
    CHECK(e != OG_OK);
    push(f, 401, "{\"ok\":false,\"error_code\":401,\"description\":\"Unauthorized\"}", NULL, 0);
    e = d->poll(og_test_conn_inst(c), 0);
    CHECK_INT(e, OG_ERR_AUTH);
    /* A malformed update is skipped, not retried forever. */
    push(f, 200, "{\"ok\":true,\"result\":[{\"update_id\":815390106,\"message\":{\"text\":1}}]}",
         NULL, 0);
    e = d->poll(og_test_conn_inst(c), 0);
    CHECK_INT(e, OG_OK);
    CHECK_STR(og_test_state_get("test:offset"), "815390107");
    og_fake_reset(f);

    /* poll_wakeup cancels the next poll (no request) ... */
    d->poll_wakeup(og_test_conn_inst(c));
    e = d->poll(og_test_conn_inst(c), 5000);
    CHECK_INT(e, OG_OK);
    CHECK_INT(og_fake_count(f), 0);
    og_test_conn_close(c);

    /* A webhook channel does not poll: the host stops calling. */
    c = og_test_conn_open("telegram", webhook_opts(og_fake_base(f)));
    d = og_test_conn_desc(c);
    time_t t0 = time(NULL);
    e = d->poll(og_test_conn_inst(c), 5000);
    CHECK_INT(e, OG_ERR_UNSUPPORTED);
    CHECK(time(NULL) - t0 < 2);
    CHECK_INT(og_fake_count(f), 0);
    og_test_conn_close(c);
    free(t1), free(t2), free(t3), free(t4), free(t5);
    og_fake_stop(f);
}

int main(void)
{
    test_options();
    test_signature();
    test_kinds();
    test_redelivery();
    test_send();
    test_polling();
    return og_test_done();
}
