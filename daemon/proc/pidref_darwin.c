/*
 * pidref_darwin.c - process references on macOS/BSD, which have no pidfds.
 *
 * The reference is the pid itself (closing is a no-op); what pins the process instead is
 * the EVFILT_PROC knote watch_darwin.c registers, whose NOTE_EXIT cannot be missed, and
 * the start-time comparison the caller makes after the /proc-equivalent read.
 */
#include <errno.h>
#include <signal.h>

#include "pidref.h"

int sku_pidref_open(pid_t pid, int *ret_fd)
{
	if (pid <= 0)
		return -ESRCH;
	if (kill(pid, 0) < 0 && errno != EPERM)
		return -errno;
	*ret_fd = (int)pid;
	return 0;
}

void sku_pidref_close(int fd)
{
	(void)fd;
}

int sku_pidref_verify(int fd, pid_t pid, uid_t *ret_ruid)
{
	if (ret_ruid)
		*ret_ruid = (uid_t)-1;
	if (fd != (int)pid)
		return -ESRCH;
	if (kill(pid, 0) < 0 && errno != EPERM)
		return -ESRCH;
	return 0;
}

int sku_pidref_exit_status(int fd, int *ret_wstatus)
{
	(void)fd;
	(void)ret_wstatus;
	return -EOPNOTSUPP; /* the status arrives with NOTE_EXIT instead */
}

int sku_pidref_send_signal(int fd, int sig)
{
	return kill((pid_t)fd, sig) < 0 ? -errno : 0;
}

int sku_pidref_inode(int fd, uint64_t *ret_ino)
{
	(void)fd;
	(void)ret_ino;
	return -EOPNOTSUPP;
}

bool sku_pidref_exited(int fd)
{
	(void)fd;
	return true; /* sysctl reports the whole process: its zombie state is the process's */
}

int sku_pidref_probe(void)
{
	return 0; /* NOTE_EXIT always carries the status: nothing to learn */
}

bool sku_pidref_exit_supported(void)
{
	return true;
}
