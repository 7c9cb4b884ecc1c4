/* fuzz_archive - libFuzzer target for the archive's segment reader
 * (core/og_archive.c): the bytes are a segment file's.
 *   - og_archive_record_decode at offset 0: a record it accepts has a valid
 *     session id and exactly the JSON length its header states; encoding
 *     that again and decoding it gives the same id and bytes back;
 *   - og_archive_scan over the whole: every record it reports lies inside
 *     the input, in order, without overlap, and is one decode accepts there. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "og_archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct walk {
    const uint8_t *buf;
    size_t len, next, n;
};

static int seen(void *ud, size_t off, size_t rlen, const char *sid, const char *json, size_t jl)
{
    struct walk *w = ud;
    if (off < w->next || rlen < OG_ARCHIVE_HDR || off + rlen > w->len || !*sid)
        abort();
    char sid2[32], *j2 = NULL;
    size_t jl2, used;
    if (og_archive_record_decode(w->buf + off, w->len - off, sid2, &j2, &jl2, &used) != OG_OK ||
        used != rlen || jl2 != jl || memcmp(j2, json, jl) != 0 || strcmp(sid, sid2) != 0)
        abort();
    free(j2);
    w->next = off + rlen;
    w->n++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char sid[32], *json = NULL;
    size_t jl = 0, used = 0;
    if (og_archive_record_decode(data, size, sid, &json, &jl, &used) == OG_OK) {
        if (used > size || used < OG_ARCHIVE_HDR || strlen(sid) < 1 || strlen(sid) > 31 ||
            json[jl] != 0)
            abort();
        unsigned char *rec = NULL;
        size_t rl = 0;
        if (og_archive_record_encode(sid, json, jl, &rec, &rl) != OG_OK)
            abort();
        char sid2[32], *j2 = NULL;
        size_t jl2, used2;
        if (og_archive_record_decode(rec, rl, sid2, &j2, &jl2, &used2) != OG_OK || used2 != rl ||
            jl2 != jl || memcmp(j2, json, jl) != 0 || strcmp(sid, sid2) != 0)
            abort();
        free(j2);
        free(rec);
        free(json);
    } else if (json) {
        abort(); /* nothing is handed out on a refusal */
    }
    struct walk w = {data, size, 0, 0};
    size_t n = og_archive_scan(data, size, seen, &w);
    if (n != w.n || n > size / OG_ARCHIVE_HDR)
        abort();
    return 0;
}
