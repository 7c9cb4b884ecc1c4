/* email_send.c - an agent's message as an e-mail reply: threading headers
 * from the channel state, the message written by libetpan's MIME writer
 * (email_build, pure), attachments downloaded with svc->http, relayed with
 * svc->smtp_send (libcurl in the host, which verifies TLS).
 *
 * The reply carries: From (the channel's "from"), Reply-To (option), To
 * (the thread's customer: the Reply-To, else the From of their last mail),
 * Date, Message-ID "<og.<our message id>@<from domain>>" (the same on every
 * retry of one message, so a duplicate after a lost SMTP answer can be
 * recognised by the customer's client), In-Reply-To and References of the
 * customer's last message, Subject "Re: <subject> [#<token>]", and
 * multipart/alternative text + HTML (inside multipart/mixed with the
 * attachments). Before anything is sent, its Message-ID is mapped to the
 * thread in the state (so the customer's answer finds the session) and the
 * token too. */
#include "email.h"

#include <ctype.h>
#include <libetpan/libetpan.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define EMAIL_SEND_TIMEOUT_MS 60000
#define EMAIL_ATTACH_TIMEOUT_MS 30000

/* ------------------------------------------------------- encoded words */

char *email_encode_words(const char *s)
{
    int plain = 1;
    for (const char *p = s; *p && plain; p++)
        plain =
            (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7F && !(p[0] == '=' && p[1] == '?');
    if (plain)
        return email_xstrdup(s);
    /* =?UTF-8?B?...?= is 12 characters around the base64; 45 bytes give 60,
     * so a word stays within RFC 2047's 75. Words end on character
     * boundaries, so each decodes to valid UTF-8 on its own. */
    struct email_buf b = {0};
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t take = n - i < 45 ? n - i : 45;
        while (take < n - i && take > 0 && ((unsigned char)s[i + take] & 0xC0) == 0x80)
            take--;
        if (take == 0)
            take = n - i < 45 ? n - i : 45;
        unsigned char enc[64];
        int el = EVP_EncodeBlock(enc, (const unsigned char *)s + i, (int)take);
        if (b.len)
            email_buf_putc(&b, ' ');
        email_buf_puts(&b, "=?UTF-8?B?");
        email_buf_add(&b, enc, (size_t)el);
        email_buf_puts(&b, "?=");
        i += take;
    }
    return email_buf_take(&b);
}

/* ------------------------------------------------------------ the HTML */

static void html_escape(struct email_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        switch (s[i]) {
        case '&': email_buf_puts(b, "&amp;"); break;
        case '<': email_buf_puts(b, "&lt;"); break;
        case '>': email_buf_puts(b, "&gt;"); break;
        case '"': email_buf_puts(b, "&quot;"); break;
        case '\n': email_buf_puts(b, "<br>\n"); break;
        default: email_buf_putc(b, s[i]);
        }
}

/* The HTML alternative of a plain text: escaped, line breaks kept, and
 * http(s) URLs made links. [xfer free] */
static char *html_of_text(const char *t)
{
    struct email_buf b = {0};
    email_buf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>"
                       "<body><div>");
    for (const char *p = t; *p;) {
        const char *u = strstr(p, "http");
        while (u && strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
            u = strstr(u + 4, "http");
        if (!u) {
            html_escape(&b, p, strlen(p));
            break;
        }
        html_escape(&b, p, (size_t)(u - p));
        size_t n = strcspn(u, " \t\n<>\"'");
        while (n > 0 && strchr(".,;:!?)]", u[n - 1]))
            n--;
        email_buf_puts(&b, "<a href=\"");
        html_escape(&b, u, n);
        email_buf_puts(&b, "\">");
        html_escape(&b, u, n);
        email_buf_puts(&b, "</a>");
        p = u + n;
    }
    email_buf_puts(&b, "</div></body></html>\n");
    return email_buf_take(&b);
}

/* ---------------------------------------------------------- the builder */

/* A header value we write: one line, no CR/LF (so a customer's subject
 * cannot add a header), encoded when not plain ASCII. [xfer free] */
static char *header_value(const char *s, size_t max)
{
    char *one = email_one_line(s ? s : "", max);
    char *enc = email_encode_words(one);
    free(one);
    return enc;
}

static struct mailmime *text_part(const char *type, const char *text)
{
    struct mailmime_content *ct = mailmime_content_new_with_str(type);
    struct mailmime_fields *mf = mailmime_fields_new_encoding(MAILMIME_MECHANISM_QUOTED_PRINTABLE);
    struct mailmime_parameter *cs = mailmime_param_new_with_data("charset", "utf-8");
    if (!ct || !mf || !cs || clist_append(ct->ct_parameters, cs) < 0)
        abort(); /* libetpan fails here only when malloc does */
    struct mailmime *p = mailmime_new_empty(ct, mf);
    if (!p || mailmime_set_body_text(p, (char *)text, strlen(text)) != MAILIMF_NO_ERROR)
        abort();
    return p;
}

/* A MIME type we can write as it is ("type/subtype" of token characters),
 * else application/octet-stream. Composite types too: libetpan would make
 * a message/rfc822 part a message of its own, with no header fields, and
 * crash writing it; an attached .eml opens the same as octet-stream. */
static const char *safe_type(const char *t)
{
    if (!t || strncasecmp(t, "message/", 8) == 0 || strncasecmp(t, "multipart/", 10) == 0)
        return "application/octet-stream";
    const char *slash = strchr(t, '/');
    if (!slash || slash == t || !slash[1] || strlen(t) > 100)
        return "application/octet-stream";
    for (const char *p = t; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("!#$&-^_.+/", *p)) || (*p == '/' && p != slash))
            return "application/octet-stream";
    return t;
}

/* An attachment's file name for the header: no quotes, backslashes or
 * path, encoded words when not ASCII. [xfer free] */
static char *safe_name(const char *name)
{
    char *one = email_one_line(name && *name ? name : "attachment", 200);
    for (char *p = one; *p; p++)
        if (*p == '"' || *p == '\\' || *p == '/' || *p == ';')
            *p = '_';
    char *enc = email_encode_words(one);
    free(one);
    return enc;
}

static struct mailmime *attachment_part(const struct email_out_att *a)
{
    char *name = safe_name(a->name);
    struct mailmime_fields *mf = mailmime_fields_new_filename(
        MAILMIME_DISPOSITION_TYPE_ATTACHMENT, email_xstrdup(name), MAILMIME_MECHANISM_BASE64);
    struct mailmime_content *ct = mailmime_content_new_with_str(safe_type(a->mime_type));
    struct mailmime_parameter *pn = mailmime_param_new_with_data("name", name);
    free(name);
    if (!mf || !ct || !pn || clist_append(ct->ct_parameters, pn) < 0)
        abort();
    struct mailmime *p = mailmime_new_empty(ct, mf);
    if (!p || mailmime_set_body_text(p, (char *)a->data, a->len) != MAILIMF_NO_ERROR)
        abort();
    return p;
}

static clist *id_list(const char *const *ids, size_t n)
{
    clist *l = clist_new();
    if (!l)
        abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] && *ids[i] && clist_append(l, email_xstrdup(ids[i])) < 0)
            abort();
    if (clist_count(l) == 0) {
        clist_free(l);
        return NULL;
    }
    return l;
}

static struct mailimf_fields *build_fields(const struct email_out *o)
{
    struct mailimf_mailbox_list *from = mailimf_mailbox_list_new_empty();
    char *fname = o->from_name && *o->from_name ? header_value(o->from_name, 200) : NULL;
    mailimf_mailbox_list_add(from, mailimf_mailbox_new(fname, email_xstrdup(o->from_addr)));
    struct mailimf_address_list *to = mailimf_address_list_new_empty();
    mailimf_address_list_add(
        to, mailimf_address_new(MAILIMF_ADDRESS_MAILBOX,
                                mailimf_mailbox_new(NULL, email_xstrdup(o->to)), NULL));
    struct mailimf_address_list *rt = NULL;
    if (o->reply_to && *o->reply_to) {
        rt = mailimf_address_list_new_empty();
        mailimf_address_list_add(
            rt, mailimf_address_new(MAILIMF_ADDRESS_MAILBOX,
                                    mailimf_mailbox_new(NULL, email_xstrdup(o->reply_to)), NULL));
    }
    const char *irt[1] = {o->in_reply_to};
    struct mailimf_fields *f = mailimf_fields_new_with_data_all(
        mailimf_get_date((time_t)o->date_s), from, NULL, rt, to, NULL, NULL,
        email_xstrdup(o->message_id), o->in_reply_to ? id_list(irt, 1) : NULL,
        id_list(o->refs, o->n_refs), header_value(o->subject, 900));
    if (!f)
        abort();
    return f;
}

char *email_build(const struct email_out *o, size_t *len, char *why, size_t whylen)
{
    struct mailimf_fields *fields = build_fields(o);
    struct mailmime *msg = mailmime_new_message_data(NULL);
    if (!msg)
        abort();
    mailmime_set_imf_fields(msg, fields);
    char *html = html_of_text(o->text ? o->text : "");
    struct mailmime *alt = mailmime_multiple_new("multipart/alternative");
    if (!alt || mailmime_smart_add_part(alt, text_part("text/plain", o->text ? o->text : "")) ||
        mailmime_smart_add_part(alt, text_part("text/html", html)))
        abort();
    struct mailmime *top = alt;
    if (o->n_atts) {
        top = mailmime_multiple_new("multipart/mixed");
        if (!top || mailmime_smart_add_part(top, alt))
            abort();
        for (size_t i = 0; i < o->n_atts; i++)
            if (mailmime_smart_add_part(top, attachment_part(&o->atts[i])))
                abort();
    }
    if (mailmime_smart_add_part(msg, top))
        abort();
    MMAPString *out = mmap_string_new("");
    int col = 0;
    int r = out ? mailmime_write_mem(out, &col, msg) : MAILIMF_ERROR_MEMORY;
    char *data = NULL;
    if (r == MAILIMF_NO_ERROR) {
        data = email_xstrndup(out->str, out->len);
        *len = out->len;
    } else {
        snprintf(why, whylen, "libetpan's MIME writer refused the message (error %d)", r);
    }
    if (out)
        mmap_string_free(out);
    mailmime_free(msg); /* frees the fields and parts, not the texts */
    free(html);
    return data;
}

/* --------------------------------------------------------- thread state */

/* The thread record "t:<thread>": what a reply needs. Written by the poll
 * thread for every message a customer adds to the thread, and by send()
 * for a thread an agent starts. Fields are tab-separated. */
struct thread_rec {
    char *to, *subject, *last; /* last: the customer's last Message-ID, or "" */
    char *refs;                /* their References, space-separated, or "" */
};

static void rec_free(struct thread_rec *t)
{
    free(t->to), free(t->subject), free(t->last), free(t->refs);
    memset(t, 0, sizeof *t);
}

/* "v1\t<to>\t<subject>\t<last>\t<refs>" -> rec; 0 when it reads. */
static int rec_parse(const char *v, struct thread_rec *t)
{
    memset(t, 0, sizeof *t);
    if (!v || strncmp(v, "v1\t", 3) != 0)
        return -1;
    char *f[4] = {0};
    const char *p = v + 3;
    for (int i = 0; i < 4; i++) {
        const char *tab = i < 3 ? strchr(p, '\t') : NULL;
        size_t n = tab ? (size_t)(tab - p) : strlen(p);
        f[i] = email_xstrndup(p, n);
        if (i < 3 && !tab) {
            for (int k = 0; k <= i; k++)
                free(f[k]);
            return -1;
        }
        p = tab ? tab + 1 : p + n;
    }
    t->to = f[0], t->subject = f[1], t->last = f[2], t->refs = f[3];
    return email_addr_ok(t->to) ? 0 : (rec_free(t), -1);
}

/* The subject of a thread an agent starts: the text's first line. */
static char *subject_of_text(const char *text)
{
    const char *t = text ? text + strspn(text, " \t\n") : "";
    size_t n = strcspn(t, "\n");
    char *line = email_xstrndup(t, n);
    char *one = email_one_line(line, 78);
    free(line);
    if (!*one) {
        free(one);
        one = email_xstrdup("Message");
    }
    return one;
}

/* --------------------------------------------------------------- sending */

static void set_err(struct og_send_result *res, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(struct og_send_result *res, const char *code, const char *fmt, ...)
{
    snprintf(res->error_code, sizeof res->error_code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error_message, sizeof res->error_message, fmt, ap);
    va_end(ap);
}

/* Downloads one attachment into a [xfer free] buffer; *total counts the
 * bytes of all so far against max. */
static og_err fetch_attachment(struct email *em, const struct og_attachment *a,
                               struct email_out_att *out, size_t *total, struct og_send_result *res)
{
    const struct og_services *svc = em->svc;
    if (!a->url || (strncmp(a->url, "https://", 8) != 0 && strncmp(a->url, "http://", 7) != 0)) {
        set_err(res, "attachment_url", "an attachment needs an http(s) url");
        return OG_ERR_INVALID;
    }
    struct og_http_call call = {.struct_size = sizeof call,
                                .method = "GET",
                                .url = a->url,
                                .timeout_ms = EMAIL_ATTACH_TIMEOUT_MS};
    struct og_http_result r;
    memset(&r, 0, sizeof r);
    og_err e = svc->http(em->host, &call, &r);
    if (e != OG_OK) {
        set_err(res, "attachment_fetch", "attachment download failed: %s", r.errbuf);
        svc->http_result_free(&r);
        /* The host refuses a URL it never fetches from (a private address,
         * not http(s), too large): no retry changes that. */
        return e == OG_ERR_FORBIDDEN || e == OG_ERR_INVALID || e == OG_ERR_TOO_LARGE
                   ? OG_ERR_PERMANENT
                   : OG_ERR_RETRYABLE;
    }
    if (r.status != 200) {
        set_err(res, "attachment_http", "attachment download answered HTTP %ld", r.status);
        svc->http_result_free(&r);
        return r.status >= 500 || r.status == 429 ? OG_ERR_RETRYABLE : OG_ERR_PERMANENT;
    }
    *total += r.body_len;
    if ((int64_t)*total > em->conf->max_message_bytes) {
        set_err(res, "too_large", "attachments exceed max_message_bytes (%lld)",
                (long long)em->conf->max_message_bytes);
        svc->http_result_free(&r);
        return OG_ERR_TOO_LARGE;
    }
    char *data = email_xmalloc(r.body_len + 1);
    if (r.body_len)
        memcpy(data, r.body, r.body_len);
    out->data = data;
    out->len = r.body_len;
    out->mime_type = email_xstrdup(a->mime_type ? a->mime_type : r.content_type);
    if (a->name && *a->name) {
        out->name = email_xstrdup(a->name);
    } else { /* the URL's last path segment */
        const char *q = a->url + strcspn(a->url, "?#"), *s = q;
        while (s > a->url && s[-1] != '/')
            s--;
        out->name = email_xstrndup(s, (size_t)(q - s));
    }
    svc->http_result_free(&r);
    return OG_OK;
}

static void atts_free(struct email_out_att *atts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((void *)atts[i].data);
        free((void *)atts[i].name);
        free((void *)atts[i].mime_type);
    }
    free(atts);
}

/* Reads the thread record, or makes one for a thread an agent starts (its
 * id is the contact's address, as the core names such threads). */
static og_err thread_for_send(struct email *em, const struct og_outbound *msg, struct thread_rec *t,
                              int *fresh, struct og_send_result *res)
{
    const struct og_services *svc = em->svc;
    char key[600];
    snprintf(key, sizeof key, "t:%s", msg->thread_id);
    char *v = NULL;
    og_err e = svc->state_get(em->host, key, &v);
    if (e != OG_OK) {
        svc->free(v);
        set_err(res, "state", "channel state unavailable: %s", svc->strerror(e));
        return e == OG_ERR_NOMEM ? e : OG_ERR_UNAVAILABLE;
    }
    int ok = rec_parse(v, t) == 0;
    svc->free(v);
    *fresh = !ok;
    if (ok)
        return OG_OK;
    const char *to = email_addr_ok(msg->contact_external_id) ? msg->contact_external_id
                     : email_addr_ok(msg->thread_id)         ? msg->thread_id
                                                             : NULL;
    if (!to) {
        set_err(res, "no_address", "the contact has no e-mail address to write to");
        return OG_ERR_PERMANENT;
    }
    t->to = email_xstrdup(to);
    t->subject = subject_of_text(msg->text);
    t->last = email_xstrdup("");
    t->refs = email_xstrdup("");
    return OG_OK;
}

/* The References of the reply: the customer's References and their last
 * Message-ID (RFC 5322 3.6.4), the newest EMAIL_MAX_REFS. */
static size_t reply_refs(const struct thread_rec *t, const char *irt, char **out)
{
    size_t n = 0;
    char *copy = email_xstrdup(t->refs);
    for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        if (n == EMAIL_MAX_REFS) {
            free(out[0]);
            memmove(out, out + 1, (EMAIL_MAX_REFS - 1) * sizeof *out);
            n--;
        }
        out[n++] = email_xstrdup(tok);
    }
    free(copy);
    int have = 0;
    for (size_t i = 0; i < n; i++)
        have |= irt && strcmp(out[i], irt) == 0;
    if (irt && *irt && !have) {
        if (n == EMAIL_MAX_REFS) {
            free(out[0]);
            memmove(out, out + 1, (EMAIL_MAX_REFS - 1) * sizeof *out);
            n--;
        }
        out[n++] = email_xstrdup(irt);
    }
    return n;
}

/* Our Message-ID for one outbound message: stable across its retries. */
static void our_msgid(const struct email *em, const char *message_id, char *out, size_t n)
{
    char clean[96];
    size_t k = 0;
    for (const char *p = message_id ? message_id : ""; *p && k + 1 < sizeof clean; p++)
        if (isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.')
            clean[k++] = *p;
    clean[k] = 0;
    snprintf(out, n, "og.%s@%s", k ? clean : "x", em->from_domain);
}

/* Maps our Message-ID and the thread's token to the thread, and stores the
 * record of a thread an agent starts: before the mail leaves, so that an
 * answer can never arrive before its thread is findable. */
static og_err record_outbound(struct email *em, const char *thread, const char *msgid,
                              const char *tok, const struct thread_rec *t, int fresh)
{
    const struct og_services *svc = em->svc;
    char key[64];
    email_msgid_key(msgid, key);
    size_t vl = strlen(thread) + 3;
    char *val = email_xmalloc(vl);
    snprintf(val, vl, "o %s", thread);
    og_err e = svc->state_set(em->host, key, val);
    free(val);
    char tkey[EMAIL_TOKEN_LEN + 3];
    snprintf(tkey, sizeof tkey, "k:%s", tok);
    if (e == OG_OK)
        e = svc->state_set(em->host, tkey, thread);
    if (e == OG_OK && fresh) {
        struct email_buf b = {0};
        char trk[600];
        snprintf(trk, sizeof trk, "t:%s", thread);
        email_buf_puts(&b, "v1\t");
        email_buf_puts(&b, t->to);
        email_buf_putc(&b, '\t');
        email_buf_puts(&b, t->subject);
        email_buf_puts(&b, "\t");
        email_buf_puts(&b, msgid); /* our first mail anchors the agent's thread */
        email_buf_puts(&b, "\t");
        e = svc->state_set(em->host, trk, b.p);
        email_buf_free(&b);
    }
    return e;
}

static og_err map_smtp(const struct og_smtp_reply *rep, og_err e, struct og_send_result *res)
{
    char code[16];
    snprintf(code, sizeof code, "%ld", rep->code);
    set_err(res, rep->code ? code : "smtp", "%s", rep->detail[0] ? rep->detail : "SMTP failed");
    if (rep->code == 535 || rep->code == 530 || rep->code == 534)
        return OG_ERR_AUTH; /* our SMTP credentials were refused */
    return e;
}

og_err email_send(void *inst, const struct og_outbound *msg, struct og_send_result *res)
{
    struct email *em = inst;
    const struct og_services *svc = em->svc;
    if (msg->kind != OG_KIND_TEXT && msg->kind != OG_KIND_IMAGE && msg->kind != OG_KIND_VIDEO &&
        msg->kind != OG_KIND_AUDIO && msg->kind != OG_KIND_FILE) {
        set_err(res, "unsupported_kind", "e-mail carries text and attachments only");
        return OG_ERR_UNSUPPORTED;
    }
    if ((!msg->text || !*msg->text) && msg->n_attachments == 0) {
        set_err(res, "empty", "nothing to send");
        return OG_ERR_INVALID;
    }
    if (!msg->thread_id || strlen(msg->thread_id) > 500) {
        set_err(res, "thread", "no usable thread");
        return OG_ERR_INVALID;
    }
    struct thread_rec t;
    int fresh = 0;
    og_err e = thread_for_send(em, msg, &t, &fresh, res);
    if (e != OG_OK)
        return e;
    char msgid[160], tok[EMAIL_TOKEN_LEN + 1];
    our_msgid(em, msg->message_id, msgid, sizeof msgid);
    email_thread_token(msg->thread_id, tok);
    const char *irt = msg->reply_to_provider_id && *msg->reply_to_provider_id
                          ? msg->reply_to_provider_id
                          : (*t.last ? t.last : NULL);
    char *refs[EMAIL_MAX_REFS];
    size_t n_refs = reply_refs(&t, irt, refs);
    size_t sl = strlen(t.subject) + EMAIL_TOKEN_LEN + 16;
    char *subject = email_xmalloc(sl);
    snprintf(subject, sl, "%s%s [#%s]", fresh ? "" : "Re: ", t.subject, tok);

    struct email_out_att *atts = NULL;
    size_t n_atts = 0, total = 0;
    char *data = NULL;
    size_t len = 0;
    if (msg->n_attachments) {
        atts = email_xmalloc(msg->n_attachments * sizeof *atts);
        memset(atts, 0, msg->n_attachments * sizeof *atts);
    }
    for (size_t i = 0; i < msg->n_attachments && e == OG_OK; i++, n_atts++)
        e = fetch_attachment(em, &msg->attachments[i], &atts[i], &total, res);
    if (e == OG_OK) {
        e = record_outbound(em, msg->thread_id, msgid, tok, &t, fresh);
        if (e != OG_OK) {
            set_err(res, "state", "channel state unavailable: %s", svc->strerror(e));
            e = OG_ERR_UNAVAILABLE;
        }
    }
    if (e == OG_OK) {
        const char *const *cref = (const char *const *)refs;
        struct email_out o = {
            .from_name = em->from_name,
            .from_addr = em->from_addr,
            .reply_to = em->conf->reply_to && *em->conf->reply_to ? em->reply_to_addr : NULL,
            .to = t.to,
            .subject = subject,
            .message_id = msgid,
            .in_reply_to = irt,
            .refs = cref,
            .n_refs = n_refs,
            .text = msg->text ? msg->text : "",
            .atts = atts,
            .n_atts = n_atts,
            .date_s = svc->now_ms() / 1000};
        char why[160];
        data = email_build(&o, &len, why, sizeof why);
        if (!data) {
            set_err(res, "build", "%s", why);
            e = OG_ERR_INTERNAL;
        }
    }
    if (e == OG_OK) {
        const char *rcpt[2] = {t.to, NULL};
        struct og_smtp_call call = {.struct_size = sizeof call,
                                    .url = em->conf->smtp_url,
                                    .username = em->conf->smtp_username,
                                    .password = em->conf->smtp_password,
                                    .starttls = em->conf->smtp_starttls,
                                    .ca_file = em->conf->smtp_ca_file,
                                    .mail_from = em->from_addr,
                                    .rcpt = rcpt,
                                    .data = data,
                                    .data_len = len,
                                    .timeout_ms = EMAIL_SEND_TIMEOUT_MS};
        struct og_smtp_reply rep;
        memset(&rep, 0, sizeof rep);
        e = svc->smtp_send(em->host, &call, &rep);
        if (e == OG_OK)
            res->provider_message_id = svc->strdup(msgid);
        else
            e = map_smtp(&rep, e, res);
    }
    free(data);
    atts_free(atts, n_atts);
    for (size_t i = 0; i < n_refs; i++)
        free(refs[i]);
    free(subject);
    rec_free(&t);
    return e;
}
