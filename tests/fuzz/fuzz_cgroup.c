/*
 * fuzz_cgroup.c - mountinfo, /proc/<pid>/cgroup and the translation of a process's cgroup
 * path into a directory (daemon/facts/mountinfo.c, cgroup_path.c).
 *
 * Input: mountinfo text, a NUL byte, /proc/<pid>/cgroup text (no NUL: the whole input is
 * mountinfo and the cgroup file is empty). Paths are resolved under a sysroot that does not
 * exist, so every stat() fails fast and the fallbacks run. Invariants: the parsed strings are
 * NUL-free and bounded by the input, a located directory starts with the sysroot, and the part
 * of it that came from the process's path never climbs with "..".
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>

#include "facts.h"
#include "fuzz.h"

#define SYSROOT "/nonexistent-skyutil-fuzz"

static bool climbs(const char *s)
{
	for (const char *p = s; (p = strstr(p, "..")) != NULL; p += 2)
		if ((p == s || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return true;
	return false;
}

static void locate(const struct sku_mounts *m, const struct sku_proc_cgroups *pc)
{
	for (int c = 0; c < SKU_CTRL__MAX; c++) {
		struct sku_ctrl_loc *loc = calloc(1, sizeof(*loc));
		int r;

		fuzz_check(loc != NULL);
		r = sku_ctrl_locate(SYSROOT, m, pc, (enum sku_ctrl)c, ~0u, loc);
		fuzz_check(r == 0 || r == -ENOENT || r == -ENAMETOOLONG);
		if (r == 0) {
			fuzz_check(loc->found);
			fuzz_check(strncmp(loc->dir, SYSROOT, strlen(SYSROOT)) == 0);
			fuzz_check(loc->mount_len <= strlen(loc->dir));
			fuzz_check(!climbs(loc->dir + loc->mount_len));
		}
		free(loc);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t mlen = nul ? (size_t)(nul - data) : size;
	size_t clen = nul ? size - mlen - 1 : 0;
	char *mi = fuzz_copy(data, mlen, 1);
	char *cg = fuzz_copy(nul ? nul + 1 : data, clen, 1);
	struct sku_mounts m;
	struct sku_proc_cgroups pc;
	unsigned bad = 0;
	int r;

	r = sku_mounts_parse(mi, mlen, &m, &bad);
	fuzz_check(r == 0 || r == -ENOMEM);
	if (r < 0)
		goto out;
	fuzz_check(m.n <= SKU_MOUNTS_MAX);
	for (size_t i = 0; i < m.n; i++) {
		fuzz_check(m.v[i].root && m.v[i].point);
		fuzz_check(strlen(m.v[i].root) <= mlen && strlen(m.v[i].point) <= mlen);
		fuzz_check(m.v[i].ctrls < (1u << SKU_CTRL__MAX));
	}
	r = sku_proc_cgroups_parse(cg, clen, &pc);
	fuzz_check(r == 0 || r == -ENOMEM);
	if (r == 0) {
		if (pc.v2)
			(void)sku_mounts_pick_v2(&m, pc.v2);
		locate(&m, &pc);
		sku_proc_cgroups_done(&pc);
	}
	sku_mounts_done(&m);

	/* Unescaping never grows a string. */
	r = (int)sku_unescape_octal(mi, mlen);
	fuzz_check((size_t)r <= mlen);
	(void)sku_ctrl_bit(cg, clen);
out:
	free(mi);
	free(cg);
	return 0;
}
