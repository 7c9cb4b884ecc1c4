/* test_archive - the session archive (retention.archive_after_days, #22.3)
 * through the running daemon on a real redis-server, on the test clock
 * (OMNIGATE_TEST_CLOCK), with retention.archive_after_days 30 and
 * delete_after_days 60:
 *   day 0: c1 and c2 each write twice, Ann takes and answers both, they
 *          are closed; c3 writes and stays open.
 *   day 20: the routing worker has marked both "archived" (still in
 *          Redis); the session, its messages, its timeline, GET /stats and
 *          the Conversations export are read.
 *   day 31: the housekeeping worker moves both to data_dir/archive: their
 *          keys are gone from Redis, the API answers the same JSON as on day
 *          20 (status archived), GET /stats and the export are identical,
 *          the segment holds no plain text; an agent who never had them
 *          gets 404; c3 is untouched; `omnigate stats rebuild` counts the
 *          archived sessions from their records (GET /stats unchanged).
 *   day 32: c1 writes again: the same session, reopened, with its history
 *          back in Redis (same ids, in order) and the new message last.
 *   day 62: c2's segment is past delete_after_days: the file and the
 *          session are gone (404, not in the export), c2's next message
 *          starts a new session; the statistics still count the old one.
 *   day 93: c5 and c6 (day 62) are archived into one segment; c7 is live.
 *          DELETE /contacts/{id} erases c5 (archived) and c7 (live): 204,
 *          then 404 for the contacts and their sessions, absent from the
 *          export, no Redis key names any of their ids, no event in the
 *          stream carries them, the segment was rewritten without c5's
 *          record (no file holds its id or, inflated, its text), its
 *          attachment's file in the media store is gone, and c6 (and its
 *          file) still reads back whole. Only an admin may erase. c6,
 *          reopened and then erased, leaves no record in any segment (the
 *          superseded one of its restore included). */
#include "og_archive.h"
#include "og_test.h"
#include "og_util.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"

static struct og_test_redis rs;
static struct og_test_daemon d;
static struct og_fake *plat;
static char clock_path[512];
static char ann[48], ann_tok[80], bob[48], bob_tok[80];

#define D_MS 1907625600000LL /* 2030-06-14 00:00 UTC */
static int64_t T(int day, int h, int m)
{
    return D_MS + (int64_t)day * 86400000 + ((int64_t)h * 3600 + m * 60) * 1000;
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

static char *get(const char *token, const char *path, long *status)
{
    char *url = og_sprintf("%s/api/v1%s", d.base, path);
    char *h = og_sprintf("Authorization: Bearer %s", token ? token : OG_TEST_ADMIN_TOKEN);
    struct og_test_resp r = og_test_http("GET", url, h, NULL, 0);
    *status = r.status;
    free(url), free(h);
    return r.body;
}

static long call(const char *token, const char *method, const char *path, const char *body)
{
    char *url = og_sprintf("%s/api/v1%s", d.base, path);
    char *h = og_sprintf("Authorization: Bearer %s\nContent-Type: application/json",
                         token ? token : OG_TEST_ADMIN_TOKEN);
    struct og_test_resp r = og_test_http(method, url, h, body, body ? strlen(body) : 0);
    if (r.status >= 300)
        fprintf(stderr, "  %s %s: %ld %s\n", method, path, r.status, r.body);
    free(url), free(h), free(r.body);
    return r.status;
}

static long redis_int(const char *fmt, const char *a)
{
    char *s = og_test_redis_line(&rs, fmt, a);
    long v = atol(s);
    free(s);
    return v;
}

/* extra: more members of the message object ("" for none) */
static void customer_with(int64_t ms, const char *user, const char *text, const char *extra,
                          char *sid)
{
    static int n;
    clock_set(ms);
    char *b = og_sprintf("{\"id\":\"evt-%s-%d\",\"from\":{\"id\":\"%s\",\"name\":\"Name %s\"},"
                         "\"text\":\"%s\"%s}",
                         user, ++n, user, user, text, extra);
    CHECK_INT(og_test_post_signed(&d, "demo", SECRET, b, strlen(b)), 200);
    free(b);
    if (sid) {
        char *s = og_test_redis_line(&rs, OG_TEST_BUCKET("HGET") "{og}:th:demo: %s", user);
        snprintf(sid, 48, "%s", s);
        free(s);
    }
}

static void customer(int64_t ms, const char *user, const char *text, char *sid)
{
    customer_with(ms, user, text, "", sid);
}

/* A file in the media store (og_media.h), as a first read of an attachment
 * leaves it; 1 when it is there. */
static void media_put(const char *key)
{
    char *p = og_sprintf("%s/data/media/%s", d.dir, key);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs("stored attachment bytes", f);
        fclose(f);
    }
    free(p);
}
static int media_has(const char *key)
{
    char *p = og_sprintf("%s/data/media/%s", d.dir, key);
    int ok = access(p, F_OK) == 0;
    free(p);
    return ok;
}

static void agent(const char *body, char *id, char *tok)
{
    char *url = og_sprintf("%s/api/v1/agents", d.base);
    struct og_test_resp r = og_test_http("POST", url,
                                         "Authorization: Bearer " OG_TEST_ADMIN_TOKEN
                                         "\nContent-Type: application/json",
                                         body, strlen(body));
    CHECK_INT(r.status, 201);
    json_object *j = json_tokener_parse(r.body), *a, *v;
    json_object_object_get_ex(j, "agent", &a);
    json_object_object_get_ex(a, "id", &v);
    snprintf(id, 48, "%s", json_object_get_string(v));
    json_object_object_get_ex(j, "token", &v);
    snprintf(tok, 80, "%s", json_object_get_string(v));
    json_object_put(j);
    free(url), free(r.body);
}

/* Waits (up to 10 s) until cmd's answer is want. */
static int wait_redis(const char *cmd, const char *a, const char *want)
{
    for (int i = 0; i < 500; i++) {
        char *s = og_test_redis_line(&rs, cmd, a);
        int ok = strcmp(s, want) == 0;
        free(s);
        if (ok)
            return 1;
        usleep(20000);
    }
    return 0;
}

/* What the API and the statistics show of a session, for comparison. */
struct view {
    char *session, *messages, *timeline, *stats, *csv;
};

static void view_read(const char *sid, struct view *v)
{
    long st;
    char path[160];
    snprintf(path, sizeof path, "/sessions/%s", sid);
    v->session = get(NULL, path, &st);
    CHECK_INT(st, 200);
    snprintf(path, sizeof path, "/sessions/%s/messages?limit=100", sid);
    v->messages = get(NULL, path, &st);
    CHECK_INT(st, 200);
    snprintf(path, sizeof path, "/sessions/%s/timeline?limit=100", sid);
    v->timeline = get(NULL, path, &st);
    CHECK_INT(st, 200);
    v->stats = get(NULL, "/stats?from=2030-06-14&to=2030-06-14", &st);
    CHECK_INT(st, 200);
    v->csv = get(NULL, "/exports/conversations?from=2030-06-14&to=2030-06-14", &st);
    CHECK_INT(st, 200);
}

static void view_free(struct view *v)
{
    free(v->session), free(v->messages), free(v->timeline), free(v->stats), free(v->csv);
}

/* The segment files in data_dir/archive, concatenated [xfer]; *n files. */
static char *segments(int *n, size_t *len)
{
    char *dir = og_sprintf("%s/data/archive", d.dir);
    DIR *dp = opendir(dir);
    struct og_buf b = {0};
    *n = 0;
    for (struct dirent *e; dp && (e = readdir(dp));) {
        if (!strstr(e->d_name, ".ogs"))
            continue;
        char *p = og_sprintf("%s/%s", dir, e->d_name);
        size_t l = 0;
        char *c = og_test_read_file(p, &l);
        if (c)
            og_buf_append(&b, c, l);
        free(c), free(p);
        (*n)++;
    }
    if (dp)
        closedir(dp);
    free(dir);
    *len = b.len;
    og_buf_append(&b, "", 1);
    return b.data;
}

static int has_bytes(const char *hay, size_t n, const char *needle)
{
    return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* A counter's value in /metrics, -1 when absent. */
static long long metric(const char *name)
{
    char *url = og_sprintf("%s/metrics", d.base);
    struct og_test_resp r = og_test_http("GET", url, NULL, NULL, 0);
    free(url);
    char *line = og_sprintf("\n%s ", name);
    const char *p = strstr(r.body, line);
    long long v = p ? atoll(p + strlen(line)) : -1;
    free(line), free(r.body);
    return v;
}

static char s1[48], s2[48], s3[48];

static void test_archive(void)
{
    clock_set(T(-1, 20, 0));
    agent("{\"name\":\"Ann\",\"email\":\"ann@o.io\",\"groups\":[\"desk\"]}", ann, ann_tok);
    agent("{\"name\":\"Bob\",\"email\":\"bob@o.io\",\"groups\":[\"desk\"]}", bob, bob_tok);
    clock_set(T(0, 8, 0));
    char pp[128];
    snprintf(pp, sizeof pp, "/agents/%s/presence", ann);
    CHECK_INT(call(ann_tok, "PUT", pp, "{\"status\":\"online\"}"), 200);
    const char *who[2] = {"c1", "c2"};
    char *sids[2] = {s1, s2};
    for (int i = 0; i < 2; i++) {
        char path[128];
        customer(T(0, 9 + i, 0), who[i], i ? "parrot quokka one" : "zebra walrus one", sids[i]);
        clock_set(T(0, 9 + i, 1));
        snprintf(path, sizeof path, "/sessions/%s/assign", sids[i]);
        CHECK_INT(call(ann_tok, "POST", path, NULL), 200);
        snprintf(path, sizeof path, "/sessions/%s/messages", sids[i]);
        CHECK_INT(call(ann_tok, "POST", path, "{\"text\":\"agent answer\"}"), 202);
        customer(T(0, 9 + i, 3), who[i], i ? "parrot quokka two" : "zebra walrus two", NULL);
        clock_set(T(0, 9 + i, 5));
        snprintf(path, sizeof path, "/sessions/%s/close", sids[i]);
        CHECK_INT(call(ann_tok, "POST", path, "{\"reason\":\"solved\"}"), 200);
    }
    customer(T(0, 12, 0), "c3", "still open", s3);
    CHECK(strcmp(s1, s2) != 0 && *s1 && *s2);

    /* day 20: marked archived by the routing worker, still in Redis */
    clock_set(T(20, 0, 0));
    CHECK(wait_redis("HGET {og}:ses:%s status", s1, "archived"));
    CHECK(wait_redis("HGET {og}:ses:%s status", s2, "archived"));
    struct view before;
    view_read(s1, &before);
    CHECK(strstr(before.messages, "zebra walrus two") != NULL);
    CHECK(strstr(before.csv, s1) && strstr(before.csv, s2));
    CHECK_INT(redis_int("HEXISTS {og}:arch:loc %s", s1), 0);

    /* day 31: out of Redis */
    clock_set(T(31, 0, 0));
    CHECK(wait_redis("HEXISTS {og}:arch:loc %s", s1, "1"));
    CHECK(wait_redis("HEXISTS {og}:arch:loc %s", s2, "1"));
    CHECK_INT(redis_int("EXISTS {og}:ses:%s", s1), 0);
    char key[96];
    snprintf(key, sizeof key, "{og}:ses:%s:msgs", s1);
    CHECK_INT(redis_int("EXISTS %s", key), 0);
    snprintf(key, sizeof key, "{og}:ses:%s:tl", s1);
    CHECK_INT(redis_int("EXISTS %s", key), 0);
    CHECK_INT(redis_int("ZCARD {og}:idx:st:archived%s", ""), 0);
    CHECK_INT(redis_int("EXISTS {og}:ses:%s", s3), 1);
    struct view after;
    view_read(s1, &after);
    long st0;
    CHECK_STR(after.session, before.session);
    CHECK_STR(after.messages, before.messages);
    CHECK_STR(after.timeline, before.timeline);
    CHECK_STR(after.stats, before.stats);
    CHECK_STR(after.csv, before.csv);
    CHECK(strstr(after.session, "\"status\":\"archived\"") != NULL);
    CHECK_INT(metric("omnigate_archive_sessions_total"), 2);
    CHECK_INT(metric("omnigate_archive_restored_total"), 0);
    /* a rebuild of the statistics counts the archived sessions from their records */
    char *cmd = og_sprintf("%s/bin/omnigate --config %s stats rebuild > %s/rebuild.out 2>&1",
                           OG_BINARY_DIR, d.config_path, d.dir);
    CHECK_INT(system(cmd), 0);
    free(cmd);
    char *rb = get(NULL, "/stats?from=2030-06-14&to=2030-06-14", &st0);
    CHECK_STR(rb, before.stats);
    free(rb);
    long st;
    char path[160];
    snprintf(path, sizeof path, "/sessions/%s", s1);
    free(get(bob_tok, path, &st));
    CHECK_INT(st, 404); /* not Bob's, and not in a queue */
    free(get(ann_tok, path, &st));
    CHECK_INT(st, 200); /* Ann had it */
    snprintf(path, sizeof path, "/sessions/%s/messages?limit=1", s1);
    char *page = get(NULL, path, &st);
    CHECK(strstr(page, "zebra walrus one") && !strstr(page, "agent answer") &&
          strstr(page, "\"next_cursor\":\"msg_"));
    free(page);
    int nseg;
    size_t slen;
    char *seg = segments(&nseg, &slen);
    CHECK_INT(nseg, 1);
    CHECK(slen > 100 && !has_bytes(seg, slen, "zebra walrus") && has_bytes(seg, slen, s1));
    free(seg);

    /* day 32: c1 writes again, the session comes back with its history */
    customer(T(32, 9, 0), "c1", "zebra walrus three", NULL);
    char *again = og_test_redis_line(&rs, OG_TEST_BUCKET("HGET") "{og}:th:demo: %s", "c1");
    CHECK_STR(again, s1);
    free(again);
    CHECK_INT(redis_int("HEXISTS {og}:arch:loc %s", s1), 0);
    char *status = og_test_redis_line(&rs, "HGET {og}:ses:%s status", s1);
    CHECK_STR(status, "new");
    free(status);
    snprintf(path, sizeof path, "/sessions/%s/messages?limit=100", s1);
    char *msgs = get(NULL, path, &st);
    CHECK_INT(st, 200);
    /* the old page, then the new message */
    size_t old = strlen(before.messages) - strlen("],\"next_cursor\":null}");
    CHECK(strncmp(msgs, before.messages, old) == 0);
    CHECK(strstr(msgs + old, "zebra walrus three") != NULL);
    json_object *mj = json_tokener_parse(msgs), *items;
    json_object_object_get_ex(mj, "items", &items);
    CHECK_INT(json_object_array_length(items), 4);
    json_object_put(mj);
    free(msgs);
    snprintf(path, sizeof path, "/sessions/%s/timeline?limit=100", s1);
    char *tl = get(NULL, path, &st);
    CHECK(strstr(tl, "\"kind\":\"reopened\"") && strstr(tl, "\"kind\":\"archived\""));
    free(tl);
    char *stats = get(NULL, "/stats?from=2030-06-14&to=2030-06-14", &st);
    CHECK_STR(stats, before.stats);
    free(stats);

    /* day 62: c2's segment is past delete_after_days */
    clock_set(T(62, 0, 0));
    CHECK(wait_redis("HEXISTS {og}:arch:loc %s", s2, "0"));
    CHECK(wait_redis("HLEN {og}:arch:segs%s", "", "0"));
    seg = segments(&nseg, &slen);
    CHECK_INT(nseg, 0);
    free(seg);
    snprintf(path, sizeof path, "/sessions/%s", s2);
    free(get(NULL, path, &st));
    CHECK_INT(st, 404);
    char *csv = get(NULL, "/exports/conversations?from=2030-06-14&to=2030-06-14", &st);
    CHECK(strstr(csv, s1) != NULL && strstr(csv, s2) == NULL);
    free(csv);
    CHECK_INT(redis_int(OG_TEST_BUCKET("HEXISTS") "{og}:th:demo: %s", "c2"), 0);
    char s2b[48];
    customer(T(62, 9, 0), "c2", "hello anew", s2b);
    CHECK(*s2b && strcmp(s2b, s2) != 0);
    /* ... by the same contact: dropping its own thread's session left the
     * contact findable by its external id (P:contact, contact_of) */
    char *cid2 = og_test_redis_cli(&rs, "GET {og}:contact:demo:c2");
    char q[160];
    snprintf(q, sizeof q, "HGET {og}:ses:%s contact_id", s2b);
    char *cid2b = og_test_redis_cli(&rs, q);
    CHECK(cid2 && cid2b && strncmp(cid2, "con_", 4) == 0);
    CHECK_STR(cid2b, cid2);
    free(cid2), free(cid2b);
    /* the statistics of day 0 still count both sessions */
    stats = get(NULL, "/stats?from=2030-06-14&to=2030-06-14", &st);
    CHECK_STR(stats, before.stats);
    free(stats);
    view_free(&before);
    view_free(&after);
}

/* Every record of every segment, inflated, concatenated [xfer]. */
struct inflated {
    struct og_buf b;
};
static int add_json(void *ud, size_t off, size_t rlen, const char *sid, const char *json, size_t jl)
{
    (void)off, (void)rlen;
    struct inflated *x = ud;
    og_buf_puts(&x->b, sid);
    og_buf_append(&x->b, json, jl);
    return 0;
}
static char *inflate_all(void)
{
    int n;
    size_t len;
    char *raw = segments(&n, &len);
    struct inflated x = {{0}};
    og_archive_scan((const unsigned char *)raw, len, add_json, &x);
    og_buf_append(&x.b, raw, len); /* and the bytes as they are */
    og_buf_append(&x.b, "", 1);
    free(raw);
    return x.b.data;
}

/* A customer's contact id, through its own thread's session (live here): a
 * contact that began in its own thread has no P:contact key (contact_of in
 * prelude.lua). */
static void contact_of(const char *user, char *cid)
{
    char *sid = og_test_redis_line(&rs, OG_TEST_BUCKET("HGET") "{og}:th:demo: %s", user);
    char *s = og_test_redis_line(&rs, "HGET {og}:ses:%s contact_id", sid);
    snprintf(cid, 48, "%s", s);
    free(s);
    free(sid);
}

/* A session's first message id: field m0 of a session of one message, or
 * the first of its zset (prelude.lua msgs_add). */
static char *first_mid(const char *sid)
{
    char *m = og_test_redis_line(&rs, "HGET {og}:ses:%s m0", sid);
    if (m && *m)
        return m;
    free(m);
    return og_test_redis_line(&rs, "ZRANGE {og}:ses:%s:msgs 0 0", sid);
}

static long del(const char *token, const char *path)
{
    return call(token, "DELETE", path, NULL);
}

static void test_erasure(void)
{
    char s5[48], s6[48], s7[48], c5[48], c6[48], c7[48], path[160];
    customer_with(T(62, 10, 0), "c5", "mango erasure one",
                  ",\"attachments\":[{\"url\":\"http://127.0.0.1:9/a.png\"}]", s5);
    customer_with(T(62, 10, 1), "c6", "lychee kept one",
                  ",\"attachments\":[{\"url\":\"http://127.0.0.1:9/b.png\"}]", s6);
    contact_of("c5", c5);
    contact_of("c6", c6);
    char *mid5 = first_mid(s5);
    char *mid6 = first_mid(s6);
    CHECK(mid5 && strncmp(mid5, "msg_", 4) == 0 && mid6 && strncmp(mid6, "msg_", 4) == 0);
    char key5[96], key6[96];
    snprintf(key5, sizeof key5, "%s.0", mid5);
    snprintf(key6, sizeof key6, "%s.0", mid6);
    media_put(key5);
    media_put(key6);
    CHECK(media_has(key5) && media_has(key6));
    for (int i = 0; i < 2; i++) {
        clock_set(T(62, 11, i));
        snprintf(path, sizeof path, "/sessions/%s/close", i ? s6 : s5);
        CHECK_INT(call(NULL, "POST", path, "{\"reason\":\"solved\"}"), 200);
    }
    clock_set(T(93, 0, 0));
    CHECK(wait_redis("HEXISTS {og}:arch:loc %s", s5, "1"));
    CHECK(wait_redis("HEXISTS {og}:arch:loc %s", s6, "1"));
    customer(T(93, 1, 0), "c7", "papaya live text", s7);
    contact_of("c7", c7);
    customer(T(93, 1, 0), "c8", "guava other text", NULL);
    char *ev = og_test_redis_cli(&rs, "XRANGE {og}:events - +");
    CHECK(strstr(ev, "papaya live text") && strstr(ev, s7) && strstr(ev, c7));
    free(ev);
    char *all = inflate_all();
    CHECK(strstr(all, "mango erasure one") && strstr(all, s5) && strstr(all, "lychee kept one"));
    free(all);

    /* only an admin erases */
    snprintf(path, sizeof path, "/contacts/%s", c5);
    CHECK_INT(del(ann_tok, path), 403);
    CHECK_INT(del(NULL, path), 204);
    CHECK_INT(del(NULL, path), 404);
    snprintf(path, sizeof path, "/contacts/%s", c7);
    CHECK_INT(del(NULL, path), 204);
    CHECK_INT(del(NULL, "/contacts/con_nonexistent"), 404);

    long st;
    const char *ids[] = {c5, s5, c7, s7, mid5};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, i % 2 ? "/sessions/%s" : "/contacts/%s", ids[i]);
        free(get(NULL, path, &st));
        CHECK_INT(st, 404);
    }
    char *csv = get(NULL, "/exports/conversations?from=2030-08-15&to=2030-09-15", &st);
    CHECK_INT(st, 200);
    CHECK(!strstr(csv, s5) && !strstr(csv, s7) && strstr(csv, s6));
    free(csv);
    char *keys = og_test_redis_cli(&rs, "--scan --pattern '*'");
    char *events = og_test_redis_cli(&rs, "XRANGE {og}:events - +");
    all = inflate_all();
    for (int i = 0; i < 5; i++) {
        CHECK(strstr(keys, ids[i]) == NULL);
        CHECK(strstr(events, ids[i]) == NULL);
        CHECK(strstr(all, ids[i]) == NULL);
        if (strstr(keys, ids[i]) || strstr(events, ids[i]) || strstr(all, ids[i]))
            fprintf(stderr, "  %s is still there\n", ids[i]);
    }
    CHECK(!strstr(events, "mango erasure") && !strstr(events, "papaya live"));
    CHECK(!strstr(all, "mango erasure") && strstr(all, "lychee kept one") && strstr(all, s6));
    CHECK(strstr(events, "guava other text") != NULL); /* others' events stay */
    free(keys), free(events), free(all), free(mid5);
    CHECK(!media_has(key5)); /* the erased contact's attachment file */
    CHECK(media_has(key6));
    free(mid6);
    /* c6 still reads back, from the rewritten segment */
    snprintf(path, sizeof path, "/sessions/%s/messages", s6);
    char *m6 = get(NULL, path, &st);
    CHECK_INT(st, 200);
    CHECK(strstr(m6, "lychee kept one") != NULL);
    free(m6);
    char *loc = og_test_redis_line(&rs, "HGET {og}:arch:loc %s", s6);
    CHECK(strstr(loc, "-r") != NULL);
    free(loc);
    CHECK_INT(redis_int("SCARD {og}:arch:rewrite%s", ""), 0);
    CHECK_INT(metric("omnigate_archive_sessions_total"), 4);
    CHECK_INT(metric("omnigate_archive_restored_total"), 1);
    CHECK_INT(metric("omnigate_archive_deleted_total"), 1);
    CHECK_INT(metric("omnigate_contacts_erased_total"), 2);

    /* a manager's reopen brings c6's session back, then reopens it */
    snprintf(path, sizeof path, "/sessions/%s/reopen", s6);
    CHECK_INT(call(NULL, "POST", path, NULL), 200);
    CHECK_INT(redis_int("HEXISTS {og}:arch:loc %s", s6), 0);
    char *st6 = og_test_redis_line(&rs, "HGET {og}:ses:%s status", s6);
    CHECK_STR(st6, "new");
    free(st6);
    snprintf(path, sizeof path, "/sessions/%s/messages", s6);
    m6 = get(NULL, path, &st);
    CHECK(st == 200 && strstr(m6, "lychee kept one"));
    free(m6);

    /* c6, live again, is erased: the record its restore left in the
     * rewritten segment (no index entry names it) goes with a rewrite */
    all = inflate_all();
    CHECK(strstr(all, "lychee kept one") && strstr(all, s6));
    free(all);
    snprintf(path, sizeof path, "/contacts/%s", c6);
    CHECK_INT(del(NULL, path), 204);
    all = inflate_all();
    CHECK(!strstr(all, "lychee kept one") && !strstr(all, s6));
    free(all);
    CHECK_INT(redis_int("HEXISTS {og}:arch:was %s", s6), 0);
}

int main(void)
{
    char *dir = og_sprintf("/tmp/og-archive-clock-%d", (int)getpid());
    snprintf(clock_path, sizeof clock_path, "%s", dir);
    free(dir);
    clock_set(T(-1, 20, 0));
    setenv("OMNIGATE_TEST_CLOCK", clock_path, 1);
    if (og_test_redis_start(&rs) != 0)
        return 1;
    plat = og_fake_start();
    char *channels = og_sprintf(
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"routing\":\"desk\",\"options\":"
        "{\"secret\":\"" SECRET "\",\"reply_url\":\"%s/r\"}}]",
        og_fake_base(plat));
    if (og_test_daemon_start(
            &d, rs.url, channels,
            "\"routing\":{\"desk\":{\"mode\":\"manual\",\"levels\":[{\"members\":"
            "[\"group:desk\"]}]}},"
            "\"retention\":{\"archive_after_days\":30,\"delete_after_days\":60}") != 0) {
        free(channels);
        og_fake_stop(plat);
        og_test_redis_stop(&rs);
        unlink(clock_path);
        return 1;
    }
    free(channels);
    test_archive();
    test_erasure();
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_fake_stop(plat);
    og_test_redis_stop(&rs);
    unlink(clock_path);
    return og_test_done();
}
