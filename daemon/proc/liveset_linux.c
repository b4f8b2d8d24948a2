/*
 * liveset_linux.c - the liveset as an epoll set of pidfds.
 *
 * epoll keeps the readiness of every pidfd current as processes exit, so asking costs one
 * epoll_wait(…, 0) whatever the set's size, and finds only the members that did exit.
 * Level-triggered on purpose: a member stays reported until its owner closes it.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "liveset.h"

int sku_liveset_open(int *ret_fd)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);

	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

void sku_liveset_close(int set)
{
	if (set >= 0)
		close(set);
}

int sku_liveset_add(int set, int ref, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(set, EPOLL_CTL_ADD, ref, &ev) < 0 ? -errno : 0;
}

int sku_liveset_exited(int set, uint64_t *ret_tags, int n)
{
	struct epoll_event evs[64];
	int got;

	if (n > 64)
		n = 64;
	do
		got = epoll_wait(set, evs, n, 0);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -errno;
	for (int i = 0; i < got; i++)
		ret_tags[i] = evs[i].data.u64;
	return got;
}
