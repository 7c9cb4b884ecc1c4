/* test_webhooks_claims - which queues a dispatcher's step claims
 * (core/lua/webhook_dispatch_step.lua, og_webhook_dispatch.h), core level
 * against redis-server:
 *
 *   - due queues are claimed oldest first, each with its first
 *     OG_WEBHOOK_CHAIN items, in queue order;
 *   - when a claim is settled and its queue holds more, the queue is made
 *     due now and waits behind the queues due longer, even with a whole
 *     chain left: every session gets its turn, and a backlog spread over
 *     many sessions goes out in whole chains rather than the same few
 *     queues being claimed again one or two items at a time;
 *   - with nothing else due, such a queue is still claimed in the same step
 *     (a quiet stream waits no longer), and a queue settled empty is no
 *     longer due;
 *   - every item is delivered once and in order, and every entry is
 *     acknowledged once its result is in. */
#include "og_core.h"
#include "og_event_cache.h"
#include "og_instance.h"
#include "og_stream.h"
#include "og_test.h"
#include "og_util.h"
#include "og_webhook_dispatch.h"
#include "og_webhooks.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WHSEC "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static struct og_test_redis rs;
static redisContext *rc;
static struct og_core *core;
static struct og_event_cache *cache;
static long long ver;
static struct og_webhook_sub *subs;
static size_t n_subs;

/* n events of session ses ("e-<ses>-<i>", i from first), then one read
 * that queues them (their queue is due from now). */
static void append_read(const char *ses, int first, int n)
{
    for (int i = first; i < first + n; i++) {
        char eid[48], ev[160];
        snprintf(eid, sizeof eid, "e-%s-%02d", ses, i);
        snprintf(ev, sizeof ev, "{\"id\":\"%s\",\"type\":\"message.received\",\"data\":{}}", eid);
        redisReply *r = redisCommand(rc,
                                     "XADD {og}:events * id %s type message.received session %s "
                                     "event %s",
                                     eid, ses, ev);
        CHECK(r && r->type == REDIS_REPLY_STRING);
        freeReplyObject(r);
    }
    int got = 0;
    char last[48];
    CHECK_INT(og_webhook_dispatch_read(core, "t-0", 1000, ver, subs, n_subs, cache, &got, last,
                                       sizeof last),
              OG_OK);
    CHECK_INT(got, n);
    usleep(5000); /* the next read's queues are due later */
}

/* One step reporting res (if any) and claiming up to max queues. */
static void step(struct og_webhook_results *res, int max, struct og_webhook_claims *cl)
{
    CHECK_INT(og_webhook_dispatch_step(core, res, max, og_now_ms(), 60000, ver, cache, cl), OG_OK);
    CHECK_INT(cl->stale, 0);
}

/* Whether claim k is session ses's queue with n items from event first on,
 * in order, each with its body. */
static int is_claim(const struct og_webhook_claims *cl, size_t k, const char *ses, int first,
                    size_t n)
{
    if (k >= cl->n)
        return 0;
    const struct og_webhook_claim *q = &cl->v[k];
    char member[64];
    snprintf(member, sizeof member, "h1\t%s", ses);
    if (strcmp(q->member, member) != 0 || q->n_items != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char eid[48];
        snprintf(eid, sizeof eid, "e-%s-%02d", ses, first + (int)i);
        if (!q->items[i].ok || !q->items[i].body || strcmp(q->items[i].item.eid, eid) != 0)
            return 0;
    }
    return 1;
}

/* Settles claim k as delivered (every item "ok"). */
static void settle_ok(struct og_webhook_results *res, const struct og_webhook_claims *cl, size_t k)
{
    const struct og_webhook_claim *q = &cl->v[k];
    og_webhook_dispatch_result_open(res, q->member, q->sub, q->tries);
    for (size_t i = 0; i < q->n_items; i++) {
        const struct og_webhook_item *it = &q->items[i].item;
        og_webhook_dispatch_result_add(res, it->head, "ok", it->n, it->eid, it->type, "ok", 1, 204,
                                       1, NULL, og_now_ms(), 0);
    }
    og_webhook_dispatch_result_close(res, 0);
}

static long long cli_int(const char *cmd)
{
    redisReply *r = redisCommand(rc, cmd);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    rc = redisConnect("127.0.0.1", rs.port);
    core = og_test_core_new(&rs, "og", 2);
    cache = og_event_cache_new(1 << 20, 4096);
    CHECK(rc && !rc->err && core);
    if (!rc || rc->err || !core)
        return og_test_done();
    CHECK_INT(og_instance_beat(core), OG_OK);
    json_object *j = json_tokener_parse("{\"id\":\"h1\",\"url\":\"http://127.0.0.1:9/h\","
                                        "\"secret\":\"" WHSEC "\",\"events\":[\"*\"]}");
    struct og_webhook_sub sub = {0};
    char err[160];
    CHECK_INT(og_webhook_sub_parse(j, &sub, 0, err, sizeof err), 0);
    json_object_put(j);
    CHECK_INT(og_webhooks_put(core, &sub, 1), OG_OK);
    og_webhook_sub_clear(&sub);
    CHECK_INT(og_stream_group_ensure(core, OG_STREAM_EVENTS, OG_GROUP_WEBHOOKS, "0"), OG_OK);
    CHECK_INT(og_webhooks_version(core, &ver), OG_OK);
    CHECK_INT(og_webhooks_load(core, &subs, &n_subs), OG_OK);
    CHECK_INT(n_subs, 1);
    CHECK(OG_WEBHOOK_CHAIN >= 4);
    const int chain = OG_WEBHOOK_CHAIN, s1_n = 2 * OG_WEBHOOK_CHAIN + OG_WEBHOOK_CHAIN / 2;

    /* due in this order: s2 (2 items), s1 (two and a half chains), s3 (2) */
    append_read("s2", 0, 2);
    append_read("s1", 0, s1_n);
    append_read("s3", 0, 2);
    CHECK_INT(cli_int("ZCARD {og}:wh:due"), 3);

    struct og_webhook_results *res = og_webhook_dispatch_results_new();
    struct og_webhook_claims a, b, c;
    /* oldest first: s2, then s1's first chain */
    step(res, 1, &a);
    CHECK_INT(a.n, 1);
    CHECK(is_claim(&a, 0, "s2", 0, 2));
    step(res, 1, &b);
    CHECK_INT(b.n, 1);
    CHECK(is_claim(&b, 0, "s1", 0, (size_t)chain));

    /* s1 delivered: more than a whole chain is left, but s3 has been due
     * longer and goes first; s1 is due again */
    settle_ok(res, &b, 0);
    og_webhook_dispatch_claims_free(&b);
    step(res, 1, &b);
    CHECK_INT(b.n, 1);
    CHECK(is_claim(&b, 0, "s3", 0, 2));
    CHECK_INT(cli_int("ZCARD {og}:wh:due"), 3); /* s2, s3 leased; s1 due */

    /* a free slot and only s1 due: its next chain */
    step(res, 1, &c);
    CHECK_INT(c.n, 1);
    CHECK(is_claim(&c, 0, "s1", chain, (size_t)chain));

    /* s1 delivered again with a slot free and nothing else due: its rest
     * is claimed in the same step */
    settle_ok(res, &c, 0);
    og_webhook_dispatch_claims_free(&c);
    step(res, 1, &c);
    CHECK_INT(c.n, 1);
    CHECK(is_claim(&c, 0, "s1", 2 * chain, (size_t)(s1_n - 2 * chain)));

    /* everything delivered: no queue is due any more, every entry is
     * acknowledged, every attempt recorded */
    settle_ok(res, &a, 0);
    settle_ok(res, &b, 0);
    settle_ok(res, &c, 0);
    og_webhook_dispatch_claims_free(&a);
    og_webhook_dispatch_claims_free(&b);
    og_webhook_dispatch_claims_free(&c);
    step(res, 4, &a);
    CHECK_INT(a.n, 0);
    og_webhook_dispatch_claims_free(&a);
    CHECK_INT(cli_int("ZCARD {og}:wh:due"), 0);
    CHECK_INT(cli_int("LLEN {og}:webhook:h1:deliveries"), s1_n + 4);
    redisReply *p = redisCommand(rc, "XPENDING {og}:events webhooks");
    CHECK(p && p->type == REDIS_REPLY_ARRAY && p->elements >= 1);
    if (p && p->type == REDIS_REPLY_ARRAY && p->elements >= 1)
        CHECK_INT(p->element[0]->integer, 0);
    freeReplyObject(p);

    /* a quiet stream: a queue settled with a few items left and nothing
     * else due is claimed again in the same step */
    append_read("s4", 0, 3);
    step(res, 1, &a);
    CHECK(is_claim(&a, 0, "s4", 0, 3));
    append_read("s4", 3, 2); /* queued behind the claim */
    settle_ok(res, &a, 0);
    og_webhook_dispatch_claims_free(&a);
    step(res, 1, &a);
    CHECK_INT(a.n, 1);
    CHECK(is_claim(&a, 0, "s4", 3, 2));
    og_webhook_dispatch_claims_free(&a);

    og_webhook_dispatch_results_free(res);
    og_webhook_subs_free(subs, n_subs);
    og_event_cache_free(cache);
    og_core_free(core);
    redisFree(rc);
    og_test_redis_stop(&rs);
    return og_test_done();
}
