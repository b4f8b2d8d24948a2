/*
 * helpers.h - internal seams shared by the in-process helpers of libskyutil.
 */
#ifndef SKU_HELPERS_H
#define SKU_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Open path read-only for the file-reading helpers. Only regular files and block devices are
 * accepted: a FIFO would block the caller and a directory cannot be read. Returns the fd
 * (O_CLOEXEC, owned by the caller: close() it) or -ENOENT, -EACCES, -EISDIR, -EINVAL (other
 * file types), ... When ret_size is non-NULL it receives the current size in bytes.
 */
int sku_helper_open(const char *path, off_t *ret_size);

/*
 * Decode one strictly valid UTF-8 character (no overlongs, surrogates or values above
 * U+10FFFF, as Python's decoder) from s[0..len). Returns its length in bytes (1..4), or 0
 * when s does not start with a valid character.
 */
size_t sku_utf8_char_len(const unsigned char *s, size_t len);

/*
 * Length of the maximal prefix of s[0..len) (len >= 1) that could start a valid character,
 * at least 1: the number of bytes Python's "replace" error handler turns into one U+FFFD.
 */
size_t sku_utf8_invalid_len(const unsigned char *s, size_t len);

/* Saturating arithmetic for the worker-count helpers. */
static inline int64_t sku_sat_mul64(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_mul_overflow(a, b, &r))
		return ((a < 0) != (b < 0)) ? INT64_MIN : INT64_MAX;
	return r;
}

#endif
