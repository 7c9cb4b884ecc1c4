/* og_attachments - see og_attachments.h. */
#include "og_attachments.h"
#include "og_compact.h"
#include "og_core_int.h"
#include "og_util.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_str(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return og_strdup(json_object_get_string(v));
}

static void copy_el(redisReply *r, size_t i, char *out, size_t outsz)
{
    out[0] = 0;
    if (r->type == REDIS_REPLY_ARRAY && i < r->elements &&
        r->element[i]->type == REDIS_REPLY_STRING)
        snprintf(out, outsz, "%.*s", (int)r->element[i]->len, r->element[i]->str);
}

og_err og_message_attachment(struct og_core *c, const struct og_viewer *v, const char *mid,
                             size_t n, struct og_msg_attachment *out)
{
    memset(out, 0, sizeof *out);
    if (!og_id_valid(mid, "msg_"))
        return OG_ERR_NOT_FOUND;
    redisReply *r = NULL;
    og_err e = og_redis_cmd(c->redis, &r, "HMGET " OG_KEY_MSG " j sid m", c->tag, mid);
    if (e != OG_OK)
        return e;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        (r->element[0]->type != REDIS_REPLY_STRING && r->element[2]->type != REDIS_REPLY_STRING)) {
        freeReplyObject(r);
        return OG_ERR_NOT_FOUND;
    }
    /* the stored JSON lacks its status and closing brace (prelude.lua's
     * message_json adds them): closed here, the rest is not needed */
    char *text = r->element[0]->type == REDIS_REPLY_STRING
                     ? og_sprintf("%s}", r->element[0]->str)
                     : og_compact_json(r->element[2]->str, r->element[2]->len);
    json_object *j = text ? json_tokener_parse(text) : NULL;
    free(text);
    copy_el(r, 1, out->session_id, sizeof out->session_id);
    freeReplyObject(r);
    /* the raw payload, while store_raw keeps it (an e-mail's parts) */
    if (og_redis_cmd(c->redis, &r, "GET " OG_KEY_RAW, c->tag, mid) == OG_OK) {
        if (r->type == REDIS_REPLY_STRING) {
            out->raw_len = r->len;
            out->raw = og_malloc(out->raw_len + 1);
            memcpy(out->raw, r->str, out->raw_len);
            out->raw[out->raw_len] = 0;
        }
        freeReplyObject(r);
    }
    json_object *atts = NULL, *a = NULL;
    if (!j || !json_object_object_get_ex(j, "attachments", &atts) ||
        !json_object_is_type(atts, json_type_array) || n >= json_object_array_length(atts) ||
        !out->session_id[0]) {
        json_object_put(j);
        og_msg_attachment_free(out);
        return OG_ERR_NOT_FOUND;
    }
    a = json_object_array_get_idx(atts, n);
    if (v) {
        e = og_session_check(c, v, out->session_id, OG_SESSION_SEE, NULL, 0);
        if (e != OG_OK) {
            json_object_put(j);
            og_msg_attachment_free(out);
            return e;
        }
    }
    e = og_redis_cmd(c->redis, &r, "HMGET " OG_KEY_SES " channel thread_id", c->tag,
                     out->session_id);
    if (e != OG_OK) {
        json_object_put(j);
        og_msg_attachment_free(out);
        return e;
    }
    copy_el(r, 0, out->channel, sizeof out->channel);
    char thread[256];
    copy_el(r, 1, thread, sizeof thread);
    freeReplyObject(r);
    out->thread_id = thread[0] ? og_strdup(thread) : NULL;
    char *dir = dup_str(j, "direction");
    snprintf(out->direction, sizeof out->direction, "%s", dir ? dir : "in");
    free(dir);
    out->provider_message_id = dup_str(j, "provider_message_id");
    /* source_url: what the connector gave (url was made the omnigate link) */
    out->source_url = dup_str(a, "source_url");
    if (!out->source_url && strcmp(out->direction, "out") == 0)
        out->source_url = dup_str(a, "url");
    out->media_id = dup_str(a, "media_id");
    out->mime_type = dup_str(a, "mime_type");
    out->name = dup_str(a, "name");
    out->upload_id = dup_str(a, "upload_id");
    json_object *sz = NULL;
    if (json_object_object_get_ex(a, "size", &sz))
        out->size = json_object_get_int64(sz);
    json_object_put(j);
    if (!out->channel[0]) {
        og_msg_attachment_free(out);
        return OG_ERR_NOT_FOUND;
    }
    return OG_OK;
}

void og_msg_attachment_free(struct og_msg_attachment *a)
{
    free(a->thread_id);
    free(a->provider_message_id);
    free(a->source_url);
    free(a->media_id);
    free(a->mime_type);
    free(a->name);
    free(a->upload_id);
    free(a->raw);
    memset(a, 0, sizeof *a);
}
