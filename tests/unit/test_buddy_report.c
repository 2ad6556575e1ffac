/* SPDX-License-Identifier: MIT */
/* core/buddy_report.h: free hooks, isolate and put back, the Reported flag,
 * queries, free-list walking. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_buddy_util.h"

/* A hook that records what it saw, and whether the zone lock was held. */
struct rec {
	struct ph_zone *z;
	unsigned calls, done_calls, bad_lock, cpu;
	uint64_t pfn[64];
	unsigned order[64];
};

static void rec_block_freed(void *ctx, unsigned cpu, uint64_t pfn, unsigned order)
{
	struct rec *r = ctx;
	if (ph_spin_trylock(&r->z->lock)) {	/* must be held by the caller */
		ph_spin_unlock(&r->z->lock);
		r->bad_lock++;
	}
	if (r->calls < 64) {
		r->pfn[r->calls] = pfn;
		r->order[r->calls] = order;
	}
	r->calls++;
	r->cpu = cpu;
}

static void rec_free_done(void *ctx, unsigned cpu)
{
	struct rec *r = ctx;
	if (!ph_spin_trylock(&r->z->lock))	/* must have been dropped */
		r->bad_lock++;
	else
		ph_spin_unlock(&r->z->lock);
	r->done_calls++;
	r->cpu = cpu;
}

/*
 * The zone the tests start from: [0, 1024), every page allocated (order 0,
 * direct), so each test frees exactly the pages it wants free.
 */
static struct tzone setup_all_allocated(void)
{
	struct tzone t;
	struct ph_zone_config c = tcfg(2, 2, 4);

	tzone_init(&t, 0, 1024, &c);
	ph_zone_free_range(t.z, 0, 1024);
	for (unsigned i = 0; i < 1024; i++)
		assert_int_equal(ph_alloc_pages_direct(t.z, 0), i);
	return t;
}

static void isolate_needs_a_free_head_of_that_order(void **state)
{
	(void)state;
	struct tzone t = setup_all_allocated();

	ph_free_pages_direct(t.z, 8, 0);
	ph_free_pages_direct(t.z, 9, 0);	/* -> 8 order 1 */
	ph_zone_lock(t.z);
	assert_int_equal(__ph_isolate_free_block(t.z, 8, 0), -PH_ENOENT);	/* wrong order */
	assert_int_equal(__ph_isolate_free_block(t.z, 9, 0), -PH_ENOENT);	/* not a head */
	assert_int_equal(__ph_isolate_free_block(t.z, 10, 0), -PH_ENOENT);	/* allocated */
	assert_int_equal(__ph_isolate_free_block(t.z, 8, 2), -PH_ENOENT);
	assert_int_equal(__ph_isolate_free_block(t.z, 5000, 0), -PH_ENOENT);	/* outside */
	assert_int_equal(ph_zone_nr_free(t.z, 1), 1);
	assert_int_equal(__ph_isolate_free_block(t.z, 8, 1), 0);
	assert_int_equal(__ph_isolate_free_block(t.z, 8, 1), -PH_ENOENT);	/* isolated */
	assert_int_equal(ph_zone_nr_free(t.z, 1), 0);
	assert_int_equal(ph_zone_free_pages(t.z), 0);
	assert_int_equal(ph_zone_isolated_pages(t.z), 2);
	ph_zone_unlock(t.z);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* An isolated block is neither allocated nor merged with its buddy. */
static void isolated_block_is_left_alone(void **state)
{
	(void)state;
	struct tzone t = setup_all_allocated();

	ph_free_pages_direct(t.z, 2, 0);
	ph_zone_lock(t.z);
	assert_int_equal(__ph_isolate_free_block(t.z, 2, 0), 0);
	ph_zone_unlock(t.z);
	ph_free_pages_direct(t.z, 3, 0);	/* buddy of 2: must not merge */
	assert_int_equal(ph_zone_nr_free(t.z, 0), 1);
	assert_int_equal(ph_zone_nr_free(t.z, 1), 0);
	assert_int_equal(ph_alloc_pages_direct(t.z, 0), 3);
	assert_true(ph_alloc_pages_direct(t.z, 0) == PH_NO_PFN);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* before: 2 isolated, 3 free.  putback(2, reported) -> merged 2 order 1,
 * not Reported. */
static void putback_merges_and_drops_reported(void **state)
{
	(void)state;
	struct tzone t = setup_all_allocated();

	ph_free_pages_direct(t.z, 2, 0);
	ph_zone_lock(t.z);
	__ph_isolate_free_block(t.z, 2, 0);
	ph_zone_unlock(t.z);
	ph_free_pages_direct(t.z, 3, 0);
	ph_zone_lock(t.z);
	assert_int_equal(__ph_putback_block(t.z, 2, 0, PH_TAIL, true), 1);
	assert_false(__ph_page_reported(t.z, 2));
	ph_zone_unlock(t.z);
	assert_int_equal(ph_zone_nr_free(t.z, 1), 1);
	assert_int_equal(ph_zone_nr_free(t.z, 0), 0);
	for (unsigned o = 0; o < PH_MAX_ORDER; o++)
		assert_int_equal(ph_zone_nr_reported(t.z, o), 0);
	assert_int_equal(ph_zone_isolated_pages(t.z), 0);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* Reported: set by an unmerged putback, cleared by allocation, by a merge,
 * and not inherited by the halves of a split. */
static void reported_flag_lifecycle(void **state)
{
	(void)state;
	struct tzone t = setup_all_allocated();

	ph_free_pages_direct(t.z, 4, 0);
	ph_zone_lock(t.z);
	__ph_isolate_free_block(t.z, 4, 0);
	assert_int_equal(__ph_putback_block(t.z, 4, 0, PH_TAIL, true), 0);
	assert_true(__ph_page_reported(t.z, 4));
	ph_zone_unlock(t.z);
	assert_int_equal(ph_zone_nr_reported(t.z, 0), 1);
	/* putback with reported=false leaves it unreported */
	ph_zone_lock(t.z);
	__ph_isolate_free_block(t.z, 4, 0);
	assert_int_equal(ph_zone_nr_reported(t.z, 0), 0);
	__ph_putback_block(t.z, 4, 0, PH_TAIL, false);
	assert_false(__ph_page_reported(t.z, 4));
	__ph_isolate_free_block(t.z, 4, 0);
	__ph_putback_block(t.z, 4, 0, PH_TAIL, true);
	ph_zone_unlock(t.z);
	assert_int_equal(ph_zone_check(t.z), 0);

	/* allocation clears it */
	assert_int_equal(ph_alloc_pages_direct(t.z, 0), 4);
	assert_int_equal(ph_zone_nr_reported(t.z, 0), 0);
	assert_int_equal(ph_free_pages_direct(t.z, 4, 0), 0);
	assert_false(__ph_page_reported(t.z, 4));

	/* a merge clears it: 4 Reported, free 5 -> 4 order 1 unreported */
	ph_zone_lock(t.z);
	__ph_isolate_free_block(t.z, 4, 0);
	__ph_putback_block(t.z, 4, 0, PH_TAIL, true);
	ph_zone_unlock(t.z);
	assert_int_equal(ph_zone_nr_reported(t.z, 0), 1);
	ph_free_pages_direct(t.z, 5, 0);
	assert_int_equal(ph_zone_nr_reported(t.z, 0), 0);
	assert_int_equal(ph_zone_nr_reported(t.z, 1), 0);
	assert_false(__ph_page_reported(t.z, 4));
	assert_int_equal(ph_zone_check(t.z), 0);

	/* a split: 4 order 1 Reported; alloc order 0 -> 4, the half 5 unreported */
	ph_zone_lock(t.z);
	__ph_isolate_free_block(t.z, 4, 1);
	__ph_putback_block(t.z, 4, 1, PH_TAIL, true);
	ph_zone_unlock(t.z);
	assert_int_equal(ph_zone_nr_reported(t.z, 1), 1);
	assert_int_equal(ph_alloc_pages_direct(t.z, 0), 4);
	assert_int_equal(ph_zone_nr_reported(t.z, 1), 0);
	assert_int_equal(ph_zone_nr_reported(t.z, 0), 0);
	assert_false(__ph_page_reported(t.z, 5));
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/*
 * ph_zone_reported_allocated counts the pages allocation hands out of
 * memory the host discarded: a page from a Reported 4 MiB block is one
 * page, not 1024, and the halves the split leaves (unreported, so engines
 * report them again) count when allocation takes them, each page once.
 */
static void reported_allocated_counts_pages_handed_out(void **state)
{
	(void)state;
	struct tzone t = setup_all_allocated();

	for (unsigned i = 0; i < 1024; i++)
		ph_free_pages_direct(t.z, i, 0);	/* -> 0 order 10 */
	ph_zone_lock(t.z);
	assert_int_equal(__ph_isolate_free_block(t.z, 0, 10), 0);
	assert_int_equal(__ph_putback_block(t.z, 0, 10, PH_TAIL, true), 0);
	ph_zone_unlock(t.z);
	assert_int_equal(ph_zone_reported_allocated(t.z), 0);

	/* split down to order 0: 0 taken, halves 1, 2, 4, ..., 512 left */
	assert_int_equal(ph_alloc_pages_direct(t.z, 0), 0);
	assert_int_equal(ph_zone_reported_allocated(t.z), 1);
	ph_zone_lock(t.z);
	assert_false(__ph_page_reported(t.z, 512));
	ph_zone_unlock(t.z);
	assert_int_equal(ph_zone_nr_reported(t.z, 9), 0);
	/* halves taken whole, and one split again: 256 order 8 -> 256, 384 */
	assert_int_equal(ph_alloc_pages_direct(t.z, 9), 512);
	assert_int_equal(ph_zone_reported_allocated(t.z), 513);
	assert_int_equal(ph_alloc_pages_direct(t.z, 7), 128);
	assert_int_equal(ph_alloc_pages_direct(t.z, 7), 256);
	assert_int_equal(ph_alloc_pages_direct(t.z, 7), 384);
	assert_int_equal(ph_zone_reported_allocated(t.z), 513 + 3 * 128);
	assert_int_equal(ph_zone_check(t.z), 0);
	/* the halves below 128, page by page */
	for (unsigned i = 1; i < 128; i++)
		assert_int_equal(ph_alloc_pages_direct(t.z, 0), i);
	assert_true(ph_alloc_pages_direct(t.z, 0) == PH_NO_PFN);
	assert_int_equal(ph_zone_reported_allocated(t.z), 1024);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* A free that merges the halves of a split Reported block makes a block
 * of the guest's, as a merge clears Reported: its pages no longer count. */
static void reported_allocated_ends_at_a_merge(void **state)
{
	(void)state;
	struct tzone t = setup_all_allocated();

	for (unsigned i = 0; i < 1024; i++)
		ph_free_pages_direct(t.z, i, 0);
	ph_zone_lock(t.z);
	__ph_isolate_free_block(t.z, 0, 10);
	__ph_putback_block(t.z, 0, 10, PH_TAIL, true);
	ph_zone_unlock(t.z);
	assert_int_equal(ph_alloc_pages_direct(t.z, 0), 0);
	assert_int_equal(ph_zone_reported_allocated(t.z), 1);
	ph_free_pages_direct(t.z, 0, 0);	/* -> 0 order 10 again */
	assert_int_equal(ph_zone_nr_free(t.z, 10), 1);
	assert_int_equal(ph_alloc_pages_direct(t.z, 9), 0);
	assert_int_equal(ph_alloc_pages_direct(t.z, 9), 512);
	assert_int_equal(ph_zone_reported_allocated(t.z), 1);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* before: [10 20 30] (order 0, none mergeable); isolate 20;
 * putback head -> [20 10 30]; again, tail -> [10 30 20] */
static void putback_head_or_tail(void **state)
{
	(void)state;
	struct tzone t = setup_all_allocated();

	ph_free_pages_direct(t.z, 30, 0);
	ph_free_pages_direct(t.z, 20, 0);
	ph_free_pages_direct(t.z, 10, 0);
	ph_zone_lock(t.z);
	assert_int_equal(__ph_free_list_first(t.z, 0), 10);
	assert_int_equal(__ph_isolate_free_block(t.z, 20, 0), 0);
	assert_int_equal(__ph_putback_block(t.z, 20, 0, PH_HEAD, false), 0);
	assert_int_equal(__ph_free_list_first(t.z, 0), 20);
	__ph_isolate_free_block(t.z, 20, 0);
	__ph_putback_block(t.z, 20, 0, PH_TAIL, false);
	assert_int_equal(__ph_free_list_first(t.z, 0), 10);
	assert_int_equal(__ph_free_list_next(t.z, 0, 10), 30);
	assert_int_equal(__ph_free_list_last(t.z, 0), 20);
	/* misuse: not isolated, or another order */
	ph_test_quiet_warnings = 1;
	assert_int_equal(__ph_putback_block(t.z, 20, 0, PH_TAIL, false), -PH_EINVAL);
	__ph_isolate_free_block(t.z, 20, 0);
	assert_int_equal(__ph_putback_block(t.z, 20, 1, PH_TAIL, false), -PH_EINVAL);
	ph_test_quiet_warnings = 0;
	__ph_putback_block(t.z, 20, 0, PH_TAIL, false);
	ph_zone_unlock(t.z);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* [a b c d] rotate to c -> [c d a b]; first/next/last follow. */
static void free_list_walk_and_rotate(void **state)
{
	(void)state;
	struct tzone t = setup_all_allocated();
	const uint64_t in[] = { 40, 50, 60, 70 }; /* freed d c b a: a first */

	for (int i = 3; i >= 0; i--)
		ph_free_pages_direct(t.z, in[i], 0);
	ph_zone_lock(t.z);
	uint64_t got[4], pfn = __ph_free_list_first(t.z, 0);
	for (int i = 0; i < 4; i++) {
		got[i] = pfn;
		pfn = __ph_free_list_next(t.z, 0, pfn);
	}
	assert_true(pfn == PH_NO_PFN);
	assert_memory_equal(got, in, sizeof(in));
	assert_int_equal(__ph_free_list_rotate_to_front(t.z, 0, 60), 0);
	const uint64_t want[] = { 60, 70, 40, 50 };
	pfn = __ph_free_list_first(t.z, 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pfn, want[i]);
		pfn = __ph_free_list_next(t.z, 0, pfn);
	}
	assert_true(pfn == PH_NO_PFN);
	assert_int_equal(__ph_free_list_last(t.z, 0), 50);
	assert_int_equal(__ph_free_list_rotate_to_front(t.z, 0, 60), 0);	/* no-op */
	assert_int_equal(__ph_free_list_first(t.z, 0), 60);
	assert_int_equal(__ph_free_list_rotate_to_front(t.z, 0, 61), -PH_ENOENT);
	assert_int_equal(__ph_free_list_rotate_to_front(t.z, 1, 60), -PH_ENOENT);
	ph_test_quiet_warnings = 1;
	assert_true(__ph_free_list_next(t.z, 0, 61) == PH_NO_PFN);
	ph_test_quiet_warnings = 0;
	assert_true(__ph_free_list_first(t.z, 5) == PH_NO_PFN);
	ph_zone_unlock(t.z);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

static void queries_say_what_a_page_is(void **state)
{
	(void)state;
	struct tzone t;
	struct ph_zone_config c = tcfg(1, 1, 8);
	struct ph_page_info pi;
	uint64_t head;
	unsigned order;

	tzone_init(&t, 0, 2048, &c);
	ph_zone_free_range(t.z, 0, 1024);		/* [1024, 2048) hole */
	uint64_t a = ph_alloc_pages_direct(t.z, 3);	/* 0 */
	uint64_t p = ph_alloc_pages(t.z, 0);		/* 8 */
	ph_free_pages(t.z, p, 0);			/* on the pcp list */
	ph_zone_lock(t.z);
	__ph_isolate_free_block(t.z, 512, 9);

	__ph_page_query(t.z, a + 5, &pi);
	assert_int_equal(pi.kind, PH_PAGE_ALLOCATED);
	assert_int_equal(pi.head, a);
	assert_int_equal(pi.order, 3);
	__ph_page_query(t.z, p, &pi);
	assert_int_equal(pi.kind, PH_PAGE_PCP);
	__ph_page_query(t.z, 100, &pi);
	assert_int_equal(pi.kind, PH_PAGE_FREE);
	assert_int_equal(pi.head, 64);
	assert_int_equal(pi.order, 6);
	assert_false(pi.reported);
	__ph_page_query(t.z, 700, &pi);
	assert_int_equal(pi.kind, PH_PAGE_ISOLATED);
	assert_int_equal(pi.head, 512);
	assert_int_equal(pi.order, 9);
	__ph_page_query(t.z, 1500, &pi);
	assert_int_equal(pi.kind, PH_PAGE_HOLE);
	__ph_page_query(t.z, 2048, &pi);
	assert_int_equal(pi.kind, PH_PAGE_OUTSIDE);

	assert_int_equal(__ph_find_free_head(t.z, 100, &head, &order), 0);
	assert_int_equal(head, 64);
	assert_int_equal(order, 6);
	assert_int_equal(__ph_find_free_head(t.z, 9, &head, &order), 0);
	assert_int_equal(head, 9);
	assert_int_equal(order, 0);
	assert_int_equal(__ph_find_free_head(t.z, a + 1, &head, &order), -PH_ENOENT);
	assert_int_equal(__ph_find_free_head(t.z, p, &head, &order), -PH_ENOENT);
	assert_int_equal(__ph_find_free_head(t.z, 600, &head, &order), -PH_ENOENT);
	assert_int_equal(__ph_find_free_head(t.z, 1500, &head, &order), -PH_ENOENT);
	assert_int_equal(__ph_find_free_head(t.z, 9999, &head, &order), -PH_ENOENT);

	/* a walker visits every block once, skipping allocated blocks whole */
	uint64_t blocks = 0;
	for (uint64_t pfn = 0; pfn < 2048; blocks++) {
		__ph_page_query(t.z, pfn, &pi);
		assert_int_equal(pi.head, pfn);
		pfn = pi.head + (1ull << pi.order);
	}
	assert_int_equal(blocks, 1 + 1 + 1 + 2 + 5 + 1 + 1024); /* a, p, 9, 10-15, .., iso, hole */
	__ph_putback_block(t.z, 512, 9, PH_TAIL, false);
	ph_zone_unlock(t.z);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* Linux's buddy_merge_likely(): a freed block whose parent's buddy is free
 * goes to the tail, to stay free until its own buddy comes back.
 * before: 8 order 3 free, 100 order 2 free, 0..7 allocated
 * free 4..7 -> 4 order 2 (buddy 0 busy; 8 is the parent's buddy) -> tail */
static void free_goes_to_tail_when_merge_is_likely(void **state)
{
	(void)state;
	struct tzone t = setup_all_allocated();

	for (uint64_t p = 8; p < 16; p++)
		ph_free_pages_direct(t.z, p, 0);
	for (uint64_t p = 100; p < 104; p++)
		ph_free_pages_direct(t.z, p, 0);
	for (uint64_t p = 4; p < 8; p++)
		ph_free_pages_direct(t.z, p, 0);
	ph_zone_lock(t.z);
	assert_int_equal(__ph_free_list_first(t.z, 2), 100);
	assert_int_equal(__ph_free_list_last(t.z, 2), 4);
	ph_zone_unlock(t.z);
	/* the next order-2 allocation leaves 4 alone */
	assert_int_equal(ph_alloc_pages_direct(t.z, 2), 100);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

static void hooks_register_once(void **state)
{
	(void)state;
	struct tzone t;
	struct rec r = { 0 };
	const struct ph_report_hooks h = { .block_freed = rec_block_freed, .free_done = NULL, .ctx = &r }, nofn = { 0 };

	tzone_init(&t, 0, 16, NULL);
	assert_int_equal(ph_zone_register_report_hooks(t.z, &nofn), -PH_EINVAL);
	assert_int_equal(ph_zone_register_report_hooks(t.z, &h), 0);
	assert_int_equal(ph_zone_register_report_hooks(t.z, &h), -PH_EBUSY);
	ph_zone_unregister_report_hooks(t.z);
	assert_int_equal(ph_zone_register_report_hooks(t.z, &h), 0);
	tzone_fini(&t);
}

/* A free reports the merged block, under the zone lock; free_done follows
 * once, after the lock is dropped. */
static void hook_sees_merged_block(void **state)
{
	(void)state;
	struct tzone t = setup_all_allocated();
	struct rec r = { .z = t.z };
	const struct ph_report_hooks h = { .block_freed = rec_block_freed, .free_done = rec_free_done, .ctx = &r };

	ph_free_pages_direct(t.z, 17, 0);
	ph_free_pages_direct(t.z, 18, 0);
	ph_free_pages_direct(t.z, 19, 0);
	ph_free_pages_direct(t.z, 20, 0);
	assert_int_equal(ph_zone_register_report_hooks(t.z, &h), 0);
	ph_test_set_cpu(1);
	/* free 16 -> merges with 17 (1), 18 (order 1) -> 16 order 2 */
	assert_int_equal(ph_free_pages_direct(t.z, 16, 0), 0);
	ph_test_set_cpu(0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.pfn[0], 16);
	assert_int_equal(r.order[0], 2);
	assert_int_equal(r.done_calls, 1);
	assert_int_equal(r.cpu, 1);
	assert_int_equal(r.bad_lock, 0);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* No hook for putback, nor for an order-0 free that stays on the pcp
 * list; the drain reports each block and calls free_done once. */
static void hook_skips_putback_and_pcp(void **state)
{
	(void)state;
	struct tzone t = setup_all_allocated();
	struct rec r = { .z = t.z };
	const struct ph_report_hooks h = { .block_freed = rec_block_freed, .free_done = rec_free_done, .ctx = &r };

	ph_free_pages_direct(t.z, 100, 0);
	assert_int_equal(ph_zone_register_report_hooks(t.z, &h), 0);
	ph_zone_lock(t.z);
	__ph_isolate_free_block(t.z, 100, 0);
	__ph_putback_block(t.z, 100, 0, PH_TAIL, false);
	ph_zone_unlock(t.z);
	assert_int_equal(r.calls + r.done_calls, 0);

	/* pcp: high 4 (setup): 3 frees stay on CPU 0's list */
	assert_int_equal(ph_free_pages(t.z, 200, 0), 0);
	assert_int_equal(ph_free_pages(t.z, 202, 0), 0);
	assert_int_equal(ph_free_pages(t.z, 204, 0), 0);
	assert_int_equal(ph_pcp_count(t.z, 0), 3);
	assert_int_equal(r.calls + r.done_calls, 0);
	ph_drain_cpu(t.z, 0);
	assert_int_equal(r.calls, 3);
	assert_int_equal(r.done_calls, 1);
	assert_int_equal(r.bad_lock, 0);
	/* free_range notifies too (memblock_free_all frees through the buddy) */
	tzone_fini(&t);
}

/* A pcp list over high flushes batch pages through the hook. */
static void hook_sees_pcp_flush(void **state)
{
	(void)state;
	struct tzone t = setup_all_allocated();
	struct rec r = { .z = t.z };
	const struct ph_report_hooks h = { .block_freed = rec_block_freed, .free_done = rec_free_done, .ctx = &r };

	assert_int_equal(ph_zone_register_report_hooks(t.z, &h), 0);
	for (unsigned i = 0; i < 4; i++)
		ph_free_pages(t.z, 300 + 2 * i, 0);		/* count 4 = high */
	assert_int_equal(r.calls, 0);
	ph_free_pages(t.z, 310, 0);				/* 5 > high */
	assert_int_equal(ph_pcp_count(t.z, 0), 3);		/* batch 2 went */
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.done_calls, 1);
	/* the coldest ones: 300 and 302 */
	assert_int_equal(r.pfn[0], 300);
	assert_int_equal(r.pfn[1], 302);
	assert_int_equal(r.bad_lock, 0);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* free_min_order: blocks below it cost no call, neither block_freed nor
 * free_done, on the direct path and through a pcp flush; the free that
 * completes a block of that order is seen, once, with free_done after. */
static void hook_min_order_skips_small_blocks(void **state)
{
	(void)state;
	struct tzone t = setup_all_allocated();
	struct rec r = { .z = t.z };
	struct ph_report_hooks h = { .block_freed = rec_block_freed, .free_done = rec_free_done,
				     .ctx = &r, .free_min_order = PH_MAX_ORDER };

	assert_int_equal(ph_zone_register_report_hooks(t.z, &h), -PH_EINVAL);
	assert_int_equal(t.z->notify_min_order, PH_MAX_ORDER);	/* no hooks: never */
	h.free_min_order = 2;
	assert_int_equal(ph_zone_register_report_hooks(t.z, &h), 0);
	assert_int_equal(t.z->notify_min_order, 2);
	ph_free_pages_direct(t.z, 16, 0);		/* order 0 */
	ph_free_pages_direct(t.z, 17, 0);		/* 16 order 1 */
	ph_free_pages_direct(t.z, 18, 0);		/* 18 order 0 */
	assert_int_equal(r.calls + r.done_calls, 0);
	for (unsigned i = 0; i < 5; i++)		/* pcp: 5 > high 4, batch 2 */
		ph_free_pages(t.z, 300 + 2 * i, 0);
	assert_int_equal(ph_pcp_count(t.z, 0), 3);
	assert_int_equal(r.calls + r.done_calls, 0);
	ph_free_pages_direct(t.z, 19, 0);		/* 18 order 1, then 16 order 2 */
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.pfn[0], 16);
	assert_int_equal(r.order[0], 2);
	assert_int_equal(r.done_calls, 1);
	assert_int_equal(r.bad_lock, 0);
	ph_zone_unregister_report_hooks(t.z);
	assert_int_equal(t.z->notify_min_order, PH_MAX_ORDER);
	ph_free_pages_direct(t.z, 20, 0);	/* unregistered: no call */
	assert_int_equal(r.calls, 1);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* An engine pass as mm/page_reporting.c does it, with a fake device:
 * walk the order-9 list, isolate up to CAP unreported blocks, drop the
 * lock to "report", put them back Reported, start again from the first. */
static void page_reporting_cycle_shape(void **state)
{
	(void)state;
	enum { CAP = 3 };
	struct tzone t;
	struct ph_zone_config c = tcfg(1, 1, 0);
	uint64_t sg[CAP];
	unsigned n = 0, reports = 0;

	tzone_init(&t, 0, 16 * 512, &c);
	ph_zone_free_range(t.z, 0, 16 * 512);
	for (int i = 0; i < 16; i++)
		ph_alloc_pages(t.z, 9);
	for (int i = 0; i < 16; i += 2)	/* 8 order-9 blocks that can't merge */
		ph_free_pages(t.z, (uint64_t)i * 512, 9);

	ph_zone_lock(t.z);
	for (uint64_t pfn = __ph_free_list_first(t.z, 9), next; pfn != PH_NO_PFN; pfn = next) {
		next = __ph_free_list_next(t.z, 9, pfn);
		if (__ph_page_reported(t.z, pfn))
			continue;
		if (n < CAP) {
			assert_int_equal(__ph_isolate_free_block(t.z, pfn, 9), 0);
			sg[n++] = pfn;
			continue;
		}
		__ph_free_list_rotate_to_front(t.z, 9, pfn);
		ph_zone_unlock(t.z);
		reports++;			/* the device would discard sg[] */
		ph_zone_lock(t.z);
		while (n)
			__ph_putback_block(t.z, sg[--n], 9, PH_TAIL, true);
		next = __ph_free_list_first(t.z, 9);
	}
	reports += n > 0;
	while (n)
		__ph_putback_block(t.z, sg[--n], 9, PH_TAIL, true);
	ph_zone_unlock(t.z);
	assert_int_equal(reports, 3);		/* 3 + 3 + 2 */
	assert_int_equal(ph_zone_nr_reported(t.z, 9), 8);
	assert_int_equal(ph_zone_nr_free(t.z, 9), 8);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(isolate_needs_a_free_head_of_that_order),
		cmocka_unit_test(isolated_block_is_left_alone),
		cmocka_unit_test(putback_merges_and_drops_reported),
		cmocka_unit_test(reported_flag_lifecycle),
		cmocka_unit_test(reported_allocated_counts_pages_handed_out),
		cmocka_unit_test(reported_allocated_ends_at_a_merge),
		cmocka_unit_test(putback_head_or_tail),
		cmocka_unit_test(free_list_walk_and_rotate),
		cmocka_unit_test(queries_say_what_a_page_is),
		cmocka_unit_test(free_goes_to_tail_when_merge_is_likely),
		cmocka_unit_test(hooks_register_once),
		cmocka_unit_test(hook_sees_merged_block),
		cmocka_unit_test(hook_skips_putback_and_pcp),
		cmocka_unit_test(hook_sees_pcp_flush),
		cmocka_unit_test(hook_min_order_skips_small_blocks),
		cmocka_unit_test(page_reporting_cycle_shape),
	};
	return cmocka_run_group_tests_name("buddy_report", tests, NULL, NULL);
}
