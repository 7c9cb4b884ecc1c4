/* og_routing - the routing engine: named policies (ordered levels of members
 * with a choice method, a forwarding level, auto-forward, auto or manual
 * mode), and every session state change that routing owns: drain a queue,
 * take/assign, transfer, close, reopen, agent presence, and firing the
 * auto-forward and archive timers; with the rules of who may do which
 * (og_sessions.h's access rule, the close rules).
 *
 * Each operation is one call of core/lua/routing.lua, so it is atomic in
 * Redis: with several omnigate instances on one Redis a session is never
 * assigned twice and an agent never goes over max_chats / max_nrt_chats.
 * Policies are compiled once, when the core is made, into a JSON text passed
 * to every call (so instances with the same config agree without storing
 * anything); members are resolved inside the script ("group:NAME" through
 * P:group:NAME, "agent:EMAIL" through P:agent_email:EMAIL), so agents
 * created through the API take part at once.
 *
 * The policy "default" always exists: when the config does not define it,
 * it is one level "default" with every agent, method least_chats.
 *
 * Sessions of a connector with OG_CAP_NON_REALTIME (e-mail) count against
 * max_nrt_chats; every other session against max_chats. */
#ifndef OG_ROUTING_H
#define OG_ROUTING_H
#include "og_core.h"
#include "og_sessions.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

struct og_routing_opts {
    json_object *policies;        /* [borrowed] the config's validated "routing" object, or NULL */
    int64_t archive_after_s;      /* closed -> archived after this; 0 = never */
    int offline_returns_sessions; /* going offline puts open sessions back in the queue */
    /* The close rules (config "sessions.close"): */
    const char *const *success_codes; /* the allowed codes; none = any code */
    size_t n_success_codes;
    int allow_multiple_codes; /* more than one code per close */
    int require_success_code; /* closing needs at least one */
};

/* The outcome of an operation: err OG_OK with json (the session, [xfer]) or
 * an error with a message for the API. og_routing_result_free frees json. */
struct og_routing_result {
    og_err err;
    char message[160];
    char *json;
};
void og_routing_result_free(struct og_routing_result *res);

/* One pass of the routing worker: drains each auto policy's queue (a
 * bounded number of assignments per policy, so one busy policy cannot
 * starve the timers), fires the due timers (og_routing_fire_timers) and
 * sends the due automatic texts (og_texts_step).
 * Returns 1 when a queue may still hold assignable sessions (call again at
 * once), 0 otherwise; *assigned, *moved, *archived count what it did (any
 * may be NULL). */
int og_routing_step(struct og_core *c, int *assigned, int *moved, int *archived);

/* Assigns up to max waiting sessions of policy (oldest first, scanning at
 * most scan queue entries). *assigned gets the count. Manual policies: 0. */
og_err og_routing_drain(struct og_core *c, const char *policy, int max, int scan, int *assigned);
/* Fires up to max due timers of each kind: auto-forward, archive, the
 * customer timeout's prompt and auto-close (og_texts.h), and goal windows
 * that end without the goal (goal.missed, og_goals.h). */
og_err og_routing_fire_timers(struct og_core *c, int max, int *moved, int *archived);

/* v takes a queued session itself (agent_id NULL or v's own id; v must be
 * an agent), or a manager assigns it to an online agent. */
void og_routing_assign(struct og_core *c, const struct og_viewer *v, const char *sid,
                       const char *agent_id, struct og_routing_result *res);
/* Exactly one of to_agent / to_group, or neither (the policy's forwarding
 * level); comment may be NULL. v must be allowed to act on the session. */
void og_routing_transfer(struct og_core *c, const struct og_viewer *v, const char *sid,
                         const char *to_agent, const char *to_group, const char *comment,
                         struct og_routing_result *res);
/* reason: solved|no_response|transferred|other (NULL = solved); codes: the
 * success codes, checked against the close rules. v must be allowed to act
 * on the session. */
void og_routing_close(struct og_core *c, const struct og_viewer *v, const char *sid,
                      const char *reason, const char *const *codes, size_t n_codes,
                      struct og_routing_result *res);
/* The customer ends its open session (a web chat visitor): reason "other",
 * no success codes, the timeline's by is the contact cid. */
void og_routing_close_by_contact(struct og_core *c, const char *sid, const char *cid,
                                 struct og_routing_result *res);
void og_routing_reopen(struct og_core *c, const struct og_viewer *v, const char *sid,
                       struct og_routing_result *res);
/* status: online|away|offline. res->json gets {"returned_sessions":N,"previous":"..."} */
void og_routing_presence(struct og_core *c, const char *agent_id, const char *status,
                         struct og_routing_result *res);

/* 1 when an agent who is a member of policy's levels is online now (a web
 * chat's "online"); 0 otherwise or when Redis cannot say. */
int og_routing_online(struct og_core *c, const char *policy);

/* The policies, by index (for /metrics). NULL past the end. */
const char *og_routing_policy_name(struct og_core *c, size_t i);

/* core/ only: made and freed with the core. */
struct og_routing *og_routing_new(const struct og_routing_opts *o, char *errbuf, size_t errlen);
void og_routing_free(struct og_routing *r);
/* "pol=g1,g2;pol2=*": which groups see each policy's queue (sessions.lua). */
const char *og_routing_policy_groups(struct og_core *c);
#endif
