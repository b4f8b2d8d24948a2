/*
 * main.c - skyutil: global options, command dispatch, error reporting and exit codes.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "skyutil/skyutil.h"

#include "cli.h"

static const struct cli_cmd *const tables[] = {
        cli_core_cmds,
        cli_facts_cmds,
        cli_proc_cmds,
        cli_helper_cmds,
};

const struct cli_cmd *cli_find_cmd(const char *name)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const struct cli_cmd *c = tables[t]; c->name; c++)
			if (!strcmp(c->name, name))
				return c;
	return NULL;
}

static void help(FILE *f)
{
	fprintf(f,
	        "usage: skyutil [--socket PATH] [--json] [--timeout MS] COMMAND [ARGS...]\n"
	        "\n"
	        "Ask skyutild for container-correct machine facts and process events.\n"
	        "\n"
	        "options:\n"
	        "  --socket PATH   daemon socket (default: $SKYUTILD_SOCKET,\n"
	        "                  $XDG_RUNTIME_DIR/skyutild/skyutild.sock, /run/skyutild/skyutild.sock)\n"
	        "  --json          print JSON instead of text\n"
	        "  --timeout MS    per-request timeout in milliseconds (default 5000)\n"
	        "  --help          show this help\n"
	        "  --version       show the version\n"
	        "\n"
	        "commands:\n");
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct cli_cmd *c = tables[t]; c->name; c++) {
			char head[96];

			snprintf(head, sizeof(head), "%s %s", c->name, c->usage ? c->usage : "");
			fprintf(f, "  %-40s %s\n", head, c->help ? c->help : "");
		}
	}
	fprintf(f,
	        "\n"
	        "exit status:\n"
	        "  0  success\n"
	        "  1  the answer was no (alive: not all alive; wait: exit code unknown)\n"
	        "  2  usage error (bad option, argument or JSON)\n"
	        "  3  skyutild is not running or the connection was lost\n"
	        "  4  skyutild answered an error (printed as NAME: message)\n"
	        "  5  no answer within --timeout\n"
	        "  6  local failure\n"
	        "  wait exits with the process's exit code, or 128+N when signal N killed it.\n");
}

int cli_usage(const struct cli_cmd *cmd)
{
	fprintf(stderr, "usage: skyutil %s %s\n", cmd->name, cmd->usage ? cmd->usage : "");
	return CLI_USAGE;
}

int cli_parse_int(const char *s, long long min, long long max, long long *ret)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

int cli_parse_proc_id(const char *s, struct skyutil_proc_id *ret)
{
	char buf[64];
	char *colon;
	long long pid, start = -1;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, strlen(s) + 1);
	colon = strchr(buf, ':');
	if (colon) {
		*colon = '\0';
		if (cli_parse_int(colon + 1, 0, LLONG_MAX, &start) < 0)
			return -EINVAL;
	}
	if (cli_parse_int(buf, 1, INT_MAX, &pid) < 0)
		return -EINVAL;
	ret->pid = pid;
	ret->start_time = start;
	return 0;
}

int cli_fail(const char *what, int rc)
{
	const char *name = skyutil_remote_name(rc);

	if (name)
		fprintf(stderr, "skyutil: %s: %s: %s\n", what, name, skyutil_strerror(rc));
	else
		fprintf(stderr, "skyutil: %s: %s\n", what, skyutil_strerror(rc));
	if (SKYUTIL_IS_REMOTE(rc))
		return CLI_REMOTE;
	switch (rc) {
	case -ETIMEDOUT:
		return CLI_TIMEOUT;
	case -EINVAL:
		return CLI_USAGE;
	default:
		return CLI_LOCAL;
	}
}

int cli_fail_client(const skyutil_client *client, const char *what, int rc)
{
	const char *msg = skyutil_client_last_error(client);

	if (SKYUTIL_IS_REMOTE(rc)) {
		const char *name = skyutil_remote_name(rc);

		fprintf(stderr, "skyutil: %s: %s: %s\n", what, name ? name : "UNKNOWN",
		        *msg ? msg : skyutil_strerror(rc));
		return CLI_REMOTE;
	}
	switch (rc) {
	case -ENOENT:
	case -ECONNREFUSED:
	case -EPIPE:
	case -ECONNRESET:
		fprintf(stderr, "skyutil: %s: %s\n", what, skyutil_strerror(rc));
		return CLI_NO_DAEMON;
	default:
		return cli_fail(what, rc);
	}
}

static int open_client(const struct cli_opts *o, skyutil_client **ret)
{
	char path[sizeof(((struct sockaddr_un *)NULL)->sun_path)] = "";
	const char *shown = o->socket;
	int rc;

	rc = skyutil_client_open(o->socket, o->timeout_ms, ret);
	if (rc == 0) {
		skyutil_client_set_timeout(*ret, o->timeout_ms);
		return CLI_OK;
	}
	if (!shown)
		shown = skyutil_default_socket_path(path, sizeof(path)) == 0 ? path : "(default)";
	if (rc == -ETIMEDOUT) {
		fprintf(stderr,
		        "skyutil: cannot connect to skyutild at %s: no answer within %d ms\n",
		        shown, o->timeout_ms);
		return CLI_TIMEOUT;
	}
	fprintf(stderr, "skyutil: cannot connect to skyutild at %s: %s\n", shown,
	        skyutil_strerror(rc));
	return CLI_NO_DAEMON;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"socket", required_argument, NULL, 's'},  {"json", no_argument, NULL, 'j'},
	        {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
	};
	struct cli_opts o = {.socket = NULL, .timeout_ms = 5000, .json = false};
	const struct cli_cmd *cmd;
	skyutil_client *client = NULL;
	long long v;
	int opt, rc, first;

	while ((opt = getopt_long(argc, argv, "+s:jt:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			o.socket = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 't':
			if (cli_parse_int(optarg, 0, INT_MAX, &v) < 0) {
				fprintf(stderr,
				        "skyutil: --timeout: not a number of milliseconds: %s\n",
				        optarg);
				return CLI_USAGE;
			}
			o.timeout_ms = (int)v;
			break;
		case 'h':
			help(stdout);
			return CLI_OK;
		case 'V':
			printf("skyutil %s\n", SKYUTIL_VERSION);
			return CLI_OK;
		default:
			help(stderr);
			return CLI_USAGE;
		}
	}
	if (optind >= argc) {
		help(stderr);
		return CLI_USAGE;
	}
	cmd = cli_find_cmd(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "skyutil: unknown command '%s' (see skyutil --help)\n",
		        argv[optind]);
		return CLI_USAGE;
	}
	if (cmd->needs_daemon) {
		rc = open_client(&o, &client);
		if (rc != CLI_OK)
			return rc;
	}
	first = optind;
	optind = 0;
	rc = cmd->run(&o, client, argc - first, argv + first);
	skyutil_client_free(client);
	return rc;
}
