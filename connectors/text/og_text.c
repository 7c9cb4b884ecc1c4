/* og_text - see og_text.h. */
#include "og_text.h"

/* Bytes of the UTF-8 sequence at s (1 for an invalid byte), and its UTF-16
 * code units in *units. */
static size_t u8_seq(const unsigned char *s, size_t left, size_t *units)
{
    unsigned char c = s[0];
    size_t n = c < 0x80             ? 1
               : (c & 0xE0) == 0xC0 ? 2
               : (c & 0xF0) == 0xE0 ? 3
               : (c & 0xF8) == 0xF0 ? 4
                                    : 0;
    *units = 1;
    if (n == 0 || n > left)
        return 1;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 1;
    if (n == 4)
        *units = 2;
    return n;
}

size_t og_text_utf16_len(const char *s, size_t len)
{
    size_t u = 0, i = 0, k;
    while (i < len) {
        i += u8_seq((const unsigned char *)s + i, len - i, &k);
        u += k;
    }
    return u;
}

size_t og_text_split_len(const char *s, size_t len, size_t max_units)
{
    size_t u = 0, i = 0, k;
    while (i < len) {
        size_t n = u8_seq((const unsigned char *)s + i, len - i, &k);
        if (u + k > max_units)
            break;
        u += k;
        i += n;
    }
    if (i >= len)
        return len;
    if (i == 0)
        return u8_seq((const unsigned char *)s, len, &k);
    for (size_t j = i; j > i / 2; j--)
        if (s[j - 1] == '\n')
            return j;
    for (size_t j = i; j > i / 2; j--)
        if (s[j - 1] == ' ')
            return j;
    return i;
}
