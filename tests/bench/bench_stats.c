/* bench_stats - statistics at scale (#20): fills a local redis-server with
 * N sessions over 90 days (default 1 000 000, 10 messages each, 50 agents,
 * 3 channels, 5 groups, success codes, surveys, presence changes) with a
 * bulk loader that counts through the scripts' own code: the prelude
 * (core/lua/prelude.lua) with a small driver appended, whose st_in, st_out,
 * st_close, st_csat, st_presence and st_add are the functions ingest,
 * replies, closes, surveys and presence changes call live. Session hashes
 * get the fields the exports read (messages themselves are not stored: no
 * statistic or export reads them). Then it times, in process:
 *   - GET /api/v1/stats's computation over the 90 days (og_stats_compute +
 *     og_stats_json) by day in UTC and Europe/Berlin, by hour, by agent,
 *     and with a filter; best and median of 7 runs;
 *   - each CSV export over the 90 days (og_export_next until done): rows,
 *     rows/s, bytes, and the process's peak RSS before and after.
 *
 * usage: bench_stats [sessions (default 1000000)] [max fill seconds (default 900)]
 *   BENCH_STATS_RDB=/path/file.rdb: when the file exists, its data is loaded
 *   instead of filling (DEBUG RELOAD; it must come from the same counting
 *   code), else the fill is saved there: for timing reads again and again. */
#include "og_export.h"
#include "og_stats.h"
#include "og_test.h"
#include "og_util.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

extern const char og_lua_prelude[];

#define AGENTS 50
#define DAYS 90
/* 2030-03-17 00:00 UTC: the 90 days end on 2030-06-14 */
#define T0_MS 1899936000000LL

static const char driver[] =
    "\n-- bench_stats driver\n"
    "local P, op = ARGV[1], ARGV[2]\n"
    "-- the fill applies its facts itself at the end of each call, summed\n"
    "-- (the prelude's st_apply: what the statistics worker runs live)\n"
    "ST_DIRECT.on = true\n"
    "local B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'\n"
    "local function b32(v, n)\n"
    "  local t = {}\n"
    "  for i = n, 1, -1 do local d = v % 32; t[i] = B32:sub(d + 1, d + 1); v = math.floor(v / 32) "
    "end\n"
    "  return table.concat(t)\n"
    "end\n"
    "if op == 'agents' then\n"
    "  for i = 4, #ARGV do\n"
    "    local id = ARGV[i]\n"
    "    redis.call('HSET', k(P, 'agent', id), 'id', id, 'name', 'Agent ' .. (i - 3), 'email',\n"
    "      'a' .. (i - 3) .. '@bench.test', 'role', 'agent', 'groups', '[\"g' .. (i % 5) .. "
    "'\"]',\n"
    "      'presence', 'offline', 'presence_since_ms', ARGV[3], 'created_at', "
    "iso_ms(tonumber(ARGV[3])))\n"
    "    redis.call('SADD', k(P, 'agents'), id)\n"
    "  end\n"
    "  return {'ok'}\n"
    "elseif op == 'presence' then\n"
    "  -- [3] day start ms, [4..] agents: online 8 h from 08:00, 20 min away at 12:00\n"
    "  local d0 = tonumber(ARGV[3])\n"
    "  for i = 4, #ARGV do\n"
    "    local id = ARGV[i]\n"
    "    local since = tonumber(redis.call('HGET', k(P, 'agent', id), 'presence_since_ms'))\n"
    "    local steps = {{'offline', d0 + 8 * 3600000}, {'online', d0 + 12 * 3600000},\n"
    "      {'away', d0 + 12 * 3600000 + 1200000}, {'online', d0 + 16 * 3600000}}\n"
    "    for _, s in ipairs(steps) do st_presence(P, id, s[1], since, s[2]); since = s[2] end\n"
    "    redis.call('HSET', k(P, 'agent', id), 'presence', 'offline', 'presence_since_ms', since)\n"
    "  end\n"
    "  st_apply(P, ST_DIRECT.buf)\n"
    "  return {'ok'}\n"
    "elseif op == 'sessions' then\n"
    "  -- [3] first index, [4] count, [5] t0 ms, [6] step ms, [7] messages, [8..] agents\n"
    "  local first, cnt, t0, step, msgs = tonumber(ARGV[3]), tonumber(ARGV[4]),\n"
    "    tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])\n"
    "  local na = #ARGV - 7\n"
    "  local chans, codes = {'web', 'whatsapp', 'mail'}, {'SALE', 'INFO', 'UPSELL', 'REFUND'}\n"
    "  for i = first, first + cnt - 1 do\n"
    "    local t = t0 + math.floor(i * step)\n"
    "    local sid = 'ses_' .. b32(t, 10) .. b32(i, 16)\n"
    "    local cid = 'con_' .. b32(t, 10) .. b32(i, 16)\n"
    "    local ch = chans[i % 3 + 1]\n"
    "    local aid = ARGV[8 + i % na]\n"
    "    local grp = 'g' .. (i % 5)\n"
    "    local skey = k(P, 'ses', sid)\n"
    "    redis.call('HSET', k(P, 'con', cid), 'id', cid, 'channel', ch, 'name', 'Customer ' .. i)\n"
    "    redis.call('HSET', skey, 'id', sid, 'channel', ch, 'contact_id', cid, 'status', 'new',\n"
    "      'created_at', iso_ms(t), 'origin', i % 7 == 0 and 'agent' or 'customer')\n"
    "    redis.call('ZADD', k(P, 'idx', 'all'), 0, sid)\n"
    "    local s = {id = sid, channel = ch, status = 'new', contact_id = cid}\n"
    "    st_episode(P, sid, s, t, i % 7 == 0)\n"
    "    st_add(P, t, {ch, '', '', ''}, {[ST.new] = 1})\n"
    "    st_in(P, sid, s, t)\n"
    "    local qk = k(P, 'queue', 'default')\n"
    "    st_q_enter(P, qk, sid, s, t)\n"
    "    local w = 5000 + (i % 11) * 7000\n"
    "    st_q_leave(P, qk, sid, s, t + w)\n"
    "    st_add(P, t + w, {ch, aid, grp, ''}, {[ST.qwait_sum] = w, [ST.qwait_n] = 1,\n"
    "      [ST.qwait_max] = w})\n"
    "    s.agent_id, s.group, s.status = aid, grp, 'active'\n"
    "    local now = t + w\n"
    "    for m = 1, msgs / 2 do\n"
    "      now = now + 20000 + (i * 7 + m * 13) % 90000\n"
    "      st_out(P, sid, s, now)\n"
    "      if m < msgs / 2 then now = now + 30000 + (i + m) % 60000; st_in(P, sid, s, now) end\n"
    "    end\n"
    "    if msgs % 2 == 0 then now = now + 15000; st_in(P, sid, s, now) end\n"
    "    now = now + 60000\n"
    "    local code = i % 3 == 0 and '[]' or ('[\"' .. codes[i % 4 + 1] .. '\"]')\n"
    "    s.status, s.success_codes = 'closed', code\n"
    "    local c = hgetall(skey)\n"
    "    c.status, c.agent_id, c.group, c.success_codes = 'closed', aid, grp, code\n"
    "    st_close(P, c, now)\n"
    "    st_add(P, now, st_tuple(s), {[ST.goals_closed] = 1})\n"
    "    if i % 3 == 1 then st_add(P, now, st_tuple(s), {[ST.goals_achieved] = 1}) end\n"
    "    local csat = ''\n"
    "    if i % 3 == 2 then\n"
    "      st_csat(P, s, 1 + i % 5, 5, now + 60000)\n"
    "      csat = '{\"score\":' .. (1 + i % 5) .. ',\"scale\":5}'\n"
    "    end\n"
    "    redis.call('HSET', skey, 'agent_id', aid, 'group', grp, 'status', 'closed',\n"
    "      'first_reply_at', iso_ms(t + w + 20000), 'closed_at', iso_ms(now), 'close_reason',\n"
    "      'solved', 'success_codes', code, 'csat', csat, 'g_st', i % 3 == 1 and 'achieved' or\n"
    "      'missed', 'g_ev', 'SALE')\n"
    "  end\n"
    "  st_apply(P, ST_DIRECT.buf)\n"
    "  return {'ok'}\n"
    "end\n"
    "return {'err', 'internal', 'driver: unknown op'}\n";

static redisContext *rc;
static char sha[48];

static int eval(int argc, const char **argv)
{
    const char **a = og_calloc((size_t)argc + 3, sizeof *a);
    a[0] = "EVALSHA", a[1] = sha, a[2] = "0";
    memcpy(a + 3, argv, (size_t)argc * sizeof *a);
    redisReply *r = redisCommandArgv(rc, argc + 3, a, NULL);
    free(a);
    int ok =
        r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && !strcmp(r->element[0]->str, "ok");
    if (!ok)
        fprintf(stderr, "driver: %s\n",
                r && r->type == REDIS_REPLY_ERROR ? r->str
                : r && r->elements > 2            ? r->element[2]->str
                                                  : "no answer");
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static long current_rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * 4;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Redis's own time in scripts so far (INFO commandstats, us): what a query
 * spends inside Redis, apart from the reply's transfer and its parsing. */
static double redis_script_us(void)
{
    redisReply *r = redisCommand(rc, "INFO commandstats");
    double us = 0;
    const char *names[] = {
        "cmdstat_evalsha:", "cmdstat_eval:", "cmdstat_hscan:", "cmdstat_hgetall:"};
    for (int i = 0; r && r->str && i < 4; i++) {
        const char *p = strstr(r->str, names[i]);
        const char *u = p ? strstr(p, "usec=") : NULL;
        if (u)
            us += atof(u + 5);
    }
    if (r)
        freeReplyObject(r);
    return us;
}

/* Redis's CPU time so far (INFO cpu, s): on a loaded machine a query's wall
 * time says more about the other processes than about the query. */
static double redis_cpu_s(void)
{
    redisReply *r = redisCommand(rc, "INFO cpu");
    double cpu = 0;
    const char *names[] = {"used_cpu_sys:", "used_cpu_user:"};
    for (int i = 0; r && r->str && i < 2; i++) {
        const char *p = strstr(r->str, names[i]);
        if (p)
            cpu += atof(p + strlen(names[i]));
    }
    if (r)
        freeReplyObject(r);
    return cpu;
}

static double own_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void time_query(struct og_core *core, const char *label, struct og_stats_query q)
{
    double t[7], rus0 = redis_script_us(), rcpu0 = redis_cpu_s(), cpu0 = own_cpu_s();
    size_t len = 0, buckets = 0;
    long long chats = 0;
    for (int i = 0; i < 7; i++) {
        char msg[200];
        if (i == 6 && getenv("BENCH_STATS_SLOWLOG")) {
            freeReplyObject(redisCommand(rc, "CONFIG SET slowlog-log-slower-than 0"));
            freeReplyObject(redisCommand(rc, "SLOWLOG RESET"));
            freeReplyObject(redisCommand(rc, "CONFIG SET slowlog-max-len 100000"));
        }
        struct og_stats *s = NULL;
        double a = now_s();
        if (og_stats_compute(core, &q, &s, msg, sizeof msg) != OG_OK) {
            fprintf(stderr, "%s: %s\n", label, msg);
            return;
        }
        char *j = og_stats_json(s);
        t[i] = (now_s() - a) * 1000;
        len = strlen(j), buckets = s->n, chats = s->total.v[OG_ST_CHATS];
        free(j);
        og_stats_free(s);
    }
    double cpu_ms = (own_cpu_s() - cpu0) / 7 * 1000, rcpu_ms = (redis_cpu_s() - rcpu0) / 7 * 1000;
    double redis_ms = (redis_script_us() - rus0) / 7 / 1000;
    if (getenv("BENCH_STATS_SLOWLOG")) { /* each call of the last run */
        redisReply *r = redisCommand(rc, "SLOWLOG GET 100000");
        for (size_t i = 0; r && i < r->elements; i++) {
            const redisReply *e = r->element[i], *args = e->element[3];
            if (strcasecmp(args->element[0]->str, "evalsha"))
                continue;
            printf("    %6lld us  %s %s\n", e->element[2]->integer,
                   args->elements > 4 ? args->element[4]->str : "",
                   args->elements > 6 ? args->element[6]->str : "");
        }
        if (r)
            freeReplyObject(r);
    }
    qsort(t, 7, sizeof *t, cmp_d);
    printf("  stats %-34s best %7.1f ms  median %7.1f ms  (in Redis %.1f ms; CPU: Redis %.1f ms, "
           "client %.1f ms; %zu buckets, %lld chats, %zu bytes)\n",
           label, t[0], t[3], redis_ms, rcpu_ms, cpu_ms, buckets, chats, len);
}

static void time_export(struct og_core *core, const char *report, struct og_stats_query q)
{
    struct og_export *x = NULL;
    char msg[200];
    long rss0 = current_rss_kb();
    double a = now_s();
    if (og_export_open(core, og_report_from_name(report), &q, &x, msg, sizeof msg) != OG_OK) {
        fprintf(stderr, "%s: %s\n", report, msg);
        return;
    }
    struct og_buf b = {0};
    size_t rows = 0, bytes = 0;
    long peak = current_rss_kb();
    int more = 1;
    while (more > 0) {
        b.len = 0;
        more = og_export_next(x, &b);
        for (size_t i = 0; i < b.len; i++)
            rows += b.data[i] == '\n';
        bytes += b.len;
        long r = current_rss_kb();
        if (r > peak)
            peak = r;
    }
    double s = now_s() - a;
    og_export_free(x);
    og_buf_free(&b);
    printf("  export %-18s %9zu rows %8.2f s %10.0f rows/s %8.1f MB  RSS %ld -> peak %ld MB%s\n",
           report, rows - 1, s, (double)(rows - 1) / (s > 0 ? s : 1e-9), bytes / 1e6, rss0 / 1024,
           peak / 1024, more < 0 ? "  (ERROR)" : "");
}

/* Fills n sessions (at most max_fill seconds); ids gets the agents. */
static long fill(long n, double max_fill, char ids[AGENTS][48])
{
    const char *av[64];
    char t0[24], step[32], first[24], cnt[16];
    snprintf(t0, sizeof t0, "%lld", T0_MS - 86400000LL);
    av[0] = "{og}", av[1] = "agents", av[2] = t0;
    for (int i = 0; i < AGENTS; i++) {
        og_id_new("agt_", T0_MS - 86400000LL, ids[i], sizeof ids[i]);
        av[3 + i] = ids[i];
    }
    if (eval(3 + AGENTS, av) != 0)
        return -1;
    double a = now_s();
    for (int d = 0; d < DAYS; d++) {
        snprintf(t0, sizeof t0, "%lld", T0_MS + (long long)d * 86400000LL);
        av[1] = "presence", av[2] = t0;
        if (eval(3 + AGENTS, av) != 0)
            return -1;
    }
    /* sessions spread evenly over the 90 days, in batches */
    snprintf(t0, sizeof t0, "%lld", T0_MS);
    snprintf(step, sizeof step, "%.6f", (double)DAYS * 86400000.0 / (double)n);
    long done = 0;
    const int batch = 2000;
    av[1] = "sessions", av[2] = first, av[3] = cnt, av[4] = t0, av[5] = step, av[6] = "10";
    for (int i = 0; i < AGENTS; i++)
        av[7 + i] = ids[i];
    while (done < n && now_s() - a < max_fill) {
        long c = n - done < batch ? n - done : batch;
        snprintf(first, sizeof first, "%ld", done);
        snprintf(cnt, sizeof cnt, "%ld", c);
        if (eval(7 + AGENTS, av) != 0)
            return -1;
        done += c;
        if (done % 100000 == 0)
            fprintf(stderr, "  %ld sessions, %.0f s\n", done, now_s() - a);
    }
    double took = now_s() - a;
    redisReply *r = redisCommand(rc, "INFO memory");
    char *um = r && r->str ? strstr(r->str, "used_memory_human:") : NULL;
    printf("bench_stats: %ld sessions (%ld messages) over %d days, %d agents, filled in %.0f s "
           "(%.0f sessions/s) through the prelude's st_*; Redis %.*s\n",
           done, done * 10, DAYS, AGENTS, took, done / took, um ? (int)strcspn(um + 18, "\r\n") : 0,
           um ? um + 18 : "");
    if (r)
        freeReplyObject(r);
    if (done < n)
        printf("  (stopped at %.0f s: %ld of %ld sessions)\n", max_fill, done, n);

    return done;
}

/* The agents of a loaded fill, in id order. */
static void load_ids(char ids[AGENTS][48])
{
    redisReply *r = redisCommand(rc, "SMEMBERS {og}:agents");
    for (size_t i = 0; r && i < r->elements && i < AGENTS; i++)
        snprintf(ids[i], sizeof ids[i], "%s", r->element[i]->str);
    if (r)
        freeReplyObject(r);
    qsort(ids, AGENTS, sizeof ids[0], (int (*)(const void *, const void *))strcmp);
}

int main(int argc, char **argv)
{
    redisReply *r = NULL;
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    double max_fill = argc > 2 ? atof(argv[2]) : 900;
    struct og_test_redis rs;
    if (og_test_redis_start_with(&rs, "--appendonly no --save '' --enable-debug-command local "
                                      "--enable-protected-configs local") != 0)
        return 1;
    rc = redisConnect("127.0.0.1", rs.port);
    const char *rdb = getenv("BENCH_STATS_RDB");
    int have_rdb = rdb && access(rdb, R_OK) == 0;
    if (rdb) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s", rdb);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        redisReply *d = redisCommand(rc, "CONFIG SET dir %s", slash ? dir : ".");
        redisReply *f = redisCommand(rc, "CONFIG SET dbfilename %s", slash ? slash + 1 : rdb);
        if (!d || !f || d->type == REDIS_REPLY_ERROR || f->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "CONFIG SET dir, dbfilename: %s\n",
                    d && d->type == REDIS_REPLY_ERROR ? d->str
                    : f                               ? f->str
                                                      : "no answer");
            return 1;
        }
        freeReplyObject(d), freeReplyObject(f);
    }
    if (have_rdb) {
        double a = now_s();
        r = redisCommand(rc, "DEBUG RELOAD NOSAVE");
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "DEBUG RELOAD: %s\n", r ? r->str : "no answer");
            return 1;
        }
        freeReplyObject(r);
        printf("bench_stats: loaded %s in %.0f s\n", rdb, now_s() - a);
    }
    char *script = og_sprintf("%s%s", og_lua_prelude, driver);
    r = redisCommand(rc, "SCRIPT LOAD %s", script);
    free(script);
    if (!r || r->type != REDIS_REPLY_STRING) {
        fprintf(stderr, "SCRIPT LOAD: %s\n", r ? r->str : "no answer");
        return 1;
    }
    snprintf(sha, sizeof sha, "%s", r->str);
    freeReplyObject(r);

    char ids[AGENTS][48] = {{0}};
    if (have_rdb)
        load_ids(ids);
    else if (fill(n, max_fill, ids) < 0)
        return 1;
    if (rdb && !have_rdb) {
        r = redisCommand(rc, "SAVE");
        printf("bench_stats: saved to %s (%s)\n", rdb,
               r && r->type != REDIS_REPLY_ERROR ? "ok" : "failed");
        if (r)
            freeReplyObject(r);
    }

    struct og_core *core = og_test_core_new(&rs, "og", 4);
    struct og_stats_query q = {.from = "2030-03-17", .to = "2030-06-14"};
    time_query(core, "90 days by day, UTC", q);
    q.tz = "Europe/Berlin";
    time_query(core, "90 days by day, Europe/Berlin", q);
    q.tz = "Asia/Kolkata";
    q.group_by = "agent";
    time_query(core, "90 days by agent, Asia/Kolkata", q);
    q.tz = NULL;
    q.group_by = "hour";
    time_query(core, "90 days by hour", q);
    q.group_by = "day";
    q.agent_id = ids[8];
    q.success_code = "SALE";
    time_query(core, "90 days, one agent, code SALE", q);
    q.success_code = NULL;
    time_query(core, "90 days by day, one agent", q);
    q.tz = "Europe/Berlin";
    time_query(core, "90 days by day, Berlin, one agent", q);
    q.tz = NULL;
    q.agent_id = NULL, q.channel = "web";
    time_query(core, "90 days by day, channel web", q);
    q.channel = NULL, q.group_by = "channel";
    time_query(core, "90 days by channel", q);
    q.group_by = "group";
    time_query(core, "90 days by group", q);
    q.group_by = "hour", q.agent_id = ids[8];
    time_query(core, "90 days by hour, one agent", q);
    q.group_by = "day", q.agent_id = NULL;
    time_query(
        core, "1 day by hour",
        (struct og_stats_query){.from = "2030-06-14", .to = "2030-06-14", .group_by = "hour"});
    if (getenv("BENCH_STATS_NO_EXPORTS"))
        goto done;
    const char *reports[] = {"agents", "agent_performance", "traffic", "agent_activity",
                             "conversations"};
    for (int i = 0; i < 5; i++)
        time_export(core, reports[i], q);
done:
    printf("  process peak RSS %ld MB\n", rss_kb() / 1024);
    og_core_free(core);
    redisFree(rc);
    og_test_redis_stop(&rs);
    return 0;
}
