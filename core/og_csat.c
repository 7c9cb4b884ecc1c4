/* og_csat - see og_csat.h. */
#include "og_csat.h"
#include "og_core_int.h"
#include "og_json.h"
#include "og_util.h"

#include <json-c/json.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

og_err og_csat_submit(struct og_core *c, const char *sid, const struct og_visitor_survey *survey,
                      int score, const char *comment, const char *by, char **json, char *msg,
                      size_t msglen)
{
    *json = NULL;
    if (!survey || (survey->scale != 5 && survey->scale != 2)) {
        snprintf(msg, msglen, "this channel has no survey");
        return OG_ERR_NOT_FOUND;
    }
    if (score < 1 || score > survey->scale) {
        snprintf(msg, msglen, "score: must be 1..%d", survey->scale);
        return OG_ERR_INVALID;
    }
    if (comment && !survey->comment) {
        snprintf(msg, msglen, "comment: this survey takes none");
        return OG_ERR_INVALID;
    }
    if (comment &&
        (strlen(comment) > OG_CSAT_COMMENT_MAX || !og_utf8_valid(comment, strlen(comment)))) {
        snprintf(msg, msglen, "comment: at most %d bytes of UTF-8 text", OG_CSAT_COMMENT_MAX);
        return OG_ERR_INVALID;
    }
    if (!og_id_valid(sid, "ses_"))
        return OG_ERR_NOT_FOUND;
    struct og_buf cj = {0};
    if (comment)
        og_buf_json_str(&cj, comment);
    else
        og_buf_puts(&cj, "null");
    char now_iso[32], eid[48], sc[16], scale[16], now_s[24];
    int64_t now = og_now_ms();
    og_time_rfc3339(now, now_iso);
    og_id_new("evt_", now, eid, sizeof eid);
    snprintf(sc, sizeof sc, "%d", score);
    snprintf(scale, sizeof scale, "%d", survey->scale);
    snprintf(now_s, sizeof now_s, "%lld", (long long)now);
    const char *argv[] = {c->tag,  "submit", sid, sc,           scale,
                          cj.data, now_iso,  eid, by ? by : "", now_s};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_CSAT, 10, argv, NULL, &r, msg, msglen);
    og_buf_free(&cj);
    if (e != OG_OK)
        return e;
    if (r->elements < 2 || r->element[1]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return OG_ERR_INTERNAL;
    }
    *json = og_strndup(r->element[1]->str, r->element[1]->len);
    freeReplyObject(r);
    return OG_OK;
}

og_err og_csat_state(struct og_core *c, const char *sid, char *channel, size_t chsz, int *rated)
{
    *rated = 0;
    if (chsz)
        channel[0] = '\0';
    if (!og_id_valid(sid, "ses_"))
        return OG_ERR_NOT_FOUND;
    const char *argv[] = {c->tag, "state", sid};
    redisReply *r = NULL;
    og_err e = og_script_call(c, OG_LUA_CSAT, 3, argv, NULL, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    if (r->elements < 3 || r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[2]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return OG_ERR_INTERNAL;
    }
    snprintf(channel, chsz, "%s", r->element[1]->str);
    *rated = r->element[2]->len > 0;
    freeReplyObject(r);
    return OG_OK;
}

/* The code point at s[*i] (advancing *i), or -1 for a bad sequence. */
static long next_cp(const unsigned char *s, size_t len, size_t *i)
{
    size_t n = og_utf8_seq(s + *i, len - *i);
    if (!n)
        return -1;
    long cp = n == 1 ? s[*i] : n == 2 ? s[*i] & 0x1f : n == 3 ? s[*i] & 0x0f : s[*i] & 0x07;
    for (size_t k = 1; k < n; k++)
        cp = (cp << 6) | (s[*i + k] & 0x3f);
    *i += n;
    return cp;
}

static int is_space(long cp)
{
    return cp == ' ' || cp == '\t' || cp == '\r' || cp == '\n' || cp == 0xa0;
}

/* What may follow an emoji without changing it: the emoji variation
 * selector and, after a thumb, a skin tone. */
static int is_modifier(long cp)
{
    return cp == 0xfe0f || (cp >= 0x1f3fb && cp <= 0x1f3ff);
}

int og_csat_parse_answer(const char *text, size_t len, int scale)
{
    if (!text || (scale != 5 && scale != 2) || len > 64)
        return 0; /* an answer is short; a long message is a message */
    long cps[64];
    size_t n = 0, i = 0;
    const unsigned char *s = (const unsigned char *)text;
    while (i < len) {
        long cp = next_cp(s, len, &i);
        if (cp < 0)
            return 0;
        if (is_space(cp) || is_modifier(cp))
            continue; /* spacing and emoji styling carry no meaning here */
        cps[n++] = cp;
    }
    if (n == 0)
        return 0;
    /* one thumb (scale 2) */
    if (n == 1 && (cps[0] == 0x1f44d || cps[0] == 0x1f44e))
        return scale == 2 ? (cps[0] == 0x1f44d ? 2 : 1) : 0;
    /* stars (scale 5) */
    if (cps[0] == 0x2605 || cps[0] == 0x2b50) {
        for (size_t k = 0; k < n; k++)
            if (cps[k] != 0x2605 && cps[k] != 0x2b50)
                return 0;
        return scale == 5 && n <= 5 ? (int)n : 0;
    }
    /* a digit, a keycap, "/scale", one closing '.' or '!' */
    if (cps[0] < '1' || cps[0] > '9')
        return 0;
    int score = (int)(cps[0] - '0');
    size_t k = 1;
    if (k < n && cps[k] == 0x20e3)
        k++;
    if (k < n && cps[k] == '/') {
        if (k + 1 >= n || cps[k + 1] != '0' + scale)
            return 0;
        k += 2;
    }
    if (k < n && (cps[k] == '.' || cps[k] == '!'))
        k++;
    if (k != n)
        return 0;
    return score <= scale ? score : 0;
}

int og_csat_button_score(const char *payload, int scale)
{
    size_t n = strlen(OG_CSAT_BUTTON_PREFIX);
    if (!payload || strncmp(payload, OG_CSAT_BUTTON_PREFIX, n) != 0)
        return 0;
    const char *d = payload + n;
    if (d[0] < '1' || d[0] > '9' || d[1])
        return 0;
    int score = d[0] - '0';
    return score <= scale ? score : 0;
}

char *og_csat_survey_tap_text(int scale, const char *question)
{
    const char *q = question && *question ? question : "How would you rate this conversation?";
    return scale == 2 ? og_strdup(q) : og_sprintf("%s\n1 = poor, 5 = excellent.", q);
}

char *og_csat_survey_text(int scale, const char *question)
{
    const char *q = question && *question ? question : "How would you rate this conversation?";
    return scale == 2 ? og_sprintf("%s\nReply \xf0\x9f\x91\x8d or \xf0\x9f\x91\x8e.", q)
                      : og_sprintf("%s\nReply with a number from 1 (poor) to 5 (excellent).", q);
}

void og_csat_key(const char *secret, unsigned char key[32])
{
    static const char label[] = "omnigate csat link v1";
    og_hmac_sha256(secret ? secret : "", secret ? strlen(secret) : 0, label, sizeof label - 1, key);
}

#define MAC_BYTES 16

static void token_mac(const unsigned char key[32], const char *sid, const char *exp,
                      char hex[2 * MAC_BYTES + 1])
{
    char msg[160];
    int n = snprintf(msg, sizeof msg, "csat\n%s\n%s", sid, exp);
    unsigned char mac[32];
    og_hmac_sha256(key, 32, msg, (size_t)n, mac);
    og_hex_encode(mac, MAC_BYTES, hex, 2 * MAC_BYTES + 1);
}

size_t og_csat_token_make(const unsigned char key[32], const char *sid, int64_t exp_s, char *out,
                          size_t outsz)
{
    if (!sid || !og_id_valid(sid, "ses_") || exp_s < 0)
        return 0;
    char exp[24], hex[2 * MAC_BYTES + 1];
    snprintf(exp, sizeof exp, "%lld", (long long)exp_s);
    token_mac(key, sid, exp, hex);
    int n = snprintf(out, outsz, "%s.%s.%s", sid, exp, hex);
    return n > 0 && (size_t)n < outsz ? (size_t)n : 0;
}

og_err og_csat_token_check(const unsigned char key[32], const char *tok, size_t len, int64_t now_s,
                           char *sid, size_t sidsz, int *expired)
{
    *expired = 0;
    if (sidsz)
        sid[0] = '\0';
    if (!tok || len == 0 || len >= OG_CSAT_TOKEN_MAX)
        return OG_ERR_SIGNATURE;
    char buf[OG_CSAT_TOKEN_MAX];
    memcpy(buf, tok, len);
    buf[len] = '\0';
    if (strlen(buf) != len)
        return OG_ERR_SIGNATURE; /* a NUL inside */
    char *d1 = strchr(buf, '.');
    char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.'))
        return OG_ERR_SIGNATURE;
    *d1 = *d2 = '\0';
    const char *s = buf, *exp = d1 + 1, *mac = d2 + 1;
    if (!og_id_valid(s, "ses_") || !*exp || strlen(exp) > 18 || strlen(mac) != 2 * MAC_BYTES)
        return OG_ERR_SIGNATURE;
    for (const char *p = exp; *p; p++)
        if (*p < '0' || *p > '9')
            return OG_ERR_SIGNATURE;
    if (exp[0] == '0' && exp[1])
        return OG_ERR_SIGNATURE; /* one spelling per token */
    char want[2 * MAC_BYTES + 1];
    token_mac(key, s, exp, want);
    if (!og_ct_equal(want, 2 * MAC_BYTES, mac, 2 * MAC_BYTES))
        return OG_ERR_SIGNATURE;
    if (strtoll(exp, NULL, 10) <= now_s) {
        *expired = 1;
        return OG_ERR_SIGNATURE;
    }
    if (sidsz <= strlen(s))
        return OG_ERR_SIGNATURE;
    memcpy(sid, s, strlen(s) + 1);
    return OG_OK;
}

char *og_csat_link(const unsigned char key[32], const char *public_url, const char *sid)
{
    char tok[OG_CSAT_TOKEN_MAX];
    if (!public_url || !*public_url ||
        !og_csat_token_make(key, sid, og_now_ms() / 1000 + OG_CSAT_LINK_TTL_S, tok, sizeof tok))
        return og_strdup("");
    size_t n = strlen(public_url);
    while (n && public_url[n - 1] == '/')
        n--;
    return og_sprintf("%.*s/csat/%s", (int)n, public_url, tok);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* A form value, percent-decoded ('+' a space), into a new string; NULL
 * when a '%' is not followed by two hex digits or a NUL results. */
static char *form_value(const char *s, size_t n)
{
    char *out = og_malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
                free(out);
                return NULL;
            }
            int v = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
            if (v == 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char)v;
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static og_err parse_score(const char *v, int *score, char *msg, size_t msglen)
{
    if (!v || v[0] < '1' || v[0] > '9' || v[1]) {
        snprintf(msg, msglen, "score: a whole number on the survey's scale");
        return OG_ERR_INVALID;
    }
    *score = v[0] - '0';
    return OG_OK;
}

static og_err check_comment(char **comment, char *msg, size_t msglen)
{
    if (*comment && !**comment) {
        free(*comment);
        *comment = NULL; /* an empty box is no comment */
    }
    if (*comment &&
        (strlen(*comment) > OG_CSAT_COMMENT_MAX || !og_utf8_valid(*comment, strlen(*comment)))) {
        snprintf(msg, msglen, "comment: at most %d bytes of UTF-8 text", OG_CSAT_COMMENT_MAX);
        free(*comment);
        *comment = NULL;
        return OG_ERR_INVALID;
    }
    return OG_OK;
}

static og_err parse_form(const char *body, size_t len, int *score, char **comment, char *msg,
                         size_t msglen)
{
    int have_score = 0, have_comment = 0;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        const char *eq = memchr(body + i, '=', end - i);
        if (end > i) {
            size_t kl = eq ? (size_t)(eq - (body + i)) : end - i;
            char *val = eq ? form_value(eq + 1, (size_t)(body + end - eq - 1)) : og_strdup("");
            if (!val) {
                snprintf(msg, msglen, "the form is not percent-encoded text");
                goto bad;
            }
            if (kl == 5 && !memcmp(body + i, "score", 5) && !have_score) {
                have_score = 1;
                og_err e = parse_score(val, score, msg, msglen);
                free(val);
                if (e != OG_OK)
                    goto bad;
            } else if (kl == 7 && !memcmp(body + i, "comment", 7) && !have_comment) {
                have_comment = 1;
                *comment = val;
            } else {
                free(val);
                snprintf(msg, msglen, "the form takes score and comment, once each");
                goto bad;
            }
        }
        i = end + 1;
    }
    if (!have_score) {
        snprintf(msg, msglen, "score: required");
        goto bad;
    }
    return check_comment(comment, msg, msglen);
bad:
    free(*comment);
    *comment = NULL;
    return OG_ERR_INVALID;
}

og_err og_csat_parse_body(const char *body, size_t len, int json, int *score, char **comment,
                          char *msg, size_t msglen)
{
    *score = 0;
    *comment = NULL;
    if (!json)
        return parse_form(body ? body : "", body ? len : 0, score, comment, msg, msglen);
    json_object *o = og_json_parse_strict(body ? body : "", body ? len : 0, OG_JSON_UTF8, NULL);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        snprintf(msg, msglen, "the body is not one JSON object");
        return OG_ERR_INVALID;
    }
    og_err e = OG_OK;
    json_object *sc = NULL, *cm = NULL;
    json_object_object_foreach(o, key, val)
    {
        if (!strcmp(key, "score"))
            sc = val;
        else if (!strcmp(key, "comment"))
            cm = val;
        else {
            snprintf(msg, msglen, "%s: unknown field (score, comment)", key);
            e = OG_ERR_INVALID;
        }
    }
    if (e == OG_OK && (!sc || !json_object_is_type(sc, json_type_int) ||
                       json_object_get_int64(sc) < 1 || json_object_get_int64(sc) > 9)) {
        snprintf(msg, msglen, "score: a whole number on the survey's scale");
        e = OG_ERR_INVALID;
    }
    if (e == OG_OK && cm && !json_object_is_type(cm, json_type_null) &&
        !json_object_is_type(cm, json_type_string)) {
        snprintf(msg, msglen, "comment: a string or null");
        e = OG_ERR_INVALID;
    }
    if (e == OG_OK) {
        *score = (int)json_object_get_int64(sc);
        if (cm && json_object_is_type(cm, json_type_string)) {
            const char *cs = json_object_get_string(cm);
            size_t cl = (size_t)json_object_get_string_len(cm);
            if (strlen(cs) != cl) {
                snprintf(msg, msglen, "comment: no NUL characters");
                e = OG_ERR_INVALID;
            } else {
                *comment = og_strndup(cs, cl);
            }
        }
        if (e == OG_OK)
            e = check_comment(comment, msg, msglen);
    }
    json_object_put(o);
    return e;
}
