/*
 * statusjob.c - proc.status answered in time slices.
 *
 * A fresh /proc read costs the kernel several microseconds per pid, so a 100 000-pid status
 * would hold the loop for about a second: every other client, and every exit event, would
 * wait behind it. A batch is therefore answered SLICE_NS of work at a time, its reply growing
 * in the call's own buffer; between slices the loop serves everything else, and concurrent
 * batches take turns. Replies may come out of order (msgpack-rpc matches them by msgid), so a
 * pipelined ping behind a big batch is not held up either. Small batches finish in the first
 * slice, inside the handler, and are never deferred.
 */
#include <errno.h>
#include <stdlib.h>

#include "proc_int.h"

#define SLICE_NS    (2 * 1000000ull) /* work per loop turn */
#define CLOCK_EVERY 32               /* entries between clock reads */
/*
 * A deferred batch holds its identities and its growing reply, and the connection goes on
 * reading meanwhile: these caps keep a pipelining client from piling up unbounded work. A
 * connection that reaches one reads no further requests until one of its batches is done
 * (sku_conn_hold_input): it waits, everyone else is still served, and nothing is refused.
 */
#define JOBS_PER_CONN 4
#define JOBS_MAX      64

struct sku_statusjob {
	struct sku_list link; /* in pm->status_jobs */
	struct sku_procmod *pm;
	struct sku_call *call;
	struct sku_ident *ids; /* owned */
	size_t n, next;
	unsigned fields;
	bool brief;
};

static void answer_one(struct sku_statusjob *job, const struct sku_ident *id)
{
	struct sku_pinfo pi;
	int r;

	r = job->brief ? sku_proc_lookup_brief(job->pm, id, &pi)
	               : sku_proc_lookup(job->pm, id, &pi, NULL);
	if (r < 0)
		pi = (struct sku_pinfo){
		        .pid = id->pid, .state = "gone", .reason = "cannot read /proc"};
	sku_pinfo_pack(job->pm, &job->call->pk, &pi, &job->call->peer, job->fields, 0);
}

/* Answer entries for about SLICE_NS; true when the job is complete. */
static bool run_slice(struct sku_statusjob *job)
{
	uint64_t start = sku_now_ns();

	/* Exits since the last slice: a cached answer is exact as of this slice. */
	if (job->brief)
		sku_livecache_sync(job->pm);
	while (job->next < job->n) {
		answer_one(job, &job->ids[job->next++]);
		if (job->next % CLOCK_EVERY == 0 && sku_now_ns() - start >= SLICE_NS)
			break;
	}
	return job->next == job->n;
}

static void job_free(struct sku_statusjob *job)
{
	free(job->ids);
	free(job);
}

static void job_end(struct sku_statusjob *job, int status)
{
	struct sku_call *call = job->call;

	sku_list_del(&job->link);
	if (sku_list_empty(&job->pm->status_jobs))
		uv_idle_stop(&job->pm->status_idle);
	job_free(job);
	sku_call_finish(call, status);
}

static void on_idle(uv_idle_t *h)
{
	struct sku_procmod *pm = h->data;
	struct sku_statusjob *job;

	if (sku_list_empty(&pm->status_jobs)) {
		uv_idle_stop(h);
		return;
	}
	job = sku_container_of(pm->status_jobs.next, struct sku_statusjob, link);
	/* Nobody to answer: stop working for them (finishing sends nothing to a closing conn). */
	if (sku_conn_is_closing(job->call->conn) || run_slice(job)) {
		job_end(job, 0);
		return;
	}
	/* Round robin: the next batch takes the next turn. */
	sku_list_del(&job->link);
	sku_list_add_tail(&pm->status_jobs, &job->link);
}

/* Whether the batches in progress leave room for another, from this connection and overall. */
static bool room_for_more(const struct sku_procmod *pm, const struct sku_conn *conn)
{
	unsigned all = 0, mine = 0;

	for (const struct sku_list *l = pm->status_jobs.next; l != &pm->status_jobs; l = l->next) {
		const struct sku_statusjob *job = sku_container_of(l, struct sku_statusjob, link);

		all++;
		mine += job->call->conn == conn;
	}
	return all < JOBS_MAX && mine < JOBS_PER_CONN;
}

static void job_cancel(struct sku_call *call)
{
	job_end(call->ctx, sku_call_error(call, SKU_ERR_UNAVAILABLE, "the daemon is stopping"));
}

int sku_status_answer(struct sku_procmod *pm, struct sku_call *call, struct sku_ident *ids,
                      size_t n, unsigned fields)
{
	struct sku_statusjob *job = calloc(1, sizeof(*job));

	if (!job) {
		free(ids);
		return sku_call_error(call, SKU_ERR_RESOURCE_EXHAUSTED, "out of memory");
	}
	*job = (struct sku_statusjob){.pm = pm,
	                              .call = call,
	                              .ids = ids,
	                              .n = n,
	                              .fields = fields,
	                              .brief = !(fields & SKU_PF_VOLATILE)};
	sku_list_init(&job->link);
	msgpack_pack_array(&call->pk, (uint32_t)n);
	if (run_slice(job)) {
		job_free(job);
		return 0;
	}
	if (sku_list_empty(&pm->status_jobs))
		uv_idle_start(&pm->status_idle, on_idle);
	sku_list_add_tail(&pm->status_jobs, &job->link);
	if (!room_for_more(pm, call->conn))
		sku_conn_hold_input(call->conn);
	call->ctx = job;
	call->cancel = job_cancel;
	return SKU_CALL_DEFERRED;
}

static void on_idle_closed(uv_handle_t *h)
{
	sku_proc_handle_closed(h->data);
}

int sku_status_init(struct sku_procmod *pm)
{
	int r;

	sku_list_init(&pm->status_jobs);
	r = uv_idle_init(pm->srv->loop, &pm->status_idle);
	if (r < 0)
		return r;
	pm->status_idle.data = pm;
	pm->nhandles++;
	return 0;
}

void sku_status_done(struct sku_procmod *pm)
{
	while (!sku_list_empty(&pm->status_jobs)) {
		struct sku_statusjob *job =
		        sku_container_of(pm->status_jobs.next, struct sku_statusjob, link);

		job_cancel(job->call);
	}
	uv_close((uv_handle_t *)&pm->status_idle, on_idle_closed);
}
