/*
 * pidref_linux.c - pidfd-based process references.
 *
 * Debian's kernel headers predate PIDFD_GET_INFO (6.13) and PIDFD_INFO_EXIT (6.15), so the
 * ioctl ABI is defined here. It is size-versioned: the kernel accepts any size ≥ VER0 (64)
 * and fills what it knows, so the VER0 layout keeps working on newer kernels.
 *
 * What the kernel can tell is learnt once, by sku_pidref_probe() at start-up, from a child
 * of our own whose exit code we know: answers about other processes cannot tell "this kernel
 * lacks the feature" from "this process is mid-reap" (PIDFD_GET_INFO answers ESRCH while a
 * task is being released, even on kernels that keep its exit code), so they never change
 * the verdict. ENOTTY/EINVAL mean no ioctl at all and we fall back to fdinfo.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pidref.h"
#include "procfs.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

struct sku_pidfd_info {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid;
	uint32_t tgid;
	uint32_t ppid;
	uint32_t ruid;
	uint32_t rgid;
	uint32_t euid;
	uint32_t egid;
	uint32_t suid;
	uint32_t sgid;
	uint32_t fsuid;
	uint32_t fsgid;
	int32_t exit_code;
};

_Static_assert(sizeof(struct sku_pidfd_info) == 64, "PIDFD_INFO_SIZE_VER0 is 64 bytes");

#define SKU_PIDFS_IOCTL_MAGIC 0xFF
#define SKU_PIDFD_GET_INFO    _IOWR(SKU_PIDFS_IOCTL_MAGIC, 11, struct sku_pidfd_info)
#define SKU_PIDFD_INFO_PID    (1ULL << 0)
#define SKU_PIDFD_INFO_CREDS  (1ULL << 1)
#define SKU_PIDFD_INFO_EXIT   (1ULL << 3)
#define SKU_PIDFS_MAGIC       0x50494446

/* The probe child's exit code: any value the kernel cannot have made up. */
#define PROBE_EXIT_CODE 42
/* How long the probe waits for the hang-up that follows its child's reap. */
#define PROBE_HUP_MS 1000

/* -1 unknown, 0 no, 1 yes: set by sku_pidref_probe(); info also from the first answer. */
static int info_supported = -1;
static int exit_supported = -1;
static int pidfs_supported = -1;

int sku_pidref_open(pid_t pid, int *ret_fd)
{
	long fd;

	if (pid <= 0)
		return -ESRCH;
	fd = syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0) {
		/* EINVAL: pid is a thread but not a thread-group leader, i.e. not a process. */
		if (errno == EINVAL || errno == ENOENT)
			return -ESRCH;
		/* Linux before 5.3, or a seccomp profile refusing it (EPERM is not otherwise
		 * among pidfd_open's errors): no pidfds here at all. */
		if (errno == ENOSYS || errno == EPERM)
			return -ENOSYS;
		return -errno;
	}
	/* pidfd_open always sets O_CLOEXEC. */
	*ret_fd = (int)fd;
	return 0;
}

void sku_pidref_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

static int get_info(int fd, uint64_t mask, struct sku_pidfd_info *info)
{
	*info = (struct sku_pidfd_info){.mask = mask};
	if (info_supported == 0)
		return -EOPNOTSUPP;
	if (ioctl(fd, SKU_PIDFD_GET_INFO, info) < 0) {
		if (errno == ENOTTY || errno == EINVAL) {
			info_supported = 0;
			return -EOPNOTSUPP;
		}
		return -errno;
	}
	info_supported = 1;
	return 0;
}

static int verify_fdinfo(int fd, pid_t pid, uid_t *ret_ruid)
{
	char path[64], buf[1024];
	int64_t got;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	r = sku_procfs_read_file(path, buf, sizeof(buf), &len);
	if (r < 0)
		return r == -ESRCH ? -EBADF : r;
	r = sku_procfs_parse_fdinfo_pid(buf, len, &got);
	if (r < 0)
		return r;
	if (got == -1)
		return -ESRCH;
	if (got == 0)
		return -EXDEV;
	if (got != pid)
		return -ESRCH;
	if (ret_ruid && sku_procfs_read_ruid(pid, ret_ruid) < 0)
		*ret_ruid = (uid_t)-1;
	return 0;
}

int sku_pidref_verify(int fd, pid_t pid, uid_t *ret_ruid)
{
	struct sku_pidfd_info info;
	int r;

	if (ret_ruid)
		*ret_ruid = (uid_t)-1;
	r = get_info(fd, SKU_PIDFD_INFO_PID | SKU_PIDFD_INFO_CREDS, &info);
	if (r == -EOPNOTSUPP)
		return verify_fdinfo(fd, pid, ret_ruid);
	if (r < 0)
		return r;
	if (info.pid == 0)
		return -EXDEV;
	if ((pid_t)info.tgid != pid && (pid_t)info.pid != pid)
		return -ESRCH;
	if (ret_ruid && (info.mask & SKU_PIDFD_INFO_CREDS))
		*ret_ruid = (uid_t)info.ruid;
	return 0;
}

int sku_pidref_exit_status(int fd, int *ret_wstatus)
{
	struct sku_pidfd_info info;
	int r;

	if (exit_supported == 0)
		return -EOPNOTSUPP;
	r = get_info(fd, SKU_PIDFD_INFO_EXIT, &info);
	if (r == -EOPNOTSUPP)
		return r;
	/*
	 * ESRCH: the task is being released right now (its pid is already unhashed but the
	 * task not yet gone). The reap is about to complete and the pidfd's hang-up follows,
	 * after which the status can be read: "not yet", like a zombie.
	 */
	if (r == -ESRCH)
		return -EAGAIN;
	if (r < 0)
		return r;
	if (!(info.mask & SKU_PIDFD_INFO_EXIT))
		return -EAGAIN;
	*ret_wstatus = info.exit_code;
	return 0;
}

/* Wait (bounded) for fd's hang-up: the process has been released, its exit info final. */
static void wait_hangup(int fd)
{
	struct pollfd p = {.fd = fd, .events = 0};

	while (poll(&p, 1, PROBE_HUP_MS) < 0 && errno == EINTR)
		;
}

bool sku_pidref_exited(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;

	if (fd < 0)
		return true;
	while ((r = poll(&p, 1, 0)) < 0 && errno == EINTR)
		;
	return r != 0;
}

int sku_pidref_probe(void)
{
	struct sku_pidfd_info info;
	int fd, r, wstatus = -1;
	pid_t pid, w;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(PROBE_EXIT_CODE);
	/* Our own child keeps its pid until we reap it, so the pidfd is of the right process. */
	r = sku_pidref_open(pid, &fd);
	do
		w = waitpid(pid, &wstatus, 0);
	while (w < 0 && errno == EINTR);
	if (r < 0) {
		/* No pidfds at all (before Linux 5.3): nothing to ask. */
		if (r == -ENOSYS) {
			info_supported = 0;
			exit_supported = 0;
		}
		return r;
	}
	/* With SIGCHLD ignored the kernel reaps by itself and waitpid() reports ECHILD. */
	if (w < 0)
		wstatus = -1;
	wait_hangup(fd);
	info = (struct sku_pidfd_info){.mask = SKU_PIDFD_INFO_EXIT};
	r = ioctl(fd, SKU_PIDFD_GET_INFO, &info) < 0 ? -errno : 0;
	sku_pidref_close(fd);
	if (r == -ENOTTY || r == -EINVAL) {
		info_supported = 0;
		exit_supported = 0;
		return 0;
	}
	if (r == -ESRCH) {
		/* 6.13/6.14 know the ioctl but keep nothing once the process is released. */
		info_supported = 1;
		exit_supported = 0;
		return 0;
	}
	if (r < 0)
		return r;
	info_supported = 1;
	exit_supported = (info.mask & SKU_PIDFD_INFO_EXIT) && WIFEXITED(info.exit_code) &&
	                 WEXITSTATUS(info.exit_code) == PROBE_EXIT_CODE &&
	                 (wstatus == -1 || wstatus == info.exit_code);
	return 0;
}

int sku_pidref_send_signal(int fd, int sig)
{
	if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0)
		return -errno;
	return 0;
}

int sku_pidref_inode(int fd, uint64_t *ret_ino)
{
	struct stat st;

	if (pidfs_supported < 0) {
		struct statfs sfs;

		pidfs_supported = fstatfs(fd, &sfs) == 0 && sfs.f_type == SKU_PIDFS_MAGIC;
	}
	if (!pidfs_supported)
		return -EOPNOTSUPP;
	if (fstat(fd, &st) < 0)
		return -errno;
	*ret_ino = (uint64_t)st.st_ino;
	return 0;
}

bool sku_pidref_exit_supported(void)
{
	return exit_supported != 0;
}
