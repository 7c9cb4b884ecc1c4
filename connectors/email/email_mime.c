/* email_mime.c - one e-mail's bytes to struct email_msg, with libetpan's
 * RFC 5322 and MIME parsers; what kind of mail it is (a person's, an
 * auto-reply, a bounce); which thread it belongs to.
 *
 * Pure: no instance, no network, no clock (the threading decision asks
 * callbacks). Unit tests and fuzz_email call email_parse() on raw bytes.
 *
 * What libetpan is trusted with, and what not. Its parsers are recursive:
 * one level of C stack per nested multipart or message/rfc822, and per
 * nested "(" comment in a structured header. A 10 MB message could nest a
 * million levels and overflow the poll thread's stack, so email_parse()
 * counts the places where recursion can happen before calling it and
 * refuses a message that could nest deeper than EMAIL_MAX_NESTING /
 * EMAIL_MAX_COMMENT_DEPTH (no real mail comes near). Its encoded-word
 * decoder scans for the closing "?=" from each opening "=?", quadratic on
 * a hostile header, so header values are cut to EMAIL_HEADER_MAX bytes
 * before decoding. Its input is a NUL-terminated copy, since Debian's
 * build is not instrumented and some helpers may look one byte past a
 * length. Header blocks are read with the parser mailmime_parse uses
 * (mailimf_envelope_and_optional_fields_parse): mailimf_fields_parse leaks
 * on a malformed Return-Path (found by fuzz_email). */
#include "email.h"

#include <ctype.h>
#include <libetpan/libetpan.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define EMAIL_HEADER_MAX 4096 /* bytes of a header value decoded (subject, names) */
#define EMAIL_NAME_MAX 255    /* bytes of an attachment's file name */

/* --------------------------------------------------------------- hashes */

static void sha256_hex(const void *d, size_t n, char *out, size_t digits)
{
    unsigned char md[32];
    unsigned int ml = 0;
    static const char hex[] = "0123456789abcdef";
    EVP_Digest(d, n, md, &ml, EVP_sha256(), NULL);
    for (size_t i = 0; i < digits && i / 2 < sizeof md; i++)
        out[i] = hex[(md[i / 2] >> (i % 2 ? 0 : 4)) & 0xF];
    out[digits] = 0;
}

void email_msgid_key(const char *msgid, char key[40])
{
    key[0] = 'm', key[1] = ':';
    sha256_hex(msgid, strlen(msgid), key + 2, 32);
}

void email_thread_token(const char *thread, char tok[EMAIL_TOKEN_LEN + 1])
{
    sha256_hex(thread, strlen(thread), tok, EMAIL_TOKEN_LEN);
}

void email_new_thread_id(const char *msgid, char out[32])
{
    out[0] = 'e', out[1] = ':';
    sha256_hex(msgid, strlen(msgid), out + 2, 20);
}

/* ------------------------------------------------------------ addresses */

int email_addr_ok(const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    const char *at = strrchr(s, '@');
    if (n == 0 || n > 254 || !at || at == s || !at[1] || strchr(s, '@') != at)
        return 0;
    for (const char *p = s; p < at; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7F || strchr("<>()[],;:\\\"", *p))
            return 0;
    const char *d = at + 1;
    if (*d == '.' || d[strlen(d) - 1] == '.' || strstr(d, ".."))
        return 0;
    for (const char *p = d; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || (unsigned char)*p >= 0x80))
            return 0;
    return 1;
}

/* A lower-case copy of an address that passes email_addr_ok, else NULL. */
static char *addr_lower(const char *a)
{
    if (!email_addr_ok(a))
        return NULL;
    char *l = email_xstrdup(a);
    for (char *p = l; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return l;
}

/* ------------------------------------------------------------ headers */

/* A header value (raw, maybe with encoded words) as one line of UTF-8. */
static char *decode_header(const char *raw)
{
    size_t n = strlen(raw);
    if (n > EMAIL_HEADER_MAX)
        n = EMAIL_HEADER_MAX;
    char *cut = email_xstrndup(raw, n);
    const char *from = email_utf8_valid(cut, n) ? "utf-8" : "windows-1252";
    size_t idx = 0;
    char *dec = NULL;
    struct email_buf b = {0};
    if (mailmime_encoded_phrase_parse(from, cut, n, &idx, "utf-8", &dec) == MAILIMF_NO_ERROR &&
        dec) {
        email_buf_puts(&b, dec);
        free(dec);
        if (idx < n) { /* what the phrase parser stopped at, as it is */
            char *rest = email_to_utf8(NULL, cut + idx, n - idx, NULL);
            email_buf_putc(&b, ' ');
            email_buf_puts(&b, rest);
            free(rest);
        }
    } else {
        free(dec);
        char *plain = email_to_utf8(NULL, cut, n, NULL);
        email_buf_puts(&b, plain);
        free(plain);
    }
    free(cut);
    char *raw_utf8 = email_buf_take(&b);
    char *one = email_one_line(raw_utf8, EMAIL_HEADER_MAX);
    free(raw_utf8);
    return one;
}

int email_parse_mailbox(const char *s, char **name, char **addr)
{
    *name = *addr = NULL;
    if (!s)
        return -1;
    size_t idx = 0;
    struct mailimf_mailbox *mb = NULL;
    if (mailimf_mailbox_parse(s, strlen(s), &idx, &mb) != MAILIMF_NO_ERROR || !mb)
        return -1;
    *addr = addr_lower(mb->mb_addr_spec);
    if (mb->mb_display_name && *mb->mb_display_name)
        *name = decode_header(mb->mb_display_name);
    mailimf_mailbox_free(mb);
    if (*name && !**name)
        free(*name), *name = NULL;
    return *addr ? 0 : -1;
}

/* A Message-ID as we keep it: printable ASCII without <> and blanks; a
 * long one is replaced by a hash of itself (it is a Redis key and a header
 * we write). NULL when nothing is left. [xfer free] */
static char *msgid_clean(const char *id)
{
    if (!id)
        return NULL;
    struct email_buf b = {0};
    for (const char *p = id; *p && b.len <= EMAIL_MSGID_MAX; p++)
        if ((unsigned char)*p > ' ' && (unsigned char)*p < 0x7F && *p != '<' && *p != '>')
            email_buf_putc(&b, *p);
    if (b.len == 0) {
        email_buf_free(&b);
        return NULL;
    }
    if (b.len > EMAIL_MSGID_MAX) {
        char h[40];
        sha256_hex(id, strlen(id), h, 32);
        email_buf_free(&b);
        char *out = email_xmalloc(64);
        snprintf(out, 64, "h%s@omnigate.invalid", h);
        return out;
    }
    return email_buf_take(&b);
}

static const char *opt_field(const struct mailimf_fields *f, const char *name)
{
    for (clistiter *it = clist_begin(f->fld_list); it; it = clist_next(it)) {
        const struct mailimf_field *fl = clist_content(it);
        if (fl->fld_type == MAILIMF_FIELD_OPTIONAL_FIELD && fl->fld_data.fld_optional_field &&
            strcasecmp(fl->fld_data.fld_optional_field->fld_name, name) == 0)
            return fl->fld_data.fld_optional_field->fld_value;
    }
    return NULL;
}

static int64_t date_ms(const struct mailimf_date_time *dt)
{
    if (!dt || dt->dt_year < 1990 || dt->dt_year > 2200 || dt->dt_month < 1 || dt->dt_month > 12 ||
        dt->dt_day < 1 || dt->dt_day > 31 || dt->dt_hour < 0 || dt->dt_hour > 23 ||
        dt->dt_min < 0 || dt->dt_min > 59 || dt->dt_sec < 0 || dt->dt_sec > 60)
        return 0;
    struct tm tm = {0};
    tm.tm_year = dt->dt_year - 1900;
    tm.tm_mon = dt->dt_month - 1;
    tm.tm_mday = dt->dt_day;
    tm.tm_hour = dt->dt_hour;
    tm.tm_min = dt->dt_min;
    tm.tm_sec = dt->dt_sec;
    int64_t t = (int64_t)timegm(&tm);
    int zone = dt->dt_zone; /* +0130 reads as 130 */
    int64_t off = (int64_t)(zone / 100) * 3600 + (int64_t)(zone % 100) * 60;
    return (t - off) * 1000;
}

/* Takes mb's address (and display name) as the sender when usable. */
static void take_mailbox(const struct mailimf_mailbox *mb, struct email_msg *m)
{
    if (!mb || m->from_addr)
        return;
    m->from_addr = addr_lower(mb->mb_addr_spec);
    if (m->from_addr && mb->mb_display_name && *mb->mb_display_name) {
        m->from_name = decode_header(mb->mb_display_name);
        if (!*m->from_name)
            free(m->from_name), m->from_name = NULL;
    }
}

static void first_mailbox(const struct mailimf_mailbox_list *l, struct email_msg *m)
{
    if (!l || !l->mb_list)
        return;
    for (clistiter *it = clist_begin(l->mb_list); it && !m->from_addr; it = clist_next(it))
        take_mailbox(clist_content(it), m);
}

static char *first_address(const struct mailimf_address_list *l)
{
    if (!l || !l->ad_list)
        return NULL;
    for (clistiter *it = clist_begin(l->ad_list); it; it = clist_next(it)) {
        const struct mailimf_address *a = clist_content(it);
        if (a->ad_type == MAILIMF_ADDRESS_MAILBOX && a->ad_data.ad_mailbox) {
            char *s = addr_lower(a->ad_data.ad_mailbox->mb_addr_spec);
            if (s)
                return s;
        }
    }
    return NULL;
}

static void read_headers(struct email_msg *m, const struct mailimf_fields *f)
{
    struct mailimf_single_fields sf;
    mailimf_single_fields_init(&sf, (struct mailimf_fields *)f);
    if (sf.fld_message_id)
        m->message_id = msgid_clean(sf.fld_message_id->mid_value);
    if (sf.fld_in_reply_to && sf.fld_in_reply_to->mid_list)
        for (clistiter *it = clist_begin(sf.fld_in_reply_to->mid_list); it && !m->in_reply_to;
             it = clist_next(it))
            m->in_reply_to = msgid_clean(clist_content(it));
    if (sf.fld_references && sf.fld_references->mid_list) {
        int total = clist_count(sf.fld_references->mid_list);
        int skip = total > EMAIL_MAX_REFS ? total - EMAIL_MAX_REFS : 0, i = 0;
        m->refs = email_xmalloc(sizeof *m->refs * EMAIL_MAX_REFS);
        for (clistiter *it = clist_begin(sf.fld_references->mid_list); it; it = clist_next(it))
            if (i++ >= skip) {
                char *id = msgid_clean(clist_content(it));
                if (id)
                    m->refs[m->n_refs++] = id;
            }
    }
    m->subject = sf.fld_subject ? decode_header(sf.fld_subject->sbj_value) : email_xstrdup("");
    if (sf.fld_from)
        first_mailbox(sf.fld_from->frm_mb_list, m);
    if (sf.fld_sender)
        take_mailbox(sf.fld_sender->snd_mb, m);
    if (sf.fld_reply_to)
        m->reply_to = first_address(sf.fld_reply_to->rt_addr_list);
    if (sf.fld_orig_date)
        m->date_ms = date_ms(sf.fld_orig_date->dt_date_time);
}

/* ------------------------------------------------------ nesting limits */

/* Content-Type fields whose value starts with "multipart/" or
 * "message/rfc822" (case-insensitive, blanks and folding allowed around the
 * colon): the only places where libetpan's MIME parser recurses. Counted
 * wherever they stand, so a body quoting such lines counts too: an upper
 * bound. */
static size_t count_containers(const char *s, size_t n)
{
    static const char field[] = "content-type";
    size_t c = 0, fl = sizeof field - 1;
    for (size_t i = 0; i + fl < n; i++) {
        if ((s[i] != 'c' && s[i] != 'C') || strncasecmp(s + i, field, fl) != 0)
            continue;
        size_t j = i + fl;
        while (j < n && (s[j] == ' ' || s[j] == '\t'))
            j++;
        if (j >= n || s[j] != ':')
            continue;
        j++;
        while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n'))
            j++;
        if ((n - j >= 10 && strncasecmp(s + j, "multipart/", 10) == 0) ||
            (n - j >= 14 && strncasecmp(s + j, "message/rfc822", 14) == 0))
            c++;
        i = j - 1;
    }
    return c;
}

/* 1 (with why) when a "(" comment nests deeper than we let libetpan
 * recurse. Comments do not span unfolded lines. */
static int comments_too_deep(const char *s, size_t n, char *why, size_t whylen)
{
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n' && (i + 1 >= n || (s[i + 1] != ' ' && s[i + 1] != '\t')))
            depth = 0;
        else if (s[i] == '(' && ++depth > EMAIL_MAX_COMMENT_DEPTH) {
            snprintf(why, whylen, "a header comment nested more than %d deep",
                     EMAIL_MAX_COMMENT_DEPTH);
            return 1;
        } else if (s[i] == ')' && depth > 0) {
            depth--;
        }
    }
    return 0;
}

/* 1 (with why) when libetpan could recurse deeper than we allow: see the
 * file comment. The count over-estimates (a body may quote Content-Type
 * lines), which only matters for mail no person writes. */
static int too_deep(const char *s, size_t n, char *why, size_t whylen)
{
    size_t nest = count_containers(s, n);
    if (nest > EMAIL_MAX_NESTING) {
        snprintf(why, whylen, "%zu nested MIME containers declared (at most %d are read)", nest,
                 EMAIL_MAX_NESTING);
        return 1;
    }
    return comments_too_deep(s, n, why, whylen);
}

char *email_msgid_from_header(const char *s, size_t n)
{
    char why[96];
    if (!s || comments_too_deep(s, n, why, sizeof why))
        return NULL;
    char *copy = email_xstrndup(s, n);
    size_t idx = 0;
    struct mailimf_fields *f = NULL;
    char *id = NULL;
    if (mailimf_envelope_and_optional_fields_parse(copy, n, &idx, &f) == MAILIMF_NO_ERROR && f) {
        struct mailimf_single_fields sf;
        mailimf_single_fields_init(&sf, f);
        if (sf.fld_message_id)
            id = msgid_clean(sf.fld_message_id->mid_value);
        mailimf_fields_free(f);
    }
    free(copy);
    return id;
}

/* ------------------------------------------------------------- the walk */

struct walk {
    struct email_msg *m;
    struct email_buf plain, html; /* inline text parts, UTF-8 */
    size_t nodes;
    int report;                  /* inside multipart/report */
    int dsn_seen, dsn_failed;    /* a delivery-status part; a recipient "failed" */
    char *dsn_status, *dsn_diag; /* of the first failed recipient */
    char *orig_msgid;            /* the returned message's Message-ID */
    /* email_part: the attachment section wanted, and its bytes once met */
    const char *want;
    char *want_data;
    size_t want_len;
    int want_found;
};

static void mime_type(const struct mailmime_content *ct, char *out, size_t n)
{
    const char *major = "application", *minor = "octet-stream";
    if (ct && ct->ct_type) {
        if (ct->ct_type->tp_type == MAILMIME_TYPE_DISCRETE_TYPE &&
            ct->ct_type->tp_data.tp_discrete_type) {
            const struct mailmime_discrete_type *d = ct->ct_type->tp_data.tp_discrete_type;
            major = d->dt_type == MAILMIME_DISCRETE_TYPE_TEXT    ? "text"
                    : d->dt_type == MAILMIME_DISCRETE_TYPE_IMAGE ? "image"
                    : d->dt_type == MAILMIME_DISCRETE_TYPE_AUDIO ? "audio"
                    : d->dt_type == MAILMIME_DISCRETE_TYPE_VIDEO ? "video"
                    : d->dt_type == MAILMIME_DISCRETE_TYPE_EXTENSION && d->dt_extension
                        ? d->dt_extension
                        : "application";
        } else if (ct->ct_type->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE &&
                   ct->ct_type->tp_data.tp_composite_type) {
            const struct mailmime_composite_type *c = ct->ct_type->tp_data.tp_composite_type;
            major = c->ct_type == MAILMIME_COMPOSITE_TYPE_MESSAGE     ? "message"
                    : c->ct_type == MAILMIME_COMPOSITE_TYPE_MULTIPART ? "multipart"
                    : c->ct_token                                     ? c->ct_token
                                                                      : "application";
        }
        if (ct->ct_subtype && *ct->ct_subtype)
            minor = ct->ct_subtype;
    }
    snprintf(out, n, "%s/%s", major, minor);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* The part's body, transfer-decoded (broken base64 and QP decode as far as
 * they go). [xfer free]; *len 0 and "" when it has none. */
static char *part_decoded(const struct mailmime *mime, size_t *len)
{
    const struct mailmime_data *d = mime->mm_data.mm_single;
    *len = 0;
    if (!d || d->dt_type != MAILMIME_DATA_TEXT || !d->dt_data.dt_text.dt_data)
        return email_xstrdup("");
    const char *s = d->dt_data.dt_text.dt_data;
    size_t n = d->dt_data.dt_text.dt_length;
    if (d->dt_encoded) {
        size_t idx = 0, dl = 0;
        char *dec = NULL;
        if (mailmime_part_parse(s, n, &idx, d->dt_encoding, &dec, &dl) == MAILIMF_NO_ERROR && dec) {
            char *copy = email_xstrndup(dec, dl);
            mmap_string_unref(dec);
            *len = dl;
            return copy;
        }
    }
    *len = n;
    return email_xstrndup(s, n);
}

struct param {
    const char *name, *value;
};

/* Collects the Content-Disposition and Content-Type parameters. */
static size_t part_params(const struct mailmime_single_fields *sf, struct param *out, size_t max)
{
    size_t n = 0;
    if (sf->fld_disposition && sf->fld_disposition->dsp_parms)
        for (clistiter *it = clist_begin(sf->fld_disposition->dsp_parms); it && n < max;
             it = clist_next(it)) {
            const struct mailmime_disposition_parm *p = clist_content(it);
            if (p->pa_type == MAILMIME_DISPOSITION_PARM_PARAMETER && p->pa_data.pa_parameter)
                out[n++] = (struct param){p->pa_data.pa_parameter->pa_name,
                                          p->pa_data.pa_parameter->pa_value};
        }
    if (sf->fld_content && sf->fld_content->ct_parameters)
        for (clistiter *it = clist_begin(sf->fld_content->ct_parameters); it && n < max;
             it = clist_next(it)) {
            const struct mailmime_parameter *p = clist_content(it);
            out[n++] = (struct param){p->pa_name, p->pa_value};
        }
    return n;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* RFC 2231: "base*" = charset'lang'%XX..., or continued as "base*0*",
 * "base*1", ... (a trailing '*' marks a %-encoded piece). NULL if absent. */
static char *rfc2231(const struct param *ps, size_t np, const char *base)
{
    struct email_buf raw = {0};
    char charset[64] = "";
    int found = 0;
    for (int piece = -1; piece < 32; piece++) {
        const char *val = NULL;
        int encoded = 0;
        for (size_t i = 0; i < np && !val; i++) {
            char want[64];
            if (piece < 0)
                snprintf(want, sizeof want, "%s*", base);
            else
                snprintf(want, sizeof want, "%s*%d", base, piece);
            size_t wl = strlen(want);
            if (ps[i].name && strncasecmp(ps[i].name, want, wl) == 0 &&
                (ps[i].name[wl] == 0 || (ps[i].name[wl] == '*' && !ps[i].name[wl + 1]))) {
                val = ps[i].value ? ps[i].value : "";
                encoded = piece < 0 || ps[i].name[wl] == '*';
            }
        }
        if (!val) {
            if (piece >= 0)
                break;
            continue;
        }
        if (encoded && !found) { /* the first encoded piece names the charset */
            const char *q1 = strchr(val, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
            if (q2) {
                snprintf(charset, sizeof charset, "%.*s", (int)(q1 - val), val);
                val = q2 + 1;
            }
        }
        found = 1;
        for (const char *p = val; *p; p++) {
            int hi, lo;
            if (encoded && p[0] == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0) {
                email_buf_putc(&raw, (char)(hi * 16 + lo));
                p += 2;
            } else {
                email_buf_putc(&raw, *p);
            }
        }
        if (piece < 0)
            break; /* "base*" alone is the whole value */
    }
    if (!found) {
        email_buf_free(&raw);
        return NULL;
    }
    char *out = email_to_utf8(*charset ? charset : "utf-8", raw.p ? raw.p : "", raw.len, NULL);
    email_buf_free(&raw);
    return out;
}

/* The part's file name: disposition filename (RFC 2231 or plain, encoded
 * words decoded since mailers use them too), else Content-Type name; only
 * its last path component, one line, at most EMAIL_NAME_MAX bytes. */
static char *part_filename(const struct mailmime_single_fields *sf)
{
    struct param ps[64];
    size_t np = part_params(sf, ps, 64);
    char *name = rfc2231(ps, np, "filename");
    if (!name && sf->fld_disposition_filename)
        name = decode_header(sf->fld_disposition_filename);
    if (!name)
        name = rfc2231(ps, np, "name");
    if (!name && sf->fld_content_name)
        name = decode_header(sf->fld_content_name);
    if (!name)
        return NULL;
    const char *base = name;
    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    char *out = email_one_line(base, EMAIL_NAME_MAX);
    free(name);
    if (!*out) {
        free(out);
        return NULL;
    }
    return out;
}

static void add_attachment(struct walk *w, const char *name, const char *type, int64_t size,
                           const char *section)
{
    struct email_msg *m = w->m;
    m->n_atts_total++;
    if (m->n_atts >= EMAIL_MAX_ATTACHMENTS)
        return;
    if (!m->atts)
        m->atts = email_xmalloc(sizeof *m->atts * EMAIL_MAX_ATTACHMENTS);
    struct email_att *a = &m->atts[m->n_atts++];
    a->name = email_xstrdup(name);
    a->mime_type = email_xstrdup(type);
    a->size = size;
    snprintf(a->section, sizeof a->section, "%s", *section ? section : "1");
}

/* A message/delivery-status body (RFC 3464): blocks of fields, the first
 * about the message, then one per recipient. Read with libetpan's field
 * parser; the first recipient whose Action is "failed" gives the reason. */
static void dsn_parse(struct walk *w, const char *s, size_t n)
{
    w->dsn_seen = 1;
    size_t idx = 0;
    for (int block = 0; idx < n && block < 64; block++) {
        size_t before = idx;
        struct mailimf_fields *f = NULL;
        if (mailimf_optional_fields_parse(s, n, &idx, &f) != MAILIMF_NO_ERROR || !f)
            break;
        const char *action = opt_field(f, "Action"), *status = opt_field(f, "Status");
        const char *diag = opt_field(f, "Diagnostic-Code");
        if (action && strncasecmp(action + strspn(action, " \t"), "failed", 6) == 0 &&
            !w->dsn_failed) {
            w->dsn_failed = 1;
            w->dsn_status = status ? email_one_line(status, 32) : NULL;
            if (diag) {
                const char *semi = strchr(diag, ';'); /* "smtp; 550 5.1.1 ..." */
                w->dsn_diag = email_one_line(semi ? semi + 1 : diag, 240);
            }
        }
        mailimf_fields_free(f);
        while (idx < n && (s[idx] == '\r' || s[idx] == '\n' || s[idx] == ' ' || s[idx] == '\t'))
            idx++;
        if (idx == before)
            break;
    }
}

/* The Message-ID of returned headers (text/rfc822-headers). */
static void orig_headers(struct walk *w, const char *s, size_t n)
{
    size_t idx = 0;
    struct mailimf_fields *f = NULL;
    if (w->orig_msgid ||
        mailimf_envelope_and_optional_fields_parse(s, n, &idx, &f) != MAILIMF_NO_ERROR || !f)
        return;
    struct mailimf_single_fields sf;
    mailimf_single_fields_init(&sf, f);
    if (sf.fld_message_id)
        w->orig_msgid = msgid_clean(sf.fld_message_id->mid_value);
    mailimf_fields_free(f);
}

static int is_body_text(const char *type)
{
    return strcmp(type, "text/plain") == 0 || strcmp(type, "text/html") == 0;
}

static void walk_leaf(struct walk *w, struct mailmime *mime, const char *section, int body_ok)
{
    char type[128];
    mime_type(mime->mm_content_type, type, sizeof type);
    if (strcmp(type, "application/pgp-signature") == 0 ||
        strcmp(type, "application/pkcs7-signature") == 0 ||
        strcmp(type, "application/x-pkcs7-signature") == 0)
        return; /* a signature of the text, not something the customer sent */
    struct mailmime_single_fields sf;
    mailmime_single_fields_init(&sf, mime->mm_mime_fields, mime->mm_content_type);
    size_t len = 0;
    char *data = part_decoded(mime, &len);
    if (w->report && (strcmp(type, "message/delivery-status") == 0 ||
                      strcmp(type, "message/global-delivery-status") == 0)) {
        dsn_parse(w, data, len);
    } else if (w->report && (strcmp(type, "text/rfc822-headers") == 0 ||
                             strcmp(type, "message/global-headers") == 0)) {
        orig_headers(w, data, len);
    } else if (w->report && strcmp(type, "message/disposition-notification") == 0) {
        /* a read receipt's machine part: nothing for an agent */
    } else {
        char *name = part_filename(&sf);
        int attachment =
            sf.fld_disposition && sf.fld_disposition->dsp_type &&
            sf.fld_disposition->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_ATTACHMENT;
        if (body_ok && is_body_text(type) && !attachment && !name) {
            int bad = 0;
            char *utf = email_to_utf8(sf.fld_content_charset, data, len, &bad);
            if (bad)
                w->m->flags |= EMAIL_F_BAD_CHARSET;
            struct email_buf *b = strcmp(type, "text/plain") == 0 ? &w->plain : &w->html;
            if (b->len)
                email_buf_puts(b, b == &w->plain ? "\n\n" : "<br><br>");
            email_buf_puts(b, utf);
            free(utf);
        } else {
            add_attachment(w, name, type, (int64_t)len, section);
            if (w->want && !w->want_found && !strcmp(w->want, *section ? section : "1")) {
                w->want_found = 1;
                w->want_data = data; /* kept: email_part's answer */
                w->want_len = len;
                data = NULL;
            }
        }
        free(name);
    }
    free(data);
}

/* A message/rfc822 part libetpan parsed: returned headers in a report,
 * else an attachment (a forwarded mail), named after its subject. */
static void walk_message(struct walk *w, struct mailmime *mime, const char *section)
{
    const struct mailimf_fields *f = mime->mm_data.mm_message.mm_fields;
    if (w->report) {
        if (!w->orig_msgid && f) {
            struct mailimf_single_fields sf;
            mailimf_single_fields_init(&sf, (struct mailimf_fields *)f);
            if (sf.fld_message_id)
                w->orig_msgid = msgid_clean(sf.fld_message_id->mid_value);
        }
        return;
    }
    char *name = NULL;
    if (f) {
        struct mailimf_single_fields sf;
        mailimf_single_fields_init(&sf, (struct mailimf_fields *)f);
        if (sf.fld_subject) {
            char *subj = decode_header(sf.fld_subject->sbj_value);
            if (*subj) {
                char *cut = email_one_line(subj, EMAIL_NAME_MAX - 4);
                name = email_xmalloc(strlen(cut) + 5);
                sprintf(name, "%s.eml", cut);
                free(cut);
            }
            free(subj);
        }
    }
    add_attachment(w, name ? name : "message.eml", "message/rfc822", (int64_t)mime->mm_length,
                   section);
    if (w->want && !w->want_found && !strcmp(w->want, *section ? section : "1")) {
        w->want_found = 1; /* the forwarded mail as it came: its raw bytes */
        w->want_len = mime->mm_length;
        w->want_data = email_xmalloc(w->want_len + 1);
        if (mime->mm_length && mime->mm_mime_start)
            memcpy(w->want_data, mime->mm_mime_start, mime->mm_length);
        else
            w->want_len = 0;
    }
    free(name);
}

/* 2: the subtree has an inline text/plain, 1: text/html, 0: neither. */
static int alt_rank(const struct mailmime *mime, int depth)
{
    char type[128];
    mime_type(mime->mm_content_type, type, sizeof type);
    if (mime->mm_type == MAILMIME_SINGLE)
        return strcmp(type, "text/plain") == 0 ? 2 : strcmp(type, "text/html") == 0 ? 1 : 0;
    if (mime->mm_type != MAILMIME_MULTIPLE || depth > 8 || !mime->mm_data.mm_multipart.mm_mp_list)
        return 0;
    int best = 0, seen = 0;
    for (clistiter *it = clist_begin(mime->mm_data.mm_multipart.mm_mp_list); it && seen < 64;
         it = clist_next(it), seen++) {
        int r = alt_rank(clist_content(it), depth + 1);
        best = r > best ? r : best;
    }
    return best;
}

static void walk(struct walk *w, struct mailmime *mime, const char *section, int depth,
                 int body_ok);

static void walk_multipart(struct walk *w, struct mailmime *mime, const char *section, int depth,
                           int body_ok)
{
    char type[128];
    mime_type(mime->mm_content_type, type, sizeof type);
    clist *kids = mime->mm_data.mm_multipart.mm_mp_list;
    if (!kids)
        return;
    if (strcmp(type, "multipart/encrypted") == 0) {
        w->m->flags |= EMAIL_F_ENCRYPTED;
        return;
    }
    int alternative = strcmp(type, "multipart/alternative") == 0;
    int related = strcmp(type, "multipart/related") == 0;
    int signed_ = strcmp(type, "multipart/signed") == 0;
    int report = strcmp(type, "multipart/report") == 0;
    if (report)
        w->report = 1; /* its parts are read as report parts from here down */
    int best = -1;
    if (alternative) { /* RFC 2046: we prefer text/plain, then HTML */
        int best_rank = -1, i = 0;
        for (clistiter *it = clist_begin(kids); it; it = clist_next(it), i++) {
            int r = alt_rank(clist_content(it), 0);
            if (r > best_rank)
                best_rank = r, best = i;
            if (i >= EMAIL_MAX_PARTS)
                break;
        }
    }
    int i = 0;
    for (clistiter *it = clist_begin(kids); it; it = clist_next(it), i++) {
        if (w->nodes >= EMAIL_MAX_PARTS) {
            w->m->flags |= EMAIL_F_PARTS_CUT;
            break;
        }
        if (alternative && i != best)
            continue;
        if (signed_ && i > 0)
            break;
        char sub[EMAIL_SECTION_MAX];
        int n = *section ? snprintf(sub, sizeof sub, "%s.%d", section, i + 1)
                         : snprintf(sub, sizeof sub, "%d", i + 1);
        if (n < 0 || (size_t)n >= sizeof sub)
            sub[0] = 0; /* too deep to name: "" means "1" later, harmless */
        /* related: the first part is the body, the rest its resources;
         * report: the first part is the human-readable explanation */
        int kid_body = body_ok && ((!related && !report) || i == 0);
        walk(w, clist_content(it), sub, depth + 1, kid_body);
    }
}

static void walk(struct walk *w, struct mailmime *mime, const char *section, int depth, int body_ok)
{
    if (!mime)
        return;
    if (++w->nodes > EMAIL_MAX_PARTS || depth > EMAIL_MAX_NESTING) {
        w->m->flags |= EMAIL_F_PARTS_CUT;
        return;
    }
    if (mime->mm_type == MAILMIME_SINGLE)
        walk_leaf(w, mime, section, body_ok);
    else if (mime->mm_type == MAILMIME_MESSAGE)
        walk_message(w, mime, section);
    else if (mime->mm_type == MAILMIME_MULTIPLE)
        walk_multipart(w, mime, section, depth, body_ok);
}

/* ------------------------------------------------------- classification */

static int local_part_is(const char *addr, const char *local)
{
    size_t l = strlen(local);
    return addr && strncasecmp(addr, local, l) == 0 && addr[l] == '@';
}

static int header_is_auto(const struct mailimf_fields *f, char *why, size_t whylen)
{
    const char *v = opt_field(f, "Auto-Submitted");
    if (v) {
        char tok[32];
        size_t k = 0;
        for (const char *p = v + strspn(v, " \t"); *p && *p != ';' && *p != ' ' && k + 1 < 32;)
            tok[k++] = *p++;
        tok[k] = 0;
        if (strcasecmp(tok, "no") != 0) {
            snprintf(why, whylen, "Auto-Submitted: %s", tok);
            return 1;
        }
    }
    static const char *const markers[] = {"X-Autoreply", "X-Autorespond", "X-Auto-Response", NULL};
    for (size_t i = 0; markers[i]; i++)
        if ((v = opt_field(f, markers[i])) != NULL && strcasecmp(v + strspn(v, " \t"), "no") != 0) {
            snprintf(why, whylen, "%s header", markers[i]);
            return 1;
        }
    if ((v = opt_field(f, "Precedence")) != NULL) {
        v += strspn(v, " \t");
        if (strncasecmp(v, "bulk", 4) == 0 || strncasecmp(v, "junk", 4) == 0 ||
            strncasecmp(v, "list", 4) == 0) {
            snprintf(why, whylen, "Precedence: %.4s", v);
            return 1;
        }
    }
    return 0;
}

static int subject_is_auto(const char *subject)
{
    static const char *const prefixes[] = {"Out of Office:",       "Out of Office AutoReply:",
                                           "Out of the office:",   "Automatic reply:",
                                           "Auto-Reply:",          "Autoreply:",
                                           "Auto Reply:",          "Automatische Antwort:",
                                           "Abwesenheitsnotiz:",   "Réponse automatique :",
                                           "Réponse automatique:", "Respuesta automática:",
                                           "Risposta automatica:", NULL};
    for (size_t i = 0; prefixes[i]; i++)
        if (strncasecmp(subject, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

static int null_return_path(const struct mailimf_fields *f)
{
    for (clistiter *it = clist_begin(f->fld_list); it; it = clist_next(it)) {
        const struct mailimf_field *fl = clist_content(it);
        if (fl->fld_type == MAILIMF_FIELD_RETURN_PATH && fl->fld_data.fld_return_path &&
            fl->fld_data.fld_return_path->ret_path)
            return fl->fld_data.fld_return_path->ret_path->pt_addr_spec == NULL;
        if (fl->fld_type == MAILIMF_FIELD_OPTIONAL_FIELD && fl->fld_data.fld_optional_field &&
            strcasecmp(fl->fld_data.fld_optional_field->fld_name, "Return-Path") == 0) {
            const char *v = fl->fld_data.fld_optional_field->fld_value;
            v += strspn(v, " \t");
            return strncmp(v, "<>", 2) == 0;
        }
    }
    return 0;
}

/* A "Message-ID: <...>" line in a bounce's text (non-DSN bounces quote the
 * returned message inline). [xfer free] or NULL. */
static char *msgid_in_text(const char *text)
{
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        const char *s = p + strspn(p, " \t>");
        if (strncasecmp(s, "Message-ID:", 11) != 0)
            continue;
        const char *lt = strchr(s, '<'), *nl = strchr(s, '\n');
        const char *gt = lt ? strchr(lt, '>') : NULL;
        if (lt && gt && (!nl || gt < nl)) {
            char *raw = email_xstrndup(lt + 1, (size_t)(gt - lt - 1));
            char *id = msgid_clean(raw);
            free(raw);
            if (id)
                return id;
        }
    }
    return NULL;
}

static void classify(struct email_msg *m, const struct mailimf_fields *f, struct walk *w,
                     const struct mailmime *body)
{
    char type[128];
    mime_type(body ? body->mm_content_type : NULL, type, sizeof type);
    const char *rt = body && body->mm_content_type
                         ? mailmime_content_param_get(body->mm_content_type, "report-type")
                         : NULL;
    int report = strcmp(type, "multipart/report") == 0;
    if (report && rt && strcasecmp(rt, "disposition-notification") == 0) {
        m->cls = EMAIL_CLASS_AUTO;
        snprintf(m->why, sizeof m->why, "read receipt (disposition-notification)");
        return;
    }
    if ((report && w->dsn_seen) || local_part_is(m->from_addr, "mailer-daemon") ||
        local_part_is(m->from_addr, "postmaster")) {
        if (w->dsn_seen && !w->dsn_failed) {
            m->cls = EMAIL_CLASS_AUTO; /* "delayed", "delivered", "relayed" */
            snprintf(m->why, sizeof m->why, "delivery status notification without a failure");
            return;
        }
        m->cls = EMAIL_CLASS_BOUNCE;
        snprintf(m->why, sizeof m->why, "%s",
                 w->dsn_seen ? "delivery status notification (RFC 3464)" : "from a mailer daemon");
        m->bounce_of = w->orig_msgid ? email_xstrdup(w->orig_msgid) : msgid_in_text(m->text);
        if (!m->bounce_of && m->quoted)
            m->bounce_of = msgid_in_text(m->quoted);
        m->bounce_status = email_xstrdup(w->dsn_status);
        if (w->dsn_diag)
            m->bounce_reason = email_xstrdup(w->dsn_diag);
        else
            m->bounce_reason = email_one_line(m->text, 240);
        return;
    }
    if (header_is_auto(f, m->why, sizeof m->why)) {
        m->cls = EMAIL_CLASS_AUTO;
    } else if (subject_is_auto(m->subject)) {
        m->cls = EMAIL_CLASS_AUTO;
        snprintf(m->why, sizeof m->why, "auto-reply subject");
    } else if (null_return_path(f)) {
        m->cls = EMAIL_CLASS_AUTO; /* RFC 5321: a null sender is never answered */
        snprintf(m->why, sizeof m->why, "null return path (Return-Path: <>)");
    }
}

/* ------------------------------------------------------------- the text */

static void set_text(struct email_msg *m, struct walk *w)
{
    char *full;
    if (w->plain.len) {
        full = email_buf_take(&w->plain);
    } else if (w->html.len) {
        full = email_html_to_text(w->html.p, w->html.len);
        m->html_only = 1;
    } else {
        full = email_xstrdup(m->flags & EMAIL_F_ENCRYPTED ? "(an encrypted message)" : "");
    }
    email_split_reply(full, &m->text, &m->quoted, &m->signature);
    /* bounces without a DSN keep the whole text to search it */
    if (strlen(m->text) > EMAIL_MAX_TEXT) {
        size_t cut = EMAIL_MAX_TEXT;
        while (cut > 0 && ((unsigned char)m->text[cut] & 0xC0) == 0x80)
            cut--;
        m->text[cut] = 0;
        m->flags |= EMAIL_F_TEXT_CUT;
    }
    free(full);
}

/* libetpan's parse of raw, from a NUL-terminated copy (*copy [xfer free],
 * which the tree points into). A multipart cut before its closing
 * delimiter (a truncated mail) comes back from libetpan without any part;
 * it is parsed again with the delimiter added, so the parts that did
 * arrive are read. NULL when libetpan gives nothing. */
static struct mailmime *mime_parse(const char *raw, size_t len, char **copy)
{
    *copy = email_xstrndup(raw, len);
    size_t idx = 0;
    struct mailmime *root = NULL;
    if (mailmime_parse(*copy, len, &idx, &root) != MAILIMF_NO_ERROR || !root) {
        free(*copy);
        *copy = NULL;
        return NULL;
    }
    const struct mailmime *body =
        root->mm_type == MAILMIME_MESSAGE ? root->mm_data.mm_message.mm_msg_mime : NULL;
    const char *boundary = body && body->mm_type == MAILMIME_MULTIPLE && body->mm_content_type
                               ? mailmime_content_param_get(body->mm_content_type, "boundary")
                               : NULL;
    if (!boundary || !body->mm_data.mm_multipart.mm_mp_list ||
        clist_count(body->mm_data.mm_multipart.mm_mp_list) > 0)
        return root;
    /* The closing delimiter in the message's own line ends (libetpan
     * stumbles over mixed ones); a dangling "--boundary" line at the end
     * becomes the closing one itself. */
    const char *nl = memmem(raw, len, "\r\n", 2) ? "\r\n" : "\n";
    size_t end = len, bl = strlen(boundary);
    while (end > 0 && (raw[end - 1] == '\n' || raw[end - 1] == '\r' || raw[end - 1] == ' '))
        end--;
    struct email_buf b = {0};
    if (end >= bl + 3 && raw[end - bl - 3] == '\n' && raw[end - bl - 2] == '-' &&
        raw[end - bl - 1] == '-' && memcmp(raw + end - bl, boundary, bl) == 0) {
        email_buf_add(&b, raw, end);
    } else {
        email_buf_add(&b, raw, len);
        if (len && raw[len - 1] != '\n')
            email_buf_puts(&b, nl);
        email_buf_puts(&b, "--");
        email_buf_puts(&b, boundary);
    }
    email_buf_puts(&b, "--");
    email_buf_puts(&b, nl);
    size_t alen = b.len;
    char *again = email_buf_take(&b);
    struct mailmime *root2 = NULL;
    idx = 0;
    if (mailmime_parse(again, alen, &idx, &root2) != MAILIMF_NO_ERROR || !root2) {
        free(again);
        return root;
    }
    mailmime_free(root);
    free(*copy);
    *copy = again;
    return root2;
}

/* ---------------------------------------------------------------- parse */

int email_parse(const char *raw, size_t len, struct email_msg *m, char *why, size_t whylen)
{
    memset(m, 0, sizeof *m);
    if (!raw || len == 0) {
        snprintf(why, whylen, "empty message");
        return -1;
    }
    if (too_deep(raw, len, why, whylen))
        return -1;
    char *copy = NULL;
    struct mailmime *root = mime_parse(raw, len, &copy);
    if (!root) {
        snprintf(why, whylen, "not a MIME message");
        return -1;
    }
    const struct mailimf_fields *f =
        root->mm_type == MAILMIME_MESSAGE ? root->mm_data.mm_message.mm_fields : NULL;
    if (!f || !f->fld_list || clist_count(f->fld_list) == 0) {
        snprintf(why, whylen, "no header fields");
        mailmime_free(root);
        free(copy);
        return -1;
    }
    read_headers(m, f);
    if (!m->message_id) {
        char h[40];
        sha256_hex(raw, len, h, 32);
        m->message_id = email_xmalloc(64);
        snprintf(m->message_id, 64, "%s@omnigate.invalid", h);
        m->flags |= EMAIL_F_NO_MSGID;
    }
    struct walk w = {.m = m};
    const struct mailmime *body = root->mm_data.mm_message.mm_msg_mime;
    walk(&w, root->mm_data.mm_message.mm_msg_mime, "", 0, 1);
    set_text(m, &w);
    classify(m, f, &w, body);
    email_buf_free(&w.plain);
    email_buf_free(&w.html);
    free(w.dsn_status);
    free(w.dsn_diag);
    free(w.orig_msgid);
    mailmime_free(root);
    free(copy);
    return 0;
}

int email_part(const char *raw, size_t len, const char *section, char **data, size_t *dlen,
               char **name, char **type)
{
    *data = *name = *type = NULL;
    *dlen = 0;
    char why[96]; /* as email_parse's: too_deep's longest reason fits */
    if (!raw || len == 0 || !section || too_deep(raw, len, why, sizeof why))
        return -1;
    char *copy = NULL;
    struct mailmime *root = mime_parse(raw, len, &copy);
    if (!root || root->mm_type != MAILMIME_MESSAGE) {
        if (root)
            mailmime_free(root);
        free(copy);
        return -1;
    }
    struct email_msg m;
    memset(&m, 0, sizeof m);
    /* the same walk as email_parse, so sections are numbered alike */
    struct walk w = {.m = &m, .want = section};
    walk(&w, root->mm_data.mm_message.mm_msg_mime, "", 0, 1);
    int rc = -1;
    if (w.want_found) {
        for (size_t i = 0; i < m.n_atts; i++)
            if (!strcmp(m.atts[i].section, section)) {
                *name = email_xstrdup(m.atts[i].name);
                *type = email_xstrdup(m.atts[i].mime_type);
                break;
            }
        *data = w.want_data ? w.want_data : email_xstrdup("");
        *dlen = w.want_len;
        rc = 0;
    }
    email_msg_free(&m);
    email_buf_free(&w.plain);
    email_buf_free(&w.html);
    free(w.dsn_status);
    free(w.dsn_diag);
    free(w.orig_msgid);
    mailmime_free(root);
    free(copy);
    return rc;
}

void email_msg_free(struct email_msg *m)
{
    if (!m)
        return;
    free(m->message_id);
    free(m->in_reply_to);
    for (size_t i = 0; i < m->n_refs; i++)
        free(m->refs[i]);
    free(m->refs);
    free(m->subject);
    free(m->from_name);
    free(m->from_addr);
    free(m->reply_to);
    free(m->text);
    free(m->quoted);
    free(m->signature);
    for (size_t i = 0; i < m->n_atts; i++) {
        free(m->atts[i].name);
        free(m->atts[i].mime_type);
    }
    free(m->atts);
    free(m->bounce_of);
    free(m->bounce_status);
    free(m->bounce_reason);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------ threading */

char *email_thread_decide(const struct email_msg *m, const struct email_lookup *lk,
                          enum email_thread_how *how)
{
    char *t = NULL;
    if (m->in_reply_to) {
        if (lk->by_msgid(lk->ud, m->in_reply_to, &t) != 0)
            return NULL;
        if (t) {
            *how = EMAIL_THREAD_REPLY;
            return t;
        }
    }
    for (size_t i = m->n_refs; i-- > 0;) { /* the newest reference first */
        if (m->in_reply_to && strcmp(m->refs[i], m->in_reply_to) == 0)
            continue;
        if (lk->by_msgid(lk->ud, m->refs[i], &t) != 0)
            return NULL;
        if (t) {
            *how = EMAIL_THREAD_REPLY;
            return t;
        }
    }
    char tok[EMAIL_TOKEN_LEN + 1];
    if (email_subject_token(m->subject, tok)) {
        if (lk->by_token(lk->ud, tok, &t) != 0)
            return NULL;
        if (t) {
            *how = EMAIL_THREAD_TOKEN;
            return t;
        }
    }
    *how = EMAIL_THREAD_NEW;
    t = email_xmalloc(32);
    email_new_thread_id(m->message_id, t);
    return t;
}
