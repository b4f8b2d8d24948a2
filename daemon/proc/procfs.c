/* procfs.c - pure parsers of Linux /proc text and the state names (see procfs.h). */
#include "procfs.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* Parse an unsigned decimal at [*p, end); advances *p. -EBADMSG when no digits or overflow. */
static int parse_u64(const char **p, const char *end, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s >= end || *s < '0' || *s > '9')
		return -EBADMSG;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
	}
	*p = s;
	*ret = v;
	return 0;
}

static int parse_i64(const char **p, const char *end, int64_t *ret)
{
	bool neg = false;
	uint64_t v;
	int r;

	if (*p < end && **p == '-') {
		neg = true;
		(*p)++;
	}
	r = parse_u64(p, end, &v);
	if (r < 0)
		return r;
	if (v > (uint64_t)INT64_MAX)
		return -EBADMSG;
	*ret = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

static void skip_spaces(const char **p, const char *end)
{
	while (*p < end && is_space(**p))
		(*p)++;
}

/* Skip one space-delimited token. */
static void skip_token(const char **p, const char *end)
{
	while (*p < end && !is_space(**p))
		(*p)++;
}

int sku_procfs_parse_stat(const char *buf, size_t len, struct sku_stat *ret)
{
	const char *end = buf + len, *p = buf, *rparen = NULL;
	uint64_t pid, ppid, start;
	int r;

	r = parse_u64(&p, end, &pid);
	if (r < 0 || pid == 0 || pid > INT_MAX)
		return -EBADMSG;
	if (end - p < 2 || p[0] != ' ' || p[1] != '(')
		return -EBADMSG;
	for (const char *q = p + 2; q < end; q++)
		if (*q == ')')
			rparen = q;
	if (!rparen)
		return -EBADMSG;
	p = rparen + 1;
	/* Field 3 (state) is the first token after the comm. */
	if (end - p < 2 || p[0] != ' ' || is_space(p[1]))
		return -EBADMSG;
	ret->state = p[1];
	p += 2;
	if (p >= end || *p != ' ')
		return -EBADMSG;
	skip_spaces(&p, end);
	r = parse_u64(&p, end, &ppid);
	if (r < 0 || ppid > INT_MAX)
		return -EBADMSG;
	/* Fields 5..21 are of no interest; field 22 is the start time. */
	for (int field = 5; field <= 21; field++) {
		skip_spaces(&p, end);
		if (p >= end)
			return -EBADMSG;
		skip_token(&p, end);
	}
	skip_spaces(&p, end);
	r = parse_u64(&p, end, &start);
	if (r < 0 || (p < end && !is_space(*p)))
		return -EBADMSG;
	ret->pid = (pid_t)pid;
	ret->ppid = (pid_t)ppid;
	ret->start_time = start;
	return 0;
}

/* Find a line starting with key (which includes its ':' or trailing space); return its value. */
static const char *find_line(const char *buf, size_t len, const char *key, const char **ret_end)
{
	const char *end = buf + len, *line = buf;
	size_t klen = strlen(key);

	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *eol = nl ? nl : end;

		if ((size_t)(eol - line) >= klen && memcmp(line, key, klen) == 0) {
			*ret_end = eol;
			return line + klen;
		}
		line = eol + 1;
	}
	return NULL;
}

/* The first number of the status line key: 0 and *ret, *ret_p after it, *ret_eol at its end. */
static int status_number(const char *buf, size_t len, const char *key, uint64_t *ret,
                         const char **ret_p, const char **ret_eol)
{
	const char *p = find_line(buf, len, key, ret_eol);

	if (!p)
		return -EBADMSG;
	skip_spaces(&p, *ret_eol);
	if (parse_u64(&p, *ret_eol, ret) < 0)
		return -EBADMSG;
	*ret_p = p;
	return 0;
}

int sku_procfs_parse_status_ruid(const char *buf, size_t len, uid_t *ret_ruid)
{
	const char *p, *eol;
	uint64_t v;

	/* Uid: real effective saved fs; only the first matters here. */
	if (status_number(buf, len, "Uid:", &v, &p, &eol) < 0 || v > UINT32_MAX)
		return -EBADMSG;
	*ret_ruid = (uid_t)v;
	return 0;
}

int sku_procfs_parse_status_tgid(const char *buf, size_t len, pid_t *ret_tgid)
{
	const char *p, *eol;
	uint64_t v;

	if (status_number(buf, len, "Tgid:", &v, &p, &eol) < 0 || v == 0 || v > INT_MAX)
		return -EBADMSG;
	skip_spaces(&p, eol);
	if (p != eol)
		return -EBADMSG;
	*ret_tgid = (pid_t)v;
	return 0;
}

int sku_procfs_parse_btime(const char *buf, size_t len, uint64_t *ret_btime)
{
	const char *eol, *p = find_line(buf, len, "btime ", &eol);

	if (!p)
		return -EBADMSG;
	skip_spaces(&p, eol);
	return parse_u64(&p, eol, ret_btime);
}

int sku_procfs_parse_fdinfo_pid(const char *buf, size_t len, int64_t *ret_pid)
{
	const char *eol, *p = find_line(buf, len, "Pid:", &eol);
	int64_t v;

	if (!p)
		return -EBADMSG;
	skip_spaces(&p, eol);
	if (parse_i64(&p, eol, &v) < 0 || v < -1 || v > INT_MAX)
		return -EBADMSG;
	*ret_pid = v;
	return 0;
}

int sku_procfs_parse_pidlist(const char *buf, size_t len, int (*fn)(pid_t pid, void *ctx),
                             void *ctx)
{
	const char *p = buf, *end = buf + len;

	for (;;) {
		uint64_t v;
		int r;

		skip_spaces(&p, end);
		if (p >= end)
			return 0;
		r = parse_u64(&p, end, &v);
		if (r < 0 || v == 0 || v > INT_MAX || (p < end && !is_space(*p)))
			return -EBADMSG;
		r = fn((pid_t)v, ctx);
		if (r)
			return r;
	}
}

const char *sku_procfs_state_name(char state)
{
	switch (state) {
	case 'R':
		return "running";
	case 'T':
	case 't':
		return "stopped";
	case 'Z':
	case 'X':
	case 'x':
		return "zombie";
	default: /* S, D (uninterruptible), I (idle), W, P, K */
		return "sleeping";
	}
}
