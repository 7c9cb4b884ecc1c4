/* og_channel - one configured channel: a connector plugin instance plus the
 * host side of the ABI (the services table, the request/response glue).
 *
 * The services table routes emit_message/emit_status to a sink. In the
 * daemon the sink is the core's durable ingest; connector tests install a
 * recording sink instead (struct og_channel_sink). */
#ifndef OG_CHANNEL_H
#define OG_CHANNEL_H
#include "og_fetch.h"
#include "og_plugin.h"

#include <omnigate/connector.h>
#include <stdatomic.h>

struct og_channel;

/* The visitor services' state side (ABI 1.2, og_services.visitor): what
 * the plugin's calls become, with the sink's ud. The daemon's are the
 * core's (og_webchat.h: og_webchat_ops); NULL = the channel has none
 * (the plugin's calls answer OG_ERR_UNSUPPORTED). Same meanings as
 * struct og_visitor_api. */
struct og_visitor_ops {
    og_err (*rate)(void *ud, struct og_channel *ch, const char *key, int limit, int64_t window_ms,
                   long *retry_after_ms);
    og_err (*create)(void *ud, struct og_channel *ch, const struct og_profile *who, char token[64],
                     struct og_visitor *v);
    og_err (*auth)(void *ud, struct og_channel *ch, const char *token, struct og_visitor *v);
    og_err (*message)(void *ud, struct og_channel *ch, const struct og_visitor *v,
                      const struct og_inbound *m, char **vm, int *created);
    og_err (*conversation)(void *ud, struct og_channel *ch, const struct og_visitor *v,
                           const char *after, int limit, char **vs, char **vms);
    og_err (*typing)(void *ud, struct og_channel *ch, const struct og_visitor *v, int on);
    og_err (*read)(void *ud, struct og_channel *ch, const struct og_visitor *v, const char *until);
    og_err (*close)(void *ud, struct og_channel *ch, const struct og_visitor *v, char **vs);
    og_err (*csat)(void *ud, struct og_channel *ch, const struct og_visitor *v, int score,
                   const char *comment, char **csat);
    int (*online)(void *ud, struct og_channel *ch);
    og_err (*attachment)(void *ud, struct og_channel *ch, const struct og_visitor *v,
                         const char *dedup_key, const char *mime, const char *name,
                         const void *data, size_t len, char **vm, int *created);
    og_err (*attachment_get)(void *ud, struct og_channel *ch, const struct og_visitor *v,
                             const char *id, char **data, size_t *len, char **mime, char **name);
};

/* Where parsed items go. Every callback must be thread-safe. */
struct og_channel_sink {
    og_err (*message)(void *ud, struct og_channel *ch, const struct og_inbound *m);
    og_err (*status)(void *ud, struct og_channel *ch, const struct og_status_update *s);
    og_err (*state_get)(void *ud, struct og_channel *ch, const char *key, char **val);
    og_err (*state_set)(void *ud, struct og_channel *ch, const char *key, const char *val);
    void *ud;
    const struct og_visitor_ops *visitor; /* [borrowed], static; NULL = none */
};

/* A channel's counters for /metrics (bumped by ingest and the send queue). */
struct og_channel_stats {
    atomic_ullong received, duplicates, sent, retried, failed;
};

struct og_channel {
    char *id;                 /* owned: channels[i].id */
    char *routing;            /* owned: routing policy name */
    struct og_plugin *plugin; /* [borrowed] from the registry */
    void *conf;               /* owned: the option block */
    void *inst;               /* the plugin's instance */
    struct og_channel_sink sink;
    char scope[96]; /* "channel:<id>" for log lines */
    struct og_channel_stats stats;
    /* owned, NULL-terminated: hosts whose client-given URLs this channel
     * fetches even at refused addresses (og_fetch.h); NULL = none */
    char **fetch_allow;
    /* Items (messages and statuses) one inbound request may emit; 0 = no
     * bound. The one past it gets OG_ERR_TOO_LARGE, and so does the request
     * (413): a long batch must not hold an HTTP thread for seconds
     * (http.max_messages_per_request). Those before it are stored. */
    int max_items;
    /* channels[].csat: the survey (og_csat.h); scale 0 = the channel has none.
     * Strings owned. */
    struct og_visitor_survey survey;
    /* media.max_file_bytes: the largest media download (svc->media_fetch,
     * og_channel_media_download); 0 = OG_MEDIA_MAX_FILE_BYTES */
    int64_t media_max_bytes;
    /* The media store [borrowed] and the attachment links' key: what
     * svc->upload_get reads an agent's upload from; NULL = no uploads. */
    struct og_media_store *media;
    unsigned char media_key[32];
    /* store_raw (channels[].store_raw, else the top level): how long an
     * inbound message's raw platform payload stays in Redis, in seconds
     * (key P:raw:<message id>, expiring); 0 = the default,
     * OG_STORE_RAW_DEFAULT_S; OG_STORE_RAW_NONE: not stored;
     * OG_STORE_RAW_ALWAYS: kept as long as the message. */
    int64_t store_raw_s;
};
#define OG_STORE_RAW_DEFAULT_S (24 * 3600)
#define OG_STORE_RAW_NONE (-1)
#define OG_STORE_RAW_ALWAYS (-2)

/* Sets the channel's survey (channels[].csat); scale 0 clears it. Copied. */
void og_channel_set_survey(struct og_channel *ch, int scale, const char *question,
                           const char *thanks, int comment);

/* The services table every plugin instance receives. */
extern const struct og_services og_services_table;

/* Parses options, then create()s the instance. On failure returns NULL and
 * appends the reasons to errs (naming path). [xfer, og_channel_destroy] */
struct og_channel *og_channel_create(struct og_plugin *plugin, const char *id, const char *routing,
                                     json_object *options, const char *path,
                                     const struct og_channel_sink *sink, struct og_errors *errs);
void og_channel_destroy(struct og_channel *ch);

/* The channel's fetch_allow_hosts (channels[i].fetch_allow_hosts), copied. */
void og_channel_set_fetch_allow(struct og_channel *ch, const char *const *hosts, size_t n);
/* The policy for URLs a client gave this channel's messages (attachments):
 * refused addresses but the channel's allowed hosts. [borrowed from ch] */
struct og_fetch_policy og_channel_fetch_policy(const struct og_channel *ch);

/* The plugin's fetch_media (ABI 1.3) for one attachment: OG_ERR_UNSUPPORTED
 * when the connector has none; else what it returned, res filled (release
 * it with og_media_res_free). */
og_err og_channel_fetch_media(struct og_channel *ch, const struct og_media_req *req,
                              struct og_media_res *res);
void og_media_res_free(struct og_media_res *res);

/* Downloads a media URL (a platform's file URL, an agent's attachment URL)
 * under the channel's fetch policy (og_fetch.h: every address checked at
 * connect time, fetch_allow_hosts excepted), capped at max_bytes (0 = the
 * channel's media_max_bytes) and timeout_ms. A redirect is followed (at most
 * 3) only to an http(s) URL, itself checked the same way; header ("Name:
 * value", NULL = none: a platform's token) goes to url's own origin only.
 * OG_OK with a 2xx answer in res; OG_ERR_FORBIDDEN when refused (res->errbuf
 * names why: an address, a scheme); OG_ERR_INVALID for a URL that is not
 * http(s); OG_ERR_TOO_LARGE; OG_ERR_NOT_FOUND for a 404 or 410;
 * OG_ERR_AUTH for 401/403; OG_ERR_RETRYABLE for a transport failure or
 * another status. res is released by the caller (og_http_result_free). */
og_err og_channel_media_download(struct og_channel *ch, const char *url, const char *header,
                                 size_t max_bytes, long timeout_ms, struct og_http_result *res);

/* Calls the plugin's send() with msg [borrowed]. While it runs, an
 * svc->http call from this channel whose URL is one of msg's attachment
 * URLs is a fetch on the client's behalf: it goes through
 * og_http_client_fetch under og_channel_fetch_policy (a refused URL answers
 * OG_ERR_FORBIDDEN with the reason in errbuf, nothing sent). Any plugin that
 * downloads what it was given is covered, whatever ABI minor it was built
 * for. */
og_err og_channel_send(struct og_channel *ch, const struct og_outbound *msg,
                       struct og_send_result *res);

/* The host side of an inbound request: how the plugin reads headers and
 * query arguments. req->host_ctx points to one of these. */
struct og_req_host {
    const char *(*header)(void *ctx, const char *name);
    const char *(*query)(void *ctx, const char *name);
    void *ctx;
    int emit_failed; /* set when an emit returned non-OK */
    og_err emit_err;
    struct og_channel *channel;
    /* The visitor routes' (ABI 1.2) part of the host, set by the gateway for
     * /webchat/{channel}/...; NULL elsewhere. client_addr names the client as
     * the HTTP edge does; stream turns the answer into the visitor's live
     * stream (it sets resp->stream). */
    size_t (*client_addr)(void *ctx, char *out, size_t outsz);
    og_err (*stream)(void *ctx, struct og_channel *ch, struct og_http_resp *resp,
                     const struct og_visitor *v, const struct og_visitor_stream *o);
};

/* The plugin's answer; owned by the host. */
struct og_http_resp {
    int status; /* 0 = not set */
    char content_type[64];
    char *body; /* owned */
    size_t body_len;
    char *headers; /* owned: "Name: value\n" lines, or NULL */
    void *stream;  /* set by og_req_host.stream: the gateway's
                      stream answer (owned by the gateway) */
};

/* Calls the plugin's handle_http. Returns the plugin's result, or the emit
 * failure if any emit failed (the platform must then not get a 2xx). */
og_err og_channel_handle_http(struct og_channel *ch, struct og_http_req *req,
                              struct og_http_resp *resp);
void og_http_resp_free(struct og_http_resp *resp);

/* Calls the plugin's handle_visitor (ABI 1.2) for /webchat/{channel}[/...].
 * OG_ERR_NOT_FOUND when the plugin has none. */
og_err og_channel_handle_visitor(struct og_channel *ch, struct og_http_req *req,
                                 struct og_http_resp *resp);
#endif
