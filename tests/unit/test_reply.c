/* test_reply - gateway/og_reply.c, the one table from og_err to what a
 * client sees:
 *   - every og_err has a status and a code, and the statuses the API has
 *     always answered hold (400, 401, 403, 404, 409, 413, 429, 501, 503);
 *   - every code of the table is unique and answers its own status through
 *     og_reply_code, with the JSON error shape;
 *   - README.md's error table (between <!-- errors:begin/end -->) lists
 *     exactly the table's codes with the same statuses, in the same order;
 *   - og_reply_header keeps one line per name: a later value replaces an
 *     earlier one, Vary joins, Set-Cookie adds, CR/LF never pass. */
#include "og_reply.h"
#include "og_test.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_statuses(void)
{
    CHECK_INT(og_reply_status(OG_OK), 200);
    CHECK_INT(og_reply_status(OG_ERR_INVALID), 400);
    CHECK_INT(og_reply_status(OG_ERR_SIGNATURE), 401);
    CHECK_INT(og_reply_status(OG_ERR_AUTH), 401);
    CHECK_INT(og_reply_status(OG_ERR_FORBIDDEN), 403);
    CHECK_INT(og_reply_status(OG_ERR_NOT_FOUND), 404);
    CHECK_INT(og_reply_status(OG_ERR_CONFLICT), 409);
    CHECK_INT(og_reply_status(OG_ERR_TOO_LARGE), 413);
    CHECK_INT(og_reply_status(OG_ERR_RATE_LIMITED), 429);
    CHECK_INT(og_reply_status(OG_ERR_UNSUPPORTED), 501);
    CHECK_INT(og_reply_status(OG_ERR_UNAVAILABLE), 503);
    CHECK_INT(og_reply_status(OG_ERR_RETRYABLE), 503);
    CHECK_INT(og_reply_status(OG_ERR_PERMANENT), 500);
    CHECK_STR(og_reply_code_of(OG_ERR_SIGNATURE), "invalid_signature");
    CHECK_STR(og_reply_code_of(OG_ERR_RETRYABLE), "unavailable");
    for (int e = 1; e < OG_ERR__LAST; e++) {
        CHECK(og_reply_status((og_err)e) >= 400);
        CHECK(og_reply_code_of((og_err)e) != NULL);
    }
}

static void test_codes(void)
{
    const struct og_reply_row *t = og_reply_table();
    for (size_t i = 0; t[i].code; i++) {
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(t[i].code, t[j].code) != 0);
        struct og_reply r = {0};
        og_reply_code(&r, t[i].code, "why");
        CHECK_INT(r.status, t[i].status);
        json_object *j = json_tokener_parse(r.body);
        json_object *err = json_object_object_get(j, "error");
        CHECK_STR(json_object_get_string(json_object_object_get(err, "code")), t[i].code);
        CHECK_STR(json_object_get_string(json_object_object_get(err, "message")), "why");
        json_object_put(j);
        free(r.body);
    }
    struct og_reply r = {0};
    og_reply_code(&r, "no_such_code", "x");
    CHECK_INT(r.status, 500);
    free(r.body);
}

static void test_readme(void)
{
    char *text = og_test_read_src("README.md", NULL);
    CHECK(text != NULL);
    if (!text)
        return;
    const char *p = strstr(text, "<!-- errors:begin -->");
    const char *end = p ? strstr(p, "<!-- errors:end -->") : NULL;
    CHECK(p && end);
    const struct og_reply_row *t = og_reply_table();
    size_t i = 0;
    while (p && end && (p = strstr(p, "\n| `")) && p < end) {
        char code[64];
        int status;
        CHECK(sscanf(p, "\n| `%63[a-z_]` | %d |", code, &status) == 2);
        CHECK(t[i].code != NULL);
        if (t[i].code) {
            CHECK_STR(code, t[i].code);
            CHECK_INT(status, t[i].status);
            i++;
        }
        p++;
    }
    CHECK(t[i].code == NULL); /* every row is in the README */
    free(text);
}

static void test_headers(void)
{
    struct og_reply r = {0};
    og_reply_header(&r, "Cache-Control", "no-cache");
    og_reply_header(&r, "Vary", "Accept-Encoding");
    og_reply_header(&r, "Set-Cookie", "a=1");
    og_reply_header(&r, "cache-control", "no-store");
    og_reply_header(&r, "Vary", "Accept");
    og_reply_header(&r, "Set-Cookie", "b=2");
    og_reply_header(&r, "X-Evil", "a\r\nSet-Cookie: c=3");
    CHECK_STR(r.headers, "Set-Cookie: a=1\ncache-control: no-store\nVary: Accept-Encoding, "
                         "Accept\nSet-Cookie: b=2\nX-Evil: aSet-Cookie: c=3\n");
    free(r.headers);
}

int main(void)
{
    test_headers();
    test_statuses();
    test_codes();
    test_readme();
    return og_test_done();
}
