/* og_template - see og_template.h. A template is scanned on every render
 * (follow-ups are a few per session, so there is nothing to gain from a
 * compiled form, and a scanner without state cannot go stale). */
#include "og_template.h"
#include "og_util.h"

#include <stdio.h>
#include <string.h>

const char *const og_template_names[] = {
    "contact.name", "contact.email",        "contact.phone", "agent.name", "channel",
    "session.id",   "session.close_reason", "transcript",    "survey_url", NULL,
};

/* Finds the placeholder starting at p ("{{"): the name's start and length
 * with the spaces trimmed, and the end just past "}}". 0 when unterminated. */
static int placeholder(const char *p, const char **name, size_t *nlen, const char **end)
{
    const char *close = strstr(p + 2, "}}");
    if (!close)
        return 0;
    const char *s = p + 2, *e = close;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *name = s;
    *nlen = (size_t)(e - s);
    *end = close + 2;
    return 1;
}

static int known(const char *const *names, const char *name, size_t n)
{
    for (const char *const *k = names; *k; k++)
        if (strlen(*k) == n && memcmp(*k, name, n) == 0)
            return 1;
    return 0;
}

int og_template_check(const char *src, char *err, size_t errlen)
{
    return og_template_check_names(src, og_template_names, err, errlen);
}

int og_template_check_names(const char *src, const char *const *names, char *err, size_t errlen)
{
    const char *p = src;
    while ((p = strstr(p, "{{")) != NULL) {
        const char *name, *end;
        size_t n;
        if (!placeholder(p, &name, &n, &end)) {
            snprintf(err, errlen, "unterminated \"{{\" at offset %zu", (size_t)(p - src));
            return -1;
        }
        if (!known(names, name, n)) {
            struct og_buf list = {0};
            for (const char *const *k = names; *k; k++)
                og_buf_printf(&list, "%s%s", k == names ? "" : ", ", *k);
            snprintf(err, errlen, "unknown placeholder \"{{%.*s}}\" (known: %s)",
                     n > 64 ? 64 : (int)n, name, list.data ? list.data : "");
            og_buf_free(&list);
            return -1;
        }
        p = end;
    }
    return 0;
}

void og_html_escape(struct og_buf *b, const char *s)
{
    if (!s)
        return;
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: continue;
        }
        og_buf_append(b, run, (size_t)(s - run));
        og_buf_puts(b, rep);
        run = s + 1;
    }
    og_buf_append(b, run, (size_t)(s - run));
}

char *og_template_render(const char *src, const struct og_tvar *vars, size_t n, int html)
{
    struct og_buf b = {0};
    og_buf_append(&b, "", 0);
    const char *p = src ? src : "";
    for (;;) {
        const char *open = strstr(p, "{{");
        const char *name, *end;
        size_t nl;
        if (!open || !placeholder(open, &name, &nl, &end)) {
            og_buf_puts(&b, p); /* unterminated: literal (check refuses it anyway) */
            break;
        }
        og_buf_append(&b, p, (size_t)(open - p));
        const struct og_tvar *v = NULL;
        for (size_t i = 0; i < n && !v; i++)
            if (vars[i].name && strlen(vars[i].name) == nl && memcmp(vars[i].name, name, nl) == 0)
                v = &vars[i];
        if (v && html && v->html)
            og_buf_puts(&b, v->html);
        else if (v && html)
            og_html_escape(&b, v->text);
        else if (v && v->text)
            og_buf_puts(&b, v->text);
        p = end;
    }
    return b.data;
}
