/* test_strings - og_join, og_fmt_ll and og_strlcpy (core/og_util.c), the
 * hot paths' replacements for og_sprintf and snprintf: og_fmt_ll writes
 * what snprintf's "%lld" writes for the extremes and 200,000 values of
 * every magnitude, og_join concatenates up to its NULL (empty parts too),
 * and og_strlcpy cuts short, always terminates and returns the length it
 * was given. */
#include "og_test.h"
#include "og_util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    return og_test_done();
}
