/*
 * prescan.c - find the end of one msgpack message and prove it is safe to hand to msgpack-c.
 *
 * msgpack-c's unpacker allocates n * sizeof(msgpack_object) as soon as it reads an array or
 * map header, so a 5-byte message declaring 2^28 elements costs gigabytes. This walk touches
 * every header once, allocates nothing, and rejects any declared length that could not fit
 * in what is left of the size budget. It keeps, besides the offset, the number of elements
 * announced by open containers but not yet started ("owed"); each of them needs at least one
 * byte, so the invariant off + owed <= max_size holds after every element and bounds the
 * whole message by max_size.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "sku_proto.h"

static inline uint64_t be16(const uint8_t *p)
{
	return (uint64_t)p[0] << 8 | p[1];
}

static inline uint64_t be32(const uint8_t *p)
{
	return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
}

/* Positive (0x00..0x7f) and negative (0xe0..0xff) fixint: the whole element is one byte. */
static inline bool is_fixint(uint8_t b)
{
	return (uint8_t)(b + 0x20) < 0xa0;
}

/* Kinds of header, by how the size of what follows is found. */
enum kind {
	K_FIXED,     /* hdr bytes in total, no payload */
	K_PAYLOAD,   /* hdr bytes, then a payload of the length in the lenbytes after the tag */
	K_CONTAINER, /* hdr bytes, then mul * count elements, count in the lenbytes after the tag */
	K_INVALID,   /* 0xc1 */
};

struct fmt {
	uint8_t kind;
	uint8_t hdr;      /* tag + length + ext type bytes (for K_FIXED: the whole element) */
	uint8_t lenbytes; /* 0, 1, 2 or 4: big-endian length right after the tag */
	uint8_t mul;      /* elements per counted entry: 2 for maps */
};

/* The tags 0xc0..0xdf; fixint, fixmap, fixarray and fixstr are decoded arithmetically. */
static const struct fmt fmts[32] = {
        [0xc0 - 0xc0] = {K_FIXED, 1, 0, 1},     /* nil */
        [0xc1 - 0xc0] = {K_INVALID, 1, 0, 1},   /* never used */
        [0xc2 - 0xc0] = {K_FIXED, 1, 0, 1},     /* false */
        [0xc3 - 0xc0] = {K_FIXED, 1, 0, 1},     /* true */
        [0xc4 - 0xc0] = {K_PAYLOAD, 2, 1, 1},   /* bin8 */
        [0xc5 - 0xc0] = {K_PAYLOAD, 3, 2, 1},   /* bin16 */
        [0xc6 - 0xc0] = {K_PAYLOAD, 5, 4, 1},   /* bin32 */
        [0xc7 - 0xc0] = {K_PAYLOAD, 3, 1, 1},   /* ext8: len, type */
        [0xc8 - 0xc0] = {K_PAYLOAD, 4, 2, 1},   /* ext16 */
        [0xc9 - 0xc0] = {K_PAYLOAD, 6, 4, 1},   /* ext32 */
        [0xca - 0xc0] = {K_FIXED, 5, 0, 1},     /* float32 */
        [0xcb - 0xc0] = {K_FIXED, 9, 0, 1},     /* float64 */
        [0xcc - 0xc0] = {K_FIXED, 2, 0, 1},     /* uint8 */
        [0xcd - 0xc0] = {K_FIXED, 3, 0, 1},     /* uint16 */
        [0xce - 0xc0] = {K_FIXED, 5, 0, 1},     /* uint32 */
        [0xcf - 0xc0] = {K_FIXED, 9, 0, 1},     /* uint64 */
        [0xd0 - 0xc0] = {K_FIXED, 2, 0, 1},     /* int8 */
        [0xd1 - 0xc0] = {K_FIXED, 3, 0, 1},     /* int16 */
        [0xd2 - 0xc0] = {K_FIXED, 5, 0, 1},     /* int32 */
        [0xd3 - 0xc0] = {K_FIXED, 9, 0, 1},     /* int64 */
        [0xd4 - 0xc0] = {K_FIXED, 3, 0, 1},     /* fixext1: type, data */
        [0xd5 - 0xc0] = {K_FIXED, 4, 0, 1},     /* fixext2 */
        [0xd6 - 0xc0] = {K_FIXED, 6, 0, 1},     /* fixext4 (timestamp32) */
        [0xd7 - 0xc0] = {K_FIXED, 10, 0, 1},    /* fixext8 (timestamp64) */
        [0xd8 - 0xc0] = {K_FIXED, 18, 0, 1},    /* fixext16 */
        [0xd9 - 0xc0] = {K_PAYLOAD, 2, 1, 1},   /* str8 */
        [0xda - 0xc0] = {K_PAYLOAD, 3, 2, 1},   /* str16 */
        [0xdb - 0xc0] = {K_PAYLOAD, 5, 4, 1},   /* str32 */
        [0xdc - 0xc0] = {K_CONTAINER, 3, 2, 1}, /* array16 */
        [0xdd - 0xc0] = {K_CONTAINER, 5, 4, 1}, /* array32 */
        [0xde - 0xc0] = {K_CONTAINER, 3, 2, 2}, /* map16 */
        [0xdf - 0xc0] = {K_CONTAINER, 5, 4, 2}, /* map32 */
};

int sku_prescan(const char *buf, size_t len, size_t max_size, unsigned max_depth, size_t *ret_len)
{
	const uint8_t *p = (const uint8_t *)buf;
	/* remaining[d]: elements not yet started at depth d; depth 0 holds the message itself. */
	uint64_t remaining[SKU_PRESCAN_DEPTH_MAX + 1];
	unsigned depth = 0;
	uint64_t owed = 1;
	size_t off = 0;

	if (!buf && len > 0)
		return -EINVAL;
	if (max_depth > SKU_PRESCAN_DEPTH_MAX)
		return -EINVAL;
	if (max_size == 0)
		return -EMSGSIZE;
	remaining[0] = 1;

	for (;;) {
		struct fmt f;
		uint64_t n = 0;  /* payload bytes or element count, from the header */
		uint64_t budget; /* bytes this element may take, leaving 1 per owed one */
		uint8_t b;

		owed--;
		remaining[depth]--;
		budget = (uint64_t)max_size - off - owed;

		if (off >= len)
			goto need_more;
		b = p[off];

		if (is_fixint(b)) {
			/*
			 * Runs of fixints (pid lists, small counters) take one tight loop. Each is
			 * one byte already counted in owed, so off + owed stays within max_size.
			 */
			uint64_t run = remaining[depth];
			size_t k = 0;

			off++;
			if (run > len - off)
				run = len - off;
			while (k < run && is_fixint(p[off + k]))
				k++;
			off += k;
			remaining[depth] -= k;
			owed -= k;
			goto element_done;
		}

		if (b <= 0x8f) {
			f = (struct fmt){K_CONTAINER, 1, 0, 2};
			n = b & 0x0f;
		} else if (b <= 0x9f) {
			f = (struct fmt){K_CONTAINER, 1, 0, 1};
			n = b & 0x0f;
		} else if (b <= 0xbf) {
			f = (struct fmt){K_PAYLOAD, 1, 0, 1};
			n = b & 0x1f;
		} else {
			f = fmts[b - 0xc0];
		}

		if (f.kind == K_INVALID)
			return -EBADMSG;
		if (f.hdr > budget)
			return -EMSGSIZE;
		if (f.hdr > len - off)
			goto need_more;
		if (f.lenbytes == 1)
			n = p[off + 1];
		else if (f.lenbytes == 2)
			n = be16(p + off + 1);
		else if (f.lenbytes == 4)
			n = be32(p + off + 1);
		n *= f.mul;

		/* Both terms are at most 2^33 + 18, so the sum cannot wrap. */
		if (f.hdr + n > budget)
			return -EMSGSIZE;

		if (f.kind == K_CONTAINER) {
			if (depth + 1 > max_depth)
				return -EBADMSG;
			off += f.hdr;
			if (n > 0) {
				remaining[++depth] = n;
				owed += n;
			}
		} else {
			if (n > len - off - f.hdr)
				goto need_more;
			off += f.hdr + (size_t)n;
		}

	element_done:
		while (remaining[depth] == 0) {
			if (depth == 0) {
				*ret_len = off;
				return 1;
			}
			depth--;
		}
	}

need_more:
	/* The budget checks keep every needed byte within max_size, so len < max_size here. */
	return len >= max_size ? -EMSGSIZE : 0;
}
