/* test_config - unit tests for the configuration loader (config/og_config.c).
 *
 * Each case loads a small JSON text from a buffer and checks the exact error
 * lines ("<path>: <message>") or the values filled in. The shipped example and
 * demo files are loaded from the source tree, so they cannot drift away from
 * what the loader accepts. */
#include <stdlib.h>
#include <string.h>

#include "og_config.h"
#include "og_plugin.h"
#include "og_test.h"
#include "og_util.h"

/* Loads text into cfg (which the caller frees) and returns the error count. */
static size_t load(const char *text, struct og_config *cfg, struct og_errors *errs)
{
    og_errors_free(errs);
    int rc = og_config_load_buffer(text, strlen(text), cfg, errs);
    CHECK_INT(rc, errs->n ? -1 : 0);
    return errs->n;
}

static int has(const struct og_errors *errs, const char *line)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strcmp(errs->items[i], line) == 0)
            return 1;
    fprintf(stderr, "  missing error: %s\n  got:\n", line);
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, "    %s\n", errs->items[i]);
    return 0;
}

/* Loads text and checks it produces exactly the one error line given. */
static void expect_one(const char *text, const char *line)
{
    struct og_config cfg;
    struct og_errors errs = {0};
    size_t n = load(text, &cfg, &errs);
    if (n != 1) {
        fprintf(stderr, "  for %s\n", text);
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "    %s\n", errs.items[i]);
    }
    CHECK_INT(n, 1);
    CHECK(has(&errs, line));
    og_config_free(&cfg);
    og_errors_free(&errs);
}

#define TOKEN "\"api\":{\"admin_token\":\"0123456789abcdef\"}"

static void test_defaults(void)
{
    struct og_config cfg;
    struct og_errors errs = {0};
    CHECK_INT(load("{" TOKEN "}", &cfg, &errs), 0);
    CHECK_STR(cfg.listen, "127.0.0.1:8080");
    CHECK_STR(cfg.public_url, "");
    CHECK_STR(cfg.data_dir, "./var");
    CHECK_STR(cfg.log_level, "info");
    CHECK(cfg.connector_dir == NULL);
    CHECK_INT(cfg.http.max_body_bytes, 1048576);
    CHECK_INT(cfg.http.threads, 0);
    CHECK_STR(cfg.redis.url, "embedded");
    CHECK_STR(cfg.redis.prefix, "og");
    CHECK(cfg.redis.password == NULL);
    CHECK_INT(cfg.redis.pool_size, 16);
    CHECK_STR(cfg.redis.server, "redis-server");
    CHECK_STR(cfg.api.admin_token, "0123456789abcdef");
    CHECK_INT(cfg.n_channels, 0);
    CHECK(cfg.channels == NULL);
    CHECK(cfg.root != NULL);
    og_config_free(&cfg);
    CHECK(cfg.listen == NULL && cfg.root == NULL);
    og_config_free(&cfg); /* twice is harmless */

    CHECK_INT(load("{" TOKEN ",\"channels\":[]}", &cfg, &errs), 0);
    CHECK_INT(cfg.n_channels, 0);
    og_config_free(&cfg);
    og_errors_free(&errs);
}

static void test_all_values(void)
{
    struct og_config cfg;
    struct og_errors errs = {0};
    const char *text =
        "{\"listen\":\"[::1]:9000\",\"public_url\":\"https://chat.example.com/\","
        "\"data_dir\":\"/srv/og\",\"log_level\":\"debug\",\"connector_dir\":\"/opt/c\","
        "\"http\":{\"max_body_bytes\":67108864,\"threads\":4},"
        "\"redis\":{\"url\":\"redis://10.0.0.1:6380/2\",\"prefix\":\"Og.x-1_\","
        "\"password\":\"pw\",\"pool_size\":256,\"server\":\"/usr/bin/redis-server\"}," TOKEN ","
        "\"channels\":[{\"id\":\"tg\",\"connector\":\"telegram\",\"routing\":\"vip\","
        "\"options\":{\"bot_token\":\"x\"}},{\"id\":\"web-2\",\"connector\":\"web_chat\"}],"
        "\"routing\":{\"vip\":{\"levels\":[{\"members\":[\"group:vip\"]}]}}}";
    CHECK_INT(load(text, &cfg, &errs), 0);
    CHECK_STR(cfg.listen, "[::1]:9000");
    CHECK_STR(cfg.public_url, "https://chat.example.com");
    CHECK_STR(cfg.data_dir, "/srv/og");
    CHECK_STR(cfg.log_level, "debug");
    CHECK_STR(cfg.connector_dir, "/opt/c");
    CHECK_INT(cfg.http.max_body_bytes, 67108864);
    CHECK_INT(cfg.http.threads, 4);
    CHECK_STR(cfg.redis.url, "redis://10.0.0.1:6380/2");
    CHECK_STR(cfg.redis.prefix, "Og.x-1_");
    CHECK_STR(cfg.redis.password, "pw");
    CHECK_INT(cfg.redis.pool_size, 256);
    CHECK_STR(cfg.redis.server, "/usr/bin/redis-server");
    CHECK_INT(cfg.n_channels, 2);
    if (cfg.n_channels == 2) {
        CHECK_STR(cfg.channels[0].id, "tg");
        CHECK_STR(cfg.channels[0].connector, "telegram");
        CHECK_STR(cfg.channels[0].routing, "vip");
        CHECK_STR(cfg.channels[0].path, "channels[0]");
        CHECK(cfg.channels[0].options != NULL);
        CHECK_STR(
            json_object_get_string(json_object_object_get(cfg.channels[0].options, "bot_token")),
            "x");
        CHECK_STR(cfg.channels[1].id, "web-2");
        CHECK_STR(cfg.channels[1].routing, "default");
        CHECK_STR(cfg.channels[1].path, "channels[1]");
        CHECK(cfg.channels[1].options == NULL);
    }
    og_config_free(&cfg);

    /* Other accepted forms. */
    CHECK_INT(load("{" TOKEN ",\"redis\":{\"url\":\"unix:///run/redis.sock\"}}", &cfg, &errs), 0);
    og_config_free(&cfg);
    CHECK_INT(load("{" TOKEN ",\"redis\":{\"url\":\"redis://localhost:6379\"}}", &cfg, &errs), 0);
    og_config_free(&cfg);
    CHECK_INT(load("{" TOKEN ",\"redis\":{\"password\":\"\"}}", &cfg, &errs), 0);
    CHECK(cfg.redis.password == NULL);
    og_config_free(&cfg);
    CHECK_INT(load("\xEF\xBB\xBF{" TOKEN "}\n\n", &cfg, &errs), 0);
    og_config_free(&cfg);
    og_errors_free(&errs);
}

static void test_unknown_keys(void)
{
    expect_one("{" TOKEN ",\"mail\":{}}", "mail: unknown key");
    /* store_raw: "none", "always" or hours; anything else is refused */
    expect_one("{" TOKEN ",\"store_raw\":\"3d\"}",
               "store_raw: must be \"none\", \"always\" or hours from 1 to 87600 as \"<n>h\" "
               "(\"24h\")");
    expect_one("{" TOKEN ",\"channels\":[{\"id\":\"a\",\"connector\":\"b\",\"store_raw\":\"0h\"}]}",
               "channels[0].store_raw: must be \"none\", \"always\" or hours from 1 to 87600 as "
               "\"<n>h\" (\"24h\")");
    {
        int64_t keep = 0;
        CHECK_INT(og_config_store_raw_s("none", &keep), 0);
        CHECK_INT(keep, -1);
        CHECK_INT(og_config_store_raw_s("always", &keep), 0);
        CHECK_INT(keep, 0);
        CHECK_INT(og_config_store_raw_s("48h", &keep), 0);
        CHECK_INT(keep, 48 * 3600);
        CHECK_INT(og_config_store_raw_s("48", &keep), -1);
        CHECK_INT(og_config_store_raw_s("-1h", &keep), -1);
    }
    expect_one("{" TOKEN ",\"redis\":{\"host\":\"x\"}}", "redis.host: unknown key");
    expect_one("{" TOKEN ",\"http\":{\"port\":1}}", "http.port: unknown key");
    expect_one("{\"api\":{\"admin_token\":\"0123456789abcdef\",\"x\":1}}", "api.x: unknown key");
    expect_one("{" TOKEN ",\"channels\":[{\"id\":\"a\",\"connector\":\"b\",\"foo\":1}]}",
               "channels[0].foo: unknown key");
    /* A control character in a key cannot forge a second error line. */
    expect_one("{" TOKEN ",\"a\\nb\":1}", "a\\x0ab: unknown key");
    /* Channel options belong to the connector: unknown keys there pass here. */
    struct og_config cfg;
    struct og_errors errs = {0};
    CHECK_INT(load("{" TOKEN ",\"channels\":[{\"id\":\"a\",\"connector\":\"b\","
                   "\"options\":{\"anything\":[1,{\"x\":null}]}}]}",
                   &cfg, &errs),
              0);
    og_config_free(&cfg);
    og_errors_free(&errs);
}

static void test_wrong_types(void)
{
    expect_one("{" TOKEN ",\"listen\":8080}", "listen: must be a string");
    expect_one("{" TOKEN ",\"listen\":null}", "listen: must be a string");
    expect_one("{" TOKEN ",\"redis\":\"embedded\"}", "redis: must be an object");
    expect_one("{" TOKEN ",\"http\":[]}", "http: must be an object");
    expect_one("{" TOKEN ",\"http\":{\"max_body_bytes\":\"1\"}}",
               "http.max_body_bytes: must be an integer");
    expect_one("{" TOKEN ",\"redis\":{\"pool_size\":1.5}}", "redis.pool_size: must be an integer");
    expect_one("{" TOKEN ",\"redis\":{\"pool_size\":true}}", "redis.pool_size: must be an integer");
    expect_one("{\"api\":{\"admin_token\":12345678901234567}}",
               "api.admin_token: must be a string");
    expect_one("{\"api\":\"x\"}", "api: must be an object");
    expect_one("{" TOKEN ",\"channels\":{}}", "channels: must be an array");
    expect_one("{" TOKEN ",\"channels\":[\"tg\"]}", "channels[0]: must be an object");
    expect_one("{" TOKEN ",\"channels\":[{\"id\":1,\"connector\":\"b\"}]}",
               "channels[0].id: must be a string");
    expect_one("{" TOKEN ",\"channels\":[{\"id\":\"a\",\"connector\":\"b\",\"options\":[]}]}",
               "channels[0].options: must be an object");
    expect_one("{" TOKEN ",\"channels\":[{\"id\":\"a\",\"connector\":\"b\",\"routing\":1}]}",
               "channels[0].routing: must be a string");
    expect_one("[]", "config: must be a JSON object");
    expect_one("42", "config: must be a JSON object");
    expect_one("\"x\"", "config: must be a JSON object");
}

static void test_missing_required(void)
{
    expect_one("{}", "api.admin_token: required");
    expect_one("{\"api\":{}}", "api.admin_token: required");
    expect_one("{" TOKEN ",\"channels\":[{\"id\":\"a\",\"connector\":\"b\"},{\"id\":\"c\"}]}",
               "channels[1].connector: required");
    expect_one("{" TOKEN ",\"channels\":[{\"connector\":\"b\"}]}", "channels[0].id: required");
}

static void test_bad_values(void)
{
    static const char *const listen_bad[] = {
        "8080",          "127.0.0.1",    "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:",
        "127.0.0.1:80x", "::1:8080",     "[::1]8080",   "[]:80",           "a b:80",
        "127.0.0.1:+80", "[::1]:123456", NULL,
    };
    for (const char *const *p = listen_bad; *p; p++) {
        char *text = og_sprintf("{" TOKEN ",\"listen\":\"%s\"}", *p);
        expect_one(text, "listen: must be host:port with a port from 1 to 65535 "
                         "(\"127.0.0.1:8080\", \"[::1]:8080\" or \":8080\")");
        free(text);
    }
    static const char *const url_bad[] = {
        "",
        "Embedded",
        "redis://",
        "redis://host",
        "redis://host:0",
        "redis://:6379",
        "redis://host:6379/",
        "redis://host:6379/x",
        "redis://u:p@host:6379",
        "rediss://h:1",
        "unix://",
        "unix://relative",
        "http://h:1",
        NULL,
    };
    for (const char *const *p = url_bad; *p; p++) {
        char *text = og_sprintf("{" TOKEN ",\"redis\":{\"url\":\"%s\"}}", *p);
        expect_one(text, "redis.url: must be \"embedded\", redis://host:port[/db] or unix:///path");
        free(text);
    }
    const char *prefix_msg = "redis.prefix: must be 1-32 characters of A-Z, a-z, 0-9, _, . and -";
    expect_one("{" TOKEN ",\"redis\":{\"prefix\":\"\"}}", prefix_msg);
    expect_one("{" TOKEN ",\"redis\":{\"prefix\":\"a:b\"}}", prefix_msg);
    expect_one("{" TOKEN ",\"redis\":{\"prefix\":\"{og}\"}}", prefix_msg);
    expect_one("{" TOKEN ",\"redis\":{\"prefix\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}",
               prefix_msg);
    expect_one("{\"api\":{\"admin_token\":\"short\"}}",
               "api.admin_token: must be at least 16 characters");
    expect_one("{\"api\":{\"admin_token\":\"\"}}",
               "api.admin_token: must be at least 16 characters");
    expect_one("{" TOKEN ",\"log_level\":\"verbose\"}",
               "log_level: must be one of error, warn, info, debug");
    expect_one("{" TOKEN ",\"log_level\":\"INFO\"}",
               "log_level: must be one of error, warn, info, debug");
    const char *body_msg = "http.max_body_bytes: must be between 1 and 67108864";
    expect_one("{" TOKEN ",\"http\":{\"max_body_bytes\":0}}", body_msg);
    expect_one("{" TOKEN ",\"http\":{\"max_body_bytes\":67108865}}", body_msg);
    expect_one("{" TOKEN ",\"http\":{\"max_body_bytes\":-1}}", body_msg);
    expect_one("{" TOKEN ",\"http\":{\"max_body_bytes\":99999999999999999999}}", body_msg);
    expect_one("{" TOKEN ",\"http\":{\"threads\":-1}}", "http.threads: must be between 0 and 256");
    const char *pool_msg = "redis.pool_size: must be between 1 and 256";
    expect_one("{" TOKEN ",\"redis\":{\"pool_size\":0}}", pool_msg);
    expect_one("{" TOKEN ",\"redis\":{\"pool_size\":257}}", pool_msg);
    expect_one("{" TOKEN ",\"public_url\":\"chat.example.com\"}",
               "public_url: must be an http:// or https:// URL");
    expect_one("{" TOKEN ",\"public_url\":\"https://\"}",
               "public_url: must be an http:// or https:// URL");
    expect_one("{" TOKEN ",\"data_dir\":\"\"}", "data_dir: must not be empty");
    expect_one("{" TOKEN ",\"redis\":{\"server\":\"\"}}", "redis.server: must not be empty");
    const char *id_msg = "channels[0].id: must be 1-64 characters of a-z, 0-9, _ and -";
    expect_one("{" TOKEN ",\"channels\":[{\"id\":\"TG\",\"connector\":\"b\"}]}", id_msg);
    expect_one("{" TOKEN ",\"channels\":[{\"id\":\"\",\"connector\":\"b\"}]}", id_msg);
    expect_one("{" TOKEN ",\"channels\":[{\"id\":\"a/b\",\"connector\":\"b\"}]}", id_msg);
    expect_one("{" TOKEN ",\"channels\":[{\"id\":\"a\",\"connector\":\"../x\"}]}",
               "channels[0].connector: must be a connector name (1-64 characters of a-z, 0-9, _ "
               "and -)");
    expect_one("{" TOKEN ",\"channels\":[{\"id\":\"a\",\"connector\":\"b\",\"routing\":\"\"}]}",
               "channels[0].routing: must not be empty");
    /* A string with a NUL in it would be cut short as a C string. */
    expect_one("{\"api\":{\"admin_token\":\"0123456789abcdef\\u0000x\"}}",
               "api.admin_token: must not contain a NUL character");
}

static void test_duplicate_channel(void)
{
    expect_one("{" TOKEN ",\"channels\":[{\"id\":\"tg\",\"connector\":\"a\"},"
               "{\"id\":\"x\",\"connector\":\"a\"},{\"id\":\"tg\",\"connector\":\"b\"}]}",
               "channels[2].id: duplicate channel id \"tg\" (also channels[0].id)");
}

static void test_env(void)
{
    struct og_config cfg;
    struct og_errors errs = {0};
    setenv("OG_TEST_TOKEN", "abcdefghijklmnopqrstuvwxyz", 1);
    setenv("OG_TEST_HOST", "10.1.2.3", 1);
    setenv("OG_TEST_EMPTY", "", 1);
    setenv("OG_TEST_REF", "${OG_TEST_TOKEN}", 1);
    unsetenv("OG_TEST_UNSET");
    unsetenv("OG_TEST_UNSET2");

    /* Whole values, embedded ones, several in one string, deep in options. */
    CHECK_INT(load("{\"api\":{\"admin_token\":\"${OG_TEST_TOKEN}\"},"
                   "\"listen\":\"${OG_TEST_HOST}:81\",\"data_dir\":\"/d/${OG_TEST_HOST}/${OG_TEST_"
                   "HOST}${OG_TEST_EMPTY}\",\"channels\":[{\"id\":\"a\",\"connector\":\"b\","
                   "\"options\":{\"auth\":\"Bearer ${OG_TEST_TOKEN}\",\"list\":[\"${OG_TEST_HOST}\""
                   "],\"ref\":\"${OG_TEST_REF}\",\"dollar\":\"p$a$$w{x}$\",\"esc\":\"$${X}\"}}]}",
                   &cfg, &errs),
              0);
    CHECK_STR(cfg.api.admin_token, "abcdefghijklmnopqrstuvwxyz");
    CHECK_STR(cfg.listen, "10.1.2.3:81");
    CHECK_STR(cfg.data_dir, "/d/10.1.2.3/10.1.2.3");
    if (cfg.n_channels == 1) {
        json_object *o = cfg.channels[0].options, *list;
        CHECK_STR(json_object_get_string(json_object_object_get(o, "auth")),
                  "Bearer abcdefghijklmnopqrstuvwxyz");
        CHECK(json_object_object_get_ex(o, "list", &list));
        CHECK_STR(json_object_get_string(json_object_array_get_idx(list, 0)), "10.1.2.3");
        /* Substituted text is not expanded again. */
        CHECK_STR(json_object_get_string(json_object_object_get(o, "ref")), "${OG_TEST_TOKEN}");
        CHECK_STR(json_object_get_string(json_object_object_get(o, "dollar")), "p$a$$w{x}$");
        CHECK_STR(json_object_get_string(json_object_object_get(o, "esc")), "${X}");
    }
    /* The root kept for later readers holds the substituted values too. */
    json_object *api;
    CHECK(json_object_object_get_ex(cfg.root, "api", &api));
    CHECK_STR(json_object_get_string(json_object_object_get(api, "admin_token")),
              "abcdefghijklmnopqrstuvwxyz");
    og_config_free(&cfg);

    expect_one("{\"api\":{\"admin_token\":\"${OG_TEST_UNSET}\"}}",
               "api.admin_token: environment variable OG_TEST_UNSET is not set");
    expect_one("{" TOKEN ",\"channels\":[{\"id\":\"a\",\"connector\":\"b\",\"options\":"
               "{\"h\":{\"x\":[1,\"Bearer ${OG_TEST_UNSET}\"]}}}]}",
               "channels[0].options.h.x[1]: environment variable OG_TEST_UNSET is not set");
    expect_one("{" TOKEN ",\"data_dir\":\"${}\"}",
               "data_dir: malformed ${...} reference (expected ${NAME}, NAME made of A-Z, a-z, "
               "0-9 and _)");
    expect_one("{" TOKEN ",\"data_dir\":\"${OG_TEST_HOST\"}",
               "data_dir: malformed ${...} reference (expected ${NAME}, NAME made of A-Z, a-z, "
               "0-9 and _)");
    expect_one("{" TOKEN ",\"data_dir\":\"${1X}\"}",
               "data_dir: malformed ${...} reference (expected ${NAME}, NAME made of A-Z, a-z, "
               "0-9 and _)");

    /* Two unset variables in one value are both named. */
    CHECK_INT(load("{" TOKEN ",\"data_dir\":\"${OG_TEST_UNSET}/${OG_TEST_UNSET2}\"}", &cfg, &errs),
              2);
    CHECK(has(&errs, "data_dir: environment variable OG_TEST_UNSET is not set"));
    CHECK(has(&errs, "data_dir: environment variable OG_TEST_UNSET2 is not set"));
    og_config_free(&cfg);

    /* An empty variable substitutes as "", and validation then judges the result. */
    expect_one("{\"api\":{\"admin_token\":\"${OG_TEST_EMPTY}\"}}",
               "api.admin_token: must be at least 16 characters");
    og_errors_free(&errs);
}

static void test_malformed(void)
{
    expect_one("", "config: invalid JSON at line 1, column 1: unexpected end of input");
    expect_one("{\n  \"listen\": \"a:1\",\n  \"x\" 1\n}",
               "config: invalid JSON at line 3, column 7: object property name separator ':' "
               "expected");
    expect_one("{\"api\":{}", "config: invalid JSON at line 1, column 10: unexpected end of input");
    expect_one("{\"api\":{'admin_token':1}}",
               "config: invalid JSON at line 1, column 9: strings must be in double quotes");
    expect_one("{" TOKEN "} x", "config: invalid JSON at line 1, column 44: unexpected data after "
                                "the top-level value");
    /* Strict JSON: no trailing commas, comments or single quotes. */
    struct og_config cfg;
    struct og_errors errs = {0};
    static const char *const bad[] = {
        "{" TOKEN ",}",
        "{" TOKEN "} // c",
        "/* c */{" TOKEN "}",
        "{'api':1}",
        "{api:1}",
        "{\"a\":\"\xff\"}",
        "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        NULL,
    };
    for (const char *const *p = bad; *p; p++) {
        CHECK_INT(load(*p, &cfg, &errs), 1);
        CHECK(errs.n == 1 &&
              strncmp(errs.items[0], "config: invalid JSON at line 1, column ", 39) == 0);
        og_config_free(&cfg);
    }
    /* A NUL byte is named; the length given is honoured, not strlen. */
    static const char nul[] = "{\"a\":\0}";
    og_errors_free(&errs);
    CHECK_INT(og_config_load_buffer(nul, sizeof nul - 1, &cfg, &errs), -1);
    CHECK(errs.n == 1 && has(&errs, "config: invalid JSON at line 1, column 6: NUL byte"));
    og_config_free(&cfg);
    og_errors_free(&errs);
    CHECK_INT(og_config_load_buffer("{" TOKEN "}garbage", 1 + strlen(TOKEN) + 1, &cfg, &errs), 0);
    og_config_free(&cfg);
    og_errors_free(&errs);
}

static void test_many_errors(void)
{
    struct og_config cfg;
    struct og_errors errs = {0};
    const char *text = "{\n"
                       "  \"listen\": 1,\n"
                       "  \"mail\": {},\n"
                       "  \"log_level\": \"loud\",\n"
                       "  \"redis\": {\"pool_size\": 0, \"url\": \"x\", \"extra\": true},\n"
                       "  \"http\": {\"max_body_bytes\": 0},\n"
                       "  \"channels\": [\n"
                       "    {\"id\": \"a\", \"connector\": \"b\", \"foo\": 1},\n"
                       "    {\"id\": \"a\"},\n"
                       "    {\"connector\": \"c\", \"options\": {\"k\": \"${OG_TEST_UNSET}\"}}\n"
                       "  ]\n"
                       "}\n";
    CHECK_INT(load(text, &cfg, &errs), 13);
    CHECK(has(&errs, "listen: must be a string"));
    CHECK(has(&errs, "mail: unknown key"));
    CHECK(has(&errs, "log_level: must be one of error, warn, info, debug"));
    CHECK(has(&errs, "redis.pool_size: must be between 1 and 256"));
    CHECK(has(&errs, "redis.url: must be \"embedded\", redis://host:port[/db] or unix:///path"));
    CHECK(has(&errs, "redis.extra: unknown key"));
    CHECK(has(&errs, "http.max_body_bytes: must be between 1 and 67108864"));
    CHECK(has(&errs, "channels[0].foo: unknown key"));
    CHECK(has(&errs, "channels[1].id: duplicate channel id \"a\" (also channels[0].id)"));
    CHECK(has(&errs, "channels[1].connector: required"));
    CHECK(has(&errs, "channels[2].id: required"));
    CHECK(has(&errs, "channels[2].options.k: environment variable OG_TEST_UNSET is not set"));
    CHECK(has(&errs, "api.admin_token: required"));
    /* Filled as far as it could be: bad values leave the defaults. */
    CHECK_STR(cfg.listen, "127.0.0.1:8080");
    CHECK_STR(cfg.log_level, "info");
    CHECK_INT(cfg.redis.pool_size, 16);
    CHECK_INT(cfg.n_channels, 3);
    og_config_free(&cfg);

    /* Errors are appended to what the list already holds. */
    og_errors_add(&errs, "earlier");
    size_t before = errs.n;
    CHECK_INT(og_config_load_buffer("{}", 2, &cfg, &errs), -1);
    CHECK_INT(errs.n, before + 1);
    og_config_free(&cfg);
    og_errors_free(&errs);
}

static void test_listen_split(void)
{
    char host[64];
    int port = 0;
    CHECK_INT(og_config_listen_split("127.0.0.1:8080", host, sizeof host, &port), 0);
    CHECK_STR(host, "127.0.0.1");
    CHECK_INT(port, 8080);
    CHECK_INT(og_config_listen_split("localhost:80", host, sizeof host, &port), 0);
    CHECK_STR(host, "localhost");
    CHECK_INT(port, 80);
    CHECK_INT(og_config_listen_split("[::1]:8080", host, sizeof host, &port), 0);
    CHECK_STR(host, "::1");
    CHECK_INT(port, 8080);
    CHECK_INT(og_config_listen_split("[fe80::1%eth0]:65535", host, sizeof host, &port), 0);
    CHECK_STR(host, "fe80::1%eth0");
    CHECK_INT(port, 65535);
    CHECK_INT(og_config_listen_split(":8080", host, sizeof host, &port), 0);
    CHECK_STR(host, "0.0.0.0");
    CHECK_INT(port, 8080);
    CHECK_INT(og_config_listen_split("[::]:1", host, sizeof host, &port), 0);
    CHECK_STR(host, "::");
    CHECK_INT(port, 1);
    CHECK(og_config_listen_split("localhost", host, sizeof host, &port) != 0);
    CHECK(og_config_listen_split("::1:80", host, sizeof host, &port) != 0);
    CHECK(og_config_listen_split(NULL, host, sizeof host, &port) != 0);
    CHECK(og_config_listen_split("localhost:80", host, 9, &port) != 0); /* does not fit */
    CHECK_INT(og_config_listen_split("localhost:80", host, 10, &port), 0);
    /* a name is at most 253 characters (RFC 1035), whatever the buffer; the
     * loader refuses a longer one, so a config that --check accepts always
     * splits (found by fuzz_config) */
    char name[300], big[512], out[512];
    memset(name, 'a', 254);
    name[254] = 0;
    snprintf(big, sizeof big, "%s:80", name);
    CHECK(og_config_listen_split(big, out, sizeof out, &port) != 0);
    snprintf(big, sizeof big, "%s:80", name + 1);
    CHECK_INT(og_config_listen_split(big, out, sizeof out, &port), 0);
    CHECK_INT(strlen(out), 253);
    char *text = og_sprintf("{" TOKEN ",\"listen\":\"%s:80\"}", name);
    expect_one(text, "listen: must be host:port with a port from 1 to 65535 "
                     "(\"127.0.0.1:8080\", \"[::1]:8080\" or \":8080\")");
    free(text);
}

static void test_files(void)
{
    struct og_config cfg;
    struct og_errors errs = {0};
    setenv("OMNIGATE_ADMIN_TOKEN", "example-admin-token-0123456789", 1);
    setenv("OMNIGATE_DEMO_SECRET", "demo-secret", 1);
    setenv("OMNIGATE_REDIS_PASSWORD", "", 1);

    char *path = og_test_src("config/omnigate.example.json");
    CHECK_INT(og_config_load(path, &cfg, &errs), 0);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "  example: %s\n", errs.items[i]);
    CHECK_INT(cfg.n_channels, 2);
    if (cfg.n_channels == 2) {
        CHECK_STR(cfg.channels[1].id, "site");
        CHECK_STR(cfg.channels[1].connector, "webchat");
        CHECK_INT(cfg.channels[1].csat.scale, 5);
        CHECK_INT(cfg.channels[1].csat.comment, 1);
        CHECK_STR(cfg.channels[1].csat.on, "close");
        CHECK_STR(cfg.channels[0].id, "demo");
        CHECK_STR(cfg.channels[0].connector, "signed_json");
        CHECK_STR(json_object_get_string(json_object_object_get(cfg.channels[0].options, "secret")),
                  "demo-secret");
    }
    CHECK_STR(cfg.api.admin_token, "example-admin-token-0123456789");
    og_config_free(&cfg);
    free(path);

    path = og_test_src("config/omnigate.demo.json");
    CHECK_INT(og_config_load(path, &cfg, &errs), 0);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "  demo: %s\n", errs.items[i]);
    CHECK_STR(cfg.listen, "127.0.0.1:8080");
    CHECK_STR(cfg.data_dir, "./var");
    CHECK_STR(cfg.redis.url, "embedded");
    CHECK_INT(cfg.n_channels, 2); /* the example connector's and the web chat's */
    CHECK_STR(cfg.webchat_demo, "site");
    og_config_free(&cfg);
    free(path);

    /* Without its variables the demo file says which ones are missing. */
    unsetenv("OMNIGATE_ADMIN_TOKEN");
    path = og_test_src("config/omnigate.demo.json");
    CHECK_INT(og_config_load(path, &cfg, &errs), -1);
    CHECK(has(&errs, "api.admin_token: environment variable OMNIGATE_ADMIN_TOKEN is not set"));
    og_config_free(&cfg);
    og_errors_free(&errs);
    free(path);

    /* File-level errors are named after the file. */
    CHECK_INT(og_config_load("/nonexistent/omnigate.json", &cfg, &errs), -1);
    CHECK(has(&errs, "/nonexistent/omnigate.json: cannot open: No such file or directory"));
    og_config_free(&cfg);
    og_errors_free(&errs);

    char *dir = og_test_tmpdir();
    path = og_sprintf("%s/bad.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("{\n\"api\": {\n", f);
        fclose(f);
    }
    CHECK_INT(og_config_load(path, &cfg, &errs), -1);
    char *want = og_sprintf("%s: invalid JSON at line 3, column 1: unexpected end of input", path);
    CHECK(has(&errs, want));
    free(want);
    og_config_free(&cfg);
    og_errors_free(&errs);
    free(path);
    og_test_rmdir(dir);
    free(dir);
}

/* "sensitive_words": the lists are kept, each term checked by the rules
 * the core matches with (og_sensitive_term_check). */
static void test_sensitive_words(void)
{
    struct og_config cfg;
    struct og_errors errs = {0};
    CHECK_INT(load("{" TOKEN ",\"sensitive_words\":{\"customers\":[\"idiot\",\"*scam*\"],"
                   "\"agents\":[\"bank account\"],\"block_agents\":true}}",
                   &cfg, &errs),
              0);
    CHECK_INT(cfg.sensitive_words.n_customers, 2);
    CHECK_STR(cfg.sensitive_words.customers[1], "*scam*");
    CHECK_INT(cfg.sensitive_words.n_agents, 1);
    CHECK_INT(cfg.sensitive_words.block_agents, 1);
    og_config_free(&cfg);
    og_errors_free(&errs);
    expect_one("{" TOKEN ",\"sensitive_words\":{\"customers\":[\"ok\",\"id*ot\"]}}",
               "sensitive_words.customers[1]: a \"*\" may only begin or end a term, and a term "
               "needs more than stars");
    expect_one("{" TOKEN ",\"sensitive_words\":{\"agents\":[\"  \"]}}",
               "sensitive_words.agents[0]: a term must not be blank");
    expect_one("{" TOKEN ",\"sensitive_words\":{\"agents\":[\"\"]}}",
               "sensitive_words.agents[0]: must not be empty");
    expect_one("{" TOKEN ",\"sensitive_words\":{\"block_agents\":\"yes\"}}",
               "sensitive_words.block_agents: must be true or false");
    expect_one("{" TOKEN ",\"sensitive_words\":{\"customer\":[]}}",
               "sensitive_words.customer: unknown key");
}

/* channels[].texts and channels[].goal (#19.3, #19.5): stored as given;
 * templates checked against the names the core renders; auto_close needs
 * the prompt it follows; a goal's event and window as the API checks them. */
#define CH "\"channels\":[{\"id\":\"c\",\"connector\":\"x\""
static void test_texts_goal(void)
{
    struct og_config cfg;
    struct og_errors errs = {0};
    CHECK_INT(load("{" TOKEN "," CH ",\"texts\":{\"greeting\":\"Hi {{contact.name}}\","
                   "\"queue\":\"#{{ queue.position }}\",\"assigned\":\"{{agent.name}}\","
                   "\"closing\":\"Bye\",\"customer_timeout\":{\"after_s\":1,\"text\":\"?\"},"
                   "\"auto_close\":{\"after_s\":2}},"
                   "\"goal\":{\"event\":\"Order.placed-1\",\"window_days\":15}}]}",
                   &cfg, &errs),
              0);
    const struct og_config_texts *t = &cfg.channels[0].texts;
    CHECK_STR(t->greeting, "Hi {{contact.name}}");
    CHECK_STR(t->queue, "#{{ queue.position }}");
    CHECK_STR(t->assigned, "{{agent.name}}");
    CHECK_STR(t->closing, "Bye");
    CHECK_INT(t->timeout_after_s, 1);
    CHECK_STR(t->timeout_text, "?");
    CHECK_INT(t->auto_close_after_s, 2);
    CHECK_STR(cfg.channels[0].goal.event, "Order.placed-1");
    CHECK_INT(cfg.channels[0].goal.window_days, 15);
    og_config_free(&cfg);
    CHECK_INT(load("{" TOKEN "," CH "}]}", &cfg, &errs), 0);
    CHECK(cfg.channels[0].texts.greeting == NULL && cfg.channels[0].goal.event == NULL);
    CHECK_INT(cfg.channels[0].texts.timeout_after_s, 0);
    og_config_free(&cfg);
    og_errors_free(&errs);

    expect_one("{" TOKEN "," CH ",\"texts\":{\"greeting\":\"#{{queue.position}}\"}}]}",
               "channels[0].texts.greeting: unknown placeholder \"{{queue.position}}\" (known: "
               "contact.name, contact.email, contact.phone, agent.name, channel, session.id)");
    expect_one("{" TOKEN "," CH ",\"texts\":{\"closing\":\"{{survey_url\"}}]}",
               "channels[0].texts.closing: unterminated \"{{\" at offset 0");
    expect_one("{" TOKEN "," CH ",\"texts\":{\"assigned\":\"\"}}]}",
               "channels[0].texts.assigned: must not be empty");
    expect_one("{" TOKEN "," CH ",\"texts\":{\"auto_close\":{\"after_s\":5}}}]}",
               "channels[0].texts.auto_close: needs customer_timeout (it closes after_s after "
               "that prompt)");
    expect_one("{" TOKEN "," CH ",\"texts\":{\"customer_timeout\":{\"after_s\":5}}}]}",
               "channels[0].texts.customer_timeout.text: required");
    expect_one("{" TOKEN "," CH
               ",\"texts\":{\"customer_timeout\":{\"after_s\":0,\"text\":\"?\"}}}]}",
               "channels[0].texts.customer_timeout.after_s: must be between 1 and 31536000");
    expect_one("{" TOKEN "," CH ",\"texts\":{\"welcome\":\"hi\"}}]}",
               "channels[0].texts.welcome: unknown key");
    expect_one("{" TOKEN "," CH ",\"goal\":{\"event\":\"order placed\",\"window_days\":1}}]}",
               "channels[0].goal.event: must be 1-64 of A-Z a-z 0-9 _ - .");
    expect_one("{" TOKEN "," CH ",\"goal\":{\"event\":\"order\",\"window_days\":2}}]}",
               "channels[0].goal.window_days: must be 1, 3, 7, 15 or 30");
    expect_one("{" TOKEN "," CH ",\"goal\":{\"event\":\"order\"}}]}",
               "channels[0].goal.window_days: required");
}

/* redis.sentinels: with a master_name, without redis.url, each a host:port */
static void test_sentinels(void)
{
    struct og_config cfg;
    struct og_errors errs = {0};
    CHECK_INT(load("{" TOKEN ",\"redis\":{\"sentinels\":[\"127.0.0.1:26379\",\"s2.lan:26380\"],"
                   "\"master_name\":\"mymaster\",\"sentinel_password\":\"sp\"}}",
                   &cfg, &errs),
              0);
    CHECK_INT(cfg.redis.n_sentinels, 2);
    CHECK_STR(cfg.redis.sentinels[1], "s2.lan:26380");
    CHECK_STR(cfg.redis.master_name, "mymaster");
    CHECK_STR(cfg.redis.sentinel_password, "sp");
    og_config_free(&cfg);
    og_errors_free(&errs);
    expect_one("{" TOKEN ",\"redis\":{\"url\":\"redis://127.0.0.1:6379\",\"sentinels\":"
               "[\"127.0.0.1:26379\"],\"master_name\":\"m\"}}",
               "redis.url and redis.sentinels are mutually exclusive: with sentinels the "
               "master's address is asked of them; remove one");
    expect_one("{" TOKEN ",\"redis\":{\"sentinels\":[\"127.0.0.1:26379\"]}}",
               "redis.master_name: required with redis.sentinels");
    expect_one("{" TOKEN ",\"redis\":{\"master_name\":\"m\"}}",
               "redis.master_name: only with redis.sentinels");
    expect_one("{" TOKEN ",\"redis\":{\"sentinels\":[],\"master_name\":\"m\"}}",
               "redis.sentinels: needs at least one \"host:port\"");
    expect_one("{" TOKEN ",\"redis\":{\"sentinels\":[\"127.0.0.1\"],\"master_name\":\"m\"}}",
               "redis.sentinels[0]: must be host:port (\"10.0.0.5:26379\")");
    expect_one("{" TOKEN ",\"redis\":{\"sentinels\":[\"h:1\"],\"master_name\":\"a b\"}}",
               "redis.master_name: must be 1-64 characters of A-Z, a-z, 0-9, _, . and -");
}

int main(void)
{
    test_defaults();
    test_all_values();
    test_unknown_keys();
    test_wrong_types();
    test_missing_required();
    test_bad_values();
    test_duplicate_channel();
    test_env();
    test_malformed();
    test_many_errors();
    test_listen_split();
    test_files();
    test_sensitive_words();
    test_texts_goal();
    test_sentinels();
    return og_test_done();
}
