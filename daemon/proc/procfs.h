/*
 * procfs.h - bounded parsers and readers for the Linux /proc files the proc module needs.
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
	char state; /* the kernel's letter: R S D Z T t X I W P K */
	pid_t ppid;
	/* Field 22: start time in clock ticks since boot; with pid it identifies a process. */
	uint64_t start_time;
};

/*
 * Parse one /proc/<pid>/stat line. comm (field 2) may hold spaces and parentheses, so fields
 * are counted from the last ')'. Returns 0, or -EBADMSG for anything malformed.
 */
int sku_procfs_parse_stat(const char *buf, size_t len, struct sku_stat *ret);

/* Real uid from the "Uid:" line of /proc/<pid>/status. 0 or -EBADMSG. */
int sku_procfs_parse_status_ruid(const char *buf, size_t len, uid_t *ret_ruid);

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

/* Readers. 0, -ESRCH when the process is gone, -EBADMSG, or another -errno. */
int sku_procfs_read_stat(pid_t pid, struct sku_stat *ret);
int sku_procfs_read_ruid(pid_t pid, uid_t *ret_ruid);
int sku_procfs_read_btime(uint64_t *ret_btime);
/* Read a whole small file into buf (at most buflen bytes); *ret_len is the length read. */
int sku_procfs_read_file(const char *path, char *buf, size_t buflen, size_t *ret_len);

#endif
