/* webchat_visitor.c - the visitor route tree /webchat/{channel}/... (ABI
 * 1.2's handle_visitor; the contract is docs/webchat.md).
 *
 * Every request must come from a page of allowed_origins (its Origin
 * header): any other, or none, is refused with 403 and no CORS header, so a
 * browser on another site cannot read an answer. An allowed origin gets
 * Access-Control-Allow-Origin with Vary: Origin; OPTIONS is the preflight.
 * No cookies: the visitor's token travels in Authorization: Bearer.
 *
 * Limits (nothing is stored past one): per token WC_TOKEN_RATE messages and
 * per client address WC_IP_RATE requests that store something, both in
 * WC_RATE_WINDOW_MS, counted by the host for every instance alike; 429 with
 * Retry-After beyond. A token holds at most WC_STREAMS_PER_TOKEN streams. */
#include "webchat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JSON "application/json"

struct rq {
    struct webchat *w;
    const struct og_services *svc;
    const struct og_http_req *req;
    struct og_http_resp *resp;
    const char *origin; /* the allowed Origin, [borrowed] from req */
};

/* ------------------------------------------------------------ answers */

static void cors(struct rq *q)
{
    if (!q->origin)
        return;
    q->svc->respond_header(q->resp, "Access-Control-Allow-Origin", q->origin);
    q->svc->respond_header(q->resp, "Vary", "Origin");
    q->svc->respond_header(q->resp, "Access-Control-Expose-Headers", "Retry-After");
}

static og_err answer(struct rq *q, int status, const char *body)
{
    cors(q);
    q->svc->respond(q->resp, status, body ? JSON : "text/plain", body ? body : "",
                    body ? strlen(body) : 0);
    return OG_OK;
}

/* Takes the JSON text (svc->free). */
static og_err answer_owned(struct rq *q, int status, char *body)
{
    answer(q, status, body);
    q->svc->free(body);
    return OG_OK;
}

/* Answers {"<key>":<json>} and frees json [xfer from the host]. */
static og_err answer_wrapped(struct rq *q, int status, const char *key, char *json)
{
    size_t len = strlen(key) + strlen(json) + 8;
    char *body = q->svc->alloc(len);
    snprintf(body, len, "{\"%s\":%s}", key, json);
    q->svc->free(json);
    return answer_owned(q, status, body);
}

/* {"error":{"code","message"}}; returns the og_err the host logs. */
static og_err fail(struct rq *q, int status, const char *code, const char *message)
{
    const struct og_json_api *J = q->svc->json;
    struct og_json *o = J->new_object(), *e = J->new_object();
    J->set(e, "code", J->new_string(code));
    J->set(e, "message", J->new_string(message ? message : code));
    J->set(o, "error", e);
    size_t n;
    const char *s = J->serialize(o, &n);
    cors(q);
    q->svc->respond(q->resp, status, JSON, s, n);
    J->put(o);
    return OG_OK;
}

static og_err fail_err(struct rq *q, og_err e, const char *message)
{
    switch (e) {
    case OG_ERR_INVALID: return fail(q, 400, "invalid_request", message);
    case OG_ERR_SIGNATURE:
    case OG_ERR_AUTH:
        return fail(q, 401, "unauthorized",
                    message ? message : "a valid visitor token is required");
    case OG_ERR_FORBIDDEN: return fail(q, 403, "forbidden", message);
    case OG_ERR_NOT_FOUND: return fail(q, 404, "not_found", message);
    case OG_ERR_CONFLICT: return fail(q, 409, "conflict", message);
    case OG_ERR_TOO_LARGE: return fail(q, 413, "payload_too_large", message);
    case OG_ERR_RATE_LIMITED: return fail(q, 429, "rate_limited", message);
    case OG_ERR_UNAVAILABLE:
        q->svc->respond_header(q->resp, "Retry-After", "1");
        return fail(q, 503, "unavailable", message ? message : "storage unavailable, retry");
    case OG_ERR_UNSUPPORTED: return fail(q, 501, "unsupported", message);
    default: return fail(q, 500, "internal_error", message);
    }
}

static og_err limited(struct rq *q, long retry_ms, const char *what)
{
    char ra[24];
    snprintf(ra, sizeof ra, "%ld", retry_ms > 0 ? (retry_ms + 999) / 1000 : 1);
    q->svc->respond_header(q->resp, "Retry-After", ra);
    return fail(q, 429, "rate_limited", what);
}

/* ------------------------------------------------------------ checks */

static const char *allowed_origin(struct webchat *w, const struct og_http_req *req)
{
    const char *o = w->svc->req_header(req, "Origin");
    if (!o) {
        /* A same-origin GET carries no Origin (Fetch spec), e.g. from the
         * demo page: the browser says so in Sec-Fetch-Site, which no page
         * can set. The page's origin is then this server's own, allowed
         * when an allowed origin names the Host it was asked by. */
        const char *site = w->svc->req_header(req, "Sec-Fetch-Site");
        const char *host = w->svc->req_header(req, "Host");
        if (!site || strcmp(site, "same-origin") != 0 || !host)
            return NULL;
        for (size_t i = 0; i < w->n_origins; i++) {
            const char *hp = strstr(w->origins[i], "://");
            if (hp && strcasecmp(hp + 3, host) == 0)
                return w->origins[i];
        }
        return NULL;
    }
    for (size_t i = 0; i < w->n_origins; i++)
        if (strcmp(o, w->origins[i]) == 0)
            return o;
    return NULL;
}

/* The token of "Authorization: Bearer <token>", or NULL. */
static const char *bearer(struct rq *q)
{
    const char *a = q->svc->req_header(q->req, "Authorization");
    if (!a || strncmp(a, "Bearer ", 7) != 0)
        return NULL;
    a += 7;
    while (*a == ' ')
        a++;
    return *a ? a : NULL;
}

/* The visitor of the request's token: OG_OK, or answered 401. */
static int authed(struct rq *q, struct og_visitor *v)
{
    const char *t = bearer(q);
    og_err e = t ? q->svc->visitor->auth(q->w->host, t, v) : OG_ERR_SIGNATURE;
    if (e == OG_OK)
        return 1;
    fail_err(q, e, NULL);
    return 0;
}

/* Counts one stored thing against the client's address: 1 to go on, or 0
 * answered 429. */
static int ip_ok(struct rq *q)
{
    char addr[64], key[80];
    q->svc->visitor->client_addr(q->req, addr, sizeof addr);
    snprintf(key, sizeof key, "ip:%s", addr);
    long retry = 0;
    og_err e = q->svc->visitor->rate(q->w->host, key, WC_IP_RATE, WC_RATE_WINDOW_MS, &retry);
    if (e == OG_OK)
        return 1;
    if (e == OG_ERR_RATE_LIMITED)
        limited(q, retry, "too many requests from this address: retry later");
    else
        fail_err(q, e, NULL);
    return 0;
}

static int token_ok(struct rq *q, const struct og_visitor *v, const char *what, int limit)
{
    char key[64];
    snprintf(key, sizeof key, "%s:%s", what, v->token_key);
    long retry = 0;
    og_err e = q->svc->visitor->rate(q->w->host, key, limit, WC_RATE_WINDOW_MS, &retry);
    if (e == OG_OK)
        return 1;
    if (e == OG_ERR_RATE_LIMITED)
        limited(q, retry, "too many messages: retry later");
    else
        fail_err(q, e, NULL);
    return 0;
}

/* ------------------------------------------------------------ routes */

static og_err preflight(struct rq *q)
{
    cors(q);
    q->svc->respond_header(q->resp, "Access-Control-Allow-Methods", "GET, POST");
    q->svc->respond_header(q->resp, "Access-Control-Allow-Headers",
                           "Authorization, Content-Type, Last-Event-ID, X-Filename, X-Client-Id");
    q->svc->respond_header(q->resp, "Access-Control-Max-Age", "600");
    q->svc->respond(q->resp, 204, "text/plain", "", 0);
    return OG_OK;
}

static og_err get_config(struct rq *q)
{
    struct webchat *w = q->w;
    const struct og_json_api *J = q->svc->json;
    struct og_json *o = J->new_object(), *pre = J->new_object(), *fields = J->new_array();
    J->set(o, "channel", J->new_string(q->svc->visitor->channel_id(w->host)));
    J->set(o, "title", J->new_string(w->conf->title ? w->conf->title : ""));
    for (int i = 0; i < WC_F__N; i++) {
        if (!w->pre.used[i])
            continue;
        struct og_json *f = J->new_object();
        J->set(f, "name", J->new_string(webchat_field_names[i]));
        J->set(f, "required", J->new_bool(w->pre.required[i]));
        J->append(fields, f);
    }
    J->set(pre, "fields", fields);
    J->set(o, "pre_chat", pre);
    J->set(o, "opening_text", J->new_string(w->conf->opening_text ? w->conf->opening_text : ""));
    J->set(o, "closing_text", J->new_string(w->conf->closing_text ? w->conf->closing_text : ""));
    J->set(o, "offline_text", J->new_string(w->conf->offline_text ? w->conf->offline_text : ""));
    struct og_json *th = J->new_object();
    J->set(th, "color", J->new_string(w->theme.color));
    J->set(th, "position", J->new_string(w->theme.position));
    J->set(o, "theme", th);
    struct og_json *at = J->new_object(), *types = J->new_array();
    for (size_t i = 0; i < w->att.n_types; i++)
        J->append(types, J->new_string(w->att.types[i]));
    J->set(at, "types", types);
    J->set(at, "max_bytes", J->new_int(w->att.n_types ? w->att.max_bytes : 0));
    J->set(o, "attachments", at);
    struct og_visitor_survey sv;
    int has = w->conf->csat && q->svc->visitor->survey(w->host, &sv) == OG_OK;
    struct og_json *cs = J->new_object();
    J->set(cs, "enabled", J->new_bool(has));
    J->set(cs, "scale", J->new_int(has ? sv.scale : 5));
    J->set(cs, "question", J->new_string(has && sv.question ? sv.question : ""));
    J->set(cs, "thanks", J->new_string(has && sv.thanks ? sv.thanks : ""));
    J->set(cs, "comment", J->new_bool(has && sv.comment));
    J->set(o, "csat", cs);
    J->set(o, "online", J->new_bool(q->svc->visitor->online(w->host)));
    size_t n;
    const char *s = J->serialize(o, &n);
    cors(q);
    q->svc->respond(q->resp, 200, JSON, s, n);
    J->put(o);
    return OG_OK;
}

/* {"token"?, "contact_id", "session":VS|null, "messages":[VM...]} */
static og_err conversation_answer(struct rq *q, int status, const char *token,
                                  const struct og_visitor *v)
{
    char *vs = NULL, *vms = NULL;
    og_err e = q->svc->visitor->conversation(q->w->host, v, NULL, WC_HISTORY, &vs, &vms);
    if (e != OG_OK)
        return fail_err(q, e, NULL);
    const struct og_json_api *J = q->svc->json;
    struct og_json *o = J->new_object();
    if (token)
        J->set(o, "token", J->new_string(token));
    J->set(o, "contact_id", J->new_string(v->contact_id));
    size_t n;
    const char *head = J->serialize(o, &n);
    /* splice the host's JSON texts in as they are */
    size_t len = n + strlen(vs) + strlen(vms) + 40;
    char *body = q->svc->alloc(len);
    snprintf(body, len, "%.*s,\"session\":%s,\"messages\":%s}", (int)(n - 1), head, vs, vms);
    J->put(o);
    q->svc->free(vs);
    q->svc->free(vms);
    answer(q, status, body);
    q->svc->free(body);
    return OG_OK;
}

static og_err store_text(struct rq *q, const struct og_visitor *v, const char *text,
                         const char *client_id, char **vm, int *created);

static og_err post_start(struct rq *q)
{
    struct wc_start st;
    struct og_json *doc = NULL;
    char err[160];
    if (webchat_parse_start(q->svc, q->req->body, q->req->body_len, &st, &doc, err, sizeof err) !=
        OG_OK)
        return fail(q, 400, "invalid_request", err);
    struct og_visitor v;
    if (st.token && q->svc->visitor->auth(q->w->host, st.token, &v) == OG_OK) {
        og_err e = conversation_answer(q, 200, NULL, &v);
        q->svc->json->put(doc);
        return e;
    }
    for (int i = 0; i < WC_F__N; i++)
        if (q->w->pre.used[i] && q->w->pre.required[i] && !st.field[i]) {
            snprintf(err, sizeof err, "%s: required", webchat_field_names[i]);
            q->svc->json->put(doc);
            return fail(q, 400, "invalid_request", err);
        }
    if (!ip_ok(q)) {
        q->svc->json->put(doc);
        return OG_OK;
    }
    struct og_profile who = {
        .name = st.field[WC_F_NAME], .email = st.field[WC_F_EMAIL], .phone = st.field[WC_F_PHONE]};
    char token[64];
    og_err e = q->svc->visitor->create(q->w->host, &who, token, &v);
    if (e == OG_OK && st.field[WC_F_QUESTION]) {
        char *vm = NULL;
        int created = 0;
        e = store_text(q, &v, st.field[WC_F_QUESTION], NULL, &vm, &created);
        q->svc->free(vm);
    }
    q->svc->json->put(doc);
    if (e != OG_OK)
        return fail_err(q, e, NULL);
    return conversation_answer(q, 201, token, &v);
}

/* A visitor's text through the host's ingest. With a client_id the message
 * is stored once however often it is posted. */
static og_err store_text(struct rq *q, const struct og_visitor *v, const char *text,
                         const char *client_id, char **vm, int *created)
{
    char key[160];
    if (client_id)
        snprintf(key, sizeof key, "%s/%s", v->external_id, client_id);
    else {
        /* no client_id: a key of our own that no client can write ("~") */
        static unsigned long long seq;
        unsigned long long n = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
        char seed[96];
        unsigned char h[32];
        char hex[65];
        int sl = snprintf(seed, sizeof seed, "%s:%lld:%llu:%p", v->external_id,
                          (long long)q->svc->now_ms(), n, (void *)&n);
        q->svc->sha256(seed, (size_t)sl, h);
        q->svc->hex_encode(h, 12, hex, sizeof hex);
        snprintf(key, sizeof key, "%s/~%s", v->external_id, hex);
    }
    struct og_inbound m = {
        .struct_size = sizeof m,
        .dedup_key = key,
        .provider_message_id = key,
        .thread_id = v->external_id,
        .from = {.external_id = v->external_id},
        .kind = OG_KIND_TEXT,
        .text = text,
        .timestamp_ms = 0,
        .raw = "",
        .raw_len = 0,
    };
    return q->svc->visitor->message(q->w->host, v, &m, vm, created);
}

static og_err post_message(struct rq *q)
{
    struct og_visitor v;
    if (!authed(q, &v))
        return OG_OK;
    struct wc_message m;
    struct og_json *doc = NULL;
    char err[160];
    if (webchat_parse_message(q->svc, q->req->body, q->req->body_len, &m, &doc, err, sizeof err) !=
        OG_OK)
        return fail(q, 400, "invalid_request", err);
    if (!ip_ok(q) || !token_ok(q, &v, "msg", WC_TOKEN_RATE)) {
        q->svc->json->put(doc);
        return OG_OK;
    }
    char *vm = NULL;
    int created = 0;
    og_err e = store_text(q, &v, m.text, m.client_id, &vm, &created);
    q->svc->json->put(doc);
    if (e != OG_OK)
        return fail_err(q, e, NULL);
    return answer_wrapped(q, created ? 201 : 200, "message", vm);
}

static og_err get_messages(struct rq *q)
{
    struct og_visitor v;
    if (!authed(q, &v))
        return OG_OK;
    const char *after = q->svc->req_query(q->req, "after");
    if (after && *after && !webchat_msg_id_ok(after))
        return fail(q, 400, "invalid_request", "after: a message id");
    char *vms = NULL;
    og_err e = q->svc->visitor->conversation(q->w->host, &v, after && *after ? after : NULL,
                                             WC_HISTORY, NULL, &vms);
    if (e != OG_OK)
        return fail_err(q, e, e == OG_ERR_NOT_FOUND ? "no such message" : NULL);
    return answer_wrapped(q, 200, "messages", vms);
}

static og_err get_events(struct rq *q)
{
    struct og_visitor v;
    if (!authed(q, &v))
        return OG_OK;
    const char *last = q->svc->req_header(q->req, "Last-Event-ID");
    if (last && *last && !webchat_msg_id_ok(last))
        return fail(q, 400, "invalid_request", "Last-Event-ID: a message id");
    struct og_visitor_stream o = {
        .struct_size = sizeof o,
        .last_event_id = last && *last ? last : NULL,
        .max_streams = WC_STREAMS_PER_TOKEN,
        .closing_text = q->w->conf->closing_text,
        .offer_csat = 0,
    };
    struct og_visitor_survey sv;
    o.offer_csat = q->w->conf->csat && q->svc->visitor->survey(q->w->host, &sv) == OG_OK;
    cors(q);
    og_err e = q->svc->visitor->stream(q->w->host, q->req, q->resp, &v, &o);
    if (e == OG_ERR_RATE_LIMITED) {
        q->svc->respond_header(q->resp, "Retry-After", "1");
        return fail(q, 429, "rate_limited", "too many live streams for this visitor: close one");
    }
    return e == OG_OK ? OG_OK : fail_err(q, e, NULL);
}

static og_err post_typing(struct rq *q)
{
    struct og_visitor v;
    if (!authed(q, &v))
        return OG_OK;
    int on = 0;
    char err[160];
    if (webchat_parse_typing(q->svc, q->req->body, q->req->body_len, &on, err, sizeof err) != OG_OK)
        return fail(q, 400, "invalid_request", err);
    if (!token_ok(q, &v, "typ", 2 * WC_TOKEN_RATE))
        return OG_OK;
    og_err e = q->svc->visitor->typing(q->w->host, &v, on);
    return e == OG_OK ? answer(q, 204, NULL) : fail_err(q, e, NULL);
}

static og_err post_read(struct rq *q)
{
    struct og_visitor v;
    if (!authed(q, &v))
        return OG_OK;
    char until[80], err[160];
    if (webchat_parse_read(q->svc, q->req->body, q->req->body_len, until, sizeof until, err,
                           sizeof err) != OG_OK)
        return fail(q, 400, "invalid_request", err);
    if (!token_ok(q, &v, "typ", 2 * WC_TOKEN_RATE))
        return OG_OK;
    og_err e = q->svc->visitor->read(q->w->host, &v, until);
    return e == OG_OK ? answer(q, 204, NULL)
                      : fail_err(q, e, e == OG_ERR_NOT_FOUND ? "no such message" : NULL);
}

static og_err post_close(struct rq *q)
{
    struct og_visitor v;
    if (!authed(q, &v))
        return OG_OK;
    char *vs = NULL;
    og_err e = q->svc->visitor->close(q->w->host, &v, &vs);
    if (e != OG_OK)
        return fail_err(q, e, e == OG_ERR_NOT_FOUND ? "no open session" : NULL);
    return answer_wrapped(q, 200, "session", vs);
}

static og_err post_csat(struct rq *q)
{
    struct og_visitor v;
    if (!authed(q, &v))
        return OG_OK;
    struct wc_csat c;
    struct og_json *doc = NULL;
    char err[160];
    if (webchat_parse_csat(q->svc, q->req->body, q->req->body_len, &c, &doc, err, sizeof err) !=
        OG_OK)
        return fail(q, 400, "invalid_request", err);
    if (!q->w->conf->csat) {
        q->svc->json->put(doc);
        return fail(q, 404, "not_found", "this channel offers no survey");
    }
    if (!ip_ok(q)) {
        q->svc->json->put(doc);
        return OG_OK;
    }
    char *cj = NULL;
    og_err e = q->svc->visitor->csat(
        q->w->host, &v, (int)(c.score > 100 || c.score < -100 ? 0 : c.score), c.comment, &cj);
    q->svc->json->put(doc);
    if (e == OG_ERR_CONFLICT)
        return fail(q, 409, "already_rated", "this conversation was rated already");
    if (e != OG_OK)
        return fail_err(q, e,
                        e == OG_ERR_INVALID     ? "score: out of the survey's scale"
                        : e == OG_ERR_NOT_FOUND ? "no conversation to rate"
                                                : NULL);
    return answer_wrapped(q, 201, "csat", cj);
}

/* The offline form: a message and an e-mail address become a session in
 * the queue (the token, when the widget has one, keeps the same contact). */
static og_err post_offline(struct rq *q)
{
    struct wc_offline off;
    struct og_json *doc = NULL;
    char err[160];
    if (webchat_parse_offline(q->svc, q->req->body, q->req->body_len, &off, &doc, err,
                              sizeof err) != OG_OK)
        return fail(q, 400, "invalid_request", err);
    if (!ip_ok(q)) {
        q->svc->json->put(doc);
        return OG_OK;
    }
    struct og_visitor v;
    char token[64] = "";
    const char *bt = bearer(q);
    const char *have = bt ? bt : off.token;
    og_err e = OG_ERR_SIGNATURE;
    if (have)
        e = q->svc->visitor->auth(q->w->host, have, &v);
    if (e == OG_OK) {
        snprintf(token, sizeof token, "%s", have);
    } else {
        struct og_profile who = {.name = off.name, .email = off.email};
        e = q->svc->visitor->create(q->w->host, &who, token, &v);
    }
    char *vm = NULL, *vs = NULL;
    int created = 0;
    if (e == OG_OK)
        e = store_text(q, &v, off.text, NULL, &vm, &created);
    q->svc->free(vm);
    if (e == OG_OK)
        e = q->svc->visitor->conversation(q->w->host, &v, NULL, 0, &vs, NULL);
    q->svc->json->put(doc);
    if (e != OG_OK)
        return fail_err(q, e, NULL);
    const struct og_json_api *J = q->svc->json;
    struct og_json *o = J->new_object();
    J->set(o, "token", J->new_string(token));
    size_t n;
    const char *head = J->serialize(o, &n);
    size_t len = n + strlen(vs) + 16;
    char *body = q->svc->alloc(len);
    snprintf(body, len, "%.*s,\"session\":%s}", (int)(n - 1), head, vs);
    J->put(o);
    q->svc->free(vs);
    return answer_owned(q, 201, body);
}

static int has_files(struct rq *q)
{
    return q->w->att.n_types > 0 &&
           q->svc->visitor->struct_size >=
               offsetof(struct og_visitor_api, attachment_get) + sizeof(void *);
}

/* A file: raw body, Content-Type its type, X-Filename its (percent-encoded)
 * name, X-Client-Id for a retry. 415 for a type the channel does not take,
 * 413 over max_bytes. */
static og_err post_attachment(struct rq *q)
{
    struct og_visitor v;
    if (!authed(q, &v))
        return OG_OK;
    if (!has_files(q))
        return fail(q, 415, "unsupported_media_type", "this chat takes no files");
    char type[128];
    int allowed = 0;
    if (webchat_media_type(q->svc->req_header(q->req, "Content-Type"), type, sizeof type) == 0)
        for (size_t i = 0; i < q->w->att.n_types; i++)
            allowed |= strcmp(type, q->w->att.types[i]) == 0;
    if (!allowed)
        return fail(q, 415, "unsupported_media_type", "this type of file is not taken here");
    if (q->req->body_len == 0)
        return fail(q, 400, "invalid_request", "the body is the file: empty");
    if ((int64_t)q->req->body_len > q->w->att.max_bytes)
        return fail(q, 413, "payload_too_large", "the file is larger than this chat takes");
    const char *cid = q->svc->req_header(q->req, "X-Client-Id");
    if (cid &&
        (strlen(cid) < 1 || strlen(cid) > WC_CLIENT_ID_MAX ||
         cid[strspn(cid, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_")]))
        return fail(q, 400, "invalid_request", "X-Client-Id: 1..64 of A-Z a-z 0-9 - _");
    if (!ip_ok(q) || !token_ok(q, &v, "msg", WC_TOKEN_RATE))
        return OG_OK;
    char name[256], key[160];
    webchat_filename(q->svc->req_header(q->req, "X-Filename"), name, sizeof name);
    if (cid) {
        snprintf(key, sizeof key, "%s/%s", v.external_id, cid);
    } else {
        unsigned char h[32];
        char hex[65], seed[96];
        int sl = snprintf(seed, sizeof seed, "%s:%lld:%zu:%p", v.external_id,
                          (long long)q->svc->now_ms(), q->req->body_len, (void *)q);
        q->svc->sha256(seed, (size_t)sl, h);
        q->svc->hex_encode(h, 12, hex, sizeof hex);
        snprintf(key, sizeof key, "%s/~%s", v.external_id, hex);
    }
    char *vm = NULL;
    int created = 0;
    og_err e = q->svc->visitor->attachment(q->w->host, &v, key, type, name, q->req->body,
                                           q->req->body_len, &vm, &created);
    if (e != OG_OK)
        return fail_err(q, e, NULL);
    return answer_wrapped(q, created ? 201 : 200, "message", vm);
}

/* GET /attachments/{id}: one of the visitor's own files. */
static og_err get_attachment(struct rq *q, const char *id)
{
    struct og_visitor v;
    if (!authed(q, &v))
        return OG_OK;
    if (!has_files(q) || !webchat_file_id_ok(id))
        return fail(q, 404, "not_found", "no such file");
    char *data = NULL, *mime = NULL, *name = NULL;
    size_t len = 0;
    og_err e = q->svc->visitor->attachment_get(q->w->host, &v, id, &data, &len, &mime, &name);
    if (e != OG_OK)
        return fail_err(q, e, e == OG_ERR_NOT_FOUND ? "no such file" : NULL);
    cors(q);
    q->svc->respond_header(q->resp, "X-Content-Type-Options", "nosniff");
    q->svc->respond_header(q->resp, "Content-Security-Policy", "default-src 'none'; sandbox");
    q->svc->respond_header(q->resp, "Cache-Control", "private, max-age=3600");
    q->svc->respond(q->resp, 200, mime, data, len);
    q->svc->free(data), q->svc->free(mime), q->svc->free(name);
    return OG_OK;
}

static const struct route {
    const char *method, *path;
    og_err (*fn)(struct rq *q);
} routes[] = {
    {"GET", "/config", get_config},
    {"POST", "/start", post_start},
    {"GET", "/messages", get_messages},
    {"POST", "/messages", post_message},
    {"GET", "/events", get_events},
    {"POST", "/typing", post_typing},
    {"POST", "/read", post_read},
    {"POST", "/close", post_close},
    {"POST", "/csat", post_csat},
    {"POST", "/offline", post_offline},
    {"POST", "/attachments", post_attachment},
};

const char *const webchat_visitor_routes[] = {
    "GET /config",
    "POST /start",
    "GET /messages",
    "POST /messages",
    "GET /events",
    "POST /typing",
    "POST /read",
    "POST /close",
    "POST /csat",
    "POST /offline",
    "OPTIONS /config",
    "OPTIONS /start",
    "OPTIONS /messages",
    "OPTIONS /events",
    "OPTIONS /typing",
    "OPTIONS /read",
    "OPTIONS /close",
    "OPTIONS /csat",
    "OPTIONS /offline",
    "POST /attachments",
    "OPTIONS /attachments",
    "GET /attachments/:id",
    "OPTIONS /attachments/:id",
    NULL,
};

og_err webchat_handle_visitor(void *inst, const struct og_http_req *req, struct og_http_resp *resp)
{
    struct webchat *w = inst;
    struct rq q = {w, w->svc, req, resp, allowed_origin(w, req)};
    if (!q.origin)
        return fail(&q, 403, "forbidden", "this page's origin may not use this chat");
    const char *path = req->path ? req->path : "";
    if (strncmp(path, "/attachments/", 13) == 0 && !strchr(path + 13, '/')) {
        if (strcmp(req->method, "OPTIONS") == 0)
            return preflight(&q);
        if (strcmp(req->method, "GET") == 0)
            return get_attachment(&q, path + 13);
        q.svc->respond_header(resp, "Allow", "GET, OPTIONS");
        return fail(&q, 405, "method_not_allowed", "the route exists but not with this method");
    }
    int path_known = 0;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        if (strcmp(path, routes[i].path) != 0)
            continue;
        path_known = 1;
        if (strcmp(req->method, "OPTIONS") == 0)
            return preflight(&q);
        if (strcmp(req->method, routes[i].method) == 0)
            return routes[i].fn(&q);
    }
    if (!path_known)
        return fail(&q, 404, "not_found", "no such route");
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (strcmp(path, routes[i].path) == 0) {
            /* Allow lists the methods of this path */
            char allow[32];
            snprintf(allow, sizeof allow, "%s, OPTIONS", routes[i].method);
            for (size_t j = i + 1; j < sizeof routes / sizeof *routes; j++)
                if (strcmp(path, routes[j].path) == 0)
                    snprintf(allow, sizeof allow, "%s, %s, OPTIONS", routes[i].method,
                             routes[j].method);
            q.svc->respond_header(resp, "Allow", allow);
            break;
        }
    return fail(&q, 405, "method_not_allowed", "the route exists but not with this method");
}
