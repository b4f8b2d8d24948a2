/*
 * bench_watch.c - exit events: how long after a process is reaped its watcher hears, alone
 * and among many watches; what many watches cost the daemon; idle processes for others to
 * look at.
 *
 * Latency is measured from our own waitpid() returning (the reap, which is when the exit
 * status exists) to skyutil_proc_wait() returning with the event: the whole path through the
 * daemon's pidfd wake-up, its event encoding, the socket and the client's decoding.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "skyutil/skyutil.h"

#include "bench.h"
#include "bench_client.h"

#define EXIT_CODE 7

/* In a fresh child: die with the benchmark, even if it is killed. */
static void child_setup(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
}

/* Fork n children that sleep until killed; returns how many were started. */
static size_t spawn_idle(pid_t *pids, size_t n)
{
	pid_t self = getpid();

	for (size_t i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			fprintf(stderr, "bench-client: fork after %zu children: %s\n", i,
			        strerror(errno));
			return i;
		}
		if (pid == 0) {
			child_setup(self);
			for (;;)
				pause();
		}
		pids[i] = pid;
	}
	return n;
}

static void kill_all(const pid_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	while (wait(NULL) > 0 || errno == EINTR)
		;
}

/*
 * One sample: a child that exits with EXIT_CODE when told; returns ns from reap to event.
 * An event without the exit code is counted in *missing (the figure still stands).
 */
static uint64_t one_exit(skyutil_client *c, uint64_t *ret_from_trigger, long *missing)
{
	struct skyutil_proc_status st;
	struct skyutil_exit ex;
	uint64_t t_trigger, t_reap, t_event;
	int64_t wid;
	int p[2], rc;
	pid_t pid, self = getpid();
	char b;

	if (pipe2(p, O_CLOEXEC) < 0)
		bench_die("pipe2", -errno);
	pid = fork();
	if (pid < 0)
		bench_die("fork", -errno);
	if (pid == 0) {
		child_setup(self);
		close(p[1]);
		while (read(p[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(EXIT_CODE);
	}
	close(p[0]);
	rc = skyutil_proc_watch(c, (struct skyutil_proc_id){.pid = pid, .start_time = -1}, 5000,
	                        &wid, &st);
	if (rc < 0 || wid == 0)
		bench_die("skyutil_proc_watch", rc < 0 ? rc : -ESRCH);
	t_trigger = bench_now_ns();
	close(p[1]);
	if (waitpid(pid, NULL, 0) != pid)
		bench_die("waitpid", -errno);
	t_reap = bench_now_ns();
	rc = skyutil_proc_wait(c, wid, 5000, &ex);
	t_event = bench_now_ns();
	if (rc < 0)
		bench_die("skyutil_proc_wait", rc);
	if (ex.exit_code != EXIT_CODE && (*missing)++ == 0)
		fprintf(stderr, "bench-client: exit of %d without its exit code: %s\n", (int)pid,
		        ex.reason);
	*ret_from_trigger = t_event - t_trigger;
	return t_event - t_reap;
}

int bench_cmd_exit_latency(char **argv)
{
	long n = bench_arg_long(argv[1], "N", 1, 1000000);
	struct bench_samples reap, trig;
	struct bench_stats st;
	struct bench_json j;
	skyutil_client *c;
	uint64_t from_trigger;
	long missing = 0;
	int rc;

	rc = skyutil_client_open(argv[0], 5000, &c);
	if (rc < 0)
		bench_die("skyutil_client_open", rc);
	bench_samples_init(&reap, (size_t)n);
	bench_samples_init(&trig, (size_t)n);
	for (int i = 0; i < 10; i++)
		one_exit(c, &from_trigger, &missing);
	for (long i = 0; i < n; i++) {
		bench_samples_add(&reap, one_exit(c, &from_trigger, &missing));
		bench_samples_add(&trig, from_trigger);
	}
	bench_json_begin(&j, stdout, "exit-latency");
	bench_samples_stats(&reap, &st);
	bench_json_stats(&j, "from_reap", &st);
	bench_samples_stats(&trig, &st);
	bench_json_stats(&j, "from_trigger", &st);
	bench_json_int(&j, "events_without_status", missing);
	bench_json_end(&j);
	bench_samples_free(&reap);
	bench_samples_free(&trig);
	skyutil_client_free(c);
	return 0;
}

/*
 * The load: nw watches over np processes, watch i on process i % np. The daemon shares one
 * pidfd per process among all its watches, and each proc.watch call makes a watch of its own
 * (its own watch_id and proc.exited) even for a process this connection already watches, so
 * more watches fit than the daemon's fd budget holds processes.
 */
struct load {
	pid_t *pids;
	int64_t *wids;
	size_t np, nw;
};

/* Watches from..to-1, one call each. */
static void watch_range(skyutil_client *c, struct load *l, size_t from, size_t to)
{
	struct skyutil_proc_status st;

	for (size_t i = from; i < to; i++) {
		struct skyutil_proc_id id = {.pid = l->pids[i % l->np], .start_time = -1};
		int rc = skyutil_proc_watch(c, id, 30000, &l->wids[i], &st);

		if (rc < 0) {
			fprintf(stderr, "bench-client: watch %zu of %zu: %s\n", i + 1, l->nw,
			        skyutil_strerror(rc));
			exit(1);
		}
		if (l->wids[i] == 0)
			bench_die("a watched child was already gone", -ESRCH);
	}
}

/*
 * Kill k of the watched children, spread over the set. Per child, from the reap: the first
 * of its watches' events (*first) and the last one, when every watcher has heard (*all).
 */
static void exits_under_load(skyutil_client *c, struct load *l, long k, struct bench_samples *first,
                             struct bench_samples *all, long *events, long *missing)
{
	for (long i = 0; i < k; i++) {
		size_t idx = (size_t)i * l->np / (size_t)k;
		uint64_t t0, t_first = 0;

		kill(l->pids[idx], SIGKILL);
		if (waitpid(l->pids[idx], NULL, 0) != l->pids[idx])
			bench_die("waitpid", -errno);
		t0 = bench_now_ns();
		for (size_t w = idx; w < l->nw; w += l->np) {
			struct skyutil_exit ex;
			int rc = skyutil_proc_wait(c, l->wids[w], 5000, &ex);

			if (rc < 0)
				bench_die("skyutil_proc_wait", rc);
			if (w == idx)
				t_first = bench_now_ns();
			(*events)++;
			if (ex.signal != SIGKILL && (*missing)++ == 0)
				fprintf(stderr, "bench-client: exit of %d without its signal: %s\n",
				        (int)l->pids[idx], ex.reason);
		}
		bench_samples_add(all, bench_now_ns() - t0);
		bench_samples_add(first, t_first - t0);
		l->pids[idx] = 0;
	}
}

int bench_cmd_watch_load(char **argv)
{
	long np = bench_arg_long(argv[1], "NPROCS", 1, 1000000);
	long nw = bench_arg_long(argv[2], "NWATCHES", np, 10000000);
	long k = bench_arg_long(argv[3], "K", 1, np);
	long idle_ms = bench_arg_long(argv[4], "IDLE_MS", 0, 600000);
	pid_t dpid = (pid_t)bench_arg_long(argv[5], "DAEMON_PID", 1, 1L << 30);
	uint64_t t0, t_spawn, t_one, t_watch, cpu0 = 0, cpu1 = 0, cpu2 = 0;
	int64_t rss0 = 0, rss_one = 0, rss1 = 0;
	struct load l = {0};
	struct bench_samples first, all;
	long events = 0, missing = 0;
	struct bench_stats st;
	struct bench_json j;
	skyutil_client *c;
	int rc;

	l.pids = calloc((size_t)np, sizeof(*l.pids));
	l.wids = calloc((size_t)nw, sizeof(*l.wids));
	if (!l.pids || !l.wids)
		bench_die("watch-load", -ENOMEM);
	l.nw = (size_t)nw;
	t0 = bench_now_ns();
	l.np = spawn_idle(l.pids, (size_t)np);
	t_spawn = bench_now_ns() - t0;
	if (l.np < (size_t)np) {
		kill_all(l.pids, l.np);
		bench_die("fork (raise pid_max / RLIMIT_NPROC)", -EAGAIN);
	}
	rc = skyutil_client_open(argv[0], 5000, &c);
	if (rc < 0)
		bench_die("skyutil_client_open", rc);
	bench_rss_kib(dpid, &rss0);
	bench_task_cpu_ns(dpid, &cpu0);
	t0 = bench_now_ns();
	/* Every process once (a pidfd each), then the further watches of the same processes. */
	watch_range(c, &l, 0, l.np);
	t_one = bench_now_ns() - t0;
	bench_rss_kib(dpid, &rss_one);
	watch_range(c, &l, l.np, l.nw);
	t_watch = bench_now_ns() - t0;
	bench_task_cpu_ns(dpid, &cpu1);
	bench_rss_kib(dpid, &rss1);
	usleep((useconds_t)idle_ms * 1000);
	bench_task_cpu_ns(dpid, &cpu2);
	bench_samples_init(&first, (size_t)k);
	bench_samples_init(&all, (size_t)k);
	exits_under_load(c, &l, k, &first, &all, &events, &missing);
	/* Closing the connection ends its watches before the children die unobserved. */
	skyutil_client_free(c);
	kill_all(l.pids, l.np);

	bench_json_begin(&j, stdout, "watch-load");
	bench_json_int(&j, "watches", nw);
	bench_json_int(&j, "processes", np);
	bench_json_num(&j, "spawn_s", (double)t_spawn / 1e9);
	bench_json_num(&j, "setup_s", (double)t_watch / 1e9);
	bench_json_num(&j, "setup_first_s", (double)t_one / 1e9);
	bench_json_num(&j, "setup_ns_per_watch", (double)t_watch / (double)nw);
	bench_json_num(&j, "daemon_cpu_ns_per_watch", (double)(cpu1 - cpu0) / (double)nw);
	bench_json_int(&j, "rss_before_kib", rss0);
	bench_json_int(&j, "rss_one_per_process_kib", rss_one);
	bench_json_int(&j, "rss_after_kib", rss1);
	bench_json_int(&j, "idle_ms", idle_ms);
	bench_json_int(&j, "idle_cpu_ns", (int64_t)(cpu2 - cpu1));
	bench_samples_stats(&all, &st);
	bench_json_stats(&j, "latency", &st);
	bench_samples_stats(&first, &st);
	bench_json_stats(&j, "latency_first", &st);
	bench_json_int(&j, "exits", k);
	bench_json_int(&j, "events", events);
	bench_json_int(&j, "events_without_status", missing);
	bench_json_end(&j);
	bench_samples_free(&first);
	bench_samples_free(&all);
	free(l.pids);
	free(l.wids);
	return 0;
}

int bench_cmd_spawn(char **argv)
{
	long n = bench_arg_long(argv[0], "N", 1, 1000000);
	pid_t *pids = calloc((size_t)n, sizeof(*pids));
	size_t got;
	char b;

	if (!pids)
		bench_die("spawn", -ENOMEM);
	got = spawn_idle(pids, (size_t)n);
	for (size_t i = 0; i < got; i++)
		printf("%d\n", (int)pids[i]);
	printf("%s\n", got == (size_t)n ? "ready" : "failed");
	fflush(stdout);
	for (;;) {
		ssize_t r = read(STDIN_FILENO, &b, 1);

		if (r == 0 || (r < 0 && errno != EINTR))
			break;
	}
	kill_all(pids, got);
	free(pids);
	return got == (size_t)n ? 0 : 1;
}
