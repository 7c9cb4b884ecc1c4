/* og_sessions - see og_sessions.h. */
#include "og_sessions.h"
#include "og_archive.h"
#include "og_core_int.h"
#include "og_keys.h"
#include "og_render.h"
#include "og_routing.h"
#include "og_util.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int og_session_status_valid(const char *s)
{
    static const char *const st[] = {"new",    "active",      "awaiting",
                                     "closed", "transferred", "archived"};
    for (size_t i = 0; s && i < sizeof st / sizeof *st; i++)
        if (strcmp(s, st[i]) == 0)
            return 1;
    return 0;
}

/* The viewer's part of every sessions.lua call: ARGV[3..6]. */
struct viewer_args {
    const char *v[4];
    char *groups; /* owned JSON */
};

static void viewer_args(struct og_core *c, const struct og_viewer *v, struct viewer_args *a)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < v->n_groups; i++)
        json_object_array_add(arr, json_object_new_string(v->groups[i]));
    a->groups = og_strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    json_object_put(arr);
    a->v[0] = v->agent_id ? v->agent_id : "";
    a->v[1] = v->role == OG_ROLE_AGENT ? "1" : "0";
    a->v[2] = a->groups;
    a->v[3] = og_routing_policy_groups(c);
}

/* Runs op with the viewer and the op's own arguments. */
static og_err call(struct og_core *c, const struct og_viewer *v, const char *op, int n,
                   const char **args, redisReply **r, char *msg, size_t msglen)
{
    struct viewer_args va;
    viewer_args(c, v, &va);
    const char *argv[24] = {c->tag, op, va.v[0], va.v[1], va.v[2], va.v[3]};
    int argc = 6;
    for (int i = 0; i < n && argc < 24; i++)
        argv[argc++] = args[i] ? args[i] : "";
    og_err e = og_script_call(c, OG_LUA_SESSIONS, argc, argv, NULL, r, msg, msglen);
    free(va.groups);
    return e;
}

og_err og_session_check(struct og_core *c, const struct og_viewer *v, const char *sid,
                        enum og_session_need need, char *msg, size_t msglen)
{
    const char *a[] = {sid, need == OG_SESSION_ACT ? "act" : "see"};
    redisReply *r;
    og_err e = call(c, v, "check", 2, a, &r, msg, msglen);
    if (e == OG_OK)
        freeReplyObject(r);
    if (e == OG_ERR_NOT_FOUND) {
        /* an archived session: seen where it is; acted on back in Redis */
        char *json = NULL;
        og_err ae = og_archive_session_get(c, v, sid, &json);
        free(json);
        if (ae == OG_OK && need == OG_SESSION_ACT && og_archive_restore(c, sid) == OG_OK) {
            e = call(c, v, "check", 2, a, &r, msg, msglen);
            if (e == OG_OK)
                freeReplyObject(r);
        } else if (ae == OG_OK) {
            e = OG_OK;
        }
    }
    return e;
}

og_err og_session_get(struct og_core *c, const struct og_viewer *v, const char *sid, char **json)
{
    const char *a[] = {sid};
    redisReply *r;
    *json = NULL;
    og_err e = call(c, v, "session", 1, a, &r, NULL, 0);
    if (e == OG_ERR_NOT_FOUND)
        return og_archive_session_get(c, v, sid, json);
    if (e != OG_OK)
        return e;
    if (r->elements >= 2 && r->element[1]->type == REDIS_REPLY_STRING)
        *json = og_strndup(r->element[1]->str, r->element[1]->len);
    freeReplyObject(r);
    return *json ? OG_OK : OG_ERR_INTERNAL;
}

/* {"items":[...],"next_cursor":...} from {'ok', cursor, json...}. [xfer] */
static char *render_list(const redisReply *r)
{
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"items\":[");
    for (size_t i = 2; i < r->elements; i++) {
        if (i > 2)
            og_buf_puts(&b, ",");
        og_buf_append(&b, r->element[i]->str, r->element[i]->len);
    }
    og_buf_puts(&b, "],\"next_cursor\":");
    og_buf_json_str(&b, r->element[1]->len ? r->element[1]->str : NULL);
    og_buf_puts(&b, "}");
    return b.data;
}

/* The list from sessions.lua's {'ok', cursor, id, unread...}: each session
 * read with plain commands (its hash, then its contact and its channel's
 * goal: two round trips) and rendered here, off Redis's one thread; one
 * gone meanwhile (archived, erased) is left out. [xfer] */
static og_err render_sessions(struct og_core *c, const redisReply *r, char **json)
{
    size_t n = (r->elements - 2) / 2, ng = 0;
    redisReply **h = og_calloc(n + 1, sizeof *h), **rep = og_calloc(2 * n + 1, sizeof *rep);
    /* round two's arguments: an HMGET of a contact and one of a goal each */
    const char **av = og_calloc(n * (2 + OG_RENDER_CON_NFIELDS + 4) + 1, sizeof *av);
    const char *const **argv = og_calloc(2 * n + 1, sizeof *argv);
    int *argc = og_calloc(2 * n + 1, sizeof *argc);
    char **keys = og_calloc(3 * n + 1, sizeof *keys);   /* n hashes, n contacts, n goals */
    const char **chan = og_calloc(n + 1, sizeof *chan); /* the goals' channels */
    size_t *goal_of = og_calloc(n + 1, sizeof *goal_of);
    struct og_buf b = {0}, cj = {0};
    og_err e;
    for (size_t i = 0; i < n; i++) {
        keys[i] = og_sprintf(OG_KEY_SES, c->tag, r->element[2 + 2 * i]->str);
        av[2 * i] = "HGETALL", av[2 * i + 1] = keys[i];
        argv[i] = av + 2 * i, argc[i] = 2;
    }
    e = n ? og_redis_pipeline(c->redis, n, argc, argv, h) : OG_OK;
    /* round two: each one's contact, then each channel's goal once */
    size_t m = 0;
    const char **p = av;
    for (size_t i = 0; e == OG_OK && i < n; i++) {
        if (h[i]->type != REDIS_REPLY_ARRAY || h[i]->elements == 0)
            continue;
        const redisReply *cid = og_render_field(h[i], "contact_id");
        keys[n + m] =
            og_sprintf("%s:con:%.*s", c->tag, cid ? (int)cid->len : 0, cid ? cid->str : "");
        p[0] = "HMGET", p[1] = keys[n + m];
        memcpy(p + 2, og_render_con_fields, sizeof og_render_con_fields);
        argv[m] = p, argc[m] = 2 + OG_RENDER_CON_NFIELDS;
        p += 2 + OG_RENDER_CON_NFIELDS, m++;
    }
    for (size_t i = 0; e == OG_OK && i < n; i++) {
        if (h[i]->type != REDIS_REPLY_ARRAY || h[i]->elements == 0)
            continue;
        const redisReply *ch = og_render_field(h[i], "channel");
        const char *cs = ch ? ch->str : "";
        size_t g = 0;
        while (g < ng && strcmp(chan[g], cs) != 0)
            g++;
        goal_of[i] = g;
        if (g < ng)
            continue;
        chan[ng++] = cs;
        keys[n + m] = og_sprintf("%s:goal:%s", c->tag, cs);
        p[0] = "HMGET", p[1] = keys[n + m], p[2] = "event", p[3] = "days";
        argv[m] = p, argc[m] = 4;
        p += 4, m++;
    }
    if (e == OG_OK && m)
        e = og_redis_pipeline(c->redis, m, argc, argv, rep);
    og_buf_puts(&b, "{\"items\":[");
    size_t k = 0, items = 0, n_con = m - ng;
    for (size_t i = 0; e == OG_OK && i < n; i++) {
        if (h[i]->type != REDIS_REPLY_ARRAY || h[i]->elements == 0)
            continue;
        cj.len = 0;
        og_render_contact(&cj, rep[k++]);
        if (items++)
            og_buf_puts(&b, ",");
        og_render_session(&b, h[i], cj.data, rep[n_con + goal_of[i]]);
        const redisReply *unread = r->element[3 + 2 * i];
        if (unread->len) { /* prelude.lua with_unread */
            b.len--;       /* its closing brace */
            og_buf_printf(&b, ",\"unread\":%.*s}", (int)unread->len, unread->str);
        }
    }
    og_buf_puts(&b, "],\"next_cursor\":");
    og_buf_json_str(&b, r->element[1]->len ? r->element[1]->str : NULL);
    og_buf_puts(&b, "}");
    for (size_t i = 0; i < 3 * n; i++) {
        free(keys[i]);
        if (i < 2 * n && rep[i])
            freeReplyObject(rep[i]);
        if (i < n && h[i])
            freeReplyObject(h[i]);
    }
    free(h), free(rep), free(av), free(argv), free(argc), free(keys), free(chan), free(goal_of);
    og_buf_free(&cj);
    if (e != OG_OK) {
        og_buf_free(&b);
        return e;
    }
    *json = b.data;
    return OG_OK;
}

/* The lex bound on session ids for a time: its time part, then all-lowest
 * (from) or all-highest (to) random part. */
static void id_bound(int64_t ms, int high, char out[48])
{
    og_id_new("ses_", ms, out, 48);
    for (size_t i = 4 + 10; i < 4 + OG_ID_LEN; i++)
        out[i] = high ? 'Z' : '0';
}

og_err og_sessions_list(struct og_core *c, const struct og_viewer *v,
                        const struct og_session_query *q, char **json)
{
    char lim[16], from_id[48] = "", to_id[48] = "";
    snprintf(lim, sizeof lim, "%d", q->limit);
    if (q->from_ms >= 0)
        id_bound(q->from_ms, 0, from_id);
    if (q->to_ms >= 0)
        id_bound(q->to_ms, 1, to_id);
    char *ql = og_strdup(q->q ? q->q : "");
    for (char *p = ql; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *a[] = {q->status, q->channel, q->cursor,       lim, q->agent_id, q->group,
                       from_id,   to_id,      q->success_code, ql};
    redisReply *r;
    *json = NULL;
    og_err e = call(c, v, "sessions", 10, a, &r, NULL, 0);
    free(ql);
    if (e != OG_OK)
        return e;
    e = r->elements >= 2 ? render_sessions(c, r, json) : OG_ERR_INTERNAL;
    freeReplyObject(r);
    return e;
}

og_err og_messages_json(struct og_core *c, const char *const *ids, size_t n, char **out)
{
    const int nf = 2 + OG_RENDER_MSG_NFIELDS;
    redisReply **rep = og_calloc(n + 1, sizeof *rep);
    const char **av = og_calloc(n * (size_t)nf + 1, sizeof *av);
    const char *const **argv = og_calloc(n + 1, sizeof *argv);
    int *argc = og_calloc(n + 1, sizeof *argc);
    char **keys = og_calloc(n + 1, sizeof *keys);
    for (size_t i = 0; i < n; i++) {
        const char **p = av + i * (size_t)nf;
        keys[i] = og_sprintf(OG_KEY_MSG, c->tag, ids[i]);
        p[0] = "HMGET", p[1] = keys[i];
        memcpy(p + 2, og_render_msg_fields, sizeof og_render_msg_fields);
        argv[i] = p, argc[i] = nf;
    }
    og_err e = n ? og_redis_pipeline(c->redis, n, argc, argv, rep) : OG_OK;
    for (size_t i = 0; i < n; i++) {
        struct og_buf b = {0};
        out[i] = e == OG_OK && og_render_message(&b, ids[i], rep[i]) == 0 ? b.data : NULL;
        if (!out[i])
            og_buf_free(&b);
        free(keys[i]);
        if (rep[i])
            freeReplyObject(rep[i]);
    }
    free(rep), free(av), free(argv), free(argc), free(keys);
    return e;
}

/* The page from sessions.lua's {'ok', cursor, id...}, its messages read
 * and rendered by og_messages_json; one gone meanwhile is left out. [xfer] */
static og_err render_messages(struct og_core *c, const redisReply *r, char **json)
{
    size_t n = r->elements - 2;
    const char **ids = og_calloc(n + 1, sizeof *ids);
    char **m = og_calloc(n + 1, sizeof *m);
    for (size_t i = 0; i < n; i++)
        ids[i] = r->element[2 + i]->str;
    og_err e = og_messages_json(c, ids, n, m);
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"items\":[");
    for (size_t i = 0, items = 0; i < n; i++) {
        if (m[i])
            og_buf_printf(&b, "%s%s", items++ ? "," : "", m[i]);
        free(m[i]);
    }
    og_buf_puts(&b, "],\"next_cursor\":");
    og_buf_json_str(&b, r->element[1]->len ? r->element[1]->str : NULL);
    og_buf_puts(&b, "}");
    free(ids), free(m);
    if (e != OG_OK) {
        og_buf_free(&b);
        return e;
    }
    *json = b.data;
    return OG_OK;
}

og_err og_session_messages(struct og_core *c, const struct og_viewer *v, const char *sid,
                           const char *cursor, int limit, char **json)
{
    char lim[16], now_iso[32], eid[48];
    snprintf(lim, sizeof lim, "%d", limit);
    int64_t now = og_now_ms();
    og_time_rfc3339(now, now_iso);
    og_id_new("evt_", now, eid, sizeof eid);
    const char *a[] = {sid, cursor, lim, now_iso, eid};
    redisReply *r;
    *json = NULL;
    og_err e = call(c, v, "messages", 5, a, &r, NULL, 0);
    if (e == OG_ERR_NOT_FOUND)
        return og_archive_messages(c, v, sid, cursor, limit, json);
    if (e != OG_OK)
        return e;
    e = r->elements >= 2 ? render_messages(c, r, json) : OG_ERR_INTERNAL;
    freeReplyObject(r);
    return e;
}

int og_session_facts_of(struct json_object *session, struct og_session_facts *f)
{
    static const char *const none = "";
    if (!json_object_is_type(session, json_type_object))
        return -1;
    const char **slot[] = {&f->id, &f->status, &f->agent_id, &f->queue_group, &f->routing};
    const char *name[] = {"id", "status", "agent_id", "queue_group", "routing"};
    for (size_t i = 0; i < 5; i++) {
        json_object *v = json_object_object_get(session, name[i]);
        *slot[i] = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : none;
    }
    return *f->id ? 0 : -1;
}

/* 1 when group is one of "a,b" in the list part of "pol=a,b;pol2=*" for
 * policy (or "*" is). */
static int policy_has(const char *pg, const char *policy, const struct og_viewer *v)
{
    size_t pl = strlen(policy);
    for (const char *p = pg; p && *p;) {
        const char *semi = strchr(p, ';'), *eq = strchr(p, '=');
        const char *end = semi ? semi : p + strlen(p);
        if (eq && eq < end && (size_t)(eq - p) == pl && strncmp(p, policy, pl) == 0) {
            for (const char *g = eq + 1; g < end;) {
                const char *comma = memchr(g, ',', (size_t)(end - g));
                const char *ge = comma ? comma : end;
                size_t gl = (size_t)(ge - g);
                if (gl == 1 && *g == '*')
                    return 1;
                for (size_t i = 0; i < v->n_groups; i++)
                    if (strlen(v->groups[i]) == gl && strncmp(v->groups[i], g, gl) == 0)
                        return 1;
                g = comma ? comma + 1 : end;
            }
            return 0;
        }
        p = semi ? semi + 1 : end;
    }
    return -1; /* no such policy */
}

int og_session_visible(struct og_core *c, const struct og_viewer *v,
                       const struct og_session_facts *f)
{
    if (v->role != OG_ROLE_AGENT)
        return 1;
    const char *me = v->agent_id ? v->agent_id : "";
    if (*f->agent_id && strcmp(f->agent_id, me) == 0)
        return 1;
    if (strcmp(f->status, "new") != 0 && strcmp(f->status, "transferred") != 0)
        return 0;
    if (*f->agent_id)
        return 0;
    if (*f->queue_group) {
        for (size_t i = 0; i < v->n_groups; i++)
            if (strcmp(v->groups[i], f->queue_group) == 0)
                return 1;
        return 0;
    }
    const char *pg = og_routing_policy_groups(c);
    int r = policy_has(pg, *f->routing ? f->routing : "default", v);
    if (r < 0)
        r = policy_has(pg, "default", v);
    return r > 0;
}

og_err og_session_timeline(struct og_core *c, const struct og_viewer *v, const char *sid,
                           const char *cursor, int limit, char **json)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *a[] = {sid, cursor, lim};
    redisReply *r;
    *json = NULL;
    og_err e = call(c, v, "timeline", 3, a, &r, NULL, 0);
    if (e == OG_ERR_NOT_FOUND)
        return og_archive_timeline(c, v, sid, cursor, limit, json);
    if (e != OG_OK)
        return e;
    if (r->elements >= 2)
        *json = render_list(r);
    freeReplyObject(r);
    return *json ? OG_OK : OG_ERR_INTERNAL;
}

og_err og_sessions_flagged(struct og_core *c, const struct og_viewer *v, const char *direction,
                           const char *channel, const char *cursor, int limit, char **json)
{
    *json = NULL;
    if (v->role < OG_ROLE_MANAGER)
        return OG_ERR_FORBIDDEN;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *a[] = {cursor, lim, direction, channel};
    redisReply *r;
    og_err e = call(c, v, "flagged", 4, a, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    if (r->elements >= 2)
        *json = render_list(r);
    freeReplyObject(r);
    return *json ? OG_OK : OG_ERR_INTERNAL;
}
