/* og_test_daemon - runs the real omnigate binary for end-to-end tests; see
 * og_test.h. The daemon is started with fork/exec and stopped by its PID. */
#include "og_test.h"
#include "og_util.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    og_buf_append(ud, p, sz * n);
    return sz * n;
}

static struct og_test_resp perform(const char *method, const char *url, const char *headers,
                                   const char *body, size_t len, struct og_buf *got)
{
    struct og_test_resp r = {0};
    struct og_buf b = {0};
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    for (const char *p = headers; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *h = og_strndup(p, n);
        hl = curl_slist_append(hl, h);
        free(h);
        p += n + (nl ? 1 : 0);
    }
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (got) {
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, got);
    }
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (method && strcmp(method, "GET") != 0 && !(body && strcmp(method, "POST") == 0))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (!b.data)
        og_buf_append(&b, "", 0);
    r.body = b.data;
    return r;
}

struct og_test_resp og_test_http(const char *method, const char *url, const char *headers,
                                 const char *body, size_t len)
{
    return perform(method, url, headers, body, len, NULL);
}

struct og_test_resp og_test_http_headers(const char *method, const char *url, const char *headers,
                                         const char *body, size_t len, char **got)
{
    struct og_buf h = {0};
    struct og_test_resp r = perform(method, url, headers, body, len, &h);
    if (!h.data)
        og_buf_append(&h, "", 0);
    *got = h.data;
    return r;
}

json_object *og_test_api_get(const struct og_test_daemon *d, const char *path, long *status)
{
    char *url = og_sprintf("%s%s", d->base, path);
    struct og_test_resp r =
        og_test_http("GET", url, "Authorization: Bearer " OG_TEST_ADMIN_TOKEN, NULL, 0);
    free(url);
    if (status)
        *status = r.status;
    json_object *j = json_tokener_parse(r.body);
    free(r.body);
    return j;
}

/* One pass of og_test_render_agrees; quiet: no print on a difference. */
static int render_agrees(const struct og_test_daemon *d, int quiet)
{
    const char *auth = "Authorization: Bearer " OG_TEST_ADMIN_TOKEN;
    char *cursor = NULL;
    int n = 0;
    do {
        char *url = cursor ? og_sprintf("%s/api/v1/sessions?limit=100&cursor=%s", d->base, cursor)
                           : og_sprintf("%s/api/v1/sessions?limit=100", d->base);
        free(cursor), cursor = NULL;
        struct og_test_resp l = og_test_http("GET", url, auth, NULL, 0);
        free(url);
        json_object *j = json_tokener_parse(l.body), *items = NULL, *next = NULL;
        if (l.status != 200 || !json_object_object_get_ex(j, "items", &items)) {
            fprintf(stderr, "render: the list answered %ld: %s\n", l.status, l.body);
            n = -1;
        }
        for (size_t i = 0; n >= 0 && i < json_object_array_length(items); i++) {
            json_object *id = json_object_object_get(json_object_array_get_idx(items, i), "id");
            char *u = og_sprintf("%s/api/v1/sessions/%s", d->base, json_object_get_string(id));
            struct og_test_resp one = og_test_http("GET", u, auth, NULL, 0);
            free(u);
            if (one.status != 200 || !strstr(l.body, one.body)) {
                if (!quiet)
                    fprintf(stderr,
                            "render: session %s differs\n  sessions.lua: %s\n  the list:     %s\n",
                            json_object_get_string(id), one.body, l.body);
                n = -1;
            } else {
                n++;
            }
            free(one.body);
        }
        if (n >= 0 && json_object_object_get_ex(j, "next_cursor", &next) &&
            json_object_is_type(next, json_type_string))
            cursor = og_strdup(json_object_get_string(next));
        json_object_put(j);
        free(l.body);
    } while (cursor);
    return n;
}

/* All of a session's messages pages, concatenated. [xfer] */
static char *all_messages(const struct og_test_daemon *d, const char *sid)
{
    const char *auth = "Authorization: Bearer " OG_TEST_ADMIN_TOKEN;
    struct og_buf all = {0};
    char *cursor = NULL;
    do {
        char *url = og_sprintf("%s/api/v1/sessions/%s/messages?limit=100%s%s", d->base, sid,
                               cursor ? "&cursor=" : "", cursor ? cursor : "");
        free(cursor), cursor = NULL;
        struct og_test_resp p = og_test_http("GET", url, auth, NULL, 0);
        free(url);
        og_buf_puts(&all, p.body);
        json_object *j = json_tokener_parse(p.body), *next = NULL;
        if (json_object_object_get_ex(j, "next_cursor", &next) &&
            json_object_is_type(next, json_type_string))
            cursor = og_strdup(json_object_get_string(next));
        json_object_put(j);
        free(p.body);
    } while (cursor);
    return all.data ? all.data : og_strdup("");
}

int og_test_messages_agree(const struct og_test_daemon *d, int redis_port)
{
    redisContext *rc = redisConnect("127.0.0.1", redis_port);
    redisReply *r = rc && !rc->err ? redisCommand(rc, "XRANGE {og}:events - +") : NULL;
    int n = r && r->type == REDIS_REPLY_ARRAY ? 0 : -1;
    for (size_t i = 0; n >= 0 && i < r->elements; i++) {
        /* an entry: id, [id, <eid>, type, <type>, session, <sid>, event, <json>] */
        const redisReply *f = r->element[i]->element[1];
        const char *type = NULL, *sid = NULL, *ev = NULL;
        for (size_t k = 0; k + 1 < f->elements; k += 2) {
            const char *name = f->element[k]->str, *v = f->element[k + 1]->str;
            if (!strcmp(name, "type"))
                type = v;
            else if (!strcmp(name, "session"))
                sid = v;
            else if (!strcmp(name, "event"))
                ev = v;
        }
        if (!type || strcmp(type, "message.received") != 0 || !sid || !ev)
            continue;
        /* {"id":..,"data":{"session":..,"message":<the message>}} */
        const char *m = strstr(ev, ",\"message\":{\"id\":\"msg_");
        if (!m || strlen(ev) < 2) {
            fprintf(stderr, "messages: event without a message: %s\n", ev);
            n = -1;
            break;
        }
        m += strlen(",\"message\":");
        char *want = og_strndup(m, strlen(m) - 2);
        char *pages = all_messages(d, sid);
        if (!strstr(pages, want)) {
            fprintf(stderr, "messages: in %s\n  the event: %s\n  the pages: %s\n", sid, want,
                    pages);
            n = -1;
        } else {
            n++;
        }
        free(want), free(pages);
    }
    if (r)
        freeReplyObject(r);
    if (rc)
        redisFree(rc);
    return n;
}

int og_test_render_agrees(const struct og_test_daemon *d)
{
    /* a session a timer changes between the list and its GET differs for a
     * moment (routing, auto-forward); a renderer that differs always does */
    for (int i = 0; i < 4; i++) {
        int n = render_agrees(d, i < 3);
        if (n >= 0 || i == 3)
            return n;
        usleep(200 * 1000);
    }
    return -1;
}

static int spawn(struct og_test_daemon *d)
{
    /* OG_TEST_OMNIGATE runs another build's daemon (a bench's before/after). */
    const char *other = getenv("OG_TEST_OMNIGATE");
    char *bin = other && *other ? og_strdup(other) : og_sprintf("%s/bin/omnigate", OG_BINARY_DIR);
    char *log = og_sprintf("%s/omnigate.log", d->dir);
    pid_t pid = og_test_fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(in, 0), dup2(out, 1), dup2(out, 2);
        execl(bin, bin, "--config", d->config_path, (char *)NULL);
        _exit(127);
    }
    free(bin);
    free(log);
    d->pid = pid;
    for (int i = 0; i < 1000; i++) { /* 10 s */
        char *url = og_sprintf("%s/readyz", d->base);
        struct og_test_resp r = og_test_http("GET", url, NULL, NULL, 0);
        free(url);
        free(r.body);
        if (r.status == 200)
            return 0;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            d->pid = 0;
            break;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    char *logp = og_sprintf("%s/omnigate.log", d->dir);
    char *text = og_test_read_file(logp, NULL);
    fprintf(stderr, "omnigate did not become ready; its log:\n%s\n", text ? text : "(none)");
    free(text);
    free(logp);
    return -1;
}

int og_test_daemon_start(struct og_test_daemon *d, const char *redis_url, const char *channels_json,
                         const char *extra_json)
{
    memset(d, 0, sizeof *d);
    d->dir = og_test_tmpdir();
    d->port = og_test_free_port();
    snprintf(d->base, sizeof d->base, "http://127.0.0.1:%d", d->port);
    d->config_path = og_sprintf("%s/config.json", d->dir);
    FILE *f = fopen(d->config_path, "w");
    if (!f)
        return -1;
    /* redis_url: a URL, or a whole "redis" object's JSON text */
    char *redis =
        redis_url[0] == '{' ? og_strdup(redis_url) : og_sprintf("{\"url\":\"%s\"}", redis_url);
    fprintf(f,
            "{\"listen\":\"127.0.0.1:%d\",\"data_dir\":\"%s/data\",\"log_level\":\"info\","
            "\"redis\":%s,\"api\":{\"admin_token\":\"%s\"},\"channels\":%s%s%s}\n",
            d->port, d->dir, redis, OG_TEST_ADMIN_TOKEN, channels_json ? channels_json : "[]",
            extra_json ? "," : "", extra_json ? extra_json : "");
    free(redis);
    fclose(f);
    return spawn(d);
}

int og_test_daemon_restart(struct og_test_daemon *d)
{
    return spawn(d);
}

int og_test_daemon_stop(struct og_test_daemon *d)
{
    int st = -1;
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        for (int i = 0; i < 1500; i++) { /* 15 s, then give up and kill */
            if (waitpid(d->pid, &st, WNOHANG) == d->pid)
                break;
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
            if (i == 1499) {
                kill(d->pid, SIGKILL);
                waitpid(d->pid, &st, 0);
            }
        }
        d->pid = 0;
    }
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    if (rc != 0 && d->dir) {
        /* an unclean stop (a sanitizer's report, an abort): show why before
         * the test's directory, and the log with it, is removed */
        char *path = og_sprintf("%s/omnigate.log", d->dir);
        FILE *f = fopen(path, "r");
        if (f) {
            fprintf(stderr, "---- omnigate.log (the daemon stopped with %d)\n", rc);
            char line[1024];
            while (fgets(line, sizeof line, f))
                fputs(line, stderr);
            fclose(f);
        }
        free(path);
    }
    return rc;
}

void og_test_daemon_kill(struct og_test_daemon *d)
{
    if (d->pid > 0) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
        d->pid = 0;
    }
}

int og_test_daemon_wait_killed(struct og_test_daemon *d, int limit_ms)
{
    int status = 0, died = 0;
    for (int waited = 0; d->pid > 0 && !died && waited <= limit_ms; waited += 10) {
        died = waitpid(d->pid, &status, WNOHANG) == d->pid;
        if (!died)
            usleep(10000);
    }
    if (died) {
        d->pid = 0;
        return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : -1;
    }
    og_test_daemon_stop(d);
    return -1;
}

void og_test_daemon_free(struct og_test_daemon *d)
{
    if (d->pid > 0)
        og_test_daemon_kill(d);
    og_test_rmdir(d->dir);
    free(d->dir);
    free(d->config_path);
    d->dir = d->config_path = NULL;
}

char *og_test_signed_headers(const char *secret, const char *body, size_t len)
{
    unsigned char mac[32];
    char hex[65];
    og_hmac_sha256(secret, strlen(secret), body, len, mac);
    og_hex_encode(mac, 32, hex, sizeof hex);
    return og_sprintf("X-Signature: sha256=%s\nContent-Type: application/json", hex);
}

long og_test_post_signed(const struct og_test_daemon *d, const char *channel, const char *secret,
                         const char *body, size_t len)
{
    char *h = og_test_signed_headers(secret, body, len);
    char *url = og_sprintf("%s/hooks/%s", d->base, channel);
    struct og_test_resp r = og_test_http("POST", url, h, body, len);
    free(h), free(url), free(r.body);
    return r.status;
}

int og_test_s3rver_start(struct og_test_s3rver *s, const char *dir, const char *bucket)
{
    memset(s, 0, sizeof *s);
    s->pid = -1;
    const char *node = getenv("OG_NODE") && *getenv("OG_NODE") ? getenv("OG_NODE") : "node";
    char *script = og_test_src("tests/s3/s3rver.cjs");
    char *mods = og_test_src("tests/s3/node_modules/s3rver");
    struct stat st;
    if (stat(mods, &st) != 0) {
        fprintf(stderr, "s3rver is not installed: run `make deps-s3` (npm ci in tests/s3)\n");
        free(script), free(mods);
        return -1;
    }
    char *data = og_sprintf("%s/s3", dir), *out = og_sprintf("%s/s3rver.out", dir);
    mkdir(data, 0700);
    s->pid = og_test_fork();
    if (s->pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1), dup2(fd, 2);
        execlp(node, node, script, data, bucket, (char *)NULL);
        _exit(127);
    }
    int port = 0;
    for (int i = 0; i < 200 && !port && s->pid > 0; i++) { /* at most 10 s */
        usleep(50000);
        char *text = og_test_read_file(out, NULL);
        if (text && !strncmp(text, "port ", 5))
            port = atoi(text + 5);
        free(text);
    }
    free(script), free(mods), free(data), free(out);
    if (!port)
        return -1;
    snprintf(s->endpoint, sizeof s->endpoint, "http://127.0.0.1:%d", port);
    return 0;
}

void og_test_s3rver_stop(struct og_test_s3rver *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 100; i++) { /* at most 5 s, then SIGKILL */
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = -1;
            return;
        }
        usleep(50000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = -1;
}
