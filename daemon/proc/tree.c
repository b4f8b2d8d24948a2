/*
 * tree.c - a process's descendants from /proc.
 *
 * Children come from /proc/<pid>/task/<tid>/children (every thread's list: a child belongs
 * to the thread that forked it), or, on kernels built without it, from one scan of /proc.
 * Each candidate is confirmed from its own stat: its ppid must still be the parent and it
 * must not have started before the parent, or it is a recycled pid and not a child.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc_int.h"
#include "procfs.h"

#define CHILDREN_MAX_BYTES (8u << 20)

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

/* Read a whole /proc file of unknown size into a malloc'd buffer (caller frees). */
static int read_all(const char *path, char **ret, size_t *ret_len)
{
	size_t cap = 4096, n = 0;
	char *buf = NULL;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t got;

		if (n == cap || !buf) {
			char *nb;

			if (buf)
				cap *= 2;
			if (cap > CHILDREN_MAX_BYTES) {
				r = -EFBIG;
				break;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				r = -ENOMEM;
				break;
			}
			buf = nb;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = n;
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

/* Direct children via the children files. -ENOTSUP when the kernel lacks them. */
static int children_files(const struct sku_procent *parent, struct vec *out)
{
	struct child_ctx ctx = {parent, out};
	char path[64];
	struct dirent *de;
	bool any = false;
	DIR *d;
	int r = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)parent->pid);
	d = opendir(path);
	if (!d)
		return 0; /* gone: its children were reparented, none are left to find */
	while ((de = readdir(d))) {
		char cpath[320];
		size_t len = 0;
		char *buf = NULL;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", (int)parent->pid,
		         de->d_name);
		r = read_all(cpath, &buf, &len);
		if (r == -ENOENT) {
			r = any ? 0 : -ENOTSUP;
			if (r < 0)
				break;
			continue; /* the thread just exited */
		}
		if (r < 0)
			break;
		any = true;
		r = sku_procfs_parse_pidlist(buf, len, add_child, &ctx);
		free(buf);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

/* Every process, for kernels without children files. */
static int scan_all(struct vec *all)
{
	struct dirent *de;
	DIR *d;
	int r = 0;

	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct sku_stat st;
		char *end;
		long pid;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid > INT_MAX)
			continue;
		if (sku_procfs_read_stat((pid_t)pid, &st) < 0)
			continue;
		r = vec_push(all, &(struct sku_procent){(pid_t)pid, st.ppid, st.start_time});
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
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

int sku_tree_children(const struct sku_procent *root, bool recursive, struct sku_procent **ret,
                      size_t *ret_n)
{
	struct vec out = {0}, all = {0};
	bool scan = false;
	int r = 0;

	for (size_t q = 0; q <= out.n; q++) {
		struct sku_procent parent = q == 0 ? *root : out.v[q - 1];

		if (q > 0 && !recursive)
			break;
		if (!scan) {
			r = children_files(&parent, &out);
			if (r == -ENOTSUP) {
				scan = true;
				r = scan_all(&all);
			}
		}
		if (r == 0 && scan)
			r = children_scan(&parent, &all, &out);
		if (r < 0)
			break;
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
