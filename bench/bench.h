/*
 * bench.h - plumbing shared by the C benchmark programs (bench-rpc, bench-client): clocks,
 * latency samples, what the daemon spent (CPU, RSS), a bare echo server, one-line JSON output.
 *
 * The programs print exactly one JSON object on stdout; bench/run_bench.py turns those into
 * the report. Diagnostics go to stderr. Benchmark code may exit on setup failures: nothing
 * here is library code.
 */
#ifndef SKU_BENCH_H
#define SKU_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* A bounded set of nanosecond samples. */
struct bench_samples {
	uint64_t *v; /* owned; cap entries */
	size_t n, cap;
};

struct bench_stats {
	size_t n;
	double median, p99, mean, min, max; /* nanoseconds */
};

/* Allocates room for cap samples; exits on OOM (benchmarks cannot run without it). */
void bench_samples_init(struct bench_samples *s, size_t cap);
void bench_samples_free(struct bench_samples *s);
/* Samples past cap are dropped: callers size cap from their loop counts. */
void bench_samples_add(struct bench_samples *s, uint64_t ns);
/* Sorts the samples in place. All zero when there are none. */
void bench_samples_stats(struct bench_samples *s, struct bench_stats *ret_stats);

/* CPU time of every thread of pid (sum of /proc/pid/task/N/schedstat), ns. 0 or -errno. */
int bench_task_cpu_ns(pid_t pid, uint64_t *ret_ns);
/* VmRSS of pid in KiB. 0 or -errno. */
int bench_rss_kib(pid_t pid, int64_t *ret_kib);
/* Kernel start time (clock ticks since boot, /proc/pid/stat field 22). 0 or -errno. */
int bench_start_time(pid_t pid, int64_t *ret_ticks);

/* strtol of the whole string within [min, max]; exits with a usage message otherwise. */
long bench_arg_long(const char *s, const char *what, long min, long max);

/* Blocking connect to a Unix stream socket; returns the fd (O_CLOEXEC) or -errno. */
int bench_connect(const char *path);
/* Socket send (no SIGPIPE) / read until all len bytes moved; 0 or -errno (-EPIPE on EOF). */
int bench_write_all(int fd, const void *buf, size_t len);
int bench_read_full(int fd, void *buf, size_t len);

/*
 * Bare echo server: listens on path (created here, so it accepts as soon as this returns),
 * then a forked child runs one epoll loop that writes back whatever each connection sends.
 * It is the daemon's I/O pattern (one thread, epoll, non-blocking read and write) without
 * msgpack-rpc or libuv: the machine's floor for a request/response over a Unix socket.
 * Returns the child's pid or -errno. bench_echo_stop() kills and reaps it.
 */
pid_t bench_echo_start(const char *path);
void bench_echo_stop(pid_t pid, const char *path);

/* One JSON object on one line. Keys and string values must not need escaping. */
struct bench_json {
	FILE *f;
	bool first;
};

void bench_json_begin(struct bench_json *j, FILE *f, const char *mode);
void bench_json_int(struct bench_json *j, const char *key, int64_t v);
void bench_json_num(struct bench_json *j, const char *key, double v);
void bench_json_str(struct bench_json *j, const char *key, const char *v);
/* "key": {"n", "median_ns", "p99_ns", "mean_ns", "min_ns", "max_ns"} */
void bench_json_stats(struct bench_json *j, const char *key, const struct bench_stats *st);
void bench_json_end(struct bench_json *j);

#endif
