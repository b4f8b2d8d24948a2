/*
 * h_facts.c - facts.* methods and the module's life cycle.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "facts_mod.h"

/* The pid argument, or the caller's own pid from the socket credentials. */
static int target_pid(struct sku_call *call, const msgpack_object *arg, pid_t *ret)
{
	int64_t pid;

	if (!arg) {
		if (call->peer.pid <= 0)
			return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT,
			                      "pid required: the caller's pid is unknown here");
		*ret = call->peer.pid;
		return 0;
	}
	if (sku_obj_int64(arg, &pid) < 0 || pid <= 0 || pid > INT_MAX)
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT, "pid must be a positive pid");
	*ret = (pid_t)pid;
	return 0;
}

static int lookup_error(struct sku_call *call, pid_t pid, int r)
{
	switch (r) {
	case -ESRCH:
		return sku_call_error(call, SKU_ERR_NO_SUCH_PROCESS, "no process %d", (int)pid);
	case -EAGAIN:
		return sku_call_error(call, SKU_ERR_RESOURCE_EXHAUSTED,
		                      "too many subscribed cgroups or subscriptions");
	case -ENOMEM:
		return sku_call_error(call, SKU_ERR_RESOURCE_EXHAUSTED, "out of memory");
	default:
		return sku_call_error(call, SKU_ERR_INTERNAL, "facts: error %d", -r);
	}
}

static int h_get(struct sku_call *call, const msgpack_object *const *argv)
{
	struct sku_facts_entry *e;
	struct sku_proc_facts p;
	pid_t pid = 0;
	int r;

	r = target_pid(call, argv[0], &pid);
	if (r < 0)
		return r;
	r = sku_facts_lookup(call->srv->facts, pid, &p, &e);
	if (r < 0)
		return lookup_error(call, pid, r);
	return sku_facts_pack(&call->pk, e, &p, e->generation);
}

static int h_subscribe(struct sku_call *call, const msgpack_object *const *argv)
{
	struct sku_facts_sub *s;
	pid_t pid = 0;
	int r;

	r = target_pid(call, argv[0], &pid);
	if (r < 0)
		return r;
	r = sku_facts_subscribe(call->srv->facts, call->conn, pid, &s);
	if (r < 0)
		return lookup_error(call, pid, r);
	r = msgpack_pack_map(&call->pk, 2);
	r |= sku_pack_kv_uint(&call->pk, "subscription_id", s->id);
	r |= sku_pack_str(&call->pk, "facts");
	r |= sku_facts_pack(&call->pk, s->entry, &s->proc, s->generation);
	return r ? -ENOMEM : 0;
}

static int h_unsubscribe(struct sku_call *call, const msgpack_object *const *argv)
{
	int64_t id;

	if (sku_obj_int64(argv[0], &id) < 0 || id <= 0 ||
	    sku_facts_unsubscribe(call->srv->facts, call->conn, (uint64_t)id) < 0)
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT,
		                      "no such subscription on this connection");
	return msgpack_pack_true(&call->pk) ? -ENOMEM : 0;
}

/* The caller's derived facts, for the sizing helpers. */
static int caller_facts(struct sku_call *call, struct sku_facts_derived *ret_d,
                        struct sku_proc_facts *ret_p)
{
	struct sku_facts_entry *e;
	pid_t pid = 0;
	int r;

	r = target_pid(call, NULL, &pid);
	if (r < 0)
		return r;
	r = sku_facts_lookup(call->srv->facts, pid, ret_p, &e);
	if (r < 0)
		return lookup_error(call, pid, r);
	sku_facts_derive(&e->g, ret_p, ret_d);
	return 0;
}

static int cloud_arg(const msgpack_object *o, const char **ret, size_t *ret_len)
{
	*ret = NULL;
	*ret_len = 0;
	if (o) {
		*ret = o->via.str.ptr;
		*ret_len = o->via.str.size;
	}
	return 0;
}

/*
 * SkyPilot's thread count for the caller: from the truncated CPU count, what
 * get_cpu_count() answers, so the daemon and the drop-in helpers agree.
 */
static int caller_threads(struct sku_call *call, const msgpack_object *cloud_obj,
                          int64_t *ret_threads, struct sku_proc_facts *ret_p)
{
	struct sku_facts_derived d;
	const char *cloud;
	size_t cloud_len;
	int r;

	cloud_arg(cloud_obj, &cloud, &cloud_len);
	r = caller_facts(call, &d, ret_p);
	if (r < 0)
		return r;
	*ret_threads = sku_parallel_threads(d.cpu_count_floor, cloud, cloud_len);
	return 0;
}

static int h_parallel_threads(struct sku_call *call, const msgpack_object *const *argv)
{
	struct sku_proc_facts p;
	int64_t threads;
	int r;

	r = caller_threads(call, argv[0], &threads, &p);
	if (r < 0)
		return r;
	return msgpack_pack_int64(&call->pk, threads) ? -ENOMEM : 0;
}

static int h_max_workers(struct sku_call *call, const msgpack_object *const *argv)
{
	struct sku_proc_facts p;
	int64_t fds, threads;
	int r;

	if (sku_obj_int64(argv[0], &fds) < 0 || fds < 1)
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT,
		                      "fds_per_source must be >= 1");
	r = caller_threads(call, argv[1], &threads, &p);
	if (r < 0)
		return r;
	return msgpack_pack_int64(&call->pk, sku_max_workers(p.nofile_soft, fds, threads)) ? -ENOMEM
	                                                                                   : 0;
}

static const struct sku_argspec pid_args[] = {{"pid", SKU_ARG_INT, false}};
static const struct sku_argspec unsubscribe_args[] = {{"subscription_id", SKU_ARG_INT, true}};
static const struct sku_argspec threads_args[] = {{"cloud", SKU_ARG_STR, false}};
static const struct sku_argspec workers_args[] = {
        {"fds_per_source", SKU_ARG_INT, true},
        {"cloud", SKU_ARG_STR, false},
};

static const struct sku_method methods[] = {
        {"facts.get", h_get, pid_args, 1},
        {"facts.subscribe", h_subscribe, pid_args, 1},
        {"facts.unsubscribe", h_unsubscribe, unsubscribe_args, 1},
        {"facts.parallel_threads", h_parallel_threads, threads_args, 1},
        {"facts.max_workers_for_file_mounts", h_max_workers, workers_args, 2},
};

const struct sku_method_table sku_facts_methods = {methods, sizeof(methods) / sizeof(methods[0])};

int sku_facts_init(struct sku_server *srv)
{
	struct sku_facts *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	f->srv = srv;
	f->ino_fd = -1;
	sku_facts_env_init(&f->env, srv->cfg.sysroot);
	r = sku_facts_watch_init(f);
	if (r < 0) {
		free(f);
		return r;
	}
	srv->facts = f;
	return 0;
}

void sku_facts_done(struct sku_server *srv)
{
	if (!srv->facts)
		return;
	/* the state is freed by the last handle's close callback, on the next loop turn */
	sku_facts_watch_done(srv->facts);
	srv->facts = NULL;
}
