/*
 * proc.c - the process-watching module's life cycle and its file-descriptor budget.
 *
 * Each watched process costs one fd. The budget is the NOFILE limit (main.c raises soft to hard)
 * less a reserve for connections and the daemon's own files, so a full watch table answers
 * RESOURCE_EXHAUSTED instead of starving accept(). Kill trees and guards may go a further
 * reserve past the budget: refusing to kill a tree because watches are full would be worse.
 * The liveness cache lives within the budget and gives fds back first, then processes that
 * linger after their watchers disconnected (linger.c, at most a quarter of the budget).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "pidref.h"
#include "proc_int.h"
#include "procfs.h"

#define EXIT_CACHE_ENTRIES 4096
#define FD_RESERVE_BASE    64
#define FD_LIMIT_CAP       (1u << 22) /* RLIM_INFINITY is not a number of fds */

/* The soft limit as the daemon runs with it: main.c raised it to the hard limit at start-up. */
static unsigned nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > FD_LIMIT_CAP)
		return FD_LIMIT_CAP;
	return (unsigned)rl.rlim_cur;
}

static void set_budget(struct sku_procmod *pm)
{
	unsigned limit = nofile_limit();
	unsigned conns = FD_RESERVE_BASE + pm->srv->cfg.max_connections;
	unsigned kill = conns / 2;

	/*
	 * Kept apart from the watch budget: fds for connections and the daemon's own files, and
	 * the kill trees' extra (which must not eat into the connections' share). With a tiny
	 * limit, still leave the daemon half of it, a third of that for kill trees.
	 */
	if (conns + kill > limit / 2) {
		kill = limit / 6;
		conns = limit / 2 - kill;
	}
	pm->fd_budget = limit - conns - kill;
	pm->fd_reserve = kill;
	sku_log(SKU_LOG_DEBUG, "proc: %u fds: watch budget %u, kill-tree reserve %u", limit,
	        pm->fd_budget, pm->fd_reserve);
}

/* Learn once whether exit codes of non-children can be read (pidref.h). */
static void probe_kernel(void)
{
	int r = sku_pidref_probe();

	if (r < 0)
		sku_log(SKU_LOG_WARN,
		        "proc: cannot probe for exit-status support (%s); exit codes "
		        "are reported whenever the kernel gives them",
		        strerror(-r));
	else if (!sku_pidref_exit_supported())
		sku_log(SKU_LOG_INFO, "proc: this kernel does not report the exit status of "
		                      "non-children (needs Linux 6.15): exit_code will be nil");
	else
		sku_log(SKU_LOG_DEBUG, "proc: exit statuses available from pidfds");
}

int sku_proc_init(struct sku_server *srv)
{
	struct sku_procmod *pm;
	int r;

	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	pm->srv = srv;
	sku_list_init(&pm->guards);
	sku_list_init(&pm->killtrees);
	r = sku_procfs_read_clock(&pm->btime, &pm->clk_tck);
	if (r < 0) {
		sku_log(SKU_LOG_ERROR, "proc: cannot read the boot time: %s", strerror(-r));
		goto fail;
	}
	set_budget(pm);
	probe_kernel();
	r = sku_procfs_init();
	if (r < 0)
		sku_log(SKU_LOG_WARN, "proc: cannot keep /proc open (%s); reading by path",
		        strerror(-r));
	r = sku_exitcache_init(&pm->cache, EXIT_CACHE_ENTRIES);
	if (r < 0)
		goto fail;
	r = sku_htab_init(&pm->watches, 1024);
	if (r < 0)
		goto fail_cache;
	r = sku_watch_init(pm);
	if (r < 0)
		goto fail_watches;
	r = sku_wb_module_init(pm);
	if (r < 0)
		goto fail_watch;
	r = sku_livecache_init(pm);
	if (r < 0) {
		sku_wb_module_done(pm);
		goto fail_watch;
	}
	r = sku_status_init(pm);
	if (r < 0) {
		sku_livecache_done(pm);
		sku_wb_module_done(pm);
		goto fail_watch;
	}
	srv->proc = pm;
	return 0;

fail_watch:
	/* The zombie timer closes asynchronously; pm is freed by its close callback. */
	pm->stopping = true;
	sku_watch_done(pm);
	sku_htab_done(&pm->watches);
	sku_exitcache_done(&pm->cache);
	sku_procfs_done();
	return r;
fail_watches:
	sku_htab_done(&pm->watches);
fail_cache:
	sku_exitcache_done(&pm->cache);
fail:
	sku_procfs_done();
	/* A handle still closing (sku_watch_init's timers) frees pm in its close callback. */
	pm->stopping = true;
	if (pm->nhandles == 0)
		free(pm);
	return r;
}

void sku_proc_done(struct sku_server *srv)
{
	struct sku_procmod *pm = srv->proc;

	if (!pm)
		return;
	pm->stopping = true;
	/* Running kill trees answer their callers now; guards and watches just end. */
	sku_killtree_abort_all(pm);
	sku_guard_done(pm);
	sku_cwatch_done(pm);
	sku_quota_done(pm);
	sku_status_done(pm);
	sku_livecache_done(pm);
	sku_watch_done(pm);
	sku_wb_module_done(pm);
	sku_exitcache_done(&pm->cache);
	sku_procfs_done();
	srv->proc = NULL;
	if (pm->nhandles == 0)
		free(pm);
}

void sku_proc_handle_closed(struct sku_procmod *pm)
{
	pm->nhandles--;
	if (pm->stopping && pm->nhandles == 0 && pm->srv->proc != pm)
		free(pm);
}

uint64_t sku_proc_next_id(struct sku_procmod *pm)
{
	return ++pm->srv->next_id;
}
