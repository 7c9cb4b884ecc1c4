/* og_channel - see og_channel.h. */
#include "og_channel.h"
#include "og_http_client.h"
#include "og_json.h"
#include "og_log.h"
#include "og_media.h"
#include "og_smtp.h"
#include "og_util.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static _Thread_local struct og_req_host *tl_req; /* the request being handled */
static _Thread_local int tl_items;               /* items it emitted so far */
/* The message this thread's og_channel_send is delivering, and its channel:
 * its attachment URLs came from a client. */
static _Thread_local const struct og_outbound *tl_send;
static _Thread_local const struct og_channel *tl_send_ch;

static void *svc_alloc(size_t n)
{
    return og_malloc(n);
}
static void svc_free(void *p)
{
    free(p);
}
static char *svc_strdup(const char *s)
{
    return og_strdup(s);
}

static void svc_log(void *host, enum og_log_level lvl, const char *fmt, ...)
{
    struct og_channel *ch = host;
    if ((int)lvl > og_log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    og_log_vwrite((int)lvl, ch ? ch->scope : "connector", fmt, ap);
    va_end(ap);
}

static int svc_log_enabled(void *host, enum og_log_level lvl)
{
    return (int)lvl <= og_log_level;
}

static char *svc_url_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s ? s : "", 0);
    char *d = og_strdup(e ? e : "");
    curl_free(e);
    return d;
}

/* 1 when url is one a client gave the message ch is sending. */
static int client_url(const struct og_channel *ch, const char *url)
{
    if (!tl_send || tl_send_ch != ch || !url)
        return 0;
    for (size_t i = 0; tl_send->attachments && i < tl_send->n_attachments; i++)
        if (tl_send->attachments[i].url && strcmp(tl_send->attachments[i].url, url) == 0)
            return 1;
    return 0;
}

static og_err svc_upload_get(void *host, const char *url, char **data, size_t *len, char **mime,
                             char **name);

static og_err svc_http(void *host, const struct og_http_call *call, struct og_http_result *res)
{
    struct og_channel *ch = host;
    char *data = NULL, *mime = NULL, *name = NULL;
    size_t len = 0;
    if (ch && (!call->method || !strcmp(call->method, "GET")) && !call->body && !call->n_parts &&
        svc_upload_get(host, call->url, &data, &len, &mime, &name) == OG_OK) {
        /* A plugin downloading an agent's upload (VK and e-mail re-upload
         * what they are given) gets it from the media store: no request to
         * our own public URL, whatever ABI minor it was built for. */
        memset(res, 0, sizeof *res);
        res->retry_after_ms = -1;
        res->status = 200;
        res->body = data;
        res->body_len = len;
        res->content_type = mime;
        free(name);
        return OG_OK;
    }
    if (ch && client_url(ch, call->url)) {
        struct og_fetch_policy p = og_channel_fetch_policy(ch);
        og_err e = og_http_client_fetch(call, &p, res);
        if (e == OG_ERR_FORBIDDEN || e == OG_ERR_INVALID)
            og_log_write(OG_LOG_INFO, ch->scope, "attachment not fetched: %s", res->errbuf);
        return e;
    }
    og_err e = og_http_client_call(call, res);
    if (e != OG_OK && ch && og_log_level >= OG_LOG_DEBUG) {
        /* Only scheme://host: paths and queries may carry tokens (Telegram
         * puts the bot token in the path). */
        const char *u = call->url ? call->url : "";
        const char *sep = strstr(u, "://");
        size_t n = sep ? (size_t)(sep + 3 - u) + strcspn(sep + 3, "/?#") : 0;
        og_log_write(OG_LOG_DEBUG, ch->scope, "%s %.*s: %s", call->method ? call->method : "GET",
                     (int)n, u, res->errbuf);
    }
    return e;
}

static size_t media_cap(const struct og_channel *ch, size_t max_bytes)
{
    size_t cap = ch && ch->media_max_bytes > 0 ? (size_t)ch->media_max_bytes
                                               : (size_t)OG_MEDIA_MAX_FILE_BYTES;
    return max_bytes && max_bytes < cap ? max_bytes : cap;
}

static og_err svc_media_fetch(void *host, const struct og_http_call *call, size_t max_bytes,
                              struct og_http_result *res)
{
    struct og_channel *ch = host;
    struct og_fetch_policy p = og_channel_fetch_policy(ch);
    p.max_bytes = media_cap(ch, max_bytes);
    og_err e = og_http_client_fetch(call, &p, res);
    if (e == OG_ERR_FORBIDDEN || e == OG_ERR_INVALID)
        og_log_write(OG_LOG_INFO, ch->scope, "media not fetched: %s", res->errbuf);
    return e;
}

/* The value of query parameter name in url ("" when absent) into out. */
static void query_value(const char *url, const char *name, char *out, size_t outsz)
{
    out[0] = 0;
    const char *q = strchr(url, '?');
    size_t n = strlen(name);
    for (const char *p = q ? q + 1 : NULL; p && *p;) {
        size_t len = strcspn(p, "&#");
        if (len > n && !strncmp(p, name, n) && p[n] == '=') {
            snprintf(out, outsz, "%.*s", (int)(len - n - 1), p + n + 1);
            return;
        }
        p += len;
        if (*p != '&')
            break;
        p++;
    }
}

static og_err svc_upload_get(void *host, const char *url, char **data, size_t *len, char **mime,
                             char **name)
{
    struct og_channel *ch = host;
    *data = *mime = *name = NULL;
    *len = 0;
    /* only an attachment of the message this channel is sending */
    if (!ch || !ch->media || !client_url(ch, url))
        return OG_ERR_NOT_FOUND;
    const char *p = strstr(url, OG_MEDIA_UPLOAD_PATH);
    if (!p)
        return OG_ERR_NOT_FOUND;
    char path[160], id[OG_MEDIA_KEY_MAX + 1], exp[24], sig[48];
    size_t n = strcspn(p + strlen(OG_MEDIA_UPLOAD_PATH), "?#/");
    if (n == 0 || n > OG_MEDIA_KEY_MAX)
        return OG_ERR_NOT_FOUND;
    snprintf(id, sizeof id, "%.*s", (int)n, p + strlen(OG_MEDIA_UPLOAD_PATH));
    snprintf(path, sizeof path, "%s%s", OG_MEDIA_UPLOAD_PATH, id);
    query_value(url, "exp", exp, sizeof exp);
    query_value(url, "sig", sig, sizeof sig);
    int expired = 0;
    if (!og_id_valid(id, "upl_") ||
        og_media_link_check(ch->media_key, path, exp, sig, og_now_ms() / 1000, &expired) != OG_OK)
        return OG_ERR_NOT_FOUND;
    struct og_media_meta m;
    og_err e = og_media_read(ch->media, id, data, &m);
    if (e != OG_OK)
        return e;
    *len = (size_t)m.size;
    *mime = og_strdup(m.mime);
    *name = og_strdup(m.name[0] ? m.name : "file");
    return OG_OK;
}

static const char *svc_req_header(const struct og_http_req *req, const char *name)
{
    struct og_req_host *h = req ? req->host_ctx : NULL;
    return h && h->header ? h->header(h->ctx, name) : NULL;
}

static const char *svc_req_query(const struct og_http_req *req, const char *name)
{
    struct og_req_host *h = req ? req->host_ctx : NULL;
    return h && h->query ? h->query(h->ctx, name) : NULL;
}

static void svc_respond(struct og_http_resp *resp, int status, const char *ctype, const char *body,
                        size_t len)
{
    resp->status = status;
    og_strlcpy(resp->content_type, ctype ? ctype : "text/plain", sizeof resp->content_type);
    free(resp->body);
    resp->body = og_strndup(body ? body : "", body ? len : 0);
    resp->body_len = body ? len : 0;
}

static og_err svc_respond_header(struct og_http_resp *resp, const char *name, const char *value)
{
    if (!name || !value || !*name || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return OG_ERR_INVALID;
    struct og_buf b = {0};
    if (resp->headers)
        og_buf_puts(&b, resp->headers);
    og_buf_printf(&b, "%s: %s\n", name, value);
    free(resp->headers);
    resp->headers = b.data;
    return OG_OK;
}

/* A failed emit is remembered on the request, so the host answers 503 even
 * when a plugin forgets to return the error. */
static og_err note_emit(og_err e)
{
    if (e != OG_OK && tl_req && !tl_req->emit_failed) {
        tl_req->emit_failed = 1;
        tl_req->emit_err = e;
    }
    return e;
}

/* Counts one item of the request being handled against ch->max_items. */
static og_err count_item(const struct og_channel *ch)
{
    if (tl_req && ch && ch->max_items > 0 && ++tl_items > ch->max_items)
        return note_emit(OG_ERR_TOO_LARGE);
    return OG_OK;
}

static og_err svc_emit_message(void *host, const struct og_inbound *m)
{
    struct og_channel *ch = host;
    if (count_item(ch) != OG_OK)
        return OG_ERR_TOO_LARGE;
    if (!m || m->struct_size < offsetof(struct og_inbound, raw_len) + sizeof m->raw_len ||
        !m->dedup_key || !m->from.external_id || (unsigned)m->kind >= OG_KIND__LAST)
        return note_emit(OG_ERR_INVALID);
    if (!ch->sink.message)
        return note_emit(OG_ERR_UNSUPPORTED);
    return note_emit(ch->sink.message(ch->sink.ud, ch, m));
}

static og_err svc_emit_status(void *host, const struct og_status_update *s)
{
    struct og_channel *ch = host;
    if (count_item(ch) != OG_OK)
        return OG_ERR_TOO_LARGE;
    if (!s || !s->dedup_key || (unsigned)s->status >= OG_STATUS__LAST ||
        (!s->provider_message_id && !s->thread_id))
        return note_emit(OG_ERR_INVALID);
    if (!ch->sink.status)
        return note_emit(OG_ERR_UNSUPPORTED);
    return note_emit(ch->sink.status(ch->sink.ud, ch, s));
}

static og_err svc_state_get(void *host, const char *key, char **val)
{
    struct og_channel *ch = host;
    *val = NULL;
    return ch->sink.state_get ? ch->sink.state_get(ch->sink.ud, ch, key, val) : OG_ERR_UNSUPPORTED;
}

static og_err svc_state_set(void *host, const char *key, const char *val)
{
    struct og_channel *ch = host;
    return ch->sink.state_set ? ch->sink.state_set(ch->sink.ud, ch, key, val) : OG_ERR_UNSUPPORTED;
}

static og_err svc_smtp_send(void *host, const struct og_smtp_call *call, struct og_smtp_reply *rep)
{
    memset(rep, 0, sizeof *rep);
    if (!call || call->struct_size < offsetof(struct og_smtp_call, timeout_ms) + sizeof(long) ||
        !call->url || (strncmp(call->url, "smtp://", 7) && strncmp(call->url, "smtps://", 8))) {
        snprintf(rep->detail, sizeof rep->detail, "url must be smtp:// or smtps://");
        return OG_ERR_INVALID;
    }
    const char *st = call->starttls ? call->starttls : "auto";
    struct og_smtp_conf c = {
        .url = call->url,
        .username = call->username,
        .password = call->password,
        .ca_file = call->ca_file,
        .starttls = !strcmp(st, "always")  ? OG_STARTTLS_ALWAYS
                    : !strcmp(st, "never") ? OG_STARTTLS_NEVER
                                           : OG_STARTTLS_AUTO,
        .timeout_ms = call->timeout_ms,
    };
    struct og_smtp_result r;
    og_err e = og_smtp_send_raw(&c, call->mail_from, call->rcpt, call->data, call->data_len, &r);
    rep->code = r.code;
    snprintf(rep->detail, sizeof rep->detail, "%s", r.detail);
    return e;
}

/* ------------------------------------------ the visitor services (1.2) */

static size_t vis_client_addr(const struct og_http_req *req, char *out, size_t outsz)
{
    struct og_req_host *h = req ? req->host_ctx : NULL;
    if (outsz)
        out[0] = 0;
    if (h && h->client_addr)
        return h->client_addr(h->ctx, out, outsz);
    snprintf(out, outsz, "unknown");
    return strlen(out);
}

#define VIS(ch) ((ch)->sink.visitor)

static og_err vis_rate(void *host, const char *key, int limit, int64_t window_ms, long *retry)
{
    struct og_channel *ch = host;
    *retry = 0;
    if (!key || !*key || limit < 1 || window_ms < 1)
        return OG_ERR_INVALID;
    return VIS(ch) ? VIS(ch)->rate(ch->sink.ud, ch, key, limit, window_ms, retry)
                   : OG_ERR_UNSUPPORTED;
}

static og_err vis_create(void *host, const struct og_profile *who, char token[64],
                         struct og_visitor *v)
{
    struct og_channel *ch = host;
    token[0] = 0;
    memset(v, 0, sizeof *v);
    return VIS(ch) ? VIS(ch)->create(ch->sink.ud, ch, who, token, v) : OG_ERR_UNSUPPORTED;
}

static og_err vis_auth(void *host, const char *token, struct og_visitor *v)
{
    struct og_channel *ch = host;
    memset(v, 0, sizeof *v);
    if (!token || !*token)
        return OG_ERR_SIGNATURE;
    return VIS(ch) ? VIS(ch)->auth(ch->sink.ud, ch, token, v) : OG_ERR_UNSUPPORTED;
}

static og_err vis_message(void *host, const struct og_visitor *v, const struct og_inbound *m,
                          char **vm, int *created)
{
    struct og_channel *ch = host;
    *vm = NULL;
    *created = 0;
    if (!m || m->struct_size < offsetof(struct og_inbound, raw_len) + sizeof m->raw_len ||
        !m->dedup_key || !m->from.external_id || strcmp(m->from.external_id, v->external_id) ||
        (m->thread_id && strcmp(m->thread_id, v->external_id)) ||
        (unsigned)m->kind >= OG_KIND__LAST)
        return OG_ERR_INVALID;
    return VIS(ch) ? VIS(ch)->message(ch->sink.ud, ch, v, m, vm, created) : OG_ERR_UNSUPPORTED;
}

static og_err vis_conversation(void *host, const struct og_visitor *v, const char *after, int limit,
                               char **vs, char **vms)
{
    struct og_channel *ch = host;
    if (vs)
        *vs = NULL;
    if (vms)
        *vms = NULL;
    return VIS(ch) ? VIS(ch)->conversation(ch->sink.ud, ch, v, after, limit, vs, vms)
                   : OG_ERR_UNSUPPORTED;
}

static og_err vis_stream(void *host, const struct og_http_req *req, struct og_http_resp *resp,
                         const struct og_visitor *v, const struct og_visitor_stream *o)
{
    struct og_channel *ch = host;
    struct og_req_host *h = req ? req->host_ctx : NULL;
    if (!o || o->struct_size < sizeof *o)
        return OG_ERR_INVALID;
    return h && h->stream ? h->stream(h->ctx, ch, resp, v, o) : OG_ERR_UNSUPPORTED;
}

static og_err vis_typing(void *host, const struct og_visitor *v, int on)
{
    struct og_channel *ch = host;
    return VIS(ch) ? VIS(ch)->typing(ch->sink.ud, ch, v, on != 0) : OG_ERR_UNSUPPORTED;
}

static og_err vis_read(void *host, const struct og_visitor *v, const char *until)
{
    struct og_channel *ch = host;
    if (!until || !*until)
        return OG_ERR_INVALID;
    return VIS(ch) ? VIS(ch)->read(ch->sink.ud, ch, v, until) : OG_ERR_UNSUPPORTED;
}

static og_err vis_close(void *host, const struct og_visitor *v, char **vs)
{
    struct og_channel *ch = host;
    *vs = NULL;
    return VIS(ch) ? VIS(ch)->close(ch->sink.ud, ch, v, vs) : OG_ERR_UNSUPPORTED;
}

static og_err vis_survey(void *host, struct og_visitor_survey *out)
{
    struct og_channel *ch = host;
    if (!ch->survey.scale)
        return OG_ERR_NOT_FOUND;
    *out = ch->survey;
    return OG_OK;
}

static og_err vis_csat(void *host, const struct og_visitor *v, int score, const char *comment,
                       char **csat)
{
    struct og_channel *ch = host;
    *csat = NULL;
    if (!ch->survey.scale)
        return OG_ERR_NOT_FOUND;
    return VIS(ch) ? VIS(ch)->csat(ch->sink.ud, ch, v, score, comment, csat) : OG_ERR_UNSUPPORTED;
}

static int vis_online(void *host)
{
    struct og_channel *ch = host;
    return VIS(ch) ? VIS(ch)->online(ch->sink.ud, ch) : 0;
}

static const char *vis_channel_id(void *host)
{
    struct og_channel *ch = host;
    return ch->id;
}

static og_err vis_attachment(void *host, const struct og_visitor *v, const char *dedup_key,
                             const char *mime, const char *name, const void *data, size_t len,
                             char **vm, int *created)
{
    struct og_channel *ch = host;
    *vm = NULL;
    *created = 0;
    if (!dedup_key || !*dedup_key || !mime || !*mime || !data || len == 0)
        return OG_ERR_INVALID;
    return VIS(ch) ? VIS(ch)->attachment(ch->sink.ud, ch, v, dedup_key, mime, name, data, len, vm,
                                         created)
                   : OG_ERR_UNSUPPORTED;
}

static og_err vis_attachment_get(void *host, const struct og_visitor *v, const char *id,
                                 char **data, size_t *len, char **mime, char **name)
{
    struct og_channel *ch = host;
    *data = *mime = *name = NULL;
    *len = 0;
    return VIS(ch) ? VIS(ch)->attachment_get(ch->sink.ud, ch, v, id, data, len, mime, name)
                   : OG_ERR_UNSUPPORTED;
}

static const struct og_visitor_api visitor_api = {
    .struct_size = sizeof(struct og_visitor_api),
    .client_addr = vis_client_addr,
    .rate = vis_rate,
    .create = vis_create,
    .auth = vis_auth,
    .message = vis_message,
    .conversation = vis_conversation,
    .stream = vis_stream,
    .typing = vis_typing,
    .read = vis_read,
    .close = vis_close,
    .survey = vis_survey,
    .csat = vis_csat,
    .online = vis_online,
    .channel_id = vis_channel_id,
    .attachment = vis_attachment,
    .attachment_get = vis_attachment_get,
};

const struct og_services og_services_table = {
    .struct_size = sizeof(struct og_services),
    .alloc = svc_alloc,
    .free = svc_free,
    .strdup = svc_strdup,
    .log = svc_log,
    .log_enabled = svc_log_enabled,
    .strerror = og_strerror,
    .now_ms = og_now_ms,
    .json = &og_json_api,
    .hmac_sha256 = og_hmac_sha256,
    .sha256 = og_sha256,
    .ct_equal = og_ct_equal,
    .hex_encode = og_hex_encode,
    .base64_encode = og_base64_encode,
    .base64_decode = og_base64_decode,
    .url_escape = svc_url_escape,
    .http = svc_http,
    .http_result_free = og_http_result_free,
    .req_header = svc_req_header,
    .req_query = svc_req_query,
    .respond = svc_respond,
    .respond_header = svc_respond_header,
    .emit_message = svc_emit_message,
    .emit_status = svc_emit_status,
    .state_get = svc_state_get,
    .state_set = svc_state_set,
    .smtp_send = svc_smtp_send,
    .visitor = &visitor_api,
    .media_fetch = svc_media_fetch,
    .upload_get = svc_upload_get,
};

struct og_channel *og_channel_create(struct og_plugin *plugin, const char *id, const char *routing,
                                     json_object *options, const char *path,
                                     const struct og_channel_sink *sink, struct og_errors *errs)
{
    const struct og_connector *c = plugin->desc;
    struct og_channel *ch = og_calloc(1, sizeof *ch);
    ch->id = og_strdup(id);
    ch->routing = og_strdup(routing ? routing : "default");
    ch->plugin = plugin;
    if (sink)
        ch->sink = *sink;
    snprintf(ch->scope, sizeof ch->scope, "channel:%s", id);
    ch->conf = og_calloc(1, c->conf_size ? c->conf_size : 1);
    if (og_options_parse(c->options, c->conf_size, options, path, ch->conf, errs) != 0) {
        og_channel_destroy(ch);
        return NULL;
    }
    char errbuf[256] = "";
    og_err e = c->create(&og_services_table, ch, ch->conf, &ch->inst, errbuf, sizeof errbuf);
    if (e != OG_OK) {
        og_errors_add(errs, "%s: connector %s: %s", path, c->name,
                      errbuf[0] ? errbuf : og_strerror(e));
        ch->inst = NULL;
        og_channel_destroy(ch);
        return NULL;
    }
    return ch;
}

void og_channel_destroy(struct og_channel *ch)
{
    if (!ch)
        return;
    if (ch->inst)
        ch->plugin->desc->destroy(ch->inst);
    og_options_free(ch->plugin->desc->options, ch->conf);
    free(ch->conf);
    free(ch->id);
    free(ch->routing);
    og_channel_set_fetch_allow(ch, NULL, 0);
    og_channel_set_survey(ch, 0, NULL, NULL, 0);
    free(ch);
}

void og_channel_set_survey(struct og_channel *ch, int scale, const char *question,
                           const char *thanks, int comment)
{
    free((char *)ch->survey.question);
    free((char *)ch->survey.thanks);
    memset(&ch->survey, 0, sizeof ch->survey);
    if (scale != 5 && scale != 2)
        return;
    ch->survey.scale = scale;
    ch->survey.question = og_strdup(question ? question : "");
    ch->survey.thanks = og_strdup(thanks ? thanks : "");
    ch->survey.comment = comment != 0;
}

void og_channel_set_fetch_allow(struct og_channel *ch, const char *const *hosts, size_t n)
{
    for (char **h = ch->fetch_allow; h && *h; h++)
        free(*h);
    free(ch->fetch_allow);
    ch->fetch_allow = NULL;
    if (n == 0)
        return;
    ch->fetch_allow = og_calloc(n + 1, sizeof *ch->fetch_allow);
    for (size_t i = 0; i < n; i++)
        ch->fetch_allow[i] = og_strdup(hosts[i]);
}

struct og_fetch_policy og_channel_fetch_policy(const struct og_channel *ch)
{
    struct og_fetch_policy p = {.allow_hosts = (const char *const *)ch->fetch_allow};
    return p;
}

og_err og_channel_fetch_media(struct og_channel *ch, const struct og_media_req *req,
                              struct og_media_res *res)
{
    memset(res, 0, sizeof *res);
    res->struct_size = sizeof *res;
    if (!ch->plugin->desc->fetch_media)
        return OG_ERR_UNSUPPORTED;
    return ch->plugin->desc->fetch_media(ch->inst, req, res);
}

void og_media_res_free(struct og_media_res *res)
{
    free(res->data);
    free(res->url);
    free(res->header);
    free(res->mime_type);
    free(res->name);
    res->data = res->url = res->header = res->mime_type = res->name = NULL;
}

/* scheme://host[:port] of url into out; 0, or -1 when it has none. */
static int origin_of(const char *url, char *out, size_t outsz)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = -1;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        snprintf(out, outsz, "%s://%s:%s", scheme, host, port);
        for (char *p = out; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        rc = 0;
    }
    curl_free(scheme), curl_free(host), curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

/* The scheme of url, for a refusal's words ("gopher"). */
static void scheme_of(const char *url, char *out, size_t outsz)
{
    size_t n = strcspn(url, ":/?#");
    snprintf(out, outsz, "%.*s", (int)(n < 16 ? n : 16), url);
}

og_err og_channel_media_download(struct og_channel *ch, const char *url, const char *header,
                                 size_t max_bytes, long timeout_ms, struct og_http_result *res)
{
    struct og_fetch_policy p = og_channel_fetch_policy(ch);
    p.max_bytes = media_cap(ch, max_bytes);
    char first[320] = "", here[320] = "", loc[2048];
    origin_of(url, first, sizeof first);
    char *cur = og_strdup(url);
    og_err e = OG_ERR_PERMANENT;
    memset(res, 0, sizeof *res);
    for (int hop = 0; hop <= 3; hop++) {
        const char *hdrs[2] = {NULL, NULL};
        if (header && origin_of(cur, here, sizeof here) == 0 && !strcmp(here, first))
            hdrs[0] = header; /* a platform's token never follows a redirect elsewhere */
        struct og_http_call call = {.struct_size = sizeof call,
                                    .method = "GET",
                                    .url = cur,
                                    .headers = hdrs,
                                    .timeout_ms = timeout_ms > 0 ? timeout_ms : 60000};
        e = og_http_client_fetch_loc(&call, &p, res, loc, sizeof loc);
        if (e != OG_OK)
            break;
        long st = res->status;
        if (st >= 200 && st < 300)
            break;
        if ((st == 301 || st == 302 || st == 303 || st == 307 || st == 308) && loc[0]) {
            og_http_result_free(res);
            if (strncasecmp(loc, "http://", 7) != 0 && strncasecmp(loc, "https://", 8) != 0) {
                char sch[20];
                scheme_of(loc, sch, sizeof sch);
                memset(res, 0, sizeof *res);
                snprintf(res->errbuf, sizeof res->errbuf,
                         "refused: a redirect to another scheme (%s:)", sch);
                e = OG_ERR_FORBIDDEN;
                break;
            }
            free(cur);
            cur = og_strdup(loc);
            e = OG_ERR_PERMANENT;
            snprintf(res->errbuf, sizeof res->errbuf, "more than 3 redirects");
            continue;
        }
        snprintf(res->errbuf, sizeof res->errbuf, "the server answered HTTP %ld", st);
        e = st == 404 || st == 410   ? OG_ERR_NOT_FOUND
            : st == 401 || st == 403 ? OG_ERR_AUTH
            : st == 413              ? OG_ERR_TOO_LARGE
            : st >= 400 && st < 500  ? OG_ERR_PERMANENT
                                     : OG_ERR_RETRYABLE;
        og_http_result_free(res);
        break;
    }
    free(cur);
    if (e == OG_ERR_FORBIDDEN || e == OG_ERR_INVALID)
        og_log_write(OG_LOG_INFO, ch->scope, "media not fetched: %s", res->errbuf);
    return e;
}

og_err og_channel_send(struct og_channel *ch, const struct og_outbound *msg,
                       struct og_send_result *res)
{
    const struct og_outbound *saved = tl_send;
    const struct og_channel *saved_ch = tl_send_ch;
    tl_send = msg;
    tl_send_ch = ch;
    og_err e = ch->plugin->desc->send(ch->inst, msg, res);
    tl_send = saved;
    tl_send_ch = saved_ch;
    return e;
}

og_err og_channel_handle_http(struct og_channel *ch, struct og_http_req *req,
                              struct og_http_resp *resp)
{
    struct og_req_host *h = req->host_ctx;
    const struct og_connector *c = ch->plugin->desc;
    if (!c->handle_http)
        return OG_ERR_NOT_FOUND;
    h->channel = ch;
    struct og_req_host *saved = tl_req;
    int saved_items = tl_items;
    tl_req = h;
    tl_items = 0;
    og_err e = c->handle_http(ch->inst, req, resp);
    tl_req = saved;
    tl_items = saved_items;
    if (h->emit_failed)
        return h->emit_err;
    return e;
}

og_err og_channel_handle_visitor(struct og_channel *ch, struct og_http_req *req,
                                 struct og_http_resp *resp)
{
    struct og_req_host *h = req->host_ctx;
    const struct og_connector *c = ch->plugin->desc;
    if (!c->handle_visitor)
        return OG_ERR_NOT_FOUND;
    h->channel = ch;
    struct og_req_host *saved = tl_req;
    int saved_items = tl_items;
    tl_req = h;
    tl_items = 0;
    og_err e = c->handle_visitor(ch->inst, req, resp);
    tl_req = saved;
    tl_items = saved_items;
    return e;
}

void og_http_resp_free(struct og_http_resp *resp)
{
    free(resp->body);
    free(resp->headers);
    resp->body = resp->headers = NULL;
}
