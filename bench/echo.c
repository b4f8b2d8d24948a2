/*
 * echo.c - the bare Unix-socket echo server the daemon is compared with.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define ECHO_BUF     65536
#define ECHO_BACKLOG 1024
#define ECHO_EVENTS  64

/*
 * Write back everything: clients bound their in-flight bytes far below a socket buffer, so a
 * short write is rare; waiting for POLLOUT then keeps the server simple without hiding cost.
 */
static int echo_back(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			poll(&pfd, 1, -1);
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void accept_all(int lfd, int ep)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN};

		if (fd < 0)
			return;
		ev.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			close(fd);
	}
}

static void serve_readable(int fd, char *buf)
{
	for (;;) {
		ssize_t n = read(fd, buf, ECHO_BUF);

		if (n > 0) {
			if (echo_back(fd, buf, (size_t)n) < 0) {
				close(fd);
				return;
			}
			/* Like libuv, read again until the socket is empty. */
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close(fd); /* EOF or error; closing also removes it from the epoll set */
		return;
	}
}

static void serve(int lfd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, evs[ECHO_EVENTS];
	char *buf = malloc(ECHO_BUF);
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (!buf || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		_exit(1);
	for (;;) {
		int n = epoll_wait(ep, evs, ECHO_EVENTS, -1);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd)
				accept_all(lfd, ep);
			else
				serve_readable(evs[i].data.fd, buf);
		}
	}
}

pid_t bench_echo_start(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	pid_t parent = getpid(), pid;
	int lfd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	unlink(path);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, ECHO_BACKLOG) < 0) {
		r = -errno;
		close(lfd);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(lfd);
		unlink(path);
		return r;
	}
	if (pid == 0) {
		/* Never outlive the benchmark that started it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		serve(lfd);
	}
	close(lfd);
	return pid;
}

void bench_echo_stop(pid_t pid, const char *path)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	unlink(path);
}
