/*
 * procfs.h - process identity and state: the platform seam of the proc module.
 *
 * procfs.c holds the pure parsers of Linux /proc text (portable C, fuzzed and unit-tested
 * everywhere) and the state names; the readers are platform code: procfs_linux.c reads
 * /proc, procfs_darwin.c asks the macOS kernel (sysctl kern.proc.pid, libproc).
 *
 * Parsers take a buffer and its length (not NUL-terminated), never read past it and never
 * allocate. Readers return -ESRCH when the process does not exist (any more).
 */
#ifndef SKU_PROC_PROCFS_H
#define SKU_PROC_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Largest /proc/<pid>/stat we accept; the real line is far shorter (comm ≤ 15 bytes). */
#define SKU_STAT_MAX 4096

struct sku_stat {
	pid_t pid;
	char state; /* Linux's letter: R S D Z T t X I W P K (macOS maps its p_stat onto R S T Z) */
	pid_t ppid;
	/*
	 * Start time; with pid it identifies a process. The unit is the platform's (see
	 * sku_procfs_read_clock): clock ticks since boot on Linux (/proc/<pid>/stat field 22),
	 * microseconds since the epoch on macOS.
	 */
	uint64_t start_time;
};

/*
 * Parse one /proc/<pid>/stat line. comm (field 2) may hold spaces and parentheses, so fields
 * are counted from the last ')'. Returns 0, or -EBADMSG for anything malformed.
 */
int sku_procfs_parse_stat(const char *buf, size_t len, struct sku_stat *ret);

/* Real uid from the "Uid:" line of /proc/<pid>/status. 0 or -EBADMSG. */
int sku_procfs_parse_status_ruid(const char *buf, size_t len, uid_t *ret_ruid);

/* Thread-group id from the "Tgid:" line of /proc/<pid>/status. 0 or -EBADMSG. */
int sku_procfs_parse_status_tgid(const char *buf, size_t len, pid_t *ret_tgid);

/* "btime" (boot time, epoch seconds) from /proc/stat. 0 or -EBADMSG. */
int sku_procfs_parse_btime(const char *buf, size_t len, uint64_t *ret_btime);

/* "Pid:" from /proc/self/fdinfo/<pidfd>: -1 once reaped, 0 in another pid namespace. */
int sku_procfs_parse_fdinfo_pid(const char *buf, size_t len, int64_t *ret_pid);

/*
 * Whitespace-separated decimal pids (/proc/<pid>/task/<tid>/children). Calls fn for each;
 * stops and returns fn's value when it is non-zero. -EBADMSG on a bad token or pid ≤ 0.
 */
int sku_procfs_parse_pidlist(const char *buf, size_t len, int (*fn)(pid_t pid, void *ctx),
                             void *ctx);

/* Wire state name for a stat letter: "running", "sleeping", "stopped" or "zombie". */
const char *sku_procfs_state_name(char state);

/* ---- platform readers (procfs_linux.c, procfs_darwin.c) ---- */

/*
 * Keep open what the readers reuse (Linux: a /proc directory fd, so a read does not resolve
 * "/proc" each time). Call once at start-up; the readers also work without it. 0 or -errno;
 * sku_procfs_done() releases it.
 */
int sku_procfs_init(void);
void sku_procfs_done(void);

/* Readers. 0, -ESRCH when the process is gone, -EBADMSG, or another -errno. */
int sku_procfs_read_stat(pid_t pid, struct sku_stat *ret);
int sku_procfs_read_ruid(pid_t pid, uid_t *ret_ruid);

/*
 * Whose thread pid is, and the real uid, from one read (Linux: /proc/<pid>/status). Linux
 * has /proc/<tid> for every thread, not only for the thread-group leaders that are the
 * processes: *ret_tgid is pid for a process, its process's pid for another thread. macOS
 * has no thread ids among pids: *ret_tgid is pid. *ret_ruid is (uid_t)-1 when unknown.
 * 0, -ESRCH, -EBADMSG when the thread-group id cannot be read, or another -errno.
 */
int sku_procfs_read_tgid(pid_t pid, pid_t *ret_tgid, uid_t *ret_ruid);

/*
 * How start times map to wall-clock time: a start time t began at epoch second
 * *ret_base + t / *ret_per_s. Linux: boot time and CLK_TCK; macOS: 0 and 1000000.
 */
int sku_procfs_read_clock(uint64_t *ret_base, long *ret_per_s);

/*
 * Call fn for each pid that may be a child of ppid (callers confirm from its stat: the
 * lists may hold stale or traced entries); stops and returns fn's value when non-zero.
 * 0 (nothing) when ppid is gone, -ENOTSUP when the system cannot list children (then use
 * sku_procfs_each_pid), -ENOMEM, -EFBIG, or another -errno.
 */
int sku_procfs_each_child(pid_t ppid, int (*fn)(pid_t pid, void *ctx), void *ctx);
/* Call fn for every process; stops and returns fn's value when non-zero. */
int sku_procfs_each_pid(int (*fn)(pid_t pid, void *ctx), void *ctx);

/* Linux only. */
int sku_procfs_read_btime(uint64_t *ret_btime);
/* Read a whole small file into buf (at most buflen bytes); *ret_len is the length read. */
int sku_procfs_read_file(const char *path, char *buf, size_t buflen, size_t *ret_len);

#endif
