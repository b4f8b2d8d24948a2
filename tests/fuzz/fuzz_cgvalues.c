/*
 * fuzz_cgvalues.c - the value parsers of cgroup and /proc files (daemon/facts/cgfile.c,
 * cpulist.c): numbers, limits, cpu.max, "key value" tables, /proc/<pid>/limits and CPU lists,
 * all on the same NUL-terminated input.
 */
#include "config.h"

#include <errno.h>

#include "facts.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_copy(data, size, 1);
	int64_t i, quota, period, soft, hard;
	uint64_t u;
	uint32_t cpus;
	int r;

	r = sku_parse_u64(s, &u);
	fuzz_check(r == 0 || r == -EINVAL || r == -ERANGE);
	r = sku_parse_i64(s, &i);
	fuzz_check(r == 0 || r == -EINVAL || r == -ERANGE);
	r = sku_parse_limit(s, &i);
	fuzz_check(r == 0 || r == -EINVAL);
	if (r == 0)
		fuzz_check(i >= -1 && i < SKU_LIMIT_UNLIMITED_MIN);
	r = sku_parse_cpu_max(s, &quota, &period);
	fuzz_check(r == 0 || r == -EINVAL);
	if (r == 0)
		fuzz_check((quota == -1 || quota > 0) && period > 0);
	r = sku_kv_find_u64(s, "MemTotal:", &u);
	fuzz_check(r == 0 || r == -ENOENT || r == -EINVAL || r == -ERANGE);
	r = sku_kv_find_u64(s, "anon", &u);
	fuzz_check(r == 0 || r == -ENOENT || r == -EINVAL || r == -ERANGE);
	r = sku_limits_find(s, "Max open files", &soft, &hard);
	fuzz_check(r == 0 || r == -ENOENT || r == -EINVAL);
	if (r == 0)
		fuzz_check(soft >= -1 && hard >= -1);
	r = sku_cpulist_count(s, &cpus);
	fuzz_check(r == 0 || r == -ENODATA || r == -EINVAL);
	if (r == 0)
		fuzz_check(cpus >= 1 && cpus <= SKU_CPU_MAX);
	free(s);
	return 0;
}
