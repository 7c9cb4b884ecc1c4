/* webchat_parse.c - the web chat connector's parsers: the small syntaxes of
 * its options and the visitor's request bodies. Everything here is a pure
 * function of its input (and the host's JSON services), so the fuzz target
 * reaches it without a host. */
#include "webchat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const webchat_field_names[WC_F__N] = {"name", "email", "phone", "question"};

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        abort();
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* ------------------------------------------------------------ options */

/* scheme://host[:port], nothing after: what a browser sends as Origin. */
static int origin_ok(const char *s, size_t n)
{
    const char *rest;
    if (n > 7 && strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else if (n > 8 && strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else
        return 0;
    size_t r = n - (size_t)(rest - s);
    if (r == 0 || r > 253)
        return 0;
    for (size_t i = 0; i < r; i++) {
        char c = rest[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == ':' || c == '[' || c == ']'))
            return 0;
    }
    return 1;
}

int webchat_parse_origins(const char *s, char **out, size_t max, size_t *n, char *err,
                          size_t errlen)
{
    *n = 0;
    for (const char *p = s ? s : ""; *p;) {
        p += strspn(p, " ,\t");
        size_t k = strcspn(p, " ,\t");
        if (!k)
            break;
        if (!origin_ok(p, k)) {
            snprintf(err, errlen,
                     "allowed_origins: '%.*s' is not an origin (scheme://host[:port], "
                     "lower case, no path)",
                     (int)(k > 80 ? 80 : k), p);
            goto fail;
        }
        if (*n == max) {
            snprintf(err, errlen, "allowed_origins: more than %zu origins", max);
            goto fail;
        }
        out[(*n)++] = dup_n(p, k);
        p += k;
    }
    if (*n == 0) {
        snprintf(err, errlen, "allowed_origins: at least one origin is required");
        return -1;
    }
    return 0;
fail:
    while (*n)
        free(out[--*n]);
    return -1;
}

int webchat_parse_prechat(const char *s, struct webchat_prechat *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    for (const char *q = s ? s : ""; *q;) {
        q += strspn(q, " ,");
        size_t k = strcspn(q, " ,");
        if (!k)
            break;
        int req = q[k - 1] == '*';
        size_t nk = k - (size_t)req;
        int f = -1;
        for (int i = 0; i < WC_F__N; i++)
            if (strlen(webchat_field_names[i]) == nk && strncmp(q, webchat_field_names[i], nk) == 0)
                f = i;
        if (f < 0) {
            snprintf(err, errlen,
                     "pre_chat: unknown field '%.*s' (name, email, phone, question; * = "
                     "required)",
                     (int)(k > 40 ? 40 : k), q);
            return -1;
        }
        p->used[f] = 1;
        p->required[f] = req;
        q += k;
    }
    return 0;
}

static int hex_color(const char *s, size_t n)
{
    if (n != 7 || s[0] != '#')
        return 0;
    for (size_t i = 1; i < 7; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return 0;
    return 1;
}

int webchat_parse_theme(const char *s, struct webchat_theme *t, char *err, size_t errlen)
{
    snprintf(t->color, sizeof t->color, "#1f6feb");
    snprintf(t->position, sizeof t->position, "right");
    for (const char *q = s ? s : ""; *q;) {
        q += strspn(q, " ,");
        size_t k = strcspn(q, " ,");
        if (!k)
            break;
        if (hex_color(q, k))
            snprintf(t->color, sizeof t->color, "%.7s", q);
        else if ((k == 4 && !strncmp(q, "left", 4)) || (k == 5 && !strncmp(q, "right", 5)))
            snprintf(t->position, sizeof t->position, "%.*s", (int)k, q);
        else {
            snprintf(err, errlen, "theme: '%.*s' is neither a colour (#rrggbb) nor left|right",
                     (int)(k > 40 ? 40 : k), q);
            return -1;
        }
        q += k;
    }
    return 0;
}

static int mime_ok(const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);
    if (!slash || slash == s || slash == s + n - 1 || n > 100)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '-' ||
              c == '+' || c == '.'))
            return 0;
    }
    return memchr(slash + 1, '/', n - (size_t)(slash + 1 - s)) == NULL;
}

int webchat_parse_attachments(const char *s, struct webchat_attach *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->max_bytes = 5 * 1024 * 1024;
    for (const char *q = s ? s : ""; *q;) {
        q += strspn(q, " ,");
        size_t k = strcspn(q, " ,");
        if (!k)
            break;
        if (k > 4 && strncmp(q, "max=", 4) == 0) {
            char num[24];
            snprintf(num, sizeof num, "%.*s", (int)(k - 4 > 20 ? 20 : k - 4), q + 4);
            char *end;
            long long v = strtoll(num, &end, 10);
            if (*end || v < 1 || v > 64LL * 1024 * 1024 || k - 4 > 20) {
                snprintf(err, errlen, "attachments: max= must be 1..67108864 bytes");
                webchat_attach_free(a);
                return -1;
            }
            a->max_bytes = v;
        } else if (mime_ok(q, k)) {
            if (a->n_types == WC_MAX_TYPES) {
                snprintf(err, errlen, "attachments: more than %d types", WC_MAX_TYPES);
                webchat_attach_free(a);
                return -1;
            }
            a->types[a->n_types++] = dup_n(q, k);
        } else {
            snprintf(err, errlen, "attachments: '%.*s' is neither a MIME type nor max=N",
                     (int)(k > 40 ? 40 : k), q);
            webchat_attach_free(a);
            return -1;
        }
        q += k;
    }
    return 0;
}

void webchat_attach_free(struct webchat_attach *a)
{
    for (size_t i = 0; i < a->n_types; i++)
        free(a->types[i]);
    a->n_types = 0;
}

/* ------------------------------------------------------------- values */

int webchat_utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t k;
        unsigned min;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            k = 1, min = 0x80;
        else if (c >= 0xe0 && c <= 0xef)
            k = 2, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4)
            k = 3, min = 0x10000;
        else
            return 0;
        unsigned cp = c & (0x3f >> k);
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (p[i + j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

int webchat_email_ok(const char *s)
{
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n < 3 || n > 254 || !at || at == s || strchr(at + 1, '@'))
        return 0;
    const char *dot = strrchr(at, '.');
    if (!dot || dot == at + 1 || dot[1] == 0)
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == '"' || *p == ',' ||
            *p == ';' || *p == 0x7f)
            return 0;
    return 1;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

void webchat_filename(const char *hdr, char *out, size_t outsz)
{
    char dec[512];
    size_t n = 0;
    for (const char *p = hdr ? hdr : ""; *p && n < sizeof dec - 1; p++) {
        if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            dec[n++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        } else {
            dec[n++] = *p;
        }
    }
    dec[n] = 0;
    /* the base name, without control characters */
    const char *base = dec;
    for (size_t i = 0; i < n; i++)
        if (dec[i] == '/' || dec[i] == '\\')
            base = dec + i + 1;
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)base; *p && o + 1 < outsz; p++)
        if (*p >= 0x20 && *p != 0x7f && *p != '"')
            out[o++] = (char)*p;
    out[o] = 0;
    /* cut back to whole UTF-8 characters */
    while (o > 0 && !webchat_utf8_ok(out, o))
        out[--o] = 0;
    if (o == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        snprintf(out, outsz, "file");
}

int webchat_media_type(const char *ctype, char *out, size_t outsz)
{
    if (!ctype)
        return -1;
    while (*ctype == ' ')
        ctype++;
    size_t k = strcspn(ctype, "; \t");
    if (k == 0 || k >= outsz)
        return -1;
    for (size_t i = 0; i < k; i++)
        out[i] = (char)(ctype[i] >= 'A' && ctype[i] <= 'Z' ? ctype[i] - 'A' + 'a' : ctype[i]);
    out[k] = 0;
    return mime_ok(out, k) ? 0 : -1;
}

static int id_ok(const char *s, const char *prefix)
{
    if (!s || strncmp(s, prefix, 4) != 0)
        return 0;
    size_t n = strlen(s + 4);
    if (n < 1 || n > 60)
        return 0;
    for (const char *p = s + 4; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
            return 0;
    return 1;
}

int webchat_file_id_ok(const char *s)
{
    return id_ok(s, "fil_");
}

int webchat_msg_id_ok(const char *s)
{
    if (!s || strncmp(s, "msg_", 4) != 0)
        return 0;
    size_t n = strlen(s + 4);
    if (n < 1 || n > 60)
        return 0;
    for (const char *p = s + 4; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
            return 0;
    return 1;
}

/* A client_id: 1..64 of [0-9A-Za-z_-] (a UUID fits). */
static int client_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > WC_CLIENT_ID_MAX)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              *p == '-' || *p == '_'))
            return 0;
    return 1;
}

/* ------------------------------------------------------------- bodies */

static struct og_json *object_of(const struct og_services *svc, const char *body, size_t len,
                                 char *err, size_t errlen)
{
    struct og_json *j = body && len ? svc->json->parse(body, len) : NULL;
    if (!j || svc->json->type(j) != OG_JSON_OBJECT) {
        svc->json->put(j);
        snprintf(err, errlen, "the body must be one JSON object");
        return NULL;
    }
    return j;
}

/* An optional string field: OG_OK with *out NULL when absent or null;
 * OG_ERR_INVALID when not a string, longer than max, empty when nonempty,
 * or not UTF-8. */
static og_err str_field(const struct og_services *svc, struct og_json *j, const char *key,
                        size_t max, int nonempty, const char **out, char *err, size_t errlen)
{
    struct og_json *v = svc->json->get(j, key);
    *out = NULL;
    if (!v || svc->json->type(v) == OG_JSON_NULL)
        return OG_OK;
    if (svc->json->type(v) != OG_JSON_STRING) {
        snprintf(err, errlen, "%s: must be a string", key);
        return OG_ERR_INVALID;
    }
    const char *s = svc->json->str(v);
    size_t n = s ? strlen(s) : 0;
    if (n > max) {
        snprintf(err, errlen, "%s: at most %zu bytes", key, max);
        return OG_ERR_INVALID;
    }
    if (!webchat_utf8_ok(s ? s : "", n)) {
        snprintf(err, errlen, "%s: must be UTF-8 text", key);
        return OG_ERR_INVALID;
    }
    if (nonempty && n == 0) {
        snprintf(err, errlen, "%s: must not be empty", key);
        return OG_ERR_INVALID;
    }
    *out = n ? s : NULL;
    return OG_OK;
}

/* Text is blank when it holds only spaces and line breaks. */
static int blank(const char *s)
{
    return !s || s[strspn(s, " \t\r\n")] == 0;
}

og_err webchat_parse_start(const struct og_services *svc, const char *body, size_t len,
                           struct wc_start *out, struct og_json **doc, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    *doc = NULL;
    size_t sp = 0;
    while (body && sp < len &&
           (body[sp] == ' ' || body[sp] == '\t' || body[sp] == '\r' || body[sp] == '\n'))
        sp++;
    if (!body || sp == len)
        return OG_OK; /* no body: a new visitor without pre-chat answers */
    struct og_json *j = object_of(svc, body, len, err, errlen);
    if (!j)
        return OG_ERR_INVALID;
    og_err e = str_field(svc, j, "token", 128, 0, &out->token, err, errlen);
    for (int i = 0; e == OG_OK && i < WC_F__N; i++)
        e = str_field(svc, j, webchat_field_names[i],
                      i == WC_F_QUESTION ? WC_TEXT_MAX : WC_FIELD_MAX, 0, &out->field[i], err,
                      errlen);
    if (e == OG_OK && out->field[WC_F_EMAIL] && !webchat_email_ok(out->field[WC_F_EMAIL])) {
        snprintf(err, errlen, "email: not an e-mail address");
        e = OG_ERR_INVALID;
    }
    for (int i = 0; e == OG_OK && i < WC_F__N; i++)
        if (out->field[i] && blank(out->field[i]))
            out->field[i] = NULL;
    if (e != OG_OK) {
        svc->json->put(j);
        memset(out, 0, sizeof *out);
        return e;
    }
    *doc = j;
    return OG_OK;
}

og_err webchat_parse_message(const struct og_services *svc, const char *body, size_t len,
                             struct wc_message *out, struct og_json **doc, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    *doc = NULL;
    struct og_json *j = object_of(svc, body, len, err, errlen);
    if (!j)
        return OG_ERR_INVALID;
    og_err e = str_field(svc, j, "text", WC_TEXT_MAX, 1, &out->text, err, errlen);
    if (e == OG_OK && (!out->text || blank(out->text))) {
        snprintf(err, errlen, "text: required, 1..%d bytes of UTF-8 text", WC_TEXT_MAX);
        e = OG_ERR_INVALID;
    }
    if (e == OG_OK)
        e = str_field(svc, j, "client_id", WC_CLIENT_ID_MAX, 0, &out->client_id, err, errlen);
    if (e == OG_OK && out->client_id && !client_id_ok(out->client_id)) {
        snprintf(err, errlen, "client_id: 1..64 of A-Z a-z 0-9 - _");
        e = OG_ERR_INVALID;
    }
    if (e != OG_OK) {
        svc->json->put(j);
        memset(out, 0, sizeof *out);
        return e;
    }
    *doc = j;
    return OG_OK;
}

og_err webchat_parse_typing(const struct og_services *svc, const char *body, size_t len, int *on,
                            char *err, size_t errlen)
{
    struct og_json *j = object_of(svc, body, len, err, errlen);
    if (!j)
        return OG_ERR_INVALID;
    struct og_json *v = svc->json->get(j, "on");
    og_err e = OG_OK;
    if (!v || svc->json->type(v) != OG_JSON_BOOL) {
        snprintf(err, errlen, "on: required, true or false");
        e = OG_ERR_INVALID;
    } else {
        *on = svc->json->boolean(v);
    }
    svc->json->put(j);
    return e;
}

og_err webchat_parse_read(const struct og_services *svc, const char *body, size_t len, char *until,
                          size_t untilsz, char *err, size_t errlen)
{
    struct og_json *j = object_of(svc, body, len, err, errlen);
    if (!j)
        return OG_ERR_INVALID;
    const char *u = NULL;
    og_err e = str_field(svc, j, "until", 80, 1, &u, err, errlen);
    if (e == OG_OK && (!u || !webchat_msg_id_ok(u) || strlen(u) >= untilsz)) {
        snprintf(err, errlen, "until: required, a message id");
        e = OG_ERR_INVALID;
    }
    if (e == OG_OK)
        snprintf(until, untilsz, "%s", u);
    svc->json->put(j);
    return e;
}

og_err webchat_parse_csat(const struct og_services *svc, const char *body, size_t len,
                          struct wc_csat *out, struct og_json **doc, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    *doc = NULL;
    struct og_json *j = object_of(svc, body, len, err, errlen);
    if (!j)
        return OG_ERR_INVALID;
    struct og_json *s = svc->json->get(j, "score");
    og_err e = OG_OK;
    if (!s || svc->json->type(s) != OG_JSON_INT) {
        snprintf(err, errlen, "score: required, an integer");
        e = OG_ERR_INVALID;
    } else {
        out->score = svc->json->int64(s);
        e = str_field(svc, j, "comment", WC_COMMENT_MAX, 0, &out->comment, err, errlen);
    }
    if (e == OG_OK && out->comment && blank(out->comment))
        out->comment = NULL;
    if (e != OG_OK) {
        svc->json->put(j);
        memset(out, 0, sizeof *out);
        return e;
    }
    *doc = j;
    return OG_OK;
}

og_err webchat_parse_offline(const struct og_services *svc, const char *body, size_t len,
                             struct wc_offline *out, struct og_json **doc, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    *doc = NULL;
    struct og_json *j = object_of(svc, body, len, err, errlen);
    if (!j)
        return OG_ERR_INVALID;
    og_err e = str_field(svc, j, "token", 128, 0, &out->token, err, errlen);
    if (e == OG_OK)
        e = str_field(svc, j, "name", WC_FIELD_MAX, 0, &out->name, err, errlen);
    if (e == OG_OK)
        e = str_field(svc, j, "email", WC_FIELD_MAX, 0, &out->email, err, errlen);
    if (e == OG_OK && (!out->email || !webchat_email_ok(out->email))) {
        snprintf(err, errlen, "email: required, an e-mail address");
        e = OG_ERR_INVALID;
    }
    if (e == OG_OK)
        e = str_field(svc, j, "text", WC_TEXT_MAX, 1, &out->text, err, errlen);
    if (e == OG_OK && (!out->text || blank(out->text))) {
        snprintf(err, errlen, "text: required, 1..%d bytes of UTF-8 text", WC_TEXT_MAX);
        e = OG_ERR_INVALID;
    }
    if (e == OG_OK && out->name && blank(out->name))
        out->name = NULL;
    if (e != OG_OK) {
        svc->json->put(j);
        memset(out, 0, sizeof *out);
        return e;
    }
    *doc = j;
    return OG_OK;
}
