/*
 * tree.c - a process's descendants.
 *
 * Candidates come from the platform's list of a process's children (procfs.h), or, where
 * there is none, from one scan of every process. Each candidate is confirmed from its own
 * stat: its ppid must still be the parent and it must not have started before the parent,
 * or it is a recycled pid and not a child.
 *
 * That rule cannot catch a parent that died and whose pid went to a newer process while we
 * looked: the newcomer's children started after it, so after our parent too, and their ppid
 * is the same number. So once a parent's children are collected its stat is read again, at
 * every level: a parent that still has its start time held its pid all along (it was seen
 * before the candidates were read and after), and the candidates are its own; otherwise they
 * are dropped with it.
 */
#include <errno.h>
#include <stdlib.h>

#include "proc_int.h"
#include "procfs.h"

struct vec {
	struct sku_procent *v; /* owned */
	size_t n, cap;
};

static int vec_push(struct vec *vec, const struct sku_procent *e)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 64;
		struct sku_procent *v;

		if (vec->n >= SKU_TREE_MAX)
			return -E2BIG;
		v = realloc(vec->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		vec->v = v;
		vec->cap = cap;
	}
	vec->v[vec->n++] = *e;
	return 0;
}

struct child_ctx {
	const struct sku_procent *parent;
	struct vec *out;
};

static bool is_child(const struct sku_procent *parent, const struct sku_stat *st)
{
	return st->ppid == parent->pid && st->start_time >= parent->start_time;
}

static int add_child(pid_t pid, void *ctx)
{
	struct child_ctx *c = ctx;
	struct sku_stat st;

	if (sku_procfs_read_stat(pid, &st) < 0 || !is_child(c->parent, &st))
		return 0;
	return vec_push(c->out, &(struct sku_procent){pid, st.ppid, st.start_time});
}

/* Every process, for systems that cannot list a process's children. */
static int add_any(pid_t pid, void *ctx)
{
	struct sku_stat st;

	if (sku_procfs_read_stat(pid, &st) < 0)
		return 0;
	return vec_push(ctx, &(struct sku_procent){pid, st.ppid, st.start_time});
}

static int children_scan(const struct sku_procent *parent, const struct vec *all, struct vec *out)
{
	for (size_t i = 0; i < all->n; i++) {
		const struct sku_procent *e = &all->v[i];
		int r;

		if (e->ppid != parent->pid || e->start_time < parent->start_time)
			continue;
		r = vec_push(out, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Whether parent, after its children were collected, is still the process it was. */
static bool still_same(const struct sku_procent *parent)
{
	struct sku_stat st;

	return sku_procfs_read_stat(parent->pid, &st) == 0 && st.start_time == parent->start_time;
}

int sku_tree_children(const struct sku_procent *root, bool recursive, struct sku_procent **ret,
                      size_t *ret_n)
{
	struct vec out = {0}, all = {0};
	bool scan = false;
	int r = 0;

	for (size_t q = 0; q <= out.n; q++) {
		struct sku_procent parent = q == 0 ? *root : out.v[q - 1];
		size_t first = out.n;

		if (q > 0 && !recursive)
			break;
		if (!scan) {
			struct child_ctx ctx = {&parent, &out};

			r = sku_procfs_each_child(parent.pid, add_child, &ctx);
			if (r == -ENOTSUP) {
				scan = true;
				r = sku_procfs_each_pid(add_any, &all);
			}
		}
		if (r == 0 && scan)
			r = children_scan(&parent, &all, &out);
		if (r < 0)
			break;
		/*
		 * The root is checked even without children, so that a root gone meanwhile is
		 * -ESRCH however its tree looked; an inner node only when there is something to
		 * drop. Its children come last in out (the queue is breadth-first), so dropping
		 * them is a truncation; theirs have not been collected yet.
		 */
		if ((q == 0 || out.n > first) && !still_same(&parent)) {
			out.n = first;
			if (q == 0) {
				r = -ESRCH;
				break;
			}
		}
	}
	free(all.v);
	if (r < 0) {
		free(out.v);
		return r;
	}
	*ret = out.v;
	*ret_n = out.n;
	return 0;
}
