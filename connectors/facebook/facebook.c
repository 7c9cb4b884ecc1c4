/* facebook.c - the Facebook Messenger Platform connector: descriptor, option
 * table, create/destroy and the webhook entry (Graph API v25.0).
 *
 * Inbound: GET /hooks/<channel> is Meta's verification handshake; POST
 * /hooks/<channel> carries the page webhook signed with X-Hub-Signature-256
 * (app_secret). A POST whose signature is missing or wrong (the legacy SHA-1
 * X-Hub-Signature alone is not enough) gets 401 and nothing is emitted. A
 * signed body is parsed by facebook_parse.c; if storing any item fails the
 * host answers 503 so Meta redelivers the body. Outbound: facebook_send.c.
 * Shared Graph pieces: connectors/graph. */
#include "facebook.h"
#include "graph.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const struct og_option facebook_options[] = {
    {"page_access_token", OG_OPT_STR, NULL, OG_OPT_REQUIRED | OG_OPT_SECRET,
     offsetof(struct facebook_conf, page_access_token),
     "Page access token (pages_messaging), sent as Bearer", NULL},
    {"app_secret", OG_OPT_STR, NULL, OG_OPT_REQUIRED | OG_OPT_SECRET,
     offsetof(struct facebook_conf, app_secret),
     "App Secret: key of the X-Hub-Signature-256 webhook signature", NULL},
    {"verify_token", OG_OPT_STR, NULL, OG_OPT_REQUIRED | OG_OPT_SECRET,
     offsetof(struct facebook_conf, verify_token),
     "Verify token entered in the App Dashboard for the GET handshake", NULL},
    {"page_id", OG_OPT_STR, NULL, OG_OPT_REQUIRED, offsetof(struct facebook_conf, page_id),
     "ID of the Page messages are sent as", NULL},
    {"api_version", OG_OPT_STR, FACEBOOK_API_VERSION, 0,
     offsetof(struct facebook_conf, api_version), "Graph API version", NULL},
    {"api_base", OG_OPT_URL, "https://graph.facebook.com", 0,
     offsetof(struct facebook_conf, api_base), "Graph API base URL", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static og_err facebook_create(const struct og_services *svc, void *host, const void *conf,
                              void **inst, char *errbuf, size_t errlen)
{
    const struct facebook_conf *c = conf;
    const char *empty = !c->page_access_token[0] ? "page_access_token"
                        : !c->app_secret[0]      ? "app_secret"
                        : !c->verify_token[0]    ? "verify_token"
                        : !c->page_id[0]         ? "page_id"
                        : !c->api_version[0]     ? "api_version"
                                                 : NULL;
    if (empty) {
        snprintf(errbuf, errlen, "option %s must not be empty", empty);
        return OG_ERR_INVALID;
    }
    if (strchr(c->page_id, '/') || strchr(c->api_version, '/')) {
        snprintf(errbuf, errlen, "page_id and api_version must not contain '/'");
        return OG_ERR_INVALID;
    }
    struct facebook *fb = svc->alloc(sizeof *fb);
    memset(fb, 0, sizeof *fb);
    fb->svc = svc;
    fb->host = host;
    fb->conf = c;
    fb->messages_url = og_graph_url(svc, c->api_base, c->api_version, c->page_id, "messages");
    *inst = fb;
    return OG_OK;
}

static void facebook_destroy(void *inst)
{
    struct facebook *fb = inst;
    if (!fb)
        return;
    fb->svc->free(fb->messages_url);
    fb->svc->free(fb);
}

static og_err facebook_handle_http(void *inst, const struct og_http_req *req,
                                   struct og_http_resp *resp)
{
    struct facebook *fb = inst;
    return og_graph_handle_http(fb->svc, fb->host, "facebook", fb->conf->verify_token,
                                fb->conf->app_secret, facebook_parse, req, resp);
}

/* An inbound attachment's file (ABI 1.3): Messenger gives each attachment a
 * URL on Meta's CDN (payload.url), which the host downloads under its fetch
 * policy; no token is needed (nor sent). */
static og_err facebook_fetch_media(void *inst, const struct og_media_req *req,
                                   struct og_media_res *res)
{
    struct facebook *fb = inst;
    if (!req->url || !*req->url) {
        snprintf(res->error, sizeof res->error, "the attachment has no URL");
        return OG_ERR_NOT_FOUND;
    }
    res->url = fb->svc->strdup(req->url);
    return OG_OK;
}

/* Messenger attachments: 25 MB of any type. */
static const struct og_media_limit fb_upload_limits[] = {
    {"*", 25LL << 20},
    {NULL, 0},
};
static const struct og_connector facebook_connector = {
    OG_CONNECTOR_HEADER,
    .name = "facebook",
    .version = "1.0.0",
    .description = "Facebook Messenger Platform (page webhooks + Send API)",
    .platform_api = "Messenger Platform, Meta Graph API " FACEBOOK_API_VERSION,
    .options = facebook_options,
    .conf_size = sizeof(struct facebook_conf),
    .create = facebook_create,
    .destroy = facebook_destroy,
    .handle_http = facebook_handle_http,
    .poll = NULL,
    .poll_wakeup = NULL,
    .send = facebook_send,
    .messaging_window_ms = 24 * 3600 * 1000, /* the customer-service window */
    .default_rate_per_s = 200,               /* the Send API's documented per-page pace */
    .caps = OG_CAP_START_OUTBOUND | OG_CAP_ATTACH_URL,
    .fetch_media = facebook_fetch_media,
    .upload_limits = fb_upload_limits,
    .templates = NULL,
    .tag_window_ms = FB_TAG_WINDOW_MS,
    .max_buttons = FB_MAX_BUTTONS,
    .button_title_max = FB_BUTTON_TITLE_MAX,
    .button_id_max = FB_BUTTON_ID_MAX,
};

OG_CONNECTOR_EXPORT const struct og_connector *og_connector_entry(void)
{
    return &facebook_connector;
}
