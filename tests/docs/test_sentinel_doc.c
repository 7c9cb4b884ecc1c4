/* test_sentinel_doc - docs/sentinel.md's recipe, as written: its master.conf,
 * replica.conf, sentinel.conf (three times) and omnigate's "redis" section
 * are cut out of the page (the blocks after the "og-docs-sentinel: ..."
 * markers), given free ports instead of 6379, 6380 and 26379-26381 and a
 * temp dir, and run on 127.0.0.1. Then what "During a failover" says:
 * omnigate finds the master through the sentinels and stores a message; the
 * master is killed; once the replica is promoted, writes answer 503 (one
 * replica: nothing can be acknowledged durably) and /readyz 503; the old
 * master restarted becomes a replica, 2xx answers resume, and both messages
 * are on the new master exactly once. Every process is stopped by pid. */
#include "og_test.h"
#include "og_util.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "doc-secret"
#define CHANNELS                                                                                   \
    "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET            \
    "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]"

static const int doc_port[5] = {6379, 6380, 26379, 26380, 26381};
static int port[5]; /* master, replica, three sentinels */

/* The fenced block after the marker [xfer], or NULL. */
static char *block(const char *page, const char *name)
{
    char *marker = og_sprintf("<!-- og-docs-sentinel: %s -->", name);
    const char *at = strstr(page, marker);
    free(marker);
    const char *open = at ? strstr(at, "```") : NULL;
    const char *body = open ? strchr(open, '\n') : NULL;
    const char *close = body ? strstr(body, "\n```") : NULL;
    if (!close) {
        fprintf(stderr, "docs/sentinel.md: no block for %s\n", name);
        return NULL;
    }
    return og_strndup(body + 1, (size_t)(close - body));
}

/* text with every number that is one of the page's ports replaced by ours;
 * the_sentinel (2..4) stands for 26379 in a sentinel's own file. [xfer] */
static char *ported(const char *text, int the_sentinel)
{
    struct og_buf b = {0};
    for (const char *p = text; *p;) {
        if (*p >= '0' && *p <= '9' && (p == text || !(p[-1] >= '0' && p[-1] <= '9'))) {
            char *end;
            long v = strtol(p, &end, 10);
            int k = -1;
            for (int i = 0; i < 5; i++)
                k = v == doc_port[i] ? i : k;
            if (k >= 0) {
                og_buf_printf(&b, "%d", k == 2 && the_sentinel ? port[the_sentinel] : port[k]);
                p = end;
                continue;
            }
            og_buf_append(&b, p, (size_t)(end - p));
            p = end;
            continue;
        }
        og_buf_append(&b, p, 1);
        p++;
    }
    return b.data ? b.data : og_strdup("");
}

struct proc {
    pid_t pid;
    char *dir, *conf;
    int sentinel;
};

static int spawn(struct proc *pr)
{
    pid_t pid = og_test_fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
        if (pr->sentinel)
            execlp("redis-server", "redis-server", pr->conf, "--sentinel", (char *)NULL);
        else
            execlp("redis-server", "redis-server", pr->conf, (char *)NULL);
        _exit(127);
    }
    pr->pid = pid;
    return pid > 0 ? 0 : -1;
}

/* Writes conf (and where to keep files) to a temp dir and starts it. */
static int start(struct proc *pr, const char *conf, int sentinel)
{
    pr->dir = og_test_tmpdir();
    pr->conf = og_sprintf("%s/this.conf", pr->dir);
    pr->sentinel = sentinel;
    FILE *f = fopen(pr->conf, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\ndir %s\nlogfile %s/log\ndaemonize no\n", conf, pr->dir, pr->dir);
    fclose(f);
    return spawn(pr);
}

/* sig, repeated each second (redis-server refuses a SIGTERM while it
 * writes its first AOF), then SIGKILL after 10 s */
static void stop(struct proc *pr, int sig)
{
    int gone = pr->pid <= 0;
    for (int i = 0; i < 100 && !gone; i++) {
        if (i % 10 == 0)
            kill(pr->pid, sig);
        gone = waitpid(pr->pid, NULL, WNOHANG) == pr->pid;
        if (!gone)
            usleep(100000);
    }
    if (!gone) {
        kill(pr->pid, SIGKILL);
        waitpid(pr->pid, NULL, 0);
    }
    pr->pid = 0;
}

static redisReply *ask(int p, const char *cmd)
{
    struct timeval tv = {0, 300000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", p, tv);
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

static void role(int p, char *out, size_t n)
{
    redisReply *r = ask(p, "ROLE");
    out[0] = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements &&
        r->element[0]->type == REDIS_REPLY_STRING)
        snprintf(out, n, "%s", r->element[0]->str);
    if (r)
        freeReplyObject(r);
}

static long field(int p, const char *name)
{
    redisReply *r = ask(p, "SENTINEL MASTER mymaster");
    long v = -1;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
        if (strcmp(r->element[i]->str, name) == 0)
            v = atol(r->element[i + 1]->str);
    if (r)
        freeReplyObject(r);
    return v;
}

static long post(struct og_test_daemon *d, const char *id)
{
    char *b = og_sprintf("{\"id\":\"%s\",\"from\":{\"id\":\"u1\"},\"text\":\"doc %s\"}", id, id);
    long st = og_test_post_signed(d, "demo", SECRET, b, strlen(b));
    free(b);
    return st;
}

/* message.received events for "doc <id>" on the server at p */
static int stored(int p, const char *id)
{
    redisReply *r = ask(p, "XRANGE {og}:events - +");
    char *want = og_sprintf("\\\"text\\\":\\\"doc %s\\\"", id);
    char *want_raw = og_sprintf("\"text\":\"doc %s\"", id);
    int n = 0;
    for (size_t e = 0; r && r->type == REDIS_REPLY_ARRAY && e < r->elements; e++) {
        redisReply *fl = r->element[e]->element[1];
        int received = 0, match = 0;
        for (size_t x = 0; x + 1 < fl->elements; x += 2) {
            if (!strcmp(fl->element[x]->str, "type"))
                received = !strcmp(fl->element[x + 1]->str, "message.received");
            if (!strcmp(fl->element[x]->str, "event"))
                match = strstr(fl->element[x + 1]->str, want_raw) != NULL ||
                        strstr(fl->element[x + 1]->str, want) != NULL;
        }
        n += received && match;
    }
    if (r)
        freeReplyObject(r);
    free(want);
    free(want_raw);
    return n;
}

int main(void)
{
    char *page = og_test_read_src("docs/sentinel.md", NULL);
    CHECK(page != NULL);
    if (!page)
        return og_test_done();
    char *mconf = block(page, "master.conf"), *rconf = block(page, "replica.conf");
    char *sconf = block(page, "sentinel.conf"), *redis = block(page, "omnigate redis");
    CHECK(mconf && rconf && sconf && redis);
    if (!mconf || !rconf || !sconf || !redis)
        return og_test_done();
    /* what the page promises about these values */
    CHECK(strstr(mconf, "min-replicas-to-write 1") != NULL);
    CHECK(strstr(sconf, "down-after-milliseconds mymaster") != NULL);
    for (int i = 0; i < 5; i++)
        port[i] = og_test_free_port();

    struct proc pr[5] = {{0}};
    char *c = ported(mconf, 0);
    CHECK_INT(start(&pr[0], c, 0), 0);
    free(c);
    usleep(200000);
    c = ported(rconf, 0);
    CHECK_INT(start(&pr[1], c, 0), 0);
    free(c);
    for (int i = 2; i < 5; i++) {
        c = ported(sconf, i);
        CHECK_INT(start(&pr[i], c, 1), 0);
        free(c);
    }
    int ready = 0;
    for (int64_t until = og_mono_ms() + 30000; !ready && og_mono_ms() < until;) {
        ready = 1;
        for (int i = 2; i < 5 && ready; i++)
            ready = field(port[i], "num-slaves") == 1 && field(port[i], "num-other-sentinels") == 2;
        if (!ready)
            usleep(100000);
    }
    CHECK(ready);

    char *rj = ported(redis, 0);
    struct og_test_daemon d;
    int up = ready && og_test_daemon_start(&d, rj, CHANNELS, NULL) == 0;
    free(rj);
    CHECK(up);
    if (up) {
        CHECK_INT(post(&d, "m-1"), 200);

        stop(&pr[0], SIGKILL);
        char r[32] = "";
        for (int64_t until = og_mono_ms() + 40000; og_mono_ms() < until;) {
            role(port[1], r, sizeof r);
            if (!strcmp(r, "master"))
                break;
            usleep(50000);
        }
        CHECK_STR(r, "master");
        /* one replica, now the master, with none of its own: no durable write */
        usleep(1500000); /* omnigate has had time to follow */
        CHECK_INT(post(&d, "m-2"), 503);
        char url[128];
        snprintf(url, sizeof url, "%s/readyz", d.base);
        struct og_test_resp rz = og_test_http("GET", url, NULL, NULL, 0);
        CHECK_INT(rz.status, 503);
        free(rz.body);

        /* the old master back: a replica of the new one, and writes resume */
        CHECK_INT(spawn(&pr[0]), 0);
        for (int64_t until = og_mono_ms() + 40000; og_mono_ms() < until;) {
            role(port[0], r, sizeof r);
            if (!strcmp(r, "slave"))
                break;
            usleep(100000);
        }
        CHECK_STR(r, "slave");
        long st = 0;
        for (int64_t until = og_mono_ms() + 30000; st != 200 && og_mono_ms() < until;) {
            st = post(&d, "m-2");
            if (st != 200)
                usleep(200000);
        }
        CHECK_INT(st, 200);
        CHECK_INT(stored(port[1], "m-1"), 1);
        CHECK_INT(stored(port[1], "m-2"), 1);
        CHECK_INT(og_test_daemon_stop(&d), 0);
        og_test_daemon_free(&d);
    }
    for (int i = 4; i >= 0; i--) {
        stop(&pr[i], SIGTERM);
        if (pr[i].dir)
            og_test_rmdir(pr[i].dir);
        free(pr[i].dir);
        free(pr[i].conf);
    }
    free(mconf);
    free(rconf);
    free(sconf);
    free(redis);
    free(page);
    return og_test_done();
}
