/* og_http_client - see og_http_client.h. */
#include "og_http_client.h"
#include "og_fetch.h"
#include "og_util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One cached easy handle per thread (keep-alive connections live in it).
 * Any thread may call out (HTTP pool threads, pollers, workers), and not all
 * of them are ours to clean up, so the handle hangs off a pthread key whose
 * destructor frees it when the thread exits. */
static pthread_key_t curl_key;
static pthread_once_t curl_key_once = PTHREAD_ONCE_INIT;

static void free_handle(void *h)
{
    curl_easy_cleanup(h);
}
static void make_key(void)
{
    pthread_key_create(&curl_key, free_handle);
}

void og_http_client_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_once(&curl_key_once, make_key);
}

void og_http_client_global_cleanup(void)
{
    curl_global_cleanup();
}

void og_http_client_thread_cleanup(void)
{
    pthread_once(&curl_key_once, make_key);
    CURL *c = pthread_getspecific(curl_key);
    if (c) {
        curl_easy_cleanup(c);
        pthread_setspecific(curl_key, NULL);
    }
}

struct sink {
    struct og_buf body;
    struct og_http_result *res;
    size_t limit;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct sink *s = ud;
    if (s->body.len + sz * n > s->limit)
        return 0; /* abort: the answer is larger than we ever accept */
    og_buf_append(&s->body, p, sz * n);
    return sz * n;
}

/* One call on this thread's handle; with a policy, armed with its
 * connect-time check (og_fetch.h). */
static og_err perform(const struct og_http_call *call, const struct og_fetch_policy *policy,
                      struct og_http_result *res, char *loc, size_t loclen)
{
    if (loc && loclen)
        loc[0] = 0;
    memset(res, 0, sizeof *res);
    res->retry_after_ms = -1;
    pthread_once(&curl_key_once, make_key);
    CURL *c = pthread_getspecific(curl_key);
    if (!c) {
        c = curl_easy_init();
        if (!c) {
            snprintf(res->errbuf, sizeof res->errbuf, "curl_easy_init failed");
            return OG_ERR_RETRYABLE;
        }
        pthread_setspecific(curl_key, c);
    }
    curl_easy_reset(c);
    struct sink s = {.res = res, .limit = 64u << 20};
    struct curl_slist *hdrs = NULL;
    curl_mime *mime = NULL;
    char ctbuf[256];

    curl_easy_setopt(c, CURLOPT_URL, call->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, call->timeout_ms > 0 ? call->timeout_ms : 30000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, res->errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "omnigate/0.1");
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    struct og_fetch_guard guard = {0};
    if (policy) {
        og_fetch_guard_arm(c, &guard, policy, call->url);
        s.limit = policy->max_bytes ? policy->max_bytes : OG_FETCH_MAX_BYTES;
    }
    for (const char *const *h = call->headers; h && *h; h++)
        hdrs = curl_slist_append(hdrs, *h);
    if (call->n_parts) {
        mime = curl_mime_init(c);
        for (size_t i = 0; i < call->n_parts; i++) {
            const struct og_http_part *p = &call->parts[i];
            curl_mimepart *mp = curl_mime_addpart(mime);
            curl_mime_name(mp, p->name);
            curl_mime_data(mp, p->data, p->len);
            if (p->filename)
                curl_mime_filename(mp, p->filename);
            if (p->content_type)
                curl_mime_type(mp, p->content_type);
        }
        curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    } else if (call->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
        if (call->content_type) {
            snprintf(ctbuf, sizeof ctbuf, "Content-Type: %s", call->content_type);
            hdrs = curl_slist_append(hdrs, ctbuf);
        }
    }
    if (call->method && strcmp(call->method, "GET") != 0 && strcmp(call->method, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call->method);
    else if (call->method && strcmp(call->method, "POST") == 0 && !call->body && !call->n_parts)
        curl_easy_setopt(c, CURLOPT_POST, 1L), curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

    CURLcode rc = curl_easy_perform(c);
    og_err ret = OG_OK;
    if (rc != CURLE_OK) {
        if (!res->errbuf[0])
            snprintf(res->errbuf, sizeof res->errbuf, "%s", curl_easy_strerror(rc));
        og_buf_free(&s.body);
        res->status = 0;
        ret = OG_ERR_RETRYABLE;
        if (policy && guard.refused > 0 && guard.refused == guard.seen) {
            snprintf(res->errbuf, sizeof res->errbuf, "refused: %.110s", guard.why);
            ret = OG_ERR_FORBIDDEN; /* every address it had is one we never fetch from */
        } else if (policy && (rc == CURLE_FILESIZE_EXCEEDED || rc == CURLE_WRITE_ERROR)) {
            snprintf(res->errbuf, sizeof res->errbuf, "the answer is larger than %zu bytes",
                     s.limit);
            ret = OG_ERR_TOO_LARGE;
        }
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
        /* Retry-After as seconds or an HTTP-date, read by libcurl; 0 = none */
        curl_off_t ra = 0;
        if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
            res->retry_after_ms = ra > 86400 ? 86400000L : (long)ra * 1000;
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        res->content_type = og_strdup(ct);
        char *redir = NULL; /* a 3xx's Location, made absolute by libcurl */
        if (loc && loclen && curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &redir) == CURLE_OK &&
            redir)
            snprintf(loc, loclen, "%s", redir);
        if (!s.body.data)
            og_buf_append(&s.body, "", 0);
        res->body = s.body.data;
        res->body_len = s.body.len;
    }
    /* Detach the per-call state from the cached handle before freeing it. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, NULL);
    curl_slist_free_all(hdrs);
    curl_mime_free(mime);
    return ret;
}

og_err og_http_client_call(const struct og_http_call *call, struct og_http_result *res)
{
    return perform(call, NULL, res, NULL, 0);
}

og_err og_http_client_fetch(const struct og_http_call *call, const struct og_fetch_policy *policy,
                            struct og_http_result *res)
{
    return og_http_client_fetch_loc(call, policy, res, NULL, 0);
}

og_err og_http_client_fetch_loc(const struct og_http_call *call,
                                const struct og_fetch_policy *policy, struct og_http_result *res,
                                char *location, size_t loclen)
{
    if (location && loclen)
        location[0] = 0;
    char why[192];
    og_err e = og_url_check(call->url, policy, why, sizeof why);
    if (e != OG_OK) {
        memset(res, 0, sizeof *res);
        res->retry_after_ms = -1;
        snprintf(res->errbuf, sizeof res->errbuf, "refused: the URL %.100s", why);
        return e == OG_ERR_INVALID ? OG_ERR_INVALID : OG_ERR_FORBIDDEN;
    }
    return perform(call, policy, res, location, loclen);
}

void og_http_result_free(struct og_http_result *res)
{
    if (!res)
        return;
    free(res->body);
    free(res->content_type);
    res->body = res->content_type = NULL;
}
