/* test_ingest_batch - group commit of ingest (core/og_batch.h) against a
 * real redis-server: 8 threads ingest 300 messages each at once, every
 * fourth a redelivery of an earlier one. Asserts that batches really formed
 * (fewer script calls than messages), that each caller got its own answer
 * (the message id Redis stored for its provider id, "duplicate" exactly for
 * the redeliveries), and that every message is in its session once. */
#include "og_core.h"
#include "og_test.h"
#include "og_util.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 8
#define PER 300
/* a provider id's message (prelude.lua pmid_get: hash P:pm:<ch>:<first three
 * hex digits of the id's SHA-1>) */
#define PMID_GET "return redis.call('HGET', KEYS[1] .. redis.sha1hex(ARGV[1]):sub(1, 3), ARGV[1])"

static struct og_connector fake_desc = {.name = "fake"};
static struct og_plugin fake_plugin = {.desc = &fake_desc};
static struct og_channel chan = {.id = "c1", .routing = "default", .plugin = &fake_plugin};
static struct og_core *core;

struct answer {
    og_err err;
    int duplicate;
    char pmid[32], message_id[48];
};
static struct answer answers[THREADS][PER];

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < PER; i++) {
        /* every fourth message redelivers the one three before it */
        int n = i % 4 == 3 ? i - 3 : i;
        struct answer *a = &answers[t][i];
        snprintf(a->pmid, sizeof a->pmid, "p-%d-%d", t, n);
        char from[16], text[32];
        snprintf(from, sizeof from, "u-%d", (t * PER + n) % 50);
        snprintf(text, sizeof text, "text %d %d", t, n);
        struct og_inbound m = {.struct_size = sizeof m,
                               .dedup_key = a->pmid,
                               .kind = OG_KIND_TEXT,
                               .text = text,
                               .provider_message_id = a->pmid,
                               .raw = "{}",
                               .raw_len = 2};
        m.from.external_id = from;
        m.from.name = "Sender";
        struct og_ingest_result r;
        a->err = og_core_ingest(core, &chan, &m, &r);
        a->duplicate = r.duplicate;
        snprintf(a->message_id, sizeof a->message_id, "%s", r.message_id);
    }
    return NULL;
}

int main(void)
{
    struct og_test_redis rs;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    core = og_test_core_new(&rs, "t", 4);
    CHECK(core != NULL);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);

    unsigned long long batches = og_core_ingest_batches(core);
    printf("%d messages in %llu script calls\n", THREADS * PER, batches);
    CHECK(batches > 0 && batches < THREADS * PER);
    /* of the further messages in the 50 open sessions, the C path stored
     * some (og_ingest.h); the rest (a thread's second in one batch, a
     * batch that met a change) the script */
    unsigned long long direct, conflicts;
    og_core_ingest_direct(core, &direct, &conflicts);
    printf("%llu stored by the C path, %llu batches met a change\n", direct, conflicts);
    CHECK(direct > 0);

    redisContext *rc = redisConnect("127.0.0.1", rs.port);
    CHECK(rc && !rc->err);
    int errors = 0, wrong_dup = 0, wrong_id = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < PER; i++) {
            struct answer *a = &answers[t][i];
            errors += a->err != OG_OK;
            wrong_dup += a->duplicate != (i % 4 == 3);
            redisReply *r = redisCommand(rc, "EVAL %s 1 {t}:pm:c1: %s", PMID_GET, a->pmid);
            wrong_id += !r || r->type != REDIS_REPLY_STRING || strcmp(r->str, a->message_id);
            freeReplyObject(r);
        }
    CHECK_INT(errors, 0);
    CHECK_INT(wrong_dup, 0);
    CHECK_INT(wrong_id, 0);
    /* 3 of every 4 are new messages: each stored once, in one of 50 sessions */
    char *n = og_test_redis_cli(&rs, "EVAL \"local s = 0 for _, k in ipairs(redis.call('KEYS', "
                                     "'{t}:ses:*:msgs')) do s = s + redis.call('ZCARD', k) end "
                                     "return s\" 0");
    CHECK_INT(n ? atoi(n) : -1, THREADS * PER * 3 / 4);
    free(n);
    n = og_test_redis_cli(&rs, "XLEN {t}:events");
    /* per new message one message.received; per new contact/session two more */
    CHECK_INT(n ? atoi(n) : -1, THREADS * PER * 3 / 4 + 2 * 50);
    free(n);

    redisFree(rc);
    og_core_free(core);
    og_test_redis_stop(&rs);
    return og_test_done();
}
