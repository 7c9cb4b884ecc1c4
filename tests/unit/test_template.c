/* test_template - the follow-ups' pure parts: template check and render
 * (HTML escaping), the transcript and variables of og_followups_render, the
 * RFC 2047 subject encoding, and address/From validation. */
#include "og_followups.h"
#include "og_smtp.h"
#include "og_template.h"
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

static void test_check(void)
{
    char err[256];
    CHECK_INT(og_template_check("Hi {{contact.name}}, {{ agent.name }}!", err, sizeof err), 0);
    CHECK_INT(og_template_check("no placeholders at all", err, sizeof err), 0);
    CHECK_INT(og_template_check("", err, sizeof err), 0);
    CHECK_INT(og_template_check("Hi {{contact.nmae}}", err, sizeof err), -1);
    CHECK(strstr(err, "unknown placeholder \"{{contact.nmae}}\"") != NULL);
    CHECK_INT(og_template_check("Hi {{contact.name", err, sizeof err), -1);
    CHECK(strstr(err, "unterminated") != NULL);
    CHECK_INT(og_template_check("{{}}", err, sizeof err), -1);
}

static void test_render(void)
{
    const struct og_tvar v[] = {
        {"contact.name", "Ann <b>&\"'", NULL},
        {"transcript", "a < b", "<i>ready</i>"},
        {"channel", NULL, NULL},
    };
    char *s = og_template_render("Hi {{contact.name}} [{{channel}}] {{transcript}} {{agent.name}}.",
                                 v, 3, 0);
    CHECK_STR(s, "Hi Ann <b>&\"' [] a < b .");
    free(s);
    s = og_template_render("<p>{{ contact.name }}</p>{{transcript}}", v, 3, 1);
    CHECK_STR(s, "<p>Ann &lt;b&gt;&amp;&quot;&#39;</p><i>ready</i>");
    free(s);
    /* a value is never interpreted: placeholders inside values stay text */
    const struct og_tvar w[] = {{"contact.name", "{{agent.name}}", NULL},
                                {"agent.name", "SECRET", NULL}};
    s = og_template_render("{{contact.name}}", w, 2, 0);
    CHECK_STR(s, "{{agent.name}}");
    free(s);
}

static void test_followup_render(void)
{
    struct og_fup_data d = {0};
    d.session = json_tokener_parse("{\"id\":\"ses_1\",\"channel\":\"tg\","
                                   "\"close_reason\":\"resolved\"}");
    d.email = og_strdup("ann@example.com");
    d.name = og_strdup("Ann");
    d.phone = og_strdup("");
    d.agent_name = og_strdup("Bob <agent>");
    d.messages = json_tokener_parse(
        "[{\"created_at\":\"2026-11-21T05:00:01.000Z\",\"kind\":\"text\",\"text\":\"hi\\nthere\","
        "\"sender\":{\"type\":\"contact\",\"name\":\"Ann\"}},"
        "{\"created_at\":\"2026-11-21T05:01:00.000Z\",\"kind\":\"text\",\"text\":\"<ok>\","
        "\"sender\":{\"type\":\"agent\"}},"
        "{\"created_at\":\"2026-11-21T05:02:00.000Z\",\"kind\":\"image\",\"text\":null,"
        "\"attachments\":[{\"name\":\"a.png\"}],\"sender\":{\"type\":\"contact\"}}]");
    struct og_fup_templates t = {"Re: {{channel}}\n{{session.id}}",
                                 "{{transcript}}--{{survey_url}}--{{session.close_reason}}",
                                 "<div>{{transcript}}</div><a>{{agent.name}}</a>"};
    struct og_fup_mail m = {0};
    og_followups_render(&d, &t, "https://x.example/csat/ses_1.9.ab", &m);
    CHECK_STR(m.subject, "Re: tg ses_1");
    CHECK_STR(m.text, "[2026-11-21 05:00] Ann: hi\n  there\n"
                      "[2026-11-21 05:01] Bob <agent>: <ok>\n"
                      "[2026-11-21 05:02] Ann: [image] a.png\n"
                      "--https://x.example/csat/ses_1.9.ab--resolved");
    CHECK_STR(m.html, "<div>[2026-11-21 05:00] Ann: hi<br>\n  there<br>\n"
                      "[2026-11-21 05:01] Bob &lt;agent&gt;: &lt;ok&gt;<br>\n"
                      "[2026-11-21 05:02] Ann: [image] a.png<br>\n</div>"
                      "<a>Bob &lt;agent&gt;</a>");
    og_fup_mail_clear(&m);
    struct og_fup_templates t2 = {"s", "{{survey_url}}", NULL};
    og_followups_render(&d, &t2, "", &m);
    CHECK_STR(m.text, "");
    CHECK(m.html == NULL);
    og_fup_mail_clear(&m);
    og_fup_data_clear(&d);
}

static void test_encode(void)
{
    struct og_buf b = {0};
    og_smtp_encode_header(&b, "Plain subject");
    og_buf_append(&b, "", 0);
    CHECK_STR(b.data, "Plain subject");
    b.len = 0;
    og_smtp_encode_header(&b, "Evil\r\nBcc: x@y.com");
    og_buf_append(&b, "", 0);
    CHECK_STR(b.data, "EvilBcc: x@y.com");
    b.len = 0;
    /* "=\r?" becomes "=?" once the CR is dropped: encoded, never passed on
     * as something a reader would decode (found by fuzz_template) */
    og_smtp_encode_header(&b, "a=\r?b");
    og_buf_append(&b, "", 0);
    CHECK_STR(b.data, "=?UTF-8?B?YT0/Yg==?=");
    b.len = 0;
    og_smtp_encode_header(&b, "Danke \xe2\x9c\x93");
    og_buf_append(&b, "", 0);
    CHECK_STR(b.data, "=?UTF-8?B?RGFua2Ug4pyT?=");
    b.len = 0;
    /* 30 x "€" (3 bytes each): 90 bytes -> two 45-byte words, folded */
    char euro[91] = "";
    for (int i = 0; i < 30; i++)
        strcat(euro, "\xe2\x82\xac");
    og_smtp_encode_header(&b, euro);
    og_buf_append(&b, "", 0);
    const char *fold = strstr(b.data, "\r\n ");
    CHECK(fold != NULL);
    CHECK(fold && fold - b.data <= 75);
    CHECK(fold && strlen(fold + 3) <= 75);
    /* a plain but very long subject is encoded too, so it is folded */
    b.len = 0;
    char longs[1001];
    memset(longs, 'a', 1000);
    longs[1000] = 0;
    og_smtp_encode_header(&b, longs);
    og_buf_append(&b, "", 0);
    CHECK(strncmp(b.data, "=?UTF-8?B?", 10) == 0);
    size_t maxline = 0;
    for (const char *p = b.data; *p;) {
        size_t l = strcspn(p, "\r");
        maxline = l > maxline ? l : maxline;
        p += l;
        if (*p)
            p += 3;
    }
    CHECK(maxline <= 76);
    og_buf_free(&b);
}

static void test_addresses(void)
{
    CHECK(og_smtp_addr_ok("ann@example.com"));
    CHECK(og_smtp_addr_ok("a.b+tag@sub.example.co"));
    CHECK(!og_smtp_addr_ok("ann"));
    CHECK(!og_smtp_addr_ok("ann@example"));
    CHECK(!og_smtp_addr_ok("@example.com"));
    CHECK(!og_smtp_addr_ok("a@b@example.com"));
    CHECK(!og_smtp_addr_ok("a b@example.com"));
    CHECK(!og_smtp_addr_ok("ann@exa_mple.com"));
    CHECK(!og_smtp_addr_ok("ann@example..com"));
    CHECK(!og_smtp_addr_ok("<ann@example.com>"));
    CHECK(!og_smtp_addr_ok("ann@example.com\r\n"));
    char name[64], addr[64];
    CHECK_INT(og_smtp_parse_from("Support <support@example.com>", name, 64, addr, 64), 0);
    CHECK_STR(name, "Support");
    CHECK_STR(addr, "support@example.com");
    CHECK_INT(og_smtp_parse_from("\"Help Desk\" <h@example.com>", name, 64, addr, 64), 0);
    CHECK_STR(name, "Help Desk");
    CHECK_INT(og_smtp_parse_from("h@example.com", name, 64, addr, 64), 0);
    CHECK_STR(name, "");
    CHECK_INT(og_smtp_parse_from("Support <bad>", name, 64, addr, 64), -1);
    CHECK_INT(og_smtp_parse_from("Support <a@example.com> x", name, 64, addr, 64), -1);
}

int main(void)
{
    test_check();
    test_render();
    test_followup_render();
    test_encode();
    test_addresses();
    return og_test_done();
}
