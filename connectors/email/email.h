/* email.h - internal declarations of the e-mail connector, shared by its
 * four files. Nothing here is exported: the plugin is built with hidden
 * visibility and its only public symbol is og_connector_entry() (email.c).
 *
 * Implements IMAP4rev1 (RFC 3501) with UIDPLUS/MOVE when offered (RFC 4315,
 * RFC 6851) and IDLE (RFC 2177) in; RFC 5322 messages with MIME (RFC 2045-
 * 2047, RFC 2231 file names), delivery status notifications (RFC 3464) and
 * auto-reply markers (RFC 3834) parsed; replies threaded by Message-ID,
 * In-Reply-To and References (RFC 5322 3.6.4) and relayed by SMTP through
 * the host (svc->smtp_send).
 *
 * Files:
 *   email.c       descriptor, options, create/destroy, the poll loop, what
 *                 one fetched message becomes (emit, status, state)
 *   email_imap.c  the IMAP session on libetpan: connect, TLS certificate
 *                 check with OpenSSL, login, SELECT, search, fetch, IDLE
 *   email_mime.c  bytes -> struct email_msg (pure: no instance, no network,
 *                 no clock; unit-tested and fuzzed on its own), noise
 *                 classification, threading decisions, subject tokens
 *   email_text.c  the text helpers email_mime.c uses (pure as well):
 *                 charsets to UTF-8 (iconv), HTML to text, quote and
 *                 signature separation, subjects
 *   email_send.c  the reply: built with libetpan's MIME writer, relayed
 *                 with svc->smtp_send
 *
 * Memory: the pure parts (email_mime.c and the message builder) allocate
 * with malloc and abort on exhaustion, like the host's svc->alloc; strings
 * handed across the ABI are made with svc->strdup. */
#ifndef OG_EMAIL_H
#define OG_EMAIL_H
#include <omnigate/connector.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define EMAIL_MAX_PARTS 1000        /* MIME nodes looked at per message */
#define EMAIL_MAX_ATTACHMENTS 100   /* attachments listed per message */
#define EMAIL_MAX_NESTING 64        /* nested multiparts / messages libetpan may recurse into */
#define EMAIL_MAX_COMMENT_DEPTH 128 /* nested "(" in one header, ditto */
#define EMAIL_MAX_TEXT (256 * 1024) /* bytes of new text kept in the message */
#define EMAIL_MAX_REFS 20           /* References kept (the newest) */
#define EMAIL_MSGID_MAX 250         /* longer Message-IDs are hashed into a short one */
#define EMAIL_TOKEN_LEN 10          /* hex digits of a subject token "[#...]" */
#define EMAIL_SECTION_MAX 48        /* an IMAP part number, NUL included */

/* ------------------------------------------------------------ email_text.c */

/* A growing byte buffer, always NUL-terminated once something was added. */
struct email_buf {
    char *p;
    size_t len, cap;
};
void email_buf_add(struct email_buf *b, const void *s, size_t n);
void email_buf_puts(struct email_buf *b, const char *s);
void email_buf_putc(struct email_buf *b, char c);
/* The contents [xfer free], "" when empty; the buffer is empty afterwards. */
char *email_buf_take(struct email_buf *b);
void email_buf_free(struct email_buf *b);
void *email_xmalloc(size_t n); /* aborts on exhaustion, as svc->alloc */
char *email_xstrndup(const char *s, size_t n);
char *email_xstrdup(const char *s); /* NULL in, NULL out */

/* Appends s[0..len), assumed UTF-8, as valid UTF-8: invalid sequences
 * become U+FFFD, CR LF and lone CR become LF, NUL and C0 controls other
 * than tab and LF are dropped. */
void email_buf_add_clean(struct email_buf *b, const char *s, size_t len);
/* 1 when s[0..len) is valid UTF-8 (no overlong forms, no surrogates). */
int email_utf8_valid(const char *s, size_t len);
/* One line of text for a header-like value: whitespace runs (folding
 * included) become one space, trimmed; at most max bytes, cut between
 * UTF-8 characters. [xfer free] */
char *email_one_line(const char *s, size_t max);

/* Converts s[0..len) from charset (NULL = us-ascii) to valid UTF-8 with LF
 * line ends (invalid bytes become U+FFFD; NULs and other C0 controls but
 * tab and newline are dropped). An unknown charset reads as UTF-8 when that
 * is valid, else as Windows-1252, and sets *bad_charset. [xfer free] */
char *email_to_utf8(const char *charset, const char *s, size_t len, int *bad_charset);

/* HTML to readable text: block elements end lines, links are kept as
 * "label (url)", entities decoded, <blockquote> lines start with "> ",
 * script/style/head dropped. Input and output UTF-8. [xfer free] */
char *email_html_to_text(const char *html, size_t len);

/* Splits a plain text into the new text, the quoted earlier conversation
 * ("On ... wrote:", "-----Original Message-----", a trailing "> " block, an
 * Outlook "From:" header block) and the signature ("-- ", "Sent from my
 * ..."). Each out [xfer free] may be NULL when absent; *new_text never is. */
void email_split_reply(const char *text, char **new_text, char **quoted, char **signature);

/* The subject without reply/forward prefixes (Re:, Fwd:, AW:, ...) and
 * without "[#token]" marks, trimmed; "(no subject)" when nothing is left.
 * [xfer free] */
char *email_subject_base(const char *subject);
/* The last "[#<EMAIL_TOKEN_LEN hex>]" of subject into tok; 1 when found. */
int email_subject_token(const char *subject, char tok[EMAIL_TOKEN_LEN + 1]);

/* ------------------------------------------------------------ email_mime.c */

enum email_class {
    EMAIL_CLASS_MESSAGE = 0, /* a person wrote it */
    EMAIL_CLASS_AUTO,        /* auto-reply, out-of-office, list or bulk mail, read receipt */
    EMAIL_CLASS_BOUNCE,      /* a delivery failure report */
};

#define EMAIL_F_BAD_CHARSET (1u << 0) /* an unknown charset: read as UTF-8 or Windows-1252 */
#define EMAIL_F_PARTS_CUT (1u << 1)   /* more than EMAIL_MAX_PARTS parts: the rest ignored */
#define EMAIL_F_TEXT_CUT (1u << 2)    /* the text was longer than EMAIL_MAX_TEXT */
#define EMAIL_F_NO_MSGID (1u << 3)    /* no Message-ID: one was derived from the bytes */
#define EMAIL_F_ENCRYPTED (1u << 4)   /* multipart/encrypted: the text cannot be read */

struct email_att {
    char *name;                      /* UTF-8 file name, or NULL */
    char *mime_type;                 /* lower case, "application/octet-stream" when unknown */
    int64_t size;                    /* decoded bytes */
    char section[EMAIL_SECTION_MAX]; /* the IMAP part number ("2", "1.3"), to fetch it later */
};

/* One parsed message. Every string is owned (free with email_msg_free). */
struct email_msg {
    char *message_id;  /* without <>; see EMAIL_F_NO_MSGID */
    char *in_reply_to; /* the first id of In-Reply-To, or NULL */
    char **refs;       /* References, oldest first, at most EMAIL_MAX_REFS */
    size_t n_refs;
    char *subject;   /* decoded UTF-8; "" when absent */
    char *from_name; /* decoded display name, or NULL */
    char *from_addr; /* lower case; NULL when From has no usable address */
    char *reply_to;  /* the first Reply-To address, lower case, or NULL */
    int64_t date_ms; /* the Date header; 0 when absent or absurd */
    char *text;      /* the new text: UTF-8, LF line ends; "" when none */
    char *quoted;    /* the quoted earlier conversation, or NULL */
    char *signature; /* the signature, or NULL */
    int html_only;   /* the text was made from HTML */
    struct email_att *atts;
    size_t n_atts;       /* listed */
    size_t n_atts_total; /* seen, when more than EMAIL_MAX_ATTACHMENTS */
    enum email_class cls;
    char why[128];       /* for AUTO and BOUNCE: what gave it away */
    char *bounce_of;     /* BOUNCE: the Message-ID of the returned message, or NULL */
    char *bounce_status; /* BOUNCE: the DSN Status ("5.1.1"), or NULL */
    char *bounce_reason; /* BOUNCE: the Diagnostic-Code or the report's first line */
    unsigned flags;      /* EMAIL_F_* */
};

/* Parses one RFC 5322 message (raw[0..len), any line ends, need not be
 * NUL-terminated) into *m. Malformed MIME gives what could be read. Returns
 * 0, or -1 with a reason in why when nothing usable came out (no header, a
 * structure nested deeper than libetpan's recursive parser can safely take);
 * *m is then empty. */
int email_parse(const char *raw, size_t len, struct email_msg *m, char *why, size_t whylen);
/* The decoded bytes of the attachment email_parse() listed with section
 * (the IMAP part number), from the same raw message: *data [xfer free]
 * (*dlen bytes), *name and *type [xfer free] as listed (NULL when none).
 * 0, or -1 when the message has no such attachment. */
int email_part(const char *raw, size_t len, const char *section, char **data, size_t *dlen,
               char **name, char **type);
void email_msg_free(struct email_msg *m);
/* The Message-ID of a header block (a FETCH of HEADER.FIELDS (Message-ID)),
 * cleaned as email_parse() does; NULL when there is none. [xfer free] */
char *email_msgid_from_header(const char *s, size_t n);

/* Lower-case address of "Name <addr>" or "addr" into addr, the display
 * name (decoded, or NULL) into *name [xfer free]; 0 when usable. */
int email_parse_mailbox(const char *s, char **name, char **addr);
/* A bare address local@domain that can go into an SMTP envelope. */
int email_addr_ok(const char *s);

/* The token of a thread id: the first hex digits of its SHA-256. */
void email_thread_token(const char *thread, char tok[EMAIL_TOKEN_LEN + 1]);
/* The state key of a Message-ID: "m:" + 32 hex digits of its SHA-256. */
void email_msgid_key(const char *msgid, char key[40]);
/* The thread id of a conversation a message starts: "e:" + 20 hex digits
 * of its Message-ID's SHA-256. */
void email_new_thread_id(const char *msgid, char out[32]);

/* How a message was put into a thread. */
enum email_thread_how { EMAIL_THREAD_NEW = 0, EMAIL_THREAD_REPLY, EMAIL_THREAD_TOKEN };

/* Where the connector's stored Message-IDs and tokens are looked up. Each
 * returns 0 with *thread [xfer free] or NULL when unknown, or -1 when the
 * store failed (the decision must then not be made). */
struct email_lookup {
    int (*by_msgid)(void *ud, const char *msgid, char **thread);
    int (*by_token)(void *ud, const char *token, char **thread);
    void *ud;
};

/* The thread of message m: In-Reply-To, then References newest first,
 * against stored Message-IDs; then the subject's token; else a new thread
 * (email_new_thread_id). Returns the thread id [xfer free] and sets *how,
 * or NULL when a lookup failed. */
char *email_thread_decide(const struct email_msg *m, const struct email_lookup *lk,
                          enum email_thread_how *how);

/* ------------------------------------------------------------ email_send.c */

struct email_out_att { /* all [borrowed] */
    const char *name;
    const char *mime_type;
    const void *data;
    size_t len;
};

/* A reply as email_build() writes it. All strings [borrowed] UTF-8; CR and
 * LF in header values are replaced by spaces. */
struct email_out {
    const char *from_name; /* may be NULL */
    const char *from_addr;
    const char *reply_to;    /* an address, or NULL */
    const char *to;          /* an address */
    const char *subject;     /* the whole Subject value */
    const char *message_id;  /* without <> */
    const char *in_reply_to; /* without <>, or NULL */
    const char *const *refs; /* References without <>, oldest first */
    size_t n_refs;
    const char *text; /* the plain text; the HTML part is made from it */
    const struct email_out_att *atts;
    size_t n_atts;
    int64_t date_s; /* Unix seconds for the Date header */
};

/* Writes the message with libetpan's MIME writer: multipart/alternative of
 * text/plain and text/html (both UTF-8, quoted-printable), inside
 * multipart/mixed with base64 attachments when there are any. Returns the
 * bytes [xfer free] and *len, or NULL when libetpan refused (why says so). */
char *email_build(const struct email_out *o, size_t *len, char *why, size_t whylen);
/* RFC 2047 B-encoding of a header value when it is not plain printable
 * ASCII (UTF-8 split on character boundaries, words of at most 75
 * characters, separated by spaces); else a copy. [xfer free] */
char *email_encode_words(const char *s);

/* ------------------------------------------------------------ the instance */

/* The option block (see the option table in email.c). Strings are [host]. */
struct email_conf {
    char *imap_url;
    char *username;
    char *password;
    char *mailbox;
    char *tls;
    char *ca_file;
    char *smtp_url;
    char *smtp_username;
    char *smtp_password;
    char *smtp_starttls;
    char *smtp_ca_file;
    char *from;
    char *reply_to;
    int64_t poll_interval_s;
    int64_t max_message_bytes;
    char *processed;
    char *move_to;
};

enum email_processed { EMAIL_PROC_LEAVE = 0, EMAIL_PROC_SEEN, EMAIL_PROC_MOVE };

struct email_imap; /* email_imap.c */

/* One channel. Owned by the plugin, freed by destroy(). The fields under
 * "poll thread" are touched by the host's poll thread only; send() reads
 * the configuration and calls thread-safe services, nothing else. */
struct email {
    const struct og_services *svc; /* [host] until destroy() */
    void *host;                    /* [host] until destroy() */
    const struct email_conf *conf; /* [host] until destroy() */
    char *imap_host;               /* owned: host name or IP, no brackets */
    uint16_t imap_port;
    int imaps;        /* imaps:// (TLS from the start) */
    int tls_verify;   /* tls "verify": STARTTLS or imaps, certificate checked */
    void *x509_store; /* X509_STORE * of the trusted CAs (owned) */
    enum email_processed processed;
    char *from_name;     /* owned: display name of "from", or NULL */
    char *from_addr;     /* owned: lower case */
    char *from_domain;   /* owned: the part after '@' (Message-IDs) */
    char *reply_to_addr; /* owned: the address of "reply_to", or NULL */

    /* poll thread */
    struct email_imap *imap;        /* the session, or NULL while disconnected */
    uint32_t uidvalidity, last_uid; /* the cursor, as stored */
    int64_t since_ms;               /* when the cursor was made (a re-scan reads from there) */
    int cursor_loaded;
    uint32_t sel_uidvalidity, sel_uidnext; /* of the mailbox as selected now */
    int rescan;                            /* reading again after a UIDVALIDITY change */
    int mark_warned;                       /* a refused \Seen/MOVE was logged */
    int64_t next_try_ms;                   /* reconnect not before (Unix ms) */
    int64_t backoff_ms;
    int64_t down_since_ms; /* 0 while up; when the outage began */
    int down_logged;
    int64_t next_check_ms; /* the next NOOP / re-IDLE (poll_interval_s) */
    uint32_t single_until; /* fetch one by one up to this UID (after a failure) */
    uint32_t failing_uid;  /* the UID whose fetch failed last, and how often */
    int failing_tries;

    /* poll_wakeup() (any thread): a byte in the pipe and the flag. */
    pthread_mutex_t mu;
    int wake_pipe[2];
    int wake;
};

/* ------------------------------------------------------------ email_imap.c */

struct email_head {
    uint32_t uid;
    int seen;            /* the server answered for this UID */
    int64_t size;        /* RFC822.SIZE; -1 when the server gave none */
    int64_t internal_ms; /* INTERNALDATE (delivery time); 0 when unknown */
    char *message_id;    /* from the header, without <>, or NULL [owned by the array] */
};

struct email_body {
    uint32_t uid;
    char *data; /* [owned by the array] NULL when the server sent none */
    size_t len;
};

/* Connects, secures (imaps:// or STARTTLS, certificate verified unless
 * tls "none"), logs in and reads the capabilities. NULL on failure with the
 * reason in err; *auth sets to 1 when the server refused the credentials. */
struct email_imap *email_imap_open(struct email *em, char *err, size_t errlen, int *auth);
void email_imap_close(struct email_imap *im);
int email_imap_has_idle(const struct email_imap *im);
/* SELECTs mailbox (creating move_to first when the instance moves mail);
 * *uidnext 0 when the server did not say. */
int email_imap_select(struct email_imap *im, const char *mailbox, const char *move_to,
                      uint32_t *uidvalidity, uint32_t *uidnext, char *err, size_t errlen);
/* UIDs greater than after, ascending. [xfer free] */
int email_imap_search_after(struct email_imap *im, uint32_t after, uint32_t **uids, size_t *n,
                            char *err, size_t errlen);
/* Size and Message-ID of each of uids[0..n); heads[i].uid == uids[i]. */
int email_imap_fetch_heads(struct email_imap *im, const uint32_t *uids, size_t n,
                           struct email_head *heads, char *err, size_t errlen);
void email_heads_free(struct email_head *heads, size_t n);
/* The whole message of each of uids[0..n), at most max_bytes + 1 bytes
 * each (a server that lies about sizes cannot make us read more);
 * bodies[i].uid == uids[i]. */
int email_imap_fetch_bodies(struct email_imap *im, const uint32_t *uids, size_t n,
                            int64_t max_bytes, struct email_body *bodies, char *err, size_t errlen);
void email_bodies_free(struct email_body *bodies, size_t n);
/* Flags the messages \Seen, or moves them to folder. -1: the session is
 * broken; -2: the server refused (the session is still usable). */
int email_imap_mark(struct email_imap *im, const uint32_t *uids, size_t n, enum email_processed how,
                    const char *folder, char *err, size_t errlen);
int email_imap_noop(struct email_imap *im, char *err, size_t errlen);
/* IDLE: start it; wait up to timeout_ms for the server or a byte on
 * wake_fd (returns 1 the server spoke, 2 woken, 0 timed out, -1 error);
 * end it (the untagged answers are read). */
int email_imap_idle_start(struct email_imap *im, char *err, size_t errlen);
int email_imap_idle_wait(struct email_imap *im, int wake_fd, int timeout_ms);
int email_imap_idle_done(struct email_imap *im, char *err, size_t errlen);
int email_imap_idling(const struct email_imap *im);

/* ------------------------------------------------------------- email.c */

og_err email_send(void *inst, const struct og_outbound *msg, struct og_send_result *res);
#endif
