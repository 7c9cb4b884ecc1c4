/* test_graph - the Graph API library shared by the whatsapp and facebook
 * connectors (connectors/graph), tested directly against the host services
 * table: the GET handshake, the X-Hub-Signature-256 check (signatures are
 * computed here with OpenSSL, independently of the host's helper), the
 * Graph error -> og_err table, the send call against a fake Graph API on
 * 127.0.0.1 (Bearer header, Retry-After, transport failure, bad answers), the
 * 24-hour window check and URL building. */
#include "graph.h"
#include "og_channel.h"
#include "og_http_client.h"
#include "og_test.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

static const struct og_services *svc = &og_services_table;

/* ------------------------------------------------------ request plumbing */

struct kvs {
    const char *const *kv; /* name, value, name, value, ..., NULL */
};

static const char *kv_find(void *ctx, const char *name)
{
    struct kvs *k = ctx;
    for (size_t i = 0; k->kv && k->kv[i]; i += 2)
        if (strcasecmp(k->kv[i], name) == 0)
            return k->kv[i + 1];
    return NULL;
}

/* Runs the handshake for the given query pairs; returns the answer status
 * and copies the body into out. */
static int handshake(const char *const *query, const char *verify, og_err *err, char *out,
                     size_t outsz)
{
    struct kvs q = {query};
    struct og_req_host host = {NULL, kv_find, &q, 0, OG_OK, NULL, NULL, NULL};
    struct og_http_req req = {"GET", "", "", 0, &host};
    struct og_http_resp resp;
    memset(&resp, 0, sizeof resp);
    *err = og_graph_handshake(svc, &req, &resp, verify);
    snprintf(out, outsz, "%s", resp.body ? resp.body : "");
    int st = resp.status;
    if (strcmp(resp.content_type, "text/plain") != 0)
        st = -1;
    og_http_resp_free(&resp);
    return st;
}

static void test_handshake(void)
{
    char body[128];
    og_err e;
    const char *good[] = {"hub.mode",   "subscribe", "hub.verify_token", "tok-123", "hub.challenge",
                          "1158201444", NULL};
    CHECK_INT(handshake(good, "tok-123", &e, body, sizeof body), 200);
    CHECK_INT(e, OG_OK);
    CHECK_STR(body, "1158201444");

    const char *wrong[] = {"hub.mode", "subscribe",     "hub.verify_token",
                           "tok-124",  "hub.challenge", "1158201444",
                           NULL};
    CHECK_INT(handshake(wrong, "tok-123", &e, body, sizeof body), 403);
    CHECK_INT(e, OG_ERR_FORBIDDEN);
    CHECK(strstr(body, "1158201444") == NULL);

    const char *prefix[] = {"hub.mode", "subscribe", "hub.verify_token", "tok-12", "hub.challenge",
                            "x",        NULL};
    CHECK_INT(handshake(prefix, "tok-123", &e, body, sizeof body), 403);
    const char *longer[] = {
        "hub.mode", "subscribe", "hub.verify_token", "tok-1234", "hub.challenge", "x", NULL};
    CHECK_INT(handshake(longer, "tok-123", &e, body, sizeof body), 403);
    const char *mode[] = {"hub.mode", "unsubscribe", "hub.verify_token", "tok-123", "hub.challenge",
                          "x",        NULL};
    CHECK_INT(handshake(mode, "tok-123", &e, body, sizeof body), 403);
    const char *nomode[] = {"hub.verify_token", "tok-123", "hub.challenge", "x", NULL};
    CHECK_INT(handshake(nomode, "tok-123", &e, body, sizeof body), 403);
    const char *notoken[] = {"hub.mode", "subscribe", "hub.challenge", "x", NULL};
    CHECK_INT(handshake(notoken, "tok-123", &e, body, sizeof body), 403);
    const char *nochal[] = {"hub.mode", "subscribe", "hub.verify_token", "tok-123", NULL};
    CHECK_INT(handshake(nochal, "tok-123", &e, body, sizeof body), 403);
    const char *none[] = {NULL};
    CHECK_INT(handshake(none, "tok-123", &e, body, sizeof body), 403);
    /* An empty configured token never matches, not even an empty one. */
    const char *empty[] = {"hub.mode", "subscribe", "hub.verify_token", "", "hub.challenge",
                           "x",        NULL};
    CHECK_INT(handshake(empty, "", &e, body, sizeof body), 403);
}

/* ------------------------------------------------------------ signature */

static void sign(const char *secret, const char *body, size_t len, char out[80])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &n);
    strcpy(out, "sha256=");
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
}

static void test_signature(void)
{
    const char *secret = "app-secret-42";
    const char *body = "{\"object\":\"page\",\"entry\":[{\"x\":\"\\u00e9\"}]}";
    size_t len = strlen(body);
    char sig[80];
    sign(secret, body, len, sig);
    CHECK_INT(og_graph_check_signature(svc, sig, body, len, secret), OG_OK);

    char upper[80];
    strcpy(upper, sig);
    for (char *p = upper + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    CHECK_INT(og_graph_check_signature(svc, upper, body, len, secret), OG_OK);

    char trailing[84];
    snprintf(trailing, sizeof trailing, "%s \r", sig);
    CHECK_INT(og_graph_check_signature(svc, trailing, body, len, secret), OG_OK);

    char flipped[80];
    strcpy(flipped, sig);
    flipped[20] = flipped[20] == '0' ? '1' : '0';
    CHECK_INT(og_graph_check_signature(svc, flipped, body, len, secret), OG_ERR_SIGNATURE);
    /* Right MAC, other body (one byte more, one byte less). */
    CHECK_INT(og_graph_check_signature(svc, sig, body, len - 1, secret), OG_ERR_SIGNATURE);
    /* Other secret. */
    CHECK_INT(og_graph_check_signature(svc, sig, body, len, "app-secret-43"), OG_ERR_SIGNATURE);
    CHECK_INT(og_graph_check_signature(svc, NULL, body, len, secret), OG_ERR_SIGNATURE);
    CHECK_INT(og_graph_check_signature(svc, "", body, len, secret), OG_ERR_SIGNATURE);
    CHECK_INT(og_graph_check_signature(svc, sig + 7, body, len, secret), OG_ERR_SIGNATURE);
    char sha1[80];
    snprintf(sha1, sizeof sha1, "sha1=%s", sig + 7);
    CHECK_INT(og_graph_check_signature(svc, sha1, body, len, secret), OG_ERR_SIGNATURE);
    char shortsig[80];
    snprintf(shortsig, sizeof shortsig, "%.*s", 70, sig);
    CHECK_INT(og_graph_check_signature(svc, shortsig, body, len, secret), OG_ERR_SIGNATURE);
    CHECK_INT(og_graph_check_signature(svc, sig, body, len, ""), OG_ERR_SIGNATURE);
    char empty_sig[80];
    sign(secret, "", 0, empty_sig);
    CHECK_INT(og_graph_check_signature(svc, empty_sig, "", 0, secret), OG_OK);

    /* Through a request: the header name is case-insensitive; the legacy
     * X-Hub-Signature header alone is refused. */
    const char *hdr_ok[] = {"x-hub-signature-256", sig, NULL};
    struct kvs h = {hdr_ok};
    struct og_req_host host = {kv_find, NULL, &h, 0, OG_OK, NULL, NULL, NULL};
    struct og_http_req req = {"POST", "", body, len, &host};
    CHECK_INT(og_graph_verify_request(svc, &req, secret), OG_OK);
    const char *hdr_legacy[] = {"X-Hub-Signature", sha1, NULL};
    h.kv = hdr_legacy;
    CHECK_INT(og_graph_verify_request(svc, &req, secret), OG_ERR_SIGNATURE);
}

/* ---------------------------------------------------------- error table */

static void test_map_table(void)
{
    static const struct {
        long http;
        int64_t code, sub;
        og_err want;
    } rows[] = {
        {401, 190, -1, OG_ERR_AUTH},
        {400, 190, 463, OG_ERR_AUTH},
        {403, 4, -1, OG_ERR_RATE_LIMITED},
        {400, 80007, -1, OG_ERR_RATE_LIMITED},
        {400, 130429, 2494055, OG_ERR_RATE_LIMITED},
        {400, 613, -1, OG_ERR_RATE_LIMITED},
        {400, 131047, -1, OG_ERR_WINDOW_CLOSED},
        {400, 10, 2018278, OG_ERR_WINDOW_CLOSED},
        {403, 10, -1, OG_ERR_PERMANENT},
        {403, 10, 2018065, OG_ERR_PERMANENT},
        {500, 2, -1, OG_ERR_RETRYABLE},
        {400, 2, -1, OG_ERR_RETRYABLE},
        {500, 1, -1, OG_ERR_RETRYABLE},
        {503, -1, -1, OG_ERR_RETRYABLE},
        {502, 100, -1, OG_ERR_RETRYABLE},
        {400, 100, 2018001, OG_ERR_PERMANENT},
        {400, 131026, -1, OG_ERR_PERMANENT},
        {400, 131051, -1, OG_ERR_PERMANENT},
        {400, 551, -1, OG_ERR_PERMANENT},
        {403, 200, -1, OG_ERR_PERMANENT},
        {400, 368, -1, OG_ERR_PERMANENT},
        {401, -1, -1, OG_ERR_AUTH},
        {429, -1, -1, OG_ERR_RATE_LIMITED},
        {404, -1, -1, OG_ERR_PERMANENT},
        {302, -1, -1, OG_ERR_PERMANENT},
        {429, 131056, -1, OG_ERR_PERMANENT},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        og_err got = og_graph_map_error(rows[i].http, rows[i].code, rows[i].sub);
        if (got != rows[i].want)
            fprintf(stderr, "row %zu: HTTP %ld code %lld sub %lld -> %d, want %d\n", i,
                    rows[i].http, (long long)rows[i].code, (long long)rows[i].sub, got,
                    rows[i].want);
        CHECK_INT(got, rows[i].want);
    }
}

static void test_error_result(void)
{
    struct og_send_result res;
    char body[] =
        "{\"error\":{\"message\":\"(#130429) Rate limit hit\",\"type\":\"OAuthException\","
        "\"code\":130429,\"error_data\":{\"messaging_product\":\"whatsapp\"},"
        "\"error_subcode\":2494055,\"fbtrace_id\":\"Az8or2yhqkZfEZ-_4Qn_Bam\"}}";
    struct og_http_result r;
    memset(&r, 0, sizeof r);
    r.status = 400;
    r.body = body;
    r.body_len = strlen(body);
    r.retry_after_ms = 3000;
    memset(&res, 0, sizeof res);
    CHECK_INT(og_graph_error_result(svc, &r, &res), OG_ERR_RATE_LIMITED);
    CHECK_STR(res.error_code, "130429");
    CHECK_STR(res.error_message, "(#130429) Rate limit hit");
    CHECK_INT(res.retry_after_ms, 3000);

    char fb[] = "{\"error\":{\"message\":\"This message is sent outside of allowed window.\","
                "\"type\":\"OAuthException\",\"code\":10,\"error_subcode\":2018278,"
                "\"fbtrace_id\":\"BLBz/WZt8dN\"}}";
    r.body = fb;
    r.body_len = strlen(fb);
    memset(&res, 0, sizeof res);
    CHECK_INT(og_graph_error_result(svc, &r, &res), OG_ERR_WINDOW_CLOSED);
    CHECK_STR(res.error_code, "10");
    CHECK_INT(res.retry_after_ms, -1);

    char html[] = "<html>Bad Gateway</html>";
    r.status = 502;
    r.body = html;
    r.body_len = strlen(html);
    memset(&res, 0, sizeof res);
    CHECK_INT(og_graph_error_result(svc, &r, &res), OG_ERR_RETRYABLE);
    CHECK_STR(res.error_code, "http_502");

    /* Codes sent as strings are understood too. */
    char strcode[] = "{\"error\":{\"message\":\"Invalid OAuth access token.\",\"code\":\"190\"}}";
    r.status = 400;
    r.body = strcode;
    r.body_len = strlen(strcode);
    memset(&res, 0, sizeof res);
    CHECK_INT(og_graph_error_result(svc, &r, &res), OG_ERR_AUTH);
    CHECK_STR(res.error_message, "Invalid OAuth access token.");

    r.body = NULL;
    r.body_len = 0;
    r.status = 400;
    memset(&res, 0, sizeof res);
    CHECK_INT(og_graph_error_result(svc, &r, &res), OG_ERR_PERMANENT);
    CHECK_STR(res.error_code, "http_400");
}

/* ------------------------------------------------------------ the post */

static og_err post_to(const char *url, struct og_json **reply, struct og_send_result *res)
{
    struct og_json *b = svc->json->new_object();
    svc->json->set(b, "to", svc->json->new_string("16505551234"));
    memset(res, 0, sizeof *res);
    og_err e = og_graph_post(svc, NULL, url, "TOKEN-xyz", b, reply, res);
    svc->json->put(b);
    return e;
}

static void test_post(void)
{
    struct og_fake *f = og_fake_start();
    char *url = og_graph_url(svc, og_fake_base(f), "v25.0", "106540352242922", "messages");
    struct og_json *reply = NULL;
    struct og_send_result res;

    struct og_fake_resp ok = {200, "{\"messages\":[{\"id\":\"wamid.X\"}]}", NULL, NULL, 0};
    og_fake_push(f, &ok);
    CHECK_INT(post_to(url, &reply, &res), OG_OK);
    CHECK(reply != NULL);
    CHECK_STR(svc->json->str(svc->json->find(reply, "messages.0.id")), "wamid.X");
    svc->json->put(reply);
    CHECK_INT(og_fake_count(f), 1);
    const struct og_fake_req *rq = og_fake_get(f, 0);
    char buf[256];
    CHECK_STR(rq->method, "POST");
    CHECK_STR(rq->url, "/v25.0/106540352242922/messages");
    CHECK_STR(og_fake_header(rq, "authorization", buf, sizeof buf), "Bearer TOKEN-xyz");
    CHECK(strstr(og_fake_header(rq, "content-type", buf, sizeof buf), "application/json"));
    CHECK_STR(rq->body, "{\"to\":\"16505551234\"}");

    struct og_fake_resp rl = {429,
                              "{\"error\":{\"message\":\"(#4) Application request limit "
                              "reached\",\"code\":4,\"fbtrace_id\":\"x\"}}",
                              NULL, "Retry-After: 7\n", 0};
    og_fake_push(f, &rl);
    CHECK_INT(post_to(url, &reply, &res), OG_ERR_RATE_LIMITED);
    CHECK(reply == NULL);
    CHECK_INT(res.retry_after_ms, 7000);
    CHECK_STR(res.error_code, "4");

    struct og_fake_resp rl2 = {400,
                               "{\"error\":{\"message\":\"(#613) Calls to this api have "
                               "exceeded the rate limit.\",\"code\":613}}",
                               NULL, NULL, 0};
    og_fake_push(f, &rl2);
    CHECK_INT(post_to(url, &reply, &res), OG_ERR_RATE_LIMITED);
    CHECK_INT(res.retry_after_ms, -1);

    struct og_fake_resp notjson = {200, "<html>ok</html>", "text/html", NULL, 0};
    og_fake_push(f, &notjson);
    CHECK_INT(post_to(url, &reply, &res), OG_ERR_PERMANENT);
    CHECK(reply == NULL);

    struct og_fake_resp redirect = {302, "", NULL, "Location: https://elsewhere.example/\n", 0};
    og_fake_push(f, &redirect);
    CHECK_INT(post_to(url, &reply, &res), OG_ERR_PERMANENT);
    CHECK_INT(og_fake_count(f), 5); /* the redirect was not followed */

    og_fake_stop(f);
    /* Nobody listens any more: a transport failure is retryable. */
    CHECK_INT(post_to(url, &reply, &res), OG_ERR_RETRYABLE);
    CHECK_STR(res.error_code, "transport");
    svc->free(url);
}

/* ------------------------------------------------------ window and url */

static void test_window(void)
{
    struct og_outbound m;
    struct og_send_result res;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    int64_t h = 3600 * 1000LL;
    struct {
        int64_t age;
        og_err want;
    } rows[] = {{-1, OG_ERR_WINDOW_CLOSED},
                {0, OG_OK},
                {h, OG_OK},
                {24 * h, OG_OK},
                {24 * h + 1, OG_ERR_WINDOW_CLOSED},
                {25 * h, OG_ERR_WINDOW_CLOSED},
                {-5, OG_ERR_WINDOW_CLOSED}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        memset(&res, 0, sizeof res);
        m.last_inbound_age_ms = rows[i].age;
        CHECK_INT(og_graph_window_check(&m, &res), rows[i].want);
        if (rows[i].want == OG_ERR_WINDOW_CLOSED)
            CHECK_STR(res.error_code, "window_closed");
    }
}

static void test_url(void)
{
    char *u = og_graph_url(svc, "https://graph.facebook.com/", "v25.0", "123", "messages");
    CHECK_STR(u, "https://graph.facebook.com/v25.0/123/messages");
    svc->free(u);
    u = og_graph_url(svc, "http://127.0.0.1:9", "v1.0", "me", "messages");
    CHECK_STR(u, "http://127.0.0.1:9/v1.0/me/messages");
    svc->free(u);
    CHECK_INT(og_graph_json_i64(svc->json, NULL, -7), -7);
    const char *arr = "[\"1749416383\",12,\"x1\",1.5e3,1e300,\"99999999999999999999\"]";
    struct og_json *j = svc->json->parse(arr, strlen(arr));
    CHECK_INT(og_graph_json_i64(svc->json, svc->json->at(j, 0), 0), 1749416383LL);
    CHECK_INT(og_graph_json_i64(svc->json, svc->json->at(j, 1), 0), 12);
    CHECK_INT(og_graph_json_i64(svc->json, svc->json->at(j, 2), -1), -1);
    CHECK_INT(og_graph_json_i64(svc->json, svc->json->at(j, 3), 0), 1500);
    CHECK_INT(og_graph_json_i64(svc->json, svc->json->at(j, 4), -2), -2);
    CHECK_INT(og_graph_json_i64(svc->json, svc->json->at(j, 5), -3), -3);
    svc->json->put(j);
}

int main(void)
{
    og_http_client_global_init();
    test_handshake();
    test_signature();
    test_map_table();
    test_error_result();
    test_post();
    test_window();
    test_url();
    og_http_client_thread_cleanup();
    og_http_client_global_cleanup();
    return og_test_done();
}
