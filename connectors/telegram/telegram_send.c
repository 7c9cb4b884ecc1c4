/* telegram_send.c - normalized outbound message to Bot API calls.
 *
 * One og_outbound becomes a short plan of Bot API calls ("parts"):
 *   - one call per attachment, by URL (or by an existing file_id given as
 *     media_id): sendPhoto, sendVideo, sendAudio, sendVoice, sendDocument,
 *     sendSticker, chosen by the message kind, else by the MIME type;
 *     the text rides as the caption of the first one when it fits in 1024
 *     UTF-16 units, otherwise it follows as text;
 *   - sendMessage for the text, split into chunks of at most 4096 UTF-16
 *     units on UTF-8 boundaries, preferring to cut after a newline, else
 *     after a space, when that keeps at least half a chunk.
 * reply_parameters (with allow_sending_without_reply) go on the first part,
 * reply buttons (ABI 1.3) on the last as an inline keyboard, one button a
 * row: "reply_markup":{"inline_keyboard":[[{"text":title,"callback_data":id}]]};
 * a tap comes back as a callback_query (telegram_parse.c).
 * The provider message id returned is the first part's "<chat.id>:<id>".
 *
 * The Bot API has no idempotency key. So that a retry after a partial
 * failure does not repeat the parts already delivered, a plan of more than
 * one part records its progress in the channel state ("send:<message_id>" =
 * "<parts done>|<first provider id>") and clears it when done.
 *
 * Error mapping (the answer is {"ok":false,"error_code":N,"description":..}):
 *   429 -> OG_ERR_RATE_LIMITED, retry_after_ms = parameters.retry_after * 1000
 *   401, 404 (bad token) -> OG_ERR_AUTH
 *   400, 403 and any other 4xx -> OG_ERR_PERMANENT
 *   5xx, transport failure, timeout, a 2xx that is not {"ok":true} ->
 *   OG_ERR_RETRYABLE. */
#include "og_text.h"
#include "telegram.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int all_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\n' && s[i] != '\r' && s[i] != '\t')
            return 0;
    return 1;
}

/* ------------------------------------------------------------- API calls */

static void set_err(struct og_send_result *res, const char *code, const char *msg)
{
    snprintf(res->error_code, sizeof res->error_code, "%s", code ? code : "");
    snprintf(res->error_message, sizeof res->error_message, "%s", msg ? msg : "");
}

/* Maps a failed answer; see the file comment. */
static og_err map_error(const struct og_services *svc, long status, const struct og_json *ans,
                        long hdr_retry_ms, struct og_send_result *res)
{
    const struct og_json_api *J = svc->json;
    int64_t code = J->type(J->get(ans, "error_code")) == OG_JSON_INT
                       ? J->int64(J->get(ans, "error_code"))
                       : status;
    const struct og_json *d = J->get(ans, "description");
    const char *desc = J->type(d) == OG_JSON_STRING ? J->str(d) : NULL;
    char cbuf[32];
    snprintf(cbuf, sizeof cbuf, "%lld", (long long)code);
    set_err(res, cbuf, desc ? desc : "unexpected answer from the Bot API");
    if (status >= 200 && status < 300 && !J->get(ans, "error_code"))
        return OG_ERR_RETRYABLE; /* a 2xx we cannot read: may be a proxy */
    if (code == 429) {
        int64_t ra = J->int64(J->find(ans, "parameters.retry_after"));
        res->retry_after_ms = ra > 0 && ra < 86400 ? (long)(ra * 1000) : hdr_retry_ms;
        return OG_ERR_RATE_LIMITED;
    }
    if (code == 401 || code == 404)
        return OG_ERR_AUTH;
    if (code == 400) {
        const char *mig = J->str(J->find(ans, "parameters.migrate_to_chat_id"));
        if (mig) {
            char m[256];
            snprintf(m, sizeof m, "%s (the group is now chat %s)", desc ? desc : "migrated", mig);
            set_err(res, cbuf, m);
        }
        return OG_ERR_PERMANENT;
    }
    if (code >= 500 || code <= 0)
        return OG_ERR_RETRYABLE;
    return OG_ERR_PERMANENT;
}

/* One Bot API call: body as JSON, or (file != NULL) as multipart/form-data
 * with body's members as fields and the file as the part named file_field. */
static og_err call_with(struct telegram *tg, const char *method, struct og_json *body,
                        const char *file_field, const struct og_http_part *file, long timeout_ms,
                        struct og_json **answer, struct og_send_result *res);

og_err telegram_call(struct telegram *tg, const char *method, struct og_json *body, long timeout_ms,
                     struct og_json **answer, struct og_send_result *res)
{
    return call_with(tg, method, body, NULL, NULL, timeout_ms, answer, res);
}

static og_err call_with(struct telegram *tg, const char *method, struct og_json *body,
                        const char *file_field, const struct og_http_part *file, long timeout_ms,
                        struct og_json **answer, struct og_send_result *res)
{
    const struct og_services *svc = tg->svc;
    struct og_send_result dummy;
    if (!res) {
        memset(&dummy, 0, sizeof dummy);
        res = &dummy;
    }
    *answer = NULL;
    size_t ulen = strlen(tg->api) + strlen(method) + 2;
    char *url = svc->alloc(ulen);
    snprintf(url, ulen, "%s/%s", tg->api, method);
    size_t blen = 0;
    const char *b = body ? svc->json->serialize(body, &blen) : "{}";
    if (!body)
        blen = 2;
    struct og_http_call call = {
        .struct_size = sizeof call,
        .method = "POST",
        .url = url,
        .body = b,
        .body_len = blen,
        .content_type = "application/json",
        .timeout_ms = timeout_ms > 0 ? timeout_ms : (long)tg->conf->timeout_ms,
    };
    /* multipart: every member of body a field (objects as their JSON text,
     * as the Bot API reads them), then the file */
    const struct og_json_api *J = svc->json;
    size_t nf = file && body ? J->len(body) : 0;
    struct og_http_part *parts = NULL;
    if (file) {
        parts = svc->alloc((nf + 1) * sizeof *parts);
        memset(parts, 0, (nf + 1) * sizeof *parts);
        for (size_t i = 0; i < nf; i++) {
            const char *k = J->key_at(body, i);
            struct og_json *v = J->get(body, k);
            const char *txt = J->str(v);
            size_t tl = txt ? strlen(txt) : 0;
            if (!txt)
                txt = J->serialize(v, &tl);
            parts[i].name = k;
            parts[i].data = txt;
            parts[i].len = tl;
        }
        parts[nf] = *file;
        parts[nf].name = file_field;
        call.body = NULL;
        call.body_len = 0;
        call.content_type = NULL;
        call.parts = parts;
        call.n_parts = nf + 1;
    }
    struct og_http_result hr;
    memset(&hr, 0, sizeof hr);
    og_err e = svc->http(tg->host, &call, &hr);
    svc->free(url); /* holds the token: never logged */
    svc->free(parts);
    if (e != OG_OK || hr.status == 0) {
        set_err(res, "transport", hr.errbuf[0] ? hr.errbuf : "no answer");
        svc->http_result_free(&hr);
        svc->log(tg->host, OG_LOG_DEBUG, "telegram: %s: %s", method, res->error_message);
        return OG_ERR_RETRYABLE;
    }
    struct og_json *ans = svc->json->parse(hr.body ? hr.body : "", hr.body_len);
    if (hr.status >= 200 && hr.status < 300 && svc->json->boolean(svc->json->get(ans, "ok"))) {
        svc->http_result_free(&hr);
        *answer = ans;
        return OG_OK;
    }
    e = map_error(svc, hr.status, ans, hr.retry_after_ms, res);
    svc->log(tg->host, OG_LOG_DEBUG, "telegram: %s: HTTP %ld: %s", method, hr.status,
             res->error_message);
    svc->json->put(ans);
    svc->http_result_free(&hr);
    return e;
}

/* ------------------------------------------------------------------ send */

struct part {
    const char *method, *field; /* NULL field: sendMessage */
    const char *value;          /* URL or file_id */
    const char *text;           /* text chunk or caption, not NUL-terminated */
    size_t text_len;
};

static int is_int(const char *s)
{
    if (!s || !*s)
        return 0;
    if (*s == '-')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static struct og_json *id_value(const struct og_services *svc, const char *s)
{
    return is_int(s) ? svc->json->new_int(strtoll(s, NULL, 10)) : svc->json->new_string(s);
}

static void media_method(enum og_kind kind, const struct og_attachment *a, const char **method,
                         const char **field)
{
    const char *mt = a->mime_type ? a->mime_type : "";
    if (kind == OG_KIND_TEXT || kind == OG_KIND_SYSTEM) /* a caption-only text */
        kind = !strncmp(mt, "image/", 6)   ? OG_KIND_IMAGE
               : !strncmp(mt, "video/", 6) ? OG_KIND_VIDEO
               : !strncmp(mt, "audio/", 6) ? OG_KIND_AUDIO
                                           : OG_KIND_FILE;
    switch (kind) {
    case OG_KIND_IMAGE: *method = "sendPhoto", *field = "photo"; break;
    case OG_KIND_VIDEO: *method = "sendVideo", *field = "video"; break;
    case OG_KIND_AUDIO:
        if (!strncmp(mt, "audio/ogg", 9))
            *method = "sendVoice", *field = "voice";
        else
            *method = "sendAudio", *field = "audio";
        break;
    case OG_KIND_STICKER: *method = "sendSticker", *field = "sticker"; break;
    default: *method = "sendDocument", *field = "document"; break;
    }
}

/* Splits the reply target "<chat>:<message_id>" (or a bare message id) and
 * adds reply_parameters to body. */
static void add_reply(const struct og_services *svc, struct og_json *body, const char *chat,
                      const char *reply)
{
    const char *colon = strrchr(reply, ':');
    const char *mid = colon ? colon + 1 : reply;
    if (!is_int(mid))
        return;
    struct og_json *rp = svc->json->new_object();
    svc->json->set(rp, "message_id", svc->json->new_int(strtoll(mid, NULL, 10)));
    if (colon) {
        char rchat[32];
        size_t n = (size_t)(colon - reply);
        if (n < sizeof rchat) {
            memcpy(rchat, reply, n);
            rchat[n] = 0;
            if (strcmp(rchat, chat) != 0 && is_int(rchat))
                svc->json->set(rp, "chat_id", id_value(svc, rchat));
        }
    }
    svc->json->set(rp, "allow_sending_without_reply", svc->json->new_bool(1));
    svc->json->set(body, "reply_parameters", rp);
}

static void progress_key(char *buf, size_t n, const char *message_id)
{
    snprintf(buf, n, "send:%s", message_id ? message_id : "");
}

og_err telegram_send(void *inst, const struct og_outbound *msg, struct og_send_result *res)
{
    struct telegram *tg = inst;
    const struct og_services *svc = tg->svc;
    const struct og_json_api *J = svc->json;
    res->retry_after_ms = -1;
    const char *chat = msg->thread_id ? msg->thread_id : msg->contact_external_id;
    if (!chat || !*chat) {
        set_err(res, "invalid", "no chat id (thread_id) to send to");
        return OG_ERR_INVALID;
    }
    switch (msg->kind) {
    case OG_KIND_TEXT:
    case OG_KIND_IMAGE:
    case OG_KIND_VIDEO:
    case OG_KIND_AUDIO:
    case OG_KIND_FILE:
    case OG_KIND_STICKER: break;
    default:
        set_err(res, "unsupported", "the Telegram connector cannot send this kind");
        return OG_ERR_UNSUPPORTED;
    }
    const char *text = msg->text ? msg->text : "";
    size_t tlen = strlen(text);
    size_t nb =
        msg->struct_size >= offsetof(struct og_outbound, n_buttons) + sizeof msg->n_buttons &&
                msg->buttons
            ? msg->n_buttons
            : 0;
    if (nb > TG_MAX_BUTTONS) {
        set_err(res, "invalid", "an inline keyboard holds at most 100 buttons");
        return OG_ERR_INVALID;
    }

    /* Build the plan. */
    size_t nmax = msg->n_attachments + tlen / 1024 + 2;
    struct part *parts = svc->alloc(nmax * sizeof *parts);
    memset(parts, 0, nmax * sizeof *parts);
    size_t np = 0;
    int caption_used = 0;
    for (size_t i = 0; i < msg->n_attachments; i++) {
        const struct og_attachment *a = &msg->attachments[i];
        const char *v = a->url ? a->url : a->media_id;
        if (!v || !*v) {
            svc->free(parts);
            set_err(res, "invalid", "attachment without url or media_id");
            return OG_ERR_INVALID;
        }
        media_method(msg->kind, a, &parts[np].method, &parts[np].field);
        parts[np].value = v;
        if (!caption_used && tlen && strcmp(parts[np].field, "sticker") != 0 &&
            og_text_utf16_len(text, tlen) <= TG_CAPTION_MAX) {
            parts[np].text = text;
            parts[np].text_len = tlen;
            caption_used = 1;
        }
        np++;
    }
    if (!caption_used) {
        for (size_t off = 0; off < tlen && np < nmax;) {
            size_t n = og_text_split_len(text + off, tlen - off, TG_TEXT_MAX);
            if (!all_space(text + off, n)) {
                parts[np].method = "sendMessage";
                parts[np].text = text + off;
                parts[np].text_len = n;
                np++;
            }
            off += n;
        }
    }
    if (np == 0) {
        svc->free(parts);
        set_err(res, "invalid", "nothing to send: no text and no attachment");
        return OG_ERR_INVALID;
    }

    /* Resume a plan a previous attempt left half done. */
    char key[192];
    size_t done = 0;
    char first[80] = "";
    progress_key(key, sizeof key, msg->message_id);
    if (np > 1 && msg->message_id) {
        char *st = NULL;
        if (svc->state_get(tg->host, key, &st) == OG_OK && st && *st) {
            char *bar = strchr(st, '|');
            if (bar) {
                done = strtoul(st, NULL, 10);
                snprintf(first, sizeof first, "%s", bar + 1);
                if (done >= np)
                    done = 0, first[0] = 0;
            }
        }
        svc->free(st);
    }

    og_err e = OG_OK;
    for (size_t k = done; k < np; k++) {
        struct part *p = &parts[k];
        struct og_json *body = J->new_object();
        J->set(body, "chat_id", id_value(svc, chat));
        if (p->text) {
            char *t = svc->alloc(p->text_len + 1);
            memcpy(t, p->text, p->text_len);
            t[p->text_len] = 0;
            J->set(body, p->field ? "caption" : "text", J->new_string(t));
            svc->free(t);
        }
        /* an agent's upload goes up as the file itself (multipart), so the
         * Bot API never has to reach our public URL */
        char *data = NULL, *mime = NULL, *fname = NULL;
        size_t dlen = 0;
        int upload =
            p->field && strcmp(p->field, "sticker") != 0 &&
            svc->struct_size >= offsetof(struct og_services, upload_get) + sizeof svc->upload_get &&
            svc->upload_get &&
            svc->upload_get(tg->host, p->value, &data, &dlen, &mime, &fname) == OG_OK;
        if (p->field && !upload)
            J->set(body, p->field, J->new_string(p->value));
        if (k == 0 && msg->reply_to_provider_id)
            add_reply(svc, body, chat, msg->reply_to_provider_id);
        if (k + 1 == np && nb) {
            struct og_json *rows = J->new_array();
            for (size_t i = 0; i < nb; i++) {
                struct og_json *row = J->new_array(), *bt = J->new_object();
                J->set(bt, "text", J->new_string(msg->buttons[i].title));
                J->set(bt, "callback_data", J->new_string(msg->buttons[i].id));
                J->append(row, bt);
                J->append(rows, row);
            }
            struct og_json *rm = J->new_object();
            J->set(rm, "inline_keyboard", rows);
            J->set(body, "reply_markup", rm);
        }
        struct og_json *ans = NULL;
        if (upload) {
            struct og_http_part fp = {
                .filename = fname, .content_type = mime, .data = data, .len = dlen};
            e = call_with(tg, p->method, body, p->field, &fp, 0, &ans, res);
        } else {
            e = telegram_call(tg, p->method, body, 0, &ans, res);
        }
        svc->free(data), svc->free(mime), svc->free(fname);
        J->put(body);
        if (e != OG_OK)
            break;
        if (!first[0]) {
            const char *rc = J->str(J->find(ans, "result.chat.id"));
            const char *rm = J->str(J->find(ans, "result.message_id"));
            snprintf(first, sizeof first, "%s:%s", rc ? rc : chat, rm ? rm : "0");
        }
        J->put(ans);
        if (np > 1 && msg->message_id && k + 1 < np) {
            char val[128];
            snprintf(val, sizeof val, "%zu|%s", k + 1, first);
            svc->state_set(tg->host, key, val);
        }
    }
    if (e == OG_OK) {
        if (np > 1 && msg->message_id)
            svc->state_set(tg->host, key, "");
        res->provider_message_id = svc->strdup(first);
    }
    svc->free(parts);
    return e;
}
