/* og_json - the JSON part of the services table: a thin veneer over json-c
 * so plugins link nothing. struct og_json is json_object underneath. */
#include "og_json.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#define J(x) ((json_object *)(x))

static struct og_json *jparse(const char *buf, size_t len)
{
    if (!buf || len > (size_t)0x7fffffff)
        return NULL;
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    /* Trailing bytes after the value (other than whitespace) are an error. */
    size_t off = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (e != json_tokener_success) {
        json_object_put(o);
        return NULL;
    }
    for (; off < len; off++) {
        char c = buf[off];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
            json_object_put(o);
            return NULL;
        }
    }
    return (struct og_json *)o;
}

struct og_json *og_json_parse(const char *buf, size_t len) { return jparse(buf, len); }

static void jput(struct og_json *j) { json_object_put(J(j)); }

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
    case json_type_boolean:
        return json_object_get_string(J(j));
    default:
        return NULL;
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

static int jbool(const struct og_json *j) { return j ? json_object_get_boolean(J(j)) : 0; }

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

static struct og_json *jnew_object(void) { return (struct og_json *)json_object_new_object(); }
static struct og_json *jnew_array(void) { return (struct og_json *)json_object_new_array(); }
static struct og_json *jnew_string(const char *s)
{
    return (struct og_json *)json_object_new_string(s ? s : "");
}
static struct og_json *jnew_int(int64_t v) { return (struct og_json *)json_object_new_int64(v); }
static struct og_json *jnew_double(double v)
{
    return (struct og_json *)json_object_new_double(v);
}
static struct og_json *jnew_bool(int v) { return (struct og_json *)json_object_new_boolean(v); }
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
