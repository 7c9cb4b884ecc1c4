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

og_err og_stream_trim(struct og_core *c, enum og_stream_id s, long long max, int64_t retain_ms,
                      struct og_trim *t)
{
    memset(t, 0, sizeof *t);
    char m[24], now[24], rt[24];
    snprintf(m, sizeof m, "%lld", max);
    snprintf(now, sizeof now, "%lld", (long long)og_now_ms());
    snprintf(rt, sizeof rt, "%lld", (long long)retain_ms);
    const char *argv[] = {c->tag, s == OG_STREAM_OUTBOX ? "outbox" : "events", m, now, rt};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_STREAM, 5, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    if (r->elements >= 5) {
        t->removed = r->element[1]->integer;
        t->owed_lost = r->element[2]->integer;
        snprintf(t->first_lost, sizeof t->first_lost, "%s", r->element[3]->str);
        t->length = r->element[4]->integer;
    }
    freeReplyObject(r);
    atomic_fetch_add(&og_stream_stats.trimmed, (unsigned long long)t->removed);
    if (t->owed_lost > 0) {
        atomic_fetch_add(&og_stream_stats.owed_lost, (unsigned long long)t->owed_lost);
        og_error("stream %s: over its bound of %lld entries: %lld entries a consumer had not "
                 "acknowledged were removed, from %s on (a webhook consumer, the follow-ups or "
                 "the senders fell that far behind)",
                 argv[1], max, t->owed_lost, t->first_lost);
    }
    return OG_OK;
}
