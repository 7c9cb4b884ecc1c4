/* og_script - see og_script.h. */
#include "og_script.h"
#include "og_core_int.h"
#include "og_err.h"
#include "og_log.h"

#include <stdio.h>
#include <string.h>

struct og_script *og_core_lua(struct og_core *c, enum og_lua id)
{
    return c->lua[id];
}

int og_script_busy_error(const char *err)
{
    return og_redis_try_later(err);
}

og_err og_script_reply(const char *name, const redisReply *r, char *msg, size_t msglen)
{
    if (msg && msglen)
        msg[0] = 0;
    if (r->type == REDIS_REPLY_ERROR)
        return og_script_busy_error(r->str) ? OG_ERR_UNAVAILABLE : OG_ERR_INTERNAL;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        og_error("script %s: reply is not {\"ok\", ...} or {\"err\", code, message}", name);
        return OG_ERR_INTERNAL;
    }
    const char *head = r->element[0]->str;
    if (strcmp(head, "ok") == 0)
        return OG_OK;
    if (strcmp(head, "err") != 0 || r->elements < 2 || r->element[1]->type != REDIS_REPLY_STRING) {
        og_error("script %s: reply starts with '%s'", name, head);
        return OG_ERR_INTERNAL;
    }
    og_err e = og_err_from_name(r->element[1]->str);
    const char *text =
        r->elements >= 3 && r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str : "";
    if (msg && msglen)
        snprintf(msg, msglen, "%s", text);
    /* a write the script's pcall caught because Redis is full (or loading,
     * or a replica): try later, like the same refusal outside a script */
    if (e == OG_ERR_INTERNAL && og_redis_try_later(text))
        return OG_ERR_UNAVAILABLE;
    if (e == OG_ERR_INTERNAL)
        og_error("script %s: %s%s%s", name, r->element[1]->str, msg && *msg ? ": " : "",
                 msg ? msg : "");
    return e;
}

og_err og_script_call(struct og_core *c, enum og_lua id, int argc, const char **argv,
                      const size_t *lens, redisReply **reply, char *msg, size_t msglen)
{
    struct og_script *s = c->lua[id];
    *reply = NULL;
    if (msg && msglen)
        msg[0] = 0;
    redisReply *r = NULL;
    og_err e = og_redis_eval(c->redis, s, 0, argc, argv, lens, &r);
    if (e != OG_OK)
        return e;
    e = og_script_reply(s->name, r, msg, msglen);
    if (e == OG_OK)
        *reply = r;
    else
        freeReplyObject(r);
    return e;
}
