/*
 * fuzz_proto.c - the message pre-scanner, decoder and argument binding (proto/).
 *
 * Beyond "no crash": sku_prescan() must agree with msgpack-c about where a message ends, never
 * call a proper prefix of a complete message anything but incomplete, and sku_decode() of a
 * request must give back a message that re-encodes to one decoding the same way.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>

#include "fuzz.h"
#include "sku_proto.h"

#define SMALL_MAX     300 /* a second, tight size budget reaches the EMSGSIZE paths cheaply */
#define PREFIX_PROBES 16

static const struct sku_argspec specs[] = {
        {"pid", SKU_ARG_INT, false},           {"grace_s", SKU_ARG_NUMBER, false},
        {"cloud", SKU_ARG_STR, false},         {"recursive", SKU_ARG_BOOL, false},
        {"procs", SKU_ARG_ARRAY, false},       {"watch", SKU_ARG_MAP, false},
        {"signal", SKU_ARG_INT_OR_STR, false}, {"start_time", SKU_ARG_INT, false},
};
static const struct sku_argspec required[] = {
        {"pid", SKU_ARG_INT, true},
        {"signal", SKU_ARG_INT_OR_STR, true},
};

static bool type_ok(const msgpack_object *o, enum sku_arg_type t)
{
	bool is_int = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
	              o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;

	switch (t) {
	case SKU_ARG_INT:
		return is_int;
	case SKU_ARG_NUMBER:
		return is_int || o->type == MSGPACK_OBJECT_FLOAT32 ||
		       o->type == MSGPACK_OBJECT_FLOAT64;
	case SKU_ARG_STR:
		return o->type == MSGPACK_OBJECT_STR;
	case SKU_ARG_BOOL:
		return o->type == MSGPACK_OBJECT_BOOLEAN;
	case SKU_ARG_ARRAY:
		return o->type == MSGPACK_OBJECT_ARRAY;
	case SKU_ARG_MAP:
		return o->type == MSGPACK_OBJECT_MAP;
	case SKU_ARG_INT_OR_STR:
		return is_int || o->type == MSGPACK_OBJECT_STR;
	}
	return false;
}

static void check_bind(const msgpack_object *args, const struct sku_argspec *spec, size_t n)
{
	const msgpack_object *argv[SKU_MAX_ARGS];
	char err[128];
	int r = sku_args_bind(args, spec, n, argv, err, sizeof(err));

	fuzz_check(r == 0 || r == -EINVAL);
	if (r < 0) {
		fuzz_check(memchr(err, '\0', sizeof(err)) != NULL);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t v;
		double d;

		if (!argv[i]) {
			fuzz_check(!spec[i].required);
			continue;
		}
		fuzz_check(type_ok(argv[i], spec[i].type));
		if (spec[i].type == SKU_ARG_INT)
			fuzz_check(sku_obj_int64(argv[i], &v) == 0 ||
			           (argv[i]->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
			            argv[i]->via.u64 > INT64_MAX));
		if (spec[i].type == SKU_ARG_NUMBER)
			fuzz_check(sku_obj_double(argv[i], &d) == 0);
	}
}

/* A decoded request, packed again, must decode to the same request. */
static void roundtrip(const struct sku_msg *m)
{
	char method[256];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_zone zone;
	struct sku_msg again;
	const char *why = NULL;
	size_t len = 0;

	fuzz_check(m->method_len >= 1 && m->method_len <= 255);
	fuzz_check(memchr(m->method, '\0', m->method_len) == NULL);
	memcpy(method, m->method, m->method_len);
	method[m->method_len] = '\0';

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	fuzz_check(sku_pack_request_head(&pk, m->msgid, method) == 0);
	if (m->args) {
		fuzz_check(msgpack_pack_array(&pk, 1) == 0);
		fuzz_check(msgpack_pack_object(&pk, *m->args) == 0);
	} else {
		fuzz_check(msgpack_pack_array(&pk, 0) == 0);
	}
	fuzz_check(sku_prescan(sb.data, sb.size, sb.size, SKU_MAX_DEPTH, &len) == 1);
	fuzz_check(len == sb.size);
	fuzz_check(msgpack_zone_init(&zone, 4096));
	fuzz_check(sku_decode(sb.data, sb.size, &zone, &again, &why) == 0);
	fuzz_check(again.type == SKU_MSG_REQUEST && again.msgid == m->msgid);
	fuzz_check(again.method_len == m->method_len &&
	           memcmp(again.method, m->method, m->method_len) == 0);
	fuzz_check((again.args == NULL) == (m->args == NULL));
	msgpack_zone_destroy(&zone);
	msgpack_sbuffer_destroy(&sb);
}

static void decode(const char *buf, size_t len)
{
	msgpack_zone zone;
	struct sku_msg m;
	const char *why = NULL;
	int r;

	fuzz_check(msgpack_zone_init(&zone, 4096));
	memset(&m, 0, sizeof(m));
	r = sku_decode(buf, len, &zone, &m, &why);
	fuzz_check(r == 0 || r == -EBADMSG || r == -ENOMEM);
	if (r < 0) {
		fuzz_check(why != NULL);
	} else if (m.type == SKU_MSG_REQUEST || m.type == SKU_MSG_NOTIFY) {
		fuzz_check(m.args == NULL || m.args->type == MSGPACK_OBJECT_MAP);
		check_bind(m.args, specs, sizeof(specs) / sizeof(specs[0]));
		check_bind(m.args, required, sizeof(required) / sizeof(required[0]));
		(void)sku_map_get(m.args, "pid");
		if (m.type == SKU_MSG_REQUEST)
			roundtrip(&m);
	} else {
		fuzz_check(m.type == SKU_MSG_RESPONSE);
		fuzz_check(m.error && m.result);
		fuzz_check(m.error->type == MSGPACK_OBJECT_NIL ||
		           (m.error->type == MSGPACK_OBJECT_MAP &&
		            m.result->type == MSGPACK_OBJECT_NIL));
	}
	msgpack_zone_destroy(&zone);
}

/* Where msgpack-c itself says the first object ends (0 when it cannot parse one). */
static size_t msgpack_end(const char *buf, size_t len)
{
	msgpack_unpacked up;
	size_t off = 0;
	msgpack_unpack_return r;

	msgpack_unpacked_init(&up);
	r = msgpack_unpack_next(&up, buf, len, &off);
	msgpack_unpacked_destroy(&up);
	return r == MSGPACK_UNPACK_SUCCESS ? off : 0;
}

static void scan(const char *buf, size_t size, size_t max)
{
	size_t len = 0;
	int r = sku_prescan(buf, size, max, SKU_MAX_DEPTH, &len);

	if (r == 0) {
		fuzz_check(size < max);
		return;
	}
	if (r < 0) {
		fuzz_check(r == -EMSGSIZE || r == -EBADMSG);
		return;
	}
	fuzz_check(r == 1 && len >= 1 && len <= size && len <= max);
	/* Every proper prefix of a complete, acceptable message is merely incomplete. */
	for (size_t i = 0; i < PREFIX_PROBES && i < len; i++) {
		size_t cut = len - 1 - i * len / PREFIX_PROBES, l2 = 0;

		fuzz_check(sku_prescan(buf, cut, max, SKU_MAX_DEPTH, &l2) == 0);
	}
	fuzz_check(msgpack_end(buf, len) == len);
	/* sku_decode() gets exactly the message, in a buffer of exactly its size. */
	{
		char *exact = fuzz_copy((const uint8_t *)buf, len, 0);

		decode(exact, len);
		free(exact);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size, 0);

	scan(buf, size, SKU_MAX_MESSAGE_DEFAULT);
	scan(buf, size, SMALL_MAX);
	free(buf);
	return 0;
}
