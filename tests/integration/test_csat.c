/* test_csat - the satisfaction survey beyond the web chat widget (#19.1)
 * through two running daemons on one real redis-server, the example
 * connector signed_json as a messenger and a fake platform recording what
 * it is sent; the clock is compressed (silence of 2 s):
 *   - on close: the survey goes out once as a system message with the
 *     numbered scale (sent to the platform, in the history and timeline);
 *     the customer's "4" is the rating (csat {score 4, scale 5}, once
 *     csat.submitted, the thanks text) and stays in the history without
 *     reopening the session; a second "5" is an ordinary message (reopens)
 *     and leaves the rating alone; a first answer that is no rating ("thanks,
 *     bye") ends the wait, so a later "4" rates nothing;
 *   - after silence (scale 2): the survey after 2 s without a message after
 *     the agent's reply, once with two instances; 👍 rates 2/2 and leaves
 *     the session as it was; a timer armed before both daemons die fires
 *     after one is started again;
 *   - the signed link /csat/{token}: the page and its survey as JSON, a
 *     rating by form and by JSON (once: the second use is 410), a forged
 *     token 401, an expired one 410, a token of another admin token 401,
 *     bad answers 400 - nothing stored by any refused request;
 *   - statistics count the ratings (a thumb up as 5);
 *   - csat.on "silence" without silence_s, silence_s without it, and csat
 *     on an e-mail-like channel are refused at start. */
#include "og_csat.h"
#include "og_test.h"
#include "og_util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define Q5 "How did we do?"
#define SURVEY5 Q5 "\\nReply with a number from 1 (poor) to 5 (excellent)."
#define THUMB_UP "\xf0\x9f\x91\x8d"

static struct og_test_redis rs;
static struct og_test_daemon da, db;
static struct og_fake *plat;
static char ann[48], ann_tok[80];

static json_object *api(const char *method, const char *path, const char *body, long *status)
{
    char *url = og_sprintf("%s/api/v1%s", da.base, path);
    char *h = og_sprintf("Authorization: Bearer %s\nContent-Type: application/json",
                         ann_tok[0] ? ann_tok : OG_TEST_ADMIN_TOKEN);
    struct og_test_resp r = og_test_http(method, url, h, body, body ? strlen(body) : 0);
    *status = r.status;
    json_object *j = json_tokener_parse(r.body);
    free(url), free(h), free(r.body);
    return j;
}

static long call(const char *method, const char *path, const char *body)
{
    long st;
    json_object_put(api(method, path, body, &st));
    return st;
}

/* A string at a path of keys ("csat.score"); JSON null is "null", other
 * values their JSON text; "" when absent. [borrowed from o] */
static const char *at(json_object *o, const char *path)
{
    char key[64];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        if (!json_object_object_get_ex(o, key, &o))
            return "";
        path += n + (path[n] == '.');
        if (!o)
            return *path ? "" : "null";
    }
    if (!o)
        return "null";
    return json_object_is_type(o, json_type_string)
               ? json_object_get_string(o)
               : json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

/* A customer's message on channel ch through daemon d; sid gets the session. */
static void customer(struct og_test_daemon *d, const char *ch, const char *user, const char *text,
                     char sid[48])
{
    static int n;
    char *b = og_sprintf("{\"id\":\"evt-%s-%d\",\"from\":{\"id\":\"%s\",\"name\":\"Name %s\"},"
                         "\"text\":\"%s\"}",
                         user, ++n, user, user, text);
    CHECK_INT(og_test_post_signed(d, ch, SECRET, b, strlen(b)), 200);
    free(b);
    char *s = og_test_redis_line(&rs, OG_TEST_BUCKET("HGET") "{og}:th:%s: %s", ch, user);
    snprintf(sid, 48, "%s", s);
    free(s);
}

/* The session's field (at() path) now, into out. */
static void field(const char *sid, const char *path, char *out, size_t n)
{
    long st;
    char *p = og_sprintf("/sessions/%s", sid);
    json_object *j = api("GET", p, NULL, &st);
    free(p);
    CHECK_INT(st, 200);
    snprintf(out, n, "%s", at(j, path));
    json_object_put(j);
}

/* Messages in the session's history: system ones of auto_text kind (kind
 * "in": the customer's, text = their text); *text the last one's text. */
static int history(const char *sid, const char *kind, const char *text, char *last, size_t ln)
{
    long st;
    char *p = og_sprintf("/sessions/%s/messages?limit=200", sid);
    json_object *j = api("GET", p, NULL, &st), *items = NULL;
    free(p);
    int n = 0;
    json_object_object_get_ex(j, "items", &items);
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *m = json_object_array_get_idx(items, i);
        int in = !strcmp(kind, "in");
        if (in ? strcmp(at(m, "direction"), "in") != 0
               : strcmp(at(m, "sender.type"), "system") != 0 || strcmp(at(m, "auto_text"), kind))
            continue;
        if (text && strcmp(at(m, "text"), text) != 0)
            continue;
        n++;
        if (last)
            snprintf(last, ln, "%s", at(m, "text"));
    }
    json_object_put(j);
    return n;
}

static int wait_history(const char *sid, const char *kind, int want, int ms)
{
    int n = 0;
    for (int i = 0; i <= ms / 50 && (n = history(sid, kind, NULL, NULL, 0)) < want; i++)
        usleep(50000);
    return n;
}

/* Requests the platform got for contact to whose body has "text":"<text>". */
static int platform_got(const char *to, const char *text)
{
    char *t = og_sprintf("\"text\":\"%s\"", text), *u = og_sprintf("\"to\":\"%s\"", to);
    int n = 0;
    for (size_t i = 0; i < og_fake_count(plat); i++) {
        const struct og_fake_req *r = og_fake_get(plat, i);
        if (r->body && strstr(r->body, t) && strstr(r->body, u))
            n++;
    }
    free(t), free(u);
    return n;
}

static int wait_platform(const char *to, const char *text, int ms)
{
    int n = 0;
    for (int i = 0; i <= ms / 50 && (n = platform_got(to, text)) < 1; i++)
        usleep(50000);
    return n;
}

static int events(const char *sid, const char *type)
{
    char *out = og_test_redis_cli(&rs, "XRANGE {og}:events - +");
    char *t = og_sprintf("\"type\":\"%s\"", type);
    int n = 0;
    for (char *line = strtok(out ? out : "", "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, t) && strstr(line, sid))
            n++;
    free(t), free(out);
    return n;
}

static int timeline(const char *sid, const char *kind, const char *text)
{
    long st;
    char *p = og_sprintf("/sessions/%s/timeline?limit=200", sid);
    json_object *j = api("GET", p, NULL, &st), *items = NULL;
    free(p);
    int n = 0;
    json_object_object_get_ex(j, "items", &items);
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *e = json_object_array_get_idx(items, i);
        if (!strcmp(at(e, "kind"), kind) && (!text || !strcmp(at(e, "text"), text)))
            n++;
    }
    json_object_put(j);
    return n;
}

static void wait_agent(const char *sid)
{
    for (int i = 0; i < 100; i++) {
        char *a = og_test_redis_line(&rs, "HGET {og}:ses:%s agent_id", sid);
        int ok = strcmp(a, ann) == 0;
        free(a);
        if (ok)
            return;
        usleep(50000);
    }
    CHECK(!"the session was assigned to Ann");
}

static void reply(const char *sid, const char *text)
{
    char *path = og_sprintf("/sessions/%s/messages", sid);
    char *body = og_sprintf("{\"text\":\"%s\"}", text);
    CHECK_INT(call("POST", path, body), 202);
    free(path), free(body);
}

static void close_session(const char *sid)
{
    char *path = og_sprintf("/sessions/%s/close", sid);
    CHECK_INT(call("POST", path, "{\"reason\":\"solved\"}"), 200);
    free(path);
}

/* ------------------------------------------------------------ the tests */

/* On close: offered once, "4" rates, "5" later does not. */
static void test_close_answer(void)
{
    char sid[48], v[256];
    customer(&da, "demo", "u1", "hello", sid);
    wait_agent(sid);
    reply(sid, "Hi, done!");
    close_session(sid);
    CHECK_INT(wait_history(sid, "csat", 1, 5000), 1);
    CHECK_INT(history(sid, "csat", NULL, v, sizeof v), 1);
    CHECK_STR(v, Q5 "\nReply with a number from 1 (poor) to 5 (excellent).");
    CHECK_INT(wait_platform("u1", SURVEY5, 5000), 1);
    CHECK_INT(timeline(sid, "auto_text", "csat"), 1);
    field(sid, "csat", v, sizeof v);
    CHECK_STR(v, "null");

    customer(&db, "demo", "u1", "4", sid);
    field(sid, "csat.score", v, sizeof v);
    CHECK_STR(v, "4");
    field(sid, "csat.scale", v, sizeof v);
    CHECK_STR(v, "5");
    field(sid, "status", v, sizeof v);
    CHECK_STR(v, "closed"); /* the answer did not reopen it */
    CHECK_INT(history(sid, "in", "4", NULL, 0), 1);
    CHECK_INT(events(sid, "csat.submitted"), 1);
    CHECK_INT(timeline(sid, "csat", NULL), 1);
    CHECK_INT(timeline(sid, "reopened", NULL), 0);
    CHECK_INT(wait_history(sid, "csat_thanks", 1, 5000), 1);
    CHECK_INT(wait_platform("u1", "Thanks a lot!", 5000), 1);
    /* two instances, each text sent once */
    CHECK_INT(platform_got("u1", SURVEY5), 1);
    CHECK_INT(platform_got("u1", "Thanks a lot!"), 1);

    /* a second answer is an ordinary message: the rating stays */
    customer(&da, "demo", "u1", "5", sid);
    field(sid, "csat.score", v, sizeof v);
    CHECK_STR(v, "4");
    CHECK_INT(events(sid, "csat.submitted"), 1);
    CHECK_INT(timeline(sid, "reopened", NULL), 1);
    CHECK_INT(history(sid, "in", "5", NULL, 0), 1);
    /* closed again: rated sessions are not asked twice */
    wait_agent(sid);
    close_session(sid);
    usleep(1500000);
    CHECK_INT(history(sid, "csat", NULL, NULL, 0), 1);
}

/* The next message only: "thanks, bye" ends the wait; "4" after it is text. */
static void test_not_an_answer(void)
{
    char sid[48], v[64];
    customer(&da, "demo", "u2", "hello", sid);
    wait_agent(sid);
    reply(sid, "Anything else?");
    close_session(sid);
    CHECK_INT(wait_history(sid, "csat", 1, 5000), 1);
    customer(&db, "demo", "u2", "thanks, bye", sid);
    field(sid, "csat", v, sizeof v);
    CHECK_STR(v, "null");
    field(sid, "status", v, sizeof v);
    CHECK(strcmp(v, "closed") != 0); /* an ordinary message: reopened */
    customer(&da, "demo", "u2", "4", sid);
    field(sid, "csat", v, sizeof v);
    CHECK_STR(v, "null");
    CHECK_INT(events(sid, "csat.submitted"), 0);
}

/* After 2 s of silence, scale 2: once across two instances; a thumb rates. */
static void test_silence(void)
{
    char sid[48], v[256];
    customer(&da, "quiet", "q1", "hello", sid);
    wait_agent(sid);
    usleep(1000000);
    CHECK_INT(history(sid, "csat", NULL, NULL, 0), 0); /* no agent reply yet: no timer */
    reply(sid, "Here you go.");
    usleep(1000000);
    customer(&db, "quiet", "q1", "ok, reading", sid); /* pushes the silence back */
    usleep(1500000);
    CHECK_INT(history(sid, "csat", NULL, NULL, 0), 0);
    CHECK_INT(wait_history(sid, "csat", 1, 6000), 1);
    history(sid, "csat", NULL, v, sizeof v);
    CHECK_STR(v, "Was this helpful?\nReply " THUMB_UP " or \xf0\x9f\x91\x8e.");
    field(sid, "status", v, sizeof v);
    CHECK_STR(v, "active");
    customer(&da, "quiet", "q1", " " THUMB_UP " ", sid);
    field(sid, "csat.score", v, sizeof v);
    CHECK_STR(v, "2");
    field(sid, "csat.scale", v, sizeof v);
    CHECK_STR(v, "2");
    field(sid, "status", v, sizeof v);
    CHECK_STR(v, "active"); /* a rating is no conversation */
    CHECK_INT(events(sid, "csat.submitted"), 1);
    /* the agent writes again: no second survey */
    reply(sid, "Glad to help.");
    usleep(3000000);
    CHECK_INT(history(sid, "csat", NULL, NULL, 0), 1);
    CHECK_INT(timeline(sid, "auto_text", "csat"), 1);
    CHECK_INT(platform_got("q1", "Was this helpful?\\nReply " THUMB_UP " or \xf0\x9f\x91\x8e."), 1);
    close_session(sid);
}

/* A silence timer armed before both daemons die fires after a restart. */
static void test_restart(void)
{
    char sid[48];
    customer(&da, "quiet", "q2", "hello", sid);
    wait_agent(sid);
    reply(sid, "Done.");
    og_test_daemon_kill(&da);
    og_test_daemon_kill(&db);
    usleep(2500000);
    CHECK_INT(og_test_daemon_restart(&da), 0);
    CHECK_INT(wait_history(sid, "csat", 1, 6000), 1);
    CHECK_INT(og_test_daemon_restart(&db), 0);
    usleep(1000000);
    CHECK_INT(history(sid, "csat", NULL, NULL, 0), 1);
}

/* ---------------------------------------------------- the signed link */

static unsigned char key[32];

static struct og_test_resp page(const char *method, const char *token, const char *headers,
                                const char *body)
{
    char *url = og_sprintf("%s/csat/%s", da.base, token);
    struct og_test_resp r = og_test_http(method, url, headers, body, body ? strlen(body) : 0);
    free(url);
    return r;
}

static long page_status(const char *method, const char *token, const char *headers,
                        const char *body, const char *want_in_body)
{
    struct og_test_resp r = page(method, token, headers, body);
    if (want_in_body && !strstr(r.body, want_in_body)) {
        fprintf(stderr, "  %s /csat/%s: body lacks %s: %s\n", method, token, want_in_body, r.body);
        CHECK(!"the body says why");
    }
    free(r.body);
    return r.status;
}

#define JSON_H "Content-Type: application/json\nAccept: application/json"
#define FORM_H "Content-Type: application/x-www-form-urlencoded"

static void test_link(void)
{
    char sid[48], sid2[48], tok[OG_CSAT_TOKEN_MAX], v[256];
    customer(&da, "demo", "m1", "hello", sid);
    customer(&da, "demo", "m2", "hello", sid2);
    og_csat_key(OG_TEST_ADMIN_TOKEN, key);
    CHECK(og_csat_token_make(key, sid, og_now_ms() / 1000 + 600, tok, sizeof tok) > 0);

    /* the page, and its survey as JSON; the page is never cached (one
     * Cache-Control: the static layer's no-cache replaced by no-store) */
    char *purl = og_sprintf("%s/csat/%s", da.base, tok), *hdrs = NULL;
    struct og_test_resp r = og_test_http_headers("GET", purl, NULL, NULL, 0, &hdrs);
    free(purl);
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body, "<script type=\"module\" src=\"/csat/csat.js\">") != NULL);
    CHECK(strstr(hdrs, "Cache-Control: no-store\r\n") != NULL);
    CHECK(strstr(hdrs, "no-cache") == NULL);
    free(hdrs);
    free(r.body);
    r = page("GET", tok, "Accept: application/json", NULL);
    CHECK_INT(r.status, 200);
    json_object *j = json_tokener_parse(r.body);
    CHECK_STR(at(j, "question"), Q5);
    CHECK_STR(at(j, "scale"), "5");
    CHECK_STR(at(j, "comment"), "true");
    json_object_put(j);
    free(r.body);
    CHECK_INT(page_status("GET", "csat.js", NULL, NULL, "textContent"), 200);

    /* forged, expired, another key's, malformed: nothing stored */
    char forged[OG_CSAT_TOKEN_MAX];
    snprintf(forged, sizeof forged, "%s", tok);
    forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == 'a' ? 'b' : 'a';
    CHECK_INT(page_status("GET", forged, NULL, NULL, "not valid"), 401);
    CHECK_INT(page_status("POST", forged, JSON_H, "{\"score\":5}", "link_invalid"), 401);
    char old[OG_CSAT_TOKEN_MAX];
    CHECK(og_csat_token_make(key, sid, og_now_ms() / 1000 - 1, old, sizeof old) > 0);
    CHECK_INT(page_status("GET", old, NULL, NULL, "expired"), 410);
    CHECK_INT(page_status("POST", old, FORM_H, "score=5", "expired"), 410);
    unsigned char other[32];
    og_csat_key("another-admin-token-1234567", other);
    char alien[OG_CSAT_TOKEN_MAX];
    CHECK(og_csat_token_make(other, sid, og_now_ms() / 1000 + 600, alien, sizeof alien) > 0);
    CHECK_INT(page_status("POST", alien, JSON_H, "{\"score\":5}", "link_invalid"), 401);
    CHECK_INT(page_status("GET", "ses_nonsense", NULL, NULL, NULL), 401);
    /* bad answers */
    CHECK_INT(page_status("POST", tok, JSON_H, "{\"score\":6}", "score"), 400);
    CHECK_INT(page_status("POST", tok, JSON_H, "{\"score\":\"5\"}", "score"), 400);
    CHECK_INT(page_status("POST", tok, FORM_H, "score=4&evil=1", "score and comment"), 400);
    CHECK_INT(page_status("PUT", tok, JSON_H, "{\"score\":4}", NULL), 405);
    field(sid, "csat", v, sizeof v);
    CHECK_STR(v, "null");
    CHECK_INT(events(sid, "csat.submitted"), 0);

    /* a form answer: the thanks page; used once */
    r = page("POST", tok, FORM_H, "score=3&comment=Fine%2C+thanks+%3Cb%3E");
    CHECK_INT(r.status, 200);
    CHECK(strstr(r.body, "Thanks a lot!") != NULL);
    free(r.body);
    field(sid, "csat.score", v, sizeof v);
    CHECK_STR(v, "3");
    field(sid, "csat.comment", v, sizeof v);
    CHECK_STR(v, "Fine, thanks <b>");
    CHECK_INT(events(sid, "csat.submitted"), 1);
    CHECK_INT(page_status("POST", tok, FORM_H, "score=5", "rated already"), 410);
    CHECK_INT(page_status("GET", tok, NULL, NULL, "rated already"), 410);
    CHECK_INT(page_status("GET", tok, "Accept: application/json", NULL, "link_used"), 410);
    field(sid, "csat.score", v, sizeof v);
    CHECK_STR(v, "3");

    /* a JSON answer through the other instance */
    CHECK(og_csat_token_make(key, sid2, og_now_ms() / 1000 + 600, tok, sizeof tok) > 0);
    char *url = og_sprintf("%s/csat/%s", db.base, tok);
    struct og_test_resp rj =
        og_test_http("POST", url, JSON_H, "{\"score\":5,\"comment\":null}", 26);
    CHECK_INT(rj.status, 200);
    j = json_tokener_parse(rj.body);
    CHECK_STR(at(j, "csat.score"), "5");
    CHECK_STR(at(j, "thanks"), "Thanks a lot!");
    json_object_put(j);
    free(rj.body);
    rj = og_test_http("POST", url, JSON_H, "{\"score\":1}", 11);
    CHECK_INT(rj.status, 410);
    free(rj.body);
    free(url);
    field(sid2, "csat.score", v, sizeof v);
    CHECK_STR(v, "5");
    CHECK_INT(timeline(sid2, "csat", NULL), 1);
}

/* Statistics count every rating on the 1-5 scale: 4 (u1), 3 (m1), 5 (m2),
 * and q1's thumb up of the 2-point survey as 5 (docs/statistics.md). */
static void test_stats(void)
{
    char iso[32], q[96];
    og_time_rfc3339(og_now_ms(), iso);
    snprintf(q, sizeof q, "/stats?from=%.10s&to=%.10s", iso, iso);
    long st;
    char agent_tok[sizeof ann_tok];
    snprintf(agent_tok, sizeof agent_tok, "%s", ann_tok);
    ann_tok[0] = '\0'; /* the admin token: every session, assigned or not */
    json_object *j = api("GET", q, NULL, &st), *t = NULL;
    snprintf(ann_tok, sizeof ann_tok, "%s", agent_tok);
    CHECK_INT(st, 200);
    json_object_object_get_ex(j, "total", &t);
    CHECK_STR(at(t, "csat.count"), "4");
    CHECK_STR(at(t, "csat.avg"), "4.25");
    CHECK_STR(at(t, "csat.distribution.3"), "1");
    CHECK_STR(at(t, "csat.distribution.4"), "1");
    CHECK_STR(at(t, "csat.distribution.5"), "2");
    CHECK_STR(at(t, "csat.distribution.2"), "0");
    json_object_put(j);
}

/* Bad configs are refused at start, naming the key. */
static void test_config_refused(void)
{
    struct og_test_daemon d;
    const char *bad[] = {
        "[{\"id\":\"x\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"http://127.0.0.1:9/r\"},\"csat\":{\"scale\":5,\"on\":\"silence\"}}]",
        "[{\"id\":\"x\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"http://127.0.0.1:9/r\"},\"csat\":{\"scale\":5,\"silence_s\":3}}]",
    };
    const char *why[] = {"channels[0].csat.silence_s: required with \"on\": \"silence\"",
                         "channels[0].csat.silence_s: only with \"on\": \"silence\""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(og_test_daemon_start(&d, rs.url, bad[i], NULL) != 0);
        char *logp = og_sprintf("%s/omnigate.log", d.dir);
        char *text = og_test_read_file(logp, NULL);
        CHECK(text && strstr(text, why[i]) != NULL);
        free(text), free(logp);
        og_test_daemon_free(&d);
    }
}

/* csat on an e-mail-like channel is refused by --check (a survey there is
 * the follow-up e-mail's link). */
static void test_email_refused(void)
{
    char *so = og_sprintf("%s/lib/omnigate/connectors/email.so", OG_BINARY_DIR);
    int built = access(so, F_OK) == 0;
    free(so);
    if (!built) {
        fprintf(stderr, "the email connector is not built: skipping its check\n");
        return;
    }
    char *dir = og_test_tmpdir();
    char *cfg = og_sprintf("%s/c.json", dir);
    FILE *f = fopen(cfg, "w");
    fprintf(f,
            "{\"api\":{\"admin_token\":\"%s\"},\"redis\":{\"url\":\"%s\"},\"channels\":[{"
            "\"id\":\"mail\",\"connector\":\"email\",\"options\":{\"imap_url\":"
            "\"imaps://127.0.0.1:1\",\"username\":\"u\",\"password\":\"p\",\"smtp_url\":"
            "\"smtp://127.0.0.1:1\",\"from\":\"support@example.com\"},\"csat\":{\"scale\":5}}]}",
            OG_TEST_ADMIN_TOKEN, rs.url);
    fclose(f);
    char *cmd = og_sprintf("%s/bin/omnigate --config %s --check 2>&1", OG_BINARY_DIR, cfg);
    FILE *p = popen(cmd, "r");
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    CHECK(pclose(p) != 0);
    CHECK(strstr(out, "channels[0].csat: not on an e-mail-like channel") != NULL);
    free(cmd), free(cfg);
    og_test_rmdir(dir);
    free(dir);
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    plat = og_fake_start();
    char *channels = og_sprintf(
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"%s/r\"},\"csat\":{\"scale\":5,\"question\":\"" Q5 "\","
        "\"thanks\":\"Thanks a lot!\",\"on\":\"close\"}},"
        "{\"id\":\"quiet\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"%s/r\"},\"csat\":{\"scale\":2,\"question\":\"Was this helpful?\","
        "\"comment\":false,\"on\":\"silence\",\"silence_s\":2}}]",
        og_fake_base(plat), og_fake_base(plat));
    if (og_test_daemon_start(&da, rs.url, channels, NULL) != 0 ||
        og_test_daemon_start(&db, rs.url, channels, NULL) != 0) {
        free(channels);
        og_test_daemon_free(&da);
        og_fake_stop(plat);
        og_test_redis_stop(&rs);
        return 1;
    }
    free(channels);
    long st;
    json_object *j = api("POST", "/agents", "{\"name\":\"Ann Agent\",\"email\":\"ann@o.io\"}", &st);
    CHECK_INT(st, 201);
    snprintf(ann, sizeof ann, "%s", at(j, "agent.id"));
    char tok[80];
    snprintf(tok, sizeof tok, "%s", at(j, "token"));
    json_object_put(j);
    snprintf(ann_tok, sizeof ann_tok, "%s", tok);
    char *path = og_sprintf("/agents/%s/presence", ann);
    CHECK_INT(call("PUT", path, "{\"status\":\"online\"}"), 200);
    free(path);

    test_close_answer();
    test_not_an_answer();
    test_silence();
    test_restart();
    test_link();
    test_stats();
    test_config_refused();
    test_email_refused();
    /* rated sessions: the list (C) renders them as one GET (Lua) does */
    CHECK(og_test_render_agrees(&da) > 0);
    CHECK(og_test_render_agrees(&db) > 0);

    CHECK_INT(og_test_daemon_stop(&da), 0);
    CHECK_INT(og_test_daemon_stop(&db), 0);
    og_test_daemon_free(&da);
    og_test_daemon_free(&db);
    og_fake_stop(plat);
    og_test_redis_stop(&rs);
    return og_test_done();
}
