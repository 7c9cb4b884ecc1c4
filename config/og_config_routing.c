/* og_config_routing - the "routing", "agents" and "sessions" sections (see
 * og_config_routing.h for their shape). Policies are validated here and kept
 * as the JSON object itself: core/og_routing.c compiles that object for the
 * routing scripts, so the config and the engine cannot disagree on a field. */
#include "og_config_routing.h"
#include "og_agents.h"
#include "og_config_int.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

struct og_config_routing *og_config_routing_new(void)
{
    struct og_config_routing *r = og_calloc(1, sizeof *r);
    r->allow_multiple_codes = 1;
    r->archive_after_s = 604800;
    r->offline_returns_sessions = 1;
    return r;
}

void og_config_routing_free(struct og_config_routing *r)
{
    if (!r)
        return;
    json_object_put(r->policies);
    for (size_t i = 0; i < r->n_agents; i++) {
        json_object_put(r->agents[i].fields);
        free(r->agents[i].token);
    }
    free(r->agents);
    for (size_t i = 0; i < r->n_success_codes; i++)
        free(r->success_codes[i]);
    free(r->success_codes);
    free(r);
}

static int is_bool(struct og_load *l, json_object *v, const char *path)
{
    if (json_object_is_type(v, json_type_boolean))
        return 1;
    og_errors_add(l->errs, "%s: must be true or false", path);
    return 0;
}

/* ------------------------------------------------------------- routing */

static const char *const methods[] = {"random", "least_chats", "most_space", "sequential",
                                      "most_chats", NULL};

static void check_members(struct og_load *l, json_object *v, const char *path)
{
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0) {
        og_errors_add(l->errs, "%s: must be a non-empty array of \"group:NAME\" or "
                               "\"agent:EMAIL\"",
                      path);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        char *p = og_cfg_path_index(path, i);
        json_object *e = json_object_array_get_idx(v, i);
        const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e)
                                                                 : NULL;
        int ok = 0;
        if (s && strncmp(s, "group:", 6) == 0)
            ok = og_cfg_charset_ok(s + 6, 64, "_-.", 1);
        else if (s && strncmp(s, "agent:", 6) == 0)
            ok = strchr(s + 6, '@') != NULL && s[6] != '@';
        if (!ok)
            og_errors_add(l->errs, "%s: must be \"group:NAME\" or \"agent:EMAIL\"", p);
        free(p);
    }
}

/* A level or the forwarding level: {"name","members","method"}. */
static void check_level(struct og_load *l, json_object *v, const char *path)
{
    if (!og_cfg_object(l, v, path))
        return;
    int has_members = 0;
    json_object_object_foreach(v, key, val)
    {
        char *p = og_cfg_path_key(path, key);
        if (!strcmp(key, "name")) {
            og_cfg_nonempty(l, val, p);
        } else if (!strcmp(key, "members")) {
            has_members = 1;
            check_members(l, val, p);
        } else if (!strcmp(key, "method")) {
            const char *m = og_cfg_str(l, val, p);
            size_t i = 0;
            while (m && methods[i] && strcmp(methods[i], m) != 0)
                i++;
            if (m && !methods[i])
                og_errors_add(l->errs, "%s: must be one of random, least_chats, most_space, "
                                       "sequential, most_chats",
                              p);
        } else {
            og_errors_add(l->errs, "%s: unknown key", p);
        }
        free(p);
    }
    if (!has_members)
        og_errors_add(l->errs, "%s.members: required", path);
}

static void check_auto_forward(struct og_load *l, json_object *v, const char *path)
{
    if (!og_cfg_object(l, v, path))
        return;
    json_object_object_foreach(v, key, val)
    {
        char *p = og_cfg_path_key(path, key);
        int64_t x;
        if (!strcmp(key, "after_s"))
            og_cfg_int(l, val, p, 10, 60, &x);
        else if (!strcmp(key, "avoid_same_level"))
            is_bool(l, val, p);
        else
            og_errors_add(l->errs, "%s: unknown key", p);
        free(p);
    }
}

static void check_policy(struct og_load *l, json_object *v, const char *path)
{
    if (!og_cfg_object(l, v, path))
        return;
    int manual = 0, has_levels = 0;
    json_object_object_foreach(v, key, val)
    {
        char *p = og_cfg_path_key(path, key);
        if (!strcmp(key, "levels")) {
            has_levels = 1;
            if (!json_object_is_type(val, json_type_array) ||
                json_object_array_length(val) == 0) {
                og_errors_add(l->errs, "%s: must be a non-empty array", p);
            } else {
                for (size_t i = 0; i < json_object_array_length(val); i++) {
                    char *pi = og_cfg_path_index(p, i);
                    check_level(l, json_object_array_get_idx(val, i), pi);
                    free(pi);
                }
            }
        } else if (!strcmp(key, "forwarding_level")) {
            check_level(l, val, p);
        } else if (!strcmp(key, "auto_forward")) {
            check_auto_forward(l, val, p);
        } else if (!strcmp(key, "mode")) {
            const char *m = og_cfg_str(l, val, p);
            if (m && strcmp(m, "auto") && strcmp(m, "manual"))
                og_errors_add(l->errs, "%s: must be \"auto\" or \"manual\"", p);
            manual = m && !strcmp(m, "manual");
        } else {
            og_errors_add(l->errs, "%s: unknown key", p);
        }
        free(p);
    }
    if (!has_levels && !manual)
        og_errors_add(l->errs, "%s.levels: required", path);
}

void og_config_take_routing(struct og_load *l, json_object *v, const char *path)
{
    if (!og_cfg_object(l, v, path))
        return;
    json_object_object_foreach(v, name, pol)
    {
        char *p = og_cfg_path_key(path, name);
        if (!og_cfg_charset_ok(name, 64, "_-", 0))
            og_errors_add(l->errs, "%s: a policy name must be 1-64 characters of a-z, 0-9, _ "
                                   "and -",
                          p);
        else
            check_policy(l, pol, p);
        free(p);
    }
    json_object_put(l->cfg->routing->policies);
    l->cfg->routing->policies = json_object_get(v);
}

/* --------------------------------------------------------------- agents */

void og_config_take_agents(struct og_load *l, json_object *v, const char *path)
{
    if (!json_object_is_type(v, json_type_array)) {
        og_errors_add(l->errs, "%s: must be an array", path);
        return;
    }
    struct og_config_routing *r = l->cfg->routing;
    size_t n = json_object_array_length(v);
    r->agents = og_calloc(n ? n : 1, sizeof *r->agents);
    for (size_t i = 0; i < n; i++) {
        char *p = og_cfg_path_index(path, i);
        json_object *e = json_object_array_get_idx(v, i);
        if (!og_cfg_object(l, e, p)) {
            free(p);
            continue;
        }
        json_object *fields = json_object_new_object(), *tok = NULL;
        char *token = NULL;
        json_object_object_foreach(e, key, val)
        {
            if (!strcmp(key, "token")) {
                char *tp = og_cfg_path_key(p, "token");
                const char *s = og_cfg_str(l, val, tp);
                if (s && strlen(s) < 16)
                    og_errors_add(l->errs, "%s: must be at least 16 characters", tp);
                else if (s)
                    token = og_strdup(s);
                free(tp);
                tok = val;
            } else {
                json_object_object_add(fields, key, json_object_get(val));
            }
        }
        (void)tok;
        struct og_agent_fields f;
        char err[160];
        if (og_agents_fields_from_json(fields, 1, &f, err, sizeof err) != 0) {
            og_errors_add(l->errs, "%s.%s", p, err);
            json_object_put(fields);
            free(token);
        } else {
            og_agent_fields_free(&f);
            for (size_t j = 0; j < r->n_agents; j++) {
                json_object *a, *b;
                if (json_object_object_get_ex(r->agents[j].fields, "email", &a) &&
                    json_object_object_get_ex(fields, "email", &b) &&
                    !strcmp(json_object_get_string(a), json_object_get_string(b)))
                    og_errors_add(l->errs, "%s.email: duplicate agent e-mail", p);
            }
            r->agents[r->n_agents].fields = fields;
            r->agents[r->n_agents].token = token;
            r->n_agents++;
        }
        free(p);
    }
}

/* ------------------------------------------------------------- sessions */

static void take_close(struct og_load *l, json_object *v, const char *path)
{
    struct og_config_routing *r = l->cfg->routing;
    if (!og_cfg_object(l, v, path))
        return;
    json_object_object_foreach(v, key, val)
    {
        char *p = og_cfg_path_key(path, key);
        if (!strcmp(key, "require_success_code")) {
            if (is_bool(l, val, p))
                r->require_success_code = json_object_get_boolean(val);
        } else if (!strcmp(key, "allow_multiple_codes")) {
            if (is_bool(l, val, p))
                r->allow_multiple_codes = json_object_get_boolean(val);
        } else if (!strcmp(key, "success_codes")) {
            if (!json_object_is_type(val, json_type_array)) {
                og_errors_add(l->errs, "%s: must be an array of strings", p);
            } else {
                size_t n = json_object_array_length(val);
                r->success_codes = og_calloc(n ? n : 1, sizeof *r->success_codes);
                for (size_t i = 0; i < n; i++) {
                    char *pi = og_cfg_path_index(p, i);
                    const char *s = og_cfg_nonempty(l, json_object_array_get_idx(val, i), pi);
                    if (s && !og_cfg_charset_ok(s, 64, "_-.", 1))
                        og_errors_add(l->errs, "%s: must be 1-64 of A-Z a-z 0-9 _ - .", pi);
                    else if (s)
                        r->success_codes[r->n_success_codes++] = og_strdup(s);
                    free(pi);
                }
            }
        } else {
            og_errors_add(l->errs, "%s: unknown key", p);
        }
        free(p);
    }
}

void og_config_take_sessions(struct og_load *l, json_object *v, const char *path)
{
    struct og_config_routing *r = l->cfg->routing;
    if (!og_cfg_object(l, v, path))
        return;
    json_object_object_foreach(v, key, val)
    {
        char *p = og_cfg_path_key(path, key);
        if (!strcmp(key, "close"))
            take_close(l, val, p);
        else if (!strcmp(key, "archive_after_s"))
            og_cfg_int(l, val, p, 0, 10LL * 365 * 86400, &r->archive_after_s);
        else if (!strcmp(key, "offline_returns_sessions")) {
            if (is_bool(l, val, p))
                r->offline_returns_sessions = json_object_get_boolean(val);
        } else
            og_errors_add(l->errs, "%s: unknown key", p);
        free(p);
    }
}

void og_config_routing_check(struct og_load *l)
{
    json_object *pols = l->cfg->routing->policies;
    for (size_t i = 0; i < l->cfg->n_channels; i++) {
        const char *name = l->cfg->channels[i].routing;
        if (!name || !strcmp(name, "default"))
            continue;
        if (pols && json_object_object_get_ex(pols, name, NULL))
            continue;
        if (og_cfg_charset_ok(name, 64, "_-", 0)) /* only a plain name is echoed */
            og_errors_add(l->errs, "%s.routing: unknown routing policy \"%s\"",
                          l->cfg->channels[i].path, name);
        else
            og_errors_add(l->errs, "%s.routing: unknown routing policy",
                          l->cfg->channels[i].path);
    }
}
