/* og_http - the HTTP server. libmicrohttpd runs in epoll mode with a thread
 * pool (never a thread per connection). Each request gets a small context
 * that collects the body up to the configured limit; a larger body is
 * refused with 413 as soon as Content-Length says so, or once a chunked
 * body crosses the limit (the rest is read and dropped, so the connection
 * stays usable).
 *
 * /hooks/{channel}[/...] hands the raw body to that channel's connector; the
 * platform gets a 2xx only when every item the connector emitted is in
 * Redis (og_channel_handle_http reports an emit failure, which wins).
 *
 * The edge (og_edge.h) sees every connection and every request first: it
 * refuses connections past the per-address limit and the reserve, closes
 * slow clients, refuses ambiguous framing before the body is read, and
 * names the client behind a trusted proxy. A 413 is made readable: a body
 * sent without waiting for "100 Continue" is read and dropped (up to
 * DISCARD_MAX past the limit) before the answer, since closing on unread
 * data makes the kernel reset the connection, and the client then never
 * sees the 413. CORS for /api/ (og_cors.h) is decided here too: a
 * preflight is answered before the routes, and the headers are added to
 * whatever the API answered. */
#include "og_accept.h"
#include "og_api.h"
#include "og_cors.h"
#include "og_edge.h"
#include "og_gateway.h"
#include "og_log.h"
#include "og_static.h"
#include "og_tls.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* How much of a body past http.max_body_bytes is read (and dropped) so the
 * client can read its 413; past that the connection is closed. */
#define DISCARD_MAX (8u << 20)

struct req_ctx {
    struct og_buf body;
    int too_large;
    size_t limit;                   /* the body's cap (body_limit) */
    size_t discarded;               /* body bytes dropped after too_large */
    struct og_edge_verdict refusal; /* status 0 = none */
    int64_t t0_us;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------- /hooks */

static const char *hdr_lookup(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

static const char *arg_lookup(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

static struct og_channel *find_channel(struct og_gateway *g, const char *id, size_t n)
{
    for (size_t i = 0; i < g->n_channels; i++)
        if (strlen(g->channels[i]->id) == n && memcmp(g->channels[i]->id, id, n) == 0)
            return g->channels[i];
    return NULL;
}

static void handle_hook(struct og_gateway *g, struct MHD_Connection *conn, const char *method,
                        const char *url, struct req_ctx *rc, struct og_reply *r)
{
    const char *id = url + strlen("/hooks/");
    size_t n = strcspn(id, "/");
    struct og_channel *ch = n ? find_channel(g, id, n) : NULL;
    if (!ch) {
        og_reply_err(r, OG_ERR_NOT_FOUND, "no such channel");
        return;
    }
    struct og_req_host host = {hdr_lookup, arg_lookup, conn, 0, OG_OK, ch, NULL, NULL};
    struct og_http_req req = {method, id + n, rc->body.data ? rc->body.data : "", rc->body.len,
                              &host};
    struct og_http_resp resp = {0};
    og_err e = og_channel_handle_http(ch, &req, &resp);
    if (e == OG_OK) {
        r->status = resp.status ? resp.status : 200;
        og_strlcpy(r->ctype, resp.status ? resp.content_type : "text/plain", sizeof r->ctype);
        r->content_type = r->ctype;
        r->body = resp.body ? resp.body : og_strdup("");
        r->len = resp.body ? resp.body_len : 0;
        r->headers = resp.headers;
        resp.body = resp.headers = NULL;
    } else if (host.emit_failed || !resp.status) {
        int st = og_reply_status(e);
        char from[64];
        og_edge_client_text(conn, from, sizeof from);
        og_log_write(st >= 500 ? OG_LOG_WARN : OG_LOG_INFO, ch->scope, "%s %s from %s -> %d (%s)",
                     method, url, from, st, og_strerror(e));
        if (e == OG_ERR_TOO_LARGE && host.emit_failed) {
            char *msg = og_sprintf("the request carries more than %d messages "
                                   "(http.max_messages_per_request): the first %d were taken, "
                                   "send the rest in further requests",
                                   ch->max_items, ch->max_items);
            og_reply_err(r, e, msg);
            free(msg);
        } else {
            og_reply_err(r, e, NULL);
        }
    } else {
        /* An error the plugin answered itself (e.g. VK's 403, Meta's 403). */
        r->status = resp.status;
        og_strlcpy(r->ctype, resp.content_type, sizeof r->ctype);
        r->content_type = r->ctype;
        r->body = resp.body ? resp.body : og_strdup("");
        r->len = resp.body ? resp.body_len : 0;
        r->headers = resp.headers;
        resp.body = resp.headers = NULL;
        char from[64];
        og_edge_client_text(conn, from, sizeof from);
        og_log_write(OG_LOG_INFO, ch->scope, "%s %s from %s -> %d (%s)", method, url, from,
                     r->status, og_strerror(e));
    }
    og_http_resp_free(&resp);
}

/* ------------------------------------------------------------ /webchat */

/* The visitor routes' host side (ABI 1.2): the connection and the gateway,
 * for the plugin's header, query, client-address and stream calls. */
struct visitor_ctx {
    struct MHD_Connection *conn;
    struct og_gateway *g;
};

static const char *vis_header(void *ctx, const char *name)
{
    return hdr_lookup(((struct visitor_ctx *)ctx)->conn, name);
}

static const char *vis_query(void *ctx, const char *name)
{
    return arg_lookup(((struct visitor_ctx *)ctx)->conn, name);
}

/* The client as the edge names it; an IPv6 client by its /64, as the edge
 * counts it, so rotating addresses within one's own prefix does not escape
 * a per-address limit. */
static size_t vis_client_addr(void *ctx, char *out, size_t outsz)
{
    struct og_ip ip;
    og_edge_client(((struct visitor_ctx *)ctx)->conn, &ip);
    if (!og_ip_is_v4(&ip))
        memset(ip.b + 8, 0, 8);
    char t[64];
    og_ip_format(&ip, t, sizeof t);
    snprintf(out, outsz, "%s%s", t, og_ip_is_v4(&ip) ? "" : "/64");
    return strlen(out);
}

static og_err vis_stream(void *ctx, struct og_channel *ch, struct og_http_resp *resp,
                         const struct og_visitor *v, const struct og_visitor_stream *o)
{
    struct visitor_ctx *x = ctx;
    return og_sse_visitor_open(x->g, x->conn, ch, v, o, resp);
}

/* Copies the plugin's answer (or its error) into r. */
static void plugin_answer(struct og_reply *r, struct og_http_resp *resp, og_err e)
{
    if (!resp->status) {
        og_reply_err(r, e == OG_OK ? OG_ERR_INTERNAL : e, NULL);
        return;
    }
    r->status = resp->status;
    og_strlcpy(r->ctype, resp->content_type, sizeof r->ctype);
    r->content_type = r->ctype;
    r->body = resp->body ? resp->body : og_strdup("");
    r->len = resp->body ? resp->body_len : 0;
    r->headers = resp->headers;
    resp->body = resp->headers = NULL;
}

/* /webchat/<file>: the widget's files (gateway/www/webchat/); the demo page
 * only when the config's webchat_demo is set. /webchat/{channel}/...: the
 * channel's visitor routes. */
static void handle_webchat(struct og_gateway *g, struct MHD_Connection *conn, const char *method,
                           const char *url, struct req_ctx *rc, struct og_reply *r)
{
    const char *id = url + strlen("/webchat/");
    size_t n = strcspn(id, "/");
    if (id[n] == 0) {
        int demo = strcmp(id, "demo") == 0 || strncmp(id, "demo.", 5) == 0;
        if (demo && !(g->cfg->webchat_demo && *g->cfg->webchat_demo)) {
            og_reply_err(r, OG_ERR_NOT_FOUND, "the demo page is off (webchat_demo)");
            return;
        }
        if (og_static_serve(g->pages, conn, method,
                            strcmp(id, "demo") == 0 ? "/webchat/demo.html" : url, r) == 0) {
            /* the widget is loaded by other sites' pages (as a module too) */
            if (!demo) {
                og_reply_header(r, "Access-Control-Allow-Origin", "*");
                og_reply_header(r, "Cross-Origin-Resource-Policy", "cross-origin");
            }
            return;
        }
        og_reply_err(r, OG_ERR_NOT_FOUND, "no such file");
        return;
    }
    struct og_channel *ch = n ? find_channel(g, id, n) : NULL;
    if (!ch || !ch->plugin->desc->handle_visitor) {
        og_reply_err(r, OG_ERR_NOT_FOUND, "no such web chat channel");
        return;
    }
    struct visitor_ctx x = {conn, g};
    struct og_req_host host = {vis_header, vis_query,       &x,        0, OG_OK,
                               ch,         vis_client_addr, vis_stream};
    struct og_http_req req = {method, id + n, rc->body.data ? rc->body.data : "", rc->body.len,
                              &host};
    struct og_http_resp resp = {0};
    og_err e = og_channel_handle_visitor(ch, &req, &resp);
    if (resp.stream) {
        r->status = 200;
        r->stream = resp.stream;
        r->headers = resp.headers;
        resp.headers = NULL;
        og_http_resp_free(&resp);
        return;
    }
    plugin_answer(r, &resp, e);
    og_http_resp_free(&resp);
}

/* ------------------------------------------------- the server's own routes */

static void healthz(struct og_gateway *g, struct MHD_Connection *conn, struct og_reply *r)
{
    (void)conn;
    og_reply_json(r, 200, og_strdup("{\"status\":\"ok\"}"));
}

/* ready = Redis takes a write (one out of memory still answers PING) and the
 * connectors run */
static void readyz(struct og_gateway *g, struct MHD_Connection *conn, struct og_reply *r)
{
    (void)conn;
    char why[512] = ""; /* room for what the sentinels say (redis.sentinels) */
    int redis_ok = og_core_health(g->core, why, sizeof why);
    int ready = redis_ok && atomic_load(&g->ready) && !atomic_load(&g->stopping);
    struct og_buf b = {0};
    og_buf_printf(&b, "{\"status\":\"%s\",\"redis\":%s,\"connectors\":%s",
                  ready ? "ready" : "not_ready", redis_ok ? "true" : "false",
                  atomic_load(&g->ready) ? "true" : "false");
    if (!redis_ok) {
        og_buf_puts(&b, ",\"redis_error\":");
        og_buf_json_str(&b, why);
    }
    og_buf_puts(&b, "}");
    og_reply_json(r, ready ? 200 : 503, b.data);
    if (!ready)
        og_reply_header(r, "Retry-After", "1");
}

/* metrics.token: "Authorization: Bearer <token>", compared as digests in
 * constant time like the API's tokens. 1 when it may see /metrics. */
static int metrics_allowed(struct og_gateway *g, struct MHD_Connection *conn)
{
    if (!g->cfg->metrics.token)
        return 1;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    unsigned char want[32], got[32];
    og_sha256(g->cfg->metrics.token, strlen(g->cfg->metrics.token), want);
    og_sha256(h + 7, strlen(h + 7), got);
    return og_ct_equal(want, sizeof want, got, sizeof got);
}

static void metrics(struct og_gateway *g, struct MHD_Connection *conn, struct og_reply *r)
{
    if (!metrics_allowed(g, conn)) {
        og_reply_err(r, OG_ERR_AUTH, "/metrics needs metrics.token as a bearer token");
        og_reply_header(r, "WWW-Authenticate", "Bearer realm=\"omnigate metrics\"");
        return;
    }
    char *m = og_metrics_render(g);
    r->status = 200;
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    r->body = m;
    r->len = strlen(m);
}

/* The routes the server answers itself, exactly (no parameters): dispatch()
 * and og_http_routes_each() read this one table. */
static const struct fixed_route {
    const char *method, *path;
    void (*fn)(struct og_gateway *g, struct MHD_Connection *conn, struct og_reply *r);
} fixed_routes[] = {
    {"GET", "/healthz", healthz},
    {"GET", "/readyz", readyz},
    {"GET", "/metrics", metrics},
};

/* What reaches a connector on /hooks/{channel}: every method does, and the
 * connectors answer these two (GET for a platform's verification handshake,
 * POST for its events) and refuse the rest. */
static const char *const hook_methods[] = {"GET", "POST"};

/* /csat/{token}: the survey page (GET, HEAD) and its answer (POST). */
static const char *const csat_methods[] = {"GET", "HEAD", "POST"};

/* -------------------------------------------------------- the route list */

/* What "/" leads to (a redirect to its index page). */
#define FRONT_DOOR "/inbox"

struct api_lister {
    og_route_fn fn;
    void *ud;
};

static void api_route(void *ud, const struct og_route *rt, int is_public)
{
    static const char *const roles[] = {"agent", "manager", "admin"};
    const struct api_lister *l = ud;
    char path[256];
    snprintf(path, sizeof path, "/api/v1%s", rt->pattern);
    l->fn(l->ud, rt->method, path, is_public ? "public" : roles[rt->min_role]);
}

/* The pages: each directory's files as "<dir>/:file", and for a directory
 * with an index.html "<dir>/" and "<dir>" (a redirect to it); "/" is the
 * front door to /inbox/. og_static_serve answers GET and HEAD alike. */
static void page_routes(const struct og_static *pages, og_route_fn fn, void *ud)
{
    static const char *const methods[] = {"GET", "HEAD"};
    char seen[64][200];
    size_t n_seen = 0;
    const char *p;
    for (size_t i = 0; (p = og_static_path(pages, i)) != NULL; i++) {
        const char *slash = strrchr(p, '/');
        size_t dl = (size_t)(slash - p);
        char dir[200], route[232];
        if (dl >= sizeof dir)
            continue;
        memcpy(dir, p, dl);
        dir[dl] = 0;
        if (strcmp(dir, "/csat") == 0)
            continue; /* listed as /csat/:token */
        size_t k = 0;
        while (k < n_seen && strcmp(seen[k], dir) != 0)
            k++;
        if (strcmp(dir, "/webchat") == 0)
            continue; /* listed with the visitor routes: handle_webchat serves them */
        if (k == n_seen && n_seen < sizeof seen / sizeof *seen) {
            memcpy(seen[n_seen++], dir, dl + 1);
            snprintf(route, sizeof route, "%s/:file", dir);
            for (size_t m = 0; m < 2; m++)
                fn(ud, methods[m], route, "public");
        }
        if (strcmp(slash, "/index.html") != 0 || dl == 0)
            continue;
        for (size_t m = 0; m < 2; m++) {
            snprintf(route, sizeof route, "%s/", dir);
            fn(ud, methods[m], route, "public");
            fn(ud, methods[m], dir, "public");
            if (strcmp(dir, FRONT_DOOR) == 0)
                fn(ud, methods[m], "/", "public");
        }
    }
}

void og_http_routes_each(const struct og_static *pages, og_route_fn fn, void *ud)
{
    for (size_t i = 0; i < sizeof fixed_routes / sizeof *fixed_routes; i++)
        fn(ud, fixed_routes[i].method, fixed_routes[i].path, "public");
    for (size_t i = 0; i < sizeof hook_methods / sizeof *hook_methods; i++)
        fn(ud, hook_methods[i], "/hooks/:channel", "public");
    fn(ud, "GET", "/reports/:token", "public"); /* og_reports_handle */
    struct api_lister l = {fn, ud};
    og_api_routes_each(api_route, &l);
    /* a survey link; the survey page's files are served under the same
     * pattern (og_csat_page.c), so page_routes leaves /csat out */
    for (size_t i = 0; i < sizeof csat_methods / sizeof *csat_methods; i++)
        fn(ud, csat_methods[i], "/csat/:token", "public");
    page_routes(pages, fn, ud);
    /* the widget's files and the demo page (handle_webchat) */
    static const char *const methods[] = {"GET", "HEAD"};
    for (size_t m = 0; m < 2; m++) {
        fn(ud, methods[m], "/webchat/:file", "public");
        fn(ud, methods[m], "/webchat/demo", "public");
    }
}

void og_http_visitor_routes_each(const struct og_connector *c, og_route_fn fn, void *ud)
{
    if (!c->handle_visitor || !c->visitor_routes)
        return;
    for (const char *const *l = c->visitor_routes; *l; l++) {
        char method[16], path[200];
        if (sscanf(*l, "%15s %199s", method, path) != 2 || path[0] != '/')
            continue;
        char route[240];
        snprintf(route, sizeof route, "/webchat/:channel%s", path);
        fn(ud, method, route, "visitor");
    }
}

/* --------------------------------------------------------------- server */

static int route_of(const char *url)
{
    if (strncmp(url, "/hooks/", 7) == 0)
        return 0;
    if (strncmp(url, "/api/", 5) == 0)
        return 1;
    if (!strcmp(url, "/healthz") || !strcmp(url, "/readyz") || !strcmp(url, "/metrics"))
        return 2;
    return 3;
}

/* Every route comes from a table og_http_routes_each() lists too (fixed_routes,
 * hook_methods, the API's, the pages), so docs/openapi.yaml is checked against
 * what is dispatched here (og-docs-routes): a new route goes in one of them. */
static void dispatch(struct og_gateway *g, struct MHD_Connection *conn, const char *method,
                     const char *url, struct req_ctx *rc, struct og_reply *r)
{
    if (rc->refusal.status) {
        og_reply_code(r, rc->refusal.code, rc->refusal.message);
        if (rc->refusal.status == 429 || rc->refusal.status == 503)
            og_reply_header(r, "Retry-After", "1");
        return;
    }
    if (rc->too_large) {
        og_reply_err(r, OG_ERR_TOO_LARGE, "request body exceeds http.max_body_bytes");
        return;
    }
    if (strncmp(url, "/hooks/", 7) == 0) {
        handle_hook(g, conn, method, url, rc, r);
        return;
    }
    if (strncmp(url, "/reports/", 9) == 0 && url[9] && !strchr(url + 9, '/')) {
        og_reports_handle(g, conn, method, url, r);
        return;
    }
    if (strncmp(url, "/webchat/", 9) == 0) {
        handle_webchat(g, conn, method, url, rc, r);
        return;
    }
    if (strncmp(url, "/csat/", 6) == 0) {
        og_csat_page(g, conn, method, url + 6, rc->body.data ? rc->body.data : "", rc->body.len, r);
        return;
    }
    if (strncmp(url, "/api/v1/", 8) == 0 || strcmp(url, "/api/v1") == 0) {
        og_api_handle(g, conn, method, url, rc->body.data ? rc->body.data : "", rc->body.len, r);
        return;
    }
    for (size_t i = 0; i < sizeof fixed_routes / sizeof *fixed_routes; i++)
        if (strcmp(method, fixed_routes[i].method) == 0 && strcmp(url, fixed_routes[i].path) == 0) {
            fixed_routes[i].fn(g, conn, r);
            return;
        }
    if (strcmp(url, "/") == 0 && og_static_serve(g->pages, conn, method, FRONT_DOOR, r) == 0)
        return; /* the front door: the inbox */
    if (og_static_serve(g->pages, conn, method, url, r) == 0)
        return;
    og_reply_err(r, OG_ERR_NOT_FOUND, "no such route");
}

/* The body a request may carry: http.max_body_bytes, or for an agent's
 * upload (POST /api/v1/uploads) the media store's file cap and room for the
 * multipart framing. */
static size_t body_limit(const struct og_gateway *g, const char *url, const char *method)
{
    size_t limit = (size_t)g->cfg->http.max_body_bytes;
    if (!strcmp(method, "POST") && !strcmp(url, "/api/v1/uploads") && g->cfg->media.max_file_bytes)
        limit = (size_t)g->cfg->media.max_file_bytes + 64 * 1024 > limit
                    ? (size_t)g->cfg->media.max_file_bytes + 64 * 1024
                    : limit;
    return limit;
}

/* The handler's first call: the headers are in. 1 when the answer goes now,
 * before the body (the edge refused the framing or the route, or a body too
 * large for a client that waits for 100 Continue or past DISCARD_MAX); 0 to
 * read the body first. */
static int begin_request(struct og_gateway *g, struct MHD_Connection *conn, const char *url,
                         const char *method, const char *version, struct req_ctx *rc)
{
    size_t limit = body_limit(g, url, method);
    rc->limit = limit;
    if (og_edge_request(g->edge, conn, url, method, version, &rc->refusal) != 0)
        return rc->refusal.now;
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
    if (n <= limit)
        return 0;
    rc->too_large = 1;
    const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    return (expect && strcasecmp(expect, "100-continue") == 0) || n - limit > DISCARD_MAX;
}

/* A piece of the body: kept, or dropped once the request is refused or too
 * large. MHD_NO (close) once more than DISCARD_MAX was dropped. */
static enum MHD_Result take_body(struct og_gateway *g, struct MHD_Connection *conn,
                                 struct req_ctx *rc, const char *upload, size_t n)
{
    size_t limit = rc->limit;
    og_edge_body(conn, n);
    if (!rc->too_large && !rc->refusal.status && rc->body.len + n <= limit) {
        og_buf_append(&rc->body, upload, n);
        return MHD_YES;
    }
    if (!rc->refusal.status)
        rc->too_large = 1;
    rc->discarded += n;
    return rc->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
}

/* og_reply's "Name: value\n" lines onto resp (they are cut up in place). */
static void add_headers(struct MHD_Response *resp, char *headers)
{
    for (char *line = headers; line && *line;) {
        char *nl = strchr(line, '\n'), *colon = strchr(line, ':');
        if (!nl || !colon || colon > nl)
            break;
        *nl = *colon = 0;
        MHD_add_response_header(resp, line, colon + 2);
        line = nl + 1;
    }
}

/* X-Request-Id: the client's when it is 1-64 characters of A-Z, a-z, 0-9,
 * '.', '_', ':' and '-' (it goes into log lines and back into a header),
 * else a new one. */
static void request_id(struct MHD_Connection *conn, char out[OG_LOG_REQUEST_ID_MAX + 1])
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = h ? strlen(h) : 0;
    if (n >= 1 && n <= OG_LOG_REQUEST_ID_MAX &&
        strspn(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n) {
        memcpy(out, h, n + 1);
        return;
    }
    og_id_new("req_", og_now_ms(), out, OG_LOG_REQUEST_ID_MAX + 1);
}

/* The access log: one line per API request, by route template (an id in
 * a path would make every line unique and leak into log indexes). */
static void access_log(struct MHD_Connection *conn, const char *method, const char *url,
                       const struct og_reply *r, const struct req_ctx *rc)
{
    if (strncmp(url, "/api/", 5) != 0 || OG_LOG_INFO > og_log_level)
        return;
    char route[160], client[64];
    snprintf(route, sizeof route, "/api/v1%s", r->route ? r->route : "/(no such route)");
    og_edge_client_text(conn, client, sizeof client);
    struct og_log_access a = {.method = method,
                              .route = route,
                              .status = r->status,
                              .duration_ms = (double)(now_us() - rc->t0_us) / 1000.0,
                              .client = client};
    og_log_access_write(&a);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct og_gateway *g = cls;
    struct req_ctx *rc = *con_cls;
    if (!rc) {
        rc = og_calloc(1, sizeof *rc);
        rc->t0_us = now_us();
        *con_cls = rc;
        if (!begin_request(g, conn, url, method, version, rc))
            return MHD_YES;
    } else if (*upload_size) {
        enum MHD_Result more = take_body(g, conn, rc, upload, *upload_size);
        *upload_size = 0;
        return more;
    }
    og_edge_answering(conn);
    struct og_reply r = {0};
    char rid[OG_LOG_REQUEST_ID_MAX + 1];
    request_id(conn, rid);
    og_log_set_request(rid); /* every line logged while answering carries it */
    if (rc->refusal.status || !og_cors_preflight(g->cors, conn, method, url, &r)) {
        dispatch(g, conn, method, url, rc, &r);
        og_cors_headers(g->cors, conn, url, &r);
    }
    if (r.stream) { /* SSE: a callback response that lives as long as the stream */
        add_headers(r.stream, r.headers);
        MHD_add_response_header(r.stream, "X-Request-Id", rid);
        enum MHD_Result sret = MHD_queue_response(conn, (unsigned)r.status, r.stream);
        MHD_destroy_response(r.stream);
        free(r.body), free(r.headers);
        atomic_fetch_add(&g->stats.requests[route_of(url)][0], 1);
        access_log(conn, method, url, &r, rc);
        og_log_set_request(NULL);
        return sret;
    }
    struct MHD_Response *resp =
        r.static_body
            ? MHD_create_response_from_buffer(r.len, (void *)r.static_body, MHD_RESPMEM_PERSISTENT)
            : MHD_create_response_from_buffer(r.len, r.body ? r.body : (char *)"",
                                              r.body ? MHD_RESPMEM_MUST_COPY
                                                     : MHD_RESPMEM_PERSISTENT);
    if (r.content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type);
    if (rc->too_large || rc->refusal.now)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    add_headers(resp, r.headers);
    free(r.headers);
    MHD_add_response_header(resp, "X-Request-Id", rid);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
    free(r.body);

    int route = route_of(url);
    int cls_ = r.status >= 500 ? 3 : r.status >= 400 ? 2 : r.status >= 300 ? 1 : 0;
    atomic_fetch_add(&g->stats.requests[route][cls_], 1);
    if (route == 0)
        og_metrics_observe_hook(g, now_us() - rc->t0_us);
    access_log(conn, method, url, &r, rc);
    og_log_set_request(NULL);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct og_gateway *g = cls;
    struct req_ctx *rc = *con_cls;
    og_edge_request_done(g->edge, conn);
    if (rc) {
        og_buf_free(&rc->body);
        free(rc);
    }
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    buf[strcspn(buf, "\n")] = 0;
    og_log_write(OG_LOG_WARN, "http", "%s", buf);
}

/* http.max_connections 0: 4096, or more when the process may hold more
 * descriptors, keeping 256 for Redis, outbound HTTP and the rest. */
static unsigned connection_limit(int64_t configured)
{
    struct rlimit rl;
    if (configured > 0)
        return (unsigned)configured;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur <= 4096 + 256)
        return 4096u;
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1000000 ? 1000000u
                                                                 : (unsigned)rl.rlim_cur - 256;
}

/* The edge from the config's http section. NULL after logging why. */
static struct og_edge *edge_new(const struct og_config *cfg)
{
    struct og_edge_conf ec = {
        .max_connections = connection_limit(cfg->http.max_connections),
        .reserved = (unsigned)cfg->http.reserved_connections,
        .per_address = (unsigned)cfg->http.per_address_connections,
        .header_timeout_ms = cfg->http.header_timeout_ms,
        .min_body_rate = cfg->http.min_body_bytes_per_s,
        .trusted_proxies = (const char *const *)cfg->http.trusted_proxies,
        .n_trusted = cfg->http.n_trusted_proxies,
        .forwarded_header =
            cfg->http.forwarded_header && strcmp(cfg->http.forwarded_header, "forwarded") == 0
                ? OG_FWD_FORWARDED
                : OG_FWD_X_FORWARDED_FOR,
        .platform_ranges = (const char *const *)cfg->http.platform_ranges,
        .n_platforms = cfg->http.n_platform_ranges,
    };
    char err[256];
    struct og_edge *e = og_edge_new(&ec, err, sizeof err);
    if (!e)
        og_error("%s", err);
    else if (og_edge_start(e) != 0) {
        og_error("http: cannot start the slow-client thread");
        og_edge_free(e);
        e = NULL;
    }
    return e;
}

int og_http_start(struct og_gateway *g, const char *host, int port, unsigned threads)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &ai);
    if (rc != 0) {
        og_error("listen: cannot resolve '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    g->edge = edge_new(g->cfg);
    if (!g->edge) {
        freeaddrinfo(ai);
        return -1;
    }
    char aerr[256];
    g->accept = og_accept_new(ai->ai_addr, ai->ai_addrlen, aerr, sizeof aerr);
    freeaddrinfo(ai);
    if (!g->accept) {
        og_error("listen: cannot listen on %s:%d: %s", host, port, aerr);
        og_edge_free(g->edge);
        g->edge = NULL;
        return -1;
    }
    g->cors =
        og_cors_new((const char *const *)g->cfg->api.cors_origins, g->cfg->api.n_cors_origins);
    /* ALLOW_SUSPEND_RESUME: SSE streams suspend while they have nothing to
     * send. NO_LISTEN_SOCKET: og_accept accepts and hands connections over
     * (og_accept.h says why); ITC wakes the thread given one. */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET;
    /* The edge's accept policy and connection notices (og_edge.h); the 60 s
     * inactivity timeout stays for answers being sent and idle connections. */
    /* http.tls_cert: HTTPS through libmicrohttpd's GnuTLS, the pair served
     * by og_tls's callback so SIGHUP can renew it (og_tls.h) */
    struct MHD_OptionItem tls_opts[3] = {{MHD_OPTION_END, 0, NULL}};
    if (g->cfg->http.tls_cert && g->cfg->http.tls_key) {
        char err[512];
        g->tls = og_tls_new(g->cfg->http.tls_cert, g->cfg->http.tls_key, err, sizeof err);
        if (!g->tls) {
            og_error("http.tls_cert: %s", err);
            og_accept_free(g->accept);
            g->accept = NULL;
            og_edge_free(g->edge);
            g->edge = NULL;
            og_cors_free(g->cors);
            g->cors = NULL;
            return -1;
        }
        flags |= MHD_USE_TLS;
        tls_opts[0] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)og_tls_callback()};
        tls_opts[1] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)OG_TLS_PRIORITIES};
    }
    g->mhd = MHD_start_daemon(
        flags, 0, og_edge_accept, g->edge, on_request, g, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, g,
        MHD_OPTION_NOTIFY_CONNECTION, og_edge_notify, g->edge, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
        MHD_OPTION_CONNECTION_LIMIT, og_edge_max_connections(g->edge),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(g->cfg->http.connection_memory_bytes > 0 ? g->cfg->http.connection_memory_bytes
                                                          : 16384),
        MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (!g->mhd || og_accept_start(g->accept, g->mhd) != 0) {
        og_error("listen: cannot start the HTTP server on %s:%d", host, port);
        if (g->mhd)
            MHD_stop_daemon(g->mhd);
        g->mhd = NULL;
        og_accept_free(g->accept);
        g->accept = NULL;
        og_edge_free(g->edge);
        g->edge = NULL;
        og_cors_free(g->cors);
        g->cors = NULL;
        og_tls_free(g->tls);
        g->tls = NULL;
        return -1;
    }
    return 0;
}

int og_http_port(struct og_gateway *g)
{
    return og_accept_port(g->accept);
}

void og_http_stop(struct og_gateway *g, int drain_ms)
{
    if (!g->mhd)
        return;
    og_edge_drain(g->edge); /* not MHD_quiesce_daemon(): og_edge.h says why */
    og_sse_close_all(g);    /* ends streams; no suspended connection may remain */
    for (int waited = 0; waited < drain_ms; waited += 20) {
        const union MHD_DaemonInfo *i =
            MHD_get_daemon_info(g->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!i || i->num_connections == 0)
            break;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    og_accept_free(g->accept); /* before MHD: it hands connections to it */
    g->accept = NULL;
    MHD_stop_daemon(g->mhd);
    g->mhd = NULL;
    og_edge_free(g->edge); /* after MHD: its last connection notices use it */
    g->edge = NULL;
    og_cors_free(g->cors);
    g->cors = NULL;
    og_tls_free(g->tls); /* after MHD: no handshake is left */
    g->tls = NULL;
}
