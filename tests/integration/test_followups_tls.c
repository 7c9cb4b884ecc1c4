/* test_followups_tls - follow-ups over STARTTLS (smtp.starttls, smtp.ca_file)
 * against the aiosmtpd sink with a self-signed certificate for 127.0.0.1
 * (made with the openssl command line) that requires STARTTLS before AUTH:
 *   always + ca_file        -> sent over TLS with AUTH;
 *   always without ca_file  -> the certificate is not trusted: no mail, a
 *                              temporary failure retried until max_attempts,
 *                              then followup.failed;
 *   never                   -> the server refuses AUTH/MAIL in clear text
 *                              (530, 5xx): failed at once. */
#include "test_followups_kit.h"

static char *make_cert(const char *dir)
{
    char *cmd = og_sprintf("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem "
                           "-out %s/cert.pem -days 1 -subj /CN=127.0.0.1 "
                           "-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
                           dir, dir);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? og_sprintf("%s/cert.pem", dir) : NULL;
}

/* One daemon with one close rule and the given smtp members; closes one
 * session of user and returns its follow-ups [xfer]. */
static json_object *run_case(struct og_test_redis *rs, struct sink *s, const char *smtp_extra,
                             const char *user)
{
    char *extra =
        og_sprintf("\"smtp\":{\"url\":\"smtp://127.0.0.1:%d\",\"from\":\"s@example.com\","
                   "\"username\":\"gw\",\"password\":\"pw\",\"timeout_ms\":5000,"
                   "\"retry_initial_ms\":200,\"retry_max_ms\":400,\"max_attempts\":2,%s},"
                   "\"followups\":[{\"id\":\"t\",\"when\":\"session.closed\",\"subject\":\"TLS\","
                   "\"text\":\"{{transcript}}\"}]",
                   s->port, smtp_extra);
    struct og_test_daemon d;
    json_object *items = NULL;
    if (og_test_daemon_start(&d, rs->url, CHANNELS, extra) != 0) {
        CHECK(0);
        free(extra);
        return json_object_new_array();
    }
    redisContext *rc = rconn(rs);
    char *mid = og_sprintf("%s-1", user), *mail = og_sprintf("%s@example.com", user);
    CHECK_INT(post_msg(&d, mid, user, "T", mail, "secret stuff"), 200);
    char *sid = session_of(rc, user);
    free(close_session(rc, sid, "solved", "[]", NULL));
    items = wait_final(&d, sid, 15000);
    if (!items)
        items = json_object_new_array();
    free(sid), free(mid), free(mail);
    redisFree(rc);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    free(extra);
    return items;
}

int main(void)
{
    struct og_test_redis rs;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    char *cdir = og_test_tmpdir();
    char *cert = make_cert(cdir);
    CHECK(cert != NULL);
    struct sink s;
    char *args = og_sprintf("--tls %s/cert.pem %s/key.pem --auth gw:pw", cdir, cdir);
    if (!cert || sink_start(&s, args) != 0) {
        CHECK(0);
        og_test_redis_stop(&rs);
        return og_test_done();
    }

    /* trusted: sent over TLS, authenticated */
    char *ok_extra = og_sprintf("\"starttls\":\"always\",\"ca_file\":\"%s\"", cert);
    json_object *items = run_case(&rs, &s, ok_extra, "tina");
    json_object *f = json_object_array_get_idx(items, 0);
    CHECK_STR(fstr(f, "status"), "sent");
    CHECK_INT(json_object_get_int(json_object_object_get(f, "attempts")), 1);
    json_object_put(items);
    size_t n;
    char **mails = sink_mails(&s, &n);
    CHECK_INT(n, 1);
    if (n == 1) {
        char *v = header(mails[0], "X-TLS");
        CHECK_STR(v, "yes");
        free(v);
        v = header(mails[0], "X-AuthUser");
        CHECK_STR(v, "gw");
        free(v);
        v = header(mails[0], "X-RcptTo");
        CHECK_STR(v, "tina@example.com");
        free(v);
    }
    mails_free(mails, n);
    free(og_test_redis_cli(&rs, "FLUSHALL"));

    /* untrusted certificate: temporary, retried, then failed; nothing sent */
    items = run_case(&rs, &s, "\"starttls\":\"always\"", "ugo");
    f = json_object_array_get_idx(items, 0);
    CHECK_STR(fstr(f, "status"), "failed");
    CHECK_INT(json_object_get_int(json_object_object_get(f, "attempts")), 2);
    json_object *tries = json_object_object_get(f, "tries");
    CHECK_INT(json_object_array_length(tries), 2);
    CHECK_STR(fstr(json_object_array_get_idx(tries, 0), "outcome"), "retry");
    CHECK_STR(fstr(json_object_array_get_idx(tries, 1), "outcome"), "failed");
    json_object_put(items);
    CHECK_INT(sink_count(&s), 1);
    free(og_test_redis_cli(&rs, "FLUSHALL"));

    /* clear text where the server requires STARTTLS: 5xx, failed at once */
    items = run_case(&rs, &s, "\"starttls\":\"never\"", "vic");
    f = json_object_array_get_idx(items, 0);
    CHECK_STR(fstr(f, "status"), "failed");
    CHECK_INT(json_object_get_int(json_object_object_get(f, "attempts")), 1);
    json_object *t0 = json_object_array_get_idx(json_object_object_get(f, "tries"), 0);
    CHECK(json_object_get_int(json_object_object_get(t0, "smtp_code")) >= 500);
    json_object_put(items);
    CHECK_INT(sink_count(&s), 1);

    sink_stop(&s);
    og_test_rmdir(cdir);
    free(cdir), free(cert), free(args), free(ok_extra);
    og_test_redis_stop(&rs);
    return og_test_done();
}
