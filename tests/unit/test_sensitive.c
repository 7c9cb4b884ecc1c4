/* test_sensitive - folding (core/og_fold.c) and sensitive-word matching
 * (core/og_sensitive.c), without Redis: case and accents in Latin scripts,
 * Greek, Cyrillic (ё/й), Japanese (katakana/hiragana, half-width kana and
 * sound marks, full-width ASCII), decomposed input, white space and
 * zero-width characters; whole-word matching, stars at the edges, scripts
 * without spaces, phrases, the term rules, and that nothing else matches. */
#include "og_fold.h"
#include "og_sensitive.h"
#include "og_test.h"

#include <stdlib.h>
#include <string.h>

static void fold_is(const char *in, const char *want)
{
    char *f = og_fold(in, strlen(in), NULL);
    CHECK_STR(f, want);
    /* idempotent */
    char *ff = og_fold(f, strlen(f), NULL);
    CHECK_STR(ff, f);
    free(ff);
    free(f);
}

static void test_fold(void)
{
    fold_is("Hello WORLD", "hello world");
    fold_is("Crème Brûlée à la façon", "creme brulee a la facon");
    fold_is("ÀÉÎÕÜ Ñ Ç Ÿ", "aeiou n c y");
    fold_is("Straße Æsir Œuvre Øl Łódź Þór Đorđe ı", "strasse aesir oeuvre ol lodz thor dorde i");
    fold_is("ȘȚ șț ǍǏ Ơ ư", "st st ai o u");       /* Latin Extended-B */
    fold_is("Tiếng Việt ĐẶNG", "tieng viet dang"); /* Latin Extended Additional */
    fold_is("e\xcc\x81t\xc3\xa9", "ete");          /* "e" + U+0301 (decomposed) */
    fold_is("ΆΛΦΑ ΣΟΦΟΣ σοφός", "αλφα σοφοσ σοφοσ");
    fold_is("ИДИОТ Ёлка йод Їжак", "идиот елка иод іжак");
    fold_is("е\xcc\x88лка", "елка"); /* "е" + U+0308 */
    fold_is("バカ ﾊﾞｶ ばか", "ばか ばか ばか");
    fold_is("ﾊﾟﾝ パン", "ぱん ぱん");
    fold_is("か\xe3\x82\x99", "が");      /* "か" + combining voiced mark */
    fold_is("ＩＤＩＯＴ１２", "idiot12"); /* full-width ASCII */
    fold_is("ﬁne ﬂow", "fine flow");
    fold_is("  a \t\n b\xe3\x80\x80"
            "c  ",
            "a b c"); /* runs, ends, U+3000 */
    fold_is("s\xe2\x80\x8b"
            "c\xc2\xad"
            "am",
            "scam");                     /* zero-width space, soft hyphen */
    fold_is("漢字 😀 50%", "漢字 😀 50%"); /* kept */
    fold_is("\xff"
            "a",
            "\xef\xbf\xbd"
            "a");                                /* a bad byte reads as U+FFFD */
    char nul[] = {'a', 0, 'b', 0x7f, 'c', 0x01}; /* control characters go, NUL too */
    char *f = og_fold(nul, sizeof nul, NULL);
    CHECK_STR(f, "abc");
    free(f);
}

/* The terms of list that text matches, as JSON text, "" for none. */
static char *match(const char *const *list, size_t n, const char *text)
{
    struct og_sensitive *s = og_sensitive_new(list, n);
    char *m = og_sensitive_match(s, text, strlen(text));
    og_sensitive_free(s);
    return m ? m : strdup("");
}

static void matches(const char *const *list, size_t n, const char *text, const char *want)
{
    char *m = match(list, n, text);
    CHECK_STR(m, want);
    if (strcmp(m, want) != 0)
        fprintf(stderr, "  text: %s\n", text);
    free(m);
}

static void test_match(void)
{
    static const char *const en[] = {"idiot", "bank account", "refund*", "*scam", "ass"};
    matches(en, 5, "You are an IDIOT!", "[\"idiot\"]");
    matches(en, 5, "what an ídíöt.", "[\"idiot\"]");
    matches(en, 5, "idiots", ""); /* whole words */
    matches(en, 5, "my Bank\n  Account number", "[\"bank account\"]");
    matches(en, 5, "Refunds please", "[\"refund*\"]");
    matches(en, 5, "a refund", "[\"refund*\"]");
    matches(en, 5, "prerefund", ""); /* no star on the left */
    matches(en, 5, "this is a total antiscam scam", "[\"*scam\"]");
    matches(en, 5, "scammer", ""); /* no star on the right */
    matches(en, 5, "first class passage", "");
    matches(en, 5, "kick ass, idiot", "[\"idiot\",\"ass\"]"); /* list order, each once */
    matches(en, 5, "idiot idiot IDIOT", "[\"idiot\"]");
    matches(en, 5, "", "");

    static const char *const ru[] = {"идиот*", "ёжик", "дурак"};
    matches(ru, 3, "Ты ИДИОТКА", "[\"идиот*\"]");
    matches(ru, 3, "ежик в тумане", "[\"ёжик\"]"); /* ё folded both ways */
    matches(ru, 3, "ДУРАК!", "[\"дурак\"]");
    matches(ru, 3, "дураки", "");

    static const char *const ja[] = {"バカ", "死ね", "返金"};
    matches(ja, 3, "お前はばかだ", "[\"バカ\"]"); /* inside a sentence, no spaces */
    matches(ja, 3, "ﾊﾞｶやろう", "[\"バカ\"]");    /* half-width with sound mark */
    matches(ja, 3, "はか", "");                   /* the voiced mark is kept */
    matches(ja, 3, "返金してください。死ね", "[\"死ね\",\"返金\"]");

    static const char *const mixed[] = {"*scam*", "  spaced  ", "a+b"};
    matches(mixed, 3, "SCAMMERS everywhere", "[\"*scam*\"]");
    matches(mixed, 3, "a spaced word", "[\"spaced\"]");
    matches(mixed, 3, "x a+b=c", "[\"a+b\"]");

    /* repeats are compiled once */
    static const char *const rep[] = {"Idiot", "idiot", "IDIÓT"};
    matches(rep, 3, "idiot", "[\"Idiot\"]");
    /* nothing to match */
    CHECK(og_sensitive_new(NULL, 0) == NULL);
    CHECK(og_sensitive_match(NULL, "x", 1) == NULL);
}

static void test_terms(void)
{
    char err[128];
    CHECK_INT(og_sensitive_term_check("idiot", err, sizeof err), 0);
    CHECK_INT(og_sensitive_term_check("*scam*", err, sizeof err), 0);
    CHECK_INT(og_sensitive_term_check("ばか", err, sizeof err), 0);
    CHECK_INT(og_sensitive_term_check("id*ot", err, sizeof err), -1);
    CHECK(strstr(err, "may only begin or end") != NULL);
    CHECK_INT(og_sensitive_term_check("*", err, sizeof err), -1);
    CHECK_INT(og_sensitive_term_check("**", err, sizeof err), -1);
    CHECK_INT(og_sensitive_term_check("   ", err, sizeof err), -1);
    CHECK_INT(og_sensitive_term_check("", err, sizeof err), -1);
    CHECK_INT(og_sensitive_term_check("a\x01", err, sizeof err), -1);
    CHECK_INT(og_sensitive_term_check("\xff", err, sizeof err), -1);
    char big[OG_SENSITIVE_TERM_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK_INT(og_sensitive_term_check(big, err, sizeof err), -1);
    /* a bad term in a list is left out, the rest still works */
    static const char *const list[] = {"id*ot", "fine"};
    matches(list, 2, "fine id*ot", "[\"fine\"]");
}

int main(void)
{
    test_fold();
    test_match();
    test_terms();
    return og_test_done();
}
