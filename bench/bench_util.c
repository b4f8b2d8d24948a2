/*
 * bench_util.c - clocks, samples, /proc accounting and JSON output for the C benchmarks.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_samples_init(struct bench_samples *s, size_t cap)
{
	s->v = calloc(cap ? cap : 1, sizeof(*s->v));
	if (!s->v) {
		fprintf(stderr, "bench: out of memory for %zu samples\n", cap);
		exit(1);
	}
	s->n = 0;
	s->cap = cap;
}

void bench_samples_free(struct bench_samples *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

void bench_samples_add(struct bench_samples *s, uint64_t ns)
{
	if (s->n < s->cap)
		s->v[s->n++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples (p in 0..1). */
static double percentile(const struct bench_samples *s, double p)
{
	size_t rank = (size_t)ceil(p * (double)s->n);

	if (rank < 1)
		rank = 1;
	return (double)s->v[rank - 1];
}

void bench_samples_stats(struct bench_samples *s, struct bench_stats *ret_stats)
{
	struct bench_stats st = {0};
	double sum = 0;

	if (s->n) {
		qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
		for (size_t i = 0; i < s->n; i++)
			sum += (double)s->v[i];
		st.n = s->n;
		st.median = s->n % 2 ? (double)s->v[s->n / 2]
		                     : ((double)s->v[s->n / 2 - 1] + (double)s->v[s->n / 2]) / 2;
		st.p99 = percentile(s, 0.99);
		st.mean = sum / (double)s->n;
		st.min = (double)s->v[0];
		st.max = (double)s->v[s->n - 1];
	}
	*ret_stats = st;
}

/* Reads a small /proc file into buf (NUL-terminated). Returns its length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return n;
}

int bench_task_cpu_ns(pid_t pid, uint64_t *ret_ns)
{
	char path[64], buf[128];
	uint64_t total = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", (int)pid, de->d_name);
		/* A thread that ended between readdir and open has nothing more to add. */
		if (read_small(path, buf, sizeof(buf)) > 0)
			total += strtoull(buf, NULL, 10);
	}
	closedir(d);
	*ret_ns = total;
	return 0;
}

int bench_rss_kib(pid_t pid, int64_t *ret_kib)
{
	char path[64], buf[4096];
	const char *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	p = strstr(buf, "\nVmRSS:");
	if (!p)
		return -ENODATA;
	*ret_kib = strtoll(p + strlen("\nVmRSS:"), NULL, 10);
	return 0;
}

int bench_start_time(pid_t pid, int64_t *ret_ticks)
{
	char path[64], buf[1024], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	/* comm may hold spaces and parentheses: fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EBADMSG;
	/* Field 3 (state) follows ") "; start_time is field 22, i.e. 19 more fields on. */
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EBADMSG;
		p++;
	}
	*ret_ticks = strtoll(p, NULL, 10);
	return 0;
}

long bench_arg_long(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "bench: %s must be an integer in %ld..%ld, not '%s'\n", what, min,
		        max, s);
		exit(2);
	}
	return v;
}

int bench_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

int bench_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int bench_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void json_key(struct bench_json *j, const char *key)
{
	fprintf(j->f, "%s\"%s\": ", j->first ? "" : ", ", key);
	j->first = false;
}

void bench_json_begin(struct bench_json *j, FILE *f, const char *mode)
{
	j->f = f;
	j->first = true;
	fputc('{', f);
	bench_json_str(j, "mode", mode);
}

void bench_json_int(struct bench_json *j, const char *key, int64_t v)
{
	json_key(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void bench_json_num(struct bench_json *j, const char *key, double v)
{
	json_key(j, key);
	/* JSON has no NaN or infinity: an undefined figure is null. */
	if (isfinite(v))
		fprintf(j->f, "%.9g", v);
	else
		fputs("null", j->f);
}

void bench_json_str(struct bench_json *j, const char *key, const char *v)
{
	json_key(j, key);
	fprintf(j->f, "\"%s\"", v);
}

void bench_json_stats(struct bench_json *j, const char *key, const struct bench_stats *st)
{
	json_key(j, key);
	fprintf(j->f,
	        "{\"n\": %zu, \"median_ns\": %.9g, \"p99_ns\": %.9g, \"mean_ns\": %.9g, "
	        "\"min_ns\": %.9g, \"max_ns\": %.9g}",
	        st->n, st->median, st->p99, st->mean, st->min, st->max);
}

void bench_json_end(struct bench_json *j)
{
	fputs("}\n", j->f);
	fflush(j->f);
}
