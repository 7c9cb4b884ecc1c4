/* og_api_templates - platform message templates for the API (see
 * og_api_templates.c): the cached list and resolving a request's template. */
#ifndef OG_API_TEMPLATES_H
#define OG_API_TEMPLATES_H
#include "og_channel.h"

#include <json-c/json.h>
#include <stdint.h>

/* How long a channel's listed templates are reused before asking the
 * platform again. */
#define OG_TEMPLATES_TTL_MS (5 * 60 * 1000)

/* The approved templates of ch: *arr [xfer, json_object_put] a JSON array,
 * *at_ms when it was fetched. refresh: fetch even when cached.
 * OG_ERR_UNSUPPORTED: the connector has no templates() (ABI 1.3); another
 * error: the connector's, with why saying what the platform said. */
og_err og_api_templates_get(struct og_channel *ch, int refresh, json_object **arr, int64_t *at_ms,
                            char *why, size_t whylen);

/* A request's {"name","language":"en_US"|{"code"},"components":[...]}
 * checked against ch's approved templates: *norm [xfer] the JSON text the
 * platform gets ({"name","language":{"code"},"components"}), *text [xfer]
 * the template's header, body and footer text with the request's
 * parameters substituted ({{1}} or {{name}}), one a line. OG_ERR_INVALID
 * (why names the field, or says the template is no approved one of ch),
 * or og_api_templates_get's errors. */
og_err og_api_template_resolve(struct og_channel *ch, json_object *req, char **norm, char **text,
                               char *why, size_t whylen);
/* The text a listed template (tpl, one item of og_api_templates_get's
 * array) shows with the request's components (NULL: none): its header (a
 * TEXT one), body and footer, one a line, each {{1}} / {{name}} replaced by
 * the component's parameter (text, or a currency's or date's
 * fallback_value). *text [xfer]; OG_ERR_INVALID (why names the placeholder
 * without a value). Pure: no I/O (fuzzed by fuzz_wa_template). */
og_err og_api_template_render(json_object *tpl, json_object *comps, char **text, char *why,
                              size_t whylen);
#endif
