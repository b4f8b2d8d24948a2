/*
 * test_vectors.c - the C helpers against tests/vectors/helpers.json, the vectors generated
 * from upstream-equivalent Python and shared with the Python client's tests.
 */
#include "config.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>

#include "skyutil/skyutil.h"

#include "hutil.h"

static json_t *vectors;

static const struct {
	const char *name;
	int err;
} error_names[] = {
        {"EINVAL", EINVAL}, {"E2BIG", E2BIG},   {"EILSEQ", EILSEQ},
        {"ENOENT", ENOENT}, {"EISDIR", EISDIR}, {"EADDRNOTAVAIL", EADDRNOTAVAIL},
};

/* -errno for the vector's "error" name, or 0 when the vector expects success. */
static int expected_error(const json_t *v)
{
	const char *name = json_string_value(json_object_get(v, "error"));
	size_t i;

	if (!name)
		return 0;
	for (i = 0; i < sizeof(error_names) / sizeof(error_names[0]); i++)
		if (strcmp(name, error_names[i].name) == 0)
			return -error_names[i].err;
	fail_msg("vector names unknown error %s", name);
	return 0;
}

static int free_vectors(void **state)
{
	json_decref(vectors);
	return hutil_teardown(state);
}

/* The array of one section; main() registers a test only for sections that exist. */
static json_t *section(const char *name)
{
	json_t *arr = json_object_get(vectors, name);

	assert_true(json_is_array(arr));
	return arr;
}

/* Optional string member; JSON null and absence both mean NULL. */
static const char *opt_str(const json_t *v, const char *key)
{
	return json_string_value(json_object_get(v, key));
}

static long long int_member(const json_t *v, const char *key, long long dflt)
{
	const json_t *m = json_object_get(v, key);

	if (!m)
		return dflt;
	assert_true(json_is_integer(m));
	return json_integer_value(m);
}

/* The file content of a vector: "content" (UTF-8 text) or "content_hex" (raw bytes). */
static unsigned char *vector_content(const json_t *v, size_t *ret_len)
{
	const json_t *text = json_object_get(v, "content");
	const char *hex = opt_str(v, "content_hex");
	unsigned char *buf;
	size_t len, i;

	if (json_is_string(text)) {
		len = json_string_length(text);
		buf = malloc(len + 1);
		assert_non_null(buf);
		memcpy(buf, json_string_value(text), len);
	} else {
		assert_non_null(hex);
		len = strlen(hex) / 2;
		buf = malloc(len + 1);
		assert_non_null(buf);
		for (i = 0; i < len; i++) {
			unsigned byte;

			assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
			buf[i] = (unsigned char)byte;
		}
	}
	*ret_len = len;
	return buf;
}

static void test_base36(void **state)
{
	json_t *arr = section("base36_encode"), *v;
	size_t i;

	json_array_foreach(arr, i, v)
	{
		const char *in = opt_str(v, "in");
		int want = expected_error(v);
		char *out = NULL;

		assert_non_null(in);
		assert_int_equal(skyutil_base36_encode(in, &out), want);
		if (!want)
			assert_string_equal(out, opt_str(v, "out"));
		free(out);
	}
	print_message("# %zu base36_encode vectors\n", json_array_size(arr));
}

static void test_format_float(void **state)
{
	json_t *arr = section("format_float"), *v;
	size_t i, checked = 0;

	json_array_foreach(arr, i, v)
	{
		const json_t *num = json_object_get(v, "num");
		int precision = (int)int_member(v, "precision", 1), want = expected_error(v);
		double d;
		char *out = NULL;

		if (json_is_integer(num)) {
			json_int_t iv = json_integer_value(num);

			/* An int without an exact double cannot be passed to the C function. */
			d = (double)iv;
			if (d >= 0x1p63 || (json_int_t)d != iv)
				continue;
		} else if (json_is_real(num)) {
			d = json_real_value(num);
		} else {
			/* Non-finite values travel as strings: "nan", "inf", "-inf". */
			const char *s = json_string_value(num);

			assert_non_null(s);
			d = strcmp(s, "nan") == 0    ? NAN
			    : strcmp(s, "-inf") == 0 ? -INFINITY
			                             : INFINITY;
		}
		assert_int_equal(skyutil_format_float(d, precision, &out), want);
		if (!want)
			assert_string_equal(out, opt_str(v, "out"));
		free(out);
		checked++;
	}
	print_message("# %zu of %zu format_float vectors (others exceed a double)\n", checked,
	              json_array_size(arr));
}

static void test_truncate(void **state)
{
	json_t *arr = section("truncate_long_string"), *v;
	size_t i;

	json_array_foreach(arr, i, v)
	{
		const char *s = opt_str(v, "s");
		long max_length = (long)int_member(v, "max_length", 35);
		int middle = json_is_true(json_object_get(v, "truncate_middle")),
		    want = expected_error(v);
		char *out = NULL;

		assert_non_null(s);
		assert_int_equal(skyutil_truncate_long_string(s, max_length, middle, &out), want);
		if (!want)
			assert_string_equal(out, opt_str(v, "out"));
		free(out);
	}
	print_message("# %zu truncate_long_string vectors\n", json_array_size(arr));
}

static void test_read_last_n_lines(void **state)
{
	json_t *arr = section("read_last_n_lines"), *v;
	char path[PATH_MAX];
	size_t i;

	hutil_path(path, sizeof(path), "vector.txt");
	json_array_foreach(arr, i, v)
	{
		size_t len, n = 0, k, *lens = NULL;
		unsigned char *content = vector_content(v, &len);
		const json_t *out = json_object_get(v, "out");
		int want = expected_error(v);
		char **lines = NULL;

		hutil_write(path, content, len);
		free(content);
		assert_int_equal(skyutil_read_last_n_lines_len(path, (long)int_member(v, "n", 0),
		                                               &lines, &lens, &n),
		                 want);
		if (want)
			continue;
		assert_int_equal(n, json_array_size(out));
		/* Python decoded with errors='replace'; the C lines are raw bytes. */
		for (k = 0; k < n; k++) {
			const json_t *w = json_array_get(out, k);
			char *decoded = NULL;
			size_t dlen = 0;

			assert_int_equal(skyutil_utf8_replace(lines[k], lens[k], &decoded, &dlen),
			                 0);
			assert_int_equal(dlen, json_string_length(w));
			assert_memory_equal(decoded, json_string_value(w), dlen);
			free(decoded);
		}
		skyutil_lines_free(lines, n);
		free(lens);
	}
	print_message("# %zu read_last_n_lines vectors\n", json_array_size(arr));
}

static void test_hash_file(void **state)
{
	json_t *arr = section("hash_file"), *v;
	char path[PATH_MAX];
	size_t i;

	hutil_path(path, sizeof(path), "vector.bin");
	json_array_foreach(arr, i, v)
	{
		size_t len, dlen = 0;
		unsigned char *content = vector_content(v, &len), *digest = NULL;
		int want = expected_error(v);

		hutil_write(path, content, len);
		free(content);
		assert_int_equal(skyutil_hash_file(path, opt_str(v, "algo"), 1, &digest, &dlen),
		                 want);
		if (!want)
			assert_string_equal((char *)digest, opt_str(v, "hex"));
		free(digest);
	}
	print_message("# %zu hash_file vectors\n", json_array_size(arr));
}

static void test_parallel_threads(void **state)
{
	json_t *arr = section("parallel_threads"), *v;
	size_t i;

	json_array_foreach(arr, i, v)
	{
		assert_int_equal(skyutil_parallel_threads(int_member(v, "cpu_count", 1),
		                                          opt_str(v, "cloud")),
		                 int_member(v, "out", -1));
	}
	print_message("# %zu parallel_threads vectors\n", json_array_size(arr));
}

static void test_max_workers(void **state)
{
	json_t *arr = section("max_workers_for_file_mounts"), *v;
	size_t i;

	json_array_foreach(arr, i, v)
	{
		assert_int_equal(skyutil_max_workers_for_file_mounts(
		                         int_member(v, "nofile_soft", 1024),
		                         int_member(v, "fds_per_source", 5),
		                         int_member(v, "cpu_count", 1), opt_str(v, "cloud")),
		                 int_member(v, "out", -1));
	}
	print_message("# %zu max_workers_for_file_mounts vectors\n", json_array_size(arr));
}

int main(void)
{
	static const struct CMUnitTest all[] = {
	        cmocka_unit_test(test_base36),      cmocka_unit_test(test_format_float),
	        cmocka_unit_test(test_truncate),    cmocka_unit_test(test_read_last_n_lines),
	        cmocka_unit_test(test_hash_file),   cmocka_unit_test(test_parallel_threads),
	        cmocka_unit_test(test_max_workers),
	};
	/* Section of each test above, in the same order. */
	static const char *const sections[] = {
	        "base36_encode",
	        "format_float",
	        "truncate_long_string",
	        "read_last_n_lines",
	        "hash_file",
	        "parallel_threads",
	        "max_workers_for_file_mounts",
	};
	struct CMUnitTest tests[sizeof(all) / sizeof(all[0])];
	const char *src = getenv("SKYUTIL_SRCDIR");
	char path[PATH_MAX];
	json_error_t err;
	size_t i, n = 0;

	snprintf(path, sizeof(path), "%s/tests/vectors/helpers.json", src ? src : ".");
	vectors = json_load_file(path, JSON_ALLOW_NUL, &err);
	if (!vectors && access(path, F_OK) == 0) {
		printf("1..1\nnot ok 1 - %s: %s (line %d)\n", path, err.text, err.line);
		return 1;
	}
	if (!vectors) {
		/* TAP: an empty plan with SKIP marks the whole test skipped. */
		printf("1..0 # SKIP cannot load %s: %s\n", path, err.text);
		return 0;
	}
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const json_t *arr = json_object_get(vectors, sections[i]);

		if (json_is_array(arr) && json_array_size(arr) > 0)
			tests[n++] = all[i];
		else
			printf("# no %s vectors in %s\n", sections[i], path);
	}
	if (n == 0) {
		printf("1..0 # SKIP no known section in %s\n", path);
		json_decref(vectors);
		return 0;
	}
	return _cmocka_run_group_tests("vectors", tests, n, hutil_setup, free_vectors);
}
