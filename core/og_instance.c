/* og_instance - heartbeats and takeover (og_instance.h); the Redis side
 * is core/lua/instances.lua. */
#include "og_instance.h"
#include "og_core_int.h"
#include "og_log.h"

#include <stdatomic.h>
#include <stdio.h>

struct og_instance_stats og_instance_stats;

const char *og_core_instance(const struct og_core *c)
{
    return c->instance;
}

og_err og_instance_beat(struct og_core *c)
{
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%d", OG_INSTANCE_TTL_MS);
    const char *argv[] = {c->tag, "beat", c->instance, ttl};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_INSTANCES, 4, argv, NULL, &r, NULL, 0);
    if (e == OG_OK)
        freeReplyObject(r);
    return e;
}

static long long int_at(const redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer
                                                                         : 0;
}

og_err og_instance_reap(struct og_core *c, struct og_reap *out)
{
    *out = (struct og_reap){0};
    const char *argv[] = {c->tag, "reap", c->instance};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_INSTANCES, 3, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    out->dead = int_at(r, 1);
    out->entries = int_at(r, 2);
    out->leases = int_at(r, 3);
    freeReplyObject(r);
    atomic_fetch_add(&og_instance_stats.entries, (unsigned long long)out->entries);
    atomic_fetch_add(&og_instance_stats.leases, (unsigned long long)out->leases);
    if (out->entries || out->leases)
        og_warn("instances: took over the work of %lld stopped instance%s: %lld pending "
                "entr%s and %lld lease%s handed back",
                out->dead, out->dead == 1 ? "" : "s", out->entries, out->entries == 1 ? "y" : "ies",
                out->leases, out->leases == 1 ? "" : "s");
    return OG_OK;
}

og_err og_instance_leave(struct og_core *c, struct og_reap *out)
{
    *out = (struct og_reap){0};
    const char *argv[] = {c->tag, "leave", c->instance};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_INSTANCES, 3, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    out->entries = int_at(r, 1);
    out->leases = int_at(r, 2);
    freeReplyObject(r);
    return OG_OK;
}
