/* og_routing - the routing engine: named policies (ordered levels of members
 * with a choice method, a forwarding level, auto-forward, auto or manual
 * mode), and every session state change that routing owns: drain a queue,
 * take/assign, transfer, close, reopen, agent presence, and firing the
 * auto-forward and archive timers.
 *
 * Each operation is one call of core/lua/route.lua, so it is atomic in Redis:
 * with several omnigate instances on one Redis a session is never assigned
 * twice and an agent never goes over max_chats / max_nrt_chats. Policies are
 * compiled once from the config into a JSON text passed to every call (so
 * instances with the same config agree without storing anything); members
 * are resolved inside the script ("group:NAME" through P:group:NAME,
 * "agent:EMAIL" through P:agent_email:EMAIL), so agents created through the
 * API take part at once.
 *
 * The policy "default" always exists: when the config does not define it,
 * it is one level "default" with every agent, method least_chats.
 *
 * Sessions of connector "email" count against max_nrt_chats (non-real-time);
 * every other session against max_chats. */
#ifndef OG_ROUTING_H
#define OG_ROUTING_H
#include "og_core.h"

#include <json-c/json.h>
#include <stdint.h>

struct og_routing_opts {
    json_object *policies;        /* [borrowed] the config's validated "routing" object, or NULL */
    int64_t archive_after_s;      /* closed -> archived after this; 0 = never */
    int offline_returns_sessions; /* going offline puts open sessions back in the queue */
};

struct og_routing_policy {
    char *name;                   /* owned */
    int manual;                   /* mode "manual": agents take from the queue */
    char **groups;                /* owned: groups named in its levels (for access checks) */
    size_t n_groups;
    int all_agents;               /* a level has every agent (the implicit default) */
};

struct og_routing {
    struct og_core *core;         /* [borrowed] */
    struct og_script *route, *agents; /* owned */
    char *policies_json;          /* owned: ARGV[7] of route.lua */
    struct og_routing_policy *policies; /* owned */
    size_t n_policies;
    int64_t archive_after_ms;
    int offline_returns_sessions;
};

/* [xfer, og_routing_free]; NULL with errbuf when a policy cannot be compiled
 * (the config loader has validated it, so that is a bug). */
struct og_routing *og_routing_new(struct og_core *c, const struct og_routing_opts *o,
                                  char *errbuf, size_t errlen);
void og_routing_free(struct og_routing *r);
const struct og_routing_policy *og_routing_policy(const struct og_routing *r, const char *name);

/* The outcome of an operation: err OG_OK with json (the session, [xfer]) or
 * an error with a message for the API. og_routing_result_free frees json. */
struct og_routing_result {
    og_err err;
    char message[160];
    char *json;
};
void og_routing_result_free(struct og_routing_result *res);

/* Assigns up to max waiting sessions of policy (oldest first, scanning at
 * most scan queue entries). *assigned gets the count. Manual policies: 0. */
og_err og_routing_drain(struct og_routing *r, const char *policy, int max, int scan,
                        int *assigned);
/* Fires up to max due auto-forward and archive timers each. */
og_err og_routing_fire_timers(struct og_routing *r, int max, int *moved, int *archived);

/* take: the agent takes a queued session itself (no presence check);
 * otherwise a manager assigns it to an online agent. */
void og_routing_assign(struct og_routing *r, const char *sid, const char *agent_id, int take,
                       struct og_routing_result *res);
/* Exactly one of to_agent / to_group, or neither (the policy's forwarding
 * level). comment may be NULL. by: the acting agent id or NULL. */
void og_routing_transfer(struct og_routing *r, const char *sid, const char *to_agent,
                         const char *to_group, const char *comment, const char *by,
                         struct og_routing_result *res);
/* reason: solved|no_response|transferred|other (checked by the caller);
 * codes_json: a JSON array of strings. */
void og_routing_close(struct og_routing *r, const char *sid, const char *reason,
                      const char *codes_json, struct og_routing_result *res);
void og_routing_reopen(struct og_routing *r, const char *sid, struct og_routing_result *res);
/* status: online|away|offline. res->json gets {"returned_sessions":N,"previous":"..."} */
void og_routing_presence(struct og_routing *r, const char *agent_id, const char *status,
                         struct og_routing_result *res);
#endif
