/* og_config_routing - the rows of the "routing", "agents" and "sessions"
 * sections (see og_config_routing.h for their shape) and their hooks.
 * Policies are validated here and kept as the JSON object itself:
 * core/og_routing.c compiles that object for the routing scripts, so the
 * config and the engine cannot disagree on a field. Agents are validated by
 * the same og_agents_fields_from_json() the API uses; their rows describe the
 * keys for the help and convert "${ENV}" values to their types. */
#include "og_config_routing.h"
#include "og_agents.h"
#include "og_config_int.h"
#include "og_util.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct og_config_routing *og_config_routing_new(void)
{
    struct og_config_routing *r = og_calloc(1, sizeof *r);
    og_cfg_defaults(og_cfg_sessions_rows, r);
    return r;
}

void og_config_routing_free(struct og_config_routing *r)
{
    if (!r)
        return;
    og_cfg_section_release(offsetof(struct og_config, routing), r);
    free(r);
}

/* ------------------------------------------------------------- routing */

/* Not a plain list of strings: a non-string member gets the same message as
 * a malformed one, and the list must not be empty. */
static int check_members(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                         const char *path, void *base)
{
    (void)row, (void)base;
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0) {
        og_errors_add(l->errs, "%s: must be a non-empty array of \"group:NAME\" or \"agent:EMAIL\"",
                      path);
        return -1;
    }
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *e = json_object_array_get_idx(v, i);
        const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
        int ok = 0;
        if (s && strncmp(s, "group:", 6) == 0)
            ok = og_cfg_charset_ok(s + 6, 64, "_-.", 1);
        else if (s && strncmp(s, "agent:", 6) == 0)
            ok = strchr(s + 6, '@') != NULL && s[6] != '@';
        if (!ok) {
            char *p = og_cfg_path_index(path, i);
            og_errors_add(l->errs, "%s: must be \"group:NAME\" or \"agent:EMAIL\"", p);
            free(p);
        }
    }
    return 0;
}

/* A level and the forwarding level. */
static const struct og_cfg_row level_rows[] = {
    {.name = "name",
     .type = OG_CFG_STR,
     .def_doc = "\"level N\" (its position), \"forwarding\"",
     .flags = OG_CFG_NONEMPTY,
     .help = "shown in events and the API"},
    {.name = "members",
     .type = OG_CFG_LIST,
     .flags = OG_CFG_REQUIRED | OG_CFG_RAW,
     .help = "\"group:NAME\" and \"agent:EMAIL\" entries",
     .check = check_members},
    {.name = "method",
     .type = OG_CFG_ENUM,
     .def = "least_chats",
     .choices = "random|least_chats|most_space|sequential|most_chats",
     .help = "how an agent of the level is chosen"},
    {0},
};

static const struct og_cfg_row auto_forward_rows[] = {
    {.name = "after_s",
     .type = OG_CFG_INT,
     .def = "30",
     .min = 10,
     .max = 60,
     .help = "an offered session not taken in this time goes to the next agent"},
    {.name = "avoid_same_level",
     .type = OG_CFG_BOOL,
     .def = "false",
     .help = "forward to the next level, not to another agent of the same one"},
    {0},
};

const struct og_cfg_row og_cfg_policy_rows[] = {
    {.name = "mode",
     .type = OG_CFG_ENUM,
     .def = "auto",
     .choices = "auto|manual",
     .help = "auto assigns sessions; manual leaves them in the queue for agents to take",
     .expect = "must be \"auto\" or \"manual\""},
    {.name = "levels",
     .type = OG_CFG_ARRAY,
     .def_doc = "none",
     .min = 1,
     .children = level_rows,
     .help = "the levels of agents, tried in order (required unless mode is manual)"},
    {.name = "forwarding_level",
     .type = OG_CFG_OBJECT,
     .children = level_rows,
     .help = "where transfers and forwarded sessions go"},
    {.name = "auto_forward",
     .type = OG_CFG_OBJECT,
     .children = auto_forward_rows,
     .help = "forward offered sessions that no one takes (off when absent)"},
    {0},
};

/* A policy's cross-key check, after its keys. */
int og_cfg_policy_done(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                       const char *path, void *base)
{
    (void)row, (void)base;
    json_object *m;
    int manual = json_object_object_get_ex(v, "mode", &m) &&
                 json_object_is_type(m, json_type_string) &&
                 strcmp(json_object_get_string(m), "manual") == 0;
    if (!manual && !json_object_object_get_ex(v, "levels", NULL))
        og_errors_add(l->errs, "%s.levels: required", path);
    return 0;
}

/* --------------------------------------------------------------- agents */

#define AGENT(field) offsetof(struct og_config_agent, field)

const struct og_cfg_row og_cfg_agent_rows[] = {
    {.name = "name", .type = OG_CFG_STR, .help = "display name, 1-200 characters"},
    {.name = "email",
     .type = OG_CFG_STR,
     .flags = OG_CFG_REQUIRED,
     .help = "the agent's e-mail: who the agent is across restarts"},
    {.name = "role",
     .type = OG_CFG_ENUM,
     .def = "agent",
     .choices = "admin|manager|agent",
     .help = "what the agent's token may do in the API"},
    {.name = "groups",
     .type = OG_CFG_LIST,
     .help = "group names (1-64 of A-Z a-z 0-9 _ - .) that routing members name"},
    {.name = "max_chats",
     .type = OG_CFG_INT,
     .def_doc = "unlimited",
     .min = 0,
     .max = 100000,
     .help = "real-time sessions at once (null = unlimited)"},
    {.name = "max_nrt_chats",
     .type = OG_CFG_INT,
     .def_doc = "unlimited",
     .min = 0,
     .max = 100000,
     .help = "non-real-time (e-mail) sessions at once (null = unlimited)"},
    {.name = "allowed_ips",
     .type = OG_CFG_LIST,
     .def_doc = "anywhere",
     .help = "IPv4/IPv6 addresses or CIDRs the agent's token may be used from"},
    {.name = "token",
     .type = OG_CFG_STR,
     .offset = AGENT(token),
     .min = 16,
     .flags = OG_CFG_SECRET,
     .help = "the agent's API token (at least 16 characters); replaces the stored one"},
    {0},
};

/* One element: the token is taken out (it is hashed, never stored as
 * given), the rest is checked by the agents' own parser and kept as JSON. */
int og_cfg_agent_take(struct og_load *l, const struct og_cfg_row *row, json_object *e,
                      const char *p, void *base)
{
    (void)base;
    struct og_config_routing *r = l->cfg->routing;
    json_object *fields = json_object_new_object();
    struct og_config_agent a = {0};
    json_object_object_foreach(e, key, val)
    {
        if (strcmp(key, "token") == 0) {
            char *tp = og_cfg_path_key(p, "token");
            og_cfg_value(l, og_cfg_find(row->children, "token"), val, tp, &a);
            free(tp);
        } else {
            json_object_object_add(fields, key, json_object_get(val));
        }
    }
    struct og_agent_fields f;
    char err[160];
    if (og_agents_fields_from_json(fields, 1, &f, err, sizeof err) != 0) {
        og_errors_add(l->errs, "%s.%s", p, err);
        json_object_put(fields);
        free(a.token);
        return 0;
    }
    og_agent_fields_free(&f);
    for (size_t j = 0; j < r->n_agents; j++) {
        json_object *x, *y;
        if (json_object_object_get_ex(r->agents[j].fields, "email", &x) &&
            json_object_object_get_ex(fields, "email", &y) &&
            !strcmp(json_object_get_string(x), json_object_get_string(y)))
            og_errors_add(l->errs, "%s.email: duplicate agent e-mail", p);
    }
    a.fields = fields;
    r->agents[r->n_agents++] = a;
    return 0;
}

void og_cfg_agent_release(void *elem)
{
    struct og_config_agent *a = elem;
    json_object_put(a->fields);
    free(a->token);
}

/* ------------------------------------------------------------- sessions */

#define ROUTING(field) offsetof(struct og_config_routing, field)

static const struct og_cfg_row close_rows[] = {
    {.name = "require_success_code",
     .type = OG_CFG_BOOL,
     .offset = ROUTING(require_success_code),
     .def = "false",
     .help = "closing a session needs a success code"},
    {.name = "allow_multiple_codes",
     .type = OG_CFG_BOOL,
     .offset = ROUTING(allow_multiple_codes),
     .def = "true",
     .help = "a session may carry several success codes"},
    {.name = "success_codes",
     .type = OG_CFG_LIST,
     .offset = ROUTING(success_codes),
     .count = ROUTING(n_success_codes),
     .def_doc = "any code",
     .max = 64,
     .flags = OG_CFG_UPPER,
     .chars = "_-.",
     .help = "the codes agents may choose from",
     .expect = "must be 1-64 of A-Z a-z 0-9 _ - ."},
    {0},
};

const struct og_cfg_row og_cfg_sessions_rows[] = {
    {.name = "close",
     .type = OG_CFG_OBJECT,
     .children = close_rows,
     .help = "what closing a session requires"},
    {.name = "archive_after_s",
     .type = OG_CFG_INT,
     .offset = ROUTING(archive_after_s),
     .def = "604800",
     .min = 0,
     .max = 315360000,
     .help = "closed sessions are archived after this long; 0 = never"},
    {.name = "offline_returns_sessions",
     .type = OG_CFG_BOOL,
     .offset = ROUTING(offline_returns_sessions),
     .def = "true",
     .help = "an agent going offline puts its open sessions back in the queue"},
    {0},
};

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
            og_errors_add(l->errs, "%s.routing: unknown routing policy", l->cfg->channels[i].path);
    }
}
