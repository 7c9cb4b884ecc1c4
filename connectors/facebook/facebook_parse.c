/* facebook_parse.c - Messenger Platform page webhook body -> emits.
 *
 * The envelope (Graph API v25.0):
 *   {"object":"page","entry":[{"id":<PAGE_ID>,"time":<ms>,
 *     "messaging":[<event>...], "standby":[<event>...]}]}
 * Both arrays are iterated; every event is handled once, in order.
 *
 * Events under "standby" belong to a thread another app (handover protocol)
 * currently owns: they are acknowledged (counted in a debug line) and never
 * emitted, since this channel is not the one answering them.
 *
 * In "messaging", keyed by what the event holds:
 *   message   -> og_inbound; echoes of our own sends (message.is_echo) are
 *                skipped with a debug line. dedup_key = provider id = mid,
 *                thread = from.external_id = the sender PSID (one session per
 *                customer), reply_to = message.reply_to.mid. Kinds: text;
 *                quick_reply (interactive; text = the message text, the
 *                tapped reply's title; payload = quick_reply.payload);
 *                attachments: image, video, audio, file -> that kind, every
 *                attachment's payload.url as an attachment url; sticker
 *                (type "sticker", or an image with payload.sticker_id) ->
 *                sticker; location with payload.coordinates in range -> location;
 *                fallback and any other type -> system (text = the message
 *                text, the attachment title, or the type name).
 *   postback  -> og_inbound, kind interactive, text = title, payload = payload,
 *                dedup_key = postback.mid, else "<psid>:postback:<timestamp>".
 *   reaction  -> og_inbound, kind reaction, reply_to = the reacted mid, text =
 *                the emoji (NULL for "unreact"); dedup_key
 *                "<psid>:reaction:<mid>:<action>:<timestamp>".
 *   delivery  -> og_status_update DELIVERED with thread = PSID and the
 *                watermark (dedup "<psid>:delivery:<watermark>"), plus one per
 *                mid listed (dedup "<mid>:delivery").
 *   read      -> og_status_update READ with the watermark (dedup
 *                "<psid>:read:<watermark>").
 *   anything else (optin, referral, account_linking, handover...) is ignored.
 *
 * Messenger webhooks carry only the PSID: from.name stays NULL. We do not
 * call GET /<PSID>?fields=first_name,last_name,profile_pic here: it would put
 * a Graph round trip (and its rate limit) inside the 20-second webhook ack
 * and makes this parser impure; a profile lookup belongs to a later, cached,
 * asynchronous enrichment step.
 *
 * This file is pure: no I/O besides svc->emit_* and logging. It is fuzzed
 * (tests/fuzz/fuzz_facebook.c). */
#include "facebook.h"
#include "graph.h"

#include <string.h>

struct fb_parse {
    const struct og_services *svc;
    const struct og_json_api *js;
    void *host;
};

static size_t arr_len(const struct og_json_api *js, const struct og_json *j)
{
    return js->type(j) == OG_JSON_ARRAY ? js->len(j) : 0;
}

static const char *str_at(const struct og_json_api *js, const struct og_json *j, const char *path)
{
    struct og_json *v = js->find(j, path);
    return v ? js->str(v) : NULL;
}

static enum og_kind attachment_kind(const struct og_json_api *js, const struct og_json *a)
{
    const char *type = og_graph_json_str(js, a, "type");
    struct og_json *pl = js->get(a, "payload");
    if (!type)
        return OG_KIND_SYSTEM;
    if (strcmp(type, "sticker") == 0 || js->get(pl, "sticker_id"))
        return OG_KIND_STICKER;
    if (strcmp(type, "image") == 0)
        return OG_KIND_IMAGE;
    if (strcmp(type, "video") == 0)
        return OG_KIND_VIDEO;
    if (strcmp(type, "audio") == 0)
        return OG_KIND_AUDIO;
    if (strcmp(type, "file") == 0)
        return OG_KIND_FILE;
    if (strcmp(type, "location") == 0 && js->find(pl, "coordinates.lat"))
        return OG_KIND_LOCATION;
    return OG_KIND_SYSTEM;
}

static void fill_common(const struct fb_parse *p, struct og_inbound *in, struct og_json *ev,
                        const char *psid)
{
    memset(in, 0, sizeof *in);
    in->struct_size = sizeof *in;
    in->thread_id = psid;
    in->from.external_id = psid;
    int64_t ts = og_graph_json_i64(p->js, p->js->get(ev, "timestamp"), 0);
    in->timestamp_ms = ts > 0 ? ts : 0;
    in->raw = p->js->serialize(ev, &in->raw_len);
}

static og_err on_message(const struct fb_parse *p, struct og_json *ev, struct og_json *m,
                         const char *psid)
{
    const struct og_services *svc = p->svc;
    const struct og_json_api *js = p->js;
    if (js->boolean(js->get(m, "is_echo"))) {
        svc->log(p->host, OG_LOG_DEBUG, "facebook: echo of our own message skipped");
        return OG_OK;
    }
    const char *mid = og_graph_json_str(js, m, "mid");
    if (!mid || !mid[0]) {
        svc->log(p->host, OG_LOG_WARN, "facebook: message without mid skipped");
        return OG_OK;
    }
    struct og_inbound in;
    fill_common(p, &in, ev, psid);
    in.dedup_key = mid;
    in.provider_message_id = mid;
    in.reply_to_provider_id = str_at(js, m, "reply_to.mid");
    in.text = og_graph_json_str(js, m, "text");
    in.kind = OG_KIND_TEXT;

    struct og_json *atts = js->get(m, "attachments");
    size_t n = arr_len(js, atts);
    struct og_attachment *av = NULL;
    struct og_location loc;
    char *owned = NULL;
    memset(&loc, 0, sizeof loc);
    if (js->get(m, "quick_reply")) {
        in.kind = OG_KIND_INTERACTIVE;
        /* the quick reply we sent that was tapped (ABI 1.3); text is its title */
        in.payload = str_at(js, m, "quick_reply.payload");
    } else if (n > 0) {
        struct og_json *first = js->at(atts, 0);
        in.kind = attachment_kind(js, first);
        av = svc->alloc(n * sizeof *av);
        memset(av, 0, n * sizeof *av);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            struct og_json *a = js->at(atts, i);
            const char *url = str_at(js, a, "payload.url");
            if (!url)
                continue;
            av[k].url = url;
            av[k].name = og_graph_json_str(js, a, "title");
            k++;
        }
        in.attachments = k ? av : NULL;
        in.n_attachments = k;
        if (in.kind == OG_KIND_LOCATION) {
            loc.latitude = js->dbl(js->find(first, "payload.coordinates.lat"));
            loc.longitude = js->dbl(js->find(first, "payload.coordinates.long"));
            loc.name = og_graph_json_str(js, first, "title");
            if (og_graph_location_ok(loc.latitude, loc.longitude))
                in.location = &loc;
            else
                in.kind = OG_KIND_SYSTEM, in.text = "location with invalid coordinates";
        } else if (in.kind == OG_KIND_SYSTEM && !in.text) {
            const char *title = og_graph_json_str(js, first, "title");
            const char *type = og_graph_json_str(js, first, "type");
            in.text = title ? title
                            : (owned = og_graph_sprintf(svc, "unsupported attachment: %s",
                                                        type ? type : "unknown"));
        }
    } else if (!in.text) {
        in.kind = OG_KIND_SYSTEM; /* neither text nor attachments: keep a trace */
    }
    og_err e = svc->emit_message(p->host, &in);
    svc->free(av);
    svc->free(owned);
    return e;
}

static og_err on_postback(const struct fb_parse *p, struct og_json *ev, struct og_json *pb,
                          const char *psid)
{
    const struct og_json_api *js = p->js;
    struct og_inbound in;
    fill_common(p, &in, ev, psid);
    const char *mid = og_graph_json_str(js, pb, "mid");
    char *dedup = NULL;
    if (mid && mid[0]) {
        in.dedup_key = mid;
        in.provider_message_id = mid;
    } else {
        in.dedup_key = dedup =
            og_graph_sprintf(p->svc, "%s:postback:%lld", psid, (long long)in.timestamp_ms);
    }
    in.kind = OG_KIND_INTERACTIVE;
    in.text = og_graph_json_str(js, pb, "title");
    in.payload = og_graph_json_str(js, pb, "payload");
    if (!in.text)
        in.text = in.payload;
    og_err e = p->svc->emit_message(p->host, &in);
    p->svc->free(dedup);
    return e;
}

static og_err on_reaction(const struct fb_parse *p, struct og_json *ev, struct og_json *r,
                          const char *psid)
{
    const struct og_json_api *js = p->js;
    const char *mid = og_graph_json_str(js, r, "mid");
    const char *action = og_graph_json_str(js, r, "action");
    if (!mid || !mid[0]) {
        p->svc->log(p->host, OG_LOG_DEBUG, "facebook: reaction without mid skipped");
        return OG_OK;
    }
    struct og_inbound in;
    fill_common(p, &in, ev, psid);
    char *dedup = og_graph_sprintf(p->svc, "%s:reaction:%s:%s:%lld", psid, mid,
                                   action ? action : "react", (long long)in.timestamp_ms);
    in.dedup_key = dedup;
    in.kind = OG_KIND_REACTION;
    in.reply_to_provider_id = mid;
    const char *emoji = og_graph_json_str(js, r, "emoji");
    int unreact = action && strcmp(action, "unreact") == 0;
    in.text = !unreact && emoji && emoji[0] ? emoji : NULL;
    og_err e = p->svc->emit_message(p->host, &in);
    p->svc->free(dedup);
    return e;
}

static og_err emit_receipt(const struct fb_parse *p, struct og_json *ev, struct og_json *r,
                           const char *psid, enum og_msg_status status, const char *what)
{
    const struct og_services *svc = p->svc;
    const struct og_json_api *js = p->js;
    int64_t wm = og_graph_json_i64(js, js->get(r, "watermark"), 0);
    int64_t ts = og_graph_json_i64(js, js->get(ev, "timestamp"), 0);
    og_err e = OG_OK;
    if (wm > 0) {
        struct og_status_update u;
        memset(&u, 0, sizeof u);
        u.struct_size = sizeof u;
        char *dedup = og_graph_sprintf(svc, "%s:%s:%lld", psid, what, (long long)wm);
        u.dedup_key = dedup;
        u.thread_id = psid;
        u.watermark_ms = wm;
        u.status = status;
        u.timestamp_ms = ts > 0 ? ts : wm;
        e = svc->emit_status(p->host, &u);
        svc->free(dedup);
    }
    struct og_json *mids = js->get(r, "mids");
    for (size_t i = 0, n = arr_len(js, mids); i < n && e == OG_OK; i++) {
        const char *mid = js->str(js->at(mids, i));
        if (!mid || !mid[0])
            continue;
        struct og_status_update u;
        memset(&u, 0, sizeof u);
        u.struct_size = sizeof u;
        char *dedup = og_graph_sprintf(svc, "%s:%s", mid, what);
        u.dedup_key = dedup;
        u.provider_message_id = mid;
        u.status = status;
        u.timestamp_ms = ts > 0 ? ts : wm;
        e = svc->emit_status(p->host, &u);
        svc->free(dedup);
    }
    return e;
}

static og_err on_event(const struct fb_parse *p, struct og_json *ev)
{
    const struct og_json_api *js = p->js;
    const char *psid = str_at(js, ev, "sender.id");
    if (!psid || !psid[0]) {
        p->svc->log(p->host, OG_LOG_DEBUG, "facebook: event without sender.id skipped");
        return OG_OK;
    }
    struct og_json *v;
    if ((v = js->get(ev, "message")) && js->type(v) == OG_JSON_OBJECT)
        return on_message(p, ev, v, psid);
    if ((v = js->get(ev, "postback")) && js->type(v) == OG_JSON_OBJECT)
        return on_postback(p, ev, v, psid);
    if ((v = js->get(ev, "reaction")) && js->type(v) == OG_JSON_OBJECT)
        return on_reaction(p, ev, v, psid);
    if ((v = js->get(ev, "delivery")) && js->type(v) == OG_JSON_OBJECT)
        return emit_receipt(p, ev, v, psid, OG_STATUS_DELIVERED, "delivery");
    if ((v = js->get(ev, "read")) && js->type(v) == OG_JSON_OBJECT)
        return emit_receipt(p, ev, v, psid, OG_STATUS_READ, "read");
    p->svc->log(p->host, OG_LOG_DEBUG, "facebook: event of another kind ignored");
    return OG_OK;
}

og_err facebook_parse(const struct og_services *svc, void *host, const char *body, size_t len)
{
    const struct og_json_api *js = svc->json;
    struct fb_parse p = {svc, js, host};
    struct og_json *doc = js->parse(body, len);
    if (js->type(doc) != OG_JSON_OBJECT) {
        js->put(doc);
        return OG_ERR_INVALID;
    }
    const char *object = og_graph_json_str(js, doc, "object");
    if (object && strcmp(object, "page") != 0) {
        svc->log(host, OG_LOG_DEBUG, "facebook: webhook object \"%s\" ignored", object);
        js->put(doc);
        return OG_OK;
    }
    og_err e = OG_OK;
    struct og_json *entries = js->get(doc, "entry");
    for (size_t i = 0, n = arr_len(js, entries); i < n && e == OG_OK; i++) {
        struct og_json *entry = js->at(entries, i);
        struct og_json *evs = js->get(entry, "messaging");
        for (size_t k = 0, m = arr_len(js, evs); k < m && e == OG_OK; k++)
            e = on_event(&p, js->at(evs, k));
        size_t sb = arr_len(js, js->get(entry, "standby"));
        if (sb)
            svc->log(host, OG_LOG_DEBUG, "facebook: %zu standby event(s) acknowledged, not emitted",
                     sb);
    }
    js->put(doc);
    return e;
}
