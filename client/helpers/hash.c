/*
 * hash.c - skyutil_hash_file(): upstream hash_file through OpenSSL's EVP digests.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "skyutil/skyutil.h"

#include "helpers.h"

/* Upstream's buffer (2**18 bytes): large enough that syscalls do not dominate. */
#define HASH_BUF (256 * 1024)

/* What upstream callers use through hashlib; all are OpenSSL EVP digests. */
static const char *const hash_algos[] = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512"};

static const char *canonical_algo(const char *algo)
{
	size_t i;

	if (!algo)
		return NULL;
	for (i = 0; i < sizeof(hash_algos) / sizeof(hash_algos[0]); i++)
		if (strcasecmp(algo, hash_algos[i]) == 0)
			return hash_algos[i];
	return NULL;
}

SKYUTIL_EXPORT int skyutil_hash_algo_known(const char *algo)
{
	return canonical_algo(algo) != NULL;
}

static int digest_fd(int fd, EVP_MD_CTX *ctx, unsigned char *buf)
{
	for (;;) {
		ssize_t n = read(fd, buf, HASH_BUF);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			return -EIO;
	}
}

static unsigned char *to_hex(const unsigned char *md, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char *hex = malloc(len * 2 + 1);
	size_t i;

	if (!hex)
		return NULL;
	for (i = 0; i < len; i++) {
		hex[2 * i] = (unsigned char)digits[md[i] >> 4];
		hex[2 * i + 1] = (unsigned char)digits[md[i] & 0xF];
	}
	hex[2 * len] = '\0';
	return hex;
}

SKYUTIL_EXPORT int skyutil_hash_file(const char *path, const char *algo, int hex,
                                     unsigned char **ret_digest, size_t *ret_len)
{
	unsigned char md[EVP_MAX_MD_SIZE], *out = NULL, *buf = NULL;
	const char *name = canonical_algo(algo);
	EVP_MD_CTX *ctx = NULL;
	EVP_MD *evp = NULL;
	unsigned int mdlen = 0;
	int fd, r;

	if (!name || !ret_digest || !ret_len)
		return -EINVAL;
	fd = sku_helper_open(path, NULL);
	if (fd < 0)
		return fd;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

	r = -ENOMEM;
	buf = malloc(HASH_BUF);
	ctx = EVP_MD_CTX_new();
	if (!buf || !ctx)
		goto out;
	/* Fetch explicitly: unavailable algorithms (md5 under FIPS) fail here, not mid-file. */
	evp = EVP_MD_fetch(NULL, name, NULL);
	if (!evp || EVP_DigestInit_ex(ctx, evp, NULL) != 1) {
		r = -EOPNOTSUPP;
		goto out;
	}
	r = digest_fd(fd, ctx, buf);
	if (r < 0)
		goto out;
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1) {
		r = -EIO;
		goto out;
	}
	if (hex) {
		out = to_hex(md, mdlen);
	} else {
		out = malloc(mdlen);
		if (out)
			memcpy(out, md, mdlen);
	}
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	*ret_digest = out;
	*ret_len = hex ? 2 * (size_t)mdlen : mdlen;
	r = 0;
out:
	EVP_MD_free(evp);
	EVP_MD_CTX_free(ctx);
	free(buf);
	close(fd);
	return r;
}
