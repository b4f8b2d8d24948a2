/*
 * facts_proc_linux.c - the per-process facts (RLIMIT_NOFILE, CPU affinity) and the cgroup
 * membership text that keys the cache.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "facts.h"

/* The value after "Name:" in /proc/<pid>/status, trimmed and terminated in place in text. */
static char *status_field(char *text, const char *name)
{
	size_t nlen = strlen(name);

	for (char *p = text; *p;) {
		char *e = strchr(p, '\n');

		if (strncmp(p, name, nlen) == 0 && p[nlen] == ':') {
			if (e)
				*e = '\0';
			return p + nlen + 1;
		}
		if (!e)
			break;
		p = e + 1;
	}
	return NULL;
}

/*
 * On the real root the same values come from syscalls, several times cheaper than formatting
 * and parsing /proc/<pid>/limits and status. The mask grows until the kernel accepts it, so
 * any number of CPUs works. Any failure (EPERM for another user's rlimits) falls back to /proc.
 */
static int affinity_syscall(pid_t pid, int64_t *ret)
{
	for (size_t ncpu = 1024; ncpu <= SKU_CPU_MAX; ncpu *= 2) {
		size_t size = CPU_ALLOC_SIZE(ncpu);
		cpu_set_t *set = CPU_ALLOC(ncpu);
		int e;

		if (!set)
			return -ENOMEM;
		if (sched_getaffinity(pid, size, set) == 0) {
			*ret = CPU_COUNT_S(size, set);
			CPU_FREE(set);
			return 0;
		}
		e = errno;
		CPU_FREE(set);
		if (e != EINVAL)
			return -e;
	}
	return -EINVAL;
}

static int nofile_syscall(pid_t pid, int64_t *ret_soft, int64_t *ret_hard)
{
	struct rlimit rl;

	if (prlimit(pid, RLIMIT_NOFILE, NULL, &rl) < 0)
		return -errno;
	*ret_soft =
	        rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT64_MAX ? -1 : (int64_t)rl.rlim_cur;
	*ret_hard =
	        rl.rlim_max == RLIM_INFINITY || rl.rlim_max > INT64_MAX ? -1 : (int64_t)rl.rlim_max;
	return 0;
}

static void read_nofile(const struct sku_facts_env *env, struct sku_proc_facts *p)
{
	char path[PATH_MAX], *text;
	size_t len;
	int r;

	if (!env->sysroot[0] && nofile_syscall(p->pid, &p->nofile_soft, &p->nofile_hard) == 0)
		return;
	r = sku_facts_path(env, path, sizeof(path), "/proc/%d/limits", (int)p->pid);
	if (r == 0)
		r = sku_read_file(path, SKU_FILE_CAP_DEFAULT, &text, &len);
	if (r == 0) {
		r = sku_limits_find(text, "Max open files", &p->nofile_soft, &p->nofile_hard);
		free(text);
	}
	if (r < 0)
		sku_facts_warn(&p->warnings, "nofile unknown: /proc/%d/limits %s", (int)p->pid,
		               r == -EINVAL || r == -ENOENT ? "unparsable" : strerror(-r));
}

static void read_affinity(const struct sku_facts_env *env, struct sku_proc_facts *p)
{
	char path[PATH_MAX], *text;
	size_t len;
	int r;

	if (!env->sysroot[0] && affinity_syscall(p->pid, &p->affinity) == 0)
		return;
	r = sku_facts_path(env, path, sizeof(path), "/proc/%d/status", (int)p->pid);
	if (r == 0)
		r = sku_read_file(path, SKU_FILE_CAP_DEFAULT, &text, &len);
	if (r == 0) {
		const char *list = status_field(text, "Cpus_allowed_list");
		uint32_t n;

		r = list ? sku_cpulist_count(list, &n) : -ENOENT;
		if (r == 0)
			p->affinity = n;
		free(text);
	}
	if (r < 0)
		sku_facts_warn(&p->warnings, "affinity unknown: /proc/%d/status %s", (int)p->pid,
		               r == -EINVAL || r == -ENOENT || r == -ENODATA ? "unparsable"
		                                                             : strerror(-r));
}

static bool proc_exists(const struct sku_facts_env *env, pid_t pid)
{
	char path[PATH_MAX];
	struct stat st;

	return sku_facts_path(env, path, sizeof(path), "/proc/%d", (int)pid) == 0 &&
	       stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int sku_facts_read_proc(struct sku_facts_env *env, pid_t pid, struct sku_proc_facts *ret,
                        char **ret_key, size_t *ret_keylen)
{
	struct sku_proc_facts p = {
	        .pid = pid, .nofile_soft = -1, .nofile_hard = -1, .affinity = -1};
	char path[PATH_MAX], *key = NULL;
	size_t keylen = 0;
	int r;

	if (pid <= 0)
		return -ESRCH;
	r = sku_facts_path(env, path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (r == 0)
		r = sku_read_file(path, SKU_FILE_CAP_DEFAULT, &key, &keylen);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		if (!proc_exists(env, pid))
			return -ESRCH;
		key = strdup("");
		if (!key)
			return -ENOMEM;
		keylen = 0;
	}

	read_nofile(env, &p);
	read_affinity(env, &p);
	*ret = p;
	*ret_key = key;
	*ret_keylen = keylen;
	return 0;
}
