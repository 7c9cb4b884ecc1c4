/* test_embedded_loading - the embedded redis-server's start-up waits while
 * Redis answers LOADING (a large AOF takes minutes to load), logging its
 * progress, and gives up only on a real failure: the process died, it
 * answered an error other than LOADING, or loading outlasted the bound
 * (OMNIGATE_EMBEDDED_LOAD_TIMEOUT_S, lowered here to keep the test short),
 * or a stop signal arrived meanwhile.
 *
 * The redis-server is fake_redis_loading.py (config redis.server): it answers
 * -LOADING for LOAD_S seconds, longer than the 10 s the daemon used to wait,
 * and then execs the real redis-server, as the end of a slow load. */
#include "og_test.h"
#include "og_util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET "load-secret"
#define LOAD_S 14

struct run {
    pid_t pid;
    int port;
    char base[64];
    char *dir, *log; /* owned */
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Writes a wrapper that runs the fake with mode and seconds, and a config
 * whose redis.server is that wrapper. */
static char *write_files(struct run *r, const char *mode, int seconds)
{
    char *fake = og_test_src("tests/integration/fake_redis_loading.py");
    char *wrapper = og_sprintf("%s/fake-redis-server", r->dir);
    FILE *f = fopen(wrapper, "w");
    if (f) {
        fprintf(f, "#!/bin/sh\nexec /usr/bin/python3 %s %s %d redis-server \"$@\"\n", fake, mode,
                seconds);
        fclose(f);
    }
    chmod(wrapper, 0755);
    char *config = og_sprintf("%s/config.json", r->dir);
    f = fopen(config, "w");
    if (f) {
        fprintf(f,
                "{\"listen\":\"127.0.0.1:%d\",\"data_dir\":\"%s/data\",\"redis\":{\"url\":"
                "\"embedded\",\"server\":\"%s\"},\"api\":{\"admin_token\":\"%s\"},"
                "\"channels\":[{\"id\":\"e\",\"connector\":\"signed_json\",\"options\":{"
                "\"secret\":\"" SECRET "\",\"reply_url\":\"http://127.0.0.1:9/\"}}]}\n",
                r->port, r->dir, wrapper, OG_TEST_ADMIN_TOKEN);
        fclose(f);
    }
    free(fake), free(wrapper);
    return config;
}

/* Starts the daemon on the fake; load_timeout_s sets the bound (NULL: the
 * daemon's default). */
static void start(struct run *r, const char *mode, int seconds, const char *load_timeout_s)
{
    memset(r, 0, sizeof *r);
    r->dir = og_test_tmpdir();
    r->port = og_test_free_port();
    snprintf(r->base, sizeof r->base, "http://127.0.0.1:%d", r->port);
    r->log = og_sprintf("%s/omnigate.log", r->dir);
    char *config = write_files(r, mode, seconds);
    char *bin = og_sprintf("%s/bin/omnigate", OG_BINARY_DIR);
    r->pid = og_test_fork();
    if (r->pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(r->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(in, 0), dup2(out, 1), dup2(out, 2);
        if (load_timeout_s)
            setenv("OMNIGATE_EMBEDDED_LOAD_TIMEOUT_S", load_timeout_s, 1);
        else
            unsetenv("OMNIGATE_EMBEDDED_LOAD_TIMEOUT_S");
        execl(bin, bin, "--config", config, (char *)NULL);
        _exit(127);
    }
    free(config), free(bin);
}

/* Waits up to max_s for /readyz 200 (returns 1) or the daemon's exit
 * (returns 0, *status = its exit status); -1 when neither happened. */
static int outcome(struct run *r, int max_s, int *status)
{
    char *url = og_sprintf("%s/readyz", r->base);
    int res = -1;
    for (int i = 0; i < max_s * 10 && res < 0; i++) {
        int st = 0;
        if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
            r->pid = 0;
            *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            res = 0;
            break;
        }
        struct og_test_resp resp = og_test_http("GET", url, NULL, NULL, 0);
        free(resp.body);
        if (resp.status == 200)
            res = 1;
        else
            sleep_ms(100);
    }
    free(url);
    return res;
}

static int log_has(struct run *r, const char *needle)
{
    char *text = og_test_read_file(r->log, NULL);
    int has = text && strstr(text, needle);
    if (!has)
        fprintf(stderr, "log lacks \"%s\"; the log:\n%s\n", needle, text ? text : "(none)");
    free(text);
    return has;
}

/* SIGTERM, and the exit status (SIGKILL after 15 s: then 128 + 9). */
static int stop(struct run *r)
{
    int st = 0;
    if (r->pid <= 0)
        return -1;
    kill(r->pid, SIGTERM);
    for (int i = 0; i < 150; i++) {
        if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
            r->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        sleep_ms(100);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, &st, 0);
    r->pid = 0;
    return 128 + SIGKILL;
}

static void finish(struct run *r)
{
    if (r->pid > 0)
        stop(r);
    og_test_rmdir(r->dir);
    free(r->dir), free(r->log);
}

/* Loading longer than the old 10 s: the daemon waits, logs progress, then
 * serves from the real redis-server the fake became. */
static void test_slow_load(void)
{
    struct run r;
    int64_t t0 = og_mono_ms();
    start(&r, "loading", LOAD_S, NULL);
    int st = -1;
    int ready = outcome(&r, 90, &st);
    CHECK_INT(ready, 1);
    /* the fake was in effect: ready no sooner than its load ended */
    CHECK(og_mono_ms() - t0 >= LOAD_S * 1000);
    CHECK(log_has(&r, "is loading its data; waiting"));
    CHECK(log_has(&r, "still loading its data, 42.0%"));
    struct og_test_daemon d = {.port = r.port};
    snprintf(d.base, sizeof d.base, "%s", r.base);
    const char *body = "{\"id\":\"1\",\"from\":{\"id\":\"a\"},\"text\":\"after the load\"}";
    CHECK_INT(og_test_post_signed(&d, "e", SECRET, body, strlen(body)), 200);
    CHECK_INT(stop(&r), 0);
    finish(&r);
}

/* Loading that never ends: the daemon gives up at the bound, exits 1. */
static void test_load_bound(void)
{
    struct run r;
    start(&r, "loading", -1, "3");
    int st = -1;
    CHECK_INT(outcome(&r, 60, &st), 0);
    CHECK_INT(st, 1);
    CHECK(log_has(&r, "not ready after 3 s (still loading)"));
    finish(&r);
}

/* A stop asked for while Redis loads ends the start-up (exit 1) at once,
 * instead of after the load: SIGTERM is blocked until the daemon runs. */
static void test_stop_during_load(void)
{
    struct run r;
    start(&r, "loading", -1, NULL);
    CHECK(og_test_wait_file(r.log, "is loading its data", 10000));
    kill(r.pid, SIGTERM);
    int st = -1;
    CHECK_INT(outcome(&r, 10, &st), 0);
    CHECK_INT(st, 1);
    CHECK(log_has(&r, "start-up interrupted by a stop signal"));
    finish(&r);
}

/* An error that is not LOADING is a real failure: the daemon says which. */
static void test_error_reply(void)
{
    struct run r;
    start(&r, "error", -1, NULL);
    int st = -1;
    CHECK_INT(outcome(&r, 30, &st), 0);
    CHECK_INT(st, 1);
    CHECK(log_has(&r, "answers 'ERR fake refuses'"));
    finish(&r);
}

/* A redis-server that exits at once: the daemon says so and exits 1. */
static void test_process_dies(void)
{
    struct run r;
    start(&r, "exit", 0, NULL);
    int st = -1;
    CHECK_INT(outcome(&r, 30, &st), 0);
    CHECK_INT(st, 1);
    CHECK(log_has(&r, "exited during start-up (exit code 3)"));
    finish(&r);
}

int main(void)
{
    test_error_reply();
    test_process_dies();
    test_load_bound();
    test_stop_during_load();
    test_slow_load();
    return og_test_done();
}
