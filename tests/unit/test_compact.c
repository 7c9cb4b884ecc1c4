/* test_compact - core/og_compact.c: a customer's message tail coded as the
 * message's hash keeps it and decoded back. Asserts the codes of the keys
 * against prelude.lua's MSG_KEYS (the Lua side decodes the same bytes),
 * a round trip of every key, nested objects, unknown keys and key-like text
 * inside strings, and that m without its three tabs is refused. */
#include "og_compact.h"
#include "og_test.h"

#include <stdlib.h>
#include <string.h>

static char *pack(const char *tail)
{
    struct og_buf b = {0};
    og_compact_tail(&b, tail, strlen(tail));
    og_buf_append(&b, "", 0);
    return b.data;
}

/* tail -> m -> JSON: the tail again, in braces */
static void round_trip(const char *tail)
{
    char *p = pack(tail);
    char *m = og_sprintf("con_1\t\"Ann\"\t\t%s", p);
    char *j = og_compact_json(m, strlen(m));
    char *want = og_sprintf("{%s}", tail);
    CHECK_STR(j, want);
    free(p);
    free(m);
    free(j);
    free(want);
}

/* the i-th key (from 1) of MSG_KEYS codes as the i-th byte of 1-31 that is
 * not JSON whitespace */
static void keys_match_lua(void)
{
    char *lua = og_test_read_src("core/lua/prelude.lua", NULL);
    CHECK(lua != NULL);
    if (!lua)
        return;
    char *at = strstr(lua, "local MSG_KEYS = {");
    CHECK(at != NULL);
    char *end = at ? strchr(at, '}') : NULL;
    int i = 0;
    for (char *q = at ? strchr(at, '\'') : NULL; q && q < end; q = strchr(q + 1, '\'')) {
        char *close = strchr(q + 1, '\'');
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(close - q - 1), q + 1);
        q = close;
        i++;
        char *tail = og_sprintf("\"%s\":1", key);
        char *p = pack(tail);
        int code = i + (i >= 9 ? 2 : 0) + (i >= 11 ? 1 : 0);
        char want[3] = {(char)code, '1', 0};
        CHECK_STR(p, want);
        free(tail);
        free(p);
    }
    CHECK_INT(i, 20);
    free(lua);
}

int main(void)
{
    keys_match_lua();
    /* a text message as og_core.c renders its tail */
    const char *text = "\"kind\":\"text\",\"text\":\"hi, \\\"kind\\\":x {\\\"name\\\":1}\","
                       "\"attachments\":[],\"location\":null,\"provider_message_id\":\"p1\","
                       "\"reply_to_provider_id\":null,\"created_at\":\"2026-12-03T09:00:00.000Z\"";
    char *p = pack(text);
    /* the keys are codes; the text's key-like parts are not */
    CHECK(strstr(p, "\"kind\":") == NULL);
    CHECK(strstr(p, "\\\"kind\\\":x {\\\"name\\\":1}") != NULL);
    CHECK(p[0] == 1 && !strncmp(p + 1, "\"text\",\x02\"hi,", 11));
    free(p);
    round_trip(text);
    /* attachments and a location: nested keys are coded too */
    round_trip("\"kind\":\"image\",\"text\":null,\"attachments\":[{\"url\":\"https://x/1\","
               "\"source_url\":null,\"media_id\":\"m1\",\"mime_type\":\"image/png\",\"name\":"
               "\"a.png\",\"size\":12}],\"location\":{\"latitude\":1.5,\"longitude\":-2,"
               "\"name\":null,\"address\":\"x\"},\"provider_message_id\":null,"
               "\"reply_to_provider_id\":null,\"created_at\":\"t\",\"payload\":\"b1\","
               "\"flags\":[\"sensitive\"],\"sensitive_terms\":[\"x\"]");
    /* an unknown key stays as it is, the next known one is coded */
    p = pack("\"future_key\":{\"kind\":1},\"text\":\"\"");
    CHECK_STR(p, "\"future_key\":{\x01"
                 "1},\x02\"\"");
    free(p);
    round_trip("\"future_key\":{\"kind\":1},\"text\":\"\"");
    /* not a key: no colon, an empty name, the end of the text */
    p = pack("\"kind\",\"\":1,\"text\"");
    CHECK_STR(p, "\"kind\",\"\":1,\"text\"");
    free(p);
    /* m without its three tab-separated heads */
    CHECK(og_compact_json("con_1\tx", 7) == NULL);
    return og_test_done();
}
