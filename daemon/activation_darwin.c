/*
 * activation_darwin.c - launchd socket activation: the agent's plist declares a socket
 * named "sock" (packaging/launchd/), launch_activate_socket() hands over its fds.
 */
#include "config.h"

#include <errno.h>
#include <launch.h>
#include <stdlib.h>
#include <unistd.h>

#include "sku_daemon.h"

#define LAUNCHD_SOCKET_NAME "sock"

int sku_activation_platform(int *ret_fd)
{
	int *fds = NULL;
	size_t n = 0;
	int r;

	*ret_fd = -1;
	r = launch_activate_socket(LAUNCHD_SOCKET_NAME, &fds, &n);
	/* ENOENT: no such socket in the plist; ESRCH: not started by launchd. */
	if (r == ENOENT || r == ESRCH)
		return 0;
	if (r != 0)
		return -r;
	if (n == 0) {
		free(fds);
		return 0;
	}
	/* One Unix listening socket is declared; any extra would be a plist mistake. */
	for (size_t i = 1; i < n; i++)
		(void)close(fds[i]);
	*ret_fd = fds[0];
	free(fds);
	return 0;
}
