/*
 * hutil.h - fixtures shared by the helpers tests: a private temporary directory and files.
 */
#ifndef HUTIL_H
#define HUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* cmocka.h relies on the headers above. */
#include <cmocka.h>

static char hutil_dir[512];

static inline int hutil_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(hutil_dir, sizeof(hutil_dir), "%s/skyutil-helpers-XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(hutil_dir) ? 0 : -1;
}

static inline int hutil_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static inline int hutil_teardown(void **state)
{
	return nftw(hutil_dir, hutil_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Path of name inside the fixture directory, written to buf. */
static inline const char *hutil_path(char *buf, size_t len, const char *name)
{
	int r = snprintf(buf, len, "%s/%s", hutil_dir, name);

	assert_true(r > 0 && (size_t)r < len);
	return buf;
}

static inline void hutil_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const char *p = data;

	assert_true(fd >= 0);
	while (len) {
		ssize_t n = write(fd, p, len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
	assert_int_equal(close(fd), 0);
}

#endif
