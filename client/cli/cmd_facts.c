/*
 * cmd_facts.c - facts, cpu-count, mem, watch-facts.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>

#include "skyutil/skyutil.h"

#include "cli.h"
#include "cli_json.h"

/* --json, --pid N, and for watch-facts --count N. */
struct facts_args {
	struct cli_opts o;
	long long pid;
	long long count; /* 0: forever */
};

static int parse(const struct cli_opts *opts, int argc, char **argv, bool allow_count,
                 struct facts_args *ret)
{
	static const struct option longopts[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"pid", required_argument, NULL, 'p'},
	        {"count", required_argument, NULL, 'c'},
	        {NULL, 0, NULL, 0},
	};
	int opt;

	*ret = (struct facts_args){.o = *opts};
	while ((opt = getopt_long(argc, argv, "jp:c:", longopts, NULL)) != -1) {
		if (opt == 'j')
			ret->o.json = true;
		else if (opt == 'p' && cli_parse_int(optarg, 1, INT_MAX, &ret->pid) == 0)
			;
		else if (opt == 'c' && allow_count &&
		         cli_parse_int(optarg, 1, INT_MAX, &ret->count) == 0)
			;
		else
			return -EINVAL;
	}
	return optind == argc ? 0 : -EINVAL;
}

static json_t *limit_json(int64_t v)
{
	return v == SKYUTIL_UNLIMITED ? json_null() : json_integer(v);
}

static json_t *facts_json(const struct skyutil_facts *f)
{
	return json_pack(
	        "{sI sI sI so sI sI so sI so sI so so so sI so so sI}", "pid", (json_int_t)f->pid,
	        "cpu_count", (json_int_t)f->cpu_count, "cpu_count_floor",
	        (json_int_t)f->cpu_count_floor, "cpu_quota",
	        f->cpu_quota > 0 ? json_real(f->cpu_quota) : json_null(), "cpu_online",
	        (json_int_t)f->cpu_online, "cpu_affinity", (json_int_t)f->cpu_affinity,
	        "cpuset_cpus", f->cpuset_cpus ? json_integer(f->cpuset_cpus) : json_null(),
	        "mem_total_bytes", (json_int_t)f->mem_total_bytes, "mem_limit_bytes",
	        limit_json(f->mem_limit_bytes), "mem_effective_bytes",
	        (json_int_t)f->mem_effective_bytes, "mem_used_bytes",
	        f->mem_used_bytes < 0 ? json_null() : json_integer(f->mem_used_bytes), "pids_limit",
	        limit_json(f->pids_limit), "nofile_soft", limit_json(f->nofile_soft), "nofile_hard",
	        (json_int_t)f->nofile_hard, "cgroup_version",
	        f->cgroup_version == 1 || f->cgroup_version == 2 ? json_integer(f->cgroup_version)
	        : f->cgroup_version == 3                         ? json_string("hybrid")
	                                                         : json_null(),
	        "cgroup_path", *f->cgroup_path ? json_string(f->cgroup_path) : json_null(),
	        "generation", (json_int_t)f->generation);
}

static int run_facts(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	struct facts_args a;
	msgpack_sbuffer args;
	msgpack_packer pk;
	json_t *j;
	int rc;

	if (parse(opts, argc, argv, false, &a) < 0)
		return cli_usage(cli_find_cmd("facts"));
	/* The wire map, not the C struct: it also carries sources and warnings. */
	msgpack_sbuffer_init(&args);
	msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
	if (a.pid &&
	    (msgpack_pack_map(&pk, 1) < 0 || msgpack_pack_str_with_body(&pk, "pid", 3) < 0 ||
	     msgpack_pack_int64(&pk, a.pid) < 0)) {
		msgpack_sbuffer_destroy(&args);
		return cli_fail("facts", -ENOMEM);
	}
	rc = cli_call_json(&a.o, client, "facts.get", a.pid ? args.data : NULL, args.size, &j);
	msgpack_sbuffer_destroy(&args);
	if (rc != CLI_OK)
		return rc;
	return cli_print_result(&a.o, j);
}

static int run_cpu_count(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	struct skyutil_facts f;
	struct facts_args a;
	json_t *j;
	int rc;

	if (parse(opts, argc, argv, false, &a) < 0)
		return cli_usage(cli_find_cmd("cpu-count"));
	rc = skyutil_facts_get(client, a.pid, a.o.timeout_ms, &f);
	if (rc < 0)
		return cli_fail_client(client, "cpu-count", rc);
	if (!a.o.json) {
		printf("%" PRId64 "\n", f.cpu_count);
		return CLI_OK;
	}
	j = json_pack("{sI sI so}", "cpu_count", (json_int_t)f.cpu_count, "cpu_count_floor",
	              (json_int_t)f.cpu_count_floor, "cpu_quota",
	              f.cpu_quota > 0 ? json_real(f.cpu_quota) : json_null());
	if (!j)
		return cli_fail("cpu-count", -ENOMEM);
	rc = cli_json_print(j);
	json_decref(j);
	return rc;
}

static void print_bytes(const char *label, int64_t v, const char *none)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double d = (double)v;
	unsigned u = 0;

	if (v < 0 || v == SKYUTIL_UNLIMITED) {
		printf("%s: %s\n", label, none);
		return;
	}
	while (d >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		d /= 1024;
		u++;
	}
	printf("%s: %" PRId64 " (%.1f %s)\n", label, v, d, units[u]);
}

static int run_mem(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	struct skyutil_facts f;
	struct facts_args a;
	json_t *j;
	int rc;

	if (parse(opts, argc, argv, false, &a) < 0)
		return cli_usage(cli_find_cmd("mem"));
	rc = skyutil_facts_get(client, a.pid, a.o.timeout_ms, &f);
	if (rc < 0)
		return cli_fail_client(client, "mem", rc);
	if (!a.o.json) {
		print_bytes("total", f.mem_total_bytes, "unknown");
		print_bytes("limit", f.mem_limit_bytes, "unlimited");
		print_bytes("effective", f.mem_effective_bytes, "unknown");
		print_bytes("used", f.mem_used_bytes, "unknown");
		return CLI_OK;
	}
	j = json_pack("{sI so sI so}", "mem_total_bytes", (json_int_t)f.mem_total_bytes,
	              "mem_limit_bytes", limit_json(f.mem_limit_bytes), "mem_effective_bytes",
	              (json_int_t)f.mem_effective_bytes, "mem_used_bytes",
	              f.mem_used_bytes < 0 ? json_null() : json_integer(f.mem_used_bytes));
	if (!j)
		return cli_fail("mem", -ENOMEM);
	rc = cli_json_print(j);
	json_decref(j);
	return rc;
}

static int print_facts(const struct facts_args *a, const struct skyutil_facts *f)
{
	json_t *j;
	int rc = CLI_OK;

	if (!a->o.json) {
		printf("generation %" PRIu64 ": cpu_count %" PRId64
		       ", cpu_quota %g, mem_effective %" PRId64 ", pids_limit ",
		       f->generation, f->cpu_count, f->cpu_quota, f->mem_effective_bytes);
		if (f->pids_limit == SKYUTIL_UNLIMITED)
			printf("unlimited");
		else
			printf("%" PRId64, f->pids_limit);
		printf(", nofile_soft ");
		if (f->nofile_soft == SKYUTIL_UNLIMITED)
			printf("unlimited\n");
		else
			printf("%" PRId64 "\n", f->nofile_soft);
		return fflush(stdout) == 0 ? CLI_OK : CLI_LOCAL;
	}
	j = facts_json(f);
	if (!j)
		return cli_fail("watch-facts", -ENOMEM);
	rc = cli_json_print(j);
	json_decref(j);
	return rc;
}

static int run_watch_facts(const struct cli_opts *opts, skyutil_client *client, int argc,
                           char **argv)
{
	struct skyutil_facts f;
	struct facts_args a;
	uint64_t seen;
	long long changes = 0;
	int rc;

	if (parse(opts, argc, argv, true, &a) < 0 || a.pid)
		return cli_usage(cli_find_cmd("watch-facts"));
	rc = skyutil_facts_cached(client, &f);
	if (rc < 0)
		return cli_fail_client(client, "watch-facts", rc);
	rc = print_facts(&a, &f);
	if (rc != CLI_OK)
		return rc;
	seen = f.generation;
	while (a.count == 0 || changes < a.count) {
		struct pollfd pfd = {.fd = skyutil_client_fd(client), .events = POLLIN};

		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return cli_fail("watch-facts", -errno);
		}
		rc = skyutil_facts_cached(client, &f);
		if (rc < 0)
			return cli_fail_client(client, "watch-facts", rc);
		if (f.generation == seen)
			continue;
		seen = f.generation;
		changes++;
		rc = print_facts(&a, &f);
		if (rc != CLI_OK)
			return rc;
	}
	return CLI_OK;
}

const struct cli_cmd cli_facts_cmds[] = {
        {"facts", "[--pid N] [--json]", "CPU, memory, pids and rlimit facts of a process", true,
         run_facts},
        {"cpu-count", "[--pid N] [--json]", "CPUs usable in this container (ceil of the quota)",
         true, run_cpu_count},
        {"mem", "[--pid N] [--json]", "memory total, limit, effective and used bytes", true,
         run_mem},
        {"watch-facts", "[--count N] [--json]", "print the facts, then each change as pushed", true,
         run_watch_facts},
        {NULL},
};
