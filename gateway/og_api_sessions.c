/* og_api_sessions - sessions and their messages: list (with filters), read,
 * and the routing operations an agent or a manager performs on one session:
 * transfer, assign/take, close, reopen.
 *
 * GET /sessions filters: status, channel, agent_id, group, from/to (RFC 3339
 * or YYYY-MM-DD; a date-only "to" includes that whole day; both bound the
 * session's creation time, which its time-sorted id carries), success_code,
 * q (case-insensitive text in the contact's name or the message history).
 *
 * Agents (role agent) see only their own sessions and the sessions waiting
 * in the queue for one of their groups (og_api_can_access_session); another
 * agent's session answers 404, as if it did not exist. Agents get "unread"
 * on each session of the list (role agent) and of GET /sessions/{id} (any
 * agent token): the customer messages after that agent's read marker
 * (counted up to 100); GET /sessions/{id}/messages moves the marker to the
 * newest message.
 *
 * Close: "reason" is solved|no_response|transferred|other; "success_codes"
 * are checked against sessions.close (allowed list, several or one, one
 * required). Closing frees the agent's capacity and wakes the routing
 * worker so the queue gets that capacity at once. */
#include "og_agents.h"
#include "og_api.h"
#include "og_config_routing.h"
#include "og_routing_worker.h"
#include "og_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int valid_status(const char *s)
{
    static const char *const st[] = {"new", "active", "awaiting", "closed", "transferred",
                                      "archived"};
    for (size_t i = 0; i < sizeof st / sizeof *st; i++)
        if (strcmp(s, st[i]) == 0)
            return 1;
    return 0;
}

/* RFC 3339 ("2026-11-21T05:00:00Z", fraction and offset allowed) or a date
 * ("2026-11-21", midnight UTC; *date_only set). -1 when malformed. */
static int64_t parse_time(const char *s, int *date_only)
{
    int y, mo, d, h = 0, mi = 0, se = 0, n = 0;
    *date_only = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    const char *p = s + 10;
    int64_t frac_ms = 0, off_s = 0;
    if (*p == 0) {
        *date_only = 1;
    } else {
        if (*p != 'T' && *p != 't' && *p != ' ')
            return -1;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &se, &n) != 3 || n != 8)
            return -1;
        p += 9;
        if (*p == '.') {
            int digits = 0;
            for (p++; isdigit((unsigned char)*p); p++, digits++)
                if (digits < 3)
                    frac_ms = frac_ms * 10 + (*p - '0');
            if (!digits)
                return -1;
            for (; digits < 3; digits++)
                frac_ms *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5)
                return -1;
            off_s = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
            p += 6;
        } else {
            return -1;
        }
        if (*p)
            return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || y < 1970)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_sec = se};
    time_t t = timegm(&tm);
    return ((int64_t)t - off_s) * 1000 + frac_ms;
}

/* The lex bound on session ids for a time: the time part, then all-lowest
 * (from) or all-highest (to) random part. */
static void id_bound(int64_t ms, int high, char out[48])
{
    og_id_new("ses_", ms, out, 48);
    for (size_t i = 4 + 10; i < 4 + OG_ID_LEN; i++)
        out[i] = high ? 'Z' : '0';
}

static char *groups_json(const struct og_principal *w)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < w->n_groups; i++)
        json_object_array_add(a, json_object_new_string(w->groups[i]));
    char *s = og_strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
    json_object_put(a);
    return s;
}

static void bad(struct og_api_ctx *ctx, const char *msg)
{
    og_reply_err(ctx->r, OG_ERR_INVALID, msg);
}

static void list_sessions(struct og_api_ctx *ctx)
{
    const char *status = og_api_arg(ctx, "status");
    const char *channel = og_api_arg(ctx, "channel");
    const char *cursor = og_api_arg(ctx, "cursor");
    const char *agent = og_api_arg(ctx, "agent_id"), *group = og_api_arg(ctx, "group");
    const char *from = og_api_arg(ctx, "from"), *to = og_api_arg(ctx, "to");
    const char *code = og_api_arg(ctx, "success_code"), *q = og_api_arg(ctx, "q");
    int limit = og_api_limit(ctx);
    if (limit < 0)
        return;
    if (status && *status && !valid_status(status)) {
        bad(ctx, "status must be one of new, active, awaiting, closed, transferred, archived");
        return;
    }
    if (cursor && *cursor && !og_api_valid_id(cursor, "ses_")) {
        bad(ctx, "malformed cursor");
        return;
    }
    if (agent && *agent && !og_api_valid_id(agent, "agt_")) {
        bad(ctx, "agent_id must be an agent id (agt_...)");
        return;
    }
    char from_id[48] = "", to_id[48] = "";
    int date_only;
    if (from && *from) {
        int64_t ms = parse_time(from, &date_only);
        if (ms < 0) {
            bad(ctx, "from must be an RFC 3339 time or a date YYYY-MM-DD");
            return;
        }
        id_bound(ms, 0, from_id);
    }
    if (to && *to) {
        int64_t ms = parse_time(to, &date_only);
        if (ms < 0) {
            bad(ctx, "to must be an RFC 3339 time or a date YYYY-MM-DD");
            return;
        }
        id_bound(date_only ? ms + 86400000 - 1 : ms, 1, to_id);
    }
    if (q && strlen(q) > 200) {
        bad(ctx, "q must be at most 200 characters");
        return;
    }
    char *ql = og_strdup(q ? q : "");
    for (char *p = ql; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    int restricted = ctx->who.role == OG_ROLE_AGENT;
    char *gj = groups_json(&ctx->who);
    const char *pg = ctx->g->routing ? ctx->g->routing->policy_groups : "default=*";
    /* viewer: restricts (role agent) and adds unread (anyone with an agent id) */
    const char *argv[] = {ctx->g->core->tag, "sessions", status ? status : "",
                          channel ? channel : "", cursor ? cursor : "", lim, agent ? agent : "",
                          group ? group : "", from_id, to_id, code ? code : "", ql,
                          restricted ? ctx->who.agent_id : "", gj, pg};
    redisReply *r = NULL;
    og_err e = og_redis_eval(ctx->g->core->redis, ctx->g->core->read, 0, 15, argv, NULL, &r);
    free(ql);
    free(gj);
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, NULL);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
        freeReplyObject(r);
        og_reply_err(ctx->r, OG_ERR_INTERNAL, NULL);
        return;
    }
    og_reply_json(ctx->r, 200, og_core_render_list(r));
    freeReplyObject(r);
}

/* 1 when the caller may act on the session; answers 404/503 otherwise. */
static int access_ok(struct og_api_ctx *ctx, const char *sid)
{
    if (!og_api_valid_id(sid, "ses_")) {
        og_reply_err(ctx->r, OG_ERR_NOT_FOUND, "no such session");
        return 0;
    }
    int ok = og_api_can_access_session(ctx, sid);
    if (ok < 0)
        og_reply_err(ctx->r, OG_ERR_UNAVAILABLE, NULL);
    else if (!ok)
        og_reply_err(ctx->r, OG_ERR_NOT_FOUND, "no such session");
    return ok > 0;
}

static void get_session(struct og_api_ctx *ctx)
{
    if (!access_ok(ctx, ctx->params[0]))
        return;
    const char *argv[] = {ctx->g->core->tag, "session", ctx->params[0], ctx->who.agent_id};
    redisReply *r = NULL;
    og_err e = og_redis_eval(ctx->g->core->redis, ctx->g->core->read, 0, 4, argv, NULL, &r);
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, NULL);
        return;
    }
    if (r->type == REDIS_REPLY_STRING)
        og_reply_json(ctx->r, 200, og_strndup(r->str, r->len));
    else
        og_reply_err(ctx->r, OG_ERR_NOT_FOUND, "no such session");
    freeReplyObject(r);
}

static void list_messages(struct og_api_ctx *ctx)
{
    const char *cursor = og_api_arg(ctx, "cursor");
    int limit = og_api_limit(ctx);
    if (limit < 0)
        return;
    if (cursor && *cursor && !og_api_valid_id(cursor, "msg_")) {
        bad(ctx, "malformed cursor");
        return;
    }
    if (!access_ok(ctx, ctx->params[0]))
        return;
    char *json = NULL;
    og_err e = og_core_list_messages(ctx->g->core, ctx->params[0], cursor, limit, &json);
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such session" : NULL);
        return;
    }
    if (ctx->who.agent_id[0]) {
        /* the agent has now seen the conversation: unread drops to 0 */
        const char *argv[] = {ctx->g->core->tag, "mark_read", ctx->params[0], ctx->who.agent_id};
        redisReply *r = NULL;
        if (og_redis_eval(ctx->g->core->redis, ctx->g->core->read, 0, 4, argv, NULL, &r) == OG_OK)
            freeReplyObject(r);
    }
    og_reply_json(ctx->r, 200, json);
}

/* ---------------------------------------------------- routing operations */

static struct og_routing *routing(struct og_api_ctx *ctx)
{
    if (!ctx->g->routing) {
        og_reply_err(ctx->r, OG_ERR_UNAVAILABLE, "routing is not running");
        return NULL;
    }
    return ctx->g->routing->r;
}

static void reply_result(struct og_api_ctx *ctx, struct og_routing_result *res)
{
    if (res->err != OG_OK)
        og_reply_err(ctx->r, res->err, res->message[0] ? res->message : NULL);
    else if (res->json) {
        og_reply_json(ctx->r, 200, res->json);
        res->json = NULL;
        og_routing_kick(ctx->g);
    } else
        og_reply_err(ctx->r, OG_ERR_INTERNAL, NULL);
    og_routing_result_free(res);
}

/* For role agent: the session must be assigned to the caller. */
static int own_session(struct og_api_ctx *ctx, const char *sid)
{
    if (ctx->who.role >= OG_ROLE_MANAGER)
        return 1;
    redisReply *r = NULL;
    if (og_redis_cmd(ctx->g->core->redis, &r, "HGET %s:ses:%s agent_id", ctx->g->core->tag,
                     sid) != OG_OK) {
        og_reply_err(ctx->r, OG_ERR_UNAVAILABLE, NULL);
        return 0;
    }
    int ok = r->type == REDIS_REPLY_STRING && strcmp(r->str, ctx->who.agent_id) == 0;
    freeReplyObject(r);
    if (!ok)
        og_reply_err(ctx->r, OG_ERR_FORBIDDEN,
                       "only the assigned agent or a manager may do this");
    return ok;
}

/* Optional string member: NULL when absent; -1 after answering 400. */
static int opt_str(struct og_api_ctx *ctx, json_object *j, const char *key, size_t max,
                   const char **out)
{
    json_object *v;
    *out = NULL;
    if (!json_object_object_get_ex(j, key, &v) || json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_string) || strlen(json_object_get_string(v)) > max) {
        char m[96];
        snprintf(m, sizeof m, "%s must be a string of at most %zu characters", key, max);
        bad(ctx, m);
        return -1;
    }
    *out = json_object_get_string(v);
    return 0;
}

static int only_keys(struct og_api_ctx *ctx, json_object *j, const char *const *keys)
{
    json_object_object_foreach(j, k, v)
    {
        (void)v;
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k) != 0)
            i++;
        if (!keys[i]) {
            char m[128];
            snprintf(m, sizeof m, "unknown field \"%.64s\"", k);
            bad(ctx, m);
            return 0;
        }
    }
    return 1;
}

static void transfer(struct og_api_ctx *ctx)
{
    struct og_routing *rt = routing(ctx);
    const char *sid = ctx->params[0];
    if (!rt || !access_ok(ctx, sid) || !own_session(ctx, sid))
        return;
    json_object *j = og_api_json_body(ctx);
    if (!j)
        return;
    static const char *const keys[] = {"agent_id", "group", "comment", NULL};
    const char *agent, *group, *comment;
    if (only_keys(ctx, j, keys) && opt_str(ctx, j, "agent_id", 64, &agent) == 0 &&
        opt_str(ctx, j, "group", 64, &group) == 0 &&
        opt_str(ctx, j, "comment", 2000, &comment) == 0) {
        if (agent && group)
            bad(ctx, "give agent_id or group, not both");
        else if (agent && !og_api_valid_id(agent, "agt_"))
            bad(ctx, "agent_id must be an agent id (agt_...)");
        else {
            struct og_routing_result res;
            og_routing_transfer(rt, sid, agent, group, comment,
                                ctx->who.agent_id[0] ? ctx->who.agent_id : NULL, &res);
            reply_result(ctx, &res);
        }
    }
    json_object_put(j);
}

static void assign(struct og_api_ctx *ctx)
{
    struct og_routing *rt = routing(ctx);
    const char *sid = ctx->params[0];
    if (!rt || !access_ok(ctx, sid))
        return;
    const char *agent = NULL;
    json_object *j = NULL;
    if (ctx->len) {
        if (!(j = og_api_json_body(ctx)))
            return;
        static const char *const keys[] = {"agent_id", NULL};
        if (!only_keys(ctx, j, keys) || opt_str(ctx, j, "agent_id", 64, &agent) != 0) {
            json_object_put(j);
            return;
        }
    }
    int take = !agent || (ctx->who.agent_id[0] && !strcmp(agent, ctx->who.agent_id));
    if (take && !ctx->who.agent_id[0])
        bad(ctx, "agent_id is required (the admin token is not an agent)");
    else if (!take && ctx->who.role < OG_ROLE_MANAGER)
        og_reply_err(ctx->r, OG_ERR_FORBIDDEN, "only a manager may assign to someone else");
    else if (!take && !og_api_valid_id(agent, "agt_"))
        bad(ctx, "agent_id must be an agent id (agt_...)");
    else {
        struct og_routing_result res;
        og_routing_assign(rt, sid, take ? ctx->who.agent_id : agent, take, &res);
        reply_result(ctx, &res);
    }
    json_object_put(j);
}

static void close_session(struct og_api_ctx *ctx)
{
    struct og_routing *rt = routing(ctx);
    const char *sid = ctx->params[0];
    if (!rt || !access_ok(ctx, sid) || !own_session(ctx, sid))
        return;
    json_object *j = og_api_json_body(ctx);
    if (!j)
        return;
    const struct og_config_routing *cr = ctx->g->cfg->routing;
    static const char *const keys[] = {"reason", "success_codes", NULL};
    const char *reason;
    json_object *codes = NULL;
    if (!only_keys(ctx, j, keys) || opt_str(ctx, j, "reason", 32, &reason) != 0)
        goto out;
    if (!reason)
        reason = "solved";
    if (strcmp(reason, "solved") && strcmp(reason, "no_response") &&
        strcmp(reason, "transferred") && strcmp(reason, "other")) {
        bad(ctx, "reason must be one of solved, no_response, transferred, other");
        goto out;
    }
    json_object *cv = NULL;
    size_t n = 0;
    if (json_object_object_get_ex(j, "success_codes", &cv)) {
        if (!json_object_is_type(cv, json_type_array)) {
            bad(ctx, "success_codes must be an array of strings");
            goto out;
        }
        n = json_object_array_length(cv);
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(cv, i);
            const char *c = json_object_is_type(e, json_type_string)
                                ? json_object_get_string(e)
                                : NULL;
            int ok = c && *c && strlen(c) <= 64;
            if (ok && cr->n_success_codes) {
                ok = 0;
                for (size_t k = 0; k < cr->n_success_codes; k++)
                    ok |= !strcmp(cr->success_codes[k], c);
            }
            if (!ok) {
                bad(ctx, "success_codes: unknown success code");
                goto out;
            }
        }
    }
    if (n > 1 && !cr->allow_multiple_codes) {
        bad(ctx, "success_codes: only one success code is allowed");
        goto out;
    }
    if (n == 0 && cr->require_success_code) {
        bad(ctx, "success_codes: a success code is required to close");
        goto out;
    }
    codes = cv ? json_object_get(cv) : json_object_new_array();
    struct og_routing_result res;
    og_routing_close(rt, sid, reason, json_object_to_json_string_ext(codes, JSON_C_TO_STRING_PLAIN),
                     &res);
    reply_result(ctx, &res);
out:
    json_object_put(codes);
    json_object_put(j);
}

static void reopen(struct og_api_ctx *ctx)
{
    struct og_routing *rt = routing(ctx);
    const char *sid = ctx->params[0];
    if (!rt || !access_ok(ctx, sid))
        return;
    struct og_routing_result res;
    og_routing_reopen(rt, sid, &res);
    reply_result(ctx, &res);
}

const struct og_route og_api_session_routes[] = {
    {"GET", "/sessions", OG_ROLE_AGENT, list_sessions},
    {"GET", "/sessions/:id", OG_ROLE_AGENT, get_session},
    {"GET", "/sessions/:id/messages", OG_ROLE_AGENT, list_messages},
    {"POST", "/sessions/:id/transfer", OG_ROLE_AGENT, transfer},
    {"POST", "/sessions/:id/assign", OG_ROLE_AGENT, assign},
    {"POST", "/sessions/:id/close", OG_ROLE_AGENT, close_session},
    {"POST", "/sessions/:id/reopen", OG_ROLE_AGENT, reopen},
    {NULL, NULL, 0, NULL},
};
