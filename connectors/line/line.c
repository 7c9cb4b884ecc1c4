/* line.c - the LINE connector: options, the instance, the inbound webhook
 * (signature, then line_parse_body()), the sender-profile cache, and the
 * descriptor with the entry symbol at the bottom.
 *
 * Platform API: LINE Messaging API v2 (line/line-openapi webhook.yml and
 * messaging-api.yml; developers.line.biz "Verify webhook signature").
 *
 * Inbound: POST /hooks/{channel}. x-line-signature must be the Base64 of
 * HMAC-SHA256(channel_secret, raw body), compared in constant time; missing
 * or wrong -> OG_ERR_SIGNATURE (401) before the body is looked at. A signed
 * body with "events": [] (the console's Verify button) is answered 200.
 *
 * Sender profiles: webhooks carry only source.userId. The name and picture
 * come from GET /v2/bot/profile/{userId} (or .../group|room/{id}/member/
 * {userId} inside a group or room). They are fetched while the webhook is
 * handled - an API call per unknown user, not per message - and kept in a
 * per-instance cache (8192 users in 8-way sets, 1 h; a failed lookup is
 * remembered for 5 min). One webhook request spends at most 3 s on lookups; after that,
 * and whenever a lookup fails, the message is stored without a name. A
 * lookup never fails the webhook.
 *
 * Thread safety: handle_http and send may run on several threads at once;
 * the profile cache and the replied table are guarded by ln->mu, everything
 * else is immutable after create(). */
#include "line.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- options */

static const struct og_option line_options[] = {
    {"channel_secret", OG_OPT_STR, NULL, OG_OPT_REQUIRED | OG_OPT_SECRET,
     offsetof(struct line_conf, channel_secret),
     "Channel secret (Basic settings): the key of x-line-signature", NULL},
    {"channel_access_token", OG_OPT_STR, NULL, OG_OPT_REQUIRED | OG_OPT_SECRET,
     offsetof(struct line_conf, channel_access_token),
     "Channel access token (Messaging API tab): bearer for every API call", NULL},
    {"api_base", OG_OPT_URL, "https://api.line.me", 0, offsetof(struct line_conf, api_base),
     "Messaging API base URL (reply, push, profile)", NULL},
    {"api_data_base", OG_OPT_URL, "https://api-data.line.me", 0,
     offsetof(struct line_conf, api_data_base),
     "Content API base URL, used in inbound media attachment URLs", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* A copy of a base URL without trailing slashes, [xfer]. */
static char *line_base(const struct og_services *svc, const char *url)
{
    char *s = svc->strdup(url);
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        s[--n] = 0;
    return s;
}

static void line_destroy(void *inst)
{
    struct line *ln = inst;
    if (!ln)
        return;
    const struct og_services *svc = ln->svc;
    for (size_t i = 0; ln->profiles && i < LINE_PROFILE_SETS * LINE_PROFILE_WAYS; i++) {
        svc->free(ln->profiles[i].key);
        svc->free(ln->profiles[i].name);
        svc->free(ln->profiles[i].avatar_url);
    }
    svc->free(ln->profiles);
    if (ln->auth_header) { /* holds the token: wipe before freeing */
        volatile char *p = ln->auth_header;
        while (*p)
            *p++ = 0;
    }
    svc->free(ln->auth_header);
    svc->free(ln->api_base);
    svc->free(ln->api_data_base);
    pthread_mutex_destroy(&ln->mu);
    svc->free(ln);
}

static og_err line_create(const struct og_services *svc, void *host, const void *conf, void **inst,
                          char *errbuf, size_t errlen)
{
    const struct line_conf *c = conf;
    *inst = NULL;
    /* Everything this plugin calls lies at or before emit_message. */
    if (svc->struct_size < offsetof(struct og_services, emit_message) + sizeof svc->emit_message) {
        snprintf(errbuf, errlen, "the host's services table is too old");
        return OG_ERR_INVALID;
    }
    if (!c->channel_secret || !*c->channel_secret || !c->channel_access_token ||
        !*c->channel_access_token) {
        snprintf(errbuf, errlen, "channel_secret and channel_access_token are required");
        return OG_ERR_INVALID;
    }
    if (strpbrk(c->channel_access_token, "\r\n")) {
        snprintf(errbuf, errlen, "channel_access_token must be one line");
        return OG_ERR_INVALID;
    }
    struct line *ln = svc->alloc(sizeof *ln);
    memset(ln, 0, sizeof *ln);
    ln->svc = svc;
    ln->host = host;
    ln->conf = c;
    pthread_mutex_init(&ln->mu, NULL);
    size_t psz = LINE_PROFILE_SETS * LINE_PROFILE_WAYS * sizeof *ln->profiles;
    ln->profiles = svc->alloc(psz);
    memset(ln->profiles, 0, psz);
    ln->api_base = line_base(svc, c->api_base ? c->api_base : "https://api.line.me");
    ln->api_data_base =
        line_base(svc, c->api_data_base ? c->api_data_base : "https://api-data.line.me");
    static const char pre[] = "Authorization: Bearer ";
    size_t tl = strlen(c->channel_access_token);
    ln->auth_header = svc->alloc(sizeof pre + tl);
    memcpy(ln->auth_header, pre, sizeof pre - 1);
    memcpy(ln->auth_header + sizeof pre - 1, c->channel_access_token, tl + 1);
    *inst = ln;
    return OG_OK;
}

/* -------------------------------------------------------- profile cache */

/* Per webhook request: the instance and the lookup deadline. */
struct line_req {
    struct line *ln;
    int64_t deadline_ms;
};

/* The first slot of key's set (FNV-1a). */
static struct line_profile_slot *line_cache_set(struct line *ln, const char *key)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return &ln->profiles[(h % LINE_PROFILE_SETS) * LINE_PROFILE_WAYS];
}

/* Copies a cached entry out under the lock. Returns 1 when fresh. */
static int line_cache_get(struct line *ln, const char *key, int64_t now, struct line_profile *out)
{
    const struct og_services *svc = ln->svc;
    int hit = 0;
    pthread_mutex_lock(&ln->mu);
    struct line_profile_slot *set = line_cache_set(ln, key);
    for (size_t i = 0; i < LINE_PROFILE_WAYS; i++) {
        struct line_profile_slot *s = &set[i];
        if (s->key && strcmp(s->key, key) == 0 && s->expires_ms > now) {
            out->name = svc->strdup(s->name);
            out->avatar_url = svc->strdup(s->avatar_url);
            hit = 1;
            break;
        }
    }
    pthread_mutex_unlock(&ln->mu);
    return hit;
}

/* Stores an entry: over the same key, else a free way, else the way that
 * expires first. */
static void line_cache_put(struct line *ln, const char *key, const char *name, const char *avatar,
                           int64_t expires)
{
    const struct og_services *svc = ln->svc;
    pthread_mutex_lock(&ln->mu);
    struct line_profile_slot *set = line_cache_set(ln, key), *s = NULL;
    for (size_t i = 0; i < LINE_PROFILE_WAYS && !s; i++)
        if (set[i].key && strcmp(set[i].key, key) == 0)
            s = &set[i];
    if (!s) {
        s = &set[0];
        for (size_t i = 0; i < LINE_PROFILE_WAYS; i++) {
            if (!set[i].key) {
                s = &set[i];
                break;
            }
            if (set[i].expires_ms < s->expires_ms)
                s = &set[i];
        }
        svc->free(s->key);
        s->key = svc->strdup(key);
    }
    svc->free(s->name);
    svc->free(s->avatar_url);
    s->name = svc->strdup(name);
    s->avatar_url = svc->strdup(avatar);
    s->expires_ms = expires;
    pthread_mutex_unlock(&ln->mu);
}

/* The line_parse_ctx profile callback: cache, else one GET within budget. */
static void line_profile(void *ud, const char *stype, const char *user, const char *chat,
                         struct line_profile *out)
{
    struct line_req *rq = ud;
    struct line *ln = rq->ln;
    const struct og_services *svc = ln->svc;
    const struct og_json_api *js = svc->json;
    int64_t now = svc->now_ms();

    size_t kl = strlen(user) + (chat ? strlen(chat) : 1) + 2;
    char *key = svc->alloc(kl);
    snprintf(key, kl, "%s:%s", chat ? chat : "-", user);
    if (line_cache_get(ln, key, now, out) || now >= rq->deadline_ms) {
        svc->free(key);
        return;
    }

    char *eu = svc->url_escape(user), *ec = chat ? svc->url_escape(chat) : NULL;
    size_t ul = strlen(ln->api_base) + strlen(eu) + (ec ? strlen(ec) : 0) + 48;
    char *url = svc->alloc(ul);
    if (ec && strcmp(stype, "room") == 0)
        snprintf(url, ul, "%s/v2/bot/room/%s/member/%s", ln->api_base, ec, eu);
    else if (ec)
        snprintf(url, ul, "%s/v2/bot/group/%s/member/%s", ln->api_base, ec, eu);
    else
        snprintf(url, ul, "%s/v2/bot/profile/%s", ln->api_base, eu);
    const char *headers[] = {ln->auth_header, NULL};
    struct og_http_call call = {
        .struct_size = sizeof call,
        .method = "GET",
        .url = url,
        .headers = headers,
        .timeout_ms = (long)(rq->deadline_ms - now),
    };
    struct og_http_result r;
    memset(&r, 0, sizeof r);
    og_err e = svc->http(ln->host, &call, &r);
    const char *name = NULL, *avatar = NULL;
    struct og_json *doc = NULL;
    if (e == OG_OK && r.status == 200 && r.body) {
        doc = js->parse(r.body, r.body_len);
        struct og_json *n = js->get(doc, "displayName"), *p = js->get(doc, "pictureUrl");
        name = js->type(n) == OG_JSON_STRING && *js->str(n) ? js->str(n) : NULL;
        avatar = js->type(p) == OG_JSON_STRING && *js->str(p) ? js->str(p) : NULL;
    } else {
        svc->log(ln->host, OG_LOG_DEBUG, "profile lookup: %s %ld", e == OG_OK ? "HTTP" : r.errbuf,
                 r.status);
    }
    int known = name || avatar;
    line_cache_put(ln, key, name, avatar,
                   now + (known ? LINE_PROFILE_TTL_MS : LINE_PROFILE_NEG_TTL_MS));
    out->name = svc->strdup(name);
    out->avatar_url = svc->strdup(avatar);
    js->put(doc);
    svc->http_result_free(&r);
    svc->free(url);
    svc->free(eu);
    svc->free(ec);
    svc->free(key);
}

/* ------------------------------------------------------- inbound: HTTP */

/* 1 when sig is Base64(HMAC-SHA256(secret, body)), compared in constant time. */
static int line_signature_ok(const struct og_services *svc, const char *secret, const char *body,
                             size_t len, const char *sig)
{
    unsigned char mac[32];
    char want[64];
    svc->hmac_sha256(secret, strlen(secret), body, len, mac);
    size_t wl = svc->base64_encode(mac, sizeof mac, want, sizeof want);
    if (wl == (size_t)-1)
        return 0;
    return svc->ct_equal(want, wl, sig, strlen(sig));
}

static og_err line_handle_http(void *inst, const struct og_http_req *req, struct og_http_resp *resp)
{
    struct line *ln = inst;
    const struct og_services *svc = ln->svc;
    static const char ok[] = "{\"ok\":true}";

    if (req->path && req->path[0] && strcmp(req->path, "/") != 0) {
        svc->respond(resp, 404, "text/plain", "not found", 9);
        return OG_ERR_NOT_FOUND;
    }
    if (!req->method || strcmp(req->method, "POST") != 0) {
        svc->respond(resp, 405, "text/plain", "use POST", 8);
        return OG_ERR_INVALID;
    }
    const char *sig = svc->req_header(req, "x-line-signature");
    if (!sig || !line_signature_ok(svc, ln->conf->channel_secret, req->body, req->body_len, sig)) {
        svc->log(ln->host, OG_LOG_WARN, "%s x-line-signature on a %zu-byte body, refused",
                 sig ? "wrong" : "no", req->body_len);
        return OG_ERR_SIGNATURE;
    }

    struct line_req rq = {ln, svc->now_ms() + LINE_PROFILE_BUDGET_MS};
    struct line_parse_ctx ctx = {
        .svc = svc,
        .host = ln->host,
        .api_data_base = ln->api_data_base,
        .profile = line_profile,
        .profile_ud = &rq,
    };
    og_err e = line_parse_body(&ctx, req->body, req->body_len);
    if (e == OG_ERR_INVALID) {
        svc->log(ln->host, OG_LOG_INFO, "signed body is not a LINE webhook (%zu bytes)",
                 req->body_len);
        svc->respond(resp, 400, "text/plain", "not a LINE webhook body", 23);
        return e;
    }
    if (e != OG_OK) /* an emit failed: no 2xx, LINE redelivers */
        return e;
    if (svc->log_enabled(ln->host, OG_LOG_DEBUG))
        svc->log(ln->host, OG_LOG_DEBUG, "webhook: %zu emitted, %zu skipped", ctx.emitted,
                 ctx.skipped);
    svc->respond(resp, 200, "application/json", ok, sizeof ok - 1);
    return OG_OK;
}

/* ---------------------------------------------------------------- send */

static og_err line_send_cb(void *inst, const struct og_outbound *msg, struct og_send_result *res)
{
    return line_send(inst, msg, res);
}

/* ------------------------------------------------------------- descriptor */

/* An inbound attachment's file (ABI 1.3): the content endpoint
 * <api_data_base>/v2/bot/message/{id}/content with the channel access token,
 * or, for content a provider hosts outside LINE, its originalContentUrl
 * (no token goes there). The host downloads under its fetch policy. */
static og_err line_fetch_media(void *inst, const struct og_media_req *req, struct og_media_res *res)
{
    struct line *ln = inst;
    const struct og_services *svc = ln->svc;
    size_t nb = strlen(ln->api_data_base);
    if (req->url && *req->url && strncmp(req->url, ln->api_data_base, nb) != 0) {
        res->url = svc->strdup(req->url); /* external content: no token */
        return OG_OK;
    }
    if (!req->media_id || !*req->media_id ||
        strspn(req->media_id, "0123456789") != strlen(req->media_id)) {
        snprintf(res->error, sizeof res->error, "the attachment has no LINE message id");
        return OG_ERR_NOT_FOUND;
    }
    size_t len = nb + strlen(req->media_id) + 32;
    res->url = svc->alloc(len);
    snprintf(res->url, len, "%s/v2/bot/message/%s/content", ln->api_data_base, req->media_id);
    res->header = svc->strdup(ln->auth_header);
    return OG_OK;
}

/* LINE sends images (JPEG, PNG: 10 MB), video and audio (MP4, M4A: 200 MB)
 * by URL, and no other files. */
static const struct og_media_limit line_upload_limits[] = {
    {"image/jpeg", 10LL << 20},
    {"image/png", 10LL << 20},
    {"video/mp4", 200LL << 20},
    {"audio/mp4", 200LL << 20},
    {NULL, 0},
};
static const struct og_connector line_connector = {
    OG_CONNECTOR_HEADER,
    .name = "line",
    .version = "1.0.0",
    .description = "LINE Messaging API: webhook in, reply/push out",
    .platform_api = "LINE Messaging API v2 (webhook events; /v2/bot/message/reply, "
                    "/v2/bot/message/push, /v2/bot/profile)",
    .options = line_options,
    .conf_size = sizeof(struct line_conf),
    .create = line_create,
    .destroy = line_destroy,
    .handle_http = line_handle_http,
    .poll = NULL,
    .poll_wakeup = NULL,
    .send = line_send_cb,
    .default_rate_per_s = 2000, /* Messaging API: 2,000 requests per second per channel */
    .caps = OG_CAP_START_OUTBOUND | OG_CAP_ATTACH_URL,
    .fetch_media = line_fetch_media,
    .upload_limits = line_upload_limits,
    .max_buttons = LINE_MAX_BUTTONS,
    .button_title_max = LINE_BUTTON_TITLE_MAX,
    .button_id_max = LINE_BUTTON_ID_MAX,
};

OG_CONNECTOR_EXPORT const struct og_connector *og_connector_entry(void)
{
    return &line_connector;
}
