/*
 * notify.c - the service manager notification protocol (sd_notify(3)).
 *
 * READY=1 once listening, STATUS= kept current, WATCHDOG=1 at half of $WATCHDOG_USEC,
 * STOPPING=1 at shutdown. The protocol is one datagram per state change to the AF_UNIX
 * socket named by $NOTIFY_SOCKET (a path, or '@' for the abstract namespace); systemd
 * documents it as stable, so it is implemented natively. With libsystemd, sd_notify() and
 * sd_watchdog_enabled() are used instead and behave the same.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "sku_daemon.h"

/* STATUS= is refreshed at most this often however fast clients come and go. */
#define STATUS_COALESCE_MS 100

struct sku_notify {
	struct sku_server *srv;
#if !HAVE_LIBSYSTEMD
	int fd; /* SOCK_DGRAM, O_CLOEXEC */
	struct sockaddr_un addr;
	socklen_t addrlen;
#endif
	uv_timer_t watchdog;
	uv_timer_t status;
	bool watchdog_on;
	bool status_pending;
	unsigned open_handles; /* timers still to close before free */
	char last_status[96];
};

#if HAVE_LIBSYSTEMD
static int notify_open(struct sku_notify *n)
{
	return getenv("NOTIFY_SOCKET") ? 0 : -ENOENT;
}

static int notify_send_raw(struct sku_notify *n, const char *state)
{
	int r = sd_notify(0, state);

	return r < 0 ? r : 0;
}

static uint64_t watchdog_usec(void)
{
	uint64_t usec = 0;

	return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}
#else
static int notify_open(struct sku_notify *n)
{
	const char *e = getenv("NOTIFY_SOCKET");
	size_t len;

	if (!e || !e[0])
		return -ENOENT;
	len = strlen(e);
	/* Only paths and abstract names; vsock: targets are for VMs, not for this daemon. */
	if ((e[0] != '/' && e[0] != '@') || len >= sizeof(n->addr.sun_path))
		return -EAFNOSUPPORT;
	memset(&n->addr, 0, sizeof(n->addr));
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, e, len);
	if (e[0] == '@')
		n->addr.sun_path[0] = '\0';
	/* Abstract names are length-delimited; paths carry their NUL as systemd does. */
	n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (e[0] == '/'));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0)
		return -errno;
	return 0;
}

static int notify_send_raw(struct sku_notify *n, const char *state)
{
	ssize_t w;

	if (n->fd < 0)
		return -ENOTCONN;
	w = sendto(n->fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&n->addr,
	           n->addrlen);
	if (w < 0)
		return -errno;
	return 0;
}

/* As sd_watchdog_enabled(): WATCHDOG_USEC, when WATCHDOG_PID is unset or names us. */
static uint64_t watchdog_usec(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *ps = getenv("WATCHDOG_PID");
	unsigned long long usec;
	char *end;

	if (!us)
		return 0;
	errno = 0;
	usec = strtoull(us, &end, 10);
	if (errno || *end || end == us || usec == 0 || us[0] == '-')
		return 0;
	if (ps) {
		long pid;

		errno = 0;
		pid = strtol(ps, &end, 10);
		if (errno || *end || end == ps || pid != (long)getpid())
			return 0;
	}
	return usec;
}
#endif

int sku_notify_send(struct sku_server *srv, const char *state)
{
	int r;

	if (!srv->notify)
		return 0;
	r = notify_send_raw(srv->notify, state);
	if (r < 0)
		sku_log(SKU_LOG_DEBUG, "notify: %s: %s", state, strerror(-r));
	return r;
}

static void status_text(const struct sku_server *srv, char *buf, size_t len)
{
	(void)snprintf(buf, len, "STATUS=%u client%s, %u watch%s", srv->nconns,
	               srv->nconns == 1 ? "" : "s", srv->nwatches, srv->nwatches == 1 ? "" : "es");
}

/* Send STATUS= if it differs from what the manager last heard. */
static void status_refresh(struct sku_notify *n)
{
	char text[sizeof(n->last_status)];

	status_text(n->srv, text, sizeof(text));
	if (strcmp(text, n->last_status) == 0)
		return;
	if (sku_notify_send(n->srv, text) == 0)
		memcpy(n->last_status, text, sizeof(text));
}

static void on_status_timer(uv_timer_t *t)
{
	struct sku_notify *n = t->data;

	n->status_pending = false;
	status_refresh(n);
}

static void on_watchdog(uv_timer_t *t)
{
	struct sku_notify *n = t->data;

	(void)sku_notify_send(n->srv, "WATCHDOG=1");
	/* Gauges a module changed without telling us still reach STATUS= within a period. */
	status_refresh(n);
}

int sku_notify_init(struct sku_server *srv)
{
	struct sku_notify *n;
	uint64_t usec;
	int r;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->srv = srv;
#if !HAVE_LIBSYSTEMD
	n->fd = -1;
#endif
	r = notify_open(n);
	if (r == -ENOENT) {
		free(n);
		return 0;
	}
	if (r < 0) {
		sku_log(SKU_LOG_WARN, "NOTIFY_SOCKET unusable, not notifying: %s", strerror(-r));
		free(n);
		return 0;
	}
	r = uv_timer_init(srv->loop, &n->watchdog);
	if (r == 0) {
		n->open_handles++;
		r = uv_timer_init(srv->loop, &n->status);
		if (r == 0)
			n->open_handles++;
	}
	n->watchdog.data = n;
	n->status.data = n;
	srv->notify = n;
	if (r < 0) {
		sku_notify_done(srv);
		return r;
	}

	usec = watchdog_usec();
	if (usec > 0) {
		/* Half the period, as sd_watchdog_enabled(3) advises; at least 1 ms. */
		uint64_t ms = usec / 2000;

		if (ms == 0)
			ms = 1;
		r = uv_timer_start(&n->watchdog, on_watchdog, ms, ms);
		if (r < 0) {
			sku_notify_done(srv);
			return r;
		}
		n->watchdog_on = true;
		sku_log(SKU_LOG_INFO, "watchdog: pinging every %" PRIu64 " ms", ms);
	}
	return 0;
}

void sku_notify_ready(struct sku_server *srv)
{
	char msg[160];

	if (!srv->notify)
		return;
	status_text(srv, srv->notify->last_status, sizeof(srv->notify->last_status));
	(void)snprintf(msg, sizeof(msg), "READY=1\n%s", srv->notify->last_status);
	(void)sku_notify_send(srv, msg);
}

void sku_notify_status_changed(struct sku_server *srv)
{
	struct sku_notify *n = srv->notify;

	if (!n || n->status_pending || srv->stopping)
		return;
	if (uv_timer_start(&n->status, on_status_timer, STATUS_COALESCE_MS, 0) == 0)
		n->status_pending = true;
}

void sku_notify_stopping(struct sku_server *srv)
{
	if (!srv->notify)
		return;
	(void)sku_notify_send(srv, "STOPPING=1\nSTATUS=stopping");
}

static void on_timer_closed(uv_handle_t *h)
{
	struct sku_notify *n = h->data;

	if (--n->open_handles == 0)
		free(n);
}

void sku_notify_done(struct sku_server *srv)
{
	struct sku_notify *n = srv->notify;
	unsigned handles;

	if (!n)
		return;
	srv->notify = NULL;
#if !HAVE_LIBSYSTEMD
	if (n->fd >= 0)
		(void)close(n->fd);
#endif
	handles = n->open_handles;
	if (handles == 0) {
		free(n);
		return;
	}
	/* The status timer exists only if the watchdog timer does (init order). */
	uv_close((uv_handle_t *)&n->watchdog, on_timer_closed);
	if (handles == 2)
		uv_close((uv_handle_t *)&n->status, on_timer_closed);
}
