/* test_config_env - values from the environment take the type their key
 * wants (issue 15, item 5): "${NAME}" substitution yields a string, so an
 * integer, boolean or number key converts it, in the core's own keys
 * (config/og_config_rows.c) and in a connector's options (og_options_parse
 * in core/og_plugin.c); a text that does not convert is an error naming the
 * key and the variable, never the value. A literal "32" written in the file
 * is still a wrong type, as a typo guard. The last case runs the daemon's
 * --check with the VK connector, the example from the issue. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "og_config.h"
#include "og_config_routing.h"
#include "og_plugin.h"
#include "og_test.h"
#include "og_util.h"
#include "og_webhooks.h"

#define TOKEN "\"api\":{\"admin_token\":\"0123456789abcdef\"}"

/* Loads text; returns the errors joined by '\n' [xfer] ("" when none). */
static char *load(const char *text, struct og_config *cfg)
{
    struct og_errors errs = {0};
    int rc = og_config_load_buffer(text, strlen(text), cfg, &errs);
    struct og_buf b = {0};
    og_buf_puts(&b, "");
    for (size_t i = 0; i < errs.n; i++)
        og_buf_printf(&b, "%s\n", errs.items[i]);
    CHECK_INT(rc, errs.n ? -1 : 0);
    og_errors_free(&errs);
    return b.data;
}

/* Loads text and checks it gives exactly the errors want ("" = none). */
static void expect(const char *text, const char *want)
{
    struct og_config cfg;
    char *got = load(text, &cfg);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "  for %s\n  want: %s  got:  %s\n", text, want, got);
    CHECK_STR(got, want);
    free(got);
    og_config_free(&cfg);
}

static void test_core_integers(void)
{
    struct og_config cfg;
    char *e = load("{" TOKEN ",\"redis\":{\"pool_size\":\"${OG_T_POOL}\"},"
                   "\"http\":{\"max_body_bytes\":\"1${OG_T_ZERO}${OG_T_ZERO}\"},"
                   "\"send\":{\"workers\":\"${OG_T_TWO}\"},"
                   "\"sessions\":{\"archive_after_s\":\"${OG_T_ZERO}\"}}",
                   &cfg);
    CHECK_STR(e, "");
    CHECK_INT(cfg.redis.pool_size, 32);
    CHECK_INT(cfg.http.max_body_bytes, 100);
    CHECK_INT(cfg.send.workers, 2);
    CHECK_INT(cfg.routing->archive_after_s, 0);
    /* the tree later readers see holds the integer too */
    json_object *redis, *pool;
    CHECK(json_object_object_get_ex(cfg.root, "redis", &redis) &&
          json_object_object_get_ex(redis, "pool_size", &pool) &&
          json_object_is_type(pool, json_type_int) && json_object_get_int64(pool) == 32);
    free(e);
    og_config_free(&cfg);

    /* a text that is not an integer names the key and the variable, not the value */
    e = load("{" TOKEN ",\"redis\":{\"pool_size\":\"${OG_T_SECRET}\"}}", &cfg);
    CHECK_STR(e, "redis.pool_size: ${OG_T_SECRET} is not an integer\n");
    CHECK(strstr(e, "hunter2") == NULL);
    CHECK_INT(cfg.redis.pool_size, 16); /* the default stays */
    free(e);
    og_config_free(&cfg);
    expect("{" TOKEN ",\"redis\":{\"pool_size\":\"x${OG_T_POOL}\"}}",
           "redis.pool_size: x${OG_T_POOL} is not an integer\n");
    expect("{" TOKEN ",\"redis\":{\"pool_size\":\"${OG_T_EMPTY}\"}}",
           "redis.pool_size: ${OG_T_EMPTY} is not an integer\n");
    expect("{" TOKEN ",\"redis\":{\"pool_size\":\"${OG_T_SPACE}\"}}",
           "redis.pool_size: ${OG_T_SPACE} is not an integer\n");
    expect("{" TOKEN ",\"redis\":{\"pool_size\":\"${OG_T_HALF}\"}}",
           "redis.pool_size: ${OG_T_HALF} is not an integer\n");
    /* converted, then held to the key's range like a literal */
    expect("{" TOKEN ",\"redis\":{\"pool_size\":\"${OG_T_BIG}\"}}",
           "redis.pool_size: must be between 1 and 256\n");
    expect("{" TOKEN ",\"redis\":{\"pool_size\":\"-${OG_T_POOL}\"}}",
           "redis.pool_size: must be between 1 and 256\n");
    /* written in the file, "32" is still a string: a typo guard */
    expect("{" TOKEN ",\"redis\":{\"pool_size\":\"32\"}}", "redis.pool_size: must be an integer\n");
    /* "$${" is a literal "${", and the text stays as written */
    expect("{" TOKEN ",\"redis\":{\"pool_size\":\"$${OG_T_POOL}\"}}",
           "redis.pool_size: $${OG_T_POOL} is not an integer\n");
    /* an unset variable is reported as before (the text stays, a string) */
    expect("{" TOKEN ",\"redis\":{\"pool_size\":\"${OG_T_UNSET}\"}}",
           "redis.pool_size: environment variable OG_T_UNSET is not set\n"
           "redis.pool_size: must be an integer\n");
    /* strings stay strings */
    struct og_config c2;
    e = load("{" TOKEN ",\"data_dir\":\"${OG_T_POOL}\"}", &c2);
    CHECK_STR(e, "");
    CHECK_STR(c2.data_dir, "32");
    free(e);
    og_config_free(&c2);
}

static void test_core_booleans_numbers(void)
{
    struct og_config cfg;
    char *e = load("{" TOKEN ",\"sessions\":{\"offline_returns_sessions\":\"${OG_T_FALSE}\","
                   "\"close\":{\"require_success_code\":\"${OG_T_TRUE}\"}},"
                   "\"channels\":[{\"id\":\"a\",\"connector\":\"b\","
                   "\"rate_limit_per_s\":\"${OG_T_HALF}\"},{\"id\":\"c\",\"connector\":\"b\","
                   "\"rate_limit_per_s\":\"${OG_T_POOL}\"}]}",
                   &cfg);
    CHECK_STR(e, "");
    CHECK_INT(cfg.routing->offline_returns_sessions, 0);
    CHECK_INT(cfg.routing->require_success_code, 1);
    CHECK_INT(cfg.n_channels, 2);
    if (cfg.n_channels == 2) {
        CHECK(cfg.channels[0].rate_limit_per_s == 2.5);
        CHECK(cfg.channels[1].rate_limit_per_s == 32);
    }
    free(e);
    og_config_free(&cfg);

    expect("{" TOKEN ",\"sessions\":{\"offline_returns_sessions\":\"${OG_T_POOL}\"}}",
           "sessions.offline_returns_sessions: ${OG_T_POOL} is not true or false\n");
    expect("{" TOKEN ",\"sessions\":{\"offline_returns_sessions\":\"${OG_T_YES}\"}}",
           "sessions.offline_returns_sessions: ${OG_T_YES} is not true or false\n");
    expect("{" TOKEN ",\"channels\":[{\"id\":\"a\",\"connector\":\"b\","
           "\"rate_limit_per_s\":\"${OG_T_YES}\"}]}",
           "channels[0].rate_limit_per_s: ${OG_T_YES} is not a number\n");
    expect("{" TOKEN ",\"channels\":[{\"id\":\"a\",\"connector\":\"b\","
           "\"rate_limit_per_s\":\"${OG_T_ZERO}\"}]}",
           "channels[0].rate_limit_per_s: must be from 0.01 to 100000\n");
}

/* Sections kept as JSON (routing policies) and read by parsers shared with
 * the API (agents, webhooks) see the converted value in the tree. */
static void test_json_sections(void)
{
    struct og_config cfg;
    char *e = load("{" TOKEN ",\"routing\":{\"p\":{\"levels\":[{\"members\":[\"group:a\"]}],"
                   "\"auto_forward\":{\"after_s\":\"${OG_T_AF}\",\"avoid_same_level\":"
                   "\"${OG_T_TRUE}\"}}},"
                   "\"agents\":[{\"email\":\"a@example.com\",\"max_chats\":\"${OG_T_TWO}\"}],"
                   "\"webhooks\":[{\"id\":\"w\",\"url\":\"https://x/h\",\"secret\":"
                   "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"timeout_ms\":\"${OG_T_TIMEOUT}\","
                   "\"enabled\":\"${OG_T_FALSE}\",\"retry_schedule_s\":[\"${OG_T_POOL}\",5]}]}",
                   &cfg);
    CHECK_STR(e, "");
    free(e);
    json_object *p, *af, *x;
    CHECK(json_object_object_get_ex(cfg.routing->policies, "p", &p) &&
          json_object_object_get_ex(p, "auto_forward", &af));
    CHECK(json_object_object_get_ex(af, "after_s", &x) && json_object_is_type(x, json_type_int) &&
          json_object_get_int64(x) == 20);
    CHECK(json_object_object_get_ex(af, "avoid_same_level", &x) &&
          json_object_is_type(x, json_type_boolean) && json_object_get_boolean(x) == 1);
    CHECK_INT(cfg.routing->n_agents, 1);
    if (cfg.routing->n_agents == 1)
        CHECK(json_object_object_get_ex(cfg.routing->agents[0].fields, "max_chats", &x) &&
              json_object_is_type(x, json_type_int) && json_object_get_int64(x) == 2);
    CHECK_INT(cfg.n_webhooks, 1);
    if (cfg.n_webhooks == 1) {
        CHECK_INT(cfg.webhooks[0].timeout_ms, 3000);
        CHECK_INT(cfg.webhooks[0].enabled, 0);
        CHECK_INT(cfg.webhooks[0].n_retry, 2);
        CHECK_INT(cfg.webhooks[0].retry_s[0], 32);
    }
    og_config_free(&cfg);

    expect("{" TOKEN ",\"routing\":{\"p\":{\"levels\":[{\"members\":[\"group:a\"]}],"
           "\"auto_forward\":{\"after_s\":\"${OG_T_SECRET}\"}}}}",
           "routing.p.auto_forward.after_s: ${OG_T_SECRET} is not an integer\n");
    expect("{" TOKEN ",\"agents\":[{\"email\":\"a@example.com\",\"max_nrt_chats\":"
           "\"${OG_T_YES}\"}]}",
           "agents[0].max_nrt_chats: ${OG_T_YES} is not an integer\n");
    expect("{" TOKEN ",\"webhooks\":[{\"id\":\"w\",\"url\":\"https://x/h\",\"secret\":"
           "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"retry_schedule_s\":[1,\"${OG_T_YES}\"]}]}",
           "webhooks[0].retry_schedule_s[1]: ${OG_T_YES} is not an integer\n");
}

struct opt_conf {
    int64_t group_id;
    int fetch;
    char *name;
    int64_t wait;
};

static const struct og_option opt_table[] = {
    {"group_id", OG_OPT_INT, NULL, OG_OPT_REQUIRED, offsetof(struct opt_conf, group_id), "", NULL},
    {"fetch", OG_OPT_BOOL, "true", 0, offsetof(struct opt_conf, fetch), "", NULL},
    {"name", OG_OPT_STR, NULL, 0, offsetof(struct opt_conf, name), "", NULL},
    {"wait", OG_OPT_INT, "5", 0, offsetof(struct opt_conf, wait), "", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* Parses channels[0].options of text against opt_table; returns the errors
 * of the config and of the options, joined [xfer]. */
static char *parse_options(const char *text, struct opt_conf *conf)
{
    struct og_config cfg;
    char *e = load(text, &cfg);
    struct og_errors errs = {0};
    memset(conf, 0, sizeof *conf);
    if (cfg.n_channels == 1)
        og_options_parse(opt_table, sizeof *conf, cfg.channels[0].options, "channels[0].options",
                         conf, &errs);
    struct og_buf b = {0};
    og_buf_puts(&b, e);
    for (size_t i = 0; i < errs.n; i++)
        og_buf_printf(&b, "%s\n", errs.items[i]);
    og_errors_free(&errs);
    og_config_free(&cfg);
    free(e);
    return b.data;
}

#define CHANNEL(opts)                                                                              \
    "{" TOKEN ",\"channels\":[{\"id\":\"v\",\"connector\":\"vk\",\"options\":" opts "}]}"

static void test_connector_options(void)
{
    struct opt_conf c;
    char *e = parse_options(CHANNEL("{\"group_id\":\"${VK_GROUP_ID}\",\"fetch\":\"${OG_T_FALSE}\","
                                    "\"name\":\"${OG_T_POOL}\"}"),
                            &c);
    CHECK_STR(e, "");
    CHECK_INT(c.group_id, 123456);
    CHECK_INT(c.fetch, 0);
    CHECK_STR(c.name, "32"); /* a string option keeps the text */
    CHECK_INT(c.wait, 5);
    og_options_free(opt_table, &c);
    free(e);

    setenv("VK_GROUP_ID", "club123456", 1);
    e = parse_options(CHANNEL("{\"group_id\":\"${VK_GROUP_ID}\"}"), &c);
    CHECK_STR(e, "channels[0].options.group_id: ${VK_GROUP_ID} is not an integer\n");
    CHECK(strstr(e, "club") == NULL);
    og_options_free(opt_table, &c);
    free(e);
    setenv("VK_GROUP_ID", "123456", 1);

    e = parse_options(CHANNEL("{\"group_id\":\"-${VK_GROUP_ID}\",\"fetch\":\"${OG_T_YES}\"}"), &c);
    CHECK_STR(e, "channels[0].options.fetch: ${OG_T_YES} is not true or false\n");
    CHECK_INT(c.group_id, -123456);
    og_options_free(opt_table, &c);
    free(e);

    /* written in the file, a string is still the wrong type */
    e = parse_options(CHANNEL("{\"group_id\":\"123456\"}"), &c);
    CHECK_STR(e, "channels[0].options.group_id: must be an integer\n");
    og_options_free(opt_table, &c);
    free(e);

    /* the marks themselves: only substituted strings carry one */
    json_object *plain = json_object_new_string("1");
    CHECK(og_options_env_text(plain) == NULL);
    og_options_mark_env(plain, "${ONE}");
    CHECK_STR(og_options_env_text(plain), "${ONE}");
    char err[64];
    json_object *v = og_options_env_value(plain, json_type_int, err, sizeof err);
    CHECK(v && json_object_get_int64(v) == 1);
    json_object_put(v);
    CHECK(og_options_env_value(plain, json_type_boolean, err, sizeof err) == NULL);
    CHECK_STR(err, "${ONE} is not true or false");
    json_object_put(plain);
}

/* Runs omnigate --check on text with the built connectors; returns the
 * output [xfer] and the exit status in *st. */
static char *run_check(const char *text, int *st)
{
    char *dir = og_test_tmpdir();
    char *path = og_sprintf("%s/c.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    char *cmd = og_sprintf("%s/bin/omnigate --config %s --check --connector-dir "
                           "%s/lib/omnigate/connectors 2>&1",
                           OG_BINARY_DIR, path, OG_BINARY_DIR);
    FILE *p = popen(cmd, "r");
    struct og_buf b = {0};
    char tmp[1024];
    size_t n;
    while (p && (n = fread(tmp, 1, sizeof tmp, p)) > 0)
        og_buf_append(&b, tmp, n);
    *st = p ? pclose(p) : -1;
    og_buf_append(&b, "", 0);
    og_test_rmdir(dir);
    free(dir), free(path), free(cmd);
    return b.data;
}

static void test_daemon_check(void)
{
    const char *text = CHANNEL("{\"access_token\":\"t\",\"group_id\":\"${VK_GROUP_ID}\","
                               "\"confirmation\":\"c\",\"secret\":\"s\"}");
    int st;
    char *out = run_check(text, &st);
    CHECK_INT(st, 0);
    CHECK(strstr(out, ": ok") != NULL);
    if (st != 0)
        fprintf(stderr, "%s\n", out);
    free(out);
    setenv("VK_GROUP_ID", "club123456", 1);
    out = run_check(text, &st);
    CHECK(st != 0);
    CHECK(strstr(out, "channels[0].options.group_id: ${VK_GROUP_ID} is not an integer\n") != NULL);
    free(out);
    setenv("VK_GROUP_ID", "123456", 1);
}

int main(void)
{
    setenv("OG_T_POOL", "32", 1);
    setenv("OG_T_ZERO", "0", 1);
    setenv("OG_T_TWO", "2", 1);
    setenv("OG_T_BIG", "99999999999999999999999", 1);
    setenv("OG_T_SECRET", "hunter2", 1);
    setenv("OG_T_EMPTY", "", 1);
    setenv("OG_T_SPACE", " 32", 1);
    setenv("OG_T_HALF", "2.5", 1);
    setenv("OG_T_TRUE", "true", 1);
    setenv("OG_T_FALSE", "false", 1);
    setenv("OG_T_YES", "yes", 1);
    setenv("OG_T_AF", "20", 1);
    setenv("OG_T_TIMEOUT", "3000", 1);
    setenv("VK_GROUP_ID", "123456", 1);
    unsetenv("OG_T_UNSET");
    test_core_integers();
    test_core_booleans_numbers();
    test_json_sections();
    test_connector_options();
    test_daemon_check();
    return og_test_done();
}
