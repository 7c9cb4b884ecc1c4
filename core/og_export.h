/* og_export - the CSV exports (#20; docs/statistics.md) and the permanent
 * report links that serve them without signing in.
 *
 * Exports are RFC 4180 (comma-separated, fields with a comma, quote, CR or
 * LF quoted, quotes doubled, CRLF line ends), UTF-8, with a header row, and
 * produced page by page (og_export_next) so a response streams with flat
 * memory. Times are local to the query's zone with their offset
 * ("2030-06-14T11:20:00+02:00"). A text field that comes from outside and
 * starts with = + - @ (a spreadsheet formula) gets a leading apostrophe. */
#ifndef OG_EXPORT_H
#define OG_EXPORT_H
#include "og_core.h"
#include "og_sessions.h"
#include "og_stats.h"
#include "og_util.h"

enum og_report {
    OG_REPORT_AGENT_ACTIVITY,    /* presence intervals */
    OG_REPORT_AGENT_PERFORMANCE, /* per agent: chats, durations, presence, CSAT, goals */
    OG_REPORT_AGENTS,            /* every agent, deleted ones included */
    OG_REPORT_CONVERSATIONS,     /* one row per session created in the period */
    OG_REPORT_TRAFFIC,           /* per local hour: sessions, messages, queue waits */
    OG_REPORT__N
};
/* The report of a name ("agent_activity"...), -1 for none. */
int og_report_from_name(const char *name);
const char *og_report_name(int report);

struct og_export;
/* Checks q (as og_stats_compute does) and prepares the report. *out [xfer,
 * og_export_free]; OG_ERR_INVALID with a message for bad input. */
og_err og_export_open(struct og_core *c, int report, const struct og_stats_query *q,
                      struct og_export **out, char *msg, size_t msglen);
/* Appends the next rows (the header row first) to b: 1 while more may
 * follow, 0 once the report is complete, -1 on a storage error (the CSV is
 * then cut short). */
int og_export_next(struct og_export *x, struct og_buf *b);
void og_export_free(struct og_export *x);

/* Report links. A link serves one report with its filters (a JSON object
 * of channel, agent_id, group, success_code: strings) for any period. Its
 * token, 256 random bits in hex, is returned once and stored only as its
 * SHA-256. */
#define OG_REPORT_LINK_USES_PER_HOUR 60
/* Creates a link; *id and *token (65 bytes) filled. OG_ERR_INVALID (msg)
 * for an unknown report or filter. */
og_err og_report_link_create(struct og_core *c, const struct og_viewer *v, const char *report,
                             const char *filters_json, char id[48], char token[65], char *msg,
                             size_t msglen);
/* {"items":[{"id","report","filters","created_at","created_by","uses",
 * "last_used_at"}]} of the links not revoked. [xfer] */
og_err og_report_link_list(struct og_core *c, char **json);
/* Revokes a link: its token opens nothing from now on. OG_ERR_NOT_FOUND. */
og_err og_report_link_revoke(struct og_core *c, const char *id);
/* A use of token from addr (logged, allowed or not): its report and the
 * stored filters [xfer] as a JSON object. OG_ERR_NOT_FOUND for an unknown or
 * revoked token, OG_ERR_RATE_LIMITED past OG_REPORT_LINK_USES_PER_HOUR. */
og_err og_report_link_use(struct og_core *c, const char *token, const char *addr, int *report,
                          char **filters_json);
#endif
