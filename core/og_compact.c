/* og_compact - see og_compact.h. */
#include "og_compact.h"

#include <stdint.h>
#include <string.h>

/* prelude.lua's MSG_KEYS, in that order: key i (from 1) is coded as the
 * i-th byte of 1-31 that is not a tab, newline or carriage return (JSON
 * whitespace). */
static const char *const keys[] = {"kind",
                                   "text",
                                   "attachments",
                                   "location",
                                   "provider_message_id",
                                   "reply_to_provider_id",
                                   "created_at",
                                   "payload",
                                   "flags",
                                   "sensitive_terms",
                                   "url",
                                   "source_url",
                                   "media_id",
                                   "mime_type",
                                   "name",
                                   "size",
                                   "latitude",
                                   "longitude",
                                   "address",
                                   "upload_id"};
enum { NKEYS = sizeof keys / sizeof *keys };

static unsigned char code_of(int i) /* i from 1 */
{
    return (unsigned char)(i + (i >= 9 ? 2 : 0) + (i >= 11 ? 1 : 0));
}

static int index_of(unsigned char ch) /* the key's index from 1, or 0 */
{
    if (ch < 1 || ch >= 32 || ch == '\t' || ch == '\n' || ch == '\r')
        return 0;
    int i = ch >= 14 ? ch - 3 : ch >= 11 ? ch - 2 : ch;
    return i <= NKEYS ? i : 0;
}

static int is_word(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

/* The first '{' or ',' at or after at, or len: memchr's speed over a long
 * text, the next '{' remembered in *brace (first SIZE_MAX: not looked for
 * yet) since most tails have none past their start. */
static size_t next_sep(const char *s, size_t at, size_t len, size_t *brace)
{
    if (*brace == SIZE_MAX || (*brace < at && *brace != len)) {
        const char *b = memchr(s + at, '{', len - at);
        *brace = b ? (size_t)(b - s) : len;
    }
    const char *c = memchr(s + at, ',', (*brace < len ? *brace : len) - at);
    return c ? (size_t)(c - s) : *brace;
}

void og_compact_tail(struct og_buf *out, const char *tail, size_t len)
{
    size_t at = 0, copied = 0, brace = SIZE_MAX;
    /* the tail's start counts as a ',' (it follows one in the message) */
    int after_sep = 1;
    while (at < len) {
        if (after_sep && tail[at] == '"') {
            size_t e = at + 1;
            while (e < len && is_word((unsigned char)tail[e]))
                e++;
            if (e + 1 < len && e > at + 1 && tail[e] == '"' && tail[e + 1] == ':') {
                for (int i = 1; i <= NKEYS; i++) {
                    if (strlen(keys[i - 1]) == e - at - 1 &&
                        !memcmp(keys[i - 1], tail + at + 1, e - at - 1)) {
                        og_buf_append(out, tail + copied, at - copied);
                        unsigned char c = code_of(i);
                        og_buf_append(out, (const char *)&c, 1);
                        at = copied = e + 2;
                        break;
                    }
                }
                if (at == e + 2) {
                    after_sep = 0;
                    continue;
                }
            }
        }
        after_sep = tail[at] == '{' || tail[at] == ',';
        at++;
        /* a key can only follow '{' or ',': what lies before the next of
         * them (text, numbers) is passed over at once */
        if (!after_sep && at < len)
            at = next_sep(tail, at, len, &brace);
    }
    og_buf_append(out, tail + copied, len - copied);
}

char *og_compact_json(const char *m, size_t len)
{
    size_t at = 0;
    for (int tabs = 0; tabs < 3; at++) {
        if (at == len)
            return NULL;
        if (m[at] == '\t')
            tabs++;
    }
    struct og_buf b = {0};
    og_buf_puts(&b, "{");
    og_compact_untail(&b, m + at, len - at);
    og_buf_puts(&b, "}");
    return b.data;
}

void og_compact_untail(struct og_buf *out, const char *coded, size_t len)
{
    size_t copied = 0;
    for (size_t at = 0; at < len; at++) {
        int i = index_of((unsigned char)coded[at]);
        if (!i)
            continue;
        og_buf_append(out, coded + copied, at - copied);
        og_buf_printf(out, "\"%s\":", keys[i - 1]);
        copied = at + 1;
    }
    og_buf_append(out, coded + copied, len - copied);
}
