/* SPDX-License-Identifier: MIT */
/*
 * The buddy allocator proper: zone set-up, free lists, split and merge,
 * direct (non per-CPU) allocation and free, and what reporting engines
 * use (core/buddy_report.h). Per-CPU lists are in core/pcp.c, the
 * consistency checker in core/buddy_check.c.
 *
 * A free block of order n is its head page's descriptor, state
 * BUDDY|order (plus REPORTED or SPLIT_REPORTED), on area[n].list; its
 * other pages have state 0. Allocation (__ph_rmqueue, Linux's __rmqueue_smallest) takes
 * the first block of the smallest order that fits and puts the halves it
 * does not need on the lower lists (expand). Free (__ph_free_one, Linux's
 * __free_one_page) merges with the buddy at pfn ^ (1 << order) while that
 * buddy is in the zone and a free head of the same order — so never a
 * hole, an isolated block or an allocated one — then adds the result to
 * its list and tells the reporting hook.
 */
#include "buddy_internal.h"

static inline bool pfn_in_zone(const struct ph_zone *z, uint64_t pfn)
{
	return pfn >= z->base_pfn && pfn - z->base_pfn < z->npages;
}

/* [pfn, pfn + 2^order) is inside the zone and pfn aligned to order. */
static inline bool block_ok(const struct ph_zone *z, uint64_t pfn, unsigned order)
{
	return order < PH_MAX_ORDER && (pfn & ((1ull << order) - 1)) == 0 &&
	       pfn_in_zone(z, pfn) && z->npages - (pfn - z->base_pfn) >= (1ull << order);
}

static inline bool is_free_head(uint32_t s, unsigned order)
{
	return (st_flags(s) & ~PG_DISCARDED) == PH_PG_BUDDY && st_order(s) == order;
}

/* ---- free lists, zone lock held ---- */

/* mark: 0, or PH_PG_SPLIT_REPORTED for the half of a discarded block. */
static inline void add_to_free_list(struct ph_zone *z, uint32_t idx, unsigned order,
				    bool tail, uint32_t mark)
{
	struct ph_free_area *a = &z->area[order];

	pg_set_state(&z->memmap[idx], mk_state(PH_PG_BUDDY | mark, order));
	z->memmap[idx].engine = 0;
	if (tail)
		list_add_tail(z->memmap, &a->list, idx);
	else
		list_add_head(z->memmap, &a->list, idx);
	ctr_add(&a->nr_free, 1);
	ctr_add(&z->free_pages, 1ll << order);
}

/* Off the list; clears Reported (and its count) and SPLIT_REPORTED. The
 * caller sets the state. */
static inline void del_from_free_list(struct ph_zone *z, uint32_t idx, unsigned order)
{
	struct ph_free_area *a = &z->area[order];

	if (pg_state(&z->memmap[idx]) & PH_PG_REPORTED)
		ctr_add(&a->nr_reported, -1);
	list_del(z->memmap, &a->list, idx);
	ctr_add(&a->nr_free, -1);
	ctr_add(&z->free_pages, -(1ll << order));
}

#ifdef PH_DEBUG
/* Every page of a block but its head must have state 0. */
static bool tails_clean(const struct ph_zone *z, uint32_t idx, unsigned order)
{
	for (uint32_t i = 1; i < (1u << order); i++)
		if (pg_state(&z->memmap[idx + i]) != 0)
			return false;
	return true;
}
#endif

/* What the halves of a split of the free head idx carry. */
static inline uint32_t split_mark(const struct ph_zone *z, uint32_t idx)
{
	return pg_state(&z->memmap[idx]) & PG_DISCARDED ? PH_PG_SPLIT_REPORTED : 0;
}

/*
 * block_alloc refused (idx, o), handing out order: the aligned block of
 * order keep = max(order, min) at idx leaves the allocator (allocated,
 * never freed), the high halves of the rest go back like expand()'s.
 */
static void refuse_block(struct ph_zone *z, uint32_t idx, unsigned o, unsigned order,
			 unsigned min)
{
	unsigned keep = order > min ? order : min;
	uint32_t mark = split_mark(z, idx);

	del_from_free_list(z, idx, o);
	while (o > keep) {
		o--;
		add_to_free_list(z, idx + (1u << o), o, false, mark);
	}
	pg_set_state(&z->memmap[idx], mk_state(PH_PG_HEAD, keep));
	ctr_add(&z->refused_blocks, 1);
	ctr_add(&z->refused_pages, 1ll << keep);
}

uint32_t __ph_rmqueue(struct ph_zone *z, unsigned order)
{
retry:
	for (unsigned o = order; o < PH_MAX_ORDER; o++) {
		uint32_t idx = z->area[o].list.first;

		if (idx == PH_NIL)
			continue;
		/* exitless: the frames must be the guest's before any use */
		const struct ph_report_hooks *ah = z->alloc_hooks;
		if (unlikely(ah != NULL) && o >= ah->alloc_min_order &&
		    ah->block_alloc(ah->ctx, z->base_pfn + idx, order) != 0) {
			refuse_block(z, idx, o, order, ah->alloc_min_order);
			goto retry;
		}
		/* never taken without a reporting engine: nothing is marked;
		 * the pages handed out, not the block split, were discarded */
		uint32_t mark = split_mark(z, idx);
		if (unlikely(mark))
			ctr_add(&z->reported_allocated, 1ll << order);
		del_from_free_list(z, idx, o);
		/* expand(): [idx, idx + 2^o) -> keep the low half, free the high;
		 * the halves of a discarded block stay marked as such */
		while (o > order) {
			o--;
			add_to_free_list(z, idx + (1u << o), o, false, mark);
		}
		pg_set_state(&z->memmap[idx], mk_state(PH_PG_HEAD, order));
#ifdef PH_DEBUG
		PH_WARN_ON(!tails_clean(z, idx, order) && "allocated block has a page with state");
#endif
		return idx;
	}
	return PH_NIL;
}

/*
 * Linux's buddy_merge_likely(): the block did not merge at this order, but
 * if the buddy of the block one order up is free, it will merge once our
 * buddy is freed, so put this one at the tail to keep it free longer.
 */
static inline bool merge_likely(const struct ph_zone *z, uint64_t pfn, unsigned order)
{
	if (order >= PH_MAX_ORDER - 2)
		return false;
	uint64_t higher = pfn & ~(1ull << order);
	uint64_t hbuddy = higher ^ (1ull << (order + 1));
	return pfn_in_zone(z, hbuddy) &&
	       is_free_head(pg_state(&z->memmap[hbuddy - z->base_pfn]), order + 1);
}

uint32_t __ph_free_one(struct ph_zone *z, uint32_t idx, unsigned order,
		       enum free_where where, struct ph_free_notify *n)
{
	uint64_t pfn = z->base_pfn + idx;

	pg_set_state(&z->memmap[idx], 0);
	while (order < PH_MAX_ORDER - 1) {
		uint64_t buddy = pfn ^ (1ull << order);

		if (!pfn_in_zone(z, buddy))
			break;
		uint32_t bidx = (uint32_t)(buddy - z->base_pfn);
		if (!is_free_head(pg_state(&z->memmap[bidx]), order))
			break;		/* allocated, per-CPU, isolated, hole, split */
		del_from_free_list(z, bidx, order);
		pg_set_state(&z->memmap[bidx], 0);
		pfn &= buddy;
		order++;
	}
	idx = (uint32_t)(pfn - z->base_pfn);

	bool tail = where == FREE_TO_TAIL ||
		    (where == FREE_AUTO && merge_likely(z, pfn, order));
	add_to_free_list(z, idx, order, tail, 0);

	/* Linux's page_reporting_notify_free: the order test is inline, so
	 * the small blocks that are most frees cost no call, and one compare
	 * with or without hooks (z's copy of free_min_order, set with the
	 * hooks under the zone lock we hold, as n->hooks was read) */
	if (order >= z->notify_min_order && n && n->hooks) {
		n->hooks->block_freed(n->hooks->ctx, n->cpu, pfn, order);
		n->called = true;
	}
	return idx;
}

/* ---- checking a free ---- */

/* The block head (BUDDY, ISOLATED, HEAD or PCP) whose block contains pfn;
 * PH_NIL if none. Its state in *state. */
static uint32_t find_head(const struct ph_zone *z, uint64_t pfn, uint32_t *state)
{
	const uint32_t heads = PH_PG_BUDDY | PH_PG_ISOLATED | PH_PG_HEAD | PH_PG_PCP;

	for (unsigned o = 0; o < PH_MAX_ORDER; o++) {
		uint64_t h = pfn & ~((1ull << o) - 1);

		if (h < z->base_pfn)
			break;
		uint32_t s = pg_state(&z->memmap[h - z->base_pfn]);
		if ((s & heads) && st_order(s) >= o) {
			*state = s;
			return (uint32_t)(h - z->base_pfn);
		}
	}
	return PH_NIL;
}

/* Say what is wrong with freeing (pfn, order) whose head state is s. */
static int diagnose_free(struct ph_zone *z, uint64_t pfn, unsigned order, uint32_t s)
{
	uint32_t f = st_flags(s), hs = 0;

	if (PH_WARN_ON((f & PH_PG_RESERVED) && "free of a hole (reserved page)"))
		return -PH_EINVAL;
	if (PH_WARN_ON((f & (PH_PG_BUDDY | PH_PG_PCP)) && "double free: page is already free"))
		return -PH_EINVAL;
	if (PH_WARN_ON((f & PH_PG_ISOLATED) && "free of an isolated block"))
		return -PH_EINVAL;
	if (PH_WARN_ON((f & PH_PG_HEAD) && st_order(s) != order &&
		       "free with the wrong order"))
		return -PH_EINVAL;
	/* state 0: a page inside some block */
	if (find_head(z, pfn, &hs) == PH_NIL)
		hs = 0;
	if (PH_WARN_ON((hs & PH_PG_BUDDY) && "double free: page inside a free block"))
		return -PH_EINVAL;
	if (PH_WARN_ON((hs & PH_PG_ISOLATED) && "free of a page inside an isolated block"))
		return -PH_EINVAL;
	PH_WARN_ON(true && "free of a page that is not the head of an allocated block");
	return -PH_EINVAL;
}

int ph_check_free(struct ph_zone *z, uint64_t pfn, unsigned order)
{
	if (PH_WARN_ON(order >= PH_MAX_ORDER && "free with an order above the largest"))
		return -PH_EINVAL;
	if (PH_WARN_ON(!block_ok(z, pfn, order) && "free of a block outside the zone or misaligned"))
		return -PH_EINVAL;

	uint32_t idx = (uint32_t)(pfn - z->base_pfn);
	uint32_t s = pg_state(&z->memmap[idx]);

	if (unlikely(s != mk_state(PH_PG_HEAD, order)))
		return diagnose_free(z, pfn, order, s);
#ifdef PH_DEBUG
	if (PH_WARN_ON(!tails_clean(z, idx, order) && "freed block has a page with state"))
		return -PH_EINVAL;
#endif
	return 0;
}

/* ---- zone set-up ---- */

void ph_zone_default_config(uint64_t npages, struct ph_zone_config *cfg)
{
	/* zone_batchsize(): a quarter of min(npages/1024, 1 MiB of pages),
	 * times 1.5 rounded down to a power of two, minus one. */
	uint64_t b = npages >> 10;

	if (b > (1u << 20) / PH_PAGE_SIZE)
		b = (1u << 20) / PH_PAGE_SIZE;
	b /= 4;
	if (b < 1)
		b = 1;
	b += b / 2;
	while (b & (b - 1))
		b &= b - 1;
	b -= 1;
	if (b < 1)
		b = 1;
	cfg->nr_cpus = PH_MAX_CPUS;
	cfg->pcp_batch = (unsigned)b;
	cfg->pcp_high = 6 * (unsigned)b;
}

int ph_zone_init(struct ph_zone *z, struct ph_page *memmap, uint64_t base_pfn,
		 uint64_t npages, const struct ph_zone_config *cfg)
{
	struct ph_zone_config def;

	if (!cfg) {
		ph_zone_default_config(npages, &def);
		cfg = &def;
	}
	if (!z || (npages && !memmap) || npages >= PH_NIL ||
	    base_pfn + npages < base_pfn || base_pfn + npages == PH_NO_PFN ||
	    cfg->nr_cpus > PH_MAX_CPUS || cfg->pcp_batch < 1)
		return -PH_EINVAL;

	z->memmap = memmap;
	z->base_pfn = base_pfn;
	z->npages = (uint32_t)npages;
	z->nr_cpus = cfg->nr_cpus;
	ph_spin_init(&z->lock);
	for (unsigned o = 0; o < PH_MAX_ORDER; o++) {
		list_init(&z->area[o].list);
		atomic_init(&z->area[o].nr_free, 0);
		atomic_init(&z->area[o].nr_reported, 0);
	}
	atomic_init(&z->free_pages, 0);
	atomic_init(&z->isolated_pages, 0);
	atomic_init(&z->managed_pages, 0);
	atomic_init(&z->reported_allocated, 0);
	z->hooks = NULL;
	z->alloc_hooks = NULL;
	z->notify_min_order = PH_MAX_ORDER;
	atomic_init(&z->refused_blocks, 0);
	atomic_init(&z->refused_pages, 0);
	for (unsigned c = 0; c < PH_MAX_CPUS; c++) {
		struct ph_pcp *p = &z->pcp[c];

		ph_spin_init(&p->lock);
		list_init(&p->list);
		p->count = 0;
		p->batch = cfg->pcp_batch;
		p->high = cfg->pcp_high;
	}
	for (uint64_t i = 0; i < npages; i++) {
		memmap[i].next = memmap[i].prev = PH_NIL;
		atomic_init(&memmap[i].state, PH_PG_RESERVED);
		memmap[i].engine = 0;
	}
	return 0;
}

int ph_zone_free_range(struct ph_zone *z, uint64_t pfn, uint64_t n)
{
	if (n == 0)
		return 0;
	if (!pfn_in_zone(z, pfn) || n > z->npages - (pfn - z->base_pfn))
		return -PH_EINVAL;

	uint32_t idx = (uint32_t)(pfn - z->base_pfn);
	unsigned cpu = ph_cpu_id();

	ph_spin_lock(&z->lock);
	for (uint64_t i = 0; i < n; i++) {
		if (PH_WARN_ON(pg_state(&z->memmap[idx + i]) != PH_PG_RESERVED &&
			       "ph_zone_free_range: page already given to the allocator")) {
			ph_spin_unlock(&z->lock);
			return -PH_EINVAL;
		}
	}
	struct ph_free_notify fn = { z->hooks, cpu, false };
	uint64_t end = pfn + n;

	for (uint64_t i = 0; i < n; i++)
		pg_set_state(&z->memmap[idx + i], 0);
	/* memblock's __free_pages_memory: largest aligned blocks that fit */
	while (pfn < end) {
		unsigned order = PH_MAX_ORDER - 1;

		while ((pfn & ((1ull << order) - 1)) || pfn + (1ull << order) > end)
			order--;
		__ph_free_one(z, (uint32_t)(pfn - z->base_pfn), order, FREE_TO_TAIL, &fn);
		pfn += 1ull << order;
	}
	ctr_add(&z->managed_pages, (int64_t)n);
	ph_spin_unlock(&z->lock);
	ph_call_free_done(&fn);
	return 0;
}

/* ---- direct allocation and free ---- */

static uint64_t alloc_direct_once(struct ph_zone *z, unsigned order)
{
	ph_spin_lock(&z->lock);
	uint32_t idx = __ph_rmqueue(z, order);
	ph_spin_unlock(&z->lock);
	return idx == PH_NIL ? PH_NO_PFN : z->base_pfn + idx;
}

uint64_t ph_alloc_pages_direct(struct ph_zone *z, unsigned order)
{
	if (PH_WARN_ON(order >= PH_MAX_ORDER && "allocation above the largest order"))
		return PH_NO_PFN;

	uint64_t pfn = alloc_direct_once(z, order);

	if (unlikely(pfn == PH_NO_PFN)) {
		/* the slow path: per-CPU pages may be what keeps blocks apart */
		ph_drain_all(z);
		pfn = alloc_direct_once(z, order);
	}
	return pfn;
}

int ph_free_pages_direct(struct ph_zone *z, uint64_t pfn, unsigned order)
{
	int err = ph_check_free(z, pfn, order);

	if (unlikely(err))
		return err;

	unsigned cpu = ph_cpu_id();

	ph_spin_lock(&z->lock);
	struct ph_free_notify fn = { z->hooks, cpu, false };
	__ph_free_one(z, (uint32_t)(pfn - z->base_pfn), order, FREE_AUTO, &fn);
	ph_spin_unlock(&z->lock);
	ph_call_free_done(&fn);
	return 0;
}

/* ---- counters ---- */

uint64_t ph_zone_nr_free(const struct ph_zone *z, unsigned order)
{
	return order < PH_MAX_ORDER ? ctr_read(&z->area[order].nr_free) : 0;
}

uint64_t ph_zone_nr_reported(const struct ph_zone *z, unsigned order)
{
	return order < PH_MAX_ORDER ? ctr_read(&z->area[order].nr_reported) : 0;
}

uint64_t ph_zone_free_pages(const struct ph_zone *z) { return ctr_read(&z->free_pages); }
uint64_t ph_zone_isolated_pages(const struct ph_zone *z) { return ctr_read(&z->isolated_pages); }
uint64_t ph_zone_managed_pages(const struct ph_zone *z) { return ctr_read(&z->managed_pages); }
uint64_t ph_zone_reported_allocated(const struct ph_zone *z)
{
	return ctr_read(&z->reported_allocated);
}
uint64_t ph_zone_refused_blocks(const struct ph_zone *z) { return ctr_read(&z->refused_blocks); }
uint64_t ph_zone_refused_pages(const struct ph_zone *z) { return ctr_read(&z->refused_pages); }

/* ---- core/buddy_report.h ---- */

void ph_zone_lock(struct ph_zone *z) { ph_spin_lock(&z->lock); }
void ph_zone_unlock(struct ph_zone *z) { ph_spin_unlock(&z->lock); }

int ph_zone_register_report_hooks(struct ph_zone *z, const struct ph_report_hooks *hooks)
{
	int err = 0;

	if (!hooks || !hooks->block_freed || hooks->alloc_min_order >= PH_MAX_ORDER ||
	    hooks->free_min_order >= PH_MAX_ORDER)
		return -PH_EINVAL;
	ph_spin_lock(&z->lock);
	if (z->hooks) {
		err = -PH_EBUSY;
	} else {
		z->hooks = hooks;
		z->alloc_hooks = hooks->block_alloc ? hooks : NULL;
		z->notify_min_order = hooks->free_min_order;
	}
	ph_spin_unlock(&z->lock);
	return err;
}

void ph_zone_unregister_report_hooks(struct ph_zone *z)
{
	ph_spin_lock(&z->lock);
	z->hooks = NULL;
	z->alloc_hooks = NULL;
	z->notify_min_order = PH_MAX_ORDER;
	ph_spin_unlock(&z->lock);
}

int __ph_isolate_free_block(struct ph_zone *z, uint64_t pfn, unsigned order)
{
	if (!block_ok(z, pfn, order))
		return -PH_ENOENT;

	uint32_t idx = (uint32_t)(pfn - z->base_pfn);

	if (!is_free_head(pg_state(&z->memmap[idx]), order))
		return -PH_ENOENT;
	del_from_free_list(z, idx, order);
	pg_set_state(&z->memmap[idx], mk_state(PH_PG_ISOLATED, order));
	ctr_add(&z->isolated_pages, 1ll << order);
	return 0;
}

int __ph_putback_block(struct ph_zone *z, uint64_t pfn, unsigned order,
		       enum ph_where where, bool reported)
{
	if (PH_WARN_ON(!block_ok(z, pfn, order) && "putback of a block outside the zone"))
		return -PH_EINVAL;

	uint32_t idx = (uint32_t)(pfn - z->base_pfn);

	if (PH_WARN_ON(pg_state(&z->memmap[idx]) != mk_state(PH_PG_ISOLATED, order) &&
		       "putback of a block that is not isolated with that order"))
		return -PH_EINVAL;
	ctr_add(&z->isolated_pages, -(1ll << order));
	uint32_t head = __ph_free_one(z, idx, order,
				      where == PH_TAIL ? FREE_TO_TAIL : FREE_TO_HEAD, NULL);
	if (head != idx || st_order(pg_state(&z->memmap[idx])) != order)
		return 1;	/* merged: a new, unreported block */
	if (reported) {
		pg_set_state(&z->memmap[idx], mk_state(PH_PG_BUDDY | PH_PG_REPORTED, order));
		ctr_add(&z->area[order].nr_reported, 1);
	}
	return 0;
}

int __ph_find_free_head(struct ph_zone *z, uint64_t pfn, uint64_t *head_pfn, unsigned *order)
{
	uint32_t s;

	if (!pfn_in_zone(z, pfn))
		return -PH_ENOENT;
	uint32_t idx = find_head(z, pfn, &s);
	if (idx == PH_NIL || !(s & PH_PG_BUDDY))
		return -PH_ENOENT;
	*head_pfn = z->base_pfn + idx;
	*order = st_order(s);
	return 0;
}

void __ph_page_query(struct ph_zone *z, uint64_t pfn, struct ph_page_info *info)
{
	uint32_t s = 0, idx;

	info->head = pfn;
	info->order = 0;
	info->reported = false;
	if (!pfn_in_zone(z, pfn)) {
		info->kind = PH_PAGE_OUTSIDE;
		return;
	}
	if (pg_state(&z->memmap[pfn - z->base_pfn]) & PH_PG_RESERVED) {
		info->kind = PH_PAGE_HOLE;
		return;
	}
	idx = find_head(z, pfn, &s);
	if (idx == PH_NIL) {		/* cannot happen: every page has a head */
		info->kind = PH_PAGE_ALLOCATED;
		return;
	}
	info->head = z->base_pfn + idx;
	info->order = st_order(s);
	if (s & PH_PG_BUDDY) {
		info->kind = PH_PAGE_FREE;
		info->reported = s & PH_PG_REPORTED;
	} else if (s & PH_PG_ISOLATED) {
		info->kind = PH_PAGE_ISOLATED;
	} else if (s & PH_PG_PCP) {
		info->kind = PH_PAGE_PCP;
	} else {
		info->kind = PH_PAGE_ALLOCATED;
	}
}

static inline uint64_t idx_to_pfn(const struct ph_zone *z, uint32_t idx)
{
	return idx == PH_NIL ? PH_NO_PFN : z->base_pfn + idx;
}

uint64_t __ph_free_list_first(struct ph_zone *z, unsigned order)
{
	return order < PH_MAX_ORDER ? idx_to_pfn(z, z->area[order].list.first) : PH_NO_PFN;
}

uint64_t __ph_free_list_last(struct ph_zone *z, unsigned order)
{
	return order < PH_MAX_ORDER ? idx_to_pfn(z, z->area[order].list.last) : PH_NO_PFN;
}

uint64_t __ph_free_list_next(struct ph_zone *z, unsigned order, uint64_t pfn)
{
	if (PH_WARN_ON(!(block_ok(z, pfn, order) &&
			 is_free_head(pg_state(&z->memmap[pfn - z->base_pfn]), order)) &&
		       "free list cursor is not on that free list"))
		return PH_NO_PFN;
	return idx_to_pfn(z, z->memmap[pfn - z->base_pfn].next);
}

bool __ph_page_reported(struct ph_zone *z, uint64_t pfn)
{
	if (!pfn_in_zone(z, pfn))
		return false;
	uint32_t s = pg_state(&z->memmap[pfn - z->base_pfn]);
	return (s & (PH_PG_BUDDY | PH_PG_REPORTED)) == (PH_PG_BUDDY | PH_PG_REPORTED);
}

int __ph_free_list_rotate_to_front(struct ph_zone *z, unsigned order, uint64_t pfn)
{
	if (!block_ok(z, pfn, order) || !is_free_head(pg_state(&z->memmap[pfn - z->base_pfn]), order))
		return -PH_ENOENT;
	list_rotate_to_front(z->memmap, &z->area[order].list, (uint32_t)(pfn - z->base_pfn));
	return 0;
}

uint32_t *__ph_engine_word(struct ph_zone *z, uint64_t pfn)
{
	return pfn_in_zone(z, pfn) ? &z->memmap[pfn - z->base_pfn].engine : NULL;
}
