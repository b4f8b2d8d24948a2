/*
 * events.c - event-loop integration: the fd, the notification callback, and delivery.
 *
 * Notifications are first filed into the client's queue and only then handed to the
 * callback one by one, so a callback may itself make calls on the client (which may queue
 * more) without invalidating anything being iterated.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "skyutil/skyutil.h"

#include "sku_client.h"

int skyutil_client_fd(const skyutil_client *c)
{
	return c ? c->fd : -EINVAL;
}

void skyutil_client_set_event_cb(skyutil_client *c, skyutil_event_cb cb, void *userdata)
{
	if (!c)
		return;
	c->cb = cb;
	c->cb_data = userdata;
}

const char *skyutil_client_last_error(const skyutil_client *c)
{
	return c ? c->errmsg : "";
}

int skyutil_client_process(skyutil_client *c)
{
	struct sku_note *n;
	int delivered = 0;
	int rc;

	if (!c)
		return -EINVAL;
	rc = c->err ? c->err : sku_client_drain(c);
	/* Without a callback, notifications stay queued for skyutil_proc_wait(). */
	while (c->cb && delivered < INT_MAX && (n = sku_client_pop(c))) {
		c->cb(n->method, n->params, n->len, c->cb_data);
		free(n);
		delivered++;
	}
	/* What arrived before the connection failed is delivered first; the error next time. */
	if (delivered > 0)
		return delivered;
	return rc < 0 ? rc : 0;
}
