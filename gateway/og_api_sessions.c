/* og_api_sessions - sessions and their messages: list (with filters), read,
 * and the routing operations an agent or a manager performs on one session:
 * transfer, assign/take, close, reopen. This file parses and checks the
 * request's shape; who may do what (the access rule, the close and transfer
 * rules) is the core's (og_sessions.h, og_routing.h).
 *
 * GET /sessions filters: status, channel, agent_id, group, from/to (RFC 3339
 * or YYYY-MM-DD; a date-only "to" includes that whole day; both bound the
 * session's creation time, which its time-sorted id carries), success_code,
 * q (case-insensitive text in the contact's name or the message history).
 *
 * Agents (role agent) see only their own sessions and the sessions waiting
 * in the queue for one of their groups; another agent's session answers
 * 404, as if it did not exist. Agents get "unread" on each session of the
 * list and of GET /sessions/{id}: the customer messages after that agent's
 * read marker (counted up to 100); GET /sessions/{id}/messages moves the
 * marker to the newest message.
 *
 * GET /sessions/{id}/timeline: what happened to the session and who did it
 * (created, assigned, taken, transferred, auto_forwarded, returned, closed,
 * reopened, archived...), oldest first, paged by limit and cursor; visible
 * to whoever may see the session.
 *
 * Close: "reason" is solved|no_response|transferred|other; "success_codes"
 * are checked against sessions.close (allowed list, several or one, one
 * required). Closing frees the agent's capacity and wakes the routing
 * worker so the queue gets that capacity at once. */
#include "og_api.h"
#include "og_routing.h"
#include "og_sessions.h"
#include "og_util.h"
#include "og_webchat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void bad(struct og_api_ctx *ctx, const char *msg)
{
    og_reply_err(ctx->r, OG_ERR_INVALID, msg);
}

/* A time filter: *ms stays -1 when absent; 0 or -1 after answering 400. */
static int time_arg(struct og_api_ctx *ctx, const char *name, int end_of_day, int64_t *ms)
{
    const char *s = og_api_arg(ctx, name);
    *ms = -1;
    if (!s || !*s)
        return 0;
    int date_only = 0;
    *ms = og_time_parse(s, &date_only);
    if (*ms < 0) {
        char m[96];
        snprintf(m, sizeof m, "%s must be an RFC 3339 time or a date YYYY-MM-DD", name);
        bad(ctx, m);
        return -1;
    }
    if (date_only && end_of_day)
        *ms += 86400000 - 1;
    return 0;
}

static void list_sessions(struct og_api_ctx *ctx)
{
    struct og_session_query q = {
        .status = og_api_arg(ctx, "status"),
        .channel = og_api_arg(ctx, "channel"),
        .cursor = og_api_arg(ctx, "cursor"),
        .agent_id = og_api_arg(ctx, "agent_id"),
        .group = og_api_arg(ctx, "group"),
        .success_code = og_api_arg(ctx, "success_code"),
        .q = og_api_arg(ctx, "q"),
        .limit = og_api_limit(ctx),
    };
    if (q.limit < 0)
        return;
    if (q.status && *q.status && !og_session_status_valid(q.status)) {
        bad(ctx, "status must be one of new, active, awaiting, closed, transferred, archived");
        return;
    }
    if (q.cursor && *q.cursor && !og_id_valid(q.cursor, "ses_")) {
        bad(ctx, "malformed cursor");
        return;
    }
    if (q.agent_id && *q.agent_id && !og_id_valid(q.agent_id, "agt_")) {
        bad(ctx, "agent_id must be an agent id (agt_...)");
        return;
    }
    if (time_arg(ctx, "from", 0, &q.from_ms) != 0 || time_arg(ctx, "to", 1, &q.to_ms) != 0)
        return;
    if (q.q && strlen(q.q) > 200) {
        bad(ctx, "q must be at most 200 characters");
        return;
    }
    struct og_viewer v = og_principal_viewer(&ctx->who);
    char *json = NULL;
    og_err e = og_sessions_list(ctx->g->core, &v, &q, &json);
    if (e != OG_OK)
        og_reply_err(ctx->r, e, NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

static void get_session(struct og_api_ctx *ctx)
{
    struct og_viewer v = og_principal_viewer(&ctx->who);
    char *json = NULL;
    og_err e = og_id_valid(ctx->params[0], "ses_")
                   ? og_session_get(ctx->g->core, &v, ctx->params[0], &json)
                   : OG_ERR_NOT_FOUND;
    if (e != OG_OK)
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such session" : NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

static void list_messages(struct og_api_ctx *ctx)
{
    const char *cursor = og_api_arg(ctx, "cursor");
    int limit = og_api_limit(ctx);
    if (limit < 0)
        return;
    if (cursor && *cursor && !og_id_valid(cursor, "msg_")) {
        bad(ctx, "malformed cursor");
        return;
    }
    struct og_viewer v = og_principal_viewer(&ctx->who);
    char *json = NULL;
    og_err e = og_id_valid(ctx->params[0], "ses_")
                   ? og_session_messages(ctx->g->core, &v, ctx->params[0], cursor, limit, &json)
                   : OG_ERR_NOT_FOUND;
    if (e != OG_OK)
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such session" : NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

static void timeline(struct og_api_ctx *ctx)
{
    const char *cursor = og_api_arg(ctx, "cursor");
    int limit = og_api_limit(ctx);
    if (limit < 0)
        return;
    if (cursor && *cursor &&
        (strlen(cursor) > 9 || strspn(cursor, "0123456789") != strlen(cursor))) {
        bad(ctx, "malformed cursor");
        return;
    }
    struct og_viewer v = og_principal_viewer(&ctx->who);
    char *json = NULL;
    og_err e = og_id_valid(ctx->params[0], "ses_")
                   ? og_session_timeline(ctx->g->core, &v, ctx->params[0], cursor, limit, &json)
                   : OG_ERR_NOT_FOUND;
    if (e != OG_OK)
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such session" : NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

/* ---------------------------------------------------- routing operations */

static void reply_result(struct og_api_ctx *ctx, struct og_routing_result *res)
{
    if (res->err != OG_OK) {
        og_reply_err(ctx->r, res->err, res->message[0] ? res->message : NULL);
    } else {
        og_reply_json(ctx->r, 200, res->json);
        res->json = NULL;
        og_routing_kick(ctx->g);
    }
    og_routing_result_free(res);
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
    json_object *j = og_api_json_body(ctx);
    if (!j)
        return;
    static const char *const keys[] = {"agent_id", "group", "comment", NULL};
    const char *agent, *group, *comment;
    if (only_keys(ctx, j, keys) && opt_str(ctx, j, "agent_id", 64, &agent) == 0 &&
        opt_str(ctx, j, "group", 64, &group) == 0 &&
        opt_str(ctx, j, "comment", 2000, &comment) == 0) {
        struct og_viewer v = og_principal_viewer(&ctx->who);
        struct og_routing_result res;
        og_routing_transfer(ctx->g->core, &v, ctx->params[0], agent, group, comment, &res);
        reply_result(ctx, &res);
    }
    json_object_put(j);
}

static void assign(struct og_api_ctx *ctx)
{
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
    struct og_viewer v = og_principal_viewer(&ctx->who);
    struct og_routing_result res;
    og_routing_assign(ctx->g->core, &v, ctx->params[0], agent, &res);
    reply_result(ctx, &res);
    json_object_put(j);
}

static void close_session(struct og_api_ctx *ctx)
{
    json_object *j = og_api_json_body(ctx);
    if (!j)
        return;
    static const char *const keys[] = {"reason", "success_codes", NULL};
    const char *reason;
    const char **codes = NULL;
    size_t n = 0;
    if (!only_keys(ctx, j, keys) || opt_str(ctx, j, "reason", 32, &reason) != 0)
        goto out;
    json_object *cv = NULL;
    if (json_object_object_get_ex(j, "success_codes", &cv)) {
        if (!json_object_is_type(cv, json_type_array)) {
            bad(ctx, "success_codes must be an array of strings");
            goto out;
        }
        n = json_object_array_length(cv);
        codes = og_calloc(n + 1, sizeof *codes);
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(cv, i);
            codes[i] = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
        }
    }
    struct og_viewer v = og_principal_viewer(&ctx->who);
    struct og_routing_result res;
    og_routing_close(ctx->g->core, &v, ctx->params[0], reason, codes, n, &res);
    reply_result(ctx, &res);
out:
    free(codes);
    json_object_put(j);
}

static void reopen(struct og_api_ctx *ctx)
{
    struct og_viewer v = og_principal_viewer(&ctx->who);
    struct og_routing_result res;
    og_routing_reopen(ctx->g->core, &v, ctx->params[0], &res);
    reply_result(ctx, &res);
}

/* The agent types (or stopped): event "typing", which the web chat
 * visitor's stream shows. */
static void typing(struct og_api_ctx *ctx)
{
    json_object *j = og_api_json_body(ctx), *on = NULL;
    if (!j)
        return;
    if (!json_object_object_get_ex(j, "on", &on) || !json_object_is_type(on, json_type_boolean)) {
        json_object_put(j);
        bad(ctx, "on: required, true or false");
        return;
    }
    struct og_viewer v = og_principal_viewer(&ctx->who);
    char msg[160] = "";
    og_err e = og_webchat_agent_typing(ctx->g->core, &v, ctx->params[0],
                                       json_object_get_boolean(on), msg, sizeof msg);
    json_object_put(j);
    if (e != OG_OK)
        og_reply_err(ctx->r, e, msg[0] ? msg : e == OG_ERR_NOT_FOUND ? "no such session" : NULL);
    else
        ctx->r->status = 204; /* no body */
}

/* RFC 5987's attr-char, the rest percent-encoded (a file name in
 * Content-Disposition). [xfer] */
static char *ext_value(const char *s)
{
    struct og_buf b = {0};
    og_buf_puts(&b, "");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("!#$&+-.^_`|~", *p))
            og_buf_append(&b, p, 1);
        else
            og_buf_printf(&b, "%%%02X", *p);
    }
    return b.data;
}

/* A file a web chat visitor sent, for who may see its session. Served as
 * an attachment (never rendered by the browser as a page of ours). */
static void get_file(struct og_api_ctx *ctx)
{
    struct og_viewer v = og_principal_viewer(&ctx->who);
    char *data = NULL, *mime = NULL, *name = NULL;
    size_t len = 0;
    og_err e = og_webchat_file(ctx->g->core, &v, ctx->params[0], &data, &len, &mime, &name);
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such file" : NULL);
        return;
    }
    ctx->r->status = 200;
    snprintf(ctx->r->ctype, sizeof ctx->r->ctype, "%s", mime);
    ctx->r->content_type = ctx->r->ctype;
    ctx->r->body = data;
    ctx->r->len = len;
    og_reply_header(ctx->r, "X-Content-Type-Options", "nosniff");
    og_reply_header(ctx->r, "Content-Security-Policy", "default-src 'none'; sandbox");
    char *esc = ext_value(name);
    char *cd = og_sprintf("attachment; filename*=UTF-8''%s", esc);
    og_reply_header(ctx->r, "Content-Disposition", cd);
    free(cd), free(esc), free(mime), free(name);
}

const struct og_route og_api_session_routes[] = {
    {"GET", "/sessions", OG_ROLE_AGENT, list_sessions},
    {"GET", "/sessions/:id", OG_ROLE_AGENT, get_session},
    {"GET", "/sessions/:id/messages", OG_ROLE_AGENT, list_messages},
    {"GET", "/sessions/:id/timeline", OG_ROLE_AGENT, timeline},
    {"POST", "/sessions/:id/transfer", OG_ROLE_AGENT, transfer},
    {"POST", "/sessions/:id/assign", OG_ROLE_AGENT, assign},
    {"POST", "/sessions/:id/close", OG_ROLE_AGENT, close_session},
    {"POST", "/sessions/:id/reopen", OG_ROLE_AGENT, reopen},
    {"POST", "/sessions/:id/typing", OG_ROLE_AGENT, typing},
    {"GET", "/files/:id", OG_ROLE_AGENT, get_file},
    {NULL, NULL, 0, NULL},
};
