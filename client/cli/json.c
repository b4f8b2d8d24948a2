/*
 * json.c - JSON <-> msgpack conversion with jansson, and JSON/human printing.
 *
 * jansson does all JSON text handling (parsing, escaping, number syntax); this file only maps
 * value kinds. Integers map to msgpack ints and back, reals to float64 and back, so
 * `skyutil call` sends exactly what the JSON says.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"

static int pack(const json_t *j, msgpack_packer *pk, unsigned depth)
{
	const char *key;
	json_t *v;
	size_t i;

	if (depth > CLI_JSON_MAX_DEPTH)
		return -EINVAL;
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		if (msgpack_pack_map(pk, (uint32_t)json_object_size(j)) < 0)
			return -ENOMEM;
		for (void *it = json_object_iter((json_t *)j); it;
		     it = json_object_iter_next((json_t *)j, it)) {
			key = json_object_iter_key(it);
			v = json_object_iter_value(it);
			size_t klen = json_object_iter_key_len(it);
			int rc;

			if (msgpack_pack_str(pk, klen) < 0 ||
			    msgpack_pack_str_body(pk, key, klen) < 0)
				return -ENOMEM;
			rc = pack(v, pk, depth + 1);
			if (rc < 0)
				return rc;
		}
		return 0;
	case JSON_ARRAY:
		if (msgpack_pack_array(pk, (uint32_t)json_array_size(j)) < 0)
			return -ENOMEM;
		json_array_foreach(j, i, v)
		{
			int rc = pack(v, pk, depth + 1);

			if (rc < 0)
				return rc;
		}
		return 0;
	case JSON_STRING: {
		size_t len = json_string_length(j);

		if (msgpack_pack_str(pk, len) < 0 ||
		    msgpack_pack_str_body(pk, json_string_value(j), len) < 0)
			return -ENOMEM;
		return 0;
	}
	case JSON_INTEGER:
		return msgpack_pack_int64(pk, json_integer_value(j)) < 0 ? -ENOMEM : 0;
	case JSON_REAL:
		return msgpack_pack_double(pk, json_real_value(j)) < 0 ? -ENOMEM : 0;
	case JSON_TRUE:
		return msgpack_pack_true(pk) < 0 ? -ENOMEM : 0;
	case JSON_FALSE:
		return msgpack_pack_false(pk) < 0 ? -ENOMEM : 0;
	case JSON_NULL:
		return msgpack_pack_nil(pk) < 0 ? -ENOMEM : 0;
	}
	return -EINVAL;
}

int cli_json_pack(const json_t *j, msgpack_packer *pk)
{
	return pack(j, pk, 0);
}

int cli_json_args(const char *text, msgpack_sbuffer *out, char *err, size_t errlen)
{
	msgpack_packer pk;
	json_error_t jerr;
	json_t *j;
	int rc;

	j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		snprintf(err, errlen, "invalid JSON arguments: %s (line %d, column %d)", jerr.text,
		         jerr.line, jerr.column);
		return -EINVAL;
	}
	if (!json_is_object(j)) {
		snprintf(err, errlen, "arguments must be a JSON object, like '{\"pid\": 1}'");
		json_decref(j);
		return -EINVAL;
	}
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	rc = cli_json_pack(j, &pk);
	json_decref(j);
	if (rc == -EINVAL)
		snprintf(err, errlen, "arguments nested deeper than %d levels", CLI_JSON_MAX_DEPTH);
	else if (rc < 0)
		snprintf(err, errlen, "out of memory");
	return rc;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A JSON string of len bytes; invalid UTF-8 bytes become U+FFFD. */
static json_t *string_of(const char *p, size_t len)
{
	json_t *j = json_stringn(p, len);
	char *buf, *o;

	if (j)
		return j;
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	buf = malloc(len * 3 + 1);
	if (!buf)
		return NULL;
	o = buf;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq((const unsigned char *)p + i, len - i);

		if (n == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(o, p + i, n);
			o += n;
			i += n;
		}
	}
	j = json_stringn(buf, (size_t)(o - buf));
	free(buf);
	return j;
}

static json_t *hex_of(const char *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *buf;
	json_t *j;

	if (len > SIZE_MAX / 2 - 1)
		return NULL;
	buf = malloc(len * 2 + 1);
	if (!buf)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		buf[2 * i] = digits[(unsigned char)p[i] >> 4];
		buf[2 * i + 1] = digits[(unsigned char)p[i] & 15];
	}
	j = json_stringn(buf, len * 2);
	free(buf);
	return j;
}

json_t *cli_json_from_obj(const msgpack_object *o)
{
	json_t *j;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > INT64_MAX)
			return json_real((double)o->via.u64);
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		/* JSON has no NaN or infinity. */
		j = json_real(o->via.f64);
		return j ? j : json_null();
	case MSGPACK_OBJECT_STR:
		return string_of(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		return hex_of(o->via.bin.ptr, o->via.bin.size);
	case MSGPACK_OBJECT_EXT:
		return json_null();
	case MSGPACK_OBJECT_ARRAY:
		j = json_array();
		for (uint32_t i = 0; j && i < o->via.array.size; i++) {
			if (json_array_append_new(j, cli_json_from_obj(&o->via.array.ptr[i])) < 0) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	case MSGPACK_OBJECT_MAP:
		j = json_object();
		for (uint32_t i = 0; j && i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			json_t *key;
			int rc;

			if (kv->key.type == MSGPACK_OBJECT_STR) {
				key = string_of(kv->key.via.str.ptr, kv->key.via.str.size);
			} else {
				/* JSON keys are strings: use the key's own JSON text. */
				json_t *k = cli_json_from_obj(&kv->key);
				char *text =
				        k ? json_dumps(k, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

				key = text ? json_string(text) : NULL;
				free(text);
				json_decref(k);
			}
			rc = key ? json_object_setn_new(j, json_string_value(key),
			                                json_string_length(key),
			                                cli_json_from_obj(&kv->val))
			         : -1;
			json_decref(key);
			if (rc < 0) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	}
	return json_null();
}

json_t *cli_json_from_bytes(const void *buf, size_t len)
{
	msgpack_unpacked up;
	size_t off = 0;
	json_t *j = NULL;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len)
		j = cli_json_from_obj(&up.data);
	msgpack_unpacked_destroy(&up);
	return j;
}

int cli_json_print(const json_t *j)
{
	if (json_dumpf(j, stdout, JSON_ENCODE_ANY | JSON_COMPACT) < 0 || putchar('\n') == EOF ||
	    fflush(stdout) == EOF) {
		fprintf(stderr, "skyutil: cannot write output\n");
		return CLI_LOCAL;
	}
	return CLI_OK;
}

static bool is_scalar(const json_t *j)
{
	return !json_is_object(j) && !json_is_array(j);
}

static void print_scalar(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_STRING:
		fwrite(json_string_value(j), 1, json_string_length(j), stdout);
		break;
	case JSON_INTEGER:
		printf("%" JSON_INTEGER_FORMAT, json_integer_value(j));
		break;
	case JSON_REAL:
		printf("%.15g", json_real_value(j));
		break;
	case JSON_TRUE:
		fputs("true", stdout);
		break;
	case JSON_FALSE:
		fputs("false", stdout);
		break;
	default:
		fputs("-", stdout);
		break;
	}
}

static void human(const json_t *j, const char *prefix, unsigned depth)
{
	char sub[256];
	const char *key;
	json_t *v;
	size_t i;

	if (depth > 32)
		return;
	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, key, v)
		{
			snprintf(sub, sizeof(sub), "%s%s%s", prefix, *prefix ? "." : "", key);
			human(v, sub, depth + 1);
		}
		return;
	}
	if (json_is_array(j)) {
		bool flat = true;

		json_array_foreach(j, i, v) flat = flat && is_scalar(v);
		if (!flat) {
			json_array_foreach(j, i, v)
			{
				snprintf(sub, sizeof(sub), "%s[%zu]", prefix, i);
				human(v, sub, depth + 1);
			}
			return;
		}
		printf("%s%s", prefix, *prefix ? ": " : "");
		if (json_array_size(j) == 0)
			fputs("-", stdout);
		json_array_foreach(j, i, v)
		{
			if (i)
				fputs(" ", stdout);
			print_scalar(v);
		}
		putchar('\n');
		return;
	}
	printf("%s%s", prefix, *prefix ? ": " : "");
	print_scalar(j);
	putchar('\n');
}

void cli_human_print(const json_t *j)
{
	human(j, "", 0);
	fflush(stdout);
}

int cli_print_result(const struct cli_opts *opts, json_t *j)
{
	int rc = CLI_OK;

	if (opts->json)
		rc = cli_json_print(j);
	else
		cli_human_print(j);
	json_decref(j);
	return rc;
}

int cli_call_json(const struct cli_opts *opts, skyutil_client *client, const char *method,
                  const void *args, size_t args_len, json_t **ret)
{
	void *res = NULL;
	size_t len = 0;
	json_t *j;
	int rc;

	rc = skyutil_call(client, method, args, args_len, opts ? opts->timeout_ms : -1, &res, &len,
	                  NULL);
	if (rc < 0)
		return cli_fail_client(client, method, rc);
	j = cli_json_from_bytes(res, len);
	skyutil_free(res);
	if (!j)
		return cli_fail(method, -ENOMEM);
	*ret = j;
	return CLI_OK;
}
