/*
 * facts.h - the facts module's internal seams.
 *
 * Three layers, each testable on its own:
 *   parsers (cgfile.c, cpulist.c, mountinfo.c, cgroup_path.c): text in, values out, no I/O
 *     beyond the bounded file readers in cgfile.c;
 *   gathering (facts_linux.c, facts_darwin.c): reads a (sys)root into plain structs;
 *   the daemon side (facts_calc.c, facts_watch.c, h_facts.c): cache, subscriptions, wire.
 * Nothing here logs; problems with the inputs become warnings in the facts themselves.
 */
#ifndef SKU_FACTS_H
#define SKU_FACTS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- bounded file reading and value parsing (cgfile.c) ---- */

#define SKU_FILE_CAP_DEFAULT   (1024 * 1024)     /* any /proc or cgroup file we read whole */
#define SKU_FILE_CAP_MOUNTINFO (8 * 1024 * 1024) /* big Kubernetes nodes have huge mountinfo */

/*
 * Read a whole file into a new NUL-terminated buffer (*ret_buf, owned by the caller, free()).
 * The file may be any length up to cap bytes (procfs reports size 0, so it is read until EOF).
 * Returns 0, -errno from open/read, or -EFBIG when the file is longer than cap. Outputs are
 * untouched on failure.
 */
int sku_read_file(const char *path, size_t cap, char **ret_buf, size_t *ret_len);

/*
 * Read a small file into buf (NUL-terminated, surrounding whitespace trimmed). Returns 0,
 * -errno, or -EFBIG when it does not fit in bufsize - 1 bytes.
 */
int sku_read_small(const char *path, char *buf, size_t bufsize);

/*
 * Parse a whole string (surrounding whitespace allowed) as a decimal integer.
 * Returns 0, -EINVAL for garbage or an empty string, -ERANGE when it does not fit.
 */
int sku_parse_u64(const char *s, uint64_t *ret);
int sku_parse_i64(const char *s, int64_t *ret);

/*
 * Byte or count limits as cgroup files write them: "max" (v2), values at or above
 * SKU_LIMIT_UNLIMITED_MIN (v1's page-rounded LONG_MAX, for any page size up to 64 KiB) and
 * anything beyond 64 bits mean "no limit": *ret = -1. v1's "-1" also means no limit.
 * Returns 0 or -EINVAL for garbage and empty strings.
 */
#define SKU_LIMIT_UNLIMITED_MIN (INT64_MAX - 65535)
int sku_parse_limit(const char *s, int64_t *ret);

/*
 * cgroup v2 cpu.max: "QUOTA PERIOD", "max PERIOD", "QUOTA" (period 100000) or "max".
 * On success *ret_quota is -1 for no limit, else > 0, and *ret_period > 0.
 * Returns -EINVAL for anything else (zero period or quota, extra fields, garbage, empty).
 */
int sku_parse_cpu_max(const char *s, int64_t *ret_quota, int64_t *ret_period);

/*
 * Find "key value" (space or tab separated, one per line) in text, as memory.stat and
 * /proc/meminfo write them; the value is the first number after the key.
 * Returns 0, -ENOENT when the key is absent, -EINVAL/-ERANGE for a bad number.
 */
int sku_kv_find_u64(const char *text, const char *key, uint64_t *ret);

/*
 * "Max open files  SOFT  HARD  files" from /proc/<pid>/limits; "unlimited" gives -1.
 * Returns 0, -ENOENT when the line is absent, -EINVAL when it is malformed.
 */
int sku_limits_find(const char *text, const char *name, int64_t *ret_soft, int64_t *ret_hard);

/* ---- CPU lists (cpulist.c) ---- */

#define SKU_CPU_MAX 1048576 /* CPU numbers at or above this are rejected as garbage */

/*
 * Count the CPUs in a list such as "0-3,8,10-11" (surrounding whitespace allowed; an
 * overlapping or repeated range is counted once per range, as the kernel never writes one).
 * Returns 0, -ENODATA for an empty list, -EINVAL for malformed text.
 */
int sku_cpulist_count(const char *s, uint32_t *ret_count);

/* ---- mountinfo (mountinfo.c) ---- */

/* The controllers whose limits we read. */
enum sku_ctrl { SKU_CTRL_CPU, SKU_CTRL_CPUSET, SKU_CTRL_MEMORY, SKU_CTRL_PIDS, SKU_CTRL__MAX };
#define SKU_CTRL_BIT(c) (1u << (c))

/* Name in /proc/<pid>/cgroup and cgroup.controllers ("cpu", "cpuset", ...). */
const char *sku_ctrl_name(enum sku_ctrl c);
/* Controller bit for a name of len bytes, or 0 for one we do not read (cpuacct, name=...). */
unsigned sku_ctrl_bit(const char *name, size_t len);

struct sku_mount {
	char *root;     /* unescaped mount root inside the hierarchy ("/" or a bind subtree) */
	char *point;    /* unescaped mount point, in the reader's mount namespace */
	bool v2;        /* cgroup2, else a v1 cgroup hierarchy */
	unsigned ctrls; /* v1: SKU_CTRL_BIT()s from the super options (name= hierarchies: 0) */
	unsigned order; /* line number, for stable preference among equals */
};

struct sku_mounts {
	struct sku_mount *v; /* owned; every string owned by its entry */
	size_t n;
	bool have_v1; /* some v1 hierarchy with a controller (not only name=) */
	bool have_v2;
};

#define SKU_MOUNTS_MAX 4096 /* cgroup mounts kept; more is a broken or hostile table */

/*
 * Parse mountinfo text, keeping cgroup and cgroup2 mounts. Octal escapes (\040, \011, \012,
 * \134) are decoded; lines may be any length; malformed lines are skipped and counted in
 * *ret_bad (may be NULL). Returns 0 (possibly with no mounts), or -ENOMEM.
 * On success the caller owns *ret and frees it with sku_mounts_done().
 */
int sku_mounts_parse(const char *text, size_t len, struct sku_mounts *ret, unsigned *ret_bad);
/* True when path has a ".." component. */
bool sku_path_has_dotdot(const char *path);
void sku_mounts_done(struct sku_mounts *m);

/* Decode mountinfo octal escapes in place; returns the new length. */
size_t sku_unescape_octal(char *s, size_t len);

/* ---- /proc/<pid>/cgroup and path translation (cgroup_path.c) ---- */

struct sku_proc_cgroups {
	char *v1[SKU_CTRL__MAX]; /* owned; the process's path per v1 controller, or NULL */
	char *v2;                /* owned; the "0::" path, or NULL */
	bool any_v1;             /* some v1 line other than name= */
};

/*
 * Parse /proc/<pid>/cgroup text: "ID:CONTROLLERS:PATH" per line, split at the first two
 * colons only (paths may contain colons). name= hierarchies are ignored. Malformed lines are
 * skipped. Returns 0 or -ENOMEM; the caller frees with sku_proc_cgroups_done().
 */
int sku_proc_cgroups_parse(const char *text, size_t len, struct sku_proc_cgroups *ret);
void sku_proc_cgroups_done(struct sku_proc_cgroups *pc);

/* Where one controller's limits live for a process. */
struct sku_ctrl_loc {
	bool found;
	bool v2;
	bool uncertain;      /* the path could not be translated exactly; read at the mount */
	char dir[PATH_MAX];  /* absolute leaf directory under sysroot */
	size_t mount_len;    /* strlen of the mount point prefix of dir: the walk stops there */
	char path[PATH_MAX]; /* the process's cgroup path in that hierarchy (for reporting) */
};

/*
 * Pick the mount for controller c and translate the process's path into a directory under
 * sysroot (v1 if a v1 hierarchy carries it and the process lists it; otherwise v2 when
 * v2_ctrls, the controllers enabled in the cgroup2 mount, contains it). A translated leaf that
 * does not exist falls back to the longest existing suffix under the mount, then to the mount
 * point itself (uncertain). Returns 0, -ENOENT when no hierarchy carries the controller,
 * -ENAMETOOLONG.
 */
int sku_ctrl_locate(const char *sysroot, const struct sku_mounts *m,
                    const struct sku_proc_cgroups *pc, enum sku_ctrl c, unsigned v2_ctrls,
                    struct sku_ctrl_loc *ret);

/*
 * Best cgroup2 mount for a process's v2 path (root an ancestor of the path, under
 * /sys/fs/cgroup preferred), or NULL.
 */
const struct sku_mount *sku_mounts_pick_v2(const struct sku_mounts *m, const char *path);

/* ---- gathered facts (facts_linux.c / facts_darwin.c) ---- */

#define SKU_FACTS_MAX_WARNINGS 8
#define SKU_FACTS_WARNING_LEN  200
#define SKU_FACTS_SRC_LEN      256
#define SKU_FACTS_MAX_DIRS     128 /* watched directories per cgroup (levels x controllers) */
#define SKU_FACTS_MAX_DEPTH    64  /* levels walked per controller */

#define SKU_CGROUP_HYBRID 3 /* cgroup_version value for v1 controllers beside a cgroup2 mount */

struct sku_facts_warnings {
	unsigned count;
	bool truncated;
	char text[SKU_FACTS_MAX_WARNINGS][SKU_FACTS_WARNING_LEN];
};

void sku_facts_warn(struct sku_facts_warnings *w, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Every value unknown or unlimited (-1), no warnings. */
struct sku_group_facts;
void sku_group_facts_init(struct sku_group_facts *g);

/* Values per cgroup (shared by every process with the same /proc/<pid>/cgroup). -1 = nil. */
struct sku_group_facts {
	int cgroup_version; /* 0 (none), 1, 2 or SKU_CGROUP_HYBRID */
	char cgroup_path[PATH_MAX];
	bool has_path;

	int64_t quota_us, period_us; /* binding quota level (smallest quota/period), or -1 */
	char quota_src[SKU_FACTS_SRC_LEN];
	int64_t cpuset_cpus; /* CPUs in the effective cpuset, or -1 */
	char cpuset_src[SKU_FACTS_SRC_LEN];
	int64_t cpu_shares; /* v1 cpu.shares or v2 cpu.weight at the leaf, or -1 */
	int64_t cpu_online; /* > 0 */

	int64_t mem_total; /* MemTotal bytes */
	int64_t mem_limit; /* smallest memory limit on the walk, or -1 */
	char mem_src[SKU_FACTS_SRC_LEN];
	int64_t mem_high; /* smallest memory.high on the walk, or -1 */
	int64_t mem_used; /* usage at the binding level (leaf if unlimited), or -1 */
	int64_t mem_working_set;

	int64_t pids_limit; /* smallest pids.max on the walk, or -1 */
	char pids_src[SKU_FACTS_SRC_LEN];
	int64_t pids_current;
	int64_t pid_max, threads_max; /* 0 when unreadable */

	struct sku_facts_warnings warnings;
};

/* Values of one process, re-read on every request. */
struct sku_proc_facts {
	pid_t pid;
	int64_t nofile_soft, nofile_hard; /* -1: unlimited or unknown (warning says which) */
	int64_t affinity;                 /* CPUs the process may run on, or -1 when unknown */
	struct sku_facts_warnings warnings;
};

/* Directories whose changes (inotify IN_MODIFY of a file inside) may change the facts. */
struct sku_watch_dirs {
	unsigned n;
	char *dir[SKU_FACTS_MAX_DIRS]; /* owned */
};
void sku_watch_dirs_done(struct sku_watch_dirs *d);

/* Cached, re-parsed at most once per max_age_ns: the mount table of the reader. */
struct sku_facts_env {
	const char *sysroot; /* borrowed; "" for the real root */
	struct sku_mounts mounts;
	bool mounts_valid;
	uint64_t mounts_read_ns;
};

void sku_facts_env_init(struct sku_facts_env *env, const char *sysroot);
/* buf = sysroot + the formatted path. Returns 0 or -ENAMETOOLONG. */
int sku_facts_path(const struct sku_facts_env *env, char *buf, size_t size, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
void sku_facts_env_done(struct sku_facts_env *env);

/*
 * Read pid's per-process facts, and its cgroup membership text (the cache key: identical
 * text means identical cgroups) into *ret_key (owned by the caller; "" when the file is
 * missing). Returns 0, -ESRCH when the process does not exist, -ENOMEM.
 */
int sku_facts_read_proc(struct sku_facts_env *env, pid_t pid, struct sku_proc_facts *ret,
                        char **ret_key, size_t *ret_keylen);

/*
 * Compute the per-cgroup facts for membership text key (as returned above) at time now_ns.
 * Fills *ret and, when ret_dirs is not NULL, the directories to watch. Never fails on bad
 * inputs (they become warnings); returns 0 or -ENOMEM.
 */
int sku_facts_read_group(struct sku_facts_env *env, const char *key, size_t keylen, uint64_t now_ns,
                         struct sku_group_facts *ret, struct sku_watch_dirs *ret_dirs);

/*
 * Directory change notification (dirwatch_linux.c: inotify; elsewhere -ENOSYS, and the
 * periodic re-check alone keeps facts current).
 * open: a non-blocking, close-on-exec fd, or -errno. add: a watch descriptor >= 0 (the same
 * one for the same directory: callers count references) or -errno. drain: reads every queued
 * event without blocking and calls fn once per event with its watch descriptor, -1 meaning
 * "anything may have changed" (queue overflow); returns 0 or -errno.
 */
int sku_dirwatch_open(void);
int sku_dirwatch_add(int fd, const char *dir);
void sku_dirwatch_rm(int fd, int wd);
int sku_dirwatch_drain(int fd, void (*fn)(void *ctx, int wd), void *ctx);

/* ---- derived values (facts_calc.c) ---- */

struct sku_facts_derived {
	int64_t cpu_count, cpu_count_floor;
	double cpu_quota; /* < 0: none */
	int64_t cpu_base; /* min(affinity, cpuset, online) */
	char cpu_src[SKU_FACTS_SRC_LEN];
	int64_t mem_effective;
	const char *mem_src; /* points into the group facts or a literal */
};

void sku_facts_derive(const struct sku_group_facts *g, const struct sku_proc_facts *p,
                      struct sku_facts_derived *ret);

/* Whether two gatherings differ in anything but the moving usage counters. */
bool sku_group_facts_changed(const struct sku_group_facts *a, const struct sku_group_facts *b);
bool sku_proc_facts_changed(const struct sku_proc_facts *a, const struct sku_proc_facts *b);

/* max(4, cpu_count - 1), x4 for "kubernetes" (any case; cloud may be NULL). */
int64_t sku_parallel_threads(int64_t cpu_count, const char *cloud, size_t cloud_len);
/* max(1, min((nofile_soft -sat 100) / fds_per_source, threads)); nofile_soft < 0 = unlimited. */
int64_t sku_max_workers(int64_t nofile_soft, int64_t fds_per_source, int64_t threads);

#endif
