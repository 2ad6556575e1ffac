/* SPDX-License-Identifier: MIT */
/*
 * The exitless mode end to end on the guest side: core/buddy with
 * core/exitless_guest's hooks over core/exitless's map. Publishing at
 * attach and on frees, taking back on allocation, a frame the host never
 * finishes (the block leaves the allocator), the reset, and threads: two
 * "guest CPUs" allocating and freeing through ph_alloc_pages /
 * ph_free_pages with data patterns while a host thread scans the map and
 * discards (zeroes) what it claims. Checked: no page is handed out while
 * its frame is RECLAIMING (the discard never finds an allocated page in
 * its frame), no data is lost, no protocol violation.
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

#include "exitless_guest.h"
#include "test_buddy_util.h"

#define FRAME	512ull
#define BASE	256ull			/* 1 MiB: the first frame is partial */
#define NPAGES	(16384ull - BASE)	/* up to 64 MiB: 32 frames */
#define NFRAMES	32u
#define WORDS	8			/* words of pattern per page */

/* The guest's memory, by pfn (frame 0's first MiB is never used). */
static uint64_t (*mem)[512];

struct xl {
	struct tzone t;
	struct ph_xl_map m;
	struct ph_xl_guest g;
	void *mapmem;
};

static void xl_setup(struct xl *x, unsigned cpus)
{
	struct ph_zone_config c = tcfg(cpus, 31, 186);
	size_t len = ph_xl_mem_bytes(BASE, NPAGES);

	memset(x, 0, sizeof(*x));
	tzone_init(&x->t, BASE, NPAGES, &c);
	assert_int_equal(ph_zone_free_range(x->t.z, BASE, NPAGES), 0);
	x->mapmem = aligned_alloc(64, (len + 63) & ~(size_t)63);
	assert_non_null(x->mapmem);
	assert_int_equal(ph_xl_init(&x->m, x->mapmem, len, BASE, NPAGES), 0);
	assert_int_equal(x->m.nr_frames, NFRAMES);
}

static void xl_fini(struct xl *x)
{
	ph_xl_guest_stop(&x->g);
	free(x->mapmem);
	tzone_fini(&x->t);
}

static enum ph_xl_state st(struct xl *x, unsigned frame)
{
	return ph_xl_state_of(&x->m, frame * FRAME);
}

/* Attach after the zone filled: free blocks of order >= 9 are published,
 * frames with allocated pages and the partial first frame are not. */
static void attach_publishes_free_blocks(void **state)
{
	(void)state;
	struct xl x;

	xl_setup(&x, 1);
	assert_int_equal(ph_alloc_pages_direct(x.t.z, 8), BASE);	/* frame 0's free part */
	uint64_t a = ph_alloc_pages_direct(x.t.z, 0);	/* splits one frame */
	uint64_t b = ph_alloc_pages_direct(x.t.z, 10);	/* two whole frames */
	unsigned fa = (unsigned)(a / FRAME), fb = (unsigned)(b / FRAME);

	assert_int_equal(fa, 1);
	assert_int_equal(ph_xl_guest_start(&x.g, x.t.z, &x.m, 0), 0);
	struct ph_xl_guest_stats s;
	ph_xl_guest_get_stats(&x.g, &s);
	assert_int_equal(s.published, NFRAMES - 1 - 3);	/* frame 0, a's, b's two */
	assert_int_equal(st(&x, 0), PH_XL_USED);
	assert_int_equal(st(&x, fa), PH_XL_USED);
	assert_int_equal(st(&x, fb), PH_XL_USED);
	assert_int_equal(st(&x, fb + 1), PH_XL_USED);
	for (unsigned f = 1; f < NFRAMES; f++)
		if (f != fa && f != fb && f != fb + 1)
			assert_int_equal(st(&x, f), PH_XL_FREE);
	/* publishing again changes nothing */
	assert_int_equal(ph_xl_guest_publish(&x.g), 0);

	/* free: back to FREE; allocation: FREE -> USED, counted */
	assert_int_equal(ph_free_pages_direct(x.t.z, b, 10), 0);
	assert_int_equal(st(&x, fb), PH_XL_FREE);
	assert_int_equal(st(&x, fb + 1), PH_XL_FREE);
	uint64_t c = ph_alloc_pages_direct(x.t.z, 9);
	assert_int_equal(st(&x, (unsigned)(c / FRAME)), PH_XL_USED);
	ph_xl_guest_get_stats(&x.g, &s);
	assert_int_equal(s.published, NFRAMES - 4 + 2);
	assert_int_equal(s.taken_free, 1);
	/* an engine's hooks cannot join */
	struct ph_report_hooks other = { .block_freed = NULL };
	assert_int_equal(ph_zone_register_report_hooks(x.t.z, &other), -PH_EINVAL);
	assert_int_equal(ph_zone_check(x.t.z), 0);
	xl_fini(&x);
}

static int zero_discard(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx;
	memset(mem[gpa >> 12], 0, len);
	return 0;
}

/* A frame the host claimed and never finishes: allocation waits wait_ns,
 * gives up, and that frame's block leaves the allocator; the allocation
 * is served from another frame. A reclaimed frame is taken back. */
static void stuck_frame_is_removed(void **state)
{
	(void)state;
	struct xl x;

	xl_setup(&x, 1);
	assert_int_equal(ph_alloc_pages_direct(x.t.z, 8), BASE);	/* frame 0's free part */
	assert_int_equal(ph_xl_guest_start(&x.g, x.t.z, &x.m, 1000000), 0);	/* 1 ms */
	/* The host reclaims everything that is FREE. */
	assert_int_equal(ph_xl_host_scan(&x.m, NFRAMES, zero_discard, NULL), NFRAMES - 1);
	/* Which block does allocation take next? Make its frame stuck. */
	ph_zone_lock(x.t.z);
	uint64_t next = PH_NO_PFN;
	for (unsigned o = 0; o < PH_MAX_ORDER && next == PH_NO_PFN; o++)
		next = __ph_free_list_first(x.t.z, o);
	ph_zone_unlock(x.t.z);
	unsigned fs = (unsigned)(next / FRAME);
	atomic_store(&x.m.entry[fs], PH_XL_RECLAIMING);

	uint64_t p = ph_alloc_pages_direct(x.t.z, 0);
	assert_int_not_equal(p, PH_NO_PFN);
	assert_int_not_equal(p / FRAME, fs);
	struct ph_xl_guest_stats s;
	ph_xl_guest_get_stats(&x.g, &s);
	assert_int_equal(s.waits, 1);
	assert_int_equal(s.wait_timeouts, 1);
	assert_int_equal(s.removed_blocks, 1);
	assert_int_equal(s.removed_pages, FRAME);
	assert_int_equal(s.taken_reclaimed, 1);
	/* never handed out afterwards either */
	for (uint64_t q; (q = ph_alloc_pages_direct(x.t.z, 0)) != PH_NO_PFN;)
		assert_int_not_equal(q / FRAME, fs);
	assert_int_equal(ph_zone_check(x.t.z), 0);
	xl_fini(&x);
}

/* After a device reset every FREE and RECLAIMED entry is USED again
 * (RECLAIMING stays), and publishing brings the free ones back. */
static void reset_then_publish(void **state)
{
	(void)state;
	struct xl x;

	xl_setup(&x, 1);
	assert_int_equal(ph_xl_guest_start(&x.g, x.t.z, &x.m, 0), 0);
	assert_int_equal(ph_xl_host_scan(&x.m, 4, zero_discard, NULL), 3);	/* frames 1-3 */
	atomic_store(&x.m.entry[5], PH_XL_RECLAIMING);
	assert_int_equal(ph_xl_guest_reset(&x.m), 1);
	for (unsigned f = 0; f < NFRAMES; f++)
		assert_int_equal(st(&x, f), f == 5 ? PH_XL_RECLAIMING : PH_XL_USED);
	atomic_store(&x.m.entry[5], PH_XL_RECLAIMED);	/* the host finished late */
	assert_int_equal(ph_xl_guest_publish(&x.g), NFRAMES - 2);
	for (unsigned f = 1; f < NFRAMES; f++)
		assert_int_equal(st(&x, f), f == 5 ? PH_XL_RECLAIMED : PH_XL_FREE);
	xl_fini(&x);
}

/* ---- threads ---- */

#define LIVE	24	/* blocks each guest CPU holds at most */

static struct {
	struct xl x;
	_Atomic unsigned used[NFRAMES];	/* pages allocated to a guest CPU */
	atomic_bool stop;
	atomic_uint errors;
	atomic_ulong discards;
} T;

static void t_err(const char *what, uint64_t pfn)
{
	if (atomic_fetch_add(&T.errors, 1) < 8)
		fprintf(stderr, "exitless+buddy: %s (pfn %llu)\n", what, (unsigned long long)pfn);
}

static int t_discard(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx;
	uint64_t pfn = gpa >> 12, n = len >> 12;

	for (uint64_t f = pfn / FRAME; f < (pfn + n) / FRAME; f++) {
		if (atomic_load(&T.used[f]))
			t_err("discarding a frame with allocated pages", f * FRAME);
		for (uint64_t p = f * FRAME; p < (f + 1) * FRAME; p++) {
			memset(mem[p], 0, 8 * WORDS);
			if ((p & 63) == 0)
				ph_cpu_relax();		/* a slow discard: a wider window */
		}
		if (atomic_load(&T.used[f]))
			t_err("a page was allocated during the discard", f * FRAME);
	}
	atomic_fetch_add(&T.discards, 1);
	return 0;
}

static void *host_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&T.stop)) {
		ph_xl_host_scan(&T.x.m, 5, t_discard, NULL);
		sched_yield();
	}
	return NULL;
}

static void use(uint64_t pfn, unsigned order, int d)
{
	for (uint64_t p = pfn; p < pfn + (1ull << order); p++)
		atomic_fetch_add(&T.used[p / FRAME], (unsigned)d);
}

static void fill(uint64_t pfn, unsigned order, uint64_t tag)
{
	for (uint64_t p = pfn; p < pfn + (1ull << order); p++)
		for (unsigned w = 0; w < WORDS; w++)
			mem[p][w] = tag ^ (p * 0x9e3779b97f4a7c15ull) ^ w;
}

static void check(uint64_t pfn, unsigned order, uint64_t tag)
{
	for (uint64_t p = pfn; p < pfn + (1ull << order); p++)
		for (unsigned w = 0; w < WORDS; w++)
			if (mem[p][w] != (tag ^ (p * 0x9e3779b97f4a7c15ull) ^ w)) {
				t_err("data of an allocated page changed", p);
				return;
			}
}

static void *guest_thread(void *arg)
{
	unsigned cpu = (unsigned)(uintptr_t)arg;
	uint64_t seed = 0x1234567 + cpu, pfn[LIVE], tag[LIVE];
	unsigned order[LIVE], n = 0;
	static const unsigned orders[16] = { 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 5, 8, 9, 9, 10, 10 };

	ph_test_set_cpu(cpu);
	for (unsigned op = 0; op < 30000; op++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		bool do_free = n == LIVE || (n && (seed >> 60) < 8);
		if (do_free) {
			unsigned i = (unsigned)(seed >> 33) % n;
			check(pfn[i], order[i], tag[i]);
			use(pfn[i], order[i], -1);
			assert_int_equal(ph_free_pages(T.x.t.z, pfn[i], order[i]), 0);
			n--;
			pfn[i] = pfn[n], order[i] = order[n], tag[i] = tag[n];
		} else {
			unsigned o = orders[(seed >> 40) & 15];
			uint64_t p = ph_alloc_pages(T.x.t.z, o);
			if (p == PH_NO_PFN)
				continue;
			use(p, o, 1);
			tag[n] = seed;
			fill(p, o, seed);
			pfn[n] = p, order[n] = o;
			n++;
		}
		if ((op & 127) == 0)
			sched_yield();
	}
	while (n--) {
		check(pfn[n], order[n], tag[n]);
		use(pfn[n], order[n], -1);
		assert_int_equal(ph_free_pages(T.x.t.z, pfn[n], order[n]), 0);
	}
	ph_drain_cpu(T.x.t.z, cpu);
	return NULL;
}

static void threads_with_a_host_scanner(void **state)
{
	(void)state;
	pthread_t host, guest[2];

	memset(&T, 0, sizeof(T));
	xl_setup(&T.x, 2);
	assert_int_equal(ph_xl_guest_start(&T.x.g, T.x.t.z, &T.x.m, 1000000000ull), 0);
	assert_int_equal(pthread_create(&host, NULL, host_thread, NULL), 0);
	for (unsigned c = 0; c < 2; c++)
		assert_int_equal(pthread_create(&guest[c], NULL, guest_thread, (void *)(uintptr_t)c), 0);
	for (unsigned c = 0; c < 2; c++)
		pthread_join(guest[c], NULL);
	atomic_store(&T.stop, true);
	pthread_join(host, NULL);

	struct ph_xl_guest_stats s;
	ph_xl_guest_get_stats(&T.x.g, &s);
	if (getenv("PH_VERBOSE"))
		fprintf(stderr, "discards %lu reclaimed %llu published %llu taken_free %llu "
			"taken_reclaimed %llu waits %llu\n", (unsigned long)atomic_load(&T.discards),
			(unsigned long long)atomic_load(&T.x.m.reclaimed),
			(unsigned long long)s.published, (unsigned long long)s.taken_free,
			(unsigned long long)s.taken_reclaimed, (unsigned long long)s.waits);
	assert_int_equal(atomic_load(&T.errors), 0);
	assert_int_equal(atomic_load(&T.x.m.violations), 0);
	assert_int_equal(s.wait_timeouts, 0);
	assert_int_equal(s.removed_blocks, 0);
	assert_true(atomic_load(&T.x.m.reclaimed) > 0);
	assert_true(s.taken_reclaimed > 0);
	assert_int_equal(ph_zone_check(T.x.t.z), 0);
	/* all free again: every whole frame FREE or RECLAIMED */
	assert_int_equal(ph_zone_free_pages(T.x.t.z), NPAGES);
	for (unsigned f = 1; f < NFRAMES; f++) {
		enum ph_xl_state s2 = st(&T.x, f);
		assert_true(s2 == PH_XL_FREE || s2 == PH_XL_RECLAIMED);
	}
	xl_fini(&T.x);
}

static int setup(void **state)
{
	(void)state;
	mem = aligned_alloc(4096, (BASE + NPAGES) * 4096);
	return mem ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(mem);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(attach_publishes_free_blocks),
		cmocka_unit_test(stuck_frame_is_removed),
		cmocka_unit_test(reset_then_publish),
		cmocka_unit_test(threads_with_a_host_scanner),
	};
	return cmocka_run_group_tests_name("exitless_buddy", tests, setup, teardown);
}
