/*
 * proc_int.h - the process-watching module's internal seams (daemon/proc/).
 *
 *   proc.c        module life cycle, fd budget
 *   proc_status.c race-free snapshot of one process (sku_proc_lookup) and its wire entry
 *   statusjob.c   proc.status batches answered in time slices
 *   watch.c       watched processes: one per (pid, start_time), shared by subscribers
 *   watch_*.c     platform backends (watch_backend.h)
 *   cwatch.c      client watches: proc.watch subscriptions owned by a connection
 *   linger.c      processes still watched after their watchers' connections closed
 *   exitcache.c   bounded memory of recent exits
 *   livecache.c   live processes pinned by pidfds, for liveness-only status (liveset.h)
 *   tree.c        descendants (children lists from procfs.h)
 *   killtree.c    signal a tree, wait, SIGKILL survivors
 *   guard.c       kill a tree when another process exits
 *   quota.c       watches and guards held per user, against their limits
 *   h_proc.c      request handlers and the method table
 */
#ifndef SKU_PROC_INT_H
#define SKU_PROC_INT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "htab.h"
#include "list.h"
#include "sku_daemon.h"
#include "watch_backend.h"

/* ---- identities and snapshots ---- */

struct sku_ident {
	pid_t pid;
	bool has_start;
	uint64_t start_time; /* in the platform's unit (struct sku_stat in procfs.h) */
};

/* Everything proc.status reports about one process. */
struct sku_pinfo {
	pid_t pid;
	const char *state; /* "running" "sleeping" "stopped" "zombie" "gone" "reused" */
	bool alive;        /* running, sleeping or stopped */
	bool has_start;
	uint64_t start_time;
	bool has_ppid;
	pid_t ppid;
	bool has_uid;
	uid_t uid;
	bool has_ino;
	uint64_t ino; /* pidfs inode */
	bool has_exit;
	int wstatus;        /* wait(2) status, when has_exit */
	const char *reason; /* static string or NULL */
};

/* One process's end, as delivered to subscribers and kept in the exit cache. */
struct sku_exit {
	pid_t pid;
	uint64_t start_time;
	uid_t uid;       /* real uid of the process; (uid_t)-1 when unknown */
	bool has_status; /* wstatus valid */
	int wstatus;
	double exited_at;   /* epoch seconds when the daemon saw the exit */
	const char *reason; /* static; why there is no status */
};

/* ---- bounded cache of recent exits (exitcache.c) ---- */

struct sku_exitent {
	struct sku_hnode node; /* key: pid */
	struct sku_exit ex;
	uint64_t seq; /* insertion order; 0 = unused slot */
};

struct sku_exitcache {
	struct sku_exitent *ring; /* owned; cap entries */
	size_t cap, next;
	uint64_t seq;
	struct sku_htab by_pid;
};

int sku_exitcache_init(struct sku_exitcache *c, size_t cap);
void sku_exitcache_done(struct sku_exitcache *c);
/* Remember ex, evicting the oldest entry when full. */
void sku_exitcache_put(struct sku_exitcache *c, const struct sku_exit *ex);
/* The exit of id (of the most recent process with that pid when !id->has_start), or NULL. */
const struct sku_exit *sku_exitcache_get(const struct sku_exitcache *c, const struct sku_ident *id);

/* ---- liveness cache (livecache.c) ---- */

/*
 * Live processes that liveness-only proc.status requests asked about, each pinned by its
 * pidref in a liveset (liveset.h), so the next such request answers from memory instead of
 * /proc: an exit makes the pidref readable, and every lookup first collects those
 * (sku_livecache_sync), so an answer is never staler than the request. Entries unused for
 * LIVECACHE_TTL are dropped; watches take fds back when the budget runs out.
 */
struct sku_livent {
	struct sku_hnode node; /* in by_pid, key: pid */
	struct sku_list lru;   /* least recently used first */
	pid_t pid;
	int ref; /* owned pidref */
	uint64_t start_time;
	bool has_ino;
	uint64_t ino;
	uint64_t used_ns; /* sku_now_ns() of the last lookup */
};

struct sku_livecache {
	struct sku_htab by_pid;
	struct sku_list lru;
	int set; /* liveset fd, owned; -1 when the cache is off */
	uv_poll_t poll;
	uv_timer_t timer;
	unsigned count, cap;
};

/* The cache stays off (every lookup misses) when the platform has no liveset. */
int sku_livecache_init(struct sku_procmod *pm);
void sku_livecache_done(struct sku_procmod *pm);
/* Forget the processes that have exited since the last call. */
void sku_livecache_sync(struct sku_procmod *pm);
/* The entry for pid (alive as of the last sync), marked used; NULL when not cached. */
const struct sku_livent *sku_livecache_get(struct sku_procmod *pm, pid_t pid);
/* Whether one more entry fits (the cap, and fds the watches do not need). */
bool sku_livecache_room(const struct sku_procmod *pm);
/* Keep ref, a verified pidref of the live process pi; ref is closed when it cannot be kept. */
void sku_livecache_put(struct sku_procmod *pm, const struct sku_pinfo *pi, int ref);
/* Drop the least recently used entry to free an fd: true when one was dropped. */
bool sku_livecache_shed(struct sku_procmod *pm);

/* ---- watched processes (watch.c) ---- */

struct sku_wsub;
typedef void (*sku_wsub_fn)(struct sku_wsub *sub, const struct sku_exit *ex);

/*
 * A subscription to one process's end, embedded in its owner (zero-initialised). want_status
 * subscribers hear once the exit status is known (the reap), or after a grace period for a
 * zombie its parent does not reap; others hear as soon as the process has exited (zombie or
 * not). on_exit is called once, after the subscription has been unlinked: it may free sub.
 *
 * on_exiting (optional) is called once when the process has exited, before on_exit and while
 * still subscribed, unless announced is already set (the owner knew it had exited). It may
 * free sub, and must then not touch it after cancelling the subscription.
 */
struct sku_wsub {
	struct sku_list link;
	struct sku_wproc *wp; /* NULL when not subscribed */
	bool want_status;
	bool announced; /* on_exiting has been called, or is not to be */
	sku_wsub_fn on_exit;
	sku_wsub_fn on_exiting;
};

struct sku_wproc {
	struct sku_hnode node; /* in pm->wprocs, key sku_ident_key(pid, start_time) */
	struct sku_procmod *pm;
	pid_t pid;
	uint64_t start_time;
	uid_t uid;
	struct sku_list subs;     /* of sku_wsub */
	struct sku_list zlink;    /* in pm->zombies while waiting for the reap */
	uint64_t zombie_deadline; /* sku_now_ns() */
	bool exited;              /* the exit has been seen */
	bool closing;             /* sku_wb_close() called; only waiting for sku_wproc_closed */
	bool delivering;          /* subscribers are being told; do not release yet */
	bool reserve;             /* its fd counts against the reserve, not the watch budget */
	bool linger_wanted;       /* a watch ended with its connection (until a takeover) */
	bool lingering;           /* no subscriber; in pm->linger.procs (linger.c) */
	struct sku_list llink;    /* in pm->linger.procs while lingering */
	uint64_t linger_deadline; /* sku_now_ns() */
	double exited_at;
	struct sku_wbackend be;
};

/*
 * Subscribe sub to the process id (id->has_start must be true; uid its real uid).
 * ref is a verified pidref for it (taken in every case; -1 when the caller has none). When
 * the process is already watched the existing watch is shared and ref closed.
 * reserve: a kill tree may dip into the fd reserve kept beyond the watch budget.
 * Returns 0; 1 when the process has already exited and sub is a non-status subscriber (not
 * subscribed); -EMFILE when out of watch budget; -ENOMEM; -ESRCH when it vanished.
 */
int sku_wproc_subscribe(struct sku_procmod *pm, const struct sku_ident *id, uid_t uid, int ref,
                        bool reserve, struct sku_wsub *sub);
/* Cancel a subscription (harmless when not subscribed). */
void sku_wsub_cancel(struct sku_wsub *sub);
/*
 * Cancel a subscription whose owner went away without asking (its connection closed): the
 * process, if no one else watches it, lingers (linger.c) so its exit still reaches the cache.
 */
void sku_wsub_leave(struct sku_wsub *sub);
/* Signal the process sub watches. 0, -ESRCH, -EPERM. */
int sku_wsub_signal(struct sku_wsub *sub, int sig);
/* Whether the process sub watches is known to have exited (false when not subscribed). */
bool sku_wsub_exited(const struct sku_wsub *sub);

/* Stop watching wp at once, recording nothing (linger.c drops lingering processes so). */
void sku_wproc_release(struct sku_wproc *wp);

/* Backend callbacks (watch_backend.h). */
void sku_wproc_exited(struct sku_wproc *wp);
void sku_wproc_reaped(struct sku_wproc *wp);
void sku_wproc_closed(struct sku_wproc *wp);

int sku_watch_init(struct sku_procmod *pm);
void sku_watch_done(struct sku_procmod *pm);

/* ---- lingering processes (linger.c) ---- */

/*
 * Watched processes left without a subscriber when their watchers' connections closed, kept
 * so that their exit still reaches the exit cache for a client that reconnects. Bounded in
 * number (cap) and time (ttl_ns, --linger-timeout); oldest first in procs, which is also
 * deadline order since every entry gets the same ttl.
 */
struct sku_linger {
	struct sku_list procs; /* of sku_wproc (llink), oldest first */
	uv_timer_t timer;      /* runs while procs is not empty */
	unsigned count, cap;
	uint64_t ttl_ns; /* 0: lingering is off */
};

int sku_linger_init(struct sku_procmod *pm);
/* Close the timer; every lingering process must have been released before. */
void sku_linger_done(struct sku_procmod *pm);
/* Let wp (no subscriber, not exited) linger: true when it does, false to release it. */
bool sku_linger_keep(struct sku_wproc *wp);
/* wp stops lingering (a new subscriber, its exit, or its release); harmless otherwise. */
void sku_linger_forget(struct sku_wproc *wp);
/* Release the oldest lingering process to free an fd: true when one was released. */
bool sku_linger_shed(struct sku_procmod *pm);

/* ---- client watches (cwatch.c) ---- */

/*
 * Watch id for conn: on success *ret_id is set and exactly one proc.exited follows.
 * With exiting, one proc.exiting precedes it when the process exits, unless the caller's
 * reply already says it is not alive: *io_alive is what the reply says, and is cleared when
 * the process is already known to have exited (no proc.exiting is sent then).
 * ref as sku_wproc_subscribe. -EMFILE, -ENOMEM, -ESRCH.
 */
int sku_cwatch_add(struct sku_procmod *pm, struct sku_conn *conn, const struct sku_ident *id,
                   uid_t uid, int ref, bool exiting, bool *io_alive, uint64_t *ret_id);
/* Remove the watch id owned by conn: 0 or -ENOENT. */
int sku_cwatch_remove(struct sku_procmod *pm, struct sku_conn *conn, uint64_t id);
void sku_cwatch_done(struct sku_procmod *pm);

/* ---- snapshots (proc_status.c) ---- */

/*
 * Snapshot id race-free. When ret_ref is non-NULL and the process exists (alive or zombie)
 * with the right identity, a verified pidref is handed over in *ret_ref (caller owns; else
 * -1). Returns 0, or -EMFILE/-ENFILE when ret_ref was asked for and no fd is left, -errno on
 * unexpected failures.
 */
int sku_proc_lookup(struct sku_procmod *pm, const struct sku_ident *id, struct sku_pinfo *ret,
                    int *ret_ref);
/* Epoch seconds for a start time (see sku_procmod.btime). */
double sku_proc_create_time(const struct sku_procmod *pm, uint64_t start_time);
/* Whether peer may see the exit status / signal processes of uid. */
bool sku_proc_may_access(const struct sku_peer *peer, uid_t uid);
/*
 * Whether pid is init and peer is not: pid 1's tree is every process of its namespace, so one
 * mistyped pid would take the machine (or container) down. Such a kill or guard is refused
 * whoever asks; init itself may (a container's init killing its own children).
 */
bool sku_proc_is_others_init(const struct sku_peer *peer, pid_t pid);
/*
 * Liveness-only snapshot: as sku_proc_lookup, but from the liveness cache when it holds pid,
 * and adding what it reads to it. Only pid, alive, start_time (create_time), pidfd_ino,
 * reason and the exit fields are meaningful (state is NULL for a cached answer). The caller
 * calls sku_livecache_sync() once before a batch of these.
 */
int sku_proc_lookup_brief(struct sku_procmod *pm, const struct sku_ident *id,
                          struct sku_pinfo *ret);

/* The fields of a status entry, as selected by proc.status's "fields". */
enum {
	SKU_PF_PID = 1u << 0,
	SKU_PF_ALIVE = 1u << 1,
	SKU_PF_STATE = 1u << 2,
	SKU_PF_START_TIME = 1u << 3,
	SKU_PF_CREATE_TIME = 1u << 4,
	SKU_PF_PPID = 1u << 5,
	SKU_PF_UID = 1u << 6,
	SKU_PF_EXIT_CODE = 1u << 7,
	SKU_PF_SIGNAL = 1u << 8,
	SKU_PF_REASON = 1u << 9,
	SKU_PF_PIDFD_INO = 1u << 10, /* packed only when known */
	SKU_PF_ALL = (1u << 11) - 1,
	/* Fields that change while a process lives: only a fresh /proc read gives them. */
	SKU_PF_VOLATILE = SKU_PF_STATE | SKU_PF_PPID | SKU_PF_UID,
};
/*
 * Answer proc.status for the n identities ids (taken over, freed here) with the given
 * fields: packed now (0), or over several loop turns when big (SKU_CALL_DEFERRED); see
 * statusjob.c. Negative after sku_call_error().
 */
int sku_status_answer(struct sku_procmod *pm, struct sku_call *call, struct sku_ident *ids,
                      size_t n, unsigned fields);
int sku_status_init(struct sku_procmod *pm);
/* Cancel unfinished batches (their callers hear UNAVAILABLE). */
void sku_status_done(struct sku_procmod *pm);

/* The SKU_PF_ bit of a field name, or 0 when there is no such field. */
unsigned sku_pinfo_field(const char *name, size_t len);
/*
 * Pack pi as a wire entry: a map of the fields selected, plus nextra more entries the caller
 * packs after.
 */
void sku_pinfo_pack(const struct sku_procmod *pm, msgpack_packer *pk, const struct sku_pinfo *pi,
                    const struct sku_peer *peer, unsigned fields, unsigned nextra);
/* Pack exit_code, signal (2 map entries) from an exit, with permission applied. */
void sku_exit_pack_status(msgpack_packer *pk, bool visible, bool has_status, int wstatus);

/* ---- trees (tree.c) ---- */

struct sku_procent {
	pid_t pid;
	pid_t ppid;
	uint64_t start_time;
};

/* Upper bound on the processes one tree query returns. */
#define SKU_TREE_MAX (1u << 20)

/*
 * Descendants of root (children only unless recursive), each started no earlier than its
 * parent so a recycled pid is never taken for a child, and each found while its parent held
 * its pid (a parent whose start time changed or that vanished meanwhile loses the children
 * found for it). *ret is malloc'd (caller frees) with *ret_n entries, parents before
 * children. 0, -ESRCH when root itself no longer has its start time (gone, or its pid
 * recycled), -ENOMEM, -E2BIG past SKU_TREE_MAX.
 */
int sku_tree_children(const struct sku_procent *root, bool recursive, struct sku_procent **ret,
                      size_t *ret_n);

/* ---- kill trees (killtree.c) ---- */

struct sku_killtree;
typedef void (*sku_killtree_done_fn)(struct sku_killtree *kt, void *ctx);

struct sku_killtree_req {
	struct sku_ident root;
	int sig;
	double grace_s;
	bool include_root;
	struct sku_peer auth; /* whose authority: root may signal anyone, others their own */
};

/*
 * Signal the tree under req->root now; SIGKILL what is left after grace_s; call done (from
 * the loop, never from this function) when every member is gone; done must free kt with
 * sku_killtree_free(). Returns 0 and *ret_kt; -ESRCH when the root is gone (nothing sent),
 * -ESTALE when its pid was reused, -EPERM when auth may not signal the root, -EMFILE, -ENOMEM.
 */
int sku_killtree_start(struct sku_procmod *pm, const struct sku_killtree_req *req,
                       sku_killtree_done_fn done, void *ctx, struct sku_killtree **ret_kt);
/* Pack {signalled, killed, already_gone, denied} as lists of pids. */
void sku_killtree_pack(const struct sku_killtree *kt, msgpack_packer *pk);
/* Free a kill tree; when still running, its waits are cancelled and done is not called. */
void sku_killtree_free(struct sku_killtree *kt);
/* Abort every running kill tree (shutdown): done is called for each, from this function. */
void sku_killtree_abort_all(struct sku_procmod *pm);

/* ---- guards (guard.c) ---- */

struct sku_guard_req {
	struct sku_ident watch, target;
	double grace_s;
	int sig;
	struct sku_peer auth;
};

/* 0 and *ret_id; *ret_fired when watch had already ended (target's tree is being killed). */
int sku_guard_add(struct sku_procmod *pm, const struct sku_guard_req *req, uint64_t *ret_id,
                  bool *ret_fired);
/* 0, or -ENOENT (no such guard, or not one the peer created and the peer is not root). */
int sku_guard_remove(struct sku_procmod *pm, uint64_t id, const struct sku_peer *peer);
/* Pack the guards peer may see (all for root, its own otherwise) as an array. */
void sku_guard_pack_list(struct sku_procmod *pm, msgpack_packer *pk, const struct sku_peer *peer);
void sku_guard_done(struct sku_procmod *pm);

/* ---- module state (proc.c) ---- */

struct sku_procmod {
	struct sku_server *srv;
	/* start_time t began at epoch second btime + t / clk_tck (sku_procfs_read_clock). */
	uint64_t btime;      /* Linux: boot time; macOS: 0 */
	long clk_tck;        /* Linux: CLK_TCK; macOS: 1000000 (start times are in microseconds) */
	unsigned fd_budget;  /* pidfds watches may hold */
	unsigned fd_reserve; /* further pidfds kill trees and guards may hold */
	unsigned nfds;       /* pidfds held now, by watches, lingering and the liveness cache */
	struct sku_htab wprocs;
	struct sku_htab watches; /* client watches by id (cwatch.c) */
	struct sku_exitcache cache;
	struct sku_livecache live;
	struct sku_linger linger;
	struct sku_list status_jobs; /* proc.status batches in progress (statusjob.c) */
	uv_idle_t status_idle;       /* runs their slices while there are any */
	struct sku_list zombies;     /* of sku_wproc, in deadline order */
	uv_timer_t zombie_timer;
	struct sku_list guards;    /* of guard.c's struct */
	struct sku_htab quotas;    /* per-uid counts (quota.c); buckets made at first use */
	struct sku_list killtrees; /* running, of killtree.c's struct */
	struct sku_wb_module wbm;
	unsigned nhandles; /* open libuv handles; pm is freed when it drops to 0 after done */
	bool stopping;
};

/* ---- per-user limits (quota.c) ---- */

enum sku_quota_kind { SKU_QUOTA_WATCH, SKU_QUOTA_GUARD, SKU_QUOTA__MAX };

/*
 * Count one more watch or guard held by uid: 0, or -EDQUOT when uid holds its limit
 * (cfg.max_user_watches / max_user_guards), -ENOMEM. Root and a limit of 0 are not counted.
 */
int sku_quota_take(struct sku_procmod *pm, uid_t uid, enum sku_quota_kind kind);
/* Undo one sku_quota_take() that returned 0. */
void sku_quota_give(struct sku_procmod *pm, uid_t uid, enum sku_quota_kind kind);
/* After every watch and guard has ended: frees what is left. */
void sku_quota_done(struct sku_procmod *pm);

/* A libuv handle owned by the module closed: free pm when it was the last after done. */
void sku_proc_handle_closed(struct sku_procmod *pm);
/* Fresh id for watches and guards. */
uint64_t sku_proc_next_id(struct sku_procmod *pm);
/* Wall-clock seconds since the epoch. */
double sku_proc_epoch_now(void);

#endif
