/* test_crypto - og_hmac_sha256 and og_sha1 (core/og_util.c), which keep a
 * keyed HMAC context and a digest context per thread: RFC 4231's HMAC
 * vectors and FIPS 180's SHA-1 ones; keys that change from call to call
 * (the same length, a prefix of the last, a key longer than the kept
 * copy's 256 bytes) each give OpenSSL's one-shot HMAC(); and four threads
 * hashing under their own keys at once agree with it. */
#include "og_test.h"
#include "og_util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void hex(const unsigned char *d, size_t n, char *out)
{
    og_hex_encode(d, n, out, 2 * n + 1);
}

/* og_hmac_sha256 against HMAC() for one key and message. */
static int agrees(const void *key, size_t klen, const void *msg, size_t mlen)
{
    unsigned char a[32], b[32];
    unsigned int n = 0;
    og_hmac_sha256(key, klen, msg, mlen, a);
    HMAC(EVP_sha256(), key, (int)klen, msg, mlen, b, &n);
    return n == 32 && memcmp(a, b, 32) == 0;
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg, *bad = og_calloc(1, sizeof *bad);
    char key[40], msg[64];
    for (int i = 0; i < 3000; i++) {
        /* mostly its own key, sometimes another's */
        snprintf(key, sizeof key, "secret-%d", i % 7 == 0 ? (id + 1) % 4 : id);
        int m = snprintf(msg, sizeof msg, "message %d of thread %d", i, id);
        *bad += !agrees(key, strlen(key), msg, (size_t)m);
    }
    return bad;
}

int main(void)
{
    char h[65];
    unsigned char d[32];
    /* RFC 4231 test cases 1 and 2 */
    unsigned char k1[20];
    memset(k1, 0x0b, sizeof k1);
    og_hmac_sha256(k1, sizeof k1, "Hi There", 8, d);
    hex(d, 32, h);
    CHECK_STR(h, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    og_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
    hex(d, 32, h);
    CHECK_STR(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* the first key again, after the second was kept */
    og_hmac_sha256(k1, sizeof k1, "Hi There", 8, d);
    hex(d, 32, h);
    CHECK_STR(h, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    /* keys that change: same length, a prefix, empty, longer than kept */
    unsigned char big[300];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7 + 1);
    CHECK(agrees("abcd", 4, "m", 1));
    CHECK(agrees("abce", 4, "m", 1));
    CHECK(agrees("abc", 3, "m", 1));
    CHECK(agrees("", 0, "m", 1));
    CHECK(agrees(big, sizeof big, "m", 1));
    CHECK(agrees(big, sizeof big, "n", 1));
    CHECK(agrees(big, 256, "m", 1));
    CHECK(agrees(big, 257, "m", 1));
    CHECK(agrees(big, 256, "m", 1));
    CHECK(agrees("abcd", 4, "", 0));

    pthread_t th[4];
    for (int t = 0; t < 4; t++)
        pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    int bad = 0;
    for (int t = 0; t < 4; t++) {
        void *r = NULL;
        pthread_join(th[t], &r);
        bad += *(int *)r;
        free(r);
    }
    CHECK_INT(bad, 0);

    /* FIPS 180 SHA-1: "abc", the empty string, and two in a row */
    unsigned char s[20];
    og_sha1("abc", 3, s);
    hex(s, 20, h);
    CHECK_STR(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    og_sha1("", 0, s);
    hex(s, 20, h);
    CHECK_STR(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    og_sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, s);
    hex(s, 20, h);
    CHECK_STR(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    return og_test_done();
}
