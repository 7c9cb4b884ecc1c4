/* whatsapp.h - internals of the WhatsApp Business Cloud API connector
 * (Meta Graph API v25.0; webhook field "messages", Send API
 * POST /<PHONE_NUMBER_ID>/messages). Shared by whatsapp.c (descriptor,
 * lifecycle, webhook entry), whatsapp_parse.c (webhook body -> emits) and
 * whatsapp_send.c (og_outbound -> Graph call). */
#ifndef OG_WHATSAPP_H
#define OG_WHATSAPP_H

#include <omnigate/connector.h>

#define WHATSAPP_API_VERSION "v25.0"

/* The option block the host fills from whatsapp_options; strings [host]. */
struct whatsapp_conf {
    char *access_token;    /* secret: Bearer for the Graph API */
    char *app_secret;      /* secret: key of X-Hub-Signature-256 */
    char *verify_token;    /* secret: answer to the GET handshake */
    char *phone_number_id; /* the business number we send from */
    char *api_version;     /* "v25.0" */
    char *api_base;        /* "https://graph.facebook.com" */
    char *waba_id;         /* the WhatsApp Business Account (templates); "" = none */
    char *list_button;     /* the label that opens a list of more than 3 buttons */
};

/* One channel. Immutable after create(), so shared freely between threads. */
struct whatsapp {
    const struct og_services *svc;    /* [host] */
    void *host;                       /* [host] */
    const struct whatsapp_conf *conf; /* [host] */
    char *messages_url;               /* owned: <base>/<ver>/<phone_number_id>/messages */
    char *templates_url;              /* owned: <base>/<ver>/<waba_id>/message_templates, or NULL */
};

/* WhatsApp's reply buttons: up to 3 as interactive "button" (title 20
 * characters, id 256), up to 10 as an interactive "list" (one section, row
 * title 24 characters, row id 200). The host checks the stricter bound of
 * both, so a message of either size fits. */
#define WA_REPLY_BUTTONS 3
#define WA_MAX_BUTTONS 10
#define WA_BUTTON_TITLE_MAX 20
#define WA_BUTTON_ID_MAX 200

/* The connector's templates() (ABI 1.3): whatsapp_send.c. */
og_err whatsapp_templates(void *inst, char **json, char *errbuf, size_t errlen);

/* Parses one signed webhook body and emits every message (emit_message) and
 * every delivery status (emit_status) it holds, in order. Pure apart from
 * those calls and debug logging: no I/O, no state. Returns OG_OK (also for
 * well-formed bodies carrying nothing we emit), OG_ERR_INVALID when the body
 * is not a JSON object, or the first error an emit returned (the rest of the
 * batch is then not emitted: the platform redelivers it, and dedup keys make
 * the replay harmless). body need not be NUL-terminated. */
og_err whatsapp_parse(const struct og_services *svc, void *host, const char *body, size_t len);

/* The connector's send(): see whatsapp_send.c. */
og_err whatsapp_send(void *inst, const struct og_outbound *msg, struct og_send_result *res);
#endif
