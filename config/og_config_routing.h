/* og_config_routing - the config sections of the routing engine and the agent
 * store: "routing" (named policies), "agents" (agents seeded at start-up) and
 * "sessions" (close rules, archiving, what going offline does).
 *
 *   "routing": {"NAME": {"mode": "auto|manual",
 *      "levels": [{"name": "...", "members": ["group:NAME", "agent:EMAIL"],
 *                  "method": "random|least_chats|most_space|sequential|most_chats"}],
 *      "forwarding_level": {"name": "...", "members": [...], "method": "..."},
 *      "auto_forward": {"after_s": 10..60, "avoid_same_level": bool}}}
 *   "agents": [{"name", "email", "role": "admin|manager|agent", "groups": [...],
 *      "max_chats": N, "max_nrt_chats": N, "allowed_ips": ["10.0.0.0/8"],
 *      "token": "${AGENT_TOKEN}"}]
 *   "sessions": {"close": {"require_success_code": bool, "allow_multiple_codes": bool,
 *      "success_codes": ["sale", ...]}, "archive_after_s": N, "offline_returns_sessions": bool}
 *
 * Agents are seeded on every start (upsert by e-mail): the fields the config
 * sets win over API edits, and a configured token replaces the stored one.
 *
 * A channel's "routing" must name a policy of this section or "default"
 * (which exists implicitly: every agent, least_chats); og_config_routing_check
 * reports "channels[0].routing: unknown routing policy \"x\"". */
#ifndef OG_CONFIG_ROUTING_H
#define OG_CONFIG_ROUTING_H
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

struct og_config_agent {
    json_object *fields; /* owned: the seed minus "token", ready for og_agents */
    char *token;         /* owned, secret; NULL = none */
};

struct og_config_routing {
    json_object *policies; /* owned reference to the validated "routing" object, or NULL */
    struct og_config_agent *agents;
    size_t n_agents;
    int require_success_code; /* default 0 */
    int allow_multiple_codes; /* default 1 */
    char **success_codes;     /* allowed codes; empty = any code */
    size_t n_success_codes;
    int64_t archive_after_s;      /* default 604800 (7 days); 0 = never */
    int offline_returns_sessions; /* default 1 */
};

/* A section with its defaults, and its release. [xfer] */
struct og_config_routing *og_config_routing_new(void);
void og_config_routing_free(struct og_config_routing *r);
#endif
