/* SPDX-License-Identifier: MIT */
/*
 * Shared between core/buddy.c, core/pcp.c and core/buddy_check.c; not an
 * interface. Indices (uint32_t idx) are relative to the zone base.
 */
#ifndef PH_BUDDY_INTERNAL_H
#define PH_BUDDY_INTERNAL_H

#include "buddy_report.h"

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

/* ---- state word: relaxed atomics, plain loads and stores on x86 ---- */

static inline uint32_t pg_state(const struct ph_page *p)
{
	return atomic_load_explicit((_Atomic uint32_t *)&p->state, memory_order_relaxed);
}

static inline void pg_set_state(struct ph_page *p, uint32_t s)
{
	atomic_store_explicit(&p->state, s, memory_order_relaxed);
}

static inline uint32_t st_flags(uint32_t s) { return s & PH_PG_FLAGS_MASK; }

/* The flags a free head carries besides BUDDY: the memory was discarded. */
#define PG_DISCARDED	(PH_PG_REPORTED | PH_PG_SPLIT_REPORTED)
static inline unsigned st_order(uint32_t s) { return s >> PH_PG_ORDER_SHIFT; }
static inline uint32_t mk_state(uint32_t flags, unsigned order)
{
	return flags | ((uint32_t)order << PH_PG_ORDER_SHIFT);
}

/* Counters are written only under their lock, read anywhere: a load and
 * a store, not a locked read-modify-write. */
static inline void ctr_add(_Atomic uint64_t *c, int64_t d)
{
	uint64_t v = atomic_load_explicit(c, memory_order_relaxed);
	atomic_store_explicit(c, v + (uint64_t)d, memory_order_relaxed);
}

static inline uint64_t ctr_read(const _Atomic uint64_t *c)
{
	return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

/* ---- index lists ---- */

static inline void list_init(struct ph_list *l)
{
	l->first = l->last = PH_NIL;
}

static inline void list_add_head(struct ph_page *map, struct ph_list *l, uint32_t idx)
{
	struct ph_page *p = &map[idx];
	p->prev = PH_NIL;
	p->next = l->first;
	if (l->first != PH_NIL)
		map[l->first].prev = idx;
	else
		l->last = idx;
	l->first = idx;
}

static inline void list_add_tail(struct ph_page *map, struct ph_list *l, uint32_t idx)
{
	struct ph_page *p = &map[idx];
	p->next = PH_NIL;
	p->prev = l->last;
	if (l->last != PH_NIL)
		map[l->last].next = idx;
	else
		l->first = idx;
	l->last = idx;
}

static inline void list_del(struct ph_page *map, struct ph_list *l, uint32_t idx)
{
	struct ph_page *p = &map[idx];
	if (p->prev != PH_NIL)
		map[p->prev].next = p->next;
	else
		l->first = p->next;
	if (p->next != PH_NIL)
		map[p->next].prev = p->prev;
	else
		l->last = p->prev;
	p->next = p->prev = PH_NIL;
}

/*
 * list_rotate_to_front: [a b X c d] -> [X c d a b]. The part before X moves,
 * in order, behind the old tail. O(1).
 */
static inline void list_rotate_to_front(struct ph_page *map, struct ph_list *l, uint32_t idx)
{
	struct ph_page *x = &map[idx];
	uint32_t before = x->prev;
	if (before == PH_NIL)
		return;				/* already first */
	map[l->last].next = l->first;		/* close the ring ... */
	map[l->first].prev = l->last;
	map[before].next = PH_NIL;		/* ... and cut it before X */
	x->prev = PH_NIL;
	l->first = idx;
	l->last = before;
}

/* ---- shared by buddy.c and pcp.c, zone lock held ---- */

enum free_where { FREE_AUTO, FREE_TO_HEAD, FREE_TO_TAIL };

/* Take a block of exactly 2^order off the free lists (splitting a larger
 * one); returns its index with state HEAD|order, or PH_NIL. */
uint32_t __ph_rmqueue(struct ph_zone *z, unsigned order);

/*
 * Put the block at idx (whose descriptor the caller owns; its state is
 * overwritten) into the free lists, merging with free buddies. If n (may
 * be NULL) has hooks and the merged block is of order >= their
 * free_min_order, block_freed gets it and n->called is set. Returns the
 * merged head's index.
 */
struct ph_free_notify {
	const struct ph_report_hooks *hooks;	/* z->hooks, read under the zone lock */
	unsigned cpu;
	bool called;				/* block_freed was called */
};

uint32_t __ph_free_one(struct ph_zone *z, uint32_t idx, unsigned order,
		       enum free_where where, struct ph_free_notify *n);

/* Check a free of (pfn, order) by its owner; 0 or -PH_EINVAL + warning. */
int ph_check_free(struct ph_zone *z, uint64_t pfn, unsigned order);

/* After the locks are dropped: free_done, if the path called block_freed. */
static inline void ph_call_free_done(const struct ph_free_notify *n)
{
	if (n->called && n->hooks->free_done)
		n->hooks->free_done(n->hooks->ctx, n->cpu);
}

#endif
