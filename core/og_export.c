/* og_export - see og_export.h. The statistics-based reports (agent
 * performance, traffic) are computed once at open (a bucket per agent or
 * local hour: bounded by the period) and written a page of rows at a time;
 * conversations and agent activity are read from Redis a page at a time
 * (stats.lua "conv" and "pres"), so neither grows with the history. */
#include "og_export.h"
#include "og_agents.h"
#include "og_archive.h"
#include "og_core_int.h"
#include "og_tz.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_ROWS 500

static const char *const report_names[OG_REPORT__N] = {"agent_activity", "agent_performance",
                                                       "agents", "conversations", "traffic"};

int og_report_from_name(const char *name)
{
    for (int i = 0; name && i < OG_REPORT__N; i++)
        if (!strcmp(name, report_names[i]))
            return i;
    return -1;
}

const char *og_report_name(int report)
{
    return report >= 0 && report < OG_REPORT__N ? report_names[report] : "";
}

struct og_export {
    struct og_core *c;
    int report;
    int stage; /* 0: the header is next; 1: rows; 2: done */
    struct og_tz *z;
    int64_t start_ms, end_ms, now_ms;
    struct og_stats_query q; /* filters: copies owned below */
    char *f_channel, *f_agent, *f_group, *f_code;
    struct og_stats *st; /* agent_performance, traffic */
    size_t next;         /* next bucket, or page offset */
    json_object *agents; /* agents with the deleted, {"items":[...]} */
    char conv_lo[48], conv_hi[48], conv_after[48];
    int pres_done; /* agent_activity: the log is read, the open intervals are next */
};

/* --------------------------------------------------------------- CSV */

/* One field, RFC 4180 (quoted when it holds a comma, quote, CR or LF;
 * quotes doubled); outside text (ext) that starts like a spreadsheet
 * formula gets a leading apostrophe, quoted. */
static void csv_text(struct og_buf *b, const char *s, int first, int ext)
{
    if (!first)
        og_buf_puts(b, ",");
    if (!s)
        s = "";
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    int formula = ext && (*s == '=' || *s == '+' || *s == '-' || *s == '@');
    if (!quote && !formula) {
        og_buf_puts(b, s);
        return;
    }
    og_buf_puts(b, "\"");
    if (formula)
        og_buf_puts(b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            og_buf_puts(b, "\"\"");
        else
            og_buf_append(b, p, 1);
    }
    og_buf_puts(b, "\"");
}

static void csv_int(struct og_buf *b, long long v)
{
    og_buf_printf(b, ",%lld", v);
}

/* A number with at most three decimals; empty for v < 0 (nothing to
 * average). */
static void csv_num(struct og_buf *b, double v)
{
    if (v < 0) {
        og_buf_puts(b, ",");
        return;
    }
    char t[48];
    snprintf(t, sizeof t, "%.3f", v);
    char *e = t + strlen(t) - 1;
    while (*e == '0')
        *e-- = 0;
    if (*e == '.')
        *e = 0;
    og_buf_printf(b, ",%s", t);
}

static void csv_end(struct og_buf *b)
{
    og_buf_puts(b, "\r\n");
}

/* Local time with its offset of Unix ms into out (>= 32 bytes); "" for < 0. */
static void local_time(const struct og_tz *z, int64_t ms, char out[40])
{
    if (ms < 0) {
        out[0] = 0;
        return;
    }
    int64_t s = ms / 1000;
    int32_t off = og_tz_offset(z, s);
    int64_t l = s + off, day = l / 86400 - (l % 86400 < 0);
    int64_t sod = l - day * 86400, y;
    unsigned m, d;
    og_tz_civil_from_days(day, &y, &m, &d);
    int32_t ao = off < 0 ? -off : off;
    snprintf(out, 40, "%04d-%02u-%02uT%02d:%02d:%02d%c%02d:%02d", (int)y, m, d, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60), off < 0 ? '-' : '+', (int)(ao / 3600),
             (int)(ao / 60 % 60));
}

static void csv_time(struct og_buf *b, const struct og_tz *z, const char *rfc3339)
{
    char t[40] = "";
    if (rfc3339 && *rfc3339)
        local_time(z, og_time_parse(rfc3339, NULL), t);
    og_buf_printf(b, ",%s", t);
}

/* ------------------------------------------------------------ agents */

static json_object *agents_json(struct og_core *c)
{
    char *json = NULL;
    if (og_agents_list_with_deleted(c, 1, &json) != OG_OK)
        return NULL;
    json_object *j = json_tokener_parse(json);
    free(json);
    return j;
}

static json_object *agent_items(json_object *agents)
{
    json_object *items = NULL;
    json_object_object_get_ex(agents, "items", &items);
    return items;
}

/* An agent's name, "" when unknown. [borrowed from x->agents] */
static const char *agent_name(struct og_export *x, const char *id)
{
    json_object *items = agent_items(x->agents), *v;
    for (size_t i = 0; id && *id && items && i < json_object_array_length(items); i++) {
        json_object *a = json_object_array_get_idx(items, i);
        if (json_object_object_get_ex(a, "id", &v) && !strcmp(json_object_get_string(v), id))
            return json_object_object_get_ex(a, "name", &v) ? json_object_get_string(v) : "";
    }
    return "";
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return "";
    return json_object_get_string(v);
}

/* --------------------------------------------------------------- open */

static char *dup_or_null(const char *s)
{
    return s ? og_strdup(s) : NULL;
}

/* The period's bounds, as og_tz_hours makes them: its first UTC hour's start
 * to its last one's end. */
static int period(struct og_export *x, const char *from, const char *to, char *msg, size_t msglen)
{
    struct og_tz_hour *h = NULL;
    size_t n = 0;
    if (og_tz_hours(x->z, from, to, OG_STATS_MAX_DAYS, &h, &n, msg, msglen) != 0)
        return -1;
    x->start_ms = n ? h[0].utc_hour * 3600000 : 0;
    x->end_ms = n ? (h[n - 1].utc_hour + 1) * 3600000 : 0;
    free(h);
    return 0;
}

/* The smallest session id of a time: "ses_" + the time's 10 characters +
 * sixteen zeros (ids sort by time). */
static void id_at(int64_t ms, char out[48])
{
    static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    char t[11];
    uint64_t v = (uint64_t)(ms < 0 ? 0 : ms);
    for (int i = 9; i >= 0; i--) {
        t[i] = b32[v & 31];
        v >>= 5;
    }
    t[10] = 0;
    snprintf(out, 48, "ses_%s0000000000000000", t);
}

og_err og_export_open(struct og_core *c, int report, const struct og_stats_query *q,
                      struct og_export **out, char *msg, size_t msglen)
{
    *out = NULL;
    if (report < 0 || report >= OG_REPORT__N) {
        snprintf(msg, msglen, "unknown report");
        return OG_ERR_INVALID;
    }
    struct og_export *x = og_calloc(1, sizeof *x);
    x->c = c;
    x->report = report;
    x->now_ms = og_now_ms();
    x->f_channel = dup_or_null(q->channel);
    x->f_agent = dup_or_null(q->agent_id);
    x->f_group = dup_or_null(q->group);
    x->f_code = dup_or_null(q->success_code);
    /* the statistics serve two reports; the others only check the input */
    struct og_stats_query sq = *q;
    sq.group_by = report == OG_REPORT_TRAFFIC ? "hour" : "agent";
    og_err e = report == OG_REPORT_TRAFFIC || report == OG_REPORT_AGENT_PERFORMANCE
                   ? og_stats_compute(c, &sq, &x->st, msg, msglen)
                   : og_stats_check(&sq, msg, msglen);
    if (e == OG_OK && og_tz_load(q->tz ? q->tz : "UTC", &x->z) != OG_OK)
        e = OG_ERR_INVALID;
    if (e == OG_OK && period(x, q->from, q->to, msg, msglen) != 0)
        e = OG_ERR_INVALID;
    if (e == OG_OK && !(x->agents = agents_json(c)))
        e = OG_ERR_UNAVAILABLE;
    if (e != OG_OK) {
        og_export_free(x);
        return e;
    }
    id_at(x->start_ms, x->conv_lo);
    id_at(x->end_ms, x->conv_hi);
    *out = x;
    return OG_OK;
}

void og_export_free(struct og_export *x)
{
    if (!x)
        return;
    og_stats_free(x->st);
    og_tz_free(x->z);
    json_object_put(x->agents);
    free(x->f_channel), free(x->f_agent), free(x->f_group), free(x->f_code);
    free(x);
}

/* -------------------------------------------------------------- rows */

static const char *const headers[OG_REPORT__N] = {
    "agent_id,agent_name,state,start,end,duration_s",
    "agent_id,agent_name,chats,proactive,reactive,missed,messages_in,messages_out,transfers,"
    "auto_forwards,avg_duration_s,avg_first_response_s,avg_response_s,p90_response_s,"
    "avg_resolution_s,online_s,away_s,offline_s,csat_count,csat_avg,goals_achieved,goals_closed",
    "id,name,email,role,groups,created_at,deleted_at",
    "session_id,channel,contact_id,contact_name,agent_id,agent_name,group,status,created_at,"
    "first_reply_at,closed_at,close_reason,success_codes,csat,goal_status,goal_event,"
    "messages_in,messages_out",
    "hour,new_sessions,chats,messages_in,messages_out,missed,queue_waits,avg_queue_wait_s,"
    "max_queue_wait_s,queue_avg,queue_max,longest_wait_s",
};

static int rows_performance(struct og_export *x, struct og_buf *b)
{
    for (size_t n = 0; x->next < x->st->n && n < PAGE_ROWS; x->next++, n++) {
        const struct og_stats_bucket *k = &x->st->b[x->next];
        const int64_t *v = k->a.v;
        csv_text(b, k->key, 1, 0);
        csv_text(b, agent_name(x, k->key), 0, 1);
        csv_int(b, v[OG_ST_CHATS]), csv_int(b, v[OG_ST_PROACTIVE]), csv_int(b, v[OG_ST_REACTIVE]);
        csv_int(b, v[OG_ST_MISSED]), csv_int(b, v[OG_ST_MSG_IN]), csv_int(b, v[OG_ST_MSG_OUT]);
        csv_int(b, v[OG_ST_TRANSFERS]), csv_int(b, v[OG_ST_AUTO_FORWARDS]);
        csv_num(b, og_stats_avg_s(&k->a, OG_ST_DUR_SUM, OG_ST_DUR_N));
        csv_num(b, og_stats_avg_s(&k->a, OG_ST_FR_SUM, OG_ST_FR_N));
        csv_num(b, og_stats_avg_s(&k->a, OG_ST_RESP_SUM, OG_ST_RESP_N));
        csv_num(b, og_stats_p90_s(&k->a));
        csv_num(b, og_stats_avg_s(&k->a, OG_ST_RES_SUM, OG_ST_RES_N));
        csv_num(b, (double)v[OG_ST_ONLINE] / 1000), csv_num(b, (double)v[OG_ST_AWAY] / 1000);
        csv_num(b, (double)v[OG_ST_OFFLINE] / 1000);
        csv_int(b, v[OG_ST_CSAT_N]);
        csv_num(b, v[OG_ST_CSAT_N] ? (double)v[OG_ST_CSAT_SUM] / (double)v[OG_ST_CSAT_N] : -1);
        csv_int(b, v[OG_ST_GOALS_ACHIEVED]), csv_int(b, v[OG_ST_GOALS_CLOSED]);
        csv_end(b);
    }
    return x->next < x->st->n;
}

static int rows_traffic(struct og_export *x, struct og_buf *b)
{
    for (size_t n = 0; x->next < x->st->n && n < PAGE_ROWS; x->next++, n++) {
        const struct og_stats_bucket *k = &x->st->b[x->next];
        const int64_t *v = k->a.v;
        csv_text(b, k->key, 1, 0);
        csv_int(b, v[OG_ST_NEW]), csv_int(b, v[OG_ST_CHATS]), csv_int(b, v[OG_ST_MSG_IN]);
        csv_int(b, v[OG_ST_MSG_OUT]), csv_int(b, v[OG_ST_MISSED]), csv_int(b, v[OG_ST_QWAIT_N]);
        csv_num(b, og_stats_avg_s(&k->a, OG_ST_QWAIT_SUM, OG_ST_QWAIT_N));
        csv_num(b, v[OG_ST_QWAIT_N] ? (double)v[OG_ST_QWAIT_MAX] / 1000 : -1);
        csv_num(b,
                v[OG_ST_SPAN_MS] > 0 ? (double)v[OG_ST_QUEUE_MS] / (double)v[OG_ST_SPAN_MS] : -1);
        csv_num(b, x->st->queue_max ? (double)v[OG_ST_QUEUE_MAX] : -1);
        csv_num(b, (double)v[OG_ST_QUEUE_LONGEST] / 1000);
        csv_end(b);
    }
    return x->next < x->st->n;
}

static int rows_agents(struct og_export *x, struct og_buf *b)
{
    json_object *items = agent_items(x->agents), *g;
    size_t n = items ? json_object_array_length(items) : 0;
    for (; x->next < n; x->next++) {
        json_object *a = json_object_array_get_idx(items, x->next);
        if (x->f_agent && strcmp(jstr(a, "id"), x->f_agent) != 0)
            continue;
        csv_text(b, jstr(a, "id"), 1, 0);
        csv_text(b, jstr(a, "name"), 0, 1);
        csv_text(b, jstr(a, "email"), 0, 1);
        csv_text(b, jstr(a, "role"), 0, 0);
        struct og_buf gs = {0};
        if (json_object_object_get_ex(a, "groups", &g) && json_object_is_type(g, json_type_array))
            for (size_t i = 0; i < json_object_array_length(g); i++)
                og_buf_printf(&gs, "%s%s", i ? ";" : "",
                              json_object_get_string(json_object_array_get_idx(g, i)));
        csv_text(b, gs.data ? gs.data : "", 0, 1);
        og_buf_free(&gs);
        csv_time(b, x->z, jstr(a, "created_at"));
        csv_time(b, x->z, jstr(a, "deleted_at"));
        csv_end(b);
    }
    return 0;
}

static int has_code(const char *codes_json, const char *code)
{
    json_object *j = json_tokener_parse(codes_json);
    int found = 0;
    for (size_t i = 0; json_object_is_type(j, json_type_array) && i < json_object_array_length(j);
         i++)
        found |= !strcmp(json_object_get_string(json_object_array_get_idx(j, i)), code);
    json_object_put(j);
    return found;
}

static int rows_conversations(struct og_export *x, struct og_buf *b)
{
    char cnt[16];
    snprintf(cnt, sizeof cnt, "%d", PAGE_ROWS);
    const char *argv[] = {x->c->tag, "conv", x->conv_after, x->conv_lo, x->conv_hi, cnt};
    redisReply *r = NULL;
    if (og_script_call(x->c, OG_LUA_STATS, 6, argv, NULL, &r, NULL, 0) != OG_OK)
        return -1;
    snprintf(x->conv_after, sizeof x->conv_after, "%s", r->element[1]->str);
    size_t rows = r->elements - 2;
    for (size_t i = 2; i < r->elements; i++) {
        const redisReply *row = r->element[i];
        const char *f[17];
        json_object *hold = NULL; /* an archived session's record */
        if (row->elements == 2 && strcmp(row->element[0]->str, "archived") == 0) {
            if (og_archive_conv_row(x->c, row->element[1]->str, f, &hold) != OG_OK)
                continue;
        } else if (row->elements < 17) {
            continue;
        } else {
            for (int k = 0; k < 17; k++)
                f[k] = row->element[k]->str;
        }
        if ((x->f_channel && strcmp(f[1], x->f_channel)) ||
            (x->f_agent && strcmp(f[4], x->f_agent)) || (x->f_group && strcmp(f[5], x->f_group)) ||
            (x->f_code && !has_code(f[11], x->f_code))) {
            json_object_put(hold);
            continue;
        }
        csv_text(b, f[0], 1, 0), csv_text(b, f[1], 0, 0), csv_text(b, f[2], 0, 0);
        csv_text(b, f[3], 0, 1), csv_text(b, f[4], 0, 0);
        csv_text(b, agent_name(x, f[4]), 0, 1), csv_text(b, f[5], 0, 1);
        csv_text(b, f[6], 0, 0);
        csv_time(b, x->z, f[7]), csv_time(b, x->z, f[8]), csv_time(b, x->z, f[9]);
        csv_text(b, f[10], 0, 1);
        struct og_buf codes = {0};
        json_object *cj = json_tokener_parse(f[11]);
        for (size_t k = 0;
             json_object_is_type(cj, json_type_array) && k < json_object_array_length(cj); k++)
            og_buf_printf(&codes, "%s%s", k ? ";" : "",
                          json_object_get_string(json_object_array_get_idx(cj, k)));
        json_object_put(cj);
        csv_text(b, codes.data ? codes.data : "", 0, 1);
        og_buf_free(&codes);
        /* the survey's score, when the session has one */
        json_object *sj = *f[12] ? json_tokener_parse(f[12]) : NULL, *sc = NULL;
        char score[16] = "";
        if (json_object_is_type(sj, json_type_object) &&
            json_object_object_get_ex(sj, "score", &sc) && sc)
            snprintf(score, sizeof score, "%d", json_object_get_int(sc));
        else if (json_object_is_type(sj, json_type_int))
            snprintf(score, sizeof score, "%d", json_object_get_int(sj));
        json_object_put(sj);
        csv_text(b, score, 0, 0);
        csv_text(b, f[13], 0, 0), csv_text(b, f[14], 0, 1);
        csv_text(b, f[15], 0, 0), csv_text(b, f[16], 0, 0);
        csv_end(b);
        json_object_put(hold);
    }
    freeReplyObject(r);
    return rows == PAGE_ROWS;
}

static int state_ok(const char *s)
{
    return !strcmp(s, "online") || !strcmp(s, "away") || !strcmp(s, "offline");
}

static void activity_row(struct og_export *x, struct og_buf *b, const char *aid, const char *state,
                         int64_t a, int64_t e)
{
    if (a < x->start_ms)
        a = x->start_ms;
    if (e > x->end_ms)
        e = x->end_ms;
    if (e <= a || (x->f_agent && strcmp(aid, x->f_agent) != 0))
        return;
    char ta[40], te[40];
    local_time(x->z, a, ta);
    local_time(x->z, e, te);
    csv_text(b, aid, 1, 0);
    csv_text(b, agent_name(x, aid), 0, 1);
    csv_text(b, state, 0, 0);
    og_buf_printf(b, ",%s,%s", ta, te);
    csv_num(b, (double)(e - a) / 1000);
    csv_end(b);
}

static int rows_activity(struct og_export *x, struct og_buf *b)
{
    char from[24], to[24], off[24], cnt[16];
    snprintf(from, sizeof from, "%lld", (long long)x->start_ms);
    snprintf(to, sizeof to, "%lld", (long long)x->end_ms);
    snprintf(off, sizeof off, "%zu", x->next);
    snprintf(cnt, sizeof cnt, "%d", PAGE_ROWS);
    redisReply *r = NULL;
    if (!x->pres_done) {
        const char *argv[] = {x->c->tag, "pres", from, to, off, cnt};
        if (og_script_call(x->c, OG_LUA_STATS, 6, argv, NULL, &r, NULL, 0) != OG_OK)
            return -1;
        for (size_t i = 1; i < r->elements; i++) {
            char *m = og_strdup(r->element[i]->str);
            char *p1 = strchr(m, '|'), *p2 = p1 ? strchr(p1 + 1, '|') : NULL;
            char *p3 = p2 ? strchr(p2 + 1, '|') : NULL;
            if (p3) {
                *p1 = *p2 = *p3 = 0;
                activity_row(x, b, m, p1 + 1, strtoll(p2 + 1, NULL, 10), strtoll(p3 + 1, NULL, 10));
            }
            free(m);
        }
        size_t got = r->elements - 1;
        freeReplyObject(r);
        x->next += got;
        if (got == PAGE_ROWS)
            return 1;
        x->pres_done = 1;
    }
    /* then each agent's current state, from its since up to now */
    const char *argv[] = {x->c->tag, "read", "1"};
    if (og_script_call(x->c, OG_LUA_STATS, 3, argv, NULL, &r, NULL, 0) != OG_OK)
        return -1;
    const redisReply *ag = r->element[1];
    for (size_t i = 0; i + 2 < ag->elements; i += 3) {
        int64_t since = strtoll(ag->element[i + 2]->str, NULL, 10);
        if (since > 0 && state_ok(ag->element[i + 1]->str))
            activity_row(x, b, ag->element[i]->str, ag->element[i + 1]->str, since, x->now_ms);
    }
    freeReplyObject(r);
    return 0;
}

int og_export_next(struct og_export *x, struct og_buf *b)
{
    if (x->stage == 2)
        return 0;
    if (x->stage == 0) {
        og_buf_puts(b, headers[x->report]);
        csv_end(b);
        x->stage = 1;
        return 1;
    }
    int more = 0;
    switch (x->report) {
    case OG_REPORT_AGENT_ACTIVITY: more = rows_activity(x, b); break;
    case OG_REPORT_AGENT_PERFORMANCE: more = rows_performance(x, b); break;
    case OG_REPORT_AGENTS: more = rows_agents(x, b); break;
    case OG_REPORT_CONVERSATIONS: more = rows_conversations(x, b); break;
    default: more = rows_traffic(x, b); break;
    }
    if (more <= 0)
        x->stage = 2;
    return more < 0 ? -1 : more;
}

/* ------------------------------------------------------- report links */

/* The stored filters: a JSON object of channel, agent_id, group,
 * success_code (strings of 1-128 characters). [xfer] canonical text, or NULL
 * with msg. */
static char *link_filters(const char *json, char *msg, size_t msglen)
{
    json_object *j = json ? json_tokener_parse(json) : json_object_new_object();
    if (!json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        snprintf(msg, msglen, "filters: an object");
        return NULL;
    }
    static const char *const keys[] = {"channel", "agent_id", "group", "success_code", NULL};
    json_object *out = json_object_new_object();
    json_object_object_foreach(j, key, val)
    {
        int known = 0;
        for (int i = 0; keys[i]; i++)
            known |= !strcmp(keys[i], key);
        const char *v =
            json_object_is_type(val, json_type_string) ? json_object_get_string(val) : NULL;
        if (!known || !v || !*v || strlen(v) > 128) {
            snprintf(msg, msglen,
                     "filters: %.40s is not one of channel, agent_id, group, success_code "
                     "(strings of 1-128 characters)",
                     key);
            json_object_put(j), json_object_put(out);
            return NULL;
        }
        json_object_object_add(out, key, json_object_new_string(v));
    }
    char *s = og_strdup(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
    json_object_put(j), json_object_put(out);
    return s;
}

og_err og_report_link_create(struct og_core *c, const struct og_viewer *v, const char *report,
                             const char *filters_json, char id[48], char token[65], char *msg,
                             size_t msglen)
{
    id[0] = token[0] = 0;
    if (og_report_from_name(report) < 0) {
        snprintf(msg, msglen,
                 "report: one of agent_activity, agent_performance, agents, conversations, "
                 "traffic");
        return OG_ERR_INVALID;
    }
    char *filters = link_filters(filters_json, msg, msglen);
    if (!filters)
        return OG_ERR_INVALID;
    unsigned char raw[32], sum[32];
    char sha[65], now_iso[32];
    og_random_bytes(raw, sizeof raw);
    og_hex_encode(raw, sizeof raw, token, 65);
    og_sha256(token, 64, sum);
    og_hex_encode(sum, sizeof sum, sha, sizeof sha);
    int64_t now = og_now_ms();
    og_id_new("rpl_", now, id, 48);
    og_time_rfc3339(now, now_iso);
    const char *by = v->agent_id && *v->agent_id ? v->agent_id : "admin";
    const char *argv[] = {c->tag, "link_put", id, sha, report, filters, by, now_iso};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_STATS, 8, argv, NULL, &r, NULL, 0);
    free(filters);
    if (e == OG_OK)
        freeReplyObject(r);
    else
        id[0] = token[0] = 0;
    return e;
}

og_err og_report_link_list(struct og_core *c, char **json)
{
    *json = NULL;
    const char *argv[] = {c->tag, "link_list"};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_STATS, 2, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"items\":[");
    for (size_t i = 1; i < r->elements; i++) {
        const redisReply *l = r->element[i];
        if (l->elements < 7)
            continue;
        og_buf_puts(&b, i > 1 ? ",{\"id\":" : "{\"id\":");
        og_buf_json_str(&b, l->element[0]->str);
        og_buf_puts(&b, ",\"report\":");
        og_buf_json_str(&b, l->element[1]->str);
        og_buf_printf(&b, ",\"filters\":%s,\"created_at\":", l->element[2]->str);
        og_buf_json_str(&b, l->element[3]->str);
        og_buf_puts(&b, ",\"created_by\":");
        og_buf_json_str(&b, l->element[4]->str);
        og_buf_printf(&b,
                      ",\"uses\":%lld,\"last_used_at\":", strtoll(l->element[5]->str, NULL, 10));
        og_buf_json_str(&b, *l->element[6]->str ? l->element[6]->str : NULL);
        og_buf_puts(&b, "}");
    }
    og_buf_puts(&b, "],\"next_cursor\":null}");
    freeReplyObject(r);
    *json = b.data;
    return OG_OK;
}

og_err og_report_link_revoke(struct og_core *c, const char *id)
{
    if (!og_id_valid(id, "rpl_"))
        return OG_ERR_NOT_FOUND;
    char now_iso[32];
    og_time_rfc3339(og_now_ms(), now_iso);
    const char *argv[] = {c->tag, "link_del", id, now_iso};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_STATS, 4, argv, NULL, &r, NULL, 0);
    if (e == OG_OK)
        freeReplyObject(r);
    return e;
}

og_err og_report_link_use(struct og_core *c, const char *token, const char *addr, int *report,
                          char **filters_json)
{
    *report = -1;
    *filters_json = NULL;
    size_t n = token ? strlen(token) : 0;
    int hex = n == 64;
    for (size_t i = 0; hex && i < n; i++)
        hex = (token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f');
    if (!hex)
        return OG_ERR_NOT_FOUND; /* not one of ours: nothing to look up or log */
    unsigned char sum[32];
    char sha[65], now_s[24], now_iso[32], per[16];
    og_sha256(token, n, sum);
    og_hex_encode(sum, sizeof sum, sha, sizeof sha);
    int64_t now = og_now_ms();
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    og_time_rfc3339(now, now_iso);
    snprintf(per, sizeof per, "%d", OG_REPORT_LINK_USES_PER_HOUR);
    const char *argv[] = {c->tag, "link_use", sha, now_s, now_iso, addr ? addr : "", per};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_STATS, 7, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    if (r->elements >= 4) {
        *report = og_report_from_name(r->element[2]->str);
        *filters_json = og_strdup(r->element[3]->str);
    }
    freeReplyObject(r);
    return *report >= 0 ? OG_OK : OG_ERR_INTERNAL;
}
