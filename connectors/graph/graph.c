/* graph.c - the Graph API pieces shared by the WhatsApp and Messenger
 * connectors: webhook handshake, signature check, error mapping and the send
 * call. See graph.h for the contracts. Everything goes through the services
 * table handed in by the caller; nothing here keeps state. */
#include "graph.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *og_graph_sprintf(const struct og_services *svc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *s = svc->alloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

int64_t og_graph_json_i64(const struct og_json_api *js, const struct og_json *j, int64_t def)
{
    switch (js->type(j)) {
    case OG_JSON_INT: return js->int64(j);
    case OG_JSON_DOUBLE: {
        double d = js->dbl(j); /* a cast out of range would be undefined */
        return d >= -9.2e18 && d <= 9.2e18 ? (int64_t)d : def;
    }
    case OG_JSON_STRING: {
        const char *s = js->str(j);
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || *end || errno)
            return def;
        return (int64_t)v;
    }
    default: return def;
    }
}

const char *og_graph_json_str(const struct og_json_api *js, const struct og_json *obj,
                              const char *key)
{
    struct og_json *v = js->get(obj, key);
    return v ? js->str(v) : NULL;
}

int og_graph_location_ok(double latitude, double longitude)
{
    return latitude >= -90 && latitude <= 90 && longitude >= -180 && longitude <= 180;
}

char *og_graph_url(const struct og_services *svc, const char *base, const char *version,
                   const char *id, const char *edge)
{
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    if (!edge || !*edge)
        return og_graph_sprintf(svc, "%.*s/%s/%s", (int)bl, base, version, id);
    return og_graph_sprintf(svc, "%.*s/%s/%s/%s", (int)bl, base, version, id, edge);
}

/* ------------------------------------------------------------ handshake */

og_err og_graph_handshake(const struct og_services *svc, const struct og_http_req *req,
                          struct og_http_resp *resp, const char *verify_token)
{
    /* Each value is used before the next lookup: a host may hand out every
     * value in one reused buffer. */
    const char *mode = svc->req_query(req, "hub.mode");
    int ok = mode && strcmp(mode, "subscribe") == 0;
    if (ok) {
        const char *token = svc->req_query(req, "hub.verify_token");
        ok = token && verify_token && verify_token[0] &&
             svc->ct_equal(token, strlen(token), verify_token, strlen(verify_token));
    }
    const char *challenge = ok ? svc->req_query(req, "hub.challenge") : NULL;
    if (!challenge) {
        svc->respond(resp, 403, "text/plain", "forbidden", 9);
        return OG_ERR_FORBIDDEN;
    }
    svc->respond(resp, 200, "text/plain", challenge, strlen(challenge));
    return OG_OK;
}

/* ------------------------------------------------------------ signature */

og_err og_graph_check_signature(const struct og_services *svc, const char *header, const void *body,
                                size_t len, const char *app_secret)
{
    static const char prefix[] = "sha256=";
    if (!header || !app_secret || !app_secret[0])
        return OG_ERR_SIGNATURE;
    if (strncmp(header, prefix, sizeof prefix - 1) != 0)
        return OG_ERR_SIGNATURE;
    const char *hex = header + sizeof prefix - 1;
    size_t hl = strlen(hex);
    while (hl > 0 && (hex[hl - 1] == ' ' || hex[hl - 1] == '\t' || hex[hl - 1] == '\r'))
        hl--;
    if (hl != 64)
        return OG_ERR_SIGNATURE;
    char given[65];
    for (size_t i = 0; i < 64; i++) {
        char c = hex[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        given[i] = c;
    }
    given[64] = 0;
    unsigned char mac[32];
    char want[65];
    svc->hmac_sha256(app_secret, strlen(app_secret), body ? body : "", body ? len : 0, mac);
    if (svc->hex_encode(mac, sizeof mac, want, sizeof want) != 64)
        return OG_ERR_SIGNATURE;
    return svc->ct_equal(given, 64, want, 64) ? OG_OK : OG_ERR_SIGNATURE;
}

og_err og_graph_verify_request(const struct og_services *svc, const struct og_http_req *req,
                               const char *app_secret)
{
    const char *h = svc->req_header(req, "X-Hub-Signature-256");
    return og_graph_check_signature(svc, h, req->body, req->body_len, app_secret);
}

/* -------------------------------------------------------------- errors */

og_err og_graph_map_error(long http_status, int64_t code, int64_t subcode)
{
    switch (code) {
    case 190: return OG_ERR_AUTH;
    case 4:
    case 613:
    case 80007:
    case 130429: return OG_ERR_RATE_LIMITED;
    case 131047: return OG_ERR_WINDOW_CLOSED;
    case 10:
        if (subcode == 2018278)
            return OG_ERR_WINDOW_CLOSED;
        break;
    case 2: return OG_ERR_RETRYABLE;
    default: break;
    }
    if (http_status >= 500 && http_status <= 599)
        return OG_ERR_RETRYABLE;
    if (code < 0) {
        if (http_status == 401)
            return OG_ERR_AUTH;
        if (http_status == 429)
            return OG_ERR_RATE_LIMITED;
    }
    return OG_ERR_PERMANENT;
}

og_err og_graph_upload_id(const struct og_services *svc, og_err e, struct og_http_result *r,
                          const char *what, const char *field, char **id,
                          struct og_send_result *res)
{
    *id = NULL;
    if (e != OG_OK || r->status == 0) {
        snprintf(res->error_code, sizeof res->error_code, "transport");
        snprintf(res->error_message, sizeof res->error_message, "%s: %s", what,
                 r->errbuf[0] ? r->errbuf : "no answer from the Graph API");
        svc->http_result_free(r);
        return OG_ERR_RETRYABLE;
    }
    if (r->status < 200 || r->status > 299) {
        e = og_graph_error_result(svc, r, res);
        svc->http_result_free(r);
        return e == OG_ERR_NOT_FOUND ? OG_ERR_PERMANENT : e;
    }
    struct og_json *j = r->body ? svc->json->parse(r->body, r->body_len) : NULL;
    svc->http_result_free(r);
    const char *v = og_graph_json_str(svc->json, j, field);
    if (v && *v)
        *id = svc->strdup(v);
    svc->json->put(j);
    if (!*id) {
        snprintf(res->error_code, sizeof res->error_code, "bad_answer");
        snprintf(res->error_message, sizeof res->error_message, "the %s answered without an %s",
                 what, field);
        return OG_ERR_PERMANENT;
    }
    return OG_OK;
}

og_err og_graph_error_result(const struct og_services *svc, const struct og_http_result *r,
                             struct og_send_result *res)
{
    const struct og_json_api *js = svc->json;
    struct og_json *doc = r->body ? js->parse(r->body, r->body_len) : NULL;
    struct og_json *err = doc ? js->get(doc, "error") : NULL;
    int64_t code = -1, subcode = -1;
    const char *message = NULL;
    if (js->type(err) == OG_JSON_OBJECT) {
        code = og_graph_json_i64(js, js->get(err, "code"), -1);
        subcode = og_graph_json_i64(js, js->get(err, "error_subcode"), -1);
        message = og_graph_json_str(js, err, "message");
    }
    og_err e = og_graph_map_error(r->status, code, subcode);
    if (code >= 0)
        snprintf(res->error_code, sizeof res->error_code, "%lld", (long long)code);
    else
        snprintf(res->error_code, sizeof res->error_code, "http_%ld", r->status);
    snprintf(res->error_message, sizeof res->error_message, "%s",
             message ? message : "the Graph API answered without an error object");
    res->retry_after_ms = e == OG_ERR_RATE_LIMITED ? r->retry_after_ms : -1;
    js->put(doc);
    return e;
}

/* ---------------------------------------------------------------- send */

og_err og_graph_post(const struct og_services *svc, void *host, const char *url, const char *token,
                     struct og_json *body, struct og_json **reply, struct og_send_result *res)
{
    const struct og_json_api *js = svc->json;
    *reply = NULL;
    res->retry_after_ms = -1;
    size_t blen = 0;
    const char *btext = body ? js->serialize(body, &blen) : NULL;
    char *auth = og_graph_sprintf(svc, "Authorization: Bearer %s", token ? token : "");
    const char *headers[] = {auth, "Accept: application/json", NULL};
    struct og_http_call call = {
        .struct_size = sizeof call,
        .method = body ? "POST" : "GET",
        .url = url,
        .headers = headers,
        .body = btext,
        .body_len = blen,
        .content_type = body ? "application/json" : NULL,
    };
    struct og_http_result r;
    memset(&r, 0, sizeof r);
    og_err e = svc->http(host, &call, &r);
    /* Wipe the header copy of the token before giving the memory back. */
    memset(auth, 0, strlen(auth));
    svc->free(auth);
    if (e != OG_OK || r.status == 0) {
        snprintf(res->error_code, sizeof res->error_code, "transport");
        snprintf(res->error_message, sizeof res->error_message, "%s",
                 r.errbuf[0] ? r.errbuf : "no answer from the Graph API");
        svc->http_result_free(&r);
        return OG_ERR_RETRYABLE;
    }
    if (r.status >= 200 && r.status <= 299) {
        *reply = r.body ? js->parse(r.body, r.body_len) : NULL;
        svc->http_result_free(&r);
        if (!*reply) {
            snprintf(res->error_code, sizeof res->error_code, "bad_answer");
            snprintf(res->error_message, sizeof res->error_message,
                     "the Graph API answered 2xx with a body that is not JSON");
            return OG_ERR_PERMANENT;
        }
        return OG_OK;
    }
    e = og_graph_error_result(svc, &r, res);
    if (svc->log_enabled(host, OG_LOG_DEBUG))
        svc->log(host, OG_LOG_DEBUG, "graph: HTTP %ld, code %s: %s", r.status, res->error_code,
                 res->error_message);
    svc->http_result_free(&r);
    return e;
}

og_err og_graph_get(const struct og_services *svc, void *host, const char *url, const char *token,
                    struct og_json **reply, struct og_send_result *res)
{
    return og_graph_post(svc, host, url, token, NULL, reply, res); /* no body: a GET */
}

og_err og_graph_window_check(const struct og_outbound *msg, struct og_send_result *res)
{
    int64_t age = msg->last_inbound_age_ms;
    if (age >= 0 && age <= OG_GRAPH_WINDOW_MS)
        return OG_OK;
    snprintf(res->error_code, sizeof res->error_code, "window_closed");
    snprintf(res->error_message, sizeof res->error_message, "%s",
             age < 0 ? "the customer never wrote: free-form messages are not allowed "
                       "(a template is required)"
                     : "more than 24 hours since the customer last wrote: the "
                       "customer-service window is closed (a template is required)");
    res->retry_after_ms = -1;
    return OG_ERR_WINDOW_CLOSED;
}

og_err og_graph_handle_http(const struct og_services *svc, void *host, const char *name,
                            const char *verify_token, const char *app_secret,
                            og_graph_parse_fn parse, const struct og_http_req *req,
                            struct og_http_resp *resp)
{
    if (strcmp(req->method, "GET") == 0)
        return og_graph_handshake(svc, req, resp, verify_token);
    if (strcmp(req->method, "POST") != 0) {
        svc->respond(resp, 405, "text/plain", "method not allowed", 18);
        if (svc->struct_size >=
                offsetof(struct og_services, respond_header) + sizeof svc->respond_header &&
            svc->respond_header)
            svc->respond_header(resp, "Allow", "GET, POST");
        return OG_ERR_INVALID;
    }
    if (og_graph_verify_request(svc, req, app_secret) != OG_OK) {
        svc->log(host, OG_LOG_WARN, "%s: webhook signature %s, %zu bytes refused", name,
                 svc->req_header(req, "X-Hub-Signature-256") ? "wrong" : "missing", req->body_len);
        return OG_ERR_SIGNATURE;
    }
    og_err e = parse(svc, host, req->body, req->body_len);
    if (e == OG_ERR_INVALID)
        svc->log(host, OG_LOG_WARN, "%s: signed webhook body is not a JSON object", name);
    return e;
}
