/*
 * tail.c - skyutil_read_last_n_lines(): upstream read_last_n_lines without reading the
 * whole file.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "skyutil/skyutil.h"

#include "helpers.h"

/*
 * Upstream reads 8 KiB at a time. The result depends only on the file's bytes, not on the
 * chunk size, so a larger chunk saves syscalls on long lines at no cost in fidelity.
 */
#define TAIL_CHUNK (64 * 1024)
/* A file that shrinks under us (log rotation) is re-read from its new end this often. */
#define TAIL_ATTEMPTS 4

/* The bytes read so far: the last len bytes of mem[0..cap), which grows at the front. */
struct tail_buf {
	char *mem;
	size_t cap;
	size_t len;
	size_t newlines;
};

struct line_ref {
	size_t start, end;
};

static int buf_reserve(struct tail_buf *b, size_t want)
{
	size_t cap;
	char *mem;

	if (b->cap - b->len >= want)
		return 0;
	if (b->len > SIZE_MAX - want)
		return -ENOMEM;
	cap = b->cap ? b->cap : TAIL_CHUNK;
	while (cap - b->len < want) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	mem = malloc(cap);
	if (!mem)
		return -ENOMEM;
	if (b->len)
		memcpy(mem + cap - b->len, b->mem + b->cap - b->len, b->len);
	free(b->mem);
	b->mem = mem;
	b->cap = cap;
	return 0;
}

/* Read exactly len bytes at off; -ESTALE when the file ended early (it shrank). */
static int pread_full(int fd, char *dst, size_t len, off_t off)
{
	while (len) {
		ssize_t r = pread(fd, dst, len, off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ESTALE;
		dst += r;
		len -= (size_t)r;
		off += r;
	}
	return 0;
}

static size_t count_newlines(const char *p, size_t len)
{
	const char *end = p + len;
	size_t n = 0;

	while ((p = memchr(p, '\n', (size_t)(end - p)))) {
		n++;
		p++;
	}
	return n;
}

/*
 * Read backwards from size until more than n newlines were seen or the start of the file was
 * reached, as upstream does: then the n newest lines are complete in the buffer.
 */
static int read_backwards(int fd, off_t size, unsigned long n, struct tail_buf *b)
{
	off_t pos = size;
	int r;

	b->len = 0;
	b->newlines = 0;
	while (pos > 0 && b->newlines <= n) {
		size_t want = pos < TAIL_CHUNK ? (size_t)pos : TAIL_CHUNK;
		char *dst;

		r = buf_reserve(b, want);
		if (r < 0)
			return r;
		dst = b->mem + b->cap - b->len - want;
		pos -= (off_t)want;
		r = pread_full(fd, dst, want, pos);
		if (r < 0)
			return r;
		b->newlines += count_newlines(dst, want);
		b->len += want;
	}
	return 0;
}

/* Copy one line, dropping trailing '\r's (upstream rstrip('\r')), adding '\n' unless last. */
static char *line_dup(const char *data, struct line_ref ref, bool last, size_t *ret_len)
{
	size_t end = ref.end, len;
	char *s;

	while (end > ref.start && data[end - 1] == '\r')
		end--;
	len = end - ref.start;
	s = malloc(len + 2);
	if (!s)
		return NULL;
	memcpy(s, data + ref.start, len);
	if (!last)
		s[len++] = '\n';
	s[len] = '\0';
	*ret_len = len;
	return s;
}

/* Split the newest min(n, lines) lines out of the buffer into owned strings. */
static int split_lines(const struct tail_buf *b, unsigned long n, char ***ret_lines,
                       size_t **ret_lens, size_t *ret_n)
{
	const char *data = b->mem + b->cap - b->len;
	size_t end = b->len, max, k = 0, i;
	struct line_ref *refs;
	size_t *lens = NULL;
	char **lines = NULL;
	int r = -ENOMEM;

	/* A final '\n' ends the last line rather than starting an empty one. */
	if (end && data[end - 1] == '\n')
		end--;
	max = b->newlines + 1;
	if (n < max)
		max = n;
	refs = calloc(max, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	while (k < max) {
		const char *nl = memrchr(data, '\n', end);
		size_t start = nl ? (size_t)(nl - data) + 1 : 0;

		refs[k++] = (struct line_ref){start, end};
		if (!nl)
			break;
		end = (size_t)(nl - data);
	}
	lines = calloc(k, sizeof(*lines));
	lens = calloc(k, sizeof(*lens));
	if (!lines || !lens)
		goto out_free;
	for (i = 0; i < k; i++) {
		/* refs[] runs newest first; the result runs oldest first. */
		lines[i] = line_dup(data, refs[k - 1 - i], i == k - 1, &lens[i]);
		if (!lines[i]) {
			skyutil_lines_free(lines, i);
			lines = NULL;
			goto out_free;
		}
	}
	*ret_lines = lines;
	lines = NULL;
	if (ret_lens) {
		*ret_lens = lens;
		lens = NULL;
	}
	*ret_n = k;
	r = 0;
out_free:
	free(lines);
	free(lens);
	free(refs);
	return r;
}

SKYUTIL_EXPORT int skyutil_read_last_n_lines_len(const char *path, long n, char ***ret_lines,
                                                 size_t **ret_lens, size_t *ret_n)
{
	struct tail_buf b = {0};
	off_t size;
	int fd, r = -ESTALE, attempt;

	if (n < 0 || !ret_lines || !ret_n)
		return -EINVAL;
	fd = sku_helper_open(path, &size);
	if (fd < 0)
		return fd;
	if (n == 0 || size == 0) {
		close(fd);
		*ret_lines = NULL;
		if (ret_lens)
			*ret_lens = NULL;
		*ret_n = 0;
		return 0;
	}
	for (attempt = 0; attempt < TAIL_ATTEMPTS && r == -ESTALE; attempt++) {
		if (attempt) {
			size = lseek(fd, 0, SEEK_END);
			if (size < 0) {
				r = -errno;
				break;
			}
		}
		r = read_backwards(fd, size, (unsigned long)n, &b);
	}
	close(fd);
	if (r == -ESTALE)
		r = -EAGAIN;
	if (r == 0 && b.len == 0) {
		/* The file was emptied while we retried. */
		*ret_lines = NULL;
		if (ret_lens)
			*ret_lens = NULL;
		*ret_n = 0;
	} else if (r == 0) {
		r = split_lines(&b, (unsigned long)n, ret_lines, ret_lens, ret_n);
	}
	free(b.mem);
	return r;
}

SKYUTIL_EXPORT int skyutil_read_last_n_lines(const char *path, long n, char ***ret_lines,
                                             size_t *ret_n)
{
	return skyutil_read_last_n_lines_len(path, n, ret_lines, NULL, ret_n);
}

SKYUTIL_EXPORT void skyutil_lines_free(char **lines, size_t n)
{
	size_t i;

	if (!lines)
		return;
	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}
