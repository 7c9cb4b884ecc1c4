/* og_routing - see og_routing.h. This file compiles the policies and calls
 * route.lua; the decisions themselves are made inside the script. */
#include "og_routing.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char og_lua_route[], og_lua_agents[];

/* "group:x" -> "g:x", "agent:e" -> "a:e" (the script's short forms). */
static json_object *compile_level(json_object *lv, const char *dflt_name,
                                  struct og_routing_policy *p)
{
    json_object *out = json_object_new_object(), *v, *mem = json_object_new_array();
    const char *name = json_object_object_get_ex(lv, "name", &v) ? json_object_get_string(v)
                                                                   : dflt_name;
    const char *method = json_object_object_get_ex(lv, "method", &v) ? json_object_get_string(v)
                                                                       : "least_chats";
    json_object_object_add(out, "name", json_object_new_string(name));
    json_object_object_add(out, "method", json_object_new_string(method));
    if (json_object_object_get_ex(lv, "members", &v)) {
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            const char *m = json_object_get_string(json_object_array_get_idx(v, i));
            if (strncmp(m, "group:", 6) == 0) {
                char *s = og_sprintf("g:%s", m + 6);
                json_object_array_add(mem, json_object_new_string(s));
                free(s);
                p->groups = og_realloc(p->groups, (p->n_groups + 1) * sizeof *p->groups);
                p->groups[p->n_groups++] = og_strdup(m + 6);
            } else if (strncmp(m, "agent:", 6) == 0) {
                char *s = og_sprintf("a:%s", m + 6);
                json_object_array_add(mem, json_object_new_string(s));
                free(s);
            }
        }
    }
    json_object_object_add(out, "members", mem);
    return out;
}

static json_object *compile_policy(const char *name, json_object *pj,
                                   struct og_routing_policy *p)
{
    json_object *out = json_object_new_object(), *v, *levels = json_object_new_array();
    p->name = og_strdup(name);
    const char *mode = json_object_object_get_ex(pj, "mode", &v) ? json_object_get_string(v)
                                                                   : "auto";
    p->manual = strcmp(mode, "manual") == 0;
    json_object_object_add(out, "mode", json_object_new_string(mode));
    if (json_object_object_get_ex(pj, "levels", &v)) {
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            char dn[32];
            snprintf(dn, sizeof dn, "level %zu", i + 1);
            json_object_array_add(levels, compile_level(json_object_array_get_idx(v, i), dn, p));
        }
    }
    json_object_object_add(out, "levels", levels);
    if (json_object_object_get_ex(pj, "forwarding_level", &v))
        json_object_object_add(out, "forwarding", compile_level(v, "forwarding", p));
    if (json_object_object_get_ex(pj, "auto_forward", &v)) {
        json_object *x;
        int64_t after = json_object_object_get_ex(v, "after_s", &x) ? json_object_get_int64(x)
                                                                     : 30;
        int avoid = json_object_object_get_ex(v, "avoid_same_level", &x) &&
                    json_object_get_boolean(x);
        json_object_object_add(out, "af_ms", json_object_new_int64(after * 1000));
        json_object_object_add(out, "af_avoid", json_object_new_boolean(avoid));
    }
    return out;
}

/* The implicit default: every agent, least_chats. */
static json_object *default_policy(struct og_routing_policy *p)
{
    json_object *out = json_object_new_object(), *lv = json_object_new_object();
    json_object *levels = json_object_new_array(), *mem = json_object_new_array();
    p->name = og_strdup("default");
    p->all_agents = 1;
    json_object_array_add(mem, json_object_new_string("*"));
    json_object_object_add(lv, "name", json_object_new_string("default"));
    json_object_object_add(lv, "method", json_object_new_string("least_chats"));
    json_object_object_add(lv, "members", mem);
    json_object_array_add(levels, lv);
    json_object_object_add(out, "mode", json_object_new_string("auto"));
    json_object_object_add(out, "levels", levels);
    return out;
}

struct og_routing *og_routing_new(struct og_core *c, const struct og_routing_opts *o,
                                  char *errbuf, size_t errlen)
{
    struct og_routing *r = og_calloc(1, sizeof *r);
    r->core = c;
    r->route = og_core_script("route", og_lua_route);
    r->agents = og_core_script("agents", og_lua_agents);
    r->archive_after_ms = o->archive_after_s * 1000;
    r->offline_returns_sessions = o->offline_returns_sessions;
    json_object *all = json_object_new_object();
    size_t n = o->policies ? (size_t)json_object_object_length(o->policies) : 0;
    r->policies = og_calloc(n + 1, sizeof *r->policies);
    if (o->policies) {
        json_object_object_foreach(o->policies, name, pj)
        {
            if (!json_object_is_type(pj, json_type_object)) {
                snprintf(errbuf, errlen, "routing.%s: must be an object", name);
                json_object_put(all);
                og_routing_free(r);
                return NULL;
            }
            struct og_routing_policy *p = &r->policies[r->n_policies++];
            json_object_object_add(all, name, compile_policy(name, pj, p));
        }
    }
    if (!json_object_object_get_ex(all, "default", NULL))
        json_object_object_add(all, "default", default_policy(&r->policies[r->n_policies++]));
    r->policies_json = og_strdup(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PLAIN));
    json_object_put(all);
    return r;
}

void og_routing_free(struct og_routing *r)
{
    if (!r)
        return;
    og_script_free(r->route);
    og_script_free(r->agents);
    free(r->policies_json);
    for (size_t i = 0; i < r->n_policies; i++) {
        free(r->policies[i].name);
        for (size_t j = 0; j < r->policies[i].n_groups; j++)
            free(r->policies[i].groups[j]);
        free(r->policies[i].groups);
    }
    free(r->policies);
    free(r);
}

const struct og_routing_policy *og_routing_policy(const struct og_routing *r, const char *name)
{
    for (size_t i = 0; i < r->n_policies; i++)
        if (strcmp(r->policies[i].name, name ? name : "default") == 0)
            return &r->policies[i];
    return NULL;
}

void og_routing_result_free(struct og_routing_result *res)
{
    free(res->json);
    res->json = NULL;
}

/* Runs one op: argv[0..nextra) are the op's own arguments (ARGV[8..]). */
static og_err call(struct og_routing *r, const char *op, int nextra, const char **extra,
                   redisReply **reply)
{
    char now_s[24], now_iso[32], seed[48], rnd[24];
    int64_t now = og_now_ms();
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    og_time_rfc3339(now, now_iso);
    og_id_new("evt_", now, seed, sizeof seed);
    uint32_t x;
    og_random_bytes(&x, sizeof x);
    snprintf(rnd, sizeof rnd, "%u", (unsigned)(x % 2147483647u) + 1);
    const char *argv[16] = {r->core->tag, op, now_s, now_iso, seed, rnd, r->policies_json};
    int argc = 7;
    for (int i = 0; i < nextra && argc < 16; i++)
        argv[argc++] = extra[i] ? extra[i] : "";
    og_err e = og_redis_eval(r->core->redis, r->route, 0, argc, argv, NULL, reply);
    if (e == OG_OK && (*reply)->type == REDIS_REPLY_ERROR) {
        freeReplyObject(*reply);
        *reply = NULL;
        return OG_ERR_INTERNAL;
    }
    if (e == OG_OK && ((*reply)->type != REDIS_REPLY_ARRAY || (*reply)->elements < 1)) {
        freeReplyObject(*reply);
        *reply = NULL;
        return OG_ERR_INTERNAL;
    }
    return e;
}

static og_err code_err(const char *code)
{
    if (!strcmp(code, "not_found"))
        return OG_ERR_NOT_FOUND;
    if (!strcmp(code, "conflict"))
        return OG_ERR_CONFLICT;
    if (!strcmp(code, "invalid"))
        return OG_ERR_INVALID;
    if (!strcmp(code, "forbidden"))
        return OG_ERR_FORBIDDEN;
    return OG_ERR_INTERNAL;
}

/* A {"err", code, message} reply into res; 0 when rep is not one. */
static int take_error(const redisReply *rep, struct og_routing_result *res)
{
    if (strcmp(rep->element[0]->str, "err") != 0 || rep->elements < 3)
        return 0;
    res->err = code_err(rep->element[1]->str);
    snprintf(res->message, sizeof res->message, "%s", rep->element[2]->str);
    return 1;
}

/* Fills res from a {"ok", json} / {"err", code, message} reply. */
static void to_result(og_err e, redisReply *rep, struct og_routing_result *res)
{
    memset(res, 0, sizeof *res);
    res->err = e;
    if (e != OG_OK)
        return;
    if (!take_error(rep, res) && rep->elements >= 2 && rep->element[1]->type == REDIS_REPLY_STRING)
        res->json = og_strndup(rep->element[1]->str, rep->element[1]->len);
    freeReplyObject(rep);
}

og_err og_routing_drain(struct og_routing *r, const char *policy, int max, int scan,
                        int *assigned)
{
    char m[16], s[16];
    snprintf(m, sizeof m, "%d", max);
    snprintf(s, sizeof s, "%d", scan);
    const char *a[] = {policy, m, s};
    redisReply *rep;
    *assigned = 0;
    og_err e = call(r, "drain", 3, a, &rep);
    if (e != OG_OK)
        return e;
    if (rep->elements >= 2 && rep->element[1]->type == REDIS_REPLY_INTEGER)
        *assigned = (int)rep->element[1]->integer;
    freeReplyObject(rep);
    return OG_OK;
}

og_err og_routing_fire_timers(struct og_routing *r, int max, int *moved, int *archived)
{
    char m[16];
    snprintf(m, sizeof m, "%d", max);
    const char *a[] = {m};
    redisReply *rep;
    *moved = *archived = 0;
    og_err e = call(r, "timers", 1, a, &rep);
    if (e != OG_OK)
        return e;
    if (rep->elements >= 3) {
        *moved = (int)rep->element[1]->integer;
        *archived = (int)rep->element[2]->integer;
    }
    freeReplyObject(rep);
    return OG_OK;
}

void og_routing_assign(struct og_routing *r, const char *sid, const char *agent_id, int take,
                       struct og_routing_result *res)
{
    const char *a[] = {sid, agent_id, take ? "take" : "manager"};
    redisReply *rep = NULL;
    og_err e = call(r, "assign", 3, a, &rep);
    to_result(e, rep, res);
}

void og_routing_transfer(struct og_routing *r, const char *sid, const char *to_agent,
                         const char *to_group, const char *comment, const char *by,
                         struct og_routing_result *res)
{
    struct og_buf cj = {0};
    og_buf_json_str(&cj, comment && *comment ? comment : NULL);
    const char *a[] = {sid, to_agent, to_group, cj.data, by};
    redisReply *rep = NULL;
    og_err e = call(r, "transfer", 5, a, &rep);
    og_buf_free(&cj);
    to_result(e, rep, res);
}

void og_routing_close(struct og_routing *r, const char *sid, const char *reason,
                      const char *codes_json, struct og_routing_result *res)
{
    char arch[24];
    snprintf(arch, sizeof arch, "%lld", (long long)r->archive_after_ms);
    const char *a[] = {sid, reason, codes_json ? codes_json : "[]", arch};
    redisReply *rep = NULL;
    og_err e = call(r, "close", 4, a, &rep);
    to_result(e, rep, res);
}

void og_routing_reopen(struct og_routing *r, const char *sid, struct og_routing_result *res)
{
    const char *a[] = {sid};
    redisReply *rep = NULL;
    og_err e = call(r, "reopen", 1, a, &rep);
    to_result(e, rep, res);
}

void og_routing_presence(struct og_routing *r, const char *agent_id, const char *status,
                         struct og_routing_result *res)
{
    const char *a[] = {agent_id, status, r->offline_returns_sessions ? "1" : "0"};
    redisReply *rep = NULL;
    og_err e = call(r, "presence", 3, a, &rep);
    memset(res, 0, sizeof *res);
    res->err = e;
    if (e != OG_OK)
        return;
    if (!take_error(rep, res) && rep->elements >= 3) {
        res->json = og_sprintf("{\"status\":\"%s\",\"previous\":\"%s\",\"returned_sessions\":%s}",
                               status, rep->element[2]->str, rep->element[1]->str);
    }
    freeReplyObject(rep);
}
