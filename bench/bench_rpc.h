/*
 * bench_rpc.h - the raw-socket side of bench-rpc: pre-encoded ping messages and the pipelined
 * load generator (pipeline.c).
 */
#ifndef SKU_BENCH_RPC_H
#define SKU_BENCH_RPC_H

#include <stdint.h>
#include <sys/types.h>

#define BENCH_PING_LEN 9
/* The request [0, 1, "ping", []] and the daemon's reply [1, 1, nil, "pong"]. */
extern const unsigned char bench_ping_req[BENCH_PING_LEN];
extern const unsigned char bench_ping_rep[BENCH_PING_LEN];

struct bench_pipe_opts {
	const char *path;           /* server socket */
	int conns;                  /* connections, each with its own window */
	int window;                 /* requests in flight per connection */
	uint64_t duration_ns;       /* run this long (when total is 0) */
	uint64_t total;             /* or exactly this many requests, then stop */
	pid_t server_pid;           /* whose CPU to account; <= 0: none */
	const unsigned char *reply; /* BENCH_PING_LEN bytes every reply must equal */
};

struct bench_pipe_result {
	uint64_t requests; /* replies received and verified */
	uint64_t elapsed_ns;
	uint64_t server_cpu_ns; /* CPU the server spent meanwhile (all its threads) */
	uint64_t client_cpu_ns; /* CPU this process spent meanwhile */
};

/* 0, or -errno (-EPROTO: a reply was not the expected bytes; -ETIMEDOUT: server stalled). */
int bench_pipeline(const struct bench_pipe_opts *o, struct bench_pipe_result *ret);

#endif
