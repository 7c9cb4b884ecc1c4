/* og_embedded - redis.url "embedded": omnigate starts its own redis-server
 * on a unix socket in <data_dir>/redis (no TCP listener, AOF on, fsync
 * every second), supervises it (restarting it if it dies, with back-off) and
 * stops it on exit. This makes the first run need nothing but the package. */
#include "og_gateway.h"
#include "og_log.h"
#include "og_util.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct og_embedded {
    char *dir, *sock, *url, *server, *logfile;
    pid_t pid;
    pthread_t sup;
    pthread_mutex_t mu;
    int stopping;
};

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static pid_t spawn(struct og_embedded *e)
{
    pid_t pid = fork();
    if (pid == 0) {
        /* Our signal mask blocks SIGTERM for sigwait(); redis needs it back. */
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL);
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0)
            dup2(fd, 0), dup2(fd, 1);
        execlp(e->server, e->server, "--port", "0", "--unixsocket", e->sock, "--unixsocketperm",
               "700", "--dir", e->dir, "--appendonly", "yes", "--appendfsync", "everysec",
               "--save", "", "--daemonize", "no", "--logfile", e->logfile, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_ready(struct og_embedded *e, pid_t pid, int ms)
{
    for (int t = 0; t < ms; t += 20) {
        struct timeval tv = {0, 200000};
        redisContext *c = redisConnectUnixWithTimeout(e->sock, tv);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && r->type == REDIS_REPLY_STATUS;
            if (r)
                freeReplyObject(r);
            redisFree(c);
            if (ok)
                return 0;
        } else if (c) {
            redisFree(c);
        }
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1;
        usleep(20000);
    }
    return -1;
}

static void *supervise(void *arg)
{
    struct og_embedded *e = arg;
    int backoff_ms = 200;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        pid_t pid = e->pid;
        pthread_mutex_unlock(&e->mu);
        int st = 0;
        if (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            continue;
        pthread_mutex_lock(&e->mu);
        if (e->stopping) {
            e->pid = 0;
            pthread_mutex_unlock(&e->mu);
            return NULL;
        }
        pthread_mutex_unlock(&e->mu);
        og_warn("embedded redis-server (pid %d) exited (status %d); restarting", (int)pid, st);
        usleep((useconds_t)backoff_ms * 1000);
        backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
        pthread_mutex_lock(&e->mu);
        if (e->stopping) {
            e->pid = 0;
            pthread_mutex_unlock(&e->mu);
            return NULL;
        }
        e->pid = spawn(e);
        pthread_mutex_unlock(&e->mu);
        if (wait_ready(e, e->pid, 10000) == 0)
            backoff_ms = 200;
    }
}

struct og_embedded *og_embedded_start(const char *data_dir, const char *server,
                                      const char **url)
{
    char abs[PATH_MAX];
    if (mkdir_p(data_dir) != 0 || !realpath(data_dir, abs)) {
        og_error("data_dir: cannot create '%s': %s", data_dir, strerror(errno));
        return NULL;
    }
    struct og_embedded *e = og_calloc(1, sizeof *e);
    e->dir = og_sprintf("%s/redis", abs);
    e->sock = og_sprintf("%s/redis.sock", e->dir);
    e->url = og_sprintf("unix://%s", e->sock);
    e->logfile = og_sprintf("%s/redis.log", e->dir);
    e->server = og_strdup(server && *server ? server : "redis-server");
    pthread_mutex_init(&e->mu, NULL);
    if (mkdir_p(e->dir) != 0 || strlen(e->sock) >= 100) {
        og_error("data_dir: cannot use '%s' for the embedded redis socket", e->dir);
        goto fail;
    }
    unlink(e->sock); /* a stale socket from a crash */
    e->pid = spawn(e);
    if (e->pid < 0 || wait_ready(e, e->pid, 10000) != 0) {
        og_error("embedded redis: '%s' did not start (see %s)", e->server, e->logfile);
        if (e->pid > 0) {
            kill(e->pid, SIGKILL);
            waitpid(e->pid, NULL, 0);
        }
        goto fail;
    }
    pthread_create(&e->sup, NULL, supervise, e);
    og_info("embedded redis-server pid %d on %s", (int)e->pid, e->sock);
    *url = e->url;
    return e;
fail:
    free(e->dir), free(e->sock), free(e->url), free(e->logfile), free(e->server);
    pthread_mutex_destroy(&e->mu);
    free(e);
    return NULL;
}

void og_embedded_stop(struct og_embedded *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    pid_t pid = e->pid;
    if (pid > 0)
        kill(pid, SIGTERM); /* redis fsyncs the AOF and exits */
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->sup, NULL);
    og_info("embedded redis-server stopped");
    free(e->dir), free(e->sock), free(e->url), free(e->logfile), free(e->server);
    pthread_mutex_destroy(&e->mu);
    free(e);
}
