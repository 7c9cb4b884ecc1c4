/* test_redis_oom - Redis out of memory is "try later", not a failure (#14.9):
 * with maxmemory below what Redis uses (noeviction), a platform webhook gets
 * 503 with Retry-After (it retries; nothing was acknowledged), the API
 * likewise, and /readyz says 503 with Redis's reason though Redis still
 * answers PING. Once memory is back, /readyz is 200 again and the same
 * webhook is stored. */
#include "og_test.h"
#include "og_util.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define SECRET "oom-secret"

struct resp {
    long status;
    struct og_buf body, hdrs;
};

static size_t on_data(char *p, size_t s, size_t n, void *ud)
{
    og_buf_append(ud, p, s * n);
    return s * n;
}

static struct resp get(const char *url, const char *headers, const char *body)
{
    struct resp r = {0};
    CURL *h = curl_easy_init();
    struct curl_slist *l = NULL;
    char *hs = og_strdup(headers ? headers : "");
    for (char *t = strtok(hs, "\n"); t; t = strtok(NULL, "\n"))
        l = curl_slist_append(l, t);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r.hdrs);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(l);
    curl_easy_cleanup(h);
    free(hs);
    og_buf_append(&r.body, "", 0);
    og_buf_append(&r.hdrs, "", 0);
    return r;
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
    const char *ch =
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]";
    if (og_test_redis_start(&rs) != 0 || og_test_daemon_start(&d, rs.url, ch, NULL) != 0)
        return 1;
    char url[160], hook[160];
    snprintf(url, sizeof url, "%s/readyz", d.base);
    snprintf(hook, sizeof hook, "%s/hooks/demo", d.base);
    const char *body = "{\"id\":\"oom-1\",\"from\":{\"id\":\"u1\"},\"text\":\"hello\"}";
    char *sig = og_test_signed_headers(SECRET, body, strlen(body));

    free(og_test_redis_cli(&rs, "CONFIG SET maxmemory-policy noeviction"));
    free(og_test_redis_cli(&rs, "CONFIG SET maxmemory 1"));
    struct resp r = get(hook, sig, body);
    CHECK_INT(r.status, 503);
    CHECK(strcasestr(r.hdrs.data, "Retry-After: 1") != NULL);
    CHECK(strstr(r.body.data, "unavailable") != NULL);
    resp_free(&r);
    char *n = og_test_redis_cli(
        &rs, "EVAL \"return redis.call('HEXISTS', KEYS[1] .. redis.sha1hex(ARGV[1]):sub(1, 3), "
             "ARGV[1])\" 1 {og}:pm:demo: oom-1");
    CHECK(n && atoi(n) == 0); /* nothing stored, nothing acknowledged */
    free(n);
    char *pong = og_test_redis_cli(&rs, "PING");
    CHECK(pong && strstr(pong, "PONG")); /* Redis answers: only writes are refused */
    free(pong);
    r = get(url, NULL, NULL);
    CHECK_INT(r.status, 503);
    CHECK(strstr(r.body.data, "\"redis\":false") && strstr(r.body.data, "OOM"));
    CHECK(strcasestr(r.hdrs.data, "Retry-After:") != NULL);
    resp_free(&r);
    char api[160];
    snprintf(api, sizeof api, "%s/api/v1/sessions/ses_00000000000000000000000000/messages", d.base);
    r = get(api, "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\nContent-Type: application/json",
            "{\"text\":\"x\"}");
    CHECK(r.status == 503 || r.status == 404); /* a read may pass; a write never 500s */
    CHECK(r.status != 500);
    resp_free(&r);

    free(og_test_redis_cli(&rs, "CONFIG SET maxmemory 0"));
    long st = 0;
    for (int i = 0; i < 50 && st != 200; i++) {
        r = get(url, NULL, NULL);
        st = r.status;
        resp_free(&r);
        if (st != 200)
            usleep(100000);
    }
    CHECK_INT(st, 200);
    r = get(hook, sig, body);
    CHECK_INT(r.status, 200);
    resp_free(&r);
    n = og_test_redis_cli(&rs,
                          "EVAL \"return redis.call('HEXISTS', KEYS[1] .. "
                          "redis.sha1hex(ARGV[1]):sub(1, 3), ARGV[1])\" 1 {og}:pm:demo: oom-1");
    CHECK(n && atoi(n) == 1);
    free(n);
    free(sig);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    return og_test_done();
}
