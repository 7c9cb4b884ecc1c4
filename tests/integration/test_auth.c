/* test_auth - sign-in in the core (core/og_auth.c, core/lua/auth.lua) on a
 * real redis-server, without HTTP:
 *   - passwords: argon2id with a salt per hash (two hashes of one password
 *     differ, both verify), a wrong password fails, shorter than 10
 *     characters (code points, not bytes) is refused and changes nothing,
 *     only the digest-free encoded hash is stored on the agent;
 *   - sign-in: right password -> a 43-character session id stored only as
 *     its SHA-256, whose CSRF token verifies for it and not for another;
 *     wrong password and unknown e-mail answer the same error;
 *   - rate limits per account and per client address, kept in Redis so a
 *     second core (another instance) enforces them; the right password is
 *     refused too while an account is locked; the window ends;
 *   - cookie lifetime: idle expiry, renewal by use, absolute expiry;
 *     revocation by sign-out, by a new password, by revoke-all and by
 *     deleting the agent; a session made by one core is accepted by another;
 *   - one-time links: a token works once, a short password keeps it usable,
 *     a new link replaces the old one, an unknown token counts as a failure
 *     of the address. */
#include "og_agents.h"
#include "og_auth.h"
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct og_test_redis rs;

static struct og_core *core_with(const struct og_auth_opts *ao)
{
    struct og_core_opts co = {.redis_url = rs.url, .pool_size = 2, .prefix = "og", .auth = ao};
    char err[256];
    struct og_core *c = og_core_new(&co, err, sizeof err);
    if (!c)
        fprintf(stderr, "og_core_new: %s\n", err);
    return c;
}

static char *cli(const char *args)
{
    char *o = og_test_redis_cli(&rs, args);
    if (o)
        o[strcspn(o, "\r\n")] = 0;
    return o ? o : og_strdup("");
}

/* Creates an agent (through the agent store) and returns its id. */
static void agent(struct og_core *c, const char *email, char id[48])
{
    json_object *j = json_object_new_object();
    json_object_object_add(j, "email", json_object_new_string(email));
    struct og_agent_fields f;
    char err[160];
    CHECK_INT(og_agents_fields_from_json(j, 1, &f, err, sizeof err), 0);
    og_id_new("agt_", og_now_ms(), id, 48);
    struct og_routing_result res;
    og_agents_put(c, "create", id, NULL, &f, &res);
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
    og_agent_fields_free(&f);
    json_object_put(j);
}

static void test_hashing(void)
{
    char a[160], b[160], msg[128];
    CHECK_INT(og_auth_hash("correct horse battery", a, sizeof a), OG_OK);
    CHECK_INT(og_auth_hash("correct horse battery", b, sizeof b), OG_OK);
    CHECK(strncmp(a, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    CHECK(strcmp(a, b) != 0); /* a salt per hash */
    CHECK(og_auth_verify(a, "correct horse battery"));
    CHECK(og_auth_verify(b, "correct horse battery"));
    CHECK(!og_auth_verify(a, "correct horse batterY"));
    CHECK(!og_auth_verify("$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaA", "x"));
    CHECK(!og_auth_verify("", "correct horse battery"));
    CHECK_INT(og_auth_password_check("123456789", msg, sizeof msg), -1);
    CHECK(strstr(msg, "at least 10") != NULL);
    CHECK_INT(og_auth_password_check("1234567890", msg, sizeof msg), 0);
    /* 9 characters in 18 bytes: still too short */
    CHECK_INT(og_auth_password_check("ééééééééé", msg, sizeof msg), -1);
    CHECK_INT(og_auth_password_check("éééééééééé", msg, sizeof msg), 0);
    char *big = og_calloc(OG_AUTH_PASSWORD_MAX + 2, 1);
    memset(big, 'x', OG_AUTH_PASSWORD_MAX + 1);
    CHECK_INT(og_auth_password_check(big, msg, sizeof msg), -1);
    free(big);
}

static void test_signin(struct og_core *c, struct og_core *c2)
{
    char ann[48], msg[160];
    agent(c, "ann@auth.io", ann);
    struct og_auth_signin si;
    int64_t wait = 0;
    /* no password yet: the same failure as a wrong one */
    CHECK_INT(og_auth_login(c, "ann@auth.io", "whatever-long", "10.0.0.1", &si, &wait),
              OG_ERR_AUTH);
    /* a short password is refused and nothing is stored */
    CHECK_INT(og_auth_set_password(c, ann, "short", NULL, msg, sizeof msg), OG_ERR_INVALID);
    char *cmd = og_sprintf("HGET {og}:agent:%s pw", ann);
    char *pw = cli(cmd);
    CHECK_STR(pw, "");
    free(pw);
    long revoked = -1;
    CHECK_INT(og_auth_set_password(c, ann, "ann's long password", &revoked, msg, sizeof msg),
              OG_OK);
    CHECK_INT(revoked, 0);
    pw = cli(cmd);
    CHECK(strncmp(pw, "$argon2id$", 10) == 0);
    CHECK(strstr(pw, "ann's") == NULL);
    free(pw), free(cmd);
    CHECK_INT(og_auth_set_password(c, "agt_01NOSUCHAGENT0000000000000", "long enough pw", NULL, msg,
                                   sizeof msg),
              OG_ERR_NOT_FOUND);

    CHECK_INT(og_auth_login(c, "ann@auth.io", "ann's long password", "10.0.0.1", &si, &wait),
              OG_OK);
    CHECK_INT(strlen(si.sid), OG_AUTH_ID_LEN);
    CHECK_STR(si.agent_id, ann);
    CHECK(og_auth_csrf_ok(si.sid, si.csrf));
    CHECK(!og_auth_csrf_ok(si.sid, ""));
    CHECK(!og_auth_csrf_ok(si.sid, "x"));
    /* the id itself is nowhere in Redis, only its SHA-256 */
    char *keys = og_test_redis_cli(&rs, "KEYS {og}:auth:ses:*");
    CHECK(keys && strstr(keys, si.sid) == NULL);
    unsigned char d[32];
    char hex[65];
    og_sha256(si.sid, strlen(si.sid), d);
    og_hex_encode(d, 32, hex, sizeof hex);
    CHECK(keys && strstr(keys, hex) != NULL);
    free(keys);

    /* the session, from this core and from another instance's */
    struct og_agent_auth a;
    char sha[65];
    CHECK_INT(og_auth_session(c, si.sid, &a, sha), OG_OK);
    CHECK_STR(a.id, ann);
    CHECK_STR(a.role, "agent");
    CHECK_STR(sha, hex);
    og_agent_auth_free(&a);
    CHECK_INT(og_auth_session(c2, si.sid, &a, NULL), OG_OK);
    og_agent_auth_free(&a);
    /* a different login, a different session and CSRF token */
    struct og_auth_signin si2;
    CHECK_INT(og_auth_login(c2, "ANN@auth.io", "ann's long password", "10.0.0.1", &si2, &wait),
              OG_ERR_AUTH); /* e-mails are looked up as stored */
    CHECK_INT(og_auth_login(c2, "ann@auth.io", "ann's long password", "10.0.0.1", &si2, &wait),
              OG_OK);
    CHECK(strcmp(si.sid, si2.sid) != 0);
    CHECK(!og_auth_csrf_ok(si.sid, si2.csrf));
    /* malformed and unknown cookies */
    CHECK_INT(og_auth_session(c, "nope", &a, NULL), OG_ERR_AUTH);
    CHECK_INT(og_auth_session(c, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &a, NULL),
              OG_ERR_AUTH);

    /* sign-out ends that session only */
    CHECK_INT(og_auth_logout(c, sha), OG_OK);
    CHECK_INT(og_auth_session(c2, si.sid, &a, NULL), OG_ERR_AUTH);
    CHECK(!og_auth_session_alive(c, sha));
    CHECK_INT(og_auth_session(c, si2.sid, &a, NULL), OG_OK);
    og_agent_auth_free(&a);
    /* a new password ends every other session */
    CHECK_INT(og_auth_set_password(c, ann, "ann's newer password", &revoked, msg, sizeof msg),
              OG_OK);
    CHECK_INT(revoked, 1);
    CHECK_INT(og_auth_session(c, si2.sid, &a, NULL), OG_ERR_AUTH);
    CHECK_INT(og_auth_login(c, "ann@auth.io", "ann's long password", "10.0.0.1", &si, &wait),
              OG_ERR_AUTH);
    CHECK_INT(og_auth_login(c, "ann@auth.io", "ann's newer password", "10.0.0.1", &si, &wait),
              OG_OK);
    /* revoke-all */
    long n = 0;
    CHECK_INT(og_auth_revoke_all(c, ann, &n), OG_OK);
    CHECK_INT(n, 1);
    CHECK_INT(og_auth_session(c, si.sid, &a, NULL), OG_ERR_AUTH);
    /* deleting the agent ends its sessions */
    CHECK_INT(og_auth_login(c, "ann@auth.io", "ann's newer password", "10.0.0.1", &si, &wait),
              OG_OK);
    struct og_routing_result res;
    og_agents_delete(c, ann, &res);
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
    CHECK_INT(og_auth_session(c, si.sid, &a, NULL), OG_ERR_AUTH);
    char *left = og_test_redis_cli(&rs, "KEYS {og}:auth:ses:*");
    CHECK(left && strlen(left) < 2); /* nothing of ann's is left */
    free(left);
}

static void test_limits(struct og_core *c, struct og_core *c2)
{
    char bob[48], msg[160];
    agent(c, "bob@auth.io", bob);
    CHECK_INT(og_auth_set_password(c, bob, "bob's long password", NULL, msg, sizeof msg), OG_OK);
    struct og_auth_signin si;
    int64_t wait = 0;
    /* 3 failures per account (this core's options), alternating instances */
    for (int i = 0; i < 3; i++)
        CHECK_INT(
            og_auth_login(i % 2 ? c2 : c, "bob@auth.io", "wrong password", "10.0.0.2", &si, &wait),
            OG_ERR_AUTH);
    CHECK_INT(og_auth_login(c2, "bob@auth.io", "bob's long password", "10.0.0.3", &si, &wait),
              OG_ERR_RATE_LIMITED);
    CHECK(wait >= 1 && wait <= 2);
    CHECK(si.sid[0] == 0);
    /* an unknown e-mail is limited the same way: nothing tells them apart */
    for (int i = 0; i < 3; i++)
        CHECK_INT(og_auth_login(c, "nobody@auth.io", "wrong password", "10.0.0.4", &si, &wait),
                  OG_ERR_AUTH);
    CHECK_INT(og_auth_login(c, "nobody@auth.io", "wrong password", "10.0.0.5", &si, &wait),
              OG_ERR_RATE_LIMITED);
    /* per address: 5 failures from 10.0.0.9 over several accounts */
    const char *who[] = {"a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io"};
    for (int i = 0; i < 5; i++)
        CHECK_INT(og_auth_login(c, who[i], "wrong password", "10.0.0.9", &si, &wait), OG_ERR_AUTH);
    CHECK_INT(og_auth_login(c, "f@x.io", "wrong password", "10.0.0.9", &si, &wait),
              OG_ERR_RATE_LIMITED);
    /* the window (2 s) ends: bob signs in, which clears his account count */
    sleep(2);
    usleep(200000);
    CHECK_INT(og_auth_login(c, "bob@auth.io", "bob's long password", "10.0.0.9", &si, &wait),
              OG_OK);
    CHECK_INT(og_auth_login(c, "bob@auth.io", "wrong password", "10.0.0.9", &si, &wait),
              OG_ERR_AUTH);
    CHECK_INT(og_auth_login(c, "bob@auth.io", "bob's long password", "10.0.0.9", &si, &wait),
              OG_OK);
}

static void test_lifetime(struct og_core *c)
{
    char cy[48], msg[160];
    agent(c, "cy@auth.io", cy);
    CHECK_INT(og_auth_set_password(c, cy, "cy's long password", NULL, msg, sizeof msg), OG_OK);
    struct og_auth_signin si;
    struct og_agent_auth a;
    int64_t wait;
    /* idle 2 s, absolute 5 s: used every second it lives on past 2 s ... */
    CHECK_INT(og_auth_login(c, "cy@auth.io", "cy's long password", "10.1.0.1", &si, &wait), OG_OK);
    CHECK_INT(si.max_age_s, 5);
    for (int i = 0; i < 3; i++) {
        usleep(900000);
        CHECK_INT(og_auth_session(c, si.sid, &a, NULL), OG_OK);
        og_agent_auth_free(&a);
    }
    /* ... until its absolute end */
    for (int i = 0; i < 3; i++) {
        usleep(900000);
        og_auth_session(c, si.sid, &a, NULL);
        og_agent_auth_free(&a);
    }
    CHECK_INT(og_auth_session(c, si.sid, &a, NULL), OG_ERR_AUTH);
    /* unused, it ends after the idle lifetime */
    CHECK_INT(og_auth_login(c, "cy@auth.io", "cy's long password", "10.1.0.1", &si, &wait), OG_OK);
    usleep(2300000);
    CHECK_INT(og_auth_session(c, si.sid, &a, NULL), OG_ERR_AUTH);
}

static void test_links(struct og_core *c)
{
    char dee[48], msg[160], tok[OG_AUTH_ID_LEN + 1], tok2[OG_AUTH_ID_LEN + 1], exp[32], who[48];
    agent(c, "dee@auth.io", dee);
    int64_t wait;
    CHECK_INT(og_auth_link_new(c, dee, "invite", tok, exp), OG_OK);
    CHECK_INT(strlen(tok), OG_AUTH_ID_LEN);
    CHECK(og_time_parse(exp, NULL) > og_now_ms());
    char *keys = og_test_redis_cli(&rs, "KEYS {og}:auth:link:*");
    CHECK(keys && strstr(keys, tok) == NULL);
    free(keys);
    /* too short: refused, the link stays usable */
    CHECK_INT(og_auth_link_use(c, tok, "short", "10.2.0.1", who, &wait, msg, sizeof msg),
              OG_ERR_INVALID);
    CHECK(strstr(msg, "at least 10") != NULL);
    /* a new link replaces the old one */
    CHECK_INT(og_auth_link_new(c, dee, "reset", tok2, exp), OG_OK);
    CHECK_INT(
        og_auth_link_use(c, tok, "dee's long password", "10.2.0.1", who, &wait, msg, sizeof msg),
        OG_ERR_NOT_FOUND);
    CHECK_INT(
        og_auth_link_use(c, tok2, "dee's long password", "10.2.0.1", who, &wait, msg, sizeof msg),
        OG_OK);
    CHECK_STR(who, dee);
    struct og_auth_signin si;
    CHECK_INT(og_auth_login(c, "dee@auth.io", "dee's long password", "10.2.0.1", &si, &wait),
              OG_OK);
    /* once only: the second use fails and the password stays */
    CHECK_INT(
        og_auth_link_use(c, tok2, "someone else's pw", "10.2.0.1", who, &wait, msg, sizeof msg),
        OG_ERR_NOT_FOUND);
    CHECK_INT(og_auth_login(c, "dee@auth.io", "dee's long password", "10.2.0.1", &si, &wait),
              OG_OK);
    /* guessing tokens counts against the address: 5 failures, then 429 */
    for (int i = 0; i < 3; i++)
        CHECK_INT(og_auth_link_use(c, i ? "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" : "garbage",
                                   "long enough pw", "10.2.0.1", who, &wait, msg, sizeof msg),
                  OG_ERR_NOT_FOUND);
    CHECK_INT(og_auth_link_use(c, tok2, "long enough pw", "10.2.0.1", who, &wait, msg, sizeof msg),
              OG_ERR_RATE_LIMITED);
    CHECK(wait >= 1);
    CHECK_INT(og_auth_link_new(c, "agt_01NOSUCHAGENT0000000000000", "reset", tok, exp),
              OG_ERR_NOT_FOUND);
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0) {
        fprintf(stderr, "cannot start redis-server\n");
        return 1;
    }
    struct og_auth_opts ao = {.idle_s = 2,
                              .absolute_s = 5,
                              .account_max_failures = 3,
                              .ip_max_failures = 5,
                              .window_s = 2,
                              .link_ttl_s = 60};
    struct og_core *c = core_with(&ao), *c2 = core_with(&ao);
    CHECK(c && c2);
    if (c && c2) {
        test_hashing();
        test_signin(c, c2);
        test_limits(c, c2);
        test_lifetime(c);
        test_links(c);
    }
    og_core_free(c);
    og_core_free(c2);
    og_test_redis_stop(&rs);
    return og_test_done();
}
