/* omnigate/connector.h - the connector plugin ABI.
 *
 * A connector is a shared object that exports exactly one symbol,
 * og_connector_entry(), returning a pointer to a static const struct
 * og_connector. The host dlopen()s it, checks the ABI version and the
 * struct size, checks that the mandatory callbacks are set, validates each
 * channel's options against the connector's option table and then calls
 * create() once per configured channel.
 *
 * This is the only header a plugin needs: everything a plugin would
 * otherwise link (HTTP client, JSON, HMAC, base64, logging, clock, durable
 * state) is reached through the services table the host hands to create().
 * A plugin never touches Redis or another plugin.
 *
 * Ownership tags used on every pointer below:
 *   [borrowed] valid only for the duration of the call that passed it;
 *   [host]     owned by the host, valid for the lifetime stated next to it;
 *   [xfer]     ownership moves to the receiver, who frees it with svc->free
 *              (or with the destructor named next to it).
 *
 * Versioning: OG_CONNECTOR_ABI_MAJOR changes when a field changes meaning or
 * place (the loader refuses a different major); OG_CONNECTOR_ABI_MINOR
 * changes when fields are appended. The loader refuses a plugin built for a
 * newer minor than the host and accepts every older minor of its major:
 * fields appended after the plugin's minor read as their documented
 * defaults. Structs that may grow carry struct_size so each side can tell
 * which fields the other one knows.
 *
 * History: 1.0 the first layout. 1.1 appended og_connector.default_rate_per_s
 * and og_connector.caps (what the platform allows, so the host never tests a
 * connector's name) and og_services.smtp_send. 1.2 appended
 * og_connector.handle_visitor and og_services.visitor (struct
 * og_visitor_api): channels whose visitors talk to omnigate directly (the
 * web chat widget) get a route tree /webchat/{channel}/..., visitor tokens
 * the host stores hashed, and a live stream to one visitor. 1.3 appended,
 * for media, og_connector.fetch_media (an inbound attachment's file, fetched
 * on first use and kept by the host's media store) and .upload_limits, and
 * og_services.media_fetch (a download under the channel's fetch policy) and
 * .upload_get (an agent's upload's bytes); and, for templates and buttons,
 * og_inbound.payload, og_outbound.template_json, .tag, .buttons and
 * .n_buttons (struct og_button), and og_connector.templates,
 * .tag_window_ms, .max_buttons, .button_title_max and .button_id_max. */
#ifndef OMNIGATE_CONNECTOR_H
#define OMNIGATE_CONNECTOR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OG_CONNECTOR_ABI_MAJOR 1
#define OG_CONNECTOR_ABI_MINOR 3

/* The one error enum of omnigate, shared by plugins and the core. Values are
 * stable: never renumbered, never reused. og_strerror() (host) and
 * svc->strerror() (plugins) give a fixed English name for each. */
typedef enum og_err {
    OG_OK = 0,
    OG_ERR_INVALID = 1,       /* malformed input: 400, nothing stored */
    OG_ERR_SIGNATURE = 2,     /* bad or missing inbound signature: 401 */
    OG_ERR_AUTH = 3,          /* the platform rejected our credentials */
    OG_ERR_RATE_LIMITED = 4,  /* slow down; retry after retry_after_ms */
    OG_ERR_RETRYABLE = 5,     /* network error, timeout, 5xx: back off, retry */
    OG_ERR_WINDOW_CLOSED = 6, /* the platform's messaging window expired */
    OG_ERR_PERMANENT = 7,     /* the platform refused for good; never retry */
    OG_ERR_NOMEM = 8,
    OG_ERR_UNAVAILABLE = 9,  /* our storage (Redis) is down: 503, retry */
    OG_ERR_NOT_FOUND = 10,   /* 404 */
    OG_ERR_CONFLICT = 11,    /* 409 */
    OG_ERR_TOO_LARGE = 12,   /* 413 */
    OG_ERR_FORBIDDEN = 13,   /* 403 */
    OG_ERR_UNSUPPORTED = 14, /* the connector cannot do this (e.g. a kind) */
    OG_ERR_INTERNAL = 15,    /* a bug or an unexpected library failure */
    OG_ERR__LAST             /* sentinel, never returned */
} og_err;

/* Log levels, most severe first. */
enum og_log_level { OG_LOG_ERROR = 0, OG_LOG_WARN, OG_LOG_INFO, OG_LOG_DEBUG };

/* ---------------------------------------------------------------- options */

enum og_opt_type {
    OG_OPT_STR = 0, /* char *            */
    OG_OPT_INT,     /* int64_t           */
    OG_OPT_BOOL,    /* int (0 or 1)      */
    OG_OPT_URL,     /* char *, must be http:// or https:// */
    OG_OPT_ENUM     /* char *, one of the '|'-separated words in choices */
};

#define OG_OPT_REQUIRED (1u << 0)
#define OG_OPT_SECRET (1u << 1) /* never logged nor printed; "${ENV}" is usual */

/* One row of a connector's option table; the table ends with a row whose name
 * is NULL. The host parses channels[i].options against it, fills a zeroed
 * block of conf_size bytes (each value at its offset), and hands that block
 * to create(). Strings in that block are [host], valid until destroy(). */
struct og_option {
    const char *name; /* key under channels[i].options */
    enum og_opt_type type;
    const char *def;     /* default, as text; NULL = none */
    unsigned flags;      /* OG_OPT_* */
    size_t offset;       /* offsetof(struct <name>_conf, field) */
    const char *help;    /* one line for --connector-help and the README */
    const char *choices; /* OG_OPT_ENUM only: "webhook|polling" */
};

/* ------------------------------------------------------------ JSON (json-c) */

/* An opaque JSON value. Values returned by parse() and the new_*() builders
 * are [xfer]: release them with put(). Values returned by get(), at() and
 * find() are [borrowed] from their parent and live as long as it does. */
struct og_json;

enum og_json_type {
    OG_JSON_NULL = 0,
    OG_JSON_BOOL,
    OG_JSON_DOUBLE,
    OG_JSON_INT,
    OG_JSON_OBJECT,
    OG_JSON_ARRAY,
    OG_JSON_STRING
};

struct og_json_api {
    size_t struct_size;
    struct og_json *(*parse)(const char *buf, size_t len); /* NULL if malformed */
    void (*put)(struct og_json *j);                        /* NULL is fine */
    enum og_json_type (*type)(const struct og_json *j);    /* NULL -> OG_JSON_NULL */
    struct og_json *(*get)(const struct og_json *obj, const char *key);
    struct og_json *(*at)(const struct og_json *arr, size_t i);
    size_t (*len)(const struct og_json *arr_or_obj);
    /* Dotted path with numeric array indices: "entry.0.changes.0.value". */
    struct og_json *(*find)(const struct og_json *j, const char *path);
    /* Scalars as text: strings as they are, numbers and booleans printed
     * ("1111111", "true"); NULL for null, objects, arrays and absent values.
     * The text is [borrowed] from j. */
    const char *(*str)(const struct og_json *j);
    int64_t (*int64)(const struct og_json *j); /* 0 if not a number */
    double (*dbl)(const struct og_json *j);    /* 0 if not a number */
    int (*boolean)(const struct og_json *j);   /* JSON truthiness */
    /* Object iteration: the i-th key, [borrowed]; NULL past the end. */
    const char *(*key_at)(const struct og_json *obj, size_t i);
    /* Builders. set() and append() take ownership of val [xfer]. */
    struct og_json *(*new_object)(void);
    struct og_json *(*new_array)(void);
    struct og_json *(*new_string)(const char *s);
    struct og_json *(*new_int)(int64_t v);
    struct og_json *(*new_double)(double v);
    struct og_json *(*new_bool)(int v);
    void (*set)(struct og_json *obj, const char *key, struct og_json *val);
    void (*append)(struct og_json *arr, struct og_json *val);
    /* Compact serialization, [borrowed] from j until j changes or is put. */
    const char *(*serialize)(struct og_json *j, size_t *len);
};

/* --------------------------------------------------------- HTTP (inbound) */

/* An inbound request on /hooks/{channel}[/...] (or, 1.2, /webchat/{channel}[/...]),
 * [borrowed] for the call.
 * Header and query lookups go through svc->req_header / svc->req_query. */
struct og_http_req {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* the part after /hooks/{channel}; "" or "/..." */
    const char *body;   /* raw bytes exactly as received, NUL-terminated */
    size_t body_len;
    void *host_ctx; /* [host] opaque; pass the request to svc calls */
};

/* What the plugin answers. Set it with svc->respond(); if the plugin never
 * does, the host answers according to the returned og_err (OG_OK: 200 with
 * an empty body). */
struct og_http_resp;

/* -------------------------------------------------------- HTTP (outbound) */

struct og_http_part { /* one multipart/form-data part */
    const char *name;
    const char *filename;     /* NULL for a plain field */
    const char *content_type; /* NULL = let the host choose */
    const void *data;
    size_t len;
};

struct og_http_call {
    size_t struct_size;         /* sizeof(struct og_http_call) */
    const char *method;         /* "GET", "POST", ... */
    const char *url;            /* full URL */
    const char *const *headers; /* NULL-terminated "Name: value" list, or NULL */
    const char *body;           /* NULL for none */
    size_t body_len;
    const char *content_type;         /* for body; NULL = none */
    const struct og_http_part *parts; /* multipart/form-data instead of body */
    size_t n_parts;
    long timeout_ms; /* 0 = the host default (30 s) */
};

struct og_http_result {
    long status; /* HTTP status; 0 when no answer came */
    char *body;  /* [xfer] NUL-terminated, or NULL */
    size_t body_len;
    long retry_after_ms; /* from Retry-After, else -1 */
    char *content_type;  /* [xfer] or NULL */
    char errbuf[128];    /* transport error text when status == 0 */
};

/* ------------------------------------------------------ normalized model */

enum og_kind {
    OG_KIND_TEXT = 0,
    OG_KIND_IMAGE,
    OG_KIND_VIDEO,
    OG_KIND_AUDIO,
    OG_KIND_FILE,
    OG_KIND_STICKER,
    OG_KIND_LOCATION,
    OG_KIND_CONTACT,
    OG_KIND_INTERACTIVE,
    OG_KIND_REACTION,
    OG_KIND_SYSTEM,
    OG_KIND__LAST
};

struct og_attachment { /* all strings [borrowed]; NULL = absent */
    const char *url;
    const char *media_id;
    const char *mime_type;
    const char *name;
    int64_t size; /* bytes; 0 = unknown */
};

struct og_location {
    double latitude, longitude;
    const char *name, *address; /* [borrowed]; NULL = absent */
};

/* The person on the platform side, as the platform describes them. */
struct og_profile {          /* all strings [borrowed]; NULL = absent */
    const char *external_id; /* required: the platform's id for the person */
    const char *name;
    const char *username;
    const char *avatar_url;
    const char *phone;
    const char *email;
};

/* A customer message as a connector saw it; the host stores it durably.
 * Every pointer is [borrowed] for the duration of svc->emit(). */
struct og_inbound {
    size_t struct_size; /* sizeof(struct og_inbound) */
    /* The platform's delivery key for de-duplication (Telegram update_id,
     * LINE webhookEventId, VK event_id, WhatsApp wamid...). Required. */
    const char *dedup_key;
    const char *provider_message_id; /* the platform's message id, or NULL */
    /* The conversation within this channel: a chat id, a group id, a peer id.
     * NULL = the profile's external_id. One thread = one session. */
    const char *thread_id;
    struct og_profile from;
    enum og_kind kind;
    const char *text; /* text or caption; NULL = none */
    const struct og_attachment *attachments;
    size_t n_attachments;
    const struct og_location *location; /* NULL = none */
    const char *reply_to_provider_id;   /* the platform id quoted, or NULL */
    /* A short-lived token the platform issued for answering this message
     * (LINE replyToken). The host stores it and hands it back to send(). */
    const char *reply_token;
    int64_t timestamp_ms; /* platform time; 0 = now */
    const char *raw;      /* the raw platform event, kept for audit */
    size_t raw_len;
    /* Appended in 1.3 (the host reads it when struct_size covers it): the
     * customer tapped a button or quick reply we sent (og_outbound.buttons):
     * its id; text then holds the button's title. NULL = an ordinary message. */
    const char *payload;
};

enum og_msg_status {
    OG_STATUS_PENDING = 0,
    OG_STATUS_SENT,
    OG_STATUS_DELIVERED,
    OG_STATUS_READ,
    OG_STATUS_FAILED,
    OG_STATUS__LAST
};

/* A delivery status for one of our outbound messages (WhatsApp statuses,
 * Messenger delivery/read watermarks). Every pointer is [borrowed]. */
struct og_status_update {
    size_t struct_size;    /* sizeof(struct og_status_update) */
    const char *dedup_key; /* e.g. "wamid...:read"; required */
    /* Either the provider id of one outbound message ... */
    const char *provider_message_id;
    /* ... or a watermark: every outbound message to this thread sent at or
     * before watermark_ms (platform time, ms) reaches the status. */
    const char *thread_id;
    int64_t watermark_ms;
    enum og_msg_status status;
    const char *error_code; /* for OG_STATUS_FAILED, else NULL */
    const char *error_message;
    int64_t timestamp_ms;
};

/* One button of an interactive message (1.3), [borrowed] with its message. */
struct og_button {
    const char *id;    /* comes back as og_inbound.payload when tapped */
    const char *title; /* the label the customer sees */
};

/* A message the host asks the connector to deliver. [borrowed] for send(). */
struct og_outbound {
    size_t struct_size;     /* sizeof(struct og_outbound) */
    const char *message_id; /* our "msg_..." id: stable across retries,
                               use it for idempotency keys */
    const char *thread_id;  /* where to send (as given on inbound) */
    const char *contact_external_id;
    enum og_kind kind;
    const char *text; /* or caption */
    const struct og_attachment *attachments;
    size_t n_attachments;
    const char *reply_to_provider_id; /* quote this platform message, or NULL */
    const char *reply_token;          /* last token the platform gave, or NULL */
    int64_t reply_token_age_ms;       /* how long ago it was received */
    int64_t last_inbound_age_ms;      /* since the customer last wrote; -1 never */
    /* Appended in 1.3; a plugin reads them when struct_size covers them. */
    /* A platform template to send instead of free text (WhatsApp), as JSON
     * {"name","language":{"code"},"components":[...]} in the platform's own
     * shape; text then holds the template rendered for history only. The
     * host checked it against og_connector.templates. NULL = none. */
    const char *template_json;
    /* A message tag allowing a send outside the window (Messenger
     * "HUMAN_AGENT"); the host checked it against tag_window_ms. NULL = none. */
    const char *tag;
    /* Reply buttons under text (n_buttons 0 = none), checked by the host
     * against max_buttons, button_title_max and button_id_max. */
    const struct og_button *buttons;
    size_t n_buttons;
};

struct og_send_result {
    size_t struct_size;        /* set by the host: sizeof at its build */
    char *provider_message_id; /* [xfer] set on success */
    long retry_after_ms;       /* for OG_ERR_RATE_LIMITED; -1 unknown */
    char error_code[64];       /* the platform's error code, as text */
    char error_message[256];   /* the platform's words, for the agent */
    /* Set to 1 when send() used up og_outbound.reply_token (LINE tokens are
     * single use): the host then stops handing it out. */
    int reply_token_consumed;
};

/* ------------------------------------------------------ SMTP (outbound, 1.1) */

/* One message to relay over SMTP through the host's client (libcurl, which
 * verifies the server's certificate, speaks STARTTLS and AUTH). The plugin
 * builds the whole RFC 5322 message; the host only carries it. All pointers
 * [borrowed] for the call. */
struct og_smtp_call {
    size_t struct_size;   /* sizeof(struct og_smtp_call) */
    const char *url;      /* smtp://host[:port] or smtps://host[:port] */
    const char *username; /* NULL or "" = no AUTH */
    const char *password;
    const char *starttls;    /* smtp:// only: "auto" (default), "always", "never" */
    const char *ca_file;     /* NULL = the system's CAs */
    const char *mail_from;   /* envelope sender, a bare address */
    const char *const *rcpt; /* NULL-terminated envelope recipients (bare addresses) */
    const char *data;        /* the message: headers, blank line, body (CRLF or LF) */
    size_t data_len;
    long timeout_ms; /* whole transaction; 0 = 30 s */
};

struct og_smtp_reply {
    long code;        /* the last SMTP reply code; 0 when none came */
    char detail[256]; /* a readable reason when not OG_OK */
};

/* ------------------------------------------------------- visitors (1.2) */

/* A visitor: a person who talks to omnigate directly through a page (the web
 * chat widget), known by a token the host issued. The host fills it; the
 * plugin passes it back unchanged. */
struct og_visitor {
    char external_id[48]; /* the contact's id on this channel ("v_..."): use it
                             as og_inbound.from.external_id and thread_id */
    char contact_id[48];  /* "con_..." */
    char token_key[24];   /* a short, stable, non-secret key of the token for
                             rate limits and stream bounds ("" when none) */
};

/* How the visitor's live stream behaves; [borrowed] for the call. */
struct og_visitor_stream {
    size_t struct_size;        /* sizeof(struct og_visitor_stream) */
    const char *last_event_id; /* resume after this message id; NULL = none */
    int max_streams;           /* open streams per visitor; beyond: 429. 0 = 5 */
    const char *closing_text;  /* sent in the "closed" event; NULL = none */
    int offer_csat;            /* "closed" event's csat: the survey may be shown */
};

/* The channel's satisfaction survey (config channels[].csat), [host] strings
 * valid until destroy(). */
struct og_visitor_survey {
    int scale; /* 5 or 2 */
    const char *question, *thanks;
    int comment; /* a comment is allowed */
};

/* The visitor services (og_services.visitor). The host keeps the state
 * (tokens, hashed; contacts; sessions; messages) and the live streams; the
 * plugin keeps the protocol (routes, CORS, validation, limits). Every
 * function is thread-safe. JSON texts handed out are [xfer] (svc->free):
 *   VS  the visitor's view of a session:
 *       {"id","status":"queued|active|closed","agent":{"name"}|null,
 *        "created_at","closed_at","csat"}
 *   VM  the visitor's view of a message:
 *       {"id","direction":"in|out","kind","text","created_at",
 *        "sender":{"type":"contact|agent|system","name"},"client_id",
 *        "attachments":[...]}
 * No agent id, e-mail or internal field reaches a VS or a VM. */
struct og_visitor_api {
    size_t struct_size; /* sizeof(struct og_visitor_api) at the host's build */
    /* The client's address as the host's HTTP edge names it (the forwarded
     * one behind a trusted proxy), e.g. "203.0.113.7"; an IPv6 client by its
     * /64 ("2001:db8:1:2::/64"), as one client owns one. Returns its length. */
    size_t (*client_addr)(const struct og_http_req *req, char *out, size_t outsz);
    /* A counter per (channel, key) in a window of window_ms shared by every
     * instance: OG_OK and counted while under limit; OG_ERR_RATE_LIMITED with
     * *retry_after_ms (nothing counted) once limit hits were counted. */
    og_err (*rate)(void *host, const char *key, int limit, int64_t window_ms, long *retry_after_ms);
    /* A new visitor: its contact (who's name, email, phone; external_id is
     * ignored) and a token: 32 random bytes as base64url (43 characters)
     * written into token[64]. The host keeps only its SHA-256. */
    og_err (*create)(void *host, const struct og_profile *who, char token[64],
                     struct og_visitor *v);
    /* The visitor a token belongs to on this channel; OG_ERR_SIGNATURE for a
     * missing, malformed or unknown token. */
    og_err (*auth)(void *host, const char *token, struct og_visitor *v);
    /* A message from the visitor: stored through the same ingest as any
     * channel's (m->from.external_id and thread_id must be v's external_id;
     * dedup_key makes a retry a duplicate). *vm [xfer] the message as a VM;
     * *created 1 when stored now, 0 when it was stored before. */
    og_err (*message)(void *host, const struct og_visitor *v, const struct og_inbound *m, char **vm,
                      int *created);
    /* The visitor's current (or last) session as a VS, "null" when there is
     * none yet, and its messages after the message id after (NULL = the
     * last limit), oldest first, as a JSON array of VMs. Either out pointer
     * may be NULL. OG_ERR_NOT_FOUND: after is not a message of this visitor. */
    og_err (*conversation)(void *host, const struct og_visitor *v, const char *after, int limit,
                           char **vs, char **vms);
    /* Turns resp into the visitor's live stream (server-sent events:
     * message, typing, assigned, read, closed; ": ping" every 15 s).
     * OG_ERR_RATE_LIMITED when the visitor holds max_streams already. */
    og_err (*stream)(void *host, const struct og_http_req *req, struct og_http_resp *resp,
                     const struct og_visitor *v, const struct og_visitor_stream *opts);
    /* The visitor types (on 1) or stopped (0): event "typing" for the agents. */
    og_err (*typing)(void *host, const struct og_visitor *v, int on);
    /* The visitor read the agent's messages up to message id until. */
    og_err (*read)(void *host, const struct og_visitor *v, const char *until);
    /* The visitor ends its open session (the timeline names the visitor).
     * OG_ERR_NOT_FOUND when none is open. *vs [xfer] the closed session. */
    og_err (*close)(void *host, const struct og_visitor *v, char **vs);
    /* The channel's survey; OG_ERR_NOT_FOUND when the channel has none. */
    og_err (*survey)(void *host, struct og_visitor_survey *out);
    /* Rates the visitor's current (or last) session, once: score 1..scale,
     * comment NULL or text. *csat [xfer] {"score","scale","comment","at"}.
     * OG_ERR_CONFLICT when that session was rated already, OG_ERR_NOT_FOUND
     * when there is no session or no survey, OG_ERR_INVALID for a score out
     * of the scale or a comment where none is allowed. */
    og_err (*csat)(void *host, const struct og_visitor *v, int score, const char *comment,
                   char **csat);
    /* 1 when an agent who may take this channel's sessions is online now. */
    int (*online)(void *host);
    /* The channel's id, [host] valid until destroy(). */
    const char *(*channel_id)(void *host);
    /* A file the visitor sent (data [borrowed], len bytes of type mime,
     * name as the visitor's file was called): kept by the host and stored as
     * the visitor's message (kind image for image/..., else file) through
     * the same ingest; dedup_key as for message(). *vm, *created as there;
     * the VM's attachment url is /webchat/{channel}/attachments/{id}. */
    og_err (*attachment)(void *host, const struct og_visitor *v, const char *dedup_key,
                         const char *mime, const char *name, const void *data, size_t len,
                         char **vm, int *created);
    /* A file of the visitor's conversation by its id: *data [xfer] (len
     * bytes), *mime and *name [xfer]. OG_ERR_NOT_FOUND when it is no file of
     * this visitor. */
    og_err (*attachment_get)(void *host, const struct og_visitor *v, const char *id, char **data,
                             size_t *len, char **mime, char **name);
};

/* ------------------------------------------------------------ media (1.3) */

/* An attachment whose file the host wants (og_connector.fetch_media): the
 * fields the connector gave it in og_inbound.attachments[index] of the
 * message, as stored. All pointers [borrowed] for the call; NULL = absent. */
struct og_media_req {
    size_t struct_size; /* sizeof(struct og_media_req) at the host's build */
    const char *media_id;
    const char *url; /* the attachment's url as the connector emitted it */
    const char *mime_type;
    const char *name;
    const char *provider_message_id; /* the message's platform id */
    const char *thread_id;           /* the message's thread (og_inbound.thread_id) */
    size_t index;                    /* which attachment of the message */
    const char *raw;                 /* the message's raw platform event as stored (og_inbound.raw):
                                        an e-mail's whole message, whose parts are the files */
    size_t raw_len;
};

/* What fetch_media answers: the file's bytes, or where the host downloads
 * them. The host downloads url itself (og_services.media_fetch's rules:
 * http(s) only, every address checked when connecting, redirects followed
 * only to http(s) and checked again, media.max_file_bytes and a time limit),
 * sending header with it only to url's own origin. The host never trusts
 * mime_type: it sniffs the bytes; it only keeps a zip-based office type or
 * text/plain the bytes agree with. */
struct og_media_res {
    size_t struct_size; /* set by the host */
    char *data;         /* [xfer] the bytes (len of them) ... */
    size_t len;
    char *url;       /* [xfer] ... or an http(s) URL to download them from */
    char *header;    /* [xfer] one "Name: value" header for url (a token), or NULL */
    char *mime_type; /* [xfer] the platform's word for the type, or NULL */
    char *name;      /* [xfer] the file's name as the platform has it, or NULL */
    char error[128]; /* why not, for the log and the API's answer */
};

/* What a platform takes (og_connector.upload_limits, 1.3): a type ("image/
 * jpeg"), a family ("image/": every image type) or "*" (anything else), and
 * the largest file of it in bytes. The first row that matches decides; a
 * type no row matches is refused. */
struct og_media_limit {
    const char *type;
    int64_t max_bytes;
};

/* ---------------------------------------------------------------- services */

/* The host's services, [host] valid from create() until destroy() returns.
 * 'host' arguments are the handle given to create(). Every function is
 * thread-safe; several threads may call into one instance at once. */
struct og_services {
    size_t struct_size;       /* check before using fields added later */
    void *(*alloc)(size_t n); /* never returns NULL (aborts on OOM) */
    void (*free)(void *p);
    char *(*strdup)(const char *s); /* [xfer]; NULL in, NULL out */
    /* Logging; lines carry the channel id. Secrets must never be passed. */
    void (*log)(void *host, enum og_log_level lvl, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;
    int (*log_enabled)(void *host, enum og_log_level lvl);
    const char *(*strerror)(og_err e);
    int64_t (*now_ms)(void); /* wall clock, Unix ms */
    const struct og_json_api *json;

    /* Crypto. ct_equal compares in time independent of the contents (and of
     * where they differ); lengths are not secret. */
    void (*hmac_sha256)(const void *key, size_t klen, const void *msg, size_t mlen,
                        unsigned char out[32]);
    void (*sha256)(const void *msg, size_t mlen, unsigned char out[32]);
    int (*ct_equal)(const void *a, size_t alen, const void *b, size_t blen);
    /* Encoders write a NUL-terminated string into out and return its length,
     * or (size_t)-1 when out is too small. */
    size_t (*hex_encode)(const void *in, size_t len, char *out, size_t outsz);
    size_t (*base64_encode)(const void *in, size_t len, char *out, size_t outsz);
    /* Decoders return the decoded length or (size_t)-1 on bad input. */
    size_t (*base64_decode)(const char *in, size_t len, unsigned char *out, size_t outsz);
    char *(*url_escape)(const char *s); /* [xfer] percent-encoded */

    /* Outbound HTTP through libcurl; never follows redirects. Returns OG_OK
     * when an HTTP answer came (whatever its status), OG_ERR_RETRYABLE on a
     * transport failure (res->errbuf says why). res must be released with
     * http_result_free. */
    og_err (*http)(void *host, const struct og_http_call *call, struct og_http_result *res);
    void (*http_result_free)(struct og_http_result *res);

    /* Inbound request helpers. Header names are case-insensitive. The values
     * are [borrowed] from the request. */
    const char *(*req_header)(const struct og_http_req *req, const char *name);
    const char *(*req_query)(const struct og_http_req *req, const char *name);
    /* Set the answer; body is copied. */
    void (*respond)(struct og_http_resp *resp, int status, const char *content_type,
                    const char *body, size_t len);

    /* Hand one parsed item to the core, which stores it durably before this
     * returns. OG_OK also for a duplicate (already stored: nothing to do).
     * Any other result must be returned from handle_http()/poll() so the
     * platform is not acknowledged; the host answers 503 in that case anyway. */
    og_err (*emit_message)(void *host, const struct og_inbound *msg);
    og_err (*emit_status)(void *host, const struct og_status_update *st);

    /* Small durable per-channel state (polling offsets, cursors).
     * state_get returns OG_OK and *val [xfer] (NULL when unset). */
    og_err (*state_get)(void *host, const char *key, char **val);
    og_err (*state_set)(void *host, const char *key, const char *val);

    /* Fields below were appended after the first layout; a plugin checks
     * svc->struct_size before using them. */

    /* Add a response header (Allow, WWW-Authenticate, Retry-After...); both
     * strings are copied. CR and LF are refused (returns OG_ERR_INVALID). */
    og_err (*respond_header)(struct og_http_resp *resp, const char *name, const char *value);

    /* 1.1: relay one message over SMTP. OG_OK when the server accepted it
     * (250 after DATA); OG_ERR_RETRYABLE for a 4xx reply or no reply at all
     * (connect, timeout, TLS); OG_ERR_PERMANENT for a 5xx reply; OG_ERR_INVALID
     * for an unusable call (bad address, CR/LF where none may be). rep says
     * why. */
    og_err (*smtp_send)(void *host, const struct og_smtp_call *call, struct og_smtp_reply *rep);

    /* 1.2: the visitor services, [host]; NULL on a host without them. */
    const struct og_visitor_api *visitor;

    /* 1.3: a download of media under the channel's fetch policy (what
     * og_media_res.url gets): http(s) only, every address checked at connect
     * time (no loopback, private, link-local or metadata address unless the
     * channel's fetch_allow_hosts names the host), no redirect (a 3xx is the
     * answer), at most max_bytes (0 = media.max_file_bytes). OG_ERR_FORBIDDEN
     * when refused (res->errbuf names why, nothing was sent), OG_ERR_TOO_LARGE
     * past the cap; else as http. */
    og_err (*media_fetch)(void *host, const struct og_http_call *call, size_t max_bytes,
                          struct og_http_result *res);
    /* 1.3: the file behind an attachment url of the message send() is
     * delivering when it is an agent's upload (POST /api/v1/uploads; the url
     * is the host's signed link to it): *data [xfer] (len bytes), *mime and
     * *name [xfer], so a platform with an upload route gets the bytes
     * (Telegram multipart, WhatsApp /media) instead of a URL it would have
     * to reach. OG_ERR_NOT_FOUND for any other url (send it as a URL). */
    og_err (*upload_get)(void *host, const char *url, char **data, size_t *len, char **mime,
                         char **name);
};

/* --------------------------------------------------------------- connector */

/* What a platform allows (og_connector.caps, 1.1). A plugin built against
 * 1.0 has no caps field: the host then assumes OG_CAPS_1_0_DEFAULT. */
#define OG_CAP_START_OUTBOUND (1u << 0) /* an agent may start a conversation */
#define OG_CAP_NON_REALTIME (1u << 1)   /* e-mail-like: counts against max_nrt_chats */
#define OG_CAP_ATTACH_URL (1u << 2)     /* outbound attachments by public URL */
#define OG_CAP_ATTACH_UPLOAD (1u << 3)  /* outbound attachments uploaded by the plugin */
#define OG_CAPS_1_0_DEFAULT (OG_CAP_START_OUTBOUND | OG_CAP_ATTACH_URL)

/* Sends per second a channel gets when its config sets no rate_limit_per_s
 * and the plugin declares none (0, or a 1.0 plugin). */
#define OG_DEFAULT_RATE_PER_S 50.0

struct og_connector {
    uint16_t abi_major, abi_minor;
    size_t struct_size; /* sizeof(struct og_connector) at build */
    const char *name;   /* "telegram": the channel's "connector" */
    const char *version;
    const char *description;
    const char *platform_api;        /* the platform API version implemented */
    const struct og_option *options; /* table ending with { NULL } */
    size_t conf_size;                /* size of the block the options fill */

    /* Mandatory. Create an instance for one channel. conf [host] stays valid
     * until destroy(); host [host] likewise; *inst is the plugin's own.
     * errbuf gets a one-line reason on failure. */
    og_err (*create)(const struct og_services *svc, void *host, const void *conf, void **inst,
                     char *errbuf, size_t errlen);
    /* Mandatory. Free everything the instance owns. */
    void (*destroy)(void *inst);
    /* Mandatory unless poll is set. Handle GET/POST /hooks/{channel}[/...]:
     * verify, parse, emit every item, then answer. Return OG_ERR_SIGNATURE
     * (401, or set another status with respond()), OG_ERR_INVALID (400), or
     * the error emit returned. */
    og_err (*handle_http)(void *inst, const struct og_http_req *req, struct og_http_resp *resp);
    /* Optional. Called in a loop from a thread of its own: wait up to
     * timeout_ms for new items (long poll), emit them, return. A non-OK
     * return makes the host back off before the next call, except
     * OG_ERR_UNSUPPORTED: this instance does not poll (e.g. it is configured
     * for webhooks) and the host stops calling. */
    og_err (*poll)(void *inst, int timeout_ms);
    /* Optional: cancel a poll() in progress soon (at shutdown). */
    void (*poll_wakeup)(void *inst);
    /* Mandatory. Deliver one message; fill res. */
    og_err (*send)(void *inst, const struct og_outbound *msg, struct og_send_result *res);
    /* The platform's customer-service window: how long after the customer's
     * last message free-form messages may be sent (WhatsApp, Messenger: 24 h);
     * 0 = no window. The core tracks it per session, shows it on the session
     * ("window_expires_at") and emits session.window_closed when it ends. */
    int64_t messaging_window_ms;

    /* Fields below were appended in 1.1; the host reads them only when
     * struct_size covers them (else the defaults named on each). */

    /* The platform's documented send rate, messages per second per channel
     * (Telegram 30, VK 20...); 0 = OG_DEFAULT_RATE_PER_S. A channel's
     * rate_limit_per_s overrides it. */
    double default_rate_per_s;
    /* OG_CAP_* bits; a 1.0 plugin gets OG_CAPS_1_0_DEFAULT. */
    uint32_t caps;

    /* Appended in 1.2. Optional: the visitor route tree. The host hands every
     * request on /webchat/{channel}[/...] (any method, OPTIONS included) to
     * it; req->path is the part after /webchat/{channel}. Answer with
     * svc->respond(); a returned og_err without an answer becomes the
     * host's error reply. NULL: the channel has no visitor routes (404). */
    og_err (*handle_visitor)(void *inst, const struct og_http_req *req, struct og_http_resp *resp);
    /* 1.2, with handle_visitor: the routes it answers, NULL-terminated
     * "METHOD /path" lines ("GET /config"), so the host can list them (its
     * route table, docs/openapi.yaml's check). */
    const char *const *visitor_routes;

    /* Appended in 1.3. Optional: the file of an inbound attachment, asked
     * for the first time someone opens it (GET /api/v1/messages/{id}/
     * attachments/{n}); the host keeps it in its media store and serves it
     * from there after. OG_ERR_NOT_FOUND when the platform no longer has it,
     * OG_ERR_TOO_LARGE when it is over the platform's own download limit,
     * OG_ERR_RETRYABLE on a transport failure, OG_ERR_AUTH when the platform
     * refused our token; res->error says why. NULL: the API answers 501
     * "unsupported". */
    og_err (*fetch_media)(void *inst, const struct og_media_req *req, struct og_media_res *res);
    /* 1.3: what an agent may upload for this channel (POST /api/v1/uploads
     * with a channel, and a reply's upload on it): rows of a type and its
     * cap, ending with a row whose type is NULL. NULL: any type, up to
     * media.max_file_bytes. */
    const struct og_media_limit *upload_limits;
    /* Appended in 1.3. Optional: the platform's approved message templates
     * (WhatsApp), every page of them, as a JSON array [xfer] in *json:
     * [{"name","language","category","status","parameter_format",
     *   "components":[...]}] (components as the platform describes them:
     *   {"type":"BODY","text":"Hi {{1}}"}...). errbuf gets a reason on
     *   failure. NULL: the channel has no templates (the host answers 501). */
    og_err (*templates)(void *inst, char **json, char *errbuf, size_t errlen);
    /* 1.3: how long after the customer's last message a reply tagged
     * og_outbound.tag = "HUMAN_AGENT" may still be sent (Messenger: 7 days);
     * 0 = the platform takes no tags. */
    int64_t tag_window_ms;
    /* 1.3: reply buttons (og_outbound.buttons): how many one message may
     * carry (0 = the platform has none), a title's length in characters
     * (Unicode code points) and an id's length in bytes. */
    uint32_t max_buttons;
    uint32_t button_title_max;
    uint32_t button_id_max;
};

#define OG_CONNECTOR_HEADER                                                                        \
    .abi_major = OG_CONNECTOR_ABI_MAJOR, .abi_minor = OG_CONNECTOR_ABI_MINOR,                      \
    .struct_size = sizeof(struct og_connector)

#if defined(__GNUC__)
#define OG_CONNECTOR_EXPORT __attribute__((visibility("default")))
#else
#define OG_CONNECTOR_EXPORT
#endif

/* The entry symbol every plugin defines. */
#define OG_CONNECTOR_ENTRY_SYMBOL "og_connector_entry"
OG_CONNECTOR_EXPORT const struct og_connector *og_connector_entry(void);

#ifdef __cplusplus
}
#endif
#endif /* OMNIGATE_CONNECTOR_H */
