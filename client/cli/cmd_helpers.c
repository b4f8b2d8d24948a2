/*
 * cmd_helpers.c - skyutil tail, hash, free-port, parallel-threads: the in-process helpers of
 * libskyutil on the command line. Only parallel-threads talks to the daemon, and it works
 * without one.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "skyutil/skyutil.h"

#include "cli.h"

/* The subcommand's own arguments: argv[0] is the command name. */
struct args {
	int argc;
	char **argv;
	int i;
};

static int usage(const char *cmd, const char *text)
{
	fprintf(stderr, "usage: skyutil %s %s\n", cmd, text);
	return CLI_USAGE;
}

/* A file we cannot read is a local failure, whatever the errno (-EINVAL: a FIFO, ...). */
static int file_fail(const char *path, int r)
{
	int rc = cli_fail(path, r);

	return rc == CLI_USAGE ? CLI_LOCAL : rc;
}

static bool parse_long(const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*ret = v;
	return true;
}

/*
 * Match option name at the current argument as "--name VALUE", "--name=VALUE" or, for a
 * one-letter short form, "-x VALUE" / "-xVALUE". *ret_value is NULL when the value is missing.
 */
static bool take_option(struct args *a, const char *name, char short_name, const char **ret_value)
{
	const char *arg = a->argv[a->i];
	size_t len = strlen(name);

	if (strncmp(arg, "--", 2) == 0 && strncmp(arg + 2, name, len) == 0 &&
	    (arg[2 + len] == '=' || arg[2 + len] == '\0')) {
		if (arg[2 + len] == '=') {
			*ret_value = arg + 3 + len;
		} else {
			a->i++;
			*ret_value = a->i < a->argc ? a->argv[a->i] : NULL;
		}
		return true;
	}
	if (short_name && arg[0] == '-' && arg[1] == short_name) {
		if (arg[2]) {
			*ret_value = arg + 2;
		} else {
			a->i++;
			*ret_value = a->i < a->argc ? a->argv[a->i] : NULL;
		}
		return true;
	}
	return false;
}

static void print_json(json_t *obj)
{
	if (obj) {
		json_dumpf(obj, stdout, JSON_COMPACT);
		fputc('\n', stdout);
	}
	json_decref(obj);
}

/* A JSON string of raw bytes, invalid UTF-8 replaced as Python's errors='replace' does. */
static json_t *json_bytes(const char *data, size_t len)
{
	char *text = NULL;
	size_t text_len = 0;
	json_t *s;

	if (skyutil_utf8_replace(data, len, &text, &text_len) < 0)
		return NULL;
	s = json_stringn(text, text_len);
	skyutil_free(text);
	return s;
}

static int run_tail(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	static const char text[] = "[-n N] FILE";
	struct args a = {argc, argv, 1};
	const char *path = NULL, *value;
	size_t n = 0, *lens = NULL, i;
	char **lines = NULL;
	long count = 10;
	int r;

	for (; a.i < argc; a.i++) {
		if (take_option(&a, "lines", 'n', &value)) {
			if (!parse_long(value, 0, LONG_MAX, &count))
				return usage("tail", text);
		} else if (argv[a.i][0] == '-' && argv[a.i][1]) {
			return usage("tail", text);
		} else if (!path) {
			path = argv[a.i];
		} else {
			return usage("tail", text);
		}
	}
	if (!path)
		return usage("tail", text);
	r = skyutil_read_last_n_lines_len(path, count, &lines, &lens, &n);
	if (r < 0)
		return file_fail(path, r);
	if (opts->json) {
		json_t *arr = json_array();

		for (i = 0; arr && i < n; i++)
			if (json_array_append_new(arr, json_bytes(lines[i], lens[i])) < 0) {
				json_decref(arr);
				arr = NULL;
			}
		print_json(arr ? json_pack("{s:s, s:o}", "path", path, "lines", arr) : NULL);
	} else {
		/* The last line carries no '\n' (upstream); a terminal wants one. */
		for (i = 0; i < n; i++)
			fwrite(lines[i], 1, lens[i], stdout);
		if (n)
			fputc('\n', stdout);
	}
	skyutil_lines_free(lines, n);
	skyutil_free(lens);
	return fflush(stdout) == 0 ? CLI_OK : CLI_LOCAL;
}

static int run_hash(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	static const char text[] = "[--algo md5|sha1|sha224|sha256|sha384|sha512] FILE...";
	struct args a = {argc, argv, 1};
	const char *algo = "sha256", *value;
	int first_file = 0, i, rc = CLI_OK;

	for (; a.i < argc; a.i++) {
		if (take_option(&a, "algo", 'a', &value)) {
			if (!value)
				return usage("hash", text);
			algo = value;
		} else if (strcmp(argv[a.i], "--") == 0) {
			first_file = a.i + 1;
			break;
		} else if (argv[a.i][0] == '-' && argv[a.i][1]) {
			return usage("hash", text);
		} else {
			first_file = a.i;
			break;
		}
	}
	if (!first_file || first_file >= argc)
		return usage("hash", text);
	if (!skyutil_hash_algo_known(algo)) {
		fprintf(stderr, "skyutil hash: unknown algorithm %s\n", algo);
		return CLI_USAGE;
	}
	for (i = first_file; i < argc; i++) {
		unsigned char *hex = NULL;
		size_t len = 0;
		int r = skyutil_hash_file(argv[i], algo, 1, &hex, &len);

		if (r < 0) {
			rc = file_fail(argv[i], r);
			continue;
		}
		if (opts->json)
			print_json(json_pack("{s:s, s:s, s:s}", "path", argv[i], "algo", algo,
			                     "hex", (char *)hex));
		else
			printf("%s  %s\n", (char *)hex, argv[i]);
		skyutil_free(hex);
	}
	if (fflush(stdout) != 0)
		rc = CLI_LOCAL;
	return rc;
}

static int run_free_port(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	static const char text[] = "[START]";
	long start = 1024;
	int port = 0, r;

	if (argc > 2 || (argc == 2 && !parse_long(argv[1], 0, 65535, &start)))
		return usage("free-port", text);
	r = skyutil_find_free_port((int)start, &port);
	if (r < 0)
		return cli_fail("free-port", r);
	if (opts->json)
		print_json(json_pack("{s:i}", "port", port));
	else
		printf("%d\n", port);
	return fflush(stdout) == 0 ? CLI_OK : CLI_LOCAL;
}

/* CPUs this process may run on: online CPUs narrowed by the affinity mask. */
static int64_t local_cpu_count(void)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;
	int64_t n = online > 0 ? online : 1;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0 &&
	    CPU_COUNT(&set) < n)
		n = CPU_COUNT(&set);
	return n;
}

static int run_parallel_threads(const struct cli_opts *opts, skyutil_client *client, int argc,
                                char **argv)
{
	static const char text[] = "[--cloud CLOUD] [--cpus N]";
	struct args a = {argc, argv, 1};
	const char *cloud = NULL, *source = "argument", *value;
	long cpus = 0;
	int64_t cpu_count, threads;

	for (; a.i < argc; a.i++) {
		if (take_option(&a, "cloud", 0, &value)) {
			if (!value)
				return usage("parallel-threads", text);
			cloud = value;
		} else if (take_option(&a, "cpus", 0, &value)) {
			if (!parse_long(value, 1, LONG_MAX, &cpus))
				return usage("parallel-threads", text);
		} else {
			return usage("parallel-threads", text);
		}
	}
	if (cpus) {
		cpu_count = cpus;
	} else {
		/* The daemon knows the cgroup limits; without it, affinity is the best guess. */
		skyutil_client *c = NULL;
		struct skyutil_facts facts;

		if (skyutil_client_open(opts->socket, opts->timeout_ms, &c) == 0 &&
		    skyutil_facts_get(c, 0, opts->timeout_ms, &facts) == 0 &&
		    facts.cpu_count_floor > 0) {
			cpu_count = facts.cpu_count_floor; /* what get_cpu_count() answers */
			source = "daemon";
		} else {
			cpu_count = local_cpu_count();
			source = "local";
		}
		skyutil_client_free(c);
	}
	threads = skyutil_parallel_threads(cpu_count, cloud);
	if (opts->json)
		print_json(json_pack("{s:I, s:I, s:s, s:s?}", "threads", (json_int_t)threads,
		                     "cpu_count", (json_int_t)cpu_count, "cpu_source", source,
		                     "cloud", cloud));
	else
		printf("%lld\n", (long long)threads);
	return fflush(stdout) == 0 ? CLI_OK : CLI_LOCAL;
}

const struct cli_cmd cli_helper_cmds[] = {
        {"tail", "[-n N] FILE", "last N lines of FILE (default 10), read from the end", false,
         run_tail},
        {"hash", "[--algo A] FILE...",
         "md5/sha1/sha224/sha256/sha384/sha512 digest of files (default sha256)", false, run_hash},
        {"free-port", "[START]", "first port >= START (default 1024) free on all interfaces", false,
         run_free_port},
        {"parallel-threads", "[--cloud C] [--cpus N]",
         "SkyPilot's thread count for this container (daemon cpu_count, else local)", false,
         run_parallel_threads},
        {NULL},
};
