/* facebook_send.c - og_outbound -> Messenger Send API,
 * POST /<ver>/<PAGE_ID>/messages with the Page access token as
 * "Authorization: Bearer" (Graph accepts it; unlike the access_token query
 * parameter it never appears in a URL, so never in a log line).
 *
 * Bodies (Graph v25.0), always messaging_type RESPONSE:
 *   {"recipient":{"id":<PSID>},"messaging_type":"RESPONSE","message":{"text":..}}
 *   {"recipient":..,"messaging_type":"RESPONSE","message":{"attachment":
 *     {"type":"image"|"video"|"audio"|"file","payload":{"url":..,"is_reusable":true}}}}
 * (payload {"attachment_id":..} for media uploaded beforehand). Success:
 * {"recipient_id":..,"message_id":"m_..."} -> provider id.
 *
 * Messenger attachments carry no caption: a media message with text is sent
 * as the attachment, then the text as a second message. The provider id is
 * the attachment's; if the text alone fails it is logged and the send still
 * succeeds (a retry would deliver the attachment twice). Quoting
 * (reply_to_provider_id) is not sent: the Send API has no reply field.
 *
 * RESPONSE messages are allowed only inside the 24-hour window: when the
 * customer never wrote or wrote more than 24 h ago we fail with
 * OG_ERR_WINDOW_CLOSED without calling the platform. A reply tagged
 * HUMAN_AGENT (ABI 1.3 og_outbound.tag) goes as "messaging_type":
 * "MESSAGE_TAG","tag":"HUMAN_AGENT" up to 7 days after the customer's last
 * message (FB_TAG_WINDOW_MS); no other tag is sent: the others Meta keeps
 * (CONFIRMED_EVENT_UPDATE, POST_PURCHASE_UPDATE, ACCOUNT_UPDATE) are for a
 * business's automated updates, not an agent's reply.
 *
 * Reply buttons (og_outbound.buttons) are quick replies under the text:
 * "quick_replies":[{"content_type":"text","title","payload"}] (at most 13,
 * title 20 characters, payload 1000). A tap comes back as a message with
 * quick_reply.payload (facebook_parse.c). */
#include "facebook.h"
#include "graph.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define OB_HAS(m, f) ((m)->struct_size >= offsetof(struct og_outbound, f) + sizeof(m)->f)

static og_err refuse(struct og_send_result *res, og_err e, const char *why)
{
    snprintf(res->error_code, sizeof res->error_code, "%s",
             e == OG_ERR_UNSUPPORTED ? "unsupported" : "invalid");
    snprintf(res->error_message, sizeof res->error_message, "%s", why);
    res->retry_after_ms = -1;
    return e;
}

/* A request body with recipient and messaging_type (RESPONSE, or
 * MESSAGE_TAG with tag); message is [xfer]. */
static struct og_json *envelope(const struct og_json_api *js, const char *psid, const char *tag,
                                struct og_json *message)
{
    struct og_json *b = js->new_object();
    struct og_json *rcp = js->new_object();
    js->set(rcp, "id", js->new_string(psid));
    js->set(b, "recipient", rcp);
    js->set(b, "messaging_type", js->new_string(tag ? "MESSAGE_TAG" : "RESPONSE"));
    if (tag)
        js->set(b, "tag", js->new_string(tag));
    js->set(b, "message", message);
    return b;
}

/* One Send API call; on success *id [xfer] is message_id. */
static og_err post(struct facebook *fb, struct og_json *body, char **id, struct og_send_result *res)
{
    const struct og_services *svc = fb->svc;
    const struct og_json_api *js = svc->json;
    struct og_json *reply = NULL;
    og_err e = og_graph_post(svc, fb->host, fb->messages_url, fb->conf->page_access_token, body,
                             &reply, res);
    js->put(body);
    if (e != OG_OK)
        return e;
    const char *mid = og_graph_json_str(js, reply, "message_id");
    if (!mid || !mid[0]) {
        js->put(reply);
        snprintf(res->error_code, sizeof res->error_code, "bad_answer");
        snprintf(res->error_message, sizeof res->error_message,
                 "the Send API answered 2xx without message_id");
        return OG_ERR_PERMANENT; /* accepted: never retried, never sent twice */
    }
    *id = svc->strdup(mid);
    js->put(reply);
    return OG_OK;
}

/* An agent's upload (svc->upload_get, ABI 1.3) goes through the Attachment
 * Upload API: POST /<ver>/<PAGE_ID>/message_attachments, multipart with
 * message={"attachment":{"type":..,"payload":{"is_reusable":true}}} and
 * filedata, -> {"attachment_id"}; the message then names that id, so
 * Messenger never has to reach our public URL. *id [xfer]. OG_ERR_NOT_FOUND
 * when url is no upload (send it by URL). */
static og_err upload_attachment(struct facebook *fb, const char *type, const char *url, char **id,
                                struct og_send_result *res)
{
    const struct og_services *svc = fb->svc;
    *id = NULL;
    if (svc->struct_size < offsetof(struct og_services, upload_get) + sizeof svc->upload_get ||
        !svc->upload_get || !url)
        return OG_ERR_NOT_FOUND;
    char *data = NULL, *mime = NULL, *name = NULL;
    size_t len = 0;
    if (svc->upload_get(fb->host, url, &data, &len, &mime, &name) != OG_OK)
        return OG_ERR_NOT_FOUND;
    char *endpoint = og_graph_url(svc, fb->conf->api_base, fb->conf->api_version, fb->conf->page_id,
                                  "message_attachments");
    char *auth = og_graph_sprintf(svc, "Authorization: Bearer %s", fb->conf->page_access_token);
    char *message = og_graph_sprintf(
        svc, "{\"attachment\":{\"type\":\"%s\",\"payload\":{\"is_reusable\":true}}}", type);
    const char *headers[] = {auth, NULL};
    struct og_http_part parts[] = {
        {.name = "message", .data = message, .len = strlen(message)},
        {.name = "filedata", .filename = name, .content_type = mime, .data = data, .len = len},
    };
    struct og_http_call call = {.struct_size = sizeof call,
                                .method = "POST",
                                .url = endpoint,
                                .headers = headers,
                                .parts = parts,
                                .n_parts = 2,
                                .timeout_ms = 120000};
    struct og_http_result r;
    memset(&r, 0, sizeof r);
    og_err e = svc->http(fb->host, &call, &r);
    memset(auth, 0, strlen(auth));
    svc->free(auth), svc->free(endpoint), svc->free(message);
    svc->free(data), svc->free(mime), svc->free(name);
    return og_graph_upload_id(svc, e, &r, "attachment upload", "attachment_id", id, res);
}

og_err facebook_send(void *inst, const struct og_outbound *msg, struct og_send_result *res)
{
    struct facebook *fb = inst;
    const struct og_services *svc = fb->svc;
    const struct og_json_api *js = svc->json;
    res->retry_after_ms = -1;
    if (!msg || msg->struct_size < offsetof(struct og_outbound, last_inbound_age_ms) +
                                       sizeof msg->last_inbound_age_ms)
        return refuse(res, OG_ERR_INVALID, "outbound message too old for this connector");
    const char *psid = msg->thread_id ? msg->thread_id : msg->contact_external_id;
    if (!psid || !psid[0])
        return refuse(res, OG_ERR_INVALID, "no recipient (thread_id)");
    const char *type;
    switch (msg->kind) {
    case OG_KIND_TEXT: type = NULL; break;
    case OG_KIND_IMAGE: type = "image"; break;
    case OG_KIND_VIDEO: type = "video"; break;
    case OG_KIND_AUDIO: type = "audio"; break;
    case OG_KIND_FILE: type = "file"; break;
    default:
        return refuse(res, OG_ERR_UNSUPPORTED,
                      "Messenger sends text, image, video, audio and file only");
    }
    const struct og_attachment *att = msg->n_attachments ? &msg->attachments[0] : NULL;
    int has_text = msg->text && msg->text[0];
    if (!type && !has_text)
        return refuse(res, OG_ERR_INVALID, "empty text");
    if (type && (!att || (!att->url && !att->media_id)))
        return refuse(res, OG_ERR_INVALID, "a media message needs an attachment url or media_id");

    const char *tag = OB_HAS(msg, tag) ? msg->tag : NULL;
    size_t nb = OB_HAS(msg, n_buttons) && msg->buttons ? msg->n_buttons : 0;
    if (tag && strcmp(tag, "HUMAN_AGENT") != 0)
        return refuse(res, OG_ERR_INVALID, "the only tag sent is HUMAN_AGENT");
    if (nb > FB_MAX_BUTTONS)
        return refuse(res, OG_ERR_INVALID, "Messenger takes at most 13 quick replies");
    og_err e = OG_OK;
    if (!tag) {
        e = og_graph_window_check(msg, res);
    } else if (msg->last_inbound_age_ms < 0 || msg->last_inbound_age_ms > FB_TAG_WINDOW_MS) {
        snprintf(res->error_code, sizeof res->error_code, "window_closed");
        snprintf(res->error_message, sizeof res->error_message,
                 "more than 7 days since the customer last wrote: HUMAN_AGENT no longer applies");
        e = OG_ERR_WINDOW_CLOSED;
    }
    if (e != OG_OK)
        return e;

    struct og_json *m = js->new_object();
    if (!type) {
        js->set(m, "text", js->new_string(msg->text));
        if (nb) {
            struct og_json *qr = js->new_array();
            for (size_t i = 0; i < nb; i++) {
                struct og_json *q = js->new_object();
                js->set(q, "content_type", js->new_string("text"));
                js->set(q, "title", js->new_string(msg->buttons[i].title));
                js->set(q, "payload", js->new_string(msg->buttons[i].id));
                js->append(qr, q);
            }
            js->set(m, "quick_replies", qr);
        }
        return post(fb, envelope(js, psid, tag, m), &res->provider_message_id, res);
    }
    char *uploaded = NULL;
    if (att->url) {
        e = upload_attachment(fb, type, att->url, &uploaded, res);
        if (e != OG_OK && e != OG_ERR_NOT_FOUND) {
            js->put(m);
            return e;
        }
    }
    struct og_json *a = js->new_object();
    struct og_json *pl = js->new_object();
    js->set(a, "type", js->new_string(type));
    if (uploaded) {
        js->set(pl, "attachment_id", js->new_string(uploaded));
        svc->free(uploaded);
    } else if (att->url) {
        js->set(pl, "url", js->new_string(att->url));
        js->set(pl, "is_reusable", js->new_bool(1));
    } else {
        js->set(pl, "attachment_id", js->new_string(att->media_id));
    }
    js->set(a, "payload", pl);
    js->set(m, "attachment", a);
    e = post(fb, envelope(js, psid, tag, m), &res->provider_message_id, res);
    if (e != OG_OK || !has_text)
        return e;

    struct og_send_result tres;
    memset(&tres, 0, sizeof tres);
    char *tid = NULL;
    struct og_json *t = js->new_object();
    js->set(t, "text", js->new_string(msg->text));
    og_err te = post(fb, envelope(js, psid, tag, t), &tid, &tres);
    if (te != OG_OK)
        svc->log(fb->host, OG_LOG_WARN,
                 "facebook: attachment sent as %s but its text failed (%s %s): %s",
                 res->provider_message_id, svc->strerror(te), tres.error_code, tres.error_message);
    svc->free(tid);
    return OG_OK;
}
