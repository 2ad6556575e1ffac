/* SPDX-License-Identifier: MIT */
/*
 * A fixed-bucket latency histogram, lock-free: writers add with atomics
 * (any number of threads), readers take a snapshot from any thread
 * without stopping them. Buckets are 1, 2.5 and 5 per decade from 5 µs to
 * 2.5 s (LAT_HIST_BOUNDS upper bounds, then one above the last), which
 * covers a free page report's discard: tens of µs for a few ranges, up to
 * about a second for a large one on a loaded host.
 *
 * A snapshot is not one instant: an add between the reads of two buckets
 * shows in one and not the other, and the sum may lead or trail the
 * buckets by the adds in flight. Its count is the sum of its buckets, so
 * the count and the buckets always agree.
 */
#ifndef VMM_LATENCY_HIST_H
#define VMM_LATENCY_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#define LAT_HIST_BOUNDS 18
#define LAT_HIST_BUCKETS (LAT_HIST_BOUNDS + 1)

/* The buckets' upper bounds (inclusive), in ns, ascending. */
extern const uint64_t lat_hist_bound_ns[LAT_HIST_BOUNDS];

struct lat_hist {
	_Atomic uint64_t bucket[LAT_HIST_BUCKETS];	/* not cumulative */
	_Atomic uint64_t sum_ns;
	_Atomic uint64_t max_ns;
};

struct lat_hist_snap {
	uint64_t bucket[LAT_HIST_BUCKETS];	/* not cumulative */
	uint64_t count;				/* the sum of bucket[] */
	uint64_t sum_ns, max_ns;
};

/* The bucket a latency of ns falls in: the first whose bound is >= ns. */
unsigned lat_hist_bucket(uint64_t ns);
void lat_hist_add(struct lat_hist *h, uint64_t ns);
void lat_hist_read(const struct lat_hist *h, struct lat_hist_snap *s);
/* The quantiles shown in brief (the control API, the run's summary),
 * with their JSON names. */
struct lat_hist_quantile {
	const char *name;
	double q;
};
#define LAT_HIST_QUANTILES 3
extern const struct lat_hist_quantile lat_hist_quantiles[LAT_HIST_QUANTILES];

/* An upper estimate of quantile q (0 < q <= 1): the bound of the bucket
 * the q-th latency falls in, no more than the largest seen; 0 when empty. */
uint64_t lat_hist_quantile_ns(const struct lat_hist_snap *s, double q);

#endif
