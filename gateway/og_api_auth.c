/* og_api_auth - sign-in for people (the rules are the core's: og_auth.h).
 *
 *   POST   /auth/login            anyone   {"email","password"} -> 200 {"agent":{...},
 *                                          "csrf_token":"..."} and the session cookie
 *                                          (og_session: HttpOnly, SameSite=Strict, Path=/,
 *                                          Secure when public_url is https); 401 for a
 *                                          wrong e-mail or password (one message for
 *                                          both), 429 with Retry-After
 *   POST   /auth/password         anyone   {"token","password"}: sets the password
 *                                          through a one-time link -> 200; 404 for an
 *                                          unknown, used or expired link; 429
 *   GET    /auth/me               agent    {"agent":{...}|null,"role","csrf_token"|null}
 *   POST   /auth/logout           agent    ends the cookie session (everywhere) and
 *                                          clears the cookie
 *   PUT    /agents/{id}/password  admin    {"password"}: sets it and ends the agent's
 *                                          cookie sessions -> {"agent","sessions_revoked"}
 *   POST   /agents/{id}/password-link admin {"purpose":"invite|reset"} -> 201 {"token",
 *                                          "url","expires_at"}: a one-time link (shown
 *                                          once, stored hashed) the agent opens to set
 *                                          a password; a new link replaces the last
 *   DELETE /agents/{id}/sessions  admin    ends every cookie session of the agent
 *
 * The public routes take only a JSON body (Content-Type application/json),
 * which a cross-site form cannot send. */
#include "og_agents.h"
#include "og_api.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The body as {key: string, ...} with exactly the keys named (NULL ends;
 * optional ones start with '?'), each at most max bytes. Values [borrowed
 * from *j]. 0, or -1 after answering 400. */
static int string_body(struct og_api_ctx *ctx, json_object **j, const char *const *keys,
                       const char **vals, size_t max)
{
    const char *ct = MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "Content-Type must be application/json");
        return -1;
    }
    if (!(*j = og_api_json_body(ctx)))
        return -1;
    char m[128];
    json_object_object_foreach(*j, k, val)
    {
        (void)val;
        size_t i = 0;
        while (keys[i] && strcmp(keys[i] + (keys[i][0] == '?'), k) != 0)
            i++;
        if (!keys[i]) {
            snprintf(m, sizeof m, "unknown field \"%.64s\"", k);
            goto bad;
        }
    }
    for (size_t i = 0; keys[i]; i++) {
        const char *name = keys[i] + (keys[i][0] == '?');
        json_object *jv;
        vals[i] = NULL;
        if (!json_object_object_get_ex(*j, name, &jv)) {
            if (keys[i][0] == '?')
                continue;
            snprintf(m, sizeof m, "%s: required", name);
            goto bad;
        }
        if (!json_object_is_type(jv, json_type_string) ||
            strlen(json_object_get_string(jv)) > max) {
            snprintf(m, sizeof m, "%s: must be a string of at most %zu bytes", name, max);
            goto bad;
        }
        vals[i] = json_object_get_string(jv);
    }
    return 0;
bad:
    og_reply_err(ctx->r, OG_ERR_INVALID, m);
    json_object_put(*j);
    *j = NULL;
    return -1;
}

static void too_many(struct og_api_ctx *ctx, int64_t wait_s, const char *what)
{
    char n[24], *m = og_sprintf("too many %s; try again in %lld seconds", what, (long long)wait_s);
    snprintf(n, sizeof n, "%lld", (long long)(wait_s > 0 ? wait_s : 1));
    og_reply_err(ctx->r, OG_ERR_RATE_LIMITED, m);
    og_reply_header(ctx->r, "Retry-After", n);
    free(m);
}

/* {"agent":<agent>,"csrf_token":...} [xfer] */
static char *me_json(const char *agent_json, const char *role, const char *csrf)
{
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"agent\":");
    og_buf_puts(&b, agent_json ? agent_json : "null");
    og_buf_printf(&b, ",\"role\":\"%s\",\"csrf_token\":", role);
    og_buf_json_str(&b, csrf && *csrf ? csrf : NULL);
    og_buf_puts(&b, "}");
    return b.data;
}

static void login(struct og_api_ctx *ctx)
{
    static const char *const keys[] = {"email", "password", NULL};
    const char *v[2];
    json_object *j = NULL;
    if (string_body(ctx, &j, keys, v, OG_AUTH_PASSWORD_MAX) != 0)
        return;
    char ip[64], *agent = NULL;
    og_api_client_ip(ctx, ip, sizeof ip);
    struct og_auth_signin si;
    int64_t wait = 0;
    og_err e = og_auth_login(ctx->g->core, v[0], v[1], ip, &si, &wait);
    json_object_put(j);
    if (e == OG_OK)
        e = og_agents_get(ctx->g->core, si.agent_id, &agent);
    if (e == OG_OK) {
        og_api_set_cookie(ctx, si.sid, si.max_age_s);
        og_reply_json(ctx->r, 200,
                      og_sprintf("{\"agent\":%s,\"csrf_token\":\"%s\"}", agent, si.csrf));
    } else if (e == OG_ERR_AUTH) {
        og_reply_err(ctx->r, OG_ERR_AUTH, "wrong e-mail or password");
    } else if (e == OG_ERR_RATE_LIMITED) {
        too_many(ctx, wait, "failed sign-ins");
    } else {
        og_reply_err(ctx->r, e, NULL);
    }
    free(agent);
    memset(&si, 0, sizeof si);
}

static void set_by_link(struct og_api_ctx *ctx)
{
    static const char *const keys[] = {"token", "password", NULL};
    const char *v[2];
    json_object *j = NULL;
    if (string_body(ctx, &j, keys, v, OG_AUTH_PASSWORD_MAX) != 0)
        return;
    char ip[64], msg[160];
    int64_t wait = 0;
    og_api_client_ip(ctx, ip, sizeof ip);
    og_err e = og_auth_link_use(ctx->g->core, v[0], v[1], ip, NULL, &wait, msg, sizeof msg);
    json_object_put(j);
    if (e == OG_OK)
        og_reply_json(ctx->r, 200, og_strdup("{\"password_set\":true}"));
    else if (e == OG_ERR_RATE_LIMITED)
        too_many(ctx, wait, "failed attempts");
    else
        og_reply_err(ctx->r, e, msg[0] ? msg : NULL);
}

static void me(struct og_api_ctx *ctx)
{
    static const char *const roles[] = {"agent", "manager", "admin"};
    char *agent = NULL;
    if (ctx->who.agent_id[0]) {
        og_err e = og_agents_get(ctx->g->core, ctx->who.agent_id, &agent);
        if (e != OG_OK) {
            og_reply_err(ctx->r, e, NULL);
            return;
        }
    }
    og_reply_json(ctx->r, 200, me_json(agent, roles[ctx->who.role], ctx->who.csrf));
    free(agent);
}

static void logout(struct og_api_ctx *ctx)
{
    int cookie = ctx->who.sid_sha[0] != 0;
    if (cookie) {
        og_err e = og_auth_logout(ctx->g->core, ctx->who.sid_sha);
        if (e != OG_OK) {
            og_reply_err(ctx->r, e, NULL);
            return;
        }
        og_api_set_cookie(ctx, "", 0);
    }
    og_reply_json(ctx->r, 200,
                  og_strdup(cookie ? "{\"signed_out\":true}"
                                   : "{\"signed_out\":false,\"reason\":\"a bearer token is not "
                                     "a session; revoke it with DELETE /agents/{id}/token\"}"));
}

static int valid_agent(struct og_api_ctx *ctx)
{
    if (og_id_valid(ctx->params[0], "agt_"))
        return 1;
    og_reply_err(ctx->r, OG_ERR_NOT_FOUND, "no such agent");
    return 0;
}

static void set_password(struct og_api_ctx *ctx)
{
    static const char *const keys[] = {"password", NULL};
    const char *v[1];
    json_object *j = NULL;
    if (!valid_agent(ctx) || string_body(ctx, &j, keys, v, OG_AUTH_PASSWORD_MAX) != 0)
        return;
    char msg[160], *agent = NULL;
    long revoked = 0;
    og_err e = og_auth_set_password(ctx->g->core, ctx->params[0], v[0], &revoked, msg, sizeof msg);
    json_object_put(j);
    if (e == OG_OK)
        e = og_agents_get(ctx->g->core, ctx->params[0], &agent);
    if (e == OG_OK)
        og_reply_json(ctx->r, 200,
                      og_sprintf("{\"agent\":%s,\"sessions_revoked\":%ld}", agent, revoked));
    else
        og_reply_err(ctx->r, e, msg[0] ? msg : NULL);
    free(agent);
}

static void password_link(struct og_api_ctx *ctx)
{
    static const char *const keys[] = {"?purpose", NULL};
    const char *v[1] = {NULL};
    json_object *j = NULL;
    if (!valid_agent(ctx))
        return;
    if (ctx->len && string_body(ctx, &j, keys, v, 16) != 0)
        return;
    /* a known word, so nothing points into j once it is freed */
    const char *purpose = !v[0] || !strcmp(v[0], "reset") ? "reset"
                          : !strcmp(v[0], "invite")       ? "invite"
                                                          : NULL;
    json_object_put(j);
    if (!purpose) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "purpose: must be invite or reset");
        return;
    }
    char tok[OG_AUTH_ID_LEN + 1], exp[32];
    og_err e = og_auth_link_new(ctx->g->core, ctx->params[0], purpose, tok, exp);
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such agent" : NULL);
        return;
    }
    /* the token rides in the fragment: browsers send it to no server and
     * no Referer carries it */
    const char *pub = ctx->g->cfg && ctx->g->cfg->public_url ? ctx->g->cfg->public_url : "";
    char *url = og_sprintf("%s/inbox/#set-password=%s", pub, tok);
    struct og_buf b = {0};
    og_buf_printf(&b, "{\"token\":\"%s\",\"url\":", tok);
    og_buf_json_str(&b, url);
    og_buf_printf(&b, ",\"purpose\":\"%s\",\"expires_at\":\"%s\"}", purpose, exp);
    free(url);
    og_reply_json(ctx->r, 201, b.data);
}

static void revoke_sessions(struct og_api_ctx *ctx)
{
    if (!valid_agent(ctx))
        return;
    long n = 0;
    og_err e = og_auth_revoke_all(ctx->g->core, ctx->params[0], &n);
    if (e != OG_OK)
        og_reply_err(ctx->r, e, NULL);
    else
        og_reply_json(ctx->r, 200, og_sprintf("{\"sessions_revoked\":%ld}", n));
}

const struct og_route og_api_public_routes[] = {
    {"POST", "/auth/login", OG_ROLE_AGENT, login},
    {"POST", "/auth/password", OG_ROLE_AGENT, set_by_link},
    {NULL, NULL, 0, NULL},
};

const struct og_route og_api_auth_routes[] = {
    {"GET", "/auth/me", OG_ROLE_AGENT, me},
    {"POST", "/auth/logout", OG_ROLE_AGENT, logout},
    {"PUT", "/agents/:id/password", OG_ROLE_ADMIN, set_password},
    {"POST", "/agents/:id/password-link", OG_ROLE_ADMIN, password_link},
    {"DELETE", "/agents/:id/sessions", OG_ROLE_ADMIN, revoke_sessions},
    {NULL, NULL, 0, NULL},
};
