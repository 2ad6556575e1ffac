/* SPDX-License-Identifier: MIT */
/*
 * The project's goals for an engine (docs/bench.md), judged from the
 * medians of one bench run: each goal's target (some are figures of
 * `upstream` or of the madvise limit measured in the same run), the
 * engine's figure, met or by how much it misses; a ratio against off whose
 * margin is inside off's own noise is unresolved. No I/O: the table and
 * results.json print what this returns.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench_int.h"

static const struct bench_engine_res *find(const struct bench_results *res, const char *name)
{
	for (unsigned i = 0; i < res->nengines; i++)
		if (!strcmp(res->e[i].name, name))
			return &res->e[i];
	return NULL;
}

static double med(const struct bench_engine_res *e, enum bench_fig f)
{
	return e ? e->st[f].med : BENCH_NULL;
}

/* Fill in met and missed_by from target and measured. */
static void judge(struct bench_goal *g)
{
	if (g->target == BENCH_NULL || g->measured == BENCH_NULL) {
		g->met = -1;
		return;
	}
	bool ok = g->at_most ? g->measured <= g->target : g->measured >= g->target;
	g->met = ok;
	if (!ok)
		g->missed_by = g->at_most ? g->measured - g->target : g->target - g->measured;
}

static struct bench_goal *add(struct bench_goal *g, unsigned *n, const char *key, const char *what,
			      const char *unit, bool at_most, double target, double measured)
{
	struct bench_goal *x = &g[(*n)++];
	memset(x, 0, sizeof(*x));
	x->key = key;
	x->what = what;
	x->unit = unit;
	x->at_most = at_most;
	x->target = target;
	x->measured = measured;
	x->missed_by = BENCH_NULL;
	x->noise = BENCH_NULL;
	judge(x);
	return x;
}

/* The method's own noise for a ratio against off: how far off's runs
 * read from 1 against their own neighbours (off, A, off, B, off). */
static double off_noise(const struct bench_results *res, enum bench_fig f)
{
	const struct bench_engine_res *off = find(res, "off");
	if (!off || off->st[f].min == BENCH_NULL || off->st[f].max == BENCH_NULL)
		return BENCH_NULL;
	return fmax(fabs(off->st[f].min - 1), fabs(off->st[f].max - 1));
}

/* A margin inside the noise can't say met or missed: unresolved. */
static void judge_noise(struct bench_goal *g, double noise)
{
	g->noise = noise;
	if (noise == BENCH_NULL || g->met < 0 || fabs(g->measured - g->target) > noise)
		return;
	g->met = -1;
	g->unresolved = true;
	g->missed_by = BENCH_NULL;
}

/* A goal on a ratio against off, judged against off's own noise. */
static struct bench_goal *add_vs_off(struct bench_goal *g, unsigned *n, const struct bench_results *res,
				     const char *key, const char *what, bool at_most, double target,
				     const struct bench_engine_res *e, enum bench_fig f)
{
	struct bench_goal *x = add(g, n, key, what, "ratio", at_most, target, med(e, f));
	judge_noise(x, off_noise(res, f));
	return x;
}

/*
 * The exitless mode (docs/exitless.md): no request, next to no exit, the
 * memory back right after the free, and the guest's free no slower than
 * under the standard mode (pagehint's, in the same run). Where the guest
 * fell back to the standard mode (QEMU: no map) there is nothing of the
 * exitless mode to judge.
 */
static void exitless_goals(const struct bench_results *res, const struct bench_engine_res *e,
			   struct bench_goal *g, unsigned *n)
{
	struct bench_goal *x[4];
	x[0] = add(g, n, "xl_requests_per_gib", "exitless: 0 report requests", "requests/GiB", true,
		   0, med(e, FIG_REQS));
	x[1] = add(g, n, "exits_per_gib", "exitless: <= 0.05 exits per GiB", "exits/GiB", true, 0.05,
		   med(e, FIG_EXITS));
	x[2] = add(g, n, "xl_t99_after_free_ms", "exitless: t99 after the free <= 50 ms", "ms", true,
		   50, med(e, FIG_LAG99));
	if (x[2]->measured == BENCH_NULL && med(e, FIG_FREE) != BENCH_NULL)
		x[2]->met = 0, snprintf(x[2]->note, sizeof(x[2]->note), "99%% never came back");
	/* speed is MiB over the free's time: pagehint's time over ours */
	const struct bench_engine_res *std = find(res, "pagehint");
	double ours = med(e, FIG_FREE), theirs = med(std, FIG_FREE), speed = BENCH_NULL;
	if (ours > 0 && theirs > 0)
		speed = theirs / ours;
	x[3] = add(g, n, "xl_free_vs_standard", "exitless: the guest's free >= 0.9 x standard's speed",
		   "x", false, 0.9, speed);
	if (!std)
		snprintf(x[3]->note, sizeof(x[3]->note), "pagehint (standard) was not in this run");
	if (e->fallback[0])
		for (int k = 0; k < 4; k++) {
			x[k]->met = -1;
			x[k]->missed_by = BENCH_NULL;
			snprintf(x[k]->note, sizeof(x[k]->note),
				 "the guest ran the standard mode (no exitless map: %.40s)", e->fallback);
		}
}

/* Reclaim: how soon the memory is back, against madvise and upstream. */
static void reclaim_goals(const struct bench_results *res, const struct bench_engine_res *e,
			  const struct bench_engine_res *up, struct bench_goal *g, unsigned *n)
{
	/* The target: the time raw madvise needs for the memory memhog
	 * frees, at this run's median throughput. */
	double t99 = med(e, FIG_T99), lim = res->limit.med, target = BENCH_NULL;
	if (lim > 0)
		target = 2.0 * (double)res->hog_mib / 1024.0 / lim * 1e3 + 50.0;
	struct bench_goal *x = add(g, n, "reclaim_t99_ms", "reclaim: t99 <= 2 x madvise time + 50 ms",
				   "ms", true, target, t99);
	if (t99 == BENCH_NULL) {
		x->met = 0;
		snprintf(x->note, sizeof(x->note), "99%% never came back");
	}
	/* The same goal from the end of the guest's free: what the engine
	 * and the host add to a free that takes its own time (TCG: ~0.4 s
	 * to check and free 1.5 GiB), the same under every engine. */
	double lag = med(e, FIG_LAG99);
	x = add(g, n, "reclaim_t99_after_free_ms",
		"reclaim: t99 after the free <= 2 x madvise + 50 ms", "ms", true, target, lag);
	if (lag == BENCH_NULL && t99 == BENCH_NULL) {
		x->met = 0;
		snprintf(x->note, sizeof(x->note), "99%% never came back");
	}

	double up99 = med(up, FIG_T99), sooner = BENCH_NULL;
	if (up99 != BENCH_NULL && t99 > 0)
		sooner = up99 / t99;
	x = add(g, n, "reclaim_vs_upstream", "reclaim: t99 >= 20 x sooner than upstream's", "x",
		false, 20, sooner);
	if (!up)
		snprintf(x->note, sizeof(x->note), "upstream was not in this run");
	else if (t99 == BENCH_NULL)
		x->met = 0, snprintf(x->note, sizeof(x->note), "99%% never came back");
	else if (up99 == BENCH_NULL)	/* no ratio to judge */
		x->met = -1, snprintf(x->note, sizeof(x->note), "upstream never reached 99%%");
	else if (t99 == 0)
		x->met = 1, snprintf(x->note, sizeof(x->note), "t99 is 0: back before the free started");

	add(g, n, "returned_10s", "reclaim: returned at 10 s >= 0.99", "fraction", false, 0.99,
	    med(e, FIG_RET10));
}

/* Cost: the churn and the bursts against off, and resident against
 * upstream. */
static void cost_goals(const struct bench_results *res, const struct bench_engine_res *e,
		       const struct bench_engine_res *up, struct bench_goal *g, unsigned *n)
{
	/* Three readings of one goal: per 10^9 guest instructions (TCG
	 * -icount: the guest's own cost, exact, no noise; nothing of the
	 * host's), per second of the hypervisor's CPU (the host's work too;
	 * immune to the host descheduling the vCPUs) and per wall second
	 * (pages/s, as the goal reads; what other tenants disturb). */
	struct bench_goal *x = add_vs_off(g, n, res, "churn_vs_off_insn",
					  "cost: churn pages/Ginsn >= 0.99 x off (icount)", false, 0.99,
					  e, FIG_RATIO_INSN);
	if (!res->icount)
		snprintf(x->note, sizeof(x->note), "not counted: -icount is QEMU TCG's");
	add_vs_off(g, n, res, "churn_vs_off_cpu", "cost: churn pages/CPU-s >= 0.99 x off", false, 0.99,
		   e, FIG_RATIO_CPU);
	add_vs_off(g, n, res, "churn_vs_off", "cost: churn pages/s (wall) >= 0.99 x off", false, 0.99,
		   e, FIG_RATIO);
	add_vs_off(g, n, res, "churn_vs_off_med", "cost: churn median round >= 0.99 x off", false,
		   0.99, e, FIG_RATIO_MED);
	add_vs_off(g, n, res, "burst_alloc_vs_off", "cost: burst alloc time <= 1.05 x off", true, 1.05,
		   e, FIG_BURST_RATIO);
	x = add(g, n, "burst_resident_vs_upstream", "cost: burst mean resident <= upstream's",
		"ratio", true, 1.0, med(e, FIG_BURST_RSS_UP));
	if (!up)
		snprintf(x->note, sizeof(x->note), "upstream was not in this run");
}

/* Fragmented: 4 KiB free blocks returned, and their exits. */
static void fragmented_goals(const struct bench_engine_res *e, const struct bench_engine_res *up,
			     struct bench_goal *g, unsigned *n)
{
	struct bench_goal *x = add(g, n, "fragmented_vs_upstream", "fragmented: returns >= upstream",
				   "MiB", false, med(up, FIG_FRAG_MIB), med(e, FIG_FRAG_MIB));
	if (!up)
		snprintf(x->note, sizeof(x->note), "upstream was not in this run");
	else if (x->target == 0 && x->measured == 0)	/* 0 >= 0 says nothing */
		x->met = -1, snprintf(x->note, sizeof(x->note), "neither returned anything");
	x = add(g, n, "fragmented_exits_per_gib", "fragmented: <= 16 exits per GiB", "exits/GiB",
		true, 16, med(e, FIG_FRAG_EXITS));
	if (x->measured == BENCH_NULL && med(e, FIG_FRAG_MIB) != BENCH_NULL)
		snprintf(x->note, sizeof(x->note), "nothing returned: no exits per GiB to judge");
}

/* The control API's: answered while this engine reports (a failed scrape
 * is no answer in time). */
static void scrape_goals(const struct bench_results *res, const struct bench_engine_res *e,
			 struct bench_goal *g, unsigned *n)
{
	struct bench_goal *x = add(g, n, "metrics_scrape_p99_ms",
				   "api: GET /metrics p99 < 5 ms while reporting", "ms", true, 5,
				   med(e, FIG_SCRAPE_P99));
	double failed = med(e, FIG_SCRAPE_FAILED);

	if (x->met > 0 && x->measured == x->target)	/* the goal is strict */
		x->met = 0, x->missed_by = 0;
	if (failed > 0) {
		x->met = 0;
		snprintf(x->note, sizeof(x->note), "%.0f scrapes failed (median)", failed);
	} else if (res->no_api[0]) {
		snprintf(x->note, sizeof(x->note), "not run: %.80s", res->no_api);
	}
}

unsigned bench_goals(const struct bench_results *res, unsigned ei, struct bench_goal *g)
{
	const struct bench_engine_res *e = &res->e[ei], *up = find(res, "upstream");
	unsigned n = 0;

	reclaim_goals(res, e, up, g, &n);
	cost_goals(res, e, up, g, &n);
	bool xl = !strcmp(e->name, BENCH_ENGINE_XL);
	if (!xl)
		add(g, &n, "exits_per_gib", "exits: <= 2 per GiB reported (standard protocol)",
		    "exits/GiB", true, 2, med(e, FIG_EXITS));
	else
		exitless_goals(res, e, g, &n);

	fragmented_goals(e, up, g, &n);
	scrape_goals(res, e, g, &n);
	return n;
}
