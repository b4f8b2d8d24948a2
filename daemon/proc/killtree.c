/*
 * killtree.c - signal a process tree, wait for it to go, SIGKILL what is left.
 *
 * Every member is pinned by a watched-process subscription before anything is signalled, so
 * signals go through pidfds (never to a recycled pid) and exits are events, not polls. One
 * timer bounds the grace period; after the SIGKILLs a second, fixed wait bounds how long an
 * unkillable process (uninterruptible sleep) can hold the reply.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pidref.h"
#include "proc_int.h"

/* After SIGKILL, how long to wait for the kernel to finish the processes off. */
#define KILL_WAIT_MS 5000

struct pidlist {
	pid_t *v; /* owned */
	size_t n, cap;
};

struct member {
	struct sku_wsub sub;
	struct sku_killtree *kt;
	pid_t pid;
	uint64_t start_time;
	bool gone;       /* exited, vanished, or not ours to wait for */
	unsigned walked; /* the last walk (kt->walk) that found it under another member */
};

/*
 * Every process the tree walks have offered, once: each is judged once (member, or recorded
 * in one of the lists) however many walks find it again. m is NULL for one not waited for.
 */
struct known {
	struct sku_hnode node; /* in kt->known, key = sku_ident_key(pid, start_time) */
	pid_t pid;
	uint64_t start_time;
	struct member *m;
};

enum phase { PHASE_GRACE, PHASE_KILLED, PHASE_DONE };

struct sku_killtree {
	struct sku_list link; /* in pm->killtrees while running */
	struct sku_procmod *pm;
	struct sku_killtree_req req;
	struct member **m; /* owned, each member too */
	size_t n, cap;
	size_t alive;          /* members not gone */
	struct sku_htab known; /* of struct known, owned */
	unsigned walk;         /* walks of the tree so far */
	uint64_t root_start;
	struct pidlist signalled, killed, already_gone, denied;
	uv_timer_t timer;
	enum phase phase;
	bool finished;
	sku_killtree_done_fn done;
	void *ctx;
};

static int pl_push(struct pidlist *l, pid_t pid)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		pid_t *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = pid;
	return 0;
}

static void known_free(struct sku_hnode *n)
{
	free(sku_container_of(n, struct known, node));
}

static struct known *find_known(const struct sku_killtree *kt, pid_t pid, uint64_t start_time)
{
	for (struct sku_hnode *n = sku_htab_first(&kt->known, sku_ident_key(pid, start_time)); n;
	     n = sku_htab_next(n)) {
		struct known *k = sku_container_of(n, struct known, node);

		if (k->pid == pid && k->start_time == start_time)
			return k;
	}
	return NULL;
}

static void finish(struct sku_killtree *kt)
{
	if (kt->finished)
		return;
	kt->finished = true;
	kt->phase = PHASE_DONE;
	uv_timer_stop(&kt->timer);
	sku_list_del(&kt->link);
	kt->done(kt, kt->ctx);
}

static void on_member_exit(struct sku_wsub *sub, const struct sku_exit *ex)
{
	struct member *m = sku_container_of(sub, struct member, sub);
	struct sku_killtree *kt = m->kt;

	(void)ex;
	if (m->gone)
		return;
	m->gone = true;
	if (--kt->alive == 0 && !kt->finished)
		finish(kt);
}

static void member_gone(struct member *m)
{
	if (m->gone)
		return;
	m->gone = true;
	m->kt->alive--;
	sku_wsub_cancel(&m->sub);
}

/* Record a process that is not waited for: 1, or -ENOMEM. */
static int skipped(struct pidlist *l, pid_t pid)
{
	int r = pl_push(l, pid);

	return r < 0 ? r : 1;
}

/*
 * Add pid (pinned by a lookup) as a member (*ret_m). Returns 0 when added, 1 when it was
 * skipped (gone, reused, zombie, or not ours: recorded in the lists), or a negative errno.
 */
static int judge(struct sku_killtree *kt, const struct sku_ident *id, struct member **ret_m)
{
	struct sku_pinfo pi;
	struct member *m;
	int ref, r;

	r = sku_proc_lookup(kt->pm, id, &pi, &ref);
	if (r < 0)
		return r;
	if (ref < 0 || !pi.alive) {
		sku_pidref_close(ref);
		return skipped(&kt->already_gone, id->pid);
	}
	/* Never the daemon itself: a tree that contains it is someone's mistake. */
	if (id->pid == getpid() ||
	    !sku_proc_may_access(&kt->req.auth, pi.has_uid ? pi.uid : (uid_t)-1)) {
		sku_pidref_close(ref);
		return skipped(&kt->denied, id->pid);
	}
	if (kt->n == kt->cap) {
		size_t cap = kt->cap ? kt->cap * 2 : 16;
		struct member **v = realloc(kt->m, cap * sizeof(*v));

		if (!v) {
			sku_pidref_close(ref);
			return -ENOMEM;
		}
		kt->m = v;
		kt->cap = cap;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		sku_pidref_close(ref);
		return -ENOMEM;
	}
	m->kt = kt;
	m->pid = id->pid;
	m->start_time = pi.start_time;
	m->sub.on_exit = on_member_exit;
	r = sku_wproc_subscribe(kt->pm, &(struct sku_ident){id->pid, true, pi.start_time}, pi.uid,
	                        ref, true, &m->sub);
	if (r < 0) {
		free(m);
		return r;
	}
	kt->m[kt->n++] = m;
	*ret_m = m;
	if (r == 1) {
		m->gone = true;
		return skipped(&kt->already_gone, id->pid);
	}
	kt->alive++;
	return 0;
}

/*
 * Judge (pid, start_time) unless a walk offered it before. 0 or a negative errno; *ret_m is
 * its member, or NULL when it is not waited for.
 */
static int add_member(struct sku_killtree *kt, const struct sku_ident *id, struct member **ret_m)
{
	struct known *k = find_known(kt, id->pid, id->start_time);
	int r;

	*ret_m = NULL;
	if (k) {
		*ret_m = k->m;
		return 0;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	r = judge(kt, id, ret_m);
	if (r < 0) {
		free(k);
		return r;
	}
	k->pid = id->pid;
	k->start_time = id->start_time;
	k->m = *ret_m;
	sku_htab_insert(&kt->known, &k->node, sku_ident_key(id->pid, id->start_time));
	return 0;
}

/* Signal one member; sort it into the lists. */
static int signal_member(struct sku_killtree *kt, struct member *m, int sig, struct pidlist *sent)
{
	int r = sku_wsub_signal(&m->sub, sig);

	if (r == 0) {
		/*
		 * A stopped process acts on no signal but SIGKILL until continued; systemd sends
		 * SIGCONT after its stop signal for the same reason.
		 */
		if (sig != SIGKILL && sig != SIGCONT && sig != SIGSTOP)
			(void)sku_wsub_signal(&m->sub, SIGCONT);
		return pl_push(sent, m->pid);
	}
	if (r == -ESRCH)
		return sent == &kt->signalled ? pl_push(&kt->already_gone, m->pid) : 0;
	member_gone(m);
	return pl_push(&kt->denied, m->pid);
}

/*
 * Add the descendants of root (a member, or the root when it is not one), pinned, in tree
 * order. Members found under it are marked as walked in this walk (kt->walk): their own
 * subtrees were part of it.
 */
static int add_descendants(struct sku_killtree *kt, const struct sku_procent *root)
{
	struct sku_procent *desc;
	size_t ndesc;
	int r;

	r = sku_tree_children(root, true, &desc, &ndesc);
	/* A root that is gone has no descendants left: the kernel gave them to a reaper. */
	if (r == -ESRCH)
		return 0;
	if (r < 0)
		return r;
	for (size_t i = 0; i < ndesc && r >= 0; i++) {
		struct member *m;

		r = add_member(kt, &(struct sku_ident){desc[i].pid, true, desc[i].start_time}, &m);
		if (r == 0 && m)
			m->walked = kt->walk;
	}
	free(desc);
	return r < 0 ? r : 0;
}

static void on_timer(uv_timer_t *t)
{
	struct sku_killtree *kt = t->data;

	if (kt->phase != PHASE_GRACE) {
		finish(kt);
		return;
	}
	/*
	 * Children forked during the grace period are taken along: a walk from the root, then
	 * from each member it did not reach (its parent died: it went to a reaper, outside the
	 * root's subtree). Members join in tree order, so most are reached by an earlier walk.
	 */
	kt->walk++;
	if (!kt->req.include_root)
		(void)add_descendants(kt,
		                      &(struct sku_procent){kt->req.root.pid, 0, kt->root_start});
	for (size_t i = 0; i < kt->n; i++) {
		struct member *m = kt->m[i];

		if (m->gone || m->walked == kt->walk)
			continue;
		(void)add_descendants(kt, &(struct sku_procent){m->pid, 0, m->start_time});
	}
	for (size_t i = 0; i < kt->n; i++)
		if (!kt->m[i]->gone)
			(void)signal_member(kt, kt->m[i], SIGKILL, &kt->killed);
	kt->phase = PHASE_KILLED;
	if (kt->alive == 0)
		finish(kt);
	else
		uv_timer_start(&kt->timer, on_timer, KILL_WAIT_MS, 0);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct sku_killtree *kt = h->data;
	struct sku_procmod *pm = kt->pm;

	free(kt);
	sku_proc_handle_closed(pm);
}

void sku_killtree_free(struct sku_killtree *kt)
{
	if (!kt)
		return;
	sku_list_del(&kt->link);
	kt->finished = true;
	for (size_t i = 0; i < kt->n; i++) {
		sku_wsub_cancel(&kt->m[i]->sub);
		free(kt->m[i]);
	}
	free(kt->m);
	sku_htab_drain(&kt->known, known_free);
	free(kt->signalled.v);
	free(kt->killed.v);
	free(kt->already_gone.v);
	free(kt->denied.v);
	kt->m = NULL;
	kt->n = 0;
	uv_close((uv_handle_t *)&kt->timer, on_timer_closed);
}

static uint64_t grace_ms(double s)
{
	return s <= 0 ? 0 : (uint64_t)(s * 1000.0 + 0.5);
}

int sku_killtree_start(struct sku_procmod *pm, const struct sku_killtree_req *req,
                       sku_killtree_done_fn done, void *ctx, struct sku_killtree **ret_kt)
{
	struct sku_killtree *kt;
	struct sku_pinfo pi;
	struct member *m;
	int r;

	/* Judge the root before building anything: the errors are the caller's to report. */
	r = sku_proc_lookup(pm, &req->root, &pi, NULL);
	if (r < 0)
		return r;
	if (strcmp(pi.state, "reused") == 0)
		return -ESTALE;
	if (!pi.alive)
		return -ESRCH;
	/*
	 * Whoever asks, the daemon does not kill itself (inside a tree it is skipped: denied),
	 * nor init's tree unless init asks (h_proc.c says why to callers).
	 */
	if (req->root.pid == getpid() || sku_proc_is_others_init(&req->auth, req->root.pid) ||
	    !sku_proc_may_access(&req->auth, pi.has_uid ? pi.uid : (uid_t)-1))
		return -EPERM;
	if (pm->stopping)
		return -ESHUTDOWN;

	kt = calloc(1, sizeof(*kt));
	if (!kt)
		return -ENOMEM;
	kt->pm = pm;
	kt->req = *req;
	kt->root_start = pi.start_time;
	kt->done = done;
	kt->ctx = ctx;
	sku_list_init(&kt->link);
	r = sku_htab_init(&kt->known, 16);
	if (r < 0) {
		free(kt);
		return r;
	}
	r = uv_timer_init(pm->srv->loop, &kt->timer);
	if (r < 0) {
		sku_htab_done(&kt->known);
		free(kt);
		return r;
	}
	kt->timer.data = kt;
	pm->nhandles++;

	/* Pin the whole tree first, then signal top-down. */
	if (req->include_root) {
		r = add_member(kt, &(struct sku_ident){req->root.pid, true, pi.start_time}, &m);
		if (r < 0)
			goto fail;
	}
	r = add_descendants(kt, &(struct sku_procent){req->root.pid, pi.ppid, pi.start_time});
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < kt->n; i++) {
		if (kt->m[i]->gone)
			continue;
		r = signal_member(kt, kt->m[i], req->sig, &kt->signalled);
		if (r < 0)
			goto fail;
	}
	sku_list_add_tail(&pm->killtrees, &kt->link);
	/* Even with nothing to wait for, done comes from the loop, as promised. */
	uv_timer_start(&kt->timer, on_timer, kt->alive ? grace_ms(req->grace_s) : 0, 0);
	if (kt->alive == 0)
		kt->phase = PHASE_KILLED;
	*ret_kt = kt;
	return 0;
fail:
	sku_killtree_free(kt);
	return r;
}

static void pack_list(msgpack_packer *pk, const char *key, const struct pidlist *l)
{
	sku_pack_str(pk, key);
	msgpack_pack_array(pk, (uint32_t)l->n);
	for (size_t i = 0; i < l->n; i++)
		msgpack_pack_int64(pk, l->v[i]);
}

void sku_killtree_pack(const struct sku_killtree *kt, msgpack_packer *pk)
{
	msgpack_pack_map(pk, 4);
	pack_list(pk, "signalled", &kt->signalled);
	pack_list(pk, "killed", &kt->killed);
	pack_list(pk, "already_gone", &kt->already_gone);
	pack_list(pk, "denied", &kt->denied);
}

void sku_killtree_abort_all(struct sku_procmod *pm)
{
	while (!sku_list_empty(&pm->killtrees)) {
		struct sku_killtree *kt =
		        sku_container_of(pm->killtrees.next, struct sku_killtree, link);

		finish(kt);
	}
}
