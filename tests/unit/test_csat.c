/* test_csat - the survey's pure parts (og_csat.h): a messenger answer
 * recognised as a score (or not), the survey's text, and the signed link's
 * token (made, checked, forged, expired, malformed). */
#include "og_csat.h"
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

static int ans(const char *s, int scale)
{
    return og_csat_parse_answer(s, strlen(s), scale);
}

static void test_answers(void)
{
    /* scale 5: digits, "n/5", keycaps, stars */
    CHECK_INT(ans("4", 5), 4);
    CHECK_INT(ans(" 5 \n", 5), 5);
    CHECK_INT(ans("1", 5), 1);
    CHECK_INT(ans("4/5", 5), 4);
    CHECK_INT(ans("4 / 5", 5), 4);
    CHECK_INT(ans("3.", 5), 3);
    CHECK_INT(ans("5!", 5), 5);
    CHECK_INT(ans("4\xef\xb8\x8f\xe2\x83\xa3", 5), 4);                        /* 4️⃣ */
    CHECK_INT(ans("\xe2\x98\x85\xe2\x98\x85\xe2\x98\x85", 5), 3);             /* ★★★ */
    CHECK_INT(ans("\xe2\xad\x90\xef\xb8\x8f\xe2\xad\x90\xef\xb8\x8f", 5), 2); /* ⭐️⭐️ */
    CHECK_INT(ans("\xe2\x98\x85 \xe2\x98\x85 \xe2\x98\x85 \xe2\x98\x85 \xe2\x98\x85", 5), 5);
    /* not answers: out of the scale, other scales, words, numbers in text */
    CHECK_INT(ans("0", 5), 0);
    CHECK_INT(ans("6", 5), 0);
    CHECK_INT(ans("10", 5), 0);
    CHECK_INT(ans("45", 5), 0);
    CHECK_INT(ans("4/10", 5), 0);
    CHECK_INT(ans("4/", 5), 0);
    CHECK_INT(ans("4 5", 5), 0);
    CHECK_INT(ans("4 stars", 5), 0);
    CHECK_INT(ans("I need 4 more", 5), 0);
    CHECK_INT(ans("order 4", 5), 0);
    CHECK_INT(ans("-4", 5), 0);
    CHECK_INT(ans("4..", 5), 0);
    CHECK_INT(ans("", 5), 0);
    CHECK_INT(ans("   ", 5), 0);
    CHECK_INT(ans("\xe2\x98\x85\xe2\x98\x85\xe2\x98\x85\xe2\x98\x85\xe2\x98\x85\xe2\x98\x85", 5),
              0);
    CHECK_INT(ans("\xe2\x98\x85 good", 5), 0);
    CHECK_INT(ans("\xf0\x9f\x91\x8d", 5), 0); /* a thumb on a 5 scale: no guess */
    CHECK_INT(ans("\xff", 5), 0);             /* bad UTF-8 */
    CHECK_INT(ans("4", 3), 0);                /* no such scale */
    /* scale 2: thumbs with any skin tone, 1 and 2 */
    CHECK_INT(ans("\xf0\x9f\x91\x8d", 2), 2);                 /* 👍 */
    CHECK_INT(ans("\xf0\x9f\x91\x8e", 2), 1);                 /* 👎 */
    CHECK_INT(ans("\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", 2), 2); /* 👍🏽 */
    CHECK_INT(ans(" \xf0\x9f\x91\x8e\xef\xb8\x8f ", 2), 1);
    CHECK_INT(ans("2", 2), 2);
    CHECK_INT(ans("1/2", 2), 1);
    CHECK_INT(ans("3", 2), 0);
    CHECK_INT(ans("4/5", 2), 0);
    CHECK_INT(ans("\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d", 2), 0);
    CHECK_INT(ans("\xe2\x98\x85", 2), 0);
    /* not NUL-terminated: only len bytes count */
    CHECK_INT(og_csat_parse_answer("45", 1, 5), 4);
    /* a long message is never an answer */
    char big[200];
    memset(big, ' ', sizeof big);
    big[100] = '4';
    CHECK_INT(og_csat_parse_answer(big, sizeof big, 5), 0);
}

static void test_text(void)
{
    char *s = og_csat_survey_text(5, "How did we do?");
    CHECK_STR(s, "How did we do?\nReply with a number from 1 (poor) to 5 (excellent).");
    free(s);
    s = og_csat_survey_text(2, NULL);
    CHECK_STR(s,
              "How would you rate this conversation?\nReply \xf0\x9f\x91\x8d or \xf0\x9f\x91\x8e.");
    free(s);
}

#define SID "ses_01JDX0000000000000000000AB"

static void test_token(void)
{
    unsigned char key[32], other[32];
    og_csat_key("an-admin-token-0123456789", key);
    og_csat_key("another-admin-token-98765", other);
    CHECK(memcmp(key, other, 32) != 0);
    char tok[OG_CSAT_TOKEN_MAX], sid[48];
    int expired = -1;
    size_t n = og_csat_token_make(key, SID, 2000000000, tok, sizeof tok);
    CHECK(n > 0 && n == strlen(tok));
    CHECK(strncmp(tok, SID ".2000000000.", strlen(SID) + 12) == 0);
    CHECK_INT(strlen(tok), strlen(SID) + 12 + 32);
    CHECK_INT(og_csat_token_check(key, tok, n, 1900000000, sid, sizeof sid, &expired), OG_OK);
    CHECK_STR(sid, SID);
    CHECK_INT(expired, 0);
    /* expired: the signature is good, the time passed */
    CHECK_INT(og_csat_token_check(key, tok, n, 2000000000, sid, sizeof sid, &expired),
              OG_ERR_SIGNATURE);
    CHECK_INT(expired, 1);
    CHECK_STR(sid, "");
    /* another key, a changed expiry, session or mac: forged, never "expired" */
    CHECK_INT(og_csat_token_check(other, tok, n, 1900000000, sid, sizeof sid, &expired),
              OG_ERR_SIGNATURE);
    CHECK_INT(expired, 0);
    char t2[OG_CSAT_TOKEN_MAX];
    snprintf(t2, sizeof t2, "%s", tok);
    t2[strlen(SID) + 1] = '3'; /* 3000000000 */
    CHECK_INT(og_csat_token_check(key, t2, n, 1900000000, sid, sizeof sid, &expired),
              OG_ERR_SIGNATURE);
    snprintf(t2, sizeof t2, "%s", tok);
    t2[n - 1] = t2[n - 1] == '0' ? '1' : '0';
    CHECK_INT(og_csat_token_check(key, t2, n, 1900000000, sid, sizeof sid, &expired),
              OG_ERR_SIGNATURE);
    snprintf(t2, sizeof t2, "%s", tok);
    t2[10] = t2[10] == 'A' ? 'B' : 'A';
    CHECK_INT(og_csat_token_check(key, t2, n, 1900000000, sid, sizeof sid, &expired),
              OG_ERR_SIGNATURE);
    CHECK_INT(expired, 0);
    /* malformed */
    const char *bad[] = {"",       ".",          "..",       SID,          SID ".1",
                         SID "..", "ses_x.1.00", SID ".01.", SID ".1.2.3", "x.y.z"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_INT(og_csat_token_check(key, bad[i], strlen(bad[i]), 0, sid, sizeof sid, &expired),
                  OG_ERR_SIGNATURE);
    /* a NUL inside, and a prefix of a good token */
    CHECK_INT(og_csat_token_check(key, tok, n + 1, 1900000000, sid, sizeof sid, &expired),
              OG_ERR_SIGNATURE);
    CHECK_INT(og_csat_token_check(key, tok, n - 1, 1900000000, sid, sizeof sid, &expired),
              OG_ERR_SIGNATURE);
    /* making: only a session id */
    CHECK_INT(og_csat_token_make(key, "con_01JDX0000000000000000000AB", 1, tok, sizeof tok), 0);
    CHECK_INT(og_csat_token_make(key, SID, 1, tok, 20), 0);
    /* the derivation as docs/openapi.yaml tells it (computed apart, with
     * Python's hmac), so a client may mint and check links too */
    unsigned char k3[32];
    og_csat_key("fuzz-admin-token-0123456789", k3);
    const char *doc = "ses_01JDX0000000000000000000AB.1900000001.174e121c16f07ad18700d1422cf52c1c";
    CHECK_INT(og_csat_token_check(k3, doc, strlen(doc), 1800000000, sid, sizeof sid, &expired),
              OG_OK);
    CHECK_STR(sid, SID);
    /* the link */
    char *l = og_csat_link(key, "https://chat.example.com/", SID);
    CHECK(strncmp(l, "https://chat.example.com/csat/" SID ".", 31 + strlen(SID)) == 0);
    const char *t3 = l + strlen("https://chat.example.com/csat/");
    CHECK_INT(
        og_csat_token_check(key, t3, strlen(t3), og_now_ms() / 1000, sid, sizeof sid, &expired),
        OG_OK);
    CHECK_INT(og_csat_token_check(key, t3, strlen(t3), og_now_ms() / 1000 + OG_CSAT_LINK_TTL_S + 5,
                                  sid, sizeof sid, &expired),
              OG_ERR_SIGNATURE);
    CHECK_INT(expired, 1);
    free(l);
    l = og_csat_link(key, "", SID);
    CHECK_STR(l, "");
    free(l);
}

static og_err body(const char *b, int json, int *score, char **comment)
{
    char msg[128];
    return og_csat_parse_body(b, strlen(b), json, score, comment, msg, sizeof msg);
}

static void test_body(void)
{
    int sc;
    char *cm;
    CHECK_INT(body("score=4", 0, &sc, &cm), OG_OK);
    CHECK_INT(sc, 4);
    CHECK(cm == NULL);
    CHECK_INT(body("score=5&comment=Quick+and+kind%21%20%C3%A9", 0, &sc, &cm), OG_OK);
    CHECK_INT(sc, 5);
    CHECK_STR(cm, "Quick and kind! \xc3\xa9");
    free(cm);
    CHECK_INT(body("comment=&score=2", 0, &sc, &cm), OG_OK);
    CHECK(cm == NULL); /* an empty box is no comment */
    const char *bad_forms[] = {"",
                               "score=",
                               "score=0",
                               "score=10",
                               "score=4&score=5",
                               "score=4&x=1",
                               "score=4&comment=%zz",
                               "score=4&comment=%0",
                               "score=4&comment=%00",
                               "score=4&comment=%FF",
                               "comment=hi"};
    for (size_t i = 0; i < sizeof bad_forms / sizeof *bad_forms; i++) {
        CHECK_INT(body(bad_forms[i], 0, &sc, &cm), OG_ERR_INVALID);
        CHECK(cm == NULL);
    }
    CHECK_INT(body("{\"score\":3,\"comment\":\"ok\"}", 1, &sc, &cm), OG_OK);
    CHECK_INT(sc, 3);
    CHECK_STR(cm, "ok");
    free(cm);
    CHECK_INT(body("{\"score\":1,\"comment\":null}", 1, &sc, &cm), OG_OK);
    CHECK(cm == NULL);
    const char *bad_json[] = {"",
                              "[]",
                              "{\"score\":\"4\"}",
                              "{\"score\":4.5}",
                              "{\"score\":0}",
                              "{}",
                              "{\"score\":4,\"x\":1}",
                              "{\"score\":4,\"comment\":5}",
                              "{\"score\":4,\"comment\":\"a\\u0000b\"}",
                              "{\"score\":4} x"};
    for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++) {
        CHECK_INT(body(bad_json[i], 1, &sc, &cm), OG_ERR_INVALID);
        CHECK(cm == NULL);
    }
    char big[2100];
    memset(big, 'a', sizeof big);
    memcpy(big, "score=4&comment=", 16);
    big[sizeof big - 1] = 0;
    CHECK_INT(body(big, 0, &sc, &cm), OG_ERR_INVALID);
}

int main(void)
{
    test_body();
    test_answers();
    test_text();
    test_token();
    return og_test_done();
}
