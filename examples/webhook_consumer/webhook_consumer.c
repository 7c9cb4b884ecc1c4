/* webhook_consumer - a minimal receiver of omnigate's outbound webhooks
 * (Standard Webhooks, https://www.standardwebhooks.com), to copy from.
 *
 * For each POST it:
 *   1. reads the headers webhook-id, webhook-timestamp, webhook-signature;
 *   2. rejects (401) a timestamp further than --tolerance seconds (default
 *      300) from now, so a captured request cannot be replayed later;
 *   3. computes v1 = base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")),
 *      key = base64-decoded secret after "whsec_", and accepts when any of
 *      the space-separated "v1,<sig>" entries matches (constant-time
 *      compare; during a secret rotation omnigate sends two);
 *   4. de-duplicates by webhook-id: delivery is at-least-once, so the same
 *      event can arrive again (a retry after a lost answer, a redelivery
 *      after a crash, a replay); a duplicate is acknowledged (2xx) but not
 *      processed twice.
 * Then it "processes" the event by printing one line to stdout:
 *   accepted <webhook-id> <bytes>      a new event
 *   duplicate <webhook-id>             seen before: acknowledged, skipped
 *   rejected <reason>                  401/400, nothing processed
 *
 * Usage: webhook_consumer --port N --secret whsec_... [--tolerance S]
 * Build: cc webhook_consumer.c $(pkg-config --cflags --libs libmicrohttpd openssl)
 *
 * The de-duplication set lives in memory (the last 65,536 ids); a real
 * consumer keeps it next to the data it changes, in the same transaction. */
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BODY (1 << 20)
#define SEEN_CAP 65536

static unsigned char g_key[64];
static int g_keylen;
static long g_tolerance = 300;

/* ---- the de-duplication set: a ring of ids plus linear probing ---- */
static char *g_seen[SEEN_CAP * 2]; /* hash slots */
static char *g_ring[SEEN_CAP];     /* insertion order, for eviction */
static size_t g_ring_pos;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void seen_remove(const char *id)
{
    size_t n = SEEN_CAP * 2, i = hash(id) % n;
    while (g_seen[i] && strcmp(g_seen[i], id) != 0)
        i = (i + 1) % n;
    if (!g_seen[i])
        return;
    g_seen[i] = NULL;
    /* re-insert the rest of the cluster so probing still finds them */
    for (size_t j = (i + 1) % n; g_seen[j]; j = (j + 1) % n) {
        char *e = g_seen[j];
        g_seen[j] = NULL;
        size_t k = hash(e) % n;
        while (g_seen[k])
            k = (k + 1) % n;
        g_seen[k] = e;
    }
}

/* 1 when id was new (and is now remembered), 0 when seen before. */
static int seen_add(const char *id)
{
    pthread_mutex_lock(&g_mu);
    size_t n = SEEN_CAP * 2, i = hash(id) % n;
    while (g_seen[i]) {
        if (strcmp(g_seen[i], id) == 0) {
            pthread_mutex_unlock(&g_mu);
            return 0;
        }
        i = (i + 1) % n;
    }
    char *old = g_ring[g_ring_pos];
    if (old) { /* forget the oldest id to stay bounded */
        seen_remove(old);
        free(old);
        i = hash(id) % n;
        while (g_seen[i])
            i = (i + 1) % n;
    }
    char *copy = strdup(id);
    g_seen[i] = copy;
    g_ring[g_ring_pos] = copy;
    g_ring_pos = (g_ring_pos + 1) % SEEN_CAP;
    pthread_mutex_unlock(&g_mu);
    return 1;
}

/* ---- signature ---- */
static int decode_secret(const char *secret)
{
    if (strncmp(secret, "whsec_", 6) != 0)
        return -1;
    const char *b = secret + 6;
    size_t len = strlen(b);
    unsigned char out[96];
    if (len % 4 || len > 88)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)b, (int)len);
    if (n < 0)
        return -1;
    n -= (len && b[len - 1] == '=') + (len > 1 && b[len - 2] == '=');
    if (n < 24 || n > 64)
        return -1;
    memcpy(g_key, out, (size_t)n);
    g_keylen = n;
    return 0;
}

static int signature_ok(const char *id, const char *ts, const char *body, size_t len,
                        const char *header)
{
    unsigned char mac[32];
    unsigned int maclen = 0;
    size_t hl = strlen(id) + strlen(ts) + 2;
    unsigned char *msg = malloc(hl + len + 1);
    if (!msg)
        return 0;
    sprintf((char *)msg, "%s.%s.", id, ts);
    memcpy(msg + hl, body, len);
    HMAC(EVP_sha256(), g_key, g_keylen, msg, hl + len, mac, &maclen);
    free(msg);
    char expected[64];
    EVP_EncodeBlock((unsigned char *)expected, mac, 32); /* 44 chars + NUL */
    size_t el = strlen(expected);
    /* "v1,<sig> v1,<sig2> ..." */
    const char *p = header;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ' ');
        size_t tl = end ? (size_t)(end - p) : strlen(p);
        if (tl == 3 + el && strncmp(p, "v1,", 3) == 0 && CRYPTO_memcmp(p + 3, expected, el) == 0)
            return 1;
        p += tl;
    }
    return 0;
}

/* ---- HTTP ---- */
struct req {
    char *body;
    size_t len;
    int too_big;
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reject(struct MHD_Connection *c, unsigned status, const char *why)
{
    printf("rejected %s\n", why);
    fflush(stdout);
    return answer(c, status, why);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)cls, (void)url, (void)version;
    struct req *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size) { /* collect the raw body: the signature covers its bytes */
        if (rq->len + *upload_size > MAX_BODY) {
            rq->too_big = 1;
        } else {
            char *nb = realloc(rq->body, rq->len + *upload_size + 1);
            if (!nb)
                return MHD_NO;
            rq->body = nb;
            memcpy(rq->body + rq->len, upload, *upload_size);
            rq->len += *upload_size;
            rq->body[rq->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") != 0)
        return answer(c, 405, "POST only");
    if (rq->too_big)
        return reject(c, 413, "body-too-large");
    const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-id");
    const char *ts = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-timestamp");
    const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-signature");
    if (!id || !ts || !sig || !*id)
        return reject(c, 400, "missing-headers");
    char *end;
    long long t = strtoll(ts, &end, 10);
    long long now = (long long)time(NULL);
    if (*end || end == ts || t < now - g_tolerance || t > now + g_tolerance)
        return reject(c, 401, "timestamp-out-of-tolerance");
    if (!signature_ok(id, ts, rq->body ? rq->body : "", rq->len, sig))
        return reject(c, 401, "bad-signature");
    if (!seen_add(id)) {
        printf("duplicate %s\n", id);
        fflush(stdout);
        return answer(c, 200, "duplicate");
    }
    /* A real consumer would act on the event JSON here (rq->body). */
    printf("accepted %s %zu\n", id, rq->len);
    fflush(stdout);
    return answer(c, 204, "");
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode t)
{
    (void)cls, (void)c, (void)t;
    struct req *rq = *con_cls;
    if (rq) {
        free(rq->body);
        free(rq);
    }
    *con_cls = NULL;
}

int main(int argc, char **argv)
{
    int port = 0;
    const char *secret = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--secret"))
            secret = argv[i + 1];
        else if (!strcmp(argv[i], "--tolerance"))
            g_tolerance = atol(argv[i + 1]);
    }
    if (port <= 0 || port > 65535 || !secret || decode_secret(secret) != 0) {
        fprintf(stderr, "usage: webhook_consumer --port N --secret whsec_<base64 of 24..64 "
                        "bytes> [--tolerance SECONDS]\n");
        return 2;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL,
                         NULL, on_request, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
                         MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "webhook_consumer: cannot listen on port %d\n", port);
        return 1;
    }
    printf("listening %d\n", port);
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    MHD_stop_daemon(d);
    for (size_t i = 0; i < SEEN_CAP; i++)
        free(g_ring[i]);
    return 0;
}
