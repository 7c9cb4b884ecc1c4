/* test_followups - e-mail follow-ups end to end: a real redis-server, the
 * omnigate daemon (signed_json channel) and a real SMTP server on loopback
 * (aiosmtpd, tests/integration/smtp_sink.py).
 *
 * Scenarios A-D simulate the close: the routing area's close endpoint was
 * not in the tree when they were written, so close_session() runs
 * prelude.lua + a small script that does what a close does to the session
 * hash and index and XADDs the session.closed event in docs/json.md's shape
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
#include "og_csat.h"
#include "test_followups_kit.h"

/* ---------------------------------------------------------------- A */

static void scenario_a(struct og_test_redis *rs)
{
    struct sink s;
    if (sink_start(&s, "--auth gw:pw --fail-first 2") != 0) {
        CHECK(0);
        return;
    }
    char *extra =
        smtp_json(&s, "\"username\":\"gw\",\"password\":\"pw\",",
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
        line = og_sprintf("Rate: https://chat.example.com/csat/%s.", sid);
        const char *link = strstr(body, line);
        CHECK(link != NULL);
        free(line);
        /* {{survey_url}} is a signed token for this session (og_csat.h),
         * valid about 30 days, which the daemon's survey page takes */
        if (link) {
            const char *tok = strstr(link, "/csat/") + 6;
            size_t tl = strcspn(tok, " \r\n<\"");
            unsigned char key[32];
            og_csat_key(OG_TEST_ADMIN_TOKEN, key);
            char got[48];
            int expired = 1;
            int64_t now_s = og_now_ms() / 1000;
            CHECK_INT(og_csat_token_check(key, tok, tl, now_s, got, sizeof got, &expired), OG_OK);
            CHECK_STR(got, sid);
            CHECK_INT(og_csat_token_check(key, tok, tl, now_s + OG_CSAT_LINK_TTL_S - 60, got,
                                          sizeof got, &expired),
                      OG_OK);
            CHECK_INT(og_csat_token_check(key, tok, tl, now_s + OG_CSAT_LINK_TTL_S + 60, got,
                                          sizeof got, &expired),
                      OG_ERR_SIGNATURE);
            CHECK_INT(expired, 1);
            char *url = og_sprintf("%s/csat/%.*s", d.base, (int)tl, tok);
            struct og_test_resp pr = og_test_http("GET", url, "Accept: application/json", NULL, 0);
            CHECK_INT(pr.status, 200);
            CHECK(strstr(pr.body, "\"scale\":5") != NULL); /* no channels[].csat: the default */
            free(pr.body);
            /* the e-mail's link takes one answer */
            const char *jh = "Content-Type: application/json\nAccept: application/json";
            pr = og_test_http("POST", url, jh, "{\"score\":4}", 11);
            CHECK_INT(pr.status, 200);
            CHECK(strstr(pr.body, "\"score\":4") != NULL);
            free(pr.body);
            pr = og_test_http("POST", url, jh, "{\"score\":2}", 11);
            CHECK_INT(pr.status, 410);
            CHECK(strstr(pr.body, "link_used") != NULL);
            free(pr.body), free(url);
        }
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
    char *extra = smtp_json(&s, auth,
                            "[{\"id\":\"bye\",\"when\":\"session.closed\","
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
    char *extra = smtp_json(&s, NULL,
                            "[{\"id\":\"nudge\",\"when\":\"customer_silent\","
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
    if (sink_start(&s, "--stall-first 10") != 0) {
        CHECK(0);
        return;
    }
    char *extra =
        og_sprintf("\"smtp\":{\"url\":\"smtp://127.0.0.1:%d\",\"from\":\"s@example.com\","
                   "\"starttls\":\"never\",\"timeout_ms\":6000,\"retry_initial_ms\":300,"
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
    /* wait for the (stalled) DATA, then kill -9 the sender in the middle of it
     * (well within its 6 s SMTP timeout, even if the restart above took a while
     * to report ready; the sink holds the DATA for 10 s) */
    int stalled = 0;
    for (int i = 0; i < 200 && !stalled; i++) {
        stalled = attempts_has(&s, "0 hal@example.com");
        if (!stalled)
            usleep(25000);
    }
    CHECK(stalled);
    og_test_daemon_kill(&d);
    CHECK_INT(og_test_daemon_restart(&d), 0);
    json_object *items = wait_final(&d, sid, 30000);
    json_object *f = json_object_array_get_idx(items, 0);
    CHECK_STR(fstr(f, "status"), "sent");
    /* The killed attempt counts but leaves no try. On a slow machine the
     * stalled first attempt may also have timed out (and been recorded as a
     * temporary failure) just before the kill; either way the tries are the
     * attempts minus the killed one, the last try is the successful one, and
     * exactly one mail arrived. */
    int attempts = json_object_get_int(json_object_object_get(f, "attempts"));
    json_object *tries = json_object_object_get(f, "tries");
    size_t ntries = json_object_array_length(tries);
    CHECK(attempts >= 2);
    CHECK_INT(ntries, attempts - 1);
    json_object *last_try = json_object_array_get_idx(tries, ntries ? ntries - 1 : 0);
    CHECK_INT(json_object_get_int(json_object_object_get(last_try, "attempt")), attempts);
    CHECK_STR(json_object_get_string(json_object_object_get(last_try, "outcome")), "sent");
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
    scenario_fail(&rs, "--auth gw:pw", "\"username\":\"gw\",\"password\":\"wrong\",", "dan", 535);
    flush(&rs);
    scenario_silence(&rs);
    flush(&rs);
    scenario_close_endpoint(&rs);
    flush(&rs);
    scenario_durable(&rs);
    og_test_redis_stop(&rs);
    return og_test_done();
}
