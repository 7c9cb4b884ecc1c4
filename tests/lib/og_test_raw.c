/* og_test_raw - raw HTTP over loopback for tests that must send what a
 * client library never would; see og_test.h. Every wait is bounded. */
#include "og_test.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

int og_test_raw_connect(const char *src, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (src) {
        inet_pton(AF_INET, src, &a.sin_addr);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            close(fd);
            return -1;
        }
    }
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int og_test_raw_send(int fd, const char *s, size_t n)
{
    if (n == (size_t)-1)
        n = strlen(s);
    while (n) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        s += k, n -= (size_t)k;
    }
    return 0;
}

/* Waits up to ms for fd to be readable: 1, or 0 on timeout. */
static int readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) > 0;
}

long og_test_raw_read(int fd, int timeout_ms, char **out)
{
    struct og_buf b = {0};
    int64_t end = og_mono_ms() + timeout_ms;
    long rc = 0;
    for (;;) {
        int64_t left = end - og_mono_ms();
        if (left <= 0 || !readable(fd, (int)left))
            break;
        char tmp[4096];
        ssize_t k = recv(fd, tmp, sizeof tmp, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -1;
            break;
        }
        if (k == 0)
            break;
        og_buf_append(&b, tmp, (size_t)k);
    }
    if (!b.data)
        og_buf_append(&b, "", 0);
    if (rc == 0)
        rc = (long)b.len;
    *out = b.data;
    return rc;
}

/* The Content-Length of the header block h (up to its blank line), or 0. */
static size_t content_length(const char *h, const char *end)
{
    const char *p = h;
    while (p && p < end) {
        if (strncasecmp(p, "Content-Length:", 15) == 0)
            return (size_t)strtoull(p + 15, NULL, 10);
        p = strstr(p, "\r\n");
        if (p)
            p += 2;
    }
    return 0;
}

/* 1 when the header block h is that of a chunked (streamed) answer. */
static int streamed(const char *h, const char *end)
{
    const char *p = h;
    while (p && p < end) {
        if (strncasecmp(p, "Transfer-Encoding:", 18) == 0)
            return 1;
        p = strstr(p, "\r\n");
        if (p)
            p += 2;
    }
    return 0;
}

int og_test_raw_answer(int fd, int timeout_ms, char **body)
{
    struct og_buf b = {0};
    int64_t end = og_mono_ms() + timeout_ms;
    int status = 0;
    if (body)
        *body = NULL;
    for (;;) {
        const char *hend = b.data ? strstr(b.data, "\r\n\r\n") : NULL;
        if (hend && (streamed(b.data, hend) ||
                     b.len >= (size_t)(hend + 4 - b.data) + content_length(b.data, hend))) {
            status = atoi(b.data + strcspn(b.data, " "));
            if (body)
                *body = og_strdup(hend + 4);
            break;
        }
        int64_t left = end - og_mono_ms();
        if (left <= 0 || !readable(fd, (int)left))
            break;
        char tmp[4096];
        ssize_t k = recv(fd, tmp, sizeof tmp, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            status = -1;
            break;
        }
        if (k == 0)
            break;
        og_buf_append(&b, tmp, (size_t)k);
    }
    og_buf_free(&b);
    return status;
}

int og_test_raw_closed(int fd, int timeout_ms)
{
    int64_t end = og_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = end - og_mono_ms();
        if (left <= 0 || !readable(fd, (int)left))
            return 0;
        char tmp[4096];
        ssize_t k = recv(fd, tmp, sizeof tmp, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return 1;
    }
}
