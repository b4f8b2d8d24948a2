/*
 * watch.c - watched processes: one per (pid, start_time), shared by every subscriber (client
 * watches, kill trees, guards), so a process costs one fd however many watch it.
 *
 * Life of a watched process: the backend reports the exit (on Linux the pidfd turns
 * readable when the process becomes a zombie); subscribers that asked to be told of the exit
 * itself are told first, and subscribers that only need the end hear now.
 * The exit status exists only after the parent reaps it, so status subscribers wait for the
 * reap (the pidfd hangs up). A parent that never reaps must not hold watchers forever: after
 * ZOMBIE_GRACE_NS they hear without a status. Each subscriber hears exactly once.
 *
 * A process whose last watcher left with its connection lingers without subscribers
 * (linger.c) and, like a status subscriber, waits for the reap, so the exit cache learns the
 * code a reconnecting client will ask for.
 */
#include <errno.h>
#include <stdlib.h>

#include "pidref.h"
#include "proc_int.h"

#define ZOMBIE_GRACE_NS (3ULL * 1000000000ULL)

static const char reason_not_reaped[] = "exited, but its parent has not reaped it";
#ifdef __linux__
static const char reason_unsupported[] =
        "the kernel does not report the exit status of a non-child (needs Linux 6.15)";
#else
static const char reason_unsupported[] = "the kernel did not report the exit status";
#endif
static const char reason_unavailable[] = "exit status unavailable";

static struct sku_wproc *find(struct sku_procmod *pm, pid_t pid, uint64_t start_time)
{
	for (struct sku_hnode *n = sku_htab_first(&pm->wprocs, sku_ident_key(pid, start_time)); n;
	     n = sku_htab_next(n)) {
		struct sku_wproc *wp = sku_container_of(n, struct sku_wproc, node);

		if (wp->pid == pid && wp->start_time == start_time)
			return wp;
	}
	return NULL;
}

/* Stop watching: the fd is released now, the memory once the backend has closed. */
static void release(struct sku_wproc *wp)
{
	struct sku_procmod *pm = wp->pm;

	if (wp->closing)
		return;
	wp->closing = true;
	sku_linger_forget(wp);
	sku_htab_remove(&pm->wprocs, &wp->node);
	sku_list_del(&wp->zlink);
	pm->nfds--;
	sku_wb_close(wp);
}

void sku_wproc_release(struct sku_wproc *wp)
{
	release(wp);
}

/*
 * Without subscribers, a process goes unless a watcher left with its connection: then it
 * lingers, or, once exited, stays in pm->zombies until the reap (at most ZOMBIE_GRACE_NS).
 */
static void maybe_release(struct sku_wproc *wp)
{
	if (wp->delivering || !sku_list_empty(&wp->subs))
		return;
	if (wp->linger_wanted && (wp->exited || sku_linger_keep(wp)))
		return;
	release(wp);
}

/* Hand ex to the subscribers (all, or only those not waiting for a status). */
static void deliver(struct sku_wproc *wp, const struct sku_exit *ex, bool all)
{
	struct sku_list batch, *l, *next;

	sku_list_init(&batch);
	for (l = wp->subs.next; l != &wp->subs; l = next) {
		struct sku_wsub *sub = sku_container_of(l, struct sku_wsub, link);

		next = l->next;
		if (all || !sub->want_status) {
			sku_list_del(l);
			sku_list_add_tail(&batch, l);
		}
	}
	/* Callbacks may cancel other subscriptions of this batch: take one at a time. */
	wp->delivering = true;
	while (!sku_list_empty(&batch)) {
		struct sku_wsub *sub = sku_container_of(batch.next, struct sku_wsub, link);

		sku_list_del(&sub->link);
		sub->wp = NULL;
		sub->on_exit(sub, ex);
	}
	wp->delivering = false;
}

/*
 * Tell the subscribers that asked (on_exiting) that the process has exited. A callback may
 * cancel any subscription, its own included (a send that closes a connection ends all of
 * its watches): the list is rescanned after each call and a called subscription is never
 * touched again. Subscriptions stay linked, so the release waits until the end.
 */
static void announce(struct sku_wproc *wp, const struct sku_exit *ex)
{
	struct sku_wsub *sub;

	wp->delivering = true;
	do {
		sub = NULL;
		for (struct sku_list *l = wp->subs.next; l != &wp->subs; l = l->next) {
			struct sku_wsub *s = sku_container_of(l, struct sku_wsub, link);

			if (s->on_exiting && !s->announced) {
				sub = s;
				break;
			}
		}
		if (sub) {
			sub->announced = true;
			sub->on_exiting(sub, ex);
		}
	} while (sub);
	wp->delivering = false;
}

static void finish(struct sku_wproc *wp, const struct sku_exit *ex)
{
	sku_exitcache_put(&wp->pm->cache, ex);
	/* A callback may have added a status subscriber to this (exited) process. */
	while (!sku_list_empty(&wp->subs))
		deliver(wp, ex, true);
	release(wp);
}

static bool has_status_subs(const struct sku_wproc *wp)
{
	for (const struct sku_list *l = wp->subs.next; l != &wp->subs; l = l->next)
		if (sku_container_of(l, struct sku_wsub, link)->want_status)
			return true;
	return false;
}

static struct sku_exit exit_of(const struct sku_wproc *wp)
{
	return (struct sku_exit){
	        .pid = wp->pid,
	        .start_time = wp->start_time,
	        .uid = wp->uid,
	        .exited_at = wp->exited_at,
	};
}

/* Fill the status (or the reason it is missing); returns what the backend said. */
static int read_status(struct sku_wproc *wp, struct sku_exit *ex)
{
	int r = sku_wb_exit_status(wp, &ex->wstatus);

	ex->has_status = r == 0;
	if (r == -EAGAIN)
		ex->reason = reason_not_reaped;
	else if (r == -EOPNOTSUPP)
		ex->reason = reason_unsupported;
	else if (r < 0)
		ex->reason = reason_unavailable;
	return r;
}

static void on_zombie_timer(uv_timer_t *t);

static void arm_zombie_timer(struct sku_procmod *pm)
{
	struct sku_wproc *first;
	uint64_t now = sku_now_ns(), delay_ms = 0;

	if (sku_list_empty(&pm->zombies) || pm->stopping) {
		uv_timer_stop(&pm->zombie_timer);
		return;
	}
	first = sku_container_of(pm->zombies.next, struct sku_wproc, zlink);
	if (first->zombie_deadline > now)
		delay_ms = (first->zombie_deadline - now + 999999) / 1000000;
	uv_timer_start(&pm->zombie_timer, on_zombie_timer, delay_ms, 0);
}

void sku_wproc_exited(struct sku_wproc *wp)
{
	struct sku_procmod *pm = wp->pm;
	struct sku_exit ex;
	int r;

	if (wp->exited || wp->closing)
		return;
	wp->exited = true;
	wp->exited_at = sku_proc_epoch_now();
	pm->srv->metrics.exits_seen++;
	if (wp->lingering)
		pm->srv->metrics.linger_exits++;
	/* Exited: no longer abandoned; the reap or ZOMBIE_GRACE_NS ends it soon. */
	sku_linger_forget(wp);
	ex = exit_of(wp);
	announce(wp, &ex);
	r = read_status(wp, &ex);
	if (r != -EAGAIN) {
		finish(wp, &ex);
		return;
	}
	deliver(wp, &ex, false);
	if (!has_status_subs(wp) && !wp->linger_wanted) {
		sku_exitcache_put(&pm->cache, &ex);
		release(wp);
		return;
	}
	if (sku_wb_wait_reap(wp) < 0) {
		finish(wp, &ex);
		return;
	}
	wp->zombie_deadline = sku_now_ns() + ZOMBIE_GRACE_NS;
	sku_list_add_tail(&pm->zombies, &wp->zlink);
	arm_zombie_timer(pm);
}

void sku_wproc_reaped(struct sku_wproc *wp)
{
	struct sku_procmod *pm = wp->pm;
	struct sku_exit ex;

	if (wp->closing)
		return;
	if (!wp->exited) {
		sku_wproc_exited(wp);
		return;
	}
	ex = exit_of(wp);
	read_status(wp, &ex);
	finish(wp, &ex);
	arm_zombie_timer(pm);
}

void sku_wproc_closed(struct sku_wproc *wp)
{
	struct sku_procmod *pm = wp->pm;

	free(wp);
	sku_proc_handle_closed(pm);
}

int sku_wproc_subscribe(struct sku_procmod *pm, const struct sku_ident *id, uid_t uid, int ref,
                        bool reserve, struct sku_wsub *sub)
{
	struct sku_wproc *wp = find(pm, id->pid, id->start_time);
	unsigned limit = pm->fd_budget + (reserve ? pm->fd_reserve : 0);
	int r;

	sku_list_init(&sub->link);
	sub->wp = NULL;
	if (wp) {
		/* A lingering process is watched again: its pidfd serves the new subscriber. */
		sku_pidref_close(ref);
		if (wp->exited && !sub->want_status)
			return 1;
		/*
		 * The new watch now speaks for the process: if it ends by proc.unwatch, nothing
		 * lingers (the abandonment that made it linger is superseded).
		 */
		if (wp->lingering)
			wp->linger_wanted = false;
		sku_linger_forget(wp);
		goto link;
	}
	if (pm->stopping) {
		sku_pidref_close(ref);
		return -ESHUTDOWN;
	}
	/*
	 * A watch outranks the liveness cache, which only saves /proc reads: the cache gives
	 * fds back before a watch is refused, and before a kill tree dips into its reserve;
	 * then lingering processes do, oldest first (linger.c).
	 */
	while (pm->nfds >= pm->fd_budget && (sku_livecache_shed(pm) || sku_linger_shed(pm)))
		;
	if (pm->nfds >= limit) {
		sku_pidref_close(ref);
		return -EMFILE;
	}
	wp = calloc(1, sizeof(*wp));
	if (!wp) {
		sku_pidref_close(ref);
		return -ENOMEM;
	}
	wp->pm = pm;
	wp->pid = id->pid;
	wp->start_time = id->start_time;
	wp->uid = uid;
	wp->reserve = reserve;
	sku_list_init(&wp->subs);
	sku_list_init(&wp->zlink);
	sku_list_init(&wp->llink);
	r = sku_wb_start(wp, ref);
	if (r < 0) {
		free(wp);
		return r;
	}
	pm->nhandles++;
	if (r > 0) {
		/* The backend is closing what it opened and will report sku_wproc_closed(). */
		wp->closing = true;
		return -EIO;
	}
	pm->nfds++;
	sku_htab_insert(&pm->wprocs, &wp->node, sku_ident_key(wp->pid, wp->start_time));
link:
	sku_list_add_tail(&wp->subs, &sub->link);
	sub->wp = wp;
	return 0;
}

void sku_wsub_cancel(struct sku_wsub *sub)
{
	struct sku_wproc *wp = sub->wp;

	if (!wp)
		return;
	sku_list_del(&sub->link);
	sub->wp = NULL;
	maybe_release(wp);
}

void sku_wsub_leave(struct sku_wsub *sub)
{
	if (sub->wp)
		sub->wp->linger_wanted = true;
	sku_wsub_cancel(sub);
}

bool sku_wsub_exited(const struct sku_wsub *sub)
{
	return sub->wp && sub->wp->exited;
}

int sku_wsub_signal(struct sku_wsub *sub, int sig)
{
	if (!sub->wp || sub->wp->exited)
		return -ESRCH;
	return sku_wb_signal(sub->wp, sig);
}

static void on_zombie_timer(uv_timer_t *t)
{
	struct sku_procmod *pm = t->data;
	uint64_t now = sku_now_ns();

	while (!sku_list_empty(&pm->zombies)) {
		struct sku_wproc *wp = sku_container_of(pm->zombies.next, struct sku_wproc, zlink);
		struct sku_exit ex;

		if (wp->zombie_deadline > now)
			break;
		sku_list_del(&wp->zlink);
		ex = exit_of(wp);
		read_status(wp, &ex);
		finish(wp, &ex);
	}
	arm_zombie_timer(pm);
}

static void on_timer_closed(uv_handle_t *h)
{
	sku_proc_handle_closed(h->data);
}

int sku_watch_init(struct sku_procmod *pm)
{
	int r;

	sku_list_init(&pm->zombies);
	r = sku_htab_init(&pm->wprocs, 1024);
	if (r < 0)
		return r;
	r = uv_timer_init(pm->srv->loop, &pm->zombie_timer);
	if (r < 0) {
		sku_htab_done(&pm->wprocs);
		return r;
	}
	pm->zombie_timer.data = pm;
	pm->nhandles++;
	r = sku_linger_init(pm);
	if (r < 0) {
		/* The zombie timer closes asynchronously, as in sku_watch_done(). */
		uv_close((uv_handle_t *)&pm->zombie_timer, on_timer_closed);
		sku_htab_done(&pm->wprocs);
		return r;
	}
	return 0;
}

/* Release every watched process; subscribers must have been cancelled before. */
void sku_watch_done(struct sku_procmod *pm)
{
	for (size_t i = 0; i < pm->wprocs.nbuckets; i++) {
		while (pm->wprocs.buckets[i]) {
			struct sku_wproc *wp =
			        sku_container_of(pm->wprocs.buckets[i], struct sku_wproc, node);

			/* Orphaned subscribers (none expected) just stop hearing. */
			while (!sku_list_empty(&wp->subs)) {
				struct sku_wsub *sub =
				        sku_container_of(wp->subs.next, struct sku_wsub, link);

				sku_list_del(&sub->link);
				sub->wp = NULL;
			}
			release(wp);
		}
	}
	uv_timer_stop(&pm->zombie_timer);
	uv_close((uv_handle_t *)&pm->zombie_timer, on_timer_closed);
	sku_linger_done(pm);
	sku_htab_done(&pm->wprocs);
}
