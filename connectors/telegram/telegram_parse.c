/* telegram_parse.c - Telegram Update JSON to normalized inbound messages.
 *
 * Pure functions: bytes (or an already parsed Update) in, svc->emit_message
 * calls out. No HTTP, no state; tests/fuzz/fuzz_telegram.c feeds arbitrary
 * bytes to telegram_parse_update_body() and telegram_parse_updates().
 *
 * Mapping (Bot API Update / Message):
 *   dedup_key            "u:<update_id>"
 *   provider_message_id  "<chat.id>:<message_id>" (message_id is per chat)
 *   thread_id            chat.id
 *   from                 from.id, first_name + " " + last_name, username
 *                        (sender_chat.id/title for anonymous group admins)
 *   kind                 text, photo (largest size) -> image, video /
 *                        video_note / animation -> video, audio / voice ->
 *                        audio, document -> file, sticker, location / venue,
 *                        contact; anything else -> system "[unsupported ...]"
 *   text                 text, or caption for media
 *   reply_to             "<chat.id>:<reply_to_message.message_id>"
 *   edited_message       system message "[edited] <text>", no provider id,
 *                        reply_to = the edited message
 *   callback_query       a tap on an inline keyboard button we sent (ABI 1.3):
 *                        kind interactive, payload = data (the button's id),
 *                        text = the button's text as found in
 *                        message.reply_markup (else data), thread = the
 *                        message's chat (else the sender), reply_to = the
 *                        message carrying the keyboard, no provider id;
 *                        one without data (a game's) is skipped
 *   other update types   skipped (debug log), never an error
 * A Telegram file URL would contain the bot token, so attachments carry the
 * file_id as media_id and no url. */
#include "telegram.h"

#include <stdio.h>
#include <string.h>

/* One inbound being assembled; every string the og_inbound points to lives
 * here or in the parsed JSON. */
struct tg_in {
    struct og_inbound in;
    struct og_attachment att;
    struct og_location loc;
    char dedup[32];
    char pmid[80];
    char reply[80];
    char *name; /* owned (svc->alloc) */
    char *text; /* owned when built here (contact, edited, unsupported) */
};

static const char *jstr(const struct og_services *svc, const struct og_json *o, const char *k)
{
    const struct og_json *v = svc->json->get(o, k);
    return svc->json->type(v) == OG_JSON_STRING ? svc->json->str(v) : NULL;
}

/* An id as text: integers only (Telegram ids are integers). */
static const char *jid(const struct og_services *svc, const struct og_json *o, const char *k)
{
    const struct og_json *v = svc->json->get(o, k);
    return svc->json->type(v) == OG_JSON_INT ? svc->json->str(v) : NULL;
}

static int64_t jint(const struct og_services *svc, const struct og_json *o, const char *k)
{
    return svc->json->int64(svc->json->get(o, k));
}

/* "a b", "a" or "b" [xfer]; NULL when both are absent. */
static char *join2(const struct og_services *svc, const char *a, const char *b, const char *sep)
{
    if (!a && !b)
        return NULL;
    if (!a || !b)
        return svc->strdup(a ? a : b);
    size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
    char *s = svc->alloc(la + ls + lb + 1);
    memcpy(s, a, la);
    memcpy(s + la, sep, ls);
    memcpy(s + la + ls, b, lb + 1);
    return s;
}

/* Fills att from a Telegram file object (Document, Video, Audio, ...). */
static void file_att(const struct og_services *svc, const struct og_json *f,
                     struct og_attachment *att, const char *def_mime)
{
    att->media_id = jstr(svc, f, "file_id");
    att->mime_type = jstr(svc, f, "mime_type");
    if (!att->mime_type)
        att->mime_type = def_mime;
    att->name = jstr(svc, f, "file_name");
    int64_t sz = jint(svc, f, "file_size");
    att->size = sz > 0 ? sz : 0;
}

/* The largest PhotoSize of a photo array (by pixels; the last one on ties,
 * Telegram lists them smallest first). */
static const struct og_json *largest_photo(const struct og_services *svc, const struct og_json *arr)
{
    const struct og_json *best = NULL;
    double best_px = -1;
    size_t n = svc->json->len(arr);
    for (size_t i = 0; i < n; i++) {
        const struct og_json *p = svc->json->at(arr, i);
        if (svc->json->type(p) != OG_JSON_OBJECT)
            continue;
        double px = svc->json->dbl(svc->json->get(p, "width")) *
                    svc->json->dbl(svc->json->get(p, "height"));
        if (px >= best_px) {
            best_px = px;
            best = p;
        }
    }
    return best;
}

/* Group service messages carry no customer content: skip them. */
static const char *const service_keys[] = {
    "new_chat_members",        "left_chat_member",
    "new_chat_title",          "new_chat_photo",
    "delete_chat_photo",       "group_chat_created",
    "supergroup_chat_created", "channel_chat_created",
    "migrate_to_chat_id",      "migrate_from_chat_id",
    "pinned_message",          "message_auto_delete_timer_changed",
    "forum_topic_created",     "forum_topic_edited",
    "forum_topic_closed",      "forum_topic_reopened",
    "video_chat_started",      "video_chat_ended",
    "video_chat_scheduled",    "video_chat_participants_invited",
    "write_access_allowed",    NULL};

/* Content we cannot render: named in the system message. */
static const char *const unsupported_keys[] = {"poll",       "dice",     "game",
                                               "invoice",    "story",    "successful_payment",
                                               "paid_media", "giveaway", "giveaway_winners",
                                               NULL};

static void tg_in_free(const struct og_services *svc, struct tg_in *t)
{
    svc->free(t->name);
    svc->free(t->text);
}

/* Fills t from a Message. Returns 1 when there is something to emit, 0 when
 * the message is to be skipped (logged), -1 when it is malformed. */
static int fill_message(const struct og_services *svc, void *host, const struct og_json *m,
                        struct tg_in *t)
{
    const struct og_json_api *J = svc->json;
    if (J->type(m) != OG_JSON_OBJECT)
        return -1;
    const struct og_json *chat = J->get(m, "chat");
    const char *chat_id = jid(svc, chat, "id");
    const char *mid = jid(svc, m, "message_id");
    if (!chat_id || !mid)
        return -1;
    for (const char *const *k = service_keys; *k; k++)
        if (J->get(m, *k)) {
            svc->log(host, OG_LOG_DEBUG, "telegram: skipping service message (%s)", *k);
            return 0;
        }

    t->in.thread_id = chat_id;
    snprintf(t->pmid, sizeof t->pmid, "%s:%s", chat_id, mid);
    t->in.provider_message_id = t->pmid;

    const struct og_json *from = J->get(m, "from");
    const char *from_id = jid(svc, from, "id");
    if (from_id) {
        t->in.from.external_id = from_id;
        t->name = join2(svc, jstr(svc, from, "first_name"), jstr(svc, from, "last_name"), " ");
        t->in.from.username = jstr(svc, from, "username");
    } else {
        /* Anonymous admins and channel posts speak as a chat. */
        const struct og_json *sc = J->get(m, "sender_chat");
        const struct og_json *who = jid(svc, sc, "id") ? sc : chat;
        t->in.from.external_id = jid(svc, who, "id");
        const char *title = jstr(svc, who, "title");
        t->name = title
                      ? svc->strdup(title)
                      : join2(svc, jstr(svc, who, "first_name"), jstr(svc, who, "last_name"), " ");
        t->in.from.username = jstr(svc, who, "username");
    }
    t->in.from.name = t->name;

    int64_t date = jint(svc, m, "date");
    t->in.timestamp_ms = date > 0 && date < INT64_MAX / 1000 ? date * 1000 : 0;

    const struct og_json *rt = J->get(m, "reply_to_message");
    const char *rt_id = jid(svc, rt, "message_id");
    if (rt_id) {
        const char *rt_chat = jid(svc, J->get(rt, "chat"), "id");
        snprintf(t->reply, sizeof t->reply, "%s:%s", rt_chat ? rt_chat : chat_id, rt_id);
        t->in.reply_to_provider_id = t->reply;
    }

    const char *caption = jstr(svc, m, "caption");
    const struct og_json *v;
    t->in.text = caption;
    t->in.attachments = &t->att;
    t->in.n_attachments = 1;
    if ((v = J->get(m, "text")) && J->type(v) == OG_JSON_STRING) {
        t->in.kind = OG_KIND_TEXT;
        t->in.text = J->str(v);
        t->in.n_attachments = 0;
    } else if ((v = J->get(m, "photo")) && J->type(v) == OG_JSON_ARRAY && largest_photo(svc, v)) {
        t->in.kind = OG_KIND_IMAGE;
        file_att(svc, largest_photo(svc, v), &t->att, "image/jpeg");
    } else if ((v = J->get(m, "animation")) && J->type(v) == OG_JSON_OBJECT) {
        t->in.kind = OG_KIND_VIDEO; /* GIF or silent MP4; "document" is also set */
        file_att(svc, v, &t->att, "video/mp4");
    } else if ((v = J->get(m, "video")) && J->type(v) == OG_JSON_OBJECT) {
        t->in.kind = OG_KIND_VIDEO;
        file_att(svc, v, &t->att, "video/mp4");
    } else if ((v = J->get(m, "video_note")) && J->type(v) == OG_JSON_OBJECT) {
        t->in.kind = OG_KIND_VIDEO;
        file_att(svc, v, &t->att, "video/mp4");
    } else if ((v = J->get(m, "voice")) && J->type(v) == OG_JSON_OBJECT) {
        t->in.kind = OG_KIND_AUDIO;
        file_att(svc, v, &t->att, "audio/ogg");
    } else if ((v = J->get(m, "audio")) && J->type(v) == OG_JSON_OBJECT) {
        t->in.kind = OG_KIND_AUDIO;
        file_att(svc, v, &t->att, "audio/mpeg");
        if (!t->att.name)
            t->att.name = jstr(svc, v, "title");
    } else if ((v = J->get(m, "document")) && J->type(v) == OG_JSON_OBJECT) {
        t->in.kind = OG_KIND_FILE;
        file_att(svc, v, &t->att, NULL);
    } else if ((v = J->get(m, "sticker")) && J->type(v) == OG_JSON_OBJECT) {
        t->in.kind = OG_KIND_STICKER;
        file_att(svc, v, &t->att,
                 J->boolean(J->get(v, "is_animated")) ? "application/x-tgsticker"
                 : J->boolean(J->get(v, "is_video"))  ? "video/webm"
                                                      : "image/webp");
        t->att.name = jstr(svc, v, "set_name");
        t->in.text = jstr(svc, v, "emoji");
    } else if (((v = J->get(m, "venue")) && J->type(v) == OG_JSON_OBJECT) ||
               ((v = J->get(m, "location")) && J->type(v) == OG_JSON_OBJECT)) {
        const struct og_json *loc = J->get(v, "location") ? J->get(v, "location") : v;
        t->in.kind = OG_KIND_LOCATION;
        t->loc.latitude = J->dbl(J->get(loc, "latitude"));
        t->loc.longitude = J->dbl(J->get(loc, "longitude"));
        t->loc.name = jstr(svc, v, "title");
        t->loc.address = jstr(svc, v, "address");
        t->in.location = &t->loc;
        t->in.n_attachments = 0;
        if (!(t->loc.latitude >= -90 && t->loc.latitude <= 90) ||
            !(t->loc.longitude >= -180 && t->loc.longitude <= 180)) {
            t->in.location = NULL; /* out of range: a note, not a place */
            t->in.kind = OG_KIND_SYSTEM;
            t->in.text = "[invalid location]";
        }
    } else if ((v = J->get(m, "contact")) && J->type(v) == OG_JSON_OBJECT) {
        /* No contact struct in the model: "<name>: <phone>" as text; the
         * vCard and user_id, when given, stay in raw. */
        t->in.kind = OG_KIND_CONTACT;
        char *who = join2(svc, jstr(svc, v, "first_name"), jstr(svc, v, "last_name"), " ");
        t->text = join2(svc, who, jstr(svc, v, "phone_number"), ": ");
        svc->free(who);
        t->in.text = t->text;
        t->in.n_attachments = 0;
    } else {
        const char *what = NULL;
        for (const char *const *k = unsupported_keys; *k && !what; k++)
            if (J->get(m, *k))
                what = *k;
        char buf[96];
        snprintf(buf, sizeof buf, "[unsupported Telegram message%s%s]", what ? ": " : "",
                 what ? what : "");
        t->text = svc->strdup(buf);
        t->in.kind = OG_KIND_SYSTEM;
        t->in.text = t->text;
        t->in.n_attachments = 0;
        svc->log(host, OG_LOG_DEBUG, "telegram: unsupported message content%s%s", what ? ": " : "",
                 what ? what : "");
    }
    if (t->in.n_attachments && !t->att.media_id)
        return -1; /* a media message without its file */
    return 1;
}

/* The text of the inline keyboard button whose callback_data is data in
 * message m, or NULL. [borrowed from m] */
static const char *button_text(const struct og_json_api *J, const struct og_json *m,
                               const char *data)
{
    const struct og_json *rows = J->find(m, "reply_markup.inline_keyboard");
    for (size_t i = 0; J->type(rows) == OG_JSON_ARRAY && i < J->len(rows); i++) {
        const struct og_json *row = J->at(rows, i);
        for (size_t k = 0; J->type(row) == OG_JSON_ARRAY && k < J->len(row); k++) {
            const struct og_json *b = J->at(row, k);
            const struct og_json *cd = J->get(b, "callback_data");
            const struct og_json *tx = J->get(b, "text");
            if (J->type(cd) == OG_JSON_STRING && J->type(tx) == OG_JSON_STRING &&
                strcmp(J->str(cd), data) == 0)
                return J->str(tx);
        }
    }
    return NULL;
}

/* A callback_query: a tap on one of our inline keyboard buttons. */
static og_err parse_callback(const struct og_services *svc, void *host, const struct og_json *cq,
                             struct tg_in *t)
{
    const struct og_json_api *J = svc->json;
    const struct og_json *d = J->get(cq, "data");
    const struct og_json *from = J->get(cq, "from");
    const char *from_id = jid(svc, from, "id");
    if (J->type(d) != OG_JSON_STRING || !from_id) {
        svc->log(host, OG_LOG_DEBUG, "telegram: callback_query without data or from, skipped");
        return OG_OK;
    }
    const char *data = J->str(d);
    const struct og_json *m = J->get(cq, "message");
    const char *chat = jid(svc, J->get(m, "chat"), "id");
    const char *mid = jid(svc, m, "message_id");
    t->in.kind = OG_KIND_INTERACTIVE;
    t->in.payload = data;
    t->in.text = button_text(J, m, data);
    if (!t->in.text)
        t->in.text = data;
    t->in.thread_id = chat ? chat : from_id;
    t->in.from.external_id = from_id;
    t->name = join2(svc, jstr(svc, from, "first_name"), jstr(svc, from, "last_name"), " ");
    t->in.from.name = t->name;
    t->in.from.username = jstr(svc, from, "username");
    if (chat && mid) {
        snprintf(t->reply, sizeof t->reply, "%s:%s", chat, mid);
        t->in.reply_to_provider_id = t->reply;
    }
    og_err e = svc->emit_message(host, &t->in);
    tg_in_free(svc, t);
    return e;
}

og_err telegram_parse_update(const struct og_services *svc, void *host, const struct og_json *upd,
                             const char *raw, size_t raw_len)
{
    const struct og_json_api *J = svc->json;
    const struct og_json *uid = J->get(upd, "update_id");
    if (J->type(upd) != OG_JSON_OBJECT || J->type(uid) != OG_JSON_INT)
        return OG_ERR_INVALID;

    struct tg_in t;
    memset(&t, 0, sizeof t);
    t.in.struct_size = sizeof t.in;
    snprintf(t.dedup, sizeof t.dedup, "u:%lld", (long long)J->int64(uid));
    t.in.dedup_key = t.dedup;
    t.in.raw = raw;
    t.in.raw_len = raw_len;

    const struct og_json *m;
    int edited = 0;
    if ((m = J->get(upd, "message")) != NULL) {
    } else if ((m = J->get(upd, "edited_message")) != NULL) {
        edited = 1;
    } else if ((m = J->get(upd, "callback_query")) != NULL && J->type(m) == OG_JSON_OBJECT) {
        return parse_callback(svc, host, m, &t);
    } else {
        svc->log(host, OG_LOG_DEBUG, "telegram: update %s: type %s not handled, skipped",
                 J->str(uid),
                 J->key_at(upd, 0) && strcmp(J->key_at(upd, 0), "update_id")
                     ? J->key_at(upd, 0)
                     : (J->key_at(upd, 1) ? J->key_at(upd, 1) : "(none)"));
        return OG_OK;
    }
    int r = fill_message(svc, host, m, &t);
    if (r <= 0 || !t.in.from.external_id) {
        if (r < 0 || !t.in.from.external_id)
            svc->log(host, OG_LOG_WARN, "telegram: update %s: malformed message, skipped",
                     J->str(uid));
        tg_in_free(svc, &t);
        return OG_OK;
    }
    if (edited) {
        /* An edit is a note on the original, not a new message. */
        snprintf(t.reply, sizeof t.reply, "%s", t.pmid);
        t.in.reply_to_provider_id = t.reply;
        t.in.provider_message_id = NULL;
        char *txt = join2(svc, "[edited]", t.in.text, " ");
        svc->free(t.text);
        t.text = txt;
        t.in.text = txt;
        t.in.kind = OG_KIND_SYSTEM;
        t.in.attachments = NULL;
        t.in.n_attachments = 0;
        t.in.location = NULL;
    }
    og_err e = svc->emit_message(host, &t.in);
    tg_in_free(svc, &t);
    return e;
}

og_err telegram_parse_update_body(const struct og_services *svc, void *host, const char *body,
                                  size_t len)
{
    struct og_json *upd = svc->json->parse(body, len);
    if (!upd)
        return OG_ERR_INVALID;
    og_err e = telegram_parse_update(svc, host, upd, body, len);
    svc->json->put(upd);
    return e;
}

og_err telegram_parse_updates(const struct og_services *svc, void *host, const char *body,
                              size_t len, int64_t *next_offset)
{
    const struct og_json_api *J = svc->json;
    struct og_json *ans = J->parse(body, len);
    const struct og_json *arr = J->get(ans, "result");
    if (!ans || !J->boolean(J->get(ans, "ok")) || J->type(arr) != OG_JSON_ARRAY) {
        J->put(ans);
        return OG_ERR_INVALID;
    }
    og_err e = OG_OK;
    size_t n = J->len(arr);
    for (size_t i = 0; i < n; i++) {
        struct og_json *u = J->at(arr, i);
        const struct og_json *uid = J->get(u, "update_id");
        if (J->type(uid) != OG_JSON_INT) {
            svc->log(host, OG_LOG_WARN, "telegram: getUpdates: an update without update_id");
            continue;
        }
        int64_t id = J->int64(uid);
        size_t rl = 0;
        const char *raw = J->serialize(u, &rl);
        e = telegram_parse_update(svc, host, u, raw, rl);
        if (e != OG_OK && e != OG_ERR_INVALID) {
            /* Not stored: fetch it again next time. Earlier ones are done. */
            if (id >= 0 && id >= *next_offset)
                *next_offset = id;
            break;
        }
        e = OG_OK;
        if (id >= 0 && id < INT64_MAX && id + 1 > *next_offset)
            *next_offset = id + 1;
    }
    J->put(ans);
    return e;
}
