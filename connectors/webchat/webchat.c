/* webchat.c - the web chat connector: descriptor, options, instance life
 * cycle and send.
 *
 * The platform is omnigate itself: visitors talk to the visitor API under
 * /webchat/{channel}/ (webchat_visitor.c, ABI 1.2's handle_visitor), which
 * stores their messages through the host's ordinary ingest
 * (og_services.visitor->message) and follows the conversation on a live
 * stream the host keeps (og_services.visitor->stream). Sending is therefore
 * nothing but accepting: an agent's reply is in the host's store already and
 * reaches the visitor's stream as the host records it sent, so send() only
 * names the message (its own id is its provider id). */
#include "webchat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct og_option webchat_options[] = {
    {"allowed_origins", OG_OPT_STR, NULL, OG_OPT_REQUIRED,
     offsetof(struct webchat_conf, allowed_origins),
     "the pages that may use the widget and the visitor API: origins "
     "(scheme://host[:port]) separated by spaces or commas; any other is refused (403)",
     NULL},
    {"title", OG_OPT_STR, "Chat with us", 0, offsetof(struct webchat_conf, title),
     "the widget's title", NULL},
    {"pre_chat", OG_OPT_STR, "", 0, offsetof(struct webchat_conf, pre_chat),
     "the pre-chat form: fields of name, email, phone, question (comma separated, "
     "a trailing * makes one required), e.g. \"name*,email,question\"; \"\" = no form",
     NULL},
    {"opening_text", OG_OPT_STR, "", 0, offsetof(struct webchat_conf, opening_text),
     "shown at the top of a new conversation (not stored)", NULL},
    {"closing_text", OG_OPT_STR, "", 0, offsetof(struct webchat_conf, closing_text),
     "shown when the conversation is closed (sent in the stream's closed event)", NULL},
    {"offline_text", OG_OPT_STR, "We are offline. Leave a message and your e-mail address.", 0,
     offsetof(struct webchat_conf, offline_text),
     "shown with the offline form while no agent of the channel's routing is online", NULL},
    {"theme", OG_OPT_STR, "#1f6feb right", 0, offsetof(struct webchat_conf, theme),
     "the widget's colour (#rrggbb) and position (right|left), e.g. \"#1f6feb left\"", NULL},
    {"attachments", OG_OPT_STR, "", 0, offsetof(struct webchat_conf, attachments),
     "files visitors may send: MIME types and max=BYTES, e.g. \"image/png,image/jpeg "
     "max=5242880\"; \"\" = none",
     NULL},
    {"csat", OG_OPT_BOOL, "true", 0, offsetof(struct webchat_conf, csat),
     "offer the satisfaction survey in the widget when the session closes (the channel "
     "needs channels[].csat)",
     NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void webchat_destroy(void *inst_)
{
    struct webchat *w = inst_;
    if (!w)
        return;
    for (size_t i = 0; i < w->n_origins; i++)
        free(w->origins[i]);
    webchat_attach_free(&w->att);
    free(w);
}

static og_err webchat_create(const struct og_services *svc, void *host, const void *conf_,
                             void **inst, char *errbuf, size_t errlen)
{
    const struct webchat_conf *conf = conf_;
    *inst = NULL;
    if (svc->struct_size < offsetof(struct og_services, visitor) + sizeof svc->visitor ||
        !svc->visitor) {
        snprintf(errbuf, errlen, "this omnigate has no visitor services (ABI 1.2)");
        return OG_ERR_UNSUPPORTED;
    }
    struct webchat *w = calloc(1, sizeof *w);
    if (!w)
        return OG_ERR_NOMEM;
    w->svc = svc;
    w->host = host;
    w->conf = conf;
    if (webchat_parse_origins(conf->allowed_origins, w->origins, WC_MAX_ORIGINS, &w->n_origins,
                              errbuf, errlen) != 0 ||
        webchat_parse_prechat(conf->pre_chat, &w->pre, errbuf, errlen) != 0 ||
        webchat_parse_theme(conf->theme, &w->theme, errbuf, errlen) != 0 ||
        webchat_parse_attachments(conf->attachments, &w->att, errbuf, errlen) != 0) {
        webchat_destroy(w);
        return OG_ERR_INVALID;
    }
    *inst = w;
    return OG_OK;
}

/* The message is stored already; the visitor's stream shows it once the
 * host records it sent. */
static og_err webchat_send(void *inst_, const struct og_outbound *msg, struct og_send_result *res)
{
    struct webchat *w = inst_;
    if (!msg->message_id || !*msg->message_id)
        return OG_ERR_INVALID;
    res->provider_message_id = w->svc->strdup(msg->message_id);
    return OG_OK;
}

/* An inbound attachment's file (ABI 1.3): a visitor's upload the host keeps
 * (svc->visitor->attachment_get); the thread is the visitor. */
static og_err webchat_fetch_media(void *inst, const struct og_media_req *req,
                                  struct og_media_res *res)
{
    struct webchat *w = inst;
    if (!req->media_id || !req->thread_id) {
        snprintf(res->error, sizeof res->error, "the attachment is no visitor's file");
        return OG_ERR_NOT_FOUND;
    }
    struct og_visitor v;
    memset(&v, 0, sizeof v);
    snprintf(v.external_id, sizeof v.external_id, "%s", req->thread_id);
    char *mime = NULL, *name = NULL;
    og_err e = w->svc->visitor->attachment_get(w->host, &v, req->media_id, &res->data, &res->len,
                                               &mime, &name);
    if (e != OG_OK) {
        snprintf(res->error, sizeof res->error, "the visitor's file is not kept");
        return e;
    }
    res->mime_type = mime;
    res->name = name;
    return OG_OK;
}

static const struct og_connector webchat_connector = {
    OG_CONNECTOR_HEADER,
    .name = "webchat",
    .version = "1.0.0",
    .description = "web chat: the embeddable widget's visitors, through /webchat/{channel}/",
    .platform_api = "omnigate web chat visitor API 1 (docs/webchat.md)",
    .options = webchat_options,
    .conf_size = sizeof(struct webchat_conf),
    .create = webchat_create,
    .destroy = webchat_destroy,
    .send = webchat_send,
    .messaging_window_ms = 0,
    .default_rate_per_s = 1000,
    .caps = OG_CAP_START_OUTBOUND | OG_CAP_ATTACH_URL,
    .fetch_media = webchat_fetch_media,
    .handle_visitor = webchat_handle_visitor,
    .visitor_routes = webchat_visitor_routes,
};

OG_CONNECTOR_EXPORT const struct og_connector *og_connector_entry(void)
{
    return &webchat_connector;
}
