/* test_redis_arena - a held pipeline's replies read into an arena
 * (og_redis.h, #22) against a real redis-server: every kind of reply
 * (status, error, integer, nil, string, arrays nested in an EXEC's reply,
 * an empty array, a string larger than a chunk) reads as hiredis's own
 * functions read it, over many chunks, again after a reset; the
 * connections read with hiredis's functions again afterwards, also after a
 * failed read (Redis closing the connection mid-pipeline): the replies of
 * og_redis_argv and og_redis_pipeline are freed with freeReplyObject, which
 * fails on a reply still from the arena. og_redis_reply_strings makes an
 * array reply of strings. */
#include "og_redis.h"
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

static int is_str(const redisReply *r, int type, const char *s)
{
    return r && r->type == type && r->len == strlen(s) && memcmp(r->str, s, r->len) == 0 &&
           r->str[r->len] == '\0';
}

/* The same commands with and without an arena: the same replies. */
static void same_as_hiredis(struct og_redis *r, const char *big)
{
    const char *set[] = {"SET", "k:big", big};
    const char *hset[] = {"HSET", "k:h", "a", "1", "b", "two", "c", ""};
    const char *multi[] = {"MULTI"};
    const char *hgetall[] = {"HGETALL", "k:h"};
    const char *incr[] = {"INCR", "k:n"};
    const char *get_nil[] = {"GET", "k:none"};
    const char *get_big[] = {"GET", "k:big"};
    const char *lrange[] = {"LRANGE", "k:none", "0", "-1"};
    const char *bad[] = {"HGET", "k:big", "a"}; /* WRONGTYPE: an error inside EXEC */
    const char *exec[] = {"EXEC"};
    const char *unknown[] = {"NOSUCHCOMMAND"};
    const char *const *argv[] = {set,     hset,   multi, hgetall, incr,    get_nil,
                                 get_big, lrange, bad,   exec,    unknown, hgetall};
    const int argc[] = {3, 8, 1, 2, 2, 2, 2, 4, 3, 1, 1, 2};
    enum { N = sizeof argc / sizeof *argc };
    struct og_redis_arena *a = og_redis_arena_new();
    for (int round = 0; round < 3; round++) {
        redisReply *x[N], *y[N];
        int h = og_redis_hold(r);
        CHECK(h >= 0);
        CHECK_INT(og_redis_held_pipeline(r, h, NULL, N, argc, argv, NULL, x), OG_OK);
        CHECK_INT(og_redis_held_pipeline(r, h, a, N, argc, argv, NULL, y), OG_OK);
        og_redis_unhold(r, h, 0);
        CHECK(is_str(y[0], REDIS_REPLY_STATUS, "OK"));
        CHECK(y[1]->type == REDIS_REPLY_INTEGER && y[1]->integer == 0); /* x's HSET set them */
        CHECK(is_str(y[2], REDIS_REPLY_STATUS, "OK"));
        for (int i = 3; i < 9; i++)
            CHECK(is_str(y[i], REDIS_REPLY_STATUS, "QUEUED"));
        const redisReply *ex = y[9], *ex0 = x[9];
        CHECK(ex->type == REDIS_REPLY_ARRAY && ex->elements == 6);
        CHECK(ex0->type == REDIS_REPLY_ARRAY && ex0->elements == 6);
        if (ex->elements == 6 && ex0->elements == 6) {
            const redisReply *hg = ex->element[0];
            CHECK(hg->type == REDIS_REPLY_ARRAY && hg->elements == 6);
            for (size_t i = 0; i < hg->elements && i < 6; i++)
                CHECK(is_str(hg->element[i], REDIS_REPLY_STRING, ex0->element[0]->element[i]->str));
            CHECK(ex->element[1]->type == REDIS_REPLY_INTEGER &&
                  ex->element[1]->integer == ex0->element[1]->integer + 1);
            CHECK(ex->element[2]->type == REDIS_REPLY_NIL);
            CHECK(is_str(ex->element[3], REDIS_REPLY_STRING, big));
            CHECK(ex->element[4]->type == REDIS_REPLY_ARRAY && ex->element[4]->elements == 0);
            CHECK(ex->element[5]->type == REDIS_REPLY_ERROR &&
                  strncmp(ex->element[5]->str, "WRONGTYPE", 9) == 0);
        }
        CHECK(is_str(y[10], REDIS_REPLY_ERROR, x[10]->str));
        CHECK(y[11]->type == REDIS_REPLY_ARRAY && y[11]->elements == 6);
        CHECK(is_str(y[11]->element[3], REDIS_REPLY_STRING, "two"));
        CHECK(is_str(y[11]->element[5], REDIS_REPLY_STRING, ""));
        for (int i = 0; i < N; i++)
            freeReplyObject(x[i]); /* hiredis's own, as before */
        og_redis_arena_reset(a);
    }
    og_redis_arena_free(a);
}

/* Thousands of replies in one arena (many chunks), each still intact when
 * the last is read. */
static void many(struct og_redis *r)
{
    enum { N = 3000 };
    static const char *argv_s[N][3];
    static char keys[N][16];
    const char *const *argv[N];
    int argc[N];
    redisReply *rep[N];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k:m%d", i);
        argv_s[i][0] = "ECHO", argv_s[i][1] = keys[i];
        argv[i] = argv_s[i], argc[i] = 2;
    }
    struct og_redis_arena *a = og_redis_arena_new();
    int h = og_redis_hold(r);
    CHECK(h >= 0);
    CHECK_INT(og_redis_held_pipeline(r, h, a, N, argc, argv, NULL, rep), OG_OK);
    og_redis_unhold(r, h, 0);
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += !is_str(rep[i], REDIS_REPLY_STRING, keys[i]);
    CHECK_INT(bad, 0);
    og_redis_arena_free(a);
}

/* After arena reads, also one that failed, the pool's connections read
 * with hiredis's functions: their replies are freeReplyObject's. */
static void restored(struct og_redis *r)
{
    const char *ping[] = {"PING"};
    const char *const *argv[] = {ping};
    int argc[] = {1};
    redisReply *rep[1];
    struct og_redis_arena *a = og_redis_arena_new();
    int h = og_redis_hold(r);
    CHECK(h >= 0);
    CHECK_INT(og_redis_held_pipeline(r, h, a, 1, argc, argv, NULL, rep), OG_OK);
    CHECK(is_str(rep[0], REDIS_REPLY_STATUS, "PONG"));
    /* Redis closes the connection mid-pipeline (QUIT): the read fails,
     * and the replies read before are dropped with the arena */
    const char *quit[] = {"QUIT"};
    const char *const *argv3[] = {ping, quit, ping};
    int argc3[] = {1, 1, 1};
    redisReply *rep3[3];
    CHECK_INT(og_redis_held_pipeline(r, h, a, 3, argc3, argv3, NULL, rep3), OG_ERR_UNAVAILABLE);
    CHECK(rep3[0] == NULL && rep3[1] == NULL && rep3[2] == NULL);
    og_redis_unhold(r, h, 1);
    og_redis_arena_free(a);
    for (int i = 0; i < 4; i++) {
        redisReply *x = NULL;
        const char *get[] = {"ECHO", "hiredis"};
        og_err e = og_redis_argv(r, 2, get, NULL, &x);
        CHECK_INT(e, OG_OK);
        CHECK(is_str(x, REDIS_REPLY_STRING, "hiredis"));
        if (x)
            freeReplyObject(x);
        redisReply *p[1];
        CHECK_INT(og_redis_pipeline(r, 1, argc, argv, p), OG_OK);
        CHECK(is_str(p[0], REDIS_REPLY_STATUS, "PONG"));
        if (p[0])
            freeReplyObject(p[0]);
    }
}

/* og_redis_reply_strings: an array of the strings as Redis sends one,
 * hiredis's own (freeReplyObject). */
static void reply_strings(void)
{
    const char *v[] = {"ok", "ses_1", "", "0"};
    redisReply *r = og_redis_reply_strings(4, v);
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 4);
    for (size_t i = 0; r && i < r->elements && i < 4; i++)
        CHECK(is_str(r->element[i], REDIS_REPLY_STRING, v[i]));
    if (r)
        freeReplyObject(r);
}

int main(void)
{
    reply_strings();
    struct og_test_redis rs;
    if (og_test_redis_start_with(&rs, "--appendonly no") != 0)
        return 1;
    struct og_redis_opts ro = {.url = rs.url, .pool_size = 2};
    char err[128];
    struct og_redis *r = og_redis_new(&ro, err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        size_t n = 100 * 1024; /* larger than a chunk */
        char *big = og_malloc(n + 1);
        for (size_t i = 0; i < n; i++)
            big[i] = (char)('a' + i % 26);
        big[n] = '\0';
        same_as_hiredis(r, big);
        free(big);
        many(r);
        restored(r);
        og_redis_free(r);
    }
    og_test_redis_stop(&rs);
    return og_test_done();
}
