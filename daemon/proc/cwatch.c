/*
 * cwatch.c - client watches (proc.watch): owned by a connection, each ends with exactly one
 * proc.exited notification, proc.unwatch, or the connection's close. Watches that asked for
 * it also get one proc.exiting as soon as the process has exited: the exit code exists only
 * once the parent reaps, and a client that only cares about liveness should not wait.
 * A watch ended by its connection's close leaves its process lingering (linger.c); one ended
 * by proc.unwatch does not: the client said it no longer cares.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "pidref.h"
#include "proc_int.h"

struct cwatch {
	struct sku_hnode node; /* in pm->watches, key = id */
	struct sku_wsub sub;
	struct sku_conn_hook hook; /* on the owning connection */
	struct sku_conn *conn;     /* valid while the hook is linked */
	struct sku_procmod *pm;
	struct sku_peer peer;
	uint64_t id;
};

/* linger: the connection closed, so the process stays watched for the exit cache. */
static void cwatch_free(struct cwatch *w, bool linger)
{
	struct sku_server *srv = w->pm->srv;

	sku_htab_remove(&w->pm->watches, &w->node);
	sku_conn_remove_hook(&w->hook);
	sku_quota_give(w->pm, w->peer.uid, SKU_QUOTA_WATCH);
	if (linger)
		sku_wsub_leave(&w->sub);
	else
		sku_wsub_cancel(&w->sub);
	srv->nwatches--;
	sku_notify_status_changed(srv);
	free(w);
}

struct exited_ctx {
	const struct cwatch *w;
	const struct sku_exit *ex;
};

static void pack_exited(msgpack_packer *pk, void *ctx)
{
	const struct exited_ctx *c = ctx;
	const struct sku_exit *ex = c->ex;
	bool visible = sku_proc_may_access(&c->w->peer, ex->uid);
	const char *reason = ex->reason;

	if (ex->has_status && !visible)
		reason = "permission";
	msgpack_pack_map(pk, 8);
	sku_pack_kv_uint(pk, "watch_id", c->w->id);
	sku_pack_kv_int(pk, "pid", ex->pid);
	sku_pack_kv_uint(pk, "start_time", ex->start_time);
	sku_exit_pack_status(pk, visible, ex->has_status, ex->wstatus);
	sku_pack_kv_bool(pk, "core_dumped",
	                 visible && ex->has_status && WIFSIGNALED(ex->wstatus) &&
	                         WCOREDUMP(ex->wstatus));
	sku_pack_kv_double(pk, "exited_at", ex->exited_at);
	sku_pack_kv_str(pk, "reason", reason);
}

static void pack_exiting(msgpack_packer *pk, void *ctx)
{
	const struct exited_ctx *c = ctx;

	msgpack_pack_map(pk, 4);
	sku_pack_kv_uint(pk, "watch_id", c->w->id);
	sku_pack_kv_int(pk, "pid", c->ex->pid);
	sku_pack_kv_uint(pk, "start_time", c->ex->start_time);
	sku_pack_kv_double(pk, "at", c->ex->exited_at);
}

static void on_watch_exiting(struct sku_wsub *sub, const struct sku_exit *ex)
{
	struct cwatch *w = sku_container_of(sub, struct cwatch, sub);
	struct exited_ctx ctx = {w, ex};

	/*
	 * A send over the connection's output limit closes it and frees this watch through its
	 * hook: nothing may touch w afterwards. The watch stays for its proc.exited.
	 */
	(void)sku_conn_notify(w->conn, "proc.exiting", pack_exiting, &ctx);
}

static void on_watch_exit(struct sku_wsub *sub, const struct sku_exit *ex)
{
	struct cwatch *w = sku_container_of(sub, struct cwatch, sub);
	struct exited_ctx ctx = {w, ex};

	/*
	 * Sending may close a connection whose output is over its limit, which runs its hooks
	 * at once: unhook first so this watch is not freed twice.
	 */
	sku_conn_remove_hook(&w->hook);
	(void)sku_conn_notify(w->conn, "proc.exited", pack_exited, &ctx);
	cwatch_free(w, false);
}

/*
 * Only a watcher that could read the exit code leaves its process lingering: for anyone else
 * the cached exit would hold nothing it may learn, and its watch-and-disconnect loops must
 * not push out what other clients left lingering.
 */
static void on_conn_close(struct sku_conn_hook *hook, struct sku_conn *conn)
{
	struct cwatch *w = sku_container_of(hook, struct cwatch, hook);

	(void)conn;
	cwatch_free(w, w->sub.wp && sku_proc_may_access(&w->peer, w->sub.wp->uid));
}

int sku_cwatch_add(struct sku_procmod *pm, struct sku_conn *conn, const struct sku_ident *id,
                   uid_t uid, int ref, bool exiting, bool *io_alive, uint64_t *ret_id)
{
	struct cwatch *w;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w) {
		sku_pidref_close(ref);
		return -ENOMEM;
	}
	w->pm = pm;
	w->conn = conn;
	w->peer = *sku_conn_peer(conn);
	w->sub.want_status = true;
	w->sub.on_exit = on_watch_exit;
	w->sub.on_exiting = exiting ? on_watch_exiting : NULL;
	r = sku_quota_take(pm, w->peer.uid, SKU_QUOTA_WATCH);
	if (r < 0) {
		sku_pidref_close(ref);
		free(w);
		return r;
	}
	r = sku_wproc_subscribe(pm, id, uid, ref, false, &w->sub);
	if (r != 0) {
		sku_quota_give(pm, w->peer.uid, SKU_QUOTA_WATCH);
		free(w);
		return r < 0 ? r : -ESRCH;
	}
	/* Shared with an earlier watch that has seen the exit already: the reply says so. */
	if (sku_wsub_exited(&w->sub))
		*io_alive = false;
	/* No proc.exiting for an exit the reply reports (a zombie when watched). */
	w->sub.announced = !*io_alive;
	w->id = sku_proc_next_id(pm);
	w->hook.on_close = on_conn_close;
	sku_conn_add_hook(conn, &w->hook);
	sku_htab_insert(&pm->watches, &w->node, w->id);
	pm->srv->nwatches++;
	sku_notify_status_changed(pm->srv);
	*ret_id = w->id;
	return 0;
}

int sku_cwatch_remove(struct sku_procmod *pm, struct sku_conn *conn, uint64_t id)
{
	for (struct sku_hnode *n = sku_htab_first(&pm->watches, id); n; n = sku_htab_next(n)) {
		struct cwatch *w = sku_container_of(n, struct cwatch, node);

		if (w->id == id && w->conn == conn) {
			cwatch_free(w, false);
			return 0;
		}
	}
	return -ENOENT;
}

void sku_cwatch_done(struct sku_procmod *pm)
{
	for (size_t i = 0; i < pm->watches.nbuckets; i++)
		while (pm->watches.buckets[i])
			cwatch_free(sku_container_of(pm->watches.buckets[i], struct cwatch, node),
			            false);
	sku_htab_done(&pm->watches);
}
