/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the core/buddy tests: a zone with its own memmap, the
 * expected free lists for a set of usable ranges, a seeded PRNG.
 * Include after cmocka.h.
 */
#ifndef TEST_BUDDY_UTIL_H
#define TEST_BUDDY_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "buddy_report.h"

struct tzone {
	struct ph_zone *z;
	struct ph_page *map;
	uint64_t base, npages;
};

static inline void tzone_init(struct tzone *t, uint64_t base, uint64_t npages,
			      const struct ph_zone_config *cfg)
{
	size_t zs = (sizeof(struct ph_zone) + 63) & ~(size_t)63;

	t->z = aligned_alloc(64, zs);
	assert_non_null(t->z);
	t->map = npages ? malloc(ph_zone_memmap_bytes(npages)) : NULL;
	t->base = base;
	t->npages = npages;
	assert_int_equal(ph_zone_init(t->z, t->map, base, npages, cfg), 0);
}

static inline void tzone_fini(struct tzone *t)
{
	free(t->map);
	free(t->z);
}

/* A zone config with n CPUs, batch and high. */
static inline struct ph_zone_config tcfg(unsigned cpus, unsigned batch, unsigned high)
{
	struct ph_zone_config c = { .nr_cpus = cpus, .pcp_batch = batch, .pcp_high = high };
	return c;
}

/*
 * Expected free blocks per order when exactly the pages marked in usable[]
 * (indexed from base) are free: each maximal run of usable pages splits
 * into the largest aligned blocks that fit (by absolute pfn).
 */
static inline void expected_blocks(uint64_t base, uint64_t npages, const unsigned char *usable,
				   uint64_t want[PH_MAX_ORDER])
{
	memset(want, 0, sizeof(uint64_t) * PH_MAX_ORDER);
	for (uint64_t i = 0; i < npages;) {
		if (!usable[i]) {
			i++;
			continue;
		}
		uint64_t end = i;
		while (end < npages && usable[end])
			end++;
		uint64_t pfn = base + i, last = base + end;
		while (pfn < last) {
			unsigned o = PH_MAX_ORDER - 1;
			while ((pfn & ((1ull << o) - 1)) || pfn + (1ull << o) > last)
				o--;
			want[o]++;
			pfn += 1ull << o;
		}
		i = end;
	}
}

static inline void assert_free_lists(struct ph_zone *z, const uint64_t want[PH_MAX_ORDER])
{
	for (unsigned o = 0; o < PH_MAX_ORDER; o++)
		if (ph_zone_nr_free(z, o) != want[o])
			fail_msg("order %u: %llu free blocks, expected %llu", o,
				 (unsigned long long)ph_zone_nr_free(z, o),
				 (unsigned long long)want[o]);
}

/* xorshift64*: deterministic, seeded per test. */
static inline uint64_t trand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

#endif
