/* SPDX-License-Identifier: MIT */
/*
 * `pagehint bench`: the command line, the plan and its progress.
 *
 * Per repetition: the madvise limit, then for each engine (off first, all
 * with the same seed) reclaim (memhog, free, idle) and fragmented
 * (workload=fragment), then the paired sequence off, A, off, B, off of
 * burst (workload=burst) and overhead (workload=churn on every vCPU) runs,
 * whose costs are compared with the off runs beside them. Engines are
 * interleaved within a repetition so slow drift of the machine hits them
 * alike. Figures: bench_figures.c; goals: bench_goals.c; output:
 * bench_report.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench_int.h"
#include "bench_scrape.h"
#include "cli.h"
#include "clock.h"
#include "front.h"
#include "log.h"

#define EXIT_FAILED 1
#define EXIT_SIGNAL 130
/* The guest idles this much longer than the point measured last (35 s),
 * so that point lies inside the run whatever the guest's clock says. */
#define IDLE_MARGIN_MS 2000
/* The job runner of the burst scenario: a burst every 500 ms. */
#define BURST_PERIOD_MS 500

struct opts {
	bool quick;
	char engines[BENCH_MAX_ENGINES][24];
	unsigned nengines;
	bool engines_given;
	unsigned reps, cpus, seed;	/* reps 0: the default */
	uint64_t mem;
	long idle_ms, hold_ms, churn_ms, churn_mib, burst_mib, bursts;	/* < 0: the default */
	const char *out, *kernel;
	int hv;				/* -1: choose */
};

static int add_engine(struct opts *o, const char *name, size_t len, char *err, size_t n)
{
	if (!len || len >= sizeof(o->engines[0]))
		return vmm_fail(err, n, "bad engine name '%.*s'", (int)len, name);
	for (unsigned i = 0; i < o->nengines; i++)
		if (strlen(o->engines[i]) == len && !strncmp(o->engines[i], name, len))
			return 0;
	if (o->nengines == BENCH_MAX_ENGINES)
		return vmm_fail(err, n, "at most %d engines", BENCH_MAX_ENGINES);
	memcpy(o->engines[o->nengines], name, len);
	o->engines[o->nengines++][len] = 0;
	return 0;
}

/* --engines: the list replaces the default. */
static int read_engines(void *dst, const char *v, char *err, size_t n)
{
	struct opts *o = dst;

	o->nengines = 0;
	o->engines_given = true;
	for (const char *p = v;;) {
		size_t l = strcspn(p, ",");
		if (add_engine(o, p, l, err, n))
			return -1;
		if (!p[l])
			return 0;
		p += l + 1;
	}
}

static const struct opt_word hypervisors[] = {
	{ "pagehint", BENCH_HV_PAGEHINT }, { "qemu", BENCH_HV_QEMU }, { NULL, 0 },
};

#define AT(field) OPT_AT(struct opts, field)
#define MS_MAX 3600000
static const struct opt options[] = {
	{ "--quick", NULL, OPT_FLAG, AT(quick),
	  .help = "a short smoke run (1 GiB guest, 12 s idle, 1 rep)" },
	{ "--engines", "LIST", OPT_CALL, .call = read_engines,
	  .help = "comma-separated (default: off,seed-v8,max-order,\n"
		  "upstream,pagehint,pagehint-exitless; those the\n"
		  "guest does not know are left out with a note);\n"
		  "off is always run. pagehint-exitless: pagehint's\n"
		  "exitless mode (report.mode=exitless)" },
	{ "--reps", "N", OPT_UINT, AT(reps), .min = 1, .max = BENCH_MAX_REPS,
	  .help = "repetitions, 1-20 (default 3; --quick: 1)" },
	{ "--mem", "SIZE", OPT_SIZE, AT(mem), .min = 64ULL << 20, .max = 64ULL << 30,
	  .help = "guest RAM (default 2G; --quick: 1G); memhog frees\n3/4 of it" },
	{ "--cpus", "N", OPT_UINT, AT(cpus), .min = 1, .max = 16, .help = "vCPUs (default 2)" },
	{ "--idle-ms", "N", OPT_UINT, AT(idle_ms), .min = 1, .max = MS_MAX,
	  .help = "idle after the free (default 35000; --quick: 12000)" },
	{ "--hold-ms", "N", OPT_UINT, AT(hold_ms), .max = MS_MAX,
	  .help = "fragment: time between its two frees (default\n10000; --quick: 4000)" },
	{ "--churn-ms", "N", OPT_UINT, AT(churn_ms), .min = 1, .max = MS_MAX,
	  .help = "churn duration (default 5000; --quick: 2000)" },
	{ "--churn-mib", "N", OPT_UINT, AT(churn_mib), .max = 65536,
	  .help = "churn: MiB each vCPU takes and frees per round, as\n"
		  "page_fault1 (default 128, at most RAM/4 in all);\n"
		  "0: batches of 16 pages (the per-CPU lists only)" },
	{ "--burst-mib", "N", OPT_UINT, AT(burst_mib), .min = 2, .max = 100000,
	  .help = "burst: MiB allocated, written and freed per burst\n(default RAM/16)" },
	{ "--bursts", "N", OPT_UINT, AT(bursts), .min = 2, .max = 100000,
	  .help = "burst: how many, one every 500 ms (default 20;\n--quick: 8)" },
	{ "--seed", "N", OPT_UINT, AT(seed), .max = 0xffffffffu, .what = "a number",
	  .help = "the guest's seed (default 1)" },
	{ "--out", "DIR", OPT_PATH, AT(out),
	  .help = "write DIR/results.json, figures.csv, curves.csv,\n"
		  "table.txt, plots (gnuplot) and runs/*.console" },
	{ "--hypervisor", "pagehint|qemu", OPT_WORD, AT(hv), .words = hypervisors,
	  .help = "run guests under `pagehint run` (default when\n"
		  "/dev/kvm is usable) or QEMU's microvm with its\n"
		  "virtio-balloon (default otherwise; KVM if usable,\n"
		  "else TCG)" },
	{ "--kernel", "ELF", OPT_PATH, AT(kernel),
	  .help = "guest kernel (default: pagehint-guest.elf beside\nthis program)" },
	{ "--help", NULL, OPT_HELP, .help = "this text" },
};
static const struct opt_cmd bench_opts = {
	.cmd = "pagehint bench", .opts = options, .n = sizeof(options) / sizeof(options[0]),
};

static void usage(FILE *f)
{
	fputs(
"usage: pagehint bench [options]\n"
"\n"
"Run every reporting engine (and `off`) through the same scenarios with the\n"
"same seed and compare: reclaim latency and completeness, exits and requests\n"
"per GiB, host CPU per GiB, memory returned when free blocks are small, the\n"
"guest's allocation throughput against `off`, and the host's raw madvise\n"
"limit. A table on stdout; with --out, results.json, CSVs and plots.\n"
"\n", f);
	opt_help(f, &bench_opts);
	fputs(
"\n"
"Progress goes to stderr. Exit status: 0; 1 if a guest run failed; 64 bad\n"
"usage; 130 interrupted.\n", f);
}

/* 0, -1 for --help, or an exit status. */
static int parse(int argc, const char *const *argv, struct opts *o)
{
	char err[256];
	int i = 2;	/* argv is main()'s: argv[1] is "bench" */

	memset(o, 0, sizeof(*o));
	o->cpus = 2;
	o->seed = 1;
	o->idle_ms = o->hold_ms = o->churn_ms = o->churn_mib = o->burst_mib = o->bursts = -1;
	o->hv = -1;
	switch (opt_read(&bench_opts, argc, argv, &i, o, NULL, err, sizeof(err))) {
	case OPT_HELP_ASKED:
		return -1;
	case OPT_BAD:
		return bench_bad("pagehint bench", "%s", err);
	case OPT_DONE:
		break;
	}
	if (!o->engines_given) {
		static const char *const all[] = { "off", "seed-v8", "max-order", "upstream", "pagehint",
						   BENCH_ENGINE_XL };
		for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
			add_engine(o, all[k], strlen(all[k]), err, sizeof(err));
	}
	/* off is the baseline of the overhead ratio: always there, first. */
	unsigned off = o->nengines;
	for (unsigned i = 0; i < o->nengines; i++)
		if (!strcmp(o->engines[i], "off"))
			off = i;
	if (off == o->nengines) {
		if (o->nengines == BENCH_MAX_ENGINES)
			return bench_bad("pagehint bench", "--engines: at most %d engines with off", BENCH_MAX_ENGINES - 1);
		o->nengines++;
	}
	for (unsigned i = off; i > 0; i--)
		memcpy(o->engines[i], o->engines[i - 1], sizeof(o->engines[0]));
	strcpy(o->engines[0], "off");

	if (!o->mem)
		o->mem = o->quick ? 1ULL << 30 : 2ULL << 30;
	if (!o->reps)
		o->reps = o->quick ? 1 : 3;
	if (o->idle_ms < 0)
		o->idle_ms = o->quick ? 12000 : 35000;
	if (o->hold_ms < 0)
		o->hold_ms = o->quick ? 4000 : 10000;
	if (o->churn_ms < 0)
		o->churn_ms = o->quick ? 2000 : 5000;
	/* RAM/16 (128 MiB in 2 GiB): a burst's alloc, write, check and free
	 * take ~0.25 s under TCG, inside the 500 ms period. */
	if (o->burst_mib < 0)
		o->burst_mib = (long)(o->mem >> 24);
	if ((uint64_t)o->burst_mib >= (o->mem >> 20) / 2)
		return bench_bad("pagehint bench", "--burst-mib: %ld MiB is not below half the guest RAM", o->burst_mib);
	if (o->bursts < 0)
		o->bursts = o->quick ? 8 : 20;
	/* page_fault1's 128 MiB a task; the guest wants every vCPU's round
	 * in half its free memory: RAM/4 in all leaves room */
	uint64_t churn_max = (o->mem >> 20) / 4 / o->cpus;
	if (o->churn_mib < 0)
		o->churn_mib = (long)(churn_max < 128 ? churn_max : 128);
	if ((uint64_t)o->churn_mib > churn_max)
		return bench_bad("pagehint bench", "--churn-mib: %ld MiB x %u vCPUs is more than a "
				 "quarter of the guest RAM", o->churn_mib, o->cpus);
	return 0;
}

/* ---- progress on stderr ---- */

struct progress {
	bool tty;
	double t_start, t_step, last_draw;
	unsigned step, nsteps;
	char what[96];
	double rss;
};

static void clock_str(char *buf, size_t cap, double s)
{
	snprintf(buf, cap, "%u:%02u", (unsigned)(s / 60), (unsigned)s % 60);
}

static void draw(struct progress *p, bool force)
{
	double now = mono_s();
	if (!p->tty || (!force && now - p->last_draw < 0.25))
		return;
	p->last_draw = now;
	char el[16];
	clock_str(el, sizeof(el), now - p->t_start);
	fprintf(stderr, "\r\033[K[%2u/%u %s] %s  %5.1f s", p->step, p->nsteps, el, p->what,
		now - p->t_step);
	if (p->rss >= 0)
		fprintf(stderr, "  resident %5.0f MiB", p->rss);
	fflush(stderr);
}

/* A line above the live one (or a plain line when not a tty). */
__attribute__((format(printf, 2, 3)))
static void say(struct progress *p, const char *fmt, ...)
{
	va_list ap;
	if (p->tty)
		fputs("\r\033[K", stderr);
	char el[16];
	clock_str(el, sizeof(el), mono_s() - p->t_start);
	fprintf(stderr, "[%2u/%u %s] ", p->step, p->nsteps, el);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	draw(p, true);
}

static void on_sample(void *arg, double t_ms, double rss)
{
	struct progress *p = arg;
	(void)t_ms;
	p->rss = rss;
	draw(p, false);
}

static void on_line(void *arg, const char *line)
{
	struct progress *p = arg;
	/* One line per burst would drown the rest. */
	if ((!strncmp(line, "@event", 6) && strncmp(line, "@event burst ", 13)) ||
	    !strncmp(line, "@fail", 5) || !strncmp(line, "@fault", 6))
		say(p, "  guest: %s", line);
}

/* ---- the plan ---- */

/* One bench, from setup to teardown. */
struct bench {
	struct opts o;
	struct bench_host h;
	struct progress pg;
	struct bench_results *res;
	char nokvm_buf[200];
	const char *nokvm;		/* why KVM is unusable; NULL: usable */
	char self[PATH_MAX], kpath[PATH_MAX + 32];
	const char *kernel;
	char rundir[PATH_MAX];
	bool rundir_temp;
	unsigned failures;
	uint64_t hog_mib, frag_mib;
	int status;
};

static void save_console(struct bench *b, const char *tag, const struct bench_run *r)
{
	if (b->rundir_temp || !r->console)
		return;
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s.console", b->rundir, tag);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(r->console, f);
		fclose(f);
	}
	/* The samples too: every figure can be recomputed from these. */
	snprintf(path, sizeof(path), "%s/%s.samples.csv", b->rundir, tag);
	f = r->n ? fopen(path, "w") : NULL;
	if (f) {
		fputs("t_ms,resident_mib,exits,all_exits\n", f);
		for (size_t i = 0; i < r->n; i++)
			fprintf(f, "%.1f,%.2f,%.0f,%.0f\n", r->s[i].t_ms, r->s[i].rss_mib,
				r->exits_known ? r->s[i].exits : -1,
				r->exits_all_known ? r->s[i].exits_all : -1);
		fprintf(f, "# alloc_ms=%.1f free_ms=%.1f free_end_ms=%.1f bursts_ms=%.1f done_ms=%.1f "
			"cpu_ms=%.0f\n", r->have_alloc ? r->alloc_t_ms : -1,
			r->nfree ? r->free_t_ms[0] : -1, r->nfree ? r->free_end_t_ms[0] : -1,
			r->have_bursts ? r->bursts_t_ms : -1, r->done ? r->done_t_ms : -1, r->cpu_ms);
		fclose(f);
	}
}

/* Run one guest; false (and a note) if it did not end well. */
#define RUN_ICOUNT	1u	/* QEMU TCG: count guest instructions */
#define RUN_POPULATE	2u	/* guest RAM pre-faulted: no first-touch faults in the figures */
#define RUN_SCRAPE	4u	/* pagehint: GET /metrics from the free to @done (bench_scrape.c) */

static bool run_guest_on(struct bench *b, const char *tag, const char *what, const char *cmdline,
			 double timeout_s, unsigned flags, struct bench_run *r)
{
	struct bench_job j = { .cmdline = cmdline, .timeout_s = timeout_s, .tag = tag,
			       .on_line = on_line, .on_sample = on_sample, .arg = &b->pg,
			       .icount = flags & RUN_ICOUNT, .populate = flags & RUN_POPULATE,
			       .scrape = flags & RUN_SCRAPE };
	b->pg.step++;
	b->pg.t_step = mono_s();
	b->pg.rss = -1;
	snprintf(b->pg.what, sizeof(b->pg.what), "%s", what);
	if (!b->pg.tty)
		say(&b->pg, "%s ...", what);
	draw(&b->pg, true);

	bench_run_init(r);
	int e = b->h.hv == BENCH_HV_QEMU ? bench_qemu_run(&b->h, &j, r, &front_stop_signal)
					 : bench_vmm_run(&b->h, &j, r, &front_stop_signal);
	if (e) {
		say(&b->pg, "%s: cannot start the hypervisor: %s", what, strerror(-e));
		return false;
	}
	save_console(b, tag, r);
	bool good = !strcmp(r->end, "exit") && r->guest_exit == 0 && !r->fail_lines;
	if (front_stop_signal)
		return false;
	if (!good) {
		b->failures++;
		say(&b->pg, "%s FAILED: end %s, guest exit %d%s%s", what, r->end, r->guest_exit,
		    r->first_error[0] ? ": " : "", r->first_error);
		/* The last console lines say more. */
		if (r->console) {
			const char *p = r->console + r->console_len;
			for (int k = 0; k < 6 && p > r->console; p--)
				if (p[-1] == '\n' && p != r->console + r->console_len)
					k++;
			fprintf(stderr, "%s", p);
		}
	} else {
		say(&b->pg, "%s: done in %.1f s", what, r->wall_ms / 1e3);
	}
	return good;
}

static bool run_guest(struct bench *b, const char *tag, const char *what, const char *cmdline,
		      double timeout_s, struct bench_run *r)
{
	return run_guest_on(b, tag, what, cmdline, timeout_s, 0, r);
}

/* Is the engine known to the guest? A workload=none boot says. */
static int probe_engine(struct bench *b, const char *engine)
{
	char cmd[256], tag[64], what[96], args[64];
	struct bench_run r;
	bench_engine_args(engine, args, sizeof(args));
	snprintf(cmd, sizeof(cmd), "%s workload=none quiet", args);
	snprintf(tag, sizeof(tag), "probe-%s", engine);
	snprintf(what, sizeof(what), "probe engine=%s", engine);
	bool good = run_guest(b, tag, what, cmd, 60, &r);
	int ret = good ? 1 : r.bad_cmdline ? 0 : -1;
	if (!good && r.bad_cmdline)
		b->failures--;	/* not a failure: an engine this guest lacks */
	if (good && r.xl_fallback)
		say(&b->pg, "engine %s: the device has no exitless map (reason=%s): the guest runs "
		    "pagehint's standard mode; its figures are the standard mode's", engine,
		    r.xl_fallback_reason);
	bench_run_free(&r);
	return ret;
}

static void set_fig(struct bench_engine_res *e, enum bench_fig f, unsigned rep, double v)
{
	e->v[f][rep] = v;
}

/* The exitless figures of a run of scenario sc, and whether the guest fell
 * back to the standard mode. */
static void set_xl(struct bench_engine_res *e, enum bench_scen sc, unsigned rep,
		   const struct bench_run *r)
{
	double v[BENCH_XL_NFIG];
	bench_xl_figures(r, v);
	for (int k = 0; k < BENCH_XL_NFIG; k++)
		if (v[k] != BENCH_NULL)
			set_fig(e, bench_xl_fig(sc, (enum bench_xl_kind)k), rep, v[k]);
	if (r->xl_fallback && !e->fallback[0])
		snprintf(e->fallback, sizeof(e->fallback), "%s",
			 r->xl_fallback_reason[0] ? r->xl_fallback_reason : "?");
}

static void keep_curve(struct bench_engine_res *e, const struct bench_run *r)
{
	if (e->curve_n || !r->nfree || !r->n)
		return;
	e->curve_t = malloc((r->n / 10 + 2) * sizeof(double));
	e->curve_rss = malloc((r->n / 10 + 2) * sizeof(double));
	if (!e->curve_t || !e->curve_rss)
		return;
	/* Every 10th sample (100 ms) is plenty for a plot. */
	for (size_t i = 0; i < r->n; i += 10) {
		e->curve_t[e->curve_n] = r->s[i].t_ms - r->free_t_ms[0];
		e->curve_rss[e->curve_n++] = r->s[i].rss_mib;
	}
}

static void note_failure(struct bench_engine_res *e, const char *tag, const struct bench_run *r)
{
	snprintf(e->note, sizeof(e->note), "%.60s: %.120s", tag,
		 r->first_error[0] ? r->first_error : r->end);
}

static void churn_cmdline(const struct bench *b, const struct bench_engine_res *e, char *cmd,
			  size_t cap)
{
	char args[64];
	bench_engine_args(e->name, args, sizeof(args));
	snprintf(cmd, cap, "%s workload=churn seed=%u quiet churn.ms=%ld churn.mib=%ld",
		 args, b->o.seed, b->o.churn_ms, b->o.churn_mib);
}

/* The figures of one engine's burst and churn runs. */
#define NPAIRED 8
struct paired {
	double v[NPAIRED];
};
static const enum bench_fig paired_fig[NPAIRED] = {
	FIG_BURST_ALLOC, FIG_BURST_RSS, FIG_BURST_CPU, FIG_PPS, FIG_PPS_CPU, FIG_CHURN_TAKEN,
	FIG_BURST_TAKEN, FIG_PPS_MED,
};
static const enum bench_fig paired_ratio[NPAIRED] = {
	FIG_BURST_RATIO, FIG_NONE, FIG_BURST_CPU_RATIO, FIG_RATIO, FIG_RATIO_CPU, FIG_NONE,
	FIG_NONE, FIG_RATIO_MED,
};

static void run_paired(struct bench *b, unsigned rep, struct bench_engine_res *e, const char *slot,
		       struct paired *out)
{
	char cmd[512], tag[96], what[128], args[64];
	struct bench_run r;

	for (int k = 0; k < NPAIRED; k++)
		out->v[k] = BENCH_NULL;
	bench_engine_args(e->name, args, sizeof(args));
	snprintf(cmd, sizeof(cmd), "%s workload=burst seed=%u quiet burst.mib=%ld "
		 "burst.period_ms=%d burst.count=%ld", args, b->o.seed, b->o.burst_mib,
		 BURST_PERIOD_MS, b->o.bursts);
	snprintf(tag, sizeof(tag), "burst-%s-rep%u%s", e->name, rep + 1, slot);
	snprintf(what, sizeof(what), "rep %u/%u %s burst", rep + 1, b->o.reps, e->name);
	/* A burst may overrun its period on a loaded host: 4x is allowed. */
	double burst_s = b->o.bursts * 4.0 * BURST_PERIOD_MS / 1e3;
	if (run_guest(b, tag, what, cmd, 90 + burst_s, &r)) {
		struct bench_burst_fig bf;
		bench_burst_figures(&r, &bf);
		out->v[0] = bf.alloc_ms;
		out->v[1] = bf.resident_mean_mib;
		out->v[2] = bf.cpu_ms_per_burst;
		out->v[6] = r.reported_taken_mib;
		set_xl(e, SCEN_BURST, rep, &r);
	} else if (!e->note[0]) {
		note_failure(e, tag, &r);
	}
	bench_run_free(&r);
	if (front_stop_signal)
		return;

	churn_cmdline(b, e, cmd, sizeof(cmd));
	snprintf(tag, sizeof(tag), "churn-%s-rep%u%s", e->name, rep + 1, slot);
	snprintf(what, sizeof(what), "rep %u/%u %s overhead", rep + 1, b->o.reps, e->name);
	if (run_guest_on(b, tag, what, cmd, 90 + b->o.churn_ms / 1e3, RUN_POPULATE, &r) &&
	    r.pages_per_s >= 0) {
		out->v[3] = r.pages_per_s;
		out->v[4] = bench_churn_pages_per_cpu_s(&r);
		out->v[5] = r.reported_taken_mib;
		out->v[7] = r.pages_per_s_med;
		set_xl(e, SCEN_CHURN, rep, &r);
	} else if (!e->note[0]) {
		note_failure(e, tag, &r);
	}
	bench_run_free(&r);
}

/*
 * The costs on the guest (burst allocation time, churn throughput) are
 * compared with off run right before and right after the engine, in one
 * sequence per repetition: off, A, off, B, off, ... Each engine's ratio is
 * against the mean of its two neighbours, so a machine whose
 * speed drifts by minutes (other tenants on the 2 cores) hits both sides of
 * the ratio alike. off's own ratio is the same computation for an off run
 * between two off runs: what the method reads when nothing changed.
 */
static int paired_block(struct bench *b, unsigned rep)
{
	struct bench_results *res = b->res;
	unsigned n = res->nengines - 1;		/* engines besides off */
	struct paired off[BENCH_MAX_ENGINES], x[BENCH_MAX_ENGINES];
	char slot[16];

	for (unsigned i = 0; i <= n && !front_stop_signal; i++) {
		slot[0] = 0;
		if (n)
			snprintf(slot, sizeof(slot), ".%u", i + 1);
		run_paired(b, rep, &res->e[0], slot, &off[i]);
		if (i < n && !front_stop_signal)
			run_paired(b, rep, &res->e[i + 1], "", &x[i + 1]);
	}
	if (front_stop_signal)
		return -1;

	for (int k = 0; k < NPAIRED; k++) {
		double v[BENCH_MAX_ENGINES];
		for (unsigned i = 0; i <= n; i++)
			v[i] = off[i].v[k];
		set_fig(&res->e[0], paired_fig[k], rep, bench_stat_of(v, n + 1, false).med);
		for (unsigned i = 1; i <= n; i++)
			set_fig(&res->e[i], paired_fig[k], rep, x[i].v[k]);
		if (paired_ratio[k] == FIG_NONE)
			continue;
		for (unsigned i = 1; i <= n; i++)
			set_fig(&res->e[i], paired_ratio[k], rep,
				bench_vs_neighbours(x[i].v[k], off[i - 1].v[k], off[i].v[k]));
		if (n >= 2)
			set_fig(&res->e[0], paired_ratio[k], rep,
				bench_vs_neighbours(off[1].v[k], off[0].v[k], off[2].v[k]));
		else if (n == 1)
			set_fig(&res->e[0], paired_ratio[k], rep, bench_vs_neighbours(off[1].v[k], off[0].v[k], -1));
	}
	/* Mean resident memory against upstream's in the same repetition. */
	for (unsigned i = 0; i <= n; i++)
		if (!strcmp(res->e[i].name, "upstream")) {
			double up = res->e[i].v[FIG_BURST_RSS][rep];
			for (unsigned j = 0; j <= n && up > 0; j++)
				if (res->e[j].v[FIG_BURST_RSS][rep] > 0)
					set_fig(&res->e[j], FIG_BURST_RSS_UP, rep,
						res->e[j].v[FIG_BURST_RSS][rep] / up);
		}
	return 0;
}

/*
 * Churn counted in guest instructions (TCG only): QEMU's -icount shift=0
 * makes the guest's clock advance one nanosecond per instruction it
 * executes, whatever the host does, so pages per guest second are pages
 * per 10^9 instructions: what the allocator and the engine cost the guest,
 * repeatable to the page (nothing the host does is in it: its discards and
 * refaults show in pages/CPU-s). -icount runs the vCPUs in turn on one
 * host thread, so this is not a throughput. One run per engine and
 * repetition; each engine against off's run of the same repetition.
 */
static int icount_block(struct bench *b, unsigned rep)
{
	struct bench_results *res = b->res;
	char cmd[512], tag[96], what[128];
	double off = BENCH_NULL;

	if (!res->icount)
		return 0;
	for (unsigned i = 0; i < res->nengines && !front_stop_signal; i++) {
		struct bench_engine_res *e = &res->e[i];
		struct bench_run r;

		churn_cmdline(b, e, cmd, sizeof(cmd));
		snprintf(tag, sizeof(tag), "churn-icount-%s-rep%u", e->name, rep + 1);
		snprintf(what, sizeof(what), "rep %u/%u %s overhead (icount)", rep + 1, b->o.reps,
			 e->name);
		/* one instruction a ns: TCG runs ~0.3-1 G of them a second */
		double g = run_guest_on(b, tag, what, cmd, 90 + 4.0 * b->o.churn_ms / 1e3, RUN_ICOUNT, &r)
				   ? bench_churn_pages_per_ginsn(&r) : BENCH_NULL;
		if (g > 0) {
			set_fig(e, FIG_PPS_INSN, rep, g);
			if (i == 0)
				off = g;
			if (off > 0)
				set_fig(e, FIG_RATIO_INSN, rep, g / off);
		} else if (!e->note[0]) {
			note_failure(e, tag, &r);
		}
		bench_run_free(&r);
	}
	return front_stop_signal ? -1 : 0;
}

/* The progress line's steps: the probes, then per repetition the limit,
 * reclaim and fragmented per engine, the paired burst and churn runs
 * (off once more than the others) and the icount churn runs. */
static unsigned bench_steps(const struct bench *b, unsigned engines)
{
	return b->o.nengines + b->o.reps * (1 + 2 * engines + 2 * (2 * engines - 1) +
					     (b->res->icount ? engines : 0));
}

/* The reclaim run's /metrics scrapes: its figures, and a line saying them. */
static void set_scrape(struct bench *b, struct bench_engine_res *e, unsigned rep,
		       const struct bench_run *r)
{
	struct bench_scrape_fig sf;

	bench_scrape_figures(r, &sf);
	set_fig(e, FIG_SCRAPE_N, rep, sf.scrapes);
	set_fig(e, FIG_SCRAPE_FAILED, rep, sf.failed);
	set_fig(e, FIG_SCRAPE_P50, rep, sf.p50_ms);
	set_fig(e, FIG_SCRAPE_P99, rep, sf.p99_ms);
	set_fig(e, FIG_SCRAPE_MAX, rep, sf.max_ms);
	if (r->scraped && r->nscrape)
		say(&b->pg, "  %s: GET /metrics every %d ms from the free to @done: %.0f scrapes, "
		    "%.0f failed; answer p50 %.3f ms, p99 %.3f ms, max %.3f ms", e->name,
		    BENCH_SCRAPE_PERIOD_MS, sf.scrapes, sf.failed, sf.p50_ms, sf.p99_ms, sf.max_ms);
	else if (r->scraped)
		say(&b->pg, "  %s: GET /metrics from the free to @done: %.0f scrapes, none answered",
		    e->name, sf.scrapes);
}

/* The reclaim scenario (memhog, free, idle) on engine e; args selects it. */
static void run_reclaim(struct bench *b, unsigned rep, struct bench_engine_res *e, const char *args)
{
	const struct bench_results *res = b->res;
	char cmd[512], tag[96], what[128];
	struct bench_run r;
	struct bench_reclaim_fig rf;

	snprintf(cmd, sizeof(cmd),
		 "%s workload=memhog seed=%u quiet memhog.mib=%llu memhog.hold_ms=1000 "
		 "memhog.idle_ms=%ld", args, b->o.seed, (unsigned long long)b->hog_mib,
		 b->o.idle_ms + IDLE_MARGIN_MS);
	snprintf(tag, sizeof(tag), "reclaim-%s-rep%u", e->name, rep + 1);
	snprintf(what, sizeof(what), "rep %u/%u %s reclaim", rep + 1, b->o.reps, e->name);
	double hog_s = (double)b->hog_mib / 50.0;	/* TCG writes ~300 MiB/s */
	if (!run_guest_on(b, tag, what, cmd, 120 + b->o.idle_ms / 1e3 + hog_s, RUN_SCRAPE, &r)) {
		if (!e->note[0])
			note_failure(e, tag, &r);
		bench_run_free(&r);
		return;
	}
	bench_reclaim_figures(&r, &rf);
	set_fig(e, FIG_T50, rep, rf.t_ms[0]);
	set_fig(e, FIG_T90, rep, rf.t_ms[1]);
	set_fig(e, FIG_T99, rep, rf.t_ms[2]);
	set_fig(e, FIG_FREE, rep, rf.free_ms);
	set_fig(e, FIG_LAG99, rep, rf.lag99_ms);
	set_fig(e, FIG_RET10, rep, rf.returned_10s);
	set_fig(e, FIG_RET35, rep, rf.returned_35s);
	set_fig(e, FIG_EXITS, rep, rf.exits_per_gib);
	set_fig(e, FIG_EXITS_ALL, rep, rf.all_exits_per_gib);
	set_fig(e, FIG_REQS, rep, rf.requests_per_gib);
	set_fig(e, FIG_CPU, rep, rf.host_cpu_ms_per_gib);
	/* t90 = 0: back before the free ended, no speed to say */
	if (rf.t_ms[1] > 0 && res->limit_v[rep] > 0)
		set_fig(e, FIG_SPEED, rep,
			0.9 * rf.freed_mib / 1024.0 / (rf.t_ms[1] / 1e3) / res->limit_v[rep]);
	set_xl(e, SCEN_RECLAIM, rep, &r);
	set_scrape(b, e, rep, &r);
	keep_curve(e, &r);
	char t[3][16];
	for (int k = 0; k < 3; k++)
		if (rf.t_ms[k] == BENCH_NULL)
			snprintf(t[k], sizeof(t[k]), "never");
		else
			snprintf(t[k], sizeof(t[k]), "%.2f s", rf.t_ms[k] / 1e3);
	say(&b->pg, "  %s: freed %.0f MiB, back %.0f MiB; t50 %s, t90 %s, t99 %s; "
	    "%.0f requests", e->name, rf.freed_mib, rf.returned_mib, t[0], t[1], t[2],
	    r.xl_active ? r.host_requests : r.requests);
	if (r.xl_active)
		say(&b->pg, "  %s: exitless: the scanner discarded %.0f frames in %.0f calls "
		    "(%.0f claimed not resident: skipped), %.1f ms of CPU; the guest took "
		    "%.0f back, waited %.0f times", e->name, r.xl_reclaimed_frames,
		    r.xl_discard_calls, r.xl_skipped_frames, r.xl_cpu_ms, r.xl_taken_back,
		    r.xl_waits);
	bench_run_free(&r);
}

/* The fragmented scenario (workload=fragment) on engine e. */
static void run_fragment(struct bench *b, unsigned rep, struct bench_engine_res *e, const char *args)
{
	char cmd[512], tag[96], what[128];
	struct bench_run r;
	struct bench_frag_fig ff;

	snprintf(cmd, sizeof(cmd),
		 "%s workload=fragment seed=%u quiet fragment.mib=%llu fragment.keep=50 "
		 "fragment.hold_ms=%ld", args, b->o.seed, (unsigned long long)b->frag_mib,
		 b->o.hold_ms);
	snprintf(tag, sizeof(tag), "fragment-%s-rep%u", e->name, rep + 1);
	snprintf(what, sizeof(what), "rep %u/%u %s fragmented", rep + 1, b->o.reps, e->name);
	if (run_guest(b, tag, what, cmd, 120 + b->o.hold_ms / 1e3 + b->frag_mib / 50.0, &r)) {
		bench_frag_figures(&r, (double)b->o.hold_ms, &ff);
		set_fig(e, FIG_FRAG_MIB, rep, ff.returned_mib);
		set_fig(e, FIG_FRAG_EXITS, rep, ff.exits_per_gib);
		set_fig(e, FIG_FRAG_EXITS_ALL, rep, ff.all_exits_per_gib);
		set_xl(e, SCEN_FRAG, rep, &r);
	} else if (!e->note[0]) {
		note_failure(e, tag, &r);
	}
	bench_run_free(&r);
}

/* One repetition: the madvise limit, reclaim and fragmented per engine,
 * the paired block, the icount block; -1 once a signal stops it. */
static int bench_rep(struct bench *b, unsigned rep)
{
	struct bench_results *res = b->res;

	b->pg.step++;
	snprintf(b->pg.what, sizeof(b->pg.what), "rep %u: madvise limit", rep + 1);
	b->pg.t_step = mono_s();
	b->pg.rss = -1;
	draw(&b->pg, true);
	res->limit_v[rep] = bench_limit_madvise_gib_s(b->hog_mib);
	if (res->limit_v[rep] < 0)
		res->limit_v[rep] = BENCH_NULL;
	say(&b->pg, "rep %u: madvise(MADV_DONTNEED) on %llu MiB of THP memory: %.1f GiB/s", rep + 1,
	    (unsigned long long)b->hog_mib, res->limit_v[rep]);

	for (unsigned i = 0; i < res->nengines && !front_stop_signal; i++) {
		char args[64];
		bench_engine_args(res->e[i].name, args, sizeof(args));
		run_reclaim(b, rep, &res->e[i], args);
		if (front_stop_signal)
			break;
		run_fragment(b, rep, &res->e[i], args);
	}
	if (front_stop_signal || paired_block(b, rep))
		return -1;
	return icount_block(b, rep);
}

/* The files under --out; 1 if one could not be written (the plots may
 * be missing: that is said, not counted). */
static int write_outputs(struct bench *b)
{
	struct bench_results *res = b->res;
	char path[PATH_MAX + 64], why[256];
	int bad_out = 0;

	snprintf(path, sizeof(path), "%s/results.json", b->o.out);
	FILE *f = fopen(path, "w");
	if (!f || bench_report_json(f, res) || fclose(f)) {
		fprintf(stderr, "pagehint bench: %s: %s\n", path, strerror(errno));
		bad_out = 1;
	}
	snprintf(path, sizeof(path), "%s/table.txt", b->o.out);
	f = fopen(path, "w");
	if (f) {
		bench_report_table(f, res);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/figures.csv", b->o.out);
	if (bench_report_csv(path, res)) {
		fprintf(stderr, "pagehint bench: %s: %s\n", path, strerror(errno));
		bad_out = 1;
	}
	snprintf(path, sizeof(path), "%s/curves.csv", b->o.out);
	if (bench_report_curves(path, res)) {
		fprintf(stderr, "pagehint bench: %s: %s\n", path, strerror(errno));
		bad_out = 1;
	}
	if (bench_report_plots(b->o.out, res, why, sizeof(why)))
		fprintf(stderr, "pagehint bench: no plots: %s\n", why);
	return bad_out;
}

/* The hypervisor, and why. */
static bool choose_hypervisor(struct bench *b)
{
	b->nokvm = bench_kvm_unusable(b->nokvm_buf, sizeof(b->nokvm_buf));
	b->res = calloc(1, sizeof(*b->res));
	if (!b->res) {
		b->status = bench_bad("pagehint bench", "out of memory");
		return false;
	}
	struct bench_results *res = b->res;
	if (b->o.hv < 0) {
		b->o.hv = b->nokvm ? BENCH_HV_QEMU : BENCH_HV_PAGEHINT;
		if (b->nokvm)
			snprintf(res->hv_reason, sizeof(res->hv_reason),
				 "%s: guests run on QEMU's virtio-balloon instead of pagehint run",
				 b->nokvm);
		else
			snprintf(res->hv_reason, sizeof(res->hv_reason), "/dev/kvm is usable");
	} else {
		snprintf(res->hv_reason, sizeof(res->hv_reason), "--hypervisor %s",
			 b->o.hv == BENCH_HV_QEMU ? "qemu" : "pagehint");
	}
	if (b->o.hv == BENCH_HV_PAGEHINT && b->nokvm) {
		b->status = bench_bad("pagehint bench", "--hypervisor pagehint needs KVM: %s", b->nokvm);
		return false;
	}
	if (b->o.hv == BENCH_HV_QEMU && !bench_qemu_version(res->qemu_version, sizeof(res->qemu_version))) {
		b->status = bench_bad("pagehint bench", "qemu-system-x86_64 cannot be run (not installed?)");
		return false;
	}
	return true;
}

/* This program, the guest kernel, and where runs leave their files. */
static bool setup_files(struct bench *b)
{
	if (!front_self_path(b->self, sizeof(b->self))) {
		b->status = bench_bad("pagehint bench", "cannot find this program (/proc/self/exe)");
		return false;
	}
	b->kernel = b->o.kernel ? b->o.kernel : front_guest_kernel(b->self, b->kpath, sizeof(b->kpath));
	int st = bench_need_file("pagehint bench", "guest kernel", b->kernel);
	if (!st)
		st = bench_run_dir("pagehint bench", b->o.out, "pagehint-bench", b->rundir,
				   sizeof(b->rundir), &b->rundir_temp);
	if (st) {
		b->status = st;
		return false;
	}
	return true;
}

/* The children's host, the scenario sizes, and the results' header. */
static void setup_plan(struct bench *b)
{
	struct bench_results *res = b->res;
	const struct opts *o = &b->o;

	b->h = (struct bench_host){
		.hv = o->hv, .kvm = !b->nokvm, .guest_elf = b->kernel, .self_exe = b->self,
		.cpus = o->cpus, .mem_mib = o->mem >> 20, .tmpdir = b->rundir,
	};
	b->hog_mib = (o->mem >> 20) * 3 / 4;
	b->frag_mib = (o->mem >> 20) / (o->quick ? 8 : 4);

	bench_machine_info(&res->machine);
	res->hypervisor = o->hv == BENCH_HV_QEMU ? "qemu" : "pagehint";
	res->accel = b->nokvm ? "tcg" : "kvm";
	if (o->hv == BENCH_HV_QEMU)
		snprintf(res->exits_source, sizeof(res->exits_source),
			 "virtio-mmio register accesses (QEMU trace events virtio_mmio_read, "
			 "virtio_mmio_write_offset): one VM exit each under KVM%s",
			 b->nokvm ? "; TCG itself has no VM exits" : "");
	else {
		snprintf(res->exits_source, sizeof(res->exits_source),
			 "the balloon's register accesses, queue notifies included, without its stats "
			 "queue's (pagehint run's device_exits: exits to userspace and ioeventfd notifies)");
		snprintf(res->exits_all_source, sizeof(res->exits_all_source),
			 "every VM exit to userspace and every ioeventfd notify (pagehint run's exits "
			 "plus notifications)");
	}
	const char *no_api = bench_vmm_no_api(&b->h, res->no_api, sizeof(res->no_api));
	if (no_api != res->no_api)
		snprintf(res->no_api, sizeof(res->no_api), "%s", no_api ? no_api : "");
	res->cpus = o->cpus;
	res->mem_mib = o->mem >> 20;
	res->hog_mib = b->hog_mib;
	res->frag_mib = b->frag_mib;
	res->idle_ms = (unsigned)o->idle_ms;
	res->frag_hold_ms = (unsigned)o->hold_ms;
	res->churn_ms = (unsigned)o->churn_ms;
	res->churn_mib = (unsigned)o->churn_mib;
	res->burst_mib = (unsigned)o->burst_mib;
	res->burst_count = (unsigned)o->bursts;
	res->burst_period_ms = BURST_PERIOD_MS;
	res->seed = o->seed;
	res->reps = o->reps;
	res->quick = o->quick;
	res->icount = o->hv == BENCH_HV_QEMU && b->nokvm;
}

/* Signals end the bench cleanly; the progress line starts; the setup is
 * told on stderr. */
static void start(struct bench *b)
{
	const struct bench_results *res = b->res;
	const struct opts *o = &b->o;

	front_catch_stop_signals(true);

	b->pg.tty = isatty(STDERR_FILENO);
	b->pg.t_start = mono_s();
	b->pg.nsteps = bench_steps(b, o->nengines);
	fprintf(stderr, "pagehint bench: hypervisor %s%s%s (%s)\n", res->hypervisor,
		o->hv == BENCH_HV_QEMU ? " " : "", o->hv == BENCH_HV_QEMU ? res->qemu_version : "",
		res->hv_reason);
	if (o->hv == BENCH_HV_QEMU)
		fprintf(stderr, "pagehint bench: QEMU %s\n", b->nokvm ? "TCG (no KVM): slow; ratios "
			"within this run are the claim, and host CPU includes emulating the guest"
			: "with KVM");
	fprintf(stderr, "pagehint bench: guest %u vCPUs, %llu MiB; memhog %llu MiB, idle %ld ms; "
		"%u repetition%s\n", o->cpus, (unsigned long long)(o->mem >> 20),
		(unsigned long long)b->hog_mib, o->idle_ms, o->reps, o->reps > 1 ? "s" : "");
}

/* The engines the guest knows, into the results; false without engine=off. */
static bool probe_engines(struct bench *b)
{
	struct bench_results *res = b->res;

	for (unsigned i = 0; i < b->o.nengines && !front_stop_signal; i++) {
		int k = probe_engine(b, b->o.engines[i]);
		if (k > 0) {
			snprintf(res->e[res->nengines].name, sizeof(res->e[0].name), "%s", b->o.engines[i]);
			for (unsigned f = 0; f < FIG_COUNT; f++)
				for (unsigned rep = 0; rep < BENCH_MAX_REPS; rep++)
					res->e[res->nengines].v[f][rep] = BENCH_NULL;
			res->nengines++;
		} else if (k == 0) {
			say(&b->pg, "engine %s: this guest does not know it; left out", b->o.engines[i]);
		} else if (!front_stop_signal) {
			say(&b->pg, "engine %s: the guest does not boot with it; left out", b->o.engines[i]);
		}
		if (k <= 0 && b->o.engines_given && !front_stop_signal)
			b->failures++;
	}
	b->pg.nsteps = bench_steps(b, res->nengines);
	if (!res->nengines || strcmp(res->e[0].name, "off")) {
		if (!front_stop_signal)
			fprintf(stderr, "pagehint bench: the guest does not run with engine=off; giving up\n");
		b->status = front_stop_signal ? EXIT_SIGNAL : EXIT_FAILED;
		return false;
	}
	return true;
}

/* Every repetition; false if a signal stopped them. */
static bool run_reps(struct bench *b)
{
	for (unsigned rep = 0; rep < b->o.reps; rep++)
		if (bench_rep(b, rep))
			break;
	if (b->pg.tty)
		fputs("\r\033[K", stderr);
	if (front_stop_signal) {
		fprintf(stderr, "pagehint bench: stopped by signal %d\n", (int)front_stop_signal);
		b->status = EXIT_SIGNAL;
		return false;
	}
	return true;
}

/* The table on stdout, the files under --out, the failures counted. */
static void report(struct bench *b)
{
	bench_results_finish(b->res);
	bench_report_table(stdout, b->res);
	fflush(stdout);
	b->status = b->failures ? EXIT_FAILED : 0;
	if (b->o.out && write_outputs(b))
		b->status = EXIT_FAILED;
	if (b->failures)
		fprintf(stderr, "pagehint bench: %u guest run%s failed (see above)\n", b->failures,
			b->failures > 1 ? "s" : "");
}

/* What setup made, whichever step stopped; res may be NULL. */
static void teardown(struct bench *b)
{
	if (b->rundir_temp)
		bench_rm_tree(b->rundir);
	for (unsigned i = 0; b->res && i < b->res->nengines; i++) {
		free(b->res->e[i].curve_t);
		free(b->res->e[i].curve_rss);
	}
	free(b->res);
}

int bench_main(int argc, const char *const *argv)
{
	struct bench b = { 0 };

	/* Options: --help is status 0, a bad one 64. */
	int r = parse(argc, argv, &b.o);
	if (r < 0) {
		usage(stdout);
		return 0;
	}
	if (r)
		return r;

	/* Setup, the probes and the repetitions, then their report. */
	if (choose_hypervisor(&b) && setup_files(&b)) {
		setup_plan(&b);
		start(&b);
		if (probe_engines(&b) && run_reps(&b))
			report(&b);
	}
	teardown(&b);
	return b.status;
}
