/*
 * watch_darwin.c - kqueue backend: EVFILT_PROC/NOTE_EXIT knotes on one private kqueue.
 *
 * libuv's own kqueue consumes every EVFILT_PROC event (for its child processes), so ours
 * live on a separate kqueue whose fd libuv polls. NOTE_EXITSTATUS delivers the wait status
 * with the exit; XNU allows it only to a caller that may signal the process (EACCES
 * otherwise), in which case we watch without it and report no status. There is no zombie
 * phase to wait through: the knote fires once, with everything there is to know.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/event.h>
#include <sys/types.h>
#include <unistd.h>

#include "proc_int.h"

#ifndef NOTE_EXITSTATUS
#define NOTE_EXITSTATUS 0
#endif

#define EVENTS_PER_TURN 64

static void on_kq(uv_poll_t *h, int status, int events)
{
	struct sku_procmod *pm = h->data;
	struct kevent ev[EVENTS_PER_TURN];
	struct timespec zero = {0, 0};
	int n;

	(void)status;
	(void)events;
	n = kevent(pm->wbm.kq, NULL, 0, ev, EVENTS_PER_TURN, &zero);
	for (int i = 0; i < n; i++) {
		struct sku_wproc *wp = ev[i].udata;

		if (ev[i].filter != EVFILT_PROC || !(ev[i].fflags & NOTE_EXIT) || !wp)
			continue;
		wp->be.registered = false; /* NOTE_EXIT knotes are removed by the kernel */
		wp->be.have_status = (ev[i].fflags & NOTE_EXITSTATUS) != 0 && NOTE_EXITSTATUS;
		wp->be.wstatus = (int)ev[i].data;
		sku_wproc_exited(wp);
	}
}

int sku_wb_module_init(struct sku_procmod *pm)
{
	int r;

	pm->wbm.kq = kqueue();
	if (pm->wbm.kq < 0)
		return -errno;
	(void)fcntl(pm->wbm.kq, F_SETFD, FD_CLOEXEC);
	r = uv_poll_init(pm->srv->loop, &pm->wbm.poll, pm->wbm.kq);
	if (r < 0) {
		close(pm->wbm.kq);
		pm->wbm.kq = -1;
		return r;
	}
	pm->wbm.poll.data = pm;
	pm->wbm.poll_open = true;
	pm->nhandles++;
	return uv_poll_start(&pm->wbm.poll, UV_READABLE, on_kq);
}

static void on_module_closed(uv_handle_t *h)
{
	sku_proc_handle_closed(h->data);
}

void sku_wb_module_done(struct sku_procmod *pm)
{
	if (!pm->wbm.poll_open)
		return;
	pm->wbm.poll_open = false;
	uv_close((uv_handle_t *)&pm->wbm.poll, on_module_closed);
	close(pm->wbm.kq);
	pm->wbm.kq = -1;
}

static int add_knote(struct sku_wproc *wp, unsigned fflags)
{
	struct kevent ev;

	EV_SET(&ev, wp->pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, fflags, 0, wp);
	return kevent(wp->pm->wbm.kq, &ev, 1, NULL, 0, NULL) < 0 ? -errno : 0;
}

int sku_wb_start(struct sku_wproc *wp, int ref)
{
	int r;

	(void)ref;
	r = add_knote(wp, NOTE_EXIT | NOTE_EXITSTATUS);
	if (r == -EACCES)
		r = add_knote(wp, NOTE_EXIT);
	if (r < 0)
		return r == -ESRCH ? -ESRCH : r;
	wp->be.registered = true;
	r = uv_timer_init(wp->pm->srv->loop, &wp->be.closer);
	if (r < 0) {
		struct kevent ev;

		EV_SET(&ev, wp->pid, EVFILT_PROC, EV_DELETE, 0, 0, NULL);
		(void)kevent(wp->pm->wbm.kq, &ev, 1, NULL, 0, NULL);
		return r;
	}
	wp->be.closer.data = wp;
	return 0;
}

int sku_wb_wait_reap(struct sku_wproc *wp)
{
	(void)wp;
	return -EOPNOTSUPP;
}

int sku_wb_exit_status(struct sku_wproc *wp, int *ret_wstatus)
{
	if (!wp->exited)
		return -EAGAIN;
	if (!wp->be.have_status)
		return -EOPNOTSUPP;
	*ret_wstatus = wp->be.wstatus;
	return 0;
}

int sku_wb_signal(struct sku_wproc *wp, int sig)
{
	return kill(wp->pid, sig) < 0 ? -errno : 0;
}

static void on_close(uv_handle_t *h)
{
	sku_wproc_closed(h->data);
}

void sku_wb_close(struct sku_wproc *wp)
{
	struct kevent ev;

	if (wp->be.registered) {
		EV_SET(&ev, wp->pid, EVFILT_PROC, EV_DELETE, 0, 0, NULL);
		(void)kevent(wp->pm->wbm.kq, &ev, 1, NULL, 0, NULL);
		wp->be.registered = false;
	}
	/* Closing a handle is what makes sku_wproc_closed() come from the loop. */
	uv_close((uv_handle_t *)&wp->be.closer, on_close);
}
