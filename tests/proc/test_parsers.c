/*
 * test_parsers.c - the proc module's pure parsers: /proc/<pid>/stat (hostile comm names),
 * status, /proc/stat btime, fdinfo, pid lists, and the signal-name table.
 */
/* cmocka.h needs these first, and include sorting would move it above them. */
/* clang-format off */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
/* clang-format on */

#include "procfs.h"
#include "signame.h"

/* A real stat line (kernel 6.x) with comm replaced by the caller's. */
static int parse_with_comm(const char *comm, struct sku_stat *st)
{
	char line[1024];
	int n = snprintf(line, sizeof(line),
	                 "4242 (%s) S 17 4242 4242 0 -1 4194560 1000 0 0 0 5 3 0 0 20 0 1 0 "
	                 "987654321 10000000 500 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 "
	                 "17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
	                 comm);

	return sku_procfs_parse_stat(line, (size_t)n, st);
}

static void stat_plain(void **state)
{
	struct sku_stat st;

	(void)state;
	assert_int_equal(parse_with_comm("sleep", &st), 0);
	assert_int_equal(st.pid, 4242);
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 17);
	assert_int_equal(st.start_time, 987654321ULL);
}

static void stat_hostile_comm(void **state)
{
	/* What a process can name itself (prctl PR_SET_NAME, 15 bytes) to confuse parsers. */
	static const char *const comms[] = {
	        "a b c", "x) R 1 2 (y",   ")", "((", ") Z 99 ", "evil) T 1 1 1", "",
	        "  ",    "9 9 9 9 9 9 9",
	};
	struct sku_stat st;

	(void)state;
	for (size_t i = 0; i < sizeof(comms) / sizeof(comms[0]); i++) {
		assert_int_equal(parse_with_comm(comms[i], &st), 0);
		assert_int_equal(st.state, 'S');
		assert_int_equal(st.ppid, 17);
		assert_int_equal(st.start_time, 987654321ULL);
	}
}

static void stat_malformed(void **state)
{
	static const char *const bad[] = {
	        "",
	        "4242",
	        "4242 (x",
	        "4242 (x)",
	        "4242 (x) S",
	        "4242 (x) S 1 2 3",
	        "x (y) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
	        "4242 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5x 1",
	        "4242 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99999999999999999999999 1",
	        "0 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 1",
	        "4242 x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 1",
	};
	struct sku_stat st;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sku_procfs_parse_stat(bad[i], strlen(bad[i]), &st), -EBADMSG);
}

static void stat_bounded(void **state)
{
	/* The length is honoured: a valid line cut before field 22 is rejected. */
	const char *line = "7 (x) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 1";
	struct sku_stat st;

	(void)state;
	assert_int_equal(sku_procfs_parse_stat(line, strlen(line), &st), 0);
	assert_int_equal(st.start_time, 12345);
	assert_int_equal(sku_procfs_parse_stat(line, strlen(line) - 8, &st), -EBADMSG);
}

static void stat_self(void **state)
{
	struct sku_stat st;

	(void)state;
	assert_int_equal(sku_procfs_read_stat(getpid(), &st), 0);
	assert_int_equal(st.pid, getpid());
	assert_int_equal(st.ppid, getppid());
	assert_int_equal(st.state, 'R');
	assert_true(st.start_time > 0);
	assert_int_equal(sku_procfs_read_stat(0x7ffffff0, &st), -ESRCH);
}

/* With /proc kept open the readers answer the same, by pid relative to it. */
static void stat_self_kept_open(void **state)
{
	struct sku_stat by_path, kept;
	uid_t uid;

	(void)state;
	assert_int_equal(sku_procfs_read_stat(getpid(), &by_path), 0);
	assert_int_equal(sku_procfs_init(), 0);
	assert_int_equal(sku_procfs_read_stat(getpid(), &kept), 0);
	assert_int_equal(kept.pid, getpid());
	assert_int_equal(kept.ppid, by_path.ppid);
	assert_true(kept.start_time == by_path.start_time);
	assert_int_equal(sku_procfs_read_stat(1, &kept), 0);
	assert_int_equal(kept.pid, 1);
	assert_int_equal(sku_procfs_read_stat(0x7ffffff0, &kept), -ESRCH);
	assert_int_equal(sku_procfs_read_stat(0, &kept), -ESRCH);
	assert_int_equal(sku_procfs_read_ruid(getpid(), &uid), 0);
	assert_int_equal(uid, getuid());
	assert_int_equal(sku_procfs_read_ruid(0x7ffffff0, &uid), -ESRCH);
	sku_procfs_done();
}

static void status_uid(void **state)
{
	const char ok[] = "Name:\tx\nState:\tS (sleeping)\nUid:\t1000\t0\t0\t0\nGid:\t5\t5\t5\t5\n";
	const char none[] = "Name:\tx\nGid:\t5\t5\t5\t5\n";
	uid_t uid;

	(void)state;
	assert_int_equal(sku_procfs_parse_status_ruid(ok, strlen(ok), &uid), 0);
	assert_int_equal(uid, 1000);
	assert_int_equal(sku_procfs_parse_status_ruid(none, strlen(none), &uid), -EBADMSG);
	assert_int_equal(sku_procfs_read_ruid(getpid(), &uid), 0);
	assert_int_equal(uid, getuid());
}

static void status_tgid(void **state)
{
	const char ok[] = "Name:\tx\nTgid:\t4242\nPid:\t4250\nUid:\t7\t0\t0\t0\n";
	const char zero[] = "Tgid:\t0\n";
	const char junk[] = "Tgid:\t12x\n";
	const char huge[] = "Tgid:\t99999999999\n";
	const char none[] = "Name:\tx\nPid:\t5\n";
	pid_t tgid;
	uid_t uid;

	(void)state;
	assert_int_equal(sku_procfs_parse_status_tgid(ok, strlen(ok), &tgid), 0);
	assert_int_equal(tgid, 4242);
	assert_int_equal(sku_procfs_parse_status_tgid(zero, strlen(zero), &tgid), -EBADMSG);
	assert_int_equal(sku_procfs_parse_status_tgid(junk, strlen(junk), &tgid), -EBADMSG);
	assert_int_equal(sku_procfs_parse_status_tgid(huge, strlen(huge), &tgid), -EBADMSG);
	assert_int_equal(sku_procfs_parse_status_tgid(none, strlen(none), &tgid), -EBADMSG);
	/* This process leads its thread group; a pid that does not exist is -ESRCH. */
	assert_int_equal(sku_procfs_read_tgid(getpid(), &tgid, &uid), 0);
	assert_int_equal(tgid, getpid());
	assert_int_equal(uid, getuid());
	assert_int_equal(sku_procfs_read_tgid(0x7ffffff0, &tgid, &uid), -ESRCH);
	assert_int_equal(uid, (uid_t)-1);
}

static void btime(void **state)
{
	const char s[] = "cpu  1 2 3\nintr 5 6 7\nctxt 99\nbtime 1700000000\nprocesses 5\n";
	const char s2[] = "btime_x 5\nxbtime 7\n";
	uint64_t bt;

	(void)state;
	assert_int_equal(sku_procfs_parse_btime(s, strlen(s), &bt), 0);
	assert_int_equal(bt, 1700000000ULL);
	assert_int_equal(sku_procfs_parse_btime(s2, strlen(s2), &bt), -EBADMSG);
	assert_int_equal(sku_procfs_read_btime(&bt), 0);
	assert_true(bt > 1000000000ULL);
}

static void fdinfo_pid(void **state)
{
	const char a[] =
	        "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nPid:\t321\nNSpid:\t321\n";
	const char reaped[] = "pos:\t0\nPid:\t-1\n";
	const char other[] = "Pid:\t0\n";
	const char bad[] = "Pid:\t-7\n";
	int64_t pid;

	(void)state;
	assert_int_equal(sku_procfs_parse_fdinfo_pid(a, strlen(a), &pid), 0);
	assert_int_equal(pid, 321);
	assert_int_equal(sku_procfs_parse_fdinfo_pid(reaped, strlen(reaped), &pid), 0);
	assert_int_equal(pid, -1);
	assert_int_equal(sku_procfs_parse_fdinfo_pid(other, strlen(other), &pid), 0);
	assert_int_equal(pid, 0);
	assert_int_equal(sku_procfs_parse_fdinfo_pid(bad, strlen(bad), &pid), -EBADMSG);
}

static int collect(pid_t pid, void *ctx)
{
	pid_t *out = ctx;

	for (int i = 0; i < 4; i++) {
		if (!out[i]) {
			out[i] = pid;
			return 0;
		}
	}
	return -E2BIG;
}

static void pidlist(void **state)
{
	const char ok[] = "12 345 6789 ";
	const char bad[] = "12 3x4";
	const char zero[] = "0";
	const char many[] = "1 2 3 4 5";
	pid_t out[4] = {0};

	(void)state;
	assert_int_equal(sku_procfs_parse_pidlist(ok, strlen(ok), collect, out), 0);
	assert_int_equal(out[0], 12);
	assert_int_equal(out[1], 345);
	assert_int_equal(out[2], 6789);
	assert_int_equal(out[3], 0);
	memset(out, 0, sizeof(out));
	assert_int_equal(sku_procfs_parse_pidlist(bad, strlen(bad), collect, out), -EBADMSG);
	assert_int_equal(sku_procfs_parse_pidlist(zero, strlen(zero), collect, out), -EBADMSG);
	memset(out, 0, sizeof(out));
	assert_int_equal(sku_procfs_parse_pidlist(many, strlen(many), collect, out), -E2BIG);
	assert_int_equal(sku_procfs_parse_pidlist("", 0, collect, out), 0);
}

static void state_names(void **state)
{
	(void)state;
	assert_string_equal(sku_procfs_state_name('R'), "running");
	assert_string_equal(sku_procfs_state_name('S'), "sleeping");
	assert_string_equal(sku_procfs_state_name('D'), "sleeping");
	assert_string_equal(sku_procfs_state_name('I'), "sleeping");
	assert_string_equal(sku_procfs_state_name('T'), "stopped");
	assert_string_equal(sku_procfs_state_name('t'), "stopped");
	assert_string_equal(sku_procfs_state_name('Z'), "zombie");
}

static int name(const char *s)
{
	return sku_signal_from_name(s, strlen(s));
}

static void signal_names(void **state)
{
	(void)state;
	assert_int_equal(name("TERM"), SIGTERM);
	assert_int_equal(name("SIGTERM"), SIGTERM);
	assert_int_equal(name("sigterm"), SIGTERM);
	assert_int_equal(name("KILL"), SIGKILL);
	assert_int_equal(name("INT"), SIGINT);
	assert_int_equal(name("HUP"), SIGHUP);
	assert_int_equal(name("USR1"), SIGUSR1);
	assert_int_equal(name("USR2"), SIGUSR2);
	assert_int_equal(name("STOP"), SIGSTOP);
	assert_int_equal(name("CONT"), SIGCONT);
	assert_int_equal(name("RTMIN"), SIGRTMIN);
	assert_int_equal(name("RTMIN+3"), SIGRTMIN + 3);
	assert_int_equal(name("SIGRTMAX-1"), SIGRTMAX - 1);
	assert_int_equal(name("RTMAX"), SIGRTMAX);
	assert_int_equal(name(""), -EINVAL);
	assert_int_equal(name("SIG"), -EINVAL);
	assert_int_equal(name("TERMX"), -EINVAL);
	assert_int_equal(name("SIGSIGTERM"), -EINVAL);
	assert_int_equal(name("RTMIN+99"), -EINVAL);
	assert_int_equal(name("RTMIN-1"), -EINVAL);
	assert_int_equal(name("RTMIN+"), -EINVAL);
	assert_int_equal(name("15"), -EINVAL);
	/* Length-delimited: trailing bytes beyond len are not part of the name. */
	assert_int_equal(sku_signal_from_name("KILLER", 4), SIGKILL);
}

static void signal_ints(void **state)
{
	(void)state;
	assert_int_equal(sku_signal_max(), 64);
	assert_int_equal(sku_signal_from_int(1), 1);
	assert_int_equal(sku_signal_from_int(9), 9);
	assert_int_equal(sku_signal_from_int(64), 64);
	assert_int_equal(sku_signal_from_int(0), -EINVAL);
	assert_int_equal(sku_signal_from_int(65), -EINVAL);
	assert_int_equal(sku_signal_from_int(-9), -EINVAL);
	assert_int_equal(sku_signal_from_int(1LL << 40), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(stat_plain),     cmocka_unit_test(stat_hostile_comm),
	        cmocka_unit_test(stat_malformed), cmocka_unit_test(stat_bounded),
	        cmocka_unit_test(stat_self),      cmocka_unit_test(stat_self_kept_open),
	        cmocka_unit_test(status_uid),     cmocka_unit_test(status_tgid),
	        cmocka_unit_test(btime),          cmocka_unit_test(fdinfo_pid),
	        cmocka_unit_test(pidlist),        cmocka_unit_test(state_names),
	        cmocka_unit_test(signal_names),   cmocka_unit_test(signal_ints),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
