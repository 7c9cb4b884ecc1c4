/* og_auth - how people sign in (core/lua/auth.lua): passwords, cookie
 * sessions, sign-in rate limits and one-time password links. The gateway
 * turns these into /api/v1/auth/... and the cookie; the rules live here so
 * they are tested without HTTP.
 *
 * Passwords are hashed with argon2id (libargon2) with a random 16-byte salt
 * per password, kept on the agent as the encoded string ($argon2id$v=19$...);
 * shorter than OG_AUTH_PASSWORD_MIN characters is refused. Verification
 * compares in constant time (argon2id_verify), and an unknown e-mail costs
 * the same hash as a wrong password, so neither messages nor timing tell
 * whether an account exists.
 *
 * A cookie session is 256 random bits (the cookie value, base64url); Redis
 * keeps only its SHA-256, with an idle lifetime (renewed by use) and an
 * absolute one. Every instance on the same Redis accepts it, and revoking it
 * (sign-out, a new password, an admin's revoke) ends it everywhere. The
 * CSRF token is derived from the session id (HMAC-SHA256 keyed by it), so it
 * is bound to that one session and needs no storage.
 *
 * Sign-in attempts are limited per account and per client address: after
 * account_max_failures (ip_max_failures) failures within window_s, further
 * attempts are refused until the window ends (OG_ERR_RATE_LIMITED with the
 * seconds to wait) - before any password is hashed. */
#ifndef OG_AUTH_H
#define OG_AUTH_H
#include "og_agents.h"
#include "og_core.h"

#include <stddef.h>
#include <stdint.h>

#define OG_AUTH_COOKIE "og_session"
#define OG_AUTH_CSRF_HEADER "X-CSRF-Token"
#define OG_AUTH_PASSWORD_MIN 10   /* characters (UTF-8 code points) */
#define OG_AUTH_PASSWORD_MAX 1024 /* bytes */
#define OG_AUTH_ID_LEN 43         /* 32 random bytes, base64url without padding */

/* Lifetimes and limits; 0 in a field means its default. */
struct og_auth_opts {
    int64_t idle_s;           /* a session unused this long ends; default 12 h */
    int64_t absolute_s;       /* and in any case this long after sign-in; default 7 days */
    int account_max_failures; /* per e-mail within window_s; default 5 */
    int ip_max_failures;      /* per client address within window_s; default 20 */
    int64_t window_s;         /* default 900 */
    int64_t link_ttl_s;       /* invitation / reset links; default 72 h */
};

/* 0 when pw is acceptable as a new password, else -1 with why in msg. */
int og_auth_password_check(const char *pw, char *msg, size_t msglen);
/* argon2id of pw with a fresh random salt, encoded (with parameters and
 * salt) into out (>= 128 bytes). */
og_err og_auth_hash(const char *pw, char *out, size_t outsz);
/* 1 when pw matches the encoded hash (constant time), else 0. */
int og_auth_verify(const char *encoded, const char *pw);

/* Sets an agent's password (checked first: OG_ERR_INVALID with msg) and ends
 * every cookie session the agent had (*revoked counts them; may be NULL).
 * OG_ERR_NOT_FOUND: no such agent. */
og_err og_auth_set_password(struct og_core *c, const char *agent_id, const char *pw, long *revoked,
                            char *msg, size_t msglen);

/* A successful sign-in. */
struct og_auth_signin {
    char sid[OG_AUTH_ID_LEN + 1];  /* the cookie value: give it to the client only */
    char csrf[OG_AUTH_ID_LEN + 1]; /* the session's CSRF token */
    char agent_id[48];
    int64_t max_age_s; /* the absolute lifetime (cookie Max-Age) */
};
/* Signs in with e-mail and password from client_ip (text form). OG_OK;
 * OG_ERR_AUTH for a wrong e-mail or password (one answer for both);
 * OG_ERR_RATE_LIMITED with *retry_after_s; OG_ERR_UNAVAILABLE. */
og_err og_auth_login(struct og_core *c, const char *email, const char *pw, const char *client_ip,
                     struct og_auth_signin *out, int64_t *retry_after_s);

/* The agent behind a cookie value (as og_agents_auth answers for a token;
 * free with og_agent_auth_free), renewing its idle lifetime. OG_ERR_AUTH for
 * an unknown, expired, revoked or malformed one; sid_sha (may be NULL) gets
 * the hex SHA-256 the session is stored under. */
og_err og_auth_session(struct og_core *c, const char *sid, struct og_agent_auth *a,
                       char sid_sha[65]);
/* 1 when the session stored under sid_sha still exists. */
int og_auth_session_alive(struct og_core *c, const char *sid_sha);
/* The CSRF token of a session id (base64url), and its check (constant time). */
void og_auth_csrf(const char *sid, char out[OG_AUTH_ID_LEN + 1]);
int og_auth_csrf_ok(const char *sid, const char *token);

/* Ends one session (sign-out), by its hex SHA-256. */
og_err og_auth_logout(struct og_core *c, const char *sid_sha);
/* Ends every session of an agent; *n (may be NULL) how many. */
og_err og_auth_revoke_all(struct og_core *c, const char *agent_id, long *n);

/* A one-time link to set a password: purpose "invite" or "reset". token
 * gets the secret (only its hash is stored; a new link replaces the agent's
 * previous one), expires_at its end (RFC 3339). OG_ERR_NOT_FOUND: no agent. */
og_err og_auth_link_new(struct og_core *c, const char *agent_id, const char *purpose,
                        char token[OG_AUTH_ID_LEN + 1], char expires_at[32]);
/* Uses a link once: sets the password (checked: OG_ERR_INVALID with msg)
 * and ends the agent's sessions. OG_ERR_NOT_FOUND for an unknown, used or
 * expired link, which counts as a failure of client_ip (the per-address
 * limit: OG_ERR_RATE_LIMITED with *retry_after_s). agent_id (may be NULL,
 * >= 48 bytes) gets whose password it was. */
og_err og_auth_link_use(struct og_core *c, const char *token, const char *pw, const char *client_ip,
                        char *agent_id, int64_t *retry_after_s, char *msg, size_t msglen);
#endif
