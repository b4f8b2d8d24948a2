/*
 * test_pack.c - the encoders produce exactly the documented bytes, and fail cleanly.
 */
#include "unit.h"

static void assert_bytes(const struct unit_buf *b, const char *want, size_t len)
{
	assert_int_equal(b->sb.size, len);
	assert_memory_equal(b->sb.data, want, len);
}

static void test_request_head_bytes(void **state)
{
	struct unit_buf b;

	unit_buf_init(&b);
	assert_int_equal(sku_pack_request_head(&b.pk, 7, "ping"), 0);
	assert_int_equal(msgpack_pack_array(&b.pk, 0), 0);
	assert_bytes(&b, "\x94\x00\x07\xa4ping\x90", 9);

	msgpack_sbuffer_clear(&b.sb);
	assert_int_equal(sku_pack_request_head(&b.pk, UINT32_MAX, "x"), 0);
	assert_bytes(&b, "\x94\x00\xce\xff\xff\xff\xff\xa1x", 9);
	unit_buf_done(&b);
}

static void test_response_head_bytes(void **state)
{
	struct unit_buf b;

	unit_buf_init(&b);
	assert_int_equal(sku_pack_response_head(&b.pk, 300), 0);
	assert_int_equal(msgpack_pack_true(&b.pk), 0);
	assert_bytes(&b, "\x94\x01\xcd\x01\x2c\xc0\xc3", 7);
	unit_buf_done(&b);
}

static void test_error_bytes(void **state)
{
	struct unit_buf b;
	static const char want[] = "\x94\x01\x05"
	                           "\x83"
	                           "\xa4"
	                           "code\x02"
	                           "\xa4"
	                           "name\xae"
	                           "UNKNOWN_METHOD"
	                           "\xa7"
	                           "message\xa3"
	                           "foo"
	                           "\xc0";

	unit_buf_init(&b);
	assert_int_equal(sku_pack_error(&b.pk, 5, SKU_ERR_UNKNOWN_METHOD, "foo"), 0);
	assert_bytes(&b, want, sizeof(want) - 1);

	/* a NULL message is an empty string: the map always has its three keys */
	msgpack_sbuffer_clear(&b.sb);
	assert_int_equal(sku_pack_error(&b.pk, 0, SKU_ERR_INTERNAL, NULL), 0);
	{
		struct unit_decoded d;

		assert_int_equal(unit_decode(b.sb.data, b.sb.size, &d), 0);
		assert_int_equal(d.msg.error->via.map.size, 3);
		assert_true(sku_obj_str_eq(sku_map_get(d.msg.error, "message"), ""));
		assert_true(sku_obj_str_eq(sku_map_get(d.msg.error, "name"), "INTERNAL"));
		unit_decoded_done(&d);
	}
	unit_buf_done(&b);
}

static void test_notify_head_bytes(void **state)
{
	struct unit_buf b;

	unit_buf_init(&b);
	assert_int_equal(sku_pack_notify_head(&b.pk, "ev"), 0);
	assert_int_equal(msgpack_pack_map(&b.pk, 0), 0);
	assert_bytes(&b,
	             "\x93\x02\xa2"
	             "ev\x91\x80",
	             7);
	unit_buf_done(&b);
}

static void test_kv_helpers(void **state)
{
	struct unit_buf b;
	struct unit_decoded d;
	int64_t i = 0;
	double f = 0;
	const msgpack_object *o;

	unit_buf_init(&b);
	sku_pack_response_head(&b.pk, 1);
	msgpack_pack_map(&b.pk, 8);
	assert_int_equal(sku_pack_kv_int(&b.pk, "neg", INT64_MIN), 0);
	assert_int_equal(sku_pack_kv_int(&b.pk, "pos", 5), 0);
	assert_int_equal(sku_pack_kv_uint(&b.pk, "big", UINT64_MAX), 0);
	assert_int_equal(sku_pack_kv_double(&b.pk, "f", -0.5), 0);
	assert_int_equal(sku_pack_kv_bool(&b.pk, "t", true), 0);
	assert_int_equal(sku_pack_kv_str(&b.pk, "s", "é"), 0);
	assert_int_equal(sku_pack_kv_str(&b.pk, "none", NULL), 0);
	assert_int_equal(sku_pack_kv_nil(&b.pk, "nil"), 0);
	assert_int_equal(unit_decode(b.sb.data, b.sb.size, &d), 0);

	assert_int_equal(sku_obj_int64(sku_map_get(d.msg.result, "neg"), &i), 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(sku_obj_int64(sku_map_get(d.msg.result, "pos"), &i), 0);
	assert_int_equal(i, 5);
	o = sku_map_get(d.msg.result, "big");
	assert_int_equal(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	assert_true(o->via.u64 == UINT64_MAX);
	assert_int_equal(sku_obj_double(sku_map_get(d.msg.result, "f"), &f), 0);
	assert_true(f == -0.5);
	o = sku_map_get(d.msg.result, "t");
	assert_int_equal(o->type, MSGPACK_OBJECT_BOOLEAN);
	assert_true(o->via.boolean);
	assert_true(sku_obj_str_eq(sku_map_get(d.msg.result, "s"), "é"));
	assert_int_equal(sku_map_get(d.msg.result, "none")->type, MSGPACK_OBJECT_NIL);
	assert_int_equal(sku_map_get(d.msg.result, "nil")->type, MSGPACK_OBJECT_NIL);
	unit_decoded_done(&d);
	unit_buf_done(&b);
}

/* Invalid method names are refused before a byte is written. */
static void test_bad_method_writes_nothing(void **state)
{
	struct unit_buf b;
	char longname[257];

	memset(longname, 'a', 256);
	longname[256] = '\0';
	unit_buf_init(&b);
	assert_int_equal(sku_pack_request_head(&b.pk, 1, NULL), -EINVAL);
	assert_int_equal(sku_pack_request_head(&b.pk, 1, ""), -EINVAL);
	assert_int_equal(sku_pack_request_head(&b.pk, 1, longname), -EINVAL);
	assert_int_equal(sku_pack_notify_head(&b.pk, NULL), -EINVAL);
	assert_int_equal(sku_pack_notify_head(&b.pk, longname), -EINVAL);
	assert_int_equal(sku_pack_str(&b.pk, NULL), -EINVAL);
	assert_int_equal(sku_pack_kv_int(&b.pk, NULL, 1), -EINVAL);
	assert_int_equal(b.sb.size, 0);
	longname[255] = '\0';
	assert_int_equal(sku_pack_request_head(&b.pk, 1, longname), 0);
	assert_int_equal(b.sb.size, 1 + 1 + 1 + 2 + 255);
	unit_buf_done(&b);
}

static int failing_write(void *data, const char *buf, size_t len)
{
	size_t *budget = data;

	if (len > *budget)
		return -1;
	*budget -= len;
	return 0;
}

/* Bytes enc() writes when nothing fails. */
static size_t encoded_size(int (*enc)(msgpack_packer *))
{
	struct unit_buf b;
	size_t n;

	unit_buf_init(&b);
	assert_int_equal(enc(&b.pk), 0);
	n = b.sb.size;
	unit_buf_done(&b);
	return n;
}

static int enc_error(msgpack_packer *pk)
{
	return sku_pack_error(pk, 1, SKU_ERR_TIMEOUT, "x");
}

static int enc_request(msgpack_packer *pk)
{
	return sku_pack_request_head(pk, 1, "ping");
}

static int enc_response(msgpack_packer *pk)
{
	return sku_pack_response_head(pk, 70000);
}

static int enc_notify(msgpack_packer *pk)
{
	return sku_pack_notify_head(pk, "proc.exited");
}

static int enc_kv_str(msgpack_packer *pk)
{
	return sku_pack_kv_str(pk, "k", "v");
}

static int enc_kv_double(msgpack_packer *pk)
{
	return sku_pack_kv_double(pk, "k", 1.0);
}

static int enc_kv_nil(msgpack_packer *pk)
{
	return sku_pack_kv_nil(pk, "k");
}

static int enc_kv_bool(msgpack_packer *pk)
{
	return sku_pack_kv_bool(pk, "k", false);
}

/* A writer that runs out part way: every encoder reports -ENOMEM, at every cut. */
static void test_write_failure(void **state)
{
	int (*const encs[])(msgpack_packer *) = {
	        enc_error,  enc_request,   enc_response, enc_notify,
	        enc_kv_str, enc_kv_double, enc_kv_nil,   enc_kv_bool,
	};

	for (size_t e = 0; e < sizeof(encs) / sizeof(encs[0]); e++) {
		size_t total = encoded_size(encs[e]);

		for (size_t cut = 0; cut <= total; cut++) {
			size_t budget = cut;
			msgpack_packer pk;

			msgpack_packer_init(&pk, &budget, failing_write);
			assert_int_equal(encs[e](&pk), cut < total ? -ENOMEM : 0);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_request_head_bytes),
	        cmocka_unit_test(test_response_head_bytes),
	        cmocka_unit_test(test_error_bytes),
	        cmocka_unit_test(test_notify_head_bytes),
	        cmocka_unit_test(test_kv_helpers),
	        cmocka_unit_test(test_bad_method_writes_nothing),
	        cmocka_unit_test(test_write_failure),
	};

	return cmocka_run_group_tests_name("pack", tests, NULL, NULL);
}
