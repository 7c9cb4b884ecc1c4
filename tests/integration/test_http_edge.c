/* test_http_edge - the HTTP edge against the daemon and a real redis-server,
 * with raw sockets from several loopback addresses (127.0.0.x), since what
 * is tested is what a well-behaved client never sends (#14.1, #14.12,
 * #14.14, #14.15, #14.16; gateway/og_edge.c, gateway/og_http.c):
 *
 *   framing    two different Content-Length headers, HTTP/1.1 without Host,
 *              Transfer-Encoding "gzip, chunked" and chunked with a length
 *              are refused at once (400, 501), before any body;
 *   413        a body over http.max_body_bytes sent without waiting for
 *              100 Continue is read and dropped, and the 413 arrives whole;
 *   batches    a platform request past http.max_messages_per_request is 413;
 *   proxies    X-Forwarded-For is believed from http.trusted_proxies only,
 *              and the client it names is what allowed_ips and the sign-in
 *              limits see, and what the per-address limit counts;
 *   slow       per-address connection limits at accept, the total time for
 *              headers, the minimum body rate, and the reserve that serves
 *              health checks and platform_ranges when all else is taken.
 *
 * Waits are bounded; the only times asserted are the configured limits,
 * with a generous margin (libmicrohttpd's own timeout is 60 s, so a
 * connection closed within a few seconds was closed by the edge). */
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SECRET "edge-secret-key"

static struct og_test_redis rs;
static struct og_fake *sink;

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *channels_json(void)
{
    return og_sprintf("[{\"id\":\"demo\",\"connector\":\"signed_json\","
                      "\"options\":{\"secret\":\"%s\",\"reply_url\":\"%s/replies\"}}]",
                      SECRET, og_fake_base(sink));
}

/* One raw request from src; the answer's status (0 none, -1 reset) and body. */
static int raw(const struct og_test_daemon *d, const char *src, const char *req, char **body)
{
    int fd = og_test_raw_connect(src, d->port);
    if (fd < 0)
        return -2;
    int st = og_test_raw_send(fd, req, (size_t)-1) == 0 ? og_test_raw_answer(fd, 5000, body) : -1;
    close(fd);
    return st;
}

static int body_has(const char *body, const char *s)
{
    return body && strstr(body, s) != NULL;
}

/* A signed POST /hooks/demo as raw text. [xfer] */
static char *signed_request(const char *body)
{
    char *h = og_test_signed_headers(SECRET, body, strlen(body));
    h[strcspn(h, "\n")] = 0; /* the X-Signature line */
    char *req = og_sprintf("POST /hooks/demo HTTP/1.1\r\nHost: t\r\n%s\r\nContent-Type: "
                           "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                           h, strlen(body), body);
    free(h);
    return req;
}

/* ------------------------------------------------------------- framing */

static void test_framing(const struct og_test_daemon *d)
{
    char *body = NULL;
    /* Two lengths: which one frames the body is anyone's guess. */
    CHECK_INT(raw(d, NULL,
                  "POST /hooks/demo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                  "Content-Length: 50\r\n\r\nhello",
                  &body),
              400);
    CHECK(body_has(body, "two different Content-Length"));
    free(body);
    /* The same length twice is one length. */
    CHECK_INT(raw(d, NULL,
                  "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                  "Content-Length: 2\r\n\r\nab",
                  NULL),
              200);
    CHECK_INT(raw(d, NULL, "GET /healthz HTTP/1.1\r\n\r\n", &body), 400);
    CHECK(body_has(body, "Host"));
    free(body);
    CHECK_INT(raw(d, NULL, "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", NULL), 400);
    CHECK_INT(raw(d, NULL, "GET /healthz HTTP/1.0\r\n\r\n", NULL), 200);
    /* A coding we cannot undo: 501 at once, not a hang until the timeout. */
    int64_t t0 = og_mono_ms();
    CHECK_INT(raw(d, NULL,
                  "POST /hooks/demo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked"
                  "\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                  &body),
              501);
    CHECK(og_mono_ms() - t0 < 4000);
    CHECK(body_has(body, "not_implemented"));
    free(body);
    CHECK_INT(raw(d, NULL,
                  "POST /hooks/demo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                  NULL),
              400);
    /* Chunked alone is fine: a signed message in two chunks. */
    const char *m = "{\"id\":\"chunked-1\",\"from\":{\"id\":\"u-chunk\"},\"text\":\"hi\"}";
    char *h = og_test_signed_headers(SECRET, m, strlen(m));
    h[strcspn(h, "\n")] = 0;
    size_t half = strlen(m) / 2;
    char *req = og_sprintf("POST /hooks/demo HTTP/1.1\r\nHost: t\r\n%s\r\nTransfer-Encoding: "
                           "chunked\r\n\r\n%zx\r\n%.*s\r\n%zx\r\n%s\r\n0\r\n\r\n",
                           h, half, (int)half, m, strlen(m) - half, m + half);
    CHECK_INT(raw(d, NULL, req, NULL), 200);
    free(req), free(h);
}

/* ----------------------------------------------------------------- 413 */

static void test_413(const struct og_test_daemon *d)
{
    /* libcurl without "Expect: 100-continue" (og_test_http), still sending
     * 2 MB when the answer comes: before, the early close reset the
     * connection under it and it saw no answer at all. */
    size_t mb2 = 2u << 20;
    char *huge = og_malloc(mb2);
    memset(huge, 'y', mb2);
    char *url = og_sprintf("%s/hooks/demo", d->base);
    struct og_test_resp r = og_test_http("POST", url, NULL, huge, mb2);
    CHECK_INT(r.status, 413);
    CHECK(body_has(r.body, "payload_too_large"));
    free(r.body), free(url), free(huge);

    /* Headers, then (as a client that does not wait for 100 Continue) the
     * whole body: all of it is taken, and the answer is readable. Before,
     * the server answered and closed after the headers, and the body's
     * sending failed (a reset) halfway. */
    size_t n = 1u << 20;
    char *big = og_malloc(n);
    memset(big, 'x', n);
    int fd = og_test_raw_connect(NULL, d->port);
    char *hdr =
        og_sprintf("POST /hooks/demo HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", n);
    og_test_raw_send(fd, hdr, (size_t)-1);
    nap(300); /* the server has seen the headers (before: it answered and closed here) */
    CHECK_INT(og_test_raw_send(fd, big, n), 0);
    char *body = NULL;
    CHECK_INT(og_test_raw_answer(fd, 5000, &body), 413);
    CHECK(body_has(body, "payload_too_large"));
    free(body);
    close(fd);
    free(hdr);

    /* A client that waits for 100 Continue gets the 413 instead. */
    fd = og_test_raw_connect(NULL, d->port);
    hdr = og_sprintf("POST /hooks/demo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     n);
    og_test_raw_send(fd, hdr, (size_t)-1);
    CHECK_INT(og_test_raw_answer(fd, 5000, NULL), 413);
    close(fd);
    free(hdr);

    /* Chunked: read to its end, then 413. */
    fd = og_test_raw_connect(NULL, d->port);
    og_test_raw_send(fd,
                     "POST /hooks/demo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
                     (size_t)-1);
    for (int i = 0; i < 4; i++) {
        char chunk[32];
        snprintf(chunk, sizeof chunk, "%x\r\n", 5000);
        og_test_raw_send(fd, chunk, (size_t)-1);
        og_test_raw_send(fd, big, 5000);
        og_test_raw_send(fd, "\r\n", 2);
    }
    og_test_raw_send(fd, "0\r\n\r\n", (size_t)-1);
    CHECK_INT(og_test_raw_answer(fd, 5000, NULL), 413);
    close(fd);
    free(big);
}

/* ------------------------------------------------------------- batches */

static void test_batch(const struct og_test_daemon *d)
{
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"messages\":[");
    for (int i = 0; i < 7; i++)
        og_buf_printf(&b, "%s{\"id\":\"batch-%d\",\"from\":{\"id\":\"u-batch\"},\"text\":\"m%d\"}",
                      i ? "," : "", i, i);
    og_buf_puts(&b, "]}");
    char *req = signed_request(b.data), *body = NULL;
    CHECK_INT(raw(d, NULL, req, &body), 413);
    CHECK(body_has(body, "more than 5 messages"));
    free(body), free(req), og_buf_free(&b);
    /* the first five were taken (the message says so), the rest not */
    char *o = og_test_redis_cli(&rs, OG_TEST_BUCKET("HGET") "{og}:th:demo: u-batch");
    char sid[64];
    snprintf(sid, sizeof sid, "%.*s", o ? (int)strcspn(o, "\r\n") : 0, o ? o : "");
    free(o);
    char *path = og_sprintf("/api/v1/sessions/%s/messages?limit=50", sid);
    long st = 0;
    json_object *ms = og_test_api_get(d, path, &st), *items = NULL;
    CHECK_INT(st, 200);
    json_object_object_get_ex(ms, "items", &items);
    CHECK_INT(items ? json_object_array_length(items) : 0, 5);
    json_object_put(ms);
    free(path);
    /* five fit */
    og_buf_puts(&b, "{\"messages\":[");
    for (int i = 0; i < 5; i++)
        og_buf_printf(&b, "%s{\"id\":\"five-%d\",\"from\":{\"id\":\"u-five\"},\"text\":\"m%d\"}",
                      i ? "," : "", i, i);
    og_buf_puts(&b, "]}");
    req = signed_request(b.data);
    CHECK_INT(raw(d, NULL, req, NULL), 200);
    free(req), og_buf_free(&b);
}

/* ------------------------------------------------------------- proxies */

static json_object *api(const struct og_test_daemon *d, const char *method, const char *path,
                        const char *body, long *status)
{
    char *url = og_sprintf("%s/api/v1%s", d->base, path);
    struct og_test_resp r = og_test_http(method, url,
                                         "Authorization: Bearer " OG_TEST_ADMIN_TOKEN
                                         "\nContent-Type: application/json",
                                         body, body ? strlen(body) : 0);
    *status = r.status;
    json_object *j = json_tokener_parse(r.body);
    free(url), free(r.body);
    return j;
}

/* GET /api/v1/agents/me with tok from src with an X-Forwarded-For. */
static int me_from(const struct og_test_daemon *d, const char *src, const char *tok,
                   const char *xff)
{
    char *req = og_sprintf("GET /api/v1/agents/me HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer "
                           "%s\r\nX-Forwarded-For: %s\r\n\r\n",
                           tok, xff);
    int st = raw(d, src, req, NULL);
    free(req);
    return st;
}

static int login_from(const struct og_test_daemon *d, const char *xff, int i)
{
    char *b =
        og_sprintf("{\"email\":\"nobody%d@edge.test\",\"password\":\"wrong-password-%d\"}", i, i);
    char *req =
        og_sprintf("POST /api/v1/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: "
                   "application/json\r\nX-Forwarded-For: %s\r\nContent-Length: %zu\r\n\r\n%s",
                   xff, strlen(b), b);
    int st = raw(d, "127.0.0.7", req, NULL);
    free(req), free(b);
    return st;
}

static void test_proxies(const struct og_test_daemon *d)
{
    long st;
    json_object *j = api(d, "POST", "/agents",
                         "{\"email\":\"proxied@edge.test\",\"name\":\"P\","
                         "\"allowed_ips\":[\"10.1.2.3/32\"]}",
                         &st);
    CHECK_INT(st, 201);
    json_object *t = NULL;
    json_object_object_get_ex(j, "token", &t);
    char tok[96];
    snprintf(tok, sizeof tok, "%s", t ? json_object_get_string(t) : "");
    json_object_put(j);
    /* through the trusted proxy, the client it names is the rightmost
     * untrusted hop: 10.1.2.3 */
    CHECK_INT(me_from(d, "127.0.0.7", tok, "203.0.113.9, 10.1.2.3"), 200);
    CHECK_INT(me_from(d, "127.0.0.7", tok, "10.1.2.3, 10.9.9.9"), 403);
    /* anyone else's header is ignored: the client is the peer */
    CHECK_INT(me_from(d, "127.0.0.8", tok, "10.1.2.3"), 403);

    /* sign-in limits count the forwarded client: 20 failures from one
     * address, then 429 for it, while another address behind the same
     * proxy is still heard */
    int limited = 0;
    for (int i = 0; i < 21 && !limited; i++)
        limited = login_from(d, "10.0.0.1", i) == 429;
    CHECK(limited);
    CHECK_INT(login_from(d, "10.0.0.2", 100), 401);
}

/* ---------------------------------------------------------- slow clients */

/* GET /healthz on fd, kept alive: the status. */
static int healthz_on(int fd)
{
    if (og_test_raw_send(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", (size_t)-1) != 0)
        return -1;
    return og_test_raw_answer(fd, 3000, NULL);
}

/* Open connections the daemon counts, from /metrics. */
static long open_connections(const struct og_test_daemon *d)
{
    char *url = og_sprintf("%s/metrics", d->base);
    struct og_test_resp r = og_test_http("GET", url, NULL, NULL, 0);
    const char *p = strstr(r.body, "omnigate_http_connections{kind=\"all\"} ");
    long n = p ? atol(p + strlen("omnigate_http_connections{kind=\"all\"} ")) : -1;
    free(url), free(r.body);
    return n;
}

/* Waits (up to 5 s) until at most n connections besides /metrics's are open. */
static void settle(const struct og_test_daemon *d, long n)
{
    for (int i = 0; i < 250 && open_connections(d) > n + 1; i++)
        nap(20);
}

static void test_per_address(const struct og_test_daemon *d)
{
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = og_test_raw_connect("127.0.0.2", d->port);
        CHECK_INT(healthz_on(fds[i]), 200);
    }
    /* the fifth from the same address is closed at once */
    int fifth = og_test_raw_connect("127.0.0.2", d->port);
    CHECK(fifth < 0 || og_test_raw_closed(fifth, 2000));
    if (fifth >= 0)
        close(fifth);
    /* the four still work, and another address is not affected */
    CHECK_INT(healthz_on(fds[0]), 200);
    CHECK_INT(raw(d, "127.0.0.9", "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", NULL), 200);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    settle(d, 0);
}

static void test_header_timeout(const struct og_test_daemon *d)
{
    /* one byte every 200 ms: never idle, so libmicrohttpd's 60 s timeout
     * alone would keep it forever */
    int fd = og_test_raw_connect("127.0.0.4", d->port);
    og_test_raw_send(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n", (size_t)-1);
    int64_t t0 = og_mono_ms();
    int closed = 0;
    for (int i = 0; i < 30 && !closed; i++) {
        if (og_test_raw_send(fd, "X", 1) != 0)
            closed = 1;
        else
            closed = og_test_raw_closed(fd, 200);
    }
    int64_t took = og_mono_ms() - t0;
    CHECK(closed);
    CHECK(took >= 800); /* not before http.header_timeout_ms (1000) */
    close(fd);
}

static void test_body_rate(const struct og_test_daemon *d)
{
    /* 50 bytes a second against a minimum of 1000 */
    int fd = og_test_raw_connect("127.0.0.5", d->port);
    og_test_raw_send(fd, "POST /hooks/demo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n",
                     (size_t)-1);
    int closed = 0;
    for (int i = 0; i < 30 && !closed; i++) {
        if (og_test_raw_send(fd, "xxxxxxxxxx", 10) != 0)
            closed = 1;
        else
            closed = og_test_raw_closed(fd, 200);
    }
    CHECK(closed);
    close(fd);
    /* a body at an ordinary pace is fine */
    char *b =
        og_sprintf("{\"id\":\"rate-ok\",\"from\":{\"id\":\"u-rate\"},\"text\":\"%0*d\"}", 3000, 0);
    char *req = signed_request(b);
    CHECK_INT(raw(d, "127.0.0.5", req, NULL), 200);
    free(req), free(b);
}

static void test_reserve(const struct og_test_daemon *d)
{
    settle(d, 0);
    /* 12 idle kept-alive connections take the general pool (16 - 4) */
    int fill[12], nf = 0;
    const char *from[3] = {"127.0.0.10", "127.0.0.11", "127.0.0.12"};
    for (int i = 0; i < 12; i++) {
        fill[nf] = og_test_raw_connect(from[i / 4], d->port);
        if (fill[nf] >= 0 && healthz_on(fill[nf]) == 200)
            nf++;
    }
    CHECK_INT(nf, 12);
    /* from elsewhere, the reserve: health only */
    char *body = NULL;
    CHECK_INT(
        raw(d, "127.0.0.20",
            "GET /api/v1/sessions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " OG_TEST_ADMIN_TOKEN
            "\r\n\r\n",
            &body),
        503);
    CHECK(body_has(body, "overloaded"));
    free(body);
    CHECK_INT(raw(d, "127.0.0.22", "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", NULL), 200);
    CHECK_INT(raw(d, "127.0.0.23", "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n", NULL), 200);
    /* one reserve connection per address, and it may not dawdle */
    int held = og_test_raw_connect("127.0.0.21", d->port);
    nap(100);
    int second = og_test_raw_connect("127.0.0.21", d->port);
    CHECK(second < 0 || og_test_raw_closed(second, 2000));
    if (second >= 0)
        close(second);
    CHECK(og_test_raw_closed(held, 4000)); /* one second to ask, then closed */
    close(held);
    /* the platforms' webhooks get through (127.0.0.1 is in platform_ranges) */
    const char *m = "{\"id\":\"reserve-1\",\"from\":{\"id\":\"u-reserve\"},\"text\":\"hi\"}";
    CHECK_INT(og_test_post_signed(d, "demo", SECRET, m, strlen(m)), 200);
    for (int i = 0; i < nf; i++)
        close(fill[i]);
    settle(d, 0);
}

static void test_proxied_limit(const struct og_test_daemon *d)
{
    /* requests through a trusted proxy count against the client it names:
     * four live event streams for 10.5.5.5, the fifth is 429 */
    const char *fmt =
        "GET /api/v1/events HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " OG_TEST_ADMIN_TOKEN
        "\r\nX-Forwarded-For: %s\r\n\r\n";
    char *req = og_sprintf(fmt, "10.5.5.5");
    int streams[4];
    for (int i = 0; i < 4; i++) {
        streams[i] = og_test_raw_connect("127.0.0.7", d->port);
        og_test_raw_send(streams[i], req, (size_t)-1);
        CHECK_INT(og_test_raw_answer(streams[i], 3000, NULL), 200);
    }
    char *body = NULL;
    CHECK_INT(raw(d, "127.0.0.7", req, &body), 429);
    CHECK(body_has(body, "rate_limited"));
    free(body);
    char *other = og_sprintf(fmt, "10.6.6.6");
    int fd = og_test_raw_connect("127.0.0.7", d->port);
    og_test_raw_send(fd, other, (size_t)-1);
    CHECK_INT(og_test_raw_answer(fd, 3000, NULL), 200);
    close(fd);
    for (int i = 0; i < 4; i++)
        close(streams[i]);
    free(req), free(other);
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    sink = og_fake_start();
    char *chs = channels_json();

    struct og_test_daemon a;
    if (og_test_daemon_start(&a, rs.url, chs,
                             "\"http\":{\"max_body_bytes\":4096,\"max_messages_per_request\":5,"
                             "\"trusted_proxies\":[\"127.0.0.7\"]}") == 0) {
        test_framing(&a);
        test_413(&a);
        test_batch(&a);
        test_proxies(&a);
    } else {
        CHECK(0);
    }
    CHECK_INT(og_test_daemon_stop(&a), 0); /* a clean exit: no crash, no leak under ASan */
    og_test_daemon_free(&a);

    struct og_test_daemon b;
    if (og_test_daemon_start(&b, rs.url, chs,
                             "\"http\":{\"threads\":2,\"max_connections\":16,"
                             "\"reserved_connections\":4,\"per_address_connections\":4,"
                             "\"header_timeout_ms\":1000,\"min_body_bytes_per_s\":1000,"
                             "\"platform_ranges\":[\"127.0.0.1\"],"
                             "\"trusted_proxies\":[\"127.0.0.7\"]}") == 0) {
        test_per_address(&b);
        test_header_timeout(&b);
        test_body_rate(&b);
        test_reserve(&b);
        test_proxied_limit(&b);
    } else {
        CHECK(0);
    }
    CHECK_INT(og_test_daemon_stop(&b), 0);
    og_test_daemon_free(&b);
    free(chs);
    og_fake_stop(sink);
    og_test_redis_stop(&rs);
    return og_test_done();
}
