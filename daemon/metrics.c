/*
 * metrics.c - the daemon's counters in the Prometheus text exposition format (version 0.0.4).
 *
 * Everything is rendered from struct sku_metrics and the server's gauges at request time;
 * nothing here keeps state of its own.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sku_daemon.h"

/* Upper bounds of the latency buckets in nanoseconds; the last bucket is +Inf. */
static const uint64_t bucket_ns[SKU_LATENCY_BUCKETS - 1] = {
        10000,   25000,   50000,    100000,    250000,     500000,
        1000000, 2500000, 10000000, 100000000, 1000000000,
};

_Static_assert(SKU_LATENCY_BUCKETS <=
                       sizeof(((struct sku_metrics *)0)->latency_buckets) / sizeof(uint64_t),
               "latency buckets fit struct sku_metrics");

void sku_metrics_observe(struct sku_metrics *m, uint64_t ns)
{
	unsigned i = 0;

	while (i < SKU_LATENCY_BUCKETS - 1 && ns > bucket_ns[i])
		i++;
	m->latency_buckets[i]++;
	m->latency_sum_s += (double)ns / 1e9;
	m->latency_count++;
}

/* A growing text buffer; on allocation failure it remembers the failure and stops. */
struct text {
	char *buf;
	size_t len, cap;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap * 2 + (size_t)n;
		char *nb = realloc(t->buf, cap);

		if (!nb) {
			t->failed = true;
			return;
		}
		t->buf = nb;
		t->cap = cap;
	}
}

static void head(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int sku_metrics_render(const struct sku_server *srv, char **ret_text, size_t *ret_len)
{
	const struct sku_metrics *m = &srv->metrics;
	struct text t = {.cap = 4096};
	uint64_t cum = 0;

	t.buf = malloc(t.cap);
	if (!t.buf)
		return -ENOMEM;

	head(&t, "skyutild_build_info", "gauge", "Version of the running daemon.");
	put(&t, "skyutild_build_info{version=\"%s\",proto=\"%d\"} 1\n", SKYUTIL_VERSION,
	    SKU_PROTO_VERSION);
	head(&t, "skyutild_uptime_seconds", "gauge", "Seconds since the daemon started.");
	put(&t, "skyutild_uptime_seconds %.3f\n", (double)(sku_now_ns() - srv->started_ns) / 1e9);

	head(&t, "skyutild_requests_total", "counter", "Requests answered, by method.");
	for (unsigned i = 0; i < sku_method_count() && i < 64; i++)
		put(&t, "skyutild_requests_total{method=\"%s\"} %" PRIu64 "\n",
		    sku_method_at(i)->name, m->requests[i]);

	head(&t, "skyutild_errors_total", "counter", "Error replies sent, by error name.");
	for (int code = 1; code < SKU_ERR__MAX; code++)
		put(&t, "skyutild_errors_total{name=\"%s\"} %" PRIu64 "\n", sku_err_name(code),
		    m->errors[code]);

	head(&t, "skyutild_clients", "gauge", "Connected clients.");
	put(&t, "skyutild_clients %u\n", srv->nconns);
	head(&t, "skyutild_connections_total", "counter", "Connections accepted.");
	put(&t, "skyutild_connections_total %" PRIu64 "\n", m->connections_total);
	head(&t, "skyutild_connections_rejected_total", "counter",
	     "Connections refused because max-connections was reached.");
	put(&t, "skyutild_connections_rejected_total %" PRIu64 "\n", m->connections_rejected);
	head(&t, "skyutild_deferred_calls", "gauge", "Requests waiting for a slow answer.");
	put(&t, "skyutild_deferred_calls %u\n", srv->ndeferred);
	head(&t, "skyutild_watches", "gauge", "Processes watched for exit.");
	put(&t, "skyutild_watches %u\n", srv->nwatches);
	head(&t, "skyutild_guards", "gauge", "Guards armed.");
	put(&t, "skyutild_guards %u\n", srv->nguards);
	head(&t, "skyutild_subscriptions", "gauge", "Facts subscriptions.");
	put(&t, "skyutild_subscriptions %u\n", srv->nsubscriptions);
	head(&t, "skyutild_exits_seen_total", "counter", "Process exits observed.");
	put(&t, "skyutild_exits_seen_total %" PRIu64 "\n", m->exits_seen);
	head(&t, "skyutild_status_cache_entries", "gauge",
	     "Live processes the liveness cache holds a pidfd for.");
	put(&t, "skyutild_status_cache_entries %u\n", srv->nstatus_cached);
	head(&t, "skyutild_status_cache_hits_total", "counter",
	     "Liveness-only proc.status entries answered from the cache.");
	put(&t, "skyutild_status_cache_hits_total %" PRIu64 "\n", m->status_cache_hits);
	head(&t, "skyutild_status_cache_misses_total", "counter",
	     "Liveness-only proc.status entries read from the process table.");
	put(&t, "skyutild_status_cache_misses_total %" PRIu64 "\n", m->status_cache_misses);
	head(&t, "skyutild_lingering_processes", "gauge",
	     "Processes still watched after their watchers' connections closed.");
	put(&t, "skyutild_lingering_processes %u\n", srv->nlingering);
	head(&t, "skyutild_lingering_exits_total", "counter",
	     "Exits of lingering processes recorded for reconnecting clients.");
	put(&t, "skyutild_lingering_exits_total %" PRIu64 "\n", m->linger_exits);
	head(&t, "skyutild_lingering_dropped_total", "counter",
	     "Lingering processes released before their exit (timeout, cap, fds for watches).");
	put(&t, "skyutild_lingering_dropped_total %" PRIu64 "\n", m->linger_dropped);
	head(&t, "skyutild_facts_generations_total", "counter", "Changes of the facts seen.");
	put(&t, "skyutild_facts_generations_total %" PRIu64 "\n", m->facts_generations);

	head(&t, "skyutild_request_duration_seconds", "histogram",
	     "Time from decoding a request to queueing its reply.");
	for (unsigned i = 0; i < SKU_LATENCY_BUCKETS - 1; i++) {
		cum += m->latency_buckets[i];
		put(&t, "skyutild_request_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
		    (double)bucket_ns[i] / 1e9, cum);
	}
	cum += m->latency_buckets[SKU_LATENCY_BUCKETS - 1];
	put(&t, "skyutild_request_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
	put(&t, "skyutild_request_duration_seconds_sum %.9f\n", m->latency_sum_s);
	put(&t, "skyutild_request_duration_seconds_count %" PRIu64 "\n", m->latency_count);

	if (t.failed) {
		free(t.buf);
		return -ENOMEM;
	}
	*ret_text = t.buf;
	*ret_len = t.len;
	return 0;
}
