/* facebook.h - internals of the Facebook Messenger Platform connector (Meta
 * Graph API v25.0: page webhook, Send API POST /<PAGE_ID>/messages). Shared
 * by facebook.c (descriptor, lifecycle, webhook entry), facebook_parse.c
 * (webhook body -> emits) and facebook_send.c (og_outbound -> Graph call). */
#ifndef OG_FACEBOOK_H
#define OG_FACEBOOK_H

#include <omnigate/connector.h>

#define FACEBOOK_API_VERSION "v25.0"

/* The option block the host fills from facebook_options; strings [host]. */
struct facebook_conf {
    char *page_access_token; /* secret: Page token, sent as Bearer */
    char *app_secret;        /* secret: key of X-Hub-Signature-256 */
    char *verify_token;      /* secret: answer to the GET handshake */
    char *page_id;           /* the Page we answer as */
    char *api_version;       /* "v25.0" */
    char *api_base;          /* "https://graph.facebook.com" */
};

/* One channel. Immutable after create(), so shared freely between threads. */
struct facebook {
    const struct og_services *svc;    /* [host] */
    void *host;                       /* [host] */
    const struct facebook_conf *conf; /* [host] */
    char *messages_url;               /* owned: <base>/<ver>/<page_id>/messages */
};

/* Parses one signed page webhook body and emits every customer message
 * (emit_message) and every delivery/read receipt (emit_status) it holds, in
 * order. Pure apart from those calls and logging. Returns OG_OK (also for
 * bodies carrying nothing we emit), OG_ERR_INVALID when the body is not a
 * JSON object, or the first error an emit returned (the rest is then not
 * emitted; Meta redelivers the whole body). body need not be NUL-terminated. */
og_err facebook_parse(const struct og_services *svc, void *host, const char *body, size_t len);

/* HUMAN_AGENT: an agent's reply may go up to 7 days after the customer's
 * last message. Quick replies: at most 13, title 20 characters, payload
 * 1000 bytes. */
#define FB_TAG_WINDOW_MS (7LL * 24 * 3600 * 1000)
#define FB_MAX_BUTTONS 13
#define FB_BUTTON_TITLE_MAX 20
#define FB_BUTTON_ID_MAX 1000

/* The connector's send(): see facebook_send.c. */
og_err facebook_send(void *inst, const struct og_outbound *msg, struct og_send_result *res);
#endif
