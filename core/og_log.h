/* og_log - leveled logging to stderr. The level is checked before any
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
