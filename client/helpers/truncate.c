/*
 * truncate.c - skyutil_truncate_long_string(): upstream truncate_long_string, counting
 * characters (code points) as Python's len() and slices do.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "skyutil/skyutil.h"

#include "helpers.h"

/* A string as code points: off[i] is the byte offset of character i, off[n] its length. */
struct ustr {
	const char *s;
	size_t *off;
	long n;
};

static int ustr_init(struct ustr *u, const char *s)
{
	size_t len = strlen(s), i = 0, k = 0;

	if (len >= (size_t)LONG_MAX || len > SIZE_MAX / sizeof(size_t) - 1)
		return -E2BIG;
	u->off = malloc((len + 1) * sizeof(size_t));
	if (!u->off)
		return -ENOMEM;
	while (i < len) {
		size_t c = sku_utf8_char_len((const unsigned char *)s + i, len - i);

		if (!c) {
			free(u->off);
			u->off = NULL;
			return -EILSEQ;
		}
		u->off[k++] = i;
		i += c;
	}
	u->off[k] = len;
	u->s = s;
	u->n = (long)k;
	return 0;
}

/* Python's slice index normalisation for s[start:stop] on a string of n characters. */
static long clamp_index(long i, long n)
{
	if (i < 0)
		i = i < -n ? 0 : i + n;
	return i > n ? n : i;
}

/* Append the characters [start, stop) of u (Python slice bounds) to out. */
static char *put_slice(char *out, const struct ustr *u, long start, long stop)
{
	size_t a, b;

	start = clamp_index(start, u->n);
	stop = clamp_index(stop, u->n);
	if (stop <= start)
		return out;
	a = u->off[start];
	b = u->off[stop];
	memcpy(out, u->s + a, b - a);
	return out + (b - a);
}

static char *put_str(char *out, const char *s)
{
	size_t len = strlen(s);

	memcpy(out, s, len);
	return out + len;
}

/*
 * End mode: the prefix of whole words whose letters (spaces not counted) first reach
 * max_length, padded with the following characters up to max_length, then "...".
 */
static char *truncate_end(char *out, const struct ustr *u, long max_length)
{
	long i, first_len = 0, total = 0, word_start = 0, prefix = 0;

	while (first_len < u->n && u->s[u->off[first_len]] != ' ')
		first_len++;
	if (first_len > max_length) {
		/* splits[0][:max_length], with Python's meaning for a negative bound. */
		struct ustr first = {u->s, u->off, first_len};

		out = put_slice(out, &first, 0, max_length);
		return put_str(out, "...");
	}
	/*
	 * Walk the words of s.split(' '). prefix is the length of ' '.join(splits[:i]) for the
	 * word i where the running letter count reaches max_length (or the last word).
	 */
	for (i = 0;; i++) {
		long word_end = word_start;

		while (word_end < u->n && u->s[u->off[word_end]] != ' ')
			word_end++;
		total += word_end - word_start;
		prefix = word_start ? word_start - 1 : 0;
		if (total >= max_length || word_end >= u->n)
			break;
		word_start = word_end + 1;
	}
	if (prefix < max_length)
		prefix = max_length;
	out = put_slice(out, u, 0, prefix);
	return put_str(out, "...");
}

/* Middle mode: head and tail around "...", one more character at the head when odd. */
static char *truncate_middle(char *out, const struct ustr *u, long max_length)
{
	long half, start_len, end_len;

	if (max_length <= 3)
		return put_str(out, "...");
	half = (max_length - 3) / 2;
	start_len = half + (max_length - 3) % 2;
	end_len = half;
	out = put_slice(out, u, 0, start_len);
	out = put_str(out, "...");
	if (end_len)
		out = put_slice(out, u, -end_len, u->n);
	return out;
}

SKYUTIL_EXPORT int skyutil_truncate_long_string(const char *s, long max_length,
                                                int truncate_middle_mode, char **ret_str)
{
	struct ustr u;
	char *out, *end;
	int r;

	if (!s || !ret_str)
		return -EINVAL;
	r = ustr_init(&u, s);
	if (r < 0)
		return r;
	/* The result is a slice of s plus "...". */
	out = malloc(strlen(s) + 4);
	if (!out) {
		free(u.off);
		return -ENOMEM;
	}
	if (u.n <= max_length)
		end = put_slice(out, &u, 0, u.n);
	else if (truncate_middle_mode)
		end = truncate_middle(out, &u, max_length);
	else
		end = truncate_end(out, &u, max_length);
	*end = '\0';
	free(u.off);
	*ret_str = out;
	return 0;
}
