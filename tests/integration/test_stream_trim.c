/* test_stream_trim - og_stream_trim never removes what a consumer group
 * still owes (#14.3), against redis-server:
 *   - 3,000 events, a group that read none: nothing is trimmed;
 *   - the group reads 1,000 and acknowledges them, reads 500 more and keeps
 *     them pending: exactly the 1,000 acknowledged go, the pending ones and
 *     the unread ones stay;
 *   - a second group further behind holds the line for both;
 *   - past the bound (max 1,000 with 2,000 owed) the oldest owed go, and
 *     the trim says how many and from which id, and counts them;
 *   - with no group, only the retain window stays (0: nothing). */
#include "og_core.h"
#include "og_stream.h"
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>

static struct og_test_redis rs;

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

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    struct og_core *c = og_test_core_new(&rs, "t", 2);
    fill(3000);
    free(og_test_redis_cli(&rs, "XGROUP CREATE {t}:events g1 0"));
    struct og_trim t;
    CHECK_INT(og_stream_trim(c, OG_STREAM_EVENTS, 100000, 0, &t), OG_OK);
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
    CHECK_INT(og_stream_trim(c, OG_STREAM_EVENTS, 100000, 0, &t), OG_OK);
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
    CHECK_INT(og_stream_trim(c, OG_STREAM_EVENTS, 100000, 0, &t), OG_OK);
    CHECK_INT(t.removed, 0); /* g1 still holds first_pending pending */
    CHECK_INT(cli_int("XLEN {t}:events"), 2000);
    /* g1 acknowledges its 500: g2, which owes all after first_pending, holds the rest */
    free(og_test_redis_cli(
        &rs, "EVAL \"local p=redis.call('XPENDING','{t}:events','g1','-','+',1000) for _,e in "
             "ipairs(p) do redis.call('XACK','{t}:events','g1',e[1]) end return #p\" 0"));
    CHECK_INT(og_stream_trim(c, OG_STREAM_EVENTS, 100000, 0, &t), OG_OK);
    CHECK_INT(t.removed, 1); /* first_pending itself: only g1 owed it */
    CHECK_INT(cli_int("XLEN {t}:events"), 1999);

    /* past the bound: 1,999 owed, max 1,000 -> the 999 oldest go, said */
    char *oldest = nth_id(0);
    unsigned long long lost_before = atomic_load(&og_stream_stats.owed_lost);
    CHECK_INT(og_stream_trim(c, OG_STREAM_EVENTS, 1000, 0, &t), OG_OK);
    CHECK_INT(t.owed_lost, 999);
    CHECK_STR(t.first_lost, oldest ? oldest : "?");
    CHECK_INT(t.length, 1000);
    CHECK_INT(cli_int("XLEN {t}:events"), 1000);
    CHECK_INT(atomic_load(&og_stream_stats.owed_lost) - lost_before, 999);
    free(oldest);

    /* no group: the retain window only */
    free(og_test_redis_cli(&rs, "DEL {t}:events"));
    fill(50);
    CHECK_INT(og_stream_trim(c, OG_STREAM_EVENTS, 100000, 60000, &t), OG_OK);
    CHECK_INT(t.removed, 0); /* all are younger than a minute */
    CHECK_INT(og_stream_trim(c, OG_STREAM_EVENTS, 100000, 0, &t), OG_OK);
    CHECK_INT(t.removed, 50);
    CHECK_INT(cli_int("XLEN {t}:events"), 0);

    free(first_pending);
    og_core_free(c);
    og_test_redis_stop(&rs);
    return og_test_done();
}
