/* og_api_canned - /api/v1/canned: canned responses (core/og_canned.h).
 *
 *   GET    /canned                   agent  what the caller may use: ?q= (a shortcut's
 *                                           beginning, or a word of the title or text),
 *                                           ?scope=global|group:NAME|agent, ?limit=
 *   POST   /canned                   agent  {"shortcut":"#refund","title","text",
 *                                           "scope":"global|group:NAME|agent"} -> 201
 *   GET    /canned/{id}              agent  one
 *   PATCH  /canned/{id} (or PUT)     agent  any of the create fields
 *   DELETE /canned/{id}              agent  -> {"deleted":true}
 *   GET    /canned/{id}/render?session_id=ses_...  agent  {"id","session_id","text"}:
 *                                           the text with {{contact.name}},
 *                                           {{agent.name}}, {{session.id}}... filled in
 *
 * Who may do what is the core's rule (og_canned_may): everyone sees the
 * global responses, an agent its groups' and its own; managers and admins
 * change global and group responses (and see every group's), an agent
 * changes only its own ("scope":"agent", the default for an agent). A
 * response the caller may not see answers 404, one it may see but not
 * change 403. */
#include "og_api.h"
#include "og_canned.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

static void answer(struct og_api_ctx *ctx, struct og_routing_result *res, int status)
{
    if (res->err != OG_OK)
        og_reply_err(ctx->r, res->err, res->message[0] ? res->message : NULL);
    else if (!res->json)
        og_reply_json(ctx->r, 200, og_strdup("{\"deleted\":true}"));
    else {
        og_reply_json(ctx->r, status, res->json);
        res->json = NULL;
    }
    og_routing_result_free(res);
}

/* The request's fields; -1 when it has answered 400. */
static int read_fields(struct og_api_ctx *ctx, int create, struct og_canned_fields *f)
{
    json_object *j = og_api_json_body(ctx);
    if (!j)
        return -1;
    struct og_viewer v = og_principal_viewer(&ctx->who);
    char err[200];
    int rc = og_canned_fields_from_json(j, create, &v, f, err, sizeof err);
    json_object_put(j);
    if (rc != 0)
        og_reply_err(ctx->r, OG_ERR_INVALID, err);
    return rc;
}

static void search(struct og_api_ctx *ctx)
{
    int limit = og_api_limit(ctx);
    if (limit < 0)
        return;
    const char *q = og_api_arg(ctx, "q"), *scope = og_api_arg(ctx, "scope");
    if (q && strlen(q) > 200) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "q must be at most 200 characters");
        return;
    }
    struct og_viewer v = og_principal_viewer(&ctx->who);
    char *json = NULL;
    og_err e = og_canned_search(ctx->g->core, &v, q, scope, limit, &json);
    if (e == OG_ERR_INVALID)
        og_reply_err(ctx->r, e, "scope must be global, group:NAME or agent");
    else if (e == OG_ERR_FORBIDDEN)
        og_reply_err(ctx->r, e, "you are not a member of that group");
    else if (e != OG_OK)
        og_reply_err(ctx->r, e, NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

static void create(struct og_api_ctx *ctx)
{
    struct og_canned_fields f;
    if (read_fields(ctx, 1, &f) != 0)
        return;
    struct og_viewer v = og_principal_viewer(&ctx->who);
    struct og_routing_result res;
    og_canned_put(ctx->g->core, &v, NULL, &f, &res);
    og_canned_fields_free(&f);
    answer(ctx, &res, 201);
}

static void get_one(struct og_api_ctx *ctx)
{
    struct og_viewer v = og_principal_viewer(&ctx->who);
    char *json = NULL;
    og_err e = og_canned_get(ctx->g->core, &v, ctx->params[0], &json);
    if (e != OG_OK)
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such canned response" : NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

static void update(struct og_api_ctx *ctx)
{
    struct og_canned_fields f;
    if (read_fields(ctx, 0, &f) != 0)
        return;
    struct og_viewer v = og_principal_viewer(&ctx->who);
    struct og_routing_result res;
    og_canned_put(ctx->g->core, &v, ctx->params[0], &f, &res);
    og_canned_fields_free(&f);
    answer(ctx, &res, 200);
}

static void delete_one(struct og_api_ctx *ctx)
{
    struct og_viewer v = og_principal_viewer(&ctx->who);
    struct og_routing_result res;
    og_canned_delete(ctx->g->core, &v, ctx->params[0], &res);
    answer(ctx, &res, 200);
}

static void render(struct og_api_ctx *ctx)
{
    const char *sid = og_api_arg(ctx, "session_id");
    if (!sid || !*sid) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "session_id is required");
        return;
    }
    struct og_viewer v = og_principal_viewer(&ctx->who);
    char *json = NULL;
    og_err e = og_canned_render(ctx->g->core, &v, ctx->params[0], sid, &json);
    if (e != OG_OK)
        og_reply_err(ctx->r, e,
                     e == OG_ERR_NOT_FOUND ? "no such canned response or session" : NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

const struct og_route og_api_canned_routes[] = {
    {"GET", "/canned", OG_ROLE_AGENT, search},
    {"POST", "/canned", OG_ROLE_AGENT, create},
    {"GET", "/canned/:id", OG_ROLE_AGENT, get_one},
    {"PATCH", "/canned/:id", OG_ROLE_AGENT, update},
    {"PUT", "/canned/:id", OG_ROLE_AGENT, update},
    {"DELETE", "/canned/:id", OG_ROLE_AGENT, delete_one},
    {"GET", "/canned/:id/render", OG_ROLE_AGENT, render},
    {NULL, NULL, 0, NULL},
};
