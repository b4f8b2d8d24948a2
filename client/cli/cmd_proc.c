/*
 * cmd_proc.c - alive, status, wait, children, kill-tree, guard, unguard.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skyutil/skyutil.h"

#include "cli.h"
#include "cli_json.h"
#include "signame.h"
#include "sku_proto.h"

struct proc_args {
	struct cli_opts o;
	bool recursive;
	bool no_root;
	double grace_s; /* < 0: default */
	int signal;     /* 0: default */
	const char *watch, *kill;
	int first; /* first operand */
};

enum { OPT_NO_ROOT = 256 };

/* "TERM", "SIGTERM", "term", "RTMIN+3" or "15", as the daemon reads them (one kernel). */
static int parse_signal(const char *s, int *ret)
{
	long long n;
	int sig;

	if (cli_parse_int(s, 1, sku_signal_max(), &n) == 0) {
		*ret = (int)n;
		return 0;
	}
	sig = sku_signal_from_name(s, strlen(s));
	if (sig < 0)
		return sig;
	*ret = sig;
	return 0;
}

static int parse_grace(const char *s, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || !*s || *end || !isfinite(v) || v < 0 || v > SKU_GRACE_MAX_S)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse(const struct cli_opts *opts, int argc, char **argv, struct proc_args *ret)
{
	static const struct option longopts[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"recursive", no_argument, NULL, 'r'},
	        {"grace", required_argument, NULL, 'g'},
	        {"signal", required_argument, NULL, 's'},
	        {"watch", required_argument, NULL, 'w'},
	        {"kill", required_argument, NULL, 'k'},
	        {"no-root", no_argument, NULL, OPT_NO_ROOT},
	        {NULL, 0, NULL, 0},
	};
	int opt;

	*ret = (struct proc_args){.o = *opts, .grace_s = -1};
	while ((opt = getopt_long(argc, argv, "jrg:s:w:k:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			ret->o.json = true;
			break;
		case 'r':
			ret->recursive = true;
			break;
		case 'g':
			if (parse_grace(optarg, &ret->grace_s) < 0)
				return -EINVAL;
			break;
		case 's':
			if (parse_signal(optarg, &ret->signal) < 0)
				return -EINVAL;
			break;
		case 'w':
			ret->watch = optarg;
			break;
		case 'k':
			ret->kill = optarg;
			break;
		case OPT_NO_ROOT:
			ret->no_root = true;
			break;
		default:
			return -EINVAL;
		}
	}
	ret->first = optind;
	return 0;
}

/* Operands from first on as identities; *ret_ids owned by the caller (free). */
static int parse_ids(int argc, char **argv, int first, struct skyutil_proc_id **ret_ids,
                     size_t *ret_n)
{
	size_t n = (size_t)(argc - first);
	struct skyutil_proc_id *ids;

	if (n == 0)
		return -EINVAL;
	ids = calloc(n, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (cli_parse_proc_id(argv[first + (int)i], &ids[i]) < 0) {
			fprintf(stderr, "skyutil: %s: not PID or PID:START_TIME: %s\n", argv[0],
			        argv[first + (int)i]);
			free(ids);
			return -EINVAL;
		}
	}
	*ret_ids = ids;
	*ret_n = n;
	return 0;
}

static int usage_of(char **argv)
{
	return cli_usage(cli_find_cmd(argv[0]));
}

static int run_alive(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	struct skyutil_proc_status *st = NULL;
	struct skyutil_proc_id *ids;
	struct proc_args a;
	bool all = true;
	json_t *j = NULL;
	int *alive;
	size_t n;
	int rc;

	if (parse(opts, argc, argv, &a) < 0 || parse_ids(argc, argv, a.first, &ids, &n) < 0)
		return usage_of(argv);
	/* The exit status needs only liveness; --json also shows the state, a fuller read. */
	alive = calloc(n, sizeof(*alive));
	if (a.o.json)
		st = calloc(n, sizeof(*st));
	if (!alive || (a.o.json && !st)) {
		free(alive);
		free(st);
		free(ids);
		return cli_fail("alive", -ENOMEM);
	}
	if (st) {
		rc = skyutil_proc_status(client, ids, n, a.o.timeout_ms, st);
		for (size_t i = 0; rc == 0 && i < n; i++)
			alive[i] = st[i].alive;
	} else {
		rc = skyutil_proc_alive(client, ids, n, a.o.timeout_ms, alive);
	}
	free(ids);
	if (rc < 0) {
		free(alive);
		free(st);
		return cli_fail_client(client, "alive", rc);
	}
	if (st)
		j = json_array();
	for (size_t i = 0; i < n; i++) {
		all = all && alive[i];
		if (j)
			json_array_append_new(j,
			                      json_pack("{sI sb ss}", "pid", (json_int_t)st[i].pid,
			                                "alive", st[i].alive, "state",
			                                skyutil_proc_state_name(st[i].state)));
	}
	free(alive);
	free(st);
	if (j) {
		rc = cli_json_print(j);
		json_decref(j);
		if (rc != CLI_OK)
			return rc;
	}
	return all ? CLI_OK : CLI_FALSE;
}

static int pack_ids_arg(msgpack_sbuffer *buf, const struct skyutil_proc_id *ids, size_t n)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
	if (n > UINT32_MAX || msgpack_pack_map(&pk, 1) < 0 ||
	    msgpack_pack_str_with_body(&pk, "procs", 5) < 0 ||
	    msgpack_pack_array(&pk, (uint32_t)n) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		bool st = ids[i].start_time >= 0;

		if (msgpack_pack_map(&pk, st ? 2 : 1) < 0 ||
		    msgpack_pack_str_with_body(&pk, "pid", 3) < 0 ||
		    msgpack_pack_int64(&pk, ids[i].pid) < 0 ||
		    (st && (msgpack_pack_str_with_body(&pk, "start_time", 10) < 0 ||
		            msgpack_pack_int64(&pk, ids[i].start_time) < 0)))
			return -ENOMEM;
	}
	return 0;
}

static void print_cell(const json_t *v, int width)
{
	if (json_is_integer(v))
		printf("%-*" JSON_INTEGER_FORMAT, width, json_integer_value(v));
	else if (json_is_string(v))
		printf("%-*s", width, json_string_value(v));
	else if (json_is_boolean(v))
		printf("%-*s", width, json_is_true(v) ? "yes" : "no");
	else if (json_is_real(v))
		printf("%-*.2f", width, json_real_value(v));
	else
		printf("%-*s", width, "-");
}

static int run_status(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	static const struct {
		const char *key, *head;
		int width;
	} cols[] = {
	        {"pid", "PID", 8},           {"state", "STATE", 9}, {"alive", "ALIVE", 6},
	        {"start_time", "START", 11}, {"ppid", "PPID", 8},   {"uid", "UID", 6},
	        {"exit_code", "EXIT", 5},    {"signal", "SIG", 4},  {"reason", "REASON", 0},
	};
	struct skyutil_proc_id *ids;
	msgpack_sbuffer args;
	struct proc_args a;
	json_t *j, *e;
	size_t n, i;
	int rc;

	if (parse(opts, argc, argv, &a) < 0 || parse_ids(argc, argv, a.first, &ids, &n) < 0)
		return usage_of(argv);
	msgpack_sbuffer_init(&args);
	rc = pack_ids_arg(&args, ids, n);
	free(ids);
	if (rc < 0) {
		msgpack_sbuffer_destroy(&args);
		return cli_fail("status", rc);
	}
	rc = cli_call_json(&a.o, client, "proc.status", args.data, args.size, &j);
	msgpack_sbuffer_destroy(&args);
	if (rc != CLI_OK)
		return rc;
	if (a.o.json) {
		rc = cli_json_print(j);
		json_decref(j);
		return rc;
	}
	for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++)
		printf("%-*s", cols[c].width, cols[c].head);
	putchar('\n');
	json_array_foreach(j, i, e)
	{
		for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++)
			print_cell(json_object_get(e, cols[c].key), cols[c].width);
		putchar('\n');
	}
	json_decref(j);
	return fflush(stdout) == 0 ? CLI_OK : CLI_LOCAL;
}

static int exit_status_of(int64_t code, int64_t sig)
{
	if (code >= 0)
		return (int)(code & 0xff);
	return 128 + (int)sig;
}

static int report_exit(const struct proc_args *a, const struct skyutil_exit *e)
{
	json_t *j;
	int rc;

	if (a->o.json) {
		j = json_pack("{sI so so sb so so}", "pid", (json_int_t)e->pid, "exit_code",
		              e->exit_code >= 0 ? json_integer(e->exit_code) : json_null(),
		              "signal", e->signal > 0 ? json_integer(e->signal) : json_null(),
		              "core_dumped", e->core_dumped, "exited_at",
		              e->exited_at > 0 ? json_real(e->exited_at) : json_null(), "reason",
		              *e->reason ? json_string(e->reason) : json_null());
		if (!j)
			return cli_fail("wait", -ENOMEM);
		rc = cli_json_print(j);
		json_decref(j);
		if (rc != CLI_OK)
			return rc;
	} else if (e->exit_code >= 0) {
		printf("%" PRId64 "\n", e->exit_code);
	} else if (e->signal > 0) {
		printf("signal %" PRId64 "%s\n", e->signal, e->core_dumped ? " (core dumped)" : "");
	}
	if (e->exit_code < 0 && e->signal <= 0) {
		fprintf(stderr, "skyutil: wait: process %" PRId64 ": exit code unknown%s%s\n",
		        e->pid, *e->reason ? ": " : "", e->reason);
		return CLI_FALSE;
	}
	fflush(stdout);
	return exit_status_of(e->exit_code, e->signal);
}

static int run_wait(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	struct skyutil_proc_status st;
	struct skyutil_proc_id id;
	struct skyutil_exit e;
	struct proc_args a;
	int64_t watch_id;
	int rc;

	if (parse(opts, argc, argv, &a) < 0 || argc - a.first != 1 ||
	    cli_parse_proc_id(argv[a.first], &id) < 0)
		return usage_of(argv);
	rc = skyutil_proc_watch(client, id, a.o.timeout_ms, &watch_id, &st);
	if (rc < 0)
		return cli_fail_client(client, "wait", rc);
	if (watch_id == 0) {
		if (st.state == SKYUTIL_PROC_REUSED) {
			fprintf(stderr,
			        "skyutil: wait: pid %" PRId64 " now belongs to another process\n",
			        id.pid);
			return CLI_FALSE;
		}
		/* Already gone: the daemon may remember how it ended. */
		e = (struct skyutil_exit){.pid = st.pid,
		                          .start_time = st.start_time,
		                          .exit_code = st.exit_code,
		                          .signal = st.signal};
		snprintf(e.reason, sizeof(e.reason), "%s",
		         st.state == SKYUTIL_PROC_GONE && st.exit_code < 0 && st.signal <= 0
		                 ? "no such process (ended before it was watched, or never was)"
		                 : "not running when watched");
		return report_exit(&a, &e);
	}
	rc = skyutil_proc_wait(client, watch_id, -1, &e);
	if (rc < 0)
		return cli_fail_client(client, "wait", rc);
	return report_exit(&a, &e);
}

static int run_children(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	struct skyutil_proc_id id;
	struct proc_args a;
	msgpack_sbuffer args;
	msgpack_packer pk;
	json_t *j, *e;
	size_t i;
	int rc;

	if (parse(opts, argc, argv, &a) < 0 || argc - a.first != 1 ||
	    cli_parse_proc_id(argv[a.first], &id) < 0)
		return usage_of(argv);
	msgpack_sbuffer_init(&args);
	msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
	if (msgpack_pack_map(&pk, id.start_time >= 0 ? 3 : 2) < 0 ||
	    msgpack_pack_str_with_body(&pk, "pid", 3) < 0 || msgpack_pack_int64(&pk, id.pid) < 0 ||
	    msgpack_pack_str_with_body(&pk, "recursive", 9) < 0 ||
	    (a.recursive ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk)) < 0 ||
	    (id.start_time >= 0 && (msgpack_pack_str_with_body(&pk, "start_time", 10) < 0 ||
	                            msgpack_pack_int64(&pk, id.start_time) < 0))) {
		msgpack_sbuffer_destroy(&args);
		return cli_fail("children", -ENOMEM);
	}
	rc = cli_call_json(&a.o, client, "proc.children", args.data, args.size, &j);
	msgpack_sbuffer_destroy(&args);
	if (rc != CLI_OK)
		return rc;
	if (a.o.json) {
		rc = cli_json_print(j);
		json_decref(j);
		return rc;
	}
	json_array_foreach(j, i, e)
	{
		print_cell(json_object_get(e, "pid"), 0);
		putchar('\n');
	}
	json_decref(j);
	return fflush(stdout) == 0 ? CLI_OK : CLI_LOCAL;
}

static int run_kill_tree(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	struct skyutil_proc_id id;
	struct proc_args a;
	msgpack_sbuffer args;
	msgpack_packer pk;
	uint32_t nkeys;
	json_t *j;
	int rc;

	if (parse(opts, argc, argv, &a) < 0 || argc - a.first != 1 ||
	    cli_parse_proc_id(argv[a.first], &id) < 0)
		return usage_of(argv);
	nkeys = 2 + (id.start_time >= 0) + (a.signal > 0) + (a.grace_s >= 0);
	msgpack_sbuffer_init(&args);
	msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
	if (msgpack_pack_map(&pk, nkeys) < 0 || msgpack_pack_str_with_body(&pk, "pid", 3) < 0 ||
	    msgpack_pack_int64(&pk, id.pid) < 0 ||
	    msgpack_pack_str_with_body(&pk, "include_root", 12) < 0 ||
	    (a.no_root ? msgpack_pack_false(&pk) : msgpack_pack_true(&pk)) < 0 ||
	    (id.start_time >= 0 && (msgpack_pack_str_with_body(&pk, "start_time", 10) < 0 ||
	                            msgpack_pack_int64(&pk, id.start_time) < 0)) ||
	    (a.signal > 0 && (msgpack_pack_str_with_body(&pk, "signal", 6) < 0 ||
	                      msgpack_pack_int(&pk, a.signal) < 0)) ||
	    (a.grace_s >= 0 && (msgpack_pack_str_with_body(&pk, "grace_s", 7) < 0 ||
	                        msgpack_pack_double(&pk, a.grace_s) < 0))) {
		msgpack_sbuffer_destroy(&args);
		return cli_fail("kill-tree", -ENOMEM);
	}
	/* The reply comes when the tree is gone: allow for the grace period. */
	{
		double t = a.o.timeout_ms + (a.grace_s < 0 ? 10.0 : a.grace_s) * 1000 + 1;

		a.o.timeout_ms = t > INT_MAX ? INT_MAX : (int)t;
	}
	rc = cli_call_json(&a.o, client, "proc.kill_tree", args.data, args.size, &j);
	msgpack_sbuffer_destroy(&args);
	if (rc != CLI_OK)
		return rc;
	return cli_print_result(&a.o, j);
}

static int run_guard(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	struct skyutil_proc_id watch, target;
	struct proc_args a;
	int64_t guard_id;
	int rc;

	if (parse(opts, argc, argv, &a) < 0 || argc != a.first || !a.watch || !a.kill ||
	    cli_parse_proc_id(a.watch, &watch) < 0 || cli_parse_proc_id(a.kill, &target) < 0)
		return usage_of(argv);
	rc = skyutil_proc_guard_signal(client, watch, target, a.signal, a.grace_s, a.o.timeout_ms,
	                               &guard_id);
	if (rc < 0)
		return cli_fail_client(client, "guard", rc);
	/* guard_id 0: the watched process had already ended and the kill has started. */
	if (a.o.json && guard_id == 0)
		puts("{\"guard_id\":null,\"fired\":true}");
	else if (a.o.json)
		printf("{\"guard_id\":%" PRId64 ",\"fired\":false}\n", guard_id);
	else if (guard_id == 0)
		puts("fired");
	else
		printf("%" PRId64 "\n", guard_id);
	return fflush(stdout) == 0 ? CLI_OK : CLI_LOCAL;
}

static int run_unguard(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	struct proc_args a;
	long long id;
	int rc;

	if (parse(opts, argc, argv, &a) < 0 || argc - a.first != 1 ||
	    cli_parse_int(argv[a.first], 1, LLONG_MAX, &id) < 0)
		return usage_of(argv);
	rc = skyutil_proc_unguard(client, id, a.o.timeout_ms);
	if (rc < 0)
		return cli_fail_client(client, "unguard", rc);
	if (a.o.json)
		puts("true");
	return CLI_OK;
}

/* "PID:START" of a {pid, start_time} member of a guard, or "-". */
static void print_ident(const json_t *id, int width)
{
	const json_t *pid = json_object_get(id, "pid"), *st = json_object_get(id, "start_time");
	char buf[64] = "-";

	if (json_is_integer(pid) && json_is_integer(st))
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT,
		         json_integer_value(pid), json_integer_value(st));
	printf("%-*s", width, buf);
}

static int run_guards(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	struct proc_args a;
	json_t *j, *e;
	size_t i;
	int rc;

	if (parse(opts, argc, argv, &a) < 0 || argc != a.first)
		return usage_of(argv);
	rc = cli_call_json(&a.o, client, "proc.guards", NULL, 0, &j);
	if (rc != CLI_OK)
		return rc;
	if (a.o.json || !json_is_array(j)) {
		rc = cli_json_print(j);
		json_decref(j);
		return rc;
	}
	printf("%-10s%-24s%-24s%-8s%-7s%s\n", "ID", "WATCH", "KILL", "GRACE", "SIGNAL", "UID");
	json_array_foreach(j, i, e)
	{
		print_cell(json_object_get(e, "guard_id"), 10);
		print_ident(json_object_get(e, "watch"), 24);
		print_ident(json_object_get(e, "target"), 24);
		print_cell(json_object_get(e, "grace_s"), 8);
		print_cell(json_object_get(e, "signal"), 7);
		print_cell(json_object_get(e, "uid"), 0);
		putchar('\n');
	}
	json_decref(j);
	return fflush(stdout) == 0 ? CLI_OK : CLI_LOCAL;
}

const struct cli_cmd cli_proc_cmds[] = {
        {"alive", "PID[:START]...", "exit 0 when every process is alive, 1 otherwise", true,
         run_alive},
        {"status", "[--json] PID[:START]...", "state, parent, owner and exit of processes", true,
         run_status},
        {"wait", "PID[:START]", "wait for a process to end; exit with its exit code", true,
         run_wait},
        {"children", "[--recursive] PID[:START]", "list the children of a process", true,
         run_children},
        {"kill-tree", "PID[:START] [--grace S] [--signal SIG] [--no-root]",
         "signal a process tree, SIGKILL what survives the grace period", true, run_kill_tree},
        {"guard", "--watch PID[:START] --kill PID[:START] [--grace S] [--signal SIG]",
         "when one process ends, kill another's tree; prints the guard id, or \"fired\"", true,
         run_guard},
        {"unguard", "ID", "remove a guard", true, run_unguard},
        {"guards", "[--json]", "list the guards (root: everyone's; others: their own)", true,
         run_guards},
        {NULL},
};
