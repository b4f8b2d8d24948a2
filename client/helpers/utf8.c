/*
 * utf8.c - strict UTF-8 decoding and Python-compatible replacement of invalid sequences.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "skyutil/skyutil.h"

#include "helpers.h"

/*
 * Valid range of the second byte for each lead byte (Unicode table 3-7); every later byte is
 * 0x80..0xBF. Narrower second-byte ranges exclude overlongs, surrogates and > U+10FFFF.
 */
static bool lead_info(unsigned char c, size_t *ret_len, unsigned char *ret_lo,
                      unsigned char *ret_hi)
{
	*ret_lo = 0x80;
	*ret_hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		*ret_len = 2;
	else if (c == 0xE0)
		*ret_len = 3, *ret_lo = 0xA0;
	else if (c == 0xED)
		*ret_len = 3, *ret_hi = 0x9F;
	else if (c >= 0xE1 && c <= 0xEF)
		*ret_len = 3;
	else if (c == 0xF0)
		*ret_len = 4, *ret_lo = 0x90;
	else if (c == 0xF4)
		*ret_len = 4, *ret_hi = 0x8F;
	else if (c >= 0xF1 && c <= 0xF3)
		*ret_len = 4;
	else
		return false;
	return true;
}

/* Number of leading bytes of s[0..len) that match a valid sequence so far. */
static size_t valid_prefix(const unsigned char *s, size_t len, size_t *ret_need)
{
	unsigned char lo, hi;
	size_t need, i;

	if (len == 0)
		return 0;
	if (s[0] < 0x80) {
		*ret_need = 1;
		return 1;
	}
	if (!lead_info(s[0], &need, &lo, &hi)) {
		*ret_need = 1;
		return 0;
	}
	*ret_need = need;
	for (i = 1; i < need && i < len; i++) {
		if (s[i] < lo || s[i] > hi)
			break;
		lo = 0x80;
		hi = 0xBF;
	}
	return i;
}

size_t sku_utf8_char_len(const unsigned char *s, size_t len)
{
	size_t need = 0;
	size_t got = valid_prefix(s, len, &need);

	return got == need ? got : 0;
}

size_t sku_utf8_invalid_len(const unsigned char *s, size_t len)
{
	size_t need = 0;
	size_t got = valid_prefix(s, len, &need);

	return got ? got : 1;
}

SKYUTIL_EXPORT int skyutil_utf8_replace(const void *data, size_t len, char **ret_str,
                                        size_t *ret_len)
{
	static const char repl[] = "\xEF\xBF\xBD";
	const unsigned char *s = data;
	size_t i = 0, o = 0, cap;
	char *out;

	if (!s && len)
		return -EINVAL;
	/* Each invalid byte grows to at most 3 bytes. */
	if (len > (SIZE_MAX - 1) / 3)
		return -ENOMEM;
	cap = len * 3 + 1;
	out = malloc(cap);
	if (!out)
		return -ENOMEM;
	while (i < len) {
		size_t n = sku_utf8_char_len(s + i, len - i);

		if (n) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, repl, 3);
			o += 3;
			i += sku_utf8_invalid_len(s + i, len - i);
		}
	}
	out[o] = '\0';
	*ret_str = out;
	if (ret_len)
		*ret_len = o;
	return 0;
}
