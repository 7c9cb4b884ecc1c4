/* test_ingest_c - the C path of ingest (og_ingest.h) against ingest.lua, its
 * reference: one conversation script runs through a core that stores every
 * message by the script (keys {a}:...) and through one that stores the
 * common case in C (keys {b}:...), on one redis-server and one test clock.
 * Then every key of each (strings, hashes, sets, lists, the event stream:
 * every event's JSON) is dumped, each generated id replaced by its order
 * of first appearance, and the two dumps must be the same byte for byte.
 * The script covers what the C path writes (a session's second message,
 * which moves its first into the zset; a third; a platform's service
 * window; a reply token; an awaiting session made active; a dedup key that
 * is not the provider id; a message without a provider id; a locked
 * profile field; a channel with a goal and a survey after silence) and
 * what it must leave to the script (a new thread, a duplicate, a changed
 * profile, a closed session reopened, a thread whose session is gone while
 * the C path's hint still names it): the C path's count of messages is checked too, so a C path
 * that silently declined everything would fail. */
#include "og_core.h"
#include "og_test.h"
#include "og_util.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct og_connector plain_desc = {.name = "fake"};
static struct og_plugin plain_plugin = {.desc = &plain_desc};
/* a platform with a customer-service window (as WhatsApp's 24 hours) */
static struct og_connector window_desc = {.name = "fakewa", .messaging_window_ms = 86400000};
static struct og_plugin window_plugin = {.desc = &window_desc};
static struct og_channel c1 = {.id = "c1", .routing = "default", .plugin = &plain_plugin};
static struct og_channel w1 = {.id = "w1", .routing = "default", .plugin = &window_plugin};

static char clock_path[512];
static int64_t now_ms = 1764000000000LL;

static void tick(int64_t ms)
{
    now_ms += ms;
    FILE *f = fopen(clock_path, "w");
    fprintf(f, "%lld", (long long)now_ms);
    fclose(f);
}

struct step {
    const struct og_channel *ch;
    const char *dedup, *pmid, *from, *name, *text, *reply_token;
    int expect; /* session_created, or -1 for a duplicate */
};

static struct og_core *core_a, *core_b;
static struct og_test_redis rs;

/* Runs one message through both cores at the same instant; the session
 * ids each got go into sa and sb. */
static void run(const struct step *s, char *sa, char *sb)
{
    struct og_inbound m = {.struct_size = sizeof m,
                           .dedup_key = s->dedup,
                           .provider_message_id = s->pmid,
                           .kind = OG_KIND_TEXT,
                           .text = s->text,
                           .reply_token = s->reply_token,
                           .raw = "{\"raw\":1}",
                           .raw_len = 9};
    m.from.external_id = s->from;
    m.from.name = s->name;
    struct og_ingest_result ra, rb;
    tick(1000);
    CHECK(og_core_ingest(core_a, s->ch, &m, &ra) == OG_OK);
    CHECK(og_core_ingest(core_b, s->ch, &m, &rb) == OG_OK);
    CHECK_INT(ra.duplicate ? -1 : ra.session_created, s->expect);
    CHECK_INT(rb.duplicate ? -1 : rb.session_created, s->expect);
    if (sa)
        snprintf(sa, 48, "%s", ra.session_id);
    if (sb)
        snprintf(sb, 48, "%s", rb.session_id);
}

static redisContext *rc;

/* A command on both prefixes: fmt's first %s is the prefix letter, its
 * second (if any) the session id (a's, then b's); field "contact" instead
 * of a session id names the session's contact. */
static void both(const char *fmt, const char *sa, const char *sb, int contact)
{
    const char *x[] = {"a", "b"}, *sid[] = {sa ? sa : "", sb ? sb : ""};
    for (int i = 0; i < 2; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s", sid[i]);
        if (contact) {
            redisReply *c = redisCommand(rc, "HGET {%s}:ses:%s contact_id", x[i], sid[i]);
            CHECK(c && c->type == REDIS_REPLY_STRING);
            snprintf(id, sizeof id, "%s", c && c->str ? c->str : "");
            freeReplyObject(c);
        }
        redisReply *r = redisCommand(rc, fmt, x[i], id);
        CHECK(r && r->type != REDIS_REPLY_ERROR);
        freeReplyObject(r);
    }
}

/* --- the dump --- */

struct ids {
    char (*id)[32];
    size_t n, cap;
};

static int is_id_at(const char *p)
{
    static const char *const pre[] = {"con_", "ses_", "msg_", "evt_"};
    int ok = 0;
    for (int i = 0; i < 4; i++)
        ok |= strncmp(p, pre[i], 4) == 0;
    if (!ok)
        return 0;
    for (int i = 4; i < 30; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'Z')))
            return 0;
    return 1;
}

/* s with each generated id replaced by "<kind>#<n>", n its order of first
 * appearance (the map grows), and the prefix {x} by {P}. [xfer] */
static char *norm(struct ids *m, const char *s, size_t len)
{
    struct og_buf b = {0};
    for (size_t i = 0; i < len;) {
        if (i + 30 <= len && is_id_at(s + i)) {
            size_t k = 0;
            while (k < m->n && memcmp(m->id[k], s + i, 30) != 0)
                k++;
            if (k == m->n) {
                if (m->n == m->cap) {
                    m->cap = m->cap ? 2 * m->cap : 64;
                    m->id = og_realloc(m->id, m->cap * sizeof *m->id);
                }
                memcpy(m->id[m->n++], s + i, 30);
            }
            og_buf_printf(&b, "%.3s#%zu", s + i, k);
            i += 30;
        } else if (i + 3 <= len && s[i] == '{' && (s[i + 1] == 'a' || s[i + 1] == 'b') &&
                   s[i + 2] == '}') {
            og_buf_puts(&b, "{P}");
            i += 3;
        } else {
            og_buf_append(&b, s + i, 1);
            i++;
        }
    }
    return b.data;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct lines {
    char **v;
    size_t n, cap;
};

static void add(struct lines *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->v = og_realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = s;
}

/* Every key of prefix x as sorted lines "key type value...", ids
 * normalized; the event stream first, so ids number in event order. */
static char *dump(const char *x)
{
    struct ids m = {0};
    struct lines out = {0};
    redisReply *r = redisCommand(rc, "XRANGE {%s}:events - +", x);
    CHECK(r && r->type == REDIS_REPLY_ARRAY);
    for (size_t i = 0; r && i < r->elements; i++) {
        redisReply *f = r->element[i]->element[1];
        struct og_buf e = {0};
        og_buf_printf(&e, "{P}:events #%04zu", i);
        for (size_t j = 0; j < f->elements; j++) {
            og_buf_puts(&e, " ");
            og_buf_append(&e, f->element[j]->str, f->element[j]->len);
        }
        add(&out, norm(&m, e.data, e.len));
        og_buf_free(&e);
    }
    freeReplyObject(r);
    r = redisCommand(rc, "KEYS {%s}:*", x);
    CHECK(r && r->type == REDIS_REPLY_ARRAY);
    for (size_t i = 0; r && i < r->elements; i++) {
        const char *key = r->element[i]->str;
        if (strstr(key, ":events"))
            continue;
        redisReply *t = redisCommand(rc, "TYPE %s", key), *v = NULL;
        redisReply *ttl = redisCommand(rc, "TTL %s", key);
        struct lines parts = {0};
        int sorted = 1;
        if (strcmp(t->str, "string") == 0)
            v = redisCommand(rc, "GET %s", key);
        else if (strcmp(t->str, "hash") == 0)
            v = redisCommand(rc, "HGETALL %s", key);
        else if (strcmp(t->str, "zset") == 0)
            v = redisCommand(rc, "ZRANGE %s 0 -1 WITHSCORES", key);
        else if (strcmp(t->str, "set") == 0)
            v = redisCommand(rc, "SMEMBERS %s", key);
        else if (strcmp(t->str, "list") == 0)
            v = redisCommand(rc, "LRANGE %s 0 -1", key), sorted = 0;
        CHECK(v != NULL);
        if (v && v->type == REDIS_REPLY_STRING) {
            add(&parts, norm(&m, v->str, v->len));
        } else if (v && v->type == REDIS_REPLY_ARRAY) {
            int pairs = strcmp(t->str, "hash") == 0 || strcmp(t->str, "zset") == 0;
            for (size_t j = 0; j < v->elements; j += pairs ? 2 : 1) {
                struct og_buf p = {0};
                og_buf_append(&p, v->element[j]->str, v->element[j]->len);
                if (pairs) {
                    og_buf_puts(&p, "=");
                    og_buf_append(&p, v->element[j + 1]->str, v->element[j + 1]->len);
                }
                add(&parts, norm(&m, p.data, p.len));
                og_buf_free(&p);
            }
        }
        if (sorted && parts.n)
            qsort(parts.v, parts.n, sizeof *parts.v, cmp_str);
        struct og_buf line = {0};
        char *nk = norm(&m, key, strlen(key));
        og_buf_printf(&line, "%s %s%s", nk, t->str, ttl->integer > 0 ? " (expires)" : "");
        free(nk);
        for (size_t j = 0; j < parts.n; j++) {
            og_buf_printf(&line, "\n    %s", parts.v[j]);
            free(parts.v[j]);
        }
        free(parts.v);
        add(&out, line.data);
        freeReplyObject(t);
        freeReplyObject(ttl);
        if (v)
            freeReplyObject(v);
    }
    freeReplyObject(r);
    qsort(out.v, out.n, sizeof *out.v, cmp_str);
    struct og_buf all = {0};
    for (size_t i = 0; i < out.n; i++) {
        og_buf_printf(&all, "%s\n", out.v[i]);
        free(out.v[i]);
    }
    free(out.v);
    free(m.id);
    return all.data;
}

int main(void)
{
    char *dir = og_test_tmpdir();
    snprintf(clock_path, sizeof clock_path, "%s/clock", dir);
    setenv("OMNIGATE_TEST_CLOCK", clock_path, 1);
    tick(0);
    if (og_test_redis_start(&rs) != 0) {
        fprintf(stderr, "cannot start redis-server\n");
        return 1;
    }
    struct og_core_opts oa = {
        .redis_url = rs.url, .pool_size = 2, .prefix = "a", .ingest_script_only = 1};
    struct og_core_opts ob = {.redis_url = rs.url, .pool_size = 2, .prefix = "b"};
    char err[256];
    core_a = og_core_new(&oa, err, sizeof err);
    core_b = og_core_new(&ob, err, sizeof err);
    CHECK(core_a && core_b);
    rc = redisConnect("127.0.0.1", rs.port);
    CHECK(rc && !rc->err);
    /* a goal and a survey after silence on c1 (as goals.lua's and
     * texts.lua's syncs write them) */
    both("HSET {%s}:goal:c1 event purchase days 3", NULL, NULL, 0);
    both("HSET {%s}:texts c1 {\"greeting\":1,\"cs\":600000}", NULL, NULL, 0);

    char a1[48], b1[48], a2[48], b2[48], a3[48], b3[48];
    struct step s1 = {&c1, "m1", "m1", "u1", "Ann", "hello", NULL, 1};
    run(&s1, a1, b1);
    /* its second message: m0 into the zset, the implied statistics fields */
    struct step s2 = {&c1, "m2", "m2", "u1", "Ann", "second", NULL, 0};
    run(&s2, NULL, NULL);
    struct step s3 = {&c1, "m3", "m3", "u1", "Ann", "third \"quoted\" / é", "rt-1", 0};
    run(&s3, NULL, NULL);
    /* a platform with a service window */
    struct step s4 = {&w1, "wa1", "wa1", "u2", "Bob", "hi", NULL, 1};
    run(&s4, a2, b2);
    struct step s5 = {&w1, "wa2", "wa2", "u2", "Bob", "still here", NULL, 0};
    run(&s5, NULL, NULL);
    /* an agent's reply made the session wait for the customer: his answer
     * makes it active (session.status_changed first) */
    struct step s6 = {&c1, "m6", "m6", "u3", "Cy", "need help", NULL, 1};
    run(&s6, a3, b3);
    /* its times as a reply and a later change wrote them: the message
     * renders the later of each stored one and its own (og_render_session) */
    both("HSET {%s}:ses:%s status awaiting agent_id agt_1 group sales last_message_at "
         "2000-01-01T00:00:00.000Z updated_at 2099-01-01T00:00:00.000Z",
         a3, b3, 0);
    both("ZREM {%s}:idx:st:new %s", a3, b3, 0);
    both("ZADD {%s}:idx:st:awaiting 0 %s", a3, b3, 0);
    /* the survey after silence is armed (outbox_reply.lua): it moves */
    both("ZADD {%s}:timers:csat 1 %s", a3, b3, 0);
    struct step s7 = {&c1, "m7", "m7", "u3", "Cy", "thanks", NULL, 0};
    run(&s7, NULL, NULL);
    /* a delivery key that is not the message id; no provider id at all */
    struct step s8 = {&c1, "upd-8", "m8", "u1", "Ann", "eight", NULL, 0};
    run(&s8, NULL, NULL);
    struct step s9 = {&c1, "upd-9", NULL, "u1", "Ann", "nine", NULL, 0};
    run(&s9, NULL, NULL);
    /* a duplicate, by provider id and by delivery key: the script's */
    struct step s8b = {&c1, "upd-8", "m8x", "u1", "Ann", "eight", NULL, -1};
    s2.expect = -1;
    run(&s2, NULL, NULL);
    run(&s8b, NULL, NULL);
    /* the business locked the name: a new name from the platform is
     * ignored (the C path); an unlocked change is the script's */
    both("HSET {%s}:con:%s locked name", a2, b2, 1);
    struct step s11 = {&w1, "wa3", "wa3", "u2", "Robert", "renamed", NULL, 0};
    run(&s11, NULL, NULL);
    struct step s14 = {&c1, "m14", "m14", "u3", "Cyrus", "call me Cyrus", NULL, 0};
    run(&s14, NULL, NULL);
    /* u2's session and thread are gone (as an erasure leaves them) while
     * the C path's hint still names them: the hint is checked, the script
     * starts a new session, and the C path stores the next message */
    both("DEL {%s}:ses:%s", a2, b2, 0);
    for (int i = 0; i < 2; i++) {
        redisReply *x = redisCommand(
            rc, "EVAL %s 1 {%s} u2",
            "return redis.call('HDEL', KEYS[1] .. ':th:w1:' .. redis.sha1hex(ARGV[1]):sub(1, 3), "
            "ARGV[1])",
            i ? "b" : "a");
        CHECK(x && x->type == REDIS_REPLY_INTEGER && x->integer == 1);
        freeReplyObject(x);
    }
    struct step s15 = {&w1, "wa4", "wa4", "u2", "Robert", "anyone?", NULL, 1};
    run(&s15, NULL, NULL);
    struct step s16 = {&w1, "wa5", "wa5", "u2", "Robert", "hello?", NULL, 0};
    run(&s16, NULL, NULL);
    /* closed, then the customer writes again: a reopen, the script's */
    both("HSET {%s}:ses:%s status closed closed_at 2025-11-24T16:00:00.000Z", a1, b1, 0);
    both("ZREM {%s}:idx:st:new %s", a1, b1, 0);
    both("ZADD {%s}:idx:st:closed 0 %s", a1, b1, 0);
    struct step s12 = {&c1, "m12", "m12", "u1", "Ann", "back again", NULL, 2};
    run(&s12, NULL, NULL);
    struct step s13 = {&c1, "m13", "m13", "u1", "Ann", "and more", NULL, 0};
    run(&s13, NULL, NULL);

    unsigned long long direct_a, conf_a, direct_b, conf_b;
    og_core_ingest_direct(core_a, &direct_a, &conf_a);
    og_core_ingest_direct(core_b, &direct_b, &conf_b);
    CHECK_INT((int)direct_a, 0);
    /* s2 s3 s5 s7 s8 s9 s11 s16 s13 */
    CHECK_INT((int)direct_b, 9);
    CHECK_INT((int)conf_b, 0);

    char *da = dump("a"), *db = dump("b");
    if (strcmp(da, db) != 0) {
        const char *p = da, *q = db;
        int line = 1;
        while (*p && *p == *q) {
            if (*p == '\n')
                line++;
            p++, q++;
        }
        fprintf(stderr, "the dumps differ at line %d:\n--- script:\n%.600s\n--- C:\n%.600s\n", line,
                p, q);
        FILE *f = fopen("/tmp/og-ingest-c.a", "w");
        if (f)
            fputs(da, f), fclose(f);
        f = fopen("/tmp/og-ingest-c.b", "w");
        if (f)
            fputs(db, f), fclose(f);
    }
    CHECK(strcmp(da, db) == 0);
    if (strcmp(da, db) == 0)
        printf("%zu bytes of dump, the same\n", strlen(da));
    free(da);
    free(db);
    redisFree(rc);
    og_core_free(core_a);
    og_core_free(core_b);
    og_test_redis_stop(&rs);
    og_test_rmdir(dir);
    free(dir);
    return og_test_done();
}
