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
#include <stdint.h>
#include <string.h>

#include "sku_proto.h"

static inline uint64_t be16(const uint8_t *p)
{
	return (uint64_t)p[0] << 8 | p[1];
}

static inline uint64_t be32(const uint8_t *p)
{
	return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
}

/* Kinds of header, by how the size of what follows is found. */
enum kind {
	K_FIXED,     /* hdr bytes in total, no payload */
	K_PAYLOAD,   /* hdr bytes, then a payload of the length read from them */
	K_CONTAINER, /* hdr bytes, then count elements (map: 2 per entry) */
	K_INVALID,   /* 0xc1 */
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
		enum kind kind;
		size_t hdr;	     /* bytes of the header (or of the whole scalar) */
		uint64_t n = 0;	     /* payload bytes or element count, from the header */
		uint64_t budget;     /* bytes this element may take, leaving 1 per owed one */
		unsigned mul = 1;    /* 2 for maps */
		uint8_t b;

		owed--;
		remaining[depth]--;
		budget = (uint64_t)max_size - off - owed;

		if (off >= len)
			goto need_more;
		b = p[off];

		if (b <= 0x7f || b >= 0xe0) {
			/* fixint: by far the most common element; skip the dispatch below */
			off++;
			goto element_done;
		}

		if (b <= 0x8f) {
			kind = K_CONTAINER, hdr = 1, n = b & 0x0f, mul = 2;
		} else if (b <= 0x9f) {
			kind = K_CONTAINER, hdr = 1, n = b & 0x0f;
		} else if (b <= 0xbf) {
			kind = K_PAYLOAD, hdr = 1, n = b & 0x1f;
		} else {
			switch (b) {
			case 0xc0: /* nil */
			case 0xc2: /* false */
			case 0xc3: /* true */
				kind = K_FIXED, hdr = 1;
				break;
			case 0xc1:
				kind = K_INVALID, hdr = 1;
				break;
			case 0xc4: /* bin8 */
			case 0xd9: /* str8 */
				kind = K_PAYLOAD, hdr = 2;
				break;
			case 0xc5: /* bin16 */
			case 0xda: /* str16 */
				kind = K_PAYLOAD, hdr = 3;
				break;
			case 0xc6: /* bin32 */
			case 0xdb: /* str32 */
				kind = K_PAYLOAD, hdr = 5;
				break;
			case 0xc7: /* ext8: len, type */
				kind = K_PAYLOAD, hdr = 3;
				break;
			case 0xc8: /* ext16 */
				kind = K_PAYLOAD, hdr = 4;
				break;
			case 0xc9: /* ext32 */
				kind = K_PAYLOAD, hdr = 6;
				break;
			case 0xcc: /* uint8 */
			case 0xd0: /* int8 */
				kind = K_FIXED, hdr = 2;
				break;
			case 0xcd: /* uint16 */
			case 0xd1: /* int16 */
				kind = K_FIXED, hdr = 3;
				break;
			case 0xca: /* float32 */
			case 0xce: /* uint32 */
			case 0xd2: /* int32 */
				kind = K_FIXED, hdr = 5;
				break;
			case 0xcb: /* float64 */
			case 0xcf: /* uint64 */
			case 0xd3: /* int64 */
				kind = K_FIXED, hdr = 9;
				break;
			case 0xd4: /* fixext1..16: type byte, then 1..16 data bytes */
			case 0xd5:
			case 0xd6:
			case 0xd7:
			case 0xd8:
				kind = K_FIXED, hdr = 2 + ((size_t)1 << (b - 0xd4));
				break;
			case 0xdc: /* array16 */
				kind = K_CONTAINER, hdr = 3;
				break;
			case 0xdd: /* array32 */
				kind = K_CONTAINER, hdr = 5;
				break;
			case 0xde: /* map16 */
				kind = K_CONTAINER, hdr = 3, mul = 2;
				break;
			default: /* 0xdf map32 */
				kind = K_CONTAINER, hdr = 5, mul = 2;
				break;
			}
		}

		if (kind == K_INVALID)
			return -EBADMSG;
		if (hdr > budget)
			return -EMSGSIZE;
		if (hdr > len - off)
			goto need_more;

		/* Multi-byte lengths; the one-byte forms already set n above. */
		if (b >= 0xc4) {
			switch (b) {
			case 0xc4:
			case 0xc7:
			case 0xd9:
				n = p[off + 1];
				break;
			case 0xc5:
			case 0xc8:
			case 0xda:
			case 0xdc:
			case 0xde:
				n = be16(p + off + 1);
				break;
			case 0xc6:
			case 0xc9:
			case 0xdb:
			case 0xdd:
			case 0xdf:
				n = be32(p + off + 1);
				break;
			default:
				break;
			}
		}
		n *= mul;

		/* Both terms are at most 2^33 + 9, so the sum cannot wrap. */
		if (hdr + n > budget)
			return -EMSGSIZE;

		if (kind == K_CONTAINER) {
			if (depth + 1 > max_depth)
				return -EBADMSG;
			off += hdr;
			if (n > 0) {
				remaining[++depth] = n;
				owed += n;
			}
		} else {
			if (n > len - off - hdr)
				goto need_more;
			off += hdr + (size_t)n;
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
