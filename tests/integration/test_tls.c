/* test_tls - HTTPS both ways (#15.6), with test certificates made by the
 * openssl command in the test's temp dir:
 *   - http.tls_cert/tls_key: the daemon answers HTTPS on its port (the
 *     certificate verifies for 127.0.0.1), refuses TLS 1.1 and plain HTTP,
 *     takes a signed platform webhook; SIGHUP loads a renewed certificate
 *     (a client trusting only the new one connects afterwards, not before)
 *     and keeps the one in use when the new files do not match; --check
 *     refuses a key that is not the certificate's;
 *   - the reverse-proxy recipe of docs/operations.md: nginx (Debian's)
 *     terminating TLS in front of the plain daemon, started here on
 *     127.0.0.1 in the temp dir and stopped by its PID: a signed webhook
 *     is taken through it, a bad signature refused, and with
 *     http.trusted_proxies = nginx the daemon sees the client nginx saw
 *     (X-Forwarded-For): an agent whose allowed_ips is 127.0.0.2 is let in
 *     from 127.0.0.2 and refused from 127.0.0.3, even when that client
 *     forges X-Forwarded-For. */
#include "og_test.h"
#include "og_util.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define AGENT_TOKEN "agent-token-0123456789abcdef"

static char *tmp;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* A self-signed certificate for 127.0.0.1 named cn: <tmp>/<name>.crt, .key */
static int make_cert(const char *name, const char *cn)
{
    return sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
              "-subj /CN=%s -addext subjectAltName=IP:127.0.0.1 -keyout %s/%s.key "
              "-out %s/%s.crt 2>/dev/null",
              cn, tmp, name, tmp, name);
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    og_buf_append(ud, p, sz * n);
    return sz * n;
}

struct req {
    const char *method, *url, *ca, *from; /* from: the local address to connect from */
    const char *headers;                  /* "A: b\n" lines */
    const char *body;
    int max_tls11; /* 1: offer TLS 1.1 at most */
};

/* Status (0 = no HTTP answer: refused, TLS failure). */
static long perform(const struct req *q)
{
    CURL *c = curl_easy_init();
    struct og_buf b = {0};
    struct curl_slist *hl = NULL;
    for (const char *p = q->headers; p && *p;) {
        size_t n = strcspn(p, "\n");
        char *h = og_strndup(p, n);
        hl = curl_slist_append(hl, h);
        free(h);
        p += n + (p[n] == '\n');
    }
    curl_easy_setopt(c, CURLOPT_URL, q->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    if (q->ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, q->ca);
    if (q->from)
        curl_easy_setopt(c, CURLOPT_INTERFACE, q->from);
    if (q->max_tls11)
        curl_easy_setopt(c, CURLOPT_SSLVERSION,
                         (long)(CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_1));
    if (q->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(q->body));
    }
    long st = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    og_buf_free(&b);
    return st;
}

static long get(const char *url, const char *ca)
{
    struct req q = {.method = "GET", .url = url, .ca = ca};
    return perform(&q);
}

static long post_signed(const char *url, const char *ca, const char *secret, const char *body)
{
    char *h = og_test_signed_headers(secret, body, strlen(body));
    struct req q = {.method = "POST", .url = url, .ca = ca, .headers = h, .body = body};
    long st = perform(&q);
    free(h);
    return st;
}

/* The daemon on config text cfg_json (its own file in d->dir), waited for
 * on base/readyz (https with ca). 0 when ready. */
static int start(struct og_test_daemon *d, const char *cfg_json, const char *scheme, const char *ca)
{
    FILE *f = fopen(d->config_path, "w");
    fputs(cfg_json, f);
    fclose(f);
    snprintf(d->base, sizeof d->base, "%s://127.0.0.1:%d", scheme, d->port);
    char *log = og_sprintf("%s/omnigate.log", d->dir);
    pid_t pid = og_test_fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY), out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(in, 0), dup2(out, 1), dup2(out, 2);
        char *bin = og_sprintf("%s/bin/omnigate", OG_BINARY_DIR);
        execl(bin, bin, "--config", d->config_path, (char *)NULL);
        _exit(127);
    }
    free(log);
    d->pid = pid;
    char *url = og_sprintf("%s/readyz", d->base);
    int ok = -1;
    for (int i = 0; i < 500 && ok != 0; i++) { /* 10 s */
        if (get(url, ca) == 200)
            ok = 0;
        else if (waitpid(pid, NULL, WNOHANG) == pid) {
            d->pid = 0;
            break;
        } else
            usleep(20000);
    }
    free(url);
    return ok;
}

static char *config(const struct og_test_daemon *d, const char *http_extra, const char *extra)
{
    return og_sprintf(
        "{\"listen\":\"127.0.0.1:%d\",\"data_dir\":\"%s/data\",\"redis\":{\"url\":\"embedded\"},"
        "\"api\":{\"admin_token\":\"%s\"},\"http\":{%s},"
        "\"channels\":[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":"
        "\"" SECRET "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]%s}\n",
        d->port, d->dir, OG_TEST_ADMIN_TOKEN, http_extra, extra ? extra : "");
}

static void daemon_init(struct og_test_daemon *d)
{
    memset(d, 0, sizeof *d);
    d->dir = og_test_tmpdir();
    d->port = og_test_free_port();
    d->config_path = og_sprintf("%s/config.json", d->dir);
}

static int log_has(const struct og_test_daemon *d, const char *needle)
{
    char *p = og_sprintf("%s/omnigate.log", d->dir);
    int found = 0;
    for (int i = 0; i < 100 && !found; i++) {
        char *t = og_test_read_file(p, NULL);
        found = t && strstr(t, needle);
        free(t);
        if (!found)
            usleep(50000);
    }
    free(p);
    return found;
}

/* ------------------------------------------------------- native TLS */

static void test_native(void)
{
    struct og_test_daemon d;
    daemon_init(&d);
    char *crt = og_sprintf("%s/a.crt", tmp), *key = og_sprintf("%s/a.key", tmp);
    char *crt2 = og_sprintf("%s/b.crt", tmp), *key2 = og_sprintf("%s/b.key", tmp);
    char *live_crt = og_sprintf("%s/live.crt", tmp), *live_key = og_sprintf("%s/live.key", tmp);
    CHECK_INT(make_cert("a", "first"), 0);
    CHECK_INT(make_cert("b", "renewed"), 0);
    CHECK_INT(sh("cp %s %s && cp %s %s", crt, live_crt, key, live_key), 0);

    /* --check: a key that is not the certificate's */
    char *http = og_sprintf("\"tls_cert\":\"%s\",\"tls_key\":\"%s\"", live_crt, key2);
    char *cfg = config(&d, http, NULL);
    FILE *f = fopen(d.config_path, "w");
    fputs(cfg, f);
    fclose(f);
    CHECK(sh("%s/bin/omnigate --config %s --check >%s/check.out 2>&1", OG_BINARY_DIR, d.config_path,
             tmp) != 0);
    char *p = og_sprintf("%s/check.out", tmp), *out = og_test_read_file(p, NULL);
    CHECK(out && strstr(out, "http.tls_cert:") != NULL);
    free(p), free(out), free(http), free(cfg);
    /* only one of the two */
    http = og_sprintf("\"tls_cert\":\"%s\"", live_crt);
    cfg = config(&d, http, NULL);
    f = fopen(d.config_path, "w");
    fputs(cfg, f);
    fclose(f);
    CHECK(sh("%s/bin/omnigate --config %s --check 2>&1 | grep -q 'tls_cert and tls_key go "
             "together'",
             OG_BINARY_DIR, d.config_path) == 0);
    free(http), free(cfg);

    http = og_sprintf("\"tls_cert\":\"%s\",\"tls_key\":\"%s\"", live_crt, live_key);
    cfg = config(&d, http, NULL);
    CHECK_INT(start(&d, cfg, "https", crt), 0);
    char *url = og_sprintf("%s/healthz", d.base);
    CHECK_INT(get(url, crt), 200);
    CHECK_INT(get(url, crt2), 0); /* not the certificate served */
    struct req old = {.method = "GET", .url = url, .ca = crt, .max_tls11 = 1};
    CHECK_INT(perform(&old), 0);
    char *plain = og_sprintf("http://127.0.0.1:%d/healthz", d.port);
    CHECK(get(plain, NULL) != 200);
    char *hook = og_sprintf("%s/hooks/demo", d.base);
    CHECK_INT(
        post_signed(hook, crt, SECRET, "{\"id\":\"t1\",\"from\":{\"id\":\"u1\"},\"text\":\"hi\"}"),
        200);
    CHECK_INT(
        post_signed(hook, crt, "wrong", "{\"id\":\"t2\",\"from\":{\"id\":\"u1\"},\"text\":\"x\"}"),
        401);

    /* renewal: the new pair over the files, SIGHUP */
    CHECK_INT(sh("cp %s %s && cp %s %s", crt2, live_crt, key2, live_key), 0);
    CHECK_INT(get(url, crt2), 0); /* not before the signal */
    CHECK_INT(kill(d.pid, SIGHUP), 0);
    CHECK(log_has(&d, "SIGHUP: certificate loaded"));
    CHECK_INT(get(url, crt2), 200);
    CHECK_INT(get(url, crt), 0);
    /* a broken renewal (the key of the other certificate): the pair in use stays */
    CHECK_INT(sh("cp %s %s", key, live_key), 0);
    CHECK_INT(kill(d.pid, SIGHUP), 0);
    CHECK(log_has(&d, "the certificate in use stays"));
    CHECK_INT(get(url, crt2), 200);

    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    free(crt), free(key), free(crt2), free(key2), free(live_crt), free(live_key);
    free(http), free(cfg), free(url), free(plain), free(hook);
}

/* ------------------------------------------------------------ nginx */

struct nginx {
    pid_t pid;
    int port;
    char *dir;
};

/* The recipe of docs/operations.md, in a temp dir (no system path is
 * touched: -p, -e and every *_temp_path point there). */
static int nginx_start(struct nginx *n, int upstream)
{
    n->dir = og_test_tmpdir();
    n->port = og_test_free_port();
    char *conf = og_sprintf("%s/nginx.conf", n->dir);
    FILE *f = fopen(conf, "w");
    fprintf(f,
            "worker_processes 1;\n"
            "pid %s/nginx.pid;\n"
            "error_log %s/error.log warn;\n"
            "events { worker_connections 64; }\n"
            "http {\n"
            "  access_log off;\n"
            "  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
            "  fastcgi_temp_path %s/fcgi;\n  uwsgi_temp_path %s/uwsgi;\n"
            "  scgi_temp_path %s/scgi;\n"
            "  upstream omnigate { server 127.0.0.1:%d; keepalive 16; }\n"
            "  server {\n"
            "    listen 127.0.0.1:%d ssl;\n"
            "    ssl_certificate %s/a.crt;\n    ssl_certificate_key %s/a.key;\n"
            "    ssl_protocols TLSv1.2 TLSv1.3;\n"
            "    client_max_body_size 1m;\n"
            "    location / {\n"
            "      proxy_pass http://omnigate;\n"
            "      proxy_http_version 1.1;\n"
            "      proxy_set_header Connection \"\";\n"
            "      proxy_set_header Host $host;\n"
            "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            "      proxy_set_header X-Forwarded-Proto $scheme;\n"
            "      proxy_buffering off;\n"
            "      proxy_read_timeout 1h;\n"
            "    }\n"
            "  }\n"
            "}\n",
            n->dir, n->dir, n->dir, n->dir, n->dir, n->dir, n->dir, upstream, n->port, tmp, tmp);
    fclose(f);
    char *err = og_sprintf("%s/error.log", n->dir);
    pid_t pid = og_test_fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY), out = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(in, 0), dup2(out, 1), dup2(out, 2);
        execlp("nginx", "nginx", "-p", n->dir, "-e", err, "-c", conf, "-g", "daemon off;",
               (char *)NULL);
        _exit(127);
    }
    free(conf);
    n->pid = pid;
    char *url = og_sprintf("https://127.0.0.1:%d/healthz", n->port),
         *ca = og_sprintf("%s/a.crt", tmp);
    int ok = -1;
    for (int i = 0; i < 250 && ok != 0; i++) {
        if (get(url, ca) == 200)
            ok = 0;
        else if (waitpid(pid, NULL, WNOHANG) == pid) {
            n->pid = 0;
            break;
        } else
            usleep(20000);
    }
    if (ok != 0) {
        char *t = og_test_read_file(err, NULL);
        fprintf(stderr, "nginx did not come up; its log:\n%s\n", t ? t : "(none)");
        free(t);
    }
    free(url), free(ca), free(err);
    return ok;
}

static void nginx_stop(struct nginx *n)
{
    if (n->pid > 0) {
        kill(n->pid, SIGQUIT); /* graceful: the master stops its workers */
        int st;
        for (int i = 0; i < 500; i++) {
            if (waitpid(n->pid, &st, WNOHANG) == n->pid)
                break;
            usleep(10000);
            if (i == 499) {
                kill(n->pid, SIGKILL);
                waitpid(n->pid, &st, 0);
            }
        }
        n->pid = 0;
    }
    og_test_rmdir(n->dir);
    free(n->dir);
}

static long agent_get(const struct nginx *n, const char *from, const char *xff)
{
    char *url = og_sprintf("https://127.0.0.1:%d/api/v1/sessions", n->port);
    char *ca = og_sprintf("%s/a.crt", tmp);
    char *h = og_sprintf("Authorization: Bearer " AGENT_TOKEN "%s%s",
                         xff ? "\nX-Forwarded-For: " : "", xff ? xff : "");
    struct req q = {.method = "GET", .url = url, .ca = ca, .from = from, .headers = h};
    long st = perform(&q);
    free(url), free(ca), free(h);
    return st;
}

static void test_nginx(void)
{
    struct og_test_daemon d;
    daemon_init(&d);
    char *cfg =
        config(&d, "\"trusted_proxies\":[\"127.0.0.1\"]",
               ",\"agents\":[{\"name\":\"Ann\",\"email\":\"ann@example.com\",\"role\":"
               "\"agent\",\"allowed_ips\":[\"127.0.0.2/32\"],\"token\":\"" AGENT_TOKEN "\"}]");
    CHECK_INT(start(&d, cfg, "http", NULL), 0);
    free(cfg);
    struct nginx n = {0};
    CHECK_INT(nginx_start(&n, d.port), 0);
    if (n.pid > 0) {
        char *hook = og_sprintf("https://127.0.0.1:%d/hooks/demo", n.port);
        char *ca = og_sprintf("%s/a.crt", tmp);
        CHECK_INT(post_signed(hook, ca, SECRET,
                              "{\"id\":\"n1\",\"from\":{\"id\":\"u9\"},\"text\":\"via nginx\"}"),
                  200);
        CHECK_INT(post_signed(hook, ca, "wrong",
                              "{\"id\":\"n2\",\"from\":{\"id\":\"u9\"},\"text\":\"forged\"}"),
                  401);
        long st;
        json_object *j = og_test_api_get(&d, "/api/v1/sessions?channel=demo", &st), *items = NULL;
        CHECK_INT(st, 200);
        CHECK(json_object_object_get_ex(j, "items", &items) &&
              json_object_array_length(items) == 1);
        json_object_put(j);
        /* the agent is seeded by the routing worker: wait for it, from 127.0.0.2 */
        long ok = 0;
        for (int i = 0; i < 100 && ok != 200; i++) {
            ok = agent_get(&n, "127.0.0.2", NULL);
            if (ok != 200)
                usleep(50000);
        }
        CHECK_INT(ok, 200);
        CHECK_INT(agent_get(&n, "127.0.0.3", NULL), 403);
        CHECK_INT(agent_get(&n, "127.0.0.3", "127.0.0.2"), 403); /* forged: nginx appends */
        /* the daemon's access log names the client nginx saw */
        CHECK(log_has(&d, "from 127.0.0.3"));
        free(hook), free(ca);
    }
    nginx_stop(&n);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tmp = og_test_tmpdir();
    test_native();
    test_nginx();
    og_test_rmdir(tmp);
    free(tmp);
    curl_global_cleanup();
    return og_test_done();
}
