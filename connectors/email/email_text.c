/* email_text.c - the text helpers of the e-mail connector: a byte buffer,
 * charsets to UTF-8 with iconv, HTML to readable text, the split of a reply
 * into new text, quoted conversation and signature, and subject handling.
 *
 * Everything here is pure (bytes in, bytes out; no instance, no clock) and
 * takes any input: these functions see whatever a stranger mailed us, so
 * each one is linear in its input and never reads past the length given.
 * email_mime.c calls them; the unit tests and fuzz_email reach them through
 * email_parse() and directly. */
#include "email.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------- buffers */

void *email_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort(); /* as the host's svc->alloc: no caller can do better */
    return p;
}

char *email_xstrndup(const char *s, size_t n)
{
    char *d = email_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *email_xstrdup(const char *s)
{
    return s ? email_xstrndup(s, strlen(s)) : NULL;
}

void email_buf_add(struct email_buf *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void email_buf_puts(struct email_buf *b, const char *s)
{
    email_buf_add(b, s, strlen(s));
}

void email_buf_putc(struct email_buf *b, char c)
{
    email_buf_add(b, &c, 1);
}

char *email_buf_take(struct email_buf *b)
{
    char *p = b->p ? b->p : email_xstrdup("");
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void email_buf_free(struct email_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---------------------------------------------------------------- UTF-8 */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t want;
    unsigned cp;
    if ((s[0] & 0xE0) == 0xC0)
        want = 2, cp = s[0] & 0x1F;
    else if ((s[0] & 0xF0) == 0xE0)
        want = 3, cp = s[0] & 0x0F;
    else if ((s[0] & 0xF8) == 0xF0)
        want = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (n < want)
        return 0;
    for (size_t i = 1; i < want; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[want] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return want;
}

int email_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(u + i, len - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

void email_buf_add_clean(struct email_buf *b, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0; /* start of the pending run of bytes copied as they are */
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(u + i, len - i);
        if (k == 1 && u[i] >= 0x20 && u[i] != 0x7F) {
            i++;
            continue;
        }
        if (k > 1) {
            i += k;
            continue;
        }
        email_buf_add(b, s + run, i - run);
        if (!k)
            email_buf_add(b, "\xEF\xBF\xBD", 3);
        else if (u[i] == '\n' || u[i] == '\t')
            email_buf_putc(b, (char)u[i]);
        else if (u[i] == '\r')
            email_buf_putc(b, '\n');
        i++;
        if (u[i - 1] == '\r' && i < len && u[i] == '\n')
            i++; /* CR LF: one LF */
        run = i;
    }
    email_buf_add(b, s + run, len - run);
}

char *email_one_line(const char *s, size_t max)
{
    struct email_buf clean = {0}, out = {0};
    email_buf_add_clean(&clean, s ? s : "", s ? strlen(s) : 0);
    int space = 0;
    for (size_t i = 0; i < clean.len; i++) {
        char c = clean.p[i];
        if (c == ' ' || c == '\t' || c == '\n') {
            space = out.len > 0;
            continue;
        }
        if (space)
            email_buf_putc(&out, ' ');
        space = 0;
        email_buf_putc(&out, c);
    }
    email_buf_free(&clean);
    if (out.len > max) {
        size_t cut = max;
        while (cut > 0 && ((unsigned char)out.p[cut] & 0xC0) == 0x80)
            cut--; /* never split a character */
        out.len = cut;
        out.p[cut] = 0;
    }
    return email_buf_take(&out);
}

/* ------------------------------------------------------------- charsets */

/* Appends s converted from cs to UTF-8 with iconv; a byte it cannot
 * convert becomes U+FFFD. -1 (nothing appended) when iconv does not know
 * cs. The output still needs email_buf_add_clean. */
static int iconv_append(struct email_buf *out, const char *cs, const char *s, size_t len)
{
    iconv_t cd = iconv_open("UTF-8", cs);
    if (cd == (iconv_t)-1)
        return -1;
    char *in = (char *)s;
    size_t left = len;
    char tmp[4096];
    while (left > 0) {
        char *o = tmp;
        size_t room = sizeof tmp;
        size_t before = left;
        size_t r = iconv(cd, &in, &left, &o, &room);
        email_buf_add(out, tmp, sizeof tmp - room);
        if (r != (size_t)-1)
            continue;
        if (errno == E2BIG && (left < before || room < sizeof tmp))
            continue;
        /* EILSEQ, EINVAL (a sequence cut at the end) or no progress: one
         * byte is given up and the shift state reset. */
        email_buf_add(out, "\xEF\xBF\xBD", 3);
        in++;
        left--;
        iconv(cd, NULL, NULL, NULL, NULL);
    }
    char *o = tmp;
    size_t room = sizeof tmp;
    iconv(cd, NULL, NULL, &o, &room); /* the closing shift sequence, if any */
    email_buf_add(out, tmp, sizeof tmp - room);
    iconv_close(cd);
    return 0;
}

/* What a label really means (the WHATWG Encoding Standard's aliases for
 * the labels mail gets wrong most often): ISO-8859-1 and ASCII labels are
 * read as Windows-1252, a superset that mailers use under those names. */
static const char *charset_effective(const char *label)
{
    static const char *const as_1252[] = {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1",
                                          "l1",         "cp819",     "ibm819",     "windows-1252",
                                          "cp1252",     "x-cp1252"};
    for (size_t i = 0; i < sizeof as_1252 / sizeof as_1252[0]; i++)
        if (strcasecmp(label, as_1252[i]) == 0)
            return "WINDOWS-1252";
    if (strcasecmp(label, "gb2312") == 0 || strcasecmp(label, "gbk") == 0)
        return "GB18030";
    if (strcasecmp(label, "ks_c_5601-1987") == 0)
        return "CP949";
    if (strcasecmp(label, "iso-8859-8-i") == 0)
        return "ISO-8859-8";
    return label;
}

static int charset_is_utf8ish(const char *label)
{
    static const char *const names[] = {"",        "utf-8",          "utf8",      "us-ascii",
                                        "ascii",   "ansi_x3.4-1968", "x-unknown", "unknown-8bit",
                                        "unknown", "default"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(label, names[i]) == 0)
            return 1;
    return 0;
}

char *email_to_utf8(const char *charset, const char *s, size_t len, int *bad_charset)
{
    char label[64];
    size_t n = 0;
    for (const char *p = charset ? charset : ""; *p && n + 1 < sizeof label; p++)
        if (*p != '"' && *p != '\'' && *p != ' ' && *p != '\t')
            label[n++] = *p;
    label[n] = 0;
    if (charset && strlen(charset) >= sizeof label)
        label[0] = 1, label[1] = 0; /* absurdly long: unknown */

    struct email_buf conv = {0}, out = {0};
    const char *src = s;
    size_t srclen = len;
    if (charset_is_utf8ish(label)) {
        /* Declared ASCII or UTF-8 (or nothing): 8-bit bytes that are not
         * UTF-8 are a mislabel, most often Windows-1252. */
        if (!email_utf8_valid(s, len) && strcasecmp(label, "utf-8") != 0 &&
            strcasecmp(label, "utf8") != 0 && iconv_append(&conv, "WINDOWS-1252", s, len) == 0)
            src = conv.p ? conv.p : "", srclen = conv.len;
    } else if (iconv_append(&conv, charset_effective(label), s, len) == 0) {
        src = conv.p ? conv.p : "", srclen = conv.len;
    } else {
        if (bad_charset)
            *bad_charset = 1;
        email_buf_free(&conv);
        if (!email_utf8_valid(s, len) && iconv_append(&conv, "WINDOWS-1252", s, len) == 0)
            src = conv.p ? conv.p : "", srclen = conv.len;
    }
    email_buf_add_clean(&out, src, srclen);
    email_buf_free(&conv);
    return email_buf_take(&out);
}

/* ---------------------------------------------------------- HTML to text */

struct html {
    struct email_buf out;
    int skip;          /* inside script/style/head/title: nesting count */
    int pre;           /* inside pre: whitespace kept */
    int quote;         /* blockquote depth */
    int space;         /* a space is pending before the next word */
    int newlines;      /* newlines at the end of out (0, 1 or 2) */
    char *href;        /* the open link's target, owned */
    size_t link_start; /* out.len when the link opened */
};

static void html_newline(struct html *h, int want)
{
    if (h->skip)
        return;
    h->space = 0;
    if (h->out.len == 0)
        return; /* no blank lines at the start */
    while (h->newlines < want) {
        email_buf_putc(&h->out, '\n');
        h->newlines++;
    }
}

/* Appends text (already decoded) with whitespace collapsed, the quote
 * prefix at the start of each line. */
static void html_text(struct html *h, const char *s, size_t n)
{
    if (h->skip)
        return;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!h->pre && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f')) {
            h->space = h->newlines == 0 && h->out.len > 0;
            continue;
        }
        if (h->pre && c == '\r')
            continue;
        if (h->pre && c == '\n') {
            email_buf_putc(&h->out, '\n');
            h->newlines = 1;
            continue;
        }
        if (h->newlines > 0 || h->out.len == 0)
            for (int q = 0; q < h->quote; q++)
                email_buf_puts(&h->out, "> ");
        else if (h->space)
            email_buf_putc(&h->out, ' ');
        h->space = 0;
        h->newlines = 0;
        email_buf_putc(&h->out, c);
    }
}

static void utf8_put(struct email_buf *b, unsigned long cp)
{
    char u[4];
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        u[0] = (char)cp;
        email_buf_add(b, u, 1);
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F));
        email_buf_add(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        email_buf_add(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F));
        email_buf_add(b, u, 4);
    }
}

/* The entities mail actually uses; others stay as written. */
static const struct {
    const char *name;
    unsigned cp;
} html_entities[] = {
    {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},     {"apos", '\''},
    {"nbsp", 0xA0},    {"copy", 0xA9},    {"reg", 0xAE},     {"trade", 0x2122}, {"hellip", 0x2026},
    {"mdash", 0x2014}, {"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C},
    {"rdquo", 0x201D}, {"laquo", 0xAB},   {"raquo", 0xBB},   {"bull", 0x2022},  {"middot", 0xB7},
    {"euro", 0x20AC},  {"pound", 0xA3},   {"yen", 0xA5},     {"cent", 0xA2},    {"sect", 0xA7},
    {"deg", 0xB0},     {"times", 0xD7},   {"auml", 0xE4},    {"ouml", 0xF6},    {"uuml", 0xFC},
    {"Auml", 0xC4},    {"Ouml", 0xD6},    {"Uuml", 0xDC},    {"szlig", 0xDF},   {"eacute", 0xE9},
    {"egrave", 0xE8},  {"ecirc", 0xEA},   {"agrave", 0xE0},  {"aacute", 0xE1},  {"ccedil", 0xE7},
    {"iacute", 0xED},  {"oacute", 0xF3},  {"uacute", 0xFA},  {"ntilde", 0xF1},  {"zwnj", 0x200C},
    {"shy", 0xAD},
};

/* Decodes the entity at s[0] == '&' into b; returns the bytes used (1 and
 * a literal '&' when it is not one we know). */
static size_t html_entity(const char *s, size_t n, struct email_buf *b)
{
    size_t i = 1;
    if (i < n && s[i] == '#') {
        int hex = i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X');
        size_t j = i + 1 + (size_t)hex;
        unsigned long cp = 0;
        size_t digits = 0;
        for (; j < n && digits < 8; j++, digits++) {
            char c = s[j];
            int v = c >= '0' && c <= '9'          ? c - '0'
                    : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                  : -1;
            if (v < 0)
                break;
            cp = cp * (hex ? 16 : 10) + (unsigned long)v;
        }
        if (digits > 0) {
            utf8_put(b, cp);
            return j < n && s[j] == ';' ? j + 1 : j;
        }
    } else {
        size_t j = i;
        while (j < n && j < 12 && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z')))
            j++;
        for (size_t k = 0; k < sizeof html_entities / sizeof html_entities[0]; k++) {
            size_t l = strlen(html_entities[k].name);
            if (l == j - i && memcmp(s + i, html_entities[k].name, l) == 0) {
                utf8_put(b, html_entities[k].cp == 0xA0 ? ' ' : html_entities[k].cp);
                return j < n && s[j] == ';' ? j + 1 : j;
            }
        }
    }
    email_buf_putc(b, '&');
    return 1;
}

/* The value of attribute name in a tag's attribute text, entities decoded.
 * [xfer free] or NULL. */
static char *html_attr(const char *a, size_t n, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < n;) {
        while (i < n &&
               (a[i] == ' ' || a[i] == '\t' || a[i] == '\n' || a[i] == '\r' || a[i] == '/'))
            i++;
        size_t ns = i;
        while (i < n && a[i] != '=' && a[i] != ' ' && a[i] != '\t' && a[i] != '\n' &&
               a[i] != '\r' && a[i] != '/')
            i++;
        size_t ne = i;
        while (i < n && (a[i] == ' ' || a[i] == '\t' || a[i] == '\n' || a[i] == '\r'))
            i++;
        const char *v = NULL;
        size_t vl = 0;
        if (i < n && a[i] == '=') {
            i++;
            while (i < n && (a[i] == ' ' || a[i] == '\t' || a[i] == '\n' || a[i] == '\r'))
                i++;
            if (i < n && (a[i] == '"' || a[i] == '\'')) {
                char q = a[i++];
                v = a + i;
                while (i < n && a[i] != q)
                    i++;
                vl = (size_t)(a + i - v);
                if (i < n)
                    i++;
            } else {
                v = a + i;
                while (i < n && a[i] != ' ' && a[i] != '\t' && a[i] != '\n' && a[i] != '\r')
                    i++;
                vl = (size_t)(a + i - v);
            }
        }
        if (ne == ns && !v) {
            i++; /* a stray character: step over it */
            continue;
        }
        if (ne - ns == nl && strncasecmp(a + ns, name, nl) == 0 && v) {
            struct email_buf b = {0};
            for (size_t k = 0; k < vl;)
                if (v[k] == '&')
                    k += html_entity(v + k, vl - k, &b);
                else
                    email_buf_putc(&b, v[k++]);
            return email_buf_take(&b);
        }
    }
    return NULL;
}

static int tag_is(const char *name, const char *const *set)
{
    for (; *set; set++)
        if (strcasecmp(name, *set) == 0)
            return 1;
    return 0;
}

/* The link that closes: " (url)" after its text unless the text already
 * says it (or it is an anchor or a mailto: of the same address). */
static void html_link_close(struct html *h)
{
    char *href = h->href;
    h->href = NULL;
    if (!href)
        return;
    const char *u = href;
    while (*u == ' ')
        u++;
    const char *shown = strncasecmp(u, "mailto:", 7) == 0 ? u + 7 : u;
    size_t tl = h->out.len - h->link_start;
    const char *text = h->out.p ? h->out.p + h->link_start : "";
    int same = tl >= strlen(shown) && memmem(text, tl, shown, strlen(shown)) != NULL;
    if (*u && *u != '#' && strncasecmp(u, "javascript:", 11) != 0 && !same && !h->skip) {
        char *one = email_one_line(u, 2048);
        html_text(h, " (", 2);
        h->space = 0;
        html_text(h, one, strlen(one));
        html_text(h, ")", 1);
        free(one);
    }
    free(href);
}

static void html_tag(struct html *h, const char *name, int closing, const char *attrs, size_t alen)
{
    static const char *const skip[] = {"script", "style", "head", "title", "template", NULL};
    static const char *const block[] = {
        "p",  "div",    "h1",   "h2",      "h3",      "h4",     "h5",     "h6",     "ul",
        "ol", "table",  "tr",   "section", "article", "header", "footer", "dl",     "dt",
        "dd", "center", "form", "address", "main",    "nav",    "aside",  "figure", NULL};
    if (tag_is(name, skip)) {
        if (closing && h->skip > 0)
            h->skip--;
        else if (!closing)
            h->skip++;
        return;
    }
    if (strcasecmp(name, "br") == 0) {
        if (!h->skip) {
            email_buf_putc(&h->out, '\n');
            h->newlines = h->newlines < 2 ? h->newlines + 1 : 2;
            h->space = 0;
        }
    } else if (strcasecmp(name, "p") == 0 || ((name[0] == 'h' || name[0] == 'H') &&
                                              name[1] >= '1' && name[1] <= '6' && !name[2])) {
        html_newline(h, 2);
    } else if (strcasecmp(name, "blockquote") == 0) {
        html_newline(h, 1);
        if (closing && h->quote > 0)
            h->quote--;
        else if (!closing && h->quote < 16)
            h->quote++;
    } else if (strcasecmp(name, "pre") == 0) {
        html_newline(h, 1);
        h->pre = !closing;
    } else if (strcasecmp(name, "li") == 0) {
        html_newline(h, 1);
        if (!closing)
            html_text(h, "- ", 2); /* leaves the space pending before the item */
    } else if (strcasecmp(name, "hr") == 0) {
        html_newline(h, 1);
        html_text(h, "----------", 10);
        html_newline(h, 1);
    } else if (strcasecmp(name, "td") == 0 || strcasecmp(name, "th") == 0) {
        if (!closing && h->newlines == 0)
            h->space = h->out.len > 0;
    } else if (strcasecmp(name, "a") == 0) {
        if (closing) {
            html_link_close(h);
        } else {
            html_link_close(h); /* an unclosed previous link */
            h->href = html_attr(attrs, alen, "href");
            h->link_start = h->out.len;
        }
    } else if (strcasecmp(name, "img") == 0 && !closing) {
        char *alt = html_attr(attrs, alen, "alt");
        if (alt && *alt) {
            html_text(h, "[", 1);
            html_text(h, alt, strlen(alt));
            html_text(h, "]", 1);
        }
        free(alt);
    } else if (tag_is(name, block)) {
        html_newline(h, 1);
    }
}

char *email_html_to_text(const char *s, size_t n)
{
    struct html h = {0};
    struct email_buf ent = {0};
    for (size_t i = 0; i < n;) {
        if (s[i] == '<' && i + 3 < n && memcmp(s + i, "<!--", 4) == 0) {
            const char *e = memmem(s + i + 4, n - i - 4, "-->", 3);
            i = e ? (size_t)(e - s) + 3 : n;
        } else if (s[i] == '<' && i + 1 < n &&
                   ((s[i + 1] >= 'a' && s[i + 1] <= 'z') || (s[i + 1] >= 'A' && s[i + 1] <= 'Z') ||
                    s[i + 1] == '/' || s[i + 1] == '!' || s[i + 1] == '?')) {
            size_t j = i + 1;
            int closing = s[j] == '/';
            if (closing)
                j++;
            char name[16];
            size_t nl = 0;
            while (j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
                             (s[j] >= '0' && s[j] <= '9'))) {
                if (nl + 1 < sizeof name)
                    name[nl++] = s[j];
                j++;
            }
            name[nl] = 0;
            size_t as = j;
            char q = 0;
            while (j < n && (q || s[j] != '>')) {
                if (q && s[j] == q)
                    q = 0;
                else if (!q && (s[j] == '"' || s[j] == '\'') && j > as && s[j - 1] == '=')
                    q = s[j];
                j++;
            }
            if (nl)
                html_tag(&h, name, closing, s + as, j - as);
            i = j < n ? j + 1 : n;
        } else if (s[i] == '&') {
            ent.len = 0;
            i += html_entity(s + i, n - i, &ent);
            html_text(&h, ent.p, ent.len);
        } else {
            size_t j = i + 1; /* a '<' that starts no tag is text */
            while (j < n && s[j] != '<' && s[j] != '&')
                j++;
            html_text(&h, s + i, j - i);
            i = j;
        }
    }
    html_link_close(&h);
    email_buf_free(&ent);
    while (h.out.len && (h.out.p[h.out.len - 1] == '\n' || h.out.p[h.out.len - 1] == ' '))
        h.out.p[--h.out.len] = 0;
    /* The markup is gone; what is left must still be clean UTF-8. */
    struct email_buf clean = {0};
    email_buf_add_clean(&clean, h.out.p ? h.out.p : "", h.out.len);
    email_buf_free(&h.out);
    return email_buf_take(&clean);
}

/* ------------------------------------------------- reply / quote / signature */

struct lines {
    const char **s; /* start of each line in the text */
    size_t *n;      /* its length without the LF */
    size_t count;
};

static void lines_split(const char *text, struct lines *l)
{
    size_t cap = 16;
    l->s = email_xmalloc(cap * sizeof *l->s);
    l->n = email_xmalloc(cap * sizeof *l->n);
    l->count = 0;
    for (const char *p = text;;) {
        const char *nl = strchr(p, '\n');
        if (l->count == cap) {
            cap *= 2;
            l->s = realloc(l->s, cap * sizeof *l->s);
            l->n = realloc(l->n, cap * sizeof *l->n);
            if (!l->s || !l->n)
                abort();
        }
        l->s[l->count] = p;
        l->n[l->count++] = nl ? (size_t)(nl - p) : strlen(p);
        if (!nl)
            break;
        p = nl + 1;
    }
}

static int line_blank(const struct lines *l, size_t i)
{
    for (size_t k = 0; k < l->n[i]; k++)
        if (l->s[i][k] != ' ' && l->s[i][k] != '\t')
            return 0;
    return 1;
}

/* The line without leading blanks and trailing blanks. */
static void line_trim(const struct lines *l, size_t i, const char **s, size_t *n)
{
    const char *p = l->s[i];
    size_t k = l->n[i];
    while (k && (*p == ' ' || *p == '\t'))
        p++, k--;
    while (k && (p[k - 1] == ' ' || p[k - 1] == '\t'))
        k--;
    *s = p;
    *n = k;
}

static int starts_ci(const char *s, size_t n, const char *prefix)
{
    size_t pl = strlen(prefix);
    return n >= pl && strncasecmp(s, prefix, pl) == 0;
}

/* "On <date>, <name> wrote:" and its usual translations ("Am <date>
 * schrieb <name>:", "Le <date>, <name> a écrit :", ...): a line that starts
 * with the word for "on" and ends with ':' after the verb; it may be
 * wrapped onto a second line (Gmail does that for long names). */
static int is_attribution(const struct lines *l, size_t i)
{
    static const char *const starts[] = {"On ", "Am ",     "Le ",  "El ",  "Il ", "Op ",
                                         "Em ", "W dniu ", "Den ", "Dne ", NULL};
    static const char *const verbs[] = {"wrote",      "schrieb", "a écrit",  "escribió",
                                        "ha scritto", "schreef", "escreveu", "pisze",
                                        "skrev",      "napsal",  NULL};
    const char *s;
    size_t n;
    line_trim(l, i, &s, &n);
    int start = 0;
    for (size_t k = 0; starts[k]; k++)
        start |= starts_ci(s, n, starts[k]);
    if (!start || n > 300)
        return 0;
    for (size_t span = 0; span < 2 && i + span < l->count; span++) {
        const char *t;
        size_t tn;
        line_trim(l, i + span, &t, &tn);
        if (tn == 0 || t[tn - 1] != ':')
            continue;
        /* the verb on either line, before the final ':' */
        for (size_t k = 0; verbs[k]; k++) {
            size_t vl = strlen(verbs[k]);
            for (size_t line = i; line <= i + span; line++) {
                const char *u;
                size_t un;
                line_trim(l, line, &u, &un);
                for (size_t p = 0; p + vl <= un; p++)
                    if (strncasecmp(u + p, verbs[k], vl) == 0)
                        return 1;
            }
        }
    }
    return 0;
}

static int is_separator(const struct lines *l, size_t i)
{
    const char *s;
    size_t n;
    line_trim(l, i, &s, &n);
    /* "-----Original Message-----", "----- Ursprüngliche Nachricht -----" */
    if (n >= 10 && s[0] == '-' && s[n - 1] == '-') {
        char inner[64];
        size_t k = 0;
        for (size_t j = 0; j < n && k + 1 < sizeof inner; j++)
            if (s[j] != '-' && s[j] != ' ')
                inner[k++] = s[j];
        inner[k] = 0;
        if (strcasecmp(inner, "OriginalMessage") == 0 ||
            strcasecmp(inner, "UrsprünglicheNachricht") == 0 ||
            strcasecmp(inner, "Messaged'origine") == 0 || strcasecmp(inner, "MensajeOriginal") == 0)
            return 1;
    }
    /* Outlook: a rule of underscores (or our HTML <hr>) and a From: line. */
    int rule = n >= 10;
    for (size_t j = 0; j < n && rule; j++)
        rule = s[j] == '_' || s[j] == '-';
    if (rule)
        for (size_t k = i + 1; k < l->count && k <= i + 2; k++) {
            const char *t;
            size_t tn;
            line_trim(l, k, &t, &tn);
            if (starts_ci(t, tn, "From:") || starts_ci(t, tn, "Von:") || starts_ci(t, tn, "De :") ||
                starts_ci(t, tn, "De:"))
                return 1;
        }
    return 0;
}

static int is_quoted(const struct lines *l, size_t i)
{
    return l->n[i] > 0 && l->s[i][0] == '>';
}

static int is_sig_start(const struct lines *l, size_t i)
{
    static const char *const mobile[] = {
        "Sent from my ",  "Sent from Mail for ", "Get Outlook for ",     "Von meinem ",
        "Envoyé de mon ", "Enviado desde mi ",   "Sent from Yahoo Mail", NULL};
    const char *s;
    size_t n;
    if ((l->n[i] == 3 && memcmp(l->s[i], "-- ", 3) == 0) ||
        (l->n[i] == 2 && memcmp(l->s[i], "--", 2) == 0))
        return 1;
    line_trim(l, i, &s, &n);
    for (size_t k = 0; mobile[k]; k++)
        if (starts_ci(s, n, mobile[k]) && n < 80)
            return 1;
    return 0;
}

static char *lines_join(const struct lines *l, size_t from, size_t to)
{
    while (from < to && line_blank(l, from))
        from++;
    while (to > from && line_blank(l, to - 1))
        to--;
    if (from >= to)
        return NULL;
    const char *a = l->s[from];
    const char *b = l->s[to - 1] + l->n[to - 1];
    return email_xstrndup(a, (size_t)(b - a));
}

void email_split_reply(const char *text, char **new_text, char **quoted, char **signature)
{
    struct lines l;
    lines_split(text ? text : "", &l);
    size_t q = l.count;
    for (size_t i = 0; i < l.count && q == l.count; i++) {
        if (is_attribution(&l, i) || is_separator(&l, i)) {
            q = i;
        } else if (is_quoted(&l, i)) {
            /* a trailing block of "> " lines (inline answers stay text) */
            size_t k = i;
            while (k < l.count && (is_quoted(&l, k) || line_blank(&l, k)))
                k++;
            if (k == l.count)
                q = i;
            else
                i = k - 1;
        }
    }
    size_t sig = q;
    for (size_t i = 0; i < q; i++)
        if (is_sig_start(&l, i)) {
            sig = i;
            break;
        }
    char *fresh = lines_join(&l, 0, sig);
    if (!fresh) {
        /* Nothing before the quote or signature (a forward, a quote only):
         * the whole text is the message, nothing is hidden. */
        *new_text = lines_join(&l, 0, l.count);
        if (!*new_text)
            *new_text = email_xstrdup("");
        if (quoted)
            *quoted = NULL;
        if (signature)
            *signature = NULL;
    } else {
        *new_text = fresh;
        if (quoted)
            *quoted = lines_join(&l, q, l.count);
        if (signature)
            *signature = lines_join(&l, sig, q);
    }
    free(l.s);
    free(l.n);
}

/* ------------------------------------------------------------- subjects */

/* Length of a reply/forward prefix ("Re:", "RE[2]:", "Fwd:", "AW:", ...)
 * at s, 0 if none. */
static size_t subject_prefix(const char *s)
{
    static const char *const words[] = {"re",   "fw",  "fwd", "aw",  "wg",  "sv", "vs",
                                        "antw", "rif", "tr",  "odp", "res", "r",  NULL};
    for (size_t k = 0; words[k]; k++) {
        size_t wl = strlen(words[k]);
        if (strncasecmp(s, words[k], wl) != 0)
            continue;
        size_t i = wl;
        if (s[i] == '[' || s[i] == '(') {
            char close = s[i] == '[' ? ']' : ')';
            size_t j = i + 1;
            while (s[j] >= '0' && s[j] <= '9')
                j++;
            if (j > i + 1 && s[j] == close)
                i = j + 1;
        }
        if (s[i] == ' ' && s[i + 1] == ':')
            i++;
        if (s[i] == ':' || (s[i] == '\xEF' && s[i + 1] == '\xBC' && s[i + 2] == '\x9A'))
            return i + (s[i] == ':' ? 1 : 3); /* ':' or the full-width colon */
    }
    return 0;
}

/* 1 when p starts with "[#" EMAIL_TOKEN_LEN lower-case hex digits "]". */
static int token_at(const char *p)
{
    if (p[0] != '[' || p[1] != '#')
        return 0;
    size_t k = 0;
    while (k < EMAIL_TOKEN_LEN &&
           ((p[2 + k] >= '0' && p[2 + k] <= '9') || (p[2 + k] >= 'a' && p[2 + k] <= 'f')))
        k++;
    return k == EMAIL_TOKEN_LEN && p[2 + k] == ']';
}

int email_subject_token(const char *subject, char tok[EMAIL_TOKEN_LEN + 1])
{
    int found = 0;
    for (const char *p = subject ? strstr(subject, "[#") : NULL; p; p = strstr(p + 1, "[#")) {
        if (token_at(p)) {
            memcpy(tok, p + 2, EMAIL_TOKEN_LEN);
            tok[EMAIL_TOKEN_LEN] = 0;
            found = 1; /* keep looking: the last one counts */
        }
    }
    return found;
}

char *email_subject_base(const char *subject)
{
    char *one = email_one_line(subject ? subject : "", 998);
    struct email_buf b = {0};
    /* drop every "[#token]" */
    for (const char *p = one; *p;) {
        if (token_at(p)) {
            p += EMAIL_TOKEN_LEN + 3;
            continue;
        }
        email_buf_putc(&b, *p++);
    }
    char *stripped = email_buf_take(&b);
    free(one);
    const char *s = stripped;
    for (;;) {
        while (*s == ' ')
            s++;
        size_t k = subject_prefix(s);
        if (!k)
            break;
        s += k;
    }
    char *out = email_one_line(s, 998);
    free(stripped);
    if (!*out) {
        free(out);
        out = email_xstrdup("(no subject)");
    }
    return out;
}
