/*
 * guard.c - proc.guard: when one process exits, kill another's tree (what SkyPilot's
 * per-job subprocess_daemon.py did by polling). A guard belongs to the module, not to the
 * connection that created it; it ends when it fires, when its target goes away by itself,
 * or by proc.unguard.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pidref.h"
#include "proc_int.h"

struct guard {
	struct sku_list link; /* in pm->guards */
	struct sku_procmod *pm;
	uint64_t id;
	struct sku_guard_req req; /* start times resolved */
	struct sku_wsub wsub;     /* the watched process */
	struct sku_wsub tsub;     /* the target, to notice it ending by itself */
};

static void guard_free(struct guard *g)
{
	struct sku_server *srv = g->pm->srv;

	sku_list_del(&g->link);
	sku_wsub_cancel(&g->wsub);
	sku_wsub_cancel(&g->tsub);
	sku_quota_give(g->pm, g->req.auth.uid, SKU_QUOTA_GUARD);
	srv->nguards--;
	sku_notify_status_changed(srv);
	free(g);
}

static void kill_done(struct sku_killtree *kt, void *ctx)
{
	(void)ctx;
	sku_killtree_free(kt);
}

static void fire(struct sku_procmod *pm, const struct sku_guard_req *req)
{
	struct sku_killtree_req kr = {
	        .root = req->target,
	        .sig = req->sig,
	        .grace_s = req->grace_s,
	        .include_root = true,
	        .auth = req->auth,
	};
	struct sku_killtree *kt;
	int r;

	r = sku_killtree_start(pm, &kr, kill_done, NULL, &kt);
	if (r < 0 && r != -ESRCH && r != -ESTALE)
		sku_log(SKU_LOG_WARN, "guard: cannot kill the tree of pid %d: %s",
		        (int)req->target.pid, strerror(-r));
}

static void on_watch_exit(struct sku_wsub *sub, const struct sku_exit *ex)
{
	struct guard *g = sku_container_of(sub, struct guard, wsub);
	struct sku_procmod *pm = g->pm;
	struct sku_guard_req req = g->req;

	(void)ex;
	guard_free(g);
	fire(pm, &req);
}

static void on_target_exit(struct sku_wsub *sub, const struct sku_exit *ex)
{
	(void)ex;
	guard_free(sku_container_of(sub, struct guard, tsub));
}

int sku_guard_add(struct sku_procmod *pm, const struct sku_guard_req *req, uint64_t *ret_id,
                  bool *ret_fired)
{
	struct sku_pinfo tpi, wpi;
	struct guard *g;
	int tref, wref, r;

	*ret_id = 0;
	*ret_fired = false;
	r = sku_proc_lookup(pm, &req->target, &tpi, &tref);
	if (r < 0)
		return r;
	if (strcmp(tpi.state, "reused") == 0 || !tpi.alive) {
		sku_pidref_close(tref);
		return strcmp(tpi.state, "reused") == 0 ? -ESTALE : -ESRCH;
	}
	/* The daemon never arms a kill of itself, nor of init's tree unless init asks. */
	if (req->target.pid == getpid() || sku_proc_is_others_init(&req->auth, req->target.pid) ||
	    !sku_proc_may_access(&req->auth, tpi.has_uid ? tpi.uid : (uid_t)-1)) {
		sku_pidref_close(tref);
		return -EPERM;
	}
	r = sku_proc_lookup(pm, &req->watch, &wpi, &wref);
	if (r < 0) {
		sku_pidref_close(tref);
		return r;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		sku_pidref_close(tref);
		sku_pidref_close(wref);
		return -ENOMEM;
	}
	g->pm = pm;
	g->req = *req;
	g->req.target.has_start = true;
	g->req.target.start_time = tpi.start_time;
	sku_list_init(&g->link);
	g->wsub.on_exit = on_watch_exit;
	g->tsub.on_exit = on_target_exit;
	if (!wpi.alive) {
		/* The watched process has already ended: the guard fires at once. */
		sku_pidref_close(tref);
		sku_pidref_close(wref);
		fire(pm, &g->req);
		free(g);
		*ret_fired = true;
		return 0;
	}
	/* Armed, the guard counts against its user's limit: other ways out give it back. */
	r = sku_quota_take(pm, req->auth.uid, SKU_QUOTA_GUARD);
	if (r < 0) {
		sku_pidref_close(tref);
		sku_pidref_close(wref);
		free(g);
		return r;
	}
	g->req.watch.has_start = true;
	g->req.watch.start_time = wpi.start_time;
	r = sku_wproc_subscribe(pm, &g->req.target, tpi.uid, tref, true, &g->tsub);
	if (r != 0) {
		sku_pidref_close(wref);
		sku_quota_give(pm, req->auth.uid, SKU_QUOTA_GUARD);
		free(g);
		return r < 0 ? r : -ESRCH;
	}
	r = sku_wproc_subscribe(pm, &g->req.watch, wpi.uid, wref, true, &g->wsub);
	if (r != 0)
		sku_quota_give(pm, req->auth.uid, SKU_QUOTA_GUARD);
	if (r < 0) {
		sku_wsub_cancel(&g->tsub);
		free(g);
		return r;
	}
	if (r == 1) {
		sku_wsub_cancel(&g->tsub);
		fire(pm, &g->req);
		free(g);
		*ret_fired = true;
		return 0;
	}
	g->id = sku_proc_next_id(pm);
	sku_list_add_tail(&pm->guards, &g->link);
	pm->srv->nguards++;
	sku_notify_status_changed(pm->srv);
	*ret_id = g->id;
	return 0;
}

int sku_guard_remove(struct sku_procmod *pm, uint64_t id, const struct sku_peer *peer)
{
	for (struct sku_list *l = pm->guards.next; l != &pm->guards; l = l->next) {
		struct guard *g = sku_container_of(l, struct guard, link);

		/* Another user's guard is not there for this peer: not even its id is confirmed. */
		if (g->id != id || (peer->uid != 0 && peer->uid != g->req.auth.uid))
			continue;
		guard_free(g);
		return 0;
	}
	return -ENOENT;
}

static void pack_ident(msgpack_packer *pk, const char *key, const struct sku_ident *id)
{
	sku_pack_str(pk, key);
	msgpack_pack_map(pk, 2);
	sku_pack_kv_int(pk, "pid", id->pid);
	sku_pack_kv_uint(pk, "start_time", id->start_time);
}

void sku_guard_pack_list(struct sku_procmod *pm, msgpack_packer *pk, const struct sku_peer *peer)
{
	uint32_t n = 0;

	for (struct sku_list *l = pm->guards.next; l != &pm->guards; l = l->next) {
		struct guard *g = sku_container_of(l, struct guard, link);

		n += peer->uid == 0 || peer->uid == g->req.auth.uid;
	}
	msgpack_pack_array(pk, n);
	for (struct sku_list *l = pm->guards.next; l != &pm->guards; l = l->next) {
		struct guard *g = sku_container_of(l, struct guard, link);

		if (peer->uid != 0 && peer->uid != g->req.auth.uid)
			continue;
		msgpack_pack_map(pk, 6);
		sku_pack_kv_uint(pk, "guard_id", g->id);
		pack_ident(pk, "watch", &g->req.watch);
		pack_ident(pk, "target", &g->req.target);
		sku_pack_kv_double(pk, "grace_s", g->req.grace_s);
		sku_pack_kv_int(pk, "signal", g->req.sig);
		sku_pack_kv_uint(pk, "uid", g->req.auth.uid);
	}
}

void sku_guard_done(struct sku_procmod *pm)
{
	while (!sku_list_empty(&pm->guards))
		guard_free(sku_container_of(pm->guards.next, struct guard, link));
}
