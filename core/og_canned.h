/* og_canned - canned responses: the team's ready answers that an agent
 * finds by a shortcut ("#refund") or a word and sends as a reply, rendered
 * for the session with the follow-ups' template code (og_template.h), so
 * "Hello {{contact.name}}, this is {{agent.name}}" greets the customer by
 * name (core/lua/canned.lua stores them).
 *
 * Scopes, and who may do what (og_canned_may, the one place of the rule):
 *   global       everyone sees it; managers and admins change it;
 *   group:NAME   the group's members see it, managers and admins see and
 *                change every group's;
 *   agent        one agent's own: only that agent sees and changes it
 *                (managers too have their own; the admin token, being no
 *                agent, has none).
 * A response an agent may not see is "not found" to it, as a session is.
 *
 * Fields: shortcut "#" and 1-63 more bytes without white space, unique
 * within its scope (case- and accent-insensitive); title up to 200 bytes
 * (may be empty); text 1-10000 bytes, a template that may use
 * {{contact.name}}, {{contact.email}}, {{contact.phone}}, {{agent.name}},
 * {{channel}} and {{session.id}} (og_canned_names). At most 1000 responses
 * per scope. */
#ifndef OG_CANNED_H
#define OG_CANNED_H
#include "og_core.h"
#include "og_routing.h"
#include "og_sessions.h"

#include <json-c/json.h>
#include <stddef.h>

/* The placeholders a canned response may use, NULL-terminated. */
extern const char *const og_canned_names[];

/* scope as stored: "global", "group:NAME" or "agent:<agent id>". 1 when v
 * may see it (change 0) or create, change and delete responses in it
 * (change 1). */
int og_canned_may(const struct og_viewer *v, const char *scope, int change);

/* A request's fields, checked (og_canned_fields_from_json): [owned]. */
struct og_canned_fields {
    char *shortcut, *title, *text; /* NULL = not given */
    char *scope;                   /* stored form ("agent:<id>" for "agent"), or NULL */
};
void og_canned_fields_free(struct og_canned_fields *f);
/* From an API body: {"shortcut","title","text","scope":"global|group:NAME|agent"}
 * (unknown keys refused; create: shortcut and text required, scope default
 * "agent" for an agent and "global" for the admin token). v makes "agent"
 * its own scope. 0, or -1 with errbuf ("shortcut: must ..."). */
int og_canned_fields_from_json(json_object *j, int create, const struct og_viewer *v,
                               struct og_canned_fields *f, char *errbuf, size_t errlen);

/* Create (id NULL: a new one) or update (id) as v; res->json gets the
 * response. f [borrowed] is as og_canned_fields_from_json made it (its
 * values are not checked again; create needs shortcut, text and scope:
 * OG_ERR_INVALID). OG_ERR_FORBIDDEN when v may not change the scope it is in or
 * would move to; OG_ERR_NOT_FOUND (no such response, or not visible to v);
 * OG_ERR_CONFLICT (the shortcut is taken in the scope, the scope is full). */
void og_canned_put(struct og_core *c, const struct og_viewer *v, const char *id,
                   const struct og_canned_fields *f, struct og_routing_result *res);
void og_canned_delete(struct og_core *c, const struct og_viewer *v, const char *id,
                      struct og_routing_result *res);
/* One response as v sees it [xfer]; OG_ERR_NOT_FOUND. */
og_err og_canned_get(struct og_core *c, const struct og_viewer *v, const char *id, char **json);

/* What v may use: {"items":[...],"next_cursor":null}, at most limit. q
 * (NULL or "" = all) matches a shortcut's beginning ("#ref", or "ref") or
 * a word anywhere in the title or the text, folded (og_fold.h); shortcut
 * matches come first, each kind by shortcut. scope NULL = everything v may
 * see; "global", "group:NAME" or "agent" narrows it (OG_ERR_FORBIDDEN for a
 * group v may not see). [xfer] */
og_err og_canned_search(struct og_core *c, const struct og_viewer *v, const char *q,
                        const char *scope, int limit, char **json);

/* The response's text rendered for session sid, as v will send it:
 * {{agent.name}} is v's name (for the admin token, the session's agent's).
 * *json [xfer] {"id","session_id","text"}. OG_ERR_NOT_FOUND when v may not
 * see the response or the session. */
og_err og_canned_render(struct og_core *c, const struct og_viewer *v, const char *id,
                        const char *sid, char **json);
#endif
