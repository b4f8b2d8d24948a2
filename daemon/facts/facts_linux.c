/*
 * facts_linux.c - gather a cgroup's CPU, memory and pids facts from procfs, sysfs and cgroupfs
 * under a (sys)root. Every limit is the minimum over the process's cgroup and its ancestors up to
 * the mount point; a level whose file is missing has no limit, one with garbage is skipped with a
 * warning, so one bad file never poisons the answer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "facts.h"

#define MOUNTS_MAX_AGE_NS 1000000000ull /* mount tables change rarely; re-read at most 1/s */
#define VALUE_BUF         128           /* any single-value cgroup or sysctl file */
#define CPULIST_BUF       65536         /* a cpuset list of a very large, fragmented machine */

static void watch_add(struct sku_watch_dirs *d, const char *dir)
{
	if (!d || d->n >= SKU_FACTS_MAX_DIRS)
		return;
	for (unsigned i = 0; i < d->n; i++)
		if (strcmp(d->dir[i], dir) == 0)
			return;
	/* a directory we cannot remember is only watched less: the periodic check covers it */
	d->dir[d->n] = strdup(dir);
	if (d->dir[d->n])
		d->n++;
}

/* The path as the process would see it, for messages: without the sysroot prefix. */
static const char *shown(const struct sku_facts_env *env, const char *path)
{
	size_t n = strlen(env->sysroot);

	return strncmp(path, env->sysroot, n) == 0 && path[n] ? path + n : path;
}

int sku_facts_path(const struct sku_facts_env *env, char *buf, size_t size, const char *fmt, ...)
{
	size_t n = strlen(env->sysroot);
	va_list ap;
	int m;

	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(buf, env->sysroot, n);
	va_start(ap, fmt);
	m = vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= size - n)
		return -ENAMETOOLONG;
	return 0;
}

static int refresh_mounts(struct sku_facts_env *env, uint64_t now_ns, struct sku_facts_warnings *w)
{
	char path[PATH_MAX], *text;
	struct sku_mounts m;
	unsigned bad = 0;
	size_t len;
	int r;

	if (env->mounts_valid && now_ns - env->mounts_read_ns < MOUNTS_MAX_AGE_NS)
		return 0;
	r = sku_facts_path(env, path, sizeof(path), "/proc/self/mountinfo");
	if (r == 0)
		r = sku_read_file(path, SKU_FILE_CAP_MOUNTINFO, &text, &len);
	if (r < 0) {
		if (r == -ENOMEM)
			return r;
		sku_facts_warn(w, "cannot read /proc/self/mountinfo: %s", strerror(-r));
		sku_mounts_done(&env->mounts);
		env->mounts_valid = true;
		env->mounts_read_ns = now_ns;
		return 0;
	}
	r = sku_mounts_parse(text, len, &m, &bad);
	free(text);
	if (r < 0)
		return r;
	if (bad)
		sku_facts_warn(w, "skipped %u malformed cgroup lines in mountinfo", bad);
	sku_mounts_done(&env->mounts);
	env->mounts = m;
	env->mounts_valid = true;
	env->mounts_read_ns = now_ns;
	return 0;
}

/* Read dir/name (trimmed) into buf. -ENOENT means the level simply has no such file. */
static int read_at(const char *dir, const char *name, char *buf, size_t size)
{
	char path[PATH_MAX + 64];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return sku_read_small(path, buf, size);
}

static void warn_bad(const struct sku_facts_env *env, struct sku_facts_warnings *w, const char *dir,
                     const char *name, int r)
{
	if (r == -ENOENT)
		return;
	sku_facts_warn(w, "ignored %s/%s: %s", shown(env, dir), name,
	               r == -EINVAL || r == -ENODATA ? "unparsable value" : strerror(-r));
}

/* Step dir up one level; false once it is the mount point. */
static bool level_up(char *dir, size_t mount_len)
{
	size_t n = strlen(dir);

	if (n <= mount_len)
		return false;
	while (n > mount_len && dir[n - 1] != '/')
		n--;
	n = n > mount_len ? n - 1 : mount_len;
	if (n < mount_len)
		n = mount_len;
	dir[n] = '\0';
	return true;
}

static void set_src(char *dst, const char *kind, const struct sku_facts_env *env, const char *dir)
{
	int n = snprintf(dst, SKU_FACTS_SRC_LEN, "%s:%s", kind, shown(env, dir));

	if (n >= SKU_FACTS_SRC_LEN) /* a very deep path: keep its start and say it was cut */
		memcpy(dst + SKU_FACTS_SRC_LEN - 4, "...", 4);
}

static void walk_cpu(const struct sku_facts_env *env, const struct sku_ctrl_loc *loc,
                     struct sku_group_facts *g, struct sku_watch_dirs *dirs)
{
	const char *kind = loc->v2 ? "cgroup2" : "cgroup1";
	char dir[PATH_MAX], buf[VALUE_BUF];
	int64_t v;
	int r;

	strcpy(dir, loc->dir);
	r = read_at(dir, loc->v2 ? "cpu.weight" : "cpu.shares", buf, sizeof(buf));
	if (r == 0 && sku_parse_i64(buf, &v) == 0 && v > 0)
		g->cpu_shares = v;
	for (unsigned depth = 0; depth < SKU_FACTS_MAX_DEPTH; depth++) {
		int64_t quota = -1, period = -1;

		watch_add(dirs, dir);
		if (loc->v2) {
			r = read_at(dir, "cpu.max", buf, sizeof(buf));
			if (r == 0)
				r = sku_parse_cpu_max(buf, &quota, &period);
			if (r < 0)
				warn_bad(env, &g->warnings, dir, "cpu.max", r);
		} else {
			r = read_at(dir, "cpu.cfs_quota_us", buf, sizeof(buf));
			if (r == 0) {
				r = sku_parse_i64(buf, &quota);
				if (r == -ERANGE && buf[0] != '-') /* beyond 64 bits: no limit */
					quota = -1, r = 0;
				else if (r == 0 && quota == 0)
					r = -EINVAL;
				else if (r == 0 && quota < 0)
					quota = -1;
			}
			if (r < 0)
				warn_bad(env, &g->warnings, dir, "cpu.cfs_quota_us", r);
			if (r == 0 && quota > 0) {
				r = read_at(dir, "cpu.cfs_period_us", buf, sizeof(buf));
				if (r == 0 && (sku_parse_i64(buf, &period) < 0 || period <= 0))
					r = -EINVAL;
				if (r < 0) {
					warn_bad(env, &g->warnings, dir, "cpu.cfs_period_us",
					         r == -ENOENT ? -EINVAL : r);
					quota = -1;
				}
			}
		}
		if (r == 0 && quota > 0 &&
		    (g->quota_us < 0 ||
		     (double)quota / (double)period < (double)g->quota_us / (double)g->period_us)) {
			g->quota_us = quota;
			g->period_us = period;
			set_src(g->quota_src, kind, env, dir);
		}
		if (!level_up(dir, loc->mount_len))
			break;
	}
}

static void walk_cpuset(const struct sku_facts_env *env, const struct sku_ctrl_loc *loc,
                        struct sku_group_facts *g, struct sku_watch_dirs *dirs)
{
	static const char *const v2_files[] = {"cpuset.cpus.effective", NULL};
	static const char *const v1_files[] = {"cpuset.effective_cpus", "cpuset.cpus", NULL};
	const char *const *files = loc->v2 ? v2_files : v1_files;
	char dir[PATH_MAX], *buf;

	buf = malloc(CPULIST_BUF);
	if (!buf) {
		sku_facts_warn(&g->warnings, "cpuset not read: out of memory");
		return;
	}
	strcpy(dir, loc->dir);
	for (unsigned depth = 0; depth < SKU_FACTS_MAX_DEPTH; depth++) {
		watch_add(dirs, dir);
		for (unsigned i = 0; files[i]; i++) {
			uint32_t n;
			int r = read_at(dir, files[i], buf, CPULIST_BUF);

			if (r == 0)
				r = sku_cpulist_count(buf, &n);
			if (r == -ENOENT || r == -ENODATA)
				continue; /* a new v1 cpuset, or a level without the file */
			if (r < 0) {
				warn_bad(env, &g->warnings, dir, files[i], r);
				continue;
			}
			if (g->cpuset_cpus < 0 || n < g->cpuset_cpus) {
				g->cpuset_cpus = n;
				set_src(g->cpuset_src, "cpuset", env, dir);
			}
			break;
		}
		if (!level_up(dir, loc->mount_len))
			break;
	}
	free(buf);
}

/* Smallest limit in file name over the walk; *ret_dir gets the binding level (or leaf). */
static int64_t walk_min(const struct sku_facts_env *env, const struct sku_ctrl_loc *loc,
                        const char *name, struct sku_group_facts *g, struct sku_watch_dirs *dirs,
                        char *ret_dir)
{
	char dir[PATH_MAX], buf[VALUE_BUF];
	int64_t best = -1;

	strcpy(dir, loc->dir);
	strcpy(ret_dir, loc->dir);
	for (unsigned depth = 0; depth < SKU_FACTS_MAX_DEPTH; depth++) {
		int64_t v;
		int r;

		watch_add(dirs, dir);
		r = read_at(dir, name, buf, sizeof(buf));
		if (r == 0)
			r = sku_parse_limit(buf, &v);
		if (r < 0)
			warn_bad(env, &g->warnings, dir, name, r);
		else if (v >= 0 && (best < 0 || v < best)) {
			best = v;
			strcpy(ret_dir, dir);
		}
		if (!level_up(dir, loc->mount_len))
			break;
	}
	return best;
}

static int64_t read_count_at(const char *dir, const char *name)
{
	char buf[VALUE_BUF];
	uint64_t v;

	if (read_at(dir, name, buf, sizeof(buf)) < 0 || sku_parse_u64(buf, &v) < 0 || v > INT64_MAX)
		return -1;
	return (int64_t)v;
}

static void walk_memory(const struct sku_facts_env *env, const struct sku_ctrl_loc *loc,
                        struct sku_group_facts *g, struct sku_watch_dirs *dirs)
{
	const char *kind = loc->v2 ? "cgroup2" : "cgroup1";
	char bind[PATH_MAX], unused[PATH_MAX];
	char *stat_text = NULL;
	size_t stat_len;
	uint64_t v;

	g->mem_limit =
	        walk_min(env, loc, loc->v2 ? "memory.max" : "memory.limit_in_bytes", g, dirs, bind);
	if (g->mem_limit >= 0)
		set_src(g->mem_src, kind, env, bind);
	if (loc->v2)
		g->mem_high = walk_min(env, loc, "memory.high", g, NULL, unused);
	else {
		/* v1 with use_hierarchy: ancestors above a namespaced mount root still bind */
		char path[PATH_MAX + 64];

		snprintf(path, sizeof(path), "%s/memory.stat", loc->dir);
		if (sku_read_file(path, SKU_FILE_CAP_DEFAULT, &stat_text, &stat_len) == 0 &&
		    sku_kv_find_u64(stat_text, "hierarchical_memory_limit", &v) == 0 &&
		    v < (uint64_t)SKU_LIMIT_UNLIMITED_MIN &&
		    (g->mem_limit < 0 || (int64_t)v < g->mem_limit)) {
			g->mem_limit = (int64_t)v;
			strcpy(bind, loc->dir);
			set_src(g->mem_src, "cgroup1-hierarchical", env, loc->dir);
		}
		free(stat_text);
		stat_text = NULL;
	}

	g->mem_used = read_count_at(bind, loc->v2 ? "memory.current" : "memory.usage_in_bytes");
	if (g->mem_used < 0)
		return;
	g->mem_working_set = g->mem_used;
	{
		char path[PATH_MAX + 64];

		snprintf(path, sizeof(path), "%s/memory.stat", bind);
		if (sku_read_file(path, SKU_FILE_CAP_DEFAULT, &stat_text, &stat_len) == 0 &&
		    sku_kv_find_u64(stat_text, loc->v2 ? "inactive_file" : "total_inactive_file",
		                    &v) == 0)
			g->mem_working_set =
			        v >= (uint64_t)g->mem_used ? 0 : g->mem_used - (int64_t)v;
		free(stat_text);
	}
}

static void walk_pids(const struct sku_facts_env *env, const struct sku_ctrl_loc *loc,
                      struct sku_group_facts *g, struct sku_watch_dirs *dirs)
{
	char bind[PATH_MAX];

	g->pids_limit = walk_min(env, loc, "pids.max", g, dirs, bind);
	if (g->pids_limit >= 0)
		set_src(g->pids_src, loc->v2 ? "cgroup2" : "cgroup1", env, bind);
	g->pids_current = read_count_at(bind, "pids.current");
}

static int64_t read_sysctl(const struct sku_facts_env *env, const char *name,
                           struct sku_facts_warnings *w)
{
	char path[PATH_MAX], buf[VALUE_BUF];
	int64_t v;
	int r;

	r = sku_facts_path(env, path, sizeof(path), "/proc/sys/kernel/%s", name);
	if (r == 0)
		r = sku_read_small(path, buf, sizeof(buf));
	if (r == 0 && (sku_parse_i64(buf, &v) < 0 || v <= 0))
		r = -EINVAL;
	if (r < 0) {
		sku_facts_warn(w, "cannot read kernel.%s: %s", name,
		               r == -EINVAL ? "unparsable value" : strerror(-r));
		return 0;
	}
	return v;
}

static void read_host(struct sku_facts_env *env, struct sku_group_facts *g)
{
	char path[PATH_MAX], *text, buf[4096];
	uint32_t n;
	uint64_t kb;
	size_t len;
	int r;

	r = sku_facts_path(env, path, sizeof(path), "/sys/devices/system/cpu/online");
	if (r == 0)
		r = sku_read_small(path, buf, sizeof(buf));
	if (r == 0)
		r = sku_cpulist_count(buf, &n);
	if (r == 0) {
		g->cpu_online = n;
	} else {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		g->cpu_online = c > 0 ? c : 1;
		sku_facts_warn(&g->warnings, "cannot read online CPUs (%s); using sysconf",
		               r == -EINVAL ? "unparsable" : strerror(-r));
	}

	r = sku_facts_path(env, path, sizeof(path), "/proc/meminfo");
	if (r == 0)
		r = sku_read_file(path, SKU_FILE_CAP_DEFAULT, &text, &len);
	if (r == 0) {
		r = sku_kv_find_u64(text, "MemTotal:", &kb);
		if (r == -ENOENT)
			r = sku_kv_find_u64(text, "MemTotal", &kb);
		free(text);
		if (r == 0 && (kb == 0 || kb > (uint64_t)INT64_MAX / 1024))
			r = -EINVAL;
	}
	if (r == 0) {
		g->mem_total = (int64_t)kb * 1024;
	} else {
		long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);

		g->mem_total = pages > 0 && psize > 0 ? (int64_t)pages * psize : 0;
		sku_facts_warn(&g->warnings, "cannot read MemTotal (%s); using sysconf",
		               r == -EINVAL || r == -ENOENT ? "unparsable" : strerror(-r));
	}
	g->pid_max = read_sysctl(env, "pid_max", &g->warnings);
	g->threads_max = read_sysctl(env, "threads-max", &g->warnings);
}

/* Controllers enabled in the cgroup2 hierarchy, from cgroup.controllers at its mount. */
static unsigned v2_controllers(const struct sku_facts_env *env, const struct sku_mount *mt)
{
	char path[PATH_MAX], buf[1024];
	unsigned bits = 0;

	if (!mt)
		return 0;
	if (sku_facts_path(env, path, sizeof(path), "%s/cgroup.controllers", mt->point) < 0)
		return 0;
	if (sku_read_small(path, buf, sizeof(buf)) < 0) {
		/* cgroup.controllers exists since 4.5; without it only a pure v2 tree is certain */
		return env->mounts.have_v1 ? 0 : ~0u;
	}
	for (char *save = NULL, *t = strtok_r(buf, " \t\n", &save); t;
	     t = strtok_r(NULL, " \t\n", &save))
		bits |= sku_ctrl_bit(t, strlen(t));
	return bits;
}

int sku_facts_read_group(struct sku_facts_env *env, const char *key, size_t keylen, uint64_t now_ns,
                         struct sku_group_facts *ret, struct sku_watch_dirs *ret_dirs)
{
	struct sku_ctrl_loc *loc;
	struct sku_proc_cgroups pc;
	unsigned v2_ctrls;
	bool v1side, v2side;
	int r;

	sku_group_facts_init(ret);
	read_host(env, ret);
	if (keylen == 0) {
		sku_facts_warn(&ret->warnings,
		               "no cgroup membership (/proc/PID/cgroup unreadable)");
		return 0;
	}
	r = refresh_mounts(env, now_ns, &ret->warnings);
	if (r < 0)
		return r;
	r = sku_proc_cgroups_parse(key, keylen, &pc);
	if (r < 0)
		return r;
	loc = calloc(SKU_CTRL__MAX, sizeof(*loc));
	if (!loc) {
		sku_proc_cgroups_done(&pc);
		return -ENOMEM;
	}

	v1side = pc.any_v1 && env->mounts.have_v1;
	v2side = pc.v2 && env->mounts.have_v2;
	ret->cgroup_version = v1side && v2side ? SKU_CGROUP_HYBRID : v1side ? 1 : v2side ? 2 : 0;
	if (ret->cgroup_version == 0)
		sku_facts_warn(&ret->warnings,
		               "none of the process's cgroup hierarchies is mounted");
	v2_ctrls = pc.v2 ? v2_controllers(env, sku_mounts_pick_v2(&env->mounts, pc.v2)) : 0;

	for (unsigned c = 0; c < SKU_CTRL__MAX; c++) {
		r = sku_ctrl_locate(env->sysroot, &env->mounts, &pc, c, v2_ctrls, &loc[c]);
		if (r == -ENAMETOOLONG)
			sku_facts_warn(&ret->warnings, "%s cgroup path too long", sku_ctrl_name(c));
		if (r == 0 && loc[c].uncertain)
			sku_facts_warn(&ret->warnings,
			               "%s: cgroup %s is outside the mount; read at %s",
			               sku_ctrl_name(c), loc[c].path, shown(env, loc[c].dir));
	}
	if (loc[SKU_CTRL_CPU].found || loc[SKU_CTRL_MEMORY].found || pc.v2) {
		const char *p = loc[SKU_CTRL_CPU].found      ? loc[SKU_CTRL_CPU].path
		                : loc[SKU_CTRL_MEMORY].found ? loc[SKU_CTRL_MEMORY].path
		                                             : pc.v2;

		snprintf(ret->cgroup_path, sizeof(ret->cgroup_path), "%s", p);
		ret->has_path = true;
	}
	if (loc[SKU_CTRL_CPU].found)
		walk_cpu(env, &loc[SKU_CTRL_CPU], ret, ret_dirs);
	if (loc[SKU_CTRL_CPUSET].found)
		walk_cpuset(env, &loc[SKU_CTRL_CPUSET], ret, ret_dirs);
	if (loc[SKU_CTRL_MEMORY].found)
		walk_memory(env, &loc[SKU_CTRL_MEMORY], ret, ret_dirs);
	if (loc[SKU_CTRL_PIDS].found)
		walk_pids(env, &loc[SKU_CTRL_PIDS], ret, ret_dirs);
	free(loc);
	sku_proc_cgroups_done(&pc);
	return 0;
}
