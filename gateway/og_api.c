/* og_api - /api/v1: bearer-token auth and the read API.
 *
 * Tokens are compared as SHA-256 digests with a constant-time compare, so
 * neither the contents nor the length of the configured token leak through
 * timing. Later issues add agents' tokens and roles; the admin token from
 * the config sees everything. */
#include "og_gateway.h"
#include "og_log.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int authorized(struct og_gateway *g, struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    unsigned char d[32];
    og_sha256(tok, strlen(tok), d);
    return og_ct_equal(d, sizeof d, g->admin_token_sha, sizeof d);
}

static void reply_err(struct og_reply *r, og_err e)
{
    int st = og_err_http_status(e);
    og_reply_error(r, st, st == 503 ? "unavailable" : st == 404 ? "not_found" : "internal_error",
                   og_strerror(e));
}

/* limit: 1..200, default 50; -1 when malformed. */
static int parse_limit(struct MHD_Connection *conn)
{
    const char *s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
    if (!s)
        return 50;
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end || v < 1 || v > 200)
        return -1;
    return (int)v;
}

static int valid_id(const char *s, const char *prefix)
{
    size_t pl = strlen(prefix), n = strlen(s);
    if (n != pl + OG_ID_LEN || strncmp(s, prefix, pl) != 0)
        return 0;
    for (size_t i = pl; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
            return 0;
    return 1;
}

static int valid_status(const char *s)
{
    static const char *const st[] = {"new", "active", "awaiting", "closed", "transferred",
                                      "archived"};
    for (size_t i = 0; i < sizeof st / sizeof *st; i++)
        if (strcmp(s, st[i]) == 0)
            return 1;
    return 0;
}

static void list_sessions(struct og_gateway *g, struct MHD_Connection *conn, struct og_reply *r)
{
    const char *status = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "status");
    const char *channel = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "channel");
    const char *cursor = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "cursor");
    int limit = parse_limit(conn);
    if (limit < 0) {
        og_reply_error(r, 400, "invalid_request", "limit must be an integer from 1 to 200");
        return;
    }
    if (status && *status && !valid_status(status)) {
        og_reply_error(r, 400, "invalid_request",
                       "status must be one of new, active, awaiting, closed, transferred, "
                       "archived");
        return;
    }
    if (cursor && *cursor && !valid_id(cursor, "ses_")) {
        og_reply_error(r, 400, "invalid_request", "malformed cursor");
        return;
    }
    char *json = NULL;
    og_err e = og_core_list_sessions(g->core, status, channel, cursor, limit, &json);
    if (e != OG_OK)
        reply_err(r, e);
    else
        og_reply_json(r, 200, json);
}

static void session_routes(struct og_gateway *g, struct MHD_Connection *conn, const char *rest,
                           struct og_reply *r)
{
    char id[64];
    size_t n = strcspn(rest, "/");
    if (n == 0 || n >= sizeof id) {
        og_reply_error(r, 404, "not_found", "no such session");
        return;
    }
    memcpy(id, rest, n);
    id[n] = 0;
    const char *sub = rest + n;
    if (!valid_id(id, "ses_")) {
        og_reply_error(r, 404, "not_found", "no such session");
        return;
    }
    char *json = NULL;
    og_err e;
    if (*sub == 0) {
        e = og_core_session_json(g->core, id, &json);
    } else if (strcmp(sub, "/messages") == 0) {
        const char *cursor = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "cursor");
        int limit = parse_limit(conn);
        if (limit < 0) {
            og_reply_error(r, 400, "invalid_request", "limit must be an integer from 1 to 200");
            return;
        }
        if (cursor && *cursor && !valid_id(cursor, "msg_")) {
            og_reply_error(r, 400, "invalid_request", "malformed cursor");
            return;
        }
        e = og_core_list_messages(g->core, id, cursor, limit, &json);
    } else {
        og_reply_error(r, 404, "not_found", "no such route");
        return;
    }
    if (e == OG_ERR_NOT_FOUND)
        og_reply_error(r, 404, "not_found", "no such session");
    else if (e != OG_OK)
        reply_err(r, e);
    else
        og_reply_json(r, 200, json);
}

void og_api_handle(struct og_gateway *g, struct MHD_Connection *conn, const char *method,
                   const char *url, const char *body, size_t len, struct og_reply *r)
{
    if (!authorized(g, conn)) {
        og_reply_error(r, 401, "unauthorized", "missing or invalid bearer token");
        return;
    }
    const char *path = url + strlen("/api/v1");
    if (strcmp(method, "GET") != 0) {
        og_reply_error(r, 405, "method_not_allowed", "this route is read-only");
        return;
    }
    if (strcmp(path, "/sessions") == 0)
        list_sessions(g, conn, r);
    else if (strncmp(path, "/sessions/", 10) == 0)
        session_routes(g, conn, path + 10, r);
    else
        og_reply_error(r, 404, "not_found", "no such route");
}
