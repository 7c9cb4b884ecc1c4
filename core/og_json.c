/* og_json - the JSON part of the services table: a thin veneer over json-c
 * so plugins link nothing. struct og_json is json_object underneath. */
#include "og_json.h"
#include "og_util.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define J(x) ((json_object *)(x))

static long nul_escape(const char *buf, size_t len);
static long duplicate_key(const char *buf, size_t end, json_object *root);

/* A tokener per thread, reset for each parse: json_tokener_new allocates
 * its state (the depth stack, a print buffer) every time, ~3% of the
 * gateway's CPU in bench_ingest (#22). Freed when its thread ends. A large
 * input gets a tokener of its own: the print buffer grows to the longest
 * string parsed, and a thread should not keep that. */
enum { TOK_KEEP_MAX = 64 * 1024 };
static pthread_key_t tok_key;
static pthread_once_t tok_once = PTHREAD_ONCE_INIT;
static void tok_free(void *t)
{
    json_tokener_free(t);
}
static void tok_init(void)
{
    pthread_key_create(&tok_key, tok_free);
}

static json_tokener *tok_take(size_t len)
{
    if (len > TOK_KEEP_MAX)
        return json_tokener_new_ex(OG_JSON_MAX_DEPTH);
    pthread_once(&tok_once, tok_init);
    json_tokener *t = pthread_getspecific(tok_key);
    if (t) {
        json_tokener_reset(t);
        return t;
    }
    t = json_tokener_new_ex(OG_JSON_MAX_DEPTH);
    if (t && pthread_setspecific(tok_key, t) != 0) {
        json_tokener_free(t);
        t = NULL;
    }
    return t;
}

static void tok_give(json_tokener *t, size_t len)
{
    if (len > TOK_KEEP_MAX)
        json_tokener_free(t);
}

json_object *og_json_parse_strict(const char *buf, size_t len, unsigned flags,
                                  struct og_json_error *err)
{
    struct og_json_error dummy;
    if (!err)
        err = &dummy;
    err->offset = 0;
    err->what = NULL;
    if (!buf || len > (size_t)0x7fffffff) {
        err->what = "input too large";
        return NULL;
    }
    const char *nul = memchr(buf, 0, len);
    if (nul) {
        err->offset = (size_t)(nul - buf);
        err->what = "NUL byte";
        return NULL;
    }
    size_t skip =
        (flags & OG_JSON_ALLOW_BOM) && len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3) ? 3 : 0;
    json_tokener *tok = tok_take(len);
    if (!tok) {
        err->what = "out of memory";
        return NULL;
    }
    /* Trailing data is allowed here only to be reported below in plainer
     * words than json-c's "unexpected character". */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                    ((flags & OG_JSON_UTF8) ? JSON_TOKENER_VALIDATE_UTF8 : 0));
    json_object *o = json_tokener_parse_ex(tok, buf + skip, (int)(len - skip));
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = skip + json_tokener_get_parse_end(tok);
    if (!o && e == json_tokener_continue) {
        /* A bare number at the top level is only complete once the tokener
         * sees the end of the input, which a NUL byte signals. */
        o = json_tokener_parse_ex(tok, "", 1);
        e = json_tokener_get_error(tok);
        if (!o && (e == json_tokener_continue || e == json_tokener_error_parse_eof)) {
            tok_give(tok, len);
            err->offset = len;
            err->what = "unexpected end of input";
            return NULL;
        }
    }
    tok_give(tok, len);
    if (!o) {
        /* The parse end is the offset of the character that was refused. */
        err->offset = end;
        err->what = json_tokener_error_desc(e);
        return NULL;
    }
    /* json-c's strict mode still takes 'single-quoted' strings. Outside
     * double-quoted strings a quote can only be one of those (a text
     * without any is not scanned). */
    int in_str = 0;
    for (size_t i = memchr(buf + skip, '\'', end - skip) ? skip : end; i < end; i++) {
        if (in_str && buf[i] == '\\')
            i++;
        else if (buf[i] == '"')
            in_str = !in_str;
        else if (!in_str && buf[i] == '\'') {
            json_object_put(o);
            err->offset = i;
            err->what = "strings must be in double quotes";
            return NULL;
        }
    }
    for (size_t i = end; i < len; i++)
        if (!strchr(" \t\r\n", buf[i])) {
            json_object_put(o);
            err->offset = i;
            err->what = "unexpected data after the top-level value";
            return NULL;
        }
    long at = nul_escape(buf + skip, end - skip);
    if (at >= 0) {
        json_object_put(o);
        err->offset = skip + (size_t)at;
        err->what = "a string holds a NUL character (\\u0000)";
        return NULL;
    }
    at = duplicate_key(buf + skip, end - skip, o);
    if (at >= 0) {
        json_object_put(o);
        err->offset = skip + (size_t)at;
        err->what = "an object has the same key twice";
        return NULL;
    }
    return o;
}

/* The offset of the first "\u0000" escape in JSON text (only strings hold
 * escapes), or -1. A NUL would cut the string short wherever C reads it
 * ("a\u0000b" taken for "a"), so it is refused instead. */
static long nul_escape(const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2) { /* past the escape and its character */
        const char *b = memchr(buf + i, '\\', len - 1 - i);
        if (!b)
            break;
        i = (size_t)(b - buf);
        if (buf[i + 1] == 'u' && i + 5 < len && memcmp(buf + i + 2, "0000", 4) == 0)
            return (long)i;
    }
    return -1;
}

/* Duplicate keys: json-c keeps the last, so {"a":1,"a":2} would read as
 * {"a":2}, and two readers could disagree about one document. The text's
 * objects, in the order their braces open, are the tree's objects in
 * depth-first pre-order; an object whose text has more keys than json-c
 * kept had a duplicate. Returns the offset of its opening brace, or -1.
 * The text is known to be valid JSON here. */
struct dup_scan {
    size_t *keys, *at; /* per object: keys seen, offset of its brace */
    size_t n, cap;
};

/* The offset of the quote that closes the string whose text starts at i (or
 * end): the first quote after an even run of backslashes. */
static size_t string_end(const char *buf, size_t i, size_t end)
{
    while (i < end) {
        const char *q = memchr(buf + i, '"', end - i);
        if (!q)
            return end;
        size_t j = (size_t)(q - buf), bs = 0;
        while (j - bs > i && buf[j - 1 - bs] == '\\')
            bs++;
        if (bs % 2 == 0)
            return j;
        i = j + 1;
    }
    return end;
}

static void dup_scan_text(const char *buf, size_t end, struct dup_scan *d)
{
    char stack[OG_JSON_MAX_DEPTH + 2];
    size_t open[OG_JSON_MAX_DEPTH + 2];
    int depth = 0;
    char prev = 0; /* the last significant character outside strings */
    for (size_t i = 0; i < end; i++) {
        char ch = buf[i];
        if (ch == '"') {
            if (depth > 0 && stack[depth - 1] == '{' && (prev == '{' || prev == ','))
                d->keys[open[depth - 1]]++;
            i = string_end(buf, i + 1, end);
            prev = '"';
        } else if (ch == '{' || ch == '[') {
            if (ch == '{') {
                if (d->n == d->cap) {
                    d->cap = d->cap ? 2 * d->cap : 16;
                    d->keys = og_realloc(d->keys, d->cap * sizeof *d->keys);
                    d->at = og_realloc(d->at, d->cap * sizeof *d->at);
                }
                d->keys[d->n] = 0;
                d->at[d->n] = i;
            }
            if (depth < OG_JSON_MAX_DEPTH + 1) {
                stack[depth] = ch;
                open[depth] = ch == '{' ? d->n : 0;
                depth++;
            }
            if (ch == '{')
                d->n++;
            prev = ch;
        } else if (ch == '}' || ch == ']') {
            if (depth > 0)
                depth--;
            prev = ch;
        } else if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') {
            prev = ch;
        }
    }
}

static long dup_walk(json_object *o, const struct dup_scan *d, size_t *k)
{
    if (json_object_is_type(o, json_type_object)) {
        size_t me = (*k)++;
        if (me < d->n && (size_t)json_object_object_length(o) < d->keys[me])
            return (long)d->at[me];
        json_object_object_foreach(o, key, v)
        {
            (void)key;
            long r = dup_walk(v, d, k);
            if (r >= 0)
                return r;
        }
    } else if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++) {
            long r = dup_walk(json_object_array_get_idx(o, i), d, k);
            if (r >= 0)
                return r;
        }
    }
    return -1;
}

static long duplicate_key(const char *buf, size_t end, json_object *root)
{
    struct dup_scan d = {0};
    dup_scan_text(buf, end, &d);
    size_t k = 0;
    long r = d.n ? dup_walk(root, &d, &k) : -1;
    free(d.keys);
    free(d.at);
    return r;
}

static struct og_json *jparse(const char *buf, size_t len)
{
    return (struct og_json *)og_json_parse_strict(buf, len, 0, NULL);
}

struct og_json *og_json_parse(const char *buf, size_t len)
{
    return jparse(buf, len);
}

static void jput(struct og_json *j)
{
    json_object_put(J(j));
}

static enum og_json_type jtype(const struct og_json *j)
{
    switch (json_object_get_type(J(j))) {
    case json_type_boolean: return OG_JSON_BOOL;
    case json_type_double: return OG_JSON_DOUBLE;
    case json_type_int: return OG_JSON_INT;
    case json_type_object: return OG_JSON_OBJECT;
    case json_type_array: return OG_JSON_ARRAY;
    case json_type_string: return OG_JSON_STRING;
    default: return OG_JSON_NULL;
    }
}

static struct og_json *jget(const struct og_json *obj, const char *key)
{
    json_object *v = NULL;
    if (!obj || !json_object_is_type(J(obj), json_type_object))
        return NULL;
    if (!json_object_object_get_ex(J(obj), key, &v))
        return NULL;
    return (struct og_json *)v;
}

static struct og_json *jat(const struct og_json *arr, size_t i)
{
    if (!arr || !json_object_is_type(J(arr), json_type_array))
        return NULL;
    if (i >= json_object_array_length(J(arr)))
        return NULL;
    return (struct og_json *)json_object_array_get_idx(J(arr), i);
}

static size_t jlen(const struct og_json *j)
{
    if (json_object_is_type(J(j), json_type_array))
        return json_object_array_length(J(j));
    if (json_object_is_type(J(j), json_type_object))
        return (size_t)json_object_object_length(J(j));
    return 0;
}

static struct og_json *jfind(const struct og_json *j, const char *path)
{
    char seg[128];
    const char *p = path;
    const struct og_json *cur = j;
    while (cur && *p) {
        size_t n = strcspn(p, ".");
        if (n == 0 || n >= sizeof seg)
            return NULL;
        memcpy(seg, p, n);
        seg[n] = 0;
        p += n;
        if (*p == '.')
            p++;
        if (json_object_is_type(J(cur), json_type_array)) {
            char *end;
            unsigned long idx = strtoul(seg, &end, 10);
            if (*end)
                return NULL;
            cur = jat(cur, idx);
        } else {
            cur = jget(cur, seg);
        }
    }
    return (struct og_json *)cur;
}

static const char *jstr(const struct og_json *j)
{
    switch (json_object_get_type(J(j))) {
    case json_type_string:
    case json_type_int:
    case json_type_double:
    case json_type_boolean: return json_object_get_string(J(j));
    default: return NULL;
    }
}

static int64_t jint64(const struct og_json *j)
{
    enum json_type t = json_object_get_type(J(j));
    if (t != json_type_int && t != json_type_double)
        return 0;
    return json_object_get_int64(J(j));
}

static double jdbl(const struct og_json *j)
{
    enum json_type t = json_object_get_type(J(j));
    if (t != json_type_int && t != json_type_double)
        return 0;
    return json_object_get_double(J(j));
}

static int jbool(const struct og_json *j)
{
    return j ? json_object_get_boolean(J(j)) : 0;
}

static const char *jkey_at(const struct og_json *obj, size_t i)
{
    if (!obj || !json_object_is_type(J(obj), json_type_object))
        return NULL;
    size_t k = 0;
    json_object_object_foreach(J(obj), key, val)
    {
        (void)val;
        if (k++ == i)
            return key;
    }
    return NULL;
}

static struct og_json *jnew_object(void)
{
    return (struct og_json *)json_object_new_object();
}
static struct og_json *jnew_array(void)
{
    return (struct og_json *)json_object_new_array();
}
static struct og_json *jnew_string(const char *s)
{
    return (struct og_json *)json_object_new_string(s ? s : "");
}
static struct og_json *jnew_int(int64_t v)
{
    return (struct og_json *)json_object_new_int64(v);
}
static struct og_json *jnew_double(double v)
{
    return (struct og_json *)json_object_new_double(v);
}
static struct og_json *jnew_bool(int v)
{
    return (struct og_json *)json_object_new_boolean(v);
}
static void jset(struct og_json *obj, const char *key, struct og_json *val)
{
    json_object_object_add(J(obj), key, J(val));
}
static void jappend(struct og_json *arr, struct og_json *val)
{
    json_object_array_add(J(arr), J(val));
}
static const char *jserialize(struct og_json *j, size_t *len)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        J(j), JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (len)
        *len = n;
    return s;
}

const struct og_json_api og_json_api = {
    .struct_size = sizeof(struct og_json_api),
    .parse = jparse,
    .put = jput,
    .type = jtype,
    .get = jget,
    .at = jat,
    .len = jlen,
    .find = jfind,
    .str = jstr,
    .int64 = jint64,
    .dbl = jdbl,
    .boolean = jbool,
    .key_at = jkey_at,
    .new_object = jnew_object,
    .new_array = jnew_array,
    .new_string = jnew_string,
    .new_int = jnew_int,
    .new_double = jnew_double,
    .new_bool = jnew_bool,
    .set = jset,
    .append = jappend,
    .serialize = jserialize,
};
