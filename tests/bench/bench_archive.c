/* bench_archive - the session archive (core/og_archive.c): how fast closed
 * sessions leave Redis and how much Redis memory each frees, against a
 * local redis-server (AOF everysec, the kit's default) and segment files in
 * a temp dir, or (store "s3") objects in a bucket of s3rver (tests/s3, npm
 * ci there; node from $OG_NODE or the PATH) on 127.0.0.1, as
 * retention.store "s3" puts them: one object per step.
 *
 * N sessions are stored through the real ingest script (og_core_ingest),
 * each with M customer messages of ~90 bytes of text and a small raw
 * payload, and closed (og_routing_close); the event stream is then deleted
 * (#22.2 bounds it; measured apart) and og_archive_step runs until all are
 * archived. Printed: Redis used_memory per session before (with and without
 * its events), the memory freed per archived session and what is left,
 * archive throughput (sessions/s, batch B), segment bytes per session, the
 * index left in Redis per session, the time of one archived session's read
 * (og_archive_session_get: a pread, or a ranged GET), and restore
 * throughput (og_archive_restore, what a customer's new message costs
 * first).
 *
 * usage: bench_archive [sessions (default 20000)] [messages per session
 *        (default 3)] [batch (default 100)] [store: files (default) | s3] */
#include "og_archive.h"
#include "og_core.h"
#include "og_media_s3.h"
#include "og_routing.h"
#include "og_sessions.h"
#include "og_test.h"
#include "og_util.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct og_connector desc = {.name = "bench"};
static struct og_plugin plugin = {.desc = &desc};
static struct og_channel chan = {.id = "demo", .routing = "default", .plugin = &plugin};

static double now_s(void)
{
    return (double)og_mono_ms() / 1000.0;
}

static long long used_memory(struct og_test_redis *rs)
{
    char *out = og_test_redis_cli(rs, "INFO memory");
    const char *p = out ? strstr(out, "used_memory:") : NULL;
    long long v = p ? atoll(p + 12) : -1;
    free(out);
    return v;
}

static long long dir_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    long long n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        char *p = og_sprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (e->d_name[0] != '.' && stat(p, &st) == 0)
            n += st.st_size;
        free(p);
    }
    if (d)
        closedir(d);
    return n;
}

static struct og_test_s3rver s3srv;

/* s3rver on 127.0.0.1 with its objects in dir/s3 and bucket "bench"
 * (og_test_s3rver_start); its endpoint into ep, or -1. */
static int s3rver_start(const char *dir, char ep[64])
{
    if (og_test_s3rver_start(&s3srv, dir, "bench") != 0)
        return -1;
    snprintf(ep, 64, "%s", s3srv.endpoint);
    return 0;
}

static void s3rver_stop(void)
{
    og_test_s3rver_stop(&s3srv);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    int per = argc > 2 ? atoi(argv[2]) : 3;
    int batch = argc > 3 ? atoi(argv[3]) : 100;
    int s3 = argc > 4 && strcmp(argv[4], "s3") == 0;
    if (n < 1 || per < 1 || batch < 1 || (argc > 4 && !s3 && strcmp(argv[4], "files") != 0)) {
        fprintf(stderr,
                "usage: bench_archive [sessions] [messages per session] [batch] [files|s3]\n");
        return 2;
    }
    struct og_test_redis rs;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    struct og_core *c = og_test_core_new(&rs, "og", 4);
    char *tmp = og_test_tmpdir();
    char *adir = og_sprintf("%s/archive", tmp);
    char **sids = og_calloc((size_t)n, sizeof *sids);
    struct og_media_s3 *bucket = NULL;
    if (s3) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        char ep[64], err[320];
        struct og_media_s3_opts so = {
            .endpoint = ep, .bucket = "bench", .access_key = "S3RVER", .secret_key = "S3RVER"};
        if (s3rver_start(tmp, ep) != 0 || !(bucket = og_media_s3_open(&so, err, sizeof err))) {
            fprintf(stderr, "s3rver did not start (npm ci in tests/s3; node in $OG_NODE)\n");
            s3rver_stop();
            return 1;
        }
    }
    /* archiving on from the start (closes record when they are due), as in
     * a deployment that has it configured */
    struct og_archive_opts ao = {
        .dir = adir, .s3 = bucket, .after_ms = 86400000LL * 365, .batch = batch};
    og_archive_configure(c, &ao);
    struct og_archive_pass p0;
    og_archive_step(c, &p0);
    long long m0 = used_memory(&rs);
    double t0 = now_s();
    struct og_viewer admin = {.role = OG_ROLE_ADMIN, .agent_id = ""};
    for (int i = 0; i < n; i++) {
        char from[32], dedup[48], text[128], raw[200];
        snprintf(from, sizeof from, "user%d", i);
        struct og_ingest_result res;
        for (int k = 0; k < per; k++) {
            snprintf(dedup, sizeof dedup, "d-%d-%d", i, k);
            snprintf(text, sizeof text,
                     "Hello, this is message %d of customer %d asking about the order they "
                     "placed last week",
                     k, i);
            snprintf(raw, sizeof raw, "{\"update_id\":%d%d,\"text\":\"%s\"}", i, k, text);
            struct og_inbound m = {.struct_size = sizeof m,
                                   .dedup_key = dedup,
                                   .provider_message_id = dedup,
                                   .kind = OG_KIND_TEXT,
                                   .text = text,
                                   .raw = raw,
                                   .raw_len = strlen(raw)};
            m.from.external_id = from;
            m.from.name = "Bench Customer";
            if (og_core_ingest(c, &chan, &m, &res) != OG_OK) {
                fprintf(stderr, "ingest failed\n");
                return 1;
            }
        }
        sids[i] = og_strdup(res.session_id);
        struct og_routing_result rr;
        og_routing_close(c, &admin, sids[i], "solved", NULL, 0, &rr);
        if (rr.err != OG_OK) {
            fprintf(stderr, "close failed: %s\n", rr.message);
            return 1;
        }
        og_routing_result_free(&rr);
    }
    double t_seed = now_s() - t0;
    long long m1e = used_memory(&rs);
    /* the event stream is #22.2's to bound: measured apart */
    free(og_test_redis_cli(&rs, "DEL {og}:events"));
    long long m1 = used_memory(&rs);
    usleep(20000);

    ao.after_ms = 1;
    og_archive_configure(c, &ao);
    int archived = 0;
    t0 = now_s();
    for (int guard = 0; archived < n && guard < 10 * n; guard++) {
        struct og_archive_pass p;
        if (og_archive_step(c, &p) != OG_OK) {
            fprintf(stderr, "archive step failed\n");
            return 1;
        }
        archived += p.archived;
        if (p.archived == 0 && p.superseded == 0)
            break;
    }
    double t_arch = now_s() - t0;
    long long m2 = used_memory(&rs);
    /* what is left, key by key, for the first session */
    char *lq = og_sprintf("HGET {og}:arch:loc %s", sids[0]);
    char *loc = og_test_redis_cli(&rs, lq);
    free(lq);
    char cid[64] = ""; /* the index entry's fourth field */
    sscanf(loc, "%*[^\t]\t%*[^\t]\t%*[^\t]\t%63[^\t]", cid);
    free(loc);
    char *q[5];
    q[0] = og_sprintf("MEMORY USAGE {og}:con:%s", cid);
    q[1] = og_sprintf("MEMORY USAGE {og}:contact:demo:user0");
    q[2] = og_sprintf("MEMORY USAGE {og}:thread:demo:user0");
    q[3] = og_sprintf("MEMORY USAGE {og}:arch:loc");
    q[4] = og_sprintf("MEMORY USAGE {og}:idx:all");
    long long mu[5];
    for (int i = 0; i < 5; i++) {
        char *o = og_test_redis_cli(&rs, q[i]);
        mu[i] = atoll(o);
        free(o), free(q[i]);
    }
    char *bdir = og_sprintf("%s/s3/bench/archive", tmp);
    long long seg = dir_bytes(s3 ? bdir : adir); /* s3rver's files: the objects' bytes */
    free(bdir);

    /* one archived session's read, as GET /api/v1/sessions/{id} does it */
    int nread = n < 2000 ? n : 2000;
    t0 = now_s();
    for (int i = 0; i < nread; i++) {
        char *j = NULL;
        if (og_archive_session_get(c, &admin, sids[n - 1 - i], &j) != OG_OK) {
            fprintf(stderr, "read failed\n");
            return 1;
        }
        free(j);
    }
    double t_read = now_s() - t0;

    /* restore: the first customer message's extra cost */
    int nr = n < 2000 ? n : 2000;
    t0 = now_s();
    for (int i = 0; i < nr; i++)
        if (og_archive_restore(c, sids[i]) != OG_OK) {
            fprintf(stderr, "restore failed\n");
            return 1;
        }
    double t_rest = now_s() - t0;
    long long m3 = used_memory(&rs);

    printf("bench_archive: %d sessions x %d customer messages (~90-byte texts), batch %d, %s\n", n,
           per, batch, s3 ? "objects in s3rver (retention.store s3)" : "segment files");
    printf("  seeded through ingest + close in %.1f s; Redis used_memory %.0f bytes/session "
           "with its events, %.0f without (the stream is then deleted)\n",
           t_seed, (double)(m1e - m0) / n, (double)(m1 - m0) / n);
    printf("  archived %d sessions in %.2f s: %.0f sessions/s\n", archived, t_arch,
           archived / t_arch);
    printf("  Redis memory freed: %.0f bytes/session; left per archived session (index entry, "
           "thread key, contact): %.0f bytes\n",
           (double)(m1 - m2) / n, (double)(m2 - m0) / n);
    printf("    of which the contact %lld + its key %lld (kept live; no key when its thread "
           "finds it), the thread key %lld (0 since #22: a field of a bucket hash), the index "
           "entry %.0f, idx:all %.0f (MEMORY USAGE)\n",
           mu[0], mu[1], mu[2], (double)mu[3] / n, (double)mu[4] / n);
    printf("  %s: %.0f bytes/session (zlib)\n", s3 ? "objects" : "segment files", (double)seg / n);
    printf("  read %d archived sessions (og_archive_session_get, %s) in %.2f s: %.0f us/read\n",
           nread, s3 ? "one ranged GET each" : "one pread each", t_read, 1e6 * t_read / nread);
    printf("  restored %d sessions in %.2f s: %.0f sessions/s (%.0f bytes/session back in "
           "Redis)\n",
           nr, t_rest, nr / t_rest, (double)(m3 - m2) / nr);
    for (int i = 0; i < n; i++)
        free(sids[i]);
    free(sids);
    og_core_free(c);
    og_media_s3_close(bucket);
    s3rver_stop();
    og_test_redis_stop(&rs);
    og_test_rmdir(tmp);
    free(tmp), free(adir);
    return archived == n ? 0 : 1;
}
