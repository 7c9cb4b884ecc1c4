/* og_media_s3 - see og_media_s3.h. */
#include "og_media_s3.h"
#include "og_log.h"
#include "og_util.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An error answer is a few hundred bytes of XML: more is not kept. */
#define ERR_BODY_MAX 4096
#define CONNECT_TIMEOUT_MS 5000L
#define TIMEOUT_S 120L

struct og_media_s3 {
    char *base;    /* <endpoint>/<bucket>, no trailing slash */
    char *sigv4;   /* "aws:amz:<region>:s3" */
    char *userpwd; /* access:secret */
    /* the handles share their connections (and DNS): a request reuses an
     * idle connection to the store instead of a new TCP (and TLS)
     * handshake, which is most of a small ranged GET's time */
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h, (void)access;
    struct og_media_s3 *s = ud;
    pthread_mutex_lock(&s->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    struct og_media_s3 *s = ud;
    pthread_mutex_unlock(&s->locks[data]);
}

/* Where a response's body goes: the file when the answer is 200, else a
 * bounded buffer for the error code. */
struct sink {
    CURL *c;
    int fd;             /* -1 = none (then mem, when set) */
    struct og_buf *mem; /* a 200 or 206 answer's body into memory (fd -1) */
    int64_t max, got;
    int too_large;
    char err[ERR_BODY_MAX];
    size_t errlen;
};

static size_t sink_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct sink *k = ud;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(k->c, CURLINFO_RESPONSE_CODE, &status);
    if ((status != 200 && status != 206) || (k->fd < 0 && !k->mem)) {
        size_t room = sizeof k->err - k->errlen;
        size_t take = n < room ? n : room;
        memcpy(k->err + k->errlen, p, take);
        k->errlen += take;
        return n;
    }
    if (k->got + (int64_t)n > k->max) {
        k->too_large = 1;
        return 0; /* aborts the transfer */
    }
    if (k->mem) {
        og_buf_append(k->mem, p, n);
        k->got += (int64_t)n;
        return n;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(k->fd, p + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        off += (size_t)w;
    }
    k->got += (int64_t)n;
    return n;
}

struct source {
    int fd;
    const unsigned char *mem; /* instead of fd when set */
    int64_t off, len;
};

static size_t source_read(char *p, size_t size, size_t nmemb, void *ud)
{
    struct source *r = ud;
    size_t want = size * nmemb;
    if ((int64_t)want > r->len - r->off)
        want = (size_t)(r->len - r->off);
    if (!want)
        return 0;
    if (r->mem) {
        memcpy(p, r->mem + r->off, want);
        r->off += (int64_t)want;
        return want;
    }
    ssize_t n;
    do
        n = pread(r->fd, p, want, (off_t)r->off);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return CURL_READFUNC_ABORT;
    r->off += n;
    return (size_t)n;
}

/* One request on key: method "PUT" (src), "GET" (into k) or "DELETE";
 * header: one more request header (a GET's Range) or NULL. Returns the HTTP
 * status, 0 when the transfer itself failed. */
static long request(struct og_media_s3 *s, const char *method, const char *key, struct source *src,
                    struct sink *k, CURLcode *rcp, const char *header)
{
    *rcp = CURLE_FAILED_INIT;
    CURL *c = curl_easy_init();
    if (!c)
        return 0;
    k->c = c;
    char *url = og_sprintf("%s/%s", s->base, key);
    struct curl_slist *h = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (header)
        h = curl_slist_append(h, header);
    /* no "Expect: 100-continue" round trip (a store that does not answer
     * it would cost a second per PUT of more than 1 MB) */
    if (!strcmp(method, "PUT"))
        h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s->sigv4);
    if (s->share)
        curl_easy_setopt(c, CURLOPT_SHARE, s->share);
    curl_easy_setopt(c, CURLOPT_USERPWD, s->userpwd);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, k);
    if (!strcmp(method, "PUT")) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, source_read);
        curl_easy_setopt(c, CURLOPT_READDATA, src);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)src->len);
    } else if (!strcmp(method, "DELETE")) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    *rcp = rc;
    if (rc != CURLE_OK)
        status = 0;
    free(url);
    return status;
}

struct og_media_s3 *og_media_s3_open(const struct og_media_s3_opts *o, char *err, size_t errlen)
{
    size_t n = strlen(o->endpoint);
    while (n && o->endpoint[n - 1] == '/')
        n--;
    struct og_media_s3 *s = og_calloc(1, sizeof *s);
    s->base = og_sprintf("%.*s/%s", (int)n, o->endpoint, o->bucket);
    s->sigv4 = og_sprintf("aws:amz:%s:s3", o->region && *o->region ? o->region : "us-east-1");
    s->userpwd = og_sprintf("%s:%s", o->access_key, o->secret_key);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&s->locks[i], NULL);
    s->share = curl_share_init();
    if (s->share) {
        curl_share_setopt(s->share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(s->share, CURLSHOPT_USERDATA, s);
        curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    }
    /* the credentials and the bucket are checked now, not at the first file;
     * under a prefix no key has (keys never start with '.'), so the answer
     * is never a truncated listing (s3rver fails those with a 500) */
    struct sink k = {.fd = -1};
    CURLcode rc;
    long status =
        request(s, "GET", "?list-type=2&max-keys=1&prefix=.og-check", NULL, &k, &rc, NULL);
    if (status != 200) {
        char code[64];
        og_media_s3_error_code(k.err, k.errlen, code, sizeof code);
        if (!status)
            snprintf(err, errlen, "media.s3: %s: %s", s->base, curl_easy_strerror(rc));
        else
            snprintf(err, errlen, "media.s3: %s: HTTP %ld %s", s->base, status,
                     code[0] ? code : "(no error code)");
        og_media_s3_close(s);
        return NULL;
    }
    return s;
}

void og_media_s3_close(struct og_media_s3 *s)
{
    if (!s)
        return;
    if (s->share)
        curl_share_cleanup(s->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&s->locks[i]);
    free(s->base);
    free(s->sigv4);
    if (s->userpwd)
        explicit_bzero(s->userpwd, strlen(s->userpwd));
    free(s->userpwd);
    free(s);
}

static void log_refusal(struct og_media_s3 *s, const char *method, const char *key, long status,
                        CURLcode rc, const struct sink *k)
{
    if (!status) {
        og_error("media.s3: %s %s/%s: %s", method, s->base, key, curl_easy_strerror(rc));
        return;
    }
    char code[64];
    og_media_s3_error_code(k->err, k->errlen, code, sizeof code);
    og_error("media.s3: %s %s/%s: HTTP %ld %s", method, s->base, key, status,
             code[0] ? code : "(no error code)");
}

og_err og_media_s3_put(struct og_media_s3 *s, const char *key, int fd, int64_t len)
{
    struct source src = {.fd = fd, .off = 0, .len = len};
    struct sink k = {.fd = -1};
    CURLcode rc;
    long st = request(s, "PUT", key, &src, &k, &rc, NULL);
    if (st == 200)
        return OG_OK;
    log_refusal(s, "PUT", key, st, rc, &k);
    return OG_ERR_UNAVAILABLE;
}

og_err og_media_s3_get(struct og_media_s3 *s, const char *key, int fd, int64_t max_bytes)
{
    struct sink k = {.fd = fd, .max = max_bytes};
    CURLcode rc;
    long st = request(s, "GET", key, NULL, &k, &rc, NULL);
    if (k.too_large)
        return OG_ERR_TOO_LARGE;
    if (st == 200)
        return OG_OK;
    if (st == 404)
        return OG_ERR_NOT_FOUND;
    log_refusal(s, "GET", key, st, rc, &k);
    return OG_ERR_UNAVAILABLE;
}

og_err og_media_s3_put_mem(struct og_media_s3 *s, const char *key, const void *buf, size_t len)
{
    struct source src = {.fd = -1, .mem = buf, .off = 0, .len = (int64_t)len};
    struct sink k = {.fd = -1};
    CURLcode rc;
    long st = request(s, "PUT", key, &src, &k, &rc, NULL);
    if (st == 200)
        return OG_OK;
    log_refusal(s, "PUT", key, st, rc, &k);
    return OG_ERR_UNAVAILABLE;
}

og_err og_media_s3_get_mem(struct og_media_s3 *s, const char *key, int64_t off, int64_t len,
                           int64_t max_bytes, unsigned char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    struct og_buf b = {0};
    struct sink k = {.fd = -1, .mem = &b, .max = len > 0 ? len : max_bytes};
    char range[80] = "";
    if (len > 0)
        snprintf(range, sizeof range, "Range: bytes=%lld-%lld", (long long)off,
                 (long long)(off + len - 1));
    CURLcode rc;
    long st = request(s, "GET", key, NULL, &k, &rc, len > 0 ? range : NULL);
    og_err e = OG_OK;
    if (k.too_large && len > 0 && st == 200) {
        /* a store that ignores Range sends the whole object: more than the
         * range is refused, never sliced from a partial read */
        e = OG_ERR_UNAVAILABLE;
        og_error("media.s3: GET %s/%s: the store ignored the Range header", s->base, key);
    } else if (k.too_large) {
        e = OG_ERR_TOO_LARGE;
    } else if (st == 404) {
        e = OG_ERR_NOT_FOUND;
    } else if (!(len <= 0 ? st == 200
                          : (st == 206 || (st == 200 && off == 0)) && (int64_t)b.len == len)) {
        log_refusal(s, "GET", key, st, rc, &k);
        e = OG_ERR_UNAVAILABLE;
    }
    if (e != OG_OK) {
        og_buf_free(&b);
        return e;
    }
    *out = b.data ? (unsigned char *)b.data : og_calloc(1, 1);
    *outlen = b.len;
    return OG_OK;
}

og_err og_media_s3_delete(struct og_media_s3 *s, const char *key)
{
    struct sink k = {.fd = -1};
    CURLcode rc;
    long st = request(s, "DELETE", key, NULL, &k, &rc, NULL);
    if (st == 204 || st == 200 || st == 404)
        return OG_OK;
    log_refusal(s, "DELETE", key, st, rc, &k);
    return OG_ERR_UNAVAILABLE;
}

void og_media_s3_error_code(const char *body, size_t len, char *out, size_t outsz)
{
    if (!outsz)
        return;
    out[0] = 0;
    if (!body)
        return;
    static const char open[] = "<Code>", close[] = "</Code>";
    const char *b = memmem(body, len, open, sizeof open - 1);
    if (!b)
        return;
    b += sizeof open - 1;
    size_t rest = len - (size_t)(b - body);
    const char *e = memmem(b, rest, close, sizeof close - 1);
    if (!e)
        return;
    size_t o = 0;
    /* a code is letters and digits: anything else is not copied */
    for (const char *p = b; p < e && o + 1 < outsz; p++)
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '.' || *p == '_' || *p == '-')
            out[o++] = *p;
    out[o] = 0;
}
