/* test_config_doc - the configuration's documentation comes from the key
 * table the loader validates with (config/og_config_help.c), and this test
 * fails when a copy of it drifts:
 *   - README.md's key table (between the config-keys markers) and
 *     docs/config.md must be what og_config_print_markdown() prints; a
 *     mismatch names the keys missing on either side and the defaults that
 *     differ before saying how to rewrite the files;
 *   - omnigate --config-help prints og_config_print_help();
 *   - config/omnigate.example.json, which the README says shows every key
 *     (but connector_dir), has exactly the keys of the table;
 *   - the defaults documented for webhooks, whose parser is shared with the
 *     API (og_webhook_sub_parse), are the ones it applies.
 * With --write it rewrites README.md's table and docs/config.md instead:
 *   build/bin/og-unit-config-doc --write */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "og_config.h"
#include "og_config_int.h"
#include "og_test.h"
#include "og_util.h"
#include "og_webhooks.h"

#define README_BEGIN "<!-- config-keys:begin"
#define README_END "<!-- config-keys:end -->"

/* What print(file, arg) writes, as a string [xfer]. */
static char *printed(void (*print)(void *, int), int arg)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    print(f, arg);
    fclose(f);
    return s;
}

static void print_help(void *f, int arg)
{
    (void)arg;
    og_config_print_help(f);
}

/* ------------------------------------------------------------ table rows */

struct row {
    char *key, *def;
};
struct rows {
    struct row *v;
    size_t n;
};

/* The cells of "| a | b \| c | d |" without the outer pipes. [xfer] */
static size_t split_cells(const char *line, char **cells, size_t max)
{
    size_t n = 0;
    const char *p = line + 1;
    while (*p && n < max) {
        const char *q = p;
        while (*q && !(*q == '|' && q[-1] != '\\'))
            q++;
        if (!*q)
            break;
        const char *a = p, *b = q;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        cells[n++] = og_strndup(a, (size_t)(b - a));
        p = q + 1;
    }
    return n;
}

/* Every "| `key` | type | default | meaning |" line of text. */
static struct rows parse_rows(const char *text)
{
    struct rows r = {0};
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > 3 && strncmp(line, "| `", 3) == 0) {
            char *l = og_strndup(line, len), *cells[4] = {0};
            size_t n = split_cells(l, cells, 4);
            if (n == 4) {
                r.v = og_realloc(r.v, (r.n + 1) * sizeof *r.v);
                size_t kl = strlen(cells[0]);
                r.v[r.n].key = og_strndup(cells[0] + 1, kl >= 2 ? kl - 2 : 0);
                r.v[r.n].def = og_strdup(cells[2]);
                r.n++;
            }
            for (size_t i = 0; i < 4; i++)
                free(cells[i]);
            free(l);
        }
        line = end ? end + 1 : NULL;
    }
    return r;
}

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].key), free(r->v[i].def);
    free(r->v);
}

static const struct row *find(const struct rows *r, const char *key)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].key, key) == 0)
            return &r->v[i];
    return NULL;
}

/* Compares a document's table with the code's: keys missing either way,
 * keys listed twice, defaults that differ; then the text as a whole (types
 * and meanings). Returns the number of problems. */
static int compare(const char *what, const char *doc, const char *code)
{
    struct rows d = parse_rows(doc), c = parse_rows(code);
    int bad = 0;
    for (size_t i = 0; i < c.n; i++) {
        const struct row *x = find(&d, c.v[i].key);
        if (!x) {
            fprintf(stderr, "  %s: key %s is missing\n", what, c.v[i].key);
            bad++;
        } else if (strcmp(x->def, c.v[i].def) != 0) {
            fprintf(stderr, "  %s: %s: default %s, the code says %s\n", what, c.v[i].key, x->def,
                    c.v[i].def);
            bad++;
        }
    }
    for (size_t i = 0; i < d.n; i++) {
        if (!find(&c, d.v[i].key)) {
            fprintf(stderr, "  %s: key %s is not in the code's table\n", what, d.v[i].key);
            bad++;
        }
        if (find(&d, d.v[i].key) != &d.v[i]) {
            fprintf(stderr, "  %s: key %s is listed twice\n", what, d.v[i].key);
            bad++;
        }
    }
    if (!bad && strcmp(doc, code) != 0) {
        fprintf(stderr, "  %s: a type or meaning differs from the code's table\n", what);
        bad++;
    }
    if (bad)
        fprintf(stderr, "  rewrite with: %s/bin/og-unit-config-doc --write\n", OG_BINARY_DIR);
    CHECK(c.n > 0);
    rows_free(&d);
    rows_free(&c);
    return bad;
}

/* ---------------------------------------------------------------- README */

/* README.md's table: the text between the marker lines, and where it is. */
static char *readme_table(const char *readme, size_t *start, size_t *end)
{
    const char *b = strstr(readme, README_BEGIN), *e = strstr(readme, README_END);
    const char *s = b ? strchr(b, '\n') : NULL;
    if (!s || !e || e < s)
        return NULL;
    *start = (size_t)(s + 1 - readme);
    *end = (size_t)(e - readme);
    return og_strndup(s + 1, *end - *start);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static void test_readme(int write)
{
    char *path = og_test_src("README.md");
    char *readme = og_test_read_file(path, NULL);
    CHECK(readme != NULL);
    size_t start = 0, end = 0;
    char *table = readme ? readme_table(readme, &start, &end) : NULL;
    CHECK(table != NULL); /* the markers are there */
    char *code = printed(og_config_print_markdown, 1);
    if (write && table) {
        struct og_buf b = {0};
        og_buf_append(&b, readme, start);
        og_buf_puts(&b, code);
        og_buf_puts(&b, readme + end);
        CHECK_INT(write_file(path, b.data), 0);
        og_buf_free(&b);
    } else if (table) {
        CHECK_INT(compare("README.md", table, code), 0);
        /* the README lists the keys outside arrays and maps, two levels deep */
        struct rows r = parse_rows(table);
        CHECK(find(&r, "listen") && find(&r, "channels") && find(&r, "routing") &&
              find(&r, "redis") && find(&r, "redis.url") && find(&r, "api.admin_token") &&
              find(&r, "sessions.close") && !find(&r, "sessions.close.success_codes") &&
              !find(&r, "channels[].id") && !find(&r, "routing.<name>.mode"));
        rows_free(&r);
    }
    free(code);
    free(table);
    free(readme);
    free(path);
}

static void test_docs(int write)
{
    char *path = og_test_src("docs/config.md");
    char *code = printed(og_config_print_markdown, 0);
    if (write) {
        CHECK_INT(write_file(path, code), 0);
    } else {
        char *doc = og_test_read_file(path, NULL);
        CHECK(doc != NULL);
        if (doc)
            CHECK_INT(compare("docs/config.md", doc, code), 0);
        free(doc);
    }
    free(code);
    free(path);
}

/* ------------------------------------------------------- --config-help */

static void test_help(void)
{
    char *cmd = og_sprintf("%s/bin/omnigate --config-help", OG_BINARY_DIR);
    FILE *p = popen(cmd, "r");
    struct og_buf b = {0};
    char tmp[4096];
    size_t n;
    while (p && (n = fread(tmp, 1, sizeof tmp, p)) > 0)
        og_buf_append(&b, tmp, n);
    CHECK_INT(p ? pclose(p) : -1, 0);
    og_buf_append(&b, "", 0);
    char *want = printed(print_help, 0);
    CHECK_STR(b.data, want);
    /* one entry per key, with its type and default, and the meaning below */
    CHECK(strstr(want, "\nredis.pool_size: integer 1..256; default 16\n    ") != NULL);
    CHECK(strstr(want, "\napi.admin_token: string, secret; required\n") != NULL);
    CHECK(strstr(want, "\nrouting.<name>.levels[].members: array of strings; required\n") != NULL);
    free(want);
    og_buf_free(&b);
    free(cmd);
}

/* ------------------------------------------------------- example config */

/* The key paths of a JSON value as the table names them: array indices
 * become "[]", the names of routing policies "<name>"; a channel's options
 * are its connector's, not ours. */
static void key_paths(json_object *o, const char *path, struct rows *out)
{
    if (json_object_is_type(o, json_type_array)) {
        char *p = og_sprintf("%s[]", path);
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (json_object_is_type(json_object_array_get_idx(o, i), json_type_object))
                key_paths(json_object_array_get_idx(o, i), p, out);
        free(p);
        return;
    }
    if (!json_object_is_type(o, json_type_object) || strcmp(path, "channels[].options") == 0)
        return;
    json_object_object_foreach(o, k, v)
    {
        char *p = !*path                         ? og_strdup(k)
                  : strcmp(path, "routing") == 0 ? og_sprintf("%s.<name>", path)
                                                 : og_sprintf("%s.%s", path, k);
        /* a policy is not a key, its keys are */
        if (strcmp(path, "routing") != 0 && !find(out, p)) {
            out->v = og_realloc(out->v, (out->n + 1) * sizeof *out->v);
            out->v[out->n].key = og_strdup(p);
            out->v[out->n].def = og_strdup("");
            out->n++;
        }
        key_paths(v, p, out);
        free(p);
    }
}

/* Keys the example leaves out on purpose: the installed examples rely on
 * the default connector directory, so they pass --check anywhere, log to
 * standard error (the journal under systemd), and keep /metrics open on
 * their loopback listen address (a token would be one more secret to set
 * before the example starts), and serve plain HTTP (TLS needs files); the
 * Sentinel keys exclude redis.url, which the example shows (docs/sentinel.md
 * has a whole Sentinel configuration, checked by og-int-sentinel); media.s3
 * needs a bucket and its keys (docs/operations.md shows one). */
static int left_out(const char *key)
{
    return strcmp(key, "connector_dir") == 0 || strcmp(key, "log_file") == 0 ||
           strcmp(key, "metrics") == 0 || strcmp(key, "metrics.token") == 0 ||
           strcmp(key, "http.tls_cert") == 0 || strcmp(key, "http.tls_key") == 0 ||
           strcmp(key, "redis.sentinels") == 0 || strcmp(key, "redis.master_name") == 0 ||
           strcmp(key, "redis.sentinel_password") == 0 || strcmp(key, "media.s3") == 0 ||
           strncmp(key, "media.s3.", 9) == 0;
}

static void test_example(void)
{
    char *path = og_test_src("config/omnigate.example.json");
    json_object *ex = json_object_from_file(path);
    CHECK(ex != NULL);
    struct rows got = {0};
    key_paths(ex, "", &got);
    char *code = printed(og_config_print_markdown, 0);
    struct rows want = parse_rows(code);
    for (size_t i = 0; i < want.n; i++)
        if (!find(&got, want.v[i].key) && !left_out(want.v[i].key)) {
            fprintf(stderr, "  config/omnigate.example.json lacks %s\n", want.v[i].key);
            CHECK(0);
        }
    for (size_t i = 0; i < got.n; i++)
        if (!find(&want, got.v[i].key)) {
            fprintf(stderr, "  config/omnigate.example.json: %s is not a key\n", got.v[i].key);
            CHECK(0);
        }
    CHECK(want.n >= 80);
    rows_free(&got);
    rows_free(&want);
    free(code);
    json_object_put(ex);
    free(path);
}

/* ---------------------------------------------- defaults kept elsewhere */

static void test_external_defaults(void)
{
    const struct og_cfg_row *wh = og_cfg_find(og_cfg_top_rows, "webhooks");
    CHECK(wh && (wh->flags & OG_CFG_EXTERNAL));
    if (!wh)
        return;
    const struct og_cfg_row *timeout = og_cfg_find(wh->children, "timeout_ms");
    const struct og_cfg_row *enabled = og_cfg_find(wh->children, "enabled");
    const struct og_cfg_row *events = og_cfg_find(wh->children, "events");
    CHECK(timeout && timeout->def && enabled && enabled->def && events && events->def_doc);
    if (!timeout || !timeout->def || !enabled || !enabled->def || !events || !events->def_doc)
        return;
    const char *text = "{\"api\":{\"admin_token\":\"0123456789abcdef\"},\"webhooks\":[{\"id\":"
                       "\"w\",\"url\":\"https://x/h\",\"secret\":"
                       "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}]}";
    struct og_config cfg;
    struct og_errors errs = {0};
    CHECK_INT(og_config_load_buffer(text, strlen(text), &cfg, &errs), 0);
    CHECK_INT(cfg.n_webhooks, 1);
    if (cfg.n_webhooks == 1) {
        CHECK_INT(cfg.webhooks[0].timeout_ms, strtoll(timeout->def, NULL, 10));
        CHECK_INT(cfg.webhooks[0].enabled, strcmp(enabled->def, "true") == 0);
        CHECK(cfg.webhooks[0].n_events == 1 && strcmp(cfg.webhooks[0].events[0], "*") == 0 &&
              strstr(events->def_doc, "[\"*\"]") != NULL);
    }
    og_config_free(&cfg);
    og_errors_free(&errs);
}

int main(int argc, char **argv)
{
    int write = argc > 1 && strcmp(argv[1], "--write") == 0;
    test_readme(write);
    test_docs(write);
    if (!write) {
        test_help();
        test_example();
        test_external_defaults();
    }
    return og_test_done();
}
