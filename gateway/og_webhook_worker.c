/* og_webhook_worker - the webhook dispatcher: one thread that reads
 * {og}:events through the consumer group "webhooks", fans entries out to the
 * subscriptions' per-session queues, claims due queues and POSTs their head
 * event over libcurl multi (up to webhook_dispatch.concurrency transfers,
 * keep-alive connections), and reports each attempt back (core/og_webhooks.h
 * describes the Redis side; core/lua/webhook_*.lua the scripts).
 *
 * At-least-once: an entry is acknowledged only when every matching
 * subscription got a 2xx or dead-lettered it. Entries that an instance read
 * but never queued (it died in between) are taken over with XAUTOCLAIM after
 * claim_idle_ms; queues it had claimed fall due again when their lease
 * (the attempt timeout + 5 s) runs out. So kill -9 loses nothing; it may
 * deliver an event twice (same webhook-id), which consumers de-duplicate.
 *
 * Redis: the blocking XREADGROUP goes through the shared pool with BLOCK
 * 100 ms, well under the pool's 2 s socket timeout (TOOLCHAIN.md), and only
 * when no transfer is running; otherwise every call is non-blocking. */
#include "og_api.h"
#include "og_gateway.h"
#include "og_log.h"
#include "og_util.h"
#include "og_webhooks.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define BATCH 512
#define LEASE_MARGIN_MS 5000

struct xfer {
    CURL *easy;                 /* owned, reused for the slot's next attempt */
    struct curl_slist *hdrs;    /* owned while busy */
    int busy;
    char *member, *sub, *head, *eid, *etype; /* owned while busy */
    char *body;                 /* owned while busy: the event JSON */
    int tries;                  /* failed attempts before this one */
    int64_t start_ms;
    long retry_after_s;         /* from a Retry-After header, -1 = none */
    char err[CURL_ERROR_SIZE];
};

struct og_webhook_dispatch {
    struct og_gateway *g;       /* [borrowed] */
    struct og_webhooks *w;      /* [borrowed] g->webhooks */
    pthread_t th;
    atomic_int stop;
    int concurrency;
    int64_t claim_idle_ms;
    char consumer[64];
    struct og_webhook_sub *subs; /* cache, dispatcher thread only */
    size_t n_subs;
    long long ver;
    int64_t ver_checked_ms, last_autoclaim_ms, last_read_ms;
    char autoclaim_cursor[48];
    int ready;                  /* group created and config synced */
    int draining;               /* stopping: report results, claim nothing */
    CURLM *multi;
    struct xfer *x;             /* [concurrency] */
    int inflight;
    /* Results waiting for the next webhook_result call: 7 strings each. */
    char **res;
    size_t n_res, cap_res;
};

/* ------------------------------------------------------------ helpers */

static const struct og_webhook_sub *find_sub(struct og_webhook_dispatch *d, const char *id)
{
    for (size_t i = 0; i < d->n_subs; i++)
        if (strcmp(d->subs[i].id, id) == 0)
            return &d->subs[i];
    return NULL;
}

static int64_t max_timeout_ms(struct og_webhook_dispatch *d)
{
    int64_t m = 1000;
    for (size_t i = 0; i < d->n_subs; i++)
        if (d->subs[i].timeout_ms > m)
            m = d->subs[i].timeout_ms;
    return m;
}

/* Reloads the subscriptions when their version changed (checked at most
 * every 250 ms, or now when force). */
static void refresh_subs(struct og_webhook_dispatch *d, int force)
{
    int64_t now = og_mono_ms();
    if (!force && now - d->ver_checked_ms < 250)
        return;
    d->ver_checked_ms = now;
    long long ver = 0;
    if (og_webhooks_version(d->w, &ver) != OG_OK || (!force && ver == d->ver))
        return;
    struct og_webhook_sub *subs = NULL;
    size_t n = 0;
    if (og_webhooks_load(d->w, &subs, &n) != OG_OK)
        return;
    og_webhook_subs_free(d->subs, d->n_subs);
    d->subs = subs;
    d->n_subs = n;
    d->ver = ver;
}

/* Creates the group and stores the config's subscriptions; retried by the
 * loop until Redis answers. */
static int setup(struct og_webhook_dispatch *d)
{
    struct og_core *c = d->g->core;
    redisReply *r = NULL;
    if (og_redis_cmd(c->redis, &r, "XGROUP CREATE %s:events %s $ MKSTREAM", c->tag,
                     OG_WEBHOOK_GROUP) != OG_OK)
        return -1;
    int ok = r->type != REDIS_REPLY_ERROR || strstr(r->str, "BUSYGROUP") != NULL;
    if (!ok)
        og_error("webhooks: XGROUP CREATE: %s", r->str);
    freeReplyObject(r);
    if (!ok)
        return -1;
    const struct og_config *cfg = d->g->cfg;
    struct og_webhook_sub *subs = cfg->n_webhooks ? og_calloc(cfg->n_webhooks, sizeof *subs) : NULL;
    char now[32];
    og_time_rfc3339(og_now_ms(), now);
    for (size_t i = 0; i < cfg->n_webhooks; i++) {
        subs[i] = cfg->webhooks[i]; /* shallow: only the times are ours */
        struct og_webhook_sub old;
        int had = og_webhooks_get(d->w, subs[i].id, &old) == OG_OK;
        subs[i].created_at = og_strdup(had && old.created_at ? old.created_at : now);
        subs[i].updated_at = og_strdup(now);
        if (had)
            og_webhook_sub_clear(&old);
    }
    og_err e = og_webhooks_sync_config(d->w, subs, cfg->n_webhooks);
    for (size_t i = 0; i < cfg->n_webhooks; i++) {
        free(subs[i].created_at);
        free(subs[i].updated_at);
    }
    free(subs);
    if (e != OG_OK)
        return -1;
    refresh_subs(d, 1);
    og_info("webhooks: dispatcher %s ready (%zu subscription%s, %d parallel)", d->consumer,
            d->n_subs, d->n_subs == 1 ? "" : "s", d->concurrency);
    return 0;
}

static const char *field(redisReply *f, const char *name)
{
    for (size_t k = 0; f && f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2)
        if (f->element[k]->type == REDIS_REPLY_STRING && strcmp(f->element[k]->str, name) == 0)
            return f->element[k + 1]->str;
    return NULL;
}

/* Queues an array of stream entries [[id, [f, v, ...]], ...] for the
 * subscriptions that want them (one script call). */
static void enqueue_entries(struct og_webhook_dispatch *d, redisReply *entries)
{
    if (!entries || entries->type != REDIS_REPLY_ARRAY || entries->elements == 0)
        return;
    size_t cap = 3 + entries->elements * (3 + d->n_subs);
    const char **argv = og_calloc(cap, sizeof *argv);
    char **nbufs = og_calloc(entries->elements, sizeof *nbufs);
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)og_now_ms());
    argv[0] = d->g->core->tag, argv[1] = OG_WEBHOOK_GROUP, argv[2] = now;
    size_t argc = 3;
    for (size_t i = 0; i < entries->elements; i++) {
        redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2)
            continue;
        const char *type = field(e->element[1], "type");
        const char *ses = field(e->element[1], "session");
        argv[argc++] = e->element[0]->str;
        argv[argc++] = ses ? ses : "";
        size_t nat = argc++;
        int n = 0;
        for (size_t s = 0; type && s < d->n_subs; s++) {
            if (og_webhook_sub_active(&d->subs[s]) && og_webhook_sub_matches(&d->subs[s], type)) {
                argv[argc++] = d->subs[s].id;
                n++;
            }
        }
        nbufs[i] = og_sprintf("%d", n);
        argv[nat] = nbufs[i];
    }
    size_t *lens = og_calloc(argc, sizeof *lens);
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = NULL;
    if (og_webhooks_eval(d->w, d->w->enqueue, (int)argc, argv, lens, &r) == OG_OK) {
        if (r->type == REDIS_REPLY_ERROR)
            og_error("webhooks: enqueue: %s", r->str);
        freeReplyObject(r);
    }
    for (size_t i = 0; i < entries->elements; i++)
        free(nbufs[i]);
    free(nbufs), free(lens), free(argv);
}

/* Reads new entries; blocks up to block_ms when > 0. Returns how many. */
static size_t read_new(struct og_webhook_dispatch *d, int block_ms)
{
    struct og_core *c = d->g->core;
    redisReply *r = NULL;
    og_err e = block_ms > 0
                   ? og_redis_cmd(c->redis, &r,
                                  "XREADGROUP GROUP %s %s COUNT %d BLOCK %d STREAMS %s:events >",
                                  OG_WEBHOOK_GROUP, d->consumer, BATCH, block_ms, c->tag)
                   : og_redis_cmd(c->redis, &r,
                                  "XREADGROUP GROUP %s %s COUNT %d STREAMS %s:events >",
                                  OG_WEBHOOK_GROUP, d->consumer, BATCH, c->tag);
    if (e != OG_OK)
        return 0;
    size_t n = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        if (strstr(r->str, "NOGROUP"))
            d->ready = 0; /* the stream was deleted: create the group again */
        else
            og_error("webhooks: XREADGROUP: %s", r->str);
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        redisReply *entries = r->element[0]->element[1];
        n = entries->elements;
        enqueue_entries(d, entries);
    }
    freeReplyObject(r);
    return n;
}

/* Takes over entries another consumer (a dead instance) read but never
 * queued or acknowledged, one page per call. */
static void autoclaim(struct og_webhook_dispatch *d)
{
    int64_t now = og_mono_ms();
    int64_t every = d->claim_idle_ms / 4 > 100 ? d->claim_idle_ms / 4 : 100;
    if (now - d->last_autoclaim_ms < every)
        return;
    d->last_autoclaim_ms = now;
    struct og_core *c = d->g->core;
    redisReply *r = NULL;
    if (og_redis_cmd(c->redis, &r, "XAUTOCLAIM %s:events %s %s %lld %s COUNT %d", c->tag,
                     OG_WEBHOOK_GROUP, d->consumer, (long long)d->claim_idle_ms,
                     d->autoclaim_cursor, BATCH) != OG_OK)
        return;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
        snprintf(d->autoclaim_cursor, sizeof d->autoclaim_cursor, "%s", r->element[0]->str);
        if (r->element[1]->elements)
            og_debug("webhooks: claimed %zu idle entries", r->element[1]->elements);
        enqueue_entries(d, r->element[1]);
    } else if (r->type == REDIS_REPLY_ERROR) {
        og_error("webhooks: XAUTOCLAIM: %s", r->str);
        snprintf(d->autoclaim_cursor, sizeof d->autoclaim_cursor, "0-0");
    }
    freeReplyObject(r);
}

/* ------------------------------------------------------------ results */

static void push_result(struct og_webhook_dispatch *d, const char *member, const char *sub,
                        const char *head, const char *outcome, int64_t next_due_ms,
                        const char *eid, char *attempt /* [xfer] or NULL */)
{
    if (d->n_res + 7 > d->cap_res) {
        d->cap_res = d->cap_res ? d->cap_res * 2 : 7 * 64;
        d->res = og_realloc(d->res, d->cap_res * sizeof *d->res);
    }
    d->res[d->n_res++] = og_strdup(member);
    d->res[d->n_res++] = og_strdup(sub);
    d->res[d->n_res++] = og_strdup(head);
    d->res[d->n_res++] = og_strdup(outcome);
    d->res[d->n_res++] = og_sprintf("%lld", (long long)next_due_ms);
    d->res[d->n_res++] = og_strdup(eid ? eid : "");
    d->res[d->n_res++] = attempt ? attempt : og_strdup("");
}

static char *attempt_json(const char *eid, const char *etype, int attempt, const char *status,
                          long code, int64_t latency_ms, const char *error, int64_t next_ms)
{
    struct og_buf b = {0};
    char at[32], nx[32];
    og_time_rfc3339(og_now_ms(), at);
    og_buf_puts(&b, "{\"event_id\":");
    og_buf_json_str(&b, eid && *eid ? eid : NULL);
    og_buf_puts(&b, ",\"type\":");
    og_buf_json_str(&b, etype && *etype ? etype : NULL);
    og_buf_printf(&b, ",\"attempt\":%d,\"status\":\"%s\",\"status_code\":", attempt, status);
    if (code > 0)
        og_buf_printf(&b, "%ld", code);
    else
        og_buf_puts(&b, "null");
    og_buf_printf(&b, ",\"latency_ms\":%lld,\"error\":", (long long)latency_ms);
    og_buf_json_str(&b, error && *error ? error : NULL);
    og_buf_printf(&b, ",\"at\":\"%s\",\"next_attempt_at\":", at);
    if (next_ms > 0) {
        og_time_rfc3339(next_ms, nx);
        og_buf_printf(&b, "\"%s\"}", nx);
    } else {
        og_buf_puts(&b, "null}");
    }
    return b.data;
}

/* ------------------------------------------------------------ transfers */

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (len > 12 && strncasecmp(buf, "Retry-After:", 12) == 0) {
        char *end;
        long v = strtol(buf + 12, &end, 10);
        if (end != buf + 12 && v >= 0)
            x->retry_after_s = v;
    }
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
    (void)buf, (void)ud;
    return size * n; /* the answer's body is not used */
}

static void xfer_release(struct xfer *x)
{
    curl_slist_free_all(x->hdrs);
    free(x->member), free(x->sub), free(x->head), free(x->eid), free(x->etype), free(x->body);
    x->hdrs = NULL;
    x->member = x->sub = x->head = x->eid = x->etype = x->body = NULL;
    x->busy = 0;
}

static void start_xfer(struct og_webhook_dispatch *d, const struct og_webhook_sub *s,
                       redisReply **it)
{
    struct xfer *x = NULL;
    for (int i = 0; i < d->concurrency && !x; i++)
        if (!d->x[i].busy)
            x = &d->x[i];
    if (!x)
        return; /* cannot happen: we claim at most the free slots */
    x->busy = 1;
    x->member = og_strdup(it[0]->str);
    x->sub = og_strdup(it[1]->str);
    x->head = og_strdup(it[2]->str);
    x->tries = atoi(it[3]->str);
    x->eid = og_strdup(it[4]->str);
    x->etype = og_strdup(it[5]->str);
    x->body = og_strndup(it[6]->str, it[6]->len);
    x->retry_after_s = -1;
    x->err[0] = 0;
    x->start_ms = og_now_ms();

    int64_t ts = x->start_ms / 1000;
    char sig[200], sig2[100], line[400];
    og_webhook_sign(s->secret, x->eid, ts, x->body, it[6]->len, sig, sizeof sig);
    if (s->secret_prev && s->prev_until_ms > x->start_ms &&
        og_webhook_sign(s->secret_prev, x->eid, ts, x->body, it[6]->len, sig2, sizeof sig2) == 0) {
        size_t l = strlen(sig);
        snprintf(sig + l, sizeof sig - l, " %s", sig2);
    }
    x->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    x->hdrs = curl_slist_append(x->hdrs, "User-Agent: omnigate-webhooks/1");
    snprintf(line, sizeof line, "webhook-id: %s", x->eid);
    x->hdrs = curl_slist_append(x->hdrs, line);
    snprintf(line, sizeof line, "webhook-timestamp: %lld", (long long)ts);
    x->hdrs = curl_slist_append(x->hdrs, line);
    snprintf(line, sizeof line, "webhook-signature: %s", sig);
    x->hdrs = curl_slist_append(x->hdrs, line);

    CURL *e = x->easy;
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, s->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it[6]->len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(s->timeout_ms < 10000 ? s->timeout_ms
                                                                                : 10000));
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->err);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_multi_add_handle(d->multi, e);
    d->inflight++;
}

/* Decides what an attempt's outcome means and queues the result. */
static void finish_xfer(struct og_webhook_dispatch *d, struct xfer *x, CURLcode rc)
{
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    int64_t now = og_now_ms();
    int64_t latency = now - x->start_ms;
    const struct og_webhook_sub *s = find_sub(d, x->sub);
    int attempt = x->tries + 1;
    char errbuf[CURL_ERROR_SIZE + 8] = "";
    if (rc != CURLE_OK)
        snprintf(errbuf, sizeof errbuf, "%s", x->err[0] ? x->err : curl_easy_strerror(rc));
    else if (code < 200 || code > 299)
        snprintf(errbuf, sizeof errbuf, "HTTP %ld", code);

    if (rc == CURLE_OK && code >= 200 && code <= 299) {
        push_result(d, x->member, x->sub, x->head, "ok", 0, x->eid,
                    attempt_json(x->eid, x->etype, attempt, "ok", code, latency, NULL, 0));
    } else if (rc == CURLE_OK && code == 410) {
        char reason[200];
        char at[32];
        og_time_rfc3339(now, at);
        snprintf(reason, sizeof reason, "the endpoint answered 410 Gone at %s", at);
        og_warn("webhooks: subscription %s disabled: %s", x->sub, reason);
        og_webhooks_set_disabled(d->w, x->sub, reason);
        refresh_subs(d, 1);
        push_result(d, x->member, x->sub, x->head, "dead", 0, x->eid,
                    attempt_json(x->eid, x->etype, attempt, "dead", code, latency,
                                 "410 Gone: subscription disabled", 0));
    } else {
        int64_t delay = s ? og_webhook_retry_delay_ms(s, attempt) : -1;
        int throttled = rc == CURLE_OK && (code == 429 || code == 503 || code == 502 ||
                                           code == 504);
        if (delay >= 0 && throttled && x->retry_after_s >= 0)
            delay = (x->retry_after_s > 86400 ? 86400 : x->retry_after_s) * 1000;
        if (delay < 0) {
            push_result(d, x->member, x->sub, x->head, "dead", 0, x->eid,
                        attempt_json(x->eid, x->etype, attempt, "dead", code, latency, errbuf,
                                     0));
        } else {
            push_result(d, x->member, x->sub, x->head, "retry", now + delay, x->eid,
                        attempt_json(x->eid, x->etype, attempt, "failed", code, latency, errbuf,
                                     now + delay));
        }
    }
    curl_multi_remove_handle(d->multi, x->easy);
    xfer_release(x);
    d->inflight--;
}

/* One round trip (webhook_step.lua): reports the finished attempts, then
 * claims due queues for the free slots and starts their transfers. Returns
 * how many queues were claimed. Results are kept for the next round when
 * Redis is unavailable. */
static int step(struct og_webhook_dispatch *d)
{
    int free_slots = d->draining ? 0 : d->concurrency - d->inflight;
    if (free_slots <= 0 && d->n_res == 0)
        return 0;
    size_t argc = 6 + d->n_res;
    const char **argv = og_calloc(argc, sizeof *argv);
    size_t *lens = og_calloc(argc, sizeof *lens);
    char now[24], cap[16], lease[24], max[16];
    snprintf(now, sizeof now, "%lld", (long long)og_now_ms());
    snprintf(cap, sizeof cap, "%d", OG_WEBHOOK_DELIVERIES_CAP);
    snprintf(lease, sizeof lease, "%lld", (long long)(max_timeout_ms(d) + LEASE_MARGIN_MS));
    snprintf(max, sizeof max, "%d", free_slots > 0 ? free_slots : 0);
    argv[0] = d->g->core->tag, argv[1] = OG_WEBHOOK_GROUP, argv[2] = now, argv[3] = cap;
    argv[4] = lease, argv[5] = max;
    for (size_t i = 0; i < d->n_res; i++)
        argv[6 + i] = d->res[i];
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = NULL;
    og_err e = og_webhooks_eval(d->w, d->w->step, (int)argc, argv, lens, &r);
    free(argv), free(lens);
    if (e == OG_ERR_UNAVAILABLE)
        return 0; /* Redis is down: keep the results and try again next round */
    if (e != OG_OK) /* never dropped silently: the leases bring them back */
        og_error("webhooks: step: %s", og_strerror(e));
    for (size_t i = 0; i < d->n_res; i++)
        free(d->res[i]);
    d->n_res = 0;
    if (e != OG_OK)
        return 0;
    int n = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        og_error("webhooks: step: %s", r->str);
    } else if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *item = r->element[i];
            if (item->type != REDIS_REPLY_ARRAY || item->elements != 7)
                continue;
            redisReply **it = item->element;
            n++;
            const struct og_webhook_sub *s = find_sub(d, it[1]->str);
            if (!s) {
                refresh_subs(d, 1);
                s = find_sub(d, it[1]->str);
            }
            if (!s) /* deleted: its queued events are dropped */
                push_result(d, it[0]->str, it[1]->str, it[2]->str, "drop", 0, it[4]->str, NULL);
            else if (!og_webhook_sub_active(s))
                push_result(d, it[0]->str, it[1]->str, it[2]->str, "dead", 0, it[4]->str,
                            attempt_json(it[4]->str, it[5]->str, atoi(it[3]->str) + 1, "dead",
                                         0, 0, "subscription disabled", 0));
            else if (it[6]->len == 0)
                push_result(d, it[0]->str, it[1]->str, it[2]->str, "dead", 0, it[4]->str,
                            attempt_json(it[4]->str, it[5]->str, atoi(it[3]->str) + 1, "dead",
                                         0, 0, "the event is no longer in the stream", 0));
            else
                start_xfer(d, s, it);
        }
    }
    freeReplyObject(r);
    return n;
}

static void pump(struct og_webhook_dispatch *d, int wait_ms)
{
    int running = 0;
    curl_multi_perform(d->multi, &running);
    if (wait_ms > 0 && d->inflight > 0) {
        curl_multi_poll(d->multi, NULL, 0, wait_ms, NULL);
        curl_multi_perform(d->multi, &running);
    }
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(d->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        finish_xfer(d, x, m->data.result);
    }
}

/* ------------------------------------------------------------ the thread */

static void *run(void *arg)
{
    struct og_webhook_dispatch *d = arg;
    while (!atomic_load(&d->stop)) {
        if (!d->ready) {
            if (setup(d) == 0) {
                d->ready = 1;
            } else {
                for (int i = 0; i < 10 && !atomic_load(&d->stop); i++)
                    usleep(50 * 1000);
                continue;
            }
        }
        refresh_subs(d, 0);
        autoclaim(d);
        int free_slots = d->concurrency - d->inflight;
        int claimed = step(d);
        pump(d, 0);
        /* Idle: wait in XREADGROUP. Busy: read new entries when the due
         * queues did not fill the free slots (or every 20 ms), then let the
         * transfers run for a moment. */
        int idle = d->inflight == 0 && claimed == 0;
        size_t got = 0;
        int64_t now = og_mono_ms();
        if (idle || claimed < free_slots || now - d->last_read_ms >= 20) {
            got = read_new(d, idle ? 100 : 0);
            d->last_read_ms = now;
        }
        if (!idle && got == 0)
            pump(d, 1);
    }
    /* Let running attempts finish (up to 3 s) so their results are kept;
     * anything still running is redelivered after its lease. */
    int64_t until = og_mono_ms() + 3000;
    while (d->inflight > 0 && og_mono_ms() < until)
        pump(d, 20);
    d->draining = 1; /* report only: claim nothing more */
    step(d);
    return NULL;
}

static int start(struct og_gateway *g)
{
    struct og_webhook_dispatch *d = og_calloc(1, sizeof *d);
    d->g = g;
    g->webhooks = og_webhooks_new(g->core);
    d->w = g->webhooks;
    d->concurrency = (int)(g->cfg->webhook_dispatch.concurrency > 0
                               ? g->cfg->webhook_dispatch.concurrency
                               : 64);
    d->claim_idle_ms = g->cfg->webhook_dispatch.claim_idle_ms > 0
                           ? g->cfg->webhook_dispatch.claim_idle_ms
                           : 30000;
    snprintf(d->consumer, sizeof d->consumer, "%s", g->instance_id);
    snprintf(d->autoclaim_cursor, sizeof d->autoclaim_cursor, "0-0");
    d->multi = curl_multi_init();
    curl_multi_setopt(d->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)d->concurrency);
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)d->concurrency);
    d->x = og_calloc((size_t)d->concurrency, sizeof *d->x);
    for (int i = 0; i < d->concurrency; i++)
        d->x[i].easy = curl_easy_init();
    g->webhook_dispatch = d;
    if (pthread_create(&d->th, NULL, run, d) != 0) {
        og_error("webhooks: cannot start the dispatcher thread");
        return -1;
    }
    return 0;
}

static void stop(struct og_gateway *g)
{
    struct og_webhook_dispatch *d = g->webhook_dispatch;
    if (!d)
        return;
    atomic_store(&d->stop, 1);
    pthread_join(d->th, NULL);
    for (int i = 0; i < d->concurrency; i++) {
        if (d->x[i].busy) {
            curl_multi_remove_handle(d->multi, d->x[i].easy);
            xfer_release(&d->x[i]);
        }
        curl_easy_cleanup(d->x[i].easy);
    }
    curl_multi_cleanup(d->multi);
    free(d->x);
    for (size_t i = 0; i < d->n_res; i++)
        free(d->res[i]);
    free(d->res);
    og_webhook_subs_free(d->subs, d->n_subs);
    og_webhooks_free(g->webhooks);
    g->webhooks = NULL;
    g->webhook_dispatch = NULL;
    free(d);
}

const struct og_worker og_worker_webhooks = {"webhooks", start, stop};
