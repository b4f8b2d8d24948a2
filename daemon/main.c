/*
 * main.c - skyutild: command line, module start-up order, signals, the loop.
 *
 * Runs in the foreground under a supervisor (systemd, launchd, a test): never forks, no
 * pidfile, logs to stderr. Exit status: 0 after a clean stop, 1 on a start-up or runtime
 * failure (another daemon already listening included), 2 on bad usage.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sku_daemon.h"

#define EXIT_USAGE 2

#define MAX_OUTPUT_DEFAULT       (4u * 1024 * 1024)
#define MAX_CONNECTIONS_DEFAULT  1024u
#define IDLE_TIMEOUT_MS_DEFAULT  30000u
#define LINGER_TIMEOUT_S_DEFAULT 300u
#define MAX_USER_WATCHES_DEFAULT 65536u
#define MAX_USER_GUARDS_DEFAULT  1024u
#define MAX_MESSAGE_MIN          1024u /* room for any request the protocol defines */
#define MAX_MESSAGE_MAX          (64u * 1024 * 1024)

enum {
	OPT_SOCKET = 256,
	OPT_SOCKET_MODE,
	OPT_SOCKET_GROUP,
	OPT_MAX_CONNECTIONS,
	OPT_MAX_MESSAGE,
	OPT_MAX_OUTPUT,
	OPT_MAX_BATCH,
	OPT_MAX_USER_WATCHES,
	OPT_MAX_USER_GUARDS,
	OPT_IDLE_TIMEOUT,
	OPT_LINGER_TIMEOUT,
	OPT_SYSROOT,
	OPT_DEBUG_METHODS,
	OPT_VERSION,
};

static const struct option options[] = {
        {"socket", required_argument, NULL, OPT_SOCKET},
        {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
        {"socket-group", required_argument, NULL, OPT_SOCKET_GROUP},
        {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
        {"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
        {"max-output", required_argument, NULL, OPT_MAX_OUTPUT},
        {"max-batch", required_argument, NULL, OPT_MAX_BATCH},
        {"max-user-watches", required_argument, NULL, OPT_MAX_USER_WATCHES},
        {"max-user-guards", required_argument, NULL, OPT_MAX_USER_GUARDS},
        {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
        {"linger-timeout", required_argument, NULL, OPT_LINGER_TIMEOUT},
        {"sysroot", required_argument, NULL, OPT_SYSROOT},
        {"enable-debug-methods", no_argument, NULL, OPT_DEBUG_METHODS},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: skyutild [OPTION]...\n"
	        "Answer container-correct machine facts and watch processes over a Unix socket.\n"
	        "\n"
	        "  --socket PATH           socket path (default: $SKYUTILD_SOCKET,\n"
	        "                          $XDG_RUNTIME_DIR/skyutild/skyutild.sock,\n"
	        "                          /run/skyutild/skyutild.sock for root,\n"
	        "                          else /tmp/skyutild-UID/skyutild.sock)\n"
	        "  --socket-mode OCTAL     permissions of the socket (default 0600)\n"
	        "  --socket-group NAME     group owning the socket (give it mode 0660)\n"
	        "  --max-connections N     clients at once (default %u)\n"
	        "  --max-message BYTES     largest request (default %u)\n"
	        "  --max-output BYTES      unread output before a client is dropped (default %u)\n"
	        "  --max-batch N           entries in one proc.status (default %u)\n"
	        "  --max-user-watches N    watches one user other than root may hold;\n"
	        "                          0 no limit (default %u)\n"
	        "  --max-user-guards N     guards one user other than root may hold;\n"
	        "                          0 no limit (default %u)\n"
	        "  --idle-timeout MS       a partial request older than this closes the\n"
	        "                          connection; 0 never (default %u)\n"
	        "  --linger-timeout S      keep watching a process this long after its\n"
	        "                          watchers disconnected, for its exit code;\n"
	        "                          0 never (default %u)\n"
	        "  --sysroot DIR           read DIR/proc and DIR/sys (tests only)\n"
	        "  --enable-debug-methods  expose test-only methods (debug.*)\n"
	        "  -v, --verbose           more logging (-vv: debug)\n"
	        "      --version           print the version and exit\n"
	        "  -h, --help              print this help and exit\n"
	        "\n"
	        "Runs in the foreground and logs to stderr. Stops cleanly on SIGTERM or SIGINT.\n"
	        "Exit status: 0 clean stop, 1 failure (e.g. another skyutild is listening), 2 usage.\n",
	        MAX_CONNECTIONS_DEFAULT, SKU_MAX_MESSAGE_DEFAULT, MAX_OUTPUT_DEFAULT,
	        SKU_MAX_BATCH_DEFAULT, MAX_USER_WATCHES_DEFAULT, MAX_USER_GUARDS_DEFAULT,
	        IDLE_TIMEOUT_MS_DEFAULT, LINGER_TIMEOUT_S_DEFAULT);
}

static int parse_ulong(const char *s, int base, unsigned long min, unsigned long max,
                       unsigned long *ret)
{
	unsigned long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || *end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

/* An absolute directory without ".." components; trailing slashes dropped (in place). */
static int check_sysroot(char *dir)
{
	struct stat st;
	const char *p;
	size_t n;

	if (dir[0] != '/')
		return -EINVAL;
	for (p = dir; (p = strstr(p, "..")) != NULL; p += 2) {
		bool starts = p == dir || p[-1] == '/';
		bool ends = p[2] == '\0' || p[2] == '/';

		if (starts && ends)
			return -EINVAL;
	}
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	if (strcmp(dir, "/") == 0)
		dir[0] = '\0';
	else if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return 0;
}

static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "skyutild: invalid %s '%s': %s\n", opt, val, why);
	return EXIT_USAGE;
}

static int parse_args(int argc, char **argv, struct sku_config *cfg, char *path, size_t pathlen)
{
	const char *socket_opt = NULL;
	unsigned long v;
	int c, r;

	while ((c = getopt_long(argc, argv, "vh", options, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			socket_opt = optarg;
			break;
		case OPT_SOCKET_MODE:
			if (parse_ulong(optarg, 8, 0, 0777, &v) < 0)
				return bad("--socket-mode", optarg,
				           "want an octal mode up to 0777");
			cfg->socket_mode = (unsigned)v;
			break;
		case OPT_SOCKET_GROUP:
			if (!*optarg)
				return bad("--socket-group", optarg, "empty");
			cfg->socket_group = optarg;
			break;
		case OPT_MAX_CONNECTIONS:
			if (parse_ulong(optarg, 10, 1, 1u << 20, &v) < 0)
				return bad("--max-connections", optarg, "want 1 to 1048576");
			cfg->max_connections = (unsigned)v;
			break;
		case OPT_MAX_MESSAGE:
			if (parse_ulong(optarg, 10, MAX_MESSAGE_MIN, MAX_MESSAGE_MAX, &v) < 0)
				return bad("--max-message", optarg, "want 1024 to 67108864");
			cfg->max_message = v;
			break;
		case OPT_MAX_OUTPUT:
			if (parse_ulong(optarg, 10, 4096, ULONG_MAX / 2, &v) < 0)
				return bad("--max-output", optarg, "want at least 4096");
			cfg->max_output = v;
			break;
		case OPT_MAX_BATCH:
			if (parse_ulong(optarg, 10, 1, 10000000, &v) < 0)
				return bad("--max-batch", optarg, "want 1 to 10000000");
			cfg->max_batch = (unsigned)v;
			break;
		case OPT_MAX_USER_WATCHES:
			if (parse_ulong(optarg, 10, 0, 1u << 30, &v) < 0)
				return bad("--max-user-watches", optarg, "want 0 to 1073741824");
			cfg->max_user_watches = (unsigned)v;
			break;
		case OPT_MAX_USER_GUARDS:
			if (parse_ulong(optarg, 10, 0, 1u << 30, &v) < 0)
				return bad("--max-user-guards", optarg, "want 0 to 1073741824");
			cfg->max_user_guards = (unsigned)v;
			break;
		case OPT_IDLE_TIMEOUT:
			if (parse_ulong(optarg, 10, 0, 86400000, &v) < 0)
				return bad("--idle-timeout", optarg, "want 0 to 86400000 ms");
			cfg->idle_timeout_ms = (unsigned)v;
			break;
		case OPT_LINGER_TIMEOUT:
			if (parse_ulong(optarg, 10, 0, 86400, &v) < 0)
				return bad("--linger-timeout", optarg, "want 0 to 86400 s");
			cfg->linger_timeout_s = (unsigned)v;
			break;
		case OPT_SYSROOT:
			if (check_sysroot(optarg) < 0)
				return bad("--sysroot", optarg,
				           "want an existing absolute directory without '..'");
			cfg->sysroot = optarg;
			break;
		case OPT_DEBUG_METHODS:
			cfg->debug_methods = true;
			break;
		case 'v':
			cfg->verbosity++;
			break;
		case OPT_VERSION:
			printf("skyutild %s (protocol %d)\n", SKYUTIL_VERSION, SKU_PROTO_VERSION);
			return -1;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "skyutild: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	r = sku_socket_path(socket_opt, getenv("SKYUTILD_SOCKET"), getenv("XDG_RUNTIME_DIR"),
	                    geteuid(), path, pathlen);
	if (r < 0) {
		fprintf(stderr, "skyutild: socket path too long (at most %zu bytes)\n",
		        pathlen - 1);
		return EXIT_USAGE;
	}
	cfg->socket_path = path;
	return 0;
}

/* Watches cost one fd each: use the whole hard limit rather than the 1024 soft default. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			sku_log(SKU_LOG_DEBUG, "cannot raise RLIMIT_NOFILE: %s", strerror(errno));
	}
}

struct daemon {
	uv_loop_t loop;
	struct sku_server srv;
	uv_signal_t sigterm, sigint;
	bool facts_up, proc_up;
};

static void on_stopped(struct sku_server *srv)
{
	struct daemon *d = (struct daemon *)((char *)srv - offsetof(struct daemon, srv));

	/* Modules first: they finish their own deferred calls into closed connections. */
	if (d->proc_up)
		sku_proc_done(srv);
	d->proc_up = false;
	if (d->facts_up)
		sku_facts_done(srv);
	d->facts_up = false;
	sku_notify_done(srv);
	sku_server_done(srv);
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;

	if (!d->srv.stopping) {
		sku_log(SKU_LOG_INFO, "%s: stopping", strsignal(signum));
		sku_notify_stopping(&d->srv);
	} else {
		sku_log(SKU_LOG_INFO, "%s again: stopping now", strsignal(signum));
	}
	sku_server_stop(&d->srv, on_stopped);
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Close whatever is still open so uv_loop_close() can succeed; a leak is logged as a bug. */
static int close_loop(uv_loop_t *loop)
{
	int r = uv_loop_close(loop);

	if (r == UV_EBUSY) {
		sku_log(SKU_LOG_ERROR, "handles left open at exit (a bug); closing them");
		uv_walk(loop, on_walk_close, NULL);
		(void)uv_run(loop, UV_RUN_DEFAULT);
		r = uv_loop_close(loop);
	}
	return r;
}

int main(int argc, char **argv)
{
	static struct daemon d;
	char path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
	struct sku_config cfg = {
	        .socket_mode = 0600,
	        .sysroot = "",
	        .max_message = SKU_MAX_MESSAGE_DEFAULT,
	        .max_output = MAX_OUTPUT_DEFAULT,
	        .max_connections = MAX_CONNECTIONS_DEFAULT,
	        .max_batch = SKU_MAX_BATCH_DEFAULT,
	        .max_user_watches = MAX_USER_WATCHES_DEFAULT,
	        .max_user_guards = MAX_USER_GUARDS_DEFAULT,
	        .idle_timeout_ms = IDLE_TIMEOUT_MS_DEFAULT,
	        .linger_timeout_s = LINGER_TIMEOUT_S_DEFAULT,
	};
	struct sigaction sa = {.sa_handler = SIG_IGN};
	int activated_fd = -1, r, status = EXIT_FAILURE;

	r = parse_args(argc, argv, &cfg, path, sizeof(path));
	if (r != 0)
		return r < 0 ? EXIT_SUCCESS : r;
	sku_log_set_level(cfg.verbosity);
	sku_methods_enable_debug(cfg.debug_methods);
	if (cfg.debug_methods)
		sku_log(SKU_LOG_WARN, "debug methods enabled: for tests only");

	/* A client hanging up mid-write must be an EPIPE, not the end of the daemon. */
	(void)sigaction(SIGPIPE, &sa, NULL);
	raise_nofile();

	/* Before the loop opens its own descriptors: see sku_activation_take(). */
	r = sku_activation_take(&activated_fd);
	if (r < 0) {
		sku_log(SKU_LOG_ERROR, "socket activation: %s", strerror(-r));
		return EXIT_FAILURE;
	}

	r = uv_loop_init(&d.loop);
	if (r < 0) {
		sku_log(SKU_LOG_ERROR, "event loop: %s", uv_strerror(r));
		if (activated_fd >= 0)
			(void)close(activated_fd);
		return EXIT_FAILURE;
	}
	sku_server_init(&d.srv, &d.loop, &cfg);
	/* Cannot fail: uv_loop_init() already set up the loop's signal pipe (child watcher). */
	(void)uv_signal_init(&d.loop, &d.sigterm);
	(void)uv_signal_init(&d.loop, &d.sigint);
	d.sigterm.data = d.sigint.data = &d;

	r = sku_notify_init(&d.srv);
	if (r < 0)
		sku_log(SKU_LOG_WARN, "service notification: %s", strerror(-r));
	r = sku_facts_init(&d.srv);
	if (r < 0) {
		sku_log(SKU_LOG_ERROR, "facts: %s", strerror(-r));
		goto out_stop;
	}
	d.facts_up = true;
	r = sku_proc_init(&d.srv);
	if (r < 0) {
		sku_log(SKU_LOG_ERROR, "process watching: %s", strerror(-r));
		goto out_stop;
	}
	d.proc_up = true;
	r = sku_server_listen(&d.srv, activated_fd);
	activated_fd = -1; /* the server's now */
	if (r < 0)
		goto out_stop;
	r = uv_signal_start(&d.sigterm, on_signal, SIGTERM);
	if (r == 0)
		r = uv_signal_start(&d.sigint, on_signal, SIGINT);
	if (r < 0) {
		sku_log(SKU_LOG_ERROR, "signals: %s", uv_strerror(r));
		goto out_stop;
	}
	sku_notify_ready(&d.srv);
	status = EXIT_SUCCESS;
	sku_log(SKU_LOG_INFO, "skyutild %s ready (pid %ld)", SKYUTIL_VERSION, (long)getpid());

out_stop:
	if (activated_fd >= 0)
		(void)close(activated_fd);
	if (status != EXIT_SUCCESS)
		sku_server_stop(&d.srv, on_stopped);
	(void)uv_run(&d.loop, UV_RUN_DEFAULT);
	if (close_loop(&d.loop) != 0)
		status = EXIT_FAILURE;
	if (status == EXIT_SUCCESS)
		sku_log(SKU_LOG_INFO, "stopped");
	return status;
}
