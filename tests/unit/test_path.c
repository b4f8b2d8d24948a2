/*
 * test_path.c - socket path resolution order and its length limits.
 */
#include <sys/un.h>

#include "unit.h"

#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *)NULL)->sun_path)

static void test_order(void **state)
{
	char buf[256];

	assert_int_equal(
	        sku_socket_path("/e/x.sock", "/env.sock", "/run/user/1000", 1000, buf, sizeof(buf)),
	        0);
	assert_string_equal(buf, "/e/x.sock");
	assert_int_equal(sku_socket_path("", "/env.sock", "/run/user/1000", 1000, buf, sizeof(buf)),
	                 0);
	assert_string_equal(buf, "/env.sock");
	assert_int_equal(sku_socket_path(NULL, "", "/run/user/1000", 1000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/user/1000/skyutild/skyutild.sock");
	assert_int_equal(sku_socket_path(NULL, NULL, "", 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/skyutild/skyutild.sock");
	assert_int_equal(sku_socket_path(NULL, NULL, NULL, 1000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/tmp/skyutild-1000/skyutild.sock");
	assert_int_equal(sku_socket_path(NULL, NULL, NULL, 4294967294u, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/tmp/skyutild-4294967294/skyutild.sock");
	/* root with a runtime dir still uses it: the order is by source, not by uid */
	assert_int_equal(sku_socket_path(NULL, NULL, "/run/user/0", 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/user/0/skyutild/skyutild.sock");
	/* explicit and env paths are taken as given, relative too */
	assert_int_equal(sku_socket_path("rel.sock", NULL, NULL, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "rel.sock");
}

/* A relative XDG_RUNTIME_DIR is invalid per the XDG spec and skipped. */
static void test_relative_xdg_ignored(void **state)
{
	char buf[256];

	assert_int_equal(sku_socket_path(NULL, NULL, "run/user/5", 5, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/tmp/skyutild-5/skyutild.sock");
}

static void test_sun_path_limit(void **state)
{
	char buf[512];
	char path[SUN_PATH_SIZE + 1];

	/* sun_path holds SUN_PATH_SIZE - 1 bytes plus the NUL */
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[SUN_PATH_SIZE - 1] = '\0';
	assert_int_equal(sku_socket_path(path, NULL, NULL, 0, buf, sizeof(buf)), 0);
	assert_int_equal(strlen(buf), SUN_PATH_SIZE - 1);
	path[SUN_PATH_SIZE - 1] = 'p';
	path[SUN_PATH_SIZE] = '\0';
	strcpy(buf, "untouched");
	assert_int_equal(sku_socket_path(path, NULL, NULL, 0, buf, sizeof(buf)), -ENAMETOOLONG);
	assert_string_equal(buf, "untouched");
	assert_int_equal(sku_socket_path(NULL, path, NULL, 0, buf, sizeof(buf)), -ENAMETOOLONG);

	/* a runtime dir long enough that only the appended part overflows */
	memset(path, 'd', sizeof(path));
	path[0] = '/';
	path[SUN_PATH_SIZE - 20] = '\0';
	assert_int_equal(sku_socket_path(NULL, NULL, path, 0, buf, sizeof(buf)), -ENAMETOOLONG);
	assert_string_equal(buf, "untouched");
}

static void test_buffer_limit(void **state)
{
	static const char want[] = "/tmp/skyutild-1000/skyutild.sock";
	char buf[sizeof(want)];

	assert_int_equal(sku_socket_path(NULL, NULL, NULL, 1000, buf, sizeof(want)), 0);
	assert_string_equal(buf, want);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(sku_socket_path(NULL, NULL, NULL, 1000, buf, sizeof(want) - 1),
	                 -ENAMETOOLONG);
	assert_int_equal(buf[0], 'x');
	assert_int_equal(sku_socket_path(NULL, NULL, NULL, 1000, buf, 0), -ENAMETOOLONG);
	assert_int_equal(sku_socket_path(NULL, NULL, NULL, 1000, NULL, 10), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_order),
	        cmocka_unit_test(test_relative_xdg_ignored),
	        cmocka_unit_test(test_sun_path_limit),
	        cmocka_unit_test(test_buffer_limit),
	};

	return cmocka_run_group_tests_name("path", tests, NULL, NULL);
}
