/* test_routing - the routing engine (core/og_routing.c + route.lua) against a
 * real redis-server, without the daemon: each method's choice on constructed
 * loads, capacity never exceeded, queue order (oldest first), levels, the
 * forwarding level, auto-forward with and without avoid_same_level (the
 * timer's due time, nothing before it, the move after it), presence changes
 * (offline returns sessions), transfer/close/reopen/archive, non-real-time
 * capacity, manual mode, and two engines racing on one Redis. */
#include "og_agents.h"
#include "og_core.h"
#include "og_routing.h"
#include "og_test.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct og_connector fake_desc = {.name = "fake"},
                           mail_desc = {.name = "email", .caps = OG_CAP_NON_REALTIME};
static struct og_plugin fake_plugin = {.desc = &fake_desc}, mail_plugin = {.desc = &mail_desc};

static struct og_test_redis rs;
static struct og_core *core;
static int seq;

/* Who acts: the admin token, or a manager (who may act on any session)
 * with the given agent id (NULL: none). */
static const struct og_viewer as_admin = {OG_ROLE_ADMIN, "", NULL, 0};
static struct og_viewer as_mgr(const char *id)
{
    struct og_viewer v = {OG_ROLE_MANAGER, id ? id : "", NULL, 0};
    return v;
}

static long long rint_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long rint_(const char *fmt, ...)
{
    char args[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *out = og_test_redis_cli(&rs, args);
    long long v = out ? atoll(out) : -1;
    free(out);
    return v;
}

/* The output of one redis-cli command, trailing newline removed. [xfer] */
static char *rstr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *rstr(const char *fmt, ...)
{
    char args[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *out = og_test_redis_cli(&rs, args);
    if (out) {
        size_t n = strlen(out);
        while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
            out[--n] = 0;
    }
    return out ? out : og_strdup("");
}

/* A new session on channel ch (routing policy) from a new customer. */
static void new_session(const char *policy, int mail, char sid[48])
{
    struct og_channel ch = {.id = mail ? "mail" : "c1",
                            .routing = (char *)policy,
                            .plugin = mail ? &mail_plugin : &fake_plugin};
    char dedup[32], from[32];
    snprintf(dedup, sizeof dedup, "d%d", ++seq);
    snprintf(from, sizeof from, "u%d", seq);
    struct og_inbound m = {.struct_size = sizeof m,
                           .dedup_key = dedup,
                           .kind = OG_KIND_TEXT,
                           .text = "hello",
                           .provider_message_id = dedup};
    m.from.external_id = from;
    m.from.name = "Customer";
    struct og_ingest_result r;
    og_core_ingest(core, &ch, &m, &r);
    snprintf(sid, 48, "%s", r.session_id);
    usleep(2000); /* distinct ms: queue order is by time */
}

static void agent(struct og_core *rt, const char *email, const char *groups, int max, char id[48])
{
    char body[256];
    if (max >= 0)
        snprintf(body, sizeof body,
                 "{\"name\":\"%s\",\"email\":\"%s\",\"groups\":%s,"
                 "\"max_chats\":%d,\"max_nrt_chats\":1}",
                 email, email, groups, max);
    else
        snprintf(body, sizeof body, "{\"name\":\"%s\",\"email\":\"%s\",\"groups\":%s}", email,
                 email, groups);
    json_object *j = json_tokener_parse(body);
    struct og_agent_fields f;
    char err[160];
    CHECK_INT(og_agents_fields_from_json(j, 1, &f, err, sizeof err), 0);
    json_object_put(j);
    usleep(2000); /* distinct ms: ids sort in creation order */
    og_id_new("agt_", og_now_ms(), id, 48);
    struct og_routing_result res;
    og_agents_put(rt, "create", id, NULL, &f, &res);
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
    og_agent_fields_free(&f);
}

static void presence(struct og_core *rt, const char *id, const char *st)
{
    struct og_routing_result res;
    og_routing_presence(rt, id, st, &res);
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
}

static char *field(const char *sid, const char *f)
{
    return rstr("HGET {t}:ses:%s %s", sid, f);
}

static int drain(struct og_core *rt, const char *policy)
{
    int n = 0;
    CHECK_INT(og_routing_drain(rt, policy, 100, 400, &n), OG_OK);
    return n;
}

static void close_s(struct og_core *rt, const char *sid)
{
    struct og_routing_result res;
    og_routing_close(rt, &as_admin, sid, "solved", NULL, 0, &res);
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
}

static int agent_is(const char *sid, const char *aid)
{
    char *a = field(sid, "agent_id");
    int ok = strcmp(a, aid) == 0;
    if (!ok)
        fprintf(stderr, "  session %s: agent %s, expected %s\n", sid, a, aid);
    free(a);
    return ok;
}

/* "NAME":{one level "l" of group g with METHOD} */
#define ONE(name, method)                                                                          \
    "\"" name "\":{\"levels\":[{\"name\":\"l\",\"members\":[\"group:g\"],"                         \
    "\"method\":\"" method "\"}]}"

/* A core (an instance) with these policies on the test Redis. */
static struct og_core *engine(const char *policies)
{
    json_object *pj = policies ? json_tokener_parse(policies) : NULL;
    struct og_routing_opts o = {
        .policies = pj, .archive_after_s = 3600, .offline_returns_sessions = 1};
    struct og_core *rt = og_test_core_new_routing(&rs, "t", 2, &o);
    json_object_put(pj);
    CHECK(rt != NULL);
    return rt;
}

static void reset(void)
{
    free(og_test_redis_cli(&rs, "FLUSHALL"));
}

/* -------------------------------------------------------------- methods */

static void test_methods(void)
{
    reset();
    struct og_core *rt = engine("{" ONE("lc", "least_chats") "," ONE("mc", "most_chats") "," ONE(
        "ms", "most_space") "," ONE("sq", "sequential") "," ONE("rn", "random") "}");
    char a[48], b[48], c[48], s[48];
    agent(rt, "a@x.io", "[\"g\"]", 5, a);
    agent(rt, "b@x.io", "[\"g\"]", 10, b);
    agent(rt, "c@x.io", "[\"g\"]", 3, c);
    presence(rt, a, "online");
    presence(rt, b, "online");
    presence(rt, c, "online");
    /* constructed loads: a 4/5 (space 1), b 6/10 (space 4), c 3/3 (full) */
    rint_("HSET {t}:agent:%s chats 4", a);
    rint_("HSET {t}:agent:%s chats 6", b);
    rint_("HSET {t}:agent:%s chats 3", c);

    new_session("lc", 0, s);
    CHECK_INT(drain(rt, "lc"), 1);
    CHECK(agent_is(s, a)); /* least chats among those with space (c is full) */
    CHECK_INT(rint_("HGET {t}:agent:%s chats", a), 5);
    close_s(rt, s);
    CHECK_INT(rint_("HGET {t}:agent:%s chats", a), 4);

    new_session("mc", 0, s);
    CHECK_INT(drain(rt, "mc"), 1);
    CHECK(agent_is(s, b)); /* the busiest that still has space */
    close_s(rt, s);

    rint_("HSET {t}:agent:%s chats 9", b); /* b: space 1 (c stays full) */
    rint_("HSET {t}:agent:%s chats 1", a); /* a: space 4, the most */
    new_session("ms", 0, s);
    CHECK_INT(drain(rt, "ms"), 1);
    CHECK(agent_is(s, a));
    close_s(rt, s);

    /* sequential: round robin in id order, resuming after the last one */
    rint_("HSET {t}:agent:%s chats 0", a);
    rint_("HSET {t}:agent:%s chats 0", b);
    rint_("HSET {t}:agent:%s chats 0", c);
    const char *order[] = {a, b, c, a, b};
    for (int i = 0; i < 5; i++) {
        new_session("sq", 0, s);
        CHECK_INT(drain(rt, "sq"), 1);
        CHECK(agent_is(s, order[i]));
        close_s(rt, s);
    }
    /* a new engine (another instance, or a restart) resumes at c */
    struct og_core *rt2 = engine("{" ONE("sq", "sequential") "}");
    new_session("sq", 0, s);
    CHECK_INT(drain(rt2, "sq"), 1);
    CHECK(agent_is(s, c));
    close_s(rt2, s);
    og_core_free(rt2);

    /* random: over 60 sessions every member is picked several times */
    int hits[3] = {0};
    for (int i = 0; i < 60; i++) {
        new_session("rn", 0, s);
        drain(rt, "rn");
        char *x = field(s, "agent_id");
        hits[0] += !strcmp(x, a), hits[1] += !strcmp(x, b), hits[2] += !strcmp(x, c);
        free(x);
        close_s(rt, s);
    }
    CHECK_INT(hits[0] + hits[1] + hits[2], 60);
    CHECK(hits[0] > 5 && hits[1] > 5 && hits[2] > 5);
    og_core_free(rt);
}

/* ------------------------------------------------ capacity, queue order */

static void test_capacity_queue(void)
{
    reset();
    struct og_core *rt = engine(NULL); /* the implicit default: all agents, least_chats */
    char a[48], s[6][48];
    agent(rt, "a@x.io", "[]", 2, a);
    for (int i = 0; i < 5; i++)
        new_session("default", 0, s[i]);
    CHECK_INT(drain(rt, "default"), 0); /* nobody online: all wait */
    CHECK_INT(rint_("ZCARD {t}:queue:default"), 5);
    presence(rt, a, "online");
    CHECK_INT(drain(rt, "default"), 2);
    CHECK(agent_is(s[0], a) && agent_is(s[1], a)); /* oldest first */
    CHECK_INT(rint_("HGET {t}:agent:%s chats", a), 2);
    CHECK_INT(drain(rt, "default"), 0); /* full */
    char *st = field(s[2], "status");
    CHECK_STR(st, "new");
    free(st);
    close_s(rt, s[1]);
    CHECK_INT(drain(rt, "default"), 1);
    CHECK(agent_is(s[2], a));
    CHECK_INT(rint_("SCARD {t}:agent:%s:sessions", a), 2);
    st = field(s[2], "status");
    CHECK_STR(st, "active");
    free(st);
    /* a manager cannot push the agent over capacity either */
    struct og_routing_result res;
    og_routing_assign(rt, &as_admin, s[3], a, &res);
    CHECK_INT(res.err, OG_ERR_CONFLICT);
    og_routing_result_free(&res);
    og_routing_assign(rt, (struct og_viewer[]){as_mgr(a)}, s[3], NULL, &res); /* nor a take */
    CHECK_INT(res.err, OG_ERR_CONFLICT);
    og_routing_result_free(&res);

    /* e-mail sessions count against max_nrt_chats (1), not max_chats */
    char m1[48], m2[48];
    new_session("default", 1, m1);
    new_session("default", 1, m2);
    CHECK_INT(drain(rt, "default"), 1);
    CHECK(agent_is(m1, a));
    CHECK_INT(rint_("HGET {t}:agent:%s nrt", a), 1);
    CHECK_INT(rint_("HGET {t}:agent:%s chats", a), 2);

    /* offline returns the open sessions to the queue */
    presence(rt, a, "offline");
    CHECK_INT(rint_("HGET {t}:agent:%s chats", a), 0);
    CHECK_INT(rint_("HGET {t}:agent:%s nrt", a), 0);
    CHECK_INT(rint_("SCARD {t}:agent:%s:sessions", a), 0);
    st = field(s[0], "status");
    CHECK_STR(st, "new");
    free(st);
    CHECK_INT(rint_("ZSCORE {t}:queue:default %s", s[0]) > 0, 1);
    CHECK_INT(rint_("HEXISTS {t}:agent:%s:presence online", a), 1); /* time recorded */
    CHECK_INT(drain(rt, "default"), 0);
    /* away: not routed to, nothing returned */
    presence(rt, a, "away");
    CHECK_INT(drain(rt, "default"), 0);
    presence(rt, a, "online");
    CHECK_INT(drain(rt, "default"), 3); /* 2 live + 1 e-mail */
    CHECK_INT(rint_("HGET {t}:agent:%s chats", a), 2);
    og_core_free(rt);
}

/* ------------------------------------------------- levels, forwarding */

static void test_levels_forwarding(void)
{
    reset();
    struct og_core *rt =
        engine("{\"p\":{\"levels\":[{\"name\":\"first\",\"members\":[\"group:l1\"],"
               "\"method\":\"least_chats\"},{\"name\":\"second\",\"members\":[\"agent:b@x.io\"],"
               "\"method\":\"least_chats\"}],\"forwarding_level\":{\"name\":\"experts\","
               "\"members\":[\"group:exp\"],\"method\":\"sequential\"}}}");
    char a[48], b[48], f[48], s1[48], s2[48];
    agent(rt, "a@x.io", "[\"l1\"]", 1, a);
    agent(rt, "b@x.io", "[]", 5, b);
    agent(rt, "f@x.io", "[\"exp\"]", 5, f);
    presence(rt, b, "online");
    presence(rt, f, "online");
    new_session("p", 0, s1);
    CHECK_INT(drain(rt, "p"), 1);
    CHECK(agent_is(s1, b)); /* level 1 has nobody online: level 2; never the forwarding level */
    char *lv = field(s1, "level");
    CHECK_STR(lv, "second");
    free(lv);
    presence(rt, a, "online");
    new_session("p", 0, s2);
    CHECK_INT(drain(rt, "p"), 1);
    CHECK(agent_is(s2, a));
    /* transfer without a target: the forwarding level takes it */
    struct og_routing_result res;
    og_routing_transfer(rt, (struct og_viewer[]){as_mgr(a)}, s2, NULL, NULL, "needs an expert",
                        &res);
    CHECK_INT(res.err, OG_OK);
    CHECK(res.json && strstr(res.json, "\"status\":\"active\""));
    og_routing_result_free(&res);
    CHECK(agent_is(s2, f));
    CHECK_INT(rint_("HGET {t}:agent:%s chats", a), 0);
    char *cm = field(s2, "transferred_comment");
    CHECK_STR(cm, "needs an expert");
    free(cm);
    /* the event carries the comment */
    char *ev = rstr("EVAL \"local e = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 20) "
                    "for _, x in ipairs(e) do if x[2][4] == 'session.transferred' then "
                    "return x[2][8] end end return ''\" 1 {t}:events");
    CHECK(strstr(ev, "needs an expert") != NULL);
    CHECK(strstr(ev, a) != NULL);
    free(ev);
    /* transfer to a group with nobody free: waits as "transferred" */
    presence(rt, f, "away");
    og_routing_transfer(rt, (struct og_viewer[]){as_mgr(f)}, s2, NULL, "exp", NULL, &res);
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
    char *st = field(s2, "status");
    CHECK_STR(st, "transferred");
    free(st);
    CHECK_INT(drain(rt, "p"), 0);
    presence(rt, f, "online");
    CHECK_INT(drain(rt, "p"), 1);
    CHECK(agent_is(s2, f));
    /* transfer to an agent: must be online with space */
    og_routing_transfer(rt, (struct og_viewer[]){as_mgr(NULL)}, s2, a, NULL, NULL, &res);
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
    CHECK(agent_is(s2, a));
    og_routing_transfer(rt, (struct og_viewer[]){as_mgr(NULL)}, s1, a, NULL, NULL,
                        &res); /* a is full (max 1) */
    CHECK_INT(res.err, OG_ERR_CONFLICT);
    og_routing_result_free(&res);
    og_routing_transfer(rt, (struct og_viewer[]){as_mgr(NULL)}, s1, NULL, "nosuch", NULL, &res);
    CHECK_INT(res.err, OG_ERR_NOT_FOUND);
    og_routing_result_free(&res);
    /* close, reopen, archive */
    close_s(rt, s2);
    og_routing_close(rt, &as_admin, s2, "solved", NULL, 0, &res);
    CHECK_INT(res.err, OG_ERR_CONFLICT); /* already closed */
    og_routing_result_free(&res);
    CHECK_INT(rint_("HGET {t}:agent:%s chats", a), 0);
    CHECK_INT(rint_("ZCARD {t}:timers:archive"), 1);
    og_routing_reopen(rt, &as_admin, s2, &res);
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
    CHECK(agent_is(s2, a)); /* reopened -> queued -> placed at once on level 1 */
    close_s(rt, s2);
    rint_("ZADD {t}:timers:archive 1 %s", s2); /* make it due */
    int moved, archived;
    CHECK_INT(og_routing_fire_timers(rt, 10, &moved, &archived), OG_OK);
    CHECK_INT(archived, 1);
    st = field(s2, "status");
    CHECK_STR(st, "archived");
    free(st);
    CHECK_INT(rint_("ZCARD {t}:timers:archive"), 0);
    og_core_free(rt);
}

/* ---------------------------------------------------------- auto-forward */

static void autoforward(int avoid)
{
    reset();
    char pol[512];
    snprintf(pol, sizeof pol,
             "{\"p\":{\"levels\":[{\"name\":\"one\",\"members\":[\"group:g1\"],"
             "\"method\":\"sequential\"},{\"name\":\"two\",\"members\":[\"group:g2\"],"
             "\"method\":\"least_chats\"}],"
             "\"auto_forward\":{\"after_s\":10,\"avoid_same_level\":%s}}}",
             avoid ? "true" : "false");
    struct og_core *rt = engine(pol);
    char a[48], b[48], c[48], s[48];
    agent(rt, "a@x.io", "[\"g1\"]", 5, a);
    agent(rt, "b@x.io", "[\"g1\"]", 5, b);
    agent(rt, "c@x.io", "[\"g2\"]", 5, c);
    presence(rt, a, "online");
    presence(rt, b, "online");
    presence(rt, c, "online");
    int64_t t0 = og_now_ms();
    new_session("p", 0, s);
    CHECK_INT(drain(rt, "p"), 1);
    CHECK(agent_is(s, a));
    long long due = rint_("ZSCORE {t}:timers:autoforward %s", s);
    CHECK(due >= t0 + 10000 && due <= og_now_ms() + 10000);
    int moved, archived;
    CHECK_INT(og_routing_fire_timers(rt, 10, &moved, &archived), OG_OK);
    CHECK_INT(moved, 0); /* not due yet */
    CHECK(agent_is(s, a));
    rint_("ZADD {t}:timers:autoforward %lld %s", (long long)og_now_ms() - 1, s); /* 10 s pass */
    CHECK_INT(og_routing_fire_timers(rt, 10, &moved, &archived), OG_OK);
    CHECK_INT(moved, 1);
    CHECK(agent_is(s, avoid ? c : b)); /* next level, or the next member of the same level */
    CHECK_INT(rint_("HGET {t}:agent:%s chats", a), 0);
    CHECK_INT(rint_("HGET {t}:agent:%s chats", avoid ? c : b), 1);
    CHECK_INT(rint_("ZCARD {t}:timers:autoforward"), 1); /* re-armed for the new agent */
    /* the agent answering (the reply script ZREMs the timer) stops it */
    rint_("ZREM {t}:timers:autoforward %s", s);
    CHECK_INT(og_routing_fire_timers(rt, 10, &moved, &archived), OG_OK);
    CHECK_INT(moved, 0);
    og_core_free(rt);
}

/* ------------------------------------------------------------ manual mode */

static void test_manual(void)
{
    reset();
    struct og_core *rt = engine("{\"m\":{\"mode\":\"manual\",\"levels\":[{\"name\":\"l\","
                                "\"members\":[\"group:g\"]}]}}");
    char a[48], s[48];
    agent(rt, "a@x.io", "[\"g\"]", 1, a);
    presence(rt, a, "online");
    new_session("m", 0, s);
    CHECK_INT(drain(rt, "m"), 0); /* nobody is pushed a session */
    struct og_routing_result res;
    og_routing_assign(rt, (struct og_viewer[]){as_mgr(a)}, s, NULL, &res);
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
    CHECK(agent_is(s, a));
    og_routing_assign(rt, (struct og_viewer[]){as_mgr(a)}, s, NULL, &res); /* again: idempotent */
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
    CHECK_INT(rint_("HGET {t}:agent:%s chats", a), 1);

    /* #14.17: in manual mode nothing is pushed on reopen either, nor on a
     * transfer to a group: the session waits in the queue to be taken */
    char b[48];
    agent(rt, "b@x.io", "[\"g\"]", 5, b);
    presence(rt, b, "online");
    og_routing_close(rt, &as_admin, s, "solved", NULL, 0, &res);
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
    og_routing_reopen(rt, &as_admin, s, &res);
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
    char *st = field(s, "status"), *ag = field(s, "agent_id");
    CHECK_STR(st, "new");
    CHECK_STR(ag, "");
    free(st), free(ag);
    og_routing_assign(rt, (struct og_viewer[]){as_mgr(a)}, s, NULL, &res);
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
    og_routing_transfer(rt, (struct og_viewer[]){as_mgr(a)}, s, NULL, "g", "for b", &res);
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
    st = field(s, "status"), ag = field(s, "agent_id");
    CHECK_STR(st, "transferred");
    CHECK_STR(ag, "");
    free(st), free(ag);
    og_core_free(rt);
}

/* ------------------------------------------------ the access rule (core) */

/* og_session_check: an agent sees its group's queue but acts (replies,
 * closes, transfers) only on its own sessions; a manager acts on any; a
 * session of another group's queue is not found for the agent. */
static void test_access_rule(void)
{
    reset();
    struct og_core *rt = engine("{" ONE("g1", "least_chats") "}");
    char a[48], s[48];
    agent(rt, "acc@x.io", "[\"g\"]", 5, a);
    new_session("g1", 0, s); /* queued: a is offline */
    const char *g[] = {"g"}, *other[] = {"h"};
    struct og_viewer ag = {OG_ROLE_AGENT, a, g, 1}, stranger = {OG_ROLE_AGENT, a, other, 1};
    char msg[160];
    CHECK_INT(og_session_check(rt, &ag, s, OG_SESSION_SEE, msg, sizeof msg), OG_OK);
    CHECK_INT(og_session_check(rt, &ag, s, OG_SESSION_ACT, msg, sizeof msg), OG_ERR_FORBIDDEN);
    CHECK(strstr(msg, "assigned agent") != NULL);
    CHECK_INT(og_session_check(rt, &stranger, s, OG_SESSION_SEE, NULL, 0), OG_ERR_NOT_FOUND);
    struct og_viewer m = as_mgr(NULL);
    CHECK_INT(og_session_check(rt, &m, s, OG_SESSION_ACT, NULL, 0), OG_OK);
    struct og_routing_result res;
    og_routing_assign(rt, &ag, s, NULL, &res); /* she takes it: now hers to act on */
    CHECK_INT(res.err, OG_OK);
    og_routing_result_free(&res);
    CHECK_INT(og_session_check(rt, &ag, s, OG_SESSION_ACT, NULL, 0), OG_OK);
    CHECK_INT(og_session_check(rt, &stranger, s, OG_SESSION_SEE, NULL, 0), OG_OK); /* her own */

    /* the same rule without Redis (the live stream's): it agrees with the
     * script for queued, group-queued, assigned and closed sessions */
    char q1[48], q2[48], b[48];
    agent(rt, "acc2@x.io", "[\"h\"]", 5, b);
    new_session("g1", 0, q1);
    new_session("g1", 0, q2);
    og_routing_transfer(rt, &as_admin, q2, NULL, "h", NULL, &res); /* queued for group h */
    og_routing_result_free(&res);
    const char *sids[] = {s, q1, q2};
    const char *none[] = {NULL};
    struct og_viewer vs[] = {ag,
                             stranger,
                             {OG_ROLE_AGENT, b, other, 1},
                             {OG_ROLE_AGENT, "agt_NOBODY", none, 0},
                             as_mgr(NULL)};
    for (size_t i = 0; i < 3; i++) {
        char *json = NULL;
        CHECK_INT(og_test_session_json(rt, sids[i], &json), OG_OK);
        json_object *j = json ? json_tokener_parse(json) : NULL;
        struct og_session_facts f;
        CHECK_INT(og_session_facts_of(j, &f), 0);
        for (size_t k = 0; k < sizeof vs / sizeof *vs; k++) {
            int by_script = og_session_check(rt, &vs[k], sids[i], OG_SESSION_SEE, NULL, 0) == OG_OK;
            CHECK_INT(og_session_visible(rt, &vs[k], &f), by_script);
        }
        json_object_put(j);
        free(json);
    }
    og_core_free(rt);
}

/* ---------------------------------------------- two engines, one Redis */

struct racer {
    struct og_core *rt;
    int assigned;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    for (int i = 0; i < 200; i++) {
        int n = 0;
        og_routing_drain(r->rt, "default", 3, 50, &n);
        r->assigned += n;
    }
    return NULL;
}

static void test_race(void)
{
    reset();
    struct og_core *r1 = engine(NULL), *r2 = engine(NULL);
    char ids[10][48], s[48];
    for (int i = 0; i < 10; i++) {
        char e[32];
        snprintf(e, sizeof e, "r%d@x.io", i);
        agent(r1, e, "[]", 3, ids[i]);
        presence(r1, ids[i], "online");
    }
    for (int i = 0; i < 60; i++)
        new_session("default", 0, s);
    struct racer x = {r1, 0}, y = {r2, 0};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, race, &x);
    pthread_create(&t2, NULL, race, &y);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CHECK_INT(x.assigned + y.assigned, 30); /* 10 agents x 3 */
    CHECK_INT(rint_("ZCARD {t}:queue:default"), 30);
    CHECK_INT(rint_("ZCARD {t}:idx:st:active"), 30);
    for (int i = 0; i < 10; i++) {
        CHECK_INT(rint_("HGET {t}:agent:%s chats", ids[i]), 3);
        CHECK_INT(rint_("SCARD {t}:agent:%s:sessions", ids[i]), 3);
    }
    og_core_free(r1);
    og_core_free(r2);
}

/* ---------------------------------------------- timers, two engines */

struct firer {
    struct og_core *rt;
    int moved;
};

static void *fire(void *arg)
{
    struct firer *f = arg;
    for (int i = 0; i < 50; i++) {
        int m = 0, a = 0;
        og_routing_fire_timers(f->rt, 3, &m, &a);
        f->moved += m;
    }
    return NULL;
}

static void test_timer_race(void)
{
    reset();
    const char *pol = "{\"p\":{\"levels\":[{\"name\":\"one\",\"members\":[\"group:g1\"]},"
                      "{\"name\":\"two\",\"members\":[\"group:g2\"]}],"
                      "\"auto_forward\":{\"after_s\":10,\"avoid_same_level\":true}}}";
    struct og_core *r1 = engine(pol), *r2 = engine(pol);
    char a[48], b[48], s[48];
    agent(r1, "a@x.io", "[\"g1\"]", -1, a);
    agent(r1, "b@x.io", "[\"g2\"]", -1, b);
    presence(r1, a, "online");
    for (int i = 0; i < 20; i++)
        new_session("p", 0, s);
    CHECK_INT(drain(r1, "p"), 20);
    presence(r1, b, "online");
    CHECK_INT(rint_("ZCARD {t}:timers:autoforward"), 20);
    /* all 20 due at once; two engines fire concurrently, 3 at a time */
    free(og_test_redis_cli(&rs, "EVAL \"for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) "
                                "do redis.call('ZADD', KEYS[1], 1, m) end\" 1 "
                                "{t}:timers:autoforward"));
    struct firer x = {r1, 0}, y = {r2, 0};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, fire, &x);
    pthread_create(&t2, NULL, fire, &y);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CHECK_INT(x.moved + y.moved, 20); /* each timer fired exactly once */
    CHECK_INT(rint_("HGET {t}:agent:%s chats", a), 0);
    CHECK_INT(rint_("HGET {t}:agent:%s chats", b), 20);
    CHECK_INT(rint_("EVAL \"local n = 0 for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', "
                    "'+')) do if e[2][4] == 'session.transferred' then n = n + 1 end end "
                    "return n\" 1 {t}:events"),
              20);
    og_core_free(r1);
    og_core_free(r2);
}

/* ------------------------------------------------------ IP allowlists */

static int allowed(const char *ip, const char *cidrs)
{
    struct sockaddr_storage ss = {0};
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &a6->sin6_addr);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &a4->sin_addr);
    }
    return og_ip_allowed((struct sockaddr *)&ss, cidrs);
}

static void test_ip_allowlist(void)
{
    const char *l = "[\"10.0.0.0/8\",\"192.168.1.7\",\"2001:db8::/32\"]";
    CHECK_INT(allowed("10.200.3.4", l), 1);
    CHECK_INT(allowed("11.0.0.1", l), 0);
    CHECK_INT(allowed("192.168.1.7", l), 1);
    CHECK_INT(allowed("192.168.1.8", l), 0);
    CHECK_INT(allowed("2001:db8:1::5", l), 1);
    CHECK_INT(allowed("2001:db9::5", l), 0);
    CHECK_INT(allowed("::ffff:10.1.2.3", l), 1); /* v4-mapped matches the v4 CIDR */
    CHECK_INT(allowed("::1", l), 0);
    CHECK_INT(allowed("1.2.3.4", "[]"), 1); /* empty list: everyone */
    CHECK_INT(allowed("1.2.3.4", "[\"0.0.0.0/0\"]"), 1);
    CHECK_INT(allowed("2001:db8::1", "[\"0.0.0.0/0\"]"), 0);
    CHECK_INT(allowed("10.0.0.1", "[\"10.0.0.0/31\"]"), 1);
    CHECK_INT(allowed("10.0.0.2", "[\"10.0.0.0/31\"]"), 0);
    CHECK_INT(og_cidr_valid("10.0.0.0/8"), 1);
    CHECK_INT(og_cidr_valid("2001:db8::/32"), 1);
    CHECK_INT(og_cidr_valid("10.0.0.0/33"), 0);
    CHECK_INT(og_cidr_valid("2001:db8::/129"), 0);
    CHECK_INT(og_cidr_valid("10.0.0/8"), 0);
    CHECK_INT(og_cidr_valid("10.0.0.0/"), 0);
    CHECK_INT(og_cidr_valid("host.example.com"), 0);
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    core = og_test_core_new(&rs, "t", 4);
    CHECK(core != NULL);
    test_methods();
    test_capacity_queue();
    test_levels_forwarding();
    autoforward(0);
    autoforward(1);
    test_manual();
    test_access_rule();
    test_race();
    test_timer_race();
    test_ip_allowlist();
    og_core_free(core);
    og_test_redis_stop(&rs);
    return og_test_done();
}
