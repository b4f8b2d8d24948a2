/*
 * facts_watch.c - facts cached per cgroup, not per connection, kept current three ways:
 *   directory watches (inotify) on every directory of every walk (a write to a cgroup file raises
 * IN_MODIFY in its directory), drained before each lookup so a client sees its own writes;
 *   re-reading a cached cgroup on lookup once it is a second old (what inotify cannot see:
 *   kernel-side changes such as CPU hot-plug or a parent's cpuset);
 *   a one-second tick while anyone subscribes, which also notices processes moving between
 *   cgroups and rlimit/affinity changes, and pushes facts.changed.
 * With no subscribers nothing runs: idle CPU is zero. Unused entries are dropped by a
 * one-shot timer.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "facts_mod.h"

static uint64_t bump(struct sku_facts *f)
{
	return ++f->srv->metrics.facts_generations;
}

/* ---- inotify watch descriptors, shared by entries watching the same directory ---- */

static int wd_hold(struct sku_facts *f, const char *dir)
{
	int wd;

	if (f->ino_fd < 0)
		return -1;
	wd = sku_dirwatch_add(f->ino_fd, dir);
	if (wd < 0)
		return -1; /* ENOSPC (max_user_watches) and the like: the timers still cover it */
	for (size_t i = 0; i < f->nwds; i++) {
		if (f->wds[i].wd == wd) {
			f->wds[i].refs++;
			return wd;
		}
	}
	if (f->nwds == f->capwds) {
		size_t ncap = f->capwds ? f->capwds * 2 : 32;
		struct sku_wd_ref *v = realloc(f->wds, ncap * sizeof(*v));

		if (!v) {
			sku_dirwatch_rm(f->ino_fd, wd);
			return -1;
		}
		f->wds = v;
		f->capwds = ncap;
	}
	f->wds[f->nwds++] = (struct sku_wd_ref){.wd = wd, .refs = 1};
	return wd;
}

static void wd_release(struct sku_facts *f, int wd)
{
	for (size_t i = 0; i < f->nwds; i++) {
		if (f->wds[i].wd != wd)
			continue;
		if (--f->wds[i].refs == 0) {
			sku_dirwatch_rm(f->ino_fd, wd);
			f->wds[i] = f->wds[--f->nwds];
		}
		return;
	}
}

static void entry_set_watches(struct sku_facts *f, struct sku_facts_entry *e,
                              struct sku_watch_dirs *dirs)
{
	int *wds = NULL;
	unsigned n = 0;

	if (f->ino_fd >= 0 && dirs->n > 0) {
		wds = malloc(dirs->n * sizeof(*wds));
		for (unsigned i = 0; wds && i < dirs->n; i++) {
			int wd = wd_hold(f, dirs->dir[i]);

			if (wd >= 0)
				wds[n++] = wd;
		}
	}
	/* hold the new set before releasing the old one so shared directories stay watched */
	for (unsigned i = 0; i < e->nwds; i++)
		wd_release(f, e->wds[i]);
	free(e->wds);
	e->wds = wds;
	e->nwds = n;
}

/* ---- cache entries ---- */

static struct sku_facts_entry *entry_find(struct sku_facts *f, const char *key, size_t keylen)
{
	for (struct sku_facts_entry *e = f->entries; e; e = e->next)
		if (e->keylen == keylen && memcmp(e->key, key, keylen) == 0)
			return e;
	return NULL;
}

static void entry_free(struct sku_facts *f, struct sku_facts_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		f->entries = e->next;
	if (e->next)
		e->next->prev = e->prev;
	f->nentries--;
	for (unsigned i = 0; i < e->nwds; i++)
		wd_release(f, e->wds[i]);
	free(e->wds);
	free(e->key);
	free(e);
}

/* Read the cgroup's facts again; returns whether anything but usage counters changed. */
static int entry_revalidate(struct sku_facts *f, struct sku_facts_entry *e, uint64_t now)
{
	struct sku_watch_dirs dirs = {0};
	struct sku_group_facts *g = malloc(sizeof(*g));
	bool changed;
	int r;

	if (!g)
		return -ENOMEM;
	r = sku_facts_read_group(&f->env, e->key, e->keylen, now, g, &dirs);
	if (r < 0) {
		free(g);
		sku_watch_dirs_done(&dirs);
		return r;
	}
	changed = sku_group_facts_changed(&e->g, g);
	e->g = *g;
	free(g);
	entry_set_watches(f, e, &dirs);
	sku_watch_dirs_done(&dirs);
	e->dirty = false;
	e->validated_ns = now;
	if (changed) {
		e->generation = bump(f);
		e->changed = true;
	}
	return changed;
}

static void sweep(struct sku_facts *f, uint64_t now, bool all_unused)
{
	struct sku_facts_entry *e = f->entries, *next;

	for (; e; e = next) {
		next = e->next;
		if (e->nsubs == 0 &&
		    (all_unused || now - e->used_ns >= SKU_FACTS_IDLE_MS * 1000000ull))
			entry_free(f, e);
	}
}

static void on_sweep(uv_timer_t *t);

static void arm_sweep(struct sku_facts *f, uint64_t now)
{
	uint64_t wait_ns = UINT64_MAX;

	for (struct sku_facts_entry *e = f->entries; e; e = e->next) {
		uint64_t idle = now - e->used_ns, left;

		if (e->nsubs)
			continue;
		left = idle >= SKU_FACTS_IDLE_MS * 1000000ull
		               ? 0
		               : SKU_FACTS_IDLE_MS * 1000000ull - idle;
		if (left < wait_ns)
			wait_ns = left;
	}
	if (wait_ns == UINT64_MAX)
		uv_timer_stop(&f->sweep);
	else if (!uv_is_active((uv_handle_t *)&f->sweep))
		uv_timer_start(&f->sweep, on_sweep, wait_ns / 1000000 + 1, 0);
}

static void on_sweep(uv_timer_t *t)
{
	struct sku_facts *f = t->data;
	uint64_t now = sku_now_ns();

	sweep(f, now, false);
	arm_sweep(f, now);
}

/* A new entry for key (ownership of *key taken on success). */
static int entry_create(struct sku_facts *f, char **key, size_t keylen, uint64_t now,
                        struct sku_facts_entry **ret)
{
	struct sku_facts_entry *e;
	int r;

	if (f->nentries >= SKU_FACTS_MAX_ENTRIES && f->walking == 0)
		sweep(f, now, true);
	if (f->nentries >= SKU_FACTS_MAX_ENTRIES)
		return -EAGAIN;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->key = *key;
	e->keylen = keylen;
	r = entry_revalidate(f, e, now);
	if (r < 0) {
		/* a failed read sets no watches: nothing else to undo, and *key stays the caller's
		 */
		free(e);
		return r;
	}
	*key = NULL;
	e->changed = false;
	if (e->generation == 0)
		e->generation = bump(f);
	e->used_ns = now;
	e->next = f->entries;
	if (f->entries)
		f->entries->prev = e;
	f->entries = e;
	f->nentries++;
	*ret = e;
	return 0;
}

/* ---- inotify ---- */

static void mark_dirty(struct sku_facts *f, int wd)
{
	for (struct sku_facts_entry *e = f->entries; e; e = e->next) {
		if (wd < 0) {
			e->dirty = true;
			continue;
		}
		for (unsigned i = 0; i < e->nwds; i++) {
			if (e->wds[i] == wd) {
				e->dirty = true;
				break;
			}
		}
	}
}

static void on_event(void *ctx, int wd)
{
	mark_dirty(ctx, wd);
}

/* Read every queued event; returns whether a subscribed entry became dirty. */
static bool drain_inotify(struct sku_facts *f)
{
	if (f->ino_fd < 0)
		return false;
	(void)sku_dirwatch_drain(f->ino_fd, on_event, f);
	for (struct sku_facts_entry *e = f->entries; e; e = e->next)
		if (e->dirty && e->nsubs)
			return true;
	return false;
}

/* ---- subscriptions ---- */

static void pack_changed(msgpack_packer *pk, void *ctx)
{
	struct sku_facts_sub *s = ctx;

	msgpack_pack_map(pk, 3);
	sku_pack_kv_uint(pk, "subscription_id", s->id);
	sku_pack_kv_uint(pk, "generation", s->generation);
	sku_pack_str(pk, "facts");
	sku_facts_pack(pk, s->entry, &s->proc, s->generation);
}

static void notify(struct sku_facts_sub *s, uint64_t generation)
{
	if (s->dead || sku_conn_is_closing(s->conn))
		return;
	if (generation > s->generation)
		s->generation = generation;
	/* -ENOBUFS closes the connection, whose hook then removes s (deferred: we walk) */
	(void)sku_conn_notify(s->conn, "facts.changed", pack_changed, s);
}

static void sub_unlink_free(struct sku_facts *f, struct sku_facts_sub *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		f->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
}

static void purge_dead(struct sku_facts *f)
{
	struct sku_facts_sub *s, *next;

	if (f->walking)
		return;
	for (s = f->subs; s; s = next) {
		next = s->next;
		if (s->dead)
			sub_unlink_free(f, s);
	}
}

static void sub_remove(struct sku_facts *f, struct sku_facts_sub *s)
{
	if (s->dead)
		return;
	sku_conn_remove_hook(&s->hook);
	s->dead = true;
	s->entry->nsubs--;
	s->entry->used_ns = sku_now_ns();
	f->nsubs--;
	f->srv->nsubscriptions = f->nsubs;
	if (f->nsubs == 0)
		uv_timer_stop(&f->tick);
	arm_sweep(f, sku_now_ns());
	purge_dead(f);
	sku_notify_status_changed(f->srv);
}

static void on_conn_close(struct sku_conn_hook *hook, struct sku_conn *conn)
{
	struct sku_facts_sub *s =
	        (struct sku_facts_sub *)(void *)((char *)hook -
	                                         offsetof(struct sku_facts_sub, hook));

	(void)conn;
	sub_remove(s->facts, s);
}

static void notify_entry(struct sku_facts *f, struct sku_facts_entry *e)
{
	f->walking++;
	for (struct sku_facts_sub *s = f->subs; s; s = s->next)
		if (s->entry == e)
			notify(s, e->generation);
	f->walking--;
	e->changed = false;
	purge_dead(f);
}

/* The re-check behind the tick and inotify: cgroups, memberships, per-process values. */
static void recheck(struct sku_facts *f)
{
	uint64_t now = sku_now_ns();

	drain_inotify(f);
	for (struct sku_facts_entry *e = f->entries; e; e = e->next)
		if (e->nsubs)
			(void)entry_revalidate(f, e, now);

	f->walking++;
	for (struct sku_facts_sub *s = f->subs; s; s = s->next) {
		struct sku_proc_facts p;
		bool changed = false;
		size_t keylen;
		char *key;

		if (s->dead)
			continue;
		if (sku_facts_read_proc(&f->env, s->pid, &p, &key, &keylen) < 0) {
			/* gone: the last cgroup it was in still reports */
			if (s->entry->changed)
				notify(s, s->entry->generation);
			continue;
		}
		if (keylen != s->entry->keylen || memcmp(key, s->entry->key, keylen) != 0) {
			struct sku_facts_entry *e2 = entry_find(f, key, keylen);

			if (e2 && (e2->dirty || now - e2->validated_ns >= SKU_FACTS_MAX_AGE_NS))
				(void)entry_revalidate(f, e2, now);
			if (e2 || entry_create(f, &key, keylen, now, &e2) == 0) {
				s->entry->nsubs--;
				s->entry->used_ns = now;
				e2->nsubs++;
				s->entry = e2;
				changed = true;
			}
		}
		free(key);
		changed |= sku_proc_facts_changed(&s->proc, &p);
		s->proc = p;
		s->entry->used_ns = now;
		if (changed)
			notify(s, bump(f));
		else if (s->entry->changed)
			notify(s, s->entry->generation);
	}
	f->walking--;
	for (struct sku_facts_entry *e = f->entries; e; e = e->next)
		e->changed = false;
	purge_dead(f);
	arm_sweep(f, now);
}

static void on_tick(uv_timer_t *t)
{
	recheck(t->data);
}

static void on_inotify(uv_poll_t *h, int status, int events)
{
	struct sku_facts *f = h->data;

	(void)events;
	if (status < 0) {
		/* an inotify fd does not fail; if it ever does, the timers carry on alone */
		uv_poll_stop(h);
		return;
	}
	if (drain_inotify(f))
		recheck(f);
}

/* ---- the module's entry points ---- */

int sku_facts_lookup(struct sku_facts *f, pid_t pid, struct sku_proc_facts *ret_proc,
                     struct sku_facts_entry **ret_entry)
{
	uint64_t now = sku_now_ns();
	struct sku_facts_entry *e;
	struct sku_proc_facts p;
	size_t keylen;
	char *key;
	int r;

	drain_inotify(f);
	r = sku_facts_read_proc(&f->env, pid, &p, &key, &keylen);
	if (r < 0)
		return r;
	e = entry_find(f, key, keylen);
	if (!e) {
		r = entry_create(f, &key, keylen, now, &e);
		free(key);
		if (r < 0)
			return r;
	} else {
		free(key);
		if (e->dirty || now - e->validated_ns >= SKU_FACTS_MAX_AGE_NS) {
			r = entry_revalidate(f, e, now);
			if (r < 0)
				return r;
			if (e->changed && e->nsubs)
				notify_entry(f, e);
			e->changed = false;
		}
	}
	e->used_ns = now;
	arm_sweep(f, now);
	*ret_proc = p;
	*ret_entry = e;
	return 0;
}

int sku_facts_subscribe(struct sku_facts *f, struct sku_conn *conn, pid_t pid,
                        struct sku_facts_sub **ret_sub)
{
	struct sku_facts_entry *e;
	struct sku_facts_sub *s;
	int r;

	if (f->nsubs >= SKU_FACTS_MAX_SUBS)
		return -EAGAIN;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = sku_facts_lookup(f, pid, &s->proc, &e);
	if (r < 0) {
		free(s);
		return r;
	}
	s->facts = f;
	s->conn = conn;
	s->id = ++f->srv->next_id;
	s->pid = pid;
	s->entry = e;
	s->generation = e->generation;
	s->hook.on_close = on_conn_close;
	sku_conn_add_hook(conn, &s->hook);
	e->nsubs++;
	s->next = f->subs;
	if (f->subs)
		f->subs->prev = s;
	f->subs = s;
	f->nsubs++;
	f->srv->nsubscriptions = f->nsubs;
	if (!uv_is_active((uv_handle_t *)&f->tick))
		uv_timer_start(&f->tick, on_tick, SKU_FACTS_TICK_MS, SKU_FACTS_TICK_MS);
	arm_sweep(f, sku_now_ns());
	sku_notify_status_changed(f->srv);
	*ret_sub = s;
	return 0;
}

int sku_facts_unsubscribe(struct sku_facts *f, struct sku_conn *conn, uint64_t id)
{
	for (struct sku_facts_sub *s = f->subs; s; s = s->next) {
		if (!s->dead && s->id == id && s->conn == conn) {
			sub_remove(f, s);
			return 0;
		}
	}
	return -ENOENT;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct sku_facts *f = h->data;

	if (--f->open_handles > 0)
		return;
	if (f->ino_fd >= 0)
		close(f->ino_fd);
	sku_facts_env_done(&f->env);
	free(f->wds);
	free(f);
}

int sku_facts_watch_init(struct sku_facts *f)
{
	uv_loop_t *loop = f->srv->loop;

	uv_timer_init(loop, &f->tick);
	uv_timer_init(loop, &f->sweep);
	f->tick.data = f->sweep.data = f;
	f->open_handles = 2;
	f->ino_fd = sku_dirwatch_open();
	if (f->ino_fd >= 0) {
		if (uv_poll_init(loop, &f->ino_poll, f->ino_fd) == 0) {
			f->ino_poll.data = f;
			f->open_handles++;
			uv_poll_start(&f->ino_poll, UV_READABLE, on_inotify);
		} else {
			close(f->ino_fd);
			f->ino_fd = -1;
		}
	}
	if (f->ino_fd < 0)
		sku_log(SKU_LOG_WARN,
		        "facts: inotify unavailable; limit changes are seen within %d ms",
		        SKU_FACTS_TICK_MS);
	return 0;
}

void sku_facts_watch_done(struct sku_facts *f)
{
	bool had_poll = f->ino_fd >= 0;

	while (f->subs) {
		struct sku_facts_sub *s = f->subs;

		sku_conn_remove_hook(&s->hook);
		sub_unlink_free(f, s);
	}
	f->nsubs = 0;
	f->srv->nsubscriptions = 0;
	while (f->entries)
		entry_free(f, f->entries);
	uv_close((uv_handle_t *)&f->tick, on_handle_closed);
	uv_close((uv_handle_t *)&f->sweep, on_handle_closed);
	if (had_poll)
		uv_close((uv_handle_t *)&f->ino_poll, on_handle_closed);
}
