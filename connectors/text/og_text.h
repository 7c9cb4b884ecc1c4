/* og_text - text splitting shared by the connectors whose platforms limit a
 * message's length in UTF-16 code units (Telegram 4096, LINE 5000, VK 9000).
 * A static library linked into those plugins, like og_graph; it depends on
 * nothing but the C library. */
#ifndef OG_TEXT_H
#define OG_TEXT_H
#include <stddef.h>

/* UTF-16 code units of the UTF-8 text s[0..len) (an invalid byte counts 1). */
size_t og_text_utf16_len(const char *s, size_t len);

/* Byte length of the first piece of s[0..len) to send: at most max_units
 * UTF-16 code units, cut only between code points, and after the last
 * newline (else space) when one lies in the second half of the piece.
 * Never 0 for len > 0: a single code point wider than max_units (a
 * surrogate pair with max_units 1) is returned whole. */
size_t og_text_split_len(const char *s, size_t len, size_t max_units);
#endif
