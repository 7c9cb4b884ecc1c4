/* og_plugin - see og_plugin.h. */
#include "og_plugin.h"
#include "og_fetch.h"
#include "og_util.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void og_errors_add(struct og_errors *e, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    e->items = og_realloc(e->items, (e->n + 1) * sizeof *e->items);
    e->items[e->n++] = og_strdup(buf);
}

void og_errors_free(struct og_errors *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->items[i]);
    free(e->items);
    e->items = NULL;
    e->n = 0;
}

static struct og_plugin *refuse(void *dl, char *errbuf, size_t errlen, const char *path,
                                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static struct og_plugin *refuse(void *dl, char *errbuf, size_t errlen, const char *path,
                                const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(errbuf, errlen, "connector %s refused: %s", path, why);
    if (dl)
        dlclose(dl);
    return NULL;
}

/* The 1.0 descriptor ended with messaging_window_ms. */
#define OG_CONNECTOR_SIZE_1_0 (offsetof(struct og_connector, messaging_window_ms) + sizeof(int64_t))

/* The host reads a copy of the plugin's descriptor that has every field of
 * our minor: what the plugin's struct_size covers comes from the plugin, the
 * rest gets the documented default, so no reader needs to know minors. */
static const struct og_connector *desc_complete(struct og_plugin *p, const struct og_connector *c)
{
    memset(&p->full, 0, sizeof p->full);
    memcpy(&p->full, c, c->struct_size);
    if (c->struct_size < offsetof(struct og_connector, caps) + sizeof c->caps)
        p->full.caps = OG_CAPS_1_0_DEFAULT;
    if (!(p->full.default_rate_per_s > 0))
        p->full.default_rate_per_s = OG_DEFAULT_RATE_PER_S;
    return &p->full;
}

struct og_plugin *og_plugin_load(const char *path, char *errbuf, size_t errlen)
{
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl)
        return refuse(NULL, errbuf, errlen, path, "cannot load: %s", dlerror());
    const struct og_connector *(*entry)(void) = NULL;
    *(void **)&entry = dlsym(dl, OG_CONNECTOR_ENTRY_SYMBOL);
    if (!entry)
        return refuse(dl, errbuf, errlen, path, "no %s symbol", OG_CONNECTOR_ENTRY_SYMBOL);
    const struct og_connector *c = entry();
    if (!c)
        return refuse(dl, errbuf, errlen, path, "%s returned NULL", OG_CONNECTOR_ENTRY_SYMBOL);
    if (c->abi_major != OG_CONNECTOR_ABI_MAJOR)
        return refuse(dl, errbuf, errlen, path, "ABI major version %u, this omnigate speaks %u",
                      c->abi_major, OG_CONNECTOR_ABI_MAJOR);
    if (c->abi_minor > OG_CONNECTOR_ABI_MINOR)
        return refuse(dl, errbuf, errlen, path,
                      "built for ABI %u.%u, newer than this omnigate's %u.%u", c->abi_major,
                      c->abi_minor, OG_CONNECTOR_ABI_MAJOR, OG_CONNECTOR_ABI_MINOR);
    /* A plugin of our minor has exactly our layout; an older minor has a
     * prefix of it, at least the 1.0 layout. */
    size_t want_lo = c->abi_minor == OG_CONNECTOR_ABI_MINOR ? sizeof(struct og_connector)
                                                            : OG_CONNECTOR_SIZE_1_0;
    if (c->struct_size < want_lo || c->struct_size > sizeof(struct og_connector))
        return refuse(dl, errbuf, errlen, path,
                      "descriptor size %zu does not match ABI %u.%u (expected %zu)", c->struct_size,
                      c->abi_major, c->abi_minor,
                      c->abi_minor == OG_CONNECTOR_ABI_MINOR ? sizeof(struct og_connector)
                                                             : (size_t)OG_CONNECTOR_SIZE_1_0);
    /* 1.2: a plugin with visitor routes needs neither a webhook nor a poll */
    int visitor = c->struct_size >=
                      offsetof(struct og_connector, handle_visitor) + sizeof c->handle_visitor &&
                  c->handle_visitor;
    const char *missing = !c->name      ? "name"
                          : !c->options ? "options"
                          : !c->create  ? "create"
                          : !c->destroy ? "destroy"
                          : !c->send    ? "send"
                          : (!c->handle_http && !c->poll && !visitor)
                              ? "handle_http, poll or handle_visitor"
                              : NULL;
    if (missing)
        return refuse(dl, errbuf, errlen, path, "mandatory field '%s' is not set", missing);
    for (const struct og_option *o = c->options; o->name; o++)
        if (o->offset >= c->conf_size)
            return refuse(dl, errbuf, errlen, path, "option '%s' lies outside conf_size", o->name);
    struct og_plugin *p = og_calloc(1, sizeof *p);
    p->path = og_strdup(path);
    p->dl = dl;
    p->desc = desc_complete(p, c);
    return p;
}

void og_plugin_unload(struct og_plugin *p)
{
    if (!p)
        return;
        /* Sanitizer builds keep the object mapped so leak reports can name
         * plugin frames; the memory is the same either way. */
#if !defined(__SANITIZE_ADDRESS__)
    dlclose(p->dl);
#endif
    free(p->path);
    free(p);
}

char *og_plugin_default_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return og_strdup("lib/omnigate/connectors");
    exe[n] = 0;
    return og_sprintf("%s/../lib/omnigate/connectors", dirname(exe));
}

struct og_plugin *og_plugin_load_by_name(const char *dir, const char *name, char *errbuf,
                                         size_t errlen)
{
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')) {
            snprintf(errbuf, errlen, "unknown connector '%s'", name);
            return NULL;
        }
    char *path = og_sprintf("%s/%s.so", dir, name);
    if (access(path, F_OK) != 0) {
        snprintf(errbuf, errlen, "unknown connector '%s' (no %s)", name, path);
        free(path);
        return NULL;
    }
    struct og_plugin *p = og_plugin_load(path, errbuf, errlen);
    if (p && strcmp(p->desc->name, name) != 0) {
        snprintf(errbuf, errlen, "connector %s refused: it calls itself '%s'", path, p->desc->name);
        og_plugin_unload(p);
        p = NULL;
    }
    free(path);
    return p;
}

struct og_plugin *og_plugin_registry_get(struct og_plugin_registry *reg, const char *dir,
                                         const char *name, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < reg->n; i++)
        if (strcmp(reg->p[i]->desc->name, name) == 0)
            return reg->p[i];
    struct og_plugin *p = og_plugin_load_by_name(dir, name, errbuf, errlen);
    if (p) {
        reg->p = og_realloc(reg->p, (reg->n + 1) * sizeof *reg->p);
        reg->p[reg->n++] = p;
    }
    return p;
}

void og_plugin_registry_free(struct og_plugin_registry *reg)
{
    for (size_t i = 0; i < reg->n; i++)
        og_plugin_unload(reg->p[i]);
    free(reg->p);
    reg->p = NULL;
    reg->n = 0;
}

static int enum_has(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; p && *p;) {
        size_t k = strcspn(p, "|");
        if (k == n && strncmp(p, v, n) == 0)
            return 1;
        p += k;
        if (*p == '|')
            p++;
    }
    return 0;
}

static const char *type_name(enum og_opt_type t)
{
    switch (t) {
    case OG_OPT_INT: return "an integer";
    case OG_OPT_BOOL: return "a boolean";
    case OG_OPT_URL: return "a URL string";
    default: return "a string";
    }
}

/* Stores one value (from JSON, or from the default text when v is NULL). */
static int store_value(const struct og_option *o, json_object *v, const char *deftext, void *conf,
                       const char *path, struct og_errors *errs)
{
    char *slot = (char *)conf + o->offset;
    switch (o->type) {
    case OG_OPT_INT: {
        int64_t x;
        if (v) {
            if (!json_object_is_type(v, json_type_int)) {
                og_errors_add(errs, "%s.%s: must be %s", path, o->name, type_name(o->type));
                return -1;
            }
            x = json_object_get_int64(v);
        } else {
            x = strtoll(deftext, NULL, 10);
        }
        memcpy(slot, &x, sizeof x);
        return 0;
    }
    case OG_OPT_BOOL: {
        int x;
        if (v) {
            if (!json_object_is_type(v, json_type_boolean)) {
                og_errors_add(errs, "%s.%s: must be %s", path, o->name, type_name(o->type));
                return -1;
            }
            x = json_object_get_boolean(v);
        } else {
            x = strcmp(deftext, "true") == 0;
        }
        memcpy(slot, &x, sizeof x);
        return 0;
    }
    default: {
        const char *s;
        if (v) {
            if (!json_object_is_type(v, json_type_string)) {
                og_errors_add(errs, "%s.%s: must be %s", path, o->name, type_name(o->type));
                return -1;
            }
            s = json_object_get_string(v);
        } else {
            s = deftext;
        }
        if (o->type == OG_OPT_URL && !og_url_valid(s)) {
            og_errors_add(errs, "%s.%s: must be an http:// or https:// URL", path, o->name);
            return -1;
        }
        if (o->type == OG_OPT_ENUM && !enum_has(o->choices, s)) {
            og_errors_add(errs, "%s.%s: must be one of %s", path, o->name, o->choices);
            return -1;
        }
        if ((o->flags & OG_OPT_REQUIRED) && !*s) {
            og_errors_add(errs, "%s.%s: required, must not be empty", path, o->name);
            return -1;
        }
        char *d = og_strdup(s);
        memcpy(slot, &d, sizeof d);
        return 0;
    }
    }
}

/* ------------------------------------------- values from the environment */

static void env_text_free(json_object *o, void *text)
{
    (void)o;
    free(text);
}

void og_options_mark_env(json_object *v, const char *written)
{
    json_object_set_userdata(v, og_strdup(written), env_text_free);
}

const char *og_options_env_text(json_object *v)
{
    return json_object_is_type(v, json_type_string) ? json_object_get_userdata(v) : NULL;
}

/* A whole integer: an optional minus and digits, nothing around them (a
 * value beyond int64 is clamped, as json-c does with a literal, so the
 * option's range check says what is wrong). */
static json_object *env_int(const char *s)
{
    const char *d = s + (*s == '-');
    if (!*d || strspn(d, "0123456789") != strlen(d))
        return NULL;
    return json_object_new_int64(strtoll(s, NULL, 10));
}

static json_object *env_number(const char *s)
{
    char *end;
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
        return NULL;
    double d = strtod(s, &end);
    return *end ? NULL : json_object_new_double(d);
}

json_object *og_options_env_value(json_object *v, enum json_type want, char *err, size_t errlen)
{
    const char *s = json_object_get_string(v), *text = og_options_env_text(v);
    json_object *out = NULL;
    const char *what = "";
    switch (want) {
    case json_type_int:
        out = env_int(s);
        what = "an integer";
        break;
    case json_type_double:
        out = env_number(s);
        what = "a number";
        break;
    case json_type_boolean:
        if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
            out = json_object_new_boolean(s[0] == 't');
        what = "true or false";
        break;
    default: return json_object_get(v);
    }
    if (!out)
        snprintf(err, errlen, "%s is not %s", text ? text : "the value", what);
    return out;
}

/* A "${NAME}" value of an integer or boolean option has its type before it
 * is stored; a literal "1" stays a wrong type, as a typo guard. */
static int store(const struct og_option *o, json_object *v, const char *deftext, void *conf,
                 const char *path, struct og_errors *errs)
{
    enum json_type want = o->type == OG_OPT_INT    ? json_type_int
                          : o->type == OG_OPT_BOOL ? json_type_boolean
                                                   : json_type_string;
    if (!v || want == json_type_string || !og_options_env_text(v))
        return store_value(o, v, deftext, conf, path, errs);
    char err[160];
    json_object *typed = og_options_env_value(v, want, err, sizeof err);
    if (!typed) {
        og_errors_add(errs, "%s.%s: %s", path, o->name, err);
        return -1;
    }
    int rc = store_value(o, typed, deftext, conf, path, errs);
    json_object_put(typed);
    return rc;
}

int og_options_parse(const struct og_option *tbl, size_t conf_size, json_object *opts,
                     const char *path, void *conf, struct og_errors *errs)
{
    size_t before = errs->n;
    memset(conf, 0, conf_size);
    if (opts && !json_object_is_type(opts, json_type_object)) {
        og_errors_add(errs, "%s: must be an object", path);
        return -1;
    }
    if (opts) {
        json_object_object_foreach(opts, key, val)
        {
            (void)val;
            const struct og_option *o = tbl;
            while (o->name && strcmp(o->name, key) != 0)
                o++;
            if (!o->name)
                og_errors_add(errs, "%s.%s: unknown option", path, key);
        }
    }
    for (const struct og_option *o = tbl; o->name; o++) {
        json_object *v = NULL;
        if (opts)
            json_object_object_get_ex(opts, o->name, &v);
        if (v && json_object_is_type(v, json_type_null))
            v = NULL;
        if (!v && !o->def) {
            if (o->flags & OG_OPT_REQUIRED)
                og_errors_add(errs, "%s.%s: required", path, o->name);
            continue;
        }
        store(o, v, o->def, conf, path, errs);
    }
    return errs->n == before ? 0 : -1;
}

void og_options_free(const struct og_option *tbl, void *conf)
{
    if (!conf)
        return;
    for (const struct og_option *o = tbl; o->name; o++) {
        if (o->type == OG_OPT_INT || o->type == OG_OPT_BOOL)
            continue;
        char *s;
        memcpy(&s, (char *)conf + o->offset, sizeof s);
        free(s);
    }
}

void og_options_print_help(const struct og_connector *c, void *file)
{
    FILE *f = file;
    fprintf(f, "connector %s %s - %s\n", c->name, c->version ? c->version : "",
            c->description ? c->description : "");
    if (c->platform_api)
        fprintf(f, "implements: %s\n", c->platform_api);
    fprintf(f, "options (channels[].options):\n");
    for (const struct og_option *o = c->options; o->name; o++) {
        const char *t = o->type == OG_OPT_INT    ? "int"
                        : o->type == OG_OPT_BOOL ? "bool"
                        : o->type == OG_OPT_URL  ? "url"
                        : o->type == OG_OPT_ENUM ? o->choices
                                                 : "string";
        fprintf(f, "  %-22s %-18s %s%s%s%s%s\n", o->name, t,
                (o->flags & OG_OPT_REQUIRED) ? "required. " : "",
                (o->flags & OG_OPT_SECRET) ? "secret. " : "", o->def ? "default: " : "",
                o->def ? o->def : "", o->def ? ". " : "");
        fprintf(f, "  %-22s %s\n", "", o->help ? o->help : "");
    }
}
