/* test_static - the pages the daemon serves itself (gateway/og_static.c),
 * against the real daemon and redis-server:
 *   - "/" and "/inbox" redirect (308) to "/inbox/", which is the inbox page
 *     from share/omnigate/www with text/html, a strong ETag, no-cache, nosniff
 *     and a Content-Security-Policy without 'unsafe-inline';
 *   - the ETag revalidates (304 with no body); HEAD has the headers, no body;
 *   - a client that accepts gzip gets the gzip copy (Content-Encoding), one
 *     that does not gets the plain file; both decode to the same bytes;
 *   - ../ traversal, unknown files and POST are refused (404). */
#include "og_test.h"
#include "og_util.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct resp {
    long status;
    struct og_buf body, hdrs;
};

static size_t on_body(char *p, size_t s, size_t n, void *ud)
{
    og_buf_append(&((struct resp *)ud)->body, p, s * n);
    return s * n;
}

static size_t on_hdr(char *p, size_t s, size_t n, void *ud)
{
    og_buf_append(&((struct resp *)ud)->hdrs, p, s * n);
    return s * n;
}

/* method, url, one extra header line or NULL, 1 = let curl decode gzip. */
static struct resp get(const char *method, const char *url, const char *hdr, int decode)
{
    struct resp r = {0};
    CURL *h = curl_easy_init();
    struct curl_slist *l = hdr ? curl_slist_append(NULL, hdr) : NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_hdr);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    if (decode)
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(l);
    curl_easy_cleanup(h);
    og_buf_append(&r.body, "", 0);
    og_buf_append(&r.hdrs, "", 0);
    return r;
}

/* The value of header name in r [xfer], or NULL. */
static char *header(const struct resp *r, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = r->hdrs.data; p && *p;) {
        const char *e = strstr(p, "\r\n");
        if (!e)
            break;
        if ((size_t)(e - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            return og_strndup(v, (size_t)(e - v));
        }
        p = e + 2;
    }
    return NULL;
}

static void resp_free(struct resp *r)
{
    og_buf_free(&r->body);
    og_buf_free(&r->hdrs);
}

int main(void)
{
    struct og_test_redis rs;
    struct og_test_daemon d;
    if (og_test_redis_start(&rs) != 0 || og_test_daemon_start(&d, rs.url, "[]", NULL) != 0)
        return 1;
    char url[160];
    char *file = og_test_read_file(OG_BINARY_DIR "/share/omnigate/www/inbox/index.html", NULL);
    CHECK(file != NULL);

    snprintf(url, sizeof url, "%s/", d.base);
    struct resp r = get("GET", url, NULL, 0);
    CHECK_INT(r.status, 308);
    char *loc = header(&r, "Location");
    CHECK_STR(loc, "/inbox/");
    free(loc);
    resp_free(&r);
    snprintf(url, sizeof url, "%s/inbox", d.base);
    r = get("GET", url, NULL, 0);
    CHECK_INT(r.status, 308);
    loc = header(&r, "Location");
    CHECK_STR(loc, "/inbox/");
    free(loc);
    resp_free(&r);

    snprintf(url, sizeof url, "%s/inbox/", d.base);
    r = get("GET", url, NULL, 0);
    CHECK_INT(r.status, 200);
    CHECK_STR(r.body.data, file ? file : "");
    char *ct = header(&r, "Content-Type"), *etag = header(&r, "ETag");
    char *csp = header(&r, "Content-Security-Policy"), *cc = header(&r, "Cache-Control");
    char *nosniff = header(&r, "X-Content-Type-Options"), *enc = header(&r, "Content-Encoding");
    CHECK_STR(ct, "text/html; charset=utf-8");
    CHECK(etag && strlen(etag) == 34 && etag[0] == '"');
    CHECK(csp && strstr(csp, "script-src 'self'") && !strstr(csp, "unsafe-inline"));
    CHECK_STR(cc, "no-cache");
    CHECK_STR(nosniff, "nosniff");
    CHECK(enc == NULL);
    resp_free(&r);

    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag ? etag : "x");
    r = get("GET", url, inm, 0);
    CHECK_INT(r.status, 304);
    CHECK_INT(r.body.len, 0);
    resp_free(&r);

    r = get("HEAD", url, NULL, 0);
    CHECK_INT(r.status, 200);
    CHECK_INT(r.body.len, 0);
    char *etag2 = header(&r, "ETag");
    CHECK_STR(etag2, etag ? etag : "");
    free(etag2);
    resp_free(&r);

    r = get("GET", url, NULL, 1); /* curl sends Accept-Encoding: gzip and decodes */
    CHECK_INT(r.status, 200);
    char *enc2 = header(&r, "Content-Encoding");
    CHECK_STR(enc2, "gzip");
    CHECK_STR(r.body.data, file ? file : "");
    free(enc2);
    resp_free(&r);

    const char *refused[] = {"/inbox/../inbox/index.html", "/inbox/nosuch.js", "/inbox//"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        snprintf(url, sizeof url, "%s%s", d.base, refused[i]);
        r = get("GET", url, NULL, 0);
        CHECK_INT(r.status, 404);
        resp_free(&r);
    }
    snprintf(url, sizeof url, "%s/inbox/", d.base);
    r = get("POST", url, NULL, 0);
    CHECK_INT(r.status, 404);
    resp_free(&r);

    free(ct), free(etag), free(csp), free(cc), free(nosniff), free(enc), free(file);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    return og_test_done();
}
