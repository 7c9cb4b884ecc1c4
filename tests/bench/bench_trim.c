/* bench_trim - what a cut past events.max_bytes costs Redis (#22.2), against
 * a local redis-server and the core (no daemon):
 *
 *   N events (~700-byte bodies, 1,000 sessions) are appended to {og}:events;
 *   S webhook subscriptions take every event; the group "webhooks" read the
 *   first half and queued it for each of them (as webhook_dispatch_read.lua
 *   does), then every subscription stopped. og_stream_trim with
 *   events.max_bytes a quarter of the stream's size cuts the oldest events
 *   in rounds; it prints the stream's entries and bytes before and after,
 *   the events each subscription lost, the wall time of the trim, and Redis's
 *   own time in the trim script per entry cut (INFO commandstats).
 *
 * usage: bench_trim [events (default 200000)] [subscriptions (default 4)] */
#include "og_core.h"
#include "og_err.h"
#include "og_stream.h"
#include "og_test.h"
#include "og_util.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long rint_(redisContext *rc, const char *cmd)
{
    redisReply *r = redisCommand(rc, cmd);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

/* usec of FCALL in INFO commandstats (the trim's script calls: the core's
 * scripts are Redis Functions, og_script.h). */
static long long fcall_usec(redisContext *rc, long long *calls)
{
    redisReply *r = redisCommand(rc, "INFO commandstats");
    const char *p = r && r->str ? strstr(r->str, "cmdstat_fcall:") : NULL;
    long long us = 0;
    *calls = 0;
    if (p) {
        const char *c = strstr(p, "calls="), *u = strstr(p, "usec=");
        *calls = c ? atoll(c + 6) : 0;
        us = u ? atoll(u + 5) : 0;
    }
    freeReplyObject(r);
    return us;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int subs = argc > 2 ? atoi(argv[2]) : 4;
    if (n < 1000 || subs < 1 || subs > 100) {
        fprintf(stderr, "usage: bench_trim [events >= 1000] [subscriptions 1..100]\n");
        return 2;
    }
    struct og_test_redis rs;
    if (og_test_redis_start_with(&rs, "--appendonly no") != 0)
        return 1;
    struct og_core *c = og_test_core_new(&rs, "og", 2);
    redisContext *rc = redisConnect("127.0.0.1", rs.port);
    if (!c || !rc)
        return 1;
    for (int s = 0; s < subs; s++)
        freeReplyObject(redisCommand(rc,
                                     "HSET {og}:webhooks s%d {\"id\":\"s%d\",\"events\":[\"*\"],"
                                     "\"enabled\":true}",
                                     s, s));
    char pad[401];
    memset(pad, 'x', 400);
    pad[400] = 0;
    for (long i = 0; i < n; i++) {
        char eid[48], sid[48], ev[1024];
        og_id_new("evt_", og_now_ms(), eid, sizeof eid);
        snprintf(sid, sizeof sid, "ses_BENCH%017ld", i % 1000);
        snprintf(ev, sizeof ev,
                 "{\"id\":\"%s\",\"type\":\"message.received\",\"data\":{\"session\":{\"id\":"
                 "\"%s\"},\"message\":{\"text\":\"%s\"}}}",
                 eid, sid, pad);
        redisAppendCommand(rc, "XADD {og}:events * id %s type message.received session %s event %s",
                           eid, sid, ev);
        if (i % 1000 == 999 || i == n - 1)
            for (long k = i - i % 1000; k <= i; k++) {
                redisReply *r = NULL;
                redisGetReply(rc, (void **)&r);
                freeReplyObject(r);
            }
    }
    freeReplyObject(redisCommand(rc, "XGROUP CREATE {og}:events webhooks 0"));
    /* the group reads the first half and queues it for every subscription */
    char *read = og_sprintf(
        "local r = redis.call('XREADGROUP','GROUP','webhooks','c','COUNT',%ld,'STREAMS',"
        "'{og}:events','>') for _, e in ipairs(r[1][2]) do local f = e[2] "
        "for s = 0, %d do redis.call('RPUSH','{og}:wh:s'..s..':q:'..f[6], e[1]..'\\t%d\\t'..f[2]"
        "..'\\tmessage.received') redis.call('ZADD','{og}:wh:due',0,'s'..s..'\\t'..f[6]) end "
        "if %d > 1 then redis.call('HSET','{og}:wh:owe',e[1],'%d') end end return #r[1][2]",
        n / 2, subs - 1, subs, subs, subs);
    redisReply *r = redisCommand(rc, "EVAL %s 0", read);
    printf("read and queued: %lld entries for %d subscriptions\n",
           r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1, subs);
    freeReplyObject(r);
    free(read);

    long long len0 = rint_(rc, "XLEN {og}:events");
    long long bytes0 = rint_(rc, "MEMORY USAGE {og}:events SAMPLES 16");
    long long mem0 = 0;
    r = redisCommand(rc, "INFO memory");
    const char *um = r && r->str ? strstr(r->str, "used_memory:") : NULL;
    mem0 = um ? atoll(um + 12) : 0;
    freeReplyObject(r);
    printf("before: %lld entries, %lld bytes (%.0f per entry; exact, SAMPLES 0: %lld); Redis "
           "used_memory %lld\n",
           len0, bytes0, (double)bytes0 / (double)len0,
           rint_(rc, "MEMORY USAGE {og}:events SAMPLES 0"), mem0);

    freeReplyObject(redisCommand(rc, "CONFIG RESETSTAT"));
    struct og_trim_bounds b = {.max_bytes = bytes0 / 4, .retain_ms = 3600000};
    struct og_trim t;
    int64_t t0 = now_us();
    og_err e = og_stream_trim(c, OG_STREAM_EVENTS, &b, &t);
    double secs = (double)(now_us() - t0) / 1e6;
    long long calls = 0, us = fcall_usec(rc, &calls);
    printf("trim to max_bytes %lld: %s in %.3f s, %lld script calls, Redis %.1f ms in all, "
           "%.1f ms per call on average; %.2f us of Redis per entry cut\n",
           b.max_bytes, og_strerror(e), secs, calls, us / 1000.0,
           calls ? us / 1000.0 / (double)calls : 0.0,
           t.removed ? (double)us / (double)t.removed : 0.0);
    printf("MEMORY USAGE SAMPLES 16 (the trim's estimate) %lld, SAMPLES 0 (exact) %lld\n",
           rint_(rc, "MEMORY USAGE {og}:events SAMPLES 16"),
           rint_(rc, "MEMORY USAGE {og}:events SAMPLES 0"));
    printf("after: %lld entries, %lld bytes; removed %lld (owed %lld, from %s); %lld "
           "subscriptions marked lagging\n",
           t.length, t.bytes, t.removed, t.owed_lost, t.first_lost, t.lagging);
    r = redisCommand(rc, "HGET {og}:webhooks:lag s0");
    printf("s0's mark: %s\n", r && r->type == REDIS_REPLY_STRING ? r->str : "(none)");
    freeReplyObject(r);
    r = redisCommand(rc, "XPENDING {og}:events webhooks");
    printf("left: %lld entries pending in the group, %lld (subscription, session) queues due\n",
           r && r->type == REDIS_REPLY_ARRAY && r->elements ? r->element[0]->integer : -1,
           rint_(rc, "ZCARD {og}:wh:due"));
    freeReplyObject(r);

    redisFree(rc);
    og_core_free(c);
    og_test_redis_stop(&rs);
    return e == OG_OK ? 0 : 1;
}
