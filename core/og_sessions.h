/* og_sessions - sessions as the people who work them see them: who may see
 * or act on a session (the access rule), one session, the filtered list,
 * the history and the agents' read markers (core/lua/sessions.lua).
 *
 * The access rule, in one place: admins and managers see and act on every
 * session; an agent sees the sessions assigned to it and those waiting in
 * the queue for one of its groups (transferred to the group, or queued under
 * a policy whose levels name it; every agent for a policy with all agents,
 * such as the implicit default), and acts (transfer, close) only on those
 * assigned to it. A session the viewer may not see is "not found". */
#ifndef OG_SESSIONS_H
#define OG_SESSIONS_H
#include "og_core.h"

#include <stddef.h>
#include <stdint.h>

enum og_role { OG_ROLE_AGENT = 0, OG_ROLE_MANAGER = 1, OG_ROLE_ADMIN = 2 };

/* Who is looking or acting. [borrowed] for each call. */
struct og_viewer {
    enum og_role role;
    const char *agent_id;      /* "" for the config's admin token (not an agent) */
    const char *const *groups; /* the agent's groups */
    size_t n_groups;
};

/* 1 when s is a session status (new, active, awaiting, closed, transferred,
 * archived). */
int og_session_status_valid(const char *s);

enum og_session_need { OG_SESSION_SEE, OG_SESSION_ACT };
/* OG_OK, OG_ERR_NOT_FOUND (absent, or not visible to v), OG_ERR_FORBIDDEN
 * (OG_SESSION_ACT on a session an agent may see but that is not its own;
 * msg says so), or OG_ERR_UNAVAILABLE. msg may be NULL. */
og_err og_session_check(struct og_core *c, const struct og_viewer *v, const char *sid,
                        enum og_session_need need, char *msg, size_t msglen);

/* The access rule without Redis, for a session as an event carries it (the
 * live stream decides per event and connection from these): what the rule
 * reads of a session's JSON. Strings point into the JSON they came from. */
struct og_session_facts {
    const char *id, *status, *agent_id, *queue_group, *routing; /* "" when absent */
};
/* Fills f from a session JSON object; 0, or -1 when it is not one. */
int og_session_facts_of(struct json_object *session, struct og_session_facts *f);
/* 1 when v may see the session, by the same rule as og_session_check
 * (sessions.lua's visible(); og-int-routing checks that they agree). */
int og_session_visible(struct og_core *c, const struct og_viewer *v,
                       const struct og_session_facts *f);

/* One session as v sees it (with "unread" when v is an agent). [xfer] */
og_err og_session_get(struct og_core *c, const struct og_viewer *v, const char *sid, char **json);

/* The list's filters; NULL or "" = any. from_ms / to_ms bound the creation
 * time (-1 = open). */
struct og_session_query {
    const char *status, *channel, *agent_id, *group, *success_code;
    const char *q;      /* text in the contact's name or history */
    const char *cursor; /* a session id from the previous page */
    int64_t from_ms, to_ms;
    int limit; /* 1..200 */
};
/* {"items":[...],"next_cursor":...}, newest first, only what v may see. [xfer] */
og_err og_sessions_list(struct og_core *c, const struct og_viewer *v,
                        const struct og_session_query *q, char **json);

/* A page of the history, oldest first: {"items":[...],"next_cursor":...}.
 * An agent viewer's read marker moves to the newest message (unread drops
 * to 0). OG_ERR_NOT_FOUND when there is no such session (for v). [xfer] */
og_err og_session_messages(struct og_core *c, const struct og_viewer *v, const char *sid,
                           const char *cursor, int limit, char **json);

/* The JSON of the messages ids[0..n) as the events show them, read with
 * one HMGET each (one round trip) and rendered in C, off Redis's one thread
 * (og_render.h; #22: a script's decoding of a customer's message of 1 KB
 * cost Redis ~390,000 instructions, the read ~10,500): out[i] [xfer], NULL
 * for one that is not stored. */
og_err og_messages_json(struct og_core *c, const char *const *ids, size_t n, char **out);

/* A page of the session's timeline (what happened to it and who did it,
 * core/lua/prelude.lua's tl_add), oldest first: {"items":[...],
 * "next_cursor":...}; cursor is the previous page's next_cursor (NULL or ""
 * for the first). Visible as the session is. [xfer] */
og_err og_session_timeline(struct og_core *c, const struct og_viewer *v, const char *sid,
                           const char *cursor, int limit, char **json);

/* The messages flagged for sensitive words (og_sensitive.h), newest first:
 * {"items":[{"message":{...},"session":{...}}],"next_cursor":...}. Managers
 * and admins only (OG_ERR_FORBIDDEN for an agent). direction "in" (the
 * customers'), "out" (the agents') or NULL; channel NULL = any; cursor a
 * message id from the previous page. [xfer] */
og_err og_sessions_flagged(struct og_core *c, const struct og_viewer *v, const char *direction,
                           const char *channel, const char *cursor, int limit, char **json);
#endif
