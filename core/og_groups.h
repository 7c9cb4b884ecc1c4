/* og_groups - agent groups (core/lua/groups.lua): list, create, rename,
 * members, delete when unused. A group's members are the agents whose
 * "groups" hold its name; the group's set, which routing resolves
 * "group:NAME" members through, changes together with them (one mechanism,
 * shared with og_agents_put), so a group made or filled here routes at
 * once, and groups named by the config's routing policies and agents work
 * as before. A group exists when it was made here, has members, or a
 * routing policy of the config names it.
 *
 * The rules, in one place:
 *   - names are 1-64 of A-Z a-z 0-9 _ - . (they appear in keys and in
 *     "group:NAME" members), og_group_name_valid;
 *   - a group the config's routing names cannot be renamed or deleted here
 *     (the config would name a group that no longer exists): change the
 *     config;
 *   - a rename carries the members, the sessions waiting for the group,
 *     the members' open sessions and the group's canned responses over to
 *     the new name; closed sessions keep the name they were handled under;
 *   - delete only when unused: no member, not in the config's routing, no
 *     session waiting for it, no canned response of its own.
 * Agents seeded by the config get the config's groups back at every start
 * (the file wins, as for their other fields). */
#ifndef OG_GROUPS_H
#define OG_GROUPS_H
#include "og_core.h"
#include "og_routing.h"

#include <stddef.h>

/* 1 when s is a group name: 1-64 of A-Z a-z 0-9 _ - . */
int og_group_name_valid(const char *s);

/* {"items":[group...],"next_cursor":null} in name order; a group is
 * {"name","members":[{"id","name","presence"}],"routing":[policy...],
 * "created_at"|null}. [xfer] */
og_err og_groups_list(struct og_core *c, char **json);
/* One group [xfer]; OG_ERR_NOT_FOUND. */
og_err og_groups_get(struct og_core *c, const char *name, char **json);

/* The results carry the group's JSON in res->json (delete: none).
 * OG_ERR_INVALID: a bad name or agent id; OG_ERR_NOT_FOUND: no such group
 * or agent; OG_ERR_CONFLICT: the name exists, the config names the group,
 * or (delete) it is in use; res->message says which. */
void og_groups_create(struct og_core *c, const char *name, const char *const *members, size_t n,
                      struct og_routing_result *res);
/* A rename (new_name; NULL keeps the name) and/or a new member list
 * (members; NULL keeps them, n 0 empties the group), in one step: either
 * both happen or, after any refusal, neither. */
void og_groups_update(struct og_core *c, const char *name, const char *new_name,
                      const char *const *members, size_t n, struct og_routing_result *res);
enum og_group_change { OG_GROUP_SET, OG_GROUP_ADD, OG_GROUP_REMOVE };
void og_groups_members(struct og_core *c, const char *name, enum og_group_change how,
                       const char *const *ids, size_t n, struct og_routing_result *res);
void og_groups_delete(struct og_core *c, const char *name, struct og_routing_result *res);
#endif
