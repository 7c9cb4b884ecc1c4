/* fuzz_fold - libFuzzer target for folding and sensitive-word matching
 * (core/og_fold.c, core/og_sensitive.c): the text of every customer's and
 * agent's message goes through both, and the terms come from the config.
 *
 * The input is split at the first NUL byte: before it a list of terms, one
 * per line; after it the text. Properties checked, beyond ASan/UBSan:
 *   - folded text is valid UTF-8 and folding it again changes nothing;
 *   - a match is a JSON array of terms the list has, and a text that is
 *     exactly one valid term without stars matches that term. */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "og_fold.h"
#include "og_sensitive.h"
#include "og_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    const char *in = (const char *)data;
    const char *nul = memchr(in, 0, size);
    size_t tl = nul ? (size_t)(nul - in) : size;
    const char *text = nul ? nul + 1 : in + size;
    size_t xl = size - (size_t)(text - in);

    size_t flen;
    char *f = og_fold(text, xl, &flen);
    if (strlen(f) != flen || !og_utf8_valid(f, flen))
        __builtin_trap();
    char *ff = og_fold(f, flen, NULL);
    if (strcmp(f, ff) != 0)
        __builtin_trap();
    free(ff);
    free(f);

    char *list = og_strndup(in, tl);
    const char *terms[64];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(list, "\n", &save); t && n < 64;
         t = strtok_r(NULL, "\n", &save))
        terms[n++] = t;
    struct og_sensitive *s = og_sensitive_new(terms, n);
    char *m = og_sensitive_match(s, text, xl);
    if (m) {
        json_object *j = json_tokener_parse(m);
        if (!json_object_is_type(j, json_type_array) || json_object_array_length(j) == 0)
            __builtin_trap();
        json_object_put(j);
    }
    free(m);
    char err[128];
    if (n > 0 && og_sensitive_term_check(terms[0], err, sizeof err) == 0 &&
        !strchr(terms[0], '*')) {
        char *self = og_sensitive_match(s, terms[0], strlen(terms[0]));
        if (!self)
            __builtin_trap();
        free(self);
    }
    og_sensitive_free(s);
    free(list);
    return 0;
}
