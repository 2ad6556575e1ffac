/* SPDX-License-Identifier: MIT */
/*
 * core/buddy's allocation hook (core/buddy_report.h, block_alloc): when it
 * is called (whole blocks, splits, per-CPU refills, only from
 * alloc_min_order up), and what a refusal does (the block leaves the
 * allocator for good, counted, and allocation takes the next one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_buddy_util.h"

#define MAXCALLS 64

struct arec {
	unsigned n;
	uint64_t pfn[MAXCALLS];
	unsigned order[MAXCALLS];
	struct ph_zone *z;
	uint64_t stuck_lo, stuck_hi;	/* refuse ranges touching [lo, hi) */
};

static void nop_freed(void *ctx, unsigned cpu, uint64_t pfn, unsigned order)
{
	(void)ctx, (void)cpu, (void)pfn, (void)order;
}

static int rec_alloc(void *ctx, uint64_t pfn, unsigned order)
{
	struct arec *r = ctx;

	if (r->n < MAXCALLS) {
		r->pfn[r->n] = pfn;
		r->order[r->n] = order;
	}
	r->n++;
	return pfn < r->stuck_hi && pfn + (1ull << order) > r->stuck_lo ? -PH_EBUSY : 0;
}

static struct ph_report_hooks hooks(struct arec *r, unsigned min)
{
	struct ph_report_hooks h = { .block_freed = nop_freed, .ctx = r,
				     .block_alloc = rec_alloc, .alloc_min_order = min };
	return h;
}

/* Two order-10 blocks at 0 and 1024. */
static struct tzone zone2(unsigned cpus, unsigned batch)
{
	struct tzone t;
	struct ph_zone_config c = tcfg(cpus, batch, 6 * batch);

	tzone_init(&t, 0, 2048, &c);
	assert_int_equal(ph_zone_free_range(t.z, 0, 2048), 0);
	return t;
}

static void register_checks_min_order(void **state)
{
	(void)state;
	struct tzone t = zone2(1, 4);
	struct arec r = { 0 };
	struct ph_report_hooks bad = hooks(&r, PH_MAX_ORDER), ok = hooks(&r, 9);

	assert_int_equal(ph_zone_register_report_hooks(t.z, &bad), -PH_EINVAL);
	assert_int_equal(ph_zone_register_report_hooks(t.z, &ok), 0);
	ph_zone_unregister_report_hooks(t.z);
	/* gone with the hooks: nothing called */
	assert_int_not_equal(ph_alloc_pages_direct(t.z, 10), PH_NO_PFN);
	assert_int_equal(r.n, 0);
	tzone_fini(&t);
}

/* Whole block and split: the hook gets the head and the order handed out;
 * a block from a list below alloc_min_order is not shown. */
static void called_for_whole_blocks_and_splits(void **state)
{
	(void)state;
	struct tzone t = zone2(1, 4);
	struct arec r = { 0 };
	struct ph_report_hooks h = hooks(&r, 9);

	assert_int_equal(ph_zone_register_report_hooks(t.z, &h), 0);
	uint64_t a = ph_alloc_pages_direct(t.z, 10);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.pfn[0], a);
	assert_int_equal(r.order[0], 10);

	uint64_t b = ph_alloc_pages_direct(t.z, 3);	/* splits the other */
	assert_int_equal(r.n, 2);
	assert_int_equal(r.pfn[1], b);
	assert_int_equal(r.order[1], 3);

	uint64_t c = ph_alloc_pages_direct(t.z, 3);	/* from the order-3 list */
	assert_int_not_equal(c, PH_NO_PFN);
	assert_int_equal(r.n, 2);
	uint64_t d = ph_alloc_pages_direct(t.z, 9);	/* the order-9 half: shown */
	assert_int_equal(r.n, 3);
	assert_int_equal(r.pfn[2], d);
	assert_int_equal(r.order[2], 9);
	assert_int_equal(ph_zone_refused_blocks(t.z), 0);
	assert_int_equal(ph_zone_check(t.z), 0);

	/* min order 0: every block taken is shown */
	ph_zone_unregister_report_hooks(t.z);
	h = hooks(&r, 0);
	r.n = 0;
	assert_int_equal(ph_zone_register_report_hooks(t.z, &h), 0);
	uint64_t e = ph_alloc_pages_direct(t.z, 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.pfn[0], e);
	assert_int_equal(r.order[0], 0);
	tzone_fini(&t);
}

/* A per-CPU refill takes batch pages one by one: each block taken at or
 * above alloc_min_order is shown, as order 0. */
static void called_for_pcp_refills(void **state)
{
	(void)state;
	struct tzone t = zone2(1, 4);
	struct arec r = { 0 };
	struct ph_report_hooks h = hooks(&r, 9);

	ph_test_set_cpu(0);
	assert_int_equal(ph_zone_register_report_hooks(t.z, &h), 0);
	uint64_t p = ph_alloc_pages(t.z, 0);
	assert_int_not_equal(p, PH_NO_PFN);
	assert_int_equal(r.n, 1);		/* the order-10 split; the other 3 from below 9 */
	assert_int_equal(r.order[0], 0);
	assert_int_equal(ph_pcp_count(t.z, 0), 3);
	ph_drain_all(t.z);

	ph_zone_unregister_report_hooks(t.z);
	h = hooks(&r, 0);
	r.n = 0;
	assert_int_equal(ph_zone_register_report_hooks(t.z, &h), 0);
	assert_int_not_equal(ph_alloc_pages(t.z, 0), PH_NO_PFN);
	assert_int_equal(r.n, 4);		/* one per page of the batch */
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(r.order[i], 0);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* A refusal takes the refused frame's block out for good (order
 * max(order, min)), puts the rest back, and the allocation goes on with
 * another block; nothing in the refused range is ever handed out. */
static void refusal_removes_the_block(void **state)
{
	(void)state;
	struct tzone t = zone2(1, 4);
	struct arec r = { .stuck_lo = 1024, .stuck_hi = 1024 + 512 };
	struct ph_report_hooks h = hooks(&r, 9);
	uint64_t got = 0;

	assert_int_equal(ph_zone_register_report_hooks(t.z, &h), 0);
	/* Take the block at 0 first, so that the split starts at 1024. */
	uint64_t a = ph_alloc_pages_direct(t.z, 10);
	assert_int_equal(a, 0);
	uint64_t p = ph_alloc_pages_direct(t.z, 0);
	assert_int_equal(p, 1024 + 512);	/* refused 1024, took the high half */
	assert_int_equal(ph_zone_refused_blocks(t.z), 1);
	assert_int_equal(ph_zone_refused_pages(t.z), 512);
	assert_int_equal(ph_zone_check(t.z), 0);
	/* Everything left: never a page of [1024, 1536). */
	for (uint64_t q; (q = ph_alloc_pages_direct(t.z, 0)) != PH_NO_PFN; got++)
		assert_false(q >= 1024 && q < 1536);
	assert_int_equal(got, 511);
	assert_int_equal(ph_zone_free_pages(t.z), 0);
	assert_int_equal(ph_zone_refused_blocks(t.z), 1);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* A refused order-10 request: the whole block goes, the next one is used;
 * with nothing left, the allocation fails instead of handing it out. */
static void refusal_of_a_whole_block(void **state)
{
	(void)state;
	struct tzone t = zone2(1, 4);
	struct arec r = { .stuck_lo = 0, .stuck_hi = 1 };
	struct ph_report_hooks h = hooks(&r, 9);

	assert_int_equal(ph_zone_register_report_hooks(t.z, &h), 0);
	assert_int_equal(ph_alloc_pages_direct(t.z, 10), 1024);
	assert_int_equal(ph_zone_refused_pages(t.z), 1024);
	r.stuck_lo = 0;
	r.stuck_hi = 4096;
	assert_int_equal(ph_alloc_pages_direct(t.z, 0), PH_NO_PFN);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(register_checks_min_order),
		cmocka_unit_test(called_for_whole_blocks_and_splits),
		cmocka_unit_test(called_for_pcp_refills),
		cmocka_unit_test(refusal_removes_the_block),
		cmocka_unit_test(refusal_of_a_whole_block),
	};
	return cmocka_run_group_tests_name("buddy_alloc_hook", tests, NULL, NULL);
}
