/* og_log - see og_log.h. One write(2) per line so concurrent lines from the
 * HTTP thread pool never interleave. */
#include "og_log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int og_log_level = OG_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int og_log_level_parse(const char *s)
{
    for (int i = 0; i <= OG_LOG_DEBUG; i++)
        if (s && strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

void og_log_vwrite(int level, const char *scope, const char *fmt, va_list ap)
{
    if (level > og_log_level)
        return; /* OG_LOG checks before formatting; direct callers rely on this */
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (level < 0 || level > OG_LOG_DEBUG)
        level = OG_LOG_DEBUG;
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s%s%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], scope ? "[" : "",
                     scope ? scope : "", scope ? "] " : "");
    if (n < 0)
        return;
    if ((size_t)n < sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void og_log_write(int level, const char *scope, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    og_log_vwrite(level, scope, fmt, ap);
    va_end(ap);
}
