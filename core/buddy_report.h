/* SPDX-License-Identifier: MIT */
/*
 * What a free page reporting engine may do with a zone of core/buddy.
 *
 * An engine learns about frees through hooks, and takes blocks away from
 * the allocator while the host discards them:
 *
 *   alloc:   allocation is about to hand out pages of a free block
 *              -> hooks->block_alloc(ctx, pfn, order)             zone lock held
 *                 (optional; may refuse: the block leaves the allocator)
 *   free:    a block of order >= free_min_order enters the free lists
 *            (after coalescing)
 *              -> hooks->block_freed(ctx, cpu, head_pfn, order)   zone lock held
 *            the free path drops its locks
 *              -> hooks->free_done(ctx, cpu)                      no lock held
 *   report:  ph_zone_lock(); __ph_isolate_free_block(...) per block; unlock
 *            hand the blocks to the sink (core/report_sink.h), wait
 *            ph_zone_lock(); __ph_putback_block(..., reported) per block; unlock
 *
 * A block is Isolated between the two: not on any free list, not counted in
 * nr_free or free pages, never allocated, never merged with its buddy, and
 * refused by ph_free_pages. Putting it back merges it like a free (Linux's
 * __putback_isolated_page); if it did not merge it can be marked Reported
 * (Linux's page_reporting_drain), so later passes skip it. Any merge, and
 * any allocation of a Reported block, clears the flag and its count; the
 * halves left over when a Reported block is split are unreported (they
 * carry a mark of their own, for ph_zone_reported_allocated only).
 *
 * Everything named "__ph_*" needs the zone lock, held with ph_zone_lock().
 * Never call the allocator (ph_alloc_pages, ph_free_pages, drains) with the
 * zone lock held: it takes the lock itself, and per-CPU locks nest outside
 * it. Every pfn is absolute; all functions check that pfns are in the zone.
 */
#ifndef PH_BUDDY_REPORT_H
#define PH_BUDDY_REPORT_H

#include "buddy.h"

/* ---- 1. Free hooks ---------------------------------------------------- */

struct ph_report_hooks {
	/*
	 * A block of 2^order pages at pfn has entered the free lists, after
	 * coalescing (pfn and order are the merged block's). Called with the
	 * zone lock held, by the freeing CPU (cpu = ph_cpu_id(); when a CPU
	 * drains another's per-CPU list, the draining one), wherever Linux
	 * calls page_reporting_notify_free: direct frees of any order,
	 * per-CPU lists flushing a batch or being drained, ph_zone_free_range.
	 * Not called for an order-0 free that stays on a per-CPU list, nor
	 * for __ph_putback_block (FPI_SKIP_REPORT_NOTIFY), nor for blocks
	 * below free_min_order.
	 * Must be cheap; may use the __ph_* queries below; must not allocate,
	 * free, isolate or put back, nor take the zone lock.
	 */
	void (*block_freed)(void *ctx, unsigned cpu, uint64_t pfn, unsigned order);
	/*
	 * The smallest merged order block_freed is called for (< PH_MAX_ORDER;
	 * 0: every block). The free path tests it inline, as Linux's
	 * page_reporting_notify_free tests page_reporting_order: most frees
	 * are order-0 pages that merge no higher, and an engine that reports
	 * 2 MiB blocks should not cost them a call. (Measured in guest
	 * instructions on a page_fault1-like churn: a call per page cost
	 * 1.1%, testing the hooks' own field per page 0.36%, the zone's
	 * copy nothing measurable.)
	 */
	unsigned free_min_order;
	/*
	 * Optional (may be NULL). Called once by a free path that called
	 * block_freed at least once (none: no call), after it dropped the
	 * zone lock and the per-CPU lock: the place for heavier work. May
	 * call the allocator, including frees and drains, which may call
	 * free_done again (re-entrantly, on this CPU): guard against
	 * recursion if that matters to the engine.
	 */
	void (*free_done)(void *ctx, unsigned cpu);
	void *ctx;
	/*
	 * Optional (may be NULL): the exitless mode's allocation side
	 * (docs/exitless.md §3). Allocation took the free block of order o
	 * >= alloc_min_order at the head of its list and is about to hand
	 * out [pfn, pfn + 2^order) (order <= o: the whole block, or the low
	 * part a split keeps; pfn is the block's head). Called with the zone
	 * lock held, before the block leaves its list, wherever allocation
	 * takes blocks off the free lists: direct allocation of any order,
	 * per-CPU refills (once per page taken, order 0), never for
	 * blocks of lower order, nor for isolation. Returns 0 to let the
	 * allocation go on, non-zero to refuse: the aligned block of order
	 * max(order, alloc_min_order) containing pfn is then taken off the
	 * free lists for good (marked allocated, counted in
	 * ph_zone_refused_pages; the rest of the order-o block goes back to
	 * the lists, split) and allocation looks for another block. A
	 * refusal must mean the memory may not be used; the hook may wait
	 * (bounded) before deciding, e.g. for the host to finish a discard.
	 * Must not allocate, free, isolate or put back, nor take the zone
	 * lock. Without block_alloc an allocation pays one predictable
	 * branch.
	 */
	int (*block_alloc)(void *ctx, uint64_t pfn, unsigned order);
	unsigned alloc_min_order;	/* < PH_MAX_ORDER; 0: every block */
};

/*
 * Register hooks on a zone (at most one set; -PH_EBUSY otherwise) or remove
 * them. A free that forms no block of free_min_order costs one compare
 * with the zone's copy of it, the same with or without hooks (none: the
 * copy is PH_MAX_ORDER); an allocation without block_alloc, one
 * predictable branch. -PH_EINVAL without
 * block_freed or with alloc_min_order or free_min_order >= PH_MAX_ORDER.
 * The hooks struct and ctx must stay valid until unregistered and until
 * any free path that had already read them returned (free_done runs after
 * the zone lock is dropped).
 */
int ph_zone_register_report_hooks(struct ph_zone *zone, const struct ph_report_hooks *hooks);
void ph_zone_unregister_report_hooks(struct ph_zone *zone);

/* ---- 2. The zone lock ------------------------------------------------- */

void ph_zone_lock(struct ph_zone *zone);
void ph_zone_unlock(struct ph_zone *zone);

/* ---- 3, 4. Isolate and put back -------------------------------------- */

/*
 * Take the free block (pfn, order) off its free list: nr_free[order] and
 * free pages drop, nr_reported[order] too if it was Reported (the flag is
 * cleared), and it is marked Isolated. Returns 0, or -PH_ENOENT with
 * nothing changed if pfn is not (any more) the head of a free block of
 * exactly that order (allocated, merged, split, isolated, a hole, outside).
 */
int __ph_isolate_free_block(struct ph_zone *zone, uint64_t pfn, unsigned order);

enum ph_where { PH_HEAD, PH_TAIL };

/*
 * Give back the isolated block (pfn, order): it coalesces as a free does
 * and goes to the head or the tail of its free list (Linux puts isolated
 * pages back at the tail). No hook is called. If it did not merge and
 * reported is true, it is marked Reported and counted in nr_reported.
 * Returns 1 if it merged with a buddy, 0 if not, -PH_EINVAL (nothing
 * changed, warning) if (pfn, order) is not an isolated block.
 */
int __ph_putback_block(struct ph_zone *zone, uint64_t pfn, unsigned order,
		       enum ph_where where, bool reported);

/* ---- 5. Queries ------------------------------------------------------ */

/*
 * The free block containing pfn (seed-v8's get_buddy_page): 0 and its head
 * and order, or -PH_ENOENT if pfn is not in a free block (allocated,
 * per-CPU, isolated, hole, outside the zone).
 */
int __ph_find_free_head(struct ph_zone *zone, uint64_t pfn, uint64_t *head_pfn,
			unsigned *order);

enum ph_page_kind {
	PH_PAGE_OUTSIDE,	/* not in the zone */
	PH_PAGE_HOLE,		/* reserved; head = pfn, order 0 */
	PH_PAGE_FREE,		/* in the free block (head, order) */
	PH_PAGE_ISOLATED,	/* in the isolated block (head, order) */
	PH_PAGE_PCP,		/* on a per-CPU list; head = pfn, order 0 */
	PH_PAGE_ALLOCATED,	/* in the allocated block (head, order) */
};

struct ph_page_info {
	enum ph_page_kind kind;
	uint64_t head;		/* first pfn of the block containing pfn */
	unsigned order;		/* its order: a walker resumes at
				 * head + (1 << order) */
	bool reported;		/* PH_PAGE_FREE: the block is Reported */
};

/*
 * What pfn is (for a walker such as seed-v8's worker). FREE and ISOLATED
 * are stable while the zone lock is held; PCP and ALLOCATED are a snapshot,
 * as their owners do not take the zone lock (a page may be allocated or
 * freed to a per-CPU list meanwhile, never made free behind the lock).
 */
void __ph_page_query(struct ph_zone *zone, uint64_t pfn, struct ph_page_info *info);

/* ---- 6. Walking a free list ----------------------------------------- */

/*
 * The free list of one order, in allocation order (allocation takes the
 * first). A cursor is the head pfn of a block on the list; PH_NO_PFN ends
 * the walk. As in mm/page_reporting.c's page_reporting_cycle:
 *
 *	for (pfn = __ph_free_list_first(z, o); pfn != PH_NO_PFN; pfn = next) {
 *		next = __ph_free_list_next(z, o, pfn);   before isolating pfn
 *		if (__ph_page_reported(z, pfn)) continue;
 *		... __ph_isolate_free_block(z, pfn, o) ...
 *		when stopping early, or before dropping the lock:
 *		__ph_free_list_rotate_to_front(z, o, next-to-visit);
 *	}
 *
 * Once the lock was dropped a saved cursor may no longer be on the list:
 * start again from __ph_free_list_first (which the rotation made the block
 * the previous pass stopped at).
 */
uint64_t __ph_free_list_first(struct ph_zone *zone, unsigned order);
uint64_t __ph_free_list_last(struct ph_zone *zone, unsigned order);
/* The block after pfn, which must be on the order's list (else PH_NO_PFN
 * and a warning). */
uint64_t __ph_free_list_next(struct ph_zone *zone, unsigned order, uint64_t pfn);
/* pfn is a free head with the Reported flag. */
bool __ph_page_reported(struct ph_zone *zone, uint64_t pfn);
/*
 * Rotate the list so pfn is first; the blocks that were before it move, in
 * order, to the tail (list_rotate_to_front). Returns 0, or -PH_ENOENT if
 * pfn is not a free head of that order. O(1).
 */
int __ph_free_list_rotate_to_front(struct ph_zone *zone, unsigned order, uint64_t pfn);

/*
 * The engine's 32-bit word in a free or isolated head's descriptor (zone
 * lock), e.g. when the block was freed. It is 0 when a block enters the
 * free lists; merging keeps neither word.
 */
uint32_t *__ph_engine_word(struct ph_zone *zone, uint64_t pfn);

/* ---- 7. Counters ------------------------------------------------------ */

/* ph_zone_nr_free, ph_zone_nr_reported, ph_zone_free_pages,
 * ph_zone_isolated_pages in core/buddy.h: lockless snapshots, exact under
 * the zone lock. */

#endif
