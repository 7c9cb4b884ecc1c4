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
 * Each sender is a consumer of its own in the group (og_stream.h); entries
 * left pending by a dead instance are taken over after send.claim_idle_ms. */
#include "og_gateway.h"
#include "og_log.h"
#include "og_outbox.h"
#include "og_stream.h"
#include "og_thread.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_MS 1000

struct og_send_worker {
    struct og_gateway *g;
    struct sender *senders; /* owned, n of them */
    int n;
};

struct sender {
    struct og_send_worker *w;
    int idx;
    struct og_stream_consumer *outbox; /* owned */
    struct og_thread t;
};

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
    struct og_thread *t = &s->t;
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
        if (og_outbox_rate(c, ch->id, rate, 0, &wait) != OG_OK || !og_thread_running(t))
            goto out;
        if (wait <= 0)
            break;
        og_thread_nap(t, wait < 1000 ? wait : 1000);
    }
    struct og_send_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    res.retry_after_ms = -1;
    e = og_channel_send(ch, &it.ob, &res); /* attachment URLs: og_fetch.h */
    if (res.reply_token_consumed && it.ob.reply_token)
        og_outbox_spend_token(c, mid, it.ob.reply_token);
    const char *code = res.error_code[0] ? res.error_code : og_err_name(e);
    const char *msg = res.error_message[0] ? res.error_message : og_strerror(e);
    int64_t now = og_now_ms();
    switch (e) {
    case OG_OK: og_outbox_sent(c, mid, entry, res.provider_message_id); break;
    case OG_ERR_RATE_LIMITED: {
        int64_t after = res.retry_after_ms >= 0 ? res.retry_after_ms : backoff(w, it.attempts);
        int64_t wait = 0;
        og_outbox_rate(c, ch->id, rate, now + after, &wait);
        og_log_write(OG_LOG_INFO, ch->scope, "%s rate limited; retrying in %lld ms", mid,
                     (long long)after);
        og_outbox_retry(c, mid, entry, now + after, code, msg);
        atomic_fetch_add(&ch->stats.retried, 1);
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
            atomic_fetch_add(&ch->stats.failed, 1);
        } else {
            int64_t d = backoff(w, it.attempts);
            og_log_write(OG_LOG_INFO, ch->scope, "%s attempt %d failed (%s); retrying in %lld ms",
                         mid, it.attempts, msg, (long long)d);
            og_outbox_retry(c, mid, entry, now + d, code, msg);
            atomic_fetch_add(&ch->stats.retried, 1);
        }
        break;
    default:
        og_log_write(OG_LOG_INFO, ch->scope, "%s failed: %s (%s)", mid, code, msg);
        og_outbox_fail(c, mid, entry, code, msg);
        atomic_fetch_add(&ch->stats.failed, 1);
        break;
    }
    free(res.provider_message_id);
out:
    og_outbox_item_free(&it);
}

/* An entry of P:outbox: {m = message id}. Its outcome's script
 * acknowledges it (sent, retry, fail); one left pending (Redis down, the
 * worker stopping) is taken over again after claim_idle_ms. */
static enum og_stream_verdict on_entry(void *ud, const struct og_stream_entry *e, int claimed)
{
    struct sender *s = ud;
    const char *mid = og_stream_field(e, "m");
    if (!mid)
        return OG_STREAM_ACK;
    process(s, e->id, mid, claimed);
    return OG_STREAM_KEEP;
}

static void *sender_main(struct og_thread *t)
{
    struct sender *s = t->arg;
    struct og_core *c = s->w->g->core;
    int64_t next_pump = 0;
    while (og_thread_running(t)) {
        int64_t now = og_mono_ms();
        if (s->idx == 0 && now >= next_pump) {
            int n = 0;
            og_outbox_pump(c, 100, &n);
            og_outbox_windows(c, 100, &n);
            next_pump = now + 200;
        }
        /* One entry at a time; a short block on thread 0 keeps the retry
         * pump and the timers on time. */
        size_t got = 0;
        if (og_stream_consume(s->outbox, 1, s->idx == 0 ? 200 : BLOCK_MS, on_entry, s, &got) !=
            OG_OK)
            og_thread_nap(t, 500);
    }
    return NULL;
}

static void send_stop(struct og_gateway *g);

static int send_start(struct og_gateway *g)
{
    struct og_send_worker *w = og_calloc(1, sizeof *w);
    w->g = g;
    og_stream_group_ensure(g->core, OG_STREAM_OUTBOX, OG_GROUP_SENDERS, "0");
    int n = (int)g->cfg->send.workers;
    w->senders = og_calloc((size_t)n, sizeof *w->senders);
    g->send = w;
    for (int i = 0; i < n; i++) {
        struct sender *s = &w->senders[i];
        char consumer[80];
        snprintf(consumer, sizeof consumer, "%s-%d", g->instance_id, i);
        s->w = w;
        s->idx = i;
        /* From "0": entries queued before the group existed are sent too (the
         * load script skips any that are no longer pending). */
        s->outbox = og_stream_consumer_new(g->core, OG_STREAM_OUTBOX, OG_GROUP_SENDERS, consumer,
                                           "0", g->cfg->send.claim_idle_ms);
        if (!s->outbox || og_thread_start(&s->t, sender_main, s) != 0) {
            og_error("send: cannot start sender %d", i);
            og_stream_consumer_free(s->outbox);
            s->outbox = NULL;
            w->n = i;
            send_stop(g);
            return -1;
        }
        w->n = i + 1;
    }
    og_info("send: %d sender%s", w->n, w->n == 1 ? "" : "s");
    return 0;
}

static void send_stop(struct og_gateway *g)
{
    struct og_send_worker *w = g->send;
    if (!w)
        return;
    for (int i = 0; i < w->n; i++)
        og_thread_ask_stop(&w->senders[i].t);
    for (int i = 0; i < w->n; i++) {
        og_thread_stop(&w->senders[i].t);
        og_stream_consumer_free(w->senders[i].outbox);
    }
    free(w->senders);
    free(w);
    g->send = NULL;
}

const struct og_worker og_worker_send = {"send", send_start, send_stop};
