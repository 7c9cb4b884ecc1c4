/* og_api_flagged - GET /api/v1/flagged (managers and admins): the monitor
 * of messages with sensitive words (the config's "sensitive_words", matched
 * by core/og_sensitive.h), newest first:
 *
 *   {"items":[{"message":{... "flags":["sensitive"],"sensitive_terms":[...]},
 *              "session":{...}}],"next_cursor":"msg_..."|null}
 *
 * Filters: direction=in (customers' messages) | out (agents'), channel;
 * limit and cursor as every list. Each flagged message is also emitted as
 * message.flagged, for a live monitor or a webhook. */
#include "og_api.h"
#include "og_sessions.h"
#include "og_util.h"

#include <string.h>

static void flagged(struct og_api_ctx *ctx)
{
    const char *dir = og_api_arg(ctx, "direction"), *chan = og_api_arg(ctx, "channel");
    const char *cursor = og_api_arg(ctx, "cursor");
    int limit = og_api_limit(ctx);
    if (limit < 0)
        return;
    if (dir && *dir && strcmp(dir, "in") && strcmp(dir, "out")) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "direction must be in or out");
        return;
    }
    if (cursor && *cursor && !og_id_valid(cursor, "msg_")) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "malformed cursor");
        return;
    }
    if (chan && strlen(chan) > 64) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "channel must be a channel id");
        return;
    }
    struct og_viewer v = og_principal_viewer(&ctx->who);
    char *json = NULL;
    og_err e = og_sessions_flagged(ctx->g->core, &v, dir, chan, cursor, limit, &json);
    if (e != OG_OK)
        og_reply_err(ctx->r, e, NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

const struct og_route og_api_flagged_routes[] = {
    {"GET", "/flagged", OG_ROLE_MANAGER, flagged},
    {NULL, NULL, 0, NULL},
};
