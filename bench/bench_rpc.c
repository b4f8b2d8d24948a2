/*
 * bench_rpc.c - round trips and pipelined throughput of skyutild against a bare echo server
 * measured in the same process, side by side; and a fixed request load for callgrind.
 *
 * usage:
 *   bench-rpc rtt SOCKET ROUNDS PER_ROUND DAEMON_PID same|split
 *       ping round trips, one connection each: bare echo, raw ping bytes to the daemon,
 *       skyutil_ping(); the three alternate in rounds so drift hits all alike. A round trip
 *       is two wake-ups, and where the scheduler puts the server decides its cost (~4 us on
 *       one CPU, ~45 us across CPUs on our VMs), so placement is fixed, alike for both
 *       servers: "same" pins client, echo and daemon to CPU 0, "split" pins the client to CPU 0
 *       and both servers to CPU 1. The daemon's affinity is restored afterwards.
 *   bench-rpc pipeline SOCKET CONNS WINDOW MS ROUNDS DAEMON_PID
 *       WINDOW pings in flight per connection for MS ms, echo then daemon, ROUNDS times.
 *   bench-rpc count SOCKET ping|pipeline|facts|status N
 *       exactly N requests (status: one request of N entries) on one connection, then exit:
 *       the load whose instructions run_bench.py counts under callgrind.
 * Prints one JSON object (bench.h).
 */
#include "config.h"

#include "bench_rpc.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "skyutil/skyutil.h"

#include "bench.h"

#define WARMUP 200

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench-rpc: %s: %s\n", what, skyutil_strerror(rc));
	exit(1);
}

static void echo_path_of(const char *sock, char *buf, size_t size)
{
	if ((size_t)snprintf(buf, size, "%s.echo", sock) >= size)
		die("socket path", -ENAMETOOLONG);
}

/* One request/response over a raw socket; reply must equal rep. */
static uint64_t raw_rtt(int fd, const unsigned char *rep)
{
	unsigned char buf[BENCH_PING_LEN];
	uint64_t t0 = bench_now_ns();
	int rc = bench_write_all(fd, bench_ping_req, sizeof(buf));

	if (rc == 0)
		rc = bench_read_full(fd, buf, sizeof(buf));
	if (rc == 0 && memcmp(buf, rep, sizeof(buf)) != 0)
		rc = -EPROTO;
	if (rc < 0)
		die("raw round trip", rc);
	return bench_now_ns() - t0;
}

static uint64_t lib_rtt(skyutil_client *c)
{
	uint64_t t0 = bench_now_ns();
	int rc = skyutil_ping(c, 5000);

	if (rc < 0)
		die("skyutil_ping", rc);
	return bench_now_ns() - t0;
}

static void pin(pid_t pid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(pid, sizeof(set), &set) < 0)
		die("sched_setaffinity", -errno);
}

static int cmd_rtt(char **argv)
{
	const char *sock = argv[0];
	long rounds = bench_arg_long(argv[1], "ROUNDS", 1, 1000);
	long per = bench_arg_long(argv[2], "PER_ROUND", 1, 1000000);
	pid_t dpid = (pid_t)bench_arg_long(argv[3], "DAEMON_PID", 1, 1L << 30);
	int server_cpu = strcmp(argv[4], "split") == 0 ? 1 : 0;
	struct bench_samples echo, raw, lib;
	cpu_set_t daemon_cpus;
	struct bench_stats st;
	struct bench_json j;
	char echo_path[256];
	skyutil_client *c;
	int efd, dfd, rc;
	pid_t epid;

	if (strcmp(argv[4], "same") != 0 && strcmp(argv[4], "split") != 0) {
		fprintf(stderr, "bench-rpc: placement must be same or split\n");
		return 2;
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		server_cpu = 0;
	if (sched_getaffinity(dpid, sizeof(daemon_cpus), &daemon_cpus) < 0)
		die("sched_getaffinity", -errno);
	echo_path_of(sock, echo_path, sizeof(echo_path));
	epid = bench_echo_start(echo_path);
	if (epid < 0)
		die("echo server", epid);
	pin(0, 0);
	pin(epid, server_cpu);
	pin(dpid, server_cpu);
	efd = bench_connect(echo_path);
	dfd = bench_connect(sock);
	if (efd < 0 || dfd < 0)
		die("connect", efd < 0 ? efd : dfd);
	rc = skyutil_client_open(sock, 5000, &c);
	if (rc < 0)
		die("skyutil_client_open", rc);
	for (int i = 0; i < WARMUP; i++) {
		raw_rtt(efd, bench_ping_req);
		raw_rtt(dfd, bench_ping_rep);
		lib_rtt(c);
	}
	bench_samples_init(&echo, (size_t)(rounds * per));
	bench_samples_init(&raw, (size_t)(rounds * per));
	bench_samples_init(&lib, (size_t)(rounds * per));
	for (long r = 0; r < rounds; r++) {
		for (long i = 0; i < per; i++)
			bench_samples_add(&echo, raw_rtt(efd, bench_ping_req));
		for (long i = 0; i < per; i++)
			bench_samples_add(&raw, raw_rtt(dfd, bench_ping_rep));
		for (long i = 0; i < per; i++)
			bench_samples_add(&lib, lib_rtt(c));
	}
	sched_setaffinity(dpid, sizeof(daemon_cpus), &daemon_cpus);
	bench_json_begin(&j, stdout, "rtt");
	bench_json_str(&j, "placement", server_cpu ? "split" : "same");
	bench_samples_stats(&echo, &st);
	bench_json_stats(&j, "echo", &st);
	bench_samples_stats(&raw, &st);
	bench_json_stats(&j, "ping_raw", &st);
	bench_samples_stats(&lib, &st);
	bench_json_stats(&j, "ping_lib", &st);
	bench_json_end(&j);
	bench_samples_free(&echo);
	bench_samples_free(&raw);
	bench_samples_free(&lib);
	skyutil_client_free(c);
	close(efd);
	close(dfd);
	bench_echo_stop(epid, echo_path);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, long n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct pipe_totals {
	double *rps; /* per round */
	uint64_t requests, server_cpu_ns, client_cpu_ns;
};

static void pipe_round(struct bench_pipe_opts *o, struct pipe_totals *t, long round)
{
	struct bench_pipe_result res;
	int rc = bench_pipeline(o, &res);

	if (rc < 0)
		die(o->reply == bench_ping_rep ? "daemon pipeline" : "echo pipeline", rc);
	t->rps[round] = (double)res.requests * 1e9 / (double)res.elapsed_ns;
	t->requests += res.requests;
	t->server_cpu_ns += res.server_cpu_ns;
	t->client_cpu_ns += res.client_cpu_ns;
}

static void pipe_json(struct bench_json *j, const char *prefix, struct pipe_totals *t, long n)
{
	char key[64];

	snprintf(key, sizeof(key), "%s_rps", prefix);
	bench_json_num(j, key, median(t->rps, n));
	snprintf(key, sizeof(key), "%s_requests", prefix);
	bench_json_int(j, key, (int64_t)t->requests);
	snprintf(key, sizeof(key), "%s_server_cpu_ns_per_req", prefix);
	bench_json_num(j, key, (double)t->server_cpu_ns / (double)t->requests);
	snprintf(key, sizeof(key), "%s_client_cpu_ns_per_req", prefix);
	bench_json_num(j, key, (double)t->client_cpu_ns / (double)t->requests);
}

static int cmd_pipeline(char **argv)
{
	const char *sock = argv[0];
	long conns = bench_arg_long(argv[1], "CONNS", 1, 4096);
	long window = bench_arg_long(argv[2], "WINDOW", 1, 4096);
	long ms = bench_arg_long(argv[3], "MS", 1, 600000);
	long rounds = bench_arg_long(argv[4], "ROUNDS", 1, 100);
	pid_t dpid = (pid_t)bench_arg_long(argv[5], "DAEMON_PID", 1, 1L << 30);
	struct pipe_totals echo = {0}, daemon = {0};
	struct bench_pipe_opts eo, dopts;
	struct bench_json j;
	char echo_path[256];
	pid_t epid;

	echo_path_of(sock, echo_path, sizeof(echo_path));
	epid = bench_echo_start(echo_path);
	if (epid < 0)
		die("echo server", epid);
	echo.rps = calloc((size_t)rounds, sizeof(double));
	daemon.rps = calloc((size_t)rounds, sizeof(double));
	if (!echo.rps || !daemon.rps)
		die("rounds", -ENOMEM);
	eo = (struct bench_pipe_opts){
	        .path = echo_path,
	        .conns = (int)conns,
	        .window = (int)window,
	        .duration_ns = (uint64_t)ms * 1000000u,
	        .server_pid = epid,
	        .reply = bench_ping_req,
	};
	dopts = eo;
	dopts.path = sock;
	dopts.server_pid = dpid;
	dopts.reply = bench_ping_rep;
	for (long r = 0; r < rounds; r++) {
		pipe_round(&eo, &echo, r);
		pipe_round(&dopts, &daemon, r);
	}
	bench_json_begin(&j, stdout, "pipeline");
	bench_json_int(&j, "conns", conns);
	bench_json_int(&j, "window", window);
	bench_json_int(&j, "rounds", rounds);
	bench_json_int(&j, "round_ms", ms);
	pipe_json(&j, "echo", &echo, rounds);
	pipe_json(&j, "daemon", &daemon, rounds);
	bench_json_end(&j);
	free(echo.rps);
	free(daemon.rps);
	bench_echo_stop(epid, echo_path);
	return 0;
}

static int count_status(skyutil_client *c, long n)
{
	struct skyutil_proc_status *st = calloc((size_t)n, sizeof(*st));
	struct skyutil_proc_id *ids = calloc((size_t)n, sizeof(*ids));
	int rc = -ENOMEM;

	if (st && ids) {
		for (long i = 0; i < n; i++)
			ids[i] = (struct skyutil_proc_id){.pid = getpid(), .start_time = -1};
		rc = skyutil_proc_status(c, ids, (size_t)n, 60000, st);
	}
	free(st);
	free(ids);
	return rc;
}

static int cmd_count(char **argv)
{
	const char *sock = argv[0], *what = argv[1];
	long n = bench_arg_long(argv[2], "N", 0, 10000000);
	struct skyutil_facts f;
	struct bench_json j;
	skyutil_client *c;
	int rc = 0;

	if (strcmp(what, "pipeline") == 0) {
		struct bench_pipe_opts o = {.path = sock,
		                            .conns = 1,
		                            .window = 64,
		                            .total = (uint64_t)n,
		                            .reply = bench_ping_rep};
		struct bench_pipe_result res;

		if (n > 0)
			rc = bench_pipeline(&o, &res);
	} else {
		rc = skyutil_client_open(sock, 5000, &c);
		if (rc < 0)
			die("skyutil_client_open", rc);
		/* Generous timeouts: under valgrind the daemon runs ~50x slower. */
		if (strcmp(what, "ping") == 0) {
			for (long i = 0; i < n && rc == 0; i++)
				rc = skyutil_ping(c, 60000);
		} else if (strcmp(what, "facts") == 0) {
			for (long i = 0; i < n && rc == 0; i++)
				rc = skyutil_facts_get(c, 0, 60000, &f);
		} else if (strcmp(what, "status") == 0) {
			rc = n > 0 ? count_status(c, n) : 0;
		} else {
			fprintf(stderr, "bench-rpc: unknown load '%s'\n", what);
			exit(2);
		}
		skyutil_client_free(c);
	}
	if (rc < 0)
		die(what, rc);
	bench_json_begin(&j, stdout, "count");
	bench_json_str(&j, "load", what);
	bench_json_int(&j, "n", n);
	bench_json_end(&j);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "rtt") == 0)
		return cmd_rtt(argv + 2);
	if (argc == 8 && strcmp(argv[1], "pipeline") == 0)
		return cmd_pipeline(argv + 2);
	if (argc == 5 && strcmp(argv[1], "count") == 0)
		return cmd_count(argv + 2);
	fprintf(stderr, "usage: bench-rpc rtt SOCKET ROUNDS PER_ROUND DAEMON_PID same|split\n"
	                "       bench-rpc pipeline SOCKET CONNS WINDOW MS ROUNDS DAEMON_PID\n"
	                "       bench-rpc count SOCKET ping|pipeline|facts|status N\n");
	return 2;
}
