/* SPDX-License-Identifier: MIT */
/* vmm/latency_hist: which bucket a latency lands in at and around each
 * bound, the sum, count and max, the quantile estimates, and adds from
 * several threads while another reads snapshots. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "latency_hist.h"

static void bounds_ascend_from_5us_to_2500ms(void **state)
{
	(void)state;
	assert_int_equal(lat_hist_bound_ns[0], 5000);
	assert_int_equal(lat_hist_bound_ns[LAT_HIST_BOUNDS - 1], 2500000000ull);
	for (unsigned i = 1; i < LAT_HIST_BOUNDS; i++)
		assert_true(lat_hist_bound_ns[i] > lat_hist_bound_ns[i - 1]);
}

static void bucket_edges(void **state)
{
	(void)state;
	assert_int_equal(lat_hist_bucket(0), 0);
	for (unsigned i = 0; i < LAT_HIST_BOUNDS; i++) {
		uint64_t b = lat_hist_bound_ns[i];
		/* a bound is its own bucket's (le: less than or equal) */
		assert_int_equal(lat_hist_bucket(b), i);
		assert_int_equal(lat_hist_bucket(b + 1), i + 1);
		if (i)
			assert_int_equal(lat_hist_bucket(lat_hist_bound_ns[i - 1] + 1), i);
	}
	assert_int_equal(lat_hist_bucket(UINT64_MAX), LAT_HIST_BOUNDS);
}

static void sum_count_max(void **state)
{
	(void)state;
	static struct lat_hist h;
	struct lat_hist_snap s;

	memset(&h, 0, sizeof(h));
	lat_hist_read(&h, &s);
	assert_int_equal(s.count, 0);
	assert_int_equal(s.sum_ns, 0);
	assert_int_equal(s.max_ns, 0);
	assert_int_equal(lat_hist_quantile_ns(&s, 0.5), 0);

	lat_hist_add(&h, 5000);		/* 5 µs: bucket 0 */
	lat_hist_add(&h, 5001);		/* bucket 1 (10 µs) */
	lat_hist_add(&h, 70000);	/* 70 µs: bucket 4 (100 µs) */
	lat_hist_add(&h, 3000000000ull);	/* 3 s: above every bound */
	lat_hist_read(&h, &s);
	assert_int_equal(s.count, 4);
	assert_int_equal(s.sum_ns, 5000 + 5001 + 70000 + 3000000000ull);
	assert_int_equal(s.max_ns, 3000000000ull);
	assert_int_equal(s.bucket[0], 1);
	assert_int_equal(s.bucket[1], 1);
	assert_int_equal(s.bucket[4], 1);
	assert_int_equal(s.bucket[LAT_HIST_BOUNDS], 1);
	uint64_t total = 0;
	for (unsigned i = 0; i < LAT_HIST_BUCKETS; i++)
		total += s.bucket[i];
	assert_int_equal(total, s.count);
}

static void quantiles_are_bucket_bounds_capped_by_max(void **state)
{
	(void)state;
	static struct lat_hist h;
	struct lat_hist_snap s;

	memset(&h, 0, sizeof(h));
	/* 98 at 20 µs (bucket 25 µs), 2 at 300 µs (bucket 500 µs) */
	for (int i = 0; i < 98; i++)
		lat_hist_add(&h, 20000);
	lat_hist_add(&h, 300000);
	lat_hist_add(&h, 300000);
	lat_hist_read(&h, &s);
	assert_int_equal(lat_hist_quantile_ns(&s, 0.5), 25000);
	assert_int_equal(lat_hist_quantile_ns(&s, 0.98), 25000);
	/* the 99th of 100 is one of the slow two: its bucket, but never
	 * above the largest seen */
	assert_int_equal(lat_hist_quantile_ns(&s, 0.99), 300000);
	assert_int_equal(lat_hist_quantile_ns(&s, 1.0), 300000);

	/* one latency above every bound: the estimate is the max itself */
	memset(&h, 0, sizeof(h));
	lat_hist_add(&h, 4000000000ull);
	lat_hist_read(&h, &s);
	assert_int_equal(lat_hist_quantile_ns(&s, 0.5), 4000000000ull);
	/* a tiny q still names the first latency, not nothing */
	assert_int_equal(lat_hist_quantile_ns(&s, 0.0001), 4000000000ull);
}

#define WRITERS 4
#define ADDS 100000

static struct lat_hist shared;
static atomic_bool writing;

static void *writer(void *arg)
{
	uint64_t k = (uintptr_t)arg;

	for (uint64_t i = 0; i < ADDS; i++)
		lat_hist_add(&shared, 1000 + (i * 7919 + k * 104729) % 3000000000ull);
	return NULL;
}

/* Snapshots taken while the writers run: counts never go back, each is
 * the sum of its buckets. */
static void *reader(void *arg)
{
	uint64_t *snaps = arg, last = 0;
	struct lat_hist_snap s;

	while (atomic_load(&writing)) {
		lat_hist_read(&shared, &s);
		uint64_t total = 0;
		for (unsigned i = 0; i < LAT_HIST_BUCKETS; i++)
			total += s.bucket[i];
		if (total != s.count || s.count < last)
			return (void *)1;
		last = s.count;
		(*snaps)++;
	}
	return NULL;
}

static void concurrent_adds(void **state)
{
	(void)state;
	pthread_t w[WRITERS], r;
	uint64_t snaps = 0, want_sum = 0, want_max = 0;
	void *bad = NULL;

	memset(&shared, 0, sizeof(shared));
	atomic_store(&writing, true);
	assert_int_equal(pthread_create(&r, NULL, reader, &snaps), 0);
	for (uintptr_t k = 0; k < WRITERS; k++)
		assert_int_equal(pthread_create(&w[k], NULL, writer, (void *)k), 0);
	for (int k = 0; k < WRITERS; k++)
		pthread_join(w[k], NULL);
	atomic_store(&writing, false);
	pthread_join(r, &bad);
	assert_null(bad);

	for (uint64_t k = 0; k < WRITERS; k++)
		for (uint64_t i = 0; i < ADDS; i++) {
			uint64_t ns = 1000 + (i * 7919 + k * 104729) % 3000000000ull;
			want_sum += ns;
			want_max = ns > want_max ? ns : want_max;
		}
	struct lat_hist_snap s;
	lat_hist_read(&shared, &s);
	assert_int_equal(s.count, WRITERS * ADDS);
	assert_int_equal(s.sum_ns, want_sum);
	assert_int_equal(s.max_ns, want_max);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bounds_ascend_from_5us_to_2500ms),
		cmocka_unit_test(bucket_edges),
		cmocka_unit_test(sum_count_max),
		cmocka_unit_test(quantiles_are_bucket_bounds_capped_by_max),
		cmocka_unit_test(concurrent_adds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
