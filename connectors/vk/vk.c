/* vk.c - the VK connector: descriptor, options, instance life cycle, the
 * Callback API handler, Bots Long Poll and the sender-profile cache.
 *
 * Implements the VK API 5.199 (https://dev.vk.com/en/reference, schema repo
 * VKCOM/vk-api-schema @5.199): Callback API and Bots Long Poll in,
 * messages.send out. Two ways in, chosen by the option "mode":
 *   callback  VK POSTs events to /hooks/{channel}: "confirmation" is answered
 *             with the configured string, every other event must carry the
 *             configured secret (so secret is mandatory in this mode) and is
 *             answered with the body "ok";
 *   longpoll  groups.getLongPollServer + a_check from the host's poll
 *             thread; ts is kept in the channel state ("lp_ts").
 * Long Poll order: emit every update of an answer, then persist its ts. A
 * crash in between replays those updates after a restart and the core's
 * de-duplication by event_id absorbs them; ts never moves past an update
 * that was not stored.
 *
 * Events carry no sender names, so (option fetch_profiles, default on) the
 * sender is looked up once with users.get and kept in a small cache (1 h; a
 * failure is remembered for 1 min so a VK outage does not slow every
 * callback).
 *
 * The access token travels in POST bodies only; the long-poll key is in the
 * a_check URL, which is never logged. */
#include "vk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VK_LP_WAIT_MAX_S 90 /* VK's a_check wait limit, seconds */
#define VK_PROFILE_TTL_MS (3600 * 1000LL)
#define VK_PROFILE_FAIL_TTL_MS (60 * 1000LL)
#define VK_PROFILE_TIMEOUT_MS 3000

static const struct og_option vk_options[] = {
    {"access_token", OG_OPT_STR, NULL, OG_OPT_REQUIRED | OG_OPT_SECRET,
     offsetof(struct vk_conf, access_token), "community access token (messages, photos, docs)",
     NULL},
    {"group_id", OG_OPT_INT, NULL, OG_OPT_REQUIRED, offsetof(struct vk_conf, group_id),
     "the community id (positive)", NULL},
    {"confirmation", OG_OPT_STR, NULL, OG_OPT_REQUIRED, offsetof(struct vk_conf, confirmation),
     "the Callback API confirmation string", NULL},
    {"secret", OG_OPT_STR, NULL, OG_OPT_SECRET, offsetof(struct vk_conf, secret),
     "the Callback API secret key; required in callback mode", NULL},
    {"mode", OG_OPT_ENUM, "callback", 0, offsetof(struct vk_conf, mode),
     "callback: VK POSTs to /hooks/{channel}; longpoll: Bots Long Poll", "callback|longpoll"},
    {"api_version", OG_OPT_STR, "5.199", 0, offsetof(struct vk_conf, api_version),
     "VK API version sent as v=", NULL},
    {"api_base", OG_OPT_URL, "https://api.vk.com", 0, offsetof(struct vk_conf, api_base),
     "VK API base URL (methods at <api_base>/method/<name>)", NULL},
    {"timeout_ms", OG_OPT_INT, "30000", 0, offsetof(struct vk_conf, timeout_ms),
     "timeout of one API call or upload in ms (long polls add their wait)", NULL},
    {"poll_wait_s", OG_OPT_INT, "5", 0, offsetof(struct vk_conf, poll_wait_s),
     "longpoll: a_check wait in s (0-90); also bounds how long shutdown waits", NULL},
    {"fetch_profiles", OG_OPT_BOOL, "true", 0, offsetof(struct vk_conf, fetch_profiles),
     "look senders up with users.get (name, screen name, avatar)", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* ------------------------------------------------------- profile cache */

static int vk_profile_lookup(void *ud, int64_t user_id, struct vk_profile *out)
{
    struct vk *vk = ud;
    const struct og_services *svc = vk->svc;
    int64_t now = svc->now_ms();
    size_t slot = (size_t)((uint64_t)user_id % VK_PROFILE_CACHE);
    pthread_mutex_lock(&vk->mu);
    struct vk_profile_slot *s = &vk->cache[slot];
    if (s->id == user_id && s->until_ms > now) {
        int ok = s->ok;
        if (ok)
            *out = s->p;
        pthread_mutex_unlock(&vk->mu);
        return ok;
    }
    pthread_mutex_unlock(&vk->mu);

    char params[96];
    snprintf(params, sizeof params, "user_ids=%lld&fields=photo_100,screen_name",
             (long long)user_id);
    struct og_json *ans = NULL;
    long to = vk->conf->timeout_ms < VK_PROFILE_TIMEOUT_MS ? (long)vk->conf->timeout_ms
                                                           : VK_PROFILE_TIMEOUT_MS;
    struct vk_profile p;
    memset(&p, 0, sizeof p);
    int ok = 0;
    if (vk_api(vk, "users.get", params, to, &ans, NULL) == OG_OK) {
        const struct og_json_api *J = svc->json;
        const struct og_json *u = J->find(ans, "response.0");
        if (J->int64(J->get(u, "id")) == user_id) {
            const char *f = J->str(J->get(u, "first_name")), *l = J->str(J->get(u, "last_name"));
            snprintf(p.name, sizeof p.name, "%s%s%s", f ? f : "", f && l && *f && *l ? " " : "",
                     l ? l : "");
            const char *sn = J->str(J->get(u, "screen_name"));
            snprintf(p.username, sizeof p.username, "%s", sn ? sn : "");
            const char *av = J->str(J->get(u, "photo_100"));
            snprintf(p.avatar, sizeof p.avatar, "%s", av ? av : "");
            ok = 1;
        }
    }
    svc->json->put(ans);
    if (!ok)
        svc->log(vk->host, OG_LOG_DEBUG, "vk: users.get %lld failed; no profile",
                 (long long)user_id);
    pthread_mutex_lock(&vk->mu);
    s->id = user_id;
    s->ok = ok;
    s->p = p;
    s->until_ms = now + (ok ? VK_PROFILE_TTL_MS : VK_PROFILE_FAIL_TTL_MS);
    pthread_mutex_unlock(&vk->mu);
    if (ok)
        *out = p;
    return ok;
}

static vk_profile_fn profile_fn(struct vk *vk)
{
    return vk->conf->fetch_profiles ? vk_profile_lookup : NULL;
}

/* ---------------------------------------------------------- life cycle */

static og_err vk_create(const struct og_services *svc, void *host, const void *conf_, void **inst,
                        char *errbuf, size_t errlen)
{
    const struct vk_conf *conf = conf_;
    *inst = NULL;
    if (conf->group_id <= 0) {
        snprintf(errbuf, errlen, "group_id must be the positive community id");
        return OG_ERR_INVALID;
    }
    int longpoll = conf->mode && strcmp(conf->mode, "longpoll") == 0;
    if (!longpoll && (!conf->secret || !*conf->secret)) {
        snprintf(errbuf, errlen,
                 "secret is required in callback mode (set the same Secret key in the "
                 "community's Callback API settings), or use mode \"longpoll\"");
        return OG_ERR_INVALID;
    }
    if (conf->poll_wait_s < 0 || conf->poll_wait_s > VK_LP_WAIT_MAX_S) {
        snprintf(errbuf, errlen, "poll_wait_s must be 0 to %d", VK_LP_WAIT_MAX_S);
        return OG_ERR_INVALID;
    }
    if (!conf->api_version || !*conf->api_version) {
        snprintf(errbuf, errlen, "api_version must not be empty");
        return OG_ERR_INVALID;
    }
    struct vk *vk = svc->alloc(sizeof *vk);
    memset(vk, 0, sizeof *vk);
    vk->svc = svc;
    vk->host = host;
    vk->conf = conf;
    vk->longpoll = longpoll;
    const char *base = conf->api_base ? conf->api_base : "https://api.vk.com";
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    vk->method_base = svc->alloc(bl + 16);
    snprintf(vk->method_base, bl + 16, "%.*s/method/", (int)bl, base);
    pthread_mutex_init(&vk->mu, NULL);
    *inst = vk;
    svc->log(host, OG_LOG_INFO, "vk: ready, group %lld, mode %s, API %s", (long long)conf->group_id,
             longpoll ? "longpoll" : "callback", conf->api_version);
    return OG_OK;
}

static void vk_destroy(void *inst)
{
    struct vk *vk = inst;
    if (!vk)
        return;
    pthread_mutex_destroy(&vk->mu);
    vk->svc->free(vk->method_base);
    vk->svc->free(vk->lp_server);
    vk->svc->free(vk->lp_key);
    vk->svc->free(vk->lp_ts);
    vk->svc->free(vk);
}

/* ---------------------------------------------------------- Callback API */

static og_err vk_handle_http(void *inst, const struct og_http_req *req, struct og_http_resp *resp)
{
    struct vk *vk = inst;
    const struct og_services *svc = vk->svc;
    if (vk->longpoll) {
        svc->respond(resp, 404, "text/plain", "longpoll mode: no callback\n", 27);
        return OG_ERR_NOT_FOUND;
    }
    if (!req->method || strcmp(req->method, "POST") != 0) {
        svc->respond(resp, 405, "text/plain", "POST only\n", 10);
        if (svc->struct_size >=
                offsetof(struct og_services, respond_header) + sizeof svc->respond_header &&
            svc->respond_header)
            svc->respond_header(resp, "Allow", "POST");
        return OG_ERR_INVALID;
    }
    struct vk_callback_conf cc = {vk->conf->group_id, vk->conf->secret, vk->conf->confirmation};
    const char *answer = NULL;
    og_err e = vk_parse_callback(svc, vk->host, &cc, req->body, req->body_len, profile_fn(vk), vk,
                                 &answer);
    if (e == OG_OK && answer)
        svc->respond(resp, 200, "text/plain", answer, strlen(answer));
    else if (e == OG_ERR_FORBIDDEN)
        svc->respond(resp, 403, "text/plain", "Bad Secret", 10);
    return e;
}

/* ------------------------------------------------------- Bots Long Poll */

static int take_wake(struct vk *vk)
{
    pthread_mutex_lock(&vk->mu);
    int w = vk->wake;
    vk->wake = 0;
    pthread_mutex_unlock(&vk->mu);
    return w;
}

static void vk_poll_wakeup(void *inst)
{
    struct vk *vk = inst;
    pthread_mutex_lock(&vk->mu);
    vk->wake = 1;
    pthread_mutex_unlock(&vk->mu);
}

static void drop_server(struct vk *vk)
{
    vk->svc->free(vk->lp_server);
    vk->svc->free(vk->lp_key);
    vk->lp_server = vk->lp_key = NULL;
}

static og_err save_ts(struct vk *vk, const char *ts)
{
    vk->svc->free(vk->lp_ts);
    vk->lp_ts = vk->svc->strdup(ts);
    return vk->svc->state_set(vk->host, "lp_ts", ts);
}

/* groups.getLongPollServer. Keeps the current ts unless there is none. */
static og_err get_server(struct vk *vk)
{
    const struct og_services *svc = vk->svc;
    const struct og_json_api *J = svc->json;
    char params[64];
    snprintf(params, sizeof params, "group_id=%lld", (long long)vk->conf->group_id);
    struct og_json *ans = NULL;
    struct og_send_result r;
    memset(&r, 0, sizeof r);
    og_err e = vk_api(vk, "groups.getLongPollServer", params, 0, &ans, &r);
    if (e != OG_OK) {
        svc->log(vk->host, e == OG_ERR_RETRYABLE ? OG_LOG_DEBUG : OG_LOG_WARN,
                 "vk: groups.getLongPollServer: %s %s", r.error_code, r.error_message);
        return e;
    }
    const char *key = J->str(J->find(ans, "response.key"));
    const char *server = J->str(J->find(ans, "response.server"));
    const char *ts = J->str(J->find(ans, "response.ts"));
    if (!key || !server || !ts) {
        J->put(ans);
        svc->log(vk->host, OG_LOG_WARN, "vk: groups.getLongPollServer: incomplete answer");
        return OG_ERR_RETRYABLE;
    }
    drop_server(vk);
    vk->lp_key = svc->strdup(key);
    /* VK documents the server with a scheme; older answers omitted it. */
    if (strncmp(server, "http://", 7) != 0 && strncmp(server, "https://", 8) != 0) {
        size_t n = strlen(server) + 9;
        vk->lp_server = svc->alloc(n);
        snprintf(vk->lp_server, n, "https://%s", server);
    } else {
        vk->lp_server = svc->strdup(server);
    }
    if (!vk->lp_ts)
        e = save_ts(vk, ts);
    J->put(ans);
    return e;
}

static og_err vk_poll(void *inst, int timeout_ms)
{
    struct vk *vk = inst;
    const struct og_services *svc = vk->svc;
    if (!vk->longpoll)
        return OG_ERR_UNSUPPORTED; /* callback mode: the host stops polling us */
    if (take_wake(vk))
        return OG_OK;
    if (!vk->lp_ts_loaded) {
        char *v = NULL;
        og_err e = svc->state_get(vk->host, "lp_ts", &v);
        if (e != OG_OK) {
            svc->free(v);
            return e;
        }
        svc->free(vk->lp_ts);
        vk->lp_ts = v && *v ? svc->strdup(v) : NULL;
        svc->free(v);
        vk->lp_ts_loaded = 1;
    }
    if (!vk->lp_key) {
        og_err e = get_server(vk);
        if (e != OG_OK)
            return e;
    }
    int wait_s = timeout_ms > 0 ? timeout_ms / 1000 : 0;
    if (wait_s > vk->conf->poll_wait_s)
        wait_s = (int)vk->conf->poll_wait_s;
    char *key = svc->url_escape(vk->lp_key);
    char *ts = svc->url_escape(vk->lp_ts);
    size_t n = strlen(vk->lp_server) + strlen(key) + strlen(ts) + 64;
    char *url = svc->alloc(n);
    snprintf(url, n, "%s%sact=a_check&key=%s&ts=%s&wait=%d", vk->lp_server,
             strchr(vk->lp_server, '?') ? "&" : "?", key, ts, wait_s);
    svc->free(key);
    svc->free(ts);
    struct og_http_call call = {.struct_size = sizeof call,
                                .method = "GET",
                                .url = url,
                                .timeout_ms = (long)wait_s * 1000 + (long)vk->conf->timeout_ms};
    struct og_http_result hr;
    memset(&hr, 0, sizeof hr);
    svc->http(vk->host, &call, &hr);
    svc->free(url); /* holds the key: never logged */
    if (hr.status != 200) {
        svc->log(vk->host, OG_LOG_DEBUG, "vk: a_check: %s",
                 hr.status ? "HTTP error" : (hr.errbuf[0] ? hr.errbuf : "no answer"));
        og_err e = hr.status >= 400 && hr.status < 500 && hr.status != 429 ? OG_ERR_PERMANENT
                                                                           : OG_ERR_RETRYABLE;
        if (hr.status >= 400 && hr.status < 500)
            drop_server(vk); /* ask for a fresh server next time */
        svc->http_result_free(&hr);
        return e;
    }
    struct vk_lp_answer a;
    og_err e = vk_parse_longpoll(svc, vk->host, hr.body ? hr.body : "", hr.body_len, profile_fn(vk),
                                 vk, &a);
    svc->http_result_free(&hr);
    if (e == OG_ERR_INVALID) {
        svc->log(vk->host, OG_LOG_WARN, "vk: a_check: unreadable answer");
        return OG_ERR_RETRYABLE;
    }
    if (e != OG_OK)
        return e; /* not stored: same ts next time */
    switch (a.failed) {
    case 0: break;
    case 1: /* history outdated: continue from the new ts; events may be lost */
        svc->log(vk->host, OG_LOG_WARN,
                 "vk: long poll history outdated (failed 1); continuing, events may be lost");
        if (!a.ts[0])
            return OG_ERR_RETRYABLE;
        return save_ts(vk, a.ts);
    case 2: /* key expired: new key, same ts */
        svc->log(vk->host, OG_LOG_DEBUG, "vk: long poll key expired (failed 2)");
        drop_server(vk);
        return get_server(vk);
    case 3: /* information lost: new key and ts */
        svc->log(vk->host, OG_LOG_WARN,
                 "vk: long poll information lost (failed 3); new key and ts");
        drop_server(vk);
        svc->free(vk->lp_ts);
        vk->lp_ts = NULL;
        return get_server(vk);
    default:
        svc->log(vk->host, OG_LOG_ERROR, "vk: long poll failed %d (check api_version)", a.failed);
        drop_server(vk);
        return OG_ERR_PERMANENT;
    }
    if (a.ts[0] && (!vk->lp_ts || strcmp(a.ts, vk->lp_ts) != 0))
        return save_ts(vk, a.ts);
    return OG_OK;
}

static og_err vk_send_cb(void *inst, const struct og_outbound *msg, struct og_send_result *res)
{
    return vk_send(inst, msg, res);
}

/* An inbound attachment's file (ABI 1.3): VK gives photos, documents and
 * voice messages public URLs on its CDN, which the host downloads under its
 * fetch policy. */
static og_err vk_fetch_media(void *inst, const struct og_media_req *req, struct og_media_res *res)
{
    struct vk *vk = inst;
    if (!req->url || !*req->url) {
        snprintf(res->error, sizeof res->error, "the attachment has no URL");
        return OG_ERR_NOT_FOUND;
    }
    res->url = vk->svc->strdup(req->url);
    return OG_OK;
}

/* VK: photos 50 MB, documents 200 MB. */
static const struct og_media_limit vk_upload_limits[] = {
    {"image/", 50LL << 20},
    {"*", 200LL << 20},
    {NULL, 0},
};
static const struct og_connector vk_connector = {
    OG_CONNECTOR_HEADER,
    .name = "vk",
    .version = "1.0.0",
    .description = "VK communities: Callback API or Bots Long Poll; text, photos and files, "
                   "replies",
    .platform_api = "VK API 5.199 (Callback API, Bots Long Poll, messages.send)",
    .options = vk_options,
    .conf_size = sizeof(struct vk_conf),
    .create = vk_create,
    .destroy = vk_destroy,
    .handle_http = vk_handle_http,
    .poll = vk_poll,
    .poll_wakeup = vk_poll_wakeup,
    .send = vk_send_cb,
    .default_rate_per_s = 20, /* messages.send: 20 calls per second per community token */
    .caps = OG_CAP_START_OUTBOUND | OG_CAP_ATTACH_URL,
    .fetch_media = vk_fetch_media,
    .upload_limits = vk_upload_limits,
    .max_buttons = VK_MAX_BUTTONS,
    .button_title_max = VK_BUTTON_TITLE_MAX,
    .button_id_max = VK_BUTTON_ID_MAX,
};

OG_CONNECTOR_EXPORT const struct og_connector *og_connector_entry(void)
{
    return &vk_connector;
}
