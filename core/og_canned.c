/* og_canned - see og_canned.h. The rule of who may see and change what is
 * og_canned_may; a change reads the response first to learn its scope,
 * checks the rule, and writes with that scope as a guard (canned.lua refuses
 * the write when the scope moved meanwhile), so the check and the write
 * cannot be raced apart. */
#include "og_canned.h"
#include "og_core_int.h"
#include "og_fold.h"
#include "og_groups.h"
#include "og_template.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHORTCUT_MAX 64
#define TITLE_MAX 200
#define TEXT_MAX 10000

const char *const og_canned_names[] = {
    "contact.name", "contact.email", "contact.phone", "agent.name", "channel", "session.id", NULL,
};

static int in_groups(const struct og_viewer *v, const char *g)
{
    for (size_t i = 0; i < v->n_groups; i++)
        if (strcmp(v->groups[i], g) == 0)
            return 1;
    return 0;
}

int og_canned_may(const struct og_viewer *v, const char *scope, int change)
{
    int manager = v->role >= OG_ROLE_MANAGER;
    if (strcmp(scope, "global") == 0)
        return !change || manager;
    if (strncmp(scope, "group:", 6) == 0)
        return manager || (!change && in_groups(v, scope + 6));
    if (strncmp(scope, "agent:", 6) == 0)
        return v->agent_id && *v->agent_id && strcmp(scope + 6, v->agent_id) == 0;
    return 0;
}

void og_canned_fields_free(struct og_canned_fields *f)
{
    free(f->shortcut);
    free(f->title);
    free(f->text);
    free(f->scope);
    memset(f, 0, sizeof *f);
}

static int shortcut_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > SHORTCUT_MAX || s[0] != '#' || !og_utf8_valid(s, n))
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return 0;
    return 1;
}

/* Text fields: valid UTF-8 without NUL (json-c lets "\u0000" through). */
static int text_ok(json_object *v, size_t min, size_t max)
{
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    return strlen(s) == n && n >= min && n <= max && og_utf8_valid(s, n);
}

/* The stored scope of a requested one, or NULL when malformed. [xfer] */
static char *scope_of(const char *s, const struct og_viewer *v)
{
    if (strcmp(s, "global") == 0)
        return og_strdup(s);
    if (strncmp(s, "group:", 6) == 0 && og_group_name_valid(s + 6))
        return og_strdup(s);
    if (strcmp(s, "agent") == 0 && v->agent_id && *v->agent_id)
        return og_sprintf("agent:%s", v->agent_id);
    return NULL;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(errbuf, errlen, __VA_ARGS__);                                                     \
        og_canned_fields_free(f);                                                                  \
        return -1;                                                                                 \
    } while (0)

int og_canned_fields_from_json(json_object *j, int create, const struct og_viewer *v,
                               struct og_canned_fields *f, char *errbuf, size_t errlen)
{
    memset(f, 0, sizeof *f);
    json_object_object_foreach(j, key, val)
    {
        int known = !strcmp(key, "shortcut") || !strcmp(key, "title") || !strcmp(key, "text") ||
                    !strcmp(key, "scope");
        if (!known)
            FAIL("%.64s: unknown field", key);
        if (!json_object_is_type(val, json_type_string))
            FAIL("%s: must be a string", key);
        const char *s = json_object_get_string(val);
        char err[200];
        if (!strcmp(key, "shortcut")) {
            if (!shortcut_ok(s))
                FAIL("shortcut: must be \"#\" and 1 to %d more characters without spaces",
                     SHORTCUT_MAX - 1);
            f->shortcut = og_strdup(s);
        } else if (!strcmp(key, "title")) {
            if (!text_ok(val, 0, TITLE_MAX))
                FAIL("title: must be at most %d bytes of text", TITLE_MAX);
            f->title = og_strdup(s);
        } else if (!strcmp(key, "text")) {
            if (!text_ok(val, 1, TEXT_MAX))
                FAIL("text: must be 1 to %d bytes of text", TEXT_MAX);
            if (og_template_check_names(s, og_canned_names, err, sizeof err) != 0)
                FAIL("text: %s", err);
            f->text = og_strdup(s);
        } else {
            if (!(f->scope = scope_of(s, v)))
                FAIL("scope: must be global, group:NAME or agent%s",
                     v->agent_id && *v->agent_id ? "" : " (the admin token has no own scope)");
        }
    }
    if (create && (!f->shortcut || !f->text))
        FAIL("%s: required", f->shortcut ? "text" : "shortcut");
    if (create && !f->scope)
        f->scope = scope_of(v->agent_id && *v->agent_id ? "agent" : "global", v);
    return 0;
}

static int refuse(struct og_routing_result *res, og_err e, const char *msg)
{
    res->err = e;
    snprintf(res->message, sizeof res->message, "%s", msg);
    return 0;
}

/* The stored scope of response id into scope (and its JSON into *json when
 * json is not NULL). OG_ERR_NOT_FOUND when there is none. */
static og_err load(struct og_core *c, const char *id, char scope[96], char **json)
{
    const char *argv[] = {c->tag, "get", id};
    redisReply *r = NULL;
    if (json)
        *json = NULL;
    if (!og_id_valid(id, "cnd_"))
        return OG_ERR_NOT_FOUND;
    og_err e = og_script_call(c, OG_LUA_CANNED, 3, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    if (r->elements < 3) {
        freeReplyObject(r);
        return OG_ERR_INTERNAL;
    }
    snprintf(scope, 96, "%s", r->element[2]->str);
    if (json)
        *json = og_strndup(r->element[1]->str, r->element[1]->len);
    freeReplyObject(r);
    return OG_OK;
}

/* A field and its folded form as put's pairs. */
static void add_pair(const char **argv, int *argc, char **own, int *n_own, const char *name,
                     const char *fname, const char *value)
{
    argv[(*argc)++] = name;
    argv[(*argc)++] = value;
    if (fname) {
        char *folded = og_fold(value, strlen(value), NULL);
        own[(*n_own)++] = folded;
        argv[(*argc)++] = fname;
        argv[(*argc)++] = folded;
    }
}

void og_canned_put(struct og_core *c, const struct og_viewer *v, const char *id,
                   const struct og_canned_fields *f, struct og_routing_result *res)
{
    memset(res, 0, sizeof *res);
    char scope[96] = "", new_id[48];
    if (id) {
        res->err = load(c, id, scope, NULL);
        if (res->err == OG_OK && !og_canned_may(v, scope, 0))
            res->err = OG_ERR_NOT_FOUND;
        if (res->err != OG_OK) {
            snprintf(res->message, sizeof res->message, "%s",
                     res->err == OG_ERR_NOT_FOUND ? "no such canned response" : "");
            return;
        }
        if (!og_canned_may(v, scope, 1)) {
            refuse(res, OG_ERR_FORBIDDEN,
                   "your role may not change canned responses of this scope");
            return;
        }
    } else if (!f->scope || !f->shortcut || !f->text) {
        refuse(res, OG_ERR_INVALID, "shortcut, text and scope are required");
        return;
    } else {
        og_id_new("cnd_", og_now_ms(), new_id, sizeof new_id);
    }
    if (f->scope && !og_canned_may(v, f->scope, 1)) {
        refuse(res, OG_ERR_FORBIDDEN,
               "managers change global and group responses; agents their own (scope agent)");
        return;
    }
    char now_iso[32];
    og_time_rfc3339(og_now_ms(), now_iso);
    const char *argv[24] = {c->tag,
                            "put",
                            id ? "update" : "create",
                            id ? id : new_id,
                            now_iso,
                            v->agent_id && *v->agent_id ? v->agent_id : "admin",
                            scope};
    int argc = 7, n_own = 0;
    char *own[3];
    if (f->scope)
        add_pair(argv, &argc, own, &n_own, "scope", NULL, f->scope);
    if (f->shortcut)
        add_pair(argv, &argc, own, &n_own, "shortcut", "fs", f->shortcut);
    if (f->title)
        add_pair(argv, &argc, own, &n_own, "title", "ft", f->title);
    else if (!id)
        add_pair(argv, &argc, own, &n_own, "title", "ft", "");
    if (f->text)
        add_pair(argv, &argc, own, &n_own, "text", "fx", f->text);
    redisReply *r = NULL;
    res->err =
        og_script_call(c, OG_LUA_CANNED, argc, argv, NULL, &r, res->message, sizeof res->message);
    while (n_own > 0)
        free(own[--n_own]);
    if (res->err != OG_OK)
        return;
    if (r->elements >= 2)
        res->json = og_strndup(r->element[1]->str, r->element[1]->len);
    freeReplyObject(r);
}

void og_canned_delete(struct og_core *c, const struct og_viewer *v, const char *id,
                      struct og_routing_result *res)
{
    memset(res, 0, sizeof *res);
    char scope[96];
    res->err = load(c, id, scope, NULL);
    if (res->err == OG_OK && !og_canned_may(v, scope, 0))
        res->err = OG_ERR_NOT_FOUND;
    if (res->err == OG_ERR_NOT_FOUND) {
        refuse(res, OG_ERR_NOT_FOUND, "no such canned response");
        return;
    }
    if (res->err != OG_OK)
        return;
    if (!og_canned_may(v, scope, 1)) {
        refuse(res, OG_ERR_FORBIDDEN, "your role may not change canned responses of this scope");
        return;
    }
    const char *argv[] = {c->tag, "delete", id, scope};
    redisReply *r = NULL;
    res->err =
        og_script_call(c, OG_LUA_CANNED, 4, argv, NULL, &r, res->message, sizeof res->message);
    if (res->err == OG_OK)
        freeReplyObject(r);
}

og_err og_canned_get(struct og_core *c, const struct og_viewer *v, const char *id, char **json)
{
    char scope[96];
    og_err e = load(c, id, scope, json);
    if (e == OG_OK && !og_canned_may(v, scope, 0)) {
        free(*json);
        *json = NULL;
        return OG_ERR_NOT_FOUND;
    }
    return e;
}

og_err og_canned_search(struct og_core *c, const struct og_viewer *v, const char *q,
                        const char *scope, int limit, char **json)
{
    *json = NULL;
    json_object *scopes = json_object_new_array();
    int all_groups = 0;
    char *own = v->agent_id && *v->agent_id ? og_sprintf("agent:%s", v->agent_id) : NULL;
    og_err e = OG_OK;
    if (!scope || !*scope) { /* everything v may see */
        json_object_array_add(scopes, json_object_new_string("global"));
        all_groups = v->role >= OG_ROLE_MANAGER;
        for (size_t i = 0; !all_groups && i < v->n_groups; i++) {
            char *g = og_sprintf("group:%s", v->groups[i]);
            json_object_array_add(scopes, json_object_new_string(g));
            free(g);
        }
        if (own)
            json_object_array_add(scopes, json_object_new_string(own));
    } else {
        char *stored = scope_of(scope, v);
        if (!stored && strcmp(scope, "agent") == 0)
            e = OG_OK; /* the admin token has no own responses: none */
        else if (!stored)
            e = OG_ERR_INVALID;
        else if (!og_canned_may(v, stored, 0))
            e = OG_ERR_FORBIDDEN;
        else
            json_object_array_add(scopes, json_object_new_string(stored));
        free(stored);
    }
    free(own);
    char lim[16], *fq = og_fold(q ? q : "", q ? strlen(q) : 0, NULL);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *argv[] = {c->tag,
                          "search",
                          json_object_to_json_string_ext(scopes, JSON_C_TO_STRING_PLAIN),
                          all_groups ? "1" : "0",
                          fq,
                          lim};
    redisReply *r = NULL;
    if (e == OG_OK)
        e = og_script_call(c, OG_LUA_CANNED, 6, argv, NULL, &r, NULL, 0);
    json_object_put(scopes);
    free(fq);
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

og_err og_canned_render(struct og_core *c, const struct og_viewer *v, const char *id,
                        const char *sid, char **json)
{
    *json = NULL;
    if (!og_id_valid(id, "cnd_") || !og_id_valid(sid, "ses_"))
        return OG_ERR_NOT_FOUND;
    og_err e = og_session_check(c, v, sid, OG_SESSION_SEE, NULL, 0);
    if (e != OG_OK)
        return e;
    const char *viewer = v->agent_id ? v->agent_id : "";
    const char *argv[] = {c->tag, "render", id, sid, viewer};
    redisReply *r = NULL;
    e = og_script_call(c, OG_LUA_CANNED, 5, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    if (r->elements < 9) {
        freeReplyObject(r);
        return OG_ERR_INTERNAL;
    }
    if (!og_canned_may(v, r->element[2]->str, 0)) {
        freeReplyObject(r);
        return OG_ERR_NOT_FOUND;
    }
    const char *agent_name = *viewer ? r->element[8]->str : r->element[7]->str;
    const struct og_tvar vars[] = {
        {"contact.name", r->element[3]->str, NULL},  {"contact.email", r->element[4]->str, NULL},
        {"contact.phone", r->element[5]->str, NULL}, {"agent.name", agent_name, NULL},
        {"channel", r->element[6]->str, NULL},       {"session.id", sid, NULL},
    };
    char *text = og_template_render(r->element[1]->str, vars, sizeof vars / sizeof *vars, 0);
    struct og_buf b = {0};
    og_buf_printf(&b, "{\"id\":\"%s\",\"session_id\":\"%s\",\"text\":", id, sid);
    og_buf_json_str(&b, text);
    og_buf_puts(&b, "}");
    free(text);
    freeReplyObject(r);
    *json = b.data;
    return OG_OK;
}
