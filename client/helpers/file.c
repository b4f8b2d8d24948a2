/*
 * file.c - opening the files the helpers read.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

int sku_helper_open(const char *path, off_t *ret_size)
{
	struct stat st;
	off_t size;
	int fd, r;

	if (!path || !*path)
		return -EINVAL;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer before we can reject it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out_close;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		r = -EINVAL;
		goto out_close;
	}
	/* Block devices report st_size 0; their end offset is their size. */
	if (S_ISREG(st.st_mode)) {
		size = st.st_size;
	} else {
		size = lseek(fd, 0, SEEK_END);
		if (size < 0) {
			r = -errno;
			goto out_close;
		}
	}
	if (ret_size)
		*ret_size = size;
	return fd;

out_close:
	close(fd);
	return r;
}
