/* SPDX-License-Identifier: MIT */
/*
 * Reclaim marks: how fast the memory a guest freed comes back to the
 * host, read off a series of resident-memory samples. The one
 * computation of these figures, for `pagehint run`'s summary
 * (telemetry.c) and the bench (bench_figures.c);
 * scripts/linux-ref/analyze.py computes the same and is checked against
 * this by tests/figures/analyze_py.sh. Pure: no I/O, no state.
 *
 * Baseline: the resident memory at the free's start (the guest's
 * "@event freeing" line), i.e. the last sample at or before it (the
 * first sample if the series starts later). A series can also hold a
 * sample taken as the start was announced, a little after it (up to
 * start_slack_ms): that one is the baseline instead if it is higher,
 * since the guest frees only after saying so.
 * Why the start, not an earlier line such as "@event alloc": what moves
 * before the free is not the freed memory (other free memory reported
 * during a hold, the hypervisor's own growth), and the last sample
 * before the alloc line can miss the guest's last writes (under QEMU TCG
 * 2-8 MiB of 768: enough to read a 99% mark that was reached as never).
 *
 * Target: the MiB the guest freed (its "@event free mib=N").
 *
 * A mark p (50, 90, 99%): the first sample from the baseline on, up to
 * until_ms (the next free's start), whose resident is at least p x the
 * target below the baseline. Timed from the free's start, and from its
 * end (the "@event free" line; 0 when reached by then). A first
 * crossing: resident that rises again later does not undo it. Never
 * reached, no samples or no target: RECLAIM_NEVER, never 0.
 *
 * Returned at T: (baseline - resident at the last sample at or before
 * start + T) / target, clamped to 0..1; not known (RECLAIM_NEVER) when
 * the series ends more than two sample periods before that point.
 *
 * Samples must be in time order.
 */
#ifndef VMM_RECLAIM_MARKS_H
#define VMM_RECLAIM_MARKS_H

#include <stddef.h>

#define RECLAIM_NMARKS 3
#define RECLAIM_NEVER (-1.0)

/* 0.50, 0.90, 0.99 */
extern const double reclaim_mark_share[RECLAIM_NMARKS];

struct reclaim_sample {
	double t_ms;
	double mib;		/* resident */
};

struct reclaim_free {
	double start_ms;	/* the free's start: the guest's freeing line */
	double end_ms;		/* its end, the free line; < start_ms: not known */
	double freed_mib;	/* the target */
	double until_ms;	/* marks searched up to here (INFINITY: to the end) */
	double start_slack_ms;	/* see the baseline above; 0: none */
};

struct reclaim_marks {
	double base_mib;			/* RECLAIM_NEVER: no samples */
	double ms[RECLAIM_NMARKS];		/* from the start */
	double after_end_ms[RECLAIM_NMARKS];	/* from the end; NEVER also without one */
};

void reclaim_marks(const struct reclaim_sample *s, size_t n, const struct reclaim_free *f,
		   struct reclaim_marks *m);
/* The share of the target back at_ms after the start; period_ms is the
 * series' sample period. */
double reclaim_returned_at(const struct reclaim_sample *s, size_t n, const struct reclaim_free *f,
			   double at_ms, double period_ms);

#endif
