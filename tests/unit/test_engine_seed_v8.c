/* SPDX-License-Identifier: MIT */
/* core/engine_seed_v8.c: the RFC v8 algorithm, scripted with a fake
 * scheduler and a recording sink. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine_fakes.h"

#define BASE 0x100000ull
#define NPAGES 16384u		/* 64 MiB */

struct st {
	struct tzone t;
	struct fsched f;
	struct fsink s;
	struct ph_engine *e;
	void *mem;
};

/*
 * 64 MiB at BASE, every page allocated (order 0, direct) so that each test
 * frees what it wants; then a seed-v8 engine with sink capacity cap (1000:
 * the seed's hinting_vq protocol; 128: a standard virtio queue).
 */
static void st_setup(struct st *u, unsigned cap, const char *extra)
{
	struct ph_zone_config c = tcfg(2, 4, 1 << 20);
	struct ph_engine_params p;

	tzone_init(&u->t, BASE, NPAGES, &c);
	ph_zone_free_range(u->t.z, BASE, NPAGES);
	for (unsigned i = 0; i < NPAGES; i++)
		assert_int_equal(ph_alloc_pages_direct(u->t.z, 0), BASE + i);
	fs_init(&u->f, 2);
	fsink_init(&u->s, u->t.z, cap);
	u->s.walk_lists = true;
	ph_engine_params_init(&p);
	assert_null(ph_engine_param_word(&p, "engine=seed-v8", 14));
	if (extra)
		assert_null(ph_engine_param_word(&p, extra, strlen(extra)));
	u->e = teng_create(u->t.z, &u->s, &u->f, &p, &u->mem);
	assert_true(ph_engine_active(u->e));
}

static void st_teardown(struct st *u)
{
	assert_int_equal(u->s.violations, 0);
	teng_destroy(u->e, &u->f, u->mem);
	assert_zone_settled(u->t.z);
	fsink_fini(&u->s);
	tzone_fini(&u->t);
}

static struct ph_engine_stats stats(struct st *u)
{
	struct ph_engine_stats st;

	ph_engine_get_stats(u->e, &st);
	return st;
}

/* Free pfn on cpu, bypassing the per-CPU lists. */
static void free_on(struct st *u, unsigned cpu, uint64_t pfn, unsigned order)
{
	ph_test_set_cpu(cpu);
	assert_int_equal(ph_free_pages_direct(u->t.z, pfn, order), 0);
	ph_test_set_cpu(0);
}

/*
 * 999 separate 4 KiB frees on CPU 0 are only recorded; the 1000th fills
 * the array, the rescan keeps all 1000 (each is a buddy head) and the
 * worker reports them in one request of 1000 x 4 KiB, then frees them
 * back unreported.
 */
static void reports_after_1000_frees_including_4k(void **state)
{
	(void)state;
	struct st u;

	st_setup(&u, 1000, NULL);
	for (unsigned i = 0; i < 999; i++)
		free_on(&u, 0, BASE + 2 * i, 0);
	assert_int_equal(stats(&u).captured, 999);
	assert_int_equal(fs_pending(&u.f), 0);
	free_on(&u, 0, BASE + 2 * 999, 0);
	assert_int_equal(stats(&u).rescans, 1);
	assert_int_equal(fs_pending(&u.f), 1);
	assert_int_equal(fs_run_due(&u.f), 1);
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(u.s.call_n[0], 1000);
	assert_int_equal(u.s.per_order[0], 1000);
	assert_int_equal(stats(&u).requests, 1);
	assert_int_equal(stats(&u).pages, 1000);
	/* back in the allocator, free, not Reported */
	assert_int_equal(ph_zone_nr_free(u.t.z, 0), 1000);
	assert_int_equal(ph_zone_nr_reported(u.t.z, 0), 0);
	assert_zone_settled(u.t.z);
	/* capturing again */
	free_on(&u, 0, BASE + 2 * 1000, 0);
	assert_int_equal(stats(&u).captured, 1001);
	st_teardown(&u);
}

/* The arrays are per CPU: 1000 frees split over two CPUs report nothing. */
static void arrays_are_per_cpu(void **state)
{
	(void)state;
	struct st u;

	st_setup(&u, 1000, NULL);
	for (unsigned i = 0; i < 1000; i++)
		free_on(&u, i % 2, BASE + 2 * i, 0);
	assert_int_equal(stats(&u).captured, 1000);
	assert_int_equal(fs_pending(&u.f), 0);
	for (unsigned i = 1000; i < 2000; i++)
		free_on(&u, i % 2, BASE + 2 * i, 0);
	assert_int_equal(fs_pending(&u.f), 2);
	fs_run_due(&u.f);
	assert_int_equal(u.s.calls, 2);
	assert_int_equal(u.s.ranges, 2000);
	st_teardown(&u);
}

/* With the standard protocol (queue of 128) the same list goes as chains
 * of at most 128 ranges. */
static void standard_protocol_splits_into_queue_sized_chains(void **state)
{
	(void)state;
	struct st u;

	st_setup(&u, 128, NULL);
	for (unsigned i = 0; i < 1000; i++)
		free_on(&u, 0, BASE + 2 * i, 0);
	fs_run_due(&u.f);
	assert_int_equal(u.s.calls, 8);
	assert_int_equal(u.s.max_n, 128);
	assert_int_equal(u.s.call_n[7], 1000 - 7 * 128);
	assert_int_equal(u.s.ranges, 1000);
	st_teardown(&u);
}

/*
 * Pairs of buddies freed high page first: (p+1, 0) then (p, 1) after the
 * merge. At the rescan (p+1) is inside the free block p, which is recorded:
 * dropped (if_exist). 500 entries left: no worker, capture goes on.
 */
static void rescan_drops_duplicates(void **state)
{
	(void)state;
	struct st u;

	st_setup(&u, 1000, NULL);
	for (unsigned i = 0; i < 500; i++) {
		free_on(&u, 0, BASE + 4 * i + 1, 0);
		free_on(&u, 0, BASE + 4 * i, 0);
	}
	assert_int_equal(stats(&u).captured, 1000);
	assert_int_equal(stats(&u).rescans, 1);
	assert_int_equal(stats(&u).rescan_dropped, 500);
	assert_int_equal(fs_pending(&u.f), 0);
	/* 500 more entries fill it again: every entry is a buddy head */
	for (unsigned i = 0; i < 500; i++)
		free_on(&u, 0, BASE + 8192 + 2 * i, 0);
	assert_int_equal(fs_pending(&u.f), 1);
	fs_run_due(&u.f);
	assert_int_equal(u.s.per_order[1], 500);
	assert_int_equal(u.s.per_order[0], 500);
	st_teardown(&u);
}

/*
 * (p+1) freed on CPU 0, its buddy p on CPU 1: CPU 0's entry is replaced by
 * the merged block (p, 1), which CPU 0 did not record. The worker reports
 * 1000 x 8 KiB.
 */
static void rescan_replaces_by_containing_head(void **state)
{
	(void)state;
	struct st u;

	st_setup(&u, 1000, NULL);
	for (unsigned i = 0; i < 1000; i++) {
		free_on(&u, 0, BASE + 4 * i + 1, 0);
		if (i < 999)
			free_on(&u, 1, BASE + 4 * i, 0);
	}
	/* CPU 0 is full now (its 1000th entry was the last free) */
	assert_int_equal(fs_pending(&u.f), 1);
	assert_int_equal(stats(&u).rescan_dropped, 0);
	fs_run_due(&u.f);
	assert_int_equal(u.s.ranges, 1000);
	assert_int_equal(u.s.per_order[1], 999);
	assert_int_equal(u.s.per_order[0], 1);
	st_teardown(&u);
}

/* Recorded pages that were allocated again stay in the array; the worker
 * skips them (page_ref_count) and reports the others. */
static void worker_skips_allocated_pages(void **state)
{
	(void)state;
	struct st u;

	st_setup(&u, 1000, NULL);
	for (unsigned i = 0; i < 500; i++)
		free_on(&u, 0, BASE + 2 * i, 0);
	for (unsigned i = 0; i < 100; i++)	/* takes back 100 of them */
		assert_true(ph_alloc_pages_direct(u.t.z, 0) < BASE + 1000);
	for (unsigned i = 500; i < 1000; i++)
		free_on(&u, 0, BASE + 2 * i, 0);
	assert_int_equal(fs_pending(&u.f), 1);
	fs_run_due(&u.f);
	assert_int_equal(u.s.ranges, 900);
	st_teardown(&u);
}

/* Make [pfn, pfn + 2^order) one free block by freeing its pages from a
 * CPU the engine does not watch (id 5), then allocate it whole. */
static void make_block(struct st *u, uint64_t pfn, unsigned order)
{
	for (uint64_t p = pfn; p < pfn + (1ull << order); p++)
		free_on(u, 5, p, 0);
	assert_int_equal(ph_alloc_pages_direct(u->t.z, order), pfn);
}

/* Every order is reported as it is, 4 KiB to 4 MiB. */
static void reports_every_order(void **state)
{
	(void)state;
	struct st u;

	st_setup(&u, 1000, "report.entries=11");
	for (unsigned o = 0; o <= 10; o++) {
		make_block(&u, BASE + 1024 * (o + 1), o);
		free_on(&u, 0, BASE + 1024 * (o + 1), o);
	}
	assert_int_equal(fs_pending(&u.f), 1);
	fs_run_due(&u.f);
	assert_int_equal(u.s.calls, 1);
	for (unsigned o = 0; o <= 10; o++)
		assert_int_equal(u.s.per_order[o], 1);
	st_teardown(&u);
}

/* The per-CPU list is drained when the array fills: its pages enter the
 * buddy (not recorded: the array is being scanned). */
static void full_array_drains_cpu_list(void **state)
{
	(void)state;
	struct st u;

	st_setup(&u, 1000, NULL);
	ph_test_set_cpu(0);
	for (unsigned i = 0; i < 50; i++)	/* high is huge: they stay */
		ph_free_pages(u.t.z, BASE + 4000 + 2 * i, 0);
	assert_int_equal(ph_pcp_count(u.t.z, 0), 50);
	for (unsigned i = 0; i < 1000; i++)
		free_on(&u, 0, BASE + 2 * i, 0);
	assert_int_equal(ph_pcp_count(u.t.z, 0), 0);
	assert_int_equal(stats(&u).dropped, 50);
	fs_run_due(&u.f);
	assert_int_equal(u.s.ranges, 1000);
	assert_int_equal(ph_zone_nr_free(u.t.z, 0), 1050);
	st_teardown(&u);
}

/* A failing sink: every block still comes back. */
static void sink_error_returns_blocks(void **state)
{
	(void)state;
	struct st u;

	st_setup(&u, 1000, NULL);
	u.s.fail = -5;
	for (unsigned i = 0; i < 1000; i++)
		free_on(&u, 0, BASE + 2 * i, 0);
	fs_run_due(&u.f);
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(stats(&u).report_errors, 1);
	assert_int_equal(stats(&u).requests, 0);
	assert_int_equal(ph_zone_nr_free(u.t.z, 0), 1000);
	assert_zone_settled(u.t.z);
	st_teardown(&u);
}

/*
 * The isolated list overflowing (the patch has no bound check): with
 * report.entries=2, an order-3 entry whose block was split holds three
 * free blocks; the list is reported when full, then the walk goes on.
 *   entry (P, 3); alloc takes P -> free: P+1 (o0), P+2 (o1), P+4 (o2)
 */
static void isolated_list_overflow_reports_early(void **state)
{
	(void)state;
	struct st u;
	const uint64_t P = BASE + 64;

	st_setup(&u, 1000, "report.entries=2");
	make_block(&u, P, 3);
	free_on(&u, 0, P, 3);
	assert_int_equal(ph_alloc_pages_direct(u.t.z, 0), P);
	free_on(&u, 0, BASE + 200, 0);		/* 2nd entry: full */
	assert_int_equal(fs_pending(&u.f), 1);
	fs_run_due(&u.f);
	assert_int_equal(u.s.calls, 2);
	assert_int_equal(u.s.call_n[0], 2);
	assert_int_equal(u.s.call_n[1], 2);
	assert_int_equal(u.s.per_order[0], 2);
	assert_int_equal(u.s.per_order[1], 1);
	assert_int_equal(u.s.per_order[2], 1);
	ph_free_pages_direct(u.t.z, P, 0);
	st_teardown(&u);
}

/*
 * A rescan that ends while the engine is stopping (ph_engine_stop sets
 * stopping before it removes the hooks) finds the array still full and
 * hands it to no worker: capture must stay closed, or the next free writes
 * one entry past the array.
 */
static void full_array_stays_closed_while_stopping(void **state)
{
	(void)state;
	struct st u;

	st_setup(&u, 1000, "report.entries=4");
	for (unsigned i = 0; i < 3; i++)
		free_on(&u, 0, BASE + 2 * i, 0);
	atomic_store(&u.e->stopping, true);	/* the window inside ph_engine_stop */
	free_on(&u, 0, BASE + 2 * 3, 0);	/* fills it: a rescan keeps all 4 */
	assert_int_equal(stats(&u).rescans, 1);
	assert_int_equal(fs_pending(&u.f), 0);	/* no worker while stopping */
	free_on(&u, 0, BASE + 2 * 4, 0);
	assert_int_equal(stats(&u).captured, 4);
	st_teardown(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reports_after_1000_frees_including_4k),
		cmocka_unit_test(arrays_are_per_cpu),
		cmocka_unit_test(standard_protocol_splits_into_queue_sized_chains),
		cmocka_unit_test(rescan_drops_duplicates),
		cmocka_unit_test(rescan_replaces_by_containing_head),
		cmocka_unit_test(worker_skips_allocated_pages),
		cmocka_unit_test(reports_every_order),
		cmocka_unit_test(full_array_drains_cpu_list),
		cmocka_unit_test(sink_error_returns_blocks),
		cmocka_unit_test(isolated_list_overflow_reports_early),
		cmocka_unit_test(full_array_stays_closed_while_stopping),
	};
	return cmocka_run_group_tests_name("engine_seed_v8", tests, NULL, NULL);
}
