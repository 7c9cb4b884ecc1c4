/* test_embedded_orphan - one data_dir, one redis-server:
 *   1. kill -9 of omnigate takes its embedded redis-server with it (the
 *      child's parent-death signal) within a bound, and the next start finds
 *      the data;
 *   2. a redis-server that a previous run left on data_dir (started here as
 *      omnigate starts it, with a pid file and, as older omnigates did,
 *      without) is stopped by the next start, which then serves the same data
 *      from a redis-server of its own;
 *   3. a second omnigate on the same data_dir refuses to start and leaves the
 *      first one's redis-server alone.
 * The test signals only processes it started: the daemon, its own stand-in
 * for a stale redis-server; the daemon's redis-server is asked to SHUTDOWN
 * through its socket if the fix ever fails to take it down. */
#include "og_test.h"
#include "og_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET "orphan-secret"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Output of redis-cli on the socket [xfer], "" when it fails. */
static char *cli(const char *sock, const char *args)
{
    char *cmd = og_sprintf("redis-cli -s %s %s 2>/dev/null", sock, args);
    FILE *p = popen(cmd, "r");
    struct og_buf b = {0};
    char chunk[512];
    size_t n;
    while (p && (n = fread(chunk, 1, sizeof chunk, p)) > 0)
        og_buf_append(&b, chunk, n);
    if (p)
        pclose(p);
    free(cmd);
    if (!b.data)
        og_buf_append(&b, "", 0);
    return b.data;
}

/* The pid of the redis-server on the socket, 0 if none answers. */
static pid_t redis_pid(const char *sock)
{
    char *info = cli(sock, "INFO server");
    char *p = strstr(info, "process_id:");
    pid_t pid = p ? (pid_t)atoi(p + strlen("process_id:")) : 0;
    free(info);
    return pid;
}

/* Gone: no such process, or a zombie its new parent has not reaped yet. */
static int gone(pid_t pid)
{
    char path[64], buf[512] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return kill(pid, 0) != 0 && errno == ESRCH;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *paren = strrchr(buf, ')');
    return paren && (paren[2] == 'Z' || paren[2] == 'X');
}

static int sessions(struct og_test_daemon *d)
{
    long st;
    json_object *l = og_test_api_get(d, "/api/v1/sessions", &st);
    int n = st == 200 ? (int)json_object_array_length(json_object_object_get(l, "items")) : -1;
    json_object_put(l);
    return n;
}

static int log_has(const struct og_test_daemon *d, const char *file, const char *needle)
{
    char *path = og_sprintf("%s/%s", d->dir, file);
    char *text = og_test_read_file(path, NULL);
    int has = text && strstr(text, needle);
    if (!has)
        fprintf(stderr, "%s lacks \"%s\"; it has:\n%s\n", file, needle, text ? text : "(none)");
    free(text), free(path);
    return has;
}

/* 1. kill -9 of the daemon: its redis-server goes too, the data stays. */
static void test_kill9(struct og_test_daemon *d, const char *sock)
{
    pid_t rp = redis_pid(sock);
    CHECK(rp > 0);
    og_test_daemon_kill(d);
    int ok = 0;
    for (int i = 0; i < 200 && !ok; i++) { /* 10 s */
        ok = gone(rp);
        if (!ok)
            sleep_ms(50);
    }
    CHECK(ok);
    if (!ok) {
        char *out = cli(sock, "SHUTDOWN NOSAVE"); /* our own instance, by its socket */
        free(out);
    }
    CHECK_INT(og_test_daemon_restart(d), 0);
    CHECK_INT(sessions(d), 1);
    pid_t rp2 = redis_pid(sock);
    CHECK(rp2 > 0 && rp2 != rp);
}

/* Starts redis-server on the daemon's socket the way omnigate does (with its
 * pid file or, like omnigate before this, without), as this test's child. */
static pid_t start_stale(const char *rdir, int with_pidfile)
{
    char *sock = og_sprintf("%s/redis.sock", rdir);
    char *log = og_sprintf("%s/redis.log", rdir);
    char *pidfile = og_sprintf("%s/redis.pid", rdir);
    pid_t pid = og_test_fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock,
               "--unixsocketperm", "700", "--dir", rdir, "--appendonly", "yes", "--appendfsync",
               "everysec", "--save", "", "--daemonize", "no", "--logfile", log,
               with_pidfile ? "--pidfile" : (char *)NULL, pidfile, (char *)NULL);
        _exit(127);
    }
    int up = 0;
    for (int i = 0; i < 200 && !up; i++) { /* 10 s */
        char *pong = cli(sock, "PING");
        up = strncmp(pong, "PONG", 4) == 0;
        free(pong);
        if (!up)
            sleep_ms(50);
    }
    if (!up) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pid = -1;
    }
    free(sock), free(log), free(pidfile);
    return pid;
}

/* 2. A stale redis-server on data_dir: the next start stops it (it exits
 * cleanly, having been asked) and serves the same data from its own. */
static void test_stale(struct og_test_daemon *d, const char *sock, int with_pidfile)
{
    CHECK_INT(og_test_daemon_stop(d), 0);
    char *rdir = og_sprintf("%s/data/redis", d->dir);
    pid_t stale = start_stale(rdir, with_pidfile);
    CHECK(stale > 0);
    char *marker = og_sprintf("SET stale-marker %d", with_pidfile);
    char *out = cli(sock, marker);
    CHECK(strncmp(out, "OK", 2) == 0);
    free(out), free(marker);

    CHECK_INT(og_test_daemon_restart(d), 0);
    int st = -1, exited = 0;
    for (int i = 0; i < 200 && !exited; i++) { /* 10 s */
        exited = waitpid(stale, &st, WNOHANG) == stale;
        if (!exited)
            sleep_ms(50);
    }
    CHECK(exited);
    CHECK(exited && WIFEXITED(st) && WEXITSTATUS(st) == 0); /* a clean SHUTDOWN */
    if (!exited) {
        kill(stale, SIGKILL);
        waitpid(stale, NULL, 0);
    }
    pid_t now = redis_pid(sock);
    CHECK(now > 0 && now != stale);
    out = cli(sock, "GET stale-marker");
    CHECK_INT(atoi(out), with_pidfile); /* written to the stale one, kept */
    free(out);
    CHECK_INT(sessions(d), 1);
    CHECK(log_has(d, "omnigate.log", "a redis-server of a previous run"));
    free(rdir);
}

/* 3. A second daemon on the same data_dir (the same config) exits 1 before
 * touching the first one's redis-server. */
static void test_second_instance(struct og_test_daemon *d, const char *sock)
{
    pid_t rp = redis_pid(sock);
    CHECK(rp > 0);
    char *bin = og_sprintf("%s/bin/omnigate", OG_BINARY_DIR);
    char *log = og_sprintf("%s/second.log", d->dir);
    pid_t pid = og_test_fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(in, 0), dup2(out, 1), dup2(out, 2);
        execl(bin, bin, "--config", d->config_path, (char *)NULL);
        _exit(127);
    }
    int st = -1, exited = 0;
    for (int i = 0; i < 300 && !exited; i++) { /* 15 s */
        exited = waitpid(pid, &st, WNOHANG) == pid;
        if (!exited)
            sleep_ms(50);
    }
    if (!exited) {
        kill(pid, SIGTERM);
        waitpid(pid, &st, 0);
    }
    CHECK(exited && WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECK(log_has(d, "second.log", "is in use by another omnigate"));
    CHECK_INT(redis_pid(sock), rp);
    const char *body = "{\"id\":\"2\",\"from\":{\"id\":\"b\"},\"text\":\"still here\"}";
    CHECK_INT(og_test_post_signed(d, "e", SECRET, body, strlen(body)), 200);
    CHECK_INT(sessions(d), 2);
    free(bin), free(log);
}

int main(void)
{
    struct og_test_daemon d;
    const char *ch =
        "[{\"id\":\"e\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"http://127.0.0.1:9/\"}}]";
    if (og_test_daemon_start(&d, "embedded", ch, NULL) != 0)
        return 1;
    char *sock = og_sprintf("%s/data/redis/redis.sock", d.dir);
    const char *body = "{\"id\":\"1\",\"from\":{\"id\":\"a\"},\"text\":\"one\"}";
    CHECK_INT(og_test_post_signed(&d, "e", SECRET, body, strlen(body)), 200);

    test_kill9(&d, sock);
    test_stale(&d, sock, 1);
    test_stale(&d, sock, 0);
    test_second_instance(&d, sock);

    pid_t rp = redis_pid(sock);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    CHECK(rp > 0 && gone(rp));
    free(sock);
    og_test_daemon_free(&d);
    return og_test_done();
}
