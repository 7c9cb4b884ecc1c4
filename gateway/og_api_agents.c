/* og_api_agents - /api/v1/agents: the agent store and presence.
 *
 *   POST   /agents                 admin    create; 201 {"agent":{...},"token":"ogt_..."}
 *   GET    /agents                 manager  list; ?deleted=true adds the deleted agents
 *   GET    /agents/me              agent    the caller
 *   GET    /agents/{id}            agent    an agent (role agent: only itself)
 *   PATCH  /agents/{id} (or PUT)   admin    update any of the create fields
 *   DELETE /agents/{id}            admin    delete (409 while it has open sessions): out of
 *                                           routing, groups and sign-in at once; the record
 *                                           stays, "deleted":true, so its name stays in
 *                                           timelines and GET /agents/{id} still finds it
 *   POST   /agents/{id}/token      admin    rotate: a new token, the old one stops working
 *   DELETE /agents/{id}/token      admin    revoke
 *   PUT    /agents/{id}/presence   agent    {"status":"online|away|offline"} (role agent:
 *                                           only itself); offline returns its open
 *                                           sessions to the queue when
 *                                           sessions.offline_returns_sessions
 *
 * A token is shown once, in the answer that created it; Redis keeps only its
 * SHA-256. */
#include "og_agents.h"
#include "og_api.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct og_core *routing(struct og_api_ctx *ctx)
{
    return ctx->g->core;
}

static int valid_agent(struct og_api_ctx *ctx)
{
    if (og_id_valid(ctx->params[0], "agt_"))
        return 1;
    og_reply_err(ctx->r, OG_ERR_NOT_FOUND, "no such agent");
    return 0;
}

/* {"agent":<json>,"token":"..."} [xfer] */
static char *with_token(const char *agent_json, const char *tok)
{
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"agent\":");
    og_buf_puts(&b, agent_json);
    og_buf_puts(&b, ",\"token\":");
    og_buf_json_str(&b, tok);
    og_buf_puts(&b, "}");
    return b.data;
}

/* The agent fields of the request body; -1 when it has answered 400. */
static int read_fields(struct og_api_ctx *ctx, int create, struct og_agent_fields *f)
{
    json_object *j = og_api_json_body(ctx);
    if (!j)
        return -1;
    char err[160];
    int rc = og_agents_fields_from_json(j, create, f, err, sizeof err);
    json_object_put(j);
    if (rc != 0)
        og_reply_err(ctx->r, OG_ERR_INVALID, err);
    return rc != 0 ? -1 : 0;
}

static void create(struct og_api_ctx *ctx)
{
    struct og_core *rt = routing(ctx);
    if (!rt)
        return;
    struct og_agent_fields f;
    if (read_fields(ctx, 1, &f) != 0)
        return;
    char id[48], tok[64], sha[65];
    og_id_new("agt_", og_now_ms(), id, sizeof id);
    og_agents_token_new(tok, sha);
    struct og_routing_result res;
    og_agents_put(rt, "create", id, sha, &f, &res);
    og_agent_fields_free(&f);
    if (res.err != OG_OK || !res.json)
        og_reply_err(ctx->r, res.err ? res.err : OG_ERR_INTERNAL,
                     res.message[0] ? res.message : NULL);
    else
        og_reply_json(ctx->r, 201, with_token(res.json, tok));
    og_routing_result_free(&res);
}

static void list(struct og_api_ctx *ctx)
{
    struct og_core *rt = routing(ctx);
    char *json = NULL;
    const char *del = og_api_arg(ctx, "deleted");
    if (del && strcmp(del, "true") && strcmp(del, "false")) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "deleted must be true or false");
        return;
    }
    og_err e = rt ? og_agents_list_with_deleted(rt, del && !strcmp(del, "true"), &json) : OG_OK;
    if (!rt)
        return;
    if (e != OG_OK)
        og_reply_err(ctx->r, e, NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

static void get_one(struct og_api_ctx *ctx, const char *id)
{
    struct og_core *rt = routing(ctx);
    if (!rt)
        return;
    char *json = NULL;
    og_err e = og_agents_get(rt, id, &json);
    if (e != OG_OK)
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such agent" : NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

static void get_me(struct og_api_ctx *ctx)
{
    if (!ctx->who.agent_id[0]) {
        og_reply_err(ctx->r, OG_ERR_NOT_FOUND, "the admin token is not an agent");
        return;
    }
    get_one(ctx, ctx->who.agent_id);
}

static void get_agent(struct og_api_ctx *ctx)
{
    if (!valid_agent(ctx))
        return;
    if (ctx->who.role < OG_ROLE_MANAGER && strcmp(ctx->params[0], ctx->who.agent_id) != 0) {
        og_reply_err(ctx->r, OG_ERR_FORBIDDEN, "an agent may read only itself");
        return;
    }
    get_one(ctx, ctx->params[0]);
}

static void update(struct og_api_ctx *ctx)
{
    struct og_core *rt = routing(ctx);
    if (!rt || !valid_agent(ctx))
        return;
    struct og_agent_fields f;
    if (read_fields(ctx, 0, &f) != 0)
        return;
    struct og_routing_result res;
    og_agents_put(rt, "update", ctx->params[0], NULL, &f, &res);
    og_agent_fields_free(&f);
    if (res.err != OG_OK || !res.json)
        og_reply_err(ctx->r, res.err ? res.err : OG_ERR_INTERNAL,
                     res.message[0] ? res.message : NULL);
    else {
        og_reply_json(ctx->r, 200, res.json);
        res.json = NULL;
        og_routing_kick(ctx->g); /* more capacity or new groups may place a session */
    }
    og_routing_result_free(&res);
}

static void delete_agent(struct og_api_ctx *ctx)
{
    struct og_core *rt = routing(ctx);
    if (!rt || !valid_agent(ctx))
        return;
    struct og_routing_result res;
    og_agents_delete(rt, ctx->params[0], &res);
    if (res.err != OG_OK)
        og_reply_err(ctx->r, res.err, res.message[0] ? res.message : NULL);
    else
        og_reply_json(ctx->r, 200, og_strdup("{\"deleted\":true}"));
    og_routing_result_free(&res);
}

static void rotate_token(struct og_api_ctx *ctx)
{
    struct og_core *rt = routing(ctx);
    if (!rt || !valid_agent(ctx))
        return;
    char tok[64], sha[65];
    og_agents_token_new(tok, sha);
    struct og_routing_result res;
    og_agents_set_token(rt, ctx->params[0], sha, &res);
    if (res.err != OG_OK || !res.json)
        og_reply_err(ctx->r, res.err ? res.err : OG_ERR_INTERNAL,
                     res.message[0] ? res.message : NULL);
    else
        og_reply_json(ctx->r, 200, with_token(res.json, tok));
    og_routing_result_free(&res);
}

static void revoke_token(struct og_api_ctx *ctx)
{
    struct og_core *rt = routing(ctx);
    if (!rt || !valid_agent(ctx))
        return;
    struct og_routing_result res;
    og_agents_set_token(rt, ctx->params[0], "", &res);
    if (res.err != OG_OK || !res.json)
        og_reply_err(ctx->r, res.err ? res.err : OG_ERR_INTERNAL,
                     res.message[0] ? res.message : NULL);
    else {
        og_reply_json(ctx->r, 200, res.json);
        res.json = NULL;
    }
    og_routing_result_free(&res);
}

static void presence(struct og_api_ctx *ctx)
{
    struct og_core *rt = routing(ctx);
    if (!rt || !valid_agent(ctx))
        return;
    if (ctx->who.role < OG_ROLE_MANAGER && strcmp(ctx->params[0], ctx->who.agent_id) != 0) {
        og_reply_err(ctx->r, OG_ERR_FORBIDDEN, "an agent may set only its own presence");
        return;
    }
    json_object *j = og_api_json_body(ctx), *v;
    if (!j)
        return;
    const char *st =
        json_object_object_get_ex(j, "status", &v) && json_object_is_type(v, json_type_string)
            ? json_object_get_string(v)
            : "";
    if (json_object_object_length(j) != 1 ||
        (strcmp(st, "online") && strcmp(st, "away") && strcmp(st, "offline"))) {
        og_reply_err(ctx->r, OG_ERR_INVALID,
                     "the body must be {\"status\":\"online|away|offline\"}");
        json_object_put(j);
        return;
    }
    struct og_routing_result res;
    og_routing_presence(rt, ctx->params[0], st, &res);
    json_object_put(j);
    if (res.err != OG_OK || !res.json)
        og_reply_err(ctx->r, res.err ? res.err : OG_ERR_INTERNAL,
                     res.message[0] ? res.message : NULL);
    else {
        og_reply_json(ctx->r, 200, res.json);
        res.json = NULL;
        og_routing_kick(ctx->g);
    }
    og_routing_result_free(&res);
}

const struct og_route og_api_agent_routes[] = {
    {"POST", "/agents", OG_ROLE_ADMIN, create},
    {"GET", "/agents", OG_ROLE_MANAGER, list},
    {"GET", "/agents/me", OG_ROLE_AGENT, get_me},
    {"GET", "/agents/:id", OG_ROLE_AGENT, get_agent},
    {"PATCH", "/agents/:id", OG_ROLE_ADMIN, update},
    {"PUT", "/agents/:id", OG_ROLE_ADMIN, update},
    {"DELETE", "/agents/:id", OG_ROLE_ADMIN, delete_agent},
    {"POST", "/agents/:id/token", OG_ROLE_ADMIN, rotate_token},
    {"DELETE", "/agents/:id/token", OG_ROLE_ADMIN, revoke_token},
    {"PUT", "/agents/:id/presence", OG_ROLE_AGENT, presence},
    {NULL, NULL, 0, NULL},
};
