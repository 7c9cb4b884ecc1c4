/* og_api - see og_api.h. Tokens are compared as SHA-256 digests with a
 * constant-time compare, so neither the contents nor the length of a token
 * leak through timing; a cookie is looked up by its SHA-256 too, and its
 * CSRF token compared in constant time (og_auth.c). */
#include "og_api.h"
#include "og_agents.h"
#include "og_edge.h"
#include "og_json.h"
#include "og_log.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* clang-format off */
/* The tables matched before authentication (their handlers authenticate
 * themselves where they need to). */
static const struct og_route *const public_tables[] = {og_api_public_routes,
                                                       og_api_media_public_routes};
#define N_PUBLIC (sizeof public_tables / sizeof *public_tables)

static const struct og_route *const route_tables[] = {
    og_api_session_routes, og_api_webhook_routes, og_api_contact_routes, og_api_agent_routes,
    og_api_message_routes, og_api_event_routes,   og_api_auth_routes,    og_api_meta_routes,
    og_api_canned_routes,  og_api_group_routes,   og_api_flagged_routes, og_api_goal_routes,
    og_api_media_routes,   og_api_stats_routes,   og_api_template_routes,
};
/* clang-format on */

/* The agent a token or cookie belongs to, once the caller's address is
 * checked against its allowed_ips. Frees a. */
static int principal_from(struct og_api_ctx *ctx, struct og_principal *who,
                          struct og_agent_auth *a_)
{
    struct og_agent_auth a = *a_;
    struct og_ip ip;
    struct sockaddr_storage ss;
    og_edge_client(ctx->conn, &ip); /* behind a trusted proxy: the client it names */
    og_ip_to_sockaddr(&ip, &ss);
    if (!og_ip_allowed((const struct sockaddr *)&ss, a.allowed_ips_json)) {
        og_agent_auth_free(&a);
        og_reply_err(ctx->r, OG_ERR_FORBIDDEN, "requests from your address are not allowed");
        return -1;
    }
    who->role = !strcmp(a.role, "admin")     ? OG_ROLE_ADMIN
                : !strcmp(a.role, "manager") ? OG_ROLE_MANAGER
                                             : OG_ROLE_AGENT;
    snprintf(who->agent_id, sizeof who->agent_id, "%s", a.id);
    json_object *gs = json_tokener_parse(a.groups_json);
    size_t n = json_object_is_type(gs, json_type_array) ? json_object_array_length(gs) : 0;
    who->groups = n ? og_calloc(n, sizeof *who->groups) : NULL;
    for (size_t i = 0; i < n; i++)
        who->groups[who->n_groups++] =
            og_strdup(json_object_get_string(json_object_array_get_idx(gs, i)));
    json_object_put(gs);
    og_agent_auth_free(&a);
    return 0;
}

/* An agent's token: looked up by its SHA-256 (the only form stored). */
static int authenticate_agent(struct og_api_ctx *ctx, struct og_principal *who, const char *tok)
{
    char sha[65];
    struct og_agent_auth a;
    og_agents_token_sha(tok, sha);
    og_err e = og_agents_auth(ctx->g->core, sha, &a);
    if (e == OG_ERR_UNAVAILABLE) {
        og_reply_err(ctx->r, OG_ERR_UNAVAILABLE, "storage unavailable, retry");
        return -1;
    }
    if (e != OG_OK) {
        og_reply_err(ctx->r, OG_ERR_AUTH, "missing or invalid bearer token");
        return -1;
    }
    return principal_from(ctx, who, &a);
}

static int safe_method(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD");
}

/* A browser's session cookie: the session, then the CSRF token for a
 * request that may change something. */
static int authenticate_cookie(struct og_api_ctx *ctx, struct og_principal *who, const char *sid)
{
    struct og_agent_auth a;
    og_err e = og_auth_session(ctx->g->core, sid, &a, who->sid_sha);
    if (e == OG_ERR_UNAVAILABLE) {
        og_reply_err(ctx->r, OG_ERR_UNAVAILABLE, "storage unavailable, retry");
        return -1;
    }
    if (e != OG_OK) {
        og_reply_err(ctx->r, OG_ERR_AUTH,
                     "not signed in, or the session expired or was signed out: sign in again");
        og_api_set_cookie(ctx, "", 0);
        return -1;
    }
    if (!safe_method(ctx->method)) {
        const char *tok =
            MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND, OG_AUTH_CSRF_HEADER);
        if (!og_auth_csrf_ok(sid, tok)) {
            og_agent_auth_free(&a);
            og_reply_code(ctx->r, "csrf_invalid",
                          tok ? "the X-CSRF-Token header does not match this session"
                              : "a request made with the session cookie needs the X-CSRF-Token "
                                "header (GET /api/v1/auth/me gives it)");
            return -1;
        }
    }
    og_auth_csrf(sid, who->csrf);
    return principal_from(ctx, who, &a);
}

void og_api_client_ip(struct og_api_ctx *ctx, char *out, size_t outsz)
{
    og_edge_client_text(ctx->conn, out, outsz);
}

void og_api_set_cookie(struct og_api_ctx *ctx, const char *value, int64_t max_age_s)
{
    const char *pub = ctx->g->cfg ? ctx->g->cfg->public_url : NULL;
    int secure = pub && strncasecmp(pub, "https://", 8) == 0;
    char *c = og_sprintf("%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", OG_AUTH_COOKIE,
                         value, (long long)(*value ? max_age_s : 0), secure ? "; Secure" : "");
    og_reply_header(ctx->r, "Set-Cookie", c);
    free(c);
}

int og_api_authenticate(struct og_api_ctx *ctx, struct og_principal *who)
{
    memset(who, 0, sizeof *who);
    const char *h = MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        const char *tok = h + 7;
        while (*tok == ' ')
            tok++;
        unsigned char d[32];
        og_sha256(tok, strlen(tok), d);
        if (og_ct_equal(d, sizeof d, ctx->g->admin_token_sha, sizeof d)) {
            who->role = OG_ROLE_ADMIN;
            return 0;
        }
        if (*tok)
            return authenticate_agent(ctx, who, tok);
        og_reply_err(ctx->r, OG_ERR_AUTH, "missing or invalid bearer token");
        return -1;
    }
    const char *sid = MHD_lookup_connection_value(ctx->conn, MHD_COOKIE_KIND, OG_AUTH_COOKIE);
    if (sid && *sid)
        return authenticate_cookie(ctx, who, sid);
    og_reply_err(ctx->r, OG_ERR_AUTH,
                 "sign in (POST /api/v1/auth/login) or send Authorization: Bearer <token>");
    return -1;
}

struct og_viewer og_principal_viewer(const struct og_principal *p)
{
    struct og_viewer v = {p->role, p->agent_id, (const char *const *)p->groups, p->n_groups};
    return v;
}

void og_principal_copy(struct og_principal *out, const struct og_principal *p)
{
    memset(out, 0, sizeof *out);
    out->role = p->role;
    memcpy(out->agent_id, p->agent_id, sizeof out->agent_id);
    memcpy(out->sid_sha, p->sid_sha, sizeof out->sid_sha);
    memcpy(out->csrf, p->csrf, sizeof out->csrf);
    if (p->n_groups) {
        out->groups = og_calloc(p->n_groups, sizeof *out->groups);
        for (size_t i = 0; i < p->n_groups; i++)
            out->groups[i] = og_strdup(p->groups[i]);
        out->n_groups = p->n_groups;
    }
}

void og_principal_free(struct og_principal *who)
{
    for (size_t i = 0; i < who->n_groups; i++)
        free(who->groups[i]);
    free(who->groups);
    who->groups = NULL;
    who->n_groups = 0;
}

const char *og_api_arg(struct og_api_ctx *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx->conn, MHD_GET_ARGUMENT_KIND, name);
}

int og_api_limit(struct og_api_ctx *ctx)
{
    const char *s = og_api_arg(ctx, "limit");
    if (!s)
        return 50;
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end || v < 1 || v > 200) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "limit must be an integer from 1 to 200");
        return -1;
    }
    return (int)v;
}

json_object *og_api_json_body(struct og_api_ctx *ctx)
{
    json_object *j = og_json_parse_strict(ctx->body, ctx->len, OG_JSON_UTF8, NULL);
    if (!json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        og_reply_code(ctx->r, "invalid_json", "the body must be one JSON object");
        return NULL;
    }
    return j;
}

/* Matches path against pattern, filling params. 1 on a match. */
static int match(const char *pattern, const char *path, char params[4][128])
{
    int np = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++, s++;
        size_t pl = strcspn(p, "/"), sl = strcspn(s, "/");
        if (*p == ':') {
            if (sl == 0 || sl >= 128 || np >= 4)
                return 0;
            memcpy(params[np], s, sl);
            params[np][sl] = 0;
            np++;
        } else if (pl != sl || strncmp(p, s, pl) != 0) {
            return 0;
        }
        p += pl, s += sl;
    }
    return *p == 0 && *s == 0;
}

/* Sign-in and password links: no caller to authenticate yet. 1 when the
 * path was one of them (answered). */
static int handle_public(struct og_api_ctx *ctx)
{
    int path_matched = 0;
    for (size_t t = 0; t < N_PUBLIC; t++)
        for (const struct og_route *rt = public_tables[t]; rt->method; rt++) {
            if (!match(rt->pattern, ctx->path, ctx->params))
                continue;
            path_matched = 1;
            if (strcmp(rt->method, ctx->method) == 0) {
                rt->fn(ctx);
                return 1;
            }
        }
    if (path_matched)
        og_reply_code(ctx->r, "method_not_allowed", "this route does not take that method");
    return path_matched;
}

void og_api_routes_each(void (*fn)(void *ud, const struct og_route *rt, int is_public), void *ud)
{
    for (size_t t = 0; t < N_PUBLIC; t++)
        for (const struct og_route *rt = public_tables[t]; rt->method; rt++)
            fn(ud, rt, 1);
    for (size_t t = 0; t < sizeof route_tables / sizeof *route_tables; t++)
        for (const struct og_route *rt = route_tables[t]; rt->method; rt++)
            fn(ud, rt, 0);
}

/* The route template path and method match (or, failing that, the first
 * whose path matches), for the access log; NULL when none does. */
static const char *route_template(const char *method, const char *path)
{
    char params[4][128];
    const char *any = NULL;
    for (size_t t = 0; t < N_PUBLIC; t++)
        for (const struct og_route *rt = public_tables[t]; rt->method; rt++)
            if (match(rt->pattern, path, params)) {
                if (strcmp(rt->method, method) == 0)
                    return rt->pattern;
                any = any ? any : rt->pattern;
            }
    for (size_t t = 0; t < sizeof route_tables / sizeof *route_tables; t++)
        for (const struct og_route *rt = route_tables[t]; rt->method; rt++)
            if (match(rt->pattern, path, params)) {
                if (strcmp(rt->method, method) == 0)
                    return rt->pattern;
                any = any ? any : rt->pattern;
            }
    return any;
}

void og_api_handle(struct og_gateway *g, struct MHD_Connection *conn, const char *method,
                   const char *url, const char *body, size_t len, struct og_reply *r)
{
    r->route = route_template(method, url + strlen("/api/v1"));
    struct og_api_ctx ctx = {.g = g,
                             .conn = conn,
                             .method = method,
                             .path = url + strlen("/api/v1"),
                             .body = body,
                             .len = len,
                             .r = r};
    if (handle_public(&ctx))
        return;
    if (og_api_authenticate(&ctx, &ctx.who) != 0)
        return;
    int path_matched = 0;
    for (size_t t = 0; t < sizeof route_tables / sizeof *route_tables; t++) {
        for (const struct og_route *rt = route_tables[t]; rt->method; rt++) {
            if (!match(rt->pattern, ctx.path, ctx.params))
                continue;
            path_matched = 1;
            if (strcmp(rt->method, method) != 0)
                continue;
            if (ctx.who.role < rt->min_role)
                og_reply_err(r, OG_ERR_FORBIDDEN, "your role may not do this");
            else
                rt->fn(&ctx);
            og_principal_free(&ctx.who);
            return;
        }
    }
    og_principal_free(&ctx.who);
    if (path_matched)
        og_reply_code(r, "method_not_allowed", "this route does not take that method");
    else
        og_reply_err(r, OG_ERR_NOT_FOUND, "no such route");
}
