/* test_sentinel - Redis Sentinel failover with nothing acknowledged lost
 * (#23), against real servers on 127.0.0.1: a master, two replicas and three
 * sentinels (quorum 2, down-after 2 s), two omnigate instances with
 * redis.durability "replicated" and a webhook subscription, and a signed
 * load on both:
 *   - all sentinels down at start: a clear error and a non-zero exit;
 *   - a sentinel that names a server which is not a master (a fourth one,
 *     watching a replica under the same name, listed first for instance B):
 *     refused and logged, and B starts on the real master;
 *   - the master is killed with SIGKILL mid-burst: while no master answers,
 *     posts get 503 and /readyz 503 with the sentinels' reason; the
 *     sentinels promote a replica and each instance answers 2xx again
 *     within 10 s of the promotion (measured: printed);
 *   - every post without a 2xx is posted again (a platform retries); then
 *     every message is stored exactly once on the new master - in
 *     particular every one acknowledged before the kill;
 *   - webhook deliveries continue: a message posted after the promotion is
 *     delivered;
 *   - the old master restarted comes back as a replica and omnigate never
 *     runs a script on it;
 *   - a switch-over asked of the sentinels (SENTINEL FAILOVER), where the old
 *     master lives on as a replica and no connection breaks: omnigate moves
 *     and answers 2xx within 10 s.
 * OG_TEST_SHOW_LOG=1 prints instance A's log at the end. */
#include "og_test.h"
#include "og_util.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "sentinel-secret"
#define WHSEC "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define CHANNELS                                                                                   \
    "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET            \
    "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]"
#define N_MAX 20000 /* posts per instance, at most */

struct loader {
    pthread_t th;
    struct og_test_daemon *d;
    int inst;
    atomic_int stop;
    atomic_int n;   /* posts made */
    atomic_int oks; /* 2xx among them */
    int64_t *t_ms;  /* when each answer came (monotonic) */
    long *status;
};

static long post(struct og_test_daemon *d, int inst, int k)
{
    char *b = og_sprintf("{\"id\":\"s%d-%d\",\"from\":{\"id\":\"u-%d\"},\"text\":\"sen %d %d\"}",
                         inst, k, k % 25, inst, k);
    long st = og_test_post_signed(d, "demo", SECRET, b, strlen(b));
    free(b);
    return st;
}

static void *load(void *arg)
{
    struct loader *l = arg;
    int64_t until = og_mono_ms() + 120000;
    while (!atomic_load(&l->stop) && atomic_load(&l->n) < N_MAX && og_mono_ms() < until) {
        int k = atomic_load(&l->n);
        long st = post(l->d, l->inst, k);
        l->t_ms[k] = og_mono_ms();
        l->status[k] = st;
        if (st >= 200 && st < 300)
            atomic_fetch_add(&l->oks, 1);
        atomic_store(&l->n, k + 1);
        if (st < 200 || st > 299)
            usleep(20000); /* a platform backs off a little */
    }
    return NULL;
}

static char *log_of(struct og_test_daemon *d)
{
    char *p = og_sprintf("%s/omnigate.log", d->dir);
    char *t = og_test_read_file(p, NULL);
    free(p);
    return t ? t : og_strdup("");
}

static struct og_test_resp readyz(struct og_test_daemon *d)
{
    char url[128];
    snprintf(url, sizeof url, "%s/readyz", d->base);
    return og_test_http("GET", url, NULL, NULL, 0);
}

/* All sentinels down: omnigate says so and exits non-zero. */
static void test_no_sentinel(void)
{
    char *dir = og_test_tmpdir();
    char *cfg = og_sprintf("%s/config.json", dir), *log = og_sprintf("%s/omnigate.log", dir);
    FILE *f = fopen(cfg, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fprintf(
        f,
        "{\"listen\":\"127.0.0.1:%d\",\"data_dir\":\"%s/data\",\"api\":{\"admin_token\":\"%s\"},"
        "\"redis\":{\"sentinels\":[\"127.0.0.1:%d\",\"127.0.0.1:%d\"],\"master_name\":"
        "\"mymaster\"},\"channels\":[]}\n",
        og_test_free_port(), dir, OG_TEST_ADMIN_TOKEN, og_test_free_port(), og_test_free_port());
    fclose(f);
    int64_t t0 = og_mono_ms();
    pid_t pid = og_test_fork();
    if (pid == 0) {
        int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(out, 1), dup2(out, 2);
        execl(OG_BINARY_DIR "/bin/omnigate", "omnigate", "--config", cfg, (char *)NULL);
        _exit(127);
    }
    int status = 0, done = 0;
    while (!done && og_mono_ms() - t0 < 20000) {
        done = waitpid(pid, &status, WNOHANG) == pid;
        if (!done)
            usleep(50000);
    }
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    CHECK(done);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    char *text = og_test_read_file(log, NULL);
    CHECK(text && strstr(text, "redis.sentinels: no sentinel answered") &&
          strstr(text, "not starting"));
    if (text && !strstr(text, "no sentinel answered"))
        fprintf(stderr, "its log:\n%s\n", text);
    free(text);
    free(cfg);
    free(log);
    og_test_rmdir(dir);
    free(dir);
}

/* The messages in {og}:events's message.received on port: seen[inst][k]
 * counts; strays and the number of distinct messages out. */
static int count_stored(int port, unsigned char *seen[2], int n[2], int *dups, int *strays)
{
    redisContext *rc = redisConnect("127.0.0.1", port);
    redisReply *all = rc && !rc->err ? redisCommand(rc, "XRANGE {og}:events - +") : NULL;
    int distinct = 0;
    *dups = *strays = 0;
    for (size_t e = 0; all && all->type == REDIS_REPLY_ARRAY && e < all->elements; e++) {
        redisReply *fl = all->element[e]->element[1];
        const char *type = NULL, *data = NULL;
        for (size_t x = 0; x + 1 < fl->elements; x += 2) {
            type = strcmp(fl->element[x]->str, "type") == 0 ? fl->element[x + 1]->str : type;
            data = strcmp(fl->element[x]->str, "event") == 0 ? fl->element[x + 1]->str : data;
        }
        if (!type || strcmp(type, "message.received") != 0)
            continue;
        const char *t = data ? strstr(data, "\"text\":\"sen ") : NULL;
        int inst = -1, k = -1;
        if (!t || sscanf(t, "\"text\":\"sen %d %d", &inst, &k) != 2 || inst < 0 || inst > 1 ||
            k < 0 || k >= n[inst]) {
            (*strays)++;
            continue;
        }
        if (seen[inst][k])
            (*dups)++;
        else
            distinct++;
        seen[inst][k]++;
    }
    if (all)
        freeReplyObject(all);
    if (rc)
        redisFree(rc);
    return distinct;
}

int main(void)
{
    test_no_sentinel();

    struct og_test_ha ha;
    /* down-after 2 s: shorter makes a starved machine (a parallel build)
     * fail over a master that is only slow */
    if (og_test_ha_start(&ha, 2000) != 0)
        return 1;
    /* a sentinel behind the times: it names a replica as "mymaster" (its
     * down-after is long, so it never tries a failover of its own) */
    struct og_test_redis stray;
    struct og_test_sentinel bad;
    char arg[64];
    snprintf(arg, sizeof arg, "--replicaof 127.0.0.1 %d", og_test_free_port());
    CHECK_INT(og_test_redis_start_with(&stray, arg), 0);
    CHECK_INT(og_test_sentinel_start(&bad, "mymaster", stray.port, 1, 600000), 0);

    struct og_fake *sink = og_fake_start();
    char *extra = og_sprintf("\"webhooks\":[{\"id\":\"all\",\"url\":\"%s/hook\",\"secret\":\"" WHSEC
                             "\",\"events\":[\"message.received\"],\"retry_schedule_s\":[0,1,1,2],"
                             "\"timeout_ms\":2000}]",
                             og_fake_base(sink));
    char *redis_a = og_sprintf("{\"sentinels\":%s,\"master_name\":\"mymaster\",\"durability\":"
                               "\"replicated\",\"wait_replicas\":1,\"wait_timeout_ms\":1000}",
                               ha.sentinels_json);
    char *redis_b = og_sprintf(
        "{\"sentinels\":[\"127.0.0.1:%d\",\"127.0.0.1:%d\",\"127.0.0.1:%d\",\"127.0.0.1:%d\"],"
        "\"master_name\":\"mymaster\",\"durability\":\"replicated\",\"wait_replicas\":1,"
        "\"wait_timeout_ms\":1000}",
        bad.port, ha.sentinel[2].port, ha.sentinel[1].port, ha.sentinel[0].port);
    struct og_test_daemon d[2];
    if (og_test_daemon_start(&d[0], redis_a, CHANNELS, extra) != 0 ||
        og_test_daemon_start(&d[1], redis_b, CHANNELS, extra) != 0) {
        og_test_ha_stop(&ha);
        return 1;
    }
    char *lb = log_of(&d[1]);
    CHECK(strstr(lb, "names 127.0.0.1:") && strstr(lb, "but it is not a master (slave); refused"));
    free(lb);

    /* the burst, on both instances */
    struct loader ld[2];
    for (int i = 0; i < 2; i++) {
        memset(&ld[i], 0, sizeof ld[i]);
        ld[i].d = &d[i];
        ld[i].inst = i;
        ld[i].t_ms = og_calloc(N_MAX, sizeof *ld[i].t_ms);
        ld[i].status = og_calloc(N_MAX, sizeof *ld[i].status);
        pthread_create(&ld[i].th, NULL, load, &ld[i]);
    }
    int64_t t_until = og_mono_ms() + 20000;
    while ((atomic_load(&ld[0].oks) < 300 || atomic_load(&ld[1].oks) < 300) &&
           og_mono_ms() < t_until)
        usleep(10000);
    int64_t t_kill = og_mono_ms();
    int acked_before[2] = {atomic_load(&ld[0].oks), atomic_load(&ld[1].oks)};
    og_test_redis_kill(&ha.server[0]);

    /* no master: 503 and a reason */
    usleep(300000);
    struct og_test_resp rz = readyz(&d[0]);
    CHECK_INT(rz.status, 503);
    CHECK(strstr(rz.body, "sentinel") != NULL);
    fprintf(stderr, "readyz while no master: %s\n", rz.body);
    free(rz.body);

    int64_t t_promo = 0;
    int promoted = -1;
    while (promoted < 0 && og_mono_ms() - t_kill < 30000) {
        promoted = og_test_ha_master(&ha);
        if (promoted < 0)
            usleep(10000);
    }
    t_promo = og_mono_ms();
    CHECK(promoted > 0);
    int after_oks[2] = {atomic_load(&ld[0].oks), atomic_load(&ld[1].oks)};
    t_until = og_mono_ms() + 30000;
    while ((atomic_load(&ld[0].oks) < after_oks[0] + 200 ||
            atomic_load(&ld[1].oks) < after_oks[1] + 200) &&
           og_mono_ms() < t_until)
        usleep(10000);
    for (int i = 0; i < 2; i++) {
        atomic_store(&ld[i].stop, 1);
        pthread_join(ld[i].th, NULL);
    }

    /* follow time: the first 2xx after the promotion, per instance */
    int n[2];
    for (int i = 0; i < 2; i++) {
        n[i] = atomic_load(&ld[i].n);
        int64_t last_before = 0, first_after = -1;
        int fails = 0;
        for (int k = 0; k < n[i]; k++) {
            int ok = ld[i].status[k] >= 200 && ld[i].status[k] < 300;
            fails += !ok;
            if (ok && ld[i].t_ms[k] <= t_kill)
                last_before = ld[i].t_ms[k];
            if (ok && ld[i].t_ms[k] > t_promo && first_after < 0)
                first_after = ld[i].t_ms[k];
            if (!ok && ld[i].status[k] != 503)
                fprintf(stderr, "instance %d post %d: %ld\n", i, k, ld[i].status[k]);
        }
        fprintf(stderr,
                "instance %d: %d posts, %d acknowledged before the kill, %d not 2xx; promotion "
                "%lld ms after the kill; first 2xx %lld ms after the promotion (last before "
                "the kill %lld ms before it)\n",
                i, n[i], acked_before[i], fails, (long long)(t_promo - t_kill),
                (long long)(first_after - t_promo), (long long)(t_kill - last_before));
        CHECK(first_after > 0);
        CHECK(first_after - t_promo <= 10000);
    }

    /* the platforms retry what was not acknowledged */
    int unacked = 0;
    int64_t retry_until = og_mono_ms() + 60000;
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < n[i]; k++) {
            long st = ld[i].status[k];
            while ((st < 200 || st > 299) && og_mono_ms() < retry_until) {
                st = post(&d[i], i, k);
                if (st < 200 || st > 299)
                    usleep(50000);
            }
            unacked += st < 200 || st > 299;
        }
    CHECK_INT(unacked, 0);

    /* exactly once on the new master */
    unsigned char *seen[2] = {og_calloc((size_t)n[0] + 1, 1), og_calloc((size_t)n[1] + 1, 1)};
    int dups = 0, strays = 0;
    int distinct = count_stored(ha.server[promoted].port, seen, n, &dups, &strays);
    fprintf(stderr, "%d of %d messages stored on the new master, %d duplicates, %d strays\n",
            distinct, n[0] + n[1], dups, strays);
    CHECK_INT(distinct, n[0] + n[1]);
    CHECK_INT(dups, 0);
    CHECK_INT(strays, 0);
    int lost_acked = 0;
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < n[i]; k++)
            lost_acked += ld[i].t_ms[k] <= t_kill && ld[i].status[k] == 200 && !seen[i][k];
    CHECK_INT(lost_acked, 0);

    /* webhooks go on: a message stored after the promotion is delivered */
    char want[64];
    snprintf(want, sizeof want, "sen 0 %d", n[0] - 1);
    int delivered = 0;
    for (int64_t until = og_mono_ms() + 20000; !delivered && og_mono_ms() < until;) {
        for (size_t i = og_fake_count(sink); i-- > 0 && !delivered;)
            delivered = strstr(og_fake_get(sink, i)->body, want) != NULL;
        if (!delivered)
            usleep(100000);
    }
    CHECK(delivered);

    /* routing goes on: an agent who comes online now is given waiting sessions */
    char *url = og_sprintf("%s/api/v1/agents", d[0].base);
    const char *admin = "Authorization: Bearer " OG_TEST_ADMIN_TOKEN "\nContent-Type: "
                        "application/json";
    const char *ann = "{\"name\":\"Ann\",\"email\":\"ann@o.io\"}";
    struct og_test_resp ra = og_test_http("POST", url, admin, ann, strlen(ann));
    free(url);
    CHECK_INT(ra.status, 201);
    json_object *aj = json_tokener_parse(ra.body), *ag = NULL, *v = NULL;
    char agent[64] = "", token[128] = "";
    if (aj && json_object_object_get_ex(aj, "agent", &ag) &&
        json_object_object_get_ex(ag, "id", &v))
        snprintf(agent, sizeof agent, "%s", json_object_get_string(v));
    if (aj && json_object_object_get_ex(aj, "token", &v))
        snprintf(token, sizeof token, "%s", json_object_get_string(v));
    json_object_put(aj);
    free(ra.body);
    url = og_sprintf("%s/api/v1/agents/%s/presence", d[1].base, agent);
    char *auth = og_sprintf("Authorization: Bearer %s\nContent-Type: application/json", token);
    struct og_test_resp rp = og_test_http("PUT", url, auth, "{\"status\":\"online\"}", 19);
    CHECK_INT(rp.status, 200);
    free(rp.body);
    free(url);
    free(auth);
    size_t assigned = 0;
    for (int64_t until = og_mono_ms() + 15000; !assigned && og_mono_ms() < until;) {
        long st = 0;
        json_object *l = og_test_api_get(&d[0], "/api/v1/sessions?status=active", &st), *items;
        if (l && json_object_object_get_ex(l, "items", &items))
            assigned = json_object_array_length(items);
        json_object_put(l);
        if (!assigned)
            usleep(100000);
    }
    fprintf(stderr, "%zu sessions assigned after the failover\n", assigned);
    CHECK(assigned > 0);

    /* the old master comes back as a replica; omnigate never runs a script there */
    CHECK_INT(og_test_redis_restart(&ha.server[0]), 0);
    char role[32] = "";
    for (int64_t until = og_mono_ms() + 30000; og_mono_ms() < until;) {
        og_test_ha_role(&ha, 0, role, sizeof role);
        if (strcmp(role, "slave") == 0)
            break;
        usleep(100000);
    }
    CHECK_STR(role, "slave");
    int more_ok = 0;
    int64_t more_until = og_mono_ms() + 60000;
    for (int k = 0; k < 40; k++) { /* 503 while a replica resyncs: the platform retries */
        long st = 0;
        while (st != 200 && og_mono_ms() < more_until) {
            st = post(&d[k % 2], k % 2, N_MAX + k);
            if (st != 200)
                usleep(50000);
        }
        more_ok += st == 200;
    }
    CHECK_INT(more_ok, 40);
    char *stats = og_test_redis_cli(&ha.server[0], "INFO commandstats");
    CHECK(stats && !strstr(stats, "cmdstat_fcall") && !strstr(stats, "cmdstat_evalsha") &&
          !strstr(stats, "cmdstat_eval:"));
    free(stats);
    CHECK(og_test_ha_master(&ha) > 0); /* and it is not the master again */

    /* a switch-over asked of the sentinels (SENTINEL FAILOVER): the old
     * master lives on as a replica, so nothing breaks the connections to it -
     * omnigate must move anyway (+switch-master, or READONLY) */
    int before = og_test_ha_master(&ha), now_m = before, asked = 0;
    char cmd[96];
    snprintf(cmd, sizeof cmd, "-p %d SENTINEL FAILOVER mymaster", ha.sentinel[0].port);
    for (int64_t until = og_mono_ms() + 30000; !asked && og_mono_ms() < until;) {
        char *o = og_test_redis_cli(&ha.server[before], cmd); /* -p: the sentinel's */
        asked = o && strstr(o, "OK");
        free(o);
        if (!asked)
            usleep(500000); /* NOGOODSLAVE: a replica still syncing */
    }
    CHECK(asked);
    /* the promoted one answers ROLE master; the old master still does too
     * until the sentinels turn it into a replica, a few seconds later */
    for (int64_t until = og_mono_ms() + 30000; now_m == before && og_mono_ms() < until;) {
        usleep(20000);
        for (int i = 0; i < 3; i++) {
            char rl[32];
            og_test_ha_role(&ha, i, rl, sizeof rl);
            if (i != before && strcmp(rl, "master") == 0)
                now_m = i;
        }
    }
    CHECK(now_m >= 0 && now_m != before);
    int64_t t_switch = og_mono_ms();
    int sw_ok = 0;
    int64_t first_sw = 0, sw_until = og_mono_ms() + 60000;
    for (int k = 0; k < 40; k++) {
        long st = 0;
        while (st != 200 && og_mono_ms() < sw_until) {
            st = post(&d[k % 2], k % 2, N_MAX + 100 + k);
            if (st != 200)
                usleep(50000);
        }
        if (st == 200 && !first_sw)
            first_sw = og_mono_ms();
        sw_ok += st == 200;
    }
    fprintf(stderr, "switch-over: first 2xx %lld ms after the new master answered ROLE master\n",
            (long long)(first_sw - t_switch));
    CHECK_INT(sw_ok, 40);
    CHECK(first_sw - t_switch <= 10000);
    char rl[32] = "";
    for (int64_t until = og_mono_ms() + 30000; og_mono_ms() < until;) {
        og_test_ha_role(&ha, before, rl, sizeof rl);
        if (strcmp(rl, "slave") == 0)
            break;
        usleep(100000);
    }
    CHECK_STR(rl, "slave");

    if (getenv("OG_TEST_SHOW_LOG")) { /* debugging: instance A's log */
        char *x = log_of(&d[0]);
        fprintf(stderr, "%s", x);
        free(x);
    }
    char *la = log_of(&d[0]);
    CHECK(strstr(la, "redis: following the new master 127.0.0.1:") != NULL);
    free(la);
    for (int i = 0; i < 2; i++) {
        CHECK_INT(og_test_daemon_stop(&d[i]), 0);
        og_test_daemon_free(&d[i]);
        free(ld[i].t_ms);
        free(ld[i].status);
        free(seen[i]);
    }
    og_fake_stop(sink);
    og_test_sentinel_stop(&bad);
    og_test_redis_stop(&stray);
    og_test_ha_stop(&ha);
    free(extra);
    free(redis_a);
    free(redis_b);
    return og_test_done();
}
