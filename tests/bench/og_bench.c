/* og_bench - see og_bench.h. A minimal HTTP/1.1 client, just enough to load
 * our own daemon: raw non-blocking TCP sockets (TCP_NODELAY) and one epoll
 * loop in the calling thread, one request in flight per connection.
 *
 * Why not libcurl: its multi interface cost ~50 us of CPU per request on the
 * 2-core bench machine, CPU taken from the daemon and redis-server being
 * measured. Here every request's bytes are rendered before the clock starts,
 * so the loop does nothing per request but send(), recv(), a header scan
 * and one clock read.
 *
 * What it speaks: "POST <path> HTTP/1.1" to http://IPv4:port URLs (anything
 * else is refused with a message before the run). Responses are parsed by
 * status line, headers up to CRLFCRLF, then a body delimited by
 * Content-Length, by Transfer-Encoding: chunked, or (neither) by EOF; 1xx
 * interim responses are skipped. "Connection: close" or EOF makes the
 * connection reconnect and carry on; a request in flight on a connection
 * that dies is counted as failed (it may or may not have reached the
 * server). Requests may name several host:port targets (bench_assign loads
 * two daemons); connections are spread over the targets and each target's
 * requests are sent in their order. */
#include "og_bench.h"
#include "og_test.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define OG_BENCH_REQ_TIMEOUT_S 30.0   /* one request's limit, as libcurl's was */
#define OG_BENCH_DRAIN_S 30.0         /* after max_seconds, wait this long for in-flight */
#define OG_BENCH_MAX_HEAD (64 * 1024) /* a response head larger than this is an error */
#define OG_BENCH_CONNECT_FAILS 100    /* consecutive failed connects before giving up */
#define OG_BENCH_MAX_TARGETS 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU of this thread only: bench programs run fake servers on other threads
 * of the same process, and those are not the load generator's cost. */
static double thread_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One distinct host:port and the queue of request indices bound for it. */
struct target {
    struct sockaddr_in addr;
    size_t *idx; /* request indices in caller order */
    size_t count, next;
};

/* Where the response parser is within the current response. */
enum rstate { R_HEAD, R_BODY, R_BODY_EOF, R_CHUNK_SIZE, R_CHUNK_DATA, R_CHUNK_CRLF, R_TRAILER };

struct conn {
    int fd;         /* -1 when closed */
    int target;     /* index into targets */
    int connecting; /* non-blocking connect() not finished yet */
    int want_out;   /* EPOLLOUT currently registered */
    size_t req;     /* request in flight, SIZE_MAX if none */
    size_t woff;    /* bytes of the request already sent */
    double t0;      /* when the request was handed to the socket */
    enum rstate st;
    int status;      /* status code of the response being read */
    int close_after; /* server said Connection: close */
    size_t left;     /* body or chunk bytes still to come */
    char *rbuf;      /* [owned] unparsed response bytes rbuf[rpos..rlen) */
    size_t rpos, rlen, rcap;
};

struct run {
    int ep;
    struct target *targets;
    int ntargets;
    struct conn *conns;
    int nconns;
    const char *arena;    /* all rendered requests back to back */
    const size_t *off;    /* request i is arena[off[i] .. off[i+1]) */
    size_t issued, limit; /* requests taken from the queues / at most this many */
    int stopping;         /* time is up: take no more requests */
    int connect_fails;    /* consecutive, reset by any completed response */
    int gave_up;
    struct og_bench_result *res;
    double *lat;
};

/* Parses "http://a.b.c.d[:port][/path]" into addr and *path (pointer into
 * url; "" means "/"). Returns 0, or -1 for anything else. */
static int parse_url(const char *url, struct sockaddr_in *addr, const char **path)
{
    if (!url || strncmp(url, "http://", 7) != 0)
        return -1;
    const char *h = url + 7;
    size_t hl = strcspn(h, ":/");
    char host[INET_ADDRSTRLEN];
    if (hl == 0 || hl >= sizeof host)
        return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return -1;
    const char *p = h + hl;
    long port = 80;
    if (*p == ':') {
        char *end;
        port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port <= 0 || port > 65535 || (*end && *end != '/'))
            return -1;
        p = end;
    }
    addr->sin_port = htons((uint16_t)port);
    *path = p;
    return 0;
}

/* Appends the full bytes of one request to b: request line, Host, the
 * caller's "Name: value\n" lines (CRLF-terminated here), Content-Length,
 * the blank line and the body. */
static void render(struct og_buf *b, const struct og_bench_req *r, const char *path)
{
    char host[INET_ADDRSTRLEN + 8];
    const char *h = r->url + 7;
    size_t hl = strcspn(h, "/");
    snprintf(host, sizeof host, "%.*s", (int)hl, h);
    og_buf_printf(b, "POST %s HTTP/1.1\r\nHost: %s\r\n", *path ? path : "/", host);
    for (const char *p = r->headers; p && *p;) {
        size_t k = strcspn(p, "\r\n");
        if (k) {
            og_buf_append(b, p, k);
            og_buf_append(b, "\r\n", 2);
        }
        p += k;
        p += strspn(p, "\r\n");
    }
    og_buf_printf(b, "Content-Length: %zu\r\n\r\n", r->body ? r->len : 0);
    if (r->body && r->len)
        og_buf_append(b, r->body, r->len);
}

static void set_events(struct run *R, struct conn *c, int out)
{
    if (c->want_out == out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0u), .data.ptr = c};
    epoll_ctl(R->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

static void close_conn(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd); /* also removes it from the epoll set */
    c->fd = -1;
    c->connecting = c->want_out = 0;
    c->rpos = c->rlen = 0;
    c->st = R_HEAD;
}

/* Records the end of the in-flight request. */
static void finish(struct run *R, struct conn *c, int ok)
{
    if (c->req == SIZE_MAX)
        return;
    R->lat[R->res->done++] = (now_s() - c->t0) * 1000.0;
    if (ok)
        R->res->ok++;
    else
        R->res->failed++;
    c->req = SIZE_MAX;
}

/* Picks the queue this connection serves next: its own target while that has
 * requests, otherwise any target that still has some (then it must move). */
static int pick_target(struct run *R, int cur)
{
    if (R->targets[cur].next < R->targets[cur].count)
        return cur;
    for (int t = 0; t < R->ntargets; t++)
        if (R->targets[t].next < R->targets[t].count)
            return t;
    return -1;
}

static void try_send(struct run *R, struct conn *c);
static void kick(struct run *R, struct conn *c);

/* Counts a failed connect; says why on the first one and stops the run
 * after OG_BENCH_CONNECT_FAILS in a row (a dead server must not keep the
 * loop reconnecting). */
static void connect_failed(struct run *R, const struct sockaddr_in *a, int err)
{
    if (++R->connect_fails == 1)
        fprintf(stderr, "og_bench: connect %s:%d: %s\n", inet_ntoa(a->sin_addr), ntohs(a->sin_port),
                strerror(err));
    if (R->connect_fails >= OG_BENCH_CONNECT_FAILS && !R->gave_up) {
        fprintf(stderr, "og_bench: %d connects failed in a row, giving up\n", R->connect_fails);
        R->gave_up = 1;
    }
}

/* Opens a non-blocking connection to c->target. A failure is counted against
 * the run (OG_BENCH_CONNECT_FAILS in a row stops it) so a dead server cannot
 * make the loop spin; the caller decides whether to retry. */
static int open_conn(struct run *R, struct conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "og_bench: socket: %s\n", strerror(errno));
        R->gave_up = 1;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const struct sockaddr_in *a = &R->targets[c->target].addr;
    int rc = connect(fd, (const struct sockaddr *)a, sizeof *a);
    if (rc != 0 && errno != EINPROGRESS) {
        connect_failed(R, a, errno);
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->connecting = rc != 0;
    c->want_out = c->connecting;
    struct epoll_event ev = {.events = EPOLLIN | (c->want_out ? EPOLLOUT : 0u), .data.ptr = c};
    epoll_ctl(R->ep, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

/* Gives an idle connection its next request, (re)connecting as needed.
 * Does nothing once the run is stopping or out of requests. A connect that
 * fails at once costs the request it was opened for (counted failed), which
 * bounds the retries by the request count as well as by the give-up rule. */
static void kick(struct run *R, struct conn *c)
{
    while (!R->stopping && !R->gave_up && c->req == SIZE_MAX && R->issued < R->limit) {
        int t = pick_target(R, c->target);
        if (t < 0)
            return;
        if (t != c->target) {
            close_conn(c);
            c->target = t;
        }
        struct target *tg = &R->targets[t];
        c->req = tg->idx[tg->next++];
        R->issued++;
        c->woff = 0;
        c->st = R_HEAD;
        c->close_after = 0;
        c->t0 = now_s();
        if (c->fd < 0 && open_conn(R, c) != 0) {
            finish(R, c, 0);
            continue;
        }
        if (!c->connecting)
            try_send(R, c);
        return;
    }
}

/* Drops the connection; the request in flight (if any) failed. */
static void conn_error(struct run *R, struct conn *c)
{
    finish(R, c, 0);
    close_conn(c);
}

/* Writes as much of the in-flight request as the socket takes. */
static void try_send(struct run *R, struct conn *c)
{
    size_t len = R->off[c->req + 1] - R->off[c->req];
    const char *p = R->arena + R->off[c->req];
    while (c->woff < len) {
        ssize_t k = send(c->fd, p + c->woff, len - c->woff, MSG_NOSIGNAL);
        if (k > 0) {
            c->woff += (size_t)k;
        } else if (k < 0 && errno == EINTR) {
            continue;
        } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(R, c, 1);
            return;
        } else {
            conn_error(R, c);
            return;
        }
    }
    set_events(R, c, 0);
}

/* Finds "\r\n" in [p, p+n); returns its offset or -1. */
static long find_crlf(const char *p, size_t n)
{
    for (const char *q = p; (q = memchr(q, '\r', (size_t)(p + n - q))) != NULL; q++)
        if (q + 1 < p + n && q[1] == '\n')
            return (long)(q - p);
    return -1;
}

/* Parses the head in h[0..n) (CRLFCRLF excluded). Returns 0 or -1. */
static int parse_head(struct conn *c, const char *h, size_t n, int *chunked, long long *clen)
{
    *chunked = 0;
    *clen = -1;
    c->close_after = 0;
    if (n < 12 || strncmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ')
        return -1;
    c->status = atoi(h + 9);
    if (c->status < 100 || c->status > 999)
        return -1;
    if (h[7] == '0')
        c->close_after = 1; /* HTTP/1.0: no keep-alive unless told; keep it simple */
    const char *end = h + n, *line = h;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl ? nl : end;
        size_t ll = (size_t)(le - line);
        if (ll && line[ll - 1] == '\r')
            ll--;
        const char *colon = memchr(line, ':', ll);
        if (colon) {
            size_t name_len = (size_t)(colon - line);
            const char *v = colon + 1;
            while (v < line + ll && (*v == ' ' || *v == '\t'))
                v++;
            size_t vl = (size_t)(line + ll - v);
            if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
                char *e;
                *clen = strtoll(v, &e, 10);
                if (e == v || *clen < 0)
                    return -1;
            } else if (name_len == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
                *chunked = vl >= 7 && strncasecmp(v + vl - 7, "chunked", 7) == 0;
            } else if (name_len == 10 && strncasecmp(line, "Connection", 10) == 0) {
                if (vl >= 5 && strncasecmp(v, "close", 5) == 0)
                    c->close_after = 1;
                else if (vl >= 10 && strncasecmp(v, "keep-alive", 10) == 0)
                    c->close_after = 0;
            }
        }
        line = le + 1;
    }
    return 0;
}

/* Runs the response parser over the buffered bytes. Returns 1 when the
 * response is complete, 0 when more bytes are needed, -1 on a protocol
 * error. */
static int parse(struct conn *c)
{
    for (;;) {
        char *p = c->rbuf + c->rpos;
        size_t n = c->rlen - c->rpos;
        switch (c->st) {
        case R_HEAD: {
            char *e = memmem(p, n, "\r\n\r\n", 4);
            if (!e)
                return n > OG_BENCH_MAX_HEAD ? -1 : 0;
            int chunked;
            long long clen;
            if (parse_head(c, p, (size_t)(e - p), &chunked, &clen) != 0)
                return -1;
            c->rpos += (size_t)(e - p) + 4;
            if (c->status < 200)
                continue; /* 1xx interim response: the real one follows */
            if (c->status == 204 || c->status == 304)
                return 1;
            if (chunked) {
                c->st = R_CHUNK_SIZE;
            } else if (clen >= 0) {
                c->left = (size_t)clen;
                c->st = R_BODY;
            } else {
                c->st = R_BODY_EOF; /* completed by the peer's close */
                c->close_after = 1;
            }
            continue;
        }
        case R_BODY:
        case R_CHUNK_DATA: {
            size_t k = n < c->left ? n : c->left;
            c->rpos += k;
            c->left -= k;
            if (c->left)
                return 0;
            if (c->st == R_BODY)
                return 1;
            c->st = R_CHUNK_CRLF;
            continue;
        }
        case R_BODY_EOF: c->rpos = c->rlen; return 0;
        case R_CHUNK_CRLF:
            if (n < 2)
                return 0;
            if (p[0] != '\r' || p[1] != '\n')
                return -1;
            c->rpos += 2;
            c->st = R_CHUNK_SIZE;
            continue;
        case R_CHUNK_SIZE: {
            long at = find_crlf(p, n);
            if (at < 0)
                return n > 1024 ? -1 : 0;
            char *e;
            unsigned long long sz = strtoull(p, &e, 16);
            if (e == p)
                return -1;
            c->rpos += (size_t)at + 2;
            if (sz == 0) {
                c->st = R_TRAILER;
            } else {
                c->left = (size_t)sz;
                c->st = R_CHUNK_DATA;
            }
            continue;
        }
        case R_TRAILER: {
            long at = find_crlf(p, n);
            if (at < 0)
                return n > OG_BENCH_MAX_HEAD ? -1 : 0;
            c->rpos += (size_t)at + 2;
            if (at == 0)
                return 1;
            continue;
        }
        }
    }
}

/* A whole response arrived: count it, then reuse or replace the connection
 * and send the next request. */
static void complete(struct run *R, struct conn *c)
{
    R->connect_fails = 0;
    finish(R, c, c->status >= 200 && c->status < 300);
    c->st = R_HEAD;
    /* one request in flight, so bytes after the response mean the stream
     * is out of step: start afresh rather than misread the next one */
    if (c->close_after || c->rpos != c->rlen)
        close_conn(c);
    c->rpos = c->rlen = 0;
    kick(R, c);
}

static void on_readable(struct run *R, struct conn *c)
{
    if (c->connecting)
        return; /* on_writable reports how the connect went */
    for (;;) {
        if (c->rpos && c->rpos == c->rlen)
            c->rpos = c->rlen = 0;
        if (c->rcap - c->rlen < 4096) {
            if (c->rpos) {
                memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
                c->rlen -= c->rpos;
                c->rpos = 0;
            } else {
                c->rcap *= 2;
                c->rbuf = og_realloc(c->rbuf, c->rcap);
            }
            continue;
        }
        size_t room = c->rcap - c->rlen;
        ssize_t k = recv(c->fd, c->rbuf + c->rlen, room, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (k <= 0) {
            /* EOF or reset: it completes a read-to-close body; anything
             * else in flight is lost. An idle connection just reopens. */
            if (c->req != SIZE_MAX && c->st == R_BODY_EOF) {
                complete(R, c);
                return;
            }
            conn_error(R, c);
            kick(R, c);
            return;
        }
        c->rlen += (size_t)k;
        if (c->req == SIZE_MAX) {
            conn_error(R, c); /* bytes nobody asked for */
            kick(R, c);
            return;
        }
        int rc = parse(c);
        if (rc < 0) {
            fprintf(stderr, "og_bench: malformed HTTP response, reconnecting\n");
            conn_error(R, c);
            kick(R, c);
            return;
        }
        if (rc > 0) {
            complete(R, c);
            return;
        }
        if ((size_t)k < room)
            return; /* short read: the socket is drained, save a recv() */
    }
}

static void on_writable(struct run *R, struct conn *c)
{
    if (c->connecting) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            connect_failed(R, &R->targets[c->target].addr, err);
            conn_error(R, c);
            kick(R, c);
            return;
        }
        c->connecting = 0;
    }
    if (c->req != SIZE_MAX)
        try_send(R, c);
    else
        set_events(R, c, 0);
}

/* Fails requests that exceeded their time limit. */
static void check_timeouts(struct run *R, double now)
{
    for (int i = 0; i < R->nconns; i++) {
        struct conn *c = &R->conns[i];
        if (c->req != SIZE_MAX && now - c->t0 > OG_BENCH_REQ_TIMEOUT_S) {
            fprintf(stderr, "og_bench: request timed out after %.0f s\n", OG_BENCH_REQ_TIMEOUT_S);
            conn_error(R, c);
            kick(R, c);
        }
    }
}

static int in_flight(const struct run *R)
{
    for (int i = 0; i < R->nconns; i++)
        if (R->conns[i].req != SIZE_MAX)
            return 1;
    return 0;
}

/* Builds the targets and the rendered arena. Returns 0, or -1 after saying
 * which URL was not understood. */
static int prepare(struct run *R, struct og_bench_req *reqs, size_t n, struct og_buf *arena,
                   size_t *off)
{
    R->targets = og_calloc(OG_BENCH_MAX_TARGETS, sizeof *R->targets);
    int *tix = og_calloc(n ? n : 1, sizeof *tix);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct sockaddr_in a;
        const char *path;
        if (parse_url(reqs[i].url, &a, &path) != 0) {
            fprintf(stderr, "og_bench: unsupported url \"%s\" (only http://IPv4:port/path)\n",
                    reqs[i].url ? reqs[i].url : "(null)");
            rc = -1;
            break;
        }
        int t = 0;
        while (t < R->ntargets && (R->targets[t].addr.sin_addr.s_addr != a.sin_addr.s_addr ||
                                   R->targets[t].addr.sin_port != a.sin_port))
            t++;
        if (t == R->ntargets) {
            if (t == OG_BENCH_MAX_TARGETS) {
                fprintf(stderr, "og_bench: more than %d distinct host:port targets\n", t);
                rc = -1;
                break;
            }
            R->targets[t].addr = a;
            R->ntargets++;
        }
        R->targets[t].count++;
        tix[i] = t;
        off[i] = arena->len;
        render(arena, &reqs[i], path);
    }
    off[n] = arena->len;
    if (rc == 0) {
        for (int t = 0; t < R->ntargets; t++)
            R->targets[t].idx = og_calloc(R->targets[t].count, sizeof(size_t));
        for (size_t i = 0; i < n; i++) {
            struct target *tg = &R->targets[tix[i]];
            tg->idx[tg->next++] = i;
        }
        for (int t = 0; t < R->ntargets; t++)
            R->targets[t].next = 0;
    }
    free(tix);
    return rc;
}

struct og_bench_result og_bench_run(struct og_bench_req *reqs, size_t n, int conns,
                                    double max_seconds)
{
    struct og_bench_result res = {0};
    struct run R = {.ep = -1, .limit = n, .res = &res};
    struct og_buf arena = {0};
    size_t *off = og_calloc(n + 1, sizeof *off);
    if (prepare(&R, reqs, n, &arena, off) != 0) {
        res.failed = n;
        goto out;
    }
    R.arena = arena.data;
    R.off = off;
    R.lat = og_calloc(n ? n : 1, sizeof *R.lat);
    R.ep = epoll_create1(EPOLL_CLOEXEC);
    if (R.ep < 0) {
        fprintf(stderr, "og_bench: epoll_create1: %s\n", strerror(errno));
        res.failed = n;
        goto out;
    }
    R.nconns = conns > 0 ? conns : 1;
    if ((size_t)R.nconns > n)
        R.nconns = n ? (int)n : 1;
    R.conns = og_calloc((size_t)R.nconns, sizeof *R.conns);
    for (int i = 0; i < R.nconns; i++) {
        struct conn *c = &R.conns[i];
        c->fd = -1;
        c->req = SIZE_MAX;
        c->target = R.ntargets ? i % R.ntargets : 0;
        c->rcap = 16384;
        c->rbuf = og_malloc(c->rcap);
    }

    double t_start = now_s(), cpu0 = thread_cpu_s();
    double deadline = t_start + max_seconds, last_check = t_start;
    for (int i = 0; i < R.nconns && R.ntargets; i++)
        kick(&R, &R.conns[i]);
    struct epoll_event evs[256];
    for (;;) {
        double now = now_s();
        if (!R.stopping && (now >= deadline || R.gave_up))
            R.stopping = 1;
        if (!in_flight(&R)) {
            if (R.stopping || R.issued >= R.limit)
                break;
            /* idle connections with requests left: only after failures */
            for (int i = 0; i < R.nconns; i++)
                kick(&R, &R.conns[i]);
            if (!in_flight(&R))
                break;
        }
        if (R.stopping && now >= deadline + OG_BENCH_DRAIN_S) {
            for (int i = 0; i < R.nconns; i++)
                conn_error(&R, &R.conns[i]);
            break;
        }
        if (now - last_check >= 1.0) {
            check_timeouts(&R, now);
            last_check = now;
        }
        double wait = R.stopping ? 0.1 : deadline - now;
        int ms = wait > 0.1 ? 100 : (int)(wait * 1000.0) + 1;
        int k = epoll_wait(R.ep, evs, (int)(sizeof evs / sizeof evs[0]), ms);
        if (k < 0 && errno != EINTR) {
            fprintf(stderr, "og_bench: epoll_wait: %s\n", strerror(errno));
            break;
        }
        for (int i = 0; i < k; i++) {
            struct conn *c = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            int fd = c->fd;
            if (fd < 0)
                continue;
            if (e & (EPOLLOUT | EPOLLERR))
                on_writable(&R, c);
            /* on_writable may have replaced the socket: e is about the old one */
            if (c->fd == fd && (e & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                on_readable(&R, c);
        }
    }
    res.seconds = now_s() - t_start;
    res.cpu_s = thread_cpu_s() - cpu0;
    res.rps = res.seconds > 0 ? (double)res.done / res.seconds : 0;
    qsort(R.lat, res.done, sizeof *R.lat, cmp_double);
    if (res.done) {
        res.p50_ms = R.lat[res.done / 2];
        res.p99_ms = R.lat[(size_t)((double)res.done * 0.99)];
        res.max_ms = R.lat[res.done - 1];
    }
out:
    for (int i = 0; i < R.nconns; i++) {
        close_conn(&R.conns[i]);
        free(R.conns[i].rbuf);
    }
    for (int t = 0; t < R.ntargets; t++)
        free(R.targets[t].idx);
    free(R.targets);
    free(R.conns);
    free(R.lat);
    free(off);
    og_buf_free(&arena);
    if (R.ep >= 0)
        close(R.ep);
    return res;
}

void og_bench_print(const char *label, const struct og_bench_result *r)
{
    printf("%-40s %8zu req in %6.2f s = %9.0f req/s   p50 %7.2f ms   p99 %7.2f ms   max %7.2f "
           "ms   failed %zu\n",
           label, r->done, r->seconds, r->rps, r->p50_ms, r->p99_ms, r->max_ms, r->failed);
    /* the generator's own thread, so the figure above can be read as the
     * daemon's: each µs here is a µs the daemon did not get */
    printf("%-40s client CPU %.1f us/request (load generator, user+sys)\n", "",
           r->done ? r->cpu_s * 1e6 / (double)r->done : 0.0);
    fflush(stdout);
}

void og_bench_free(struct og_bench_req *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(reqs[i].url);
        free(reqs[i].headers);
        free(reqs[i].body);
    }
    free(reqs);
}

double og_bench_redis_cpu_s(struct og_test_redis *rs)
{
    char *out = og_test_redis_cli(rs, "INFO cpu");
    double v = 0;
    for (char *l = out ? strtok(out, "\r\n") : NULL; l; l = strtok(NULL, "\r\n"))
        if (strncmp(l, "used_cpu_sys_main_thread:", 25) == 0)
            v += atof(l + 25);
        else if (strncmp(l, "used_cpu_user_main_thread:", 26) == 0)
            v += atof(l + 26);
    free(out);
    return v;
}

double og_bench_redis_info(struct og_test_redis *rs, const char *section, const char *field)
{
    char *cmd = og_sprintf("INFO %s", section);
    char *out = og_test_redis_cli(rs, cmd);
    size_t n = strlen(field);
    double v = 0;
    for (char *l = out ? strtok(out, "\r\n") : NULL; l; l = strtok(NULL, "\r\n"))
        if (strncmp(l, field, n) == 0 && l[n] == ':')
            v = atof(l + n + 1);
    free(out);
    free(cmd);
    return v;
}
