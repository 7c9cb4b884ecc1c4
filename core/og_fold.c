/* og_fold - see og_fold.h. One pass over the text: decode a code point,
 * fold it into at most three (fold_cp), append; two bits of state carry
 * across code points: a pending space (runs collapse, ends are trimmed) and
 * the last kana written (a following sound mark joins it). */
#include "og_fold.h"
#include "og_util.h"

#include <string.h>

/* Base letters of U+00C0-017F, U+0180-024F and U+1E00-1EFF: the first code
 * point of each one's NFD, lower-cased, when that is an ASCII letter; '.'
 * when it is not (those are in spelled[] or stay as they are). Written out
 * with Python's unicodedata:
 *   ''.join(unicodedata.normalize('NFD', chr(c))[0].lower() if
 *           unicodedata.normalize('NFD', chr(c))[0].isascii() and
 *           unicodedata.normalize('NFD', chr(c))[0].isalpha() else '.'
 *           for c in range(lo, hi)) */
static const char latin_1a[] = /* U+00C0-017F */
    "aaaaaa.ceeeeiiii.nooooo..uuuuy..aaaaaa.ceeeeiiii.nooooo..uuuuy.y"
    "aaaaaaccccccccdd..eeeeeeeeeegggggggghh..iiiiiiiii...jjkk.llllll."
    "...nnnnnn...oooooo..rrrrrrsssssssstttt..uuuuuuuuuuuuwwyyyzzzzzz.";
static const char latin_b[] = /* U+0180-024F */
    "................................oo.............uu..............."
    ".............aaiioouuuuuuuuuu.aaaa....ggkkoooo..j...gg..nnaa...."
    "aaaaeeeeiiiioooorrrruuuusstt..hh......aaeeooooooooyy............"
    "................";
static const char latin_add[] = /* U+1E00-1EFF */
    "aabbbbbbccddddddddddeeeeeeeeeeffgghhhhhhhhhhiiiikkkkkkllllllllmm"
    "mmmmnnnnnnnnoooooooopppprrrrrrrrssssssssssttttttttuuuuuuuuuuvvvv"
    "wwwwwwwwwwxxxxyyzzzzzzhtwy......aaaaaaaaaaaaaaaaaaaaaaaaeeeeeeee"
    "eeeeeeeeiiiioooooooooooooooooooooooouuuuuuuuuuuuuuyyyyyyyy......";

/* Latin letters without a decomposition, spelled as a reader would type
 * them. Sorted by code point. */
static const struct {
    uint16_t cp;
    char s[3];
} spelled[] = {
    {0x00C6, "ae"}, {0x00D0, "d"},  {0x00D8, "o"},  {0x00DE, "th"}, {0x00DF, "ss"}, {0x00E6, "ae"},
    {0x00F0, "d"},  {0x00F8, "o"},  {0x00FE, "th"}, {0x0110, "d"},  {0x0111, "d"},  {0x0126, "h"},
    {0x0127, "h"},  {0x0131, "i"},  {0x0132, "ij"}, {0x0133, "ij"}, {0x0138, "k"},  {0x013F, "l"},
    {0x0140, "l"},  {0x0141, "l"},  {0x0142, "l"},  {0x0149, "n"},  {0x014A, "n"},  {0x014B, "n"},
    {0x0152, "oe"}, {0x0153, "oe"}, {0x0166, "t"},  {0x0167, "t"},  {0x017F, "s"},  {0x0180, "b"},
    {0x0191, "f"},  {0x0192, "f"},  {0x0197, "i"},  {0x019A, "l"},  {0x01B5, "z"},  {0x01B6, "z"},
    {0x01C4, "dz"}, {0x01C5, "dz"}, {0x01C6, "dz"}, {0x01C7, "lj"}, {0x01C8, "lj"}, {0x01C9, "lj"},
    {0x01CA, "nj"}, {0x01CB, "nj"}, {0x01CC, "nj"}, {0x01E2, "ae"}, {0x01E3, "ae"}, {0x01E4, "g"},
    {0x01E5, "g"},  {0x01F1, "dz"}, {0x01F2, "dz"}, {0x01F3, "dz"}, {0x01FC, "ae"}, {0x01FD, "ae"},
    {0x01FE, "o"},  {0x01FF, "o"},  {0x1E9B, "s"},  {0x1E9E, "ss"},
};

/* Lower-case Cyrillic letters with a diacritic and their base letter (NFD). */
static const uint16_t cyr_base[][2] = {
    {0x0439, 0x0438}, {0x0450, 0x0435}, {0x0451, 0x0435}, {0x0453, 0x0433}, {0x0457, 0x0456},
    {0x045C, 0x043A}, {0x045D, 0x0438}, {0x045E, 0x0443}, {0x0477, 0x0475}, {0x04C2, 0x0436},
    {0x04D1, 0x0430}, {0x04D3, 0x0430}, {0x04D7, 0x0435}, {0x04DB, 0x04D9}, {0x04DD, 0x0436},
    {0x04DF, 0x0437}, {0x04E3, 0x0438}, {0x04E5, 0x0438}, {0x04E7, 0x043E}, {0x04EB, 0x04E9},
    {0x04ED, 0x044D}, {0x04EF, 0x0443}, {0x04F1, 0x0443}, {0x04F3, 0x0443}, {0x04F5, 0x0447},
    {0x04F9, 0x044B},
};

/* Half-width katakana U+FF61-FF9D as full-width (their NFKC form). */
static const uint16_t halfwidth[] = {
    0x3002, 0x300C, 0x300D, 0x3001, 0x30FB, 0x30F2, 0x30A1, 0x30A3, 0x30A5, 0x30A7, 0x30A9,
    0x30E3, 0x30E5, 0x30E7, 0x30C3, 0x30FC, 0x30A2, 0x30A4, 0x30A6, 0x30A8, 0x30AA, 0x30AB,
    0x30AD, 0x30AF, 0x30B1, 0x30B3, 0x30B5, 0x30B7, 0x30B9, 0x30BB, 0x30BD, 0x30BF, 0x30C1,
    0x30C4, 0x30C6, 0x30C8, 0x30CA, 0x30CB, 0x30CC, 0x30CD, 0x30CE, 0x30CF, 0x30D2, 0x30D5,
    0x30D8, 0x30DB, 0x30DE, 0x30DF, 0x30E0, 0x30E1, 0x30E2, 0x30E4, 0x30E6, 0x30E8, 0x30E9,
    0x30EA, 0x30EB, 0x30EC, 0x30ED, 0x30EF, 0x30F3,
};

size_t og_fold_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t k = og_utf8_seq(p, n);
    switch (k) {
    case 1: *cp = p[0]; return 1;
    case 2: *cp = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f); return 2;
    case 3:
        *cp = (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
        return 3;
    case 4:
        *cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
              (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
        return 4;
    default: *cp = 0xFFFD; return 1;
    }
}

static void put_cp(struct og_buf *b, uint32_t cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | cp >> 6), u[1] = (unsigned char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | cp >> 12), u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | cp >> 18), u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)),
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    og_buf_append(b, u, n);
}

static int is_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

/* Control characters (but the white space above), combining marks,
 * zero-width characters and the soft hyphen: dropped. */
static int is_dropped(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x0300 && cp <= 0x036F) ||
           (cp >= 0x0483 && cp <= 0x0489) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
           (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
           (cp >= 0xFE20 && cp <= 0xFE2F) || (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 ||
           cp == 0xFEFF || cp == 0x00AD;
}

/* A Latin letter from the tables: its spelling into out, or 0 when it has
 * none (the caller keeps it). */
static size_t fold_latin(uint32_t cp, char base, uint32_t out[3])
{
    if (base != '.') {
        out[0] = (uint32_t)base;
        return 1;
    }
    for (size_t i = 0; i < sizeof spelled / sizeof *spelled; i++)
        if (spelled[i].cp == cp) {
            size_t n = strlen(spelled[i].s);
            for (size_t k = 0; k < n; k++)
                out[k] = (uint32_t)spelled[i].s[k];
            return n;
        }
    return 0;
}

static uint32_t fold_greek(uint32_t cp)
{
    switch (cp) {
    case 0x0386:
    case 0x03AC: return 0x03B1; /* alpha */
    case 0x0388:
    case 0x03AD: return 0x03B5; /* epsilon */
    case 0x0389:
    case 0x03AE: return 0x03B7; /* eta */
    case 0x038A:
    case 0x0390:
    case 0x03AA:
    case 0x03AF:
    case 0x03CA: return 0x03B9; /* iota */
    case 0x038C:
    case 0x03CC: return 0x03BF; /* omicron */
    case 0x038E:
    case 0x03AB:
    case 0x03B0:
    case 0x03CB:
    case 0x03CD: return 0x03C5; /* upsilon */
    case 0x038F:
    case 0x03CE: return 0x03C9; /* omega */
    case 0x03C2: return 0x03C3; /* final sigma */
    default: break;
    }
    if ((cp >= 0x0391 && cp <= 0x03A1) || (cp >= 0x03A3 && cp <= 0x03A9))
        return cp + 0x20;
    return cp;
}

static uint32_t fold_cyrillic(uint32_t cp)
{
    if (cp <= 0x040F)
        cp += 0x50;
    else if (cp <= 0x042F)
        cp += 0x20;
    else if (((cp >= 0x0460 && cp <= 0x0481) || (cp >= 0x048A && cp <= 0x04BF) ||
              (cp >= 0x04D0 && cp <= 0x052F)) &&
             cp % 2 == 0)
        cp += 1;
    else if (cp == 0x04C0)
        cp = 0x04CF;
    else if (cp >= 0x04C1 && cp <= 0x04CE && cp % 2 == 1)
        cp += 1;
    for (size_t i = 0; i < sizeof cyr_base / sizeof *cyr_base; i++)
        if (cyr_base[i][0] == cp)
            return cyr_base[i][1];
    return cp;
}

/* Katakana (full- or half-width) as hiragana. */
static uint32_t fold_kana(uint32_t cp)
{
    if (cp >= 0xFF61 && cp <= 0xFF9D)
        cp = halfwidth[cp - 0xFF61];
    if ((cp >= 0x30A1 && cp <= 0x30F6) || cp == 0x30FD || cp == 0x30FE)
        cp -= 0x60;
    return cp;
}

/* One code point folded into out (1..3); see og_fold.h for the rules. */
static size_t fold_cp(uint32_t cp, uint32_t out[3])
{
    size_t n = 0;
    if (cp < 0x80)
        out[0] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    else if (cp >= 0x00C0 && cp <= 0x017F)
        n = fold_latin(cp, latin_1a[cp - 0x00C0], out);
    else if (cp >= 0x0180 && cp <= 0x024F)
        n = fold_latin(cp, latin_b[cp - 0x0180], out);
    else if (cp >= 0x1E00 && cp <= 0x1EFF)
        n = fold_latin(cp, latin_add[cp - 0x1E00], out);
    else if (cp >= 0x0370 && cp <= 0x03FF)
        out[0] = fold_greek(cp);
    else if (cp >= 0x0400 && cp <= 0x052F)
        out[0] = fold_cyrillic(cp);
    else if (cp >= 0xFF01 && cp <= 0xFF5E)
        return fold_cp(cp - 0xFEE0, out); /* full-width ASCII */
    else if (cp >= 0xFB00 && cp <= 0xFB06) {
        static const char *const lig[] = {"ff", "fi", "fl", "ffi", "ffl", "st", "st"};
        const char *s = lig[cp - 0xFB00];
        for (n = 0; s[n]; n++)
            out[n] = (uint32_t)s[n];
        return n;
    } else
        out[0] = fold_kana(cp);
    if (n == 0 && cp >= 0x00C0 && ((cp <= 0x024F) || (cp >= 0x1E00 && cp <= 0x1EFF)))
        out[0] = cp; /* a Latin letter with no base: kept */
    return n ? n : 1;
}

/* The voiced (mark 1) or semi-voiced (mark 2) form of hiragana cp, or 0
 * when it has none. */
static uint32_t voiced(uint32_t cp, int mark)
{
    int ha_row = cp == 0x306F || cp == 0x3072 || cp == 0x3075 || cp == 0x3078 || cp == 0x307B;
    if (mark == 2)
        return ha_row ? cp + 2 : 0;
    if (cp == 0x3046)
        return 0x3094; /* u -> vu */
    if (ha_row || (cp >= 0x304B && cp <= 0x3061 && cp % 2 == 1) || cp == 0x3064 || cp == 0x3066 ||
        cp == 0x3068)
        return cp + 1;
    return 0;
}

static int sound_mark(uint32_t cp)
{
    if (cp == 0x3099 || cp == 0x309B || cp == 0xFF9E)
        return 1;
    if (cp == 0x309A || cp == 0x309C || cp == 0xFF9F)
        return 2;
    return 0;
}

char *og_fold(const char *s, size_t n, size_t *outlen)
{
    struct og_buf b = {0};
    og_buf_append(&b, "", 0);
    const unsigned char *p = (const unsigned char *)s;
    int space = 0;
    uint32_t last = 0; /* the last code point written, for a sound mark */
    for (size_t i = 0; i < n;) {
        uint32_t cp, out[3];
        i += og_fold_decode(p + i, n - i, &cp);
        if (is_space(cp)) {
            space = b.len > 0;
            continue;
        }
        int mark = sound_mark(cp);
        if (mark) {
            uint32_t v = last && !space ? voiced(last, mark) : 0;
            if (v) { /* the kana is 3 bytes of UTF-8: rewrite it */
                b.len -= 3;
                put_cp(&b, v);
                last = v;
            }
            continue;
        }
        if (is_dropped(cp))
            continue;
        if (space) {
            og_buf_append(&b, " ", 1);
            space = 0;
        }
        size_t k = fold_cp(cp, out);
        for (size_t j = 0; j < k; j++)
            put_cp(&b, out[j]);
        last = k == 1 && out[0] >= 0x3041 && out[0] <= 0x3096 ? out[0] : 0;
    }
    b.data[b.len] = 0;
    if (outlen)
        *outlen = b.len;
    return b.data;
}

int og_fold_unspaced(uint32_t cp)
{
    return (cp >= 0x0E00 && cp <= 0x0EFF) || /* Thai, Lao */
           (cp >= 0x1000 && cp <= 0x109F) || /* Myanmar */
           (cp >= 0x1780 && cp <= 0x17FF) || /* Khmer */
           (cp >= 0x3040 && cp <= 0x30FF) || /* hiragana, katakana */
           (cp >= 0x31F0 && cp <= 0x31FF) || /* katakana extensions */
           (cp >= 0x3400 && cp <= 0x4DBF) || /* CJK extension A */
           (cp >= 0x4E00 && cp <= 0x9FFF) || /* CJK ideographs */
           (cp >= 0xF900 && cp <= 0xFAFF) || /* CJK compatibility */
           (cp >= 0xFF66 && cp <= 0xFF9F) || /* half-width katakana */
           (cp >= 0x20000 && cp <= 0x3FFFF); /* CJK extensions B.. */
}

int og_fold_word_char(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7 || og_fold_unspaced(cp))
        return 0;
    /* modifier letters and combining marks, Greek punctuation, general
     * punctuation to dingbats, CJK punctuation, full-width punctuation,
     * private use, specials and emoji: not parts of words */
    if ((cp >= 0x02B0 && cp <= 0x036F) || cp == 0x037E || cp == 0x0387 ||
        (cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
        (cp >= 0xE000 && cp <= 0xF8FF) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
        (cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFFF0 && cp <= 0xFFFF) ||
        (cp >= 0x1F000 && cp <= 0x1FAFF))
        return 0;
    return 1;
}
