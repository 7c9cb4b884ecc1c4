/* fuzz_media - what the media store reads from outside (core/og_media.c):
 * the type sniffer on a file's first bytes, the served type with a declared
 * one (the platform's word), file names (cleaned, and quoted into
 * Content-Disposition) and signed links' query values. The first byte
 * splits the input: that many bytes (mod 64) are the declared type / file
 * name / link values, the rest is the file.
 *
 * Checked: the served type is never one a browser runs (text/html, SVG,
 * JavaScript, XML); a cleaned name has no control character, quote,
 * backslash or slash and is valid UTF-8; the Content-Disposition has no
 * CR, LF or stray quote; a link check of arbitrary values never passes. */
#include "og_media.h"
#include "og_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 70000)
        return 0;
    size_t k = data[0] % 64;
    if (k > size - 1)
        k = size - 1;
    char *head = malloc(k + 1);
    memcpy(head, data + 1, k);
    head[k] = 0;
    const uint8_t *file = data + 1 + k;
    size_t flen = size - 1 - k;

    const char *sniffed = og_media_sniff(file, flen);
    const char *t = og_media_type(file, flen, head);
    if (!t || !*t)
        __builtin_trap();
    if (sniffed && strcmp(sniffed, "application/x-ole-storage") != 0 &&
        strcmp(sniffed, "application/zip") != 0 && strcmp(t, sniffed) != 0)
        __builtin_trap();
    if (strstr(t, "html") || strstr(t, "svg") || strstr(t, "javascript") || strstr(t, "xml"))
        __builtin_trap();

    char name[64];
    og_media_clean_name(head, name, sizeof name);
    size_t n = strlen(name);
    if (n >= sizeof name || !og_utf8_valid(name, n))
        __builtin_trap();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7F || c == '"' || c == '\\' || c == '/')
            __builtin_trap();
    }
    char *cd = og_media_disposition(head);
    if (strpbrk(cd, "\r\n"))
        __builtin_trap();
    /* exactly the two quotes around the ASCII fallback */
    size_t quotes = 0;
    for (const char *p = cd; *p; p++)
        quotes += *p == '"';
    if (quotes != 2)
        __builtin_trap();
    free(cd);

    unsigned char key[32];
    og_media_link_key("fuzz-secret-0123456789", key);
    int expired = 0;
    char *sig = head;
    char *exp = strchr(head, '&');
    if (exp)
        *exp++ = 0;
    if (og_media_link_check(key, "/api/v1/messages/msg_X/attachments/0", exp ? exp : "9999999999",
                            sig, 0, &expired) == OG_OK)
        __builtin_trap(); /* 2^-128 */
    free(head);
    return 0;
}
