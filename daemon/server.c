/*
 * server.c - the listening socket: safe creation, stale-socket takeover, accept, shutdown.
 *
 * Creating PATH safely (as skalibs' ipc_bind_reuse_lock_perms): the directory must be ours
 * or root's and not writable by others unless sticky; "PATH.lock" is flock'ed for the
 * daemon's lifetime before anything at PATH is touched; an existing socket is removed only
 * when connecting to it is refused (nobody listens: stale), and a live one means another
 * daemon: exit. The socket gets its mode from the umask at bind time, so it is never
 * reachable with looser permissions, even for an instant.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sku_daemon.h"

#define LISTEN_BACKLOG    128
#define SHUTDOWN_GRACE_MS 2000 /* deferred calls get this long to finish at shutdown */
#define LOCK_ATTEMPTS     3

void sku_server_init(struct sku_server *srv, uv_loop_t *loop, const struct sku_config *cfg)
{
	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	srv->cfg = *cfg;
	srv->lock_fd = -1;
	srv->started_ns = sku_now_ns();
}

/* ------------------------------------------------------------------ path safety */

static int resolve_group(const char *name, gid_t *ret)
{
	struct group gr, *res = NULL;
	char buf[4096];
	char *end;
	unsigned long n;
	int r;

	r = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
	if (r == 0 && res) {
		*ret = res->gr_gid;
		return 0;
	}
	/* A numeric gid is accepted too, as chown(1) does. */
	errno = 0;
	n = strtoul(name, &end, 10);
	if (!errno && *end == '\0' && end != name && n < (unsigned long)(gid_t)-1) {
		*ret = (gid_t)n;
		return 0;
	}
	return r > 0 ? -r : -ENOENT;
}

/* The socket's directory: created (last component only) or checked. */
static int prepare_dir(const struct sku_server *srv, const char *dir, bool have_gid, gid_t gid)
{
	struct stat st;
	uid_t me = geteuid();

	/* With a socket group, members must be able to reach the socket: search for the group. */
	if (mkdir(dir, have_gid ? 0710 : 0700) == 0) {
		/* mkdir honours the umask; the intended mode is set explicitly. */
		if (have_gid && chown(dir, (uid_t)-1, gid) < 0) {
			sku_log(SKU_LOG_ERROR, "chown %s to group %s: %s", dir,
			        srv->cfg.socket_group, strerror(errno));
			return -errno;
		}
		if (chmod(dir, have_gid ? 0710 : 0700) < 0)
			return -errno;
		sku_log(SKU_LOG_INFO, "created %s", dir);
	} else if (errno != EEXIST) {
		int e = errno;

		sku_log(SKU_LOG_ERROR, "cannot create socket directory %s: %s", dir, strerror(e));
		return -e;
	}
	if (stat(dir, &st) < 0) {
		int e = errno;

		sku_log(SKU_LOG_ERROR, "%s: %s", dir, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		sku_log(SKU_LOG_ERROR, "%s is not a directory", dir);
		return -ENOTDIR;
	}
	/* Anyone else owning it, or able to swap the socket out from under us, could spoof it. */
	if (st.st_uid != me && st.st_uid != 0) {
		sku_log(SKU_LOG_ERROR, "refusing socket directory %s: owned by uid %lu, not by us",
		        dir, (unsigned long)st.st_uid);
		return -EPERM;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		sku_log(SKU_LOG_ERROR,
		        "refusing socket directory %s: writable by group or others (mode %04o)",
		        dir, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/*
 * flock "PATH.lock" and keep it. The file is re-checked after locking: a daemon exiting
 * unlinks it, and a lock taken on the unlinked inode would protect nothing.
 */
static int take_lock(struct sku_server *srv)
{
	int n = snprintf(srv->lock_path, sizeof(srv->lock_path), "%s.lock", srv->cfg.socket_path);

	if (n < 0 || (size_t)n >= sizeof(srv->lock_path))
		return -ENAMETOOLONG;
	for (int attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
		struct stat a, b;
		int fd = open(srv->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

		if (fd < 0) {
			int e = errno;

			sku_log(SKU_LOG_ERROR, "cannot open %s: %s", srv->lock_path, strerror(e));
			return -e;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int e = errno;

			(void)close(fd);
			if (e == EWOULDBLOCK) {
				sku_log(SKU_LOG_ERROR,
				        "another skyutild is already listening on %s (%s is locked)",
				        srv->cfg.socket_path, srv->lock_path);
				return -EADDRINUSE;
			}
			sku_log(SKU_LOG_ERROR, "cannot lock %s: %s", srv->lock_path, strerror(e));
			return -e;
		}
		if (fstat(fd, &a) == 0 && stat(srv->lock_path, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino) {
			srv->lock_fd = fd;
			return 0;
		}
		(void)close(fd);
	}
	sku_log(SKU_LOG_ERROR, "%s keeps changing under us", srv->lock_path);
	return -EAGAIN;
}

/* Something exists at PATH: remove it if it is a socket nobody listens on. */
static int clear_stale(const struct sku_server *srv)
{
	const char *path = srv->cfg.socket_path;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		sku_log(SKU_LOG_ERROR, "%s exists and is not a socket; not touching it", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -errno;
	(void)close(fd);
	if (r == 0 || r == -EAGAIN) {
		/* EAGAIN: a listener with a full backlog is still a listener. */
		sku_log(SKU_LOG_ERROR, "another skyutild is already listening on %s", path);
		return -EADDRINUSE;
	}
	if (r != -ECONNREFUSED) {
		sku_log(SKU_LOG_ERROR, "cannot tell whether %s is in use: %s", path, strerror(-r));
		return r;
	}
	sku_log(SKU_LOG_INFO, "removing stale socket %s", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int bind_path(struct sku_server *srv, bool have_gid, gid_t gid)
{
	const char *path = srv->cfg.socket_path;
	mode_t mode = srv->cfg.socket_mode & 0777;
	mode_t old;
	int r;

	r = uv_pipe_init(srv->loop, &srv->listener, 0);
	if (r < 0)
		return r;
	srv->listening = true;
	srv->listener.data = srv;
	/* The socket is born with exactly the allowed bits: no window before a chmod. */
	old = umask(~mode & 0777);
	r = uv_pipe_bind(&srv->listener, path);
	(void)umask(old);
	if (r < 0) {
		sku_log(SKU_LOG_ERROR, "cannot bind %s: %s", path, uv_strerror(r));
		return r;
	}
	srv->unlink_socket = true;
	if (have_gid && chown(path, (uid_t)-1, gid) < 0) {
		int e = errno;

		sku_log(SKU_LOG_ERROR, "chown %s to group %s: %s", path, srv->cfg.socket_group,
		        strerror(e));
		return -e;
	}
	return 0;
}

/* -------------------------------------------------------------------- accept */

static void on_connection(uv_stream_t *listener, int status)
{
	struct sku_server *srv = listener->data;

	if (status < 0) {
		static uint64_t last_log_ns;

		/*
		 * Keep accepting whatever it is. (EMFILE does not come here: libuv frees its
		 * reserve fd, accepts and closes the waiting connections itself.)
		 */
		if (sku_now_ns() - last_log_ns > 1000000000ull) {
			last_log_ns = sku_now_ns();
			sku_log(SKU_LOG_WARN, "accept: %s", uv_strerror(status));
		}
		return;
	}
	if (srv->stopping)
		return;
	sku_conn_accept(srv);
}

int sku_server_listen(struct sku_server *srv, int activated_fd)
{
	char dir[PATH_MAX];
	char *slash;
	gid_t gid = 0;
	bool have_gid = false;
	int fd = activated_fd, r;

	if (fd >= 0) {
		r = uv_pipe_init(srv->loop, &srv->listener, 0);
		if (r < 0) {
			(void)close(fd);
			return r;
		}
		srv->listening = true;
		srv->listener.data = srv;
		r = uv_pipe_open(&srv->listener, fd);
		if (r < 0) {
			(void)close(fd);
			sku_log(SKU_LOG_ERROR, "socket activation: %s", uv_strerror(r));
			return r;
		}
		sku_log(SKU_LOG_INFO, "using the socket passed by the service manager (fd %d)", fd);
		goto listen;
	}

	if (srv->cfg.socket_group) {
		r = resolve_group(srv->cfg.socket_group, &gid);
		if (r < 0) {
			sku_log(SKU_LOG_ERROR, "unknown group '%s'", srv->cfg.socket_group);
			return r;
		}
		have_gid = true;
	}
	if (strlen(srv->cfg.socket_path) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, srv->cfg.socket_path);
	slash = strrchr(dir, '/');
	if (!slash) {
		/* A relative name lives in the working directory. */
		strcpy(dir, ".");
	} else if (slash == dir) {
		dir[1] = '\0';
	} else {
		*slash = '\0';
	}
	r = prepare_dir(srv, dir, have_gid, gid);
	if (r < 0)
		return r;
	r = take_lock(srv);
	if (r < 0)
		return r;
	r = clear_stale(srv);
	if (r < 0)
		return r;
	r = bind_path(srv, have_gid, gid);
	if (r < 0)
		return r;

listen:
	r = uv_listen((uv_stream_t *)&srv->listener, LISTEN_BACKLOG, on_connection);
	if (r < 0) {
		sku_log(SKU_LOG_ERROR, "listen: %s", uv_strerror(r));
		return r;
	}
	if (fd >= 0) {
		char name[sizeof(((struct sockaddr_un *)NULL)->sun_path) + 1];
		size_t len = sizeof(name);

		if (uv_pipe_getsockname(&srv->listener, name, &len) == 0 && len > 0 &&
		    name[0] != '\0')
			sku_log(SKU_LOG_INFO, "listening on %s (socket activation)", name);
		else
			sku_log(SKU_LOG_INFO, "listening on the activated socket");
	} else {
		sku_log(SKU_LOG_INFO, "listening on %s", srv->cfg.socket_path);
	}
	return 0;
}

/* ------------------------------------------------------------------ shutdown */

static void finish_stop(struct sku_server *srv)
{
	if (srv->stopped)
		return;
	srv->stopped = true;
	if (srv->stop_timer_open)
		(void)uv_timer_stop(&srv->stop_timer);
	if (srv->on_stopped)
		srv->on_stopped(srv);
}

void sku_server_conn_gone(struct sku_server *srv)
{
	if (srv->stopping && srv->nconns == 0)
		finish_stop(srv);
}

/* The grace period is over: deferred calls are cancelled, connections cut. */
static void stop_now(struct sku_server *srv)
{
	struct sku_conn *conn, *next;

	if (srv->ndeferred > 0)
		sku_log(SKU_LOG_WARN, "stopping: abandoning %u unfinished calls", srv->ndeferred);
	sku_dispatch_cancel_deferred(srv);
	for (conn = srv->conns; conn; conn = next) {
		next = sku_conn_next(conn);
		sku_conn_close(conn);
	}
	/* Connections whose handles already closed leave nothing to wait for. */
	sku_server_conn_gone(srv);
}

static void on_stop_timeout(uv_timer_t *t)
{
	stop_now(t->data);
}

static void on_listener_closed(uv_handle_t *h)
{
	(void)h;
}

void sku_server_stop(struct sku_server *srv, void (*on_stopped)(struct sku_server *srv))
{
	struct sku_conn *conn, *next;

	if (srv->stopping) {
		/* Asked again: do not wait any longer. */
		if (!srv->stopped)
			stop_now(srv);
		return;
	}
	srv->stopping = true;
	srv->on_stopped = on_stopped;
	sku_log(SKU_LOG_INFO, "stopping: %u clients, %u pending calls", srv->nconns,
	        srv->ndeferred);
	if (srv->listening) {
		uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
		srv->listening = false;
	}
	/* New clients get ECONNREFUSED/ENOENT instead of a daemon that will not answer. */
	if (srv->unlink_socket) {
		(void)unlink(srv->cfg.socket_path);
		srv->unlink_socket = false;
	}
	if (uv_timer_init(srv->loop, &srv->stop_timer) == 0) {
		srv->stop_timer_open = true;
		srv->stop_timer.data = srv;
		(void)uv_timer_start(&srv->stop_timer, on_stop_timeout, SHUTDOWN_GRACE_MS, 0);
	}
	for (conn = srv->conns; conn; conn = next) {
		next = sku_conn_next(conn);
		sku_conn_drain(conn);
	}
	sku_server_conn_gone(srv);
	/* Without a timer to bound the wait, do not wait at all. */
	if (!srv->stop_timer_open && !srv->stopped)
		stop_now(srv);
}

void sku_server_done(struct sku_server *srv)
{
	if (srv->listening) {
		uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
		srv->listening = false;
	}
	if (srv->stop_timer_open) {
		uv_close((uv_handle_t *)&srv->stop_timer, NULL);
		srv->stop_timer_open = false;
	}
	if (srv->unlink_socket) {
		(void)unlink(srv->cfg.socket_path);
		srv->unlink_socket = false;
	}
	if (srv->lock_fd >= 0) {
		/* Unlink before unlocking, so a successor never locks a file about to vanish. */
		(void)unlink(srv->lock_path);
		(void)close(srv->lock_fd);
		srv->lock_fd = -1;
	}
}
