/* og_routing - see og_routing.h. This file compiles the policies, applies
 * the rules of who may do what, and calls routing.lua; the routing
 * decisions themselves are made inside the script. */
#include "og_routing.h"
#include "og_archive.h"
#include "og_core_int.h"
#include "og_goals.h"
#include "og_texts.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRAIN_MAX 100
#define DRAIN_SCAN 400
#define DRAIN_CALLS 10
#define TIMERS_MAX 200

struct og_routing_policy {
    char *name;    /* owned */
    int manual;    /* mode "manual": agents take from the queue */
    char **groups; /* owned: groups named in its levels (for access checks) */
    size_t n_groups;
    int all_agents; /* a level has every agent (the implicit default) */
};

struct og_routing {
    char *policies_json;                /* owned: ARGV[7] of routing.lua */
    struct og_routing_policy *policies; /* owned */
    size_t n_policies;
    char *policy_groups; /* owned: "pol=g1,g2;pol2=*" for sessions.lua */
    int64_t archive_after_ms;
    int offline_returns_sessions;
    char **codes; /* owned: the close rules */
    size_t n_codes;
    int multiple_codes, require_code;
};

/* "group:x" -> "g:x", "agent:e" -> "a:e" (the script's short forms). */
static json_object *compile_level(json_object *lv, const char *dflt_name,
                                  struct og_routing_policy *p)
{
    json_object *out = json_object_new_object(), *v, *mem = json_object_new_array();
    const char *name =
        json_object_object_get_ex(lv, "name", &v) ? json_object_get_string(v) : dflt_name;
    const char *method =
        json_object_object_get_ex(lv, "method", &v) ? json_object_get_string(v) : "least_chats";
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

static json_object *compile_policy(const char *name, json_object *pj, struct og_routing_policy *p)
{
    json_object *out = json_object_new_object(), *v, *levels = json_object_new_array();
    p->name = og_strdup(name);
    const char *mode =
        json_object_object_get_ex(pj, "mode", &v) ? json_object_get_string(v) : "auto";
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
        int64_t after = json_object_object_get_ex(v, "after_s", &x) ? json_object_get_int64(x) : 30;
        int avoid =
            json_object_object_get_ex(v, "avoid_same_level", &x) && json_object_get_boolean(x);
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

/* "pol=g1,g2;pol2=*": which agents' groups see each policy's queue. */
static char *policy_groups(const struct og_routing *r)
{
    struct og_buf b = {0};
    for (size_t i = 0; i < r->n_policies; i++) {
        const struct og_routing_policy *p = &r->policies[i];
        og_buf_printf(&b, "%s%s=", i ? ";" : "", p->name);
        if (p->all_agents)
            og_buf_puts(&b, "*");
        for (size_t j = 0; j < p->n_groups; j++)
            og_buf_printf(&b, "%s%s", j || p->all_agents ? "," : "", p->groups[j]);
    }
    og_buf_append(&b, "", 0);
    return b.data;
}

struct og_routing *og_routing_new(const struct og_routing_opts *o, char *errbuf, size_t errlen)
{
    static const struct og_routing_opts none = {0};
    if (!o)
        o = &none;
    struct og_routing *r = og_calloc(1, sizeof *r);
    r->archive_after_ms = o->archive_after_s * 1000;
    r->offline_returns_sessions = o->offline_returns_sessions;
    r->multiple_codes = o->allow_multiple_codes;
    r->require_code = o->require_success_code;
    r->n_codes = o->n_success_codes;
    r->codes = og_calloc(r->n_codes + 1, sizeof *r->codes);
    for (size_t i = 0; i < r->n_codes; i++)
        r->codes[i] = og_strdup(o->success_codes[i]);
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
    r->policy_groups = policy_groups(r);
    return r;
}

void og_routing_free(struct og_routing *r)
{
    if (!r)
        return;
    free(r->policies_json);
    free(r->policy_groups);
    for (size_t i = 0; i < r->n_codes; i++)
        free(r->codes[i]);
    free(r->codes);
    for (size_t i = 0; i < r->n_policies; i++) {
        free(r->policies[i].name);
        for (size_t j = 0; j < r->policies[i].n_groups; j++)
            free(r->policies[i].groups[j]);
        free(r->policies[i].groups);
    }
    free(r->policies);
    free(r);
}

const char *og_routing_policy_groups(struct og_core *c)
{
    return c->routing->policy_groups;
}

const char *og_routing_policy_name(struct og_core *c, size_t i)
{
    const struct og_routing *r = c->routing; /* once: a reload may swap it */
    return i < r->n_policies ? r->policies[i].name : NULL;
}

void og_routing_result_free(struct og_routing_result *res)
{
    free(res->json);
    res->json = NULL;
}

/* Who acts, as routing.lua's timeline entries take it: the agent's id, or
 * "admin" for the config's admin token (which is no agent). */
static const char *actor(const struct og_viewer *v)
{
    return v->agent_id && *v->agent_id ? v->agent_id : "admin";
}

/* Runs one op: extra[0..nextra) are the op's own arguments (ARGV[8..]). */
static og_err call(struct og_core *c, const char *op, int nextra, const char **extra,
                   redisReply **reply, char *msg, size_t msglen)
{
    char now_s[24], now_iso[32], seed[48], rnd[24];
    int64_t now = og_now_ms();
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    og_time_rfc3339(now, now_iso);
    og_id_new("evt_", now, seed, sizeof seed);
    uint32_t x;
    og_random_bytes(&x, sizeof x);
    snprintf(rnd, sizeof rnd, "%u", (unsigned)(x % 2147483647u) + 1);
    const char *argv[16] = {c->tag, op, now_s, now_iso, seed, rnd, c->routing->policies_json};
    int argc = 7;
    for (int i = 0; i < nextra && argc < 16; i++)
        argv[argc++] = extra[i] ? extra[i] : "";
    return og_script_call(c, OG_LUA_ROUTING, argc, argv, NULL, reply, msg, msglen);
}

/* Runs an op whose success is {"ok", session json} into res. */
static void run(struct og_core *c, const char *op, int n, const char **a,
                struct og_routing_result *res)
{
    redisReply *rep = NULL;
    res->err = call(c, op, n, a, &rep, res->message, sizeof res->message);
    if (res->err != OG_OK)
        return;
    if (rep->elements >= 2 && rep->element[1]->type == REDIS_REPLY_STRING)
        res->json = og_strndup(rep->element[1]->str, rep->element[1]->len);
    else
        res->err = OG_ERR_INTERNAL;
    freeReplyObject(rep);
}

static int refuse(struct og_routing_result *res, og_err e, const char *msg)
{
    res->err = e;
    snprintf(res->message, sizeof res->message, "%s", msg);
    return 0;
}

/* 1 when v may see (and, with act, act on) the session; else res is set. */
static int allowed(struct og_core *c, const struct og_viewer *v, const char *sid, int act,
                   struct og_routing_result *res)
{
    memset(res, 0, sizeof *res);
    if (!og_id_valid(sid, "ses_"))
        return refuse(res, OG_ERR_NOT_FOUND, "no such session");
    res->err = og_session_check(c, v, sid, act ? OG_SESSION_ACT : OG_SESSION_SEE, res->message,
                                sizeof res->message);
    return res->err == OG_OK;
}

og_err og_routing_drain(struct og_core *c, const char *policy, int max, int scan, int *assigned)
{
    char m[16], s[16];
    snprintf(m, sizeof m, "%d", max);
    snprintf(s, sizeof s, "%d", scan);
    const char *a[] = {policy, m, s};
    redisReply *rep;
    *assigned = 0;
    og_err e = call(c, "drain", 3, a, &rep, NULL, 0);
    if (e != OG_OK)
        return e;
    if (rep->elements >= 2 && rep->element[1]->type == REDIS_REPLY_INTEGER)
        *assigned = (int)rep->element[1]->integer;
    freeReplyObject(rep);
    return OG_OK;
}

og_err og_routing_fire_timers(struct og_core *c, int max, int *moved, int *archived)
{
    char m[16], arch[24];
    snprintf(m, sizeof m, "%d", max);
    snprintf(arch, sizeof arch, "%lld", (long long)c->routing->archive_after_ms);
    const char *a[] = {m, arch};
    redisReply *rep;
    *moved = *archived = 0;
    og_err e = call(c, "timers", 2, a, &rep, NULL, 0);
    if (e != OG_OK)
        return e;
    if (rep->elements >= 3) {
        *moved = (int)rep->element[1]->integer;
        *archived = (int)rep->element[2]->integer;
    }
    freeReplyObject(rep);
    return OG_OK;
}

int og_routing_step(struct og_core *c, int *assigned, int *moved, int *archived)
{
    int more = 0, total = 0, mv = 0, ar = 0;
    const struct og_routing *r = c->routing;
    for (size_t p = 0; p < r->n_policies; p++) {
        if (r->policies[p].manual)
            continue;
        for (int calls = 0; calls < DRAIN_CALLS; calls++) {
            int n = 0;
            og_err e = og_routing_drain(c, r->policies[p].name, DRAIN_MAX, DRAIN_SCAN, &n);
            total += n;
            if (e != OG_OK || n < DRAIN_MAX)
                break;
            if (calls == DRAIN_CALLS - 1)
                more = 1;
        }
    }
    og_goals_sync(c);
    og_routing_fire_timers(c, TIMERS_MAX, &mv, &ar);
    og_texts_step(c, TIMERS_MAX);
    if (assigned)
        *assigned = total;
    if (moved)
        *moved = mv;
    if (archived)
        *archived = ar;
    return more;
}

void og_routing_assign(struct og_core *c, const struct og_viewer *v, const char *sid,
                       const char *agent_id, struct og_routing_result *res)
{
    if (!allowed(c, v, sid, 0, res))
        return;
    const char *self = v->agent_id ? v->agent_id : "";
    int take = !agent_id || !*agent_id || (*self && strcmp(agent_id, self) == 0);
    if (take && !*self) {
        refuse(res, OG_ERR_INVALID, "agent_id is required (the admin token is not an agent)");
        return;
    }
    if (!take && v->role < OG_ROLE_MANAGER) {
        refuse(res, OG_ERR_FORBIDDEN, "only a manager may assign to someone else");
        return;
    }
    if (!take && !og_id_valid(agent_id, "agt_")) {
        refuse(res, OG_ERR_INVALID, "agent_id must be an agent id (agt_...)");
        return;
    }
    const char *a[] = {sid, take ? self : agent_id, take ? "take" : "manager", actor(v)};
    run(c, "assign", 4, a, res);
}

void og_routing_transfer(struct og_core *c, const struct og_viewer *v, const char *sid,
                         const char *to_agent, const char *to_group, const char *comment,
                         struct og_routing_result *res)
{
    if (!allowed(c, v, sid, 1, res))
        return;
    if (to_agent && to_group) {
        refuse(res, OG_ERR_INVALID, "give agent_id or group, not both");
        return;
    }
    if (to_agent && !og_id_valid(to_agent, "agt_")) {
        refuse(res, OG_ERR_INVALID, "agent_id must be an agent id (agt_...)");
        return;
    }
    struct og_buf cj = {0};
    og_buf_json_str(&cj, comment && *comment ? comment : NULL);
    const char *by = v->agent_id && *v->agent_id ? v->agent_id : "";
    const char *a[] = {sid, to_agent, to_group, cj.data, by};
    run(c, "transfer", 5, a, res);
    og_buf_free(&cj);
}

/* The close rules: a known reason, allowed codes, how many. 1 when met. */
static int close_ok(const struct og_routing *r, const char *reason, const char *const *codes,
                    size_t n, struct og_routing_result *res)
{
    if (strcmp(reason, "solved") && strcmp(reason, "no_response") &&
        strcmp(reason, "transferred") && strcmp(reason, "other"))
        return refuse(res, OG_ERR_INVALID,
                      "reason must be one of solved, no_response, transferred, other");
    for (size_t i = 0; i < n; i++) {
        int ok = codes[i] && *codes[i] && strlen(codes[i]) <= 64;
        if (ok && r->n_codes) {
            ok = 0;
            for (size_t k = 0; k < r->n_codes; k++)
                ok |= !strcmp(r->codes[k], codes[i]);
        }
        if (!ok)
            return refuse(res, OG_ERR_INVALID, "success_codes: unknown success code");
    }
    if (n > 1 && !r->multiple_codes)
        return refuse(res, OG_ERR_INVALID, "success_codes: only one success code is allowed");
    if (n == 0 && r->require_code)
        return refuse(res, OG_ERR_INVALID, "success_codes: a success code is required to close");
    return 1;
}

void og_routing_close(struct og_core *c, const struct og_viewer *v, const char *sid,
                      const char *reason, const char *const *codes, size_t n_codes,
                      struct og_routing_result *res)
{
    if (!reason)
        reason = "solved";
    memset(res, 0, sizeof *res);
    if (!allowed(c, v, sid, 1, res) || !close_ok(c->routing, reason, codes, n_codes, res))
        return;
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n_codes; i++)
        json_object_array_add(arr, json_object_new_string(codes[i]));
    char arch[24];
    snprintf(arch, sizeof arch, "%lld", (long long)c->routing->archive_after_ms);
    const char *a[] = {sid, reason, json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN),
                       arch, actor(v)};
    run(c, "close", 5, a, res);
    json_object_put(arr);
}

int og_routing_online(struct og_core *c, const char *policy)
{
    const char *a[] = {policy ? policy : "default"};
    redisReply *rep = NULL;
    if (call(c, "online", 1, a, &rep, NULL, 0) != OG_OK)
        return 0;
    int on = rep->elements >= 2 && rep->element[1]->type == REDIS_REPLY_STRING &&
             rep->element[1]->str[0] == '1';
    freeReplyObject(rep);
    return on;
}

void og_routing_close_by_contact(struct og_core *c, const char *sid, const char *cid,
                                 struct og_routing_result *res)
{
    memset(res, 0, sizeof *res);
    if (!og_id_valid(sid, "ses_") || !og_id_valid(cid, "con_")) {
        refuse(res, OG_ERR_NOT_FOUND, "no such session");
        return;
    }
    char arch[24];
    snprintf(arch, sizeof arch, "%lld", (long long)c->routing->archive_after_ms);
    const char *a[] = {sid, "other", "[]", arch, cid};
    run(c, "close", 5, a, res);
}

void og_routing_reopen(struct og_core *c, const struct og_viewer *v, const char *sid,
                       struct og_routing_result *res)
{
    if (!allowed(c, v, sid, 0, res))
        return;
    /* a session in the archive comes back into Redis first (og_archive.h) */
    og_err e = og_archive_restore(c, sid);
    if (e != OG_OK && e != OG_ERR_NOT_FOUND) {
        refuse(res, e, "the archived session cannot be read now");
        return;
    }
    const char *a[] = {sid, actor(v)};
    run(c, "reopen", 2, a, res);
}

void og_routing_presence(struct og_core *c, const char *agent_id, const char *status,
                         struct og_routing_result *res)
{
    const char *a[] = {agent_id, status, c->routing->offline_returns_sessions ? "1" : "0"};
    redisReply *rep = NULL;
    memset(res, 0, sizeof *res);
    res->err = call(c, "presence", 3, a, &rep, res->message, sizeof res->message);
    if (res->err != OG_OK)
        return;
    if (rep->elements >= 3)
        res->json = og_sprintf("{\"status\":\"%s\",\"previous\":\"%s\",\"returned_sessions\":%s}",
                               status, rep->element[2]->str, rep->element[1]->str);
    else
        res->err = OG_ERR_INTERNAL;
    freeReplyObject(rep);
}
