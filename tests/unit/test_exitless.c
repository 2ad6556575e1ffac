/* SPDX-License-Identifier: MIT */
/*
 * core/exitless.c: the shared state map's transitions, the host scanner's
 * runs and its refusals, and a randomized two-thread interleaving test: a
 * guest thread taking, using and freeing frames while a host thread scans
 * and "discards" (poisons) what it claims. The exhaustive check of the
 * handshake is the spin model (tests/model/exitless.pml).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buddy.h"
#include "exitless.h"

#define BASE 0x100000ull	/* pfn of 4 GiB */
#define FRAME 512ull

struct fake_host {
	unsigned calls;
	uint64_t gpa[64], len[64];
	int fail;
	struct ph_xl_map *m;
	bool meddle;		/* the "guest" changes RECLAIMING during the discard */
};

static int record_discard(void *ctx, uint64_t gpa, uint64_t len)
{
	struct fake_host *h = ctx;

	if (h->calls < 64) {
		h->gpa[h->calls] = gpa;
		h->len[h->calls] = len;
	}
	h->calls++;
	if (h->meddle) {
		uint64_t i = (gpa >> 12) / FRAME - h->m->first_frame;
		atomic_store(&h->m->entry[i], PH_XL_USED);
	}
	return h->fail;
}

static void *map_mem(struct ph_xl_map *m, uint64_t first_pfn, uint64_t npages)
{
	size_t len = ph_xl_mem_bytes(first_pfn, npages);
	void *mem = aligned_alloc(64, (len + 63) & ~(size_t)63);

	assert_non_null(mem);
	memset(mem, 0xaa, len);
	assert_int_equal(ph_xl_init(m, mem, len, first_pfn, npages), 0);
	return mem;
}

/* Set-up: one entry per 2 MiB frame touched, all USED; refusals. */
static void init_all_used(void **state)
{
	(void)state;
	struct ph_xl_map m;
	char buf[256];

	assert_int_equal(ph_xl_mem_bytes(BASE, 16 * FRAME), 64 + 16);
	assert_int_equal(ph_xl_mem_bytes(BASE + 1, 16 * FRAME), 64 + 17);	/* straddles */
	void *mem = map_mem(&m, BASE, 16 * FRAME);
	assert_int_equal(m.nr_frames, 16);
	for (uint64_t p = BASE; p < BASE + 16 * FRAME; p += FRAME)
		assert_int_equal(ph_xl_state_of(&m, p), PH_XL_USED);
	assert_int_equal(ph_xl_state_of(&m, BASE - 1), PH_XL_USED);	/* outside */
	assert_int_equal(ph_xl_init(&m, buf, 64 + 15, BASE, 16 * FRAME), -PH_EINVAL);
	assert_int_equal(ph_xl_init(&m, buf + 1, sizeof(buf) - 1, BASE, 16 * FRAME), -PH_EINVAL);
	assert_int_equal(ph_xl_init(&m, buf, sizeof(buf), BASE, 0), -PH_EINVAL);
	free(mem);
}

/* The life of a frame: USED -> FREE (guest) -> RECLAIMING -> RECLAIMED
 * (host) -> USED (guest); small frees publish nothing. */
static void frame_life_cycle(void **state)
{
	(void)state;
	struct ph_xl_map m;
	struct fake_host h = { .m = &m };
	void *mem = map_mem(&m, BASE, 16 * FRAME);

	assert_int_equal(ph_xl_guest_mark_free(&m, BASE, 8), 0);	/* 1 MiB: no */
	assert_int_equal(atomic_load(&m.hdr->free_gen), 0);
	assert_int_equal(ph_xl_guest_mark_free(&m, BASE, 9), 1);
	assert_int_equal(atomic_load(&m.hdr->free_gen), 1);
	assert_int_equal(ph_xl_state_of(&m, BASE), PH_XL_FREE);
	assert_int_equal(ph_xl_host_scan(&m, 16, record_discard, &h), 1);
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.gpa[0], BASE << 12);
	assert_int_equal(h.len[0], 2u << 20);
	assert_int_equal(ph_xl_state_of(&m, BASE), PH_XL_RECLAIMED);
	/* a merge with the freed buddy: the reclaimed half stays RECLAIMED */
	assert_int_equal(ph_xl_guest_mark_free(&m, BASE, 10), 1);
	assert_int_equal(ph_xl_state_of(&m, BASE), PH_XL_RECLAIMED);
	assert_int_equal(ph_xl_state_of(&m, BASE + FRAME), PH_XL_FREE);
	/* a 4 KiB allocation from the reclaimed frame takes the frame */
	assert_int_equal(ph_xl_guest_take(&m, BASE + 3, 0, 0), 0);
	assert_int_equal(ph_xl_state_of(&m, BASE), PH_XL_USED);
	assert_int_equal(atomic_load(&m.taken_reclaimed), 1);
	assert_int_equal(ph_xl_state_of(&m, BASE + FRAME), PH_XL_FREE);
	/* taking a used frame again is a no-op */
	assert_int_equal(ph_xl_guest_take(&m, BASE + 7, 2, 0), 0);
	assert_int_equal(ph_xl_state_of(&m, BASE), PH_XL_USED);
	free(mem);
}

/* The scanner discards runs of adjacent FREE frames with one call each,
 * never touches USED or invalid entries, and wraps. */
static void host_scan_runs_and_bounds(void **state)
{
	(void)state;
	struct ph_xl_map m;
	struct fake_host h = { .m = &m };
	void *mem = map_mem(&m, BASE, 16 * FRAME);

	ph_xl_guest_mark_free(&m, BASE + 0 * FRAME, 10);	/* frames 0, 1 */
	ph_xl_guest_mark_free(&m, BASE + 2 * FRAME, 9);		/* 2 */
	ph_xl_guest_mark_free(&m, BASE + 8 * FRAME, 10);	/* 8, 9 */
	atomic_store(&m.entry[5], 0x7f);			/* garbage */
	atomic_store(&m.entry[15], PH_XL_FREE);
	assert_int_equal(ph_xl_host_scan(&m, 16, record_discard, &h), 6);
	assert_int_equal(h.calls, 3);
	assert_int_equal(h.gpa[0], BASE << 12);
	assert_int_equal(h.len[0], 6u << 20);			/* 0..2 in one call */
	assert_int_equal(h.gpa[1], (BASE + 8 * FRAME) << 12);
	assert_int_equal(h.len[1], 4u << 20);
	assert_int_equal(h.gpa[2], (BASE + 15 * FRAME) << 12);	/* at the end: no wrap run */
	assert_int_equal(atomic_load(&m.entry[5]), 0x7f);	/* untouched */
	assert_int_equal(ph_xl_state_of(&m, BASE + 4 * FRAME), PH_XL_USED);

	/* max_frames bounds a scan; the next one goes on from there */
	h.calls = 0;
	ph_xl_guest_take(&m, BASE, 11, 0);			/* 0..7 USED */
	ph_xl_guest_mark_free(&m, BASE + 6 * FRAME, 9);
	ph_xl_guest_mark_free(&m, BASE + 12 * FRAME, 9);
	m.scan_pos = 4;
	assert_int_equal(ph_xl_host_scan(&m, 4, record_discard, &h), 1);	/* 4..7 */
	assert_int_equal(h.gpa[0], (BASE + 6 * FRAME) << 12);
	assert_int_equal(ph_xl_host_scan(&m, 16, record_discard, &h), 1);	/* 8.. wrap */
	assert_int_equal(ph_xl_state_of(&m, BASE + 12 * FRAME), PH_XL_RECLAIMED);
	assert_int_equal(atomic_load(&m.violations), 0);
	free(mem);
}

/* A failed discard puts the frames back to FREE; a guest that changes a
 * RECLAIMING entry is a violation, counted, its change left alone. */
static void host_discard_failure_and_violation(void **state)
{
	(void)state;
	struct ph_xl_map m;
	struct fake_host h = { .m = &m, .fail = -1 };
	void *mem = map_mem(&m, BASE, 4 * FRAME);

	ph_xl_guest_mark_free(&m, BASE, 9);
	assert_int_equal(ph_xl_host_scan(&m, 4, record_discard, &h), 0);
	assert_int_equal(atomic_load(&m.discard_errors), 1);
	assert_int_equal(ph_xl_state_of(&m, BASE), PH_XL_FREE);
	h.fail = 0;
	h.meddle = true;
	assert_int_equal(ph_xl_host_scan(&m, 4, record_discard, &h), 0);
	assert_int_equal(atomic_load(&m.violations), 1);
	assert_int_equal(ph_xl_state_of(&m, BASE), PH_XL_USED);
	free(mem);
}

/* A host that abandons a run (PH_XL_ABANDON, a faulty device): its frames
 * stay RECLAIMING, the scan stops after it, and the next scan goes on
 * from there. Frames: 0 1 FREE, 2 USED, 3 FREE. */
static void host_abandons_a_run(void **state)
{
	(void)state;
	struct ph_xl_map m;
	struct fake_host h = { .m = &m, .fail = PH_XL_ABANDON };
	void *mem = map_mem(&m, BASE, 4 * FRAME);

	ph_xl_guest_mark_free(&m, BASE, 10);
	ph_xl_guest_mark_free(&m, BASE + 3 * FRAME, 9);
	assert_int_equal(ph_xl_host_scan(&m, 4, record_discard, &h), 0);
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.len[0], 2 * FRAME << 12);
	assert_int_equal(ph_xl_state_of(&m, BASE), PH_XL_RECLAIMING);
	assert_int_equal(ph_xl_state_of(&m, BASE + FRAME), PH_XL_RECLAIMING);
	assert_int_equal(ph_xl_state_of(&m, BASE + 3 * FRAME), PH_XL_FREE);	/* not reached */
	assert_int_equal(atomic_load(&m.abandoned), 2);
	assert_int_equal(atomic_load(&m.reclaimed), 0);
	h.fail = 0;
	assert_int_equal(ph_xl_host_scan(&m, 4, record_discard, &h), 1);
	assert_int_equal(ph_xl_state_of(&m, BASE + 3 * FRAME), PH_XL_RECLAIMED);
	assert_int_equal(ph_xl_state_of(&m, BASE), PH_XL_RECLAIMING);	/* never again */
	free(mem);
}

/* A frame stuck RECLAIMING (a host that never finishes): the guest waits
 * at most wait_ns and says so; the other frames of the block are taken. */
static void guest_wait_is_bounded(void **state)
{
	(void)state;
	struct ph_xl_map m;
	void *mem = map_mem(&m, BASE, 4 * FRAME);

	ph_xl_guest_mark_free(&m, BASE, 10);
	atomic_store(&m.entry[1], PH_XL_RECLAIMING);		/* the host claimed it */
	assert_int_equal(ph_xl_guest_take(&m, BASE, 10, 2000000), -PH_EBUSY);
	assert_int_equal(atomic_load(&m.waits), 1);
	assert_int_equal(atomic_load(&m.wait_timeouts), 1);
	assert_int_equal(ph_xl_state_of(&m, BASE), PH_XL_USED);
	assert_int_equal(ph_xl_state_of(&m, BASE + FRAME), PH_XL_RECLAIMING);
	free(mem);
}

/* ---- two threads ---- */

enum { T_FRAMES = 8, T_WORDS = 64 };

static struct {
	struct ph_xl_map m;
	uint64_t mem[T_FRAMES][T_WORDS];	/* a few words of each frame */
	atomic_int owned[T_FRAMES];		/* the guest thread's view */
	atomic_bool stop;
	atomic_uint errors;
	atomic_ulong discards;
} T;

static void t_err(const char *what, unsigned f)
{
	if (atomic_fetch_add(&T.errors, 1) < 8)
		fprintf(stderr, "exitless: %s (frame %u)\n", what, f);
}

/* The host's discard: nothing it discards may be owned by the guest. */
static int t_discard(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx;
	uint64_t f0 = (gpa >> 12) / FRAME - T.m.first_frame, n = (len >> 12) / FRAME;

	for (uint64_t f = f0; f < f0 + n; f++) {
		if (atomic_load(&T.owned[f]))
			t_err("discarding a frame the guest owns", (unsigned)f);
		for (unsigned w = 0; w < T_WORDS; w++) {
			T.mem[f][w] = 0;		/* the pages are gone, slowly: */
			ph_cpu_relax();			/* a wider window for the guest */
		}
		if (atomic_load(&T.owned[f]))
			t_err("guest took a frame during its discard", (unsigned)f);
	}
	atomic_fetch_add(&T.discards, 1);
	return 0;
}

static void *host_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&T.stop)) {
		ph_xl_host_scan(&T.m, 3, t_discard, NULL);	/* short scans: more interleavings */
		if ((atomic_load(&T.discards) & 7) == 0)
			sched_yield();
	}
	return NULL;
}

/* The guest: take a random frame (or a pair, as an order-10 block), write
 * a pattern, check it after a while, free the frame(s). */
static void guest_loop(unsigned ops)
{
	uint64_t seed = 12345;

	for (unsigned op = 0; op < ops; op++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		unsigned f = (unsigned)(seed >> 33) % T_FRAMES, order = (seed >> 40) & 1 ? 10 : 9;
		if (order == 10)
			f &= ~1u;
		unsigned nf = order == 10 ? 2 : 1;
		uint64_t pfn = BASE + (uint64_t)f * FRAME;

		if (ph_xl_guest_take(&T.m, pfn, order, 1000000000ull) != 0) {
			t_err("guest could not take a frame within 1 s", f);
			continue;
		}
		for (unsigned k = 0; k < nf; k++) {
			if (atomic_exchange(&T.owned[f + k], 1))
				t_err("frame taken twice", f + k);
			for (unsigned w = 0; w < T_WORDS; w++)
				T.mem[f + k][w] = pfn * 31 + op + w;
		}
		for (unsigned spin = 0; spin < (seed >> 50) % 64; spin++)
			ph_cpu_relax();
		for (unsigned k = 0; k < nf; k++) {
			for (unsigned w = 0; w < T_WORDS; w++)
				if (T.mem[f + k][w] != pfn * 31 + op + w) {
					t_err("data of a used frame changed", f + k);
					break;
				}
			atomic_store(&T.owned[f + k], 0);
		}
		ph_xl_guest_mark_free(&T.m, pfn, order);
		if ((op & 255) == 0)
			sched_yield();
	}
}

static void two_threads_random_interleaving(void **state)
{
	(void)state;
	pthread_t host;
	size_t len = ph_xl_mem_bytes(BASE, T_FRAMES * FRAME);
	void *mem = aligned_alloc(64, (len + 63) & ~(size_t)63);

	assert_non_null(mem);
	memset(&T, 0, sizeof(T));
	assert_int_equal(ph_xl_init(&T.m, mem, len, BASE, T_FRAMES * FRAME), 0);
	for (unsigned f = 0; f < T_FRAMES; f++)
		ph_xl_guest_mark_free(&T.m, BASE + f * FRAME, 9);
	assert_int_equal(pthread_create(&host, NULL, host_thread, NULL), 0);
	guest_loop(200000);
	atomic_store(&T.stop, true);
	pthread_join(host, NULL);
	if (getenv("PH_VERBOSE"))
		fprintf(stderr, "discards %lu reclaimed %llu taken_reclaimed %llu waits %llu\n",
			(unsigned long)atomic_load(&T.discards),
			(unsigned long long)atomic_load(&T.m.reclaimed),
			(unsigned long long)atomic_load(&T.m.taken_reclaimed),
			(unsigned long long)atomic_load(&T.m.waits));
	assert_int_equal(atomic_load(&T.errors), 0);
	assert_int_equal(atomic_load(&T.m.violations), 0);
	assert_true(atomic_load(&T.m.reclaimed) > 0);
	assert_true(atomic_load(&T.m.taken_reclaimed) > 0);
	/* everything is free again: each frame FREE or RECLAIMED */
	for (unsigned f = 0; f < T_FRAMES; f++) {
		enum ph_xl_state s = ph_xl_state_of(&T.m, BASE + f * FRAME);
		assert_true(s == PH_XL_FREE || s == PH_XL_RECLAIMED);
	}
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(init_all_used),
		cmocka_unit_test(frame_life_cycle),
		cmocka_unit_test(host_scan_runs_and_bounds),
		cmocka_unit_test(host_discard_failure_and_violation),
		cmocka_unit_test(host_abandons_a_run),
		cmocka_unit_test(guest_wait_is_bounded),
		cmocka_unit_test(two_threads_random_interleaving),
	};
	return cmocka_run_group_tests_name("exitless", tests, NULL, NULL);
}
