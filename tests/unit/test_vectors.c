/*
 * test_vectors.c - every golden vector in proto/vectors/ behaves as its MANIFEST line says.
 *
 * Usage: test_vectors DIR. Each vector is also fed in two parts at every split point, the way
 * a socket may deliver it, and must give the same verdict once complete.
 */
#include <stdio.h>

#include "unit.h"

static const char *dir;

static char *read_file(const char *name, size_t *ret_len)
{
	char path[4096];
	FILE *f;
	char *buf;
	long n;

	assert_true(snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path));
	f = fopen(path, "rbe");
	if (!f)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0 && n < 16 * 1024 * 1024);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*ret_len = (size_t)n;
	return buf;
}

static int expected_prescan(const char *word)
{
	if (strcmp(word, "message") == 0)
		return 1;
	if (strcmp(word, "needmore") == 0)
		return 0;
	if (strcmp(word, "EMSGSIZE") == 0)
		return -EMSGSIZE;
	if (strcmp(word, "EBADMSG") == 0)
		return -EBADMSG;
	fail_msg("bad MANIFEST prescan outcome '%s'", word);
	return 99;
}

static void check_vector(const char *name, const char *pre, const char *dec, unsigned *counts)
{
	size_t len, got = 0;
	char *buf = read_file(name, &len);
	int want = expected_prescan(pre);

	print_message("# %s\n", name);
	assert_int_equal(sku_prescan(buf, len, SKU_MAX_MESSAGE_DEFAULT, SKU_MAX_DEPTH, &got), want);
	/* no prefix of a vector may give a different final verdict than need-more */
	for (size_t k = 0; k < len; k++) {
		int r = sku_prescan(buf, k, SKU_MAX_MESSAGE_DEFAULT, SKU_MAX_DEPTH, &got);

		if (want == 1 || want == 0)
			assert_int_equal(r, 0);
		else
			assert_true(r == 0 || r == want);
	}
	if (want == 1) {
		msgpack_zone zone;
		struct sku_msg msg;
		const char *why = NULL;
		int r;

		assert_int_equal(
		        sku_prescan(buf, len, SKU_MAX_MESSAGE_DEFAULT, SKU_MAX_DEPTH, &got), 1);
		assert_int_equal(got, len);
		assert_true(msgpack_zone_init(&zone, 1024));
		r = sku_decode(buf, len, &zone, &msg, &why);
		if (strcmp(dec, "ok") == 0) {
			assert_int_equal(r, 0);
			assert_true(strncmp(name, "ok-", 3) == 0);
		} else {
			assert_int_equal(r, -EBADMSG);
			assert_string_equal(why, dec);
			assert_true(strncmp(name, "bad-", 4) == 0);
		}
		msgpack_zone_destroy(&zone);
	} else {
		assert_string_equal(dec, "-");
		assert_true(strncmp(name, "bad-", 4) == 0);
	}
	counts[strncmp(name, "ok-", 3) == 0 ? 0 : 1]++;
	free(buf);
}

static void test_manifest(void **state)
{
	size_t len;
	char *manifest = read_file("MANIFEST", &len);
	char *line, *save = NULL;
	unsigned counts[2] = {0, 0};

	manifest = realloc(manifest, len + 1);
	assert_non_null(manifest);
	manifest[len] = '\0';
	for (line = strtok_r(manifest, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f1 = line, *f2, *f3;

		f2 = strchr(f1, '\t');
		assert_non_null(f2);
		*f2++ = '\0';
		f3 = strchr(f2, '\t');
		assert_non_null(f3);
		*f3++ = '\0';
		check_vector(f1, f2, f3, counts);
	}
	/* a truncated or empty MANIFEST must not pass silently */
	assert_true(counts[0] >= 10);
	assert_true(counts[1] >= 30);
	free(manifest);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_manifest),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s VECTOR_DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	return cmocka_run_group_tests_name("vectors", tests, NULL, NULL);
}
