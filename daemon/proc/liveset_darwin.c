/*
 * liveset_darwin.c - no liveset on macOS: pidrefs there are not fds (pidref_darwin.c), so
 * the liveness cache stays off and every status is read afresh.
 */
#include <errno.h>

#include "liveset.h"

int sku_liveset_open(int *ret_fd)
{
	*ret_fd = -1;
	return -ENOTSUP;
}

void sku_liveset_close(int set)
{
	(void)set;
}

int sku_liveset_add(int set, int ref, uint64_t tag)
{
	(void)set;
	(void)ref;
	(void)tag;
	return -ENOTSUP;
}

int sku_liveset_exited(int set, uint64_t *ret_tags, int n)
{
	(void)set;
	(void)ret_tags;
	(void)n;
	return 0;
}
