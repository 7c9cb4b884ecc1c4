/* test_chaos_redis - the hardening probe "kill -9 and stop Redis mid-burst"
 * (#14, keep it that way): 1,200 signed messages are POSTed one after the
 * other to the daemon while its Redis is
 *   - killed with SIGKILL after 400 posts (the next posts must get 503, fast, and /readyz 503),
 * then restarted from its AOF;
 *   - frozen with SIGSTOP after 800 posts for 3 s (longer than the pool's
 *     command timeout: the posts in that window get 503 or, once Redis
 *     resumes, 200), then resumed with SIGCONT.
 * Every post that got no 2xx is posted again afterwards, as a platform
 * retries. Then every message must be stored exactly once: one
 * message.received event per message in {og}:events (the event is written
 * by the same script as the message), no duplicates from a command that
 * timed out on our side but ran on Redis's, and /readyz is 200 again. */
#include "og_test.h"
#include "og_util.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "chaos-secret"
#define N_MSG 1200
#define KILL_AT 400
#define STOP_AT 800
#define CHANNELS                                                                                   \
    "[{\"id\":\"demo\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET            \
    "\",\"reply_url\":\"http://127.0.0.1:9/r\"}}]"

static struct og_test_daemon d;

static long post(int i)
{
    char *body = og_sprintf("{\"id\":\"c-%d\",\"from\":{\"id\":\"u-%d\",\"name\":\"U %d\"},"
                            "\"text\":\"chaos %d\"}",
                            i, i % 40, i % 40, i);
    char *hdr = og_test_signed_headers(SECRET, body, strlen(body));
    char url[128];
    snprintf(url, sizeof url, "%s/hooks/demo", d.base);
    struct og_test_resp r = og_test_http("POST", url, hdr, body, strlen(body));
    free(r.body);
    free(hdr);
    free(body);
    return r.status;
}

static long readyz(void)
{
    char url[128];
    snprintf(url, sizeof url, "%s/readyz", d.base);
    struct og_test_resp r = og_test_http("GET", url, NULL, NULL, 0);
    free(r.body);
    return r.status;
}

int main(void)
{
    struct og_test_redis rs;
    if (og_test_redis_start_with(&rs, "--appendfsync always") != 0)
        return 1;
    if (og_test_daemon_start(&d, rs.url, CHANNELS, NULL) != 0) {
        og_test_redis_stop(&rs);
        return 1;
    }

    int *pending = og_calloc(N_MSG, sizeof *pending);
    int n_pending = 0, down_503 = 0, down_other = 0, ready_down = 0, stopped_posts = 0;
    int64_t slowest_down_ms = 0, deadline = og_mono_ms() + 120000;
    for (int i = 0; i < N_MSG && og_mono_ms() < deadline; i++) {
        if (i == KILL_AT) {
            og_test_redis_kill(&rs);
            for (int k = 0; k < 20; k++, i++) {
                int64_t t0 = og_mono_ms();
                long st = post(i);
                int64_t took = og_mono_ms() - t0;
                slowest_down_ms = took > slowest_down_ms ? took : slowest_down_ms;
                down_503 += st == 503;
                down_other += st != 503;
                pending[n_pending++] = i;
            }
            ready_down = readyz() == 503;
            CHECK_INT(og_test_redis_restart(&rs), 0);
        }
        if (i == STOP_AT) {
            kill(rs.pid, SIGSTOP);
            int64_t t0 = og_mono_ms();
            for (; og_mono_ms() - t0 < 3000 && i < N_MSG; i++, stopped_posts++) {
                long st = post(i);
                if (st < 200 || st > 299)
                    pending[n_pending++] = i;
            }
            kill(rs.pid, SIGCONT);
        }
        if (i >= N_MSG)
            break;
        long st = post(i);
        if (st < 200 || st > 299)
            pending[n_pending++] = i;
    }
    fprintf(stderr,
            "%d posts to retry; while Redis was dead: %d x 503, %d other, slowest %lld ms; "
            "%d posts while it was stopped\n",
            n_pending, down_503, down_other, (long long)slowest_down_ms, stopped_posts);
    CHECK_INT(down_503, 20); /* try later, not 500 */
    CHECK_INT(down_other, 0);
    CHECK(slowest_down_ms < 5000); /* a dead Redis is refused, not waited on for long */
    CHECK(ready_down);
    CHECK(stopped_posts >= 1);

    /* a platform retries what was not acknowledged, until it is */
    int unacked = 0;
    int64_t until = og_mono_ms() + 60000;
    for (int k = 0; k < n_pending; k++) {
        long st = 0;
        while ((st = post(pending[k])) != 200 && og_mono_ms() < until)
            usleep(100000);
        unacked += st != 200;
    }
    CHECK_INT(unacked, 0);
    free(pending);
    CHECK_INT(readyz(), 200);

    /* every message stored exactly once */
    unsigned char *seen = og_calloc(N_MSG, 1);
    int dups = 0, strays = 0;
    redisContext *rc = redisConnect("127.0.0.1", rs.port);
    redisReply *all = rc ? redisCommand(rc, "XRANGE {og}:events - +") : NULL;
    for (size_t e = 0; all && e < all->elements; e++) {
        redisReply *f = all->element[e]->element[1];
        const char *type = NULL, *data = NULL;
        for (size_t x = 0; x + 1 < f->elements; x += 2) {
            type = strcmp(f->element[x]->str, "type") == 0 ? f->element[x + 1]->str : type;
            data = strcmp(f->element[x]->str, "event") == 0 ? f->element[x + 1]->str : data;
        }
        if (!type || strcmp(type, "message.received") != 0)
            continue;
        const char *t = data ? strstr(data, "\"text\":\"chaos ") : NULL;
        int k = t ? atoi(t + strlen("\"text\":\"chaos ")) : -1;
        if (k < 0 || k >= N_MSG) {
            strays++;
            continue;
        }
        dups += seen[k] != 0;
        seen[k] = 1;
    }
    int n_seen = 0;
    for (int k = 0; k < N_MSG; k++)
        n_seen += seen[k];
    fprintf(stderr, "%d of %d messages stored, %d duplicates, %d strays\n", n_seen, N_MSG, dups,
            strays);
    CHECK_INT(n_seen, N_MSG);
    CHECK_INT(dups, 0);
    CHECK_INT(strays, 0);
    freeReplyObject(all);
    redisFree(rc);
    free(seen);

    CHECK_INT(og_test_daemon_stop(&d), 0);
    og_test_daemon_free(&d);
    og_test_redis_stop(&rs);
    return og_test_done();
}
