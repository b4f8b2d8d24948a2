/*
 * test_tail.c - skyutil_read_last_n_lines() against upstream semantics.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "skyutil/skyutil.h"

#include "hutil.h"

/* Tail of content as a list of expected strings, compared element by element. */
static void check_tail(const char *content, size_t content_len, long n, const char *const *want,
                       size_t want_n)
{
	char path[PATH_MAX], **lines = NULL;
	size_t got_n = 99, i;

	hutil_path(path, sizeof(path), "tail.txt");
	hutil_write(path, content, content_len);
	assert_int_equal(skyutil_read_last_n_lines(path, n, &lines, &got_n), 0);
	assert_int_equal(got_n, want_n);
	if (want_n == 0)
		assert_null(lines);
	for (i = 0; i < want_n; i++)
		assert_string_equal(lines[i], want[i]);
	skyutil_lines_free(lines, got_n);
}

#define CHECK(content, n, ...)                                     \
	do {                                                       \
		static const char *const want_[] = {__VA_ARGS__};  \
		check_tail(content, sizeof(content) - 1, n, want_, \
		           sizeof(want_) / sizeof(want_[0]));      \
	} while (0)

static void test_basic(void **state)
{
	CHECK("a\nb\nc\n", 1, "c");
	CHECK("a\nb\nc\n", 2, "b\n", "c");
	CHECK("a\nb\nc\n", 3, "a\n", "b\n", "c");
	CHECK("a\nb\nc\n", 4, "a\n", "b\n", "c");
}

static void test_no_trailing_newline(void **state)
{
	CHECK("a\nb", 1, "b");
	CHECK("a\nb", 2, "a\n", "b");
	CHECK("only", 5, "only");
}

static void test_crlf(void **state)
{
	CHECK("a\r\nb\r\n", 2, "a\n", "b");
	/* rstrip('\r'): every trailing CR goes, inner ones stay, a lone CR does not split. */
	CHECK("a\r\r\nb\rc\r", 2, "a\n", "b\rc");
}

static void test_blank_lines(void **state)
{
	CHECK("\n", 1, "");
	CHECK("\n\n\n", 2, "\n", "");
	CHECK("a\n\n", 5, "a\n", "");
}

static void test_empty_and_zero(void **state)
{
	char path[PATH_MAX], **lines = (char **)1, *missing = "/nonexistent/skyutil/x";
	size_t n = 7;

	check_tail("", 0, 3, NULL, 0);
	check_tail("a\nb\n", 4, 0, NULL, 0);
	/* n = 0 still requires the file, as upstream asserts it exists. */
	assert_int_equal(skyutil_read_last_n_lines(missing, 0, &lines, &n), -ENOENT);
	assert_int_equal(n, 7);
	hutil_path(path, sizeof(path), "neg.txt");
	hutil_write(path, "x\n", 2);
	assert_int_equal(skyutil_read_last_n_lines(path, -1, &lines, &n), -EINVAL);
	assert_int_equal(skyutil_read_last_n_lines(path, 1, NULL, &n), -EINVAL);
	assert_int_equal(n, 7);
}

static void test_bad_files(void **state)
{
	char path[PATH_MAX], **lines = NULL;
	size_t n = 0;

	assert_int_equal(skyutil_read_last_n_lines("/nonexistent/skyutil/x", 2, &lines, &n),
	                 -ENOENT);
	assert_int_equal(skyutil_read_last_n_lines(hutil_dir, 2, &lines, &n), -EISDIR);
	assert_int_equal(skyutil_read_last_n_lines("", 2, &lines, &n), -EINVAL);
	/* A FIFO without writer must be refused, not waited on. */
	hutil_path(path, sizeof(path), "fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(skyutil_read_last_n_lines(path, 2, &lines, &n), -EINVAL);
	assert_null(lines);
}

static void test_raw_bytes(void **state)
{
	/* Invalid UTF-8 comes back untouched; 4-byte characters too. */
	CHECK("\xff\xfe\n\xc3\x28\n", 2, "\xff\xfe\n", "\xc3\x28");
	CHECK("x\n\xf0\x9f\x98\x80 \xf0\x9d\x84\x9e\n", 1, "\xf0\x9f\x98\x80 \xf0\x9d\x84\x9e");
}

static void test_huge_n(void **state)
{
	CHECK("a\nb\n", LONG_MAX, "a\n", "b");
}

static void test_nul_bytes(void **state)
{
	static const char content[] = "x\na\0b\r\nc";
	char path[PATH_MAX], **lines = NULL;
	size_t *lens = NULL, n = 0;

	hutil_path(path, sizeof(path), "nul.txt");
	hutil_write(path, content, sizeof(content) - 1);
	assert_int_equal(skyutil_read_last_n_lines_len(path, 2, &lines, &lens, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(lens[0], 4);
	assert_memory_equal(lines[0], "a\0b\n", 5);
	assert_int_equal(lens[1], 1);
	assert_string_equal(lines[1], "c");
	skyutil_lines_free(lines, n);
	free(lens);
}

/* Upstream on a whole buffer: split on '\n', drop the empty tail, rstrip CRs, add '\n'. */
static size_t reference_tail(const char *buf, size_t len, size_t n, char out[][320])
{
	size_t starts[512], ends[512], count = 0, first, i, s = 0;

	for (i = 0; i <= len; i++) {
		if (i == len || buf[i] == '\n') {
			starts[count] = s;
			ends[count++] = i;
			s = i + 1;
		}
	}
	if (len == 0)
		return 0;
	if (ends[count - 1] == starts[count - 1])
		count--;
	first = count > n ? count - n : 0;
	for (i = first; i < count; i++) {
		size_t e = ends[i], l;

		while (e > starts[i] && buf[e - 1] == '\r')
			e--;
		l = e - starts[i];
		memcpy(out[i - first], buf + starts[i], l);
		if (i != count - 1)
			out[i - first][l++] = '\n';
		out[i - first][l] = '\0';
	}
	return count - first;
}

static void test_random_against_reference(void **state)
{
	static const char alphabet[] = "ab\n\n\r";
	char path[PATH_MAX], buf[300], want[301][320], **lines;
	unsigned seed = 12345;
	int iter;

	hutil_path(path, sizeof(path), "rand.txt");
	for (iter = 0; iter < 2000; iter++) {
		size_t len = (size_t)(rand_r(&seed) % 300), n = (size_t)(rand_r(&seed) % 12), i,
		       want_n, got_n;

		for (i = 0; i < len; i++)
			buf[i] = alphabet[rand_r(&seed) % 5];
		hutil_write(path, buf, len);
		want_n = n ? reference_tail(buf, len, n, want) : 0;
		assert_int_equal(skyutil_read_last_n_lines(path, (long)n, &lines, &got_n), 0);
		assert_int_equal(got_n, want_n);
		for (i = 0; i < want_n; i++)
			assert_string_equal(lines[i], want[i]);
		skyutil_lines_free(lines, got_n);
	}
}

/* Lines longer than any read chunk must come back whole (the Rust branch truncated them). */
static void test_long_lines(void **state)
{
	size_t big = 300 * 1024, total = big * 2 + 4, i;
	char path[PATH_MAX], **lines;
	char *content = malloc(total);
	size_t n;

	assert_non_null(content);
	memset(content, 'x', big);
	content[big] = '\n';
	memset(content + big + 1, 'y', big);
	memcpy(content + 2 * big + 1, "\r\nz", 3);
	hutil_path(path, sizeof(path), "long.txt");
	hutil_write(path, content, total);
	assert_int_equal(skyutil_read_last_n_lines(path, 2, &lines, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(strlen(lines[0]), big + 1);
	for (i = 0; i < big; i++)
		assert_int_equal(lines[0][i], 'y');
	assert_int_equal(lines[0][big], '\n');
	assert_string_equal(lines[1], "z");
	skyutil_lines_free(lines, n);
	assert_int_equal(skyutil_read_last_n_lines(path, 3, &lines, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(strlen(lines[0]), big + 1);
	skyutil_lines_free(lines, n);
	free(content);
}

/* Bytes this process has read through read(2)-family calls so far (/proc/self/io rchar). */
static long long rchar(void)
{
	FILE *f = fopen("/proc/self/io", "re");
	char line[128];
	long long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "rchar: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void test_sparse_3gib(void **state)
{
	static const char tailtext[] = "first\nsecond\r\nthird\nfourth\nfifth";
	const off_t size = (off_t)3 << 30, tail_len = sizeof(tailtext) - 1;
	char path[PATH_MAX], **lines;
	long long before, after;
	size_t n;
	int fd;

	hutil_path(path, sizeof(path), "sparse.log");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	/* "...zeros\nfirst\nsecond..." at the very end, beyond 2^32 bytes. */
	assert_int_equal(pwrite(fd, "\n", 1, size - tail_len - 1), 1);
	assert_int_equal(pwrite(fd, tailtext, (size_t)tail_len, size - tail_len), tail_len);
	assert_int_equal(close(fd), 0);

	before = rchar();
	assert_int_equal(skyutil_read_last_n_lines(path, 4, &lines, &n), 0);
	after = rchar();
	assert_int_equal(n, 4);
	assert_string_equal(lines[0], "second\n");
	assert_string_equal(lines[1], "third\n");
	assert_string_equal(lines[2], "fourth\n");
	assert_string_equal(lines[3], "fifth");
	skyutil_lines_free(lines, n);
	/* Only the end of the 3 GiB file may be read. */
	if (before >= 0 && after >= 0)
		assert_true(after - before < (1 << 20));
	else
		print_message("# /proc/self/io unavailable: read volume not checked\n");
	assert_int_equal(unlink(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_basic),
	        cmocka_unit_test(test_no_trailing_newline),
	        cmocka_unit_test(test_crlf),
	        cmocka_unit_test(test_blank_lines),
	        cmocka_unit_test(test_empty_and_zero),
	        cmocka_unit_test(test_bad_files),
	        cmocka_unit_test(test_raw_bytes),
	        cmocka_unit_test(test_huge_n),
	        cmocka_unit_test(test_nul_bytes),
	        cmocka_unit_test(test_random_against_reference),
	        cmocka_unit_test(test_long_lines),
	        cmocka_unit_test(test_sparse_3gib),
	};

	return cmocka_run_group_tests(tests, hutil_setup, hutil_teardown);
}
