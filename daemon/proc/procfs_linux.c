/*
 * procfs_linux.c - the platform readers of procfs.h on Linux: /proc.
 *
 * Children come from /proc/<pid>/task/<tid>/children (every thread's list: a child belongs
 * to the thread that forked it); kernels built without CONFIG_PROC_CHILDREN lack those
 * files, and the caller falls back to one scan of /proc.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "procfs.h"

#define CHILDREN_MAX_BYTES (8u << 20)

/* /proc, opened by sku_procfs_init(); -1 when not open (paths are then absolute). */
static int proc_dirfd = -1;

int sku_procfs_init(void)
{
	if (proc_dirfd >= 0)
		return 0;
	proc_dirfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return proc_dirfd < 0 ? -errno : 0;
}

void sku_procfs_done(void)
{
	if (proc_dirfd >= 0)
		close(proc_dirfd);
	proc_dirfd = -1;
}

/* "<pid>/<name>" into buf (relative to /proc); snprintf costs more than the lookup saves. */
static void pid_path(char *buf, pid_t pid, const char *name)
{
	char digits[16];
	size_t n = 0;
	unsigned v = (unsigned)pid;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < sizeof(digits));
	while (n)
		*buf++ = digits[--n];
	*buf++ = '/';
	while (*name)
		*buf++ = *name++;
	*buf = '\0';
}

static int open_pid_file(pid_t pid, const char *name)
{
	char path[64];
	int fd;

	if (proc_dirfd >= 0) {
		pid_path(path, pid, name);
		fd = openat(proc_dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	} else {
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	}
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	return fd;
}

int sku_procfs_read_file(const char *path, char *buf, size_t buflen, size_t *ret_len)
{
	size_t n = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	while (n < buflen) {
		ssize_t r = read(fd, buf + n, buflen - n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			close(fd);
			/* A process that dies between open and read gives ESRCH already. */
			return (int)r;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*ret_len = n;
	return 0;
}

int sku_procfs_read_stat(pid_t pid, struct sku_stat *ret)
{
	char buf[SKU_STAT_MAX];
	ssize_t len;
	int fd, r;

	if (pid <= 0)
		return -ESRCH;
	fd = open_pid_file(pid, "stat");
	if (fd < 0)
		return fd;
	/*
	 * One read() is the whole line, generated at once from one task: an atomic snapshot,
	 * so no second read() for the end of file. A line that fills the buffer (it never
	 * does: the real one is under 1 KiB) would be cut short and is refused.
	 */
	do
		len = read(fd, buf, sizeof(buf));
	while (len < 0 && errno == EINTR);
	r = len < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return r; /* ESRCH when it died between the open and the read */
	if (len == 0)
		return -ESRCH;
	if ((size_t)len == sizeof(buf))
		return -EBADMSG;
	r = sku_procfs_parse_stat(buf, (size_t)len, ret);
	if (r < 0)
		return r;
	return ret->pid == pid ? 0 : -EBADMSG;
}

/* The head of /proc/<pid>/status into buf (SKU_STAT_MAX bytes); 0, -ESRCH or -errno. */
static int read_status(pid_t pid, char *buf, size_t *ret_len)
{
	size_t len = 0;
	int fd;

	if (pid <= 0)
		return -ESRCH;
	fd = open_pid_file(pid, "status");
	if (fd < 0)
		return fd;
	/* "Tgid:" and "Uid:" are near the top: the first SKU_STAT_MAX bytes hold them. */
	while (len < SKU_STAT_MAX) {
		ssize_t got = read(fd, buf + len, SKU_STAT_MAX - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	*ret_len = len;
	return len ? 0 : -ESRCH;
}

int sku_procfs_read_ruid(pid_t pid, uid_t *ret_ruid)
{
	char buf[SKU_STAT_MAX];
	size_t len;
	int r = read_status(pid, buf, &len);

	return r < 0 ? r : sku_procfs_parse_status_ruid(buf, len, ret_ruid);
}

int sku_procfs_read_tgid(pid_t pid, pid_t *ret_tgid, uid_t *ret_ruid)
{
	char buf[SKU_STAT_MAX];
	size_t len;
	int r = read_status(pid, buf, &len);

	*ret_ruid = (uid_t)-1;
	if (r < 0)
		return r;
	if (sku_procfs_parse_status_ruid(buf, len, ret_ruid) < 0)
		*ret_ruid = (uid_t)-1;
	return sku_procfs_parse_status_tgid(buf, len, ret_tgid);
}

int sku_procfs_read_btime(uint64_t *ret_btime)
{
	/* The "intr" line before btime can be very long on big machines: read line by line. */
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int r = -EBADMSG;

	f = fopen("/proc/stat", "re");
	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (sku_procfs_parse_btime(line, (size_t)n, ret_btime) == 0) {
			r = 0;
			break;
		}
	}
	free(line);
	fclose(f);
	return r;
}

int sku_procfs_read_clock(uint64_t *ret_base, long *ret_per_s)
{
	long tck = sysconf(_SC_CLK_TCK);

	*ret_per_s = tck > 0 ? tck : 100;
	return sku_procfs_read_btime(ret_base);
}

/* Read a whole /proc file of unknown size into a malloc'd buffer (caller frees). */
static int read_all(const char *path, char **ret, size_t *ret_len)
{
	size_t cap = 4096, n = 0;
	char *buf = NULL;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t got;

		if (n == cap || !buf) {
			char *nb;

			if (buf)
				cap *= 2;
			if (cap > CHILDREN_MAX_BYTES) {
				r = -EFBIG;
				break;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				r = -ENOMEM;
				break;
			}
			buf = nb;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = n;
	return 0;
}

int sku_procfs_each_child(pid_t ppid, int (*fn)(pid_t pid, void *ctx), void *ctx)
{
	char path[64];
	struct dirent *de;
	bool any = false;
	DIR *d;
	int r = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)ppid);
	d = opendir(path);
	if (!d)
		return 0; /* gone: its children were reparented, none are left to find */
	while ((de = readdir(d))) {
		char cpath[320];
		size_t len = 0;
		char *buf = NULL;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", (int)ppid, de->d_name);
		r = read_all(cpath, &buf, &len);
		if (r == -ENOENT) {
			r = any ? 0 : -ENOTSUP;
			if (r < 0)
				break;
			continue; /* the thread just exited */
		}
		if (r < 0)
			break;
		any = true;
		r = sku_procfs_parse_pidlist(buf, len, fn, ctx);
		free(buf);
		if (r)
			break;
	}
	closedir(d);
	return r;
}

int sku_procfs_each_pid(int (*fn)(pid_t pid, void *ctx), void *ctx)
{
	struct dirent *de;
	DIR *d;
	int r = 0;

	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		long pid;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid > INT_MAX)
			continue;
		r = fn((pid_t)pid, ctx);
		if (r)
			break;
	}
	closedir(d);
	return r;
}
