/* test_whatsapp - the whatsapp connector through the harness, against a fake
 * Graph API on 127.0.0.1.
 *
 * Inbound: fixtures built from the documented payloads (CHANNELS.md section
 * 2) are signed here with OpenSSL and fed to handle_http: every kind, a
 * batch of 2 entries x 2 changes x several customers, statuses in and out of
 * order, a failed status, signature failures (wrong, missing, SHA-1 only,
 * body changed), redelivery, the GET handshake, a failing store (503).
 * Outbound: every send path with the fake recording the body, the 24-hour
 * window (no call when closed) and each Graph error code. */
#include "meta_test.h"
#include "og_http_client.h"
#include "og_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <math.h>

#define APP_SECRET "wa-app-secret"
#define VERIFY "wa-verify-token"
#define TOKEN "EAAG-wa-access-token"
#define PHONE_ID "106540352242922"
#define HOUR (3600 * 1000LL)

static struct og_test_conn *conn;
static struct og_fake *fake;

static struct og_test_http post_raw(const char *headers, const char *body, size_t len)
{
    return og_test_conn_request(conn, "POST", "", NULL, headers, body, len);
}

static struct og_test_http post_signed(const char *body, size_t len)
{
    char sig[80], headers[256];
    meta_sign(APP_SECRET, body, len, sig);
    snprintf(headers, sizeof headers, "Content-Type: application/json\nX-Hub-Signature-256: %s\n",
             sig);
    return post_raw(headers, body, len);
}

static struct og_test_http post_fixture(const char *name)
{
    size_t len;
    char *body = meta_fixture("whatsapp", name, &len);
    struct og_test_http r = post_signed(body, len);
    free(body);
    return r;
}

static json_object *msg(size_t i)
{
    return og_test_conn_message(conn, i);
}
static json_object *st(size_t i)
{
    return og_test_conn_status(conn, i);
}

/* ---------------------------------------------------------------- options */

static void test_options(void)
{
    char *errs = og_test_conn_open_errors("whatsapp", "{}");
    CHECK(strstr(errs, "access_token: required") != NULL);
    CHECK(strstr(errs, "app_secret: required") != NULL);
    CHECK(strstr(errs, "verify_token: required") != NULL);
    CHECK(strstr(errs, "phone_number_id: required") != NULL);
    CHECK(strstr(errs, "api_version") == NULL);
    free(errs);
    errs = og_test_conn_open_errors(
        "whatsapp", "{\"access_token\":\"\",\"app_secret\":\"a\",\"verify_token\":\"v\","
                    "\"phone_number_id\":\"1\"}");
    CHECK(strstr(errs, "access_token") != NULL && strstr(errs, "empty") != NULL);
    free(errs);
    errs = og_test_conn_open_errors(
        "whatsapp", "{\"access_token\":\"t\",\"app_secret\":\"a\",\"verify_token\":\"v\","
                    "\"phone_number_id\":\"1\",\"page_id\":\"2\"}");
    CHECK(strstr(errs, "page_id: unknown option") != NULL);
    free(errs);
    errs = og_test_conn_open_errors(
        "whatsapp", "{\"access_token\":\"t\",\"app_secret\":\"a\",\"verify_token\":\"v\","
                    "\"phone_number_id\":\"1\",\"api_base\":\"ftp://x\"}");
    CHECK(strstr(errs, "api_base") != NULL);
    free(errs);
    const struct og_connector *d = og_test_conn_desc(conn);
    CHECK_STR(d->name, "whatsapp");
    CHECK(strstr(d->platform_api, "v25.0") != NULL);
    for (const struct og_option *o = d->options; o->name; o++) {
        int secret = (o->flags & OG_OPT_SECRET) != 0;
        int want = strcmp(o->name, "access_token") == 0 || strcmp(o->name, "app_secret") == 0 ||
                   strcmp(o->name, "verify_token") == 0;
        CHECK_INT(secret, want);
        if (strcmp(o->name, "api_version") == 0)
            CHECK_STR(o->def, "v25.0");
        if (strcmp(o->name, "api_base") == 0)
            CHECK_STR(o->def, "https://graph.facebook.com");
    }
}

/* -------------------------------------------------------------- handshake */

static void test_handshake(void)
{
    struct og_test_http r = og_test_conn_request(
        conn, "GET", "", "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=" VERIFY,
        NULL, NULL, 0);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "1158201444");
    CHECK_STR(r.content_type, "text/plain");
    r = og_test_conn_request(conn, "GET", "",
                             "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=nope",
                             NULL, NULL, 0);
    CHECK_INT(r.status, 403);
    CHECK(strstr(r.body, "1158201444") == NULL);
    r = og_test_conn_request(conn, "GET", "", "hub.challenge=1&hub.verify_token=" VERIFY, NULL,
                             NULL, 0);
    CHECK_INT(r.status, 403);
    r = og_test_conn_request(conn, "PUT", "", NULL, NULL, "{}", 2);
    CHECK_INT(r.status, 405);
    CHECK_INT(og_test_conn_messages(conn), 0);
}

/* ---------------------------------------------------------------- inbound */

static void test_text(void)
{
    og_test_conn_clear(conn);
    struct og_test_http r = post_fixture("text.json");
    CHECK_INT(r.status, 200);
    CHECK_INT(r.err, OG_OK);
    CHECK_INT(og_test_conn_messages(conn), 1);
    CHECK_INT(og_test_conn_statuses(conn), 0);
    json_object *m = msg(0);
    const char *wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=";
    CHECK_STR(meta_jstr(m, "dedup_key"), wamid);
    CHECK_STR(meta_jstr(m, "provider_message_id"), wamid);
    CHECK_STR(meta_jstr(m, "thread_id"), "16505551234");
    CHECK_STR(meta_jstr(m, "from.external_id"), "16505551234");
    CHECK_STR(meta_jstr(m, "from.phone"), "16505551234");
    CHECK_STR(meta_jstr(m, "from.name"), "Sheena Nelson");
    CHECK_STR(meta_jstr(m, "kind"), "text");
    CHECK_STR(meta_jstr(m, "text"), "Does it come in another color?");
    CHECK(meta_jstr(m, "reply_to") == NULL);
    CHECK_INT(meta_jint(m, "timestamp_ms"), 1749416383000LL);
    CHECK_INT(json_object_array_length(json_object_object_get(m, "attachments")), 0);
    json_object *raw = json_tokener_parse(meta_jstr(m, "raw"));
    CHECK_STR(meta_jstr(raw, "id"), wamid);
    json_object_put(raw);
}

static void test_kinds(void)
{
    og_test_conn_clear(conn);
    struct og_test_http r = post_fixture("kinds.json");
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(conn), 13);
    if (og_test_conn_messages(conn) != 13)
        return;
    json_object *m = msg(0);
    CHECK_STR(meta_jstr(m, "kind"), "image");
    CHECK_STR(meta_jstr(m, "text"), "This is a caption");
    CHECK_STR(meta_jstr(m, "attachments.0.media_id"), "2754859441498128");
    CHECK_STR(meta_jstr(m, "attachments.0.mime_type"), "image/jpeg");
    CHECK(meta_jstr(m, "attachments.0.url") == NULL);
    CHECK_STR(meta_jstr(msg(1), "kind"), "video");
    CHECK_STR(meta_jstr(msg(1), "attachments.0.media_id"), "1000000000000001");
    CHECK_STR(meta_jstr(msg(2), "kind"), "audio");
    CHECK_STR(meta_jstr(msg(2), "attachments.0.mime_type"), "audio/ogg; codecs=opus");
    CHECK(meta_jstr(msg(2), "text") == NULL);
    m = msg(3);
    CHECK_STR(meta_jstr(m, "kind"), "file");
    CHECK_STR(meta_jstr(m, "attachments.0.name"), "invoice.pdf");
    CHECK_STR(meta_jstr(m, "attachments.0.mime_type"), "application/pdf");
    CHECK_STR(meta_jstr(m, "text"), "March invoice");
    CHECK_STR(meta_jstr(msg(4), "kind"), "sticker");
    CHECK_STR(meta_jstr(msg(4), "attachments.0.media_id"), "1000000000000004");
    m = msg(5);
    CHECK_STR(meta_jstr(m, "kind"), "location");
    CHECK_STR(meta_jstr(m, "location.name"), "Meta HQ");
    CHECK_STR(meta_jstr(m, "location.address"), "1 Hacker Way");
    CHECK(fabs(atof(meta_jstr(m, "location.latitude")) - 37.48) < 1e-9);
    CHECK(fabs(atof(meta_jstr(m, "location.longitude")) + 122.15) < 1e-9);
    m = msg(6);
    CHECK_STR(meta_jstr(m, "kind"), "contact");
    CHECK_STR(meta_jstr(m, "text"),
              "John Smith: +1 (650) 555-1111, +1 (650) 555-2222\nAnn Lee: 16505553333");
    m = msg(7);
    CHECK_STR(meta_jstr(m, "kind"), "interactive");
    CHECK_STR(meta_jstr(m, "text"), "Yes, please");
    CHECK_STR(meta_jstr(m, "reply_to"), "wamid.QUESTION");
    CHECK(strstr(meta_jstr(m, "raw"), "btn_yes") != NULL); /* the reply id, in raw */
    CHECK_STR(meta_jstr(msg(8), "kind"), "interactive");
    CHECK_STR(meta_jstr(msg(8), "text"), "Blue");
    CHECK_STR(meta_jstr(msg(9), "kind"), "interactive");
    CHECK_STR(meta_jstr(msg(9), "text"), "Stop promotions");
    CHECK_STR(meta_jstr(msg(9), "reply_to"), "wamid.TEMPLATE");
    m = msg(10);
    CHECK_STR(meta_jstr(m, "kind"), "reaction");
    CHECK_STR(meta_jstr(m, "reply_to"), "wamid.OURMSG");
    CHECK_STR(meta_jstr(m, "text"), "\xf0\x9f\x91\x8d");
    CHECK_STR(meta_jstr(m, "dedup_key"), "wamid.REA");
    m = msg(11);
    CHECK_STR(meta_jstr(m, "kind"), "system");
    CHECK_STR(meta_jstr(m, "text"), "unsupported message: Message type unknown");
    m = msg(12);
    CHECK_STR(meta_jstr(m, "kind"), "text");
    CHECK_STR(meta_jstr(m, "reply_to"), "wamid.QUOTED");
    /* Every message its own dedup key, all from the one customer. */
    for (size_t i = 0; i < 13; i++) {
        CHECK_STR(meta_jstr(msg(i), "thread_id"), "16505551234");
        CHECK_STR(meta_jstr(msg(i), "from.name"), "Sheena Nelson");
        CHECK_STR(meta_jstr(msg(i), "dedup_key"), meta_jstr(msg(i), "provider_message_id"));
        for (size_t k = 0; k < i; k++)
            CHECK(strcmp(meta_jstr(msg(i), "dedup_key"), meta_jstr(msg(k), "dedup_key")) != 0);
    }
}

static void test_batch(void)
{
    og_test_conn_clear(conn);
    struct og_test_http r = post_fixture("batch.json");
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(conn), 9);
    static const char *want[][4] = {
        {"wamid.B1", "15550000001", "Alice", "a1"}, {"wamid.B2", "15550000002", "Bob", "b1"},
        {"wamid.B3", "15550000001", "Alice", "a2"}, {"wamid.B4", "15550000003", "Carol", "c1"},
        {"wamid.B5", "15550000003", "Carol", "c2"}, {"wamid.B6", "15550000004", "Dave", "d1"},
        {"wamid.B7", "15550000005", "Erin", "e1"},  {"wamid.B8", "15550000006", "Frank", "f1"},
        {"wamid.B9", "15550000001", "Alice", "a3"},
    };
    for (size_t i = 0; i < 9 && i < og_test_conn_messages(conn); i++) {
        CHECK_STR(meta_jstr(msg(i), "dedup_key"), want[i][0]);
        CHECK_STR(meta_jstr(msg(i), "thread_id"), want[i][1]);
        CHECK_STR(meta_jstr(msg(i), "from.name"), want[i][2]);
        CHECK_STR(meta_jstr(msg(i), "text"), want[i][3]);
    }
}

static void test_statuses(void)
{
    const char *wamid = "wamid.HBgLNjAxNzM1MjYyMzMVAgARGBJCNkY5NTBENEU3ODYxQTM3RUQA";
    og_test_conn_clear(conn);
    struct og_test_http r = post_fixture("statuses_out_of_order.json");
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(conn), 0);
    CHECK_INT(og_test_conn_statuses(conn), 3);
    static const char *order[] = {"read", "delivered", "sent"};
    static const long long ts[] = {1694492490000LL, 1694492484000LL, 1694492480000LL};
    for (size_t i = 0; i < 3 && i < og_test_conn_statuses(conn); i++) {
        char key[128];
        snprintf(key, sizeof key, "%s:%s", wamid, order[i]);
        CHECK_STR(meta_jstr(st(i), "status"), order[i]);
        CHECK_STR(meta_jstr(st(i), "dedup_key"), key);
        CHECK_STR(meta_jstr(st(i), "provider_message_id"), wamid);
        CHECK(meta_jstr(st(i), "error_code") == NULL);
        CHECK_INT(meta_jint(st(i), "timestamp_ms"), ts[i]);
    }
    og_test_conn_clear(conn);
    r = post_fixture("status_failed.json");
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_statuses(conn), 1);
    CHECK_STR(meta_jstr(st(0), "status"), "failed");
    CHECK_STR(meta_jstr(st(0), "dedup_key"), "wamid.FAILED1:failed");
    CHECK_STR(meta_jstr(st(0), "provider_message_id"), "wamid.FAILED1");
    CHECK_STR(meta_jstr(st(0), "error_code"), "131047");
    CHECK_STR(meta_jstr(st(0), "error_message"), "Re-engagement message");
}

static void test_signatures(void)
{
    size_t len;
    char *body = meta_fixture("whatsapp", "text.json", &len);
    char sig[80], headers[256];
    og_test_conn_clear(conn);

    /* Missing. */
    struct og_test_http r = post_raw("Content-Type: application/json\n", body, len);
    CHECK_INT(r.status, 401);
    CHECK_INT(r.err, OG_ERR_SIGNATURE);
    /* Wrong secret. */
    meta_sign("not-the-secret", body, len, sig);
    snprintf(headers, sizeof headers, "X-Hub-Signature-256: %s\n", sig);
    r = post_raw(headers, body, len);
    CHECK_INT(r.status, 401);
    /* Legacy SHA-1 header only (with a value that would even be "right" hex). */
    meta_sign(APP_SECRET, body, len, sig);
    snprintf(headers, sizeof headers, "X-Hub-Signature: sha1=%.40s\n", sig + 7);
    r = post_raw(headers, body, len);
    CHECK_INT(r.status, 401);
    /* Right signature under the wrong scheme prefix. */
    snprintf(headers, sizeof headers, "X-Hub-Signature-256: sha1=%s\n", sig + 7);
    r = post_raw(headers, body, len);
    CHECK_INT(r.status, 401);
    /* Signed, then one byte of the body changed. */
    snprintf(headers, sizeof headers, "X-Hub-Signature-256: %s\n", sig);
    body[len - 3] = body[len - 3] == ' ' ? '\n' : ' ';
    r = post_raw(headers, body, len);
    CHECK_INT(r.status, 401);
    CHECK_INT(og_test_conn_messages(conn), 0);
    CHECK_INT(og_test_conn_statuses(conn), 0);
    free(body);

    /* Signed but not JSON: 400. Signed, another object: acknowledged, ignored. */
    r = post_signed("not json", 8);
    CHECK_INT(r.status, 400);
    const char *other = "{\"object\":\"page\",\"entry\":[]}";
    r = post_signed(other, strlen(other));
    CHECK_INT(r.status, 200);
    const char *odd = "{\"object\":\"whatsapp_business_account\",\"entry\":{\"changes\":1}}";
    r = post_signed(odd, strlen(odd));
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(conn), 0);
}

static void test_redelivery_and_failures(void)
{
    og_test_conn_clear(conn);
    post_fixture("text.json");
    post_fixture("text.json");
    CHECK_INT(og_test_conn_messages(conn), 2);
    CHECK_STR(meta_jstr(msg(0), "dedup_key"), meta_jstr(msg(1), "dedup_key"));

    /* A failing store: 503, and the batch stops at the failure. */
    og_test_conn_clear(conn);
    og_test_conn_fail_emits(conn, 1, OG_ERR_UNAVAILABLE);
    struct og_test_http r = post_fixture("batch.json");
    CHECK_INT(r.status, 503);
    CHECK_INT(r.err, OG_ERR_UNAVAILABLE);
    CHECK_INT(og_test_conn_messages(conn), 0);
    /* Meta redelivers: now everything goes through. */
    r = post_fixture("batch.json");
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(conn), 9);
    /* A status that cannot be stored fails the request as well. */
    og_test_conn_clear(conn);
    og_test_conn_fail_emits(conn, 1, OG_ERR_UNAVAILABLE);
    r = post_fixture("status_failed.json");
    CHECK_INT(r.status, 503);
    og_test_conn_fail_emits(conn, 0, OG_OK);
}

/* ---------------------------------------------------------------- outbound */

static og_err send_msg(const struct og_outbound *m, struct og_send_result *res)
{
    memset(res, 0, sizeof *res);
    return og_test_conn_desc(conn)->send(og_test_conn_inst(conn), m, res);
}

static struct og_outbound outbound(enum og_kind kind, const char *text,
                                   const struct og_attachment *att)
{
    struct og_outbound m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    m.message_id = "msg_01";
    m.thread_id = "16505551234";
    m.contact_external_id = "16505551234";
    m.kind = kind;
    m.text = text;
    m.attachments = att;
    m.n_attachments = att ? 1 : 0;
    m.last_inbound_age_ms = HOUR;
    return m;
}

/* The body of the last recorded request, parsed [xfer]. */
static json_object *last_body(void)
{
    size_t n = og_fake_count(fake);
    if (!n)
        return NULL;
    return json_tokener_parse(og_fake_get(fake, n - 1)->body);
}

static void test_send_paths(void)
{
    og_fake_reset(fake);
    struct og_send_result res;
    struct og_fake_resp ok = {200,
                              "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":"
                              "\"16505551234\",\"wa_id\":\"16505551234\"}],\"messages\":[{\"id\":"
                              "\"wamid.SENT1\"}]}",
                              NULL, NULL, 0};
    og_fake_set_default(fake, &ok);

    struct og_outbound m = outbound(OG_KIND_TEXT, "Hello \"there\"", NULL);
    m.reply_to_provider_id = "wamid.QUOTED";
    CHECK_INT(send_msg(&m, &res), OG_OK);
    CHECK_STR(res.provider_message_id, "wamid.SENT1");
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(fake), 1);
    const struct og_fake_req *rq = og_fake_get(fake, 0);
    char hb[256];
    CHECK_STR(rq->method, "POST");
    CHECK_STR(rq->url, "/v25.0/" PHONE_ID "/messages");
    CHECK_STR(og_fake_header(rq, "authorization", hb, sizeof hb), "Bearer " TOKEN);
    CHECK(strstr(rq->url, TOKEN) == NULL);
    json_object *b = last_body();
    CHECK_STR(meta_jstr(b, "messaging_product"), "whatsapp");
    CHECK_STR(meta_jstr(b, "recipient_type"), "individual");
    CHECK_STR(meta_jstr(b, "to"), "16505551234");
    CHECK_STR(meta_jstr(b, "type"), "text");
    CHECK_STR(meta_jstr(b, "text.body"), "Hello \"there\"");
    CHECK_STR(meta_jstr(b, "text.preview_url"), "false");
    CHECK_STR(meta_jstr(b, "context.message_id"), "wamid.QUOTED");
    json_object_put(b);

    struct og_attachment img = {"https://example.com/a.png", NULL, "image/png", NULL, 0};
    m = outbound(OG_KIND_IMAGE, "look", &img);
    CHECK_INT(send_msg(&m, &res), OG_OK);
    free(res.provider_message_id);
    b = last_body();
    CHECK_STR(meta_jstr(b, "type"), "image");
    CHECK_STR(meta_jstr(b, "image.link"), "https://example.com/a.png");
    CHECK_STR(meta_jstr(b, "image.caption"), "look");
    CHECK(meta_jstr(b, "context") == NULL);
    json_object_put(b);

    struct og_attachment doc = {"https://example.com/a.pdf", NULL, NULL, "a.pdf", 0};
    m = outbound(OG_KIND_FILE, "your invoice", &doc);
    m.reply_to_provider_id = "wamid.Q2";
    CHECK_INT(send_msg(&m, &res), OG_OK);
    free(res.provider_message_id);
    b = last_body();
    CHECK_STR(meta_jstr(b, "type"), "document");
    CHECK_STR(meta_jstr(b, "document.link"), "https://example.com/a.pdf");
    CHECK_STR(meta_jstr(b, "document.filename"), "a.pdf");
    CHECK_STR(meta_jstr(b, "document.caption"), "your invoice");
    CHECK_STR(meta_jstr(b, "context.message_id"), "wamid.Q2");
    json_object_put(b);

    struct og_attachment up = {NULL, "1000000000000009", NULL, NULL, 0};
    m = outbound(OG_KIND_IMAGE, NULL, &up);
    CHECK_INT(send_msg(&m, &res), OG_OK);
    free(res.provider_message_id);
    b = last_body();
    CHECK_STR(meta_jstr(b, "image.id"), "1000000000000009");
    CHECK(meta_jstr(b, "image.link") == NULL);
    CHECK(meta_jstr(b, "image.caption") == NULL);
    json_object_put(b);

    struct og_attachment aud = {"https://example.com/a.ogg", NULL, NULL, NULL, 0};
    m = outbound(OG_KIND_AUDIO, "no caption for audio", &aud);
    CHECK_INT(send_msg(&m, &res), OG_OK);
    free(res.provider_message_id);
    b = last_body();
    CHECK_STR(meta_jstr(b, "audio.link"), "https://example.com/a.ogg");
    CHECK(meta_jstr(b, "audio.caption") == NULL);
    json_object_put(b);

    struct og_attachment vid = {"https://example.com/v.mp4", NULL, NULL, NULL, 0};
    m = outbound(OG_KIND_VIDEO, "clip", &vid);
    CHECK_INT(send_msg(&m, &res), OG_OK);
    free(res.provider_message_id);
    b = last_body();
    CHECK_STR(meta_jstr(b, "video.caption"), "clip");
    json_object_put(b);

    /* Refused before any call. */
    size_t before = og_fake_count(fake);
    m = outbound(OG_KIND_LOCATION, "x", NULL);
    CHECK_INT(send_msg(&m, &res), OG_ERR_UNSUPPORTED);
    m = outbound(OG_KIND_IMAGE, "no attachment", NULL);
    CHECK_INT(send_msg(&m, &res), OG_ERR_INVALID);
    m = outbound(OG_KIND_TEXT, "", NULL);
    CHECK_INT(send_msg(&m, &res), OG_ERR_INVALID);
    m = outbound(OG_KIND_TEXT, "x", NULL);
    m.thread_id = NULL;
    m.contact_external_id = NULL;
    CHECK_INT(send_msg(&m, &res), OG_ERR_INVALID);
    CHECK_INT(og_fake_count(fake), before);

    /* 200 without messages[0].id: accepted, unidentifiable, never retried. */
    struct og_fake_resp odd = {200, "{\"messaging_product\":\"whatsapp\"}", NULL, NULL, 0};
    og_fake_push(fake, &odd);
    m = outbound(OG_KIND_TEXT, "x", NULL);
    CHECK_INT(send_msg(&m, &res), OG_ERR_PERMANENT);
    CHECK(res.provider_message_id == NULL);
}

static void test_window(void)
{
    og_fake_reset(fake);
    struct og_send_result res;
    struct og_outbound m = outbound(OG_KIND_TEXT, "hi", NULL);
    m.last_inbound_age_ms = -1;
    CHECK_INT(send_msg(&m, &res), OG_ERR_WINDOW_CLOSED);
    CHECK_STR(res.error_code, "window_closed");
    CHECK(res.provider_message_id == NULL);
    CHECK_INT(og_fake_count(fake), 0);
    m.last_inbound_age_ms = 25 * HOUR;
    CHECK_INT(send_msg(&m, &res), OG_ERR_WINDOW_CLOSED);
    struct og_attachment img = {"https://example.com/a.png", NULL, NULL, NULL, 0};
    struct og_outbound mi = outbound(OG_KIND_IMAGE, NULL, &img);
    mi.last_inbound_age_ms = 25 * HOUR;
    CHECK_INT(send_msg(&mi, &res), OG_ERR_WINDOW_CLOSED);
    CHECK_INT(og_fake_count(fake), 0);
    m.last_inbound_age_ms = HOUR;
    CHECK_INT(send_msg(&m, &res), OG_OK);
    CHECK_STR(res.provider_message_id, "wamid.SENT1");
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(fake), 1);
}

static void test_send_errors(void)
{
    static const struct {
        int http;
        const char *body;
        const char *headers;
        og_err want;
        const char *code;
        long retry_ms;
    } rows[] = {
        {401,
         "{\"error\":{\"message\":\"Error validating access token: Session has expired\","
         "\"type\":\"OAuthException\",\"code\":190,\"error_subcode\":463,\"fbtrace_id\":\"A\"}}",
         NULL, OG_ERR_AUTH, "190", -1},
        {400,
         "{\"error\":{\"message\":\"(#4) Application request limit reached\",\"type\":"
         "\"OAuthException\",\"code\":4,\"fbtrace_id\":\"B\"}}",
         NULL, OG_ERR_RATE_LIMITED, "4", -1},
        {400, "{\"error\":{\"message\":\"(#80007) Rate limit issues\",\"code\":80007}}",
         "Retry-After: 30\n", OG_ERR_RATE_LIMITED, "80007", 30000},
        {400,
         "{\"error\":{\"message\":\"(#130429) Rate limit hit\",\"type\":\"OAuthException\","
         "\"code\":130429,\"error_data\":{\"messaging_product\":\"whatsapp\",\"details\":"
         "\"too many messages\"},\"error_subcode\":2494055,\"fbtrace_id\":\"Az8\"}}",
         "Retry-After: 2\n", OG_ERR_RATE_LIMITED, "130429", 2000},
        {400,
         "{\"error\":{\"message\":\"(#613) Calls to this api have exceeded the rate "
         "limit.\",\"code\":613}}",
         NULL, OG_ERR_RATE_LIMITED, "613", -1},
        {400, "{\"error\":{\"message\":\"(#131047) Re-engagement message\",\"code\":131047}}", NULL,
         OG_ERR_WINDOW_CLOSED, "131047", -1},
        {400,
         "{\"error\":{\"message\":\"(#10) This message is sent outside of allowed "
         "window.\",\"code\":10,\"error_subcode\":2018278}}",
         NULL, OG_ERR_WINDOW_CLOSED, "10", -1},
        {500, "{\"error\":{\"message\":\"An unknown error occurred\",\"code\":1}}", NULL,
         OG_ERR_RETRYABLE, "1", -1},
        {503, "Service Unavailable", NULL, OG_ERR_RETRYABLE, "http_503", -1},
        {400, "{\"error\":{\"message\":\"(#2) Service temporarily unavailable\",\"code\":2}}", NULL,
         OG_ERR_RETRYABLE, "2", -1},
        {400,
         "{\"error\":{\"message\":\"(#100) Invalid parameter\",\"type\":\"OAuthException\","
         "\"code\":100,\"fbtrace_id\":\"C\"}}",
         NULL, OG_ERR_PERMANENT, "100", -1},
        {400, "{\"error\":{\"message\":\"(#131026) Message undeliverable\",\"code\":131026}}", NULL,
         OG_ERR_PERMANENT, "131026", -1},
    };
    struct og_send_result res;
    struct og_outbound m = outbound(OG_KIND_TEXT, "hi", NULL);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        og_fake_reset(fake);
        struct og_fake_resp fr = {rows[i].http, rows[i].body, NULL, rows[i].headers, 0};
        og_fake_push(fake, &fr);
        og_err e = send_msg(&m, &res);
        if (e != rows[i].want)
            fprintf(stderr, "error row %zu: got %d want %d\n", i, e, rows[i].want);
        CHECK_INT(e, rows[i].want);
        CHECK_STR(res.error_code, rows[i].code);
        CHECK_INT(res.retry_after_ms, rows[i].retry_ms);
        CHECK(res.provider_message_id == NULL);
        CHECK(res.error_message[0] != 0);
        CHECK_INT(og_fake_count(fake), 1);
    }
    og_fake_reset(fake);
    struct og_fake_resp fr = {400,
                              "{\"error\":{\"message\":\"(#131047) Re-engagement message\","
                              "\"code\":131047}}",
                              NULL, NULL, 0};
    og_fake_push(fake, &fr);
    send_msg(&m, &res);
    CHECK_STR(res.error_message, "(#131047) Re-engagement message");
}

/* At debug level, through failing sends, Graph errors, a transport failure,
 * a refused handshake and bad signatures: no secret ever reaches the log. */
static void test_secrets_not_logged(void)
{
    char *dir = og_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/log.txt", dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    int level = og_log_level;
    og_log_level = OG_LOG_DEBUG;

    struct og_send_result res;
    struct og_outbound m = outbound(OG_KIND_TEXT, "hi", NULL);
    struct og_fake_resp bad = {401,
                               "{\"error\":{\"message\":\"Invalid OAuth access token.\","
                               "\"code\":190}}",
                               NULL, NULL, 0};
    og_fake_push(fake, &bad);
    send_msg(&m, &res);
    struct og_fake_resp busy = {503, "oops", NULL, NULL, 0};
    og_fake_push(fake, &busy);
    send_msg(&m, &res);
    og_test_conn_request(conn, "GET", "", "hub.mode=subscribe&hub.challenge=1&hub.verify_token=x",
                         NULL, NULL, 0);
    post_raw("X-Hub-Signature-256: sha256=00\n", "{}", 2);
    post_signed("not json", 8);
    /* A channel whose Graph API is unreachable: a transport failure. */
    char opts[512];
    snprintf(opts, sizeof opts,
             "{\"access_token\":\"" TOKEN "\",\"app_secret\":\"" APP_SECRET
             "\",\"verify_token\":\"" VERIFY "\",\"phone_number_id\":\"" PHONE_ID
             "\",\"api_base\":\"http://127.0.0.1:%d\"}",
             og_test_free_port());
    struct og_test_conn *dead = og_test_conn_open("whatsapp", opts);
    CHECK(dead != NULL);
    if (dead) {
        memset(&res, 0, sizeof res);
        CHECK_INT(og_test_conn_desc(dead)->send(og_test_conn_inst(dead), &m, &res),
                  OG_ERR_RETRYABLE);
        og_test_conn_close(dead);
    }

    og_log_level = level;
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size_t len = 0;
    char *log = og_test_read_file(path, &len);
    CHECK(log != NULL);
    if (log) {
        CHECK(strstr(log, "graph: HTTP 401") != NULL); /* the debug lines were written */
        CHECK(strstr(log, TOKEN) == NULL);
        CHECK(strstr(log, APP_SECRET) == NULL);
        CHECK(strstr(log, VERIFY) == NULL);
        free(log);
    }
    og_test_rmdir(dir);
    free(dir);
}

int main(void)
{
    og_http_client_global_init();
    fake = og_fake_start();
    char opts[512];
    snprintf(opts, sizeof opts,
             "{\"access_token\":\"" TOKEN "\",\"app_secret\":\"" APP_SECRET
             "\",\"verify_token\":\"" VERIFY "\",\"phone_number_id\":\"" PHONE_ID
             "\",\"api_base\":\"%s/\"}",
             og_fake_base(fake));
    conn = og_test_conn_open("whatsapp", opts);
    CHECK(conn != NULL);
    if (!conn)
        return og_test_done();
    test_options();
    test_handshake();
    test_text();
    test_kinds();
    test_batch();
    test_statuses();
    test_signatures();
    test_redelivery_and_failures();
    test_send_paths();
    test_window();
    test_send_errors();
    test_secrets_not_logged();
    og_test_conn_close(conn);
    og_fake_stop(fake);
    og_http_client_thread_cleanup();
    og_http_client_global_cleanup();
    return og_test_done();
}
