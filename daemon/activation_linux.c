/*
 * activation_linux.c - Linux has no platform activation beyond systemd's LISTEN_FDS,
 * which activation.c implements for every platform.
 */
#include "config.h"

#include "sku_daemon.h"

int sku_activation_platform(int *ret_fd)
{
	*ret_fd = -1;
	return 0;
}
