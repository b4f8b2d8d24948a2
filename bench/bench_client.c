/*
 * bench_client.c - libskyutil calls as an application makes them: facts (one round trip vs
 * the pushed cache), proc.status of one and of many processes, exit events.
 *
 * usage:
 *   bench-client facts SOCKET ROUNDS PER_ROUND
 *   bench-client status SOCKET PIDS_FILE ROUNDS     (PIDS_FILE: one pid per line)
 *   bench-client exit-latency SOCKET N
 *   bench-client watch-load SOCKET NPROCS NWATCHES K IDLE_MS DAEMON_PID
 *   bench-client spawn N       (fork N idle children, print their pids and "ready", wait
 *                               for stdin to close, then kill and reap them)
 * Prints one JSON object (bench.h); spawn prints pids instead.
 */
#include "config.h"

#include "bench_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "skyutil/skyutil.h"

#include "bench.h"

/* Cached calls take ~100 ns: each sample is the mean of a batch, above the clock's cost. */
#define CACHED_BATCH 100
#define WARMUP       100

void bench_die(const char *what, int rc)
{
	fprintf(stderr, "bench-client: %s: %s\n", what, skyutil_strerror(rc));
	exit(1);
}

static int cmd_facts(char **argv)
{
	long rounds = bench_arg_long(argv[1], "ROUNDS", 1, 1000);
	long per = bench_arg_long(argv[2], "PER_ROUND", 1, 1000000);
	struct bench_samples get, cached;
	struct skyutil_facts f;
	struct bench_stats st;
	struct bench_json j;
	skyutil_client *c;
	int rc;

	rc = skyutil_client_open(argv[0], 5000, &c);
	if (rc < 0)
		bench_die("skyutil_client_open", rc);
	for (int i = 0; i < WARMUP; i++) {
		if ((rc = skyutil_facts_get(c, 0, 5000, &f)) < 0 ||
		    (rc = skyutil_facts_cached(c, &f)) < 0)
			bench_die("facts", rc);
	}
	bench_samples_init(&get, (size_t)(rounds * per));
	bench_samples_init(&cached, (size_t)(rounds * per));
	for (long r = 0; r < rounds; r++) {
		for (long i = 0; i < per; i++) {
			uint64_t t0 = bench_now_ns();

			rc = skyutil_facts_get(c, 0, 5000, &f);
			if (rc < 0)
				bench_die("skyutil_facts_get", rc);
			bench_samples_add(&get, bench_now_ns() - t0);
		}
		for (long i = 0; i < per; i++) {
			uint64_t t0 = bench_now_ns();

			for (int b = 0; b < CACHED_BATCH; b++) {
				rc = skyutil_facts_cached(c, &f);
				if (rc < 0)
					bench_die("skyutil_facts_cached", rc);
			}
			bench_samples_add(&cached, (bench_now_ns() - t0) / CACHED_BATCH);
		}
	}
	bench_json_begin(&j, stdout, "facts");
	bench_json_int(&j, "cpu_count", f.cpu_count);
	bench_json_int(&j, "mem_effective_bytes", f.mem_effective_bytes);
	bench_samples_stats(&get, &st);
	bench_json_stats(&j, "get", &st);
	bench_samples_stats(&cached, &st);
	bench_json_stats(&j, "cached", &st);
	bench_json_int(&j, "cached_batch", CACHED_BATCH);
	bench_json_end(&j);
	bench_samples_free(&get);
	bench_samples_free(&cached);
	skyutil_client_free(c);
	return 0;
}

/* Reads pids (one per line) and pins each to its current start time. */
static size_t read_ids(const char *path, struct skyutil_proc_id **ret_ids)
{
	size_t n = 0, cap = 1024;
	struct skyutil_proc_id *ids = malloc(cap * sizeof(*ids));
	FILE *f = fopen(path, "re");
	long pid;

	if (!f || !ids)
		bench_die(path, f ? -ENOMEM : -errno);
	while (fscanf(f, "%ld", &pid) == 1) {
		int64_t start;

		if (pid <= 0 || pid > INT32_MAX || bench_start_time((pid_t)pid, &start) < 0)
			bench_die("pid in PIDS_FILE is not a live process", -EINVAL);
		if (n == cap) {
			struct skyutil_proc_id *grown;

			if (cap > (1u << 22) || !(grown = realloc(ids, 2 * cap * sizeof(*ids))))
				bench_die("PIDS_FILE", -E2BIG);
			ids = grown;
			cap *= 2;
		}
		ids[n++] = (struct skyutil_proc_id){.pid = pid, .start_time = start};
	}
	fclose(f);
	*ret_ids = ids;
	return n;
}

static uint64_t timed_status(skyutil_client *c, const struct skyutil_proc_id *ids, size_t n,
                             struct skyutil_proc_status *st)
{
	uint64_t t0 = bench_now_ns();
	int rc = skyutil_proc_status(c, ids, n, 60000, st);

	if (rc < 0)
		bench_die("skyutil_proc_status", rc);
	for (size_t i = 0; i < n; i++)
		if (!st[i].alive)
			bench_die("a process of PIDS_FILE is not alive", -ESRCH);
	return bench_now_ns() - t0;
}

static uint64_t timed_alive(skyutil_client *c, const struct skyutil_proc_id *ids, size_t n,
                            int *alive)
{
	uint64_t t0 = bench_now_ns();
	int rc = skyutil_proc_alive(c, ids, n, 60000, alive);

	if (rc < 0)
		bench_die("skyutil_proc_alive", rc);
	for (size_t i = 0; i < n; i++)
		if (!alive[i])
			bench_die("a process of PIDS_FILE is not alive", -ESRCH);
	return bench_now_ns() - t0;
}

/*
 * Full status (state, ppid, uid: a /proc read per pid every time) and liveness only (served
 * from the daemon's pidfd cache once it knows the pids). The first liveness call fills the
 * cache: it is reported on its own, as "alive_first", one sample.
 */
static int cmd_status(char **argv)
{
	long rounds = bench_arg_long(argv[2], "ROUNDS", 1, 100000);
	struct bench_samples one, batch, alive_batch;
	struct skyutil_proc_status *st;
	uint64_t alive_first;
	int *alive;
	struct skyutil_proc_id *ids;
	struct bench_stats s;
	struct bench_json j;
	skyutil_client *c;
	size_t n;
	int rc;

	n = read_ids(argv[1], &ids);
	if (n == 0)
		bench_die("PIDS_FILE holds no pid", -EINVAL);
	st = calloc(n, sizeof(*st));
	alive = calloc(n, sizeof(*alive));
	if (!st || !alive)
		bench_die("status", -ENOMEM);
	rc = skyutil_client_open(argv[0], 5000, &c);
	if (rc < 0)
		bench_die("skyutil_client_open", rc);
	timed_status(c, ids, n, st);
	alive_first = timed_alive(c, ids, n, alive);
	bench_samples_init(&one, (size_t)rounds * 100);
	bench_samples_init(&batch, (size_t)rounds);
	bench_samples_init(&alive_batch, (size_t)rounds);
	for (long r = 0; r < rounds; r++) {
		for (int i = 0; i < 100; i++)
			bench_samples_add(&one, timed_status(c, &ids[i % n], 1, st));
		bench_samples_add(&batch, timed_status(c, ids, n, st));
		bench_samples_add(&alive_batch, timed_alive(c, ids, n, alive));
	}
	bench_json_begin(&j, stdout, "status");
	bench_json_int(&j, "pids", (int64_t)n);
	bench_samples_stats(&one, &s);
	bench_json_stats(&j, "single", &s);
	bench_samples_stats(&batch, &s);
	bench_json_stats(&j, "batch", &s);
	bench_samples_stats(&alive_batch, &s);
	bench_json_stats(&j, "alive_batch", &s);
	bench_json_int(&j, "alive_first_ns", (int64_t)alive_first);
	bench_json_end(&j);
	bench_samples_free(&one);
	bench_samples_free(&batch);
	bench_samples_free(&alive_batch);
	skyutil_client_free(c);
	free(alive);
	free(st);
	free(ids);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "facts") == 0)
		return cmd_facts(argv + 2);
	if (argc == 5 && strcmp(argv[1], "status") == 0)
		return cmd_status(argv + 2);
	if (argc == 4 && strcmp(argv[1], "exit-latency") == 0)
		return bench_cmd_exit_latency(argv + 2);
	if (argc == 8 && strcmp(argv[1], "watch-load") == 0)
		return bench_cmd_watch_load(argv + 2);
	if (argc == 3 && strcmp(argv[1], "spawn") == 0)
		return bench_cmd_spawn(argv + 2);
	fprintf(stderr,
	        "usage: bench-client facts SOCKET ROUNDS PER_ROUND\n"
	        "       bench-client status SOCKET PIDS_FILE ROUNDS\n"
	        "       bench-client exit-latency SOCKET N\n"
	        "       bench-client watch-load SOCKET NPROCS NWATCHES K IDLE_MS DAEMON_PID\n"
	        "       bench-client spawn N\n");
	return 2;
}
