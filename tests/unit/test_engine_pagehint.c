/* SPDX-License-Identifier: MIT */
/*
 * core/engine_pagehint.c, scripted with the fake scheduler and a recording
 * sink of its own (psink): pagehint merges contiguous blocks into one
 * range, so a range is a run of isolated blocks, not one block. psink
 * checks during every report() that each range is sorted, page aligned,
 * and made only of isolated blocks on no free list, and that no block is
 * reported twice without an allocation in between.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine_fakes.h"

#define BASE 0x100000ull	/* pfn of 4 GiB: aligned to every order */
#define MIB_PAGES 256ull

/* ---- recording sink for merged ranges ---- */

#define PS_LOG 1024

struct psink {
	struct ph_report_sink sink;	/* first: report() casts back */
	struct ph_zone *z;
	struct fsched *clock;
	uint64_t base, npages;
	int fail;
	uint64_t *last;			/* per page: block tag last reported */
	unsigned calls, max_n;
	uint64_t ranges, pages, blocks;
	unsigned violations, dups;
	uint64_t min_free_in_flight;	/* least free pages seen during a report */
	uint64_t call_time[PS_LOG], call_pages[PS_LOG];
	unsigned call_n[PS_LOG];
	void (*during)(struct psink *s, void *arg);
	void *during_arg;
};

/* Set while another engine runs over psink (upstream fills its scatter
 * list from the end): its ranges need not be sorted. */
static bool ps_unsorted_ok;

static void ps_violation(struct psink *s, const char *what, uint64_t pfn)
{
	if (s->violations++ < 8)
		fprintf(stderr, "psink: %s: pfn %llu\n", what, (unsigned long long)pfn);
}

static int ps_report(struct ph_report_sink *sk, const struct ph_range *r, unsigned n)
{
	struct psink *s = (struct psink *)sk;
	uint64_t pages = 0, blocks = 0;

	if (n == 0 || n > sk->capacity) {
		ps_violation(s, "bad number of ranges", n);
		return -1;
	}
	ph_zone_lock(s->z);
	for (unsigned i = 0; i < n; i++) {
		uint64_t pfn = r[i].addr >> PH_PAGE_SHIFT, end = pfn + (r[i].len >> PH_PAGE_SHIFT);

		if ((r[i].addr | r[i].len) & (PH_PAGE_SIZE - 1) || r[i].len == 0 ||
		    r[i].len > (1ull << 30)) {
			ps_violation(s, "range not page aligned, empty or above 1 GiB", pfn);
			continue;
		}
		if (i && r[i - 1].addr + r[i - 1].len > r[i].addr && !ps_unsorted_ok)
			ps_violation(s, "ranges not sorted or overlapping", pfn);
		for (uint64_t p = pfn; p < end;) {
			struct ph_page_info pi;

			__ph_page_query(s->z, p, &pi);
			if (pi.kind != PH_PAGE_ISOLATED || pi.head != p ||
			    p + (1ull << pi.order) > end) {
				ps_violation(s, "range in flight is not made of isolated blocks", p);
				break;
			}
			for (unsigned o = 0; o < PH_MAX_ORDER; o++)
				for (uint64_t f = __ph_free_list_first(s->z, o); f != PH_NO_PFN;
				     f = __ph_free_list_next(s->z, o, f))
					if (f >= p && f < p + (1ull << pi.order))
						ps_violation(s, "block in flight is on a free list", p);
			uint64_t tag = p << 4 | (pi.order + 1);
			if (!s->fail) {
				if (s->last[p - s->base] == tag && s->dups++ < 8)
					fprintf(stderr, "psink: block %llu order %u reported twice\n",
						(unsigned long long)p, pi.order);
				for (uint64_t q = p; q < p + (1ull << pi.order); q++)
					s->last[q - s->base] = tag;
			}
			blocks++;
			p += 1ull << pi.order;
		}
		pages += end - pfn;
	}
	uint64_t fp = ph_zone_free_pages(s->z);
	if (fp < s->min_free_in_flight)
		s->min_free_in_flight = fp;
	if (ph_zone_isolated_pages(s->z) != pages)
		ps_violation(s, "isolated pages are not the request's", pages);
	ph_zone_unlock(s->z);

	if (getenv("PH_VERBOSE"))
		fprintf(stderr, "report t=%llu ms n=%u pages=%llu blocks=%llu\n",
			(unsigned long long)(s->clock ? s->clock->now / MS : 0), n,
			(unsigned long long)pages, (unsigned long long)blocks);
	if (getenv("PH_VERBOSE") && n < 4)
		for (unsigned i = 0; i < n; i++)
			fprintf(stderr, "  range %#llx + %#llx\n", (unsigned long long)r[i].addr,
				(unsigned long long)r[i].len);
	if (s->calls < PS_LOG) {
		s->call_time[s->calls] = s->clock ? s->clock->now : 0;
		s->call_n[s->calls] = n;
		s->call_pages[s->calls] = pages;
	}
	s->calls++;
	if (n > s->max_n)
		s->max_n = n;
	if (!s->fail) {
		s->ranges += n;
		s->pages += pages;
		s->blocks += blocks;
	}
	if (s->during)
		s->during(s, s->during_arg);
	return s->fail;
}

static void ps_reset(struct psink *s)
{
	s->calls = s->max_n = 0;
	s->ranges = s->pages = s->blocks = 0;
	s->min_free_in_flight = UINT64_MAX;
}

/* The test allocated (pfn, order): forget reports of its 4 MiB region. */
static void ps_allocated(struct psink *s, uint64_t pfn)
{
	uint64_t lo = pfn & ~((1ull << (PH_MAX_ORDER - 1)) - 1);

	for (uint64_t p = lo; p < lo + (1ull << (PH_MAX_ORDER - 1)); p++)
		if (p >= s->base && p < s->base + s->npages)
			s->last[p - s->base] = 0;
}

/* ---- a zone with a pagehint engine ---- */

struct ut {
	struct tzone t;
	struct fsched f;
	struct psink s;
	struct ph_engine *e;
	void *mem;
};

/*
 * A zone of npages at BASE with engine=pagehint plus the extra words
 * (NULL: defaults) registered before the memory is freed (booted: after,
 * as in the guest, so nothing is reported until a free), sink capacity
 * cap, and the reporting that follows the set-up run to its end. Counters
 * reset.
 */
static void ut_setup_full(struct ut *u, uint64_t npages, unsigned cap, const char *const *words,
			  bool booted)
{
	struct ph_zone_config c = tcfg(2, 4, 16);
	struct ph_engine_params p;

	tzone_init(&u->t, BASE, npages, &c);
	fs_init(&u->f, 2);
	memset(&u->s, 0, sizeof(u->s));
	u->s.sink.report = ps_report;
	u->s.sink.capacity = cap;
	u->s.z = u->t.z;
	u->s.clock = &u->f;
	u->s.base = BASE;
	u->s.npages = npages;
	u->s.last = calloc(npages, sizeof(uint64_t));
	assert_non_null(u->s.last);
	ps_reset(&u->s);
	ph_engine_params_init(&p);
	assert_null(ph_engine_param_word(&p, "engine=pagehint", 15));
	for (; words && *words; words++)
		assert_null(ph_engine_param_word(&p, *words, strlen(*words)));
	const char *err = ph_engine_params_resolve(&p, cap);
	if (err)
		fail_msg("resolve: %s", err);
	size_t len = ph_engine_mem_bytes(&p, 2);
	u->mem = aligned_alloc(64, (len + 63) & ~(size_t)63);
	assert_non_null(u->mem);
	if (booted)	/* the guest: memory freed at boot, before any engine */
		assert_int_equal(ph_zone_free_range(u->t.z, BASE, npages), 0);
	u->e = ph_engine_create(u->mem, len, u->t.z, &u->s.sink, &u->f.env, &p, &err);
	if (!u->e)
		fail_msg("create: %s", err);
	assert_true(ph_engine_active(u->e));
	if (!booted)
		assert_int_equal(ph_zone_free_range(u->t.z, BASE, npages), 0);
	fs_run_all(&u->f, 1000);
	assert_int_equal(u->s.violations, 0);
	assert_int_equal(u->s.dups, 0);
	ps_reset(&u->s);
}

static void ut_setup_with(struct ut *u, uint64_t npages, unsigned cap, const char *const *words)
{
	ut_setup_full(u, npages, cap, words, false);
}

/* The same with the defaults and 32 MiB more at the end of the zone, which
 * tests that allocate npages leave free (and Reported): a guest always
 * has some free memory, and the engine keeps a reserve (managed / 256)
 * out of its requests. */
#define EXTRA 8192

static void ut_setup(struct ut *u, uint64_t npages)
{
	ut_setup_with(u, npages + EXTRA, 128, NULL);
}

static void ut_teardown(struct ut *u)
{
	assert_int_equal(u->s.violations, 0);
	assert_int_equal(u->s.dups, 0);
	teng_destroy(u->e, &u->f, u->mem);
	assert_zone_settled(u->t.z);
	free(u->s.last);
	tzone_fini(&u->t);
}

/* Let ms of fake time pass, 1 ms at a time (work runs when due, not
 * late by a coarse step). */
static void ut_run_for(struct ut *u, unsigned ms)
{
	for (unsigned i = 0; i < ms; i++)
		fs_advance(&u->f, MS);
}

/* Let a test's setup allocations age: Reported memory taken more than
 * max_delay after it was reported is no reuse the hysteresis reacts to. */
static void ut_age(struct ut *u)
{
	fs_advance(&u->f, 2 * SEC);
}

static uint64_t ut_alloc(struct ut *u, unsigned order)
{
	uint64_t pfn = ph_alloc_pages_direct(u->t.z, order);

	assert_true(pfn != PH_NO_PFN);
	ps_allocated(&u->s, pfn);
	return pfn;
}

/* The bench's burst job in fake time: 128 MiB (32 blocks of 4 MiB in
 * job[]) taken, held 100 ms, freed. */
static void ut_burst(struct ut *u, uint64_t *job)
{
	for (unsigned i = 0; i < 32; i++)
		job[i] = ut_alloc(u, 10);
	ut_run_for(u, 100);
	for (unsigned i = 0; i < 32; i++)
		ph_free_pages_direct(u->t.z, job[i], 10);
}

/*
 * Allocate every 4 MiB block of the zone (byk[k] is the block k * 4 MiB
 * from the base), then free again those from k = keep on (the EXTRA
 * blocks in most tests) and let them be reported: the test then frees
 * blocks of [0, keep) by address, with the rest free and Reported.
 * Counters reset.
 */
static void ut_alloc_all(struct ut *u, uint64_t *byk, unsigned keep)
{
	uint64_t n = u->t.npages >> 10, pfn;

	while ((pfn = ph_alloc_pages_direct(u->t.z, 10)) != PH_NO_PFN) {
		ps_allocated(&u->s, pfn);
		byk[(pfn - BASE) >> 10] = pfn;
	}
	fs_run_all(&u->f, 100);
	for (uint64_t k = keep; k < n; k++)
		/* The loop above allocated every block of the zone.
		 * NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage) */
		ph_free_pages_direct(u->t.z, byk[k], 10);
	fs_run_all(&u->f, 100);
	ps_reset(&u->s);
}

static struct ph_engine_stats stats(struct ut *u)
{
	struct ph_engine_stats st;

	ph_engine_get_stats(u->e, &st);
	return st;
}

static uint64_t reported_pages(struct ph_zone *z)
{
	uint64_t n = 0;

	for (unsigned o = 0; o < PH_MAX_ORDER; o++)
		n += ph_zone_nr_reported(z, o) << o;
	return n;
}

/* ---- scenarios ---- */

/* Parameters: the defaults, and pagehint's keys refused elsewhere. */
static void params_defaults_and_refusals(void **state)
{
	(void)state;
	struct ph_engine_params p;

	ph_engine_params_init(&p);
	assert_null(ph_engine_param_word(&p, "engine=pagehint", 15));
	assert_int_equal(p.kind, PH_ENGINE_PAGEHINT);
	assert_string_equal(ph_engine_name(PH_ENGINE_PAGEHINT), "pagehint");
	assert_null(ph_engine_params_resolve(&p, 128));
	assert_int_equal(p.order, 9);
	assert_int_equal(p.capacity, 128);
	assert_int_equal(p.delay_ms, 5);
	assert_int_equal(p.max_delay_ms, 1000);
	assert_int_equal(p.trigger_mib, 1024);
	assert_int_equal(p.hold, 32);
	assert_int_equal(p.entries, 0);
	assert_null(ph_engine_params_resolve(&p, 128));	/* idempotent */
	assert_int_equal(p.hold, 32);

	ph_engine_params_init(&p);
	assert_null(ph_engine_param_word(&p, "engine=upstream", 15));
	assert_null(ph_engine_param_word(&p, "report.hold=4", 13));
	assert_non_null(ph_engine_params_resolve(&p, 128));
	ph_engine_params_init(&p);
	assert_null(ph_engine_param_word(&p, "report.trigger_mib=4", 20));
	assert_non_null(ph_engine_params_resolve(&p, 128));	/* engine=off */
	ph_engine_params_init(&p);
	assert_null(ph_engine_param_word(&p, "engine=upstream", 15));
	assert_null(ph_engine_params_resolve(&p, 128));
	assert_int_equal(p.hold, 0);				/* unused: 0 */
	assert_int_equal(p.max_delay_ms, 0);
	ph_engine_params_init(&p);
	assert_null(ph_engine_param_word(&p, "engine=pagehint", 15));
	assert_null(ph_engine_param_word(&p, "report.entries=4", 16));
	assert_non_null(ph_engine_params_resolve(&p, 128));
	ph_engine_params_init(&p);
	assert_null(ph_engine_param_word(&p, "engine=pagehint", 15));
	assert_null(ph_engine_param_word(&p, "report.capacity=256", 19));
	assert_non_null(ph_engine_params_resolve(&p, 128));	/* above the queue */
	assert_non_null(ph_engine_param_word(&p, "report.hold=0", 13));
}

/*
 * The 256 MiB set-up free, all of the zone: one pass; 63 blocks merged
 * into one range in one request, the last block in a second one (with
 * everything in flight the zone would have less than its reserve, 1 MiB,
 * left); everything Reported, nothing isolated, all blocks back.
 */
static void initial_free_is_one_merged_range(void **state)
{
	(void)state;
	struct ut u;
	struct ph_engine_stats st;

	ut_setup_with(&u, 65536, 128, NULL);
	st = stats(&u);
	assert_int_equal(st.passes, 1);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.ranges, 2);
	assert_int_equal(st.blocks, 64);
	assert_int_equal(st.pages, 65536);
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 64);
	assert_int_equal(ph_zone_free_pages(u.t.z), 65536);
	assert_int_equal(ph_zone_isolated_pages(u.t.z), 0);
	assert_int_equal(fs_pending(&u.f), 0);
	ut_teardown(&u);
}

/*
 * 64 x 4 MiB blocks allocated, then three runs freed: [0,10) [20,30)
 * [40,64). One request, three ranges (10, 10 and 24 blocks merged), every
 * block isolated while in flight (psink), all back and Reported after.
 */
static void contiguous_blocks_merge_into_ranges(void **state)
{
	(void)state;
	struct ut u;
	uint64_t pfn[72];

	ut_setup(&u, 65536);
	ut_alloc_all(&u, pfn, 64);
	for (unsigned k = 0; k < 64; k++)
		if (k < 10 || (k >= 20 && k < 30) || k >= 40)
			ph_free_pages_direct(u.t.z, pfn[k], 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(u.s.ranges, 3);
	assert_int_equal(u.s.blocks, 44);
	assert_int_equal(u.s.call_pages[0], 44 * 1024);
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 44 + 8);
	assert_int_equal(ph_zone_isolated_pages(u.t.z), 0);
	for (unsigned k = 0; k < 64; k++)
		if (!(k < 10 || (k >= 20 && k < 30) || k >= 40))
			ph_free_pages_direct(u.t.z, pfn[k], 10);
	fs_run_all(&u.f, 100);
	ut_teardown(&u);
}

/*
 * Requests per GiB (the goal: <= 2 exits per GiB, docs/design.md §7). A zone of 1 GiB + 32
 * MiB: freeing 1 GiB at once (contiguous) is one request of one range;
 * freeing every other 4 MiB block (512 MiB in 128 ranges, none
 * contiguous) is one request of the queue's 128; with a queue of 32 it is
 * four; 1.5 GiB is one request of two ranges (a range is at most 1 GiB);
 * 3 GiB is two requests, none above 2 GiB. (The 32 MiB stay
 * free: the reserve never holds anything back.)
 */
static void requests_per_gib(void **state)
{
	(void)state;
	struct ut u;
	static uint64_t pfn[264];
	const char *const cap32[] = { "report.capacity=32", NULL };

	ut_setup(&u, 262144);
	ut_alloc_all(&u, pfn, 256);
	for (unsigned k = 0; k < 256; k++)
		ph_free_pages_direct(u.t.z, pfn[k], 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(u.s.pages, 262144);
	assert_int_equal(u.s.ranges, 1);

	ut_alloc_all(&u, pfn, 256);
	for (unsigned k = 0; k < 256; k += 2)
		ph_free_pages_direct(u.t.z, pfn[k], 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(u.s.ranges, 128);
	assert_int_equal(u.s.pages, 131072);
	for (unsigned k = 1; k < 256; k += 2)
		ph_free_pages_direct(u.t.z, pfn[k], 10);
	fs_run_all(&u.f, 100);
	ut_teardown(&u);

	/* 1.5 GiB at once: one request (one exit), two ranges */
	static uint64_t big[776];
	ut_setup(&u, 393216);
	ut_alloc_all(&u, big, 384);
	for (unsigned k = 0; k < 384; k++)
		ph_free_pages_direct(u.t.z, big[k], 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(u.s.pages, 393216);
	assert_int_equal(u.s.ranges, 2);
	ut_teardown(&u);

	/* 3 GiB at once: two requests (at most 2 GiB in flight) */
	ut_setup(&u, 786432);
	ut_alloc_all(&u, big, 768);
	for (unsigned k = 0; k < 768; k++)
		ph_free_pages_direct(u.t.z, big[k], 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 2);
	assert_int_equal(u.s.pages, 786432);
	assert_true(u.s.call_pages[0] <= 524288 && u.s.call_pages[1] <= 524288);
	ut_teardown(&u);

	ut_setup_with(&u, 262144 + EXTRA, 128, cap32);
	ut_alloc_all(&u, pfn, 256);
	for (unsigned k = 0; k < 256; k += 2)
		ph_free_pages_direct(u.t.z, pfn[k], 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 4);
	assert_int_equal(u.s.max_n, 32);
	assert_int_equal(u.s.ranges, 128);
	for (unsigned k = 1; k < 256; k += 2)
		ph_free_pages_direct(u.t.z, pfn[k], 10);
	fs_run_all(&u.f, 100);
	ut_teardown(&u);
}

/* Only blocks of order >= 9: 64 MiB freed page by page with one page of
 * every 4 MiB kept is 16 x 2 MiB reported, nothing smaller; small frees
 * alone never queue work. */
static void only_2mib_and_up(void **state)
{
	(void)state;
	struct ut u;
	static uint64_t pfns[16384];

	ut_setup(&u, 65536);
	for (unsigned i = 0; i < 16384; i++)
		pfns[i] = ut_alloc(&u, 0);
	fs_run_all(&u.f, 100);
	ps_reset(&u.s);
	for (unsigned i = 0; i < 16384; i++)
		if (pfns[i] % 1024 != 0 && pfns[i] % 1024 < 512)
			ph_free_pages_direct(u.t.z, pfns[i], 0);
	assert_int_equal(fs_pending(&u.f), 0);	/* nothing reached order 9 */
	for (unsigned i = 0; i < 16384; i++)
		if (pfns[i] % 1024 >= 512)
			ph_free_pages_direct(u.t.z, pfns[i], 0);
	assert_int_equal(fs_pending(&u.f), 1);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(u.s.pages, 16 * 512);
	assert_int_equal(u.s.blocks, 16);
	for (unsigned i = 0; i < 16384; i++)
		if (pfns[i] % 1024 == 0)
			ph_free_pages_direct(u.t.z, pfns[i], 0);
	fs_run_all(&u.f, 100);
	ut_teardown(&u);
}

/*
 * Hysteresis: the work looks every delay_ms (5) and passes at the first
 * look that saw no eligible free since the previous one: frees every
 * 3 ms postpone the report until they stop, then it comes 5-10 ms after
 * the last free.
 */
static void waits_for_frees_to_settle(void **state)
{
	(void)state;
	struct ut u;
	uint64_t pfn[20];

	ut_setup(&u, 65536);
	for (unsigned i = 0; i < 20; i++)
		pfn[i] = ut_alloc(&u, 10);
	fs_run_all(&u.f, 100);
	ut_age(&u);
	ps_reset(&u.s);
	uint64_t t0 = u.f.now;
	for (unsigned i = 0; i < 20; i++) {
		ph_free_pages_direct(u.t.z, pfn[i], 10);
		ut_run_for(&u, 3);
		assert_int_equal(u.s.calls, 0);
	}
	/* the last free was at t0 + 57 ms: reported within two delays of it */
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(u.s.blocks, 20);
	assert_true(u.s.call_time[0] >= t0 + 60 * MS);
	assert_true(u.s.call_time[0] <= t0 + 57 * MS + 10 * MS);
	assert_int_equal(u.s.blocks, 20);
	ut_teardown(&u);
}

/* ... but not longer than max_delay_ms: a trickle of frees every 3 ms for
 * 2 s is reported after at most ~1 s. */
static void trickle_waits_at_most_max_delay(void **state)
{
	(void)state;
	struct ut u;
	static uint64_t pfn[600];

	const char *const words[] = { "report.trigger_mib=4096", NULL };

	ut_setup_with(&u, 262144 * 3, 128, words);	/* 3 GiB */
	for (unsigned i = 0; i < 600; i++)
		pfn[i] = ut_alloc(&u, 10);
	fs_run_all(&u.f, 100);
	ps_reset(&u.s);
	uint64_t t0 = u.f.now;
	for (unsigned i = 0; i < 600 && u.s.calls == 0; i++) {
		ph_free_pages_direct(u.t.z, pfn[i], 10);
		pfn[i] = PH_NO_PFN;
		ut_run_for(&u, 3);
	}
	assert_true(u.s.calls >= 1);		/* 1.3 GiB: two requests */
	assert_true(u.s.call_time[0] >= t0 + 1000 * MS);
	assert_true(u.s.call_time[0] <= t0 + 1010 * MS);
	for (unsigned i = 0; i < 600; i++)
		if (pfn[i] != PH_NO_PFN)
			ph_free_pages_direct(u.t.z, pfn[i], 10);
	fs_run_all(&u.f, 1000);
	ut_teardown(&u);
}

/* ... and a large amount is reported while the frees go on: with
 * report.trigger_mib=64, frees every 3 ms are reported in requests of
 * at least 64 MiB before they stop. */
static void trigger_reports_during_a_long_free(void **state)
{
	(void)state;
	struct ut u;
	static uint64_t pfn[256];
	const char *const words[] = { "report.trigger_mib=64", NULL };

	ut_setup_with(&u, 262144 + EXTRA, 128, words);
	for (unsigned i = 0; i < 256; i++)
		pfn[i] = ut_alloc(&u, 10);
	fs_run_all(&u.f, 100);
	ut_age(&u);
	ps_reset(&u.s);
	for (unsigned i = 0; i < 256; i++) {
		ph_free_pages_direct(u.t.z, pfn[i], 10);
		ut_run_for(&u, 3);
	}
	unsigned during = u.s.calls;
	fs_run_all(&u.f, 100);
	assert_true(during >= 3);
	for (unsigned i = 0; i < during; i++)
		assert_true(u.s.call_pages[i] >= 64 * MIB_PAGES);
	assert_int_equal(u.s.pages, 262144);
	ut_teardown(&u);
}

/*
 * A pause is not the end: a pass started because frees seemed to have
 * settled, during which frees came again, makes the next pass wait for
 * two quiet looks (10 ms, not 5); a pass on a genuine quiet brings it
 * back to one.
 */
static uint64_t pause_block = PH_NO_PFN;

static void free_once_during(struct psink *s, void *arg)
{
	(void)arg;
	if (pause_block != PH_NO_PFN) {
		ph_free_pages_direct(s->z, pause_block, 10);
		pause_block = PH_NO_PFN;
	}
}

static void a_pause_is_not_the_end(void **state)
{
	(void)state;
	struct ut u;
	uint64_t a, c;

	ut_setup(&u, 65536);
	a = ut_alloc(&u, 10);
	pause_block = ut_alloc(&u, 10);
	c = ut_alloc(&u, 10);
	fs_run_all(&u.f, 100);
	ps_reset(&u.s);
	u.s.during = free_once_during;
	uint64_t t0 = u.f.now;
	ph_free_pages_direct(u.t.z, a, 10);
	ut_run_for(&u, 40);
	assert_int_equal(u.s.calls, 2);
	assert_int_equal(u.s.call_time[0], t0 + 5 * MS);	/* one quiet look */
	assert_int_equal(u.s.call_time[1], t0 + 15 * MS);	/* then two */
	t0 = u.f.now;
	ph_free_pages_direct(u.t.z, c, 10);
	ut_run_for(&u, 40);
	assert_int_equal(u.s.calls, 3);
	assert_int_equal(u.s.call_time[2], t0 + 5 * MS);	/* back to one */
	u.s.during = NULL;
	ut_teardown(&u);
}

/*
 * Lock holds are bounded: with report.hold=8, no hold isolates more than
 * 8 blocks; the request still carries all 43 (one request).
 */
static void lock_hold_is_bounded(void **state)
{
	(void)state;
	struct ut u;
	uint64_t pfn[72];
	const char *const words[] = { "report.hold=8", NULL };

	ut_setup_with(&u, 65536 + EXTRA, 128, words);
	assert_true(stats(&u).max_hold <= 8);
	ut_alloc_all(&u, pfn, 64);
	for (unsigned i = 0; i < 64; i++)	/* 43 blocks, in runs of two */
		if (i % 3 != 2)
			/* ut_alloc_all allocated all 64 + EXTRA blocks.
			 * NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage) */
			ph_free_pages_direct(u.t.z, pfn[i], 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(u.s.blocks, 43);
	assert_int_equal(stats(&u).max_hold, 8);
	for (unsigned i = 0; i < 64; i++)
		if (i % 3 == 2)
			ph_free_pages_direct(u.t.z, pfn[i], 10);
	fs_run_all(&u.f, 100);
	ut_teardown(&u);
}

/* A report in flight while another CPU frees and allocates: the allocator
 * keeps working between lock holds and the blocks freed meanwhile are
 * reported by one more pass; nothing twice. */
struct churn_arg {
	struct ut *u;
	uint64_t pfn[8];
	unsigned n;
};

static void churn_during_report(struct psink *s, void *arg)
{
	struct churn_arg *c = arg;

	(void)s;
	if (c->n < 8) {
		ph_free_pages_direct(c->u->t.z, c->pfn[c->n], 10);
		c->n++;
	}
}

static void frees_during_a_request_get_one_more_pass(void **state)
{
	(void)state;
	struct ut u;
	static struct churn_arg c;
	uint64_t pfn[16];

	ut_setup(&u, 65536);
	for (unsigned i = 0; i < 16; i++)
		pfn[i] = ut_alloc(&u, 10);
	for (unsigned i = 0; i < 8; i++)
		c.pfn[i] = ut_alloc(&u, 10);
	c.u = &u;
	c.n = 0;
	fs_run_all(&u.f, 100);
	ps_reset(&u.s);
	u.s.during = churn_during_report;
	u.s.during_arg = &c;
	for (unsigned i = 0; i < 16; i++)
		ph_free_pages_direct(u.t.z, pfn[i], 10);
	fs_run_all(&u.f, 100);
	u.s.during = NULL;
	assert_int_equal(c.n, 8);
	assert_int_equal(u.s.blocks, 24);
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 64 + 8);
	ut_teardown(&u);
}

/*
 * Never below the reserve: a 64 MiB zone (16 x 4 MiB, reserve managed/256
 * = 64 pages) cannot have all 16 blocks in flight: the request is sent
 * at 15 and the last block goes in a second one. Free pages never fall
 * below the reserve during a report.
 */
static void keeps_a_reserve_while_in_flight(void **state)
{
	(void)state;
	struct ut u;
	struct ph_engine_stats st;

	ut_setup_with(&u, 16384, 128, NULL);
	st = stats(&u);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.blocks, 16);
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 16);
	uint64_t pfn = ut_alloc(&u, 10);
	fs_run_all(&u.f, 100);
	ps_reset(&u.s);
	ph_free_pages_direct(u.t.z, pfn, 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 1);
	assert_true(u.s.min_free_in_flight >= 64);
	ut_teardown(&u);
}

/* Allocation takes unreported blocks first: a freed (unreported) 4 MiB
 * block is what the next 4 MiB allocation gets, no Reported page taken. */
static void allocation_prefers_unreported(void **state)
{
	(void)state;
	struct ut u;

	ut_setup(&u, 65536);
	uint64_t a = ut_alloc(&u, 10);		/* a Reported block */
	assert_int_equal(ph_zone_reported_allocated(u.t.z), 1024);
	uint64_t b = ut_alloc(&u, 10);
	ph_free_pages_direct(u.t.z, a, 10);	/* unreported, at the head */
	uint64_t c = ut_alloc(&u, 10);
	assert_true(c == a);
	assert_int_equal(ph_zone_reported_allocated(u.t.z), 2048);
	/* order 0 too: split from the unreported block first */
	ph_free_pages_direct(u.t.z, c, 10);
	uint64_t d = ut_alloc(&u, 0);
	assert_true(d >= a && d < a + 1024);
	assert_int_equal(ph_zone_reported_allocated(u.t.z), 2048);
	ph_free_pages_direct(u.t.z, d, 0);
	ph_free_pages_direct(u.t.z, b, 10);
	fs_run_all(&u.f, 100);
	ut_teardown(&u);
}

/*
 * Back-off: memory reported and allocated again within max_delay (a job
 * runner) sets the delay to cover that interval: a job freeing and
 * retaking 64 MiB every 60 ms is reported once (10 ms after its first
 * free), then never, as the age gate leaves its young blocks alone. Once
 * no eligible free came for 2 x max_delay, the delay is back to delay_ms.
 */
static void backs_off_when_reported_memory_is_reused(void **state)
{
	(void)state;
	struct ut u;
	uint64_t pfn[16], pool[8];

	ut_setup(&u, 65536);
	for (unsigned i = 0; i < 8; i++)
		pool[i] = ut_alloc(&u, 10);
	fs_run_all(&u.f, 100);
	ut_age(&u);
	ps_reset(&u.s);
	uint64_t gap[8];
	for (unsigned round = 0; round < 8; round++) {
		for (unsigned i = 0; i < 16; i++)
			pfn[i] = ut_alloc(&u, 10);
		uint64_t t0 = u.f.now;
		unsigned calls = u.s.calls;
		for (unsigned i = 0; i < 16; i++)
			ph_free_pages_direct(u.t.z, pfn[i], 10);
		/* the job comes back 60 ms later */
		ut_run_for(&u, 60);
		gap[round] = u.s.calls > calls ? u.s.call_time[u.s.calls - 1] - t0 : UINT64_MAX;
	}
	struct ph_engine_stats st = stats(&u);
	if (getenv("PH_VERBOSE"))
		for (unsigned r = 0; r < 8; r++)
			fprintf(stderr, "round %u: reported after %llu ms\n", r,
				gap[r] == UINT64_MAX ? 9999ull : (unsigned long long)(gap[r] / MS));
	assert_int_equal(gap[0], 10 * MS);	/* first: two looks after the frees */
	assert_true(st.backoffs >= 1);
	assert_true(st.reallocated >= 16 * 1024);
	for (unsigned r = 1; r < 8; r++)
		assert_true(gap[r] == UINT64_MAX);	/* not reported any more */

	/* backed off, a one-off free is reported once older than the delay */
	uint64_t t0 = u.f.now;
	ph_free_pages_direct(u.t.z, pool[0], 10);
	fs_run_all(&u.f, 100);
	if (getenv("PH_VERBOSE"))
		for (unsigned c = 0; c < u.s.calls; c++)
			fprintf(stderr, "call %u: +%lld ms %llu pages\n", c,
				(long long)(u.s.call_time[c] - t0) / (long long)MS,
				(unsigned long long)u.s.call_pages[c]);
	/* the job's last 64 MiB (it did not come back), then the one-off */
	assert_int_equal(u.s.calls, 3);
	assert_int_equal(u.s.call_pages[2], 1024);
	assert_true(u.s.call_time[2] - t0 > 10 * MS);
	assert_true(u.s.call_time[2] - t0 <= 100 * MS);

	for (unsigned i = 0; i < 16; i++)	/* the job is over */
		ph_free_pages_direct(u.t.z, ut_alloc(&u, 10), 10);
	fs_run_all(&u.f, 100);
	ut_age(&u);
	/* idle for 2 s: the next free is reported delay_ms after it again */
	t0 = u.f.now;
	unsigned calls = u.s.calls;
	ph_free_pages_direct(u.t.z, pool[1], 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, calls + 1);
	assert_true(u.s.call_time[calls] - t0 <= 5 * MS);
	for (unsigned i = 2; i < 8; i++)
		ph_free_pages_direct(u.t.z, pool[i], 10);
	fs_run_all(&u.f, 100);
	ut_teardown(&u);
}

/* One 4 KiB page taken from Reported memory soon after a pass that
 * reported 4 MiB is one page faulted back in, not a reuse to back off
 * from: the next free is reported delay_ms after it, as before. */
static void one_small_allocation_does_not_back_off(void **state)
{
	(void)state;
	struct ut u;

	ut_setup(&u, 65536);
	uint64_t a = ut_alloc(&u, 10), b = ut_alloc(&u, 10);
	fs_run_all(&u.f, 100);
	ut_age(&u);
	ps_reset(&u.s);
	ph_free_pages_direct(u.t.z, a, 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 1);
	assert_int_equal(u.s.call_pages[0], 1024);
	uint64_t ra = ph_zone_reported_allocated(u.t.z);
	uint64_t p = ut_alloc(&u, 0);		/* splits a Reported block */
	assert_int_equal(ph_zone_reported_allocated(u.t.z) - ra, 1);
	uint64_t t0 = u.f.now;
	ph_free_pages_direct(u.t.z, b, 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 2);
	assert_true(u.s.call_time[1] - t0 <= 5 * MS);
	assert_int_equal(stats(&u).backoffs, 0);
	ph_free_pages_direct(u.t.z, p, 0);
	fs_run_all(&u.f, 100);
	ut_teardown(&u);
}

/*
 * The bench's burst, in fake time: a job allocates 128 MiB, holds it 100
 * ms, frees it, every 500 ms, 20 times. Its memory may be reported in the
 * first periods only (until reuse is seen), then never: no refaults. A
 * separate one-off free of 32 MiB in period 10 is still reported, within
 * the delay (and a look) of it.
 */
static void burst_job_is_not_reported_once_learnt(void **state)
{
	(void)state;
	struct ut u;
	uint64_t job[32], once[8];

	ut_setup(&u, 262144);		/* 1 GiB */
	for (unsigned i = 0; i < 8; i++)
		once[i] = ut_alloc(&u, 10);
	fs_run_all(&u.f, 100);
	ut_age(&u);
	ps_reset(&u.s);
	uint64_t per[20], once_t = 0, once_at = 0;
	for (unsigned p = 0; p < 20; p++) {
		uint64_t pages = u.s.pages;

		ut_burst(&u, job);
		if (p == 10) {
			once_at = u.s.calls;
			ut_run_for(&u, 150);
			for (unsigned i = 0; i < 8; i++)
				ph_free_pages_direct(u.t.z, once[i], 10);
			once_t = u.f.now;
			ut_run_for(&u, 250);
		} else {
			ut_run_for(&u, 400);
		}
		per[p] = u.s.pages - pages;
	}
	if (getenv("PH_VERBOSE"))
		for (unsigned p = 0; p < 20; p++)
			fprintf(stderr, "period %u: %llu MiB reported\n", p,
				(unsigned long long)(per[p] / MIB_PAGES));
	if (getenv("PH_VERBOSE"))
		for (unsigned c = 0; c < u.s.calls; c++)
			fprintf(stderr, "call %u: t=%llu ms %llu MiB\n", c,
				(unsigned long long)(u.s.call_time[c] / MS),
				(unsigned long long)(u.s.call_pages[c] / MIB_PAGES));
	for (unsigned p = 3; p < 20; p++)
		if (p != 10 && p != 11)
			assert_int_equal(per[p], 0);
	/* the one-off, and only it: reported within the delay and a look */
	assert_int_equal(per[10] + per[11], 32 * MIB_PAGES);
	unsigned k = once_at;
	while (k < u.s.calls && u.s.call_time[k] < once_t)
		k++;
	assert_true(k < u.s.calls);
	if (getenv("PH_VERBOSE"))
		fprintf(stderr, "one-off reported %llu ms after its free\n",
			(unsigned long long)((u.s.call_time[k] - once_t) / MS));
	assert_true(u.s.call_time[k] - once_t <= 1000 * MS + 10 * MS);
	fs_run_all(&u.f, 100);
	ut_teardown(&u);
}

/*
 * The same job in the guest's situation: the memory free since boot was
 * never reported (the engine came after it and no free has woken it), so
 * the first pass reports it all with the job's first free, 1 GiB of which
 * the job's reuse is an eighth. What the pass took of recently freed
 * memory is the job's own: the first reuse backs off, so the job's memory
 * is taken back Reported (refaulted) once, in period 1, never again.
 */
static void burst_after_boot_refaults_once(void **state)
{
	(void)state;
	struct ut u;
	uint64_t job[32], per[12];

	ut_setup_full(&u, 262144 + EXTRA, 128, NULL, true);
	assert_int_equal(u.s.calls, 0);		/* nothing freed since boot */
	for (unsigned p = 0; p < 12; p++) {
		uint64_t pages = u.s.pages;

		ut_burst(&u, job);
		ut_run_for(&u, 400);
		per[p] = u.s.pages - pages;
	}
	struct ph_engine_stats st = stats(&u);
	if (getenv("PH_VERBOSE"))
		for (unsigned p = 0; p < 12; p++)
			fprintf(stderr, "period %u: %llu MiB reported\n", p,
				(unsigned long long)(per[p] / MIB_PAGES));
	assert_true(per[0] >= 1024 * MIB_PAGES);	/* boot memory and the job's */
	for (unsigned p = 1; p < 12; p++)
		assert_int_equal(per[p], 0);
	assert_true(st.backoffs >= 1);
	/* period 1 took 128 MiB Reported (the job's, or boot memory in its
	 * place), and nothing later */
	assert_int_equal(ph_zone_reported_allocated(u.t.z), 128 * MIB_PAGES);
	fs_run_all(&u.f, 100);
	ut_teardown(&u);
}

/* Nothing is reported twice without an allocation in between: random
 * allocations and frees of every order, passes in between (psink checks). */
static void churn_ps_allocated(void *ctx, uint64_t pfn, unsigned order)
{
	(void)order;
	ps_allocated(ctx, pfn);
}

static void random_churn_never_reports_twice(void **state)
{
	(void)state;
	struct ut u;
	const struct churn c = { .seed = 42, .ops = 40000, .max_live = 2000, .orders = 11,
				 .every = 97, .step_ns = 4 * MS,
				 .allocated = churn_ps_allocated, .ctx = &u.s };

	ut_setup(&u, 65536);
	churn_run(u.t.z, &u.f, &c);
	fs_run_all(&u.f, 10000);
	assert_true(stats(&u).requests > 0);
	assert_int_equal(reported_pages(u.t.z), 65536 + EXTRA);
	ut_teardown(&u);
}

/*
 * Fragmented memory, pagehint against upstream on the same layout: 256
 * MiB allocated page by page, then per 2 MiB frame either all of it freed
 * or all but one page (seeded). In 10 s of fake time pagehint returns at
 * least as much as upstream (everything eligible), in fewer requests.
 */
static void fragment_run(const char *engine, uint64_t *pages, unsigned *requests)
{
	struct ut u;
	static uint64_t keep[128];
	const char *const words[] = { engine, NULL };
	uint64_t seed = 7;

	ut_setup_with(&u, 65536 + EXTRA, 128, words);
	for (uint64_t n = 0; n < 65536; n++)	/* the first 256 MiB, page by page */
		if (ut_alloc(&u, 0) >= BASE + 65536)
			fail_msg("allocation outside the first 256 MiB");
	fs_run_all(&u.f, 100);
	ps_reset(&u.s);
	for (unsigned f = 0; f < 128; f++) {
		uint64_t r = trand(&seed), base = BASE + f * 512ull;

		keep[f] = r % 2 ? base + (r >> 8) % 512 : PH_NO_PFN;
		for (uint64_t p = base; p < base + 512; p++)
			if (p != keep[f])
				ph_free_pages_direct(u.t.z, p, 0);
	}
	ut_run_for(&u, 10000);
	*pages = u.s.pages;
	*requests = u.s.calls;
	for (unsigned f = 0; f < 128; f++)
		if (keep[f] != PH_NO_PFN)
			ph_free_pages_direct(u.t.z, keep[f], 0);
	fs_run_all(&u.f, 1000);
	ut_teardown(&u);
}

static void fragmented_at_least_upstream(void **state)
{
	(void)state;
	uint64_t ph_pages, up_pages;
	unsigned ph_req, up_req;

	ps_unsorted_ok = true;
	fragment_run("engine=upstream", &up_pages, &up_req);
	ps_unsorted_ok = false;
	fragment_run("engine=pagehint", &ph_pages, &ph_req);
	if (getenv("PH_VERBOSE"))
		fprintf(stderr, "fragmented: pagehint %llu pages in %u requests, upstream %llu in %u\n",
			(unsigned long long)ph_pages, ph_req, (unsigned long long)up_pages, up_req);
	assert_true(ph_pages > 0);
	assert_true(ph_pages >= up_pages);
	assert_true(ph_req <= up_req);
}

/* A failing sink: blocks come back unreported, the pass ends, nothing is
 * left isolated; the next free tries again. */
static void sink_error_returns_blocks_unreported(void **state)
{
	(void)state;
	struct ut u;
	uint64_t pfn[4];

	ut_setup(&u, 65536);
	for (unsigned i = 0; i < 4; i++)
		pfn[i] = ut_alloc(&u, 10);
	fs_run_all(&u.f, 100);
	u.s.fail = -1;
	ph_free_pages_direct(u.t.z, pfn[0], 10);
	ph_free_pages_direct(u.t.z, pfn[2], 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(stats(&u).report_errors, 1);
	assert_int_equal(ph_zone_isolated_pages(u.t.z), 0);
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 64 + 8 - 4);
	u.s.fail = 0;
	ph_free_pages_direct(u.t.z, pfn[1], 10);
	ph_free_pages_direct(u.t.z, pfn[3], 10);
	fs_run_all(&u.f, 100);
	assert_int_equal(ph_zone_nr_reported(u.t.z, 10), 64 + 8);
	ut_teardown(&u);
}

/* Stopped with work queued: the work returns without reporting. */
static void stop_with_work_queued(void **state)
{
	(void)state;
	struct ut u;

	ut_setup(&u, 65536);
	uint64_t pfn = ut_alloc(&u, 10);
	fs_run_all(&u.f, 100);
	ps_reset(&u.s);
	ph_free_pages_direct(u.t.z, pfn, 10);
	assert_int_equal(fs_pending(&u.f), 1);
	ph_engine_stop(u.e);
	fs_run_all(&u.f, 100);
	assert_int_equal(u.s.calls, 0);
	ut_teardown(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(params_defaults_and_refusals),
		cmocka_unit_test(initial_free_is_one_merged_range),
		cmocka_unit_test(contiguous_blocks_merge_into_ranges),
		cmocka_unit_test(requests_per_gib),
		cmocka_unit_test(only_2mib_and_up),
		cmocka_unit_test(waits_for_frees_to_settle),
		cmocka_unit_test(trickle_waits_at_most_max_delay),
		cmocka_unit_test(trigger_reports_during_a_long_free),
		cmocka_unit_test(a_pause_is_not_the_end),
		cmocka_unit_test(lock_hold_is_bounded),
		cmocka_unit_test(frees_during_a_request_get_one_more_pass),
		cmocka_unit_test(keeps_a_reserve_while_in_flight),
		cmocka_unit_test(allocation_prefers_unreported),
		cmocka_unit_test(backs_off_when_reported_memory_is_reused),
		cmocka_unit_test(one_small_allocation_does_not_back_off),
		cmocka_unit_test(burst_job_is_not_reported_once_learnt),
		cmocka_unit_test(burst_after_boot_refaults_once),
		cmocka_unit_test(random_churn_never_reports_twice),
		cmocka_unit_test(fragmented_at_least_upstream),
		cmocka_unit_test(sink_error_returns_blocks_unreported),
		cmocka_unit_test(stop_with_work_queued),
	};
	return cmocka_run_group_tests_name("engine_pagehint", tests, NULL, NULL);
}
