/*
 * activation.c - take the listening socket from a service manager.
 *
 * systemd's protocol (sd_listen_fds(3)): fds 3.. LISTEN_FDS-1+3 are ours when LISTEN_PID is
 * our pid; LISTEN_FDNAMES names them. It is a stable interface that any manager may speak,
 * so it is implemented natively; with libsystemd, sd_listen_fds_with_names() does the
 * parsing instead and the result is the same. launchd lives in activation_<os>.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "sku_daemon.h"

#define LISTEN_FDS_START 3
/* A unit declares one socket; anything beyond a few is a misconfiguration, not a reason to loop. */
#define LISTEN_FDS_MAX 16
#define FDNAME         "skyutild"

/* A listening AF_UNIX stream socket. */
static int check_listener(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int type = 0, acc = 0;
	socklen_t tl = sizeof(type), al = sizeof(acc);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
		return -errno;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family != AF_UNIX || type != SOCK_STREAM)
		return -EAFNOSUPPORT;
	/* SO_ACCEPTCONN is Linux and macOS; where it fails, uv_listen() will tell. */
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) == 0 && !acc)
		return -ENOTCONN;
	return 0;
}

static int set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

/* Fills names[0..n) with borrowed pointers into buf (a copy of $LISTEN_FDNAMES). */
static void split_names(char *buf, const char **names, int n)
{
	char *save = NULL, *tok;
	int i = 0;

	for (tok = buf ? strtok_r(buf, ":", &save) : NULL; tok && i < n;
	     tok = strtok_r(NULL, ":", &save))
		names[i++] = tok;
	for (; i < n; i++)
		names[i] = NULL;
}

#if HAVE_LIBSYSTEMD
static int listen_fds(char **ret_names, int *ret_n)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);
	size_t total = 1;
	char *joined;

	if (n < 0)
		return n;
	/* Re-joined so both implementations hand the same shape to the caller. */
	for (int i = 0; names && i < n; i++)
		total += strlen(names[i]) + 1;
	joined = calloc(1, total);
	if (!joined) {
		for (int i = 0; names && names[i]; i++)
			free(names[i]);
		free(names);
		return -ENOMEM;
	}
	for (int i = 0; names && i < n; i++) {
		if (i > 0)
			strcat(joined, ":");
		strcat(joined, names[i]);
	}
	for (int i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
	*ret_names = joined;
	*ret_n = n;
	return 0;
}
#else
static int listen_fds(char **ret_names, int *ret_n)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	const char *names_s = getenv("LISTEN_FDNAMES");
	char *end;
	long pid, n;
	int r = 0;

	*ret_names = NULL;
	*ret_n = 0;
	if (!pid_s || !fds_s)
		goto out_unset;
	errno = 0;
	pid = strtol(pid_s, &end, 10);
	if (errno || *end || end == pid_s || pid <= 0)
		goto out_unset;
	/* Inherited by a child the manager never meant: not ours. */
	if (pid != (long)getpid())
		goto out_unset;
	errno = 0;
	n = strtol(fds_s, &end, 10);
	if (errno || *end || end == fds_s || n < 0 || n > INT_MAX - LISTEN_FDS_START) {
		r = -EINVAL;
		goto out_unset;
	}
	if (names_s) {
		*ret_names = strdup(names_s);
		if (!*ret_names) {
			r = -ENOMEM;
			goto out_unset;
		}
	}
	*ret_n = (int)n;
out_unset:
	/* Consumed: children (none today) must not believe the fds are theirs. */
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	return r;
}
#endif

int sku_activation_take(int *ret_fd)
{
	const char *names[LISTEN_FDS_MAX];
	char *names_buf = NULL;
	int n = 0, pick = -1, r;

	*ret_fd = -1;
	r = listen_fds(&names_buf, &n);
	if (r < 0)
		return r;
	if (n == 0) {
		free(names_buf);
		r = sku_activation_platform(ret_fd);
		if (r < 0 || *ret_fd < 0)
			return r;
		r = set_cloexec(*ret_fd);
		if (r == 0)
			r = check_listener(*ret_fd);
		if (r < 0) {
			(void)close(*ret_fd);
			*ret_fd = -1;
		}
		return r;
	}
	if (n > LISTEN_FDS_MAX) {
		free(names_buf);
		return -E2BIG;
	}
	split_names(names_buf, names, n);

	/* The fd named "skyutild" if names were given, else the first usable one. */
	for (int i = 0; i < n && pick < 0; i++)
		if (names[i] && strcmp(names[i], FDNAME) == 0 &&
		    check_listener(LISTEN_FDS_START + i) == 0)
			pick = LISTEN_FDS_START + i;
	for (int i = 0; i < n && pick < 0; i++)
		if (check_listener(LISTEN_FDS_START + i) == 0)
			pick = LISTEN_FDS_START + i;
	free(names_buf);

	/* Every passed fd is ours: close the ones we do not use rather than leak them. */
	for (int i = 0; i < n; i++) {
		int fd = LISTEN_FDS_START + i;

		if (fd == pick)
			continue;
		(void)close(fd);
	}
	if (pick < 0)
		return -ENOTSOCK;
	r = set_cloexec(pick);
	if (r < 0) {
		(void)close(pick);
		return r;
	}
	*ret_fd = pick;
	return 0;
}
