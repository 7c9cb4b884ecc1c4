/* og_plugin - loading connector plugins and parsing their options.
 *
 * og_plugin_load() dlopen()s one shared object and refuses it, with a
 * message naming the file and the reason, unless: it exports
 * og_connector_entry; the entry returns a descriptor; the ABI major equals
 * ours and its minor is not newer; struct_size is ours for our minor, or
 * covers at least the 1.0 layout for an older one; the name, option table,
 * create, destroy, send, and handle_http, poll or (1.2) handle_visitor are set. */
#ifndef OG_PLUGIN_H
#define OG_PLUGIN_H
#include <json-c/json.h>
#include <omnigate/connector.h>
#include <stddef.h>

struct og_plugin {
    char *path; /* owned */
    void *dl;   /* dlopen handle, owned */
    /* Every field of this host's minor: fields an older plugin lacks hold
     * their documented defaults, and default_rate_per_s is never 0. Points
     * into full; strings and callbacks are [borrowed] from the .so. */
    const struct og_connector *desc;
    struct og_connector full;
};

/* A list of human-readable problems ("channels[0].options.bot_token: required"). */
struct og_errors {
    char **items;
    size_t n;
};
void og_errors_add(struct og_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void og_errors_free(struct og_errors *e);

/* Returns a loaded plugin [xfer, og_plugin_unload] or NULL with errbuf set. */
struct og_plugin *og_plugin_load(const char *path, char *errbuf, size_t errlen);
void og_plugin_unload(struct og_plugin *p);
/* Loads <dir>/<name>.so. */
struct og_plugin *og_plugin_load_by_name(const char *dir, const char *name, char *errbuf,
                                         size_t errlen);
/* The connector directory of this executable: <exe dir>/../lib/omnigate/connectors.
 * [xfer] */
char *og_plugin_default_dir(void);

/* The plugins a configuration uses, each loaded once however many channels
 * use it. Zero-initialise; og_plugin_registry_free unloads them all. */
struct og_plugin_registry {
    struct og_plugin **p; /* owned */
    size_t n;
};
/* <dir>/<name>.so, loaded on first use. [borrowed from reg] or NULL + errbuf. */
struct og_plugin *og_plugin_registry_get(struct og_plugin_registry *reg, const char *dir,
                                         const char *name, char *errbuf, size_t errlen);
void og_plugin_registry_free(struct og_plugin_registry *reg);

/* Parses opts (a JSON object or NULL) against the table into conf, a zeroed
 * block of conf_size bytes; defaults fill what is absent. Unknown keys, wrong
 * types, bad enum values and missing required options are added to errs
 * prefixed with path ("channels[0].options"). Returns 0 when there was none. */
int og_options_parse(const struct og_option *tbl, size_t conf_size, json_object *opts,
                     const char *path, void *conf, struct og_errors *errs);
/* Values from the environment. The config loader substitutes "${NAME}" in
 * every string and marks each string it changed with the text as written
 * (og_options_mark_env); og_options_env_text returns that text [borrowed,
 * lives with v], or NULL for a string written as it is. og_options_parse and
 * the config's own keys convert a marked string to the type an option wants
 * with og_options_env_value: json_type_int (digits), json_type_boolean
 * ("true"/"false") or json_type_double; it returns the typed value [xfer],
 * or NULL with err = "${VK_GROUP_ID} is not an integer". A literal "1" in
 * the file stays a wrong type for an integer option, as a typo guard. */
void og_options_mark_env(json_object *v, const char *written);
const char *og_options_env_text(json_object *v);
json_object *og_options_env_value(json_object *v, enum json_type want, char *err, size_t errlen);
/* Frees the strings og_options_parse stored in conf (not conf itself). */
void og_options_free(const struct og_option *tbl, void *conf);
/* Prints the option table as help text (for --connector-help). */
void og_options_print_help(const struct og_connector *c, void *file /* FILE * */);
#endif
