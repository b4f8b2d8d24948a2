/*
 * test_errors.c - the wire error table and the errno mapping.
 */
#include "unit.h"

static void test_table_round_trip(void **state)
{
	static const struct {
		const char *name;
		int code;
	} want[] = {
#define ROW(name, code) {#name, code},
	        SKU_ERROR_MAP(ROW)
#undef ROW
	};

	assert_int_equal(sizeof(want) / sizeof(want[0]), SKU_ERR__MAX - 1);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *name = sku_err_name(want[i].code);

		assert_string_equal(name, want[i].name);
		assert_int_equal(sku_err_from_name(name, strlen(name)), want[i].code);
	}
	/* the documented codes never change */
	assert_int_equal(SKU_ERR_BAD_REQUEST, 1);
	assert_int_equal(SKU_ERR_TOO_LARGE, 8);
	assert_int_equal(SKU_ERR_TIMEOUT, 11);
	assert_string_equal(sku_err_name(10), "INTERNAL");
}

static void test_unknown(void **state)
{
	assert_string_equal(sku_err_name(0), "UNKNOWN");
	assert_string_equal(sku_err_name(-1), "UNKNOWN");
	assert_string_equal(sku_err_name(SKU_ERR__MAX), "UNKNOWN");
	assert_string_equal(sku_err_name(1000), "UNKNOWN");
	assert_int_equal(sku_err_from_name("NOPE", 4), 0);
	assert_int_equal(sku_err_from_name("", 0), 0);
	assert_int_equal(sku_err_from_name(NULL, 3), 0);
	/* lengths are exact: neither prefixes nor names with a tail match */
	assert_int_equal(sku_err_from_name("TIMEOUT", 6), 0);
	assert_int_equal(sku_err_from_name("TIMEOUTX", 8), 0);
	assert_int_equal(sku_err_from_name("TIMEOUTX", 7), SKU_ERR_TIMEOUT);
	assert_int_equal(sku_err_from_name("timeout", 7), 0);
}

static void test_from_errno(void **state)
{
	static const struct {
		int err;
		enum sku_err want;
	} map[] = {
	        {ESRCH, SKU_ERR_NO_SUCH_PROCESS},     {EPERM, SKU_ERR_PERMISSION_DENIED},
	        {EACCES, SKU_ERR_PERMISSION_DENIED},  {EINVAL, SKU_ERR_INVALID_ARGUMENT},
	        {ERANGE, SKU_ERR_INVALID_ARGUMENT},   {EMFILE, SKU_ERR_RESOURCE_EXHAUSTED},
	        {ENFILE, SKU_ERR_RESOURCE_EXHAUSTED}, {ENOMEM, SKU_ERR_RESOURCE_EXHAUSTED},
	        {ENOSPC, SKU_ERR_RESOURCE_EXHAUSTED}, {EAGAIN, SKU_ERR_RESOURCE_EXHAUSTED},
	        {EMSGSIZE, SKU_ERR_TOO_LARGE},        {EBADMSG, SKU_ERR_BAD_REQUEST},
	        {EPROTO, SKU_ERR_BAD_REQUEST},        {ENOSYS, SKU_ERR_UNAVAILABLE},
	        {ENOTSUP, SKU_ERR_UNAVAILABLE},       {EOPNOTSUPP, SKU_ERR_UNAVAILABLE},
	        {ETIMEDOUT, SKU_ERR_TIMEOUT},         {EIO, SKU_ERR_INTERNAL},
	        {ENOENT, SKU_ERR_INTERNAL},           {0, SKU_ERR_INTERNAL},
	        {100000, SKU_ERR_INTERNAL},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		assert_int_equal(sku_err_from_errno(-map[i].err), map[i].want);
		/* a caller passing errno itself gets the same answer */
		assert_int_equal(sku_err_from_errno(map[i].err), map[i].want);
	}
	assert_int_equal(sku_err_from_errno(INT32_MIN), SKU_ERR_INTERNAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table_round_trip),
	        cmocka_unit_test(test_unknown),
	        cmocka_unit_test(test_from_errno),
	};

	return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
