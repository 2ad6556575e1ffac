/* SPDX-License-Identifier: MIT */
/*
 * core/buddy microbenchmark: ns per alloc+free pair, with no reporting hook
 * and with a trivial counting hook: the cost of reporting as a ratio
 * (docs/design.md §4: at most 1% on the fast path).
 *
 *   build/bench/micro/buddy_bench [scale [scenario]]   scale multiplies the
 *                                                iterations; one scenario only
 *
 * The zone is 1 GiB of descriptors (262144 pages, 4 MiB of memmap); the
 * pages themselves are not backed. Each figure is the best of REPS runs;
 * with 2 threads it is per thread (each thread does the full count, on its
 * own CPU id), so contention shows as a larger number. A third column has
 * the exitless mode's hooks (core/exitless_guest.h: frames published on
 * frees of 2 MiB and more, claimed by CAS when allocation takes such a
 * block; no host, so nothing waits). Scenarios:
 *
 *   o0-pcp-pair    alloc+free order 0 through the per-CPU list: the fast
 *                  path, which never reaches the buddy or the hook
 *   o0-pcp-burst   1024 allocs then 1024 frees, order 0 per-CPU: refills and
 *                  flushes of batch pages, hook per flushed block
 *   o0-direct      alloc+free order 0 bypassing the per-CPU list: zone lock,
 *                  split and merge every time, hook per free
 *   o9-pair        alloc+free order 9 (2 MiB): zone lock, split of a 4 MiB
 *                  block and merge back, hook per free
 *   o0-hog-free    memhog's free: each thread holds 3/8 of the zone in
 *                  order-0 pages (taken untimed) and frees them, last
 *                  taken first; ns per page freed. Under the exitless
 *                  hooks every 2 MiB that merges is published FREE
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buddy_report.h"
#include "exitless_guest.h"

#define NPAGES	(1u << 18)	/* 1 GiB of 4 KiB pages */
#define BASE	(1ull << 20)	/* at 4 GiB */
#define REPS	9
#define BURST	1024

static struct ph_zone *zone;
static long scale = 1;

/* The trivial hook: count blocks per CPU (own cache line each). */
static struct {
	_Alignas(64) uint64_t blocks;
	uint64_t done;
} hook_count[PH_MAX_CPUS];

static void count_block(void *ctx, unsigned cpu, uint64_t pfn, unsigned order)
{
	(void)ctx;
	(void)pfn;
	(void)order;
	hook_count[cpu].blocks++;
}

static void count_done(void *ctx, unsigned cpu)
{
	(void)ctx;
	hook_count[cpu].done++;
}

static const struct ph_report_hooks counting = { .block_freed = count_block, .free_done = count_done, .ctx = NULL };

enum scenario { O0_PCP_PAIR, O0_PCP_BURST, O0_DIRECT, O9_PAIR, O0_HOG_FREE, NR_SCENARIOS };

static const struct {
	const char *name;
	long iters;	/* pairs per thread, times scale */
} scen[NR_SCENARIOS] = {
	[O0_PCP_PAIR]  = { "o0-pcp-pair", 4000000 },
	[O0_PCP_BURST] = { "o0-pcp-burst", 2000000 },
	[O0_DIRECT]    = { "o0-direct", 1000000 },
	[O9_PAIR]      = { "o9-pair", 1000000 },
	[O0_HOG_FREE]  = { "o0-hog-free", NPAGES / 8 * 3 },	/* pages per thread */
};

struct job {
	enum scenario s;
	unsigned cpu;
	pthread_barrier_t *go;
	double ns_per_pair;
};

static void die(const char *what)
{
	fprintf(stderr, "buddy_bench: %s\n", what);
	exit(1);
}

static void *run(void *arg)
{
	struct job *j = arg;
	long n = scen[j->s].iters * scale;
	static _Thread_local uint64_t burst[BURST];

	cpu_set_t set;

	CPU_ZERO(&set);			/* thread i on core i: less noise */
	CPU_SET(j->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	ph_test_set_cpu(j->cpu);
	uint64_t *hog = NULL;
	if (j->s == O0_HOG_FREE) {	/* untimed: what memhog holds */
		n = scen[j->s].iters;
		hog = malloc(n * sizeof(*hog));
		if (!hog)
			die("o0-hog-free: no memory");
		for (long i = 0; i < n; i++)
			if ((hog[i] = ph_alloc_pages(zone, 0)) == PH_NO_PFN)
				die("o0-hog-free: zone too small");
	}
	pthread_barrier_wait(j->go);
	uint64_t t0 = ph_now_ns();
	switch (j->s) {
	case O0_PCP_PAIR:
		for (long i = 0; i < n; i++) {
			uint64_t pfn = ph_alloc_pages(zone, 0);
			if (pfn == PH_NO_PFN || ph_free_pages(zone, pfn, 0))
				die("o0-pcp-pair failed");
		}
		break;
	case O0_PCP_BURST:
		for (long i = 0; i < n; i += BURST) {
			for (int k = 0; k < BURST; k++)
				if ((burst[k] = ph_alloc_pages(zone, 0)) == PH_NO_PFN)
					die("o0-pcp-burst: no memory");
			for (int k = 0; k < BURST; k++)
				if (ph_free_pages(zone, burst[k], 0))
					die("o0-pcp-burst: free failed");
		}
		n = (n + BURST - 1) / BURST * BURST;
		break;
	case O0_DIRECT:
		for (long i = 0; i < n; i++) {
			uint64_t pfn = ph_alloc_pages_direct(zone, 0);
			if (pfn == PH_NO_PFN || ph_free_pages_direct(zone, pfn, 0))
				die("o0-direct failed");
		}
		break;
	case O9_PAIR:
		for (long i = 0; i < n; i++) {
			uint64_t pfn = ph_alloc_pages(zone, 9);
			if (pfn == PH_NO_PFN || ph_free_pages(zone, pfn, 9))
				die("o9-pair failed");
		}
		break;
	case O0_HOG_FREE:
		for (long i = n - 1; i >= 0; i--)
			if (ph_free_pages(zone, hog[i], 0))
				die("o0-hog-free: free failed");
		break;
	default:
		break;
	}
	j->ns_per_pair = (double)(ph_now_ns() - t0) / (double)n;
	free(hog);
	return NULL;
}

/* One measurement: nthreads threads on CPUs 0.., the slowest thread's
 * ns per pair. */
static double measure(enum scenario s, unsigned nthreads)
{
	pthread_t th[2];
	struct job j[2];
	pthread_barrier_t go;
	double worst = 0;

	pthread_barrier_init(&go, NULL, nthreads);
	for (unsigned i = 0; i < nthreads; i++) {
		j[i] = (struct job){ .s = s, .cpu = i, .go = &go };
		if (pthread_create(&th[i], NULL, run, &j[i]))
			die("pthread_create");
	}
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		if (j[i].ns_per_pair > worst)
			worst = j[i].ns_per_pair;
	}
	pthread_barrier_destroy(&go);
	ph_drain_all(zone);
	return worst;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		scale = atol(argv[1]) > 0 ? atol(argv[1]) : 1;

	struct ph_zone_config cfg;
	ph_zone_default_config(NPAGES, &cfg);
	cfg.nr_cpus = 2;
	zone = aligned_alloc(64, (sizeof(*zone) + 63) & ~(size_t)63);
	struct ph_page *map = malloc(ph_zone_memmap_bytes(NPAGES));
	if (!zone || !map || ph_zone_init(zone, map, BASE, NPAGES, &cfg) ||
	    ph_zone_free_range(zone, BASE, NPAGES))
		die("zone set-up failed");

	printf("core/buddy: %u pages (1 GiB), descriptor %zu bytes, memmap %zu KiB, "
	       "pcp batch %u high %u; best of %d runs\n",
	       NPAGES, sizeof(struct ph_page), ph_zone_memmap_bytes(NPAGES) >> 10,
	       cfg.pcp_batch, cfg.pcp_high, REPS);
	size_t xlen = ph_xl_mem_bytes(BASE, NPAGES);
	void *xmem = aligned_alloc(64, (xlen + 63) & ~(size_t)63);
	static struct ph_xl_map xmap;
	static struct ph_xl_guest xg;
	if (!xmem || ph_xl_init(&xmap, xmem, xlen, BASE, NPAGES))
		die("exitless map set-up failed");

	printf("%-14s %7s %13s %13s %8s %14s %13s %8s\n", "scenario", "threads", "none ns/pair",
	       "hook ns/pair", "ratio", "hook calls", "xl ns/pair", "ratio");
	for (unsigned nt = 1; nt <= 2; nt++) {
		for (enum scenario s = 0; s < NR_SCENARIOS; s++) {
			if (argc > 2 && strcmp(argv[2], scen[s].name))
				continue;
			double best[3] = { 1e30, 1e30, 1e30 };
			uint64_t calls = 0;

			measure(s, nt);			/* warm up */
			for (int r = 0; r < REPS; r++) {
				for (int h = 0; h < 3; h++) {	/* interleaved */
					uint64_t before = 0, after = 0;
					if (h == 1 && ph_zone_register_report_hooks(zone, &counting))
						die("register hooks");
					if (h == 2 && ph_xl_guest_start(&xg, zone, &xmap, 0))
						die("exitless hooks");
					for (unsigned c = 0; c < nt; c++)
						before += hook_count[c].blocks;
					double ns = measure(s, nt);
					for (unsigned c = 0; c < nt; c++)
						after += hook_count[c].blocks;
					if (h == 1) {
						ph_zone_unregister_report_hooks(zone);
						calls = after - before;
					}
					if (h == 2) {
						ph_xl_guest_stop(&xg);
					}
					if (ns < best[h])
						best[h] = ns;
				}
			}
			printf("%-14s %7u %13.1f %13.1f %8.3f %14llu %13.1f %8.3f\n", scen[s].name, nt,
			       best[0], best[1], best[1] / best[0], (unsigned long long)calls,
			       best[2], best[2] / best[0]);
		}
	}
	if (ph_zone_check(zone) || ph_zone_free_pages(zone) != NPAGES)
		die("zone inconsistent at the end");
	free(xmem);
	free(map);
	free(zone);
	return 0;
}
