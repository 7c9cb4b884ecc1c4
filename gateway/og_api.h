/* og_api - the /api/v1 router. Each area of the API lives in its own file
 * (og_api_sessions.c, og_api_agents.c, ...) and exports one route table;
 * og_api.c authenticates the caller, matches the route, checks the role and
 * calls the handler. A handler fills ctx->r (og_reply.h).
 *
 * Patterns are literal segments and ":name" parameters matching one
 * segment, e.g. "/sessions/:id/messages"; params[i] holds the i-th. */
#ifndef OG_API_H
#define OG_API_H
#include "og_auth.h"
#include "og_gateway.h"
#include "og_sessions.h"

#include <json-c/json.h>

/* Who is calling, as established by og_api_authenticate(). */
struct og_principal {
    enum og_role role;
    char agent_id[48]; /* "" for the config's admin token */
    char **groups;     /* owned; the agent's groups */
    size_t n_groups;
    /* A cookie session (og_auth.h) instead of a bearer token: the hex
     * SHA-256 it is stored under and its CSRF token; both "" otherwise. */
    char sid_sha[65];
    char csrf[OG_AUTH_ID_LEN + 1];
};
/* The principal as the core's access rules take it. [borrowed from p] */
struct og_viewer og_principal_viewer(const struct og_principal *p);
/* A deep copy of p into out (for a connection that outlives the request). */
void og_principal_copy(struct og_principal *out, const struct og_principal *p);

struct og_api_ctx {
    struct og_gateway *g;
    struct MHD_Connection *conn;
    const char *method, *path; /* path after /api/v1 */
    const char *body;          /* raw request body, NUL-terminated */
    size_t len;
    struct og_principal who;
    char params[4][128]; /* ":name" segments, in order, URL-decoded */
    struct og_reply *r;
};

struct og_route {
    const char *method;    /* "GET", "POST", ...; NULL ends a table */
    const char *pattern;   /* "/sessions/:id" */
    enum og_role min_role; /* the least role allowed to call it */
    void (*fn)(struct og_api_ctx *ctx);
};

/* Route tables, one per file; og_api.c lists them. */
extern const struct og_route og_api_session_routes[];
extern const struct og_route og_api_webhook_routes[];
extern const struct og_route og_api_contact_routes[];  /* og_api_contacts.c */
extern const struct og_route og_api_agent_routes[];    /* og_api_agents.c */
extern const struct og_route og_api_message_routes[];  /* og_api_messages.c */
extern const struct og_route og_api_event_routes[];    /* og_sse.c */
extern const struct og_route og_api_auth_routes[];     /* og_api_auth.c */
extern const struct og_route og_api_meta_routes[];     /* og_api_meta.c */
extern const struct og_route og_api_canned_routes[];   /* og_api_canned.c */
extern const struct og_route og_api_group_routes[];    /* og_api_groups.c */
extern const struct og_route og_api_flagged_routes[];  /* og_api_flagged.c */
extern const struct og_route og_api_goal_routes[];     /* og_api_goals.c */
extern const struct og_route og_api_stats_routes[];    /* og_api_stats.c */
extern const struct og_route og_api_template_routes[]; /* og_api_templates.c */

struct og_stats_query;
/* og_api_stats.c, for the statistics and export routes: 0 when every query
 * parameter is one of known (NULL-terminated), else -1 after answering 400;
 * the stats query of the request's parameters (an agent's agent_id forced
 * to its own, -1 after 403), *channels [xfer, free] the configured ids. */
int og_api_stats_args_known(struct og_api_ctx *ctx, const char *const *known);
int og_api_stats_query(struct og_api_ctx *ctx, struct og_stats_query *q, const char ***channels);
/* Routes anyone may call, matched before authentication (sign-in, a
 * password link): og_api_auth.c. */
extern const struct og_route og_api_public_routes[];
/* The attachment route (og_api_media.c): a signed link or a caller who may
 * see the message's session. */
extern const struct og_route og_api_media_public_routes[];
extern const struct og_route og_api_media_routes[]; /* POST /uploads */

/* Every route of /api/v1, as matched: the public ones (is_public 1), then
 * each table in order. rt [borrowed]; pattern without the /api/v1 prefix.
 * For the route list the docs are checked against (og_http_routes_each). */
void og_api_routes_each(void (*fn)(void *ud, const struct og_route *rt, int is_public), void *ud);

/* Authenticates the request: "Authorization: Bearer" with the admin token
 * from the config or an agent's token; else the session cookie a browser
 * got at sign-in (og_auth.h), which must come with the session's CSRF token
 * in X-CSRF-Token on every method but GET and HEAD. The agent's allowed_ips
 * apply to both. 0 on success with *who filled; -1 with ctx->r already set
 * (401, 403; an unknown or expired cookie is also cleared). */
int og_api_authenticate(struct og_api_ctx *ctx, struct og_principal *who);
/* The client's address as text ("" when unknown) into out: the peer's, or
 * behind http.trusted_proxies the one they forward (og_edge.h). */
void og_api_client_ip(struct og_api_ctx *ctx, char *out, size_t outsz);
/* A Set-Cookie header for the session cookie: value "" clears it. Secure
 * when public_url is https. */
void og_api_set_cookie(struct og_api_ctx *ctx, const char *value, int64_t max_age_s);
void og_principal_free(struct og_principal *who);

/* Helpers for handlers. */
const char *og_api_arg(struct og_api_ctx *ctx, const char *name); /* query argument */
/* limit: 1..200, default 50; -1 after answering 400. */
int og_api_limit(struct og_api_ctx *ctx);
/* The body parsed as a JSON object [xfer], or NULL after answering 400. */
json_object *og_api_json_body(struct og_api_ctx *ctx);
#endif
