/*
 * test_client.c - libskyutil against a real skyutild on a temporary socket, and against
 * scripted fake servers (a socket this test listens on and writes exact bytes into) for the
 * paths a well-behaved daemon never takes: silence, hang-ups, oversized and malformed
 * messages, stray replies, queued notifications.
 */
#include "config.h"

/* cmocka.h needs these first, and include sorting would move it above them. */
/* clang-format off */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
/* clang-format on */

#include <fcntl.h>
#include <msgpack.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "skyutil/skyutil.h"

static char tmpdir[64];
static char sock_path[128];
static pid_t daemon_pid = -1;

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int start_daemon(void **state)
{
	const char *bin = getenv("SKYUTILD_BIN");
	skyutil_client *c;

	(void)state;
	if (!bin) {
		fprintf(stderr, "SKYUTILD_BIN is not set (run through meson test)\n");
		return -1;
	}
	strcpy(tmpdir, "/tmp/skyutil-client-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/d.sock", tmpdir);
	daemon_pid = fork();
	if (daemon_pid < 0)
		return -1;
	if (daemon_pid == 0) {
		execl(bin, bin, "--socket", sock_path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		if (skyutil_client_open(sock_path, 1000, &c) == 0) {
			skyutil_client_free(c);
			return 0;
		}
		if (waitpid(daemon_pid, NULL, WNOHANG) == daemon_pid) {
			fprintf(stderr, "skyutild exited at startup\n");
			daemon_pid = -1;
			return -1;
		}
		sleep_ms(10);
	}
	fprintf(stderr, "skyutild did not listen on %s\n", sock_path);
	return -1;
}

static int stop_daemon(void **state)
{
	char path[160];

	(void)state;
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
	}
	unlink(sock_path);
	snprintf(path, sizeof(path), "%s/fake.sock", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

static skyutil_client *open_daemon(void)
{
	skyutil_client *c = NULL;

	assert_int_equal(skyutil_client_open(sock_path, 2000, &c), 0);
	assert_non_null(c);
	return c;
}

/* True (and a printed reason) when the daemon does not implement method yet. */
static bool method_missing(skyutil_client *c, const char *method)
{
	int rc = skyutil_call(c, method, NULL, 0, 2000, NULL, NULL, NULL);

	if (rc == SKYUTIL_EREMOTE(SKYUTIL_ERR_UNKNOWN_METHOD)) {
		printf("# skipping: the daemon does not implement %s\n", method);
		return true;
	}
	return false;
}

/* ---------------------------------------------------------------- fake server */

struct fake {
	int lfd, fd; /* listener, accepted connection */
	char path[160];
};

static void fake_listen(struct fake *f, int backlog)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	snprintf(f->path, sizeof(f->path), "%s/fake.sock", tmpdir);
	unlink(f->path);
	strcpy(sa.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, backlog), 0);
	f->fd = -1;
}

/* Listen, connect a client, accept it. */
static skyutil_client *fake_open(struct fake *f)
{
	skyutil_client *c = NULL;

	fake_listen(f, 8);
	assert_int_equal(skyutil_client_open(f->path, 1000, &c), 0);
	f->fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(f->fd >= 0);
	return c;
}

static void fake_close(struct fake *f)
{
	if (f->fd >= 0)
		close(f->fd);
	close(f->lfd);
	unlink(f->path);
}

static void fake_write(struct fake *f, const void *buf, size_t len)
{
	assert_int_equal(write(f->fd, buf, len), (ssize_t)len);
}

/* Writers of whole messages into a packer. */
static void pack_s(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void pack_response_head(msgpack_packer *pk, uint32_t msgid)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_int(pk, 1);
	msgpack_pack_uint32(pk, msgid);
	msgpack_pack_nil(pk);
}

static void pack_notify_head(msgpack_packer *pk, const char *method)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_int(pk, 2);
	pack_s(pk, method);
	msgpack_pack_array(pk, 1);
}

static void pack_exited(msgpack_packer *pk, int64_t watch_id, int64_t code)
{
	pack_notify_head(pk, "proc.exited");
	msgpack_pack_map(pk, 5);
	pack_s(pk, "watch_id");
	msgpack_pack_int64(pk, watch_id);
	pack_s(pk, "pid");
	msgpack_pack_int64(pk, 4242);
	pack_s(pk, "exit_code");
	msgpack_pack_int64(pk, code);
	pack_s(pk, "signal");
	msgpack_pack_nil(pk);
	pack_s(pk, "core_dumped");
	msgpack_pack_false(pk);
}

static void pack_facts(msgpack_packer *pk, int64_t cpus, int64_t generation)
{
	msgpack_pack_map(pk, 6);
	pack_s(pk, "pid");
	msgpack_pack_int64(pk, getpid());
	pack_s(pk, "cpu_count");
	msgpack_pack_int64(pk, cpus);
	pack_s(pk, "mem_limit_bytes");
	msgpack_pack_nil(pk);
	pack_s(pk, "cgroup_version");
	pack_s(pk, "hybrid");
	pack_s(pk, "cgroup_path");
	pack_s(pk, "/test.slice");
	pack_s(pk, "generation");
	msgpack_pack_int64(pk, generation);
}

/* ---------------------------------------------------------------- errors, no daemon */

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(skyutil_strerror(0), "success");
	assert_non_null(strstr(skyutil_strerror(-ETIMEDOUT), "timed out"));
	assert_non_null(strstr(skyutil_strerror(SKYUTIL_EREMOTE(SKYUTIL_ERR_UNKNOWN_METHOD)),
	                       "no such method"));
	assert_string_not_equal(skyutil_strerror(-ENOENT), skyutil_strerror(-ECONNREFUSED));
	assert_non_null(skyutil_strerror(-99999));
	assert_non_null(skyutil_strerror(SKYUTIL_EREMOTE(9999)));
	assert_string_equal(skyutil_remote_name(SKYUTIL_EREMOTE(SKYUTIL_ERR_PID_REUSED)),
	                    "PID_REUSED");
	assert_string_equal(skyutil_remote_name(SKYUTIL_EREMOTE(SKYUTIL_ERR_TIMEOUT)), "TIMEOUT");
	assert_null(skyutil_remote_name(-ENOENT));
	assert_null(skyutil_remote_name(SKYUTIL_EREMOTE(999)));
	assert_string_equal(skyutil_proc_state_name(SKYUTIL_PROC_ZOMBIE), "zombie");
	assert_string_equal(skyutil_proc_state_name((enum skyutil_proc_state)77), "unknown");
}

static void test_no_daemon(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	skyutil_client *c = (skyutil_client *)1;
	char path[160];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/nobody.sock", tmpdir);
	assert_int_equal(skyutil_client_open(path, 1000, &c), -ENOENT);
	assert_ptr_equal(c, (skyutil_client *)1); /* untouched on failure */

	/* A socket file whose owner is gone. */
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(skyutil_client_open(path, 1000, &c), -ECONNREFUSED);
	unlink(path);

	memset(path, 'x', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(skyutil_client_open(path, 1000, &c), -ENAMETOOLONG);
	assert_int_equal(skyutil_client_open(NULL, 1000, NULL), -EINVAL);
	skyutil_client_free(NULL);
}

static void test_default_path(void **state)
{
	char buf[128], tiny[4];

	(void)state;
	setenv("SKYUTILD_SOCKET", "/tmp/elsewhere.sock", 1);
	assert_int_equal(skyutil_default_socket_path(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/tmp/elsewhere.sock");
	assert_int_equal(skyutil_default_socket_path(tiny, sizeof(tiny)), -ENAMETOOLONG);
	unsetenv("SKYUTILD_SOCKET");
	assert_int_equal(skyutil_default_socket_path(buf, sizeof(buf)), 0);
	assert_true(strstr(buf, "skyutild") != NULL);
}

/* ---------------------------------------------------------------- fake servers */

static void test_timeout_silent_server(void **state)
{
	struct fake f;
	skyutil_client *c;
	int64_t t0;

	(void)state;
	c = fake_open(&f);
	t0 = now_ms();
	assert_int_equal(skyutil_ping(c, 200), -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 190); /* not before the timeout */
	/* A timeout does not break the connection: a late reply is dropped, the next matched. */
	{
		msgpack_sbuffer sb;
		msgpack_packer pk;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		pack_response_head(&pk, 1);
		pack_s(&pk, "pong");
		pack_response_head(&pk, 2);
		pack_s(&pk, "pong");
		fake_write(&f, sb.data, sb.size);
		msgpack_sbuffer_destroy(&sb);
	}
	assert_int_equal(skyutil_ping(c, 1000), 0);
	skyutil_client_set_timeout(c, 100);
	assert_int_equal(skyutil_ping(c, -1), -ETIMEDOUT);
	skyutil_client_free(c);
	fake_close(&f);
}

static void test_connect_timeout(void **state)
{
	skyutil_client *held[8] = {NULL};
	skyutil_client *c = NULL;
	struct fake f;
	int rc = 0, i;

	(void)state;
	/* Nobody accepts: the backlog fills, then connecting waits and times out. */
	fake_listen(&f, 0);
	for (i = 0; i < 8; i++) {
		rc = skyutil_client_open(f.path, 100, &held[i]);
		if (rc < 0)
			break;
	}
	assert_int_equal(rc, -ETIMEDOUT);
	assert_int_equal(skyutil_client_open(f.path, 0, &c), -ETIMEDOUT);
	for (i = 0; i < 8; i++)
		skyutil_client_free(held[i]);
	fake_close(&f);
}

static void test_connection_lost(void **state)
{
	struct fake f;
	skyutil_client *c;

	(void)state;
	c = fake_open(&f);
	close(f.fd);
	f.fd = -1;
	assert_int_equal(skyutil_ping(c, 1000), -EPIPE);
	assert_int_equal(skyutil_ping(c, 1000), -EPIPE); /* stays failed: the caller reopens */
	assert_int_equal(skyutil_client_process(c), -EPIPE);
	skyutil_client_free(c);
	fake_close(&f);
}

static void test_oversized_and_garbage(void **state)
{
	/* An array header declaring 2^32-1 elements: rejected from its header, nothing allocated.
	 */
	static const unsigned char huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
	static const unsigned char never[] = {0x94, 0x01, 0x01, 0xc1, 0xc0};
	static const unsigned char notrpc[] = {0x93, 0x07, 0x01, 0x02};
	struct fake f;
	skyutil_client *c;

	(void)state;
	c = fake_open(&f);
	fake_write(&f, huge, sizeof(huge));
	assert_int_equal(skyutil_ping(c, 1000), -EMSGSIZE);
	skyutil_client_free(c);
	fake_close(&f);

	c = fake_open(&f);
	fake_write(&f, never, sizeof(never));
	assert_int_equal(skyutil_ping(c, 1000), -EBADMSG);
	skyutil_client_free(c);
	fake_close(&f);

	c = fake_open(&f);
	fake_write(&f, notrpc, sizeof(notrpc));
	assert_int_equal(skyutil_ping(c, 1000), -EBADMSG);
	skyutil_client_free(c);
	fake_close(&f);
}

static void test_msgid0_error(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct fake f;
	skyutil_client *c;
	char *msg = NULL;

	(void)state;
	c = fake_open(&f);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_int(&pk, 0);
	msgpack_pack_map(&pk, 3);
	pack_s(&pk, "code");
	msgpack_pack_int(&pk, 8);
	pack_s(&pk, "name");
	pack_s(&pk, "TOO_LARGE");
	pack_s(&pk, "message");
	pack_s(&pk, "message of 2000000 bytes exceeds 1048576");
	msgpack_pack_nil(&pk);
	fake_write(&f, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	close(f.fd);
	f.fd = -1;
	assert_int_equal(skyutil_call(c, "ping", NULL, 0, 1000, NULL, NULL, &msg),
	                 SKYUTIL_EREMOTE(SKYUTIL_ERR_TOO_LARGE));
	assert_non_null(msg);
	assert_non_null(strstr(msg, "exceeds"));
	assert_string_equal(skyutil_client_last_error(c), msg);
	free(msg);
	assert_int_equal(skyutil_ping(c, 1000), -EPIPE); /* the daemon closed after it */
	skyutil_client_free(c);
	fake_close(&f);
}

struct events {
	int count;
	int64_t last_watch_id;
	char last_method[32];
};

static void on_event(const char *method, const void *params, size_t len, void *userdata)
{
	struct events *ev = userdata;
	msgpack_unpacked up;
	size_t off = 0;

	ev->count++;
	snprintf(ev->last_method, sizeof(ev->last_method), "%s", method);
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, params, len, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, len);
	assert_int_equal(up.data.type, MSGPACK_OBJECT_MAP);
	for (uint32_t i = 0; i < up.data.via.map.size; i++) {
		const msgpack_object_kv *kv = &up.data.via.map.ptr[i];

		if (kv->key.via.str.size == 8 && !memcmp(kv->key.via.str.ptr, "watch_id", 8))
			ev->last_watch_id = kv->val.via.i64;
	}
	msgpack_unpacked_destroy(&up);
}

static void test_notifications_queued(void **state)
{
	struct skyutil_exit e;
	struct events ev = {0};
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct fake f;
	skyutil_client *c;

	(void)state;
	c = fake_open(&f);
	/* Before the reply: a stray reply, two exits and another notification. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_response_head(&pk, 77);
	pack_s(&pk, "stray");
	pack_exited(&pk, 7, 3);
	pack_exited(&pk, 8, 0);
	pack_notify_head(&pk, "something.else");
	msgpack_pack_map(&pk, 0);
	pack_response_head(&pk, 1);
	pack_s(&pk, "pong");
	fake_write(&f, sb.data, sb.size);
	msgpack_sbuffer_clear(&sb);

	assert_int_equal(skyutil_ping(c, 1000), 0);
	/* The exit of watch 8 is taken out of order; the rest stays queued. */
	assert_int_equal(skyutil_proc_wait(c, 8, 0, &e), 0);
	assert_int_equal(e.watch_id, 8);
	assert_int_equal(e.exit_code, 0);
	assert_int_equal(e.signal, 0);
	assert_int_equal(e.pid, 4242);
	assert_int_equal(skyutil_proc_wait(c, 9, 50, &e), -ETIMEDOUT);

	skyutil_client_set_event_cb(c, on_event, &ev);
	assert_int_equal(skyutil_client_process(c), 2);
	assert_int_equal(ev.count, 2);
	assert_string_equal(ev.last_method, "something.else");

	/* Through the fd, as an event loop would see it. */
	pack_exited(&pk, 9, 1);
	fake_write(&f, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	{
		struct pollfd pfd = {.fd = skyutil_client_fd(c), .events = POLLIN};

		assert_int_equal(poll(&pfd, 1, 2000), 1);
	}
	assert_int_equal(skyutil_client_process(c), 1);
	assert_int_equal(ev.count, 3);
	assert_string_equal(ev.last_method, "proc.exited");
	assert_int_equal(ev.last_watch_id, 9);
	assert_int_equal(skyutil_client_process(c), 0);

	/* The peer leaves: a pending exit is still delivered, then -EPIPE. */
	skyutil_client_set_event_cb(c, NULL, NULL);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_exited(&pk, 10, 5);
	fake_write(&f, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	close(f.fd);
	f.fd = -1;
	assert_int_equal(skyutil_proc_wait(c, 10, 2000, &e), 0);
	assert_int_equal(e.exit_code, 5);
	assert_int_equal(skyutil_proc_wait(c, 11, 2000, &e), -EPIPE);
	skyutil_client_free(c);
	fake_close(&f);
}

static void test_facts_cached_fake(void **state)
{
	struct skyutil_facts a, b;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct fake f;
	skyutil_client *c;

	(void)state;
	c = fake_open(&f);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_response_head(&pk, 1);
	msgpack_pack_map(&pk, 2);
	pack_s(&pk, "subscription_id");
	msgpack_pack_int(&pk, 5);
	pack_s(&pk, "facts");
	pack_facts(&pk, 2, 1);
	fake_write(&f, sb.data, sb.size);
	msgpack_sbuffer_clear(&sb);

	assert_int_equal(skyutil_facts_cached(c, &a), 0);
	assert_int_equal(a.cpu_count, 2);
	assert_int_equal(a.cgroup_version, 3);
	assert_int_equal(a.mem_limit_bytes, SKYUTIL_UNLIMITED);
	assert_int_equal(a.mem_used_bytes, -1);
	assert_string_equal(a.cgroup_path, "/test.slice");
	assert_int_equal(a.generation, 1);
	/* No round trip: with nothing pushed the cache answers at once. */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(skyutil_facts_cached(c, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));

	/* A change for another subscription is not ours; ours updates the cache. */
	pack_notify_head(&pk, "facts.changed");
	msgpack_pack_map(&pk, 3);
	pack_s(&pk, "subscription_id");
	msgpack_pack_int(&pk, 6);
	pack_s(&pk, "generation");
	msgpack_pack_int(&pk, 9);
	pack_s(&pk, "facts");
	pack_facts(&pk, 8, 9);
	pack_notify_head(&pk, "facts.changed");
	msgpack_pack_map(&pk, 3);
	pack_s(&pk, "subscription_id");
	msgpack_pack_int(&pk, 5);
	pack_s(&pk, "generation");
	msgpack_pack_int(&pk, 2);
	pack_s(&pk, "facts");
	pack_facts(&pk, 1, 2);
	fake_write(&f, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	assert_int_equal(skyutil_facts_cached(c, &b), 0);
	assert_int_equal(b.cpu_count, 1);
	assert_int_equal(b.generation, 2);
	skyutil_client_free(c);
	fake_close(&f);
}

static void test_call_args_checked(void **state)
{
	static const unsigned char array[] = {0x91, 0x01};
	static const unsigned char map_and_more[] = {0x80, 0x01};
	static const unsigned char truncated[] = {0x81, 0xa1};
	struct fake f;
	skyutil_client *c;

	(void)state;
	c = fake_open(&f);
	/* Bytes that are not exactly one map never reach the wire. */
	assert_int_equal(skyutil_call(c, "x", array, sizeof(array), 100, NULL, NULL, NULL),
	                 -EINVAL);
	assert_int_equal(
	        skyutil_call(c, "x", map_and_more, sizeof(map_and_more), 100, NULL, NULL, NULL),
	        -EINVAL);
	assert_int_equal(skyutil_call(c, "x", truncated, sizeof(truncated), 100, NULL, NULL, NULL),
	                 -EINVAL);
	assert_int_equal(skyutil_call(c, "x", NULL, 3, 100, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(skyutil_call(c, NULL, NULL, 0, 100, NULL, NULL, NULL), -EINVAL);
	{
		char buf[16];

		assert_int_equal(recv(f.fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
		assert_int_equal(errno, EAGAIN);
	}
	skyutil_client_free(c);
	fake_close(&f);
}

/* ---------------------------------------------------------------- real daemon */

static void test_ping_hello(void **state)
{
	struct skyutil_hello h;
	skyutil_client *c;

	(void)state;
	c = open_daemon();
	assert_int_equal(skyutil_ping(c, 2000), 0);
	assert_int_equal(skyutil_hello(c, 2000, &h), 0);
	assert_string_equal(h.server, "skyutild");
	assert_int_equal(h.proto, 1);
	assert_int_equal(h.daemon_pid, daemon_pid);
	assert_true(h.max_message >= 4096);
	assert_true(h.max_connections > 0);
	assert_true(h.max_batch > 0);
	assert_true(strlen(h.version) > 0);
	assert_true(skyutil_client_fd(c) >= 0);
	assert_int_equal(fcntl(skyutil_client_fd(c), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	skyutil_client_free(c);
}

static void test_generic_call(void **state)
{
	static const unsigned char pong[] = {0xa4, 'p', 'o', 'n', 'g'};
	void *res = NULL;
	size_t len = 0;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	size_t off = 0;
	skyutil_client *c;

	(void)state;
	c = open_daemon();
	assert_int_equal(skyutil_call(c, "ping", NULL, 0, 2000, &res, &len, NULL), 0);
	assert_int_equal(len, sizeof(pong));
	assert_memory_equal(res, pong, sizeof(pong));
	skyutil_free(res);

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	pack_s(&pk, "client");
	pack_s(&pk, "test_client");
	assert_int_equal(skyutil_call(c, "hello", sb.data, sb.size, 2000, &res, &len, NULL), 0);
	msgpack_sbuffer_destroy(&sb);
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, res, len, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, len);
	assert_int_equal(up.data.type, MSGPACK_OBJECT_MAP);
	msgpack_unpacked_destroy(&up);
	skyutil_free(res);
	skyutil_client_free(c);
}

static void test_remote_errors(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char *msg = NULL;
	void *res = (void *)1;
	skyutil_client *c;
	int rc;

	(void)state;
	c = open_daemon();
	rc = skyutil_call(c, "no.such.method", NULL, 0, 2000, &res, NULL, &msg);
	assert_int_equal(rc, SKYUTIL_EREMOTE(SKYUTIL_ERR_UNKNOWN_METHOD));
	assert_true(SKYUTIL_IS_REMOTE(rc));
	assert_int_equal(SKYUTIL_REMOTE_CODE(rc), SKYUTIL_ERR_UNKNOWN_METHOD);
	assert_string_equal(skyutil_remote_name(rc), "UNKNOWN_METHOD");
	assert_ptr_equal(res, (void *)1); /* untouched */
	assert_non_null(msg);
	assert_true(strlen(msg) > 0);
	assert_string_equal(skyutil_client_last_error(c), msg);
	free(msg);

	/* Bad arguments: the connection stays usable. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	pack_s(&pk, "proto");
	msgpack_pack_int(&pk, 99);
	assert_int_equal(skyutil_call(c, "hello", sb.data, sb.size, 2000, NULL, NULL, NULL),
	                 SKYUTIL_EREMOTE(SKYUTIL_ERR_INVALID_ARGUMENT));
	msgpack_sbuffer_destroy(&sb);
	assert_int_equal(skyutil_ping(c, 2000), 0);
	assert_string_equal(skyutil_client_last_error(c), "");
	skyutil_client_free(c);
}

struct thread_arg {
	int ok;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	struct skyutil_hello h;
	skyutil_client *c;

	if (skyutil_client_open(sock_path, 2000, &c) < 0)
		return NULL;
	for (int i = 0; i < 200; i++) {
		if (skyutil_ping(c, 5000) == 0 && skyutil_hello(c, 5000, &h) == 0 &&
		    h.daemon_pid == daemon_pid)
			a->ok++;
	}
	skyutil_client_free(c);
	return NULL;
}

static void test_two_threads(void **state)
{
	struct thread_arg a[2] = {{0}, {0}};
	pthread_t t[2];

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, &a[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(a[0].ok, 200);
	assert_int_equal(a[1].ok, 200);
}

static void test_facts_real(void **state)
{
	struct skyutil_facts f, g;
	skyutil_client *c;

	(void)state;
	c = open_daemon();
	if (method_missing(c, "facts.get")) {
		skyutil_client_free(c);
		skip();
	}
	assert_int_equal(skyutil_facts_get(c, 0, 5000, &f), 0);
	assert_int_equal(f.pid, getpid());
	assert_true(f.cpu_count >= 1);
	assert_true(f.cpu_count <= f.cpu_online);
	assert_true(f.mem_effective_bytes > 0);
	assert_true(f.mem_effective_bytes <= f.mem_total_bytes);
	assert_true(f.cgroup_version >= 0 && f.cgroup_version <= 3);
	assert_int_equal(skyutil_facts_get(c, -1, 5000, &f), -EINVAL);
	assert_int_equal(skyutil_facts_get(c, 1, 5000, &g), 0);
	assert_int_equal(g.pid, 1);

	assert_int_equal(skyutil_facts_cached(c, &g), 0);
	assert_int_equal(g.cpu_count, f.cpu_count);
	assert_int_equal(g.pid, getpid());
	assert_int_equal(skyutil_facts_cached(c, &g), 0);
	assert_int_equal(g.cpu_count, f.cpu_count);

	/* Change one of our facts; the pushed update reaches the cache without a call. */
	{
		uint64_t gen0 = g.generation;
		struct rlimit old, lim;
		bool seen = false;

		assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
		lim = old;
		lim.rlim_cur = old.rlim_cur == 777 ? 778 : 777;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
		for (int i = 0; i < 100 && !seen; i++) {
			struct pollfd pfd = {.fd = skyutil_client_fd(c), .events = POLLIN};

			assert_true(poll(&pfd, 1, 100) >= 0);
			assert_int_equal(skyutil_facts_cached(c, &g), 0);
			seen = g.nofile_soft == (int64_t)lim.rlim_cur;
		}
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
		assert_true(seen);
		assert_true(g.generation > gen0);
	}
	skyutil_client_free(c);
}

/* A child that exits with code when its pipe is closed. */
static pid_t spawn_waiting_child(int code, int *ret_wfd)
{
	int p[2];
	pid_t pid;
	char b;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Keep no other child's pipe open, or that child would never see EOF. */
		close_range(3, (unsigned)p[0] - 1, 0);
		close_range((unsigned)p[0] + 1, ~0u, 0);
		while (read(p[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(code);
	}
	close(p[0]);
	*ret_wfd = p[1];
	return pid;
}

static void test_proc_real(void **state)
{
	struct skyutil_proc_status st[3];
	struct skyutil_proc_id ids[3];
	struct skyutil_proc_id *kids = NULL;
	struct skyutil_exit e;
	struct events ev = {0};
	int64_t w1, w2;
	skyutil_client *c;
	size_t n;
	pid_t p1, p2, gone;
	int wfd1, wfd2, status;

	(void)state;
	c = open_daemon();
	if (method_missing(c, "proc.status")) {
		skyutil_client_free(c);
		skip();
	}
	gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	p1 = spawn_waiting_child(7, &wfd1);
	ids[0] = (struct skyutil_proc_id){getpid(), -1};
	ids[1] = (struct skyutil_proc_id){p1, -1};
	ids[2] = (struct skyutil_proc_id){gone, -1};
	assert_int_equal(skyutil_proc_status(c, ids, 3, 5000, st), 0);
	assert_true(st[0].alive);
	assert_int_equal(st[0].pid, getpid());
	assert_int_equal(st[0].uid, getuid());
	assert_true(st[0].start_time > 0);
	assert_true(st[1].alive);
	assert_int_equal(st[1].ppid, getpid());
	assert_false(st[2].alive);
	/* Pinned to another start time: reused. */
	ids[0].start_time = st[0].start_time + 1;
	assert_int_equal(skyutil_proc_status(c, ids, 1, 5000, st), 0);
	assert_false(st[0].alive);
	assert_int_equal(st[0].state, SKYUTIL_PROC_REUSED);
	ids[0].pid = 0;
	assert_int_equal(skyutil_proc_status(c, ids, 1, 5000, st), -EINVAL);

	/* Liveness only, asked twice: the second answer comes from the daemon's cache. */
	{
		int alive[3] = {-1, -1, -1};

		/* st[0] is the "reused" answer above: it echoes the start time asked, ours + 1. */
		ids[0] = (struct skyutil_proc_id){getpid(), st[0].start_time - 1};
		ids[1] = (struct skyutil_proc_id){p1, -1};
		ids[2] = (struct skyutil_proc_id){gone, -1};
		for (int round = 0; round < 2; round++) {
			assert_int_equal(skyutil_proc_alive(c, ids, 3, 5000, alive), 0);
			assert_int_equal(alive[0], 1);
			assert_int_equal(alive[1], 1);
			assert_int_equal(alive[2], 0);
		}
		ids[0].start_time++;
		assert_int_equal(skyutil_proc_alive(c, ids, 1, 5000, alive), 0);
		assert_int_equal(alive[0], 0);
		ids[0].pid = 0;
		alive[0] = 7;
		assert_int_equal(skyutil_proc_alive(c, ids, 1, 5000, alive), -EINVAL);
		assert_int_equal(alive[0], 7);
		assert_int_equal(skyutil_proc_alive(c, ids, 0, 5000, NULL), 0);
	}

	assert_int_equal(skyutil_proc_children(c, (struct skyutil_proc_id){getpid(), -1}, 0, 5000,
	                                       &kids, &n),
	                 0);
	{
		bool found = false;

		for (size_t i = 0; i < n; i++)
			found = found || kids[i].pid == p1;
		assert_true(found);
	}
	skyutil_free(kids);

	/* Watch, let it exit, reap it (the kernel reports the code after the reap). */
	assert_int_equal(skyutil_proc_watch(c, (struct skyutil_proc_id){p1, -1}, 5000, &w1, st), 0);
	assert_true(w1 > 0);
	assert_true(st[0].alive);
	assert_int_equal(skyutil_proc_wait(c, w1, 100, &e), -ETIMEDOUT);
	close(wfd1);
	assert_int_equal(waitpid(p1, &status, 0), p1);
	assert_int_equal(skyutil_proc_wait(c, w1, 10000, &e), 0);
	assert_int_equal(e.watch_id, w1);
	assert_int_equal(e.pid, p1);
	assert_int_equal(e.exit_code, 7);
	assert_int_equal(e.signal, 0);

	/* Already gone: no watch, no event. */
	assert_int_equal(skyutil_proc_watch(c, (struct skyutil_proc_id){gone, -1}, 5000, &w2, st),
	                 0);
	assert_int_equal(w2, 0);
	assert_false(st[0].alive);

	/* Unwatched: no event for that watch once the process ends; a second unwatch is refused. */
	p2 = spawn_waiting_child(0, &wfd2);
	assert_int_equal(skyutil_proc_watch(c, (struct skyutil_proc_id){p2, -1}, 5000, &w2, NULL),
	                 0);
	assert_true(w2 > 0);
	assert_int_equal(skyutil_proc_unwatch(c, w2, 5000), 0);
	assert_int_equal(skyutil_proc_unwatch(c, w2, 5000),
	                 SKYUTIL_EREMOTE(SKYUTIL_ERR_INVALID_ARGUMENT));
	assert_int_equal(skyutil_proc_unwatch(c, 0, 5000), -EINVAL);
	kill(p2, SIGKILL);
	waitpid(p2, NULL, 0);
	close(wfd2);
	assert_int_equal(skyutil_proc_wait(c, w2, 300, &e), -ETIMEDOUT);

	/* Exit events through the fd and the callback. */
	p2 = spawn_waiting_child(0, &wfd2);
	assert_int_equal(skyutil_proc_watch(c, (struct skyutil_proc_id){p2, -1}, 5000, &w2, NULL),
	                 0);
	skyutil_client_set_event_cb(c, on_event, &ev);
	kill(p2, SIGKILL);
	waitpid(p2, NULL, 0);
	close(wfd2);
	for (int i = 0; i < 100 && ev.count == 0; i++) {
		struct pollfd pfd = {.fd = skyutil_client_fd(c), .events = POLLIN};

		assert_true(poll(&pfd, 1, 10000) >= 0);
		assert_true(skyutil_client_process(c) >= 0);
	}
	assert_int_equal(ev.count, 1);
	assert_string_equal(ev.last_method, "proc.exited");
	assert_int_equal(ev.last_watch_id, w2);
	skyutil_client_free(c);
}

static void test_proc_status_large(void **state)
{
	const size_t n = 100000;
	struct skyutil_proc_status *st;
	struct skyutil_proc_id *ids;
	skyutil_client *c;

	(void)state;
	c = open_daemon();
	if (method_missing(c, "proc.status")) {
		skyutil_client_free(c);
		skip();
	}
	ids = calloc(n, sizeof(*ids));
	st = calloc(n, sizeof(*st));
	assert_non_null(ids);
	assert_non_null(st);
	for (size_t i = 0; i < n; i++)
		ids[i] = (struct skyutil_proc_id){i % 2 ? getpid() : 1, -1};
	assert_int_equal(skyutil_proc_status(c, ids, n, 60000, st), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(st[i].pid, ids[i].pid);
		assert_true(st[i].alive);
	}
	free(ids);
	free(st);
	skyutil_client_free(c);
}

/* A process that is not our child (init reaps it), pausing until a signal kills it. */
static pid_t spawn_orphan(void)
{
	pid_t mid, pid = -1;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		pid_t g = fork();

		if (g == 0) {
			close_range(0, ~0u, 0);
			for (;;)
				pause();
		}
		(void)!write(p[1], &g, sizeof(g));
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &pid, sizeof(pid)), sizeof(pid));
	close(p[0]);
	assert_int_equal(waitpid(mid, NULL, 0), mid);
	assert_true(pid > 0);
	return pid;
}

/* Wait (bounded) until the daemon no longer reports pid alive. */
static bool becomes_dead(skyutil_client *c, pid_t pid)
{
	struct skyutil_proc_id id = {pid, -1};
	struct skyutil_proc_status st;

	for (int i = 0; i < 1000; i++) {
		assert_int_equal(skyutil_proc_status(c, &id, 1, 5000, &st), 0);
		if (!st.alive)
			return true;
		sleep_ms(10);
	}
	return false;
}

static void test_kill_tree_and_guard(void **state)
{
	struct skyutil_kill_result r;
	int64_t guard_id;
	skyutil_client *c;
	pid_t victim, watched;
	int wfd;

	(void)state;
	c = open_daemon();
	if (method_missing(c, "proc.guards")) {
		skyutil_client_free(c);
		skip();
	}
	victim = spawn_orphan();
	assert_int_equal(
	        skyutil_proc_kill_tree(c, (struct skyutil_proc_id){victim, -1}, 9, 1.0, 1, -1, &r),
	        0);
	assert_int_equal(r.signalled + r.killed, 1);
	assert_int_equal(r.already_gone, 0);
	assert_true(becomes_dead(c, victim));

	watched = spawn_waiting_child(0, &wfd);
	victim = spawn_orphan();
	assert_int_equal(skyutil_proc_guard(c, (struct skyutil_proc_id){watched, -1},
	                                    (struct skyutil_proc_id){victim, -1}, 0.5, 5000,
	                                    &guard_id),
	                 0);
	assert_true(guard_id > 0);
	assert_int_equal(skyutil_proc_unguard(c, guard_id, 5000), 0);
	assert_true(SKYUTIL_IS_REMOTE(skyutil_proc_unguard(c, guard_id, 5000)));
	assert_int_equal(skyutil_proc_guard(c, (struct skyutil_proc_id){watched, -1},
	                                    (struct skyutil_proc_id){victim, -1}, 0.5, 5000,
	                                    &guard_id),
	                 0);
	close(wfd);
	assert_int_equal(waitpid(watched, NULL, 0), watched);
	/* The guard fires: the victim is terminated without us touching it. */
	assert_true(becomes_dead(c, victim));
	skyutil_client_free(c);
}

/* Wait (bounded: 10 s) for our child pid to end; its wait status. */
static int reap_within(pid_t pid)
{
	int st = 0;

	for (int i = 0; i < 1000; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		sleep_ms(10);
	}
	fail_msg("child %d did not end", (int)pid);
	return 0;
}

/* A guard on a process that has already ended fires at once: no guard id, fired. */
static void test_guard_fires_at_once(void **state)
{
	struct skyutil_proc_id dead_id;
	int64_t guard_id = -1;
	skyutil_client *c;
	pid_t dead, victim;
	int st, wfd;

	(void)state;
	c = open_daemon();
	if (method_missing(c, "proc.guards")) {
		skyutil_client_free(c);
		skip();
	}
	dead = spawn_waiting_child(0, &wfd);
	close(wfd);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	dead_id = (struct skyutil_proc_id){dead, -1};

	victim = spawn_waiting_child(0, &wfd);
	assert_int_equal(skyutil_proc_guard(c, dead_id, (struct skyutil_proc_id){victim, -1}, 5.0,
	                                    5000, &guard_id),
	                 0);
	assert_int_equal(guard_id, 0); /* nothing left to unguard */
	st = reap_within(victim);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	close(wfd);

	/* The signal is the one asked for, not SIGTERM (nor SIGKILL after the grace). */
	victim = spawn_waiting_child(0, &wfd);
	guard_id = -1;
	assert_int_equal(skyutil_proc_guard_signal(c, dead_id, (struct skyutil_proc_id){victim, -1},
	                                           SIGUSR1, 30.0, 5000, &guard_id),
	                 0);
	assert_int_equal(guard_id, 0);
	st = reap_within(victim);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1);
	close(wfd);
	assert_int_equal(skyutil_proc_guard_signal(c, dead_id, dead_id, 65, 1.0, 5000, &guard_id),
	                 -EINVAL);
	assert_int_equal(skyutil_proc_guard_signal(c, dead_id, dead_id, -1, 1.0, 5000, &guard_id),
	                 -EINVAL);
	skyutil_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_strerror),
	        cmocka_unit_test(test_no_daemon),
	        cmocka_unit_test(test_default_path),
	        cmocka_unit_test(test_timeout_silent_server),
	        cmocka_unit_test(test_connect_timeout),
	        cmocka_unit_test(test_connection_lost),
	        cmocka_unit_test(test_oversized_and_garbage),
	        cmocka_unit_test(test_msgid0_error),
	        cmocka_unit_test(test_notifications_queued),
	        cmocka_unit_test(test_facts_cached_fake),
	        cmocka_unit_test(test_call_args_checked),
	        cmocka_unit_test(test_ping_hello),
	        cmocka_unit_test(test_generic_call),
	        cmocka_unit_test(test_remote_errors),
	        cmocka_unit_test(test_two_threads),
	        cmocka_unit_test(test_facts_real),
	        cmocka_unit_test(test_proc_real),
	        cmocka_unit_test(test_proc_status_large),
	        cmocka_unit_test(test_kill_tree_and_guard),
	        cmocka_unit_test(test_guard_fires_at_once),
	};

	/* No SIGPIPE handling here on purpose: the library must never raise it. */
	return cmocka_run_group_tests(tests, start_daemon, stop_daemon);
}
