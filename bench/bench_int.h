/* SPDX-License-Identifier: MIT */
/* The bench's parts, between its own files (see bench.h). */
#ifndef VMM_BENCH_INT_H
#define VMM_BENCH_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench.h"
#include "cli.h"

#define BENCH_MAX_ENGINES 8
#define BENCH_MAX_REPS 20

enum bench_hv { BENCH_HV_PAGEHINT, BENCH_HV_QEMU };

/* How guests are run. */
struct bench_host {
	enum bench_hv hv;
	bool kvm;			/* QEMU: -enable-kvm, else TCG */
	const char *guest_elf;		/* pagehint: --kernel (our ELF, or a bzImage) */
	const char *initrd;		/* pagehint: --initrd for a bzImage; NULL: none */
	const char *self_exe;		/* this program, for `pagehint run` */
	unsigned cpus;
	uint64_t mem_mib;
	const char *tmpdir;		/* traces of the children */
};

/* One guest run. */
struct bench_job {
	const char *cmdline;		/* the guest's */
	double timeout_s;
	const char *tag;		/* names its files */
	void (*on_line)(void *arg, const char *line);
	void (*on_sample)(void *arg, double t_ms, double rss_mib);
	void *arg;
	bool keep_trace;		/* pagehint: leave TMPDIR/TAG.trace.csv */
	bool icount;			/* QEMU TCG: -icount shift=0 (a ns per instruction) */
	bool populate;			/* guest RAM pre-faulted before boot */
	bool scrape;			/* pagehint: --api-sock, /metrics scraped (bench_scrape.h) */
};

/* 0 when the child ran (r says how it ended), -errno if it could not be
 * started. */
int bench_qemu_run(const struct bench_host *h, const struct bench_job *j, struct bench_run *r,
		   volatile sig_atomic_t *stop);
int bench_vmm_run(const struct bench_host *h, const struct bench_job *j, struct bench_run *r,
		  volatile sig_atomic_t *stop);
/* The `pagehint run` command line bench_vmm_run runs: its argv (NULL
 * ended) and the files it names, TMPDIR/TAG.trace.csv and
 * TMPDIR/TAG.summary.json, and for a job that scrapes (and a path that
 * fits a Unix socket) --api-sock TMPDIR/api.sock ("" otherwise). */
struct bench_vmm_argv {
	char mem[32], cpus[16], timeout[32], trace[4096], summary[4096], api_sock[108];
	const char *argv[26];
};
void bench_vmm_argv(const struct bench_host *h, const struct bench_job *j, struct bench_vmm_argv *a);
/* Why h's runs serve no control API to scrape (QEMU has none; a run
 * folder too long for a socket's path), in buf; NULL when they do. */
const char *bench_vmm_no_api(const struct bench_host *h, char *buf, size_t cap);
/* A `pagehint run --trace` CSV into r's samples, its columns found by
 * name: resident memory, device_exits as the exits, exits + notifications
 * as exits_all (each known only if the trace has it); samples after
 * done_ms (>= 0) left out. 0, or -EINVAL without a usable header. */
int bench_vmm_read_trace(FILE *f, struct bench_run *r, double done_ms);
/* "QEMU emulator version 7.2.x" → "7.2.x" in buf; false if no QEMU. */
bool bench_qemu_version(char *buf, size_t cap);

/* Raw madvise(MADV_DONTNEED) throughput on mib MiB of touched THP memory,
 * in 2 MiB ranges: GiB/s, or < 0 on failure. */
double bench_limit_madvise_gib_s(uint64_t mib);

/* ---- results ---- */

enum bench_fig {
	FIG_T50, FIG_T90, FIG_T99,
	FIG_FREE,	/* the guest's free itself */
	FIG_LAG99,	/* t99 after the free ended */
	FIG_RET10, FIG_RET35, FIG_EXITS,
	FIG_EXITS_ALL,	/* every exit, beside the device's */
	FIG_REQS, FIG_CPU,
	FIG_SPEED,	/* 90% of the freed memory / t90, as a share of the madvise limit */
	FIG_FRAG_MIB, FIG_FRAG_EXITS, FIG_FRAG_EXITS_ALL, FIG_PPS, FIG_RATIO,
	FIG_PPS_CPU,	/* churn pages per second of the hypervisor's CPU time */
	FIG_RATIO_CPU,
	FIG_PPS_INSN,	/* churn pages per 10^9 guest instructions (TCG -icount) */
	FIG_RATIO_INSN,
	FIG_PPS_MED,	/* churn: the median guest-timed round, as pages/s */
	FIG_RATIO_MED,
	FIG_CHURN_TAKEN,	/* churn: MiB of Reported memory allocations took (host refaults) */
	FIG_BURST_ALLOC, FIG_BURST_RATIO, FIG_BURST_RSS, FIG_BURST_RSS_UP,
	FIG_BURST_CPU, FIG_BURST_CPU_RATIO,
	FIG_BURST_TAKEN,	/* burst: MiB of Reported memory allocations took (host refaults) */
	/* GET /metrics during the reclaim run (bench_scrape_figures) */
	FIG_SCRAPE_N, FIG_SCRAPE_FAILED, FIG_SCRAPE_P50, FIG_SCRAPE_P99, FIG_SCRAPE_MAX,
	/* The exitless mode's costs, BENCH_XL_NFIG per scenario (bench_xl_fig) */
	FIG_XL_FIRST,
	FIG_XL_LAST = FIG_XL_FIRST + 4 * 6 - 1,
	FIG_COUNT,
	FIG_NONE = FIG_COUNT
};

/* The exitless figures of each scenario, in this order. */
enum bench_xl_kind {
	XL_CPU,		/* the scanner thread's CPU ms, the whole run */
	XL_DISCARDS,	/* its discard calls */
	XL_RECLAIMED,	/* frames it discarded */
	XL_SKIPPED,	/* frames it claimed that were not resident: no discard */
	XL_TAKEN,	/* frames the guest took back (FREE or RECLAIMED) */
	XL_WAITS,	/* the guest's waits on a RECLAIMING frame */
	BENCH_XL_NFIG
};
enum bench_scen { SCEN_RECLAIM, SCEN_FRAG, SCEN_BURST, SCEN_CHURN, BENCH_NSCEN };
_Static_assert(FIG_XL_LAST - FIG_XL_FIRST + 1 == BENCH_NSCEN * BENCH_XL_NFIG, "xl figures");
static inline enum bench_fig bench_xl_fig(enum bench_scen s, enum bench_xl_kind k)
{
	return (enum bench_fig)(FIG_XL_FIRST + s * BENCH_XL_NFIG + k);
}
/* A run's exitless figures into v (BENCH_NULL where not known: all of
 * them unless the guest ran the exitless mode). */
void bench_xl_figures(const struct bench_run *r, double v[BENCH_XL_NFIG]);

struct bench_fig_info {
	const char *scenario, *json_key, *unit;	/* json_key NULL: CSV only */
	bool null_is_never;		/* a null is "never reached" */
};
extern const struct bench_fig_info bench_figs[FIG_COUNT];

struct bench_engine_res {
	char name[24];
	double v[FIG_COUNT][BENCH_MAX_REPS];	/* BENCH_NULL where none */
	struct bench_stat st[FIG_COUNT];
	/* The first repetition's reclaim curve, for the plot: t_ms from
	 * the free event, resident MiB. */
	double *curve_t, *curve_rss;
	size_t curve_n;
	char note[200];			/* e.g. why a run failed */
	/* pagehint-exitless: the guest ran the standard mode instead (the
	 * device has no exitless map: QEMU), with its reason */
	char fallback[64];
};

/* The host a bench ran on (bench_machine_info). */
struct bench_machine {
	char date[40], cpu_model[128], kernel[160];
	unsigned host_cpus;
};

struct bench_results {
	struct bench_machine machine;
	char qemu_version[40];
	const char *hypervisor;		/* "pagehint" or "qemu" */
	const char *accel;		/* "kvm" or "tcg" */
	char hv_reason[320];		/* why this hypervisor */
	char exits_source[200];
	char exits_all_source[200];	/* "": not counted */
	char no_api[160];		/* why no run was scraped ("": they were) */
	unsigned cpus, reps;
	uint64_t mem_mib, hog_mib, frag_mib;
	unsigned idle_ms, frag_hold_ms, churn_ms, churn_mib, seed;
	bool icount;			/* the churn was also counted in instructions */
	unsigned burst_mib, burst_count, burst_period_ms;
	bool quick;

	struct bench_stat limit;	/* GiB/s */
	double limit_v[BENCH_MAX_REPS];

	unsigned nengines;
	struct bench_engine_res e[BENCH_MAX_ENGINES];
};

/* ---- the engine goals (docs/design.md §7) ---- */

#define BENCH_MAX_GOALS 20

struct bench_goal {
	const char *key, *what, *unit;	/* results.json key, table text */
	bool at_most;			/* met when measured <= target, else >= */
	double target, measured;	/* BENCH_NULL: not known */
	int met;			/* 1, 0, or -1: cannot tell */
	bool unresolved;		/* met -1 because the margin is inside the noise */
	double noise;			/* the method's own spread (off against off), or null */
	double missed_by;		/* when missed: |measured - target|, else null */
	char note[96];
};

/* The goals for engine i of res (its medians; res finished). */
unsigned bench_goals(const struct bench_results *res, unsigned i, struct bench_goal *g);

void bench_results_finish(struct bench_results *res);
void bench_report_table(FILE *f, const struct bench_results *res);
/* The goals section of the table (bench_goals). */
void bench_report_goals(FILE *f, const struct bench_results *res);
int bench_report_csv(const char *path, const struct bench_results *res);
int bench_report_json(FILE *f, const struct bench_results *res);
int bench_report_curves(const char *path, const struct bench_results *res);
/* The plots into dir with gnuplot; 0, or a reason in why. */
int bench_report_plots(const char *dir, const struct bench_results *res, char *why, size_t cap);

/* ---- bench/bench_util.c ---- */

/* as `pagehint run`: sysexits' EX_USAGE, never the guest's own 2 */
#define BENCH_EXIT_USAGE CLI_EXIT_USAGE

/* "WHO: message" on stderr; returns BENCH_EXIT_USAGE. */
int bench_bad(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0 if the file at path can be read, else "WHO: WHAT PATH: reason" on
 * stderr and BENCH_EXIT_USAGE. */
int bench_need_file(const char *who, const char *what, const char *path);
int bench_mkdir_p(const char *dir);	/* 0 or -errno */
/* Where the runs go: OUT/runs (made if need be), or without --out a fresh
 * PREFIX.XXXXXX under $TMPDIR (*temp set: removed at the end). 0, or the
 * usage status after one line on stderr. */
int bench_run_dir(const char *who, const char *out, const char *prefix, char *dir, size_t cap,
		  bool *temp);
/* `pagehint run --trace` CSV, read by column name: col[k] is the index of
 * names[k] in the header line (which is cut up), or -1. */
void bench_csv_columns(char *header, const char *const *names, int n, int *col);
/* A row's values of the columns col names (those >= 0) into v; false if
 * one of them is missing or not a number. */
bool bench_csv_row(const char *line, const int *col, int n, double *v);
void bench_rm_tree(const char *dir);
void bench_json_str(FILE *f, const char *s);
void bench_json_num(FILE *f, double v);	/* null for BENCH_NULL or not finite */
/* NULL when /dev/kvm is usable, else why not (in buf). */
const char *bench_kvm_unusable(char *buf, size_t cap);

void bench_machine_info(struct bench_machine *m);
/* '{"date": …, "cpu": …, "kernel": …, "host_cpus": N' (the caller adds
 * its own fields and the closing brace) */
void bench_json_machine(FILE *f, const struct bench_machine *m);

#endif
