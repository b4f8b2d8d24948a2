/*
 * cpulist.c - the kernel's CPU list syntax ("0-3,8,10-11"), counted without a fixed-size set
 * so that machines with any number of CPUs work.
 */
#include <ctype.h>
#include <errno.h>

#include "facts.h"

static int parse_cpu(const char **s, uint32_t *ret)
{
	const char *p = *s;
	uint32_t v = 0;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (uint32_t)(*p - '0');
		if (v >= SKU_CPU_MAX)
			return -EINVAL;
	}
	*s = p;
	*ret = v;
	return 0;
}

int sku_cpulist_count(const char *s, uint32_t *ret_count)
{
	uint64_t count = 0;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return -ENODATA;
	for (;;) {
		uint32_t lo, hi;

		if (parse_cpu(&s, &lo) < 0)
			return -EINVAL;
		hi = lo;
		if (*s == '-') {
			s++;
			if (parse_cpu(&s, &hi) < 0 || hi < lo)
				return -EINVAL;
		}
		count += (uint64_t)(hi - lo) + 1;
		if (count > SKU_CPU_MAX)
			return -EINVAL;
		if (*s != ',')
			break;
		s++;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s != '\0')
		return -EINVAL;
	*ret_count = (uint32_t)count;
	return 0;
}
