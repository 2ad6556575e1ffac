/* SPDX-License-Identifier: MIT */
/*
 * The cost of one resident-memory sample of the VMM's telemetry, by guest
 * RAM size: guest RAM mapped as `pagehint run` maps it (gm_create: anon,
 * THP), TOUCHED MiB of it written, then each source timed (median of
 * ROUNDS calls):
 *   mincore   gm_resident_bytes(): mincore over all guest RAM (the exact
 *             figure; --trace samples and the end of a run)
 *   statm     gm_resident_fast(): the process's anon RSS minus what was not
 *             guest RAM at the last mincore (every other sample)
 * and how far statm is from mincore after TOUCHED more MiB are written
 * and half of them discarded, with no mincore in between. Then, with
 * --idle S, the telemetry's sampler over the same memory for 2 + S seconds
 * of an idle guest (nothing moves): its CPU ms per second over the last S
 * (and over the whole run, its first calibration and last sample by
 * mincore included), with a trace
 * (every sample by mincore at 10 ms, as every run sampled before) and
 * without (the adaptive pace and the O(1) figure).
 *
 *   build/bench/micro/resident_bench [GiB ...] [--touch MiB] [--rounds N] [--idle S]
 *
 * Default sizes 2 and 16 GiB with 256 MiB touched. The mapping is
 * MAP_NORESERVE: only the touched part takes host memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest_mem.h"
#include "telemetry.h"
#include "clock.h"

#define MAX_ROUNDS 1000
#define MAX_SIZES 8


static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Median ns of rounds calls of f(gm); *last gets its last value. */
static double time_source(int64_t (*f)(struct guest_mem *), struct guest_mem *gm, int rounds,
			  int64_t *last)
{
	static uint64_t ns[MAX_ROUNDS];
	for (int i = 0; i < rounds; i++) {
		uint64_t t = mono_ns();
		*last = f(gm);
		ns[i] = mono_ns() - t;
	}
	qsort(ns, (size_t)rounds, sizeof(ns[0]), cmp_u64);
	/* NOLINTNEXTLINE(bugprone-integer-division): an index, not a quotient */
	return (double)ns[rounds / 2];
}

/* CPU ms per second of the sampler over gm for secs seconds. */
static void idle_cost(struct guest_mem *gm, unsigned gib, bool exact, double secs)
{
	struct telemetry t;
	telemetry_init(&t);
	t.gm = gm;
	t.exact = exact;
	uint64_t t0 = mono_ns();
	if (telemetry_start(&t)) {
		fprintf(stderr, "cannot start the sampler\n");
		exit(1);
	}
	/* Steady state: the sampler's CPU from 2 s on (past the boot's
	 * full-rate hold) to just before stop (the final mincore). */
	clockid_t clk;
	struct timespec c0, c1, two = { 2, 0 };
	pthread_getcpuclockid(t.thread, &clk);
	nanosleep(&two, NULL);
	clock_gettime(clk, &c0);
	uint64_t w0 = mono_ns();
	struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };
	nanosleep(&ts, NULL);
	clock_gettime(clk, &c1);
	double steady = ((c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) / 1e6) /
			((double)(mono_ns() - w0) / 1e9);
	telemetry_stop(&t);
	double wall = (double)(mono_ns() - t0) / 1e9;
	printf("%-8u %-10s %-12s %14.3f %14zu  (CPU ms per s idle; samples, %llu by mincore; "
	       "%.3f ms/s over the whole %.0f s)\n", gib, "idle", exact ? "trace" : "adaptive",
	       steady, t.n, (unsigned long long)t.full_scans, t.cpu_ns / 1e6 / wall, wall);
	telemetry_destroy(&t);
}

int main(int argc, char **argv)
{
	unsigned gib[MAX_SIZES], nsizes = 0;
	unsigned long touch_mib = 256;
	int rounds = 20;
	double idle_s = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--touch") && i + 1 < argc)
			touch_mib = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--idle") && i + 1 < argc)
			idle_s = atof(argv[++i]);
		else if (nsizes < MAX_SIZES && atoi(argv[i]) > 0)
			gib[nsizes++] = (unsigned)atoi(argv[i]);
		else {
			fprintf(stderr, "usage: %s [GiB ...] [--touch MiB] [--rounds N] [--idle S]\n",
				argv[0]);
			return 2;
		}
	}
	if (!nsizes) {
		gib[0] = 2;
		gib[1] = 16;
		nsizes = 2;
	}
	if (rounds < 1 || rounds > MAX_ROUNDS)
		rounds = 20;

	printf("%-8s %-10s %-12s %14s %14s\n", "GiB", "touched", "source", "ns/sample", "resident MiB");
	for (unsigned k = 0; k < nsizes; k++) {
		struct guest_mem gm;
		struct gm_options o = { .ram_bytes = (uint64_t)gib[k] << 30, .backing = GM_BACKING_ANON,
					.discard = GM_DISCARD_DONTNEED, .thp = true };
		if (gm_create(&gm, &o)) {
			fprintf(stderr, "cannot map %u GiB\n", gib[k]);
			return 1;
		}
		uint64_t touch = (uint64_t)touch_mib << 20;
		if (touch > gm.map_size)
			touch = gm.map_size;
		memset(gm.map, 1, touch);

		int64_t last;
		double ns = time_source(gm_resident_bytes, &gm, rounds, &last);
		printf("%-8u %-10lu %-12s %14.0f %14.1f\n", gib[k], touch_mib, "mincore", ns,
		       last / 1048576.0);
		ns = time_source(gm_resident_fast, &gm, rounds, &last);
		printf("%-8u %-10lu %-12s %14.0f %14.1f\n", gib[k], touch_mib, "statm", ns,
		       last / 1048576.0);

		/* Drift: memory moves after the calibration. */
		uint64_t more = touch;
		if (touch + more > gm.map_size)
			more = gm.map_size - touch;
		memset(gm.map + touch, 2, more);
		gm_discard_host(GM_DISCARD_DONTNEED, gm.map + touch, more / 2 & ~(GM_HUGE_SIZE - 1), -1, 0);
		int64_t fast = gm_resident_fast(&gm), exact = gm_resident_bytes(&gm);
		printf("%-8u %-10s %-12s %14s %14.3f  (statm %.3f, mincore %.3f)\n", gib[k], "+moved",
		       "statm-error", "", (fast - exact) / 1048576.0, fast / 1048576.0,
		       exact / 1048576.0);
		if (idle_s > 0) {
			idle_cost(&gm, gib[k], true, idle_s);
			idle_cost(&gm, gib[k], false, idle_s);
		}
		gm_destroy(&gm);
	}
	return 0;
}
