/* SPDX-License-Identifier: MIT */
/* core/buddy: zones, holes, split and merge, exhaustion, misuse, and a
 * randomized run against a reference model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_buddy_util.h"

/* One CPU, pcp effectively off unless a test says otherwise. */
static struct ph_zone_config one_cpu(void) { return tcfg(1, 4, 16); }

static void descriptor_is_16_bytes(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct ph_page), 16);
	assert_int_equal(ph_zone_memmap_bytes(262144), 262144 * 16);
}

static void init_leaves_everything_reserved(void **state)
{
	(void)state;
	struct tzone t;
	struct ph_zone_config c = one_cpu();

	tzone_init(&t, 4096, 2048, &c);
	assert_int_equal(ph_zone_free_pages(t.z), 0);
	assert_int_equal(ph_zone_managed_pages(t.z), 0);
	assert_true(ph_alloc_pages(t.z, 0) == PH_NO_PFN);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

static void init_rejects_bad_arguments(void **state)
{
	(void)state;
	struct ph_zone *z = aligned_alloc(64, (sizeof(*z) + 63) & ~(size_t)63);
	struct ph_page map[4];
	struct ph_zone_config c = tcfg(PH_MAX_CPUS + 1, 1, 1);

	assert_int_equal(ph_zone_init(z, NULL, 0, 4, NULL), -PH_EINVAL);
	assert_int_equal(ph_zone_init(z, map, 0, 4, &c), -PH_EINVAL);
	c = tcfg(1, 0, 1);
	assert_int_equal(ph_zone_init(z, map, 0, 4, &c), -PH_EINVAL);
	assert_int_equal(ph_zone_init(z, map, UINT64_MAX - 2, 4, NULL), -PH_EINVAL);
	assert_int_equal(ph_zone_init(z, map, 0, 4, NULL), 0);
	/* a range outside the zone, and freeing a range twice */
	assert_int_equal(ph_zone_free_range(z, 2, 3), -PH_EINVAL);
	assert_int_equal(ph_zone_free_range(z, 0, 4), 0);
	ph_test_quiet_warnings = 1;
	unsigned w = atomic_load(&ph_test_warnings);
	assert_int_equal(ph_zone_free_range(z, 1, 1), -PH_EINVAL);
	assert_int_equal(atomic_load(&ph_test_warnings), w + 1);
	ph_test_quiet_warnings = 0;
	assert_int_equal(ph_zone_nr_free(z, 2), 1);
	assert_int_equal(ph_zone_check(z), 0);
	free(z);
}

static void aligned_zone_is_largest_blocks(void **state)
{
	(void)state;
	struct tzone t;
	struct ph_zone_config c = one_cpu();

	tzone_init(&t, 0, 4096, &c);
	assert_int_equal(ph_zone_free_range(t.z, 0, 4096), 0);
	assert_int_equal(ph_zone_nr_free(t.z, PH_MAX_ORDER - 1), 4);
	for (unsigned o = 0; o < PH_MAX_ORDER - 1; o++)
		assert_int_equal(ph_zone_nr_free(t.z, o), 0);
	assert_int_equal(ph_zone_free_pages(t.z), 4096);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* Freeing ranges page by page, in any order, coalesces to the same blocks
 * as freeing them at once. */
static void page_by_page_free_coalesces(void **state)
{
	(void)state;
	struct tzone t;
	struct ph_zone_config c = one_cpu();
	uint64_t want[PH_MAX_ORDER];
	unsigned char usable[3000];

	tzone_init(&t, 777, 3000, &c);
	memset(usable, 1, sizeof(usable));
	/* backwards, one page at a time */
	for (uint64_t i = 3000; i-- > 0;)
		assert_int_equal(ph_zone_free_range(t.z, 777 + i, 1), 0);
	expected_blocks(777, 3000, usable, want);
	assert_free_lists(t.z, want);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* Allocate every page, free every page: the layout must come back exactly. */
static void holes_and_unaligned_start_restore(void **state)
{
	(void)state;
	enum { BASE = 1000, N = 9000 };
	struct tzone t;
	struct ph_zone_config c = one_cpu();
	static unsigned char usable[N];
	uint64_t want[PH_MAX_ORDER], *pfns = malloc(N * sizeof(uint64_t)), n = 0;

	tzone_init(&t, BASE, N, &c);
	memset(usable, 0, sizeof(usable));
	/* usable: [1000,1500) [1600,3000) [3001,8000) [8192,10000) */
	const uint64_t r[][2] = { { 1000, 500 }, { 1600, 1400 }, { 3001, 4999 }, { 8192, 1808 } };
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(ph_zone_free_range(t.z, r[i][0], r[i][1]), 0);
		memset(usable + (r[i][0] - BASE), 1, r[i][1]);
	}
	expected_blocks(BASE, N, usable, want);
	assert_free_lists(t.z, want);
	assert_int_equal(ph_zone_check(t.z), 0);

	for (uint64_t pfn; (pfn = ph_alloc_pages(t.z, 0)) != PH_NO_PFN;) {
		assert_true(pfn >= BASE && pfn < BASE + N && usable[pfn - BASE]);
		pfns[n++] = pfn;
	}
	assert_int_equal(n, 500 + 1400 + 4999 + 1808);
	assert_int_equal(ph_zone_free_pages(t.z), 0);
	assert_int_equal(ph_zone_check(t.z), 0);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(ph_free_pages(t.z, pfns[i], 0), 0);
	ph_drain_all(t.z);
	assert_free_lists(t.z, want);
	assert_int_equal(ph_zone_free_pages(t.z), n);
	assert_int_equal(ph_zone_check(t.z), 0);
	free(pfns);
	tzone_fini(&t);
}

static void empty_zone(void **state)
{
	(void)state;
	struct tzone t;

	tzone_init(&t, 100, 0, NULL);
	assert_true(ph_alloc_pages(t.z, 0) == PH_NO_PFN);
	assert_true(ph_alloc_pages(t.z, 5) == PH_NO_PFN);
	assert_int_equal(ph_zone_free_range(t.z, 100, 1), -PH_EINVAL);
	ph_test_quiet_warnings = 1;
	assert_int_equal(ph_free_pages(t.z, 100, 0), -PH_EINVAL);
	ph_test_quiet_warnings = 0;
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

static void one_page_zone(void **state)
{
	(void)state;
	struct tzone t;

	tzone_init(&t, 7, 1, NULL);
	assert_int_equal(ph_zone_free_range(t.z, 7, 1), 0);
	assert_int_equal(ph_zone_nr_free(t.z, 0), 1);
	assert_true(ph_alloc_pages(t.z, 1) == PH_NO_PFN);
	assert_int_equal(ph_alloc_pages(t.z, 0), 7);
	assert_true(ph_alloc_pages(t.z, 0) == PH_NO_PFN);
	assert_int_equal(ph_free_pages(t.z, 7, 0), 0);
	ph_drain_all(t.z);
	assert_int_equal(ph_zone_nr_free(t.z, 0), 1);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* before: [0, 1024) one order-10 block
 * alloc order 0 -> 0; after: one free block of each order 0..9 (expand) */
static void split_leaves_one_block_per_order(void **state)
{
	(void)state;
	struct tzone t;
	struct ph_zone_config c = one_cpu();

	tzone_init(&t, 0, 1024, &c);
	ph_zone_free_range(t.z, 0, 1024);
	assert_int_equal(ph_alloc_pages_direct(t.z, 0), 0);
	for (unsigned o = 0; o < PH_MAX_ORDER - 1; o++) {
		assert_int_equal(ph_zone_nr_free(t.z, o), 1);
		/* the halves: order o at pfn 2^o */
		assert_int_equal(__ph_free_list_first(t.z, o), 1ull << o);
	}
	assert_int_equal(ph_zone_nr_free(t.z, PH_MAX_ORDER - 1), 0);
	assert_int_equal(ph_zone_check(t.z), 0);
	assert_int_equal(ph_free_pages_direct(t.z, 0, 0), 0);
	assert_int_equal(ph_zone_nr_free(t.z, PH_MAX_ORDER - 1), 1);
	assert_int_equal(ph_zone_free_pages(t.z), 1024);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

static void exhaustion_returns_no_pfn(void **state)
{
	(void)state;
	struct tzone t;
	struct ph_zone_config c = one_cpu();
	uint64_t pfns[64], n = 0, pfn;

	tzone_init(&t, 3, 512, &c);
	ph_zone_free_range(t.z, 3, 509); /* [3, 512): 61 order-3 blocks + bits */
	while ((pfn = ph_alloc_pages(t.z, 3)) != PH_NO_PFN) {
		assert_true(n < 64);
		assert_int_equal(pfn & 7, 0);
		pfns[n++] = pfn;
	}
	assert_int_equal(n, 63); /* [8, 512) */
	assert_int_equal(ph_zone_free_pages(t.z), 5); /* 3..7 */
	assert_true(ph_alloc_pages(t.z, 3) == PH_NO_PFN);
	assert_true(ph_alloc_pages(t.z, 10) == PH_NO_PFN);
	ph_test_quiet_warnings = 1;
	assert_true(ph_alloc_pages(t.z, PH_MAX_ORDER) == PH_NO_PFN);
	ph_test_quiet_warnings = 0;
	assert_int_equal(ph_zone_check(t.z), 0);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(ph_free_pages(t.z, pfns[i], 3), 0);
	assert_int_equal(ph_zone_free_pages(t.z), 509);
	assert_int_equal(ph_zone_nr_free(t.z, 8), 1);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* Every kind of bad free is reported once and changes nothing. */
static void misuse_is_detected_and_refused(void **state)
{
	(void)state;
	struct tzone t;
	struct ph_zone_config c = one_cpu();

	tzone_init(&t, 0, 2048, &c);
	ph_zone_free_range(t.z, 0, 1024); /* [1024, 2048) is a hole */
	uint64_t a = ph_alloc_pages_direct(t.z, 2);
	uint64_t b = ph_alloc_pages_direct(t.z, 0);
	uint64_t d = ph_alloc_pages_direct(t.z, 3);
	assert_int_equal(ph_free_pages(t.z, b, 0), 0); /* b is free (on pcp) */
	ph_drain_all(t.z);
	ph_zone_lock(t.z);
	uint64_t iso = __ph_free_list_first(t.z, 5);
	assert_int_equal(__ph_isolate_free_block(t.z, iso, 5), 0);
	ph_zone_unlock(t.z);
	uint64_t fp = ph_zone_free_pages(t.z);

	struct { uint64_t pfn; unsigned order; } bad[] = {
		{ b, 0 },		/* double free (free head or inside a block) */
		{ a, 1 },		/* wrong order */
		{ a, 3 },		/* wrong order, larger */
		{ a + 1, 0 },		/* tail of an allocated block */
		{ d + 4, 2 },		/* tail, aligned for its order */
		{ 1500, 0 },		/* hole */
		{ 4096, 0 },		/* outside the zone */
		{ a + 2, 2 },		/* misaligned */
		{ iso, 5 },		/* isolated block */
		{ iso + 1, 0 },		/* inside an isolated block */
		{ 0, PH_MAX_ORDER },	/* order too large */
	};
	ph_test_quiet_warnings = 1;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned w = atomic_load(&ph_test_warnings);
		if (ph_free_pages(t.z, bad[i].pfn, bad[i].order) != -PH_EINVAL)
			fail_msg("bad free %u accepted", i);
		if (atomic_load(&ph_test_warnings) != w + 1)
			fail_msg("bad free %u: %u warnings", i, atomic_load(&ph_test_warnings) - w);
		/* same through the direct path */
		assert_int_equal(ph_free_pages_direct(t.z, bad[i].pfn, bad[i].order), -PH_EINVAL);
	}
	ph_test_quiet_warnings = 0;
	assert_int_equal(ph_zone_free_pages(t.z), fp);
	assert_int_equal(ph_zone_check(t.z), 0);
	/* the real frees still work */
	assert_int_equal(ph_free_pages(t.z, a, 2), 0);
	assert_int_equal(ph_free_pages(t.z, d, 3), 0);
	ph_zone_lock(t.z);
	assert_int_equal(__ph_putback_block(t.z, iso, 5, PH_TAIL, false), 1);
	ph_zone_unlock(t.z);
	assert_int_equal(ph_zone_nr_free(t.z, 10), 1);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* The checker itself must be able to fail. */
static void check_detects_corruption(void **state)
{
	(void)state;
	struct tzone t;
	struct ph_zone_config c = one_cpu();

	tzone_init(&t, 0, 1024, &c);
	ph_zone_free_range(t.z, 0, 1024);
	uint64_t a = ph_alloc_pages_direct(t.z, 1);
	struct ph_page saved = t.map[a + 1];
	ph_test_quiet_warnings = 1;
	t.map[a + 1].state = PH_PG_HEAD;	/* a tail with state */
	assert_true(ph_zone_check(t.z) > 0);
	t.map[a + 1] = saved;
	atomic_fetch_add(&t.z->area[3].nr_free, 1); /* a counter off by one */
	assert_true(ph_zone_check(t.z) > 0);
	atomic_fetch_sub(&t.z->area[3].nr_free, 1);
	uint32_t s = t.map[a].state;
	t.map[a].state = 0;			/* an orphan block */
	assert_true(ph_zone_check(t.z) > 0);
	t.map[a].state = s;
	ph_test_quiet_warnings = 0;
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* Randomized alloc/free of mixed orders through both paths, checked against
 * a bitmap of allocated pages. */
static void random_against_model(void **state)
{
	(void)state;
	enum { BASE = 12345, N = 20000, OPS = 30000, LIVE = 2000 };
	struct tzone t;
	struct ph_zone_config c = tcfg(1, 7, 30);
	static unsigned char usable[N], used[N];
	static struct { uint64_t pfn; unsigned order; } live[LIVE];
	unsigned nlive = 0;
	uint64_t seed = 0x9e3779b97f4a7c15ull, want[PH_MAX_ORDER], nusable = 0;

	tzone_init(&t, BASE, N, &c);
	memset(usable, 0, sizeof(usable));
	memset(used, 0, sizeof(used));
	/* usable ranges with random holes */
	for (uint64_t i = 0; i < N;) {
		uint64_t len = 1 + trand(&seed) % 3000, hole = trand(&seed) % 200;
		if (i + len > N)
			len = N - i;
		ph_zone_free_range(t.z, BASE + i, len);
		memset(usable + i, 1, len);
		nusable += len;
		i += len + hole;
	}
	expected_blocks(BASE, N, usable, want);
	assert_free_lists(t.z, want);

	for (unsigned op = 0; op < OPS; op++) {
		uint64_t r = trand(&seed);
		bool direct = r & 1;
		if (nlive < LIVE && (r >> 1) % 100 < 55) {
			unsigned order = (r >> 8) % 100 < 70 ? 0 : (unsigned)((r >> 16) % PH_MAX_ORDER);
			uint64_t pfn = direct ? ph_alloc_pages_direct(t.z, order)
					      : ph_alloc_pages(t.z, order);
			if (pfn == PH_NO_PFN)
				continue;
			if ((pfn & ((1ull << order) - 1)) || pfn < BASE || pfn + (1ull << order) > BASE + N)
				fail_msg("op %u: bad block %llu order %u", op, (unsigned long long)pfn, order);
			for (uint64_t p = pfn - BASE; p < pfn - BASE + (1ull << order); p++) {
				if (!usable[p] || used[p])
					fail_msg("op %u: page %llu %s", op, (unsigned long long)(BASE + p),
						 usable[p] ? "handed out twice" : "is a hole");
				used[p] = 1;
			}
			live[nlive].pfn = pfn;
			live[nlive++].order = order;
		} else if (nlive) {
			unsigned i = (unsigned)((r >> 20) % nlive);
			uint64_t pfn = live[i].pfn;
			unsigned order = live[i].order;
			live[i] = live[--nlive];
			memset(used + (pfn - BASE), 0, 1ull << order);
			int err = direct ? ph_free_pages_direct(t.z, pfn, order)
					 : ph_free_pages(t.z, pfn, order);
			assert_int_equal(err, 0);
		}
		if (op % 2500 == 0)
			assert_int_equal(ph_zone_check(t.z), 0);
	}
	uint64_t inuse = 0;
	for (unsigned i = 0; i < nlive; i++)
		inuse += 1ull << live[i].order;
	assert_int_equal(ph_zone_free_pages(t.z) + ph_zone_pcp_pages(t.z) + inuse, nusable);
	while (nlive) {
		nlive--;
		assert_int_equal(ph_free_pages(t.z, live[nlive].pfn, live[nlive].order), 0);
	}
	ph_drain_all(t.z);
	assert_free_lists(t.z, want);
	assert_int_equal(ph_zone_free_pages(t.z), nusable);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(descriptor_is_16_bytes),
		cmocka_unit_test(init_leaves_everything_reserved),
		cmocka_unit_test(init_rejects_bad_arguments),
		cmocka_unit_test(aligned_zone_is_largest_blocks),
		cmocka_unit_test(page_by_page_free_coalesces),
		cmocka_unit_test(holes_and_unaligned_start_restore),
		cmocka_unit_test(empty_zone),
		cmocka_unit_test(one_page_zone),
		cmocka_unit_test(split_leaves_one_block_per_order),
		cmocka_unit_test(exhaustion_returns_no_pfn),
		cmocka_unit_test(misuse_is_detected_and_refused),
		cmocka_unit_test(check_detects_corruption),
		cmocka_unit_test(random_against_model),
	};
	return cmocka_run_group_tests_name("buddy", tests, NULL, NULL);
}
