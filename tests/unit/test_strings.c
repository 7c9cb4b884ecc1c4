/* test_strings - og_join, og_fmt_ll and og_strlcpy (core/og_util.c), the
 * hot paths' replacements for og_sprintf and snprintf: og_fmt_ll writes
 * what snprintf's "%lld" writes for the extremes and 200,000 values of
 * every magnitude, og_join concatenates up to its NULL (empty parts too),
 * og_strlcpy cuts short, always terminates and returns the length it was
 * given, and og_buf_json_str (which passes over plain text eight bytes at a
 * time) escapes a quote, a backslash, a newline, a control byte, an invalid
 * byte and keeps a valid UTF-8 sequence at every offset of texts of 0-40
 * bytes, as a byte-at-a-time reference does. */
#include "og_test.h"
#include "og_util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference: JSON's escapes one byte at a time (for the bytes used). */
static void ref_json(struct og_buf *b, const char *s)
{
    og_buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char u[8];
        if (*p == '"' || *p == '\\')
            og_buf_puts(b, *p == '"' ? "\\\"" : "\\\\");
        else if (*p == '\n')
            og_buf_puts(b, "\\n");
        else if (*p < 0x20)
            snprintf(u, sizeof u, "\\u%04x", *p), og_buf_puts(b, u);
        else if (*p == 0xc3 && p[1] == 0xa9)
            og_buf_puts(b, "\xc3\xa9"), p++;
        else if (*p >= 0x80)
            og_buf_puts(b, "\xEF\xBF\xBD");
        else
            og_buf_append(b, p, 1);
    }
    og_buf_puts(b, "\"");
}

int main(void)
{
    long long fixed[] = {0, 1, -1, 9, 10, -10, 99, 100, 1796414981024LL, LLONG_MAX, LLONG_MIN};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        char a[24], b[32];
        size_t n = og_fmt_ll(a, fixed[i]);
        snprintf(b, sizeof b, "%lld", fixed[i]);
        CHECK_STR(a, b);
        CHECK_INT((long long)n, (long long)strlen(b));
    }
    unsigned long long x = 88172645463325252ULL;
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift: every magnitude */
        long long v = (long long)(x >> (i % 64));
        if (i & 1)
            v = -v;
        char a[24], b[32];
        og_fmt_ll(a, v);
        snprintf(b, sizeof b, "%lld", v);
        bad += strcmp(a, b) != 0;
    }
    CHECK_INT(bad, 0);

    char *j = og_join("{og}", ":ses:", "ses_1", ":msgs", NULL);
    CHECK_STR(j, "{og}:ses:ses_1:msgs");
    free(j);
    j = og_join("", "a", "", "", "bc", "", NULL);
    CHECK_STR(j, "abc");
    free(j);
    j = og_join("only", NULL);
    CHECK_STR(j, "only");
    free(j);
    j = og_join("", NULL);
    CHECK_STR(j, "");
    free(j);

    char d[6];
    CHECK_INT((long long)og_strlcpy(d, "hello", sizeof d), 5);
    CHECK_STR(d, "hello");
    CHECK_INT((long long)og_strlcpy(d, "hello world", sizeof d), 11);
    CHECK_STR(d, "hello");
    CHECK_INT((long long)og_strlcpy(d, "", sizeof d), 0);
    CHECK_STR(d, "");
    char one[1] = {'x'};
    CHECK_INT((long long)og_strlcpy(one, "abc", sizeof one), 3);
    CHECK_INT(one[0], 0);

    const char *special[] = {"\"", "\\", "\n", "\x01", "\xff", "\xc3\xa9"};
    int wrong = 0;
    for (int len = 0; len <= 40; len++)
        for (int at = 0; at <= len; at++)
            for (size_t k = 0; k < sizeof special / sizeof *special; k++) {
                char t[64];
                memset(t, 'a' + len % 26, (size_t)len);
                t[len] = '\0';
                char text[80];
                snprintf(text, sizeof text, "%.*s%s%s", at, t, special[k], t + at);
                struct og_buf got = {0}, want = {0};
                og_buf_json_str(&got, text);
                ref_json(&want, text);
                wrong += strcmp(got.data, want.data) != 0;
                og_buf_free(&got), og_buf_free(&want);
            }
    CHECK_INT(wrong, 0);
    return og_test_done();
}
