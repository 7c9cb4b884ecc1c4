/* og_test - see og_test.h. */
#include "og_test.h"
#include "og_channel.h"
#include "og_core.h"
#include "og_model.h"
#include "og_plugin.h"
#include "og_reply.h"
#include "og_sessions.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int og_test_passed, og_test_failed;

int og_test_done(void)
{
    printf("%d passed, %d failed\n", og_test_passed, og_test_failed);
    return og_test_failed ? 1 : 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

char *og_test_tmpdir(void)
{
    char tmpl[] = "/tmp/omnigate-test-XXXXXX";
    if (!mkdtemp(tmpl)) {
        perror("mkdtemp");
        exit(2);
    }
    chmod(tmpl, 0755);
    return og_strdup(tmpl);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

void og_test_rmdir(const char *dir)
{
    if (dir && strncmp(dir, "/tmp/omnigate-test-", 19) == 0)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

pid_t og_test_fork(void)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) /* the test ended before prctl */
            _exit(127);
    }
    return pid;
}

int og_test_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &l) != 0) {
        perror("free port");
        exit(2);
    }
    int port = ntohs(a.sin_port);
    close(s);
    return port;
}

char *og_test_src(const char *rel)
{
    return og_sprintf("%s/%s", OG_SOURCE_DIR, rel);
}

char *og_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct og_buf b = {0};
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        og_buf_append(&b, tmp, n);
    fclose(f);
    if (!b.data)
        og_buf_append(&b, "", 0);
    if (len)
        *len = b.len;
    return b.data;
}

char *og_test_read_src(const char *rel, size_t *len)
{
    char *path = og_test_src(rel);
    char *s = og_test_read_file(path, len);
    free(path);
    return s;
}

int og_test_wait_file(const char *path, const char *needle, int ms)
{
    for (int waited = 0;; waited += 10) {
        char *text = og_test_read_file(path, NULL);
        int seen = text && strstr(text, needle) != NULL;
        free(text);
        if (seen || waited >= ms)
            return seen;
        usleep(10 * 1000);
    }
}

/* ------------------------------------------------------------ redis-server */

static int redis_spawn(struct og_test_redis *r)
{
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    char *log = og_sprintf("%s/redis.log", r->dir);
    pid_t pid = og_test_fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
        char *args[64] = {"redis-server",
                          "--bind",
                          "127.0.0.1",
                          "--port",
                          port,
                          "--dir",
                          r->dir,
                          "--appendonly",
                          "yes",
                          "--appendfsync",
                          "everysec",
                          "--save",
                          "",
                          "--daemonize",
                          "no",
                          "--logfile",
                          log};
        int n = 17;
        char *extra = og_strdup(r->extra);
        for (char *t = strtok(extra, " "); t && n < 63; t = strtok(NULL, " "))
            args[n++] = t;
        args[n] = NULL;
        execvp("redis-server", args);
        _exit(127);
    }
    free(log);
    r->pid = pid;
    for (int i = 0; i < 500; i++) {
        char *out = og_test_redis_cli(r, "PING");
        int ok = out && strstr(out, "PONG");
        free(out);
        if (ok)
            return 0;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            r->pid = 0;
            return -1;
        }
        sleep_ms(10);
    }
    return -1;
}

struct og_core *og_test_core_new(const struct og_test_redis *r, const char *prefix, int pool)
{
    return og_test_core_new_routing(r, prefix, pool, NULL);
}

struct og_core *og_test_core_new_routing(const struct og_test_redis *r, const char *prefix,
                                         int pool, const struct og_routing_opts *routing)
{
    struct og_core_opts co = {
        .redis_url = r->url, .pool_size = pool, .prefix = prefix, .routing = routing};
    char err[256];
    struct og_core *c = og_core_new(&co, err, sizeof err);
    if (!c)
        fprintf(stderr, "og_core_new: %s\n", err);
    return c;
}

int og_test_redis_start(struct og_test_redis *r)
{
    return og_test_redis_start_with(r, NULL);
}

int og_test_redis_start_with(struct og_test_redis *r, const char *extra)
{
    memset(r, 0, sizeof *r);
    snprintf(r->extra, sizeof r->extra, "%s", extra ? extra : "");
    r->dir = og_test_tmpdir();
    r->port = og_test_free_port();
    snprintf(r->url, sizeof r->url, "redis://127.0.0.1:%d", r->port);
    return redis_spawn(r);
}

int og_test_redis_restart(struct og_test_redis *r)
{
    return redis_spawn(r);
}

void og_test_redis_kill(struct og_test_redis *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

void og_test_redis_stop(struct og_test_redis *r)
{
    if (r->pid > 0) {
        /* redis-server refuses a SIGTERM while it writes its first AOF
         * ("Writing initial AOF, can't exit"): asked again each second,
         * killed after 10 s, never waited on for ever */
        int gone = 0;
        for (int i = 0; i < 100 && !gone; i++) {
            if (i % 10 == 0)
                kill(r->pid, SIGTERM);
            gone = waitpid(r->pid, NULL, WNOHANG) == r->pid;
            if (!gone)
                sleep_ms(100);
        }
        if (!gone) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, NULL, 0);
        }
        r->pid = 0;
    }
    og_test_rmdir(r->dir);
    free(r->dir);
    r->dir = NULL;
}

char *og_test_redis_cli(struct og_test_redis *r, const char *args)
{
    char *cmd = og_sprintf("redis-cli -h 127.0.0.1 -p %d %s 2>/dev/null", r->port, args);
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p)
        return NULL;
    struct og_buf b = {0};
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, p)) > 0)
        og_buf_append(&b, tmp, n);
    pclose(p);
    if (!b.data)
        og_buf_append(&b, "", 0);
    return b.data;
}

char *og_test_redis_line(struct og_test_redis *r, const char *fmt, ...)
{
    char args[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *o = og_test_redis_cli(r, args);
    if (o)
        o[strcspn(o, "\r\n")] = 0;
    return o ? o : og_strdup("");
}

/* --------------------------------------------------- fake platform server */

struct fake_resp_owned {
    int status, delay_ms;
    char *body, *content_type, *headers;
};

struct og_fake {
    struct MHD_Daemon *d;
    int port;
    char base[64];
    pthread_mutex_t mu;
    struct og_fake_req *reqs;
    size_t n, cap;
    struct fake_resp_owned *queue;
    size_t qn, qhead;
    struct fake_resp_owned def;
    og_fake_handler handler;
    void *ud;
    struct fake_file *files; /* og_fake_add_file */
    size_t n_files;
};

struct fake_file {
    char *path;
    char *data;
    size_t len;
};

struct fake_conn {
    struct og_buf body;
};

static void own_resp(struct fake_resp_owned *o, const struct og_fake_resp *r)
{
    o->status = r->status ? r->status : 200;
    o->delay_ms = r->delay_ms;
    o->body = og_strdup(r->body ? r->body : "");
    o->content_type = og_strdup(r->content_type ? r->content_type : "application/json");
    o->headers = og_strdup(r->headers);
}

static void free_resp(struct fake_resp_owned *o)
{
    free(o->body), free(o->content_type), free(o->headers);
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *k,
                                      const char *v)
{
    struct og_buf *b = cls;
    for (const char *p = k; *p; p++) {
        char c = (char)tolower((unsigned char)*p);
        og_buf_append(b, &c, 1);
    }
    og_buf_printf(b, ": %s\n", v ? v : "");
    return MHD_YES;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    struct og_buf *b = cls;
    og_buf_printf(b, "%s%s=%s", b->len ? "&" : "", k, v ? v : "");
    return MHD_YES;
}

static enum MHD_Result fake_access(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload,
                                   size_t *upload_size, void **con_cls)
{
    struct og_fake *f = cls;
    struct fake_conn *fc = *con_cls;
    if (!fc) {
        fc = og_calloc(1, sizeof *fc);
        *con_cls = fc;
        return MHD_YES;
    }
    if (*upload_size) {
        og_buf_append(&fc->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    struct og_fake_req rq = {0};
    struct og_buf h = {0}, q = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &h);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
    rq.method = og_strdup(method);
    rq.url = q.len ? og_sprintf("%s?%s", url, q.data) : og_strdup(url);
    rq.headers = h.data ? h.data : og_strdup("");
    rq.body = fc->body.data ? fc->body.data : og_strdup("");
    rq.body_len = fc->body.len;
    fc->body.data = NULL;
    og_buf_free(&q);

    struct fake_resp_owned r = {0};
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n_files; i++) {
        if (strcmp(f->files[i].path, url) != 0)
            continue;
        struct MHD_Response *fr = MHD_create_response_from_buffer(f->files[i].len, f->files[i].data,
                                                                  MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(fr, "Content-Type", "application/octet-stream");
        if (f->n == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 16;
            f->reqs = og_realloc(f->reqs, f->cap * sizeof *f->reqs);
        }
        f->reqs[f->n++] = rq;
        pthread_mutex_unlock(&f->mu);
        enum MHD_Result fret = MHD_queue_response(conn, 200, fr);
        MHD_destroy_response(fr);
        return fret;
    }
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->reqs = og_realloc(f->reqs, f->cap * sizeof *f->reqs);
    }
    f->reqs[f->n++] = rq;
    int have = 0;
    if (f->qhead < f->qn) {
        r = f->queue[f->qhead++];
        have = 1;
    }
    og_fake_handler hd = f->handler;
    void *ud = f->ud;
    pthread_mutex_unlock(&f->mu);
    if (!have && hd) {
        struct og_fake_resp hr = {0};
        if (hd(ud, &rq, &hr)) {
            own_resp(&r, &hr);
            have = 1;
        }
    }
    if (!have) {
        pthread_mutex_lock(&f->mu);
        struct og_fake_resp d = {f->def.status, f->def.body, f->def.content_type, f->def.headers,
                                 f->def.delay_ms};
        own_resp(&r, &d);
        pthread_mutex_unlock(&f->mu);
    }
    if (r.delay_ms > 0)
        sleep_ms(r.delay_ms);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(r.body), r.body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", r.content_type);
    for (char *line = r.headers; line && *line;) {
        char *nl = strchr(line, '\n');
        char *end = nl ? nl : line + strlen(line);
        char *colon = memchr(line, ':', (size_t)(end - line));
        if (colon) {
            char *name = og_strndup(line, (size_t)(colon - line));
            char *val = colon + 1;
            while (*val == ' ')
                val++;
            char *v = og_strndup(val, (size_t)(end - val));
            MHD_add_response_header(resp, name, v);
            free(name), free(v);
        }
        line = nl ? nl + 1 : end;
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r.status, resp);
    MHD_destroy_response(resp);
    free_resp(&r);
    return ret;
}

static void fake_done(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode t)
{
    struct fake_conn *fc = *con_cls;
    if (fc) {
        og_buf_free(&fc->body);
        free(fc);
    }
    *con_cls = NULL;
}

struct og_fake *og_fake_start(void)
{
    struct og_fake *f = og_calloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    struct og_fake_resp d = {200, "{}", "application/json", NULL, 0};
    own_resp(&f->def, &d);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
                            fake_access, f, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                            MHD_OPTION_NOTIFY_COMPLETED, fake_done, f, MHD_OPTION_THREAD_POOL_SIZE,
                            4u, MHD_OPTION_END);
    if (!f->d) {
        fprintf(stderr, "fake server failed to start\n");
        exit(2);
    }
    f->port = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", f->port);
    return f;
}

int og_fake_port(const struct og_fake *f)
{
    return f->port;
}
const char *og_fake_base(const struct og_fake *f)
{
    return f->base;
}

void og_fake_push(struct og_fake *f, const struct og_fake_resp *resp)
{
    pthread_mutex_lock(&f->mu);
    f->queue = og_realloc(f->queue, (f->qn + 1) * sizeof *f->queue);
    own_resp(&f->queue[f->qn++], resp);
    pthread_mutex_unlock(&f->mu);
}

void og_fake_set_default(struct og_fake *f, const struct og_fake_resp *resp)
{
    pthread_mutex_lock(&f->mu);
    free_resp(&f->def);
    own_resp(&f->def, resp);
    pthread_mutex_unlock(&f->mu);
}

void og_fake_set_handler(struct og_fake *f, og_fake_handler h, void *ud)
{
    pthread_mutex_lock(&f->mu);
    f->handler = h;
    f->ud = ud;
    pthread_mutex_unlock(&f->mu);
}

size_t og_fake_count(struct og_fake *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->n;
    pthread_mutex_unlock(&f->mu);
    return n;
}

const struct og_fake_req *og_fake_get(struct og_fake *f, size_t i)
{
    pthread_mutex_lock(&f->mu);
    const struct og_fake_req *r = i < f->n ? &f->reqs[i] : NULL;
    pthread_mutex_unlock(&f->mu);
    return r;
}

char *og_fake_find_body(struct og_fake *f, const char *url_part)
{
    char *out = NULL;
    pthread_mutex_lock(&f->mu);
    for (size_t i = f->n; i > 0 && !out; i--)
        if (strstr(f->reqs[i - 1].url, url_part))
            out = og_strdup(f->reqs[i - 1].body ? f->reqs[i - 1].body : "");
    pthread_mutex_unlock(&f->mu);
    return out;
}

const char *og_fake_header(const struct og_fake_req *r, const char *name, char *buf, size_t n)
{
    size_t nl = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strchr(p, '\n');
        if (!eol)
            eol = p + strlen(p);
        if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(buf, n, "%.*s", (int)(eol - v), v);
            return buf;
        }
        p = *eol ? eol + 1 : eol;
    }
    return NULL;
}

static void clear_reqs(struct og_fake *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->reqs[i].method), free(f->reqs[i].url);
        free(f->reqs[i].headers), free(f->reqs[i].body);
    }
    f->n = 0;
    for (size_t i = f->qhead; i < f->qn; i++)
        free_resp(&f->queue[i]);
    f->qn = f->qhead = 0;
}

void og_fake_reset(struct og_fake *f)
{
    pthread_mutex_lock(&f->mu);
    clear_reqs(f);
    pthread_mutex_unlock(&f->mu);
}

void og_fake_add_file(struct og_fake *f, const char *path, const void *data, size_t len)
{
    pthread_mutex_lock(&f->mu);
    f->files = og_realloc(f->files, (f->n_files + 1) * sizeof *f->files);
    struct fake_file *ff = &f->files[f->n_files++];
    ff->path = og_strdup(path);
    ff->data = og_malloc(len ? len : 1);
    memcpy(ff->data, data, len);
    ff->len = len;
    pthread_mutex_unlock(&f->mu);
}

void og_fake_stop(struct og_fake *f)
{
    if (!f)
        return;
    MHD_stop_daemon(f->d);
    for (size_t i = 0; i < f->n_files; i++)
        free(f->files[i].path), free(f->files[i].data);
    free(f->files);
    clear_reqs(f);
    free(f->reqs);
    free(f->queue);
    free_resp(&f->def);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* ----------------------------------------------------- connector harness */

struct kv {
    char *k, *v;
};
static pthread_mutex_t state_mu = PTHREAD_MUTEX_INITIALIZER;
static struct kv *state;
static size_t nstate;

const char *og_test_state_get(const char *key)
{
    const char *v = NULL;
    pthread_mutex_lock(&state_mu);
    for (size_t i = 0; i < nstate; i++)
        if (strcmp(state[i].k, key) == 0)
            v = state[i].v;
    pthread_mutex_unlock(&state_mu);
    return v;
}

struct og_test_conn {
    struct og_plugin *plugin;
    struct og_channel *ch;
    pthread_mutex_t mu;
    json_object *msgs, *stats;
    int fail_n;
    og_err fail_err;
    struct og_test_http last;
};

static json_object *jstr_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static int take_failure(struct og_test_conn *c, og_err *e)
{
    int f = 0;
    pthread_mutex_lock(&c->mu);
    if (c->fail_n > 0) {
        c->fail_n--;
        *e = c->fail_err;
        f = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return f;
}

static og_err rec_message(void *ud, struct og_channel *ch, const struct og_inbound *m)
{
    struct og_test_conn *c = ud;
    og_err fe;
    if (take_failure(c, &fe))
        return fe;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "dedup_key", jstr_or_null(m->dedup_key));
    json_object_object_add(o, "provider_message_id", jstr_or_null(m->provider_message_id));
    json_object_object_add(o, "thread_id", jstr_or_null(m->thread_id));
    json_object *from = json_object_new_object();
    json_object_object_add(from, "external_id", jstr_or_null(m->from.external_id));
    json_object_object_add(from, "name", jstr_or_null(m->from.name));
    json_object_object_add(from, "username", jstr_or_null(m->from.username));
    json_object_object_add(from, "avatar_url", jstr_or_null(m->from.avatar_url));
    json_object_object_add(from, "phone", jstr_or_null(m->from.phone));
    json_object_object_add(from, "email", jstr_or_null(m->from.email));
    json_object_object_add(o, "from", from);
    json_object_object_add(o, "kind", json_object_new_string(og_kind_name(m->kind)));
    json_object_object_add(o, "text", jstr_or_null(m->text));
    json_object *atts = json_object_new_array();
    for (size_t i = 0; i < m->n_attachments; i++) {
        const struct og_attachment *a = &m->attachments[i];
        json_object *ao = json_object_new_object();
        json_object_object_add(ao, "url", jstr_or_null(a->url));
        json_object_object_add(ao, "media_id", jstr_or_null(a->media_id));
        json_object_object_add(ao, "mime_type", jstr_or_null(a->mime_type));
        json_object_object_add(ao, "name", jstr_or_null(a->name));
        json_object_object_add(ao, "size", json_object_new_int64(a->size));
        json_object_array_add(atts, ao);
    }
    json_object_object_add(o, "attachments", atts);
    if (m->location) {
        json_object *lo = json_object_new_object();
        json_object_object_add(lo, "latitude", json_object_new_double(m->location->latitude));
        json_object_object_add(lo, "longitude", json_object_new_double(m->location->longitude));
        json_object_object_add(lo, "name", jstr_or_null(m->location->name));
        json_object_object_add(lo, "address", jstr_or_null(m->location->address));
        json_object_object_add(o, "location", lo);
    } else {
        json_object_object_add(o, "location", NULL);
    }
    json_object_object_add(o, "reply_to", jstr_or_null(m->reply_to_provider_id));
    json_object_object_add(o, "reply_token", jstr_or_null(m->reply_token));
    int has_payload =
        m->struct_size >= offsetof(struct og_inbound, payload) + sizeof m->payload && m->payload;
    json_object_object_add(o, "payload", has_payload ? json_object_new_string(m->payload) : NULL);
    json_object_object_add(o, "timestamp_ms", json_object_new_int64(m->timestamp_ms));
    json_object_object_add(o, "raw",
                           m->raw ? json_object_new_string_len(m->raw, (int)m->raw_len) : NULL);
    pthread_mutex_lock(&c->mu);
    json_object_array_add(c->msgs, o);
    pthread_mutex_unlock(&c->mu);
    return OG_OK;
}

static og_err rec_status(void *ud, struct og_channel *ch, const struct og_status_update *s)
{
    struct og_test_conn *c = ud;
    og_err fe;
    if (take_failure(c, &fe))
        return fe;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "dedup_key", jstr_or_null(s->dedup_key));
    json_object_object_add(o, "provider_message_id", jstr_or_null(s->provider_message_id));
    json_object_object_add(o, "thread_id", jstr_or_null(s->thread_id));
    json_object_object_add(o, "watermark_ms", json_object_new_int64(s->watermark_ms));
    json_object_object_add(o, "status", json_object_new_string(og_msg_status_name(s->status)));
    json_object_object_add(o, "error_code", jstr_or_null(s->error_code));
    json_object_object_add(o, "error_message", jstr_or_null(s->error_message));
    json_object_object_add(o, "timestamp_ms", json_object_new_int64(s->timestamp_ms));
    pthread_mutex_lock(&c->mu);
    json_object_array_add(c->stats, o);
    pthread_mutex_unlock(&c->mu);
    return OG_OK;
}

static og_err rec_state_get(void *ud, struct og_channel *ch, const char *key, char **val)
{
    char *k = og_sprintf("%s:%s", ch->id, key);
    const char *v = og_test_state_get(k);
    *val = og_strdup(v);
    free(k);
    return OG_OK;
}

static og_err rec_state_set(void *ud, struct og_channel *ch, const char *key, const char *val)
{
    char *k = og_sprintf("%s:%s", ch->id, key);
    pthread_mutex_lock(&state_mu);
    size_t i = 0;
    while (i < nstate && strcmp(state[i].k, k) != 0)
        i++;
    if (i == nstate) {
        state = og_realloc(state, (nstate + 1) * sizeof *state);
        state[nstate].k = k;
        state[nstate].v = NULL;
        nstate++;
    } else {
        free(k);
    }
    free(state[i].v);
    state[i].v = og_strdup(val);
    pthread_mutex_unlock(&state_mu);
    return OG_OK;
}

static struct og_test_conn *conn_open(const char *name, const char *options_json,
                                      struct og_errors *errs)
{
    char errbuf[512];
    char *dir = og_sprintf("%s/lib/omnigate/connectors", OG_BINARY_DIR);
    struct og_plugin *p = og_plugin_load_by_name(dir, name, errbuf, sizeof errbuf);
    free(dir);
    if (!p) {
        og_errors_add(errs, "%s", errbuf);
        return NULL;
    }
    json_object *opts = json_tokener_parse(options_json ? options_json : "{}");
    struct og_test_conn *c = og_calloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->plugin = p;
    c->msgs = json_object_new_array();
    c->stats = json_object_new_array();
    struct og_channel_sink sink = {rec_message, rec_status, rec_state_get, rec_state_set, c, NULL};
    c->ch = og_channel_create(p, "test", "default", opts, "channels[0].options", &sink, errs);
    json_object_put(opts);
    if (!c->ch) {
        og_test_conn_close(c);
        return NULL;
    }
    return c;
}

struct og_test_conn *og_test_conn_open(const char *name, const char *options_json)
{
    struct og_errors errs = {0};
    struct og_test_conn *c = conn_open(name, options_json, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "open %s: %s\n", name, errs.items[i]);
    og_errors_free(&errs);
    return c;
}

char *og_test_conn_open_errors(const char *name, const char *options_json)
{
    struct og_errors errs = {0};
    struct og_test_conn *c = conn_open(name, options_json, &errs);
    og_test_conn_close(c);
    struct og_buf b = {0};
    for (size_t i = 0; i < errs.n; i++)
        og_buf_printf(&b, "%s\n", errs.items[i]);
    og_errors_free(&errs);
    if (!b.data)
        og_buf_append(&b, "", 0);
    return b.data;
}

void og_test_conn_close(struct og_test_conn *c)
{
    if (!c)
        return;
    og_channel_destroy(c->ch);
    og_plugin_unload(c->plugin);
    json_object_put(c->msgs);
    json_object_put(c->stats);
    free(c->last.body);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

const struct og_connector *og_test_conn_desc(struct og_test_conn *c)
{
    return c->plugin->desc;
}
void *og_test_conn_inst(struct og_test_conn *c)
{
    return c->ch->inst;
}
struct og_channel *og_test_conn_channel(struct og_test_conn *c)
{
    return c->ch;
}

/* Values handed to the plugin stay valid for the whole request, as the ABI
 * promises for borrowed request data: each lookup gets its own copy. */
struct req_ctx {
    const char *headers, *query;
    char *vals[64];
    size_t nvals;
};

static const char *keep(struct req_ctx *r, const char *v)
{
    if (!v || r->nvals == sizeof r->vals / sizeof *r->vals)
        return NULL;
    return r->vals[r->nvals++] = og_strdup(v);
}

static const char *find_kv(const char *list, char sep, char kvsep, const char *name, int ci,
                           char *out, size_t outsz)
{
    size_t nl = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, sep);
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, kvsep, (size_t)(end - p));
        if (eq && (size_t)(eq - p) == nl &&
            (ci ? strncasecmp(p, name, nl) == 0 : strncmp(p, name, nl) == 0)) {
            const char *v = eq + 1;
            while (kvsep == ':' && *v == ' ')
                v++;
            snprintf(out, outsz, "%.*s", (int)(end - v), v);
            return out;
        }
        p = *end ? end + 1 : end;
    }
    return NULL;
}

static const char *req_header(void *ctx, const char *name)
{
    struct req_ctx *r = ctx;
    char buf[4096];
    return keep(r, find_kv(r->headers, '\n', ':', name, 1, buf, sizeof buf));
}

static const char *req_query(void *ctx, const char *name)
{
    struct req_ctx *r = ctx;
    char buf[4096];
    return keep(r, find_kv(r->query, '&', '=', name, 0, buf, sizeof buf));
}

struct og_test_http og_test_conn_request(struct og_test_conn *c, const char *method,
                                         const char *path, const char *query, const char *headers,
                                         const char *body, size_t len)
{
    struct req_ctx rc = {.headers = headers, .query = query};
    struct og_req_host host = {req_header, req_query, &rc, 0, OG_OK, NULL, NULL, NULL};
    char *copy = og_strndup(body ? body : "", body ? len : 0);
    struct og_http_req req = {method, path ? path : "", copy, body ? len : 0, &host};
    struct og_http_resp resp = {0};
    og_err e = og_channel_handle_http(c->ch, &req, &resp);
    free(copy);
    for (size_t i = 0; i < rc.nvals; i++)
        free(rc.vals[i]);
    free(c->last.body);
    memset(&c->last, 0, sizeof c->last);
    c->last.err = e;
    if (e != OG_OK) {
        /* The daemon's rule: an emit failure always wins; otherwise a status
         * the plugin set itself stands, else the table's. */
        c->last.status = (!host.emit_failed && resp.status) ? resp.status : og_reply_status(e);
    } else {
        c->last.status = resp.status ? resp.status : 200;
    }
    c->last.body = resp.body ? resp.body : og_strdup("");
    snprintf(c->last.content_type, sizeof c->last.content_type, "%s", resp.content_type);
    resp.body = NULL;
    og_http_resp_free(&resp);
    return c->last;
}

size_t og_test_conn_messages(struct og_test_conn *c)
{
    return json_object_array_length(c->msgs);
}
json_object *og_test_conn_message(struct og_test_conn *c, size_t i)
{
    return json_object_array_get_idx(c->msgs, i);
}
size_t og_test_conn_statuses(struct og_test_conn *c)
{
    return json_object_array_length(c->stats);
}
json_object *og_test_conn_status(struct og_test_conn *c, size_t i)
{
    return json_object_array_get_idx(c->stats, i);
}
void og_test_conn_clear(struct og_test_conn *c)
{
    pthread_mutex_lock(&c->mu);
    json_object_put(c->msgs);
    json_object_put(c->stats);
    c->msgs = json_object_new_array();
    c->stats = json_object_new_array();
    pthread_mutex_unlock(&c->mu);
}
void og_test_conn_fail_emits(struct og_test_conn *c, int n, og_err e)
{
    pthread_mutex_lock(&c->mu);
    c->fail_n = n;
    c->fail_err = e;
    pthread_mutex_unlock(&c->mu);
}
int og_test_err_status(og_err e)
{
    return og_reply_status(e);
}

/* ------------------------------------------------ the core as an admin */

static const struct og_viewer test_admin = {OG_ROLE_ADMIN, "", NULL, 0};

og_err og_test_session_json(struct og_core *c, const char *id, char **json)
{
    return og_session_get(c, &test_admin, id, json);
}

og_err og_test_list_messages(struct og_core *c, const char *sid, const char *cursor, int limit,
                             char **json)
{
    return og_session_messages(c, &test_admin, sid, cursor, limit, json);
}

og_err og_test_list_sessions(struct og_core *c, const char *status, const char *channel,
                             const char *cursor, int limit, char **json)
{
    struct og_session_query q = {.status = status,
                                 .channel = channel,
                                 .cursor = cursor,
                                 .from_ms = -1,
                                 .to_ms = -1,
                                 .limit = limit};
    return og_sessions_list(c, &test_admin, &q, json);
}
