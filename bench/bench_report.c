/* SPDX-License-Identifier: MIT */
/*
 * The bench's output: the plain-text table, figures.csv (every figure of
 * every repetition with min/median/max), curves.csv (resident MiB over
 * time), results.json (docs/bench.md's schema: each figure the median over
 * repetitions, null where never reached) and the gnuplot plots.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "bench_child.h"
#include "bench_int.h"
#include "bench_scrape.h"

const struct bench_fig_info bench_figs[FIG_COUNT] = {
	[FIG_T50]        = { "reclaim", "t50_ms", "ms", true },
	[FIG_T90]        = { "reclaim", "t90_ms", "ms", true },
	[FIG_T99]        = { "reclaim", "t99_ms", "ms", true },
	[FIG_FREE]       = { "reclaim", "free_ms", "ms", false },
	[FIG_LAG99]      = { "reclaim", "t99_after_free_ms", "ms", true },
	[FIG_RET10]      = { "reclaim", "returned_10s", "fraction", false },
	[FIG_RET35]      = { "reclaim", "returned_35s", "fraction", false },
	[FIG_EXITS]      = { "reclaim", "exits_per_gib", "exits/GiB", false },
	[FIG_EXITS_ALL]  = { "reclaim", "all_exits_per_gib", "exits/GiB", false },
	[FIG_REQS]       = { "reclaim", "requests_per_gib", "requests/GiB", false },
	[FIG_CPU]        = { "reclaim", "host_cpu_ms_per_gib", "ms/GiB", false },
	[FIG_SPEED]      = { "reclaim", NULL, "share of the madvise limit", false },
	[FIG_FRAG_MIB]   = { "fragmented", "returned_mib", "MiB", false },
	[FIG_FRAG_EXITS] = { "fragmented", "exits_per_gib", "exits/GiB", false },
	[FIG_FRAG_EXITS_ALL] = { "fragmented", "all_exits_per_gib", "exits/GiB", false },
	[FIG_PPS]        = { "overhead", "pages_per_s", "pages/s", false },
	[FIG_RATIO]      = { "overhead", "ratio_vs_off", "ratio", false },
	[FIG_PPS_CPU]    = { "overhead", "pages_per_cpu_s", "pages/CPU-s", false },
	[FIG_RATIO_CPU]  = { "overhead", "ratio_vs_off_cpu", "ratio", false },
	[FIG_PPS_INSN]   = { "overhead", "pages_per_ginsn", "pages/10^9 instructions", false },
	[FIG_RATIO_INSN] = { "overhead", "ratio_vs_off_insn", "ratio", false },
	[FIG_PPS_MED]    = { "overhead", "pages_per_s_med", "pages/s", false },
	[FIG_RATIO_MED]  = { "overhead", "ratio_vs_off_med", "ratio", false },
	[FIG_CHURN_TAKEN] = { "overhead", "reported_taken_mib", "MiB", false },
	[FIG_BURST_ALLOC] = { "burst", "alloc_ms", "ms", false },
	[FIG_BURST_RATIO] = { "burst", "alloc_ratio_vs_off", "ratio", false },
	[FIG_BURST_RSS]  = { "burst", "resident_mean_mib", "MiB", false },
	[FIG_BURST_RSS_UP] = { "burst", "resident_vs_upstream", "ratio", false },
	[FIG_BURST_CPU]  = { "burst", "cpu_ms_per_burst", "ms", false },
	[FIG_BURST_CPU_RATIO] = { "burst", "cpu_ratio_vs_off", "ratio", false },
	[FIG_BURST_TAKEN] = { "burst", "reported_taken_mib", "MiB", false },
	[FIG_SCRAPE_N]   = { "metrics_scrape", "scrapes", "scrapes", false },
	[FIG_SCRAPE_FAILED] = { "metrics_scrape", "failed", "scrapes", false },
	[FIG_SCRAPE_P50] = { "metrics_scrape", "p50_ms", "ms", false },
	[FIG_SCRAPE_P99] = { "metrics_scrape", "p99_ms", "ms", false },
	[FIG_SCRAPE_MAX] = { "metrics_scrape", "max_ms", "ms", false },
#define XL_FIGS(sc, name) \
	[FIG_XL_FIRST + (sc) * BENCH_XL_NFIG + XL_CPU] = { name, "xl_scanner_cpu_ms", "ms", false }, \
	[FIG_XL_FIRST + (sc) * BENCH_XL_NFIG + XL_DISCARDS] = { name, "xl_discard_calls", "calls", false }, \
	[FIG_XL_FIRST + (sc) * BENCH_XL_NFIG + XL_RECLAIMED] = { name, "xl_reclaimed_frames", "frames", false }, \
	[FIG_XL_FIRST + (sc) * BENCH_XL_NFIG + XL_SKIPPED] = { name, "xl_skipped_frames", "frames", false }, \
	[FIG_XL_FIRST + (sc) * BENCH_XL_NFIG + XL_TAKEN] = { name, "xl_taken_back", "frames", false }, \
	[FIG_XL_FIRST + (sc) * BENCH_XL_NFIG + XL_WAITS] = { name, "xl_waits", "waits", false },
	XL_FIGS(SCEN_RECLAIM, "reclaim")
	XL_FIGS(SCEN_FRAG, "fragmented")
	XL_FIGS(SCEN_BURST, "burst")
	XL_FIGS(SCEN_CHURN, "overhead")
#undef XL_FIGS
};

/* CSV-only name of a figure without a JSON key. */
static const char *fig_name(enum bench_fig f)
{
	return bench_figs[f].json_key ? bench_figs[f].json_key : "speed_vs_limit";
}

void bench_results_finish(struct bench_results *res)
{
	res->limit = bench_stat_of(res->limit_v, res->reps, false);
	for (unsigned i = 0; i < res->nengines; i++)
		for (unsigned f = 0; f < FIG_COUNT; f++)
			res->e[i].st[f] = bench_stat_of(res->e[i].v[f], res->reps,
							bench_figs[f].null_is_never);
}

/* ---- the table ---- */

/* A figure for the table: scale, decimals; "never" or "-" for null. */
static void cell(char *buf, size_t cap, double v, double scale, int dec, const char *null)
{
	if (v == BENCH_NULL)
		snprintf(buf, cap, "%s", null);
	else
		snprintf(buf, cap, "%.*f", dec, v * scale);
}

struct col {
	const char *head;
	enum bench_fig f;
	double scale;
	int dec, width;
	const char *null;
};

static void print_block(FILE *f, const struct bench_results *res, const struct col *c, unsigned nc)
{
	fprintf(f, "%-17s", "engine");
	for (unsigned k = 0; k < nc; k++)
		fprintf(f, " %*s", c[k].width, c[k].head);
	fputc('\n', f);
	for (unsigned i = 0; i < res->nengines; i++) {
		const struct bench_engine_res *e = &res->e[i];
		char b[64];
		fprintf(f, "%-17s", e->name);
		for (unsigned k = 0; k < nc; k++) {
			cell(b, sizeof(b), e->st[c[k].f].med, c[k].scale, c[k].dec, c[k].null);
			fprintf(f, " %*s", c[k].width, b);
		}
		fputc('\n', f);
		if (res->reps < 2)
			continue;
		fprintf(f, "%-17s", "  min..max");
		for (unsigned k = 0; k < nc; k++) {
			char lo[24], hi[24];
			const struct bench_stat *st = &e->st[c[k].f];
			cell(lo, sizeof(lo), st->min, c[k].scale, c[k].dec, c[k].null);
			cell(hi, sizeof(hi), st->max, c[k].scale, c[k].dec, c[k].null);
			if (st->min == BENCH_NULL && st->max == BENCH_NULL)
				snprintf(b, sizeof(b), "%s", c[k].null);
			else
				snprintf(b, sizeof(b), "%s..%s", lo, hi);
			fprintf(f, " %*s", c[k].width, b);
		}
		fputc('\n', f);
	}
}

/* A goal's figure in its unit, "-" when not known. */
static void goal_num(char *buf, size_t cap, double v, const char *unit)
{
	int dec = !strcmp(unit, "ms") || !strcmp(unit, "MiB") ? 0 : !strcmp(unit, "x") ||
		  !strcmp(unit, "exits/GiB") ? 1 : 3;
	if (v == BENCH_NULL)
		snprintf(buf, cap, "-");
	else if (isinf(v))
		snprintf(buf, cap, "inf");
	else
		snprintf(buf, cap, "%.*f", dec, v);
}

/* Engines the goals are for: not the references. */
static bool has_goals(const struct bench_engine_res *e)
{
	return strcmp(e->name, "off") && strcmp(e->name, "upstream");
}

void bench_report_goals(FILE *f, const struct bench_results *res)
{
	struct bench_goal g[BENCH_MAX_GOALS];
	for (unsigned i = 0; i < res->nengines; i++) {
		if (!has_goals(&res->e[i]))
			continue;
		unsigned n = bench_goals(res, i, g);
		fprintf(f, "\ngoals for %s, from the medians above\n", res->e[i].name);
		fprintf(f, "%-50s %-10s %9s %9s  %s\n", "goal", "unit", "target", "measured", "status");
		for (unsigned k = 0; k < n; k++) {
			char t[24], m[24], by[24], st[160];
			goal_num(t, sizeof(t), g[k].target, g[k].unit);
			goal_num(m, sizeof(m), g[k].measured, g[k].unit);
			goal_num(by, sizeof(by), g[k].missed_by, g[k].unit);
			if (g[k].met > 0)
				snprintf(st, sizeof(st), "met");
			else if (!g[k].met && g[k].missed_by != BENCH_NULL)
				snprintf(st, sizeof(st), "MISSED by %s %s", by, g[k].unit);
			else
				snprintf(st, sizeof(st), "%s", g[k].unresolved ? "unresolved"
							 : g[k].met ? "unknown" : "MISSED");
			if (g[k].noise != BENCH_NULL)
				snprintf(st + strlen(st), sizeof(st) - strlen(st), " (noise %.3f)", g[k].noise);
			if (g[k].note[0])
				snprintf(st + strlen(st), sizeof(st) - strlen(st), " (%s)", g[k].note);
			fprintf(f, "%-50s %-10s %9s %9s  %s\n", g[k].what, g[k].unit, t, m, st);
		}
	}
}

/* The exitless mode's costs, a row per scenario, for the engines that ran
 * it (nothing when none did). */
static void xl_table(FILE *f, const struct bench_results *res)
{
	static const char *const scen[BENCH_NSCEN] = { "reclaim", "fragmented", "burst", "overhead" };
	static const char *const head[BENCH_XL_NFIG] = {
		"scanner ms", "discards", "reclaimed", "skipped", "taken back", "waits",
	};
	for (unsigned i = 0; i < res->nengines; i++) {
		const struct bench_engine_res *e = &res->e[i];
		bool any = false;
		for (unsigned k = FIG_XL_FIRST; k <= FIG_XL_LAST; k++)
			any |= e->st[k].med != BENCH_NULL;
		if (!any)
			continue;
		fprintf(f, "\nexitless (%s): the host's scanner thread (its CPU ms over the whole run, "
			"its discard calls, 2 MiB frames it discarded and frames it claimed that were not "
			"resident on the host, so not discarded) and the guest (frames it took back, waits "
			"on a RECLAIMING frame); medians\n", e->name);
		fprintf(f, "%-17s", "scenario");
		for (unsigned k = 0; k < BENCH_XL_NFIG; k++)
			fprintf(f, " %11s", head[k]);
		fputc('\n', f);
		for (unsigned sc = 0; sc < BENCH_NSCEN; sc++) {
			fprintf(f, "%-17s", scen[sc]);
			for (unsigned k = 0; k < BENCH_XL_NFIG; k++) {
				char b[32];
				cell(b, sizeof(b), e->st[bench_xl_fig(sc, k)].med, 1, k == XL_CPU ? 1 : 0, "-");
				fprintf(f, " %11s", b);
			}
			fputc('\n', f);
		}
	}
}

/* GET /metrics during the reclaim runs, or why not. */
static void scrape_table(FILE *f, const struct bench_results *res)
{
	if (res->no_api[0]) {
		fprintf(f, "\nmetrics scrape: not run: %s\n", res->no_api);
		return;
	}
	fprintf(f, "\nmetrics scrape: GET /metrics on pagehint run's control API every %d ms "
		"during the reclaim run, from the guest's free to its @done; answer time, connect to "
		"last byte\n", BENCH_SCRAPE_PERIOD_MS);
	static const struct col sc[] = {
		{ "scrapes", FIG_SCRAPE_N, 1, 0, 12, "-" },
		{ "failed", FIG_SCRAPE_FAILED, 1, 0, 12, "-" },
		{ "p50 ms", FIG_SCRAPE_P50, 1, 3, 12, "-" },
		{ "p99 ms", FIG_SCRAPE_P99, 1, 3, 12, "-" },
		{ "max ms", FIG_SCRAPE_MAX, 1, 3, 12, "-" },
	};
	print_block(f, res, sc, sizeof(sc) / sizeof(sc[0]));
}

/* The machine, the hypervisor, the guest and madvise's limit. */
static void table_header(FILE *f, const struct bench_results *res)
{
	fprintf(f, "pagehint bench  %s  %s, %s, %u host CPUs\n", res->machine.date,
		res->machine.cpu_model, res->machine.kernel, res->machine.host_cpus);
	if (!strcmp(res->hypervisor, "qemu"))
		fprintf(f, "hypervisor: QEMU %s %s (%s)\n", res->qemu_version,
			!strcmp(res->accel, "kvm") ? "KVM" : "TCG", res->hv_reason);
	else
		fprintf(f, "hypervisor: pagehint run, KVM (%s)\n", res->hv_reason);
	fprintf(f, "guest: %u vCPUs, %llu MiB, seed %u; %u repetition%s%s\n", res->cpus,
		(unsigned long long)res->mem_mib, res->seed, res->reps, res->reps > 1 ? "s" : "",
		res->reps > 1 ? ": median, then min..max" : "");
	char b[32];
	cell(b, sizeof(b), res->limit.med, 1, 1, "-");
	fprintf(f, "limit: madvise(MADV_DONTNEED), %llu MiB of touched THP memory in 2 MiB "
		"ranges: %s GiB/s\n\n", (unsigned long long)res->hog_mib, b);
}

/* The reclaim scenario's block: memory back, requests, exits, CPU. */
static void table_reclaim(FILE *f, const struct bench_results *res)
{
	fprintf(f, "reclaim: memhog %llu MiB, free, %.0f s idle; seconds until 50/90/99%% of it is "
		"back on the host, share back at 10 s / 35 s\n", (unsigned long long)res->hog_mib,
		res->idle_ms / 1e3);
	static const struct col rc[] = {
		{ "t50 s", FIG_T50, 1e-3, 2, 9, "never" },
		{ "t90 s", FIG_T90, 1e-3, 2, 9, "never" },
		{ "t99 s", FIG_T99, 1e-3, 2, 9, "never" },
		{ "free s", FIG_FREE, 1e-3, 2, 9, "-" },
		{ "lag99 s", FIG_LAG99, 1e-3, 3, 9, "never" },
		{ "@10s", FIG_RET10, 1, 2, 9, "-" },
		{ "@35s", FIG_RET35, 1, 2, 9, "-" },
		{ "req/GiB", FIG_REQS, 1, 1, 9, "-" },
		{ "exits/GiB", FIG_EXITS, 1, 0, 11, "-" },
		{ "all ex/GiB", FIG_EXITS_ALL, 1, 0, 11, "-" },
		{ "cpu ms/GiB", FIG_CPU, 1, 0, 11, "-" },
		{ "of limit", FIG_SPEED, 1, 5, 15, "-" },
	};
	print_block(f, res, rc, sizeof(rc) / sizeof(rc[0]));
	fprintf(f, "  Memory back is measured against the resident memory at the start of the guest's "
		"free (its freeing line), times from there. free s: the guest's free itself (freeing "
		"line to free line), the same work under every engine; lag99 s: 99%% back, after the "
		"free ended (0: by then).\n");
	fprintf(f, "  req/GiB: the guest's requests per GiB it reported. exits/GiB: %s; from the alloc "
		"line to the end, per GiB returned. all ex/GiB: %s, the same way.\n", res->exits_source,
		res->exits_all_source[0] ? res->exits_all_source : "not counted");
	fprintf(f, "  cpu ms/GiB: the hypervisor process's CPU time from the alloc line to the end per "
		"GiB returned%s. of limit: (90%% of the freed memory / t90) / madvise throughput "
		"(- when t90 is 0).\n\n",
		!strcmp(res->accel, "tcg") ? " (TCG: includes emulating the guest)" : "");
}

/* The fragmented scenario's block: 4 KiB free blocks. */
static void table_fragmented(FILE *f, const struct bench_results *res)
{
	fprintf(f, "fragmented: %llu MiB allocated, every other page freed (4 KiB free blocks); "
		"MiB back in the %.0f s before the rest is freed\n", (unsigned long long)res->frag_mib,
		res->frag_hold_ms / 1e3);
	static const struct col fc[] = {
		{ "back MiB", FIG_FRAG_MIB, 1, 1, 13, "-" },
		{ "exits/GiB", FIG_FRAG_EXITS, 1, 0, 13, "-" },
		{ "all ex/GiB", FIG_FRAG_EXITS_ALL, 1, 0, 13, "-" },
	};
	print_block(f, res, fc, 3);
	fputc('\n', f);
}

/* The burst scenario's block: allocation time, resident memory, CPU. */
static void table_burst(FILE *f, const struct bench_results *res)
{
	fprintf(f, "burst: %u MiB allocated, written, checked and freed every %u ms, %u times; "
		"allocation time of a burst (guest TSC, median of bursts 2..%u), mean resident MiB, "
		"hypervisor CPU ms per burst\n",
		res->burst_mib, res->burst_period_ms, res->burst_count, res->burst_count);
	static const struct col bc[] = {
		{ "alloc ms", FIG_BURST_ALLOC, 1, 1, 13, "-" },
		{ "vs off", FIG_BURST_RATIO, 1, 3, 13, "-" },
		{ "resident MiB", FIG_BURST_RSS, 1, 0, 13, "-" },
		{ "vs upstream", FIG_BURST_RSS_UP, 1, 3, 13, "-" },
		{ "cpu ms", FIG_BURST_CPU, 1, 1, 13, "-" },
		{ "vs off", FIG_BURST_CPU_RATIO, 1, 3, 13, "-" },
		{ "refault MiB", FIG_BURST_TAKEN, 1, 0, 13, "-" },
	};
	print_block(f, res, bc, 7);
	fputc('\n', f);
}

/* The overhead scenario's block: the churn's pages per second, CPU
 * second and 10^9 guest instructions. */
static void table_overhead(FILE *f, const struct bench_results *res)
{
	if (res->churn_mib)
		fprintf(f, "overhead: churn on all %u vCPUs for %.0f s, page_fault1-like: each takes "
			"%u MiB a page at a time, writes, checks and frees it, round after round\n",
			res->cpus, res->churn_ms / 1e3, res->churn_mib);
	else
		fprintf(f, "overhead: churn on all %u vCPUs for %.0f s: batches of 16 pages taken "
			"and freed (the per-CPU lists only)\n", res->cpus, res->churn_ms / 1e3);
	fprintf(f, "per wall second, per second of the hypervisor's CPU time, per 10^9 guest "
		"instructions (TCG -icount), and the median round the guest timed, as pages/s\n");
	static const struct col oc[] = {
		{ "pages/s", FIG_PPS, 1, 0, 13, "-" },
		{ "vs off", FIG_RATIO, 1, 3, 13, "-" },
		{ "pages/CPU-s", FIG_PPS_CPU, 1, 0, 13, "-" },
		{ "vs off", FIG_RATIO_CPU, 1, 3, 13, "-" },
		{ "pages/Ginsn", FIG_PPS_INSN, 1, 0, 13, "-" },
		{ "vs off", FIG_RATIO_INSN, 1, 4, 13, "-" },
		{ "pages/s med", FIG_PPS_MED, 1, 0, 13, "-" },
		{ "vs off", FIG_RATIO_MED, 1, 3, 13, "-" },
		{ "refault MiB", FIG_CHURN_TAKEN, 1, 0, 13, "-" },
	};
	print_block(f, res, oc, 9);
	fprintf(f, "  vs off (burst and churn): each engine's run against the mean of the "
		"off runs right before and after it (off, A, off, B, off, ... per repetition); off's "
		"row: its middle run against its neighbours, the method's noise.\n");
	fprintf(f, "  refault MiB: Reported memory the churn's allocations took back (each page a "
		"fault on the host), from the guest's @mem line.\n");
	if (res->icount)
		fprintf(f, "  pages/Ginsn: QEMU -icount shift=0, the guest's clock one ns per instruction "
			"it runs: the allocator's and the engine's cost in guest instructions, the same "
			"to the page run after run (the host's discards and refaults are not in it: see "
			"pages/CPU-s); vs off: against off's run of the same repetition.\n");
	else
		fprintf(f, "  pages/Ginsn: not counted: instruction counting is QEMU TCG's (-icount); "
			"this run is on %s\n",
			!strcmp(res->hypervisor, "qemu") ? "QEMU KVM" : "pagehint run (KVM)");
}

/* The runs that failed and the exitless runs that fell back. */
static void table_notes(FILE *f, const struct bench_results *res)
{
	for (unsigned i = 0; i < res->nengines; i++)
		if (res->e[i].note[0])
			fprintf(f, "note: %s: a run failed: %s\n", res->e[i].name, res->e[i].note);
	for (unsigned i = 0; i < res->nengines; i++)
		if (res->e[i].fallback[0])
			fprintf(f, "note: %s: the device has no exitless map (the guest's reason=%s): "
				"the guest ran pagehint's standard mode, and these are its figures\n",
				res->e[i].name, res->e[i].fallback);
}

void bench_report_table(FILE *f, const struct bench_results *res)
{
	table_header(f, res);
	table_reclaim(f, res);
	table_fragmented(f, res);
	table_burst(f, res);
	table_overhead(f, res);
	xl_table(f, res);
	scrape_table(f, res);
	table_notes(f, res);
	bench_report_goals(f, res);
}

/* ---- CSV ---- */

static void csv_num(FILE *f, double v)
{
	if (v == BENCH_NULL)
		fputs(",", f);
	else
		fprintf(f, ",%.6g", v);
}

int bench_report_csv(const char *path, const struct bench_results *res)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs("scenario,engine,figure,unit", f);
	for (unsigned r = 0; r < res->reps; r++)
		fprintf(f, ",rep%u", r + 1);
	fputs(",min,median,max\n", f);
	fputs("limit,,madvise_gib_s,GiB/s", f);
	for (unsigned r = 0; r < res->reps; r++)
		csv_num(f, res->limit_v[r]);
	csv_num(f, res->limit.min);
	csv_num(f, res->limit.med);
	csv_num(f, res->limit.max);
	fputc('\n', f);
	for (unsigned i = 0; i < res->nengines; i++) {
		const struct bench_engine_res *e = &res->e[i];
		for (unsigned k = 0; k < FIG_COUNT; k++) {
			fprintf(f, "%s,%s,%s,%s", bench_figs[k].scenario, e->name, fig_name(k),
				bench_figs[k].unit);
			for (unsigned r = 0; r < res->reps; r++)
				csv_num(f, e->v[k][r]);
			csv_num(f, e->st[k].min);
			csv_num(f, e->st[k].med);
			csv_num(f, e->st[k].max);
			fputc('\n', f);
		}
	}
	return fclose(f) ? -errno : 0;
}

int bench_report_curves(const char *path, const struct bench_results *res)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs("engine,t_s,resident_mib\n", f);
	for (unsigned i = 0; i < res->nengines; i++)
		for (size_t k = 0; k < res->e[i].curve_n; k++)
			fprintf(f, "%s,%.2f,%.1f\n", res->e[i].name, res->e[i].curve_t[k] / 1e3,
				res->e[i].curve_rss[k]);
	return fclose(f) ? -errno : 0;
}

/* ---- JSON ---- */

static void json_figs(FILE *f, const struct bench_engine_res *e, const char *scenario)
{
	bool first = true;
	fprintf(f, "\"%s\": {", scenario);
	for (unsigned k = 0; k < FIG_COUNT; k++) {
		if (!bench_figs[k].json_key || strcmp(bench_figs[k].scenario, scenario))
			continue;
		fprintf(f, "%s\"%s\": ", first ? "" : ", ", bench_figs[k].json_key);
		bench_json_num(f, e->st[k].med);
		first = false;
	}
	fputs("}", f);
}

/* "machine": the host, the hypervisor and the plan's sizes. */
static void json_setup(FILE *f, const struct bench_results *res)
{
	bench_json_machine(f, &res->machine);
	fputs(",\n    \"hypervisor\": ", f);
	bench_json_str(f, res->hypervisor);
	fputs(", \"accel\": ", f);
	bench_json_str(f, res->accel);
	if (res->qemu_version[0]) {
		fputs(", \"qemu_version\": ", f);
		bench_json_str(f, res->qemu_version);
	}
	fputs(", \"hypervisor_reason\": ", f);
	bench_json_str(f, res->hv_reason);
	fputs(", \"metrics_scrape_not_run\": ", f);
	if (res->no_api[0])
		bench_json_str(f, res->no_api);
	else
		fputs("null", f);
	fputs(",\n    \"exits_source\": ", f);
	bench_json_str(f, res->exits_source);
	fputs(", \"all_exits_source\": ", f);
	if (res->exits_all_source[0])
		bench_json_str(f, res->exits_all_source);
	else
		fputs("null", f);
	fprintf(f, ",\n    \"guest_cpus\": %u, \"guest_mem_mib\": %llu, \"memhog_mib\": %llu, "
		"\"idle_ms\": %u, \"fragment_mib\": %llu, \"fragment_hold_ms\": %u, \"churn_ms\": %u, "
		"\"churn_mib\": %u, \"churn_icount\": %s, "
		"\"burst_mib\": %u, \"burst_period_ms\": %u, \"bursts\": %u, "
		"\"seed\": %u, \"reps\": %u, \"quick\": %s},\n", res->cpus,
		(unsigned long long)res->mem_mib, (unsigned long long)res->hog_mib, res->idle_ms,
		(unsigned long long)res->frag_mib, res->frag_hold_ms, res->churn_ms, res->churn_mib,
		res->icount ? "true" : "false", res->burst_mib,
		res->burst_period_ms, res->burst_count, res->seed, res->reps,
		res->quick ? "true" : "false");
}

/* "engines": each engine's medians, a member per scenario. */
static void json_engines(FILE *f, const struct bench_results *res)
{
	for (unsigned i = 0; i < res->nengines; i++) {
		const struct bench_engine_res *e = &res->e[i];
		fprintf(f, "%s\n    ", i ? "," : "");
		bench_json_str(f, e->name);
		fputs(": {\n      ", f);
		json_figs(f, e, "reclaim");
		fputs(",\n      ", f);
		json_figs(f, e, "fragmented");
		fputs(",\n      ", f);
		json_figs(f, e, "overhead");
		fputs(",\n      ", f);
		json_figs(f, e, "burst");
		fputs(",\n      ", f);
		json_figs(f, e, "metrics_scrape");
		if (!strcmp(e->name, BENCH_ENGINE_XL)) {
			/* the guest ran the standard mode: the device has no map */
			fputs(",\n      \"exitless_fallback\": ", f);
			if (e->fallback[0])
				bench_json_str(f, e->fallback);
			else
				fputs("null", f);
		}
		fputs("}", f);
	}
}

/* "goals": each engine's goals with their verdicts. */
static void json_goals(FILE *f, const struct bench_results *res)
{
	bool first = true;
	for (unsigned i = 0; i < res->nengines; i++) {
		struct bench_goal g[BENCH_MAX_GOALS];
		if (!has_goals(&res->e[i]))
			continue;
		unsigned n = bench_goals(res, i, g);
		fprintf(f, "%s\n    ", first ? "" : ",");
		bench_json_str(f, res->e[i].name);
		fputs(": {", f);
		for (unsigned k = 0; k < n; k++) {
			fprintf(f, "%s\n      \"%s\": {\"goal\": ", k ? "," : "", g[k].key);
			bench_json_str(f, g[k].what);
			fputs(", \"target\": ", f);
			bench_json_num(f, g[k].target);
			fputs(", \"measured\": ", f);
			bench_json_num(f, g[k].measured);
			fputs(", \"unit\": ", f);
			bench_json_str(f, g[k].unit);
			fprintf(f, ", \"met\": %s, \"missed_by\": ",
				g[k].met < 0 ? "null" : g[k].met ? "true" : "false");
			bench_json_num(f, g[k].missed_by);
			fprintf(f, ", \"verdict\": \"%s\", \"noise\": ", g[k].met > 0 ? "met" : !g[k].met ? "missed"
				: g[k].unresolved ? "unresolved" : "unknown");
			bench_json_num(f, g[k].noise);
			if (g[k].note[0]) {
				fputs(", \"note\": ", f);
				bench_json_str(f, g[k].note);
			}
			fputs("}", f);
		}
		fputs("}", f);
		first = false;
	}
	fputs(first ? "}" : "\n  }", f);
}

int bench_report_json(FILE *f, const struct bench_results *res)
{
	fputs("{\n  \"machine\": ", f);
	json_setup(f, res);
	fputs("  \"limit\": {\"madvise_gib_s\": ", f);
	bench_json_num(f, res->limit.med);
	fputs("},\n  \"engines\": {", f);
	json_engines(f, res);
	fputs("\n  },\n  \"goals\": {", f);
	json_goals(f, res);
	fputs("\n}\n", f);
	return ferror(f) ? -EIO : 0;
}

/* ---- plots ---- */

static void gp_num(FILE *f, double v)
{
	if (v == BENCH_NULL || !isfinite(v))
		fputs(" NaN", f);
	else
		fprintf(f, " %.6g", v);
}

/* plot-data.txt: blocks 0..n-1 the engines' curves, block n the bars. */
static void plot_data(FILE *d, const struct bench_results *res)
{
	for (unsigned i = 0; i < res->nengines; i++) {
		fprintf(d, "# %s\n", res->e[i].name);
		for (size_t k = 0; k < res->e[i].curve_n; k++)
			fprintf(d, "%.2f %.1f\n", res->e[i].curve_t[k] / 1e3, res->e[i].curve_rss[k]);
		if (!res->e[i].curve_n)
			fputs("NaN NaN\n", d);
		fputs("\n\n", d);
	}
	fputs("# engine exits_per_gib fragmented_exits_per_gib ratio_vs_off ratio_vs_off_cpu "
	      "burst_alloc_ratio_vs_off ratio_vs_off_insn\n", d);
	for (unsigned i = 0; i < res->nengines; i++) {
		fprintf(d, "%s", res->e[i].name);
		gp_num(d, res->e[i].st[FIG_EXITS].med);
		gp_num(d, res->e[i].st[FIG_FRAG_EXITS].med);
		gp_num(d, res->e[i].st[FIG_RATIO].med);
		gp_num(d, res->e[i].st[FIG_RATIO_CPU].med);
		gp_num(d, res->e[i].st[FIG_BURST_RATIO].med);
		gp_num(d, res->e[i].st[FIG_RATIO_INSN].med);
		fputc('\n', d);
	}
}

/* plots.gp: reclaim.svg, exits.svg and overhead.svg from plot-data.txt. */
static void plot_script(FILE *g, const struct bench_results *res)
{
	const char *hv = !strcmp(res->hypervisor, "qemu")
		? (!strcmp(res->accel, "tcg") ? "QEMU TCG" : "QEMU KVM") : "pagehint run";
	fprintf(g, "set terminal svg size 900,480 dynamic font 'sans,12' background rgb 'white'\n"
		"set datafile missing 'NaN'\n"
		"names = \"");
	for (unsigned i = 0; i < res->nengines; i++)
		fprintf(g, "%s%s", i ? " " : "", res->e[i].name);
	fprintf(g, "\"\n"
		"set output 'reclaim.svg'\n"
		"set title 'Guest RAM resident on the host (%s, %u vCPUs, %llu MiB; memhog %llu MiB freed at t = 0)'\n"
		"set xlabel 'seconds since the guest freed the memory'\n"
		"set ylabel 'resident MiB'\nset grid\nset key outside right\n"
		"plot for [i=1:%u] 'plot-data.txt' index (i-1) using 1:2 with lines lw 2 title word(names, i)\n",
		hv, res->cpus, (unsigned long long)res->mem_mib, (unsigned long long)res->hog_mib,
		res->nengines);
	fprintf(g, "set output 'exits.svg'\n"
		"set title 'Device exits per GiB returned (%s; log scale; no bar: nothing returned)'\n"
		"set xlabel ''\nset ylabel 'exits per GiB'\nset logscale y\n"
		"set style data histograms\nset style histogram clustered gap 1\n"
		"set style fill solid 0.8 border -1\nset key inside top left\nset grid ytics\n"
		"plot 'plot-data.txt' index %u using 2:xtic(1) title 'reclaim (memhog)', "
		"'' index %u using 3 title 'fragmented'\n", hv, res->nengines, res->nengines);
	fprintf(g, "set output 'overhead.svg'\nunset logscale y\n"
		"set title 'Guest costs with the engine / with off, paired runs, median (%s)'\n"
		"set ylabel 'ratio vs off'\nset yrange [0:*]\nset key outside right\n"
		"plot 'plot-data.txt' index %u using 4:xtic(1) title 'churn pages/s', "
		"'' index %u using 5 title 'churn pages/CPU-s', "
		"'' index %u using 6 title 'burst alloc time', "
		"'' index %u using 7 title 'churn pages/Ginsn (exact)', "
		"1 with lines dt 2 lc rgb 'black' notitle\n",
		hv, res->nengines, res->nengines, res->nengines, res->nengines);
}

/* gnuplot over plots.gp in dir; false with why if it did not draw. */
static bool plot_run(const char *dir, char *why, size_t cap)
{
	/* gnuplot runs in dir, so the script's relative names work there. */
	char script[4096];
	snprintf(script, sizeof(script), "cd \"$1\" && exec gnuplot plots.gp");
	const char *argv[] = { "sh", "-c", script, "sh", (char *)dir, NULL };
	struct bench_child c = { .argv = argv, .timeout_s = 60 };
	struct bench_run r;
	bench_run_init(&r);
	int e = bench_child_run(&c, &r, NULL);
	bool ok = !e && !c.timed_out && WIFEXITED(c.wstatus) && WEXITSTATUS(c.wstatus) == 0;
	if (!ok) {
		if (!e && WIFEXITED(c.wstatus) && WEXITSTATUS(c.wstatus) == 127)
			snprintf(why, cap, "gnuplot is not installed (Debian: gnuplot-nox; "
				 "scripts/setup.sh installs it)");
		else
			snprintf(why, cap, "gnuplot failed: %.150s",
				 r.console ? r.console : c.timed_out ? "timeout" : "?");
	}
	bench_run_free(&r);
	return ok;
}

/* dir/name made for writing; NULL with why if it cannot be. */
static FILE *create_in(const char *dir, const char *name, char *why, size_t cap)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		snprintf(why, cap, "%s: %s", path, strerror(errno));
	return f;
}

int bench_report_plots(const char *dir, const struct bench_results *res, char *why, size_t cap)
{
	FILE *d = create_in(dir, "plot-data.txt", why, cap);
	if (!d)
		return -1;
	plot_data(d, res);
	fclose(d);

	FILE *g = create_in(dir, "plots.gp", why, cap);
	if (!g)
		return -1;
	plot_script(g, res);
	fclose(g);

	return plot_run(dir, why, cap) ? 0 : -1;
}
