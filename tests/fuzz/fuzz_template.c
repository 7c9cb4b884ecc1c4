/* fuzz_template - libFuzzer target for the follow-up template renderer and
 * the SMTP header encoder (core/og_template.c, core/og_smtp.c).
 *
 * The input is split at the first NUL byte: before it the template, after it
 * a value used for every placeholder (customer-controlled in real life).
 * Properties checked, beyond ASan/UBSan:
 *   - og_template_check never crashes, and rendering never fails;
 *   - in HTML mode no '<' or '>' of a value reaches the output: with a
 *     template free of them, the output has none either;
 *   - the encoded header has no CR or LF except the "\r\n " folds, and every
 *     encoded word is at most 75 characters (RFC 2047). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "og_smtp.h"
#include "og_template.h"
#include "og_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *buf = og_malloc(size + 2);
    memcpy(buf, data, size);
    buf[size] = 0;
    buf[size + 1] = 0;
    const char *tpl = buf;
    const char *val = buf + strlen(buf) + (strlen(buf) < size ? 1 : 0);
    if (val > buf + size)
        val = buf + size;

    char err[256];
    int ok = og_template_check(tpl, err, sizeof err) == 0;
    struct og_tvar vars[16];
    size_t n = 0;
    for (const char *const *k = og_template_names; *k && n < 16; k++)
        vars[n++] = (struct og_tvar){*k, val, NULL};
    char *text = og_template_render(tpl, vars, n, 0);
    char *html = og_template_render(tpl, vars, n, 1);
    if (!text || !html)
        __builtin_trap();
    if (ok && !strpbrk(tpl, "<>") && strpbrk(html, "<>"))
        __builtin_trap();
    free(text);
    free(html);

    struct og_buf b = {0};
    og_smtp_encode_header(&b, val);
    og_buf_append(&b, "", 0);
    for (const char *p = b.data; *p; p++) {
        if (*p == '\r' && !(p[1] == '\n' && p[2] == ' '))
            __builtin_trap();
        if (*p == '\n' && (p == b.data || p[-1] != '\r'))
            __builtin_trap();
    }
    for (const char *w = strstr(b.data, "=?"); w; w = strstr(w + 2, "=?")) {
        const char *e = strstr(w + 10 <= b.data + b.len ? w + 10 : w, "?=");
        if (strncmp(w, "=?UTF-8?B?", 10) == 0 && (!e || e + 2 - w > 75))
            __builtin_trap();
        if (strncmp(w, "=?UTF-8?B?", 10) == 0 && e)
            w = e;
    }
    og_buf_free(&b);
    char name[256], addr[256];
    og_smtp_parse_from(val, name, sizeof name, addr, sizeof addr);
    (void)og_smtp_addr_ok(val);
    free(buf);
    return 0;
}
