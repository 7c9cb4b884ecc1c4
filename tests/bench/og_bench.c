/* og_bench - see og_bench.h. */
#include "og_bench.h"
#include "og_util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t sz, size_t n, void *ud) { return sz * n; }

struct slot {
    CURL *e;
    struct curl_slist *hl;
    double t0;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void start(CURLM *m, struct slot *s, struct og_bench_req *r)
{
    curl_slist_free_all(s->hl);
    s->hl = NULL;
    for (const char *p = r->headers; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t k = nl ? (size_t)(nl - p) : strlen(p);
        char *h = og_strndup(p, k);
        s->hl = curl_slist_append(s->hl, h);
        free(h);
        p += k + (nl ? 1 : 0);
    }
    s->hl = curl_slist_append(s->hl, "Expect:");
    curl_easy_setopt(s->e, CURLOPT_URL, r->url);
    curl_easy_setopt(s->e, CURLOPT_HTTPHEADER, s->hl);
    curl_easy_setopt(s->e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(s->e, CURLOPT_POSTFIELDSIZE, (long)r->len);
    s->t0 = now_s();
    curl_multi_add_handle(m, s->e);
}

struct og_bench_result og_bench_run(struct og_bench_req *reqs, size_t n, int conns,
                                    double max_seconds)
{
    struct og_bench_result res = {0};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conns);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
    struct slot *slots = og_calloc((size_t)conns, sizeof *slots);
    double *lat = og_calloc(n ? n : 1, sizeof *lat);
    size_t next = 0;
    double t_start = now_s();
    for (int i = 0; i < conns && next < n; i++) {
        slots[i].e = curl_easy_init();
        curl_easy_setopt(slots[i].e, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(slots[i].e, CURLOPT_PRIVATE, &slots[i]);
        curl_easy_setopt(slots[i].e, CURLOPT_TIMEOUT, 30L);
        start(m, &slots[i], &reqs[next++]);
    }
    int running = 1;
    while (running || next < n) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct slot *s;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            lat[res.done++] = (now_s() - s->t0) * 1000.0;
            if (msg->data.result == CURLE_OK && code >= 200 && code < 300)
                res.ok++;
            else
                res.failed++;
            curl_multi_remove_handle(m, s->e);
            if (next < n && now_s() - t_start < max_seconds) {
                start(m, s, &reqs[next++]);
                running = 1;
            }
        }
        if (next >= n || now_s() - t_start >= max_seconds) {
            if (!running)
                break;
        }
        curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    res.seconds = now_s() - t_start;
    res.rps = (double)res.done / res.seconds;
    qsort(lat, res.done, sizeof *lat, cmp_double);
    if (res.done) {
        res.p50_ms = lat[res.done / 2];
        res.p99_ms = lat[(size_t)((double)res.done * 0.99)];
        res.max_ms = lat[res.done - 1];
    }
    for (int i = 0; i < conns; i++) {
        if (slots[i].e)
            curl_easy_cleanup(slots[i].e);
        curl_slist_free_all(slots[i].hl);
    }
    free(slots);
    free(lat);
    curl_multi_cleanup(m);
    return res;
}

void og_bench_print(const char *label, const struct og_bench_result *r)
{
    printf("%-40s %8zu req in %6.2f s = %9.0f req/s   p50 %7.2f ms   p99 %7.2f ms   max %7.2f "
           "ms   failed %zu\n",
           label, r->done, r->seconds, r->rps, r->p50_ms, r->p99_ms, r->max_ms, r->failed);
    fflush(stdout);
}

void og_bench_free(struct og_bench_req *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(reqs[i].url);
        free(reqs[i].headers);
        free(reqs[i].body);
    }
    free(reqs);
}
