/*
 * facts_calc.c - the numbers SkyPilot sizes its pools from, derived from gathered facts.
 * Pure arithmetic: no I/O, no allocation.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "facts.h"

void sku_facts_derive(const struct sku_group_facts *g, const struct sku_proc_facts *p,
                      struct sku_facts_derived *ret)
{
	const char *base_src = "online";
	int64_t base = g->cpu_online > 0 ? g->cpu_online : 1;

	*ret = (struct sku_facts_derived){.cpu_quota = -1};
	if (p && p->affinity > 0 && p->affinity < base) {
		base = p->affinity;
		base_src = "affinity";
	}
	if (g->cpuset_cpus > 0 && g->cpuset_cpus < base) {
		base = g->cpuset_cpus;
		base_src = g->cpuset_src;
	}
	ret->cpu_base = base;
	ret->cpu_count = ret->cpu_count_floor = base;
	snprintf(ret->cpu_src, sizeof(ret->cpu_src), "%s", base_src);
	if (g->quota_us > 0 && g->period_us > 0) {
		int64_t floor = g->quota_us / g->period_us;
		/* integer ceiling: a float quotient loses the remainder for huge quotas */
		int64_t ceil = floor + (g->quota_us % g->period_us != 0);

		ret->cpu_quota = (double)g->quota_us / (double)g->period_us;
		if (ceil <= base) {
			ret->cpu_count = ceil < 1 ? 1 : ceil;
			snprintf(ret->cpu_src, sizeof(ret->cpu_src), "%s", g->quota_src);
		}
		if (floor < base)
			ret->cpu_count_floor = floor < 1 ? 1 : floor;
	}

	ret->mem_effective = g->mem_total;
	ret->mem_src = "meminfo";
	if (g->mem_limit >= 0 && (g->mem_total <= 0 || g->mem_limit < g->mem_total)) {
		ret->mem_effective = g->mem_limit;
		ret->mem_src = g->mem_src;
	}
}

bool sku_group_facts_changed(const struct sku_group_facts *a, const struct sku_group_facts *b)
{
	return a->cgroup_version != b->cgroup_version || a->has_path != b->has_path ||
	       strcmp(a->cgroup_path, b->cgroup_path) != 0 || a->quota_us != b->quota_us ||
	       a->period_us != b->period_us || strcmp(a->quota_src, b->quota_src) != 0 ||
	       a->cpuset_cpus != b->cpuset_cpus || strcmp(a->cpuset_src, b->cpuset_src) != 0 ||
	       a->cpu_shares != b->cpu_shares || a->cpu_online != b->cpu_online ||
	       a->mem_total != b->mem_total || a->mem_limit != b->mem_limit ||
	       strcmp(a->mem_src, b->mem_src) != 0 || a->mem_high != b->mem_high ||
	       a->pids_limit != b->pids_limit || strcmp(a->pids_src, b->pids_src) != 0 ||
	       a->pid_max != b->pid_max || a->threads_max != b->threads_max;
}

bool sku_proc_facts_changed(const struct sku_proc_facts *a, const struct sku_proc_facts *b)
{
	return a->nofile_soft != b->nofile_soft || a->nofile_hard != b->nofile_hard ||
	       a->affinity != b->affinity;
}

int64_t sku_parallel_threads(int64_t cpu_count, const char *cloud, size_t cloud_len)
{
	int64_t n = cpu_count - 1 > 4 ? cpu_count - 1 : 4;

	if (cloud && cloud_len == 10 && strncasecmp(cloud, "kubernetes", 10) == 0)
		n *= 4;
	return n;
}

int64_t sku_max_workers(int64_t nofile_soft, int64_t fds_per_source, int64_t threads)
{
	int64_t n;

	if (fds_per_source < 1)
		fds_per_source = 1;
	if (nofile_soft < 0) /* unlimited */
		n = threads;
	else
		n = (nofile_soft > 100 ? nofile_soft - 100 : 0) / fds_per_source;
	if (n > threads)
		n = threads;
	return n < 1 ? 1 : n;
}
