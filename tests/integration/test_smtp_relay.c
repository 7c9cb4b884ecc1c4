/* test_smtp_relay - the smtp_send service of the connector ABI (1.1): a
 * plugin hands a message it built to the host, which relays it with libcurl.
 * Against the aiosmtpd sink (tests/integration/smtp_sink.py) with AUTH:
 *   - a message with bare LF line ends and a line that starts with "." is
 *     stored intact (headers as written, the dot line not eaten, no CR CR);
 *   - both envelope recipients get it;
 *   - a wrong password is OG_ERR_PERMANENT with the 535 named;
 *   - a closed port is OG_ERR_RETRYABLE;
 *   - a bad URL, a bad address or an empty message is OG_ERR_INVALID, and
 *     nothing reaches the sink. */
#include "og_channel.h"
#include "og_http_client.h"
#include "test_followups_kit.h"

static og_err relay(struct sink *s, const char *pass, const char *const *rcpt, const char *data,
                    struct og_smtp_reply *rep)
{
    char url[64];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", s->port);
    struct og_smtp_call c = {
        .struct_size = sizeof c,
        .url = url,
        .username = "gw",
        .password = pass,
        .starttls = "never",
        .mail_from = "support@example.com",
        .rcpt = rcpt,
        .data = data,
        .data_len = data ? strlen(data) : 0,
        .timeout_ms = 10000,
    };
    return og_services_table.smtp_send(NULL, &c, rep);
}

int main(void)
{
    og_http_client_global_init();
    struct sink s = {0};
    if (sink_start(&s, "--auth gw:pw") != 0)
        return 1;
    const char *const rcpt[] = {"ann@example.org", "bob@example.org", NULL};
    const char *msg = "From: Support <support@example.com>\n"
                      "To: ann@example.org\n"
                      "Subject: Re: your order [#ses_1]\n"
                      "Message-ID: <m1@example.com>\n"
                      "In-Reply-To: <c1@example.org>\n"
                      "\n"
                      "first line\n"
                      ".dot line\n"
                      "last line\n";
    struct og_smtp_reply rep;
    CHECK_INT(relay(&s, "pw", rcpt, msg, &rep), OG_OK);
    size_t n = 0;
    char **mails = sink_mails(&s, &n);
    CHECK_INT(n, 1);
    if (n == 1) {
        char *v = header(mails[0], "In-Reply-To");
        CHECK_STR(v, "<c1@example.org>");
        free(v);
        v = header(mails[0], "X-RcptTo");
        CHECK_STR(v, "ann@example.org, bob@example.org");
        free(v);
        CHECK(strstr(mails[0], "\n.dot line\n") != NULL);
        CHECK(strstr(mails[0], "\r\r") == NULL);
    }
    mails_free(mails, n);

    CHECK_INT(relay(&s, "wrong", rcpt, msg, &rep), OG_ERR_PERMANENT);
    CHECK_INT(rep.code, 535);

    const char *const bad_rcpt[] = {"not an address", NULL};
    CHECK_INT(relay(&s, "pw", bad_rcpt, msg, &rep), OG_ERR_INVALID);
    CHECK_INT(relay(&s, "pw", rcpt, "", &rep), OG_ERR_INVALID);
    const char *const none[] = {NULL};
    CHECK_INT(relay(&s, "pw", none, msg, &rep), OG_ERR_INVALID);
    struct og_smtp_call bad = {.struct_size = sizeof bad, .url = "http://127.0.0.1:1/"};
    CHECK_INT(og_services_table.smtp_send(NULL, &bad, &rep), OG_ERR_INVALID);
    CHECK_INT(sink_count(&s), 1);

    int port = s.port;
    sink_stop(&s);
    struct sink gone = {.port = port};
    CHECK_INT(relay(&gone, "pw", rcpt, msg, &rep), OG_ERR_RETRYABLE);
    og_http_client_global_cleanup();
    return og_test_done();
}
