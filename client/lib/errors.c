/*
 * errors.c - descriptions of every return code of libskyutil.
 *
 * Own table rather than strerror(): strerror() is not thread-safe and its text differs
 * between libcs, while these strings are part of what the CLI prints.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "skyutil/skyutil.h"

#include "sku_proto.h"

#define LOCAL_ERRORS(X)                                               \
	X(ENOENT, "no such file or directory (is skyutild running?)") \
	X(ECONNREFUSED, "connection refused (is skyutild running?)")  \
	X(ETIMEDOUT, "timed out waiting for skyutild")                \
	X(EPIPE, "connection to skyutild lost; open a new client")    \
	X(ECONNRESET, "connection to skyutild reset")                 \
	X(EINVAL, "invalid argument")                                 \
	X(ENOMEM, "out of memory")                                    \
	X(EBADMSG, "malformed message from skyutild")                 \
	X(EMSGSIZE, "message from skyutild too large")                \
	X(ENOBUFS, "too many unprocessed notifications")              \
	X(ENAMETOOLONG, "socket path too long")                       \
	X(EACCES, "permission denied")                                \
	X(EPERM, "operation not permitted")                           \
	X(EISDIR, "is a directory")                                   \
	X(ENOTDIR, "not a directory")                                 \
	X(EILSEQ, "invalid UTF-8")                                    \
	X(EADDRNOTAVAIL, "no free port available")                    \
	X(ERANGE, "value out of range")                               \
	X(EIO, "input/output error")                                  \
	X(EMFILE, "too many open files")                              \
	X(ENFILE, "too many open files in system")                    \
	X(ENOTSOCK, "not a socket")                                   \
	X(ENOTCONN, "not connected")                                  \
	X(EAGAIN, "resource temporarily unavailable")                 \
	X(ESRCH, "no such process")                                   \
	X(ENOSYS, "function not implemented")                         \
	X(EOVERFLOW, "value too large")                               \
	X(E2BIG, "argument too large")                                \
	X(EOPNOTSUPP, "operation not supported")

#define REMOTE_ERRORS(X)                                                 \
	X(BAD_REQUEST, "skyutild could not read the request")            \
	X(UNKNOWN_METHOD, "skyutild has no such method")                 \
	X(INVALID_ARGUMENT, "skyutild rejected an argument")             \
	X(PERMISSION_DENIED, "skyutild: permission denied")              \
	X(NO_SUCH_PROCESS, "skyutild: no such process")                  \
	X(PID_REUSED, "skyutild: the pid was reused by another process") \
	X(RESOURCE_EXHAUSTED, "skyutild is out of resources")            \
	X(TOO_LARGE, "skyutild: message too large")                      \
	X(UNAVAILABLE, "skyutild: facility unavailable here")            \
	X(INTERNAL, "skyutild internal error")                           \
	X(TIMEOUT, "skyutild timed out")

const char *skyutil_strerror(int rc)
{
	if (rc >= 0)
		return "success";
	if (SKYUTIL_IS_REMOTE(rc)) {
		switch (SKYUTIL_REMOTE_CODE(rc)) {
#define REMOTE_CASE(name, text) \
	case SKU_ERR_##name:    \
		return text;
			REMOTE_ERRORS(REMOTE_CASE)
#undef REMOTE_CASE
		default:
			return "skyutild answered an unknown error";
		}
	}
	switch (-rc) {
#define LOCAL_CASE(e, text) \
	case e:             \
		return text;
		LOCAL_ERRORS(LOCAL_CASE)
#undef LOCAL_CASE
	default:
		return "unknown error";
	}
}

const char *skyutil_remote_name(int rc)
{
	int code;

	if (!SKYUTIL_IS_REMOTE(rc))
		return NULL;
	code = SKYUTIL_REMOTE_CODE(rc);
	if (code <= SKU_OK || code >= SKU_ERR__MAX)
		return NULL;
	return sku_err_name(code);
}

void skyutil_free(void *p)
{
	free(p);
}
