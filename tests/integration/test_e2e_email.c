/* test_e2e_email - the e-mail connector end to end: the real daemon with a
 * redis-server, a dovecot of its own (IMAPS with a test CA, mail put in
 * through LMTP) and the aiosmtpd sink for replies, all on 127.0.0.1.
 *
 * One story, in order: a new mail becomes a session within 2 s (IDLE); an
 * agent's reply reaches the sink with From, To, Message-ID, In-Reply-To,
 * References and "Re: <subject> [#token]"; the customer's answer to it
 * continues the session; with the daemon stopped, a new conversation and an
 * answer carrying only the subject token arrive, and after the restart both
 * are stored once, in the right sessions; the mailbox's UIDVALIDITY changes
 * and nothing is stored twice; an auto-reply and a bounce make no session,
 * the bounce marks our reply failed with the DSN's reason; an HTML-only
 * ISO-8859-1 mail with a PDF; a conversation an agent starts; dovecot
 * stopped and started again (one warning for the outage, the mail sent
 * meanwhile stored); and a channel without ca_file refusing the test CA's
 * certificate, logged once, storing nothing. */
#include "og_test_dovecot.h"
#include "test_followups_kit.h"

#include <time.h>

#define CH "mail"

struct world {
    struct og_test_redis rs;
    struct og_test_dovecot dc;
    struct sink sink;
    struct og_test_daemon d;
    redisContext *rc;
};

/* ------------------------------------------------------------ helpers */

static char *daemon_log(const struct og_test_daemon *d)
{
    char *p = og_sprintf("%s/omnigate.log", d->dir);
    char *t = og_test_read_file(p, NULL);
    free(p);
    return t ? t : og_strdup("");
}

static size_t count_in(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Waits until the daemon's log has needle at least n times; the count. */
static size_t wait_log(const struct og_test_daemon *d, const char *needle, size_t n, int ms)
{
    size_t c = 0;
    for (int t = 0; t <= ms; t += 50) {
        char *log = daemon_log(d);
        c = count_in(log, needle);
        free(log);
        if (c >= n)
            break;
        usleep(50000);
    }
    return c;
}

static char *mail(const char *from, const char *msgid, const char *subject, const char *headers,
                  const char *body)
{
    return og_sprintf("From: %s\r\nTo: Support <support@example.com>\r\nSubject: %s\r\n"
                      "Message-ID: <%s>\r\nDate: Mon, 8 Jan 2024 10:00:00 +0000\r\n%s"
                      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
                      from, subject, msgid, headers ? headers : "", body);
}

static int deliver(struct world *w, const char *user, const char *env_from, const char *raw)
{
    int r = og_test_dovecot_deliver(&w->dc, user, env_from, raw, strlen(raw));
    CHECK_INT(r, 0);
    return r;
}

/* The channel's sessions [xfer] (the "items" array). */
static json_object *sessions(struct world *w, const char *channel)
{
    char *path = og_sprintf("/api/v1/sessions?channel=%s&limit=100", channel);
    json_object *j = og_test_api_get(&w->d, path, NULL);
    free(path);
    json_object *items = j ? json_object_object_get(j, "items") : NULL;
    json_object *out = items ? json_object_get(items) : json_object_new_array();
    json_object_put(j);
    return out;
}

static size_t n_sessions(struct world *w, const char *channel)
{
    json_object *s = sessions(w, channel);
    size_t n = json_object_array_length(s);
    json_object_put(s);
    return n;
}

static json_object *messages(struct world *w, const char *sid)
{
    char *path = og_sprintf("/api/v1/sessions/%s/messages?limit=100", sid);
    json_object *j = og_test_api_get(&w->d, path, NULL);
    free(path);
    json_object *items = j ? json_object_object_get(j, "items") : NULL;
    json_object *out = items ? json_object_get(items) : json_object_new_array();
    json_object_put(j);
    return out;
}

static size_t n_messages(struct world *w, const char *sid)
{
    json_object *m = messages(w, sid);
    size_t n = json_object_array_length(m);
    json_object_put(m);
    return n;
}

static size_t wait_sessions(struct world *w, size_t n, int ms)
{
    size_t c = 0;
    for (int t = 0; t <= ms; t += 50) {
        if ((c = n_sessions(w, CH)) >= n)
            break;
        usleep(50000);
    }
    return c;
}

static size_t wait_messages(struct world *w, const char *sid, size_t n, int ms)
{
    size_t c = 0;
    for (int t = 0; t <= ms; t += 50) {
        if ((c = n_messages(w, sid)) >= n)
            break;
        usleep(50000);
    }
    return c;
}

/* The session of a contact address [xfer], or NULL. */
static char *session_of_contact(struct world *w, const char *addr)
{
    json_object *s = sessions(w, CH);
    char *sid = NULL;
    for (size_t i = 0; !sid && i < json_object_array_length(s); i++) {
        json_object *it = json_object_array_get_idx(s, i);
        json_object *c = json_object_object_get(it, "contact");
        const char *ext = fstr(c, "external_id");
        if (ext && strcmp(ext, addr) == 0)
            sid = og_strdup(fstr(it, "id"));
    }
    json_object_put(s);
    return sid;
}

static long post_json(struct world *w, const char *path, const char *body, char **out)
{
    char *url = og_sprintf("%s%s", w->d.base, path);
    struct og_test_resp r = og_test_http("POST", url, AUTH, body, strlen(body));
    free(url);
    if (out)
        *out = r.body;
    else
        free(r.body);
    return r.status;
}

/* 1 when mail's header name contains needle. */
static int header_has(const char *mail, const char *name, const char *needle)
{
    char *h = header(mail, name);
    int ok = h && strstr(h, needle) != NULL;
    if (!ok)
        fprintf(stderr, "%s: \"%s\" lacks \"%s\"\n", name, h ? h : "(none)", needle);
    free(h);
    return ok;
}

/* The sink mail carrying header name: value containing needle [xfer]. */
static char *sink_find(struct world *w, const char *name, const char *needle, int ms)
{
    for (int t = 0; t <= ms; t += 100) {
        size_t k = 0;
        char **v = sink_mails(&w->sink, &k);
        char *found = NULL;
        for (size_t i = 0; i < k && !found; i++) {
            char *h = header(v[i], name);
            if (h && strstr(h, needle))
                found = og_strdup(v[i]);
            free(h);
        }
        mails_free(v, k);
        if (found)
            return found;
        usleep(100000);
    }
    return NULL;
}

/* The outbound message of a session (the n-th one, oldest first) [xfer]. */
static json_object *outbound(struct world *w, const char *sid, int nth)
{
    json_object *m = messages(w, sid);
    json_object *found = NULL;
    for (size_t i = 0; i < json_object_array_length(m) && !found; i++) {
        json_object *it = json_object_array_get_idx(m, i);
        const char *dir = fstr(it, "direction");
        if (dir && !strcmp(dir, "out") && nth-- == 0)
            found = json_object_get(it);
    }
    json_object_put(m);
    return found;
}

static json_object *wait_out_status(struct world *w, const char *sid, int nth, const char *status,
                                    int ms)
{
    for (int t = 0; t <= ms; t += 100) {
        json_object *o = outbound(w, sid, nth);
        const char *st = o ? fstr(o, "status") : NULL;
        if (st && !strcmp(st, status))
            return o;
        json_object_put(o);
        usleep(100000);
    }
    return outbound(w, sid, nth);
}

static int64_t mono_ms(void)
{
    return og_mono_ms();
}

/* What the daemon and dovecot said, for a failure's diagnosis. */
static void dump_logs(const struct world *w)
{
    char *log = daemon_log(&w->d);
    fprintf(stderr, "---- omnigate.log\n%s\n", log);
    free(log);
    char *p = og_sprintf("%s/dovecot.log", w->dc.dir);
    log = og_test_read_file(p, NULL);
    fprintf(stderr, "---- dovecot.log\n%s\n", log ? log : "");
    free(log), free(p);
}

/* ------------------------------------------------------------ the story */

static int start_world(struct world *w)
{
    memset(w, 0, sizeof *w);
    if (og_test_redis_start(&w->rs) != 0)
        return -1;
    if (og_test_dovecot_start(&w->dc, 1) != 0)
        return -1;
    if (sink_start(&w->sink, NULL) != 0)
        return -1;
    char *channels = og_sprintf(
        "[{\"id\":\"" CH "\",\"connector\":\"email\",\"options\":{"
        "\"imap_url\":\"imaps://127.0.0.1:%d\",\"username\":\"alice\",\"password\":\"secret\","
        "\"ca_file\":\"%s\",\"smtp_url\":\"smtp://127.0.0.1:%d\",\"smtp_starttls\":\"never\","
        "\"from\":\"Support Team <support@example.com>\",\"poll_interval_s\":60}},"
        "{\"id\":\"noca\",\"connector\":\"email\",\"options\":{"
        "\"imap_url\":\"imaps://127.0.0.1:%d\",\"username\":\"bob\",\"password\":\"secret\","
        "\"smtp_url\":\"smtp://127.0.0.1:%d\",\"smtp_starttls\":\"never\","
        "\"from\":\"Other <other@example.com>\"}}]",
        w->dc.imap_port, w->dc.ca_file, w->sink.port, w->dc.imap_port, w->sink.port);
    int r = og_test_daemon_start(&w->d, w->rs.url, channels,
                                 "\"send\":{\"retry_backoff_ms\":200,\"retry_max_ms\":500}");
    free(channels);
    if (r != 0)
        return -1;
    w->rc = rconn(&w->rs);
    /* mail delivered before the first SELECT is "already there" and left
     * alone: wait for the connector to have its cursor */
    if (wait_log(&w->d, "[channel:" CH "] email: first start", 1, 10000) != 1) {
        CHECK(!"the connector connected");
        dump_logs(w);
        return -1;
    }
    return 0;
}

static void stop_world(struct world *w)
{
    if (w->rc)
        redisFree(w->rc);
    if (w->d.pid > 0)
        CHECK_INT(og_test_daemon_stop(&w->d), 0); /* a clean exit (no sanitizer report) */
    if (w->d.dir)
        og_test_daemon_free(&w->d);
    if (w->sink.dir)
        sink_stop(&w->sink);
    og_test_dovecot_free(&w->dc);
    og_test_redis_stop(&w->rs);
}

int main(void)
{
    struct world w;
    if (start_world(&w) != 0) {
        stop_world(&w);
        CHECK(!"the servers started");
        return og_test_done();
    }

    /* 1. A new mail becomes a session within 2 s, pushed by IDLE (the poll
     * interval is 60 s). */
    char *a1 = mail("Carla Customer <Carla@Example.NET>", "a1@example.net", "Where is my order?",
                    NULL, "Hello,\r\nmy order 1042 is late.\r\n\r\nCarla");
    int64_t t0 = mono_ms();
    deliver(&w, "alice", "carla@example.net", a1);
    CHECK_INT(wait_sessions(&w, 1, 5000), 1);
    int64_t took = mono_ms() - t0;
    fprintf(stderr, "delivery to session: %lld ms\n", (long long)took);
    CHECK(took <= 2000);
    free(a1);
    char *sid = session_of_contact(&w, "carla@example.net");
    CHECK(sid != NULL);
    if (!sid) {
        stop_world(&w);
        return og_test_done();
    }
    json_object *msgs = messages(&w, sid);
    json_object *m0 = json_object_array_get_idx(msgs, 0);
    CHECK_STR(fstr(m0, "text"),
              "Subject: Where is my order?\n\nHello,\nmy order 1042 is late.\n\nCarla");
    CHECK_STR(fstr(m0, "provider_message_id"), "a1@example.net");
    json_object_put(msgs);

    /* 2. The agent's reply reaches the sink, threaded. */
    char *path = og_sprintf("/api/v1/sessions/%s/messages", sid);
    CHECK_INT(post_json(&w, path, "{\"text\":\"Hello Carla,\\nit ships today.\"}", NULL), 202);
    char *reply = sink_find(&w, "In-Reply-To", "<a1@example.net>", 10000);
    CHECK(reply != NULL);
    char *our_id = NULL, *token = NULL;
    if (reply) {
        CHECK(header_has(reply, "To", "carla@example.net"));
        CHECK(header_has(reply, "From", "Support Team <support@example.com>"));
        CHECK(header_has(reply, "References", "<a1@example.net>"));
        CHECK(header_has(reply, "X-RcptTo", "carla@example.net"));
        CHECK(header_has(reply, "X-MailFrom", "support@example.com"));
        char *h = header(reply, "Subject");
        char *subj = h ? decode_words(h) : NULL;
        CHECK(subj && strncmp(subj, "Re: Where is my order? [#", 25) == 0);
        if (subj && strlen(subj) >= 25 + 10)
            token = og_strndup(subj + 25, 10); /* the token: 10 hex digits */
        free(subj), free(h);
        h = header(reply, "Message-ID");
        CHECK(h && strncmp(h, "<og.msg_", 8) == 0 && strstr(h, "@example.com>"));
        if (h)
            our_id = og_strndup(h + 1, strlen(h) - 2);
        free(h);
        CHECK(strstr(reply, "multipart/alternative") != NULL);
        char *body = qp_decode(reply);
        CHECK(strstr(body, "it ships today.") != NULL);
        free(body);
    }
    json_object *out0 = wait_out_status(&w, sid, 0, "sent", 10000);
    CHECK_STR(fstr(out0, "status"), "sent");
    CHECK_STR(fstr(out0, "provider_message_id"), our_id);
    json_object_put(out0);

    /* 3. The customer's answer to the reply continues the session. */
    char *hdrs = og_sprintf("In-Reply-To: <%s>\r\nReferences: <a1@example.net> <%s>\r\n",
                            our_id ? our_id : "x", our_id ? our_id : "x");
    char *subj = og_sprintf("Re: Where is my order? [#%s]", token ? token : "");
    char *a2 = mail("Carla Customer <carla@example.net>", "a2@example.net", subj, hdrs,
                    "Great, thanks!\r\n\r\nOn Mon, 8 Jan 2024, Support Team wrote:\r\n> it ships");
    deliver(&w, "alice", "carla@example.net", a2);
    CHECK_INT(wait_messages(&w, sid, 3, 5000), 3);
    CHECK_INT(n_sessions(&w, CH), 1);
    msgs = messages(&w, sid);
    CHECK_STR(fstr(json_object_array_get_idx(msgs, 2), "text"), "Great, thanks!");
    json_object_put(msgs);
    free(a2), free(hdrs);

    /* 4. Daemon down: a new conversation, and an answer that only carries
     * the subject token; after the restart both are stored once. */
    CHECK_INT(og_test_daemon_stop(&w.d), 0);
    char *b1 = mail("Dan <dan@example.org>", "b1@example.org", "Refund", NULL, "Where is it?");
    char *a3 = mail("Carla Customer <carla@example.net>", "a3@example.net", subj, NULL,
                    "One more question.");
    deliver(&w, "alice", "dan@example.org", b1);
    deliver(&w, "alice", "carla@example.net", a3);
    free(b1), free(a3), free(subj);
    CHECK_INT(og_test_daemon_restart(&w.d), 0);
    CHECK_INT(wait_sessions(&w, 2, 10000), 2);
    CHECK_INT(wait_messages(&w, sid, 4, 10000), 4);
    char *sid_b = session_of_contact(&w, "dan@example.org");
    CHECK(sid_b != NULL);
    CHECK_INT(sid_b ? n_messages(&w, sid_b) : 0, 1);

    /* 5. UIDVALIDITY changes (the mailbox restored elsewhere): read again,
     * nothing stored twice, the mail that came meanwhile stored once; it
     * answers a closed session, which is reopened with its history. */
    if (sid_b) {
        char *cpath = og_sprintf("/api/v1/sessions/%s/close", sid_b);
        char *resp = NULL;
        long st = post_json(&w, cpath, "{}", &resp);
        if (st != 200)
            fprintf(stderr, "close: %ld %s\n", st, resp);
        CHECK_INT(st, 200);
        free(cpath), free(resp);
    }
    CHECK_INT(og_test_daemon_stop(&w.d), 0);
    char *out = NULL;
    int rc = og_test_doveadm(&w.dc, "mailbox update -u alice --uid-validity 424242 INBOX", &out);
    if (rc != 0)
        fprintf(stderr, "doveadm: %s\n", out);
    CHECK_INT(rc, 0);
    free(out);
    char *b2 = mail("Dan <dan@example.org>", "b2@example.org", "Re: Refund",
                    "In-Reply-To: <b1@example.org>\r\n", "Any news?");
    deliver(&w, "alice", "dan@example.org", b2);
    free(b2);
    CHECK_INT(og_test_daemon_restart(&w.d), 0);
    CHECK(wait_log(&w.d, "UIDVALIDITY of INBOX changed", 1, 10000) == 1);
    CHECK_INT(sid_b ? wait_messages(&w, sid_b, 2, 10000) : 0, 2);
    usleep(1500000); /* let the re-scan finish: it must add nothing */
    CHECK_INT(n_sessions(&w, CH), 2);
    CHECK_INT(n_messages(&w, sid), 4);
    CHECK_INT(sid_b ? n_messages(&w, sid_b) : 0, 2);
    if (sid_b) {
        char *spath = og_sprintf("/api/v1/sessions/%s", sid_b);
        json_object *ses = og_test_api_get(&w.d, spath, NULL);
        CHECK_STR(fstr(ses, "status"), "new"); /* reopened, waiting for an agent */
        json_object_put(ses);
        free(spath);
    }

    /* 6. An auto-reply and a bounce make no session and no message; the
     * bounce marks our reply failed with the DSN's reason. */
    char *auto_hdrs =
        og_sprintf("Auto-Submitted: auto-replied\r\nIn-Reply-To: <%s>\r\n", our_id ? our_id : "x");
    char *ar = mail("Carla Customer <carla@example.net>", "ooo1@example.net",
                    "Automatic reply: Where is my order?", auto_hdrs, "I am away until Monday.");
    deliver(&w, "alice", "carla@example.net", ar);
    free(ar), free(auto_hdrs);
    size_t len = 0;
    char *dsn = og_test_read_src("tests/fuzz/corpus/email/dsn_postfix_failed.eml", &len);
    struct og_buf db = {0};
    const char *at = dsn ? strstr(dsn, "og.msg_01HKZ8M3QX@example.com") : NULL;
    if (at && our_id) { /* the corpus bounce, of the reply we really sent */
        og_buf_append(&db, dsn, (size_t)(at - dsn));
        og_buf_puts(&db, our_id);
        og_buf_puts(&db, at + strlen("og.msg_01HKZ8M3QX@example.com"));
        deliver(&w, "alice", "", db.data);
    }
    free(dsn);
    og_buf_free(&db);
    json_object *failed = wait_out_status(&w, sid, 0, "failed", 10000);
    CHECK_STR(fstr(failed, "status"), "failed");
    json_object *err = failed ? json_object_object_get(failed, "error") : NULL;
    CHECK_STR(fstr(err, "code"), "5.1.1");
    CHECK(fstr(err, "message") && strstr(fstr(err, "message"), "User unknown"));
    json_object_put(failed);
    CHECK(wait_log(&w.d, "is not a conversation (Auto-Submitted: auto-replied)", 1, 5000) == 1);
    CHECK_INT(n_sessions(&w, CH), 2);
    CHECK_INT(n_messages(&w, sid), 4);

    /* 7. HTML only, ISO-8859-1, with a PDF. */
    char *ol = og_test_read_src("tests/fuzz/corpus/email/outlook_html_latin1_attachment.eml", NULL);
    if (ol)
        deliver(&w, "alice", "juergen.mueller@example.de", ol);
    free(ol);
    CHECK_INT(wait_sessions(&w, 3, 5000), 3);
    char *sid_c = session_of_contact(&w, "juergen.mueller@example.de");
    CHECK(sid_c != NULL);
    if (sid_c) {
        msgs = messages(&w, sid_c);
        json_object *c0 = json_object_array_get_idx(msgs, 0);
        const char *text = fstr(c0, "text");
        CHECK(text && strstr(text, "Rechnung für März. Bitte prüfen Sie den Betrag von 120 €"));
        CHECK(text && strstr(text, "Ihrem Konto (https://example.de/konto)"));
        json_object *atts = json_object_object_get(c0, "attachments");
        CHECK_INT(json_object_array_length(atts), 1);
        json_object *a = json_object_array_get_idx(atts, 0);
        CHECK_STR(fstr(a, "name"), "Rechnung März.pdf");
        CHECK_STR(fstr(a, "mime_type"), "application/pdf");
        CHECK_INT(json_object_get_int64(json_object_object_get(a, "size")), 39);
        /* the file itself, from the stored raw mail (email's fetch_media) */
        char *url = og_sprintf("%s/api/v1/messages/%s/attachments/0", w.d.base,
                               fstr(c0, "id") ? fstr(c0, "id") : "x");
        char *got = NULL;
        struct og_test_resp r = og_test_http_headers(
            "GET", url, "Authorization: Bearer " OG_TEST_ADMIN_TOKEN, NULL, 0, &got);
        CHECK_INT(r.status, 200);
        CHECK(!strncmp(r.body, "%PDF-1.4\n", 9));
        CHECK(got && strstr(got, "Content-Type: application/pdf\r\n"));
        CHECK(got && strstr(got, "Content-Length: 39\r\n"));
        CHECK(got && strstr(got, "filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf"));
        free(r.body), free(got), free(url);
        json_object_put(msgs);
    }

    /* 8. An agent starts a conversation with a known contact. */
    char *cid = sid_b ? contact_of(w.rc, sid_b) : NULL;
    if (cid) {
        char *body = og_sprintf("{\"channel\":\"" CH "\",\"contact_id\":\"%s\","
                                "\"text\":\"Your refund was sent\\ntoday.\"}",
                                cid);
        char *resp = NULL;
        long st = post_json(&w, "/api/v1/sessions", body, &resp);
        if (st != 201)
            fprintf(stderr, "start: %ld %s\n", st, resp);
        CHECK_INT(st, 201);
        char *started = sink_find(&w, "Subject", "Your refund was sent", 10000);
        CHECK(started != NULL);
        char *h = started ? header(started, "To") : NULL;
        CHECK(h && strstr(h, "dan@example.org"));
        free(h), free(started), free(resp), free(body), free(cid);
    }

    /* 9. dovecot stopped and started again: one warning for the outage, the
     * mail delivered after the restart stored. */
    size_t warned = wait_log(&w.d, "[channel:" CH "] email: IMAP unavailable", 0, 0);
    og_test_dovecot_stop(&w.dc);
    /* within 30 s: the loss is seen at once while IDLE waits, but a loaded
     * CI machine once took longer than 10 s to get there */
    CHECK(wait_log(&w.d, "[channel:" CH "] email: IMAP unavailable", warned + 1, 30000) ==
          warned + 1);
    sleep(4); /* several reconnect attempts, none of them logged again */
    CHECK_INT(og_test_dovecot_restart(&w.dc), 0);
    char *e1 = mail("Eve <eve@example.com>", "e1@example.com", "After the outage", NULL, "Hi");
    deliver(&w, "alice", "eve@example.com", e1);
    free(e1);
    CHECK_INT(wait_sessions(&w, 4, 90000), 4);
    CHECK(wait_log(&w.d, "[channel:" CH "] email: IMAP back after", 1, 5000) == 1);
    CHECK_INT(wait_log(&w.d, "[channel:" CH "] email: IMAP unavailable", 0, 0), warned + 1);

    /* 10. The channel without ca_file refused the test CA's certificate,
     * said so once, and stored nothing. */
    char *log = daemon_log(&w.d);
    /* once per outage: each of the three daemon runs had one */
    size_t refused =
        count_in(log, "[channel:noca] email: IMAP unavailable: certificate of 127.0.0.1 refused");
    CHECK(refused >= 1 && refused <= 3);
    CHECK(count_in(log, "[channel:noca] email: IMAP connected") == 0);
    free(log);
    CHECK_INT(n_sessions(&w, "noca"), 0);

    if (og_test_failed || getenv("OG_TEST_VERBOSE"))
        dump_logs(&w);
    free(sid), free(sid_b), free(sid_c), free(path), free(reply), free(our_id), free(token);
    stop_world(&w);
    return og_test_done();
}
