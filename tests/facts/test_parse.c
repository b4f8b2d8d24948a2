/*
 * test_parse.c - the facts parsers and arithmetic on inline inputs (no daemon, no cgroups).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka.h needs the headers above first; keep it out of include sorting */
/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include "facts.h"

static void test_parse_limit(void **state)
{
	int64_t v = 42;

	(void)state;
	assert_int_equal(sku_parse_limit("max\n", &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(sku_parse_limit("-1", &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(sku_parse_limit("536870912\n", &v), 0);
	assert_int_equal(v, 536870912);
	/* v1 sentinels: LONG_MAX rounded down to 4 KiB and to 64 KiB pages */
	assert_int_equal(sku_parse_limit("9223372036854771712", &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(sku_parse_limit("9223372036854710272", &v), 0);
	assert_int_equal(v, -1);
	/* just below the sentinel range is a (silly but real) limit */
	assert_int_equal(sku_parse_limit("9223372036854710271", &v), 0);
	assert_int_equal(v, 9223372036854710271LL);
	assert_int_equal(sku_parse_limit("18446744073709551615", &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(sku_parse_limit("99999999999999999999999", &v), 0);
	assert_int_equal(v, -1);
	v = 7;
	assert_int_equal(sku_parse_limit("", &v), -EINVAL);
	assert_int_equal(sku_parse_limit("12k", &v), -EINVAL);
	assert_int_equal(sku_parse_limit("maxi", &v), -EINVAL);
	assert_int_equal(sku_parse_limit("-2", &v), -EINVAL);
	assert_int_equal(v, 7);
}

static void test_parse_cpu_max(void **state)
{
	int64_t q = 0, p = 0;

	(void)state;
	assert_int_equal(sku_parse_cpu_max("200000 100000\n", &q, &p), 0);
	assert_int_equal(q, 200000);
	assert_int_equal(p, 100000);
	assert_int_equal(sku_parse_cpu_max("max 50000", &q, &p), 0);
	assert_int_equal(q, -1);
	assert_int_equal(p, 50000);
	assert_int_equal(sku_parse_cpu_max("max", &q, &p), 0);
	assert_int_equal(q, -1);
	assert_int_equal(sku_parse_cpu_max("500000", &q, &p), 0);
	assert_int_equal(q, 500000);
	assert_int_equal(p, 100000);
	assert_int_equal(sku_parse_cpu_max("", &q, &p), -EINVAL);
	assert_int_equal(sku_parse_cpu_max("asdf 100000", &q, &p), -EINVAL);
	assert_int_equal(sku_parse_cpu_max("250000 0", &q, &p), -EINVAL);
	assert_int_equal(sku_parse_cpu_max("0 100000", &q, &p), -EINVAL);
	assert_int_equal(sku_parse_cpu_max("1 2 3", &q, &p), -EINVAL);
	assert_int_equal(sku_parse_cpu_max("maxx 100", &q, &p), -EINVAL);
	assert_int_equal(sku_parse_cpu_max("100000x", &q, &p), -EINVAL);
	assert_int_equal(sku_parse_cpu_max("99999999999999999999 100000", &q, &p), -EINVAL);
}

static void test_parse_ints(void **state)
{
	uint64_t u;
	int64_t i;

	(void)state;
	assert_int_equal(sku_parse_u64(" 18446744073709551615\n", &u), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(sku_parse_u64("18446744073709551616", &u), -ERANGE);
	assert_int_equal(sku_parse_u64("-1", &u), -EINVAL);
	assert_int_equal(sku_parse_i64("-9223372036854775808", &i), 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(sku_parse_i64("9223372036854775808", &i), -ERANGE);
	assert_int_equal(sku_parse_i64("1 2", &i), -EINVAL);
	assert_int_equal(sku_parse_i64("", &i), -EINVAL);
}

static void test_cpulist(void **state)
{
	uint32_t n = 99;

	(void)state;
	assert_int_equal(sku_cpulist_count("0-3,8,10-11\n", &n), 0);
	assert_int_equal(n, 7);
	assert_int_equal(sku_cpulist_count("5", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sku_cpulist_count("0-4095", &n), 0);
	assert_int_equal(n, 4096);
	n = 99;
	assert_int_equal(sku_cpulist_count("", &n), -ENODATA);
	assert_int_equal(sku_cpulist_count(" \n", &n), -ENODATA);
	assert_int_equal(sku_cpulist_count("0-", &n), -EINVAL);
	assert_int_equal(sku_cpulist_count("3-1", &n), -EINVAL);
	assert_int_equal(sku_cpulist_count("1,,2", &n), -EINVAL);
	assert_int_equal(sku_cpulist_count("a", &n), -EINVAL);
	assert_int_equal(sku_cpulist_count("0-99999999999", &n), -EINVAL);
	assert_int_equal(n, 99);
}

static void test_kv_and_limits(void **state)
{
	const char *stat = "anon 1\ninactive_file_x 5\ninactive_file 314572800\nfile 9";
	const char *meminfo = "MemTotal:       67108864 kB\nMemFree: 1 kB\n";
	const char *limits = "Limit   Soft Limit   Hard Limit  Units\n"
	                     "Max open files            1024                 524288     files\n"
	                     "Max locked memory unlimited unlimited bytes\n";
	int64_t soft, hard;
	uint64_t v;

	(void)state;
	assert_int_equal(sku_kv_find_u64(stat, "inactive_file", &v), 0);
	assert_true(v == 314572800);
	assert_int_equal(sku_kv_find_u64(stat, "active_file", &v), -ENOENT);
	assert_int_equal(sku_kv_find_u64(meminfo, "MemTotal:", &v), 0);
	assert_true(v == 67108864);
	assert_int_equal(sku_kv_find_u64(meminfo, "MemTotal", &v), 0);
	assert_true(v == 67108864);
	assert_int_equal(sku_limits_find(limits, "Max open files", &soft, &hard), 0);
	assert_int_equal(soft, 1024);
	assert_int_equal(hard, 524288);
	assert_int_equal(sku_limits_find(limits, "Max locked memory", &soft, &hard), 0);
	assert_int_equal(soft, -1);
	assert_int_equal(hard, -1);
	assert_int_equal(sku_limits_find(limits, "Max processes", &soft, &hard), -ENOENT);
	assert_int_equal(sku_limits_find("Max open files   lots  many files\n", "Max open files",
	                                 &soft, &hard),
	                 -EINVAL);
}

static void test_unescape(void **state)
{
	char s[] = "/a\\040b\\011c\\134d\\0\\999";

	(void)state;
	assert_int_equal(sku_unescape_octal(s, strlen(s)), strlen("/a b\tc\\d\\0\\999"));
	assert_string_equal(s, "/a b\tc\\d\\0\\999");
}

static void test_mountinfo(void **state)
{
	/* an optional-fields list, a name= hierarchy, joined controllers, an escaped point, a
	 * malformed cgroup line, a non-cgroup line and a line without a trailing newline */
	const char *text =
	        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	        "30 25 0:27 / /sys/fs/cgroup rw,nosuid shared:4 master:1 - cgroup2 cgroup2 rw\n"
	        "31 25 0:28 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
	        "32 25 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
	        "33 25 0:30 / /mnt/a\\040b rw - cgroup cgroup rw,memory,pids\n"
	        "34 25 0:31 / - cgroup\n"
	        "35 25 0:32 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset";
	struct sku_mounts m;
	unsigned bad = 0;

	(void)state;
	assert_int_equal(sku_mounts_parse(text, strlen(text), &m, &bad), 0);
	assert_int_equal(bad, 1);
	assert_int_equal(m.n, 5);
	assert_true(m.have_v1);
	assert_true(m.have_v2);
	assert_true(m.v[0].v2);
	assert_string_equal(m.v[0].point, "/sys/fs/cgroup");
	assert_string_equal(m.v[1].root, "/docker/abc");
	assert_int_equal(m.v[1].ctrls, SKU_CTRL_BIT(SKU_CTRL_CPU));
	assert_int_equal(m.v[2].ctrls, 0);
	assert_string_equal(m.v[3].point, "/mnt/a b");
	assert_int_equal(m.v[3].ctrls, SKU_CTRL_BIT(SKU_CTRL_MEMORY) | SKU_CTRL_BIT(SKU_CTRL_PIDS));
	assert_int_equal(m.v[4].ctrls, SKU_CTRL_BIT(SKU_CTRL_CPUSET));
	sku_mounts_done(&m);
	assert_null(m.v);
}

static void test_mountinfo_long_line(void **state)
{
	const char *head = "20 1 0:50 / / rw - overlay overlay rw,lowerdir=";
	const char *tail = "\n30 25 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
	static char text[250000];
	size_t n = 200000, hlen = strlen(head);
	struct sku_mounts m;

	(void)state;
	memcpy(text, head, hlen);
	memset(text + hlen, 'x', n);
	memcpy(text + hlen + n, tail, strlen(tail) + 1);
	assert_int_equal(sku_mounts_parse(text, strlen(text), &m, NULL), 0);
	assert_int_equal(m.n, 1);
	assert_true(m.v[0].v2);
	sku_mounts_done(&m);
}

static void test_proc_cgroups(void **state)
{
	const char *text = "12:name=systemd:/x\n"
	                   "4:cpu,cpuacct:/docker/a:b\n"
	                   "9:memory:/m\n"
	                   "garbage line\n"
	                   "5:pids:relative\n"
	                   "0::/system.slice/a:b.service";
	struct sku_proc_cgroups pc;

	(void)state;
	assert_int_equal(sku_proc_cgroups_parse(text, strlen(text), &pc), 0);
	assert_string_equal(pc.v1[SKU_CTRL_CPU], "/docker/a:b");
	assert_string_equal(pc.v1[SKU_CTRL_MEMORY], "/m");
	assert_null(pc.v1[SKU_CTRL_PIDS]);
	assert_null(pc.v1[SKU_CTRL_CPUSET]);
	assert_string_equal(pc.v2, "/system.slice/a:b.service");
	assert_true(pc.any_v1);
	sku_proc_cgroups_done(&pc);

	assert_int_equal(sku_proc_cgroups_parse("1:name=systemd:/\n0::/", 21, &pc), 0);
	assert_false(pc.any_v1);
	assert_string_equal(pc.v2, "/");
	sku_proc_cgroups_done(&pc);
}

/* A scratch tree for path translation. */
static char tmpdir[] = "/tmp/facts-parse-XXXXXX";

static void mkdirs(const char *rel)
{
	char path[512], *p;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	for (p = path + strlen(tmpdir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		(void)mkdir(path, 0755);
		*p = '/';
	}
	assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
}

static void test_locate(void **state)
{
	const char *mi = "31 25 0:28 /docker/abc /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
	                 "30 25 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
	struct sku_proc_cgroups pc = {0};
	struct sku_ctrl_loc *loc = malloc(sizeof(*loc));
	struct sku_mounts m;
	char want[512];

	(void)state;
	assert_non_null(loc);
	assert_non_null(mkdtemp(tmpdir));
	mkdirs("sys/fs/cgroup/cpu/sub");
	mkdirs("sys/fs/cgroup/unified/u");
	assert_int_equal(sku_mounts_parse(mi, strlen(mi), &m, NULL), 0);

	/* below the mount root: the remainder is appended */
	pc.v1[SKU_CTRL_CPU] = strdup("/docker/abc/sub");
	pc.v2 = strdup("/u");
	assert_int_equal(sku_ctrl_locate(tmpdir, &m, &pc, SKU_CTRL_CPU, 0, loc), 0);
	snprintf(want, sizeof(want), "%s/sys/fs/cgroup/cpu/sub", tmpdir);
	assert_string_equal(loc->dir, want);
	assert_int_equal(loc->mount_len, strlen(tmpdir) + strlen("/sys/fs/cgroup/cpu"));
	assert_false(loc->uncertain);
	assert_false(loc->v2);

	/* equal to the root: the mount point itself */
	free(pc.v1[SKU_CTRL_CPU]);
	pc.v1[SKU_CTRL_CPU] = strdup("/docker/abc");
	assert_int_equal(sku_ctrl_locate(tmpdir, &m, &pc, SKU_CTRL_CPU, 0, loc), 0);
	assert_int_equal(strlen(loc->dir), loc->mount_len);
	assert_false(loc->uncertain);

	/* outside the root with nothing matching: the mount point, uncertain */
	free(pc.v1[SKU_CTRL_CPU]);
	pc.v1[SKU_CTRL_CPU] = strdup("/elsewhere/zzz");
	assert_int_equal(sku_ctrl_locate(tmpdir, &m, &pc, SKU_CTRL_CPU, 0, loc), 0);
	assert_int_equal(strlen(loc->dir), loc->mount_len);
	assert_true(loc->uncertain);

	/* memory is on no v1 hierarchy: v2 only when cgroup.controllers enables it */
	assert_int_equal(sku_ctrl_locate(tmpdir, &m, &pc, SKU_CTRL_MEMORY, 0, loc), -ENOENT);
	assert_int_equal(sku_ctrl_locate(tmpdir, &m, &pc, SKU_CTRL_MEMORY,
	                                 SKU_CTRL_BIT(SKU_CTRL_MEMORY), loc),
	                 0);
	assert_true(loc->v2);
	snprintf(want, sizeof(want), "%s/sys/fs/cgroup/unified/u", tmpdir);
	assert_string_equal(loc->dir, want);

	sku_proc_cgroups_done(&pc);
	sku_mounts_done(&m);
	free(loc);
}

static void test_read_file(void **state)
{
	char path[600], small[8], *buf = NULL;
	size_t len = 0;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/f", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	for (int i = 0; i < 3000; i++)
		assert_int_equal(write(fd, "0123456789", 10), 10);
	close(fd);
	assert_int_equal(sku_read_file(path, 30000, &buf, &len), 0);
	assert_int_equal(len, 30000);
	assert_int_equal(buf[len], '\0');
	free(buf);
	buf = NULL;
	assert_int_equal(sku_read_file(path, 29999, &buf, &len), -EFBIG);
	assert_null(buf);
	assert_int_equal(sku_read_small(path, small, sizeof(small)), -EFBIG);
	assert_int_equal(sku_read_file("/nonexistent/x", 10, &buf, &len), -ENOENT);

	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_int_equal(write(fd, "  42\n", 5), 5);
	close(fd);
	assert_int_equal(sku_read_small(path, small, sizeof(small)), 0);
	assert_string_equal(small, "42");
	unlink(path);
}

static void test_derive(void **state)
{
	struct sku_group_facts *g = malloc(sizeof(*g));
	struct sku_proc_facts p = {
	        .pid = 1, .nofile_soft = 1024, .nofile_hard = 4096, .affinity = 16};
	struct sku_facts_derived d;

	(void)state;
	assert_non_null(g);
	sku_group_facts_init(g);
	g->cpu_online = 16;
	g->mem_total = 1000;

	sku_facts_derive(g, &p, &d);
	assert_int_equal(d.cpu_count, 16);
	assert_true(d.cpu_quota < 0);
	assert_string_equal(d.cpu_src, "online");
	assert_int_equal(d.mem_effective, 1000);

	g->quota_us = 250000, g->period_us = 100000;
	strcpy(g->quota_src, "q");
	sku_facts_derive(g, &p, &d);
	assert_int_equal(d.cpu_count, 3);
	assert_int_equal(d.cpu_count_floor, 2);
	assert_string_equal(d.cpu_src, "q");

	g->quota_us = 50000; /* half a CPU: at least one */
	sku_facts_derive(g, &p, &d);
	assert_int_equal(d.cpu_count, 1);
	assert_int_equal(d.cpu_count_floor, 1);

	g->quota_us = INT64_MAX, g->period_us = 1; /* no overflow in the ceiling */
	sku_facts_derive(g, &p, &d);
	assert_int_equal(d.cpu_count, 16);

	g->quota_us = 800000, g->period_us = 100000;
	g->cpuset_cpus = 4;
	strcpy(g->cpuset_src, "cs");
	p.affinity = 2;
	sku_facts_derive(g, &p, &d);
	assert_int_equal(d.cpu_count, 2);
	assert_string_equal(d.cpu_src, "affinity");
	p.affinity = 6;
	sku_facts_derive(g, &p, &d);
	assert_int_equal(d.cpu_count, 4);
	assert_string_equal(d.cpu_src, "cs");

	g->mem_limit = 500;
	strcpy(g->mem_src, "m");
	sku_facts_derive(g, &p, &d);
	assert_int_equal(d.mem_effective, 500);
	assert_string_equal(d.mem_src, "m");
	g->mem_limit = 5000;
	sku_facts_derive(g, &p, &d);
	assert_int_equal(d.mem_effective, 1000);
	free(g);
}

static void test_changed(void **state)
{
	struct sku_group_facts *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct sku_proc_facts p1 = {.nofile_soft = 1}, p2 = {.nofile_soft = 1};

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	sku_group_facts_init(a);
	sku_group_facts_init(b);
	b->mem_used = 12345; /* usage moves all the time: not a change */
	b->pids_current = 3;
	assert_false(sku_group_facts_changed(a, b));
	b->quota_us = 1;
	assert_true(sku_group_facts_changed(a, b));
	assert_false(sku_proc_facts_changed(&p1, &p2));
	p2.affinity = 3;
	assert_true(sku_proc_facts_changed(&p1, &p2));
	free(a);
	free(b);
}

static void test_sizing(void **state)
{
	(void)state;
	assert_int_equal(sku_parallel_threads(1, NULL, 0), 4);
	assert_int_equal(sku_parallel_threads(16, NULL, 0), 15);
	assert_int_equal(sku_parallel_threads(16, "KuberNetes", 10), 60);
	assert_int_equal(sku_parallel_threads(2, "kubernetes", 10), 16);
	assert_int_equal(sku_parallel_threads(16, "kubernetes-x", 12), 15);
	assert_int_equal(sku_parallel_threads(16, "aws", 3), 15);

	assert_int_equal(sku_max_workers(1024, 5, 15), 15);
	assert_int_equal(sku_max_workers(1024, 100, 15), 9);
	assert_int_equal(sku_max_workers(100, 5, 15), 1);
	assert_int_equal(sku_max_workers(50, 5, 15), 1);
	assert_int_equal(sku_max_workers(-1, 5, 15), 15);
}

static void test_warn_bounded(void **state)
{
	struct sku_facts_warnings w = {0};

	(void)state;
	for (int i = 0; i < SKU_FACTS_MAX_WARNINGS + 3; i++)
		sku_facts_warn(&w, "warning %d %s", i,
		               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	assert_int_equal(w.count, SKU_FACTS_MAX_WARNINGS);
	assert_true(w.truncated);
	assert_string_equal(w.text[0], "warning 0 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

static int teardown(void **state)
{
	(void)state;
	if (strchr(tmpdir, 'X') == NULL) {
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		return system(cmd) == 0 ? 0 : -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_limit),   cmocka_unit_test(test_parse_cpu_max),
	        cmocka_unit_test(test_parse_ints),    cmocka_unit_test(test_cpulist),
	        cmocka_unit_test(test_kv_and_limits), cmocka_unit_test(test_unescape),
	        cmocka_unit_test(test_mountinfo),     cmocka_unit_test(test_mountinfo_long_line),
	        cmocka_unit_test(test_proc_cgroups),  cmocka_unit_test(test_locate),
	        cmocka_unit_test(test_read_file),     cmocka_unit_test(test_derive),
	        cmocka_unit_test(test_changed),       cmocka_unit_test(test_sizing),
	        cmocka_unit_test(test_warn_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, teardown);
}
