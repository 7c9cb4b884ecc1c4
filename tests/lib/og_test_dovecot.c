/* og_test_dovecot - see og_test_dovecot.h. The config is TOOLCHAIN.md's
 * verified recipe (5b, 5b-TLS); the pitfalls it names are handled here:
 * mail is stored as the "mail" user (dovecot refuses uid 0), the temp dir
 * is 0755 so dovecot's unprivileged processes can reach it, the server key
 * is readable (0644). */
#include "og_test_dovecot.h"
#include "og_test.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libetpan/libetpan.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs cmd with /bin/sh; its output goes to dir/setup.log. */
static int sh(const struct og_test_dovecot *d, const char *cmd)
{
    char *full = og_sprintf("(%s) >>%s/setup.log 2>&1", cmd, d->dir);
    int rc = system(full);
    free(full);
    return rc;
}

/* A test CA, and a certificate for IP 127.0.0.1 signed by it (EC keys:
 * made in milliseconds). */
static int make_certs(struct og_test_dovecot *d)
{
    char *cmd =
        og_sprintf("set -e; mkdir -p %1$s/tls; cd %1$s/tls;"
                   "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                   " -keyout ca.key -out ca.pem -days 2 -subj '/CN=omnigate test CA';"
                   "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                   " -keyout server.key -out server.csr -subj '/CN=127.0.0.1';"
                   "printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n"
                   "extendedKeyUsage=serverAuth\\n' > ext.cnf;"
                   "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
                   " -out server.pem -days 2 -extfile ext.cnf;"
                   "chmod 0644 server.key server.pem ca.pem",
                   d->dir);
    int rc = sh(d, cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

static int write_config(struct og_test_dovecot *d)
{
    /* getpwnam's answer is overwritten by the next call: keep the ids */
    struct passwd *pw = getpwnam("mail");
    uid_t mail_uid = pw ? pw->pw_uid : 0;
    gid_t mail_gid = pw ? pw->pw_gid : 0;
    if (!pw || !getpwnam("dovecot") || !getpwnam("dovenull")) {
        fprintf(stderr, "dovecot: the users mail, dovecot and dovenull are needed "
                        "(packages dovecot-core, dovecot-imapd, dovecot-lmtpd)\n");
        return -1;
    }
    char *p = og_sprintf("%s/run", d->dir);
    mkdir(p, 0755), free(p);
    p = og_sprintf("%s/state", d->dir);
    mkdir(p, 0755), free(p);
    p = og_sprintf("%s/mail", d->dir);
    mkdir(p, 0755);
    if (chown(p, mail_uid, mail_gid) != 0) {
        perror("dovecot: chown mail dir");
        free(p);
        return -1;
    }
    free(p);
    p = og_sprintf("%s/passwd", d->dir);
    FILE *f = fopen(p, "w");
    free(p);
    if (!f)
        return -1;
    fputs("alice:{PLAIN}secret::::::\nbob:{PLAIN}secret::::::\n", f);
    fclose(f);
    f = fopen(d->conf, "w");
    if (!f)
        return -1;
    fprintf(
        f,
        "instance_name = dovecot-test-%d\n"
        "base_dir = %s/run\nstate_dir = %s/state\n"
        "log_path = %s/dovecot.log\ninfo_log_path = %s/dovecot.log\n"
        "protocols = imap lmtp\nlisten = 127.0.0.1\n"
        "disable_plaintext_auth = no\nauth_mechanisms = plain login\n"
        "default_internal_user = dovecot\ndefault_login_user = dovenull\n"
        "first_valid_uid = 1\n"
        "mail_location = maildir:%s/mail/%%n/Maildir\n"
        "mail_fsync = never\n" /* a test's mail need not survive a power cut */
        "passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%%n %s/passwd\n}\n"
        "userdb {\n  driver = static\n  args = uid=mail gid=mail home=%s/mail/%%n\n}\n",
        d->imap_port, d->dir, d->dir, d->dir, d->dir, d->dir, d->dir, d->dir);
    if (d->tls)
        fprintf(f,
                "ssl = required\nssl_cert = <%s/tls/server.pem\nssl_key = <%s/tls/server.key\n"
                "service imap-login {\n  inet_listener imap {\n    port = 0\n  }\n"
                "  inet_listener imaps {\n    address = 127.0.0.1\n    port = %d\n  }\n}\n",
                d->dir, d->dir, d->imap_port);
    else
        fprintf(f,
                "ssl = no\n"
                "service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n"
                "    port = %d\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}\n",
                d->imap_port);
    fprintf(f,
            "service lmtp {\n  inet_listener lmtp {\n    address = 127.0.0.1\n    port = %d\n"
            "  }\n}\n",
            d->lmtp_port);
    fclose(f);
    return 0;
}

static pid_t spawn(const struct og_test_dovecot *d)
{
    char *log = og_sprintf("%s/dovecot.out", d->dir);
    pid_t pid = og_test_fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(in, 0), dup2(out, 1), dup2(out, 2);
        execlp("dovecot", "dovecot", "-F", "-c", d->conf, (char *)NULL);
        _exit(127);
    }
    free(log);
    return pid;
}

static int port_open(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0;
    if (s >= 0)
        close(s);
    return ok;
}

/* alice can log in: auth is up (the IMAP greeting alone does not say so). */
static int login_works(const struct og_test_dovecot *d)
{
    mailimap *imap = mailimap_new(0, NULL);
    mailimap_set_timeout(imap, 5);
    int r = d->tls ? mailimap_ssl_connect(imap, "127.0.0.1", (uint16_t)d->imap_port)
                   : mailimap_socket_connect(imap, "127.0.0.1", (uint16_t)d->imap_port);
    int ok = (r == MAILIMAP_NO_ERROR_AUTHENTICATED || r == MAILIMAP_NO_ERROR_NON_AUTHENTICATED) &&
             mailimap_login(imap, "alice", "secret") == MAILIMAP_NO_ERROR;
    if (ok)
        mailimap_logout(imap);
    mailimap_free(imap);
    return ok;
}

static void print_log(const struct og_test_dovecot *d)
{
    const char *names[] = {"setup.log", "dovecot.out", "dovecot.log"};
    for (size_t i = 0; i < 3; i++) {
        char *p = og_sprintf("%s/%s", d->dir, names[i]);
        char *t = og_test_read_file(p, NULL);
        if (t && *t)
            fprintf(stderr, "---- %s\n%s\n", p, t);
        free(t), free(p);
    }
}

static int wait_ready(struct og_test_dovecot *d)
{
    for (int i = 0; i < 500; i++) {
        int st;
        if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
            d->pid = 0;
            fprintf(stderr, "dovecot exited at start\n");
            print_log(d);
            return -1;
        }
        if (port_open(d->lmtp_port) && port_open(d->imap_port) && login_works(d))
            return 0;
        usleep(20000);
    }
    fprintf(stderr, "dovecot did not become ready in 10 s\n");
    print_log(d);
    return -1;
}

int og_test_dovecot_start(struct og_test_dovecot *d, int tls)
{
    signal(SIGPIPE, SIG_IGN); /* libetpan writes without MSG_NOSIGNAL */
    memset(d, 0, sizeof *d);
    d->tls = tls;
    d->dir = og_test_tmpdir();
    d->conf = og_sprintf("%s/dovecot.conf", d->dir);
    d->imap_port = og_test_free_port();
    do
        d->lmtp_port = og_test_free_port();
    while (d->lmtp_port == d->imap_port);
    if (tls) {
        d->ca_file = og_sprintf("%s/tls/ca.pem", d->dir);
        if (make_certs(d) != 0) {
            fprintf(stderr, "dovecot: making the test certificates failed\n");
            print_log(d);
            return -1;
        }
    }
    if (write_config(d) != 0)
        return -1;
    d->pid = spawn(d);
    return wait_ready(d);
}

void og_test_dovecot_stop(struct og_test_dovecot *d)
{
    if (d->pid <= 0)
        return;
    kill(d->pid, SIGTERM);
    waitpid(d->pid, NULL, 0);
    d->pid = 0;
    /* its children leave a moment later: wait for the ports to close */
    for (int i = 0; i < 250 && (port_open(d->imap_port) || port_open(d->lmtp_port)); i++)
        usleep(20000);
}

int og_test_dovecot_restart(struct og_test_dovecot *d)
{
    og_test_dovecot_stop(d);
    d->pid = spawn(d);
    return wait_ready(d);
}

void og_test_dovecot_free(struct og_test_dovecot *d)
{
    og_test_dovecot_stop(d);
    og_test_rmdir(d->dir);
    free(d->dir), free(d->conf), free(d->ca_file);
    memset(d, 0, sizeof *d);
}

int og_test_doveadm(const struct og_test_dovecot *d, const char *args, char **out)
{
    char *cmd = og_sprintf("doveadm -c %s %s 2>&1", d->conf, args);
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p)
        return -1;
    struct og_buf b = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        og_buf_append(&b, buf, n);
    og_buf_append(&b, "", 0);
    int st = pclose(p);
    if (out)
        *out = b.data;
    else
        free(b.data);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct og_test_lmtp {
    mailsmtp *s;
};

struct og_test_lmtp *og_test_lmtp_open(const struct og_test_dovecot *d)
{
    mailsmtp *s = mailsmtp_new(0, NULL);
    if (!s)
        return NULL;
    mailsmtp_set_timeout(s, 30);
    if (mailsmtp_socket_connect(s, "127.0.0.1", (uint16_t)d->lmtp_port) != MAILSMTP_NO_ERROR ||
        mailesmtp_lhlo(s, "localhost") != MAILSMTP_NO_ERROR) {
        mailsmtp_free(s);
        return NULL;
    }
    struct og_test_lmtp *l = og_calloc(1, sizeof *l);
    l->s = s;
    return l;
}

int og_test_lmtp_send(struct og_test_lmtp *l, const char *user, const char *mail_from,
                      const char *raw, size_t len)
{
    if (!l || mailsmtp_mail(l->s, mail_from) != MAILSMTP_NO_ERROR ||
        mailsmtp_rcpt(l->s, user) != MAILSMTP_NO_ERROR || mailsmtp_data(l->s) != MAILSMTP_NO_ERROR)
        return -1;
    clist *rcpts = clist_new();
    clist_append(rcpts, (void *)user);
    int code = 0;
    int r = maillmtp_data_message(l->s, raw, len, rcpts, &code);
    clist_free(rcpts);
    return r == MAILSMTP_NO_ERROR && code == 250 ? 0 : -1;
}

void og_test_lmtp_close(struct og_test_lmtp *l)
{
    if (!l)
        return;
    mailsmtp_quit(l->s);
    mailsmtp_free(l->s);
    free(l);
}

int og_test_dovecot_deliver(const struct og_test_dovecot *d, const char *user,
                            const char *mail_from, const char *raw, size_t len)
{
    struct og_test_lmtp *l = og_test_lmtp_open(d);
    int r = og_test_lmtp_send(l, user, mail_from, raw, len);
    og_test_lmtp_close(l);
    return r;
}
