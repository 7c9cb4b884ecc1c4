/* test_loader - og_plugin: loading connector plugins and parsing their options.
 *
 * The fixtures in tests/plugins/ are built into OG_TEST_PLUGIN_DIR: "echo", a
 * minimal good plugin using every option type, and one plugin per defect the
 * loader must refuse. Every refusal must name the file and the reason. The
 * option parser is checked against echo's table: defaults, required, types,
 * enum and URL checks, unknown keys, all reported with the key path; and
 * og_options_print_help must list the options with their flags and defaults.
 *
 * Registered by tests/plugins/CMakeLists.txt (ctest og-unit-loader).
 *
 * If the environment names OG_LOADER_EXTRA (a path to a .so), that plugin must
 * load too: build-out-of-tree.sh uses it to put an out-of-tree build of the
 * signed_json example through the real loader. */
#include "echo.h"
#include "og_channel.h"
#include "og_plugin.h"
#include "og_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *plugin_path(const char *name)
{
    size_t n = strlen(OG_TEST_PLUGIN_DIR) + strlen(name) + 8;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s.so", OG_TEST_PLUGIN_DIR, name);
    return p;
}

/* Loading <name>.so must fail with a message naming the file and 'reason'. */
static void check_refused(const char *name, const char *reason)
{
    char err[512] = "";
    char *path = plugin_path(name);
    struct og_plugin *p = og_plugin_load(path, err, sizeof err);
    CHECK(p == NULL);
    og_plugin_unload(p);
    if (!strstr(err, path) || !strstr(err, reason))
        fprintf(stderr, "%s: got \"%s\", want the path and \"%s\"\n", name, err, reason);
    CHECK(strstr(err, path) != NULL);
    CHECK(strstr(err, reason) != NULL);

    /* The same refusal through the by-name lookup. */
    err[0] = 0;
    p = og_plugin_load_by_name(OG_TEST_PLUGIN_DIR, name, err, sizeof err);
    CHECK(p == NULL);
    og_plugin_unload(p);
    CHECK(strstr(err, path) != NULL);
    CHECK(strstr(err, reason) != NULL);
    free(path);
}

static void test_refusals(void)
{
    char major[64];
    snprintf(major, sizeof major, "ABI major version %d, this omnigate speaks %d",
             OG_CONNECTOR_ABI_MAJOR + 1, OG_CONNECTOR_ABI_MAJOR);
    check_refused("wrong_major", major);
    check_refused("newer_minor", "newer than this omnigate");
    check_refused("wrong_size", "descriptor size");
    check_refused("short_old", "does not match ABI 1.0");
    check_refused("no_create", "mandatory field 'create'");
    check_refused("no_send", "mandatory field 'send'");
    check_refused("no_handlers", "mandatory field 'handle_http, poll or handle_visitor'");
    check_refused("no_entry", "no og_connector_entry symbol");
    check_refused("null_entry", "og_connector_entry returned NULL");
    check_refused("opt_outside", "option 'beyond' lies outside conf_size");

    /* Not a shared object at all. */
    char err[512] = "";
    char *dir = og_test_tmpdir();
    size_t n = strlen(dir) + 16;
    char *junk = malloc(n);
    snprintf(junk, n, "%s/junk.so", dir);
    FILE *f = fopen(junk, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("not an ELF file\n", f);
        fclose(f);
    }
    CHECK(og_plugin_load(junk, err, sizeof err) == NULL);
    CHECK(strstr(err, junk) != NULL && strstr(err, "cannot load") != NULL);
    free(junk);
    og_test_rmdir(dir);
    free(dir);
}

/* bad_name.so calls itself "other": a direct load accepts it (the path is the
 * operator's choice), the by-name lookup refuses it (the channel asked for
 * "bad_name"). */
static void test_names(void)
{
    char err[512] = "";
    char *path = plugin_path("bad_name");
    struct og_plugin *p = og_plugin_load(path, err, sizeof err);
    CHECK(p != NULL);
    CHECK(p && strcmp(p->desc->name, "other") == 0);
    og_plugin_unload(p);

    err[0] = 0;
    p = og_plugin_load_by_name(OG_TEST_PLUGIN_DIR, "bad_name", err, sizeof err);
    CHECK(p == NULL);
    CHECK(strstr(err, path) != NULL);
    CHECK(strstr(err, "it calls itself 'other'") != NULL);
    free(path);

    err[0] = 0;
    p = og_plugin_load_by_name(OG_TEST_PLUGIN_DIR, "nosuch", err, sizeof err);
    CHECK(p == NULL);
    CHECK(strstr(err, "unknown connector 'nosuch'") != NULL);
    CHECK(strstr(err, OG_TEST_PLUGIN_DIR "/nosuch.so") != NULL);

    /* A name is never a path. */
    err[0] = 0;
    p = og_plugin_load_by_name(OG_TEST_PLUGIN_DIR, "../test-plugins/echo", err, sizeof err);
    CHECK(p == NULL);
    CHECK(strstr(err, "unknown connector") != NULL);
}

static void test_echo_loads(void)
{
    char err[512] = "";
    struct og_plugin *p = og_plugin_load_by_name(OG_TEST_PLUGIN_DIR, "echo", err, sizeof err);
    CHECK(p != NULL);
    if (!p) {
        fprintf(stderr, "echo: %s\n", err);
        return;
    }
    char *path = plugin_path("echo");
    CHECK_STR(p->path, path);
    free(path);
    CHECK_STR(p->desc->name, "echo");
    CHECK_INT(p->desc->abi_major, OG_CONNECTOR_ABI_MAJOR);
    CHECK_INT(p->desc->conf_size, sizeof(struct echo_conf));
    CHECK(p->desc->create && p->desc->destroy && p->desc->send && p->desc->handle_http);
    og_plugin_unload(p);
}

/* A plugin built against the frozen 1.0 header loads; the 1.1 fields it
 * cannot have read as their defaults; its instance works through the
 * services table. */
static void test_older_minor(void)
{
    char err[512] = "";
    struct og_plugin *p = og_plugin_load_by_name(OG_TEST_PLUGIN_DIR, "old10", err, sizeof err);
    CHECK(p != NULL);
    if (!p) {
        fprintf(stderr, "old10: %s\n", err);
        return;
    }
    CHECK_INT(p->desc->abi_minor, 0);
    CHECK(p->desc->struct_size < sizeof(struct og_connector));
    CHECK_INT(p->desc->messaging_window_ms, 3600000);
    CHECK_INT(p->desc->caps, OG_CAPS_1_0_DEFAULT);
    CHECK(p->desc->default_rate_per_s == OG_DEFAULT_RATE_PER_S);
    /* 1.3: no templates, no tags, no buttons */
    CHECK(p->desc->templates == NULL);
    CHECK_INT(p->desc->tag_window_ms, 0);
    CHECK_INT(p->desc->max_buttons, 0);
    CHECK_INT(p->desc->button_title_max, 0);
    struct og_errors errs = {0};
    struct og_channel *ch =
        og_channel_create(p, "legacy", NULL, NULL, "channels[0].options", NULL, &errs);
    CHECK(ch != NULL);
    CHECK_INT(errs.n, 0);
    if (ch) {
        struct og_outbound m = {.struct_size = sizeof m, .message_id = "msg_1", .text = "x"};
        struct og_send_result r = {.struct_size = sizeof r};
        CHECK_INT(p->desc->send(ch->inst, &m, &r), OG_OK);
        char want[64];
        snprintf(want, sizeof want, "msg_1/%zu", sizeof(struct og_services));
        CHECK_STR(r.provider_message_id, want);
        free(r.provider_message_id);
        og_channel_destroy(ch);
    }
    og_errors_free(&errs);
    og_plugin_unload(p);
}

/* echo is built against this header: caps and rate are what it declares. */
static void test_current_minor_fields(void)
{
    char err[512] = "";
    struct og_plugin *p = og_plugin_load_by_name(OG_TEST_PLUGIN_DIR, "echo", err, sizeof err);
    CHECK(p != NULL);
    if (!p)
        return;
    CHECK_INT(p->desc->abi_minor, OG_CONNECTOR_ABI_MINOR);
    CHECK_INT(p->desc->caps, OG_CAP_START_OUTBOUND | OG_CAP_ATTACH_URL);
    CHECK(p->desc->default_rate_per_s == OG_DEFAULT_RATE_PER_S);
    og_plugin_unload(p);
}

/* Parses opts_json against echo's table at "channels[3].options". */
static int parse(const struct og_connector *c, const char *opts_json, struct echo_conf *conf,
                 struct og_errors *errs)
{
    json_object *o = opts_json ? json_tokener_parse(opts_json) : NULL;
    CHECK(!opts_json || o != NULL);
    int rc = og_options_parse(c->options, c->conf_size, o, "channels[3].options", conf, errs);
    json_object_put(o);
    return rc;
}

/* True when some error in errs equals want. */
static int has_error(const struct og_errors *errs, const char *want)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strcmp(errs->items[i], want) == 0)
            return 1;
    fprintf(stderr, "missing error \"%s\"; got:\n", want);
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, "  %s\n", errs->items[i]);
    return 0;
}

static void test_options(const struct og_connector *c)
{
    struct echo_conf conf;
    struct og_errors errs = {0};

    /* Defaults fill everything absent; the optional string stays NULL. */
    CHECK_INT(parse(c, "{\"token\":\"t0k\"}", &conf, &errs), 0);
    CHECK_INT(errs.n, 0);
    CHECK_STR(conf.token, "t0k");
    CHECK_INT(conf.count, 3);
    CHECK_INT(conf.loud, 1);
    CHECK_STR(conf.api_base, "http://127.0.0.1:9/");
    CHECK_STR(conf.mode, "webhook");
    CHECK(conf.note == NULL);
    og_options_free(c->options, &conf);

    /* Given values win; null reads as absent. */
    CHECK_INT(parse(c,
                    "{\"token\":\"t\",\"count\":-42,\"loud\":false,\"api_base\":"
                    "\"https://api.example.com\",\"mode\":\"polling\",\"note\":null}",
                    &conf, &errs),
              0);
    CHECK_INT(conf.count, -42);
    CHECK_INT(conf.loud, 0);
    CHECK_STR(conf.api_base, "https://api.example.com");
    CHECK_STR(conf.mode, "polling");
    CHECK(conf.note == NULL);
    og_options_free(c->options, &conf);
    CHECK_INT(errs.n, 0);

    /* Required: absent (also with no options object at all) or empty. */
    CHECK(parse(c, "{}", &conf, &errs) != 0);
    CHECK(has_error(&errs, "channels[3].options.token: required"));
    og_options_free(c->options, &conf);
    og_errors_free(&errs);
    CHECK(parse(c, NULL, &conf, &errs) != 0);
    CHECK(has_error(&errs, "channels[3].options.token: required"));
    og_options_free(c->options, &conf);
    og_errors_free(&errs);
    CHECK(parse(c, "{\"token\":\"\"}", &conf, &errs) != 0);
    CHECK(has_error(&errs, "channels[3].options.token: required, must not be empty"));
    og_options_free(c->options, &conf);
    og_errors_free(&errs);

    /* Every problem of one block is reported, each with its key path. */
    CHECK(parse(c,
                "{\"token\":7,\"count\":\"3\",\"loud\":1,\"api_base\":\"ftp://x\","
                "\"mode\":\"pigeon\",\"colour\":\"red\"}",
                &conf, &errs) != 0);
    CHECK(has_error(&errs, "channels[3].options.token: must be a string"));
    CHECK(has_error(&errs, "channels[3].options.count: must be an integer"));
    CHECK(has_error(&errs, "channels[3].options.loud: must be a boolean"));
    CHECK(has_error(&errs, "channels[3].options.api_base: must be an http:// or https:// URL"));
    CHECK(has_error(&errs, "channels[3].options.mode: must be one of webhook|polling"));
    CHECK(has_error(&errs, "channels[3].options.colour: unknown option"));
    CHECK_INT(errs.n, 6);
    og_options_free(c->options, &conf);
    og_errors_free(&errs);

    /* A float is not an integer; a URL must be a string. */
    CHECK(parse(c, "{\"token\":\"t\",\"count\":1.5,\"api_base\":5}", &conf, &errs) != 0);
    CHECK(has_error(&errs, "channels[3].options.count: must be an integer"));
    CHECK(has_error(&errs, "channels[3].options.api_base: must be a URL string"));
    og_options_free(c->options, &conf);
    og_errors_free(&errs);

    /* The options must be an object. */
    CHECK(parse(c, "[1]", &conf, &errs) != 0);
    CHECK(has_error(&errs, "channels[3].options: must be an object"));
    og_options_free(c->options, &conf);
    og_errors_free(&errs);
}

static void test_help(const struct og_connector *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (!f)
        return;
    og_options_print_help(c, f);
    fclose(f);
    CHECK(strstr(buf, "echo") != NULL);
    static const char *names[] = {"token", "count", "loud", "api_base", "mode", "note"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK(strstr(buf, names[i]) != NULL);
    CHECK(strstr(buf, "required") != NULL);
    CHECK(strstr(buf, "secret") != NULL);
    CHECK(strstr(buf, "default: 3") != NULL);
    CHECK(strstr(buf, "default: true") != NULL);
    CHECK(strstr(buf, "default: http://127.0.0.1:9/") != NULL);
    CHECK(strstr(buf, "default: webhook") != NULL);
    CHECK(strstr(buf, "webhook|polling") != NULL);
    CHECK(strstr(buf, "API token") != NULL); /* the help line */
    /* The token's line says required and secret, and shows no default. */
    const char *line = strstr(buf, "  token");
    const char *eol = line ? strchr(line, '\n') : NULL;
    CHECK(line && eol);
    if (line && eol) {
        char one[256];
        snprintf(one, sizeof one, "%.*s", (int)(eol - line), line);
        CHECK(strstr(one, "required") && strstr(one, "secret") && !strstr(one, "default"));
    }
    free(buf);
}

/* An extra plugin named by the environment must pass the real loader. */
static void test_extra(void)
{
    const char *extra = getenv("OG_LOADER_EXTRA");
    if (!extra || !*extra)
        return;
    char err[512] = "";
    struct og_plugin *p = og_plugin_load(extra, err, sizeof err);
    if (!p)
        fprintf(stderr, "OG_LOADER_EXTRA: %s\n", err);
    CHECK(p != NULL);
    if (p)
        printf("loaded %s: connector %s %s\n", extra, p->desc->name,
               p->desc->version ? p->desc->version : "");
    og_plugin_unload(p);
}

int main(void)
{
    test_refusals();
    test_names();
    test_echo_loads();
    test_older_minor();
    test_current_minor_fields();
    char err[512] = "";
    struct og_plugin *echo = og_plugin_load_by_name(OG_TEST_PLUGIN_DIR, "echo", err, sizeof err);
    if (echo) {
        test_options(echo->desc);
        test_help(echo->desc);
        og_plugin_unload(echo);
    }
    test_extra();
    return og_test_done();
}
