/*
 * proc.c - process status, watches, exit events, trees and guards.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "skyutil/skyutil.h"

#include "sku_client.h"

/*
 * proc.status requests are split so that each request stays well below the daemon's
 * default 1 MiB message limit (an identity packs to at most ~30 bytes) and each reply
 * (~200 bytes per entry) far below SKU_CLIENT_MAX_MESSAGE.
 */
#define STATUS_CHUNK 16384

static const char *const state_names[] = {
        [SKYUTIL_PROC_RUNNING] = "running", [SKYUTIL_PROC_SLEEPING] = "sleeping",
        [SKYUTIL_PROC_STOPPED] = "stopped", [SKYUTIL_PROC_ZOMBIE] = "zombie",
        [SKYUTIL_PROC_GONE] = "gone",       [SKYUTIL_PROC_REUSED] = "reused",
};

const char *skyutil_proc_state_name(enum skyutil_proc_state state)
{
	if ((unsigned)state >= sizeof(state_names) / sizeof(state_names[0]))
		return "unknown";
	return state_names[state];
}

static int timeout_of(const struct skyutil_client *c, int timeout_ms)
{
	return timeout_ms < 0 ? c->timeout_ms : timeout_ms;
}

/* Arguments are built in a private buffer: c->sbuf holds the request itself. */
struct args {
	msgpack_sbuffer buf;
	msgpack_packer pk;
};

static void args_init(struct args *a)
{
	msgpack_sbuffer_init(&a->buf);
	msgpack_packer_init(&a->pk, &a->buf, msgpack_sbuffer_write);
}

static int pack_id_map(msgpack_packer *pk, struct skyutil_proc_id id)
{
	if (msgpack_pack_map(pk, id.start_time >= 0 ? 2 : 1) < 0 ||
	    sku_pack_kv_int(pk, "pid", id.pid) < 0)
		return -ENOMEM;
	if (id.start_time >= 0 && sku_pack_kv_int(pk, "start_time", id.start_time) < 0)
		return -ENOMEM;
	return 0;
}

/* pid and start_time as two members of an enclosing map. */
static int pack_id_members(msgpack_packer *pk, struct skyutil_proc_id id)
{
	if (sku_pack_kv_int(pk, "pid", id.pid) < 0)
		return -ENOMEM;
	if (id.start_time >= 0 && sku_pack_kv_int(pk, "start_time", id.start_time) < 0)
		return -ENOMEM;
	return 0;
}

static bool valid_id(struct skyutil_proc_id id)
{
	return id.pid > 0 && id.pid <= INT32_MAX;
}

static int parse_state(const msgpack_object *map, enum skyutil_proc_state *ret)
{
	const msgpack_object *o = sku_map_get(map, "state");

	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		if (o && sku_obj_str_eq(o, state_names[i])) {
			*ret = (enum skyutil_proc_state)i;
			return 0;
		}
	}
	return -EBADMSG;
}

static int parse_status(const msgpack_object *o, struct skyutil_proc_status *ret)
{
	struct skyutil_proc_status s = {0};
	bool alive;

	if (!o || o->type != MSGPACK_OBJECT_MAP || sku_get_int(o, "pid", 0, &s.pid) < 0 ||
	    sku_get_bool(o, "alive", false, &alive) < 0 || parse_state(o, &s.state) < 0 ||
	    sku_get_int(o, "start_time", -1, &s.start_time) < 0 ||
	    sku_get_double(o, "create_time", 0, &s.create_time) < 0 ||
	    sku_get_int(o, "ppid", -1, &s.ppid) < 0 || sku_get_int(o, "uid", -1, &s.uid) < 0 ||
	    sku_get_int(o, "exit_code", -1, &s.exit_code) < 0 ||
	    sku_get_int(o, "signal", 0, &s.signal) < 0)
		return -EBADMSG;
	s.alive = alive;
	*ret = s;
	return 0;
}

/* Where a chunk's answers go: full entries, or only liveness (proc.status "fields"). */
struct status_out {
	struct skyutil_proc_status *status;
	int *alive;
};

static int parse_alive(const msgpack_object *o, int *ret)
{
	bool alive;

	if (!o || o->type != MSGPACK_OBJECT_MAP || sku_get_bool(o, "alive", false, &alive) < 0)
		return -EBADMSG;
	*ret = alive;
	return 0;
}

static int status_chunk(struct skyutil_client *c, const struct skyutil_proc_id *ids, size_t n,
                        int64_t deadline, struct status_out out)
{
	const msgpack_object *res;
	struct args a;
	int rc = -ENOMEM;

	args_init(&a);
	if (msgpack_pack_map(&a.pk, out.alive ? 2 : 1) < 0 || sku_pack_str(&a.pk, "procs") < 0 ||
	    msgpack_pack_array(&a.pk, (uint32_t)n) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		/* A bare pid is the compact form when no start time pins the identity. */
		if (ids[i].start_time < 0 ? msgpack_pack_int64(&a.pk, ids[i].pid) < 0
		                          : pack_id_map(&a.pk, ids[i]) < 0)
			goto out;
	}
	/* Liveness only: the daemon answers live processes it already knows from memory. */
	if (out.alive && (sku_pack_str(&a.pk, "fields") < 0 || msgpack_pack_array(&a.pk, 1) < 0 ||
	                  sku_pack_str(&a.pk, "alive") < 0))
		goto out;
	rc = sku_client_request(c, "proc.status", a.buf.data, a.buf.size, deadline, &res);
	if (rc < 0)
		goto out;
	rc = -EBADMSG;
	if (res->type != MSGPACK_OBJECT_ARRAY || res->via.array.size != n)
		goto out;
	for (size_t i = 0; i < n; i++) {
		rc = out.alive ? parse_alive(&res->via.array.ptr[i], &out.alive[i])
		               : parse_status(&res->via.array.ptr[i], &out.status[i]);
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	msgpack_sbuffer_destroy(&a.buf);
	return rc;
}

/* proc.status in chunks into a temporary, so outputs are untouched on failure. */
static int status_all(struct skyutil_client *c, const struct skyutil_proc_id *ids, size_t n,
                      int timeout_ms, void *ret, size_t size, bool alive)
{
	struct status_out out;
	int64_t deadline;
	void *tmp;
	int rc = 0;

	if (!c || (n && (!ids || !ret)) || n > SIZE_MAX / size)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!valid_id(ids[i]))
			return -EINVAL;
	if (n == 0)
		return 0;
	tmp = malloc(n * size);
	if (!tmp)
		return -ENOMEM;
	deadline = sku_client_deadline(timeout_of(c, timeout_ms));
	for (size_t off = 0; off < n && rc == 0; off += STATUS_CHUNK) {
		if (alive)
			out = (struct status_out){.alive = (int *)tmp + off};
		else
			out = (struct status_out){.status =
			                                  (struct skyutil_proc_status *)tmp + off};
		rc = status_chunk(c, ids + off, n - off < STATUS_CHUNK ? n - off : STATUS_CHUNK,
		                  deadline, out);
	}
	if (rc == 0)
		memcpy(ret, tmp, n * size);
	free(tmp);
	return rc;
}

int skyutil_proc_status(skyutil_client *c, const struct skyutil_proc_id *ids, size_t n,
                        int timeout_ms, struct skyutil_proc_status *ret_status)
{
	return status_all(c, ids, n, timeout_ms, ret_status, sizeof(*ret_status), false);
}

int skyutil_proc_alive(skyutil_client *c, const struct skyutil_proc_id *ids, size_t n,
                       int timeout_ms, int *ret_alive)
{
	return status_all(c, ids, n, timeout_ms, ret_alive, sizeof(*ret_alive), true);
}

int skyutil_proc_watch(skyutil_client *c, struct skyutil_proc_id id, int timeout_ms,
                       int64_t *ret_watch_id, struct skyutil_proc_status *ret_status)
{
	struct skyutil_proc_status s;
	const msgpack_object *res;
	int64_t watch_id;
	struct args a;
	int rc;

	if (!c || !valid_id(id))
		return -EINVAL;
	args_init(&a);
	rc = pack_id_map(&a.pk, id);
	if (rc == 0)
		rc = sku_client_request(c, "proc.watch", a.buf.data, a.buf.size,
		                        sku_client_deadline(timeout_of(c, timeout_ms)), &res);
	msgpack_sbuffer_destroy(&a.buf);
	if (rc < 0)
		return rc;
	if (sku_get_int(res, "watch_id", 0, &watch_id) < 0 || watch_id < 0 ||
	    parse_status(res, &s) < 0)
		return -EBADMSG;
	if (ret_watch_id)
		*ret_watch_id = watch_id;
	if (ret_status)
		*ret_status = s;
	return 0;
}

static int call_id_true(struct skyutil_client *c, const char *method, const char *key, int64_t id,
                        int timeout_ms)
{
	const msgpack_object *res;
	struct args a;
	int rc = -ENOMEM;

	args_init(&a);
	if (msgpack_pack_map(&a.pk, 1) == 0 && sku_pack_kv_int(&a.pk, key, id) == 0)
		rc = sku_client_request(c, method, a.buf.data, a.buf.size,
		                        sku_client_deadline(timeout_of(c, timeout_ms)), &res);
	msgpack_sbuffer_destroy(&a.buf);
	if (rc < 0)
		return rc;
	return res->type == MSGPACK_OBJECT_BOOLEAN && res->via.boolean ? 0 : -EBADMSG;
}

int skyutil_proc_unwatch(skyutil_client *c, int64_t watch_id, int timeout_ms)
{
	struct sku_note *n;
	int rc;

	if (!c || watch_id <= 0)
		return -EINVAL;
	rc = call_id_true(c, "proc.unwatch", "watch_id", watch_id, timeout_ms);
	/* An exit that raced the unwatch must not be reported later. */
	while ((n = sku_client_take_exit(c, watch_id)))
		free(n);
	return rc;
}

static int parse_exit(const struct sku_note *n, struct skyutil_exit *ret)
{
	struct skyutil_exit e = {0};
	msgpack_object o;
	msgpack_zone zone;
	size_t off = 0;
	bool core;
	int rc = -EBADMSG;

	if (!msgpack_zone_init(&zone, 1024))
		return -ENOMEM;
	if (msgpack_unpack(n->params, n->len, &off, &zone, &o) == MSGPACK_UNPACK_SUCCESS &&
	    o.type == MSGPACK_OBJECT_MAP && sku_get_int(&o, "watch_id", 0, &e.watch_id) == 0 &&
	    sku_get_int(&o, "pid", 0, &e.pid) == 0 &&
	    sku_get_int(&o, "start_time", -1, &e.start_time) == 0 &&
	    sku_get_int(&o, "exit_code", -1, &e.exit_code) == 0 &&
	    sku_get_int(&o, "signal", 0, &e.signal) == 0 &&
	    sku_get_bool(&o, "core_dumped", false, &core) == 0 &&
	    sku_get_double(&o, "exited_at", 0, &e.exited_at) == 0 &&
	    sku_get_str(&o, "reason", e.reason, sizeof(e.reason)) == 0) {
		e.core_dumped = core;
		*ret = e;
		rc = 0;
	}
	msgpack_zone_destroy(&zone);
	return rc;
}

int skyutil_proc_wait(skyutil_client *c, int64_t watch_id, int timeout_ms,
                      struct skyutil_exit *ret_exit)
{
	int64_t deadline = sku_client_deadline(timeout_ms);
	struct sku_note *n;
	int rc;

	if (!c || watch_id <= 0)
		return -EINVAL;
	for (;;) {
		/* Look before failing: the exit may have arrived just before the daemon went. */
		n = sku_client_take_exit(c, watch_id);
		if (!n) {
			rc = c->err ? c->err : sku_client_drain(c);
			n = sku_client_take_exit(c, watch_id);
			if (!n && rc < 0)
				return rc;
		}
		if (n) {
			struct skyutil_exit e;

			rc = parse_exit(n, &e);
			free(n);
			if (rc == 0 && ret_exit)
				*ret_exit = e;
			return rc;
		}
		rc = sku_client_wait_input(c, deadline);
		if (rc < 0 && rc != -EPIPE)
			return rc;
	}
}

int skyutil_proc_children(skyutil_client *c, struct skyutil_proc_id id, int recursive,
                          int timeout_ms, struct skyutil_proc_id **ret_children, size_t *ret_n)
{
	struct skyutil_proc_id *kids = NULL;
	const msgpack_object *res;
	struct args a;
	size_t n;
	int rc = -ENOMEM;

	if (!c || !valid_id(id) || !ret_children || !ret_n)
		return -EINVAL;
	args_init(&a);
	if (msgpack_pack_map(&a.pk, id.start_time >= 0 ? 3 : 2) == 0 &&
	    pack_id_members(&a.pk, id) == 0 && sku_pack_kv_bool(&a.pk, "recursive", recursive) == 0)
		rc = sku_client_request(c, "proc.children", a.buf.data, a.buf.size,
		                        sku_client_deadline(timeout_of(c, timeout_ms)), &res);
	msgpack_sbuffer_destroy(&a.buf);
	if (rc < 0)
		return rc;
	if (res->type != MSGPACK_OBJECT_ARRAY)
		return -EBADMSG;
	n = res->via.array.size;
	if (n) {
		kids = calloc(n, sizeof(*kids));
		if (!kids)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const msgpack_object *o = &res->via.array.ptr[i];

		if (o->type != MSGPACK_OBJECT_MAP || sku_get_int(o, "pid", 0, &kids[i].pid) < 0 ||
		    sku_get_int(o, "start_time", -1, &kids[i].start_time) < 0) {
			free(kids);
			return -EBADMSG;
		}
	}
	*ret_children = kids;
	*ret_n = n;
	return 0;
}

static int count_array(const msgpack_object *map, const char *key, size_t *ret)
{
	const msgpack_object *o = sku_map_get(map, key);

	if (!o || o->type != MSGPACK_OBJECT_ARRAY)
		return -EBADMSG;
	*ret = o->via.array.size;
	return 0;
}

int skyutil_proc_kill_tree(skyutil_client *c, struct skyutil_proc_id id, int signal, double grace_s,
                           int include_root, int timeout_ms, struct skyutil_kill_result *ret_result)
{
	struct skyutil_kill_result r;
	const msgpack_object *res;
	struct args a;
	uint32_t nkeys;
	int rc = -ENOMEM;

	if (!c || !valid_id(id) || signal < 0 || signal > 64 || isnan(grace_s) ||
	    grace_s > 86400.0 * 365)
		return -EINVAL;
	/* The reply comes only when the tree is gone: wait for the grace period on top. */
	if (timeout_ms < 0) {
		double t = c->timeout_ms + (grace_s < 0 ? 10.0 : grace_s) * 1000 + 1;

		timeout_ms = t > INT32_MAX ? INT32_MAX : (int)t;
	}
	nkeys = 2 + (id.start_time >= 0) + (signal > 0) + (grace_s >= 0);
	args_init(&a);
	if (msgpack_pack_map(&a.pk, nkeys) < 0 || pack_id_members(&a.pk, id) < 0 ||
	    sku_pack_kv_bool(&a.pk, "include_root", include_root) < 0 ||
	    (signal > 0 && sku_pack_kv_int(&a.pk, "signal", signal) < 0) ||
	    (grace_s >= 0 && sku_pack_kv_double(&a.pk, "grace_s", grace_s) < 0))
		goto out;
	rc = sku_client_request(c, "proc.kill_tree", a.buf.data, a.buf.size,
	                        sku_client_deadline(timeout_ms), &res);
	if (rc < 0)
		goto out;
	rc = -EBADMSG;
	if (res->type != MSGPACK_OBJECT_MAP || count_array(res, "signalled", &r.signalled) < 0 ||
	    count_array(res, "killed", &r.killed) < 0 ||
	    count_array(res, "already_gone", &r.already_gone) < 0)
		goto out;
	if (ret_result)
		*ret_result = r;
	rc = 0;
out:
	msgpack_sbuffer_destroy(&a.buf);
	return rc;
}

int skyutil_proc_guard_signal(skyutil_client *c, struct skyutil_proc_id watch,
                              struct skyutil_proc_id target, int signal, double grace_s,
                              int timeout_ms, int64_t *ret_guard_id)
{
	const msgpack_object *res;
	int64_t guard_id;
	struct args a;
	bool fired;
	int rc = -ENOMEM;

	if (!c || !valid_id(watch) || !valid_id(target) || signal < 0 || signal > 64 ||
	    isnan(grace_s) || grace_s > 86400.0 * 365)
		return -EINVAL;
	args_init(&a);
	if (msgpack_pack_map(&a.pk, 2 + (signal > 0) + (grace_s >= 0)) == 0 &&
	    sku_pack_str(&a.pk, "watch") == 0 && pack_id_map(&a.pk, watch) == 0 &&
	    sku_pack_str(&a.pk, "target") == 0 && pack_id_map(&a.pk, target) == 0 &&
	    (signal == 0 || sku_pack_kv_int(&a.pk, "signal", signal) == 0) &&
	    (grace_s < 0 || sku_pack_kv_double(&a.pk, "grace_s", grace_s) == 0))
		rc = sku_client_request(c, "proc.guard", a.buf.data, a.buf.size,
		                        sku_client_deadline(timeout_of(c, timeout_ms)), &res);
	msgpack_sbuffer_destroy(&a.buf);
	if (rc < 0)
		return rc;
	/* Either a live guard, or none because it fired at once (guard_id nil): never both. */
	if (sku_get_int(res, "guard_id", 0, &guard_id) < 0 || guard_id < 0 ||
	    sku_get_bool(res, "fired", false, &fired) < 0 || fired != (guard_id == 0))
		return -EBADMSG;
	if (ret_guard_id)
		*ret_guard_id = guard_id;
	return 0;
}

int skyutil_proc_guard(skyutil_client *c, struct skyutil_proc_id watch,
                       struct skyutil_proc_id target, double grace_s, int timeout_ms,
                       int64_t *ret_guard_id)
{
	return skyutil_proc_guard_signal(c, watch, target, 0, grace_s, timeout_ms, ret_guard_id);
}

int skyutil_proc_unguard(skyutil_client *c, int64_t guard_id, int timeout_ms)
{
	if (!c || guard_id <= 0)
		return -EINVAL;
	return call_id_true(c, "proc.unguard", "guard_id", guard_id, timeout_ms);
}
