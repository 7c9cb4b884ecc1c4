/* og_api_messages - what agents send:
 *
 *   POST /api/v1/sessions/{id}/messages  {"text","attachments":[{"url","name","mime_type"}]}
 *        -> 202 with the message (status "pending"); the send worker delivers
 *           it through the channel's connector (core/og_outbox.h). An agent
 *           replies only in a session assigned to it (403 for a queued one:
 *           take it first); managers and admins in any session.
 *   POST /api/v1/sessions  {"channel","contact_id" | "external_id","text","attachments"}
 *        -> 201 {"session","message"}: a conversation the agent starts with a
 *           contact omnigate already knows on that channel. The session starts
 *           "awaiting" with the caller as its agent (none for the admin token).
 *           409 "session_open" when the contact has an open session (reply to
 *           it instead; its id is in the message), 409 "window_closed" on
 *           WhatsApp/Messenger when the customer has not written in the last
 *           24 h (those platforms need a template then), 409 "unsupported"
 *           when the connector lacks OG_CAP_START_OUTBOUND (web chat: a
 *           visitor cannot be reached when not on the page).
 *
 * The sender is {"type":"agent","id":<agent id>}, or id "admin" for the
 * configuration's admin token.
 *
 * Both match the text against sensitive_words.agents (core/og_outbox.h): a
 * match flags the message, or with block_agents answers 422
 * "message_blocked" with the matched terms in error.terms, nothing stored.
 *
 * Attachment URLs are fetched by some connectors (VK, e-mail re-upload what
 * they download), so each one must pass the fetch policy of the channel
 * (core/og_fetch.h) at once: an http(s) URL (parsed by libcurl) whose host
 * is neither a refused address (loopback, private, link-local, multicast,
 * reserved) nor a name resolving only to such addresses, unless the
 * channel's fetch_allow_hosts names it. A refused URL is 400 url_refused
 * naming the reason; the name resolutions of one request share a bound
 * (URL_PROBE_MS), and a name that does not resolve in time is left to the
 * fetch, which checks every address again when it connects. */
#include "og_api.h"
#include "og_api_templates.h"
#include "og_fetch.h"
#include "og_media.h"
#include "og_outbox.h"
#include "og_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TEXT 65536
#define MAX_ATTS 10
/* The most buttons any platform takes on one message (Telegram's inline
 * keyboard: 100); each channel's own bound is its connector's max_buttons. */
#define MAX_BUTTONS 100
/* What name resolution may cost one request, over all its attachments. */
#define URL_PROBE_MS 2000

/* Parsed body; strings borrowed from the JSON. */
struct body {
    json_object *j;
    struct og_outbox_att atts[MAX_ATTS];
    struct og_outbox_msg m;
    char *own[MAX_ATTS]; /* the signed links of uploads, freed with the body */
    char names[MAX_ATTS][256], types[MAX_ATTS][128];
    json_object *tpl, *buttons; /* [borrowed from j] or NULL */
    struct og_outbox_button btns[MAX_BUTTONS];
    char *tpl_json, *tpl_text; /* owned: the resolved template */
};

static int opt_str(struct og_api_ctx *ctx, json_object *o, const char *key, const char **out,
                   const char *what)
{
    json_object *v;
    *out = NULL;
    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_string)) {
        char *msg = og_sprintf("%s%s must be a string", what, key);
        og_reply_err(ctx->r, OG_ERR_INVALID, msg);
        free(msg);
        return -1;
    }
    *out = json_object_get_string(v);
    return 0;
}

/* An upload as attachment i: its type, size and name from the media store
 * (the bytes' type, not the client's), and the signed link the platform
 * may fetch it from. 0, or -1 after answering. */
static int upload_att(struct og_api_ctx *ctx, struct body *b, size_t i)
{
    struct og_outbox_att *o = &b->atts[i];
    int fd = -1;
    off_t off;
    struct og_media_meta m;
    og_err e = og_id_valid(o->upload_id, "upl_")
                   ? og_media_open_file(ctx->g->media, o->upload_id, &fd, &off, &m)
                   : OG_ERR_NOT_FOUND;
    if (fd >= 0)
        close(fd);
    if (e != OG_OK) {
        char *msg = og_sprintf("attachments[%zu].upload_id: no such upload (or no longer kept)", i);
        og_reply_err(ctx->r, e == OG_ERR_NOT_FOUND ? OG_ERR_INVALID : e, msg);
        free(msg);
        return -1;
    }
    snprintf(b->types[i], sizeof b->types[i], "%s", m.mime);
    o->mime_type = b->types[i];
    if (!o->name) {
        snprintf(b->names[i], sizeof b->names[i], "%s", m.name[0] ? m.name : "file");
        o->name = b->names[i];
    }
    o->size = m.size;
    char path[160];
    snprintf(path, sizeof path, "%s%s", OG_MEDIA_UPLOAD_PATH, o->upload_id);
    const char *origin = ctx->g->cfg ? ctx->g->cfg->public_url : NULL;
    int64_t ttl =
        ctx->g->cfg && ctx->g->cfg->media.link_ttl_s ? ctx->g->cfg->media.link_ttl_s : 7 * 86400;
    b->own[i] = og_media_link(ctx->g->media_key, origin, path, og_now_ms() / 1000 + ttl);
    o->url = b->own[i];
    return 0;
}

/* Reads text and attachments (and lets extra keys named in allowed pass).
 * 0, or -1 after answering 400. */
static int parse_msg(struct og_api_ctx *ctx, struct body *b, const char *const *allowed)
{
    memset(&b->m, 0, sizeof b->m);
    json_object_object_foreach(b->j, key, val)
    {
        (void)val;
        int ok = !strcmp(key, "text") || !strcmp(key, "attachments") || !strcmp(key, "template") ||
                 !strcmp(key, "tag") || !strcmp(key, "buttons");
        for (size_t i = 0; !ok && allowed && allowed[i]; i++)
            ok = !strcmp(key, allowed[i]);
        if (!ok) {
            char *msg = og_sprintf("unknown key \"%.64s\"", key);
            og_reply_err(ctx->r, OG_ERR_INVALID, msg);
            free(msg);
            return -1;
        }
    }
    if (opt_str(ctx, b->j, "text", &b->m.text, "") != 0)
        return -1;
    if (b->m.text && strlen(b->m.text) > MAX_TEXT) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "text is longer than 65536 bytes");
        return -1;
    }
    json_object *atts;
    if (json_object_object_get_ex(b->j, "attachments", &atts) &&
        !json_object_is_type(atts, json_type_null)) {
        if (!json_object_is_type(atts, json_type_array) ||
            json_object_array_length(atts) > MAX_ATTS) {
            og_reply_err(ctx->r, OG_ERR_INVALID,
                         "attachments must be an array of at most 10 objects");
            return -1;
        }
        for (size_t i = 0; i < json_object_array_length(atts); i++) {
            json_object *a = json_object_array_get_idx(atts, i);
            struct og_outbox_att *o = &b->atts[i];
            if (!json_object_is_type(a, json_type_object)) {
                og_reply_err(ctx->r, OG_ERR_INVALID, "attachments must be an array of objects");
                return -1;
            }
            if (opt_str(ctx, a, "url", &o->url, "attachments[].") != 0 ||
                opt_str(ctx, a, "upload_id", &o->upload_id, "attachments[].") != 0 ||
                opt_str(ctx, a, "name", &o->name, "attachments[].") != 0 ||
                opt_str(ctx, a, "mime_type", &o->mime_type, "attachments[].") != 0)
                return -1;
            json_object_object_foreach(a, akey, aval)
            {
                (void)aval;
                if (strcmp(akey, "url") && strcmp(akey, "upload_id") && strcmp(akey, "name") &&
                    strcmp(akey, "mime_type")) {
                    char *msg = og_sprintf("attachments[%zu]: unknown key \"%.64s\"", i, akey);
                    og_reply_err(ctx->r, OG_ERR_INVALID, msg);
                    free(msg);
                    return -1;
                }
            }
            if (!o->url == !o->upload_id) {
                og_reply_err(ctx->r, OG_ERR_INVALID,
                             "attachments[] need exactly one of url and upload_id");
                return -1;
            }
            if (o->upload_id && upload_att(ctx, b, i) != 0)
                return -1;
            b->m.n_atts++;
        }
        b->m.atts = b->atts;
    }
    b->tpl = json_object_object_get(b->j, "template");
    b->buttons = json_object_object_get(b->j, "buttons");
    if (opt_str(ctx, b->j, "tag", &b->m.tag, "") != 0)
        return -1;
    if (!b->tpl && (!b->m.text || !*b->m.text) && !b->m.n_atts) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "text, attachments or template is required");
        return -1;
    }
    b->m.sender_id = ctx->who.agent_id[0] ? ctx->who.agent_id : "admin";
    return 0;
}

/* 422 message_blocked with the terms the core matched (a JSON array). */
static void blocked(struct og_api_ctx *ctx, const char *terms)
{
    char *extra = og_sprintf("\"terms\":%s", terms ? terms : "[]");
    og_reply_code_with(ctx->r, "message_blocked",
                       "the message has words this deployment does not let agents send", extra);
    free(extra);
}

static void body_free(struct body *b)
{
    for (size_t i = 0; i < MAX_ATTS; i++)
        free(b->own[i]); /* the signed links of uploads */
    free(b->tpl_json), free(b->tpl_text);
    json_object_put(b->j);
}

/* Unicode code points in a UTF-8 string. */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int refuse(struct og_api_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int refuse(struct og_api_ctx *ctx, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    og_reply_err(ctx->r, OG_ERR_INVALID, msg);
    return -1;
}

/* The template, tag and buttons of a message checked against the channel
 * that sends it (ABI 1.3: its templates, tag_window_ms and button limits),
 * and the window the message needs (m.max_age_ms). 0, or -1 after
 * answering. */
static int check_extras(struct og_api_ctx *ctx, struct body *b, const struct og_channel *ch)
{
    const struct og_connector *d = ch->plugin->desc;
    const char *cname = d->name;
    b->m.max_age_ms = d->messaging_window_ms;
    if (b->tpl && !json_object_is_type(b->tpl, json_type_null)) {
        if ((b->m.text && *b->m.text) || b->m.n_atts || b->buttons || b->m.tag)
            return refuse(ctx, "a template goes alone: no text, attachments, buttons or tag");
        char why[384];
        og_err e = og_api_template_resolve((struct og_channel *)ch, b->tpl, &b->tpl_json,
                                           &b->tpl_text, why, sizeof why);
        if (e == OG_ERR_UNSUPPORTED || e == OG_ERR_INVALID) {
            og_reply_err(ctx->r, e, why);
            return -1;
        }
        if (e != OG_OK) {
            og_reply_code(ctx->r, e == OG_ERR_UNAVAILABLE ? "unavailable" : "platform_error", why);
            return -1;
        }
        b->m.template_json = b->tpl_json;
        b->m.text = b->tpl_text;
        b->m.max_age_ms = 0; /* templates are what the platform takes any time */
    }
    if (b->m.tag) {
        if (!d->tag_window_ms)
            return refuse(ctx, "tag: channel %s (%s) takes no message tags", ch->id, cname);
        if (strcmp(b->m.tag, "HUMAN_AGENT") != 0)
            return refuse(ctx, "tag must be \"HUMAN_AGENT\" (the one tag omnigate sends: an "
                               "agent's reply up to 7 days after the customer's last message)");
        b->m.max_age_ms = d->tag_window_ms;
    }
    if (b->buttons && !json_object_is_type(b->buttons, json_type_null)) {
        if (!json_object_is_type(b->buttons, json_type_array) ||
            json_object_array_length(b->buttons) == 0)
            return refuse(ctx, "buttons must be a non-empty array of {\"id\",\"title\"}");
        size_t n = json_object_array_length(b->buttons);
        if (!d->max_buttons)
            return refuse(ctx, "buttons: channel %s (%s) has no buttons", ch->id, cname);
        if (n > d->max_buttons || n > MAX_BUTTONS)
            return refuse(ctx, "buttons: %s allows at most %u buttons on a message", cname,
                          d->max_buttons);
        if (!b->m.text || !*b->m.text)
            return refuse(ctx, "buttons need a text to go under");
        if (b->m.n_atts)
            return refuse(ctx, "buttons go with text, not with attachments");
        for (size_t i = 0; i < n; i++) {
            json_object *o = json_object_array_get_idx(b->buttons, i);
            const char *id = json_object_is_type(o, json_type_object) ? NULL : "";
            const char *title = NULL;
            if (!id) {
                json_object_object_foreach(o, key, val)
                {
                    (void)val;
                    if (strcmp(key, "id") && strcmp(key, "title"))
                        return refuse(ctx, "buttons[%zu]: unknown key \"%.64s\"", i, key);
                }
                json_object *v;
                if (json_object_object_get_ex(o, "id", &v) &&
                    json_object_is_type(v, json_type_string))
                    id = json_object_get_string(v);
                if (json_object_object_get_ex(o, "title", &v) &&
                    json_object_is_type(v, json_type_string))
                    title = json_object_get_string(v);
            }
            if (!id || !*id || !title || !*title)
                return refuse(ctx,
                              "buttons[%zu] must be {\"id\",\"title\"}, both non-empty strings", i);
            for (const unsigned char *c = (const unsigned char *)title; *c; c++)
                if (*c < 0x20 || *c == 0x7f)
                    return refuse(ctx,
                                  "buttons[%zu].title must be one line without control "
                                  "characters",
                                  i);
            if (chars(title) > d->button_title_max)
                return refuse(ctx, "buttons[%zu].title: %s allows at most %u characters", i, cname,
                              d->button_title_max);
            if (strlen(id) > d->button_id_max)
                return refuse(ctx, "buttons[%zu].id: %s allows at most %u bytes", i, cname,
                              d->button_id_max);
            for (size_t k = 0; k < i; k++)
                if (strcmp(b->btns[k].id, id) == 0)
                    return refuse(ctx, "buttons[%zu].id repeats buttons[%zu].id", i, k);
            b->btns[i].id = id;
            b->btns[i].title = title;
        }
        b->m.buttons = b->btns;
        b->m.n_buttons = n;
    }
    return 0;
}

/* 409 window_closed, saying what can still be sent on ch. */
static void window_closed(struct og_api_ctx *ctx, const struct og_channel *ch,
                          const struct og_outbox_msg *m)
{
    const struct og_connector *d = ch->plugin->desc;
    long long h = (long long)(d->messaging_window_ms / 3600000);
    char *msg;
    if (m->tag)
        msg = og_sprintf("the %s tag may be used up to %lld days after the customer's last "
                         "message; that time is over",
                         m->tag, (long long)(d->tag_window_ms / 86400000));
    else if (d->templates)
        msg = og_sprintf("the customer has not written in the last %lld hours: %s takes only a "
                         "template now; list them with GET /api/v1/channels/%s/templates and send "
                         "{\"template\":{\"name\",\"language\",\"components\"}}",
                         h, d->name, ch->id);
    else if (d->tag_window_ms)
        msg = og_sprintf("the customer has not written in the last %lld hours: reply with "
                         "\"tag\":\"HUMAN_AGENT\" (up to %lld days after the customer's last "
                         "message)",
                         h, (long long)(d->tag_window_ms / 86400000));
    else
        msg = og_sprintf("the customer has not written in the last %lld hours; this platform "
                         "refuses free-form messages now",
                         h);
    og_reply_code(ctx->r, "window_closed", msg);
    free(msg);
}

/* The configured channel named id, or NULL. */
static struct og_channel *channel_named(struct og_gateway *g, const char *id)
{
    for (size_t i = 0; id && i < g->n_channels; i++)
        if (strcmp(g->channels[i]->id, id) == 0)
            return g->channels[i];
    return NULL;
}

/* Every attachment URL under ch's fetch policy (none: the default policy).
 * 0, or -1 after answering 400. */
static int check_urls(struct og_api_ctx *ctx, const struct og_outbox_msg *m,
                      const struct og_channel *ch)
{
    struct og_fetch_policy p = {0};
    if (ch)
        p = og_channel_fetch_policy(ch);
    int64_t deadline = og_mono_ms() + URL_PROBE_MS;
    for (size_t i = 0; i < m->n_atts; i++) {
        char why[192];
        if (m->atts[i].upload_id) { /* ours: the platform's limits, no URL to probe */
            og_err e =
                ch ? og_media_limit_check(ch->plugin->desc->upload_limits, m->atts[i].mime_type,
                                          m->atts[i].size, why, sizeof why)
                   : OG_OK;
            if (e == OG_OK)
                continue;
            char *msg = og_sprintf("attachments[%zu].upload_id: %s", i, why);
            if (e == OG_ERR_TOO_LARGE)
                og_reply_err(ctx->r, e, msg);
            else
                og_reply_code(ctx->r, "unsupported_media_type", msg);
            free(msg);
            return -1;
        }
        int64_t left = deadline - og_mono_ms();
        og_err e = og_url_probe(m->atts[i].url, &p, left > 0 ? (long)left : 0, why, sizeof why);
        if (e == OG_OK)
            continue;
        char *msg =
            og_sprintf("attachments[%zu].url %s%s", i, e == OG_ERR_FORBIDDEN ? ": " : "", why);
        if (e == OG_ERR_FORBIDDEN)
            og_reply_code(ctx->r, "url_refused", msg);
        else
            og_reply_err(ctx->r, OG_ERR_INVALID, msg);
        free(msg);
        return -1;
    }
    return 0;
}

/* The channel of session sid (read as v sees it), or NULL. */
static struct og_channel *session_channel(struct og_api_ctx *ctx, const struct og_viewer *v,
                                          const char *sid, og_err *err)
{
    char *json = NULL;
    *err = og_session_get(ctx->g->core, v, sid, &json);
    if (*err != OG_OK)
        return NULL;
    json_object *j = json_tokener_parse(json), *c = NULL;
    free(json);
    struct og_channel *ch = NULL;
    if (json_object_object_get_ex(j, "channel", &c))
        ch = channel_named(ctx->g, json_object_get_string(c));
    json_object_put(j);
    return ch;
}

/* A reply checked under its session's channel (*ch; NULL when no longer
 * configured: the send queue then fails it): attachment URLs, template,
 * tag, buttons, and the window it needs. 0, or -1 after answering. */
static int reply_checked(struct og_api_ctx *ctx, const struct og_viewer *v, const char *sid,
                         struct body *b, struct og_channel **ch)
{
    og_err e;
    *ch = session_channel(ctx, v, sid, &e);
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such session" : NULL);
        return -1;
    }
    if (!*ch && (b->tpl || b->buttons || b->m.tag)) {
        og_reply_err(ctx->r, OG_ERR_CONFLICT, "the session's channel is no longer configured");
        return -1;
    }
    if (!*ch)
        return check_urls(ctx, &b->m, NULL);
    if (check_urls(ctx, &b->m, *ch) != 0 || check_extras(ctx, b, *ch) != 0)
        return -1;
    return 0;
}

static void reply(struct og_api_ctx *ctx)
{
    const char *sid = ctx->params[0];
    struct og_viewer v = og_principal_viewer(&ctx->who);
    /* Replying is acting on the session, like closing and transferring: an
     * agent replies in its own sessions (a queued one is taken first), a
     * manager or an admin in any (#14.19). */
    char why[160] = "";
    og_err e = og_id_valid(sid, "ses_")
                   ? og_session_check(ctx->g->core, &v, sid, OG_SESSION_ACT, why, sizeof why)
                   : OG_ERR_NOT_FOUND;
    if (e != OG_OK) {
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such session" : why[0] ? why : NULL);
        return;
    }
    struct body b = {.j = og_api_json_body(ctx)};
    if (!b.j)
        return;
    struct og_channel *ch = NULL;
    if (parse_msg(ctx, &b, NULL) == 0 && reply_checked(ctx, &v, sid, &b, &ch) == 0) {
        char *json = NULL, mid[48];
        e = og_outbox_reply(ctx->g->core, sid, &b.m, &json, mid, sizeof mid);
        if (e == OG_OK) {
            og_reply_json(ctx->r, 202, json);
        } else if (e == OG_ERR_FORBIDDEN) {
            blocked(ctx, json);
            free(json);
        } else if (e == OG_ERR_CONFLICT) {
            og_reply_code(ctx->r, "session_closed", "the session is closed");
        } else if (e == OG_ERR_WINDOW_CLOSED && ch) {
            window_closed(ctx, ch, &b.m);
        } else {
            og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such session" : NULL);
        }
    }
    body_free(&b);
}

static void start_session(struct og_api_ctx *ctx)
{
    static const char *const extra[] = {"channel", "contact_id", "external_id", NULL};
    struct body b = {.j = og_api_json_body(ctx)};
    if (!b.j)
        return;
    const char *chid = NULL, *cid = NULL, *ext = NULL;
    if (opt_str(ctx, b.j, "channel", &chid, "") != 0 ||
        opt_str(ctx, b.j, "contact_id", &cid, "") != 0 ||
        opt_str(ctx, b.j, "external_id", &ext, "") != 0 || parse_msg(ctx, &b, extra) != 0)
        goto out;
    struct og_channel *ch = NULL;
    for (size_t i = 0; chid && i < ctx->g->n_channels; i++)
        if (strcmp(ctx->g->channels[i]->id, chid) == 0)
            ch = ctx->g->channels[i];
    if (!ch) {
        og_reply_err(ctx->r, OG_ERR_INVALID, "channel must name a configured channel");
        goto out;
    }
    if ((cid && *cid) == (ext && *ext)) {
        og_reply_err(ctx->r, OG_ERR_INVALID,
                     "exactly one of contact_id and external_id is required");
        goto out;
    }
    if (cid && *cid && !og_id_valid(cid, "con_")) {
        og_reply_err(ctx->r, OG_ERR_NOT_FOUND, "no such contact on this channel");
        goto out;
    }
    const char *connector = ch->plugin->desc->name;
    if (!(ch->plugin->desc->caps & OG_CAP_START_OUTBOUND)) {
        og_reply_err(ctx->r, OG_ERR_UNSUPPORTED,
                     "conversations on this channel are started by the customer");
        goto out;
    }
    if (check_urls(ctx, &b.m, ch) != 0 || check_extras(ctx, &b, ch) != 0)
        goto out;
    struct og_outbox_start s = {ch->id,
                                connector,
                                ch->routing,
                                cid,
                                ext,
                                ctx->who.agent_id,
                                b.m.max_age_ms,
                                (ch->plugin->desc->caps & OG_CAP_NON_REALTIME) != 0};
    char *json = NULL, sid[48];
    int created = 0, window = 0;
    og_err e =
        og_outbox_start_session(ctx->g->core, &s, &b.m, &json, sid, sizeof sid, &created, &window);
    if (e == OG_OK) {
        og_reply_json(ctx->r, 201, json);
    } else if (e == OG_ERR_FORBIDDEN) {
        blocked(ctx, json);
        free(json);
    } else if (e == OG_ERR_CONFLICT && window) {
        window_closed(ctx, ch, &b.m);
    } else if (e == OG_ERR_CONFLICT) {
        char *msg = og_sprintf("the contact has an open session %s; reply to it", sid);
        og_reply_code(ctx->r, "session_open", msg);
        free(msg);
    } else {
        og_reply_err(ctx->r, e, e == OG_ERR_NOT_FOUND ? "no such contact on this channel" : NULL);
    }
out:
    body_free(&b);
}

const struct og_route og_api_message_routes[] = {
    {"POST", "/sessions/:id/messages", OG_ROLE_AGENT, reply},
    {"POST", "/sessions", OG_ROLE_AGENT, start_session},
    {NULL, NULL, 0, NULL},
};
