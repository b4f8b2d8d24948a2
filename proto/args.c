/*
 * args.c - named-argument binding and typed readers for msgpack objects.
 *
 * Argument names in error messages come from the peer, so they are cut short and stripped
 * of control bytes before they are echoed back.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sku_proto.h"

bool sku_obj_str_eq(const msgpack_object *o, const char *s)
{
	size_t n;

	if (!o || !s || o->type != MSGPACK_OBJECT_STR)
		return false;
	n = strlen(s);
	return o->via.str.size == n && (n == 0 || memcmp(o->via.str.ptr, s, n) == 0);
}

const msgpack_object *sku_map_get(const msgpack_object *map, const char *key)
{
	if (!map || !key || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++)
		if (sku_obj_str_eq(&map->via.map.ptr[i].key, key))
			return &map->via.map.ptr[i].val;
	return NULL;
}

int sku_obj_int64(const msgpack_object *o, int64_t *ret)
{
	if (!o)
		return -EINVAL;
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > INT64_MAX)
			return -ERANGE;
		*ret = (int64_t)o->via.u64;
		return 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*ret = o->via.i64;
		return 0;
	default:
		return -EINVAL;
	}
}

int sku_obj_double(const msgpack_object *o, double *ret)
{
	if (!o)
		return -EINVAL;
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		*ret = (double)o->via.u64;
		return 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*ret = (double)o->via.i64;
		return 0;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		*ret = o->via.f64;
		return 0;
	default:
		return -EINVAL;
	}
}

void sku_shown_name(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, m = n < SKU_NAME_SHOWN_MAX ? n : SKU_NAME_SHOWN_MAX;

	if (outlen == 0)
		return;
	for (i = 0; i < m && i + 1 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (n > i && i + 4 <= outlen) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

static bool type_ok(enum sku_arg_type type, const msgpack_object *o)
{
	switch (type) {
	case SKU_ARG_INT:
		return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
		       o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
	case SKU_ARG_NUMBER:
		return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
		       o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
		       o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64;
	case SKU_ARG_STR:
		return o->type == MSGPACK_OBJECT_STR;
	case SKU_ARG_BOOL:
		return o->type == MSGPACK_OBJECT_BOOLEAN;
	case SKU_ARG_ARRAY:
		return o->type == MSGPACK_OBJECT_ARRAY;
	case SKU_ARG_MAP:
		return o->type == MSGPACK_OBJECT_MAP;
	case SKU_ARG_INT_OR_STR:
		return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
		       o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || o->type == MSGPACK_OBJECT_STR;
	}
	return false;
}

static const char *type_desc(enum sku_arg_type type)
{
	switch (type) {
	case SKU_ARG_INT:
		return "an integer";
	case SKU_ARG_NUMBER:
		return "a number";
	case SKU_ARG_STR:
		return "a string";
	case SKU_ARG_BOOL:
		return "a boolean";
	case SKU_ARG_ARRAY:
		return "an array";
	case SKU_ARG_MAP:
		return "a map";
	case SKU_ARG_INT_OR_STR:
		return "an integer or a string";
	}
	return "valid";
}

/* snprintf that tolerates err == NULL and never reports truncation as a failure. */
__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
	if (err && errlen > 0) {
		va_list ap;

		va_start(ap, fmt);
		(void)vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int sku_args_bind(const msgpack_object *args, const struct sku_argspec *spec, size_t nspec,
                  const msgpack_object **argv, char *err, size_t errlen)
{
	/* Keys seen, including explicit nils, so a repeated key is caught either way. */
	bool seen[SKU_MAX_ARGS] = {false};
	char shown[SKU_NAME_SHOWN_MAX + 4];

	if (nspec > SKU_MAX_ARGS)
		return fail(err, errlen, "too many arguments declared");
	if (nspec > 0 && (!spec || !argv))
		return fail(err, errlen, "no argument table");
	for (size_t i = 0; i < nspec; i++)
		argv[i] = NULL;

	if (args && args->type != MSGPACK_OBJECT_NIL) {
		if (args->type != MSGPACK_OBJECT_MAP)
			return fail(err, errlen, "arguments must be a map");
		for (uint32_t k = 0; k < args->via.map.size; k++) {
			const msgpack_object *key = &args->via.map.ptr[k].key;
			const msgpack_object *val = &args->via.map.ptr[k].val;
			size_t i;

			if (key->type != MSGPACK_OBJECT_STR)
				return fail(err, errlen, "argument names must be strings");
			for (i = 0; i < nspec; i++)
				if (strlen(spec[i].name) == key->via.str.size &&
				    memcmp(spec[i].name, key->via.str.ptr, key->via.str.size) == 0)
					break;
			if (i == nspec) {
				sku_shown_name(key->via.str.ptr, key->via.str.size, shown,
				               sizeof(shown));
				return fail(err, errlen, "unknown argument '%s'", shown);
			}
			if (seen[i])
				return fail(err, errlen, "duplicate argument '%s'", spec[i].name);
			seen[i] = true;
			/* nil stands for "not given" for optional arguments, as clients send it. */
			if (val->type == MSGPACK_OBJECT_NIL && !spec[i].required)
				continue;
			if (!type_ok(spec[i].type, val))
				return fail(err, errlen, "argument '%s' must be %s", spec[i].name,
				            type_desc(spec[i].type));
			argv[i] = val;
		}
	}

	for (size_t i = 0; i < nspec; i++)
		if (spec[i].required && !argv[i])
			return fail(err, errlen, "missing argument '%s'", spec[i].name);
	return 0;
}
