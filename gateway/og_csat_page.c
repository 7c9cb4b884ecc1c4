/* og_csat_page - the public survey page of a signed link (core/og_csat.h),
 * the follow-up e-mail's {{survey_url}}:
 *   GET  /csat/{token}  the page (gateway/www/csat/survey.html, whose module
 *                       asks the same URL with Accept: application/json for
 *                       the survey {"question","scale","comment"});
 *   POST /csat/{token}  the answer, JSON {"score","comment"} (answered with
 *                       JSON {"csat","thanks"}) or a form score=&comment=
 *                       (answered with a page saying the thanks);
 *   GET  /csat/<file>   the page's files (a token starts with "ses_"; any
 *                       other name is a broken link, 401).
 * The survey is the session's channel's channels[].csat, or the default
 * one (5 stars, the default texts, a comment) when that channel has none:
 * the e-mail offered the link, so the page takes the answer.
 * A malformed or forged token answers 401 (link_invalid), an expired one
 * 410 (link_expired), one whose session was rated 410 (link_used): the
 * link is used once. Nothing is stored then. Errors come as JSON to a
 * client that asked for JSON, else as a small page. */
#include "og_csat.h"
#include "og_gateway.h"
#include "og_log.h"
#include "og_static.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The pages made here have no script at all. */
#define PAGE_CSP                                                                                   \
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "  \
    "frame-ancestors 'none'"

static const struct og_visitor_survey default_survey = {
    .scale = 5,
    .question = "How would you rate this conversation?",
    .thanks = "Thank you for your feedback!",
    .comment = 1,
};

static void html_text(struct og_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': og_buf_puts(b, "&lt;"); break;
        case '>': og_buf_puts(b, "&gt;"); break;
        case '&': og_buf_puts(b, "&amp;"); break;
        case '"': og_buf_puts(b, "&quot;"); break;
        case '\'': og_buf_puts(b, "&#39;"); break;
        default: og_buf_printf(b, "%c", *s);
        }
    }
}

/* A small page: a title and a line (text, escaped here). */
static void page(struct og_reply *r, int status, const char *title, const char *line)
{
    struct og_buf b = {0};
    og_buf_puts(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                    "<title>");
    html_text(&b, title);
    og_buf_puts(&b, "</title><link rel=\"stylesheet\" href=\"/csat/csat.css\"></head>\n"
                    "<body><main class=\"card\"><h1>");
    html_text(&b, title);
    og_buf_puts(&b, "</h1><p class=\"note\">");
    html_text(&b, line);
    og_buf_puts(&b, "</p></main></body></html>\n");
    r->status = status;
    r->content_type = "text/html; charset=utf-8";
    r->len = b.len;
    r->body = b.data;
    og_reply_header(r, "Content-Security-Policy", PAGE_CSP);
    og_reply_header(r, "X-Content-Type-Options", "nosniff");
}

/* An error, as JSON (code, message) or as a page (title, message). */
static void fail(struct og_reply *r, int json, int status, const char *code, const char *title,
                 const char *message)
{
    if (json)
        og_reply_code(r, code, message);
    else
        page(r, status, title, message);
    og_reply_header(r, "Cache-Control", "no-store");
    og_reply_header(r, "Referrer-Policy", "no-referrer");
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
    return v ? v : "";
}

static const struct og_visitor_survey *survey_of(struct og_gateway *g, const char *channel)
{
    for (size_t i = 0; i < g->n_channels; i++)
        if (!strcmp(g->channels[i]->id, channel) && g->channels[i]->survey.scale)
            return &g->channels[i]->survey;
    return &default_survey;
}

void og_csat_page(struct og_gateway *g, struct MHD_Connection *conn, const char *method,
                  const char *rest, const char *body, size_t len, struct og_reply *r)
{
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (get && strncmp(rest, "ses_", 4) != 0 && strlen(rest) < 200) { /* the page's files */
        char url[256];
        snprintf(url, sizeof url, "/csat/%s", rest);
        if (og_static_serve(g->pages, conn, method, url, r) == 0)
            return;
        /* else a broken link: refused below */
    }
    int json = get ? strstr(header(conn, "Accept"), "application/json") != NULL
                   : !strncasecmp(header(conn, "Content-Type"), "application/json", 16);
    if (!get && strcmp(method, "POST") != 0) {
        og_reply_code(r, "method_not_allowed", "a survey link takes GET and POST");
        return;
    }
    char sid[48], channel[80];
    int expired = 0, rated = 0;
    if (og_csat_token_check(g->csat_key, rest, strlen(rest), og_now_ms() / 1000, sid, sizeof sid,
                            &expired) != OG_OK) {
        if (expired)
            fail(r, json, 410, "link_expired", "This survey link has expired",
                 "Links in our e-mails stay valid for 30 days. Thank you all the same!");
        else
            fail(r, json, 401, "link_invalid", "This survey link is not valid",
                 "Please open the link exactly as it came in the e-mail.");
        return;
    }
    og_err e = og_csat_state(g->core, sid, channel, sizeof channel, &rated);
    if (e == OG_ERR_NOT_FOUND) {
        fail(r, json, 404, "not_found", "This conversation no longer exists",
             "There is nothing left to rate.");
        return;
    }
    if (e != OG_OK) {
        fail(r, json, 503, "unavailable", "Please try again in a moment",
             "The survey cannot be reached right now.");
        og_reply_header(r, "Retry-After", "1");
        return;
    }
    if (rated) {
        fail(r, json, 410, "link_used", "This conversation was rated already",
             "Each survey link takes one answer. Thank you!");
        return;
    }
    const struct og_visitor_survey *sv = survey_of(g, channel);
    if (get) {
        if (json) {
            struct og_buf b = {0};
            og_buf_puts(&b, "{\"question\":");
            og_buf_json_str(&b, sv->question);
            og_buf_printf(&b, ",\"scale\":%d,\"comment\":%s}", sv->scale,
                          sv->comment ? "true" : "false");
            og_reply_json(r, 200, b.data);
        } else if (og_static_serve(g->pages, conn, method, "/csat/survey.html", r) != 0) {
            fail(r, 0, 404, "not_found", "The survey page is not installed",
                 "gateway/www/csat is missing from this installation.");
            return;
        }
        og_reply_header(r, "Cache-Control", "no-store");
        og_reply_header(r, "Vary", "Accept");
        return;
    }
    int score;
    char *comment = NULL, msg[160] = "", *cj = NULL;
    e = og_csat_parse_body(body, len, json, &score, &comment, msg, sizeof msg);
    if (e == OG_OK)
        e = og_csat_submit(g->core, sid, sv, score, comment, NULL, &cj, msg, sizeof msg);
    free(comment);
    if (e == OG_ERR_CONFLICT) {
        fail(r, json, 410, "link_used", "This conversation was rated already",
             "Each survey link takes one answer. Thank you!");
    } else if (e == OG_ERR_INVALID) {
        fail(r, json, 400, "invalid_request", "That answer could not be read", msg);
    } else if (e == OG_ERR_NOT_FOUND) {
        fail(r, json, 404, "not_found", "This conversation no longer exists",
             "There is nothing left to rate.");
    } else if (e != OG_OK) {
        fail(r, json, og_reply_status(e), og_reply_code_of(e), "Please try again in a moment",
             "The answer could not be stored.");
    } else {
        og_info("csat: session %s rated %d/%d through its survey link", sid, score, sv->scale);
        if (json) {
            struct og_buf b = {0};
            og_buf_printf(&b, "{\"csat\":%s,\"thanks\":", cj);
            og_buf_json_str(&b, sv->thanks);
            og_buf_puts(&b, "}");
            og_reply_json(r, 200, b.data);
        } else {
            page(r, 200, sv->thanks, "You can close this page.");
        }
        og_reply_header(r, "Cache-Control", "no-store");
        og_reply_header(r, "Referrer-Policy", "no-referrer");
    }
    free(cj);
}
