/*
 * methods.c - one method index over the modules' tables.
 *
 * Indexes are positions in the concatenation core, facts, proc, debug: stable for the
 * process's lifetime, which is all the metrics need. The debug table is last so that hiding
 * it never shifts another method's index.
 */
#include "config.h"

#include <string.h>

#include "sku_daemon.h"

#define METHODS_MAX 64 /* struct sku_metrics counts requests per index */

static bool debug_enabled;

static const struct sku_method_table *table(unsigned i)
{
	switch (i) {
	case 0:
		return &sku_core_methods;
	case 1:
		return &sku_facts_methods;
	case 2:
		return &sku_proc_methods;
	case 3:
		return debug_enabled ? &sku_debug_methods : NULL;
	default:
		return NULL;
	}
}

#define NTABLES 4

void sku_methods_enable_debug(bool enable)
{
	debug_enabled = enable;
}

unsigned sku_method_count(void)
{
	size_t n = 0;

	for (unsigned t = 0; t < NTABLES; t++)
		if (table(t))
			n += table(t)->count;
	return n < METHODS_MAX ? (unsigned)n : METHODS_MAX;
}

const struct sku_method *sku_method_at(unsigned index)
{
	size_t base = 0;

	if (index >= sku_method_count())
		return NULL;
	for (unsigned t = 0; t < NTABLES; t++) {
		const struct sku_method_table *tab = table(t);

		if (!tab)
			continue;
		if (index < base + tab->count)
			return &tab->methods[index - base];
		base += tab->count;
	}
	return NULL;
}

unsigned sku_method_index(const struct sku_method *m)
{
	size_t base = 0;

	for (unsigned t = 0; t < NTABLES; t++) {
		const struct sku_method_table *tab = table(t);

		if (!tab)
			continue;
		if (tab->count > 0 && m >= tab->methods && m < tab->methods + tab->count)
			return (unsigned)(base + (size_t)(m - tab->methods));
		base += tab->count;
	}
	return METHODS_MAX;
}

const struct sku_method *sku_method_find(const char *name, size_t len, unsigned *ret_index)
{
	unsigned n = sku_method_count();

	/* A dozen names: a linear scan beats a hash table at this size. */
	for (unsigned i = 0; i < n; i++) {
		const struct sku_method *m = sku_method_at(i);

		if (strlen(m->name) == len && memcmp(m->name, name, len) == 0) {
			if (ret_index)
				*ret_index = i;
			return m;
		}
	}
	return NULL;
}
