/* whatsapp_parse.c - WhatsApp Business Cloud API webhook body -> emits.
 *
 * The envelope (Graph API v25.0, webhook field "messages"):
 *   {"object":"whatsapp_business_account","entry":[{"id":<WABA>,"changes":[
 *     {"field":"messages","value":{"metadata":{...},"contacts":[...],
 *      "messages":[...] | "statuses":[...] | "errors":[...]}}]}]}
 * One POST may carry several entries, each several changes, each several
 * messages from different customers; every one is emitted once, in order.
 *
 * Messages become og_inbound: dedup_key = provider id = the wamid, thread =
 * the customer's wa_id (one session per customer), from.phone = wa_id, name
 * from contacts[].profile.name matched by wa_id, reply_to from context.id.
 * Kinds: text; image, video, audio, document (file), sticker as one
 * attachment with media_id, mime_type and (document) filename as name, the
 * caption as text, and no url (no attachment without a media id): media are fetched with GET
 * /<media_id> (Bearer) which answers a short-lived url, fetched with the same Bearer; location
 * (kind system when its coordinates are out of range); contacts (kind contact; text = one line per
 * shared contact, "Name: +1 555..., +1 666..."); interactive button_reply / list_reply and template
 * quick-reply "button" (kind interactive; text = the title; payload = the reply id / the button's
 * payload (ABI 1.3), kept in raw too); reaction (kind reaction; reply_to = the reacted wamid, text
 * = the emoji, NULL when the reaction was removed); system (kind system, its body); unsupported and
 * any type we do not know (kind system, with the error title or the type name). raw = the message
 * object as JSON.
 *
 * Statuses become og_status_update: provider id = the wamid of our message,
 * dedup_key = "<wamid>:<status>", sent/delivered/read/failed (played, for
 * voice notes, counts as read); failed carries errors[0].code as text and
 * errors[0].title. They are reported as they come, also out of order: the
 * core keeps a status from moving backwards.
 *
 * This file is pure: no I/O besides svc->emit_* and logging. It is fuzzed
 * (tests/fuzz/fuzz_whatsapp.c). */
#include "graph.h"
#include "whatsapp.h"

#include <string.h>

struct wa_parse {
    const struct og_services *svc;
    const struct og_json_api *js;
    void *host;
};

/* A growable string on svc->alloc (the services have no realloc). */
struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_add(const struct og_services *svc, struct sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = svc->alloc(cap);
        if (b->p)
            memcpy(p, b->p, b->len);
        svc->free(b->p);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static size_t arr_len(const struct og_json_api *js, const struct og_json *j)
{
    return js->type(j) == OG_JSON_ARRAY ? js->len(j) : 0;
}

static const char *str_at(const struct og_json_api *js, const struct og_json *j, const char *path)
{
    struct og_json *v = js->find(j, path);
    return v ? js->str(v) : NULL;
}

/* contacts[].profile.name of the contact whose wa_id is wa_id. */
static const char *contact_name(const struct og_json_api *js, const struct og_json *contacts,
                                const char *wa_id)
{
    for (size_t i = 0, n = arr_len(js, contacts); i < n; i++) {
        struct og_json *c = js->at(contacts, i);
        const char *id = og_graph_json_str(js, c, "wa_id");
        if (id && strcmp(id, wa_id) == 0)
            return str_at(js, c, "profile.name");
    }
    return NULL;
}

/* The text of a "contacts" message: one line per shared contact. [xfer] */
static char *contacts_text(const struct wa_parse *p, const struct og_json *list)
{
    const struct og_json_api *js = p->js;
    struct sbuf b = {0};
    for (size_t i = 0, n = arr_len(js, list); i < n; i++) {
        struct og_json *c = js->at(list, i);
        const char *name = str_at(js, c, "name.formatted_name");
        const char *first = str_at(js, c, "name.first_name");
        const char *last = str_at(js, c, "name.last_name");
        if (i)
            sb_add(p->svc, &b, "\n");
        if (name) {
            sb_add(p->svc, &b, name);
        } else if (first || last) {
            sb_add(p->svc, &b, first ? first : "");
            sb_add(p->svc, &b, first && last ? " " : "");
            sb_add(p->svc, &b, last ? last : "");
        } else {
            sb_add(p->svc, &b, "(no name)");
        }
        struct og_json *phones = js->get(c, "phones");
        for (size_t k = 0, m = arr_len(js, phones); k < m; k++) {
            struct og_json *ph = js->at(phones, k);
            const char *num = og_graph_json_str(js, ph, "phone");
            if (!num)
                num = og_graph_json_str(js, ph, "wa_id");
            if (!num)
                continue;
            sb_add(p->svc, &b, k ? ", " : ": ");
            sb_add(p->svc, &b, num);
        }
    }
    if (!b.p)
        sb_add(p->svc, &b, "");
    return b.p;
}

static const struct {
    const char *type;
    enum og_kind kind;
} media_kinds[] = {
    {"image", OG_KIND_IMAGE},   {"video", OG_KIND_VIDEO},     {"audio", OG_KIND_AUDIO},
    {"document", OG_KIND_FILE}, {"sticker", OG_KIND_STICKER},
};

static og_err emit_one_message(const struct wa_parse *p, struct og_json *m,
                               const struct og_json *contacts)
{
    const struct og_services *svc = p->svc;
    const struct og_json_api *js = p->js;
    const char *id = og_graph_json_str(js, m, "id");
    const char *from = og_graph_json_str(js, m, "from");
    if (!id || !id[0] || !from || !from[0]) {
        svc->log(p->host, OG_LOG_WARN, "whatsapp: message without id or from skipped");
        return OG_OK;
    }
    const char *type = og_graph_json_str(js, m, "type");
    if (!type)
        type = "unsupported";

    struct og_inbound in;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.dedup_key = id;
    in.provider_message_id = id;
    in.thread_id = from;
    in.from.external_id = from;
    in.from.phone = from;
    in.from.name = contact_name(js, contacts, from);
    int64_t ts = og_graph_json_i64(js, js->get(m, "timestamp"), 0);
    in.timestamp_ms = ts > 0 && ts < INT64_MAX / 1000 ? ts * 1000 : 0;
    in.reply_to_provider_id = str_at(js, m, "context.id");
    in.raw = js->serialize(m, &in.raw_len);

    struct og_attachment att;
    struct og_location loc;
    memset(&att, 0, sizeof att);
    memset(&loc, 0, sizeof loc);
    char *owned = NULL;
    struct og_json *body = js->get(m, type);
    size_t mk = 0;
    while (mk < sizeof media_kinds / sizeof media_kinds[0] &&
           strcmp(media_kinds[mk].type, type) != 0)
        mk++;

    if (strcmp(type, "text") == 0) {
        in.kind = OG_KIND_TEXT;
        in.text = og_graph_json_str(js, body, "body");
    } else if (mk < sizeof media_kinds / sizeof media_kinds[0]) {
        in.kind = media_kinds[mk].kind;
        att.media_id = og_graph_json_str(js, body, "id");
        att.mime_type = og_graph_json_str(js, body, "mime_type");
        att.name = og_graph_json_str(js, body, "filename");
        in.text = og_graph_json_str(js, body, "caption");
        if (att.media_id && att.media_id[0]) { /* else nothing to fetch */
            in.attachments = &att;
            in.n_attachments = 1;
        }
    } else if (strcmp(type, "location") == 0) {
        in.kind = OG_KIND_LOCATION;
        loc.latitude = js->dbl(js->get(body, "latitude"));
        loc.longitude = js->dbl(js->get(body, "longitude"));
        loc.name = og_graph_json_str(js, body, "name");
        loc.address = og_graph_json_str(js, body, "address");
        if (og_graph_location_ok(loc.latitude, loc.longitude))
            in.location = &loc;
        else
            in.kind = OG_KIND_SYSTEM, in.text = "location with invalid coordinates";
    } else if (strcmp(type, "contacts") == 0) {
        in.kind = OG_KIND_CONTACT;
        in.text = owned = contacts_text(p, js->get(m, "contacts"));
    } else if (strcmp(type, "interactive") == 0) {
        in.kind = OG_KIND_INTERACTIVE;
        const char *itype = og_graph_json_str(js, body, "type");
        struct og_json *reply = itype ? js->get(body, itype) : NULL;
        in.text = og_graph_json_str(js, reply, "title");
        /* a tap on a button (or a list row) we sent: its id (ABI 1.3) */
        in.payload = og_graph_json_str(js, reply, "id");
        if (!in.text) /* nfm_reply (flows) carries a body and a JSON response */
            in.text = og_graph_json_str(js, reply, "body");
    } else if (strcmp(type, "button") == 0) {
        in.kind = OG_KIND_INTERACTIVE;
        in.text = og_graph_json_str(js, body, "text");
        in.payload = og_graph_json_str(js, body, "payload"); /* a template's quick reply */
        if (!in.text)
            in.text = in.payload;
    } else if (strcmp(type, "reaction") == 0) {
        in.kind = OG_KIND_REACTION;
        in.reply_to_provider_id = og_graph_json_str(js, body, "message_id");
        const char *emoji = og_graph_json_str(js, body, "emoji");
        in.text = emoji && emoji[0] ? emoji : NULL;
    } else if (strcmp(type, "system") == 0) {
        in.kind = OG_KIND_SYSTEM;
        in.text = og_graph_json_str(js, body, "body");
    } else {
        /* "unsupported" (with errors[], code 131051) and any type we do not
         * know yet (order, request_welcome, ...): a system note. */
        in.kind = OG_KIND_SYSTEM;
        const char *title = str_at(js, m, "errors.0.title");
        if (!title)
            title = str_at(js, m, "errors.0.message");
        in.text = owned = title ? og_graph_sprintf(svc, "unsupported message: %s", title)
                                : og_graph_sprintf(svc, "unsupported message type: %s", type);
    }
    og_err e = svc->emit_message(p->host, &in);
    svc->free(owned);
    return e;
}

static og_err emit_one_status(const struct wa_parse *p, struct og_json *st)
{
    const struct og_services *svc = p->svc;
    const struct og_json_api *js = p->js;
    const char *id = og_graph_json_str(js, st, "id");
    const char *status = og_graph_json_str(js, st, "status");
    if (!id || !id[0] || !status) {
        svc->log(p->host, OG_LOG_WARN, "whatsapp: status without id or status skipped");
        return OG_OK;
    }
    struct og_status_update u;
    memset(&u, 0, sizeof u);
    u.struct_size = sizeof u;
    if (strcmp(status, "sent") == 0)
        u.status = OG_STATUS_SENT;
    else if (strcmp(status, "delivered") == 0)
        u.status = OG_STATUS_DELIVERED;
    else if (strcmp(status, "read") == 0 || strcmp(status, "played") == 0)
        u.status = OG_STATUS_READ;
    else if (strcmp(status, "failed") == 0)
        u.status = OG_STATUS_FAILED;
    else {
        svc->log(p->host, OG_LOG_DEBUG, "whatsapp: status \"%s\" ignored", status);
        return OG_OK;
    }
    char *dedup = og_graph_sprintf(svc, "%s:%s", id, status);
    u.dedup_key = dedup;
    u.provider_message_id = id;
    int64_t ts = og_graph_json_i64(js, js->get(st, "timestamp"), 0);
    u.timestamp_ms = ts > 0 && ts < INT64_MAX / 1000 ? ts * 1000 : 0;
    if (u.status == OG_STATUS_FAILED) {
        u.error_code = str_at(js, st, "errors.0.code");
        u.error_message = str_at(js, st, "errors.0.title");
        if (!u.error_message)
            u.error_message = str_at(js, st, "errors.0.message");
    }
    og_err e = svc->emit_status(p->host, &u);
    svc->free(dedup);
    return e;
}

static og_err parse_value(const struct wa_parse *p, struct og_json *value)
{
    const struct og_json_api *js = p->js;
    struct og_json *contacts = js->get(value, "contacts");
    struct og_json *msgs = js->get(value, "messages");
    for (size_t i = 0, n = arr_len(js, msgs); i < n; i++) {
        og_err e = emit_one_message(p, js->at(msgs, i), contacts);
        if (e != OG_OK)
            return e;
    }
    struct og_json *sts = js->get(value, "statuses");
    for (size_t i = 0, n = arr_len(js, sts); i < n; i++) {
        og_err e = emit_one_status(p, js->at(sts, i));
        if (e != OG_OK)
            return e;
    }
    struct og_json *errs = js->get(value, "errors");
    for (size_t i = 0, n = arr_len(js, errs); i < n; i++) {
        struct og_json *er = js->at(errs, i);
        const char *code = og_graph_json_str(js, er, "code");
        const char *title = og_graph_json_str(js, er, "title");
        p->svc->log(p->host, OG_LOG_WARN, "whatsapp: webhook error %s: %s", code ? code : "?",
                    title ? title : "?");
    }
    return OG_OK;
}

og_err whatsapp_parse(const struct og_services *svc, void *host, const char *body, size_t len)
{
    const struct og_json_api *js = svc->json;
    struct wa_parse p = {svc, js, host};
    struct og_json *doc = js->parse(body, len);
    if (js->type(doc) != OG_JSON_OBJECT) {
        js->put(doc);
        return OG_ERR_INVALID;
    }
    const char *object = og_graph_json_str(js, doc, "object");
    if (object && strcmp(object, "whatsapp_business_account") != 0) {
        svc->log(host, OG_LOG_DEBUG, "whatsapp: webhook object \"%s\" ignored", object);
        js->put(doc);
        return OG_OK;
    }
    og_err e = OG_OK;
    struct og_json *entries = js->get(doc, "entry");
    for (size_t i = 0, n = arr_len(js, entries); i < n && e == OG_OK; i++) {
        struct og_json *changes = js->get(js->at(entries, i), "changes");
        for (size_t k = 0, m = arr_len(js, changes); k < m && e == OG_OK; k++) {
            struct og_json *ch = js->at(changes, k);
            const char *field = og_graph_json_str(js, ch, "field");
            if (field && strcmp(field, "messages") != 0) {
                svc->log(host, OG_LOG_DEBUG, "whatsapp: webhook field \"%s\" ignored", field);
                continue;
            }
            struct og_json *value = js->get(ch, "value");
            if (js->type(value) == OG_JSON_OBJECT)
                e = parse_value(&p, value);
        }
    }
    js->put(doc);
    return e;
}
