/*
 * test_lookup_race.c - sku_proc_lookup (daemon/proc/proc_status.c) in a scripted world.
 *
 * The pidref.h and procfs.h calls are the test's own: a process table in which a pid can die
 * and go to a newcomer between any two calls, exactly where the test wants. The property under
 * test is the race-free order, pidfd first, then /proc, then verify the pidfd: a /proc read of
 * a recycled pid is never reported with the original's pidfd, nor as the original.
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

#include "pidref.h"
#include "proc_int.h"
#include "procfs.h"

#define PID       4242
#define FD_BASE   100
#define MAX_PROCS 8

/* One process that held PID at some time: fds refer to one of these. */
struct fproc {
	uint64_t start_time;
	char state;
	bool reaped;
};

static struct fproc procs[MAX_PROCS];
static int nprocs;
static int current = -1; /* the process holding PID now, -1: none */
static bool open_fds[MAX_PROCS];
static int opens, verifies, reads;
/* Runs once, right after the next sku_procfs_read_stat: the race. */
static void (*race)(void);

static int spawn(uint64_t start_time, char state)
{
	assert_true(nprocs < MAX_PROCS);
	procs[nprocs] = (struct fproc){start_time, state, false};
	current = nprocs;
	return nprocs++;
}

/* The process holding PID dies and is reaped; the pid goes to a newcomer. */
static void recycle(void)
{
	procs[current].reaped = true;
	spawn(procs[current].start_time + 50, 'S');
}

/* Recycles after every read, for good: a pid that never holds still. */
static void recycle_forever(void)
{
	recycle();
	race = recycle_forever;
}

static void reap(void)
{
	procs[current].reaped = true;
	current = -1;
}

/* ---- the pidref.h calls ---- */

int sku_pidref_open(pid_t pid, int *ret_fd)
{
	opens++;
	if (pid != PID || current < 0)
		return -ESRCH;
	assert_false(open_fds[current]);
	open_fds[current] = true;
	*ret_fd = FD_BASE + current;
	return 0;
}

void sku_pidref_close(int fd)
{
	if (fd < 0)
		return;
	assert_true(open_fds[fd - FD_BASE]);
	open_fds[fd - FD_BASE] = false;
}

int sku_pidref_verify(int fd, pid_t pid, uid_t *ret_ruid)
{
	verifies++;
	assert_int_equal(pid, PID);
	assert_true(open_fds[fd - FD_BASE]);
	*ret_ruid = 1000;
	return procs[fd - FD_BASE].reaped ? -ESRCH : 0;
}

bool sku_pidref_exited(int fd)
{
	return fd < 0 || procs[fd - FD_BASE].state == 'Z';
}

int sku_pidref_inode(int fd, uint64_t *ret_ino)
{
	*ret_ino = 7000 + (uint64_t)(fd - FD_BASE);
	return 0;
}

/* ---- the procfs.h calls ---- */

int sku_procfs_read_stat(pid_t pid, struct sku_stat *ret)
{
	void (*fn)(void) = race;

	reads++;
	if (pid != PID || current < 0)
		return -ESRCH;
	*ret = (struct sku_stat){PID, procs[current].state, 1, procs[current].start_time};
	race = NULL;
	if (fn)
		fn();
	return 0;
}

int sku_procfs_read_ruid(pid_t pid, uid_t *ret_ruid)
{
	(void)pid;
	*ret_ruid = 1000;
	return 0;
}

int sku_procfs_read_tgid(pid_t pid, pid_t *ret_tgid, uid_t *ret_ruid)
{
	*ret_tgid = pid;
	*ret_ruid = 1000;
	return 0;
}

const char *sku_procfs_state_name(char state)
{
	return state == 'Z' ? "zombie" : state == 'R' ? "running" : "sleeping";
}

/* ---- what proc_status.c needs of the liveness cache: nothing kept here ---- */

const struct sku_livent *sku_livecache_get(struct sku_procmod *pm, pid_t pid)
{
	(void)pm;
	(void)pid;
	return NULL;
}

bool sku_livecache_room(const struct sku_procmod *pm)
{
	(void)pm;
	return false;
}

void sku_livecache_put(struct sku_procmod *pm, const struct sku_pinfo *pi, int ref)
{
	(void)pm;
	(void)pi;
	sku_pidref_close(ref);
}

/* ---- fixture ---- */

static struct sku_server srv;
static struct sku_procmod pm;

static int setup(void **state)
{
	(void)state;
	memset(procs, 0, sizeof(procs));
	memset(open_fds, 0, sizeof(open_fds));
	nprocs = 0;
	current = -1;
	opens = verifies = reads = 0;
	race = NULL;
	memset(&pm, 0, sizeof(pm));
	pm.srv = &srv;
	return sku_exitcache_init(&pm.cache, 16);
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < MAX_PROCS; i++)
		assert_false(open_fds[i]); /* every pidfd closed or handed to the caller */
	sku_exitcache_done(&pm.cache);
	return 0;
}

/* ---- tests ---- */

static int lookup(const struct sku_ident *id, struct sku_pinfo *pi, int *ref)
{
	return sku_proc_lookup(&pm, id, pi, ref);
}

/* A process started at 100 holds PID; look it up (as id) with race after the first read. */
static void lookup_racing(struct sku_ident id, void (*fn)(void), struct sku_pinfo *pi, int *ref)
{
	spawn(100, 'S');
	race = fn;
	assert_int_equal(lookup(&id, pi, ref), 0);
}

static void plain_process(void **state)
{
	struct sku_ident id = {PID, false, 0};
	struct sku_pinfo pi;
	int ref;

	int p = spawn(100, 'S');

	(void)state;
	assert_int_equal(lookup(&id, &pi, &ref), 0);
	assert_true(pi.alive);
	assert_string_equal(pi.state, "sleeping");
	assert_int_equal(pi.start_time, 100);
	assert_int_equal(ref, FD_BASE + p);
	assert_true(pi.has_uid && pi.uid == 1000);
	assert_true(pi.has_ino && pi.ino == 7000 + (uint64_t)p);
	sku_pidref_close(ref);
}

/*
 * The process dies and its pid goes to a newcomer between the pidfd and the /proc read: that
 * read is the newcomer's, the pidfd the original's. Verify catches it and the lookup starts
 * again: the answer is the newcomer, with the newcomer's pidfd, never the original's pidfd
 * with the newcomer's start time (a watch on it would report the original's exit as the
 * newcomer's).
 */
static void recycled_between_pidfd_and_read(void **state)
{
	struct sku_pinfo pi;
	int ref;

	(void)state;
	lookup_racing((struct sku_ident){PID, false, 0}, recycle, &pi, &ref);
	assert_int_equal(opens, 2);
	assert_int_equal(verifies, 2);
	assert_true(pi.alive);
	assert_int_equal(pi.start_time, 150);
	assert_int_equal(ref, FD_BASE + 1); /* the newcomer's */
	assert_false(open_fds[0]);          /* the original's was closed */
	sku_pidref_close(ref);
}

/* The same race, asked with the original's start time: it is gone and its pid reused. */
static void recycled_race_with_the_original_identity(void **state)
{
	struct sku_pinfo pi;
	int ref;

	(void)state;
	lookup_racing((struct sku_ident){PID, true, 100}, recycle, &pi, &ref);
	assert_false(pi.alive);
	assert_string_equal(pi.state, "reused");
	assert_int_equal(pi.start_time, 100);
	assert_int_equal(ref, -1);
}

/* Reaped between the read and the verify, with nobody taking the pid: gone, not alive. */
static void reaped_between_read_and_verify(void **state)
{
	struct sku_pinfo pi;
	int ref;

	(void)state;
	lookup_racing((struct sku_ident){PID, false, 0}, reap, &pi, &ref);
	assert_false(pi.alive);
	assert_string_equal(pi.state, "gone");
	assert_int_equal(ref, -1);
}

/* A pid recycled again at every attempt: the lookup gives up as gone, never loops. */
static void recycled_at_every_attempt(void **state)
{
	struct sku_pinfo pi;
	int ref;

	(void)state;
	lookup_racing((struct sku_ident){PID, false, 0}, recycle_forever, &pi, &ref);
	assert_string_equal(pi.state, "gone");
	assert_int_equal(ref, -1);
	assert_true(opens <= 3 && reads <= 3);
	race = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(plain_process, setup, teardown),
	        cmocka_unit_test_setup_teardown(recycled_between_pidfd_and_read, setup, teardown),
	        cmocka_unit_test_setup_teardown(recycled_race_with_the_original_identity, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(reaped_between_read_and_verify, setup, teardown),
	        cmocka_unit_test_setup_teardown(recycled_at_every_attempt, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
