/* og_accept - see og_accept.h. */
#include "og_accept.h"
#include "og_log.h"
#include "og_util.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct og_accept {
    int fd;                 /* the listening socket (non-blocking) */
    int stop;               /* eventfd: written to stop the thread */
    struct MHD_Daemon *mhd; /* borrowed */
    pthread_t th;
    int started;
};

struct og_accept *og_accept_new(const struct sockaddr *addr, socklen_t addrlen, char *err,
                                size_t errlen)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return NULL;
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (addr->sa_family == AF_INET6) /* as libmicrohttpd had it: no IPv4 on it */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    if (bind(fd, addr, addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        close(fd);
        return NULL;
    }
    int stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    struct og_accept *a = og_calloc(1, sizeof *a);
    a->fd = fd;
    a->stop = stop;
    return a;
}

int og_accept_port(const struct og_accept *a)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (!a || getsockname(a->fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

static void *run(void *arg)
{
    struct og_accept *a = arg;
    time_t warned = 0;
    for (;;) {
        struct pollfd p[2] = {{.fd = a->fd, .events = POLLIN}, {.fd = a->stop, .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        for (;;) {
            struct sockaddr_storage ss;
            socklen_t len = sizeof ss;
            int c = accept4(a->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
            if (c >= 0) {
                /* MHD closes it when it does not take it (connection
                 * limit, accept policy, memory) */
                MHD_add_connection(a->mhd, c, (struct sockaddr *)&ss, len);
                continue;
            }
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            /* out of descriptors or memory: the connection waits in the
             * backlog; try again shortly rather than spin */
            if (time(NULL) != warned) {
                warned = time(NULL);
                og_warn("http: accept: %s", strerror(errno));
            }
            struct pollfd s = {.fd = a->stop, .events = POLLIN};
            if (poll(&s, 1, 50) > 0)
                return NULL;
            break;
        }
    }
    return NULL;
}

int og_accept_start(struct og_accept *a, struct MHD_Daemon *mhd)
{
    a->mhd = mhd;
    if (pthread_create(&a->th, NULL, run, a) != 0)
        return -1;
    a->started = 1;
    return 0;
}

void og_accept_free(struct og_accept *a)
{
    if (!a)
        return;
    if (a->started) {
        uint64_t one = 1;
        if (write(a->stop, &one, sizeof one) != (ssize_t)sizeof one)
            og_warn("http: cannot stop the accepting thread: %s", strerror(errno));
        pthread_join(a->th, NULL);
    }
    close(a->fd);
    close(a->stop);
    free(a);
}
