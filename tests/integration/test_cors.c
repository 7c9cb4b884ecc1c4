/* test_cors - api.cors_origins (#15.7) on the running daemon:
 *   - a preflight from a listed origin is answered 204 with that origin
 *     (never "*"), credentials, the methods and the headers the API takes;
 *   - an API answer to a listed origin carries Access-Control-Allow-Origin,
 *     -Credentials, Vary: Origin and exposes X-Request-Id; so does a 401
 *     (the page must see it) and the event stream (SSE);
 *   - an unlisted origin, a path outside /api/ (a platform webhook, a
 *     page), and a daemon without cors_origins get no CORS header at all;
 *   - a bad origin in the file is refused by --check. */
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define APP "https://app.example.com"

static struct og_test_daemon d;

/* One raw request; its status, and the whole answer (headers and what came
 * of the body) in *out [xfer]. */
static int raw(const struct og_test_daemon *dd, const char *method, const char *path,
               const char *headers, char **out)
{
    int fd = og_test_raw_connect(NULL, dd->port);
    char *req = og_sprintf("%s %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", method, path,
                           headers ? headers : "");
    og_test_raw_send(fd, req, (size_t)-1);
    free(req);
    *out = NULL;
    og_test_raw_read(fd, 1500, out); /* an event stream stays open: read what came */
    close(fd);
    int status = 0;
    sscanf(*out, "HTTP/1.1 %d", &status);
    return status;
}

/* The value of header name in an answer ("" when absent). [static buffer] */
static const char *header(const char *answer, const char *name)
{
    static char v[512];
    char *needle = og_sprintf("\r\n%s: ", name);
    const char *h = strcasestr(answer, needle), *end = strstr(answer, "\r\n\r\n");
    v[0] = 0;
    if (h && (!end || h < end))
        snprintf(v, sizeof v, "%.*s", (int)strcspn(h + strlen(needle), "\r\n"), h + strlen(needle));
    free(needle);
    return v;
}

static int any_cors(const char *answer)
{
    const char *end = strstr(answer, "\r\n\r\n");
    const char *h = strcasestr(answer, "\r\nAccess-Control-");
    return h && (!end || h < end);
}

#define BEARER "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\r\n"

static void test_listed(void)
{
    char *a;
    CHECK_INT(raw(&d, "OPTIONS", "/api/v1/sessions",
                  "Origin: " APP "\r\nAccess-Control-Request-Method: POST\r\n"
                  "Access-Control-Request-Headers: authorization, content-type\r\n",
                  &a),
              204);
    CHECK_STR(header(a, "Access-Control-Allow-Origin"), APP);
    CHECK_STR(header(a, "Access-Control-Allow-Credentials"), "true");
    CHECK(strstr(header(a, "Access-Control-Allow-Methods"), "POST") != NULL);
    CHECK(strstr(header(a, "Access-Control-Allow-Methods"), "DELETE") != NULL);
    CHECK(strstr(header(a, "Access-Control-Allow-Headers"), "Authorization") != NULL);
    CHECK(strstr(header(a, "Access-Control-Allow-Headers"), "X-CSRF-Token") != NULL);
    CHECK_STR(header(a, "Vary"), "Origin");
    free(a);

    CHECK_INT(raw(&d, "GET", "/api/v1/agents", BEARER "Origin: " APP "\r\n", &a), 200);
    CHECK_STR(header(a, "Access-Control-Allow-Origin"), APP);
    CHECK_STR(header(a, "Access-Control-Allow-Credentials"), "true");
    CHECK(strstr(header(a, "Access-Control-Expose-Headers"), "X-Request-Id") != NULL);
    free(a);
    CHECK_INT(raw(&d, "GET", "/api/v1/agents", "Origin: " APP "\r\n", &a), 401);
    CHECK_STR(header(a, "Access-Control-Allow-Origin"), APP);
    free(a);
    /* the event stream */
    CHECK_INT(raw(&d, "GET", "/api/v1/events", BEARER "Origin: " APP "\r\n", &a), 200);
    CHECK_STR(header(a, "Access-Control-Allow-Origin"), APP);
    CHECK(strstr(header(a, "Content-Type"), "text/event-stream") != NULL);
    free(a);
}

static void test_unlisted(void)
{
    char *a;
    int st = raw(&d, "OPTIONS", "/api/v1/sessions",
                 "Origin: https://evil.example.com\r\nAccess-Control-Request-Method: GET\r\n", &a);
    CHECK(st != 204 && st != 0);
    CHECK(!any_cors(a));
    free(a);
    CHECK_INT(raw(&d, "GET", "/api/v1/agents", BEARER "Origin: https://evil.example.com\r\n", &a),
              200);
    CHECK(!any_cors(a));
    free(a);
    /* the origin listed, but the scheme differs: another origin */
    CHECK_INT(raw(&d, "GET", "/api/v1/agents", BEARER "Origin: http://app.example.com\r\n", &a),
              200);
    CHECK(!any_cors(a));
    free(a);
    /* outside /api/ */
    raw(&d, "OPTIONS", "/hooks/demo", "Origin: " APP "\r\nAccess-Control-Request-Method: POST\r\n",
        &a);
    CHECK(!any_cors(a));
    free(a);
    CHECK_INT(raw(&d, "GET", "/healthz", "Origin: " APP "\r\n", &a), 200);
    CHECK(!any_cors(a));
    free(a);
}

static void test_off(void)
{
    struct og_test_daemon off;
    CHECK_INT(og_test_daemon_start(&off, "embedded", "[]", NULL), 0);
    char *a;
    int st = raw(&off, "OPTIONS", "/api/v1/sessions",
                 "Origin: " APP "\r\nAccess-Control-Request-Method: GET\r\n", &a);
    CHECK(st != 204 && st != 0);
    CHECK(!any_cors(a));
    free(a);
    CHECK_INT(raw(&off, "GET", "/api/v1/agents", BEARER "Origin: " APP "\r\n", &a), 200);
    CHECK(!any_cors(a));
    free(a);
    CHECK_INT(og_test_daemon_stop(&off), 0);
    og_test_daemon_free(&off);
}

/* --check refuses an origin with a path, "*" and upper case */
static void test_check(void)
{
    char *dir = og_test_tmpdir(), *cfg = og_sprintf("%s/c.json", dir);
    FILE *f = fopen(cfg, "w");
    fprintf(f,
            "{\"api\":{\"admin_token\":\"%s\",\"cors_origins\":[\"https://a.example/x\","
            "\"*\",\"HTTPS://A.EXAMPLE\",\"https://ok.example:8443\"]}}",
            OG_TEST_ADMIN_TOKEN);
    fclose(f);
    char *cmd = og_sprintf("%s/bin/omnigate --config %s --check 2>&1", OG_BINARY_DIR, cfg);
    FILE *p = popen(cmd, "r");
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    CHECK(WEXITSTATUS(pclose(p)) != 0);
    CHECK(strstr(out, "api.cors_origins[0]: must be an origin") != NULL);
    CHECK(strstr(out, "api.cors_origins[1]: must be an origin") != NULL);
    CHECK(strstr(out, "api.cors_origins[2]: must be an origin") != NULL);
    CHECK(strstr(out, "api.cors_origins[3]") == NULL);
    free(cmd), free(cfg);
    og_test_rmdir(dir);
    free(dir);
}

int main(void)
{
    const char *channels =
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"s3cret-key\","
        "\"reply_url\":\"http://127.0.0.1:9/r\"}}]";
    if (og_test_daemon_start(&d, "embedded", channels, NULL) != 0)
        return 1;
    /* the harness writes api itself: start again with cors_origins in it */
    og_test_daemon_stop(&d);
    char *text = og_test_read_file(d.config_path, NULL);
    char *at = strstr(text, "\"api\":{");
    char *patched = og_sprintf("%.*s\"api\":{\"cors_origins\":[\"" APP "\"],%s", (int)(at - text),
                               text, at + 7);
    FILE *f = fopen(d.config_path, "w");
    fputs(patched, f);
    fclose(f);
    free(text), free(patched);
    if (og_test_daemon_restart(&d) != 0)
        return 1;
    test_listed();
    test_unlisted();
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    test_off();
    test_check();
    return og_test_done();
}
