/* test_media - attachments' files end to end (#21.1, #21.2, #21.3): the
 * daemon on a real redis-server, every platform a fake on 127.0.0.1 with the
 * platform's real shapes:
 *   - Telegram photo, document and voice (getFile, then /file/bot<token>/...),
 *     and an image, a document and a voice note on WhatsApp, Messenger, LINE
 *     and VK,
 *     WhatsApp image (GET /{media-id} -> {url,...}, then the URL with the
 *     bearer token), Messenger image (payload.url), LINE image (the content
 *     endpoint with the token), VK photo (the size's URL): each fetched once
 *     on the first GET /api/v1/messages/{id}/attachments/0 and served with the
 *     type sniffed from its bytes (the platforms' fakes all say
 *     application/octet-stream), its name, nosniff; the second GET is a cache
 *     hit (the fake's request count does not move);
 *   - the stored url is a signed link that works without a token; a forged
 *     one is 401 link_invalid; no token and no link is 401;
 *   - the download guard: an attachment at 127.0.0.1, 10.0.0.1,
 *     169.254.169.254, [::1], file:// on a channel that allows no host, and a
 *     redirect to gopher:// on one that allows the fake, each refused with
 *     the reason named (502 media_unavailable), nothing fetched;
 *     a redirect to a private address, and a file past media.max_file_bytes
 *     (413);
 *   - two first reads of one file at once: one platform fetch;
 *   - a reply whose attachment URL points at the metadata address: 400
 *     url_refused at once;
 *   - uploads (#21.2): refusals (not multipart, an unknown part, a type the
 *     channel's platform does not take, too large, no token); sent by
 *     Telegram multipart, the WhatsApp media upload, the Messenger
 *     Attachment Upload API, VK's upload server, and LINE's signed public
 *     URL (fetched without a token); each message reaches "sent" and its
 *     attachment route serves the upload;
 *   - the example connector (no fetch_media): 501 unsupported. */
#include "../connectors/meta_test.h"
#include "og_test.h"
#include "og_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TG_TOKEN "777:media-token"
#define WA_SECRET "wa-media-secret"
#define FB_SECRET "fb-media-secret"
#define LINE_SECRET "line-media-secret"
#define SJ_SECRET "sj-media-secret"

static struct og_test_daemon d;
static struct og_fake *api;
static struct og_test_redis rs;

/* The files the platforms hold: real magic numbers, NULs inside. */
static const char JPEG[] = "\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
                           "jpeg-body\xFF\xD9";
static const char PNG[] = "\x89PNG\r\n\x1A\n\x00\x00\x00\rIHDR\x00\x00\x00\x01png-body";
static const char PDF[] = "%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n";
static const char OGG[] = "OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00opus-body";

static int fake_api(void *ud, const struct og_fake_req *q, struct og_fake_resp *r)
{
    (void)ud;
    r->status = 200;
    r->content_type = "application/json";
    if (!strcmp(q->url, "/bot" TG_TOKEN "/getFile")) {
        const char *path = strstr(q->body, "tg-notes")   ? "documents/notes.txt"
                           : strstr(q->body, "tg-photo") ? "photos/file_1.jpg"
                           : strstr(q->body, "tg-doc")   ? "documents/file_2.pdf"
                           : strstr(q->body, "tg-voice") ? "voice/file_3.oga"
                                                         : NULL;
        if (strstr(q->body, "tg-big")) {
            r->status = 400;
            r->body = "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: file is "
                      "too big\"}";
            return 1;
        }
        if (!path) {
            r->status = 400;
            r->body = "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: invalid "
                      "file_id\"}";
            return 1;
        }
        static _Thread_local char ans[256]; /* copied by the fake after we return */
        snprintf(ans, sizeof ans,
                 "{\"ok\":true,\"result\":{\"file_id\":\"x\",\"file_unique_id\":\"y\","
                 "\"file_size\":100,\"file_path\":\"%s\"}}",
                 path);
        r->body = ans;
        return 1;
    }
    /* WhatsApp's media lookup: an image, a document and a voice note */
    const char *wa_id = !strcmp(q->url, "/v25.0/1003383421387256")   ? "1003383421387256"
                        : !strcmp(q->url, "/v25.0/2003383421387256") ? "2003383421387256"
                        : !strcmp(q->url, "/v25.0/3003383421387256") ? "3003383421387256"
                                                                     : NULL;
    if (wa_id) {
        static _Thread_local char ans[320];
        const char *mime = wa_id[0] == '1'   ? "image/jpeg"
                           : wa_id[0] == '2' ? "application/pdf"
                                             : "audio/ogg; codecs=opus";
        size_t size = wa_id[0] == '1'   ? sizeof JPEG - 1
                      : wa_id[0] == '2' ? sizeof PDF - 1
                                        : sizeof OGG - 1;
        snprintf(ans, sizeof ans,
                 "{\"url\":\"%s/wa-cdn/%s?ext=1\",\"mime_type\":\"%s\","
                 "\"sha256\":\"abc\",\"file_size\":%zu,\"id\":\"%s\","
                 "\"messaging_product\":\"whatsapp\"}",
                 og_fake_base(api), wa_id, mime, size, wa_id);
        r->body = ans;
        return 1;
    }
    if (!strcmp(q->url, "/fb-cdn/to-gopher")) {
        r->status = 302;
        r->headers = "Location: gopher://127.0.0.1:70/_secret";
        r->body = "";
        return 1;
    }
    if (!strcmp(q->url, "/fb-cdn/to-private")) {
        r->status = 302;
        r->headers = "Location: http://10.1.2.3/x";
        r->body = "";
        return 1;
    }
    if (!strcmp(q->url, "/file/bot" TG_TOKEN "/documents/notes.txt")) {
        r->content_type = "application/octet-stream";
        r->body = "hello notes\n";
        r->delay_ms = 500; /* slow: two first readers overlap */
        return 1;
    }
    if (!strcmp(q->url, "/bot" TG_TOKEN "/sendPhoto") ||
        !strcmp(q->url, "/bot" TG_TOKEN "/sendDocument")) {
        r->body = "{\"ok\":true,\"result\":{\"message_id\":9001,\"chat\":{\"id\":1111111},"
                  "\"date\":1700000000}}";
        return 1;
    }
    if (!strcmp(q->url, "/v25.0/106540352242922/media")) {
        r->body = "{\"id\":\"media-up-1\"}";
        return 1;
    }
    if (!strcmp(q->url, "/v25.0/106540352242922/messages")) {
        r->body = "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":\"x\","
                  "\"wa_id\":\"16505551234\"}],\"messages\":[{\"id\":\"wamid.OUT1\"}]}";
        return 1;
    }
    if (!strcmp(q->url, "/v2/bot/message/reply") || !strcmp(q->url, "/v2/bot/message/push")) {
        r->body = "{\"sentMessages\":[{\"id\":\"461230966842064897\",\"quoteToken\":\"q\"}]}";
        return 1;
    }
    if (!strcmp(q->url, "/v25.0/110000000000001/message_attachments")) {
        r->body = "{\"attachment_id\":\"fb-att-1\"}";
        return 1;
    }
    if (!strcmp(q->url, "/v25.0/110000000000001/messages") ||
        !strcmp(q->url, "/v25.0/me/messages")) {
        r->body = "{\"recipient_id\":\"7001\",\"message_id\":\"m_OUT1\"}";
        return 1;
    }
    if (!strcmp(q->url, "/method/photos.getMessagesUploadServer")) {
        static _Thread_local char ans[256];
        snprintf(ans, sizeof ans,
                 "{\"response\":{\"album_id\":-64,\"upload_url\":\"%s/vk-upload/photo\","
                 "\"group_id\":199493573}}",
                 og_fake_base(api));
        r->body = ans;
        return 1;
    }
    if (!strcmp(q->url, "/vk-upload/photo")) {
        r->body = "{\"server\":1234,\"photo\":\"[{\\\"photo\\\":\\\"abc\\\"}]\",\"hash\":\"h4sh\"}";
        return 1;
    }
    if (!strcmp(q->url, "/method/photos.saveMessagesPhoto")) {
        r->body = "{\"response\":[{\"id\":457239100,\"owner_id\":-199493573,\"access_key\":"
                  "\"ak1\",\"sizes\":[]}]}";
        return 1;
    }
    if (!strcmp(q->url, "/method/messages.send")) {
        r->body = "{\"response\":777}";
        return 1;
    }
    if (!strncmp(q->url, "/v2/bot/profile/", 16)) {
        r->body = "{\"displayName\":\"Taro\",\"userId\":\"U1\"}";
        return 1;
    }
    if (!strcmp(q->url, "/method/users.get")) {
        r->body = "{\"response\":[{\"id\":22757746,\"first_name\":\"Pavel\",\"last_name\":"
                  "\"Durov\"}]}";
        return 1;
    }
    return 0;
}

/* The header name of the first request whose URL starts with prefix ("" =
 * none). */
static const char *header_of(const char *prefix, const char *name, char *buf, size_t n)
{
    buf[0] = 0;
    for (size_t i = 0; i < og_fake_count(api); i++)
        if (!strncmp(og_fake_get(api, i)->url, prefix, strlen(prefix))) {
            const char *v = og_fake_header(og_fake_get(api, i), name, buf, n);
            return v ? v : "";
        }
    return "";
}

/* Requests the fake saw whose URL starts with prefix. */
static size_t seen(const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < og_fake_count(api); i++)
        if (!strncmp(og_fake_get(api, i)->url, prefix, strlen(prefix)))
            n++;
    return n;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && !json_object_is_type(v, json_type_null)
               ? json_object_get_string(v)
               : NULL;
}

/* The newest message of the channel's first session [xfer], or NULL. */
static json_object *last_message(const char *channel)
{
    char *path = og_sprintf("/api/v1/sessions?channel=%s", channel);
    long st = 0;
    json_object *l = og_test_api_get(&d, path, &st);
    free(path);
    json_object *items = l ? json_object_object_get(l, "items") : NULL;
    const char *sid = items && json_object_array_length(items)
                          ? jstr(json_object_array_get_idx(items, 0), "id")
                          : NULL;
    json_object *m = NULL;
    if (sid) {
        path = og_sprintf("/api/v1/sessions/%s/messages", sid);
        json_object *ml = og_test_api_get(&d, path, &st);
        free(path);
        json_object *mi = ml ? json_object_object_get(ml, "items") : NULL;
        size_t n = mi ? json_object_array_length(mi) : 0;
        if (n)
            m = json_object_get(json_object_array_get_idx(mi, n - 1));
        json_object_put(ml);
    }
    json_object_put(l);
    return m;
}

static json_object *att0(json_object *m)
{
    return json_object_array_get_idx(json_object_object_get(m, "attachments"), 0);
}

struct got {
    long status;
    char *body;
    size_t len;
    char *head; /* the status line and headers */
};

static struct got get(const char *path_or_url, const char *headers)
{
    char *url = strncmp(path_or_url, "http", 4) == 0 ? og_strdup(path_or_url)
                                                     : og_sprintf("%s%s", d.base, path_or_url);
    struct got g = {0};
    struct og_test_resp r = og_test_http_headers("GET", url, headers, NULL, 0, &g.head);
    free(url);
    g.status = r.status;
    g.body = r.body;
    /* the body may hold NULs: its length is what Content-Length said */
    const char *cl = g.head ? strcasestr(g.head, "\r\ncontent-length:") : NULL;
    g.len = cl ? (size_t)atol(cl + 17) : strlen(r.body);
    return g;
}

static void got_free(struct got *g)
{
    free(g->body), free(g->head);
}

#define ADMIN "Authorization: Bearer " OG_TEST_ADMIN_TOKEN

static int has_header(const struct got *g, const char *line)
{
    return g->head && strcasestr(g->head, line) != NULL;
}

/* Fetches attachment 0 of the newest message of channel twice: the file's
 * bytes and type, fetched from the platform once (file_prefix counts). */
static void fetched_once(const char *channel, const char *file_prefix, const char *data, size_t len,
                         const char *type, const char *name)
{
    json_object *m = last_message(channel);
    CHECK(m != NULL);
    const char *mid = m ? jstr(m, "id") : NULL;
    char *path = og_sprintf("/api/v1/messages/%s/attachments/0", mid ? mid : "none");
    size_t before = seen(file_prefix);
    CHECK_INT(before, 0); /* nothing fetched at ingest */
    struct got g = get(path, ADMIN);
    CHECK_INT(g.status, 200);
    CHECK_INT(g.len, len);
    CHECK(g.status == 200 && g.len == len && memcmp(g.body, data, len) == 0);
    char *ct = og_sprintf("\r\nContent-Type: %s\r\n", type);
    if (!has_header(&g, ct))
        fprintf(stderr, "%s: headers were:\n%s\n", channel, g.head ? g.head : "");
    CHECK(has_header(&g, ct));
    free(ct);
    CHECK(has_header(&g, "\r\nX-Content-Type-Options: nosniff\r\n"));
    if (name) {
        char *cd = og_sprintf("filename*=UTF-8''%s", name);
        CHECK(has_header(&g, cd));
        free(cd);
    }
    got_free(&g);
    CHECK_INT(seen(file_prefix), 1);
    /* the second read: from the media store, the platform is not asked */
    g = get(path, ADMIN);
    CHECK_INT(g.status, 200);
    CHECK(g.len == len && memcmp(g.body, data, len) == 0);
    got_free(&g);
    CHECK_INT(seen(file_prefix), 1);
    free(path);
    json_object_put(m);
}

static long post_raw(const char *channel, const char *headers, const char *body)
{
    char *url = og_sprintf("%s/hooks/%s", d.base, channel);
    struct og_test_resp r = og_test_http("POST", url, headers, body, strlen(body));
    free(url), free(r.body);
    return r.status;
}

static long post_meta(const char *channel, const char *secret, const char *body)
{
    char sig[80];
    meta_sign(secret, body, strlen(body), sig);
    char *h = og_sprintf("X-Hub-Signature-256: %s\nContent-Type: application/json", sig);
    long st = post_raw(channel, h, body);
    free(h);
    return st;
}

static long post_tg(const char *channel, long update, const char *media_json)
{
    char *b = og_sprintf("{\"update_id\":%ld,\"message\":{\"message_id\":%ld,\"from\":{\"id\":"
                         "1111111,\"is_bot\":false,\"first_name\":\"Test\"},\"chat\":{\"id\":"
                         "1111111,\"type\":\"private\",\"first_name\":\"Test\"},\"date\":"
                         "1700000000,%s}}",
                         update, update, media_json);
    long st = post_raw(channel,
                       "X-Telegram-Bot-Api-Secret-Token: tgs\nContent-Type: application/json", b);
    free(b);
    return st;
}

static void test_telegram(void)
{
    CHECK_INT(post_tg("tg", 1,
                      "\"photo\":[{\"file_id\":\"tg-photo-small\",\"file_unique_id\":"
                      "\"a\",\"width\":90,\"height\":67},{\"file_id\":\"tg-photo\","
                      "\"file_unique_id\":\"b\",\"width\":800,\"height\":600}],"
                      "\"caption\":\"look\""),
              200);
    json_object *m = last_message("tg");
    json_object *a = att0(m);
    /* the stored url is the omnigate link, signed; the platform's id stays */
    const char *url = jstr(a, "url");
    /* on public_url, as webhook consumers fetch it */
    CHECK(url && strncmp(url, "https://gw.example/api/v1/messages/msg_", 39) == 0 &&
          strstr(url, "?exp=") && strstr(url, "&sig="));
    if (url && !strncmp(url, "https://gw.example", 18))
        url += 18; /* the daemon itself is at d.base */
    CHECK_STR(jstr(a, "media_id"), "tg-photo");
    fetched_once("tg", "/file/bot", JPEG, sizeof JPEG - 1, "image/jpeg", "file_1.jpg");
    CHECK_INT(seen("/bot" TG_TOKEN "/getFile"), 1);

    /* the signed link, without a token */
    struct got g = get(url ? url : "/", NULL);
    CHECK_INT(g.status, 200);
    CHECK(g.len == sizeof JPEG - 1 && memcmp(g.body, JPEG, g.len) == 0);
    got_free(&g);
    char *forged = og_strdup(url ? url : "x");
    char *sig = strstr(forged, "sig=");
    if (sig)
        sig[4] = sig[4] == 'a' ? 'b' : 'a';
    g = get(forged, NULL);
    CHECK_INT(g.status, 401);
    CHECK(strstr(g.body, "link_invalid") != NULL);
    got_free(&g);
    free(forged);
    const char *mid = jstr(m, "id");
    char *bare = og_sprintf("/api/v1/messages/%s/attachments/0", mid ? mid : "x");
    g = get(bare, NULL);
    CHECK_INT(g.status, 401);
    got_free(&g);
    free(bare);
    /* the message.received event a webhook consumer gets carries the same
     * signed link, usable without a token */
    char *ev = og_test_redis_cli(&rs, "XREVRANGE {og}:events + - COUNT 200");
    char *want =
        og_sprintf("https://gw.example/api/v1/messages/%s/attachments/0?exp=", mid ? mid : "x");
    const char *link = ev ? strstr(ev, want) : NULL;
    free(want);
    CHECK(link != NULL);
    CHECK(ev && strstr(ev, "message.received"));
    if (link) {
        char path[300];
        size_t n = strcspn(link + 18, "\"\\ \n");
        snprintf(path, sizeof path, "%.*s", (int)(n < sizeof path ? n : sizeof path - 1),
                 link + 18);
        CHECK(strstr(path, "sig=") != NULL);
        g = get(path, NULL);
        CHECK_INT(g.status, 200);
        got_free(&g);
    }
    free(ev);
    bare = og_sprintf("/api/v1/messages/%s/attachments/1", mid ? mid : "x");
    g = get(bare, ADMIN);
    CHECK_INT(g.status, 404); /* no second attachment */
    got_free(&g);
    free(bare);
    json_object_put(m);

    og_fake_reset(api);
    CHECK_INT(post_tg("tg", 2,
                      "\"document\":{\"file_name\":\"report.pdf\",\"mime_type\":"
                      "\"application/pdf\",\"file_id\":\"tg-doc\",\"file_unique_id\":"
                      "\"c\",\"file_size\":40}"),
              200);
    fetched_once("tg", "/file/bot", PDF, sizeof PDF - 1, "application/pdf", "report.pdf");

    og_fake_reset(api);
    CHECK_INT(post_tg("tg", 3,
                      "\"voice\":{\"file_id\":\"tg-voice\",\"file_unique_id\":\"d\","
                      "\"duration\":3,\"mime_type\":\"audio/ogg\",\"file_size\":20}"),
              200);
    fetched_once("tg", "/file/bot", OGG, sizeof OGG - 1, "audio/ogg", "file_3.oga");

    /* the Bot API's 20 MB limit: 413, named */
    CHECK_INT(post_tg("tg", 4,
                      "\"document\":{\"file_name\":\"huge.zip\",\"file_id\":\"tg-big\","
                      "\"file_unique_id\":\"e\"}"),
              200);
    m = last_message("tg");
    char *p = og_sprintf("/api/v1/messages/%s/attachments/0", m ? jstr(m, "id") : "x");
    g = get(p, ADMIN);
    CHECK_INT(g.status, 413);
    CHECK(strstr(g.body, "too big") != NULL);
    got_free(&g);
    free(p);
    json_object_put(m);
}

struct reader {
    char path[160];
    struct got g;
};

static void *read_one(void *arg)
{
    struct reader *r = arg;
    r->g = get(r->path, ADMIN);
    return NULL;
}

/* Two first reads of one file at once: the platform is asked once, both
 * get the file (a text file: text/plain as Telegram declared and the bytes
 * agree). */
static void test_concurrent_first_reads(void)
{
    og_fake_reset(api);
    CHECK_INT(post_tg("tg", 5,
                      "\"document\":{\"file_name\":\"notes.txt\",\"mime_type\":"
                      "\"text/plain\",\"file_id\":\"tg-notes\",\"file_unique_id\":\"f\"}"),
              200);
    json_object *m = last_message("tg");
    struct reader rd[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        snprintf(rd[i].path, sizeof rd[i].path, "/api/v1/messages/%s/attachments/0",
                 m && jstr(m, "id") ? jstr(m, "id") : "x");
        pthread_create(&th[i], NULL, read_one, &rd[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(rd[i].g.status, 200);
        CHECK(rd[i].g.status == 200 && !strcmp(rd[i].g.body, "hello notes\n"));
        CHECK(has_header(&rd[i].g, "\r\nContent-Type: text/plain\r\n"));
        got_free(&rd[i].g);
    }
    CHECK_INT(seen("/file/bot" TG_TOKEN "/documents/notes.txt"), 1);
    CHECK_INT(seen("/bot" TG_TOKEN "/getFile"), 1);
    json_object_put(m);
}

static void test_whatsapp(void)
{
    og_fake_reset(api);
    const char *body =
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"102290129340398\","
        "\"changes\":[{\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\","
        "\"metadata\":{\"display_phone_number\":\"15550783881\",\"phone_number_id\":"
        "\"106540352242922\"},\"contacts\":[{\"profile\":{\"name\":\"Sheena\"},\"wa_id\":"
        "\"16505551234\"}],\"messages\":[{\"from\":\"16505551234\",\"id\":\"wamid.IMG1\","
        "\"timestamp\":\"1749416383\",\"type\":\"image\",\"image\":{\"caption\":\"pic\","
        "\"mime_type\":\"image/jpeg\",\"sha256\":\"abc\",\"id\":\"1003383421387256\"}}]}}]}]}";
    CHECK_INT(post_meta("wa", WA_SECRET, body), 200);
    fetched_once("wa", "/wa-cdn/", JPEG, sizeof JPEG - 1, "image/jpeg", "image.jpg");
    CHECK_INT(seen("/v25.0/1003383421387256"), 1);
    char buf[128];
    CHECK_STR(header_of("/wa-cdn/", "authorization", buf, sizeof buf), "Bearer wa-tok");
    /* a document and a voice note: the same lookup, their own types */
    const char *kinds[2][2] = {
        {"DOC1", "\"type\":\"document\",\"document\":{\"filename\":\"report.pdf\","
                 "\"mime_type\":\"application/pdf\",\"sha256\":\"abc\",\"id\":"
                 "\"2003383421387256\"}"},
        {"VOICE1", "\"type\":\"audio\",\"audio\":{\"mime_type\":\"audio/ogg; codecs=opus\","
                   "\"sha256\":\"abc\",\"id\":\"3003383421387256\",\"voice\":true}"}};
    for (int i = 0; i < 2; i++) {
        og_fake_reset(api);
        char *b = og_sprintf(
            "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"102290129340398\","
            "\"changes\":[{\"field\":\"messages\",\"value\":{\"messaging_product\":"
            "\"whatsapp\",\"metadata\":{\"display_phone_number\":\"15550783881\","
            "\"phone_number_id\":\"106540352242922\"},\"contacts\":[{\"profile\":{\"name\":"
            "\"Sheena\"},\"wa_id\":\"16505551234\"}],\"messages\":[{\"from\":\"16505551234\","
            "\"id\":\"wamid.%s\",\"timestamp\":\"1749416384\",%s}]}}]}]}",
            kinds[i][0], kinds[i][1]);
        CHECK_INT(post_meta("wa", WA_SECRET, b), 200);
        free(b);
        if (i == 0)
            fetched_once("wa", "/wa-cdn/", PDF, sizeof PDF - 1, "application/pdf", "report.pdf");
        else
            fetched_once("wa", "/wa-cdn/", OGG, sizeof OGG - 1, "audio/ogg", NULL);
    }
}

static char *fb_image(const char *mid, const char *url)
{
    return og_sprintf("{\"object\":\"page\",\"entry\":[{\"id\":\"110000000000001\",\"time\":1,"
                      "\"messaging\":[{\"sender\":{\"id\":\"7001\"},\"recipient\":{\"id\":"
                      "\"110000000000001\"},\"timestamp\":1458692752478,\"message\":{\"mid\":"
                      "\"%s\",\"attachments\":[{\"type\":\"image\",\"payload\":{\"url\":\"%s\"}}]}}"
                      "]}]}",
                      mid, url);
}

static void test_facebook(void)
{
    og_fake_reset(api);
    char *url = og_sprintf("%s/fb-cdn/photo.png", og_fake_base(api));
    char *b = fb_image("m_IMG1", url);
    CHECK_INT(post_meta("fb", FB_SECRET, b), 200);
    free(b), free(url);
    json_object *m = last_message("fb");
    CHECK(jstr(att0(m), "source_url") && strstr(jstr(att0(m), "source_url"), "/fb-cdn/photo.png"));
    json_object_put(m);
    fetched_once("fb", "/fb-cdn/", PNG, sizeof PNG - 1, "image/png", "image.png");
    char buf[128];
    CHECK_STR(header_of("/fb-cdn/", "authorization", buf, sizeof buf), ""); /* no token */
    /* a file and a voice clip: typed by their bytes, not by the URL */
    const char *kinds[2][3] = {{"m_DOC1", "file", "/fb-cdn/report"},
                               {"m_VOICE1", "audio", "/fb-cdn/clip"}};
    for (int i = 0; i < 2; i++) {
        og_fake_reset(api);
        char *b2 = og_sprintf(
            "{\"object\":\"page\",\"entry\":[{\"id\":\"110000000000001\",\"time\":1,"
            "\"messaging\":[{\"sender\":{\"id\":\"7001\"},\"recipient\":{\"id\":"
            "\"110000000000001\"},\"timestamp\":1458692752479,\"message\":{\"mid\":\"%s\","
            "\"attachments\":[{\"type\":\"%s\",\"payload\":{\"url\":\"%s%s\"}}]}}]}]}",
            kinds[i][0], kinds[i][1], og_fake_base(api), kinds[i][2]);
        CHECK_INT(post_meta("fb", FB_SECRET, b2), 200);
        free(b2);
        if (i == 0)
            fetched_once("fb", "/fb-cdn/", PDF, sizeof PDF - 1, "application/pdf", NULL);
        else
            fetched_once("fb", "/fb-cdn/", OGG, sizeof OGG - 1, "audio/ogg", NULL);
    }
}

static void test_line(void)
{
    og_fake_reset(api);
    const char *body =
        "{\"destination\":\"Ucb2\",\"events\":[{\"type\":\"message\",\"message\":{\"type\":"
        "\"image\",\"id\":\"535883069103014193\",\"contentProvider\":{\"type\":\"line\"}},"
        "\"webhookEventId\":\"01GXSAQBB2GN8XW0ZEBVA36MXA\",\"deliveryContext\":{"
        "\"isRedelivery\":false},\"timestamp\":1681295011123,\"source\":{\"type\":\"user\","
        "\"userId\":\"U8d55942f87f2155f24550b7fe6eac9c0\"},\"replyToken\":\"b60d\",\"mode\":"
        "\"active\"}]}";
    unsigned char mac[32];
    char sig[64];
    og_hmac_sha256(LINE_SECRET, strlen(LINE_SECRET), body, strlen(body), mac);
    og_base64_encode(mac, sizeof mac, sig, sizeof sig);
    char *h = og_sprintf("X-Line-Signature: %s\nContent-Type: application/json", sig);
    CHECK_INT(post_raw("line", h, body), 200);
    free(h);
    fetched_once("line", "/v2/bot/message/", JPEG, sizeof JPEG - 1, "image/jpeg", NULL);
    char buf[128];
    CHECK_STR(header_of("/v2/bot/message/", "authorization", buf, sizeof buf), "Bearer line-tok");
    /* a file (its name kept) and a voice message, from the content API */
    const char *kinds[2][2] = {{"01GXSAQBB2GN8XW0ZEBVA36MXB",
                                "\"type\":\"file\",\"id\":\"535883069103014194\","
                                "\"fileName\":\"report.pdf\",\"fileSize\":33"},
                               {"01GXSAQBB2GN8XW0ZEBVA36MXC",
                                "\"type\":\"audio\",\"id\":\"535883069103014195\","
                                "\"duration\":3000,\"contentProvider\":{\"type\":\"line\"}"}};
    for (int i = 0; i < 2; i++) {
        og_fake_reset(api);
        char *b2 = og_sprintf(
            "{\"destination\":\"Ucb2\",\"events\":[{\"type\":\"message\",\"message\":{%s},"
            "\"webhookEventId\":\"%s\",\"deliveryContext\":{\"isRedelivery\":false},"
            "\"timestamp\":1681295011124,\"source\":{\"type\":\"user\",\"userId\":"
            "\"U8d55942f87f2155f24550b7fe6eac9c0\"},\"replyToken\":\"b61d\",\"mode\":"
            "\"active\"}]}",
            kinds[i][1], kinds[i][0]);
        og_hmac_sha256(LINE_SECRET, strlen(LINE_SECRET), b2, strlen(b2), mac);
        og_base64_encode(mac, sizeof mac, sig, sizeof sig);
        char *h2 = og_sprintf("X-Line-Signature: %s\nContent-Type: application/json", sig);
        CHECK_INT(post_raw("line", h2, b2), 200);
        free(h2), free(b2);
        if (i == 0)
            fetched_once("line", "/v2/bot/message/", PDF, sizeof PDF - 1, "application/pdf",
                         "report.pdf");
        else
            fetched_once("line", "/v2/bot/message/", OGG, sizeof OGG - 1, "audio/ogg", NULL);
    }
}

static void test_vk(void)
{
    og_fake_reset(api);
    char *b = og_sprintf(
        "{\"type\":\"message_new\",\"event_id\":\"e-media-1\",\"v\":\"5.199\",\"group_id\":"
        "199493573,\"secret\":\"my_secret\",\"object\":{\"message\":{\"date\":1634665118,"
        "\"from_id\":22757746,\"id\":1451,\"out\":0,\"attachments\":[{\"type\":\"photo\","
        "\"photo\":{\"id\":457239017,\"owner_id\":22757746,\"sizes\":[{\"type\":\"x\",\"url\":"
        "\"%s/vk-cdn/x.jpg\",\"width\":604,\"height\":453}]}}],\"conversation_message_id\":1,"
        "\"peer_id\":22757746,\"text\":\"\"}}}",
        og_fake_base(api));
    CHECK_INT(post_raw("vk", "Content-Type: application/json", b), 200);
    free(b);
    fetched_once("vk", "/vk-cdn/", JPEG, sizeof JPEG - 1, "image/jpeg", NULL);
    /* a document and a voice message (its link_ogg) */
    const char *kinds[2][2] = {
        {"e-media-2", "{\"type\":\"doc\",\"doc\":{\"id\":457239018,\"owner_id\":22757746,"
                      "\"title\":\"report.pdf\",\"size\":33,\"ext\":\"pdf\",\"url\":"
                      "\"%s/vk-cdn/report.pdf\",\"type\":1}}"},
        {"e-media-3", "{\"type\":\"audio_message\",\"audio_message\":{\"id\":457239019,"
                      "\"owner_id\":22757746,\"duration\":3,\"link_ogg\":"
                      "\"%s/vk-cdn/voice.ogg\",\"link_mp3\":\"%s/vk-cdn/voice.mp3\"}}"}};
    for (int i = 0; i < 2; i++) {
        og_fake_reset(api);
        char *att = og_sprintf(kinds[i][1], og_fake_base(api), og_fake_base(api));
        b = og_sprintf("{\"type\":\"message_new\",\"event_id\":\"%s\",\"v\":\"5.199\","
                       "\"group_id\":199493573,\"secret\":\"my_secret\",\"object\":{"
                       "\"message\":{\"date\":1634665119,\"from_id\":22757746,\"id\":%d,"
                       "\"out\":0,\"attachments\":[%s],\"conversation_message_id\":%d,"
                       "\"peer_id\":22757746,\"text\":\"\"}}}",
                       kinds[i][0], 1452 + i, att, 2 + i);
        free(att);
        CHECK_INT(post_raw("vk", "Content-Type: application/json", b), 200);
        free(b);
        if (i == 0)
            fetched_once("vk", "/vk-cdn/", PDF, sizeof PDF - 1, "application/pdf", "report.pdf");
        else
            fetched_once("vk", "/vk-cdn/", OGG, sizeof OGG - 1, "audio/ogg", NULL);
    }
}

/* One Messenger attachment at url on channel fbx (which allows no host) or
 * fb (which allows the fake): its GET is refused with words naming why. */
static void refused(const char *channel, const char *secret, const char *mid, const char *url,
                    const char *why)
{
    char *b = fb_image(mid, url);
    CHECK_INT(post_meta(channel, secret, b), 200);
    free(b);
    json_object *m = last_message(channel);
    char *p = og_sprintf("/api/v1/messages/%s/attachments/0", m ? jstr(m, "id") : "x");
    struct got g = get(p, ADMIN);
    CHECK_INT(g.status, 502);
    CHECK(strstr(g.body, "media_unavailable") != NULL);
    if (!strstr(g.body, why))
        fprintf(stderr, "%s: expected \"%s\" in %s\n", url, why, g.body);
    CHECK(strstr(g.body, why) != NULL);
    got_free(&g);
    free(p);
    json_object_put(m);
}

static void test_refusals(void)
{
    og_fake_reset(api);
    char *local = og_sprintf("%s/fb-cdn/photo.png", og_fake_base(api));
    refused("fbx", FB_SECRET "x", "m_R1", local, "a loopback address");
    free(local);
    refused("fbx", FB_SECRET "x", "m_R2", "http://10.0.0.1/x.jpg", "a private address");
    refused("fbx", FB_SECRET "x", "m_R3", "http://169.254.169.254/latest/meta-data/", "link-local");
    refused("fbx", FB_SECRET "x", "m_R4", "http://[::1]:8080/x", "a loopback address");
    refused("fbx", FB_SECRET "x", "m_R5", "file:///etc/passwd", "http");
    CHECK_INT(seen("/fb-cdn/"), 0); /* the loopback one never reached the fake */
    char *redir = og_sprintf("%s/fb-cdn/to-gopher", og_fake_base(api));
    refused("fb", FB_SECRET, "m_R6", redir, "a redirect to another scheme (gopher:)");
    free(redir);
    redir = og_sprintf("%s/fb-cdn/to-private", og_fake_base(api));
    refused("fb", FB_SECRET, "m_R7", redir, "a private address");
    free(redir);

    /* past media.max_file_bytes (1024 here): 413, named, nothing kept */
    char *hu = og_sprintf("%s/fb-cdn/huge.jpg", og_fake_base(api));
    char *hb = fb_image("m_R8", hu);
    CHECK_INT(post_meta("fb", FB_SECRET, hb), 200);
    free(hb), free(hu);
    json_object *hm = last_message("fb");
    char *hp = og_sprintf("/api/v1/messages/%s/attachments/0", hm ? jstr(hm, "id") : "x");
    struct got hg = get(hp, ADMIN);
    CHECK_INT(hg.status, 413);
    CHECK(strstr(hg.body, "larger than 1024 bytes") != NULL);
    got_free(&hg);
    free(hp);
    json_object_put(hm);

    /* an agent's attachment URL is refused when the reply is made */
    json_object *m = last_message("fb");
    const char *sid = m ? jstr(m, "session_id") : NULL;
    char *url = og_sprintf("%s/api/v1/sessions/%s/messages", d.base, sid ? sid : "x");
    const char *reply = "{\"attachments\":[{\"url\":\"http://169.254.169.254/latest/\"}]}";
    struct og_test_resp r =
        og_test_http("POST", url, ADMIN "\nContent-Type: application/json", reply, strlen(reply));
    CHECK_INT(r.status, 400);
    CHECK(strstr(r.body, "url_refused") && strstr(r.body, "link-local"));
    free(r.body), free(url);
    json_object_put(m);
}

/* ------------------------------------------------------------ uploads */

/* A multipart/form-data body: one file part and, when channel is set, a
 * channel field. *len its length. [xfer] */
static char *form(const char *fname, const char *ftype, const void *data, size_t dlen,
                  const char *channel, const char *extra_field, size_t *len)
{
    struct og_buf b = {0};
    if (channel)
        og_buf_printf(&b,
                      "--XyZb\r\nContent-Disposition: form-data; name=\"channel\"\r\n\r\n%s\r\n",
                      channel);
    if (extra_field)
        og_buf_printf(&b, "--XyZb\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\nx\r\n",
                      extra_field);
    og_buf_printf(&b,
                  "--XyZb\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                  "Content-Type: %s\r\n\r\n",
                  fname, ftype);
    og_buf_append(&b, data, dlen);
    og_buf_puts(&b, "\r\n--XyZb--\r\n");
    *len = b.len;
    return b.data;
}

#define FORM_HDR ADMIN "\nContent-Type: multipart/form-data; boundary=XyZb"

/* POST /api/v1/uploads; the answer's JSON [xfer] or NULL, *status. */
static json_object *upload(const char *body, size_t len, const char *headers, long *status)
{
    char *url = og_sprintf("%s/api/v1/uploads", d.base);
    struct og_test_resp r = og_test_http("POST", url, headers, body, len);
    free(url);
    *status = r.status;
    json_object *j = json_tokener_parse(r.body);
    if (r.status != 201)
        fprintf(stderr, "upload: %ld %s\n", r.status, r.body);
    free(r.body);
    return j;
}

/* An upload of data as name, its id into id. */
static void upload_ok(const char *name, const char *declared, const void *data, size_t dlen,
                      const char *want_type, char id[64])
{
    size_t len;
    char *b = form(name, declared, data, dlen, NULL, NULL, &len);
    long st;
    json_object *j = upload(b, len, FORM_HDR, &st);
    free(b);
    CHECK_INT(st, 201);
    snprintf(id, 64, "%s", j && jstr(j, "id") ? jstr(j, "id") : "none");
    CHECK(strncmp(id, "upl_", 4) == 0);
    CHECK_STR(jstr(j, "mime_type"), want_type); /* the bytes', not the declared one */
    CHECK_STR(jstr(j, "name"), name);
    CHECK_INT(j ? json_object_get_int64(json_object_object_get(j, "size")) : 0, dlen);
    json_object_put(j);
}

/* Posts a reply with the upload to the channel's session; the message id. */
static void reply_upload(const char *channel, const char *upload_id, char mid[64])
{
    json_object *m = last_message(channel);
    const char *sid = m ? jstr(m, "session_id") : NULL;
    char *url = og_sprintf("%s/api/v1/sessions/%s/messages", d.base, sid ? sid : "x");
    char *body =
        og_sprintf("{\"text\":\"here it is\",\"attachments\":[{\"upload_id\":\"%s\"}]}", upload_id);
    struct og_test_resp r =
        og_test_http("POST", url, ADMIN "\nContent-Type: application/json", body, strlen(body));
    CHECK_INT(r.status, 202);
    if (r.status != 202)
        fprintf(stderr, "reply: %s\n", r.body);
    json_object *j = json_tokener_parse(r.body);
    snprintf(mid, 64, "%s", j && jstr(j, "id") ? jstr(j, "id") : "none");
    json_object *a = att0(j);
    CHECK_STR(jstr(a, "upload_id"), upload_id);
    CHECK(jstr(a, "url") && strstr(jstr(a, "url"), "/api/v1/uploads/upl_") &&
          strstr(jstr(a, "url"), "sig="));
    json_object_put(j);
    free(r.body), free(body), free(url);
    json_object_put(m);
}

/* The fake's first request to path, waited for up to 10 s. [borrowed] */
static const struct og_fake_req *wait_req(const char *path)
{
    for (int t = 0; t < 100; t++) {
        for (size_t i = 0; i < og_fake_count(api); i++)
            if (!strcmp(og_fake_get(api, i)->url, path))
                return og_fake_get(api, i);
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* The status of message mid in its channel's session, waited for (10 s). */
static int wait_status(const char *channel, const char *mid, const char *want)
{
    for (int t = 0; t < 100; t++) {
        json_object *m = last_message(channel);
        int ok = m && !strcmp(jstr(m, "id") ? jstr(m, "id") : "", mid) && jstr(m, "status") &&
                 !strcmp(jstr(m, "status"), want);
        json_object_put(m);
        if (ok)
            return 1;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int has_bytes(const struct og_fake_req *q, const void *data, size_t len)
{
    return q && memmem(q->body, q->body_len, data, len) != NULL;
}

static void test_uploads(void)
{
    og_fake_reset(api);
    char id[64], mid[64];
    /* refusals: not multipart, two files, a field we do not take, a type the
     * channel's platform does not take, a file over its cap */
    long st;
    json_object *j = upload("{}", 2, ADMIN "\nContent-Type: application/json", &st);
    CHECK_INT(st, 415);
    json_object_put(j);
    size_t len;
    char *b = form("a.jpg", "image/jpeg", JPEG, sizeof JPEG - 1, NULL, "evil", &len);
    j = upload(b, len, FORM_HDR, &st);
    CHECK_INT(st, 400);
    json_object_put(j), free(b);
    b = form("doc.pdf", "application/pdf", PDF, sizeof PDF - 1, "line", NULL, &len);
    j = upload(b, len, FORM_HDR, &st);
    CHECK_INT(st, 415);
    json_object *err = j ? json_object_object_get(j, "error") : NULL;
    CHECK(err && jstr(err, "message") &&
          strstr(jstr(err, "message"), "does not take application/pdf"));
    json_object_put(j), free(b);
    b = form("a.jpg", "image/jpeg", JPEG, sizeof JPEG - 1, NULL, NULL, &len);
    j = upload(b, len, "Content-Type: multipart/form-data; boundary=XyZb", &st);
    CHECK_INT(st, 401); /* no token */
    json_object_put(j), free(b);
    char big[2000];
    memset(big, 'b', sizeof big);
    b = form("big.bin", "application/octet-stream", big, sizeof big, NULL, NULL, &len);
    j = upload(b, len, FORM_HDR, &st);
    CHECK_INT(st, 413); /* past media.max_file_bytes */
    json_object_put(j), free(b);

    /* Telegram: sendPhoto as multipart, the file itself */
    upload_ok("photo.jpg", "text/html", JPEG, sizeof JPEG - 1, "image/jpeg", id);
    struct got g;
    char *p = og_sprintf("/api/v1/uploads/%s", id);
    g = get(p, ADMIN);
    CHECK_INT(g.status, 200);
    CHECK(g.len == sizeof JPEG - 1 && memcmp(g.body, JPEG, g.len) == 0);
    got_free(&g);
    g = get(p, NULL);
    CHECK_INT(g.status, 401);
    got_free(&g);
    free(p);
    reply_upload("tg", id, mid);
    const struct og_fake_req *q = wait_req("/bot" TG_TOKEN "/sendPhoto");
    CHECK(q != NULL);
    char ct[160];
    CHECK(q && og_fake_header(q, "content-type", ct, sizeof ct) &&
          !strncmp(ct, "multipart/form-data", 19));
    CHECK(has_bytes(q, JPEG, sizeof JPEG - 1));
    CHECK(has_bytes(q, "name=\"photo\"; filename=\"photo.jpg\"", 34));
    CHECK(has_bytes(q, "here it is", 10)); /* the caption */
    CHECK(wait_status("tg", mid, "sent"));
    /* the history's attachment opens the upload */
    p = og_sprintf("/api/v1/messages/%s/attachments/0", mid);
    g = get(p, ADMIN);
    CHECK_INT(g.status, 200);
    CHECK(g.len == sizeof JPEG - 1 && memcmp(g.body, JPEG, g.len) == 0);
    got_free(&g);
    free(p);

    /* WhatsApp: the media upload, then the message by its id */
    upload_ok("scan.pdf", "application/pdf", PDF, sizeof PDF - 1, "application/pdf", id);
    reply_upload("wa", id, mid);
    q = wait_req("/v25.0/106540352242922/media");
    CHECK(has_bytes(q, PDF, sizeof PDF - 1));
    CHECK(has_bytes(q, "whatsapp", 8));
    q = wait_req("/v25.0/106540352242922/messages");
    CHECK(q && strstr(q->body, "\"document\"") && strstr(q->body, "\"id\":\"media-up-1\"") &&
          !strstr(q->body, "\"link\""));
    CHECK(wait_status("wa", mid, "sent"));

    /* LINE has no upload route: the signed public URL, which works without a
     * token */
    upload_ok("pic.png", "image/png", PNG, sizeof PNG - 1, "image/png", id);
    reply_upload("line", id, mid);
    q = wait_req("/v2/bot/message/reply");
    if (!q)
        q = wait_req("/v2/bot/message/push");
    json_object *lb = q ? json_tokener_parse(q->body) : NULL;
    json_object *msgs = lb ? json_object_object_get(lb, "messages") : NULL;
    const char *ocu = NULL;
    for (size_t i = 0; msgs && i < json_object_array_length(msgs); i++) {
        json_object *o = json_object_array_get_idx(msgs, i);
        if (jstr(o, "originalContentUrl"))
            ocu = jstr(o, "originalContentUrl");
    }
    CHECK(ocu && !strncmp(ocu, "https://gw.example/api/v1/uploads/upl_", 38));
    if (ocu) {
        g = get(ocu + strlen("https://gw.example"), NULL);
        CHECK_INT(g.status, 200);
        CHECK(g.len == sizeof PNG - 1 && memcmp(g.body, PNG, g.len) == 0);
        got_free(&g);
    }
    json_object_put(lb);
    CHECK(wait_status("line", mid, "sent"));

    /* Messenger: the Attachment Upload API, then the message by its id */
    upload_ok("cat.png", "image/png", PNG, sizeof PNG - 1, "image/png", id);
    reply_upload("fb", id, mid);
    q = wait_req("/v25.0/110000000000001/message_attachments");
    CHECK(has_bytes(q, PNG, sizeof PNG - 1));
    CHECK(has_bytes(q, "is_reusable", 11));
    CHECK(wait_status("fb", mid, "sent"));
    int by_id = 0;
    for (size_t i = 0; i < og_fake_count(api); i++) {
        const struct og_fake_req *x = og_fake_get(api, i);
        if (strstr(x->url, "/messages") && strstr(x->url, "v25.0/110000000000001") &&
            strstr(x->body, "\"attachment_id\":\"fb-att-1\""))
            by_id = 1;
    }
    CHECK(by_id);

    /* VK: the upload server flow, fed from the media store (the connector's
     * download of the link never leaves the host) */
    upload_ok("vk.jpg", "image/jpeg", JPEG, sizeof JPEG - 1, "image/jpeg", id);
    size_t gw_before = seen("/api/v1/uploads/");
    reply_upload("vk", id, mid);
    q = wait_req("/vk-upload/photo");
    CHECK(has_bytes(q, JPEG, sizeof JPEG - 1));
    q = wait_req("/method/messages.send");
    CHECK(q && strstr(q->body, "photo-199493573_457239100"));
    CHECK(wait_status("vk", mid, "sent"));
    CHECK_INT(seen("/api/v1/uploads/"), gw_before);
}

static void test_unsupported(void)
{
    const char *body = "{\"id\":\"sj-1\",\"from\":{\"id\":\"sj-user\"},\"attachments\":[{\"url\":"
                       "\"https://files.example/a.png\"}]}";
    CHECK_INT(og_test_post_signed(&d, "ex", SJ_SECRET, body, strlen(body)), 200);
    json_object *m = last_message("ex");
    char *p = og_sprintf("/api/v1/messages/%s/attachments/0", m ? jstr(m, "id") : "x");
    struct got g = get(p, ADMIN);
    CHECK_INT(g.status, 501);
    CHECK(strstr(g.body, "\"unsupported\"") && strstr(g.body, "fetch_media"));
    got_free(&g);
    free(p);
    json_object_put(m);
}

int main(void)
{
    api = og_fake_start();
    og_fake_set_handler(api, fake_api, NULL);
    og_fake_add_file(api, "/file/bot" TG_TOKEN "/photos/file_1.jpg", JPEG, sizeof JPEG - 1);
    og_fake_add_file(api, "/file/bot" TG_TOKEN "/documents/file_2.pdf", PDF, sizeof PDF - 1);
    og_fake_add_file(api, "/file/bot" TG_TOKEN "/voice/file_3.oga", OGG, sizeof OGG - 1);
    og_fake_add_file(api, "/fb-cdn/photo.png", PNG, sizeof PNG - 1);
    static char huge[2000];
    memset(huge, 'h', sizeof huge);
    memcpy(huge, "\xFF\xD8\xFF\xE0", 4);
    og_fake_add_file(api, "/fb-cdn/huge.jpg", huge, sizeof huge);
    og_fake_add_file(api, "/vk-cdn/x.jpg", JPEG, sizeof JPEG - 1);
    og_fake_add_file(api, "/v2/bot/message/535883069103014193/content", JPEG, sizeof JPEG - 1);
    og_fake_add_file(api, "/wa-cdn/1003383421387256", JPEG, sizeof JPEG - 1);
    og_fake_add_file(api, "/wa-cdn/2003383421387256", PDF, sizeof PDF - 1);
    og_fake_add_file(api, "/wa-cdn/3003383421387256", OGG, sizeof OGG - 1);
    og_fake_add_file(api, "/fb-cdn/report", PDF, sizeof PDF - 1);
    og_fake_add_file(api, "/fb-cdn/clip", OGG, sizeof OGG - 1);
    og_fake_add_file(api, "/v2/bot/message/535883069103014194/content", PDF, sizeof PDF - 1);
    og_fake_add_file(api, "/v2/bot/message/535883069103014195/content", OGG, sizeof OGG - 1);
    og_fake_add_file(api, "/vk-cdn/report.pdf", PDF, sizeof PDF - 1);
    og_fake_add_file(api, "/vk-cdn/voice.ogg", OGG, sizeof OGG - 1);
    if (og_test_redis_start(&rs) != 0) {
        og_fake_stop(api);
        return 1;
    }
    const char *base = og_fake_base(api);
    char *channels = og_sprintf(
        "[{\"id\":\"tg\",\"connector\":\"telegram\",\"fetch_allow_hosts\":[\"127.0.0.1\"],"
        "\"options\":{\"bot_token\":\"" TG_TOKEN
        "\",\"secret_token\":\"tgs\",\"api_base\":\"%s\"}},"
        "{\"id\":\"wa\",\"connector\":\"whatsapp\",\"fetch_allow_hosts\":[\"127.0.0.1\"],"
        "\"options\":{\"access_token\":\"wa-tok\",\"app_secret\":\"" WA_SECRET "\","
        "\"verify_token\":\"v\",\"phone_number_id\":\"106540352242922\",\"api_base\":\"%s\"}},"
        "{\"id\":\"fb\",\"connector\":\"facebook\",\"fetch_allow_hosts\":[\"127.0.0.1\"],"
        "\"options\":{\"page_access_token\":\"t\",\"app_secret\":\"" FB_SECRET "\","
        "\"verify_token\":\"v\",\"page_id\":\"110000000000001\",\"api_base\":\"%s\"}},"
        "{\"id\":\"fbx\",\"connector\":\"facebook\",\"options\":{\"page_access_token\":\"t\","
        "\"app_secret\":\"" FB_SECRET "x\",\"verify_token\":\"v\",\"page_id\":"
        "\"110000000000001\",\"api_base\":\"%s\"}},"
        "{\"id\":\"line\",\"connector\":\"line\",\"fetch_allow_hosts\":[\"127.0.0.1\"],"
        "\"options\":{\"channel_secret\":\"" LINE_SECRET "\",\"channel_access_token\":"
        "\"line-tok\",\"api_base\":\"%s\",\"api_data_base\":\"%s\"}},"
        "{\"id\":\"vk\",\"connector\":\"vk\",\"fetch_allow_hosts\":[\"127.0.0.1\"],"
        "\"options\":{\"access_token\":\"vk1.a.m\",\"group_id\":199493573,\"confirmation\":"
        "\"c\",\"secret\":\"my_secret\",\"api_base\":\"%s\"}},"
        "{\"id\":\"ex\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SJ_SECRET "\","
        "\"reply_url\":\"%s/sj\"}}]",
        base, base, base, base, base, base, base, base);
    int started = og_test_daemon_start(&d, rs.url, channels,
                                       "\"public_url\":\"https://gw.example\","
                                       "\"media\":{\"max_file_bytes\":1024}");
    free(channels);
    if (started != 0) {
        og_test_redis_stop(&rs);
        og_fake_stop(api);
        return 1;
    }
    test_telegram();
    test_concurrent_first_reads();
    test_whatsapp();
    test_facebook();
    test_line();
    test_vk();
    test_refusals();
    test_uploads();
    test_unsupported();
    /* attachments: the pages (C) carry each customer message as its event (Lua)
     * did */
    CHECK(og_test_messages_agree(&d, rs.port) > 0);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    og_fake_stop(api);
    return og_test_done();
}
