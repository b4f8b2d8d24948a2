/*
 * fuzz_procfs.c - the /proc parsers of the proc module (stat, status, /proc/stat, fdinfo,
 * children lists) and signal names, each on the same bytes in a buffer of exactly their size
 * (the parsers take a length and must not need a NUL).
 */
#include "config.h"

#include <errno.h>

#include "fuzz.h"
#include "procfs.h"
#include "signame.h"

static int count_pid(pid_t pid, void *ctx)
{
	unsigned *n = ctx;

	fuzz_check(pid > 0);
	/* Stop early sometimes, to reach the early-return path. */
	return ++*n == 1000 ? 7 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size, 0);
	struct sku_stat st;
	uid_t uid;
	pid_t tgid;
	uint64_t btime;
	int64_t fdpid;
	unsigned n = 0;
	int r;

	r = sku_procfs_parse_stat(buf, size, &st);
	fuzz_check(r == 0 || r == -EBADMSG);
	if (r == 0) {
		fuzz_check(st.pid > 0 && st.ppid >= 0);
		fuzz_check(sku_procfs_state_name(st.state) != NULL);
	}
	r = sku_procfs_parse_status_ruid(buf, size, &uid);
	fuzz_check(r == 0 || r == -EBADMSG);
	r = sku_procfs_parse_status_tgid(buf, size, &tgid);
	fuzz_check(r == 0 || r == -EBADMSG);
	if (r == 0)
		fuzz_check(tgid > 0);
	r = sku_procfs_parse_btime(buf, size, &btime);
	fuzz_check(r == 0 || r == -EBADMSG);
	r = sku_procfs_parse_fdinfo_pid(buf, size, &fdpid);
	fuzz_check(r == 0 || r == -EBADMSG);
	if (r == 0)
		fuzz_check(fdpid >= -1);
	r = sku_procfs_parse_pidlist(buf, size, count_pid, &n);
	fuzz_check(r == 0 || r == -EBADMSG || r == 7);

	r = sku_signal_from_name(buf, size);
	fuzz_check(r == -EINVAL || (r > 0 && r <= sku_signal_max()));
	free(buf);
	return 0;
}
