/*
 * exitcache.c - a bounded memory of recent exits, so that a client that reconnects can still
 * learn how a process it watched ended. A fixed ring evicts the oldest entry; a hash by pid
 * finds entries without scanning.
 */
#include <errno.h>
#include <stdlib.h>

#include "proc_int.h"

int sku_exitcache_init(struct sku_exitcache *c, size_t cap)
{
	int r;

	*c = (struct sku_exitcache){0};
	if (cap == 0)
		return -EINVAL;
	c->ring = calloc(cap, sizeof(*c->ring));
	if (!c->ring)
		return -ENOMEM;
	r = sku_htab_init(&c->by_pid, cap);
	if (r < 0) {
		free(c->ring);
		c->ring = NULL;
		return r;
	}
	c->cap = cap;
	return 0;
}

void sku_exitcache_done(struct sku_exitcache *c)
{
	sku_htab_done(&c->by_pid);
	free(c->ring);
	c->ring = NULL;
	c->cap = 0;
}

void sku_exitcache_put(struct sku_exitcache *c, const struct sku_exit *ex)
{
	struct sku_exitent *e;

	if (!c->cap)
		return;
	e = &c->ring[c->next];
	c->next = (c->next + 1) % c->cap;
	if (e->seq)
		sku_htab_remove(&c->by_pid, &e->node);
	e->ex = *ex;
	e->seq = ++c->seq;
	sku_htab_insert(&c->by_pid, &e->node, (uint64_t)ex->pid);
}

const struct sku_exit *sku_exitcache_get(const struct sku_exitcache *c, const struct sku_ident *id)
{
	const struct sku_exitent *best = NULL;

	for (struct sku_hnode *n = sku_htab_first(&c->by_pid, (uint64_t)id->pid); n;
	     n = sku_htab_next(n)) {
		const struct sku_exitent *e = sku_container_of(n, struct sku_exitent, node);

		if (e->ex.pid != id->pid)
			continue;
		if (id->has_start && e->ex.start_time != id->start_time)
			continue;
		if (!best || e->seq > best->seq)
			best = e;
	}
	return best ? &best->ex : NULL;
}
