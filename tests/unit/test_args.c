/*
 * test_args.c - named-argument binding and the typed readers.
 */
#include "unit.h"

/* Decode a request whose bytes are [0, 1, "m", params] and return its args (may be NULL). */
struct req {
	struct unit_buf b;
	struct unit_decoded d;
};

static void req_begin(struct req *r)
{
	unit_buf_init(&r->b);
	assert_int_equal(sku_pack_request_head(&r->b.pk, 1, "m"), 0);
}

static const msgpack_object *req_end(struct req *r)
{
	assert_int_equal(unit_decode(r->b.sb.data, r->b.sb.size, &r->d), 0);
	return r->d.msg.args;
}

static void req_done(struct req *r)
{
	unit_decoded_done(&r->d);
	unit_buf_done(&r->b);
}

static const struct sku_argspec spec[] = {
        {"pid", SKU_ARG_INT, true},
        {"grace_s", SKU_ARG_NUMBER, false},
        {"cloud", SKU_ARG_STR, false},
        {"recursive", SKU_ARG_BOOL, false},
        {"procs", SKU_ARG_ARRAY, false},
        {"watch", SKU_ARG_MAP, false},
        {"signal", SKU_ARG_INT_OR_STR, false},
};

#define NSPEC (sizeof(spec) / sizeof(spec[0]))

static void test_bind_all_types(void **state)
{
	struct req r;
	const msgpack_object *argv[SKU_MAX_ARGS];
	char err[128] = "";
	double g = 0;
	int64_t pid = 0;

	req_begin(&r);
	msgpack_pack_array(&r.b.pk, 1);
	msgpack_pack_map(&r.b.pk, 7);
	sku_pack_kv_str(&r.b.pk, "signal", "TERM");
	sku_pack_kv_int(&r.b.pk, "pid", -4);
	sku_pack_kv_double(&r.b.pk, "grace_s", 0.5);
	sku_pack_kv_str(&r.b.pk, "cloud", "aws");
	sku_pack_kv_bool(&r.b.pk, "recursive", true);
	sku_pack_str(&r.b.pk, "procs");
	msgpack_pack_array(&r.b.pk, 0);
	sku_pack_str(&r.b.pk, "watch");
	msgpack_pack_map(&r.b.pk, 0);
	assert_int_equal(sku_args_bind(req_end(&r), spec, NSPEC, argv, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	for (size_t i = 0; i < NSPEC; i++)
		assert_non_null(argv[i]);
	assert_int_equal(sku_obj_int64(argv[0], &pid), 0);
	assert_int_equal(pid, -4);
	assert_int_equal(sku_obj_double(argv[1], &g), 0);
	assert_true(g == 0.5);
	assert_true(sku_obj_str_eq(argv[2], "aws"));
	assert_true(argv[3]->via.boolean);
	assert_int_equal(argv[4]->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(argv[5]->type, MSGPACK_OBJECT_MAP);
	assert_true(sku_obj_str_eq(argv[6], "TERM"));
	req_done(&r);
}

static void test_optional_absent(void **state)
{
	struct req r;
	const msgpack_object *argv[SKU_MAX_ARGS];
	char err[128];

	req_begin(&r);
	msgpack_pack_array(&r.b.pk, 1);
	msgpack_pack_map(&r.b.pk, 3);
	sku_pack_kv_int(&r.b.pk, "pid", 1);
	sku_pack_kv_int(&r.b.pk, "signal", 9);
	sku_pack_kv_nil(&r.b.pk, "cloud"); /* nil: not given */
	for (size_t i = 0; i < SKU_MAX_ARGS; i++)
		argv[i] = (const msgpack_object *)&r; /* must be overwritten */
	assert_int_equal(sku_args_bind(req_end(&r), spec, NSPEC, argv, err, sizeof(err)), 0);
	assert_non_null(argv[0]);
	assert_null(argv[1]);
	assert_null(argv[2]);
	assert_null(argv[3]);
	assert_null(argv[4]);
	assert_null(argv[5]);
	assert_int_equal(argv[6]->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	req_done(&r);
}

static void test_no_args(void **state)
{
	static const struct sku_argspec opt[] = {{"client", SKU_ARG_STR, false}};
	const msgpack_object *argv[SKU_MAX_ARGS] = {NULL};
	char err[128] = "";
	struct req r;

	/* params [] → args NULL */
	assert_int_equal(sku_args_bind(NULL, opt, 1, argv, err, sizeof(err)), 0);
	assert_null(argv[0]);
	assert_int_equal(sku_args_bind(NULL, spec, NSPEC, argv, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "missing argument 'pid'");
	/* a method without arguments takes [] and [{}] */
	assert_int_equal(sku_args_bind(NULL, NULL, 0, NULL, err, sizeof(err)), 0);
	req_begin(&r);
	msgpack_pack_array(&r.b.pk, 1);
	msgpack_pack_map(&r.b.pk, 0);
	assert_int_equal(sku_args_bind(req_end(&r), NULL, 0, NULL, err, sizeof(err)), 0);
	req_done(&r);
}

/* Each case: a one-entry (or more) map, the error it must produce. */
static void expect_error(void (*fill)(msgpack_packer *), const char *want)
{
	struct req r;
	const msgpack_object *argv[SKU_MAX_ARGS];
	char err[128] = "";

	req_begin(&r);
	msgpack_pack_array(&r.b.pk, 1);
	fill(&r.b.pk);
	assert_int_equal(sku_args_bind(req_end(&r), spec, NSPEC, argv, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, want);
	/* and without an error buffer it still fails the same way */
	assert_int_equal(sku_args_bind(r.d.msg.args, spec, NSPEC, argv, NULL, 0), -EINVAL);
	req_done(&r);
}

static void fill_unknown(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	sku_pack_kv_int(pk, "pid", 1);
	sku_pack_kv_int(pk, "x", 1);
}

static void fill_unknown_hostile(msgpack_packer *pk)
{
	static const char name[] = "a\nb\x1b[31m";

	msgpack_pack_map(pk, 1);
	msgpack_pack_str(pk, sizeof(name) - 1);
	msgpack_pack_str_body(pk, name, sizeof(name) - 1);
	msgpack_pack_nil(pk);
}

static void fill_unknown_long(msgpack_packer *pk)
{
	char name[200];

	memset(name, 'n', sizeof(name));
	msgpack_pack_map(pk, 1);
	msgpack_pack_str(pk, sizeof(name));
	msgpack_pack_str_body(pk, name, sizeof(name));
	msgpack_pack_nil(pk);
}

static void fill_prefix_of_known(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	sku_pack_kv_int(pk, "pi", 1);
}

static void fill_duplicate(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	sku_pack_kv_int(pk, "pid", 1);
	sku_pack_kv_int(pk, "pid", 2);
}

static void fill_duplicate_nil(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 3);
	sku_pack_kv_int(pk, "pid", 1);
	sku_pack_kv_nil(pk, "cloud");
	sku_pack_kv_str(pk, "cloud", "aws");
}

static void fill_missing(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	sku_pack_kv_str(pk, "cloud", "aws");
}

static void fill_required_nil(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	sku_pack_kv_nil(pk, "pid");
}

static void fill_int_key(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	msgpack_pack_int(pk, 1);
	msgpack_pack_int(pk, 1);
}

static void fill_pid_str(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	sku_pack_kv_str(pk, "pid", "1");
}

static void fill_pid_float(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	sku_pack_kv_double(pk, "pid", 1.0);
}

static void fill_grace_str(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	sku_pack_kv_int(pk, "pid", 1);
	sku_pack_kv_str(pk, "grace_s", "10");
}

static void fill_cloud_int(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	sku_pack_kv_int(pk, "pid", 1);
	sku_pack_kv_int(pk, "cloud", 1);
}

static void fill_recursive_int(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	sku_pack_kv_int(pk, "pid", 1);
	sku_pack_kv_int(pk, "recursive", 1);
}

static void fill_procs_map(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	sku_pack_kv_int(pk, "pid", 1);
	sku_pack_str(pk, "procs");
	msgpack_pack_map(pk, 0);
}

static void fill_watch_array(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	sku_pack_kv_int(pk, "pid", 1);
	sku_pack_str(pk, "watch");
	msgpack_pack_array(pk, 0);
}

static void fill_signal_bool(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	sku_pack_kv_int(pk, "pid", 1);
	sku_pack_kv_bool(pk, "signal", true);
}

static void test_bind_errors(void **state)
{
	expect_error(fill_unknown, "unknown argument 'x'");
	expect_error(fill_unknown_hostile, "unknown argument 'a?b?[31m'");
	expect_error(fill_unknown_long,
	             "unknown argument "
	             "'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...'");
	expect_error(fill_prefix_of_known, "unknown argument 'pi'");
	expect_error(fill_duplicate, "duplicate argument 'pid'");
	expect_error(fill_duplicate_nil, "duplicate argument 'cloud'");
	expect_error(fill_missing, "missing argument 'pid'");
	expect_error(fill_required_nil, "argument 'pid' must be an integer");
	expect_error(fill_int_key, "argument names must be strings");
	expect_error(fill_pid_str, "argument 'pid' must be an integer");
	expect_error(fill_pid_float, "argument 'pid' must be an integer");
	expect_error(fill_grace_str, "argument 'grace_s' must be a number");
	expect_error(fill_cloud_int, "argument 'cloud' must be a string");
	expect_error(fill_recursive_int, "argument 'recursive' must be a boolean");
	expect_error(fill_procs_map, "argument 'procs' must be an array");
	expect_error(fill_watch_array, "argument 'watch' must be a map");
	expect_error(fill_signal_bool, "argument 'signal' must be an integer or a string");
}

static void test_bind_misuse(void **state)
{
	const msgpack_object *argv[SKU_MAX_ARGS + 1];
	struct sku_argspec many[SKU_MAX_ARGS + 1];
	msgpack_object notmap = {.type = MSGPACK_OBJECT_ARRAY};
	char err[16];

	for (size_t i = 0; i <= SKU_MAX_ARGS; i++)
		many[i] = (struct sku_argspec){"a", SKU_ARG_INT, false};
	assert_int_equal(sku_args_bind(NULL, many, SKU_MAX_ARGS + 1, argv, err, sizeof(err)),
	                 -EINVAL);
	assert_int_equal(sku_args_bind(&notmap, spec, NSPEC, argv, err, sizeof(err)), -EINVAL);
	/* a short buffer is truncated, still terminated */
	assert_string_equal(err, "arguments must ");
}

static void test_obj_int64(void **state)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER};
	int64_t v = 0;

	o.via.u64 = INT64_MAX;
	assert_int_equal(sku_obj_int64(&o, &v), 0);
	assert_true(v == INT64_MAX);
	o.via.u64 = (uint64_t)INT64_MAX + 1;
	v = 7;
	assert_int_equal(sku_obj_int64(&o, &v), -ERANGE);
	assert_int_equal(v, 7);
	o.type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
	o.via.i64 = INT64_MIN;
	assert_int_equal(sku_obj_int64(&o, &v), 0);
	assert_true(v == INT64_MIN);
	o.type = MSGPACK_OBJECT_FLOAT64;
	o.via.f64 = 1.0;
	assert_int_equal(sku_obj_int64(&o, &v), -EINVAL);
	o.type = MSGPACK_OBJECT_STR;
	assert_int_equal(sku_obj_int64(&o, &v), -EINVAL);
	assert_int_equal(sku_obj_int64(NULL, &v), -EINVAL);
}

static void test_obj_double(void **state)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER};
	double v = 0;

	o.via.u64 = 3;
	assert_int_equal(sku_obj_double(&o, &v), 0);
	assert_true(v == 3.0);
	o.type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
	o.via.i64 = -3;
	assert_int_equal(sku_obj_double(&o, &v), 0);
	assert_true(v == -3.0);
	o.type = MSGPACK_OBJECT_FLOAT32;
	o.via.f64 = 0.25;
	assert_int_equal(sku_obj_double(&o, &v), 0);
	assert_true(v == 0.25);
	o.type = MSGPACK_OBJECT_NIL;
	assert_int_equal(sku_obj_double(&o, &v), -EINVAL);
	o.type = MSGPACK_OBJECT_BOOLEAN;
	assert_int_equal(sku_obj_double(&o, &v), -EINVAL);
}

static void test_map_get_and_str_eq(void **state)
{
	struct unit_decoded d;
	/* {"a": 1, 2: "b", "ab": "x"} as the result of a response */
	static const char m[] = "\x94\x01\x01\xc0\x83\xa1"
	                        "a\x01\x02\xa1"
	                        "b\xa2"
	                        "ab\xa1x";
	msgpack_object one = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER};

	assert_int_equal(unit_decode(m, sizeof(m) - 1, &d), 0);
	assert_int_equal(sku_map_get(d.msg.result, "a")->via.u64, 1);
	assert_true(sku_obj_str_eq(sku_map_get(d.msg.result, "ab"), "x"));
	assert_null(sku_map_get(d.msg.result, "b"));
	assert_null(sku_map_get(d.msg.result, ""));
	assert_null(sku_map_get(d.msg.error, "a"));
	assert_null(sku_map_get(NULL, "a"));
	assert_null(sku_map_get(d.msg.result, NULL));
	assert_false(sku_obj_str_eq(sku_map_get(d.msg.result, "ab"), "xy"));
	assert_false(sku_obj_str_eq(sku_map_get(d.msg.result, "ab"), ""));
	assert_false(sku_obj_str_eq(&one, "1"));
	assert_false(sku_obj_str_eq(NULL, "1"));
	unit_decoded_done(&d);
}

static void test_shown_name(void **state)
{
	char out[SKU_NAME_SHOWN_MAX + 4], tiny[6];
	char long_name[100];

	(void)state;
	sku_shown_name("pid", 3, out, sizeof(out));
	assert_string_equal(out, "pid");
	/* NUL, control bytes and UTF-8 all become '?': one line of ASCII, never a cut character. */
	sku_shown_name("a\0b\n\x1b\xc3\xa9", 7, out, sizeof(out));
	assert_string_equal(out, "a?b????");
	memset(long_name, 'x', sizeof(long_name));
	sku_shown_name(long_name, sizeof(long_name), out, sizeof(out));
	assert_int_equal(strlen(out), SKU_NAME_SHOWN_MAX + 3);
	assert_string_equal(out + SKU_NAME_SHOWN_MAX, "...");
	sku_shown_name(long_name, SKU_NAME_SHOWN_MAX, out, sizeof(out));
	assert_int_equal(strlen(out), SKU_NAME_SHOWN_MAX);
	/* A small buffer is never overrun: cut to what fits, with no room left for "...". */
	sku_shown_name(long_name, sizeof(long_name), tiny, sizeof(tiny));
	assert_string_equal(tiny, "xxxxx");
	sku_shown_name("", 0, tiny, sizeof(tiny));
	assert_string_equal(tiny, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bind_all_types), cmocka_unit_test(test_optional_absent),
	        cmocka_unit_test(test_no_args),        cmocka_unit_test(test_bind_errors),
	        cmocka_unit_test(test_bind_misuse),    cmocka_unit_test(test_obj_int64),
	        cmocka_unit_test(test_obj_double),     cmocka_unit_test(test_map_get_and_str_eq),
	        cmocka_unit_test(test_shown_name),
	};

	return cmocka_run_group_tests_name("args", tests, NULL, NULL);
}
