/*
 * workers.c - upstream's thread and file-mount worker counts.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

#include "skyutil/skyutil.h"

#include "helpers.h"

/* Upstream assumes each entry of a synced directory costs this many descriptors. */
#define FDS_PER_ENTRY 5
/* Descriptors upstream keeps back for everything that is not rsync. */
#define FD_RESERVE 100

/*
 * cloud.lower() == "kubernetes" as Python compares it: ASCII letters in any case, plus the
 * KELVIN SIGN U+212A, the one non-ASCII character whose lowercase is an ASCII letter of the
 * word ('k').
 */
static bool is_kubernetes(const char *cloud)
{
	static const char word[] = "kubernetes";
	const char *p = cloud;
	size_t i;

	if (!cloud)
		return false;
	for (i = 0; word[i]; i++) {
		char c = *p;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == word[i]) {
			p++;
		} else if (word[i] == 'k' && p[0] == '\xE2' && p[1] == '\x84' && p[2] == '\xAA') {
			p += 3;
		} else {
			return false;
		}
	}
	return *p == '\0';
}

SKYUTIL_EXPORT int64_t skyutil_parallel_threads(int64_t cpu_count, const char *cloud)
{
	int64_t threads = cpu_count > 5 ? cpu_count - 1 : 4;

	return is_kubernetes(cloud) ? sku_sat_mul64(threads, 4) : threads;
}

SKYUTIL_EXPORT int64_t skyutil_max_workers_for_file_mounts(int64_t nofile_soft,
                                                           int64_t fds_per_source,
                                                           int64_t cpu_count, const char *cloud)
{
	int64_t threads = skyutil_parallel_threads(cpu_count, cloud);
	int64_t workers;

	/* Upstream never divides by less than 5 descriptors; never divide by zero here. */
	if (fds_per_source < 1)
		fds_per_source = 1;
	if (nofile_soft == SKYUTIL_UNLIMITED)
		return threads;
	/* Floor division as Python's //; any result below 1 becomes 1 anyway. */
	if (nofile_soft < INT64_MIN + FD_RESERVE)
		workers = 1;
	else
		workers = (nofile_soft - FD_RESERVE) / fds_per_source;
	if (workers < 1)
		workers = 1;
	return workers < threads ? workers : threads;
}

/* Entries of the directory at path (without "." and ".."), or -1 when it is none. */
static int64_t count_entries(const char *path)
{
	struct dirent *de;
	int64_t n = 0;
	DIR *dir;
	int fd;

	/* O_DIRECTORY does os.path.isdir()'s job (symlinks followed) in the same call. */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -1;
	}
	while ((de = readdir(dir)))
		if (!(de->d_name[0] == '.' &&
		      (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0'))))
			n++;
	closedir(dir);
	return n;
}

SKYUTIL_EXPORT int64_t skyutil_fds_per_source(const char *const *paths, size_t n)
{
	int64_t fds = FDS_PER_ENTRY;
	size_t i;

	for (i = 0; paths && i < n; i++) {
		int64_t entries;

		if (!paths[i])
			continue;
		entries = count_entries(paths[i]);
		if (entries > 0 && sku_sat_mul64(entries, FDS_PER_ENTRY) > fds)
			fds = sku_sat_mul64(entries, FDS_PER_ENTRY);
	}
	return fds;
}
