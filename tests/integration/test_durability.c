/* test_durability - redis.durability (#14.5): "acknowledged = durable" made
 * explicit, against real redis-servers:
 *   - fsync (the default) refuses to start on a Redis without AOF, naming
 *     the exposure; relaxed starts on it with a warning; a Redis with
 *     appendfsync everysec is taken with a warning that names the lost second;
 *   - the embedded Redis runs appendfsync always under fsync;
 *   - replicated acknowledges a platform only after WAIT: with its replica
 *     up, 200; with the replica gone, 503 (the platform retries; the message
 *     is on the master, so the retry is a duplicate and answered 200 once
 *     the replica is back). */
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "dur-secret"
#define CHANNELS                                                                                   \
    "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET            \
    "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]"

static char *log_of(struct og_test_daemon *d)
{
    char *p = og_sprintf("%s/omnigate.log", d->dir);
    char *t = og_test_read_file(p, NULL);
    free(p);
    return t ? t : og_strdup("");
}

static long post(struct og_test_daemon *d, const char *id)
{
    char *b = og_sprintf("{\"id\":\"%s\",\"from\":{\"id\":\"u1\"},\"text\":\"x\"}", id);
    long st = og_test_post_signed(d, "demo", SECRET, b, strlen(b));
    free(b);
    return st;
}

int main(void)
{
    struct og_test_redis noaof, master, replica;
    struct og_test_daemon d;

    /* fsync on a Redis without AOF: refused; relaxed: started, warned */
    CHECK_INT(og_test_redis_start_with(&noaof, "--appendonly no"), 0);
    CHECK(og_test_daemon_start(&d, noaof.url, CHANNELS, NULL) != 0);
    char *log = log_of(&d);
    CHECK(strstr(log, "redis.durability fsync: Redis has no AOF") != NULL);
    CHECK(strstr(log, "not starting") != NULL);
    free(log);
    og_test_daemon_free(&d);
    char *relaxed = og_sprintf("{\"url\":\"%s\",\"durability\":\"relaxed\"}", noaof.url);
    CHECK_INT(og_test_daemon_start(&d, relaxed, CHANNELS, NULL), 0);
    CHECK_INT(post(&d, "r-1"), 200);
    log = log_of(&d);
    CHECK(strstr(log, "redis.durability relaxed: Redis has no AOF") != NULL);
    free(log);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    free(relaxed);
    og_test_redis_stop(&noaof);

    /* fsync on everysec: started, warned about the second */
    CHECK_INT(og_test_redis_start(&master), 0);
    CHECK_INT(og_test_daemon_start(&d, master.url, CHANNELS, NULL), 0);
    log = log_of(&d);
    CHECK(strstr(log, "appendfsync everysec: a power loss can drop about the last second") != NULL);
    free(log);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);

    /* the embedded Redis fsyncs every write */
    CHECK_INT(og_test_daemon_start(&d, "embedded", CHANNELS, NULL), 0);
    char *cmd = og_sprintf("redis-cli -s %s/data/redis/redis.sock CONFIG GET appendfsync", d.dir);
    FILE *p = popen(cmd, "r");
    char out[256] = "";
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = 0;
    if (p)
        pclose(p);
    CHECK(strstr(out, "always") != NULL);
    free(cmd);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);

    /* replicated: WAIT for the replica */
    char rep[64];
    snprintf(rep, sizeof rep, "--replicaof 127.0.0.1 %d", master.port);
    CHECK_INT(og_test_redis_start_with(&replica, rep), 0);
    /* a full sync waits repl-diskless-sync-delay (5 s by default) first */
    int up = 0;
    for (int i = 0; i < 400 && !up; i++) {
        char *o = og_test_redis_cli(&replica, "INFO replication");
        up = o && strstr(o, "master_link_status:up");
        free(o);
        if (!up)
            usleep(50000);
    }
    CHECK(up);
    char *repl = og_sprintf("{\"url\":\"%s\",\"durability\":\"replicated\",\"wait_replicas\":1,"
                            "\"wait_timeout_ms\":500}",
                            master.url);
    CHECK_INT(og_test_daemon_start(&d, repl, CHANNELS, NULL), 0);
    CHECK_INT(post(&d, "w-1"), 200);
    og_test_redis_kill(&replica);
    int64_t t0 = og_mono_ms();
    CHECK_INT(post(&d, "w-2"), 503); /* on the master, not acknowledged */
    CHECK(og_mono_ms() - t0 < 3000);
    char *k = og_test_redis_cli(&master,
                                "EVAL \"return redis.call('HEXISTS', KEYS[1] .. "
                                "redis.sha1hex(ARGV[1]):sub(1, 3), ARGV[1])\" 1 {og}:pm:demo: w-2");
    CHECK(k && atoi(k) == 1);
    free(k);
    CHECK_INT(og_test_redis_restart(&replica), 0);
    long st = 0;
    for (int i = 0; i < 60 && st != 200; i++) { /* the platform retries */
        st = post(&d, "w-2");
        if (st != 200)
            usleep(100000);
    }
    CHECK_INT(st, 200);
    char *cnt = og_test_redis_cli(&master, "ZCARD {og}:idx:all");
    CHECK(cnt && atoi(cnt) == 1); /* one session, no duplicate message */
    free(cnt);
    char *msgs = og_test_redis_cli(&master, "KEYS {og}:msg:*");
    size_t nmsg = 0;
    for (char *q = msgs; q && (q = strstr(q, "{og}:msg:")); q++)
        nmsg++;
    CHECK_INT(nmsg, 2);
    free(msgs);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    free(repl);
    og_test_redis_stop(&replica);
    og_test_redis_stop(&master);
    return og_test_done();
}
