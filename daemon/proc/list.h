/*
 * list.h - intrusive circular doubly-linked lists for the proc module.
 *
 * A node is embedded in its owner; the list never allocates or frees. A node that is not on
 * a list points at itself, so sku_list_del() of an unlinked node is harmless.
 */
#ifndef SKU_PROC_LIST_H
#define SKU_PROC_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct sku_list {
	struct sku_list *next, *prev;
};

#define sku_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline void sku_list_init(struct sku_list *l)
{
	l->next = l;
	l->prev = l;
}

static inline bool sku_list_empty(const struct sku_list *l)
{
	return l->next == l;
}

/* Append n at the tail of head. */
static inline void sku_list_add_tail(struct sku_list *head, struct sku_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

/* Unlink n (from whatever list holds it) and leave it self-linked. */
static inline void sku_list_del(struct sku_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	sku_list_init(n);
}

/* Move every node of from to the tail of to, leaving from empty. */
static inline void sku_list_splice_tail(struct sku_list *to, struct sku_list *from)
{
	if (sku_list_empty(from))
		return;
	from->next->prev = to->prev;
	to->prev->next = from->next;
	from->prev->next = to;
	to->prev = from->prev;
	sku_list_init(from);
}

#endif
