/* og_config.c - loading and validating omnigate's one JSON configuration file.
 *
 * Loading runs in three passes over the text:
 *   1. parse it with json-c in strict mode; a syntax error stops here with one
 *      error naming the line and column, since nothing after it can be trusted;
 *   2. substitute "${ENV_NAME}" in every string value of the whole tree, channel
 *      options included, so connectors never see a reference; an unset variable
 *      is an error naming the key path where it was used;
 *   3. walk the keys we own against small tables (one per object level): an
 *      unknown key, a wrong type or a bad value is an error naming its path,
 *      and a valid value replaces the default that was put there first.
 * Every problem is added to the caller's og_errors and the walk goes on, so one
 * run of "omnigate --check" lists everything that is wrong at once.
 *
 * Error lines are "<path>: <message>". Paths are written the way a person
 * would point into the file: "redis.pool_size", "channels[2].connector". Whole
 * file problems use the file name (or "config" for a buffer) as the path.
 *
 * Values are never echoed in messages unless they are harmless names (channel
 * ids, variable names): a wrong admin token or password must not end up in a
 * log file. */
#include "og_config.h"
#include "og_config_int.h"
#include "og_config_routing.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "og_plugin.h"
#include "og_util.h"

/* A configuration file is a few kilobytes; anything near this is a mistake
 * (a log file passed by accident), and json-c takes an int length anyway. */
#define OG_CONFIG_MAX_BYTES (16u << 20)

#define OG_CONFIG_DEF_LISTEN "127.0.0.1:8080"
#define OG_CONFIG_DEF_MAX_BODY 1048576
#define OG_CONFIG_MAX_BODY_LIMIT 67108864
#define OG_CONFIG_MAX_THREADS 256
#define OG_CONFIG_DEF_POOL 16
#define OG_CONFIG_MAX_POOL 256
#define OG_CONFIG_MIN_TOKEN 16

/* ------------------------------------------------------------------ paths */

/* Appends a key to a path. Keys come from the file and end up in error lines
 * that are printed and logged, so control characters are escaped: a key with
 * a newline in it must not be able to forge a second error line. */
char *og_cfg_path_key(const char *parent, const char *key)
{
    struct og_buf b = {0};
    if (parent && *parent) {
        og_buf_puts(&b, parent);
        og_buf_puts(&b, ".");
    }
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            og_buf_printf(&b, "\\x%02x", *p);
        else
            og_buf_append(&b, p, 1);
    }
    if (!b.data)
        og_buf_append(&b, "", 0);
    return b.data;
}

char *og_cfg_path_index(const char *parent, size_t i)
{
    return og_sprintf("%s[%zu]", parent, i);
}

/* ---------------------------------------------------------- JSON parsing */

/* Line and column (both from 1) of byte offset off, for syntax errors. */
static void line_col(const char *buf, size_t off, size_t *line, size_t *col)
{
    size_t ln = 1, start = 0;
    for (size_t i = 0; i < off; i++)
        if (buf[i] == '\n') {
            ln++;
            start = i + 1;
        }
    *line = ln;
    *col = off - start + 1;
}

static void syntax_error(struct og_errors *errs, const char *origin, const char *buf, size_t off,
                         const char *why)
{
    size_t line, col;
    line_col(buf, off, &line, &col);
    og_errors_add(errs, "%s: invalid JSON at line %zu, column %zu: %s", origin, line, col, why);
}

/* Parses buf strictly (no comments, no trailing commas, valid UTF-8, nothing
 * but whitespace after the value). Returns the value [xfer] or NULL after
 * adding exactly one error. */
static json_object *parse_json(const char *buf, size_t len, const char *origin,
                               struct og_errors *errs)
{
    if (len > OG_CONFIG_MAX_BYTES) {
        og_errors_add(errs, "%s: too large (more than %u bytes)", origin, OG_CONFIG_MAX_BYTES);
        return NULL;
    }
    /* json-c stops at a NUL byte as if the text ended there; say what it is. */
    const char *nul = memchr(buf, 0, len);
    if (nul) {
        syntax_error(errs, origin, buf, (size_t)(nul - buf), "NUL byte");
        return NULL;
    }
    /* Editors on some systems start UTF-8 files with a byte order mark. */
    size_t skip = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        skip = 3;

    json_tokener *tok = json_tokener_new();
    /* Trailing data is allowed here only to be reported below in plainer
     * words than json-c's "unexpected character". */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8 |
                                    JSON_TOKENER_ALLOW_TRAILING_CHARS);
    json_object *o = json_tokener_parse_ex(tok, buf + skip, (int)(len - skip));
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = skip + json_tokener_get_parse_end(tok);
    if (!o && e == json_tokener_continue) {
        /* A bare number at the top level is only complete once the tokener
         * sees the end of the input, which a NUL byte signals. */
        o = json_tokener_parse_ex(tok, "", 1);
        e = json_tokener_get_error(tok);
        if (!o && (e == json_tokener_continue || e == json_tokener_error_parse_eof)) {
            syntax_error(errs, origin, buf, len, "unexpected end of input");
            json_tokener_free(tok);
            return NULL;
        }
    }
    json_tokener_free(tok);
    if (!o) {
        /* The parse end is the offset of the character that was refused. */
        syntax_error(errs, origin, buf, end, json_tokener_error_desc(e));
        return NULL;
    }
    /* json-c's strict mode still takes 'single-quoted' strings. Outside
     * double-quoted strings a quote can only be one of those. */
    int in_str = 0;
    for (size_t i = skip; i < end; i++) {
        if (in_str && buf[i] == '\\')
            i++;
        else if (buf[i] == '"')
            in_str = !in_str;
        else if (!in_str && buf[i] == '\'') {
            syntax_error(errs, origin, buf, i, "strings must be in double quotes");
            json_object_put(o);
            return NULL;
        }
    }
    for (size_t i = end; i < len; i++)
        if (!strchr(" \t\r\n", buf[i])) {
            syntax_error(errs, origin, buf, i, "unexpected data after the top-level value");
            json_object_put(o);
            return NULL;
        }
    return o;
}

/* ----------------------------------------------------- ${ENV} substitution */

static int is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

/* Expands "${NAME}" references in s. "$${" stands for a literal "${", for the
 * rare secret that contains one. A "$" not followed by "{" is kept, so
 * passwords with dollar signs need no escaping. Returns 1 with *out [xfer]
 * when something was replaced, 0 when s has no reference, -1 after adding
 * errors (every unset variable in s is reported, not just the first). */
static int subst_env(const char *s, char **out, const char *path, struct og_errors *errs)
{
    *out = NULL;
    if (!strstr(s, "${"))
        return 0;
    struct og_buf b = {0};
    int failed = 0;
    for (const char *p = s; *p;) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            og_buf_puts(&b, "${");
            p += 3;
            continue;
        }
        if (p[0] != '$' || p[1] != '{') {
            og_buf_append(&b, p, 1);
            p++;
            continue;
        }
        const char *name = p + 2, *q = name;
        if (is_name_start(*q))
            while (is_name_char(*q))
                q++;
        if (q == name || *q != '}') {
            og_errors_add(errs,
                          "%s: malformed ${...} reference (expected ${NAME}, NAME made of "
                          "A-Z, a-z, 0-9 and _)",
                          path);
            og_buf_free(&b);
            return -1;
        }
        char *var = og_strndup(name, (size_t)(q - name));
        const char *val = getenv(var);
        if (!val) {
            og_errors_add(errs, "%s: environment variable %s is not set", path, var);
            failed = 1;
        } else {
            og_buf_puts(&b, val);
        }
        free(var);
        p = q + 1;
    }
    if (failed) {
        og_buf_free(&b);
        return -1;
    }
    if (!b.data)
        og_buf_append(&b, "", 0);
    *out = b.data;
    return 1;
}

/* Substitutes in every string of the tree. On failure the string keeps its
 * "${...}" text; the load has failed anyway and the literal is less likely
 * than "" to cause follow-up errors that only repeat the first one. */
static void subst_tree(json_object *o, const char *path, struct og_errors *errs)
{
    switch (json_object_get_type(o)) {
    case json_type_string: {
        const char *s = json_object_get_string(o);
        /* C strings are used from here on; a "\u0000" would silently cut a
         * secret short, so it is refused everywhere. */
        if (strlen(s) != (size_t)json_object_get_string_len(o)) {
            og_errors_add(errs, "%s: must not contain a NUL character", path);
            return;
        }
        char *out;
        if (subst_env(s, &out, path, errs) == 1) {
            json_object_set_string(o, out);
            free(out);
        }
        return;
    }
    case json_type_object: {
        json_object_object_foreach(o, k, v)
        {
            char *p = og_cfg_path_key(path, k);
            subst_tree(v, p, errs);
            free(p);
        }
        return;
    }
    case json_type_array: {
        size_t n = json_object_array_length(o);
        for (size_t i = 0; i < n; i++) {
            char *p = og_cfg_path_index(path, i);
            subst_tree(json_object_array_get_idx(o, i), p, errs);
            free(p);
        }
        return;
    }
    default: return;
    }
}

/* ------------------------------------------------------- value helpers */

/* Walks obj's keys in file order, so errors come out in the order a person
 * reads the file, and hands each known one to its table entry. */
void og_cfg_walk(struct og_load *l, json_object *obj, const char *path, const struct og_key *keys)
{
    json_object_object_foreach(obj, k, v)
    {
        char *p = og_cfg_path_key(path, k);
        const struct og_key *kd = keys;
        while (kd->name && strcmp(kd->name, k) != 0)
            kd++;
        if (kd->name)
            kd->take(l, v, p);
        else
            og_errors_add(l->errs, "%s: unknown key", p);
        free(p);
    }
}

/* The string in v, or NULL after reporting that it is not one. JSON null is a
 * wrong type too: a key is either set to a value or left out. */
const char *og_cfg_str(struct og_load *l, json_object *v, const char *path)
{
    if (!json_object_is_type(v, json_type_string)) {
        og_errors_add(l->errs, "%s: must be a string", path);
        return NULL;
    }
    return json_object_get_string(v);
}

const char *og_cfg_nonempty(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (s && !*s) {
        og_errors_add(l->errs, "%s: must not be empty", path);
        return NULL;
    }
    return s;
}

/* An integer in [lo, hi]; 1.0 and "1" are refused, as a typo guard. Returns 0
 * and sets *out on success. */
int og_cfg_int(struct og_load *l, json_object *v, const char *path, int64_t lo, int64_t hi,
               int64_t *out)
{
    if (!json_object_is_type(v, json_type_int)) {
        og_errors_add(l->errs, "%s: must be an integer", path);
        return -1;
    }
    /* json-c keeps integers above INT64_MAX as uint64; get_int64 clamps them. */
    int64_t x = json_object_get_int64(v);
    if (x < lo || x > hi) {
        og_errors_add(l->errs, "%s: must be between %lld and %lld", path, (long long)lo,
                      (long long)hi);
        return -1;
    }
    *out = x;
    return 0;
}

int og_cfg_object(struct og_load *l, json_object *v, const char *path)
{
    if (!json_object_is_type(v, json_type_object)) {
        og_errors_add(l->errs, "%s: must be an object", path);
        return 0;
    }
    return 1;
}

void og_cfg_replace(char **dst, const char *s)
{
    free(*dst);
    *dst = og_strdup(s);
}

/* 1 when s is 1..max characters, all of them in the set: lowercase letters
 * and digits always, plus the extra characters given. */
int og_cfg_charset_ok(const char *s, size_t max, const char *extra, int upper)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(extra, c))
            continue;
        if (upper && c >= 'A' && c <= 'Z')
            continue;
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------- host:port */

/* Letters, digits, '.', '-' and '_' (container names use it): enough for
 * names and IPv4; inside brackets ':' and '%' (a zone id) are added. */
static int host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

/* Splits s[0..n) as host:port ("[v6]:port" for IPv6). The host is only checked
 * for characters that cannot appear in a name or address; whether it resolves
 * is for bind()/connect() to say. An empty host is allowed only when
 * empty_host is given, and is then replaced by it. */
static int split_hostport(const char *s, size_t n, const char *empty_host, char *host,
                          size_t hostsz, int *port)
{
    const char *h, *hend, *colon;
    if (n > 0 && s[0] == '[') {
        hend = memchr(s, ']', n);
        h = s + 1;
        if (!hend || hend == h || (size_t)(hend - s) + 1 >= n || hend[1] != ':')
            return -1;
        colon = hend + 1;
        if (!memchr(h, ':', (size_t)(hend - h)))
            return -1;
        for (const char *p = h; p < hend; p++)
            if (!host_char(*p) && *p != ':' && *p != '%')
                return -1;
    } else {
        colon = NULL;
        for (const char *p = s; p < s + n; p++)
            if (*p == ':') {
                if (colon)
                    return -1; /* an IPv6 address without brackets */
                colon = p;
            }
        if (!colon)
            return -1;
        h = s;
        hend = colon;
        for (const char *p = h; p < hend; p++)
            if (!host_char(*p))
                return -1;
    }
    /* RFC 1035 caps a name at 253 characters; checked here, not by each
     * caller's buffer, so a value --check accepts is one every user takes */
    if (hend - h > 253)
        return -1;
    const char *ps = colon + 1, *pe = s + n;
    if (pe - ps < 1 || pe - ps > 5)
        return -1;
    long v = 0;
    for (const char *p = ps; p < pe; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535)
        return -1;

    size_t hl = (size_t)(hend - h);
    const char *hs = h;
    if (hl == 0) {
        if (!empty_host)
            return -1;
        hs = empty_host;
        hl = strlen(empty_host);
    }
    if (host) {
        if (hl + 1 > hostsz)
            return -1;
        memcpy(host, hs, hl);
        host[hl] = 0;
    }
    if (port)
        *port = (int)v;
    return 0;
}

/* ":8080" listens on every IPv4 interface, as "0.0.0.0:8080" would. */
int og_config_listen_split(const char *listen, char *host, size_t hostsz, int *port)
{
    if (!listen)
        return -1;
    return split_hostport(listen, strlen(listen), "0.0.0.0", host, hostsz, port);
}

/* "embedded", "redis://host:port[/db]" or "unix:///path". No user or password
 * in the URL: redis.password holds that, so it can come from the environment
 * without the URL having to. */
static int redis_url_ok(const char *u)
{
    if (strcmp(u, "embedded") == 0)
        return 1;
    if (strncmp(u, "unix://", 7) == 0)
        return u[7] == '/' && u[8] != 0;
    if (strncmp(u, "redis://", 8) != 0)
        return 0;
    const char *hp = u + 8, *slash = strchr(hp, '/');
    size_t n = slash ? (size_t)(slash - hp) : strlen(hp);
    char host[256];
    if (split_hostport(hp, n, NULL, host, sizeof host, NULL) != 0)
        return 0;
    if (slash) {
        const char *db = slash + 1;
        size_t dl = strlen(db);
        if (dl < 1 || dl > 9 || strspn(db, "0123456789") != dl)
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------- top-level keys */

static void take_listen(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (!s)
        return;
    if (og_config_listen_split(s, NULL, 0, NULL) != 0) {
        og_errors_add(l->errs,
                      "%s: must be host:port with a port from 1 to 65535 "
                      "(\"127.0.0.1:8080\", \"[::1]:8080\" or \":8080\")",
                      path);
        return;
    }
    og_cfg_replace(&l->cfg->listen, s);
}

/* Kept without a trailing slash, so "<public_url>/hooks/<id>" is right either way. */
static void take_public_url(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (!s)
        return;
    if (*s) {
        size_t skip = strncmp(s, "https://", 8) == 0 ? 8 : strncmp(s, "http://", 7) == 0 ? 7 : 0;
        if (!skip || s[skip] == 0 || s[skip] == '/' || strpbrk(s, " \t\r\n")) {
            og_errors_add(l->errs, "%s: must be an http:// or https:// URL", path);
            return;
        }
    }
    og_cfg_replace(&l->cfg->public_url, s);
    size_t n = strlen(l->cfg->public_url);
    while (n > 0 && l->cfg->public_url[n - 1] == '/')
        l->cfg->public_url[--n] = 0;
}

static void take_data_dir(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_nonempty(l, v, path);
    if (s)
        og_cfg_replace(&l->cfg->data_dir, s);
}

static void take_log_level(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (!s)
        return;
    static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
    for (const char *const *p = levels; *p; p++)
        if (strcmp(*p, s) == 0) {
            og_cfg_replace(&l->cfg->log_level, s);
            return;
        }
    og_errors_add(l->errs, "%s: must be one of error, warn, info, debug", path);
}

static void take_connector_dir(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_nonempty(l, v, path);
    if (s)
        og_cfg_replace(&l->cfg->connector_dir, s);
}

static void take_max_body(struct og_load *l, json_object *v, const char *path)
{
    og_cfg_int(l, v, path, 1, OG_CONFIG_MAX_BODY_LIMIT, &l->cfg->http.max_body_bytes);
}

static void take_threads(struct og_load *l, json_object *v, const char *path)
{
    og_cfg_int(l, v, path, 0, OG_CONFIG_MAX_THREADS, &l->cfg->http.threads);
}

/* clang-format off */
static const struct og_key og_http_keys[] = {
    {"max_body_bytes", take_max_body},
    {"threads", take_threads},
    {NULL, NULL},
};
/* clang-format on */

static void take_http(struct og_load *l, json_object *v, const char *path)
{
    if (og_cfg_object(l, v, path))
        og_cfg_walk(l, v, path, og_http_keys);
}

static void take_redis_url(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (!s)
        return;
    if (!redis_url_ok(s)) {
        og_errors_add(l->errs,
                      "%s: must be \"embedded\", redis://host:port[/db] or "
                      "unix:///path",
                      path);
        return;
    }
    og_cfg_replace(&l->cfg->redis.url, s);
}

static void take_redis_prefix(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (!s)
        return;
    if (!og_cfg_charset_ok(s, 32, "_.-", 1)) {
        og_errors_add(l->errs, "%s: must be 1-32 characters of A-Z, a-z, 0-9, _, . and -", path);
        return;
    }
    og_cfg_replace(&l->cfg->redis.prefix, s);
}

/* An empty password means none, so "${REDIS_PASSWORD}" can be switched off
 * by setting the variable to "" instead of editing the file. */
static void take_redis_password(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (s && *s)
        og_cfg_replace(&l->cfg->redis.password, s);
}

static void take_redis_pool(struct og_load *l, json_object *v, const char *path)
{
    og_cfg_int(l, v, path, 1, OG_CONFIG_MAX_POOL, &l->cfg->redis.pool_size);
}

static void take_redis_server(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_nonempty(l, v, path);
    if (s)
        og_cfg_replace(&l->cfg->redis.server, s);
}

/* clang-format off */
static const struct og_key og_redis_keys[] = {
    {"url", take_redis_url},
    {"prefix", take_redis_prefix},
    {"password", take_redis_password},
    {"pool_size", take_redis_pool},
    {"server", take_redis_server},
    {NULL, NULL},
};
/* clang-format on */

static void take_redis(struct og_load *l, json_object *v, const char *path)
{
    if (og_cfg_object(l, v, path))
        og_cfg_walk(l, v, path, og_redis_keys);
}

static void take_admin_token(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (!s)
        return;
    if (strlen(s) < OG_CONFIG_MIN_TOKEN) {
        og_errors_add(l->errs, "%s: must be at least %d characters", path, OG_CONFIG_MIN_TOKEN);
        return;
    }
    og_cfg_replace(&l->cfg->api.admin_token, s);
}

/* clang-format off */
static const struct og_key og_api_keys[] = {
    {"admin_token", take_admin_token},
    {NULL, NULL},
};
/* clang-format on */

static void take_api(struct og_load *l, json_object *v, const char *path)
{
    if (!og_cfg_object(l, v, path))
        return;
    og_cfg_walk(l, v, path, og_api_keys);
    if (!json_object_object_get_ex(v, "admin_token", NULL))
        og_errors_add(l->errs, "%s.admin_token: required", path);
}

/* ------------------------------------------------------------- channels */

static void take_ch_id(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (!s)
        return;
    /* The id appears in URLs (/hooks/<id>) and Redis keys: keep it plain. */
    if (!og_cfg_charset_ok(s, 64, "_-", 0)) {
        og_errors_add(l->errs, "%s: must be 1-64 characters of a-z, 0-9, _ and -", path);
        return;
    }
    for (struct og_config_channel *c = l->cfg->channels; c < l->ch; c++)
        if (c->id && strcmp(c->id, s) == 0) {
            og_errors_add(l->errs, "%s: duplicate channel id \"%s\" (also %s.id)", path, s,
                          c->path);
            return;
        }
    og_cfg_replace(&l->ch->id, s);
}

static void take_ch_connector(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_str(l, v, path);
    if (!s)
        return;
    /* The same names og_plugin_load_by_name() accepts, checked here so the
     * error can name the key. */
    if (!og_cfg_charset_ok(s, 64, "_-", 0)) {
        og_errors_add(l->errs,
                      "%s: must be a connector name (1-64 characters of a-z, 0-9, _ "
                      "and -)",
                      path);
        return;
    }
    og_cfg_replace(&l->ch->connector, s);
}

static void take_ch_routing(struct og_load *l, json_object *v, const char *path)
{
    const char *s = og_cfg_nonempty(l, v, path);
    if (s)
        og_cfg_replace(&l->ch->routing, s);
}

/* Options are the connector's to validate (og_channel_create); only their
 * shape is checked here. */
static void take_ch_options(struct og_load *l, json_object *v, const char *path)
{
    if (!og_cfg_object(l, v, path))
        return;
    json_object_put(l->ch->options);
    l->ch->options = json_object_get(v);
}

/* clang-format off */
static const struct og_key og_channel_keys[] = {
    {"id", take_ch_id},
    {"connector", take_ch_connector},
    {"routing", take_ch_routing},
    {"options", take_ch_options},
    {"rate_limit_per_s", og_config_take_ch_rate},
    {NULL, NULL},
};
/* clang-format on */

/* Every array element gets a channel, valid or not, so channels[i] in the
 * struct is channels[i] in the file and in error messages. */
static void take_channels(struct og_load *l, json_object *v, const char *path)
{
    if (!json_object_is_type(v, json_type_array)) {
        og_errors_add(l->errs, "%s: must be an array", path);
        return;
    }
    struct og_config *cfg = l->cfg;
    size_t n = json_object_array_length(v);
    cfg->channels = n ? og_calloc(n, sizeof *cfg->channels) : NULL;
    cfg->n_channels = n;
    for (size_t i = 0; i < n; i++) {
        struct og_config_channel *ch = &cfg->channels[i];
        json_object *e = json_object_array_get_idx(v, i);
        snprintf(ch->path, sizeof ch->path, "%s[%zu]", path, i);
        ch->routing = og_strdup("default");
        if (!og_cfg_object(l, e, ch->path))
            continue;
        l->ch = ch;
        og_cfg_walk(l, e, ch->path, og_channel_keys);
        l->ch = NULL;
        if (!json_object_object_get_ex(e, "id", NULL))
            og_errors_add(l->errs, "%s.id: required", ch->path);
        if (!json_object_object_get_ex(e, "connector", NULL))
            og_errors_add(l->errs, "%s.connector: required", ch->path);
    }
}

/* clang-format off */
static const struct og_key og_top_keys[] = {
    {"listen", take_listen},
    {"public_url", take_public_url},
    {"data_dir", take_data_dir},
    {"log_level", take_log_level},
    {"connector_dir", take_connector_dir},
    {"http", take_http},
    {"redis", take_redis},
    {"api", take_api},
    {"channels", take_channels},
    {"webhooks", og_cfg_take_webhooks},
    {"webhook_dispatch", og_cfg_take_webhook_dispatch},
    {"smtp", og_config_take_smtp},
    {"followups", og_config_take_followups},
    {"routing", og_config_take_routing},
    {"agents", og_config_take_agents},
    {"sessions", og_config_take_sessions},
    {"send", og_config_take_send},
    {NULL, NULL},
};
/* clang-format on */

/* ------------------------------------------------------------- loading */

/* Everything a missing key falls back to, so the struct is complete even
 * after errors and og_config_free() has only owned strings to free. */
static void set_defaults(struct og_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen = og_strdup(OG_CONFIG_DEF_LISTEN);
    cfg->public_url = og_strdup("");
    cfg->data_dir = og_strdup("./var");
    cfg->log_level = og_strdup("info");
    cfg->http.max_body_bytes = OG_CONFIG_DEF_MAX_BODY;
    cfg->http.threads = 0;
    cfg->redis.url = og_strdup("embedded");
    cfg->redis.prefix = og_strdup("og");
    cfg->redis.pool_size = OG_CONFIG_DEF_POOL;
    cfg->redis.server = og_strdup("redis-server");
    cfg->webhook_dispatch.concurrency = 64;
    cfg->followups = og_config_followups_new();
    cfg->routing = og_config_routing_new();
    og_config_send_defaults(cfg);
}

static int load(const char *buf, size_t len, const char *origin, struct og_config *cfg,
                struct og_errors *errs)
{
    size_t before = errs->n;
    set_defaults(cfg);
    json_object *root = parse_json(buf, len, origin, errs);
    if (!root)
        return -1;
    if (!json_object_is_type(root, json_type_object)) {
        og_errors_add(errs, "%s: must be a JSON object", origin);
        json_object_put(root);
        return -1;
    }
    cfg->root = root;
    subst_tree(root, "", errs);

    struct og_load l = {.cfg = cfg, .errs = errs};
    og_cfg_walk(&l, root, "", og_top_keys);
    if (!json_object_object_get_ex(root, "api", NULL))
        og_errors_add(errs, "api.admin_token: required");
    og_config_followups_check(&l);
    og_config_routing_check(&l);
    return errs->n == before ? 0 : -1;
}

int og_config_load_buffer(const char *buf, size_t len, struct og_config *cfg,
                          struct og_errors *errs)
{
    return load(buf ? buf : "", buf ? len : 0, "config", cfg, errs);
}

int og_config_load(const char *path, struct og_config *cfg, struct og_errors *errs)
{
    set_defaults(cfg);
    FILE *f = fopen(path, "rb");
    if (!f) {
        og_errors_add(errs, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct og_buf b = {0};
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
        og_buf_append(&b, tmp, n);
        if (b.len > OG_CONFIG_MAX_BYTES)
            break; /* parse_json reports it; no need to read a huge file to the end */
    }
    int rerr = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (rerr) {
        og_errors_add(errs, "%s: cannot read: %s", path, strerror(rerr));
        og_buf_free(&b);
        return -1;
    }
    og_config_free(cfg);
    int rc = load(b.data ? b.data : "", b.len, path, cfg, errs);
    og_buf_free(&b);
    return rc;
}

void og_config_free(struct og_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->listen);
    free(cfg->public_url);
    free(cfg->data_dir);
    free(cfg->log_level);
    free(cfg->connector_dir);
    free(cfg->redis.url);
    free(cfg->redis.prefix);
    free(cfg->redis.password);
    free(cfg->redis.server);
    free(cfg->api.admin_token);
    for (size_t i = 0; i < cfg->n_channels; i++) {
        free(cfg->channels[i].id);
        free(cfg->channels[i].connector);
        free(cfg->channels[i].routing);
        json_object_put(cfg->channels[i].options);
    }
    free(cfg->channels);
    og_cfg_free_webhooks(cfg);
    og_config_followups_free(cfg->followups);
    og_config_routing_free(cfg->routing);
    json_object_put(cfg->root);
    memset(cfg, 0, sizeof *cfg);
}
