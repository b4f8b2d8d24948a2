/*
 * bench_helpers.c - time one libskyutil helper in a loop; bench_helpers.py runs the Python
 * originals in the same way and prints the comparison.
 *
 * usage: bench-helpers OP REPEAT BATCH ARGS...
 *   hash FILE ALGO | tail FILE N | base36 HEX | format_float NUM PRECISION |
 *   truncate STRING MAX_LENGTH MIDDLE
 * Prints REPEAT samples, one per line: nanoseconds per call, each the mean of BATCH calls.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "skyutil/skyutil.h"

struct bench {
	const char *op;
	int nargs;
	int (*call)(char **args);
};

static int call_hash(char **args)
{
	unsigned char *digest = NULL;
	size_t len;
	int r = skyutil_hash_file(args[0], args[1], 1, &digest, &len);

	skyutil_free(digest);
	return r;
}

static int call_tail(char **args)
{
	char **lines = NULL;
	size_t n = 0;
	int r = skyutil_read_last_n_lines(args[0], strtol(args[1], NULL, 10), &lines, &n);

	skyutil_lines_free(lines, n);
	return r;
}

static int call_base36(char **args)
{
	char *s = NULL;
	int r = skyutil_base36_encode(args[0], &s);

	skyutil_free(s);
	return r;
}

static int call_format_float(char **args)
{
	char *s = NULL;
	int r = skyutil_format_float(strtod(args[0], NULL), (int)strtol(args[1], NULL, 10), &s);

	skyutil_free(s);
	return r;
}

static int call_truncate(char **args)
{
	char *s = NULL;
	int r = skyutil_truncate_long_string(args[0], strtol(args[1], NULL, 10),
	                                     (int)strtol(args[2], NULL, 10), &s);

	skyutil_free(s);
	return r;
}

static const struct bench benches[] = {
        {"hash", 2, call_hash},         {"tail", 2, call_tail},
        {"base36", 1, call_base36},     {"format_float", 2, call_format_float},
        {"truncate", 3, call_truncate},
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const struct bench *b = NULL;
	long repeat, batch, i, j;
	size_t k;

	if (argc < 4) {
		fprintf(stderr, "usage: bench-helpers OP REPEAT BATCH ARGS...\n");
		return 2;
	}
	for (k = 0; k < sizeof(benches) / sizeof(benches[0]); k++)
		if (strcmp(argv[1], benches[k].op) == 0)
			b = &benches[k];
	repeat = strtol(argv[2], NULL, 10);
	batch = strtol(argv[3], NULL, 10);
	if (!b || argc != 4 + b->nargs || repeat < 1 || batch < 1) {
		fprintf(stderr, "bench-helpers: bad arguments for %s\n", argv[1]);
		return 2;
	}
	/* One untimed call warms caches and reports errors before timing. */
	if (b->call(argv + 4) < 0) {
		fprintf(stderr, "bench-helpers: %s failed: %s\n", b->op,
		        skyutil_strerror(b->call(argv + 4)));
		return 1;
	}
	for (i = 0; i < repeat; i++) {
		double t0 = now_ns();

		for (j = 0; j < batch; j++)
			b->call(argv + 4);
		printf("%.1f\n", (now_ns() - t0) / (double)batch);
	}
	return 0;
}
