/* SPDX-License-Identifier: MIT */
/*
 * `pagehint bench`: every reporting engine side by side on the figures of
 * docs/design.md §5, on one machine, in one run.
 *
 *   bench.c         the command line, the plan (scenarios x engines x reps),
 *                   progress, Ctrl-C
 *   bench_child.c   one guest run as a child process: console lines
 *                   timestamped as they arrive, the child's resident memory
 *                   and CPU time sampled every 10 ms, timeout, kill
 *   bench_qemu.c    the QEMU backend (microvm + virtio-balloon; device
 *                   register accesses counted from QEMU's trace events)
 *   bench_vmm.c     the pagehint backend (`pagehint run` children, their
 *                   --trace CSV)
 *   bench_figures.c figures from a run record (t50/t90/t99, returned
 *                   shares, per-GiB costs), medians over repetitions
 *   bench_limit.c   raw madvise(MADV_DONTNEED) throughput, in-process
 *   bench_goals.c   the engine goals, judged from the medians
 *   bench_report.c  the table, CSV, results.json, gnuplot plots
 *
 * Everything a child does is bounded by a timeout; a child is killed when
 * the bench ends for any reason (and by PR_SET_PDEATHSIG if the bench
 * itself is killed).
 */
#ifndef VMM_BENCH_H
#define VMM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* `pagehint bench`; argv is main()'s, argv[1] is "bench". */
int bench_main(int argc, const char *const *argv);

/* ---- one guest run ---- */

#define BENCH_MAX_FREE 8
#define BENCH_MAX_BURSTS 256

struct bench_sample {
	double t_ms;		/* since the run's start */
	double rss_mib;		/* guest RAM resident on the host */
	double exits;		/* the device's exits, cumulative; < 0: not known */
	double exits_all;	/* every exit seen, cumulative (pagehint only) */
};

struct bench_run {
	struct bench_sample *s;
	size_t n, cap;

	bool have_alloc;			/* the first "@event alloc" line */
	double alloc_t_ms, alloc_cpu_ms;
	/* Frees: each "@event free mib=N" line, timed from the
	 * "@event freeing" line before it (the start of the free; the free
	 * line's own time if there is none). */
	unsigned nfree;
	double free_t_ms[BENCH_MAX_FREE];	/* start, on the samples' clock */
	double free_end_t_ms[BENCH_MAX_FREE];	/* the free line */
	double free_mib[BENCH_MAX_FREE];
	double free_cpu_ms[BENCH_MAX_FREE];	/* child CPU time at the start */
	bool freeing;				/* a freeing line awaits its free */
	double freeing_t_ms, freeing_cpu_ms;

	/* workload=burst: "@event bursts" begins, "@event burst n=I ...
	 * alloc_us=A" per burst (the first BENCH_MAX_BURSTS kept). */
	bool have_bursts;
	double bursts_t_ms, bursts_cpu_ms;
	unsigned nbursts;
	double burst_alloc_us[BENCH_MAX_BURSTS];

	/* workload=churn: "@event churn" when it starts, for the CPU the
	 * hypervisor spent until @done (and the time, for what the host saw
	 * in between). */
	bool have_churn;
	double churn_t_ms, churn_cpu_ms, done_cpu_ms;

	bool have_engine_counts;		/* "@engine ... requests=" seen */
	double requests, reported_mib;
	double pages_per_s, pages_total;	/* churn's @done; < 0: none */
	double pages_per_s_med;		/* churn's median guest-timed round as a rate; < 0: none */
	double reported_taken_mib;		/* "@mem ... reported_taken_mib="; < 0: none */
	bool done;				/* an @done line */
	double done_t_ms;
	unsigned fail_lines;			/* @fail, @fault */
	bool bad_cmdline;			/* "bad command line" */
	char first_error[200];			/* first @fail/@fault/bad line */

	/* engine=pagehint report.mode=exitless (docs/exitless.md): the
	 * guest's "@engine ... mode=exitless active=1" (xl_active) or its
	 * fallback line (xl_fallback, with the reason it gave); its "@xl"
	 * counters at the end; the VMM's, from its summary JSON's "exitless"
	 * object (< 0: not known); the scanner thread's CPU (< 0: not seen). */
	bool xl_active, xl_fallback;
	char xl_fallback_reason[48];
	bool have_xl;				/* an "@xl" line */
	double xl_published, xl_taken_back, xl_refaults, xl_waits, xl_wait_timeouts;
	double xl_reclaimed_frames, xl_skipped_frames, xl_discard_calls;
	double host_requests;			/* the summary's report_requests */
	double xl_cpu_ms;

	/* GET /metrics on pagehint run's control API (bench_scrape.c), every
	 * ~100 ms from the guest's freeing line to its @done: each answer's
	 * time, connect to last byte, and when it was asked (ms since the
	 * first). A scrape with no answer or not 200 is counted, not timed. */
	bool scraped;				/* the run served the API and was scraped */
	double *scrape_ms, *scrape_t_ms;
	size_t nscrape;
	unsigned scrape_failed;

	int guest_exit;		/* the guest's exit status; < 0: none */
	const char *end;	/* "exit", "timeout", "signal", "error" */
	double cpu_ms;		/* child's user + system time (wait4), less telemetry_cpu_ms */
	double telemetry_cpu_ms;	/* the VMM's own sampling ("pagehint: telemetry: ... cpu_ms=") */
	double wall_ms;
	bool exits_known;	/* samples carry exits */
	bool exits_all_known;	/* samples carry exits_all */
	char *console;		/* every console line, for diagnostics */
	size_t console_len, console_cap;
};

void bench_run_init(struct bench_run *r);
void bench_run_free(struct bench_run *r);
int bench_run_add_sample(struct bench_run *r, double t_ms, double rss_mib, double exits);
/* Record what one console line says, arriving at t_ms with the child's
 * CPU time cpu_ms so far. Also takes the VMM's "pagehint: telemetry:"
 * line. */
void bench_run_parse_line(struct bench_run *r, const char *line, double t_ms, double cpu_ms);

/* ---- figures ---- */

#define BENCH_NULL (-1.0)	/* a figure never reached or not known */

/* The exitless mode as a bench engine: this name runs the guest with
 * engine=pagehint report.mode=exitless. */
#define BENCH_ENGINE_XL "pagehint-exitless"
/* The guest's command-line words that select the bench's engine name. */
void bench_engine_args(const char *engine, char *buf, size_t cap);
/* The VMM's --summary-json: its "exitless" counters and report_requests
 * into r (fields it lacks stay unknown). 0, or -EINVAL if it has none. */
int bench_read_summary(FILE *f, struct bench_run *r);

struct bench_reclaim_fig {
	double t_ms[3];		/* 50, 90, 99 % of the freed memory back */
	double free_ms;		/* the guest's free itself: freeing line to free line */
	double lag99_ms;	/* 99 % back, after the free ended (0: by then) */
	double returned_10s, returned_35s;	/* fractions 0..1 */
	double exits_per_gib, requests_per_gib, host_cpu_ms_per_gib;
	double all_exits_per_gib;	/* every exit, not only the device's */
	double freed_mib, returned_mib;		/* drop by the end of the run */
};

struct bench_frag_fig {
	double returned_mib, exits_per_gib, all_exits_per_gib;
};

struct bench_scrape_fig {
	double scrapes, failed;			/* counts */
	double p50_ms, p99_ms, max_ms;		/* of the answered scrapes */
};

struct bench_burst_fig {
	double alloc_ms;		/* median over the bursts after the first */
	double resident_mean_mib;	/* samples from the bursts line to @done */
	double cpu_ms_per_burst;	/* the hypervisor's CPU, bursts line to @done */
};

/* After the first free event: the figures of the reclaim scenario. The
 * marks and the shares returned are reclaim_marks.h's, as `pagehint
 * run`'s summary has them: against the resident memory at the free's
 * start (its "@event freeing" line; the free line if there is none),
 * times in ms from there. The costs count from the first "@event alloc"
 * line (the free's start if there is none) to the end. */
void bench_reclaim_figures(const struct bench_run *r, struct bench_reclaim_fig *f);
/* From the alloc line until the second free begins (its freeing line, or
 * the first free line + hold_ms; the first frees the scattered pages, the
 * second the rest): how much came back, at what cost in exits. */
void bench_frag_figures(const struct bench_run *r, double hold_ms, struct bench_frag_fig *f);
/* workload=burst: the allocation time of a steady-state burst (the first
 * touches never-used memory under every engine alike and is left out; a
 * median, as a burst the host descheduled is not the engine's doing), the
 * mean resident memory over the bursts, and the hypervisor's CPU time per
 * burst (its vCPUs sleep between bursts: the work of a burst, the
 * engine's reports and the device's discards, whoever else ran). */
void bench_burst_figures(const struct bench_run *r, struct bench_burst_fig *f);
/* The run's /metrics scrapes: how many, how many failed, and the
 * nearest-rank p50 and p99 (the ceil(p/100 x n)-th fastest) and the max of
 * the answer times. All BENCH_NULL if the run was not scraped (QEMU: no
 * API); the times BENCH_NULL without an answer. */
void bench_scrape_figures(const struct bench_run *r, struct bench_scrape_fig *f);
/* workload=churn: pages per second of the hypervisor's CPU time from the
 * "@event churn" line to @done; BENCH_NULL if not known. */
double bench_churn_pages_per_cpu_s(const struct bench_run *r);
/* workload=churn under QEMU TCG's -icount BENCH_ICOUNT_OPTS, where the
 * guest's clock advances one ns per instruction executed: @done's
 * pages_per_s is pages per 10^9 guest instructions. BENCH_NULL without a
 * positive figure. (Our guest's and the Linux guest's @done lines alike.) */
#define BENCH_ICOUNT_OPTS "shift=0,sleep=off"
double bench_churn_pages_per_ginsn(const struct bench_run *r);
/* Share of the first free event's MiB back at_ms after its start (0..1,
 * reclaim_returned_at);
 * BENCH_NULL if the run ended before. */
double bench_returned_at(const struct bench_run *r, double at_ms);

/* x against the mean of the off runs right before and after it
 * (the one known if the other is not; BENCH_NULL if neither is). */
double bench_vs_neighbours(double x, double before, double after);

/* min, median and max of the values that are not BENCH_NULL. With
 * null_is_never (times: "never reached"), a null counts as +infinity:
 * the median is null when most repetitions never got there. All three
 * are BENCH_NULL when nothing is known. */
struct bench_stat {
	double min, med, max;
};
struct bench_stat bench_stat_of(const double *v, unsigned n, bool null_is_never);

#endif
