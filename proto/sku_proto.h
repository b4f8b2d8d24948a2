/*
 * sku_proto.h - the skyutild wire protocol, shared by the daemon and the client library.
 *
 * Standard MessagePack-RPC over a Unix stream socket (no length prefix). This library has
 * no sockets, no libuv, no logging and no global state: it turns bytes into typed views and
 * typed values into bytes. See docs/protocol.md for the contract.
 */
#ifndef SKU_PROTO_H
#define SKU_PROTO_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SKU_PROTO_VERSION 1

/* Defaults for the limits the daemon advertises in `hello`. */
#define SKU_MAX_MESSAGE_DEFAULT (1024 * 1024) /* bytes in one message */
#define SKU_MAX_DEPTH           16            /* nesting of arrays/maps */
#define SKU_MAX_BATCH_DEFAULT   200000        /* entries in one proc.status */

/* The longest grace_s proc.kill_tree and proc.guard accept, in seconds. */
#define SKU_GRACE_MAX_S 86400.0

enum sku_msg_type {
	SKU_MSG_REQUEST = 0,
	SKU_MSG_RESPONSE = 1,
	SKU_MSG_NOTIFY = 2,
};

/*
 * Wire error codes. Append only: a code and its name never change (docs/protocol.md).
 * X(name, code)
 */
#define SKU_ERROR_MAP(X)         \
	X(BAD_REQUEST, 1)        \
	X(UNKNOWN_METHOD, 2)     \
	X(INVALID_ARGUMENT, 3)   \
	X(PERMISSION_DENIED, 4)  \
	X(NO_SUCH_PROCESS, 5)    \
	X(PID_REUSED, 6)         \
	X(RESOURCE_EXHAUSTED, 7) \
	X(TOO_LARGE, 8)          \
	X(UNAVAILABLE, 9)        \
	X(INTERNAL, 10)          \
	X(TIMEOUT, 11)

enum sku_err {
	SKU_OK = 0,
#define SKU_ERR_ENUM(name, code) SKU_ERR_##name = code,
	SKU_ERROR_MAP(SKU_ERR_ENUM)
#undef SKU_ERR_ENUM
	        SKU_ERR__MAX
};

/* "BAD_REQUEST" etc.; "UNKNOWN" for codes outside the map. Never NULL. */
const char *sku_err_name(int code);
/* Code for a wire name, or 0 when the name is unknown. */
int sku_err_from_name(const char *name, size_t len);
/* The wire error that best describes a negative errno (ESRCH → NO_SUCH_PROCESS, ...). */
enum sku_err sku_err_from_errno(int neg_errno);

/*
 * Pre-scan: decide, from bytes alone and before msgpack-c allocates anything, whether buf holds
 * a complete message, and whether it is safe to decode.
 *
 * Returns 1 and sets *ret_len to the message's size when one complete message starts at buf;
 * 0 when more bytes are needed (only possible when len < max_size);
 * -EMSGSIZE when the message is (or is declared to be) larger than max_size; a declared
 *  str/bin/ext length, or an array/map count (each element takes at least one byte), that
 *  cannot fit within max_size is caught from its header alone;
 * -EBADMSG for bytes that are never valid msgpack (0xc1) or nesting deeper than max_depth;
 * -EINVAL when max_depth > SKU_PRESCAN_DEPTH_MAX (the walk's stack lives on the C stack).
 * Allocates nothing; reads only buf[0..len).
 */
#define SKU_PRESCAN_DEPTH_MAX 64
int sku_prescan(const char *buf, size_t len, size_t max_size, unsigned max_depth, size_t *ret_len);

/*
 * A decoded message. Views point into the msgpack_object tree (owned by the caller's
 * msgpack_zone) and, for str/bin/ext bytes, into the decoded buffer itself: msgpack-c does not
 * copy them. Valid until that zone is freed or those bytes are moved or overwritten, whichever
 * comes first (a connection must not compact its read buffer while a message is in use).
 */
struct sku_msg {
	enum sku_msg_type type;
	uint32_t msgid;     /* request / response */
	const char *method; /* request / notify; not NUL-terminated */
	uint32_t method_len;
	const msgpack_object *args;   /* request / notify: the named-argument map, or NULL */
	const msgpack_object *error;  /* response: nil-or-map */
	const msgpack_object *result; /* response */
};

/*
 * Decode exactly one pre-scanned message of len bytes into ret (objects allocated in zone).
 * Returns 0, or -EBADMSG when the bytes are not a valid msgpack-rpc message; then *ret_why
 * says why (static string) and ret->msgid is set if it could be read (else 0). -ENOMEM
 * (*ret_why "out of memory") when the zone cannot grow. Bytes left over after one message are
 * -EBADMSG too: pass exactly the length sku_prescan() returned.
 * Request and notification params must be [] (args == NULL) or [map] (args points at the
 * map); anything else is -EBADMSG ("params must be [] or [map]"). A method is 1..255 bytes of
 * valid UTF-8 without NUL. A response's error is nil or a map, and result is nil when error
 * is a map.
 */
int sku_decode(const char *buf, size_t len, msgpack_zone *zone, struct sku_msg *ret,
               const char **ret_why);

/*
 * Encoders. Each appends exactly one complete message (or its head) through pk.
 * All return 0; -EINVAL for a NULL/empty method (or one over 255 bytes) or a NULL key, in
 * which case nothing was written; -EMSGSIZE for a string over 4 GiB; -ENOMEM when the
 * packer's write callback fails, in which case the output holds a partial message.
 */
int sku_pack_request_head(msgpack_packer *pk, uint32_t msgid, const char *method);
/* then the caller packs the params array: msgpack_pack_array(pk, 0) or 1 + a map */
int sku_pack_response_head(msgpack_packer *pk, uint32_t msgid); /* [1, id, nil, ...] */
/* then the caller packs exactly one result object */
int sku_pack_error(msgpack_packer *pk, uint32_t msgid, int code, const char *message);
int sku_pack_notify_head(msgpack_packer *pk, const char *method); /* [2, m, [ ... */
/* then the caller packs exactly one map (the notification's single parameter) */

/* Packing helpers for maps with C-string keys; sku_pack_error()'s NULL message is "". */
int sku_pack_str(msgpack_packer *pk, const char *s);
int sku_pack_kv_int(msgpack_packer *pk, const char *key, int64_t v);
int sku_pack_kv_uint(msgpack_packer *pk, const char *key, uint64_t v);
int sku_pack_kv_double(msgpack_packer *pk, const char *key, double v);
int sku_pack_kv_bool(msgpack_packer *pk, const char *key, bool v);
int sku_pack_kv_str(msgpack_packer *pk, const char *key, const char *v); /* NULL → nil */
int sku_pack_kv_nil(msgpack_packer *pk, const char *key);

/* Object helpers. */
bool sku_obj_str_eq(const msgpack_object *o, const char *s);
/* Find key in a map object; NULL when absent or o is not a map. */
const msgpack_object *sku_map_get(const msgpack_object *map, const char *key);

/*
 * A peer-supplied name made safe to echo in an error message: printable ASCII only ('?' for
 * any other byte, so the message stays valid UTF-8 and one line), cut to SKU_NAME_SHOWN_MAX
 * bytes with "..." appended. out has room for outlen bytes (SKU_NAME_SHOWN_MAX + 4 holds any
 * name); always NUL-terminated.
 */
#define SKU_NAME_SHOWN_MAX 64
void sku_shown_name(const char *s, size_t n, char *out, size_t outlen);

/*
 * Named-argument validation, shared by the daemon's dispatch and by tests.
 * A method declares its arguments; sku_args_bind() checks the request's map against them
 * (unknown keys, missing required keys, wrong types) and fills argv[i] with the value for
 * spec[i] (NULL when absent). On failure returns -EINVAL and writes a message to err.
 * args may be NULL (params []) or a map; argv has room for nspec <= SKU_MAX_ARGS entries;
 * err may be NULL. An explicit nil counts as absent for an optional argument and as a wrong
 * type for a required one. Argument names echoed into err are cut to 64 bytes of printable
 * ASCII ('?' for anything else), since they come from the peer.
 */
enum sku_arg_type {
	SKU_ARG_INT,    /* positive or negative integer */
	SKU_ARG_NUMBER, /* integer or float */
	SKU_ARG_STR,
	SKU_ARG_BOOL,
	SKU_ARG_ARRAY,
	SKU_ARG_MAP,
	SKU_ARG_INT_OR_STR,
};

struct sku_argspec {
	const char *name;
	enum sku_arg_type type;
	bool required;
};

#define SKU_MAX_ARGS 8

int sku_args_bind(const msgpack_object *args, const struct sku_argspec *spec, size_t nspec,
                  const msgpack_object **argv, char *err, size_t errlen);

/*
 * Typed readers for bound arguments. Return 0, or -ERANGE (integer above INT64_MAX) / -EINVAL
 * (NULL or wrong type) when the value does not fit; *ret is untouched then.
 */
int sku_obj_int64(const msgpack_object *o, int64_t *ret);
int sku_obj_double(const msgpack_object *o, double *ret);

/*
 * Default socket path, resolved identically by the daemon and every client:
 * explicit (non-NULL, non-empty) > env_socket ($SKYUTILD_SOCKET) > xdg_runtime_dir/skyutild/
 * skyutild.sock > /run/skyutild/skyutild.sock for uid 0 > /tmp/skyutild-<uid>/skyutild.sock.
 * An XDG_RUNTIME_DIR that is not absolute is ignored, as the XDG base directory spec says.
 * Returns 0, or -ENAMETOOLONG when the result (with its NUL) does not fit buf or a
 * sockaddr_un's sun_path; buf is untouched then. -EINVAL when buf is NULL.
 */
int sku_socket_path(const char *explicit_path, const char *env_socket, const char *xdg_runtime_dir,
                    uid_t uid, char *buf, size_t buflen);

#endif
