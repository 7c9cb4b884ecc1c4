/* bench_email - the e-mail connector's figures: a dovecot of its own (IMAPS
 * with a test CA), a redis-server, the daemon with one e-mail channel and a
 * webhook subscription to an in-process sink (libmicrohttpd answering 204),
 * all on this machine. Every mail is ~10 KB of text/plain from its own
 * sender, so each one makes a session.
 *
 *   1. live, through IDLE: N mails put in over four LMTP connections as fast
 *      as dovecot takes them, with the daemon running; mails per second from
 *      the first delivery to the last session stored, and for each mail the
 *      time from its LMTP "250" to its message.received webhook, p50/p99;
 *   2. backlog: N more mails put in while the daemon is stopped, then the
 *      daemon starts; mails per second from its start to the last session
 *      stored (what the connector alone can do, delivery not in the way).
 *
 * Each phase prints the CPU each process spent per mail, and the backlog
 * phase Redis's busiest commands; "LMTP alone" is dovecot taking mail with
 * the daemon stopped, the ceiling of the live phase on this machine.
 *
 * usage: bench_email [mails (default 10000)] [KB per mail (default 10)]
 *                    [webhook subscription 1|0 (default 1; 0: the connector and
 *                     ingest without the webhook dispatcher's share)] */
#include "og_test.h"
#include "og_test_dovecot.h"
#include "og_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <hiredis/hiredis.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WHSEC "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define PROBE "\"provider_message_id\":\"bench-"

static int64_t *g_arrival_us; /* [n]: first message.received of mail i */
static long g_n;
static struct MHD_Response *g_204;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static enum MHD_Result sink(void *cls, struct MHD_Connection *c, const char *url,
                            const char *method, const char *version, const char *data, size_t *size,
                            void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version;
    if (!*con_cls) {
        *con_cls = (void *)1;
        return MHD_YES;
    }
    if (*size) {
        const char *p = memmem(data, *size, PROBE, sizeof PROBE - 1);
        if (p && memmem(data, *size, "\"message.received\"", 18)) {
            long i = atol(p + sizeof PROBE - 1);
            if (i >= 0 && i < g_n && g_arrival_us[i] == 0)
                g_arrival_us[i] = now_us();
        }
        *size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(c, 204, g_204);
}

static char *g_pad; /* the body text, ~KB per mail */

static char *make_mail(long i)
{
    return og_sprintf("From: Customer %ld <customer%ld@example.net>\r\n"
                      "To: Support <support@example.com>\r\nSubject: Question %ld\r\n"
                      "Message-ID: <bench-%ld@example.net>\r\n"
                      "Date: Mon, 8 Jan 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
                      i, i, i, i, g_pad);
}

struct feeder {
    const struct og_test_dovecot *dc;
    long first, step, end;
    int64_t *sent_us; /* may be NULL */
    int failed;
};

static void *feed(void *arg)
{
    struct feeder *f = arg;
    struct og_test_lmtp *l = og_test_lmtp_open(f->dc);
    for (long i = f->first; i < f->end; i += f->step) {
        char *m = make_mail(i);
        if (og_test_lmtp_send(l, "alice", "customer@example.net", m, strlen(m)) != 0)
            f->failed++;
        else if (f->sent_us)
            f->sent_us[i] = now_us();
        free(m);
    }
    og_test_lmtp_close(l);
    return NULL;
}

#define FEEDERS 4

/* Puts mails [first, end) in over FEEDERS LMTP connections (dovecot runs an
 * lmtp process for each); the failures. */
static int feed_all(const struct og_test_dovecot *dc, long first, long end, int64_t *sent_us)
{
    struct feeder f[FEEDERS];
    pthread_t th[FEEDERS];
    int failed = 0;
    for (int k = 0; k < FEEDERS; k++) {
        f[k] = (struct feeder){dc, first + k, FEEDERS, end, sent_us, 0};
        pthread_create(&th[k], NULL, feed, &f[k]);
    }
    for (int k = 0; k < FEEDERS; k++) {
        pthread_join(th[k], NULL);
        failed += f[k].failed;
    }
    return failed;
}

static long long sessions(redisContext *rc)
{
    redisReply *r = redisCommand(rc, "ZCARD {og}:idx:all");
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return n;
}

/* Waits until want sessions exist (or limit_s passed); the time then. */
static int64_t wait_sessions(redisContext *rc, long long want, int limit_s)
{
    int64_t end = now_us() + (int64_t)limit_s * 1000000;
    while (sessions(rc) < want && now_us() < end)
        usleep(5000);
    return now_us();
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* CPU time (user + system) a process used so far, in microseconds; with
 * children: also what its reaped children used (dovecot's imap and lmtp
 * processes are reaped by its master). 0 when it cannot be read. */
static int64_t cpu_us(pid_t pid, int children)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0, cut = 0, cst = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ut,
                     &st, &cut, &cst) != 4)
        return 0;
    return (int64_t)(ut + st + (children ? cut + cst : 0)) * 1000000 / sysconf(_SC_CLK_TCK);
}

/* dovecot's CPU: the master with its reaped children, plus the children
 * alive now (their parent is the master). */
static int64_t dovecot_cpu_us(pid_t master)
{
    int64_t t = cpu_us(master, 1);
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        long pid = atol(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        char *p = strrchr(buf, ')');
        long ppid = 0;
        if (p && sscanf(p + 2, "%*c %ld", &ppid) == 1 && ppid == (long)master)
            t += cpu_us((pid_t)pid, 0);
    }
    if (d)
        closedir(d);
    return t;
}

struct cpu {
    int64_t daemon, redis, dovecot, self;
};

static struct cpu cpu_now(const struct og_test_daemon *d, const struct og_test_redis *rs,
                          const struct og_test_dovecot *dc)
{
    struct cpu c = {cpu_us(d->pid, 0), cpu_us(rs->pid, 0), dovecot_cpu_us(dc->pid),
                    cpu_us(getpid(), 0)};
    return c;
}

static void cpu_print(const char *label, struct cpu a, struct cpu b, long mails)
{
    printf("%s CPU per mail: omnigate %.0f us, redis-server %.0f us, dovecot %.0f us, "
           "this program (LMTP client, webhook sink) %.0f us\n",
           label, (double)(b.daemon - a.daemon) / mails, (double)(b.redis - a.redis) / mails,
           (double)(b.dovecot - a.dovecot) / mails, (double)(b.self - a.self) / mails);
}

/* Redis's own view of the last phase: the commands and scripts that took
 * more than 2% of its time, per mail. */
static void redis_stats(struct og_test_redis *rs, long mails)
{
    char *stats = og_test_redis_cli(rs, "INFO commandstats");
    double total = 0;
    for (char *line = stats ? strtok(stats, "\r\n") : NULL; line; line = strtok(NULL, "\r\n")) {
        char name[64];
        long long calls = 0, usec = 0;
        if (sscanf(line, "cmdstat_%63[^:]:calls=%lld,usec=%lld", name, &calls, &usec) == 3)
            total += (double)usec;
    }
    free(stats);
    stats = og_test_redis_cli(rs, "INFO commandstats");
    for (char *line = stats ? strtok(stats, "\r\n") : NULL; line; line = strtok(NULL, "\r\n")) {
        char name[64];
        long long calls = 0, usec = 0;
        if (sscanf(line, "cmdstat_%63[^:]:calls=%lld,usec=%lld", name, &calls, &usec) == 3 &&
            (double)usec > 0.02 * total)
            printf("         redis %-10s %7lld calls, %6.1f us per mail\n", name, calls,
                   (double)usec / (double)mails);
    }
    free(stats);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    long kb = argc > 2 ? atol(argv[2]) : 10;
    int hooks = argc > 3 ? atoi(argv[3]) : 1;
    if (n < 1 || kb < 1)
        return 2;
    g_n = 2 * n;
    g_arrival_us = og_calloc((size_t)g_n, sizeof *g_arrival_us);
    int64_t *sent_us = og_calloc((size_t)g_n, sizeof *sent_us);
    struct og_buf pad = {0};
    while (pad.len < (size_t)kb * 1024 - 400)
        og_buf_puts(&pad, "The quick brown fox jumps over the lazy dog; my order is late.\r\n");
    g_pad = pad.data;

    g_204 = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *md = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD, 0, NULL, NULL, sink,
                                             NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                                             MHD_OPTION_CONNECTION_LIMIT, 1000u, MHD_OPTION_END);
    if (!md)
        return 1;
    int sink_port = MHD_get_daemon_info(md, MHD_DAEMON_INFO_BIND_PORT)->port;

    struct og_test_redis rs;
    struct og_test_dovecot dc;
    struct og_test_daemon d;
    if (og_test_redis_start(&rs) != 0 || og_test_dovecot_start(&dc, 1) != 0)
        return 1;
    char *ch = og_sprintf(
        "[{\"id\":\"mail\",\"connector\":\"email\",\"options\":{"
        "\"imap_url\":\"imaps://127.0.0.1:%d\",\"username\":\"alice\",\"password\":\"secret\","
        "\"ca_file\":\"%s\",\"smtp_url\":\"smtp://127.0.0.1:9\",\"smtp_starttls\":\"never\","
        "\"from\":\"Support <support@example.com>\",\"poll_interval_s\":60}}]",
        dc.imap_port, dc.ca_file);
    char *extra = !hooks
                      ? og_sprintf("\"log_level\":\"warn\"")
                      : og_sprintf("\"log_level\":\"warn\",\"webhooks\":[{\"id\":\"bench\","
                                   "\"url\":\"http://127.0.0.1:%d/hook\",\"secret\":\"" WHSEC "\","
                                   "\"events\":[\"message.received\"]}]",
                                   sink_port);
    if (og_test_daemon_start(&d, rs.url, ch, extra) != 0)
        return 1;
    free(ch), free(extra);
    redisContext *rc = redisConnect("127.0.0.1", rs.port);
    /* the cursor exists once the connector has selected the mailbox: mail
     * from then on is read */
    for (int i = 0; i < 200; i++) {
        redisReply *r = redisCommand(rc, "HEXISTS {og}:state:mail c");
        int ok = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        freeReplyObject(r);
        if (ok)
            break;
        usleep(50000);
    }

    printf("bench_email: %ld mails of %ld KB, dovecot IMAPS + LMTP, one e-mail channel\n", n, kb);
    /* 1. live, through IDLE */
    struct cpu c0 = cpu_now(&d, &rs, &dc);
    int64_t t0 = now_us();
    int failed = feed_all(&dc, 0, n, sent_us);
    int64_t fed = now_us();
    int64_t done = wait_sessions(rc, n, 300);
    long long got = sessions(rc);
    double secs = (double)(done - t0) / 1e6;
    printf("live:    %lld/%ld sessions stored in %.2f s: %.0f mails/s (LMTP took %.2f s, "
           "%.0f mails/s; %d refused)\n",
           got, n, secs, (double)got / secs, (double)(fed - t0) / 1e6,
           (double)n / ((double)(fed - t0) / 1e6), failed);
    cpu_print("live:   ", c0, cpu_now(&d, &rs, &dc), n);
    usleep(1000000); /* the last webhooks */
    int64_t *lat = og_calloc((size_t)n, sizeof *lat);
    size_t nl = 0;
    for (long i = 0; i < n; i++)
        if (g_arrival_us[i] && sent_us[i])
            lat[nl++] = g_arrival_us[i] - sent_us[i];
    qsort(lat, nl, sizeof *lat, cmp_i64);
    if (nl && hooks)
        printf("latency: LMTP 250 -> message.received webhook, %zu mails: p50 %.1f ms, p99 %.1f "
               "ms, max %.1f ms\n",
               nl, (double)lat[nl / 2] / 1000, (double)lat[nl * 99 / 100] / 1000,
               (double)lat[nl - 1] / 1000);
    free(lat);

    /* 2. backlog */
    og_test_daemon_stop(&d);
    int64_t dv0 = dovecot_cpu_us(dc.pid), tf = now_us();
    failed = feed_all(&dc, n, 2 * n, NULL);
    printf("LMTP alone (daemon stopped): %.0f mails/s, dovecot CPU %.0f us per mail\n",
           (double)n / ((double)(now_us() - tf) / 1e6),
           (double)(dovecot_cpu_us(dc.pid) - dv0) / (double)n);
    struct cpu c1 = cpu_now(&d, &rs, &dc);
    free(og_test_redis_cli(&rs, "CONFIG RESETSTAT"));
    int64_t t1 = now_us();
    if (og_test_daemon_restart(&d) != 0)
        return 1;
    c1.daemon = 0; /* a new process */
    done = wait_sessions(rc, 2 * n, 300);
    struct cpu c2 = cpu_now(&d, &rs, &dc);
    long long got2 = sessions(rc) - got;
    secs = (double)(done - t1) / 1e6;
    printf("backlog: %lld/%ld sessions stored in %.2f s from the daemon's start: %.0f mails/s "
           "(%d refused)\n",
           got2, n, secs, (double)got2 / secs, failed);
    cpu_print("backlog:", c1, c2, n);
    redis_stats(&rs, n);

    redisFree(rc);
    og_test_daemon_stop(&d);
    og_test_daemon_free(&d);
    og_test_dovecot_free(&dc);
    og_test_redis_stop(&rs);
    MHD_stop_daemon(md);
    MHD_destroy_response(g_204);
    free(g_arrival_us), free(sent_us), free(g_pad);
    return got == n && got2 == n ? 0 : 1;
}
