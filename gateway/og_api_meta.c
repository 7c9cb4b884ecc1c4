/* og_api_meta - GET /api/v1/meta (any signed-in role): what a client such as
 * the inbox page needs to offer the right choices, read from the running
 * configuration and the agent store, nothing stored here:
 *
 *   {"channels":[{"id","connector","start_outbound","non_realtime",
 *                 "attachments_by_url","messaging_window_ms","templates",
 *                 "tag_window_ms","buttons":{"max","title_max","id_max"}|null}],
 *    "close":{"reasons":["solved","no_response","transferred","other"],
 *             "success_codes":[...] (empty: any code),
 *             "allow_multiple_codes":bool,"require_success_code":bool},
 *    "statuses":["new","active","awaiting","closed","transferred","archived"],
 *    "agents":[{"id","name","presence","groups","chats"}],   colleagues, for transfers
 *    "groups":["support",...]}                                every group an agent has
 *
 * "agents" carries no e-mail, limits or token state: those stay with
 * GET /agents (managers). */
#include "og_agents.h"
#include "og_api.h"
#include "og_config_routing.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

static void channels(struct og_api_ctx *ctx, json_object *out)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < ctx->g->n_channels; i++) {
        const struct og_channel *ch = ctx->g->channels[i];
        const struct og_connector *d = ch->plugin->desc;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(ch->id));
        json_object_object_add(o, "connector", json_object_new_string(d->name));
        json_object_object_add(o, "start_outbound",
                               json_object_new_boolean(!!(d->caps & OG_CAP_START_OUTBOUND)));
        json_object_object_add(o, "non_realtime",
                               json_object_new_boolean(!!(d->caps & OG_CAP_NON_REALTIME)));
        json_object_object_add(o, "attachments_by_url",
                               json_object_new_boolean(!!(d->caps & OG_CAP_ATTACH_URL)));
        json_object_object_add(o, "messaging_window_ms",
                               json_object_new_int64(d->messaging_window_ms));
        /* ABI 1.3: what a reply may carry here besides text */
        json_object_object_add(o, "templates", json_object_new_boolean(d->templates != NULL));
        json_object_object_add(o, "tag_window_ms", json_object_new_int64(d->tag_window_ms));
        json_object *b = NULL;
        if (d->max_buttons) {
            b = json_object_new_object();
            json_object_object_add(b, "max", json_object_new_int64(d->max_buttons));
            json_object_object_add(b, "title_max", json_object_new_int64(d->button_title_max));
            json_object_object_add(b, "id_max", json_object_new_int64(d->button_id_max));
        }
        json_object_object_add(o, "buttons", b);
        json_object_array_add(arr, o);
    }
    json_object_object_add(out, "channels", arr);
}

static json_object *strings(const char *const *s, size_t n)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, json_object_new_string(s[i]));
    return arr;
}

static void close_rules(struct og_api_ctx *ctx, json_object *out)
{
    static const char *const reasons[] = {"solved", "no_response", "transferred", "other"};
    static const char *const statuses[] = {"new",    "active",      "awaiting",
                                           "closed", "transferred", "archived"};
    const struct og_config_routing *r = ctx->g->cfg->routing;
    json_object *c = json_object_new_object();
    json_object_object_add(c, "reasons", strings(reasons, 4));
    json_object_object_add(
        c, "success_codes",
        strings((const char *const *)(r ? r->success_codes : NULL), r ? r->n_success_codes : 0));
    json_object_object_add(c, "allow_multiple_codes",
                           json_object_new_boolean(r ? r->allow_multiple_codes : 1));
    json_object_object_add(c, "require_success_code",
                           json_object_new_boolean(r ? r->require_success_code : 0));
    json_object_object_add(out, "close", c);
    json_object_object_add(out, "statuses", strings(statuses, 6));
}

/* The colleagues' directory and the groups they make up. */
static og_err directory(struct og_api_ctx *ctx, json_object *out)
{
    char *list = NULL;
    og_err e = og_agents_list(ctx->g->core, &list);
    if (e != OG_OK)
        return e;
    json_object *j = json_tokener_parse(list), *items = NULL;
    free(list);
    json_object *agents = json_object_new_array(), *groups = json_object_new_array();
    json_object *seen = json_object_new_object();
    static const char *const keep[] = {"id", "name", "presence", "groups", "chats", NULL};
    if (json_object_object_get_ex(j, "items", &items))
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            json_object *a = json_object_array_get_idx(items, i), *o = json_object_new_object(), *v;
            for (size_t k = 0; keep[k]; k++)
                if (json_object_object_get_ex(a, keep[k], &v))
                    json_object_object_add(o, keep[k], json_object_get(v));
            if (json_object_object_get_ex(a, "groups", &v))
                for (size_t g = 0; g < json_object_array_length(v); g++) {
                    const char *name = json_object_get_string(json_object_array_get_idx(v, g));
                    if (!json_object_object_get_ex(seen, name, NULL)) {
                        json_object_object_add(seen, name, NULL);
                        json_object_array_add(groups, json_object_new_string(name));
                    }
                }
            json_object_array_add(agents, o);
        }
    json_object_put(j);
    json_object_put(seen);
    json_object_object_add(out, "agents", agents);
    json_object_object_add(out, "groups", groups);
    return OG_OK;
}

static void meta(struct og_api_ctx *ctx)
{
    json_object *out = json_object_new_object();
    channels(ctx, out);
    close_rules(ctx, out);
    og_err e = directory(ctx, out);
    if (e != OG_OK)
        og_reply_err(ctx->r, e, NULL);
    else
        og_reply_json(ctx->r, 200,
                      og_strdup(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN)));
    json_object_put(out);
}

const struct og_route og_api_meta_routes[] = {
    {"GET", "/meta", OG_ROLE_AGENT, meta},
    {NULL, NULL, 0, NULL},
};
