/* og_agents - the agent store (core/lua/agents.lua) and the pieces of agent
 * authentication: API tokens (shown once at creation or rotation, stored only
 * as hex SHA-256 in P:agent:<id> token_sha and P:agent_token:<sha>), roles,
 * and IP allowlists (IPv4/IPv6 CIDR).
 *
 * Agent fields sent to the store are validated here first
 * (og_agents_fields_from_json), so bad input is a clear 400 and changes
 * nothing. */
#ifndef OG_AGENTS_H
#define OG_AGENTS_H
#include "og_core.h"
#include "og_routing.h"

#include <json-c/json.h>
#include <stddef.h>
#include <sys/socket.h>

/* 1 when s is an IPv4/IPv6 address or CIDR ("10.0.0.0/8", "2001:db8::/32"). */
int og_cidr_valid(const char *s);
/* 1 when addr matches one of the CIDRs in the JSON array text (an empty
 * array allows everyone). IPv4-mapped IPv6 addresses match IPv4 CIDRs. */
int og_ip_allowed(const struct sockaddr *addr, const char *cidrs_json);

/* Validated agent fields as name/value pairs for agents.lua. */
struct og_agent_fields {
    char *kv[16]; /* owned strings: name, value, name, value... */
    int n;
};
void og_agent_fields_free(struct og_agent_fields *f);
/* From an API body or a config seed: name, email, role, groups, max_chats,
 * max_nrt_chats, allowed_ips (unknown keys refused). create: email required.
 * 0, or -1 with errbuf ("email: must be ..."). */
int og_agents_fields_from_json(json_object *j, int create, struct og_agent_fields *f, char *errbuf,
                               size_t errlen);

/* A new random token "ogt_<43 base64url chars>" and its hex SHA-256. */
void og_agents_token_new(char tok[64], char sha_hex[65]);
void og_agents_token_sha(const char *tok, char sha_hex[65]);

/* mode: "create" (id is new), "update", "seed" (upsert by e-mail). sha_hex:
 * a new token digest or NULL to keep. res->json: the agent. */
void og_agents_put(struct og_core *c, const char *mode, const char *id, const char *sha_hex,
                   const struct og_agent_fields *f, struct og_routing_result *res);
/* A soft delete (refused while the agent has open sessions): the agent
 * leaves routing, its groups and sign-in at once (tokens, cookie sessions,
 * password; its e-mail is free for a new agent), while its record stays,
 * marked "deleted", so og_agents_get, timelines and statistics still name
 * it. */
void og_agents_delete(struct og_core *c, const char *id, struct og_routing_result *res);
/* sha_hex "" revokes. */
void og_agents_set_token(struct og_core *c, const char *id, const char *sha_hex,
                         struct og_routing_result *res);
/* An agent, deleted ones too ("deleted":true, "deleted_at"). */
og_err og_agents_get(struct og_core *c, const char *id, char **json);
/* The agents, {"items":[...],"next_cursor":null} in id order: the live ones,
 * or with the deleted ones too. */
og_err og_agents_list(struct og_core *c, char **json);
og_err og_agents_list_with_deleted(struct og_core *c, int with_deleted, char **json);

/* Seeds (upserts by e-mail) the agents of the config, each a JSON object of
 * agent fields with an optional token. OG_ERR_UNAVAILABLE while Redis is
 * down (call again); a seed that is refused is logged and skipped. */
struct og_agent_seed {
    json_object *fields; /* [borrowed] */
    const char *token;   /* NULL = none */
};
og_err og_agents_seed(struct og_core *c, const struct og_agent_seed *seeds, size_t n);

/* An agent token's owner: OG_OK with the fields [xfer], OG_ERR_NOT_FOUND for
 * an unknown token. */
struct og_agent_auth {
    char id[48];
    char role[16];
    char *groups_json;      /* owned */
    char *allowed_ips_json; /* owned */
};
og_err og_agents_auth(struct og_core *c, const char *sha_hex, struct og_agent_auth *a);
void og_agent_auth_free(struct og_agent_auth *a);
#endif
