/* og_log - see og_log.h. One write(2) per line so concurrent lines from the
 * HTTP thread pool never interleave.
 *
 * Floods are cut at their source: each call site (its format string and
 * level) may write LOG_BURST lines at once and LOG_RATE per second after
 * that; what it writes beyond is counted, and the next line it may write
 * says how many were left out (a Redis outage once wrote 113,501 lines in
 * 3.5 s). A call site is known by its format's address, so lines with
 * different arguments from one place share one budget. */
#include "og_log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

_Atomic int og_log_level = OG_LOG_INFO;

/* The standard error the process started with (og_log_open(NULL)); -1
 * until a file is opened the first time. */
static int original_stderr = -1;

int og_log_open(const char *path)
{
    int fd;
    if (path) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            return -1;
    } else if (original_stderr < 0) {
        return 0; /* still on it */
    } else {
        fd = original_stderr;
    }
    if (original_stderr < 0)
        original_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    /* dup2 replaces descriptor 2 in one step: a line written meanwhile goes
     * whole to the old file or the new one */
    int rc = dup2(fd, STDERR_FILENO) < 0 ? -1 : 0;
    if (fd != original_stderr)
        close(fd);
    return rc;
}

#define LOG_SITES 256  /* call sites tracked at once (open addressing, evicting) */
#define LOG_BURST 20.0 /* lines a call site may write at once */
#define LOG_RATE 5.0   /* and per second after that */

struct site {
    const char *fmt;
    int level;
    double tokens;
    int64_t last_ns;
    unsigned long long dropped;
};

static struct site sites[LOG_SITES];
static pthread_mutex_t sites_mu = PTHREAD_MUTEX_INITIALIZER;

/* 1 when this call site may write now; *dropped gets what it left out
 * since its last line (to be said in this one). */
static int may_write(const char *fmt, int level, int64_t now_ns, unsigned long long *dropped)
{
    uintptr_t h = ((uintptr_t)fmt >> 3) * 2654435761u + (uintptr_t)level;
    struct site *s = &sites[h % LOG_SITES];
    pthread_mutex_lock(&sites_mu);
    if (s->fmt != fmt || s->level != level) /* new, or evicting another site */
        *s = (struct site){fmt, level, LOG_BURST, now_ns, 0};
    s->tokens += (double)(now_ns - s->last_ns) / 1e9 * LOG_RATE;
    if (s->tokens > LOG_BURST)
        s->tokens = LOG_BURST;
    s->last_ns = now_ns;
    int ok = s->tokens >= 1.0;
    if (ok) {
        s->tokens -= 1.0;
        *dropped = s->dropped;
        s->dropped = 0;
    } else {
        s->dropped++;
    }
    pthread_mutex_unlock(&sites_mu);
    return ok;
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int og_log_level_parse(const char *s)
{
    for (int i = 0; i <= OG_LOG_DEBUG; i++)
        if (s && strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

_Atomic int og_log_json;
static _Thread_local char request_id[OG_LOG_REQUEST_ID_MAX + 1];

void og_log_set_request(const char *id)
{
    size_t n = id ? strlen(id) : 0; /* cut short as snprintf would, without its format */
    if (n >= sizeof request_id)
        n = sizeof request_id - 1;
    memcpy(request_id, id ? id : "", n);
    request_id[n] = '\0';
}

/* s as a JSON string's contents (no quotes) at b[*n..size), cut short
 * rather than split an escape. */
static void json_esc(char *b, size_t size, int *n, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t at = (size_t)*n;
    for (const unsigned char *p = (const unsigned char *)s; *p && at + 7 < size; p++) {
        if (*p == '"' || *p == '\\') {
            b[at++] = '\\';
            b[at++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            memcpy(b + at, "\\u00", 4);
            b[at + 4] = hex[*p >> 4];
            b[at + 5] = hex[*p & 15];
            at += 6;
        } else {
            b[at++] = (char)*p;
        }
    }
    *n = (int)at;
}

/* Appends to line at *n (bounded by size). */
static void put(char *line, size_t size, int *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *line, size_t size, int *n, const char *fmt, ...)
{
    if ((size_t)*n >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line + *n, size - (size_t)*n, fmt, ap);
    va_end(ap);
    if (k > 0)
        *n = (size_t)(*n + k) < size ? *n + k : (int)size - 1;
}

/* Writes one line: text "<time> <level> [scope] msg req=<id>" or, with
 * log_format json, one object with time, level, channel (a scope
 * "channel:<id>") or scope, request_id, msg and the access fields. */
static void emit(int level, const char *scope, const char *msg, const struct og_log_access *acc)
{
    char line[4096];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (level < 0 || level > OG_LOG_DEBUG)
        level = OG_LOG_DEBUG;
    char when[64];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    const size_t size = sizeof line - 2; /* room for "}\n" */
    int n = 0;
    if (!og_log_json) {
        put(line, size, &n, "%s %-5s %s%s%s%s", when, level_names[level], scope ? "[" : "",
            scope ? scope : "", scope ? "] " : "", msg);
        if (request_id[0])
            put(line, size, &n, " req=%s", request_id);
    } else {
        put(line, size, &n, "{\"time\":\"%s\",\"level\":\"%s\"", when, level_names[level]);
        if (scope) {
            int chan = strncmp(scope, "channel:", 8) == 0;
            put(line, size, &n, ",\"%s\":\"", chan ? "channel" : "scope");
            json_esc(line, size, &n, chan ? scope + 8 : scope);
            put(line, size, &n, "\"");
        }
        if (request_id[0]) {
            put(line, size, &n, ",\"request_id\":\"");
            json_esc(line, size, &n, request_id);
            put(line, size, &n, "\"");
        }
        if (acc) {
            put(line, size, &n, ",\"method\":\"");
            json_esc(line, size, &n, acc->method);
            put(line, size, &n, "\",\"route\":\"");
            json_esc(line, size, &n, acc->route);
            put(line, size, &n, "\",\"status\":%d,\"duration_ms\":%.3f,\"client\":\"", acc->status,
                acc->duration_ms);
            json_esc(line, size, &n, acc->client);
            put(line, size, &n, "\"");
        }
        put(line, size, &n, ",\"msg\":\"");
        json_esc(line, size, &n, msg);
        if ((size_t)n > size - 1)
            n = (int)size - 1;
        line[n++] = '"';
        line[n++] = '}';
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void og_log_vwrite(int level, const char *scope, const char *fmt, va_list ap)
{
    if (level > og_log_level)
        return; /* OG_LOG checks before formatting; direct callers rely on this */
    struct timespec mono;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    unsigned long long dropped = 0;
    if (!may_write(fmt, level, (int64_t)mono.tv_sec * 1000000000 + mono.tv_nsec, &dropped))
        return;
    char msg[2048];
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    if (n < 0)
        return;
    if (dropped && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, " (%llu more like this not logged)", dropped);
    emit(level, scope, msg, NULL);
}

void og_log_access_write(const struct og_log_access *a)
{
    if (OG_LOG_INFO > og_log_level)
        return;
    char msg[640];
    snprintf(msg, sizeof msg, "%s %s %d %.1f ms from %s", a->method, a->route, a->status,
             a->duration_ms, a->client);
    emit(OG_LOG_INFO, "access", msg, a);
}

void og_log_write(int level, const char *scope, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    og_log_vwrite(level, scope, fmt, ap);
    va_end(ap);
}
