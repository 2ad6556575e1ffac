/* SPDX-License-Identifier: MIT */
/*
 * ph_zone_check(): the whole zone, recounted from scratch, for tests of the
 * allocator and of the reporting engines. Needs no memory of its own:
 *
 *  1. every free list and every per-CPU list is walked: links agree both
 *     ways, entries have the right state, order and alignment, counts
 *     match nr_free / nr_reported / pcp->count;
 *  2. the memmap is walked block by block (a head's order says how far to
 *     skip): tails have state 0, blocks stay in the zone, no page is
 *     without a block, and the heads found agree with the lists' counts —
 *     so every free head is on its list exactly once;
 *  3. no free block has a free buddy of the same order (missed merge);
 *  4. managed = free + per-CPU + isolated + allocated, holes the rest.
 */
#include "buddy_internal.h"

#define CHECK_VERBOSE_MAX 8

struct checker {
	unsigned problems;
};

#define CHECK(ck, cond, msg) do {                                       \
	if (!(cond)) {                                                  \
		if ((ck)->problems++ < CHECK_VERBOSE_MAX)               \
			ph_warn(__FILE__, __LINE__, "ph_zone_check: " msg); \
	}                                                               \
} while (0)

/* Walk one list; expect every entry's state to satisfy want(order).
 * Returns the entries seen, and the Reported ones in *reported. */
static uint64_t walk_list(struct checker *ck, const struct ph_zone *z,
			  const struct ph_list *l, unsigned order, bool pcp,
			  uint64_t *reported)
{
	uint32_t prev = PH_NIL, idx = l->first;
	uint64_t n = 0;

	*reported = 0;
	while (idx != PH_NIL) {
		if (idx >= z->npages) {
			CHECK(ck, false, "list entry outside the zone");
			return n;
		}
		if (n++ > z->npages) {
			CHECK(ck, false, "list loops");
			return n;
		}
		const struct ph_page *p = &z->memmap[idx];
		uint32_t s = pg_state(p);
		uint64_t pfn = z->base_pfn + idx;

		CHECK(ck, p->prev == prev, "list prev link does not match");
		if (pcp) {
			CHECK(ck, s == mk_state(PH_PG_PCP, 0), "per-CPU list entry not PCP");
		} else {
			CHECK(ck, (st_flags(s) & ~PG_DISCARDED) == PH_PG_BUDDY,
			      "free list entry not a free head");
			CHECK(ck, (s & PG_DISCARDED) != PG_DISCARDED,
			      "free head both Reported and split off one");
			CHECK(ck, st_order(s) == order, "free list entry of another order");
			CHECK(ck, (pfn & ((1ull << order) - 1)) == 0, "free block misaligned");
			CHECK(ck, z->npages - idx >= (1ull << order), "free block leaves the zone");
			if (s & PH_PG_REPORTED)
				(*reported)++;
		}
		prev = idx;
		idx = p->next;
	}
	CHECK(ck, l->last == prev, "list last does not match");
	return n;
}

static void check_locked(struct checker *ck, const struct ph_zone *z)
{
	uint64_t list_blocks[PH_MAX_ORDER], free_pages = 0, pcp_pages = 0;
	uint64_t heads[PH_MAX_ORDER] = { 0 }, rep;
	uint64_t seen_pcp = 0, isolated = 0, allocated = 0, holes = 0, seen_free = 0;

	/* 1. the lists */
	for (unsigned o = 0; o < PH_MAX_ORDER; o++) {
		list_blocks[o] = walk_list(ck, z, &z->area[o].list, o, false, &rep);
		CHECK(ck, list_blocks[o] == ctr_read(&z->area[o].nr_free),
		      "nr_free does not match the free list");
		CHECK(ck, rep == ctr_read(&z->area[o].nr_reported),
		      "nr_reported does not match the free list");
		free_pages += list_blocks[o] << o;
	}
	CHECK(ck, free_pages == ctr_read(&z->free_pages), "free_pages does not match the lists");
	for (unsigned c = 0; c < z->nr_cpus; c++) {
		uint64_t n = walk_list(ck, z, &z->pcp[c].list, 0, true, &rep);

		CHECK(ck, n == z->pcp[c].count, "pcp count does not match its list");
		pcp_pages += n;
	}

	/* 2. the memmap, block by block */
	for (uint32_t idx = 0; idx < z->npages;) {
		uint32_t s = pg_state(&z->memmap[idx]);
		uint32_t f = st_flags(s);
		unsigned order = st_order(s);
		uint64_t pfn = z->base_pfn + idx;

		if (f == PH_PG_RESERVED) {
			CHECK(ck, order == 0, "hole page with an order");
			holes++;
			idx++;
			continue;
		}
		if (f == PH_PG_PCP) {
			CHECK(ck, order == 0, "per-CPU page with an order");
			seen_pcp++;
			idx++;
			continue;
		}
		bool known = (f & ~PG_DISCARDED) == PH_PG_BUDDY || f == PH_PG_ISOLATED ||
			     f == PH_PG_HEAD;
		if (!known) {
			CHECK(ck, f != 0, "page belongs to no block");
			CHECK(ck, f == 0, "page with an impossible state");
			idx++;
			continue;
		}
		if (order >= PH_MAX_ORDER || (pfn & ((1ull << order) - 1)) ||
		    z->npages - idx < (1ull << order)) {
			CHECK(ck, false, "block head with a bad order");
			idx++;
			continue;
		}
		for (uint32_t i = 1; i < (1u << order); i++)
			CHECK(ck, pg_state(&z->memmap[idx + i]) == 0, "block tail page with state");
		if (f & PH_PG_BUDDY) {
			heads[order]++;
			seen_free += 1ull << order;
			/* 3. a free buddy of the same order should have merged */
			uint64_t b = pfn ^ (1ull << order);
			if (order < PH_MAX_ORDER - 1 && b >= z->base_pfn &&
			    b - z->base_pfn < z->npages) {
				uint32_t bs = pg_state(&z->memmap[b - z->base_pfn]);
				CHECK(ck, !((st_flags(bs) & ~PG_DISCARDED) == PH_PG_BUDDY &&
					    st_order(bs) == order),
				      "two free buddies not merged");
			}
		} else if (f & PH_PG_ISOLATED) {
			isolated += 1ull << order;
		} else {
			allocated += 1ull << order;
		}
		idx += 1u << order;
	}
	for (unsigned o = 0; o < PH_MAX_ORDER; o++)
		CHECK(ck, heads[o] == list_blocks[o], "free heads in memmap and on the list differ");
	CHECK(ck, seen_free == free_pages, "free pages in memmap and on the lists differ");
	CHECK(ck, seen_pcp == pcp_pages, "per-CPU pages in memmap and on the lists differ");
	CHECK(ck, isolated == ctr_read(&z->isolated_pages), "isolated_pages is wrong");

	/* 4. totals */
	CHECK(ck, seen_free + seen_pcp + isolated + allocated == ctr_read(&z->managed_pages),
	      "managed != free + per-CPU + isolated + allocated");
	CHECK(ck, holes + ctr_read(&z->managed_pages) == z->npages, "holes + managed != pages");
}

unsigned ph_zone_check(struct ph_zone *z)
{
	struct checker ck = { 0 };

	for (unsigned c = 0; c < z->nr_cpus; c++)
		ph_spin_lock(&z->pcp[c].lock);
	ph_spin_lock(&z->lock);
	check_locked(&ck, z);
	ph_spin_unlock(&z->lock);
	for (unsigned c = z->nr_cpus; c-- > 0;)
		ph_spin_unlock(&z->pcp[c].lock);
	return ck.problems;
}
