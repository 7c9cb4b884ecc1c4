/* bench_slowloris - /healthz and signed platform webhooks while one address
 * holds thousands of trickling connections (#14.1; gateway/og_edge.c).
 *
 * The attacker (127.0.0.2) keeps `sockets` connections open, each sending
 * one byte of an endless request header every 3 s, and opens a new one one
 * second after the server closes one (an attacker keeps up the pressure).
 * Meanwhile, for `seconds`, a health checker (127.0.0.1) asks GET /healthz
 * on a fresh connection every 50 ms, and a platform (127.0.0.3, listed in
 * http.platform_ranges) posts a signed message to /hooks/demo every 100 ms.
 * A probe that gets no answer within 5 s counts as failed (and as 5000 ms
 * in the percentiles).
 *
 * Prints the attack's state (sockets the server let it hold, closes,
 * reconnects) and, for each probe, answers, 2xx, p50/p99/max latency.
 * Target (#14.1): with 4,000 sockets, /healthz p99 <= 50 ms and every
 * webhook 2xx.
 *
 * usage: bench_slowloris [sockets (4000)] [seconds (20)] [--spread K]
 *                        [--max-connections N] [--baseline]
 *   --spread K           attack from K addresses (127.0.1.1..K) instead of one:
 *                        a flood that per-address limits alone do not stop,
 *                        so the reserve must;
 *   --max-connections N  http.max_connections (default: from the descriptor limit)
 *   --baseline           write no configuration key this branch added, so the
 *                        same program can drive an older daemon:
 *                        OG_TEST_OMNIGATE=path/to/omnigate */
#include "og_test.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SECRET "bench-slowloris-secret"
#define TRICKLE_MS 3000
#define RECONNECT_MS 1000
#define PROBE_TIMEOUT_MS 5000

/* ------------------------------------------------------------- attacker */

struct victim {
    int fd;          /* -1 while waiting to reconnect */
    int connecting;  /* non-blocking connect in progress */
    int64_t next_ms; /* next byte, or next reconnect */
};

struct attack {
    int port, n;
    int spread;       /* attacker addresses: 1 = 127.0.0.2, else 127.0.1.1.. */
    struct victim *v; /* owned */
    atomic_int stop;
    atomic_long open_now, closes, connects;
    pthread_t th;
};

static int connect_nb(const char *src, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &a.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static void victim_open(struct attack *a, int ep, int i, int64_t now)
{
    struct victim *v = &a->v[i];
    char src[32] = "127.0.0.2";
    if (a->spread > 1)
        snprintf(src, sizeof src, "127.0.1.%d", i % a->spread + 1);
    v->fd = connect_nb(src, a->port);
    if (v->fd < 0) {
        v->next_ms = now + RECONNECT_MS;
        return;
    }
    atomic_fetch_add(&a->connects, 1);
    v->connecting = 1;
    v->next_ms = now; /* the request line goes out once connected */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, v->fd, &ev);
}

static void victim_lost(struct attack *a, int ep, int i, int64_t now)
{
    struct victim *v = &a->v[i];
    epoll_ctl(ep, EPOLL_CTL_DEL, v->fd, NULL);
    close(v->fd);
    if (!v->connecting)
        atomic_fetch_sub(&a->open_now, 1);
    v->fd = -1;
    v->connecting = 0;
    v->next_ms = now + RECONNECT_MS;
    atomic_fetch_add(&a->closes, 1);
}

/* Readable or hung up: the server answered or closed; either way this
 * socket is done. Writable after connect: the request line goes out. */
static void victim_event(struct attack *a, int ep, int i, uint32_t evs, int64_t now)
{
    struct victim *v = &a->v[i];
    if (v->fd < 0)
        return;
    if (evs & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
        victim_lost(a, ep, i, now);
        return;
    }
    if (v->connecting && (evs & EPOLLOUT)) {
        v->connecting = 0;
        atomic_fetch_add(&a->open_now, 1);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_MOD, v->fd, &ev);
        static const char line[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-a: ";
        if (send(v->fd, line, sizeof line - 1, MSG_NOSIGNAL) < 0)
            victim_lost(a, ep, i, now);
        else
            v->next_ms = now + TRICKLE_MS;
    }
}

static void *attack_main(void *arg)
{
    struct attack *a = arg;
    int ep = epoll_create1(0);
    int64_t now = og_mono_ms();
    for (int i = 0; i < a->n; i++) {
        a->v[i].fd = -1;
        a->v[i].next_ms = now + (int64_t)i * 1000 / (a->n ? a->n : 1); /* ramp over 1 s */
    }
    struct epoll_event evs[256];
    while (!atomic_load(&a->stop)) {
        int k = epoll_wait(ep, evs, 256, 20);
        now = og_mono_ms();
        for (int j = 0; j < k; j++)
            victim_event(a, ep, (int)evs[j].data.u32, evs[j].events, now);
        for (int i = 0; i < a->n; i++) {
            struct victim *v = &a->v[i];
            if (now < v->next_ms)
                continue;
            if (v->fd < 0)
                victim_open(a, ep, i, now);
            else if (!v->connecting) {
                if (send(v->fd, "x", 1, MSG_NOSIGNAL) != 1)
                    victim_lost(a, ep, i, now);
                else
                    v->next_ms = now + TRICKLE_MS;
            }
        }
    }
    for (int i = 0; i < a->n; i++)
        if (a->v[i].fd >= 0)
            close(a->v[i].fd);
    close(ep);
    return NULL;
}

/* --------------------------------------------------------------- probes */

/* One request on a fresh connection from src: the status (0 = no answer in
 * time) and its latency, connect included. */
static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int probe(const char *src, int port, const char *req, double *ms)
{
    double t0 = now_ms();
    int st = 0;
    int fd = connect_nb(src, port);
    if (fd >= 0) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, PROBE_TIMEOUT_MS) == 1 && !(p.revents & (POLLERR | POLLHUP))) {
            int fl = fcntl(fd, F_GETFL);
            fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
            int left = PROBE_TIMEOUT_MS - (int)(now_ms() - t0);
            if (left > 0 && og_test_raw_send(fd, req, (size_t)-1) == 0)
                st = og_test_raw_answer(fd, left, NULL);
        }
        close(fd);
    }
    *ms = st > 0 ? now_ms() - t0 : PROBE_TIMEOUT_MS;
    return st > 0 ? st : 0;
}

struct series {
    double *ms;
    size_t n, cap, answered, ok;
};

static void series_add(struct series *s, int status, double ms)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        double *m = og_calloc(s->cap, sizeof *m);
        if (s->ms)
            memcpy(m, s->ms, s->n * sizeof *m);
        free(s->ms);
        s->ms = m;
    }
    s->ms[s->n++] = ms;
    s->answered += status > 0;
    s->ok += status >= 200 && status < 300;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void series_print(const char *label, struct series *s)
{
    if (!s->n) {
        printf("%-10s no probes\n", label);
        return;
    }
    qsort(s->ms, s->n, sizeof *s->ms, cmp_d);
    size_t p99 = (s->n * 99 + 99) / 100 - 1;
    printf("%-10s %4zu probes, %4zu answered, %4zu 2xx; latency p50 %.2f ms, p99 %.2f ms, "
           "max %.2f ms\n",
           label, s->n, s->answered, s->ok, s->ms[s->n / 2], s->ms[p99 < s->n ? p99 : s->n - 1],
           s->ms[s->n - 1]);
}

static char *hook_request(size_t i)
{
    char *body = og_sprintf("{\"id\":\"slow-%zu-%lld\",\"from\":{\"id\":\"u%zu\"},\"text\":\"hi\"}",
                            i, (long long)og_now_ms(), i % 50);
    char *h = og_test_signed_headers(SECRET, body, strlen(body));
    h[strcspn(h, "\n")] = 0;
    char *req = og_sprintf("POST /hooks/demo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n"
                           "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                           h, strlen(body), body);
    free(h), free(body);
    return req;
}

int main(int argc, char **argv)
{
    int sockets = 4000, baseline = 0, spread = 1, maxconn = 0;
    double seconds = 20;
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--baseline") == 0)
            baseline = 1;
        else if (strcmp(argv[i], "--spread") == 0 && i + 1 < argc)
            spread = atoi(argv[++i]);
        else if (strcmp(argv[i], "--max-connections") == 0 && i + 1 < argc)
            maxconn = atoi(argv[++i]);
        else if (pos++ == 0)
            sockets = atoi(argv[i]);
        else
            seconds = atof(argv[i]);
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)sockets + 256) {
        fprintf(stderr, "bench_slowloris: needs %d descriptors, ulimit -n is %llu\n", sockets + 256,
                (unsigned long long)rl.rlim_cur);
        return 1;
    }
    struct og_test_redis rs;
    struct og_test_daemon d;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    char *ch = og_sprintf("[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{"
                          "\"secret\":\"" SECRET "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]");
    char *extra = baseline ? og_sprintf("\"log_level\":\"error\"")
                           : og_sprintf("\"log_level\":\"error\",\"http\":{\"platform_ranges\":"
                                        "[\"127.0.0.3\"],\"max_connections\":%d}",
                                        maxconn);
    int started = og_test_daemon_start(&d, rs.url, ch, extra);
    free(extra);
    if (started != 0) {
        free(ch);
        og_test_redis_stop(&rs);
        return 1;
    }
    free(ch);

    struct attack a = {.port = d.port, .n = sockets, .spread = spread};
    a.v = og_calloc((size_t)sockets, sizeof *a.v);
    pthread_create(&a.th, NULL, attack_main, &a);
    for (int i = 0; i < 50; i++) { /* let it ramp up and settle: 5 s */
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    long c0 = atomic_load(&a.closes), k0 = atomic_load(&a.connects);
    struct series hz = {0}, wh = {0};
    double held_sum = 0;
    int held_n = 0;
    int64_t end = og_mono_ms() + (int64_t)(seconds * 1000);
    const char *get = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    for (size_t tick = 0; og_mono_ms() < end; tick++) {
        int64_t t = og_mono_ms();
        double ms;
        int st = probe("127.0.0.1", d.port, get, &ms);
        series_add(&hz, st, ms);
        if (tick % 2 == 0) {
            char *req = hook_request(tick);
            st = probe("127.0.0.3", d.port, req, &ms);
            series_add(&wh, st, ms);
            free(req);
        }
        held_sum += (double)atomic_load(&a.open_now);
        held_n++;
        int64_t wait = 50 - (og_mono_ms() - t);
        if (wait > 0) {
            struct timespec ts = {0, wait * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    double secs = seconds;
    long closes = atomic_load(&a.closes) - c0, connects = atomic_load(&a.connects) - k0;
    atomic_store(&a.stop, 1);
    pthread_join(a.th, NULL);

    char from[64] = "127.0.0.2";
    if (spread > 1)
        snprintf(from, sizeof from, "%d addresses (127.0.1.1-%d)", spread, spread);
    printf("bench_slowloris: %d trickling sockets from %s (a byte every %d s, "
           "reconnecting %d ms after a close), %.0f s%s\n",
           sockets, from, TRICKLE_MS / 1000, RECONNECT_MS, secs,
           baseline ? " (baseline: no edge settings)" : "");
    printf("attack     held %.0f connections on average; the server closed %.0f/s, "
           "%.0f/s new connections\n",
           held_n ? held_sum / held_n : 0.0, closes / secs, connects / secs);
    series_print("/healthz", &hz);
    series_print("webhooks", &wh);
    int met = hz.n && hz.ok == hz.n && wh.ok == wh.n;
    if (met) {
        qsort(hz.ms, hz.n, sizeof *hz.ms, cmp_d);
        met = hz.ms[(hz.n * 99 + 99) / 100 - 1] <= 50.0;
    }
    printf("target     /healthz p99 <= 50 ms and every webhook 2xx: %s\n", met ? "met" : "NOT met");
    free(hz.ms), free(wh.ms), free(a.v);
    og_test_daemon_stop(&d);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    return 0;
}
