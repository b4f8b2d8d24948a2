/*
 * cgroup_path.c - from /proc/<pid>/cgroup and the mount table to the directory holding a
 * controller's files, for v1, v2 and hybrid layouts, bind-mounted (namespaced) roots included.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "facts.h"

static int set_path(char **slot, const char *s, size_t len)
{
	char *d;

	if (*slot) /* the first line for a controller wins, as the kernel lists each once */
		return 0;
	d = malloc(len + 1);
	if (!d)
		return -ENOMEM;
	memcpy(d, s, len);
	d[len] = '\0';
	*slot = d;
	return 0;
}

static int parse_line(const char *p, const char *end, struct sku_proc_cgroups *pc)
{
	const char *c1 = memchr(p, ':', (size_t)(end - p)), *c2, *ctrls, *path;
	size_t plen;

	if (!c1)
		return 0;
	c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
	if (!c2)
		return 0;
	ctrls = c1 + 1;
	path = c2 + 1;
	plen = (size_t)(end - path);
	if (plen == 0 || path[0] != '/')
		return 0;
	if (c2 == ctrls) {
		if (c1 - p == 1 && p[0] == '0')
			return set_path(&pc->v2, path, plen);
		return 0;
	}
	while (ctrls < c2) {
		const char *comma = memchr(ctrls, ',', (size_t)(c2 - ctrls));
		size_t n = comma ? (size_t)(comma - ctrls) : (size_t)(c2 - ctrls);
		unsigned bit = sku_ctrl_bit(ctrls, n);

		if (!(n > 5 && memcmp(ctrls, "name=", 5) == 0) && n > 0)
			pc->any_v1 = true;
		for (unsigned c = 0; c < SKU_CTRL__MAX; c++)
			if (bit == SKU_CTRL_BIT(c) && set_path(&pc->v1[c], path, plen) < 0)
				return -ENOMEM;
		ctrls += n + 1;
	}
	return 0;
}

int sku_proc_cgroups_parse(const char *text, size_t len, struct sku_proc_cgroups *ret)
{
	struct sku_proc_cgroups pc = {0};
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));

		if (!e)
			e = end;
		if (parse_line(p, e, &pc) < 0) {
			sku_proc_cgroups_done(&pc);
			return -ENOMEM;
		}
		p = e + 1;
	}
	*ret = pc;
	return 0;
}

void sku_proc_cgroups_done(struct sku_proc_cgroups *pc)
{
	for (unsigned c = 0; c < SKU_CTRL__MAX; c++)
		free(pc->v1[c]);
	free(pc->v2);
	*pc = (struct sku_proc_cgroups){0};
}

/* Whether cgroup path is root itself or below it. */
static bool path_under(const char *path, const char *root)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return true;
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

bool sku_path_has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")); p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return true;
	return false;
}

static int mount_score(const struct sku_mount *mt, const char *path)
{
	int score = 0;

	if (path && path_under(path, mt->root))
		score += 4;
	if (strncmp(mt->point, "/sys/fs/cgroup", 14) == 0 &&
	    (mt->point[14] == '\0' || mt->point[14] == '/'))
		score += 2;
	return score;
}

static const struct sku_mount *pick(const struct sku_mounts *m, bool v2, unsigned bit,
                                    const char *path)
{
	const struct sku_mount *best = NULL;
	int best_score = -1;

	for (size_t i = 0; i < m->n; i++) {
		const struct sku_mount *mt = &m->v[i];
		int score;

		if (mt->v2 != v2 || (!v2 && !(mt->ctrls & bit)))
			continue;
		score = mount_score(mt, path);
		if (score >
		    best_score) { /* ties: the earlier line, as the list is in mount order */
			best = mt;
			best_score = score;
		}
	}
	return best;
}

const struct sku_mount *sku_mounts_pick_v2(const struct sku_mounts *m, const char *path)
{
	return pick(m, true, 0, path);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ret->dir = sysroot + point (+ rel); sets mount_len. */
static int join(const char *sysroot, const char *point, const char *rel, struct sku_ctrl_loc *ret)
{
	size_t plen = strlen(point);
	int n;

	while (plen > 0 && point[plen - 1] == '/')
		plen--;
	n = snprintf(ret->dir, sizeof(ret->dir), "%s%.*s", sysroot, (int)plen, point);
	if (n < 0 || (size_t)n >= sizeof(ret->dir))
		return -ENAMETOOLONG;
	ret->mount_len = (size_t)n;
	if (rel && *rel && strcmp(rel, "/") != 0) {
		size_t rlen = strlen(rel);

		while (rlen > 0 && rel[rlen - 1] == '/')
			rlen--;
		if ((size_t)n + rlen >= sizeof(ret->dir))
			return -ENAMETOOLONG;
		memcpy(ret->dir + n, rel, rlen);
		ret->dir[n + rlen] = '\0';
	}
	return 0;
}

/*
 * The process's path is not below the mount root (a cgroup namespace that does not match
 * the mount, or a moved container): like the JDK, try ever shorter suffixes of the path
 * below the mount point, and settle for the mount point itself.
 */
static int translate_fallback(const char *sysroot, const struct sku_mount *mt, const char *path,
                              struct sku_ctrl_loc *ret)
{
	int r;

	ret->uncertain = true;
	if (!sku_path_has_dotdot(path)) {
		for (const char *s = path; s && *s; s = strchr(s + 1, '/')) {
			if (strcmp(s, "/") == 0)
				break;
			r = join(sysroot, mt->point, s, ret);
			if (r < 0)
				return r;
			if (is_dir(ret->dir))
				return 0;
		}
	}
	return join(sysroot, mt->point, NULL, ret);
}

static int translate(const char *sysroot, const struct sku_mount *mt, const char *path,
                     struct sku_ctrl_loc *ret)
{
	const char *rel;
	int r;

	if (strlen(path) >= sizeof(ret->path))
		return -ENAMETOOLONG;
	strcpy(ret->path, path);
	if (sku_path_has_dotdot(path) || !path_under(path, mt->root))
		return translate_fallback(sysroot, mt, path, ret);
	rel = strcmp(mt->root, "/") == 0 ? path : path + strlen(mt->root);
	r = join(sysroot, mt->point, rel, ret);
	if (r < 0)
		return r;
	if (!is_dir(ret->dir))
		return translate_fallback(sysroot, mt, path, ret);
	return 0;
}

int sku_ctrl_locate(const char *sysroot, const struct sku_mounts *m,
                    const struct sku_proc_cgroups *pc, enum sku_ctrl c, unsigned v2_ctrls,
                    struct sku_ctrl_loc *ret)
{
	const struct sku_mount *mt = NULL;
	const char *path = NULL;
	bool v2 = false;
	int r;

	if (pc->v1[c]) {
		path = pc->v1[c];
		mt = pick(m, false, SKU_CTRL_BIT(c), path);
	}
	if (!mt && pc->v2 && (v2_ctrls & SKU_CTRL_BIT(c))) {
		path = pc->v2;
		mt = sku_mounts_pick_v2(m, path);
		v2 = true;
	}
	if (!mt)
		return -ENOENT;
	ret->found = true;
	ret->v2 = v2;
	ret->uncertain = false;
	r = translate(sysroot, mt, path, ret);
	if (r < 0)
		ret->found = false;
	return r;
}
