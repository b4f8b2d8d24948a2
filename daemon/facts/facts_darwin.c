/*
 * facts_darwin.c - macOS has no cgroups: CPUs and memory from sysctl, no per-process limits
 * of other processes, no directory watches (the periodic re-check alone keeps facts current).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysctl.h>
#include <sys/types.h>

#include "facts.h"

static int64_t sysctl_int(const char *name, struct sku_facts_warnings *w)
{
	int64_t v64 = 0;
	int v32 = 0;
	size_t len = sizeof(v64);

	if (sysctlbyname(name, &v64, &len, NULL, 0) == 0 && len == sizeof(v64))
		return v64;
	len = sizeof(v32);
	if (sysctlbyname(name, &v32, &len, NULL, 0) == 0 && len == sizeof(v32))
		return v32;
	sku_facts_warn(w, "sysctl %s: %s", name, strerror(errno));
	return 0;
}

int sku_facts_read_proc(struct sku_facts_env *env, pid_t pid, struct sku_proc_facts *ret,
                        char **ret_key, size_t *ret_keylen)
{
	struct sku_proc_facts p = {
	        .pid = pid, .nofile_soft = -1, .nofile_hard = -1, .affinity = -1};
	char *key;

	(void)env;
	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return -ESRCH;
	key = strdup("");
	if (!key)
		return -ENOMEM;
	sku_facts_warn(&p.warnings,
	               "nofile unknown: macOS does not expose other processes' limits");
	*ret = p;
	*ret_key = key;
	*ret_keylen = 0;
	return 0;
}

int sku_facts_read_group(struct sku_facts_env *env, const char *key, size_t keylen, uint64_t now_ns,
                         struct sku_group_facts *ret, struct sku_watch_dirs *ret_dirs)
{
	struct sku_group_facts *g = ret;
	int64_t ncpu;

	(void)env, (void)key, (void)keylen, (void)now_ns, (void)ret_dirs;
	sku_group_facts_init(g);
	ncpu = sysctl_int("hw.activecpu", &g->warnings);
	g->cpu_online = ncpu > 0 ? ncpu : 1;
	g->mem_total = sysctl_int("hw.memsize", &g->warnings);
	g->pid_max = sysctl_int("kern.maxproc", &g->warnings);
	g->threads_max = sysctl_int("kern.num_taskthreads", &g->warnings);
	return 0;
}

int sku_dirwatch_open(void)
{
	return -ENOSYS;
}

int sku_dirwatch_add(int fd, const char *dir)
{
	(void)fd, (void)dir;
	return -ENOSYS;
}

void sku_dirwatch_rm(int fd, int wd)
{
	(void)fd, (void)wd;
}

int sku_dirwatch_drain(int fd, void (*fn)(void *ctx, int wd), void *ctx)
{
	(void)fd, (void)fn, (void)ctx;
	return 0;
}
