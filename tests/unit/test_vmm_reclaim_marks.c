/* SPDX-License-Identifier: MIT */
/* Reclaim marks (vmm/reclaim_marks.c) from synthetic series: the baseline
 * at the free's start, first crossings, never reached, empty series, the
 * window, and the share returned at a time. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "reclaim_marks.h"

#define NEVER RECLAIM_NEVER
#define N 2001

/* Every 10 ms from 0 to 20 s: base MiB until start_ms, then falling at
 * mib_s MiB/s until back_mib are back. */
static void linear(struct reclaim_sample *s, double base, double start_ms, double mib_s,
		   double back_mib)
{
	for (int i = 0; i < N; i++) {
		double t = i * 10.0, back = t > start_ms ? (t - start_ms) / 1e3 * mib_s : 0;
		s[i] = (struct reclaim_sample){ t, base - (back > back_mib ? back_mib : back) };
	}
}

static struct reclaim_free free_at(double start_ms, double end_ms, double mib)
{
	return (struct reclaim_free){ .start_ms = start_ms, .end_ms = end_ms, .freed_mib = mib,
				      .until_ms = INFINITY };
}

static void marks_from_the_start_and_from_the_end(void **state)
{
	(void)state;
	static struct reclaim_sample s[N];
	struct reclaim_marks m;
	/* 800 MiB freed from 1 s to 3 s, back at 100 MiB/s from 1 s: 50%
	 * at +4 s, 90% at +7.2 s, 99% at +7.92 s. */
	linear(s, 900, 1000, 100, 800);
	struct reclaim_free f = free_at(1000, 3000, 800);
	reclaim_marks(s, N, &f, &m);
	assert_float_equal(m.base_mib, 900, 0);
	assert_float_equal(m.ms[0], 4000, 1e-9);
	assert_float_equal(m.ms[1], 7200, 1e-9);
	assert_float_equal(m.ms[2], 7920, 1e-9);
	assert_float_equal(m.after_end_ms[0], 2000, 1e-9);
	assert_float_equal(m.after_end_ms[2], 5920, 1e-9);
	/* A free that ended after the marks: 0 from its end. */
	f.end_ms = 12000;
	reclaim_marks(s, N, &f, &m);
	assert_float_equal(m.after_end_ms[1], 0, 0);
	/* Its end not known: no mark from it. */
	f.end_ms = 0;
	reclaim_marks(s, N, &f, &m);
	assert_true(m.after_end_ms[0] == NEVER && m.ms[0] == 4000);
}

static void never_reaching_99_is_never_not_0(void **state)
{
	(void)state;
	static struct reclaim_sample s[N];
	struct reclaim_marks m;
	/* 98.9% of 1000 MiB comes back. */
	linear(s, 1100, 1000, 500, 989);
	struct reclaim_free f = free_at(1000, 1000, 1000);
	reclaim_marks(s, N, &f, &m);
	assert_float_equal(m.ms[0], 1000, 1e-9);
	assert_float_equal(m.ms[1], 1800, 1e-9);
	assert_true(m.ms[2] == NEVER);
	assert_true(m.after_end_ms[2] == NEVER);
	assert_float_equal(reclaim_returned_at(s, N, &f, 10000, 10), 0.989, 1e-9);
}

static void no_free_no_marks(void **state)
{
	(void)state;
	static struct reclaim_sample s[N];
	struct reclaim_marks m;
	linear(s, 1100, 1000, 500, 1000);
	/* Nothing freed (no free line: no target): resident falls, but no mark. */
	struct reclaim_free f = free_at(1000, 1000, 0);
	reclaim_marks(s, N, &f, &m);
	assert_float_equal(m.base_mib, 1100, 0);
	for (int k = 0; k < RECLAIM_NMARKS; k++)
		assert_true(m.ms[k] == NEVER && m.after_end_ms[k] == NEVER);
	assert_true(reclaim_returned_at(s, N, &f, 2000, 10) == NEVER);
}

static void empty_series(void **state)
{
	(void)state;
	struct reclaim_marks m;
	struct reclaim_free f = free_at(1000, 2000, 100);
	reclaim_marks(NULL, 0, &f, &m);
	assert_true(m.base_mib == NEVER);
	for (int k = 0; k < RECLAIM_NMARKS; k++)
		assert_true(m.ms[k] == NEVER && m.after_end_ms[k] == NEVER);
	assert_true(reclaim_returned_at(NULL, 0, &f, 0, 10) == NEVER);
}

static void resident_rising_midway(void **state)
{
	(void)state;
	/* 100 MiB freed at 0: 40 back at 10 ms, the host takes 30 again at
	 * 20 ms (a refault), then 50 back at 30 ms, 95 at 40, then a rise
	 * of 20 again at 50 and 99 back at 60. */
	static const struct reclaim_sample s[] = {
		{ 0, 200 }, { 10, 160 }, { 20, 190 }, { 30, 150 }, { 40, 105 }, { 50, 125 }, { 60, 101 },
	};
	struct reclaim_marks m;
	struct reclaim_free f = free_at(0, 0, 100);
	reclaim_marks(s, 7, &f, &m);
	assert_float_equal(m.ms[0], 30, 0);
	assert_float_equal(m.ms[1], 40, 0);	/* the rise after it does not undo it */
	assert_float_equal(m.ms[2], 60, 0);
	/* at 50 ms: 75 of 100 back */
	assert_float_equal(reclaim_returned_at(s, 7, &f, 55, 10), 0.75, 1e-12);
}

static void baseline_at_the_start_not_before(void **state)
{
	(void)state;
	/* The host's figure rises by 2 MiB after the alloc line at 10 ms,
	 * before the free starts at 40 ms; 100 MiB freed come back. The
	 * rise is not part of the free: measured from the start, 99% is
	 * back at 60 ms. */
	static const struct reclaim_sample s[] = {
		{ 0, 150 }, { 10, 198 }, { 20, 200 }, { 30, 200 }, { 40, 200 }, { 50, 150 }, { 60, 101 },
		{ 70, 101 },
	};
	struct reclaim_marks m;
	struct reclaim_free f = free_at(40, 55, 100);
	reclaim_marks(s, 8, &f, &m);
	assert_float_equal(m.base_mib, 200, 0);
	assert_float_equal(m.ms[0], 10, 0);
	assert_float_equal(m.ms[2], 20, 0);
	assert_float_equal(m.after_end_ms[2], 5, 0);
	/* Between samples: the last one at or before the start. */
	f.start_ms = 45;
	reclaim_marks(s, 8, &f, &m);
	assert_float_equal(m.base_mib, 200, 0);
	assert_float_equal(m.ms[0], 5, 0);
	/* A series that starts after the free's start: its first sample. */
	f.start_ms = -5;
	reclaim_marks(s + 2, 6, &f, &m);
	assert_float_equal(m.base_mib, 200, 0);
	assert_float_equal(m.ms[2], 65, 0);
}

static void a_sample_just_after_the_start(void **state)
{
	(void)state;
	/* A sample taken as the freeing line was read, 0.4 ms after its
	 * stamp, is higher than the periodic one before: it is the
	 * baseline when within the slack, and not otherwise. */
	static const struct reclaim_sample s[] = {
		{ 0, 150 }, { 100.4, 200 }, { 110, 150 }, { 120, 101 },
	};
	struct reclaim_marks m;
	struct reclaim_free f = free_at(100, 100, 100);
	f.start_slack_ms = 1;
	reclaim_marks(s, 4, &f, &m);
	assert_float_equal(m.base_mib, 200, 0);
	assert_float_equal(m.ms[2], 20, 1e-9);
	f.start_slack_ms = 0;
	reclaim_marks(s, 4, &f, &m);
	assert_float_equal(m.base_mib, 150, 0);
	assert_true(m.ms[0] == NEVER);
	/* A lower sample in the slack is not taken. */
	static const struct reclaim_sample low[] = { { 0, 200 }, { 100.4, 190 }, { 110, 100 } };
	f.start_slack_ms = 1;
	reclaim_marks(low, 3, &f, &m);
	assert_float_equal(m.base_mib, 200, 0);
	assert_float_equal(m.ms[0], 10, 1e-9);
}

static void searched_until_the_next_free(void **state)
{
	(void)state;
	static struct reclaim_sample s[N];
	struct reclaim_marks m;
	linear(s, 900, 1000, 100, 800);
	struct reclaim_free f = free_at(1000, 1000, 800);
	f.until_ms = 8200;	/* 90% is back at 8.2 s: the sample there still counts */
	reclaim_marks(s, N, &f, &m);
	assert_float_equal(m.ms[1], 7200, 1e-9);
	assert_true(m.ms[2] == NEVER);
}

static void returned_at(void **state)
{
	(void)state;
	static struct reclaim_sample s[N];
	struct reclaim_free f = free_at(1000, 1000, 800);
	linear(s, 900, 1000, 100, 800);
	assert_float_equal(reclaim_returned_at(s, N, &f, 2000, 10), 0.25, 1e-9);
	assert_float_equal(reclaim_returned_at(s, N, &f, 2005, 10), 0.25, 1e-9);
	assert_float_equal(reclaim_returned_at(s, N, &f, 10000, 10), 1, 0);
	/* More back than freed (other memory too): 1, not more. */
	linear(s, 900, 1000, 100, 850);
	assert_float_equal(reclaim_returned_at(s, N, &f, 10000, 10), 1, 0);
	/* Resident above the baseline: 0, not less. */
	linear(s, 900, 1000, -10, 50);
	assert_float_equal(reclaim_returned_at(s, N, &f, 10000, 10), 0, 0);
	/* The series ends at 20 s: 19 s after the start is within two
	 * periods of its last sample, 19.03 s is not. */
	assert_true(reclaim_returned_at(s, N, &f, 19019, 10) != NEVER);
	assert_true(reclaim_returned_at(s, N, &f, 19030, 10) == NEVER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(marks_from_the_start_and_from_the_end),
		cmocka_unit_test(never_reaching_99_is_never_not_0),
		cmocka_unit_test(no_free_no_marks),
		cmocka_unit_test(empty_series),
		cmocka_unit_test(resident_rising_midway),
		cmocka_unit_test(baseline_at_the_start_not_before),
		cmocka_unit_test(a_sample_just_after_the_start),
		cmocka_unit_test(searched_until_the_next_free),
		cmocka_unit_test(returned_at),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
