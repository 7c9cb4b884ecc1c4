/* og_followups - the e-mail follow-ups' state in Redis (the contact's
 * e-mail is the recipient: og_contacts.h).
 *
 * Every step is one call of core/lua/followups.lua, so each is atomic:
 *   schedule on close  - one follow-up per matching rule and trigger (the
 *                        event id: a redelivered event creates nothing new);
 *   arm on a message   - (re)sets each customer_silent rule's timer to the
 *                        customer's last message + after, in P:timers:silence;
 *   claim              - fires due silence timers into follow-ups and leases
 *                        due follow-ups to the caller (ZRANGEBYSCORE + ZADD of
 *                        a lease in one script: with several instances each
 *                        follow-up goes to exactly one; an instance that dies
 *                        mid-send loses the lease and another one retries);
 *   done               - records the try in P:followup:<id>:attempts, and
 *                        ends (sent/failed/suppressed, with followup.sent /
 *                        followup.failed events) or re-schedules (retry).
 *
 * Rendering (og_followups_render) turns a loaded follow-up and its rule's
 * templates into the subject and bodies (og_template.h). */
#ifndef OG_FOLLOWUPS_H
#define OG_FOLLOWUPS_H
#include "og_core.h"

#include <json-c/json.h>
#include <stdint.h>

/* A rule as the core needs it ([borrowed] strings). */
struct og_fup_rule {
    const char *id;
    int silent; /* 1 = customer_silent, 0 = session.closed */
    int64_t after_ms;
    /* session.closed only: the closed session must match each filter that
     * is not empty (its channel, its close reason, one of its codes). */
    const char *const *channels;
    size_t n_channels;
    const char *const *reasons;
    size_t n_reasons;
    const char *const *success_codes;
    size_t n_success_codes;
};

/* The follow-ups' part of one event of P:events (og_stream.h; the consumer
 * group "followups"): session.closed schedules the close rules the session
 * matches and disarms its silence timers; message.received re-arms every
 * customer_silent rule's timer. OG_OK when the event may be acknowledged
 * (each step is idempotent, so a redelivery is harmless); *made counts the
 * follow-ups created (may be NULL). */
struct og_stream_entry;
og_err og_followups_on_event(struct og_core *c, const struct og_fup_rule *rules, size_t n,
                             const struct og_stream_entry *e, int *made);

/* Schedules rules[i] (already matched against the session) for the close
 * event trigger (its event id), due at now + after_ms, and disarms the
 * session's silence timers of silent[]. *made = follow-ups created. */
og_err og_followups_on_closed(struct og_core *c, const char *sid, const char *trigger,
                              const struct og_fup_rule *const *rules, size_t n,
                              const struct og_fup_rule *const *silent, size_t ns, int *made);
/* Re-arms the silence timers of silent[] for the session. */
og_err og_followups_on_message(struct og_core *c, const char *sid,
                               const struct og_fup_rule *const *silent, size_t ns);

struct og_fup_job {
    char id[48];
    char attempt[16]; /* the attempt number as claimed (text, for "done") */
    char rule[72];
    char session[48];
};
/* Claims up to limit due follow-ups (firing due silence timers first) with
 * a lease of lease_ms. *jobs [xfer, free()]. */
og_err og_followups_claim(struct og_core *c, const struct og_fup_rule *const *silent, size_t ns,
                          int limit, int64_t lease_ms, struct og_fup_job **jobs, size_t *njobs);

/* What a follow-up is rendered from. Strings [xfer, og_fup_data_clear]. */
struct og_fup_data {
    json_object *session; /* the session JSON */
    char *email, *name, *phone, *agent_name;
    int opt_out;
    json_object *messages; /* array of message JSON, oldest first */
};
/* OG_ERR_NOT_FOUND when the follow-up or its session is gone. */
og_err og_followups_load(struct og_core *c, const char *id, struct og_fup_data *d);
void og_fup_data_clear(struct og_fup_data *d);

/* Templates of one rule ([borrowed]); html may be NULL. */
struct og_fup_templates {
    const char *subject, *text, *html;
};
struct og_fup_mail { /* [xfer, og_fup_mail_clear] */
    char *subject, *text, *html;
};
/* survey_url: {{survey_url}}, the session's signed survey link
 * (og_csat_link: "<public_url>/csat/<token>"); NULL or "" = none. */
void og_followups_render(const struct og_fup_data *d, const struct og_fup_templates *t,
                         const char *survey_url, struct og_fup_mail *out);
void og_fup_mail_clear(struct og_fup_mail *m);

enum og_fup_outcome { OG_FUP_SENT, OG_FUP_RETRY, OG_FUP_FAILED, OG_FUP_SUPPRESSED };
/* Records one try. next_due_ms for OG_FUP_RETRY. code = SMTP reply (0 none);
 * detail/to/subject may be NULL. *stale = 1 when the lease had run out and
 * another instance owns the follow-up now (nothing recorded). */
og_err og_followups_done(struct og_core *c, const struct og_fup_job *job,
                         enum og_fup_outcome outcome, int64_t next_due_ms, long code,
                         const char *detail, const char *to, const char *subject, int *stale);

/* {"items":[followup...]} for GET /sessions/{id}/followups. [xfer] */
og_err og_followups_list(struct og_core *c, const char *sid, char **json);

#endif
