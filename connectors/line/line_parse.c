/* line_parse.c - a LINE webhook body (already signature-checked) becomes
 * normalized inbound items.
 *
 * Platform API: LINE Messaging API webhook events (line/line-openapi
 * webhook.yml, CallbackRequest / Event / MessageContent).
 *
 * The body is {"destination": "U...", "events": [Event, ...]}. Each event is
 * read on its own: one that maps onto the model is emitted, one that does
 * not is skipped (logged at debug) - never an error, because LINE would only
 * redeliver what we cannot use anyway. The mapping:
 *
 *   message/text      text (LINE emoji arrive as "(name)" inside text)
 *   message/image     image; video, audio, file alike: one attachment with
 *                     media_id = message id and url = the content endpoint
 *                     <api_data_base>/v2/bot/message/{id}/content (fetching
 *                     it needs the channel access token as a bearer), or
 *                     contentProvider.originalContentUrl when "external"
 *   message/sticker   sticker: media_id "<packageId>:<stickerId>", text =
 *                     the message-sticker text when there is one
 *   message/location  location (title -> name, address)
 *   message/other     system, text "[unsupported LINE message: <type>]"
 *   postback          interactive; a tap on a quick reply omnigate sent (its
 *                     data {"id","title"}, line_send.c) gives payload = id
 *                     and text = title; any other data is both payload and
 *                     text
 *   follow/unfollow   system, text "follow" / "follow (unblocked)" / "unfollow"
 *   unsend            system, text "unsend", reply_to = the unsent message id
 *   anything else     skipped (join, leave, memberJoined, memberLeft, beacon,
 *                     accountLink, membership, videoPlayComplete, module,
 *                     activated, deactivated, botSuspended, botResumed,
 *                     delivery, and types LINE adds later)
 *
 * Events in mode "standby" (another channel of a module holds the chat) are
 * acknowledged and never emitted: the active channel owns the conversation.
 *
 * Identity: dedup_key = webhookEventId (a redelivery carries the same one);
 * thread_id = groupId / roomId / userId after source.type; from.external_id
 * = source.userId, or the thread id when LINE leaves the user out (group
 * members on desktop clients); provider_message_id = message.id;
 * reply_to_provider_id = message.quotedMessageId; reply_token = replyToken;
 * raw = the event's JSON, re-serialized compactly.
 *
 * Pure apart from the emits and the optional profile callback: reads only
 * svc->alloc/free/json/log/emit_message. That is what tests/fuzz/fuzz_line.c
 * drives. */
#include "line.h"

#include <stdio.h>
#include <string.h>

/* A string member, or NULL when absent, null, empty or not a string. */
static const char *lp_str(const struct og_json_api *js, const struct og_json *obj, const char *key)
{
    struct og_json *v = js->get(obj, key);
    if (!v || js->type(v) != OG_JSON_STRING)
        return NULL;
    const char *s = js->str(v);
    return s && *s ? s : NULL;
}

/* An id member: LINE sends ids as strings, but a number is tolerated. */
static const char *lp_id(const struct og_json_api *js, const struct og_json *obj, const char *key)
{
    struct og_json *v = js->get(obj, key);
    enum og_json_type t = js->type(v);
    if (t != OG_JSON_STRING && t != OG_JSON_INT)
        return NULL;
    const char *s = js->str(v);
    return s && *s ? s : NULL;
}

static int lp_is_number(const struct og_json_api *js, const struct og_json *v)
{
    enum og_json_type t = js->type(v);
    return t == OG_JSON_INT || t == OG_JSON_DOUBLE;
}

/* One event being turned into an og_inbound. Strings are [borrowed] from the
 * document, except the ones in owned[], which are freed after the emit. */
struct lp_item {
    struct og_inbound in;
    struct og_attachment att;
    struct og_location loc;
    char text_buf[96];
    char *owned[4];
    size_t n_owned;
};

static char *lp_own(const struct og_services *svc, struct lp_item *it, char *s)
{
    if (s && it->n_owned < sizeof it->owned / sizeof it->owned[0])
        it->owned[it->n_owned++] = s;
    else if (s) { /* cannot happen: at most three owned strings per item */
        svc->free(s);
        return NULL;
    }
    return s;
}

/* "<base>/v2/bot/message/<id>/content", [xfer]. */
static char *lp_content_url(const struct og_services *svc, const char *base, const char *id)
{
    static const char mid[] = "/v2/bot/message/", tail[] = "/content";
    size_t bl = base ? strlen(base) : 0, il = strlen(id);
    char *u = svc->alloc(bl + sizeof mid - 1 + il + sizeof tail);
    memcpy(u, base ? base : "", bl);
    memcpy(u + bl, mid, sizeof mid - 1);
    memcpy(u + bl + sizeof mid - 1, id, il);
    memcpy(u + bl + sizeof mid - 1 + il, tail, sizeof tail);
    return u;
}

/* Fills it from a "message" event. Returns 0, or -1 to skip the event. */
static int lp_message(struct line_parse_ctx *ctx, const struct og_json *msg, struct lp_item *it)
{
    const struct og_services *svc = ctx->svc;
    const struct og_json_api *js = svc->json;
    struct og_inbound *in = &it->in;
    const char *type = lp_str(js, msg, "type");
    const char *id = lp_id(js, msg, "id");
    if (!type)
        return -1;
    in->provider_message_id = id;
    in->reply_to_provider_id = lp_id(js, msg, "quotedMessageId");

    if (strcmp(type, "text") == 0) {
        in->kind = OG_KIND_TEXT;
        in->text = lp_str(js, msg, "text");
        return 0;
    }
    if (strcmp(type, "image") == 0 || strcmp(type, "video") == 0 || strcmp(type, "audio") == 0 ||
        strcmp(type, "file") == 0) {
        in->kind = type[0] == 'i'   ? OG_KIND_IMAGE
                   : type[0] == 'v' ? OG_KIND_VIDEO
                   : type[0] == 'a' ? OG_KIND_AUDIO
                                    : OG_KIND_FILE;
        struct og_json *cp = js->get(msg, "contentProvider");
        const char *provider = lp_str(js, cp, "type");
        it->att.media_id = id;
        if (provider && strcmp(provider, "external") == 0)
            it->att.url = lp_str(js, cp, "originalContentUrl");
        else if (id) /* "line", or absent as for files: the bytes are at LINE */
            it->att.url = lp_own(svc, it, lp_content_url(svc, ctx->api_data_base, id));
        it->att.name = lp_str(js, msg, "fileName");
        struct og_json *size = js->get(msg, "fileSize");
        if (lp_is_number(js, size) && js->int64(size) > 0)
            it->att.size = js->int64(size);
        if (it->att.url || it->att.media_id) { /* not without an id nor a URL */
            in->attachments = &it->att;
            in->n_attachments = 1;
        }
        return 0;
    }
    if (strcmp(type, "sticker") == 0) {
        in->kind = OG_KIND_STICKER;
        const char *pkg = lp_id(js, msg, "packageId"), *sid = lp_id(js, msg, "stickerId");
        if (pkg && sid) {
            size_t n = strlen(pkg) + 1 + strlen(sid) + 1;
            char *m = svc->alloc(n);
            snprintf(m, n, "%s:%s", pkg, sid);
            it->att.media_id = lp_own(svc, it, m);
            in->attachments = &it->att;
            in->n_attachments = 1;
        }
        in->text = lp_str(js, msg, "text");
        return 0;
    }
    if (strcmp(type, "location") == 0) {
        struct og_json *lat = js->get(msg, "latitude"), *lon = js->get(msg, "longitude");
        if (!lp_is_number(js, lat) || !lp_is_number(js, lon))
            return -1;
        it->loc.latitude = js->dbl(lat);
        it->loc.longitude = js->dbl(lon);
        if (!(it->loc.latitude >= -90 && it->loc.latitude <= 90) ||
            !(it->loc.longitude >= -180 && it->loc.longitude <= 180))
            return -1;
        it->loc.name = lp_str(js, msg, "title");
        it->loc.address = lp_str(js, msg, "address");
        in->kind = OG_KIND_LOCATION;
        in->location = &it->loc;
        return 0;
    }
    /* A message type LINE added after this connector: keep it visible. */
    in->kind = OG_KIND_SYSTEM;
    snprintf(it->text_buf, sizeof it->text_buf, "[unsupported LINE message: %.48s]", type);
    in->text = it->text_buf;
    return 0;
}

/* Fills it from one event. Returns 0 to emit, -1 to skip. */
static int lp_event(struct line_parse_ctx *ctx, const struct og_json *ev, const char *type,
                    struct lp_item *it)
{
    const struct og_json_api *js = ctx->svc->json;
    struct og_inbound *in = &it->in;
    if (strcmp(type, "message") == 0) {
        struct og_json *msg = js->get(ev, "message");
        if (js->type(msg) != OG_JSON_OBJECT)
            return -1;
        return lp_message(ctx, msg, it);
    }
    if (strcmp(type, "postback") == 0) {
        struct og_json *pb = js->get(ev, "postback");
        in->kind = OG_KIND_INTERACTIVE;
        const char *data = lp_str(js, pb, "data");
        in->text = in->payload = data;
        struct og_json *d = data && data[0] == '{' ? js->parse(data, strlen(data)) : NULL;
        const char *id = lp_str(js, d, "id"), *title = lp_str(js, d, "title");
        if (id && *id && title) {
            in->payload = lp_own(ctx->svc, it, ctx->svc->strdup(id));
            in->text = lp_own(ctx->svc, it, ctx->svc->strdup(title));
        }
        js->put(d);
        return 0;
    }
    if (strcmp(type, "follow") == 0) {
        in->kind = OG_KIND_SYSTEM;
        in->text =
            js->boolean(js->find(ev, "follow.isUnblocked")) ? "follow (unblocked)" : "follow";
        return 0;
    }
    if (strcmp(type, "unfollow") == 0) {
        in->kind = OG_KIND_SYSTEM;
        in->text = "unfollow";
        return 0;
    }
    if (strcmp(type, "unsend") == 0) {
        in->kind = OG_KIND_SYSTEM;
        in->text = "unsend";
        in->reply_to_provider_id = lp_id(js, js->get(ev, "unsend"), "messageId");
        return 0;
    }
    return -1;
}

og_err line_parse_body(struct line_parse_ctx *ctx, const char *body, size_t len)
{
    const struct og_services *svc = ctx->svc;
    const struct og_json_api *js = svc->json;
    struct og_json *doc = js->parse(body, len);
    struct og_json *events = js->get(doc, "events");
    if (js->type(doc) != OG_JSON_OBJECT || js->type(events) != OG_JSON_ARRAY) {
        js->put(doc);
        return OG_ERR_INVALID;
    }

    og_err e = OG_OK;
    size_t n = js->len(events);
    for (size_t i = 0; i < n && e == OG_OK; i++) {
        struct og_json *ev = js->at(events, i);
        const char *type = lp_str(js, ev, "type");
        const char *mode = lp_str(js, ev, "mode");
        if (!type) {
            svc->log(ctx->host, OG_LOG_DEBUG, "event %zu: no type, skipped", i);
            ctx->skipped++;
            continue;
        }
        if (mode && strcmp(mode, "standby") == 0) {
            svc->log(ctx->host, OG_LOG_DEBUG, "event %zu (%.32s): standby mode, not emitted", i,
                     type);
            ctx->skipped++;
            continue;
        }

        struct lp_item it;
        memset(&it, 0, sizeof it);
        struct og_inbound *in = &it.in;
        in->struct_size = sizeof *in;
        if (lp_event(ctx, ev, type, &it) != 0) {
            svc->log(ctx->host, OG_LOG_DEBUG, "event %zu (%.32s): not handled, skipped", i, type);
            ctx->skipped++;
            for (size_t k = 0; k < it.n_owned; k++)
                svc->free(it.owned[k]);
            continue;
        }

        /* Who and where. */
        struct og_json *src = js->get(ev, "source");
        const char *stype = lp_str(js, src, "type");
        const char *user = lp_id(js, src, "userId");
        const char *group = lp_id(js, src, "groupId"), *room = lp_id(js, src, "roomId");
        const char *chat = NULL;
        if (stype && strcmp(stype, "group") == 0)
            chat = group;
        else if (stype && strcmp(stype, "room") == 0)
            chat = room;
        else if (!stype || strcmp(stype, "user") != 0)
            chat = group ? group : room; /* an unknown source type: best guess */
        in->thread_id = chat ? chat : user;
        in->from.external_id = user ? user : in->thread_id;

        /* De-duplication: webhookEventId; without one (never seen from LINE),
         * the message id still identifies a message event. */
        in->dedup_key = lp_str(js, ev, "webhookEventId");
        if (!in->dedup_key && in->provider_message_id) {
            size_t dn = strlen(in->provider_message_id) + 5;
            char *d = svc->alloc(dn);
            snprintf(d, dn, "msg:%s", in->provider_message_id);
            in->dedup_key = lp_own(svc, &it, d);
        }
        if (!in->dedup_key || !in->from.external_id) {
            svc->log(ctx->host, OG_LOG_DEBUG, "event %zu (%.32s): no %s, skipped", i, type,
                     in->dedup_key ? "source" : "webhookEventId");
            ctx->skipped++;
            for (size_t k = 0; k < it.n_owned; k++)
                svc->free(it.owned[k]);
            continue;
        }
        in->reply_token = lp_str(js, ev, "replyToken");
        struct og_json *ts = js->get(ev, "timestamp");
        in->timestamp_ms = lp_is_number(js, ts) && js->int64(ts) > 0 ? js->int64(ts) : 0;

        struct line_profile prof = {NULL, NULL};
        if (ctx->profile && user)
            ctx->profile(ctx->profile_ud, stype ? stype : "user", user, chat, &prof);
        in->from.name = prof.name;
        in->from.avatar_url = prof.avatar_url;

        in->raw = js->serialize(ev, &in->raw_len);
        e = svc->emit_message(ctx->host, in);
        if (e == OG_OK)
            ctx->emitted++;
        svc->free(prof.name);
        svc->free(prof.avatar_url);
        for (size_t k = 0; k < it.n_owned; k++)
            svc->free(it.owned[k]);
    }
    js->put(doc);
    return e;
}
