/* fuzz_media_s3 - what the S3 side of the media store reads from outside
 * (core/og_media_s3.c): the <Code> of an object store's error answer, put
 * into log lines and og_media_open's error. The whole input is the answer,
 * read through a pointer that ends where it does (not NUL-terminated).
 *
 * Checked: the code fits its buffer and holds only letters, digits, '.',
 * '_' and '-' (nothing that could forge a log line), and a smaller buffer
 * gets a prefix of the same code. */
#include "og_media_s3.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 70000)
        return 0;
    char *copy = malloc(size ? size : 1); /* exactly size bytes: ASan sees any overread */
    memcpy(copy, data, size);
    char code[64], small[8];
    og_media_s3_error_code(copy, size, code, sizeof code);
    og_media_s3_error_code(copy, size, small, sizeof small);
    size_t n = strlen(code);
    if (n >= sizeof code)
        abort();
    for (size_t i = 0; i < n; i++) {
        char c = code[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            abort();
    }
    if (strncmp(code, small, strlen(small)) != 0)
        abort();
    free(copy);
    return 0;
}
