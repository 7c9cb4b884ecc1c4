/* fuzz_compact - libFuzzer target for the compact form of a customer's
 * message (core/og_compact.c): the tail carries the customer's text, so
 * any bytes but raw control characters may reach the coder, and the decoder
 * reads whatever field m holds.
 *
 * Properties checked, beyond ASan/UBSan:
 *   - coding never grows the tail, and decoding it back gives the tail in
 *     braces whenever the tail has no byte in 1-31 (a JSON text has none
 *     raw: og_core.c escapes them);
 *   - the decoder takes any m: NULL without its three tabs, else a string. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "og_compact.h"
#include "og_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    const char *in = (const char *)data;
    struct og_buf b = {0};
    og_buf_puts(&b, "c\tn\tr\t");
    og_compact_tail(&b, in, size);
    if (b.len > size + 6)
        __builtin_trap();
    int controls = 0;
    for (size_t i = 0; i < size; i++)
        if (data[i] >= 1 && data[i] < 32)
            controls = 1;
    char *j = og_compact_json(b.data, b.len);
    if (!j)
        __builtin_trap();
    if (!controls && memchr(in, 0, size) == NULL &&
        (strlen(j) != size + 2 || j[0] != '{' || memcmp(j + 1, in, size) != 0 ||
         j[size + 1] != '}'))
        __builtin_trap();
    free(j);
    og_buf_free(&b);
    /* the input itself as a stored m */
    char *m = og_compact_json(in, size);
    int tabs = 0;
    for (size_t i = 0; i < size && tabs < 3; i++)
        tabs += in[i] == '\t';
    if ((m == NULL) != (tabs < 3))
        __builtin_trap();
    free(m);
    return 0;
}
