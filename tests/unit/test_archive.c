/* test_archive - the archive's segment records (core/og_archive.c): a
 * record decodes to exactly what was encoded; a truncated record, a flipped
 * bit in the header or the compressed stream, a bad session id or version
 * is refused with nothing handed out; a scan over two records with a torn
 * write between them finds both, at their offsets; encoding refuses a bad
 * session id. */
#include "og_archive.h"
#include "og_test.h"

#include <stdlib.h>
#include <string.h>

struct seen {
    size_t n, off[4], len[4];
    char sid[4][32];
};

static int see(void *ud, size_t off, size_t rlen, const char *sid, const char *json, size_t jl)
{
    (void)json, (void)jl;
    struct seen *s = ud;
    if (s->n < 4) {
        s->off[s->n] = off, s->len[s->n] = rlen;
        snprintf(s->sid[s->n], 32, "%s", sid);
    }
    s->n++;
    return 0;
}

int main(void)
{
    const char *json = "{\"v\":1,\"sid\":\"ses_01ABC\",\"keys\":[[\"ses:ses_01ABC\",\"hash\","
                       "[\"id\",\"ses_01ABC\",\"text\",\"h\\u00e9llo \\u0000 world\"]]]}";
    unsigned char *rec = NULL;
    size_t rl = 0;
    CHECK_INT(og_archive_record_encode("ses_01ABC", json, strlen(json), &rec, &rl), OG_OK);
    CHECK(rl > OG_ARCHIVE_HDR && memcmp(rec, "OGA1", 4) == 0);
    char sid[32], *out = NULL;
    size_t ol = 0, used = 0;
    CHECK_INT(og_archive_record_decode(rec, rl, sid, &out, &ol, &used), OG_OK);
    CHECK_STR(sid, "ses_01ABC");
    CHECK(ol == strlen(json) && out && memcmp(out, json, ol) == 0 && out[ol] == 0);
    CHECK_INT(used, rl);
    free(out);

    /* refusals: nothing handed out */
    out = (char *)1;
    CHECK_INT(og_archive_record_decode(rec, rl - 1, sid, &out, &ol, &used), OG_ERR_INVALID);
    CHECK(out == NULL);
    CHECK_INT(og_archive_record_decode(rec, 10, sid, &out, &ol, &used), OG_ERR_INVALID);
    for (size_t at = 0; at < rl; at += 7) {
        unsigned char *bad = malloc(rl);
        memcpy(bad, rec, rl);
        bad[at] ^= 0x10;
        char *o = NULL;
        og_err e = og_archive_record_decode(bad, rl, sid, &o, &ol, &used);
        CHECK(e == OG_ERR_INVALID && o == NULL);
        free(bad);
    }
    unsigned char *none = NULL;
    CHECK_INT(og_archive_record_encode("ses/../x", "{}", 2, &none, &ol), OG_ERR_INVALID);
    CHECK_INT(og_archive_record_encode("", "{}", 2, &none, &ol), OG_ERR_INVALID);
    CHECK_INT(og_archive_record_encode("ses_0123456789012345678901234567", "{}", 2, &none, &ol),
              OG_ERR_INVALID);
    CHECK(none == NULL);

    /* a scan: record, torn write, record */
    unsigned char *rec2 = NULL;
    size_t rl2 = 0;
    CHECK_INT(og_archive_record_encode("ses_2", "{}", 2, &rec2, &rl2), OG_OK);
    size_t torn = 30, total = rl + torn + rl2;
    unsigned char *seg = malloc(total);
    memcpy(seg, rec, rl);
    memcpy(seg + rl, rec2, torn); /* a record cut short by a crash */
    memcpy(seg + rl + torn, rec2, rl2);
    struct seen s = {0};
    CHECK_INT(og_archive_scan(seg, total, see, &s), 2);
    CHECK_INT(s.n, 2);
    CHECK_INT(s.off[0], 0);
    CHECK_INT(s.len[0], rl);
    CHECK_STR(s.sid[0], "ses_01ABC");
    CHECK_INT(s.off[1], rl + torn);
    CHECK_INT(s.len[1], rl2);
    CHECK_STR(s.sid[1], "ses_2");
    CHECK_INT(og_archive_scan(seg, 0, see, &s), 0);
    free(seg), free(rec), free(rec2);
    return og_test_done();
}
