/* whatsapp_send.c - og_outbound -> POST /<ver>/<PHONE_NUMBER_ID>/messages.
 *
 * Body (WhatsApp Business Cloud API, Graph v25.0):
 *   {"messaging_product":"whatsapp","recipient_type":"individual","to":<wa_id>,
 *    "type":"text","text":{"preview_url":false,"body":...},
 *    "context":{"message_id":<quoted wamid>}}
 * image / video / document / audio by URL ("link") or by uploaded media id
 * ("id"), with "caption" (not for audio) and "filename" (document); an
 * agent's upload is sent to POST /<ver>/<PHONE_NUMBER_ID>/media first and
 * then by its id.
 * Success: 200 {"messages":[{"id":"wamid..."}]} -> provider id.
 *
 * Reply buttons (ABI 1.3 og_outbound.buttons) make an interactive message:
 *   "type":"interactive","interactive":{"type":"button","body":{"text"},
 *   "action":{"buttons":[{"type":"reply","reply":{"id","title"}}]}}
 * up to 3 of them; 4 to 10 become a list opened by the list_button label:
 *   "interactive":{"type":"list","body":{"text"},"action":{"button":label,
 *   "sections":[{"rows":[{"id","title"}]}]}}
 * A template (og_outbound.template_json, checked by the host against
 * whatsapp_templates' list) is "type":"template","template":{"name",
 * "language":{"code"},"components"}; text is then only the history's copy.
 *
 * Free-form messages are allowed only inside the 24-hour customer-service
 * window: when the customer never wrote (last_inbound_age_ms -1) or wrote
 * more than 24 h ago we fail with OG_ERR_WINDOW_CLOSED without calling the
 * platform. A template goes any time. Graph errors are mapped by og_graph (graph.h). The
 * Cloud API has no idempotency key: a retry after a timeout may deliver a
 * message twice. */
#include "graph.h"
#include "whatsapp.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* A field of og_outbound the host's build has (appended ones, 1.3). */
#define OB_HAS(m, f) ((m)->struct_size >= offsetof(struct og_outbound, f) + sizeof(m)->f)

static og_err refuse(struct og_send_result *res, og_err e, const char *why)
{
    snprintf(res->error_code, sizeof res->error_code, "%s",
             e == OG_ERR_UNSUPPORTED ? "unsupported" : "invalid");
    snprintf(res->error_message, sizeof res->error_message, "%s", why);
    res->retry_after_ms = -1;
    return e;
}

/* An agent's upload (svc->upload_get, ABI 1.3) goes to the Cloud API's media
 * upload, POST /<ver>/<PHONE_NUMBER_ID>/media (multipart: messaging_product,
 * type, file) -> {"id"}, and the message names that id: WhatsApp never has
 * to reach our public URL. *media_id [xfer]. OG_ERR_NOT_FOUND when url is
 * no upload (send it by link). */
static og_err upload_media(struct whatsapp *wa, const char *url, char **media_id,
                           struct og_send_result *res)
{
    const struct og_services *svc = wa->svc;
    *media_id = NULL;
    if (svc->struct_size < offsetof(struct og_services, upload_get) + sizeof svc->upload_get ||
        !svc->upload_get || !url)
        return OG_ERR_NOT_FOUND;
    char *data = NULL, *mime = NULL, *name = NULL;
    size_t len = 0;
    if (svc->upload_get(wa->host, url, &data, &len, &mime, &name) != OG_OK)
        return OG_ERR_NOT_FOUND;
    char *endpoint = og_graph_url(svc, wa->conf->api_base, wa->conf->api_version,
                                  wa->conf->phone_number_id, "media");
    char *auth = og_graph_sprintf(svc, "Authorization: Bearer %s", wa->conf->access_token);
    const char *headers[] = {auth, NULL};
    struct og_http_part parts[] = {
        {.name = "messaging_product", .data = "whatsapp", .len = 8},
        {.name = "type", .data = mime, .len = strlen(mime)},
        {.name = "file", .filename = name, .content_type = mime, .data = data, .len = len},
    };
    struct og_http_call call = {.struct_size = sizeof call,
                                .method = "POST",
                                .url = endpoint,
                                .headers = headers,
                                .parts = parts,
                                .n_parts = 3,
                                .timeout_ms = 120000};
    struct og_http_result r;
    memset(&r, 0, sizeof r);
    og_err e = svc->http(wa->host, &call, &r);
    memset(auth, 0, strlen(auth));
    svc->free(auth), svc->free(endpoint), svc->free(data), svc->free(mime), svc->free(name);
    return og_graph_upload_id(svc, e, &r, "media upload", "id", media_id, res);
}

/* The provider id of a 2xx answer, or OG_ERR_PERMANENT (never retried, so
 * never sent twice). Puts reply. */
static og_err take_id(const struct og_services *svc, struct og_json *reply,
                      struct og_send_result *res)
{
    const struct og_json_api *js = svc->json;
    struct og_json *idj = js->find(reply, "messages.0.id");
    const char *id = idj ? js->str(idj) : NULL;
    if (!id || !id[0]) {
        js->put(reply);
        snprintf(res->error_code, sizeof res->error_code, "bad_answer");
        snprintf(res->error_message, sizeof res->error_message,
                 "the Graph API answered 2xx without messages[0].id");
        return OG_ERR_PERMANENT;
    }
    res->provider_message_id = svc->strdup(id);
    js->put(reply);
    return OG_OK;
}

static og_err send_template(struct whatsapp *wa, const struct og_outbound *msg, const char *to,
                            const char *tpl, struct og_send_result *res)
{
    const struct og_services *svc = wa->svc;
    const struct og_json_api *js = svc->json;
    struct og_json *t = js->parse(tpl, strlen(tpl));
    if (js->type(t) != OG_JSON_OBJECT || !og_graph_json_str(js, t, "name")) {
        js->put(t);
        return refuse(res, OG_ERR_INVALID, "template_json is not a template object");
    }
    struct og_json *b = js->new_object();
    js->set(b, "messaging_product", js->new_string("whatsapp"));
    js->set(b, "recipient_type", js->new_string("individual"));
    js->set(b, "to", js->new_string(to));
    js->set(b, "type", js->new_string("template"));
    js->set(b, "template", t);
    (void)msg;
    struct og_json *reply = NULL;
    og_err e =
        og_graph_post(svc, wa->host, wa->messages_url, wa->conf->access_token, b, &reply, res);
    js->put(b);
    return e == OG_OK ? take_id(svc, reply, res) : e;
}

/* Every page of GET /<waba_id>/message_templates?status=APPROVED, as the
 * ABI's list: [{"name","language","category","status","parameter_format",
 * "components"}]. Pages follow paging.cursors.after while paging.next is
 * set (at most MAX_PAGES of them), against api_base, never the next URL
 * itself: the token goes only where the configuration says. */
#define MAX_PAGES 50
og_err whatsapp_templates(void *inst, char **json, char *errbuf, size_t errlen)
{
    struct whatsapp *wa = inst;
    const struct og_services *svc = wa->svc;
    const struct og_json_api *js = svc->json;
    *json = NULL;
    if (!wa->templates_url) {
        snprintf(errbuf, errlen, "the channel's waba_id option is not set");
        return OG_ERR_UNSUPPORTED;
    }
    struct og_json *out = js->new_array();
    char *after = NULL;
    og_err e = OG_OK;
    for (int page = 0; page < MAX_PAGES; page++) {
        char *esc = after ? svc->url_escape(after) : NULL;
        char *url =
            og_graph_sprintf(svc,
                             "%s?fields=name,language,status,category,parameter_format,components"
                             "&status=APPROVED&limit=100%s%s",
                             wa->templates_url, esc ? "&after=" : "", esc ? esc : "");
        svc->free(esc);
        struct og_send_result res;
        memset(&res, 0, sizeof res);
        struct og_json *reply = NULL;
        e = og_graph_get(svc, wa->host, url, wa->conf->access_token, &reply, &res);
        svc->free(url);
        if (e != OG_OK) {
            snprintf(errbuf, errlen, "Graph API: %s%s%s", res.error_message,
                     res.error_code[0] ? " (code " : "", res.error_code[0] ? res.error_code : "");
            if (res.error_code[0] && strlen(errbuf) + 2 < errlen)
                strcat(errbuf, ")");
            break;
        }
        struct og_json *data = js->get(reply, "data");
        for (size_t i = 0; js->type(data) == OG_JSON_ARRAY && i < js->len(data); i++) {
            struct og_json *t = js->at(data, i);
            const char *name = og_graph_json_str(js, t, "name");
            const char *lang = og_graph_json_str(js, t, "language");
            const char *status = og_graph_json_str(js, t, "status");
            if (!name || !lang || (status && strcmp(status, "APPROVED") != 0))
                continue;
            const char *cat = og_graph_json_str(js, t, "category");
            const char *pf = og_graph_json_str(js, t, "parameter_format");
            struct og_json *o = js->new_object();
            js->set(o, "name", js->new_string(name));
            js->set(o, "language", js->new_string(lang));
            if (cat)
                js->set(o, "category", js->new_string(cat));
            js->set(o, "status", js->new_string("APPROVED"));
            js->set(o, "parameter_format", js->new_string(pf ? pf : "POSITIONAL"));
            struct og_json *comps = js->get(t, "components");
            size_t cl = 0;
            const char *ctext = comps ? js->serialize(comps, &cl) : NULL;
            struct og_json *copy = ctext ? js->parse(ctext, cl) : NULL;
            js->set(o, "components", copy ? copy : js->new_array());
            js->append(out, o);
        }
        const char *next = og_graph_json_str(js, js->get(reply, "paging"), "next");
        const char *aft = og_graph_json_str(js, js->find(reply, "paging.cursors"), "after");
        svc->free(after);
        after = next && aft && aft[0] ? svc->strdup(aft) : NULL;
        js->put(reply);
        if (!after)
            break;
    }
    svc->free(after);
    if (e == OG_OK) {
        size_t len = 0;
        *json = svc->strdup(js->serialize(out, &len));
    }
    js->put(out);
    return e;
}

og_err whatsapp_send(void *inst, const struct og_outbound *msg, struct og_send_result *res)
{
    struct whatsapp *wa = inst;
    const struct og_services *svc = wa->svc;
    const struct og_json_api *js = svc->json;
    res->retry_after_ms = -1;
    if (!msg || msg->struct_size < offsetof(struct og_outbound, last_inbound_age_ms) +
                                       sizeof msg->last_inbound_age_ms)
        return refuse(res, OG_ERR_INVALID, "outbound message too old for this connector");
    const char *to = msg->thread_id ? msg->thread_id : msg->contact_external_id;
    if (!to || !to[0])
        return refuse(res, OG_ERR_INVALID, "no recipient (thread_id)");

    const char *tpl = OB_HAS(msg, template_json) ? msg->template_json : NULL;
    size_t nb = OB_HAS(msg, n_buttons) && msg->buttons ? msg->n_buttons : 0;
    if (tpl)
        return send_template(wa, msg, to, tpl, res);
    if (nb > WA_MAX_BUTTONS)
        return refuse(res, OG_ERR_INVALID, "WhatsApp takes at most 10 list rows");
    const char *type;
    switch (msg->kind) {
    case OG_KIND_TEXT: type = "text"; break;
    case OG_KIND_IMAGE: type = "image"; break;
    case OG_KIND_VIDEO: type = "video"; break;
    case OG_KIND_AUDIO: type = "audio"; break;
    case OG_KIND_FILE: type = "document"; break;
    default:
        return refuse(res, OG_ERR_UNSUPPORTED,
                      "WhatsApp sends text, image, video, audio and document only");
    }
    const struct og_attachment *att = msg->n_attachments ? &msg->attachments[0] : NULL;
    if (msg->kind == OG_KIND_TEXT && (!msg->text || !msg->text[0]))
        return refuse(res, OG_ERR_INVALID, "empty text");
    if (msg->kind != OG_KIND_TEXT && (!att || (!att->url && !att->media_id)))
        return refuse(res, OG_ERR_INVALID, "a media message needs an attachment url or media_id");

    og_err e = og_graph_window_check(msg, res);
    if (e != OG_OK)
        return e;

    char *uploaded = NULL;
    if (msg->kind != OG_KIND_TEXT && att->url) {
        e = upload_media(wa, att->url, &uploaded, res);
        if (e != OG_OK && e != OG_ERR_NOT_FOUND)
            return e;
    }

    struct og_json *b = js->new_object();
    js->set(b, "messaging_product", js->new_string("whatsapp"));
    js->set(b, "recipient_type", js->new_string("individual"));
    js->set(b, "to", js->new_string(to));
    js->set(b, "type", js->new_string(type));
    struct og_json *part = js->new_object();
    if (msg->kind == OG_KIND_TEXT && nb) {
        type = "interactive";
        js->set(b, "type", js->new_string(type));
        int list = nb > WA_REPLY_BUTTONS;
        js->set(part, "type", js->new_string(list ? "list" : "button"));
        struct og_json *bd = js->new_object();
        js->set(bd, "text", js->new_string(msg->text));
        js->set(part, "body", bd);
        struct og_json *arr = js->new_array();
        for (size_t i = 0; i < nb; i++) {
            struct og_json *bt = js->new_object();
            if (list) {
                js->set(bt, "id", js->new_string(msg->buttons[i].id));
                js->set(bt, "title", js->new_string(msg->buttons[i].title));
            } else {
                struct og_json *rp = js->new_object();
                js->set(bt, "type", js->new_string("reply"));
                js->set(rp, "id", js->new_string(msg->buttons[i].id));
                js->set(rp, "title", js->new_string(msg->buttons[i].title));
                js->set(bt, "reply", rp);
            }
            js->append(arr, bt);
        }
        struct og_json *action = js->new_object();
        if (list) {
            struct og_json *sec = js->new_object(), *secs = js->new_array();
            js->set(sec, "rows", arr);
            js->append(secs, sec);
            js->set(action, "button", js->new_string(wa->conf->list_button));
            js->set(action, "sections", secs);
        } else {
            js->set(action, "buttons", arr);
        }
        js->set(part, "action", action);
    } else if (msg->kind == OG_KIND_TEXT) {
        js->set(part, "preview_url", js->new_bool(0));
        js->set(part, "body", js->new_string(msg->text));
    } else {
        if (uploaded)
            js->set(part, "id", js->new_string(uploaded));
        else if (att->url)
            js->set(part, "link", js->new_string(att->url));
        else
            js->set(part, "id", js->new_string(att->media_id));
        if (msg->text && msg->text[0] && msg->kind != OG_KIND_AUDIO)
            js->set(part, "caption", js->new_string(msg->text));
        if (msg->kind == OG_KIND_FILE && att->name && att->name[0])
            js->set(part, "filename", js->new_string(att->name));
    }
    js->set(b, type, part);
    svc->free(uploaded);
    if (msg->reply_to_provider_id && msg->reply_to_provider_id[0]) {
        struct og_json *ctx = js->new_object();
        js->set(ctx, "message_id", js->new_string(msg->reply_to_provider_id));
        js->set(b, "context", ctx);
    }

    struct og_json *reply = NULL;
    e = og_graph_post(svc, wa->host, wa->messages_url, wa->conf->access_token, b, &reply, res);
    js->put(b);
    return e == OG_OK ? take_id(svc, reply, res) : e;
}
