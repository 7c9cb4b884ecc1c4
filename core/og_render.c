/* og_render - see og_render.h. Every helper mirrors one of prelude.lua's:
 * q (a value that needs no escaping, quoted), js (cjson.encode), raw_or
 * (stored JSON, or a default); each treats an absent and an empty value
 * alike, as the Lua does. */
#include "og_render.h"
#include "og_compact.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const og_render_con_fields[OG_RENDER_CON_NFIELDS] = {
    "id",    "channel", "external_id",       "name",      "username", "avatar_url",
    "phone", "email",   "followups_opt_out", "created_at"};

const redisReply *og_render_field(const redisReply *h, const char *field)
{
    if (!h || h->type != REDIS_REPLY_ARRAY)
        return NULL;
    size_t fl = strlen(field);
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *f = h->element[i];
        if (f->type == REDIS_REPLY_STRING && f->len == fl && memcmp(f->str, field, fl) == 0)
            return h->element[i + 1]->type == REDIS_REPLY_STRING ? h->element[i + 1] : NULL;
    }
    return NULL;
}

/* A string value's bytes, or NULL (absent, nil). */
static const redisReply *val(const redisReply *v)
{
    return v && v->type == REDIS_REPLY_STRING ? v : NULL;
}

static int empty(const redisReply *v)
{
    return !v || v->len == 0;
}

static void q(struct og_buf *b, const redisReply *v)
{
    if (empty(v)) {
        og_buf_puts(b, "null");
        return;
    }
    og_buf_append(b, "\"", 1);
    og_buf_append(b, v->str, v->len);
    og_buf_append(b, "\"", 1);
}

static void js(struct og_buf *b, const redisReply *v)
{
    og_render_js(b, v ? v->str : NULL, v ? v->len : 0);
}

static void raw_or(struct og_buf *b, const redisReply *v, const char *dflt)
{
    if (empty(v))
        og_buf_puts(b, dflt);
    else
        og_buf_append(b, v->str, v->len);
}

void og_render_js(struct og_buf *b, const char *s, size_t n)
{
    if (n == 0) {
        og_buf_puts(b, "null");
        return;
    }
    og_buf_append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        /* lua-cjson's table: the six short escapes, \/ too, \u00XX for the
         * other control bytes and DEL; every byte >= 0x80 as it is */
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '/': esc = "\\/"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(u, sizeof u, "\\u%04x", c);
                esc = u;
            }
        }
        if (esc) {
            og_buf_append(b, s + run, i - run);
            og_buf_puts(b, esc);
            run = i + 1;
        }
    }
    og_buf_append(b, s + run, n - run);
    og_buf_append(b, "\"", 1);
}

void og_render_contact(struct og_buf *b, const redisReply *v)
{
    if (!v || v->type != REDIS_REPLY_ARRAY || v->elements < OG_RENDER_CON_NFIELDS ||
        !val(v->element[0])) {
        og_buf_puts(b, "null");
        return;
    }
    const redisReply *const *e = (const redisReply *const *)v->element;
    static const char *const name[] = {",\"external_id\":", ",\"name\":",  ",\"username\":",
                                       ",\"avatar_url\":",  ",\"phone\":", ",\"email\":"};
    og_buf_puts(b, "{\"id\":");
    q(b, val(e[0]));
    og_buf_puts(b, ",\"channel\":");
    q(b, val(e[1]));
    for (size_t i = 0; i < 6; i++) {
        og_buf_puts(b, name[i]);
        js(b, val(e[2 + i]));
    }
    const redisReply *opt = val(e[8]);
    og_buf_puts(b, ",\"followups_opt_out\":");
    og_buf_puts(b, opt && opt->len == 1 && opt->str[0] == '1' ? "true" : "false");
    og_buf_puts(b, ",\"created_at\":");
    q(b, val(e[9]));
    og_buf_puts(b, "}");
}

/* An integer field as Lua's tonumber reads ours (they are all written as
 * integers); 0 and -1 when it is absent or not one. */
static int int_of(const redisReply *v, int64_t *out)
{
    if (empty(v) || v->len > 20)
        return -1;
    char tmp[24], *end;
    memcpy(tmp, v->str, v->len);
    tmp[v->len] = '\0';
    errno = 0;
    long long x = strtoll(tmp, &end, 10);
    if (errno || *end)
        return -1;
    *out = x;
    return 0;
}

static void iso(struct og_buf *b, int64_t ms)
{
    char t[32];
    og_time_rfc3339(ms, t);
    og_buf_printf(b, "\"%s\"", t);
}

static const char GOAL_NONE[] = "{\"event\":null,\"window_days\":null,\"status\":\"none\","
                                "\"started_at\":null,\"achieved_at\":null}";

/* prelude.lua goal_json: the measurement the session holds, else the
 * channel's goal as it is now. */
static void goal(struct og_buf *b, const redisReply *h, const redisReply *g)
{
    const redisReply *st = og_render_field(h, "g_st"), *gnew = og_render_field(h, "g_new");
    if (st && !(gnew && gnew->len == 1 && gnew->str[0] == '1')) {
        if (st->len == 4 && memcmp(st->str, "none", 4) == 0) {
            og_buf_puts(b, GOAL_NONE);
            return;
        }
        const redisReply *days = og_render_field(h, "g_days");
        og_buf_puts(b, "{\"event\":");
        js(b, og_render_field(h, "g_ev"));
        og_buf_puts(b, ",\"window_days\":");
        if (days)
            og_buf_append(b, days->str, days->len);
        else
            og_buf_puts(b, "null");
        og_buf_puts(b, ",\"status\":\"");
        og_buf_append(b, st->str, st->len);
        og_buf_puts(b, "\",\"started_at\":");
        q(b, og_render_field(h, "g_start"));
        og_buf_puts(b, ",\"achieved_at\":");
        q(b, og_render_field(h, "g_at"));
        og_buf_puts(b, "}");
        return;
    }
    const redisReply *ev =
        g && g->type == REDIS_REPLY_ARRAY && g->elements >= 2 ? val(g->element[0]) : NULL;
    if (!ev) {
        og_buf_puts(b, GOAL_NONE);
        return;
    }
    og_buf_puts(b, "{\"event\":");
    js(b, ev);
    og_buf_puts(b, ",\"window_days\":");
    /* tonumber(days) concatenated: Lua writes a number with "%.14g" */
    const redisReply *d = val(g->element[1]);
    char tmp[64], *end = tmp;
    double x = 0;
    if (d && d->len && d->len < sizeof tmp) {
        memcpy(tmp, d->str, d->len);
        tmp[d->len] = '\0';
        x = strtod(tmp, &end);
    }
    if (end != tmp && !*end)
        og_buf_printf(b, "%.14g", x);
    else
        og_buf_puts(b, "null");
    og_buf_puts(b, ",\"status\":\"in_process\",\"started_at\":null,\"achieved_at\":null}");
}

/* One "name": prefix, then its value by kind. */
static void kv_q(struct og_buf *b, const char *name, const redisReply *h, const char *field)
{
    og_buf_puts(b, name);
    q(b, og_render_field(h, field));
}

static void kv_js(struct og_buf *b, const char *name, const redisReply *h, const char *field)
{
    og_buf_puts(b, name);
    js(b, og_render_field(h, field));
}

/* prelude.lua later: the later of two stored times (RFC 3339 in one
 * fixed width, so the later sorts last); an empty one is absent. */
static const redisReply *later(const redisReply *a, const redisReply *b)
{
    if (empty(a))
        return b;
    if (empty(b))
        return a;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->str, b->str, n);
    return c > 0 || (c == 0 && a->len >= b->len) ? a : b;
}

void og_render_session(struct og_buf *b, const redisReply *h, const char *cj, const redisReply *g)
{
    const redisReply *created = og_render_field(h, "created_at");
    kv_q(b, "{\"id\":", h, "id");
    kv_q(b, ",\"channel\":", h, "channel");
    kv_q(b, ",\"connector\":", h, "connector");
    kv_q(b, ",\"status\":", h, "status");
    og_buf_puts(b, ",\"contact\":");
    og_buf_puts(b, cj ? cj : "null");
    kv_q(b, ",\"agent_id\":", h, "agent_id");
    kv_js(b, ",\"group\":", h, "group");
    kv_js(b, ",\"level\":", h, "level");
    kv_q(b, ",\"transferred_from\":", h, "transferred_from");
    kv_js(b, ",\"transferred_comment\":", h, "transferred_comment");
    kv_js(b, ",\"routing\":", h, "routing");
    kv_js(b, ",\"queue_group\":", h, "queue_group");
    og_buf_puts(b, ",\"created_at\":");
    q(b, created);
    /* A customer's message writes last_customer_ms only: last_message_at
     * is the later of it and the stored one (an agent's reply writes
     * that), else created_at while the session has its first message
     * only (m0); updated_at is the later of the stored one (else
     * created_at) and last_message_at. */
    int64_t lc = 0, win = 0;
    int has_lc = int_of(og_render_field(h, "last_customer_ms"), &lc) == 0;
    char lcs[32];
    if (has_lc)
        og_time_rfc3339(lc, lcs);
    redisReply lcr = {.type = REDIS_REPLY_STRING, .str = lcs, .len = has_lc ? strlen(lcs) : 0};
    const redisReply *lm = later(og_render_field(h, "last_message_at"), &lcr);
    if (empty(lm) && og_render_field(h, "m0"))
        lm = created;
    const redisReply *upd = og_render_field(h, "updated_at");
    og_buf_puts(b, ",\"updated_at\":");
    q(b, later(empty(upd) ? created : upd, lm));
    kv_q(b, ",\"first_reply_at\":", h, "first_reply_at");
    og_buf_puts(b, ",\"last_message_at\":");
    q(b, lm);
    og_buf_puts(b, ",\"last_customer_message_at\":");
    q(b, has_lc ? &lcr : og_render_field(h, "last_customer_message_at"));
    og_buf_puts(b, ",\"window_expires_at\":");
    if (has_lc && int_of(og_render_field(h, "window_ms"), &win) == 0 && win != 0)
        iso(b, lc + win);
    else
        og_buf_puts(b, "null");
    kv_q(b, ",\"closed_at\":", h, "closed_at");
    kv_js(b, ",\"close_reason\":", h, "close_reason");
    og_buf_puts(b, ",\"success_codes\":");
    raw_or(b, og_render_field(h, "success_codes"), "[]");
    og_buf_puts(b, ",\"csat\":");
    raw_or(b, og_render_field(h, "csat"), "null");
    og_buf_puts(b, ",\"goal\":");
    goal(b, h, g);
    og_buf_puts(b, "}");
}

const char *const og_render_msg_fields[OG_RENDER_MSG_NFIELDS] = {"j", "st", "err", "m", "sid"};

/* prelude.lua msg_j_of for field m: "<contact id>\t<name JSON>\t<reply_to
 * id>\t<coded tail>"; -1 when m is not one. */
static int compact(struct og_buf *b, const char *mid, const redisReply *m, const redisReply *sid)
{
    const char *part[4];
    size_t plen[4], at = 0;
    for (int i = 0; i < 3; i++) {
        const char *tab = memchr(m->str + at, '\t', m->len - at);
        if (!tab)
            return -1;
        part[i] = m->str + at, plen[i] = (size_t)(tab - part[i]);
        at += plen[i] + 1;
    }
    part[3] = m->str + at, plen[3] = m->len - at;
    og_buf_printf(b, "{\"id\":\"%s\",\"session_id\":\"", mid);
    if (sid)
        og_buf_append(b, sid->str, sid->len);
    og_buf_puts(b, "\",\"direction\":\"in\",");
    og_compact_untail(b, part[3], plen[3]);
    og_buf_puts(b, ",\"sender\":{\"type\":\"contact\",\"id\":\"");
    og_buf_append(b, part[0], plen[0]);
    og_buf_puts(b, "\",\"name\":");
    og_buf_append(b, part[1], plen[1]);
    og_buf_puts(b, "},\"reply_to\":");
    if (plen[2]) {
        og_buf_append(b, "\"", 1);
        og_buf_append(b, part[2], plen[2]);
        og_buf_append(b, "\"", 1);
    } else {
        og_buf_puts(b, "null");
    }
    return 0;
}

int og_render_message(struct og_buf *b, const char *mid, const redisReply *v)
{
    if (!v || v->type != REDIS_REPLY_ARRAY || v->elements < OG_RENDER_MSG_NFIELDS)
        return -1;
    const redisReply *j = val(v->element[0]), *st = val(v->element[1]);
    const redisReply *err = val(v->element[2]), *m = val(v->element[3]);
    if (j)
        og_buf_append(b, j->str, j->len);
    else if (!m || compact(b, mid, m, val(v->element[4])) != 0)
        return -1; /* compact() appends nothing to a field it refuses */
    /* a compact one (a customer's) without st is delivered */
    og_buf_puts(b, ",\"status\":");
    if (st)
        q(b, st);
    else
        og_buf_puts(b, m ? "\"delivered\"" : "null");
    og_buf_puts(b, ",\"error\":");
    raw_or(b, err, "null");
    og_buf_puts(b, "}");
    return 0;
}
