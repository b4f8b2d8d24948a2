/*
 * decode.c - one pre-scanned message → msgpack_object tree → checked msgpack-rpc view.
 *
 * Only bytes that passed sku_prescan() may come here: msgpack-c trusts declared counts.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "sku_proto.h"

#define METHOD_MAX 255

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF) without NUL. */
static bool method_chars_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t extra;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			extra = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			extra = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			extra = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		if (extra > n - i - 1)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= extra; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += extra + 1;
	}
	return true;
}

static int read_msgid(const msgpack_object *o, uint32_t *ret, const char **ret_why)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*ret_why = "msgid out of range";
		return -EBADMSG;
	}
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		*ret_why = "msgid must be an integer";
		return -EBADMSG;
	}
	if (o->via.u64 > UINT32_MAX) {
		*ret_why = "msgid out of range";
		return -EBADMSG;
	}
	*ret = (uint32_t)o->via.u64;
	return 0;
}

static int read_method(const msgpack_object *o, struct sku_msg *ret, const char **ret_why)
{
	if (o->type != MSGPACK_OBJECT_STR) {
		*ret_why = "method must be a string";
		return -EBADMSG;
	}
	if (o->via.str.size == 0 || o->via.str.size > METHOD_MAX) {
		*ret_why = "method must be 1 to 255 bytes";
		return -EBADMSG;
	}
	if (!method_chars_ok((const unsigned char *)o->via.str.ptr, o->via.str.size)) {
		*ret_why = "method must be valid UTF-8 without NUL";
		return -EBADMSG;
	}
	ret->method = o->via.str.ptr;
	ret->method_len = o->via.str.size;
	return 0;
}

static int read_params(const msgpack_object *o, struct sku_msg *ret, const char **ret_why)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > 1 ||
	    (o->via.array.size == 1 && o->via.array.ptr[0].type != MSGPACK_OBJECT_MAP)) {
		*ret_why = "params must be [] or [map]";
		return -EBADMSG;
	}
	ret->args = o->via.array.size == 1 ? &o->via.array.ptr[0] : NULL;
	return 0;
}

static int check_shape(const msgpack_object *root, struct sku_msg *ret, const char **ret_why)
{
	const msgpack_object *e;
	uint32_t n;
	int r;

	if (root->type != MSGPACK_OBJECT_ARRAY) {
		*ret_why = "message is not an array";
		return -EBADMSG;
	}
	n = root->via.array.size;
	e = root->via.array.ptr;
	if (n == 0) {
		*ret_why = "message is an empty array";
		return -EBADMSG;
	}
	if (e[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || e[0].via.u64 > SKU_MSG_NOTIFY) {
		*ret_why = "message type must be 0, 1 or 2";
		return -EBADMSG;
	}
	ret->type = (enum sku_msg_type)e[0].via.u64;

	switch (ret->type) {
	case SKU_MSG_REQUEST:
		/* The msgid first, so a reply can name the request even when the rest is bad. */
		if (n >= 2 && read_msgid(&e[1], &ret->msgid, ret_why) < 0)
			return -EBADMSG;
		if (n != 4) {
			*ret_why = "request must have 4 elements";
			return -EBADMSG;
		}
		r = read_method(&e[2], ret, ret_why);
		if (r < 0)
			return r;
		return read_params(&e[3], ret, ret_why);
	case SKU_MSG_RESPONSE:
		if (n >= 2 && read_msgid(&e[1], &ret->msgid, ret_why) < 0)
			return -EBADMSG;
		if (n != 4) {
			*ret_why = "response must have 4 elements";
			return -EBADMSG;
		}
		if (e[2].type != MSGPACK_OBJECT_NIL && e[2].type != MSGPACK_OBJECT_MAP) {
			*ret_why = "error must be nil or a map";
			return -EBADMSG;
		}
		if (e[2].type == MSGPACK_OBJECT_MAP && e[3].type != MSGPACK_OBJECT_NIL) {
			*ret_why = "response has both error and result";
			return -EBADMSG;
		}
		ret->error = &e[2];
		ret->result = &e[3];
		return 0;
	case SKU_MSG_NOTIFY:
		if (n != 3) {
			*ret_why = "notification must have 3 elements";
			return -EBADMSG;
		}
		r = read_method(&e[1], ret, ret_why);
		if (r < 0)
			return r;
		return read_params(&e[2], ret, ret_why);
	}
	*ret_why = "message type must be 0, 1 or 2";
	return -EBADMSG;
}

int sku_decode(const char *buf, size_t len, msgpack_zone *zone, struct sku_msg *ret,
               const char **ret_why)
{
	msgpack_object root;
	size_t off = 0;
	const char *why = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!buf || len == 0 || !zone) {
		*ret_why = "empty message";
		return -EBADMSG;
	}

	switch (msgpack_unpack(buf, len, &off, zone, &root)) {
	case MSGPACK_UNPACK_SUCCESS:
		break;
	case MSGPACK_UNPACK_EXTRA_BYTES:
		*ret_why = "trailing bytes after message";
		return -EBADMSG;
	case MSGPACK_UNPACK_CONTINUE:
		*ret_why = "truncated message";
		return -EBADMSG;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		*ret_why = "out of memory";
		return -ENOMEM;
	default:
		*ret_why = "malformed msgpack";
		return -EBADMSG;
	}

	r = check_shape(&root, ret, &why);
	if (r < 0) {
		uint32_t msgid = ret->msgid;

		memset(ret, 0, sizeof(*ret));
		ret->msgid = msgid;
		*ret_why = why;
		return r;
	}
	return 0;
}
