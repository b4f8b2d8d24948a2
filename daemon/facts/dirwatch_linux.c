/*
 * dirwatch_linux.c - directory change notification with inotify. A write to a cgroup file
 * raises IN_MODIFY in its directory, so watching the directories of a walk sees limit writes
 * and processes moving in (cgroup.procs), without one watch per file.
 */
#include <errno.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "facts.h"

/* not IN_CREATE: every new child cgroup would wake us, and a limit file never appears later */
#define WATCH_MASK (IN_MODIFY | IN_MOVED_TO | IN_ONLYDIR)

int sku_dirwatch_open(void)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int sku_dirwatch_add(int fd, const char *dir)
{
	/* the same directory twice gives the same descriptor: callers count references */
	int wd = inotify_add_watch(fd, dir, WATCH_MASK);

	return wd < 0 ? -errno : wd;
}

void sku_dirwatch_rm(int fd, int wd)
{
	/* EINVAL when the kernel already dropped it (the cgroup was removed): nothing to do */
	(void)inotify_rm_watch(fd, wd);
}

int sku_dirwatch_drain(int fd, void (*fn)(void *ctx, int wd), void *ctx)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN ? 0 : errno == EINTR ? 0 : -errno;
		if (n == 0)
			return 0;
		for (char *p = buf; p + sizeof(struct inotify_event) <= buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

			fn(ctx, ev->mask & IN_Q_OVERFLOW ? -1 : ev->wd);
			p += sizeof(*ev) + ev->len;
		}
	}
}
