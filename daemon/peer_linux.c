/*
 * peer_linux.c - peer credentials of a Unix socket: SO_PEERCRED (as of connect time).
 */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>

#include "sku_daemon.h"

int sku_peer_get(int fd, struct sku_peer *ret)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (len != sizeof(cred))
		return -EPROTO;
	ret->uid = cred.uid;
	ret->gid = cred.gid;
	ret->pid = cred.pid;
	return 0;
}
