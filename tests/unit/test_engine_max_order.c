/* SPDX-License-Identifier: MIT */
/* core/engine_max_order.c: only 4 MiB blocks, in batches, each once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine_fakes.h"

#define BASE 0x100000ull
#define NPAGES 65536u		/* 256 MiB: 64 x 4 MiB */

/* 256 MiB, engine registered before the memory is freed (sink capacity
 * cap), that first reporting run to the end, counters reset. */
static void mt_setup(struct etest *u, unsigned cap)
{
	etest_setup(u, BASE, NPAGES, cap, "engine=max-order");
	assert_int_equal(ph_engine_get_params(u->e)->capacity, cap);
	ph_zone_free_range(u->t.z, BASE, NPAGES);
	assert_int_equal(fs_pending(&u->f), 1);
	fs_advance(&u->f, 99 * MS);
	assert_int_equal(u->s.calls, 0);
	fs_advance(&u->f, 1 * MS);
	assert_int_equal(u->s.ranges, 64);
	assert_int_equal(u->s.calls, (64 + cap - 1) / cap);	/* full requests, then the rest */
	assert_true(u->s.max_n <= cap);
	assert_int_equal(u->s.per_order[10], 64);
	assert_int_equal(ph_zone_nr_reported(u->t.z, 10), 64);
	assert_int_equal(fs_pending(&u->f), 0);
	fsink_reset_counts(&u->s);
}

/* The first pass: 64 blocks in batches of the capacity. */
static void reports_in_batches_of_capacity(void **state)
{
	(void)state;
	struct etest u;

	mt_setup(&u, 128);	/* one request of 64 */
	etest_teardown(&u);
	mt_setup(&u, 10);	/* 7 requests: 6 x 10 + 4 (checked in setup) */
	etest_teardown(&u);
}

static void batches_of_ten(void **state)
{
	(void)state;
	struct etest u;
	uint64_t pfn[25];

	mt_setup(&u, 10);
	for (unsigned i = 0; i < 25; i++) {
		pfn[i] = ph_alloc_pages_direct(u.t.z, 10);
		fsink_allocated(&u.s, pfn[i], 10);
	}
	for (unsigned i = 0; i < 25; i++)
		ph_free_pages_direct(u.t.z, pfn[i], 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 3);
	assert_int_equal(u.s.call_n[0], 10);
	assert_int_equal(u.s.call_n[1], 10);
	assert_int_equal(u.s.call_n[2], 5);
	etest_teardown(&u);
}

/* 64 MiB freed page by page with one page of each 4 MiB kept: no 4 MiB
 * block, no request, nothing reported. */
static void never_reports_below_order_10(void **state)
{
	(void)state;
	struct etest u;
	static uint64_t pfns[16384];

	mt_setup(&u, 128);
	for (unsigned i = 0; i < 16384; i++) {
		pfns[i] = ph_alloc_pages_direct(u.t.z, 0);
		fsink_allocated(&u.s, pfns[i], 0);
	}
	for (unsigned i = 0; i < 16384; i++)
		if (pfns[i] % 1024)
			ph_free_pages_direct(u.t.z, pfns[i], 0);
	assert_int_equal(fs_pending(&u.f), 0);
	fs_advance(&u.f, 10 * SEC);
	assert_int_equal(u.s.calls, 0);
	/* the last pages: 16 blocks of 4 MiB */
	for (unsigned i = 0; i < 16384; i++)
		if (pfns[i] % 1024 == 0)
			ph_free_pages_direct(u.t.z, pfns[i], 0);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.ranges, 16);
	assert_int_equal(u.s.per_order[10], 16);
	etest_teardown(&u);
}

/* Random churn with passes: only order 10, never twice. */
static void random_churn_only_4mib_never_twice(void **state)
{
	(void)state;
	struct etest u;
	const struct churn c = { .seed = 7, .ops = 20000, .max_live = 512, .orders = PH_MAX_ORDER,
				 .every = 50, .step_ns = 50 * MS,
				 .allocated = churn_fsink_allocated, .ctx = &u.s };

	mt_setup(&u, 16);
	churn_run(u.t.z, &u.f, &c);
	fs_run_all(&u.f, 1000);
	assert_true(u.s.calls > 10);
	for (unsigned o = 0; o < 10; o++)
		assert_int_equal(u.s.per_order[o], 0);
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 64);
	etest_teardown(&u);
}

/* A request during a pass: one more pass. */
static uint64_t mid_pfn;
static void free_mid(struct fsink *s, void *arg)
{
	(void)arg;
	if (mid_pfn) {
		ph_free_pages_direct(s->z, mid_pfn, 10);
		mid_pfn = 0;
	}
}

static void request_during_pass_causes_one_more_pass(void **state)
{
	(void)state;
	struct etest u;
	struct ph_engine_stats st;

	mt_setup(&u, 128);
	uint64_t a = ph_alloc_pages_direct(u.t.z, 10);
	mid_pfn = ph_alloc_pages_direct(u.t.z, 10);
	fsink_allocated(&u.s, a, 10);
	fsink_allocated(&u.s, mid_pfn, 10);
	u.s.during = free_mid;
	ph_free_pages_direct(u.t.z, a, 10);
	fs_advance(&u.f, 100 * MS);
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(fs_pending(&u.f), 1);
	fs_advance(&u.f, 100 * MS);
	assert_int_equal(u.s.calls, 2);
	assert_int_equal(fs_pending(&u.f), 0);
	ph_engine_get_stats(u.e, &st);
	assert_int_equal(st.passes, 3);
	etest_teardown(&u);
}

/* A failing sink: blocks back, unreported; reported by the next pass. */
static void sink_error_returns_blocks_unreported(void **state)
{
	(void)state;
	struct etest u;
	uint64_t pfn[3];

	mt_setup(&u, 128);
	u.s.fail = -5;
	for (unsigned i = 0; i < 3; i++) {
		pfn[i] = ph_alloc_pages_direct(u.t.z, 10);
		fsink_allocated(&u.s, pfn[i], 10);
	}
	for (unsigned i = 0; i < 3; i++)
		ph_free_pages_direct(u.t.z, pfn[i], 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 61);
	assert_zone_settled(u.t.z);
	u.s.fail = 0;
	uint64_t x = ph_alloc_pages_direct(u.t.z, 10);
	fsink_allocated(&u.s, x, 10);
	ph_free_pages_direct(u.t.z, x, 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 64);
	etest_teardown(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reports_in_batches_of_capacity),
		cmocka_unit_test(batches_of_ten),
		cmocka_unit_test(never_reports_below_order_10),
		cmocka_unit_test(random_churn_only_4mib_never_twice),
		cmocka_unit_test(request_during_pass_causes_one_more_pass),
		cmocka_unit_test(sink_error_returns_blocks_unreported),
	};
	return cmocka_run_group_tests_name("engine_max_order", tests, NULL, NULL);
}
