/* telegram.c - the Telegram connector: descriptor, options, instance life
 * cycle, the webhook handler and getUpdates polling.
 *
 * Implements the Telegram Bot API, version 7.0 or later (reply_parameters):
 * https://core.telegram.org/bots/api. Two ways in, chosen by the option
 * "mode":
 *   webhook  POST /hooks/{channel} with one Update per request, checked
 *            against X-Telegram-Bot-Api-Secret-Token (secret_token is then
 *            mandatory: without it anyone who guesses the URL could post);
 *   polling  getUpdates long polling from the host's poll thread; the offset
 *            is kept in the channel state ("offset").
 * Polling order: emit every update of a batch, then persist the new offset.
 * A crash between the two replays that batch after a restart, and the core's
 * de-duplication (dedup_key "u:<update_id>") absorbs the replay; nothing is
 * ever lost because the offset only moves past stored updates.
 *
 * The bot token is part of every API URL, so no URL is ever logged here. */
#include "telegram.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_POLL_MAX_S 50 /* Telegram's long-poll wait limit, seconds */

static const struct og_option telegram_options[] = {
    {"bot_token", OG_OPT_STR, NULL, OG_OPT_REQUIRED | OG_OPT_SECRET,
     offsetof(struct telegram_conf, bot_token), "Bot API token from @BotFather (<id>:<secret>)",
     NULL},
    {"secret_token", OG_OPT_STR, NULL, OG_OPT_SECRET, offsetof(struct telegram_conf, secret_token),
     "setWebhook secret_token (1-256 of A-Z a-z 0-9 _ -); required in webhook mode", NULL},
    {"mode", OG_OPT_ENUM, "webhook", 0, offsetof(struct telegram_conf, mode),
     "webhook: Telegram POSTs to /hooks/{channel}; polling: getUpdates long polling",
     "webhook|polling"},
    {"api_base", OG_OPT_URL, "https://api.telegram.org", 0,
     offsetof(struct telegram_conf, api_base), "Bot API base URL", NULL},
    {"timeout_ms", OG_OPT_INT, "30000", 0, offsetof(struct telegram_conf, timeout_ms),
     "timeout of one Bot API call in ms (long polls add their wait)", NULL},
    {"poll_wait_s", OG_OPT_INT, "5", 0, offsetof(struct telegram_conf, poll_wait_s),
     "polling: getUpdates long-poll wait in s (0-50); also bounds how long shutdown waits", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static int valid_secret_token(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 256)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static int valid_bot_token(const char *s)
{
    for (; *s; s++)
        if (*s <= ' ' || *s == '/' || *s == '?' || *s == '#' || *s == '%' || *s == 0x7f)
            return 0;
    return 1;
}

static og_err telegram_create(const struct og_services *svc, void *host, const void *conf_,
                              void **inst, char *errbuf, size_t errlen)
{
    const struct telegram_conf *conf = conf_;
    *inst = NULL;
    if (!conf->bot_token || !*conf->bot_token || !valid_bot_token(conf->bot_token)) {
        snprintf(errbuf, errlen, "bot_token: missing or not a Bot API token");
        return OG_ERR_INVALID;
    }
    int polling = conf->mode && strcmp(conf->mode, "polling") == 0;
    if (!polling && (!conf->secret_token || !*conf->secret_token)) {
        snprintf(errbuf, errlen,
                 "secret_token is required in webhook mode (set it in setWebhook too), "
                 "or use mode \"polling\"");
        return OG_ERR_INVALID;
    }
    if (conf->poll_wait_s < 0 || conf->poll_wait_s > TG_POLL_MAX_S) {
        snprintf(errbuf, errlen, "poll_wait_s must be 0 to %d", TG_POLL_MAX_S);
        return OG_ERR_INVALID;
    }
    if (conf->secret_token && *conf->secret_token && !valid_secret_token(conf->secret_token)) {
        snprintf(errbuf, errlen, "secret_token: 1-256 characters of A-Z a-z 0-9 _ - only");
        return OG_ERR_INVALID;
    }
    struct telegram *tg = svc->alloc(sizeof *tg);
    memset(tg, 0, sizeof *tg);
    tg->svc = svc;
    tg->host = host;
    tg->conf = conf;
    tg->polling = polling;
    const char *base = conf->api_base ? conf->api_base : "https://api.telegram.org";
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    size_t n = bl + strlen(conf->bot_token) + 8;
    tg->api = svc->alloc(n);
    snprintf(tg->api, n, "%.*s/bot%s", (int)bl, base, conf->bot_token);
    pthread_mutex_init(&tg->mu, NULL);
    *inst = tg;
    svc->log(host, OG_LOG_INFO, "telegram: ready, mode %s", polling ? "polling" : "webhook");
    return OG_OK;
}

static void telegram_destroy(void *inst)
{
    struct telegram *tg = inst;
    if (!tg)
        return;
    pthread_mutex_destroy(&tg->mu);
    tg->svc->free(tg->api);
    tg->svc->free(tg);
}

static og_err telegram_handle_http(void *inst, const struct og_http_req *req,
                                   struct og_http_resp *resp)
{
    struct telegram *tg = inst;
    const struct og_services *svc = tg->svc;
    if (tg->polling) {
        svc->respond(resp, 404, "text/plain", "polling mode: no webhook\n", 25);
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
    const char *got = svc->req_header(req, "X-Telegram-Bot-Api-Secret-Token");
    const char *want = tg->conf->secret_token;
    if (!got || !svc->ct_equal(got, strlen(got), want, strlen(want))) {
        svc->log(tg->host, OG_LOG_WARN, "telegram: webhook with %s secret token, refused",
                 got ? "a wrong" : "no");
        return OG_ERR_SIGNATURE;
    }
    og_err e = telegram_parse_update_body(svc, tg->host, req->body, req->body_len);
    if (e == OG_ERR_INVALID)
        svc->log(tg->host, OG_LOG_WARN, "telegram: webhook body is not an Update");
    if (e == OG_OK) {
        /* A button tap, stored: stop the client's spinner by answering the
         * webhook with the Bot API call itself (answerCallbackQuery). */
        const struct og_json_api *J = svc->json;
        struct og_json *upd = J->parse(req->body, req->body_len);
        const char *cqid = J->str(J->find(upd, "callback_query.id"));
        if (cqid) {
            struct og_json *a = J->new_object();
            J->set(a, "method", J->new_string("answerCallbackQuery"));
            J->set(a, "callback_query_id", J->new_string(cqid));
            size_t n = 0;
            const char *text = J->serialize(a, &n);
            svc->respond(resp, 200, "application/json", text, n);
            J->put(a);
        }
        J->put(upd);
    }
    return e;
}

/* Answers the button taps among a getUpdates answer's updates before
 * offset next (those stored), so the clients' spinners stop. A failure only
 * leaves the spinner to time out. */
static void answer_callbacks(struct telegram *tg, const struct og_json *ans, int64_t next)
{
    const struct og_services *svc = tg->svc;
    const struct og_json_api *J = svc->json;
    const struct og_json *res = J->get(ans, "result");
    for (size_t i = 0; J->type(res) == OG_JSON_ARRAY && i < J->len(res); i++) {
        const struct og_json *u = J->at(res, i);
        const char *cqid = J->str(J->find(u, "callback_query.id"));
        if (!cqid || J->int64(J->get(u, "update_id")) >= next)
            continue;
        struct og_json *b = J->new_object();
        J->set(b, "callback_query_id", J->new_string(cqid));
        struct og_json *a = NULL;
        struct og_send_result r;
        memset(&r, 0, sizeof r);
        if (telegram_call(tg, "answerCallbackQuery", b, 0, &a, &r) != OG_OK)
            svc->log(tg->host, OG_LOG_DEBUG, "telegram: answerCallbackQuery: %s", r.error_message);
        J->put(a);
        J->put(b);
    }
}

static int take_wake(struct telegram *tg)
{
    pthread_mutex_lock(&tg->mu);
    int w = tg->wake;
    tg->wake = 0;
    pthread_mutex_unlock(&tg->mu);
    return w;
}

static void telegram_poll_wakeup(void *inst)
{
    struct telegram *tg = inst;
    pthread_mutex_lock(&tg->mu);
    tg->wake = 1;
    pthread_mutex_unlock(&tg->mu);
}

/* One getUpdates round: see the file comment for the ordering. An update
 * that is malformed is skipped (the offset moves past it) so one bad update
 * cannot wedge the channel; an emit failure stops the batch at that update. */
static og_err telegram_poll(void *inst, int timeout_ms)
{
    struct telegram *tg = inst;
    const struct og_services *svc = tg->svc;
    if (!tg->polling)
        return OG_ERR_UNSUPPORTED; /* webhook mode: the host stops polling us */
    if (take_wake(tg))
        return OG_OK;
    if (!tg->offset_loaded) {
        char *v = NULL;
        og_err e = svc->state_get(tg->host, "offset", &v);
        if (e != OG_OK) {
            svc->free(v);
            return e;
        }
        tg->offset = v ? strtoll(v, NULL, 10) : 0;
        svc->free(v);
        if (tg->offset < 0)
            tg->offset = 0;
        tg->offset_loaded = 1;
    }
    int wait_s = timeout_ms > 0 ? timeout_ms / 1000 : 0;
    if (wait_s > tg->conf->poll_wait_s)
        wait_s = (int)tg->conf->poll_wait_s;
    const struct og_json_api *J = svc->json;
    struct og_json *body = J->new_object();
    if (tg->offset > 0)
        J->set(body, "offset", J->new_int(tg->offset));
    J->set(body, "timeout", J->new_int(wait_s));
    struct og_json *ans = NULL;
    struct og_send_result r;
    memset(&r, 0, sizeof r);
    og_err e =
        telegram_call(tg, "getUpdates", body, (long)wait_s * 1000 + tg->conf->timeout_ms, &ans, &r);
    J->put(body);
    if (e != OG_OK) {
        if (strcmp(r.error_code, "409") == 0)
            svc->log(tg->host, OG_LOG_WARN,
                     "telegram: getUpdates refused (%s): delete the webhook or stop the other "
                     "poller",
                     r.error_message);
        else if (e == OG_ERR_AUTH)
            svc->log(tg->host, OG_LOG_ERROR, "telegram: getUpdates: token rejected (%s)",
                     r.error_message);
        else
            svc->log(tg->host, OG_LOG_DEBUG, "telegram: getUpdates: %s", r.error_message);
        return e;
    }
    size_t alen = 0;
    const char *abody = J->serialize(ans, &alen);
    int64_t next = tg->offset;
    e = telegram_parse_updates(svc, tg->host, abody, alen, &next);
    answer_callbacks(tg, ans, next);
    J->put(ans);
    if (next != tg->offset) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)next);
        tg->offset = next;
        og_err se = svc->state_set(tg->host, "offset", buf);
        if (se != OG_OK && e == OG_OK)
            e = se;
    }
    return e;
}

static og_err telegram_send_cb(void *inst, const struct og_outbound *msg,
                               struct og_send_result *res)
{
    return telegram_send(inst, msg, res);
}

/* An inbound attachment's file (ABI 1.3): getFile turns the file_id into a
 * file_path, valid for an hour, under <api_base>/file/bot<token>/ (the Bot
 * API serves files up to 20 MB; a larger one is "file is too big"). The
 * host downloads that URL under its fetch policy; it holds the token, so it
 * is never logged. */
static og_err telegram_fetch_media(void *inst, const struct og_media_req *req,
                                   struct og_media_res *res)
{
    struct telegram *tg = inst;
    const struct og_services *svc = tg->svc;
    const struct og_json_api *J = svc->json;
    if (!req->media_id || !*req->media_id) {
        snprintf(res->error, sizeof res->error, "the attachment has no file_id");
        return OG_ERR_NOT_FOUND;
    }
    struct og_json *body = J->new_object(), *ans = NULL;
    J->set(body, "file_id", J->new_string(req->media_id));
    struct og_send_result sr;
    memset(&sr, 0, sizeof sr);
    og_err e = telegram_call(tg, "getFile", body, 0, &ans, &sr);
    J->put(body);
    if (e != OG_OK) {
        snprintf(res->error, sizeof res->error, "Telegram getFile: %.100s", sr.error_message);
        if (strstr(sr.error_message, "too big"))
            return OG_ERR_TOO_LARGE;
        return e == OG_ERR_PERMANENT ? OG_ERR_NOT_FOUND : e;
    }
    const char *path = J->str(J->find(ans, "result.file_path"));
    if (!path || !*path || strstr(path, "..")) {
        J->put(ans);
        snprintf(res->error, sizeof res->error, "Telegram getFile gave no file_path");
        return OG_ERR_NOT_FOUND;
    }
    size_t n = strlen(tg->conf->api_base);
    while (n && tg->conf->api_base[n - 1] == '/')
        n--;
    size_t len = n + strlen(tg->conf->bot_token) + strlen(path) + 16;
    res->url = svc->alloc(len);
    snprintf(res->url, len, "%.*s/file/bot%s/%s", (int)n, tg->conf->api_base, tg->conf->bot_token,
             path);
    if (!req->name || !*req->name) {
        const char *slash = strrchr(path, '/');
        res->name = svc->strdup(slash ? slash + 1 : path);
    }
    J->put(ans);
    return OG_OK;
}

/* What a bot may upload (Bot API): photos up to 10 MB, other files 50 MB. */
static const struct og_media_limit tg_upload_limits[] = {
    {"image/", 10LL << 20},
    {"*", 50LL << 20},
    {NULL, 0},
};
static const struct og_connector telegram_connector = {
    OG_CONNECTOR_HEADER,
    .name = "telegram",
    .version = "1.0.0",
    .description = "Telegram bots: webhook or getUpdates polling; text, media by URL, replies",
    .platform_api = "Telegram Bot API 7.0+ (https://core.telegram.org/bots/api)",
    .options = telegram_options,
    .conf_size = sizeof(struct telegram_conf),
    .create = telegram_create,
    .destroy = telegram_destroy,
    .handle_http = telegram_handle_http,
    .poll = telegram_poll,
    .poll_wakeup = telegram_poll_wakeup,
    .send = telegram_send_cb,
    .default_rate_per_s = 30, /* Bot API: about 30 messages per second per bot */
    .caps = OG_CAP_START_OUTBOUND | OG_CAP_ATTACH_URL,
    .fetch_media = telegram_fetch_media,
    .upload_limits = tg_upload_limits,
    .max_buttons = TG_MAX_BUTTONS,
    .button_title_max = TG_BUTTON_TITLE_MAX,
    .button_id_max = TG_BUTTON_ID_MAX,
};

OG_CONNECTOR_EXPORT const struct og_connector *og_connector_entry(void)
{
    return &telegram_connector;
}
