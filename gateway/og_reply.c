/* og_reply - see og_reply.h. */
#include "og_reply.h"
#include "og_log.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* clang-format off */
static const struct og_reply_row rows[] = {
    {"invalid_request",    400, OG_ERR_INVALID,       "malformed input (the message names the field); nothing changed"},
    {"invalid_json",       400, OG_ERR__LAST,         "the body is not exactly one JSON object"},
    {"url_refused",        400, OG_ERR__LAST,         "a URL omnigate would fetch points where it never fetches from (loopback, private, link-local, multicast or reserved addresses); the message says why"},
    {"invalid_signature",  401, OG_ERR_SIGNATURE,     "a platform webhook's signature is missing or wrong; nothing stored"},
    {"unauthorized",       401, OG_ERR_AUTH,          "missing or invalid credentials: bearer token, session cookie, or e-mail and password"},
    {"link_invalid",       401, OG_ERR__LAST,         "a survey or attachment link's token is malformed or its signature is wrong; nothing stored"},
    {"forbidden",          403, OG_ERR_FORBIDDEN,     "the caller's role or address may not do this"},
    {"csrf_invalid",       403, OG_ERR__LAST,         "a request made with the session cookie lacks the session's X-CSRF-Token header"},
    {"not_found",          404, OG_ERR_NOT_FOUND,     "no such route or object (or one the caller may not see)"},
    {"method_not_allowed", 405, OG_ERR__LAST,         "the route exists but not with this method"},
    {"conflict",           409, OG_ERR_CONFLICT,      "the object's state does not allow this now"},
    {"session_open",       409, OG_ERR__LAST,         "the contact has an open session: reply to it"},
    {"session_closed",     409, OG_ERR__LAST,         "the session is closed"},
    {"already_rated",      409, OG_ERR__LAST,         "the session has a satisfaction rating already; a later answer changes nothing"},
    {"window_closed",      409, OG_ERR_WINDOW_CLOSED, "the platform's messaging window is closed"},
    {"link_expired",       410, OG_ERR__LAST,         "a survey or attachment link's time has passed; nothing stored"},
    {"link_used",          410, OG_ERR__LAST,         "a survey link was used: its session has its rating; nothing changed"},
    {"payload_too_large",  413, OG_ERR_TOO_LARGE,     "the body exceeds http.max_body_bytes, or a platform's request carries more than http.max_messages_per_request messages"},
    {"unsupported_media_type", 415, OG_ERR__LAST,     "a file of a type the channel does not take (web chat: options.attachments)"},
    {"message_blocked",    422, OG_ERR__LAST,         "an agent's message has words sensitive_words.block_agents refuses (error.terms lists them); nothing was stored or sent"},
    {"rate_limited",       429, OG_ERR_RATE_LIMITED,  "too many requests; retry later"},
    {"internal_error",     500, OG_ERR_INTERNAL,      "a bug or an unexpected failure (logged)"},
    {"media_unavailable",  502, OG_ERR__LAST,         "the platform did not give an attachment's file (it failed, refused our token, or the download was refused: error.message names why)"},
    {"unsupported",        501, OG_ERR_UNSUPPORTED,   "the channel or connector cannot do this"},
    {"not_implemented",    501, OG_ERR__LAST,         "the request uses a Transfer-Encoding other than chunked alone"},
    {"platform_error",     502, OG_ERR__LAST,         "the platform refused or failed a call omnigate made for this request (listing a channel's templates); the message has its words"},
    {"unavailable",        503, OG_ERR_UNAVAILABLE,   "storage (Redis) unreachable; platforms retry, omnigate heals by itself"},
    {"overloaded",         503, OG_ERR__LAST,         "every connection is taken; the reserve serves health checks and platform_ranges only: retry later"},
    {NULL, 0, OG_OK, NULL},
};
/* clang-format on */

const struct og_reply_row *og_reply_table(void)
{
    return rows;
}

static const struct og_reply_row *row_of(og_err e)
{
    /* Errors with no row of their own answer as their nearest kin: a
     * platform's temporary failure is "try later", a permanent refusal or an
     * allocation failure is ours to look at. */
    if (e == OG_ERR_RETRYABLE)
        e = OG_ERR_UNAVAILABLE;
    for (const struct og_reply_row *r = rows; r->code; r++)
        if (r->err == e)
            return r;
    for (const struct og_reply_row *r = rows; r->code; r++)
        if (r->err == OG_ERR_INTERNAL)
            return r;
    return NULL;
}

int og_reply_status(og_err e)
{
    return e == OG_OK ? 200 : row_of(e)->status;
}

const char *og_reply_code_of(og_err e)
{
    return e == OG_OK ? "ok" : row_of(e)->code;
}

void og_reply_json(struct og_reply *r, int status, char *json)
{
    r->status = status;
    r->content_type = "application/json";
    free(r->body);
    r->body = json;
    r->len = strlen(json);
}

static void error_body(struct og_reply *r, int status, const char *code, const char *message,
                       const char *extra)
{
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"error\":{\"code\":");
    og_buf_json_str(&b, code);
    og_buf_puts(&b, ",\"message\":");
    og_buf_json_str(&b, message);
    if (extra) {
        og_buf_puts(&b, ",");
        og_buf_puts(&b, extra);
    }
    og_buf_puts(&b, "}}");
    og_reply_json(r, status, b.data);
}

void og_reply_err(struct og_reply *r, og_err e, const char *message)
{
    const struct og_reply_row *row = row_of(e);
    error_body(r, row->status, row->code, message ? message : og_strerror(e), NULL);
    if (row->status == 503) /* Redis down or full: platforms and clients try again */
        og_reply_header(r, "Retry-After", "1");
}

void og_reply_code(struct og_reply *r, const char *code, const char *message)
{
    og_reply_code_with(r, code, message, NULL);
}

void og_reply_code_with(struct og_reply *r, const char *code, const char *message,
                        const char *extra)
{
    for (const struct og_reply_row *row = rows; row->code; row++)
        if (strcmp(row->code, code) == 0) {
            error_body(r, row->status, row->code, message, extra);
            return;
        }
    og_error("reply: unknown error code '%s' (a bug)", code);
    og_reply_err(r, OG_ERR_INTERNAL, NULL);
}

/* Copies s into b without CR and LF (a header line cannot be split). */
static void put_clean(struct og_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i]; i++)
        if (s[i] != '\r' && s[i] != '\n')
            og_buf_append(b, s + i, 1);
}

/* One line per name: a later value replaces an earlier one (the static file
 * layer's Cache-Control and a route's own), except Vary, whose values join
 * on one line, and Set-Cookie, where each cookie is a line of its own. */
void og_reply_header(struct og_reply *r, const char *name, const char *value)
{
    size_t nl = strlen(name);
    int join = strcasecmp(name, "Vary") == 0, many = strcasecmp(name, "Set-Cookie") == 0;
    struct og_buf b = {0};
    const char *old = NULL;
    size_t oldlen = 0;
    for (const char *l = r->headers; l && *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) + 1 : strlen(l);
        int same = !many && len > nl + 1 && strncasecmp(l, name, nl) == 0 && l[nl] == ':';
        if (same && join)
            old = l + nl + 2, oldlen = len - nl - 3;
        if (!same)
            og_buf_append(&b, l, len);
        l += len;
    }
    put_clean(&b, name, nl);
    og_buf_puts(&b, ": ");
    if (old) {
        og_buf_append(&b, old, oldlen);
        og_buf_puts(&b, ", ");
    }
    put_clean(&b, value, strlen(value));
    og_buf_puts(&b, "\n");
    free(r->headers);
    r->headers = b.data;
}
