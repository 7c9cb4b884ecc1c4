/* og_config_sensitive - the "sensitive_words" section: the words and simple
 * patterns that flag a message (core/og_sensitive.h says how they match).
 *
 *   "sensitive_words": {"customers": ["idiot", "*scam*", "идиот*", "バカ"],
 *                       "agents": ["guarantee*"], "block_agents": false}
 *
 * A customer's message that matches "customers" is flagged when it is
 * stored; an agent's reply that matches "agents" is flagged, or, with
 * block_agents, refused (422, nothing stored). Each term is checked by the
 * same og_sensitive_term_check() the core compiles the lists with, so a
 * term --check accepts is a term that matches. */
#include "og_config_int.h"
#include "og_sensitive.h"

#include <stddef.h>

#define SW(field) offsetof(struct og_config, sensitive_words.field)

/* After the section's keys: every term of both lists. */
int og_cfg_sensitive_done(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                          const char *path, void *base)
{
    (void)row, (void)base;
    static const char *const lists[] = {"customers", "agents"};
    for (size_t k = 0; k < 2; k++) {
        json_object *arr;
        if (!json_object_object_get_ex(v, lists[k], &arr) ||
            !json_object_is_type(arr, json_type_array))
            continue; /* the row has said what is wrong with it */
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            json_object *e = json_object_array_get_idx(arr, i);
            char err[128];
            if (!json_object_is_type(e, json_type_string) || !*json_object_get_string(e) ||
                og_sensitive_term_check(json_object_get_string(e), err, sizeof err) == 0)
                continue;
            og_errors_add(l->errs, "%s.%s[%zu]: %s", path, lists[k], i, err);
        }
    }
    return 0;
}

const struct og_cfg_row og_cfg_sensitive_rows[] = {
    {.name = "customers",
     .type = OG_CFG_LIST,
     .offset = SW(customers),
     .count = SW(n_customers),
     .help = "words and patterns (\"word\", \"prefix*\", \"*suffix\", \"a phrase\") that flag "
             "a customer's message"},
    {.name = "agents",
     .type = OG_CFG_LIST,
     .offset = SW(agents),
     .count = SW(n_agents),
     .help = "words and patterns that flag an agent's message (or block it)"},
    {.name = "block_agents",
     .type = OG_CFG_BOOL,
     .offset = SW(block_agents),
     .def = "false",
     .help = "an agent's message that matches is refused (422, with the terms) instead of sent"},
    {0},
};
