/* SPDX-License-Identifier: MIT */
/* The telemetry's pace without KVM: the period decisions (pure), what
 * counts as memory moving, the sample a console line takes at once and the
 * reclaim baseline it gives, and the sampler backing off when idle,
 * coming back to the full rate when kicked, and stopping at once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest_mem.h"
#include "telemetry.h"
#include "clock.h"

#define MiB (1ULL << 20)
#define MS 1000000ULL
#define FAST TELEMETRY_PERIOD_NS
#define IDLE TELEMETRY_IDLE_PERIOD_NS

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void period_decisions(void **state)
{
	(void)state;
	/* Full rate until fast_until, whatever the period was. */
	assert_int_equal(telemetry_next_period(FAST, 5 * MS, 6 * MS), FAST);
	assert_int_equal(telemetry_next_period(IDLE, 5 * MS, 6 * MS), FAST);
	/* Then doubling from 10 ms up to the idle period, and staying. */
	uint64_t p = FAST, seen[16];
	unsigned n = 0;
	while (n < 16) {
		p = telemetry_next_period(p, 10000 * MS, 1000 * MS);
		seen[n++] = p;
	}
	assert_int_equal(seen[0], 20 * MS);
	assert_int_equal(seen[1], 40 * MS);
	assert_int_equal(seen[4], 320 * MS);
	assert_int_equal(seen[5], IDLE);
	assert_int_equal(seen[15], IDLE);
	for (unsigned i = 1; i < n; i++)
		assert_true(seen[i] >= seen[i - 1] && seen[i] <= IDLE);
	/* A period below the full rate (0: not set) is the full rate. */
	assert_int_equal(telemetry_next_period(0, 10000 * MS, 0), FAST);
	/* fast_until is exclusive: at it, back-off starts. */
	assert_int_equal(telemetry_next_period(FAST, 7 * MS, 7 * MS), 2 * FAST);
}

static void what_moves(void **state)
{
	(void)state;
	struct sample a = { .resident = 100 * MiB, .discarded = 5, .reported = 5, .requests = 1,
			    .balloon_pages = 3, .xl_reclaimed = 0 };
	a.x.cause[EXIT_IO_SERIAL] = 10;
	struct sample b = a;
	assert_false(telemetry_moved(&a, &b));
	b.x.cause[EXIT_IO_SERIAL] = 1000000;	/* exits alone: the guest runs, memory doesn't move */
	b.notifies = b.irqs = b.guest_free = 77;
	b.t_ns = 12345;
	assert_false(telemetry_moved(&a, &b));
	b.resident = a.resident + TELEMETRY_MOVE_BYTES - 4096;
	assert_false(telemetry_moved(&a, &b));
	b.resident = a.resident + TELEMETRY_MOVE_BYTES;
	assert_true(telemetry_moved(&a, &b));
	b.resident = a.resident - TELEMETRY_MOVE_BYTES;
	assert_true(telemetry_moved(&a, &b));
	assert_true(telemetry_moved(&b, &a));
	/* Anything the device did, even with resident unchanged (discards
	 * of memory that was not resident). */
	uint64_t *field[] = { &b.discarded, &b.reported, &b.requests, &b.balloon_pages, &b.xl_reclaimed };
	for (unsigned i = 0; i < sizeof(field) / sizeof(field[0]); i++) {
		b = a;
		(*field[i])++;
		assert_true(telemetry_moved(&a, &b));
	}
}

/* Samples 500 ms apart (an idle sampler); the guest allocated 300 MiB
 * in between and prints its freeing line at 700 ms: the line's own sample
 * (just after it) is the baseline, not the stale one. */
static void reclaim_baseline_from_the_line(void **state)
{
	(void)state;
	struct sample s[] = {
		{ .t_ns = 0, .resident = 100 * MiB },
		{ .t_ns = 500 * MS, .resident = 100 * MiB },
		{ .t_ns = 700 * MS + 20000, .resident = 400 * MiB },	/* the line's sample */
		{ .t_ns = 710 * MS, .resident = 300 * MiB },
		{ .t_ns = 720 * MS, .resident = 200 * MiB },
		{ .t_ns = 730 * MS, .resident = 100 * MiB },
	};
	struct free_event ev = { 700 * MS, 300 };
	struct reclaim r;
	telemetry_reclaim(s, 6, 0, &ev, 1, &r);
	assert_true(r.ms[0] > 19.9 && r.ms[0] < 20.1);	/* 150 MiB down at 720 ms */
	assert_true(r.ms[2] > 29.9 && r.ms[2] < 30.1);
	/* A higher sample later than the gap is not the start's. */
	s[2].t_ns = 700 * MS + TELEMETRY_KICK_GAP_NS + 1;
	telemetry_reclaim(s, 6, 0, &ev, 1, &r);
	assert_true(r.ms[0] < 0);
	/* A lower one (memory already going) leaves the baseline as it was. */
	struct sample d[] = {
		{ .t_ns = 690 * MS, .resident = 400 * MiB },
		{ .t_ns = 700 * MS + 20000, .resident = 350 * MiB },
		{ .t_ns = 710 * MS, .resident = 100 * MiB },
	};
	telemetry_reclaim(d, 3, 0, &ev, 1, &r);
	assert_true(r.ms[0] > 9.9 && r.ms[0] < 10.1);
	assert_true(r.ms[2] > 9.9 && r.ms[2] < 10.1);
}

/* A console line takes a sample at once (O(1), memfd: exact), once per
 * gap, and holds the full rate; never in exact mode. */
static void kick_samples_now(void **state)
{
	(void)state;
	struct guest_mem gm;
	struct gm_options o = { .ram_bytes = 16 * MiB, .backing = GM_BACKING_MEMFD,
				.discard = GM_DISCARD_PUNCH };
	assert_int_equal(gm_create(&gm, &o), 0);
	memset(gm.map, 1, 4 * MiB);
	struct telemetry t;
	telemetry_init(&t);
	t.gm = &gm;
	telemetry_kick(&t, TELEMETRY_FREE_HOLD_NS);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.s[0].resident, 4 * MiB);
	assert_true(t.fast_until_ns >= t.s[0].t_ns + TELEMETRY_FREE_HOLD_NS);
	assert_int_equal(t.full_scans, 0);
	/* A shorter hold does not cut a longer one short. */
	uint64_t until = t.fast_until_ns;
	telemetry_kick(&t, TELEMETRY_HOLD_NS);
	assert_true(t.fast_until_ns >= until);
	assert_true(t.n <= 2);	/* within the gap: maybe none */
	sleep_ms(2);
	memset(gm.map + 4 * MiB, 1, 4 * MiB);
	size_t n = t.n;
	telemetry_kick(&t, TELEMETRY_HOLD_NS);
	assert_int_equal(t.n, n + 1);
	assert_int_equal(t.s[n].resident, 8 * MiB);
	/* With a trace every sample is by mincore, on the sampler's grid. */
	t.exact = true;
	sleep_ms(2);
	telemetry_kick(&t, TELEMETRY_HOLD_NS);
	assert_int_equal(t.n, n + 1);
	telemetry_destroy(&t);
	gm_destroy(&gm);
}

static uint64_t period_of(struct telemetry *t)
{
	pthread_mutex_lock(&t->lock);
	uint64_t p = t->period_ns;
	pthread_mutex_unlock(&t->lock);
	return p;
}

static size_t n_of(struct telemetry *t)
{
	pthread_mutex_lock(&t->lock);
	size_t n = t->n;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* Nothing moves (no gm, no device): the sampler backs off to the idle
 * period; a kick brings the full rate back; stop does not wait out a
 * period. Bounds are on the side a loaded host can't break (a late
 * sampler takes fewer samples, not more), with 10 s to get there. */
static void sampler_backs_off(void **state)
{
	(void)state;
	struct telemetry t;
	telemetry_init(&t);
	t.fast_until_ns = 0;	/* no boot hold */
	uint64_t t0 = mono_ms();
	assert_int_equal(telemetry_start(&t), 0);
	while (period_of(&t) < IDLE && mono_ms() - t0 < 10000)
		sleep_ms(5);
	assert_int_equal(period_of(&t), IDLE);
	/* 10+20+...+320 ms to get there: 6 samples, not the 63 of 630 ms
	 * at the full rate. */
	uint64_t elapsed = mono_ms() - t0;
	assert_true(elapsed >= 600);
	assert_true(n_of(&t) <= 8);

	telemetry_kick(&t, TELEMETRY_HOLD_NS);
	t0 = mono_ms();
	while (period_of(&t) != FAST && mono_ms() - t0 < 10000)
		sleep_ms(1);
	assert_int_equal(period_of(&t), FAST);
	size_t n = n_of(&t);
	while (n_of(&t) < n + 5 && mono_ms() - t0 < 10000)
		sleep_ms(5);
	assert_true(n_of(&t) >= n + 5);

	/* Back to idle, then stop: it wakes the sampler. */
	t0 = mono_ms();
	while (period_of(&t) < IDLE && mono_ms() - t0 < 10000)
		sleep_ms(5);
	sleep_ms(50);
	t0 = mono_ms();
	telemetry_stop(&t);
	assert_true(mono_ms() - t0 < 250);
	telemetry_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(period_decisions),
		cmocka_unit_test(what_moves),
		cmocka_unit_test(reclaim_baseline_from_the_line),
		cmocka_unit_test(kick_samples_now),
		cmocka_unit_test(sampler_backs_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
