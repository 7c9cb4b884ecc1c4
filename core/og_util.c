/* og_util - see og_util.h. Crypto comes from OpenSSL's libcrypto; nothing
 * here re-implements a primitive. */
#include "og_util.h"

#include <ctype.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void oom(void)
{
    static const char msg[] = "omnigate: out of memory\n";
    fwrite(msg, 1, sizeof msg - 1, stderr);
    abort();
}

void *og_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *og_calloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p)
        oom();
    return p;
}

void *og_realloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        oom();
    return p;
}

char *og_strdup(const char *s)
{
    return s ? og_strndup(s, strlen(s)) : NULL;
}

char *og_strndup(const char *s, size_t n)
{
    char *d = og_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *og_sprintf(const char *fmt, ...)
{
    /* Most results (keys, ids, numbers) fit the stack buffer: one
     * formatting pass and a copy instead of a measuring pass and a second. */
    char small[256];
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0, small[0] = 0;
    char *s = og_malloc((size_t)n + 1);
    if ((size_t)n < sizeof small)
        memcpy(s, small, (size_t)n + 1);
    else
        vsnprintf(s, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return s;
}

char *og_join(const char *s, ...)
{
    va_list ap;
    size_t n = 0;
    va_start(ap, s);
    for (const char *p = s; p; p = va_arg(ap, const char *))
        n += strlen(p);
    va_end(ap);
    char *out = og_malloc(n + 1), *w = out;
    va_start(ap, s);
    for (const char *p = s; p; p = va_arg(ap, const char *)) {
        size_t l = strlen(p);
        memcpy(w, p, l);
        w += l;
    }
    va_end(ap);
    *w = '\0';
    return out;
}

size_t og_fmt_ll(char out[24], long long v)
{
    char tmp[24];
    size_t n = 0;
    /* the magnitude as unsigned, so LLONG_MIN has one too */
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        tmp[n++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    size_t len = 0;
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    out[len] = '\0';
    return len;
}

size_t og_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src), k = n < size ? n : size - 1;
    memcpy(dst, src, k);
    dst[k] = '\0';
    return n;
}

/* OMNIGATE_TEST_CLOCK (tests only): the path of a file holding the Unix ms
 * og_now_ms returns, read on every call, so a test scripts a day: it
 * writes a time, acts, writes a later one. Read once from the environment. */
static const char *test_clock_path;
static pthread_once_t test_clock_once = PTHREAD_ONCE_INIT;
static void test_clock_init(void)
{
    const char *p = getenv("OMNIGATE_TEST_CLOCK");
    test_clock_path = p && *p ? p : NULL;
}

int64_t og_test_clock_ms(void)
{
    pthread_once(&test_clock_once, test_clock_init);
    if (!test_clock_path)
        return -1;
    char buf[32];
    int fd = open(test_clock_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *end;
    long long v = strtoll(buf, &end, 10);
    return end != buf && v > 0 ? (int64_t)v : -1;
}

int64_t og_now_ms(void)
{
    int64_t t = og_test_clock_ms();
    if (t > 0)
        return t;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t og_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec og_deadline(int clk, int64_t ms)
{
    struct timespec ts;
    clock_gettime((clockid_t)clk, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    return ts;
}

void og_time_rfc3339(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    /* Years beyond 9999 cannot occur in a wall clock; clamp to keep 4 digits. */
    if (tm.tm_year > 8099)
        tm.tm_year = 8099;
    /* "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" written digit by digit: a
     * timestamp is rendered several times a message */
    int v[7] = {(tm.tm_year + 1900) % 10000,
                (tm.tm_mon + 1) % 100,
                tm.tm_mday % 100,
                tm.tm_hour % 100,
                tm.tm_min % 100,
                tm.tm_sec % 100,
                (int)(ms % 1000)};
    static const int width[7] = {4, 2, 2, 2, 2, 2, 3};
    static const char after[7] = {'-', '-', 'T', ':', ':', '.', 'Z'};
    char *p = out;
    for (int i = 0; i < 7; i++) {
        int x = v[i] < 0 ? 0 : v[i];
        for (int d = width[i] - 1; d >= 0; d--, x /= 10)
            p[d] = (char)('0' + x % 10);
        p += width[i];
        *p++ = after[i];
    }
    *p = 0;
}

/* RAND_bytes costs a few microseconds a call whatever its size (the DRBG's
 * locks and reseed checks), and ingest makes seven 10-byte ids a message:
 * that was ~9% of the gateway's CPU in bench_ingest (#22). So a request of
 * up to 64 bytes is served from a per-thread buffer that RAND_bytes fills
 * 1 KB at a time: the same generator's bytes, each handed out once and
 * wiped from the buffer as it is. A forked child (fork_gen) refills
 * instead of repeating its parent's bytes. */
enum { RB_SIZE = 1024, RB_SMALL = 64 };
static _Thread_local unsigned char rb_buf[RB_SIZE];
static _Thread_local size_t rb_left;
static _Thread_local unsigned rb_gen;
static atomic_uint fork_gen = 1;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void forked(void)
{
    atomic_fetch_add(&fork_gen, 1);
}
static void fork_watch(void)
{
    pthread_atfork(NULL, NULL, forked);
}

void og_random_bytes(void *out, size_t n)
{
    if (n > RB_SMALL) {
        if (RAND_bytes(out, (int)n) != 1)
            abort(); /* no randomness means no safe ids or secrets */
        return;
    }
    pthread_once(&fork_once, fork_watch);
    unsigned gen = atomic_load(&fork_gen);
    if (rb_left < n || rb_gen != gen) {
        if (RAND_bytes(rb_buf, RB_SIZE) != 1)
            abort();
        rb_left = RB_SIZE;
        rb_gen = gen;
    }
    unsigned char *p = rb_buf + RB_SIZE - rb_left;
    memcpy(out, p, n);
    OPENSSL_cleanse(p, n);
    rb_left -= n;
}

/* The last id made in this process's latest millisecond: its ms and its
 * 80 random bits (two 40-bit halves). */
static pthread_mutex_t id_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t id_ms = -1;
static uint64_t id_hi, id_lo;

#define ID_HALF ((UINT64_C(1) << 40) - 1)

void og_id_new(const char *prefix, int64_t ms, char *out, size_t outsz)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    unsigned char r[10];
    char id[OG_ID_LEN + 1];
    uint64_t t = (uint64_t)ms;
    for (int i = 9; i >= 0; i--) { /* 10 chars = 50 bits of time */
        id[i] = alphabet[t & 31];
        t >>= 5;
    }
    og_random_bytes(r, sizeof r);
    /* 80 random bits -> 16 chars */
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 5; i++)
        hi = (hi << 8) | r[i];
    for (int i = 5; i < 10; i++)
        lo = (lo << 8) | r[i];
    /* Within one millisecond, ids follow the order they are made in:
     * the random part is the previous one's plus 1 to 2^32 (random), so
     * messages stored one after another in the same millisecond list in
     * their order (a session's history sorts by id) and an id still cannot
     * be guessed from the previous one. An earlier ms (a bound to search
     * by, a clock stepped back) gets fresh bits and leaves the record. */
    pthread_mutex_lock(&id_mu);
    if (ms == id_ms) {
        uint64_t l = id_lo + 1 + (lo & 0xffffffffu), h = id_hi + (l >> 40);
        if (h <= ID_HALF) /* else (after ~2^47 ids in one ms) fresh bits */
            hi = h, lo = l & ID_HALF;
    }
    if (ms >= id_ms)
        id_ms = ms, id_hi = hi, id_lo = lo;
    pthread_mutex_unlock(&id_mu);
    for (int i = 0; i < 8; i++)
        id[10 + i] = alphabet[(hi >> (35 - 5 * i)) & 31];
    for (int i = 0; i < 8; i++)
        id[18 + i] = alphabet[(lo >> (35 - 5 * i)) & 31];
    id[OG_ID_LEN] = 0;
    /* snprintf's "%s%s", without its formatting machinery (seven ids a
     * message): the prefix and the id, cut to fit out */
    size_t n = 0, pl = prefix ? strlen(prefix) : 0;
    if (!outsz)
        return;
    for (size_t i = 0; i < pl && n + 1 < outsz; i++)
        out[n++] = prefix[i];
    for (size_t i = 0; i < OG_ID_LEN && n + 1 < outsz; i++)
        out[n++] = id[i];
    out[n] = 0;
}

/* HMAC() looks the algorithm and the digest up by name on every call (a
 * provider-store search under locks: ~7 % of the webhook dispatcher's CPU).
 * A context with the digest set is made once; each call duplicates it and
 * sets only the key. */
static EVP_MAC_CTX *g_hmac_sha256; /* never freed: lives as long as the process */
static pthread_once_t g_hmac_once = PTHREAD_ONCE_INIT;

static void hmac_template(void)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    g_hmac_sha256 = mac ? EVP_MAC_CTX_new(mac) : NULL;
    if (g_hmac_sha256 && !EVP_MAC_CTX_set_params(g_hmac_sha256, params)) {
        EVP_MAC_CTX_free(g_hmac_sha256);
        g_hmac_sha256 = NULL;
    }
    EVP_MAC_free(mac); /* the context keeps its own reference */
}

/* A thread's crypto contexts (#22), kept between calls: a connector
 * verifies every request of a channel under the same secret, and a context
 * duplicated, keyed and freed per call was a quarter of the HMAC's
 * instructions; a SHA-1 context made per digest (EVP_Digest) cost more than
 * the short id it hashes. Freed when the thread ends (the key's
 * destructor). */
enum { TL_KEY_MAX = 256 }; /* a longer HMAC key is not kept: keyed per call */
struct tl_crypto {
    EVP_MAC_CTX *hmac; /* keyed with key[0..klen) */
    unsigned char key[TL_KEY_MAX];
    size_t klen;
    EVP_MD_CTX *md;
};
static pthread_key_t g_tl_key;
static pthread_once_t g_tl_once = PTHREAD_ONCE_INIT;
static EVP_MD *g_sha1; /* never freed: lives as long as the process */

static void tl_crypto_free(void *p)
{
    struct tl_crypto *t = p;
    EVP_MAC_CTX_free(t->hmac);
    EVP_MD_CTX_free(t->md);
    OPENSSL_cleanse(t->key, sizeof t->key);
    free(t);
}

static void tl_crypto_init(void)
{
    if (pthread_key_create(&g_tl_key, tl_crypto_free) != 0)
        abort();
    g_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
}

static struct tl_crypto *tl_crypto(void)
{
    pthread_once(&g_tl_once, tl_crypto_init);
    struct tl_crypto *t = pthread_getspecific(g_tl_key);
    if (!t) {
        t = og_calloc(1, sizeof *t);
        if (pthread_setspecific(g_tl_key, t) != 0)
            abort();
    }
    return t;
}

void og_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                    unsigned char out[32])
{
    pthread_once(&g_hmac_once, hmac_template);
    struct tl_crypto *t = tl_crypto();
    int same = t->hmac && klen == t->klen && memcmp(key, t->key, klen) == 0;
    if (!t->hmac && g_hmac_sha256)
        t->hmac = EVP_MAC_CTX_dup(g_hmac_sha256);
    if (!t->hmac)
        abort();
    if (!same && klen <= TL_KEY_MAX) {
        memcpy(t->key, key, klen);
        t->klen = klen;
    } else if (!same) {
        t->klen = (size_t)-1; /* keyed with one not kept: never "same" */
    }
    size_t n = 0;
    /* a NULL key: a new message under the key already set */
    if (!EVP_MAC_init(t->hmac, same ? NULL : key, same ? 0 : klen, NULL) ||
        !EVP_MAC_update(t->hmac, msg, mlen) || !EVP_MAC_final(t->hmac, out, &n, 32) || n != 32)
        abort();
}

void og_sha1(const void *msg, size_t mlen, unsigned char out[20])
{
    struct tl_crypto *t = tl_crypto();
    if (!t->md)
        t->md = EVP_MD_CTX_new();
    unsigned int n = 0;
    if (!t->md || !g_sha1 || !EVP_DigestInit_ex2(t->md, g_sha1, NULL) ||
        !EVP_DigestUpdate(t->md, msg, mlen) || !EVP_DigestFinal_ex(t->md, out, &n) || n != 20)
        SHA1(msg, mlen, out); /* no provider's SHA-1 at hand: the one-shot */
}

/* A keyed context: EVP_MAC_init with a NULL key starts a new message
 * under the key already set, without processing the key again. */
struct og_hmac {
    EVP_MAC_CTX *ctx;
};

struct og_hmac *og_hmac_new(const void *key, size_t klen)
{
    pthread_once(&g_hmac_once, hmac_template);
    struct og_hmac *h = og_calloc(1, sizeof *h);
    h->ctx = g_hmac_sha256 ? EVP_MAC_CTX_dup(g_hmac_sha256) : NULL;
    if (!h->ctx || !EVP_MAC_init(h->ctx, key, klen, NULL))
        abort();
    return h;
}

void og_hmac_run(struct og_hmac *h, const void *a, size_t alen, const void *b, size_t blen,
                 unsigned char out[32])
{
    size_t n = 0;
    if (!EVP_MAC_init(h->ctx, NULL, 0, NULL) || !EVP_MAC_update(h->ctx, a, alen) ||
        !EVP_MAC_update(h->ctx, b, blen) || !EVP_MAC_final(h->ctx, out, &n, 32) || n != 32)
        abort();
}

void og_hmac_free(struct og_hmac *h)
{
    if (!h)
        return;
    EVP_MAC_CTX_free(h->ctx);
    free(h);
}

void og_sha256(const void *msg, size_t mlen, unsigned char out[32])
{
    SHA256(msg, mlen, out);
}

int og_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return 0;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

size_t og_hex_encode(const void *in, size_t len, char *out, size_t outsz)
{
    static const char hx[] = "0123456789abcdef";
    const unsigned char *p = in;
    if (outsz < len * 2 + 1)
        return (size_t)-1;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[len * 2] = 0;
    return len * 2;
}

size_t og_base64_encode(const void *in, size_t len, char *out, size_t outsz)
{
    size_t need = 4 * ((len + 2) / 3) + 1;
    if (outsz < need)
        return (size_t)-1;
    return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

size_t og_base64_decode(const char *in, size_t len, unsigned char *out, size_t outsz)
{
    if (len % 4 != 0 || outsz < len / 4 * 3 + 1)
        return (size_t)-1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0)
        return (size_t)-1;
    /* EVP_DecodeBlock counts the padding bytes as output; take them off. */
    if (len >= 1 && in[len - 1] == '=')
        n--;
    if (len >= 2 && in[len - 2] == '=')
        n--;
    return (size_t)n;
}

void og_buf_reserve(struct og_buf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->data = og_realloc(b->data, cap);
        b->cap = cap;
    }
}

void og_buf_append(struct og_buf *b, const void *p, size_t n)
{
    og_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void og_buf_puts(struct og_buf *b, const char *s)
{
    og_buf_append(b, s, strlen(s));
}

void og_buf_printf(struct og_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        og_buf_append(b, tmp, (size_t)n);
        return;
    }
    char *big = og_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    og_buf_append(b, big, (size_t)n);
    free(big);
}

size_t og_utf8_seq(const unsigned char *p, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range (RFC 3629) */
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
        hi = c == 0xed ? 0x9f : 0xbf; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf; /* nothing above U+10FFFF */
    } else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

int og_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = og_utf8_seq(p + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

char *og_utf8_fix(const char *s, size_t n, size_t *outlen)
{
    struct og_buf b = {0};
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0, i = 0;
    while (i < n) {
        size_t k = og_utf8_seq(p + i, n - i);
        if (k) {
            i += k;
            continue;
        }
        og_buf_append(&b, s + run, i - run);
        og_buf_append(&b, "\xEF\xBF\xBD", 3); /* U+FFFD for the byte that cannot start one */
        run = ++i;
    }
    og_buf_append(&b, s + run, n - run);
    if (outlen)
        *outlen = b.len;
    return b.data ? b.data : og_strdup("");
}

/* The first byte of s[0..n) that is not printable ASCII or is a quote or
 * a backslash (what JSON must escape or check), or n: eight bytes at a
 * time while none of them is one (a text is mostly such bytes). */
static size_t plain_run(const unsigned char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, q, bs;
        memcpy(&x, s + i, 8);
        q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
        /* a byte below 0x20, a byte with its high bit, a zero byte of q or bs */
        uint64_t hit = ((x - ones * 0x20) & ~x) | x | ((q - ones) & ~q) | ((bs - ones) & ~bs);
        if (hit & highs)
            break;
    }
    while (i < n && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' && s[i] != '\\')
        i++;
    return i;
}

void og_buf_json_str(struct og_buf *b, const char *s)
{
    if (!s) {
        og_buf_puts(b, "null");
        return;
    }
    og_buf_append(b, "\"", 1);
    const char *run = s;
    const unsigned char *end = (const unsigned char *)s + strlen(s);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        /* printable ASCII other than quote and backslash goes as it is */
        p += plain_run(p, (size_t)(end - p));
        if (!*p)
            break;
        const char *esc = NULL;
        char u[8];
        size_t skip = 1;
        switch (*p) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (*p < 0x20) {
                snprintf(u, sizeof u, "\\u%04x", *p);
                esc = u;
            } else if (*p >= 0x80) {
                /* Only valid UTF-8 leaves: a byte that starts no valid
                 * sequence becomes U+FFFD, so the JSON is always valid. */
                skip = og_utf8_seq(p, strnlen((const char *)p, 4));
                if (skip == 0) {
                    esc = "\xEF\xBF\xBD";
                    skip = 1;
                }
            }
        }
        if (esc) {
            og_buf_append(b, run, (size_t)((const char *)p - run));
            og_buf_puts(b, esc);
            run = (const char *)p + skip;
        }
        p += skip;
    }
    og_buf_puts(b, run);
    og_buf_append(b, "\"", 1);
}

void og_buf_free(struct og_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int og_id_valid(const char *s, const char *prefix)
{
    size_t pl = strlen(prefix), n = s ? strlen(s) : 0;
    if (n != pl + OG_ID_LEN || strncmp(s, prefix, pl) != 0)
        return 0;
    for (size_t i = pl; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
            return 0;
    return 1;
}

int64_t og_time_parse(const char *s, int *date_only)
{
    int y, mo, d, h = 0, mi = 0, se = 0, n = 0;
    int dummy;
    if (!date_only)
        date_only = &dummy;
    *date_only = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    const char *p = s + 10;
    int64_t frac_ms = 0, off_s = 0;
    if (*p == 0) {
        *date_only = 1;
    } else {
        if (*p != 'T' && *p != 't' && *p != ' ')
            return -1;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &se, &n) != 3 || n != 8)
            return -1;
        p += 9;
        if (*p == '.') {
            int digits = 0;
            for (p++; isdigit((unsigned char)*p); p++, digits++)
                if (digits < 3)
                    frac_ms = frac_ms * 10 + (*p - '0');
            if (!digits)
                return -1;
            for (; digits < 3; digits++)
                frac_ms *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5)
                return -1;
            off_s = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
            p += 6;
        } else {
            return -1;
        }
        if (*p)
            return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || y < 1970)
        return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se};
    time_t t = timegm(&tm);
    return ((int64_t)t - off_s) * 1000 + frac_ms;
}
