/* og_bench - a tiny load generator shared by the benchmarks: a minimal
 * HTTP/1.1 client on raw non-blocking sockets and one epoll loop, with a
 * fixed number of keep-alive connections (one request in flight each). Every
 * request's bytes are rendered before the clock starts, so the client spends
 * its CPU on I/O only (~8 us/request where libcurl multi took ~50 us, CPU
 * the daemon under test would otherwise get). Bounded by a count and a time
 * limit; prints req/s, latency p50/p99/max and the client's own CPU per
 * request. URLs must be http://IPv4:port/path; requests are sent as POST. */
#ifndef OG_BENCH_H
#define OG_BENCH_H
#include <stddef.h>

struct og_bench_req {
    char *url;     /* owned */
    char *headers; /* owned: "Name: value\n" lines */
    char *body;    /* owned */
    size_t len;
};

struct og_bench_result {
    size_t done, ok, failed;
    double seconds, rps, p50_ms, p99_ms, max_ms;
    double cpu_s; /* user+sys CPU of the generator's own thread during the run */
};

/* Runs reqs[0..n) [borrowed] over `conns` connections, taking no new request
 * after max_seconds (those in flight are waited for). done = ok + failed; ok
 * is a 2xx answer. A URL it cannot use fails the whole run before it starts
 * (failed = n, done = 0, with a message on stderr). */
struct og_bench_result og_bench_run(struct og_bench_req *reqs, size_t n, int conns,
                                    double max_seconds);
void og_bench_print(const char *label, const struct og_bench_result *r);
void og_bench_free(struct og_bench_req *reqs, size_t n);

struct og_test_redis;
/* Redis's main thread's CPU seconds so far (user + sys, INFO cpu): all of
 * its work on our behalf, scripts, commands, sockets and the AOF's writes,
 * counted once (commandstats count a script and again each command it
 * calls, and in wall time: on a busy machine, with the time Redis waited
 * for a CPU). */
double og_bench_redis_cpu_s(struct og_test_redis *rs);
/* A number of Redis's INFO <section> ("stats": total_net_input_bytes, the
 * bytes of every command sent to it), 0 when absent. */
double og_bench_redis_info(struct og_test_redis *rs, const char *section, const char *field);
#endif
