/* line_send.c - one normalized outbound message becomes a LINE reply or push
 * request, and LINE's answer becomes an og_err.
 *
 * Platform API: LINE Messaging API, POST /v2/bot/message/reply and
 * POST /v2/bot/message/push (line/line-openapi messaging-api.yml:
 * ReplyMessageRequest, PushMessageRequest, SentMessage, ErrorResponse).
 *
 * Messages (at most 5 per request, as LINE allows):
 *   text       split into pieces of at most 5000 UTF-16 code units, cut after
 *              a newline or space when there is one in the second half of
 *              the piece, else between code points; more than 5 pieces is a
 *              permanent error ("too_long") and nothing is sent
 *   image      {"type":"image","originalContentUrl":url,"previewImageUrl":url}
 *              per attachment with a url, then the caption as text
 *   file, video, audio
 *              LINE has no outbound file type (video and audio need a
 *              preview image / duration we do not have): sent as text, the
 *              caption then one "name: url" line per attachment
 *   sticker    {"type":"sticker","packageId","stickerId"} when media_id is
 *              "<packageId>:<stickerId>" (the form inbound stickers carry)
 *   interactive with text: sent as text
 *   others     OG_ERR_UNSUPPORTED
 * Reply buttons (ABI 1.3) become the last message's quick reply, one
 * postback action each: {"type":"action","action":{"type":"postback",
 * "label":title,"data":{"id","title"} as JSON text,"displayText":title}}; at
 * most 13, a label of 20 characters, data of 300 (an id of 180 bytes keeps
 * it there). The tap's postback event carries the data back (line_parse.c).
 * reply_to_provider_id is not used: quoting needs the quoteToken of the
 * quoted message, which the host does not keep (see README.md).
 *
 * Reply or push: the reply token is used when one is given and it is younger
 * than 50 s (LINE: tokens expire about a minute after the webhook; 10 s of
 * margin covers queueing and clock skew). A 400 "Invalid reply token" falls
 * back to push; so do a 5xx and a transport failure, because a reply cannot
 * be retried idempotently while a push can (the retry key). The instance
 * remembers which message ids and which tokens were spent on a reply, so a
 * retry of the same message, or the next message handed the same token,
 * goes straight to push and never replays a token. Push goes
 * to thread_id (else contact_external_id) with X-Line-Retry-Key derived from
 * our message id; a 409 for that key means LINE already accepted it.
 *
 * Errors: 429 rate limited (+Retry-After), 401 auth, 400/403/other 4xx
 * permanent, 5xx and transport retryable. error_code is the HTTP status,
 * error_message LINE's "message" plus the first detail. */
#include "line.h"
#include "og_text.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

void line_retry_key(const struct og_services *svc, const char *message_id, char out[37])
{
    unsigned char h[32];
    char hex[33];
    svc->sha256(message_id, strlen(message_id), h);
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x40); /* version 4 */
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    svc->hex_encode(h, 16, hex, sizeof hex);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

size_t line_split_text(const char *text, size_t max_units, size_t max_parts, size_t *off,
                       size_t *len)
{
    size_t total = text ? strlen(text) : 0, n = 0;
    if (total == 0 || max_units < 2)
        return 0;
    for (size_t start = 0; start < total; n++) {
        if (n == max_parts)
            return (size_t)-1;
        off[n] = start;
        len[n] = og_text_split_len(text + start, total - start, max_units);
        start += len[n];
    }
    return n;
}

/* Appends {"type":"text","text":<n bytes of s>}. */
static void ls_add_text(const struct og_services *svc, struct og_json *arr, const char *s, size_t n)
{
    const struct og_json_api *js = svc->json;
    char *piece = svc->alloc(n + 1); /* new_string takes a NUL-terminated string */
    memcpy(piece, s, n);
    piece[n] = 0;
    struct og_json *o = js->new_object();
    js->set(o, "type", js->new_string("text"));
    js->set(o, "text", js->new_string(piece));
    js->append(arr, o);
    svc->free(piece);
}

struct ls_build {
    struct og_json *messages; /* array [xfer] */
    size_t n;
    const char *err_code, *err_msg;
};

/* Splits text and appends the pieces. Returns 0, or -1 with b->err set. */
static int ls_text(const struct og_services *svc, struct ls_build *b, const char *text)
{
    size_t off[LINE_MAX_MESSAGES], len[LINE_MAX_MESSAGES];
    size_t room = LINE_MAX_MESSAGES - b->n;
    size_t parts = line_split_text(text, LINE_TEXT_MAX, room, off, len);
    if (parts == (size_t)-1) {
        b->err_code = "too_long";
        b->err_msg = "text needs more LINE messages than the 5 one request may carry "
                     "(5000 characters each)";
        return -1;
    }
    for (size_t i = 0; i < parts; i++)
        ls_add_text(svc, b->messages, text + off[i], len[i]);
    b->n += parts;
    return 0;
}

/* Builds the messages array. Returns OG_OK, OG_ERR_PERMANENT or
 * OG_ERR_UNSUPPORTED (b->err_* say why). */
static og_err ls_build_messages(const struct og_services *svc, const struct og_outbound *m,
                                struct ls_build *b)
{
    const struct og_json_api *js = svc->json;
    const char *text = m->text && *m->text ? m->text : NULL;
    b->messages = js->new_array();
    switch (m->kind) {
    case OG_KIND_TEXT:
    case OG_KIND_INTERACTIVE:
        if (!text) {
            b->err_code = "empty";
            b->err_msg = "no text to send";
            return OG_ERR_PERMANENT;
        }
        return ls_text(svc, b, text) ? OG_ERR_PERMANENT : OG_OK;
    case OG_KIND_IMAGE:
        for (size_t i = 0; i < m->n_attachments && m->attachments; i++) {
            const char *url = m->attachments[i].url;
            if (!url || !*url)
                continue;
            if (b->n == LINE_MAX_MESSAGES) {
                b->err_code = "too_many";
                b->err_msg = "more than 5 images in one message";
                return OG_ERR_PERMANENT;
            }
            struct og_json *o = js->new_object();
            js->set(o, "type", js->new_string("image"));
            js->set(o, "originalContentUrl", js->new_string(url));
            js->set(o, "previewImageUrl", js->new_string(url));
            js->append(b->messages, o);
            b->n++;
        }
        if (b->n == 0) {
            b->err_code = "no_url";
            b->err_msg = "an image needs an attachment url";
            return OG_ERR_PERMANENT;
        }
        if (text && b->n == LINE_MAX_MESSAGES) {
            b->err_code = "too_many";
            b->err_msg = "5 images leave no room for the caption (5 messages per request)";
            return OG_ERR_PERMANENT;
        }
        return text && ls_text(svc, b, text) ? OG_ERR_PERMANENT : OG_OK;
    case OG_KIND_FILE:
    case OG_KIND_VIDEO:
    case OG_KIND_AUDIO: {
        /* As a link in text: caption, then "name: url" lines. */
        size_t need = (text ? strlen(text) + 1 : 0) + 1;
        for (size_t i = 0; i < m->n_attachments && m->attachments; i++) {
            const struct og_attachment *a = &m->attachments[i];
            if (a->url && *a->url)
                need += (a->name ? strlen(a->name) + 2 : 0) + strlen(a->url) + 1;
        }
        char *t = svc->alloc(need);
        size_t p = 0;
        int links = 0;
        if (text)
            p += (size_t)snprintf(t + p, need - p, "%s", text);
        for (size_t i = 0; i < m->n_attachments && m->attachments; i++) {
            const struct og_attachment *a = &m->attachments[i];
            if (!a->url || !*a->url)
                continue;
            p += (size_t)snprintf(t + p, need - p, "%s%s%s%s", p ? "\n" : "",
                                  a->name && *a->name ? a->name : "",
                                  a->name && *a->name ? ": " : "", a->url);
            links++;
        }
        og_err e = OG_OK;
        if (!links) {
            b->err_code = "no_url";
            b->err_msg = "a file is sent as a link and needs an attachment url";
            e = OG_ERR_PERMANENT;
        } else if (ls_text(svc, b, t)) {
            e = OG_ERR_PERMANENT;
        }
        svc->free(t);
        return e;
    }
    case OG_KIND_STICKER: {
        const char *mid = m->n_attachments && m->attachments ? m->attachments[0].media_id : NULL;
        const char *colon = mid ? strchr(mid, ':') : NULL;
        if (!colon || colon == mid || !colon[1] || strlen(mid) > 64) {
            b->err_code = "unsupported";
            b->err_msg = "a LINE sticker needs media_id \"<packageId>:<stickerId>\"";
            return OG_ERR_UNSUPPORTED;
        }
        char pkg[65];
        snprintf(pkg, sizeof pkg, "%.*s", (int)(colon - mid), mid);
        struct og_json *o = js->new_object();
        js->set(o, "type", js->new_string("sticker"));
        js->set(o, "packageId", js->new_string(pkg));
        js->set(o, "stickerId", js->new_string(colon + 1));
        js->append(b->messages, o);
        b->n++;
        return OG_OK;
    }
    default:
        b->err_code = "unsupported";
        b->err_msg = "the LINE connector cannot send this kind of message";
        return OG_ERR_UNSUPPORTED;
    }
}

/* ------------------------------------------------------------- the call */

/* What one LINE call came back with. */
struct ls_answer {
    og_err transport; /* OG_OK when an HTTP answer came */
    struct og_http_result r;
};

static void ls_call(struct line *ln, const char *path, const char *retry_key, const char *body,
                    size_t body_len, struct ls_answer *a)
{
    const struct og_services *svc = ln->svc;
    size_t ul = strlen(ln->api_base) + strlen(path) + 1;
    char *url = svc->alloc(ul);
    snprintf(url, ul, "%s%s", ln->api_base, path);
    char rk[64];
    const char *headers[3] = {ln->auth_header, NULL, NULL};
    if (retry_key) {
        snprintf(rk, sizeof rk, "X-Line-Retry-Key: %s", retry_key);
        headers[1] = rk;
    }
    struct og_http_call call = {
        .struct_size = sizeof call,
        .method = "POST",
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = body_len,
        .content_type = "application/json",
        .timeout_ms = LINE_SEND_TIMEOUT_MS,
    };
    a->transport = svc->http(ln->host, &call, &a->r);
    svc->free(url);
}

/* The first sentMessages[].id of a 200 or 409 body, [xfer] or NULL. */
static char *ls_sent_id(const struct og_services *svc, const struct og_http_result *r)
{
    const struct og_json_api *js = svc->json;
    struct og_json *doc = r->body ? js->parse(r->body, r->body_len) : NULL;
    struct og_json *id = js->find(doc, "sentMessages.0.id");
    enum og_json_type t = js->type(id);
    char *s = (t == OG_JSON_STRING || t == OG_JSON_INT) ? svc->strdup(js->str(id)) : NULL;
    js->put(doc);
    return s;
}

/* Copies LINE's error words into res. */
static void ls_error_words(const struct og_services *svc, const struct og_http_result *r,
                           struct og_send_result *res)
{
    const struct og_json_api *js = svc->json;
    snprintf(res->error_code, sizeof res->error_code, "%ld", r->status);
    struct og_json *doc = r->body ? js->parse(r->body, r->body_len) : NULL;
    const char *msg = js->str(js->get(doc, "message"));
    const char *dmsg = js->str(js->find(doc, "details.0.message"));
    const char *dprop = js->str(js->find(doc, "details.0.property"));
    if (msg && dmsg)
        snprintf(res->error_message, sizeof res->error_message, "%s (%s%s%s)", msg,
                 dprop ? dprop : "", dprop ? ": " : "", dmsg);
    else if (msg)
        snprintf(res->error_message, sizeof res->error_message, "%s", msg);
    else
        snprintf(res->error_message, sizeof res->error_message, "HTTP %ld from LINE", r->status);
    js->put(doc);
}

/* Maps a non-success answer. */
static og_err ls_map_error(const struct og_services *svc, const struct ls_answer *a,
                           struct og_send_result *res)
{
    if (a->transport != OG_OK) {
        snprintf(res->error_code, sizeof res->error_code, "transport");
        snprintf(res->error_message, sizeof res->error_message, "%s", a->r.errbuf);
        return OG_ERR_RETRYABLE;
    }
    ls_error_words(svc, &a->r, res);
    long s = a->r.status;
    if (s == 429) {
        res->retry_after_ms = a->r.retry_after_ms;
        return OG_ERR_RATE_LIMITED;
    }
    if (s == 401)
        return OG_ERR_AUTH;
    if (s >= 500 || s < 400)
        return OG_ERR_RETRYABLE;
    return OG_ERR_PERMANENT; /* 400, 403, 404, 413, ... */
}

static int ls_invalid_reply_token(const struct og_http_result *r)
{
    return r->status == 400 && r->body && strcasestr(r->body, "invalid reply token");
}

/* A 64-bit hash of kind ('m' message id, 't' reply token) + s for the
 * replied table. */
static uint64_t ls_hash(const struct og_services *svc, char kind, const char *s)
{
    unsigned char h[32];
    size_t n = strlen(s);
    char *buf = svc->alloc(n + 2);
    buf[0] = kind;
    memcpy(buf + 1, s, n + 1);
    svc->sha256(buf, n + 1, h);
    svc->free(buf);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | h[i];
    return v | 1; /* 0 marks a free slot */
}

/* Returns 1 when this message already spent a reply token, or this reply
 * token was already spent (the host hands the last token it got to every
 * message that follows; LINE tokens are single-use). Otherwise records both
 * and returns 0: the caller is about to spend the token. */
static int ls_reply_spent(struct line *ln, const char *message_id, const char *token)
{
    uint64_t hm = message_id ? ls_hash(ln->svc, 'm', message_id) : 0;
    uint64_t ht = ls_hash(ln->svc, 't', token);
    int seen = 0;
    pthread_mutex_lock(&ln->mu);
    for (size_t i = 0; i < LINE_REPLIED_SLOTS && !seen; i++)
        seen = ln->replied[i] == ht || (hm && ln->replied[i] == hm);
    if (!seen) {
        ln->replied[ln->replied_next] = ht;
        ln->replied_next = (ln->replied_next + 1) % LINE_REPLIED_SLOTS;
        if (hm) {
            ln->replied[ln->replied_next] = hm;
            ln->replied_next = (ln->replied_next + 1) % LINE_REPLIED_SLOTS;
        }
    }
    pthread_mutex_unlock(&ln->mu);
    return seen;
}

/* Serializes {"<key>": <val>, "messages": <messages text>}, [xfer]. */
static char *ls_request(const struct og_services *svc, const char *key, const char *val,
                        const char *messages, size_t mlen, size_t *blen)
{
    const struct og_json_api *js = svc->json;
    struct og_json *req = js->new_object();
    js->set(req, key, js->new_string(val));
    js->set(req, "messages", js->parse(messages, mlen));
    const char *s = js->serialize(req, blen);
    char *copy = svc->alloc(*blen + 1);
    memcpy(copy, s, *blen + 1);
    js->put(req);
    return copy;
}

/* The quick reply of buttons on the last message. 0, or -1 with b->err set. */
static int ls_buttons(const struct og_services *svc, const struct og_outbound *m,
                      struct ls_build *b)
{
    const struct og_json_api *js = svc->json;
    size_t nb = m->struct_size >= offsetof(struct og_outbound, n_buttons) + sizeof m->n_buttons &&
                        m->buttons
                    ? m->n_buttons
                    : 0;
    size_t nm = js->len(b->messages);
    if (!nb || !nm)
        return 0;
    if (nb > LINE_MAX_BUTTONS) {
        b->err_code = "invalid";
        b->err_msg = "a LINE quick reply holds at most 13 items";
        return -1;
    }
    struct og_json *items = js->new_array();
    for (size_t i = 0; i < nb; i++) {
        struct og_json *d = js->new_object();
        js->set(d, "id", js->new_string(m->buttons[i].id));
        js->set(d, "title", js->new_string(m->buttons[i].title));
        size_t dl = 0;
        const char *dt = js->serialize(d, &dl);
        if (dl > 300) {
            js->put(d);
            js->put(items);
            b->err_code = "invalid";
            b->err_msg = "a button's id and title exceed LINE's 300 characters of postback data";
            return -1;
        }
        struct og_json *act = js->new_object();
        js->set(act, "type", js->new_string("postback"));
        js->set(act, "label", js->new_string(m->buttons[i].title));
        js->set(act, "data", js->new_string(dt));
        js->set(act, "displayText", js->new_string(m->buttons[i].title));
        js->put(d);
        struct og_json *it = js->new_object();
        js->set(it, "type", js->new_string("action"));
        js->set(it, "action", act);
        js->append(items, it);
    }
    struct og_json *qr = js->new_object();
    js->set(qr, "items", items);
    js->set(js->at(b->messages, nm - 1), "quickReply", qr);
    return 0;
}

og_err line_send(struct line *ln, const struct og_outbound *m, struct og_send_result *res)
{
    const struct og_services *svc = ln->svc;
    const struct og_json_api *js = svc->json;
    res->retry_after_ms = -1;

    struct ls_build b = {0};
    og_err e = ls_build_messages(svc, m, &b);
    if (e == OG_OK && ls_buttons(svc, m, &b) != 0)
        e = OG_ERR_INVALID;
    if (e != OG_OK) {
        snprintf(res->error_code, sizeof res->error_code, "%s", b.err_code);
        snprintf(res->error_message, sizeof res->error_message, "%s", b.err_msg);
        js->put(b.messages);
        return e;
    }
    if (m->reply_to_provider_id)
        svc->log(ln->host, OG_LOG_DEBUG, "%s: LINE quoting needs a quoteToken, sent unquoted",
                 m->message_id ? m->message_id : "message");
    size_t mlen;
    const char *mtext = js->serialize(b.messages, &mlen); /* [borrowed] from b.messages */

    const char *to = m->thread_id && *m->thread_id ? m->thread_id : m->contact_external_id;
    const int have_id = m->message_id && *m->message_id;
    struct ls_answer a;
    size_t blen;
    char *body;

    /* 1. Reply, while the token is fresh and unspent. */
    if (m->reply_token && *m->reply_token && m->reply_token_age_ms >= 0 &&
        m->reply_token_age_ms < LINE_REPLY_MAX_AGE_MS &&
        !ls_reply_spent(ln, m->message_id, m->reply_token)) {
        body = ls_request(svc, "replyToken", m->reply_token, mtext, mlen, &blen);
        memset(&a, 0, sizeof a);
        ls_call(ln, "/v2/bot/message/reply", NULL, body, blen, &a);
        svc->free(body);
        if (a.transport == OG_OK && a.r.status == 200) {
            res->provider_message_id = ls_sent_id(svc, &a.r);
            svc->http_result_free(&a.r);
            js->put(b.messages);
            return OG_OK;
        }
        /* An unusable token, or an answer we cannot trust either way: push.
         * Anything else (429, 401, 403, a 400 about the body) would fail
         * the same way as a push. */
        int fallback = a.transport != OG_OK || a.r.status >= 500 || ls_invalid_reply_token(&a.r);
        if (!fallback || !to || !*to) {
            e = ls_map_error(svc, &a, res);
            svc->http_result_free(&a.r);
            js->put(b.messages);
            return e;
        }
        svc->log(ln->host, OG_LOG_DEBUG, "reply %s (HTTP %ld), pushing instead",
                 a.transport != OG_OK ? "failed" : "refused", a.r.status);
        svc->http_result_free(&a.r);
    }

    /* 2. Push, idempotent through the retry key. */
    if (!to || !*to) {
        snprintf(res->error_code, sizeof res->error_code, "no_recipient");
        snprintf(res->error_message, sizeof res->error_message,
                 "neither thread_id nor contact_external_id is set");
        js->put(b.messages);
        return OG_ERR_PERMANENT;
    }
    char key[37];
    if (have_id)
        line_retry_key(svc, m->message_id, key);
    body = ls_request(svc, "to", to, mtext, mlen, &blen);
    js->put(b.messages);
    memset(&a, 0, sizeof a);
    ls_call(ln, "/v2/bot/message/push", have_id ? key : NULL, body, blen, &a);
    svc->free(body);
    if (a.transport == OG_OK && (a.r.status == 200 || (a.r.status == 409 && have_id))) {
        res->provider_message_id = ls_sent_id(svc, &a.r);
        if (!res->provider_message_id && a.r.status == 409)
            res->provider_message_id = svc->strdup(key); /* accepted before; no id given */
        if (a.r.status == 409)
            svc->log(ln->host, OG_LOG_DEBUG, "%s: push already accepted (409)", m->message_id);
        svc->http_result_free(&a.r);
        return OG_OK;
    }
    e = ls_map_error(svc, &a, res);
    svc->http_result_free(&a.r);
    return e;
}
