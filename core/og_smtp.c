/* og_smtp - see og_smtp.h. One curl easy handle per message: follow-ups are
 * rare compared to the cost of a TLS handshake, and a fresh handle cannot
 * carry state from one recipient to the next. */
#include "og_smtp.h"
#include "og_util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int og_smtp_addr_ok(const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    const char *at = strrchr(s, '@');
    if (n == 0 || n > 254 || !at || at == s || at - s > 64 || strchr(s, '@') != at)
        return 0;
    for (const char *p = s; p < at; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= ' ' || ch >= 0x7f || strchr("<>()[]\\,;:\"", ch))
            return 0;
    }
    const char *d = at + 1;
    if (!*d || *d == '.' || d[strlen(d) - 1] == '.' || strstr(d, "..") || !strchr(d, '.'))
        return 0;
    for (const char *p = d; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.'))
            return 0;
    }
    return 1;
}

int og_smtp_parse_from(const char *from, char *name, size_t namesz, char *addr, size_t addrsz)
{
    if (!from || namesz == 0 || addrsz == 0)
        return -1;
    name[0] = addr[0] = 0;
    const char *lt = strchr(from, '<');
    const char *a = from, *ae = from + strlen(from);
    if (lt) {
        const char *gt = strchr(lt, '>');
        if (!gt || gt[1] != 0)
            return -1;
        const char *ns = from, *ne = lt;
        while (ns < ne && *ns == ' ')
            ns++;
        while (ne > ns && ne[-1] == ' ')
            ne--;
        if (ne - ns >= 2 && *ns == '"' && ne[-1] == '"')
            ns++, ne--;
        if ((size_t)(ne - ns) >= namesz)
            return -1;
        memcpy(name, ns, (size_t)(ne - ns));
        name[ne - ns] = 0;
        if (strpbrk(name, "\r\n\"<>"))
            return -1;
        a = lt + 1, ae = gt;
    }
    if ((size_t)(ae - a) >= addrsz)
        return -1;
    memcpy(addr, a, (size_t)(ae - a));
    addr[ae - a] = 0;
    return og_smtp_addr_ok(addr) ? 0 : -1;
}

void og_smtp_encode_header(struct og_buf *b, const char *value)
{
    const unsigned char *v = (const unsigned char *)(value ? value : "");
    int plain = 1;
    for (const unsigned char *p = v; *p; p++)
        if (*p >= 0x7f || (*p < ' ' && *p != '\t' && *p != '\r' && *p != '\n'))
            plain = 0;
    /* A plain value that happens to look like an encoded word is encoded too,
     * so a reader never decodes text the customer typed (judged without the
     * CR and LF that are dropped: "=\r?" must not become "=?"); so is a very
     * long one, because encoded words are folded and RFC 5322 caps a line at
     * 998. */
    if (plain && strlen((const char *)v) <= 900) {
        size_t at = b->len;
        for (const unsigned char *p = v; *p; p++)
            if (*p != '\r' && *p != '\n')
                og_buf_append(b, p, 1);
        int looks_encoded = 0;
        for (size_t k = at; k + 1 < b->len && !looks_encoded; k++)
            looks_encoded = b->data[k] == '=' && b->data[k + 1] == '?';
        if (!looks_encoded)
            return;
        b->len = at; /* encode it after all */
        b->data[at] = 0;
    }
    /* 75 = "=?UTF-8?B?" (10) + 60 base64 chars + "?=" (2): 45 bytes per word. */
    size_t n = strlen((const char *)v), i = 0;
    int first = 1;
    while (i < n) {
        unsigned char chunk[45];
        size_t cl = 0;
        while (i < n) {
            size_t len = 1;
            unsigned char c = v[i];
            if (c >= 0xf0)
                len = 4;
            else if (c >= 0xe0)
                len = 3;
            else if (c >= 0xc0)
                len = 2;
            if (i + len > n)
                len = n - i;
            if (cl + len > sizeof chunk)
                break;
            for (size_t j = 0; j < len; j++)
                if (v[i + j] != '\r' && v[i + j] != '\n')
                    chunk[cl++] = v[i + j];
            i += len;
        }
        char enc[64];
        og_base64_encode(chunk, cl, enc, sizeof enc);
        og_buf_printf(b, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", enc);
        first = 0;
    }
}

struct abort_ctx {
    atomic_int *flag;
};

static int progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    struct abort_ctx *a = ud;
    return a->flag && atomic_load(a->flag) ? 1 : 0;
}

/* Runs one SMTP transaction on h, whose message (MIME or upload) is set:
 * envelope, URL, AUTH, TLS policy, limits. from is "<addr>". */
static og_err transfer(CURL *h, const struct og_smtp_conf *c, const char *from,
                       struct curl_slist *rcpt, struct og_smtp_result *res)
{
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    if (c->username && *c->username) {
        curl_easy_setopt(h, CURLOPT_USERNAME, c->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->password ? c->password : "");
    }
    if (strncmp(c->url, "smtps://", 8) != 0)
        curl_easy_setopt(h, CURLOPT_USE_SSL,
                         c->starttls == OG_STARTTLS_ALWAYS  ? CURLUSESSL_ALL
                         : c->starttls == OG_STARTTLS_NEVER ? CURLUSESSL_NONE
                                                            : CURLUSESSL_TRY);
    if (c->ca_file && *c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    long to = c->timeout_ms > 0 ? c->timeout_ms : 30000;
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, to);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, to < 10000 ? to : 10000);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    struct abort_ctx ac = {c->abort};
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &ac);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);

    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->code);
    og_err e = OG_OK;
    if (rc != CURLE_OK) {
        e = res->code >= 500 && res->code < 600 ? OG_ERR_PERMANENT : OG_ERR_RETRYABLE;
        if (res->code >= 200 && res->code < 400 && rc == CURLE_LOGIN_DENIED)
            e = OG_ERR_PERMANENT;
        snprintf(res->detail, sizeof res->detail, "%s%s%s (smtp %ld)", curl_easy_strerror(rc),
                 errbuf[0] ? ": " : "", errbuf, res->code);
    }
    return e;
}

og_err og_smtp_send(const struct og_smtp_conf *c, const struct og_mail *m,
                    struct og_smtp_result *res)
{
    memset(res, 0, sizeof *res);
    char fname[256], faddr[256];
    if (og_smtp_parse_from(c->from, fname, sizeof fname, faddr, sizeof faddr) != 0) {
        snprintf(res->detail, sizeof res->detail, "invalid from address");
        return OG_ERR_INVALID;
    }
    if (!og_smtp_addr_ok(m->to)) {
        snprintf(res->detail, sizeof res->detail, "invalid recipient address");
        return OG_ERR_INVALID;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(res->detail, sizeof res->detail, "curl_easy_init failed");
        return OG_ERR_RETRYABLE;
    }
    const char *domain = strchr(faddr, '@') + 1;
    struct og_buf hb = {0};
    struct curl_slist *hdrs = NULL, *rcpt = NULL;
    char line[600];

    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(line, sizeof line, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000", wd[tm.tm_wday],
             tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    hdrs = curl_slist_append(hdrs, line);
    og_buf_puts(&hb, "From: ");
    if (fname[0]) {
        og_smtp_encode_header(&hb, fname);
        og_buf_puts(&hb, " ");
    }
    og_buf_printf(&hb, "<%s>", faddr);
    hdrs = curl_slist_append(hdrs, hb.data);
    hb.len = 0;
    snprintf(line, sizeof line, "To: <%s>", m->to);
    hdrs = curl_slist_append(hdrs, line);
    og_buf_printf(&hb, "Message-ID: <%s@%s>",
                  m->message_id && *m->message_id ? m->message_id : "omnigate", domain);
    hdrs = curl_slist_append(hdrs, hb.data);
    hb.len = 0;
    og_buf_puts(&hb, "Subject: ");
    og_smtp_encode_header(&hb, m->subject);
    hdrs = curl_slist_append(hdrs, hb.data);
    og_buf_free(&hb);

    curl_mime *mime = curl_mime_init(h);
    int has_text = m->text && *m->text, has_html = m->html && *m->html;
    curl_mime *body = mime;
    if (has_text && has_html)
        body = curl_mime_init(h);
    if (has_text || !has_html) {
        curl_mimepart *p = curl_mime_addpart(body);
        curl_mime_data(p, has_text ? m->text : "", CURL_ZERO_TERMINATED);
        curl_mime_type(p, "text/plain; charset=UTF-8");
        curl_mime_encoder(p, "quoted-printable");
    }
    if (has_html) {
        curl_mimepart *p = curl_mime_addpart(body);
        curl_mime_data(p, m->html, CURL_ZERO_TERMINATED);
        curl_mime_type(p, "text/html; charset=UTF-8");
        curl_mime_encoder(p, "quoted-printable");
    }
    if (body != mime) {
        curl_mimepart *p = curl_mime_addpart(mime);
        curl_mime_subparts(p, body); /* mime owns body from here */
        curl_mime_type(p, "multipart/alternative");
    }

    snprintf(line, sizeof line, "<%s>", faddr);
    char rline[300];
    snprintf(rline, sizeof rline, "<%s>", m->to);
    rcpt = curl_slist_append(NULL, rline);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    og_err e = transfer(h, c, line, rcpt, res);
    curl_easy_cleanup(h);
    curl_mime_free(mime);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(rcpt);
    return e;
}

struct upload {
    const char *p;
    size_t left;
};

static size_t read_upload(char *buf, size_t size, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t k = size * n < u->left ? size * n : u->left;
    memcpy(buf, u->p, k);
    u->p += k;
    u->left -= k;
    return k;
}

og_err og_smtp_send_raw(const struct og_smtp_conf *c, const char *mail_from,
                        const char *const *rcpts, const char *data, size_t len,
                        struct og_smtp_result *res)
{
    memset(res, 0, sizeof *res);
    if (!og_smtp_addr_ok(mail_from)) {
        snprintf(res->detail, sizeof res->detail, "invalid envelope sender");
        return OG_ERR_INVALID;
    }
    struct curl_slist *rcpt = NULL;
    for (size_t i = 0; rcpts && rcpts[i]; i++) {
        if (!og_smtp_addr_ok(rcpts[i])) {
            snprintf(res->detail, sizeof res->detail, "invalid recipient address");
            curl_slist_free_all(rcpt);
            return OG_ERR_INVALID;
        }
        char line[300];
        snprintf(line, sizeof line, "<%s>", rcpts[i]);
        rcpt = curl_slist_append(rcpt, line);
    }
    if (!rcpt || !data || len == 0) {
        snprintf(res->detail, sizeof res->detail, rcpt ? "empty message" : "no recipient");
        curl_slist_free_all(rcpt);
        return OG_ERR_INVALID;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(res->detail, sizeof res->detail, "curl_easy_init failed");
        curl_slist_free_all(rcpt);
        return OG_ERR_RETRYABLE;
    }
    /* SMTP wants CRLF, and CURLOPT_CRLF would turn a CRLF into CR CR LF:
     * bare LFs are converted here, once. libcurl dot-stuffs. */
    struct og_buf crlf = {0};
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
            og_buf_append(&crlf, "\r", 1);
        og_buf_append(&crlf, data + i, 1);
    }
    struct upload u = {crlf.data, crlf.len};
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(h, CURLOPT_READDATA, &u);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)crlf.len);
    char from[300];
    snprintf(from, sizeof from, "<%s>", mail_from);
    og_err e = transfer(h, c, from, rcpt, res);
    curl_easy_cleanup(h);
    curl_slist_free_all(rcpt);
    og_buf_free(&crlf);
    return e;
}
