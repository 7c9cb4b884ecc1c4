/* vk_parse.c - VK Callback API and Bots Long Poll JSON to normalized
 * inbound messages (VK API 5.199 objects; older shapes where the message is
 * the event object itself are accepted too).
 *
 * Pure functions: bytes in, svc->emit_message calls out; the only outside
 * call is the optional profile lookup the caller passes (NULL in the fuzz
 * target tests/fuzz/fuzz_vk.c).
 *
 * Mapping (message_new, object.message):
 *   dedup_key            event_id ("m:<provider id>" if an old server omits it)
 *   provider_message_id  message.id; when 0 (group chats under a community
 *                        token) "<peer_id>:<conversation_message_id>"
 *   thread_id            peer_id (user id in DMs, 2000000000 + chat id)
 *   from                 from_id; name/username/avatar from users.get through
 *                        the profile lookup (events carry none)
 *   kind                 from the first attachment: photo (largest size) and
 *                        graffiti -> image, video -> video, audio and
 *                        audio_message -> audio, doc -> file, sticker; geo ->
 *                        location; text otherwise. Every attachment is listed.
 *   text                 message.text (the caption of attachments)
 *   reply_to             reply_message, same id scheme
 *   message_edit         system note "[edited] <text>" replying to the message
 *   other event types    skipped (debug log)
 * VK has no shared-contact message type. */
#include "vk.h"

#include <stdio.h>
#include <string.h>

struct vk_in {
    struct og_inbound in;
    struct og_attachment att[VK_MAX_ATTACH];
    char media[VK_MAX_ATTACH][96];
    char aname[VK_MAX_ATTACH][160];
    struct og_location loc;
    struct vk_profile prof;
    char pmid[64], reply[64], dedup[160], thread[24], from[24];
    char text[200];
    char payload[256]; /* the tapped button's id (ABI 1.3) */
    char *owned_text;  /* svc->alloc */
};

static const char *jstr(const struct og_services *svc, const struct og_json *o, const char *k)
{
    const struct og_json *v = svc->json->get(o, k);
    return svc->json->type(v) == OG_JSON_STRING ? svc->json->str(v) : NULL;
}

static int has_int(const struct og_services *svc, const struct og_json *o, const char *k)
{
    return svc->json->type(svc->json->get(o, k)) == OG_JSON_INT;
}

static int64_t jint(const struct og_services *svc, const struct og_json *o, const char *k)
{
    return svc->json->int64(svc->json->get(o, k));
}

/* The message id scheme (see the file comment) of a message object. */
static int msg_id(const struct og_services *svc, const struct og_json *m, int64_t peer, char *out,
                  size_t n)
{
    int64_t id = jint(svc, m, "id");
    if (id > 0) {
        snprintf(out, n, "%lld", (long long)id);
        return 1;
    }
    int64_t cmid = jint(svc, m, "conversation_message_id");
    if (cmid > 0 && peer != 0) {
        snprintf(out, n, "%lld:%lld", (long long)peer, (long long)cmid);
        return 1;
    }
    return 0;
}

/* "<type><owner>_<id>[_<access_key>]" */
static void media_ref(const struct og_services *svc, const struct og_json *o, const char *type,
                      char *out, size_t n)
{
    const char *ak = jstr(svc, o, "access_key");
    snprintf(out, n, "%s%lld_%lld%s%s", type, (long long)jint(svc, o, "owner_id"),
             (long long)jint(svc, o, "id"), ak ? "_" : "", ak ? ak : "");
}

/* The largest entry of an array of {url,width,height}; NULL if none has a url. */
static const struct og_json *largest(const struct og_services *svc, const struct og_json *arr)
{
    const struct og_json *best = NULL;
    double bpx = -1;
    size_t n = svc->json->len(arr);
    for (size_t i = 0; i < n; i++) {
        const struct og_json *s = svc->json->at(arr, i);
        if (!jstr(svc, s, "url"))
            continue;
        double px = svc->json->dbl(svc->json->get(s, "width")) *
                    svc->json->dbl(svc->json->get(s, "height"));
        if (px >= bpx) {
            bpx = px;
            best = s;
        }
    }
    return best;
}

static const char *mime_of_ext(const char *ext)
{
    static const char *const t[][2] = {
        {"pdf", "application/pdf"},
        {"zip", "application/zip"},
        {"txt", "text/plain"},
        {"doc", "application/msword"},
        {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        {"xls", "application/vnd.ms-excel"},
        {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"png", "image/png"},
        {"gif", "image/gif"},
        {"mp4", "video/mp4"},
        {"mp3", "audio/mpeg"},
        {"ogg", "audio/ogg"},
        {NULL, NULL}};
    for (size_t i = 0; ext && t[i][0]; i++)
        if (strcmp(ext, t[i][0]) == 0)
            return t[i][1];
    return NULL;
}

/* Adds one attachment to t. Returns its kind, OG_KIND_TEXT for a link, or
 * -1 when the type is not rendered (*unsupported names it). */
static int add_attachment(const struct og_services *svc, const struct og_json *a, struct vk_in *t,
                          const char **unsupported)
{
    const char *type = jstr(svc, a, "type");
    const struct og_json *o = type ? svc->json->get(a, type) : NULL;
    if (!type || svc->json->type(o) != OG_JSON_OBJECT) {
        *unsupported = type ? type : "attachment";
        return -1;
    }
    size_t i = t->in.n_attachments;
    if (i >= VK_MAX_ATTACH)
        return -1;
    struct og_attachment *at = &t->att[i];
    memset(at, 0, sizeof *at);
    int kind;
    if (strcmp(type, "photo") == 0) {
        const struct og_json *s = largest(svc, svc->json->get(o, "sizes"));
        at->url = s ? jstr(svc, s, "url") : NULL;
        at->mime_type = "image/jpeg";
        media_ref(svc, o, "photo", t->media[i], sizeof t->media[i]);
        kind = OG_KIND_IMAGE;
    } else if (strcmp(type, "graffiti") == 0) {
        at->url = jstr(svc, o, "url");
        at->mime_type = "image/png";
        media_ref(svc, o, "graffiti", t->media[i], sizeof t->media[i]);
        kind = OG_KIND_IMAGE;
    } else if (strcmp(type, "video") == 0) {
        at->url = jstr(svc, o, "player");
        at->name = jstr(svc, o, "title");
        media_ref(svc, o, "video", t->media[i], sizeof t->media[i]);
        kind = OG_KIND_VIDEO;
    } else if (strcmp(type, "audio") == 0) {
        at->url = jstr(svc, o, "url");
        at->mime_type = "audio/mpeg";
        const char *ar = jstr(svc, o, "artist"), *ti = jstr(svc, o, "title");
        if (ar || ti) {
            snprintf(t->aname[i], sizeof t->aname[i], "%s%s%s", ar ? ar : "", ar && ti ? " - " : "",
                     ti ? ti : "");
            at->name = t->aname[i];
        }
        media_ref(svc, o, "audio", t->media[i], sizeof t->media[i]);
        kind = OG_KIND_AUDIO;
    } else if (strcmp(type, "audio_message") == 0) {
        at->url = jstr(svc, o, "link_ogg");
        at->mime_type = "audio/ogg";
        if (!at->url) {
            at->url = jstr(svc, o, "link_mp3");
            at->mime_type = "audio/mpeg";
        }
        media_ref(svc, o, "doc", t->media[i], sizeof t->media[i]);
        kind = OG_KIND_AUDIO;
    } else if (strcmp(type, "doc") == 0) {
        at->url = jstr(svc, o, "url");
        at->name = jstr(svc, o, "title");
        at->mime_type = mime_of_ext(jstr(svc, o, "ext"));
        int64_t sz = jint(svc, o, "size");
        at->size = sz > 0 ? sz : 0;
        media_ref(svc, o, "doc", t->media[i], sizeof t->media[i]);
        kind = OG_KIND_FILE;
    } else if (strcmp(type, "sticker") == 0) {
        const struct og_json *s = largest(svc, svc->json->get(o, "images"));
        at->url = s ? jstr(svc, s, "url") : NULL;
        at->mime_type = "image/png";
        snprintf(t->media[i], sizeof t->media[i], "%lld", (long long)jint(svc, o, "sticker_id"));
        kind = OG_KIND_STICKER;
    } else if (strcmp(type, "link") == 0) {
        at->url = jstr(svc, o, "url");
        at->name = jstr(svc, o, "title");
        t->media[i][0] = 0;
        kind = OG_KIND_TEXT;
    } else {
        *unsupported = type;
        return -1;
    }
    at->media_id = t->media[i][0] ? t->media[i] : NULL;
    t->in.n_attachments++;
    return kind;
}

/* Fills t from a message object. 1 = emit, 0 = skip, -1 = malformed. */
static int fill_message(const struct og_services *svc, void *host, const struct og_json *m,
                        struct vk_in *t, vk_profile_fn profile, void *pud)
{
    const struct og_json_api *J = svc->json;
    if (J->type(m) != OG_JSON_OBJECT || !has_int(svc, m, "from_id"))
        return -1;
    int64_t from = jint(svc, m, "from_id");
    int64_t peer = has_int(svc, m, "peer_id") ? jint(svc, m, "peer_id") : from;
    if (!msg_id(svc, m, peer, t->pmid, sizeof t->pmid))
        return -1;
    if (jint(svc, m, "out") == 1)
        return 0; /* our own message */
    snprintf(t->from, sizeof t->from, "%lld", (long long)from);
    snprintf(t->thread, sizeof t->thread, "%lld", (long long)peer);
    t->in.from.external_id = t->from;
    t->in.thread_id = t->thread;
    t->in.provider_message_id = t->pmid;
    int64_t date = jint(svc, m, "date");
    t->in.timestamp_ms = date > 0 && date < INT64_MAX / 1000 ? date * 1000 : 0;
    if (profile && from > 0 && profile(pud, from, &t->prof)) {
        t->in.from.name = t->prof.name[0] ? t->prof.name : NULL;
        t->in.from.username = t->prof.username[0] ? t->prof.username : NULL;
        t->in.from.avatar_url = t->prof.avatar[0] ? t->prof.avatar : NULL;
    }
    const struct og_json *rm = J->get(m, "reply_message");
    if (J->type(rm) == OG_JSON_OBJECT && msg_id(svc, rm, peer, t->reply, sizeof t->reply))
        t->in.reply_to_provider_id = t->reply;

    const char *text = jstr(svc, m, "text");
    t->in.text = text && *text ? text : NULL;
    /* A tap on a keyboard button we sent: its payload {"button":<id>}
     * (vk_send.c); the text is the button's label. */
    const char *pl = jstr(svc, m, "payload");
    struct og_json *pj = pl && pl[0] == '{' ? J->parse(pl, strlen(pl)) : NULL;
    const char *bid = jstr(svc, pj, "button");
    if (bid && *bid && strlen(bid) < sizeof t->payload) {
        snprintf(t->payload, sizeof t->payload, "%s", bid);
        t->in.payload = t->payload;
    }
    J->put(pj);
    t->in.attachments = t->att;
    int kind = -1;
    const char *unsupported = NULL;
    const struct og_json *atts = J->get(m, "attachments");
    size_t na = J->len(atts);
    for (size_t i = 0; i < na && J->type(atts) == OG_JSON_ARRAY; i++) {
        int k = add_attachment(svc, J->at(atts, i), t, &unsupported);
        if (k >= 0 && (kind < 0 || kind == OG_KIND_TEXT))
            kind = k;
    }
    const struct og_json *geo = J->get(m, "geo");
    const struct og_json *co = J->get(geo, "coordinates");
    double lat = J->dbl(J->get(co, "latitude")), lon = J->dbl(J->get(co, "longitude"));
    if (J->type(co) == OG_JSON_OBJECT && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180) {
        t->loc.latitude = lat;
        t->loc.longitude = lon;
        const struct og_json *place = J->get(geo, "place");
        t->loc.name = jstr(svc, place, "title");
        t->loc.address = jstr(svc, place, "address");
        t->in.location = &t->loc;
        if (kind < 0 || kind == OG_KIND_TEXT)
            kind = OG_KIND_LOCATION;
    }
    if (kind < 0 && !t->in.text) {
        if (!unsupported && J->len(J->get(m, "fwd_messages")))
            unsupported = "fwd_messages";
        snprintf(t->text, sizeof t->text, "[unsupported VK message%s%s]", unsupported ? ": " : "",
                 unsupported ? unsupported : "");
        t->in.text = t->text;
        t->in.kind = OG_KIND_SYSTEM;
        svc->log(host, OG_LOG_DEBUG, "vk: message without supported content (%s)",
                 unsupported ? unsupported : "empty");
        return 1;
    }
    t->in.kind = kind < 0 ? OG_KIND_TEXT : (enum og_kind)kind;
    if (t->in.payload && t->in.kind == OG_KIND_TEXT)
        t->in.kind = OG_KIND_INTERACTIVE;
    return 1;
}

og_err vk_parse_event(const struct og_services *svc, void *host, const struct og_json *ev,
                      const char *raw, size_t raw_len, vk_profile_fn profile, void *profile_ud)
{
    const struct og_json_api *J = svc->json;
    const char *type = jstr(svc, ev, "type");
    const struct og_json *obj = J->get(ev, "object");
    if (!type || J->type(obj) != OG_JSON_OBJECT)
        return OG_ERR_INVALID;
    int edit = 0;
    const struct og_json *m;
    if (strcmp(type, "message_new") == 0) {
        m = J->get(obj, "message") ? J->get(obj, "message") : obj;
    } else if (strcmp(type, "message_edit") == 0) {
        m = J->get(obj, "message") ? J->get(obj, "message") : obj;
        edit = 1;
    } else {
        svc->log(host, OG_LOG_DEBUG, "vk: event type %s not handled, skipped", type);
        return OG_OK;
    }
    struct vk_in *t = svc->alloc(sizeof *t);
    memset(t, 0, sizeof *t);
    t->in.struct_size = sizeof t->in;
    int r = fill_message(svc, host, m, t, profile, profile_ud);
    og_err e = OG_OK;
    if (r < 0) {
        e = OG_ERR_INVALID;
    } else if (r > 0) {
        const char *eid = jstr(svc, ev, "event_id");
        if (eid && *eid)
            snprintf(t->dedup, sizeof t->dedup, "%s", eid);
        else
            snprintf(t->dedup, sizeof t->dedup, "m:%s%s", edit ? "e:" : "", t->pmid);
        t->in.dedup_key = t->dedup;
        t->in.raw = raw;
        t->in.raw_len = raw_len;
        if (edit) {
            snprintf(t->reply, sizeof t->reply, "%s", t->pmid);
            t->in.reply_to_provider_id = t->reply;
            t->in.provider_message_id = NULL;
            const char *txt = jstr(svc, m, "text");
            size_t n = (txt ? strlen(txt) : 0) + 16;
            t->owned_text = svc->alloc(n);
            snprintf(t->owned_text, n, "[edited]%s%s", txt && *txt ? " " : "", txt ? txt : "");
            t->in.text = t->owned_text;
            t->in.kind = OG_KIND_SYSTEM;
            t->in.n_attachments = 0;
            t->in.location = NULL;
        }
        e = svc->emit_message(host, &t->in);
    }
    svc->free(t->owned_text);
    svc->free(t);
    return e;
}

og_err vk_parse_callback(const struct og_services *svc, void *host,
                         const struct vk_callback_conf *cc, const char *body, size_t len,
                         vk_profile_fn profile, void *profile_ud, const char **answer)
{
    const struct og_json_api *J = svc->json;
    *answer = NULL;
    struct og_json *ev = J->parse(body, len);
    const char *type = jstr(svc, ev, "type");
    if (!type) {
        J->put(ev);
        return OG_ERR_INVALID;
    }
    int group_ok = has_int(svc, ev, "group_id") && jint(svc, ev, "group_id") == cc->group_id;
    const char *secret = jstr(svc, ev, "secret");
    int want_secret = cc->secret && *cc->secret;
    int secret_ok = !want_secret || (secret && svc->ct_equal(secret, strlen(secret), cc->secret,
                                                             strlen(cc->secret)));
    og_err e;
    if (strcmp(type, "confirmation") == 0) {
        /* The handshake may come without the secret; if it has one, it must
         * be ours. */
        if (!group_ok || (secret && !secret_ok)) {
            e = OG_ERR_FORBIDDEN;
        } else {
            *answer = cc->confirmation;
            e = OG_OK;
        }
    } else if (!secret_ok || !group_ok) {
        svc->log(host, OG_LOG_WARN, "vk: callback with %s, refused",
                 !secret_ok ? (secret ? "a wrong secret" : "no secret") : "another group_id");
        e = OG_ERR_FORBIDDEN;
    } else {
        e = vk_parse_event(svc, host, ev, body, len, profile, profile_ud);
        if (e == OG_ERR_INVALID) {
            /* A well-formed envelope with an odd object: acknowledge, or VK
             * keeps re-sending it and finally stops calling us. */
            svc->log(host, OG_LOG_WARN, "vk: malformed %s event, skipped", type);
            e = OG_OK;
        }
        if (e == OG_OK)
            *answer = "ok";
    }
    J->put(ev);
    return e;
}

og_err vk_parse_longpoll(const struct og_services *svc, void *host, const char *body, size_t len,
                         vk_profile_fn profile, void *profile_ud, struct vk_lp_answer *out)
{
    const struct og_json_api *J = svc->json;
    memset(out, 0, sizeof *out);
    struct og_json *ans = J->parse(body, len);
    if (J->type(ans) != OG_JSON_OBJECT) {
        J->put(ans);
        return OG_ERR_INVALID;
    }
    const char *ts = J->str(J->get(ans, "ts"));
    const struct og_json *failed = J->get(ans, "failed");
    if (failed) {
        out->failed = (int)J->int64(failed);
        if (out->failed <= 0)
            out->failed = -1;
        if (ts)
            snprintf(out->ts, sizeof out->ts, "%s", ts);
        J->put(ans);
        return OG_OK;
    }
    const struct og_json *ups = J->get(ans, "updates");
    if (!ts || J->type(ups) != OG_JSON_ARRAY) {
        J->put(ans);
        return OG_ERR_INVALID;
    }
    og_err e = OG_OK;
    size_t n = J->len(ups);
    for (size_t i = 0; i < n && e == OG_OK; i++) {
        struct og_json *u = J->at(ups, i);
        size_t rl = 0;
        const char *raw = J->serialize(u, &rl);
        e = vk_parse_event(svc, host, u, raw, rl, profile, profile_ud);
        if (e == OG_ERR_INVALID) {
            svc->log(host, OG_LOG_WARN, "vk: malformed long poll update, skipped");
            e = OG_OK;
        }
    }
    if (e == OG_OK)
        snprintf(out->ts, sizeof out->ts, "%s", ts);
    J->put(ans);
    return e;
}
