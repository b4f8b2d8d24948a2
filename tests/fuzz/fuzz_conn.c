/*
 * fuzz_conn.c - the daemon's whole request path: bytes written by a client into a Unix
 * socket, read by a real sku_server/sku_conn on a private libuv loop, pre-scanned, decoded,
 * dispatched to the real method handlers (facts and proc modules included), answered.
 *
 * Each input is one connection: the bytes are written in chunks of pseudo-random sizes (seeded
 * by the input itself, so a run is reproducible) to reach every split of a message, the
 * replies are read as they come, then the client half-closes and waits for the daemon to hang
 * up. Invariants: the daemon only ever sends well-formed responses and notifications with
 * known error codes; it closes the connection after the peer's EOF within a bounded time and
 * frees it (LeakSanitizer checks the rest).
 *
 * The fuzzer runs as root (so the daemon can do everything it does in production), but the
 * client connects with an effective uid that owns no process: whatever the input asks, the
 * authorization rules must stop it from signalling anything. Not run when not root (exit 77,
 * the test harness's "skipped").
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "sku_daemon.h"

#define PEER_UID          1999999999u /* owns no process on any sane machine */
#define MAX_MESSAGE       (64 * 1024)
#define MAX_OUTPUT        (256 * 1024)
#define MAX_BATCH         64
#define REPLY_MAX         (16u * 1024 * 1024)
#define CLOSE_DEADLINE_MS 10000 /* the daemon's own drain timeout is 5 s */

static struct {
	bool up;
	uv_loop_t loop;
	struct sku_server srv;
	char dir[64];
	char path[108];
	char *rx; /* reply bytes read and not yet checked */
	size_t rxlen, rxcap;
} g;

static void teardown(void)
{
	char lock[sizeof(g.path) + 8];

	if (!g.up)
		return;
	(void)unlink(g.path);
	if (snprintf(lock, sizeof(lock), "%s.lock", g.path) < (int)sizeof(lock))
		(void)unlink(lock);
	(void)rmdir(g.dir);
}

static void die(const char *what, int r)
{
	fprintf(stderr, "fuzz-conn: %s: %s\n", what, strerror(r < 0 ? -r : r));
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sku_config cfg = {
	        .socket_mode = 0666,
	        .sysroot = "",
	        .max_message = MAX_MESSAGE,
	        .max_output = MAX_OUTPUT,
	        .max_connections = 4,
	        .max_batch = MAX_BATCH,
	        .idle_timeout_ms = 0,
	};
	int r;

	(void)argc;
	(void)argv;
	if (geteuid() != 0) {
		printf("SKIP: fuzz-conn needs root, to connect as a peer that owns no process\n");
		exit(77);
	}
	/* Nothing from a service manager applies to this private server. */
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDNAMES");
	(void)unsetenv("NOTIFY_SOCKET");
	(void)unsetenv("WATCHDOG_USEC");
	(void)signal(SIGPIPE, SIG_IGN);
	sku_log_set_level(0);

	strcpy(g.dir, "/tmp/skyutil-fuzz-XXXXXX");
	if (!mkdtemp(g.dir))
		die("mkdtemp", errno);
	/* The unprivileged peer must reach the socket. */
	if (chmod(g.dir, 0711) < 0)
		die("chmod", errno);
	(void)snprintf(g.path, sizeof(g.path), "%s/s.sock", g.dir);
	cfg.socket_path = g.path;

	r = uv_loop_init(&g.loop);
	if (r < 0)
		die("uv_loop_init", r);
	sku_server_init(&g.srv, &g.loop, &cfg);
	r = sku_notify_init(&g.srv);
	if (r < 0)
		die("sku_notify_init", r);
	r = sku_facts_init(&g.srv);
	if (r < 0)
		die("sku_facts_init", r);
	r = sku_proc_init(&g.srv);
	if (r < 0)
		die("sku_proc_init", r);
	r = sku_server_listen(&g.srv, -1);
	if (r < 0)
		die("sku_server_listen", r);
	g.up = true;
	atexit(teardown);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int connect_as_peer(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, r, e;

	memcpy(sa.sun_path, g.path, strlen(g.path) + 1);
	/* SO_PEERCRED records the effective uid at connect(). */
	if (seteuid(PEER_UID) < 0)
		die("seteuid", errno);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	r = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	e = errno;
	if (seteuid(0) < 0)
		die("seteuid back", errno);
	if (fd < 0 || r < 0)
		die("connect", e);
	return fd;
}

/* Every reply is one well-formed response or notification. */
static void check_replies(void)
{
	size_t off = 0;

	while (off < g.rxlen) {
		msgpack_zone zone;
		struct sku_msg m;
		const char *why = NULL;
		size_t len = 0;
		int r = sku_prescan(g.rx + off, g.rxlen - off, REPLY_MAX, SKU_MAX_DEPTH, &len);

		fuzz_check(r == 0 || r == 1);
		if (r == 0)
			break;
		fuzz_check(msgpack_zone_init(&zone, 4096));
		r = sku_decode(g.rx + off, len, &zone, &m, &why);
		if (r < 0)
			fprintf(stderr, "fuzz-conn: bad reply: %s\n", why);
		fuzz_check(r == 0);
		fuzz_check(m.type == SKU_MSG_RESPONSE || m.type == SKU_MSG_NOTIFY);
		if (m.type == SKU_MSG_RESPONSE && m.error->type == MSGPACK_OBJECT_MAP) {
			const msgpack_object *code = sku_map_get(m.error, "code");
			const msgpack_object *name = sku_map_get(m.error, "name");
			int64_t c = 0;

			fuzz_check(code && sku_obj_int64(code, &c) == 0);
			fuzz_check(c > 0 && c < SKU_ERR__MAX && c != SKU_ERR_TIMEOUT);
			fuzz_check(name && sku_obj_str_eq(name, sku_err_name((int)c)));
		}
		msgpack_zone_destroy(&zone);
		off += len;
	}
	g.rxlen -= off;
	memmove(g.rx, g.rx + off, g.rxlen);
}

/* Read what the daemon sent. Returns false once it hung up. */
static bool read_replies(int fd)
{
	for (;;) {
		ssize_t n;

		if (g.rxcap - g.rxlen < 65536) {
			size_t cap = g.rxcap ? g.rxcap * 2 : 262144;

			fuzz_check(cap <= 2 * REPLY_MAX);
			g.rx = realloc(g.rx, cap);
			fuzz_check(g.rx != NULL);
			g.rxcap = cap;
		}
		n = read(fd, g.rx + g.rxlen, g.rxcap - g.rxlen);
		if (n > 0) {
			g.rxlen += (size_t)n;
			check_replies();
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		/* EOF, or a reset when the daemon closed with our bytes unread. */
		fuzz_check(n == 0 || errno == ECONNRESET);
		return false;
	}
}

/* Let the daemon run, waiting at most ms for the loop or the client socket. */
static void pump(int fd, int ms)
{
	struct pollfd p[2] = {{.fd = uv_backend_fd(&g.loop), .events = POLLIN},
	                      {.fd = fd, .events = POLLIN}};
	int t = uv_backend_timeout(&g.loop);

	(void)uv_run(&g.loop, UV_RUN_NOWAIT);
	if (t < 0 || t > ms)
		t = ms;
	(void)poll(p, fd >= 0 ? 2 : 1, t);
	(void)uv_run(&g.loop, UV_RUN_NOWAIT);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t chunk_size(uint64_t *rng, size_t left)
{
	static const size_t caps[] = {1, 3, 16, 256, 4096, 65536};
	uint64_t x = xorshift(rng);
	size_t n = 1 + (size_t)(x >> 8) % caps[x % 6];

	return n < left ? n : left;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t rng = 1469598103934665603ull, deadline;
	size_t off = 0;
	bool open = true;
	int fd;

	for (size_t i = 0; i < size; i++)
		rng = (rng ^ data[i]) * 1099511628211ull;
	rng |= 1;
	g.rxlen = 0;
	fd = connect_as_peer();

	while (off < size && open) {
		size_t n = chunk_size(&rng, size - off);
		ssize_t w = write(fd, data + off, n);

		if (w > 0)
			off += (size_t)w;
		else if (w < 0 && errno != EAGAIN && errno != EINTR)
			break; /* the daemon hung up (protocol error): the rest is moot */
		pump(fd, w > 0 ? 0 : 10);
		open = read_replies(fd);
	}

	/* Half-close: the daemon answers what it has, then must hang up. */
	(void)shutdown(fd, SHUT_WR);
	deadline = now_ms() + CLOSE_DEADLINE_MS;
	while (open) {
		fuzz_check(now_ms() < deadline);
		pump(fd, 20);
		open = read_replies(fd);
	}
	(void)close(fd);
	fuzz_check(g.rxlen == 0); /* no partial reply before the hang-up */

	deadline = now_ms() + CLOSE_DEADLINE_MS;
	while (g.srv.nconns > 0) {
		fuzz_check(now_ms() < deadline);
		pump(-1, 20);
	}
	return 0;
}
