/*
 * liveset.h - a kernel-kept set of pidrefs that reports, without blocking, which members have
 * exited (Linux: an epoll set of pidfds; see liveset_linux.c / liveset_darwin.c).
 *
 * The set is itself an fd that turns readable while a member has exited, so the event loop can
 * poll it. A member is removed by closing its pidref. The set never owns the pidrefs.
 */
#ifndef SKU_PROC_LIVESET_H
#define SKU_PROC_LIVESET_H

#include <stdint.h>

/* 0 and *ret_fd (owned by the caller; sku_liveset_close), -ENOTSUP where unsupported. */
int sku_liveset_open(int *ret_fd);
void sku_liveset_close(int set);
/* Add ref, reported later as tag. 0 or -errno. */
int sku_liveset_add(int set, int ref, uint64_t tag);
/*
 * Tags of up to n members that have exited (zombies included: a pidfd is readable once the
 * whole process has exited). Returns their number, 0 when none, or -errno.
 */
int sku_liveset_exited(int set, uint64_t *ret_tags, int n);

#endif
