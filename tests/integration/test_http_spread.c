/* test_http_spread - connections that arrive together are spread over the
 * HTTP server's threads (gateway/og_accept.h): the daemon runs 8 threads,
 * 16 keep-alive connections are opened at once and each asks /healthz; then
 * the daemon's epoll sets (one per libmicrohttpd thread, read from
 * /proc/<pid>/fdinfo) are counted: every thread holds one to three of them.
 * libmicrohttpd's own accepting gave them to whichever thread woke first
 * (several on some, none on others). The daemon still answers on every
 * connection, refuses nothing, and stops cleanly. */
#include "og_test.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { THREADS = 8, CONNS = 16 };

/* One GET /healthz on fd: 1 when a 200 came back (the connection stays). */
static int healthz(int fd)
{
    return og_test_raw_send(fd, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", (size_t)-1) ==
               0 &&
           og_test_raw_answer(fd, 5000, NULL) == 200;
}

/* The socket inode of the daemon's end of the connection whose client port
 * is cport (from /proc/net/tcp), or 0. */
static unsigned long server_inode(int port, int cport)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    unsigned long found = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned lp = 0, rp = 0;
        unsigned long ino = 0;
        if (sscanf(line, " %*d: %*8X:%X %*8X:%X %*X %*X:%*X %*X:%*X %*X %*d %*d %lu", &lp, &rp,
                   &ino) == 3 &&
            (int)lp == port && (int)rp == cport)
            found = ino;
    }
    if (f)
        fclose(f);
    return found;
}

/* How many of inodes[0..n) each epoll set of pid watches, into per[] (up
 * to max sets); returns the number of sets that watch any. */
static int epoll_counts(pid_t pid, const unsigned long *inodes, int n, int *per, int max)
{
    char path[320], link[128];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    int sets = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && sets < max) {
        snprintf(path, sizeof path, "/proc/%d/fd/%s", (int)pid, e->d_name);
        ssize_t l = readlink(path, link, sizeof link - 1);
        if (l <= 0)
            continue;
        link[l] = 0;
        if (strcmp(link, "anon_inode:[eventpoll]") != 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/fdinfo/%s", (int)pid, e->d_name);
        FILE *f = fopen(path, "r");
        char line[256];
        int count = 0;
        while (f && fgets(line, sizeof line, f)) {
            int tfd;
            if (sscanf(line, "tfd: %d", &tfd) != 1)
                continue;
            snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, tfd);
            l = readlink(path, link, sizeof link - 1);
            unsigned long ino;
            if (l <= 0 || (link[l] = 0, sscanf(link, "socket:[%lu]", &ino) != 1))
                continue;
            for (int i = 0; i < n; i++)
                count += inodes[i] == ino;
        }
        if (f)
            fclose(f);
        if (count)
            per[sets++] = count;
    }
    if (d)
        closedir(d);
    return sets;
}

int main(void)
{
    struct og_test_redis rs;
    struct og_test_daemon d;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    char extra[64];
    snprintf(extra, sizeof extra, "\"http\":{\"threads\":%d}", THREADS);
    if (og_test_daemon_start(&d, rs.url, "[]", extra) != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    int fds[CONNS];
    unsigned long inodes[CONNS];
    for (int i = 0; i < CONNS; i++) {
        fds[i] = og_test_raw_connect(NULL, d.port);
        CHECK(fds[i] >= 0);
    }
    for (int i = 0; i < CONNS; i++) {
        CHECK(healthz(fds[i]));
        struct sockaddr_in me;
        socklen_t len = sizeof me;
        CHECK(getsockname(fds[i], (struct sockaddr *)&me, &len) == 0);
        inodes[i] = server_inode(d.port, ntohs(me.sin_port));
        CHECK(inodes[i] != 0);
    }
    int per[64], total = 0;
    int sets = epoll_counts(d.pid, inodes, CONNS, per, 64);
    printf("connections per thread:");
    for (int i = 0; i < sets; i++) {
        printf(" %d", per[i]);
        total += per[i];
        CHECK(per[i] >= 1 && per[i] <= 3);
    }
    printf("\n");
    CHECK_INT(total, CONNS); /* every connection is on one thread */
    CHECK_INT(sets, THREADS);
    /* a second request on each still answers (keep-alive on its thread) */
    for (int i = 0; i < CONNS; i++) {
        CHECK(healthz(fds[i]));
        close(fds[i]);
    }
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    return og_test_done();
}
