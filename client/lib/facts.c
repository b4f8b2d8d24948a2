/*
 * facts.c - container-correct machine facts: one round trip, or the pushed cache.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "skyutil/skyutil.h"

#include "sku_client.h"

static int cgroup_version(const msgpack_object *map, int64_t *ret)
{
	const msgpack_object *o = sku_map_get(map, "cgroup_version");

	if (!o || o->type == MSGPACK_OBJECT_NIL)
		*ret = 0;
	else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && (o->via.u64 == 1 || o->via.u64 == 2))
		*ret = (int64_t)o->via.u64;
	else if (sku_obj_str_eq(o, "hybrid"))
		*ret = 3;
	else
		return -EBADMSG;
	return 0;
}

int sku_facts_from_obj(const msgpack_object *o, struct skyutil_facts *ret)
{
	struct skyutil_facts f = {0};
	int64_t generation;

	if (!o || o->type != MSGPACK_OBJECT_MAP)
		return -EBADMSG;
	if (sku_get_int(o, "pid", 0, &f.pid) < 0 ||
	    sku_get_int(o, "cpu_count", 0, &f.cpu_count) < 0 ||
	    sku_get_int(o, "cpu_count_floor", 0, &f.cpu_count_floor) < 0 ||
	    sku_get_double(o, "cpu_quota", 0, &f.cpu_quota) < 0 ||
	    sku_get_int(o, "cpu_online", 0, &f.cpu_online) < 0 ||
	    sku_get_int(o, "cpu_affinity", 0, &f.cpu_affinity) < 0 ||
	    sku_get_int(o, "cpuset_cpus", 0, &f.cpuset_cpus) < 0 ||
	    sku_get_int(o, "mem_total_bytes", 0, &f.mem_total_bytes) < 0 ||
	    sku_get_int(o, "mem_limit_bytes", SKYUTIL_UNLIMITED, &f.mem_limit_bytes) < 0 ||
	    sku_get_int(o, "mem_effective_bytes", 0, &f.mem_effective_bytes) < 0 ||
	    sku_get_int(o, "mem_used_bytes", -1, &f.mem_used_bytes) < 0 ||
	    sku_get_int(o, "pids_limit", SKYUTIL_UNLIMITED, &f.pids_limit) < 0 ||
	    sku_get_int(o, "nofile_soft", SKYUTIL_UNLIMITED, &f.nofile_soft) < 0 ||
	    sku_get_int(o, "nofile_hard", SKYUTIL_UNLIMITED, &f.nofile_hard) < 0 ||
	    cgroup_version(o, &f.cgroup_version) < 0 ||
	    sku_get_str(o, "cgroup_path", f.cgroup_path, sizeof(f.cgroup_path)) < 0 ||
	    sku_get_int(o, "generation", 0, &generation) < 0 || generation < 0)
		return -EBADMSG;
	f.generation = (uint64_t)generation;
	*ret = f;
	return 0;
}

int skyutil_facts_get(skyutil_client *c, int64_t pid, int timeout_ms,
                      struct skyutil_facts *ret_facts)
{
	const msgpack_object *res;
	msgpack_sbuffer args;
	msgpack_packer pk;
	struct skyutil_facts f;
	int rc;

	if (!c || !ret_facts || pid < 0)
		return -EINVAL;
	msgpack_sbuffer_init(&args);
	msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
	if (pid > 0 && (msgpack_pack_map(&pk, 1) < 0 || sku_pack_kv_int(&pk, "pid", pid) < 0)) {
		msgpack_sbuffer_destroy(&args);
		return -ENOMEM;
	}
	rc = sku_client_request(c, "facts.get", pid > 0 ? args.data : NULL, args.size,
	                        sku_client_deadline(timeout_ms < 0 ? c->timeout_ms : timeout_ms),
	                        &res);
	msgpack_sbuffer_destroy(&args);
	if (rc < 0)
		return rc;
	rc = sku_facts_from_obj(res, &f);
	if (rc < 0)
		return rc;
	*ret_facts = f;
	return 0;
}

static int subscribe(struct skyutil_client *c)
{
	const msgpack_object *res;
	struct skyutil_facts f;
	int64_t sub_id;
	int rc;

	rc = sku_client_request(c, "facts.subscribe", NULL, 0, sku_client_deadline(c->timeout_ms),
	                        &res);
	if (rc < 0)
		return rc;
	if (res->type != MSGPACK_OBJECT_MAP ||
	    sku_get_int(res, "subscription_id", 0, &sub_id) < 0 || sub_id <= 0 ||
	    sku_facts_from_obj(sku_map_get(res, "facts"), &f) < 0)
		return -EBADMSG;
	c->facts = f;
	c->facts_sub_id = sub_id;
	c->facts_subscribed = true;
	return 0;
}

/*
 * The hot path: one non-blocking recv() that normally finds nothing, then a struct copy.
 * facts.changed updates are applied by the reader in conn.c whenever any operation on this
 * client reads them, so the cache is as fresh as the last byte received.
 */
int skyutil_facts_cached(skyutil_client *c, struct skyutil_facts *ret_facts)
{
	int rc;

	if (!c || !ret_facts)
		return -EINVAL;
	if (!c->facts_subscribed)
		rc = subscribe(c);
	else
		rc = c->err ? c->err : sku_client_drain(c);
	if (rc < 0)
		return rc;
	*ret_facts = c->facts;
	return 0;
}
