/* email_imap.c - the IMAP session of the e-mail connector on libetpan:
 * connect, secure, check the server's certificate, log in, SELECT, search
 * and fetch by UID, flag or move what was handled, IDLE.
 *
 * TLS. libetpan here is built on GnuTLS and does not verify the server's
 * certificate at all (it accepts a self-signed one), so this file does:
 * after the handshake and before LOGIN (the password never reaches an
 * unverified server), the chain the server sent (mailstream's DER
 * certificates: the leaf, then its intermediates) is verified with OpenSSL
 * against the CA file named by the option ca_file, or the system's CAs,
 * for the purpose "TLS server" and the host name or IP address of
 * imap_url. Any failure closes the connection: fail closed. The handshake
 * itself proves the server holds the leaf's key. imaps:// is TLS from the
 * first byte; imap:// must offer and complete STARTTLS; only tls "none"
 * (for tests) talks in the clear.
 *
 * Every call returns 0 or -1 with a readable reason in err. A -1 from
 * anything after the connection is up means the session is unusable
 * (libetpan's parser state is unknown after a stream error or a garbage
 * answer): the caller closes it and reconnects with back-off. The poll
 * thread is the only user of a session. */
#include "email.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libetpan/libetpan.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EMAIL_IMAP_TIMEOUT_S 30 /* one command's network wait (IDLE waits outside it) */

struct email_imap {
    mailimap *imap;
    int has_idle, has_move, has_uidplus;
    int idling;
};

/* The server's last words, for error messages (never contains secrets:
 * LOGIN's arguments are not echoed by servers). */
static const char *server_said(const struct email_imap *im)
{
    return im && im->imap && im->imap->imap_response ? im->imap->imap_response : "";
}

/* libetpan's result codes that say what happened. */
static const char *what_happened(int r)
{
    switch (r) {
    case MAILIMAP_ERROR_STREAM: return "connection lost";
    case MAILIMAP_ERROR_PARSE: return "unreadable answer";
    case MAILIMAP_ERROR_CONNECTION_REFUSED: return "connection refused";
    case MAILIMAP_ERROR_SSL: return "TLS handshake failed";
    case MAILIMAP_ERROR_BAD_STATE: return "bad state";
    case MAILIMAP_ERROR_LOGIN: return "refused";
    default: return "error";
    }
}

static int fail(char *err, size_t errlen, const struct email_imap *im, const char *what, int r)
{
    const char *said = r == MAILIMAP_ERROR_STREAM ? "" : server_said(im);
    snprintf(err, errlen, "%s: %s (%d)%s%.160s%s", what, what_happened(r), r,
             *said ? ", server said \"" : "", said, *said ? "\"" : "");
    return -1;
}

static int is_ip(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* SNI for host names (an IP address is never sent as a server name). */
static void tls_setup(struct mailstream_ssl_context *ctx, void *data)
{
    struct email *em = data;
    if (!is_ip(em->imap_host))
        mailstream_ssl_set_server_name(ctx, em->imap_host);
}

/* Verifies the TLS peer of stream s as described in the file comment. */
static int verify_peer(struct email *em, mailstream *s, char *err, size_t errlen)
{
    unsigned char *der = NULL;
    ssize_t n = mailstream_ssl_get_certificate(s, &der);
    if (n <= 0 || !der) {
        free(der);
        snprintf(err, errlen, "certificate of %s refused: the server presented none",
                 em->imap_host);
        return -1;
    }
    const unsigned char *p = der;
    X509 *leaf = d2i_X509(NULL, &p, (long)n);
    free(der);
    /* Only after a leaf was read: libetpan's chain getter assumes a peer
     * certificate list exists. */
    carray *chain = leaf ? mailstream_get_certificate_chain(s) : NULL;
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    for (unsigned i = 1; chain && i < carray_count(chain); i++) {
        MMAPString *c = carray_get(chain, i);
        const unsigned char *q = (const unsigned char *)c->str;
        X509 *x = d2i_X509(NULL, &q, (long)c->len);
        if (x && !sk_X509_push(untrusted, x))
            X509_free(x);
    }
    if (chain)
        mailstream_certificate_chain_free(chain);
    int ok = 0;
    const char *why = "its certificate cannot be read";
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (leaf && ctx && X509_STORE_CTX_init(ctx, em->x509_store, leaf, untrusted) == 1) {
        X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
        X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_SERVER);
        if (is_ip(em->imap_host))
            X509_VERIFY_PARAM_set1_ip_asc(vp, em->imap_host);
        else
            X509_VERIFY_PARAM_set1_host(vp, em->imap_host, 0);
        ok = X509_verify_cert(ctx) == 1;
        if (!ok)
            why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
    }
    if (!ok)
        snprintf(err, errlen, "certificate of %s refused: %s%s", em->imap_host, why,
                 em->conf->ca_file && *em->conf->ca_file ? "" : " (no ca_file set)");
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(untrusted, X509_free);
    X509_free(leaf);
    ERR_clear_error();
    return ok ? 0 : -1;
}

/* ------------------------------------------------- end of file = error */

/* libetpan 1.9.4 spins forever when a server closes the connection in the
 * middle of a literal (mailimap_literal_parse_progress subtracts a read of
 * 0 bytes and reads again: a server that disconnects mid-FETCH would hold
 * the poll thread at 100% CPU). This driver wraps the real stream and
 * turns end-of-file into an error, which every libetpan reader handles;
 * everything else is passed through. data is the wrapped stream. */
static ssize_t eof_read(mailstream_low *s, void *buf, size_t n)
{
    ssize_t r = mailstream_low_read(s->data, buf, n);
    return r == 0 && n > 0 ? -1 : r;
}

static ssize_t eof_write(mailstream_low *s, const void *buf, size_t n)
{
    return mailstream_low_write(s->data, buf, n);
}

static int eof_close(mailstream_low *s)
{
    return mailstream_low_close(s->data);
}

static int eof_get_fd(mailstream_low *s)
{
    return mailstream_low_get_fd(s->data);
}

static void eof_free(mailstream_low *s)
{
    mailstream_low_free(s->data);
    free(s); /* allocated by mailstream_low_new */
}

static void eof_cancel(mailstream_low *s)
{
    mailstream_low_cancel(s->data);
}

static struct mailstream_cancel *eof_get_cancel(mailstream_low *s)
{
    return mailstream_low_get_cancel(s->data);
}

static carray *eof_chain(mailstream_low *s)
{
    return mailstream_low_get_certificate_chain(s->data);
}

static int eof_setup_idle(mailstream_low *s)
{
    return mailstream_low_setup_idle(s->data);
}

static int eof_unsetup_idle(mailstream_low *s)
{
    return mailstream_low_unsetup_idle(s->data);
}

static int eof_interrupt_idle(mailstream_low *s)
{
    return mailstream_low_interrupt_idle(s->data);
}

static mailstream_low_driver eof_driver = {
    .mailstream_read = eof_read,
    .mailstream_write = eof_write,
    .mailstream_close = eof_close,
    .mailstream_get_fd = eof_get_fd,
    .mailstream_free = eof_free,
    .mailstream_cancel = eof_cancel,
    .mailstream_get_cancel = eof_get_cancel,
    .mailstream_get_certificate_chain = eof_chain,
    .mailstream_setup_idle = eof_setup_idle,
    .mailstream_unsetup_idle = eof_unsetup_idle,
    .mailstream_interrupt_idle = eof_interrupt_idle,
};

/* Puts the wrapper between the session and its stream (after STARTTLS and
 * the certificate check, which look at the TLS stream itself). */
static void wrap_stream(mailimap *imap)
{
    mailstream_low *inner = mailstream_get_low(imap->imap_stream);
    mailstream_low *outer = inner ? mailstream_low_new(inner, &eof_driver) : NULL;
    if (!outer)
        abort();
    mailstream_set_low(imap->imap_stream, outer);
}

void email_imap_close(struct email_imap *im)
{
    if (!im)
        return;
    if (im->imap)
        mailimap_free(im->imap); /* closes the stream; no LOGOUT round trip */
    free(im);
}

struct email_imap *email_imap_open(struct email *em, char *err, size_t errlen, int *auth)
{
    *auth = 0;
    struct email_imap *im = email_xmalloc(sizeof *im);
    memset(im, 0, sizeof *im);
    im->imap = mailimap_new(0, NULL);
    if (!im->imap)
        abort();
    mailimap_set_timeout(im->imap, EMAIL_IMAP_TIMEOUT_S);
    int r = em->imaps ? mailimap_ssl_connect_with_callback(im->imap, em->imap_host, em->imap_port,
                                                           tls_setup, em)
                      : mailimap_socket_connect(im->imap, em->imap_host, em->imap_port);
    if (r != MAILIMAP_NO_ERROR_AUTHENTICATED && r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
        char what[320];
        snprintf(what, sizeof what, "cannot connect to %s:%u%s", em->imap_host,
                 (unsigned)em->imap_port, em->imaps ? " with TLS" : "");
        fail(err, errlen, NULL, what, r);
        goto out;
    }
    if (!em->imaps && em->tls_verify) {
        r = mailimap_socket_starttls_with_callback(im->imap, tls_setup, em);
        if (r != MAILIMAP_NO_ERROR) {
            fail(err, errlen, im, "STARTTLS refused or failed (tls \"verify\" needs it)", r);
            goto out;
        }
    }
    if (em->tls_verify && verify_peer(em, im->imap->imap_stream, err, errlen) != 0)
        goto out;
    wrap_stream(im->imap);
    r = mailimap_login(im->imap, em->conf->username, em->conf->password);
    if (r != MAILIMAP_NO_ERROR) {
        /* "NO [UNAVAILABLE]" is the server's trouble, not our password */
        *auth = r == MAILIMAP_ERROR_LOGIN && !strstr(server_said(im), "UNAVAILABLE");
        fail(err, errlen, im, *auth ? "login refused" : "login failed", r);
        goto out;
    }
    struct mailimap_capability_data *cap = NULL;
    r = mailimap_capability(im->imap, &cap);
    if (cap)
        mailimap_capability_data_free(cap);
    if (r != MAILIMAP_NO_ERROR) {
        fail(err, errlen, im, "CAPABILITY failed", r);
        goto out;
    }
    im->has_idle = mailimap_has_idle(im->imap);
    im->has_move = mailimap_has_extension(im->imap, "MOVE");
    im->has_uidplus = mailimap_has_uidplus(im->imap);
    return im;
out:
    email_imap_close(im);
    return NULL;
}

int email_imap_has_idle(const struct email_imap *im)
{
    return im->has_idle;
}

int email_imap_idling(const struct email_imap *im)
{
    return im && im->idling;
}

int email_imap_select(struct email_imap *im, const char *mailbox, const char *move_to,
                      uint32_t *uidvalidity, uint32_t *uidnext, char *err, size_t errlen)
{
    if (move_to && *move_to)
        mailimap_create(im->imap, move_to); /* "already exists" is the usual answer */
    int r = mailimap_select(im->imap, mailbox);
    if (r != MAILIMAP_NO_ERROR) {
        char what[320];
        snprintf(what, sizeof what, "SELECT %.200s failed", mailbox);
        return fail(err, errlen, im, what, r);
    }
    const struct mailimap_selection_info *si = im->imap->imap_selection_info;
    *uidvalidity = si ? si->sel_uidvalidity : 0;
    *uidnext = si ? si->sel_uidnext : 0;
    if (*uidvalidity == 0) {
        snprintf(err, errlen, "the server gave no UIDVALIDITY for %.200s", mailbox);
        return -1;
    }
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int email_imap_search_after(struct email_imap *im, uint32_t after, uint32_t **uids, size_t *n,
                            char *err, size_t errlen)
{
    *uids = NULL;
    *n = 0;
    if (after == UINT32_MAX)
        return 0;
    /* "UID after+1:*" also answers the highest UID when it is <= after
     * (RFC 3501 6.4.8): filtered below. */
    struct mailimap_search_key *key =
        mailimap_search_key_new_uid(mailimap_set_new_interval(after + 1, 0));
    clist *res = NULL;
    int r = key ? mailimap_uid_search(im->imap, NULL, key, &res) : MAILIMAP_ERROR_MEMORY;
    if (key)
        mailimap_search_key_free(key);
    if (r != MAILIMAP_NO_ERROR)
        return fail(err, errlen, im, "UID SEARCH failed", r);
    size_t cap = res ? (size_t)clist_count(res) : 0;
    uint32_t *v = email_xmalloc((cap ? cap : 1) * sizeof *v);
    for (clistiter *it = res ? clist_begin(res) : NULL; it; it = clist_next(it)) {
        uint32_t u = *(uint32_t *)clist_content(it);
        if (u > after)
            v[(*n)++] = u;
    }
    if (res)
        mailimap_search_result_free(res);
    qsort(v, *n, sizeof *v, cmp_u32);
    size_t k = 0; /* a garbage answer may repeat UIDs */
    for (size_t i = 0; i < *n; i++)
        if (k == 0 || v[k - 1] != v[i])
            v[k++] = v[i];
    *n = k;
    *uids = v;
    return 0;
}

static struct mailimap_set *uid_set(const uint32_t *uids, size_t n)
{
    struct mailimap_set *set = mailimap_set_new_empty();
    if (!set)
        abort();
    for (size_t i = 0; i < n; i++)
        if (mailimap_set_add_single(set, uids[i]) != MAILIMAP_NO_ERROR)
            abort();
    return set;
}

/* Index of uid in uids[0..n) (ascending), or -1: answers for UIDs we did
 * not ask for are ignored. */
static long uid_index(const uint32_t *uids, size_t n, uint32_t uid)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (uids[mid] == uid)
            return (long)mid;
        if (uids[mid] < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The static attributes of one FETCH answer. */
struct fetched {
    uint32_t uid;
    int64_t size;
    int64_t internal_ms;
    const char *section;
    size_t section_len;
};

static int64_t imap_date_ms(const struct mailimap_date_time *d)
{
    if (!d || d->dt_year < 1970 || d->dt_month < 1 || d->dt_month > 12)
        return 0;
    struct tm tm = {0};
    tm.tm_year = d->dt_year - 1900;
    tm.tm_mon = d->dt_month - 1;
    tm.tm_mday = d->dt_day;
    tm.tm_hour = d->dt_hour;
    tm.tm_min = d->dt_min;
    tm.tm_sec = d->dt_sec;
    int64_t off = (int64_t)(d->dt_zone / 100) * 3600 + (int64_t)(d->dt_zone % 100) * 60;
    return ((int64_t)timegm(&tm) - off) * 1000;
}

static void read_fetched(const struct mailimap_msg_att *ma, struct fetched *f)
{
    memset(f, 0, sizeof *f);
    f->size = -1;
    for (clistiter *it = ma->att_list ? clist_begin(ma->att_list) : NULL; it; it = clist_next(it)) {
        const struct mailimap_msg_att_item *item = clist_content(it);
        if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC || !item->att_data.att_static)
            continue;
        const struct mailimap_msg_att_static *st = item->att_data.att_static;
        if (st->att_type == MAILIMAP_MSG_ATT_UID)
            f->uid = st->att_data.att_uid;
        else if (st->att_type == MAILIMAP_MSG_ATT_RFC822_SIZE)
            f->size = st->att_data.att_rfc822_size;
        else if (st->att_type == MAILIMAP_MSG_ATT_INTERNALDATE)
            f->internal_ms = imap_date_ms(st->att_data.att_internal_date);
        else if (st->att_type == MAILIMAP_MSG_ATT_BODY_SECTION && st->att_data.att_body_section &&
                 st->att_data.att_body_section->sec_body_part) {
            f->section = st->att_data.att_body_section->sec_body_part;
            f->section_len = st->att_data.att_body_section->sec_length;
        }
    }
}

int email_imap_fetch_heads(struct email_imap *im, const uint32_t *uids, size_t n,
                           struct email_head *heads, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        heads[i] = (struct email_head){.uid = uids[i], .size = -1};
    struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
    clist *names = clist_new();
    if (!ft || !names || clist_append(names, email_xstrdup("Message-ID")) < 0)
        abort();
    struct mailimap_section *sec =
        mailimap_section_new_header_fields(mailimap_header_list_new(names));
    if (!sec || mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid()) ||
        mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_rfc822_size()) ||
        mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_internaldate()) ||
        mailimap_fetch_type_new_fetch_att_list_add(ft,
                                                   mailimap_fetch_att_new_body_peek_section(sec)))
        abort();
    struct mailimap_set *set = uid_set(uids, n);
    clist *res = NULL;
    int r = mailimap_uid_fetch(im->imap, set, ft, &res);
    mailimap_fetch_type_free(ft);
    mailimap_set_free(set);
    if (r != MAILIMAP_NO_ERROR)
        return fail(err, errlen, im, "UID FETCH (sizes) failed", r);
    for (clistiter *it = res ? clist_begin(res) : NULL; it; it = clist_next(it)) {
        struct fetched f;
        read_fetched(clist_content(it), &f);
        long i = uid_index(uids, n, f.uid);
        if (i < 0 || heads[i].size >= 0)
            continue;
        heads[i].size = f.size;
        heads[i].internal_ms = f.internal_ms;
        if (f.section)
            heads[i].message_id = email_msgid_from_header(f.section, f.section_len);
        heads[i].seen = 1;
    }
    if (res)
        mailimap_fetch_list_free(res);
    return 0;
}

void email_heads_free(struct email_head *heads, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(heads[i].message_id), heads[i].message_id = NULL;
}

int email_imap_fetch_bodies(struct email_imap *im, const uint32_t *uids, size_t n,
                            int64_t max_bytes, struct email_body *bodies, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        bodies[i] = (struct email_body){.uid = uids[i]};
    struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
    struct mailimap_section *sec = mailimap_section_new(NULL);
    uint32_t cap = max_bytes >= 0x7fffffff ? 0x7fffffff : (uint32_t)max_bytes + 1;
    if (!ft || !sec ||
        mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid()) ||
        mailimap_fetch_type_new_fetch_att_list_add(
            ft, mailimap_fetch_att_new_body_peek_section_partial(sec, 0, cap)))
        abort();
    struct mailimap_set *set = uid_set(uids, n);
    clist *res = NULL;
    int r = mailimap_uid_fetch(im->imap, set, ft, &res);
    mailimap_fetch_type_free(ft);
    mailimap_set_free(set);
    if (r != MAILIMAP_NO_ERROR)
        return fail(err, errlen, im, "UID FETCH (messages) failed", r);
    for (clistiter *it = res ? clist_begin(res) : NULL; it; it = clist_next(it)) {
        struct fetched f;
        read_fetched(clist_content(it), &f);
        long i = uid_index(uids, n, f.uid);
        if (i < 0 || bodies[i].data || !f.section)
            continue;
        bodies[i].data = email_xstrndup(f.section, f.section_len);
        bodies[i].len = f.section_len;
    }
    if (res)
        mailimap_fetch_list_free(res);
    return 0;
}

void email_bodies_free(struct email_body *bodies, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(bodies[i].data), bodies[i].data = NULL;
}

static int store_flag(struct email_imap *im, struct mailimap_set *set, struct mailimap_flag *flag)
{
    struct mailimap_flag_list *fl = mailimap_flag_list_new_empty();
    if (!fl || !flag || mailimap_flag_list_add(fl, flag) != MAILIMAP_NO_ERROR)
        abort();
    struct mailimap_store_att_flags *sa = mailimap_store_att_flags_new_add_flags_silent(fl);
    if (!sa)
        abort();
    int r = mailimap_uid_store(im->imap, set, sa);
    mailimap_store_att_flags_free(sa);
    return r;
}

int email_imap_mark(struct email_imap *im, const uint32_t *uids, size_t n, enum email_processed how,
                    const char *folder, char *err, size_t errlen)
{
    if (n == 0 || how == EMAIL_PROC_LEAVE)
        return 0;
    struct mailimap_set *set = uid_set(uids, n);
    int r;
    const char *what;
    if (how == EMAIL_PROC_SEEN) {
        what = "UID STORE \\Seen failed";
        r = store_flag(im, set, mailimap_flag_new_seen());
    } else if (im->has_move) {
        what = "UID MOVE failed";
        r = mailimap_uid_move(im->imap, set, folder);
    } else {
        /* RFC 6851 3.3: COPY, flag \Deleted, expunge those UIDs (UIDPLUS)
         * or, without it, everything flagged \Deleted. */
        what = "UID COPY failed";
        r = mailimap_uid_copy(im->imap, set, folder);
        if (r == MAILIMAP_NO_ERROR) {
            what = "UID STORE \\Deleted failed";
            r = store_flag(im, set, mailimap_flag_new_deleted());
        }
        if (r == MAILIMAP_NO_ERROR) {
            what = "EXPUNGE failed";
            r = im->has_uidplus ? mailimap_uid_expunge(im->imap, set) : mailimap_expunge(im->imap);
        }
    }
    mailimap_set_free(set);
    if (r == MAILIMAP_NO_ERROR)
        return 0;
    fail(err, errlen, im, what, r);
    return r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_PARSE ? -1 : -2;
}

int email_imap_noop(struct email_imap *im, char *err, size_t errlen)
{
    int r = mailimap_noop(im->imap);
    return r == MAILIMAP_NO_ERROR ? 0 : fail(err, errlen, im, "NOOP failed", r);
}

int email_imap_idle_start(struct email_imap *im, char *err, size_t errlen)
{
    int r = mailimap_idle(im->imap);
    if (r != MAILIMAP_NO_ERROR)
        return fail(err, errlen, im, "IDLE failed", r);
    im->idling = 1;
    return 0;
}

int email_imap_idle_wait(struct email_imap *im, int wake_fd, int timeout_ms)
{
    /* Bytes libetpan already read (the server spoke right after "+ idling")
     * would not wake poll(). */
    if (im->imap->imap_stream && im->imap->imap_stream->read_buffer_len > 0)
        return 1;
    struct pollfd p[2] = {{.fd = mailimap_idle_get_fd(im->imap), .events = POLLIN},
                          {.fd = wake_fd, .events = POLLIN}};
    int r = poll(p, 2, timeout_ms < 0 ? 0 : timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    if (p[1].revents)
        return 2;
    if (p[0].revents)
        return 1;
    return 0;
}

int email_imap_idle_done(struct email_imap *im, char *err, size_t errlen)
{
    im->idling = 0;
    int r = mailimap_idle_done(im->imap);
    return r == MAILIMAP_NO_ERROR ? 0 : fail(err, errlen, im, "IDLE DONE failed", r);
}
