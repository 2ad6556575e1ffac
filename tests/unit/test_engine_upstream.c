/* SPDX-License-Identifier: MIT */
/* core/engine_upstream.c: mm/page_reporting.c's behaviour, scripted with a
 * fake scheduler and a recording sink. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine_fakes.h"

#define BASE 0x100000ull	/* pfn of 4 GiB: aligned to every order */

/*
 * A zone of npages at BASE, all free, with an upstream engine (default
 * parameters, sink capacity 128) registered before the memory was freed,
 * and the reporting that follows run to the end: every block of order
 * >= 9 is Reported. Counters reset.
 */
static void ut_setup(struct etest *u, uint64_t npages)
{
	etest_setup(u, BASE, npages, 128, "engine=upstream");
	assert_true(ph_engine_active(u->e));
	assert_int_equal(ph_zone_free_range(u->t.z, BASE, npages), 0);
	fs_run_all(&u->f, 1000);
	assert_int_equal(u->s.violations, 0);
	assert_int_equal(u->s.dups, 0);
	fsink_reset_counts(&u->s);
}

static uint64_t ut_alloc(struct etest *u, unsigned order)
{
	uint64_t pfn = ph_alloc_pages_direct(u->t.z, order);

	assert_true(pfn != PH_NO_PFN);
	fsink_allocated(&u->s, pfn, order);
	return pfn;
}

static uint64_t passes(struct etest *u)
{
	struct ph_engine_stats st;

	ph_engine_get_stats(u->e, &st);
	return st.passes;
}

/* Setting up 256 MiB: one pass, 64 x 4 MiB in two requests of 32 (the
 * second is the leftover report). Everything >= 2 MiB is Reported. */
static void initial_free_is_reported(void **state)
{
	(void)state;
	struct etest u;
	struct ph_engine_stats st;

	ut_setup(&u, 65536);
	ph_engine_get_stats(u.e, &st);
	assert_int_equal(st.passes, 1);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.ranges, 64);
	assert_int_equal(st.pages, 65536);
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 64);
	assert_int_equal(fs_pending(&u.f), 0);
	etest_teardown(&u);
}

/* Memory already free when the engine starts (boot-time free memory) is
 * reported by the initial flush page_reporting_register() requests: the
 * first pass comes PAGE_REPORTING_DELAY after the start, with no free. */
static void initial_flush_reports_memory_free_before_the_engine(void **state)
{
	(void)state;
	struct tzone t;
	struct fsched f;
	struct fsink s;
	struct ph_engine_params p;
	struct ph_zone_config c = tcfg(2, 4, 16);
	void *mem;

	tzone_init(&t, BASE, 65536, &c);
	fs_init(&f, 2);
	fsink_init(&s, t.z, 128);
	s.clock = &f;
	assert_int_equal(ph_zone_free_range(t.z, BASE, 65536), 0);
	ph_engine_params_init(&p);
	assert_null(ph_engine_param_word(&p, "engine=upstream", 15));
	struct ph_engine *e = teng_create(t.z, &s, &f, &p, &mem);
	assert_true(ph_engine_active(e));
	assert_int_equal(fs_pending(&f), 1);
	fs_advance(&f, 2 * SEC - 1);
	assert_int_equal(s.calls, 0);
	fs_advance(&f, 1);
	assert_int_equal(s.calls, 2);	/* 64 x 4 MiB: 32 + the leftover 32 */
	assert_int_equal(ph_zone_nr_reported(t.z, 10), 64);
	assert_int_equal(s.violations, 0);
	teng_destroy(e, &f, mem);
	assert_zone_settled(t.z);
	fsink_fini(&s);
	tzone_fini(&t);
}

/* Frees below the threshold order never request a pass; the merge that
 * makes a 4 MiB block does. */
static void small_frees_do_not_request(void **state)
{
	(void)state;
	struct etest u;
	static uint64_t pfn[1024];

	ut_setup(&u, 65536);
	for (unsigned i = 0; i < 1024; i++)	/* one whole 4 MiB block */
		pfn[i] = ut_alloc(&u, 0);
	for (unsigned i = 0; i < 1024; i++)	/* no two buddies: no merge */
		if (pfn[i] % 2 == 0)
			ph_free_pages_direct(u.t.z, pfn[i], 0);
	assert_int_equal(ph_zone_nr_free(u.t.z, 0), 512);
	assert_int_equal(fs_pending(&u.f), 0);
	fs_advance(&u.f, 10 * SEC);
	assert_int_equal(u.s.calls, 0);
	for (unsigned i = 0; i < 1024; i++)
		if (pfn[i] % 2 == 1)
			ph_free_pages_direct(u.t.z, pfn[i], 0);
	assert_int_equal(fs_pending(&u.f), 1);
	fs_advance(&u.f, 2 * SEC);
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(u.s.per_order[10], 1);
	etest_teardown(&u);
}

/*
 * 64 MiB freed page by page, one page of every 4 MiB kept: 16 x 2 MiB
 * blocks and smaller ones. Nothing before 2 s; at 2 s one pass, one
 * request of the 16 order-9 blocks, nothing smaller.
 */
static void freed_64mib_reported_after_2s_only_2mib_up(void **state)
{
	(void)state;
	struct etest u;
	static uint64_t pfns[16384];

	ut_setup(&u, 65536);
	for (unsigned i = 0; i < 16384; i++)
		pfns[i] = ut_alloc(&u, 0);
	assert_int_equal(fs_pending(&u.f), 0);
	for (unsigned i = 0; i < 16384; i++)
		if (pfns[i] % 1024 != 0)
			ph_free_pages_direct(u.t.z, pfns[i], 0);
	assert_int_equal(fs_pending(&u.f), 1);
	fs_advance(&u.f, 1999 * MS);
	assert_int_equal(u.s.calls, 0);
	fs_advance(&u.f, 1 * MS);
	assert_int_equal(passes(&u), 2);	/* setup's and this one */
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(u.s.ranges, 16);
	assert_int_equal(u.s.per_order[9], 16);
	for (unsigned o = 0; o < 9; o++)
		assert_int_equal(u.s.per_order[o], 0);
	assert_int_equal(fs_pending(&u.f), 0);
	fs_advance(&u.f, 10 * SEC);
	assert_int_equal(u.s.calls, 1);
	etest_teardown(&u);
}

/* The same 64 MiB freed whole: 16 x 4 MiB in one request. */
static void freed_64mib_whole_is_16_blocks(void **state)
{
	(void)state;
	struct etest u;
	static uint64_t pfns[16384];

	ut_setup(&u, 65536);
	for (unsigned i = 0; i < 16384; i++)
		pfns[i] = ut_alloc(&u, 0);
	for (unsigned i = 0; i < 16384; i++)
		ph_free_pages_direct(u.t.z, pfns[i], 0);
	fs_advance(&u.f, 2 * SEC);
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(u.s.ranges, 16);
	assert_int_equal(u.s.per_order[10], 16);
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 64);
	etest_teardown(&u);
}

/*
 * 1 GiB freed at once: 256 x 4 MiB on the order-10 list, budget
 * DIV_ROUND_UP(256, 32 * 16) = 1, so each pass makes 2 requests of 32
 * (budget + 1) and asks for another pass 2 s later: 4 passes, 8 requests.
 */
static void large_free_is_paced_by_budget(void **state)
{
	(void)state;
	struct etest u;
	struct ph_zone_config c = tcfg(2, 4, 16);
	struct ph_engine_params p;
	struct ph_engine_stats st;

	tzone_init(&u.t, BASE, 262144, &c);
	fs_init(&u.f, 2);
	fsink_init(&u.s, u.t.z, 128);
	u.s.clock = &u.f;
	u.s.check_dup = true;
	ph_engine_params_init(&p);
	p.kind = PH_ENGINE_UPSTREAM;
	u.e = teng_create(u.t.z, &u.s, &u.f, &p, &u.mem);
	ph_zone_free_range(u.t.z, BASE, 262144);
	assert_int_equal(fs_pending(&u.f), 1);

	for (unsigned pass = 1; pass <= 4; pass++) {
		fs_advance(&u.f, 2 * SEC);
		assert_int_equal(passes(&u), pass);
		assert_int_equal(u.s.calls, 2 * pass);
		assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 64 * pass);
		assert_int_equal(fs_pending(&u.f), pass < 4);
	}
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(u.s.call_n[i], 32);
		assert_int_equal(u.s.call_time[i], (i / 2 + 1) * 2 * SEC);
	}
	assert_int_equal(u.s.per_order[10], 256);
	assert_int_equal(u.s.max_n, 32);
	fs_advance(&u.f, 10 * SEC);
	ph_engine_get_stats(u.e, &st);
	assert_int_equal(st.requests, 8);
	assert_int_equal(st.pages, 262144);
	etest_teardown(&u);
}

/* A request during a pass: at its end the pass is scheduled once more. */
struct mid_pass {
	struct etest *u;
	uint64_t pfn;
	bool done;
};

static void free_during_report(struct fsink *s, void *arg)
{
	struct mid_pass *m = arg;

	(void)s;
	if (m->done)
		return;
	m->done = true;
	ph_free_pages_direct(m->u->t.z, m->pfn, 10);	/* sink runs unlocked */
}

static void request_during_pass_causes_one_more_pass(void **state)
{
	(void)state;
	struct etest u;
	struct mid_pass m = { &u, 0, false };

	ut_setup(&u, 65536);
	uint64_t t0 = u.f.now;
	uint64_t a = ut_alloc(&u, 10);
	m.pfn = ut_alloc(&u, 10);
	u.s.during = free_during_report;
	u.s.during_arg = &m;
	ph_free_pages_direct(u.t.z, a, 10);
	fs_advance(&u.f, 2 * SEC);
	assert_true(m.done);
	assert_int_equal(passes(&u), 2);
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(fs_pending(&u.f), 1);	/* REQUESTED -> another pass */
	fs_advance(&u.f, 1 * SEC);
	assert_int_equal(u.s.calls, 1);
	fs_advance(&u.f, 1 * SEC);
	assert_int_equal(passes(&u), 3);
	assert_int_equal(u.s.calls, 2);
	assert_int_equal(u.s.call_time[0], t0 + 2 * SEC);
	assert_int_equal(u.s.call_time[1], t0 + 4 * SEC);
	assert_int_equal(fs_pending(&u.f), 0);
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 64);
	etest_teardown(&u);
}

/* Below low watermark + (32 << 9) free pages the pass skips the zone. */
static void skips_zone_below_watermark(void **state)
{
	(void)state;
	struct etest u;
	struct ph_engine_stats st;
	uint64_t pfn[32];

	ut_setup(&u, 32768);	/* 128 MiB: watermark 128 + 16384 pages */
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 32);
	for (unsigned i = 0; i < 32; i++)
		pfn[i] = ut_alloc(&u, 10);
	for (unsigned i = 0; i < 4; i++)
		ph_free_pages_direct(u.t.z, pfn[i], 10);
	fs_run_all(&u.f, 100);
	ph_engine_get_stats(u.e, &st);
	assert_int_equal(st.wmark_skips, 1);
	assert_int_equal(u.s.calls, 0);
	assert_int_equal(fs_pending(&u.f), 0);
	for (unsigned i = 4; i < 32; i++)
		ph_free_pages_direct(u.t.z, pfn[i], 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.ranges, 32);
	etest_teardown(&u);
}

/* A failing sink: the blocks come back, unreported, and are reported by
 * the next pass once the sink works. */
static void sink_error_returns_blocks_unreported(void **state)
{
	(void)state;
	struct etest u;
	struct ph_engine_stats st;
	uint64_t pfn[4];

	ut_setup(&u, 65536);
	u.s.fail = -5;
	for (unsigned i = 0; i < 4; i++)
		pfn[i] = ut_alloc(&u, 10);
	for (unsigned i = 0; i < 4; i++)
		ph_free_pages_direct(u.t.z, pfn[i], 10);
	fs_run_all(&u.f, 100);
	ph_engine_get_stats(u.e, &st);
	assert_int_equal(st.report_errors, 1);
	assert_int_equal(st.requests, 2);	/* setup's */
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(ph_zone_nr_free(u.t.z, 10), 64);
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 60);
	assert_zone_settled(u.t.z);

	u.s.fail = 0;
	uint64_t x = ut_alloc(&u, 10);
	ph_free_pages_direct(u.t.z, x, 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 2);
	assert_int_equal(u.s.ranges, 4 + (x == pfn[0] || x == pfn[1] || x == pfn[2] || x == pfn[3] ? 0 : 1));
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 64);
	etest_teardown(&u);
}

/* Random allocations and frees with passes in between: nothing in flight
 * is on a list, nothing is reported twice, every block comes back. */
static void random_churn_never_reports_twice(void **state)
{
	(void)state;
	struct etest u;
	const struct churn c = { .seed = 42, .ops = 20000, .max_live = 512, .orders = PH_MAX_ORDER,
				 .every = 50, .step_ns = SEC,
				 .allocated = churn_fsink_allocated, .ctx = &u.s };

	ut_setup(&u, 65536);
	churn_run(u.t.z, &u.f, &c);
	fs_run_all(&u.f, 1000);
	assert_true(u.s.calls > 10);
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 64);
	etest_teardown(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(initial_free_is_reported),
		cmocka_unit_test(initial_flush_reports_memory_free_before_the_engine),
		cmocka_unit_test(small_frees_do_not_request),
		cmocka_unit_test(freed_64mib_reported_after_2s_only_2mib_up),
		cmocka_unit_test(freed_64mib_whole_is_16_blocks),
		cmocka_unit_test(large_free_is_paced_by_budget),
		cmocka_unit_test(request_during_pass_causes_one_more_pass),
		cmocka_unit_test(skips_zone_below_watermark),
		cmocka_unit_test(sink_error_returns_blocks_unreported),
		cmocka_unit_test(random_churn_never_reports_twice),
	};
	return cmocka_run_group_tests_name("engine_upstream", tests, NULL, NULL);
}
