/* og_template - the follow-up e-mail templates and canned responses: text
 * with "{{name}}" placeholders (spaces inside the braces are allowed:
 * "{{ contact.name }}").
 *
 * The names a template may use are fixed (og_template_names); a template
 * naming anything else, or with a "{{" that is never closed, is refused when
 * the configuration is loaded (og_template_check), so rendering never meets
 * an error. There is no escape for a literal "{{" and no logic: a template is
 * written by the business, values come from customers, and values are only
 * ever substituted, never interpreted.
 *
 * HTML: og_template_render(..., html = 1) inserts each value HTML-escaped
 * (& < > " '), except a value that supplies its own pre-rendered HTML
 * (og_tvar.html, e.g. the transcript as escaped lines), which is inserted as
 * it is. */
#ifndef OG_TEMPLATE_H
#define OG_TEMPLATE_H
#include <stddef.h>

/* The placeholder names, NULL-terminated. */
extern const char *const og_template_names[];

/* 0 when src is a valid template; -1 with a one-line reason in err. */
int og_template_check(const char *src, char *err, size_t errlen);
/* The same for a template that may use only names (NULL-terminated), such
 * as a canned response (og_canned.h). */
int og_template_check_names(const char *src, const char *const *names, char *err, size_t errlen);

struct og_tvar {
    const char *name; /* one of og_template_names */
    const char *text; /* the value; NULL = "" */
    const char *html; /* ready HTML for html mode, or NULL = escape text */
};

/* Renders src with vars (a name missing from vars renders as ""). html = 1
 * escapes values as described above. Never fails. [xfer] */
char *og_template_render(const char *src, const struct og_tvar *vars, size_t n, int html);

/* Appends s HTML-escaped to the og_buf b (struct og_buf *). */
struct og_buf;
void og_html_escape(struct og_buf *b, const char *s);
#endif
