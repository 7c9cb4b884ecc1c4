/* og_reply - a response under construction, and THE table that turns an
 * og_err into what a client sees: the HTTP status and the API error code.
 *
 * Every error omnigate answers goes through og_reply_err (by og_err) or
 * og_reply_code (a more specific code of the table, e.g. "window_closed"),
 * so a status is never written next to a code anywhere else, and the
 * README's error table is checked against og_reply_table() by a test
 * (og-unit-reply). Errors are JSON: {"error":{"code":"…","message":"…"}}. */
#ifndef OG_REPLY_H
#define OG_REPLY_H
#include <microhttpd.h>
#include <omnigate/connector.h>
#include <stddef.h>

struct og_reply {
    int status;
    const char *content_type; /* static, or ctype */
    char ctype[64];
    char *body;              /* owned */
    const char *static_body; /* instead of body: [borrowed], outlives the response */
    size_t len;
    char *headers;               /* owned: "Name: value\n" lines, or NULL */
    struct MHD_Response *stream; /* owned: a streaming response (SSE) sent instead */
    const char *route; /* [static] the API route matched ("/sessions/:id"), for the access log */
};

/* One row: an API error code, its status, the og_err it stands for (the
 * first row of an og_err is that error's code), and a line for the docs. */
struct og_reply_row {
    const char *code;
    int status;
    og_err err; /* OG_ERR__LAST: a code with no og_err (405) */
    const char *meaning;
};
/* The rows, ending with a NULL code. [static] */
const struct og_reply_row *og_reply_table(void);

/* The status and code of an og_err (OG_OK: 200, "ok"). */
int og_reply_status(og_err e);
const char *og_reply_code_of(og_err e);

void og_reply_json(struct og_reply *r, int status, char *json /* [xfer] */);
/* An error by og_err; message NULL = og_strerror(e). */
void og_reply_err(struct og_reply *r, og_err e, const char *message);
/* An error by one of the table's codes (an unknown code is a bug: 500). */
void og_reply_code(struct og_reply *r, const char *code, const char *message);
/* The same with more members of the error object: extra is JSON text such
 * as "\"terms\":[\"x\"]" (the message_blocked error's terms). */
void og_reply_code_with(struct og_reply *r, const char *code, const char *message,
                        const char *extra);
/* Sets a header: replaces an earlier value of the name (Vary joins the
 * values, Set-Cookie adds a line); CR/LF in name or value are dropped. */
void og_reply_header(struct og_reply *r, const char *name, const char *value);
#endif
