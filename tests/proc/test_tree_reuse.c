/*
 * test_tree_reuse.c - sku_tree_children (daemon/proc/tree.c) over a scripted process table.
 *
 * The procfs.h readers are replaced by a table the test changes while the tree is walked, so
 * the races of a real system happen exactly where wanted: a parent that dies while its
 * children are listed, its pid taken by a newcomer with children of its own. Both ways of
 * finding children are run: the per-process lists and the fallback scan of every process.
 */
/* cmocka.h needs these first, and include sorting would move it above them. */
/* clang-format off */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
/* clang-format on */

#include "proc_int.h"
#include "procfs.h"

#define TABLE_MAX 32

struct fproc {
	pid_t pid, ppid;
	uint64_t start_time;
};

static struct fproc table[TABLE_MAX];
static size_t ntable;
/* Every process the test ever started, as it was started. */
static struct fproc history[TABLE_MAX];
static size_t nhistory;
/* Whether sku_procfs_each_child answers -ENOTSUP, as without CONFIG_PROC_CHILDREN. */
static bool no_children_lists;
/* Called before and after the children of a pid are listed, and after the scan reads a pid. */
static void (*on_list)(pid_t ppid);
static void (*after_list)(pid_t ppid);
static void (*on_scanned)(pid_t pid);

static struct fproc *find(pid_t pid)
{
	for (size_t i = 0; i < ntable; i++)
		if (table[i].pid == pid)
			return &table[i];
	return NULL;
}

static void spawn(pid_t pid, pid_t ppid, uint64_t start_time)
{
	assert_null(find(pid));
	assert_true(ntable < TABLE_MAX);
	assert_true(nhistory < TABLE_MAX);
	table[ntable++] = (struct fproc){pid, ppid, start_time};
	history[nhistory++] = table[ntable - 1];
}

static bool ever_was(const struct sku_procent *e)
{
	for (size_t i = 0; i < nhistory; i++)
		if (history[i].pid == e->pid && history[i].start_time == e->start_time &&
		    history[i].ppid == e->ppid)
			return true;
	return false;
}

/* pid exits: its children go to pid 1, as the kernel reparents them. */
static void reap(pid_t pid)
{
	struct fproc *p = find(pid);

	assert_non_null(p);
	*p = table[--ntable];
	for (size_t i = 0; i < ntable; i++)
		if (table[i].ppid == pid)
			table[i].ppid = 1;
}

/* ---- the procfs.h readers tree.c uses ---- */

int sku_procfs_read_stat(pid_t pid, struct sku_stat *ret)
{
	const struct fproc *p = find(pid);

	if (!p)
		return -ESRCH;
	*ret = (struct sku_stat){
	        .pid = pid, .state = 'S', .ppid = p->ppid, .start_time = p->start_time};
	return 0;
}

int sku_procfs_each_child(pid_t ppid, int (*fn)(pid_t pid, void *ctx), void *ctx)
{
	pid_t kids[TABLE_MAX];
	size_t n = 0;

	if (no_children_lists)
		return -ENOTSUP;
	if (on_list)
		on_list(ppid);
	for (size_t i = 0; i < ntable; i++)
		if (table[i].ppid == ppid)
			kids[n++] = table[i].pid;
	for (size_t i = 0; i < n; i++) {
		int r = fn(kids[i], ctx);

		if (r)
			return r;
	}
	if (after_list)
		after_list(ppid);
	return 0;
}

int sku_procfs_each_pid(int (*fn)(pid_t pid, void *ctx), void *ctx)
{
	/* In pid order, like a readdir of /proc; the table may change between two reads. */
	for (pid_t pid = 1; pid < 1000; pid++) {
		int r;

		if (!find(pid))
			continue;
		r = fn(pid, ctx);
		if (r)
			return r;
		if (on_scanned)
			on_scanned(pid);
	}
	return 0;
}

/* ---- scenarios ---- */

static int setup(void **state)
{
	no_children_lists = *state != NULL;
	ntable = 0;
	nhistory = 0;
	on_list = NULL;
	after_list = NULL;
	on_scanned = NULL;
	spawn(1, 0, 1);
	return 0;
}

static const struct sku_procent ROOT = {100, 1, 10};

/* The pids found, in order, as a string ("101 103 102"), or "error <errno>". */
static const char *walk(const struct sku_procent *root, bool recursive)
{
	static char buf[256];
	struct sku_procent *kids = NULL;
	size_t n = 0, len = 0;
	int r;

	r = sku_tree_children(root, recursive, &kids, &n);
	buf[0] = '\0';
	if (r < 0) {
		snprintf(buf, sizeof(buf), "error %d", -r);
		return buf;
	}
	for (size_t i = 0; i < n; i++) {
		/* Every entry carries the identity it was found with. */
		assert_true(ever_was(&kids[i]));
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%d", i ? " " : "",
		                        (int)kids[i].pid);
	}
	free(kids);
	return buf;
}

static void plain_tree(void **state)
{
	(void)state;
	spawn(100, 1, 10);
	spawn(101, 100, 20);
	spawn(103, 100, 15);
	spawn(102, 101, 30);
	spawn(200, 1, 12); /* not in the tree */
	assert_string_equal(walk(&ROOT, false), "101 103");
	assert_string_equal(walk(&ROOT, true), "101 103 102");
}

static void started_before_its_parent_is_no_child(void **state)
{
	(void)state;
	spawn(100, 1, 10);
	spawn(101, 100, 20);
	/* Stale entries: the ppid names a process that started after them. */
	spawn(104, 100, 5);
	spawn(102, 101, 19);
	spawn(105, 101, 20);
	assert_string_equal(walk(&ROOT, true), "101 105");
}

/* While 101's children are listed, 101 dies and its pid goes to a newcomer with a child. */
static void reuse_101(pid_t ppid)
{
	if (ppid != 101 || find(101)->start_time != 20)
		return;
	reap(101);
	spawn(101, 300, 50);
	spawn(110, 101, 60); /* started after the old 101 too: the start rule lets it pass */
	spawn(111, 110, 70);
}

static void inner_parent_reused_while_listed(void **state)
{
	(void)state;
	spawn(100, 1, 10);
	spawn(101, 100, 20);
	spawn(103, 100, 15);
	spawn(104, 103, 16);
	spawn(300, 1, 40);
	if (no_children_lists)
		on_scanned = reuse_101;
	else
		on_list = reuse_101;
	/* The newcomer's child (and grandchild) are no descendants of the root. */
	assert_string_equal(walk(&ROOT, true), "101 103 104");
}

/* Once 102 has been found as 101's child, 101 exits (102 goes to pid 1). */
static void exit_101(pid_t pid)
{
	/* The scan has found it once 102 itself is read; the lists once 101's is read. */
	if (pid == (no_children_lists ? 102 : 101) && find(101))
		reap(101);
}

static void inner_parent_gone_after_listing(void **state)
{
	(void)state;
	spawn(100, 1, 10);
	spawn(101, 100, 20);
	spawn(102, 101, 30);
	spawn(103, 100, 15);
	assert_string_equal(walk(&ROOT, true), "101 103 102");
	if (no_children_lists)
		on_scanned = exit_101;
	else
		after_list = exit_101;
	/* A child found for a parent that is gone cannot be vouched for: left out. */
	assert_string_equal(walk(&ROOT, true), "101 103");
}

/* While the root's children are listed, the root dies and its pid is reused. */
static void reuse_root(pid_t pid)
{
	if (pid != 100 || find(100)->start_time != 10)
		return;
	reap(100);
	spawn(100, 1, 50);
	spawn(120, 100, 60);
}

static void root_reused_while_listed(void **state)
{
	(void)state;
	spawn(100, 1, 10);
	spawn(101, 100, 20);
	if (no_children_lists)
		on_scanned = reuse_root;
	else
		on_list = reuse_root;
	assert_string_equal(walk(&ROOT, false), "error 3");
}

static void root_gone(void **state)
{
	(void)state;
	/* No process 100 at all: gone before the walk, with nothing to list. */
	assert_string_equal(walk(&ROOT, true), "error 3");
}

int main(void)
{
	static int scan = 1;
	const struct CMUnitTest tests[] = {
/* Each scenario with the children lists, then with the scan of every process. */
#define BOTH(fn) {#fn, fn, setup, NULL, NULL}, {#fn " (scan)", fn, setup, NULL, &scan}
	        BOTH(plain_tree),
	        BOTH(started_before_its_parent_is_no_child),
	        BOTH(inner_parent_reused_while_listed),
	        BOTH(inner_parent_gone_after_listing),
	        BOTH(root_reused_while_listed),
	        BOTH(root_gone),
#undef BOTH
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
