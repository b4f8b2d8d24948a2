/*
 * obj.c - typed, bounds-checked readers of members of decoded wire maps.
 *
 * The daemon marks "unknown" and "unlimited" with nil; callers pass what nil means for them.
 * A member of the wrong type is a protocol violation (-EBADMSG), never guessed around.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "sku_client.h"

static int member(const msgpack_object *map, const char *key, const msgpack_object **ret)
{
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return -EBADMSG;
	*ret = sku_map_get(map, key);
	if (*ret && (*ret)->type == MSGPACK_OBJECT_NIL)
		*ret = NULL;
	return 0;
}

int sku_get_int(const msgpack_object *map, const char *key, int64_t dflt, int64_t *ret)
{
	const msgpack_object *o;
	int rc = member(map, key, &o);

	if (rc < 0)
		return rc;
	if (!o) {
		*ret = dflt;
	} else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		/* Only byte counts get this large; saturate rather than wrap. */
		*ret = o->via.u64 > INT64_MAX ? INT64_MAX : (int64_t)o->via.u64;
	} else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*ret = o->via.i64;
	} else {
		return -EBADMSG;
	}
	return 0;
}

int sku_get_double(const msgpack_object *map, const char *key, double dflt, double *ret)
{
	const msgpack_object *o;
	int rc = member(map, key, &o);

	if (rc < 0)
		return rc;
	if (!o)
		*ret = dflt;
	else if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
		*ret = o->via.f64;
	else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		*ret = (double)o->via.u64;
	else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		*ret = (double)o->via.i64;
	else
		return -EBADMSG;
	return 0;
}

int sku_get_bool(const msgpack_object *map, const char *key, bool dflt, bool *ret)
{
	const msgpack_object *o;
	int rc = member(map, key, &o);

	if (rc < 0)
		return rc;
	if (!o)
		*ret = dflt;
	else if (o->type == MSGPACK_OBJECT_BOOLEAN)
		*ret = o->via.boolean;
	else
		return -EBADMSG;
	return 0;
}

int sku_get_str(const msgpack_object *map, const char *key, char *buf, size_t size)
{
	const msgpack_object *o;
	int rc = member(map, key, &o);
	size_t n;

	if (size == 0)
		return -EINVAL;
	buf[0] = '\0';
	if (rc < 0)
		return rc;
	if (!o)
		return 0;
	if (o->type != MSGPACK_OBJECT_STR)
		return -EBADMSG;
	n = o->via.str.size < size - 1 ? o->via.str.size : size - 1;
	memcpy(buf, o->via.str.ptr, n);
	buf[n] = '\0';
	return 0;
}
