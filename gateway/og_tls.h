/* og_tls - HTTPS on the daemon's own port (http.tls_cert, http.tls_key),
 * through libmicrohttpd's GnuTLS.
 *
 * The certificate and key are handed to GnuTLS by a callback at each
 * handshake (MHD_OPTION_HTTPS_CERT_CALLBACK) rather than once at start, so
 * that SIGHUP can load a renewed certificate (og_tls_reload) without
 * closing the listening socket: new handshakes get the new pair, and the
 * pairs replaced stay allocated until og_tls_free (a handshake in flight
 * may still use one; renewals are rare). One og_tls per process: the
 * callback has no user data, so the current pair is a process global. */
#ifndef OG_TLS_H
#define OG_TLS_H
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stddef.h>

struct og_tls;
/* Loads a PEM certificate chain and its PEM private key; NULL with err
 * (names the file, or says the key does not match) on failure. [xfer] */
struct og_tls *og_tls_new(const char *cert_path, const char *key_path, char *err, size_t errlen);
/* Loads the pair again (renewed files, or other paths) and makes it the
 * one new handshakes get. 0; -1 with err and the old pair still in use. */
int og_tls_reload(struct og_tls *t, const char *cert_path, const char *key_path, char *err,
                  size_t errlen);
void og_tls_free(struct og_tls *t);
/* The callback for MHD_OPTION_HTTPS_CERT_CALLBACK, serving the current pair. */
gnutls_certificate_retrieve_function2 *og_tls_callback(void);
/* A priority string without the TLS versions before 1.2. */
#define OG_TLS_PRIORITIES "NORMAL:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1"
#endif
