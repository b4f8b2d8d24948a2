/*
 * test_text.c - base36_encode, format_float, truncate_long_string and UTF-8 replacement.
 * Expectations come from CPython 3.11 running the upstream functions.
 */
#include "config.h"

#include <locale.h>
#include <math.h>
#include <stdint.h>

#include "skyutil/skyutil.h"

#include "hutil.h"

static void b36_ok(const char *in, const char *want)
{
	char *out = NULL;

	assert_int_equal(skyutil_base36_encode(in, &out), 0);
	assert_string_equal(out, want);
	free(out);
}

static void b36_err(const char *in, int err)
{
	char *out = (char *)"untouched";

	assert_int_equal(skyutil_base36_encode(in, &out), err);
	assert_string_equal(out, "untouched");
}

static void test_base36_values(void **state)
{
	b36_ok("ff", "73");
	b36_ok("0x10", "g");
	b36_ok("100", "74");
	b36_ok("deadbeef", "1ps9wxb");
	b36_ok("0", "0");
	b36_ok("00000", "0");
	b36_ok("-0", "0");
	b36_ok("23", "z");
	b36_ok("24", "10");
	b36_ok("ffffffffffffffffffffffffffffffff", "f5lxx1zz5pnorynqglhzmsp33");
	b36_ok("10000000000000000000000000000000000000000", "twj4yidkw7a8pn4g709kzmfoaol3x8g");
}

static void test_base36_python_syntax(void **state)
{
	b36_ok(" ff\n", "73");
	b36_ok("\t+0XFF ", "73");
	b36_ok("0x_ff", "73");
	b36_ok("f_f", "73");
	b36_ok("DeadBeef", "1ps9wxb");
	b36_err("", -EINVAL);
	b36_err("   ", -EINVAL);
	b36_err("0x", -EINVAL);
	b36_err("0x0xff", -EINVAL);
	b36_err("_ff", -EINVAL);
	b36_err("ff_", -EINVAL);
	b36_err("f__f", -EINVAL);
	b36_err("0_x1", -EINVAL);
	b36_err("- ff", -EINVAL);
	b36_err("fg", -EINVAL);
	b36_err("\x1c"
	        "ff",
	        -EINVAL);
	b36_err("ff\xc2\xa0", -EINVAL);
	/* Upstream never returns for negative input. */
	b36_err("-ff", -EINVAL);
	b36_err("-0x1", -EINVAL);
	b36_err(NULL, -EINVAL);
}

/* Parse base 36 back to hex with schoolbook multiply-add on a nibble array. */
static void base36_to_hex(const char *b36, char *hex, size_t cap)
{
	unsigned char *nib = calloc(cap, 1);
	size_t n = 1, i;
	const char *p;

	assert_non_null(nib);
	for (p = b36; *p; p++) {
		unsigned carry = (unsigned)(*p <= '9' ? *p - '0' : *p - 'a' + 10);

		for (i = 0; i < n; i++) {
			unsigned v = nib[i] * 36u + carry;

			nib[i] = (unsigned char)(v & 15);
			carry = v >> 4;
		}
		while (carry) {
			assert_true(n < cap);
			nib[n++] = (unsigned char)(carry & 15);
			carry >>= 4;
		}
	}
	while (n > 1 && nib[n - 1] == 0)
		n--;
	for (i = 0; i < n; i++)
		hex[i] = "0123456789abcdef"[nib[n - 1 - i]];
	hex[n] = '\0';
	free(nib);
}

static void test_base36_long_roundtrip(void **state)
{
	static const size_t lens[] = {1, 7, 8, 9, 31, 32, 33, 100, 257, 1000, 4097};
	char *in = malloc(4100), *back = malloc(4200), *out;
	unsigned seed = 99;
	size_t k, i;

	assert_non_null(in);
	assert_non_null(back);
	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		in[0] = "123456789abcdef"[rand_r(&seed) % 15];
		for (i = 1; i < lens[k]; i++)
			in[i] = "0123456789abcdef"[rand_r(&seed) % 16];
		in[lens[k]] = '\0';
		assert_int_equal(skyutil_base36_encode(in, &out), 0);
		assert_true(out[0] != '0');
		base36_to_hex(out, back, 4200);
		assert_string_equal(back, in);
		free(out);
	}
	free(in);
	free(back);
}

static void test_base36_limit(void **state)
{
	size_t len = SKYUTIL_BASE36_MAX_DIGITS + 1;
	char *in = malloc(len + 8), *out;

	assert_non_null(in);
	memset(in, 'f', len);
	in[len] = '\0';
	b36_err(in, -E2BIG);
	/* Leading zeros are not significant. */
	in[0] = '0';
	assert_int_equal(skyutil_base36_encode(in, &out), 0);
	/* 16^65536 - 1 (65536 'f's): 50706 base-36 digits ending in "4f" (CPython). */
	assert_int_equal(strlen(out), 50706);
	assert_string_equal(out + 50704, "4f");
	free(out);
	free(in);
}

static void ff_ok(double num, int precision, const char *want)
{
	char *out = NULL;

	assert_int_equal(skyutil_format_float(num, precision, &out), 0);
	assert_string_equal(out, want);
	free(out);
}

static void test_format_float(void **state)
{
	char *out = (char *)"untouched";

	ff_ok(5, 1, "5");
	ff_ok(5.0, 3, "5");
	ff_ok(-0.0, 1, "-0");
	ff_ok(1.25, 1, "1.2");
	ff_ok(1.35, 1, "1.4");
	ff_ok(0.05, 1, "0.1");
	ff_ok(0.125, 2, "0.12");
	ff_ok(123.456, 2, "123.46");
	ff_ok(-1.5, 0, "-2");
	ff_ok(2.5, 0, "2");
	ff_ok(1e-7, 3, "0.000");
	ff_ok(16.0, 1, "16");
	ff_ok(1e20, 1, "100000000000000000000");
	ff_ok(NAN, 1, "nan");
	ff_ok(-NAN, 1, "nan");
	ff_ok(INFINITY, 1, "inf");
	ff_ok(-INFINITY, 1, "-inf");
	assert_int_equal(skyutil_format_float(1.5, -1, &out), -EINVAL);
	assert_int_equal(skyutil_format_float(1.5, SKYUTIL_FORMAT_FLOAT_MAX_PRECISION + 1, &out),
	                 -EINVAL);
	assert_string_equal(out, "untouched");
	/* 2^-1074 has exactly 1074 fraction digits. */
	assert_int_equal(skyutil_format_float(ldexp(1, -1074), 1074, &out), 0);
	assert_int_equal(strlen(out), 1076);
	assert_int_equal(out[1075], '5');
	free(out);
}

/* LC_NUMERIC with a ',' radix must not leak into the result (Python ignores the locale). */
static void test_format_float_locale(void **state)
{
	char cmd[PATH_MAX * 2], *out = NULL;
	int rc;

	snprintf(cmd, sizeof(cmd),
	         "localedef -c -i de_DE -f UTF-8 '%s/de_DE.UTF-8' >/dev/null 2>&1", hutil_dir);
	rc = system(cmd);
	setenv("LOCPATH", hutil_dir, 1);
	if (!setlocale(LC_NUMERIC, "de_DE.UTF-8")) {
		/* cmocka's TAP skip reads as a failure to meson: note it and pass. */
		print_message("# not checked: cannot build a de_DE locale (localedef rc %d)\n", rc);
		unsetenv("LOCPATH");
		return;
	}
	/* The locale is really active: printf uses a comma now. */
	snprintf(cmd, sizeof(cmd), "%.1f", 1.5);
	assert_string_equal(cmd, "1,5");
	assert_int_equal(skyutil_format_float(1.25, 2, &out), 0);
	setlocale(LC_NUMERIC, "C");
	unsetenv("LOCPATH");
	assert_string_equal(out, "1.25");
	free(out);
}

static void tr_ok(const char *s, long max, int middle, const char *want)
{
	char *out = NULL;

	assert_int_equal(skyutil_truncate_long_string(s, max, middle, &out), 0);
	assert_string_equal(out, want);
	free(out);
}

static void test_truncate_end(void **state)
{
	const char *fox = "the quick brown fox jumps over the lazy dog";

	tr_ok("short", 35, 0, "short");
	tr_ok(fox, 43, 0, fox);
	tr_ok(fox, 10, 0, "the quick ...");
	tr_ok(fox, 20, 0, "the quick brown fox ...");
	tr_ok("supercalifragilistic word", 5, 0, "super...");
	tr_ok("a b c d e f g h", 6, 0, "a b c d e...");
	tr_ok("ab ", 2, 0, "ab...");
	tr_ok("  leading spaces here", 4, 0, "  le...");
	tr_ok("hello world", 0, 0, "...");
	/* Python slicing: splits[0][:-2]. */
	tr_ok("hello world", -2, 0, "hel...");
	tr_ok("", 0, 0, "");
}

static void test_truncate_unicode(void **state)
{
	/* Characters, not bytes: "héllo wö" is 8 characters and 10 bytes. */
	tr_ok("h\xc3\xa9llo w\xc3\xb6rld \xc3\xbcn\xc3\xaf"
	      "code stra\xc3\x9f"
	      "e",
	      8, 0, "h\xc3\xa9llo w\xc3\xb6...");
	/* 4-byte characters count as one. */
	tr_ok("\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80 \xf0\x9f\x8e\x89\xf0\x9f\x8e\x89"
	      "\xf0\x9f\x8e\x89 ok",
	      5, 0, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80 \xf0\x9f\x8e\x89...");
	tr_ok("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9"
	      "\xe3\x83\x88\xe3\x81\xa7\xe3\x81\x99",
	      7, 1, "\xe6\x97\xa5\xe6\x9c\xac...\xe3\x81\xa7\xe3\x81\x99");
	tr_ok("\xf0\x9f\x98\x80"
	      "a\xf0\x9f\x98\x80"
	      "b\xf0\x9f\x98\x80"
	      "c\xf0\x9f\x98\x80"
	      "d",
	      6, 1,
	      "\xf0\x9f\x98\x80"
	      "a...d");
	/* Fits by characters although longer in bytes. */
	tr_ok("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 2, 0, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80");
}

static void test_truncate_middle(void **state)
{
	tr_ok("abcdefghij", 5, 1, "a...j");
	tr_ok("abcdefghij", 6, 1, "ab...j");
	tr_ok("abcdefghij", 4, 1, "a...");
	tr_ok("abcdefghij", 3, 1, "...");
	tr_ok("abcdefghij", -1, 1, "...");
	tr_ok("abcdefghij", 10, 1, "abcdefghij");
}

static void test_truncate_invalid(void **state)
{
	static const char *const bad[] = {
	        "\xff",             /* never valid */
	        "ab\xc3",           /* truncated */
	        "\xc0\xaf",         /* overlong '/' */
	        "\xe0\x80\xaf",     /* overlong */
	        "\xed\xa0\x80",     /* surrogate */
	        "\xf4\x90\x80\x80", /* above U+10FFFF */
	        "a\x80z",           /* stray continuation */
	};
	char *out = (char *)"untouched";
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(skyutil_truncate_long_string(bad[i], 1, 0, &out), -EILSEQ);
	assert_int_equal(skyutil_truncate_long_string(NULL, 1, 0, &out), -EINVAL);
	assert_string_equal(out, "untouched");
}

static void repl_ok(const char *in, size_t len, const char *want, size_t want_len)
{
	char *out = NULL;
	size_t out_len = 0;

	assert_int_equal(skyutil_utf8_replace(in, len, &out, &out_len), 0);
	assert_int_equal(out_len, want_len);
	assert_memory_equal(out, want, want_len + 1);
	free(out);
}

#define REPL(in, want) repl_ok(in, sizeof(in) - 1, want, sizeof(want) - 1)
#define FFFD           "\xef\xbf\xbd"

static void test_utf8_replace(void **state)
{
	REPL("", "");
	REPL("plain", "plain");
	REPL("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");
	REPL("\xff\n", FFFD "\n");
	REPL("\xe2\x82", FFFD);
	REPL("\xe2\x82"
	     "A",
	     FFFD "A");
	REPL("\xed\xa0\x80", FFFD FFFD FFFD);
	REPL("\xc0\xaf", FFFD FFFD);
	REPL("\xf0\x9f\x98", FFFD);
	REPL("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);
	REPL("a\x80"
	     "b",
	     "a" FFFD "b");
	REPL("a\0b", "a\0b");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_base36_values),
	        cmocka_unit_test(test_base36_python_syntax),
	        cmocka_unit_test(test_base36_long_roundtrip),
	        cmocka_unit_test(test_base36_limit),
	        cmocka_unit_test(test_format_float),
	        cmocka_unit_test(test_format_float_locale),
	        cmocka_unit_test(test_truncate_end),
	        cmocka_unit_test(test_truncate_unicode),
	        cmocka_unit_test(test_truncate_middle),
	        cmocka_unit_test(test_truncate_invalid),
	        cmocka_unit_test(test_utf8_replace),
	};

	return cmocka_run_group_tests(tests, hutil_setup, hutil_teardown);
}
