/* email.c - the e-mail connector: descriptor, options, instance life
 * cycle, the poll loop and what one fetched message becomes.
 *
 * In: IMAP (email_imap.c) from the host's poll thread. The connector keeps
 * one session: connect, verify TLS, log in, SELECT; fetch what is new; then
 * IDLE (RFC 2177) when the server offers it, re-issued every
 * poll_interval_s (at most 29 minutes, as RFC 2177 asks), else NOOP and a
 * search every poll_interval_s. A broken session is closed and reopened
 * with back-off (1 s doubling to 60 s; after a refused login 60 s doubling
 * to 5 minutes, so a wrong password does not lock the account); the outage
 * is logged once
 * when it starts and once when it ends, the attempts in between at debug.
 * poll() handles all of that itself and returns OG_OK, so the host's own
 * back-off (which logs every retry) is used only for storage errors.
 *
 * The cursor ("c" in the channel state: UIDVALIDITY, last UID, the time it
 * was made, the mailbox) moves only past messages that were stored (emit
 * returned OG_OK, duplicates included) or skipped on purpose, and is saved
 * after each batch. Order per batch: fetch sizes and Message-IDs; skip what
 * is too large (logged with its UID) or already stored (the Message-ID is in
 * the state); fetch the rest (at most max_message_bytes + 1 bytes each, a
 * few MB per FETCH); parse, classify, thread, emit; write the threading
 * state; flag or move what was handled; save the cursor. A crash anywhere
 * re-reads the batch and the state (and the core's de-duplication by
 * Message-ID) absorbs it. A FETCH that fails is retried one message at a
 * time, and a message whose FETCH fails three times in a row (a server that
 * always drops the connection on it) is skipped with its UID logged: no
 * message can wedge the channel or be re-fetched forever.
 *
 * First start (no cursor): mail already in the mailbox is left alone; what
 * arrives from then on is read. A changed UIDVALIDITY (the mailbox was
 * recreated or restored) reads the mailbox again from UID 1, skipping every
 * message whose Message-ID is stored and every message delivered before the
 * cursor was first made, so nothing is stored twice and old mail does not
 * flood in.
 *
 * The channel state, all small strings (README.md, "Channel state"):
 *   c            "<uidvalidity> <last uid> <since ms> <mailbox>"
 *   m:<sha256>   "i <thread>" a message we stored, "o <thread>" one we sent
 *   t:<thread>   what a reply needs (email_send.c)
 *   k:<token>    the thread of a subject token "[#...]" */
#include "email.h"

#include <fcntl.h>
#include <openssl/http.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EMAIL_CHUNK 32                      /* UIDs per FETCH of sizes */
#define EMAIL_FETCH_BYTES (8 * 1024 * 1024) /* bytes of messages per FETCH */
#define EMAIL_BACKOFF_MAX_MS 60000
#define EMAIL_AUTH_BACKOFF_MS 300000
#define EMAIL_FETCH_TRIES 3   /* fetch failures before a message is skipped */
#define EMAIL_IDLE_MAX_S 1740 /* 29 minutes (RFC 2177) */

static const struct og_option email_options[] = {
    {"imap_url", OG_OPT_STR, NULL, OG_OPT_REQUIRED, offsetof(struct email_conf, imap_url),
     "imaps://host[:993], or imap://host[:143] with STARTTLS", NULL},
    {"username", OG_OPT_STR, NULL, OG_OPT_REQUIRED, offsetof(struct email_conf, username),
     "IMAP login name", NULL},
    {"password", OG_OPT_STR, NULL, OG_OPT_REQUIRED | OG_OPT_SECRET,
     offsetof(struct email_conf, password), "IMAP password", NULL},
    {"mailbox", OG_OPT_STR, "INBOX", 0, offsetof(struct email_conf, mailbox),
     "the mailbox read (its IMAP name)", NULL},
    {"tls", OG_OPT_ENUM, "verify", 0, offsetof(struct email_conf, tls),
     "verify: TLS and the server's certificate checked; none: plain imap:// (tests only)",
     "verify|none"},
    {"ca_file", OG_OPT_STR, NULL, 0, offsetof(struct email_conf, ca_file),
     "PEM file of the CAs trusted for the IMAP server (default: the system's)", NULL},
    {"smtp_url", OG_OPT_STR, NULL, OG_OPT_REQUIRED, offsetof(struct email_conf, smtp_url),
     "replies: smtp://host[:587] (see smtp_starttls) or smtps://host[:465]", NULL},
    {"smtp_username", OG_OPT_STR, NULL, 0, offsetof(struct email_conf, smtp_username),
     "SMTP AUTH user (empty: no AUTH)", NULL},
    {"smtp_password", OG_OPT_STR, NULL, OG_OPT_SECRET, offsetof(struct email_conf, smtp_password),
     "SMTP AUTH password", NULL},
    {"smtp_starttls", OG_OPT_ENUM, "always", 0, offsetof(struct email_conf, smtp_starttls),
     "smtp://: always (refuse a server without STARTTLS), auto or never", "always|auto|never"},
    {"smtp_ca_file", OG_OPT_STR, NULL, 0, offsetof(struct email_conf, smtp_ca_file),
     "PEM file of the CAs trusted for the SMTP server (default: the system's)", NULL},
    {"from", OG_OPT_STR, NULL, OG_OPT_REQUIRED, offsetof(struct email_conf, from),
     "sender of replies: \"Name <address>\" or an address; mail from it is ignored", NULL},
    {"reply_to", OG_OPT_STR, NULL, 0, offsetof(struct email_conf, reply_to),
     "Reply-To address of replies (default: none)", NULL},
    {"poll_interval_s", OG_OPT_INT, "60", 0, offsetof(struct email_conf, poll_interval_s),
     "seconds between checks: NOOP without IDLE, a re-issued IDLE with it (5-1740)", NULL},
    {"max_message_bytes", OG_OPT_INT, "10485760", 0, offsetof(struct email_conf, max_message_bytes),
     "larger messages are skipped (logged with their UID; the cursor moves on)", NULL},
    {"processed", OG_OPT_ENUM, "leave", 0, offsetof(struct email_conf, processed),
     "a handled message is left as it is, flagged \\Seen, or moved to move_to", "leave|seen|move"},
    {"move_to", OG_OPT_STR, NULL, 0, offsetof(struct email_conf, move_to),
     "processed \"move\": the folder (created when missing)", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* -------------------------------------------------------------- create */

static int fail_create(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_create(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* imap_url -> host, port, imaps; 0 when usable. */
static int parse_imap_url(struct email *em, char *errbuf, size_t errlen)
{
    char *scheme = NULL, *user = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL,
         *frag = NULL;
    int pn = 0, rc = -1;
    if (!OSSL_parse_url(em->conf->imap_url, &scheme, &user, &host, &port, &pn, &path, &query,
                        &frag)) {
        fail_create(errbuf, errlen, "imap_url: not a URL");
    } else if (strcmp(scheme, "imaps") != 0 && strcmp(scheme, "imap") != 0) {
        fail_create(errbuf, errlen, "imap_url: must be imaps:// or imap://");
    } else if (!*host) {
        fail_create(errbuf, errlen, "imap_url: no host");
    } else if (*user || (*path && strcmp(path, "/") != 0) || *query || *frag) {
        fail_create(errbuf, errlen,
                    "imap_url: only scheme, host and port (set username and mailbox apart)");
    } else {
        em->imaps = strcmp(scheme, "imaps") == 0;
        em->imap_port = (uint16_t)(pn ? pn : em->imaps ? 993 : 143);
        size_t hl = strlen(host);
        if (host[0] == '[' && hl > 2 && host[hl - 1] == ']')
            em->imap_host = em->svc->strdup(host + 1), em->imap_host[hl - 2] = 0;
        else
            em->imap_host = em->svc->strdup(host);
        rc = 0;
    }
    OPENSSL_free(scheme), OPENSSL_free(user), OPENSSL_free(host), OPENSSL_free(port);
    OPENSSL_free(path), OPENSSL_free(query), OPENSSL_free(frag);
    return rc;
}

static int check_conf(struct email *em, char *errbuf, size_t errlen)
{
    const struct email_conf *c = em->conf;
    const struct og_services *svc = em->svc;
    if (svc->struct_size < offsetof(struct og_services, smtp_send) + sizeof svc->smtp_send ||
        !svc->smtp_send)
        return fail_create(errbuf, errlen, "this omnigate has no SMTP relay (ABI 1.1 needed)");
    if (parse_imap_url(em, errbuf, errlen) != 0)
        return -1;
    em->tls_verify = !c->tls || strcmp(c->tls, "none") != 0;
    if (!em->tls_verify && em->imaps)
        return fail_create(errbuf, errlen, "tls \"none\" is for plain imap:// in tests only");
    if (!c->smtp_url ||
        (strncmp(c->smtp_url, "smtp://", 7) != 0 && strncmp(c->smtp_url, "smtps://", 8) != 0))
        return fail_create(errbuf, errlen, "smtp_url: must be smtp:// or smtps://");
    char *name = NULL, *addr = NULL;
    if (email_parse_mailbox(c->from, &name, &addr) != 0) {
        free(name), free(addr);
        return fail_create(errbuf, errlen, "from: not \"Name <address>\" or an address");
    }
    em->from_name = name ? svc->strdup(name) : NULL;
    em->from_addr = svc->strdup(addr);
    em->from_domain = svc->strdup(strchr(addr, '@') + 1);
    free(name), free(addr);
    if (c->reply_to && *c->reply_to) {
        if (email_parse_mailbox(c->reply_to, &name, &addr) != 0) {
            free(name), free(addr);
            return fail_create(errbuf, errlen, "reply_to: not an address");
        }
        em->reply_to_addr = svc->strdup(addr);
        free(name), free(addr);
    }
    if (c->poll_interval_s < 5 || c->poll_interval_s > EMAIL_IDLE_MAX_S)
        return fail_create(errbuf, errlen, "poll_interval_s must be 5 to %d", EMAIL_IDLE_MAX_S);
    if (c->max_message_bytes < 1024 || c->max_message_bytes > 0x7ffffffe)
        return fail_create(errbuf, errlen, "max_message_bytes must be 1024 to 2147483646");
    em->processed = !c->processed || !strcmp(c->processed, "leave") ? EMAIL_PROC_LEAVE
                    : !strcmp(c->processed, "seen")                 ? EMAIL_PROC_SEEN
                                                                    : EMAIL_PROC_MOVE;
    if (em->processed == EMAIL_PROC_MOVE && (!c->move_to || !*c->move_to))
        return fail_create(errbuf, errlen, "processed \"move\" needs move_to");
    X509_STORE *store = X509_STORE_new();
    em->x509_store = store;
    if (!store)
        return fail_create(errbuf, errlen, "out of memory");
    if (c->ca_file && *c->ca_file) {
        if (X509_STORE_load_file(store, c->ca_file) != 1)
            return fail_create(errbuf, errlen, "ca_file: no PEM CA certificate read from %s",
                               c->ca_file);
    } else if (X509_STORE_set_default_paths(store) != 1) {
        return fail_create(errbuf, errlen, "the system's CA certificates cannot be read");
    }
    return 0;
}

static void email_destroy(void *inst);

static og_err email_create(const struct og_services *svc, void *host, const void *conf, void **inst,
                           char *errbuf, size_t errlen)
{
    *inst = NULL;
    struct email *em = svc->alloc(sizeof *em);
    memset(em, 0, sizeof *em);
    em->svc = svc;
    em->host = host;
    em->conf = conf;
    em->wake_pipe[0] = em->wake_pipe[1] = -1;
    pthread_mutex_init(&em->mu, NULL);
    if (check_conf(em, errbuf, errlen) != 0) {
        email_destroy(em);
        return OG_ERR_INVALID;
    }
    if (pipe(em->wake_pipe) != 0 || fcntl(em->wake_pipe[0], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(em->wake_pipe[1], F_SETFL, O_NONBLOCK) != 0) {
        snprintf(errbuf, errlen, "cannot make a pipe");
        email_destroy(em);
        return OG_ERR_INTERNAL;
    }
    *inst = em;
    /* no URL of the SMTP server: it may carry credentials */
    int v6 = strchr(em->imap_host, ':') != NULL;
    svc->log(host, OG_LOG_INFO, "email: %s%s%s%s:%u mailbox %s as %s, replies from %s",
             em->imaps ? "imaps://" : "imap://", v6 ? "[" : "", em->imap_host, v6 ? "]" : "",
             (unsigned)em->imap_port, em->conf->mailbox, em->conf->username, em->from_addr);
    return OG_OK;
}

static void email_destroy(void *inst)
{
    struct email *em = inst;
    if (!em)
        return;
    const struct og_services *svc = em->svc;
    email_imap_close(em->imap);
    X509_STORE_free(em->x509_store);
    for (int i = 0; i < 2; i++)
        if (em->wake_pipe[i] >= 0)
            close(em->wake_pipe[i]);
    pthread_mutex_destroy(&em->mu);
    svc->free(em->imap_host);
    svc->free(em->from_name);
    svc->free(em->from_addr);
    svc->free(em->from_domain);
    svc->free(em->reply_to_addr);
    svc->free(em);
}

/* ----------------------------------------------------------- wake-ups */

static void email_poll_wakeup(void *inst)
{
    struct email *em = inst;
    pthread_mutex_lock(&em->mu);
    em->wake = 1;
    ssize_t w = write(em->wake_pipe[1], "w", 1);
    (void)w; /* a full pipe already wakes the poller */
    pthread_mutex_unlock(&em->mu);
}

/* 1 when a wake-up is pending; consume it if asked. */
static int wake_pending(struct email *em, int consume)
{
    pthread_mutex_lock(&em->mu);
    int w = em->wake;
    if (consume && w) {
        char buf[64];
        while (read(em->wake_pipe[0], buf, sizeof buf) > 0) {
        }
        em->wake = 0;
    }
    pthread_mutex_unlock(&em->mu);
    return w;
}

/* Sleeps up to ms, cut short by a wake-up. */
static void nap(struct email *em, int64_t ms)
{
    if (ms <= 0)
        return;
    struct pollfd p = {.fd = em->wake_pipe[0], .events = POLLIN};
    poll(&p, 1, ms > 0x7fffffff ? 0x7fffffff : (int)ms);
}

/* ------------------------------------------------------------ outages */

static void outage(struct email *em, const char *why, int auth)
{
    const struct og_services *svc = em->svc;
    int64_t now = svc->now_ms();
    if (!em->down_since_ms)
        em->down_since_ms = now;
    /* 1 s doubling to 60 s; a refused login 60 s doubling to 5 min */
    int64_t lo = auth ? 60000 : 1000, hi = auth ? EMAIL_AUTH_BACKOFF_MS : EMAIL_BACKOFF_MAX_MS;
    em->backoff_ms = em->backoff_ms ? em->backoff_ms * 2 : lo;
    if (em->backoff_ms < lo)
        em->backoff_ms = lo;
    if (em->backoff_ms > hi)
        em->backoff_ms = hi;
    em->next_try_ms = now + em->backoff_ms;
    if (!em->down_logged)
        svc->log(em->host, auth ? OG_LOG_ERROR : OG_LOG_WARN,
                 "email: IMAP unavailable: %s; retrying with back-off (logged once per outage)",
                 why);
    else
        svc->log(em->host, OG_LOG_DEBUG, "email: IMAP still unavailable: %s", why);
    em->down_logged = 1;
}

static void lost(struct email *em, const char *why)
{
    email_imap_close(em->imap);
    em->imap = NULL;
    outage(em, why, 0);
}

/* ------------------------------------------------------------- state */

static og_err state_get(struct email *em, const char *key, char **val)
{
    *val = NULL;
    og_err e = em->svc->state_get(em->host, key, val);
    if (e != OG_OK) {
        em->svc->free(*val);
        *val = NULL;
    }
    return e;
}

static og_err save_cursor(struct email *em)
{
    char v[600];
    snprintf(v, sizeof v, "%u %u %lld %s", em->uidvalidity, em->last_uid, (long long)em->since_ms,
             em->conf->mailbox);
    return em->svc->state_set(em->host, "c", v);
}

static og_err load_cursor(struct email *em)
{
    char *v = NULL;
    og_err e = state_get(em, "c", &v);
    if (e != OG_OK)
        return e;
    unsigned uv = 0, last = 0;
    long long since = 0;
    int off = 0;
    if (v && sscanf(v, "%u %u %lld %n", &uv, &last, &since, &off) == 3 && off > 0 &&
        strcmp(v + off, em->conf->mailbox) == 0) {
        em->uidvalidity = uv;
        em->last_uid = last;
        em->since_ms = since;
    } else {
        em->uidvalidity = em->last_uid = 0; /* none, or of another mailbox */
        em->since_ms = 0;
    }
    em->svc->free(v);
    em->cursor_loaded = 1;
    return OG_OK;
}

/* Brings the cursor in line with the mailbox as selected: first start,
 * same UIDVALIDITY, or a changed one (see the file comment). */
static og_err cursor_sync(struct email *em)
{
    const struct og_services *svc = em->svc;
    og_err e = em->cursor_loaded ? OG_OK : load_cursor(em);
    if (e != OG_OK || em->uidvalidity == em->sel_uidvalidity)
        return e;
    if (em->uidvalidity == 0) {
        em->since_ms = svc->now_ms();
        em->last_uid = em->sel_uidnext ? em->sel_uidnext - 1 : 0;
        svc->log(em->host, OG_LOG_INFO,
                 "email: first start on %s: mail already there is left alone (UIDs up to %u)",
                 em->conf->mailbox, em->last_uid);
    } else {
        svc->log(em->host, OG_LOG_WARN,
                 "email: UIDVALIDITY of %s changed (%u -> %u): reading it again; stored "
                 "messages are recognised by Message-ID, mail delivered before this channel "
                 "first read the mailbox (%lld s ago) is left alone",
                 em->conf->mailbox, em->uidvalidity, em->sel_uidvalidity,
                 (long long)((svc->now_ms() - em->since_ms) / 1000));
        em->last_uid = 0;
        em->rescan = 1;
    }
    em->uidvalidity = em->sel_uidvalidity;
    return save_cursor(em);
}

/* 0 and *known when a Message-ID is in the state (stored or sent by us). */
static og_err msgid_known(struct email *em, const char *msgid, int *known)
{
    char key[40], *v = NULL;
    email_msgid_key(msgid, key);
    og_err e = state_get(em, key, &v);
    *known = v != NULL;
    em->svc->free(v);
    return e;
}

static int lookup_msgid(void *ud, const char *msgid, char **thread)
{
    struct email *em = ud;
    char key[40], *v = NULL;
    *thread = NULL;
    email_msgid_key(msgid, key);
    if (state_get(em, key, &v) != OG_OK)
        return -1;
    if (v && (v[0] == 'i' || v[0] == 'o') && v[1] == ' ' && v[2])
        *thread = email_xstrdup(v + 2);
    em->svc->free(v);
    return 0;
}

static int lookup_token(void *ud, const char *tok, char **thread)
{
    struct email *em = ud;
    char key[EMAIL_TOKEN_LEN + 3], *v = NULL;
    *thread = NULL;
    snprintf(key, sizeof key, "k:%s", tok);
    if (state_get(em, key, &v) != OG_OK)
        return -1;
    if (v && *v)
        *thread = email_xstrdup(v);
    em->svc->free(v);
    return 0;
}

/* After a message was stored: its Message-ID and what a reply needs. */
static og_err record_inbound(struct email *em, const struct email_msg *m, const char *thread)
{
    const struct og_services *svc = em->svc;
    struct email_buf b = {0};
    char *subject = email_subject_base(m->subject);
    email_buf_puts(&b, "v1\t");
    email_buf_puts(&b, m->reply_to ? m->reply_to : m->from_addr);
    email_buf_putc(&b, '\t');
    email_buf_puts(&b, subject);
    email_buf_putc(&b, '\t');
    email_buf_puts(&b, m->message_id);
    email_buf_putc(&b, '\t');
    for (size_t i = 0; i < m->n_refs; i++) {
        if (i)
            email_buf_putc(&b, ' ');
        email_buf_puts(&b, m->refs[i]);
    }
    if (!m->n_refs && m->in_reply_to) /* RFC 5322 3.6.4: the parent's In-Reply-To */
        email_buf_puts(&b, m->in_reply_to);
    free(subject);
    size_t kl = strlen(thread) + 3;
    char *tkey = email_xmalloc(kl);
    snprintf(tkey, kl, "t:%s", thread);
    og_err e = svc->state_set(em->host, tkey, b.p);
    free(tkey);
    email_buf_free(&b);
    if (e != OG_OK)
        return e;
    char key[40];
    email_msgid_key(m->message_id, key);
    size_t vl = strlen(thread) + 3;
    char *val = email_xmalloc(vl);
    snprintf(val, vl, "i %s", thread);
    e = svc->state_set(em->host, key, val);
    free(val);
    return e;
}

/* ----------------------------------------------------- one message */

static enum og_kind kind_of(const struct email_msg *m, const char *text)
{
    if (*text || m->n_atts == 0)
        return OG_KIND_TEXT;
    const char *t = m->atts[0].mime_type;
    return !strncmp(t, "image/", 6)   ? OG_KIND_IMAGE
           : !strncmp(t, "video/", 6) ? OG_KIND_VIDEO
           : !strncmp(t, "audio/", 6) ? OG_KIND_AUDIO
                                      : OG_KIND_FILE;
}

/* The message's text as agents read it: the subject first when the mail
 * starts a conversation (e-mail's subject says what it is about), notes
 * for what was cut. [xfer free] */
static char *agent_text(const struct email_msg *m, enum email_thread_how how)
{
    struct email_buf b = {0};
    if (how == EMAIL_THREAD_NEW && *m->subject) {
        email_buf_puts(&b, "Subject: ");
        email_buf_puts(&b, m->subject);
        if (*m->text)
            email_buf_puts(&b, "\n\n");
    }
    email_buf_puts(&b, m->text);
    if (m->flags & EMAIL_F_TEXT_CUT)
        email_buf_puts(&b, "\n[the text is longer; the whole mail is kept in raw]");
    if (m->n_atts_total > m->n_atts) {
        char note[96];
        snprintf(note, sizeof note, "\n[%zu more attachments are not listed]",
                 m->n_atts_total - m->n_atts);
        email_buf_puts(&b, note);
    }
    return email_buf_take(&b);
}

static og_err emit_mail(struct email *em, const struct email_msg *m, const char *thread,
                        enum email_thread_how how, const char *raw, size_t len)
{
    struct og_attachment atts[EMAIL_MAX_ATTACHMENTS];
    char ids[EMAIL_MAX_ATTACHMENTS][EMAIL_SECTION_MAX + 8];
    for (size_t i = 0; i < m->n_atts; i++) {
        snprintf(ids[i], sizeof ids[i], "mime:%s", m->atts[i].section);
        atts[i] = (struct og_attachment){.media_id = ids[i],
                                         .mime_type = m->atts[i].mime_type,
                                         .name = m->atts[i].name,
                                         .size = m->atts[i].size};
    }
    char *text = agent_text(m, how);
    struct og_inbound in = {
        .struct_size = sizeof in,
        /* The Message-ID is the delivery key and the provider id: the core
         * then de-duplicates by it for good (not for a window), so the
         * same mail read again (a re-scan, a second copy) is stored once. */
        .dedup_key = m->message_id,
        .provider_message_id = m->message_id,
        .thread_id = thread,
        .from = {.external_id = m->from_addr, .name = m->from_name, .email = m->from_addr},
        .kind = kind_of(m, text),
        .text = *text ? text : NULL,
        .attachments = m->n_atts ? atts : NULL,
        .n_attachments = m->n_atts,
        .reply_to_provider_id = m->in_reply_to,
        .timestamp_ms = m->date_ms,
        .raw = raw,
        .raw_len = len,
    };
    og_err e = em->svc->emit_message(em->host, &in);
    free(text);
    return e;
}

/* A bounce: when it returns one of our replies, that reply failed. */
static og_err handle_bounce(struct email *em, uint32_t uid, const struct email_msg *m)
{
    const struct og_services *svc = em->svc;
    char *thread = NULL;
    if (m->bounce_of && lookup_msgid(em, m->bounce_of, &thread) != 0)
        return OG_ERR_UNAVAILABLE;
    char key[40];
    int ours = 0;
    if (thread && m->bounce_of) {
        char *v = NULL;
        email_msgid_key(m->bounce_of, key);
        og_err e = state_get(em, key, &v);
        ours = e == OG_OK && v && v[0] == 'o';
        svc->free(v);
        if (e != OG_OK) {
            free(thread);
            return e;
        }
    }
    free(thread);
    if (!ours) {
        svc->log(em->host, OG_LOG_INFO, "email: UID %u: bounce (%s) of no reply of ours; ignored",
                 uid, m->why);
        return OG_OK;
    }
    size_t dl = strlen(m->message_id) + 8;
    char *dedup = email_xmalloc(dl);
    snprintf(dedup, dl, "bounce:%s", m->message_id);
    struct og_status_update st = {
        .struct_size = sizeof st,
        .dedup_key = dedup,
        .provider_message_id = m->bounce_of,
        .status = OG_STATUS_FAILED,
        .error_code = m->bounce_status ? m->bounce_status : "bounce",
        .error_message =
            m->bounce_reason && *m->bounce_reason ? m->bounce_reason : "the mail was returned",
        .timestamp_ms = m->date_ms,
    };
    og_err e = svc->emit_status(em->host, &st);
    free(dedup);
    if (e == OG_OK)
        svc->log(em->host, OG_LOG_INFO, "email: UID %u: our %s bounced (%s): marked failed", uid,
                 m->bounce_of, st.error_message);
    return e;
}

static int own_address(const struct email *em, const char *addr)
{
    return !strcmp(addr, em->from_addr) || (em->reply_to_addr && !strcmp(addr, em->reply_to_addr));
}

/* Parses, classifies, threads and stores one message. OG_OK also when it
 * is skipped on purpose (logged with its UID); any other result is a
 * storage error: the cursor must stay before this message. msgid_checked:
 * its header's Message-ID was already looked up (fetch_batch). */
static og_err process_one(struct email *em, uint32_t uid, const char *raw, size_t len,
                          int msgid_checked)
{
    const struct og_services *svc = em->svc;
    struct email_msg m;
    char why[200];
    if (email_parse(raw, len, &m, why, sizeof why) != 0) {
        svc->log(em->host, OG_LOG_WARN, "email: UID %u: not readable (%s); skipped", uid, why);
        return OG_OK;
    }
    og_err e = OG_OK;
    int known = 0;
    if (!m.from_addr) {
        svc->log(em->host, OG_LOG_WARN, "email: UID %u: no usable sender address; skipped", uid);
    } else if (own_address(em, m.from_addr)) {
        svc->log(em->host, OG_LOG_DEBUG, "email: UID %u: from our own address; ignored", uid);
    } else if (!msgid_checked && (e = msgid_known(em, m.message_id, &known)) != OG_OK) {
        /* storage error: returned below */
    } else if (known) {
        svc->log(em->host, OG_LOG_DEBUG, "email: UID %u: %s is already stored", uid, m.message_id);
    } else if (m.cls == EMAIL_CLASS_BOUNCE) {
        e = handle_bounce(em, uid, &m);
    } else if (m.cls == EMAIL_CLASS_AUTO) {
        svc->log(em->host, OG_LOG_INFO,
                 "email: UID %u: from %s is not a conversation (%s); "
                 "ignored",
                 uid, m.from_addr, m.why);
    } else {
        struct email_lookup lk = {lookup_msgid, lookup_token, em};
        enum email_thread_how how;
        char *thread = email_thread_decide(&m, &lk, &how);
        if (!thread) {
            e = OG_ERR_UNAVAILABLE;
        } else {
            e = emit_mail(em, &m, thread, how, raw, len);
            if (e == OG_OK)
                e = record_inbound(em, &m, thread);
            if (e == OG_OK && svc->log_enabled(em->host, OG_LOG_DEBUG))
                svc->log(em->host, OG_LOG_DEBUG, "email: UID %u: stored in thread %s (%s)%s%s", uid,
                         thread,
                         how == EMAIL_THREAD_NEW     ? "new"
                         : how == EMAIL_THREAD_REPLY ? "by reference"
                                                     : "by subject token",
                         m.flags & EMAIL_F_BAD_CHARSET ? ", unknown charset" : "",
                         m.flags & EMAIL_F_PARTS_CUT ? ", parts cut" : "");
            free(thread);
        }
    }
    email_msg_free(&m);
    return e;
}

/* ------------------------------------------------------------ fetching */

/* A FETCH failed: the session goes, and the failure counts against the
 * message when it was fetched alone (see the file comment). */
static void fetch_failed(struct email *em, const uint32_t *uids, size_t n, const char *why)
{
    if (n == 1) {
        if (em->failing_uid == uids[0]) {
            em->failing_tries++;
        } else {
            em->failing_uid = uids[0];
            em->failing_tries = 1;
        }
        if (em->failing_tries >= EMAIL_FETCH_TRIES) {
            em->svc->log(em->host, OG_LOG_WARN,
                         "email: UID %u: fetching it failed %d times (%s); skipped", uids[0],
                         em->failing_tries, why);
            em->last_uid = uids[0];
            em->failing_uid = 0;
            em->failing_tries = 0;
            save_cursor(em); /* best effort: at worst it is skipped again */
        }
    } else if (n > 0 && uids[n - 1] > em->single_until) {
        em->single_until = uids[n - 1];
    }
    lost(em, why);
}

/* Flags or moves the handled messages of a batch. */
static int mark_done(struct email *em, const uint32_t *uids, size_t n)
{
    char err[300];
    int r = email_imap_mark(em->imap, uids, n, em->processed, em->conf->move_to, err, sizeof err);
    if (r == -1) {
        lost(em, err);
        return -1;
    }
    if (r == -2 && !em->mark_warned) {
        em->svc->log(em->host, OG_LOG_WARN, "email: %s; handled mail stays where it is", err);
        em->mark_warned = 1;
    } else if (r == 0) {
        em->mark_warned = 0;
    }
    return 0;
}

/* One batch: uids[0..n) ascending. OG_OK when the batch was handled or the
 * session was lost (then em->imap is NULL); a storage error otherwise. */
static og_err fetch_batch(struct email *em, const uint32_t *uids, size_t n)
{
    const struct og_services *svc = em->svc;
    struct email_head heads[EMAIL_CHUNK];
    uint32_t done[EMAIL_CHUNK];
    size_t n_done = 0;
    char err[300];
    if (email_imap_fetch_heads(em->imap, uids, n, heads, err, sizeof err) != 0) {
        fetch_failed(em, uids, n, err);
        return OG_OK;
    }
    og_err e = OG_OK;
    for (size_t i = 0; i < n && e == OG_OK && em->imap;) {
        const struct email_head *h = &heads[i];
        int known = 0;
        if (!h->seen) {
            svc->log(em->host, OG_LOG_INFO,
                     "email: UID %u: the server has no such message (expunged?); skipped", uids[i]);
            em->last_uid = uids[i++];
            continue;
        }
        if (h->size > em->conf->max_message_bytes) {
            svc->log(em->host, OG_LOG_WARN,
                     "email: UID %u: %lld bytes, over max_message_bytes (%lld); skipped", uids[i],
                     (long long)h->size, (long long)em->conf->max_message_bytes);
            em->last_uid = uids[i++];
            continue;
        }
        if (em->rescan && h->internal_ms && h->internal_ms < em->since_ms) {
            em->last_uid = uids[i++]; /* older than our first start: never ours to read */
            continue;
        }
        /* a stored Message-ID (a second copy, a batch replayed after a crash,
         * a re-scan) is not even downloaded */
        if (h->message_id && (e = msgid_known(em, h->message_id, &known)) != OG_OK)
            break;
        if (known) {
            done[n_done++] = uids[i];
            em->last_uid = uids[i++];
            continue;
        }
        /* a run of messages to fetch together, a few MB at most */
        size_t j = i;
        int64_t bytes = 0;
        while (j < n && heads[j].seen && heads[j].size <= em->conf->max_message_bytes &&
               (j == i || bytes + (heads[j].size > 0 ? heads[j].size : 0) <= EMAIL_FETCH_BYTES) &&
               !(em->rescan && heads[j].internal_ms && heads[j].internal_ms < em->since_ms) &&
               (j == i || uids[j] > em->single_until))
            bytes += heads[j].size > 0 ? heads[j].size : 0, j++;
        struct email_body bodies[EMAIL_CHUNK];
        if (email_imap_fetch_bodies(em->imap, uids + i, j - i, em->conf->max_message_bytes, bodies,
                                    err, sizeof err) != 0) {
            fetch_failed(em, uids + i, j - i, err);
            break;
        }
        for (size_t k = 0; k < j - i && e == OG_OK; k++) {
            const struct email_body *b = &bodies[k];
            if (!b->data) {
                svc->log(em->host, OG_LOG_INFO,
                         "email: UID %u: the server sent no message (expunged?); skipped", b->uid);
            } else if ((int64_t)b->len > em->conf->max_message_bytes) {
                svc->log(em->host, OG_LOG_WARN,
                         "email: UID %u: more than max_message_bytes (%lld) sent; skipped", b->uid,
                         (long long)em->conf->max_message_bytes);
            } else {
                e = process_one(em, b->uid, b->data, b->len, heads[i + k].message_id != NULL);
                if (e != OG_OK)
                    break;
                done[n_done++] = b->uid;
            }
            em->last_uid = b->uid;
            if (em->failing_uid == b->uid)
                em->failing_uid = 0, em->failing_tries = 0;
        }
        email_bodies_free(bodies, j - i);
        i = j;
    }
    email_heads_free(heads, n);
    if (em->imap && n_done)
        mark_done(em, done, n_done);
    og_err se = save_cursor(em);
    return e != OG_OK ? e : se;
}

/* Everything after the cursor, batch by batch. */
static og_err fetch_new(struct email *em)
{
    char err[300];
    og_err e = cursor_sync(em);
    if (e != OG_OK)
        return e;
    uint32_t *uids = NULL;
    size_t n = 0;
    if (email_imap_search_after(em->imap, em->last_uid, &uids, &n, err, sizeof err) != 0) {
        lost(em, err);
        return OG_OK;
    }
    for (size_t i = 0; i < n && em->imap && e == OG_OK && !wake_pending(em, 0);) {
        size_t k = uids[i] <= em->single_until ? 1 : (n - i < EMAIL_CHUNK ? n - i : EMAIL_CHUNK);
        e = fetch_batch(em, uids + i, k);
        i += k;
    }
    free(uids);
    if (em->imap && e == OG_OK && !wake_pending(em, 0))
        em->rescan = 0; /* read through */
    return e;
}

/* ---------------------------------------------------------------- poll */

static int connect_imap(struct email *em)
{
    const struct og_services *svc = em->svc;
    char err[400];
    int auth = 0;
    struct email_imap *im = email_imap_open(em, err, sizeof err, &auth);
    if (im && email_imap_select(im, em->conf->mailbox,
                                em->processed == EMAIL_PROC_MOVE ? em->conf->move_to : NULL,
                                &em->sel_uidvalidity, &em->sel_uidnext, err, sizeof err) != 0) {
        email_imap_close(im);
        im = NULL;
    }
    if (!im) {
        outage(em, err, auth);
        return -1;
    }
    em->imap = im;
    int64_t now = svc->now_ms();
    if (em->down_since_ms && em->down_logged)
        svc->log(em->host, OG_LOG_INFO, "email: IMAP back after %lld s",
                 (long long)((now - em->down_since_ms) / 1000));
    else
        svc->log(em->host, OG_LOG_INFO, "email: IMAP connected, %s selected (IDLE %s)",
                 em->conf->mailbox, email_imap_has_idle(im) ? "on" : "not offered");
    em->down_since_ms = 0;
    em->down_logged = 0;
    em->backoff_ms = 0;
    return 0;
}

/* Waits for news on a connected session: 1 when it is time to look (the
 * server spoke, or poll_interval_s passed), 0 when the host's poll time
 * ran out first or a wake-up came. */
static int wait_news(struct email *em, int timeout_ms)
{
    char err[300];
    int64_t now = em->svc->now_ms();
    int64_t until = em->next_check_ms - now;
    int ms = until < timeout_ms ? (int)(until > 0 ? until : 0) : timeout_ms;
    if (!email_imap_idling(em->imap)) {
        nap(em, ms);
        if (wake_pending(em, 0) || em->svc->now_ms() < em->next_check_ms)
            return 0;
        if (email_imap_noop(em->imap, err, sizeof err) != 0) {
            lost(em, err);
            return 0;
        }
        return 1;
    }
    int w = email_imap_idle_wait(em->imap, em->wake_pipe[0], ms);
    if (w == 2 || (w == 0 && em->svc->now_ms() < em->next_check_ms))
        return 0;
    if (w < 0 || email_imap_idle_done(em->imap, err, sizeof err) != 0) {
        lost(em, w < 0 ? "waiting in IDLE failed" : err);
        return 0;
    }
    return 1;
}

static og_err email_poll(void *inst, int timeout_ms)
{
    struct email *em = inst;
    if (wake_pending(em, 1))
        return OG_OK;
    if (!em->imap) {
        int64_t wait = em->next_try_ms - em->svc->now_ms();
        if (wait > 0) {
            nap(em, wait < timeout_ms ? wait : timeout_ms);
            return OG_OK;
        }
        if (connect_imap(em) != 0)
            return OG_OK;
    } else if (!wait_news(em, timeout_ms)) {
        return OG_OK;
    }
    og_err e = fetch_new(em);
    if (e != OG_OK || !em->imap)
        return e;
    em->next_check_ms = em->svc->now_ms() + em->conf->poll_interval_s * 1000;
    char err[300];
    if (email_imap_has_idle(em->imap) && email_imap_idle_start(em->imap, err, sizeof err) != 0)
        lost(em, err);
    return OG_OK;
}

static og_err email_send_cb(void *inst, const struct og_outbound *msg, struct og_send_result *res)
{
    return email_send(inst, msg, res);
}

/* An inbound attachment's file (ABI 1.3): the part of the stored raw mail
 * that email_parse listed under the section in media_id ("mime:<section>"),
 * decoded. OG_ERR_NOT_FOUND when the raw mail is no longer kept (store_raw)
 * or holds no such part. */
static og_err email_fetch_media(void *inst, const struct og_media_req *req,
                                struct og_media_res *res)
{
    struct email *em = inst;
    const struct og_services *svc = em->svc;
    if (!req->media_id || strncmp(req->media_id, "mime:", 5) != 0) {
        snprintf(res->error, sizeof res->error, "the attachment is no part of a mail");
        return OG_ERR_NOT_FOUND;
    }
    if (!req->raw || !req->raw_len) {
        snprintf(res->error, sizeof res->error,
                 "the raw mail is no longer kept (store_raw), so neither are its parts");
        return OG_ERR_NOT_FOUND;
    }
    char *data = NULL, *name = NULL, *type = NULL;
    size_t len = 0;
    if (email_part(req->raw, req->raw_len, req->media_id + 5, &data, &len, &name, &type) != 0) {
        snprintf(res->error, sizeof res->error, "the mail has no part %.40s", req->media_id + 5);
        return OG_ERR_NOT_FOUND;
    }
    res->data = svc->alloc(len ? len : 1);
    memcpy(res->data, data, len);
    res->len = len;
    res->name = svc->strdup(name);
    res->mime_type = svc->strdup(type);
    free(data), free(name), free(type);
    return OG_OK;
}

/* Mail attachments: what providers commonly take, 25 MB of any type. */
static const struct og_media_limit email_upload_limits[] = {
    {"*", 25LL << 20},
    {NULL, 0},
};

static const struct og_connector email_connector = {
    OG_CONNECTOR_HEADER,
    .name = "email",
    .version = "1.0.0",
    .description = "E-mail: IMAP in (IDLE, TLS verified), threaded SMTP replies out",
    .platform_api = "IMAP4rev1 (RFC 3501) + IDLE (RFC 2177); RFC 5322/MIME; SMTP via the host",
    .options = email_options,
    .conf_size = sizeof(struct email_conf),
    .create = email_create,
    .destroy = email_destroy,
    .handle_http = NULL,
    .poll = email_poll,
    .poll_wakeup = email_poll_wakeup,
    .send = email_send_cb,
    .messaging_window_ms = 0,
    /* a mail server is no chat API: a few mails a second per account is
     * what providers tolerate before throttling or flagging as spam */
    .default_rate_per_s = 5,
    .caps = OG_CAP_NON_REALTIME | OG_CAP_START_OUTBOUND | OG_CAP_ATTACH_URL,
    .fetch_media = email_fetch_media,
    .upload_limits = email_upload_limits,
};

OG_CONNECTOR_EXPORT const struct og_connector *og_connector_entry(void)
{
    return &email_connector;
}
