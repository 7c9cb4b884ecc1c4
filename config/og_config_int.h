/* og_config_int - the configuration's key table and the engine that walks it,
 * shared by og_config.c and the files that describe one section each
 * (og_config_<section>.c).
 *
 * Every key of the file is one row (struct og_cfg_row), the core's version of
 * the connectors' option table (struct og_option in omnigate/connector.h):
 * name, type, where the value goes (offset), default, limits, flags, one line
 * of help, and for objects and arrays of objects the rows of their keys. The
 * engine (og_config_rows.c) uses that one table for everything:
 *   - defaults: og_cfg_defaults() writes each row's default before a load;
 *   - validation: og_cfg_walk() checks each key of an object against its rows
 *     (unknown key, wrong type, range, choices, allowed characters, required)
 *     and stores good values, reporting "<path>: <message>" for the rest;
 *   - freeing: og_cfg_release() frees what the rows stored;
 *   - documentation: og_config_print_help() (omnigate --config-help) and the
 *     generated key tables of README.md and docs/config.md
 *     (og_config_print_markdown, og_config_help.c).
 * So a new key is a new row, and it is validated, defaulted, freed and
 * documented at once.
 *
 * A key whose rules do not fit in a row (host:port, URLs, a template, a
 * cross-key check) has a check hook: the one escape hatch, kept small.
 *
 * Values from the environment: "${NAME}" substitution yields strings, so a
 * row that wants an integer, a boolean or a number converts a substituted
 * string to its type (og_options_env_value in core/og_plugin.c, shared with
 * the connectors' options) and puts the converted value back into the JSON
 * tree, where the sections kept as JSON (routing policies) and the parsers
 * shared with the API (agents, webhooks) read it. */
#ifndef OG_CONFIG_INT_H
#define OG_CONFIG_INT_H
#include "og_config.h"
#include "og_plugin.h"

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* State of one load: the config being filled and where errors go. */
struct og_load {
    struct og_config *cfg;
    struct og_errors *errs;
};

/* What a row holds, and so the C type at its offset. */
enum og_cfg_type {
    OG_CFG_STR,      /* char * [owned] */
    OG_CFG_INT,      /* int64_t in [min, max] */
    OG_CFG_BOOL,     /* int, 0 or 1 */
    OG_CFG_NUM,      /* double in [min, max] (an integer in the file is fine too) */
    OG_CFG_ENUM,     /* char * [owned], one of the '|'-separated words of choices */
    OG_CFG_LIST,     /* char ** [owned] + size_t at count: non-empty strings */
    OG_CFG_INT_LIST, /* int64_t * [owned] + size_t at count: integers in [min, max] */
    OG_CFG_OBJECT,   /* an object of the keys in children; children's base is base + offset */
    OG_CFG_ARRAY,    /* array of objects: elements (size bytes each) at offset, count at count;
                      * min: fewest elements */
    OG_CFG_MAP,      /* object of entries named by the file, each one described by children;
                      * kept at offset as JSON (json_object *, owned reference) */
    OG_CFG_JSON,     /* an object kept as JSON at offset, checked elsewhere (channel options) */
};

#define OG_CFG_REQUIRED (1u << 0) /* a missing key is an error ("<path>: required") */
#define OG_CFG_SECRET (1u << 1)   /* never echoed; the help says so */
#define OG_CFG_NONEMPTY (1u << 2) /* a string must not be "" */
#define OG_CFG_UPPER (1u << 3)    /* chars: A-Z allowed too */
#define OG_CFG_VIA (1u << 4)      /* the value lives in the struct pointed to at via */
/* ARRAY: elements are validated and stored by check, as a parser shared with
 * the API does it; children only describe the keys (help, ${ENV} types). */
#define OG_CFG_EXTERNAL (1u << 5)
/* check sees the raw JSON value and does all the checking itself; the row's
 * type is what the help shows. */
#define OG_CFG_RAW (1u << 6)

struct og_cfg_row;

/* The escape hatch, called with the value v at path; base is the struct the
 * row's offset is relative to (NULL when the level is validated but not
 * stored, as routing policies are).
 *   value rows: after the type and row checks passed; returns 0 to have the
 *     engine store v, 1 when the hook stored it (or dropped it) itself, -1
 *     after adding an error (nothing is stored);
 *   OBJECT, MAP entries, ARRAY elements: after their keys were walked, for
 *     cross-key checks (an ARRAY's hook sees every element, object or not);
 *   EXTERNAL ARRAY elements: instead of the walk; base holds the array.
 * The return value only matters for value rows. */
typedef int og_cfg_check(struct og_load *l, const struct og_cfg_row *row, json_object *v,
                         const char *path, void *base);

/* One key; a table ends with a row whose name is NULL. */
struct og_cfg_row {
    const char *name;
    enum og_cfg_type type;
    size_t offset;       /* where the value goes, from the level's base */
    const char *def;     /* default as text ("16", "true", "embedded"); NULL = none */
    const char *def_doc; /* a default that is not a value, in words ("next to the binary") */
    double min, max;     /* INT, NUM, INT_LIST: range. STR: min = shortest length (0 = any);
                          * STR, LIST elements, MAP names: max = longest, with chars */
    unsigned flags;      /* OG_CFG_* */
    const char *help;    /* one line for --config-help and the docs */
    const char *choices; /* ENUM, and LIST elements: "auto|always|never" */
    const char *chars;   /* STR, LIST elements, MAP names: allowed besides a-z 0-9 */
    const char *expect;  /* the message for a value that fails chars, choices or check */
    const struct og_cfg_row *children; /* OBJECT, ARRAY, MAP */
    og_cfg_check *check;
    size_t via;                  /* OG_CFG_VIA: offset of the pointer to the value's struct */
    size_t count;                /* LIST, INT_LIST, ARRAY: offset of the size_t count */
    size_t size;                 /* ARRAY: bytes per element (0 = validated only) */
    void (*release)(void *elem); /* EXTERNAL ARRAY: frees one element */
};

/* The top-level table (og_config.c) and the sections' tables. */
extern const struct og_cfg_row og_cfg_top_rows[];
extern const struct og_cfg_row og_cfg_csat_rows[];      /* og_config_texts.c */
extern const struct og_cfg_row og_cfg_send_rows[];      /* og_config_send.c */
extern const struct og_cfg_row og_cfg_media_rows[];     /* og_config_media.c */
extern const struct og_cfg_row og_cfg_webhook_rows[];   /* og_config_webhooks.c */
extern const struct og_cfg_row og_cfg_dispatch_rows[];  /* og_config_webhooks.c */
extern const struct og_cfg_row og_cfg_smtp_rows[];      /* og_config_followups.c */
extern const struct og_cfg_row og_cfg_followup_rows[];  /* og_config_followups.c */
extern const struct og_cfg_row og_cfg_policy_rows[];    /* og_config_routing.c */
extern const struct og_cfg_row og_cfg_agent_rows[];     /* og_config_routing.c */
extern const struct og_cfg_row og_cfg_sessions_rows[];  /* og_config_routing.c */
extern const struct og_cfg_row og_cfg_sensitive_rows[]; /* og_config_sensitive.c */
extern const struct og_cfg_row og_cfg_retention_rows[]; /* og_config_retention.c */
extern const struct og_cfg_row og_cfg_texts_rows[];     /* og_config_texts.c */
extern const struct og_cfg_row og_cfg_goal_rows[];      /* og_config_texts.c */

/* ------------------------------------------------------------ the engine */

/* Writes every row's default into base (recursing into objects and through
 * VIA pointers, which must already point somewhere). */
void og_cfg_defaults(const struct og_cfg_row *rows, void *base);
/* Frees what the rows (or the one row) stored in base, clearing the slots. */
void og_cfg_release(const struct og_cfg_row *rows, void *base);
void og_cfg_release_row(const struct og_cfg_row *row, void *base);
/* Releases the top-level rows that reach through via into section, a struct
 * the config holds by pointer (og_config.c). */
void og_cfg_section_release(size_t via, void *section);
/* Walks obj (an object) against rows: each key in file order, then the
 * required ones that are missing. base NULL validates without storing. */
void og_cfg_walk(struct og_load *l, const struct og_cfg_row *rows, json_object *obj,
                 const char *path, void *base);
/* "<path>: unknown key" for each key of obj that has no row. */
void og_cfg_unknown_keys(struct og_load *l, const struct og_cfg_row *rows, json_object *obj,
                         const char *path);
/* Checks one value against its row and stores it in base (NULL: check only),
 * for hooks that take a key apart from the walk (an agent's token).
 * Returns 0 when the value was good. */
int og_cfg_value(struct og_load *l, const struct og_cfg_row *row, json_object *v, const char *path,
                 void *slot);
/* Converts a "${NAME}"-substituted string in obj[key] (*v) to the type the
 * row wants, replacing it in obj and in *v. Returns 0, or -1 after
 * reporting that the text is not of that type. (A JSON null is NULL.) */
int og_cfg_typed(struct og_load *l, const struct og_cfg_row *row, json_object *obj, const char *key,
                 json_object **v, const char *path);
/* Adds "<path>: <row->expect>". Returns -1, for hooks to return. */
int og_cfg_expect(struct og_load *l, const struct og_cfg_row *row, const char *path);
/* The row named name in rows, or NULL. */
const struct og_cfg_row *og_cfg_find(const struct og_cfg_row *rows, const char *name);
/* Where a row's value is in base (NULL when base is NULL). */
void *og_cfg_slot(const struct og_cfg_row *row, void *base);

/* ----------------------------------------------------------------- helpers */

/* "parent.key" / "parent[i]", with control characters escaped. [xfer] */
char *og_cfg_path_key(const char *parent, const char *key);
char *og_cfg_path_index(const char *parent, size_t i);
/* 1 when s is 1..max characters of a-z, 0-9 (A-Z when upper) and extra. */
int og_cfg_charset_ok(const char *s, size_t max, const char *extra, int upper);
/* free(*dst); *dst = strdup(s). */
void og_cfg_replace(char **dst, const char *s);

/* The sections' hooks that the top-level rows name. */
og_cfg_check og_cfg_webhook_take, og_cfg_agent_take, og_cfg_smtp_seen, og_cfg_followup_done,
    og_cfg_policy_done, og_cfg_sensitive_done, og_cfg_texts_done, og_cfg_csat_done;
void og_cfg_webhook_release(void *elem);
void og_cfg_agent_release(void *elem);

/* Cross-section checks after the walk. */
void og_config_followups_check(struct og_load *l); /* followups need smtp */
void og_config_routing_check(struct og_load *l);   /* channel routing names */
#endif
