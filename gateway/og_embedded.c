/* og_embedded - redis.url "embedded": omnigate starts its own redis-server
 * on a unix socket in <data_dir>/redis (no TCP listener, AOF on, fsync
 * every second), supervises it (restarting it if it dies, with back-off) and
 * stops it on exit. This makes the first run need nothing but the package.
 *
 * Start-up waits while Redis answers LOADING (a large AOF takes minutes to
 * load), logging its progress, and gives up only when the process dies, when
 * it answers an error other than LOADING, when it has not answered at all for
 * a minute, or after an hour of loading. OMNIGATE_EMBEDDED_LOAD_TIMEOUT_S
 * lowers that hour (tests use it; the silence bound is never above it).
 *
 * One data_dir, one Redis: omnigate holds a lock on <data_dir>/redis/
 * omnigate.lock while it runs, so a second omnigate on the same data_dir
 * refuses to start. The child gets PR_SET_PDEATHSIG, so it is sent SIGTERM
 * (AOF fsynced, clean exit) when omnigate dies, even by kill -9. A
 * redis-server of a previous run still found in data_dir (an orphan of an
 * omnigate without that, or one still shutting down) is stopped before ours
 * starts rather than adopted: omnigate could not waitpid() it, it would miss
 * the death signal, and it runs with whatever arguments an older omnigate
 * gave it. Stopping costs one reload of the AOF, which start-up waits for. */
#include "og_gateway.h"
#include "og_log.h"
#include "og_probe.h"
#include "og_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Loading may take this long (OMNIGATE_EMBEDDED_LOAD_TIMEOUT_S overrides). */
#define EMB_LOAD_TIMEOUT_MS (3600 * 1000)
/* A live process that never answered (no socket, no reply) for this long is
 * not a working redis-server. */
#define EMB_SILENCE_MS (60 * 1000)
#define EMB_PROGRESS_EVERY_MS 5000
/* A stale instance gets this long after SHUTDOWN, then after SIGTERM, then
 * after SIGKILL, to be gone. */
#define EMB_STALE_SHUTDOWN_MS 30000
#define EMB_STALE_TERM_MS 10000
#define EMB_STALE_KILL_MS 5000

struct og_embedded {
    char *dir, *sock, *url, *server, *logfile, *pidfile, *lockfile; /* owned */
    int lock_fd;      /* flock()ed for our lifetime; O_CLOEXEC */
    int fsync_always; /* redis.durability "fsync": appendfsync always */
    int64_t load_timeout_ms;
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

static void sleep_ms(int ms)
{
    usleep((useconds_t)ms * 1000);
}

/* The child asks for SIGTERM when its parent dies. The signal follows the
 * thread that forked, not the process, so spawn() runs only on threads that
 * live as long as the redis-server they start (main, the supervisor). Only
 * async-signal-safe calls between fork and exec: the parent has threads. */
static pid_t spawn(struct og_embedded *e)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(126); /* the parent died before the death signal was set */
        /* Our signal mask blocks SIGTERM for sigwait(); redis needs it back. */
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL);
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0)
            dup2(fd, 0), dup2(fd, 1);
        execlp(e->server, e->server, "--port", "0", "--unixsocket", e->sock, "--unixsocketperm",
               "700", "--dir", e->dir, "--appendonly", "yes", "--appendfsync",
               e->fsync_always ? "always" : "everysec", "--save", "", "--daemonize", "no",
               "--logfile", e->logfile, "--pidfile", e->pidfile,
               /* a message's and a contact's hash hold their JSON (a few
                * hundred bytes): as listpacks they take ~30% less memory
                * than as hash tables (bench_footprint; docs/operations.md) */
               "--hash-max-listpack-value", "1024", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* "exit code N" or "signal N" for a waitpid() status, into buf. */
static const char *describe(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exit code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "signal %d", WTERMSIG(status));
    else
        snprintf(buf, len, "status %d", status);
    return buf;
}

/* --------------------------------------------------------------- start-up */

/* The value of "name:" in an INFO text, copied to out ("" when absent). */
static void info_field(const char *info, const char *name, char *out, size_t outlen)
{
    out[0] = 0;
    size_t n = strlen(name);
    for (const char *p = info; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ':') {
            size_t len = strcspn(p + n + 1, "\r\n");
            snprintf(out, outlen, "%.*s", (int)(len < outlen ? len : outlen - 1), p + n + 1);
            return;
        }
}

/* Logs how far loading has got, or only the time waited when Redis cannot
 * tell. */
static void log_progress(const char *sock, int64_t waited_ms)
{
    char perc[32] = "", eta[32] = "";
    char *info = og_probe_info(sock, "persistence");
    info_field(info, "loading_loaded_perc", perc, sizeof perc);
    info_field(info, "loading_eta_seconds", eta, sizeof eta);
    free(info);
    if (*perc)
        og_info("embedded redis-server: still loading its data, %s%% after %lld s (about %s s "
                "left)",
                perc, (long long)(waited_ms / 1000), *eta ? eta : "?");
    else
        og_info("embedded redis-server: still loading its data after %lld s",
                (long long)(waited_ms / 1000));
}

/* SIGTERM/SIGINT are blocked in every thread (main sigwait()s them later),
 * so a stop asked for during a long load shows up as pending. */
static int stop_requested(void)
{
    sigset_t p;
    return sigpending(&p) == 0 && (sigismember(&p, SIGTERM) == 1 || sigismember(&p, SIGINT) == 1);
}

/* Waits until the child pid answers PING. Returns 0 when it does; -1 when it
 * died (reaped, *status set), answered another error, stayed silent or kept
 * loading too long, or a stop was asked for during start-up (main thread). */
static int wait_ready(struct og_embedded *e, pid_t pid, int *status, int main_thread)
{
    int64_t t0 = og_mono_ms(), last_answer = t0, next_log = -1;
    int64_t silence = e->load_timeout_ms < EMB_SILENCE_MS ? e->load_timeout_ms : EMB_SILENCE_MS;
    char err[256] = "";
    for (;;) {
        enum og_probe p = og_probe_ping(e->sock, err, sizeof err);
        int64_t now = og_mono_ms();
        if (p == OG_PROBE_OK)
            return 0;
        if (p == OG_PROBE_ERROR) {
            og_error("embedded redis-server (pid %d) answers '%s'", (int)pid, err);
            return -1;
        }
        if (waitpid(pid, status, WNOHANG) == pid) {
            char how[32];
            og_error("embedded redis-server (pid %d) exited during start-up (%s)", (int)pid,
                     describe(*status, how, sizeof how));
            return -1;
        }
        if (p == OG_PROBE_LOADING) {
            last_answer = now;
            if (next_log < 0) {
                og_info("embedded redis-server (pid %d) is loading its data; waiting", (int)pid);
                next_log = now + EMB_PROGRESS_EVERY_MS;
            } else if (now >= next_log) {
                log_progress(e->sock, now - t0);
                next_log = now + EMB_PROGRESS_EVERY_MS;
            }
        }
        if (now - t0 >= e->load_timeout_ms || now - last_answer >= silence) {
            og_error("embedded redis-server (pid %d) is not ready after %lld s (%s)", (int)pid,
                     (long long)((now - t0) / 1000),
                     now - last_answer >= silence ? "no answer" : "still loading");
            return -1;
        }
        if (main_thread && stop_requested()) {
            og_error("embedded redis-server: start-up interrupted by a stop signal");
            return -1;
        }
        sleep_ms(p == OG_PROBE_LOADING ? 100 : 20);
    }
}

/* ------------------------------------------------- a previous run's Redis */

/* 1 when cmdline (arguments joined by spaces) has path as a whole word or
 * after "unixsocket:", not as the tail of a longer path. */
static int names_path(const char *cmdline, const char *path)
{
    size_t n = strlen(path);
    for (const char *p = strstr(cmdline, path); p; p = strstr(p + 1, path))
        if ((p == cmdline || p[-1] == ' ' || p[-1] == ':') && (p[n] == ' ' || p[n] == 0))
            return 1;
    return 0;
}

/* 1 when pid is a process (not a zombie) whose command line names our
 * socket: redis-server shows "unixsocket:<path>" there (its process title),
 * or "--unixsocket <path>" when titles are off. */
static int is_ours(struct og_embedded *e, pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    const char *paren = strrchr(buf, ')');
    if (!paren || paren[1] != ' ' || paren[2] == 'Z' || paren[2] == 'X')
        return 0;
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == 0)
            buf[i] = ' ';
    buf[n] = 0;
    return names_path(buf, e->sock);
}

/* The pid of a redis-server a previous run left: its pid file (from this
 * version on), or what the socket says (INFO server process_id). 0 if none. */
static pid_t stale_pid(struct og_embedded *e)
{
    char buf[32] = "";
    int fd = open(e->pidfile, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        buf[n > 0 ? n : 0] = 0;
        long pid = strtol(buf, NULL, 10);
        if (pid > 0 && pid <= INT_MAX && is_ours(e, (pid_t)pid))
            return (pid_t)pid;
    }
    char *info = og_probe_info(e->sock, "server");
    info_field(info, "process_id", buf, sizeof buf);
    free(info);
    long pid = strtol(buf, NULL, 10);
    return pid > 0 && pid <= INT_MAX && is_ours(e, (pid_t)pid) ? (pid_t)pid : 0;
}

/* Waits up to ms for pid to be gone (or a zombie nobody reaps yet). */
static int gone_within(struct og_embedded *e, pid_t pid, int ms)
{
    for (int t = 0; t < ms; t += 50) {
        if (!is_ours(e, pid))
            return 1;
        sleep_ms(50);
    }
    return !is_ours(e, pid);
}

/* Stops a redis-server of a previous run on our socket: SHUTDOWN through the
 * socket (Redis fsyncs the AOF and exits), then signals if it does not go.
 * Signals go only to a pid whose command line names our socket. */
static int stop_stale(struct og_embedded *e)
{
    pid_t pid = stale_pid(e);
    if (pid == 0)
        return 0;
    og_warn("a redis-server of a previous run (pid %d) is still running on %s; stopping it "
            "before starting ours",
            (int)pid, e->sock);
    if (og_probe_shutdown(e->sock) && gone_within(e, pid, EMB_STALE_SHUTDOWN_MS))
        return 0;
    if (is_ours(e, pid))
        kill(pid, SIGTERM);
    if (gone_within(e, pid, EMB_STALE_TERM_MS))
        return 0;
    if (is_ours(e, pid))
        kill(pid, SIGKILL);
    if (gone_within(e, pid, EMB_STALE_KILL_MS))
        return 0;
    og_error("the redis-server of a previous run (pid %d) on %s does not stop", (int)pid, e->sock);
    return -1;
}

/* Takes the data_dir lock; held by another omnigate, it is an error. */
static int take_lock(struct og_embedded *e)
{
    e->lock_fd = open(e->lockfile, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (e->lock_fd < 0) {
        og_error("data_dir: cannot open %s: %s", e->lockfile, strerror(errno));
        return -1;
    }
    if (flock(e->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        og_error("data_dir: %s is in use by another omnigate (it holds %s)", e->dir, e->lockfile);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ supervision */

/* 1 when og_embedded_stop() has begun; the supervisor then leaves. */
static int stopping(struct og_embedded *e)
{
    pthread_mutex_lock(&e->mu);
    int s = e->stopping;
    if (s)
        e->pid = 0;
    pthread_mutex_unlock(&e->mu);
    return s;
}

static void *supervise(void *arg)
{
    struct og_embedded *e = arg;
    int backoff_ms = 200, st = 0, reaped = 0;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        pid_t pid = e->pid;
        pthread_mutex_unlock(&e->mu);
        if (pid > 0 && !reaped && waitpid(pid, &st, 0) < 0 && errno == EINTR)
            continue;
        reaped = 0;
        if (stopping(e))
            return NULL;
        char how[32];
        og_warn("embedded redis-server (pid %d) exited (%s); restarting", (int)pid,
                describe(st, how, sizeof how));
        sleep_ms(backoff_ms);
        backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
        pthread_mutex_lock(&e->mu);
        pid = e->stopping ? 0 : spawn(e);
        e->pid = pid;
        pthread_mutex_unlock(&e->mu);
        st = 0;
        if (pid == 0)
            return NULL; /* stopping */
        if (pid < 0)
            continue; /* fork failed: try again after the back-off */
        if (wait_ready(e, pid, &st, 0) == 0)
            backoff_ms = 200;
        else if (waitpid(pid, &st, WNOHANG) == 0)
            kill(pid, SIGKILL); /* alive but unusable: the next round reaps and restarts it */
        else
            reaped = 1; /* wait_ready (or this waitpid) reaped it; st holds its status */
    }
}

static void emb_free(struct og_embedded *e)
{
    if (e->lock_fd >= 0)
        close(e->lock_fd); /* releases the lock */
    free(e->dir), free(e->sock), free(e->url), free(e->logfile), free(e->server);
    free(e->pidfile), free(e->lockfile);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

static int64_t load_timeout_ms(void)
{
    const char *s = getenv("OMNIGATE_EMBEDDED_LOAD_TIMEOUT_S");
    char *end = NULL;
    long v = s ? strtol(s, &end, 10) : 0;
    if (s && *s && end && !*end && v > 0 && v <= 7 * 24 * 3600)
        return (int64_t)v * 1000;
    if (s)
        og_warn("OMNIGATE_EMBEDDED_LOAD_TIMEOUT_S='%s' is not a number of seconds; using %d", s,
                EMB_LOAD_TIMEOUT_MS / 1000);
    return EMB_LOAD_TIMEOUT_MS;
}

struct og_embedded *og_embedded_start(const char *data_dir, const char *server, int fsync_always,
                                      const char **url)
{
    char abs[PATH_MAX];
    if (mkdir_p(data_dir) != 0 || !realpath(data_dir, abs)) {
        og_error("data_dir: cannot create '%s': %s", data_dir, strerror(errno));
        return NULL;
    }
    struct og_embedded *e = og_calloc(1, sizeof *e);
    e->lock_fd = -1;
    e->dir = og_sprintf("%s/redis", abs);
    e->sock = og_sprintf("%s/redis.sock", e->dir);
    e->url = og_sprintf("unix://%s", e->sock);
    e->logfile = og_sprintf("%s/redis.log", e->dir);
    e->pidfile = og_sprintf("%s/redis.pid", e->dir);
    e->lockfile = og_sprintf("%s/omnigate.lock", e->dir);
    e->server = og_strdup(server && *server ? server : "redis-server");
    e->fsync_always = fsync_always;
    e->load_timeout_ms = load_timeout_ms();
    pthread_mutex_init(&e->mu, NULL);
    if (mkdir_p(e->dir) != 0 || strlen(e->sock) >= 100) {
        og_error("data_dir: cannot use '%s' for the embedded redis socket", e->dir);
        goto fail;
    }
    if (take_lock(e) != 0 || stop_stale(e) != 0)
        goto fail;
    unlink(e->sock); /* a stale socket from a crash */
    e->pid = spawn(e);
    int st = 0;
    if (e->pid < 0 || wait_ready(e, e->pid, &st, 1) != 0) {
        og_error("embedded redis: '%s' did not start (see %s)", e->server, e->logfile);
        if (e->pid > 0 && waitpid(e->pid, &st, WNOHANG) == 0) {
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
    emb_free(e);
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
    emb_free(e);
}
