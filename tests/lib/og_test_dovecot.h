/* og_test_dovecot - a dovecot of a test's own (TOOLCHAIN.md 5b, 5b-TLS,
 * 5d): an unprivileged instance in a temp dir on 127.0.0.1, users "alice"
 * and "bob" with the password "secret", maildir under the temp dir, IMAP
 * (plain, or IMAPS with a test CA and a server certificate for IP
 * 127.0.0.1 made by the openssl CLI at start) and LMTP to put mail in.
 *
 * Started with fork/exec as the test's child (dovecot -F) and stopped by its
 * PID. Ready means: LMTP greets and alice can log in over IMAP(S). Linked
 * only by the tests that need it (library og_testdovecot, which brings
 * libetpan for the IMAP check and the LMTP client). */
#ifndef OG_TEST_DOVECOT_H
#define OG_TEST_DOVECOT_H
#include <stddef.h>
#include <sys/types.h>

struct og_test_dovecot {
    pid_t pid;
    int tls;       /* IMAPS with the test CA; else plain IMAP */
    int imap_port; /* the IMAPS port when tls, else the IMAP port */
    int lmtp_port;
    char *dir;     /* the temp dir (owned) */
    char *conf;    /* dir/dovecot.conf (owned) */
    char *ca_file; /* dir/tls/ca.pem when tls (owned), else NULL */
};

/* Makes the dir, the certificates (tls) and the config, starts dovecot and
 * waits until it is ready (10 s at most). 0 on success; on failure the
 * reason and dovecot's log are printed. */
int og_test_dovecot_start(struct og_test_dovecot *d, int tls);
/* SIGTERM, waits for the master and for the ports to close; keeps the dir
 * and its mail. */
void og_test_dovecot_stop(struct og_test_dovecot *d);
/* Starts it again on the same dir and ports. */
int og_test_dovecot_restart(struct og_test_dovecot *d);
/* Stops it if running and removes the dir. */
void og_test_dovecot_free(struct og_test_dovecot *d);

/* Runs "doveadm -c <conf> <args>" (args as for the shell); returns its exit
 * status and, when out is not NULL, its output [xfer]. */
int og_test_doveadm(const struct og_test_dovecot *d, const char *args, char **out);

/* An LMTP session for many deliveries (the bench keeps one open). */
struct og_test_lmtp;
struct og_test_lmtp *og_test_lmtp_open(const struct og_test_dovecot *d);
/* Delivers raw[0..len) to user (e.g. "alice") with the envelope sender
 * mail_from ("" = the null sender, as bounces have). 0 when LMTP answered
 * 250 for the recipient. */
int og_test_lmtp_send(struct og_test_lmtp *l, const char *user, const char *mail_from,
                      const char *raw, size_t len);
void og_test_lmtp_close(struct og_test_lmtp *l);
/* One delivery on a session of its own. */
int og_test_dovecot_deliver(const struct og_test_dovecot *d, const char *user,
                            const char *mail_from, const char *raw, size_t len);
#endif
