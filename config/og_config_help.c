/* og_config_help.c - the configuration's documentation, printed from the key
 * table (og_config_int.h) so that it cannot drift from what the loader does:
 *   - og_config_print_help(): every key path, its type, default and meaning,
 *     as text (omnigate --config-help);
 *   - og_config_print_markdown(): the same as Markdown tables, for
 *     docs/config.md (every key) and README.md (the keys outside arrays and
 *     maps, two levels deep). tests/unit/test_config_doc.c checks both files
 *     against it and rewrites them with --write.
 *
 * Key paths name arrays with "[]" and entries named by the file with
 * "<name>": "channels[].id", "routing.<name>.levels[].members". */
#include "og_config_int.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One key as the docs show it. */
struct key_doc {
    const struct og_cfg_row *row;
    const char *path;
    int depth;  /* 0 at the top level */
    int inside; /* under an array element or a map entry */
};

typedef void each_fn(const struct key_doc *k, void *ctx);

static void each(const struct og_cfg_row *rows, const char *prefix, int depth, int inside,
                 each_fn *fn, void *ctx)
{
    for (const struct og_cfg_row *r = rows; r->name; r++) {
        char *path = *prefix ? og_sprintf("%s.%s", prefix, r->name) : og_strdup(r->name);
        struct key_doc k = {r, path, depth, inside};
        fn(&k, ctx);
        char *sub = NULL;
        if (r->type == OG_CFG_OBJECT)
            sub = og_strdup(path);
        else if (r->type == OG_CFG_ARRAY)
            sub = og_sprintf("%s[]", path);
        else if (r->type == OG_CFG_MAP)
            sub = og_sprintf("%s.<name>", path);
        if (sub)
            each(r->children, sub, depth + 1, inside || r->type != OG_CFG_OBJECT, fn, ctx);
        free(sub);
        free(path);
    }
}

/* "integer 1..256", "one of error, warn, info, debug", "array of strings", ... */
static void type_text(const struct og_cfg_row *r, struct og_buf *b)
{
    switch (r->type) {
    case OG_CFG_STR: og_buf_puts(b, "string"); break;
    case OG_CFG_INT: og_buf_printf(b, "integer %.0f..%.0f", r->min, r->max); break;
    case OG_CFG_NUM: og_buf_printf(b, "number %g..%g", r->min, r->max); break;
    case OG_CFG_BOOL: og_buf_puts(b, "boolean"); break;
    case OG_CFG_ENUM: og_buf_puts(b, "one of "); break; /* the choices, below */
    case OG_CFG_LIST: og_buf_puts(b, "array of strings"); break;
    case OG_CFG_INT_LIST: og_buf_printf(b, "array of integers %.0f..%.0f", r->min, r->max); break;
    case OG_CFG_OBJECT:
    case OG_CFG_JSON: og_buf_puts(b, "object"); break;
    case OG_CFG_ARRAY: og_buf_puts(b, "array of objects"); break;
    case OG_CFG_MAP: og_buf_puts(b, "object of named objects"); break;
    }
    if (r->choices) {
        og_buf_puts(b, r->type == OG_CFG_ENUM ? "" : " (");
        for (const char *p = r->choices; *p; p++) {
            if (*p == '|')
                og_buf_puts(b, ", ");
            else
                og_buf_append(b, p, 1);
        }
        og_buf_puts(b, r->type == OG_CFG_ENUM ? "" : ")");
    }
    if (r->flags & OG_CFG_SECRET)
        og_buf_puts(b, ", secret");
}

/* The default: a value as JSON writes it ("embedded" quoted, 16 bare), or
 * words. *literal says which, for Markdown's code spans. */
static void default_text(const struct og_cfg_row *r, struct og_buf *b, int *literal)
{
    *literal = 0;
    if (r->def) {
        *literal = 1;
        if (r->type == OG_CFG_STR || r->type == OG_CFG_ENUM)
            og_buf_json_str(b, r->def);
        else
            og_buf_puts(b, r->def);
    } else if (r->def_doc) {
        og_buf_puts(b, r->def_doc);
    } else if (r->flags & OG_CFG_REQUIRED) {
        og_buf_puts(b, "required");
    } else if (r->type == OG_CFG_ARRAY || r->type == OG_CFG_LIST || r->type == OG_CFG_INT_LIST) {
        *literal = 1;
        og_buf_puts(b, "[]");
    } else if (r->type != OG_CFG_OBJECT) {
        og_buf_puts(b, "none");
    }
    if (!b->data)
        og_buf_append(b, "", 0);
}

/* ------------------------------------------------------------------ text */

/* 'listen: string; default "127.0.0.1:8080"' and the help indented below. */
static void print_text(const struct key_doc *k, void *ctx)
{
    FILE *f = ctx;
    struct og_buf t = {0}, d = {0};
    int literal;
    type_text(k->row, &t);
    default_text(k->row, &d, &literal);
    fprintf(f, "%s: %s", k->path, t.data);
    if (strcmp(d.data, "required") == 0)
        fputs("; required", f);
    else if (*d.data && strcmp(d.data, "none") != 0)
        fprintf(f, "; default %s", d.data);
    fprintf(f, "\n    %s\n", k->row->help ? k->row->help : "");
    og_buf_free(&t);
    og_buf_free(&d);
}

void og_config_print_help(void *file)
{
    FILE *f = file;
    fprintf(f, "omnigate configuration: one JSON object, every key below (KEY[] is an array,\n"
               "<name> a name of your choice). A string may be written \"${NAME}\" to take\n"
               "the environment variable NAME; for an integer or boolean key its text is\n"
               "converted (\"${POOL}\" with POOL=32 is 32). Connector options:\n"
               "omnigate --connector-help NAME.\n\n");
    each(og_cfg_top_rows, "", 0, 0, print_text, f);
}

/* --------------------------------------------------------------- Markdown */

/* Text in a table cell: a pipe would end the cell, "<id>" would be taken
 * for an HTML tag and two asterisks for emphasis. */
static void md_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|' || *s == '*')
            fprintf(f, "\\%c", *s);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else
            fputc(*s, f);
    }
}

struct md {
    FILE *f;
    int readme;
    const char *section; /* docs: only this top-level key and what is under it */
};

static void print_md_row(const struct key_doc *k, void *ctx)
{
    struct md *m = ctx;
    const struct og_cfg_row *r = k->row;
    if (m->readme) {
        /* README: the keys outside arrays and maps, two levels deep */
        if (k->inside || k->depth > 1)
            return;
    } else if (m->section) {
        size_t n = strlen(m->section);
        if (strncmp(k->path, m->section, n) != 0 || (k->path[n] != '.' && k->path[n] != '['))
            return;
    }
    struct og_buf t = {0}, d = {0};
    int literal;
    type_text(r, &t);
    default_text(r, &d, &literal);
    fprintf(m->f, "| `%s` | ", k->path);
    md_escape(m->f, t.data);
    fputs(" | ", m->f);
    if (literal && d.len && !strpbrk(d.data, "`|")) {
        fprintf(m->f, "`%s`", d.data); /* a value, as written in the file */
    } else {
        md_escape(m->f, d.data);
    }
    fputs(" | ", m->f);
    md_escape(m->f, r->help ? r->help : "");
    fputs(" |\n", m->f);
    og_buf_free(&t);
    og_buf_free(&d);
}

static void md_table(FILE *f, int readme, const char *section)
{
    struct md m = {f, readme, section};
    fputs("| key | type | default | meaning |\n| --- | --- | --- | --- |\n", f);
    each(og_cfg_top_rows, "", 0, 0, print_md_row, &m);
}

void og_config_print_markdown(void *file, int readme)
{
    FILE *f = file;
    if (readme) {
        md_table(f, 1, NULL);
        return;
    }
    fputs("# Configuration keys\n\n"
          "<!-- Generated from the key table in config/og_config*.c; do not edit.\n"
          "     Rewrite with: build/bin/og-unit-config-doc --write -->\n\n"
          "omnigate reads one JSON object (`omnigate --config FILE`; `--check` validates it,\n"
          "`--config-help` prints this list). An unknown key, a wrong type or a bad value is\n"
          "an error naming the key path, and omnigate refuses to start. A string may be\n"
          "written `\"${NAME}\"` to take the environment variable NAME (`$${` is a literal\n"
          "`${`); for an integer, boolean or number key the variable's text is converted to\n"
          "that type. `KEY[]` is an array of objects, `<name>` a name of your choice. A\n"
          "channel's `options` are its connector's: `omnigate --connector-help NAME`.\n\n"
          "## Top level\n\n",
          f);
    fputs("| key | type | default | meaning |\n| --- | --- | --- | --- |\n", f);
    struct md top = {f, 0, NULL};
    for (const struct og_cfg_row *r = og_cfg_top_rows; r->name; r++) {
        struct key_doc k = {r, r->name, 0, 0};
        print_md_row(&k, &top);
    }
    for (const struct og_cfg_row *r = og_cfg_top_rows; r->name; r++) {
        if (!r->children)
            continue;
        fprintf(f, "\n## %s\n\n", r->name);
        md_table(f, 0, r->name);
    }
}
