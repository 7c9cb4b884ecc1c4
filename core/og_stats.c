/* og_stats - see og_stats.h. By day or hour without a channel, agent or
 * group filter a query reads each UTC day's hour totals (one hash per day)
 * and gives each hour to its local day or hour. Otherwise it plans the
 * reads of the period (plan_period: UTC days where most of a day's hours
 * share a bucket, corrected by its other hours), reads them straight from
 * Redis, pipelined (read_direct: HGETALL, or with a filter HSCAN MATCH, so
 * only the matching fields leave Redis), keeps the fields whose tuple
 * passes the filters, and sums them with their sign into the bucket of
 * their local day or hour, agent, channel or group. An agent's current
 * presence state counts up to now from its since (the scripts count a
 * state's time when it ends); so do the waits still in the queue
 * (add_queue). */
#include "og_stats.h"
#include "og_archive.h"
#include "og_core_int.h"
#include "og_log.h"
#include "og_tz.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOURS_PER_CALL 744

static const int hist_edges[19] = {5,   10,  15,  20,   30,   45,   60,    90,    120,  180,
                                   300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400};

int og_stats_hist_edge(int i)
{
    return i >= 0 && i < 19 ? hist_edges[i] : -1;
}

enum by { BY_DAY, BY_HOUR, BY_AGENT, BY_CHANNEL, BY_GROUP };

static void acc_free(struct og_stats_acc *a)
{
    for (size_t i = 0; i < a->n_codes; i++)
        free(a->codes[i]);
    free(a->codes);
    free(a->code_n);
}

void og_stats_free(struct og_stats *s)
{
    if (!s)
        return;
    acc_free(&s->total);
    for (size_t i = 0; i < s->n; i++) {
        free(s->b[i].key);
        acc_free(&s->b[i].a);
    }
    free(s->b);
    free(s->slot);
    free(s);
}

static void acc_code(struct og_stats_acc *a, const char *code, int64_t n)
{
    for (size_t i = 0; i < a->n_codes; i++)
        if (strcmp(a->codes[i], code) == 0) {
            a->code_n[i] += n;
            return;
        }
    a->codes = og_realloc(a->codes, (a->n_codes + 1) * sizeof *a->codes);
    a->code_n = og_realloc(a->code_n, (a->n_codes + 1) * sizeof *a->code_n);
    a->codes[a->n_codes] = og_strdup(code);
    a->code_n[a->n_codes++] = n;
}

/* The fields that are maxima, not sums. */
static int is_max(int i)
{
    return i == OG_ST_QWAIT_MAX || i == OG_ST_QUEUE_LONGEST || i == OG_ST_QUEUE_MAX;
}

static void acc_vec(struct og_stats_acc *a, const int64_t *v)
{
    for (int i = 0; i < OG_ST__N; i++) {
        if (is_max(i))
            a->v[i] = v[i] > a->v[i] ? v[i] : a->v[i];
        else
            a->v[i] += v[i];
    }
}

static size_t key_hash(const char *k)
{
    size_t h = 14695981039346656037u; /* FNV-1a */
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211u;
    return h;
}

/* s->slot anew for s->b (at least twice as many slots as buckets). */
static void index_rebuild(struct og_stats *s)
{
    free(s->slot);
    s->n_slot = 64;
    while (2 * s->n > s->n_slot)
        s->n_slot *= 2;
    s->slot = og_calloc(s->n_slot, sizeof *s->slot);
    for (size_t j = 0; j < s->n; j++) {
        size_t i = key_hash(s->b[j].key) & (s->n_slot - 1);
        while (s->slot[i])
            i = (i + 1) & (s->n_slot - 1);
        s->slot[i] = j + 1;
    }
}

/* The bucket of key, created when absent. Found through an open-addressing
 * index (s->slot: bucket index + 1, 0 empty): a query looks a bucket up for
 * every field it reads, and 2160 hours or 50 agents with ids that share
 * their first characters make a linear search cost milliseconds. */
static struct og_stats_acc *bucket(struct og_stats *s, const char *key)
{
    size_t h = key_hash(key);
    for (size_t i = s->n_slot ? h & (s->n_slot - 1) : 0; s->n_slot; i = (i + 1) & (s->n_slot - 1)) {
        if (!s->slot[i])
            break;
        if (strcmp(s->b[s->slot[i] - 1].key, key) == 0)
            return &s->b[s->slot[i] - 1].a;
    }
    s->b = og_realloc(s->b, (s->n + 1) * sizeof *s->b);
    memset(&s->b[s->n], 0, sizeof s->b[s->n]);
    s->b[s->n].key = og_strdup(key);
    s->n++;
    if (2 * s->n > s->n_slot) {
        index_rebuild(s);
    } else {
        size_t i = h & (s->n_slot - 1);
        while (s->slot[i])
            i = (i + 1) & (s->n_slot - 1);
        s->slot[i] = s->n;
    }
    return &s->b[s->n - 1].a;
}

static int bucket_cmp(const void *x, const void *y)
{
    return strcmp(((const struct og_stats_bucket *)x)->key,
                  ((const struct og_stats_bucket *)y)->key);
}

/* A filter value: 1-128 bytes, no control characters (they never occur in
 * ids, codes or group names, and a tab would cross the tuple's fields). */
static int filter_ok(const char *f)
{
    if (!f)
        return 1;
    size_t n = strlen(f);
    if (n == 0 || n > 128)
        return 0;
    for (const unsigned char *p = (const unsigned char *)f; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

struct tuple {
    const char *kind, *ch, *agent, *group;
};

/* Splits a field (in place) into its tuple; 0 when malformed. */
static int tuple_of(char *f, struct tuple *t)
{
    char *part[4] = {0};
    int n = 0;
    part[n++] = f;
    for (char *p = f; *p && n < 4; p++)
        if (*p == '\t') {
            *p = 0;
            part[n++] = p + 1;
        }
    t->kind = part[0], t->ch = part[1], t->agent = part[2], t->group = part[3];
    return n == 4 && (!strcmp(t->kind, "v") || !strcmp(t->kind, "c"));
}

/* Adds a "c" field's code counts ("CODE<US>n<RS>...") with sign to a and
 * b (b may be NULL); only the filter's code when there is one. */
static void add_codes(struct og_stats_acc *a, struct og_stats_acc *b, const char *v, size_t len,
                      const char *only, int sign)
{
    const char *p = v, *end = v + len;
    while (p < end) {
        const char *us = memchr(p, 0x1f, (size_t)(end - p));
        if (!us)
            break;
        const char *rs = memchr(us, 0x1e, (size_t)(end - us));
        if (!rs)
            rs = end;
        char code[128];
        size_t cl = (size_t)(us - p);
        if (cl < sizeof code) {
            memcpy(code, p, cl);
            code[cl] = 0;
            int64_t n = 0;
            for (const char *q = us + 1; q < rs && *q >= '0' && *q <= '9'; q++)
                n = n * 10 + (*q - '0');
            if (!only || !strcmp(code, only)) {
                acc_code(a, code, sign * n);
                if (b)
                    acc_code(b, code, sign * n);
            }
        }
        p = rs + 1;
    }
}

/* s with the glob characters escaped, appended to b. */
static void glob_lit(struct og_buf *b, const char *s)
{
    for (; *s; s++) {
        if (strchr("*?[]\\", *s))
            og_buf_puts(b, "\\");
        og_buf_append(b, s, 1);
    }
}

/* The HSCAN pattern of the fields of the filters' tuples
 * ("?\t<channel>\t<agent>\t<group>", * for a dimension not filtered);
 * passes() still checks each field. [xfer] */
static char *filter_glob(const struct og_stats_query *q)
{
    struct og_buf b = {0};
    const char *dim[3] = {q->channel, q->agent_id, q->group};
    og_buf_puts(&b, "?");
    for (int i = 0; i < 3; i++) {
        og_buf_puts(&b, "\t");
        if (dim[i])
            glob_lit(&b, dim[i]);
        else
            og_buf_puts(&b, "*");
    }
    return b.data;
}

static int passes(const struct og_stats_query *q, const struct tuple *t)
{
    return (!q->channel || !strcmp(q->channel, t->ch)) &&
           (!q->agent_id || !strcmp(q->agent_id, t->agent)) &&
           (!q->group || !strcmp(q->group, t->group));
}

/* The comma-separated integers of a vector (the rest 0); a hand-rolled
 * parse: a long query reads some 10^5 of them. */
static void parse_vec(const char *p, int64_t *v)
{
    memset(v, 0, OG_ST__N * sizeof *v);
    for (int i = 0; i < OG_ST_VEC_N && *p; i++) {
        int neg = *p == '-';
        p += neg;
        int64_t x = 0;
        while (*p >= '0' && *p <= '9')
            x = x * 10 + (*p++ - '0');
        v[i] = neg ? -x : x;
        if (*p != ',')
            break;
        p++;
    }
}

static void acc_signed(struct og_stats_acc *a, const int64_t *v, int sign)
{
    if (sign > 0) {
        acc_vec(a, v);
        return;
    }
    for (int i = 0; i < OG_ST__N; i++)
        if (!is_max(i)) /* a maximum cannot be taken back; the traffic
                                     export's, per hour, never needs to */
            a->v[i] -= v[i];
}

/* The next field and value of a key read as one string ("field\0value\0
 * ..."; stats.lua "read"); 0 at its end. Both are NUL-terminated in place. */
static int next_pair(const char **p, const char *end, const char **f, size_t *fl, const char **v,
                     size_t *vl)
{
    if (*p >= end)
        return 0;
    *f = *p;
    *fl = strnlen(*f, (size_t)(end - *p));
    if (*f + *fl >= end)
        return 0;
    *v = *f + *fl + 1;
    *vl = strnlen(*v, (size_t)(end - *v));
    *p = *v + *vl + 1;
    return 1;
}

/* Adds one key's hash (read as one string) with sign to the total and to
 * its bucket: tb for day and hour buckets, else the tuple's agent, channel
 * or group. With a code filter the key is that code's: its "v" fields are
 * the facts of sessions closed with the code, its "c" fields their count. */
static void add_field(struct og_stats *s, const struct og_stats_query *q, enum by by,
                      const char *fp, size_t fl, const char *vp, size_t vl, struct og_stats_acc *tb,
                      int sign)
{
    int64_t v[OG_ST__N];
    char f[512];
    if (fl >= sizeof f)
        return;
    /* most fields of a key fail an agent or group filter: told without a copy */
    const char *want = q->agent_id ? q->agent_id : q->group;
    if (want && !memmem(fp, fl, want, strlen(want)))
        return;
    memcpy(f, fp, fl);
    f[fl] = 0;
    struct tuple t;
    if (!tuple_of(f, &t) || !passes(q, &t))
        return;
    struct og_stats_acc *b = tb;
    const char *dim = by == BY_AGENT     ? t.agent
                      : by == BY_CHANNEL ? t.ch
                      : by == BY_GROUP   ? t.group
                                         : NULL;
    if (dim)
        b = *dim ? bucket(s, dim) : NULL;
    if (t.kind[0] == 'v') {
        parse_vec(vp, v);
        acc_signed(&s->total, v, sign);
        if (b)
            acc_signed(b, v, sign);
    } else {
        add_codes(&s->total, b, vp, vl, q->success_code, sign);
    }
}

static void add_unit(struct og_stats *s, const struct og_stats_query *q, enum by by,
                     const char *buf, size_t len, struct og_stats_acc *tb, int sign)
{
    const char *p = buf, *end = buf + len, *fp, *vp;
    size_t fl, vl;
    while (next_pair(&p, end, &fp, &fl, &vp, &vl))
        add_field(s, q, by, fp, fl, vp, vl, tb, sign);
}

/* The same for a flat field, value, ... reply (HGETALL, an HSCAN page). */
static void add_reply(struct og_stats *s, const struct og_stats_query *q, enum by by,
                      const redisReply *h, struct og_stats_acc *tb, int sign)
{
    for (size_t i = 0; h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING &&
            h->element[i + 1]->type == REDIS_REPLY_STRING)
            add_field(s, q, by, h->element[i]->str, h->element[i]->len, h->element[i + 1]->str,
                      h->element[i + 1]->len, tb, sign);
}

/* Adds one UTC day's hour totals (stats.lua "read" "days": {its totals,
 * {hour, its hour key, ...} for hours read whole}) to the total and to the
 * time buckets of the period's hours (hours[j] is UTC hour h0 + j). */
static void add_day(struct og_stats *s, const struct og_stats_query *q, int64_t day,
                    const redisReply *r, const struct og_tz_hour *hours, const int *tb, size_t nh)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return;
    int64_t h0 = hours[0].utc_hour, v[OG_ST__N];
    const redisReply *t = r->element[0], *legacy = r->element[1];
    const char *p = t->str, *end = t->str + t->len, *fp, *vp;
    size_t fl, vl;
    while (next_pair(&p, end, &fp, &fl, &vp, &vl)) {
        int codes = *fp == 'c';
        char *e = NULL;
        int64_t j = day * 24 + strtoll(fp + codes, &e, 10) - h0;
        if (e == fp + codes || *e || j < 0 || j >= (int64_t)nh || hours[j].utc_hour != h0 + j)
            continue;
        struct og_stats_acc *b = &s->b[tb[j]].a;
        if (codes) {
            add_codes(&s->total, b, vp, vl, q->success_code, 1);
        } else {
            parse_vec(vp, v);
            acc_vec(&s->total, v);
            acc_vec(b, v);
        }
    }
    for (size_t i = 0; i + 1 < legacy->elements; i += 2) {
        int64_t j = strtoll(legacy->element[i]->str, NULL, 10) - h0;
        if (j >= 0 && j < (int64_t)nh && hours[j].utc_hour == h0 + j)
            add_unit(s, q, BY_DAY, legacy->element[i + 1]->str, legacy->element[i + 1]->len,
                     &s->b[tb[j]].a, 1);
    }
}

/* What to read: a key of level 'h' or 'd' with its number, added to
 * time bucket add and taken from time bucket sub (-1: none). A day read for
 * the bucket most of its hours belong to is corrected by its other hours
 * (taken from that bucket, added to theirs): a local day in Berlin is one
 * UTC day and two hours at each end, not 24 hours. */
struct unit {
    char lvl;
    int64_t n;
    int add, sub;
};

struct plan {
    struct unit *u;
    size_t n, cap;
};

static void plan_add(struct plan *p, char lvl, int64_t n, int add, int sub)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 256;
        p->u = og_realloc(p->u, p->cap * sizeof *p->u);
    }
    p->u[p->n++] = (struct unit){lvl, n, add, sub};
}

/* Hours h0..h0+23 of a UTC day that need a read (want[i]), with their
 * add[i] / sub[i]. */
static void plan_hours(struct plan *p, int64_t h0, const int *add, const int *sub, const int *want)
{
    for (int i = 0; i < 24; i++)
        if (want[i])
            plan_add(p, 'h', h0 + i, add[i], sub[i]);
}

/* The reads of a period: hours[] in order with their time bucket tb[]
 * (consecutive UTC hours; group_by=hour reads hours). */
static void plan_period(struct plan *p, const struct og_tz_hour *hours, const int *tb, size_t nh,
                        int by_hour)
/* (by_hour: every hour read for itself, never a day) */
{
    if (nh == 0)
        return;
    int contiguous = 1;
    for (size_t i = 1; i < nh; i++)
        contiguous &= hours[i].utc_hour == hours[i - 1].utc_hour + 1;
    if (by_hour || !contiguous) {
        for (size_t i = 0; i < nh; i++)
            plan_add(p, 'h', hours[i].utc_hour, tb[i], -1);
        return;
    }
    int64_t first = hours[0].utc_hour, last = hours[nh - 1].utc_hour;
    for (int64_t day = first / 24 - (first % 24 < 0); day * 24 <= last; day++) {
        int add[24], sub[24], want[24], in[24];
        for (int i = 0; i < 24; i++) {
            int64_t h = day * 24 + i;
            in[i] = h >= first && h <= last ? tb[h - first] : -1;
        }
        /* the bucket most of this day's hours are in */
        int major = -1, best = 0;
        for (int i = 0; i < 24; i++)
            if (in[i] >= 0) {
                int c = 0;
                for (int j = 0; j < 24; j++)
                    c += in[j] == in[i];
                if (c > best)
                    best = c, major = in[i];
            }
        if (best >= 12) {
            plan_add(p, 'd', day, major, -1);
            for (int i = 0; i < 24; i++) {
                want[i] = in[i] != major;
                add[i] = in[i];
                sub[i] = major;
            }
        } else {
            for (int i = 0; i < 24; i++) {
                want[i] = in[i] >= 0;
                add[i] = in[i];
                sub[i] = -1;
            }
        }
        plan_hours(p, day * 24, add, sub, want);
    }
}

/* The queue over time (stats.lua "queue"): each hour's waits into its
 * bucket (a time bucket, or the channel's or group's: an agent never has a
 * waiting session, so an agent's figures and an agent filter's are 0), the
 * most waiting at once (kept for all queues together: only without
 * filters, for time buckets and the total), and the waits still going on,
 * up to now. A wait is counted when it ends; until then it is read here. */
static og_err add_queue(struct og_core *c, struct og_stats *s, const struct og_stats_query *q,
                        enum by by, const struct og_tz_hour *hours, const int *tb, size_t nh,
                        int64_t now)
{
    if (nh == 0)
        return OG_OK;
    int64_t h0 = hours[0].utc_hour, d0 = h0 / 24, days = hours[nh - 1].utc_hour / 24 - d0 + 1;
    char a1[24], a2[24];
    snprintf(a1, sizeof a1, "%lld", (long long)d0);
    snprintf(a2, sizeof a2, "%lld", (long long)days);
    const char *argv[] = {c->tag, "queue", a1, a2};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_STATS, 4, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    if (r->elements != 3 + (size_t)days) {
        freeReplyObject(r);
        return OG_ERR_INTERNAL;
    }
    int timed = by == BY_DAY || by == BY_HOUR;
    int whole = !q->channel && !q->agent_id && !q->group && !q->success_code;
    int64_t last = *r->element[1]->str ? strtoll(r->element[1]->str, NULL, 10) : INT64_MAX;
    const redisReply *wt = r->element[2];
    int64_t waiting = (int64_t)wt->elements / 3;
    int64_t *most = og_calloc(nh, sizeof *most);
    /* the days' fields "<hour>\tm" and "<hour>\t<channel>\t<group>" */
    for (int64_t d = 0; d < days; d++) {
        const redisReply *hh = r->element[3 + d];
        for (size_t i = 0; i + 1 < hh->elements; i += 2) {
            const char *f = hh->element[i]->str, *val = hh->element[i + 1]->str;
            char *p = NULL;
            int64_t hour = strtoll(f, &p, 10), j = hour - h0;
            if (*p != '\t' || j < 0 || j >= (int64_t)nh || hours[j].utc_hour != hour)
                continue;
            const char *ch = p + 1;
            if (!strcmp(ch, "m")) {
                most[j] = strtoll(val, NULL, 10);
                continue;
            }
            const char *tab = strchr(ch, '\t');
            if (!tab || q->agent_id || q->success_code)
                continue;
            const char *grp = tab + 1;
            size_t chl = (size_t)(tab - ch);
            if ((q->channel && (strlen(q->channel) != chl || strncmp(q->channel, ch, chl))) ||
                (q->group && strcmp(q->group, grp)))
                continue;
            char *end = NULL;
            int64_t w[OG_ST__N] = {0};
            w[OG_ST_QUEUE_MS] = strtoll(val, &end, 10);
            w[OG_ST_QUEUE_LONGEST] = *end == ',' ? strtoll(end + 1, NULL, 10) : 0;
            acc_vec(&s->total, w);
            struct og_stats_acc *db = timed ? &s->b[tb[j]].a : NULL;
            if (by == BY_CHANNEL) {
                char chn[129];
                snprintf(chn, sizeof chn, "%.*s", (int)chl, ch);
                db = chl ? bucket(s, chn) : NULL;
            } else if (by == BY_GROUP) {
                db = *grp ? bucket(s, grp) : NULL;
            }
            if (db)
                acc_vec(db, w);
        }
    }
    /* each hour: its length so far, its most waiting at once (the hours
     * since the last change began with as many as wait now) */
    for (size_t j = 0; j < nh; j++) {
        int64_t h = hours[j].utc_hour, a = h * 3600000, b = a + 3600000;
        int64_t span = (now < b ? now : b) - a;
        struct og_stats_acc *ta = timed ? &s->b[tb[j]].a : NULL;
        if (span > 0) {
            s->total.v[OG_ST_SPAN_MS] += span;
            if (ta)
                ta->v[OG_ST_SPAN_MS] += span;
        }
        if (h > last && a <= now && waiting > most[j])
            most[j] = waiting;
        int64_t v[OG_ST__N] = {0};
        v[OG_ST_QUEUE_MAX] = most[j];
        if (whole) {
            acc_vec(&s->total, v);
            if (ta)
                acc_vec(ta, v);
        }
    }
    free(most);
    /* the waits going on: their time up to now, their length so far */
    for (size_t i = 0; i + 2 < wt->elements; i += 3) {
        int64_t since = strtoll(wt->element[i]->str, NULL, 10);
        const char *ch = wt->element[i + 1]->str, *grp = wt->element[i + 2]->str;
        if (q->agent_id || q->success_code || (q->channel && strcmp(q->channel, ch)) ||
            (q->group && strcmp(q->group, grp)))
            continue;
        for (size_t j = 0; j < nh; j++) {
            int64_t a = hours[j].utc_hour * 3600000, b = a + 3600000;
            if (now < b)
                b = now;
            if (since > a)
                a = since;
            if (b <= a)
                continue;
            int64_t w[OG_ST__N] = {0};
            w[OG_ST_QUEUE_MS] = b - a;
            w[OG_ST_QUEUE_LONGEST] = b - since;
            acc_vec(&s->total, w);
            struct og_stats_acc *db = timed              ? &s->b[tb[j]].a
                                      : by == BY_CHANNEL ? (*ch ? bucket(s, ch) : NULL)
                                      : by == BY_GROUP   ? (*grp ? bucket(s, grp) : NULL)
                                                         : NULL;
            if (db)
                acc_vec(db, w);
        }
    }
    freeReplyObject(r);
    /* a bucket that is not a time is as long as the period */
    if (!timed)
        for (size_t i = 0; i < s->n; i++)
            s->b[i].a.v[OG_ST_SPAN_MS] = s->total.v[OG_ST_SPAN_MS];
    s->queue_max = whole;
    return OG_OK;
}

static int state_field(const char *st)
{
    return !strcmp(st, "online") ? OG_ST_ONLINE : !strcmp(st, "away") ? OG_ST_AWAY : OG_ST_OFFLINE;
}

static int by_of(const char *gb)
{
    static const char *const names[] = {"day", "hour", "agent", "channel", "group"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(gb, names[i]))
            return i;
    return -1;
}

/* The agents (each one's bucket by agent, and its current presence state
 * up to now) and groups (their buckets) of a stats.lua "read" reply r. */
static void add_meta(struct og_stats *s, const struct og_stats_query *q, enum by by,
                     const redisReply *r, const struct og_tz_hour *hours, const int *tb, size_t nh,
                     int64_t now)
{
    int timed = by == BY_DAY || by == BY_HOUR;
    const redisReply *ag = r->element[1], *gr = r->element[2];
    for (size_t i = 0; i + 2 < ag->elements; i += 3) {
        const char *id = ag->element[i]->str;
        if (q->agent_id && strcmp(q->agent_id, id) != 0)
            continue;
        if (by == BY_AGENT)
            bucket(s, id);
        /* the current state, from its since up to now */
        int64_t since = strtoll(ag->element[i + 2]->str, NULL, 10);
        if (since <= 0 || q->channel || q->group || q->success_code)
            continue;
        int f = state_field(ag->element[i + 1]->str);
        for (size_t j = 0; j < nh; j++) {
            int64_t a = hours[j].utc_hour * 3600000, b = a + 3600000;
            if (since > a)
                a = since;
            if (now < b)
                b = now;
            if (b <= a)
                continue;
            s->total.v[f] += b - a;
            struct og_stats_acc *t = by == BY_AGENT ? bucket(s, id) : timed ? &s->b[tb[j]].a : NULL;
            if (t)
                t->v[f] += b - a;
        }
    }
    if (by == BY_GROUP)
        for (size_t i = 0; i < gr->elements; i++)
            if (!q->group || !strcmp(q->group, gr->element[i]->str))
                bucket(s, gr->element[i]->str);
}

/* stats.lua "read" of no key: the agents and groups alone. */
static og_err read_meta(struct og_core *c, struct og_stats *s, const struct og_stats_query *q,
                        enum by by, const struct og_tz_hour *hours, const int *tb, size_t nh,
                        int64_t now)
{
    const char *argv[] = {c->tag, "read", "1", "all"};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_STATS, 4, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    if (r->elements != 3) {
        freeReplyObject(r);
        return OG_ERR_INTERNAL;
    }
    add_meta(s, q, by, r, hours, tb, nh, now);
    freeReplyObject(r);
    return OG_OK;
}

#define PIPE_KEYS 256

/* The fields of one UTC day that pass the filters ("v\t<tuple>" and, for
 * tuples with closes that had codes, "c\t<tuple>"), from its tuple set
 * P:st:u:<day>. */
struct day_fields {
    int64_t day;
    char **f; /* [owned] */
    size_t n;
};

static void day_fields_free(struct day_fields *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d[i].n; j++)
            free(d[i].f[j]);
        free(d[i].f);
    }
    free(d);
}

/* The UTC hour a unit starts at, or -1 for a level the tuple sets do not
 * cover. */
static int64_t unit_hour(const struct unit *x)
{
    return x->lvl == 'h' ? x->n : x->lvl == 'd' ? x->n * 24 : -1;
}

/* With a channel, agent or group filter, reads the units of u[0..n) that
 * start at or after P:st:uv (from there every hour's tuples are in their
 * day's set, prelude.lua st_apply) by HMGET of the fields of the tuples that
 * pass: a few fields per key instead of every key whole (2160 hour keys of
 * 90 days by hour). done[i] is set for each unit read. */
static og_err read_tuples(struct og_core *c, struct og_stats *s, const struct og_stats_query *q,
                          enum by by, const struct unit *u, size_t n, int timed, char *done)
{
    redisReply *r = NULL;
    og_err e = og_redis_cmd(c->redis, &r, "GET %s:st:uv", c->tag);
    if (e != OG_OK)
        return e;
    int64_t uv = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
    freeReplyObject(r);
    if (uv < 0)
        return OG_OK;
    /* the days of the units to read this way, in order (units are) */
    struct day_fields *days = og_calloc(n ? n : 1, sizeof *days);
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t h = unit_hour(&u[i]);
        if (h < 0 || h < uv)
            continue;
        int64_t day = h / 24;
        if (nd == 0 || days[nd - 1].day != day)
            days[nd++].day = day;
    }
    char(*key)[300] = og_calloc(PIPE_KEYS, sizeof *key);
    const char **av = og_calloc(PIPE_KEYS * 2, sizeof *av);
    const char *const **argv = og_calloc(PIPE_KEYS, sizeof *argv);
    int *argc = og_calloc(PIPE_KEYS, sizeof *argc);
    redisReply **rep = og_calloc(PIPE_KEYS, sizeof *rep);
    for (size_t d0 = 0; d0 < nd && e == OG_OK; d0 += PIPE_KEYS) {
        size_t m = nd - d0 < PIPE_KEYS ? nd - d0 : PIPE_KEYS;
        for (size_t k = 0; k < m; k++) {
            snprintf(key[k], sizeof key[k], "%s:st:u:%lld", c->tag, (long long)days[d0 + k].day);
            av[2 * k] = "SMEMBERS", av[2 * k + 1] = key[k];
            argv[k] = av + 2 * k, argc[k] = 2;
        }
        e = og_redis_pipeline(c->redis, m, argc, argv, rep);
        for (size_t k = 0; e == OG_OK && k < m; k++) {
            struct day_fields *d = &days[d0 + k];
            const redisReply *set = rep[k];
            d->f = og_calloc(set->elements + 1, sizeof *d->f);
            for (size_t i = 0; set->type == REDIS_REPLY_ARRAY && i < set->elements; i++) {
                char f[512];
                struct tuple t;
                if (set->element[i]->len + 1 > sizeof f)
                    continue;
                memcpy(f, set->element[i]->str, set->element[i]->len + 1);
                if (!tuple_of(f, &t) || !passes(q, &t))
                    continue;
                d->f[d->n++] = og_strdup(set->element[i]->str);
            }
        }
        for (size_t k = 0; k < m; k++)
            if (rep[k])
                freeReplyObject(rep[k]), rep[k] = NULL;
    }
    free(av);
    /* the units: HMGET of their day's fields (none: nothing to read) */
    size_t di = 0;
    const char ***hv = og_calloc(PIPE_KEYS, sizeof *hv);
    size_t *unit_of = og_calloc(PIPE_KEYS, sizeof *unit_of);
    struct day_fields **dof = og_calloc(PIPE_KEYS, sizeof *dof);
    for (size_t i = 0; i < n && e == OG_OK;) {
        size_t m = 0;
        for (; i < n && m < PIPE_KEYS; i++) {
            const struct unit *x = &u[i];
            int64_t h = unit_hour(x);
            if (h < 0 || h < uv)
                continue;
            while (di < nd && days[di].day != h / 24)
                di++;
            if (di == nd) { /* cannot be: every such unit's day is listed */
                e = OG_ERR_INTERNAL;
                break;
            }
            done[i] = 1;
            if (days[di].n == 0)
                continue;
            snprintf(key[m], sizeof key[m], "%s:st:%c:%lld%s%s", c->tag, x->lvl, (long long)x->n,
                     q->success_code ? ":" : "", q->success_code ? q->success_code : "");
            hv[m] = og_calloc(days[di].n + 2, sizeof *hv[m]);
            hv[m][0] = "HMGET", hv[m][1] = key[m];
            memcpy(hv[m] + 2, days[di].f, days[di].n * sizeof *hv[m]);
            argv[m] = hv[m], argc[m] = (int)days[di].n + 2;
            unit_of[m] = i, dof[m] = &days[di];
            m++;
        }
        if (e == OG_OK && m)
            e = og_redis_pipeline(c->redis, m, argc, argv, rep);
        for (size_t k = 0; e == OG_OK && k < m; k++) {
            const struct unit *x = &u[unit_of[k]];
            const redisReply *vals = rep[k];
            if (vals->type != REDIS_REPLY_ARRAY || vals->elements != dof[k]->n) {
                e = OG_ERR_INTERNAL;
                break;
            }
            for (size_t j = 0; j < vals->elements; j++) {
                const redisReply *v = vals->element[j];
                if (v->type != REDIS_REPLY_STRING)
                    continue;
                const char *f = dof[k]->f[j];
                /* as read_direct: to its bucket, from the one it corrects */
                if (x->add >= 0)
                    add_field(s, q, by, f, strlen(f), v->str, v->len,
                              timed ? &s->b[x->add].a : NULL, 1);
                if (x->sub >= 0)
                    add_field(s, q, by, f, strlen(f), v->str, v->len,
                              timed ? &s->b[x->sub].a : NULL, -1);
            }
        }
        for (size_t k = 0; k < m; k++) {
            free(hv[k]);
            if (rep[k])
                freeReplyObject(rep[k]), rep[k] = NULL;
        }
    }
    free(hv), free(unit_of), free(dof);
    free(key), free(argv), free(argc), free(rep);
    day_fields_free(days, nd);
    return e;
}

/* Reads plan units u[0..n) straight from Redis, pipelined: HGETALL, or
 * with a filter HSCAN MATCH its pattern (mode), so Redis answers in C: a
 * script would turn every field of every key into a Lua string and back,
 * which costs more than everything else at 10^5 fields. Each unit's fields
 * are added to its bucket and taken from the one it corrects. */
static og_err read_whole(struct og_core *c, struct og_stats *s, const struct og_stats_query *q,
                         enum by by, const struct unit *u, size_t n, const char *mode, int timed)
{
    int scan = strcmp(mode, "all") != 0;
    og_err e = OG_OK;
    char(*key)[300] = og_calloc(PIPE_KEYS, sizeof *key);
    const char *(*av)[7] = og_calloc(PIPE_KEYS, sizeof *av);
    const char *const **argv = og_calloc(PIPE_KEYS, sizeof *argv);
    int *argc = og_calloc(PIPE_KEYS, sizeof *argc);
    redisReply **rep = og_calloc(PIPE_KEYS, sizeof *rep);
    for (size_t k0 = 0; k0 < n && e == OG_OK; k0 += PIPE_KEYS) {
        size_t m = n - k0 < PIPE_KEYS ? n - k0 : PIPE_KEYS;
        for (size_t k = 0; k < m; k++) {
            const struct unit *x = &u[k0 + k];
            snprintf(key[k], sizeof key[k], "%s:st:%c:%lld%s%s", c->tag, x->lvl, (long long)x->n,
                     q->success_code ? ":" : "", q->success_code ? q->success_code : "");
            const char *scan_av[7] = {"HSCAN", key[k], "0", "MATCH", mode, "COUNT", "100000"};
            const char *all_av[2] = {"HGETALL", key[k]};
            memcpy(av[k], scan ? scan_av : all_av, (scan ? 7 : 2) * sizeof *av[k]);
            argc[k] = scan ? 7 : 2;
            argv[k] = av[k];
        }
        e = og_redis_pipeline(c->redis, m, argc, argv, rep);
        for (size_t k = 0; e == OG_OK && k < m; k++) {
            const struct unit *x = &u[k0 + k];
            redisReply *h = rep[k], *page = h;
            char cur[32] = "0";
            if (h->type != REDIS_REPLY_ARRAY || (scan && h->elements != 2)) {
                e = OG_ERR_INTERNAL;
                break;
            }
            for (int pages = 0; e == OG_OK && pages < 100000; pages++) {
                const redisReply *fields = page;
                if (scan) {
                    snprintf(cur, sizeof cur, "%s", page->element[0]->str);
                    fields = page->element[1];
                }
                /* both: the total is unchanged, the hour moves between
                 * buckets; sub alone: an hour of a day read that is outside
                 * the period */
                if (x->add >= 0)
                    add_reply(s, q, by, fields, timed ? &s->b[x->add].a : NULL, 1);
                if (x->sub >= 0)
                    add_reply(s, q, by, fields, timed ? &s->b[x->sub].a : NULL, -1);
                if (page != h)
                    freeReplyObject(page);
                page = NULL;
                if (!scan || !strcmp(cur, "0"))
                    break;
                /* an HSCAN that did not finish in one page: the rest */
                const char *more[7] = {"HSCAN", key[k], cur, "MATCH", mode, "COUNT", "100000"};
                e = og_redis_argv(c->redis, 7, more, NULL, &page);
                if (e == OG_OK && (page->type != REDIS_REPLY_ARRAY || page->elements != 2)) {
                    freeReplyObject(page);
                    e = OG_ERR_INTERNAL;
                }
            }
        }
        for (size_t k = 0; k < m; k++)
            if (rep[k])
                freeReplyObject(rep[k]), rep[k] = NULL;
    }
    free(key), free(av), free(argv), free(argc), free(rep);
    return e;
}

/* The units u[0..n): with a channel, agent or group filter those the tuple
 * sets cover by their fields (read_tuples), the others whole. */
static og_err read_direct(struct og_core *c, struct og_stats *s, const struct og_stats_query *q,
                          enum by by, const struct unit *u, size_t n, const char *mode, int timed)
{
    if (!q->channel && !q->agent_id && !q->group)
        return read_whole(c, s, q, by, u, n, mode, timed);
    char *done = og_calloc(n ? n : 1, 1);
    og_err e = read_tuples(c, s, q, by, u, n, timed, done);
    struct unit *rest = og_calloc(n ? n : 1, sizeof *rest);
    size_t nr = 0;
    for (size_t i = 0; i < n; i++)
        if (!done[i])
            rest[nr++] = u[i];
    if (e == OG_OK && nr)
        e = read_whole(c, s, q, by, rest, nr, mode, timed);
    free(rest), free(done);
    return e;
}

og_err og_stats_check(const struct og_stats_query *q, char *msg, size_t msglen)
{
    if (by_of(q->group_by ? q->group_by : "day") < 0) {
        snprintf(msg, msglen, "group_by: one of day, hour, agent, channel, group");
        return OG_ERR_INVALID;
    }
    if (!filter_ok(q->channel) || !filter_ok(q->agent_id) || !filter_ok(q->group) ||
        !filter_ok(q->success_code)) {
        snprintf(msg, msglen, "channel, agent_id, group, success_code: 1-128 characters");
        return OG_ERR_INVALID;
    }
    struct og_tz *z = NULL;
    if (og_tz_load(q->tz ? q->tz : "UTC", &z) != OG_OK) {
        snprintf(msg, msglen,
                 "tz: unknown time zone (a name of the tz database, e.g. "
                 "Europe/Berlin)");
        return OG_ERR_INVALID;
    }
    struct og_tz_hour *hours = NULL;
    size_t nh = 0;
    int rc = og_tz_hours(z, q->from, q->to, OG_STATS_MAX_DAYS, &hours, &nh, msg, msglen);
    og_tz_free(z);
    free(hours);
    return rc == 0 ? OG_OK : OG_ERR_INVALID;
}

og_err og_stats_apply(struct og_core *c, int max, long *applied, long *left)
{
    char s_max[16];
    snprintf(s_max, sizeof s_max, "%d", max > 0 ? max : OG_STATS_APPLY_MAX);
    const char *argv[] = {c->tag, "apply", s_max};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_STATS, 3, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    if (r->elements < 3) {
        freeReplyObject(r);
        return OG_ERR_INTERNAL;
    }
    if (applied)
        *applied = (long)r->element[1]->integer;
    if (left)
        *left = (long)r->element[2]->integer;
    freeReplyObject(r);
    return OG_OK;
}

/* The most steps a read spends applying before it reads: 2000 steps of
 * OG_STATS_APPLY_MAX facts is minutes of ingest at full speed with no
 * worker running anywhere; past that the read goes ahead without the
 * newest facts rather than wait without end. */
#define APPLY_ALL_STEPS 2000

og_err og_stats_apply_all(struct og_core *c)
{
    /* nothing pending (the worker keeps it so): a plain LLEN costs Redis
     * ~1 us, the script ~40 us */
    redisReply *r = NULL;
    og_err e = og_redis_cmd(c->redis, &r, "LLEN " OG_KEY_ST_PENDING, c->tag);
    long long n = e == OG_OK && r->type == REDIS_REPLY_INTEGER ? r->integer : 1;
    if (r)
        freeReplyObject(r);
    if (e != OG_OK)
        return e;
    if (n == 0)
        return OG_OK;
    long left = 1;
    for (int i = 0; i < APPLY_ALL_STEPS && left > 0; i++)
        if ((e = og_stats_apply(c, OG_STATS_APPLY_MAX, NULL, &left)) != OG_OK)
            return e;
    if (left > 0)
        og_warn("stats: %ld facts still pending after %d steps; figures may miss the newest", left,
                APPLY_ALL_STEPS);
    return OG_OK;
}

og_err og_stats_compute(struct og_core *c, const struct og_stats_query *q, struct og_stats **out,
                        char *msg, size_t msglen)
{
    *out = NULL;
    og_err ce = og_stats_check(q, msg, msglen);
    if (ce != OG_OK)
        return ce;
    /* read-your-writes: every fact counted so far is in the counters */
    if ((ce = og_stats_apply_all(c)) != OG_OK)
        return ce;
    const char *tzname = q->tz ? q->tz : "UTC";
    const char *gb = q->group_by ? q->group_by : "day";
    enum by by = (enum by)by_of(gb);
    struct og_tz *z = NULL;
    if (og_tz_load(tzname, &z) != OG_OK)
        return OG_ERR_INVALID;
    struct og_tz_hour *hours = NULL;
    size_t nh = 0;
    int rc = og_tz_hours(z, q->from, q->to, OG_STATS_MAX_DAYS, &hours, &nh, msg, msglen);
    og_tz_free(z);
    if (rc != 0)
        return OG_ERR_INVALID;

    struct og_stats *s = og_calloc(1, sizeof *s);
    snprintf(s->from, sizeof s->from, "%s", q->from);
    snprintf(s->to, sizeof s->to, "%s", q->to);
    snprintf(s->tz, sizeof s->tz, "%s", tzname);
    snprintf(s->group_by, sizeof s->group_by, "%s", gb);
    /* day and hour buckets: every one of the period, in order; tb[i] is the
     * time bucket of hours[i] (0 for all when buckets are not times) */
    int *tb = og_calloc(nh ? nh : 1, sizeof *tb);
    for (size_t i = 0; i < nh; i++) {
        if (by != BY_DAY && by != BY_HOUR)
            continue;
        const char *key = by == BY_DAY ? hours[i].day : hours[i].hour;
        if (!s->n || strcmp(s->b[s->n - 1].key, key) != 0)
            bucket(s, key);
        tb[i] = (int)s->n - 1;
    }
    if (by == BY_CHANNEL)
        for (size_t i = 0; i < q->n_channels; i++)
            if (!q->channel || !strcmp(q->channel, q->channels[i]))
                bucket(s, q->channels[i]);
    int timed = by == BY_DAY || by == BY_HOUR;
    /* by day or hour without channel, agent or group: each UTC day's hour
     * totals (one hash per day, whatever the zone: no corrections) */
    int totals = timed && !q->channel && !q->agent_id && !q->group;
    struct plan plan = {0};
    if (totals && nh)
        for (int64_t d = hours[0].utc_hour / 24; d <= hours[nh - 1].utc_hour / 24; d++)
            plan_add(&plan, 'T', d, -1, -1);
    else
        plan_period(&plan, hours, tb, nh, by == BY_HOUR);
    /* what of each key: all of it, or with a channel filter the fields of
     * the filters' tuples, matched inside Redis. A pattern that starts with
     * the channel fails fast on any other field; one that starts "?\t*\t"
     * (an agent or group alone) makes Redis try every position of every
     * field, which costs more than sending them all (passes() filters) */
    char *mode = totals ? og_strdup("days") : q->channel ? filter_glob(q) : og_strdup("all");

    og_err e = OG_OK;
    /* per read: the main key, or with a code filter that code's key */
    size_t chunk = HOURS_PER_CALL;
    char **argv = og_calloc(HOURS_PER_CALL + 6, sizeof *argv);
    char(*num)[200] = og_calloc(HOURS_PER_CALL, sizeof *num);
    int64_t now = og_now_ms();
    for (size_t start = 0; start < plan.n || start == 0; start += chunk) {
        size_t cnt = plan.n - start < chunk ? plan.n - start : chunk;
        if (!totals) { /* keys read straight from Redis; the script once,
                          for the agents and groups */
            if (start == 0 && (e = read_meta(c, s, q, by, hours, tb, nh, now)) != OG_OK)
                break;
            if (cnt && (e = read_direct(c, s, q, by, plan.u + start, cnt, mode, timed)) != OG_OK)
                break;
            if (plan.n == 0)
                break;
            continue;
        }
        int argc = 0;
        argv[argc++] = c->tag;
        argv[argc++] = "read";
        argv[argc++] = start == 0 ? "1" : "0";
        argv[argc++] = mode;
        if (totals)
            argv[argc++] = q->success_code ? (char *)q->success_code : "";
        for (size_t i = 0; i < cnt; i++) {
            const struct unit *u = &plan.u[start + i];
            if (totals)
                snprintf(num[i], sizeof num[0], "%lld", (long long)u->n);
            else if (q->success_code)
                snprintf(num[i], sizeof num[0], "%c:%lld:%s", u->lvl, (long long)u->n,
                         q->success_code);
            else
                snprintf(num[i], sizeof num[0], "%c:%lld", u->lvl, (long long)u->n);
            argv[argc++] = num[i];
        }
        redisReply *r = NULL;
        e = og_script_call(c, OG_LUA_STATS, argc, (const char **)argv, NULL, &r, NULL, 0);
        if (e != OG_OK)
            break;
        if (r->elements != 3 + cnt) {
            freeReplyObject(r);
            e = OG_ERR_INTERNAL;
            break;
        }
        if (start == 0)
            add_meta(s, q, by, r, hours, tb, nh, now);
        for (size_t i = 0; i < cnt; i++) {
            const struct unit *u = &plan.u[start + i];
            const redisReply *h = r->element[3 + i];
            if (totals) {
                add_day(s, q, u->n, h, hours, tb, nh);
                continue;
            }
            if (h->type != REDIS_REPLY_STRING)
                continue;
            /* both: the total is unchanged, the hour moves between buckets;
             * sub alone: an hour of a day read that is outside the period */
            if (u->add >= 0)
                add_unit(s, q, by, h->str, h->len, timed ? &s->b[u->add].a : NULL, 1);
            if (u->sub >= 0)
                add_unit(s, q, by, h->str, h->len, timed ? &s->b[u->sub].a : NULL, -1);
        }
        freeReplyObject(r);
        if (plan.n == 0)
            break;
    }
    if (e == OG_OK)
        e = add_queue(c, s, q, by, hours, tb, nh, now);
    free(argv), free(num), free(tb), free(hours), free(plan.u), free(mode);
    if (e != OG_OK) {
        og_stats_free(s);
        return e;
    }
    if (by != BY_DAY && by != BY_HOUR) {
        qsort(s->b, s->n, sizeof *s->b, bucket_cmp);
        index_rebuild(s);
    }
    *out = s;
    return OG_OK;
}

double og_stats_avg_s(const struct og_stats_acc *a, enum og_stats_field sum, enum og_stats_field n)
{
    return a->v[n] > 0 ? (double)a->v[sum] / (double)a->v[n] / 1000.0 : -1;
}

int og_stats_p90_s(const struct og_stats_acc *a)
{
    int64_t n = 0, cum = 0;
    for (int i = 0; i < 20; i++)
        n += a->v[OG_ST_HIST + i];
    if (n == 0)
        return -1;
    int64_t want = (n * 9 + 9) / 10; /* ceil(0.9 n) */
    for (int i = 0; i < 20; i++) {
        cum += a->v[OG_ST_HIST + i];
        if (cum >= want)
            return i < 19 ? hist_edges[i] : 86400;
    }
    return 86400;
}

/* A number with at most three decimals, no trailing zeros; null below 0. */
static void put_num(struct og_buf *b, double x)
{
    if (x < 0) {
        og_buf_puts(b, "null");
        return;
    }
    char t[48];
    snprintf(t, sizeof t, "%.3f", x);
    char *e = t + strlen(t) - 1;
    while (*e == '0')
        *e-- = 0;
    if (*e == '.')
        *e = 0;
    og_buf_puts(b, t);
}

static void put_acc(struct og_buf *b, const struct og_stats_acc *a, int presence, int qmax)
{
    const int64_t *v = a->v;
    og_buf_printf(b,
                  "\"chats\":%lld,\"proactive\":%lld,\"reactive\":%lld,\"messages_in\":%lld,"
                  "\"messages_out\":%lld,\"transfers\":%lld,\"auto_forwards\":%lld,"
                  "\"missed\":%lld,\"avg_duration_s\":",
                  (long long)v[OG_ST_CHATS], (long long)v[OG_ST_PROACTIVE],
                  (long long)v[OG_ST_REACTIVE], (long long)v[OG_ST_MSG_IN],
                  (long long)v[OG_ST_MSG_OUT], (long long)v[OG_ST_TRANSFERS],
                  (long long)v[OG_ST_AUTO_FORWARDS], (long long)v[OG_ST_MISSED]);
    put_num(b, og_stats_avg_s(a, OG_ST_DUR_SUM, OG_ST_DUR_N));
    og_buf_puts(b, ",\"avg_first_response_s\":");
    put_num(b, og_stats_avg_s(a, OG_ST_FR_SUM, OG_ST_FR_N));
    og_buf_puts(b, ",\"avg_response_s\":");
    put_num(b, og_stats_avg_s(a, OG_ST_RESP_SUM, OG_ST_RESP_N));
    og_buf_puts(b, ",\"p90_response_s\":");
    put_num(b, og_stats_p90_s(a));
    og_buf_puts(b, ",\"avg_resolution_s\":");
    put_num(b, og_stats_avg_s(a, OG_ST_RES_SUM, OG_ST_RES_N));
    og_buf_printf(b, ",\"csat\":{\"count\":%lld,\"avg\":", (long long)v[OG_ST_CSAT_N]);
    put_num(b, v[OG_ST_CSAT_N] ? (double)v[OG_ST_CSAT_SUM] / (double)v[OG_ST_CSAT_N] : -1);
    og_buf_puts(b, ",\"distribution\":{");
    for (int i = 0; i < 5; i++)
        og_buf_printf(b, "%s\"%d\":%lld", i ? "," : "", i + 1, (long long)v[OG_ST_CSAT1 + i]);
    og_buf_puts(b, "}},\"success_codes\":{");
    /* in code order, so an answer does not depend on Redis's field order */
    size_t *ord = og_calloc(a->n_codes + 1, sizeof *ord);
    for (size_t i = 0; i < a->n_codes; i++) {
        size_t j = i;
        for (; j > 0 && strcmp(a->codes[ord[j - 1]], a->codes[i]) > 0; j--)
            ord[j] = ord[j - 1];
        ord[j] = i;
    }
    for (size_t k = 0, n = 0; k < a->n_codes; k++) {
        size_t i = ord[k];
        if (a->code_n[i] == 0)
            continue; /* taken back by a read plan's correction */
        og_buf_puts(b, n++ ? "," : "");
        og_buf_json_str(b, a->codes[i]);
        og_buf_printf(b, ":%lld", (long long)a->code_n[i]);
    }
    free(ord);
    og_buf_printf(b, "},\"goals\":{\"achieved\":%lld,\"closed\":%lld,\"rate\":",
                  (long long)v[OG_ST_GOALS_ACHIEVED], (long long)v[OG_ST_GOALS_CLOSED]);
    put_num(b, v[OG_ST_GOALS_CLOSED]
                   ? (double)v[OG_ST_GOALS_ACHIEVED] / (double)v[OG_ST_GOALS_CLOSED]
                   : -1);
    og_buf_puts(b, "},\"queue_avg\":");
    put_num(b, a->v[OG_ST_SPAN_MS] > 0 ? (double)a->v[OG_ST_QUEUE_MS] / (double)a->v[OG_ST_SPAN_MS]
                                       : -1);
    og_buf_puts(b, ",\"queue_max\":");
    if (qmax)
        og_buf_printf(b, "%lld", (long long)a->v[OG_ST_QUEUE_MAX]);
    else
        og_buf_puts(b, "null");
    og_buf_puts(b, ",\"longest_wait_s\":");
    put_num(b, (double)a->v[OG_ST_QUEUE_LONGEST] / 1000.0);
    if (presence) {
        og_buf_puts(b, ",\"online_s\":");
        put_num(b, (double)v[OG_ST_ONLINE] / 1000.0);
        og_buf_puts(b, ",\"away_s\":");
        put_num(b, (double)v[OG_ST_AWAY] / 1000.0);
        og_buf_puts(b, ",\"offline_s\":");
        put_num(b, (double)v[OG_ST_OFFLINE] / 1000.0);
    }
}

char *og_stats_json(const struct og_stats *s)
{
    struct og_buf b = {0};
    int presence = !strcmp(s->group_by, "agent");
    og_buf_printf(&b, "{\"from\":\"%s\",\"to\":\"%s\",\"tz\":", s->from, s->to);
    og_buf_json_str(&b, s->tz);
    og_buf_printf(&b, ",\"group_by\":\"%s\",\"total\":{", s->group_by);
    put_acc(&b, &s->total, presence, s->queue_max);
    og_buf_puts(&b, "},\"buckets\":[");
    for (size_t i = 0; i < s->n; i++) {
        og_buf_puts(&b, i ? ",{\"key\":" : "{\"key\":");
        og_buf_json_str(&b, s->b[i].key);
        og_buf_puts(&b, ",");
        put_acc(&b, &s->b[i].a, presence,
                s->queue_max && (!strcmp(s->group_by, "day") || !strcmp(s->group_by, "hour")));
        og_buf_puts(&b, "}");
    }
    og_buf_puts(&b, "]}");
    return b.data;
}

/* Deletes the counters: SCAN for P:st:h:*, P:st:b:* (an older version's),
 * P:st:d:*, P:st:q:*, P:st:t:*, P:st:u:* (they are all
 * in the deployment's one hash slot). */
static og_err delete_hours(struct og_core *c)
{
    char cursor[32] = "0", match[96];
    snprintf(match, sizeof match, "%s:st:[hbdqtu]:*", c->tag);
    do {
        redisReply *r = NULL;
        og_err e = og_redis_cmd(c->redis, &r, "SCAN %s MATCH %s COUNT 1000", cursor, match);
        if (e != OG_OK)
            return e;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            return OG_ERR_INTERNAL;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            redisReply *d = NULL;
            e = og_redis_cmd(c->redis, &d, "UNLINK %s", keys->element[i]->str);
            if (d)
                freeReplyObject(d);
            if (e != OG_OK) {
                freeReplyObject(r);
                return e;
            }
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return OG_OK;
}

static og_err rebuild_steps(struct og_core *c, const char *op, int batch, long *done)
{
    long long start = 0;
    char s_start[24], s_cnt[16];
    snprintf(s_cnt, sizeof s_cnt, "%d", batch);
    *done = 0;
    while (start >= 0) {
        snprintf(s_start, sizeof s_start, "%lld", start);
        const char *argv[] = {c->tag, op, s_start, s_cnt};
        redisReply *r = NULL;
        og_err e = og_script_call(c, OG_LUA_STATS, 4, argv, NULL, &r, NULL, 0);
        if (e != OG_OK)
            return e;
        if (r->elements < 3) {
            freeReplyObject(r);
            return OG_ERR_INTERNAL;
        }
        start = r->element[1]->integer;
        *done += (long)r->element[2]->integer;
        freeReplyObject(r);
    }
    return OG_OK;
}

/* og_archive_each's callback: one archived session counted (stats.lua). */
static og_err rebuild_record(void *ud, const char *sid, const char *json, size_t len)
{
    (void)sid;
    struct og_core *c = ud;
    const char *argv[] = {c->tag, "rebuild_record", json};
    size_t lens[] = {strlen(c->tag), strlen("rebuild_record"), len};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_STATS, 3, argv, lens, &r, NULL, 0);
    if (e == OG_OK)
        freeReplyObject(r);
    return e;
}

og_err og_stats_rebuild(struct og_core *c, long *sessions, long *intervals)
{
    *sessions = *intervals = 0;
    og_err e = delete_hours(c);
    long events = 0;
    if (e == OG_OK) { /* what a rebuild stopped half-way left */
        redisReply *r = NULL;
        /* the pending facts too: the rebuild counts what they counted */
        e = og_redis_cmd(c->redis, &r, "UNLINK %s:st:rbq %s:st:rbqn %s:st:pending", c->tag, c->tag,
                         c->tag);
        if (r)
            freeReplyObject(r);
        r = NULL;
        /* every hour counted again has its totals and its tuples */
        if (e == OG_OK)
            e = og_redis_cmd(c->redis, &r, "SET %s:st:tv 0", c->tag);
        if (r)
            freeReplyObject(r);
        r = NULL;
        if (e == OG_OK)
            e = og_redis_cmd(c->redis, &r, "SET %s:st:uv 0", c->tag);
        if (r)
            freeReplyObject(r);
    }
    if (e == OG_OK)
        e = rebuild_steps(c, "rebuild_sessions", 200, sessions);
    long archived = 0; /* their counters count them too (og_archive.h) */
    if (e == OG_OK)
        e = og_archive_each(c, rebuild_record, c, &archived);
    *sessions += archived;
    if (e == OG_OK)
        e = rebuild_steps(c, "rebuild_queue", 5000, &events);
    if (e == OG_OK)
        e = rebuild_steps(c, "rebuild_presence", 2000, intervals);
    return e;
}
