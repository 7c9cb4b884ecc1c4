/* fuzz_csat - libFuzzer target for the survey's parsers of outside input
 * (core/og_csat.c): a messenger answer (og_csat_parse_answer), a survey
 * button's payload (og_csat_button_score), a survey
 * link's token (og_csat_token_check) and the answer a survey page posts
 * (og_csat_parse_body, JSON and form).
 * Properties checked, beyond ASan/UBSan:
 *   - an answer's score is 0 or within the scale, and a score is only found
 *     in short input;
 *   - a token is accepted only when it is exactly what og_csat_token_make
 *     writes for the session it names (so a mutated good token never
 *     passes), and never both accepted and "expired";
 *   - a parsed body has a score of 1..9 and a comment that is NULL or valid
 *     UTF-8 of at most OG_CSAT_COMMENT_MAX bytes; a refused one has none. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "og_csat.h"
#include "og_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void crash(void)
{
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    const char *s = (const char *)data;
    for (int scale = 2; scale <= 5; scale += 3) {
        int sc = og_csat_parse_answer(s, size, scale);
        if (sc < 0 || sc > scale || (sc && size > 64))
            crash();
    }
    /* a tapped button's payload (ABI 1.3): "csat:N" alone, N in the scale */
    if (size < 64) {
        char pl[64];
        memcpy(pl, s, size);
        pl[size] = 0;
        for (int scale = 2; scale <= 5; scale += 3) {
            int sc = og_csat_button_score(pl, scale);
            if (sc < 0 || sc > scale || (sc && (strlen(pl) != 6 || strncmp(pl, "csat:", 5) != 0)))
                crash();
        }
    }

    static unsigned char key[32];
    static int have_key;
    if (!have_key) {
        og_csat_key("fuzz-admin-token-0123456789", key);
        have_key = 1;
    }
    char sid[48];
    int expired = -1;
    og_err e = og_csat_token_check(key, s, size, 1800000000, sid, sizeof sid, &expired);
    if (e == OG_OK) {
        char want[OG_CSAT_TOKEN_MAX], copy[OG_CSAT_TOKEN_MAX];
        if (size >= sizeof copy)
            crash(); /* an accepted token is shorter */
        memcpy(copy, s, size);
        copy[size] = '\0';
        const char *dot = strchr(copy, '.');
        long long exp = dot ? strtoll(dot + 1, NULL, 10) : 0;
        size_t n = og_csat_token_make(key, sid, exp, want, sizeof want);
        if (expired || n != size || memcmp(want, s, size) != 0)
            crash();
    }

    for (int json = 0; json <= 1; json++) {
        int score = -1;
        char *comment = NULL, msg[160];
        e = og_csat_parse_body(s, size, json, &score, &comment, msg, sizeof msg);
        if (e == OG_OK) {
            if (score < 1 || score > 9)
                crash();
            if (comment &&
                (strlen(comment) > OG_CSAT_COMMENT_MAX || !og_utf8_valid(comment, strlen(comment))))
                crash();
        } else if (comment) {
            crash();
        }
        free(comment);
    }
    return 0;
}
