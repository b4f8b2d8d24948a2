/*
 * dispatch.c - the life of one call: method lookup, argument binding, handler, reply.
 *
 * A call is malloc'd here, references its connection and is freed here, either at once
 * (handler returned 0 or an error) or by sku_call_finish() for deferred calls. Handlers
 * never see the socket; the reply goes through sku_conn_send().
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sku_daemon.h"

int sku_send_error(struct sku_conn *conn, uint32_t msgid, enum sku_err code, const char *message)
{
	struct sku_server *srv = sku_conn_server(conn);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t len;
	char *buf;

	if (code > 0 && code < SKU_ERR__MAX)
		srv->metrics.errors[code]++;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (sku_pack_error(&pk, msgid, code, message) < 0) {
		msgpack_sbuffer_destroy(&sb);
		return -ENOMEM;
	}
	len = sb.size;
	buf = msgpack_sbuffer_release(&sb);
	return sku_conn_send(conn, buf, len);
}

int sku_call_error(struct sku_call *call, enum sku_err code, const char *fmt, ...)
{
	va_list ap;

	call->err = code;
	va_start(ap, fmt);
	(void)vsnprintf(call->errmsg, sizeof(call->errmsg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void call_free(struct sku_call *call)
{
	msgpack_sbuffer_destroy(&call->buf);
	sku_conn_unref(call->conn);
	free(call);
}

/* Turn the call's outcome into bytes on the wire (if the connection still wants them). */
static void call_reply(struct sku_call *call, int status)
{
	struct sku_server *srv = call->srv;
	size_t len;
	char *buf;

	if (status < 0) {
		if (call->err == 0) {
			call->err = sku_err_from_errno(status);
			(void)snprintf(call->errmsg, sizeof(call->errmsg), "%s", strerror(-status));
		} else if (call->err < 0 || call->err >= SKU_ERR__MAX) {
			call->err = SKU_ERR_INTERNAL;
		}
		if (call->err == SKU_ERR_INTERNAL)
			sku_log(SKU_LOG_WARN, "%s: %s", call->method->name, call->errmsg);
		if (sku_conn_is_closing(call->conn)) {
			srv->metrics.errors[call->err]++;
			return;
		}
		(void)sku_send_error(call->conn, call->msgid, call->err, call->errmsg);
		return;
	}
	if (sku_conn_is_closing(call->conn))
		return;
	len = call->buf.size;
	buf = msgpack_sbuffer_release(&call->buf);
	(void)sku_conn_send(call->conn, buf, len);
}

static void observe(struct sku_call *call)
{
	sku_metrics_observe(&call->srv->metrics, sku_now_ns() - call->started_ns);
}

void sku_call_finish(struct sku_call *call, int status)
{
	struct sku_server *srv = call->srv;

	if (call->prev)
		call->prev->next = call->next;
	else if (srv->deferred == call)
		srv->deferred = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->next = call->prev = NULL;
	srv->ndeferred--;

	observe(call);
	call_reply(call, status);
	sku_conn_call_done(call->conn);
	call_free(call);
}

void sku_dispatch_cancel_deferred(struct sku_server *srv)
{
	struct sku_call *call = srv->deferred, *next;

	/* cancel() finishes (and frees) the call, so the successor is read first. */
	for (; call; call = next) {
		next = call->next;
		if (call->cancel)
			call->cancel(call);
	}
}

void sku_dispatch(struct sku_conn *conn, const struct sku_msg *msg)
{
	struct sku_server *srv = sku_conn_server(conn);
	const msgpack_object *argv[SKU_MAX_ARGS];
	const struct sku_method *m;
	char err[256];
	struct sku_call *call;
	unsigned index;
	int r;

	if (msg->type == SKU_MSG_NOTIFY) {
		/* msgpack-rpc notifications expect no answer, and no method takes one. */
		sku_log(SKU_LOG_DEBUG, "ignoring a client notification");
		return;
	}

	m = sku_method_find(msg->method, msg->method_len, &index);
	if (!m) {
		char name[SKU_NAME_SHOWN_MAX + 4];

		sku_shown_name(msg->method, msg->method_len, name, sizeof(name));
		(void)snprintf(err, sizeof(err), "unknown method '%s'", name);
		(void)sku_send_error(conn, msg->msgid, SKU_ERR_UNKNOWN_METHOD, err);
		return;
	}
	srv->metrics.requests[index]++;

	err[0] = '\0';
	if (m->nargs > SKU_MAX_ARGS) {
		/* A table bug, not the peer's fault. */
		(void)sku_send_error(conn, msg->msgid, SKU_ERR_INTERNAL, "method misdeclared");
		return;
	}
	if (sku_args_bind(msg->args, m->args, m->nargs, argv, err, sizeof(err)) < 0) {
		(void)sku_send_error(conn, msg->msgid, SKU_ERR_INVALID_ARGUMENT, err);
		return;
	}

	call = calloc(1, sizeof(*call));
	if (!call) {
		(void)sku_send_error(conn, msg->msgid, SKU_ERR_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	call->srv = srv;
	call->conn = conn;
	sku_conn_ref(conn);
	call->method = m;
	call->msgid = msg->msgid;
	call->peer = *sku_conn_peer(conn);
	call->started_ns = sku_now_ns();
	msgpack_sbuffer_init(&call->buf);
	msgpack_packer_init(&call->pk, &call->buf, msgpack_sbuffer_write);

	r = sku_pack_response_head(&call->pk, call->msgid);
	if (r == 0)
		r = m->handler(call, argv);
	if (r == SKU_CALL_DEFERRED) {
		call->next = srv->deferred;
		if (srv->deferred)
			srv->deferred->prev = call;
		srv->deferred = call;
		srv->ndeferred++;
		sku_conn_call_deferred(conn);
		return;
	}
	if (r > 0) {
		sku_log(SKU_LOG_ERROR, "%s: handler returned %d", m->name, r);
		r = sku_call_error(call, SKU_ERR_INTERNAL, "handler misbehaved");
	}
	observe(call);
	call_reply(call, r);
	call_free(call);
}
