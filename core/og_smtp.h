/* og_smtp - sends one e-mail over SMTP with libcurl.
 *
 * The message is built with libcurl's MIME API (curl_mime): a text part, or
 * multipart/alternative of text and HTML, each quoted-printable UTF-8, so
 * line length, encoding, boundaries, CRLF and dot-stuffing are libcurl's
 * job. The headers we write ourselves are the ones libcurl does not: Date
 * (RFC 5322), From, To, Message-ID and Subject, RFC 2047 encoded ("=?UTF-8?B?")
 * when it is not plain ASCII. CR and LF are removed from every header value,
 * so a customer's name in a subject cannot inject a header.
 *
 * Outcome classes (what the follow-up worker does with them):
 *   OG_OK             accepted (250 after DATA);
 *   OG_ERR_RETRYABLE  a 4xx reply, or no reply at all (connect, timeout, TLS);
 *   OG_ERR_PERMANENT  a 5xx reply (bad recipient, 535 bad credentials, 554...);
 *   OG_ERR_INVALID    the message itself is unusable (bad address). */
#ifndef OG_SMTP_H
#define OG_SMTP_H
#include <omnigate/connector.h>
#include <stdatomic.h>
#include <stddef.h>

enum og_starttls { OG_STARTTLS_AUTO = 0, OG_STARTTLS_ALWAYS, OG_STARTTLS_NEVER };

struct og_smtp_conf {     /* all [borrowed] */
    const char *url;      /* smtp://host:port or smtps://host:port */
    const char *username; /* NULL or "" = no AUTH */
    const char *password;
    const char *from;          /* "Name <addr>" or "addr" */
    const char *ca_file;       /* NULL = system CAs */
    enum og_starttls starttls; /* smtp:// only; smtps:// is TLS from the start */
    long timeout_ms;           /* whole transaction; 0 = 30 s */
    atomic_int *abort;         /* when it becomes non-zero the transfer stops; may be NULL */
};

struct og_mail {            /* all [borrowed] */
    const char *to;         /* a bare address */
    const char *subject;    /* UTF-8 */
    const char *text;       /* UTF-8; NULL or "" = none */
    const char *html;       /* UTF-8; NULL or "" = none */
    const char *message_id; /* left part of the Message-ID, e.g. the follow-up id */
};

struct og_smtp_result {
    long code;        /* last SMTP reply code, 0 when none came */
    char detail[256]; /* a readable reason when not OG_OK */
};

og_err og_smtp_send(const struct og_smtp_conf *c, const struct og_mail *m,
                    struct og_smtp_result *res);
/* Relays a message the caller built (headers, blank line, body) to rcpts
 * (NULL-terminated bare addresses) with the envelope sender mail_from;
 * c->from is not used. Bare LFs become CRLF; libcurl dot-stuffs.
 * The same outcome classes as og_smtp_send. */
og_err og_smtp_send_raw(const struct og_smtp_conf *c, const char *mail_from,
                        const char *const *rcpts, const char *data, size_t len,
                        struct og_smtp_result *res);

/* 1 when s is a plain address local@domain (no name, no brackets, no spaces
 * or control characters, at most 254 bytes, a domain of dotted labels). */
int og_smtp_addr_ok(const char *s);
/* Splits a From value "Name <addr>" / "addr". 0 when the address is valid;
 * name gets "" when there is none. */
int og_smtp_parse_from(const char *from, char *name, size_t namesz, char *addr, size_t addrsz);
/* Appends value as a header value: as it is when printable ASCII, else as
 * RFC 2047 B encoded-words (<= 75 chars each, split on UTF-8 character
 * boundaries, folded). CR/LF are dropped either way. b is struct og_buf *. */
struct og_buf;
void og_smtp_encode_header(struct og_buf *b, const char *value);
#endif
