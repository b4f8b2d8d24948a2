/*
 * mountinfo.c - the cgroup mounts of /proc/<pid>/mountinfo (proc(5)):
 *   ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
 * Lines may be arbitrarily long (overlay lowerdir= options run to many KiB), so nothing here
 * uses a fixed line buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "facts.h"

static const char *const ctrl_names[SKU_CTRL__MAX] = {
        [SKU_CTRL_CPU] = "cpu",
        [SKU_CTRL_CPUSET] = "cpuset",
        [SKU_CTRL_MEMORY] = "memory",
        [SKU_CTRL_PIDS] = "pids",
};

const char *sku_ctrl_name(enum sku_ctrl c)
{
	return (unsigned)c < SKU_CTRL__MAX ? ctrl_names[c] : "?";
}

unsigned sku_ctrl_bit(const char *name, size_t len)
{
	for (unsigned c = 0; c < SKU_CTRL__MAX; c++)
		if (strlen(ctrl_names[c]) == len && memcmp(ctrl_names[c], name, len) == 0)
			return SKU_CTRL_BIT(c);
	return 0;
}

static bool is_odigit(char c)
{
	return c >= '0' && c <= '7';
}

size_t sku_unescape_octal(char *s, size_t len)
{
	size_t i = 0, o = 0;

	while (i < len) {
		if (s[i] == '\\' && i + 3 < len && is_odigit(s[i + 1]) && is_odigit(s[i + 2]) &&
		    is_odigit(s[i + 3])) {
			unsigned v = (unsigned)(s[i + 1] - '0') * 64 +
			             (unsigned)(s[i + 2] - '0') * 8 + (unsigned)(s[i + 3] - '0');

			if (v > 0 && v < 256) {
				s[o++] = (char)v;
				i += 4;
				continue;
			}
		}
		s[o++] = s[i++];
	}
	s[o] = '\0';
	return o;
}

/* Split the next space-separated field of [*p, end); NULL when there is none. */
static const char *field(const char **p, const char *end, size_t *ret_len)
{
	const char *s = *p, *e;

	while (s < end && *s == ' ')
		s++;
	if (s >= end)
		return NULL;
	e = s;
	while (e < end && *e != ' ')
		e++;
	*ret_len = (size_t)(e - s);
	*p = e;
	return s;
}

static char *dup_unescaped(const char *s, size_t len)
{
	char *d = malloc(len + 1);

	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	sku_unescape_octal(d, len);
	return d;
}

static unsigned superopt_ctrls(const char *s, size_t len)
{
	unsigned bits = 0;
	const char *end = s + len;

	while (s < end) {
		const char *c = memchr(s, ',', (size_t)(end - s));
		size_t n = c ? (size_t)(c - s) : (size_t)(end - s);

		bits |= sku_ctrl_bit(s, n);
		s += n + 1;
	}
	return bits;
}

/* A v1 hierarchy with controllers other than the ones we read (cpuacct, freezer, ...). */
static bool superopt_has_controller(const char *s, size_t len)
{
	static const char *const others[] = {"cpuacct", "freezer",  "devices",    "blkio",
	                                     "net_cls", "net_prio", "perf_event", "hugetlb",
	                                     "rdma",    "misc"};
	const char *end = s + len;

	while (s < end) {
		const char *c = memchr(s, ',', (size_t)(end - s));
		size_t n = c ? (size_t)(c - s) : (size_t)(end - s);

		for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
			if (strlen(others[i]) == n && memcmp(others[i], s, n) == 0)
				return true;
		s += n + 1;
	}
	return false;
}

static int parse_line(const char *p, const char *end, unsigned order, struct sku_mounts *m,
                      unsigned *bad)
{
	const char *root, *point, *f, *fstype, *opts;
	size_t rlen, plen, flen, fslen, olen;
	struct sku_mount *mt;
	bool v2;

	/* ID PARENT MAJ:MIN */
	for (int i = 0; i < 3; i++)
		if (!field(&p, end, &flen))
			goto malformed;
	root = field(&p, end, &rlen);
	point = root ? field(&p, end, &plen) : NULL;
	if (!point)
		goto malformed;
	/* mount options, then optional fields up to the lone "-" */
	for (;;) {
		f = field(&p, end, &flen);
		if (!f)
			goto malformed;
		if (flen == 1 && f[0] == '-')
			break;
	}
	fstype = field(&p, end, &fslen);
	if (!fstype || !field(&p, end, &flen)) /* source */
		goto malformed;
	opts = field(&p, end, &olen);
	if (!opts) {
		opts = "";
		olen = 0;
	}
	if (fslen == 7 && memcmp(fstype, "cgroup2", 7) == 0)
		v2 = true;
	else if (fslen == 6 && memcmp(fstype, "cgroup", 6) == 0)
		v2 = false;
	else
		return 0;

	if (v2)
		m->have_v2 = true;
	else if (superopt_ctrls(opts, olen) || superopt_has_controller(opts, olen))
		m->have_v1 = true;
	if (m->n >= SKU_MOUNTS_MAX) {
		++*bad;
		return 0;
	}
	mt = &m->v[m->n];
	mt->root = dup_unescaped(root, rlen);
	mt->point = dup_unescaped(point, plen);
	if (!mt->root || !mt->point) {
		free(mt->root);
		free(mt->point);
		return -ENOMEM;
	}
	/*
	 * The kernel writes canonical absolute mount points. Anything else (only possible in a
	 * --sysroot fixture) would let the joined paths escape the sysroot: not a mount we use.
	 */
	if (mt->point[0] != '/' || sku_path_has_dotdot(mt->point)) {
		free(mt->root);
		free(mt->point);
		goto malformed;
	}
	mt->v2 = v2;
	mt->ctrls = v2 ? 0 : superopt_ctrls(opts, olen);
	mt->order = order;
	m->n++;
	return 0;

malformed:
	++*bad;
	return 0;
}

int sku_mounts_parse(const char *text, size_t len, struct sku_mounts *ret, unsigned *ret_bad)
{
	struct sku_mounts m = {0};
	const char *p = text, *end = text + len;
	unsigned bad = 0, order = 0;
	size_t cap = 0;
	int r;

	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));

		if (!e)
			e = end;
		if (m.n == cap && cap < SKU_MOUNTS_MAX) {
			size_t ncap = cap ? cap * 2 : 16;
			struct sku_mount *v;

			if (ncap > SKU_MOUNTS_MAX)
				ncap = SKU_MOUNTS_MAX;
			v = realloc(m.v, ncap * sizeof(*v));
			if (!v) {
				sku_mounts_done(&m);
				return -ENOMEM;
			}
			m.v = v;
			cap = ncap;
		}
		/* a cheap filter first: only cgroup lines are worth splitting */
		if (e > p && memmem(p, (size_t)(e - p), " - cgroup", 9)) {
			r = parse_line(p, e, order, &m, &bad);
			if (r < 0) {
				sku_mounts_done(&m);
				return r;
			}
		}
		order++;
		p = e + 1;
	}
	*ret = m;
	if (ret_bad)
		*ret_bad = bad;
	return 0;
}

void sku_mounts_done(struct sku_mounts *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].root);
		free(m->v[i].point);
	}
	free(m->v);
	*m = (struct sku_mounts){0};
}
