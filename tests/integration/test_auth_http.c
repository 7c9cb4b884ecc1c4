/* test_auth_http - sign-in through the daemon (gateway/og_api_auth.c, the
 * cookie in og_api.c and og_sse.c, `omnigate passwd`), two instances on one
 * real redis-server:
 *   - PUT /agents/{id}/password: short, missing, unknown field, wrong type,
 *     not JSON, an agent's token, an unknown agent: refused, nothing stored;
 *   - POST /auth/login: wrong password and unknown e-mail give the same 401
 *     and no cookie; the right one sets og_session (HttpOnly, SameSite=Strict,
 *     Path=/, no Secure on http) and answers the agent and its CSRF token;
 *   - the cookie on /api/v1 (and at the other instance); a change without
 *     X-CSRF-Token or with a wrong one is 403 csrf_invalid and changes
 *     nothing; allowed_ips applies to the cookie; another agent's session by
 *     URL is 404 and stays as it was;
 *   - GET /api/v1/events with the cookie streams the agent's events and ends
 *     after sign-out; sign-out, an expired cookie, a forged one: 401;
 *   - a new password ends the agent's sessions; DELETE /agents/{id}/sessions;
 *   - one-time links: short password refused (link still good), used once,
 *     then 404;
 *   - rate limits: 429 with Retry-After per account (even with the right
 *     password), then per address;
 *   - `omnigate passwd EMAIL` from standard input: creates an admin, sets a
 *     password, refuses a short one. */
#include "og_test.h"
#include "og_util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define JSON_CT "Content-Type: application/json"

static struct og_test_redis rs;
static struct og_test_daemon d1, d2;

struct res {
    long status;
    struct og_buf body, hdrs;
    json_object *j; /* the body parsed, or NULL */
};

static size_t on_body(char *p, size_t s, size_t n, void *ud)
{
    og_buf_append(ud, p, s * n);
    return s * n;
}

static void res_free(struct res *r)
{
    og_buf_free(&r->body);
    og_buf_free(&r->hdrs);
    json_object_put(r->j);
}

/* One request. auth: "Bearer TOKEN", "cookie=VALUE", or NULL; csrf: the
 * X-CSRF-Token value or NULL; ct: 1 to send Content-Type application/json. */
static struct res req(struct og_test_daemon *d, const char *method, const char *path,
                      const char *auth, const char *csrf, const char *body, int ct)
{
    struct res r = {0};
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    char line[512], url[512];
    snprintf(url, sizeof url, "%s/api/v1%s", d->base, path);
    if (auth && strncmp(auth, "Bearer ", 7) == 0) {
        snprintf(line, sizeof line, "Authorization: %s", auth);
        h = curl_slist_append(h, line);
    } else if (auth && strncmp(auth, "cookie=", 7) == 0) {
        snprintf(line, sizeof line, "Cookie: og_session=%s", auth + 7);
        h = curl_slist_append(h, line);
    }
    if (csrf) {
        snprintf(line, sizeof line, "X-CSRF-Token: %s", csrf);
        h = curl_slist_append(h, line);
    }
    if (ct)
        h = curl_slist_append(h, JSON_CT);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    og_buf_append(&r.body, "", 0);
    og_buf_append(&r.hdrs, "", 0);
    r.j = json_tokener_parse(r.body.data);
    return r;
}

static struct res admin(const char *method, const char *path, const char *body)
{
    return req(&d1, method, path, "Bearer " OG_TEST_ADMIN_TOKEN, NULL, body, 1);
}

/* A header's value [xfer] or NULL. */
static char *header(const struct res *r, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = r->hdrs.data; p && *p;) {
        const char *e = strstr(p, "\r\n");
        if (!e)
            break;
        if ((size_t)(e - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':')
            return og_strndup(p + nl + 2, (size_t)(e - p - nl - 2));
        p = e + 2;
    }
    return NULL;
}

static const char *jstr(json_object *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_object *v = o;
    for (char *k = strtok(buf, "."); k && v; k = strtok(NULL, "."))
        if (!json_object_object_get_ex(v, k, &v))
            return NULL;
    return v ? json_object_get_string(v) : NULL;
}

static void check_err(struct res *r, long status, const char *code)
{
    CHECK_INT(r->status, status);
    CHECK_STR(jstr(r->j, "error.code"), code);
}

static void create_agent(const char *body, char id[48], char tok[80])
{
    struct res r = admin("POST", "/agents", body);
    CHECK_INT(r.status, 201);
    snprintf(id, 48, "%s", jstr(r.j, "agent.id") ? jstr(r.j, "agent.id") : "");
    snprintf(tok, 80, "Bearer %s", jstr(r.j, "token") ? jstr(r.j, "token") : "");
    res_free(&r);
}

/* Signs in; sid gets "cookie=<value>", csrf the token. Returns the status. */
static long login(struct og_test_daemon *d, const char *email, const char *pw, char sid[80],
                  char csrf[64])
{
    char *b = og_sprintf("{\"email\":\"%s\",\"password\":\"%s\"}", email, pw);
    struct res r = req(d, "POST", "/auth/login", NULL, NULL, b, 1);
    free(b);
    char *sc = header(&r, "Set-Cookie");
    sid[0] = csrf[0] = 0;
    if (r.status == 200 && sc) {
        snprintf(sid, 80, "cookie=%.*s", (int)strcspn(sc + 11, ";"), sc + 11);
        snprintf(csrf, 64, "%s", jstr(r.j, "csrf_token") ? jstr(r.j, "csrf_token") : "");
    }
    long st = r.status;
    free(sc);
    res_free(&r);
    return st;
}

static char *redis_get(const char *fmt, const char *arg)
{
    char *cmd = og_sprintf(fmt, arg);
    char *o = og_test_redis_cli(&rs, cmd);
    free(cmd);
    if (o)
        o[strcspn(o, "\r\n")] = 0;
    return o ? o : og_strdup("");
}

static char ann[48], ann_tok[80], bob[48], bob_tok[80];

static void test_set_password(void)
{
    char path[96];
    snprintf(path, sizeof path, "/agents/%s/password", ann);
    struct res r = admin("PUT", path, "{\"password\":\"short\"}");
    check_err(&r, 400, "invalid_request");
    CHECK(strstr(r.body.data, "at least 10") != NULL);
    res_free(&r);
    const char *bad[] = {"{}", "{\"password\":12345678901}",
                         "{\"password\":\"long enough pw\",\"x\":1}", "[\"long enough pw\"]",
                         "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = admin("PUT", path, bad[i]);
        CHECK_INT(r.status, 400);
        res_free(&r);
    }
    r = req(&d1, "PUT", path, "Bearer " OG_TEST_ADMIN_TOKEN, NULL,
            "{\"password\":\"long enough pw\"}", 0);
    CHECK_INT(r.status, 400); /* no JSON Content-Type */
    res_free(&r);
    r = req(&d1, "PUT", path, ann_tok, NULL, "{\"password\":\"long enough pw\"}", 1);
    check_err(&r, 403, "forbidden"); /* agents do not set passwords */
    res_free(&r);
    char *pw = redis_get("HGET {og}:agent:%s pw", ann);
    CHECK_STR(pw, "");
    free(pw);
    r = admin("PUT", "/agents/agt_01AAAAAAAAAAAAAAAAAAAAAAAA/password",
              "{\"password\":\"long enough pw\"}");
    check_err(&r, 404, "not_found");
    res_free(&r);
    r = admin("PUT", path, "{\"password\":\"ann's password\"}");
    CHECK_INT(r.status, 200);
    CHECK_STR(jstr(r.j, "agent.has_password"), "true");
    CHECK_STR(jstr(r.j, "sessions_revoked"), "0");
    res_free(&r);
    snprintf(path, sizeof path, "/agents/%s/password", bob);
    r = admin("PUT", path, "{\"password\":\"bob's password\"}");
    CHECK_INT(r.status, 200);
    res_free(&r);
}

static void test_login(char sid[80], char csrf[64])
{
    struct res w = req(&d1, "POST", "/auth/login", NULL, NULL,
                       "{\"email\":\"ann@t.io\",\"password\":\"not ann's pw\"}", 1);
    struct res u = req(&d1, "POST", "/auth/login", NULL, NULL,
                       "{\"email\":\"nobody@t.io\",\"password\":\"not ann's pw\"}", 1);
    check_err(&w, 401, "unauthorized");
    CHECK_STR(w.body.data, u.body.data); /* nothing tells the two apart */
    char *sc = header(&w, "Set-Cookie");
    CHECK(sc == NULL);
    free(sc);
    res_free(&w), res_free(&u);
    const char *bad[] = {"{\"email\":\"ann@t.io\"}", "{\"email\":1,\"password\":\"x\"}",
                         "{\"email\":\"ann@t.io\",\"password\":\"ann's password\",\"remember\":1}",
                         "", "{"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct res r = req(&d1, "POST", "/auth/login", NULL, NULL, bad[i], 1);
        CHECK_INT(r.status, 400);
        res_free(&r);
    }
    struct res r = req(&d1, "POST", "/auth/login", NULL, NULL,
                       "{\"email\":\"ann@t.io\",\"password\":\"ann's password\"}", 0);
    CHECK_INT(r.status, 400); /* a cross-site form cannot send JSON */
    res_free(&r);
    r = req(&d1, "GET", "/auth/login", NULL, NULL, NULL, 0);
    check_err(&r, 405, "method_not_allowed");
    res_free(&r);

    r = req(&d1, "POST", "/auth/login", NULL, NULL,
            "{\"email\":\"ann@t.io\",\"password\":\"ann's password\"}", 1);
    CHECK_INT(r.status, 200);
    CHECK_STR(jstr(r.j, "agent.id"), ann);
    sc = header(&r, "Set-Cookie");
    CHECK(sc && strncmp(sc, "og_session=", 11) == 0);
    CHECK(sc && strstr(sc, "; HttpOnly") && strstr(sc, "; SameSite=Strict") &&
          strstr(sc, "; Path=/"));
    CHECK(sc && !strstr(sc, "Secure")); /* public_url is not https here */
    CHECK(sc && strstr(sc, "Max-Age=604800"));
    snprintf(sid, 80, "cookie=%.*s", sc ? (int)strcspn(sc + 11, ";") : 0, sc ? sc + 11 : "");
    CHECK_INT(strlen(sid), 7 + 43);
    snprintf(csrf, 64, "%s", jstr(r.j, "csrf_token") ? jstr(r.j, "csrf_token") : "");
    CHECK_INT(strlen(csrf), 43);
    free(sc);
    res_free(&r);
}

static void test_cookie(const char *sid, const char *csrf)
{
    struct res r = req(&d1, "GET", "/auth/me", sid, NULL, NULL, 0);
    CHECK_INT(r.status, 200);
    CHECK_STR(jstr(r.j, "agent.id"), ann);
    CHECK_STR(jstr(r.j, "role"), "agent");
    CHECK_STR(jstr(r.j, "csrf_token"), csrf);
    res_free(&r);
    r = req(&d2, "GET", "/sessions", sid, NULL, NULL, 0); /* the other instance */
    CHECK_INT(r.status, 200);
    res_free(&r);
    r = req(&d1, "GET", "/meta", sid, NULL, NULL, 0);
    CHECK_INT(r.status, 200);
    CHECK_STR(jstr(r.j, "close.reasons"),
              "[ \"solved\", \"no_response\", \"transferred\", \"other\" ]");
    CHECK(strstr(r.body.data, "\"start_outbound\":true") != NULL);
    CHECK(strstr(r.body.data, "\"email\"") == NULL); /* colleagues without e-mail */
    res_free(&r);

    /* CSRF: missing, wrong, and another session's token; nothing changes */
    char path[96];
    snprintf(path, sizeof path, "/agents/%s/presence", ann);
    r = req(&d1, "PUT", path, sid, NULL, "{\"status\":\"online\"}", 1);
    check_err(&r, 403, "csrf_invalid");
    res_free(&r);
    r = req(&d2, "PUT", path, sid, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "{\"status\":\"online\"}", 1);
    check_err(&r, 403, "csrf_invalid");
    res_free(&r);
    char bsid[80], bcsrf[64];
    CHECK_INT(login(&d1, "bob@t.io", "bob's password", bsid, bcsrf), 200);
    r = req(&d1, "PUT", path, sid, bcsrf, "{\"status\":\"online\"}", 1);
    check_err(&r, 403, "csrf_invalid");
    res_free(&r);
    char *p = redis_get("HGET {og}:agent:%s presence", ann);
    CHECK_STR(p, "offline");
    free(p);
    r = req(&d2, "PUT", path, sid, csrf, "{\"status\":\"online\"}", 1);
    CHECK_INT(r.status, 200);
    res_free(&r);

    /* a customer writes; ann takes the session; bob may not open it by URL */
    const char *b = "{\"id\":\"evt-1\",\"from\":{\"id\":\"c1\",\"name\":\"Cy\"},\"text\":\"hi\"}";
    CHECK_INT(og_test_post_signed(&d1, "demo", SECRET, b, strlen(b)), 200);
    char *ses = redis_get(OG_TEST_BUCKET("HGET") "{og}:th:demo: %s", "c1");
    for (int i = 0; i < 60; i++) { /* the routing engine assigns it to ann (online) */
        char *a = redis_get("HGET {og}:ses:%s agent_id", ses);
        int done = strcmp(a, ann) == 0;
        free(a);
        if (done)
            break;
        usleep(50000);
    }
    char *a = redis_get("HGET {og}:ses:%s agent_id", ses);
    CHECK_STR(a, ann);
    free(a);
    snprintf(path, sizeof path, "/sessions/%s", ses);
    r = req(&d1, "GET", path, bsid, NULL, NULL, 0);
    check_err(&r, 404, "not_found");
    res_free(&r);
    r = req(&d1, "GET", path, sid, NULL, NULL, 0);
    CHECK_INT(r.status, 200);
    res_free(&r);
    snprintf(path, sizeof path, "/sessions/%s/close", ses);
    r = req(&d1, "POST", path, bsid, bcsrf, "{\"reason\":\"solved\"}", 1);
    check_err(&r, 404, "not_found");
    res_free(&r);
    char *st = redis_get("HGET {og}:ses:%s status", ses);
    CHECK_STR(st, "active");
    free(st);
    snprintf(path, sizeof path, "/sessions/%s/messages", ses);
    r = req(&d1, "POST", path, sid, csrf, "{\"text\":\"hello from the cookie\"}", 1);
    CHECK_INT(r.status, 202);
    res_free(&r);
    free(ses);

    /* allowed_ips applies to the cookie */
    snprintf(path, sizeof path, "/agents/%s", ann);
    r = admin("PATCH", path, "{\"allowed_ips\":[\"10.9.9.9/32\"]}");
    CHECK_INT(r.status, 200);
    res_free(&r);
    r = req(&d1, "GET", "/auth/me", sid, NULL, NULL, 0);
    check_err(&r, 403, "forbidden");
    res_free(&r);
    r = admin("PATCH", path, "{\"allowed_ips\":[\"127.0.0.0/8\"]}");
    res_free(&r);
    r = req(&d1, "GET", "/auth/me", sid, NULL, NULL, 0);
    CHECK_INT(r.status, 200);
    res_free(&r);
}

/* ----------------------------------------------------------------- SSE */

struct stream {
    char url[256], cookie[128];
    pthread_mutex_t mu;
    struct og_buf buf;
    atomic_int done;
    long status;
    pthread_t th;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    struct stream *s = ud;
    pthread_mutex_lock(&s->mu);
    og_buf_append(&s->buf, p, sz * n);
    og_buf_append(&s->buf, "", 0);
    s->buf.len--;
    pthread_mutex_unlock(&s->mu);
    return sz * n;
}

static void *run(void *arg)
{
    struct stream *s = arg;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_COOKIE, s->cookie);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s->status);
    curl_easy_cleanup(c);
    atomic_store(&s->done, 1);
    return NULL;
}

static int wait_for(struct stream *s, const char *needle, int ms)
{
    for (int t = 0; t < ms; t += 20) {
        pthread_mutex_lock(&s->mu);
        int ok = s->buf.data && strstr(s->buf.data, needle);
        pthread_mutex_unlock(&s->mu);
        if (ok)
            return 1;
        usleep(20000);
    }
    return 0;
}

static void test_sse_and_logout(const char *sid, const char *csrf)
{
    struct stream s = {0};
    pthread_mutex_init(&s.mu, NULL);
    snprintf(s.url, sizeof s.url, "%s/api/v1/events", d2.base);
    snprintf(s.cookie, sizeof s.cookie, "og_session=%s", sid + 7);
    pthread_create(&s.th, NULL, run, &s);
    CHECK(wait_for(&s, ": omnigate events", 3000));
    const char *b =
        "{\"id\":\"evt-2\",\"from\":{\"id\":\"c1\",\"name\":\"Cy\"},\"text\":\"again\"}";
    CHECK_INT(og_test_post_signed(&d1, "demo", SECRET, b, strlen(b)), 200);
    CHECK(wait_for(&s, "event: message.received", 3000));
    CHECK(wait_for(&s, "again", 1000));

    /* sign-out at the other instance: the cookie stops working everywhere
     * and the open stream ends */
    struct res r = req(&d1, "POST", "/auth/logout", sid, NULL, NULL, 0);
    check_err(&r, 403, "csrf_invalid");
    res_free(&r);
    r = req(&d1, "POST", "/auth/logout", sid, csrf, NULL, 0);
    CHECK_INT(r.status, 200);
    char *sc = header(&r, "Set-Cookie");
    CHECK(sc && strncmp(sc, "og_session=;", 12) == 0 && strstr(sc, "Max-Age=0"));
    free(sc);
    res_free(&r);
    for (int i = 0; i < 400 && !atomic_load(&s.done); i++)
        usleep(20000); /* the stream checks its session every 5 s */
    CHECK(atomic_load(&s.done));
    pthread_join(s.th, NULL);
    og_buf_free(&s.buf);
    pthread_mutex_destroy(&s.mu);
    r = req(&d2, "GET", "/auth/me", sid, NULL, NULL, 0);
    check_err(&r, 401, "unauthorized");
    sc = header(&r, "Set-Cookie");
    CHECK(sc && strstr(sc, "Max-Age=0")); /* the dead cookie is cleared */
    free(sc);
    res_free(&r);
    r = req(&d2, "GET", "/events", sid, NULL, NULL, 0);
    check_err(&r, 401, "unauthorized");
    res_free(&r);
    /* a forged cookie */
    r = req(&d1, "GET", "/auth/me", "cookie=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL,
            NULL, 0);
    check_err(&r, 401, "unauthorized");
    res_free(&r);
    /* bearer tokens have no session to end */
    r = req(&d1, "POST", "/auth/logout", ann_tok, NULL, NULL, 0);
    CHECK_INT(r.status, 200);
    CHECK_STR(jstr(r.j, "signed_out"), "false");
    res_free(&r);
}

static void test_expiry_and_revocation(void)
{
    char sid[80], csrf[64], path[96];
    /* an expired cookie (its key's TTL ran out) */
    CHECK_INT(login(&d1, "ann@t.io", "ann's password", sid, csrf), 200);
    char *keys = og_test_redis_cli(&rs, "KEYS {og}:auth:ses:*");
    for (char *k = strtok(keys, "\r\n"); k; k = strtok(NULL, "\r\n")) {
        char *cmd = og_sprintf("PEXPIRE %s 1", k);
        free(og_test_redis_cli(&rs, cmd));
        free(cmd);
    }
    free(keys);
    usleep(20000);
    struct res r = req(&d1, "GET", "/sessions", sid, NULL, NULL, 0);
    check_err(&r, 401, "unauthorized");
    res_free(&r);
    /* a new password from an admin ends the sessions */
    CHECK_INT(login(&d1, "ann@t.io", "ann's password", sid, csrf), 200);
    snprintf(path, sizeof path, "/agents/%s/password", ann);
    r = admin("PUT", path, "{\"password\":\"ann's 2nd password\"}");
    CHECK_STR(jstr(r.j, "sessions_revoked"), "1");
    res_free(&r);
    r = req(&d1, "GET", "/auth/me", sid, NULL, NULL, 0);
    CHECK_INT(r.status, 401);
    res_free(&r);
    CHECK_INT(login(&d1, "ann@t.io", "ann's password", sid, csrf), 401);
    CHECK_INT(login(&d1, "ann@t.io", "ann's 2nd password", sid, csrf), 200);
    snprintf(path, sizeof path, "/agents/%s/sessions", ann);
    r = admin("DELETE", path, NULL);
    CHECK_INT(r.status, 200);
    CHECK_STR(jstr(r.j, "sessions_revoked"), "1");
    res_free(&r);
    r = req(&d1, "GET", "/auth/me", sid, NULL, NULL, 0);
    CHECK_INT(r.status, 401);
    res_free(&r);
}

static void test_links(void)
{
    char path[96], sid[80], csrf[64];
    snprintf(path, sizeof path, "/agents/%s/password-link", bob);
    struct res r = admin("POST", path, "{\"purpose\":\"maybe\"}");
    CHECK_INT(r.status, 400);
    res_free(&r);
    r = admin("POST", path, "{\"purpose\":\"invite\"}");
    CHECK_INT(r.status, 201);
    char tok[64];
    snprintf(tok, sizeof tok, "%s", jstr(r.j, "token") ? jstr(r.j, "token") : "");
    CHECK(jstr(r.j, "url") && strstr(jstr(r.j, "url"), "/inbox/#set-password=") &&
          strstr(jstr(r.j, "url"), tok));
    res_free(&r);
    char *b = og_sprintf("{\"token\":\"%s\",\"password\":\"short\"}", tok);
    r = req(&d2, "POST", "/auth/password", NULL, NULL, b, 1);
    check_err(&r, 400, "invalid_request");
    res_free(&r), free(b);
    b = og_sprintf("{\"token\":\"%s\",\"password\":\"bob's new password\"}", tok);
    r = req(&d2, "POST", "/auth/password", NULL, NULL, b, 1);
    CHECK_INT(r.status, 200);
    res_free(&r);
    r = req(&d1, "POST", "/auth/password", NULL, NULL, b, 1);
    check_err(&r, 404, "not_found"); /* once only */
    res_free(&r), free(b);
    CHECK_INT(login(&d1, "bob@t.io", "bob's new password", sid, csrf), 200);
}

static void test_limits(void)
{
    char sid[80], csrf[64];
    for (int i = 0; i < 5; i++)
        CHECK_INT(login(&d1, "bob@t.io", "wrong password!", sid, csrf), 401);
    struct res r = req(&d2, "POST", "/auth/login", NULL, NULL,
                       "{\"email\":\"bob@t.io\",\"password\":\"bob's new password\"}", 1);
    check_err(&r, 429, "rate_limited");
    char *ra = header(&r, "Retry-After");
    CHECK(ra && atoi(ra) > 800 && atoi(ra) <= 900);
    free(ra);
    res_free(&r);
    /* per address: 20 failures from 127.0.0.1 (5 so far, 1 earlier), then everyone here waits */
    int limited = 0;
    for (int i = 0; i < 30 && !limited; i++) {
        char *e = og_sprintf("x%d@t.io", i);
        limited = login(&d1, e, "wrong password!", sid, csrf) == 429;
        free(e);
    }
    CHECK(limited);
    CHECK_INT(login(&d1, "ann@t.io", "ann's 2nd password", sid, csrf), 429);
}

/* `omnigate --config FILE passwd EMAIL` with the password on stdin. */
static int passwd(const char *email, const char *input)
{
    char *cmd = og_sprintf("printf '%%s\\n' '%s' | %s/bin/omnigate --config %s passwd %s "
                           ">/dev/null 2>&1",
                           input, OG_BINARY_DIR, d1.config_path, email);
    int st = system(cmd);
    free(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_passwd_cli(void)
{
    char *n0 = og_test_redis_cli(&rs, "SCARD {og}:agents");
    CHECK_INT(passwd("root@t.io", "too short"), 1);
    char *n1 = og_test_redis_cli(&rs, "SCARD {og}:agents");
    CHECK_STR(n0, n1); /* nothing created */
    CHECK_INT(passwd("root@t.io", "the root password"), 0);
    char *id = redis_get("GET {og}:agent_email:%s", "root@t.io");
    CHECK(strncmp(id, "agt_", 4) == 0);
    char *role = redis_get("HGET {og}:agent:%s role", id);
    CHECK_STR(role, "admin");
    char *pw = redis_get("HGET {og}:agent:%s pw", id);
    CHECK(strncmp(pw, "$argon2id$", 10) == 0);
    CHECK_INT(passwd("root@t.io", "another root password"), 0);
    char *pw2 = redis_get("HGET {og}:agent:%s pw", id);
    CHECK(strcmp(pw, pw2) != 0);
    free(n0), free(n1), free(id), free(role), free(pw), free(pw2);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *ch =
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"http://127.0.0.1:9/replies\"}}]";
    if (og_test_redis_start(&rs) != 0 || og_test_daemon_start(&d1, rs.url, ch, NULL) != 0 ||
        og_test_daemon_start(&d2, rs.url, ch, NULL) != 0) {
        fprintf(stderr, "cannot start redis-server and two daemons\n");
        return 1;
    }
    create_agent("{\"name\":\"Ann\",\"email\":\"ann@t.io\",\"groups\":[\"support\"]}", ann,
                 ann_tok);
    create_agent("{\"name\":\"Bob\",\"email\":\"bob@t.io\",\"groups\":[\"sales\"]}", bob, bob_tok);
    char sid[80], csrf[64];
    test_set_password();
    test_login(sid, csrf);
    test_cookie(sid, csrf);
    test_sse_and_logout(sid, csrf);
    test_expiry_and_revocation();
    test_links();
    test_passwd_cli();
    test_limits();
    CHECK_INT(og_test_daemon_stop(&d1), 0);
    CHECK_INT(og_test_daemon_stop(&d2), 0);
    og_test_daemon_free(&d1);
    og_test_daemon_free(&d2);
    og_test_redis_stop(&rs);
    curl_global_cleanup();
    return og_test_done();
}
