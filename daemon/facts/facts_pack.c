/*
 * facts_pack.c - the facts map on the wire (docs/protocol.md, facts.get).
 */
#include <errno.h>
#include <string.h>

#include "facts_mod.h"

#define FACTS_MAP_SIZE 25

/* A count that may be unknown or unlimited: nil below zero. */
static int kv_opt(msgpack_packer *pk, const char *key, int64_t v)
{
	return v < 0 ? sku_pack_kv_nil(pk, key) : sku_pack_kv_int(pk, key, v);
}

static int pack_warnings(msgpack_packer *pk, const struct sku_facts_warnings *a,
                         const struct sku_facts_warnings *b)
{
	bool truncated = a->truncated || b->truncated;
	int r = sku_pack_str(pk, "warnings");

	r |= msgpack_pack_array(pk, a->count + b->count + truncated);
	for (unsigned i = 0; i < a->count; i++)
		r |= sku_pack_str(pk, a->text[i]);
	for (unsigned i = 0; i < b->count; i++)
		r |= sku_pack_str(pk, b->text[i]);
	if (truncated)
		r |= sku_pack_str(pk, "more warnings were dropped");
	return r;
}

int sku_facts_pack(msgpack_packer *pk, const struct sku_facts_entry *e,
                   const struct sku_proc_facts *p, uint64_t generation)
{
	const struct sku_group_facts *g = &e->g;
	struct sku_facts_derived d;
	int r = 0;

	sku_facts_derive(g, p, &d);
	r |= msgpack_pack_map(pk, FACTS_MAP_SIZE);
	r |= sku_pack_kv_int(pk, "pid", p->pid);
	r |= sku_pack_kv_int(pk, "cpu_count", d.cpu_count);
	r |= sku_pack_kv_int(pk, "cpu_count_floor", d.cpu_count_floor);
	if (d.cpu_quota < 0)
		r |= sku_pack_kv_nil(pk, "cpu_quota");
	else
		r |= sku_pack_kv_double(pk, "cpu_quota", d.cpu_quota);
	r |= sku_pack_kv_int(pk, "cpu_online", g->cpu_online);
	/* without a readable mask the process may run anywhere online */
	r |= sku_pack_kv_int(pk, "cpu_affinity", p->affinity > 0 ? p->affinity : g->cpu_online);
	r |= kv_opt(pk, "cpuset_cpus", g->cpuset_cpus);
	r |= kv_opt(pk, "cpu_shares", g->cpu_shares);
	r |= sku_pack_kv_int(pk, "mem_total_bytes", g->mem_total);
	r |= kv_opt(pk, "mem_limit_bytes", g->mem_limit);
	r |= kv_opt(pk, "mem_high_bytes", g->mem_high);
	r |= sku_pack_kv_int(pk, "mem_effective_bytes", d.mem_effective);
	r |= kv_opt(pk, "mem_used_bytes", g->mem_used);
	r |= kv_opt(pk, "mem_working_set_bytes", g->mem_working_set);
	r |= kv_opt(pk, "pids_limit", g->pids_limit);
	r |= kv_opt(pk, "pids_current", g->pids_current);
	r |= sku_pack_kv_int(pk, "pid_max", g->pid_max);
	r |= sku_pack_kv_int(pk, "threads_max", g->threads_max);
	r |= kv_opt(pk, "nofile_soft", p->nofile_soft);
	r |= kv_opt(pk, "nofile_hard", p->nofile_hard);
	if (g->cgroup_version == SKU_CGROUP_HYBRID)
		r |= sku_pack_kv_str(pk, "cgroup_version", "hybrid");
	else if (g->cgroup_version > 0)
		r |= sku_pack_kv_int(pk, "cgroup_version", g->cgroup_version);
	else
		r |= sku_pack_kv_nil(pk, "cgroup_version");
	r |= sku_pack_kv_str(pk, "cgroup_path", g->has_path ? g->cgroup_path : NULL);
	r |= sku_pack_kv_uint(pk, "generation", generation);
	r |= sku_pack_str(pk, "source");
	r |= msgpack_pack_map(pk, 3);
	r |= sku_pack_kv_str(pk, "cpu", d.cpu_src);
	r |= sku_pack_kv_str(pk, "memory", d.mem_src);
	r |= sku_pack_kv_str(pk, "pids", g->pids_limit >= 0 ? g->pids_src : "kernel");
	r |= pack_warnings(pk, &g->warnings, &p->warnings);
	return r ? -ENOMEM : 0;
}
