/* og_auth - see og_auth.h. */
#include "og_auth.h"
#include "og_core_int.h"
#include "og_log.h"
#include "og_util.h"

#include <argon2.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* argon2id cost: OWASP's minimum for argon2id (19 MiB, 2 passes, one lane),
 * about 30 ms here; a 16-byte salt and a 32-byte hash. */
#define T_COST 2
#define M_COST_KIB 19456
#define LANES 1
#define SALT_LEN 16
#define HASH_LEN 32
/* A session's idle lifetime is renewed at most this often. */
#define REFRESH_MS 60000

/* ------------------------------------------------------------- passwords */

int og_auth_password_check(const char *pw, char *msg, size_t msglen)
{
    size_t bytes = pw ? strlen(pw) : 0, chars = 0;
    for (size_t i = 0; i < bytes; i++)
        chars += ((unsigned char)pw[i] & 0xC0) != 0x80; /* count code points, not bytes */
    if (chars < OG_AUTH_PASSWORD_MIN) {
        snprintf(msg, msglen, "password: must be at least %d characters", OG_AUTH_PASSWORD_MIN);
        return -1;
    }
    if (bytes > OG_AUTH_PASSWORD_MAX) {
        snprintf(msg, msglen, "password: must be at most %d bytes", OG_AUTH_PASSWORD_MAX);
        return -1;
    }
    return 0;
}

og_err og_auth_hash(const char *pw, char *out, size_t outsz)
{
    unsigned char salt[SALT_LEN];
    og_random_bytes(salt, sizeof salt);
    int rc = argon2id_hash_encoded(T_COST, M_COST_KIB, LANES, pw, strlen(pw), salt, sizeof salt,
                                   HASH_LEN, out, outsz);
    if (rc != ARGON2_OK) {
        og_error("auth: argon2id: %s", argon2_error_message(rc));
        return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? OG_ERR_NOMEM : OG_ERR_INTERNAL;
    }
    return OG_OK;
}

int og_auth_verify(const char *encoded, const char *pw)
{
    if (!encoded || strncmp(encoded, "$argon2id$", 10) != 0)
        return 0;
    return argon2id_verify(encoded, pw, strlen(pw)) == ARGON2_OK;
}

/* The same work as a verification, for an account that does not exist or
 * has no password: the answer must not come back sooner than for a wrong
 * password. */
static void burn_verify(const char *pw)
{
    static const unsigned char salt[SALT_LEN] = "omnigate-nobody";
    unsigned char out[HASH_LEN];
    argon2id_hash_raw(T_COST, M_COST_KIB, LANES, pw, strlen(pw), salt, sizeof salt, out,
                      sizeof out);
}

/* ---------------------------------------------------------------- tokens */

/* 32 random bytes as base64url without padding. */
static void random_id(char out[OG_AUTH_ID_LEN + 1])
{
    unsigned char rnd[32];
    char b64[48];
    og_random_bytes(rnd, sizeof rnd);
    size_t n = og_base64_encode(rnd, sizeof rnd, b64, sizeof b64), o = 0;
    for (size_t i = 0; i < n && o < OG_AUTH_ID_LEN && b64[i] != '='; i++)
        out[o++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    out[o] = 0;
}

static void sha_hex(const char *s, char out[65])
{
    unsigned char d[32];
    og_sha256(s, strlen(s), d);
    og_hex_encode(d, sizeof d, out, 65);
}

/* A cookie value or link token has exactly our shape; anything else is
 * refused before Redis is asked. */
static int id_shape_ok(const char *s)
{
    if (!s || strlen(s) != OG_AUTH_ID_LEN)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return 0;
    return 1;
}

void og_auth_csrf(const char *sid, char out[OG_AUTH_ID_LEN + 1])
{
    static const char label[] = "omnigate csrf v1";
    unsigned char mac[32];
    char b64[48];
    og_hmac_sha256(sid, strlen(sid), label, sizeof label - 1, mac);
    size_t n = og_base64_encode(mac, sizeof mac, b64, sizeof b64), o = 0;
    for (size_t i = 0; i < n && o < OG_AUTH_ID_LEN && b64[i] != '='; i++)
        out[o++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    out[o] = 0;
}

int og_auth_csrf_ok(const char *sid, const char *token)
{
    char want[OG_AUTH_ID_LEN + 1];
    if (!sid || !token)
        return 0;
    og_auth_csrf(sid, want);
    /* compare digests: constant time whatever the token's length */
    unsigned char a[32], b[32];
    og_sha256(want, strlen(want), a);
    og_sha256(token, strlen(token), b);
    return og_ct_equal(a, sizeof a, b, sizeof b);
}

/* ------------------------------------------------------------ the script */

static const struct og_auth_opts *opts(struct og_core *c)
{
    return &c->auth;
}

static og_err call(struct og_core *c, int argc, const char **argv, redisReply **r, char *msg,
                   size_t msglen)
{
    return og_script_call(c, OG_LUA_AUTH, argc, argv, NULL, r, msg, msglen);
}

/* Runs an op whose reply the caller does not need. */
static og_err call0(struct og_core *c, int argc, const char **argv, char *msg, size_t msglen)
{
    redisReply *r = NULL;
    og_err e = call(c, argc, argv, &r, msg, msglen);
    if (r)
        freeReplyObject(r);
    return e;
}

static long long int_at(const redisReply *r, size_t i)
{
    if (i >= r->elements)
        return 0;
    const redisReply *e = r->element[i];
    return e->type == REDIS_REPLY_INTEGER  ? e->integer
           : e->type == REDIS_REPLY_STRING ? atoll(e->str)
                                           : 0;
}

static const char *str_at(const redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "";
}

og_err og_auth_set_password(struct og_core *c, const char *agent_id, const char *pw, long *revoked,
                            char *msg, size_t msglen)
{
    char enc[160], now_iso[32];
    if (og_auth_password_check(pw, msg, msglen) != 0)
        return OG_ERR_INVALID;
    og_err e = og_auth_hash(pw, enc, sizeof enc);
    if (e != OG_OK)
        return e;
    og_time_rfc3339(og_now_ms(), now_iso);
    const char *argv[] = {c->tag, "pw_set", agent_id, enc, now_iso};
    redisReply *r = NULL;
    e = call(c, 5, argv, &r, msg, msglen);
    if (e == OG_OK) {
        if (revoked)
            *revoked = (long)int_at(r, 1);
        freeReplyObject(r);
    }
    return e;
}

/* The rate-limit key of an account: the SHA-256 of its lower-cased e-mail
 * (bounded length, and the same account however it is typed). */
static void account_key(const char *email, char out[65])
{
    char *low = og_strdup(email);
    for (char *p = low; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    sha_hex(low, out);
    free(low);
}

static og_err record_failure(struct og_core *c, const char *acct, const char *ip)
{
    char window[24];
    snprintf(window, sizeof window, "%lld", (long long)opts(c)->window_s * 1000);
    const char *argv[] = {c->tag, "fail", acct, ip, window};
    return call0(c, 5, argv, NULL, 0);
}

/* Asks whether acct / ip may try now; *wait_s > 0 when not. id and pw get
 * the e-mail's agent and password hash ("" when none) [xfer]. */
static og_err begin(struct og_core *c, const char *acct, const char *ip, const char *email,
                    int64_t *wait_s, char **id, char **pw)
{
    char amax[16], imax[16];
    snprintf(amax, sizeof amax, "%d", opts(c)->account_max_failures);
    snprintf(imax, sizeof imax, "%d", opts(c)->ip_max_failures);
    const char *argv[] = {c->tag, "begin", acct, ip, amax, imax, email};
    redisReply *r = NULL;
    *id = *pw = NULL;
    og_err e = call(c, 7, argv, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    long long wait_ms = int_at(r, 1);
    *wait_s = wait_ms > 0 ? (wait_ms + 999) / 1000 : 0;
    *id = og_strdup(str_at(r, 2));
    *pw = og_strdup(str_at(r, 3));
    freeReplyObject(r);
    return OG_OK;
}

og_err og_auth_login(struct og_core *c, const char *email, const char *pw, const char *client_ip,
                     struct og_auth_signin *out, int64_t *retry_after_s)
{
    memset(out, 0, sizeof *out);
    *retry_after_s = 0;
    char acct[65], *id = NULL, *hash = NULL;
    account_key(email, acct);
    og_err e = begin(c, acct, client_ip, email, retry_after_s, &id, &hash);
    if (e == OG_OK && *retry_after_s > 0)
        e = OG_ERR_RATE_LIMITED;
    if (e != OG_OK)
        goto out;
    int ok = *hash ? og_auth_verify(hash, pw) : (burn_verify(pw), 0);
    if (!ok || !*id) {
        e = record_failure(c, acct, client_ip);
        e = e == OG_OK ? OG_ERR_AUTH : e;
        goto out;
    }
    random_id(out->sid);
    char sha[65], now[24], idle[24], abs[24];
    sha_hex(out->sid, sha);
    snprintf(now, sizeof now, "%lld", (long long)og_now_ms());
    snprintf(idle, sizeof idle, "%lld", (long long)opts(c)->idle_s * 1000);
    snprintf(abs, sizeof abs, "%lld", (long long)opts(c)->absolute_s * 1000);
    const char *argv[] = {c->tag, "login", id, sha, now, idle, abs, acct};
    e = call0(c, 8, argv, NULL, 0);
    if (e == OG_OK) {
        og_auth_csrf(out->sid, out->csrf);
        snprintf(out->agent_id, sizeof out->agent_id, "%s", id);
        out->max_age_s = opts(c)->absolute_s;
    } else {
        memset(out, 0, sizeof *out);
    }
out:
    free(id);
    free(hash);
    return e;
}

og_err og_auth_session(struct og_core *c, const char *sid, struct og_agent_auth *a,
                       char sid_sha[65])
{
    memset(a, 0, sizeof *a);
    if (!id_shape_ok(sid))
        return OG_ERR_AUTH;
    char sha[65], now[24], idle[24], refresh[24];
    sha_hex(sid, sha);
    if (sid_sha)
        memcpy(sid_sha, sha, 65);
    snprintf(now, sizeof now, "%lld", (long long)og_now_ms());
    snprintf(idle, sizeof idle, "%lld", (long long)opts(c)->idle_s * 1000);
    /* renewing at most every REFRESH_MS, but often enough for a short idle
     * lifetime (tests) to matter */
    long long rf = opts(c)->idle_s * 1000 / 4;
    snprintf(refresh, sizeof refresh, "%lld", rf < REFRESH_MS ? rf : REFRESH_MS);
    const char *argv[] = {c->tag, "session", sha, now, idle, refresh};
    redisReply *r = NULL;
    og_err e = call(c, 6, argv, &r, NULL, 0);
    if (e != OG_OK)
        return e;
    snprintf(a->id, sizeof a->id, "%s", str_at(r, 1));
    snprintf(a->role, sizeof a->role, "%s", str_at(r, 2));
    a->groups_json = og_strdup(str_at(r, 3));
    a->allowed_ips_json = og_strdup(str_at(r, 4));
    freeReplyObject(r);
    return OG_OK;
}

int og_auth_session_alive(struct og_core *c, const char *sid_sha)
{
    redisReply *r = NULL;
    if (og_redis_cmd(c->redis, &r, "EXISTS " OG_KEY_AUTH_SES, c->tag, sid_sha) != OG_OK)
        return 1; /* Redis down: not a reason to cut anyone off */
    int alive = r->type != REDIS_REPLY_INTEGER || r->integer == 1;
    freeReplyObject(r);
    return alive;
}

og_err og_auth_logout(struct og_core *c, const char *sid_sha)
{
    const char *argv[] = {c->tag, "logout", sid_sha};
    return call0(c, 3, argv, NULL, 0);
}

og_err og_auth_revoke_all(struct og_core *c, const char *agent_id, long *n)
{
    const char *argv[] = {c->tag, "revoke", agent_id};
    redisReply *r = NULL;
    og_err e = call(c, 3, argv, &r, NULL, 0);
    if (e == OG_OK) {
        if (n)
            *n = (long)int_at(r, 1);
        freeReplyObject(r);
    }
    return e;
}

og_err og_auth_link_new(struct og_core *c, const char *agent_id, const char *purpose,
                        char token[OG_AUTH_ID_LEN + 1], char expires_at[32])
{
    char sha[65], ttl[24], now_iso[32];
    int64_t now = og_now_ms(), ttl_ms = opts(c)->link_ttl_s * 1000;
    random_id(token);
    sha_hex(token, sha);
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    og_time_rfc3339(now, now_iso);
    og_time_rfc3339(now + ttl_ms, expires_at);
    const char *argv[] = {c->tag, "link", agent_id, sha, purpose, ttl, now_iso};
    og_err e = call0(c, 7, argv, NULL, 0);
    if (e != OG_OK)
        token[0] = expires_at[0] = 0;
    return e;
}

og_err og_auth_link_use(struct og_core *c, const char *token, const char *pw, const char *client_ip,
                        char *agent_id, int64_t *retry_after_s, char *msg, size_t msglen)
{
    char *id = NULL, *hash = NULL, enc[160], sha[65], now_iso[32];
    *retry_after_s = 0;
    if (msg && msglen)
        msg[0] = 0;
    /* only the address limit applies: a link names no account */
    og_err e = begin(c, "", client_ip, "", retry_after_s, &id, &hash);
    free(id), free(hash);
    if (e == OG_OK && *retry_after_s > 0)
        return OG_ERR_RATE_LIMITED;
    if (e != OG_OK)
        return e;
    if (!id_shape_ok(token)) {
        e = record_failure(c, "", client_ip);
        snprintf(msg, msglen, "this link is unknown, used or expired; ask an admin for a new one");
        return e == OG_OK ? OG_ERR_NOT_FOUND : e;
    }
    if (og_auth_password_check(pw, msg, msglen) != 0)
        return OG_ERR_INVALID; /* the link stays usable */
    if ((e = og_auth_hash(pw, enc, sizeof enc)) != OG_OK)
        return e;
    sha_hex(token, sha);
    og_time_rfc3339(og_now_ms(), now_iso);
    const char *argv[] = {c->tag, "link_use", sha, enc, now_iso};
    redisReply *r = NULL;
    e = call(c, 5, argv, &r, msg, msglen);
    if (e == OG_OK) {
        if (agent_id)
            snprintf(agent_id, 48, "%s", str_at(r, 1));
        freeReplyObject(r);
    } else if (e == OG_ERR_NOT_FOUND) {
        og_err f = record_failure(c, "", client_ip);
        if (f != OG_OK)
            e = f;
    }
    return e;
}

void og_auth_opts_defaults(struct og_auth_opts *o)
{
    if (o->idle_s <= 0)
        o->idle_s = 12 * 3600;
    if (o->absolute_s <= 0)
        o->absolute_s = 7 * 86400;
    if (o->account_max_failures <= 0)
        o->account_max_failures = 5;
    if (o->ip_max_failures <= 0)
        o->ip_max_failures = 20;
    if (o->window_s <= 0)
        o->window_s = 900;
    if (o->link_ttl_s <= 0)
        o->link_ttl_s = 72 * 3600;
}
