/*
 * sku_client.h - libskyutil internals shared by the client core files.
 *
 * One skyutil_client is one blocking Unix-socket connection with a read buffer, a msgid
 * counter and a queue of notifications that arrived while a call waited for its reply.
 * Every operation first releases what the previous one left (decoded objects, consumed
 * bytes), so views returned by sku_client_request() stay valid until the next operation.
 */
#ifndef SKU_CLIENT_H
#define SKU_CLIENT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "skyutil/skyutil.h"

#include "sku_proto.h"

/*
 * Largest message accepted from the daemon: a 200 000-entry proc.status reply is ~30 MiB at
 * worst, but the client splits status requests (see proc.c) so replies stay far below this.
 */
#define SKU_CLIENT_MAX_MESSAGE (16u * 1024 * 1024)
/* Bound on notifications held for the caller; past it the connection is failed (-ENOBUFS). */
#define SKU_CLIENT_MAX_QUEUED       65536
#define SKU_CLIENT_MAX_QUEUED_BYTES (64u * 1024 * 1024)
#define SKU_CLIENT_DEFAULT_TIMEOUT  5000

/* A notification held for the caller. Owned by the client's queue until popped. */
struct sku_note {
	struct sku_note *next;
	char *method; /* NUL-terminated, points into this allocation */
	char *params; /* msgpack bytes of the single param map, into this allocation */
	size_t len;
	int64_t watch_id; /* proc.exited: its watch_id, else 0 */
};

struct skyutil_client {
	int fd;
	int timeout_ms; /* default for calls given timeout_ms < 0 */
	uint32_t last_msgid;
	int err; /* first fatal error; every later operation returns it */

	char *rbuf; /* bytes read: [rpos, rlen) not yet consumed */
	size_t rpos, rlen, rcap;

	msgpack_zone zone; /* decoded objects of the last message */
	bool zone_dirty;
	msgpack_sbuffer sbuf; /* the request being encoded */

	struct sku_note *q_head, *q_tail;
	size_t q_count, q_bytes;

	skyutil_event_cb cb;
	void *cb_data;

	char errmsg[512]; /* message of the last remote error */

	/* skyutil_facts_cached(): subscription and cache, updated by facts.changed. */
	bool facts_subscribed;
	int64_t facts_sub_id;
	struct skyutil_facts facts;
};

/* Monotonic deadline in ms; -1 means none (wait forever). */
int64_t sku_client_deadline(int timeout_ms);

/* Forget the previous operation's decoded objects and consumed bytes. */
void sku_client_release(struct skyutil_client *c);

/*
 * Send method with args (msgpack bytes of one map, or NULL for none) and wait until
 * deadline for its reply. Returns 0 with *ret_result pointing at the result (valid until the
 * next operation on c), SKYUTIL_EREMOTE(code) for an error reply (message in c->errmsg),
 * -ETIMEDOUT, or a fatal connection error (-EPIPE, -EBADMSG, -EMSGSIZE, -ENOBUFS, ...).
 */
int sku_client_request(struct skyutil_client *c, const char *method, const void *args,
                       size_t args_len, int64_t deadline, const msgpack_object **ret_result);

/*
 * Read whatever the socket holds without blocking and file every complete message:
 * facts.changed for the cached subscription updates the cache, other notifications are
 * queued, stray replies (late answers to calls that timed out) are dropped.
 * Returns 0 or a fatal connection error.
 */
int sku_client_drain(struct skyutil_client *c);

/*
 * Wait until deadline for more bytes and file the complete messages as sku_client_drain().
 * Returns 0 when something was read, -ETIMEDOUT, or a fatal connection error.
 */
int sku_client_wait_input(struct skyutil_client *c, int64_t deadline);

/* Remove and return the first queued notification (NULL: none); free() it when done. */
struct sku_note *sku_client_pop(struct skyutil_client *c);
/* Remove and return the queued proc.exited of watch_id, or NULL. */
struct sku_note *sku_client_take_exit(struct skyutil_client *c, int64_t watch_id);

/* facts.c: fill f from a wire facts map. Returns 0 or -EBADMSG. */
int sku_facts_from_obj(const msgpack_object *o, struct skyutil_facts *f);

/* Typed readers of map members; absent or nil members yield dflt. 0 or -EBADMSG. */
int sku_get_int(const msgpack_object *map, const char *key, int64_t dflt, int64_t *ret);
int sku_get_double(const msgpack_object *map, const char *key, double dflt, double *ret);
int sku_get_bool(const msgpack_object *map, const char *key, bool dflt, bool *ret);
/* Copies at most size-1 bytes and NUL-terminates; absent or nil: "". */
int sku_get_str(const msgpack_object *map, const char *key, char *buf, size_t size);

#endif
