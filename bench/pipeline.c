/*
 * pipeline.c - keep a window of ping requests in flight on each of several connections and
 * count the replies: requests/s and the server's CPU per request.
 *
 * Every reply must be byte-for-byte the expected one (the daemon's "pong" reply for msgid 1,
 * or the echoed request), so an error reply can never be counted as throughput. All requests
 * carry msgid 1: the daemon answers each independently and the benchmark only counts them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"
#include "bench_rpc.h"

/* [0, 1, "ping", []] and [1, 1, nil, "pong"] */
const unsigned char bench_ping_req[BENCH_PING_LEN] = {0x94, 0x00, 0x01, 0xa4, 'p',
                                                      'i',  'n',  'g',  0x90};
const unsigned char bench_ping_rep[BENCH_PING_LEN] = {0x94, 0x01, 0x01, 0xc0, 0xa4,
                                                      'p',  'o',  'n',  'g'};

#define READ_BUF   65536
#define MAX_EVENTS 256

struct pconn {
	int fd;
	size_t off;        /* bytes of the current reply already matched */
	unsigned inflight; /* requests sent, reply not complete */
};

struct pipe_run {
	const struct bench_pipe_opts *o;
	struct pconn *c;
	unsigned char *sendbuf; /* window requests back to back */
	char *rbuf;
	uint64_t sent, done;
	int ep;
};

static uint64_t cpu_self_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

/* Send up to k requests on c, never past the total limit. */
static int send_more(struct pipe_run *r, struct pconn *c, unsigned k)
{
	const struct bench_pipe_opts *o = r->o;
	int rc;

	if (o->total && r->sent + k > o->total)
		k = (unsigned)(o->total - r->sent);
	if (!k)
		return 0;
	/* In-flight bytes stay far below the socket buffer, so this never blocks for long. */
	rc = bench_write_all(c->fd, r->sendbuf, (size_t)k * BENCH_PING_LEN);
	if (rc < 0)
		return rc;
	c->inflight += k;
	r->sent += k;
	return 0;
}

/* Match the bytes read against the expected reply stream; returns replies completed or -EPROTO. */
static long match(struct pipe_run *r, struct pconn *c, const char *p, size_t n)
{
	const unsigned char *rep = r->o->reply;
	long k = 0;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)p[i] != rep[c->off])
			return -EPROTO;
		if (++c->off == BENCH_PING_LEN) {
			c->off = 0;
			k++;
		}
	}
	return k;
}

static int on_readable(struct pipe_run *r, struct pconn *c)
{
	for (;;) {
		ssize_t n = read(c->fd, r->rbuf, READ_BUF);
		long k;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		k = match(r, c, r->rbuf, (size_t)n);
		if (k < 0)
			return (int)k;
		c->inflight -= (unsigned)k;
		r->done += (uint64_t)k;
		if (send_more(r, c, (unsigned)k) < 0)
			return -EPIPE;
	}
}

static int open_conns(struct pipe_run *r)
{
	const struct bench_pipe_opts *o = r->o;

	for (int i = 0; i < o->conns; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		int fd = bench_connect(o->path);

		if (fd < 0)
			return fd;
		r->c[i].fd = fd;
		if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
		    epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
	}
	return 0;
}

static int loop(struct pipe_run *r, uint64_t deadline)
{
	const struct bench_pipe_opts *o = r->o;
	struct epoll_event evs[MAX_EVENTS];

	for (;;) {
		bool timed_out = o->total == 0 && bench_now_ns() >= deadline;
		int n;

		if (timed_out || (o->total && r->done >= o->total))
			return 0;
		n = epoll_wait(r->ep, evs, MAX_EVENTS, 1000);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n == 0) {
			fprintf(stderr, "bench: no reply for 1 s (%llu of %llu done)\n",
			        (unsigned long long)r->done, (unsigned long long)r->sent);
			return -ETIMEDOUT;
		}
		for (int i = 0; i < n; i++) {
			int rc = on_readable(r, &r->c[evs[i].data.u32]);

			if (rc < 0)
				return rc;
		}
	}
}

int bench_pipeline(const struct bench_pipe_opts *o, struct bench_pipe_result *ret)
{
	struct pipe_run r = {.o = o, .ep = -1};
	uint64_t t0, t1, cpu0 = 0, cpu1 = 0, self0, self1;
	int rc = -ENOMEM;

	r.c = calloc((size_t)o->conns, sizeof(*r.c));
	r.sendbuf = malloc((size_t)o->window * BENCH_PING_LEN);
	r.rbuf = malloc(READ_BUF);
	if (!r.c || !r.sendbuf || !r.rbuf)
		goto out;
	for (int i = 0; i < o->conns; i++)
		r.c[i].fd = -1;
	for (int i = 0; i < o->window; i++)
		memcpy(r.sendbuf + (size_t)i * BENCH_PING_LEN, bench_ping_req, BENCH_PING_LEN);
	r.ep = epoll_create1(EPOLL_CLOEXEC);
	if (r.ep < 0) {
		rc = -errno;
		goto out;
	}
	rc = open_conns(&r);
	if (rc < 0)
		goto out;
	if (o->server_pid > 0)
		bench_task_cpu_ns(o->server_pid, &cpu0);
	self0 = cpu_self_ns();
	t0 = bench_now_ns();
	for (int i = 0; i < o->conns && rc == 0; i++)
		rc = send_more(&r, &r.c[i], (unsigned)o->window);
	if (rc == 0)
		rc = loop(&r, t0 + o->duration_ns);
	t1 = bench_now_ns();
	self1 = cpu_self_ns();
	if (o->server_pid > 0)
		bench_task_cpu_ns(o->server_pid, &cpu1);
	if (rc < 0)
		goto out;
	ret->requests = r.done;
	ret->elapsed_ns = t1 - t0;
	ret->server_cpu_ns = cpu1 - cpu0;
	ret->client_cpu_ns = self1 - self0;
out:
	for (int i = 0; r.c && i < o->conns; i++)
		if (r.c[i].fd >= 0)
			close(r.c[i].fd);
	if (r.ep >= 0)
		close(r.ep);
	free(r.c);
	free(r.sendbuf);
	free(r.rbuf);
	return rc;
}
