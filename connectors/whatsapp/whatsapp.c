/* whatsapp.c - the WhatsApp Business Cloud API connector: descriptor, option
 * table, create/destroy and the webhook entry (Graph API v25.0).
 *
 * Inbound: GET /hooks/<channel> is Meta's verification handshake; POST
 * /hooks/<channel> carries the "messages" webhook signed with
 * X-Hub-Signature-256 (app_secret). A POST whose signature is missing or
 * wrong (a SHA-1 X-Hub-Signature alone is not enough) gets 401 and nothing is
 * emitted. A signed body is parsed by whatsapp_parse.c; if storing any item
 * fails the host answers 503 so Meta redelivers the whole batch. Outbound:
 * whatsapp_send.c. Shared Graph pieces: connectors/graph. */
#include "whatsapp.h"
#include "graph.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const struct og_option whatsapp_options[] = {
    {"access_token", OG_OPT_STR, NULL, OG_OPT_REQUIRED | OG_OPT_SECRET,
     offsetof(struct whatsapp_conf, access_token),
     "System-user access token (whatsapp_business_messaging), sent as Bearer", NULL},
    {"app_secret", OG_OPT_STR, NULL, OG_OPT_REQUIRED | OG_OPT_SECRET,
     offsetof(struct whatsapp_conf, app_secret),
     "App Secret: key of the X-Hub-Signature-256 webhook signature", NULL},
    {"verify_token", OG_OPT_STR, NULL, OG_OPT_REQUIRED | OG_OPT_SECRET,
     offsetof(struct whatsapp_conf, verify_token),
     "Verify token entered in the App Dashboard for the GET handshake", NULL},
    {"phone_number_id", OG_OPT_STR, NULL, OG_OPT_REQUIRED,
     offsetof(struct whatsapp_conf, phone_number_id),
     "Phone number ID of the business number messages are sent from", NULL},
    {"api_version", OG_OPT_STR, WHATSAPP_API_VERSION, 0,
     offsetof(struct whatsapp_conf, api_version), "Graph API version", NULL},
    {"api_base", OG_OPT_URL, "https://graph.facebook.com", 0,
     offsetof(struct whatsapp_conf, api_base), "Graph API base URL", NULL},
    {"waba_id", OG_OPT_STR, "", 0, offsetof(struct whatsapp_conf, waba_id),
     "WhatsApp Business Account ID: lists its approved message templates (empty: no templates)",
     NULL},
    {"list_button", OG_OPT_STR, "Choose", 0, offsetof(struct whatsapp_conf, list_button),
     "Label of the button that opens a list of more than 3 reply buttons (at most 20 characters)",
     NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static og_err whatsapp_create(const struct og_services *svc, void *host, const void *conf,
                              void **inst, char *errbuf, size_t errlen)
{
    const struct whatsapp_conf *c = conf;
    const char *empty = !c->access_token[0]      ? "access_token"
                        : !c->app_secret[0]      ? "app_secret"
                        : !c->verify_token[0]    ? "verify_token"
                        : !c->phone_number_id[0] ? "phone_number_id"
                        : !c->api_version[0]     ? "api_version"
                                                 : NULL;
    if (empty) {
        snprintf(errbuf, errlen, "option %s must not be empty", empty);
        return OG_ERR_INVALID;
    }
    size_t lb = 0; /* characters, as WhatsApp counts them */
    for (const char *q = c->list_button; *q; q++)
        lb += ((unsigned char)*q & 0xC0) != 0x80;
    if (lb < 1 || lb > 20) {
        snprintf(errbuf, errlen, "option list_button must be 1 to 20 characters");
        return OG_ERR_INVALID;
    }
    if (strchr(c->phone_number_id, '/') || strchr(c->api_version, '/') || strchr(c->waba_id, '/') ||
        strchr(c->waba_id, '?')) {
        snprintf(errbuf, errlen, "phone_number_id, waba_id and api_version must not contain '/'");
        return OG_ERR_INVALID;
    }
    struct whatsapp *wa = svc->alloc(sizeof *wa);
    memset(wa, 0, sizeof *wa);
    wa->svc = svc;
    wa->host = host;
    wa->conf = c;
    wa->messages_url =
        og_graph_url(svc, c->api_base, c->api_version, c->phone_number_id, "messages");
    if (c->waba_id[0])
        wa->templates_url =
            og_graph_url(svc, c->api_base, c->api_version, c->waba_id, "message_templates");
    *inst = wa;
    return OG_OK;
}

static void whatsapp_destroy(void *inst)
{
    struct whatsapp *wa = inst;
    if (!wa)
        return;
    wa->svc->free(wa->messages_url);
    wa->svc->free(wa->templates_url);
    wa->svc->free(wa);
}

static og_err whatsapp_handle_http(void *inst, const struct og_http_req *req,
                                   struct og_http_resp *resp)
{
    struct whatsapp *wa = inst;
    return og_graph_handle_http(wa->svc, wa->host, "whatsapp", wa->conf->verify_token,
                                wa->conf->app_secret, whatsapp_parse, req, resp);
}

/* An inbound attachment's file (ABI 1.3): GET /{media-id} gives {url,
 * mime_type, sha256, file_size}; the host downloads url with our token (the
 * URL alone is refused by Meta's CDN) under its fetch policy. */
static og_err whatsapp_fetch_media(void *inst, const struct og_media_req *req,
                                   struct og_media_res *res)
{
    struct whatsapp *wa = inst;
    const struct og_services *svc = wa->svc;
    if (!req->media_id || !*req->media_id) {
        snprintf(res->error, sizeof res->error, "the attachment has no media id");
        return OG_ERR_NOT_FOUND;
    }
    char *esc = svc->url_escape(req->media_id);
    char *url = og_graph_url(svc, wa->conf->api_base, wa->conf->api_version, esc, NULL);
    svc->free(esc);
    struct og_json *reply = NULL;
    struct og_send_result sr;
    memset(&sr, 0, sizeof sr);
    og_err e = og_graph_post(svc, wa->host, url, wa->conf->access_token, NULL, &reply, &sr);
    svc->free(url);
    if (e != OG_OK) {
        snprintf(res->error, sizeof res->error, "WhatsApp: %.110s", sr.error_message);
        /* an unknown or expired media id is a Graph "invalid parameter" */
        return e == OG_ERR_PERMANENT ? OG_ERR_NOT_FOUND : e;
    }
    const char *u = og_graph_json_str(svc->json, reply, "url");
    const char *mt = og_graph_json_str(svc->json, reply, "mime_type");
    if (!u || !*u) {
        svc->json->put(reply);
        snprintf(res->error, sizeof res->error, "WhatsApp gave no url for the media id");
        return OG_ERR_NOT_FOUND;
    }
    res->url = svc->strdup(u);
    res->mime_type = svc->strdup(mt);
    res->header = og_graph_sprintf(svc, "Authorization: Bearer %s", wa->conf->access_token);
    svc->json->put(reply);
    return OG_OK;
}

/* The Cloud API's supported media: images 5 MB, video and audio 16 MB,
 * documents 100 MB. */
static const struct og_media_limit wa_upload_limits[] = {
    {"image/jpeg", 5LL << 20},
    {"image/png", 5LL << 20},
    {"video/mp4", 16LL << 20},
    {"video/3gpp", 16LL << 20},
    {"audio/", 16LL << 20},
    {"*", 100LL << 20},
    {NULL, 0},
};
static const struct og_connector whatsapp_connector = {
    OG_CONNECTOR_HEADER,
    .name = "whatsapp",
    .version = "1.0.0",
    .description = "WhatsApp Business Cloud API (webhooks + Send API)",
    .platform_api = "WhatsApp Business Cloud API, Meta Graph API " WHATSAPP_API_VERSION,
    .options = whatsapp_options,
    .conf_size = sizeof(struct whatsapp_conf),
    .create = whatsapp_create,
    .destroy = whatsapp_destroy,
    .handle_http = whatsapp_handle_http,
    .poll = NULL,
    .poll_wakeup = NULL,
    .send = whatsapp_send,
    .messaging_window_ms = 24 * 3600 * 1000, /* the customer-service window */
    .default_rate_per_s = 80, /* Cloud API: 80 messages per second per number by default */
    .caps = OG_CAP_START_OUTBOUND | OG_CAP_ATTACH_URL,
    .fetch_media = whatsapp_fetch_media,
    .upload_limits = wa_upload_limits,
    .templates = whatsapp_templates,
    .tag_window_ms = 0, /* WhatsApp has templates, not tags */
    .max_buttons = WA_MAX_BUTTONS,
    .button_title_max = WA_BUTTON_TITLE_MAX,
    .button_id_max = WA_BUTTON_ID_MAX,
};

OG_CONNECTOR_EXPORT const struct og_connector *og_connector_entry(void)
{
    return &whatsapp_connector;
}
