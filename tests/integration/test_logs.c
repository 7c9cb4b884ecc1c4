/* test_logs - the daemon's logs (#15.9) with log_format json and log_file:
 *   - every line of the log is one JSON object with time, level and msg;
 *   - X-Request-Id: a valid one is echoed and carried by the lines logged
 *     while answering; one with a space or longer than 64 characters, or
 *     none, is replaced by a generated one, which is echoed;
 *   - an access line per API request: method, the route template (not the
 *     path with its id), status, duration_ms and the client address the
 *     edge names (behind a trusted proxy: the forwarded one);
 *   - a line about a channel names it ("channel":"demo"). */
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"

static struct og_test_daemon d;
static char *log_path;

/* One request over a raw socket; its X-Request-Id header's value into rid
 * and the status returned. */
static int request(const char *path, const char *extra_headers, char *rid, size_t n)
{
    int fd = og_test_raw_connect(NULL, d.port);
    char *req = og_sprintf("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n%s"
                           "Connection: close\r\n\r\n",
                           path, OG_TEST_ADMIN_TOKEN, extra_headers ? extra_headers : "");
    og_test_raw_send(fd, req, (size_t)-1);
    free(req);
    char *out = NULL;
    og_test_raw_read(fd, 5000, &out);
    close(fd);
    int status = 0;
    sscanf(out, "HTTP/1.1 %d", &status);
    rid[0] = 0;
    char *h = strcasestr(out, "\r\nX-Request-Id: ");
    if (h) {
        h += 16;
        snprintf(rid, n, "%.*s", (int)strcspn(h, "\r\n"), h);
    }
    free(out);
    return status;
}

static json_object *member(json_object *o, const char *k)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, k, &v);
    return v;
}

static const char *str(json_object *o, const char *k)
{
    json_object *v = member(o, k);
    return v ? json_object_get_string(v) : "";
}

/* The log's lines as JSON objects (NULL for a line that is not one);
 * *n gets the count. [xfer] each, and the array. */
static json_object **lines(int *n)
{
    char *text = og_test_read_file(log_path, NULL);
    json_object **v = og_calloc(4096, sizeof *v);
    *n = 0;
    for (char *l = text, *nl; l && *n < 4096 && (nl = strchr(l, '\n')) != NULL; l = nl + 1) {
        *nl = 0;
        json_object *o = json_tokener_parse(l);
        if (o && !json_object_is_type(o, json_type_object)) {
            json_object_put(o);
            o = NULL;
        }
        if (!o)
            fprintf(stderr, "not a JSON object: %s\n", l);
        v[(*n)++] = o;
    }
    free(text);
    return v;
}

/* The access line of request id rid, or NULL. [borrowed from v] */
static json_object *access_of(json_object **v, int n, const char *rid)
{
    for (int i = 0; i < n; i++)
        if (v[i] && !strcmp(str(v[i], "scope"), "access") && !strcmp(str(v[i], "request_id"), rid))
            return v[i];
    return NULL;
}

int main(void)
{
    char *tmp = og_test_tmpdir();
    log_path = og_sprintf("%s/og.log", tmp);
    const char *channels =
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]";
    char *extra = og_sprintf("\"log_file\":\"%s\",\"log_format\":\"json\","
                             "\"http\":{\"trusted_proxies\":[\"127.0.0.2\"]}",
                             log_path);
    if (og_test_daemon_start(&d, "embedded", channels, extra) != 0)
        return 1;
    free(extra);
    char rid[128];

    /* a valid id is echoed */
    CHECK_INT(
        request("/api/v1/sessions/ses_nope", "X-Request-Id: abc-123.x:y_z\r\n", rid, sizeof rid),
        404);
    CHECK_STR(rid, "abc-123.x:y_z");
    /* bad ones and none: a generated one */
    char gen[3][128];
    CHECK_INT(request("/api/v1/agents", "X-Request-Id: has space\r\n", gen[0], sizeof gen[0]), 200);
    char longid[101];
    memset(longid, 'a', 100);
    longid[100] = 0;
    char *lh = og_sprintf("X-Request-Id: %s\r\n", longid);
    CHECK_INT(request("/api/v1/agents", lh, gen[1], sizeof gen[1]), 200);
    free(lh);
    CHECK_INT(request("/healthz", NULL, gen[2], sizeof gen[2]), 200);
    for (int i = 0; i < 3; i++) {
        CHECK(strncmp(gen[i], "req_", 4) == 0 && strlen(gen[i]) > 10 && strlen(gen[i]) <= 64);
        CHECK(strcmp(gen[i], longid) != 0);
    }
    CHECK(strcmp(gen[0], gen[1]) != 0);
    /* through a trusted proxy (127.0.0.2): the forwarded client */
    int fd = og_test_raw_connect("127.0.0.2", d.port);
    og_test_raw_send(fd,
                     "GET /api/v1/contacts/ct_x HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: "
                     "203.0.113.7\r\nX-Request-Id: via-proxy\r\nConnection: close\r\n\r\n",
                     (size_t)-1);
    char *out = NULL;
    og_test_raw_read(fd, 5000, &out);
    close(fd);
    CHECK(strstr(out, "HTTP/1.1 401") == out);
    free(out);
    /* a channel's line: a bad signature */
    char *url = og_sprintf("%s/hooks/demo", d.base);
    struct og_test_resp r = og_test_http(
        "POST", url, "X-Request-Id: hook-1\nX-Signature: sha256=00\nContent-Type: application/json",
        "{}", 2);
    CHECK_INT(r.status, 401);
    free(r.body), free(url);
    usleep(200000);

    int n = 0;
    json_object **v = lines(&n);
    CHECK(n > 5);
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += !v[i] || !member(v[i], "time") || !member(v[i], "level") || !member(v[i], "msg");
    CHECK_INT(bad, 0);
    json_object *a = access_of(v, n, "abc-123.x:y_z");
    CHECK(a != NULL);
    if (a) {
        CHECK_STR(str(a, "method"), "GET");
        CHECK_STR(str(a, "route"), "/api/v1/sessions/:id");
        CHECK_INT(json_object_get_int(member(a, "status")), 404);
        CHECK(json_object_is_type(member(a, "duration_ms"), json_type_double));
        CHECK_STR(str(a, "client"), "127.0.0.1");
        CHECK_STR(str(a, "level"), "info");
    }
    a = access_of(v, n, gen[0]);
    CHECK(a && !strcmp(str(a, "route"), "/api/v1/agents"));
    CHECK(access_of(v, n, gen[2]) == NULL); /* not an API request */
    a = access_of(v, n, "via-proxy");
    CHECK(a && !strcmp(str(a, "client"), "203.0.113.7") &&
          json_object_get_int(member(a, "status")) == 401 &&
          !strcmp(str(a, "route"), "/api/v1/contacts/:id"));
    int chan = 0;
    for (int i = 0; i < n; i++)
        if (v[i] && !strcmp(str(v[i], "channel"), "demo") &&
            !strcmp(str(v[i], "request_id"), "hook-1") && strstr(str(v[i], "msg"), "401"))
            chan++;
    CHECK_INT(chan, 1);
    for (int i = 0; i < n; i++)
        json_object_put(v[i]);
    free(v);

    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_rmdir(tmp);
    free(tmp), free(log_path);
    return og_test_done();
}
