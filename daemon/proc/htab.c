/* htab.c - intrusive chained hash table (see htab.h). */
#include "htab.h"

#include <errno.h>
#include <stdlib.h>

/* splitmix64's finalizer: cheap and spreads consecutive pids and ids over all buckets. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static size_t slot(const struct sku_htab *t, uint64_t key)
{
	return (size_t)(mix(key) & (t->nbuckets - 1));
}

int sku_htab_init(struct sku_htab *t, size_t initial)
{
	size_t n = 16;

	while (n < initial && n < ((size_t)1 << 30))
		n <<= 1;
	t->buckets = calloc(n, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = n;
	t->count = 0;
	return 0;
}

void sku_htab_done(struct sku_htab *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = 0;
	t->count = 0;
}

void sku_htab_drain(struct sku_htab *t, void (*free_node)(struct sku_hnode *n))
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct sku_hnode *e = t->buckets[i];

		t->buckets[i] = NULL;
		while (e) {
			struct sku_hnode *next = e->next;

			e->next = NULL;
			free_node(e);
			e = next;
		}
	}
	sku_htab_done(t);
}

static void grow(struct sku_htab *t)
{
	size_t n = t->nbuckets * 2;
	struct sku_hnode **nb;

	if (n > ((size_t)1 << 30))
		return;
	nb = calloc(n, sizeof(*nb));
	if (!nb)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct sku_hnode *e = t->buckets[i];

		while (e) {
			struct sku_hnode *next = e->next;
			size_t s = (size_t)(mix(e->key) & (n - 1));

			e->next = nb[s];
			nb[s] = e;
			e = next;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
}

void sku_htab_insert(struct sku_htab *t, struct sku_hnode *n, uint64_t key)
{
	size_t s;

	if (t->count >= t->nbuckets)
		grow(t);
	s = slot(t, key);
	n->key = key;
	n->next = t->buckets[s];
	t->buckets[s] = n;
	t->count++;
}

void sku_htab_remove(struct sku_htab *t, struct sku_hnode *n)
{
	struct sku_hnode **pp = &t->buckets[slot(t, n->key)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			n->next = NULL;
			t->count--;
			return;
		}
	}
}

struct sku_hnode *sku_htab_first(const struct sku_htab *t, uint64_t key)
{
	struct sku_hnode *e;

	if (!t->nbuckets)
		return NULL;
	for (e = t->buckets[slot(t, key)]; e; e = e->next)
		if (e->key == key)
			return e;
	return NULL;
}

struct sku_hnode *sku_htab_next(const struct sku_hnode *n)
{
	struct sku_hnode *e;

	for (e = n->next; e; e = e->next)
		if (e->key == n->key)
			return e;
	return NULL;
}

uint64_t sku_ident_key(int64_t pid, uint64_t start_time)
{
	return mix((uint64_t)pid) ^ start_time;
}
