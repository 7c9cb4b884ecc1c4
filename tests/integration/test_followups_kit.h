/* test_followups_kit - what the follow-up tests share: the aiosmtpd sink
 * (smtp_sink.py) started and read as a maildir, header and quoted-printable
 * decoding, posting customer messages through the signed_json channel, the
 * simulated close, and reading follow-ups through the API. Static inline so
 * each test includes only what it uses without unused-function warnings. */
#ifndef TEST_FOLLOWUPS_KIT_H
#define TEST_FOLLOWUPS_KIT_H
#include "og_test.h"
#include "og_util.h"

#include <ctype.h>
#include <dirent.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define CHANNELS                                                                                   \
    "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET            \
    "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]"
#define AUTH "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\nContent-Type: application/json"

/* ------------------------------------------------------------ smtp sink */

struct sink {
    pid_t pid;
    int port;
    char *dir;
};

static inline int sink_start(struct sink *s, const char *extra)
{
    s->dir = og_test_tmpdir();
    s->port = og_test_free_port();
    char *script = og_test_src("tests/integration/smtp_sink.py");
    char *cmd = og_sprintf("exec /usr/bin/python3 %s %d %s/md %s > %s/sink.out 2>&1", script,
                           s->port, s->dir, extra ? extra : "", s->dir);
    s->pid = og_test_fork();
    if (s->pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    free(script);
    free(cmd);
    char *out_path = og_sprintf("%s/sink.out", s->dir);
    int ok = og_test_wait_file(out_path, "ready", 10000);
    free(out_path);
    if (!ok)
        fprintf(stderr, "smtp sink did not start\n");
    return ok ? 0 : -1;
}

static inline void sink_stop(struct sink *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
    }
    og_test_rmdir(s->dir);
    free(s->dir);
    s->pid = 0;
}

/* Stored messages, [xfer] array of texts; *n gets the count. */
static inline char **sink_mails(struct sink *s, size_t *n)
{
    char *d = og_sprintf("%s/md/new", s->dir);
    DIR *dp = opendir(d);
    char **v = NULL;
    *n = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *p = og_sprintf("%s/%s", d, e->d_name);
        v = og_realloc(v, (*n + 1) * sizeof *v);
        v[(*n)++] = og_test_read_file(p, NULL);
        free(p);
    }
    if (dp)
        closedir(dp);
    free(d);
    return v;
}

static inline void mails_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static inline size_t sink_count(struct sink *s)
{
    size_t n = 0;
    char **v = sink_mails(s, &n);
    mails_free(v, n);
    return n;
}

static inline char *sink_attempts(struct sink *s)
{
    char *p = og_sprintf("%s/md/attempts.log", s->dir);
    char *t = og_test_read_file(p, NULL);
    free(p);
    return t ? t : og_strdup("");
}

/* ------------------------------------------------------- mail decoding */

/* The value of header name (unfolded), [xfer] or NULL. */
static inline char *header(const char *mail, const char *name)
{
    size_t nl = strlen(name);
    const char *p = mail;
    while (p && *p && !(*p == '\n' || (*p == '\r' && p[1] == '\n'))) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            struct og_buf b = {0};
            const char *v = p + nl + 1;
            for (;;) {
                size_t l = strcspn(v, "\r\n");
                og_buf_append(&b, v, l);
                v += l;
                if (*v == '\r')
                    v++;
                if (*v == '\n')
                    v++;
                if (*v != ' ' && *v != '\t')
                    break;
            }
            og_buf_append(&b, "", 0);
            char *s = b.data;
            while (*s == ' ')
                memmove(s, s + 1, strlen(s));
            return s;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

/* Decodes =?UTF-8?B?...?= words (the only kind og_smtp writes). [xfer] */
static inline char *decode_words(const char *v)
{
    struct og_buf b = {0};
    og_buf_append(&b, "", 0);
    while (*v) {
        const char *s = strstr(v, "=?UTF-8?B?");
        if (!s) {
            og_buf_puts(&b, v);
            break;
        }
        /* whitespace between two encoded words is dropped (RFC 2047 6.2) */
        const char *t = v;
        while (t < s && (*t == ' ' || *t == '\t'))
            t++;
        if (t != s || b.len == 0)
            og_buf_append(&b, v, (size_t)(s - v));
        const char *e = strstr(s + 10, "?=");
        if (!e)
            break;
        unsigned char out[256];
        size_t n = og_base64_decode(s + 10, (size_t)(e - s - 10), out, sizeof out);
        og_buf_append(&b, out, n);
        v = e + 2;
    }
    return b.data;
}

/* Quoted-printable decoding of the whole text (headers are unaffected). */
static inline char *qp_decode(const char *s)
{
    struct og_buf b = {0};
    og_buf_append(&b, "", 0);
    while (*s) {
        if (s[0] == '=' && s[1] == '\r' && s[2] == '\n') {
            s += 3;
        } else if (s[0] == '=' && s[1] == '\n') {
            s += 2;
        } else if (s[0] == '=' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
            char h[3] = {s[1], s[2], 0};
            unsigned char c = (unsigned char)strtol(h, NULL, 16);
            og_buf_append(&b, &c, 1);
            s += 3;
        } else {
            og_buf_append(&b, s, 1);
            s++;
        }
    }
    return b.data;
}

/* ------------------------------------------------------------- helpers */

static inline long post_msg(struct og_test_daemon *d, const char *id, const char *user,
                            const char *name, const char *email, const char *text)
{
    struct og_buf b = {0};
    og_buf_puts(&b, "{\"id\":");
    og_buf_json_str(&b, id);
    og_buf_puts(&b, ",\"from\":{\"id\":");
    og_buf_json_str(&b, user);
    og_buf_puts(&b, ",\"name\":");
    og_buf_json_str(&b, name);
    if (email) {
        og_buf_puts(&b, ",\"email\":");
        og_buf_json_str(&b, email);
    }
    og_buf_puts(&b, "},\"text\":");
    og_buf_json_str(&b, text);
    og_buf_puts(&b, "}");
    long st = og_test_post_signed(d, "demo", SECRET, b.data, b.len);
    og_buf_free(&b);
    return st;
}

static inline redisContext *rconn(struct og_test_redis *rs)
{
    return redisConnect("127.0.0.1", rs->port);
}

/* a thread's session (core/lua/prelude.lua thread_get: hash P:th:<ch>:<first
 * three hex digits of SHA-1(thread)>) */
#define THREAD_GET "return redis.call('HGET', KEYS[1] .. redis.sha1hex(ARGV[1]):sub(1, 3), ARGV[1])"

/* The session of a thread (user id) of channel demo. [xfer] */
static inline char *session_of(redisContext *rc, const char *user)
{
    redisReply *r = redisCommand(rc, "EVAL %s 1 {og}:th:demo: %s", THREAD_GET, user);
    char *s = r && r->type == REDIS_REPLY_STRING ? og_strdup(r->str) : NULL;
    freeReplyObject(r);
    return s;
}

static inline char *contact_of(redisContext *rc, const char *sid)
{
    redisReply *r = redisCommand(rc, "HGET {og}:ses:%s contact_id", sid);
    char *s = r && r->type == REDIS_REPLY_STRING ? og_strdup(r->str) : NULL;
    freeReplyObject(r);
    return s;
}

static const char CLOSE_LUA[] =
    "local P, sid, reason, codes, now_iso, eid = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], "
    "ARGV[6]\n"
    "local skey = k(P, 'ses', sid)\n"
    "local st = redis.call('HGET', skey, 'status')\n"
    "redis.call('HSET', skey, 'closed_at', now_iso, 'close_reason', reason, 'success_codes', "
    "codes, 'updated_at', now_iso)\n"
    "set_status(P, sid, st, 'closed')\n"
    "emit(P, eid, 'session.closed', sid, now_iso, '{\"session\":' .. session_json(P, sid) .. "
    "'}')\n"
    "return eid\n";

/* Closes the session as the close endpoint would; returns the event id
 * [xfer]. With eid given, re-emits that event (a redelivery). */
static inline char *close_session(redisContext *rc, const char *sid, const char *reason,
                                  const char *codes_json, const char *eid_in)
{
    char *prelude_path = og_test_src("core/lua/prelude.lua");
    char *prelude = og_test_read_file(prelude_path, NULL);
    char *src = og_sprintf("%s\n%s", prelude, CLOSE_LUA);
    char eid[64], iso[32];
    if (eid_in)
        snprintf(eid, sizeof eid, "%s", eid_in);
    else
        og_id_new("evt_", og_now_ms(), eid, sizeof eid);
    og_time_rfc3339(og_now_ms(), iso);
    redisReply *r =
        redisCommand(rc, "EVAL %s 0 {og} %s %s %s %s %s", src, sid, reason, codes_json, iso, eid);
    if (!r || r->type == REDIS_REPLY_ERROR)
        fprintf(stderr, "close script: %s\n", r ? r->str : "no reply");
    freeReplyObject(r);
    free(prelude_path), free(prelude), free(src);
    return og_strdup(eid);
}

static inline json_object *followups(struct og_test_daemon *d, const char *sid)
{
    char *p = og_sprintf("/api/v1/sessions/%s/followups", sid);
    long st = 0;
    json_object *j = og_test_api_get(d, p, &st);
    free(p);
    json_object *items = json_object_object_get(j, "items");
    json_object *out = items ? json_object_get(items) : NULL;
    json_object_put(j);
    return out;
}

static inline const char *fstr(json_object *o, const char *k)
{
    return json_object_get_string(json_object_object_get(o, k));
}

/* Waits until the session's first follow-up has a final status. [xfer] */
static inline json_object *wait_final(struct og_test_daemon *d, const char *sid, int ms)
{
    /* at least 30 s of wall time: a sanitizer build on a loaded machine once
     * took over 10 s from a close to its follow-up (the loop ends as soon as
     * the follow-up is final) */
    if (ms < 30000)
        ms = 30000;
    int64_t until = og_now_ms() + ms;
    while (og_now_ms() < until) {
        json_object *items = followups(d, sid);
        json_object *f = json_object_array_get_idx(items, 0);
        const char *st = f ? fstr(f, "status") : NULL;
        if (st && (!strcmp(st, "sent") || !strcmp(st, "failed") || !strcmp(st, "suppressed")))
            return items;
        json_object_put(items);
        usleep(100000);
    }
    return followups(d, sid);
}

/* Events of a type in the stream, as JSON texts [xfer array]. */
static inline size_t count_events(redisContext *rc, const char *type, const char *needle)
{
    redisReply *r = redisCommand(rc, "XRANGE {og}:events - +");
    size_t n = 0;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *f = r->element[i]->element[1];
        const char *t = NULL, *ev = NULL;
        for (size_t j = 0; j + 1 < f->elements; j += 2) {
            if (!strcmp(f->element[j]->str, "type"))
                t = f->element[j + 1]->str;
            if (!strcmp(f->element[j]->str, "event"))
                ev = f->element[j + 1]->str;
        }
        if (t && !strcmp(t, type) && (!needle || (ev && strstr(ev, needle))))
            n++;
    }
    freeReplyObject(r);
    return n;
}

static inline long patch(struct og_test_daemon *d, const char *cid, const char *body, char **out)
{
    char *url = og_sprintf("%s/api/v1/contacts/%s", d->base, cid);
    struct og_test_resp r = og_test_http("PATCH", url, AUTH, body, strlen(body));
    free(url);
    if (out)
        *out = r.body;
    else
        free(r.body);
    return r.status;
}

static inline char *smtp_json(struct sink *s, const char *auth, const char *more)
{
    return og_sprintf("\"public_url\":\"https://chat.example.com\","
                      "\"smtp\":{\"url\":\"smtp://127.0.0.1:%d\",%s\"from\":\"Support Team "
                      "<support@example.com>\",\"starttls\":\"never\",\"timeout_ms\":5000,"
                      "\"retry_initial_ms\":300,\"retry_max_ms\":1000,\"max_attempts\":4},"
                      "\"followups\":%s",
                      s->port, auth ? auth : "", more);
}

#endif
