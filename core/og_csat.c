/* og_csat - see og_csat.h. */
#include "og_csat.h"
#include "og_core_int.h"
#include "og_util.h"

#include <stdio.h>
#include <string.h>

og_err og_csat_submit(struct og_core *c, const char *sid, const struct og_visitor_survey *survey,
                      int score, const char *comment, const char *by, char **json, char *msg,
                      size_t msglen)
{
    *json = NULL;
    if (!survey || (survey->scale != 5 && survey->scale != 2)) {
        snprintf(msg, msglen, "this channel has no survey");
        return OG_ERR_NOT_FOUND;
    }
    if (score < 1 || score > survey->scale) {
        snprintf(msg, msglen, "score: must be 1..%d", survey->scale);
        return OG_ERR_INVALID;
    }
    if (comment && !survey->comment) {
        snprintf(msg, msglen, "comment: this survey takes none");
        return OG_ERR_INVALID;
    }
    if (comment &&
        (strlen(comment) > OG_CSAT_COMMENT_MAX || !og_utf8_valid(comment, strlen(comment)))) {
        snprintf(msg, msglen, "comment: at most %d bytes of UTF-8 text", OG_CSAT_COMMENT_MAX);
        return OG_ERR_INVALID;
    }
    if (!og_id_valid(sid, "ses_"))
        return OG_ERR_NOT_FOUND;
    struct og_buf cj = {0};
    if (comment)
        og_buf_json_str(&cj, comment);
    else
        og_buf_puts(&cj, "null");
    char now_iso[32], eid[48], sc[16], scale[16];
    int64_t now = og_now_ms();
    og_time_rfc3339(now, now_iso);
    og_id_new("evt_", now, eid, sizeof eid);
    snprintf(sc, sizeof sc, "%d", score);
    snprintf(scale, sizeof scale, "%d", survey->scale);
    const char *argv[] = {c->tag, "submit", sid, sc, scale, cj.data, now_iso, eid, by ? by : ""};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_CSAT, 9, argv, NULL, &r, msg, msglen);
    og_buf_free(&cj);
    if (e != OG_OK)
        return e;
    if (r->elements < 2 || r->element[1]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return OG_ERR_INTERNAL;
    }
    *json = og_strndup(r->element[1]->str, r->element[1]->len);
    freeReplyObject(r);
    return OG_OK;
}
