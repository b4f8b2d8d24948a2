/*
 * call.c - the generic call and the core methods (hello, ping).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "skyutil/skyutil.h"

#include "sku_client.h"

static bool is_map_header(unsigned char b)
{
	return (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf;
}

int skyutil_call(skyutil_client *c, const char *method, const void *args, size_t args_len,
                 int timeout_ms, void **ret_result, size_t *ret_len, char **ret_errmsg)
{
	const msgpack_object *res;
	msgpack_sbuffer out;
	msgpack_packer pk;
	size_t len;
	int rc;

	if (!c || !method || !*method || (!args && args_len))
		return -EINVAL;
	if (args_len == 0)
		args = NULL;
	/* The bytes go on the wire verbatim: they must be exactly one well-formed map. */
	if (args &&
	    (sku_prescan(args, args_len, SKU_CLIENT_MAX_MESSAGE, SKU_MAX_DEPTH - 2, &len) != 1 ||
	     len != args_len || !is_map_header(*(const unsigned char *)args)))
		return -EINVAL;

	rc = sku_client_request(c, method, args, args_len,
	                        sku_client_deadline(timeout_ms < 0 ? c->timeout_ms : timeout_ms),
	                        &res);
	if (SKYUTIL_IS_REMOTE(rc) && ret_errmsg) {
		char *msg = strdup(c->errmsg);

		if (!msg)
			return -ENOMEM;
		*ret_errmsg = msg;
	}
	if (rc < 0)
		return rc;
	if (!ret_result)
		return 0;
	msgpack_sbuffer_init(&out);
	msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
	if (msgpack_pack_object(&pk, *res) < 0) {
		msgpack_sbuffer_destroy(&out);
		return -ENOMEM;
	}
	if (ret_len)
		*ret_len = out.size;
	*ret_result = msgpack_sbuffer_release(&out);
	return 0;
}

int skyutil_ping(skyutil_client *c, int timeout_ms)
{
	const msgpack_object *res;
	int rc;

	if (!c)
		return -EINVAL;
	rc = sku_client_request(c, "ping", NULL, 0,
	                        sku_client_deadline(timeout_ms < 0 ? c->timeout_ms : timeout_ms),
	                        &res);
	if (rc < 0)
		return rc;
	return sku_obj_str_eq(res, "pong") ? 0 : -EBADMSG;
}

int skyutil_hello(skyutil_client *c, int timeout_ms, struct skyutil_hello *ret_hello)
{
	const msgpack_object *res, *limits;
	struct skyutil_hello h = {0};
	msgpack_sbuffer args;
	msgpack_packer pk;
	int rc;

	if (!c || !ret_hello)
		return -EINVAL;
	msgpack_sbuffer_init(&args);
	msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
	if (msgpack_pack_map(&pk, 2) < 0 || sku_pack_kv_str(&pk, "client", "libskyutil") < 0 ||
	    sku_pack_kv_int(&pk, "proto", SKU_PROTO_VERSION) < 0) {
		msgpack_sbuffer_destroy(&args);
		return -ENOMEM;
	}
	rc = sku_client_request(c, "hello", args.data, args.size,
	                        sku_client_deadline(timeout_ms < 0 ? c->timeout_ms : timeout_ms),
	                        &res);
	msgpack_sbuffer_destroy(&args);
	if (rc < 0)
		return rc;
	limits = res->type == MSGPACK_OBJECT_MAP ? sku_map_get(res, "limits") : NULL;
	if (sku_get_str(res, "server", h.server, sizeof(h.server)) < 0 ||
	    sku_get_str(res, "version", h.version, sizeof(h.version)) < 0 ||
	    sku_get_int(res, "proto", 0, &h.proto) < 0 ||
	    sku_get_int(res, "pid", 0, &h.daemon_pid) < 0 || !limits ||
	    sku_get_int(limits, "max_message", 0, &h.max_message) < 0 ||
	    sku_get_int(limits, "max_connections", 0, &h.max_connections) < 0 ||
	    sku_get_int(limits, "max_batch", 0, &h.max_batch) < 0)
		return -EBADMSG;
	*ret_hello = h;
	return 0;
}
