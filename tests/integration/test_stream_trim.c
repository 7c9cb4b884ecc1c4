/* test_stream_trim - og_stream_trim never removes what a consumer group
 * still owes (#14.3), against redis-server:
 *   - 3,000 events, a group that read none: nothing is trimmed;
 *   - the group reads 1,000 and acknowledges them, reads 500 more and keeps
 *     them pending: exactly the 1,000 acknowledged go, the pending ones and
 *     the unread ones stay;
 *   - a second group further behind holds the line for both;
 *   - past the bound (max 1,000 with 2,000 owed) the oldest owed go, down
 *     to 95 % of it, and the trim says how many and from which id, and
 *     counts them;
 *   - the same with a bound in bytes (MEMORY USAGE), in several rounds;
 *   - on the bound, a webhook subscription that loses events is marked
 *     lagging with the first lost event and the exact count (#22.2);
 *   - with no group, only the retain window stays (0: nothing). */
#include "og_core.h"
#include "og_stream.h"
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

static struct og_test_redis rs;
static struct og_core *core;

static long long cli_int(const char *cmd)
{
    char *o = og_test_redis_cli(&rs, cmd);
    long long v = o ? atoll(o) : -1;
    free(o);
    return v;
}

static void fill(int n)
{
    /* one round trip: a Lua loop */
    char *cmd = og_sprintf("EVAL \"for i=1,%d do redis.call('XADD','{t}:events','*','id',"
                           "'evt_'..i,'type','message.received','session','ses_1','event',"
                           "'{}') end\" 0",
                           n);
    free(og_test_redis_cli(&rs, cmd));
    free(cmd);
}

/* The id of the i-th entry (0-based), oldest first. [xfer] */
static char *nth_id(int i)
{
    char *cmd = og_sprintf("EVAL \"return redis.call('XRANGE','{t}:events','-','+','COUNT',"
                           "%d)[%d][1]\" 0",
                           i + 1, i + 1);
    char *o = og_test_redis_cli(&rs, cmd);
    free(cmd);
    if (o)
        o[strcspn(o, "\r\n")] = 0;
    return o;
}

static og_err trim_bytes(long long max_bytes, int64_t retain_ms, struct og_trim *t)
{
    struct og_trim_bounds b = {.max_bytes = max_bytes, .retain_ms = retain_ms};
    return og_stream_trim(core, OG_STREAM_EVENTS, &b, t);
}

static og_err trim(long long max, int64_t retain_ms, struct og_trim *t)
{
    struct og_trim_bounds b = {.max_entries = max, .retain_ms = retain_ms};
    return og_stream_trim(core, OG_STREAM_EVENTS, &b, t);
}

static long long memory_usage(void)
{
    return cli_int("MEMORY USAGE {t}:events SAMPLES 16");
}

/* max_bytes: 3,000 entries of ~600 bytes owed to a group that read none,
 * a bound of 256 KiB: the oldest go until the stream is under 95 % of it,
 * in rounds (more than one chunk of 2,000), every one of them counted. */
static void bytes_bound(void)
{
    free(og_test_redis_cli(&rs, "DEL {t}:events"));
    free(og_test_redis_cli(&rs, "EVAL \"for i=1,3000 do redis.call('XADD','{t}:events','*',"
                                "'id','evt_'..i,'type','message.received','session','ses_1',"
                                "'event',string.rep('x',560)) end\" 0"));
    free(og_test_redis_cli(&rs, "XGROUP CREATE {t}:events g 0"));
    long long before = memory_usage();
    CHECK(before > 1500000);
    char *oldest = nth_id(0);
    struct og_trim t;
    CHECK_INT(trim_bytes(262144, 3600000, &t), OG_OK); /* retain: the bound wins */
    CHECK(t.bytes > 0 && t.bytes <= 262144);
    CHECK_INT(t.bytes, memory_usage());
    CHECK_INT(t.length, cli_int("XLEN {t}:events"));
    CHECK(t.length > 300 && t.length < 450);
    CHECK_INT(t.owed_lost, 3000 - t.length);
    CHECK_STR(t.first_lost, oldest ? oldest : "?");
    CHECK_INT(atomic_load(&og_stream_stats.events_bytes), t.bytes);
    printf("max_bytes 262144: %lld bytes / 3000 entries -> %lld bytes / %lld entries\n", before,
           t.bytes, t.length);
    free(oldest);
    /* under the bound: nothing owed goes */
    CHECK_INT(trim_bytes(262144, 0, &t), OG_OK);
    CHECK_INT(t.removed, 0);
    CHECK_INT(t.owed_lost, 0);
}

/* Two subscriptions, "a" (every event) and "b" (session.* only), and the
 * group "webhooks" that read (queued for "a") the first 100 of 2,000
 * message.received entries: past the bound, "a" is marked lagging with the
 * first lost event and the exact count, read ones taken out of its queue
 * and acknowledged; "b", which wants none of them, is not marked. */
static void webhooks_lagging(void)
{
    free(og_test_redis_cli(&rs, "DEL {t}:events {t}:webhooks:lag"));
    free(og_test_redis_cli(&rs, "HSET {t}:webhooks a '{\"id\":\"a\",\"events\":[\"*\"],"
                                "\"enabled\":true}' b '{\"id\":\"b\",\"events\":"
                                "[\"session.*\"],\"enabled\":true}'"));
    fill(2000);
    free(og_test_redis_cli(&rs, "XGROUP CREATE {t}:events webhooks 0"));
    free(og_test_redis_cli(
        &rs, "EVAL \"local r=redis.call('XREADGROUP','GROUP','webhooks','c','COUNT',100,"
             "'STREAMS','{t}:events','>') for _,e in ipairs(r[1][2]) do "
             "redis.call('RPUSH','{t}:wh:a:q:ses_1',e[1]..'\\t1\\t'..e[2][2]..'\\t"
             "message.received') end redis.call('ZADD','{t}:wh:due',0,'a\\tses_1') "
             "return #r[1][2]\" 0"));
    CHECK_INT(cli_int("LLEN {t}:wh:a:q:ses_1"), 100);
    CHECK_INT(cli_int("XPENDING {t}:events webhooks"), 100);
    struct og_trim t;
    CHECK_INT(trim(1000, 0, &t), OG_OK); /* 950 stay: 1,050 lost, 100 of them read */
    CHECK_INT(t.owed_lost, 1050);
    CHECK_INT(t.lagging, 1);
    char *lag = og_test_redis_cli(&rs, "HGET {t}:webhooks:lag a");
    CHECK(lag && strncmp(lag, "1050\tevt_1\t", 11) == 0);
    CHECK(lag && strstr(lag, "\tevt_1050\t"));
    free(lag);
    char *b = og_test_redis_cli(&rs, "HEXISTS {t}:webhooks:lag b");
    CHECK(b && atoi(b) == 0);
    free(b);
    CHECK_INT(cli_int("LLEN {t}:wh:a:q:ses_1"), 0);
    CHECK_INT(cli_int("XPENDING {t}:events webhooks"), 0);
    CHECK_INT(cli_int("ZCARD {t}:wh:due"), 0);
    /* a second cut adds to the count; the first lost event stays */
    fill(200);
    CHECK_INT(trim(1000, 0, &t), OG_OK); /* 1,150 -> 950 */
    CHECK_INT(t.owed_lost, 200);
    lag = og_test_redis_cli(&rs, "HGET {t}:webhooks:lag a");
    CHECK(lag && strncmp(lag, "1250\tevt_1\t", 11) == 0);
    free(lag);

    /* the subscriptions deleted while the group holds entries it read:
     * those cut are acknowledged all the same (nothing can send them) */
    free(og_test_redis_cli(&rs, "DEL {t}:webhooks"));
    fill(200);
    free(og_test_redis_cli(&rs, "EVAL \"return #redis.call('XREADGROUP','GROUP','webhooks','c',"
                                "'COUNT',100,'STREAMS','{t}:events','>')[1][2]\" 0"));
    CHECK_INT(cli_int("XPENDING {t}:events webhooks"), 100);
    CHECK_INT(trim(1000, 0, &t), OG_OK); /* 1,150 -> 950: the oldest 100 of them */
    CHECK_INT(t.lagging, 0);
    CHECK_INT(cli_int("XPENDING {t}:events webhooks"), 0);
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    struct og_core *c = og_test_core_new(&rs, "t", 2);
    core = c;
    fill(3000);
    free(og_test_redis_cli(&rs, "XGROUP CREATE {t}:events g1 0"));
    struct og_trim t;
    CHECK_INT(trim(100000, 0, &t), OG_OK);
    CHECK_INT(t.removed, 0);
    CHECK_INT(cli_int("XLEN {t}:events"), 3000);

    /* g1 reads 1,000 and acknowledges them (one script), then 500 it keeps */
    free(og_test_redis_cli(&rs,
                           "EVAL \"local r=redis.call('XREADGROUP','GROUP','g1','c','COUNT',1000,"
                           "'STREAMS','{t}:events','>') for _,e in ipairs(r[1][2]) do "
                           "redis.call('XACK','{t}:events','g1',e[1]) end return #r[1][2]\" 0"));
    free(og_test_redis_cli(&rs, "EVAL \"return #redis.call('XREADGROUP','GROUP','g1','c','COUNT',"
                                "500,'STREAMS','{t}:events','>')[1][2]\" 0"));
    CHECK_INT(cli_int("XPENDING {t}:events g1"), 500);
    char *first_pending = nth_id(1000);
    CHECK_INT(trim(100000, 0, &t), OG_OK);
    CHECK_INT(t.removed, 1000);
    CHECK_INT(t.owed_lost, 0);
    CHECK_INT(cli_int("XLEN {t}:events"), 2000);
    char *now_first = nth_id(0);
    CHECK_STR(now_first, first_pending ? first_pending : "?");
    free(now_first);

    /* a second group that read nothing since the start of what is left */
    char *g2 = og_sprintf("XGROUP CREATE {t}:events g2 %s", first_pending);
    free(og_test_redis_cli(&rs, g2)); /* owes everything after first_pending */
    free(g2);
    CHECK_INT(trim(100000, 0, &t), OG_OK);
    CHECK_INT(t.removed, 0); /* g1 still holds first_pending pending */
    CHECK_INT(cli_int("XLEN {t}:events"), 2000);
    /* g1 acknowledges its 500: g2, which owes all after first_pending, holds the rest */
    free(og_test_redis_cli(
        &rs, "EVAL \"local p=redis.call('XPENDING','{t}:events','g1','-','+',1000) for _,e in "
             "ipairs(p) do redis.call('XACK','{t}:events','g1',e[1]) end return #p\" 0"));
    CHECK_INT(trim(100000, 0, &t), OG_OK);
    CHECK_INT(t.removed, 1); /* first_pending itself: only g1 owed it */
    CHECK_INT(cli_int("XLEN {t}:events"), 1999);

    /* past the bound: 1,999 owed, max 1,000 -> the oldest go down to 95 %
     * of the bound (950 stay), said */
    char *oldest = nth_id(0);
    unsigned long long lost_before = atomic_load(&og_stream_stats.owed_lost);
    CHECK_INT(trim(1000, 0, &t), OG_OK);
    CHECK_INT(t.owed_lost, 1049);
    CHECK_STR(t.first_lost, oldest ? oldest : "?");
    CHECK_INT(t.length, 950);
    CHECK_INT(cli_int("XLEN {t}:events"), 950);
    CHECK_INT(atomic_load(&og_stream_stats.owed_lost) - lost_before, 1049);
    free(oldest);
    /* under the bound again: nothing more goes */
    CHECK_INT(trim(1000, 0, &t), OG_OK);
    CHECK_INT(t.removed, 0);

    bytes_bound();
    webhooks_lagging();

    /* no group: the retain window only */
    free(og_test_redis_cli(&rs, "DEL {t}:events"));
    fill(50);
    CHECK_INT(trim(100000, 60000, &t), OG_OK);
    CHECK_INT(t.removed, 0); /* all are younger than a minute */
    CHECK_INT(trim(100000, 0, &t), OG_OK);
    CHECK_INT(t.removed, 50);
    CHECK_INT(cli_int("XLEN {t}:events"), 0);

    free(first_pending);
    og_core_free(c);
    og_test_redis_stop(&rs);
    return og_test_done();
}
