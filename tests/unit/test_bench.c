/* SPDX-License-Identifier: MIT */
/* The bench's figures (bench/bench_figures.c) from synthetic runs, the
 * medians over repetitions, and results.json (bench/bench_report.c). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <unistd.h>
#include <sys/wait.h>

#include "bench.h"
#include "bench_child.h"
#include "bench_int.h"
#include "console.h"
#include "telemetry.h"

#define NUL BENCH_NULL

/* A run sampled every 10 ms for end_ms: resident base + freed MiB until
 * the free at free_ms, then falling linearly at mib_s MiB/s to at most
 * back_mib returned. Exits: one per 10 ms after the free. */
static void synth(struct bench_run *r, double end_ms, double free_ms, double freed, double mib_s,
		  double back_mib)
{
	bench_run_init(r);
	char line[64];
	for (double t = 0; t <= end_ms + 1e-9; t += 10) {
		double back = t > free_ms ? (t - free_ms) / 1e3 * mib_s : 0;
		if (back > back_mib)
			back = back_mib;
		double exits = t > free_ms ? (t - free_ms) / 10 : 0;
		assert_int_equal(bench_run_add_sample(r, t, 100 + freed - back, exits), 0);
	}
	r->exits_known = true;
	snprintf(line, sizeof(line), "@event free mib=%.0f round=1", freed);
	bench_run_parse_line(r, line, free_ms, 500);
}

static void times_from_linear_drop(void **state)
{
	(void)state;
	struct bench_run r;
	struct bench_reclaim_fig f;
	/* 800 MiB freed at 1 s, back at 100 MiB/s: 50% at +4 s, 90% at
	 * +7.2 s, 99% at +7.92 s, all of it by 10 s; sampled to 20 s. */
	synth(&r, 20000, 1000, 800, 100, 800);
	bench_reclaim_figures(&r, &f);
	assert_float_equal(f.t_ms[0], 4000, 0.5);
	assert_float_equal(f.t_ms[1], 7200, 0.5);
	assert_float_equal(f.t_ms[2], 7920, 0.5);
	assert_float_equal(f.free_ms, 0, 0);		/* no freeing line: a free of no time */
	assert_float_equal(f.lag99_ms, 7920, 0.5);
	assert_float_equal(f.returned_10s, 1.0, 1e-9);
	assert_true(f.returned_35s == NUL);	/* the run ended before 35 s */
	assert_float_equal(f.freed_mib, 800, 1e-9);
	assert_float_equal(f.returned_mib, 800, 1e-9);
	bench_run_free(&r);
}

static void partial_return_never_reaches(void **state)
{
	(void)state;
	struct bench_run r;
	struct bench_reclaim_fig f;
	/* Only 60% comes back: t50 reached, t90 and t99 never. */
	synth(&r, 40000, 1000, 1000, 200, 600);
	bench_reclaim_figures(&r, &f);
	assert_float_equal(f.t_ms[0], 2500, 0.5);
	assert_true(f.t_ms[1] == NUL);
	assert_true(f.t_ms[2] == NUL);
	assert_true(f.lag99_ms == NUL);
	assert_float_equal(f.returned_10s, 0.6, 1e-9);
	assert_float_equal(f.returned_35s, 0.6, 1e-9);
	assert_float_equal(bench_returned_at(&r, 2000), 0.4, 1e-9);
	bench_run_free(&r);
}

static void per_gib_costs(void **state)
{
	(void)state;
	struct bench_run r;
	struct bench_reclaim_fig f;
	/* 1024 MiB back by 39 s; 3900 exits after the free; the child used
	 * 500 ms of CPU before the free line and 2548 ms in all. */
	synth(&r, 40000, 1000, 1024, 1024, 1024);
	r.cpu_ms = 2548;
	bench_run_parse_line(&r, "@engine name=upstream requests=16 ranges=508 mib=2048 errors=0", 40000, 0);
	bench_reclaim_figures(&r, &f);
	assert_float_equal(f.exits_per_gib, 3900, 1e-6);
	assert_float_equal(f.host_cpu_ms_per_gib, 2048, 1e-6);
	assert_float_equal(f.requests_per_gib, 8, 1e-9);
	bench_run_free(&r);
}

static void nothing_returned_gives_null_costs(void **state)
{
	(void)state;
	struct bench_run r;
	struct bench_reclaim_fig f;
	synth(&r, 12000, 1000, 500, 0, 0);
	r.cpu_ms = 900;
	bench_reclaim_figures(&r, &f);
	for (int k = 0; k < 3; k++)
		assert_true(f.t_ms[k] == NUL);
	assert_float_equal(f.returned_10s, 0, 1e-9);
	assert_true(f.exits_per_gib == NUL);
	assert_true(f.host_cpu_ms_per_gib == NUL);
	assert_true(f.requests_per_gib == NUL);	/* no @engine counters */
	bench_run_free(&r);
}

static void without_a_freeing_line_the_free_starts_at_its_line(void **state)
{
	(void)state;
	struct bench_run r;
	struct bench_reclaim_fig f;
	/* The guest holds 1000 MiB at its alloc line (1 s); 600 MiB come
	 * back while it is still freeing (2-3 s), and it says so only with
	 * its free line at 3 s. For the marks the free starts there, so what
	 * came back before is not seen: 400 MiB of 1000 by 10 s, 50% never.
	 * The costs count from the alloc line: all 1000 MiB back. */
	bench_run_init(&r);
	for (double t = 0; t <= 20000; t += 10) {
		double back = t <= 2000 ? 0 : t <= 3000 ? (t - 2000) * 0.6 : 600 + (t - 3000) / 10;
		if (back > 1000)
			back = 1000;
		assert_int_equal(bench_run_add_sample(&r, t, 1100 - back, t / 10), 0);
	}
	r.exits_known = true;
	r.cpu_ms = 3000;
	bench_run_parse_line(&r, "@event alloc mib=1000 round=1", 1000, 952);
	bench_run_parse_line(&r, "@event free mib=1000 round=1", 3000, 2000);
	bench_reclaim_figures(&r, &f);
	for (int k = 0; k < 3; k++)
		assert_true(f.t_ms[k] == NUL);
	assert_true(f.lag99_ms == NUL);
	assert_float_equal(f.returned_10s, 0.4, 1e-9);
	assert_float_equal(f.returned_mib, 1000, 1e-9);
	assert_float_equal(f.host_cpu_ms_per_gib, (3000 - 952) * 1.024, 1e-6);
	assert_float_equal(f.exits_per_gib, (2000 - 100) * 1.024, 1e-6);
	bench_run_free(&r);
}

static void measured_from_the_start_not_the_alloc_line(void **state)
{
	(void)state;
	struct bench_run r;
	struct bench_reclaim_fig f;
	/* As a QEMU TCG run of pagehint read: the resident memory sampled
	 * at the alloc line (1 s) is 2 MiB short of what the guest holds
	 * from 1.01 s on; the 768 MiB freed from 2 s come back at 2.67 s,
	 * to 53.2 MiB. Against the resident at the free's start, 99% is
	 * back then; against the alloc line's, 761.9 < 0.99 x 768 would
	 * read never. */
	bench_run_init(&r);
	for (double t = 0; t <= 14000; t += 10)
		assert_int_equal(bench_run_add_sample(&r, t, t < 1010 ? 813.14 : t < 2670 ? 815.14 : 53.2,
						      -1), 0);
	bench_run_parse_line(&r, "@event alloc mib=768 round=1", 1000, 0);
	bench_run_parse_line(&r, "@event freeing mib=768 round=1", 2000, 0);
	bench_run_parse_line(&r, "@event free mib=768 round=1", 2660, 0);
	bench_reclaim_figures(&r, &f);
	for (int k = 0; k < 3; k++)
		assert_float_equal(f.t_ms[k], 670, 1e-9);
	assert_float_equal(f.lag99_ms, 10, 1e-9);
	assert_float_equal(f.returned_10s, (815.14 - 53.2) / 768, 1e-9);
	bench_run_free(&r);
}

static void times_from_the_freeing_line(void **state)
{
	(void)state;
	struct bench_run r;
	struct bench_reclaim_fig f;
	/* As above, but the guest says when its free starts (2 s): times
	 * count from there, not from the free line. 50% is back at 2.833 s,
	 * 90% at 6 s, 99% at 6.9 s. */
	bench_run_init(&r);
	for (double t = 0; t <= 20000; t += 10) {
		double back = t <= 2000 ? 0 : t <= 3000 ? (t - 2000) * 0.6 : 600 + (t - 3000) / 10;
		if (back > 1000)
			back = 1000;
		assert_int_equal(bench_run_add_sample(&r, t, 1100 - back, t / 10), 0);
	}
	bench_run_parse_line(&r, "@event alloc mib=1000 round=1", 1000, 952);
	bench_run_parse_line(&r, "@event freeing mib=1000 round=1", 2000, 1500);
	bench_run_parse_line(&r, "@event free mib=1000 round=1", 3000, 2000);
	assert_int_equal(r.nfree, 1);
	assert_float_equal(r.free_t_ms[0], 2000, 0);
	assert_float_equal(r.free_end_t_ms[0], 3000, 0);
	assert_float_equal(r.free_cpu_ms[0], 1500, 0);
	bench_reclaim_figures(&r, &f);
	assert_float_equal(f.t_ms[0], 840, 0.5);	/* the first sample past 833 ms */
	assert_float_equal(f.t_ms[1], 4000, 0.5);
	assert_float_equal(f.t_ms[2], 4900, 0.5);
	/* the free took 1 s; 99% came back 3.9 s after it ended */
	assert_float_equal(f.free_ms, 1000, 0);
	assert_float_equal(f.lag99_ms, 3900, 0.5);
	/* A free line without a freeing line before it is its own start. */
	bench_run_parse_line(&r, "@event free mib=10", 9000, 0);
	assert_float_equal(r.free_t_ms[1], 9000, 0);
	bench_run_free(&r);
}

/* The bench and `pagehint run`'s console take the same frees from the
 * same lines: each start (freeing line, else the free line) and MiB. */
static void free_lines_read_as_the_console_reads_them(void **state)
{
	(void)state;
	static const char *const lines[] = {
		"@event alloc mib=100 round=1", "@event freeing mib=100 round=1",
		"@event free mib=100 round=1", "@event free mib=12x", "@event freeing",
		"@event free", "@event free mib=7", "@event freed mib=5", "@event free total=3 mib=9",
	};
	struct bench_run r;
	struct console_state *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	bench_run_init(&r);
	for (unsigned i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		bench_run_parse_line(&r, lines[i], 1000.0 * (i + 1), 0);
		console_parse_line(c, lines[i], 1000000000ull * (i + 1));
	}
	assert_int_equal(r.nfree, 3);
	assert_int_equal(c->nfree, r.nfree);
	for (unsigned k = 0; k < r.nfree; k++) {
		assert_float_equal(r.free_mib[k], (double)c->free[k].mib, 0);
		assert_float_equal(r.free_t_ms[k] * 1e6, (double)c->free[k].host_ns, 0);
	}
	/* the second free's freeing line is closed by the bare free line */
	assert_float_equal(r.free_t_ms[1], 7000, 0);
	bench_run_free(&r);
	free(c);
}

static void fragment_window_ends_at_second_freeing(void **state)
{
	(void)state;
	struct bench_run r;
	struct bench_frag_fig f;
	/* The second free starts at 3 s (its freeing line), well before the
	 * first free line + hold (5 s): what falls after 3 s is not counted. */
	synth(&r, 8000, 1000, 100, 32, 64);
	bench_run_parse_line(&r, "@event freeing", 3000, 0);
	bench_run_parse_line(&r, "@event free mib=100", 6000, 0);
	bench_frag_figures(&r, 4000, &f);
	assert_float_equal(f.returned_mib, 64, 1e-9);	/* 32 MiB/s for 2 s */
	bench_run_free(&r);
}

static void burst_figures(void **state)
{
	(void)state;
	struct bench_run r;
	struct bench_burst_fig f;
	bench_run_init(&r);
	/* Resident 300 MiB before the bursts line (1 s), 200 from it to
	 * @done (5 s), 900 after: the mean over the bursts is 200. */
	for (double t = 0; t <= 6000; t += 10)
		bench_run_add_sample(&r, t, t < 1000 ? 300 : t <= 5000 ? 200 : 900, -1);
	bench_run_parse_line(&r, "@event bursts count=5 mib=64 period_ms=500", 1000, 700);
	/* The first (cold) burst is left out; the median of the rest. */
	static const char *const lines[] = {
		"@event burst n=1 mib=64 alloc_us=900000 free_us=1",
		"@event burst n=2 mib=64 alloc_us=40000 free_us=1",
		"@event burst n=3 mib=64 alloc_us=700000 free_us=1",
		"@event burst n=4 mib=64 alloc_us=20000 free_us=1",
		"@event burst n=5 mib=64 alloc_us=30000 free_us=1",
	};
	for (int k = 0; k < 5; k++)
		bench_run_parse_line(&r, lines[k], 1500 + k * 500, 0);
	assert_int_equal(r.nbursts, 5);
	bench_run_parse_line(&r, "@done workload=burst cpus=2 count=5", 5000, 1700);
	bench_burst_figures(&r, &f);
	assert_float_equal(f.alloc_ms, 35, 1e-9);
	assert_float_equal(f.resident_mean_mib, 200, 1e-9);
	assert_float_equal(f.cpu_ms_per_burst, 200, 1e-9);	/* 1000 ms of CPU, 5 bursts */
	bench_run_free(&r);
	/* No bursts line, one burst: nothing to say. */
	bench_run_init(&r);
	bench_run_parse_line(&r, lines[0], 1, 0);
	bench_burst_figures(&r, &f);
	assert_true(f.alloc_ms == NUL && f.resident_mean_mib == NUL && f.cpu_ms_per_burst == NUL);
	bench_run_free(&r);
}

static void churn_per_cpu_second(void **state)
{
	(void)state;
	struct bench_run r;
	bench_run_init(&r);
	/* 6e6 pages in 3000 ms of the hypervisor's CPU (1000 -> 4000). */
	bench_run_parse_line(&r, "@event churn ms=2000", 10, 1000);
	bench_run_parse_line(&r, "@done workload=churn cpus=2 ms=2000 pages=6000000 pages_per_s=3000000",
			     2010, 4000);
	assert_float_equal(bench_churn_pages_per_cpu_s(&r), 2e6, 1e-6);
	/* the refaults: the @mem line after @done */
	assert_true(r.reported_taken_mib == NUL);
	bench_run_parse_line(&r, "@mem alloc_waits=0 alloc_wait_failures=0 reported_taken_mib=288",
			     2011, 4000);
	assert_float_equal(r.reported_taken_mib, 288, 1e-9);
	bench_run_free(&r);
	bench_run_init(&r);	/* no churn line: unknown */
	bench_run_parse_line(&r, "@done workload=churn cpus=2 ms=2000 pages=6 pages_per_s=3", 2010, 4000);
	assert_true(bench_churn_pages_per_cpu_s(&r) == NUL);
	bench_run_parse_line(&r, "@mem alloc_waits=0 alloc_wait_failures=0", 2011, 4000);
	assert_true(r.reported_taken_mib == NUL);	/* an older guest */
	bench_run_free(&r);
}

/* Under -icount a guest ns is an instruction: @done's pages_per_s, from
 * our guest or from the Linux guest's memhog churn, is pages/Ginsn. */
static void churn_per_ginsn(void **state)
{
	(void)state;
	struct bench_run r;
	bench_run_init(&r);
	assert_true(bench_churn_pages_per_ginsn(&r) == NUL);	/* no @done */
	bench_run_parse_line(&r, "@event churn threads=2 mib=128 rounds=300 nohuge=0 t_ms=522.8", 30, 0);
	assert_float_equal(r.churn_t_ms, 30, 0);
	bench_run_parse_line(&r, "@done workload=churn threads=2 mib=128 rounds=300 pages=19660800 "
			     "ms=12528 pages_per_s=1569349", 90, 0);
	assert_float_equal(bench_churn_pages_per_ginsn(&r), 1569349, 0);
	assert_float_equal(r.pages_total, 19660800, 0);
	bench_run_free(&r);
	bench_run_init(&r);	/* a zero figure is no figure */
	bench_run_parse_line(&r, "@done workload=churn cpus=2 ms=0 pages=0 pages_per_s=0", 1, 0);
	assert_true(bench_churn_pages_per_ginsn(&r) == NUL);
	bench_run_free(&r);
}

static void ratio_against_neighbours(void **state)
{
	(void)state;
	/* off ran at 100 before and 300 after: the engine's 190 is 0.95. */
	assert_float_equal(bench_vs_neighbours(190, 100, 300), 0.95, 1e-12);
	assert_float_equal(bench_vs_neighbours(50, NUL, 100), 0.5, 1e-12);
	assert_float_equal(bench_vs_neighbours(50, 200, NUL), 0.25, 1e-12);
	assert_true(bench_vs_neighbours(50, NUL, NUL) == NUL);
	assert_true(bench_vs_neighbours(NUL, 1, 1) == NUL);
}

/* res with off, upstream and pagehint, every figure null, 1 rep. */
static struct bench_results *three_engines(void)
{
	struct bench_results *res = calloc(1, sizeof(*res));
	assert_non_null(res);
	res->hypervisor = "qemu";
	res->accel = "tcg";
	res->reps = 1;
	res->nengines = 3;
	static const char *const names[] = { "off", "upstream", "pagehint" };
	for (unsigned i = 0; i < 3; i++) {
		snprintf(res->e[i].name, sizeof(res->e[i].name), "%s", names[i]);
		for (unsigned f = 0; f < FIG_COUNT; f++)
			for (unsigned r = 0; r < BENCH_MAX_REPS; r++)
				res->e[i].v[f][r] = NUL;
	}
	return res;
}

static const struct bench_goal *goal(const struct bench_goal *g, unsigned n, const char *key)
{
	for (unsigned k = 0; k < n; k++)
		if (!strcmp(g[k].key, key))
			return &g[k];
	fail_msg("no goal %s", key);
	return NULL;
}

static void goals_met_and_missed(void **state)
{
	(void)state;
	struct bench_results *res = three_engines();
	struct bench_engine_res *up = &res->e[1], *ph = &res->e[2];
	res->hog_mib = 1024;
	res->limit_v[0] = 10;			/* 1 GiB in 100 ms: target 250 ms */
	up->v[FIG_T99][0] = 20000;
	ph->v[FIG_T99][0] = 400;		/* missed by 150 ms; 50x sooner: met */
	ph->v[FIG_LAG99][0] = 30;		/* after the free: met */
	ph->v[FIG_RET10][0] = 1;
	ph->v[FIG_RATIO][0] = 0.98;		/* missed by 0.01 */
	ph->v[FIG_RATIO_CPU][0] = 0.995;
	ph->v[FIG_BURST_RATIO][0] = 1.05;	/* met, just */
	ph->v[FIG_BURST_RSS_UP][0] = 0.8;
	ph->v[FIG_EXITS][0] = 3;		/* missed by 1 */
	up->v[FIG_FRAG_MIB][0] = 0;
	ph->v[FIG_FRAG_MIB][0] = 0;		/* met: 0 >= 0, exits unknown */
	bench_results_finish(res);

	struct bench_goal g[BENCH_MAX_GOALS];
	unsigned n = bench_goals(res, 2, g);
	assert_true(n >= 10 && n <= BENCH_MAX_GOALS);
	const struct bench_goal *x = goal(g, n, "reclaim_t99_ms");
	assert_float_equal(x->target, 250, 1e-9);
	assert_int_equal(x->met, 0);
	assert_float_equal(x->missed_by, 150, 1e-9);
	x = goal(g, n, "reclaim_t99_after_free_ms");
	assert_float_equal(x->target, 250, 1e-9);
	assert_int_equal(x->met, 1);
	x = goal(g, n, "reclaim_vs_upstream");
	assert_float_equal(x->measured, 50, 1e-9);
	assert_int_equal(x->met, 1);
	assert_true(x->missed_by == NUL);
	assert_int_equal(goal(g, n, "returned_10s")->met, 1);
	x = goal(g, n, "churn_vs_off");
	assert_int_equal(x->met, 0);
	assert_float_equal(x->missed_by, 0.01, 1e-9);
	assert_int_equal(goal(g, n, "churn_vs_off_cpu")->met, 1);
	x = goal(g, n, "churn_vs_off_insn");		/* not counted (no -icount) */
	assert_int_equal(x->met, -1);
	assert_non_null(strstr(x->note, "icount"));
	assert_int_equal(goal(g, n, "burst_alloc_vs_off")->met, 1);
	assert_int_equal(goal(g, n, "burst_resident_vs_upstream")->met, 1);
	x = goal(g, n, "exits_per_gib");
	assert_int_equal(x->met, 0);
	assert_float_equal(x->missed_by, 1, 1e-9);
	x = goal(g, n, "fragmented_vs_upstream");	/* 0 >= 0: nothing to judge */
	assert_int_equal(x->met, -1);
	assert_non_null(strstr(x->note, "neither returned"));
	assert_int_equal(goal(g, n, "fragmented_exits_per_gib")->met, -1);

	/* counted: judged like the others */
	res->icount = true;
	ph->v[FIG_RATIO_INSN][0] = 0.9891;
	bench_results_finish(res);
	n = bench_goals(res, 2, g);
	x = goal(g, n, "churn_vs_off_insn");
	assert_int_equal(x->met, 0);
	assert_float_equal(x->missed_by, 0.0009, 1e-9);
	ph->v[FIG_RATIO_INSN][0] = 0.996;
	bench_results_finish(res);
	n = bench_goals(res, 2, g);
	assert_int_equal(goal(g, n, "churn_vs_off_insn")->met, 1);

	/* upstream never at 99 %: no ratio, so unknown, not met */
	up->v[FIG_T99][0] = NUL;
	bench_results_finish(res);
	n = bench_goals(res, 2, g);
	x = goal(g, n, "reclaim_vs_upstream");
	assert_int_equal(x->met, -1);
	assert_non_null(strstr(x->note, "upstream never reached 99%"));
	up->v[FIG_T99][0] = 20000;

	/* A t99 never reached misses both reclaim-time goals. */
	ph->v[FIG_T99][0] = NUL;
	bench_results_finish(res);
	n = bench_goals(res, 2, g);
	assert_int_equal(goal(g, n, "reclaim_t99_ms")->met, 0);
	assert_int_equal(goal(g, n, "reclaim_vs_upstream")->met, 0);

	/* In results.json, for pagehint only (off and upstream are the
	 * references), and in the table. */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(bench_report_json(f, res), 0);
	fclose(f);
	if (!strstr(buf, "\"goals\": {\n    \"pagehint\": {") ||
	    !strstr(buf, "\"exits_per_gib\": {\"goal\": ") ||
	    !strstr(buf, "\"target\": 2, \"measured\": 3, \"unit\": \"exits/GiB\", \"met\": false, "
			 "\"missed_by\": 1, \"verdict\": \"missed\", \"noise\": null}") ||
	    strstr(buf, "\"upstream\": {\n      \"reclaim_t99_ms\""))
		fail_msg("results.json goals:\n%s", buf);
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	bench_report_goals(f, res);
	fclose(f);
	if (!strstr(buf, "goals for pagehint") || !strstr(buf, "MISSED by 1.0 exits/GiB"))
		fail_msg("goals table:\n%s", buf);
	free(buf);
	free(res);
}

/* A ratio against off is judged against off's own spread: a margin inside
 * it reads unresolved, never met or missed. */
static void goals_inside_the_noise_are_unresolved(void **state)
{
	(void)state;
	struct bench_results *res = three_engines();
	struct bench_engine_res *off = &res->e[0], *ph = &res->e[2];
	off->v[FIG_RATIO][0] = 0.97;		/* off against its neighbours */
	off->v[FIG_RATIO][1] = 1.02;
	ph->v[FIG_RATIO][0] = 0.98;		/* 0.01 under the goal: inside 0.03 */
	ph->v[FIG_BURST_RATIO][0] = 1.2;	/* no noise known for the burst */
	bench_results_finish(res);

	struct bench_goal g[BENCH_MAX_GOALS];
	unsigned n = bench_goals(res, 2, g);
	const struct bench_goal *x = goal(g, n, "churn_vs_off");
	assert_float_equal(x->noise, 0.03, 1e-9);
	assert_int_equal(x->met, -1);
	assert_true(x->unresolved);
	assert_true(x->missed_by == NUL);
	x = goal(g, n, "burst_alloc_vs_off");
	assert_true(x->noise == NUL && !x->unresolved);
	assert_int_equal(x->met, 0);

	ph->v[FIG_RATIO][0] = 0.95;		/* 0.04 under: outside the noise */
	bench_results_finish(res);
	n = bench_goals(res, 2, g);
	x = goal(g, n, "churn_vs_off");
	assert_int_equal(x->met, 0);
	assert_false(x->unresolved);
	assert_float_equal(x->missed_by, 0.04, 1e-9);
	ph->v[FIG_RATIO][0] = 1.03;		/* 0.04 over: met */
	bench_results_finish(res);
	n = bench_goals(res, 2, g);
	assert_int_equal(goal(g, n, "churn_vs_off")->met, 1);

	ph->v[FIG_RATIO][0] = 0.98;
	bench_results_finish(res);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bench_report_goals(f, res);
	fclose(f);
	if (!strstr(buf, "unresolved (noise 0.030)"))
		fail_msg("goals table:\n%s", buf);
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	assert_int_equal(bench_report_json(f, res), 0);
	fclose(f);
	if (!strstr(buf, "\"met\": null, \"missed_by\": null, \"verdict\": \"unresolved\", \"noise\": 0.03"))
		fail_msg("results.json goals:\n%s", buf);
	free(buf);
	free(res);
}

static void no_free_event_no_figures(void **state)
{
	(void)state;
	struct bench_run r;
	struct bench_reclaim_fig f;
	bench_run_init(&r);
	bench_run_add_sample(&r, 0, 100, 0);
	bench_reclaim_figures(&r, &f);
	assert_true(f.t_ms[0] == NUL && f.returned_10s == NUL && f.exits_per_gib == NUL);
	bench_run_free(&r);
}

static void fragment_window(void **state)
{
	(void)state;
	struct bench_run r;
	struct bench_frag_fig f;
	/* 64 MiB back between the first free (1 s) and the second (5 s);
	 * what comes back after the second free does not count. */
	synth(&r, 8000, 1000, 100, 32, 64);
	bench_run_parse_line(&r, "@event free mib=100", 5000, 0);
	for (size_t i = 0; i < r.n; i++)
		if (r.s[i].t_ms > 5000)
			r.s[i].rss_mib = 50;
	bench_frag_figures(&r, 4000, &f);
	assert_float_equal(f.returned_mib, 64, 1e-9);
	/* 400 exits in the window for 1/16 GiB. */
	assert_float_equal(f.exits_per_gib, 400 * 16, 1e-6);
	bench_run_free(&r);
}

/* pagehint run's trace, its columns found by name: device_exits are the
 * exits, exits + notifications all of them; the stats queue's stay out. */
static void vmm_trace_read_by_column_name(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	telemetry_csv_header(f);
	for (unsigned i = 0; i < 4; i++) {
		struct sample s = { .t_ns = i * 10000000ull, .resident = (400 - 100 * i) << 20 };
		s.x.cause[EXIT_IO_SERIAL] = 50 * i;		/* not the device's */
		s.x.cause[EXIT_BALLOON_IRQ] = 2 * i;
		s.x.cause[EXIT_BALLOON_IRQ_STATS] = 7 * i;	/* the stats request's */
		s.x.notify[BQ_REPORT] = i;
		s.x.notify[BQ_STATS] = 3 * i;
		s.notifies = 4 * i;
		telemetry_csv_row(f, &s);
	}
	fclose(f);
	struct bench_run r;
	bench_run_init(&r);
	f = fmemopen(buf, len, "r");
	assert_int_equal(bench_vmm_read_trace(f, &r, 25), 0);	/* the 30 ms sample left out */
	fclose(f);
	assert_true(r.exits_known && r.exits_all_known);
	assert_int_equal(r.n, 3);
	assert_float_equal(r.s[2].t_ms, 20, 1e-9);
	assert_float_equal(r.s[2].rss_mib, 200, 1e-9);
	assert_float_equal(r.s[2].exits, 2 * 2 + 2, 1e-9);
	assert_float_equal(r.s[2].exits_all, 2 * (50 + 2 + 7) + 2 * 4, 1e-9);
	bench_run_free(&r);
	free(buf);

	/* columns in another order, and a trace without the device's count */
	static const char old[] = "exits,t_ms,resident_mib,notifications\n"
				  "5,0.000,100.0,1\nshort\n9,10.000,90.0,2\n";
	bench_run_init(&r);
	f = fmemopen((void *)old, sizeof(old) - 1, "r");
	assert_int_equal(bench_vmm_read_trace(f, &r, -1), 0);
	fclose(f);
	assert_int_equal(r.n, 2);
	assert_false(r.exits_known);
	assert_true(r.exits_all_known);
	assert_float_equal(r.s[1].rss_mib, 90, 1e-9);
	assert_float_equal(r.s[1].exits_all, 11, 1e-9);
	bench_run_free(&r);

	static const char bad[] = "time,rss\n1,2\n";
	bench_run_init(&r);
	f = fmemopen((void *)bad, sizeof(bad) - 1, "r");
	assert_int_equal(bench_vmm_read_trace(f, &r, -1), -EINVAL);
	fclose(f);
	bench_run_free(&r);
}

/* All exits per GiB beside the device's, from the same window. */
static void all_exits_beside_the_device_exits(void **state)
{
	(void)state;
	struct bench_run r;
	struct bench_reclaim_fig f;
	struct bench_frag_fig ff;
	synth(&r, 40000, 1000, 1024, 1024, 1024);
	for (size_t i = 0; i < r.n; i++)
		r.s[i].exits_all = 10 * r.s[i].exits + i;
	r.exits_all_known = true;
	bench_reclaim_figures(&r, &f);
	assert_float_equal(f.exits_per_gib, 3900, 1e-6);
	assert_float_equal(f.all_exits_per_gib, 39000 + 3900, 1e-6);
	bench_frag_figures(&r, 4000, &ff);
	assert_float_equal(ff.exits_per_gib, 400 * (1024.0 / ff.returned_mib), 1e-6);
	assert_float_equal(ff.all_exits_per_gib, 4400 * (1024.0 / ff.returned_mib), 1e-6);
	r.exits_all_known = false;
	bench_reclaim_figures(&r, &f);
	assert_true(f.all_exits_per_gib == NUL);
	bench_run_free(&r);
}

static void console_lines_parsed(void **state)
{
	(void)state;
	struct bench_run r;
	bench_run_init(&r);
	bench_run_parse_line(&r, "@engine name=upstream active=1 capacity=32 order=9", 1, 0);
	assert_false(r.have_engine_counts);
	bench_run_parse_line(&r, "@event alloc mib=768 round=1", 2, 0);
	assert_int_equal(r.nfree, 0);
	bench_run_parse_line(&r, "@event free mib=768 round=1", 3, 7);
	assert_int_equal(r.nfree, 1);
	assert_float_equal(r.free_mib[0], 768, 0);
	assert_float_equal(r.free_t_ms[0], 3, 0);
	assert_float_equal(r.free_cpu_ms[0], 7, 0);
	bench_run_parse_line(&r, "@done workload=churn cpus=2 ms=1000 pages=100 pages_per_s=12345", 4, 0);
	assert_true(r.done);
	assert_float_equal(r.pages_per_s, 12345, 0);
	assert_true(r.pages_per_s_med == NUL);		/* a guest without timed rounds */
	bench_run_parse_line(&r, "@done workload=churn cpus=2 ms=1000 pages=100 round_us_med=4000 "
			     "pages_per_s_med=16384 pages_per_s=12345", 4, 0);
	assert_float_equal(r.pages_per_s, 12345, 0);
	assert_float_equal(r.pages_per_s_med, 16384, 0);
	bench_run_parse_line(&r, "@engine name=upstream requests=8 ranges=253 mib=1012 errors=0", 5, 0);
	assert_true(r.have_engine_counts);
	assert_float_equal(r.requests, 8, 0);
	assert_float_equal(r.reported_mib, 1012, 0);
	assert_false(r.bad_cmdline);
	bench_run_parse_line(&r, "pagehint: bad command line: 'engine=nope': unknown engine", 6, 0);
	assert_true(r.bad_cmdline);
	bench_run_parse_line(&r, "@fail workload=memhog cpu=0 addr=0x1000 word=7 got=1 want=0", 7, 0);
	assert_int_equal(r.fail_lines, 1);
	assert_non_null(strstr(r.console, "@done workload=churn"));
	assert_float_equal(r.telemetry_cpu_ms, 0, 0);
	bench_run_parse_line(&r, "pagehint: telemetry: samples=1200 mincore=1200 cpu_ms=3456.7", 8, 0);
	assert_float_equal(r.telemetry_cpu_ms, 3456.7, 1e-9);
	bench_run_free(&r);
}

/* A child whose CPU is all in the excluded thread (a shell run under the
 * thread's name: its one thread) counts next to nothing; the same child
 * without the exclusion counts its busy loop. */
static double child_cpu(const char *exe, bool exclude)
{
	const char *argv[] = { exe, "-c",
			 "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done; "
			 "echo 'pagehint: telemetry: samples=1 mincore=0 cpu_ms=1'", NULL };
	struct bench_child c = { .argv = argv, .timeout_s = 120,
				 .exclude_thread = exclude ? "ph-telemetry" : NULL };
	struct bench_run r;
	bench_run_init(&r);
	assert_int_equal(bench_child_run(&c, &r, NULL), 0);
	assert_float_equal(r.telemetry_cpu_ms, 1, 0);
	double cpu = r.cpu_ms;
	bench_run_free(&r);
	return cpu;
}

static void child_cpu_leaves_out_a_thread(void **state)
{
	(void)state;
	char dir[] = "/tmp/ph-bench-XXXXXX", exe[64];
	assert_non_null(mkdtemp(dir));
	snprintf(exe, sizeof(exe), "%s/ph-telemetry", dir);
	assert_int_equal(symlink("/bin/sh", exe), 0);
	double all = child_cpu(exe, false), rest = child_cpu(exe, true);
	unlink(exe);
	rmdir(dir);
	assert_true(all >= 100);
	/* what ran after the bench's last look at the thread */
	assert_true(rest < all / 4);
}

/* The bench's engine names to the guest's command line. */
static void engine_names_to_guest_args(void **state)
{
	(void)state;
	char b[64];
	bench_engine_args("upstream", b, sizeof(b));
	assert_string_equal(b, "engine=upstream");
	bench_engine_args("pagehint", b, sizeof(b));
	assert_string_equal(b, "engine=pagehint");
	bench_engine_args(BENCH_ENGINE_XL, b, sizeof(b));
	assert_string_equal(b, "engine=pagehint report.mode=exitless");
	assert_string_equal(BENCH_ENGINE_XL, "pagehint-exitless");
}

/* The exitless mode's lines: active or the fallback with its reason, the
 * guest's @xl counters, the VMM's summary; the figures only when the mode
 * ran, and requests per GiB from the device's count. */
static void exitless_lines_and_figures(void **state)
{
	(void)state;
	struct bench_run r;
	double v[BENCH_XL_NFIG];

	bench_run_init(&r);
	bench_xl_figures(&r, v);
	for (int k = 0; k < BENCH_XL_NFIG; k++)
		assert_true(v[k] == NUL);
	bench_run_parse_line(&r, "@engine name=pagehint mode=standard exitless=unavailable "
			     "reason=not-offered", 1, 0);
	assert_true(r.xl_fallback);
	assert_false(r.xl_active);
	assert_string_equal(r.xl_fallback_reason, "not-offered");
	bench_run_parse_line(&r, "@engine name=pagehint requests=3 ranges=9 mib=1500 errors=0", 2, 0);
	assert_true(r.have_engine_counts);
	bench_xl_figures(&r, v);
	assert_true(v[XL_TAKEN] == NUL);
	bench_run_free(&r);

	bench_run_init(&r);
	bench_run_parse_line(&r, "@engine name=pagehint mode=exitless active=1 frames=1024 "
			     "published=1783 map_bytes=1088", 1, 0);
	assert_true(r.xl_active);
	assert_false(r.xl_fallback);
	bench_run_parse_line(&r, "@xl published=2600 taken_back=768 refaults=700 waits=2 "
			     "wait_timeouts=0 removed_blocks=0 removed_mib=0 walks=1 posts=1 resets=0 "
			     "left_reclaiming=0", 2, 0);
	assert_true(r.have_xl);
	assert_float_equal(r.xl_taken_back, 768, 0);
	assert_float_equal(r.xl_refaults, 700, 0);
	assert_float_equal(r.xl_waits, 2, 0);
	assert_float_equal(r.xl_wait_timeouts, 0, 0);
	const char *js = "{\n  \"report_requests\": 0,\n  \"report_ranges\": 0,\n"
			 "  \"exitless\": {\"offered\": true, \"attaches\": 1, \"refused\": 0, "
			 "\"detaches\": 0, \"scans\": 40, \"reclaimed_frames\": 768, \"reclaimed_mib\": 1536, "
			 "\"discard_calls\": 48, \"discard_errors\": 0, \"violations\": 0, \"throttled\": 0, "
			 "\"skipped_frames\": 1015},\n  \"exits\": {\"discard_calls\": 999}\n}\n";
	FILE *f = fmemopen((void *)js, strlen(js), "r");
	assert_non_null(f);
	assert_int_equal(bench_read_summary(f, &r), 0);
	fclose(f);
	assert_float_equal(r.host_requests, 0, 0);
	assert_float_equal(r.xl_reclaimed_frames, 768, 0);
	assert_float_equal(r.xl_discard_calls, 48, 0);	/* the exitless object's, not a later key's */
	assert_float_equal(r.xl_skipped_frames, 1015, 0);
	r.xl_cpu_ms = 12.5;
	bench_xl_figures(&r, v);
	assert_float_equal(v[XL_CPU], 12.5, 0);
	assert_float_equal(v[XL_DISCARDS], 48, 0);
	assert_float_equal(v[XL_RECLAIMED], 768, 0);
	assert_float_equal(v[XL_SKIPPED], 1015, 0);
	assert_float_equal(v[XL_TAKEN], 768, 0);
	assert_float_equal(v[XL_WAITS], 2, 0);
	/* no @engine counts in the exitless mode: the device's requests */
	struct bench_reclaim_fig rf;
	bench_reclaim_figures(&r, &rf);
	assert_float_equal(rf.requests_per_gib, 0, 0);
	bench_run_free(&r);

	/* a summary without the object (an older VMM) */
	bench_run_init(&r);
	const char *old = "{\"report_requests\": 4}";
	f = fmemopen((void *)old, strlen(old), "r");
	assert_int_equal(bench_read_summary(f, &r), -EINVAL);
	fclose(f);
	assert_float_equal(r.host_requests, 4, 0);
	assert_true(r.xl_reclaimed_frames == NUL);
	bench_run_free(&r);

	/* each scenario has its own figures */
	assert_int_equal(bench_xl_fig(SCEN_RECLAIM, XL_CPU), FIG_XL_FIRST);
	assert_int_equal(bench_xl_fig(SCEN_CHURN, XL_WAITS), FIG_XL_LAST);
	assert_string_equal(bench_figs[bench_xl_fig(SCEN_FRAG, XL_SKIPPED)].scenario, "fragmented");
	assert_string_equal(bench_figs[bench_xl_fig(SCEN_CHURN, XL_TAKEN)].scenario, "overhead");
	assert_string_equal(bench_figs[bench_xl_fig(SCEN_BURST, XL_DISCARDS)].json_key,
			    "xl_discard_calls");
}

/* pagehint-exitless's goals: 0 requests, <= 0.05 exits/GiB, t99 after the
 * free <= 50 ms, its free >= 0.9 x pagehint's speed; unknown, with the
 * reason, where the guest fell back to the standard mode. */
static void exitless_goals(void **state)
{
	(void)state;
	struct bench_results *res = three_engines();
	struct bench_engine_res *ph = &res->e[2], *xl = &res->e[3];
	res->nengines = 4;
	snprintf(xl->name, sizeof(xl->name), "%s", BENCH_ENGINE_XL);
	for (unsigned f = 0; f < FIG_COUNT; f++)
		xl->v[f][0] = NUL;
	ph->v[FIG_FREE][0] = 130;
	xl->v[FIG_FREE][0] = 260;	/* half the speed: missed by 0.4 */
	xl->v[FIG_REQS][0] = 0;
	xl->v[FIG_EXITS][0] = 0.02;
	xl->v[FIG_LAG99][0] = 80;	/* missed by 30 ms */
	bench_results_finish(res);

	struct bench_goal g[BENCH_MAX_GOALS];
	unsigned n = bench_goals(res, 3, g);
	assert_true(n <= BENCH_MAX_GOALS);
	const struct bench_goal *x = goal(g, n, "xl_requests_per_gib");
	assert_int_equal(x->met, 1);
	x = goal(g, n, "exits_per_gib");
	assert_float_equal(x->target, 0.05, 1e-12);
	assert_int_equal(x->met, 1);
	x = goal(g, n, "xl_t99_after_free_ms");
	assert_int_equal(x->met, 0);
	assert_float_equal(x->missed_by, 30, 1e-9);
	x = goal(g, n, "xl_free_vs_standard");
	assert_float_equal(x->measured, 0.5, 1e-12);
	assert_int_equal(x->met, 0);
	assert_float_equal(x->missed_by, 0.4, 1e-9);
	/* the standard goals are still there, the standard exits goal is not */
	assert_non_null(goal(g, n, "reclaim_t99_ms"));
	for (unsigned k = 0; k < n; k++)
		assert_null(strstr(g[k].what, "standard protocol"));
	/* pagehint's own goals keep the standard protocol's */
	n = bench_goals(res, 2, g);
	assert_float_equal(goal(g, n, "exits_per_gib")->target, 2, 0);
	for (unsigned k = 0; k < n; k++)
		assert_null(strstr(g[k].key, "xl_"));

	/* met */
	xl->v[FIG_FREE][0] = 140;
	xl->v[FIG_LAG99][0] = 0;
	xl->v[FIG_REQS][0] = 1;		/* one request: missed */
	bench_results_finish(res);
	n = bench_goals(res, 3, g);
	assert_int_equal(goal(g, n, "xl_free_vs_standard")->met, 1);
	assert_int_equal(goal(g, n, "xl_t99_after_free_ms")->met, 1);
	assert_int_equal(goal(g, n, "xl_requests_per_gib")->met, 0);

	/* without pagehint in the run: unknown, and why */
	snprintf(ph->name, sizeof(ph->name), "max-order");
	n = bench_goals(res, 3, g);
	x = goal(g, n, "xl_free_vs_standard");
	assert_int_equal(x->met, -1);
	assert_non_null(strstr(x->note, "not in this run"));

	/* its costs get a table of their own, a row per scenario */
	xl->v[bench_xl_fig(SCEN_RECLAIM, XL_SKIPPED)][0] = 1015;
	xl->v[bench_xl_fig(SCEN_CHURN, XL_CPU)][0] = 12.5;
	bench_results_finish(res);
	char *tb = NULL;
	size_t tl = 0;
	FILE *tf = open_memstream(&tb, &tl);
	bench_report_table(tf, res);
	fclose(tf);
	const char *xt = strstr(tb, "\nexitless (pagehint-exitless): ");
	assert_non_null(xt);
	assert_non_null(strstr(xt, "\nreclaim                     -           -           -        1015"));
	assert_non_null(strstr(xt, "\noverhead                 12.5"));
	assert_null(strstr(tb, "exitless (pagehint)"));
	if (getenv("SHOW_TABLE"))
		fputs(tb, stderr);
	free(tb);

	/* fell back (QEMU): nothing of the exitless mode to judge */
	snprintf(ph->name, sizeof(ph->name), "pagehint");
	snprintf(xl->fallback, sizeof(xl->fallback), "not-offered");
	n = bench_goals(res, 3, g);
	static const char *const keys[] = { "xl_requests_per_gib", "exits_per_gib",
					    "xl_t99_after_free_ms", "xl_free_vs_standard" };
	for (unsigned k = 0; k < 4; k++) {
		x = goal(g, n, keys[k]);
		assert_int_equal(x->met, -1);
		assert_non_null(strstr(x->note, "standard mode"));
	}
	/* and the table and results.json say so */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bench_report_table(f, res);
	fclose(f);
	assert_non_null(strstr(buf, "note: pagehint-exitless: the device has no exitless map "
				    "(the guest's reason=not-offered)"));
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	assert_int_equal(bench_report_json(f, res), 0);
	fclose(f);
	assert_non_null(strstr(buf, "\"exitless_fallback\": \"not-offered\""));
	free(buf);
	free(res);
}

/* The exitless scanner's CPU, told apart by its thread's name (a shell
 * run under that name: its one thread); nothing without the thread. */
static void child_counts_the_scanner_thread(void **state)
{
	(void)state;
	char dir[] = "/tmp/ph-bench-XXXXXX", exe[64];
	assert_non_null(mkdtemp(dir));
	snprintf(exe, sizeof(exe), "%s/%s", dir, "ph-xl-scanner");
	assert_int_equal(symlink("/bin/sh", exe), 0);
	const char *argv[] = { exe, "-c", "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done", NULL };
	struct bench_child c = { .argv = argv, .timeout_s = 120, .count_thread = "ph-xl-scanner" };
	struct bench_run r;
	bench_run_init(&r);
	assert_int_equal(bench_child_run(&c, &r, NULL), 0);
	assert_true(r.xl_cpu_ms >= 50);
	assert_true(r.xl_cpu_ms <= r.cpu_ms + 20);	/* counted, not left out */
	bench_run_free(&r);
	c.count_thread = "no-such-thread";
	bench_run_init(&r);
	assert_int_equal(bench_child_run(&c, &r, NULL), 0);
	assert_true(r.xl_cpu_ms == NUL);
	bench_run_free(&r);
	unlink(exe);
	rmdir(dir);
}

/* A child still running at its timeout, or when the bench is told to
 * stop, is ended by SIGTERM and its end says which. */
static void child_ended_by_timeout_or_stop(void **state)
{
	(void)state;
	const char *argv[] = { "/bin/sh", "-c", "echo up; exec sleep 30", NULL };
	struct bench_child c = { .argv = argv, .timeout_s = 0.2 };
	struct bench_run r;
	bench_run_init(&r);
	assert_int_equal(bench_child_run(&c, &r, NULL), 0);
	assert_true(c.timed_out);
	assert_false(c.stopped);
	assert_string_equal(r.end, "timeout");
	assert_true(WIFSIGNALED(c.wstatus) && WTERMSIG(c.wstatus) == SIGTERM);
	assert_true(r.wall_ms >= 200 && r.wall_ms < 10000);
	assert_non_null(strstr(r.console, "up"));
	bench_run_free(&r);

	volatile sig_atomic_t stop = 1;
	c.timeout_s = 120;
	bench_run_init(&r);
	assert_int_equal(bench_child_run(&c, &r, &stop), 0);
	assert_false(c.timed_out);
	assert_true(c.stopped);
	assert_string_equal(r.end, "signal");
	assert_true(WIFSIGNALED(c.wstatus) && WTERMSIG(c.wstatus) == SIGTERM);
	assert_true(r.wall_ms < 10000);
	bench_run_free(&r);
}

/* The files bench and peers must read: 0, or the usage status. */
static void need_file_readable_or_usage(void **state)
{
	(void)state;
	assert_int_equal(bench_need_file("test", "guest kernel", "/dev/null"), 0);
	assert_int_equal(bench_need_file("test", "guest kernel", "/nonexistent/pagehint-guest.elf"),
			 BENCH_EXIT_USAGE);
}

static void stats_over_reps(void **state)
{
	(void)state;
	double odd[] = { 5, 1, 3 }, even[] = { 4, 1, 3, 2 }, with_null[] = { 2, NUL, 1 };
	struct bench_stat s = bench_stat_of(odd, 3, false);
	assert_float_equal(s.min, 1, 0);
	assert_float_equal(s.med, 3, 0);
	assert_float_equal(s.max, 5, 0);
	s = bench_stat_of(even, 4, false);
	assert_float_equal(s.med, 2.5, 0);
	/* A null is left out of an ordinary figure... */
	s = bench_stat_of(with_null, 3, false);
	assert_float_equal(s.med, 1.5, 0);
	assert_float_equal(s.max, 2, 0);
	/* ...and is "never" for a time: the median is the worse one. */
	s = bench_stat_of(with_null, 3, true);
	assert_float_equal(s.min, 1, 0);
	assert_float_equal(s.med, 2, 0);
	assert_true(s.max == NUL);
	double never2[] = { NUL, 4, NUL };
	s = bench_stat_of(never2, 3, true);
	assert_true(s.med == NUL);
	assert_float_equal(s.min, 4, 0);
	double none[] = { NUL, NUL };
	s = bench_stat_of(none, 2, false);
	assert_true(s.min == NUL && s.med == NUL && s.max == NUL);
}

static void results_json_has_the_schema(void **state)
{
	(void)state;
	struct bench_results *res = calloc(1, sizeof(*res));
	assert_non_null(res);
	snprintf(res->machine.date, sizeof(res->machine.date), "2026-01-01T00:00:00Z");
	snprintf(res->machine.cpu_model, sizeof(res->machine.cpu_model), "CPU \"quoted\"");
	res->hypervisor = "qemu";
	res->accel = "tcg";
	res->reps = 2;
	res->limit_v[0] = 40;
	res->limit_v[1] = 50;
	res->nengines = 2;
	for (unsigned i = 0; i < 2; i++) {
		snprintf(res->e[i].name, sizeof(res->e[i].name), i ? "upstream" : "off");
		for (unsigned f = 0; f < FIG_COUNT; f++)
			for (unsigned r = 0; r < BENCH_MAX_REPS; r++)
				res->e[i].v[f][r] = NUL;
	}
	res->e[1].v[FIG_T50][0] = 3000;
	res->e[1].v[FIG_T50][1] = 5000;
	res->e[1].v[FIG_RET10][0] = 0.5;
	res->e[1].v[FIG_RET10][1] = 1;
	res->e[1].v[FIG_T99][0] = 9000;	/* never in rep 2: median never */
	bench_results_finish(res);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(bench_report_json(f, res), 0);
	fclose(f);
	static const char *const want[] = {
		"\"machine\": {", "\"cpu\": \"CPU \\\"quoted\\\"\"", "\"limit\": {\"madvise_gib_s\": 45}",
		"\"engines\": {", "\"off\": {", "\"upstream\": {",
		"\"reclaim\": {\"t50_ms\": 4000, \"t90_ms\": null, \"t99_ms\": null, "
		"\"free_ms\": null, \"t99_after_free_ms\": null, "
		"\"returned_10s\": 0.75, \"returned_35s\": null, \"exits_per_gib\": null, "
		"\"all_exits_per_gib\": null, \"requests_per_gib\": null, \"host_cpu_ms_per_gib\": null, "
		"\"xl_scanner_cpu_ms\": null, \"xl_discard_calls\": null, \"xl_reclaimed_frames\": null, "
		"\"xl_skipped_frames\": null, \"xl_taken_back\": null, \"xl_waits\": null}",
		"\"fragmented\": {\"returned_mib\": null, \"exits_per_gib\": null, "
		"\"all_exits_per_gib\": null, \"xl_scanner_cpu_ms\": null,",
		"\"exits_source\": \"\", \"all_exits_source\": null",
		"\"overhead\": {\"pages_per_s\": null, \"ratio_vs_off\": null, "
		"\"pages_per_cpu_s\": null, \"ratio_vs_off_cpu\": null, \"pages_per_ginsn\": null, "
		"\"ratio_vs_off_insn\": null, \"pages_per_s_med\": null, \"ratio_vs_off_med\": null, "
		"\"reported_taken_mib\": null, \"xl_scanner_cpu_ms\": null,",
		"\"burst\": {\"alloc_ms\": null, \"alloc_ratio_vs_off\": null, "
		"\"resident_mean_mib\": null, \"resident_vs_upstream\": null, "
		"\"cpu_ms_per_burst\": null, \"cpu_ratio_vs_off\": null, \"reported_taken_mib\": null, "
		"\"xl_scanner_cpu_ms\": null,",
		"\"metrics_scrape\": {\"scrapes\": null, \"failed\": null, \"p50_ms\": null, "
		"\"p99_ms\": null, \"max_ms\": null}",
		"\"metrics_scrape_not_run\": null",
		"\"goals\": {}",
	};
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
		if (!strstr(buf, want[k]))
			fail_msg("results.json lacks %s:\n%s", want[k], buf);
	/* The speed figure is CSV-only. */
	assert_null(strstr(buf, "speed"));
	assert_null(strstr(buf, "exitless_fallback"));
	free(buf);
	free(res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(times_from_linear_drop),
		cmocka_unit_test(partial_return_never_reaches),
		cmocka_unit_test(per_gib_costs),
		cmocka_unit_test(nothing_returned_gives_null_costs),
		cmocka_unit_test(without_a_freeing_line_the_free_starts_at_its_line),
		cmocka_unit_test(measured_from_the_start_not_the_alloc_line),
		cmocka_unit_test(times_from_the_freeing_line),
		cmocka_unit_test(free_lines_read_as_the_console_reads_them),
		cmocka_unit_test(fragment_window_ends_at_second_freeing),
		cmocka_unit_test(burst_figures),
		cmocka_unit_test(churn_per_cpu_second),
		cmocka_unit_test(churn_per_ginsn),
		cmocka_unit_test(ratio_against_neighbours),
		cmocka_unit_test(goals_met_and_missed),
		cmocka_unit_test(goals_inside_the_noise_are_unresolved),
		cmocka_unit_test(no_free_event_no_figures),
		cmocka_unit_test(fragment_window),
		cmocka_unit_test(vmm_trace_read_by_column_name),
		cmocka_unit_test(all_exits_beside_the_device_exits),
		cmocka_unit_test(console_lines_parsed),
		cmocka_unit_test(need_file_readable_or_usage),
		cmocka_unit_test(child_cpu_leaves_out_a_thread),
		cmocka_unit_test(stats_over_reps),
		cmocka_unit_test(results_json_has_the_schema),
		cmocka_unit_test(engine_names_to_guest_args),
		cmocka_unit_test(exitless_lines_and_figures),
		cmocka_unit_test(exitless_goals),
		cmocka_unit_test(child_counts_the_scanner_thread),
		cmocka_unit_test(child_ended_by_timeout_or_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
