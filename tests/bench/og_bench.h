/* og_bench - a tiny load generator shared by the benchmarks: libcurl multi
 * with a fixed number of keep-alive connections, each request prepared
 * beforehand (so the client spends its CPU on I/O, not on building bodies),
 * bounded by a count and a time limit; prints req/s and latency p50/p99. */
#ifndef OG_BENCH_H
#define OG_BENCH_H
#include <stddef.h>

struct og_bench_req {
    char *url;      /* owned */
    char *headers;  /* owned: "Name: value\n" lines */
    char *body;     /* owned */
    size_t len;
};

struct og_bench_result {
    size_t done, ok, failed;
    double seconds, rps, p50_ms, p99_ms, max_ms;
};

/* Runs reqs[0..n) over `conns` connections, stopping after max_seconds. */
struct og_bench_result og_bench_run(struct og_bench_req *reqs, size_t n, int conns,
                                    double max_seconds);
void og_bench_print(const char *label, const struct og_bench_result *r);
void og_bench_free(struct og_bench_req *reqs, size_t n);
#endif
