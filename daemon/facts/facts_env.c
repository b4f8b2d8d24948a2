/*
 * facts_env.c - the platform-independent pieces of gathering: warnings, watch lists and the
 * reader's environment.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "facts.h"

void sku_facts_warn(struct sku_facts_warnings *w, const char *fmt, ...)
{
	va_list ap;

	if (w->count >= SKU_FACTS_MAX_WARNINGS) {
		w->truncated = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(w->text[w->count++], SKU_FACTS_WARNING_LEN, fmt, ap);
	va_end(ap);
}

void sku_watch_dirs_done(struct sku_watch_dirs *d)
{
	for (unsigned i = 0; i < d->n; i++)
		free(d->dir[i]);
	d->n = 0;
}

void sku_facts_env_init(struct sku_facts_env *env, const char *sysroot)
{
	*env = (struct sku_facts_env){.sysroot = sysroot ? sysroot : ""};
}

void sku_facts_env_done(struct sku_facts_env *env)
{
	sku_mounts_done(&env->mounts);
	env->mounts_valid = false;
}

void sku_group_facts_init(struct sku_group_facts *g)
{
	*g = (struct sku_group_facts){
	        .quota_us = -1,
	        .period_us = -1,
	        .cpuset_cpus = -1,
	        .cpu_shares = -1,
	        .mem_limit = -1,
	        .mem_high = -1,
	        .mem_used = -1,
	        .mem_working_set = -1,
	        .pids_limit = -1,
	        .pids_current = -1,
	};
}
