/*
 * pidref.h - stable process references (Linux pidfds; see pidref_linux.c / pidref_darwin.c).
 *
 * A pidref pins one process: once opened, it keeps referring to that process even after its
 * pid is recycled. The recipe for a race-free read of /proc is: sku_pidref_open(), read /proc,
 * then sku_pidref_verify() — if the process still holds its pid after the read, the read was
 * of that process and not of a successor.
 *
 * A pidref is an fd owned by the caller (close with sku_pidref_close). All fds are O_CLOEXEC.
 */
#ifndef SKU_PROC_PIDREF_H
#define SKU_PROC_PIDREF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Open a reference to pid. Returns 0 and *ret_fd, -ESRCH when no such process (or pid names
 * a thread, not a process), -EMFILE/-ENFILE when out of fds, -ENOSYS when unsupported.
 */
int sku_pidref_open(pid_t pid, int *ret_fd);
void sku_pidref_close(int fd);

/*
 * Check that fd still refers to a process (alive or zombie) that has pid in our namespace.
 * Returns 0 (and the real uid in *ret_ruid when known, else (uid_t)-1), -ESRCH once the
 * process has been reaped, -EXDEV when it lives in another pid namespace.
 */
int sku_pidref_verify(int fd, pid_t pid, uid_t *ret_ruid);

/*
 * The wait(2)-style status of the process behind fd. Returns 0 and *ret_wstatus once the
 * process has been reaped; -EAGAIN while it runs or is an unreaped zombie; -EOPNOTSUPP when
 * the kernel cannot tell (before Linux 6.15, or another platform).
 */
int sku_pidref_exit_status(int fd, int *ret_wstatus);

/* Send sig to the process behind fd. 0, -ESRCH when it was reaped, -EPERM. */
int sku_pidref_send_signal(int fd, int sig);

/*
 * The pidfs inode number of fd (Linux ≥ 6.9): unique for the life of the system, an extra
 * identity token. -EOPNOTSUPP when pidfds are not on pidfs.
 */
int sku_pidref_inode(int fd, uint64_t *ret_ino);

/*
 * Whether the whole process has exited, without blocking: a pidfd turns readable only once
 * every thread is gone, while /proc shows the thread-group leader as a zombie as soon as the
 * leader thread alone has exited. True when it cannot tell (trust /proc then).
 */
bool sku_pidref_exited(int fd);

/*
 * Learn what this kernel can tell, once, at start-up (before any other call): a child of
 * ours exits with a known code and is reaped, and its pidfd is asked for it. Forks, so call
 * it while the process is small and single-threaded. 0 when the answer is known (see
 * sku_pidref_exit_supported), or a negative errno when the probe itself failed: the module
 * then works without a verdict, taking every missing status as "not yet".
 */
int sku_pidref_probe(void);

/* Whether the exit-status query works here (true until the probe has said otherwise). */
bool sku_pidref_exit_supported(void);

#endif
