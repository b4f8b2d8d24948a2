/*
 * errors.c - the wire error table (SKU_ERROR_MAP) and the one errno → wire mapping.
 *
 * errno numbers differ between Linux and macOS, so they never cross the wire; everything that
 * turns a local failure into a reply goes through sku_err_from_errno().
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "sku_proto.h"

static const char *const names[SKU_ERR__MAX] = {
#define SKU_ERR_NAME(name, code) [code] = #name,
        SKU_ERROR_MAP(SKU_ERR_NAME)
#undef SKU_ERR_NAME
};

const char *sku_err_name(int code)
{
	if (code <= 0 || code >= SKU_ERR__MAX || !names[code])
		return "UNKNOWN";
	return names[code];
}

int sku_err_from_name(const char *name, size_t len)
{
	if (!name)
		return 0;
	for (int code = 1; code < SKU_ERR__MAX; code++)
		if (names[code] && strlen(names[code]) == len &&
		    memcmp(names[code], name, len) == 0)
			return code;
	return 0;
}

enum sku_err sku_err_from_errno(int neg_errno)
{
	/* Either sign is accepted; INT_MIN has no positive counterpart and is no errno. */
	if (neg_errno == INT_MIN)
		return SKU_ERR_INTERNAL;
	switch (neg_errno < 0 ? -neg_errno : neg_errno) {
	case ESRCH:
		return SKU_ERR_NO_SUCH_PROCESS;
	case EPERM:
	case EACCES:
		return SKU_ERR_PERMISSION_DENIED;
	case EINVAL:
	case ERANGE:
		return SKU_ERR_INVALID_ARGUMENT;
	case EMFILE:
	case ENFILE:
	case ENOMEM:
	case ENOSPC:
	case EAGAIN:
		return SKU_ERR_RESOURCE_EXHAUSTED;
	case EMSGSIZE:
		return SKU_ERR_TOO_LARGE;
	case EBADMSG:
	case EPROTO:
		return SKU_ERR_BAD_REQUEST;
	case ENOSYS:
	case EOPNOTSUPP:
#if ENOTSUP != EOPNOTSUPP
	case ENOTSUP:
#endif
		return SKU_ERR_UNAVAILABLE;
	case ETIMEDOUT:
		return SKU_ERR_TIMEOUT;
	default:
		return SKU_ERR_INTERNAL;
	}
}
