/* test_webhooks_idle - the webhook dispatcher with no subscription: it must
 * not read and acknowledge every event (webhook_skip.lua moves the group to
 * the stream's end instead), and a subscription created through the API
 * must get every event appended after its creation, even the ones posted
 * the moment the API answered (before any dispatcher reloaded its copy of
 * the subscriptions: webhook_read.lua refuses a stale copy, and
 * webhook_step.lua does not claim with a lease made for one). */
#include "og_test.h"
#include "og_util.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define WHSEC "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static struct og_test_daemon d;
static struct og_test_redis rs;

static long post_msg(int i)
{
    char *body = og_sprintf("{\"id\":\"m-%d\",\"from\":{\"id\":\"u-%d\",\"name\":\"U\"},"
                            "\"text\":\"t-%d\"}",
                            i, i % 7, i);
    long st = og_test_post_signed(&d, "demo", SECRET, body, strlen(body));
    free(body);
    return st;
}

static long long cmdstat_calls(redisContext *rc, const char *cmd)
{
    redisReply *r = redisCommand(rc, "INFO commandstats");
    long long n = 0;
    char *key = og_sprintf("cmdstat_%s:calls=", cmd);
    const char *p = r && r->str ? strstr(r->str, key) : NULL;
    if (p)
        n = atoll(p + strlen(key));
    free(key);
    freeReplyObject(r);
    return n;
}

/* The group's last-delivered-id and the stream's last id. */
static int group_at_end(redisContext *rc)
{
    redisReply *s = redisCommand(rc, "XREVRANGE {og}:events + - COUNT 1");
    redisReply *g = redisCommand(rc, "XINFO GROUPS {og}:events");
    int at_end = 0;
    for (size_t i = 0; s && g && s->elements && i < g->elements; i++) {
        redisReply *f = g->element[i];
        const char *name = NULL, *last = NULL;
        for (size_t k = 0; k + 1 < f->elements; k += 2) {
            if (strcmp(f->element[k]->str, "name") == 0)
                name = f->element[k + 1]->str;
            if (strcmp(f->element[k]->str, "last-delivered-id") == 0)
                last = f->element[k + 1]->str;
        }
        if (name && last && strcmp(name, "webhooks") == 0)
            at_end = strcmp(last, s->element[0]->element[0]->str) == 0;
    }
    freeReplyObject(s);
    freeReplyObject(g);
    return at_end;
}

int main(void)
{
    if (og_test_redis_start(&rs) != 0)
        return 1;
    redisContext *rc = redisConnect("127.0.0.1", rs.port);
    struct og_fake *sink = og_fake_start();
    const char *channels = "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{"
                           "\"secret\":\"" SECRET "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]";
    if (og_test_daemon_start(&d, rs.url, channels, NULL) != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    usleep(300000); /* the dispatchers are up */
    redisReply *r = redisCommand(rc, "CONFIG RESETSTAT");
    freeReplyObject(r);

    /* no subscription: 60 messages (~180 events) are skipped, not read */
    for (int i = 0; i < 60; i++)
        CHECK_INT(post_msg(i), 200);
    int at_end = 0;
    for (int i = 0; i < 40 && !(at_end = group_at_end(rc)); i++)
        usleep(50000);
    CHECK(at_end);
    CHECK_INT(cmdstat_calls(rc, "xack"), 0);

    /* a subscription, and messages posted right after the API answered */
    char *body = og_sprintf("{\"id\":\"late\",\"url\":\"%s/late\",\"secret\":\"" WHSEC "\","
                            "\"events\":[\"message.received\"]}",
                            og_fake_base(sink));
    char *url = og_sprintf("%s/api/v1/webhooks", d.base);
    struct og_test_resp cr = og_test_http("POST", url,
                                          "Authorization: Bearer " OG_TEST_ADMIN_TOKEN
                                          "\nContent-Type: application/json",
                                          body, strlen(body));
    CHECK_INT(cr.status, 201);
    free(cr.body), free(url), free(body);
    for (int i = 100; i < 120; i++)
        CHECK_INT(post_msg(i), 200);
    for (int i = 0; i < 100 && og_fake_count(sink) < 20; i++)
        usleep(50000);
    usleep(300000);
    /* exactly the 20 new messages, each once (no retries: the sink says 200) */
    CHECK_INT((long long)og_fake_count(sink), 20);
    int seen[20] = {0};
    for (size_t i = 0; i < og_fake_count(sink); i++) {
        const struct og_fake_req *q = og_fake_get(sink, i);
        const char *t = q->body ? strstr(q->body, "\"text\":\"t-") : NULL;
        int n = t ? atoi(t + strlen("\"text\":\"t-")) : -1;
        if (!(n >= 100 && n < 120))
            fprintf(stderr, "body: %.*s\n", (int)q->body_len, q->body);
        CHECK(n >= 100 && n < 120);
        if (n >= 100 && n < 120)
            seen[n - 100]++;
    }
    for (int i = 0; i < 20; i++)
        CHECK_INT(seen[i], 1);

    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    redisFree(rc);
    og_fake_stop(sink);
    og_test_redis_stop(&rs);
    return og_test_done();
}
