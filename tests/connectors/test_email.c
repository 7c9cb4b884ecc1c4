/* test_email - the e-mail connector without a mail server: MIME to message
 * on the seed corpus of real-world shapes (tests/fuzz/corpus/email) and on
 * hostile input made here (a 1 MB header, 10,000 parts, deep nesting),
 * charsets, HTML to text, quote and signature separation, auto-reply and
 * bounce classification, threading decisions against a fake store, the
 * reply written by libetpan and read back, send() against the aiosmtpd
 * sink (threading state, attachments from a fake HTTP server, SMTP
 * refusals), the option checks, and the poll
 * loop against a scripted IMAP server on 127.0.0.1 that drops the
 * connection mid-FETCH and answers garbage (the message is skipped after
 * three tries, never fetched again, the rest is stored once). */
#include "../integration/test_followups_kit.h" /* the SMTP sink */
#include "email.h"
#include "og_test.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static char *corpus(const char *name, size_t *len)
{
    char *rel = og_sprintf("tests/fuzz/corpus/email/%s", name);
    char *path = og_test_src(rel);
    char *s = og_test_read_file(path, len);
    if (!s)
        fprintf(stderr, "cannot read %s\n", path);
    free(rel), free(path);
    return s;
}

/* Parses a corpus file; 0 and *m filled, or -1 (a failed check). */
static int parse_corpus(const char *name, struct email_msg *m)
{
    size_t len = 0;
    char *raw = corpus(name, &len);
    char why[200] = "";
    int r = raw ? email_parse(raw, len, m, why, sizeof why) : -1;
    if (r != 0)
        fprintf(stderr, "%s: %s\n", name, why);
    CHECK_INT(r, 0);
    free(raw);
    return r;
}

static int parse_text(const char *raw, struct email_msg *m)
{
    char why[200] = "";
    int r = email_parse(raw, strlen(raw), m, why, sizeof why);
    if (r != 0)
        fprintf(stderr, "parse: %s\n", why);
    return r;
}

/* ------------------------------------------------------------ the corpus */

static void test_plain(void)
{
    struct email_msg m;
    if (parse_corpus("plain_thunderbird.eml", &m) != 0)
        return;
    CHECK_STR(m.message_id, "5f1c2a9e-7d2b-4c1e-9a0b-1e2f3a4b5c6d@example.com");
    CHECK_STR(m.from_addr, "alice@example.com"); /* lower-cased: the contact's key */
    CHECK_STR(m.from_name, "Alice Example");
    CHECK_STR(m.subject, "Order 1042 has not arrived");
    CHECK_INT(m.date_ms, 1704186000000LL); /* 10:00 +0100 */
    CHECK_INT(m.cls, EMAIL_CLASS_MESSAGE);
    CHECK(strncmp(m.text, "Hello,\n\nmy order 1042", 20) == 0);
    CHECK(m.text[strlen(m.text) - 1] == 'e'); /* "Alice", trailing blank lines gone */
    CHECK(strstr(m.text, "Main Street") == NULL);
    CHECK(m.signature && strstr(m.signature, "Example Ltd., Main Street 1"));
    CHECK(m.quoted == NULL);
    CHECK_INT(m.n_atts, 0);
    email_msg_free(&m);
}

static void test_gmail_reply(void)
{
    struct email_msg m;
    if (parse_corpus("gmail_reply_alternative.eml", &m) != 0)
        return;
    CHECK_STR(m.in_reply_to, "og.msg_01HKZ8M3QX@example.com");
    CHECK_INT(m.n_refs, 2);
    CHECK_STR(m.refs[0], "5f1c2a9e-7d2b-4c1e-9a0b-1e2f3a4b5c6d@example.com");
    CHECK_STR(m.refs[1], "og.msg_01HKZ8M3QX@example.com");
    CHECK_STR(m.text, "Thanks, it arrived today!"); /* text/plain chosen, quote split off */
    CHECK(!m.html_only);
    CHECK(m.quoted && strstr(m.quoted, "wrote:") && strstr(m.quoted, "> your parcel"));
    char tok[EMAIL_TOKEN_LEN + 1];
    CHECK(email_subject_token(m.subject, tok));
    CHECK_STR(tok, "3f9a1c0b2e");
    email_msg_free(&m);
}

/* The issue's case: HTML only, ISO-8859-1, quoted-printable, a PDF. */
static void test_latin1_html_attachment(void)
{
    struct email_msg m;
    if (parse_corpus("outlook_html_latin1_attachment.eml", &m) != 0)
        return;
    CHECK(m.html_only);
    CHECK_STR(m.subject, "Rechnung für März");
    CHECK_STR(m.from_name, "Jürgen Müller");
    CHECK(strstr(m.text, "Rechnung für März") != NULL);
    CHECK(strstr(m.text, "120 € & melden") != NULL);                         /* entities */
    CHECK(strstr(m.text, "Ihrem Konto (https://example.de/konto)") != NULL); /* link kept */
    CHECK(strstr(m.text, "Grüßen\nJürgen Müller") != NULL);                  /* <br> */
    CHECK(strstr(m.text, "p {margin") == NULL);                              /* style dropped */
    CHECK(strstr(m.text, "Alte Nachricht") == NULL);                         /* quote split */
    CHECK(m.quoted && strstr(m.quoted, "Alte Nachricht"));
    CHECK_INT(m.n_atts, 1);
    if (m.n_atts == 1) {
        CHECK_STR(m.atts[0].name, "Rechnung März.pdf");
        CHECK_STR(m.atts[0].mime_type, "application/pdf");
        CHECK_INT(m.atts[0].size, 39); /* decoded bytes */
        CHECK_STR(m.atts[0].section, "2");
    }
    email_msg_free(&m);
}

static void test_apple_related(void)
{
    struct email_msg m;
    if (parse_corpus("apple_related_inline.eml", &m) != 0)
        return;
    /* alternative: the plain part wins, the HTML branch (and its inline
     * image, a rendering resource of that branch) is not read */
    CHECK(strstr(m.text, "Here is what I see:") != NULL);
    CHECK(strstr(m.text, "Sent from my iPhone") == NULL);
    CHECK(m.signature && strstr(m.signature, "Sent from my iPhone"));
    CHECK_INT(m.n_atts, 0);
    email_msg_free(&m);
}

static void test_encoded_words(void)
{
    struct email_msg m;
    if (parse_corpus("encoded_words.eml", &m) != 0)
        return;
    CHECK_STR(m.from_name, "Иван Петров");
    CHECK_STR(m.from_addr, "ivan@example.ru");
    CHECK_STR(m.reply_to, "ivan.office@example.ru");
    /* B and Q words, whitespace between encoded words dropped (RFC 2047
     * 6.2), an unknown charset read as ISO-8859-1 */
    CHECK_STR(m.subject, "Привет, мой заказ № 77café");
    CHECK_STR(m.text, "Привет! Где мой заказ?"); /* KOI8-R body */
    email_msg_free(&m);

    /* A character split across two words (a common mailer bug) */
    const char *split = "From: x@example.com\nSubject: =?UTF-8?B?w6k=?= =?UTF-8?Q?t=C3?=\n "
                        "=?UTF-8?Q?=A9?=\n\nbody\n";
    if (parse_text(split, &m) == 0) {
        CHECK_STR(m.subject, "été");
        email_msg_free(&m);
    }
}

static void test_rfc2231_and_iso2022(void)
{
    struct email_msg m;
    if (parse_corpus("rfc2231_continuation.eml", &m) != 0)
        return;
    CHECK_STR(m.subject, "テスト");
    CHECK_STR(m.text, "こんにちは");
    CHECK_INT(m.n_atts, 1);
    if (m.n_atts)
        CHECK_STR(m.atts[0].name, "見積書.xlsx");
    email_msg_free(&m);
}

static void test_forward_signed_windows1252(void)
{
    struct email_msg m;
    if (parse_corpus("forwarded_rfc822.eml", &m) == 0) {
        CHECK_STR(m.text, "See the mail below, the amount is wrong.");
        CHECK_INT(m.n_atts, 1);
        if (m.n_atts) {
            CHECK_STR(m.atts[0].name, "Invoice 2024-001.eml");
            CHECK_STR(m.atts[0].mime_type, "message/rfc822");
        }
        email_msg_free(&m);
    }
    if (parse_corpus("signed_pgp.eml", &m) == 0) {
        CHECK_STR(m.text, "Is my account still active?");
        CHECK_INT(m.n_atts, 0); /* the signature is not an attachment */
        email_msg_free(&m);
    }
    if (parse_corpus("outlook_original_message.eml", &m) == 0) {
        CHECK_STR(m.text, "Got it – thanks! I’ll send it back tomorrow.\n\nKim");
        CHECK(m.quoted && strncmp(m.quoted, "-----Original Message-----", 26) == 0);
        email_msg_free(&m);
    }
}

static void test_broken(void)
{
    struct email_msg m;
    if (parse_corpus("broken_base64_unknown_charset.eml", &m) != 0)
        return;
    /* no closing delimiter, broken base64, an unknown charset: what can be
     * read is read */
    CHECK(strncmp(m.text, "Hello world", 11) == 0);
    CHECK(m.flags & EMAIL_F_BAD_CHARSET);
    CHECK(m.flags & EMAIL_F_NO_MSGID);
    CHECK_INT(m.n_atts, 1);
    if (m.n_atts)
        CHECK_STR(m.atts[0].name, "photo.jpg");
    email_msg_free(&m);
}

/* The same message with CR LF and with LF line ends reads the same. */
static void test_line_ends(void)
{
    size_t len = 0;
    char *lf = corpus("gmail_reply_alternative.eml", &len);
    if (!lf)
        return;
    struct og_buf crlf = {0};
    for (size_t i = 0; i < len; i++)
        og_buf_append(&crlf, lf[i] == '\n' ? "\r\n" : lf + i, lf[i] == '\n' ? 2 : 1);
    struct email_msg a, b;
    char why[200];
    CHECK_INT(email_parse(lf, len, &a, why, sizeof why), 0);
    CHECK_INT(email_parse(crlf.data, crlf.len, &b, why, sizeof why), 0);
    CHECK_STR(a.text, b.text);
    CHECK_STR(a.subject, b.subject);
    CHECK(strchr(b.text, '\r') == NULL);
    email_msg_free(&a), email_msg_free(&b);
    og_buf_free(&crlf);
    free(lf);
}

/* ------------------------------------------------------------ noise */

static void expect_class(const char *name, enum email_class cls, const char *why_part)
{
    struct email_msg m;
    if (parse_corpus(name, &m) != 0)
        return;
    if (m.cls != cls)
        fprintf(stderr, "%s: class %d (%s)\n", name, m.cls, m.why);
    CHECK_INT(m.cls, cls);
    CHECK(strstr(m.why, why_part) != NULL);
    email_msg_free(&m);
}

static void test_auto_replies(void)
{
    expect_class("autoreply_exchange.eml", EMAIL_CLASS_AUTO, "Auto-Submitted: auto-replied");
    expect_class("autoreply_xautoreply.eml", EMAIL_CLASS_AUTO, "X-Autoreply");
    expect_class("bulk_newsletter.eml", EMAIL_CLASS_AUTO, "Precedence: bulk");
    expect_class("mdn_read_receipt.eml", EMAIL_CLASS_AUTO, "read receipt");
    expect_class("dsn_delayed.eml", EMAIL_CLASS_AUTO, "without a failure");
    struct email_msg m;
    /* "Auto-Submitted: no" is a person */
    if (parse_text("From: a@example.com\nAuto-Submitted: no\nSubject: hi\n\nhello\n", &m) == 0) {
        CHECK_INT(m.cls, EMAIL_CLASS_MESSAGE);
        email_msg_free(&m);
    }
    if (parse_text("From: a@example.com\nPrecedence: list\nSubject: x\n\ny\n", &m) == 0) {
        CHECK_INT(m.cls, EMAIL_CLASS_AUTO);
        email_msg_free(&m);
    }
    if (parse_text("From: a@example.com\nSubject: Out of Office: back on Monday\n\nx\n", &m) == 0) {
        CHECK_INT(m.cls, EMAIL_CLASS_AUTO);
        email_msg_free(&m);
    }
    /* a customer writing about an out-of-office is a person */
    if (parse_text("From: a@example.com\nSubject: out of office question\n\nx\n", &m) == 0) {
        CHECK_INT(m.cls, EMAIL_CLASS_MESSAGE);
        email_msg_free(&m);
    }
    if (parse_text("Return-Path: <>\nFrom: robot@example.com\nSubject: x\n\ny\n", &m) == 0) {
        CHECK_INT(m.cls, EMAIL_CLASS_AUTO);
        CHECK(strstr(m.why, "null return path") != NULL);
        email_msg_free(&m);
    }
}

static void test_bounces(void)
{
    struct email_msg m;
    if (parse_corpus("dsn_postfix_failed.eml", &m) == 0) {
        CHECK_INT(m.cls, EMAIL_CLASS_BOUNCE);
        CHECK_STR(m.bounce_of, "og.msg_01HKZ8M3QX@example.com");
        CHECK_STR(m.bounce_status, "5.1.1");
        CHECK_STR(m.bounce_reason,
                  "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown");
        email_msg_free(&m);
    }
    if (parse_corpus("bounce_qmail_plain.eml", &m) == 0) {
        CHECK_INT(m.cls, EMAIL_CLASS_BOUNCE);
        CHECK_STR(m.bounce_of, "og.msg_03QMAIL@example.com");
        CHECK(m.bounce_status == NULL);
        CHECK(m.bounce_reason && strstr(m.bounce_reason, "wasn't able to deliver"));
        email_msg_free(&m);
    }
}

/* ------------------------------------------------------------ bad input */

static void test_bad_input(void)
{
    struct email_msg m;
    char why[200];
    CHECK_INT(email_parse("", 0, &m, why, sizeof why), -1);
    CHECK_INT(email_parse("\n\njust a body", 13, &m, why, sizeof why), -1);
    CHECK(strstr(why, "no header") != NULL);
    unsigned char junk[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof junk; i++)
        x = x * 1103515245 + 12345, junk[i] = (unsigned char)(x >> 16);
    if (email_parse((const char *)junk, sizeof junk, &m, why, sizeof why) == 0) {
        CHECK(email_utf8_valid(m.text, strlen(m.text)));
        email_msg_free(&m);
    }

    /* a 1 MB header: read in time, the subject cut to a sane size */
    struct og_buf b = {0};
    og_buf_puts(&b, "From: big@example.com\nMessage-ID: <big@example.com>\nSubject: ");
    for (int i = 0; i < 100000; i++)
        og_buf_puts(&b, "=?utf-8?q?x");
    og_buf_puts(&b, "\nX-Huge: ");
    for (int i = 0; i < 1000000 / 8; i++)
        og_buf_puts(&b, "aaaaaaa ");
    og_buf_puts(&b, "\n\nbody\n");
    CHECK_INT(email_parse(b.data, b.len, &m, why, sizeof why), 0);
    CHECK(strlen(m.subject) <= 4096);
    CHECK_STR(m.text, "body");
    email_msg_free(&m);
    og_buf_free(&b);

    /* 10,000 parts: the first EMAIL_MAX_PARTS are read, listing stops at
     * EMAIL_MAX_ATTACHMENTS, the rest is counted as cut */
    og_buf_puts(&b, "From: parts@example.com\nContent-Type: multipart/mixed; boundary=Z\n\n"
                    "--Z\nContent-Type: text/plain\n\nhello\n");
    for (int i = 0; i < 10000; i++)
        og_buf_printf(&b, "--Z\nContent-Type: application/octet-stream; name=\"f%d.bin\"\n\n%d\n",
                      i, i);
    og_buf_puts(&b, "--Z--\n");
    CHECK_INT(email_parse(b.data, b.len, &m, why, sizeof why), 0);
    CHECK_STR(m.text, "hello");
    CHECK_INT(m.n_atts, EMAIL_MAX_ATTACHMENTS);
    CHECK(m.n_atts_total > EMAIL_MAX_ATTACHMENTS && m.n_atts_total < 10000);
    CHECK(m.flags & EMAIL_F_PARTS_CUT);
    email_msg_free(&m);
    og_buf_free(&b);

    /* nesting libetpan would recurse into: refused before it does */
    og_buf_puts(&b, "From: deep@example.com\n");
    for (int i = 0; i < 5000; i++)
        og_buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
    og_buf_puts(&b, "Content-Type: text/plain\n\nx\n");
    CHECK_INT(email_parse(b.data, b.len, &m, why, sizeof why), -1);
    CHECK(strstr(why, "nested MIME") != NULL);
    og_buf_free(&b);
    og_buf_puts(&b, "From: ");
    for (int i = 0; i < 200000; i++)
        og_buf_puts(&b, "(");
    og_buf_puts(&b, "x@example.com\n\nbody\n");
    CHECK_INT(email_parse(b.data, b.len, &m, why, sizeof why), -1);
    CHECK(strstr(why, "comment") != NULL);
    og_buf_free(&b);
    CHECK(email_msgid_from_header(b.data ? b.data : "", 0) == NULL);

    /* NULs and bytes that are not UTF-8 */
    const char nul[] = "From: n@example.com\nSubject: a\nContent-Type: text/plain; charset=utf-8"
                       "\n\nhe\0llo \xff\xfe world\n";
    CHECK_INT(email_parse(nul, sizeof nul - 1, &m, why, sizeof why), 0);
    CHECK_STR(m.text, "hello \xEF\xBF\xBD\xEF\xBF\xBD world");
    email_msg_free(&m);

    /* no Message-ID: one derived from the bytes, the same every time */
    const char *nomid = "From: a@example.com\nSubject: x\n\nsame\n";
    struct email_msg m2;
    CHECK_INT(email_parse(nomid, strlen(nomid), &m, why, sizeof why), 0);
    CHECK_INT(email_parse(nomid, strlen(nomid), &m2, why, sizeof why), 0);
    CHECK_STR(m.message_id, m2.message_id);
    CHECK(m.flags & EMAIL_F_NO_MSGID);
    CHECK(strstr(m.message_id, "@omnigate.invalid") != NULL);
    email_msg_free(&m), email_msg_free(&m2);

    /* a Message-ID too long for a key is replaced by its hash */
    og_buf_puts(&b, "From: a@example.com\nMessage-ID: <");
    for (int i = 0; i < 2000; i++)
        og_buf_puts(&b, "x");
    og_buf_puts(&b, "@example.com>\n\nbody\n");
    CHECK_INT(email_parse(b.data, b.len, &m, why, sizeof why), 0);
    CHECK(strlen(m.message_id) < 80 && m.message_id[0] == 'h');
    email_msg_free(&m);
    og_buf_free(&b);

    /* no usable sender: parsed, but no address to make a contact of */
    if (parse_text("From: not an address\nSubject: x\n\ny\n", &m) == 0) {
        CHECK(m.from_addr == NULL);
        email_msg_free(&m);
    }
}

/* ------------------------------------------------------------ text parts */

static void test_html(void)
{
    const char *h = "<html><head><title>T</title><style>b{}</style><script>alert(1)</script>"
                    "</head><body><h1>Title</h1><p>One &lt;two&gt; &#x20AC;&#8364; &nbsp;x</p>"
                    "<ul><li>first</li><li>second</li></ul>"
                    "<p>See <a href=\"https://x.example/a?b=1&amp;c=2\">the page</a> and "
                    "<a href='https://same.example/'>https://same.example/</a>.</p>"
                    "<blockquote>quoted<br>two</blockquote><p>after</p></body></html>";
    char *t = email_html_to_text(h, strlen(h));
    CHECK(strstr(t, "alert") == NULL && strstr(t, "b{}") == NULL && strstr(t, "T\n") == NULL);
    CHECK(strncmp(t, "Title\n\nOne <two> €€ x", 22) == 0);
    CHECK(strstr(t, "- first\n- second") != NULL);
    CHECK(strstr(t, "the page (https://x.example/a?b=1&c=2)") != NULL);
    CHECK(strstr(t, "https://same.example/.") != NULL); /* not repeated */
    CHECK(strstr(t, "> quoted\n> two") != NULL);
    CHECK(strstr(t, "after") != NULL);
    free(t);
    /* unclosed markup and a stray '<' do not lose text */
    const char *bad = "a < b <b>bold <i unclosed";
    t = email_html_to_text(bad, strlen(bad));
    CHECK(strstr(t, "a < b") != NULL && strstr(t, "bold") != NULL);
    free(t);
}

static void test_split(void)
{
    char *n, *q, *s;
    email_split_reply("Inline:\n> question one\nanswer one\n> question two\nanswer two\n", &n, &q,
                      &s);
    CHECK(strstr(n, "answer two") != NULL); /* interleaved answers stay the text */
    CHECK(q == NULL);
    free(n), free(q), free(s);
    email_split_reply("Yes.\n\nOn Mon, Jan 1, 2024 at 10:00 AM Very Long Name\n"
                      "<long@example.com> wrote:\n> old\n",
                      &n, &q, &s);
    CHECK_STR(n, "Yes.");
    CHECK(q && strncmp(q, "On Mon", 6) == 0);
    free(n), free(q), free(s);
    email_split_reply("Danke!\n\nAm 01.01.2024 um 10:00 schrieb Support <s@example.com>:\n> alt\n",
                      &n, &q, &s);
    CHECK_STR(n, "Danke!");
    CHECK(q != NULL);
    free(n), free(q), free(s);
    /* only a quote: nothing hidden */
    email_split_reply("> just a quote\n> more\n", &n, &q, &s);
    CHECK_STR(n, "> just a quote\n> more");
    CHECK(q == NULL && s == NULL);
    free(n), free(q), free(s);
}

static void test_charsets(void)
{
    int bad = 0;
    char *t = email_to_utf8("windows-1252", "\x93quoted\x94 \x80", 10, &bad);
    CHECK_STR(t, "“quoted” €");
    CHECK(!bad);
    free(t);
    t = email_to_utf8("iso-8859-1", "caf\xe9\r\nline", 10, &bad);
    CHECK_STR(t, "café\nline");
    free(t);
    t = email_to_utf8("x-no-such-charset", "plain \xc3\xa9", 8, &bad);
    CHECK(bad);
    CHECK_STR(t, "plain é"); /* valid UTF-8 is kept */
    free(t);
    bad = 0;
    t = email_to_utf8("us-ascii", "mislabelled \xe9", 13, &bad);
    CHECK_STR(t, "mislabelled é");
    free(t);
    t = email_to_utf8("utf-8", "bad \xc3", 5, &bad);
    CHECK_STR(t, "bad \xEF\xBF\xBD");
    free(t);
    t = email_to_utf8("shift_jis", "\x82\xb1\x82\xf1", 4, &bad);
    CHECK_STR(t, "こん");
    free(t);
}

/* ------------------------------------------------------------ subjects */

static void test_subjects(void)
{
    char *s = email_subject_base("Re: AW: Fwd: RE[2]: Hello there [#0123456789abcdef]");
    CHECK_STR(s, "Hello there [#0123456789abcdef]"); /* 16 hex is no token of ours */
    free(s);
    s = email_subject_base("Re: Re: Order late [#3f9a1c0b2e]");
    CHECK_STR(s, "Order late");
    free(s);
    s = email_subject_base("  Re:  ");
    CHECK_STR(s, "(no subject)");
    free(s);
    char tok[EMAIL_TOKEN_LEN + 1];
    CHECK(!email_subject_token("no token [#XYZ]", tok));
    CHECK(!email_subject_token("[#3F9A1C0B2E] upper case is not ours", tok));
    CHECK(email_subject_token("[#aaaaaaaaaa] and [#bbbbbbbbbb]", tok));
    CHECK_STR(tok, "bbbbbbbbbb");
    char t1[EMAIL_TOKEN_LEN + 1], t2[EMAIL_TOKEN_LEN + 1];
    email_thread_token("e:abc", t1);
    email_thread_token("e:abd", t2);
    CHECK(strlen(t1) == EMAIL_TOKEN_LEN && strcmp(t1, t2) != 0);
}

/* ------------------------------------------------------------ threading */

struct store {
    const char *msgids[8], *threads[8];
    const char *token, *token_thread;
    int fail;
    int calls;
};

static int st_msgid(void *ud, const char *id, char **thread)
{
    struct store *s = ud;
    s->calls++;
    *thread = NULL;
    if (s->fail)
        return -1;
    for (int i = 0; i < 8 && s->msgids[i]; i++)
        if (strcmp(s->msgids[i], id) == 0)
            *thread = strdup(s->threads[i]);
    return 0;
}

static int st_token(void *ud, const char *tok, char **thread)
{
    struct store *s = ud;
    *thread = NULL;
    if (s->fail)
        return -1;
    if (s->token && strcmp(s->token, tok) == 0)
        *thread = strdup(s->token_thread);
    return 0;
}

static void test_threading(void)
{
    struct email_msg m;
    if (parse_corpus("gmail_reply_alternative.eml", &m) != 0)
        return;
    struct store s = {.msgids = {"og.msg_01HKZ8M3QX@example.com"}, .threads = {"e:first"}};
    struct email_lookup lk = {st_msgid, st_token, &s};
    enum email_thread_how how;
    /* In-Reply-To is one of our replies */
    char *t = email_thread_decide(&m, &lk, &how);
    CHECK_STR(t, "e:first");
    CHECK_INT(how, EMAIL_THREAD_REPLY);
    free(t);
    /* In-Reply-To unknown, an older reference known */
    s.msgids[0] = "5f1c2a9e-7d2b-4c1e-9a0b-1e2f3a4b5c6d@example.com";
    s.threads[0] = "e:by-ref";
    t = email_thread_decide(&m, &lk, &how);
    CHECK_STR(t, "e:by-ref");
    CHECK_INT(how, EMAIL_THREAD_REPLY);
    free(t);
    /* no id known: the subject's token */
    s.msgids[0] = NULL;
    s.token = "3f9a1c0b2e";
    s.token_thread = "e:by-token";
    t = email_thread_decide(&m, &lk, &how);
    CHECK_STR(t, "e:by-token");
    CHECK_INT(how, EMAIL_THREAD_TOKEN);
    free(t);
    /* nothing: a new thread named after the message */
    s.token = NULL;
    t = email_thread_decide(&m, &lk, &how);
    char want[32];
    email_new_thread_id(m.message_id, want);
    CHECK_STR(t, want);
    CHECK(strncmp(t, "e:", 2) == 0);
    CHECK_INT(how, EMAIL_THREAD_NEW);
    free(t);
    /* a failing store decides nothing */
    s.fail = 1;
    CHECK(email_thread_decide(&m, &lk, &how) == NULL);
    email_msg_free(&m);
}

/* ------------------------------------------------------------ the reply */

static void test_build(void)
{
    const char *refs[] = {"first@example.com", "second@example.com"};
    struct email_out_att a = {.name = "Prüfbericht März.pdf",
                              .mime_type = "application/pdf",
                              .data = "%PDF-1.4\n\x00\x01\xff binary",
                              .len = 20};
    struct email_out o = {.from_name = "Søren Support",
                          .from_addr = "support@example.com",
                          .reply_to = "help@example.com",
                          .to = "alice@example.com",
                          .subject = "Re: Bestellung März\r\nBcc: evil@example.net [#0123456789]",
                          .message_id = "og.msg_1@example.com",
                          .in_reply_to = "second@example.com",
                          .refs = refs,
                          .n_refs = 2,
                          .text = "Hello Alice,\nsee https://example.com/t?id=1.\n.a dot line\n✓",
                          .atts = &a,
                          .n_atts = 1,
                          .date_s = 1700000000};
    size_t len = 0;
    char why[160];
    char *raw = email_build(&o, &len, why, sizeof why);
    CHECK(raw != NULL);
    if (!raw)
        return;
    /* a CR LF in the subject cannot make a header */
    CHECK(strstr(raw, "\nBcc:") == NULL);
    CHECK(strstr(raw, "multipart/alternative") != NULL);
    CHECK(strstr(raw, "Content-Transfer-Encoding: quoted-printable") != NULL);
    CHECK(strstr(raw, "In-Reply-To: <second@example.com>") != NULL);
    CHECK(strstr(raw, "References: <first@example.com> <second@example.com>") != NULL);
    CHECK(strstr(raw, "Message-ID: <og.msg_1@example.com>") != NULL);
    CHECK(strstr(raw, "Date: Tue, 14 Nov 2023 22:13:20 +0000") != NULL);
    /* read back with our own parser */
    struct email_msg m;
    CHECK_INT(email_parse(raw, len, &m, why, sizeof why), 0);
    CHECK_STR(m.message_id, "og.msg_1@example.com");
    CHECK_STR(m.in_reply_to, "second@example.com");
    CHECK_INT(m.n_refs, 2);
    CHECK_STR(m.subject, "Re: Bestellung März Bcc: evil@example.net [#0123456789]");
    CHECK_STR(m.from_name, "Søren Support");
    CHECK_STR(m.from_addr, "support@example.com");
    CHECK_STR(m.reply_to, "help@example.com");
    CHECK_STR(m.text, o.text); /* text/plain is the alternative read */
    CHECK_INT(m.n_atts, 1);
    if (m.n_atts) {
        CHECK_STR(m.atts[0].name, "Prüfbericht März.pdf");
        CHECK_INT(m.atts[0].size, 20);
    }
    email_msg_free(&m);
    /* the HTML alternative: escaped, the link made one */
    const char *html = strstr(raw, "Content-Type: text/html");
    CHECK(html && strstr(html, "<a href=3D=22https://example.com/t=3Fid=3D1=22>") != NULL);
    free(raw);

    /* an attached mail (message/rfc822) goes as octet-stream: libetpan
     * would write it as a message of its own without header fields */
    struct email_out_att eml = {.name = "forward.eml",
                                .mime_type = "message/rfc822",
                                .data = "From: a@b.c\r\n\r\nx",
                                .len = 16};
    o.atts = &eml;
    raw = email_build(&o, &len, why, sizeof why);
    CHECK(raw && strstr(raw, "Content-Type: application/octet-stream"));
    free(raw);

    char *w = email_encode_words("plain ascii");
    CHECK_STR(w, "plain ascii");
    free(w);
    w = email_encode_words("=?looks encoded?=");
    CHECK(strncmp(w, "=?UTF-8?B?", 10) == 0);
    free(w);
    /* long UTF-8: every word within 75 characters and decodable on its own */
    w = email_encode_words("ééééééééééééééééééééééééééééééééééééééééééééééééééé");
    for (char *p = w; *p;) {
        size_t n = strcspn(p, " ");
        CHECK(n <= 75);
        p += n + (p[n] == ' ');
    }
    free(w);
}

/* ------------------------------------------------------------ options */

#define OPTS_OK                                                                                    \
    "\"username\":\"u\",\"password\":\"p\",\"smtp_url\":\"smtp://127.0.0.1:25\","                  \
    "\"from\":\"Support <support@example.com>\""

static void test_options(void)
{
    char *e = og_test_conn_open_errors("email", "{" OPTS_OK "}");
    CHECK(strstr(e, "imap_url") != NULL);
    free(e);
    e = og_test_conn_open_errors("email", "{\"imap_url\":\"https://x\"," OPTS_OK "}");
    CHECK(strstr(e, "imaps:// or imap://") != NULL);
    free(e);
    e = og_test_conn_open_errors("email",
                                 "{\"imap_url\":\"imaps://x\",\"tls\":\"none\"," OPTS_OK "}");
    CHECK(strstr(e, "tls \"none\"") != NULL);
    free(e);
    e = og_test_conn_open_errors("email", "{\"imap_url\":\"imaps://u@x/INBOX\"," OPTS_OK "}");
    CHECK(strstr(e, "only scheme, host and port") != NULL);
    free(e);
    e = og_test_conn_open_errors("email",
                                 "{\"imap_url\":\"imaps://x\",\"processed\":\"move\"," OPTS_OK "}");
    CHECK(strstr(e, "move_to") != NULL);
    free(e);
    e = og_test_conn_open_errors("email", "{\"imap_url\":\"imaps://x\",\"username\":\"u\","
                                          "\"password\":\"p\",\"smtp_url\":\"smtp://h\","
                                          "\"from\":\"nobody\"}");
    CHECK(strstr(e, "from:") != NULL);
    free(e);
    e = og_test_conn_open_errors(
        "email", "{\"imap_url\":\"imaps://x\",\"ca_file\":\"/nonexistent\"," OPTS_OK "}");
    CHECK(strstr(e, "ca_file") != NULL);
    free(e);
    e = og_test_conn_open_errors(
        "email", "{\"imap_url\":\"imaps://x\",\"poll_interval_s\":1800," OPTS_OK "}");
    CHECK(strstr(e, "poll_interval_s") != NULL);
    free(e);
    struct og_test_conn *c = og_test_conn_open(
        "email", "{\"imap_url\":\"imaps://[::1]:9993\"," OPTS_OK ",\"processed\":\"seen\"}");
    CHECK(c != NULL);
    if (c) {
        const struct og_connector *d = og_test_conn_desc(c);
        CHECK(d->caps & OG_CAP_NON_REALTIME);
        CHECK(d->caps & OG_CAP_START_OUTBOUND);
        CHECK(d->caps & OG_CAP_ATTACH_URL);
        CHECK(d->default_rate_per_s > 0 && d->default_rate_per_s < 50);
        CHECK(d->handle_http == NULL && d->poll != NULL && d->poll_wakeup != NULL);
        struct email *em = og_test_conn_inst(c);
        CHECK_STR(em->imap_host, "::1");
        CHECK_INT(em->imap_port, 9993);
        CHECK_STR(em->from_addr, "support@example.com");
        CHECK_STR(em->from_domain, "example.com");
        og_test_conn_close(c);
    }
}

/* ------------------------------------------------ a scripted IMAP server */

/* UIDs 3..7 of a mailbox with UIDVALIDITY 7: 3 and 5 are ordinary mail, 4
 * is "poison" (the server drops the connection in the middle of its
 * literal, or answers garbage), 6 claims 50 MB, 7 repeats 3's Message-ID. */
struct fake_imap {
    int lfd, port;
    pthread_t th;
    atomic_int stop;
    atomic_int body_fetches[8]; /* BODY.PEEK[] requests naming each UID */
    atomic_int connections;
};

static const char *fake_msg(unsigned uid)
{
    switch (uid) {
    case 3:
        return "From: Ann <ann@example.com>\r\nMessage-ID: <m3@example.com>\r\n"
               "Subject: first\r\n\r\nfirst mail\r\n";
    case 4: return "From: x@example.com\r\nMessage-ID: <m4@example.com>\r\n\r\npoison\r\n";
    case 5:
        return "From: Ben <ben@example.com>\r\nMessage-ID: <m5@example.com>\r\n"
               "Subject: second\r\n\r\nsecond mail\r\n";
    case 6: return "From: y@example.com\r\nMessage-ID: <m6@example.com>\r\n\r\nhuge\r\n";
    case 7:
        return "From: Ann <ann@example.com>\r\nMessage-ID: <m3@example.com>\r\n"
               "Subject: first\r\n\r\nfirst mail again\r\n";
    }
    return NULL;
}

static int sendall(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        s += w, n -= (size_t)w;
    }
    return 0;
}

static int sendf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sendf(int fd, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return sendall(fd, buf, (size_t)n);
}

/* "3:5", "3,4,7", "4" -> the UIDs 3..7 it names */
static int set_has(const char *set, unsigned uid)
{
    for (const char *p = set; *p && *p != ' ';) {
        unsigned a = (unsigned)strtoul(p, (char **)&p, 10), b = a;
        if (*p == ':') {
            p++;
            b = *p == '*' ? 1000 : (unsigned)strtoul(p, (char **)&p, 10);
            if (*p == '*')
                p++;
        }
        if (uid >= (a < b ? a : b) && uid <= (a < b ? b : a))
            return 1;
        if (*p == ',')
            p++;
        else
            break;
    }
    return 0;
}

/* Serves one connection; returns when it closes it. */
static void fake_serve(struct fake_imap *f, int fd)
{
    char line[2048];
    size_t have = 0;
    sendf(fd, "* OK fake IMAP ready\r\n");
    for (;;) {
        char *nl;
        while (!(nl = memchr(line, '\n', have))) {
            ssize_t r = recv(fd, line + have, sizeof line - 1 - have, 0);
            if (r <= 0 || atomic_load(&f->stop))
                return;
            have += (size_t)r;
        }
        *nl = 0;
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "%s", line);
        size_t used = (size_t)(nl - line) + 1;
        memmove(line, nl + 1, have - used);
        have -= used;
        char tag[32] = "";
        sscanf(cmd, "%31s", tag);
        const char *rest = cmd + strlen(tag) + (cmd[strlen(tag)] == ' ');
        if (!strncasecmp(rest, "LOGIN", 5)) {
            sendf(fd, "%s OK LOGIN completed\r\n", tag);
        } else if (!strncasecmp(rest, "CAPABILITY", 10)) {
            sendf(fd, "* CAPABILITY IMAP4rev1 UIDPLUS\r\n%s OK done\r\n", tag);
        } else if (!strncasecmp(rest, "SELECT", 6)) {
            sendf(fd,
                  "* 5 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 3] ok\r\n"
                  "%s OK [READ-WRITE] SELECT completed\r\n",
                  tag);
        } else if (!strncasecmp(rest, "UID SEARCH", 10)) {
            sendf(fd, "* SEARCH 3 4 5 6 7\r\n%s OK SEARCH completed\r\n", tag);
        } else if (!strncasecmp(rest, "UID FETCH", 9)) {
            const char *set = rest + 10;
            int heads = strstr(rest, "RFC822.SIZE") != NULL;
            for (unsigned uid = 3; uid <= 7; uid++) {
                if (!set_has(set, uid))
                    continue;
                const char *msg = fake_msg(uid);
                if (heads) {
                    char hdr[128];
                    const char *mid = strstr(msg, "Message-ID:");
                    int hl = snprintf(hdr, sizeof hdr, "%.*s\r\n",
                                      (int)(strchr(mid, '\r') - mid + 2), mid);
                    sendf(fd,
                          "* %u FETCH (UID %u RFC822.SIZE %zu INTERNALDATE "
                          "\"02-Jan-2024 10:00:00 +0000\" BODY[HEADER.FIELDS (MESSAGE-ID)] "
                          "{%d}\r\n%s)\r\n",
                          uid - 2, uid, uid == 6 ? (size_t)50000000 : strlen(msg), hl, hdr);
                    continue;
                }
                int n = atomic_fetch_add(&f->body_fetches[uid], 1) + 1;
                if (uid == 4 && n % 2 == 1) { /* mid-literal, then the connection is gone */
                    sendf(fd, "* 2 FETCH (UID 4 BODY[]<0> {500}\r\npoi");
                    return;
                }
                if (uid == 4) { /* garbage where a literal should be */
                    sendf(fd,
                          "* 2 FETCH (UID 4 BODY[]<0> {zz}\r\n%%%% garbage ((\r\n"
                          "%s OK FETCH completed\r\n",
                          tag);
                    continue;
                }
                sendf(fd, "* %u FETCH (UID %u BODY[]<0> {%zu}\r\n%s)\r\n", uid - 2, uid,
                      strlen(msg), msg);
            }
            if (!heads && set_has(set, 4))
                return;
            sendf(fd, "%s OK FETCH completed\r\n", tag);
        } else if (!strncasecmp(rest, "LOGOUT", 6)) {
            sendf(fd, "* BYE\r\n%s OK\r\n", tag);
            return;
        } else if (!strncasecmp(rest, "NOOP", 4) || !strncasecmp(rest, "UID STORE", 9)) {
            sendf(fd, "%s OK done\r\n", tag);
        } else {
            sendf(fd, "%s BAD unknown\r\n", tag);
        }
    }
}

static void *fake_run(void *arg)
{
    struct fake_imap *f = arg;
    while (!atomic_load(&f->stop)) {
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            break;
        atomic_fetch_add(&f->connections, 1);
        fake_serve(f, fd);
        close(fd);
    }
    return NULL;
}

static int fake_start(struct fake_imap *f)
{
    memset(f, 0, sizeof *f);
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(f->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(f->lfd, 4) != 0 ||
        getsockname(f->lfd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    f->port = ntohs(a.sin_port);
    return pthread_create(&f->th, NULL, fake_run, f);
}

static void fake_stop(struct fake_imap *f)
{
    atomic_store(&f->stop, 1);
    shutdown(f->lfd, SHUT_RDWR);
    close(f->lfd);
    pthread_join(f->th, NULL);
}

static void test_poll_against_a_bad_server(void)
{
    struct fake_imap f;
    if (fake_start(&f) != 0) {
        CHECK(!"fake IMAP server");
        return;
    }
    char *opts = og_sprintf("{\"imap_url\":\"imap://127.0.0.1:%d\",\"tls\":\"none\"," OPTS_OK
                            ",\"smtp_starttls\":\"never\",\"max_message_bytes\":1048576}",
                            f.port);
    struct og_test_conn *c = og_test_conn_open("email", opts);
    free(opts);
    CHECK(c != NULL);
    if (!c) {
        fake_stop(&f);
        return;
    }
    const struct og_connector *d = og_test_conn_desc(c);
    void *inst = og_test_conn_inst(c);
    /* Bounded: the skip needs four connections a second apart. */
    for (int i = 0; i < 120; i++) {
        CHECK_INT(d->poll(inst, 250), OG_OK);
        const char *cur = og_test_state_get("test:c");
        if (cur && strncmp(cur, "7 7 ", 4) == 0)
            break;
    }
    const char *cur = og_test_state_get("test:c");
    CHECK(cur && strncmp(cur, "7 7 ", 4) == 0); /* every UID passed, 4 and 6 skipped */
    CHECK_INT(og_test_conn_messages(c), 2);     /* 3 and 5; 7 repeats 3 */
    json_object *m0 = og_test_conn_message(c, 0), *m1 = og_test_conn_message(c, 1);
    CHECK_STR(json_object_get_string(json_object_object_get(m0, "dedup_key")), "m3@example.com");
    CHECK_STR(json_object_get_string(json_object_object_get(m1, "dedup_key")), "m5@example.com");
    CHECK(strstr(json_object_get_string(json_object_object_get(m0, "text")), "first mail"));
    /* the poison message: once in the first batch, then three times alone */
    CHECK_INT(atomic_load(&f.body_fetches[4]), 4);
    CHECK_INT(atomic_load(&f.body_fetches[6]), 0); /* too large: never downloaded */
    CHECK_INT(atomic_load(&f.body_fetches[7]), 0); /* known Message-ID: never downloaded */
    /* and it stays so: more polls fetch nothing again */
    int before = atomic_load(&f.body_fetches[4]) + atomic_load(&f.body_fetches[3]) +
                 atomic_load(&f.body_fetches[5]);
    for (int i = 0; i < 4; i++)
        d->poll(inst, 100);
    CHECK_INT(atomic_load(&f.body_fetches[4]) + atomic_load(&f.body_fetches[3]) +
                  atomic_load(&f.body_fetches[5]),
              before);
    CHECK_INT(og_test_conn_messages(c), 2);
    /* a restart (a new instance on the same state) stores nothing twice */
    og_test_conn_close(c);
    opts = og_sprintf("{\"imap_url\":\"imap://127.0.0.1:%d\",\"tls\":\"none\"," OPTS_OK
                      ",\"smtp_starttls\":\"never\"}",
                      f.port);
    c = og_test_conn_open("email", opts);
    free(opts);
    if (c) {
        for (int i = 0; i < 3; i++)
            og_test_conn_desc(c)->poll(og_test_conn_inst(c), 100);
        CHECK_INT(og_test_conn_messages(c), 0);
        /* poll_wakeup cuts a poll short */
        og_test_conn_desc(c)->poll_wakeup(og_test_conn_inst(c));
        int64_t t0 = og_mono_ms();
        og_test_conn_desc(c)->poll(og_test_conn_inst(c), 20000);
        CHECK(og_mono_ms() - t0 < 5000);
        og_test_conn_close(c);
    }
    fake_stop(&f);
}

/* ------------------------------------------------------------ send() */

/* 1 when mail's header name contains needle. */
static int header_has_kit(const char *mail, const char *name, const char *needle)
{
    char *h = header(mail, name);
    int ok = h && strstr(h, needle) != NULL;
    if (!ok)
        fprintf(stderr, "%s: \"%s\" lacks \"%s\"\n", name, h ? h : "(none)", needle);
    free(h);
    return ok;
}

static struct og_outbound outbound(const char *mid, const char *thread, const char *text)
{
    struct og_outbound ob = {.struct_size = sizeof ob,
                             .message_id = mid,
                             .thread_id = thread,
                             .contact_external_id = "dana@example.org",
                             .kind = OG_KIND_TEXT,
                             .text = text,
                             .last_inbound_age_ms = -1};
    return ob;
}

static og_err send_one(struct og_test_conn *c, const struct og_outbound *ob,
                       struct og_send_result *res)
{
    memset(res, 0, sizeof *res);
    res->struct_size = sizeof *res;
    res->retry_after_ms = -1;
    return og_test_conn_desc(c)->send(og_test_conn_inst(c), ob, res);
}

/* The sink's mail whose Message-ID is id [xfer], waiting up to 5 s. */
static char *sink_mail(struct sink *s, const char *id)
{
    for (int t = 0; t < 50; t++) {
        size_t n = 0;
        char **v = sink_mails(s, &n);
        char *found = NULL;
        for (size_t i = 0; i < n && !found; i++) {
            char *h = header(v[i], "Message-ID");
            if (h && strstr(h, id))
                found = og_strdup(v[i]);
            free(h);
        }
        mails_free(v, n);
        if (found)
            return found;
        usleep(100000);
    }
    return NULL;
}

static void test_send(void)
{
    struct sink ok, refuse;
    if (sink_start(&ok, NULL) != 0 || sink_start(&refuse, "--reject") != 0) {
        CHECK(!"smtp sinks");
        return;
    }
    struct og_fake *files = og_fake_start();
    struct og_fake_resp pdf = {
        .status = 200, .body = "%PDF-1.4 fake", .content_type = "application/pdf"};
    og_fake_push(files, &pdf);
    struct og_fake_resp gone = {.status = 404, .body = "no"};
    og_fake_push(files, &gone);
    char *opts =
        og_sprintf("{\"imap_url\":\"imaps://127.0.0.1:9\",\"username\":\"u\","
                   "\"password\":\"p\",\"smtp_url\":\"smtp://127.0.0.1:%d\","
                   "\"smtp_starttls\":\"never\",\"from\":\"Support <support@example.com>\","
                   "\"reply_to\":\"help@example.com\"}",
                   ok.port);
    struct og_test_conn *c = og_test_conn_open("email", opts);
    free(opts);
    CHECK(c != NULL);
    if (!c)
        goto out;
    /* an agent starts a conversation: the thread is the contact's address */
    struct og_send_result res;
    struct og_outbound ob =
        outbound("msg_01SEND", "dana@example.org", "Your refund\nis on its way.");
    CHECK_INT(send_one(c, &ob, &res), OG_OK);
    CHECK_STR(res.provider_message_id, "og.msg_01SEND@example.com");
    free(res.provider_message_id);
    char tok[EMAIL_TOKEN_LEN + 1], key[40], subj[64];
    email_thread_token("dana@example.org", tok);
    snprintf(subj, sizeof subj, "Your refund [#%s]", tok);
    char *m1 = sink_mail(&ok, "og.msg_01SEND@example.com");
    CHECK(m1 != NULL);
    if (m1) {
        char *h = header(m1, "Subject");
        CHECK_STR(h, subj); /* the first line, no "Re:" */
        free(h);
        CHECK(header_has_kit(m1, "To", "dana@example.org"));
        CHECK(header_has_kit(m1, "Reply-To", "help@example.com"));
        CHECK(header_has_kit(m1, "X-MailFrom", "support@example.com"));
        h = header(m1, "In-Reply-To");
        CHECK(h == NULL);
        free(h);
        free(m1);
    }
    /* what the answer will find: our Message-ID and the token -> the thread */
    email_msgid_key("og.msg_01SEND@example.com", key);
    char *sk = og_sprintf("test:%s", key);
    CHECK_STR(og_test_state_get(sk), "o dana@example.org");
    free(sk);
    sk = og_sprintf("test:k:%s", tok);
    CHECK_STR(og_test_state_get(sk), "dana@example.org");
    free(sk);

    /* the second message of the thread replies to the first, with a PDF
     * downloaded from its URL */
    char *url = og_sprintf("%s/files/refund.pdf", og_fake_base(files));
    struct og_attachment att = {.url = url, .mime_type = "application/pdf"};
    ob = outbound("msg_02SEND", "dana@example.org", "Here is the receipt.");
    ob.kind = OG_KIND_FILE;
    ob.attachments = &att;
    ob.n_attachments = 1;
    CHECK_INT(send_one(c, &ob, &res), OG_OK);
    free(res.provider_message_id);
    char *m2 = sink_mail(&ok, "og.msg_02SEND@example.com");
    CHECK(m2 != NULL);
    if (m2) {
        char *h = header(m2, "Subject");
        CHECK(h && strncmp(h, "Re: Your refund [#", 18) == 0);
        free(h);
        CHECK(header_has_kit(m2, "In-Reply-To", "<og.msg_01SEND@example.com>"));
        CHECK(strstr(m2, "filename=\"refund.pdf\"") != NULL);
        CHECK(strstr(m2, "JVBERi0xLjQgZmFrZQ==") != NULL); /* "%PDF-1.4 fake" */
        free(m2);
    }
    /* an attachment that is gone: permanent, nothing sent */
    size_t before = sink_count(&ok);
    ob = outbound("msg_03SEND", "dana@example.org", "again");
    ob.attachments = &att;
    ob.n_attachments = 1;
    CHECK_INT(send_one(c, &ob, &res), OG_ERR_PERMANENT);
    CHECK_STR(res.error_code, "attachment_http");
    CHECK_INT(sink_count(&ok), before);
    /* kinds e-mail cannot carry */
    ob = outbound("msg_04SEND", "dana@example.org", "x");
    ob.kind = OG_KIND_REACTION;
    CHECK_INT(send_one(c, &ob, &res), OG_ERR_UNSUPPORTED);
    /* no address anywhere */
    ob = outbound("msg_05SEND", "e:unknownthread", "x");
    ob.contact_external_id = "12345";
    CHECK_INT(send_one(c, &ob, &res), OG_ERR_PERMANENT);
    CHECK_STR(res.error_code, "no_address");
    og_test_conn_close(c);

    /* an SMTP server that refuses: permanent, with its reply */
    opts = og_sprintf("{\"imap_url\":\"imaps://127.0.0.1:9\",\"username\":\"u\","
                      "\"password\":\"p\",\"smtp_url\":\"smtp://127.0.0.1:%d\","
                      "\"smtp_starttls\":\"never\",\"from\":\"support@example.com\"}",
                      refuse.port);
    c = og_test_conn_open("email", opts);
    free(opts);
    if (c) {
        ob = outbound("msg_06SEND", "dana@example.org", "refused");
        CHECK_INT(send_one(c, &ob, &res), OG_ERR_PERMANENT);
        CHECK_STR(res.error_code, "550");
        if (!strstr(res.error_message, "550"))
            fprintf(stderr, "smtp refusal: %s\n", res.error_message);
        CHECK(strstr(res.error_message, "550") != NULL);
        og_test_conn_close(c);
    }
    free(url);
out:
    og_fake_stop(files);
    sink_stop(&ok);
    sink_stop(&refuse);
}

int main(void)
{
    test_plain();
    test_gmail_reply();
    test_latin1_html_attachment();
    test_apple_related();
    test_encoded_words();
    test_rfc2231_and_iso2022();
    test_forward_signed_windows1252();
    test_broken();
    test_line_ends();
    test_auto_replies();
    test_bounces();
    test_bad_input();
    test_html();
    test_split();
    test_charsets();
    test_subjects();
    test_threading();
    test_build();
    test_options();
    test_send();
    test_poll_against_a_bad_server();
    return og_test_done();
}
