/* test_config_followups - the "smtp" and "followups" config sections
 * (config/og_config_followups.c): defaults, every value read, and one clear
 * error naming the key path for each kind of mistake. */
#include "og_config.h"
#include "og_plugin.h"
#include "og_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN "\"api\":{\"admin_token\":\"0123456789abcdef\"}"
#define SMTP "\"smtp\":{\"url\":\"smtp://mail.example.com:587\",\"from\":\"s@example.com\"}"

static int has(struct og_errors *e, const char *line)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->items[i], line) == 0)
            return 1;
    fprintf(stderr, "  missing \"%s\" among:\n", line);
    for (size_t i = 0; i < e->n; i++)
        fprintf(stderr, "    %s\n", e->items[i]);
    return 0;
}

/* Loads "{TOKEN,<members>}" and checks it gives exactly the one error. */
static void expect_one(const char *members, const char *line)
{
    char *text = malloc(strlen(members) + 128);
    sprintf(text, "{" TOKEN ",%s}", members);
    struct og_config cfg;
    struct og_errors errs = {0};
    og_config_load_buffer(text, strlen(text), &cfg, &errs);
    if (errs.n != 1)
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "  for %s: %s\n", members, errs.items[i]);
    CHECK_INT(errs.n, 1);
    CHECK(has(&errs, line));
    og_config_free(&cfg);
    og_errors_free(&errs);
    free(text);
}

static void test_values(void)
{
    const char *text =
        "{" TOKEN ",\"smtp\":{\"url\":\"smtps://mail.example.com:465\",\"username\":\"u\","
        "\"password\":\"p\",\"from\":\"Support <s@example.com>\",\"starttls\":\"always\","
        "\"ca_file\":\"/x/ca.pem\",\"timeout_ms\":1000,\"retry_initial_ms\":50,"
        "\"retry_max_ms\":500,\"max_attempts\":3},"
        "\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\",\"after_s\":5,"
        "\"channels\":[\"tg\"],\"reasons\":[\"solved\",\"other\"],\"success_codes\":[\"sale\"],"
        "\"subject\":\"S {{contact.name}}\",\"html\":\"<p>{{transcript}}</p>\"},"
        "{\"id\":\"b\",\"when\":\"customer_silent\",\"after_s\":60,\"subject\":\"x\","
        "\"text\":\"y\"}]}";
    struct og_config cfg;
    struct og_errors errs = {0};
    CHECK_INT(og_config_load_buffer(text, strlen(text), &cfg, &errs), 0);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "  %s\n", errs.items[i]);
    struct og_config_followups *f = cfg.followups;
    CHECK(f->smtp_set);
    CHECK_STR(f->smtp.url, "smtps://mail.example.com:465");
    CHECK_STR(f->smtp.username, "u");
    CHECK_STR(f->smtp.password, "p");
    CHECK_STR(f->smtp.from, "Support <s@example.com>");
    CHECK_STR(f->smtp.starttls, "always");
    CHECK_STR(f->smtp.ca_file, "/x/ca.pem");
    CHECK_INT(f->smtp.timeout_ms, 1000);
    CHECK_INT(f->smtp.retry_initial_ms, 50);
    CHECK_INT(f->smtp.retry_max_ms, 500);
    CHECK_INT(f->smtp.max_attempts, 3);
    CHECK_INT(f->n_rules, 2);
    if (f->n_rules == 2) {
        CHECK_STR(f->rules[0].id, "a");
        CHECK_INT(f->rules[0].after_s, 5);
        CHECK_INT(f->rules[0].n_channels, 1);
        CHECK_INT(f->rules[0].n_reasons, 2);
        CHECK_STR(f->rules[0].success_codes[0], "sale");
        CHECK(f->rules[0].text == NULL);
        CHECK_STR(f->rules[0].html, "<p>{{transcript}}</p>");
        CHECK_STR(f->rules[1].when, "customer_silent");
        CHECK_INT(f->rules[1].after_s, 60);
    }
    og_config_free(&cfg);
    og_errors_free(&errs);

    /* defaults, and nothing configured at all */
    const char *min = "{" TOKEN "}";
    CHECK_INT(og_config_load_buffer(min, strlen(min), &cfg, &errs), 0);
    CHECK(cfg.followups && !cfg.followups->smtp_set && cfg.followups->n_rules == 0);
    CHECK_STR(cfg.followups->smtp.starttls, "auto");
    CHECK_INT(cfg.followups->smtp.max_attempts, 8);
    CHECK_INT(cfg.followups->smtp.retry_initial_ms, 30000);
    og_config_free(&cfg);
    og_errors_free(&errs);
}

static void test_errors(void)
{
    expect_one("\"smtp\":{\"url\":\"http://x\",\"from\":\"s@example.com\"}",
               "smtp.url: must be smtp://host[:port] or smtps://host[:port] (credentials go in "
               "username/password)");
    expect_one("\"smtp\":{\"url\":\"smtp://u:p@x\",\"from\":\"s@example.com\"}",
               "smtp.url: must be smtp://host[:port] or smtps://host[:port] (credentials go in "
               "username/password)");
    expect_one("\"smtp\":{\"url\":\"smtp://x\",\"from\":\"support\"}",
               "smtp.from: must be an e-mail address, \"addr@example.com\" or \"Name "
               "<addr@example.com>\"");
    expect_one("\"smtp\":{\"from\":\"s@example.com\"}", "smtp.url: required");
    expect_one("\"smtp\":{\"url\":\"smtp://x\"}", "smtp.from: required");
    expect_one(SMTP ",\"smtp\":{\"url\":\"smtp://x\",\"from\":\"s@example.com\",\"tls\":1}",
               "smtp.tls: unknown key");
    expect_one("\"smtp\":{\"url\":\"smtp://x\",\"from\":\"s@example.com\",\"starttls\":\"yes\"}",
               "smtp.starttls: must be one of auto, always, never");
    expect_one("\"smtp\":{\"url\":\"smtp://x\",\"from\":\"s@example.com\",\"max_attempts\":0}",
               "smtp.max_attempts: must be between 1 and 100");
    expect_one("\"smtp\":{\"url\":\"smtp://x\",\"from\":\"s@example.com\","
               "\"retry_initial_ms\":5000,\"retry_max_ms\":1000}",
               "smtp.retry_max_ms: must be >= smtp.retry_initial_ms");
    expect_one("\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\",\"subject\":\"s\","
               "\"text\":\"t\"}]",
               "smtp: required when followups are configured");
    expect_one(SMTP ",\"followups\":{}", "followups: must be an array");
    expect_one(SMTP ",\"followups\":[{\"id\":\"a\",\"when\":\"later\",\"subject\":\"s\","
                    "\"text\":\"t\"}]",
               "followups[0].when: must be session.closed or customer_silent");
    expect_one(SMTP ",\"followups\":[{\"id\":\"a\",\"when\":\"customer_silent\","
                    "\"subject\":\"s\",\"text\":\"t\"}]",
               "followups[0].after_s: required and > 0 for customer_silent");
    expect_one(SMTP ",\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\","
                    "\"subject\":\"s\"}]",
               "followups[0]: text or html required");
    expect_one(SMTP ",\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\",\"text\":\"t\"}]",
               "followups[0].subject: required");
    expect_one(SMTP ",\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\","
                    "\"subject\":\"\",\"text\":\"t\"}]",
               "followups[0].subject: must not be empty");
    expect_one(SMTP ",\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\","
                    "\"subject\":\"s\",\"text\":\"\",\"html\":\"\"}]",
               "followups[0]: text or html must not be empty");
    expect_one(SMTP ",\"followups\":[{\"when\":\"session.closed\",\"subject\":\"s\","
                    "\"text\":\"t\"}]",
               "followups[0].id: required");
    expect_one(SMTP ",\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\",\"subject\":\"s\","
                    "\"text\":\"t\",\"cc\":\"x\"}]",
               "followups[0].cc: unknown key");
    expect_one(SMTP ",\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\","
                    "\"subject\":\"Hi {{contact.nmae}}\",\"text\":\"t\"}]",
               "followups[0].subject: unknown placeholder \"{{contact.nmae}}\" (known: "
               "contact.name, contact.email, contact.phone, agent.name, channel, session.id, "
               "session.close_reason, transcript, survey_url)");
    expect_one(SMTP ",\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\","
                    "\"subject\":\"s\",\"html\":\"<p>{{transcript</p>\"}]",
               "followups[0].html: unterminated \"{{\" at offset 3");
    expect_one(SMTP ",\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\","
                    "\"subject\":\"s\",\"text\":\"t\",\"reasons\":[\"resolved\"]}]",
               "followups[0].reasons[0]: must be one of solved, no_response, transferred, other");
    expect_one(SMTP ",\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\","
                    "\"subject\":\"s\",\"text\":\"t\",\"channels\":[1]}]",
               "followups[0].channels[0]: must be a string");
    expect_one(SMTP ",\"followups\":[{\"id\":\"a\",\"when\":\"customer_silent\",\"after_s\":5,"
                    "\"subject\":\"s\",\"text\":\"t\",\"channels\":[\"tg\"]}]",
               "followups[0]: channels, reasons and success_codes filter session.closed rules "
               "only");
    expect_one(SMTP ",\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\",\"subject\":\"s\","
                    "\"text\":\"t\"},{\"id\":\"a\",\"when\":\"session.closed\",\"subject\":\"s\","
                    "\"text\":\"t\"}]",
               "followups[1].id: \"a\" is used twice");
    expect_one(SMTP ",\"followups\":[{\"id\":\"A b\",\"when\":\"session.closed\","
                    "\"subject\":\"s\",\"text\":\"t\"}]",
               "followups[0].id: must be 1 to 64 of a-z, 0-9, _ and -");
}

int main(void)
{
    test_values();
    test_errors();
    return og_test_done();
}
