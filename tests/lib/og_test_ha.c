/* og_test_ha - Redis Sentinel for tests and benchmarks (og_test.h): real
 * redis-server processes in sentinel mode on 127.0.0.1, each in a temp dir,
 * started and stopped by pid. */
#include "og_test.h"
#include "og_util.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One command on 127.0.0.1:port, with a short timeout [xfer], or NULL. */
static redisReply *ask(int port, const char *cmd)
{
    struct timeval tv = {0, 300000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    redisReply *r = redisCommand(c, cmd);
    redisFree(c);
    return r;
}

int og_test_sentinel_start(struct og_test_sentinel *s, const char *name, int master_port,
                           int quorum, int down_after_ms)
{
    memset(s, 0, sizeof *s);
    s->dir = og_test_tmpdir();
    s->port = og_test_free_port();
    char *conf = og_sprintf("%s/sentinel.conf", s->dir);
    char *log = og_sprintf("%s/sentinel.log", s->dir);
    FILE *f = fopen(conf, "w");
    if (!f) {
        free(conf);
        free(log);
        return -1;
    }
    fprintf(f,
            "port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"
            "sentinel monitor %s 127.0.0.1 %d %d\n"
            "sentinel down-after-milliseconds %s %d\n"
            "sentinel failover-timeout %s 10000\n"
            "sentinel parallel-syncs %s 1\n",
            s->port, s->dir, log, name, master_port, quorum, name, down_after_ms, name, name);
    fclose(f);
    pid_t pid = og_test_fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
        execlp("redis-server", "redis-server", conf, "--sentinel", (char *)NULL);
        _exit(127);
    }
    free(conf);
    free(log);
    s->pid = pid;
    for (int i = 0; i < 500; i++) { /* 5 s */
        redisReply *r = ask(s->port, "PING");
        int ok = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
        if (ok)
            return 0;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            s->pid = 0;
            return -1;
        }
        nap_ms(10);
    }
    return -1;
}

void og_test_sentinel_stop(struct og_test_sentinel *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    if (s->dir) {
        og_test_rmdir(s->dir);
        free(s->dir);
        s->dir = NULL;
    }
}

/* A field of SENTINEL MASTER's flat [name, value, ...] reply, as a number. */
static long master_field(int port, const char *field)
{
    redisReply *r = ask(port, "SENTINEL MASTER mymaster");
    long v = -1;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, field) == 0)
            v = atol(r->element[i + 1]->str);
    if (r)
        freeReplyObject(r);
    return v;
}

int og_test_ha_start(struct og_test_ha *h, int down_after_ms)
{
    memset(h, 0, sizeof *h);
    if (og_test_redis_start(&h->server[0]) != 0)
        return -1;
    char arg[64];
    snprintf(arg, sizeof arg, "--replicaof 127.0.0.1 %d", h->server[0].port);
    for (int i = 1; i < 3; i++)
        if (og_test_redis_start_with(&h->server[i], arg) != 0) {
            og_test_ha_stop(h);
            return -1;
        }
    for (int i = 0; i < 3; i++)
        if (og_test_sentinel_start(&h->sentinel[i], "mymaster", h->server[0].port, 2,
                                   down_after_ms) != 0) {
            og_test_ha_stop(h);
            return -1;
        }
    snprintf(h->sentinels_json, sizeof h->sentinels_json,
             "[\"127.0.0.1:%d\",\"127.0.0.1:%d\",\"127.0.0.1:%d\"]", h->sentinel[0].port,
             h->sentinel[1].port, h->sentinel[2].port);
    /* sentinels find the replicas through the master's INFO and each other
     * through hello messages every 2 s */
    int64_t until = og_mono_ms() + 20000;
    int ready = 0;
    while (!ready && og_mono_ms() < until) {
        ready = 1;
        for (int i = 0; i < 3 && ready; i++)
            ready = master_field(h->sentinel[i].port, "num-slaves") == 2 &&
                    master_field(h->sentinel[i].port, "num-other-sentinels") == 2;
        if (!ready)
            nap_ms(100);
    }
    if (!ready) {
        fprintf(stderr, "og_test_ha_start: the sentinels did not see each other in 20 s\n");
        og_test_ha_stop(h);
        return -1;
    }
    return 0;
}

void og_test_ha_stop(struct og_test_ha *h)
{
    for (int i = 0; i < 3; i++)
        og_test_sentinel_stop(&h->sentinel[i]);
    for (int i = 0; i < 3; i++)
        if (h->server[i].dir)
            og_test_redis_stop(&h->server[i]);
}

void og_test_ha_role(struct og_test_ha *h, int i, char *out, size_t n)
{
    out[0] = 0;
    if (h->server[i].pid <= 0)
        return;
    redisReply *r = ask(h->server[i].port, "ROLE");
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
        r->element[0]->type == REDIS_REPLY_STRING)
        snprintf(out, n, "%s", r->element[0]->str);
    if (r)
        freeReplyObject(r);
}

int og_test_ha_master(struct og_test_ha *h)
{
    for (int i = 0; i < 3; i++) {
        char role[32];
        og_test_ha_role(h, i, role, sizeof role);
        if (strcmp(role, "master") == 0)
            return i;
    }
    return -1;
}
