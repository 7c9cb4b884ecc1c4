/* og_groups - see og_groups.h. Checks the shape of names and ids here, so a
 * bad one is a clear OG_ERR_INVALID that changes nothing; groups.lua does
 * the rest in one atomic call each. */
#include "og_groups.h"
#include "og_core_int.h"
#include "og_util.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int og_group_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return 0;
    return 1;
}

/* Runs op with its arguments; res gets the group JSON of an {"ok", json}. */
static void run(struct og_core *c, const char *op, int n, const char **args,
                struct og_routing_result *res)
{
    const char *argv[8] = {c->tag, op, og_routing_policy_groups(c)};
    int argc = 3;
    for (int i = 0; i < n && argc < 8; i++)
        argv[argc++] = args[i];
    redisReply *r = NULL;
    memset(res, 0, sizeof *res);
    res->err =
        og_script_call(c, OG_LUA_GROUPS, argc, argv, NULL, &r, res->message, sizeof res->message);
    if (res->err != OG_OK)
        return;
    if (r->elements >= 2 && r->element[1]->type == REDIS_REPLY_STRING)
        res->json = og_strndup(r->element[1]->str, r->element[1]->len);
    freeReplyObject(r);
}

static int refuse(struct og_routing_result *res, og_err e, const char *msg)
{
    memset(res, 0, sizeof *res);
    res->err = e;
    snprintf(res->message, sizeof res->message, "%s", msg);
    return 0;
}

static int name_ok(const char *name, struct og_routing_result *res)
{
    return og_group_name_valid(name) ||
           refuse(res, OG_ERR_INVALID, "name must be 1-64 of A-Z a-z 0-9 _ - .");
}

/* ids as a JSON array text [xfer], or NULL after refusing a bad id. */
static char *ids_json(const char *const *ids, size_t n, struct og_routing_result *res)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        if (!og_id_valid(ids[i], "agt_")) {
            json_object_put(arr);
            refuse(res, OG_ERR_INVALID, "members must be agent ids (agt_...)");
            return NULL;
        }
        json_object_array_add(arr, json_object_new_string(ids[i]));
    }
    char *s = og_strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    json_object_put(arr);
    return s;
}

og_err og_groups_list(struct og_core *c, char **json)
{
    const char *argv[] = {c->tag, "list", og_routing_policy_groups(c)};
    redisReply *r = NULL;
    *json = NULL;
    og_err e = og_script_call(c, OG_LUA_GROUPS, 3, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"items\":[");
    for (size_t i = 1; i < r->elements; i++) {
        if (i > 1)
            og_buf_puts(&b, ",");
        og_buf_append(&b, r->element[i]->str, r->element[i]->len);
    }
    og_buf_puts(&b, "],\"next_cursor\":null}");
    freeReplyObject(r);
    *json = b.data;
    return OG_OK;
}

og_err og_groups_get(struct og_core *c, const char *name, char **json)
{
    struct og_routing_result res;
    *json = NULL;
    if (!og_group_name_valid(name))
        return OG_ERR_NOT_FOUND;
    const char *a[] = {name};
    run(c, "get", 1, a, &res);
    *json = res.json;
    return res.err == OG_OK && !res.json ? OG_ERR_INTERNAL : res.err;
}

void og_groups_create(struct og_core *c, const char *name, const char *const *members, size_t n,
                      struct og_routing_result *res)
{
    if (!name_ok(name, res))
        return;
    char *ids = ids_json(members, n, res);
    if (!ids)
        return;
    char now_iso[32];
    og_time_rfc3339(og_now_ms(), now_iso);
    const char *a[] = {name, now_iso, ids};
    run(c, "create", 3, a, res);
    free(ids);
}

void og_groups_update(struct og_core *c, const char *name, const char *new_name,
                      const char *const *members, size_t n, struct og_routing_result *res)
{
    if (!og_group_name_valid(name)) {
        refuse(res, OG_ERR_NOT_FOUND, "no such group");
        return;
    }
    if (new_name && !name_ok(new_name, res))
        return;
    char *ids = members ? ids_json(members, n, res) : og_strdup("");
    if (!ids)
        return;
    char now_iso[32];
    og_time_rfc3339(og_now_ms(), now_iso);
    const char *a[] = {name, new_name ? new_name : "", ids, now_iso};
    run(c, "update", 4, a, res);
    free(ids);
}

void og_groups_members(struct og_core *c, const char *name, enum og_group_change how,
                       const char *const *ids, size_t n, struct og_routing_result *res)
{
    static const char *const hows[] = {"set", "add", "remove"};
    if (!og_group_name_valid(name)) {
        refuse(res, OG_ERR_NOT_FOUND, "no such group");
        return;
    }
    char *idj = ids_json(ids, n, res);
    if (!idj)
        return;
    char now_iso[32];
    og_time_rfc3339(og_now_ms(), now_iso);
    const char *a[] = {name, hows[how], idj, now_iso};
    run(c, "members", 4, a, res);
    free(idj);
}

void og_groups_delete(struct og_core *c, const char *name, struct og_routing_result *res)
{
    if (!og_group_name_valid(name)) {
        refuse(res, OG_ERR_NOT_FOUND, "no such group");
        return;
    }
    const char *a[] = {name};
    run(c, "delete", 1, a, res);
}
