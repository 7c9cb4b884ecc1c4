/* vk_send.c - normalized outbound message to VK messages.send, with the
 * photo/doc upload flow, and the VK error mapping.
 *
 * One og_outbound becomes:
 *   1. for every attachment with a URL: download it (svc->http GET, no
 *      redirects; the host refuses private and loopback addresses, which
 *      fails the message for good), then
 *        image: photos.getMessagesUploadServer(peer_id) -> multipart POST
 *               field "photo" -> photos.saveMessagesPhoto -> photo<owner>_<id>[_<key>]
 *        other: docs.getMessagesUploadServer(type=doc, peer_id) -> POST field
 *               "file" -> docs.save -> doc<owner>_<id>
 *      an attachment with only a media_id ("photo1_2", "doc3_4") is used as is;
 *   2. messages.send per text chunk (at most 9000 UTF-16 units, cut like
 *      Telegram's: UTF-8 boundary, after a newline, else a space), the
 *      attachments and the reply on the first one. random_id is derived from
 *      our message id ("<id>" for the first chunk, "<id>#<k>" after), so a
 *      retry of the whole send is de-duplicated by VK chunk by chunk.
 * The provider message id is the first messages.send answer. Reply buttons
 * (ABI 1.3) go on the last messages.send as an inline keyboard, one button a
 * row: keyboard={"inline":true,"buttons":[[{"action":{"type":"text",
 * "label":title,"payload":"{\"button\":id}"},"color":"secondary"}]]} (at
 * most 6 rows, a label of 40 characters, a payload of 255); a tap comes back
 * as message_new with that payload (vk_parse.c).
 *
 * Errors (VK answers HTTP 200 {"error":{"error_code":N,"error_msg":..}}):
 *   5, 27 -> OG_ERR_AUTH; 6 (1 s), 9, 29, 14 (captcha) -> OG_ERR_RATE_LIMITED;
 *   10 -> OG_ERR_RETRYABLE; 901, 902, 15, 917, 945, 914, 100 and any other
 *   code -> OG_ERR_PERMANENT; HTTP 5xx, transport failure, timeout, an
 *   unreadable answer -> OG_ERR_RETRYABLE; HTTP 429 -> OG_ERR_RATE_LIMITED. */
#include "og_text.h"
#include "vk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ buffers */

struct buf {
    const struct og_services *svc;
    char *p;
    size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = b->svc->alloc(cap);
        if (b->p)
            memcpy(np, b->p, b->len);
        b->svc->free(b->p);
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* Appends "&key=<escaped val>" ("key=..." first). */
static void form_add(struct buf *b, const char *key, const char *val)
{
    if (b->len)
        buf_add(b, "&", 1);
    buf_str(b, key);
    buf_add(b, "=", 1);
    char *e = b->svc->url_escape(val ? val : "");
    buf_str(b, e);
    b->svc->free(e);
}

static void form_addn(struct buf *b, const char *key, const char *val, size_t n)
{
    char *t = b->svc->alloc(n + 1);
    memcpy(t, val, n);
    t[n] = 0;
    form_add(b, key, t);
    b->svc->free(t);
}

static void form_int(struct buf *b, const char *key, long long v)
{
    char n[32];
    snprintf(n, sizeof n, "%lld", v);
    form_add(b, key, n);
}

static void set_err(struct og_send_result *res, const char *code, const char *msg)
{
    snprintf(res->error_code, sizeof res->error_code, "%s", code ? code : "");
    snprintf(res->error_message, sizeof res->error_message, "%s", msg ? msg : "");
}

int32_t vk_random_id(const struct og_services *svc, const char *key)
{
    unsigned char h[32];
    svc->sha256(key ? key : "", key ? strlen(key) : 0, h);
    uint32_t v =
        ((uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3]) & 0x7fffffffu;
    return v ? (int32_t)v : 1;
}

/* ---------------------------------------------------------- API calls */

static og_err map_vk_error(int64_t code, struct og_send_result *res)
{
    switch (code) {
    case 5:
    case 27: return OG_ERR_AUTH;
    case 6: res->retry_after_ms = 1000; return OG_ERR_RATE_LIMITED;
    case 9:
    case 29:
    case 14: return OG_ERR_RATE_LIMITED;
    case 10: return OG_ERR_RETRYABLE;
    default: return OG_ERR_PERMANENT; /* 901 902 15 917 945 914 100 ... */
    }
}

/* Maps a non-200 HTTP answer or a transport failure. */
static og_err map_http(long status, const char *errbuf, long retry_after_ms,
                       struct og_send_result *res)
{
    char c[32];
    if (status == 0) {
        set_err(res, "transport", errbuf && *errbuf ? errbuf : "no answer");
        return OG_ERR_RETRYABLE;
    }
    snprintf(c, sizeof c, "http_%ld", status);
    set_err(res, c, "unexpected HTTP status from VK");
    if (status == 429) {
        res->retry_after_ms = retry_after_ms;
        return OG_ERR_RATE_LIMITED;
    }
    return status >= 500 ? OG_ERR_RETRYABLE : OG_ERR_PERMANENT;
}

og_err vk_api(struct vk *vk, const char *method, const char *params, long timeout_ms,
              struct og_json **answer, struct og_send_result *res)
{
    const struct og_services *svc = vk->svc;
    struct og_send_result dummy;
    if (!res) {
        memset(&dummy, 0, sizeof dummy);
        res = &dummy;
    }
    *answer = NULL;
    struct buf url = {.svc = svc}, body = {.svc = svc};
    buf_str(&url, vk->method_base);
    buf_str(&url, method);
    if (params && *params)
        buf_str(&body, params);
    /* The token goes in the body, never in a URL (URLs may be logged). */
    form_add(&body, "access_token", vk->conf->access_token);
    form_add(&body, "v", vk->conf->api_version);
    struct og_http_call call = {
        .struct_size = sizeof call,
        .method = "POST",
        .url = url.p,
        .body = body.p,
        .body_len = body.len,
        .content_type = "application/x-www-form-urlencoded",
        .timeout_ms = timeout_ms > 0 ? timeout_ms : (long)vk->conf->timeout_ms,
    };
    struct og_http_result hr;
    memset(&hr, 0, sizeof hr);
    svc->http(vk->host, &call, &hr);
    svc->free(url.p);
    svc->free(body.p);
    og_err e;
    if (hr.status != 200) {
        e = map_http(hr.status, hr.errbuf, hr.retry_after_ms, res);
        svc->log(vk->host, OG_LOG_DEBUG, "vk: %s: %s", method, res->error_message);
        svc->http_result_free(&hr);
        return e;
    }
    struct og_json *ans = svc->json->parse(hr.body ? hr.body : "", hr.body_len);
    svc->http_result_free(&hr);
    const struct og_json *err = svc->json->get(ans, "error");
    if (svc->json->type(err) == OG_JSON_OBJECT) {
        int64_t code = svc->json->int64(svc->json->get(err, "error_code"));
        char c[32];
        snprintf(c, sizeof c, "%lld", (long long)code);
        const struct og_json *m = svc->json->get(err, "error_msg");
        set_err(res, c, svc->json->type(m) == OG_JSON_STRING ? svc->json->str(m) : "VK error");
        e = map_vk_error(code, res);
        svc->log(vk->host, OG_LOG_DEBUG, "vk: %s: error %s: %s", method, c, res->error_message);
        svc->json->put(ans);
        return e;
    }
    if (!svc->json->get(ans, "response")) {
        set_err(res, "unexpected", "VK answered neither response nor error");
        svc->json->put(ans);
        return OG_ERR_RETRYABLE;
    }
    *answer = ans;
    return OG_OK;
}

/* ------------------------------------------------------------- uploads */

/* Downloads url [xfer *data]. */
static og_err download(struct vk *vk, const char *url, struct og_http_result *hr,
                       struct og_send_result *res)
{
    struct og_http_call call = {.struct_size = sizeof call,
                                .method = "GET",
                                .url = url,
                                .timeout_ms = (long)vk->conf->timeout_ms};
    memset(hr, 0, sizeof *hr);
    og_err te = vk->svc->http(vk->host, &call, hr);
    if (hr->status == 200 && hr->body_len > 0)
        return OG_OK;
    og_err e;
    if (te == OG_ERR_FORBIDDEN || te == OG_ERR_INVALID || te == OG_ERR_TOO_LARGE) {
        /* The host will not fetch it (an address it never fetches from, not
         * http(s), too large): no retry can change that. */
        set_err(res, "download", hr->errbuf);
        e = OG_ERR_PERMANENT;
    } else if (hr->status >= 300 && hr->status < 400) {
        set_err(res, "download", "attachment URL redirects; give the final URL");
        e = OG_ERR_PERMANENT;
    } else if (hr->status == 200) {
        set_err(res, "download", "attachment URL gave an empty body");
        e = OG_ERR_PERMANENT;
    } else {
        e = map_http(hr->status, hr->errbuf, -1, res);
        snprintf(res->error_message, sizeof res->error_message, "downloading the attachment: %s",
                 hr->status ? "HTTP error" : (hr->errbuf[0] ? hr->errbuf : "no answer"));
        snprintf(res->error_code, sizeof res->error_code, "download");
        if (hr->status == 408 || hr->status == 429)
            e = OG_ERR_RETRYABLE;
    }
    vk->svc->http_result_free(hr);
    return e;
}

/* POSTs one multipart part to an upload server; *ans [xfer] the JSON. */
static og_err upload(struct vk *vk, const char *upload_url, const char *field, const char *fname,
                     const char *ctype, const struct og_http_result *file, struct og_json **ans,
                     struct og_send_result *res)
{
    const struct og_services *svc = vk->svc;
    struct og_http_part part = {.name = field,
                                .filename = fname,
                                .content_type = ctype,
                                .data = file->body,
                                .len = file->body_len};
    struct og_http_call call = {.struct_size = sizeof call,
                                .method = "POST",
                                .url = upload_url,
                                .parts = &part,
                                .n_parts = 1,
                                .timeout_ms = (long)vk->conf->timeout_ms};
    struct og_http_result hr;
    memset(&hr, 0, sizeof hr);
    svc->http(vk->host, &call, &hr);
    *ans = NULL;
    if (hr.status != 200) {
        og_err e = map_http(hr.status, hr.errbuf, hr.retry_after_ms, res);
        svc->http_result_free(&hr);
        return e;
    }
    *ans = svc->json->parse(hr.body ? hr.body : "", hr.body_len);
    svc->http_result_free(&hr);
    if (!*ans) {
        set_err(res, "upload", "the upload server's answer is not JSON");
        return OG_ERR_RETRYABLE;
    }
    const char *err = svc->json->str(svc->json->get(*ans, "error"));
    if (err) {
        set_err(res, "upload", err);
        svc->json->put(*ans);
        *ans = NULL;
        return OG_ERR_PERMANENT;
    }
    return OG_OK;
}

/* The upload_url of a get*UploadServer answer [borrowed from *ans]. */
static const char *upload_url(const struct og_services *svc, const struct og_json *ans)
{
    const struct og_json *u = svc->json->find(ans, "response.upload_url");
    return svc->json->type(u) == OG_JSON_STRING ? svc->json->str(u) : NULL;
}

/* A file name with an extension, for the upload servers (they check it). */
static void file_name(const struct og_attachment *a, const char *ctype, int photo, char *out,
                      size_t n)
{
    const char *nm = a->name;
    char tmp[128] = "";
    if (!nm && a->url) {
        const char *s = a->url, *end = s + strcspn(s, "?#");
        const char *slash = s;
        for (const char *p = s; p < end; p++)
            if (*p == '/')
                slash = p + 1;
        if (end > slash && (size_t)(end - slash) < sizeof tmp) {
            memcpy(tmp, slash, (size_t)(end - slash));
            tmp[end - slash] = 0;
            nm = tmp;
        }
    }
    if (nm && strchr(nm, '.')) {
        snprintf(out, n, "%s", nm);
        return;
    }
    const char *ext = !ctype                  ? (photo ? "jpg" : "bin")
                      : strstr(ctype, "png")  ? "png"
                      : strstr(ctype, "gif")  ? "gif"
                      : strstr(ctype, "jpeg") ? "jpg"
                      : strstr(ctype, "pdf")  ? "pdf"
                      : photo                 ? "jpg"
                                              : "bin";
    snprintf(out, n, "%s.%s", nm ? nm : (photo ? "image" : "file"), ext);
}

static og_err upload_attachment(struct vk *vk, const char *peer, const struct og_attachment *a,
                                int photo, char *ref, size_t refsz, struct og_send_result *res)
{
    const struct og_services *svc = vk->svc;
    const struct og_json_api *J = svc->json;
    struct og_http_result file;
    og_err e = download(vk, a->url, &file, res);
    if (e != OG_OK)
        return e;
    const char *ctype = a->mime_type ? a->mime_type : file.content_type;
    char fname[160];
    file_name(a, ctype, photo, fname, sizeof fname);
    struct og_json *srv = NULL, *up = NULL, *saved = NULL;
    struct buf p = {.svc = svc};
    form_add(&p, "peer_id", peer);
    if (!photo)
        form_add(&p, "type", "doc");
    e = vk_api(vk, photo ? "photos.getMessagesUploadServer" : "docs.getMessagesUploadServer", p.p,
               0, &srv, res);
    svc->free(p.p);
    p.p = NULL, p.len = p.cap = 0;
    if (e != OG_OK)
        goto out;
    const char *url = upload_url(svc, srv);
    if (!url) {
        set_err(res, "upload", "no upload_url in the answer");
        e = OG_ERR_RETRYABLE;
        goto out;
    }
    e = upload(vk, url, photo ? "photo" : "file", fname, ctype, &file, &up, res);
    if (e != OG_OK)
        goto out;
    if (photo) {
        const char *ph = J->str(J->get(up, "photo"));
        const char *server = J->str(J->get(up, "server"));
        const char *hash = J->str(J->get(up, "hash"));
        if (!ph || !server || !hash || strcmp(ph, "[]") == 0) {
            set_err(res, "upload", "VK did not accept the image");
            e = OG_ERR_PERMANENT;
            goto out;
        }
        form_add(&p, "photo", ph);
        form_add(&p, "server", server);
        form_add(&p, "hash", hash);
        e = vk_api(vk, "photos.saveMessagesPhoto", p.p, 0, &saved, res);
        if (e != OG_OK)
            goto out;
        const struct og_json *o = J->find(saved, "response.0");
        if (!J->get(o, "id")) {
            set_err(res, "upload", "photos.saveMessagesPhoto gave no photo");
            e = OG_ERR_PERMANENT;
            goto out;
        }
        const char *ak = J->str(J->get(o, "access_key"));
        snprintf(ref, refsz, "photo%lld_%lld%s%s", (long long)J->int64(J->get(o, "owner_id")),
                 (long long)J->int64(J->get(o, "id")), ak ? "_" : "", ak ? ak : "");
    } else {
        const char *f = J->str(J->get(up, "file"));
        if (!f) {
            set_err(res, "upload", "VK did not accept the file");
            e = OG_ERR_PERMANENT;
            goto out;
        }
        form_add(&p, "file", f);
        form_add(&p, "title", fname);
        e = vk_api(vk, "docs.save", p.p, 0, &saved, res);
        if (e != OG_OK)
            goto out;
        /* 5.199: {"type":"doc","doc":{...}}; older: [{...}] */
        const struct og_json *o = J->find(saved, "response.doc");
        if (!o)
            o = J->find(saved, "response.0");
        if (!J->get(o, "id")) {
            set_err(res, "upload", "docs.save gave no document");
            e = OG_ERR_PERMANENT;
            goto out;
        }
        snprintf(ref, refsz, "doc%lld_%lld", (long long)J->int64(J->get(o, "owner_id")),
                 (long long)J->int64(J->get(o, "id")));
    }
out:
    svc->free(p.p);
    J->put(srv);
    J->put(up);
    J->put(saved);
    svc->http_result_free(&file);
    return e;
}

/* ------------------------------------------------------------------ send */

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

static int is_image(enum og_kind kind, const struct og_attachment *a)
{
    if (kind == OG_KIND_IMAGE)
        return 1;
    if (kind != OG_KIND_TEXT)
        return 0;
    return a->mime_type && strncmp(a->mime_type, "image/", 6) == 0;
}

/* reply_to for a numeric id; forward (is_reply) for "<peer>:<cmid>". */
static void add_reply(struct buf *b, const char *reply)
{
    if (is_int(reply)) {
        form_add(b, "reply_to", reply);
        return;
    }
    const char *colon = strchr(reply, ':');
    if (!colon)
        return;
    char peer[32];
    size_t n = (size_t)(colon - reply);
    if (n >= sizeof peer)
        return;
    memcpy(peer, reply, n);
    peer[n] = 0;
    if (!is_int(peer) || !is_int(colon + 1))
        return;
    char fwd[128];
    snprintf(fwd, sizeof fwd,
             "{\"peer_id\":%s,\"conversation_message_ids\":[%s],\"is_reply\":true}", peer,
             colon + 1);
    form_add(b, "forward", fwd);
}

og_err vk_send(void *inst, const struct og_outbound *msg, struct og_send_result *res)
{
    struct vk *vk = inst;
    const struct og_services *svc = vk->svc;
    res->retry_after_ms = -1;
    const char *peer = msg->thread_id ? msg->thread_id : msg->contact_external_id;
    if (!is_int(peer)) {
        set_err(res, "invalid", "thread_id is not a VK peer_id");
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
        set_err(res, "unsupported", "the VK connector cannot send this kind");
        return OG_ERR_UNSUPPORTED;
    }
    if (msg->n_attachments > VK_MAX_ATTACH) {
        set_err(res, "invalid", "VK takes at most 10 attachments");
        return OG_ERR_INVALID;
    }
    /* Uploads first: nothing is sent when one fails. */
    struct buf atts = {.svc = svc};
    const char *sticker = NULL;
    og_err e = OG_OK;
    for (size_t i = 0; i < msg->n_attachments && e == OG_OK; i++) {
        const struct og_attachment *a = &msg->attachments[i];
        char ref[160];
        if (msg->kind == OG_KIND_STICKER && is_int(a->media_id)) {
            sticker = a->media_id;
            continue;
        }
        if (a->url && *a->url) {
            e = upload_attachment(vk, peer, a, is_image(msg->kind, a), ref, sizeof ref, res);
        } else if (a->media_id && *a->media_id && !strchr(a->media_id, ',')) {
            snprintf(ref, sizeof ref, "%s", a->media_id);
        } else {
            set_err(res, "invalid", "attachment without url or media_id");
            e = OG_ERR_INVALID;
        }
        if (e == OG_OK) {
            if (atts.len)
                buf_add(&atts, ",", 1);
            buf_str(&atts, ref);
        }
    }
    if (e != OG_OK) {
        svc->free(atts.p);
        return e;
    }
    const char *text = msg->text ? msg->text : "";
    size_t tlen = strlen(text);
    if (!tlen && !atts.len && !sticker) {
        set_err(res, "invalid", "nothing to send: no text and no attachment");
        return OG_ERR_INVALID;
    }
    size_t nb =
        msg->struct_size >= offsetof(struct og_outbound, n_buttons) + sizeof msg->n_buttons &&
                msg->buttons
            ? msg->n_buttons
            : 0;
    char *keyboard = NULL;
    if (nb) {
        const struct og_json_api *J = svc->json;
        struct og_json *rows = J->new_array();
        for (size_t i = 0; i < nb && i < VK_MAX_BUTTONS; i++) {
            struct og_json *pl = J->new_object();
            J->set(pl, "button", J->new_string(msg->buttons[i].id));
            size_t pn = 0;
            const char *pt = J->serialize(pl, &pn);
            if (pn > 255) { /* VK's bound on a button's payload */
                J->put(pl);
                J->put(rows);
                svc->free(atts.p);
                set_err(res, "invalid", "a button's id exceeds VK's 255-character payload");
                return OG_ERR_INVALID;
            }
            struct og_json *act = J->new_object();
            J->set(act, "type", J->new_string("text"));
            J->set(act, "label", J->new_string(msg->buttons[i].title));
            J->set(act, "payload", J->new_string(pt));
            J->put(pl);
            struct og_json *bt = J->new_object(), *row = J->new_array();
            J->set(bt, "action", act);
            J->set(bt, "color", J->new_string("secondary"));
            J->append(row, bt);
            J->append(rows, row);
        }
        struct og_json *kb = J->new_object();
        J->set(kb, "inline", J->new_bool(1));
        J->set(kb, "buttons", rows);
        size_t kn = 0;
        keyboard = svc->strdup(J->serialize(kb, &kn));
        J->put(kb);
        if (nb > VK_MAX_BUTTONS) {
            svc->free(keyboard);
            svc->free(atts.p);
            set_err(res, "invalid", "a VK inline keyboard holds at most 6 rows");
            return OG_ERR_INVALID;
        }
    }
    char first[32] = "";
    size_t off = 0;
    for (int k = 0; e == OG_OK && (k == 0 || off < tlen); k++) {
        size_t n = tlen - off ? og_text_split_len(text + off, tlen - off, VK_TEXT_MAX) : 0;
        struct buf p = {.svc = svc};
        char rkey[256];
        if (k == 0)
            snprintf(rkey, sizeof rkey, "%s", msg->message_id ? msg->message_id : "");
        else
            snprintf(rkey, sizeof rkey, "%s#%d", msg->message_id ? msg->message_id : "", k);
        form_add(&p, "peer_id", peer);
        form_int(&p, "random_id", vk_random_id(svc, rkey));
        if (n)
            form_addn(&p, "message", text + off, n);
        if (k == 0) {
            if (atts.len)
                form_add(&p, "attachment", atts.p);
            if (sticker)
                form_add(&p, "sticker_id", sticker);
            if (msg->reply_to_provider_id)
                add_reply(&p, msg->reply_to_provider_id);
        }
        if (keyboard && off + n >= tlen)
            form_add(&p, "keyboard", keyboard);
        struct og_json *ans = NULL;
        e = vk_api(vk, "messages.send", p.p, 0, &ans, res);
        svc->free(p.p);
        if (e == OG_OK && !first[0]) {
            const struct og_json *r = svc->json->get(ans, "response");
            const char *id = svc->json->str(r);
            if (!id) /* peer_ids shape */
                id = svc->json->str(svc->json->find(ans, "response.0.message_id"));
            snprintf(first, sizeof first, "%s", id ? id : "0");
        }
        svc->json->put(ans);
        off += n;
    }
    svc->free(atts.p);
    svc->free(keyboard);
    if (e == OG_OK)
        res->provider_message_id = svc->strdup(first);
    return e;
}
