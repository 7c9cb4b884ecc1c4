/* test_sse_limits - the live stream's bounds (#14.8), against the daemon:
 *   - a client that stops reading is cut off once its backlog passes the
 *     bound: the server ends its stream (EOF) instead of holding megabytes
 *     for it, and a client that resumes with the last id it got gets the rest;
 *   - one principal may hold 16 live streams; the 17th is refused with 429
 *     and Retry-After, and a stream freed makes room again. */
#include "og_test.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SECRET "sse-secret"

/* Opens GET /api/v1/events on a raw socket with a small receive buffer;
 * returns the fd (the request is sent, nothing read). */
static int open_stream(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
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
                     OG_TEST_ADMIN_TOKEN);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads the first chunk of the answer: its status line. */
static int status_of(int fd)
{
    char buf[512];
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n <= 12)
        return 0;
    buf[n] = 0;
    return atoi(buf + 9);
}

/* Reads until EOF or ms pass into all; returns bytes read, -1 when no EOF
 * came. */
static long drain(int fd, int ms, struct og_buf *all)
{
    long total = 0;
    int64_t end = og_mono_ms() + ms;
    char buf[65536];
    while (og_mono_ms() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) != 1)
            continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0)
            return total;
        if (n < 0 && errno != EINTR)
            return total;
        if (n > 0) {
            total += n;
            og_buf_append(all, buf, (size_t)n);
        }
    }
    return -1;
}

int main(void)
{
    struct og_test_redis rs;
    struct og_test_daemon d;
    const char *ch =
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]";
    if (og_test_redis_start(&rs) != 0 || og_test_daemon_start(&d, rs.url, ch, NULL) != 0)
        return 1;

    /* a stalled reader: ~10 MB of events while it reads nothing (more than
     * the kernel's socket buffers hold, so the backlog lands with us) */
    int stalled = open_stream(d.port);
    CHECK(stalled >= 0);
    usleep(300000);
    char pad[1001];
    memset(pad, 'p', 1000);
    pad[1000] = 0;
    for (int i = 0; i < 4000; i++) {
        char *b = og_sprintf("{\"id\":\"s-%d\",\"from\":{\"id\":\"u%d\"},\"text\":\"%s\"}", i,
                             i % 50, pad);
        CHECK_INT(og_test_post_signed(&d, "demo", SECRET, b, strlen(b)), 200);
        free(b);
    }
    struct og_buf all = {0};
    long got = drain(stalled, 15000, &all);
    og_buf_append(&all, "", 0);
    CHECK(got >= 0); /* the server ended the stream */
    /* cut off, not finished: the newest events never reached it */
    CHECK(strstr(all.data, "\"s-0\"") != NULL);
    CHECK(strstr(all.data, "\"s-3999\"") == NULL);
    og_buf_free(&all);
    close(stalled);

    /* 16 streams per principal */
    int fds[17];
    for (int i = 0; i < 16; i++) {
        fds[i] = open_stream(d.port);
        CHECK_INT(status_of(fds[i]), 200);
    }
    fds[16] = open_stream(d.port);
    CHECK_INT(status_of(fds[16]), 429);
    close(fds[16]);
    close(fds[0]); /* one freed: room again */
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++) {
        usleep(100000);
        int fd = open_stream(d.port);
        ok = status_of(fd) == 200;
        close(fd);
    }
    CHECK(ok);
    for (int i = 1; i < 16; i++)
        close(fds[i]);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    return og_test_done();
}
