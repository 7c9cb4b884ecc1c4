/* og_ingest - see og_ingest.h. Every step names the part of ingest.lua (and
 * prelude.lua) it mirrors; a change there must be made here too, and
 * og-int-ingest-c fails until it is. */
#include "og_ingest.h"
#include "og_log.h"
#include "og_render.h"
#include "og_util.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A pipeline being built: every command's arguments one after the other in
 * one array (av, with their lengths in al), so that adding a command
 * allocates nothing once the arrays have grown. The strings belong to the
 * caller and outlive the send. */
struct pl {
    size_t n, cap; /* commands */
    int *argc;     /* each command's argument count */
    size_t *off;   /* where its arguments start in av and al */
    size_t used, acap;
    const char **av;
    size_t *al;
};

static void pl_add(struct pl *p, int argc, const char *const *av, const size_t *al)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->argc = og_realloc(p->argc, p->cap * sizeof *p->argc);
        p->off = og_realloc(p->off, p->cap * sizeof *p->off);
    }
    if (p->used + (size_t)argc > p->acap) {
        while (p->used + (size_t)argc > p->acap)
            p->acap = p->acap ? p->acap * 2 : 512;
        p->av = og_realloc(p->av, p->acap * sizeof *p->av);
        p->al = og_realloc(p->al, p->acap * sizeof *p->al);
    }
    p->argc[p->n] = argc;
    p->off[p->n] = p->used;
    for (int i = 0; i < argc; i++) {
        p->av[p->used + (size_t)i] = av[i];
        p->al[p->used + (size_t)i] = al ? al[i] : strlen(av[i]);
    }
    p->used += (size_t)argc;
    p->n++;
}

/* A command of NUL-terminated arguments. */
#define PL(p, ...)                                                                                 \
    do {                                                                                           \
        const char *av_[] = {__VA_ARGS__};                                                         \
        pl_add((p), (int)(sizeof av_ / sizeof av_[0]), av_, NULL);                                 \
    } while (0)

static void pl_reset(struct pl *p)
{
    p->n = 0;
    p->used = 0;
}

static void pl_free(struct pl *p)
{
    free(p->argc);
    free(p->off);
    free(p->av);
    free(p->al);
}

/* Sends p on held connection h: *rep its *n = p->n replies, read into a
 * [the array xfer, also on an error; the replies a's]. */
static og_err round_trip(struct og_redis *r, int h, struct og_redis_arena *a, const struct pl *p,
                         redisReply ***rep, size_t *n)
{
    *n = p->n;
    *rep = og_calloc(p->n ? p->n : 1, sizeof **rep);
    if (!p->n)
        return OG_OK;
    const char *const **argv = og_calloc(p->n, sizeof *argv);
    const size_t **lens = og_calloc(p->n, sizeof *lens);
    for (size_t i = 0; i < p->n; i++)
        argv[i] = p->av + p->off[i], lens[i] = p->al + p->off[i];
    og_err e = og_redis_held_pipeline(r, h, a, p->n, p->argc, argv, lens, *rep);
    free(argv);
    free(lens);
    return e;
}

/* One message taken by the C path. */
struct fm {
    struct og_batch_item *it;
    const char *a[OG_IN__N]; /* borrowed from it */
    size_t l[OG_IN__N];
    int on; /* still taken: 0 leaves it to ingest.lua */
    char *thk, *skey, *msgs, *dk, *pmk, *pmck, *gkey, *ckey, *mkey, *rawk;
    char sid[64], cid[64];
    int hinted; /* sid and cid came from the hints (unchecked until round 2) */
    /* round 2's and 3's replies [borrowed from the rounds' arrays] */
    const redisReply *s, *th, *dd, *pm, *pmc, *tx, *goal, *con;
    /* the batch's first taken message of its channel, whose reads of the
     * channel's texts and goal it shares (itself for that first one) */
    const struct fm *chm;
    int cs_rc; /* texts_cs of tx, and its delay */
    long long cs;
    size_t w0, wn; /* its commands in the EXEC's reply */
};

static int same(const struct fm *m, int i, const struct fm *o, int j)
{
    return m->l[i] == o->l[j] && memcmp(m->a[i], o->a[j], m->l[i]) == 0;
}

static const redisReply *field(const redisReply *h, const char *f)
{
    return og_render_field(h, f);
}

static int str(const redisReply *v)
{
    return v && v->type == REDIS_REPLY_STRING;
}

/* prelude.lua bucket_key: P:<kind>:<ch>:<first 3 hex digits of SHA-1(id)>. */
static char *bucket_key(const char *P, const char *kind, const char *ch, const char *id, size_t n)
{
    unsigned char d[20];
    og_sha1(id, n, d);
    static const char hex[] = "0123456789abcdef";
    const char b[] = {':', hex[d[0] >> 4], hex[d[0] & 15], hex[d[1] >> 4], '\0'};
    return og_join(P, ":", kind, ":", ch, b, NULL);
}

/* What ingest.lua decides from the arguments alone: the C path takes a
 * one-to-one thread's message without sensitive words and without a reply
 * to an earlier message, and only the first of a thread (or of a dedup key,
 * or of a provider id) in the batch, so that one thread's messages are
 * stored in their order (the C path runs before the script). */
static int eligible(const struct fm *m, const struct fm *prev, int n_prev)
{
    if (m->l[OG_IN_TERMS] || m->l[OG_IN_REPLY_PMID] || !same(m, OG_IN_THREAD, m, OG_IN_EXT))
        return 0;
    for (int j = 0; j < n_prev; j++) {
        const struct fm *o = &prev[j];
        if (!same(m, OG_IN_CH, o, OG_IN_CH))
            continue;
        if (same(m, OG_IN_THREAD, o, OG_IN_THREAD) || same(m, OG_IN_DEDUP, o, OG_IN_DEDUP) ||
            (m->l[OG_IN_PMID] && same(m, OG_IN_PMID, o, OG_IN_PMID)))
            return 0;
    }
    return 1;
}

static void keys_new(struct fm *m, const char *P)
{
    const char *ch = m->a[OG_IN_CH];
    m->thk = bucket_key(P, "th", ch, m->a[OG_IN_THREAD], m->l[OG_IN_THREAD]);
    /* ingest.lua: the provider id's index is the dedup record when the
     * delivery key is the provider id, else the key has its own */
    m->dk = same(m, OG_IN_DEDUP, m, OG_IN_PMID)
                ? NULL
                : og_join(P, ":dedup:", ch, ":", m->a[OG_IN_DEDUP], NULL);
    if (m->l[OG_IN_PMID]) {
        m->pmk = bucket_key(P, "pm", ch, m->a[OG_IN_PMID], m->l[OG_IN_PMID]);
        m->pmck = og_join(P, ":pmid:", ch, ":", m->a[OG_IN_PMID], NULL);
    }
    m->gkey = og_join(P, ":goal:", ch, NULL);
    m->mkey = og_join(P, ":msg:", m->a[OG_IN_MID], NULL);
    m->rawk = og_join(P, ":raw:", m->a[OG_IN_MID], NULL);
}

static void keys_free(struct fm *m)
{
    char **k[] = {&m->thk,  &m->skey, &m->msgs, &m->dk,   &m->pmk,
                  &m->pmck, &m->gkey, &m->ckey, &m->mkey, &m->rawk};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        free(*k[i]), *k[i] = NULL;
}

/* ingest.lua's reply {"ok", sid, mid, "0"} as a reply object [xfer]. */
static redisReply *ok_reply(const char *sid, const char *mid)
{
    const char *v[] = {"ok", sid, mid, "0"};
    return og_redis_reply_strings(4, v);
}

/* A string reply on the stack, for a field rendered as updated. */
static redisReply sv(const char *s)
{
    return (redisReply){.type = REDIS_REPLY_STRING, .str = (char *)s, .len = strlen(s)};
}

/* The session as ingest.lua renders it after the message (its table s kept
 * current): h with upd's fields (n of them, names and values) set. */
static void render_session(struct og_buf *b, const redisReply *h, redisReply *upd, int n,
                           const char *cj, const redisReply *goal)
{
    size_t ne = h->elements;
    redisReply **el = og_calloc(ne + 2 * (size_t)n, sizeof *el);
    memcpy(el, h->element, ne * sizeof *el);
    for (int i = 0; i < n; i++) {
        size_t j = 0;
        for (; j + 1 < ne; j += 2)
            if (el[j]->type == REDIS_REPLY_STRING && el[j]->len == upd[2 * i].len &&
                memcmp(el[j]->str, upd[2 * i].str, el[j]->len) == 0)
                break;
        if (j + 1 < ne) {
            el[j + 1] = &upd[2 * i + 1];
        } else {
            el[ne++] = &upd[2 * i];
            el[ne++] = &upd[2 * i + 1];
        }
    }
    redisReply s = {.type = REDIS_REPLY_ARRAY, .elements = ne, .element = el};
    og_render_session(b, &s, cj, goal);
    free(el);
}

/* Lua's tonumber(v) or 0 for a count we wrote ourselves. */
static long long count_of(const redisReply *v)
{
    if (!str(v))
        return 0;
    char *end;
    long long n = strtoll(v->str, &end, 10);
    return end != v->str && *end == 0 ? n : 0;
}

/* texts_of(P, ch).cs: the survey after silence's delay in ms; 1 when the
 * channel has one (*cs), 0 when not, -1 when it is not an integer (left to
 * the script). */
static int texts_cs(const redisReply *tx, long long *cs)
{
    if (!str(tx))
        return 0;
    json_object *o = json_tokener_parse(tx->str), *v;
    int rc = 0;
    if (!o)
        rc = -1;
    else if (json_object_object_get_ex(o, "cs", &v)) {
        rc = json_object_is_type(v, json_type_int) ? 1 : -1;
        *cs = rc == 1 ? (long long)json_object_get_int64(v) : 0;
    }
    json_object_put(o);
    return rc;
}

/* Round 3's verdict on the session and the contact as read: ingest.lua's
 * common case (an open session, nothing pending on it, the contact there
 * and its profile as the platform sends it) or not. */
static int steady(const struct fm *m)
{
    const redisReply *s = m->s;
    if (!s || s->type != REDIS_REPLY_ARRAY || !field(s, "id"))
        return 0; /* archived or gone: the script restores or starts one */
    if (!str(m->th) || m->th->len != strlen(m->sid) || strcmp(m->th->str, m->sid) != 0)
        return 0; /* the thread moved on since round 1 */
    const redisReply *st = field(s, "status");
    if (!st || (strcmp(st->str, "new") && strcmp(st->str, "active") && strcmp(st->str, "awaiting")))
        return 0; /* closed or archived: a reopen */
    if (field(s, "idle") || field(s, "g_hold") || field(s, "csat_ask") || !field(s, "contact_id"))
        return 0;
    if ((m->dd && m->dd->type != REDIS_REPLY_NIL) || (m->pm && m->pm->type != REDIS_REPLY_NIL) ||
        (m->pmc && m->pmc->type != REDIS_REPLY_NIL))
        return 0; /* a duplicate: the script answers it */
    return 1;
}

static int contact_steady(const struct fm *m)
{
    const redisReply *c = m->con;
    if (!c || c->type != REDIS_REPLY_ARRAY || c->elements != OG_RENDER_CON_NFIELDS + 1 ||
        !str(c->element[0]))
        return 0;
    /* ingest.lua: a profile field the platform sends that differs, and the
     * business did not lock, is written (and the contact's 'j' dropped) */
    static const char *const names[] = {"name", "username", "avatar_url", "phone", "email"};
    const char *locked = str(c->element[10]) ? c->element[10]->str : "";
    for (int i = 0; i < 5; i++) {
        size_t nl = m->l[OG_IN_NAME + i];
        const redisReply *cur = c->element[3 + i];
        if (nl == 0 ||
            (str(cur) && cur->len == nl && memcmp(cur->str, m->a[OG_IN_NAME + i], nl) == 0))
            continue;
        if (!strstr(locked, names[i]))
            return 0;
    }
    return 1;
}

/* Strings that commands point to, freed once the EXEC is answered. */
struct keep {
    char **v;
    size_t n, cap;
};

static char *kp(struct keep *k, char *s)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 64;
        k->v = og_realloc(k->v, k->cap * sizeof *k->v);
    }
    return k->v[k->n++] = s;
}

/* v in decimal, kept in k. */
static char *kp_ll(struct keep *k, long long v)
{
    char d[24];
    size_t n = og_fmt_ll(d, v);
    return kp(k, og_strndup(d, n));
}

static void keep_free(struct keep *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
}

/* An event's JSON up to its session: {"id":..,"type":..,"created_at":..,
 * "data":{"session": */
static void event_head(struct og_buf *b, const char *eid, const char *etype, const char *now_iso)
{
    og_buf_puts(b, "{\"id\":\""), og_buf_puts(b, eid);
    og_buf_puts(b, "\",\"type\":\""), og_buf_puts(b, etype);
    og_buf_puts(b, "\",\"created_at\":\""), og_buf_puts(b, now_iso);
    og_buf_puts(b, "\",\"data\":{\"session\":");
}

/* XADD P:events * id eid type etype session sid event <json> (emit). */
static void emit(struct pl *w, const char *events, const char *eid, const char *etype,
                 const char *sid, const struct og_buf *json)
{
    const char *av[] = {"XADD", events,    "*", "id",    eid,       "type",
                        etype,  "session", sid, "event", json->data};
    size_t al[11];
    for (int i = 0; i < 10; i++)
        al[i] = strlen(av[i]);
    al[10] = json->len;
    pl_add(w, 11, av, al);
}

/* The writes of message m, ingest.lua's from "message" on for a session
 * that is neither new nor reopened; its statistics fact into facts. Every
 * string the commands point to is kept in k. */
static void writes(const struct og_ingest_front *f, struct fm *m, struct pl *w, struct keep *k,
                   struct pl *facts)
{
    const redisReply *s = m->s, *c = m->con;
    const char *sid = m->sid, *mid = m->a[OG_IN_MID], *now_s = m->a[OG_IN_NOW_MS],
               *now_iso = m->a[OG_IN_NOW_ISO], *wms = m->a[OG_IN_WINDOW_MS];
    long long now = strtoll(now_s, NULL, 10), wl = strtoll(wms, NULL, 10);
    const char *cid = field(s, "contact_id")->str;
    const redisReply *name = c->element[3];
    struct og_buf sname = {0}, pack = {0};
    og_render_js(&sname, str(name) ? name->str : "", str(name) ? name->len : 0);
    kp(k, sname.data);

    /* msg_pack(cid, sname, '', mpack); the raw payload beside it */
    og_buf_puts(&pack, cid), og_buf_puts(&pack, "\t");
    og_buf_append(&pack, sname.data, sname.len), og_buf_puts(&pack, "\t\t");
    og_buf_append(&pack, m->a[OG_IN_MPACK], m->l[OG_IN_MPACK]);
    kp(k, pack.data);
    {
        const char *av[] = {"HSET", m->mkey, "m", pack.data, "sid", sid};
        size_t al[] = {4, strlen(m->mkey), 1, pack.len, 3, strlen(sid)};
        pl_add(w, 6, av, al);
    }
    if (m->l[OG_IN_RAW]) {
        const char *av[] = {"SET", m->rawk, m->a[OG_IN_RAW], "EX", m->a[OG_IN_RAW_TTL]};
        size_t al[] = {3, strlen(m->rawk), m->l[OG_IN_RAW], 2, m->l[OG_IN_RAW_TTL]};
        pl_add(w, m->l[OG_IN_RAW_TTL] ? 5 : 3, av, al);
    }
    /* msgs_add: the session's one message (m0) moves into its zset with
     * this one, its implied first statistics fields written (st_first_write;
     * st_t0 stays implied: created_at's ms while it is not written) */
    const redisReply *m0 = field(s, "m0"), *nin = field(s, "st_nin"), *t0r = field(s, "st_t0");
    const redisReply *fi = field(s, "st_fi"), *sw = field(s, "st_w");
    const char *t0 = t0r ? t0r->str : NULL;
    if (m0 && !nin && !t0) {
        const redisReply *ca = field(s, "created_at");
        int64_t c0 = ca ? og_time_parse(ca->str, NULL) : -1;
        t0 = c0 >= 0 ? kp_ll(k, c0) : NULL;
    }
    int implied = m0 && !nin && t0;
    if (m0) {
        if (implied)
            PL(w, "HSET", m->skey, "st_fi", t0, "st_w", t0, "st_nin", "1");
        PL(w, "ZADD", m->msgs, "0", m0->str, "0", mid);
        PL(w, "HDEL", m->skey, "m0");
    } else {
        PL(w, "ZADD", m->msgs, "0", mid);
    }
    if (m->pmk)
        PL(w, "HSET", m->pmk, m->a[OG_IN_PMID], mid);
    if (m->dk)
        PL(w, "SET", m->dk, mid, "EX", m->a[OG_IN_DEDUP_TTL]);

    /* the session's updates and its statistics fields (st_in), one HSET;
     * an awaiting session becomes active (set_status) */
    int activated = strcmp(field(s, "status")->str, "awaiting") == 0;
    int has_w = wl > 0 || field(s, "window_ms");
    const char *u[24];
    int nu = 0;
    u[nu++] = "HSET", u[nu++] = m->skey;
    /* implies updated_at and last_message_at (og_render_session) */
    u[nu++] = "last_customer_ms", u[nu++] = now_s;
    if (has_w)
        u[nu++] = "window_ms", u[nu++] = wms;
    if (m->l[OG_IN_REPLY_TOKEN]) {
        u[nu++] = "reply_token", u[nu++] = m->a[OG_IN_REPLY_TOKEN];
        u[nu++] = "reply_token_ms", u[nu++] = now_s;
    }
    /* st_first: m0 without st_nin implies st_fi = st_w = st_t0, st_nin 1 */
    if (!fi && !implied)
        u[nu++] = "st_fi", u[nu++] = now_s;
    if (!sw && !implied)
        u[nu++] = "st_w", u[nu++] = now_s;
    u[nu++] = "st_nin", u[nu++] = kp_ll(k, (implied ? 1 : count_of(nin)) + 1);
    if (activated)
        u[nu++] = "status", u[nu++] = "active";
    pl_add(w, nu, u, NULL);
    if (activated) {
        PL(w, "ZREM", f->k_awaiting, sid);
        PL(w, "ZADD", f->k_active, "0", sid);
    }
    /* st_in's fact (st_add, st_fact): a customer message for the session's
     * tuple (channel, agent, group; codes only for a closed one) */
    const redisReply *ag = field(s, "agent_id"), *gr = field(s, "group");
    char hour[24];
    og_fmt_ll(hour, now / 3600000);
    const char *fact = kp(k, og_join("v11:1\t", hour, "\t", m->a[OG_IN_CH], "\t", ag ? ag->str : "",
                                     "\t", gr ? gr->str : "", "\t", NULL));
    {
        const char *av[] = {fact};
        pl_add(facts, 1, av, NULL);
    }
    /* the survey after silence waits for the conversation's end; the
     * platform's customer-service window restarts */
    if (m->cs_rc == 1)
        PL(w, "ZADD", f->k_csat, "XX", kp_ll(k, now + m->cs), sid);
    if (wl > 0)
        PL(w, "ZADD", f->k_window, kp_ll(k, now + wl), sid);

    /* events: the session as updated (ingest.lua keeps its table s
     * current), its contact as read */
    struct og_buf cj = {0}, sj = {0}, ev = {0};
    og_buf_reserve(&sj, 2048); /* a session's JSON: ~1.1 KB with its contact */
    og_render_contact(&cj, c);
    redisReply upd[6];
    int n = 0;
    upd[2 * n] = sv("last_customer_ms"), upd[2 * n + 1] = sv(now_s), n++;
    if (has_w)
        upd[2 * n] = sv("window_ms"), upd[2 * n + 1] = sv(wms), n++;
    if (activated)
        upd[2 * n] = sv("status"), upd[2 * n + 1] = sv("active"), n++;
    render_session(&sj, s, upd, n, cj.data, m->goal);
    og_buf_free(&cj);
    const char *events = f->k_events;
    int e = OG_IN_EID0;
    if (activated) {
        event_head(&ev, m->a[e], "session.status_changed", now_iso);
        og_buf_append(&ev, sj.data, sj.len);
        og_buf_puts(&ev, ",\"from\":\"awaiting\",\"to\":\"active\"}}");
        emit(w, events, m->a[e], "session.status_changed", sid, &ev);
        kp(k, ev.data);
        ev = (struct og_buf){0};
        e++;
    }
    og_buf_reserve(&ev, sj.len + m->l[OG_IN_MTAIL] + 512);
    event_head(&ev, m->a[e], "message.received", now_iso);
    og_buf_append(&ev, sj.data, sj.len);
    og_buf_puts(&ev, ",\"message\":{\"id\":\""), og_buf_puts(&ev, mid);
    og_buf_puts(&ev, "\",\"session_id\":\""), og_buf_puts(&ev, sid);
    og_buf_puts(&ev, "\",\"direction\":\"in\",");
    og_buf_append(&ev, m->a[OG_IN_MTAIL], m->l[OG_IN_MTAIL]);
    og_buf_puts(&ev, ",\"sender\":{\"type\":\"contact\",\"id\":\""), og_buf_puts(&ev, cid);
    og_buf_puts(&ev, "\",\"name\":"), og_buf_append(&ev, sname.data, sname.len);
    og_buf_puts(&ev, "},\"reply_to\":null,\"status\":\"delivered\",\"error\":null}}}");
    emit(w, events, m->a[e], "message.received", sid, &ev);
    kp(k, ev.data);
    og_buf_free(&sj);
}

/* HMGET of a contact's rendered fields and its locked list. */
static void contact_read(struct pl *p, const char *ckey)
{
    const char *av[3 + OG_RENDER_CON_NFIELDS] = {"HMGET", ckey};
    for (int x = 0; x < OG_RENDER_CON_NFIELDS; x++)
        av[2 + x] = og_render_con_fields[x];
    av[2 + OG_RENDER_CON_NFIELDS] = "locked";
    pl_add(p, 3 + OG_RENDER_CON_NFIELDS, av, NULL);
}

/* --- hints: a thread's session and contact as last stored --- */

enum { HINTS = 16384 }; /* a power of two; ~1.3 MB */

static uint64_t hint_hash(const struct fm *m)
{
    uint64_t x = 14695981039346656037ULL; /* FNV-1a over channel, NUL, thread */
    for (size_t i = 0; i <= m->l[OG_IN_CH]; i++)
        x = (x ^ (unsigned char)m->a[OG_IN_CH][i]) * 1099511628211ULL;
    for (size_t i = 0; i < m->l[OG_IN_THREAD]; i++)
        x = (x ^ (unsigned char)m->a[OG_IN_THREAD][i]) * 1099511628211ULL;
    return x | 1; /* 0 marks an empty slot */
}

/* Fills m's sid and cid from its hint: 1, or 0 when there is none. */
static int hint_get(struct og_ingest_front *f, struct fm *m)
{
    uint64_t x = hint_hash(m);
    pthread_mutex_lock(&f->hints_mu);
    const struct og_ingest_hint *e = f->hints ? &f->hints[x & (HINTS - 1)] : NULL;
    m->hinted = e && e->h == x;
    if (m->hinted) {
        memcpy(m->sid, e->sid, sizeof e->sid);
        memcpy(m->cid, e->cid, sizeof e->cid);
    }
    pthread_mutex_unlock(&f->hints_mu);
    return m->hinted;
}

static void hint_put(struct og_ingest_front *f, const struct fm *m)
{
    const char *cid = field(m->s, "contact_id")->str;
    if (strlen(m->sid) >= sizeof f->hints->sid || strlen(cid) >= sizeof f->hints->cid)
        return;
    uint64_t x = hint_hash(m);
    pthread_mutex_lock(&f->hints_mu);
    if (!f->hints)
        f->hints = og_calloc(HINTS, sizeof *f->hints);
    struct og_ingest_hint *e = &f->hints[x & (HINTS - 1)];
    e->h = x;
    og_strlcpy(e->sid, m->sid, sizeof e->sid);
    og_strlcpy(e->cid, cid, sizeof e->cid);
    pthread_mutex_unlock(&f->hints_mu);
}

static void hint_drop(struct og_ingest_front *f, const struct fm *m)
{
    uint64_t x = hint_hash(m);
    pthread_mutex_lock(&f->hints_mu);
    if (f->hints && f->hints[x & (HINTS - 1)].h == x)
        f->hints[x & (HINTS - 1)].h = 0;
    pthread_mutex_unlock(&f->hints_mu);
}

void og_ingest_front_init(struct og_ingest_front *f, const char *tag)
{
    memset(f, 0, sizeof *f);
    f->tag = tag;
    pthread_mutex_init(&f->hints_mu, NULL);
    f->k_events = og_join(tag, ":events", NULL);
    f->k_texts = og_join(tag, ":texts", NULL);
    f->k_pending = og_join(tag, ":st:pending", NULL);
    f->k_csat = og_join(tag, ":timers:csat", NULL);
    f->k_window = og_join(tag, ":timers:window", NULL);
    f->k_awaiting = og_join(tag, ":idx:st:awaiting", NULL);
    f->k_active = og_join(tag, ":idx:st:active", NULL);
}

void og_ingest_front_fini(struct og_ingest_front *f)
{
    free(f->hints);
    f->hints = NULL;
    char **k[] = {&f->k_events, &f->k_texts,    &f->k_pending, &f->k_csat,
                  &f->k_window, &f->k_awaiting, &f->k_active};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        free(*k[i]), *k[i] = NULL;
    pthread_mutex_destroy(&f->hints_mu);
}

void og_ingest_front(void *ud, struct og_redis *r, struct og_batch_item *items, int n)
{
    struct og_ingest_front *f = ud;
    const char *P = f->tag;
    struct fm *ms = og_calloc((size_t)n, sizeof *ms);
    int taken = 0;
    for (int i = 0; i < n; i++) {
        struct fm *m = &ms[i];
        m->it = &items[i];
        if (items[i].argc != OG_IN__N)
            continue;
        for (int j = 0; j < OG_IN__N; j++) {
            m->a[j] = items[i].argv[j];
            m->l[j] = items[i].lens ? items[i].lens[j] : strlen(items[i].argv[j]);
        }
        m->on = eligible(m, ms, i);
        if (m->on) {
            keys_new(m, P);
            taken++;
        }
    }
    struct pl p = {0}, facts = {0};
    struct keep k = {0};
    redisReply **r1 = NULL, **r2 = NULL, **r3 = NULL, **r4 = NULL;
    size_t n1 = 0, n2 = 0, n3 = 0, n4 = 0;
    struct og_redis_arena *arena = og_redis_arena_new();
    int h = taken ? og_redis_hold(r) : -1, broken = 0, watching = 0;
    if (h < 0)
        goto out;

    /* round 1: the session of each thread the hints do not know
     * (thread_get; a thread still under its pre-bucket key is left to the
     * script) */
    for (int i = 0; i < n; i++)
        if (ms[i].on && !hint_get(f, &ms[i]))
            PL(&p, "HGET", ms[i].thk, ms[i].a[OG_IN_THREAD]);
    if (round_trip(r, h, arena, &p, &r1, &n1) != OG_OK) {
        broken = 1;
        goto out;
    }
    taken = 0;
    for (int i = 0, j = 0; i < n; i++) {
        struct fm *m = &ms[i];
        if (!m->on)
            continue;
        if (!m->hinted) {
            const redisReply *t = r1[j++];
            if (!str(t) || t->len >= sizeof m->sid) {
                m->on = 0;
                continue;
            }
            memcpy(m->sid, t->str, t->len + 1);
        }
        m->skey = og_join(P, ":ses:", m->sid, NULL);
        m->msgs = og_join(P, ":ses:", m->sid, ":msgs", NULL);
        if (m->hinted)
            m->ckey = og_join(P, ":con:", m->cid, NULL);
        taken++;
    }
    if (!taken)
        goto out;

    /* round 2, under WATCH of every key whose change would change what is
     * written or emitted: the session (its status, agent, fields; a
     * duplicate delivered meanwhile writes it too), the goals, the texts,
     * and the contact when the hint names it (an edit through the API
     * changes what the events carry) */
    pl_reset(&p);
    {
        const char **wk = og_calloc((size_t)(3 * taken + 2), sizeof *wk);
        int nw = 0;
        wk[nw++] = "WATCH";
        wk[nw++] = f->k_texts;
        for (int i = 0; i < n; i++)
            if (ms[i].on) {
                struct fm *m = &ms[i];
                m->chm = m;
                for (int o = 0; o < i && m->chm == m; o++)
                    if (ms[o].on && same(m, OG_IN_CH, &ms[o], OG_IN_CH))
                        m->chm = &ms[o];
                wk[nw++] = m->skey;
                if (m->chm == m)
                    wk[nw++] = m->gkey;
                if (m->hinted)
                    wk[nw++] = m->ckey;
            }
        pl_add(&p, nw, wk, NULL);
        free(wk);
    }
    watching = 1;
    for (int i = 0; i < n; i++) {
        struct fm *m = &ms[i];
        if (!m->on)
            continue;
        PL(&p, "HGETALL", m->skey);
        PL(&p, "HGET", m->thk, m->a[OG_IN_THREAD]);
        if (m->dk)
            PL(&p, "GET", m->dk);
        if (m->pmk) {
            PL(&p, "HGET", m->pmk, m->a[OG_IN_PMID]);
            PL(&p, "GET", m->pmck);
        }
        if (m->chm == m) {
            PL(&p, "HGET", f->k_texts, m->a[OG_IN_CH]);
            PL(&p, "HMGET", m->gkey, "event", "days");
        }
        if (m->hinted)
            contact_read(&p, m->ckey);
    }
    if (round_trip(r, h, arena, &p, &r2, &n2) != OG_OK) {
        broken = 1;
        goto out;
    }
    taken = 0;
    int later = 0; /* taken, their contact still to read */
    size_t j = 1;
    for (int i = 0; i < n; i++) {
        struct fm *m = &ms[i];
        if (!m->on)
            continue;
        m->s = r2[j++];
        m->th = r2[j++];
        m->dd = m->dk ? r2[j++] : NULL;
        m->pm = m->pmk ? r2[j++] : NULL;
        m->pmc = m->pmk ? r2[j++] : NULL;
        if (m->chm == m) {
            m->tx = r2[j++];
            m->goal = r2[j++];
            m->cs_rc = texts_cs(m->tx, &m->cs);
        } else {
            m->tx = m->chm->tx, m->goal = m->chm->goal;
            m->cs_rc = m->chm->cs_rc, m->cs = m->chm->cs;
        }
        m->con = m->hinted ? r2[j++] : NULL;
        m->on = steady(m) && m->cs_rc >= 0;
        if (m->on && m->hinted) {
            /* the session's contact is the one hinted */
            m->on = strcmp(field(m->s, "contact_id")->str, m->cid) == 0 && contact_steady(m);
        } else if (m->on) {
            m->ckey = og_join(P, ":con:", field(m->s, "contact_id")->str, NULL);
            later++;
        }
        if (!m->on && m->hinted)
            hint_drop(f, m);
        taken += m->on;
    }
    if (!taken)
        goto out;

    /* round 3: the contacts of the sessions found in round 1, watched too */
    if (later) {
        pl_reset(&p);
        for (int i = 0; i < n; i++)
            if (ms[i].on && !ms[i].hinted)
                PL(&p, "WATCH", ms[i].ckey);
        for (int i = 0; i < n; i++)
            if (ms[i].on && !ms[i].hinted)
                contact_read(&p, ms[i].ckey);
        if (round_trip(r, h, arena, &p, &r3, &n3) != OG_OK) {
            broken = 1;
            goto out;
        }
        taken = 0;
        j = n3 / 2;
        for (int i = 0; i < n; i++) {
            struct fm *m = &ms[i];
            if (!m->on)
                continue;
            if (!m->hinted) {
                m->con = r3[j++];
                m->on = contact_steady(m);
            }
            taken += m->on;
        }
        if (!taken)
            goto out;
    }

    /* round 4: the writes, all messages in one transaction */
    pl_reset(&p);
    PL(&p, "MULTI");
    for (int i = 0; i < n; i++) {
        struct fm *m = &ms[i];
        if (!m->on)
            continue;
        m->w0 = p.n;
        writes(f, m, &p, &k, &facts);
        m->wn = p.n - m->w0;
    }
    {
        size_t nf = facts.n;
        const char **av = og_calloc(nf + 2, sizeof *av);
        av[0] = "RPUSH";
        av[1] = f->k_pending;
        for (size_t x = 0; x < nf; x++)
            av[2 + x] = facts.av[facts.off[x]];
        pl_add(&p, (int)nf + 2, av, NULL);
        free(av);
    }
    PL(&p, "EXEC");
    if (round_trip(r, h, arena, &p, &r4, &n4) != OG_OK) {
        /* the EXEC may have run: the platform is asked to retry, and the
         * script's de-duplication answers the retry */
        broken = 1;
        for (int i = 0; i < n; i++)
            if (ms[i].on)
                ms[i].it->done = 1, ms[i].it->err = OG_ERR_UNAVAILABLE;
        goto out;
    }
    watching = 0;
    const redisReply *ex = r4[n4 - 1];
    if (ex->type != REDIS_REPLY_ARRAY || ex->elements != n4 - 2) {
        /* a watched key changed (nil), or a command was refused (EXECABORT:
         * nothing ran): the script takes them all, on the state as it is */
        if (ex->type == REDIS_REPLY_NIL)
            atomic_fetch_add(&f->conflicts, 1);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        struct fm *m = &ms[i];
        if (!m->on)
            continue;
        og_err e = OG_OK;
        for (size_t x = m->w0; x < m->w0 + m->wn; x++)
            if (ex->element[x - 1]->type == REDIS_REPLY_ERROR) {
                og_error("ingest: %s", ex->element[x - 1]->str);
                e = OG_ERR_INTERNAL;
            }
        m->it->done = 1;
        m->it->err = e;
        m->it->reply = e == OG_OK ? ok_reply(m->sid, m->a[OG_IN_MID]) : NULL;
        if (e == OG_OK && !m->it->reply)
            m->it->err = OG_ERR_INTERNAL;
        if (e == OG_OK) {
            atomic_fetch_add(&f->stored, 1);
            hint_put(f, m);
        }
    }
out:
    if (h >= 0 && watching && !broken) {
        redisReply **u = NULL;
        size_t nu = 0;
        pl_reset(&p);
        PL(&p, "UNWATCH");
        broken = round_trip(r, h, arena, &p, &u, &nu) != OG_OK;
        free(u);
    }
    if (h >= 0)
        og_redis_unhold(r, h, broken);
    free(r1), free(r2), free(r3), free(r4); /* the replies are the arena's */
    og_redis_arena_free(arena);
    pl_free(&p);
    pl_free(&facts);
    keep_free(&k);
    for (int i = 0; i < n; i++)
        keys_free(&ms[i]);
    free(ms);
}
