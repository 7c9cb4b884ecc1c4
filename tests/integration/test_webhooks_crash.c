/* test_webhooks_crash - at-least-once across kill -9: 2,000 inbound
 * messages are POSTed through the example connector "signed_json" to
 * instance A while A and a second instance B (same Redis) deliver to a sink.
 * Half-way through the burst A is killed with SIGKILL (transfers in flight,
 * queues leased; reading and queuing are one script, so nothing is read
 * and not queued); the next 500 messages go to B, which must take over A's
 * pending work (its queues fall due when their leases expire);
 * then A is restarted and gets the rest. The posts that got no answer are
 * posted again (a platform retries unacknowledged webhooks). Afterwards every
 * event in {og}:events must have reached the sink at least once (by
 * webhook-id), every one of the 2,000 messages must be among the
 * message.received deliveries, in each session first arriving in stream
 * order, every delivery must carry a valid signature, and nothing may be left
 * pending. */
#include "og_test.h"
#include "og_util.h"
#include "og_webhooks.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "s3cret-key"
#define WHSEC "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define N_MSG 2000
#define KILL_AT 1000

static struct og_test_daemon d, d2;

static long post_to(struct og_test_daemon *to, int i)
{
    char *body = og_sprintf("{\"id\":\"m-%d\",\"from\":{\"id\":\"u-%d\",\"name\":\"U %d\"},"
                            "\"text\":\"message %d\"}",
                            i, i % 50, i % 50, i);
    long st = og_test_post_signed(to, "demo", SECRET, body, strlen(body));
    free(body);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One delivery as the sink saw it: the event id and its position. */
struct arrival {
    char id[64];
    size_t at;
};

static int cmp_arrival_id(const void *a, const void *b)
{
    return strcmp(((const struct arrival *)a)->id, ((const struct arrival *)b)->id);
}

static int cmp_arrival(const void *a, const void *b)
{
    int c = cmp_arrival_id(a, b);
    size_t x = ((const struct arrival *)a)->at, y = ((const struct arrival *)b)->at;
    return c ? c : (x > y) - (x < y);
}

int main(void)
{
    struct og_test_redis rs;
    if (og_test_redis_start(&rs) != 0)
        return 1;
    struct og_fake *sink = og_fake_start();
    const char *channels = "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{"
                           "\"secret\":\"" SECRET "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]";
    char *extra = og_sprintf("\"webhooks\":[{\"id\":\"all\",\"url\":\"%s/hook\",\"secret\":\"" WHSEC
                             "\",\"events\":[\"*\"],\"retry_schedule_s\":[0,1,1,2],"
                             "\"timeout_ms\":2000}],"
                             "\"webhook_dispatch\":{\"concurrency\":64}",
                             og_fake_base(sink));
    if (og_test_daemon_start(&d, rs.url, channels, extra) != 0 ||
        og_test_daemon_start(&d2, rs.url, channels, extra) != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }
    free(extra);

    /* the burst, with a kill -9 of A in the middle */
    int *unanswered = og_calloc(N_MSG, sizeof *unanswered);
    int n_unanswered = 0, killed_with_inflight = 0;
    int64_t deadline = og_mono_ms() + 120000;
    struct og_test_daemon *to = &d;
    for (int i = 0; i < N_MSG && og_mono_ms() < deadline; i++) {
        if (i == KILL_AT) {
            size_t delivered = og_fake_count(sink);
            og_test_daemon_kill(&d);
            killed_with_inflight = delivered > 0;
            fprintf(stderr, "killed A after %d posts, %zu deliveries so far\n", i, delivered);
            /* posts to A while it is down get no answer (the platform retries) */
            for (int k = 0; k < 5; k++, i++)
                if (post_to(&d, i) != 200)
                    unanswered[n_unanswered++] = i;
            to = &d2;
        }
        if (i == KILL_AT + 500) {
            CHECK_INT(og_test_daemon_restart(&d), 0);
            to = &d;
        }
        if (post_to(to, i) != 200)
            unanswered[n_unanswered++] = i;
    }
    CHECK(killed_with_inflight);
    CHECK(n_unanswered >= 5);
    for (int k = 0; k < n_unanswered; k++)
        CHECK_INT(post_to(&d2, unanswered[k]), 200);
    free(unanswered);

    /* every event of the stream reaches the sink */
    redisContext *rc = redisConnect("127.0.0.1", rs.port);
    redisReply *all = redisCommand(rc, "XRANGE {og}:events - +");
    size_t n_events = all ? all->elements : 0;
    CHECK(n_events >= N_MSG + 50 * 2); /* messages + contact/session per user */
    char **want = og_calloc(n_events ? n_events : 1, sizeof *want);
    for (size_t i = 0; i < n_events; i++) {
        redisReply *f = all->element[i]->element[1];
        for (size_t x = 0; x + 1 < f->elements; x += 2)
            if (strcmp(f->element[x]->str, "id") == 0)
                want[i] = og_strdup(f->element[x + 1]->str);
    }
    freeReplyObject(all);
    qsort(want, n_events, sizeof *want, cmp_str);

    size_t missing = n_events;
    int64_t until = og_mono_ms() + 90000;
    char **got = NULL;
    size_t n_got = 0, scanned = 0;
    while (og_mono_ms() < until) {
        size_t c = og_fake_count(sink);
        got = og_realloc(got, (c ? c : 1) * sizeof *got);
        for (; scanned < c; scanned++) {
            char id[64];
            const char *v = og_fake_header(og_fake_get(sink, scanned), "webhook-id", id, sizeof id);
            got[n_got++] = og_strdup(v ? v : "");
        }
        qsort(got, n_got, sizeof *got, cmp_str);
        missing = 0;
        for (size_t i = 0; i < n_events; i++)
            if (!bsearch(&want[i], got, n_got, sizeof *got, cmp_str))
                missing++;
        if (missing == 0)
            break;
        usleep(250000);
    }
    fprintf(stderr, "%zu events, %zu deliveries, %zu missing\n", n_events, n_got, missing);
    CHECK_INT(missing, 0);
    CHECK(n_got >= n_events);

    /* every message is among the message.received deliveries; all signed */
    char *seen = og_calloc(N_MSG, 1);
    int bad_sig = 0;
    for (size_t i = 0; i < og_fake_count(sink); i++) {
        const struct og_fake_req *q = og_fake_get(sink, i);
        char id[64], ts[32], sig[256], want_sig[128];
        og_fake_header(q, "webhook-id", id, sizeof id);
        og_fake_header(q, "webhook-timestamp", ts, sizeof ts);
        og_fake_header(q, "webhook-signature", sig, sizeof sig);
        og_webhook_sign(WHSEC, id, atoll(ts), q->body, q->body_len, want_sig, sizeof want_sig);
        bad_sig += strcmp(sig, want_sig) != 0;
        const char *t = strstr(q->body, "\"text\":\"message ");
        if (t && strstr(q->body, "\"type\":\"message.received\"")) {
            int k = atoi(t + strlen("\"text\":\"message "));
            if (k >= 0 && k < N_MSG)
                seen[k] = 1;
        }
    }
    CHECK_INT(bad_sig, 0);
    int n_seen = 0;
    for (int k = 0; k < N_MSG; k++)
        n_seen += seen[k];
    CHECK_INT(n_seen, N_MSG);
    free(seen);

    /* per-session order survived the kill: in each session, the
     * message.received events first reached the sink in stream order (the
     * sink records a request before it answers, and a session's next event
     * is sent only after that answer) */
    size_t n_req = og_fake_count(sink);
    struct arrival *arr = og_calloc(n_req ? n_req : 1, sizeof *arr);
    for (size_t i = 0; i < n_req; i++) {
        og_fake_header(og_fake_get(sink, i), "webhook-id", arr[i].id, sizeof arr[i].id);
        arr[i].at = i;
    }
    qsort(arr, n_req, sizeof *arr, cmp_arrival); /* by id, then first arrival */
    redisReply *ev = redisCommand(rc, "XRANGE {og}:events - +");
    struct {
        char ses[64];
        size_t last;
    } sessions[64];
    int n_ses = 0, out_of_order = 0, checked = 0;
    for (size_t i = 0; ev && i < ev->elements; i++) {
        redisReply *f = ev->element[i]->element[1];
        const char *eid = NULL, *ses = NULL, *type = NULL;
        for (size_t x = 0; x + 1 < f->elements; x += 2) {
            const char *k = f->element[x]->str, *v = f->element[x + 1]->str;
            eid = strcmp(k, "id") == 0 ? v : eid;
            ses = strcmp(k, "session") == 0 ? v : ses;
            type = strcmp(k, "type") == 0 ? v : type;
        }
        if (!eid || !ses || !type || strcmp(type, "message.received") != 0)
            continue;
        struct arrival key = {.at = 0};
        snprintf(key.id, sizeof key.id, "%s", eid);
        struct arrival *a = bsearch(&key, arr, n_req, sizeof *arr, cmp_arrival_id);
        while (a && a > arr && strcmp(a[-1].id, eid) == 0)
            a--; /* the first arrival */
        if (!a)
            continue; /* missing: reported above */
        int k = 0;
        while (k < n_ses && strcmp(sessions[k].ses, ses) != 0)
            k++;
        if (k == n_ses && n_ses < 64) {
            snprintf(sessions[n_ses].ses, sizeof sessions[n_ses].ses, "%s", ses);
            sessions[n_ses++].last = 0;
        } else if (k < n_ses) {
            out_of_order += a->at < sessions[k].last;
        }
        if (k < 64)
            sessions[k].last = a->at;
        checked++;
    }
    freeReplyObject(ev);
    free(arr);
    CHECK_INT(checked, N_MSG);
    CHECK_INT(n_ses, 50);
    CHECK_INT(out_of_order, 0);

    /* and the group has nothing pending once deliveries settle */
    long long pending = -1;
    for (int i = 0; i < 100; i++) {
        redisReply *r = redisCommand(rc, "XPENDING {og}:events webhooks");
        pending = r && r->type == REDIS_REPLY_ARRAY ? r->element[0]->integer : -1;
        freeReplyObject(r);
        if (pending == 0)
            break;
        usleep(100000);
    }
    CHECK_INT(pending, 0);

    if (og_test_failed) { /* show the daemon's side */
        char *cmd = og_sprintf("grep -v ' debug ' %s/omnigate.log | tail -n 40 >&2", d.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "(no log)\n");
        free(cmd);
    }
    for (size_t i = 0; i < n_events; i++)
        free(want[i]);
    for (size_t i = 0; i < n_got; i++)
        free(got[i]);
    free(want), free(got);
    redisFree(rc);
    CHECK_INT(og_test_daemon_stop(&d), 0);
    CHECK_INT(og_test_daemon_stop(&d2), 0);
    og_test_daemon_free(&d);
    og_test_daemon_free(&d2);
    og_fake_stop(sink);
    og_test_redis_stop(&rs);
    return og_test_done();
}
