/*
 * procfs_darwin.c - the platform readers of procfs.h on macOS.
 *
 * Identity and state come from sysctl kern.proc.pid (struct kinfo_proc), as ps(1) and
 * psutil read them, rather than from proc_pidinfo(PROC_PIDTBSDINFO): both copy the same
 * kernel fields (p_stat, p_ppid, p_start, the real uid), but XNU refuses PROC_PIDTBSDINFO
 * on another user's process to a caller that is not root (EPERM), and finds zombies only
 * when asked with a non-zero arg; the sysctl serves every process, zombies included.
 * Children come from libproc's proc_listchildpids(), which lists every user's processes.
 *
 * start_time is p_start in microseconds since the epoch. It is a wall-clock reading taken
 * at fork: a clock stepped back between a parent's fork and its child's makes the child
 * look older than its parent, and tree.c then takes it for a recycled pid.
 */
#include <errno.h>
#include <libproc.h>
#include <stdlib.h>
#include <sys/proc.h>
#include <sys/sysctl.h>
#include <sys/types.h>

#include "procfs.h"

#define USEC_PER_SEC 1000000u

/* macOS's pid_max is 99999; this only stops a list that keeps filling its buffer. */
#define PIDS_MAX (1u << 20)

/* libproc fills int arrays. */
_Static_assert(sizeof(pid_t) == sizeof(int), "libproc lists pids as int");

static int read_kinfo(pid_t pid, struct kinfo_proc *ret)
{
	int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)pid};
	size_t len = sizeof(*ret);

	if (pid <= 0)
		return -ESRCH;
	if (sysctl(mib, 4, ret, &len, NULL, 0) < 0)
		return -errno;
	/* For a pid no process holds the sysctl succeeds with nothing. */
	if (len == 0)
		return -ESRCH;
	if (len != sizeof(*ret) || ret->kp_proc.p_pid != pid)
		return -EBADMSG;
	return 0;
}

/* Linux's letter for a p_stat value, so that the state names stay in one place. */
static char state_letter(int stat)
{
	switch (stat) {
	case SRUN:
	case SIDL: /* being forked: about to run */
		return 'R';
	case SSTOP:
		return 'T';
	case SZOMB:
		return 'Z';
	default: /* SSLEEP */
		return 'S';
	}
}

int sku_procfs_init(void)
{
	return 0; /* sysctl needs nothing kept open */
}

void sku_procfs_done(void)
{
}

int sku_procfs_read_stat(pid_t pid, struct sku_stat *ret)
{
	struct kinfo_proc kp;
	long sec, usec;
	int r;

	r = read_kinfo(pid, &kp);
	if (r < 0)
		return r;
	sec = (long)kp.kp_proc.p_starttime.tv_sec;
	usec = (long)kp.kp_proc.p_starttime.tv_usec;
	if (sec < 0 || usec < 0 || usec >= (long)USEC_PER_SEC || kp.kp_eproc.e_ppid < 0)
		return -EBADMSG;
	ret->pid = pid;
	ret->state = state_letter(kp.kp_proc.p_stat);
	ret->ppid = kp.kp_eproc.e_ppid;
	ret->start_time = (uint64_t)sec * USEC_PER_SEC + (uint64_t)usec;
	return 0;
}

int sku_procfs_read_ruid(pid_t pid, uid_t *ret_ruid)
{
	struct kinfo_proc kp;
	int r;

	r = read_kinfo(pid, &kp);
	if (r < 0)
		return r;
	*ret_ruid = kp.kp_eproc.e_pcred.p_ruid;
	return 0;
}

int sku_procfs_read_tgid(pid_t pid, pid_t *ret_tgid, uid_t *ret_ruid)
{
	int r = sku_procfs_read_ruid(pid, ret_ruid);

	if (r < 0) {
		*ret_ruid = (uid_t)-1;
		return r;
	}
	*ret_tgid = pid;
	return 0;
}

int sku_procfs_read_clock(uint64_t *ret_base, long *ret_per_s)
{
	*ret_base = 0;
	*ret_per_s = USEC_PER_SEC;
	return 0;
}

typedef int (*lister_fn)(pid_t ppid, pid_t *buf, int bytes);

static int list_children(pid_t ppid, pid_t *buf, int bytes)
{
	return proc_listchildpids(ppid, buf, bytes);
}

static int list_all(pid_t ppid, pid_t *buf, int bytes)
{
	(void)ppid;
	return proc_listallpids(buf, bytes);
}

/*
 * Call fn for each pid list() returns. Both listers return a count of pids, and 0 with
 * errno set on failure. The kernel fills at most the buffer, so a full buffer may have cut
 * the list short: grow it and ask again.
 */
static int each(lister_fn list, pid_t ppid, int (*fn)(pid_t pid, void *ctx), void *ctx)
{
	size_t cap = 256;
	pid_t *pids = NULL;
	int n, r = 0;

	for (;;) {
		pid_t *np;

		if (cap > PIDS_MAX) {
			free(pids);
			return -E2BIG;
		}
		np = realloc(pids, cap * sizeof(*pids));
		if (!np) {
			free(pids);
			return -ENOMEM;
		}
		pids = np;
		errno = 0;
		n = list(ppid, pids, (int)(cap * sizeof(*pids)));
		if (n <= 0) {
			r = errno ? -errno : 0;
			n = 0;
			break;
		}
		if ((size_t)n < cap)
			break;
		cap *= 2;
	}
	for (int i = 0; i < n && r == 0; i++)
		if (pids[i] > 0) /* the list of all holds kernel_task, pid 0 */
			r = fn(pids[i], ctx);
	free(pids);
	return r;
}

int sku_procfs_each_child(pid_t ppid, int (*fn)(pid_t pid, void *ctx), void *ctx)
{
	/*
	 * The list also holds processes another process traces whose original parent is
	 * ppid: the caller's ppid check drops them. A gone ppid simply has no children.
	 */
	return each(list_children, ppid, fn, ctx);
}

int sku_procfs_each_pid(int (*fn)(pid_t pid, void *ctx), void *ctx)
{
	return each(list_all, 0, fn, ctx);
}
