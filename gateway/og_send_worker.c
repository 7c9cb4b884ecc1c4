/* og_send_worker - the send queue's consumers: `send.workers` threads per
 * instance read P:outbox through the consumer group "senders", each on a
 * Redis connection of its own (a blocking XREADGROUP must not hold a pooled
 * connection, and the socket timeout must exceed the BLOCK time).
 *
 * For each entry: load the message (counting the attempt), wait for the
 * channel's rate limit (shared by all instances, core/lua/outbox.lua "rate"),
 * call the connector's send(), and record the outcome in one script that
 * also acknowledges the entry:
 *   OK                     -> sent (provider id, pmid mapping, message.sent)
 *   RATE_LIMITED           -> the whole channel pauses for Retry-After, retry then
 *   RETRYABLE and the like -> retry after send.retry_backoff_ms doubling (with
 *                             jitter, capped at retry_max_ms), failed after
 *                             send.max_attempts
 *   WINDOW_CLOSED, PERMANENT, AUTH, INVALID, UNSUPPORTED -> failed at once
 * Retries wait in the zset P:outbox:retry and are moved back into the stream
 * when due (claimed atomically, so with several instances each moves once).
 * Thread 0 also fires due service-window timers (session.window_closed).
 * Entries left pending by a dead instance are taken over with XAUTOCLAIM
 * after send.claim_idle_ms. */
#include "og_gateway.h"
#include "og_log.h"
#include "og_outbox.h"
#include "og_util.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCK_MS 1000

struct og_send_worker {
    struct og_gateway *g;
    pthread_t *threads;
    struct sender *senders;
    int n;
    atomic_int stop;
    char *url;
};

struct sender {
    struct og_send_worker *w;
    int idx;
    struct og_redis *conn;      /* owned: one connection for blocking reads */
    char consumer[80];
};

char *og_gateway_redis_url(const struct og_gateway *g)
{
    const char *url = g->cfg->redis.url;
    if (strcmp(url, "embedded") != 0)
        return og_strdup(url);
    /* The same socket og_embedded_start() chose. */
    char abs[PATH_MAX];
    if (!realpath(g->cfg->data_dir, abs))
        return NULL;
    return og_sprintf("unix://%s/redis/redis.sock", abs);
}

static void nap(struct og_send_worker *w, int64_t ms)
{
    while (ms > 0 && !atomic_load(&w->stop)) {
        int64_t step = ms < 50 ? ms : 50;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static void ensure_group(struct og_core *c)
{
    redisReply *r = NULL;
    /* From "0": entries queued before the group existed are sent too (the
     * load script skips any that are no longer pending). */
    if (og_redis_cmd(c->redis, &r, "XGROUP CREATE %s:outbox senders 0 MKSTREAM", c->tag) ==
        OG_OK)
        freeReplyObject(r);
}

static const struct og_config_channel *channel_cfg(struct og_gateway *g, const char *id)
{
    for (size_t i = 0; i < g->cfg->n_channels; i++)
        if (g->cfg->channels[i].id && strcmp(g->cfg->channels[i].id, id) == 0)
            return &g->cfg->channels[i];
    return NULL;
}

static struct og_channel *channel_of(struct og_gateway *g, const char *id)
{
    for (size_t i = 0; i < g->n_channels; i++)
        if (strcmp(g->channels[i]->id, id) == 0)
            return g->channels[i];
    return NULL;
}

static int64_t backoff(struct og_send_worker *w, int attempt)
{
    const struct og_config *cfg = w->g->cfg;
    int64_t d = cfg->send.retry_backoff_ms;
    for (int i = 1; i < attempt && d < cfg->send.retry_max_ms; i++)
        d *= 2;
    if (d > cfg->send.retry_max_ms)
        d = cfg->send.retry_max_ms;
    unsigned char r;
    og_random_bytes(&r, 1);
    return d - d / 5 + (d * 2 / 5) * r / 255; /* +-20 % jitter */
}

/* Sends one entry and records the outcome. Returns without recording (the
 * entry stays pending, to be claimed again) only when Redis is unavailable or
 * the worker is stopping. */
static void process(struct sender *s, const char *entry, const char *mid, int claimed)
{
    struct og_send_worker *w = s->w;
    struct og_core *c = w->g->core;
    struct og_outbox_item it;
    og_err e = og_outbox_load(c, mid, claimed ? w->g->cfg->send.claim_idle_ms : 0, &it);
    if (e == OG_ERR_NOT_FOUND) { /* gone, or sent/failed already */
        og_outbox_ack(c, entry);
        return;
    }
    if (e == OG_ERR_INTERNAL) { /* unreadable: say so rather than leave it pending */
        og_outbox_fail(c, mid, entry, "internal", "the stored message could not be read");
        return;
    }
    if (e != OG_OK)
        return;
    struct og_channel *ch = channel_of(w->g, it.channel);
    if (!ch) {
        og_outbox_fail(c, mid, entry, "channel_gone", "the channel is no longer configured");
        goto out;
    }
    if (it.attempts > w->g->cfg->send.max_attempts) {
        og_outbox_fail(c, mid, entry, "too_many_attempts",
                       "the send was interrupted too many times");
        goto out;
    }
    const struct og_config_channel *cc = channel_cfg(w->g, ch->id);
    double rate = cc && cc->rate_limit_per_s > 0 ? cc->rate_limit_per_s
                                                 : ch->plugin->desc->default_rate_per_s;
    for (;;) {
        int64_t wait = 0;
        if (og_outbox_rate(c, ch->id, rate, 0, &wait) != OG_OK || atomic_load(&w->stop))
            goto out;
        if (wait <= 0)
            break;
        nap(w, wait < 1000 ? wait : 1000);
    }
    struct og_send_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    res.retry_after_ms = -1;
    e = ch->plugin->desc->send(ch->inst, &it.ob, &res);
    if (res.reply_token_consumed && it.ob.reply_token)
        og_outbox_spend_token(c, mid, it.ob.reply_token);
    const char *code = res.error_code[0] ? res.error_code : og_err_name(e);
    const char *msg = res.error_message[0] ? res.error_message : og_strerror(e);
    int64_t now = og_now_ms();
    switch (e) {
    case OG_OK:
        og_outbox_sent(c, mid, entry, res.provider_message_id);
        break;
    case OG_ERR_RATE_LIMITED: {
        int64_t after = res.retry_after_ms >= 0 ? res.retry_after_ms : backoff(w, it.attempts);
        int64_t wait = 0;
        og_outbox_rate(c, ch->id, rate, now + after, &wait);
        og_log_write(OG_LOG_INFO, ch->scope, "%s rate limited; retrying in %lld ms", mid,
                     (long long)after);
        og_outbox_retry(c, mid, entry, now + after, code, msg);
        break;
    }
    case OG_ERR_RETRYABLE:
    case OG_ERR_NOMEM:
    case OG_ERR_INTERNAL:
    case OG_ERR_UNAVAILABLE:
        if (it.attempts >= w->g->cfg->send.max_attempts) {
            og_log_write(OG_LOG_WARN, ch->scope, "%s failed after %d attempts: %s", mid,
                         it.attempts, msg);
            og_outbox_fail(c, mid, entry, code, msg);
        } else {
            int64_t d = backoff(w, it.attempts);
            og_log_write(OG_LOG_INFO, ch->scope, "%s attempt %d failed (%s); retrying in %lld ms",
                         mid, it.attempts, msg, (long long)d);
            og_outbox_retry(c, mid, entry, now + d, code, msg);
        }
        break;
    default:
        og_log_write(OG_LOG_INFO, ch->scope, "%s failed: %s (%s)", mid, code, msg);
        og_outbox_fail(c, mid, entry, code, msg);
        break;
    }
    free(res.provider_message_id);
out:
    og_outbox_item_free(&it);
}

/* Handles the entries of an XREADGROUP/XAUTOCLAIM entry list. */
static void process_entries(struct sender *s, redisReply *list, int claimed)
{
    for (size_t i = 0; list && list->type == REDIS_REPLY_ARRAY && i < list->elements; i++) {
        redisReply *en = list->element[i];
        if (en->type != REDIS_REPLY_ARRAY || en->elements < 2 ||
            en->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const char *mid = NULL;
        redisReply *f = en->element[1];
        for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2)
            if (strcmp(f->element[k]->str, "m") == 0)
                mid = f->element[k + 1]->str;
        if (mid)
            process(s, en->element[0]->str, mid, claimed);
        else
            og_outbox_ack(s->w->g->core, en->element[0]->str);
    }
}

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    struct og_send_worker *w = s->w;
    struct og_core *c = w->g->core;
    int64_t next_pump = 0, next_claim = 0;
    int64_t claim_every = w->g->cfg->send.claim_idle_ms / 2;
    if (claim_every < 100)
        claim_every = 100;
    char idle[24];
    snprintf(idle, sizeof idle, "%lld", (long long)w->g->cfg->send.claim_idle_ms);
    while (!atomic_load(&w->stop)) {
        int64_t now = og_mono_ms();
        if (s->idx == 0 && now >= next_pump) {
            int n = 0;
            og_outbox_pump(c, 100, &n);
            og_outbox_windows(c, 100, &n);
            next_pump = now + 200;
        }
        redisReply *r = NULL;
        if (now >= next_claim) {
            next_claim = now + claim_every;
            if (og_redis_cmd(c->redis, &r, "XAUTOCLAIM %s:outbox senders %s %s 0-0 COUNT 16",
                             c->tag, s->consumer, idle) == OG_OK) {
                if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2)
                    process_entries(s, r->element[1], 1);
                freeReplyObject(r);
            }
            r = NULL;
        }
        /* A short BLOCK on thread 0 keeps the retry pump and timers on time. */
        og_err e = og_redis_cmd(s->conn, &r,
                                "XREADGROUP GROUP senders %s COUNT 1 BLOCK %d STREAMS "
                                "%s:outbox >",
                                s->consumer, s->idx == 0 ? 200 : BLOCK_MS, c->tag);
        if (e != OG_OK) {
            nap(w, 500);
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            if (strncmp(r->str, "NOGROUP", 7) == 0)
                ensure_group(c); /* Redis lost its data (or a FLUSHALL) */
            else
                og_warn("send: %s", r->str);
            freeReplyObject(r);
            nap(w, 500);
            continue;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1) {
            redisReply *st = r->element[0];
            if (st->type == REDIS_REPLY_ARRAY && st->elements >= 2)
                process_entries(s, st->element[1], 0);
        }
        freeReplyObject(r);
    }
    return NULL;
}

static int send_start(struct og_gateway *g)
{
    struct og_send_worker *w = og_calloc(1, sizeof *w);
    w->g = g;
    w->url = og_gateway_redis_url(g);
    if (!w->url) {
        og_error("send: cannot resolve the redis URL");
        free(w);
        return -1;
    }
    ensure_group(g->core);
    w->n = (int)g->cfg->send.workers;
    w->threads = og_calloc((size_t)w->n, sizeof *w->threads);
    w->senders = og_calloc((size_t)w->n, sizeof *w->senders);
    for (int i = 0; i < w->n; i++) {
        struct sender *s = &w->senders[i];
        char errbuf[256];
        struct og_redis_opts o = {.url = w->url, .password = g->cfg->redis.password,
                                  .pool_size = 1, .timeout_ms = BLOCK_MS + 4000};
        s->w = w;
        s->idx = i;
        s->conn = og_redis_new(&o, errbuf, sizeof errbuf);
        snprintf(s->consumer, sizeof s->consumer, "%s-%d", g->instance_id, i);
        if (!s->conn || pthread_create(&w->threads[i], NULL, sender_main, s) != 0) {
            og_error("send: cannot start sender %d", i);
            og_redis_free(s->conn);
            s->conn = NULL;
            w->n = i;
            g->send = w;
            og_worker_send.stop(g);
            return -1;
        }
    }
    g->send = w;
    og_info("send: %d sender%s", w->n, w->n == 1 ? "" : "s");
    return 0;
}

static void send_stop(struct og_gateway *g)
{
    struct og_send_worker *w = g->send;
    if (!w)
        return;
    atomic_store(&w->stop, 1);
    for (int i = 0; i < w->n; i++) {
        pthread_join(w->threads[i], NULL);
        og_redis_free(w->senders[i].conn);
        /* A consumer with nothing pending leaves the group, so the group does
         * not collect one dead name per restart; one with entries stays until
         * XAUTOCLAIM has moved them elsewhere. */
        redisReply *r = NULL;
        struct og_core *c = g->core;
        if (og_redis_cmd(c->redis, &r, "XPENDING %s:outbox senders - + 1 %s", c->tag,
                         w->senders[i].consumer) == OG_OK) {
            int idle = r->type == REDIS_REPLY_ARRAY && r->elements == 0;
            freeReplyObject(r);
            if (idle && og_redis_cmd(c->redis, &r, "XGROUP DELCONSUMER %s:outbox senders %s",
                                     c->tag, w->senders[i].consumer) == OG_OK)
                freeReplyObject(r);
        }
    }
    free(w->threads), free(w->senders), free(w->url), free(w);
    g->send = NULL;
}

const struct og_worker og_worker_send = {"send", send_start, send_stop};
