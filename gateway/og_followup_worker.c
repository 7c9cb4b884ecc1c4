/* og_followup_worker - e-mail follow-ups: two threads around core/og_followups.
 *
 *   the consumer reads {og}:events through its own consumer group
 *   "followups": session.closed schedules the session.closed rules that
 *   match (channels, reasons, success_codes filters) and disarms the
 *   session's silence timers; message.received re-arms every customer_silent
 *   rule's timer. An entry is acknowledged only after its Redis step
 *   succeeded; entries left pending by an instance that died (or by a Redis
 *   failure) are taken over with XAUTOCLAIM once idle for a minute. Steps
 *   are idempotent (a close schedules once per event id), so a redelivery
 *   is harmless.
 *
 *   the sender claims due follow-ups (and due silence timers) every 250 ms
 *   in one script, renders the rule's templates, sends over SMTP (og_smtp)
 *   and records the try: sent -> followup.sent; a temporary failure (4xx,
 *   no connection) -> retry after retry_initial_ms doubling up to
 *   retry_max_ms (+0..10 % jitter) until max_attempts, then followup.failed;
 *   a permanent failure (5xx) -> followup.failed at once. {{survey_url}} is
 *   public_url + "/csat/" + the session id ("" without a public_url). A contact that
 *   opted out is "suppressed" (recorded, no mail, no event); a contact
 *   without an e-mail address fails ("no recipient").
 *
 * Without rules (or without SMTP) neither thread runs, so nothing reads the
 * stream for nothing.
 *
 * The consumer reads in batches: after a read that returned more than one
 * entry it waits OG_STREAM_COALESCE_MS, since a blocking read wakes on every
 * single event and would cost Redis a round trip per event under load.
 *
 * Redis: the blocking XREADGROUP uses the shared pool with BLOCK 500 ms,
 * under the pool's 2 s socket timeout (TOOLCHAIN.md §2), so reconnect and
 * back-off are the pool's; stop() returns within about half a second, or
 * aborts a running SMTP transfer. */
#include "og_api.h"
#include "og_followups.h"
#include "og_gateway.h"
#include "og_log.h"
#include "og_smtp.h"
#include "og_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GROUP "followups"
#define BATCH 100
#define BLOCK_MS 500
#define TICK_MS 250
/* One follow-up per claim: its lease then covers exactly one SMTP transaction
 * (a batch would have to cover all of them). Claims are cheap (~20 us) and
 * the sender claims again at once while there is work. */
#define CLAIM_LIMIT 1
#define AUTOCLAIM_IDLE_MS 60000
#define AUTOCLAIM_EVERY_MS 15000

struct og_fup_worker {
    struct og_gateway *g;                /* [borrowed] */
    struct og_followups *f;              /* owned */
    const struct og_config_followups *cfg; /* [borrowed] from g->cfg */
    struct og_fup_rule *rules;           /* owned, one per config rule */
    const struct og_fup_rule **closed, **silent; /* owned arrays of pointers into rules */
    size_t n_rules, n_closed, n_silent;
    struct og_smtp_conf smtp;
    char consumer[64];
    atomic_int stop;
    int threads;                         /* 1 when consumer and sender run */
    pthread_t consumer_t, sender_t;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

struct og_followups *og_followup_worker_core(struct og_gateway *g);

/* The follow-ups' core state, for the API (og_api_contacts.c). NULL before start. */
struct og_followups *og_followup_worker_core(struct og_gateway *g)
{
    return g->followups ? g->followups->f : NULL;
}

static const struct og_config_followup *cfg_rule(struct og_fup_worker *w, const char *id)
{
    for (size_t i = 0; i < w->n_rules; i++)
        if (strcmp(w->cfg->rules[i].id, id) == 0)
            return &w->cfg->rules[i];
    return NULL;
}

static void nap(struct og_fup_worker *w, int ms)
{
    struct timespec ts = og_deadline(CLOCK_REALTIME, ms);
    pthread_mutex_lock(&w->mu);
    if (!atomic_load(&w->stop))
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    pthread_mutex_unlock(&w->mu);
}

/* ------------------------------------------------------------- consumer */

static int in_list(char **list, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* 1 when the closed session passes the rule's filters. */
static int matches(const struct og_config_followup *r, json_object *ses)
{
    if (r->n_channels && !in_list(r->channels, r->n_channels, jstr(ses, "channel")))
        return 0;
    if (r->n_reasons && !in_list(r->reasons, r->n_reasons, jstr(ses, "close_reason")))
        return 0;
    if (r->n_success_codes) {
        json_object *codes = json_object_object_get(ses, "success_codes");
        size_t n = json_object_is_type(codes, json_type_array) ? json_object_array_length(codes)
                                                                : 0;
        int any = 0;
        for (size_t i = 0; i < n && !any; i++)
            any = in_list(r->success_codes, r->n_success_codes,
                          json_object_get_string(json_object_array_get_idx(codes, i)));
        if (!any)
            return 0;
    }
    return 1;
}

/* Handles one stream entry; OG_OK when it may be acknowledged. */
static og_err handle_entry(struct og_fup_worker *w, redisReply *fields)
{
    const char *type = NULL, *ev = NULL, *sid = NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const char *k = fields->element[i]->str, *v = fields->element[i + 1]->str;
        if (!k || !v)
            continue;
        if (strcmp(k, "type") == 0)
            type = v;
        else if (strcmp(k, "event") == 0)
            ev = v;
        else if (strcmp(k, "session") == 0)
            sid = v;
    }
    if (!type || !sid || !*sid)
        return OG_OK;
    if (strcmp(type, "message.received") == 0)
        return og_followups_on_message(w->f, sid, w->silent, w->n_silent);
    if (strcmp(type, "session.closed") != 0 || !ev)
        return OG_OK;
    json_object *e = json_tokener_parse(ev);
    json_object *data = json_object_object_get(e, "data");
    json_object *ses = json_object_object_get(data, "session");
    const char *eid = jstr(e, "id");
    og_err rc = OG_OK;
    if (ses && eid) {
        const struct og_fup_rule **m = og_calloc(w->n_closed + 1, sizeof *m);
        size_t nm = 0;
        for (size_t i = 0; i < w->n_closed; i++)
            if (matches(cfg_rule(w, w->closed[i]->id), ses))
                m[nm++] = w->closed[i];
        int made = 0;
        rc = og_followups_on_closed(w->f, sid, eid, m, nm, w->silent, w->n_silent, &made);
        if (made)
            og_info("followups: session %s closed: %d follow-up%s scheduled", sid, made,
                    made == 1 ? "" : "s");
        free(m);
    } else {
        og_warn("followups: malformed session.closed event for %s ignored", sid);
    }
    json_object_put(e);
    return rc;
}

static void handle_entries(struct og_fup_worker *w, redisReply *entries)
{
    struct og_core *c = w->g->core;
    for (size_t i = 0; i < entries->elements; i++) {
        redisReply *en = entries->element[i];
        if (en->type != REDIS_REPLY_ARRAY || en->elements < 2 ||
            en->element[0]->type != REDIS_REPLY_STRING)
            continue;
        if (en->element[1]->type == REDIS_REPLY_ARRAY && handle_entry(w, en->element[1]) != OG_OK)
            continue; /* left pending: XAUTOCLAIM retries it */
        redisReply *r = NULL;
        if (og_redis_cmd(c->redis, &r, "XACK %s:events %s %s", c->tag, GROUP,
                         en->element[0]->str) == OG_OK)
            freeReplyObject(r);
    }
}

static int ensure_group(struct og_fup_worker *w)
{
    struct og_core *c = w->g->core;
    redisReply *r = NULL;
    if (og_redis_cmd(c->redis, &r, "XGROUP CREATE %s:events %s $ MKSTREAM", c->tag, GROUP) !=
        OG_OK)
        return 0;
    int ok = r->type != REDIS_REPLY_ERROR || strstr(r->str, "BUSYGROUP");
    if (!ok)
        og_error("followups: XGROUP CREATE: %s", r->str);
    freeReplyObject(r);
    return ok;
}

static void *consumer_main(void *ud)
{
    struct og_fup_worker *w = ud;
    struct og_core *c = w->g->core;
    int ready = 0;
    int64_t next_autoclaim = 0;
    while (!atomic_load(&w->stop)) {
        if (!ready && !(ready = ensure_group(w))) {
            nap(w, 500);
            continue;
        }
        redisReply *r = NULL;
        size_t got = 0;
        if (og_mono_ms() >= next_autoclaim) {
            next_autoclaim = og_mono_ms() + AUTOCLAIM_EVERY_MS;
            if (og_redis_cmd(c->redis, &r, "XAUTOCLAIM %s:events %s %s %d 0-0 COUNT %d", c->tag,
                             GROUP, w->consumer, AUTOCLAIM_IDLE_MS, BATCH) == OG_OK) {
                if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
                    r->element[1]->type == REDIS_REPLY_ARRAY)
                    handle_entries(w, r->element[1]);
                freeReplyObject(r);
            }
        }
        og_err e = og_redis_cmd(c->redis, &r,
                                "XREADGROUP GROUP %s %s COUNT %d BLOCK %d STREAMS %s:events >",
                                GROUP, w->consumer, BATCH, BLOCK_MS, c->tag);
        if (e != OG_OK) {
            nap(w, 500);
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            if (strstr(r->str, "NOGROUP"))
                ready = 0;
            else
                og_error("followups: XREADGROUP: %s", r->str);
        } else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                   r->element[0]->elements >= 2) {
            handle_entries(w, r->element[0]->element[1]);
            got = r->element[0]->element[1]->elements;
        }
        freeReplyObject(r);
        if (got > 1) /* a busy stream: let entries gather (nap returns at stop) */
            nap(w, OG_STREAM_COALESCE_MS);
    }
    return NULL;
}

/* --------------------------------------------------------------- sender */

static int64_t backoff_ms(const struct og_fup_worker *w, int attempt)
{
    int64_t d = w->cfg->smtp.retry_initial_ms;
    for (int i = 1; i < attempt && d < w->cfg->smtp.retry_max_ms; i++)
        d *= 2;
    if (d > w->cfg->smtp.retry_max_ms)
        d = w->cfg->smtp.retry_max_ms;
    uint32_t rnd;
    og_random_bytes(&rnd, sizeof rnd);
    return d + (int64_t)(rnd % 1000) * d / 10000; /* +0..10 % */
}

static void record(struct og_fup_worker *w, const struct og_fup_job *job,
                   enum og_fup_outcome o, int64_t next, long code, const char *detail,
                   const char *to, const char *subject)
{
    int stale = 0;
    og_err e = og_followups_done(w->f, job, o, next, code, detail, to, subject, &stale);
    if (e != OG_OK)
        og_warn("followups: %s: recording attempt %s failed: %s (the lease will run out and "
                "it is tried again)", job->id, job->attempt, og_strerror(e));
    else if (stale)
        og_warn("followups: %s: attempt %s finished after its lease ran out", job->id,
                job->attempt);
}

static void process(struct og_fup_worker *w, const struct og_fup_job *job)
{
    const struct og_config_followup *rule = cfg_rule(w, job->rule);
    if (!rule) {
        record(w, job, OG_FUP_FAILED, 0, 0, "rule no longer configured", NULL, NULL);
        return;
    }
    struct og_fup_data d;
    og_err e = og_followups_load(w->f, job->id, &d);
    if (e == OG_ERR_NOT_FOUND) {
        record(w, job, OG_FUP_FAILED, 0, 0, "session no longer exists", NULL, NULL);
        return;
    }
    if (e == OG_ERR_UNAVAILABLE)
        return; /* Redis trouble: the lease runs out and it is claimed again */
    if (e != OG_OK) {
        record(w, job, OG_FUP_FAILED, 0, 0, "stored session could not be read", NULL, NULL);
        return;
    }
    if (d.opt_out) {
        record(w, job, OG_FUP_SUPPRESSED, 0, 0, "contact opted out of follow-ups", d.email,
               NULL);
    } else if (!d.email[0] || !og_smtp_addr_ok(d.email)) {
        record(w, job, OG_FUP_FAILED, 0, 0, "contact has no e-mail address", NULL, NULL);
    } else {
        struct og_fup_templates t = {rule->subject, rule->text, rule->html};
        struct og_fup_mail m = {0};
        og_followups_render(&d, &t, w->g->cfg->public_url, &m);
        struct og_mail mail = {.to = d.email, .subject = m.subject, .text = m.text,
                               .html = m.html, .message_id = job->id};
        struct og_smtp_result res;
        e = og_smtp_send(&w->smtp, &mail, &res);
        int attempt = atoi(job->attempt);
        if (e == OG_OK) {
            og_info("followups: %s (%s) sent to session %s's contact", job->id, job->rule,
                    job->session);
            record(w, job, OG_FUP_SENT, 0, res.code, NULL, d.email, m.subject);
        } else if (e == OG_ERR_RETRYABLE && attempt < w->cfg->smtp.max_attempts) {
            int64_t next = og_now_ms() + backoff_ms(w, attempt);
            og_warn("followups: %s attempt %d: %s; retrying", job->id, attempt, res.detail);
            record(w, job, OG_FUP_RETRY, next, res.code, res.detail, d.email, m.subject);
        } else {
            og_warn("followups: %s attempt %d: %s; giving up", job->id, attempt, res.detail);
            record(w, job, OG_FUP_FAILED, 0, res.code, res.detail, d.email, m.subject);
        }
        og_fup_mail_clear(&m);
    }
    og_fup_data_clear(&d);
}

static void *sender_main(void *ud)
{
    struct og_fup_worker *w = ud;
    /* Longer than one whole SMTP transaction (CURLOPT_TIMEOUT_MS bounds it),
     * so a live sender never loses its lease to another instance; short, so
     * the follow-ups of an instance that died are sent soon after. */
    int64_t lease = w->cfg->smtp.timeout_ms + 5000;
    while (!atomic_load(&w->stop)) {
        struct og_fup_job *jobs = NULL;
        size_t n = 0;
        og_err e = og_followups_claim(w->f, w->silent, w->n_silent, CLAIM_LIMIT, lease, &jobs,
                                      &n);
        for (size_t i = 0; e == OG_OK && i < n && !atomic_load(&w->stop); i++)
            process(w, &jobs[i]);
        free(jobs);
        if (e != OG_OK || n < CLAIM_LIMIT)
            nap(w, TICK_MS);
    }
    return NULL;
}

/* ---------------------------------------------------------------- worker */

static void free_worker(struct og_fup_worker *w)
{
    og_followups_free(w->f);
    free(w->rules);
    free(w->closed);
    free(w->silent);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

static int fup_start(struct og_gateway *g)
{
    struct og_fup_worker *w = og_calloc(1, sizeof *w);
    w->g = g;
    w->cfg = g->cfg->followups;
    w->f = og_followups_new(g->core);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    snprintf(w->consumer, sizeof w->consumer, "%s", g->instance_id);
    g->followups = w;
    size_t n = w->cfg ? w->cfg->n_rules : 0;
    if (n == 0 || !w->cfg->smtp_set)
        return 0; /* contacts API only */
    w->n_rules = n;
    w->rules = og_calloc(n, sizeof *w->rules);
    w->closed = og_calloc(n, sizeof *w->closed);
    w->silent = og_calloc(n, sizeof *w->silent);
    for (size_t i = 0; i < n; i++) {
        const struct og_config_followup *r = &w->cfg->rules[i];
        w->rules[i].id = r->id;
        w->rules[i].silent = strcmp(r->when, "customer_silent") == 0;
        w->rules[i].after_ms = r->after_s * 1000;
        if (w->rules[i].silent)
            w->silent[w->n_silent++] = &w->rules[i];
        else
            w->closed[w->n_closed++] = &w->rules[i];
    }
    const char *tls = w->cfg->smtp.starttls;
    w->smtp = (struct og_smtp_conf){
        .url = w->cfg->smtp.url, .username = w->cfg->smtp.username,
        .password = w->cfg->smtp.password, .from = w->cfg->smtp.from,
        .ca_file = w->cfg->smtp.ca_file, .timeout_ms = (long)w->cfg->smtp.timeout_ms,
        .starttls = strcmp(tls, "always") == 0  ? OG_STARTTLS_ALWAYS
                    : strcmp(tls, "never") == 0 ? OG_STARTTLS_NEVER
                                                : OG_STARTTLS_AUTO,
        .abort = &w->stop};
    if (pthread_create(&w->consumer_t, NULL, consumer_main, w) != 0) {
        g->followups = NULL;
        free_worker(w);
        return -1;
    }
    if (pthread_create(&w->sender_t, NULL, sender_main, w) != 0) {
        atomic_store(&w->stop, 1);
        pthread_join(w->consumer_t, NULL);
        g->followups = NULL;
        free_worker(w);
        return -1;
    }
    w->threads = 1;
    og_info("followups: %zu rule%s (%zu on close, %zu on silence), smtp %s", n,
            n == 1 ? "" : "s", w->n_closed, w->n_silent, w->cfg->smtp.url);
    return 0;
}

static void fup_stop(struct og_gateway *g)
{
    struct og_fup_worker *w = g->followups;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->stop, 1);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->threads) {
        pthread_join(w->consumer_t, NULL);
        pthread_join(w->sender_t, NULL);
    }
    g->followups = NULL;
    free_worker(w);
}

const struct og_worker og_worker_followups = {"followups", fup_start, fup_stop};
