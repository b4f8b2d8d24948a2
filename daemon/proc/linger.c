/*
 * linger.c - processes still watched after their watchers' connections closed.
 *
 * Watches belong to their connection, but a client that reconnects (a restart, a dropped
 * socket) wants to learn how a process ended while it was away. So when a process is left
 * unwatched and one of its watches ended by its connection's close, the daemon keeps the
 * pidfd without any subscriber; the exit then goes to the exit cache as for any watch, and
 * the pidfd is closed.
 *
 * What does not linger: a process whose watches all ended by proc.unwatch (the client said it
 * no longer cares; a watch that takes over a lingering process speaks for it from then on),
 * a process the departed watcher could not have learned the exit code of (cwatch.c), and any
 * process when the kernel gives no exit statuses of non-children: the cache would only learn
 * "gone", which proc.status says anyway.
 *
 * Abandoned pidfds must not pile up:
 *  - time: each lingers at most --linger-timeout seconds (default 300: long enough for a
 *    client to restart, short enough that a burst of abandoned watches drains soon);
 *  - number: at most a quarter of the watch budget, and LINGER_MAX. When full, the oldest
 *    goes first: the client most likely to come back is the one that left last, and
 *    refusing newcomers would let one old burst shut out every later reconnect;
 *  - fds: lingering only uses the watch budget, never the kill-tree reserve, and gives its
 *    fds back to a new watch (after the liveness cache, which only saves /proc reads: a lost
 *    exit code cannot be read again).
 */
#include <stdlib.h>

#include "pidref.h"
#include "proc_int.h"

#define LINGER_MAX      4096u
#define LINGER_BUDGET_D 4u /* at most 1/LINGER_BUDGET_D of the watch budget */

static void on_timer(uv_timer_t *t);

static void arm(struct sku_procmod *pm)
{
	struct sku_linger *lg = &pm->linger;
	const struct sku_wproc *first;
	uint64_t now = sku_now_ns(), delay_ms = 0;

	if (sku_list_empty(&lg->procs) || pm->stopping) {
		uv_timer_stop(&lg->timer);
		return;
	}
	first = sku_container_of(lg->procs.next, struct sku_wproc, llink);
	if (first->linger_deadline > now)
		delay_ms = (first->linger_deadline - now + 999999) / 1000000;
	uv_timer_start(&lg->timer, on_timer, delay_ms, 0);
}

/* Release the oldest without recording anything: it has not exited. */
static void drop_oldest(struct sku_procmod *pm)
{
	struct sku_wproc *wp = sku_container_of(pm->linger.procs.next, struct sku_wproc, llink);

	pm->srv->metrics.linger_dropped++;
	sku_wproc_release(wp); /* calls sku_linger_forget */
}

static void on_timer(uv_timer_t *t)
{
	struct sku_procmod *pm = t->data;
	uint64_t now = sku_now_ns();

	while (!sku_list_empty(&pm->linger.procs)) {
		const struct sku_wproc *wp =
		        sku_container_of(pm->linger.procs.next, struct sku_wproc, llink);

		if (wp->linger_deadline > now)
			break;
		drop_oldest(pm);
	}
	arm(pm);
}

bool sku_linger_keep(struct sku_wproc *wp)
{
	struct sku_procmod *pm = wp->pm;
	struct sku_linger *lg = &pm->linger;

	/* Without exit statuses from pidfds the cache would learn no more than "gone". */
	if (pm->stopping || lg->ttl_ns == 0 || lg->cap == 0 || wp->closing ||
	    !sku_pidref_exit_supported())
		return false;
	if (wp->lingering)
		return true;
	/* Within the watch budget only: an fd a kill tree took from its reserve goes back. */
	while (pm->nfds > pm->fd_budget && sku_livecache_shed(pm))
		;
	if (pm->nfds > pm->fd_budget)
		return false;
	if (lg->count >= lg->cap)
		drop_oldest(pm);
	wp->lingering = true;
	wp->linger_deadline = sku_now_ns() + lg->ttl_ns;
	sku_list_add_tail(&lg->procs, &wp->llink);
	lg->count++;
	pm->srv->nlingering = lg->count;
	if (lg->count == 1)
		arm(pm);
	return true;
}

void sku_linger_forget(struct sku_wproc *wp)
{
	struct sku_procmod *pm = wp->pm;

	if (!wp->lingering)
		return;
	wp->lingering = false;
	sku_list_del(&wp->llink);
	pm->linger.count--;
	pm->srv->nlingering = pm->linger.count;
	/* The timer is left running: it finds nothing due and re-arms for the new first. */
	if (pm->linger.count == 0)
		uv_timer_stop(&pm->linger.timer);
}

bool sku_linger_shed(struct sku_procmod *pm)
{
	if (pm->linger.count == 0)
		return false;
	drop_oldest(pm);
	return true;
}

static void on_closed(uv_handle_t *h)
{
	sku_proc_handle_closed(h->data);
}

int sku_linger_init(struct sku_procmod *pm)
{
	struct sku_linger *lg = &pm->linger;
	unsigned cap = pm->fd_budget / LINGER_BUDGET_D;
	int r;

	sku_list_init(&lg->procs);
	lg->count = 0;
	lg->cap = cap < LINGER_MAX ? cap : LINGER_MAX;
	lg->ttl_ns = (uint64_t)pm->srv->cfg.linger_timeout_s * 1000000000ull;
	r = uv_timer_init(pm->srv->loop, &lg->timer);
	if (r < 0)
		return r;
	lg->timer.data = pm;
	pm->nhandles++;
	sku_log(SKU_LOG_DEBUG, "proc: up to %u processes linger %u s after their watchers leave",
	        lg->ttl_ns ? lg->cap : 0, pm->srv->cfg.linger_timeout_s);
	return 0;
}

void sku_linger_done(struct sku_procmod *pm)
{
	uv_timer_stop(&pm->linger.timer);
	uv_close((uv_handle_t *)&pm->linger.timer, on_closed);
}
