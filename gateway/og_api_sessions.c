/* og_api_sessions - sessions and their messages: list, read. */
#include "og_api.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

static int valid_status(const char *s)
{
    static const char *const st[] = {"new", "active", "awaiting", "closed", "transferred",
                                      "archived"};
    for (size_t i = 0; i < sizeof st / sizeof *st; i++)
        if (strcmp(s, st[i]) == 0)
            return 1;
    return 0;
}

static void list_sessions(struct og_api_ctx *ctx)
{
    const char *status = og_api_arg(ctx, "status");
    const char *channel = og_api_arg(ctx, "channel");
    const char *cursor = og_api_arg(ctx, "cursor");
    int limit = og_api_limit(ctx);
    if (limit < 0)
        return;
    if (status && *status && !valid_status(status)) {
        og_reply_error(ctx->r, 400, "invalid_request",
                       "status must be one of new, active, awaiting, closed, transferred, "
                       "archived");
        return;
    }
    if (cursor && *cursor && !og_api_valid_id(cursor, "ses_")) {
        og_reply_error(ctx->r, 400, "invalid_request", "malformed cursor");
        return;
    }
    char *json = NULL;
    og_err e = og_core_list_sessions(ctx->g->core, status, channel, cursor, limit, &json);
    if (e != OG_OK)
        og_api_reply_err(ctx, e, NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

static void get_session(struct og_api_ctx *ctx)
{
    char *json = NULL;
    og_err e = og_api_valid_id(ctx->params[0], "ses_")
                   ? og_core_session_json(ctx->g->core, ctx->params[0], &json)
                   : OG_ERR_NOT_FOUND;
    if (e != OG_OK)
        og_api_reply_err(ctx, e, e == OG_ERR_NOT_FOUND ? "no such session" : NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

static void list_messages(struct og_api_ctx *ctx)
{
    const char *cursor = og_api_arg(ctx, "cursor");
    int limit = og_api_limit(ctx);
    if (limit < 0)
        return;
    if (cursor && *cursor && !og_api_valid_id(cursor, "msg_")) {
        og_reply_error(ctx->r, 400, "invalid_request", "malformed cursor");
        return;
    }
    char *json = NULL;
    og_err e = og_api_valid_id(ctx->params[0], "ses_")
                   ? og_core_list_messages(ctx->g->core, ctx->params[0], cursor, limit, &json)
                   : OG_ERR_NOT_FOUND;
    if (e != OG_OK)
        og_api_reply_err(ctx, e, e == OG_ERR_NOT_FOUND ? "no such session" : NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

const struct og_route og_api_session_routes[] = {
    {"GET", "/sessions", OG_ROLE_AGENT, list_sessions},
    {"GET", "/sessions/:id", OG_ROLE_AGENT, get_session},
    {"GET", "/sessions/:id/messages", OG_ROLE_AGENT, list_messages},
    {NULL, NULL, 0, NULL},
};
