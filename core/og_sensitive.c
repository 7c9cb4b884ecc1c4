/* og_sensitive - see og_sensitive.h. Each term is kept folded, without its
 * stars; matching folds the text once and looks for each term with memmem
 * (folded text is valid UTF-8, which is self-synchronising, so a hit always
 * starts on a character), then checks the word boundaries on the sides the
 * term has no star. */
#include "og_sensitive.h"
#include "og_fold.h"
#include "og_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct og_term {
    char *as_written; /* owned: the term as the list has it, trimmed */
    char *core;       /* owned: folded, without its stars */
    size_t len;
    int open_left, open_right; /* a star there: the word may go on */
};

struct og_sensitive {
    struct og_term *terms; /* owned */
    size_t n;
};

/* s without leading and trailing ASCII white space, as a copy [xfer]. */
static char *trimmed(const char *s)
{
    size_t a = 0, b = strlen(s);
    while (a < b && strchr(" \t\r\n", s[a]))
        a++;
    while (b > a && strchr(" \t\r\n", s[b - 1]))
        b--;
    return og_strndup(s + a, b - a);
}

int og_sensitive_term_check(const char *term, char *err, size_t errlen)
{
    size_t n = term ? strlen(term) : 0;
    if (n == 0 || n > OG_SENSITIVE_TERM_MAX) {
        snprintf(err, errlen, "a term must be 1 to %d bytes", OG_SENSITIVE_TERM_MAX);
        return -1;
    }
    if (!og_utf8_valid(term, n)) {
        snprintf(err, errlen, "a term must be valid UTF-8");
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)term; *p; p++)
        if (*p < 0x20 && !strchr("\t\r\n", *p)) {
            snprintf(err, errlen, "a term must not contain control characters");
            return -1;
        }
    char *t = trimmed(term);
    if (!*t) {
        free(t);
        snprintf(err, errlen, "a term must not be blank");
        return -1;
    }
    size_t tl = strlen(t), a = t[0] == '*', b = tl > a && t[tl - 1] == '*';
    int ok = tl > a + b && !memchr(t + a, '*', tl - a - b);
    char *folded = ok ? og_fold(t + a, tl - a - b, NULL) : NULL;
    if (!ok)
        snprintf(err, errlen,
                 "a \"*\" may only begin or end a term, and a term needs more "
                 "than stars");
    else if (!*folded || folded[0] == ' ')
        snprintf(err, errlen, "a term needs a letter, digit or sign besides stars and spaces");
    ok = ok && *folded && folded[0] != ' ';
    free(folded);
    free(t);
    return ok ? 0 : -1;
}

struct og_sensitive *og_sensitive_new(const char *const *terms, size_t n)
{
    struct og_sensitive *s = og_calloc(1, sizeof *s);
    s->terms = og_calloc(n ? n : 1, sizeof *s->terms);
    for (size_t i = 0; i < n; i++) {
        char err[128];
        if (og_sensitive_term_check(terms[i], err, sizeof err) != 0)
            continue;
        struct og_term t = {.as_written = trimmed(terms[i])};
        size_t tl = strlen(t.as_written);
        t.open_left = t.as_written[0] == '*';
        t.open_right = t.as_written[tl - 1] == '*';
        t.core = og_fold(t.as_written + t.open_left, tl - t.open_left - t.open_right, &t.len);
        int repeat = 0;
        for (size_t k = 0; k < s->n && !repeat; k++)
            repeat = s->terms[k].open_left == t.open_left &&
                     s->terms[k].open_right == t.open_right &&
                     strcmp(s->terms[k].core, t.core) == 0;
        if (repeat) {
            free(t.as_written);
            free(t.core);
            continue;
        }
        s->terms[s->n++] = t;
    }
    if (s->n == 0) {
        og_sensitive_free(s);
        return NULL;
    }
    return s;
}

void og_sensitive_free(struct og_sensitive *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->terms[i].as_written);
        free(s->terms[i].core);
    }
    free(s->terms);
    free(s);
}

/* The code point that ends just before f + at (there is one: at > 0). */
static uint32_t cp_before(const char *f, size_t at)
{
    size_t i = at - 1;
    while (i > 0 && ((unsigned char)f[i] & 0xc0) == 0x80)
        i--;
    uint32_t cp;
    og_fold_decode((const unsigned char *)f + i, at - i, &cp);
    return cp;
}

/* A side of a hit is a word boundary when the term has no star there and
 * its edge is part of a spaced word: then the text must not go on with a
 * letter or digit. */
static int bounded(const char *f, size_t flen, const struct og_term *t, size_t at)
{
    uint32_t first, last, cp;
    og_fold_decode((const unsigned char *)t->core, t->len, &first);
    last = cp_before(t->core, t->len);
    if (!t->open_left && at > 0 && og_fold_word_char(first) && og_fold_word_char(cp_before(f, at)))
        return 0;
    size_t end = at + t->len;
    if (!t->open_right && end < flen && og_fold_word_char(last)) {
        og_fold_decode((const unsigned char *)f + end, flen - end, &cp);
        if (og_fold_word_char(cp))
            return 0;
    }
    return 1;
}

static int found(const char *f, size_t flen, const struct og_term *t)
{
    for (size_t at = 0; at + t->len <= flen;) {
        const char *hit = memmem(f + at, flen - at, t->core, t->len);
        if (!hit)
            return 0;
        size_t pos = (size_t)(hit - f);
        if (bounded(f, flen, t, pos))
            return 1;
        at = pos + 1;
    }
    return 0;
}

char *og_sensitive_match(const struct og_sensitive *s, const char *text, size_t n)
{
    if (!s || !text || n == 0)
        return NULL;
    size_t flen;
    char *f = og_fold(text, n, &flen);
    struct og_buf out = {0};
    for (size_t i = 0; i < s->n; i++) {
        if (!found(f, flen, &s->terms[i]))
            continue;
        og_buf_puts(&out, out.len ? "," : "[");
        og_buf_json_str(&out, s->terms[i].as_written);
    }
    free(f);
    if (out.len)
        og_buf_puts(&out, "]");
    return out.data;
}
