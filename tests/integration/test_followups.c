/* test_followups - e-mail follow-ups end to end: a real redis-server, the
 * omnigate daemon (signed_json channel) and a real SMTP server on loopback
 * (aiosmtpd, tests/integration/smtp_sink.py).
 *
 * Scenarios A-D simulate the close: the routing area's close endpoint was
 * not in the tree when they were written, so close_session() runs
 * prelude.lua + a small script that does what a close does to the session
 * hash and index and XADDs the session.closed event in DESIGN.md's shape
 * (session JSON by prelude's session_json); that also lets A re-deliver the
 * very same event. Scenario E closes through the real endpoint
 * (POST /api/v1/sessions/{id}/close) once it existed.
 *
 *   A: AUTH; the first two DATA answered 451 -> retried with back-off, sent on
 *      the 3rd try; recipient, subject (RFC 2047, non-ASCII), transcript in
 *      text and escaped in HTML, Message-ID; every try recorded and readable
 *      through GET /sessions/{id}/followups; followup.sent event; a filtered
 *      rule (success_codes) does not fire; a redelivered close event schedules
 *      nothing new; opt-out suppresses; a contact without e-mail fails.
 *   B: the server answers 550 -> one try, followup.failed.
 *   C: wrong SMTP password (535) -> followup.failed.
 *   D: customer_silent on two omnigate instances sharing one Redis: fires
 *      exactly once per silence period, re-armed by a new customer message,
 *      never for a session closed before it was due.
 *   E: the real close endpoint: channels/reasons/success_codes filters pick
 *      the matching rule only; the agent's name from the agent store.
 *   F: durability: a follow-up due while omnigate is stopped is sent after
 *      the restart; an instance killed (-9) in the middle of the SMTP DATA
 *      leaves a lease that runs out, and the next instance sends it (the
 *      killed try is counted in attempts but, having never finished, has no
 *      entry in tries). */
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
#define CHANNELS                                                                           \
    "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET    \
    "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]"
#define AUTH "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\nContent-Type: application/json"

/* ------------------------------------------------------------ smtp sink */

struct sink {
    pid_t pid;
    int port;
    char *dir;
};

static int sink_start(struct sink *s, const char *extra)
{
    s->dir = og_test_tmpdir();
    s->port = og_test_free_port();
    char *script = og_test_src("tests/integration/smtp_sink.py");
    char *cmd = og_sprintf("exec /usr/bin/python3 %s %d %s/md %s > %s/sink.out 2>&1", script,
                           s->port, s->dir, extra ? extra : "", s->dir);
    s->pid = fork();
    if (s->pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    free(script);
    free(cmd);
    char *out_path = og_sprintf("%s/sink.out", s->dir);
    int ok = 0;
    for (int i = 0; i < 200 && !ok; i++) {
        char *out = og_test_read_file(out_path, NULL);
        ok = out && strstr(out, "ready");
        free(out);
        if (!ok)
            usleep(50000);
    }
    free(out_path);
    if (!ok)
        fprintf(stderr, "smtp sink did not start\n");
    return ok ? 0 : -1;
}

static void sink_stop(struct sink *s)
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
static char **sink_mails(struct sink *s, size_t *n)
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

static void mails_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static size_t sink_count(struct sink *s)
{
    size_t n = 0;
    char **v = sink_mails(s, &n);
    mails_free(v, n);
    return n;
}

static char *sink_attempts(struct sink *s)
{
    char *p = og_sprintf("%s/md/attempts.log", s->dir);
    char *t = og_test_read_file(p, NULL);
    free(p);
    return t ? t : og_strdup("");
}

/* ------------------------------------------------------- mail decoding */

/* The value of header name (unfolded), [xfer] or NULL. */
static char *header(const char *mail, const char *name)
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
static char *decode_words(const char *v)
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
static char *qp_decode(const char *s)
{
    struct og_buf b = {0};
    og_buf_append(&b, "", 0);
    while (*s) {
        if (s[0] == '=' && s[1] == '\r' && s[2] == '\n') {
            s += 3;
        } else if (s[0] == '=' && s[1] == '\n') {
            s += 2;
        } else if (s[0] == '=' && isxdigit((unsigned char)s[1]) &&
                   isxdigit((unsigned char)s[2])) {
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

static long post_msg(struct og_test_daemon *d, const char *id, const char *user,
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
    unsigned char mac[32];
    char hex[65];
    og_hmac_sha256(SECRET, strlen(SECRET), b.data, b.len, mac);
    og_hex_encode(mac, 32, hex, sizeof hex);
    char *h = og_sprintf("X-Signature: sha256=%s\nContent-Type: application/json", hex);
    char *url = og_sprintf("%s/hooks/demo", d->base);
    struct og_test_resp r = og_test_http("POST", url, h, b.data, b.len);
    free(h), free(url), free(r.body);
    og_buf_free(&b);
    return r.status;
}

static redisContext *rconn(struct og_test_redis *rs)
{
    return redisConnect("127.0.0.1", rs->port);
}

/* The session of a thread (user id) of channel demo. [xfer] */
static char *session_of(redisContext *rc, const char *user)
{
    redisReply *r = redisCommand(rc, "GET {og}:thread:demo:%s", user);
    char *s = r && r->type == REDIS_REPLY_STRING ? og_strdup(r->str) : NULL;
    freeReplyObject(r);
    return s;
}

static char *contact_of(redisContext *rc, const char *sid)
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
static char *close_session(redisContext *rc, const char *sid, const char *reason,
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
    redisReply *r = redisCommand(rc, "EVAL %s 0 {og} %s %s %s %s %s", src, sid, reason,
                                 codes_json, iso, eid);
    if (!r || r->type == REDIS_REPLY_ERROR)
        fprintf(stderr, "close script: %s\n", r ? r->str : "no reply");
    freeReplyObject(r);
    free(prelude_path), free(prelude), free(src);
    return og_strdup(eid);
}

static json_object *followups(struct og_test_daemon *d, const char *sid)
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

static const char *fstr(json_object *o, const char *k)
{
    return json_object_get_string(json_object_object_get(o, k));
}

/* Waits until the session's first follow-up has a final status. [xfer] */
static json_object *wait_final(struct og_test_daemon *d, const char *sid, int ms)
{
    for (int t = 0; t < ms; t += 100) {
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
static size_t count_events(redisContext *rc, const char *type, const char *needle)
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

static long patch(struct og_test_daemon *d, const char *cid, const char *body, char **out)
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

static char *smtp_json(struct sink *s, const char *auth, const char *more)
{
    return og_sprintf("\"public_url\":\"https://chat.example.com\","
                      "\"smtp\":{\"url\":\"smtp://127.0.0.1:%d\",%s\"from\":\"Support Team "
                      "<support@example.com>\",\"starttls\":\"never\",\"timeout_ms\":5000,"
                      "\"retry_initial_ms\":300,\"retry_max_ms\":1000,\"max_attempts\":4},"
                      "\"followups\":%s",
                      s->port, auth ? auth : "", more);
}

/* ---------------------------------------------------------------- A */

static void scenario_a(struct og_test_redis *rs)
{
    struct sink s;
    if (sink_start(&s, "--auth gw:pw --fail-first 2") != 0) {
        CHECK(0);
        return;
    }
    char *extra = smtp_json(
        &s, "\"username\":\"gw\",\"password\":\"pw\",",
        "[{\"id\":\"thanks\",\"when\":\"session.closed\",\"reasons\":[\"solved\"],"
        "\"subject\":\"Danke, {{contact.name}} \\u2713\","
        "\"text\":\"Hi {{contact.name}} on {{channel}} ({{session.id}}).\\n{{transcript}}"
        "\\nRate: {{survey_url}}\","
        "\"html\":\"<p>Hi {{contact.name}}</p><div>{{transcript}}</div>\"},"
        "{\"id\":\"vip\",\"when\":\"session.closed\",\"success_codes\":[\"sale\"],"
        "\"subject\":\"VIP\",\"text\":\"x\"}]");
    struct og_test_daemon d;
    if (og_test_daemon_start(&d, rs->url, CHANNELS, extra) != 0) {
        CHECK(0);
        free(extra);
        sink_stop(&s);
        return;
    }
    redisContext *rc = rconn(rs);

    CHECK_INT(post_msg(&d, "a-1", "ann", "Ann <b>", "ann@example.com", "hello there\nline two"),
              200);
    char *sid = session_of(rc, "ann");
    CHECK(sid != NULL);
    if (!sid)
        goto out;
    char *eid = close_session(rc, sid, "solved", "[\"other\"]", NULL);
    json_object *items = wait_final(&d, sid, 15000);
    CHECK_INT(json_object_array_length(items), 1); /* vip (success_codes sale) did not fire */
    json_object *f = json_object_array_get_idx(items, 0);
    CHECK_STR(fstr(f, "status"), "sent");
    CHECK_STR(fstr(f, "rule"), "thanks");
    CHECK_STR(fstr(f, "to"), "ann@example.com");
    CHECK_STR(fstr(f, "subject"), "Danke, Ann <b> \xe2\x9c\x93");
    CHECK_INT(json_object_get_int(json_object_object_get(f, "attempts")), 3);
    json_object *tries = json_object_object_get(f, "tries");
    CHECK_INT(json_object_array_length(tries), 3);
    json_object *t0 = json_object_array_get_idx(tries, 0);
    json_object *t2 = json_object_array_get_idx(tries, 2);
    CHECK_STR(fstr(t0, "outcome"), "retry");
    CHECK_INT(json_object_get_int(json_object_object_get(t0, "smtp_code")), 451);
    CHECK_STR(fstr(t2, "outcome"), "sent");
    char *att = sink_attempts(&s);
    CHECK_STR(att, "451 ann@example.com\n451 ann@example.com\n250 ann@example.com\n");
    free(att);
    const char *fid = fstr(f, "id");
    CHECK_INT(count_events(rc, "followup.sent", fid), 1);
    CHECK_INT(count_events(rc, "followup.failed", NULL), 0);

    size_t n;
    char **mails = sink_mails(&s, &n);
    CHECK_INT(n, 1);
    if (n == 1) {
        char *v = header(mails[0], "X-RcptTo");
        CHECK_STR(v, "ann@example.com");
        free(v);
        v = header(mails[0], "X-MailFrom");
        CHECK_STR(v, "support@example.com");
        free(v);
        v = header(mails[0], "X-AuthUser");
        CHECK_STR(v, "gw");
        free(v);
        v = header(mails[0], "From");
        CHECK_STR(v, "Support Team <support@example.com>");
        free(v);
        v = header(mails[0], "To");
        CHECK_STR(v, "<ann@example.com>");
        free(v);
        v = header(mails[0], "Subject");
        CHECK(v && strncmp(v, "=?UTF-8?B?", 10) == 0); /* non-ASCII: encoded word */
        char *dec = v ? decode_words(v) : NULL;
        CHECK_STR(dec, "Danke, Ann <b> \xe2\x9c\x93");
        free(dec), free(v);
        v = header(mails[0], "Message-ID");
        char *want = og_sprintf("<%s@example.com>", fid);
        CHECK_STR(v, want);
        free(want), free(v);
        v = header(mails[0], "Date");
        CHECK(v && strlen(v) >= 29 && strstr(v, "+0000"));
        free(v);
        v = header(mails[0], "Content-Type");
        CHECK(v && strstr(v, "multipart/"));
        free(v);
        char *body = qp_decode(mails[0]);
        CHECK(strstr(body, "multipart/alternative") != NULL);
        CHECK(strstr(body, "text/plain; charset=UTF-8") != NULL);
        CHECK(strstr(body, "text/html; charset=UTF-8") != NULL);
        char *line = og_sprintf("Hi Ann <b> on demo (%s).", sid);
        CHECK(strstr(body, line) != NULL);
        free(line);
        CHECK(strstr(body, "] Ann <b>: hello there\n  line two") != NULL ||
              strstr(body, "] Ann <b>: hello there\r\n  line two") != NULL);
        line = og_sprintf("Rate: https://chat.example.com/csat/%s", sid);
        CHECK(strstr(body, line) != NULL);
        free(line);
        CHECK(strstr(body, "<p>Hi Ann &lt;b&gt;</p>") != NULL);
        CHECK(strstr(body, "] Ann &lt;b&gt;: hello there<br>") != NULL);
        free(body);
    }
    mails_free(mails, n);

    /* the same close event delivered again: nothing new */
    free(close_session(rc, sid, "solved", "[\"other\"]", eid));
    usleep(1500000);
    json_object_put(items);
    items = followups(&d, sid);
    CHECK_INT(json_object_array_length(items), 1);
    CHECK_INT(sink_count(&s), 1);
    json_object_put(items);
    free(eid);

    /* opt-out suppresses: no mail, recorded as suppressed, no event */
    CHECK_INT(post_msg(&d, "a-2", "bob", "Bob", "bob@example.com", "hi"), 200);
    char *sid2 = session_of(rc, "bob");
    char *cid2 = sid2 ? contact_of(rc, sid2) : NULL;
    char *out = NULL;
    CHECK_INT(patch(&d, cid2 ? cid2 : "x", "{\"followups_opt_out\":true}", &out), 200);
    CHECK(strstr(out, "\"followups_opt_out\":true") != NULL);
    free(out);
    free(close_session(rc, sid2, "solved", "[]", NULL));
    items = wait_final(&d, sid2, 10000);
    f = json_object_array_get_idx(items, 0);
    CHECK_STR(fstr(f, "status"), "suppressed");
    CHECK_INT(sink_count(&s), 1);
    CHECK_INT(count_events(rc, "followup.sent", NULL), 1);
    CHECK_INT(count_events(rc, "followup.failed", NULL), 0);
    json_object_put(items);

    /* no e-mail address: failed, with followup.failed */
    CHECK_INT(post_msg(&d, "a-3", "cat", "Cat", NULL, "meow"), 200);
    char *sid3 = session_of(rc, "cat");
    free(close_session(rc, sid3, "solved", "[]", NULL));
    items = wait_final(&d, sid3, 10000);
    f = json_object_array_get_idx(items, 0);
    CHECK_STR(fstr(f, "status"), "failed");
    CHECK_STR(fstr(f, "last_error"), "contact has no e-mail address");
    CHECK_INT(count_events(rc, "followup.failed", sid3), 1);
    json_object_put(items);
    free(sid2), free(cid2), free(sid3);
    free(sid);
out:
    redisFree(rc);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    free(extra);
    sink_stop(&s);
}

/* ---------------------------------------------------------------- B, C */

static void scenario_fail(struct og_test_redis *rs, const char *sink_args, const char *auth,
                          const char *user, long want_code)
{
    struct sink s;
    if (sink_start(&s, sink_args) != 0) {
        CHECK(0);
        return;
    }
    char *extra = smtp_json(&s, auth, "[{\"id\":\"bye\",\"when\":\"session.closed\","
                                      "\"subject\":\"Bye\",\"text\":\"{{transcript}}\"}]");
    struct og_test_daemon d;
    if (og_test_daemon_start(&d, rs->url, CHANNELS, extra) != 0) {
        CHECK(0);
        free(extra);
        sink_stop(&s);
        return;
    }
    redisContext *rc = rconn(rs);
    char *mid = og_sprintf("%s-1", user);
    char *mail = og_sprintf("%s@example.com", user);
    CHECK_INT(post_msg(&d, mid, user, "Dee", mail, "hello"), 200);
    char *sid = session_of(rc, user);
    free(close_session(rc, sid, "solved", "[]", NULL));
    json_object *items = wait_final(&d, sid, 10000);
    json_object *f = json_object_array_get_idx(items, 0);
    CHECK_STR(fstr(f, "status"), "failed");
    CHECK_INT(json_object_get_int(json_object_object_get(f, "attempts")), 1); /* no retry */
    json_object *t0 = json_object_array_get_idx(json_object_object_get(f, "tries"), 0);
    CHECK_INT(json_object_get_int(json_object_object_get(t0, "smtp_code")), want_code);
    CHECK_STR(fstr(t0, "outcome"), "failed");
    CHECK_INT(count_events(rc, "followup.failed", fstr(f, "id")), 1);
    CHECK_INT(sink_count(&s), 0);
    json_object_put(items);
    free(sid), free(mid), free(mail);
    redisFree(rc);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    free(extra);
    sink_stop(&s);
}

/* ---------------------------------------------------------------- D */

static void scenario_silence(struct og_test_redis *rs)
{
    struct sink s;
    if (sink_start(&s, NULL) != 0) {
        CHECK(0);
        return;
    }
    char *extra = smtp_json(&s, NULL, "[{\"id\":\"nudge\",\"when\":\"customer_silent\","
                                      "\"after_s\":1,\"subject\":\"Still there?\","
                                      "\"text\":\"{{contact.name}}, still there?\"}]");
    struct og_test_daemon d1, d2;
    if (og_test_daemon_start(&d1, rs->url, CHANNELS, extra) != 0) {
        CHECK(0);
        free(extra);
        sink_stop(&s);
        return;
    }
    if (og_test_daemon_start(&d2, rs->url, CHANNELS, extra) != 0) {
        CHECK(0);
        og_test_daemon_stop(&d1);
        og_test_daemon_free(&d1);
        free(extra);
        sink_stop(&s);
        return;
    }
    redisContext *rc = rconn(rs);
    /* messages through both instances; the customer then stays silent */
    CHECK_INT(post_msg(&d1, "s-1", "eve", "Eve", "eve@example.com", "question"), 200);
    CHECK_INT(post_msg(&d2, "s-2", "eve", "Eve", "eve@example.com", "another"), 200);
    /* a session closed before its silence is due gets nothing */
    CHECK_INT(post_msg(&d2, "s-3", "fay", "Fay", "fay@example.com", "bye"), 200);
    char *sid_f = session_of(rc, "fay");
    free(close_session(rc, sid_f, "solved", "[]", NULL));
    usleep(3500000);
    CHECK_INT(sink_count(&s), 1);
    char *sid = session_of(rc, "eve");
    json_object *items = followups(&d2, sid);
    CHECK_INT(json_object_array_length(items), 1);
    CHECK_STR(fstr(json_object_array_get_idx(items, 0), "status"), "sent");
    json_object_put(items);
    items = followups(&d1, sid_f);
    CHECK_INT(json_object_array_length(items), 0);
    json_object_put(items);
    /* a new customer message re-arms it: one more, once */
    CHECK_INT(post_msg(&d1, "s-4", "eve", "Eve", "eve@example.com", "still here"), 200);
    usleep(3500000);
    CHECK_INT(sink_count(&s), 2);
    items = followups(&d1, sid);
    CHECK_INT(json_object_array_length(items), 2);
    json_object_put(items);
    size_t n;
    char **mails = sink_mails(&s, &n);
    for (size_t i = 0; i < n; i++) {
        char *v = header(mails[i], "Subject");
        CHECK_STR(v, "Still there?");
        free(v);
        v = header(mails[i], "X-RcptTo");
        CHECK_STR(v, "eve@example.com");
        free(v);
    }
    mails_free(mails, n);
    CHECK_INT(count_events(rc, "followup.sent", NULL), 2);
    free(sid), free(sid_f);
    redisFree(rc);
    CHECK_INT(og_test_daemon_stop(&d1), 0);
    CHECK_INT(og_test_daemon_stop(&d2), 0);
    og_test_daemon_free(&d1);
    og_test_daemon_free(&d2);
    free(extra);
    sink_stop(&s);
}

/* ---------------------------------------------------------------- E */

static void scenario_close_endpoint(struct og_test_redis *rs)
{
    struct sink s;
    if (sink_start(&s, NULL) != 0) {
        CHECK(0);
        return;
    }
    char *extra = smtp_json(
        &s, NULL,
        "[{\"id\":\"sale\",\"when\":\"session.closed\",\"channels\":[\"demo\"],"
        "\"reasons\":[\"solved\"],\"success_codes\":[\"sale\",\"upsell\"],"
        "\"subject\":\"Thanks for buying\",\"text\":\"{{agent.name}} / {{session.close_reason}}\"},"
        "{\"id\":\"lost\",\"when\":\"session.closed\",\"reasons\":[\"no_response\"],"
        "\"subject\":\"Lost\",\"text\":\"x\"},"
        "{\"id\":\"other-channel\",\"when\":\"session.closed\",\"channels\":[\"tg\"],"
        "\"subject\":\"TG\",\"text\":\"x\"}]");
    struct og_test_daemon d;
    if (og_test_daemon_start(&d, rs->url, CHANNELS, extra) != 0) {
        CHECK(0);
        free(extra);
        sink_stop(&s);
        return;
    }
    redisContext *rc = rconn(rs);
    CHECK_INT(post_msg(&d, "e-1", "gus", "Gus", "gus@example.com", "I want it"), 200);
    char *sid = session_of(rc, "gus");
    /* an agent in the agent store, assigned to the session */
    redisReply *r = redisCommand(rc, "HSET {og}:agent:agt_TEST name %s", "Zoe Agent");
    freeReplyObject(r);
    r = redisCommand(rc, "HSET {og}:ses:%s agent_id agt_TEST", sid);
    freeReplyObject(r);
    char *url = og_sprintf("%s/api/v1/sessions/%s/close", d.base, sid);
    const char *body = "{\"reason\":\"solved\",\"success_codes\":[\"sale\"]}";
    struct og_test_resp cr = og_test_http("POST", url, AUTH, body, strlen(body));
    if (cr.status != 200)
        fprintf(stderr, "close: %ld %s\n", cr.status, cr.body);
    CHECK_INT(cr.status, 200);
    free(cr.body);
    free(url);
    json_object *items = wait_final(&d, sid, 10000);
    CHECK_INT(json_object_array_length(items), 1);
    json_object *f = json_object_array_get_idx(items, 0);
    CHECK_STR(fstr(f, "rule"), "sale");
    CHECK_STR(fstr(f, "status"), "sent");
    json_object_put(items);
    size_t n;
    char **mails = sink_mails(&s, &n);
    CHECK_INT(n, 1);
    if (n == 1) {
        char *b = qp_decode(mails[0]);
        CHECK(strstr(b, "Zoe Agent / solved") != NULL);
        free(b);
    }
    mails_free(mails, n);
    free(sid);
    redisFree(rc);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    free(extra);
    sink_stop(&s);
}

/* ---------------------------------------------------------------- F */

static int attempts_has(struct sink *s, const char *needle)
{
    char *a = sink_attempts(s);
    int r = strstr(a, needle) != NULL;
    free(a);
    return r;
}

static void scenario_durable(struct og_test_redis *rs)
{
    struct sink s;
    if (sink_start(&s, "--stall-first 6") != 0) {
        CHECK(0);
        return;
    }
    char *extra = og_sprintf(
        "\"smtp\":{\"url\":\"smtp://127.0.0.1:%d\",\"from\":\"s@example.com\","
        "\"starttls\":\"never\",\"timeout_ms\":3000,\"retry_initial_ms\":300,"
        "\"retry_max_ms\":1000},"
        "\"followups\":[{\"id\":\"later\",\"when\":\"session.closed\",\"after_s\":2,"
        "\"subject\":\"Later\",\"text\":\"{{transcript}}\"}]",
        s.port);
    struct og_test_daemon d;
    if (og_test_daemon_start(&d, rs->url, CHANNELS, extra) != 0) {
        CHECK(0);
        free(extra);
        sink_stop(&s);
        return;
    }
    redisContext *rc = rconn(rs);
    CHECK_INT(post_msg(&d, "f-1", "hal", "Hal", "hal@example.com", "ping"), 200);
    char *sid = session_of(rc, "hal");
    free(close_session(rc, sid, "solved", "[]", NULL));
    usleep(300000); /* the close event is consumed and the follow-up scheduled */
    CHECK_INT(og_test_daemon_stop(&d), 0);
    usleep(2500000); /* due now, but nobody runs */
    CHECK_INT(sink_count(&s), 0);
    CHECK(!attempts_has(&s, "hal@"));
    CHECK_INT(og_test_daemon_restart(&d), 0);
    /* wait for the (stalled) DATA, then kill -9 the sender in the middle of it */
    int stalled = 0;
    for (int i = 0; i < 200 && !stalled; i++) {
        stalled = attempts_has(&s, "0 hal@example.com");
        if (!stalled)
            usleep(25000);
    }
    CHECK(stalled);
    og_test_daemon_kill(&d);
    CHECK_INT(og_test_daemon_restart(&d), 0);
    json_object *items = wait_final(&d, sid, 25000);
    json_object *f = json_object_array_get_idx(items, 0);
    CHECK_STR(fstr(f, "status"), "sent");
    CHECK_INT(json_object_get_int(json_object_object_get(f, "attempts")), 2);
    json_object *tries = json_object_object_get(f, "tries");
    CHECK_INT(json_object_array_length(tries), 1);
    CHECK_INT(json_object_get_int(json_object_object_get(json_object_array_get_idx(tries, 0),
                                                         "attempt")),
              2);
    CHECK_INT(sink_count(&s), 1);
    CHECK_INT(count_events(rc, "followup.sent", NULL), 1);
    json_object_put(items);
    free(sid);
    redisFree(rc);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    free(extra);
    sink_stop(&s);
}

static void flush(struct og_test_redis *rs)
{
    free(og_test_redis_cli(rs, "FLUSHALL"));
}

int main(void)
{
    struct og_test_redis rs;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    scenario_a(&rs);
    flush(&rs);
    scenario_fail(&rs, "--reject", NULL, "dee", 550);
    flush(&rs);
    scenario_fail(&rs, "--auth gw:pw", "\"username\":\"gw\",\"password\":\"wrong\",", "dan",
                  535);
    flush(&rs);
    scenario_silence(&rs);
    flush(&rs);
    scenario_close_endpoint(&rs);
    flush(&rs);
    scenario_durable(&rs);
    og_test_redis_stop(&rs);
    return og_test_done();
}
