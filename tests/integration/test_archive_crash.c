/* test_archive_crash - a crash in the middle of archiving (#22.3) loses
 * nothing and archives nothing twice. Five sessions closed on day 0,
 * retention.archive_after_days 1, archive_batch 3; on day 2 the daemon runs
 * with OMNIGATE_TEST_ARCHIVE_CRASH=1, so it kills itself (SIGKILL) after
 * its first batch's records are written and fsynced and before the Redis
 * commit. Then: three records are in the segment, every session is still
 * live and whole, nothing is indexed. Restarted without the hook, it
 * archives the two sessions that were not claimed, leaves the three leased
 * ones until their lease runs out (10 minutes on the test clock), then
 * archives them too: each session is indexed once, at its second record
 * (the first ones are superseded), reads back whole through the API, and a
 * message to one of them restores it with all its messages. One of the five
 * has no due entry (closed before the archive existed): the backfill that
 * runs first finds it by its closed_at. Last, two instances archive 300 more
 * sessions from one Redis at once (their own data dirs): each is written
 * once, by one of them. */
#include "og_test.h"
#include "og_util.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define N 5

static struct og_test_redis rs;
static struct og_test_daemon d;
static struct og_fake *plat;
static char clock_path[512];
static char sid[N][48];

#define D_MS 1907625600000LL /* 2030-06-14 00:00 UTC */

static void clock_set(int64_t ms)
{
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", clock_path);
    FILE *f = fopen(tmp, "w");
    fprintf(f, "%lld", (long long)ms);
    fclose(f);
    rename(tmp, clock_path);
}

static long redis_int(const char *cmd)
{
    char *s = og_test_redis_line(&rs, "%s", cmd);
    long v = atol(s);
    free(s);
    return v;
}

static int wait_int(const char *cmd, long want)
{
    for (int i = 0; i < 500; i++) {
        if (redis_int(cmd) == want)
            return 1;
        usleep(20000);
    }
    return 0;
}

static char *api_get(const char *path, long *st)
{
    char *url = og_sprintf("%s/api/v1%s", d.base, path);
    struct og_test_resp r =
        og_test_http("GET", url, "Authorization: Bearer " OG_TEST_ADMIN_TOKEN, NULL, 0);
    free(url);
    *st = r.status;
    return r.body;
}

static void post(const char *user, const char *text)
{
    static int n;
    char *b =
        og_sprintf("{\"id\":\"e-%d\",\"from\":{\"id\":\"%s\",\"name\":\"N\"},\"text\":\"%s\"}", ++n,
                   user, text);
    CHECK_INT(og_test_post_signed(&d, "demo", SECRET, b, strlen(b)), 200);
    free(b);
}

/* Records in the segments (each starts with the magic). */
static int records_of(const struct og_test_daemon *dd)
{
    char *dir = og_sprintf("%s/data/archive", dd->dir);
    DIR *dp = opendir(dir);
    int n = 0;
    for (struct dirent *e; dp && (e = readdir(dp));) {
        if (!strstr(e->d_name, ".ogs"))
            continue;
        char *p = og_sprintf("%s/%s", dir, e->d_name);
        size_t l = 0;
        char *c = og_test_read_file(p, &l);
        for (char *q = c; q && (q = memmem(q, l - (size_t)(q - c), "OGA1", 4)); q += 4)
            n++;
        free(c), free(p);
    }
    if (dp)
        closedir(dp);
    free(dir);
    return n;
}

static int records(void)
{
    return records_of(&d);
}

/* Every session reads back through the API with its two messages (and
 * want_status, unless NULL). */
static void check_whole(const char *want_status)
{
    for (int i = 0; i < N; i++) {
        long st;
        char path[128], t1[32], t2[32];
        snprintf(path, sizeof path, "/sessions/%s", sid[i]);
        char *s = api_get(path, &st);
        CHECK_INT(st, 200);
        if (want_status) {
            char *w = og_sprintf("\"status\":\"%s\"", want_status);
            CHECK(strstr(s, w) != NULL);
            free(w);
        }
        free(s);
        snprintf(path, sizeof path, "/sessions/%s/messages", sid[i]);
        s = api_get(path, &st);
        CHECK_INT(st, 200);
        snprintf(t1, sizeof t1, "first %d", i);
        snprintf(t2, sizeof t2, "second %d", i);
        CHECK(strstr(s, t1) && strstr(s, t2));
        free(s);
    }
}

int main(void)
{
    char *cp = og_sprintf("/tmp/og-archive-crash-clock-%d", (int)getpid());
    snprintf(clock_path, sizeof clock_path, "%s", cp);
    free(cp);
    clock_set(D_MS);
    setenv("OMNIGATE_TEST_CLOCK", clock_path, 1);
    if (og_test_redis_start(&rs) != 0)
        return 1;
    plat = og_fake_start();
    char *channels = og_sprintf(
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"routing\":\"desk\",\"options\":"
        "{\"secret\":\"" SECRET "\",\"reply_url\":\"%s/r\"}}]",
        og_fake_base(plat));
    if (og_test_daemon_start(&d, rs.url, channels,
                             "\"routing\":{\"desk\":{\"mode\":\"manual\",\"levels\":[{\"members\":"
                             "[\"group:desk\"]}]}},"
                             "\"retention\":{\"archive_after_days\":1,\"archive_batch\":3}") != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    free(channels);
    for (int i = 0; i < N; i++) {
        char user[16], t[32];
        snprintf(user, sizeof user, "u%d", i);
        clock_set(D_MS + 60000 * i);
        snprintf(t, sizeof t, "first %d", i);
        post(user, t);
        snprintf(t, sizeof t, "second %d", i);
        post(user, t);
        char *s = og_test_redis_line(&rs, OG_TEST_BUCKET("HGET") "{og}:th:demo: %s", user);
        snprintf(sid[i], 48, "%s", s);
        free(s);
        char *url = og_sprintf("%s/api/v1/sessions/%s/close", d.base, sid[i]);
        struct og_test_resp r = og_test_http("POST", url,
                                             "Authorization: Bearer " OG_TEST_ADMIN_TOKEN
                                             "\nContent-Type: application/json",
                                             "{\"reason\":\"solved\"}", 19);
        CHECK_INT(r.status, 200);
        free(url), free(r.body);
    }

    /* day 2: the daemon dies between a batch's segment and its commit */
    setenv("OMNIGATE_TEST_ARCHIVE_CRASH", "1", 1);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    /* the last one as if closed before this version: the backfill finds it */
    char rm[160];
    snprintf(rm, sizeof rm, "ZREM {og}:arch:due %s", sid[N - 1]);
    CHECK_INT(redis_int(rm), 1);
    CHECK_INT(redis_int("DEL {og}:arch:backfill"), 1);
    const int64_t day2 = D_MS + 2 * 86400000LL;
    clock_set(day2);
    /* it may die before it is ready (then the kit has reaped it) */
    if (og_test_daemon_restart(&d) == 0)
        CHECK_INT(og_test_daemon_wait_killed(&d, 10000), 0);
    char *logp = og_sprintf("%s/omnigate.log", d.dir);
    char *log = og_test_read_file(logp, NULL);
    CHECK(log && strstr(log, "OMNIGATE_TEST_ARCHIVE_CRASH: killed between"));
    free(log), free(logp);
    unsetenv("OMNIGATE_TEST_ARCHIVE_CRASH");
    CHECK_INT(records(), 3);
    CHECK_INT(redis_int("HLEN {og}:arch:loc"), 0);
    CHECK_INT(redis_int("ZCARD {og}:arch:lease"), 3);
    for (int i = 0; i < N; i++) {
        char cmd[320];
        snprintf(cmd, sizeof cmd, "EXISTS {og}:ses:%s", sid[i]);
        CHECK_INT(redis_int(cmd), 1);
        snprintf(cmd, sizeof cmd, "ZCARD {og}:ses:%s:msgs", sid[i]);
        CHECK_INT(redis_int(cmd), 2);
    }

    /* restarted: the two unclaimed sessions go now, the leased ones later */
    CHECK_INT(og_test_daemon_restart(&d), 0);
    check_whole(NULL); /* closed, or archived by now */
    CHECK(wait_int("HLEN {og}:arch:loc", 2));
    usleep(1500000); /* a few more passes: the leased ones wait */
    CHECK_INT(redis_int("HLEN {og}:arch:loc"), 2);
    CHECK_INT(records(), 5);
    clock_set(day2 + 11 * 60000);
    CHECK(wait_int("HLEN {og}:arch:loc", N));
    CHECK_INT(records(), 3 + N); /* the first three superseded */
    CHECK_INT(redis_int("ZCARD {og}:arch:lease"), 0);
    CHECK_INT(redis_int("ZCARD {og}:arch:due"), 0);
    for (int i = 0; i < N; i++) {
        char cmd[320];
        snprintf(cmd, sizeof cmd, "EXISTS {og}:ses:%s", sid[i]);
        CHECK_INT(redis_int(cmd), 0);
        char *loc = og_test_redis_line(&rs, "HGET {og}:arch:loc %s", sid[i]);
        CHECK(strstr(loc, ".ogs\t") != NULL);
        free(loc);
    }
    check_whole("archived");
    usleep(1500000);
    CHECK_INT(records(), 3 + N); /* nothing archived twice */

    /* and back: u0 writes again */
    post("u0", "third 0");
    char cmd[320];
    snprintf(cmd, sizeof cmd, "ZCARD {og}:ses:%s:msgs", sid[0]);
    CHECK_INT(redis_int(cmd), 3);
    CHECK_INT(redis_int("HLEN {og}:arch:loc"), N - 1);

    /* two instances archiving the same Redis at once: every session once */
    static struct og_test_daemon d2;
    char *channels2 = og_sprintf(
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"routing\":\"desk\",\"options\":"
        "{\"secret\":\"" SECRET "\",\"reply_url\":\"%s/r\"}}]",
        og_fake_base(plat));
    enum { M = 300 };
    for (int i = 0; i < M; i++) {
        char user[16], t[32];
        snprintf(user, sizeof user, "m%d", i);
        snprintf(t, sizeof t, "more %d", i);
        post(user, t);
        char *s = og_test_redis_line(&rs, OG_TEST_BUCKET("HGET") "{og}:th:demo: %s", user);
        char *url = og_sprintf("%s/api/v1/sessions/%s/close", d.base, s);
        struct og_test_resp r = og_test_http("POST", url,
                                             "Authorization: Bearer " OG_TEST_ADMIN_TOKEN
                                             "\nContent-Type: application/json",
                                             "{\"reason\":\"solved\"}", 19);
        CHECK_INT(r.status, 200);
        free(url), free(r.body), free(s);
    }
    int before = records();
    if (og_test_daemon_start(&d2, rs.url, channels2,
                             "\"routing\":{\"desk\":{\"mode\":\"manual\",\"levels\":[{"
                             "\"members\":[\"group:desk\"]}]}},"
                             "\"retention\":{\"archive_after_days\":1,\"archive_batch\":3}") == 0) {
        clock_set(day2 + 3 * 86400000LL);
        CHECK(wait_int("HLEN {og}:arch:loc", N - 1 + M));
        usleep(1500000);
        int mine = records() - before, theirs = records_of(&d2);
        CHECK_INT(mine + theirs, M); /* no session written twice */
        /* usually both take part (a step is 3 sessions, a burst half a
         * beat); either way none may be written twice */
        fprintf(stderr, "  archived by the first instance %d, by the second %d\n", mine, theirs);
        CHECK_INT(redis_int("HLEN {og}:arch:loc"), N - 1 + M);
        CHECK_INT(og_test_daemon_stop(&d2), 0);
    } else {
        CHECK(0);
    }
    og_test_daemon_free(&d2);
    free(channels2);

    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_fake_stop(plat);
    og_test_redis_stop(&rs);
    unlink(clock_path);
    return og_test_done();
}
