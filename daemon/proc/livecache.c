/*
 * livecache.c - live processes pinned by pidrefs, so repeated liveness questions about the
 * same processes (SkyPilot polling its jobs) cost a hash lookup instead of a /proc read.
 *
 * Correctness rests on the liveset: the kernel marks a member's pidref readable when the
 * process exits (zombie included), and sku_livecache_sync() collects those before every
 * lookup. An entry present after a sync is therefore a process that had not exited at that
 * moment, with the identity (start time, pidfs inode) read race-free when it was added: a
 * pidref never follows a recycled pid. The loop also polls the set, so the fds of processes
 * nobody asks about again are released soon after their exit.
 *
 * Fds are the scarce resource: entries count in pm->nfds, fill only what the watch budget
 * leaves, and give their fd up to a watch that needs it (sku_livecache_shed).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "liveset.h"
#include "pidref.h"
#include "proc_int.h"

#define LIVECACHE_MAX    (1u << 16)
#define LIVECACHE_TTL_NS (120 * 1000000000ull) /* unused this long: dropped */
#define SWEEP_MS         30000

static void on_sweep(uv_timer_t *t);

static uint64_t tag_of(const struct sku_livent *e)
{
	return (uint64_t)(uint32_t)e->ref << 32 | (uint32_t)e->pid;
}

static struct sku_livent *find(const struct sku_livecache *lc, pid_t pid)
{
	struct sku_hnode *n = sku_htab_first(&lc->by_pid, (uint64_t)pid);

	return n ? sku_container_of(n, struct sku_livent, node) : NULL;
}

static void drop(struct sku_procmod *pm, struct sku_livent *e)
{
	struct sku_livecache *lc = &pm->live;

	sku_htab_remove(&lc->by_pid, &e->node);
	sku_list_del(&e->lru);
	sku_pidref_close(e->ref); /* also takes it out of the liveset */
	free(e);
	lc->count--;
	pm->nfds--;
	pm->srv->nstatus_cached = lc->count;
	if (lc->count == 0)
		uv_timer_stop(&lc->timer);
}

void sku_livecache_sync(struct sku_procmod *pm)
{
	struct sku_livecache *lc = &pm->live;
	uint64_t tags[64];
	int n;

	if (lc->count == 0)
		return;
	do {
		n = sku_liveset_exited(lc->set, tags, 64);
		for (int i = 0; i < n; i++) {
			struct sku_livent *e = find(lc, (pid_t)(uint32_t)tags[i]);

			if (e && tag_of(e) == tags[i])
				drop(pm, e);
		}
	} while (n == 64);
}

const struct sku_livent *sku_livecache_get(struct sku_procmod *pm, pid_t pid)
{
	struct sku_livent *e = find(&pm->live, pid);

	if (!e)
		return NULL;
	e->used_ns = sku_now_ns();
	sku_list_del(&e->lru);
	sku_list_add_tail(&pm->live.lru, &e->lru);
	return e;
}

bool sku_livecache_room(const struct sku_procmod *pm)
{
	const struct sku_livecache *lc = &pm->live;

	return lc->set >= 0 && !pm->stopping && lc->count < lc->cap && pm->nfds < pm->fd_budget;
}

void sku_livecache_put(struct sku_procmod *pm, const struct sku_pinfo *pi, int ref)
{
	struct sku_livecache *lc = &pm->live;
	struct sku_livent *e;

	if (ref < 0)
		return;
	if (!pi->alive || !pi->has_start || !sku_livecache_room(pm) || find(lc, pi->pid))
		goto no;
	e = calloc(1, sizeof(*e));
	if (!e)
		goto no;
	*e = (struct sku_livent){.pid = pi->pid,
	                         .ref = ref,
	                         .start_time = pi->start_time,
	                         .has_ino = pi->has_ino,
	                         .ino = pi->ino,
	                         .used_ns = sku_now_ns()};
	if (sku_liveset_add(lc->set, ref, tag_of(e)) < 0) {
		free(e);
		goto no;
	}
	sku_htab_insert(&lc->by_pid, &e->node, (uint64_t)e->pid);
	sku_list_add_tail(&lc->lru, &e->lru);
	if (lc->count++ == 0)
		uv_timer_start(&lc->timer, on_sweep, SWEEP_MS, SWEEP_MS);
	pm->nfds++;
	pm->srv->nstatus_cached = lc->count;
	return;
no:
	sku_pidref_close(ref);
}

bool sku_livecache_shed(struct sku_procmod *pm)
{
	struct sku_livecache *lc = &pm->live;

	if (lc->count == 0)
		return false;
	drop(pm, sku_container_of(lc->lru.next, struct sku_livent, lru));
	return true;
}

static void on_exits(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	sku_livecache_sync(h->data);
}

static void on_sweep(uv_timer_t *t)
{
	struct sku_procmod *pm = t->data;
	uint64_t now = sku_now_ns();

	sku_livecache_sync(pm);
	while (pm->live.count) {
		struct sku_livent *e = sku_container_of(pm->live.lru.next, struct sku_livent, lru);

		if (now - e->used_ns < LIVECACHE_TTL_NS)
			break;
		drop(pm, e);
	}
}

static void on_closed(uv_handle_t *h)
{
	sku_proc_handle_closed(h->data);
}

static void on_poll_closed(uv_handle_t *h)
{
	struct sku_procmod *pm = h->data;

	/* Closed only now: libuv must not be watching an fd that is already gone. */
	sku_liveset_close(pm->live.set);
	pm->live.set = -1;
	sku_proc_handle_closed(pm);
}

int sku_livecache_init(struct sku_procmod *pm)
{
	struct sku_livecache *lc = &pm->live;
	int r;

	memset(lc, 0, sizeof(*lc));
	sku_list_init(&lc->lru);
	lc->cap = LIVECACHE_MAX;
	r = sku_htab_init(&lc->by_pid, 1024);
	if (r < 0)
		return r;
	r = uv_timer_init(pm->srv->loop, &lc->timer);
	if (r < 0) {
		sku_htab_done(&lc->by_pid);
		return r;
	}
	lc->timer.data = pm; /* runs only while there are entries */
	pm->nhandles++;
	lc->set = -1;
	r = sku_liveset_open(&lc->set);
	if (r < 0) {
		sku_log(SKU_LOG_DEBUG, "proc: no liveness cache (%s)", strerror(-r));
		return 0;
	}
	r = uv_poll_init(pm->srv->loop, &lc->poll, lc->set);
	if (r == 0) {
		lc->poll.data = pm;
		pm->nhandles++;
		r = uv_poll_start(&lc->poll, UV_READABLE, on_exits);
		if (r < 0) {
			lc->cap = 0; /* off; the set is closed with the handle */
			uv_close((uv_handle_t *)&lc->poll, on_poll_closed);
		}
	} else {
		sku_liveset_close(lc->set);
		lc->set = -1;
	}
	if (r < 0)
		sku_log(SKU_LOG_WARN, "proc: no liveness cache: %s", uv_strerror(r));
	return 0;
}

void sku_livecache_done(struct sku_procmod *pm)
{
	struct sku_livecache *lc = &pm->live;

	while (lc->count)
		drop(pm, sku_container_of(lc->lru.next, struct sku_livent, lru));
	uv_close((uv_handle_t *)&lc->timer, on_closed);
	if (lc->set >= 0 && !uv_is_closing((uv_handle_t *)&lc->poll))
		uv_close((uv_handle_t *)&lc->poll, on_poll_closed);
	sku_htab_done(&lc->by_pid);
}
