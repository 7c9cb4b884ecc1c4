/* og_stream - see og_stream.h. */
#include "og_stream.h"
#include "og_core_int.h"
#include "og_log.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A blocking read on a connection of its own: the socket timeout must be
 * longer than any BLOCK (TOOLCHAIN.md §2). */
#define OWN_TIMEOUT_MS 6000
#define MAX_BLOCK_MS 2000
#define AUTOCLAIM_COUNT 64

static const char *key_fmt(enum og_stream_id s)
{
    return s == OG_STREAM_OUTBOX ? OG_KEY_OUTBOX : OG_KEY_EVENTS;
}

static void stream_key(struct og_core *c, enum og_stream_id s, char *out, size_t outsz)
{
    snprintf(out, outsz, key_fmt(s), c->tag);
}

static struct og_redis *own_conn(struct og_core *c)
{
    char err[256];
    /* it follows the shared pool's address: after a Sentinel failover the
     * blocking reads move to the new master with it */
    struct og_redis_opts o = {.pool_size = 1, .timeout_ms = OWN_TIMEOUT_MS, .follow = c->redis};
    struct og_redis *r = og_redis_new(&o, err, sizeof err);
    if (!r)
        og_error("stream: %s", err);
    return r;
}

const char *og_stream_field(const struct og_stream_entry *e, const char *name)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->fv[2 * i], name) == 0)
            return e->fv[2 * i + 1];
    return NULL;
}

/* Hands one [id, [f, v, ...]] reply to fn. -1 when it is not an entry (a
 * deleted one XAUTOCLAIM still names), else fn's verdict. */
static int deliver(redisReply *en, og_stream_fn fn, void *ud, int claimed)
{
    if (en->type != REDIS_REPLY_ARRAY || en->elements < 2 ||
        en->element[0]->type != REDIS_REPLY_STRING || en->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    redisReply *f = en->element[1];
    size_t n = f->elements / 2;
    const char **fv = og_calloc(2 * n + 1, sizeof *fv);
    size_t *len = og_calloc(2 * n + 1, sizeof *len);
    for (size_t i = 0; i < 2 * n; i++) {
        fv[i] = f->element[i]->type == REDIS_REPLY_STRING ? f->element[i]->str : "";
        len[i] = f->element[i]->type == REDIS_REPLY_STRING ? f->element[i]->len : 0;
    }
    struct og_stream_entry e = {en->element[0]->str, n, fv, len};
    int v = fn(ud, &e, claimed);
    free(fv);
    free(len);
    return v;
}

/* ------------------------------------------------------------- groups */

struct og_stream_consumer {
    struct og_core *core;  /* [borrowed] */
    struct og_redis *conn; /* owned: blocking reads */
    enum og_stream_id stream;
    char key[128];
    char *group, *consumer, *start; /* owned */
    int64_t idle_ms, next_claim_ms;
    int ready; /* the group is known to exist */
};

og_err og_stream_group_ensure(struct og_core *c, enum og_stream_id s, const char *group,
                              const char *start)
{
    char key[128];
    stream_key(c, s, key, sizeof key);
    redisReply *r = NULL;
    og_err e = og_redis_cmd(c->redis, &r, "XGROUP CREATE %s %s %s MKSTREAM", key, group, start);
    if (e != OG_OK)
        return e;
    if (r->type == REDIS_REPLY_ERROR && !strstr(r->str, "BUSYGROUP")) {
        og_error("stream %s: XGROUP CREATE %s: %s", key, group, r->str);
        e = OG_ERR_INTERNAL;
    }
    freeReplyObject(r);
    return e;
}

struct og_stream_consumer *og_stream_consumer_new(struct og_core *c, enum og_stream_id s,
                                                  const char *group, const char *consumer,
                                                  const char *start, int64_t idle_ms)
{
    struct og_stream_consumer *sc = og_calloc(1, sizeof *sc);
    sc->core = c;
    sc->conn = own_conn(c);
    if (!sc->conn) {
        free(sc);
        return NULL;
    }
    sc->stream = s;
    stream_key(c, s, sc->key, sizeof sc->key);
    sc->group = og_strdup(group);
    sc->consumer = og_strdup(consumer);
    sc->start = og_strdup(start ? start : "$");
    sc->idle_ms = idle_ms;
    return sc;
}

/* Acknowledges the entries fn is done with (one XACK for the batch). */
static void handle(struct og_stream_consumer *sc, redisReply *list, og_stream_fn fn, void *ud,
                   int claimed, size_t *n)
{
    if (!list || list->type != REDIS_REPLY_ARRAY || list->elements == 0)
        return;
    const char **argv = og_calloc(list->elements + 3, sizeof *argv);
    int argc = 3;
    argv[0] = "XACK", argv[1] = sc->key, argv[2] = sc->group;
    for (size_t i = 0; i < list->elements; i++) {
        int v = deliver(list->element[i], fn, ud, claimed);
        if (v >= 0)
            (*n)++;
        if (v == OG_STREAM_ACK)
            argv[argc++] = list->element[i]->element[0]->str;
    }
    redisReply *r = NULL;
    if (argc > 3 && og_redis_argv(sc->core->redis, argc, argv, NULL, &r) == OG_OK)
        freeReplyObject(r);
    free(argv);
}

og_err og_stream_consume(struct og_stream_consumer *sc, int count, int block_ms, og_stream_fn fn,
                         void *ud, size_t *n)
{
    *n = 0;
    if (!sc->ready) {
        og_err e = og_stream_group_ensure(sc->core, sc->stream, sc->group, sc->start);
        if (e != OG_OK)
            return e;
        sc->ready = 1;
    }
    redisReply *r = NULL;
    int64_t now = og_mono_ms();
    if (sc->idle_ms > 0 && now >= sc->next_claim_ms) {
        /* Half the idle time between takeovers (an entry waits at most 1.5
         * times it), but at least every second: entries of a dead instance
         * are handed back marked idle since long ago (og_instance.h) and
         * are to be taken within a second. */
        int64_t every = sc->idle_ms / 2 < 1000 ? sc->idle_ms / 2 : 1000;
        sc->next_claim_ms = now + (every > 100 ? every : 100);
        if (og_redis_cmd(sc->core->redis, &r, "XAUTOCLAIM %s %s %s %lld 0-0 COUNT %d", sc->key,
                         sc->group, sc->consumer, (long long)sc->idle_ms,
                         AUTOCLAIM_COUNT) == OG_OK) {
            if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2)
                handle(sc, r->element[1], fn, ud, 1, n);
            freeReplyObject(r);
            r = NULL;
        }
    }
    if (block_ms > MAX_BLOCK_MS)
        block_ms = MAX_BLOCK_MS;
    og_err e = og_redis_cmd(sc->conn, &r, "XREADGROUP GROUP %s %s COUNT %d BLOCK %d STREAMS %s >",
                            sc->group, sc->consumer, count, block_ms, sc->key);
    if (e != OG_OK)
        return e;
    if (r->type == REDIS_REPLY_ERROR) {
        if (strncmp(r->str, "NOGROUP", 7) == 0) {
            sc->ready = 0; /* Redis lost its data: the group is made again */
            e = OG_ERR_UNAVAILABLE;
        } else {
            og_error("stream %s: XREADGROUP %s: %s", sc->key, sc->group, r->str);
            e = OG_ERR_INTERNAL;
        }
    } else {
        sc->ready = 1;
        if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
            r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements >= 2)
            handle(sc, r->element[0]->element[1], fn, ud, 0, n);
    }
    freeReplyObject(r);
    return e;
}

void og_stream_consumer_free(struct og_stream_consumer *sc)
{
    if (!sc)
        return;
    redisReply *r = NULL;
    if (og_redis_cmd(sc->core->redis, &r, "XPENDING %s %s - + 1 %s", sc->key, sc->group,
                     sc->consumer) == OG_OK) {
        int idle = r->type == REDIS_REPLY_ARRAY && r->elements == 0;
        freeReplyObject(r);
        if (idle && og_redis_cmd(sc->core->redis, &r, "XGROUP DELCONSUMER %s %s %s", sc->key,
                                 sc->group, sc->consumer) == OG_OK)
            freeReplyObject(r);
    }
    og_redis_free(sc->conn);
    free(sc->group);
    free(sc->consumer);
    free(sc->start);
    free(sc);
}

og_err og_stream_wait(struct og_core *c, enum og_stream_id s, const char *id, int block_ms)
{
    char key[128];
    stream_key(c, s, key, sizeof key);
    redisReply *r = NULL;
    og_err e = og_redis_cmd(c->redis, &r, "XREAD COUNT 1 BLOCK %d STREAMS %s %s", block_ms, key,
                            id && *id ? id : "$");
    if (e == OG_OK)
        freeReplyObject(r);
    return e;
}

/* --------------------------------------------------------------- tails */

struct og_stream_tail {
    struct og_core *core;  /* [borrowed] */
    struct og_redis *conn; /* owned */
    char key[128];
};

struct og_stream_tail *og_stream_tail_new(struct og_core *c, enum og_stream_id s)
{
    struct og_stream_tail *t = og_calloc(1, sizeof *t);
    t->core = c;
    t->conn = own_conn(c);
    if (!t->conn) {
        free(t);
        return NULL;
    }
    stream_key(c, s, t->key, sizeof t->key);
    return t;
}

void og_stream_tail_free(struct og_stream_tail *t)
{
    if (!t)
        return;
    og_redis_free(t->conn);
    free(t);
}

og_err og_stream_tail_newest(struct og_stream_tail *t, char *id, size_t idsz)
{
    redisReply *r = NULL;
    og_err e = og_redis_cmd(t->conn, &r, "XREVRANGE %s + - COUNT 1", t->key);
    if (e != OG_OK)
        return e;
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return OG_ERR_UNAVAILABLE;
    }
    snprintf(id, idsz, "%s",
             r->elements > 0 && r->element[0]->type == REDIS_REPLY_ARRAY &&
                     r->element[0]->elements > 0 &&
                     r->element[0]->element[0]->type == REDIS_REPLY_STRING
                 ? r->element[0]->element[0]->str
                 : "0-0");
    freeReplyObject(r);
    return OG_OK;
}

og_err og_stream_tail_read(struct og_stream_tail *t, char *pos, size_t possz, int count,
                           int block_ms, og_stream_fn fn, void *ud, size_t *n)
{
    *n = 0;
    if (block_ms > MAX_BLOCK_MS)
        block_ms = MAX_BLOCK_MS;
    redisReply *r = NULL;
    og_err e = og_redis_cmd(t->conn, &r, "XREAD COUNT %d BLOCK %d STREAMS %s %s", count, block_ms,
                            t->key, pos);
    if (e != OG_OK)
        return e;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements >= 2) {
        redisReply *list = r->element[0]->element[1];
        for (size_t i = 0; i < list->elements; i++)
            if (deliver(list->element[i], fn, ud, 0) >= 0)
                (*n)++;
        if (list->elements > 0)
            snprintf(pos, possz, "%s", list->element[list->elements - 1]->element[0]->str);
    } else if (r->type == REDIS_REPLY_ERROR) {
        e = OG_ERR_UNAVAILABLE;
    }
    freeReplyObject(r);
    return e;
}

og_err og_stream_range(struct og_core *c, enum og_stream_id s, const char *after, int count,
                       og_stream_fn fn, void *ud, size_t *n)
{
    char key[128];
    stream_key(c, s, key, sizeof key);
    *n = 0;
    redisReply *r = NULL;
    og_err e = og_redis_cmd(c->redis, &r, "XRANGE %s (%s + COUNT %d", key, after, count);
    if (e != OG_OK)
        return e;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        if (deliver(r->element[i], fn, ud, 0) >= 0)
            (*n)++;
    e = r->type == REDIS_REPLY_ARRAY ? OG_OK : OG_ERR_UNAVAILABLE;
    freeReplyObject(r);
    return e;
}

struct og_stream_stats og_stream_stats;

/* What several rounds of one trim lost, gathered so that each group and
 * each subscription gets one log line per trim. */
struct loss {
    char name[72];       /* group, or subscription id */
    long long n;         /* lost in this trim */
    char first[48];      /* group: first entry lost; subscription: first event */
    long long total;     /* subscription: lost since it was marked */
    char first_ever[48]; /* subscription: the first event lost since then */
    long long since_ms;  /* subscription: marked since */
};

static struct loss *loss_at(struct loss **v, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i].name, name) == 0)
            return &(*v)[i];
    *v = og_realloc(*v, (*n + 1) * sizeof **v);
    struct loss *l = &(*v)[(*n)++];
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", name);
    return l;
}

static const char *str_of(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING ? r->str : "";
}

static long long int_of(const redisReply *r)
{
    if (!r)
        return 0;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    return r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
}

/* Rounds of stream.lua are bounded: each cuts at most TRIM_CHUNK entries
 * (fewer with many webhook subscriptions; ~5-10 ms of Redis's time, during
 * which other clients wait: bench_trim), and one trim at most TRIM_ROUNDS
 * of them (the next trim, a second later, goes on). */
#define TRIM_CHUNK 500
#define TRIM_ROUNDS 1000

og_err og_stream_trim(struct og_core *c, enum og_stream_id s, const struct og_trim_bounds *b,
                      struct og_trim *t)
{
    memset(t, 0, sizeof *t);
    const char *name = s == OG_STREAM_OUTBOX ? "outbox" : "events";
    char m[24], rt[24], mb[24], ch[24];
    snprintf(m, sizeof m, "%lld", b->max_entries);
    snprintf(rt, sizeof rt, "%lld", (long long)b->retain_ms);
    snprintf(mb, sizeof mb, "%lld", b->max_bytes);
    snprintf(ch, sizeof ch, "%d", TRIM_CHUNK);
    /* after a round that cut, the next ones go on to the low water mark */
    const char *argv[] = {c->tag, name, m, rt, mb, ch, "0"};
    struct loss *groups = NULL, *subs = NULL;
    size_t ng = 0, ns = 0;
    og_err e = OG_OK;
    int more = 1;
    for (int round = 0; more && round < TRIM_ROUNDS; round++) {
        redisReply *r = NULL;
        e = og_script_call(c, OG_LUA_STREAM, 7, argv, NULL, &r, NULL, 0);
        if (e != OG_OK)
            break;
        more = 0;
        if (r->elements >= 7) {
            t->removed += int_of(r->element[1]);
            long long lost = int_of(r->element[2]);
            if (lost > 0 && !t->first_lost[0])
                snprintf(t->first_lost, sizeof t->first_lost, "%s", str_of(r->element[3]));
            t->owed_lost += lost;
            t->length = int_of(r->element[4]);
            t->bytes = int_of(r->element[5]);
            more = int_of(r->element[6]) != 0;
            if (more)
                argv[6] = "1";
        }
        for (size_t i = 7; i < r->elements; i++) {
            redisReply *x = r->element[i];
            if (x->type != REDIS_REPLY_ARRAY || x->elements < 4)
                continue;
            if (strcmp(str_of(x->element[0]), "g") == 0) {
                struct loss *l = loss_at(&groups, &ng, str_of(x->element[1]));
                if (!l->n)
                    snprintf(l->first, sizeof l->first, "%s", str_of(x->element[3]));
                l->n += int_of(x->element[2]);
            } else if (x->elements >= 7) {
                struct loss *l = loss_at(&subs, &ns, str_of(x->element[1]));
                if (!l->n)
                    snprintf(l->first, sizeof l->first, "%s", str_of(x->element[3]));
                l->n += int_of(x->element[2]);
                l->total = int_of(x->element[4]);
                snprintf(l->first_ever, sizeof l->first_ever, "%s", str_of(x->element[5]));
                l->since_ms = int_of(x->element[6]);
            }
        }
        freeReplyObject(r);
    }
    if (s == OG_STREAM_EVENTS) {
        atomic_store(&og_stream_stats.events_length, t->length);
        if (b->max_bytes > 0)
            atomic_store(&og_stream_stats.events_bytes, t->bytes);
    }
    atomic_fetch_add(&og_stream_stats.trimmed, (unsigned long long)t->removed);
    if (t->owed_lost > 0) {
        atomic_fetch_add(&og_stream_stats.owed_lost, (unsigned long long)t->owed_lost);
        og_error("stream %s: over its bound (%lld entries, %lld bytes; 0 = none): %lld entries a "
                 "consumer had not acknowledged were removed, from %s on",
                 name, b->max_entries, b->max_bytes, t->owed_lost, t->first_lost);
    }
    for (size_t i = 0; i < ng; i++)
        og_error("stream %s: the group \"%s\" lost %lld entries it had not acknowledged, from %s "
                 "on%s",
                 name, groups[i].name, groups[i].n, groups[i].first,
                 strcmp(groups[i].name, OG_GROUP_FOLLOWUPS) == 0
                     ? " (follow-ups those events would have started are not sent)"
                     : "");
    for (size_t i = 0; i < ns; i++) {
        char since[32];
        og_time_rfc3339(subs[i].since_ms, since);
        og_error("webhooks: subscription %s is lagging: %lld events it had not been sent were "
                 "dropped from the event stream over events.max_bytes, first lost event %s; %lld "
                 "lost since %s, first %s (PATCH {\"lagging\":null} clears the mark)",
                 subs[i].name, subs[i].n, subs[i].first, subs[i].total, since, subs[i].first_ever);
        atomic_fetch_add(&og_stream_stats.webhook_lost, (unsigned long long)subs[i].n);
    }
    t->lagging = (long long)ns;
    free(groups);
    free(subs);
    return e;
}
