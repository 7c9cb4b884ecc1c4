/* meta_test.h - helpers shared by test_whatsapp.c and test_facebook.c (and
 * the Meta end-to-end test and benchmark): X-Hub-Signature-256 signing with
 * OpenSSL (independent of the host's helper), fixture loading, JSON path
 * lookups on what the harness recorded. Header-only, static functions. */
#ifndef META_TEST_H
#define META_TEST_H
#include "og_test.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

/* "sha256=<lowercase hex HMAC-SHA256(secret, body)>". */
static inline void meta_sign(const char *secret, const char *body, size_t len, char out[80])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &n);
    strcpy(out, "sha256=");
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
}

/* The fixture tests/connectors/fixtures/<dir>/<name> [xfer]; aborts if absent. */
static inline char *meta_fixture(const char *dir, const char *name, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/connectors/fixtures/%s/%s", dir, name);
    char *path = og_test_src(rel);
    char *s = og_test_read_file(path, len);
    if (!s) {
        fprintf(stderr, "missing fixture %s\n", path);
        abort();
    }
    free(path);
    return s;
}

/* "a.b.0.c" lookup in a json-c tree; strings, numbers as text, NULL if absent/null. */
static inline const char *meta_jstr(json_object *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_object *cur = o;
    char *save = NULL;
    for (char *seg = strtok_r(buf, ".", &save); seg && cur; seg = strtok_r(NULL, ".", &save)) {
        json_object *next = NULL;
        if (json_object_is_type(cur, json_type_array))
            next = json_object_array_get_idx(cur, (size_t)atoi(seg));
        else if (!json_object_object_get_ex(cur, seg, &next))
            next = NULL;
        cur = next;
    }
    return cur && !json_object_is_type(cur, json_type_null) ? json_object_get_string(cur) : NULL;
}

static inline int64_t meta_jint(json_object *o, const char *path)
{
    const char *s = meta_jstr(o, path);
    return s ? strtoll(s, NULL, 10) : -1;
}
#endif
