/* test_json - core/og_json.c's one strict parser and og_util's UTF-8 code:
 *   - valid documents parse, whatever their strings hold (braces, quotes,
 *     escaped backslashes before a "u0000" that is only text);
 *   - refused, with the offset of the problem: a duplicate key at any depth
 *     (also spelled with an escape), a NUL in a string (\u0000), single
 *     quotes, trailing data, a NUL byte, invalid UTF-8 with OG_JSON_UTF8;
 *   - og_utf8_seq follows RFC 3629 (no overlong forms, surrogates, or code
 *     points above U+10FFFF); og_utf8_fix and og_buf_json_str replace what
 *     is invalid by U+FFFD and keep the rest. */
#include "og_json.h"
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

static int ok(const char *s)
{
    json_object *j = og_json_parse_strict(s, strlen(s), OG_JSON_UTF8, NULL);
    json_object_put(j);
    return j != NULL;
}

static const char *why(const char *s, size_t len, size_t *off)
{
    struct og_json_error e;
    json_object *j = og_json_parse_strict(s, len, OG_JSON_UTF8, &e);
    json_object_put(j);
    *off = e.offset;
    return j ? NULL : e.what;
}

static void test_parse(void)
{
    CHECK(ok("{\"a\":1,\"b\":[{\"a\":1},{\"a\":2}],\"c\":{\"a\":{\"a\":1}}}"));
    CHECK(ok("{\"s\":\"{\\\"a\\\":1,\\\"a\\\":2}\",\"t\":\"x\\\\u0000y\"}"));
    CHECK(ok("[{\"k\":1},{\"k\":1}]"));
    CHECK(ok("42"));
    CHECK(ok("{\"name\":\"J\xc3\xbcrgen \xe6\x97\xa5\xe6\x9c\xac\"}"));
    size_t off;
    const char *dup = "{\"a\":1,\"b\":{\"x\":1,\"x\":2}}";
    CHECK(why(dup, strlen(dup), &off) && strstr(why(dup, strlen(dup), &off), "same key"));
    CHECK_INT(off, 11);
    /* runs of backslashes before a quote: "a\\" and "a\\\"" are two keys;
     * a string ending in an escaped backslash ends there */
    CHECK(ok("{\"a\\\\\":1,\"a\\\\\\\"\":2}"));
    const char *bs = "{\"x\":\"\\\\\",\"k\":1,\"k\":2}";
    CHECK(why(bs, strlen(bs), &off) != NULL);
    CHECK_INT(off, 0);
    const char *esc = "[1,{\"a\":1,\"\\u0061\":2}]";
    CHECK(why(esc, strlen(esc), &off) != NULL);
    const char *nul = "{\"id\":\"a\\u0000b\"}";
    CHECK(why(nul, strlen(nul), &off) && strstr(why(nul, strlen(nul), &off), "NUL"));
    CHECK_INT(off, 8);
    const char *sq = "{'a':1}";
    CHECK(why(sq, strlen(sq), &off) != NULL);
    const char *trail = "{\"a\":1} x";
    CHECK(why(trail, strlen(trail), &off) != NULL);
    CHECK_INT(off, 8);
    const char nulbyte[] = "{\"a\":\"x\0y\"}";
    CHECK(why(nulbyte, sizeof nulbyte - 1, &off) != NULL);
    CHECK(!ok("{\"a\":\"\xff\"}"));
    json_object *lenient = og_json_parse_strict("{\"a\":\"\xff\"}", 9, 0, NULL);
    CHECK(lenient != NULL); /* without OG_JSON_UTF8 the bytes are taken */
    json_object_put(lenient);
}

static void test_utf8(void)
{
    const unsigned char good[][5] = {{'a'},
                                     {0xc2, 0xa9},
                                     {0xe2, 0x82, 0xac},
                                     {0xf0, 0x9f, 0x98, 0x80},
                                     {0xf4, 0x8f, 0xbf, 0xbf}};
    const size_t glen[] = {1, 2, 3, 4, 4};
    for (size_t i = 0; i < 5; i++)
        CHECK_INT(og_utf8_seq(good[i], glen[i]), glen[i]);
    const unsigned char bad[][4] = {{0x80},
                                    {0xc0, 0xaf},
                                    {0xc1, 0xbf},
                                    {0xe0, 0x80, 0xaf},
                                    {0xed, 0xa0, 0x80},
                                    {0xf4, 0x90, 0x80, 0x80},
                                    {0xf5, 0x80, 0x80, 0x80},
                                    {0xe2, 0x82},
                                    {0xff}};
    const size_t blen[] = {1, 2, 2, 3, 3, 4, 4, 2, 1};
    for (size_t i = 0; i < 9; i++)
        CHECK_INT(og_utf8_seq(bad[i], blen[i]), 0);
    size_t n = 0;
    char *f = og_utf8_fix("a\xff"
                          "b\xe2\x82"
                          "c\xe2\x82\xac",
                          9, &n);
    CHECK_STR(f, "a\xef\xbf\xbd"
                 "b\xef\xbf\xbd\xef\xbf\xbd"
                 "c\xe2\x82\xac");
    CHECK_INT(n, strlen(f));
    free(f);
    struct og_buf b = {0};
    og_buf_json_str(&b, "x\xff\"y\xe2\x82\xac\x01");
    CHECK_STR(b.data, "\"x\xef\xbf\xbd\\\"y\xe2\x82\xac\\u0001\"");
    CHECK(og_utf8_valid(b.data, b.len));
    og_buf_free(&b);
}

int main(void)
{
    test_parse();
    test_utf8();
    return og_test_done();
}
