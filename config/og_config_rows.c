/* og_config_rows.c - the engine that reads the configuration through its key
 * table (struct og_cfg_row, og_config_int.h): defaults, validation, storing,
 * freeing. The tables themselves are in og_config.c and og_config_<section>.c.
 *
 * Messages are fixed per kind of problem, so every key says the same thing
 * for the same mistake: "must be a string", "must be an integer", "must be
 * between 1 and 256", "must be true or false", "must be one of a, b, c",
 * "unknown key", "required". A row's expect replaces the message for values
 * that fail its allowed characters, its choices or its check hook.
 *
 * Values are never echoed: a wrong secret must not end up in a log. */
#include "og_config_int.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- locations */

/* The struct a row's offsets are relative to, after its VIA pointer. */
static char *level_base(const struct og_cfg_row *row, void *base)
{
    char *b = base;
    if (b && (row->flags & OG_CFG_VIA))
        memcpy(&b, (char *)base + row->via, sizeof b);
    return b;
}

void *og_cfg_slot(const struct og_cfg_row *row, void *base)
{
    char *b = level_base(row, base);
    return b ? b + row->offset : NULL;
}

static size_t *count_slot(const struct og_cfg_row *row, void *base)
{
    char *b = level_base(row, base);
    return b ? (size_t *)(void *)(b + row->count) : NULL;
}

const struct og_cfg_row *og_cfg_find(const struct og_cfg_row *rows, const char *name)
{
    for (const struct og_cfg_row *r = rows; r->name; r++)
        if (strcmp(r->name, name) == 0)
            return r;
    return NULL;
}

/* ---------------------------------------------------------------- defaults */

void og_cfg_defaults(const struct og_cfg_row *rows, void *base)
{
    for (const struct og_cfg_row *r = rows; r->name; r++) {
        void *slot = og_cfg_slot(r, base);
        if (r->type == OG_CFG_OBJECT) {
            og_cfg_defaults(r->children, slot);
            continue;
        }
        if (!r->def)
            continue;
        switch (r->type) {
        case OG_CFG_STR:
        case OG_CFG_ENUM: og_cfg_replace(slot, r->def); break;
        case OG_CFG_INT: {
            int64_t x = strtoll(r->def, NULL, 10);
            memcpy(slot, &x, sizeof x);
            break;
        }
        case OG_CFG_BOOL: {
            int x = strcmp(r->def, "true") == 0;
            memcpy(slot, &x, sizeof x);
            break;
        }
        case OG_CFG_NUM: {
            double x = strtod(r->def, NULL);
            memcpy(slot, &x, sizeof x);
            break;
        }
        default: break; /* lists, arrays and JSON start empty */
        }
    }
}

/* ----------------------------------------------------------------- freeing */

static void release_array(const struct og_cfg_row *r, void *base)
{
    char *elems;
    size_t *n = count_slot(r, base);
    memcpy(&elems, og_cfg_slot(r, base), sizeof elems);
    for (size_t i = 0; elems && i < *n; i++) {
        if (r->flags & OG_CFG_EXTERNAL)
            r->release(elems + i * r->size);
        else
            og_cfg_release(r->children, elems + i * r->size);
    }
    free(elems);
    elems = NULL;
    memcpy(og_cfg_slot(r, base), &elems, sizeof elems);
    *n = 0;
}

void og_cfg_release_row(const struct og_cfg_row *r, void *base)
{
    void *slot = og_cfg_slot(r, base), *p;
    switch (r->type) {
    case OG_CFG_OBJECT: og_cfg_release(r->children, slot); return;
    case OG_CFG_ARRAY:
        if (r->size)
            release_array(r, base);
        return;
    case OG_CFG_INT:
    case OG_CFG_BOOL:
    case OG_CFG_NUM: return; /* numbers own nothing */
    default: break;          /* the rest hold a pointer */
    }
    memcpy(&p, slot, sizeof p);
    if (r->type == OG_CFG_LIST)
        for (size_t i = 0; p && i < *count_slot(r, base); i++)
            free(((char **)p)[i]);
    if (r->type == OG_CFG_JSON || r->type == OG_CFG_MAP)
        json_object_put(p);
    else
        free(p);
    p = NULL;
    memcpy(slot, &p, sizeof p);
    if (r->type == OG_CFG_LIST || r->type == OG_CFG_INT_LIST)
        *count_slot(r, base) = 0;
}

void og_cfg_release(const struct og_cfg_row *rows, void *base)
{
    for (const struct og_cfg_row *r = rows; r->name; r++)
        og_cfg_release_row(r, base);
}

/* ------------------------------------------------------------ small checks */

int og_cfg_expect(struct og_load *l, const struct og_cfg_row *row, const char *path)
{
    og_errors_add(l->errs, "%s: %s", path, row->expect ? row->expect : "invalid value");
    return -1;
}

static int is_object(struct og_load *l, json_object *v, const char *path)
{
    if (json_object_is_type(v, json_type_object))
        return 1;
    og_errors_add(l->errs, "%s: must be an object", path);
    return 0;
}

/* 1 when v is one of the '|'-separated words of choices. */
static int choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        size_t k = strcspn(p, "|");
        if (k == n && strncmp(p, v, n) == 0)
            return 1;
        p += k + (p[k] == '|');
    }
    return 0;
}

/* "must be one of a, b, c", or the row's own words. */
static void bad_choice(struct og_load *l, const struct og_cfg_row *row, const char *path)
{
    if (row->expect) {
        og_cfg_expect(l, row, path);
        return;
    }
    struct og_buf b = {0};
    for (const char *p = row->choices; *p; p++) {
        if (*p == '|')
            og_buf_puts(&b, ", ");
        else
            og_buf_append(&b, p, 1);
    }
    og_errors_add(l->errs, "%s: must be one of %s", path, b.data ? b.data : "");
    og_buf_free(&b);
}

/* A string element of a list, or a string value: checks in the order a
 * person would fix them. Returns the string [borrowed] or NULL. */
static const char *check_str(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                             const char *path, int nonempty)
{
    if (!json_object_is_type(v, json_type_string)) {
        og_errors_add(l->errs, "%s: must be a string", path);
        return NULL;
    }
    const char *s = json_object_get_string(v);
    if (nonempty && !*s) {
        og_errors_add(l->errs, "%s: must not be empty", path);
        return NULL;
    }
    if (row->chars &&
        !og_cfg_charset_ok(s, (size_t)row->max, row->chars, (row->flags & OG_CFG_UPPER) != 0)) {
        og_cfg_expect(l, row, path);
        return NULL;
    }
    if (row->choices && !choice_ok(row->choices, s)) {
        bad_choice(l, row, path);
        return NULL;
    }
    if (row->min > 0 && strlen(s) < (size_t)row->min) {
        og_errors_add(l->errs, "%s: must be at least %lld characters", path, (long long)row->min);
        return NULL;
    }
    return s;
}

/* An integer in the row's range; 1.0 and "1" are refused, as a typo guard
 * (a "${NAME}" from the environment was converted before). */
static int check_int(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                     const char *path, int64_t *out)
{
    if (!json_object_is_type(v, json_type_int)) {
        og_errors_add(l->errs, "%s: must be an integer", path);
        return -1;
    }
    /* json-c keeps integers above INT64_MAX as uint64; get_int64 clamps them. */
    int64_t x = json_object_get_int64(v);
    if ((double)x < row->min || (double)x > row->max) {
        og_errors_add(l->errs, "%s: must be between %lld and %lld", path, (long long)row->min,
                      (long long)row->max);
        return -1;
    }
    *out = x;
    return 0;
}

static int check_num(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                     const char *path, double *out)
{
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
        og_errors_add(l->errs, "%s: must be a number", path);
        return -1;
    }
    double d = json_object_get_double(v);
    if (!(d >= row->min && d <= row->max)) {
        og_errors_add(l->errs, "%s: must be from %g to %g", path, row->min, row->max);
        return -1;
    }
    *out = d;
    return 0;
}

/* ------------------------------------------------------ ${ENV} conversion */

static json_object *converted(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                              const char *path, int *failed)
{
    enum json_type want = row->type == OG_CFG_INT || row->type == OG_CFG_INT_LIST ? json_type_int
                          : row->type == OG_CFG_BOOL ? json_type_boolean
                          : row->type == OG_CFG_NUM  ? json_type_double
                                                     : json_type_string;
    if (want == json_type_string || !og_options_env_text(v))
        return NULL;
    char err[160];
    json_object *nv = og_options_env_value(v, want, err, sizeof err);
    if (!nv) {
        og_errors_add(l->errs, "%s: %s", path, err);
        *failed = 1;
    }
    return nv;
}

int og_cfg_typed(struct og_load *l, const struct og_cfg_row *row, json_object *obj, const char *key,
                 json_object **v, const char *path)
{
    int failed = 0;
    json_object *nv = converted(l, row, *v, path, &failed);
    if (failed)
        return -1;
    if (nv) {
        json_object_object_add(obj, key, nv); /* replaces (and puts) *v in place */
        *v = nv;
    }
    return 0;
}

/* The elements of an integer list, converted in place. -1 after a failure. */
static int typed_elements(struct og_load *l, const struct og_cfg_row *row, json_object *arr,
                          const char *path)
{
    int failed = 0;
    for (size_t i = 0;
         json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr); i++) {
        char *ep = og_cfg_path_index(path, i);
        json_object *nv = converted(l, row, json_object_array_get_idx(arr, i), ep, &failed);
        if (nv)
            json_object_array_put_idx(arr, i, nv);
        free(ep);
    }
    return failed ? -1 : 0;
}

/* Converts the substituted values of obj's keys to their rows' types, for
 * objects a parser outside the engine reads. -1 after a failure. */
static int typed_keys(struct og_load *l, const struct og_cfg_row *rows, json_object *obj,
                      const char *path)
{
    int rc = 0;
    json_object_object_foreach(obj, k, v)
    {
        const struct og_cfg_row *r = og_cfg_find(rows, k);
        if (!r)
            continue;
        char *p = og_cfg_path_key(path, k);
        if (r->type == OG_CFG_INT_LIST)
            rc |= typed_elements(l, r, v, p);
        else if (r->type == OG_CFG_OBJECT && json_object_is_type(v, json_type_object))
            rc |= typed_keys(l, r->children, v, p);
        else if (og_cfg_typed(l, r, obj, k, &v, p) != 0)
            rc = -1;
        free(p);
    }
    return rc;
}

/* ------------------------------------------------------------------ values */

/* Lists keep their good elements, so a list with one bad element still
 * says everything else that is wrong with it. */
static int take_list(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                     const char *path, void *base)
{
    int ints = row->type == OG_CFG_INT_LIST;
    if (!json_object_is_type(v, json_type_array)) {
        og_errors_add(l->errs, "%s: must be an array of %s", path, ints ? "integers" : "strings");
        return -1;
    }
    if (ints && typed_elements(l, row, v, path) != 0)
        return -1;
    size_t n = json_object_array_length(v), k = 0;
    void *slot = og_cfg_slot(row, base);
    char **strs = slot && n && !ints ? og_calloc(n, sizeof *strs) : NULL;
    int64_t *nums = slot && n && ints ? og_calloc(n, sizeof *nums) : NULL;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char *ep = og_cfg_path_index(path, i);
        json_object *e = json_object_array_get_idx(v, i);
        int64_t x = 0;
        const char *s = NULL;
        if (ints ? check_int(l, row, e, ep, &x) != 0 : !(s = check_str(l, row, e, ep, 1)))
            rc = -1;
        else if (strs)
            strs[k++] = og_strdup(s);
        else if (nums)
            nums[k++] = x;
        free(ep);
    }
    if (slot) {
        og_cfg_release_row(row, base);
        void *p = ints ? (void *)nums : (void *)strs;
        memcpy(slot, &p, sizeof p);
        *count_slot(row, base) = k;
    }
    return rc;
}

/* A reference to v at slot, in place of the one there. */
static void keep_json(void *slot, json_object *v)
{
    json_object *old;
    if (!slot)
        return;
    memcpy(&old, slot, sizeof old);
    json_object_put(old);
    old = json_object_get(v);
    memcpy(slot, &old, sizeof old);
}

static void store(const struct og_cfg_row *row, json_object *v, void *slot)
{
    if (!slot)
        return;
    switch (row->type) {
    case OG_CFG_STR:
    case OG_CFG_ENUM: og_cfg_replace(slot, json_object_get_string(v)); return;
    case OG_CFG_INT: {
        int64_t x = json_object_get_int64(v);
        memcpy(slot, &x, sizeof x);
        return;
    }
    case OG_CFG_BOOL: {
        int x = json_object_get_boolean(v);
        memcpy(slot, &x, sizeof x);
        return;
    }
    case OG_CFG_NUM: {
        double x = json_object_get_double(v);
        memcpy(slot, &x, sizeof x);
        return;
    }
    case OG_CFG_JSON: keep_json(slot, v); return;
    default: return;
    }
}

int og_cfg_value(struct og_load *l, const struct og_cfg_row *row, json_object *v, const char *path,
                 void *base)
{
    if (row->flags & OG_CFG_RAW)
        return row->check(l, row, v, path, base) < 0 ? -1 : 0;
    int bad = 0;
    int64_t x;
    double d;
    switch (row->type) {
    case OG_CFG_STR:
    case OG_CFG_ENUM: bad = !check_str(l, row, v, path, (row->flags & OG_CFG_NONEMPTY) != 0); break;
    case OG_CFG_INT: bad = check_int(l, row, v, path, &x) != 0; break;
    case OG_CFG_NUM: bad = check_num(l, row, v, path, &d) != 0; break;
    case OG_CFG_BOOL:
        if (!json_object_is_type(v, json_type_boolean)) {
            og_errors_add(l->errs, "%s: must be true or false", path);
            bad = 1;
        }
        break;
    case OG_CFG_JSON: bad = !is_object(l, v, path); break;
    case OG_CFG_LIST:
    case OG_CFG_INT_LIST: return take_list(l, row, v, path, base);
    default: return -1; /* objects, arrays and maps go through og_cfg_walk */
    }
    if (bad)
        return -1;
    int h = row->check ? row->check(l, row, v, path, base) : 0;
    if (h < 0)
        return -1;
    if (h == 0)
        store(row, v, og_cfg_slot(row, base));
    return 0;
}

/* ------------------------------------------------------- objects, arrays */

static void take_array(struct og_load *l, const struct og_cfg_row *r, json_object *v,
                       const char *path, void *base)
{
    if (!json_object_is_type(v, json_type_array) ||
        (r->min > 0 && json_object_array_length(v) == 0)) {
        og_errors_add(l->errs, "%s: must be %s", path,
                      r->min > 0 ? "a non-empty array" : "an array");
        return;
    }
    size_t n = json_object_array_length(v);
    char *elems = NULL;
    if (base && r->size) {
        release_array(r, base);
        elems = n ? og_calloc(n, r->size) : NULL;
        memcpy(og_cfg_slot(r, base), &elems, sizeof elems);
        /* An external parser appends what it accepts; the engine keeps
         * every element, so channels[i] in the struct is channels[i] in
         * the file and in messages. */
        *count_slot(r, base) = (r->flags & OG_CFG_EXTERNAL) ? 0 : n;
    }
    for (size_t i = 0; i < n; i++) {
        char *ep = og_cfg_path_index(path, i);
        json_object *e = json_object_array_get_idx(v, i);
        void *elem = elems ? elems + i * r->size : NULL;
        if (r->flags & OG_CFG_EXTERNAL) {
            /* a value that did not convert was named; the parser would only
             * say again that it has the wrong type */
            if (is_object(l, e, ep) && typed_keys(l, r->children, e, ep) == 0)
                r->check(l, r, e, ep, level_base(r, base));
        } else {
            if (elem)
                og_cfg_defaults(r->children, elem);
            if (is_object(l, e, ep))
                og_cfg_walk(l, r->children, e, ep, elem);
            if (r->check)
                r->check(l, r, e, ep, elem);
        }
        free(ep);
    }
}

/* Entries are validated only; the whole object is kept as JSON. */
static void take_map(struct og_load *l, const struct og_cfg_row *r, json_object *v,
                     const char *path, void *base)
{
    if (!is_object(l, v, path))
        return;
    json_object_object_foreach(v, name, entry)
    {
        char *p = og_cfg_path_key(path, name);
        if (r->chars &&
            !og_cfg_charset_ok(name, (size_t)r->max, r->chars, (r->flags & OG_CFG_UPPER) != 0))
            og_cfg_expect(l, r, p);
        else if (is_object(l, entry, p)) {
            og_cfg_walk(l, r->children, entry, p, NULL);
            if (r->check)
                r->check(l, r, entry, p, NULL);
        }
        free(p);
    }
    keep_json(og_cfg_slot(r, base), v);
}

static void take(struct og_load *l, const struct og_cfg_row *r, json_object *obj, const char *key,
                 json_object *v, const char *path, void *base)
{
    switch (r->type) {
    case OG_CFG_OBJECT:
        if (!is_object(l, v, path))
            return;
        og_cfg_walk(l, r->children, v, path, og_cfg_slot(r, base));
        if (r->check)
            r->check(l, r, v, path, og_cfg_slot(r, base));
        return;
    case OG_CFG_ARRAY: take_array(l, r, v, path, base); return;
    case OG_CFG_MAP: take_map(l, r, v, path, base); return;
    default:
        if (og_cfg_typed(l, r, obj, key, &v, path) == 0)
            og_cfg_value(l, r, v, path, base);
        return;
    }
}

/* A required object that is missing reports its required keys: writing
 * those is what fixes it ("api.admin_token: required"). */
static void report_missing(struct og_load *l, const struct og_cfg_row *r, const char *path)
{
    if (!(r->flags & OG_CFG_REQUIRED))
        return;
    char *p = og_cfg_path_key(path, r->name);
    if (r->type == OG_CFG_OBJECT) {
        for (const struct og_cfg_row *c = r->children; c->name; c++)
            report_missing(l, c, p);
    } else {
        og_errors_add(l->errs, "%s: required", p);
    }
    free(p);
}

void og_cfg_unknown_keys(struct og_load *l, const struct og_cfg_row *rows, json_object *obj,
                         const char *path)
{
    json_object_object_foreach(obj, k, v)
    {
        (void)v;
        if (og_cfg_find(rows, k))
            continue;
        char *p = og_cfg_path_key(path, k);
        og_errors_add(l->errs, "%s: unknown key", p);
        free(p);
    }
}

/* Keys in file order, so errors come out in the order a person reads the
 * file; then the required keys that are missing, in table order. */
void og_cfg_walk(struct og_load *l, const struct og_cfg_row *rows, json_object *obj,
                 const char *path, void *base)
{
    json_object_object_foreach(obj, k, v)
    {
        char *p = og_cfg_path_key(path, k);
        const struct og_cfg_row *r = og_cfg_find(rows, k);
        if (r)
            take(l, r, obj, k, v, p, base);
        else
            og_errors_add(l->errs, "%s: unknown key", p);
        free(p);
    }
    for (const struct og_cfg_row *r = rows; r->name; r++)
        if (!json_object_object_get_ex(obj, r->name, NULL))
            report_missing(l, r, path);
}

/* ----------------------------------------------------------------- helpers */

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
