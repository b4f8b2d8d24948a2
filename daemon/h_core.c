/*
 * h_core.c - the daemon's own methods: hello, ping, daemon.metrics.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "sku_daemon.h"

static const struct sku_argspec hello_args[] = {
        {"client", SKU_ARG_STR, false},
        {"proto", SKU_ARG_INT, false},
};

static int pack_limits(struct sku_call *call)
{
	const struct sku_config *cfg = &call->srv->cfg;
	msgpack_packer *pk = &call->pk;
	int r;

	if (sku_pack_str(pk, "limits") < 0 || msgpack_pack_map(pk, 5) < 0)
		return -ENOMEM;
	r = sku_pack_kv_uint(pk, "max_message", cfg->max_message);
	if (r == 0)
		r = sku_pack_kv_uint(pk, "max_depth", SKU_MAX_DEPTH);
	if (r == 0)
		r = sku_pack_kv_uint(pk, "max_connections", cfg->max_connections);
	if (r == 0)
		r = sku_pack_kv_uint(pk, "max_output", cfg->max_output);
	if (r == 0)
		r = sku_pack_kv_uint(pk, "max_batch", cfg->max_batch);
	return r;
}

static int h_hello(struct sku_call *call, const msgpack_object *const *argv)
{
	msgpack_packer *pk = &call->pk;
	unsigned n = sku_method_count();
	int64_t proto = SKU_PROTO_VERSION;
	int r;

	if (argv[1] && (sku_obj_int64(argv[1], &proto) < 0 || proto < 1))
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT, "proto must be at least 1");
	if (proto > SKU_PROTO_VERSION)
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT,
		                      "protocol %lld is not supported (this daemon speaks %d)",
		                      (long long)proto, SKU_PROTO_VERSION);
	if (argv[0])
		sku_log(SKU_LOG_DEBUG, "hello from pid %ld uid %lu: client '%.*s'",
		        (long)call->peer.pid, (unsigned long)call->peer.uid,
		        argv[0]->via.str.size > 64 ? 64 : (int)argv[0]->via.str.size,
		        argv[0]->via.str.ptr);

	if (msgpack_pack_map(pk, 6) < 0)
		return -ENOMEM;
	r = sku_pack_kv_str(pk, "server", "skyutild");
	if (r == 0)
		r = sku_pack_kv_str(pk, "version", SKYUTIL_VERSION);
	if (r == 0)
		r = sku_pack_kv_int(pk, "proto", SKU_PROTO_VERSION);
	if (r == 0)
		r = sku_pack_str(pk, "methods");
	if (r < 0 || msgpack_pack_array(pk, n) < 0)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		if (sku_pack_str(pk, sku_method_at(i)->name) < 0)
			return -ENOMEM;
	r = sku_pack_kv_int(pk, "pid", getpid());
	if (r == 0)
		r = pack_limits(call);
	return r;
}

static int h_ping(struct sku_call *call, const msgpack_object *const *argv)
{
	return sku_pack_str(&call->pk, "pong");
}

static int h_metrics(struct sku_call *call, const msgpack_object *const *argv)
{
	char *text;
	size_t len;
	int r;

	r = sku_metrics_render(call->srv, &text, &len);
	if (r < 0)
		return r;
	if (len > UINT32_MAX || msgpack_pack_str(&call->pk, len) < 0 ||
	    msgpack_pack_str_body(&call->pk, text, len) < 0)
		r = -ENOMEM;
	free(text);
	return r;
}

static const struct sku_method core_methods[] = {
        {"hello", h_hello, hello_args, 2},
        {"ping", h_ping, NULL, 0},
        {"daemon.metrics", h_metrics, NULL, 0},
};

const struct sku_method_table sku_core_methods = {core_methods,
                                                  sizeof(core_methods) / sizeof(core_methods[0])};
