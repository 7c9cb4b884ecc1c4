/* og_api_stats - statistics through the API (core/og_stats.h).
 *
 *   GET /stats?from&to&tz&group_by&channel&agent_id&group&success_code   agent
 *       -> {"from","to","tz","group_by","total":{…},"buckets":[{"key",…}]}
 *       (docs/json.md). Managers and admins see everything; an agent only
 *       its own figures (agent_id absent or its own, else 403).
 *
 * from and to are local dates (inclusive) in tz (default UTC); a period of
 * more than 400 days, from after to, an unknown zone, group_by or query
 * parameter is 400.
 *
 *   GET    /exports/{report}?from&to&tz&channel&agent_id&group&success_code  manager
 *          -> text/csv, streamed (og_export.h): agent_activity, agent_performance,
 *          agents, conversations, traffic; an unknown report is 404
 *   POST   /report-links {"report","filters":{…}}   manager  -> 201 {"id","url","token"}
 *          (the token is shown this once; only its SHA-256 is stored)
 *   GET    /report-links                            manager  -> {"items":[…]}
 *   DELETE /report-links/{id}                       manager  -> {"id","revoked":true}; it opens
 *          nothing from then on
 *   GET    /reports/{token}?from&to&tz              public (the token): that link's
 *          report with its filters as CSV; other parameters are 400, an unknown or
 *          revoked token 401, more than OG_REPORT_LINK_USES_PER_HOUR uses an hour
 *          429; every use is logged (og_reports_handle, dispatched by og_http.c) */
#include "og_api.h"
#include "og_edge.h"
#include "og_export.h"
#include "og_json.h"
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

/* ---------------------------------------------------------------- CSV */

struct csv_stream {
    struct og_export *x;
    struct og_buf buf;
    size_t off;
    int done;
};

static ssize_t csv_reader(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct csv_stream *s = cls;
    while (s->off >= s->buf.len) {
        if (s->done)
            return MHD_CONTENT_READER_END_OF_STREAM;
        s->buf.len = 0;
        s->off = 0;
        int more = og_export_next(s->x, &s->buf);
        if (more < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (more == 0)
            s->done = 1;
    }
    size_t n = s->buf.len - s->off < max ? s->buf.len - s->off : max;
    memcpy(out, s->buf.data + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void csv_free(void *cls)
{
    struct csv_stream *s = cls;
    og_export_free(s->x);
    og_buf_free(&s->buf);
    free(s);
}

/* Answers with the report as a streamed CSV (x [xfer]). */
static void csv_answer(struct og_reply *r, struct og_export *x, int report, const char *from,
                       const char *to)
{
    struct csv_stream *s = og_calloc(1, sizeof *s);
    s->x = x;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, csv_reader, s, csv_free);
    char disp[160];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s_%s_%s.csv\"", og_report_name(report),
             from, to);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/csv; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    r->status = 200;
    r->stream = resp;
}

static const char *const export_args[] = {"from",     "to",    "tz",           "channel",
                                          "agent_id", "group", "success_code", NULL};

static void get_export(struct og_api_ctx *ctx)
{
    int report = og_report_from_name(ctx->params[0]);
    if (report < 0) {
        og_reply_err(ctx->r, OG_ERR_NOT_FOUND,
                     "no such report (agent_activity, agent_performance, agents, conversations, "
                     "traffic)");
        return;
    }
    if (og_api_stats_args_known(ctx, export_args) != 0)
        return;
    struct og_stats_query q;
    const char **channels = NULL;
    if (og_api_stats_query(ctx, &q, &channels) != 0)
        return;
    struct og_export *x = NULL;
    char msg[200] = "";
    og_err e = og_export_open(ctx->g->core, report, &q, &x, msg, sizeof msg);
    free(channels);
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, *msg ? msg : NULL);
        return;
    }
    csv_answer(ctx->r, x, report, q.from, q.to);
}

/* ------------------------------------------------------- report links */

static void create_link(struct og_api_ctx *ctx)
{
    json_object *j = og_api_json_body(ctx);
    if (!j)
        return;
    json_object *rep = NULL, *filters = NULL;
    const char *bad = NULL;
    json_object_object_foreach(j, key, val)
    {
        if (!strcmp(key, "report"))
            rep = val;
        else if (!strcmp(key, "filters"))
            filters = val;
        else
            bad = key;
    }
    char msg[200] = "";
    if (bad || !json_object_is_type(rep, json_type_string) ||
        (filters && !json_object_is_type(filters, json_type_object))) {
        snprintf(msg, sizeof msg,
                 bad ? "unknown key: only report and filters"
                     : "report: a string; filters: an object");
        og_reply_err(ctx->r, OG_ERR_INVALID, msg);
        json_object_put(j);
        return;
    }
    struct og_viewer v = og_principal_viewer(&ctx->who);
    char id[48], token[65];
    og_err e = og_report_link_create(
        ctx->g->core, &v, json_object_get_string(rep),
        filters ? json_object_to_json_string_ext(filters, JSON_C_TO_STRING_PLAIN) : NULL, id, token,
        msg, sizeof msg);
    json_object_put(j);
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, *msg ? msg : NULL);
        return;
    }
    const char *pub = ctx->g->cfg ? ctx->g->cfg->public_url : NULL;
    size_t pl = pub ? strlen(pub) : 0;
    while (pl && pub[pl - 1] == '/')
        pl--;
    og_reply_json(ctx->r, 201,
                  og_sprintf("{\"id\":\"%s\",\"url\":\"%.*s/reports/%s\",\"token\":\"%s\"}", id,
                             (int)pl, pub ? pub : "", token, token));
}

static void list_links(struct og_api_ctx *ctx)
{
    char *json = NULL;
    og_err e = og_report_link_list(ctx->g->core, &json);
    if (e != OG_OK)
        og_reply_err(ctx->r, e, NULL);
    else
        og_reply_json(ctx->r, 200, json);
}

static void delete_link(struct og_api_ctx *ctx)
{
    og_err e = og_report_link_revoke(ctx->g->core, ctx->params[0]);
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such report link" : NULL);
        return;
    }
    og_reply_json(ctx->r, 200, og_sprintf("{\"id\":\"%s\",\"revoked\":true}", ctx->params[0]));
}

static const char *const link_args[] = {"from", "to", "tz", NULL};

static enum MHD_Result link_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind, (void)value;
    char *unknown = cls;
    for (const char *const *k = link_args; *k; k++)
        if (!strcmp(*k, key))
            return MHD_YES;
    if (!unknown[0])
        snprintf(unknown, 80, "%s", key);
    return MHD_YES;
}

void og_reports_handle(struct og_gateway *g, struct MHD_Connection *conn, const char *method,
                       const char *url, struct og_reply *r)
{
    if (strcmp(method, "GET") != 0) {
        og_reply_code(r, "method_not_allowed", "this route does not take that method");
        return;
    }
    const char *token = url + strlen("/reports/");
    char unknown[80] = "", msg[200] = "";
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, link_arg, unknown);
    if (unknown[0]) {
        snprintf(msg, sizeof msg,
                 "unknown query parameter '%.80s': a report link takes from, to and tz; its "
                 "report and filters are the link's",
                 unknown);
        og_reply_err(r, OG_ERR_INVALID, msg);
        return;
    }
    char addr[64];
    og_edge_client_text(conn, addr, sizeof addr);
    int report = -1;
    char *filters = NULL;
    og_err e = og_report_link_use(g->core, token, addr, &report, &filters);
    if (e == OG_ERR_NOT_FOUND) {
        og_reply_err(r, OG_ERR_AUTH, "unknown or revoked report link");
        return;
    }
    if (e == OG_ERR_RATE_LIMITED) {
        og_reply_err(r, e, "this report link was used too often this hour; retry later");
        og_reply_header(r, "Retry-After", "3600");
        return;
    }
    if (e != OG_OK) {
        og_reply_err(r, e, NULL);
        return;
    }
    json_object *f = json_tokener_parse(filters);
    free(filters);
    json_object *v;
    struct og_stats_query q = {0};
    q.from = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "from");
    q.to = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "to");
    q.tz = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "tz");
    q.channel = json_object_object_get_ex(f, "channel", &v) ? json_object_get_string(v) : NULL;
    q.agent_id = json_object_object_get_ex(f, "agent_id", &v) ? json_object_get_string(v) : NULL;
    q.group = json_object_object_get_ex(f, "group", &v) ? json_object_get_string(v) : NULL;
    q.success_code =
        json_object_object_get_ex(f, "success_code", &v) ? json_object_get_string(v) : NULL;
    struct og_export *x = NULL;
    e = og_export_open(g->core, report, &q, &x, msg, sizeof msg);
    if (e != OG_OK)
        og_reply_err(r, e, *msg ? msg : NULL);
    else
        csv_answer(r, x, report, q.from, q.to);
    json_object_put(f);
}

const struct og_route og_api_stats_routes[] = {
    {"GET", "/stats", OG_ROLE_AGENT, get_stats},
    {"GET", "/exports/:report", OG_ROLE_MANAGER, get_export},
    {"POST", "/report-links", OG_ROLE_MANAGER, create_link},
    {"GET", "/report-links", OG_ROLE_MANAGER, list_links},
    {"DELETE", "/report-links/:id", OG_ROLE_MANAGER, delete_link},
    {NULL, NULL, 0, NULL},
};
