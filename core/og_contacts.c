/* og_contacts - see og_contacts.h. */
#include "og_contacts.h"
#include "og_core_int.h"
#include "og_util.h"

#include <stdlib.h>

static og_err json_reply(struct og_core *c, int argc, const char **argv, char **json)
{
    redisReply *r = NULL;
    *json = NULL;
    og_err e = og_script_call(c, OG_LUA_CONTACTS, argc, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    if (r->elements >= 2 && r->element[1]->type == REDIS_REPLY_STRING)
        *json = og_strndup(r->element[1]->str, r->element[1]->len);
    freeReplyObject(r);
    return *json ? OG_OK : OG_ERR_INTERNAL;
}

og_err og_contact_get(struct og_core *c, const char *cid, char **json)
{
    const char *argv[] = {c->tag, "get", cid};
    return json_reply(c, 3, argv, json);
}

og_err og_contact_patch(struct og_core *c, const char *cid, const char *const *pairs, size_t npairs,
                        char **json)
{
    const char **argv = og_calloc(3 + 2 * npairs, sizeof *argv);
    argv[0] = c->tag;
    argv[1] = "patch";
    argv[2] = cid;
    for (size_t i = 0; i < 2 * npairs; i++)
        argv[3 + i] = pairs[i] ? pairs[i] : "";
    og_err e = json_reply(c, (int)(3 + 2 * npairs), argv, json);
    free(argv);
    return e;
}
