/* whatsapp_send.c - og_outbound -> POST /<ver>/<PHONE_NUMBER_ID>/messages.
 *
 * Body (WhatsApp Business Cloud API, Graph v25.0):
 *   {"messaging_product":"whatsapp","recipient_type":"individual","to":<wa_id>,
 *    "type":"text","text":{"preview_url":false,"body":...},
 *    "context":{"message_id":<quoted wamid>}}
 * image / video / document / audio by URL ("link") or by uploaded media id
 * ("id"), with "caption" (not for audio) and "filename" (document).
 * Success: 200 {"messages":[{"id":"wamid..."}]} -> provider id.
 *
 * Free-form messages are allowed only inside the 24-hour customer-service
 * window: when the customer never wrote (last_inbound_age_ms -1) or wrote
 * more than 24 h ago we fail with OG_ERR_WINDOW_CLOSED without calling the
 * platform. Template messages (the only way to write outside the window)
 * are not implemented. Graph errors are mapped by og_graph (graph.h). The
 * Cloud API has no idempotency key: a retry after a timeout may deliver a
 * message twice. */
#include "graph.h"
#include "whatsapp.h"

#include <stdio.h>
#include <string.h>

static og_err refuse(struct og_send_result *res, og_err e, const char *why)
{
    snprintf(res->error_code, sizeof res->error_code, "%s",
             e == OG_ERR_UNSUPPORTED ? "unsupported" : "invalid");
    snprintf(res->error_message, sizeof res->error_message, "%s", why);
    res->retry_after_ms = -1;
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

    struct og_json *b = js->new_object();
    js->set(b, "messaging_product", js->new_string("whatsapp"));
    js->set(b, "recipient_type", js->new_string("individual"));
    js->set(b, "to", js->new_string(to));
    js->set(b, "type", js->new_string(type));
    struct og_json *part = js->new_object();
    if (msg->kind == OG_KIND_TEXT) {
        js->set(part, "preview_url", js->new_bool(0));
        js->set(part, "body", js->new_string(msg->text));
    } else {
        if (att->url)
            js->set(part, "link", js->new_string(att->url));
        else
            js->set(part, "id", js->new_string(att->media_id));
        if (msg->text && msg->text[0] && msg->kind != OG_KIND_AUDIO)
            js->set(part, "caption", js->new_string(msg->text));
        if (msg->kind == OG_KIND_FILE && att->name && att->name[0])
            js->set(part, "filename", js->new_string(att->name));
    }
    js->set(b, type, part);
    if (msg->reply_to_provider_id && msg->reply_to_provider_id[0]) {
        struct og_json *ctx = js->new_object();
        js->set(ctx, "message_id", js->new_string(msg->reply_to_provider_id));
        js->set(b, "context", ctx);
    }

    struct og_json *reply = NULL;
    e = og_graph_post(svc, wa->host, wa->messages_url, wa->conf->access_token, b, &reply, res);
    js->put(b);
    if (e != OG_OK)
        return e;
    struct og_json *idj = js->find(reply, "messages.0.id");
    const char *id = idj ? js->str(idj) : NULL;
    if (!id || !id[0]) {
        /* Accepted but unidentifiable: never retried, so never sent twice. */
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
