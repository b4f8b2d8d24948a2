/*
 * conn.c - one client connection: capped read buffer, pre-scan, decode, write queue, close.
 *
 * Life cycle. A connection is malloc'd at accept and freed when its last reference goes:
 * one reference for the open handles (dropped when both are closed), one per call in
 * flight (dispatch.c) and one per write request. Closing runs the modules' hooks at once so
 * nothing more is queued; replies of deferred calls finishing later are dropped.
 *
 * Reading. Bytes accumulate in a buffer of at most max_message bytes: sku_prescan() proves
 * a complete message fits before sku_decode() (and so msgpack-c) sees it, and a message
 * that cannot fit is refused from its header alone. Several pipelined messages in one read
 * are answered one by one; their replies are coalesced into one uv_write().
 *
 * Writing. Output queued beyond the kernel's socket buffer is counted. Past half of
 * max_output the connection stops being read (and stops answering what it already sent)
 * until the queue falls below a quarter; output that still piles up (notifications,
 * deferred replies) past max_output means the client is not reading: it is disconnected.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sku_daemon.h"

#define READ_CHUNK       (64 * 1024) /* bytes asked of each read(2) */
#define BATCH_MAX_BUFS   256         /* replies coalesced into one uv_write */
#define DRAIN_TIMEOUT_MS 5000        /* a draining peer that never reads is cut after this */

struct sku_conn {
	uv_pipe_t pipe;
	uv_timer_t timer; /* idle timeout of a partial message; drain deadline */
	struct sku_server *srv;
	struct sku_conn *next, *prev; /* srv->conns */
	struct sku_conn_hook hooks;   /* list head; hooks.next == &hooks when empty */
	struct sku_peer peer;
	unsigned refs;
	unsigned open_handles;
	unsigned deferred; /* calls of this connection a handler kept */
	bool closing;      /* sku_conn_close() ran: nothing more is read or written */
	bool draining;     /* close once output and deferred calls are done */
	bool paused;       /* backpressure: neither reading nor answering */
	bool held;         /* sku_conn_hold_input(): no more requests until a deferred call ends */
	bool in_read;      /* inside on_read: replies are batched */
	bool timer_on;
	bool reading; /* uv_read_start() is in effect */

	char *rbuf; /* bytes read and not yet consumed: rbuf[0..rlen) */
	size_t rlen, rcap;
	msgpack_zone zone; /* decoded objects of the message being dispatched */

	uv_buf_t batch[BATCH_MAX_BUFS]; /* replies waiting for the end of the read */
	unsigned nbatch;
	size_t batch_bytes;
};

/* One uv_write() of several owned buffers. */
struct write_req {
	uv_write_t req;
	struct sku_conn *conn; /* referenced */
	unsigned nbufs;
	uv_buf_t bufs[];
};

static void process(struct sku_conn *conn);
static void flush(struct sku_conn *conn);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *ret);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void read_stop(struct sku_conn *conn)
{
	if (!conn->reading)
		return;
	(void)uv_read_stop((uv_stream_t *)&conn->pipe);
	conn->reading = false;
}

static int read_start(struct sku_conn *conn)
{
	int r;

	if (conn->reading)
		return 0;
	r = uv_read_start((uv_stream_t *)&conn->pipe, on_alloc, on_read);
	if (r == 0)
		conn->reading = true;
	return r;
}

/* ------------------------------------------------------------------ references */

void sku_conn_ref(struct sku_conn *conn)
{
	conn->refs++;
}

void sku_conn_unref(struct sku_conn *conn)
{
	if (--conn->refs > 0)
		return;
	free(conn->rbuf);
	msgpack_zone_destroy(&conn->zone);
	free(conn);
}

const struct sku_peer *sku_conn_peer(const struct sku_conn *conn)
{
	return &conn->peer;
}

struct sku_server *sku_conn_server(const struct sku_conn *conn)
{
	return conn->srv;
}

bool sku_conn_is_closing(const struct sku_conn *conn)
{
	return conn->closing;
}

struct sku_conn *sku_conn_next(struct sku_conn *conn)
{
	return conn->next;
}

void sku_conn_add_hook(struct sku_conn *conn, struct sku_conn_hook *hook)
{
	hook->next = conn->hooks.next;
	hook->prev = &conn->hooks;
	conn->hooks.next->prev = hook;
	conn->hooks.next = hook;
}

void sku_conn_remove_hook(struct sku_conn_hook *hook)
{
	if (!hook->next)
		return;
	hook->next->prev = hook->prev;
	hook->prev->next = hook->next;
	hook->next = hook->prev = NULL;
}

/* ----------------------------------------------------------------------- close */

static size_t queued(const struct sku_conn *conn)
{
	return uv_stream_get_write_queue_size((const uv_stream_t *)&conn->pipe) + conn->batch_bytes;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct sku_conn *conn = h->data;
	struct sku_server *srv = conn->srv;

	if (--conn->open_handles > 0)
		return;
	srv->nconns--;
	sku_notify_status_changed(srv);
	sku_conn_unref(conn);
	sku_server_conn_gone(srv);
}

static void drop_batch(struct sku_conn *conn)
{
	for (unsigned i = 0; i < conn->nbatch; i++)
		free(conn->batch[i].base);
	conn->nbatch = 0;
	conn->batch_bytes = 0;
}

void sku_conn_close(struct sku_conn *conn)
{
	struct sku_server *srv = conn->srv;

	if (conn->closing)
		return;
	conn->closing = true;
	drop_batch(conn);

	/* Modules drop this connection's watches and subscriptions; each unlinks its hook. */
	while (conn->hooks.next != &conn->hooks) {
		struct sku_conn_hook *hook = conn->hooks.next;

		sku_conn_remove_hook(hook);
		hook->on_close(hook, conn);
	}

	if (conn->prev)
		conn->prev->next = conn->next;
	else
		srv->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	conn->next = conn->prev = NULL;

	/* Pending writes complete with UV_ECANCELED before the close callback. */
	uv_close((uv_handle_t *)&conn->pipe, on_handle_closed);
	uv_close((uv_handle_t *)&conn->timer, on_handle_closed);
}

/* Close a draining connection once it owes the peer nothing more. */
static void drain_check(struct sku_conn *conn)
{
	if (conn->closing || !conn->draining)
		return;
	if (conn->deferred == 0 && queued(conn) == 0)
		sku_conn_close(conn);
}

static void on_drain_timeout(uv_timer_t *t)
{
	struct sku_conn *conn = t->data;

	sku_log(SKU_LOG_INFO, "client pid %ld: closing, output not drained in time",
	        (long)conn->peer.pid);
	sku_conn_close(conn);
}

void sku_conn_drain(struct sku_conn *conn)
{
	if (conn->closing || conn->draining)
		return;
	conn->draining = true;
	read_stop(conn);
	/* Buffered requests are not answered: the peer sent garbage or the daemon is stopping. */
	conn->rlen = 0;
	(void)uv_timer_start(&conn->timer, on_drain_timeout, DRAIN_TIMEOUT_MS, 0);
	conn->timer_on = true;
	if (!conn->in_read)
		drain_check(conn);
}

void sku_conn_call_deferred(struct sku_conn *conn)
{
	conn->deferred++;
}

void sku_conn_hold_input(struct sku_conn *conn)
{
	conn->held = true;
}

void sku_conn_call_done(struct sku_conn *conn)
{
	conn->deferred--;
	if (conn->held) {
		conn->held = false;
		/* Inside process() (a call its own request finished), the loop there goes on. */
		if (!conn->in_read && !conn->closing && !conn->draining && !conn->paused &&
		    !conn->srv->stopping)
			process(conn);
	}
	drain_check(conn);
}

/* ----------------------------------------------------------------------- write */

static void on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct sku_conn *conn = w->conn;
	const struct sku_config *cfg = &conn->srv->cfg;

	for (unsigned i = 0; i < w->nbufs; i++)
		free(w->bufs[i].base);
	free(w);

	if (status < 0 && status != UV_ECANCELED && !conn->closing) {
		sku_log(SKU_LOG_DEBUG, "client pid %ld: write: %s", (long)conn->peer.pid,
		        uv_strerror(status));
		sku_conn_close(conn);
	} else if (!conn->closing) {
		if (conn->paused && !conn->draining && queued(conn) <= cfg->max_output / 4) {
			sku_log(SKU_LOG_DEBUG, "client pid %ld: output drained, resuming input",
			        (long)conn->peer.pid);
			conn->paused = false;
			process(conn);
		}
		drain_check(conn);
	}
	sku_conn_unref(conn);
}

static void flush(struct sku_conn *conn)
{
	struct write_req *w;
	int r;

	if (conn->nbatch == 0 || conn->closing)
		return;
	w = malloc(sizeof(*w) + conn->nbatch * sizeof(uv_buf_t));
	if (!w) {
		sku_log(SKU_LOG_WARN, "client pid %ld: out of memory, disconnecting",
		        (long)conn->peer.pid);
		sku_conn_close(conn);
		return;
	}
	w->conn = conn;
	w->nbufs = conn->nbatch;
	memcpy(w->bufs, conn->batch, conn->nbatch * sizeof(uv_buf_t));
	conn->nbatch = 0;
	conn->batch_bytes = 0;
	sku_conn_ref(conn);
	r = uv_write(&w->req, (uv_stream_t *)&conn->pipe, w->bufs, w->nbufs, on_written);
	if (r < 0) {
		for (unsigned i = 0; i < w->nbufs; i++)
			free(w->bufs[i].base);
		free(w);
		sku_conn_unref(conn);
		sku_log(SKU_LOG_DEBUG, "client pid %ld: write: %s", (long)conn->peer.pid,
		        uv_strerror(r));
		sku_conn_close(conn);
	}
}

int sku_conn_send(struct sku_conn *conn, char *buf, size_t len)
{
	const struct sku_config *cfg = &conn->srv->cfg;

	if (conn->closing) {
		free(buf);
		return -EPIPE;
	}
	if (len > UINT32_MAX) {
		free(buf);
		return -EMSGSIZE;
	}
	/*
	 * The queue may pass the limit by one message (a large legitimate reply), but a
	 * queue already past it belongs to a client that does not read.
	 */
	if (queued(conn) > cfg->max_output) {
		free(buf);
		sku_log(SKU_LOG_WARN,
		        "client pid %ld uid %lu: more than %zu bytes of unread output, disconnecting",
		        (long)conn->peer.pid, (unsigned long)conn->peer.uid, cfg->max_output);
		sku_conn_close(conn);
		return -ENOBUFS;
	}
	if (conn->nbatch == BATCH_MAX_BUFS)
		flush(conn);
	if (conn->closing) {
		free(buf);
		return -EPIPE;
	}
	conn->batch[conn->nbatch++] = uv_buf_init(buf, (unsigned)len);
	conn->batch_bytes += len;
	if (!conn->in_read)
		flush(conn);
	return 0;
}

int sku_conn_notify(struct sku_conn *conn, const char *method,
                    void (*pack_map)(msgpack_packer *pk, void *ctx), void *ctx)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t len;
	int r;

	if (conn->closing)
		return -EPIPE;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	r = sku_pack_notify_head(&pk, method);
	if (r < 0) {
		msgpack_sbuffer_destroy(&sb);
		return r;
	}
	pack_map(&pk, ctx);
	/* sbuffer grows by realloc: a failed write leaves data NULL or short, never garbage. */
	if (!sb.data) {
		msgpack_sbuffer_destroy(&sb);
		return -ENOMEM;
	}
	len = sb.size;
	return sku_conn_send(conn, msgpack_sbuffer_release(&sb), len);
}

/* ------------------------------------------------------------------------ read */

static void on_idle_timeout(uv_timer_t *t)
{
	struct sku_conn *conn = t->data;

	sku_log(SKU_LOG_INFO, "client pid %ld: partial message for %u ms, closing",
	        (long)conn->peer.pid, conn->srv->cfg.idle_timeout_ms);
	conn->timer_on = false;
	sku_conn_close(conn);
}

/*
 * The idle clock runs while a partial message waits for the peer, and only then. Bytes alone
 * do not rewind it (a byte a second would hold a connection forever); a completed message
 * does (a busy pipelining client often ends a read mid-message).
 */
static void idle_update(struct sku_conn *conn, bool progress)
{
	bool want = conn->rlen > 0 && !conn->paused && !conn->held &&
	            conn->srv->cfg.idle_timeout_ms > 0;

	if (conn->draining || conn->closing)
		return;
	if (conn->timer_on && (!want || progress)) {
		(void)uv_timer_stop(&conn->timer);
		conn->timer_on = false;
	}
	if (want && !conn->timer_on &&
	    uv_timer_start(&conn->timer, on_idle_timeout, conn->srv->cfg.idle_timeout_ms, 0) == 0)
		conn->timer_on = true;
}

/* A protocol error: answer it and hang up once the answer is out. */
static void fail(struct sku_conn *conn, uint32_t msgid, enum sku_err code, const char *why)
{
	sku_log(SKU_LOG_INFO, "client pid %ld uid %lu: %s: %s, closing", (long)conn->peer.pid,
	        (unsigned long)conn->peer.uid, sku_err_name(code), why);
	(void)sku_send_error(conn, msgid, code, why);
	sku_conn_drain(conn);
}

/* Answer every complete message in the buffer, unless backpressure or an error stops us. */
static void process(struct sku_conn *conn)
{
	const struct sku_config *cfg = &conn->srv->cfg;
	bool was_in_read = conn->in_read;
	size_t off = 0;

	conn->in_read = true;
	while (off < conn->rlen && !conn->closing && !conn->draining && !conn->held) {
		struct sku_msg msg;
		const char *why = "malformed message";
		size_t len = 0;
		int r;

		if (queued(conn) > cfg->max_output / 2) {
			sku_log(SKU_LOG_DEBUG, "client pid %ld: %zu bytes unread, pausing input",
			        (long)conn->peer.pid, queued(conn));
			conn->paused = true;
			break;
		}
		r = sku_prescan(conn->rbuf + off, conn->rlen - off, cfg->max_message, SKU_MAX_DEPTH,
		                &len);
		if (r == 0)
			break;
		if (r == -EMSGSIZE) {
			fail(conn, 0, SKU_ERR_TOO_LARGE, "message larger than max_message");
			break;
		}
		if (r < 0) {
			fail(conn, 0, SKU_ERR_BAD_REQUEST,
			     r == -EBADMSG ? "not msgpack, or nested too deep"
			                   : "unreadable message");
			break;
		}
		r = sku_decode(conn->rbuf + off, len, &conn->zone, &msg, &why);
		off += len;
		if (r == -ENOMEM) {
			fail(conn, msg.msgid, SKU_ERR_RESOURCE_EXHAUSTED, "out of memory");
		} else if (r < 0) {
			fail(conn, msg.msgid, SKU_ERR_BAD_REQUEST, why);
		} else if (msg.type == SKU_MSG_RESPONSE) {
			fail(conn, msg.msgid, SKU_ERR_BAD_REQUEST, "the daemon takes no responses");
		} else {
			sku_dispatch(conn, &msg);
		}
		msgpack_zone_clear(&conn->zone);
	}
	conn->in_read = was_in_read;

	if (!conn->closing && !conn->draining && off > 0) {
		conn->rlen -= off;
		memmove(conn->rbuf, conn->rbuf + off, conn->rlen);
	}
	/* A burst of large messages must not pin a large buffer on an idle connection. */
	if (conn->rcap > READ_CHUNK && conn->rlen <= READ_CHUNK / 2) {
		char *nb = realloc(conn->rbuf, READ_CHUNK);

		if (nb) {
			conn->rbuf = nb;
			conn->rcap = READ_CHUNK;
		}
	}
	if (!conn->in_read)
		flush(conn);
	if (conn->closing)
		return;
	if (conn->draining) {
		drain_check(conn);
		return;
	}
	if (conn->paused || conn->held) {
		read_stop(conn);
	} else if (!conn->srv->stopping && read_start(conn) < 0) {
		sku_conn_close(conn);
		return;
	}
	idle_update(conn, off > 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *ret)
{
	struct sku_conn *conn = h->data;
	size_t limit = conn->srv->cfg.max_message;
	size_t want = conn->rlen + READ_CHUNK;

	/* The buffer never needs more than one maximal message (prescan decides at that size). */
	if (want > limit)
		want = limit;
	if (want > conn->rcap) {
		size_t cap = conn->rcap ? conn->rcap : READ_CHUNK;
		char *nb;

		while (cap < want)
			cap *= 2;
		if (cap > limit)
			cap = limit;
		nb = realloc(conn->rbuf, cap);
		if (nb) {
			conn->rbuf = nb;
			conn->rcap = cap;
		}
	}
	if (conn->rcap <= conn->rlen) {
		*ret = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
		return;
	}
	*ret = uv_buf_init(conn->rbuf + conn->rlen, (unsigned)(conn->rcap - conn->rlen));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct sku_conn *conn = s->data;

	if (conn->closing)
		return;
	if (nread == UV_EOF) {
		/* A half-closed peer may still want the answers to what it sent. */
		if (conn->rlen > 0)
			sku_log(SKU_LOG_DEBUG,
			        "client pid %ld: %zu bytes of partial message at EOF",
			        (long)conn->peer.pid, conn->rlen);
		sku_conn_drain(conn);
		return;
	}
	if (nread == UV_ENOBUFS) {
		sku_log(SKU_LOG_WARN, "client pid %ld: out of memory for input, disconnecting",
		        (long)conn->peer.pid);
		sku_conn_close(conn);
		return;
	}
	if (nread < 0) {
		sku_log(SKU_LOG_DEBUG, "client pid %ld: read: %s", (long)conn->peer.pid,
		        uv_strerror((int)nread));
		sku_conn_close(conn);
		return;
	}
	if (nread == 0)
		return; /* EAGAIN */
	conn->rlen += (size_t)nread;
	process(conn);
}

/* --------------------------------------------------------------------- accept */

/* Beyond max_connections: say why and hang up, without allocating a connection. */
static void reject(struct sku_server *srv, uv_pipe_t *pipe)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	srv->metrics.connections_rejected++;
	srv->metrics.errors[SKU_ERR_RESOURCE_EXHAUSTED]++;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (sku_pack_error(&pk, 0, SKU_ERR_RESOURCE_EXHAUSTED, "too many connections") == 0) {
		uv_buf_t b = uv_buf_init(sb.data, (unsigned)sb.size);

		/* A fresh socket's buffer takes a hundred bytes; if not, the close says enough. */
		(void)uv_try_write((uv_stream_t *)pipe, &b, 1);
	}
	msgpack_sbuffer_destroy(&sb);
}

static void on_rejected_closed(uv_handle_t *h)
{
	free(h);
}

static void accept_over_limit(struct sku_server *srv)
{
	uv_pipe_t *pipe = malloc(sizeof(*pipe));

	if (!pipe || uv_pipe_init(srv->loop, pipe, 0) < 0) {
		free(pipe);
		sku_log(SKU_LOG_WARN, "out of memory refusing a connection");
		return;
	}
	if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)pipe) == 0) {
		static uint64_t last_log_ns;

		reject(srv, pipe);
		/* At most one line a second: a flood must not become a log flood. */
		if (sku_now_ns() - last_log_ns > 1000000000ull) {
			last_log_ns = sku_now_ns();
			sku_log(SKU_LOG_WARN, "refusing connections: %u clients (max-connections)",
			        srv->nconns);
		}
	}
	uv_close((uv_handle_t *)pipe, on_rejected_closed);
}

void sku_conn_accept(struct sku_server *srv)
{
	struct sku_conn *conn;
	uv_os_fd_t fd;
	int r;

	if (srv->nconns >= srv->cfg.max_connections) {
		accept_over_limit(srv);
		return;
	}
	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		accept_over_limit(srv);
		return;
	}
	conn->srv = srv;
	conn->refs = 1;
	conn->hooks.next = conn->hooks.prev = &conn->hooks;
	if (!msgpack_zone_init(&conn->zone, MSGPACK_ZONE_CHUNK_SIZE)) {
		free(conn);
		accept_over_limit(srv);
		return;
	}
	r = uv_pipe_init(srv->loop, &conn->pipe, 0);
	if (r < 0) {
		msgpack_zone_destroy(&conn->zone);
		free(conn);
		sku_log(SKU_LOG_WARN, "accept: %s", uv_strerror(r));
		return;
	}
	/* Counted from here: on_handle_closed() uncounts. */
	srv->nconns++;
	conn->pipe.data = conn;
	conn->open_handles = 1;
	r = uv_timer_init(srv->loop, &conn->timer);
	if (r < 0) {
		sku_log(SKU_LOG_WARN, "accept: %s", uv_strerror(r));
		conn->closing = true;
		uv_close((uv_handle_t *)&conn->pipe, on_handle_closed);
		return;
	}
	conn->timer.data = conn;
	conn->open_handles = 2;
	conn->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = conn;
	srv->conns = conn;

	r = uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&conn->pipe);
	if (r == 0)
		r = uv_fileno((uv_handle_t *)&conn->pipe, &fd);
	if (r == 0)
		r = sku_peer_get(fd, &conn->peer);
	if (r == 0)
		r = read_start(conn);
	if (r < 0) {
		/* uv and errno codes are both negative errno on Unix. */
		sku_log(SKU_LOG_WARN, "accept: %s", strerror(-r));
		sku_conn_close(conn);
		return;
	}
	srv->metrics.connections_total++;
	sku_log(SKU_LOG_DEBUG, "client connected: pid %ld uid %lu (%u clients)",
	        (long)conn->peer.pid, (unsigned long)conn->peer.uid, srv->nconns);
	sku_notify_status_changed(srv);
}
