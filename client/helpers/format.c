/*
 * format.c - skyutil_format_float(): upstream format_float.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skyutil/skyutil.h"

static int dup_str(const char *s, char **ret_str)
{
	char *d = strdup(s);

	if (!d)
		return -ENOMEM;
	*ret_str = d;
	return 0;
}

/*
 * printf's radix character follows LC_NUMERIC (and may be multibyte); Python's format() always
 * writes '.'. Rewrite whatever separates the integer and fraction digits.
 */
static void force_dot(char *s)
{
	char *p = s, *q;

	if (*p == '-')
		p++;
	while (*p >= '0' && *p <= '9')
		p++;
	if (!*p)
		return;
	q = p;
	while (*q && (*q < '0' || *q > '9'))
		q++;
	*p = '.';
	memmove(p + 1, q, strlen(q) + 1);
}

SKYUTIL_EXPORT int skyutil_format_float(double num, int precision, char **ret_str)
{
	char *s;
	int r;

	if (precision < 0 || precision > SKYUTIL_FORMAT_FLOAT_MAX_PRECISION || !ret_str)
		return -EINVAL;
	/* Python prints every NaN as "nan"; glibc would print "-nan" for a negative one. */
	if (isnan(num))
		return dup_str("nan", ret_str);
	if (isinf(num))
		return dup_str(num < 0 ? "-inf" : "inf", ret_str);
	/* float.is_integer(): whole values print without a fraction, "-0" included. */
	if (num == trunc(num))
		r = asprintf(&s, "%.0f", num);
	else
		r = asprintf(&s, "%.*f", precision, num);
	if (r < 0)
		return -ENOMEM;
	force_dot(s);
	*ret_str = s;
	return 0;
}
