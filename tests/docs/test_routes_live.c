/* test_routes_live - the route list og-docs-routes compares with
 * docs/openapi.yaml is what the daemon really dispatches
 * (og-docs-routes-live): every route og_http_routes_each() lists is sent to
 * a running omnigate (redis-server, the demo channel), parameters filled in
 * (":channel" the demo channel, ":file" a real file of that directory, any
 * other a made-up id), with the admin token, and the answer must come from
 * the route: not the router's own 404 "no such route" nor its 405 "this
 * route does not take that method". Requests go over a raw socket, so HEAD
 * and the event stream are read as they come. */
#include "og_gateway.h"
#include "og_static.h"
#include "og_test.h"
#include "og_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "docs-routes-secret"

struct probe {
    const struct og_test_daemon *d;
    const struct og_static *pages;
    int routes;
};

/* A file the pages serve under dir ("/inbox"), for its ":file"; "" if none. */
static const char *file_in(const struct og_static *pages, const char *dir, size_t dl)
{
    const char *p;
    for (size_t i = 0; (p = og_static_path(pages, i)) != NULL; i++)
        if (strncmp(p, dir, dl) == 0 && p[dl] == '/' && !strchr(p + dl + 1, '/'))
            return p + dl + 1;
    return "";
}

/* The route's path with its parameters filled in, into out. */
static void fill(const struct probe *pr, const char *path, char *out, size_t outsz)
{
    struct og_buf b = {0};
    for (const char *s = path; *s;) {
        if (*s != ':') {
            og_buf_append(&b, s, 1);
            s++;
            continue;
        }
        size_t n = strcspn(s, "/");
        if (n == 8 && strncmp(s, ":channel", n) == 0)
            og_buf_puts(&b, "demo");
        else if (n == 5 && strncmp(s, ":file", n) == 0)
            og_buf_puts(&b, file_in(pr->pages, b.data ? b.data : "", b.len ? b.len - 1 : 0));
        else
            og_buf_puts(&b, "x0");
        s += n;
    }
    snprintf(out, outsz, "%s", b.data ? b.data : "");
    og_buf_free(&b);
}

static void probe_route(void *ud, const char *method, const char *path, const char *role)
{
    struct probe *pr = ud;
    char url[512];
    fill(pr, path, url, sizeof url);
    char *req = og_sprintf("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\r\n"
                           "Content-Type: application/json\r\nContent-Length: 2\r\n"
                           "Connection: close\r\n\r\n{}",
                           method, url);
    int fd = og_test_raw_connect(NULL, pr->d->port);
    char *got = NULL;
    if (fd >= 0 && og_test_raw_send(fd, req, (size_t)-1) == 0)
        og_test_raw_read(fd, strcmp(url, "/api/v1/events") == 0 ? 1000 : 10000, &got);
    if (fd >= 0)
        close(fd);
    int status = 0;
    if (got)
        sscanf(got, "HTTP/1.%*d %d", &status);
    int routed = status > 0 && !strstr(got, "no such route") &&
                 !strstr(got, "this route does not take that method");
    if (!routed)
        fprintf(stderr, "%s %s (%s, listed as %s %s): not dispatched: %.200s\n", method, url, role,
                method, path, got ? got : "(no answer)");
    CHECK(routed);
    pr->routes++;
    free(got);
    free(req);
}

int main(void)
{
    struct og_test_redis rs;
    struct og_test_daemon d;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    const char *channels = "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":"
                           "{\"secret\":\"" SECRET "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]";
    if (og_test_daemon_start(&d, rs.url, channels, NULL) != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    /* the pages as the daemon loaded them: <build>/share/omnigate/www */
    struct og_static *pages = og_static_load(OG_BINARY_DIR "/share/omnigate/www");
    CHECK(og_static_count(pages) > 0);
    struct probe pr = {&d, pages, 0};
    og_http_routes_each(pages, probe_route, &pr);
    printf("%d routes probed\n", pr.routes);
    CHECK(pr.routes > 50);

    /* and the probe can tell: what is not a route is the router's 404 */
    int fd = og_test_raw_connect(NULL, d.port);
    char *got = NULL;
    og_test_raw_send(
        fd,
        "GET /api/v1/nowhere HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " OG_TEST_ADMIN_TOKEN
        "\r\nConnection: close\r\n\r\n",
        (size_t)-1);
    og_test_raw_read(fd, 5000, &got);
    close(fd);
    CHECK(got && strstr(got, "no such route") != NULL);
    free(got);

    og_static_free(pages);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    return og_test_done();
}
