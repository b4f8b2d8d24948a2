/*
 * test_prescan.c - sku_prescan(): message boundaries, limits, and agreement with msgpack-c.
 *
 * Linked with -Wl,--wrap=malloc,calloc,realloc so that the tests can assert that the
 * pre-scan allocates nothing, whatever a header declares.
 */
#include "unit.h"

static size_t alloc_calls;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
	alloc_calls++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	alloc_calls++;
	return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	alloc_calls++;
	return __real_realloc(p, n);
}

#define MAX SKU_MAX_MESSAGE_DEFAULT

/* Prescan with the default limits, asserting it allocated nothing. */
static int scan(const void *buf, size_t len, size_t *ret_len)
{
	size_t before = alloc_calls;
	size_t dummy = 0;
	int r = sku_prescan(buf, len, MAX, SKU_MAX_DEPTH, ret_len ? ret_len : &dummy);

	assert_int_equal(alloc_calls, before);
	return r;
}

/* The no-allocation assertions mean something only if the wraps are linked in. */
static void test_alloc_counter_works(void **state)
{
	size_t before = alloc_calls;
	void *volatile p = malloc(16);

	assert_non_null(p);
	free(p);
	assert_int_equal(alloc_calls, before + 1);
}

/* Every split of a complete message needs more; the whole finds exactly its length. */
static void check_all_splits(const void *buf, size_t len)
{
	size_t got = 0;

	for (size_t k = 0; k < len; k++)
		assert_int_equal(scan(buf, k, &got), 0);
	assert_int_equal(scan(buf, len, &got), 1);
	assert_int_equal(got, len);
}

struct sample {
	const char *name;
	const char *bytes;
	size_t len;
};

#define S(name, lit)                       \
	{                                  \
		name, lit, sizeof(lit) - 1 \
	}

/* One of each msgpack format, each complete on its own. */
static const struct sample formats[] = {
        S("positive fixint", "\x05"),
        S("negative fixint", "\xe0"),
        S("fixmap", "\x81\xa1k\x01"),
        S("fixarray", "\x92\x01\x02"),
        S("fixstr", "\xa3"
                    "abc"),
        S("nil", "\xc0"),
        S("false", "\xc2"),
        S("true", "\xc3"),
        S("bin8", "\xc4\x02\xff\xfe"),
        S("bin16", "\xc5\x00\x01\x00"),
        S("bin32", "\xc6\x00\x00\x00\x01\x00"),
        S("ext8", "\xc7\x02\x05\x00\x00"),
        S("ext16", "\xc8\x00\x01\x05\x00"),
        S("ext32", "\xc9\x00\x00\x00\x01\x05\x00"),
        S("float32", "\xca\x3f\x80\x00\x00"),
        S("float64", "\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"),
        S("uint8", "\xcc\xff"),
        S("uint16", "\xcd\xff\xff"),
        S("uint32", "\xce\xff\xff\xff\xff"),
        S("uint64", "\xcf\xff\xff\xff\xff\xff\xff\xff\xff"),
        S("int8", "\xd0\x80"),
        S("int16", "\xd1\x80\x00"),
        S("int32", "\xd2\x80\x00\x00\x00"),
        S("int64", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00"),
        S("fixext1", "\xd4\x01\x00"),
        S("fixext2", "\xd5\x01\x00\x00"),
        S("fixext4 timestamp32", "\xd6\xff\x00\x00\x00\x01"),
        S("fixext8 timestamp64", "\xd7\xff\x00\x00\x00\x04\x00\x00\x00\x01"),
        S("fixext16", "\xd8\x01"
                      "0123456789abcdef"),
        S("ext8 timestamp96", "\xc7\x0c\xff\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01"),
        S("str8", "\xd9\x01x"),
        S("str16", "\xda\x00\x01x"),
        S("str32", "\xdb\x00\x00\x00\x01x"),
        S("array16", "\xdc\x00\x02\xc0\xc0"),
        S("array32", "\xdd\x00\x00\x00\x01\xc0"),
        S("map16", "\xde\x00\x01\x01\x02"),
        S("map32", "\xdf\x00\x00\x00\x01\x01\x02"),
        S("empty fixarray", "\x90"),
        S("empty map32", "\xdf\x00\x00\x00\x00"),
        S("empty str32", "\xdb\x00\x00\x00\x00"),
};

static void test_every_format(void **state)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		print_message("# %s\n", formats[i].name);
		check_all_splits(formats[i].bytes, formats[i].len);
	}
}

/* Each format also has to be found inside a container, where elements are counted. */
static void test_every_format_nested(void **state)
{
	char buf[64];

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		size_t n = formats[i].len;

		buf[0] = (char)0x93; /* [x, x, nil] */
		memcpy(buf + 1, formats[i].bytes, n);
		memcpy(buf + 1 + n, formats[i].bytes, n);
		buf[1 + 2 * n] = (char)0xc0;
		check_all_splits(buf, 2 + 2 * n);
	}
}

static void test_rpc_messages_every_split(void **state)
{
	struct unit_buf b;

	unit_buf_init(&b);
	assert_int_equal(sku_pack_request_head(&b.pk, 42, "facts.get"), 0);
	msgpack_pack_array(&b.pk, 1);
	msgpack_pack_map(&b.pk, 1);
	assert_int_equal(sku_pack_kv_int(&b.pk, "pid", 1234), 0);
	check_all_splits(b.sb.data, b.sb.size);

	msgpack_sbuffer_clear(&b.sb);
	assert_int_equal(sku_pack_error(&b.pk, 7, SKU_ERR_NO_SUCH_PROCESS, "no such pid"), 0);
	check_all_splits(b.sb.data, b.sb.size);

	msgpack_sbuffer_clear(&b.sb);
	assert_int_equal(sku_pack_notify_head(&b.pk, "proc.exited"), 0);
	msgpack_pack_map(&b.pk, 2);
	sku_pack_kv_uint(&b.pk, "watch_id", 3);
	sku_pack_kv_double(&b.pk, "exited_at", 1.5);
	check_all_splits(b.sb.data, b.sb.size);
	unit_buf_done(&b);
}

/* Pipelined messages: each scan finds only the first one. */
static void test_back_to_back(void **state)
{
	struct unit_buf b;
	size_t first, got = 0;

	unit_buf_init(&b);
	sku_pack_request_head(&b.pk, 1, "ping");
	msgpack_pack_array(&b.pk, 0);
	first = b.sb.size;
	sku_pack_request_head(&b.pk, 2, "hello");
	msgpack_pack_array(&b.pk, 0);

	assert_int_equal(scan(b.sb.data, b.sb.size, &got), 1);
	assert_int_equal(got, first);
	assert_int_equal(scan(b.sb.data + first, b.sb.size - first, &got), 1);
	assert_int_equal(got, b.sb.size - first);
	unit_buf_done(&b);
}

static void test_c1_never_valid(void **state)
{
	assert_int_equal(scan("\xc1", 1, NULL), -EBADMSG);
	assert_int_equal(scan("\x94\x00\x01\xc1", 4, NULL), -EBADMSG);
	assert_int_equal(scan("\x81\xc1\x00", 3, NULL), -EBADMSG);
	/* before the bad byte arrives, the scan cannot know */
	assert_int_equal(scan("\x94\x00\x01", 3, NULL), 0);
}

/* Headers declaring more than max_size, with only the header present. */
static void test_huge_declarations(void **state)
{
	static const struct sample huge[] = {
	        S("str32 2^32-1", "\xdb\xff\xff\xff\xff"),
	        S("bin32 2^32-1", "\xc6\xff\xff\xff\xff"),
	        S("ext32 2^32-1", "\xc9\xff\xff\xff\xff\x01"),
	        S("array32 2^28", "\xdd\x10\x00\x00\x00"),
	        S("array32 2^32-1", "\xdd\xff\xff\xff\xff"),
	        S("map32 2^28", "\xdf\x10\x00\x00\x00"),
	        S("map32 2^32-1", "\xdf\xff\xff\xff\xff"),
	        S("str32 max+1 inside array", "\x91\xdb\x00\x10\x00\x00"),
	        S("request with array32 params", "\x94\x00\x01\xa1x\xdd\x10\x00\x00\x00"),
	        S("array32 2^20 (each element needs a byte)", "\xdd\x00\x10\x00\x00"),
	        S("map32 2^19 (two elements per entry)", "\xdf\x00\x08\x00\x00"),
	};
	size_t got = 0;

	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		print_message("# %s\n", huge[i].name);
		assert_int_equal(scan(huge[i].bytes, huge[i].len, NULL), -EMSGSIZE);
	}
	/* just below: 2^20 - 5 one-byte elements plus the 5-byte header is exactly 1 MiB */
	assert_int_equal(scan("\xdd\x00\x0f\xff\xfb", 5, NULL), 0);
	assert_int_equal(scan("\xdd\x00\x0f\xff\xfc", 5, NULL), -EMSGSIZE);
	/* the bound is the caller's max_size, not a constant */
	assert_int_equal(sku_prescan("\xdd\x10\x00\x00\x00", 5, SIZE_MAX, SKU_MAX_DEPTH, &got), 0);
	assert_int_equal(sku_prescan("\xa5", 1, 5, SKU_MAX_DEPTH, &got), -EMSGSIZE);
	assert_int_equal(sku_prescan("\xa4", 1, 5, SKU_MAX_DEPTH, &got), 0);
}

/* Elements still owed by open containers count against what a string may declare. */
static void test_owed_elements_count(void **state)
{
	/* [str8(200), 1, 2]: 1 + 2 + 200 + 2 = 205 bytes */
	char buf[205];
	size_t got = 0;

	buf[0] = (char)0x93;
	buf[1] = (char)0xd9;
	buf[2] = (char)200;
	memset(buf + 3, 'a', 200);
	buf[203] = 1;
	buf[204] = 2;
	assert_int_equal(sku_prescan(buf, 3, 204, SKU_MAX_DEPTH, &got), -EMSGSIZE);
	assert_int_equal(sku_prescan(buf, 3, 205, SKU_MAX_DEPTH, &got), 0);
	assert_int_equal(sku_prescan(buf, sizeof(buf), 205, SKU_MAX_DEPTH, &got), 1);
	assert_int_equal(got, 205);
	assert_int_equal(sku_prescan(buf, sizeof(buf), 204, SKU_MAX_DEPTH, &got), -EMSGSIZE);
}

static void nested(char *buf, unsigned levels, char open)
{
	for (unsigned i = 0; i < levels; i++)
		buf[i] = open;
}

static void test_depth(void **state)
{
	char buf[SKU_PRESCAN_DEPTH_MAX + 4];
	size_t got = 0;

	/* [[...[]...]]: 16 levels including the innermost empty one */
	nested(buf, 15, (char)0x91);
	buf[15] = (char)0x90;
	assert_int_equal(scan(buf, 16, &got), 1);
	assert_int_equal(got, 16);

	nested(buf, 16, (char)0x91);
	buf[16] = (char)0x90;
	assert_int_equal(scan(buf, 17, NULL), -EBADMSG);
	/* caught as soon as the 17th header is seen, before the rest arrives */
	nested(buf, 17, (char)0x91);
	assert_int_equal(scan(buf, 17, NULL), -EBADMSG);

	/* maps nest the same way: {k: {k: ... nil}} */
	for (unsigned i = 0; i < 16; i++) {
		buf[2 * i] = (char)0x81;
		buf[2 * i + 1] = 0x01;
	}
	buf[32] = (char)0xc0;
	assert_int_equal(scan(buf, 33, &got), 1);
	assert_int_equal(got, 33);
	buf[32] = (char)0x80;
	assert_int_equal(scan(buf, 33, NULL), -EBADMSG);

	/* depth returns to the parent after a nested container closes */
	assert_int_equal(sku_prescan("\x92\x91\x90\x91\x90", 5, MAX, 3, &got), 1);
	assert_int_equal(sku_prescan("\x92\x91\x91\x00\x00", 5, MAX, 3, &got), 1);
	assert_int_equal(got, 5);
	assert_int_equal(sku_prescan("\x92\x91\x91\x90\x00", 5, MAX, 3, &got), -EBADMSG);

	assert_int_equal(sku_prescan("\x90", 1, MAX, 0, &got), -EBADMSG);
	assert_int_equal(sku_prescan("\x01", 1, MAX, 0, &got), 1);

	nested(buf, SKU_PRESCAN_DEPTH_MAX, (char)0x91);
	buf[SKU_PRESCAN_DEPTH_MAX] = 0x00;
	assert_int_equal(
	        sku_prescan(buf, SKU_PRESCAN_DEPTH_MAX + 1, MAX, SKU_PRESCAN_DEPTH_MAX, &got), 1);
	assert_int_equal(
	        sku_prescan(buf, SKU_PRESCAN_DEPTH_MAX + 1, MAX, SKU_PRESCAN_DEPTH_MAX + 1, &got),
	        -EINVAL);
}

/* A request of exactly size bytes: [0, 1, "x", [{"d": bin}]] */
static char *request_of_size(size_t size)
{
	/* 94 00 01 a1 78 91 81 a1 64 c6 <4-byte len> = 14 bytes of framing */
	size_t payload = size - 14;
	char *buf = malloc(size);

	assert_non_null(buf);
	memcpy(buf,
	       "\x94\x00\x01\xa1x\x91\x81\xa1"
	       "d\xc6",
	       10);
	buf[10] = (char)(payload >> 24);
	buf[11] = (char)(payload >> 16);
	buf[12] = (char)(payload >> 8);
	buf[13] = (char)payload;
	memset(buf + 14, 0x5a, payload);
	return buf;
}

static void test_one_mib_limit(void **state)
{
	char *buf = request_of_size(MAX);
	size_t got = 0;
	struct unit_decoded d;

	assert_int_equal(scan(buf, MAX, &got), 1);
	assert_int_equal(got, MAX);
	assert_int_equal(scan(buf, MAX - 1, &got), 0);
	assert_int_equal(unit_decode(buf, MAX, &d), 0);
	assert_int_equal(d.msg.type, SKU_MSG_REQUEST);
	assert_non_null(sku_map_get(d.msg.args, "d"));
	assert_int_equal(sku_map_get(d.msg.args, "d")->via.bin.size, MAX - 14);
	unit_decoded_done(&d);
	free(buf);

	buf = request_of_size(MAX + 1);
	/* rejected from the bin header alone, and with every byte present */
	assert_int_equal(scan(buf, 14, NULL), -EMSGSIZE);
	assert_int_equal(scan(buf, MAX + 1, NULL), -EMSGSIZE);
	free(buf);
}

/* Once max_size bytes are buffered and no message ended, waiting longer cannot help. */
static void test_full_buffer_without_message(void **state)
{
	char buf[64];
	size_t got = 0;

	memset(buf, 0, sizeof(buf));
	buf[0] = (char)0xdc; /* array16 of 40 zeros: 43 bytes */
	buf[1] = 0;
	buf[2] = 40;
	assert_int_equal(sku_prescan(buf, 20, 43, SKU_MAX_DEPTH, &got), 0);
	assert_int_equal(sku_prescan(buf, 43, 43, SKU_MAX_DEPTH, &got), 1);
	assert_int_equal(sku_prescan(buf, 20, 20, SKU_MAX_DEPTH, &got), -EMSGSIZE);
	assert_int_equal(sku_prescan(buf, 64, 42, SKU_MAX_DEPTH, &got), -EMSGSIZE);
	assert_int_equal(sku_prescan(buf, 0, 0, SKU_MAX_DEPTH, &got), -EMSGSIZE);
	assert_int_equal(sku_prescan(NULL, 0, MAX, SKU_MAX_DEPTH, &got), 0);
}

/* 100 KiB array of ints: one pass finds the end (no timing asserted). */
static void test_large_array_of_ints(void **state)
{
	struct unit_buf b;
	size_t got = 0;

	unit_buf_init(&b);
	msgpack_pack_array(&b.pk, 50000);
	for (int i = 0; i < 50000; i++)
		msgpack_pack_int(&b.pk, i % 3 == 0 ? -i : i);
	assert_true(b.sb.size > 100 * 1024);
	assert_int_equal(scan(b.sb.data, b.sb.size, &got), 1);
	assert_int_equal(got, b.sb.size);
	assert_int_equal(scan(b.sb.data, b.sb.size - 1, &got), 0);
	unit_buf_done(&b);
}

/* Deterministic xorshift so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void pack_random(msgpack_packer *pk, unsigned depth)
{
	static const char blob[300];
	unsigned kind = (unsigned)(rnd() % (depth < 6 ? 14 : 11));
	uint32_t n;

	switch (kind) {
	case 0:
		msgpack_pack_nil(pk);
		break;
	case 1:
		msgpack_pack_true(pk);
		break;
	case 2:
		msgpack_pack_uint64(pk, rnd() >> (rnd() % 64));
		break;
	case 3:
		msgpack_pack_int64(pk, -(int64_t)(rnd() >> (1 + rnd() % 63)));
		break;
	case 4:
		msgpack_pack_float(pk, 1.5f);
		break;
	case 5:
		msgpack_pack_double(pk, -2.25);
		break;
	case 6:
		n = (uint32_t)(rnd() % 300);
		msgpack_pack_str(pk, n);
		msgpack_pack_str_body(pk, blob, n);
		break;
	case 7:
		n = (uint32_t)(rnd() % 300);
		msgpack_pack_bin(pk, n);
		msgpack_pack_bin_body(pk, blob, n);
		break;
	case 8:
		n = (uint32_t)(rnd() % 300);
		msgpack_pack_ext(pk, n, (int8_t)(rnd() % 256 - 128));
		msgpack_pack_ext_body(pk, blob, n);
		break;
	case 9: {
		msgpack_timestamp ts = {(int64_t)(rnd() % 20000000000ULL) - 1000,
		                        (uint32_t)(rnd() % 1000000000)};

		msgpack_pack_timestamp(pk, &ts);
		break;
	}
	case 10:
		msgpack_pack_int8(pk, (int8_t)rnd());
		break;
	case 11:
	case 12:
		n = (uint32_t)(rnd() % 20);
		msgpack_pack_array(pk, n);
		for (uint32_t i = 0; i < n; i++)
			pack_random(pk, depth + 1);
		break;
	default:
		n = (uint32_t)(rnd() % 10);
		msgpack_pack_map(pk, n);
		for (uint32_t i = 0; i < 2 * n; i++)
			pack_random(pk, depth + 1);
		break;
	}
}

/* Random valid documents: the prescan ends exactly where msgpack-c does. */
static void test_agrees_with_msgpack_on_valid(void **state)
{
	struct unit_buf b;

	unit_buf_init(&b);
	for (int iter = 0; iter < 400; iter++) {
		msgpack_zone zone;
		msgpack_object obj;
		size_t got = 0, off = 0;

		msgpack_sbuffer_clear(&b.sb);
		pack_random(&b.pk, 0);
		assert_int_equal(scan(b.sb.data, b.sb.size, &got), 1);
		assert_int_equal(got, b.sb.size);
		assert_true(msgpack_zone_init(&zone, 4096));
		assert_int_equal(msgpack_unpack(b.sb.data, got, &off, &zone, &obj),
		                 MSGPACK_UNPACK_SUCCESS);
		assert_int_equal(off, got);
		msgpack_zone_destroy(&zone);
		if (iter % 40 == 0)
			check_all_splits(b.sb.data, b.sb.size);
	}
	unit_buf_done(&b);
}

/* Random bytes: whatever the prescan accepts, msgpack-c decodes to the same end. */
static void test_agrees_with_msgpack_on_garbage(void **state)
{
	unsigned char buf[48];
	unsigned complete = 0;

	for (int iter = 0; iter < 100000; iter++) {
		size_t len = 1 + rnd() % sizeof(buf);
		size_t got = 0;
		int r;

		for (size_t i = 0; i < len; i++) {
			uint64_t x = rnd();

			/* bias towards small values so containers and lengths often fit */
			buf[i] = (unsigned char)(x % 4 == 0 ? x >> 8
			                                    : (x >> 8) % 8 + (x % 2 ? 0x90 : 0));
		}
		r = sku_prescan((const char *)buf, len, 64, SKU_MAX_DEPTH, &got);
		if (r == 1) {
			msgpack_zone zone;
			msgpack_object obj;
			size_t off = 0;

			complete++;
			assert_true(got >= 1 && got <= len && got <= 64);
			assert_true(msgpack_zone_init(&zone, 256));
			assert_int_equal(msgpack_unpack((const char *)buf, got, &off, &zone, &obj),
			                 MSGPACK_UNPACK_SUCCESS);
			assert_int_equal(off, got);
			msgpack_zone_destroy(&zone);
		} else if (r == 0) {
			msgpack_zone zone;
			msgpack_object obj;
			size_t off = 0;

			assert_true(msgpack_zone_init(&zone, 256));
			assert_int_equal(msgpack_unpack((const char *)buf, len, &off, &zone, &obj),
			                 MSGPACK_UNPACK_CONTINUE);
			msgpack_zone_destroy(&zone);
		} else {
			assert_true(r == -EMSGSIZE || r == -EBADMSG);
		}
	}
	/* the generator must exercise the interesting branch, not just rejections */
	assert_true(complete > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_alloc_counter_works),
	        cmocka_unit_test(test_every_format),
	        cmocka_unit_test(test_every_format_nested),
	        cmocka_unit_test(test_rpc_messages_every_split),
	        cmocka_unit_test(test_back_to_back),
	        cmocka_unit_test(test_c1_never_valid),
	        cmocka_unit_test(test_huge_declarations),
	        cmocka_unit_test(test_owed_elements_count),
	        cmocka_unit_test(test_depth),
	        cmocka_unit_test(test_one_mib_limit),
	        cmocka_unit_test(test_full_buffer_without_message),
	        cmocka_unit_test(test_large_array_of_ints),
	        cmocka_unit_test(test_agrees_with_msgpack_on_valid),
	        cmocka_unit_test(test_agrees_with_msgpack_on_garbage),
	};

	return cmocka_run_group_tests_name("prescan", tests, NULL, NULL);
}
