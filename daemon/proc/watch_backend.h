/*
 * watch_backend.h - the platform seam of process watching.
 *
 * Linux (watch_linux.c): one pidfd per watched process, polled by libuv. macOS/BSD
 * (watch_darwin.c): EVFILT_PROC knotes on one private kqueue that libuv polls (libuv's own
 * kqueue consumes EVFILT_PROC events for its child processes, so it cannot carry ours).
 *
 * A backend reports through watch.c: sku_wproc_exited() when the process has exited (it may
 * still be an unreaped zombie), sku_wproc_reaped() when its exit status can be read, and
 * sku_wproc_closed() once sku_wb_close() has released everything (then wp may be freed).
 */
#ifndef SKU_PROC_WATCH_BACKEND_H
#define SKU_PROC_WATCH_BACKEND_H

#include "config.h"

#include <stdbool.h>
#include <uv.h>

struct sku_procmod;
struct sku_wproc;

#if SKU_LINUX
struct sku_wbackend {
	int fd;         /* the pidfd; owned */
	uv_poll_t poll; /* on fd; closing frees nothing else */
	bool reap_wait; /* polling for the hang-up that follows the reap */
};

struct sku_wb_module {
	int unused;
};
#else
struct sku_wbackend {
	bool have_status; /* NOTE_EXIT carried the exit status */
	int wstatus;
	bool registered;   /* knote added */
	uv_timer_t closer; /* never started: closing it defers sku_wproc_closed() to the loop */
};

struct sku_wb_module {
	int kq;         /* private kqueue; owned; -1 when not open */
	uv_poll_t poll; /* on kq */
	bool poll_open;
};
#endif

/* Module-wide setup and teardown (closes handles through sku_procmod's handle count). */
int sku_wb_module_init(struct sku_procmod *pm);
void sku_wb_module_done(struct sku_procmod *pm);

/* Start watching wp->pid. Takes ownership of ref (a pidref fd, or -1) in every case. */
int sku_wb_start(struct sku_wproc *wp, int ref);
/* After an exit without status: report sku_wproc_reaped() when the status appears. */
int sku_wb_wait_reap(struct sku_wproc *wp);
/* As sku_pidref_exit_status(): 0, -EAGAIN (not reaped yet) or -EOPNOTSUPP. */
int sku_wb_exit_status(struct sku_wproc *wp, int *ret_wstatus);
/* Send sig to the watched process: 0, -ESRCH once it is gone, -EPERM. */
int sku_wb_signal(struct sku_wproc *wp, int sig);
/* Stop and release; calls sku_wproc_closed(wp) later, from the loop. */
void sku_wb_close(struct sku_wproc *wp);

#endif
