/* test_facebook - the facebook (Messenger Platform) connector through the
 * harness, against a fake Graph API on 127.0.0.1.
 *
 * Inbound: fixtures built from the documented page-webhook payloads
 * (CHANNELS.md section 3) are signed here with OpenSSL and fed to
 * handle_http: every kind, a batch of 2 entries from 3 customers, delivery
 * and read receipts (watermark and mids, read before delivery), echoes and
 * standby events (never emitted), signature failures, redelivery, the GET
 * handshake, a failing store (503). Outbound: every send path with the fake
 * recording the body, the 24-hour window and each Graph error code. */
#include "meta_test.h"
#include "og_http_client.h"

#include <math.h>

#define APP_SECRET "fb-app-secret"
#define VERIFY "fb-verify-token"
#define TOKEN "EAAB-page-access-token"
#define PAGE_ID "110000000000001"
#define PSID "7001000000000001"
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
    char *body = meta_fixture("facebook", name, &len);
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

static void test_options(void)
{
    char *errs = og_test_conn_open_errors("facebook", "{}");
    CHECK(strstr(errs, "page_access_token: required") != NULL);
    CHECK(strstr(errs, "app_secret: required") != NULL);
    CHECK(strstr(errs, "verify_token: required") != NULL);
    CHECK(strstr(errs, "page_id: required") != NULL);
    CHECK(strstr(errs, "api_version") == NULL);
    CHECK(strstr(errs, "api_base") == NULL);
    free(errs);
    errs = og_test_conn_open_errors(
        "facebook", "{\"page_access_token\":\"t\",\"app_secret\":\"a\",\"verify_token\":\"v\","
                    "\"page_id\":\"1\",\"access_token\":\"x\"}");
    CHECK(strstr(errs, "access_token: unknown option") != NULL);
    free(errs);
    const struct og_connector *d = og_test_conn_desc(conn);
    CHECK_STR(d->name, "facebook");
    CHECK(strstr(d->platform_api, "v25.0") != NULL);
    for (const struct og_option *o = d->options; o->name; o++) {
        int secret = (o->flags & OG_OPT_SECRET) != 0;
        int want = strcmp(o->name, "page_access_token") == 0 ||
                   strcmp(o->name, "app_secret") == 0 || strcmp(o->name, "verify_token") == 0;
        CHECK_INT(secret, want);
    }
}

static void test_handshake(void)
{
    struct og_test_http r = og_test_conn_request(
        conn, "GET", "",
        "hub.mode=subscribe&hub.challenge=CHALLENGE_ACCEPTED&hub.verify_token=" VERIFY, NULL, NULL,
        0);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "CHALLENGE_ACCEPTED");
    CHECK_STR(r.content_type, "text/plain");
    r = og_test_conn_request(conn, "GET", "",
                             "hub.mode=subscribe&hub.challenge=X&hub.verify_token=" VERIFY "x",
                             NULL, NULL, 0);
    CHECK_INT(r.status, 403);
    r = og_test_conn_request(conn, "GET", "", NULL, NULL, NULL, 0);
    CHECK_INT(r.status, 403);
}

static void test_text(void)
{
    og_test_conn_clear(conn);
    struct og_test_http r = post_fixture("text.json");
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(conn), 1);
    json_object *m = msg(0);
    CHECK_STR(meta_jstr(m, "dedup_key"), "mid.1457764197618:41d102a3e1ae206a38");
    CHECK_STR(meta_jstr(m, "provider_message_id"), "mid.1457764197618:41d102a3e1ae206a38");
    CHECK_STR(meta_jstr(m, "thread_id"), PSID);
    CHECK_STR(meta_jstr(m, "from.external_id"), PSID);
    CHECK(meta_jstr(m, "from.name") == NULL); /* no profile lookup: see facebook_parse.c */
    CHECK_STR(meta_jstr(m, "kind"), "text");
    CHECK_STR(meta_jstr(m, "text"), "hello, world!");
    CHECK_INT(meta_jint(m, "timestamp_ms"), 1458692752478LL);
    CHECK(strstr(meta_jstr(m, "raw"), "hello, world!") != NULL);
}

static void test_kinds(void)
{
    og_test_conn_clear(conn);
    struct og_test_http r = post_fixture("kinds.json");
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(conn), 11);
    if (og_test_conn_messages(conn) != 11)
        return;
    json_object *m = msg(0);
    CHECK_STR(meta_jstr(m, "kind"), "image");
    CHECK_INT(json_object_array_length(json_object_object_get(m, "attachments")), 2);
    CHECK_STR(meta_jstr(m, "attachments.0.url"), "https://scontent.example/img1.jpg");
    CHECK_STR(meta_jstr(m, "attachments.1.url"), "https://scontent.example/img2.jpg");
    CHECK_STR(meta_jstr(msg(1), "kind"), "video");
    CHECK_STR(meta_jstr(msg(1), "attachments.0.url"), "https://video.example/v.mp4");
    CHECK_STR(meta_jstr(msg(2), "kind"), "audio");
    CHECK_STR(meta_jstr(msg(3), "kind"), "file");
    CHECK_STR(meta_jstr(msg(3), "attachments.0.url"), "https://cdn.example/report.pdf");
    CHECK_STR(meta_jstr(msg(4), "kind"), "sticker");
    CHECK_STR(meta_jstr(msg(4), "attachments.0.url"), "https://scontent.example/sticker.png");
    m = msg(5);
    CHECK_STR(meta_jstr(m, "kind"), "system");
    CHECK_STR(meta_jstr(m, "text"), "https://example.com/article");
    m = msg(6);
    CHECK_STR(meta_jstr(m, "kind"), "interactive");
    CHECK_STR(meta_jstr(m, "text"), "Red");
    CHECK(strstr(meta_jstr(m, "raw"), "COLOR_RED") != NULL); /* payload noted in raw */
    m = msg(7);
    CHECK_STR(meta_jstr(m, "kind"), "interactive");
    CHECK_STR(meta_jstr(m, "text"), "Get Started");
    CHECK_STR(meta_jstr(m, "dedup_key"), "m_PB");
    CHECK(strstr(meta_jstr(m, "raw"), "GET_STARTED") != NULL);
    m = msg(8);
    CHECK_STR(meta_jstr(m, "kind"), "text");
    CHECK_STR(meta_jstr(m, "reply_to"), "m_QUOTED");
    m = msg(9);
    CHECK_STR(meta_jstr(m, "kind"), "reaction");
    CHECK_STR(meta_jstr(m, "reply_to"), "m_OURS");
    CHECK_STR(meta_jstr(m, "text"), "\xf0\x9f\x91\x8d");
    CHECK_STR(meta_jstr(m, "dedup_key"), PSID ":reaction:m_OURS:react:1518479195310");
    m = msg(10);
    CHECK_STR(meta_jstr(m, "kind"), "system");
    CHECK_STR(meta_jstr(m, "text"), "unsupported attachment: ig_reel");
    for (size_t i = 0; i < 11; i++)
        CHECK_STR(meta_jstr(msg(i), "thread_id"), PSID);

    /* A postback without mid gets a synthetic key; unreact has no emoji. */
    og_test_conn_clear(conn);
    const char *more =
        "{\"object\":\"page\",\"entry\":[{\"id\":\"" PAGE_ID "\",\"time\":1,\"messaging\":["
        "{\"sender\":{\"id\":\"" PSID "\"},\"recipient\":{\"id\":\"" PAGE_ID "\"},"
        "\"timestamp\":1700000000000,\"postback\":{\"title\":\"Menu\",\"payload\":\"MENU\"}},"
        "{\"sender\":{\"id\":\"" PSID "\"},\"recipient\":{\"id\":\"" PAGE_ID "\"},"
        "\"timestamp\":1700000000001,\"reaction\":{\"reaction\":\"like\",\"action\":\"unreact\","
        "\"mid\":\"m_OURS\"}},"
        "{\"sender\":{\"id\":\"" PSID "\"},\"recipient\":{\"id\":\"" PAGE_ID "\"},"
        "\"timestamp\":1700000000002,\"optin\":{\"ref\":\"x\"}},"
        "{\"sender\":{\"id\":\"" PSID "\"},\"recipient\":{\"id\":\"" PAGE_ID "\"},"
        "\"timestamp\":1700000000003,\"message\":{\"mid\":\"m_LOC\",\"attachments\":[{\"type\":"
        "\"location\",\"title\":\"Pin\",\"payload\":{\"coordinates\":{\"lat\":52.5,\"long\":13.4}}}"
        "]}}"
        "]}]}";
    r = post_signed(more, strlen(more));
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(conn), 3);
    CHECK_STR(meta_jstr(msg(0), "dedup_key"), PSID ":postback:1700000000000");
    CHECK_STR(meta_jstr(msg(0), "text"), "Menu");
    CHECK(meta_jstr(msg(0), "provider_message_id") == NULL);
    CHECK_STR(meta_jstr(msg(1), "kind"), "reaction");
    CHECK(meta_jstr(msg(1), "text") == NULL);
    CHECK_STR(meta_jstr(msg(1), "dedup_key"), PSID ":reaction:m_OURS:unreact:1700000000001");
    CHECK_STR(meta_jstr(msg(2), "kind"), "location");
    CHECK(fabs(atof(meta_jstr(msg(2), "location.latitude")) - 52.5) < 1e-9);
    CHECK(fabs(atof(meta_jstr(msg(2), "location.longitude")) - 13.4) < 1e-9);
}

static void test_batch(void)
{
    og_test_conn_clear(conn);
    struct og_test_http r = post_fixture("batch.json");
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(conn), 5);
    static const char *want[][3] = {{"m_B1", "7001000000000001", "a1"},
                                    {"m_B2", "7001000000000002", "b1"},
                                    {"m_B3", "7001000000000001", "a2"},
                                    {"m_B4", "7001000000000003", "c1"},
                                    {"m_B5", "7001000000000002", "b2"}};
    for (size_t i = 0; i < 5 && i < og_test_conn_messages(conn); i++) {
        CHECK_STR(meta_jstr(msg(i), "dedup_key"), want[i][0]);
        CHECK_STR(meta_jstr(msg(i), "thread_id"), want[i][1]);
        CHECK_STR(meta_jstr(msg(i), "from.external_id"), want[i][1]);
        CHECK_STR(meta_jstr(msg(i), "text"), want[i][2]);
    }
}

static void test_receipts(void)
{
    og_test_conn_clear(conn);
    struct og_test_http r = post_fixture("receipts.json");
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(conn), 0);
    CHECK_INT(og_test_conn_statuses(conn), 4);
    if (og_test_conn_statuses(conn) != 4)
        return;
    /* read arrives first and is reported as is. */
    CHECK_STR(meta_jstr(st(0), "status"), "read");
    CHECK_STR(meta_jstr(st(0), "thread_id"), PSID);
    CHECK_INT(meta_jint(st(0), "watermark_ms"), 1458668856253LL);
    CHECK_STR(meta_jstr(st(0), "dedup_key"), PSID ":read:1458668856253");
    CHECK(meta_jstr(st(0), "provider_message_id") == NULL);
    CHECK_INT(meta_jint(st(0), "timestamp_ms"), 1458668856463LL);
    CHECK_STR(meta_jstr(st(1), "status"), "delivered");
    CHECK_STR(meta_jstr(st(1), "thread_id"), PSID);
    CHECK_INT(meta_jint(st(1), "watermark_ms"), 1458668856253LL);
    CHECK_STR(meta_jstr(st(1), "dedup_key"), PSID ":delivery:1458668856253");
    CHECK_STR(meta_jstr(st(2), "status"), "delivered");
    CHECK_STR(meta_jstr(st(2), "provider_message_id"), "mid.1458668856218:ed81099e15d3f4f233");
    CHECK_STR(meta_jstr(st(2), "dedup_key"), "mid.1458668856218:ed81099e15d3f4f233:delivery");
    CHECK_STR(meta_jstr(st(3), "thread_id"), "7001000000000002");
    CHECK_INT(meta_jint(st(3), "watermark_ms"), 1458668856999LL);
}

static void test_echo_standby(void)
{
    og_test_conn_clear(conn);
    struct og_test_http r = post_fixture("echo_standby.json");
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(conn), 1);
    CHECK_STR(meta_jstr(msg(0), "dedup_key"), "m_REAL");
    CHECK_INT(og_test_conn_statuses(conn), 0);
}

static void test_signatures_and_failures(void)
{
    size_t len;
    char *body = meta_fixture("facebook", "text.json", &len);
    char sig[80], headers[256];
    og_test_conn_clear(conn);
    struct og_test_http r = post_raw("Content-Type: application/json\n", body, len);
    CHECK_INT(r.status, 401);
    meta_sign("wrong", body, len, sig);
    snprintf(headers, sizeof headers, "X-Hub-Signature-256: %s\n", sig);
    r = post_raw(headers, body, len);
    CHECK_INT(r.status, 401);
    meta_sign(APP_SECRET, body, len, sig);
    snprintf(headers, sizeof headers, "X-Hub-Signature: sha1=%.40s\n", sig + 7);
    r = post_raw(headers, body, len);
    CHECK_INT(r.status, 401);
    CHECK_INT(og_test_conn_messages(conn), 0);

    post_fixture("text.json");
    post_fixture("text.json");
    CHECK_INT(og_test_conn_messages(conn), 2);
    CHECK_STR(meta_jstr(msg(0), "dedup_key"), meta_jstr(msg(1), "dedup_key"));

    og_test_conn_clear(conn);
    og_test_conn_fail_emits(conn, 1, OG_ERR_UNAVAILABLE);
    r = post_fixture("batch.json");
    CHECK_INT(r.status, 503);
    CHECK_INT(og_test_conn_messages(conn), 0);
    og_test_conn_fail_emits(conn, 1, OG_ERR_UNAVAILABLE);
    r = post_fixture("receipts.json");
    CHECK_INT(r.status, 503);
    og_test_conn_fail_emits(conn, 0, OG_OK);
    r = post_signed("[1,2]", 5);
    CHECK_INT(r.status, 400);
    const char *ig = "{\"object\":\"instagram\",\"entry\":[]}";
    r = post_signed(ig, strlen(ig));
    CHECK_INT(r.status, 200);
    free(body);
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
    m.message_id = "msg_02";
    m.thread_id = PSID;
    m.contact_external_id = PSID;
    m.kind = kind;
    m.text = text;
    m.attachments = att;
    m.n_attachments = att ? 1 : 0;
    m.last_inbound_age_ms = HOUR;
    return m;
}

static json_object *body_of(size_t i)
{
    return json_tokener_parse(og_fake_get(fake, i)->body);
}

static void test_send_paths(void)
{
    og_fake_reset(fake);
    struct og_fake_resp ok = {200, "{\"recipient_id\":\"" PSID "\",\"message_id\":\"m_SENT1\"}",
                              NULL, NULL, 0};
    og_fake_set_default(fake, &ok);
    struct og_send_result res;

    struct og_outbound m = outbound(OG_KIND_TEXT, "hello, world", NULL);
    m.reply_to_provider_id = "m_QUOTED"; /* not sent: no reply field in the Send API */
    CHECK_INT(send_msg(&m, &res), OG_OK);
    CHECK_STR(res.provider_message_id, "m_SENT1");
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(fake), 1);
    const struct og_fake_req *rq = og_fake_get(fake, 0);
    char hb[256];
    CHECK_STR(rq->url, "/v25.0/" PAGE_ID "/messages");
    CHECK_STR(og_fake_header(rq, "authorization", hb, sizeof hb), "Bearer " TOKEN);
    CHECK(strstr(rq->url, TOKEN) == NULL);
    json_object *b = body_of(0);
    CHECK_STR(meta_jstr(b, "recipient.id"), PSID);
    CHECK_STR(meta_jstr(b, "messaging_type"), "RESPONSE");
    CHECK_STR(meta_jstr(b, "message.text"), "hello, world");
    CHECK(meta_jstr(b, "message.attachment") == NULL);
    json_object_put(b);

    struct og_attachment img = {"https://example.com/a.jpg", NULL, NULL, NULL, 0};
    m = outbound(OG_KIND_IMAGE, NULL, &img);
    CHECK_INT(send_msg(&m, &res), OG_OK);
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(fake), 2);
    b = body_of(1);
    CHECK_STR(meta_jstr(b, "messaging_type"), "RESPONSE");
    CHECK_STR(meta_jstr(b, "message.attachment.type"), "image");
    CHECK_STR(meta_jstr(b, "message.attachment.payload.url"), "https://example.com/a.jpg");
    CHECK_STR(meta_jstr(b, "message.attachment.payload.is_reusable"), "true");
    json_object_put(b);

    /* A document with a caption: the file, then the text; id = the file's. */
    struct og_fake_resp first = {200, "{\"recipient_id\":\"" PSID "\",\"message_id\":\"m_FILE\"}",
                                 NULL, NULL, 0};
    og_fake_push(fake, &first);
    struct og_attachment doc = {"https://example.com/a.pdf", NULL, NULL, "a.pdf", 0};
    m = outbound(OG_KIND_FILE, "your invoice", &doc);
    CHECK_INT(send_msg(&m, &res), OG_OK);
    CHECK_STR(res.provider_message_id, "m_FILE");
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(fake), 4);
    b = body_of(2);
    CHECK_STR(meta_jstr(b, "message.attachment.type"), "file");
    CHECK_STR(meta_jstr(b, "message.attachment.payload.url"), "https://example.com/a.pdf");
    json_object_put(b);
    b = body_of(3);
    CHECK_STR(meta_jstr(b, "message.text"), "your invoice");
    CHECK_STR(meta_jstr(b, "messaging_type"), "RESPONSE");
    json_object_put(b);

    /* Caption failing after the file went out: still a success. */
    struct og_fake_resp capfail = {500, "{\"error\":{\"message\":\"x\",\"code\":2}}", NULL, NULL,
                                   0};
    og_fake_push(fake, &first);
    og_fake_push(fake, &capfail);
    CHECK_INT(send_msg(&m, &res), OG_OK);
    CHECK_STR(res.provider_message_id, "m_FILE");
    free(res.provider_message_id);

    struct og_attachment up = {NULL, "987654321", NULL, NULL, 0};
    m = outbound(OG_KIND_VIDEO, NULL, &up);
    CHECK_INT(send_msg(&m, &res), OG_OK);
    free(res.provider_message_id);
    b = body_of(og_fake_count(fake) - 1);
    CHECK_STR(meta_jstr(b, "message.attachment.type"), "video");
    CHECK_STR(meta_jstr(b, "message.attachment.payload.attachment_id"), "987654321");
    json_object_put(b);

    size_t before = og_fake_count(fake);
    m = outbound(OG_KIND_STICKER, NULL, &img);
    CHECK_INT(send_msg(&m, &res), OG_ERR_UNSUPPORTED);
    m = outbound(OG_KIND_FILE, "x", NULL);
    CHECK_INT(send_msg(&m, &res), OG_ERR_INVALID);
    m = outbound(OG_KIND_TEXT, NULL, NULL);
    CHECK_INT(send_msg(&m, &res), OG_ERR_INVALID);
    CHECK_INT(og_fake_count(fake), before);

    struct og_fake_resp odd = {200, "{\"recipient_id\":\"" PSID "\"}", NULL, NULL, 0};
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
    m.last_inbound_age_ms = 25 * HOUR;
    CHECK_INT(send_msg(&m, &res), OG_ERR_WINDOW_CLOSED);
    CHECK_STR(res.error_code, "window_closed");
    CHECK_INT(og_fake_count(fake), 0);
    m.last_inbound_age_ms = HOUR;
    CHECK_INT(send_msg(&m, &res), OG_OK);
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
        {400,
         "{\"error\":{\"message\":\"Invalid OAuth access token.\",\"type\":\"OAuthException\","
         "\"code\":190,\"error_subcode\":1234567,\"fbtrace_id\":\"BLBz/WZt8dN\"}}",
         NULL, OG_ERR_AUTH, "190", -1},
        {400,
         "{\"error\":{\"message\":\"(#10) This message is sent outside of allowed window.\","
         "\"type\":\"OAuthException\",\"code\":10,\"error_subcode\":2018278}}",
         NULL, OG_ERR_WINDOW_CLOSED, "10", -1},
        {400,
         "{\"error\":{\"message\":\"(#613) Calls to this api have exceeded the rate "
         "limit.\",\"code\":613}}",
         "Retry-After: 5\n", OG_ERR_RATE_LIMITED, "613", 5000},
        {400, "{\"error\":{\"message\":\"(#4) Application request limit reached\",\"code\":4}}",
         NULL, OG_ERR_RATE_LIMITED, "4", -1},
        {400,
         "{\"error\":{\"message\":\"(#551) This person isn't available right now.\","
         "\"code\":551,\"error_subcode\":1545041}}",
         NULL, OG_ERR_PERMANENT, "551", -1},
        {400,
         "{\"error\":{\"message\":\"(#100) No matching user found\",\"code\":100,"
         "\"error_subcode\":2018001}}",
         NULL, OG_ERR_PERMANENT, "100", -1},
        {500, "{\"error\":{\"message\":\"(#2) Service temporarily unavailable\",\"code\":2}}", NULL,
         OG_ERR_RETRYABLE, "2", -1},
        {502, "", NULL, OG_ERR_RETRYABLE, "http_502", -1},
        {403, "{\"error\":{\"message\":\"(#200) Permissions error\",\"code\":200}}", NULL,
         OG_ERR_PERMANENT, "200", -1},
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
        CHECK_INT(og_fake_count(fake), 1);
    }
    /* An attachment whose upload fails is reported, and no caption follows. */
    og_fake_reset(fake);
    struct og_fake_resp fr = {400,
                              "{\"error\":{\"message\":\"Invalid OAuth access token.\","
                              "\"code\":190}}",
                              NULL, NULL, 0};
    og_fake_push(fake, &fr);
    struct og_attachment img = {"https://example.com/a.jpg", NULL, NULL, NULL, 0};
    m = outbound(OG_KIND_IMAGE, "caption", &img);
    CHECK_INT(send_msg(&m, &res), OG_ERR_AUTH);
    CHECK_STR(res.error_message, "Invalid OAuth access token.");
    CHECK_INT(og_fake_count(fake), 1);
}

int main(void)
{
    og_http_client_global_init();
    fake = og_fake_start();
    char opts[512];
    snprintf(opts, sizeof opts,
             "{\"page_access_token\":\"" TOKEN "\",\"app_secret\":\"" APP_SECRET
             "\",\"verify_token\":\"" VERIFY "\",\"page_id\":\"" PAGE_ID "\",\"api_base\":\"%s\"}",
             og_fake_base(fake));
    conn = og_test_conn_open("facebook", opts);
    CHECK(conn != NULL);
    if (!conn)
        return og_test_done();
    test_options();
    test_handshake();
    test_text();
    test_kinds();
    test_batch();
    test_receipts();
    test_echo_standby();
    test_signatures_and_failures();
    test_send_paths();
    test_window();
    test_send_errors();
    og_test_conn_close(conn);
    og_fake_stop(fake);
    og_http_client_thread_cleanup();
    og_http_client_global_cleanup();
    return og_test_done();
}
