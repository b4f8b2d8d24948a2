/*
 * htab.h - an intrusive chained hash table keyed by 64-bit integers.
 *
 * Nodes are embedded in their owners; the table owns only its bucket array. Several nodes may
 * share a key: callers walk them with sku_htab_first()/sku_htab_next() and compare their own
 * fields. The bucket array grows by doubling; growth failure is not an error (chains lengthen).
 */
#ifndef SKU_PROC_HTAB_H
#define SKU_PROC_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct sku_hnode {
	struct sku_hnode *next;
	uint64_t key;
};

struct sku_htab {
	struct sku_hnode **buckets; /* owned */
	size_t nbuckets;            /* power of two */
	size_t count;
};

/* Returns 0 or -ENOMEM. */
int sku_htab_init(struct sku_htab *t, size_t initial);
/* Frees the bucket array only; the nodes belong to their owners. */
void sku_htab_done(struct sku_htab *t);
/*
 * Unlinks every node, handing each to free_node (which owns it from then on), then frees the
 * bucket array: sku_htab_done() for a table whose nodes are its owner's to free.
 */
void sku_htab_drain(struct sku_htab *t, void (*free_node)(struct sku_hnode *n));
void sku_htab_insert(struct sku_htab *t, struct sku_hnode *n, uint64_t key);
/* Unlink n, which must be in t. */
void sku_htab_remove(struct sku_htab *t, struct sku_hnode *n);
/* First node with key, or NULL. */
struct sku_hnode *sku_htab_first(const struct sku_htab *t, uint64_t key);
/* Next node after n with the same key, or NULL. */
struct sku_hnode *sku_htab_next(const struct sku_hnode *n);

/* A well-mixed 64-bit key for a (pid, start_time) identity. */
uint64_t sku_ident_key(int64_t pid, uint64_t start_time);

#endif
