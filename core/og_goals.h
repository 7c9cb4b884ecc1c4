/* og_goals - chat goals (the product brief's 000-chat-goals.txt): one goal
 * per channel, {"event":"NAME","window_days":1|3|7|15|30}, set in the
 * config (channels[].goal) or through the API (og_goal_put).
 *
 * A session's goal is measured from the agent's first reply to the
 * customer (never a greeting or any other system text; for a conversation
 * an agent started, the first reply after the customer's answer), for
 * window_days days. The goal event is a named contact event the business
 * reports (og_contact_event: POST /api/v1/contacts/{id}/events, the shop's
 * webhook) or a success code of that name recorded when the session
 * closes. Statuses, in the session JSON's "goal" ({"event","window_days",
 * "status","started_at","achieved_at"}):
 *   none        the channel has no goal (or had none at the first reply);
 *   in_process  no first reply yet, or the window is open;
 *   missed      the window passed without the event (a timer, goal.missed);
 *   achieved    the event came inside the window (goal.achieved); it stays.
 * The goal is a snapshot taken at the first reply: changing the channel's
 * goal does not touch a session already measured. A reopened session
 * keeps "achieved" while the channel's goal is still the one it achieved;
 * otherwise (not achieved, or the goal changed) it is measured again from
 * the agent's next reply against the channel's goal then. Events before
 * the window starts do not count.
 *
 * The window's day is 86400 s; OMNIGATE_TEST_DAY_S (read by the daemon,
 * only when set) shortens it for tests (og_core_opts.goal_day_ms).
 *
 * For statistics (achievement rate = achieved / closed), per UTC day:
 * P:stats:goals:<YYYY-MM-DD> counts closed (closes of sessions with a goal),
 * achieved and missed per channel ("<what>:ch:<id>") and per agent
 * ("<what>:agent:<id>": the session's agent at the time). */
#ifndef OG_GOALS_H
#define OG_GOALS_H
#include "og_core.h"
#include "og_sessions.h"

#include <stddef.h>
#include <stdint.h>

/* A goal the config file sets on a channel. [borrowed] for og_core_new. */
struct og_goal_seed {
    const char *channel;
    const char *event; /* NULL: the file sets no goal on this channel */
    int window_days;
};

/* 1 when name may be a goal event: 1-64 of A-Z a-z 0-9 _ - . (the
 * characters of a success code, so either can be the goal). */
int og_goal_event_valid(const char *name);
/* 1 for 1, 3, 7, 15 and 30. */
int og_goal_days_valid(int64_t days);

/* The channel's goal: {"channel","goal":{"event","window_days"}|null,
 * "source":"config"|"api"|null,"updated_at"}. [xfer] */
og_err og_goal_get(struct og_core *c, const char *channel, char **json);
/* Sets (event non-NULL, window_days valid) or removes (event NULL) the
 * channel's goal, as v; *json [xfer] as og_goal_get. OG_ERR_INVALID for a
 * bad event or window; OG_ERR_CONFLICT (msg says why) when the config file
 * sets this channel's goal. The caller checked the channel exists. */
og_err og_goal_put(struct og_core *c, const struct og_viewer *v, const char *channel,
                   const char *event, int64_t window_days, char **json, char *msg, size_t msglen);
/* The business reports that a contact did name (a goal event): every open
 * goal window of the contact's sessions for that event is achieved.
 * *json [xfer] {"contact_id","name","at","achieved":["ses_…"]}.
 * OG_ERR_NOT_FOUND: no such contact; OG_ERR_INVALID: a bad name. */
og_err og_contact_event(struct og_core *c, const struct og_viewer *v, const char *contact_id,
                        const char *name, char **json);

/* core/ only. The config's goals as goals.lua's sync takes them [xfer]:
 * one seed per configured channel, event NULL where the file sets none
 * (a goal the file set before on it is then removed). */
char *og_goals_sync_json(const struct og_goal_seed *seeds, size_t n);
/* Writes the config's goals on the first call that reaches Redis (the
 * routing worker's pass); a no-op afterwards. */
void og_goals_sync(struct og_core *c);
#endif
