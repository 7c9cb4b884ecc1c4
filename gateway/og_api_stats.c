/* og_api_stats - statistics through the API (core/og_stats.h).
 *
 *   GET /stats?from&to&tz&group_by&channel&agent_id&group&success_code   agent
 *       -> {"from","to","tz","group_by","total":{…},"buckets":[{"key",…}]}
 *       (docs/json.md). Managers and admins see everything; an agent only
 *       its own figures (agent_id absent or its own, else 403).
 *
 * from and to are local dates (inclusive) in tz (default UTC); a period of
 * more than 400 days, from after to, an unknown zone, group_by or query
 * parameter is 400. */
#include "og_api.h"
#include "og_stats.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const stats_args[] = {"from",     "to",    "tz",           "group_by", "channel",
                                         "agent_id", "group", "success_code", NULL};

struct arg_check {
    const char *const *known;
    char unknown[80];
};

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind, (void)value;
    struct arg_check *a = cls;
    for (const char *const *k = a->known; *k; k++)
        if (!strcmp(*k, key))
            return MHD_YES;
    if (!a->unknown[0])
        snprintf(a->unknown, sizeof a->unknown, "%s", key);
    return MHD_YES;
}

/* 0 when every query parameter is one of known; else answers 400. */
int og_api_stats_args_known(struct og_api_ctx *ctx, const char *const *known)
{
    struct arg_check a = {known, ""};
    MHD_get_connection_values(ctx->conn, MHD_GET_ARGUMENT_KIND, check_arg, &a);
    if (!a.unknown[0])
        return 0;
    char msg[160];
    snprintf(msg, sizeof msg, "unknown query parameter '%.80s'", a.unknown);
    og_reply_err(ctx->r, OG_ERR_INVALID, msg);
    return -1;
}

/* The query of the request's parameters; agent_id forced to the caller's
 * own for an agent (-1 after answering 403). channels [borrowed from
 * ctx->g] with n in *q. */
int og_api_stats_query(struct og_api_ctx *ctx, struct og_stats_query *q, const char ***channels)
{
    memset(q, 0, sizeof *q);
    q->from = og_api_arg(ctx, "from");
    q->to = og_api_arg(ctx, "to");
    q->tz = og_api_arg(ctx, "tz");
    q->group_by = og_api_arg(ctx, "group_by");
    q->channel = og_api_arg(ctx, "channel");
    q->agent_id = og_api_arg(ctx, "agent_id");
    q->group = og_api_arg(ctx, "group");
    q->success_code = og_api_arg(ctx, "success_code");
    if (ctx->who.role == OG_ROLE_AGENT) {
        if (q->agent_id && strcmp(q->agent_id, ctx->who.agent_id) != 0) {
            og_reply_err(ctx->r, OG_ERR_FORBIDDEN, "an agent may read only its own statistics");
            return -1;
        }
        q->agent_id = ctx->who.agent_id;
    }
    *channels = og_calloc(ctx->g->n_channels + 1, sizeof **channels);
    for (size_t i = 0; i < ctx->g->n_channels; i++)
        (*channels)[i] = ctx->g->channels[i]->id;
    q->channels = *channels;
    q->n_channels = ctx->g->n_channels;
    return 0;
}

static void get_stats(struct og_api_ctx *ctx)
{
    if (og_api_stats_args_known(ctx, stats_args) != 0)
        return;
    struct og_stats_query q;
    const char **channels = NULL;
    if (og_api_stats_query(ctx, &q, &channels) != 0)
        return;
    struct og_stats *s = NULL;
    char msg[200] = "";
    og_err e = og_stats_compute(ctx->g->core, &q, &s, msg, sizeof msg);
    free(channels);
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, *msg ? msg : NULL);
        return;
    }
    og_reply_json(ctx->r, 200, og_stats_json(s));
    og_stats_free(s);
}

const struct og_route og_api_stats_routes[] = {
    {"GET", "/stats", OG_ROLE_AGENT, get_stats},
    {NULL, NULL, 0, NULL},
};
