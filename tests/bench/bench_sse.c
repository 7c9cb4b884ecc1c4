/* bench_sse - the live stream under many agents (#14.7): N agents (default
 * 500, in 10 groups) each hold GET /api/v1/events with their own token on
 * one instance, while customers write R messages per second (default 200)
 * for S seconds; new sessions wait in the queue of the default policy, which
 * every agent sees, so every message event goes to every stream. Prints the
 * delivery delay (POST start to the event arriving on a stream) p50/p99/max
 * over all streams, the events delivered, and the daemon's CPU.
 *
 * usage: bench_sse [agents 500] [messages per second 200] [seconds 10] */
#include "og_test.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define SECRET "bench-secret"

static struct og_test_daemon d;
static int rate = 200, seconds = 10;
static int64_t *sent_us; /* POST start of message i, wall clock us */
static int n_msgs;

static int64_t now_us(void)
{
    return og_now_ms() * 1000;
}

static void *poster(void *arg)
{
    (void)arg;
    int64_t start = og_mono_ms();
    for (int i = 0; i < n_msgs; i++) {
        int64_t due = start + (int64_t)i * 1000 / rate;
        int64_t w = due - og_mono_ms();
        if (w > 0)
            usleep((useconds_t)w * 1000);
        char *b = og_sprintf("{\"id\":\"m-%d\",\"from\":{\"id\":\"c%d\"},\"text\":\"mk%d.\"}", i,
                             i % 500, i);
        sent_us[i] = now_us();
        og_test_post_signed(&d, "demo", SECRET, b, strlen(b));
        free(b);
    }
    return NULL;
}

static int open_stream(int port, const char *token)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s"
                     "\r\n\r\n",
                     token);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    return fd;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int agents = argc > 1 ? atoi(argv[1]) : 500;
    rate = argc > 2 ? atoi(argv[2]) : 200;
    seconds = argc > 3 ? atoi(argv[3]) : 10;
    n_msgs = rate * seconds;
    struct rlimit rl = {65536, 65536};
    setrlimit(RLIMIT_NOFILE, &rl);
    struct og_test_redis rs;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    const char *ch =
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]";
    if (og_test_daemon_start(&d, rs.url, ch, "\"log_level\":\"warn\"") != 0)
        return 1;
    int *fds = og_calloc((size_t)agents, sizeof *fds);
    char url[128];
    snprintf(url, sizeof url, "%s/api/v1/agents", d.base);
    for (int i = 0; i < agents; i++) {
        char body[160];
        snprintf(body, sizeof body,
                 "{\"name\":\"A%d\",\"email\":\"a%d@bench.io\",\"groups\":[\"g%d\"]}", i, i,
                 i % 10);
        struct og_test_resp r = og_test_http("POST", url,
                                             "Authorization: Bearer " OG_TEST_ADMIN_TOKEN
                                             "\nContent-Type: application/json",
                                             body, strlen(body));
        json_object *j = json_tokener_parse(r.body);
        const char *tok = json_object_get_string(json_object_object_get(j, "token"));
        fds[i] = tok ? open_stream(d.port, tok) : -1;
        json_object_put(j);
        free(r.body);
        if (fds[i] < 0) {
            fprintf(stderr, "agent %d: no stream\n", i);
            return 1;
        }
    }
    usleep(500000);
    sent_us = og_calloc((size_t)n_msgs, sizeof *sent_us);
    size_t cap = (size_t)n_msgs * (size_t)agents, nd = 0;
    int64_t *delays = og_calloc(cap ? cap : 1, sizeof *delays);
    struct pollfd *pf = og_calloc((size_t)agents, sizeof *pf);
    for (int i = 0; i < agents; i++)
        pf[i] = (struct pollfd){fds[i], POLLIN, 0};
    char *pid_s = og_sprintf("/proc/%d/stat", d.pid);
    long tick = sysconf(_SC_CLK_TCK);
    unsigned long long ut0 = 0, st0 = 0, ut1 = 0, st1 = 0;
    FILE *f = fopen(pid_s, "r");
    if (f &&
        fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut0, &st0) != 2)
        ut0 = st0 = 0;
    if (f)
        fclose(f);
    pthread_t th;
    pthread_create(&th, NULL, poster, NULL);
    int64_t end = og_mono_ms() + (int64_t)seconds * 1000 + 5000;
    char buf[65536];
    while (og_mono_ms() < end && nd < cap) {
        if (poll(pf, (nfds_t)agents, 200) <= 0)
            continue;
        int64_t t = now_us();
        for (int i = 0; i < agents; i++) {
            if (!(pf[i].revents & POLLIN))
                continue;
            ssize_t n = read(fds[i], buf, sizeof buf - 1);
            if (n <= 0)
                continue;
            buf[n] = 0;
            /* "text":"mk<i>." once per message.received event */
            for (char *p = buf; (p = strstr(p, "\"mk")) != NULL; p += 3) {
                int k = atoi(p + 3);
                if (strchr(p + 3, '.') && k >= 0 && k < n_msgs && sent_us[k] && nd < cap)
                    delays[nd++] = t - sent_us[k];
            }
        }
    }
    pthread_join(th, NULL);
    f = fopen(pid_s, "r");
    if (f &&
        fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut1, &st1) != 2)
        ut1 = st1 = 0;
    if (f)
        fclose(f);
    qsort(delays, nd, sizeof *delays, cmp);
    printf("%d agent streams, %d messages/s for %d s: %zu of %zu deliveries\n", agents, rate,
           seconds, nd, cap);
    if (nd)
        printf("delivery delay: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", delays[nd / 2] / 1000.0,
               delays[nd * 99 / 100] / 1000.0, delays[nd - 1] / 1000.0);
    printf("omnigate CPU: %.2f s over the run\n", (double)(ut1 + st1 - ut0 - st0) / (double)tick);
    for (int i = 0; i < agents; i++)
        close(fds[i]);
    og_test_daemon_stop(&d);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    return 0;
}
