/*
 * test_hash.c - skyutil_hash_file() against published digests and in-memory OpenSSL.
 */
#include "config.h"

#include <openssl/evp.h>
#include <stdint.h>

#include "skyutil/skyutil.h"

#include "hutil.h"

static void check_hex(const char *path, const char *algo, const char *want)
{
	unsigned char *digest = NULL;
	size_t len = 0;

	assert_int_equal(skyutil_hash_file(path, algo, 1, &digest, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal((char *)digest, want);
	free(digest);
}

static void test_known_digests(void **state)
{
	char path[PATH_MAX];

	hutil_path(path, sizeof(path), "abc");
	hutil_write(path, "abc", 3);
	check_hex(path, "md5", "900150983cd24fb0d6963f7d28e17f72");
	check_hex(path, "sha1", "a9993e364706816aba3e25717850c26c9cd0d89d");
	check_hex(path, "sha256",
	          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_hex(path, "sha512",
	          "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	          "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	/* Algorithm names are case-insensitive. */
	check_hex(path, "SHA256",
	          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_hex(path, "Md5", "900150983cd24fb0d6963f7d28e17f72");
}

static void test_empty_file(void **state)
{
	char path[PATH_MAX];

	hutil_path(path, sizeof(path), "empty");
	hutil_write(path, "", 0);
	check_hex(path, "sha256",
	          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_hex(path, "md5", "d41d8cd98f00b204e9800998ecf8427e");
}

static void test_raw_digest(void **state)
{
	static const unsigned char want[32] = {
	        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
	        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
	        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	unsigned char *digest = NULL;
	char path[PATH_MAX];
	size_t len = 0;

	hutil_path(path, sizeof(path), "abc");
	hutil_write(path, "abc", 3);
	assert_int_equal(skyutil_hash_file(path, "sha256", 0, &digest, &len), 0);
	assert_int_equal(len, 32);
	assert_memory_equal(digest, want, 32);
	free(digest);
	assert_int_equal(skyutil_hash_file(path, "sha512", 0, &digest, &len), 0);
	assert_int_equal(len, 64);
	free(digest);
}

static void test_errors(void **state)
{
	unsigned char *digest = (unsigned char *)"untouched";
	char path[PATH_MAX];
	size_t len = 5;

	hutil_path(path, sizeof(path), "abc");
	hutil_write(path, "abc", 3);
	assert_int_equal(skyutil_hash_file(path, "sha3-256", 1, &digest, &len), -EINVAL);
	assert_int_equal(skyutil_hash_file(path, "", 1, &digest, &len), -EINVAL);
	assert_int_equal(skyutil_hash_file(path, NULL, 1, &digest, &len), -EINVAL);
	assert_int_equal(skyutil_hash_file("/nonexistent/skyutil/x", "md5", 1, &digest, &len),
	                 -ENOENT);
	assert_int_equal(skyutil_hash_file(hutil_dir, "md5", 1, &digest, &len), -EISDIR);
	hutil_path(path, sizeof(path), "fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(skyutil_hash_file(path, "md5", 1, &digest, &len), -EINVAL);
	assert_string_equal((char *)digest, "untouched");
	assert_int_equal(len, 5);
}

/* Hex of OpenSSL's one-shot digest of a buffer: the same algorithm, no file I/O. */
static void evp_hex(const char *algo, const void *data, size_t len, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_get_digestbyname(algo), NULL), 1);
	for (i = 0; i < mdlen; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void test_multi_buffer_file(void **state)
{
	/* Spans several 256 KiB reads and ends in a partial one. */
	size_t len = 3 * 256 * 1024 + 12345, i;
	unsigned char *data = malloc(len);
	char path[PATH_MAX], want[2 * EVP_MAX_MD_SIZE + 1];
	static const char *const algos[] = {"md5", "sha1", "sha256", "sha512"};
	unsigned seed = 7;

	assert_non_null(data);
	for (i = 0; i < len; i++)
		data[i] = (unsigned char)rand_r(&seed);
	hutil_path(path, sizeof(path), "random.bin");
	hutil_write(path, data, len);
	for (i = 0; i < 4; i++) {
		evp_hex(algos[i], data, len, want);
		check_hex(path, algos[i], want);
	}
	free(data);
}

static void test_sparse_1gib(void **state)
{
	static const char tailtext[] = "line one\nline two\n";
	const size_t zero_len = (size_t)1 << 30, tail_len = sizeof(tailtext) - 1, chunk = 1 << 20;
	char path[PATH_MAX], want[2 * EVP_MAX_MD_SIZE + 1];
	unsigned char md[EVP_MAX_MD_SIZE], *zeros = calloc(1, chunk);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int mdlen = 0, i;
	size_t done;
	int fd;

	assert_non_null(zeros);
	assert_non_null(ctx);
	hutil_path(path, sizeof(path), "sparse.bin");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)zero_len), 0);
	assert_int_equal(pwrite(fd, tailtext, tail_len, (off_t)zero_len), (ssize_t)tail_len);
	assert_int_equal(close(fd), 0);

	/* Expectation: the same bytes fed from memory, 1 MiB of zeros at a time. */
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	for (done = 0; done < zero_len; done += chunk)
		assert_int_equal(EVP_DigestUpdate(ctx, zeros, chunk), 1);
	assert_int_equal(EVP_DigestUpdate(ctx, tailtext, tail_len), 1);
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &mdlen), 1);
	for (i = 0; i < mdlen; i++)
		sprintf(want + 2 * i, "%02x", md[i]);
	check_hex(path, "sha256", want);
	EVP_MD_CTX_free(ctx);
	free(zeros);
	assert_int_equal(unlink(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_known_digests),     cmocka_unit_test(test_empty_file),
	        cmocka_unit_test(test_raw_digest),        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_multi_buffer_file), cmocka_unit_test(test_sparse_1gib),
	};

	return cmocka_run_group_tests(tests, hutil_setup, hutil_teardown);
}
