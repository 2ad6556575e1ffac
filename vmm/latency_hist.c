/* SPDX-License-Identifier: MIT */
#include "latency_hist.h"

#define US 1000ull
#define MS 1000000ull
#define S 1000000000ull

const uint64_t lat_hist_bound_ns[LAT_HIST_BOUNDS] = {
	5 * US, 10 * US, 25 * US, 50 * US, 100 * US, 250 * US, 500 * US,
	1 * MS, 2500 * US, 5 * MS, 10 * MS, 25 * MS, 50 * MS, 100 * MS, 250 * MS, 500 * MS,
	1 * S, 2500 * MS,
};

const struct lat_hist_quantile lat_hist_quantiles[LAT_HIST_QUANTILES] = {
	{ "p50_s", 0.5 }, { "p90_s", 0.9 }, { "p99_s", 0.99 },
};

unsigned lat_hist_bucket(uint64_t ns)
{
	unsigned i = 0;

	while (i < LAT_HIST_BOUNDS && ns > lat_hist_bound_ns[i])
		i++;
	return i;
}

void lat_hist_add(struct lat_hist *h, uint64_t ns)
{
	uint64_t max = atomic_load_explicit(&h->max_ns, memory_order_relaxed);

	atomic_fetch_add_explicit(&h->bucket[lat_hist_bucket(ns)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
	while (ns > max && !atomic_compare_exchange_weak_explicit(&h->max_ns, &max, ns,
								  memory_order_relaxed,
								  memory_order_relaxed))
		;
}

void lat_hist_read(const struct lat_hist *h, struct lat_hist_snap *s)
{
	s->count = 0;
	for (unsigned i = 0; i < LAT_HIST_BUCKETS; i++) {
		s->bucket[i] = atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
		s->count += s->bucket[i];
	}
	s->sum_ns = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
	s->max_ns = atomic_load_explicit(&h->max_ns, memory_order_relaxed);
}

uint64_t lat_hist_quantile_ns(const struct lat_hist_snap *s, double q)
{
	uint64_t seen = 0;

	if (!s->count)
		return 0;
	/* the rank of the q-th latency, 1-based, at least 1 */
	double want = q * (double)s->count;
	uint64_t rank = want < 1 ? 1 : (uint64_t)want;
	if ((double)rank < want)
		rank++;
	for (unsigned i = 0; i < LAT_HIST_BOUNDS; i++) {
		seen += s->bucket[i];
		if (seen >= rank)
			return lat_hist_bound_ns[i] < s->max_ns ? lat_hist_bound_ns[i] : s->max_ns;
	}
	return s->max_ns;
}
