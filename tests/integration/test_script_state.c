/* test_script_state - the scripts' per-call state does not outlive a call.
 * The core's scripts are one Redis Function library (og_script.h): the
 * prelude's top level runs once per FUNCTION LOAD, so its caches (a
 * channel's automatic texts, its goal) would carry one call's view into the
 * next unless every call resets them (call_begin). Here a channel's texts
 * change between two inbound messages, as a reload of the config writes
 * them (texts.lua sync: P:texts), and the second message must see the
 * change: the first new session is greeted, the second is not. (The goal's
 * cache: og-int-goals, whose sessions show a goal set through the API after
 * an earlier call read the channel's goal.) */
#include "og_test.h"
#include "og_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "state-secret"

static struct og_test_redis rs;
static struct og_test_daemon d;

static void customer(const char *user, char sid[48])
{
    char *b = og_sprintf("{\"id\":\"m-%s\",\"from\":{\"id\":\"%s\"},\"text\":\"hi\"}", user, user);
    CHECK_INT(og_test_post_signed(&d, "demo", SECRET, b, strlen(b)), 200);
    free(b);
    char *s = og_test_redis_line(&rs, OG_TEST_BUCKET("HGET") "{og}:th:demo: %s", user);
    snprintf(sid, 48, "%s", s ? s : "");
    free(s);
}

/* 1 when the session has a greeting, queued (P:timers:texts) or already
 * stored (a message with auto set): one script, so no moment in between. */
static int greeted(const char *sid)
{
    char *v = og_test_redis_line(
        &rs,
        "EVAL \"for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do if "
        "string.sub(m, 1, #ARGV[1] + 9) == ARGV[1] .. '|greeting' then return 1 end end "
        "for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do if redis.call('HGET', "
        "'{og}:msg:' .. id, 'auto') then return 1 end end return 0\" 2 {og}:ses:%s:msgs "
        "{og}:timers:texts %s",
        sid, sid);
    int g = v && atoi(v) == 1;
    free(v);
    return g;
}

int main(void)
{
    const char *channels =
        "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"http://127.0.0.1:9/r\"},\"texts\":{\"greeting\":\"Hello!\"}}]";
    if (og_test_redis_start(&rs) != 0 || og_test_daemon_start(&d, rs.url, channels, NULL) != 0)
        return 1;
    char s1[48], s2[48];
    customer("u1", s1);
    CHECK(s1[0] != 0);
    CHECK_INT(greeted(s1), 1); /* that call read the channel's texts */
    /* the channel's texts as a reload without its greeting leaves them */
    free(og_test_redis_cli(&rs, "HSET {og}:texts demo '{}'"));
    customer("u2", s2);
    CHECK(s2[0] != 0 && strcmp(s1, s2) != 0);
    CHECK_INT(greeted(s2), 0);
    /* and back: the next new session is greeted again */
    char *j = og_test_redis_line(&rs, "HGET {og}:texts demo");
    CHECK_STR(j, "{}");
    free(j);
    free(og_test_redis_cli(&rs, "HSET {og}:texts demo '{\"greeting\":1}'"));
    char s3[48];
    customer("u3", s3);
    CHECK_INT(greeted(s3), 1);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    return og_test_done();
}
