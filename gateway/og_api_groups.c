/* og_api_groups - /api/v1/groups: agent groups (core/og_groups.h).
 *
 *   GET    /groups                         agent    every group, name order
 *   POST   /groups                         manager  {"name","members":["agt_..."]} -> 201
 *   GET    /groups/{name}                  agent    one
 *   PATCH  /groups/{name}                  manager  {"name": a new name (rename),
 *                                                   "members": [ids] (replace)}
 *   PUT    /groups/{name}/members/{agent}  manager  add one member
 *   DELETE /groups/{name}/members/{agent}  manager  remove one member
 *   DELETE /groups/{name}                  manager  when unused -> {"deleted":true};
 *                                                   409 says what still uses it
 *
 * A group is {"name","members":[{"id","name","presence"}],"routing":[the
 * config's policies naming it],"created_at"}. Routing resolves "group:NAME"
 * members through the same sets, so a change routes at once; the routing
 * worker is woken because new members may place waiting sessions. */
#include "og_api.h"
#include "og_groups.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

static void answer(struct og_api_ctx *ctx, struct og_routing_result *res, int status)
{
    if (res->err != OG_OK) {
        og_reply_err(ctx->r, res->err, res->message[0] ? res->message : NULL);
    } else {
        og_reply_json(ctx->r, status, res->json ? res->json : og_strdup("{\"deleted\":true}"));
        res->json = NULL;
        og_routing_kick(ctx->g);
    }
    og_routing_result_free(res);
}

/* "members": an array of strings into ids [xfer, free the array only]; -1
 * after answering 400. Strings are borrowed from j. */
static int member_ids(struct og_api_ctx *ctx, json_object *arr, const char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (!json_object_is_type(arr, json_type_array) || json_object_array_length(arr) > 1000) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "members must be an array of agent ids");
        return -1;
    }
    *ids = og_calloc(json_object_array_length(arr) + 1, sizeof **ids);
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(e, json_type_string)) {
            free(*ids);
            *ids = NULL;
            og_reply_err(ctx->r, OG_ERR_INVALID, "members must be an array of agent ids");
            return -1;
        }
        (*ids)[(*n)++] = json_object_get_string(e);
    }
    return 0;
}

/* The body's keys are among allowed; -1 after answering 400. */
static int only(struct og_api_ctx *ctx, json_object *j, const char *a, const char *b)
{
    json_object_object_foreach(j, key, val)
    {
        (void)val;
        if (strcmp(key, a) && strcmp(key, b)) {
            char *m = og_sprintf("unknown field \"%.64s\"", key);
            og_reply_err(ctx->r, OG_ERR_INVALID, m);
            free(m);
            return -1;
        }
    }
    return 0;
}

static void list(struct og_api_ctx *ctx)
{
    char *json = NULL;
    og_err e = og_groups_list(ctx->g->core, &json);
    if (e != OG_OK)
        og_reply_err(ctx->r, e, NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

static void get_one(struct og_api_ctx *ctx)
{
    char *json = NULL;
    og_err e = og_groups_get(ctx->g->core, ctx->params[0], &json);
    if (e != OG_OK)
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such group" : NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

static void create(struct og_api_ctx *ctx)
{
    json_object *j = og_api_json_body(ctx), *v;
    if (!j)
        return;
    const char **ids = NULL;
    size_t n = 0;
    if (only(ctx, j, "name", "members") != 0)
        goto out;
    if (json_object_object_get_ex(j, "members", &v) && member_ids(ctx, v, &ids, &n) != 0)
        goto out;
    if (!json_object_object_get_ex(j, "name", &v) || !json_object_is_type(v, json_type_string)) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "name is required (a string)");
        goto out;
    }
    struct og_routing_result res;
    og_groups_create(ctx->g->core, json_object_get_string(v), ids, n, &res);
    answer(ctx, &res, 201);
out:
    free(ids);
    json_object_put(j);
}

/* PATCH: a rename and/or a new member list, in one step. */
static void update(struct og_api_ctx *ctx)
{
    json_object *j = og_api_json_body(ctx), *nv = NULL, *mv = NULL;
    if (!j)
        return;
    const char **ids = NULL;
    size_t n = 0;
    if (only(ctx, j, "name", "members") != 0)
        goto out;
    json_object_object_get_ex(j, "name", &nv);
    if (json_object_object_get_ex(j, "members", &mv) && member_ids(ctx, mv, &ids, &n) != 0)
        goto out;
    if (nv && !json_object_is_type(nv, json_type_string)) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "name must be a string");
        goto out;
    }
    if (!nv && !mv) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "give name (a rename) or members");
        goto out;
    }
    struct og_routing_result res;
    og_groups_update(ctx->g->core, ctx->params[0], nv ? json_object_get_string(nv) : NULL, ids, n,
                     &res);
    answer(ctx, &res, 200);
out:
    free(ids);
    json_object_put(j);
}

static void member(struct og_api_ctx *ctx, enum og_group_change how)
{
    const char *id = ctx->params[1];
    struct og_routing_result res;
    og_groups_members(ctx->g->core, ctx->params[0], how, &id, 1, &res);
    answer(ctx, &res, 200);
}

static void add_member(struct og_api_ctx *ctx)
{
    member(ctx, OG_GROUP_ADD);
}
static void remove_member(struct og_api_ctx *ctx)
{
    member(ctx, OG_GROUP_REMOVE);
}

static void delete_one(struct og_api_ctx *ctx)
{
    struct og_routing_result res;
    og_groups_delete(ctx->g->core, ctx->params[0], &res);
    answer(ctx, &res, 200);
}

const struct og_route og_api_group_routes[] = {
    {"GET", "/groups", OG_ROLE_AGENT, list},
    {"POST", "/groups", OG_ROLE_MANAGER, create},
    {"GET", "/groups/:name", OG_ROLE_AGENT, get_one},
    {"PATCH", "/groups/:name", OG_ROLE_MANAGER, update},
    {"DELETE", "/groups/:name", OG_ROLE_MANAGER, delete_one},
    {"PUT", "/groups/:name/members/:agent", OG_ROLE_MANAGER, add_member},
    {"DELETE", "/groups/:name/members/:agent", OG_ROLE_MANAGER, remove_member},
    {NULL, NULL, 0, NULL},
};
