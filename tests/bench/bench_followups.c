/* bench_followups - the follow-ups' Redis steps and SMTP sending, measured
 * apart (core/og_followups.c, core/og_smtp.c), against a local redis-server
 * (AOF everysec) and the aiosmtpd sink (tests/integration/smtp_sink.py).
 *
 *   schedule  og_followups_on_closed for N closed sessions (one rule)
 *   deliver   claim (one at a time, as the worker does) + load (session, contact, 10-message
 *             transcript) + render + done(sent, with the followup.sent event),
 *             without SMTP: the per-follow-up cost omnigate adds
 *   arm       og_followups_on_message (one customer_silent rule)
 *   smtp      og_smtp_send of a rendered text+HTML mail to aiosmtpd, one
 *             connection per mail, sequential (what one sender thread does)
 *
 * usage: bench_followups [sessions (default 5000)] [mails (default 300)] */
#include "og_followups.h"
#include "og_log.h"
#include "og_smtp.h"
#include "og_test.h"
#include "og_util.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static double now_s(void)
{
    return (double)og_mono_ms() / 1000.0;
}

static void seed(redisContext *rc, size_t n)
{
    char iso[32];
    og_time_rfc3339(og_now_ms(), iso);
    for (size_t i = 0; i < n; i++) {
        unsigned long u = (unsigned long)i;
        redisAppendCommand(rc,
                           "HSET {og}:con:con_%lu id con_%lu channel demo "
                           "email c%lu@example.com name %s j %s",
                           u, u, u, "Bench Contact", "{}");
        redisAppendCommand(rc,
                           "HSET {og}:ses:ses_%lu id ses_%lu channel demo connector signed_json "
                           "status closed contact_id con_%lu created_at %s close_reason solved",
                           u, u, u, iso);
        for (int m = 0; m < 10; m++) {
            char *j = og_sprintf("{\"id\":\"msg_%lu_%d\",\"session_id\":\"ses_%lu\",\"direction\":"
                                 "\"in\",\"kind\":\"text\",\"text\":\"message number %d of the "
                                 "conversation\",\"sender\":{\"type\":\"contact\","
                                 "\"id\":\"con_%lu\",\"name\":\"Bench Contact\"},"
                                 "\"created_at\":\"%s\"",
                                 u, m, u, m, u, iso);
            redisAppendCommand(rc, "HSET {og}:msg:msg_%lu_%d j %s st delivered", u, m, j);
            redisAppendCommand(rc, "ZADD {og}:ses:ses_%lu:msgs 0 msg_%lu_%d", u, u, m);
            free(j);
        }
        for (int k = 0; k < 22; k++) {
            redisReply *r = NULL;
            redisGetReply(rc, (void **)&r);
            freeReplyObject(r);
        }
    }
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 5000;
    int mails = argc > 2 ? atoi(argv[2]) : 300;
    struct og_test_redis rs;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    redisContext *rc = redisConnect("127.0.0.1", rs.port);
    seed(rc, n);
    struct og_core *core = og_test_core_new(&rs, "og", 2);
    struct og_core *f = core;
    struct og_fup_rule close_rule = {.id = "thanks"},
                       silent_rule = {.id = "nudge", .silent = 1, .after_ms = 3600000};
    const struct og_fup_rule *cr[] = {&close_rule}, *sr[] = {&silent_rule};
    printf("%zu closed sessions with 10 messages each, local redis-server (AOF everysec)\n", n);

    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        char sid[32], eid[32];
        snprintf(sid, sizeof sid, "ses_%zu", i);
        snprintf(eid, sizeof eid, "evt_%zu", i);
        if (og_followups_on_closed(f, sid, eid, cr, 1, NULL, 0, NULL) != OG_OK)
            fprintf(stderr, "schedule failed\n");
    }
    double t1 = now_s();
    printf("schedule  %8.0f follow-ups/s  (%.1f us each)\n", n / (t1 - t0), (t1 - t0) * 1e6 / n);

    struct og_fup_templates t = {"Thanks, {{contact.name}}",
                                 "Hi {{contact.name}},\n{{transcript}}\n{{survey_url}}",
                                 "<p>Hi {{contact.name}}</p><div>{{transcript}}</div>"};
    size_t done = 0;
    double tc = 0, tl = 0, td = 0;
    t0 = now_s();
    for (;;) {
        struct og_fup_job *jobs = NULL;
        size_t nj = 0;
        double a = now_s();
        og_err ce = og_followups_claim(f, NULL, 0, 1, 60000, &jobs, &nj);
        tc += now_s() - a;
        if (ce != OG_OK)
            fprintf(stderr, "claim: %s\n", og_strerror(ce));
        if (nj == 0) {
            free(jobs);
            break;
        }
        for (size_t i = 0; i < nj; i++) {
            struct og_fup_data d;
            a = now_s();
            if (og_followups_load(f, jobs[i].id, &d) != OG_OK)
                continue;
            struct og_fup_mail m = {0};
            og_followups_render(&d, &t, "https://chat.example.com/csat/tok", &m);
            double b = now_s();
            tl += b - a;
            og_followups_done(f, &jobs[i], OG_FUP_SENT, 0, 250, NULL, d.email, m.subject, NULL);
            td += now_s() - b;
            og_fup_mail_clear(&m);
            og_fup_data_clear(&d);
            done++;
        }
        free(jobs);
    }
    t1 = now_s();
    printf("deliver   %8.0f follow-ups/s  without SMTP (%zu done; per follow-up: claim %.1f us, "
           "load+render %.1f us, done %.1f us)\n",
           done / (t1 - t0), done, tc * 1e6 / (done ? done : 1), tl * 1e6 / (done ? done : 1),
           td * 1e6 / (done ? done : 1));

    redisReply *r = redisCommand(rc, "HSET {og}:ses:ses_0 status active last_customer_ms %lld",
                                 (long long)og_now_ms());
    freeReplyObject(r);
    t0 = now_s();
    for (size_t i = 0; i < n; i++)
        og_followups_on_message(f, "ses_0", sr, 1);
    t1 = now_s();
    printf("arm       %8.0f messages/s    (%.1f us each)\n", n / (t1 - t0), (t1 - t0) * 1e6 / n);

    /* SMTP to aiosmtpd */
    char *dir = og_test_tmpdir();
    int port = og_test_free_port();
    char *script = og_test_src("tests/integration/smtp_sink.py");
    char *cmd =
        og_sprintf("exec /usr/bin/python3 %s %d %s/md > %s/out 2>&1", script, port, dir, dir);
    pid_t pid = og_test_fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    char *outp = og_sprintf("%s/out", dir);
    for (int i = 0; i < 200; i++) {
        char *o = og_test_read_file(outp, NULL);
        int ok = o && strstr(o, "ready");
        free(o);
        if (ok)
            break;
        usleep(50000);
    }
    char *url = og_sprintf("smtp://127.0.0.1:%d", port);
    struct og_smtp_conf sc = {.url = url,
                              .from = "Support <s@example.com>",
                              .starttls = OG_STARTTLS_NEVER,
                              .timeout_ms = 10000};
    struct og_mail mail = {.to = "c0@example.com",
                           .subject = "Danke \xe2\x9c\x93",
                           .text = "Hello\nthere",
                           .html = "<p>Hello</p>",
                           .message_id = "fup_x"};
    int ok = 0;
    t0 = now_s();
    for (int i = 0; i < mails; i++) {
        struct og_smtp_result res;
        ok += og_smtp_send(&sc, &mail, &res) == OG_OK;
    }
    t1 = now_s();
    printf("smtp      %8.1f mails/s       (%d/%d accepted; sequential, new connection each; "
           "aiosmtpd on loopback)\n",
           mails / (t1 - t0), ok, mails);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    og_test_rmdir(dir);
    free(dir), free(script), free(cmd), free(outp), free(url);
    og_core_free(core);
    redisFree(rc);
    og_test_redis_stop(&rs);
    return 0;
}
