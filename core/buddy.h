/* SPDX-License-Identifier: MIT */
/*
 * core/buddy: a model of the Linux buddy allocator (mm/page_alloc.c) over one
 * zone of page frames, with per-CPU lists for order-0 pages.
 *
 * This header is the allocator's user interface: set a zone up, allocate and
 * free blocks, drain per-CPU lists, check consistency. The interface for
 * free page reporting engines (hooks, isolate, put back, free-list walk) is
 * core/buddy_report.h. Everything is in absolute page frame numbers (pfn);
 * a block of order n is 2^n pages whose first pfn is a multiple of 2^n.
 *
 * Setting a zone up (memory is passed in, there are no globals):
 *
 *	struct ph_page *map = <ph_zone_memmap_bytes(npages) bytes>;
 *	ph_zone_init(&zone, map, base_pfn, npages, NULL);   every page reserved
 *	ph_zone_free_range(&zone, pfn, n);                   per usable range
 *
 * Ranges never freed stay holes (reserved) for ever, like memblock's
 * reserved memory; the zone start need not be aligned to anything.
 *
 * Locking, in the order they nest:
 *   pcp->lock   one per CPU: that CPU's order-0 list, its count, high, batch.
 *               Taken by its own CPU on every order-0 alloc/free (no other
 *               CPU touches it, so it is uncontended) and by whoever drains
 *               the list.
 *   zone->lock  the free lists, every free or isolated block's descriptor,
 *               the counters, the hooks pointer. Functions whose name starts
 *               with "__" must be called with it held.
 * A page descriptor belongs to whoever owns the page: the zone lock while it
 * is free or isolated, its pcp lock while it is on a per-CPU list, the
 * caller who allocated it otherwise. Its state word is atomic (relaxed) so
 * that a zone-lock holder may look at any page (coalescing, queries) while
 * an owner changes it.
 */
#ifndef PH_BUDDY_H
#define PH_BUDDY_H

#include "platform.h"

#define PH_PAGE_SHIFT		12
#define PH_PAGE_SIZE		(1ul << PH_PAGE_SHIFT)
#define PH_MAX_ORDER		11	/* orders 0..10; largest block 4 MiB */
#define PH_PAGEBLOCK_ORDER	9	/* 2 MiB, the reporting threshold */

/* Returned by the allocation functions when there is no memory. */
#define PH_NO_PFN		UINT64_MAX

/* Error values (negative returns). */
#define PH_EINVAL		22	/* misuse: wrong state, order, pfn */
#define PH_ENOENT		2	/* not (or no longer) what was asked */
#define PH_EBUSY		16	/* already registered */

/* Index of a descriptor in its zone's memmap; PH_NIL ends a list. */
#define PH_NIL			UINT32_MAX

/*
 * Page descriptor, 16 bytes per 4 KiB page (0.4% of memory; Linux's struct
 * page is 64). Why 16: two 32-bit list links relative to the zone base
 * (a zone is < 2^32 pages = 16 TiB) instead of two 8-byte pointers, one
 * 32-bit state word holding the flags and the order, and 4 bytes for the
 * reporting engine. 12 would do; 16 keeps descriptors from straddling
 * cache lines and indexing a shift.
 *
 * Only heads carry state: the first page of a free, isolated or allocated
 * block, a page on a per-CPU list, and every page of a hole. The other
 * pages of a block have state 0. Users treat the struct as opaque.
 */
struct ph_page {
	uint32_t next;		/* list link: free list (zone lock) or per-CPU */
	uint32_t prev;		/*   list (pcp lock); PH_NIL at the ends       */
	_Atomic uint32_t state;	/* PH_PG_* flags | order << PH_PG_ORDER_SHIFT */
	uint32_t engine;	/* free/isolated heads: the reporting engine's
				 * (zone lock); 0 when the block enters the
				 * free lists */
};

/* state word */
#define PH_PG_BUDDY		0x01u	/* head of a free block, on a free list */
#define PH_PG_REPORTED		0x02u	/* free head already reported to the host */
#define PH_PG_ISOLATED		0x04u	/* head of a block isolated by an engine */
#define PH_PG_HEAD		0x08u	/* head of an allocated block */
#define PH_PG_PCP		0x10u	/* order-0 page on a per-CPU list */
#define PH_PG_RESERVED		0x20u	/* hole: never given to the allocator */
#define PH_PG_SPLIT_REPORTED	0x40u	/* free head split off a Reported block:
					 * the host still has it discarded, but
					 * it is not Reported (engines report it
					 * again, as Linux's do) */
#define PH_PG_ORDER_SHIFT	16
#define PH_PG_FLAGS_MASK	0xffffu

/* A doubly linked list threaded through descriptors, by index. */
struct ph_list {
	uint32_t first;
	uint32_t last;
};

struct ph_free_area {
	struct ph_list list;		/* zone lock */
	_Atomic uint64_t nr_free;	/* blocks; written under zone lock */
	_Atomic uint64_t nr_reported;	/* of those, Reported; ditto */
};

/*
 * Per-CPU list of order-0 pages (Linux's per_cpu_pages). Free adds at the
 * head; when count > high, batch pages from the tail (the coldest) go back
 * to the buddy. Allocation takes the head; an empty list is refilled with
 * batch pages from the buddy first.
 */
struct ph_pcp {
	ph_spinlock_t lock;
	struct ph_list list;	/* pcp lock */
	uint32_t count;		/* pcp lock */
	uint32_t high;		/* pcp lock */
	uint32_t batch;		/* pcp lock; >= 1 */
} __attribute__((aligned(64)));

struct ph_zone_config {
	unsigned nr_cpus;	/* CPUs 0..nr_cpus-1 get a per-CPU list (<=
				 * PH_MAX_CPUS); others use the direct path */
	unsigned pcp_batch;	/* pages moved per refill / flush, >= 1 */
	unsigned pcp_high;	/* flush when a list holds more than this */
};

struct ph_report_hooks;

/*
 * A zone. Its lock and each per-CPU list sit on their own cache lines, so
 * the struct must be 64-byte aligned (static storage, or aligned_alloc).
 */
struct ph_zone {
	/* Set by ph_zone_init, read-only afterwards. */
	struct ph_page *memmap;
	uint64_t base_pfn;
	uint32_t npages;
	unsigned nr_cpus;

	ph_spinlock_t lock __attribute__((aligned(64)));
	/* Everything below up to pcp[] is guarded by lock. */
	struct ph_free_area area[PH_MAX_ORDER];
	_Atomic uint64_t free_pages;	 /* pages on the free lists */
	_Atomic uint64_t isolated_pages; /* pages in isolated blocks */
	_Atomic uint64_t managed_pages;	 /* pages ever freed into the zone */
	_Atomic uint64_t reported_allocated; /* pages allocation took from
					      * discarded memory (refaults) */
	const struct ph_report_hooks *hooks;
	/* hooks if it has block_alloc, else NULL: the allocation path's
	 * one branch */
	const struct ph_report_hooks *alloc_hooks;
	/* hooks->free_min_order, PH_MAX_ORDER without hooks: the free path's
	 * one compare, the same whether an engine is registered or not */
	unsigned notify_min_order;
	_Atomic uint64_t refused_blocks; /* blocks block_alloc refused */
	_Atomic uint64_t refused_pages;	 /* their pages, out for good */

	struct ph_pcp pcp[PH_MAX_CPUS];
};

/* The zone's pfns: [ph_zone_start_pfn, ph_zone_end_pfn). */
static inline uint64_t ph_zone_start_pfn(const struct ph_zone *zone) { return zone->base_pfn; }
static inline uint64_t ph_zone_end_pfn(const struct ph_zone *zone)
{
	return zone->base_pfn + zone->npages;
}

/* Bytes of memmap a zone of npages needs (npages < PH_NIL). */
static inline size_t ph_zone_memmap_bytes(uint64_t npages)
{
	return (size_t)npages * sizeof(struct ph_page);
}

/*
 * Defaults for a zone of npages: all CPUs, Linux's zone_batchsize() formula
 * (batch = 63 from 1 GiB up; smaller zones get smaller batches, at
 * least 1) and the classic high = 6 * batch.
 */
void ph_zone_default_config(uint64_t npages, struct ph_zone_config *cfg);

/*
 * Set a zone up over [base_pfn, base_pfn + npages) with the caller's
 * memmap (ph_zone_memmap_bytes(npages) bytes). cfg may be NULL for the
 * defaults. Every page starts reserved. Returns 0, or -PH_EINVAL.
 */
int ph_zone_init(struct ph_zone *zone, struct ph_page *memmap, uint64_t base_pfn,
		 uint64_t npages, const struct ph_zone_config *cfg);

/*
 * Give the usable range [pfn, pfn + n) to the allocator (memblock_free_all):
 * its pages must be reserved; they are freed as the largest aligned blocks
 * that fit, coalescing with what is already free. Free hooks are called.
 * Returns 0, or -PH_EINVAL (nothing changed) if the range leaves the zone or
 * a page in it is not reserved.
 */
int ph_zone_free_range(struct ph_zone *zone, uint64_t pfn, uint64_t n);

/*
 * Allocate a block of 2^order pages; order 0 comes from the calling CPU's
 * per-CPU list. Returns its first pfn, or PH_NO_PFN when there is no block
 * that large (after draining every per-CPU list and retrying once, as
 * Linux's slow path does). Allocation clears Reported.
 */
uint64_t ph_alloc_pages(struct ph_zone *zone, unsigned order);

/*
 * Free a block allocated with that order. Returns 0, or -PH_EINVAL when
 * the call is wrong — double free, wrong order, a hole, a page that is not
 * the head of an allocated block, an isolated page, a pfn outside the zone —
 * which is reported through PH_WARN_ON and refused: nothing changes.
 */
int ph_free_pages(struct ph_zone *zone, uint64_t pfn, unsigned order);

/* The same, bypassing the per-CPU lists even for order 0. */
uint64_t ph_alloc_pages_direct(struct ph_zone *zone, unsigned order);
int ph_free_pages_direct(struct ph_zone *zone, uint64_t pfn, unsigned order);

/* Return every page on cpu's per-CPU list (or on all of them) to the buddy. */
void ph_drain_cpu(struct ph_zone *zone, unsigned cpu);
void ph_drain_all(struct ph_zone *zone);

/* Change every CPU's batch (>= 1) and high. Returns 0 or -PH_EINVAL. */
int ph_zone_set_pcp(struct ph_zone *zone, unsigned batch, unsigned high);

/* Pages on cpu's per-CPU list (takes its lock); and on all of them. */
unsigned ph_pcp_count(struct ph_zone *zone, unsigned cpu);
uint64_t ph_zone_pcp_pages(struct ph_zone *zone);

/* Counters, readable without a lock (a snapshot): free blocks of an order,
 * how many of them are Reported, pages on the free lists (not counting
 * per-CPU lists, as Linux's NR_FREE_PAGES), in isolated blocks, managed. */
uint64_t ph_zone_nr_free(const struct ph_zone *zone, unsigned order);
uint64_t ph_zone_nr_reported(const struct ph_zone *zone, unsigned order);
uint64_t ph_zone_free_pages(const struct ph_zone *zone);
uint64_t ph_zone_isolated_pages(const struct ph_zone *zone);
uint64_t ph_zone_managed_pages(const struct ph_zone *zone);
/*
 * Pages allocation has taken from memory the host discarded since the
 * zone was set up: what a reporting engine reads to see its reports being
 * faulted back in. Each allocation counts the pages it takes (2^order),
 * not the block it splits: a page from a Reported 4 MiB block is one page.
 * The halves a split leaves stay marked (PH_PG_SPLIT_REPORTED), so taking
 * them counts too, and a Reported block taken page by page counts each
 * page once. A merge ends the mark, as it ends Reported: the merged block
 * is the guest's again. A per-CPU refill counts its batch when it takes
 * it, whether or not the pages are handed out before a drain.
 */
uint64_t ph_zone_reported_allocated(const struct ph_zone *zone);
/* Blocks, and their pages, that a block_alloc hook refused
 * (core/buddy_report.h): taken out of the allocator for good. */
uint64_t ph_zone_refused_blocks(const struct ph_zone *zone);
uint64_t ph_zone_refused_pages(const struct ph_zone *zone);

/*
 * Consistency check (core/buddy_check.c): takes every pcp lock and the zone
 * lock, walks every list and every descriptor, recounts, and checks flags,
 * links, alignment, that no two free buddies were left unmerged, and that
 * managed = free + per-CPU + isolated + allocated. Each problem is reported
 * through ph_warn (the first few in full). Returns the number of problems.
 */
unsigned ph_zone_check(struct ph_zone *zone);

#endif
