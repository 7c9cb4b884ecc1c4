/* test_webhook_sign - Standard Webhooks signing (the test vector of
 * CHANNELS.md §7), secret parsing, the retry schedule and subscription
 * validation/serialisation of core/og_webhooks.c, and the config sections
 * "webhooks" / "webhook_dispatch" (errors name the key path). No servers. */
#include "og_config.h"
#include "og_plugin.h"
#include "og_test.h"
#include "og_util.h"
#include "og_webhooks.h"

#include <stdlib.h>
#include <string.h>

static int parse(const char *json, struct og_webhook_sub *s, char *err, size_t errlen)
{
    json_object *j = json_tokener_parse(json);
    memset(s, 0, sizeof *s);
    int rc = og_webhook_sub_parse(j, s, 0, err, errlen);
    json_object_put(j);
    return rc;
}

#define CFG_HEAD "{\"api\":{\"admin_token\":\"0123456789abcdef0123\"},"

/* Loads a config; returns the errors joined by '\n' [xfer] ("" when none). */
static char *cfg_errors(const char *text, struct og_config *cfg)
{
    struct og_errors errs = {0};
    og_config_load_buffer(text, strlen(text), cfg, &errs);
    struct og_buf b = {0};
    og_buf_puts(&b, "");
    for (size_t i = 0; i < errs.n; i++)
        og_buf_printf(&b, "%s\n", errs.items[i]);
    og_errors_free(&errs);
    return b.data;
}

static void test_config(void)
{
    struct og_config cfg;
    char *e = cfg_errors(CFG_HEAD "\"webhooks\":[{\"id\":\"crm\",\"url\":\"https://x/h\","
                                  "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\","
                                  "\"events\":[\"message.received\"],\"retry_schedule_s\":[1,2],"
                                  "\"timeout_ms\":3000,\"enabled\":false}],"
                                  "\"webhook_dispatch\":{\"concurrency\":8}}",
                         &cfg);
    CHECK_STR(e, "");
    CHECK_INT(cfg.n_webhooks, 1);
    if (cfg.n_webhooks == 1) {
        CHECK_STR(cfg.webhooks[0].id, "crm");
        CHECK_INT(cfg.webhooks[0].from_config, 1);
        CHECK_INT(cfg.webhooks[0].enabled, 0);
        CHECK_INT(cfg.webhooks[0].n_retry, 2);
        CHECK_INT(cfg.webhooks[0].timeout_ms, 3000);
    }
    CHECK_INT(cfg.webhook_dispatch.concurrency, 8);
    free(e);
    og_config_free(&cfg);

    /* defaults */
    e = cfg_errors(CFG_HEAD "\"listen\":\"127.0.0.1:1\"}", &cfg);
    CHECK_STR(e, "");
    CHECK_INT(cfg.n_webhooks, 0);
    CHECK_INT(cfg.webhook_dispatch.concurrency, 64);
    free(e);
    og_config_free(&cfg);

    /* every problem names its path; the secret's value is never echoed */
    e = cfg_errors(CFG_HEAD "\"webhooks\":["
                            "{\"id\":\"a\",\"url\":\"https://x/"
                            "\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\","
                            "\"events\":[\"message.received\",\"message.recieved\"]},"
                            "{\"id\":\"b\",\"url\":\"https://x/\",\"secret\":\"whsec_tooshort\"},"
                            "{\"id\":\"c\",\"url\":\"https://x/\"},"
                            "{\"id\":\"d\",\"url\":\"https://x/"
                            "\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\","
                            "\"colour\":1},"
                            "{\"id\":\"e\",\"url\":\"https://x/"
                            "\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"},"
                            "{\"id\":\"e\",\"url\":\"https://x/"
                            "\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}],"
                            "\"webhook_dispatch\":{\"concurrency\":0,\"burst\":1}}",
                   &cfg);
    CHECK(strstr(e, "webhooks[0].events[1]: unknown event type\n") != NULL);
    CHECK(strstr(e, "webhooks[1].secret: must be") != NULL);
    CHECK(strstr(e, "whsec_tooshort") == NULL);
    CHECK(strstr(e, "webhooks[2].secret: required\n") != NULL);
    CHECK(strstr(e, "webhooks[3].colour: unknown key\n") != NULL);
    CHECK(strstr(e, "webhooks[5].id: duplicate id 'e'\n") != NULL);
    CHECK(strstr(e, "webhook_dispatch.concurrency: must be between 1 and 1024\n") != NULL);
    CHECK(strstr(e, "webhook_dispatch.burst: unknown key\n") != NULL);
    CHECK_INT(cfg.n_webhooks, 1); /* only e, once */
    free(e);
    og_config_free(&cfg);
    e = cfg_errors(CFG_HEAD "\"webhooks\":{}}", &cfg);
    CHECK_STR(e, "webhooks: must be an array\n");
    free(e);
    og_config_free(&cfg);
}

int main(void)
{
    test_config();

    /* the published vector */
    char sig[128];
    const char *body = "{\"test\": 2432232314}";
    CHECK_INT(og_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                              "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), sig,
                              sizeof sig),
              0);
    CHECK_STR(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* any change to id, timestamp or body changes it */
    CHECK_INT(og_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                              "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, strlen(body), sig,
                              sizeof sig),
              0);
    CHECK(strcmp(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=") != 0);

    /* secrets: whsec_ + base64 of 24..64 bytes */
    unsigned char key[64];
    CHECK_INT(og_webhook_secret_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key), 24);
    CHECK_INT(og_webhook_secret_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key), -1);
    CHECK_INT(og_webhook_secret_decode("whsec_c2hvcnQ=", key), -1); /* 5 bytes */
    CHECK_INT(og_webhook_secret_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La!aSw", key), -1);
    CHECK_INT(og_webhook_secret_decode(NULL, key), -1);
    CHECK_INT(og_webhook_sign("nope", "a", 1, "x", 1, sig, sizeof sig), -1);
    char *gen = og_webhook_secret_new();
    CHECK_INT(og_webhook_secret_decode(gen, key), 32);
    char *gen2 = og_webhook_secret_new();
    CHECK(strcmp(gen, gen2) != 0);
    free(gen), free(gen2);

    /* event types */
    struct og_webhook_sub s0;
    char err0[200];
    CHECK(og_webhook_event_type_known("message.received"));
    CHECK(og_webhook_event_type_known("followup.failed"));
    CHECK(!og_webhook_event_type_known("message.recieved"));
    CHECK_INT(parse("{\"id\":\"fam\",\"url\":\"http://x/\",\"events\":[\"session.*\"]}", &s0, err0,
                    sizeof err0),
              0);
    CHECK(og_webhook_sub_matches(&s0, "session.window_closed"));
    CHECK(og_webhook_sub_matches(&s0, "session.some_future_type"));
    CHECK(!og_webhook_sub_matches(&s0, "message.received"));
    og_webhook_sub_clear(&s0);
    CHECK_INT(parse("{\"id\":\"fam\",\"url\":\"http://x/\",\"events\":[\"bogus.*\"]}", &s0, err0,
                    sizeof err0),
              -1);
    og_webhook_sub_clear(&s0);

    /* subscriptions */
    struct og_webhook_sub s;
    char err[200];
    CHECK_INT(parse("{\"id\":\"crm\",\"url\":\"https://crm.example.com/h\","
                    "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\","
                    "\"events\":[\"message.received\",\"session.created\"],"
                    "\"retry_schedule_s\":[1,2,3],\"timeout_ms\":500}",
                    &s, err, sizeof err),
              0);
    CHECK_STR(s.id, "crm");
    CHECK_INT(s.n_events, 2);
    CHECK_INT(s.n_retry, 3);
    CHECK_INT(s.timeout_ms, 500);
    CHECK_INT(s.enabled, 1);
    CHECK(og_webhook_sub_matches(&s, "message.received"));
    CHECK(!og_webhook_sub_matches(&s, "message.sent"));
    /* schedule: delay after failure n, +-10%; exhausted after 3 */
    for (int i = 0; i < 50; i++) {
        int64_t d = og_webhook_retry_delay_ms(&s, 2);
        CHECK(d >= 1800 && d <= 2200);
    }
    CHECK_INT(og_webhook_retry_delay_ms(&s, 4), -1);
    /* stored form round-trips, API form hides the secret */
    char *stored = og_webhook_sub_json(&s, 1);
    char *shown = og_webhook_sub_json(&s, 0);
    CHECK(strstr(stored, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") != NULL);
    CHECK(strstr(shown, "whsec_") == NULL);
    struct og_webhook_sub s2;
    CHECK_INT(parse(stored, &s2, err, sizeof err), 0);
    CHECK_STR(s2.url, "https://crm.example.com/h");
    CHECK_INT(s2.n_retry, 3);
    CHECK_INT(s2.retry_s[2], 3);
    og_webhook_sub_clear(&s2);
    free(stored), free(shown);
    og_webhook_sub_clear(&s);

    /* defaults: all events, the CHANNELS.md schedule (9 retries over ~24 h) */
    CHECK_INT(parse("{\"id\":\"a\",\"url\":\"http://127.0.0.1:1/x\"}", &s, err, sizeof err), 0);
    CHECK(og_webhook_sub_matches(&s, "goal.missed"));
    int64_t total = 0;
    int n = 0;
    for (int i = 1; og_webhook_retry_delay_ms(&s, i) >= 0; i++, n++)
        total += og_webhook_retry_delay_ms(&s, i);
    CHECK_INT(n, 9);
    CHECK(total > 20 * 3600 * 1000LL && total < 27 * 3600 * 1000LL);
    og_webhook_sub_clear(&s);

    /* errors name the field */
    CHECK_INT(parse("{\"id\":\"a\",\"url\":\"ftp://x\"}", &s, err, sizeof err), -1);
    CHECK(strncmp(err, "url:", 4) == 0);
    og_webhook_sub_clear(&s);
    CHECK_INT(parse("{\"id\":\"a\",\"url\":\"http://x\",\"events\":[\"*\",\"nope\"]}", &s, err,
                    sizeof err),
              -1);
    CHECK_STR(err, "events[1]: unknown event type");
    og_webhook_sub_clear(&s);
    CHECK_INT(parse("{\"id\":\"A B\",\"url\":\"http://x\"}", &s, err, sizeof err), -1);
    CHECK(strncmp(err, "id:", 3) == 0);
    og_webhook_sub_clear(&s);
    CHECK_INT(parse("{\"id\":\"a\",\"url\":\"http://x\",\"retry_schedule_s\":[1,-1]}", &s, err,
                    sizeof err),
              -1);
    CHECK(strncmp(err, "retry_schedule_s[1]", 19) == 0);
    og_webhook_sub_clear(&s);
    CHECK_INT(
        parse("{\"id\":\"a\",\"url\":\"http://x\",\"secret\":\"whsec_abc\"}", &s, err, sizeof err),
        -1);
    CHECK(strncmp(err, "secret:", 7) == 0);
    og_webhook_sub_clear(&s);
    return og_test_done();
}
