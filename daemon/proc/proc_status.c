/*
 * proc_status.c - a race-free snapshot of one process, and its wire entry.
 *
 * Order matters: pidref first, then /proc, then verify that the pidref still holds the pid.
 * If it does, the /proc read cannot have been of a process that recycled the pid after ours
 * died. If the process was reaped in between, the whole lookup is retried.
 */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "pidref.h"
#include "proc_int.h"
#include "procfs.h"

/* Bound on retries when the process keeps being reaped between pidref and /proc. */
#define LOOKUP_TRIES 3

static void fill_from_cache(struct sku_procmod *pm, const struct sku_ident *id,
                            struct sku_pinfo *pi)
{
	const struct sku_exit *ex = sku_exitcache_get(&pm->cache, id);

	if (!ex)
		return;
	pi->has_start = true;
	pi->start_time = ex->start_time;
	if (ex->uid != (uid_t)-1) {
		pi->has_uid = true;
		pi->uid = ex->uid;
	}
	pi->has_exit = ex->has_status;
	pi->wstatus = ex->wstatus;
	pi->reason = ex->has_status ? NULL : ex->reason;
}

static void set_gone(struct sku_procmod *pm, const struct sku_ident *id, struct sku_pinfo *pi)
{
	*pi = (struct sku_pinfo){.pid = id->pid, .state = "gone", .reason = "no such process"};
	if (id->has_start) {
		pi->has_start = true;
		pi->start_time = id->start_time;
	}
	fill_from_cache(pm, id, pi);
}

static void set_reused(struct sku_procmod *pm, const struct sku_ident *id, struct sku_pinfo *pi)
{
	*pi = (struct sku_pinfo){.pid = id->pid,
	                         .state = "reused",
	                         .has_start = true,
	                         .start_time = id->start_time,
	                         .reason = "pid reused by another process"};
	fill_from_cache(pm, id, pi);
}

int sku_proc_lookup(struct sku_procmod *pm, const struct sku_ident *id, struct sku_pinfo *ret,
                    int *ret_ref)
{
	if (ret_ref)
		*ret_ref = -1;
	for (int attempt = 0; attempt < LOOKUP_TRIES; attempt++) {
		struct sku_stat st;
		uid_t uid = (uid_t)-1;
		uint64_t ino;
		int fd = -1, r;

		r = sku_pidref_open(id->pid, &fd);
		if (r == -ESRCH)
			break;
		/* Without an fd to spare a plain snapshot still answers status; watchers need one.
		 */
		if (r < 0 && ret_ref)
			return r;
		r = sku_procfs_read_stat(id->pid, &st);
		if (r < 0) {
			sku_pidref_close(fd);
			if (r == -ESRCH)
				break;
			return r;
		}
		if (fd >= 0) {
			r = sku_pidref_verify(fd, id->pid, &uid);
			if (r == -ESRCH) {
				sku_pidref_close(fd);
				continue;
			}
			if (r < 0) {
				sku_pidref_close(fd);
				if (r == -EXDEV)
					break;
				return r;
			}
		}
		if (fd < 0) {
			pid_t tgid;

			/*
			 * Without a pidfd nothing has refused a thread id yet (pidfd_open refuses
			 * a thread that does not lead its group): /proc/<tid> exists for every
			 * thread, so the status says whether pid is a process, and then that it
			 * is gone, as with pidfds. A status without Tgid is trusted to be one.
			 */
			r = sku_procfs_read_tgid(id->pid, &tgid, &uid);
			if (r == -ESRCH || (r == 0 && tgid != id->pid))
				break;
		} else if (uid == (uid_t)-1 && sku_procfs_read_ruid(id->pid, &uid) < 0) {
			uid = (uid_t)-1;
		}
		if (id->has_start && st.start_time != id->start_time) {
			sku_pidref_close(fd);
			set_reused(pm, id, ret);
			return 0;
		}
		*ret = (struct sku_pinfo){
		        .pid = id->pid,
		        .state = sku_procfs_state_name(st.state),
		        .has_start = true,
		        .start_time = st.start_time,
		        .has_ppid = true,
		        .ppid = st.ppid,
		        .has_uid = uid != (uid_t)-1,
		        .uid = uid,
		};
		ret->alive = st.state != 'Z' && st.state != 'X' && st.state != 'x';
		if (!ret->alive && !sku_pidref_exited(fd)) {
			/* Only the leader thread exited: the process runs on in its other threads.
			 */
			ret->alive = true;
			ret->state = sku_procfs_state_name('R');
		}
		if (!ret->alive)
			ret->reason = "exited; not yet reaped by its parent";
		if (fd >= 0 && sku_pidref_inode(fd, &ino) == 0) {
			ret->has_ino = true;
			ret->ino = ino;
		}
		if (ret_ref)
			*ret_ref = fd;
		else
			sku_pidref_close(fd);
		return 0;
	}
	set_gone(pm, id, ret);
	return 0;
}

int sku_proc_lookup_brief(struct sku_procmod *pm, const struct sku_ident *id, struct sku_pinfo *ret)
{
	const struct sku_livent *e = sku_livecache_get(pm, id->pid);
	int ref = -1, r;

	if (e) {
		pm->srv->metrics.status_cache_hits++;
		if (id->has_start && id->start_time != e->start_time) {
			set_reused(pm, id, ret);
			return 0;
		}
		*ret = (struct sku_pinfo){.pid = id->pid,
		                          .alive = true,
		                          .has_start = true,
		                          .start_time = e->start_time,
		                          .has_ino = e->has_ino,
		                          .ino = e->ino};
		return 0;
	}
	pm->srv->metrics.status_cache_misses++;
	if (!sku_livecache_room(pm))
		return sku_proc_lookup(pm, id, ret, NULL);
	r = sku_proc_lookup(pm, id, ret, &ref);
	/* No pidfd to keep (out of fds, or none to be had here): a plain read still answers. */
	if (r < 0)
		r = sku_proc_lookup(pm, id, ret, NULL);
	if (r == 0)
		sku_livecache_put(pm, ret, ref);
	return r;
}

double sku_proc_create_time(const struct sku_procmod *pm, uint64_t start_time)
{
	return (double)pm->btime + (double)start_time / (double)pm->clk_tck;
}

double sku_proc_epoch_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool sku_proc_may_access(const struct sku_peer *peer, uid_t uid)
{
	return peer->uid == 0 || (uid != (uid_t)-1 && peer->uid == uid);
}

bool sku_proc_is_others_init(const struct sku_peer *peer, pid_t pid)
{
	return pid == 1 && peer->pid != 1;
}

void sku_exit_pack_status(msgpack_packer *pk, bool visible, bool has_status, int wstatus)
{
	if (visible && has_status && WIFEXITED(wstatus))
		sku_pack_kv_int(pk, "exit_code", WEXITSTATUS(wstatus));
	else
		sku_pack_kv_nil(pk, "exit_code");
	if (visible && has_status && WIFSIGNALED(wstatus))
		sku_pack_kv_int(pk, "signal", WTERMSIG(wstatus));
	else
		sku_pack_kv_nil(pk, "signal");
}

static const char *const field_names[] = {
        "pid", "alive",     "state",  "start_time", "create_time", "ppid",
        "uid", "exit_code", "signal", "reason",     "pidfd_ino",
};

unsigned sku_pinfo_field(const char *name, size_t len)
{
	for (unsigned i = 0; i < sizeof(field_names) / sizeof(field_names[0]); i++)
		if (strlen(field_names[i]) == len && memcmp(field_names[i], name, len) == 0)
			return 1u << i;
	return 0;
}

void sku_pinfo_pack(const struct sku_procmod *pm, msgpack_packer *pk, const struct sku_pinfo *pi,
                    const struct sku_peer *peer, unsigned fields, unsigned nextra)
{
	bool visible = sku_proc_may_access(peer, pi->has_uid ? pi->uid : (uid_t)-1);
	bool show_status = visible && pi->has_exit;
	const char *reason = pi->reason;

	if (!pi->has_ino)
		fields &= ~SKU_PF_PIDFD_INO;
	msgpack_pack_map(pk, (uint32_t)__builtin_popcount(fields) + nextra);
	if (fields & SKU_PF_PID)
		sku_pack_kv_int(pk, "pid", pi->pid);
	if (fields & SKU_PF_ALIVE)
		sku_pack_kv_bool(pk, "alive", pi->alive);
	if (fields & SKU_PF_STATE) {
		if (pi->state)
			sku_pack_kv_str(pk, "state", pi->state);
		else
			sku_pack_kv_nil(pk, "state");
	}
	if ((fields & SKU_PF_START_TIME) && pi->has_start)
		sku_pack_kv_uint(pk, "start_time", pi->start_time);
	else if (fields & SKU_PF_START_TIME)
		sku_pack_kv_nil(pk, "start_time");
	if ((fields & SKU_PF_CREATE_TIME) && pi->has_start)
		sku_pack_kv_double(pk, "create_time", sku_proc_create_time(pm, pi->start_time));
	else if (fields & SKU_PF_CREATE_TIME)
		sku_pack_kv_nil(pk, "create_time");
	if ((fields & SKU_PF_PPID) && pi->has_ppid)
		sku_pack_kv_int(pk, "ppid", pi->ppid);
	else if (fields & SKU_PF_PPID)
		sku_pack_kv_nil(pk, "ppid");
	if ((fields & SKU_PF_UID) && pi->has_uid)
		sku_pack_kv_uint(pk, "uid", pi->uid);
	else if (fields & SKU_PF_UID)
		sku_pack_kv_nil(pk, "uid");
	if ((fields & SKU_PF_EXIT_CODE) && show_status && WIFEXITED(pi->wstatus))
		sku_pack_kv_int(pk, "exit_code", WEXITSTATUS(pi->wstatus));
	else if (fields & SKU_PF_EXIT_CODE)
		sku_pack_kv_nil(pk, "exit_code");
	if ((fields & SKU_PF_SIGNAL) && show_status && WIFSIGNALED(pi->wstatus))
		sku_pack_kv_int(pk, "signal", WTERMSIG(pi->wstatus));
	else if (fields & SKU_PF_SIGNAL)
		sku_pack_kv_nil(pk, "signal");
	if (pi->has_exit && !visible)
		reason = "permission";
	if (fields & SKU_PF_REASON)
		sku_pack_kv_str(pk, "reason", reason);
	if (fields & SKU_PF_PIDFD_INO)
		sku_pack_kv_uint(pk, "pidfd_ino", pi->ino);
}
