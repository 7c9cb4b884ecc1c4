/* og_tls - see og_tls.h. */
#include "og_tls.h"
#include "og_util.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHAIN 16

/* One certificate chain and its key, as GnuTLS takes them at a handshake. */
struct pair {
    gnutls_pcert_st pcerts[MAX_CHAIN];
    unsigned int n;
    gnutls_privkey_t key;
    struct pair *older; /* the pairs this one replaced, freed with the og_tls */
};

struct og_tls {
    struct pair *_Atomic cur;
};

/* The pair handshakes get (og_tls.h: the callback has no user data). */
static struct pair *_Atomic current;

static void pair_free(struct pair *p)
{
    while (p) {
        struct pair *older = p->older;
        for (unsigned i = 0; i < p->n; i++)
            gnutls_pcert_deinit(&p->pcerts[i]);
        if (p->key)
            gnutls_privkey_deinit(p->key);
        free(p);
        p = older;
    }
}

static int read_file(const char *path, gnutls_datum_t *d, char *err, size_t errlen)
{
    d->data = NULL;
    if (gnutls_load_file(path, d) < 0) {
        snprintf(err, errlen, "%s: cannot read it", path);
        return -1;
    }
    return 0;
}

static struct pair *pair_load(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    gnutls_datum_t cert = {0}, key = {0};
    if (read_file(cert_path, &cert, err, errlen) != 0)
        return NULL;
    if (read_file(key_path, &key, err, errlen) != 0) {
        gnutls_free(cert.data);
        return NULL;
    }
    struct pair *p = og_calloc(1, sizeof *p);
    int rc;
    /* the pair must belong together: GnuTLS checks it when both are set
     * on a credentials structure */
    gnutls_certificate_credentials_t check = NULL;
    gnutls_certificate_allocate_credentials(&check);
    rc = gnutls_certificate_set_x509_key_mem2(check, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_certificate_free_credentials(check);
    if (rc < 0) {
        snprintf(err, errlen, "%s and %s: %s", cert_path, key_path, gnutls_strerror(rc));
        goto fail;
    }
    p->n = MAX_CHAIN;
    rc = gnutls_pcert_list_import_x509_raw(p->pcerts, &p->n, &cert, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0) {
        p->n = 0;
        snprintf(err, errlen, "%s: %s", cert_path, gnutls_strerror(rc));
        goto fail;
    }
    if ((rc = gnutls_privkey_init(&p->key)) < 0 ||
        (rc = gnutls_privkey_import_x509_raw(p->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        snprintf(err, errlen, "%s: %s", key_path, gnutls_strerror(rc));
        goto fail;
    }
    gnutls_memset(key.data, 0, key.size);
    gnutls_free(cert.data);
    gnutls_free(key.data);
    return p;
fail:
    gnutls_memset(key.data, 0, key.size);
    gnutls_free(cert.data);
    gnutls_free(key.data);
    pair_free(p);
    return NULL;
}

struct og_tls *og_tls_new(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    struct pair *p = pair_load(cert_path, key_path, err, errlen);
    if (!p)
        return NULL;
    struct og_tls *t = og_calloc(1, sizeof *t);
    atomic_store(&t->cur, p);
    atomic_store(&current, p);
    return t;
}

int og_tls_reload(struct og_tls *t, const char *cert_path, const char *key_path, char *err,
                  size_t errlen)
{
    struct pair *p = pair_load(cert_path, key_path, err, errlen);
    if (!p)
        return -1;
    p->older = atomic_load(&t->cur); /* SIGHUP is handled by one thread */
    atomic_store(&t->cur, p);
    atomic_store(&current, p);
    return 0;
}

void og_tls_free(struct og_tls *t)
{
    if (!t)
        return;
    atomic_store(&current, NULL);
    pair_free(atomic_load(&t->cur));
    free(t);
}

static int retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                    gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    (void)session, (void)req_ca_dn, (void)nreqs, (void)pk_algos, (void)pk_algos_length;
    struct pair *p = atomic_load(&current);
    if (!p)
        return -1;
    *pcert = p->pcerts;
    *pcert_length = p->n;
    *pkey = p->key;
    return 0;
}

gnutls_certificate_retrieve_function2 *og_tls_callback(void)
{
    return retrieve;
}
