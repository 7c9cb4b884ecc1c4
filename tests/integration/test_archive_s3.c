/* test_archive_s3 - the session archive on the shared object store
 * (retention.store "s3", #22.3): two daemons on one redis-server, each with
 * its own data_dir, one bucket of s3rver (tests/s3, as test_media_s3 starts
 * it), on the test clock, with archive_after_days 1, delete_after_days 3
 * and archive_batch 3:
 *   day 0: u0..u4 write twice each and are closed (only the first daemon
 *          runs).
 *   day 2: the first daemon archives them: two objects (3 + 2 records)
 *          named after its instance id, none holding plain text, the
 *          sessions' keys gone from Redis, the index naming the objects.
 *          The second daemon starts and reads every session and its
 *          messages through the API (status archived), and lists them in
 *          the Conversations export, once each; u0 writes to the
 *          second one: the same session, reopened with its history.
 *   erasure: DELETE /contacts/{u0} (live again, its old record left in
 *          its object) through the first daemon: that object is replaced
 *          by one without it; DELETE /contacts/{u1} through the second: the
 *          same for u1's archived record. No object holds their session
 *          ids, the old objects are deleted, u2 in the new object still
 *          reads back whole through the first daemon.
 *   day 4: past delete_after_days every object is deleted, the sessions
 *          are 404, the index is empty.
 *   crash: c0..c2 closed on day 4; on day 6 the first daemon runs alone
 *          with OMNIGATE_TEST_ARCHIVE_CRASH=1 and kills itself after its
 *          PUT, before the index switches: one object (an orphan), every
 *          session still live and whole, nothing indexed. Both restarted:
 *          once the lease has run out the three are archived, each once
 *          (the orphan stays for its hour).
 *   both: 30 sessions closed on day 6 are archived by both daemons at once
 *          on day 7.5 (when c0..c2 are deleted, and the orphan, noted in
 *          Redis before its PUT, is an hour old and deleted): every session
 *          indexed once and written once (thirty records in the bucket).
 * A config naming retention.store "s3" without media.s3 is refused, the
 * error naming the key. */
#include "og_archive.h"
#include "og_media_s3.h"
#include "og_test.h"
#include "og_util.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define BUCKET "omnigate-archive"
#define ADMIN "Authorization: Bearer " OG_TEST_ADMIN_TOKEN
#define N 5

static struct og_test_s3rver s3;
static char endpoint[64], *s3dir;
static struct og_test_redis rs;
static struct og_test_daemon d1, d2;
static struct og_fake *plat;
static char clock_path[512];
static char sid[N][48], cids[N][48];
static struct og_media_s3 *bucket;

#define D_MS 1907625600000LL /* 2030-06-14 00:00 UTC */
#define DAY 86400000LL

/* s3rver in dir/s3 (og_test_s3rver_start); 0 once it listens. s3dir:
 * where the archive's objects are its files. */
static int s3rver_start(const char *dir)
{
    if (og_test_s3rver_start(&s3, dir, BUCKET) != 0)
        return -1;
    snprintf(endpoint, sizeof endpoint, "%s", s3.endpoint);
    s3dir = og_sprintf("%s/s3/" BUCKET "/archive", dir);
    return 0;
}

static void s3rver_stop(void)
{
    og_test_s3rver_stop(&s3);
}

static void clock_set(int64_t ms)
{
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", clock_path);
    FILE *f = fopen(tmp, "w");
    fprintf(f, "%lld", (long long)ms);
    fclose(f);
    rename(tmp, clock_path);
}

static long redis_int(const char *fmt, const char *arg)
{
    char *s = og_test_redis_line(&rs, fmt, arg);
    long v = s ? atol(s) : -1;
    free(s);
    return v;
}

static int wait_int(const char *fmt, const char *arg, long want)
{
    for (int i = 0; i < 750; i++) { /* at most 15 s */
        if (redis_int(fmt, arg) == want)
            return 1;
        usleep(20000);
    }
    return 0;
}

static char *api(const struct og_test_daemon *d, const char *method, const char *path, long *st)
{
    char *url = og_sprintf("%s/api/v1%s", d->base, path);
    struct og_test_resp r = og_test_http(method, url, ADMIN, NULL, 0);
    free(url);
    *st = r.status;
    return r.body;
}

static void post(const struct og_test_daemon *d, const char *user, const char *text)
{
    static int n;
    char *b =
        og_sprintf("{\"id\":\"e-%d\",\"from\":{\"id\":\"%s\",\"name\":\"N\"},\"text\":\"%s\"}", ++n,
                   user, text);
    CHECK_INT(og_test_post_signed(d, "demo", SECRET, b, strlen(b)), 200);
    free(b);
}

/* user writes twice and is closed; its session id into out, its contact
 * id into cid (may be NULL). */
static void converse(const char *user, int i, char out[48], char cid[48])
{
    char t[48];
    snprintf(t, sizeof t, "first %d", i);
    post(&d1, user, t);
    snprintf(t, sizeof t, "second %d", i);
    post(&d1, user, t);
    char *s = og_test_redis_line(&rs, OG_TEST_BUCKET("HGET") "{og}:th:demo: %s", user);
    snprintf(out, 48, "%s", s ? s : "");
    free(s);
    s = og_test_redis_line(&rs, "HGET {og}:ses:%s contact_id", out);
    if (cid)
        snprintf(cid, 48, "%s", s ? s : "");
    free(s);
    char *url = og_sprintf("%s/api/v1/sessions/%s/close", d1.base, out);
    struct og_test_resp r = og_test_http("POST", url, ADMIN "\nContent-Type: application/json",
                                         "{\"reason\":\"solved\"}", 19);
    CHECK_INT(r.status, 200);
    free(url), free(r.body);
}

/* The archive's objects in the bucket (s3rver's files), their names into
 * names (NUL-separated, may be NULL); *records: the records they hold. */
static int objects(struct og_buf *names, int *records)
{
    DIR *dp = opendir(s3dir);
    int n = 0;
    if (records)
        *records = 0;
    for (struct dirent *e; dp && (e = readdir(dp));) {
        const char *suf = strstr(e->d_name, "._S3rver_object");
        if (!suf || suf[15])
            continue;
        n++;
        if (names) {
            og_buf_append(names, e->d_name, (size_t)(suf - e->d_name));
            og_buf_append(names, "", 1); /* NUL-separated */
        }
        if (records) {
            char *p = og_sprintf("%s/%s", s3dir, e->d_name);
            size_t l = 0;
            char *c = og_test_read_file(p, &l);
            for (char *q = c; q && (q = memmem(q, l - (size_t)(q - c), "OGA1", 4)); q += 4)
                (*records)++;
            free(c), free(p);
        }
    }
    if (dp)
        closedir(dp);
    return n;
}

/* Whether any object's bytes contain s. */
static int objects_hold(const char *s)
{
    DIR *dp = opendir(s3dir);
    int hit = 0;
    for (struct dirent *e; dp && (e = readdir(dp)) && !hit;) {
        if (!strstr(e->d_name, "._S3rver_object"))
            continue;
        char *p = og_sprintf("%s/%s", s3dir, e->d_name);
        size_t l = 0;
        char *c = og_test_read_file(p, &l);
        hit = c && memmem(c, l, s, strlen(s)) != NULL;
        free(c), free(p);
    }
    if (dp)
        closedir(dp);
    return hit;
}

struct find {
    const char *needle;
    int found, n;
};

static int find_text(void *ud, size_t off, size_t rlen, const char *sid_, const char *json,
                     size_t jl)
{
    (void)off, (void)rlen, (void)sid_;
    struct find *f = ud;
    f->n++;
    if (memmem(json, jl, f->needle, strlen(f->needle)))
        f->found = 1;
    return 0;
}

/* Whether an object's records, inflated, contain needle; *recs counts them. */
static int object_text(const char *key, const char *needle, int *recs)
{
    unsigned char *b = NULL;
    size_t len = 0;
    struct find f = {.needle = needle};
    if (og_media_s3_get_mem(bucket, key, 0, 0, 1 << 26, &b, &len) == OG_OK)
        og_archive_scan(b, len, find_text, &f);
    free(b);
    if (recs)
        *recs = f.n;
    return f.found;
}

/* The bucket key of a session's index entry ("" when it has none). */
static void loc_key(const char *s, char out[160])
{
    char *loc = og_test_redis_line(&rs, "HGET {og}:arch:loc %s", s);
    out[0] = 0;
    if (loc && !strncmp(loc, "s3:", 3)) {
        char *tab = strchr(loc, '\t');
        if (tab)
            snprintf(out, 160, "archive/%.*s", (int)(tab - loc - 3), loc + 3);
    }
    free(loc);
}

/* A session reads back through d: status, and both messages of conversation i. */
static void check_reads(const struct og_test_daemon *d, const char *s, int i, const char *status)
{
    long st;
    char path[128], t[48];
    snprintf(path, sizeof path, "/sessions/%s", s);
    char *b = api(d, "GET", path, &st);
    CHECK_INT(st, 200);
    char *w = og_sprintf("\"status\":\"%s\"", status);
    CHECK(b && strstr(b, w));
    free(w), free(b);
    snprintf(path, sizeof path, "/sessions/%s/messages", s);
    b = api(d, "GET", path, &st);
    CHECK_INT(st, 200);
    snprintf(t, sizeof t, "\"first %d\"", i);
    CHECK(b && strstr(b, t));
    snprintf(t, sizeof t, "\"second %d\"", i);
    CHECK(b && strstr(b, t));
    free(b);
}

static char *channels, *extra;

static void bad_config(void)
{
    /* "s3" without media.s3: refused, naming the key */
    struct og_test_daemon x = {0};
    fprintf(stderr, "  (a daemon that must not start follows)\n");
    CHECK(og_test_daemon_start(&x, rs.url, channels,
                               "\"retention\":{\"archive_after_days\":1,\"store\":\"s3\"}") != 0);
    char *logp = og_sprintf("%s/omnigate.log", x.dir ? x.dir : "/nonexistent");
    char *log = og_test_read_file(logp, NULL);
    CHECK(log && strstr(log, "retention.store: \"s3\" needs media.s3"));
    free(log), free(logp);
    og_test_daemon_stop(&x);
    og_test_daemon_free(&x);
}

static void run(void)
{
    char ins1[64] = "";
    for (int i = 0; i < N; i++) {
        char user[16];
        snprintf(user, sizeof user, "u%d", i);
        clock_set(D_MS + 60000 * i);
        converse(user, i, sid[i], cids[i]);
    }

    /* day 2: the first daemon archives them into two objects of its own */
    clock_set(D_MS + 2 * DAY);
    CHECK(wait_int("HLEN {og}:arch:loc%s", "", N));
    int recs = 0;
    struct og_buf names = {0};
    CHECK_INT(objects(&names, &recs), 2);
    CHECK_INT(recs, N);
    {
        /* the instance id in the names: the first daemon's */
        char *inst = og_test_redis_line(&rs, "HGET {og}:arch:loc %s", sid[0]);
        const char *g = inst ? strstr(inst, "-gw_") : NULL;
        if (g)
            snprintf(ins1, sizeof ins1, "%.*s", (int)strcspn(g + 1, "-"), g + 1);
        free(inst);
        CHECK(ins1[0] != 0);
        for (const char *q = names.data; q && q < names.data + names.len; q += strlen(q) + 1)
            CHECK(strstr(q, ins1) != NULL);
    }
    og_buf_free(&names);
    CHECK(!objects_hold("first 0")); /* compressed */
    for (int i = 0; i < N; i++) {
        CHECK_INT(redis_int("EXISTS {og}:ses:%s", sid[i]), 0);
        char key[160];
        loc_key(sid[i], key);
        CHECK(key[0] != 0);
        char t[48];
        snprintf(t, sizeof t, "first %d", i); /* in the record, within an escaped string */
        CHECK(object_text(key, t, NULL));
    }

    /* the second daemon, which wrote nothing, reads them all, and its
     * Conversations export lists them (each object read whole once) */
    CHECK_INT(og_test_daemon_start(&d2, rs.url, channels, extra), 0);
    for (int i = 0; i < N; i++)
        check_reads(&d2, sid[i], i, "archived");
    {
        long st;
        char *csv = api(&d2, "GET", "/exports/conversations?from=2030-06-14&to=2030-06-14", &st);
        CHECK_INT(st, 200);
        for (int i = 0; i < N; i++)
            CHECK(csv && strstr(csv, sid[i]));
        int archived = 0;
        for (const char *q = csv; q && (q = strstr(q, ",archived,")); q++)
            archived++;
        CHECK_INT(archived, N);
        free(csv);
    }
    /* u0 writes to the second: reopened there with its history */
    post(&d2, "u0", "third 0");
    CHECK_INT(redis_int("ZCARD {og}:ses:%s:msgs", sid[0]), 3);
    CHECK_INT(redis_int("HEXISTS {og}:arch:loc %s", sid[0]), 0);
    {
        long st;
        char path[128];
        snprintf(path, sizeof path, "/sessions/%s/messages", sid[0]);
        char *b = api(&d1, "GET", path, &st);
        CHECK_INT(st, 200);
        char *f = b ? strstr(b, "\"first 0\"") : NULL, *s = b ? strstr(b, "\"second 0\"") : NULL,
             *t = b ? strstr(b, "\"third 0\"") : NULL;
        /* the first two share a millisecond on the test clock: either order */
        CHECK(f && s && t && f < t && s < t);
        free(b);
    }

    /* erasure of u0, live again: the record it left in its object (no index
     * entry names it since the restore) goes too, with a rewrite */
    char first[160];
    {
        char *loc = og_test_redis_line(&rs, "HGET {og}:arch:was %s", sid[0]);
        CHECK(loc && !strncmp(loc, "s3:", 3));
        snprintf(first, sizeof first, "archive/%s", loc ? loc + 3 : "");
        free(loc);
        CHECK(object_text(first, "first 0", NULL));
        long st;
        char path[128];
        snprintf(path, sizeof path, "/contacts/%s", cids[0]);
        free(api(&d1, "DELETE", path, &st));
        CHECK_INT(st, 204);
    }
    CHECK(!objects_hold(sid[0]));
    CHECK_INT(redis_int("HEXISTS {og}:arch:was %s", sid[0]), 0);
    CHECK_INT(redis_int("EXISTS {og}:ses:%s", sid[0]), 0);
    CHECK_INT(objects(NULL, NULL), 2);
    check_reads(&d2, sid[2], 2, "archived"); /* its neighbours moved, whole */

    /* erasure of u1: its object is replaced by one without it */
    char old[160];
    const char *cid = cids[1];
    loc_key(sid[1], old);
    CHECK(!strncmp(cid, "con_", 4));
    CHECK(objects_hold(sid[1]));
    {
        long st;
        char path[128];
        snprintf(path, sizeof path, "/contacts/%s", cid);
        char *b = api(&d2, "DELETE", path, &st);
        CHECK_INT(st, 204);
        free(b);
        snprintf(path, sizeof path, "/sessions/%s", sid[1]);
        b = api(&d1, "GET", path, &st);
        CHECK_INT(st, 404);
        free(b);
    }
    CHECK(!objects_hold(sid[1])); /* the bytes are gone, not only the entry */
    unsigned char *gone = NULL;
    size_t gl = 0;
    CHECK_INT(og_media_s3_get_mem(bucket, old, 0, 0, 1 << 20, &gone, &gl), OG_ERR_NOT_FOUND);
    free(gone);
    char nk[160];
    loc_key(sid[2], nk);
    CHECK(nk[0] && strcmp(nk, old) != 0 && strcmp(nk, first) != 0);
    int nrecs = 0;
    CHECK(object_text(nk, "first 2", &nrecs));
    CHECK_INT(nrecs, 1); /* u0 was restored, u1 erased: u2 alone */
    CHECK(!object_text(nk, "first 1", NULL));
    check_reads(&d1, sid[2], 2, "archived");
    check_reads(&d2, sid[3], 3, "archived");
    CHECK_INT(objects(NULL, NULL), 2);

    /* day 4: past delete_after_days, every object goes */
    clock_set(D_MS + 4 * DAY);
    CHECK(wait_int("HLEN {og}:arch:loc%s", "", 0));
    for (int i = 0; i < 200 && objects(NULL, NULL) != 0; i++)
        usleep(20000);
    CHECK_INT(objects(NULL, NULL), 0);
    CHECK_INT(redis_int("HLEN {og}:arch:segs%s", ""), 0);
    for (int i = 2; i < N; i++) {
        long st;
        char path[128];
        snprintf(path, sizeof path, "/sessions/%s", sid[i]);
        free(api(&d2, "GET", path, &st));
        CHECK_INT(st, 404);
    }

    /* the crash between the PUT and the index switch */
    char csid[3][48];
    for (int i = 0; i < 3; i++) {
        char user[16];
        snprintf(user, sizeof user, "c%d", i);
        converse(user, 10 + i, csid[i], NULL);
    }
    CHECK_INT(og_test_daemon_stop(&d2), 0);
    CHECK_INT(og_test_daemon_stop(&d1), 0);
    setenv("OMNIGATE_TEST_ARCHIVE_CRASH", "1", 1);
    const int64_t day6 = D_MS + 6 * DAY;
    clock_set(day6);
    if (og_test_daemon_restart(&d1) == 0)
        CHECK_INT(og_test_daemon_wait_killed(&d1, 10000), 0);
    unsetenv("OMNIGATE_TEST_ARCHIVE_CRASH");
    char *logp = og_sprintf("%s/omnigate.log", d1.dir);
    char *log = og_test_read_file(logp, NULL);
    CHECK(log && strstr(log, "OMNIGATE_TEST_ARCHIVE_CRASH: killed between"));
    free(log), free(logp);
    CHECK_INT(objects(NULL, &recs), 1); /* put, never indexed: an orphan */
    CHECK_INT(recs, 3);
    CHECK_INT(redis_int("HLEN {og}:arch:pend%s", ""), 1); /* noted before the PUT */
    CHECK_INT(redis_int("HLEN {og}:arch:loc%s", ""), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(redis_int("EXISTS {og}:ses:%s", csid[i]), 1);
        CHECK_INT(redis_int("ZCARD {og}:ses:%s:msgs", csid[i]), 2);
    }
    CHECK_INT(og_test_daemon_restart(&d1), 0);
    CHECK_INT(og_test_daemon_restart(&d2), 0);
    usleep(1000000); /* a few passes: the leased ones wait */
    CHECK_INT(redis_int("HLEN {og}:arch:loc%s", ""), 0);
    clock_set(day6 + 11 * 60000);
    CHECK(wait_int("HLEN {og}:arch:loc%s", "", 3));
    for (int i = 0; i < 3; i++) {
        CHECK_INT(redis_int("EXISTS {og}:ses:%s", csid[i]), 0);
        check_reads(i % 2 ? &d1 : &d2, csid[i], 10 + i, "archived");
    }
    CHECK_INT(objects(NULL, &recs), 2);
    CHECK_INT(recs, 6); /* the orphan's three (within its hour) and the real three */

    /* both daemons archive 30 sessions at once: each once */
    enum { M = 30 };
    for (int i = 0; i < M; i++) {
        char user[16], s[48];
        snprintf(user, sizeof user, "m%d", i);
        converse(user, 100 + i, s, NULL);
    }
    /* c0..c2's object is past delete_after_days then, the orphan past its hour */
    clock_set(day6 + DAY + DAY / 2);
    CHECK(wait_int("HLEN {og}:arch:loc%s", "", M));
    CHECK(wait_int("HLEN {og}:arch:pend%s", "", 0));
    usleep(1500000);
    CHECK_INT(redis_int("HLEN {og}:arch:loc%s", ""), M);
    int n = objects(&names, &recs);
    CHECK_INT(recs, M); /* every session once, the orphan deleted */
    CHECK_INT(n, M / 3);
    int swept = 0;
    for (int k = 0; k < 2; k++) {
        char *lp = og_sprintf("%s/omnigate.log", (k ? &d2 : &d1)->dir);
        char *lg = og_test_read_file(lp, NULL);
        swept += lg && strstr(lg, "put by a step that never indexed it") != NULL;
        free(lg), free(lp);
    }
    CHECK_INT(swept, 1);
    /* which processes wrote them (the instance id in each name): usually
     * both take part; either way none may be written twice */
    char ids[8][48];
    int per[8] = {0}, nid = 0;
    for (const char *q = names.data; q && q < names.data + names.len; q += strlen(q) + 1) {
        const char *g = strstr(q, "-gw_");
        char id[48];
        snprintf(id, sizeof id, "%.*s", g ? (int)strcspn(g + 1, "-") : 1, g ? g + 1 : "?");
        int k = 0;
        while (k < nid && strcmp(ids[k], id) != 0)
            k++;
        if (k == nid && nid < 8)
            snprintf(ids[nid++], sizeof ids[0], "%s", id);
        if (k < 8)
            per[k]++;
    }
    fprintf(stderr, "  %d objects, by instance:", n);
    for (int k = 0; k < nid; k++)
        fprintf(stderr, " %s %d", ids[k], per[k]);
    fprintf(stderr, "\n");
    og_buf_free(&names);
}

int main(void)
{
    if (!getenv("OG_NODE") || access(getenv("OG_NODE"), X_OK) != 0) {
        printf("SKIP: node is not installed\n");
        return og_test_done();
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char *cp = og_sprintf("/tmp/og-archive-s3-clock-%d", (int)getpid());
    snprintf(clock_path, sizeof clock_path, "%s", cp);
    free(cp);
    clock_set(D_MS);
    setenv("OMNIGATE_TEST_CLOCK", clock_path, 1);
    char *dir = og_test_tmpdir();
    if (s3rver_start(dir) != 0 || og_test_redis_start(&rs) != 0) {
        CHECK(0);
        s3rver_stop();
        og_test_rmdir(dir);
        return og_test_done();
    }
    char err[320] = "";
    struct og_media_s3_opts so = {
        .endpoint = endpoint, .bucket = BUCKET, .access_key = "S3RVER", .secret_key = "S3RVER"};
    bucket = og_media_s3_open(&so, err, sizeof err);
    CHECK(bucket != NULL);
    plat = og_fake_start();
    channels = og_sprintf(
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"routing\":\"desk\",\"options\":"
        "{\"secret\":\"" SECRET "\",\"reply_url\":\"%s/r\"}}]",
        og_fake_base(plat));
    extra = og_sprintf("\"routing\":{\"desk\":{\"mode\":\"manual\",\"levels\":[{\"members\":"
                       "[\"group:desk\"]}]}},"
                       "\"media\":{\"s3\":{\"endpoint\":\"%s\",\"bucket\":\"" BUCKET
                       "\",\"access_key\":\"S3RVER\",\"secret_key\":\"S3RVER\"}},"
                       "\"retention\":{\"archive_after_days\":1,\"delete_after_days\":3,"
                       "\"archive_batch\":3,\"store\":\"s3\"}",
                       endpoint);
    bad_config();
    if (bucket && og_test_daemon_start(&d1, rs.url, channels, extra) == 0)
        run();
    else
        CHECK(0);
    og_test_daemon_stop(&d2);
    og_test_daemon_stop(&d1);
    og_test_daemon_free(&d2);
    og_test_daemon_free(&d1);
    og_media_s3_close(bucket);
    free(channels), free(extra), free(s3dir);
    og_fake_stop(plat);
    og_test_redis_stop(&rs);
    s3rver_stop();
    og_test_rmdir(dir);
    free(dir);
    unlink(clock_path);
    curl_global_cleanup();
    return og_test_done();
}
