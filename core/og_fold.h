/* og_fold - text folded for comparing words the way a person reads them:
 * the sensitive-word lists (og_sensitive.h) and the canned-response search
 * (og_canned.h) fold both sides with it, so "Idiot", "IDIÓT" and "ｉｄｉｏｔ"
 * are one word, and so are "Ёлка" and "елка", "バカ", "ﾊﾞｶ" and "ばか".
 *
 * What folding does, code point by code point (UTF-8 in, UTF-8 out; a byte
 * that starts no valid sequence is read as U+FFFD):
 *   - case: ASCII, Latin (Latin-1, Extended-A, B and Additional), Greek,
 *     Cyrillic (and its supplement), full-width Latin;
 *   - accents: a Latin letter becomes the letter its Unicode canonical
 *     decomposition (NFD) starts with, "é" -> "e", "ș" -> "s", "ǎ" -> "a",
 *     "ế" -> "e"; letters without one are spelled out: "ß" -> "ss",
 *     "æ" -> "ae", "œ" -> "oe", "ø" -> "o", "ł" -> "l", "đ" -> "d",
 *     "þ" -> "th", "ı" -> "i"; Greek tonos and dialytika go ("ά" -> "α",
 *     final "ς" -> "σ"); Cyrillic letters with a diacritic become their base
 *     letter by the same decomposition rule ("ё" -> "е", "й" -> "и",
 *     "ї" -> "і", "ў" -> "у"), as a reader who types without them expects;
 *     combining marks (U+0300-036F and the other combining blocks) are
 *     dropped, so decomposed input folds like composed input;
 *   - width and kana: full-width ASCII becomes ASCII, half-width katakana
 *     becomes full-width, katakana becomes hiragana ("バカ" -> "ばか"); a
 *     voiced or semi-voiced sound mark (combining U+3099/309A, spacing
 *     U+309B/309C, half-width U+FF9E/FF9F) joins the kana before it
 *     ("ﾊﾞ" -> "ば"). The marks themselves are kept: "か" and "が" are
 *     different words in Japanese, unlike "e" and "é" in French;
 *   - ligatures "ﬁ", "ﬂ", "ﬀ", "ﬃ", "ﬄ", "ﬅ", "ﬆ" are spelled out;
 *   - white space: every run of Unicode white space becomes one ASCII space,
 *     with none at either end; control characters (NUL included),
 *     zero-width characters (U+200B-200D, U+2060, U+FEFF) and the soft
 *     hyphen are dropped.
 * Everything else (CJK ideographs, digits, punctuation, emoji, and the few
 * Latin letters with neither a base letter nor a spelling, such as "ɓ") is
 * kept as it is. Folding is idempotent: og_fold(og_fold(s)) == og_fold(s).
 *
 * The Latin tables are the base letters that NFD gives for U+00C0-024F and
 * U+1E00-1EFF ('.' where there is none), written out from Python's
 * unicodedata; nothing here needs a Unicode library at run time. */
#ifndef OG_FOLD_H
#define OG_FOLD_H
#include <stddef.h>
#include <stdint.h>

/* s[0..n) folded [xfer], NUL-terminated; *outlen gets its length (may be NULL). */
char *og_fold(const char *s, size_t n, size_t *outlen);

/* The code point at p (n > 0 bytes left) into *cp; returns the bytes it
 * took. A byte that starts no valid UTF-8 sequence is U+FFFD, 1 byte. */
size_t og_fold_decode(const unsigned char *p, size_t n, uint32_t *cp);

/* 1 when cp belongs to a script written without spaces between words
 * (hiragana, katakana, CJK ideographs, Thai, Lao, Khmer, Myanmar): a term in
 * such a script matches anywhere, not only as a whole word. */
int og_fold_unspaced(uint32_t cp);
/* 1 when cp is a letter or digit of a script written with spaces (Latin,
 * Greek, Cyrillic, Hangul, ...): what word boundaries are made of. */
int og_fold_word_char(uint32_t cp);
#endif
