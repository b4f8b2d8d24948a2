/*
 * test_exitcache.c - the bounded cache of recent exits (daemon/proc/exitcache.c): the oldest
 * entry goes when it is full, a reused pid keeps both identities apart, and a lookup without
 * a start time finds the most recent process with that pid.
 */
/* cmocka.h needs these first, and include sorting would move it above them. */
/* clang-format off */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
/* clang-format on */

#include "proc_int.h"

static struct sku_exit exit_of(pid_t pid, uint64_t start_time, int code)
{
	return (struct sku_exit){.pid = pid,
	                         .start_time = start_time,
	                         .uid = 0,
	                         .has_status = true,
	                         .wstatus = code << 8};
}

/* The exit code cached for (pid, start_time), -1 when none is. */
static int cached(const struct sku_exitcache *c, pid_t pid, uint64_t start_time)
{
	struct sku_ident id = {pid, true, start_time};
	const struct sku_exit *ex = sku_exitcache_get(c, &id);

	return ex ? (ex->wstatus >> 8) & 0xff : -1;
}

static void empty_size_is_refused(void **state)
{
	struct sku_exitcache c;

	(void)state;
	assert_int_equal(sku_exitcache_init(&c, 0), -EINVAL);
	sku_exitcache_put(&c, &(struct sku_exit){.pid = 1}); /* a no-op, no crash */
	sku_exitcache_done(&c);
}

static void oldest_goes_when_full(void **state)
{
	struct sku_exitcache c;
	const size_t cap = 8;

	(void)state;
	assert_int_equal(sku_exitcache_init(&c, cap), 0);
	for (int i = 0; i < (int)cap; i++) {
		struct sku_exit ex = exit_of(100 + i, 1000 + (uint64_t)i, i);

		sku_exitcache_put(&c, &ex);
	}
	for (int i = 0; i < (int)cap; i++)
		assert_int_equal(cached(&c, 100 + i, 1000 + (uint64_t)i), i);
	/* Three more: the three oldest are forgotten, the rest and the new ones are there. */
	for (int i = (int)cap; i < (int)cap + 3; i++) {
		struct sku_exit ex = exit_of(100 + i, 1000 + (uint64_t)i, i);

		sku_exitcache_put(&c, &ex);
	}
	for (int i = 0; i < (int)cap + 3; i++)
		assert_int_equal(cached(&c, 100 + i, 1000 + (uint64_t)i), i < 3 ? -1 : i);
	/* Many times round the ring: still exactly the last cap exits. */
	for (int i = 0; i < 1000; i++) {
		struct sku_exit ex = exit_of(5000 + i, 7, i % 200);

		sku_exitcache_put(&c, &ex);
	}
	for (int i = 0; i < 1000; i++)
		assert_int_equal(cached(&c, 5000 + i, 7), i >= 1000 - (int)cap ? i % 200 : -1);
	sku_exitcache_done(&c);
}

static void reused_pid_keeps_identities_apart(void **state)
{
	struct sku_exitcache c;
	struct sku_exit first = exit_of(42, 500, 1), second = exit_of(42, 900, 2);
	struct sku_ident any = {42, false, 0};

	(void)state;
	assert_int_equal(sku_exitcache_init(&c, 4), 0);
	sku_exitcache_put(&c, &first);
	sku_exitcache_put(&c, &second);
	assert_int_equal(cached(&c, 42, 500), 1);
	assert_int_equal(cached(&c, 42, 900), 2);
	assert_int_equal(cached(&c, 42, 700), -1); /* a third process with that pid: unknown */
	/* Without a start time: the most recent process that had the pid. */
	assert_int_equal((sku_exitcache_get(&c, &any)->wstatus >> 8) & 0xff, 2);
	/* Two more fill the cache; a third evicts the oldest, the first process's exit. */
	for (int i = 0; i < 3; i++) {
		struct sku_exit other = exit_of(7 + i, 1, 0);

		sku_exitcache_put(&c, &other);
	}
	assert_int_equal(cached(&c, 42, 500), -1);
	assert_int_equal(cached(&c, 42, 900), 2);
	assert_int_equal((sku_exitcache_get(&c, &any)->wstatus >> 8) & 0xff, 2);
	sku_exitcache_put(&c, &(struct sku_exit){.pid = 10, .start_time = 1});
	assert_int_equal(cached(&c, 42, 900), -1);
	assert_null(sku_exitcache_get(&c, &any));
	assert_int_equal(cached(&c, 7, 1), 0);
	sku_exitcache_done(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(empty_size_is_refused),
	        cmocka_unit_test(oldest_goes_when_full),
	        cmocka_unit_test(reused_pid_keeps_identities_apart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
