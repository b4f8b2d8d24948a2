/*
 * facts_mod.h - the facts module inside the daemon: the per-cgroup cache, subscriptions and
 * change detection (facts_watch.c), the wire form (facts_pack.c) and the handlers (h_facts.c).
 */
#ifndef SKU_FACTS_MOD_H
#define SKU_FACTS_MOD_H

#include <msgpack.h>
#include <uv.h>

#include "facts.h"
#include "sku_daemon.h"

#define SKU_FACTS_MAX_AGE_NS  1000000000ull /* a cached cgroup is re-read when older */
#define SKU_FACTS_TICK_MS     1000          /* re-check period while someone subscribes */
#define SKU_FACTS_IDLE_MS     30000         /* unused cache entries are dropped after this */
#define SKU_FACTS_MAX_ENTRIES 1024          /* distinct cgroups cached at once */
#define SKU_FACTS_MAX_SUBS    4096          /* subscriptions alive at once, all connections */

/* The facts of one cgroup membership (one distinct /proc/<pid>/cgroup text). */
struct sku_facts_entry {
	struct sku_facts_entry *next, *prev;
	char *key; /* owned: the membership text */
	size_t keylen;
	struct sku_group_facts g;
	uint64_t generation;   /* stamped from srv->metrics.facts_generations on change */
	uint64_t validated_ns; /* last full read */
	uint64_t used_ns;      /* last facts.get or subscription refresh */
	bool dirty;            /* inotify saw a write in one of its directories */
	bool changed;          /* changed in the current re-check; subscribers not told yet */
	unsigned nsubs;
	int *wds; /* owned: inotify watch descriptors held (refcounted in sku_facts.wds) */
	unsigned nwds;
};

struct sku_facts_sub {
	struct sku_facts_sub *next, *prev;
	struct sku_conn_hook hook; /* removes the subscription when the connection closes */
	struct sku_facts *facts;
	struct sku_conn *conn; /* not referenced: the hook unlinks us before it goes away */
	uint64_t id;
	pid_t pid;
	struct sku_facts_entry *entry; /* the cgroup the process was last seen in */
	struct sku_proc_facts proc;
	uint64_t generation; /* last generation reported */
	bool dead;           /* removed while the list was being walked; freed after */
};

struct sku_wd_ref {
	int wd;
	unsigned refs;
};

struct sku_facts {
	struct sku_server *srv;
	struct sku_facts_env env;
	struct sku_facts_entry *entries;
	unsigned nentries;
	struct sku_facts_sub *subs;
	unsigned nsubs;
	int ino_fd; /* -1 when inotify is unavailable: the periodic checks still work */
	uv_poll_t ino_poll;
	struct sku_wd_ref *wds; /* owned */
	size_t nwds, capwds;
	uv_timer_t tick;  /* runs only while there are subscribers */
	uv_timer_t sweep; /* one-shot; runs only while unused entries remain */
	unsigned walking; /* > 0 while the subscription list is being walked */
	unsigned open_handles;
};

/*
 * The current facts of pid: per-process values are re-read, the cgroup's come from the
 * cache (re-read when dirty or older than SKU_FACTS_MAX_AGE_NS). *ret_entry is borrowed and
 * valid until control returns to the loop. Returns 0, -ESRCH, -ENOMEM, or -EAGAIN when the
 * cache is full of subscribed cgroups.
 */
int sku_facts_lookup(struct sku_facts *f, pid_t pid, struct sku_proc_facts *ret_proc,
                     struct sku_facts_entry **ret_entry);

/* Subscribe conn to pid's facts. *ret_sub is owned by the module. Errors as lookup. */
int sku_facts_subscribe(struct sku_facts *f, struct sku_conn *conn, pid_t pid,
                        struct sku_facts_sub **ret_sub);
/* Returns 0, or -ENOENT when conn has no subscription id. */
int sku_facts_unsubscribe(struct sku_facts *f, struct sku_conn *conn, uint64_t id);

/* Set up inotify and the timers; tear everything down (frees f once its handles closed). */
int sku_facts_watch_init(struct sku_facts *f);
void sku_facts_watch_done(struct sku_facts *f);

/* Pack the facts map of docs/protocol.md. */
int sku_facts_pack(msgpack_packer *pk, const struct sku_facts_entry *e,
                   const struct sku_proc_facts *p, uint64_t generation);

#endif
