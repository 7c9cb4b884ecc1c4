/* test_signed_json - the signed_json example connector through the harness.
 *
 * Inbound: signed bodies are fed to handle_http and what the plugin emits is
 * checked field by field; bad signatures, bad JSON, missing fields and a
 * failing store must emit nothing (or stop at once) and answer 401/400/503.
 * Outbound: send() talks to a fake receiver on 127.0.0.1; the test recomputes
 * the request's HMAC with OpenSSL (independently of the host's helper) and
 * checks how every class of answer maps to og_err. Options: the loader's
 * errors name the key path. */
#include "og_http_client.h"
#include "og_log.h"
#include "og_test.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECRET "s3cret-key"

/* "sha256=<lowercase hex HMAC-SHA256(SECRET, body)>", computed with OpenSSL. */
static void sign(const char *secret, const char *body, size_t len, char out[80])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &n);
    strcpy(out, "sha256=");
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
}

/* POSTs body with a correct signature under header name hname. */
static struct og_test_http post_signed_as(struct og_test_conn *c, const char *hname,
                                          const char *body)
{
    char sig[80], headers[256];
    sign(SECRET, body, strlen(body), sig);
    snprintf(headers, sizeof headers, "Content-Type: application/json\n%s: %s\n", hname, sig);
    return og_test_conn_request(c, "POST", "", NULL, headers, body, strlen(body));
}

static struct og_test_http post_signed(struct og_test_conn *c, const char *body)
{
    return post_signed_as(c, "X-Signature", body);
}

static const char *jpath(json_object *o, const char *path)
{
    /* "from.name" style lookup returning a string or NULL. */
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_object *cur = o;
    for (char *seg = strtok(buf, "."); seg && cur; seg = strtok(NULL, ".")) {
        json_object *next = NULL;
        if (json_object_is_type(cur, json_type_array))
            next = json_object_array_get_idx(cur, (size_t)atoi(seg));
        else if (!json_object_object_get_ex(cur, seg, &next))
            next = NULL;
        cur = next;
    }
    return cur && !json_object_is_type(cur, json_type_null) ? json_object_get_string(cur) : NULL;
}

static double jdbl(json_object *o, const char *a, const char *b)
{
    json_object *x = NULL, *y = NULL;
    json_object_object_get_ex(o, a, &x);
    json_object_object_get_ex(x, b, &y);
    return json_object_get_double(y);
}

static char *options(const char *reply_url, const char *extra)
{
    size_t n = strlen(reply_url) + (extra ? strlen(extra) : 0) + 128;
    char *s = malloc(n);
    snprintf(s, n, "{\"secret\":\"" SECRET "\",\"reply_url\":\"%s\"%s%s}", reply_url,
             extra ? "," : "", extra ? extra : "");
    return s;
}

/* ------------------------------------------------------------ inbound */

static const char FULL[] =
    "{\"id\":\"evt-1\",\"from\":{\"id\":\"u1\",\"name\":\"Ann\",\"username\":\"ann\","
    "\"email\":\"ann@example.com\",\"phone\":\"+1555\"},\"thread\":\"t-9\",\"text\":\"hello\","
    "\"reply_to\":\"p-0\",\"attachments\":[{\"url\":\"https://cdn.example.com/a.png\","
    "\"mime_type\":\"image/png\",\"name\":\"a.png\",\"size\":123},"
    "{\"url\":\"https://cdn.example.com/b.pdf\"}],"
    "\"location\":{\"latitude\":1.5,\"longitude\":2.5,"
    "\"name\":\"Cafe\",\"address\":\"Main St 1\"}}";

static void test_full_message(struct og_test_conn *c)
{
    og_test_conn_clear(c);
    struct og_test_http r = post_signed(c, FULL);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.err, OG_OK);
    CHECK_STR(r.body, "{\"ok\":true}");
    CHECK_STR(r.content_type, "application/json");
    CHECK_INT(og_test_conn_messages(c), 1);
    json_object *m = og_test_conn_message(c, 0);
    if (!m)
        return;
    CHECK_STR(jpath(m, "dedup_key"), "evt-1");
    CHECK_STR(jpath(m, "provider_message_id"), "evt-1");
    CHECK_STR(jpath(m, "thread_id"), "t-9");
    CHECK_STR(jpath(m, "from.external_id"), "u1");
    CHECK_STR(jpath(m, "from.name"), "Ann");
    CHECK_STR(jpath(m, "from.username"), "ann");
    CHECK_STR(jpath(m, "from.email"), "ann@example.com");
    CHECK_STR(jpath(m, "from.phone"), "+1555");
    CHECK(jpath(m, "from.avatar_url") == NULL);
    CHECK_STR(jpath(m, "kind"), "image");
    CHECK_STR(jpath(m, "text"), "hello");
    CHECK_STR(jpath(m, "reply_to"), "p-0");
    CHECK_STR(jpath(m, "attachments.0.url"), "https://cdn.example.com/a.png");
    CHECK_STR(jpath(m, "attachments.0.mime_type"), "image/png");
    CHECK_STR(jpath(m, "attachments.0.name"), "a.png");
    CHECK_STR(jpath(m, "attachments.0.size"), "123");
    CHECK_STR(jpath(m, "attachments.1.url"), "https://cdn.example.com/b.pdf");
    CHECK(jpath(m, "attachments.1.mime_type") == NULL);
    CHECK_STR(jpath(m, "attachments.1.size"), "0");
    CHECK(jdbl(m, "location", "latitude") == 1.5);
    CHECK(jdbl(m, "location", "longitude") == 2.5);
    CHECK_STR(jpath(m, "location.name"), "Cafe");
    CHECK_STR(jpath(m, "location.address"), "Main St 1");
    CHECK_STR(jpath(m, "raw"), FULL); /* a single message keeps the body as received */
}

/* The kind comes from the first attachment's MIME type, else a location,
 * else text; a thread defaults to the sender (NULL thread_id). */
static void test_kinds(struct og_test_conn *c)
{
    static const struct {
        const char *body, *kind;
    } cases[] = {
        {"{\"id\":\"k1\",\"from\":{\"id\":\"u1\"},\"text\":\"hi\"}", "text"},
        {"{\"id\":\"k2\",\"from\":{\"id\":\"u1\"},\"attachments\":[{\"url\":\"https://x/v\","
         "\"mime_type\":\"video/mp4\"}]}",
         "video"},
        {"{\"id\":\"k3\",\"from\":{\"id\":\"u1\"},\"attachments\":[{\"url\":\"https://x/a\","
         "\"mime_type\":\"audio/ogg\"}]}",
         "audio"},
        {"{\"id\":\"k4\",\"from\":{\"id\":\"u1\"},\"attachments\":[{\"url\":\"https://x/f\","
         "\"mime_type\":\"application/pdf\"}]}",
         "file"},
        {"{\"id\":\"k5\",\"from\":{\"id\":\"u1\"},\"attachments\":[{\"url\":\"https://x/f\"}]}",
         "file"},
        {"{\"id\":\"k6\",\"from\":{\"id\":\"u1\"},\"location\":{\"latitude\":-33,"
         "\"longitude\":151}}",
         "location"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        og_test_conn_clear(c);
        struct og_test_http r = post_signed(c, cases[i].body);
        CHECK_INT(r.status, 200);
        CHECK_INT(og_test_conn_messages(c), 1);
        json_object *m = og_test_conn_message(c, 0);
        CHECK_STR(m ? jpath(m, "kind") : NULL, cases[i].kind);
        CHECK(m && jpath(m, "thread_id") == NULL);
    }
    og_test_conn_clear(c);
    post_signed(c, cases[5].body);
    json_object *m = og_test_conn_message(c, 0);
    CHECK(m && jdbl(m, "location", "latitude") == -33.0);
    CHECK(m && jdbl(m, "location", "longitude") == 151.0);
}

static void test_batch(struct og_test_conn *c)
{
    og_test_conn_clear(c);
    const char *body =
        "{\"messages\":["
        "{\"id\":\"b1\",\"from\":{\"id\":\"u1\"},\"text\":\"one\"},"
        "{\"id\":\"b2\",\"from\":{\"id\":\"u2\",\"name\":\"Bob\"},\"text\":\"two\"},"
        "{\"id\":\"b3\",\"from\":{\"id\":\"u1\"},\"thread\":\"g\",\"text\":\"three\"}"
        "]}";
    struct og_test_http r = post_signed(c, body);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body, "{\"ok\":true}");
    CHECK_INT(og_test_conn_messages(c), 3);
    static const char *ids[] = {"b1", "b2", "b3"}, *texts[] = {"one", "two", "three"};
    for (size_t i = 0; i < 3 && i < og_test_conn_messages(c); i++) {
        json_object *m = og_test_conn_message(c, i);
        CHECK_STR(jpath(m, "dedup_key"), ids[i]);
        CHECK_STR(jpath(m, "text"), texts[i]);
        /* Each message of a batch keeps its own JSON for audit. */
        const char *raw = jpath(m, "raw");
        CHECK(raw && strstr(raw, ids[i]) && !strstr(raw, "messages"));
    }
    CHECK_STR(jpath(og_test_conn_message(c, 1), "from.name"), "Bob");
    CHECK_STR(jpath(og_test_conn_message(c, 2), "thread_id"), "g");

    /* An empty batch is acknowledged and stores nothing. */
    og_test_conn_clear(c);
    r = post_signed(c, "{\"messages\":[]}");
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(c), 0);
}

static void test_signature(struct og_test_conn *c)
{
    char sig[80], headers[256];
    og_test_conn_clear(c);

    /* Signed with another key. */
    sign("not-the-secret", FULL, strlen(FULL), sig);
    snprintf(headers, sizeof headers, "X-Signature: %s\n", sig);
    struct og_test_http r = og_test_conn_request(c, "POST", "", NULL, headers, FULL, strlen(FULL));
    CHECK_INT(r.status, 401);
    CHECK_INT(r.err, OG_ERR_SIGNATURE);
    CHECK(strstr(r.body, "\"error\"") != NULL);

    /* Right key, body altered after signing. */
    sign(SECRET, FULL, strlen(FULL), sig);
    snprintf(headers, sizeof headers, "X-Signature: %s\n", sig);
    const char *other = "{\"id\":\"evt-2\",\"from\":{\"id\":\"u1\"},\"text\":\"x\"}";
    r = og_test_conn_request(c, "POST", "", NULL, headers, other, strlen(other));
    CHECK_INT(r.status, 401);

    /* The bare hex without "sha256=", and upper-case hex, are not accepted. */
    snprintf(headers, sizeof headers, "X-Signature: %s\n", sig + 7);
    r = og_test_conn_request(c, "POST", "", NULL, headers, FULL, strlen(FULL));
    CHECK_INT(r.status, 401);
    for (char *p = sig + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    snprintf(headers, sizeof headers, "X-Signature: %s\n", sig);
    r = og_test_conn_request(c, "POST", "", NULL, headers, FULL, strlen(FULL));
    CHECK_INT(r.status, 401);

    /* No header at all; an empty one. */
    r = og_test_conn_request(c, "POST", "", NULL, "Content-Type: application/json\n", FULL,
                             strlen(FULL));
    CHECK_INT(r.status, 401);
    CHECK_INT(r.err, OG_ERR_SIGNATURE);
    r = og_test_conn_request(c, "POST", "", NULL, "X-Signature: \n", FULL, strlen(FULL));
    CHECK_INT(r.status, 401);

    /* Header names are case-insensitive. */
    sign(SECRET, FULL, strlen(FULL), sig);
    snprintf(headers, sizeof headers, "x-signature: %s\n", sig);
    r = og_test_conn_request(c, "POST", "", NULL, headers, FULL, strlen(FULL));
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(c), 1);
    og_test_conn_clear(c);

    /* Nothing from the refused requests reached the store. */
    CHECK_INT(og_test_conn_messages(c), 0);
}

static void test_invalid(struct og_test_conn *c)
{
    static const char *bad[] = {
        "{\"id\":\"e\",\"from\":{\"id\":\"u\"},\"text\":\"hi\"",       /* truncated */
        "{\"id\":\"e\",\"from\":{\"id\":\"u\"}} trailing",             /* garbage after */
        "",                                                            /* empty body */
        "[1,2]",                                                       /* not an object */
        "{\"from\":{\"id\":\"u1\"},\"text\":\"no id\"}",               /* missing id */
        "{\"id\":\"\",\"from\":{\"id\":\"u1\"}}",                      /* empty id */
        "{\"id\":7,\"from\":{\"id\":\"u1\"}}",                         /* id not a string */
        "{\"id\":\"e\",\"text\":\"no from\"}",                         /* missing from */
        "{\"id\":\"e\",\"from\":{\"name\":\"Ann\"}}",                  /* missing from.id */
        "{\"id\":\"e\",\"from\":{\"id\":\"u\"},\"text\":5}",           /* text not a string */
        "{\"id\":\"e\",\"from\":{\"id\":\"u\"},\"attachments\":{}}",   /* not an array */
        "{\"id\":\"e\",\"from\":{\"id\":\"u\"},\"attachments\":[{}]}", /* no url */
        "{\"id\":\"e\",\"from\":{\"id\":\"u\"},\"attachments\":[{\"url\":\"u\",\"size\":-1}]}",
        "{\"id\":\"e\",\"from\":{\"id\":\"u\"},\"location\":{\"latitude\":1}}",
        "{\"id\":\"e\",\"from\":{\"id\":\"u\"},\"location\":{\"latitude\":91,\"longitude\":0}}",
        "{\"messages\":{}}",
        /* One bad message spoils the batch: nothing of it is stored. */
        "{\"messages\":[{\"id\":\"ok1\",\"from\":{\"id\":\"u\"}},{\"from\":{\"id\":\"u\"}}]}",
        "{\"messages\":[{\"id\":\"ok1\",\"from\":{\"id\":\"u\"}},42]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        og_test_conn_clear(c);
        struct og_test_http r = post_signed(c, bad[i]);
        if (r.status != 400)
            fprintf(stderr, "case %zu: %s\n", i, bad[i]);
        CHECK_INT(r.status, 400);
        CHECK_INT(r.err, OG_ERR_INVALID);
        CHECK_INT(og_test_conn_messages(c), 0);
        CHECK(strstr(r.body, "\"error\"") != NULL);
    }
    /* Nulls read as absent. */
    og_test_conn_clear(c);
    struct og_test_http r = post_signed(
        c, "{\"id\":\"n\",\"from\":{\"id\":\"u\",\"name\":null},\"text\":\"t\",\"thread\":null,"
           "\"attachments\":null,\"location\":null}");
    CHECK_INT(r.status, 200);
    CHECK_INT(og_test_conn_messages(c), 1);
}

static void test_emit_failure(struct og_test_conn *c)
{
    og_test_conn_clear(c);
    og_test_conn_fail_emits(c, 1, OG_ERR_UNAVAILABLE);
    struct og_test_http r = post_signed(c, FULL);
    CHECK_INT(r.status, 503);
    CHECK_INT(r.err, OG_ERR_UNAVAILABLE);
    CHECK_INT(og_test_conn_messages(c), 0);

    /* A failure stops the batch at once: the two after it are not emitted. */
    og_test_conn_clear(c);
    og_test_conn_fail_emits(c, 1, OG_ERR_UNAVAILABLE);
    r = post_signed(c, "{\"messages\":[{\"id\":\"f1\",\"from\":{\"id\":\"u\"}},"
                       "{\"id\":\"f2\",\"from\":{\"id\":\"u\"}},"
                       "{\"id\":\"f3\",\"from\":{\"id\":\"u\"}}]}");
    CHECK_INT(r.status, 503);
    CHECK_INT(og_test_conn_messages(c), 0);
    og_test_conn_fail_emits(c, 0, OG_OK);
}

static void test_methods(struct og_test_conn *c)
{
    og_test_conn_clear(c);
    struct og_test_http r = og_test_conn_request(c, "GET", "", NULL, NULL, NULL, 0);
    CHECK_INT(r.status, 405);
    CHECK_INT(r.err, OG_OK);
    CHECK_STR(r.content_type, "application/json");
    json_object *j = json_tokener_parse(r.body);
    CHECK(j && jpath(j, "error.code") != NULL);
    json_object_put(j);
    r = og_test_conn_request(c, "PUT", "", NULL, NULL, NULL, 0);
    CHECK_INT(r.status, 405);
    r = og_test_conn_request(c, "POST", "/elsewhere", NULL, NULL, NULL, 0);
    CHECK_INT(r.status, 404);
    CHECK_INT(og_test_conn_messages(c), 0);
}

static void test_custom_header(const char *reply_url)
{
    char *opts = options(reply_url, "\"signature_header\":\"X-Hub-Sig\"");
    struct og_test_conn *c = og_test_conn_open("signed_json", opts);
    free(opts);
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_INT(post_signed(c, FULL).status, 401); /* X-Signature is not ours any more */
    CHECK_INT(post_signed_as(c, "X-Hub-Sig", FULL).status, 200);
    CHECK_INT(og_test_conn_messages(c), 1);
    og_test_conn_close(c);
}

/* ------------------------------------------------------------ outbound */

static og_err do_send(struct og_test_conn *c, const struct og_outbound *m,
                      struct og_send_result *res)
{
    memset(res, 0, sizeof *res);
    res->retry_after_ms = -2;
    return og_test_conn_desc(c)->send(og_test_conn_inst(c), m, res);
}

static void test_send(struct og_test_conn *c, struct og_fake *f)
{
    struct og_attachment atts[] = {
        {.url = "https://cdn.example.com/r.jpg", .mime_type = "image/jpeg", .name = "r.jpg"},
        {.url = "https://cdn.example.com/s.txt"},
    };
    struct og_outbound m = {
        .struct_size = sizeof m,
        .message_id = "msg_01TEST",
        .thread_id = "t-9",
        .contact_external_id = "u1",
        .kind = OG_KIND_IMAGE,
        .text = "hi \"Ann\"",
        .attachments = atts,
        .n_attachments = 2,
        .reply_to_provider_id = "evt-1",
        .last_inbound_age_ms = -1,
    };
    struct og_send_result res;

    /* 200 with the receiver's id. */
    og_fake_reset(f);
    og_fake_push(f, &(struct og_fake_resp){.status = 200, .body = "{\"id\":\"p1\"}"});
    og_err e = do_send(c, &m, &res);
    CHECK_INT(e, OG_OK);
    CHECK_STR(res.provider_message_id, "p1");
    free(res.provider_message_id);
    CHECK_INT(og_fake_count(f), 1);
    const struct og_fake_req *rq = og_fake_get(f, 0);
    if (rq) {
        char buf[256], sig[80];
        CHECK_STR(rq->method, "POST");
        CHECK_STR(rq->url, "/reply");
        CHECK_STR(og_fake_header(rq, "content-type", buf, sizeof buf), "application/json");
        sign(SECRET, rq->body, rq->body_len, sig);
        CHECK_STR(og_fake_header(rq, "x-signature", buf, sizeof buf), sig);
        json_object *b = json_tokener_parse(rq->body);
        CHECK(b != NULL);
        CHECK_STR(jpath(b, "id"), "msg_01TEST");
        CHECK_STR(jpath(b, "to"), "u1");
        CHECK_STR(jpath(b, "thread"), "t-9");
        CHECK_STR(jpath(b, "text"), "hi \"Ann\"");
        CHECK_STR(jpath(b, "reply_to"), "evt-1");
        CHECK_STR(jpath(b, "attachments.0.url"), "https://cdn.example.com/r.jpg");
        CHECK_STR(jpath(b, "attachments.0.mime_type"), "image/jpeg");
        CHECK_STR(jpath(b, "attachments.0.name"), "r.jpg");
        CHECK_STR(jpath(b, "attachments.1.url"), "https://cdn.example.com/s.txt");
        json_object *a1 = json_object_array_get_idx(json_object_object_get(b, "attachments"), 1);
        CHECK(a1 && json_object_object_length(a1) == 1); /* absent fields omitted */
        json_object_put(b);
    }

    /* Absent fields are omitted; no id in the answer -> our own id. */
    struct og_outbound plain = {.struct_size = sizeof plain,
                                .message_id = "msg_02",
                                .contact_external_id = "u1",
                                .text = "plain"};
    og_fake_reset(f);
    og_fake_push(f, &(struct og_fake_resp){.status = 202, .body = "accepted"});
    e = do_send(c, &plain, &res);
    CHECK_INT(e, OG_OK);
    CHECK_STR(res.provider_message_id, "msg_02");
    free(res.provider_message_id);
    rq = og_fake_get(f, 0);
    if (rq) {
        json_object *b = json_tokener_parse(rq->body);
        CHECK(b && json_object_object_length(b) == 3);
        CHECK_STR(jpath(b, "text"), "plain");
        CHECK(jpath(b, "thread") == NULL && jpath(b, "attachments") == NULL &&
              jpath(b, "reply_to") == NULL);
        json_object_put(b);
    }

    /* 429 with Retry-After. */
    og_fake_reset(f);
    og_fake_push(f, &(struct og_fake_resp){.status = 429,
                                           .body = "{\"error\":\"slow down\"}",
                                           .headers = "Retry-After: 7\n"});
    e = do_send(c, &m, &res);
    CHECK_INT(e, OG_ERR_RATE_LIMITED);
    CHECK_INT(res.retry_after_ms, 7000);
    CHECK_STR(res.error_code, "429");
    CHECK_STR(res.error_message, "{\"error\":\"slow down\"}");
    CHECK(res.provider_message_id == NULL);
    /* ... as an HTTP-date (RFC 9110 10.2.3), which the host's client reads
     * through libcurl (CURLINFO_RETRY_AFTER) since #15.10 */
    {
        char date[64], hdr[96];
        time_t at = time(NULL) + 30;
        struct tm tm;
        gmtime_r(&at, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        snprintf(hdr, sizeof hdr, "Retry-After: %s\n", date);
        og_fake_reset(f);
        og_fake_push(f, &(struct og_fake_resp){.status = 429, .body = "{}", .headers = hdr});
        e = do_send(c, &m, &res);
        CHECK_INT(e, OG_ERR_RATE_LIMITED);
        CHECK(res.retry_after_ms >= 27000 && res.retry_after_ms <= 31000);
    }

    static const struct {
        int status;
        og_err want;
    } map[] = {
        {401, OG_ERR_AUTH},      {403, OG_ERR_AUTH},      {500, OG_ERR_RETRYABLE},
        {503, OG_ERR_RETRYABLE}, {408, OG_ERR_RETRYABLE}, {400, OG_ERR_PERMANENT},
        {404, OG_ERR_PERMANENT}, {422, OG_ERR_PERMANENT}, {302, OG_ERR_PERMANENT},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        char code[16];
        og_fake_reset(f);
        og_fake_push(f, &(struct og_fake_resp){.status = map[i].status, .body = "nope"});
        e = do_send(c, &m, &res);
        if (e != map[i].want)
            fprintf(stderr, "status %d -> %s\n", map[i].status, og_strerror(e));
        CHECK_INT(e, map[i].want);
        snprintf(code, sizeof code, "%d", map[i].status);
        CHECK_STR(res.error_code, code);
        CHECK_STR(res.error_message, "nope");
        CHECK_INT(res.retry_after_ms, -1);
        CHECK(res.provider_message_id == NULL);
    }

    /* The error message is the first 200 bytes of the answer. */
    char big[301];
    memset(big, 'x', 300);
    big[300] = 0;
    og_fake_reset(f);
    og_fake_push(f, &(struct og_fake_resp){.status = 400, .body = big});
    e = do_send(c, &m, &res);
    CHECK_INT(e, OG_ERR_PERMANENT);
    CHECK_INT(strlen(res.error_message), 200);
}

static void test_send_refused(void)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/reply", og_test_free_port());
    char *opts = options(url, NULL);
    struct og_test_conn *c = og_test_conn_open("signed_json", opts);
    free(opts);
    CHECK(c != NULL);
    if (!c)
        return;
    struct og_outbound m = {.struct_size = sizeof m,
                            .message_id = "msg_03",
                            .contact_external_id = "u1",
                            .text = "anyone?"};
    struct og_send_result res;
    og_err e = do_send(c, &m, &res);
    CHECK_INT(e, OG_ERR_RETRYABLE);
    CHECK(res.provider_message_id == NULL);
    CHECK(res.error_message[0] != 0);
    og_test_conn_close(c);
}

/* ------------------------------------------------------------ options */

static void test_options(void)
{
    char *e = og_test_conn_open_errors("signed_json", "{\"reply_url\":\"http://127.0.0.1:1/r\"}");
    CHECK(strstr(e, "channels[0].options.secret: required") != NULL);
    free(e);

    e = og_test_conn_open_errors(
        "signed_json", "{\"secret\":\"k\",\"reply_url\":\"http://127.0.0.1:1/r\",\"colour\":1}");
    CHECK(strstr(e, "channels[0].options.colour: unknown option") != NULL);
    free(e);

    e = og_test_conn_open_errors("signed_json", "{\"secret\":\"k\",\"reply_url\":\"ftp://x/\"}");
    CHECK(strstr(e, "channels[0].options.reply_url: must be an http:// or https:// URL") != NULL);
    free(e);

    e = og_test_conn_open_errors("signed_json", "{\"secret\":\"k\"}");
    CHECK(strstr(e, "channels[0].options.reply_url: required") != NULL);
    free(e);

    e = og_test_conn_open_errors("signed_json", "{\"secret\":\"\",\"reply_url\":\"http://a/\"}");
    CHECK(strstr(e, "channels[0].options.secret: required") != NULL);
    free(e);

    /* A header name that could smuggle a second header is refused by create(). */
    e = og_test_conn_open_errors(
        "signed_json",
        "{\"secret\":\"k\",\"reply_url\":\"http://a/\",\"signature_header\":\"X-S: 1\\r\\nX\"}");
    CHECK(strstr(e, "channels[0].options") != NULL && strstr(e, "signature_header") != NULL);
    free(e);

    /* Good options give no error, and the secret is flagged as one. */
    e = og_test_conn_open_errors("signed_json", "{\"secret\":\"k\",\"reply_url\":\"http://a/\"}");
    CHECK_STR(e, "");
    free(e);
}

static void test_descriptor(struct og_test_conn *c)
{
    const struct og_connector *d = og_test_conn_desc(c);
    CHECK_STR(d->name, "signed_json");
    CHECK(d->handle_http != NULL && d->send != NULL && d->poll == NULL);
    int seen = 0;
    for (const struct og_option *o = d->options; o->name; o++) {
        if (strcmp(o->name, "secret") == 0) {
            seen++;
            CHECK(o->flags == (OG_OPT_REQUIRED | OG_OPT_SECRET));
        } else if (strcmp(o->name, "reply_url") == 0) {
            seen++;
            CHECK(o->type == OG_OPT_URL && (o->flags & OG_OPT_REQUIRED));
        } else if (strcmp(o->name, "signature_header") == 0) {
            seen++;
            CHECK_STR(o->def, "X-Signature");
        }
    }
    CHECK_INT(seen, 3);
}

int main(void)
{
    struct og_fake *f = og_fake_start();
    char reply_url[128];
    snprintf(reply_url, sizeof reply_url, "%s/reply", og_fake_base(f));
    char *opts = options(reply_url, NULL);
    struct og_test_conn *c = og_test_conn_open("signed_json", opts);
    free(opts);
    CHECK(c != NULL);
    if (c) {
        test_descriptor(c);
        test_full_message(c);
        test_kinds(c);
        test_batch(c);
        test_signature(c);
        test_invalid(c);
        test_emit_failure(c);
        test_methods(c);
        test_send(c, f);
        og_test_conn_close(c);
    }
    test_custom_header(reply_url);
    test_send_refused();
    test_options();
    og_http_client_thread_cleanup();
    og_fake_stop(f);
    return og_test_done();
}
