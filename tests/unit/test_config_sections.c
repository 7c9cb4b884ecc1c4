/* test_config_sections - the messages of every section that the key table
 * (config/og_config_int.h) took over from hand-written callbacks: routing,
 * agents, sessions, send, webhooks, webhook_dispatch, channels, smtp and
 * followups. Each case is a config with one mistake (or none) and the exact
 * error lines, in order, that the loader gave before the table replaced the
 * callbacks (commit 41b7e01): the table must say the same things. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "og_config.h"
#include "og_config_routing.h"
#include "og_plugin.h"
#include "og_test.h"
#include "og_util.h"

struct config_case {
    const char *members; /* added after "api" in a top-level object */
    const char *errors;  /* every error line, in order, each ending in '\n' */
};

/* clang-format off */
static const struct config_case cases[] = {
    {"\"routing\":{\"Bad Name\":{\"levels\":[{\"members\":[\"group:a\"]}]}}",
     "routing.Bad Name: a policy name must be 1-64 characters of a-z, 0-9, _ and -\n"},
    {"\"routing\":{\"p\":[]}",
     "routing.p: must be an object\n"},
    {"\"routing\":[]",
     "routing: must be an object\n"},
    {"\"routing\":{\"p\":{\"mode\":\"x\",\"levels\":[{\"members\":[\"group:a\"]}]}}",
     "routing.p.mode: must be \"auto\" or \"manual\"\n"},
    {"\"routing\":{\"p\":{\"mode\":1,\"levels\":[{\"members\":[\"group:a\"]}]}}",
     "routing.p.mode: must be a string\n"},
    {"\"routing\":{\"p\":{\"mode\":\"manual\"}}",
     ""},
    {"\"routing\":{\"p\":{}}",
     "routing.p.levels: required\n"},
    {"\"routing\":{\"p\":{\"levels\":[]}}",
     "routing.p.levels: must be a non-empty array\n"},
    {"\"routing\":{\"p\":{\"levels\":{}}}",
     "routing.p.levels: must be a non-empty array\n"},
    {"\"routing\":{\"p\":{\"levels\":[1]}}",
     "routing.p.levels[0]: must be an object\n"},
    {"\"routing\":{\"p\":{\"levels\":[{}]}}",
     "routing.p.levels[0].members: required\n"},
    {"\"routing\":{\"p\":{\"levels\":[{\"members\":[]}]}}",
     "routing.p.levels[0].members: must be a non-empty array of \"group:NAME\" or \"agent:EMAIL\"\n"},
    {"\"routing\":{\"p\":{\"levels\":[{\"members\":\"group:a\"}]}}",
     "routing.p.levels[0].members: must be a non-empty array of \"group:NAME\" or \"agent:EMAIL\"\n"},
    {"\"routing\":{\"p\":{\"levels\":[{\"members\":[\"group:a\",1,\"team:x\",\"agent:@x\",\"agent:x\",\"group:\"]}]}}",
     "routing.p.levels[0].members[1]: must be \"group:NAME\" or \"agent:EMAIL\"\nrouting.p.levels[0].members[2]: must be \"group:NAME\" or \"agent:EMAIL\"\nrouting.p.levels[0].members[3]: must be \"group:NAME\" or \"agent:EMAIL\"\nrouting.p.levels[0].members[4]: must be \"group:NAME\" or \"agent:EMAIL\"\nrouting.p.levels[0].members[5]: must be \"group:NAME\" or \"agent:EMAIL\"\n"},
    {"\"routing\":{\"p\":{\"levels\":[{\"members\":[\"group:a\"],\"name\":\"\"}]}}",
     "routing.p.levels[0].name: must not be empty\n"},
    {"\"routing\":{\"p\":{\"levels\":[{\"members\":[\"group:a\"],\"name\":3}]}}",
     "routing.p.levels[0].name: must be a string\n"},
    {"\"routing\":{\"p\":{\"levels\":[{\"members\":[\"group:a\"],\"method\":\"fast\"}]}}",
     "routing.p.levels[0].method: must be one of random, least_chats, most_space, sequential, most_chats\n"},
    {"\"routing\":{\"p\":{\"levels\":[{\"members\":[\"group:a\"],\"method\":2}]}}",
     "routing.p.levels[0].method: must be a string\n"},
    {"\"routing\":{\"p\":{\"levels\":[{\"members\":[\"group:a\"],\"x\":2}]}}",
     "routing.p.levels[0].x: unknown key\n"},
    {"\"routing\":{\"p\":{\"levels\":[{\"members\":[\"group:a\"]}],\"forwarding_level\":[]}}",
     "routing.p.forwarding_level: must be an object\n"},
    {"\"routing\":{\"p\":{\"levels\":[{\"members\":[\"group:a\"]}],\"forwarding_level\":{\"name\":\"f\"}}}",
     "routing.p.forwarding_level.members: required\n"},
    {"\"routing\":{\"p\":{\"levels\":[{\"members\":[\"group:a\"]}],\"auto_forward\":{\"after_s\":5,\"avoid_same_level\":\"yes\",\"z\":1}}}",
     "routing.p.auto_forward.after_s: must be between 10 and 60\nrouting.p.auto_forward.avoid_same_level: must be true or false\nrouting.p.auto_forward.z: unknown key\n"},
    {"\"routing\":{\"p\":{\"levels\":[{\"members\":[\"group:a\"]}],\"auto_forward\":{\"after_s\":\"10\"}}}",
     "routing.p.auto_forward.after_s: must be an integer\n"},
    {"\"routing\":{\"p\":{\"levels\":[{\"members\":[\"group:a\"]}],\"auto_forward\":[]}}",
     "routing.p.auto_forward: must be an object\n"},
    {"\"routing\":{\"p\":{\"levels\":[{\"members\":[\"group:a\"]}],\"extra\":1}}",
     "routing.p.extra: unknown key\n"},
    {"\"agents\":{}",
     "agents: must be an array\n"},
    {"\"agents\":[1]",
     "agents[0]: must be an object\n"},
    {"\"agents\":[{}]",
     "agents[0].email: required\n"},
    {"\"agents\":[{\"email\":\"nope\"}]",
     "agents[0].email: must be an e-mail address\n"},
    {"\"agents\":[{\"email\":\"a@b.c\",\"token\":\"short\"}]",
     "agents[0].token: must be at least 16 characters\n"},
    {"\"agents\":[{\"email\":\"a@b.c\",\"token\":7}]",
     "agents[0].token: must be a string\n"},
    {"\"agents\":[{\"email\":\"a@b.c\",\"colour\":\"red\"}]",
     "agents[0].colour: unknown field\n"},
    {"\"agents\":[{\"email\":\"a@b.c\",\"role\":\"boss\"}]",
     "agents[0].role: must be admin, manager or agent\n"},
    {"\"agents\":[{\"email\":\"a@b.c\",\"max_chats\":-1}]",
     "agents[0].max_chats: must be an integer from 0 to 100000, or null for unlimited\n"},
    {"\"agents\":[{\"email\":\"a@b.c\",\"groups\":[\"ok\",\"bad group\"]}]",
     "agents[0].groups[1]: must be a group name (1-64 of A-Z a-z 0-9 _ - .)\n"},
    {"\"agents\":[{\"email\":\"a@b.c\",\"allowed_ips\":[\"10.0.0.0/33\"]}]",
     "agents[0].allowed_ips[0]: must be an IPv4/IPv6 address or CIDR\n"},
    {"\"agents\":[{\"email\":\"a@b.c\"},{\"email\":\"a@b.c\"}]",
     "agents[1].email: duplicate agent e-mail\n"},
    {"\"agents\":[{\"email\":\"a@b.c\",\"token\":\"short\",\"role\":\"boss\"}]",
     "agents[0].token: must be at least 16 characters\nagents[0].role: must be admin, manager or agent\n"},
    {"\"sessions\":[]",
     "sessions: must be an object\n"},
    {"\"sessions\":{\"close\":[]}",
     "sessions.close: must be an object\n"},
    {"\"sessions\":{\"close\":{\"require_success_code\":1,\"allow_multiple_codes\":\"no\",\"success_codes\":\"sale\",\"x\":1}}",
     "sessions.close.require_success_code: must be true or false\nsessions.close.allow_multiple_codes: must be true or false\nsessions.close.success_codes: must be an array of strings\nsessions.close.x: unknown key\n"},
    {"\"sessions\":{\"close\":{\"success_codes\":[\"ok\",\"\",3,\"bad code\",\"x.Y-z_1\"]}}",
     "sessions.close.success_codes[1]: must not be empty\nsessions.close.success_codes[2]: must be a string\nsessions.close.success_codes[3]: must be 1-64 of A-Z a-z 0-9 _ - .\n"},
    {"\"sessions\":{\"archive_after_s\":-1,\"offline_returns_sessions\":0,\"y\":2}",
     "sessions.archive_after_s: must be between 0 and 315360000\nsessions.offline_returns_sessions: must be true or false\nsessions.y: unknown key\n"},
    {"\"sessions\":{\"archive_after_s\":315360001}",
     "sessions.archive_after_s: must be between 0 and 315360000\n"},
    {"\"send\":{\"workers\":0,\"max_attempts\":101,\"retry_backoff_ms\":9,\"retry_max_ms\":86400001,\"claim_idle_ms\":99,\"x\":1}",
     "send.workers: must be between 1 and 64\nsend.max_attempts: must be between 1 and 100\nsend.retry_backoff_ms: must be between 10 and 3600000\nsend.retry_max_ms: must be between 10 and 86400000\nsend.claim_idle_ms: must be between 100 and 3600000\nsend.x: unknown key\n"},
    {"\"send\":[]",
     "send: must be an object\n"},
    {"\"webhook_dispatch\":{\"concurrency\":1025}",
     "webhook_dispatch.concurrency: must be between 1 and 1024\n"},
    {"\"webhooks\":[1]",
     "webhooks[0]: must be an object\n"},
    {"\"webhooks\":[{\"id\":\"a\",\"url\":\"https://x/\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"timeout_ms\":99}]",
     "webhooks[0].timeout_ms: must be an integer from 100 to 120000\n"},
    {"\"webhooks\":[{\"url\":\"https://x/\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}]",
     "webhooks[0].id: required\n"},
    {"\"webhooks\":[{\"id\":\"a\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"enabled\":1}]",
     "webhooks[0].url: required\n"},
    {"\"channels\":[{\"id\":\"a\",\"connector\":\"b\",\"rate_limit_per_s\":0}]",
     "channels[0].rate_limit_per_s: must be from 0.01 to 100000\n"},
    {"\"channels\":[{\"id\":\"a\",\"connector\":\"b\",\"rate_limit_per_s\":\"5\"}]",
     "channels[0].rate_limit_per_s: must be a number\n"},
    {"\"channels\":[{\"id\":\"a\",\"connector\":\"b\",\"rate_limit_per_s\":100000.5}]",
     "channels[0].rate_limit_per_s: must be from 0.01 to 100000\n"},
    {"\"channels\":[{\"id\":\"a\",\"connector\":\"b\",\"routing\":\"nope\"}]",
     "channels[0].routing: unknown routing policy \"nope\"\n"},
    {"\"channels\":[{\"id\":\"a\",\"connector\":\"b\",\"routing\":\"No Pe\"}]",
     "channels[0].routing: unknown routing policy\n"},
    {"\"channels\":[1,{\"id\":\"a\",\"connector\":\"b\",\"routing\":\"x\"}]",
     "channels[0]: must be an object\nchannels[1].routing: unknown routing policy \"x\"\n"},
    {"\"public_url\":\"https://x.example.com///\"",
     ""},
    {"\"public_url\":\"\"",
     ""},
    {"\"public_url\":\"ftp://x\"",
     "public_url: must be an http:// or https:// URL\n"},
    {"\"public_url\":\"http:///x\"",
     "public_url: must be an http:// or https:// URL\n"},
    {"\"public_url\":\"http://a b\"",
     "public_url: must be an http:// or https:// URL\n"},
    /* what the checks by hand let through and curl_url refuses (#15.10) */
    {"\"public_url\":\"https://:8080/\"",
     "public_url: must be an http:// or https:// URL\n"},
    {"\"public_url\":\"https://[::1/\"",
     "public_url: must be an http:// or https:// URL\n"},
    {"\"public_url\":\"https://a.example:99999\"",
     "public_url: must be an http:// or https:// URL\n"},
    {"\"public_url\":\"http:/a.example\"",
     "public_url: must be an http:// or https:// URL\n"},
    {"\"webhooks\":[{\"id\":\"a\",\"url\":\"https://:80/x\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}]",
     "webhooks[0].url: must be an http:// or https:// URL\n"},
    {"\"webhooks\":[{\"id\":\"a\",\"url\":\"https://a.example:99999/x\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}]",
     "webhooks[0].url: must be an http:// or https:// URL\n"},
    {"\"redis\":{\"password\":\"\"}",
     ""},
    {"\"http\":{\"threads\":257}",
     "http.threads: must be between 0 and 256\n"},
    {"\"log_level\":5",
     "log_level: must be a string\n"},
    {"\"connector_dir\":\"\"",
     "connector_dir: must not be empty\n"},
    {"\"connector_dir\":3",
     "connector_dir: must be a string\n"},
    {"\"smtp\":[]",
     "smtp: must be an object\n"},
    {"\"smtp\":{\"url\":\"smtp://:25\",\"from\":\"a@b.c\"}",
     "smtp.url: must be smtp://host[:port] or smtps://host[:port] (credentials go in username/password)\n"},
    {"\"smtp\":{\"url\":\"smtps://x\",\"from\":\"a@b.c\",\"username\":\"\",\"password\":\"\",\"ca_file\":\"\"}",
     "smtp.ca_file: must not be empty\n"},
    {"\"smtp\":{\"url\":\"smtps://x\",\"from\":\"a@b.c\",\"timeout_ms\":99,\"retry_initial_ms\":9,\"retry_max_ms\":604800001}",
     "smtp.timeout_ms: must be between 100 and 600000\nsmtp.retry_initial_ms: must be between 10 and 86400000\nsmtp.retry_max_ms: must be between 10 and 604800000\n"},
    {"\"followups\":[1]",
     "followups[0]: must be an object\nsmtp: required when followups are configured\n"},
    {"\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\",\"subject\":\"s\",\"text\":\"t\",\"after_s\":-1}]",
     "followups[0].after_s: must be between 0 and 7776000\nsmtp: required when followups are configured\n"},
    {"\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\",\"subject\":\"s\",\"text\":\"t\",\"after_s\":7776001}]",
     "followups[0].after_s: must be between 0 and 7776000\nsmtp: required when followups are configured\n"},
    {"\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\",\"subject\":\"s\",\"text\":\"t\",\"reasons\":\"solved\"}]",
     "followups[0].reasons: must be an array of strings\nsmtp: required when followups are configured\n"},
    {"\"followups\":[{\"id\":\"a\",\"when\":\"session.closed\",\"subject\":\"s\",\"text\":\"t\",\"channels\":[\"\"]}]",
     "followups[0].channels[0]: must not be empty\nsmtp: required when followups are configured\n"},
    {"\"followups\":[{\"id\":\"a\",\"when\":3,\"subject\":4,\"text\":5,\"html\":6}]",
     "followups[0].when: must be a string\nfollowups[0].subject: must be a string\nfollowups[0].text: must be a string\nfollowups[0].html: must be a string\nsmtp: required when followups are configured\n"},
    /* media.s3: the shared store (config/og_config_media.c) */
    {"\"media\":{\"s3\":{\"endpoint\":\"http://127.0.0.1:9000\",\"bucket\":\"m-1\",\"access_key\":\"a\",\"secret_key\":\"s\"}}",
     ""},
    {"\"media\":{\"s3\":{\"endpoint\":\"ftp://h\",\"bucket\":\"m-1\",\"access_key\":\"a\",\"secret_key\":\"s\"}}",
     "media.s3.endpoint: must be an http:// or https:// URL (http(s)://host[:port])\n"},
    {"\"media\":{\"s3\":{\"endpoint\":\"https://s3.example.com\"}}",
     "media.s3.bucket: required with media.s3.endpoint\nmedia.s3.access_key: required with media.s3.endpoint\nmedia.s3.secret_key: required with media.s3.endpoint\n"},
    {"\"media\":{\"s3\":{\"endpoint\":\"http://h:1\",\"bucket\":\"Bad_Bucket\",\"access_key\":\"a\",\"secret_key\":\"s\"}}",
     "media.s3.bucket: must be an S3 bucket name: 3 to 63 of a-z 0-9 . -\n"},
};
/* clang-format on */

static void run(const struct config_case *c)
{
    char *text = og_sprintf("{\"api\":{\"admin_token\":\"0123456789abcdef\"},%s}", c->members);
    struct og_config cfg;
    struct og_errors errs = {0};
    int rc = og_config_load_buffer(text, strlen(text), &cfg, &errs);
    struct og_buf b = {0};
    og_buf_puts(&b, "");
    for (size_t i = 0; i < errs.n; i++)
        og_buf_printf(&b, "%s\n", errs.items[i]);
    if (strcmp(b.data, c->errors) != 0)
        fprintf(stderr, "  for %s\n  want:\n%s  got:\n%s", c->members, c->errors, b.data);
    CHECK_STR(b.data, c->errors);
    CHECK_INT(rc, *c->errors ? -1 : 0);
    og_buf_free(&b);
    og_errors_free(&errs);
    og_config_free(&cfg);
    free(text);
}

/* What the sections keep of a good file. */
static void test_values(void)
{
    const char *text =
        "{\"api\":{\"admin_token\":\"0123456789abcdef\"},\"public_url\":\"https://x.example.com///"
        "\","
        "\"redis\":{\"password\":\"\"},\"routing\":{\"p\":{\"mode\":\"manual\"}},"
        "\"sessions\":{\"close\":{\"require_success_code\":true,\"allow_multiple_codes\":false,"
        "\"success_codes\":[\"sale\",\"x.Y-z_1\"]},\"archive_after_s\":0,"
        "\"offline_returns_sessions\":false},"
        "\"agents\":[{\"email\":\"a@b.c\",\"token\":\"0123456789abcdef\",\"max_chats\":null}],"
        "\"send\":{\"workers\":64,\"claim_idle_ms\":100}}";
    struct og_config cfg;
    struct og_errors errs = {0};
    CHECK_INT(og_config_load_buffer(text, strlen(text), &cfg, &errs), 0);
    CHECK_STR(cfg.public_url, "https://x.example.com");
    CHECK(cfg.redis.password == NULL);
    CHECK(json_object_object_get_ex(cfg.routing->policies, "p", NULL));
    CHECK_INT(cfg.routing->require_success_code, 1);
    CHECK_INT(cfg.routing->allow_multiple_codes, 0);
    CHECK_INT(cfg.routing->n_success_codes, 2);
    if (cfg.routing->n_success_codes == 2)
        CHECK_STR(cfg.routing->success_codes[1], "x.Y-z_1");
    CHECK_INT(cfg.routing->archive_after_s, 0);
    CHECK_INT(cfg.routing->offline_returns_sessions, 0);
    CHECK_INT(cfg.routing->n_agents, 1);
    if (cfg.routing->n_agents == 1) {
        CHECK_STR(cfg.routing->agents[0].token, "0123456789abcdef");
        CHECK(!json_object_object_get_ex(cfg.routing->agents[0].fields, "token", NULL));
    }
    CHECK_INT(cfg.send.workers, 64);
    CHECK_INT(cfg.send.claim_idle_ms, 100);
    CHECK_INT(cfg.send.max_attempts, 8);
    og_config_free(&cfg);
    og_errors_free(&errs);

    /* the defaults of the sections held by pointer */
    const char *min = "{\"api\":{\"admin_token\":\"0123456789abcdef\"}}";
    CHECK_INT(og_config_load_buffer(min, strlen(min), &cfg, &errs), 0);
    CHECK(cfg.routing->policies == NULL && cfg.routing->n_agents == 0);
    CHECK_INT(cfg.routing->allow_multiple_codes, 1);
    CHECK_INT(cfg.routing->archive_after_s, 604800);
    CHECK_INT(cfg.routing->offline_returns_sessions, 1);
    CHECK_STR(cfg.followups->smtp.starttls, "auto");
    CHECK_INT(cfg.followups->smtp.retry_max_ms, 3600000);
    og_config_free(&cfg);
    og_errors_free(&errs);
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run(&cases[i]);
    test_values();
    return og_test_done();
}
