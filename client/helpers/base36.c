/*
 * base36.c - skyutil_base36_encode(): upstream base36_encode (int(hex_str, 16) then base 36)
 * for hex strings of any length up to SKYUTIL_BASE36_MAX_DIGITS significant digits.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "skyutil/skyutil.h"

/* 36^6: the largest power of 36 below 2^32, so one division step yields six digits. */
#define B36_POW6 2176782336u

static bool is_space(char c)
{
	/* The ASCII whitespace Python's int() strips. */
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Validate s with the syntax of Python's int(s, 16): surrounding whitespace, one sign, an
 * optional 0x/0X prefix, digits with single underscores between them (one may follow the
 * prefix). On success [*ret_digits, *ret_end) holds the digits
 * (underscores still in them), *ret_negative the sign.
 */
static int parse_hex(const char *s, const char **ret_digits, const char **ret_end,
                     bool *ret_negative)
{
	bool negative = false, any = false, after_sep = true;
	const char *p = s, *digits, *end;

	while (is_space(*p))
		p++;
	if (*p == '+' || *p == '-')
		negative = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		p += 2;
		/* After a prefix an underscore may come first ("0x_ff"). */
		after_sep = false;
	}
	digits = p;
	for (; *p; p++) {
		if (*p == '_') {
			if (after_sep)
				return -EINVAL;
			after_sep = true;
			continue;
		}
		if (hex_value(*p) < 0)
			break;
		any = true;
		after_sep = false;
	}
	if (!any || after_sep)
		return -EINVAL;
	end = p;
	while (is_space(*p))
		p++;
	if (*p)
		return -EINVAL;
	*ret_digits = digits;
	*ret_end = end;
	*ret_negative = negative;
	return 0;
}

SKYUTIL_EXPORT int skyutil_base36_encode(const char *hex, char **ret_str)
{
	static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	const char *digits, *end, *p;
	size_t ndigits = 0, nlimbs, i, cap, o = 0;
	uint32_t *limbs;
	bool negative, nonzero = false;
	char *out, *str;
	int r;

	if (!hex || !ret_str)
		return -EINVAL;
	r = parse_hex(hex, &digits, &end, &negative);
	if (r < 0)
		return r;
	for (p = digits; p < end; p++) {
		if (*p == '_')
			continue;
		if (!nonzero && *p == '0')
			continue;
		nonzero = true;
		ndigits++;
	}
	/* Upstream loops forever on a negative value; zero keeps its "0" even as "-0". */
	if (negative && nonzero)
		return -EINVAL;
	if (ndigits > SKYUTIL_BASE36_MAX_DIGITS)
		return -E2BIG;
	if (!nonzero) {
		str = strdup("0");
		if (!str)
			return -ENOMEM;
		*ret_str = str;
		return 0;
	}

	/* Little-endian 32-bit limbs, eight hex digits each, filled from the last digit. */
	nlimbs = (ndigits + 7) / 8;
	limbs = calloc(nlimbs, sizeof(*limbs));
	/* 32 bits need at most 6.2 base-36 digits; each division step emits six. */
	cap = nlimbs * 7 + 7;
	out = malloc(cap);
	if (!limbs || !out) {
		free(limbs);
		free(out);
		return -ENOMEM;
	}
	i = 0;
	for (p = end; p > digits && i < ndigits;) {
		p--;
		if (*p == '_')
			continue;
		limbs[i / 8] |= (uint32_t)hex_value(*p) << (4 * (i % 8));
		i++;
	}

	while (nlimbs) {
		uint64_t rem = 0;
		int k;

		for (i = nlimbs; i-- > 0;) {
			uint64_t cur = (rem << 32) | limbs[i];

			limbs[i] = (uint32_t)(cur / B36_POW6);
			rem = cur % B36_POW6;
		}
		while (nlimbs && limbs[nlimbs - 1] == 0)
			nlimbs--;
		for (k = 0; k < 6; k++) {
			out[o++] = alphabet[rem % 36];
			rem /= 36;
		}
	}
	free(limbs);
	/* Digits came out least significant first, padded to six per step. */
	while (o > 1 && out[o - 1] == '0')
		o--;
	for (i = 0; i < o / 2; i++) {
		char t = out[i];

		out[i] = out[o - 1 - i];
		out[o - 1 - i] = t;
	}
	out[o] = '\0';
	*ret_str = out;
	return 0;
}
