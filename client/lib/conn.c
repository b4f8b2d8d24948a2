/*
 * conn.c - the client's connection: connect with a timeout, blocking I/O bounded by poll
 * deadlines, the read buffer, message framing (sku_prescan before any decode) and the queue
 * of notifications that arrive while a call waits for its reply.
 *
 * The socket is non-blocking; waiting is always poll() against a monotonic deadline, so a
 * timeout is exact and a signal never loses data. A fatal error (peer gone, garbage, queue
 * overflow) is remembered in c->err and returned by every later operation: the caller opens
 * a new client. Queued notifications stay deliverable after that.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "skyutil/skyutil.h"

#include "sku_client.h"

#define READ_CHUNK 65536
/* Room for the largest accepted message plus one read beyond it. */
#define RBUF_MAX (SKU_CLIENT_MAX_MESSAGE + READ_CHUNK)

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sku_client_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return -1;
	return now_ms() + timeout_ms;
}

/* poll() timeout left until deadline: -1 forever, 0 when passed. */
static int remaining_ms(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

static int fail(struct skyutil_client *c, int err)
{
	if (!c->err)
		c->err = err;
	return c->err;
}

int skyutil_default_socket_path(char *buf, size_t buflen)
{
	if (!buf || buflen == 0)
		return -EINVAL;
	return sku_socket_path(NULL, getenv("SKYUTILD_SOCKET"), getenv("XDG_RUNTIME_DIR"),
	                       geteuid(), buf, buflen);
}

/*
 * A blocking AF_UNIX connect waits for room in the listener's backlog for at most
 * SO_SNDTIMEO, then fails with EAGAIN: that is the connect timeout, without a retry loop.
 */
static int connect_timeout(int fd, const struct sockaddr_un *sa, int timeout_ms)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	int flags;

	if (timeout_ms == 0) {
		/* SO_SNDTIMEO 0 would mean forever: try once without waiting instead. */
		flags = fcntl(fd, F_GETFL);
		if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
			return -errno;
	} else if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		return -errno;
	}
	while (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EINPROGRESS)
			return -ETIMEDOUT;
		return -errno;
	}
	tv = (struct timeval){0};
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int skyutil_client_open(const char *path, int timeout_ms, skyutil_client **ret_client)
{
	char defpath[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct skyutil_client *c;
	int rc;

	if (!ret_client)
		return -EINVAL;
	if (!path || !*path) {
		rc = skyutil_default_socket_path(defpath, sizeof(defpath));
		if (rc < 0)
			return rc;
		path = defpath;
	}
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (timeout_ms < 0)
		timeout_ms = SKU_CLIENT_DEFAULT_TIMEOUT;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->timeout_ms = SKU_CLIENT_DEFAULT_TIMEOUT;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		rc = -errno;
		free(c);
		return rc;
	}
	if (!msgpack_zone_init(&c->zone, 8192)) {
		close(c->fd);
		free(c);
		return -ENOMEM;
	}
	msgpack_sbuffer_init(&c->sbuf);
	rc = connect_timeout(c->fd, &sa, timeout_ms);
	if (rc < 0) {
		skyutil_client_free(c);
		return rc;
	}
	*ret_client = c;
	return 0;
}

void skyutil_client_free(skyutil_client *c)
{
	struct sku_note *n;

	if (!c)
		return;
	while ((n = sku_client_pop(c)))
		free(n);
	if (c->fd >= 0)
		close(c->fd);
	msgpack_zone_destroy(&c->zone);
	msgpack_sbuffer_destroy(&c->sbuf);
	free(c->rbuf);
	free(c);
}

void skyutil_client_set_timeout(skyutil_client *c, int timeout_ms)
{
	if (c)
		c->timeout_ms = timeout_ms < 0 ? SKU_CLIENT_DEFAULT_TIMEOUT : timeout_ms;
}

void sku_client_release(struct skyutil_client *c)
{
	if (c->zone_dirty) {
		msgpack_zone_clear(&c->zone);
		c->zone_dirty = false;
	}
}

/* ---------------------------------------------------------------- notification queue */

static int enqueue(struct skyutil_client *c, const struct sku_msg *m)
{
	static const char empty_map = (char)0x80;
	const char *params = &empty_map;
	struct sku_note *n;
	size_t len = 1;
	int64_t watch_id = 0;

	if (m->args) {
		msgpack_packer pk;

		/* The request that caused this wait is fully sent, so sbuf is free to reuse. */
		msgpack_sbuffer_clear(&c->sbuf);
		msgpack_packer_init(&pk, &c->sbuf, msgpack_sbuffer_write);
		if (msgpack_pack_object(&pk, *m->args) < 0)
			return fail(c, -ENOMEM);
		params = c->sbuf.data;
		len = c->sbuf.size;
		if (m->method_len == 11 && !memcmp(m->method, "proc.exited", 11) &&
		    sku_get_int(m->args, "watch_id", 0, &watch_id) < 0)
			watch_id = 0;
	}
	if (c->q_count >= SKU_CLIENT_MAX_QUEUED || len > SKU_CLIENT_MAX_QUEUED_BYTES - c->q_bytes)
		return fail(c, -ENOBUFS);
	n = malloc(sizeof(*n) + m->method_len + 1 + len);
	if (!n)
		return fail(c, -ENOMEM);
	n->next = NULL;
	n->method = (char *)(n + 1);
	memcpy(n->method, m->method, m->method_len);
	n->method[m->method_len] = '\0';
	n->params = n->method + m->method_len + 1;
	memcpy(n->params, params, len);
	n->len = len;
	n->watch_id = watch_id;
	if (c->q_tail)
		c->q_tail->next = n;
	else
		c->q_head = n;
	c->q_tail = n;
	c->q_count++;
	c->q_bytes += len;
	return 0;
}

static void unlink_note(struct skyutil_client *c, struct sku_note *prev, struct sku_note *n)
{
	if (prev)
		prev->next = n->next;
	else
		c->q_head = n->next;
	if (c->q_tail == n)
		c->q_tail = prev;
	n->next = NULL;
	c->q_count--;
	c->q_bytes -= n->len;
}

struct sku_note *sku_client_pop(struct skyutil_client *c)
{
	struct sku_note *n = c->q_head;

	if (n)
		unlink_note(c, NULL, n);
	return n;
}

struct sku_note *sku_client_take_exit(struct skyutil_client *c, int64_t watch_id)
{
	struct sku_note *prev = NULL;

	for (struct sku_note *n = c->q_head; n; prev = n, n = n->next) {
		if (n->watch_id == watch_id && !strcmp(n->method, "proc.exited")) {
			unlink_note(c, prev, n);
			return n;
		}
	}
	return NULL;
}

/* facts.changed for our own subscription refreshes the cache and is not queued. */
static bool take_facts_changed(struct skyutil_client *c, const struct sku_msg *m)
{
	struct skyutil_facts f;
	const msgpack_object *facts;
	int64_t sub_id;

	if (!c->facts_subscribed || !m->args || m->method_len != 13 ||
	    memcmp(m->method, "facts.changed", 13))
		return false;
	if (sku_get_int(m->args, "subscription_id", 0, &sub_id) < 0 || sub_id != c->facts_sub_id)
		return false;
	facts = sku_map_get(m->args, "facts");
	/* A malformed update keeps the last good facts rather than failing the connection. */
	if (facts && sku_facts_from_obj(facts, &f) == 0 && f.generation >= c->facts.generation)
		c->facts = f;
	return true;
}

/* ---------------------------------------------------------------- reading */

/*
 * One non-blocking read into the buffer. Returns 0 when bytes arrived, -EAGAIN when none
 * are waiting, or a fatal error (peer closed: -EPIPE).
 */
static int fill_once(struct skyutil_client *c)
{
	ssize_t n;

	if (c->err)
		return c->err;
	if (c->rpos == c->rlen) {
		c->rpos = c->rlen = 0;
	} else if (c->rcap - c->rlen < READ_CHUNK && c->rpos > 0) {
		/* Live views never point at consumed bytes here: compaction is safe. */
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	if (c->rcap - c->rlen < READ_CHUNK && c->rcap < RBUF_MAX) {
		size_t cap = c->rcap ? c->rcap * 2 : READ_CHUNK;
		char *p;

		if (cap > RBUF_MAX)
			cap = RBUF_MAX;
		p = realloc(c->rbuf, cap);
		if (!p)
			return fail(c, -ENOMEM);
		c->rbuf = p;
		c->rcap = cap;
	}
	if (c->rcap == c->rlen)
		return fail(c, -EMSGSIZE); /* unreachable: prescan bounds a partial message */
	for (;;) {
		n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, MSG_DONTWAIT);
		if (n > 0) {
			c->rlen += (size_t)n;
			return 0;
		}
		if (n == 0)
			return fail(c, -EPIPE);
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -EAGAIN;
		if (errno == ECONNRESET)
			return fail(c, -EPIPE);
		return fail(c, -errno);
	}
}

/*
 * File every complete message in the buffer. With want != 0, stop at the reply to want (or
 * at a msgid-0 error, the daemon's answer to bytes it could not read) and return 1 with
 * *ret filled; its views stay valid until the next operation. Returns 0 when the buffer
 * holds no further complete message, or a fatal error.
 */
static int parse_buffered(struct skyutil_client *c, uint32_t want, struct sku_msg *ret)
{
	while (c->rpos < c->rlen) {
		const char *why;
		struct sku_msg m;
		size_t len;
		int rc;

		rc = sku_prescan(c->rbuf + c->rpos, c->rlen - c->rpos, SKU_CLIENT_MAX_MESSAGE,
		                 SKU_MAX_DEPTH, &len);
		if (rc == 0)
			return 0;
		if (rc < 0)
			return fail(c, rc);
		sku_client_release(c);
		c->zone_dirty = true;
		rc = sku_decode(c->rbuf + c->rpos, len, &c->zone, &m, &why);
		if (rc < 0)
			return fail(c, -EBADMSG);
		c->rpos += len;
		switch (m.type) {
		case SKU_MSG_RESPONSE:
			if (want && (m.msgid == want || (m.msgid == 0 && m.error &&
			                                 m.error->type != MSGPACK_OBJECT_NIL))) {
				*ret = m;
				return 1;
			}
			break; /* a late reply to a call that timed out */
		case SKU_MSG_NOTIFY:
			if (!take_facts_changed(c, &m)) {
				rc = enqueue(c, &m);
				if (rc < 0)
					return rc;
			}
			break;
		case SKU_MSG_REQUEST:
			break; /* the daemon sends none; nothing to answer */
		}
	}
	return 0;
}

static int poll_fd(struct skyutil_client *c, short events, int64_t deadline, short *ret_revents)
{
	struct pollfd pfd = {.fd = c->fd, .events = events};
	int rc;

	*ret_revents = 0;
	for (;;) {
		rc = poll(&pfd, 1, remaining_ms(deadline));
		if (rc > 0) {
			*ret_revents = pfd.revents;
			return 0;
		}
		if (rc == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int sku_client_drain(struct skyutil_client *c)
{
	int rc;

	for (;;) {
		rc = parse_buffered(c, 0, NULL);
		if (rc < 0)
			return rc;
		rc = fill_once(c);
		if (rc == -EAGAIN)
			return 0;
		if (rc < 0)
			return rc;
	}
}

int sku_client_wait_input(struct skyutil_client *c, int64_t deadline)
{
	short revents;
	int rc;

	if (c->err)
		return c->err;
	rc = poll_fd(c, POLLIN, deadline, &revents);
	if (rc < 0)
		return rc;
	return sku_client_drain(c);
}

/* ---------------------------------------------------------------- requests */

/*
 * Write all of buf before deadline. Bytes the daemon sends meanwhile are read into the
 * buffer (not parsed) so that it never blocks on us while we block on it.
 */
static int send_all(struct skyutil_client *c, const char *buf, size_t len, int64_t deadline)
{
	size_t off = 0;
	short revents;
	ssize_t n;
	int rc;

	while (off < len) {
		n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET)
			return -EPIPE;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return fail(c, -errno);
		/* Unparsed bytes past the message bound cannot become a message: stop reading. */
		rc = poll_fd(
		        c, c->rlen - c->rpos < SKU_CLIENT_MAX_MESSAGE ? POLLIN | POLLOUT : POLLOUT,
		        deadline, &revents);
		if (rc == -ETIMEDOUT && off > 0)
			/* Half a request is on the wire: the stream cannot be used again. */
			fail(c, -EPIPE);
		if (rc < 0)
			return rc;
		if (revents & POLLIN) {
			rc = fill_once(c);
			if (rc < 0 && rc != -EAGAIN)
				return -EPIPE;
		}
	}
	return 0;
}

static int remote_error(struct skyutil_client *c, const msgpack_object *err)
{
	int64_t code = 0;
	char name[32];

	c->errmsg[0] = '\0';
	if (err->type != MSGPACK_OBJECT_MAP)
		return SKYUTIL_EREMOTE(SKU_ERR_INTERNAL);
	if (sku_get_int(err, "code", 0, &code) < 0)
		code = 0;
	if (code <= 0 || code >= SKYUTIL_EREMOTE_BASE) {
		(void)sku_get_str(err, "name", name, sizeof(name));
		code = sku_err_from_name(name, strlen(name));
		if (code == 0)
			code = SKU_ERR_INTERNAL;
	}
	(void)sku_get_str(err, "message", c->errmsg, sizeof(c->errmsg));
	return SKYUTIL_EREMOTE((int)code);
}

int sku_client_request(struct skyutil_client *c, const char *method, const void *args,
                       size_t args_len, int64_t deadline, const msgpack_object **ret_result)
{
	msgpack_packer pk;
	struct sku_msg m = {0}; /* filled by parse_buffered; zeroed for gcc -O3 flow analysis */
	uint32_t msgid;
	short revents;
	int rc;

	if (c->err)
		return c->err;
	sku_client_release(c);
	c->errmsg[0] = '\0';
	msgid = ++c->last_msgid;
	if (msgid == 0) /* 0 is the daemon's "could not read your msgid" */
		msgid = c->last_msgid = 1;

	msgpack_sbuffer_clear(&c->sbuf);
	msgpack_packer_init(&pk, &c->sbuf, msgpack_sbuffer_write);
	if (sku_pack_request_head(&pk, msgid, method) < 0)
		return -ENOMEM;
	if (args) {
		if (msgpack_pack_array(&pk, 1) < 0 ||
		    msgpack_sbuffer_write(&c->sbuf, args, args_len) < 0)
			return -ENOMEM;
	} else if (msgpack_pack_array(&pk, 0) < 0) {
		return -ENOMEM;
	}

	rc = send_all(c, c->sbuf.data, c->sbuf.size, deadline);
	if (rc < 0 && rc != -EPIPE)
		return rc;
	/* On -EPIPE keep reading: the daemon may have said why (TOO_LARGE) before closing. */
	for (;;) {
		rc = parse_buffered(c, msgid, &m);
		if (rc < 0)
			return rc;
		if (rc == 1)
			break;
		rc = fill_once(c);
		if (rc == -EAGAIN)
			rc = poll_fd(c, POLLIN, deadline, &revents);
		if (rc < 0)
			return rc;
	}
	if (m.msgid == 0)
		fail(c, -EPIPE); /* the daemon closes after a msgid-0 error */
	if (m.error && m.error->type != MSGPACK_OBJECT_NIL)
		return remote_error(c, m.error);
	if (!m.result)
		return fail(c, -EBADMSG);
	*ret_result = m.result;
	return 0;
}
