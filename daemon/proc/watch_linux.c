/*
 * watch_linux.c - pidfd backend: the pidfd is polled by libuv.
 *
 * A pidfd reports POLLIN once the process has exited (zombie included) and, in addition,
 * POLLHUP once it has been reaped. Polling stays level-triggered, so after the exit we stop
 * asking for readability (it would fire on every loop turn) and ask for UV_DISCONNECT only:
 * epoll always reports a hang-up, and libuv passes it on as UV_DISCONNECT for such watchers.
 */
#include <errno.h>
#include <unistd.h>

#include "pidref.h"
#include "proc_int.h"

int sku_wb_module_init(struct sku_procmod *pm)
{
	(void)pm;
	return 0;
}

void sku_wb_module_done(struct sku_procmod *pm)
{
	(void)pm;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct sku_wproc *wp = h->data;

	if (status < 0) {
		/* Not expected from a pidfd; end the watch rather than spin. */
		sku_wproc_exited(wp);
		sku_wproc_reaped(wp);
		return;
	}
	if (events & UV_READABLE)
		sku_wproc_exited(wp);
	else if (events & UV_DISCONNECT)
		sku_wproc_reaped(wp);
}

static void on_failed_close(uv_handle_t *h)
{
	sku_wproc_closed(h->data);
}

int sku_wb_start(struct sku_wproc *wp, int ref)
{
	int r;

	if (ref < 0)
		return -EBADF;
	wp->be.fd = ref;
	r = uv_poll_init(wp->pm->srv->loop, &wp->be.poll, ref);
	if (r < 0) {
		close(ref);
		wp->be.fd = -1;
		return r;
	}
	wp->be.poll.data = wp;
	r = uv_poll_start(&wp->be.poll, UV_READABLE, on_poll);
	if (r < 0) {
		uv_close((uv_handle_t *)&wp->be.poll, on_failed_close);
		close(ref);
		wp->be.fd = -1;
		return 1;
	}
	return 0;
}

int sku_wb_wait_reap(struct sku_wproc *wp)
{
	wp->be.reap_wait = true;
	return uv_poll_start(&wp->be.poll, UV_DISCONNECT, on_poll);
}

int sku_wb_exit_status(struct sku_wproc *wp, int *ret_wstatus)
{
	return sku_pidref_exit_status(wp->be.fd, ret_wstatus);
}

int sku_wb_signal(struct sku_wproc *wp, int sig)
{
	return sku_pidref_send_signal(wp->be.fd, sig);
}

static void on_close(uv_handle_t *h)
{
	sku_wproc_closed(h->data);
}

void sku_wb_close(struct sku_wproc *wp)
{
	/* uv_close() removes the fd from epoll at once, so the fd can go now. */
	uv_close((uv_handle_t *)&wp->be.poll, on_close);
	close(wp->be.fd);
	wp->be.fd = -1;
}
