/*
 * h_debug.c - test-only methods, visible only with --enable-debug-methods.
 *
 * debug.sleep {ms, pad?} answers after ms milliseconds with {slept_ms, pad: bin of pad
 * bytes}. The integration tests use it for what no production method gives on demand: a
 * slow (deferred) call to check out-of-order replies and shutdown draining, and large
 * replies that a non-reading client lets pile up.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sku_daemon.h"

#define SLEEP_MAX_MS 60000

struct sleeper {
	uv_timer_t timer;
	struct sku_call *call; /* NULL once finished */
	uint64_t ms;
	size_t pad;
};

static void on_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_wake(uv_timer_t *t)
{
	struct sleeper *s = t->data;
	struct sku_call *call = s->call;
	msgpack_packer *pk = &call->pk;
	int r;

	s->call = NULL;
	r = msgpack_pack_map(pk, 2) < 0 ? -ENOMEM : 0;
	if (r == 0)
		r = sku_pack_kv_uint(pk, "slept_ms", s->ms);
	if (r == 0)
		r = sku_pack_str(pk, "pad");
	if (r == 0 && msgpack_pack_bin(pk, s->pad) < 0)
		r = -ENOMEM;
	if (r == 0 && s->pad > 0) {
		char *zeros = calloc(1, s->pad);

		if (!zeros || msgpack_pack_bin_body(pk, zeros, s->pad) < 0)
			r = -ENOMEM;
		free(zeros);
	}
	if (r < 0) {
		/* The half-packed result is discarded by dispatch on failure. */
		r = sku_call_error(call, SKU_ERR_RESOURCE_EXHAUSTED, "out of memory");
	}
	sku_call_finish(call, r);
	uv_close((uv_handle_t *)&s->timer, on_closed);
}

static void cancel(struct sku_call *call)
{
	struct sleeper *s = call->ctx;

	s->call = NULL;
	(void)uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, on_closed);
	sku_call_finish(call, sku_call_error(call, SKU_ERR_UNAVAILABLE, "daemon is stopping"));
}

static const struct sku_argspec sleep_args[] = {
        {"ms", SKU_ARG_INT, true},
        {"pad", SKU_ARG_INT, false},
};

static int h_sleep(struct sku_call *call, const msgpack_object *const *argv)
{
	struct sleeper *s;
	int64_t ms, pad = 0;
	int r;

	if (sku_obj_int64(argv[0], &ms) < 0 || ms < 0 || ms > SLEEP_MAX_MS)
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT, "ms must be 0 to %d",
		                      SLEEP_MAX_MS);
	if (argv[1] && (sku_obj_int64(argv[1], &pad) < 0 || pad < 0 ||
	                (uint64_t)pad > call->srv->cfg.max_message))
		return sku_call_error(call, SKU_ERR_INVALID_ARGUMENT,
		                      "pad must be 0 to max_message bytes");
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = uv_timer_init(call->srv->loop, &s->timer);
	if (r < 0) {
		free(s);
		return r;
	}
	s->timer.data = s;
	s->call = call;
	s->ms = (uint64_t)ms;
	s->pad = (size_t)pad;
	r = uv_timer_start(&s->timer, on_wake, (uint64_t)ms, 0);
	if (r < 0) {
		uv_close((uv_handle_t *)&s->timer, on_closed);
		return r;
	}
	call->ctx = s;
	call->cancel = cancel;
	return SKU_CALL_DEFERRED;
}

static const struct sku_method debug_methods[] = {
        {"debug.sleep", h_sleep, sleep_args, 2},
};

const struct sku_method_table sku_debug_methods = {debug_methods, sizeof(debug_methods) /
                                                                          sizeof(debug_methods[0])};
