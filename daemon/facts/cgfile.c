/*
 * cgfile.c - bounded reads of /proc and cgroup files, and the number formats they use.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "facts.h"

int sku_read_file(const char *path, size_t cap, char **ret_buf, size_t *ret_len)
{
	size_t size = 4096, len = 0;
	char *buf, *grown;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	buf = malloc(size);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		if (len + 1 >= size) {
			/* never more than cap + 1 bytes of data: one past the cap proves EFBIG */
			size_t nsize = size * 2 > cap + 2 ? cap + 2 : size * 2;

			if (nsize <= size) {
				r = -EFBIG;
				goto out_free;
			}
			grown = realloc(buf, nsize);
			if (!grown) {
				r = -ENOMEM;
				goto out_free;
			}
			buf = grown;
			size = nsize;
		}
		n = read(fd, buf + len, size - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > cap) {
			r = -EFBIG;
			goto out_free;
		}
	}
	close(fd);
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	return 0;

out_free:
	free(buf);
	close(fd);
	return r;
}

static char *trim(char *s, size_t *len)
{
	while (*len > 0 && isspace((unsigned char)s[*len - 1]))
		s[--*len] = '\0';
	while (isspace((unsigned char)*s)) {
		s++;
		--*len;
	}
	return s;
}

int sku_read_small(const char *path, char *buf, size_t bufsize)
{
	size_t len = 0;
	ssize_t n;
	char *s;
	int fd, r = 0;

	if (bufsize < 2)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	/* cgroup and sysctl files are produced in one read; the loop only matters for odd fs */
	for (;;) {
		n = read(fd, buf + len, bufsize - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == bufsize - 1) {
			char probe;

			n = read(fd, &probe, 1);
			if (n != 0)
				r = n < 0 ? -errno : -EFBIG;
			break;
		}
	}
	close(fd);
	if (r < 0)
		return r;
	buf[len] = '\0';
	s = trim(buf, &len);
	memmove(buf, s, len + 1);
	return 0;
}

/* Parse digits at *s into *ret; advance *s. -EINVAL without digits, -ERANGE on overflow. */
static int parse_digits(const char **s, uint64_t *ret)
{
	const char *p = *s;
	uint64_t v = 0;
	bool overflow = false;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			v = v * 10 + d;
	}
	*s = p;
	if (overflow)
		return -ERANGE;
	*ret = v;
	return 0;
}

static const char *skip_space(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

int sku_parse_u64(const char *s, uint64_t *ret)
{
	uint64_t v;
	int r;

	s = skip_space(s);
	if (*s == '+')
		s++;
	r = parse_digits(&s, &v);
	if (r < 0)
		return r;
	if (*skip_space(s) != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

int sku_parse_i64(const char *s, int64_t *ret)
{
	bool neg = false;
	uint64_t v;
	int r;

	s = skip_space(s);
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	r = parse_digits(&s, &v);
	if (r < 0)
		return r;
	if (*skip_space(s) != '\0')
		return -EINVAL;
	if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
		return -ERANGE;
	*ret = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

int sku_parse_limit(const char *s, int64_t *ret)
{
	uint64_t v;
	int r;

	s = skip_space(s);
	if (strncmp(s, "max", 3) == 0 && *skip_space(s + 3) == '\0') {
		*ret = -1;
		return 0;
	}
	if (strncmp(s, "-1", 2) == 0 && *skip_space(s + 2) == '\0') {
		*ret = -1;
		return 0;
	}
	r = sku_parse_u64(s, &v);
	if (r == -ERANGE) {
		/* more than 64 bits of limit is no limit; never let it wrap negative */
		*ret = -1;
		return 0;
	}
	if (r < 0)
		return r;
	*ret = v >= (uint64_t)SKU_LIMIT_UNLIMITED_MIN ? -1 : (int64_t)v;
	return 0;
}

int sku_parse_cpu_max(const char *s, int64_t *ret_quota, int64_t *ret_period)
{
	int64_t quota = -1, period = 100000;
	uint64_t v;
	int r;

	s = skip_space(s);
	if (strncmp(s, "max", 3) == 0 && (s[3] == '\0' || isspace((unsigned char)s[3]))) {
		s += 3;
	} else {
		r = parse_digits(&s, &v);
		if (r < 0)
			return -EINVAL;
		if (v == 0 || v > INT64_MAX)
			return -EINVAL;
		quota = (int64_t)v;
	}
	if (*s != '\0' && !isspace((unsigned char)*s))
		return -EINVAL;
	s = skip_space(s);
	if (*s != '\0') {
		r = parse_digits(&s, &v);
		if (r < 0 || v == 0 || v > INT64_MAX)
			return -EINVAL;
		period = (int64_t)v;
		if (*skip_space(s) != '\0')
			return -EINVAL;
	}
	*ret_quota = quota;
	*ret_period = period;
	return 0;
}

/* The line starting at p ends at the returned pointer ('\n' or '\0'). */
static const char *line_end(const char *p)
{
	const char *e = strchr(p, '\n');

	return e ? e : p + strlen(p);
}

int sku_kv_find_u64(const char *text, const char *key, uint64_t *ret)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (*p) {
		const char *e = line_end(p);

		if ((size_t)(e - p) > klen && strncmp(p, key, klen) == 0 &&
		    (p[klen] == ' ' || p[klen] == '\t' || p[klen] == ':')) {
			const char *v = p + klen + (p[klen] == ':');
			uint64_t n;
			int r;

			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			r = parse_digits(&v, &n);
			if (r < 0)
				return r;
			if (v < e && !isspace((unsigned char)*v))
				return -EINVAL;
			*ret = n;
			return 0;
		}
		p = *e ? e + 1 : e;
	}
	return -ENOENT;
}

static int parse_rlimit_field(const char **s, const char *end, int64_t *ret)
{
	const char *p = *s;
	uint64_t v;
	int r;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) >= 9 && strncmp(p, "unlimited", 9) == 0) {
		*ret = -1;
		*s = p + 9;
		return 0;
	}
	r = parse_digits(&p, &v);
	if (r == -ERANGE) {
		*ret = -1;
		*s = p;
		return 0;
	}
	if (r < 0 || p > end)
		return -EINVAL;
	*ret = v > INT64_MAX ? -1 : (int64_t)v;
	*s = p;
	return 0;
}

int sku_limits_find(const char *text, const char *name, int64_t *ret_soft, int64_t *ret_hard)
{
	size_t nlen = strlen(name);
	const char *p = text;

	while (*p) {
		const char *e = line_end(p);

		if ((size_t)(e - p) > nlen && strncmp(p, name, nlen) == 0 &&
		    (p[nlen] == ' ' || p[nlen] == '\t')) {
			const char *v = p + nlen;
			int64_t soft, hard;

			if (parse_rlimit_field(&v, e, &soft) < 0 ||
			    parse_rlimit_field(&v, e, &hard) < 0)
				return -EINVAL;
			*ret_soft = soft;
			*ret_hard = hard;
			return 0;
		}
		p = *e ? e + 1 : e;
	}
	return -ENOENT;
}
