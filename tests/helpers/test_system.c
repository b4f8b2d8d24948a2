/*
 * test_system.c - find_free_port and the worker-count helpers.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "skyutil/skyutil.h"

#include "hutil.h"

/* A listening TCP socket on an ephemeral port of all interfaces; *ret_port its port. */
static int listen_any(int *ret_port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

static bool bindable(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_ANY)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	assert_true(fd >= 0);
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static void test_free_port_skips_busy(void **state)
{
	int busy, fd = listen_any(&busy), port = -1;

	if (busy >= 65534) {
		print_message("# not checked: ephemeral port %d leaves nothing above it\n", busy);
		close(fd);
		return;
	}
	assert_int_equal(skyutil_find_free_port(busy, &port), 0);
	assert_true(port > busy);
	assert_true(port < 65535);
	assert_true(bindable(port));
	close(fd);
}

static void test_free_port_loopback_user_blocks(void **state)
{
	/* A port held on 127.0.0.1 only is not free on all interfaces either. */
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), held, port = -1;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	held = ntohs(sa.sin_port);
	if (held >= 65534) {
		print_message("# not checked: ephemeral port %d leaves nothing above it\n", held);
		close(fd);
		return;
	}
	assert_int_equal(skyutil_find_free_port(held, &port), 0);
	assert_true(port > held);
	close(fd);
}

static void test_free_port_bounds(void **state)
{
	int port = 12345;

	assert_int_equal(skyutil_find_free_port(-1, &port), -EINVAL);
	assert_int_equal(skyutil_find_free_port(65536, &port), -EINVAL);
	/* range(65535, 65535) is empty upstream. */
	assert_int_equal(skyutil_find_free_port(65535, &port), -EADDRNOTAVAIL);
	assert_int_equal(port, 12345);
	/* Binding port 0 always succeeds, so upstream answers 0. */
	assert_int_equal(skyutil_find_free_port(0, &port), 0);
	assert_int_equal(port, 0);
	assert_int_equal(skyutil_find_free_port(1, NULL), -EINVAL);
}

static void test_parallel_threads(void **state)
{
	assert_int_equal(skyutil_parallel_threads(1, NULL), 4);
	assert_int_equal(skyutil_parallel_threads(0, NULL), 4);
	assert_int_equal(skyutil_parallel_threads(-3, NULL), 4);
	assert_int_equal(skyutil_parallel_threads(5, NULL), 4);
	assert_int_equal(skyutil_parallel_threads(6, NULL), 5);
	assert_int_equal(skyutil_parallel_threads(8, NULL), 7);
	assert_int_equal(skyutil_parallel_threads(8, ""), 7);
	assert_int_equal(skyutil_parallel_threads(8, "aws"), 7);
	assert_int_equal(skyutil_parallel_threads(8, "kubernetes"), 28);
	assert_int_equal(skyutil_parallel_threads(8, "Kubernetes"), 28);
	assert_int_equal(skyutil_parallel_threads(8, "KUBERNETES"), 28);
	assert_int_equal(skyutil_parallel_threads(1, "kubernetes"), 16);
	/* KELVIN SIGN lowercases to 'k' in Python. */
	assert_int_equal(skyutil_parallel_threads(8, "\xe2\x84\xaaubernetes"), 28);
	assert_int_equal(skyutil_parallel_threads(8, "kubernetes "), 7);
	assert_int_equal(skyutil_parallel_threads(8, "kube"), 7);
	assert_int_equal(skyutil_parallel_threads(8, "kubernetesx"), 7);
	assert_int_equal(skyutil_parallel_threads(INT64_MAX, "kubernetes"), INT64_MAX);
	assert_int_equal(skyutil_parallel_threads(INT64_MIN, NULL), 4);
}

static void test_max_workers(void **state)
{
	assert_int_equal(skyutil_max_workers_for_file_mounts(1024, 5, 8, NULL), 7);
	assert_int_equal(skyutil_max_workers_for_file_mounts(1024, 5, 8, "kubernetes"), 28);
	assert_int_equal(skyutil_max_workers_for_file_mounts(1024, 100, 8, "kubernetes"), 9);
	assert_int_equal(skyutil_max_workers_for_file_mounts(200, 50, 8, NULL), 2);
	assert_int_equal(skyutil_max_workers_for_file_mounts(50, 5, 8, NULL), 1);
	assert_int_equal(skyutil_max_workers_for_file_mounts(-1, 5, 8, NULL), 1);
	assert_int_equal(skyutil_max_workers_for_file_mounts(INT64_MIN, 5, 8, NULL), 1);
	assert_int_equal(skyutil_max_workers_for_file_mounts(SKYUTIL_UNLIMITED, 5, 64, NULL), 63);
	assert_int_equal(skyutil_max_workers_for_file_mounts(104, 0, 8, NULL), 4);
	assert_int_equal(skyutil_max_workers_for_file_mounts(100000, 5000, 64, NULL), 19);
}

static void make_dir_with(const char *name, int entries)
{
	char path[PATH_MAX], file[PATH_MAX + 16];
	int i;

	hutil_path(path, sizeof(path), name);
	assert_int_equal(mkdir(path, 0755), 0);
	for (i = 0; i < entries; i++) {
		/* Hidden entries count too (os.listdir). */
		snprintf(file, sizeof(file), "%s/%s%d", path, i % 2 ? "." : "", i);
		hutil_write(file, "", 0);
	}
}

static void test_fds_per_source(void **state)
{
	char d3[PATH_MAX], d0[PATH_MAX], d7[PATH_MAX], file[PATH_MAX], link[PATH_MAX];

	make_dir_with("three", 3);
	make_dir_with("zero", 0);
	make_dir_with("seven", 7);
	hutil_path(d3, sizeof(d3), "three");
	hutil_path(d0, sizeof(d0), "zero");
	hutil_path(d7, sizeof(d7), "seven");
	hutil_path(file, sizeof(file), "three/0");
	hutil_path(link, sizeof(link), "link-to-seven");
	assert_int_equal(symlink(d7, link), 0);
	{
		const char *const one[] = {d3};
		const char *const none[] = {d0, file, "/nonexistent/skyutil", NULL};
		const char *const many[] = {d0, d3, d7, file};
		const char *const viasym[] = {link};

		assert_int_equal(skyutil_fds_per_source(one, 1), 15);
		assert_int_equal(skyutil_fds_per_source(none, 4), 5);
		assert_int_equal(skyutil_fds_per_source(many, 4), 35);
		assert_int_equal(skyutil_fds_per_source(many, 2), 15);
		assert_int_equal(skyutil_fds_per_source(viasym, 1), 35);
		assert_int_equal(skyutil_fds_per_source(NULL, 0), 5);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_free_port_skips_busy),
	        cmocka_unit_test(test_free_port_loopback_user_blocks),
	        cmocka_unit_test(test_free_port_bounds),
	        cmocka_unit_test(test_parallel_threads),
	        cmocka_unit_test(test_max_workers),
	        cmocka_unit_test(test_fds_per_source),
	};

	return cmocka_run_group_tests(tests, hutil_setup, hutil_teardown);
}
