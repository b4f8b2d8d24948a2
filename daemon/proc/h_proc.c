/*
 * h_proc.c - the proc.* methods: argument checks, authorization, replies.
 *
 * Authorization: liveness and identity of any visible pid are public, as in ps. Signalling,
 * killing and guarding need the peer to be root or the target's owner (real uid); exit
 * statuses are shown only to them (see sku_pinfo_pack).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "pidref.h"
#include "proc_int.h"
#include "signame.h"

#define GRACE_DEFAULT_S 10.0

static struct sku_procmod *module(struct sku_call *call)
{
	return call->srv->proc;
}

/* pid: a positive integer that fits pid_t. */
static int parse_pid(struct sku_call *call, const msgpack_object *o, const char *what, pid_t *ret)
{
	int64_t v;

	if (sku_obj_int64(o, &v) < 0 || v <= 0 || v > INT_MAX)
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT,
		                      "%s: pid must be a positive integer", what);
	*ret = (pid_t)v;
	return 0;
}

static int parse_start(struct sku_call *call, const msgpack_object *o, const char *what,
                       struct sku_ident *id)
{
	int64_t v;

	id->has_start = false;
	if (!o || o->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (sku_obj_int64(o, &v) < 0 || v < 0)
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT,
		                      "%s: start_time must be a non-negative integer", what);
	id->has_start = true;
	id->start_time = (uint64_t)v;
	return 0;
}

/* A process given as pid or {pid, start_time?}. */
static int parse_ident(struct sku_call *call, const msgpack_object *o, const char *what,
                       struct sku_ident *id)
{
	const msgpack_object *pid = NULL, *start = NULL;
	int r;

	if (o->type != MSGPACK_OBJECT_MAP) {
		id->has_start = false;
		return parse_pid(call, o, what, &id->pid);
	}
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];

		if (sku_obj_str_eq(&kv->key, "pid") && !pid)
			pid = &kv->val;
		else if (sku_obj_str_eq(&kv->key, "start_time") && !start)
			start = &kv->val;
		else
			return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT,
			                      "%s: only pid and start_time are allowed", what);
	}
	if (!pid)
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT, "%s: pid is required", what);
	r = parse_pid(call, pid, what, &id->pid);
	if (r < 0)
		return r;
	return parse_start(call, start, what, id);
}

/* The {pid, start_time?} pair that leads the arguments of watch, children and kill_tree. */
static int parse_args_ident(struct sku_call *call, const msgpack_object *const *argv,
                            struct sku_ident *id)
{
	int r = parse_pid(call, argv[0], "pid", &id->pid);

	return r < 0 ? r : parse_start(call, argv[1], "start_time", id);
}

static int parse_signal(struct sku_call *call, const msgpack_object *o, int *ret)
{
	int64_t v;
	int sig;

	*ret = SIGTERM;
	if (!o)
		return 0;
	if (o->type == MSGPACK_OBJECT_STR)
		sig = sku_signal_from_name(o->via.str.ptr, o->via.str.size);
	else
		sig = sku_obj_int64(o, &v) < 0 ? -EINVAL : sku_signal_from_int(v);
	if (sig < 0)
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT,
		                      "signal must be a name such as \"TERM\" or a number 1..%d",
		                      sku_signal_max());
	*ret = sig;
	return 0;
}

static int parse_grace(struct sku_call *call, const msgpack_object *o, double *ret)
{
	*ret = GRACE_DEFAULT_S;
	if (!o)
		return 0;
	if (sku_obj_double(o, ret) < 0 || !(*ret >= 0 && *ret <= SKU_GRACE_MAX_S))
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT,
		                      "grace_s must be between 0 and %.0f", SKU_GRACE_MAX_S);
	return 0;
}

/* Said before killtree.c or guard.c refuse it too, for a message that says why. */
static int refuse_init(struct sku_call *call, const char *what, pid_t pid)
{
	if (!sku_proc_is_others_init(&call->peer, pid))
		return 0;
	return sku_call_error(call, SKU_ERR_PERMISSION_DENIED,
	                      "%s: pid 1 (init) is never signalled: its tree is every process",
	                      what);
}

/* A non-root user at --max-user-watches or --max-user-guards (quota.c). */
static int quota_error(struct sku_call *call, const char *what, const char *kind, unsigned limit)
{
	return sku_call_error(call, SKU_ERR_RESOURCE_EXHAUSTED,
	                      "%s: this user holds %u %s, as many as one user may "
	                      "(skyutild --max-user-%s)",
	                      what, limit, kind, kind);
}

static int errno_error(struct sku_call *call, int r, const char *what)
{
	switch (r) {
	case -EMFILE:
	case -ENFILE:
		return sku_call_error(call, SKU_ERR_RESOURCE_EXHAUSTED,
		                      "%s: out of watch budget (file descriptors)", what);
	case -ENOMEM:
		return sku_call_error(call, SKU_ERR_RESOURCE_EXHAUSTED, "%s: out of memory", what);
	case -ESRCH:
		return sku_call_error(call, SKU_ERR_NO_SUCH_PROCESS, "%s: no such process", what);
	case -ESTALE:
		return sku_call_error(call, SKU_ERR_PID_REUSED,
		                      "%s: the pid now belongs to another process", what);
	case -EPERM:
		return sku_call_error(call, SKU_ERR_PERMISSION_DENIED,
		                      "%s: only root or the process's owner may do this", what);
	case -ESHUTDOWN:
		return sku_call_error(call, SKU_ERR_UNAVAILABLE, "%s: the daemon is stopping",
		                      what);
	case -ENOSYS:
		return sku_call_error(call, SKU_ERR_UNAVAILABLE,
		                      "%s: this kernel or sandbox offers no pidfds (pidfd_open)",
		                      what);
	default:
		return sku_call_error(call, SKU_ERR_INTERNAL, "%s: %s", what, strerror(-r));
	}
}

/* ---- proc.status ---- */

static const struct sku_argspec status_args[] = {
        {"procs", SKU_ARG_ARRAY, true},
        {"fields", SKU_ARG_ARRAY, false},
};

static int parse_fields(struct sku_call *call, const msgpack_object *o, unsigned *ret)
{
	*ret = SKU_PF_ALL;
	if (!o)
		return 0;
	if (o->via.array.size == 0)
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT,
		                      "fields: name at least one field");
	*ret = 0;
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		const msgpack_object *f = &o->via.array.ptr[i];
		unsigned bit = 0;

		if (f->type == MSGPACK_OBJECT_STR)
			bit = sku_pinfo_field(f->via.str.ptr, f->via.str.size);
		if (!bit && f->type == MSGPACK_OBJECT_STR) {
			char shown[SKU_NAME_SHOWN_MAX + 4];

			sku_shown_name(f->via.str.ptr, f->via.str.size, shown, sizeof(shown));
			return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT,
			                      "fields: no field named \"%s\"", shown);
		}
		if (!bit)
			return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT,
			                      "fields: field names must be strings");
		*ret |= bit;
	}
	return 0;
}

/*
 * Without state, ppid or uid, nothing needs a fresh /proc read of a process known alive:
 * such requests (liveness and identity) are served by the liveness cache. Big batches are
 * answered over several loop turns (statusjob.c).
 */
static int h_status(struct sku_call *call, const msgpack_object *const *argv)
{
	const msgpack_object_array *a = &argv[0]->via.array;
	unsigned max = call->srv->cfg.max_batch ? call->srv->cfg.max_batch : SKU_MAX_BATCH_DEFAULT;
	struct sku_ident *ids;
	unsigned fields;
	int r;

	if (a->size > max)
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT,
		                      "procs: at most %u entries per request", max);
	r = parse_fields(call, argv[1], &fields);
	if (r < 0)
		return r;
	/* Check every entry before packing anything: a failing handler packs nothing. */
	ids = calloc(a->size ? a->size : 1, sizeof(*ids));
	if (!ids)
		return sku_call_error(call, SKU_ERR_RESOURCE_EXHAUSTED, "out of memory");
	for (uint32_t i = 0; i < a->size && r == 0; i++)
		r = parse_ident(call, &a->ptr[i], "procs", &ids[i]);
	if (r < 0) {
		free(ids);
		return r;
	}
	return sku_status_answer(module(call), call, ids, a->size, fields);
}

/* ---- proc.watch / proc.unwatch ---- */

static const struct sku_argspec watch_args[] = {
        {"pid", SKU_ARG_INT, true},
        {"start_time", SKU_ARG_INT, false},
        {"exiting", SKU_ARG_BOOL, false},
};

static int h_watch(struct sku_call *call, const msgpack_object *const *argv)
{
	struct sku_procmod *pm = module(call);
	struct sku_ident id;
	struct sku_pinfo pi;
	uint64_t wid = 0;
	int ref, r;

	r = parse_args_ident(call, argv, &id);
	if (r < 0)
		return r;
	r = sku_proc_lookup(pm, &id, &pi, &ref);
	if (r < 0)
		return errno_error(call, r, "proc.watch");
	if (ref >= 0) {
		struct sku_ident exact = {id.pid, true, pi.start_time};
		bool exiting = argv[2] && argv[2]->via.boolean;
		bool alive = pi.alive;

		r = sku_cwatch_add(pm, call->conn, &exact, pi.has_uid ? pi.uid : (uid_t)-1, ref,
		                   exiting, &alive, &wid);
		if (r == 0 && pi.alive && !alive) {
			/* It exited since the lookup, as the watch it shares has seen. */
			pi.alive = false;
			pi.state = "zombie";
			pi.reason = "exited; not yet reaped by its parent";
		}
		if (r == -ESRCH) {
			/* Ended between the lookup and the watch: answer as for a gone process. */
			r = sku_proc_lookup(pm, &exact, &pi, NULL);
			wid = 0;
		}
		if (r == -EDQUOT)
			return quota_error(call, "proc.watch", "watches",
			                   call->srv->cfg.max_user_watches);
		if (r < 0)
			return errno_error(call, r, "proc.watch");
	}
	sku_pinfo_pack(pm, &call->pk, &pi, &call->peer, SKU_PF_ALL, 1);
	if (wid)
		sku_pack_kv_uint(&call->pk, "watch_id", wid);
	else
		sku_pack_kv_nil(&call->pk, "watch_id");
	return 0;
}

static const struct sku_argspec id_args_watch[] = {
        {"watch_id", SKU_ARG_INT, true},
};

static int h_unwatch(struct sku_call *call, const msgpack_object *const *argv)
{
	int64_t id;

	if (sku_obj_int64(argv[0], &id) < 0 || id <= 0 ||
	    sku_cwatch_remove(module(call), call->conn, (uint64_t)id) < 0)
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT,
		                      "no such watch on this connection");
	msgpack_pack_true(&call->pk);
	return 0;
}

/* ---- proc.children ---- */

static const struct sku_argspec children_args[] = {
        {"pid", SKU_ARG_INT, true},
        {"start_time", SKU_ARG_INT, false},
        {"recursive", SKU_ARG_BOOL, false},
};

static int h_children(struct sku_call *call, const msgpack_object *const *argv)
{
	struct sku_procmod *pm = module(call);
	bool recursive = argv[2] && argv[2]->via.boolean;
	struct sku_procent root, *kids = NULL;
	struct sku_ident id;
	struct sku_pinfo pi;
	size_t n = 0;
	int ref, r;

	r = parse_args_ident(call, argv, &id);
	if (r < 0)
		return r;
	r = sku_proc_lookup(pm, &id, &pi, &ref);
	if (r < 0)
		return errno_error(call, r, "proc.children");
	if (strcmp(pi.state, "reused") == 0)
		return errno_error(call, -ESTALE, "proc.children");
	if (ref < 0 && strcmp(pi.state, "gone") == 0)
		return errno_error(call, -ESRCH, "proc.children");
	root = (struct sku_procent){id.pid, pi.ppid, pi.start_time};
	/* A zombie's children have already been handed to a reaper: it has none. */
	if (pi.alive) {
		r = sku_tree_children(&root, recursive, &kids, &n);
		/* Had the root died meanwhile, its pid could have named someone else's children. */
		if (r == 0 && ref >= 0 && sku_pidref_verify(ref, id.pid, NULL) < 0)
			r = -ESRCH;
	}
	sku_pidref_close(ref);
	if (r < 0) {
		free(kids);
		return errno_error(call, r == -E2BIG ? -ENOMEM : r, "proc.children");
	}
	msgpack_pack_array(&call->pk, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		msgpack_pack_map(&call->pk, 4);
		sku_pack_kv_int(&call->pk, "pid", kids[i].pid);
		sku_pack_kv_uint(&call->pk, "start_time", kids[i].start_time);
		sku_pack_kv_double(&call->pk, "create_time",
		                   sku_proc_create_time(pm, kids[i].start_time));
		sku_pack_kv_int(&call->pk, "ppid", kids[i].ppid);
	}
	free(kids);
	return 0;
}

/* ---- proc.kill_tree ---- */

static const struct sku_argspec kill_args[] = {
        {"pid", SKU_ARG_INT, true},
        {"start_time", SKU_ARG_INT, false},
        {"signal", SKU_ARG_INT_OR_STR, false},
        {"grace_s", SKU_ARG_NUMBER, false},
        {"include_root", SKU_ARG_BOOL, false},
};

static void kill_done(struct sku_killtree *kt, void *ctx)
{
	struct sku_call *call = ctx;

	sku_killtree_pack(kt, &call->pk);
	sku_killtree_free(kt);
	sku_call_finish(call, 0);
}

static void kill_cancel(struct sku_call *call)
{
	sku_killtree_free(call->ctx);
	call->ctx = NULL;
	sku_call_finish(call, sku_call_error(call, SKU_ERR_UNAVAILABLE, "the daemon is stopping"));
}

static int h_kill_tree(struct sku_call *call, const msgpack_object *const *argv)
{
	struct sku_killtree_req req = {.include_root = true, .auth = call->peer};
	struct sku_killtree *kt;
	int r;

	r = parse_args_ident(call, argv, &req.root);
	if (r == 0)
		r = parse_signal(call, argv[2], &req.sig);
	if (r == 0)
		r = parse_grace(call, argv[3], &req.grace_s);
	if (r < 0)
		return r;
	if (argv[4])
		req.include_root = argv[4]->via.boolean;
	r = refuse_init(call, "proc.kill_tree", req.root.pid);
	if (r < 0)
		return r;
	r = sku_killtree_start(module(call), &req, kill_done, call, &kt);
	if (r == -ESRCH) {
		/* Killing what is already dead succeeds: the caller's goal holds. */
		msgpack_pack_map(&call->pk, 4);
		sku_pack_str(&call->pk, "signalled");
		msgpack_pack_array(&call->pk, 0);
		sku_pack_str(&call->pk, "killed");
		msgpack_pack_array(&call->pk, 0);
		sku_pack_str(&call->pk, "already_gone");
		msgpack_pack_array(&call->pk, 1);
		msgpack_pack_int64(&call->pk, req.root.pid);
		sku_pack_str(&call->pk, "denied");
		msgpack_pack_array(&call->pk, 0);
		return 0;
	}
	if (r < 0)
		return errno_error(call, r, "proc.kill_tree");
	call->cancel = kill_cancel;
	call->ctx = kt;
	return SKU_CALL_DEFERRED;
}

/* ---- proc.guard / proc.unguard / proc.guards ---- */

static const struct sku_argspec guard_args[] = {
        {"watch", SKU_ARG_MAP, true},
        {"target", SKU_ARG_MAP, true},
        {"grace_s", SKU_ARG_NUMBER, false},
        {"signal", SKU_ARG_INT_OR_STR, false},
};

static int h_guard(struct sku_call *call, const msgpack_object *const *argv)
{
	struct sku_guard_req req = {.auth = call->peer};
	uint64_t id;
	bool fired;
	int r;

	r = parse_ident(call, argv[0], "watch", &req.watch);
	if (r == 0)
		r = parse_ident(call, argv[1], "target", &req.target);
	if (r == 0)
		r = parse_grace(call, argv[2], &req.grace_s);
	if (r == 0)
		r = parse_signal(call, argv[3], &req.sig);
	if (r == 0)
		r = refuse_init(call, "proc.guard", req.target.pid);
	if (r < 0)
		return r;
	r = sku_guard_add(module(call), &req, &id, &fired);
	if (r == -EDQUOT)
		return quota_error(call, "proc.guard", "guards", call->srv->cfg.max_user_guards);
	if (r < 0)
		return errno_error(call, r, "proc.guard");
	msgpack_pack_map(&call->pk, 2);
	if (id)
		sku_pack_kv_uint(&call->pk, "guard_id", id);
	else
		sku_pack_kv_nil(&call->pk, "guard_id");
	sku_pack_kv_bool(&call->pk, "fired", fired);
	return 0;
}

static const struct sku_argspec id_args_guard[] = {
        {"guard_id", SKU_ARG_INT, true},
};

static int h_unguard(struct sku_call *call, const msgpack_object *const *argv)
{
	int64_t id;
	int r = -ENOENT;

	if (sku_obj_int64(argv[0], &id) == 0 && id > 0)
		r = sku_guard_remove(module(call), (uint64_t)id, &call->peer);
	if (r < 0)
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT, "no such guard");
	msgpack_pack_true(&call->pk);
	return 0;
}

static int h_guards(struct sku_call *call, const msgpack_object *const *argv)
{
	(void)argv;
	sku_guard_pack_list(module(call), &call->pk, &call->peer);
	return 0;
}

#define ARGS(a) a, (uint8_t)(sizeof(a) / sizeof((a)[0]))

static const struct sku_method methods[] = {
        {"proc.status", h_status, ARGS(status_args)},
        {"proc.watch", h_watch, ARGS(watch_args)},
        {"proc.unwatch", h_unwatch, ARGS(id_args_watch)},
        {"proc.children", h_children, ARGS(children_args)},
        {"proc.kill_tree", h_kill_tree, ARGS(kill_args)},
        {"proc.guard", h_guard, ARGS(guard_args)},
        {"proc.unguard", h_unguard, ARGS(id_args_guard)},
        {"proc.guards", h_guards, NULL, 0},
};

const struct sku_method_table sku_proc_methods = {methods, sizeof(methods) / sizeof(methods[0])};
