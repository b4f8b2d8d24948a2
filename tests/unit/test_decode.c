/*
 * test_decode.c - sku_decode(): round trips of every message kind, and every malformed shape.
 */
#include "unit.h"

static void test_request_without_args(void **state)
{
	struct unit_buf b;
	struct unit_decoded d;

	unit_buf_init(&b);
	assert_int_equal(sku_pack_request_head(&b.pk, 4000000000u, "ping"), 0);
	msgpack_pack_array(&b.pk, 0);
	assert_int_equal(unit_decode(b.sb.data, b.sb.size, &d), 0);
	assert_int_equal(d.msg.type, SKU_MSG_REQUEST);
	assert_int_equal(d.msg.msgid, 4000000000u);
	assert_int_equal(d.msg.method_len, 4);
	assert_memory_equal(d.msg.method, "ping", 4);
	assert_null(d.msg.args);
	assert_null(d.msg.error);
	assert_null(d.msg.result);
	unit_decoded_done(&d);
	unit_buf_done(&b);
}

static void test_request_with_args(void **state)
{
	struct unit_buf b;
	struct unit_decoded d;
	int64_t pid = 0;

	unit_buf_init(&b);
	assert_int_equal(sku_pack_request_head(&b.pk, 0, "facts.get"), 0);
	msgpack_pack_array(&b.pk, 1);
	msgpack_pack_map(&b.pk, 2);
	sku_pack_kv_int(&b.pk, "pid", 77);
	sku_pack_kv_str(&b.pk, "cloud", "kubernetes");
	assert_int_equal(unit_decode(b.sb.data, b.sb.size, &d), 0);
	assert_int_equal(d.msg.msgid, 0);
	assert_int_equal(d.msg.method_len, 9);
	assert_memory_equal(d.msg.method, "facts.get", 9);
	assert_non_null(d.msg.args);
	assert_int_equal(d.msg.args->type, MSGPACK_OBJECT_MAP);
	assert_int_equal(sku_obj_int64(sku_map_get(d.msg.args, "pid"), &pid), 0);
	assert_int_equal(pid, 77);
	assert_true(sku_obj_str_eq(sku_map_get(d.msg.args, "cloud"), "kubernetes"));
	unit_decoded_done(&d);
	unit_buf_done(&b);
}

/* [{}] means no arguments too, but is passed on as an empty map. */
static void test_request_with_empty_map(void **state)
{
	struct unit_decoded d;

	assert_int_equal(unit_decode("\x94\x00\x05\xa4ping\x91\x80", 10, &d), 0);
	assert_int_equal(d.msg.msgid, 5);
	assert_non_null(d.msg.args);
	assert_int_equal(d.msg.args->via.map.size, 0);
	unit_decoded_done(&d);
}

static void test_response(void **state)
{
	struct unit_buf b;
	struct unit_decoded d;

	unit_buf_init(&b);
	assert_int_equal(sku_pack_response_head(&b.pk, 9), 0);
	sku_pack_str(&b.pk, "pong");
	assert_int_equal(unit_decode(b.sb.data, b.sb.size, &d), 0);
	assert_int_equal(d.msg.type, SKU_MSG_RESPONSE);
	assert_int_equal(d.msg.msgid, 9);
	assert_int_equal(d.msg.error->type, MSGPACK_OBJECT_NIL);
	assert_true(sku_obj_str_eq(d.msg.result, "pong"));
	assert_null(d.msg.method);
	unit_decoded_done(&d);
	unit_buf_done(&b);
}

static void test_error_response(void **state)
{
	struct unit_buf b;
	struct unit_decoded d;
	int64_t code = 0;
	const msgpack_object *name;

	unit_buf_init(&b);
	assert_int_equal(sku_pack_error(&b.pk, 12, SKU_ERR_PID_REUSED, "pid 5 was reused"), 0);
	assert_int_equal(unit_decode(b.sb.data, b.sb.size, &d), 0);
	assert_int_equal(d.msg.type, SKU_MSG_RESPONSE);
	assert_int_equal(d.msg.msgid, 12);
	assert_int_equal(d.msg.error->type, MSGPACK_OBJECT_MAP);
	assert_int_equal(d.msg.error->via.map.size, 3);
	assert_int_equal(sku_obj_int64(sku_map_get(d.msg.error, "code"), &code), 0);
	assert_int_equal(code, SKU_ERR_PID_REUSED);
	name = sku_map_get(d.msg.error, "name");
	assert_true(sku_obj_str_eq(name, "PID_REUSED"));
	assert_int_equal(sku_err_from_name(name->via.str.ptr, name->via.str.size),
	                 SKU_ERR_PID_REUSED);
	assert_true(sku_obj_str_eq(sku_map_get(d.msg.error, "message"), "pid 5 was reused"));
	assert_int_equal(d.msg.result->type, MSGPACK_OBJECT_NIL);
	unit_decoded_done(&d);
	unit_buf_done(&b);
}

static void test_notify(void **state)
{
	struct unit_buf b;
	struct unit_decoded d;
	double at = 0;

	unit_buf_init(&b);
	assert_int_equal(sku_pack_notify_head(&b.pk, "proc.exited"), 0);
	msgpack_pack_map(&b.pk, 2);
	sku_pack_kv_uint(&b.pk, "watch_id", 3);
	sku_pack_kv_double(&b.pk, "exited_at", 1700000000.25);
	assert_int_equal(unit_decode(b.sb.data, b.sb.size, &d), 0);
	assert_int_equal(d.msg.type, SKU_MSG_NOTIFY);
	assert_int_equal(d.msg.msgid, 0);
	assert_int_equal(d.msg.method_len, 11);
	assert_memory_equal(d.msg.method, "proc.exited", 11);
	assert_int_equal(sku_obj_double(sku_map_get(d.msg.args, "exited_at"), &at), 0);
	assert_true(at == 1700000000.25);
	unit_decoded_done(&d);
	unit_buf_done(&b);
}

/* Method names: 255 bytes and multi-byte UTF-8 are fine. */
static void test_method_limits_ok(void **state)
{
	char buf[300];
	struct unit_decoded d;

	memcpy(buf, "\x94\x00\x01\xd9\xff", 5);
	memset(buf + 5, 'm', 255);
	buf[260] = (char)0x90;
	assert_int_equal(unit_decode(buf, 261, &d), 0);
	assert_int_equal(d.msg.method_len, 255);
	unit_decoded_done(&d);

	/* "é€😀" */
	assert_int_equal(
	        unit_decode("\x94\x00\x01\xa9\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x90", 14, &d), 0);
	assert_int_equal(d.msg.method_len, 9);
	unit_decoded_done(&d);
}

struct bad {
	const char *name;
	const char *bytes;
	size_t len;
	const char *why;
	uint32_t msgid; /* what ret->msgid must be after the failure */
};

#define B(name, lit, why, id)                       \
	{                                           \
		name, lit, sizeof(lit) - 1, why, id \
	}

static const struct bad bad[] = {
        B("map", "\x80", "message is not an array", 0),
        B("int", "\x07", "message is not an array", 0),
        B("str", "\xa1x", "message is not an array", 0),
        B("empty array", "\x90", "message is an empty array", 0),
        B("type str", "\x94\xa1\x30\x01\xa1x\x90", "message type must be 0, 1 or 2", 0),
        B("type 3", "\x94\x03\x01\xa1x\x90", "message type must be 0, 1 or 2", 0),
        B("type -1", "\x94\xff\x01\xa1x\x90", "message type must be 0, 1 or 2", 0),
        B("type float", "\x94\xca\x00\x00\x00\x00\x01\xa1x\x90", "message type must be 0, 1 or 2",
          0),
        B("type nil", "\x94\xc0\x01\xa1x\x90", "message type must be 0, 1 or 2", 0),
        /* msgid */
        B("msgid negative", "\x94\x00\xff\xa1x\x90", "msgid out of range", 0),
        B("msgid 2^32", "\x94\x00\xcf\x00\x00\x00\x01\x00\x00\x00\x00\xa1x\x90",
          "msgid out of range", 0),
        B("msgid float", "\x94\x00\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00\xa1x\x90",
          "msgid must be an integer", 0),
        B("msgid str", "\x94\x00\xa1\x31\xa1x\x90", "msgid must be an integer", 0),
        B("msgid nil", "\x94\x00\xc0\xa1x\x90", "msgid must be an integer", 0),
        /* element counts; the msgid is reported when readable */
        B("request of 3", "\x93\x00\x07\xa1x", "request must have 4 elements", 7),
        B("request of 5", "\x95\x00\x07\xa1x\x90\xc0", "request must have 4 elements", 7),
        B("request of 1", "\x91\x00", "request must have 4 elements", 0),
        B("response of 3", "\x93\x01\x07\xc0", "response must have 4 elements", 7),
        B("notify of 4", "\x94\x02\xa1x\x91\x80\xc0", "notification must have 3 elements", 0),
        B("notify of 2", "\x92\x02\xa1x", "notification must have 3 elements", 0),
        /* method */
        B("method int", "\x94\x00\x07\x05\x90", "method must be a string", 7),
        B("method bin", "\x94\x00\x07\xc4\x01x\x90", "method must be a string", 7),
        B("method nil", "\x94\x00\x07\xc0\x90", "method must be a string", 7),
        B("method empty", "\x94\x00\x07\xa0\x90", "method must be 1 to 255 bytes", 7),
        B("method bad utf-8", "\x94\x00\x07\xa2\xc3\x28\x90",
          "method must be valid UTF-8 without NUL", 7),
        B("method overlong", "\x94\x00\x07\xa2\xc0\xaf\x90",
          "method must be valid UTF-8 without NUL", 7),
        B("method surrogate", "\x94\x00\x07\xa3\xed\xa0\x80\x90",
          "method must be valid UTF-8 without NUL", 7),
        B("method truncated utf-8", "\x94\x00\x07\xa2x\xe2\x90",
          "method must be valid UTF-8 without NUL", 7),
        B("method NUL", "\x94\x00\x07\xa3\x61\x00\x62\x90",
          "method must be valid UTF-8 without NUL", 7),
        B("notify method int", "\x93\x02\x01\x91\x80", "method must be a string", 0),
        /* params */
        B("params map", "\x94\x00\x07\xa1x\x80", "params must be [] or [map]", 7),
        B("params nil", "\x94\x00\x07\xa1x\xc0", "params must be [] or [map]", 7),
        B("params [1]", "\x94\x00\x07\xa1x\x91\x01", "params must be [] or [map]", 7),
        B("params [[]]", "\x94\x00\x07\xa1x\x91\x90", "params must be [] or [map]", 7),
        B("params [{}, {}]", "\x94\x00\x07\xa1x\x92\x80\x80", "params must be [] or [map]", 7),
        B("params [nil]", "\x94\x00\x07\xa1x\x91\xc0", "params must be [] or [map]", 7),
        B("notify params map", "\x93\x02\xa1x\x80", "params must be [] or [map]", 0),
        B("notify params [1]", "\x93\x02\xa1x\x91\x01", "params must be [] or [map]", 0),
        /* response */
        B("error str", "\x94\x01\x07\xa1x\xc0", "error must be nil or a map", 7),
        B("error int", "\x94\x01\x07\x01\xc0", "error must be nil or a map", 7),
        B("error and result", "\x94\x01\x07\x80\x01", "response has both error and result", 7),
        B("response msgid negative", "\x94\x01\xd0\x80\xc0\x01", "msgid out of range", 0),
};

static void test_bad_shapes(void **state)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct unit_decoded d;

		print_message("# %s\n", bad[i].name);
		assert_int_equal(unit_decode(bad[i].bytes, bad[i].len, &d), -EBADMSG);
		assert_non_null(d.why);
		assert_string_equal(d.why, bad[i].why);
		assert_int_equal(d.msg.msgid, bad[i].msgid);
		assert_null(d.msg.method);
		assert_null(d.msg.args);
		unit_decoded_done(&d);
	}
}

/* Bytes that did not come out of the prescan as one message. */
static void test_not_one_message(void **state)
{
	msgpack_zone zone;
	struct sku_msg msg;
	const char *why = NULL;

	assert_true(msgpack_zone_init(&zone, 256));
	assert_int_equal(sku_decode("\x94\x00\x01\xa1x\x90\x00", 7, &zone, &msg, &why), -EBADMSG);
	assert_string_equal(why, "trailing bytes after message");
	assert_int_equal(sku_decode("\x94\x00\x01\xa1x", 5, &zone, &msg, &why), -EBADMSG);
	assert_string_equal(why, "truncated message");
	assert_int_equal(sku_decode("\x94\x00\x01\xc1\x90", 5, &zone, &msg, &why), -EBADMSG);
	assert_string_equal(why, "malformed msgpack");
	assert_int_equal(sku_decode("", 0, &zone, &msg, &why), -EBADMSG);
	assert_string_equal(why, "empty message");
	msgpack_zone_destroy(&zone);
}

/* Views must stay valid as long as the zone and the input bytes do. */
static void test_views_survive_more_decodes(void **state)
{
	msgpack_zone zone;
	struct sku_msg a, b;
	const char *why = NULL;
	static const char m1[] = "\x94\x00\x01\xa3one\x91\x81\xa1k\xa1v";
	static const char m2[] = "\x94\x00\x02\xa3two\x90";

	assert_true(msgpack_zone_init(&zone, 64));
	assert_int_equal(sku_decode(m1, sizeof(m1) - 1, &zone, &a, &why), 0);
	assert_int_equal(sku_decode(m2, sizeof(m2) - 1, &zone, &b, &why), 0);
	assert_memory_equal(a.method, "one", 3);
	assert_true(sku_obj_str_eq(sku_map_get(a.args, "k"), "v"));
	assert_memory_equal(b.method, "two", 3);
	msgpack_zone_destroy(&zone);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_request_without_args),
	        cmocka_unit_test(test_request_with_args),
	        cmocka_unit_test(test_request_with_empty_map),
	        cmocka_unit_test(test_response),
	        cmocka_unit_test(test_error_response),
	        cmocka_unit_test(test_notify),
	        cmocka_unit_test(test_method_limits_ok),
	        cmocka_unit_test(test_bad_shapes),
	        cmocka_unit_test(test_not_one_message),
	        cmocka_unit_test(test_views_survive_more_decodes),
	};

	return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
