/*
 * signame.h - signal names as clients spell them ("TERM", "SIGTERM", "sigkill", "RTMIN+3"):
 * the daemon reads them off the wire, the CLI off its command line, both with the host's
 * own numbers.
 */
#ifndef SKU_PROTO_SIGNAME_H
#define SKU_PROTO_SIGNAME_H

#include <stddef.h>

/* Highest signal number accepted as an int (Linux: 64). */
int sku_signal_max(void);

/*
 * Signal number for name (len bytes, not NUL-terminated; case-insensitive, "SIG" prefix
 * optional). Returns the number (> 0), or -EINVAL for unknown names.
 */
int sku_signal_from_name(const char *name, size_t len);

/* Validate a numeric signal: the number, or -EINVAL outside 1..sku_signal_max(). */
int sku_signal_from_int(long long v);

#endif
