/* bench_webchat - web chat visitors at scale (#17): N visitors (default
 * 5,000) each hold their live stream (GET /webchat/{channel}/events) on one
 * instance and send a message every I seconds (default 10) for S seconds
 * (default 30), and an agent (the admin token) answers each message at once
 * through POST /api/v1/sessions/{id}/messages. Prints the daemon's RSS (now
 * and peak) with the streams open, its CPU over the run, and the reply
 * latency: the agent's POST start to the reply arriving on the visitor's
 * stream, p50/p99/max. Targets (#17): <= 60 MB RSS at 5,000 streams, p99
 * <= 100 ms.
 *
 * The visitors come from many client addresses (X-Forwarded-For through a
 * trusted proxy, 127.0.0.1), 20 per address, as they would from the
 * internet, so the per-address limit (60 per 10 s) is not what is measured.
 * Bounded: every phase has a time limit; everything it starts it stops.
 *
 * usage: bench_webchat [visitors 5000] [seconds 30] [interval_s 10] [senders 4] */
#include "og_test.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define ORIGIN "http://bench.example"
#define PER_ADDR 20

static struct og_test_daemon d;
static int n_vis = 5000, seconds = 30, interval_s = 10, n_senders = 4;
static char (*tokens)[64], (*sessions)[48];
static int64_t *sent_us; /* the agent's reply POST start, by reply index */
static int cap_replies;
static atomic_int n_replies, n_refused;
static atomic_int stop_senders;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int connect_local(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* One request on a kept-alive connection (*fd, reconnected when needed):
 * the status, the body into *body [xfer] when body is not NULL. */
static int call(int *fd, const char *method, const char *path, const char *headers,
                const char *body, char **out)
{
    if (out)
        *out = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (*fd < 0 && (*fd = connect_local()) < 0)
            return 0;
        char *req = og_sprintf("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n"
                               "\r\n%s",
                               method, path, headers, body ? strlen(body) : 0, body ? body : "");
        size_t len = strlen(req), off = 0;
        while (off < len) {
            ssize_t w = write(*fd, req + off, len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        free(req);
        struct og_buf b = {0};
        int status = 0;
        size_t need = 0, head = 0;
        char buf[8192];
        while (1) {
            ssize_t n = read(*fd, buf, sizeof buf);
            if (n <= 0)
                break;
            og_buf_append(&b, buf, (size_t)n);
            if (!head) {
                char *e = b.data ? strstr(b.data, "\r\n\r\n") : NULL;
                if (!e)
                    continue;
                head = (size_t)(e + 4 - b.data);
                sscanf(b.data, "HTTP/1.%*d %d", &status);
                char *cl = strcasestr(b.data, "Content-Length:");
                need = cl && cl < e ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
            }
            if (head && b.len >= head + need)
                break;
        }
        if (status && head && b.len >= head + need) {
            if (out)
                *out = og_strndup(b.data + head, need);
            og_buf_free(&b);
            return status;
        }
        og_buf_free(&b);
        close(*fd);
        *fd = -1;
    }
    return 0;
}

static void addr_of(int v, char *out, size_t n)
{
    int a = v / PER_ADDR;
    snprintf(out, n, "10.%d.%d.%d", (a >> 16) & 255, (a >> 8) & 255, (a & 255) + 1);
}

struct sender {
    int id;
};

static void *sender(void *arg)
{
    struct sender *s = arg;
    int fd = -1;
    int64_t start = og_mono_ms();
    int rounds = seconds / interval_s;
    /* visitor v sends at v/N of each interval: an even spread */
    for (int r = 0; r < rounds && !atomic_load(&stop_senders); r++)
        for (int v = s->id; v < n_vis && !atomic_load(&stop_senders); v += n_senders) {
            int64_t due =
                start + (int64_t)r * interval_s * 1000 + (int64_t)v * interval_s * 1000 / n_vis;
            int64_t w = due - og_mono_ms();
            if (w > 0)
                usleep((useconds_t)w * 1000);
            char ip[32], h[256], body[96];
            addr_of(v, ip, sizeof ip);
            snprintf(h, sizeof h,
                     "Origin: " ORIGIN "\r\nAuthorization: Bearer %s\r\nX-Forwarded-For: %s\r\n"
                     "Content-Type: application/json\r\n",
                     tokens[v], ip);
            snprintf(body, sizeof body, "{\"text\":\"question %d of %d\"}", r, v);
            if (call(&fd, "POST", "/webchat/site/messages", h, body, NULL) != 201) {
                atomic_fetch_add(&n_refused, 1);
                continue;
            }
            int k = atomic_fetch_add(&n_replies, 1);
            if (k >= cap_replies)
                continue;
            char path[96], rb[64];
            snprintf(path, sizeof path, "/api/v1/sessions/%s/messages", sessions[v]);
            snprintf(rb, sizeof rb, "{\"text\":\"rk%d.\"}", k);
            sent_us[k] = now_us();
            if (call(&fd, "POST", path,
                     "Authorization: Bearer " OG_TEST_ADMIN_TOKEN
                     "\r\nContent-Type: application/json\r\n",
                     rb, NULL) != 202)
                atomic_fetch_add(&n_refused, 1);
        }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static long proc_kb(const char *field)
{
    char *p = og_sprintf("/proc/%d/status", d.pid);
    FILE *f = fopen(p, "r");
    free(p);
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, strlen(field)) == 0)
            kb = strtol(line + strlen(field) + 1, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static double proc_cpu_s(void)
{
    char *p = og_sprintf("/proc/%d/stat", d.pid);
    FILE *f = fopen(p, "r");
    free(p);
    unsigned long long ut = 0, st = 0;
    if (f &&
        fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        ut = st = 0;
    if (f)
        fclose(f);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int main(int argc, char **argv)
{
    n_vis = argc > 1 ? atoi(argv[1]) : 5000;
    seconds = argc > 2 ? atoi(argv[2]) : 30;
    interval_s = argc > 3 ? atoi(argv[3]) : 10;
    n_senders = argc > 4 ? atoi(argv[4]) : 4;
    if (n_vis < 1 || n_vis > 50000 || seconds < interval_s || interval_s < 1 || n_senders < 1 ||
        n_senders > 64) {
        fprintf(stderr, "usage: bench_webchat [visitors] [seconds] [interval_s] [senders]\n");
        return 2;
    }
    struct rlimit rl = {65536, 65536};
    setrlimit(RLIMIT_NOFILE, &rl);
    struct og_test_redis rs;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    const char *ch = "[{\"id\":\"site\",\"connector\":\"webchat\",\"options\":"
                     "{\"allowed_origins\":\"" ORIGIN "\"}}]";
    if (og_test_daemon_start(
            &d, rs.url, ch,
            "\"log_level\":\"warn\",\"http\":{\"per_address_connections\":0,"
            "\"trusted_proxies\":[\"127.0.0.1\"],\"connection_memory_bytes\":6144}") != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    long rss0 = proc_kb("VmRSS:");
    tokens = og_calloc((size_t)n_vis, sizeof *tokens);
    sessions = og_calloc((size_t)n_vis, sizeof *sessions);
    int fd = -1, bad = 0;
    int64_t t0 = og_mono_ms();
    for (int v = 0; v < n_vis && og_mono_ms() - t0 < 300000; v++) {
        char ip[32], h[160], *out = NULL;
        addr_of(v, ip, sizeof ip);
        snprintf(h, sizeof h,
                 "Origin: " ORIGIN "\r\nX-Forwarded-For: %s\r\nContent-Type: application/json\r\n",
                 ip);
        int st = call(&fd, "POST", "/webchat/site/start", h, "{\"question\":\"hello\"}", &out);
        json_object *j = out ? json_tokener_parse(out) : NULL;
        json_object *t = NULL, *s = NULL, *sid = NULL;
        json_object_object_get_ex(j, "token", &t);
        json_object_object_get_ex(j, "session", &s);
        json_object_object_get_ex(s, "id", &sid);
        if (st != 201 || !t || !sid)
            bad++;
        else {
            snprintf(tokens[v], sizeof tokens[v], "%s", json_object_get_string(t));
            snprintf(sessions[v], sizeof sessions[v], "%s", json_object_get_string(sid));
        }
        json_object_put(j);
        free(out);
    }
    if (fd >= 0)
        close(fd);
    printf("%d visitors started in %.1f s (%d failed)\n", n_vis,
           (double)(og_mono_ms() - t0) / 1000.0, bad);
    if (bad) {
        og_test_daemon_stop(&d);
        og_test_daemon_free(&d);
        og_test_redis_stop(&rs);
        return 1;
    }

    /* the streams */
    int ep = epoll_create1(0);
    int *sfd = og_calloc((size_t)n_vis, sizeof *sfd);
    int open_ok = 0;
    for (int v = 0; v < n_vis; v++) {
        sfd[v] = connect_local();
        if (sfd[v] < 0)
            continue;
        char ip[32], req[384];
        addr_of(v, ip, sizeof ip);
        int n = snprintf(req, sizeof req,
                         "GET /webchat/site/events HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: " ORIGIN
                         "\r\nAuthorization: Bearer %s\r\nX-Forwarded-For: %s\r\n\r\n",
                         tokens[v], ip);
        if (write(sfd[v], req, (size_t)n) != n) {
            close(sfd[v]);
            sfd[v] = -1;
            continue;
        }
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)v};
        epoll_ctl(ep, EPOLL_CTL_ADD, sfd[v], &e);
        open_ok++;
    }
    /* every stream has answered its header */
    int answered = 0;
    char buf[65536];
    struct epoll_event evs[256];
    char *seen = og_calloc((size_t)n_vis, 1);
    for (int64_t end = og_mono_ms() + 60000; answered < open_ok && og_mono_ms() < end;) {
        int n = epoll_wait(ep, evs, 256, 200);
        for (int i = 0; i < n; i++) {
            int v = (int)evs[i].data.u32;
            ssize_t r = read(sfd[v], buf, sizeof buf - 1);
            if (r > 0 && !seen[v]) {
                buf[r] = 0;
                if (strstr(buf, " 200 ")) {
                    seen[v] = 1;
                    answered++;
                }
            }
        }
    }
    usleep(500000);
    long rss_open = proc_kb("VmRSS:");
    printf("%d streams open (%d answered 200); daemon RSS %.1f MB (%.1f MB before)\n", open_ok,
           answered, rss_open / 1024.0, rss0 / 1024.0);

    /* the conversation load */
    cap_replies = n_vis * (seconds / interval_s) + 16;
    sent_us = og_calloc((size_t)cap_replies, sizeof *sent_us);
    int64_t *delays = og_calloc((size_t)cap_replies, sizeof *delays);
    int nd = 0;
    double cpu0 = proc_cpu_s();
    int64_t run0 = og_mono_ms();
    pthread_t *th = og_calloc((size_t)n_senders, sizeof *th);
    struct sender *ss = og_calloc((size_t)n_senders, sizeof *ss);
    for (int i = 0; i < n_senders; i++) {
        ss[i].id = i;
        pthread_create(&th[i], NULL, sender, &ss[i]);
    }
    int64_t end = og_mono_ms() + (int64_t)seconds * 1000 + 5000;
    while (og_mono_ms() < end) {
        int n = epoll_wait(ep, evs, 256, 200);
        int64_t t = now_us();
        for (int i = 0; i < n; i++) {
            int v = (int)evs[i].data.u32;
            ssize_t r = read(sfd[v], buf, sizeof buf - 1);
            if (r <= 0)
                continue;
            buf[r] = 0;
            for (char *p = buf; (p = strstr(p, "\"rk")) != NULL; p += 3) {
                int k = atoi(p + 3);
                if (k >= 0 && k < cap_replies && sent_us[k] && nd < cap_replies)
                    delays[nd++] = t - sent_us[k];
            }
        }
        if (nd >= atomic_load(&n_replies) && og_mono_ms() - run0 > (int64_t)seconds * 1000)
            break;
    }
    atomic_store(&stop_senders, 1);
    for (int i = 0; i < n_senders; i++)
        pthread_join(th[i], NULL);
    double cpu = proc_cpu_s() - cpu0, wall = (double)(og_mono_ms() - run0) / 1000.0;
    long rss_end = proc_kb("VmRSS:"), hwm = proc_kb("VmHWM:");
    qsort(delays, (size_t)nd, sizeof *delays, cmp);
    printf("%d visitor messages with a reply each over %.1f s (%d refused); %d replies seen on "
           "the streams\n",
           atomic_load(&n_replies), wall, atomic_load(&n_refused), nd);
    if (nd)
        printf("reply latency (agent POST start to the visitor's stream): p50 %.1f ms, p99 %.1f "
               "ms, max %.1f ms\n",
               delays[nd / 2] / 1000.0, delays[(size_t)nd * 99 / 100] / 1000.0,
               delays[nd - 1] / 1000.0);
    printf("daemon: RSS %.1f MB at the end (peak %.1f MB), CPU %.1f s over %.1f s (%.0f%% of a "
           "core)\n",
           rss_end / 1024.0, hwm / 1024.0, cpu, wall, 100.0 * cpu / wall);
    for (int v = 0; v < n_vis; v++)
        if (sfd[v] >= 0)
            close(sfd[v]);
    close(ep);
    og_test_daemon_stop(&d);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    free(tokens), free(sessions), free(sent_us), free(delays), free(sfd), free(seen), free(th),
        free(ss);
    return 0;
}
