/* test_sentinel - core/og_sentinel.c's parsers on the replies real sentinels
 * and servers send (and on broken ones), fed as RESP bytes through hiredis's
 * reader; and the pool's move to another address (og_redis_set_addr), with
 * a pool that follows it, against two real redis-servers: after the move no
 * command reaches the old server. */
#include "og_core.h"
#include "og_redis.h"
#include "og_sentinel.h"
#include "og_test.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The reply hiredis builds from resp [xfer], or NULL when incomplete. */
static redisReply *reply_of(const char *resp, size_t n)
{
    redisReader *rd = redisReaderCreate();
    redisReaderFeed(rd, resp, n);
    void *r = NULL;
    if (redisReaderGetReply(rd, &r) != REDIS_OK)
        r = NULL;
    redisReaderFree(rd);
    return r;
}
#define REPLY(s) reply_of(s, sizeof(s) - 1)

static void test_hostport(void)
{
    struct og_sentinel_addr a;
    CHECK_INT(og_sentinel_parse_hostport("127.0.0.1:26379", &a), 0);
    CHECK_STR(a.host, "127.0.0.1");
    CHECK_INT(a.port, 26379);
    CHECK_INT(og_sentinel_parse_hostport("sentinel-1.internal:5000", &a), 0);
    CHECK_STR(a.host, "sentinel-1.internal");
    CHECK_INT(og_sentinel_parse_hostport("[::1]:26379", &a), 0);
    CHECK_STR(a.host, "::1");
    CHECK_INT(a.port, 26379);
    static const char *const bad[] = {
        "",          "host",       "host:", ":26379", "host:0",      "host:65536", "host:12a",
        "::1:26379", "[::1]26379", "a b:1", "h/x:1",  "host:123456", "[::1]:",     "u@host:1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = og_sentinel_parse_hostport(bad[i], &a);
        if (rc != -1)
            fprintf(stderr, "accepted \"%s\"\n", bad[i]);
        CHECK_INT(rc, -1);
    }
    CHECK_INT(og_sentinel_parse_hostport(NULL, &a), -1);
}

static void test_master_reply(void)
{
    struct og_sentinel_addr a = {"", 0};
    redisReply *r = REPLY("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n");
    CHECK_INT(og_sentinel_parse_master(r, &a), OG_OK);
    CHECK_STR(a.host, "127.0.0.1");
    CHECK_INT(a.port, 6380);
    freeReplyObject(r);

    r = REPLY("*-1\r\n"); /* the sentinel does not know the name */
    CHECK_INT(og_sentinel_parse_master(r, &a), OG_ERR_NOT_FOUND);
    freeReplyObject(r);

    static const char *const bad[] = {
        "-ERR unknown command\r\n",
        "*1\r\n$9\r\n127.0.0.1\r\n",
        "*3\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\n2\r\n",
        "*2\r\n$9\r\n127.0.0.1\r\n:6380\r\n",       /* port as an integer */
        "*2\r\n$9\r\n127.0.0.1\r\n$5\r\n99999\r\n", /* no such port */
        "*2\r\n$0\r\n\r\n$4\r\n6380\r\n",           /* no host */
        "*2\r\n$5\r\na\r\nb \r\n$4\r\n6380\r\n",    /* a control character */
        "$9\r\n127.0.0.1\r\n",
        ":1\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = reply_of(bad[i], strlen(bad[i]));
        CHECK(r != NULL);
        CHECK_INT(og_sentinel_parse_master(r, &a), OG_ERR_INVALID);
        freeReplyObject(r);
    }
    r = REPLY("*2\r\n$3\r\na\0b\r\n$4\r\n6380\r\n"); /* a NUL inside the host */
    CHECK(r != NULL);
    CHECK_INT(og_sentinel_parse_master(r, &a), OG_ERR_INVALID);
    freeReplyObject(r);
    CHECK_INT(og_sentinel_parse_master(NULL, &a), OG_ERR_INVALID);
}

static void test_role(void)
{
    redisReply *r = REPLY("*3\r\n$6\r\nmaster\r\n:3129\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n"
                          "6381\r\n$4\r\n3129\r\n");
    CHECK_INT(og_sentinel_parse_role(r), 1);
    freeReplyObject(r);
    r = REPLY("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:3167\r\n");
    CHECK_INT(og_sentinel_parse_role(r), 0);
    freeReplyObject(r);
    r = REPLY("*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nmymaster\r\n");
    CHECK_INT(og_sentinel_parse_role(r), 0);
    freeReplyObject(r);
    r = REPLY("-NOAUTH Authentication required.\r\n");
    CHECK_INT(og_sentinel_parse_role(r), -1);
    freeReplyObject(r);
    r = REPLY("*1\r\n$7\r\nmasters\r\n");
    CHECK_INT(og_sentinel_parse_role(r), -1);
    freeReplyObject(r);
    r = REPLY("*0\r\n");
    CHECK_INT(og_sentinel_parse_role(r), -1);
    freeReplyObject(r);
    CHECK_INT(og_sentinel_parse_role(NULL), -1);
}

static void test_switch(void)
{
    struct og_sentinel_addr a = {"", 0};
    const char *p = "mymaster 127.0.0.1 6379 127.0.0.1 6380";
    CHECK_INT(og_sentinel_parse_switch(p, strlen(p), "mymaster", &a), 1);
    CHECK_STR(a.host, "127.0.0.1");
    CHECK_INT(a.port, 6380);
    CHECK_INT(og_sentinel_parse_switch(p, strlen(p), "other", &a), 0);
    CHECK_INT(og_sentinel_parse_switch(p, strlen(p), "mymaste", &a), 0);
    static const char *const bad[] = {
        "",
        "mymaster 127.0.0.1 6379 127.0.0.1",
        "mymaster 127.0.0.1 6379 127.0.0.1 6380 extra",
        "mymaster  127.0.0.1 6379 127.0.0.1 6380",
        "mymaster 127.0.0.1 6379 127.0.0.1 6380 ",
        "mymaster 127.0.0.1 x 127.0.0.1 6380",
        "mymaster 127.0.0.1 6379 127.0.0.1 0",
        "mymaster 127.0.0.1 6379 127.0.0.1\n 6380",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_INT(og_sentinel_parse_switch(bad[i], strlen(bad[i]), "mymaster", &a), -1);
    /* the payload is not NUL-terminated: only len bytes are read */
    char buf[64];
    memcpy(buf, p, strlen(p));
    memset(buf + strlen(p), '9', sizeof buf - strlen(p));
    CHECK_INT(og_sentinel_parse_switch(buf, strlen(p), "mymaster", &a), 1);
    CHECK_INT(a.port, 6380);

    const char *pl = NULL;
    size_t n = 0;
    redisReply *r = REPLY("*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$38\r\n"
                          "mymaster 127.0.0.1 6379 127.0.0.1 6380\r\n");
    CHECK_INT(og_sentinel_switch_message(r, &pl, &n), 1);
    CHECK_INT(n, 38);
    CHECK(pl && strncmp(pl, "mymaster 127.0.0.1 6379", 23) == 0);
    freeReplyObject(r);
    r = REPLY("*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n");
    CHECK_INT(og_sentinel_switch_message(r, &pl, &n), 0);
    freeReplyObject(r);
    r = REPLY("*3\r\n$7\r\nmessage\r\n$5\r\n+sdown\r\n$3\r\nabc\r\n");
    CHECK_INT(og_sentinel_switch_message(r, &pl, &n), 0);
    freeReplyObject(r);
}

static void test_opts(void)
{
    char err[256] = "";
    const char *good[] = {"127.0.0.1:26379", "127.0.0.1:26380"};
    struct og_sentinel_opts o = {.sentinels = good, .n = 2, .master_name = "mymaster"};
    struct og_sentinel *s = og_sentinel_new(&o, err, sizeof err);
    CHECK(s != NULL);
    og_sentinel_free(s);
    const char *bad[] = {"127.0.0.1:26379", "nope"};
    o.sentinels = bad;
    CHECK(og_sentinel_new(&o, err, sizeof err) == NULL);
    CHECK(strstr(err, "redis.sentinels[1]") != NULL);
    o.sentinels = good;
    o.master_name = "";
    CHECK(og_sentinel_new(&o, err, sizeof err) == NULL);

    /* nothing listens there: a clear reason, not a hang */
    int p1 = og_test_free_port();
    char a1[32];
    snprintf(a1, sizeof a1, "127.0.0.1:%d", p1);
    const char *none[] = {a1};
    struct og_sentinel_opts d = {.sentinels = none, .n = 1, .master_name = "m", .timeout_ms = 300};
    s = og_sentinel_new(&d, err, sizeof err);
    struct og_sentinel_addr a;
    char why[512] = "";
    int64_t t0 = og_mono_ms();
    CHECK_INT(og_sentinel_resolve(s, &a, why, sizeof why), OG_ERR_UNAVAILABLE);
    CHECK(og_mono_ms() - t0 < 2000);
    CHECK(strstr(why, "no sentinel answered") != NULL);
    og_sentinel_free(s);
}

/* The pool moves; idle and busy connections to the old server are dropped,
 * and a pool that follows it moves too. */
static void test_set_addr(void)
{
    struct og_test_redis a, b;
    if (og_test_redis_start_with(&a, "--appendonly no") != 0)
        return;
    if (og_test_redis_start_with(&b, "--appendonly no") != 0) {
        og_test_redis_stop(&a);
        return;
    }
    char err[256];
    struct og_redis_opts none = {.url = NULL, .pool_size = 2};
    struct og_redis *r = og_redis_new(&none, err, sizeof err);
    CHECK(r != NULL);
    redisReply *rep = NULL;
    CHECK_INT(og_redis_cmd(r, &rep, "PING"), OG_ERR_UNAVAILABLE); /* no address yet */
    CHECK_INT(og_redis_argv(r, 1, (const char *[]){"PING"}, NULL, &rep), OG_ERR_UNAVAILABLE);
    CHECK_INT(og_redis_take_trouble(r), 1);
    CHECK_INT(og_redis_take_trouble(r), 0);
    struct og_redis_opts fo = {.pool_size = 1, .follow = r};
    struct og_redis *f = og_redis_new(&fo, err, sizeof err);
    CHECK(f != NULL);

    CHECK_INT(og_redis_set_addr(r, "127.0.0.1", a.port), 1);
    CHECK_INT(og_redis_set_addr(r, "127.0.0.1", a.port), 0);
    CHECK_INT(og_redis_cmd(r, &rep, "SET where a"), OG_OK);
    freeReplyObject(rep);
    CHECK_INT(og_redis_cmd(f, &rep, "GET where"), OG_OK);
    CHECK_STR(rep->str, "a");
    freeReplyObject(rep);
    CHECK_INT(og_redis_cmd(r, &rep, "SET only-a 1"), OG_OK);
    freeReplyObject(rep);

    CHECK_INT(og_redis_set_addr(r, "127.0.0.1", b.port), 1);
    for (int i = 0; i < 4; i++) { /* every connection, the pool's and the follower's */
        CHECK_INT(og_redis_cmd(i % 2 ? f : r, &rep, "GET only-a"), OG_OK);
        CHECK(rep->type == REDIS_REPLY_NIL);
        freeReplyObject(rep);
    }
    CHECK_INT(og_redis_cmd(r, &rep, "SET where b"), OG_OK);
    freeReplyObject(rep);
    char *o = og_test_redis_cli(&a, "GET where");
    CHECK(o && strstr(o, "a") != NULL); /* the old server was not written to */
    free(o);
    o = og_test_redis_cli(&a, "CLIENT LIST");
    size_t clients = 0;
    for (char *q = o; q && (q = strstr(q, "id=")); q++)
        clients++;
    CHECK_INT(clients, 1); /* only redis-cli's own: the pools left */
    free(o);

    og_redis_free(f);
    og_redis_free(r);
    og_test_redis_stop(&a);
    og_test_redis_stop(&b);
}

/* redis.durability "replicated" acknowledges after WAIT; a retry found to
 * be a duplicate writes nothing, and WAIT on a connection that wrote
 * nothing answers at once. With a replica that is connected but behind
 * (frozen), that would acknowledge a message no replica has: the WAIT must
 * cover everything the master holds (og_redis_eval_wait's PUBLISH). */
static void test_wait_covers_duplicates(void)
{
    struct og_test_redis m, rep;
    /* the full sync at once, not after repl-diskless-sync-delay (5 s by
     * default, which the wait below once lost to under ASan) */
    if (og_test_redis_start_with(&m, "--appendonly no --repl-diskless-sync-delay 0") != 0)
        return;
    char arg[64];
    snprintf(arg, sizeof arg, "--appendonly no --replicaof 127.0.0.1 %d", m.port);
    if (og_test_redis_start_with(&rep, arg) != 0) {
        og_test_redis_stop(&m);
        return;
    }
    /* the master counts a replica for WAIT once it is "online" there: after
     * a diskless sync, at the replica's first acknowledgement (within a
     * second of its link being up), so that is what is waited for */
    int up = 0;
    for (int i = 0; i < 400 && !up; i++) {
        char *o = og_test_redis_cli(&m, "INFO replication");
        up = o && strstr(o, "state=online");
        free(o);
        if (!up)
            usleep(50000);
    }
    CHECK(up);
    char err[256];
    struct og_redis_opts o = {.url = m.url, .pool_size = 1};
    struct og_redis *writer = og_redis_new(&o, err, sizeof err);
    struct og_redis *retry = og_redis_new(&o, err, sizeof err); /* another connection */
    struct og_script *w = og_script_new("write", "redis.call('INCR', 'n') return 1");
    struct og_script *dup = og_script_new("dup", "return redis.call('GET', 'n')");
    redisReply *r = NULL;
    /* a write of another key acknowledged first: the replica answers WAIT
     * (on a loaded machine, two of these tests at once, the first WAITs
     * after the sync timed out at 500 ms) */
    struct og_script *ready = og_script_new("ready", "redis.call('SET', 'ready', '1') return 1");
    og_err acked = OG_ERR_UNAVAILABLE;
    for (int i = 0; i < 20 && acked != OG_OK; i++)
        if ((acked = og_redis_eval_wait(writer, ready, 0, NULL, NULL, 1, 500, &r)) == OG_OK)
            freeReplyObject(r);
    CHECK_INT(acked, OG_OK);
    og_script_free(ready);
    CHECK_INT(og_redis_eval_wait(writer, w, 0, NULL, NULL, 1, 500, &r), OG_OK);
    freeReplyObject(r);
    CHECK_INT(og_redis_eval_wait(retry, w, 0, NULL, NULL, 1, 500, &r), OG_OK); /* it wrote */
    freeReplyObject(r);

    kill(rep.pid, SIGSTOP); /* connected, but takes nothing more */
    CHECK_INT(og_redis_eval_wait(writer, w, 0, NULL, NULL, 1, 300, &r), OG_ERR_UNAVAILABLE);
    /* the platform's retry, on a connection whose own last write the replica
     * has: not acknowledged either */
    CHECK_INT(og_redis_eval_wait(retry, dup, 0, NULL, NULL, 1, 300, &r), OG_ERR_UNAVAILABLE);
    kill(rep.pid, SIGCONT);
    og_err e = OG_ERR_UNAVAILABLE;
    for (int i = 0; i < 20 && e != OG_OK; i++)
        e = og_redis_eval_wait(retry, dup, 0, NULL, NULL, 1, 500, &r);
    CHECK_INT(e, OG_OK);
    if (e == OG_OK) {
        CHECK_STR(r->str, "3");
        freeReplyObject(r);
    }
    og_script_free(w);
    og_script_free(dup);
    og_redis_free(writer);
    og_redis_free(retry);
    og_test_redis_stop(&rep);
    og_test_redis_stop(&m);
}

/* The refusals of a master that lost its replicas or its role are "try
 * later" (503), not a bug (500). */
static void test_try_later(void)
{
    CHECK(og_redis_try_later("NOREPLICAS Not enough good replicas to write."));
    CHECK(og_redis_try_later("ERR Error running script (call to f_x): @user_script:1: "
                             "@user_script: 1: -NOREPLICAS Not enough good replicas to write."));
    CHECK(og_redis_try_later("READONLY You can't write against a read only replica."));
    CHECK(!og_redis_try_later("ERR unknown command 'FOO'"));
}

/* ------------------------------------------------ a sentinel of our own */
/* Answers SENTINEL get-master-addr-by-name with 127.0.0.1:<fake_master>,
 * takes SUBSCRIBE and never publishes: so only the core's own asking (on
 * trouble, or the routine one) can find a new master. */
static atomic_int fake_master, fake_stop;
static int fake_fd;

static void *fake_sentinel(void *arg)
{
    (void)arg;
    struct pollfd p[17];
    redisReader *rd[17] = {0};
    int n = 1;
    p[0].fd = fake_fd;
    p[0].events = POLLIN;
    while (!atomic_load(&fake_stop)) {
        if (poll(p, (nfds_t)n, 50) <= 0)
            continue;
        if ((p[0].revents & POLLIN) && n < 17) {
            int c = accept(fake_fd, NULL, NULL);
            if (c >= 0) {
                p[n].fd = c;
                p[n].events = POLLIN;
                rd[n++] = redisReaderCreate();
            }
        }
        for (int i = 1; i < n; i++) {
            if (!p[i].revents)
                continue;
            char buf[4096];
            ssize_t got = read(p[i].fd, buf, sizeof buf);
            void *req = NULL;
            if (got > 0)
                redisReaderFeed(rd[i], buf, (size_t)got);
            while (got > 0 && redisReaderGetReply(rd[i], &req) == REDIS_OK && req) {
                redisReply *q = req;
                const char *cmd =
                    q->type == REDIS_REPLY_ARRAY && q->elements ? q->element[0]->str : "";
                char out[256], port[16];
                snprintf(port, sizeof port, "%d", atomic_load(&fake_master));
                if (strcasecmp(cmd, "SENTINEL") == 0)
                    snprintf(out, sizeof out, "*2\r\n$9\r\n127.0.0.1\r\n$%zu\r\n%s\r\n",
                             strlen(port), port);
                else if (strcasecmp(cmd, "SUBSCRIBE") == 0)
                    snprintf(out, sizeof out,
                             "*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n");
                else
                    snprintf(out, sizeof out, "-ERR not here\r\n");
                if (write(p[i].fd, out, strlen(out)) < 0)
                    got = 0;
                freeReplyObject(q);
            }
            if (got <= 0) { /* closed: drop it */
                close(p[i].fd);
                redisReaderFree(rd[i]);
                p[i] = p[n - 1];
                rd[i] = rd[n - 1];
                n--;
                i--;
            }
        }
    }
    for (int i = 1; i < n; i++) {
        close(p[i].fd);
        redisReaderFree(rd[i]);
    }
    return NULL;
}

/* The master moves without a word from the sentinels (its connections
 * stay up, it just turns replica): the first write that meets READONLY
 * makes the failover step ask at once, and the pool moves within a round,
 * long before the routine ask 5 s later. A sentinel naming a replica is
 * refused and the pool stays where it is. */
static void test_core_follows_readonly(void)
{
    struct og_test_redis a, b;
    if (og_test_redis_start_with(&a, "--appendonly no") != 0)
        return;
    if (og_test_redis_start_with(&b, "--appendonly no") != 0) {
        og_test_redis_stop(&a);
        return;
    }
    fake_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    CHECK_INT(bind(fake_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    listen(fake_fd, 16);
    getsockname(fake_fd, (struct sockaddr *)&sa, &sl);
    atomic_store(&fake_master, a.port);
    pthread_t th;
    pthread_create(&th, NULL, fake_sentinel, NULL);

    char me[32], err[256], why[512];
    snprintf(me, sizeof me, "127.0.0.1:%d", ntohs(sa.sin_port));
    const char *sentinels[] = {me};
    struct og_core_opts o = {.sentinels = sentinels,
                             .n_sentinels = 1,
                             .master_name = "m",
                             .pool_size = 2,
                             .prefix = "t"};
    struct og_core *c = og_core_new(&o, err, sizeof err);
    CHECK(c != NULL);
    CHECK(og_core_has_sentinels(c));
    CHECK_INT(og_core_health(c, why, sizeof why), 0); /* not asked yet: no address */
    CHECK_INT(og_core_failover_resolve(c, why, sizeof why), OG_OK);
    CHECK_INT(og_core_health(c, why, sizeof why), 1);
    og_core_failover_step(c, 10); /* subscribes; the routine ask is 5 s away */

    char cmd[64];
    snprintf(cmd, sizeof cmd, "REPLICAOF 127.0.0.1 %d", b.port);
    free(og_test_redis_cli(&a, cmd));
    atomic_store(&fake_master, b.port);
    CHECK_INT(og_core_health(c, why, sizeof why), 0);
    CHECK(strstr(why, "READONLY") != NULL);
    int64_t t0 = og_mono_ms();
    int moved = 0;
    while (!moved && og_mono_ms() - t0 < 3000)
        moved = og_core_failover_step(c, 50);
    int64_t took = og_mono_ms() - t0;
    CHECK(moved);
    CHECK(took < 1000);
    CHECK_INT(og_core_failovers(c), 1);
    CHECK_INT(og_core_health(c, why, sizeof why), 1);
    char *k = og_test_redis_cli(&b, "EXISTS {t}:health");
    CHECK(k && atoi(k) == 1); /* the probe's write went to the new master */
    free(k);

    /* a sentinel naming a replica: refused, the pool stays */
    atomic_store(&fake_master, a.port);
    CHECK_INT(og_core_failover_resolve(c, why, sizeof why), OG_ERR_UNAVAILABLE);
    CHECK(strstr(why, "not a master (slave); refused") != NULL);
    CHECK_INT(og_core_health(c, why, sizeof why), 1);
    CHECK_INT(og_core_failovers(c), 1);

    og_core_free(c);
    atomic_store(&fake_stop, 1);
    pthread_join(th, NULL);
    close(fake_fd);
    og_test_redis_stop(&a);
    og_test_redis_stop(&b);
}

int main(void)
{
    test_hostport();
    test_master_reply();
    test_role();
    test_switch();
    test_try_later();
    test_opts();
    test_set_addr();
    test_wait_covers_duplicates();
    test_core_follows_readonly();
    return og_test_done();
}
