/* og_api_goals - chat goals through the API (core/og_goals.h).
 *
 *   GET  /channels/{id}/goal    agent    {"channel","goal":{"event","window_days"}|null,
 *                                        "source":"config"|"api"|null,"updated_at"}
 *   PUT  /channels/{id}/goal    manager  {"event","window_days"} sets the goal, null
 *                                        removes it; sessions measured from then on use
 *                                        it (409 when the config file sets this one)
 *   POST /contacts/{id}/events  manager  {"name":"order_placed"}: the business (its
 *                                        shop's webhook, with a manager's or the admin
 *                                        token) reports a contact event; every open goal
 *                                        window it achieves is -> {"contact_id","name",
 *                                        "at","achieved":["ses_…"]}
 *
 * An unknown channel or contact is 404; a body with an unknown key, a wrong
 * type, a bad name (1-64 of A-Z a-z 0-9 _ - .) or a window other than 1, 3,
 * 7, 15 or 30 days is 400 and changes nothing. */
#include "og_api.h"
#include "og_goals.h"
#include "og_json.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

static int channel_known(struct og_api_ctx *ctx)
{
    for (size_t i = 0; i < ctx->g->n_channels; i++)
        if (strcmp(ctx->g->channels[i]->id, ctx->params[0]) == 0)
            return 1;
    og_reply_err(ctx->r, OG_ERR_NOT_FOUND, "no such channel");
    return 0;
}

static void answer(struct og_api_ctx *ctx, og_err e, char *json, const char *msg)
{
    if (e != OG_OK)
        og_reply_err(ctx->r, e, msg && *msg ? msg : NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

static void get_goal(struct og_api_ctx *ctx)
{
    if (!channel_known(ctx))
        return;
    char *json = NULL;
    og_err e = og_goal_get(ctx->g->core, ctx->params[0], &json);
    answer(ctx, e, json, NULL);
}

/* The body {"event","window_days"} into *event [borrowed from j] and
 * *days; -1 after answering 400. */
static int goal_body(struct og_api_ctx *ctx, json_object *j, const char **event, int64_t *days)
{
    json_object *ev = NULL, *wd = NULL;
    json_object_object_foreach(j, key, val)
    {
        if (!strcmp(key, "event"))
            ev = val;
        else if (!strcmp(key, "window_days"))
            wd = val;
        else {
            char *m = og_sprintf("unknown field \"%.64s\"", key);
            og_reply_err(ctx->r, OG_ERR_INVALID, m);
            free(m);
            return -1;
        }
    }
    if (!json_object_is_type(ev, json_type_string)) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "event: required, a string (or send null)");
        return -1;
    }
    if (!json_object_is_type(wd, json_type_int)) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "window_days: required, 1, 3, 7, 15 or 30");
        return -1;
    }
    *event = json_object_get_string(ev);
    *days = json_object_get_int64(wd);
    return 0;
}

/* 1 when the body is the JSON literal null (with white space around it):
 * the strict parser takes only objects, arrays and scalars it can return. */
static int json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
static int body_is_null(const char *b, size_t n)
{
    size_t i = 0, e = n;
    while (i < e && json_space(b[i]))
        i++;
    while (e > i && json_space(b[e - 1]))
        e--;
    return e - i == 4 && memcmp(b + i, "null", 4) == 0;
}

static void put_goal(struct og_api_ctx *ctx)
{
    if (!channel_known(ctx))
        return;
    json_object *j = NULL;
    if (!body_is_null(ctx->body, ctx->len)) {
        j = og_json_parse_strict(ctx->body, ctx->len, OG_JSON_UTF8, NULL);
        if (!json_object_is_type(j, json_type_object)) {
            json_object_put(j);
            og_reply_code(ctx->r, "invalid_json", "the body must be a JSON object or null");
            return;
        }
    }
    const char *event = NULL;
    int64_t days = 0;
    if (j && goal_body(ctx, j, &event, &days) != 0) {
        json_object_put(j);
        return;
    }
    struct og_viewer v = og_principal_viewer(&ctx->who);
    char *json = NULL, msg[160] = "";
    og_err e = og_goal_put(ctx->g->core, &v, ctx->params[0], event, days, &json, msg, sizeof msg);
    json_object_put(j);
    answer(ctx, e, json, msg);
}

static void post_event(struct og_api_ctx *ctx)
{
    json_object *j = og_api_json_body(ctx);
    if (!j)
        return;
    json_object *name = NULL;
    json_object_object_foreach(j, key, val)
    {
        if (strcmp(key, "name") != 0) {
            char *m = og_sprintf("unknown field \"%.64s\"", key);
            og_reply_err(ctx->r, OG_ERR_INVALID, m);
            free(m);
            json_object_put(j);
            return;
        }
        name = val;
    }
    const char *s =
        json_object_is_type(name, json_type_string) ? json_object_get_string(name) : NULL;
    if (!og_goal_event_valid(s)) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "name: required, 1-64 of A-Z a-z 0-9 _ - .");
        json_object_put(j);
        return;
    }
    struct og_viewer v = og_principal_viewer(&ctx->who);
    char *json = NULL;
    og_err e = og_contact_event(ctx->g->core, &v, ctx->params[0], s, &json);
    json_object_put(j);
    answer(ctx, e, json, e == OG_ERR_NOT_FOUND ? "no such contact" : NULL);
}

const struct og_route og_api_goal_routes[] = {
    {"GET", "/channels/:id/goal", OG_ROLE_AGENT, get_goal},
    {"PUT", "/channels/:id/goal", OG_ROLE_MANAGER, put_goal},
    {"POST", "/contacts/:id/events", OG_ROLE_MANAGER, post_event},
    {NULL, NULL, 0, NULL},
};
