/* og_log - leveled logging to stderr (log_file: a file, og_log_open), as
 * text lines or JSON objects (og_log_json). The level is checked before any
 * formatting (OG_LOG), so disabled debug lines cost one comparison. Lines that
 * concern a channel carry "[channel:<id>]" so a deployment with many channels
 * can be grepped. Secrets must never reach a log line. */
#ifndef OG_LOG_H
#define OG_LOG_H
#include "og_err.h"

#include <omnigate/connector.h>
#include <stdarg.h>
#include <stdatomic.h>

/* enum og_log_level; default OG_LOG_INFO. Atomic: SIGHUP changes it while
 * every thread logs. */
extern _Atomic int og_log_level;

void og_log_write(int level, const char *scope, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void og_log_vwrite(int level, const char *scope, const char *fmt, va_list ap);
/* Sends the log (standard error, and so whatever the embedded redis-server
 * writes) to path, appended, created 0640 when missing; path NULL puts it
 * back on the standard error the process started with. SIGHUP calls it
 * again with the same path, so a log renamed by logrotate is let go and a
 * new file started. 0, or -1 with errno (the log stays where it was). */
int og_log_open(const char *path);
/* log_format "json": each line one JSON object (time, level, channel or
 * scope, request_id, msg; an access line adds method, route, status,
 * duration_ms and client). 0 = text lines. */
extern _Atomic int og_log_json;

/* The request this thread is answering (X-Request-Id), carried by every
 * line it logs until cleared with NULL. Ids longer than the maximum are
 * cut (the HTTP server accepts only shorter ones). */
#define OG_LOG_REQUEST_ID_MAX 64
void og_log_set_request(const char *id);

/* One access log line (info, scope "access"), never held back by the
 * flood limit: one per API request is what an access log is. */
struct og_log_access {
    const char *method, *route; /* route: the template, "/api/v1/sessions/:id" */
    int status;
    double duration_ms;
    const char *client; /* the address the edge names (behind trusted proxies too) */
};
void og_log_access_write(const struct og_log_access *a);

/* Parses "error|warn|info|debug"; returns -1 when unknown. */
int og_log_level_parse(const char *s);

#define OG_LOG(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((lvl) <= og_log_level)                                                                 \
            og_log_write((lvl), NULL, __VA_ARGS__);                                                \
    } while (0)
#define og_error(...) OG_LOG(OG_LOG_ERROR, __VA_ARGS__)
#define og_warn(...) OG_LOG(OG_LOG_WARN, __VA_ARGS__)
#define og_info(...) OG_LOG(OG_LOG_INFO, __VA_ARGS__)
#define og_debug(...) OG_LOG(OG_LOG_DEBUG, __VA_ARGS__)
#endif
