/* bench_failover - Redis Sentinel failover as a platform sees it (#23): a
 * master, two replicas and three sentinels on 127.0.0.1 (quorum 2,
 * down-after-milliseconds as given), one omnigate with redis.durability
 * "replicated" (WAIT for one replica) that finds the master through them.
 *
 *   1. steady ingest: signed 1 KB POSTs over 32 keep-alive connections
 *      (og_bench): req/s and latency through the sentinels' master;
 *   2. failover: 8 platforms post one message after the other; the master
 *      is killed with SIGKILL; printed: the last 2xx before the kill, when
 *      a replica answers ROLE "master" (the promotion), the first 2xx after
 *      the promotion, and how many posts got 503 meanwhile.
 *
 * usage: bench_failover [steady requests (default 20000)] [max seconds (10)]
 *                       [down-after ms (1000)] */
#include "og_bench.h"
#include "og_test.h"
#include "og_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "bench-secret"
#define PLATFORMS 8

static struct og_test_daemon d;
static atomic_int stop;
static atomic_llong last_ok_ms, first_ok_after_ms, promo_ms, not_ok;
static atomic_llong kill_ms;

static void *platform(void *arg)
{
    int p = (int)(intptr_t)arg;
    for (int k = 0; !atomic_load(&stop) && k < 1000000; k++) {
        char *b = og_sprintf("{\"id\":\"f%d-%d\",\"from\":{\"id\":\"u-%d\"},\"text\":\"f\"}", p, k,
                             k % 50);
        long st = og_test_post_signed(&d, "bench", SECRET, b, strlen(b));
        free(b);
        long long now = og_mono_ms();
        if (st >= 200 && st < 300) {
            if (!atomic_load(&kill_ms))
                atomic_store(&last_ok_ms, now);
            long long pr = atomic_load(&promo_ms), zero = 0;
            if (pr && now >= pr)
                atomic_compare_exchange_strong(&first_ok_after_ms, &zero, now);
        } else {
            atomic_fetch_add(&not_ok, 1);
            usleep(10000); /* a platform backs off a little */
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 20000;
    double max_s = argc > 2 ? atof(argv[2]) : 10.0;
    int down_after = argc > 3 ? atoi(argv[3]) : 1000;
    struct og_test_ha ha;
    if (og_test_ha_start(&ha, down_after) != 0)
        return 1;
    const char *ch =
        "[{\"id\":\"bench\",\"connector\":\"signed_json\",\"options\":{\"secret\":\"" SECRET
        "\",\"reply_url\":\"http://127.0.0.1:9/\"}}]";
    char *redis = og_sprintf("{\"sentinels\":%s,\"master_name\":\"mymaster\",\"durability\":"
                             "\"replicated\",\"wait_replicas\":1}",
                             ha.sentinels_json);
    if (og_test_daemon_start(&d, redis, ch, "\"log_level\":\"warn\"") != 0) {
        og_test_ha_stop(&ha);
        return 1;
    }
    free(redis);

    /* 1. steady */
    char pad[1024];
    memset(pad, 'x', sizeof pad);
    pad[sizeof pad - 1] = 0;
    struct og_bench_req *reqs = og_calloc(n, sizeof *reqs);
    for (size_t i = 0; i < n; i++) {
        reqs[i].url = og_sprintf("%s/hooks/bench", d.base);
        reqs[i].body = og_sprintf("{\"id\":\"b-%zu\",\"from\":{\"id\":\"u-%zu\"},\"text\":\"%s\"}",
                                  i, i % 1000, pad);
        reqs[i].len = strlen(reqs[i].body);
        reqs[i].headers = og_test_signed_headers(SECRET, reqs[i].body, reqs[i].len);
    }
    struct og_bench_result r = og_bench_run(reqs, n, 32, max_s);
    og_bench_print("ingest through sentinels, durability replicated (steady)", &r);
    og_bench_free(reqs, n);

    /* 2. failover */
    pthread_t th[PLATFORMS];
    for (int i = 0; i < PLATFORMS; i++)
        pthread_create(&th[i], NULL, platform, (void *)(intptr_t)i);
    sleep(2);
    long long t_kill = og_mono_ms();
    atomic_store(&kill_ms, t_kill);
    og_test_redis_kill(&ha.server[0]);
    int promoted = -1;
    while (promoted < 0 && og_mono_ms() - t_kill < 60000) {
        promoted = og_test_ha_master(&ha);
        if (promoted < 0)
            usleep(5000);
    }
    long long t_promo = og_mono_ms();
    atomic_store(&promo_ms, t_promo);
    while (!atomic_load(&first_ok_after_ms) && og_mono_ms() - t_promo < 60000)
        usleep(5000);
    atomic_store(&stop, 1);
    for (int i = 0; i < PLATFORMS; i++)
        pthread_join(th[i], NULL);
    long long first = atomic_load(&first_ok_after_ms);
    printf("failover (down-after-milliseconds %d, %d platforms posting one after the other):\n"
           "  last 2xx before the kill    %lld ms before it\n"
           "  promotion (ROLE master)     %lld ms after the kill%s\n"
           "  first 2xx after promotion   %lld ms after the promotion (%lld ms after the kill)\n"
           "  posts answered 503 meanwhile %lld\n",
           down_after, PLATFORMS, t_kill - atomic_load(&last_ok_ms), t_promo - t_kill,
           promoted < 0 ? " (none in 60 s)" : "", first ? first - t_promo : -1LL,
           first ? first - t_kill : -1LL, (long long)atomic_load(&not_ok));
    og_test_daemon_stop(&d);
    og_test_daemon_free(&d);
    og_test_ha_stop(&ha);
    return first ? 0 : 1;
}
