/* og_config.c - loading and validating omnigate's one JSON configuration file.
 *
 * Loading runs in three passes over the text:
 *   1. parse it with json-c in strict mode; a syntax error stops here with one
 *      error naming the line and column, since nothing after it can be trusted;
 *   2. substitute "${ENV_NAME}" in every string value of the whole tree, channel
 *      options included, so connectors never see a reference; an unset variable
 *      is an error naming the key path where it was used. A substituted string
 *      keeps the text as written (og_options_mark_env), so that a key or an
 *      option that wants an integer, a boolean or a number converts it and,
 *      when it does not convert, names the variable;
 *   3. walk the keys against the key table (og_cfg_top_rows below, the
 *      sections' rows in og_config_<section>.c, the engine in
 *      og_config_rows.c): an unknown key, a wrong type or a bad value is an
 *      error naming its path, and a valid value replaces the default that
 *      the same table put there first.
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
#include "og_addr.h"
#include "og_config_int.h"
#include "og_config_routing.h"
#include "og_fetch.h"
#include "og_webhooks.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "og_plugin.h"
#include "og_util.h"

/* A configuration file is a few kilobytes; anything near this is a mistake
 * (a log file passed by accident), and json-c takes an int length anyway. */
#define OG_CONFIG_MAX_BYTES (16u << 20)

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
            /* marked with the text as written, so a key that wants an
             * integer or a boolean can convert it and name the variable */
            og_options_mark_env(o, s);
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

/* ------------------------------------------------------------ key hooks */

static int check_listen(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                        const char *path, void *base)
{
    (void)base;
    if (og_config_listen_split(json_object_get_string(v), NULL, 0, NULL) != 0)
        return og_cfg_expect(l, row, path);
    return 0;
}

int og_config_store_raw_s(const char *s, int64_t *keep_s)
{
    if (!s)
        return -1;
    if (strcmp(s, "none") == 0 || strcmp(s, "always") == 0) {
        *keep_s = s[0] == 'n' ? -1 : 0;
        return 0;
    }
    char *end = NULL;
    long long h = s[0] >= '0' && s[0] <= '9' ? strtoll(s, &end, 10) : 0;
    if (!end || strcmp(end, "h") != 0 || h < 1 || h > 87600)
        return -1;
    *keep_s = (int64_t)h * 3600;
    return 0;
}

static int check_store_raw(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                           const char *path, void *base)
{
    (void)base;
    int64_t keep;
    if (og_config_store_raw_s(json_object_get_string(v), &keep) != 0)
        return og_cfg_expect(l, row, path);
    return 0;
}

/* Kept without a trailing slash, so "<public_url>/hooks/<id>" is right either way. */
static int check_public_url(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                            const char *path, void *base)
{
    const char *s = json_object_get_string(v);
    if (*s && !og_url_valid(s))
        return og_cfg_expect(l, row, path);
    char **dst = og_cfg_slot(row, base);
    og_cfg_replace(dst, s);
    size_t n = strlen(*dst);
    while (n > 0 && (*dst)[n - 1] == '/')
        (*dst)[--n] = 0;
    return 1;
}

static int check_redis_url(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                           const char *path, void *base)
{
    (void)base;
    return redis_url_ok(json_object_get_string(v)) ? 0 : og_cfg_expect(l, row, path);
}

/* An empty password means none, so "${REDIS_PASSWORD}" can be switched off
 * by setting the variable to "" instead of editing the file. */
static int check_redis_password(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                                const char *path, void *base)
{
    (void)l, (void)row, (void)path, (void)base;
    return *json_object_get_string(v) ? 0 : 1;
}

/* redis: Sentinel or a URL, not both; a master_name with the sentinels,
 * and each sentinel a host:port (core/og_sentinel.h asks them at start). */
static int check_redis(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                       const char *path, void *base)
{
    (void)row, (void)base;
    json_object *s, *u, *m;
    if (!json_object_is_type(v, json_type_object))
        return 0;
    int has_s = json_object_object_get_ex(v, "sentinels", &s);
    int has_m = json_object_object_get_ex(v, "master_name", &m);
    if (!has_s) {
        if (has_m)
            og_errors_add(l->errs, "%s.master_name: only with %s.sentinels", path, path);
        if (json_object_object_get_ex(v, "sentinel_password", &m))
            og_errors_add(l->errs, "%s.sentinel_password: only with %s.sentinels", path, path);
        return 0;
    }
    if (json_object_object_get_ex(v, "url", &u))
        og_errors_add(l->errs,
                      "%s.url and %s.sentinels are mutually exclusive: with sentinels the "
                      "master's address is asked of them; remove one",
                      path, path);
    if (!has_m)
        og_errors_add(l->errs, "%s.master_name: required with %s.sentinels", path, path);
    if (!json_object_is_type(s, json_type_array))
        return 0; /* already reported */
    if (json_object_array_length(s) == 0)
        og_errors_add(l->errs, "%s.sentinels: needs at least one \"host:port\"", path);
    for (size_t i = 0; i < json_object_array_length(s); i++) {
        json_object *e = json_object_array_get_idx(s, i);
        const char *t = json_object_get_string(e);
        if (json_object_is_type(e, json_type_string) &&
            split_hostport(t, strlen(t), NULL, NULL, 0, NULL) != 0)
            og_errors_add(l->errs, "%s.sentinels[%zu]: must be host:port (\"10.0.0.5:26379\")",
                          path, i);
    }
    return 0;
}

/* The id appears in URLs (/hooks/<id>) and Redis keys, so its characters are
 * the row's; here only that it is unique. base is this channel. */
static int check_channel_id(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                            const char *path, void *base)
{
    (void)row;
    const char *s = json_object_get_string(v);
    for (struct og_config_channel *c = l->cfg->channels; c < (struct og_config_channel *)base; c++)
        if (c->id && strcmp(c->id, s) == 0) {
            og_errors_add(l->errs, "%s: duplicate channel id \"%s\" (also %s.id)", path, s,
                          c->path);
            return -1;
        }
    return 0;
}

/* Every element, object or not, remembers its path for later messages
 * (the connector's options, the routing check). */
static int channel_done(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                        const char *path, void *base)
{
    (void)l, (void)row, (void)v;
    struct og_config_channel *ch = base;
    snprintf(ch->path, sizeof ch->path, "%s", path);
    return 0;
}

/* http: each entry of the address lists must be an address or a CIDR range
 * (gateway/og_edge.h reads them at start; --check refuses them first). */
static int check_http(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                      const char *path, void *base)
{
    static const char *const lists[] = {"trusted_proxies", "platform_ranges", NULL};
    (void)row, (void)base;
    if (json_object_object_get_ex(v, "tls_cert", NULL) !=
        json_object_object_get_ex(v, "tls_key", NULL))
        og_errors_add(l->errs, "%s: tls_cert and tls_key go together", path);
    for (const char *const *k = lists; *k; k++) {
        json_object *a;
        if (!json_object_object_get_ex(v, *k, &a) || !json_object_is_type(a, json_type_array))
            continue; /* absent, or already reported */
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            json_object *e = json_object_array_get_idx(a, i);
            if (json_object_is_type(e, json_type_string) &&
                !og_cidr_text_valid(json_object_get_string(e)))
                og_errors_add(l->errs,
                              "%s.%s[%zu]: must be an address or a CIDR range "
                              "(\"10.0.0.0/8\", \"2001:db8::/32\")",
                              path, *k, i);
        }
    }
    return 0;
}

/* ------------------------------------------------------------ key table */

#define NAME_CHARS "_-" /* with a-z and 0-9: ids and names used in URLs and keys */

static const struct og_cfg_row http_rows[] = {
    {.name = "max_body_bytes",
     .type = OG_CFG_INT,
     .offset = offsetof(struct og_config, http.max_body_bytes),
     .def = "1048576",
     .min = 1,
     .max = 67108864,
     .help = "larger request bodies are refused with 413"},
    {.name = "threads",
     .type = OG_CFG_INT,
     .offset = offsetof(struct og_config, http.threads),
     .def = "0",
     .min = 0,
     .max = 256,
     .help = "libmicrohttpd's thread pool (epoll); 0 = 4 per CPU, at least 64. One thread "
             "accepts connections and hands them out evenly; a thread answers its connections "
             "one request at a time"},
    {.name = "max_connections",
     .type = OG_CFG_INT,
     .offset = offsetof(struct og_config, http.max_connections),
     .def = "0",
     .min = 0,
     .max = 1000000,
     .help = "connections at once; 0 = 4096, or more when the descriptor limit allows"},
    {.name = "connection_memory_bytes",
     .type = OG_CFG_INT,
     .offset = offsetof(struct og_config, http.connection_memory_bytes),
     .def = "16384",
     .min = 4096,
     .max = 1048576,
     .help = "memory each connection holds while open (request line and headers must fit in "
             "about half of it); what 5,000 open web chat streams cost is mostly this"},
    {.name = "reserved_connections",
     .type = OG_CFG_INT,
     .offset = offsetof(struct og_config, http.reserved_connections),
     .def = "64",
     .min = 0,
     .max = 100000,
     .help = "of those, kept for platform_ranges and for /healthz and /readyz"},
    {.name = "per_address_connections",
     .type = OG_CFG_INT,
     .offset = offsetof(struct og_config, http.per_address_connections),
     .def = "256",
     .min = 0,
     .max = 1000000,
     .help = "connections (and requests through trusted_proxies) per client address, an "
             "IPv6 one by its /64; 0 = no limit"},
    {.name = "header_timeout_ms",
     .type = OG_CFG_INT,
     .offset = offsetof(struct og_config, http.header_timeout_ms),
     .def = "10000",
     .min = 0,
     .max = 600000,
     .help = "a request's line and headers must arrive within this (after a kept-alive "
             "connection's 60 s of idle); 0 = no bound"},
    {.name = "min_body_bytes_per_s",
     .type = OG_CFG_INT,
     .offset = offsetof(struct og_config, http.min_body_bytes_per_s),
     .def = "1024",
     .min = 0,
     .max = 1073741824,
     .help = "a body must average this once header_timeout_ms more has passed; 0 = no bound"},
    {.name = "max_messages_per_request",
     .type = OG_CFG_INT,
     .offset = offsetof(struct og_config, http.max_messages_per_request),
     .def = "1000",
     .min = 0,
     .max = 1000000,
     .help = "items one platform request may carry (413 past it; those before are stored); "
             "0 = no bound"},
    {.name = "trusted_proxies",
     .type = OG_CFG_LIST,
     .offset = offsetof(struct og_config, http.trusted_proxies),
     .count = offsetof(struct og_config, http.n_trusted_proxies),
     .help = "addresses or CIDR ranges of reverse proxies whose forwarded_header names the "
             "client"},
    {.name = "forwarded_header",
     .type = OG_CFG_ENUM,
     .offset = offsetof(struct og_config, http.forwarded_header),
     .def = "x-forwarded-for",
     .choices = "x-forwarded-for|forwarded",
     .help = "the header trusted_proxies set: X-Forwarded-For or Forwarded (RFC 7239)"},
    {.name = "platform_ranges",
     .type = OG_CFG_LIST,
     .offset = offsetof(struct og_config, http.platform_ranges),
     .count = offsetof(struct og_config, http.n_platform_ranges),
     .help = "addresses or CIDR ranges the platforms post webhooks from: no per-address "
             "limit, and the reserve"},
    {.name = "tls_cert",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, http.tls_cert),
     .flags = OG_CFG_NONEMPTY,
     .def_doc = "none: plain HTTP",
     .help = "a PEM certificate chain: listen serves HTTPS (TLS 1.2 and later); SIGHUP loads "
             "it again (renewals)"},
    {.name = "tls_key",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, http.tls_key),
     .flags = OG_CFG_NONEMPTY,
     .def_doc = "none",
     .help = "the certificate's PEM private key (with tls_cert)"},
    {0},
};

static const struct og_cfg_row redis_rows[] = {
    {.name = "url",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, redis.url),
     .def = "embedded",
     .help = "\"embedded\" (omnigate starts its own redis-server in data_dir), "
             "redis://host:port[/db] or unix:///path",
     .expect = "must be \"embedded\", redis://host:port[/db] or unix:///path",
     .check = check_redis_url},
    {.name = "prefix",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, redis.prefix),
     .def = "og",
     .max = 32,
     .flags = OG_CFG_UPPER,
     .chars = "_.-",
     .help = "keys are {prefix}:...: one hash tag per deployment",
     .expect = "must be 1-32 characters of A-Z, a-z, 0-9, _, . and -"},
    {.name = "password",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, redis.password),
     .flags = OG_CFG_SECRET,
     .help = "AUTH password; \"\" = none",
     .check = check_redis_password},
    {.name = "pool_size",
     .type = OG_CFG_INT,
     .offset = offsetof(struct og_config, redis.pool_size),
     .def = "16",
     .min = 1,
     .max = 256,
     .help = "connections per instance"},
    {.name = "server",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, redis.server),
     .def = "redis-server",
     .flags = OG_CFG_NONEMPTY,
     .help = "embedded only: the redis-server binary to start"},
    {.name = "durability",
     .type = OG_CFG_ENUM,
     .offset = offsetof(struct og_config, redis.durability),
     .def = "fsync",
     .choices = "fsync|replicated|relaxed",
     .help = "when a platform gets its 2xx: fsync = on disk (the embedded Redis fsyncs every "
             "write; an external one must have AOF on), replicated = also on wait_replicas "
             "replicas (WAIT), relaxed = in Redis's memory"},
    {.name = "wait_replicas",
     .type = OG_CFG_INT,
     .offset = offsetof(struct og_config, redis.wait_replicas),
     .def = "1",
     .min = 1,
     .max = 16,
     .help = "replicated only: replicas that must have a write before it is acknowledged"},
    {.name = "wait_timeout_ms",
     .type = OG_CFG_INT,
     .offset = offsetof(struct og_config, redis.wait_timeout_ms),
     .def = "1000",
     .min = 10,
     .max = 60000,
     .help = "replicated only: how long to wait for them (then 503: the platform retries)"},
    {.name = "sentinels",
     .type = OG_CFG_LIST,
     .offset = offsetof(struct og_config, redis.sentinels),
     .count = offsetof(struct og_config, redis.n_sentinels),
     .help = "Redis Sentinel: \"host:port\" of each sentinel; omnigate asks them for the "
             "master of master_name and follows failovers (instead of url; docs/sentinel.md)"},
    {.name = "master_name",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, redis.master_name),
     .max = 64,
     .chars = "_.-",
     .flags = OG_CFG_UPPER,
     .help = "with sentinels: the name the sentinels monitor the master under",
     .expect = "must be 1-64 characters of A-Z, a-z, 0-9, _, . and -"},
    {.name = "sentinel_password",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, redis.sentinel_password),
     .flags = OG_CFG_SECRET,
     .help = "with sentinels: their AUTH password (requirepass in sentinel.conf); \"\" = none",
     .check = check_redis_password},
    {0},
};

static int check_api(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                     const char *path, void *base)
{
    (void)row, (void)base;
    json_object *a;
    if (!json_object_object_get_ex(v, "cors_origins", &a) ||
        !json_object_is_type(a, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *e = json_object_array_get_idx(a, i);
        if (json_object_is_type(e, json_type_string) &&
            !og_url_origin_valid(json_object_get_string(e)))
            og_errors_add(l->errs,
                          "%s.cors_origins[%zu]: must be an origin: http(s)://host[:port] in "
                          "lower case, without a path (\"https://app.example.com\")",
                          path, i);
    }
    return 0;
}

static const struct og_cfg_row api_rows[] = {
    {.name = "admin_token",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, api.admin_token),
     .min = 16,
     .flags = OG_CFG_REQUIRED | OG_CFG_SECRET,
     .help = "the admin bearer token of the REST API (at least 16 characters)"},
    {.name = "cors_origins",
     .type = OG_CFG_LIST,
     .offset = offsetof(struct og_config, api.cors_origins),
     .count = offsetof(struct og_config, api.n_cors_origins),
     .help = "origins (\"https://app.example.com\") whose pages may call the REST API and "
             "its event stream from a browser, with credentials; others get no CORS headers"},
    {0},
};

static const struct og_cfg_row metrics_rows[] = {
    {.name = "token",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, metrics.token),
     .min = 16,
     .flags = OG_CFG_SECRET,
     .def_doc = "none: /metrics is open",
     .help = "a bearer token /metrics requires (Prometheus: authorization credentials), at "
             "least 16 characters"},
    {0},
};

/* The event stream's retention (core/og_stream.h, docs/operations.md). */
static const struct og_cfg_row events_rows[] = {
    {.name = "retain_s",
     .type = OG_CFG_INT,
     .offset = offsetof(struct og_config, events.retain_s),
     .def = "3600",
     .min = 0,
     .max = 604800,
     .help = "events stay in the stream at least this long, whoever has read them, so a live "
             "client (SSE) can resume with Last-Event-ID; beyond it an event stays only while "
             "a consumer (webhooks, follow-ups) still owes it"},
    {.name = "max_bytes",
     .type = OG_CFG_INT,
     .offset = offsetof(struct og_config, events.max_bytes),
     .def = "268435456",
     .min = 65536,
     .max = 1099511627776.0,
     .help = "hard bound on the event stream's Redis memory (MEMORY USAGE); past it the oldest "
             "events go even when a consumer has not had them, and each webhook that loses "
             "events is marked lagging (logged, in /metrics and the API)"},
    {0},
};

static const struct og_cfg_row channel_rows[] = {
    {.name = "id",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config_channel, id),
     .max = 64,
     .flags = OG_CFG_REQUIRED,
     .chars = NAME_CHARS,
     .help = "unique; platforms call /hooks/<id>",
     .expect = "must be 1-64 characters of a-z, 0-9, _ and -",
     .check = check_channel_id},
    {.name = "connector",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config_channel, connector),
     .max = 64,
     .flags = OG_CFG_REQUIRED,
     .chars = NAME_CHARS,
     .help = "the connector plugin (<connector_dir>/<name>.so)",
     .expect = "must be a connector name (1-64 characters of a-z, 0-9, _ and -)"},
    {.name = "routing",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config_channel, routing),
     .def = "default",
     .flags = OG_CFG_NONEMPTY,
     .help = "the routing policy of the channel's sessions (a name under routing)"},
    {.name = "options",
     .type = OG_CFG_JSON,
     .offset = offsetof(struct og_config_channel, options),
     .help = "the connector's options: omnigate --connector-help <connector>"},
    {.name = "rate_limit_per_s",
     .type = OG_CFG_NUM,
     .offset = offsetof(struct og_config_channel, rate_limit_per_s),
     .def_doc = "the connector's rate",
     .min = 0.01,
     .max = 100000,
     .help = "sends per second to the platform"},
    {.name = "fetch_allow_hosts",
     .type = OG_CFG_LIST,
     .offset = offsetof(struct og_config_channel, fetch_allow_hosts),
     .count = offsetof(struct og_config_channel, n_fetch_allow_hosts),
     .max = 255,
     .flags = OG_CFG_UPPER,
     .chars = ".-:[]",
     .help = "hosts whose attachment URLs are fetched even at private or loopback addresses "
             "(omnigate refuses those otherwise)",
     .expect = "must be host names or addresses"},
    {.name = "texts",
     .type = OG_CFG_OBJECT,
     .offset = offsetof(struct og_config_channel, texts),
     .children = og_cfg_texts_rows,
     .check = og_cfg_texts_done,
     .help = "automatic texts sent to the customer as system messages (templates: "
             "{{contact.name}}, {{agent.name}}, ...)"},
    {.name = "goal",
     .type = OG_CFG_OBJECT,
     .offset = offsetof(struct og_config_channel, goal),
     .children = og_cfg_goal_rows,
     .help = "the channel's chat goal (PUT /api/v1/channels/{id}/goal sets it when the file "
             "does not)"},
    {.name = "csat",
     .type = OG_CFG_OBJECT,
     .offset = offsetof(struct og_config_channel, csat),
     .children = og_cfg_csat_rows,
     .check = og_cfg_csat_done,
     .help = "the satisfaction survey: in the web chat widget when the session closes, else as a "
             "message with the scale whose answer (\"4\", \"4/5\", stars, a thumb) is the "
             "rating; a rating is stored once per session; follow-up e-mails link to it with "
             "{{survey_url}}"},
    {.name = "store_raw",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config_channel, store_raw),
     .def_doc = "the top-level store_raw",
     .help = "the platform's raw payload of each inbound message (the webhook body as "
             "received), kept in Redis for debugging and replay: \"none\", a retention in "
             "hours (\"24h\"), or \"always\" (as long as the message); the API never "
             "returns it",
     .expect = "must be \"none\", \"always\" or hours from 1 to 87600 as \"<n>h\" "
               "(\"24h\")",
     .check = check_store_raw},
    {0},
};

/* The file's top level, in the order --config-help lists it. */
const struct og_cfg_row og_cfg_top_rows[] = {
    {.name = "listen",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, listen),
     .def = "127.0.0.1:8080",
     .help = "where the HTTP server listens: host:port, [v6]:port or :port (all interfaces)",
     .expect = "must be host:port with a port from 1 to 65535 "
               "(\"127.0.0.1:8080\", \"[::1]:8080\" or \":8080\")",
     .check = check_listen},
    {.name = "public_url",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, public_url),
     .def = "",
     .help = "how the world reaches this gateway (links in e-mails, attachment links), http:// or "
             "https://",
     .expect = "must be an http:// or https:// URL",
     .check = check_public_url},
    {.name = "webchat_demo",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, webchat_demo),
     .def = "",
     .help = "a web chat channel whose widget GET /webchat/demo shows on a demo page (\"\" = "
             "no demo page); for trying omnigate out, not for production"},
    {.name = "store_raw",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, store_raw),
     .def = "24h",
     .help = "the platform's raw payload of each inbound message (the webhook body as "
             "received), kept in Redis for debugging and replay: \"none\", a retention in "
             "hours (\"24h\"), or \"always\" (as long as the message); the API never "
             "returns it",
     .expect = "must be \"none\", \"always\" or hours from 1 to 87600 as \"<n>h\" "
               "(\"24h\")",
     .check = check_store_raw},
    {.name = "data_dir",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, data_dir),
     .def = "./var",
     .flags = OG_CFG_NONEMPTY,
     .help = "the embedded redis-server's home and the send queue's files"},
    {.name = "log_level",
     .type = OG_CFG_ENUM,
     .offset = offsetof(struct og_config, log_level),
     .def = "info",
     .choices = "error|warn|info|debug",
     .help = "the least severe level logged (SIGHUP applies a change)"},
    {.name = "log_file",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, log_file),
     .def_doc = "standard error",
     .flags = OG_CFG_NONEMPTY,
     .help = "the file the log is appended to; SIGHUP reopens it (after logrotate renamed it)"},
    {.name = "log_format",
     .type = OG_CFG_ENUM,
     .offset = offsetof(struct og_config, log_format),
     .def = "text",
     .choices = "text|json",
     .help = "text lines, or one JSON object per line (time, level, channel, request_id, msg; "
             "an API request's access line adds method, route, status, duration_ms, client)"},
    {.name = "connector_dir",
     .type = OG_CFG_STR,
     .offset = offsetof(struct og_config, connector_dir),
     .def_doc = "next to the binary",
     .flags = OG_CFG_NONEMPTY,
     .help = "where the connector .so files are (default ../lib/omnigate/connectors "
             "from the binary)"},
    {.name = "http",
     .type = OG_CFG_OBJECT,
     .children = http_rows,
     .check = check_http,
     .help = "the HTTP server"},
    {.name = "redis",
     .type = OG_CFG_OBJECT,
     .children = redis_rows,
     .check = check_redis,
     .help = "where the state is kept"},
    {.name = "api",
     .type = OG_CFG_OBJECT,
     .flags = OG_CFG_REQUIRED,
     .children = api_rows,
     .check = check_api,
     .help = "the REST API"},
    {.name = "metrics",
     .type = OG_CFG_OBJECT,
     .children = metrics_rows,
     .help = "the Prometheus endpoint /metrics"},
    {.name = "channels",
     .type = OG_CFG_ARRAY,
     .offset = offsetof(struct og_config, channels),
     .count = offsetof(struct og_config, n_channels),
     .size = sizeof(struct og_config_channel),
     .children = channel_rows,
     .check = channel_done,
     .help = "the channels: one per connector and platform account"},
    {.name = "webhooks",
     .type = OG_CFG_ARRAY,
     .offset = offsetof(struct og_config, webhooks),
     .count = offsetof(struct og_config, n_webhooks),
     .size = sizeof(struct og_webhook_sub),
     .flags = OG_CFG_EXTERNAL,
     .children = og_cfg_webhook_rows,
     .check = og_cfg_webhook_take,
     .release = og_cfg_webhook_release,
     .help = "outbound webhook subscriptions (more can be added through the API)"},
    {.name = "webhook_dispatch",
     .type = OG_CFG_OBJECT,
     .children = og_cfg_dispatch_rows,
     .help = "the webhook dispatcher"},
    {.name = "events",
     .type = OG_CFG_OBJECT,
     .children = events_rows,
     .help = "how long the event stream keeps events, and its memory bound"},
    {.name = "smtp",
     .type = OG_CFG_OBJECT,
     .flags = OG_CFG_VIA,
     .via = offsetof(struct og_config, followups),
     .children = og_cfg_smtp_rows,
     .check = og_cfg_smtp_seen,
     .help = "the SMTP server follow-up e-mails go through (optional; when it is there, "
             "its url and from are required)"},
    {.name = "followups",
     .type = OG_CFG_ARRAY,
     .flags = OG_CFG_VIA,
     .via = offsetof(struct og_config, followups),
     .offset = offsetof(struct og_config_followups, rules),
     .count = offsetof(struct og_config_followups, n_rules),
     .size = sizeof(struct og_config_followup),
     .children = og_cfg_followup_rows,
     .check = og_cfg_followup_done,
     .help = "e-mail follow-up rules (need smtp)"},
    {.name = "routing",
     .type = OG_CFG_MAP,
     .flags = OG_CFG_VIA,
     .via = offsetof(struct og_config, routing),
     .offset = offsetof(struct og_config_routing, policies),
     .def_doc = "one policy, \"default\": every agent, least_chats",
     .max = 64,
     .chars = NAME_CHARS,
     .expect = "a policy name must be 1-64 characters of a-z, 0-9, _ and -",
     .children = og_cfg_policy_rows,
     .check = og_cfg_policy_done,
     .help = "routing policies by name (channels[].routing names one)"},
    {.name = "agents",
     .type = OG_CFG_ARRAY,
     .flags = OG_CFG_VIA | OG_CFG_EXTERNAL,
     .via = offsetof(struct og_config, routing),
     .offset = offsetof(struct og_config_routing, agents),
     .count = offsetof(struct og_config_routing, n_agents),
     .size = sizeof(struct og_config_agent),
     .children = og_cfg_agent_rows,
     .check = og_cfg_agent_take,
     .release = og_cfg_agent_release,
     .help = "agents seeded at every start (upsert by e-mail; the file wins over API edits)"},
    {.name = "sessions",
     .type = OG_CFG_OBJECT,
     .flags = OG_CFG_VIA,
     .via = offsetof(struct og_config, routing),
     .children = og_cfg_sessions_rows,
     .help = "close rules, archiving, what going offline does"},
    {.name = "send",
     .type = OG_CFG_OBJECT,
     .children = og_cfg_send_rows,
     .help = "the durable send queue"},
    {.name = "media",
     .type = OG_CFG_OBJECT,
     .children = og_cfg_media_rows,
     .help = "the store of attachments' files (fetched from the platforms on first use, or "
             "uploaded) and the signed links to them"},
    {.name = "sensitive_words",
     .type = OG_CFG_OBJECT,
     .children = og_cfg_sensitive_rows,
     .check = og_cfg_sensitive_done,
     .help = "words that flag a message (case-, accent- and width-insensitive, whole words; "
             "GET /api/v1/flagged lists the flagged messages)"},
    {.name = "retention",
     .type = OG_CFG_OBJECT,
     .children = og_cfg_retention_rows,
     .help = "the session archive (files under data_dir, or objects in media.s3's bucket): "
             "when closed sessions leave Redis, where they go, when archived ones are "
             "deleted"},
    {0},
};

/* ------------------------------------------------------------- loading */

/* Everything a missing key falls back to, from the key table, so the struct
 * is complete even after errors. */
static void set_defaults(struct og_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->followups = og_calloc(1, sizeof *cfg->followups);
    cfg->routing = og_calloc(1, sizeof *cfg->routing);
    og_cfg_defaults(og_cfg_top_rows, cfg);
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
    og_cfg_walk(&l, og_cfg_top_rows, root, "", cfg);
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
    if (cfg->followups && cfg->routing) /* else never loaded, or freed already */
        og_cfg_release(og_cfg_top_rows, cfg);
    free(cfg->followups);
    free(cfg->routing);
    json_object_put(cfg->root);
    memset(cfg, 0, sizeof *cfg);
}

/* The rows that reach into a section held by pointer (their via), released
 * through a config that holds only that section. */
void og_cfg_section_release(size_t via, void *section)
{
    struct og_config tmp;
    memset(&tmp, 0, sizeof tmp);
    memcpy((char *)&tmp + via, &section, sizeof section);
    for (const struct og_cfg_row *r = og_cfg_top_rows; r->name; r++)
        if ((r->flags & OG_CFG_VIA) && r->via == via)
            og_cfg_release_row(r, &tmp);
}
