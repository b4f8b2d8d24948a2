/*
 * cli.h - the skyutil command-line probe: command table shared by the cmd_*.c files.
 */
#ifndef SKU_CLI_H
#define SKU_CLI_H

#include <stdbool.h>

#include "skyutil/skyutil.h"

/* Exit codes, documented in `skyutil --help` and skyutil(1). */
enum cli_exit {
	CLI_OK = 0,
	CLI_FALSE = 1,     /* a predicate was false (alive: not all alive) */
	CLI_USAGE = 2,     /* bad usage */
	CLI_NO_DAEMON = 3, /* daemon not running / not reachable */
	CLI_REMOTE = 4,    /* the daemon answered an error */
	CLI_TIMEOUT = 5,   /* no answer within --timeout */
	CLI_LOCAL = 6,     /* local failure (file missing, ...) */
};

struct cli_opts {
	const char *socket; /* NULL: default */
	int timeout_ms;
	bool json;
};

struct cli_cmd {
	const char *name;
	const char *usage; /* "PID..." */
	const char *help;  /* one line */
	bool needs_daemon; /* open a client before run */
	int (*run)(const struct cli_opts *opts, skyutil_client *client, int argc, char **argv);
};

/* Command tables, one per cmd_*.c file, each ending with a {NULL} row. */
extern const struct cli_cmd cli_core_cmds[];   /* ping, hello, call, metrics */
extern const struct cli_cmd cli_facts_cmds[];  /* facts, cpu-count, mem, watch-facts */
extern const struct cli_cmd cli_proc_cmds[];   /* alive, status, wait, children, kill-tree, guard */
extern const struct cli_cmd cli_helper_cmds[]; /* tail, hash, free-port, parallel-threads */

/*
 * Map a library return code to an exit code and print the error to stderr ("skyutil: what:
 * description"). For local work: -ENOENT is CLI_LOCAL, -EINVAL CLI_USAGE, -ETIMEDOUT
 * CLI_TIMEOUT, a remote error CLI_REMOTE.
 */
int cli_fail(const char *what, int rc);

/*
 * The same for a call on client: no daemon or connection lost (-ENOENT, -ECONNREFUSED,
 * -EPIPE) is CLI_NO_DAEMON, and a remote error prints "NAME: message" with the daemon's text.
 */
int cli_fail_client(const skyutil_client *client, const char *what, int rc);

/*
 * Commands are run with getopt state reset (optind = 0) and argv[0] the command name, so
 * run() may call getopt_long() directly.
 */

/* "PID" or "PID:START_TIME" into *ret. Returns 0 or -EINVAL. */
int cli_parse_proc_id(const char *s, struct skyutil_proc_id *ret);
/* A decimal integer within [min, max]. Returns 0 or -EINVAL. */
int cli_parse_int(const char *s, long long min, long long max, long long *ret);
/* Print "usage: skyutil cmd USAGE" to stderr; returns CLI_USAGE. */
int cli_usage(const struct cli_cmd *cmd);
/* The row of a command by name, or NULL. */
const struct cli_cmd *cli_find_cmd(const char *name);

#endif
