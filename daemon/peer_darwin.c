/*
 * peer_darwin.c - peer credentials of a Unix socket: getpeereid() gives the effective
 * ids, LOCAL_PEERPID (macOS 10.8+) the pid.
 */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include "sku_daemon.h"

int sku_peer_get(int fd, struct sku_peer *ret)
{
	uid_t uid;
	gid_t gid;
	pid_t pid = 0;
	socklen_t len = sizeof(pid);

	if (getpeereid(fd, &uid, &gid) < 0)
		return -errno;
	/* The pid only serves "facts of the caller"; without it the caller must name one. */
	if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, &pid, &len) < 0 || len != sizeof(pid))
		pid = 0;
	ret->uid = uid;
	ret->gid = gid;
	ret->pid = pid;
	return 0;
}
