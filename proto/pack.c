/*
 * pack.c - msgpack-rpc message heads and map helpers.
 *
 * msgpack_pack_* return -1 only when the packer's write callback fails, which for the
 * sbuffer/vrefbuffer the daemon and client use means an allocation failed: -ENOMEM.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "sku_proto.h"

#define METHOD_MAX 255

static int pack_strn(msgpack_packer *pk, const char *s, size_t n)
{
	if (n > UINT32_MAX)
		return -EMSGSIZE;
	if (msgpack_pack_str(pk, n) < 0 || msgpack_pack_str_body(pk, s, n) < 0)
		return -ENOMEM;
	return 0;
}

int sku_pack_str(msgpack_packer *pk, const char *s)
{
	if (!s)
		return -EINVAL;
	return pack_strn(pk, s, strlen(s));
}

static int pack_method(msgpack_packer *pk, const char *method)
{
	size_t n;

	if (!method)
		return -EINVAL;
	n = strlen(method);
	if (n == 0 || n > METHOD_MAX)
		return -EINVAL;
	return pack_strn(pk, method, n);
}

int sku_pack_request_head(msgpack_packer *pk, uint32_t msgid, const char *method)
{
	if (!method || method[0] == '\0' || strlen(method) > METHOD_MAX)
		return -EINVAL;
	if (msgpack_pack_array(pk, 4) < 0 || msgpack_pack_uint8(pk, SKU_MSG_REQUEST) < 0 ||
	    msgpack_pack_uint32(pk, msgid) < 0)
		return -ENOMEM;
	return pack_method(pk, method);
}

int sku_pack_response_head(msgpack_packer *pk, uint32_t msgid)
{
	if (msgpack_pack_array(pk, 4) < 0 || msgpack_pack_uint8(pk, SKU_MSG_RESPONSE) < 0 ||
	    msgpack_pack_uint32(pk, msgid) < 0 || msgpack_pack_nil(pk) < 0)
		return -ENOMEM;
	return 0;
}

int sku_pack_error(msgpack_packer *pk, uint32_t msgid, int code, const char *message)
{
	int r;

	if (msgpack_pack_array(pk, 4) < 0 || msgpack_pack_uint8(pk, SKU_MSG_RESPONSE) < 0 ||
	    msgpack_pack_uint32(pk, msgid) < 0 || msgpack_pack_map(pk, 3) < 0)
		return -ENOMEM;
	r = sku_pack_kv_int(pk, "code", code);
	if (r < 0)
		return r;
	r = sku_pack_kv_str(pk, "name", sku_err_name(code));
	if (r < 0)
		return r;
	r = sku_pack_kv_str(pk, "message", message ? message : "");
	if (r < 0)
		return r;
	if (msgpack_pack_nil(pk) < 0)
		return -ENOMEM;
	return 0;
}

int sku_pack_notify_head(msgpack_packer *pk, const char *method)
{
	int r;

	if (!method || method[0] == '\0' || strlen(method) > METHOD_MAX)
		return -EINVAL;
	if (msgpack_pack_array(pk, 3) < 0 || msgpack_pack_uint8(pk, SKU_MSG_NOTIFY) < 0)
		return -ENOMEM;
	r = pack_method(pk, method);
	if (r < 0)
		return r;
	if (msgpack_pack_array(pk, 1) < 0)
		return -ENOMEM;
	return 0;
}

int sku_pack_kv_int(msgpack_packer *pk, const char *key, int64_t v)
{
	int r = sku_pack_str(pk, key);

	if (r < 0)
		return r;
	return msgpack_pack_int64(pk, v) < 0 ? -ENOMEM : 0;
}

int sku_pack_kv_uint(msgpack_packer *pk, const char *key, uint64_t v)
{
	int r = sku_pack_str(pk, key);

	if (r < 0)
		return r;
	return msgpack_pack_uint64(pk, v) < 0 ? -ENOMEM : 0;
}

int sku_pack_kv_double(msgpack_packer *pk, const char *key, double v)
{
	int r = sku_pack_str(pk, key);

	if (r < 0)
		return r;
	return msgpack_pack_double(pk, v) < 0 ? -ENOMEM : 0;
}

int sku_pack_kv_bool(msgpack_packer *pk, const char *key, bool v)
{
	int r = sku_pack_str(pk, key);

	if (r < 0)
		return r;
	return (v ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) < 0 ? -ENOMEM : 0;
}

int sku_pack_kv_str(msgpack_packer *pk, const char *key, const char *v)
{
	int r = sku_pack_str(pk, key);

	if (r < 0)
		return r;
	if (!v)
		return msgpack_pack_nil(pk) < 0 ? -ENOMEM : 0;
	return sku_pack_str(pk, v);
}

int sku_pack_kv_nil(msgpack_packer *pk, const char *key)
{
	int r = sku_pack_str(pk, key);

	if (r < 0)
		return r;
	return msgpack_pack_nil(pk) < 0 ? -ENOMEM : 0;
}
