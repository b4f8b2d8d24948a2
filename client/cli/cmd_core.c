/*
 * cmd_core.c - ping, hello, call, metrics.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "skyutil/skyutil.h"

#include "cli.h"
#include "cli_json.h"

static const struct option json_opts[] = {
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
};

/* Options shared by the commands here: --json only. Returns the index of the first operand. */
static int parse_json_only(struct cli_opts *o, int argc, char **argv, int *ret_first)
{
	int opt;

	while ((opt = getopt_long(argc, argv, "+j", json_opts, NULL)) != -1) {
		if (opt != 'j')
			return -EINVAL;
		o->json = true;
	}
	*ret_first = optind;
	return 0;
}

static int run_ping(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	struct cli_opts o = *opts;
	int first, rc;

	if (parse_json_only(&o, argc, argv, &first) < 0 || first != argc)
		return cli_usage(cli_find_cmd("ping"));
	rc = skyutil_ping(client, o.timeout_ms);
	if (rc < 0)
		return cli_fail_client(client, "ping", rc);
	puts(o.json ? "\"pong\"" : "pong");
	return CLI_OK;
}

static int run_hello(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	struct cli_opts o = *opts;
	json_t *j;
	int first, rc;

	if (parse_json_only(&o, argc, argv, &first) < 0 || first != argc)
		return cli_usage(cli_find_cmd("hello"));
	rc = cli_call_json(&o, client, "hello", NULL, 0, &j);
	if (rc != CLI_OK)
		return rc;
	return cli_print_result(&o, j);
}

static int run_call(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	struct cli_opts o = *opts;
	msgpack_sbuffer args;
	char err[256];
	json_t *j;
	int first, rc;

	if (parse_json_only(&o, argc, argv, &first) < 0 || argc - first < 1 || argc - first > 2)
		return cli_usage(cli_find_cmd("call"));
	msgpack_sbuffer_init(&args);
	if (argc - first == 2 && cli_json_args(argv[first + 1], &args, err, sizeof(err)) < 0) {
		fprintf(stderr, "skyutil: call: %s\n", err);
		msgpack_sbuffer_destroy(&args);
		return CLI_USAGE;
	}
	rc = cli_call_json(&o, client, argv[first], args.size ? args.data : NULL, args.size, &j);
	msgpack_sbuffer_destroy(&args);
	if (rc != CLI_OK)
		return rc;
	/* A generic result has no text form: always JSON. */
	rc = cli_json_print(j);
	json_decref(j);
	return rc;
}

static int run_metrics(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv)
{
	struct cli_opts o = *opts;
	json_t *j;
	int first, rc;

	if (parse_json_only(&o, argc, argv, &first) < 0 || first != argc)
		return cli_usage(cli_find_cmd("metrics"));
	rc = cli_call_json(&o, client, "daemon.metrics", NULL, 0, &j);
	if (rc != CLI_OK)
		return rc;
	if (o.json || !json_is_string(j))
		return cli_print_result(&o, j);
	fwrite(json_string_value(j), 1, json_string_length(j), stdout);
	json_decref(j);
	return fflush(stdout) == 0 ? CLI_OK : CLI_LOCAL;
}

const struct cli_cmd cli_core_cmds[] = {
        {"ping", "", "check that skyutild answers", true, run_ping},
        {"hello", "[--json]", "show the daemon's version, methods and limits", true, run_hello},
        {"call", "METHOD ['{JSON ARGS}']", "call any method; prints the result as JSON", true,
         run_call},
        {"metrics", "", "print the daemon's counters (Prometheus text format)", true, run_metrics},
        {NULL},
};
