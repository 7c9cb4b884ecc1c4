/* og_followup_worker - e-mail follow-ups: two threads around core/og_followups.
 *
 *   the consumer reads {og}:events as a member of the consumer group
 *   "followups" (og_stream.h) and hands each event to og_followups_on_event:
 *   session.closed schedules the session.closed rules that match (channels,
 *   reasons, success_codes filters) and disarms the session's silence
 *   timers; message.received re-arms every customer_silent rule's timer. An
 *   entry is acknowledged only after its Redis step succeeded; entries left
 *   pending by an instance that died (or by a Redis failure) are taken over
 *   once idle for a minute. Steps are idempotent (a close schedules once per
 *   event id), so a redelivery is harmless.
 *
 *   the sender claims due follow-ups (and due silence timers) every 250 ms
 *   in one script, renders the rule's templates, sends over SMTP (og_smtp)
 *   and records the try: sent -> followup.sent; a temporary failure (4xx,
 *   no connection) -> retry after retry_initial_ms doubling up to
 *   retry_max_ms (+0..10 % jitter) until max_attempts, then followup.failed;
 *   a permanent failure (5xx) -> followup.failed at once. {{survey_url}} is
 *   public_url + "/csat/" + a signed token for the session (og_csat_link;
 *   "" without a public_url). A contact that
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
 * stop() returns within about half a second (the blocking read's time), or
 * aborts a running SMTP transfer. */
#include "og_csat.h"
#include "og_followups.h"
#include "og_gateway.h"
#include "og_log.h"
#include "og_smtp.h"
#include "og_stream.h"
#include "og_thread.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

#define BATCH 100
#define BLOCK_MS 500
#define TICK_MS 250
/* One follow-up per claim: its lease then covers exactly one SMTP transaction
 * (a batch would have to cover all of them). Claims are cheap (~20 us) and
 * the sender claims again at once while there is work. */
#define CLAIM_LIMIT 1
#define AUTOCLAIM_IDLE_MS 60000

struct og_fup_worker {
    struct og_gateway *g;                  /* [borrowed] */
    const struct og_config_followups *cfg; /* [borrowed] from g->cfg */
    struct og_fup_rule *rules;             /* owned, one per config rule */
    const struct og_fup_rule **silent;     /* owned array of pointers into rules */
    size_t n_rules, n_silent;
    struct og_smtp_conf smtp;
    struct og_stream_consumer *events; /* owned */
    atomic_int abort;                  /* stops a running SMTP transfer */
    struct og_thread consumer, sender;
};

static const struct og_config_followup *cfg_rule(struct og_fup_worker *w, const char *id)
{
    for (size_t i = 0; i < w->n_rules; i++)
        if (strcmp(w->cfg->rules[i].id, id) == 0)
            return &w->cfg->rules[i];
    return NULL;
}

/* ------------------------------------------------------------- consumer */

static enum og_stream_verdict on_event(void *ud, const struct og_stream_entry *e, int claimed)
{
    struct og_fup_worker *w = ud;
    int made = 0;
    og_err rc = og_followups_on_event(w->g->core, w->rules, w->n_rules, e, &made);
    if (made)
        og_info("followups: session %s closed: %d follow-up%s scheduled",
                og_stream_field(e, "session"), made, made == 1 ? "" : "s");
    return rc == OG_OK ? OG_STREAM_ACK : OG_STREAM_KEEP; /* kept: taken over later */
}

static void *consumer_main(struct og_thread *t)
{
    struct og_fup_worker *w = t->arg;
    while (og_thread_running(t)) {
        size_t got = 0;
        og_err e = og_stream_consume(w->events, BATCH, BLOCK_MS, on_event, w, &got);
        if (e != OG_OK)
            og_thread_nap(t, 500);
        else if (got > 1) /* a busy stream: let entries gather */
            og_thread_nap(t, OG_STREAM_COALESCE_MS);
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

static void record(struct og_fup_worker *w, const struct og_fup_job *job, enum og_fup_outcome o,
                   int64_t next, long code, const char *detail, const char *to, const char *subject)
{
    int stale = 0;
    og_err e = og_followups_done(w->g->core, job, o, next, code, detail, to, subject, &stale);
    if (e != OG_OK)
        og_warn("followups: %s: recording attempt %s failed: %s (the lease will run out and "
                "it is tried again)",
                job->id, job->attempt, og_strerror(e));
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
    og_err e = og_followups_load(w->g->core, job->id, &d);
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
        record(w, job, OG_FUP_SUPPRESSED, 0, 0, "contact opted out of follow-ups", d.email, NULL);
    } else if (!d.email[0] || !og_smtp_addr_ok(d.email)) {
        record(w, job, OG_FUP_FAILED, 0, 0, "contact has no e-mail address", NULL, NULL);
    } else {
        struct og_fup_templates t = {rule->subject, rule->text, rule->html};
        struct og_fup_mail m = {0};
        char *survey = og_csat_link(w->g->csat_key, w->g->cfg->public_url, job->session);
        og_followups_render(&d, &t, survey, &m);
        free(survey);
        struct og_mail mail = {.to = d.email,
                               .subject = m.subject,
                               .text = m.text,
                               .html = m.html,
                               .message_id = job->id};
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

static void *sender_main(struct og_thread *t)
{
    struct og_fup_worker *w = t->arg;
    /* Longer than one whole SMTP transaction (CURLOPT_TIMEOUT_MS bounds it),
     * so a live sender never loses its lease to another instance; short, so
     * the follow-ups of an instance that died are sent soon after. */
    int64_t lease = w->cfg->smtp.timeout_ms + 5000;
    while (og_thread_running(t)) {
        struct og_fup_job *jobs = NULL;
        size_t n = 0;
        og_err e =
            og_followups_claim(w->g->core, w->silent, w->n_silent, CLAIM_LIMIT, lease, &jobs, &n);
        for (size_t i = 0; e == OG_OK && i < n && og_thread_running(t); i++)
            process(w, &jobs[i]);
        free(jobs);
        if (e != OG_OK || n < CLAIM_LIMIT)
            og_thread_nap(t, TICK_MS);
    }
    return NULL;
}

/* ---------------------------------------------------------------- worker */

static void free_worker(struct og_fup_worker *w)
{
    og_stream_consumer_free(w->events);
    free(w->rules);
    free(w->silent);
    free(w);
}

static int fup_start(struct og_gateway *g)
{
    const struct og_config_followups *cfg = g->cfg->followups;
    size_t n = cfg ? cfg->n_rules : 0;
    if (n == 0 || !cfg->smtp_set)
        return 0; /* nothing to send: nothing reads the stream for nothing */
    struct og_fup_worker *w = og_calloc(1, sizeof *w);
    w->g = g;
    w->cfg = cfg;
    w->n_rules = n;
    w->rules = og_calloc(n, sizeof *w->rules);
    w->silent = og_calloc(n, sizeof *w->silent);
    for (size_t i = 0; i < n; i++) {
        const struct og_config_followup *r = &cfg->rules[i];
        w->rules[i] = (struct og_fup_rule){
            .id = r->id,
            .silent = strcmp(r->when, "customer_silent") == 0,
            .after_ms = r->after_s * 1000,
            .channels = (const char *const *)r->channels,
            .n_channels = r->n_channels,
            .reasons = (const char *const *)r->reasons,
            .n_reasons = r->n_reasons,
            .success_codes = (const char *const *)r->success_codes,
            .n_success_codes = r->n_success_codes,
        };
        if (w->rules[i].silent)
            w->silent[w->n_silent++] = &w->rules[i];
    }
    const char *tls = cfg->smtp.starttls;
    w->smtp = (struct og_smtp_conf){.url = cfg->smtp.url,
                                    .username = cfg->smtp.username,
                                    .password = cfg->smtp.password,
                                    .from = cfg->smtp.from,
                                    .ca_file = cfg->smtp.ca_file,
                                    .timeout_ms = (long)cfg->smtp.timeout_ms,
                                    .starttls = strcmp(tls, "always") == 0  ? OG_STARTTLS_ALWAYS
                                                : strcmp(tls, "never") == 0 ? OG_STARTTLS_NEVER
                                                                            : OG_STARTTLS_AUTO,
                                    .abort = &w->abort};
    /* The group exists before the daemon takes its first message (an event
     * appended before a "$" group is made would never be read); when Redis
     * does not answer yet, the consumer makes it on its first read. */
    og_stream_group_ensure(g->core, OG_STREAM_EVENTS, OG_GROUP_FOLLOWUPS, "$");
    w->events = og_stream_consumer_new(g->core, OG_STREAM_EVENTS, OG_GROUP_FOLLOWUPS,
                                       g->instance_id, "$", AUTOCLAIM_IDLE_MS);
    if (!w->events || og_thread_start(&w->consumer, consumer_main, w) != 0) {
        free_worker(w);
        return -1;
    }
    if (og_thread_start(&w->sender, sender_main, w) != 0) {
        og_thread_stop(&w->consumer);
        free_worker(w);
        return -1;
    }
    g->followups = w;
    og_info("followups: %zu rule%s (%zu on close, %zu on silence), smtp %s", n, n == 1 ? "" : "s",
            n - w->n_silent, w->n_silent, cfg->smtp.url);
    return 0;
}

static void fup_stop(struct og_gateway *g)
{
    struct og_fup_worker *w = g->followups;
    if (!w)
        return;
    atomic_store(&w->abort, 1);
    og_thread_ask_stop(&w->consumer);
    og_thread_ask_stop(&w->sender);
    og_thread_stop(&w->consumer);
    og_thread_stop(&w->sender);
    g->followups = NULL;
    free_worker(w);
}

const struct og_worker og_worker_followups = {"followups", fup_start, fup_stop};
