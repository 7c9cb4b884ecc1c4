/* og_webhook_worker - the webhook dispatcher: reads {og}:events through the
 * consumer group "webhooks", fans entries out to the subscriptions'
 * per-session queues, claims due queues and POSTs their head event over
 * libcurl multi (webhook_dispatch.concurrency transfers in all, keep-alive
 * connections), and reports each attempt back. The Redis side of all of it
 * is the core's (core/og_webhook_dispatch.h: read, step = settle + claim +
 * fetch, skip; core/og_webhooks.h describes the pipeline): this file holds
 * the threads, the decisions about attempts and the libcurl multi loop.
 *
 * At-least-once: an entry is acknowledged only when every matching
 * subscription got a 2xx or dead-lettered it. Reading and queuing are one
 * script, so a dispatcher that dies (kill -9) leaves only claimed queues
 * behind, and they fall due again when their lease (the attempt timeout +
 * 5 s) runs out, or within seconds when the instance is found dead
 * (og_instance.h): nothing is lost, and an event may be delivered twice (same
 * webhook-id), which consumers de-duplicate.
 *
 * Each instance runs DISPATCHERS dispatchers sharing the configured
 * concurrency; each is its own consumer in the group and behaves exactly
 * like a separate instance. A dispatcher has two threads, so Redis round
 * trips and HTTP transfers overlap: the dispatcher thread does all Redis
 * work and every decision (which queues to claim, signing, retry or
 * dead-letter, 410); the HTTP thread only runs the libcurl multi handle.
 * They exchange jobs through two lists under one mutex: "todo" (claimed,
 * signed, ready to send) and "done" (with the HTTP outcome). A claim hands
 * out up to OG_WEBHOOK_CHAIN items of one (subscription, session) queue as
 * a chain of jobs: the HTTP thread sends them one after another on the same
 * handle, the next only after a 2xx for the one before and while the claim's
 * lease still covers a whole attempt, so per-session order holds and a
 * backlog costs one claim per chain rather than per event. The dispatcher
 * claims up to CLAIM_AHEAD chains per transfer slot so the HTTP thread never
 * waits for it, and reads a backlog ahead of the deliveries (READ_AHEAD) so
 * that queues hold several events of a session when they are claimed.
 *
 * Redis: the one blocking call, an idle dispatcher's XREAD for a newer
 * entry, goes through the shared pool with BLOCK 100 ms, well under the
 * pool's 2 s socket timeout (TOOLCHAIN.md); every other call is
 * non-blocking. */
#include "og_api.h"
#include "og_event_cache.h"
#include "og_gateway.h"
#include "og_log.h"
#include "og_stream.h"
#include "og_thread.h"
#include "og_util.h"
#include "og_webhook_dispatch.h"
#include "og_webhooks.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define BATCH 128        /* entries per read: a read script holds Redis ~1 ms */
#define READ_BURST 8     /* reads in a row while reading ahead */
#define READ_MIN 3       /* of which at least these, even when claims are short */
#define READ_AHEAD 32768 /* entries read ahead of deliveries (cached bodies) */
#define LEASE_MARGIN_MS 5000
#define CLAIM_AHEAD 2 /* chains claimed per transfer slot (see http_run) */
#define DISPATCHERS 2 /* per instance, when concurrency >= 16 (see start) */
/* Event bodies kept between reading and claiming (og_event_cache.h): a
 * backlog of ~100k typical events; beyond it bodies are read again. */
#define CACHE_BYTES (64u << 20)
#define CACHE_ENTRIES 131072

/* One attempt: prepared by the dispatcher thread, sent by the HTTP thread,
 * judged by the dispatcher thread again. Everything a request needs is in
 * the job, so sending it allocates nothing of ours. */
struct job {
    struct job *next;            /* in the todo/done lists (first jobs of chains) */
    struct job *chain;           /* owned: the queue's next item, sent after a 2xx */
    struct job *first;           /* [borrowed] the first job of this chain */
    char *member, *sub;          /* owned by the first job; NULL in the others */
    CURLU *url;                  /* owned by the first job: parsed once per chain */
    struct og_webhook_item item; /* owned: head, event id, type */
    struct og_event_body *body;  /* a reference: the event JSON */
    int tries;                   /* failed attempts before this one */
    int64_t lease_end_ms;        /* the claim's lease (wall clock) */
    int64_t ts;                  /* webhook-timestamp */
    long timeout_ms;
    /* the request's headers: curl reads the list, the lines live here */
    struct curl_slist hdrs[6];
    char id_line[128], ts_line[48], sig_line[160];
    /* filled by the HTTP thread */
    CURL *easy; /* [borrowed] from the pool while in flight */
    int sent;   /* attempted (a chain's unsent rest is dropped) */
    CURLcode rc;
    long code;
    long retry_after_s; /* from a Retry-After header, -1 = none */
    int64_t start_ms, end_ms;
    char err[CURL_ERROR_SIZE];
};

struct dispatcher {
    struct og_gateway *g;         /* [borrowed] */
    struct og_core *w;            /* [borrowed] g->core */
    struct og_event_cache *cache; /* [borrowed] shared by the instance's dispatchers */
    struct og_thread th;          /* the dispatcher thread (run) */
    struct og_thread http;        /* the HTTP thread (http_run); curl_multi_wakeup
                                   * ends its poll when it is asked to stop */
    int concurrency;
    char consumer[64];
    /* dispatcher thread only */
    struct og_webhook_sub *subs; /* cache */
    size_t n_subs;
    struct og_hmac **signers; /* [2 * n_subs] owned: per sub its secret's, its previous one's */
    long long ver;
    int64_t ver_checked_ms, last_read_ms;
    char last_id[48];               /* the stream's last entry when a read found nothing new */
    int ready;                      /* group created and config synced */
    int draining;                   /* stopping: report results, claim nothing */
    struct og_webhook_results *res; /* owned: results for the next step */
    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a job lands in done */
    struct job *todo, *todo_tail, *done, *done_tail;
    int outstanding; /* chains handed to the HTTP thread, not yet
                      * judged (at most CLAIM_AHEAD * concurrency) */
    /* HTTP thread only */
    CURLM *multi;
    CURL **easy_all;  /* [concurrency] owned; PRIVATE = the job while in flight */
    CURL **easy_free; /* [concurrency] the idle ones (keep-alive via multi) */
    int n_easy_free;
};

/* ------------------------------------------------------------ helpers */

static const struct og_webhook_sub *find_sub(struct dispatcher *d, const char *id)
{
    for (size_t i = 0; i < d->n_subs; i++)
        if (strcmp(d->subs[i].id, id) == 0)
            return &d->subs[i];
    return NULL;
}

static int64_t max_timeout_ms(struct dispatcher *d)
{
    int64_t m = 1000;
    for (size_t i = 0; i < d->n_subs; i++)
        if (d->subs[i].timeout_ms > m)
            m = d->subs[i].timeout_ms;
    return m;
}

static void signers_free(struct dispatcher *d)
{
    for (size_t i = 0; d->signers && i < 2 * d->n_subs; i++)
        og_hmac_free(d->signers[i]);
    free(d->signers);
    d->signers = NULL;
}

/* Reloads the subscriptions when their version changed (checked at most
 * every 250 ms, or now when force). */
static void refresh_subs(struct dispatcher *d, int force)
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
    signers_free(d);
    og_webhook_subs_free(d->subs, d->n_subs);
    d->subs = subs;
    d->n_subs = n;
    d->ver = ver;
    d->signers = og_calloc(2 * n + 1, sizeof *d->signers);
    for (size_t i = 0; i < n; i++) {
        d->signers[2 * i] = og_webhook_signer_new(subs[i].secret);
        if (subs[i].secret_prev)
            d->signers[2 * i + 1] = og_webhook_signer_new(subs[i].secret_prev);
    }
}

og_err og_webhook_sync_config(struct og_gateway *g)
{
    pthread_mutex_lock(&g->cfg_mu); /* SIGHUP swaps cfg->webhooks (og_reload.c) */
    const struct og_config *cfg = g->cfg;
    size_t n = cfg->n_webhooks;
    struct og_webhook_sub *subs = n ? og_calloc(n, sizeof *subs) : NULL;
    char now[32];
    og_time_rfc3339(og_now_ms(), now);
    for (size_t i = 0; i < n; i++) {
        subs[i] = cfg->webhooks[i]; /* shallow: only the times are ours */
        struct og_webhook_sub old;
        int had = og_webhooks_get(g->core, subs[i].id, &old) == OG_OK;
        subs[i].created_at = og_strdup(had && old.created_at ? old.created_at : now);
        subs[i].updated_at = og_strdup(now);
        if (had)
            og_webhook_sub_clear(&old);
    }
    og_err e = og_webhooks_sync_config(g->core, subs, n);
    pthread_mutex_unlock(&g->cfg_mu);
    for (size_t i = 0; i < n; i++) {
        free(subs[i].created_at);
        free(subs[i].updated_at);
    }
    free(subs);
    return e;
}

/* Creates the group and stores the config's subscriptions; retried by the
 * loop until Redis answers. */
static int setup(struct dispatcher *d)
{
    if (og_stream_group_ensure(d->w, OG_STREAM_EVENTS, OG_GROUP_WEBHOOKS, "$") != OG_OK)
        return -1;
    if (og_webhook_sync_config(d->g) != OG_OK)
        return -1;
    refresh_subs(d, 1);
    og_info("webhooks: dispatcher %s ready (%zu subscription%s, %d parallel)", d->consumer,
            d->n_subs, d->n_subs == 1 ? "" : "s", d->concurrency);
    return 0;
}

/* Reads new entries and queues them for the subscriptions that want them
 * (og_webhook_dispatch_read, one round trip; again after reloading the
 * subscriptions when they changed since our copy). Returns the entries
 * read, 0 when there was nothing new (d->last_id is then the stream's last
 * entry), -1 on error. */
static int read_queue(struct dispatcher *d)
{
    for (int round = 0; round < 3; round++) {
        int n = -1;
        og_err e = og_webhook_dispatch_read(d->w, d->consumer, BATCH, d->ver, d->subs, d->n_subs,
                                            d->cache, &n, d->last_id, sizeof d->last_id);
        if (e == OG_ERR_NOT_FOUND)
            d->ready = 0; /* the stream was deleted: create the group again */
        if (e != OG_OK)
            return -1;
        if (n >= 0)
            return n;
        refresh_subs(d, 1); /* changed since our copy: reload, then read */
    }
    og_warn("webhooks: subscriptions kept changing; reading later");
    return -1;
}

/* Idle: waits up to block_ms for an entry newer than the last one seen
 * (the read script cannot block). */
static void wait_new(struct dispatcher *d, int block_ms)
{
    og_stream_wait(d->w, OG_STREAM_EVENTS, d->last_id, block_ms);
}

/* ------------------------------------------------------------ results */

/* The results for the next step (og_webhook_dispatch_result_*). */
static void res_open(struct dispatcher *d, const char *member, const char *sub, int tries)
{
    og_webhook_dispatch_result_open(d->res, member, sub, tries);
}

static void res_close(struct dispatcher *d, int64_t next_due_ms)
{
    og_webhook_dispatch_result_close(d->res, next_due_ms);
}

static void res_add(struct dispatcher *d, const char *head, const char *outcome, int n,
                    const char *eid, const char *etype, const char *status, int attempt, long code,
                    int64_t latency_ms, const char *error, int64_t at_ms, int64_t next_ms)
{
    og_webhook_dispatch_result_add(d->res, head, outcome, n, eid, etype, status, attempt, code,
                                   latency_ms, error, at_ms, next_ms);
}

static size_t n_res(struct dispatcher *d)
{
    return og_webhook_dispatch_results_count(d->res);
}

/* ------------------------------------------------------------ transfers */

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
    (void)buf, (void)ud;
    return size * n; /* the answer's body is not used */
}

static void job_free(struct job *j)
{
    free(j->member), free(j->sub);
    curl_url_cleanup(j->url);
    og_webhook_item_clear(&j->item);
    og_event_body_unref(j->body);
    free(j);
}

/* Frees a job and the unsent rest of its chain. */
static void chain_free(struct job *j)
{
    while (j) {
        struct job *n = j->chain;
        job_free(j);
        j = n;
    }
}

/* The headers every request has (curl only reads a list's lines). */
static char h_type[] = "Content-Type: application/json",
            h_expect[] = "Expect:", h_agent[] = "User-Agent: omnigate-webhooks/1";

/* Builds the job for one claimed item (dispatcher thread): signed with the
 * subscription's keyed signers (sign[0] the secret, sign[1] the previous
 * one during a rotation, or NULL). Takes item and body. first: the chain's
 * first job, NULL when this is it (it then owns the claim's strings). */
static struct job *make_job(const struct og_webhook_sub *s, struct og_hmac *const sign[2],
                            struct job *first, const char *member, struct og_webhook_item *item,
                            struct og_event_body **body, int tries, int64_t lease_end_ms)
{
    struct job *j = og_calloc(1, sizeof *j);
    j->first = first ? first : j;
    if (!first) {
        j->member = og_strdup(member);
        j->sub = og_strdup(s->id);
        /* a URL that does not parse leaves it empty: curl then fails the
         * attempt with CURLE_URL_MALFORMAT, as CURLOPT_URL would */
        j->url = curl_url();
        curl_url_set(j->url, CURLUPART_URL, s->url, 0);
    }
    j->item = *item;
    memset(item, 0, sizeof *item);
    j->body = *body;
    *body = NULL;
    j->tries = tries;
    j->lease_end_ms = lease_end_ms;
    j->timeout_ms = (long)s->timeout_ms;
    j->retry_after_s = -1;
    j->ts = og_now_ms() / 1000;
    snprintf(j->id_line, sizeof j->id_line, "webhook-id: %s", j->item.eid);
    snprintf(j->ts_line, sizeof j->ts_line, "webhook-timestamp: %lld", (long long)j->ts);
    int at = snprintf(j->sig_line, sizeof j->sig_line, "webhook-signature: ");
    for (int k = 0; k < 2; k++) {
        if (!sign[k] || (k == 1 && s->prev_until_ms <= og_now_ms()))
            continue;
        char sig[64];
        if (og_webhook_sign_with(sign[k], j->item.eid, j->ts, j->body->data, j->body->len, sig,
                                 sizeof sig) == 0)
            at += snprintf(j->sig_line + at, sizeof j->sig_line - (size_t)at, "%s%s", k ? " " : "",
                           sig);
    }
    char *lines[6] = {h_type, h_expect, h_agent, j->id_line, j->ts_line, j->sig_line};
    for (int k = 0; k < 6; k++)
        j->hdrs[k] = (struct curl_slist){lines[k], k < 5 ? &j->hdrs[k + 1] : NULL};
    return j;
}

/* The options every attempt has, set once per handle (http_start sets
 * the others). */
static CURL *easy_setup(void)
{
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    return e;
}

/* HTTP thread: starts one job on an idle easy handle. */
static void http_start(struct dispatcher *d, struct job *j)
{
    CURL *e = d->easy_free[--d->n_easy_free];
    j->easy = e;
    /* Only what differs between attempts is set: the rest was set once
     * (easy_setup). No curl_easy_reset, which cost more than the
     * options it clears (~5 % of the daemon's CPU in bench_webhooks). */
    curl_easy_setopt(e, CURLOPT_CURLU, j->first->url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)j->body->data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body->len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->hdrs);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, j->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, j->timeout_ms < 10000 ? j->timeout_ms : 10000L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->err);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    j->start_ms = og_now_ms();
    j->sent = 1;
    curl_multi_add_handle(d->multi, e);
}

/* HTTP thread: sends what the dispatcher prepared, hands back outcomes. */
static void *http_run(struct og_thread *t)
{
    struct dispatcher *d = t->arg;
    /* Claimed jobs waiting for an idle handle: the dispatcher claims ahead
     * (up to twice the concurrency) so that transfers never wait for its
     * Redis round trips; at most `concurrency` are on the wire. */
    struct job *wait = NULL, *wait_tail = NULL;
    while (og_thread_running(t)) {
        struct job *done = NULL, *done_tail = NULL; /* chains that ended */
        pthread_mutex_lock(&d->mu);
        if (d->todo) {
            if (wait_tail)
                wait_tail->next = d->todo;
            else
                wait = d->todo;
            wait_tail = d->todo_tail;
            d->todo = d->todo_tail = NULL;
        }
        pthread_mutex_unlock(&d->mu);
        while (wait && d->n_easy_free > 0) {
            struct job *j = wait;
            wait = j->next;
            if (!wait)
                wait_tail = NULL;
            j->next = NULL;
            if (og_now_ms() + j->timeout_ms + 1000 < j->lease_end_ms) {
                http_start(d, j);
                continue;
            }
            /* waited so long that its lease could run out mid-attempt: handed
             * back unsent, the queue falls due again when the lease ends */
            if (done_tail)
                done_tail->next = j;
            else
                done = j;
            done_tail = j;
        }
        /* One perform per round: each walks every transfer (and polls its
         * socket); the poll returns at once when a transfer was just added
         * (its timeout is 0), and curl_multi_wakeup ends it early. */
        int running = 0;
        curl_multi_poll(d->multi, NULL, 0, 50, NULL);
        curl_multi_perform(d->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(d->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct job *j = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            j->rc = m->data.result;
            curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &j->code);
            /* Retry-After, seconds or an HTTP-date (RFC 9110 10.2.3), read
             * by libcurl; 0 when there was none */
            curl_off_t ra = 0;
            j->retry_after_s = -1;
            if (curl_easy_getinfo(j->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
                j->retry_after_s = ra > 86400 ? 86400 : (long)ra;
            j->end_ms = og_now_ms();
            curl_multi_remove_handle(d->multi, j->easy);
            curl_easy_setopt(j->easy, CURLOPT_PRIVATE, NULL);
            d->easy_free[d->n_easy_free++] = j->easy;
            j->easy = NULL;
            /* The chain goes on at once on the handle just freed, while its
             * lease still covers a whole attempt (else the queue could be
             * claimed by another instance mid-attempt); it is handed back
             * whole when it ends. */
            struct job *nx = j->chain;
            int ok = j->rc == CURLE_OK && j->code >= 200 && j->code <= 299;
            if (nx && ok && og_now_ms() + nx->timeout_ms + 1000 < nx->lease_end_ms) {
                http_start(d, nx);
                continue;
            }
            j = j->first;
            if (done_tail)
                done_tail->next = j;
            else
                done = j;
            done_tail = j;
        }
        if (done) {
            pthread_mutex_lock(&d->mu);
            if (d->done_tail)
                d->done_tail->next = done;
            else
                d->done = done;
            d->done_tail = done_tail;
            pthread_cond_signal(&d->cv);
            pthread_mutex_unlock(&d->mu);
        }
    }
    while (wait) { /* never sent: their leases bring them back */
        struct job *j = wait;
        wait = j->next;
        chain_free(j);
    }
    return NULL;
}

/* Dispatcher thread: what an attempt's outcome means; adds its result to
 * the open group. Returns the time of the next attempt when the event is to
 * be tried again, else 0. */
static int64_t judge_one(struct dispatcher *d, struct job *j)
{
    const struct job *c = j->first; /* the claim's member, sub and tries */
    long code = j->rc == CURLE_OK ? j->code : 0;
    int64_t latency = j->end_ms - j->start_ms;
    const struct og_webhook_sub *s = find_sub(d, c->sub);
    const struct og_webhook_item *it = &j->item;
    int attempt = j->tries + 1;
    int64_t now = og_now_ms();
    char errbuf[CURL_ERROR_SIZE + 8] = "";
    if (j->rc != CURLE_OK)
        snprintf(errbuf, sizeof errbuf, "%s", j->err[0] ? j->err : curl_easy_strerror(j->rc));
    else if (code < 200 || code > 299)
        snprintf(errbuf, sizeof errbuf, "HTTP %ld", code);

    if (j->rc == CURLE_OK && code >= 200 && code <= 299) {
        res_add(d, it->head, "ok", it->n, it->eid, it->type, "ok", attempt, code, latency, NULL,
                now, 0);
        return 0;
    }
    if (j->rc == CURLE_OK && code == 410) {
        char reason[200], at[32];
        og_time_rfc3339(now, at);
        snprintf(reason, sizeof reason, "the endpoint answered 410 Gone at %s", at);
        og_warn("webhooks: subscription %s disabled: %s", c->sub, reason);
        og_webhooks_set_disabled(d->w, c->sub, reason);
        refresh_subs(d, 1);
        res_add(d, it->head, "dead", it->n, it->eid, it->type, "dead", attempt, code, latency,
                "410 Gone: subscription disabled", now, 0);
        return 0;
    }
    int64_t delay = s ? og_webhook_retry_delay_ms(s, attempt) : -1;
    int throttled = j->rc == CURLE_OK && (code == 429 || code == 503 || code == 502 || code == 504);
    if (delay >= 0 && throttled && j->retry_after_s >= 0)
        delay = (j->retry_after_s > 86400 ? 86400 : j->retry_after_s) * 1000;
    if (delay < 0) {
        res_add(d, it->head, "dead", it->n, it->eid, it->type, "dead", attempt, code, latency,
                errbuf, now, 0);
        return 0;
    }
    res_add(d, it->head, "retry", it->n, it->eid, it->type, "failed", attempt, code, latency,
            errbuf, now, now + delay);
    return now + delay;
}

/* Dispatcher thread: the results of a chain that ended, in queue order. */
static void judge(struct dispatcher *d, struct job *first)
{
    int64_t next_due = 0;
    res_open(d, first->member, first->sub, first->tries);
    for (struct job *j = first; j && j->sent && !next_due; j = j->chain) {
        next_due = judge_one(d, j);
        /* an entry queued for one subscription is done unless retried */
        if (!next_due && j->item.n == 1)
            og_event_cache_del(d->cache, og_webhook_item_entry(&j->item));
    }
    res_close(d, next_due);
    chain_free(first); /* with its unsent rest, if any */
}

/* Dispatcher thread: judges the finished jobs; with wait_ms > 0 waits that
 * long for one when none is there. Returns how many were judged. */
static int collect(struct dispatcher *d, int wait_ms)
{
    pthread_mutex_lock(&d->mu);
    if (!d->done && wait_ms > 0 && d->outstanding > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)wait_ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    }
    struct job *done = d->done;
    d->done = d->done_tail = NULL;
    int n = 0;
    for (struct job *j = done; j; j = j->next)
        n++;
    d->outstanding -= n;
    pthread_mutex_unlock(&d->mu);
    while (done) {
        struct job *j = done;
        done = j->next;
        judge(d, j);
    }
    return n;
}

static int outstanding(struct dispatcher *d)
{
    pthread_mutex_lock(&d->mu);
    int n = d->outstanding;
    pthread_mutex_unlock(&d->mu);
    return n;
}

/* Whether the HTTP thread could use more claims now: chains have finished
 * (to judge and hand on), or fewer are handed out than it has handles. */
static int starving(struct dispatcher *d)
{
    pthread_mutex_lock(&d->mu);
    int s = d->done != NULL || d->outstanding < d->concurrency;
    pthread_mutex_unlock(&d->mu);
    return s;
}

/* One claimed item that cannot be sent, as a result in the open group: its
 * subscription was deleted (s NULL: dropped) or is disabled, the item is
 * damaged (it = NULL; raw is the item as read), or the stream no longer
 * holds its event: dead, with why. The entry's cached body goes when the
 * entry is done. */
static void settle_one(struct dispatcher *d, const struct og_webhook_sub *s,
                       const struct og_webhook_item *it, const char *raw, int tries,
                       const char *why)
{
    /* a damaged item's head as webhook_dispatch_step.lua reads it */
    char *head = it ? og_strdup(it->head) : og_strndup(raw, strcspn(raw, "\t"));
    const char *eid = it ? it->eid : "", *type = it ? it->type : "";
    int n = it ? it->n : 0;
    if (!s)
        res_add(d, head, "drop", n, eid, type, NULL, 0, 0, 0, NULL, 0, 0);
    else
        res_add(d, head, "dead", n, eid, type, "dead", tries + 1, 0, 0, why, og_now_ms(), 0);
    if (n == 1)
        og_event_cache_del(d->cache, og_webhook_item_entry(it));
    free(head);
}

/* One round trip (og_webhook_dispatch_step): reports the judged attempts,
 * then claims due queues for the free slots and hands their chains of jobs
 * to the HTTP thread. Returns how many queues were claimed. Results are
 * kept for the next round when Redis is unavailable. */
static int step(struct dispatcher *d)
{
    int free_slots = d->draining ? 0 : CLAIM_AHEAD * d->concurrency - outstanding(d);
    if (free_slots <= 0 && n_res(d) == 0)
        return 0;
    int64_t now_ms = og_now_ms(), lease_ms = max_timeout_ms(d) + LEASE_MARGIN_MS;
    struct og_webhook_claims cl;
    og_err e =
        og_webhook_dispatch_step(d->w, d->res, free_slots, now_ms, lease_ms, d->ver, d->cache, &cl);
    if (e != OG_OK)
        return 0; /* unavailable: results kept; else logged, leases bring them back */
    if (cl.stale)
        refresh_subs(d, 1); /* stale copy: claims wait for the reload */
    int nchains = 0;
    struct job *chains = NULL, *tail = NULL;
    for (size_t i = 0; i < cl.n; i++) {
        const struct og_webhook_claim *q = &cl.v[i];
        int tries = q->tries;
        const struct og_webhook_sub *s = find_sub(d, q->sub);
        if (!s) {
            refresh_subs(d, 1);
            s = find_sub(d, q->sub);
        }
        if (!s || !og_webhook_sub_active(s)) {
            /* every item goes, up to a damaged one */
            res_open(d, q->member, q->sub, tries);
            for (size_t k = 0; k < q->n_items; k++, tries = 0) {
                struct og_webhook_claimed *x = &q->items[k];
                settle_one(d, s, x->ok ? &x->item : NULL, x->raw, tries,
                           x->ok ? "subscription disabled" : "damaged queue item");
                if (!x->ok)
                    break;
            }
            res_close(d, 0);
            continue;
        }
        /* the chain: the items up to the first that cannot be sent */
        struct job *first = NULL, *prev = NULL;
        for (size_t k = 0; k < q->n_items; k++) {
            struct og_webhook_claimed *x = &q->items[k];
            if (!x->ok || x->gone) {
                if (!first) { /* its head: dead-lettered, the rest waits */
                    res_open(d, q->member, q->sub, tries);
                    settle_one(d, s, x->ok ? &x->item : NULL, x->raw, tries,
                               x->ok ? "the event is no longer in the stream"
                                     : "damaged queue item");
                    res_close(d, 0);
                }
                break;
            }
            if (!x->body)
                break; /* not readable now: the lease brings it back */
            struct job *j = make_job(s, d->signers + 2 * (size_t)(s - d->subs), first, q->member,
                                     &x->item, &x->body, k == 0 ? tries : 0, now_ms + lease_ms);
            if (prev)
                prev->chain = j;
            else
                first = j;
            prev = j;
        }
        if (!first)
            continue;
        if (tail)
            tail->next = first;
        else
            chains = first;
        tail = first;
        nchains++;
    }
    int n = (int)cl.n;
    og_webhook_dispatch_claims_free(&cl);
    if (chains) {
        pthread_mutex_lock(&d->mu);
        if (d->todo_tail)
            d->todo_tail->next = chains;
        else
            d->todo = chains;
        d->todo_tail = tail;
        d->outstanding += nchains;
        pthread_mutex_unlock(&d->mu);
        curl_multi_wakeup(d->multi);
    }
    return n;
}

/* ------------------------------------------------------------ the thread */

/* With no subscription at all, moves the group past the stream's new
 * entries (og_webhook_dispatch_skip). Returns 1 when it did. */
static int skip_all(struct dispatcher *d)
{
    return og_webhook_dispatch_skip(d->w);
}

static void nap(struct dispatcher *d, int ms)
{
    og_thread_nap(&d->th, ms);
}

static void *run(struct og_thread *t)
{
    struct dispatcher *d = t->arg;
    while (og_thread_running(t)) {

        if (!d->ready) {
            if (setup(d) == 0) {
                d->ready = 1;
            } else {
                nap(d, 500);
                continue;
            }
        }
        refresh_subs(d, 0);
        int judged = collect(d, 0);
        int free_slots = CLAIM_AHEAD * d->concurrency - outstanding(d);
        int claimed = step(d);

        /* Nobody to deliver to: skip the events instead of reading each
         * one, and look again in 100 ms. */
        if (d->n_subs == 0 && claimed == 0 && outstanding(d) == 0 && n_res(d) == 0 && skip_all(d)) {
            nap(d, 100);
            continue;
        }
        /* Busy: read new entries when the due queues did not fill the free
         * slots (or every 20 ms), then wait a moment for transfers to
         * finish. Idle: read, and wait for a newer entry (up to 100 ms)
         * when there was none. */
        int idle = outstanding(d) == 0 && claimed == 0 && n_res(d) == 0;
        int got = 0;
        int64_t now = og_mono_ms();
        /* A backlog is read ahead (up to READ_AHEAD entries held): queues
         * then hold several events per session, claims take them together
         * and deliveries cost less. A burst of reads stops early when the
         * HTTP thread runs short of claimed work: at a cold start, when
         * chains are still one event long, it would otherwise wait for
         * whole bursts (deliveries ran at a third of the rate for the
         * first ~200 ms of bench_webhooks). But not before READ_MIN
         * reads: with one read per round, reading only kept pace with
         * the deliveries, the read-ahead never built up and claims took
         * ~3 items instead of whole chains. */
        int ahead = og_event_cache_count(d->cache) < READ_AHEAD;
        if (idle || claimed < free_slots || ahead || now - d->last_read_ms >= 20) {
            got = read_queue(d);
            for (int more = 1; more < READ_BURST && got > 0 && got % BATCH == 0 && ahead &&
                               (more < READ_MIN || !starving(d));
                 more++) {
                int n = read_queue(d);
                got += n > 0 ? n : 0;
                ahead = n == BATCH && og_event_cache_count(d->cache) < READ_AHEAD;
            }
            d->last_read_ms = now;
            if (idle && got == 0)
                wait_new(d, 100);
            else if (idle && got < 0)
                nap(d, 100); /* Redis is unavailable */
        }

        if (got > 1) /* a busy stream: the next read takes a batch */
            collect(d, OG_STREAM_COALESCE_MS);
        else if (!idle && got == 0 && judged == 0 && claimed == 0)
            collect(d, 2);
    }
    /* Let running attempts finish (up to 3 s) so their results are kept;
     * anything still running is redelivered after its lease. */
    int64_t until = og_mono_ms() + 3000;
    while (outstanding(d) > 0 && og_mono_ms() < until)
        collect(d, 20);
    d->draining = 1; /* report only: claim nothing more */
    step(d);
    return NULL;
}

/* Starts one dispatcher (its two threads) with `concurrency` transfers.
 * NULL when a thread cannot start. */
static struct dispatcher *dispatcher_start(struct og_gateway *g, struct og_event_cache *cache,
                                           int concurrency, int idx)
{
    struct dispatcher *d = og_calloc(1, sizeof *d);
    d->g = g;
    d->cache = cache;
    d->w = g->core;
    d->concurrency = concurrency;
    d->res = og_webhook_dispatch_results_new();
    snprintf(d->consumer, sizeof d->consumer, "%s-%d", g->instance_id, idx);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    d->multi = curl_multi_init();
    curl_multi_setopt(d->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)d->concurrency);
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)d->concurrency);
    d->easy_free = og_calloc((size_t)d->concurrency, sizeof *d->easy_free);
    d->easy_all = og_calloc((size_t)d->concurrency, sizeof *d->easy_all);
    for (int i = 0; i < d->concurrency; i++)
        d->easy_free[d->n_easy_free++] = d->easy_all[i] = easy_setup();
    if (og_thread_start(&d->http, http_run, d) != 0) {
        og_error("webhooks: cannot start the HTTP thread");
        return NULL;
    }
    if (og_thread_start(&d->th, run, d) != 0) {
        og_error("webhooks: cannot start the dispatcher thread");
        og_thread_ask_stop(&d->http);
        curl_multi_wakeup(d->multi);
        og_thread_stop(&d->http);
        return NULL;
    }
    return d;
}

static void free_jobs(struct job *j)
{
    while (j) {
        struct job *n = j->next;
        chain_free(j);
        j = n;
    }
}

/* Joins a dispatcher whose stop flag is set and frees it. */
static void dispatcher_free(struct dispatcher *d)
{
    og_thread_stop(&d->th);
    og_thread_ask_stop(&d->http);
    curl_multi_wakeup(d->multi);
    og_thread_stop(&d->http);
    /* Whatever is still in flight is abandoned: its lease brings it back. */
    for (int i = 0; i < d->concurrency; i++) {
        struct job *j = NULL;
        curl_easy_getinfo(d->easy_all[i], CURLINFO_PRIVATE, (char **)&j);
        if (j) {
            curl_multi_remove_handle(d->multi, d->easy_all[i]);
            chain_free(j->first);
        }
        curl_easy_cleanup(d->easy_all[i]);
    }
    curl_multi_cleanup(d->multi);
    free(d->easy_free);
    free(d->easy_all);
    free_jobs(d->todo);
    free_jobs(d->done);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    og_webhook_dispatch_results_free(d->res);
    signers_free(d);
    og_webhook_subs_free(d->subs, d->n_subs);
    free(d);
}

/* The worker: DISPATCHERS independent dispatchers sharing the configured
 * concurrency. Each is a consumer of its own in the group and behaves like
 * a separate instance (the design already lets instances share the work),
 * so their Redis round trips overlap too. */
struct og_webhook_dispatchers {
    struct dispatcher *d[DISPATCHERS];
    int n;
    struct og_event_cache *cache; /* owned */
};

static void stop(struct og_gateway *g)
{
    struct og_webhook_dispatchers *all = g->webhook_dispatch;
    if (!all)
        return;
    for (int i = 0; i < all->n; i++) /* all drain at once */
        og_thread_ask_stop(&all->d[i]->th);
    for (int i = 0; i < all->n; i++)
        dispatcher_free(all->d[i]);
    og_event_cache_free(all->cache);
    free(all);
    g->webhook_dispatch = NULL;
}

static int start(struct og_gateway *g)
{
    int total =
        (int)(g->cfg->webhook_dispatch.concurrency > 0 ? g->cfg->webhook_dispatch.concurrency : 64);
    /* The group and the config's subscriptions exist before the daemon
     * takes its first message: a "$" group made after an event was
     * appended, or another instance's skip (webhook_dispatch_skip.lua) while
     * no subscription was stored yet, would pass that event by. When Redis
     * does not answer yet, each dispatcher's setup does both. */
    if (og_stream_group_ensure(g->core, OG_STREAM_EVENTS, OG_GROUP_WEBHOOKS, "$") == OG_OK)
        og_webhook_sync_config(g);
    struct og_webhook_dispatchers *all = og_calloc(1, sizeof *all);
    all->cache = og_event_cache_new(CACHE_BYTES, CACHE_ENTRIES);
    g->webhook_dispatch = all;
    int n = total >= 16 ? DISPATCHERS : 1;
    for (int i = 0; i < n; i++) {
        int c = total / n + (i < total % n ? 1 : 0);
        all->d[all->n] = dispatcher_start(g, all->cache, c, i);
        if (!all->d[all->n]) {
            stop(g);
            return -1;
        }
        all->n++;
    }
    return 0;
}

const struct og_worker og_worker_webhooks = {"webhooks", start, stop};
