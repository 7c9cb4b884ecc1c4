/* og_webhook_dispatch - see og_webhook_dispatch.h. */
#include "og_webhook_dispatch.h"
#include "og_core_int.h"
#include "og_instance.h"
#include "og_log.h"
#include "og_script.h"
#include "og_stream.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs one of the module's scripts with the key prefix as ARGV[1], then
 * argv. The reply rule of og_script.h applies. */
static og_err call(struct og_core *c, enum og_lua id, int argc, const char **argv,
                   const size_t *lens, redisReply **reply)
{
    const char **av = og_calloc((size_t)argc + 1, sizeof *av);
    size_t *al = og_calloc((size_t)argc + 1, sizeof *al);
    av[0] = c->tag;
    al[0] = strlen(c->tag);
    for (int i = 0; i < argc; i++) {
        av[i + 1] = argv[i];
        al[i + 1] = lens ? lens[i] : strlen(argv[i]);
    }
    og_err e = og_script_call(c, id, argc + 1, av, al, reply, NULL, 0);
    free(av);
    free(al);
    return e;
}

/* ------------------------------------------------------------ read */

og_err og_webhook_dispatch_read(struct og_core *c, const char *consumer, int count, long long ver,
                                const struct og_webhook_sub *subs, size_t n_subs,
                                struct og_event_cache *cache, int *n, char *last_id,
                                size_t last_len)
{
    *n = 0;
    size_t cap = 5;
    for (size_t s = 0; s < n_subs; s++)
        cap += 2 + subs[s].n_events;
    const char **argv = og_calloc(cap, sizeof *argv);
    char(*ks)[16] = og_calloc(n_subs + 1, sizeof *ks); /* filter counts */
    char cnt[16], now[24], vs[24];
    snprintf(cnt, sizeof cnt, "%d", count);
    snprintf(now, sizeof now, "%lld", (long long)og_now_ms());
    snprintf(vs, sizeof vs, "%lld", ver);
    argv[0] = OG_GROUP_WEBHOOKS, argv[1] = consumer;
    argv[2] = cnt, argv[3] = now, argv[4] = vs;
    int argc = 5;
    for (size_t s = 0; s < n_subs; s++) {
        if (!og_webhook_sub_active(&subs[s]))
            continue;
        snprintf(ks[s], sizeof ks[s], "%zu", subs[s].n_events);
        argv[argc++] = subs[s].id;
        argv[argc++] = ks[s];
        for (size_t k = 0; k < subs[s].n_events; k++)
            argv[argc++] = subs[s].events[k];
    }
    redisReply *r = NULL;
    og_err e = call(c, OG_LUA_WEBHOOK_DISPATCH_READ, argc, argv, NULL, &r);
    free(argv), free(ks);
    if (e != OG_OK)
        return e;
    /* {"ok", n, ...} */
    if (r->elements < 2 || r->element[1]->type != REDIS_REPLY_INTEGER) {
        og_error("webhooks: read: unexpected reply");
        freeReplyObject(r);
        return OG_ERR_INTERNAL;
    }
    *n = (int)r->element[1]->integer;
    if (*n == 0 && r->elements == 3 && r->element[2]->type == REDIS_REPLY_STRING)
        snprintf(last_id, last_len, "%s", r->element[2]->str);
    for (size_t i = 2; *n > 0 && i + 1 < r->elements; i += 2)
        og_event_cache_put(cache, r->element[i]->str, r->element[i + 1]->str,
                           r->element[i + 1]->len);
    freeReplyObject(r);
    return OG_OK;
}

/* ------------------------------------------------------------ results */

/* The results in the form webhook_dispatch_step.lua takes them: per claim
 * a group of 5 values (member, sub, k, failed tries before its first
 * attempt, next_due_ms of a retry that ends it, else 0) and its k results
 * of 5 values each (head, outcome, n, event id, attempt record as
 * og_webhook_attempt_put writes it), every value NUL-terminated in one
 * buffer (no allocation per value). */
struct og_webhook_results {
    struct og_buf buf;
    size_t *off; /* [cap] where each of the n values starts */
    size_t n, cap;
    size_t group_at, group_len, group_k; /* the open group */
};

struct og_webhook_results *og_webhook_dispatch_results_new(void)
{
    return og_calloc(1, sizeof(struct og_webhook_results));
}

void og_webhook_dispatch_results_free(struct og_webhook_results *r)
{
    if (!r)
        return;
    og_buf_free(&r->buf);
    free(r->off);
    free(r);
}

size_t og_webhook_dispatch_results_count(const struct og_webhook_results *r)
{
    return r->n;
}

static void results_reset(struct og_webhook_results *r)
{
    r->n = 0;
    r->buf.len = 0;
}

static const char *fmt_ll(char t[24], long long v)
{
    snprintf(t, 24, "%lld", v);
    return t;
}

/* Starts a value: its offset goes into the argument list. */
static void res_mark(struct og_webhook_results *r)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->off = og_realloc(r->off, r->cap * sizeof *r->off);
    }
    r->off[r->n++] = r->buf.len;
}

static void res_str(struct og_webhook_results *r, const char *v)
{
    res_mark(r);
    og_buf_append(&r->buf, v, strlen(v) + 1);
}

static void res_int(struct og_webhook_results *r, long long v)
{
    char t[24];
    res_str(r, fmt_ll(t, v));
}

void og_webhook_dispatch_result_open(struct og_webhook_results *r, const char *member,
                                     const char *sub, int tries)
{
    r->group_at = r->n;
    r->group_len = r->buf.len;
    r->group_k = 0;
    res_str(r, member);
    res_str(r, sub);
    res_str(r, "0"); /* k, set by result_close */
    res_int(r, tries);
    res_str(r, "0"); /* next_due_ms, set by result_close */
}

void og_webhook_dispatch_result_close(struct og_webhook_results *r, int64_t next_due_ms)
{
    if (r->group_k == 0) {
        r->n = r->group_at;
        r->buf.len = r->group_len;
        return;
    }
    /* k and next_due are written after the results and pointed at */
    char k[24], due[24];
    fmt_ll(k, (long long)r->group_k);
    fmt_ll(due, next_due_ms);
    r->off[r->group_at + 2] = r->buf.len;
    og_buf_append(&r->buf, k, strlen(k) + 1);
    r->off[r->group_at + 4] = r->buf.len;
    og_buf_append(&r->buf, due, strlen(due) + 1);
}

void og_webhook_dispatch_result_add(struct og_webhook_results *r, const char *head,
                                    const char *outcome, int n, const char *eid, const char *etype,
                                    const char *status, int attempt, long code, int64_t latency_ms,
                                    const char *error, int64_t at_ms, int64_t next_ms)
{
    atomic_fetch_add(outcome[0] == 'o'   ? &og_webhook_stats.ok
                     : outcome[0] == 'r' ? &og_webhook_stats.retried
                                         : &og_webhook_stats.dead,
                     1);
    r->group_k++;
    res_str(r, head);
    res_str(r, outcome);
    res_int(r, n);
    res_str(r, eid ? eid : "");
    res_mark(r);
    if (!status) {
        og_buf_append(&r->buf, "", 1);
        return;
    }
    og_webhook_attempt_put(&r->buf, status, eid, etype, attempt, code, latency_ms, at_ms, next_ms,
                           error);
    og_buf_append(&r->buf, "", 1);
}

/* ------------------------------------------------------------- claims */

void og_webhook_dispatch_claims_free(struct og_webhook_claims *cl)
{
    for (size_t k = 0; k < cl->n_items; k++) {
        og_webhook_item_clear(&cl->items[k].item);
        og_event_body_unref(cl->items[k].body);
    }
    free(cl->items);
    free(cl->v);
    freeReplyObject(cl->reply);
    memset(cl, 0, sizeof *cl);
}

/* The event JSON of n stream entries (webhook_dispatch_fetch.lua): *reply
 * [xfer] is {"ok", body...}, "" for an entry the stream no longer holds. */
static og_err fetch(struct og_core *c, size_t n, const char **entries, redisReply **reply)
{
    og_err e = call(c, OG_LUA_WEBHOOK_DISPATCH_FETCH, (int)n, entries, NULL, reply);
    if (e == OG_OK && (*reply)->elements != n + 1) {
        og_error("webhooks: fetch: %zu bodies for %zu entries", (*reply)->elements - 1, n);
        freeReplyObject(*reply);
        *reply = NULL;
        e = OG_ERR_UNAVAILABLE;
    }
    return e;
}

/* Parses the claims of a step's reply {"ok", stale, claim...} and finds
 * their items' bodies: in the cache, else in the stream (one
 * webhook_dispatch_fetch.lua call for all). */
static void claims_load(struct og_core *c, redisReply *r, struct og_event_cache *cache,
                        struct og_webhook_claims *out)
{
    out->reply = r;
    out->stale = r->elements >= 2 && r->element[1]->type == REDIS_REPLY_INTEGER &&
                 r->element[1]->integer != 0;
    size_t n = 0, nc = 0;
    for (size_t i = 2; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_ARRAY && r->element[i]->elements >= 4) {
            n += r->element[i]->elements - 3;
            nc++;
        }
    out->items = og_calloc(n ? n : 1, sizeof *out->items);
    out->v = og_calloc(nc ? nc : 1, sizeof *out->v);
    const char **missing = og_calloc(n ? n : 1, sizeof *missing);
    size_t *miss_at = og_calloc(n ? n : 1, sizeof *miss_at), nmiss = 0, g = 0;
    for (size_t i = 2; i < r->elements; i++) {
        redisReply *cl = r->element[i];
        if (cl->type != REDIS_REPLY_ARRAY || cl->elements < 4)
            continue;
        struct og_webhook_claim *x = &out->v[out->n++];
        x->member = cl->element[0]->str;
        x->sub = cl->element[1]->str;
        x->tries = atoi(cl->element[2]->str);
        x->items = &out->items[g];
        x->n_items = cl->elements - 3;
        for (size_t k = 3; k < cl->elements; k++, g++) {
            struct og_webhook_claimed *it = &out->items[g];
            it->raw = cl->element[k]->str;
            it->ok =
                og_webhook_item_parse(cl->element[k]->str, cl->element[k]->len, &it->item) == 0;
            if (!it->ok)
                continue;
            const char *entry = og_webhook_item_entry(&it->item);
            it->body = og_event_cache_get(cache, entry);
            if (!it->body) {
                missing[nmiss] = entry;
                miss_at[nmiss++] = g;
            }
        }
    }
    out->n_items = n;
    redisReply *f = NULL;
    if (nmiss && fetch(c, nmiss, missing, &f) == OG_OK) {
        for (size_t m = 0; m < nmiss; m++) {
            struct og_webhook_claimed *x = &out->items[miss_at[m]];
            redisReply *b = f->element[m + 1];
            if (b->type == REDIS_REPLY_STRING && b->len > 0)
                x->body = og_event_body_new(b->str, b->len);
            else
                x->gone = 1;
        }
    }
    /* else the bodies stay missing: those chains are cut, leases bring
     * them back */
    freeReplyObject(f);
    free(missing), free(miss_at);
}

og_err og_webhook_dispatch_step(struct og_core *c, struct og_webhook_results *res, int max_claims,
                                int64_t now_ms, int64_t lease_ms, long long ver,
                                struct og_event_cache *cache, struct og_webhook_claims *out)
{
    memset(out, 0, sizeof *out);
    size_t argc = 8 + res->n;
    const char **argv = og_calloc(argc, sizeof *argv);
    size_t *lens = og_calloc(argc, sizeof *lens);
    char now[24], cap[16], lease[24], max[16], chain[16], vs[24];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(cap, sizeof cap, "%d", OG_WEBHOOK_DELIVERIES_CAP);
    snprintf(lease, sizeof lease, "%lld", (long long)lease_ms);
    snprintf(max, sizeof max, "%d", max_claims > 0 ? max_claims : 0);
    snprintf(chain, sizeof chain, "%d", OG_WEBHOOK_CHAIN);
    /* the lease covers the timeouts of the subscriptions as of ver: the
     * script claims nothing if they changed since */
    snprintf(vs, sizeof vs, "%lld", ver);
    argv[0] = OG_GROUP_WEBHOOKS, argv[1] = now, argv[2] = cap;
    argv[3] = lease, argv[4] = max, argv[5] = chain, argv[6] = vs;
    argv[7] = og_core_instance(c);
    for (size_t i = 0; i < res->n; i++)
        argv[8 + i] = res->buf.data + res->off[i];
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = NULL;
    og_err e = call(c, OG_LUA_WEBHOOK_DISPATCH_STEP, (int)argc, argv, lens, &r);
    free(argv), free(lens);
    if (e == OG_ERR_UNAVAILABLE)
        return e; /* Redis is down: the results are kept for the next step */
    results_reset(res);
    if (e != OG_OK) { /* never dropped silently: the leases bring them back */
        og_error("webhooks: step: %s", og_strerror(e));
        return e;
    }
    claims_load(c, r, cache, out);
    return OG_OK;
}

int og_webhook_dispatch_skip(struct og_core *c)
{
    const char *argv[] = {OG_GROUP_WEBHOOKS};
    redisReply *r = NULL;
    if (call(c, OG_LUA_WEBHOOK_DISPATCH_SKIP, 1, argv, NULL, &r) != OG_OK)
        return 0;
    int skipped = r->elements >= 2 && r->element[1]->type == REDIS_REPLY_INTEGER &&
                  r->element[1]->integer == 1;
    freeReplyObject(r);
    return skipped;
}
