/*
 * unit.h - helpers shared by the proto unit tests (cmocka).
 */
#ifndef SKU_UNIT_H
#define SKU_UNIT_H

/* cmocka.h needs these first, and include sorting would move it above them. */
/* clang-format off */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
/* clang-format on */

#include <msgpack.h>

#include "sku_proto.h"

/* A packer writing into a fresh sbuffer; unit_buf_done() frees it. */
struct unit_buf {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

static inline void unit_buf_init(struct unit_buf *b)
{
	msgpack_sbuffer_init(&b->sb);
	msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

static inline void unit_buf_done(struct unit_buf *b)
{
	msgpack_sbuffer_destroy(&b->sb);
}

/* Result of prescan + decode of bytes; zone is freed by unit_decoded_done(). */
struct unit_decoded {
	msgpack_zone zone;
	struct sku_msg msg;
	const char *why;
	int r;
};

/* Prescan (must find exactly len bytes), then decode. */
static inline int unit_decode(const char *buf, size_t len, struct unit_decoded *d)
{
	size_t mlen = 0;

	assert_int_equal(sku_prescan(buf, len, SKU_MAX_MESSAGE_DEFAULT, SKU_MAX_DEPTH, &mlen), 1);
	assert_int_equal(mlen, len);
	assert_true(msgpack_zone_init(&d->zone, 1024));
	d->why = NULL;
	d->r = sku_decode(buf, len, &d->zone, &d->msg, &d->why);
	return d->r;
}

static inline void unit_decoded_done(struct unit_decoded *d)
{
	msgpack_zone_destroy(&d->zone);
}

#endif
