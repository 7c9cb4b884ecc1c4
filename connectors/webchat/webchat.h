/* webchat.h - the web chat connector's shared declarations.
 *
 * webchat.c         descriptor, options, create/destroy, send
 * webchat_parse.c   the options' small syntaxes and the visitor's request
 *                   bodies (pure functions over the JSON services: the fuzz
 *                   target tests/fuzz/fuzz_webchat.c reaches them directly)
 * webchat_visitor.c the visitor route tree /webchat/{channel}/...
 *
 * The connector keeps the protocol (routes, origins and CORS, validation,
 * limits); the host keeps every piece of state through og_services.visitor
 * (ABI 1.2). It never sees Redis or the gateway. */
#ifndef WEBCHAT_H
#define WEBCHAT_H
#include <omnigate/connector.h>

#include <stddef.h>
#include <stdint.h>

/* The limits of the contract (docs/webchat.md). */
#define WC_TEXT_MAX 4096        /* bytes of one message's text */
#define WC_FIELD_MAX 256        /* bytes of a pre-chat field */
#define WC_CLIENT_ID_MAX 64     /* bytes of a client_id */
#define WC_COMMENT_MAX 2000     /* bytes of a survey comment */
#define WC_TOKEN_RATE 20        /* messages per token ... */
#define WC_IP_RATE 60           /* ... and per address ... */
#define WC_RATE_WINDOW_MS 10000 /* ... in this window */
#define WC_STREAMS_PER_TOKEN 5  /* open live streams per visitor */
#define WC_HISTORY 100          /* messages a start or a resume returns */
#define WC_MAX_ORIGINS 32
#define WC_MAX_TYPES 32

struct webchat_conf {
    char *allowed_origins; /* "https://a.example https://b.example" (space or comma) */
    char *title;
    char *pre_chat; /* "name*,email,phone,question": * = required */
    char *opening_text;
    char *closing_text;
    char *offline_text;
    char *theme;       /* "#1f6feb right" */
    char *attachments; /* "image/png,image/jpeg max=5242880"; "" = none */
    int csat;          /* offer the survey (when the channel has channels[].csat) */
};

enum wc_field { WC_F_NAME = 0, WC_F_EMAIL, WC_F_PHONE, WC_F_QUESTION, WC_F__N };

struct webchat_prechat {
    int used[WC_F__N]; /* the form shows the field */
    int required[WC_F__N];
};

struct webchat_theme {
    char color[8];    /* "#rrggbb" */
    char position[8]; /* "right" | "left" */
};

struct webchat_attach {
    char *types[WC_MAX_TYPES]; /* owned */
    size_t n_types;
    int64_t max_bytes;
};

struct webchat {
    const struct og_services *svc;
    void *host;
    const struct webchat_conf *conf;
    char *origins[WC_MAX_ORIGINS]; /* owned */
    size_t n_origins;
    struct webchat_prechat pre;
    struct webchat_theme theme;
    struct webchat_attach att;
};

extern const char *const webchat_field_names[WC_F__N];

/* ------------------------------------------------ option syntaxes (parse) */
/* Each returns 0, or -1 with a one-line reason in err. */
int webchat_parse_origins(const char *s, char **out, size_t max, size_t *n, char *err,
                          size_t errlen);
int webchat_parse_prechat(const char *s, struct webchat_prechat *p, char *err, size_t errlen);
int webchat_parse_theme(const char *s, struct webchat_theme *t, char *err, size_t errlen);
int webchat_parse_attachments(const char *s, struct webchat_attach *a, char *err, size_t errlen);
void webchat_attach_free(struct webchat_attach *a);

/* ------------------------------------------------ visitor bodies (parse) */

/* The parsed bodies. Strings are [borrowed] from the JSON value the parser
 * returns in *doc ([xfer]: put it with svc->json->put when done). */
struct wc_start {
    const char *token;
    const char *field[WC_F__N]; /* name, email, phone, question; NULL = absent */
};
struct wc_message {
    const char *text;
    const char *client_id; /* NULL = none */
};
struct wc_csat {
    int64_t score;
    const char *comment; /* NULL = none */
};
struct wc_offline {
    const char *token, *name, *email, *text;
};

/* The parsers of the visitor's request bodies. Each returns OG_OK, or
 * OG_ERR_INVALID with a message naming the field in err (the body is not one
 * JSON object, a field has the wrong type, a text is empty, too long or not
 * UTF-8, a client_id or e-mail is malformed). */
og_err webchat_parse_start(const struct og_services *svc, const char *body, size_t len,
                           struct wc_start *out, struct og_json **doc, char *err, size_t errlen);
og_err webchat_parse_message(const struct og_services *svc, const char *body, size_t len,
                             struct wc_message *out, struct og_json **doc, char *err,
                             size_t errlen);
og_err webchat_parse_typing(const struct og_services *svc, const char *body, size_t len, int *on,
                            char *err, size_t errlen);
og_err webchat_parse_read(const struct og_services *svc, const char *body, size_t len, char *until,
                          size_t untilsz, char *err, size_t errlen);
og_err webchat_parse_csat(const struct og_services *svc, const char *body, size_t len,
                          struct wc_csat *out, struct og_json **doc, char *err, size_t errlen);
og_err webchat_parse_offline(const struct og_services *svc, const char *body, size_t len,
                             struct wc_offline *out, struct og_json **doc, char *err,
                             size_t errlen);
/* X-Filename (percent-encoded) into a safe display name: decoded, UTF-8,
 * no path (what follows the last / or \), no control characters, at most
 * outsz-1 bytes; "file" when nothing is left. */
void webchat_filename(const char *hdr, char *out, size_t outsz);
/* A Content-Type's media type, lower case, without parameters, into out;
 * 0, or -1 when it is not type/subtype. */
int webchat_media_type(const char *ctype, char *out, size_t outsz);
/* 1 when a file id as the host makes them ("fil_" + 1..60 of [0-9A-Za-z]). */
int webchat_file_id_ok(const char *s);
/* 1 when s (n bytes) is valid UTF-8 without NUL. */
int webchat_utf8_ok(const char *s, size_t n);
/* 1 for a plausible e-mail address (one @, a dot after it, no spaces). */
int webchat_email_ok(const char *s);
/* 1 for a message id as the host makes them ("msg_" + 1..60 of [0-9A-Za-z]). */
int webchat_msg_id_ok(const char *s);

/* ------------------------------------------------ the visitor routes */
og_err webchat_handle_visitor(void *inst, const struct og_http_req *req, struct og_http_resp *resp);
/* Every route webchat_handle_visitor answers ("METHOD /path"), NULL-ended. */
extern const char *const webchat_visitor_routes[];
#endif
