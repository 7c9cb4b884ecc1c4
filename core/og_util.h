/* og_util - ids, clock, crypto and encoding helpers shared by the core, the
 * gateway and (through the services table) the connectors. All functions are
 * thread-safe and allocate nothing unless they say [xfer]. */
#ifndef OG_UTIL_H
#define OG_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Allocation that never returns NULL: omnigate aborts on OOM, as Redis does. */
void *og_malloc(size_t n);
void *og_calloc(size_t n, size_t m);
void *og_realloc(void *p, size_t n);
char *og_strdup(const char *s); /* NULL in, NULL out */
char *og_strndup(const char *s, size_t n);
char *og_sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The strings up to the NULL concatenated [xfer]: og_join(P, ":ses:", sid,
 * NULL). The hot paths' keys without printf's parsing of a format. */
char *og_join(const char *s, ...) __attribute__((sentinel));
/* v in decimal into out (NUL-terminated); its length. */
size_t og_fmt_ll(char out[24], long long v);
/* src into dst of size bytes (size > 0), cut short if need be and always
 * NUL-terminated; strlen(src) (BSD's strlcpy; snprintf "%s" without the
 * format's parsing). */
size_t og_strlcpy(char *dst, const char *src, size_t size);

int64_t og_now_ms(void);  /* wall clock, Unix ms */
int64_t og_mono_ms(void); /* monotonic ms */
/* The test clock: when OMNIGATE_TEST_CLOCK names a file (tests only), the
 * Unix ms written in it, which og_now_ms then returns; -1 otherwise. */
int64_t og_test_clock_ms(void);
/* The time ms from now on clock clk, as pthread_cond_timedwait takes it
 * (clk must be the condition variable's clock). */
struct timespec og_deadline(int clk, int64_t ms);
/* "2026-11-21T05:00:00.123Z" into out (>= 25 bytes). */
void og_time_rfc3339(int64_t ms, char out[32]);
/* Unix ms of an RFC 3339 time ("2026-11-21T05:00:00Z", a fraction and an
 * offset allowed) or a date ("2026-11-21", midnight UTC; *date_only set when
 * date_only is not NULL). -1 when malformed. */
int64_t og_time_parse(const char *s, int *date_only);

/* Time-sortable ids: prefix + 26 Crockford base32 chars (48-bit ms time,
 * 80 random bits), e.g. "ses_01JD3…". Sorting the strings sorts by time,
 * and within one millisecond by the order this process made them in;
 * unique across instances without coordination. out needs prefix + 27. */
#define OG_ID_LEN 26
void og_id_new(const char *prefix, int64_t ms, char *out, size_t outsz);
/* 1 when s is prefix + OG_ID_LEN id characters (0-9, A-Z). */
int og_id_valid(const char *s, const char *prefix);

void og_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                    unsigned char out[32]);
/* HMAC-SHA256 under a key set once, for many messages (a webhook secret):
 * cheaper than og_hmac_sha256 per message. Not thread-safe: one per
 * thread. [xfer, og_hmac_free] */
struct og_hmac *og_hmac_new(const void *key, size_t klen);
/* out = HMAC(key, a || b). */
void og_hmac_run(struct og_hmac *h, const void *a, size_t alen, const void *b, size_t blen,
                 unsigned char out[32]);
void og_hmac_free(struct og_hmac *h);
void og_sha256(const void *msg, size_t mlen, unsigned char out[32]);
void og_sha1(const void *msg, size_t mlen, unsigned char out[20]);
/* Constant-time in the contents; 1 when equal. */
int og_ct_equal(const void *a, size_t alen, const void *b, size_t blen);
size_t og_hex_encode(const void *in, size_t len, char *out, size_t outsz);
size_t og_base64_encode(const void *in, size_t len, char *out, size_t outsz);
size_t og_base64_decode(const char *in, size_t len, unsigned char *out, size_t outsz);
void og_random_bytes(void *out, size_t n);

/* A growable byte buffer, always NUL-terminated. */
struct og_buf {
    char *data;
    size_t len, cap;
};
void og_buf_append(struct og_buf *b, const void *p, size_t n);
/* Room for n more bytes at once, for a caller that knows the size it will
 * build (one allocation instead of a chain of doublings). */
void og_buf_reserve(struct og_buf *b, size_t n);
void og_buf_puts(struct og_buf *b, const char *s);
void og_buf_printf(struct og_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* UTF-8 (RFC 3629: no overlong forms, surrogates or code points above
 * U+10FFFF). og_utf8_seq: the length of the valid sequence at p (1..4), 0
 * when none starts there. og_utf8_fix: a copy of s[0..n) with every byte
 * that starts no valid sequence replaced by U+FFFD. [xfer] */
size_t og_utf8_seq(const unsigned char *p, size_t n);
int og_utf8_valid(const char *s, size_t n);
char *og_utf8_fix(const char *s, size_t n, size_t *outlen);
/* Appends s as a JSON string literal, quotes included; invalid UTF-8
 * becomes U+FFFD, so the result is always valid JSON. NULL -> null. */
void og_buf_json_str(struct og_buf *b, const char *s);
void og_buf_free(struct og_buf *b);
#endif
