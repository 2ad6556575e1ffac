/* SPDX-License-Identifier: MIT */
/*
 * `pagehint peers` (docs/interop.md): one reclaim run per
 * row, the same scenario everywhere (guest RAM, vCPUs, MiB freed, hold and
 * idle), on
 *
 *   Linux     Debian's Linux 6.1 under QEMU TCG (q35, virtio-balloon-pci)
 *             with its own page reporting (scripts/linux-ref/build.sh)
 *   Linux on  the same kernel and initramfs on `pagehint run`, the
 *   pagehint  balloon virtio-mmio found in ACPI (KVM with VMX/SVM only;
 *             else "not run")
 *   built     Linux 6.1 as linux/build.sh builds it, stock and with
 *             pagehint's series (page_reporting.engine=pagehint), on the
 *             same QEMU; the bench finds the kernels, never builds them
 *   QEMU      our guest on QEMU's microvm and virtio-balloon: -accel kvm
 *             where KVM is usable, else TCG, and the table says which
 *   pagehint  our guest under `pagehint run` (KVM only; else "not run")
 *
 * with the upstream engine on the last two (Linux's own on Debian's) and
 * the other engines asked for. The host records what the guest asked it to
 * discard: QEMU's trace events virtio_queue_notify and
 * ram_block_discard_range, or pagehint run's telemetry counters; the
 * figures are bench_peers_fig.c's and bench_figures.c's, for every row
 * alike.
 *
 * Time zero is the start of the free. Linux's memhog prints "@event free"
 * right before munmap; our guest prints "@event freeing" before its free
 * (which checks each page and takes seconds under TCG) and "@event free"
 * after it. A guest without the freeing line: its "@event alloc" line plus
 * the hold, as docs/interop.md's first runs did.
 *
 * With the built kernels also a churn counted in guest instructions
 * (QEMU -icount, as bench.c counts our guest's): memhog's page_fault1
 * churn on the stock kernel, on the patched one with the pagehint
 * engine, and on the stock one with reporting off, in pages per 10^9
 * instructions (bench_churn_pages_per_ginsn) and against off.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_child.h"
#include "bench_int.h"
#include "bench_peers.h"
#include "cli.h"
#include "clock.h"
#include "front.h"
#include "log.h"

#define EXIT_FAILED 1
#define EXIT_SIGNAL 130
#define QEMU "qemu-system-x86_64"
#define IDLE_MARGIN_MS 2000	/* as bench.c: the 35 s point lies inside the run */
#define CHURN_MIB 128u		/* a thread's, as will-it-scale's page_fault1 */
#define CHURN_ROUNDS 300	/* default: ~12.5 G instructions, ~70 s of TCG */
/*
 * The churn's guest has one vCPU (its threads share it): under QEMU 7.2's
 * -icount a Linux guest with two never gets the second one up. The boot
 * CPU spins in schedule() waiting for the other's callin and the other,
 * told to go on (cpu_callout_mask set), is never run again (seen with
 * gdb; Debian's kernel and ours alike). Our guest's bring-up does not
 * spin that way and runs its -icount churn on 2 vCPUs (bench.c).
 */
#define CHURN_VCPUS 1
#define WHY_LEN 320
/* Debian's rows (QEMU, pagehint), the two built kernels', the three churn
 * rows */
#define MAX_ROWS (2 + 2 + 2 * BENCH_MAX_ENGINES + 3)

/* PF_LINUX: Debian's kernel on QEMU; PF_LINUX_VMM: the same on pagehint
 * run; PF_BUILT: linux/build.sh's (reclaim and churn rows). peers.json's
 * "platform" is the name. */
enum platform { PF_LINUX, PF_LINUX_VMM, PF_BUILT, PF_QEMU, PF_VMM, PF_COUNT };
static const char *const pf_names[PF_COUNT] = {
	"linux", "linux-on-pagehint", "linux-built", "qemu", "pagehint",
};

/* --platforms' words: "linux" is every Linux row. */
static const struct {
	const char *word;
	unsigned mask;
} pf_words[] = {
	{ "linux", 1u << PF_LINUX | 1u << PF_LINUX_VMM | 1u << PF_BUILT },
	{ "linux-debian", 1u << PF_LINUX },
	{ "linux-on-pagehint", 1u << PF_LINUX_VMM },
	{ "linux-built", 1u << PF_BUILT },
	{ "qemu", 1u << PF_QEMU },
	{ "pagehint", 1u << PF_VMM },
};

/* linux/build.sh's variants the bench uses */
enum { K_STOCK, K_PAGEHINT, K_COUNT };
static const char *const k_names[K_COUNT] = { "stock", "pagehint" };

struct popts {
	char engines[BENCH_MAX_ENGINES][24];
	unsigned nengines;
	bool platform[PF_COUNT];
	unsigned cpus;
	uint64_t mem, hog_mib;
	long hold_ms, idle_ms;
	unsigned churn_rounds;
	const char *out, *kernel, *linux_dir, *linux_k[K_COUNT];
};

enum row_st { ROW_OK, ROW_FAILED, ROW_NOT_RUN };

struct row {
	enum platform pf;
	char engine[24];
	enum row_st st;
	char why[WHY_LEN];
	char tag[64];
	double wall_s;
	int kernel;		/* PF_BUILT: K_*; else -1 */
	/* reclaim */
	struct bench_reclaim_fig rf;
	struct peers_fig fig;
	bool sizes_exact;
	/* churn (PF_BUILT): -icount, reporting on or off */
	bool churn, reporting;
	double pages, ginsn, per_ginsn, ratio_vs_off;
	size_t churn_requests;	/* the host's, from '@event churn' to @done */
	double churn_reported_mib;
};

/* A kernel of linux/build.sh's (or given): its bzImage, or why none. */
struct built {
	char path[PATH_MAX];
	char release[40];
	const char *why;	/* NULL: there */
	char why_buf[WHY_LEN];
};

struct peers {
	struct popts o;
	char self[PATH_MAX], kernel[PATH_MAX + 32], linux_dir[PATH_MAX], rundir[PATH_MAX];
	char src[PATH_MAX];		/* the source tree beside this program, if any */
	struct built built[K_COUNT];
	char initrd_builtin[PATH_MAX + 32];	/* scripts/linux-ref/build.sh --no-modules */
	bool rundir_temp;
	char nokvm_buf[200];
	const char *nokvm;		/* NULL: KVM usable */
	bool have_qemu;
	bool virt;			/* the CPU's VMX/SVM in /proc/cpuinfo (not PVM) */
	char qemu_version[40], linux_version[80];
	struct bench_machine machine;
	struct row rows[MAX_ROWS];
	unsigned nrows, failures;
	int status;
};

/* Each comma-separated word of v through add(); an empty word is bad. */
static int each_word(const char *v, int (*add)(struct popts *, const char *, size_t, char *, size_t),
		     struct popts *o, char *err, size_t n)
{
	for (const char *p = v;;) {
		size_t l = strcspn(p, ",");
		if (!l)
			return vmm_fail(err, n, "empty item in '%s'", v);
		if (add(o, p, l, err, n))
			return -1;
		if (!p[l])
			return 0;
		p += l + 1;
	}
}

static int add_engine(struct popts *o, const char *name, size_t len, char *err, size_t n)
{
	if (len >= sizeof(o->engines[0]))
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

static int add_platform(struct popts *o, const char *name, size_t len, char *err, size_t n)
{
	for (size_t i = 0; i < sizeof(pf_words) / sizeof(pf_words[0]); i++)
		if (strlen(pf_words[i].word) == len && !strncmp(pf_words[i].word, name, len)) {
			for (int k = 0; k < PF_COUNT; k++)
				if (pf_words[i].mask & 1u << k)
					o->platform[k] = true;
			return 0;
		}
	return vmm_fail(err, n, "'%.*s' is not linux, linux-debian, linux-on-pagehint, linux-built, "
			"qemu or pagehint",
			(int)len, name);
}

/* --engines and --platforms: the list replaces the default. */
static int read_engines(void *dst, const char *v, char *err, size_t n)
{
	struct popts *o = dst;

	o->nengines = 0;
	return each_word(v, add_engine, o, err, n);
}

static int read_platforms(void *dst, const char *v, char *err, size_t n)
{
	struct popts *o = dst;

	memset(o->platform, 0, sizeof(o->platform));
	return each_word(v, add_platform, o, err, n);
}

#define AT(field) OPT_AT(struct popts, field)
static const struct opt options[] = {
	{ "--engines", "LIST", OPT_CALL, .call = read_engines,
	  .help = "our guest's engines (default upstream,max-order,\n"
		  "pagehint; seed-v8 and off may be added)" },
	{ "--platforms", "LIST", OPT_CALL, .call = read_platforms,
	  .help = "of linux,qemu,pagehint (default all); linux is\n"
		  "linux-debian (Debian's kernel on QEMU),\n"
		  "linux-on-pagehint (the same on pagehint run) and\n"
		  "linux-built (Linux 6.1 from linux/build.sh, stock\n"
		  "and with pagehint's series: reclaim rows and the\n"
		  "churn)" },
	{ "--mem", "SIZE", OPT_SIZE, AT(mem), .min = 256ULL << 20, .max = 64ULL << 30,
	  .help = "guest RAM (default 4G)" },
	{ "--cpus", "N", OPT_UINT, AT(cpus), .min = 1, .max = 16, .help = "vCPUs (default 2)" },
	{ "--hog-mib", "N", OPT_UINT, AT(hog_mib), .min = 1, .max = 64 << 10, .what = "a number of MiB",
	  .help = "MiB memhog allocates and frees (default half the\nRAM)" },
	{ "--hold-ms", "N", OPT_UINT, AT(hold_ms), .min = 1000, .max = 3600000, .align = 1000,
	  .what = "a whole number of seconds in ms (1000-3600000)",
	  .help = "memhog holds its memory this long before the free\n"
		  "(default 20000: Linux's initial flush of its\n"
		  "boot-time free memory ends before it)" },
	{ "--idle-ms", "N", OPT_UINT, AT(idle_ms), .min = 1000, .max = 3600000, .align = 1000,
	  .what = "a whole number of seconds in ms (1000-3600000)",
	  .help = "idle after the free (default 35000; 2 s more are\n"
		  "added so the 35 s point lies inside the run)" },
	{ "--linux-ref", "DIR", OPT_PATH, AT(linux_dir),
	  .help = "the Linux reference guest (vmlinuz,\n"
		  "initramfs.cpio.gz; default $LINUX_REF_DIR, else\n"
		  "linux-ref/ beside this program). Missing: built\n"
		  "with scripts/linux-ref/build.sh when the source\n"
		  "tree is beside this program (downloads Debian's\n"
		  "kernel package, ~70 MB); also where\n"
		  "initramfs-builtin.cpio.gz for the built kernels\n"
		  "goes (scripts/linux-ref/build.sh --no-modules)" },
	{ "--linux-stock", "BZIMAGE", OPT_PATH, AT(linux_k[K_STOCK]),
	  .help = "the stock Linux 6.1 (default: linux/build.sh\n"
		  "--path stock beside this program; never built\n"
		  "here: run linux/build.sh, ~15 min)" },
	{ "--linux-pagehint", "BZIMAGE", OPT_PATH, AT(linux_k[K_PAGEHINT]),
	  .help = "the patched one (default: linux/build.sh --path\n"
		  "pagehint), booted with page_reporting.engine=pagehint" },
	{ "--linux-churn-rounds", "N", OPT_UINT, AT(churn_rounds), .max = 100000,
	  .help = "the built kernels' churn under QEMU -icount: N rounds\n"
		  "of 128 MiB a thread (default 300; 0: no churn rows)" },
	{ "--kernel", "ELF", OPT_PATH, AT(kernel),
	  .help = "our guest (default: pagehint-guest.elf beside\nthis program)" },
	{ "--out", "DIR", OPT_PATH, AT(out),
	  .help = "DIR/table.txt, DIR/peers.json and per run\n"
		  "DIR/runs/TAG.{console,rss.csv,requests.csv,trace}" },
	{ "--help", NULL, OPT_HELP, .help = "this text" },
};
static const struct opt_cmd peers_opts = {
	.cmd = "pagehint peers", .opts = options, .n = sizeof(options) / sizeof(options[0]),
};

static void usage(FILE *f)
{
	fputs(
"usage: pagehint peers [options]\n"
"\n"
"One reclaim run per row, the same scenario on each: Linux 6.1 (Debian's\n"
"kernel) on QEMU TCG with its own page reporting, and the same kernel on the\n"
"pagehint hypervisor (KVM with VMX/SVM only); Linux 6.1 as linux/build.sh\n"
"builds it, stock and with pagehint's engine (page_reporting.engine=pagehint),\n"
"on the same QEMU; our guest on QEMU's virtio-balloon (KVM if usable, else\n"
"TCG, and the table says so); our guest on the pagehint hypervisor (KVM only:\n"
"else the rows say \"not run\" and why). A kernel that is not built is \"not\n"
"run\" too: the bench never builds one (linux/build.sh does, in ~15 min).\n"
"Figures: time to 50/90/99%, share back at 10 s and 35 s, report requests\n"
"and ranges per GiB freed, range sizes, passes and their spacing, all from\n"
"the host's side. With the built kernels also a churn counted in guest\n"
"instructions (QEMU -icount): stock, pagehint and reporting off, in pages\n"
"per 10^9 instructions and against off.\n"
"\n", f);
	opt_help(f, &peers_opts);
	fputs(
"\n"
"Slow under TCG: 1-2 minutes per row.\n"
"Exit status: 0; 1 if a run failed; 64 bad usage; 130 interrupted. Rows that\n"
"cannot run here are not failures: the table says why.\n", f);
}

/* 0, -1 for --help, or an exit status. */
static int parse(int argc, const char *const *argv, struct popts *o)
{
	char err[256];
	uint64_t given = 0;
	int i = 2;	/* argv is main()'s: argv[1] is "peers" */

	memset(o, 0, sizeof(*o));
	o->cpus = 2;
	o->mem = 4ULL << 30;
	o->hold_ms = 20000;
	o->idle_ms = 35000;
	o->churn_rounds = CHURN_ROUNDS;
	switch (opt_read(&peers_opts, argc, argv, &i, o, &given, err, sizeof(err))) {
	case OPT_HELP_ASKED:
		return -1;
	case OPT_BAD:
		return bench_bad("pagehint peers", "%s", err);
	case OPT_DONE:
		break;
	}
	if (!opt_given(&peers_opts, given, "--engines")) {
		add_engine(o, "upstream", 8, err, sizeof(err));
		add_engine(o, "max-order", 9, err, sizeof(err));
		add_engine(o, "pagehint", 8, err, sizeof(err));
	}
	if (!opt_given(&peers_opts, given, "--platforms"))
		for (int k = 0; k < PF_COUNT; k++)
			o->platform[k] = true;
	if (!o->hog_mib)
		o->hog_mib = (o->mem >> 20) / 2;
	if (o->hog_mib > (o->mem >> 20) * 3 / 4)
		return bench_bad("pagehint peers", "--hog-mib %llu: at most 3/4 of --mem (%llu MiB)",
			   (unsigned long long)o->hog_mib, (unsigned long long)(o->mem >> 20) * 3 / 4);
	return 0;
}

/* ---- progress ---- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	fputs("peers: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The guest's protocol lines as they come: progress for a slow run. */
static void on_line(void *arg, const char *line)
{
	(void)arg;
	if (!strncmp(line, "@event", 6) || !strncmp(line, "@fail", 5) || !strncmp(line, "@exit", 5))
		fprintf(stderr, "         %s\n", line);
}

/* ---- files ---- */

static void row_file(const struct peers *p, const struct row *w, const char *ext, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%s.%s", p->rundir, w->tag, ext);
}

/* The run's console, its resident memory and its requests, on the clock
 * of t0 (the start of the free), for whoever recomputes a figure. */
static void save_run(const struct peers *p, const struct row *w, const struct bench_run *r,
		     const struct peers_trace *tr, double t0)
{
	char path[PATH_MAX + 96];
	if (p->rundir_temp)
		return;
	FILE *f;
	row_file(p, w, "console", path, sizeof(path));
	if (r->console && (f = fopen(path, "w"))) {
		/* without the firmware's terminal escapes: a text file */
		for (const char *c = r->console; *c; c++)
			if ((unsigned char)*c >= 0x20 || *c == '\n' || *c == '\t')
				fputc(*c, f);
		fclose(f);
	}
	row_file(p, w, "rss.csv", path, sizeof(path));
	if (r->n && (f = fopen(path, "w"))) {
		fputs("t_ms,resident_mib\n", f);
		for (size_t i = 0; i < r->n; i++)
			fprintf(f, "%.1f,%.2f\n", r->s[i].t_ms - t0, r->s[i].rss_mib);
		fclose(f);
	}
	row_file(p, w, "requests.csv", path, sizeof(path));
	if ((f = fopen(path, "w"))) {
		/* range_sizes as scripts/linux-ref/analyze.py writes them:
		 * BYTES*COUNT;... in the order the ranges came */
		fprintf(f, "t_ms,ranges,bytes%s\n", tr->sizes_exact ? ",range_sizes" : "");
		for (size_t i = 0; i < tr->nreq; i++) {
			const struct peers_req *q = &tr->req[i];
			const uint64_t *l = &tr->len[q->first];
			fprintf(f, "%.2f,%u,%llu", q->t_ms - t0, q->nranges, (unsigned long long)q->bytes);
			for (unsigned k = 0, n; tr->sizes_exact && k < q->nranges; k += n) {
				for (n = 1; k + n < q->nranges && l[k + n] == l[k]; n++)
					;
				fprintf(f, "%c%llu*%u", k ? ';' : ',', (unsigned long long)l[k], n);
			}
			fputc('\n', f);
		}
		fclose(f);
	}
}

/* ---- one run ---- */

/* The figures of a finished run, t = 0 at t0 (on the samples' clock). */
static void figures(struct peers *p, struct row *w, struct bench_run *r, struct peers_trace *tr,
		    double t0)
{
	peers_run_figures(r, tr, t0, &w->rf, &w->fig);
	w->sizes_exact = tr->sizes_exact;
	save_run(p, w, r, tr, t0);

	char t[3][16];
	for (int k = 0; k < 3; k++)
		if (w->rf.t_ms[k] == BENCH_NULL)
			snprintf(t[k], sizeof(t[k]), "never");
		else
			snprintf(t[k], sizeof(t[k]), "%.1f s", w->rf.t_ms[k] / 1e3);
	say("  done in %.0f s: freed %.0f MiB; t50 %s, t90 %s, t99 %s; %zu requests, %zu ranges "
	    "after the free, %u passes (%s)", w->wall_s, r->free_mib[0], t[0], t[1], t[2],
	    w->fig.requests, w->fig.ranges, w->fig.passes, w->fig.per_pass);
}

static void fail_row(struct peers *p, struct row *w, const struct bench_run *r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fail_row(struct peers *p, struct row *w, const struct bench_run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->why, sizeof(w->why), fmt, ap);
	va_end(ap);
	w->st = ROW_FAILED;
	p->failures++;
	say("  FAILED: %s", w->why);
	if (r && r->console) {
		/* the last console lines say more */
		const char *c = r->console + r->console_len;
		for (int k = 0; k < 6 && c > r->console; c--)
			if (c[-1] == '\n' && c != r->console + r->console_len)
				k++;
		fprintf(stderr, "%s", c);
	}
}

/* DIR/runs/TAG.cmd: the run's command line, as a shell would take it. */
static void save_cmd(const struct peers *p, const struct row *w, const char *const *argv)
{
	char path[PATH_MAX + 96];
	if (p->rundir_temp)
		return;
	row_file(p, w, "cmd", path, sizeof(path));
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	for (const char *const *a = argv; *a; a++) {
		fputs(a == argv ? "" : " ", f);
		if (**a && !(*a)[strspn(*a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					     "0123456789-_=.,/:+@%")]) {
			fputs(*a, f);
			continue;
		}
		fputc('\'', f);
		for (const char *c = *a; *c; c++)
			if (*c == '\'')
				fputs("'\\''", f);
			else
				fputc(*c, f);
		fputc('\'', f);
	}
	fputc('\n', f);
	fclose(f);
}

/* Run argv (QEMU with a trace log at log), then read the trace. */
static int run_qemu(struct peers *p, struct row *w, const char *const *argv, const char *log, double timeout_s,
		    struct bench_run *r, struct peers_trace *tr, struct bench_child *c)
{
	save_cmd(p, w, argv);
	*c = (struct bench_child){
		.argv = argv, .timeout_s = timeout_s, .sample_rss = true, .on_line = on_line,
	};
	double t = mono_s();
	bench_run_init(r);
	int e = bench_child_run(c, r, &front_stop_signal);
	w->wall_s = mono_s() - t;
	if (e) {
		fail_row(p, w, NULL, "cannot start " QEMU ": %s", strerror(-e));
		return -1;
	}
	FILE *f = fopen(log, "r");
	e = f ? peers_trace_read_qemu(tr, f, c->t0_real_s) : -errno;
	if (f)
		fclose(f);
	if (p->rundir_temp)
		unlink(log);
	if (front_stop_signal)
		return -1;
	if (c->timed_out) {
		fail_row(p, w, r, "timed out after %.0f s", timeout_s);
		return -1;
	}
	if (e) {
		fail_row(p, w, r, "QEMU's trace log %s: %s", log, strerror(-e));
		return -1;
	}
	return 0;
}

static double hog_s(const struct peers *p)
{
	return (double)p->o.hog_mib / 50.0;	/* TCG writes ~300 MiB/s; room for load */
}

/* QEMU for a Linux guest: q35 under TCG, the kernel's command line after
 * our console words, virtio-balloon-pci with free page reporting on or
 * off, QEMU's trace of the requests into log, and last, when asked,
 * -icount BENCH_ICOUNT_OPTS (a NULL in its place ends argv otherwise). */
struct linux_qemu {
	char mem[32], smp[16], append[512];
	const char *argv[48];
};

static void linux_qemu(const struct peers *p, struct linux_qemu *q, const char *kernel,
		       const char *initrd, const char *log, bool reporting, bool icount,
		       const char *fmt, ...) __attribute__((format(printf, 8, 9)));
static void linux_qemu(const struct peers *p, struct linux_qemu *q, const char *kernel,
		       const char *initrd, const char *log, bool reporting, bool icount,
		       const char *fmt, ...)
{
	snprintf(q->mem, sizeof(q->mem), "%lluM", (unsigned long long)(p->o.mem >> 20));
	snprintf(q->smp, sizeof(q->smp), "%u", icount ? CHURN_VCPUS : p->o.cpus);
	int n = snprintf(q->append, sizeof(q->append), "console=ttyS0 loglevel=4 panic=-1 ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q->append + n, sizeof(q->append) - (size_t)n, fmt, ap);
	va_end(ap);
	const char *argv[] = {
		QEMU, "-M", "q35", "-accel", "tcg", "-m", q->mem, "-smp", q->smp,
		"-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
		"-kernel", (char *)kernel, "-initrd", (char *)initrd, "-append", q->append,
		"-device", reporting ? "virtio-balloon-pci,free-page-reporting=on"
				     : "virtio-balloon-pci,free-page-reporting=off",
		"-msg", "timestamp=on", "-D", (char *)log,
		"-trace", "virtio_queue_notify", "-trace", "ram_block_discard_range",
		icount ? "-icount" : NULL, BENCH_ICOUNT_OPTS, NULL,
	};
	_Static_assert(sizeof(argv) <= sizeof(q->argv), "linux_qemu: argv");
	memcpy(q->argv, argv, sizeof(argv));
}

/* The reclaim scenario on a Linux guest: Debian's (kernel and initramfs
 * in p->linux_dir) or a built one (w->kernel) with the module-less
 * initramfs. */
static void run_linux(struct peers *p, struct row *w)
{
	char kernel[PATH_MAX + 16], initrd[PATH_MAX + 32], log[PATH_MAX + 96], why[WHY_LEN];
	const char *extra = "";
	bool pagehint = w->pf == PF_BUILT && w->kernel == K_PAGEHINT;
	if (w->pf == PF_BUILT) {
		snprintf(kernel, sizeof(kernel), "%s", p->built[w->kernel].path);
		snprintf(initrd, sizeof(initrd), "%s", p->initrd_builtin);
		if (pagehint)
			extra = " page_reporting.engine=pagehint";
	} else {
		snprintf(kernel, sizeof(kernel), "%s/vmlinuz", p->linux_dir);
		snprintf(initrd, sizeof(initrd), "%s/initramfs.cpio.gz", p->linux_dir);
	}
	row_file(p, w, "trace", log, sizeof(log));
	unlink(log);
	struct linux_qemu q;
	linux_qemu(p, &q, kernel, initrd, log, true, false,
		   "memhog.mib=%llu memhog.hold=%ld memhog.idle=%ld%s", (unsigned long long)p->o.hog_mib,
		   p->o.hold_ms / 1000,
		   (p->o.idle_ms + IDLE_MARGIN_MS) / 1000, extra);
	struct bench_run r;
	struct peers_trace tr;
	struct bench_child c;
	peers_trace_init(&tr);
	/* Linux boots in ~30 s under TCG, longer on a loaded machine */
	double timeout = 180 + hog_s(p) + (p->o.hold_ms + p->o.idle_ms) / 1e3;
	if (!run_qemu(p, w, q.argv, log, timeout, &r, &tr, &c)) {
		if (peers_linux_verdict(&r, true, pagehint, why, sizeof(why)))
			fail_row(p, w, &r, "%s", why);
		else if (!r.nfree)
			fail_row(p, w, &r, "no '@event free' line from memhog");
		else
			figures(p, w, &r, &tr, r.free_t_ms[0]);
	}
	peers_trace_free(&tr);
	bench_run_free(&r);
}

/* The churn on a built kernel under -icount: memhog's page_fault1 with
 * --cpus threads on CHURN_VCPUS vCPU, CHURN_MIB each, --linux-churn-rounds
 * rounds. Its
 * "@done ... pages=P ms=MS pages_per_s=X" is on the guest's clock, a ns
 * per instruction: X is pages/Ginsn (bench_churn_pages_per_ginsn, as
 * for our guest). */
static void run_linux_churn(struct peers *p, struct row *w)
{
	char log[PATH_MAX + 96], why[WHY_LEN];
	row_file(p, w, "trace", log, sizeof(log));
	unlink(log);
	/*
	 * norandmaps: with address space randomization each round's mmap
	 * starts at a random offset from 2 MiB, THP covers more or less of
	 * it, and pages/Ginsn moved by up to 0.2% run to run (off, 4 runs:
	 * more than reporting costs); with it two runs of off gave the same
	 * figure to the instruction.
	 */
	struct linux_qemu q;
	linux_qemu(p, &q, p->built[w->kernel].path, p->initrd_builtin, log, w->reporting, true,
		   "norandmaps workload=churn churn.mib=%u churn.rounds=%u churn.threads=%u%s", CHURN_MIB,
		   p->o.churn_rounds, p->o.cpus,
		   w->kernel == K_PAGEHINT ? " page_reporting.engine=pagehint" : "");
	struct bench_run r;
	struct peers_trace tr;
	struct bench_child c;
	peers_trace_init(&tr);
	/* boot ~20 s; a round of 2 x 128 MiB ~0.15 s of TCG on a loaded host */
	double timeout = 240 + 1.0 * p->o.churn_rounds * p->o.cpus / 2;
	if (!run_qemu(p, w, q.argv, log, timeout, &r, &tr, &c)) {
		double g = bench_churn_pages_per_ginsn(&r);
		if (peers_linux_verdict(&r, w->reporting, w->kernel == K_PAGEHINT, why, sizeof(why))) {
			fail_row(p, w, &r, "%s", why);
		} else if (!r.have_churn || g <= 0 || r.pages_total <= 0) {
			fail_row(p, w, &r, "no '@event churn' and '@done ... pages_per_s=' lines from memhog");
		} else {
			w->per_ginsn = g;
			w->pages = r.pages_total;
			w->ginsn = r.pages_total / g;
			w->churn_requests = 0;
			double bytes = 0;
			for (size_t i = 0; i < tr.nreq; i++)
				if (tr.req[i].t_ms >= r.churn_t_ms && tr.req[i].t_ms <= r.done_t_ms) {
					w->churn_requests++;
					bytes += (double)tr.req[i].bytes;
				}
			w->churn_reported_mib = bytes / (1024.0 * 1024.0);
			save_run(p, w, &r, &tr, r.churn_t_ms);
			say("  done in %.0f s: %.0f pages in %.3f G instructions: %.0f pages/Ginsn; "
			    "%zu requests, %.0f MiB reported during the churn", w->wall_s, w->pages,
			    w->ginsn, g, w->churn_requests, w->churn_reported_mib);
		}
	}
	peers_trace_free(&tr);
	bench_run_free(&r);
}

static void guest_cmdline(const struct peers *p, const struct row *w, char *buf, size_t cap)
{
	char args[64];
	bench_engine_args(w->engine, args, sizeof(args));	/* pagehint-exitless too */
	snprintf(buf, cap, "%s workload=memhog seed=1 quiet memhog.mib=%llu "
		 "memhog.hold_ms=%ld memhog.idle_ms=%ld", args, (unsigned long long)p->o.hog_mib,
		 p->o.hold_ms, p->o.idle_ms + IDLE_MARGIN_MS);
}

/* Our guest's verdict and t0, shared by both hypervisors. */
static void finish_ours(struct peers *p, struct row *w, struct bench_run *r, struct peers_trace *tr)
{
	if (r->guest_exit != 0 || r->fail_lines || strcmp(r->end, "exit"))
		fail_row(p, w, r, "end %s, guest exit %d%s%s", r->end, r->guest_exit,
			 r->first_error[0] ? ": " : "", r->first_error);
	else if (!r->have_alloc || !r->nfree)
		fail_row(p, w, r, "no '@event alloc' and '@event free' lines from memhog");
	else
		figures(p, w, r, tr, peers_t0_ours(r, (double)p->o.hold_ms));
}

static void run_qemu_guest(struct peers *p, struct row *w)
{
	char mem[32], smp[16], cmd[256], log[PATH_MAX + 96];
	snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)(p->o.mem >> 20));
	snprintf(smp, sizeof(smp), "%u", p->o.cpus);
	guest_cmdline(p, w, cmd, sizeof(cmd));
	row_file(p, w, "trace", log, sizeof(log));
	unlink(log);
	/* as bench_qemu.c and tests/qemu/guest.bash boot it */
	const char *argv[] = {
		QEMU, "-M", "microvm,acpi=off", "-accel", p->nokvm ? "tcg" : "kvm", "-m", mem,
		"-smp", smp, "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
		"-kernel", p->kernel,
		"-device", "isa-debug-exit,iobase=0x501,iosize=2",
		"-device", "virtio-balloon-device,free-page-reporting=on",
		"-global", "virtio-mmio.force-legacy=false",
		"-msg", "timestamp=on", "-D", log,
		"-trace", "virtio_queue_notify", "-trace", "ram_block_discard_range",
		"-append", cmd, NULL,
	};
	struct bench_run r;
	struct peers_trace tr;
	struct bench_child c;
	peers_trace_init(&tr);
	double timeout = 120 + hog_s(p) + (p->o.hold_ms + p->o.idle_ms) / 1e3;
	if (!run_qemu(p, w, argv, log, timeout, &r, &tr, &c)) {
		/* isa-debug-exit: QEMU exits with (V << 1) | 1 */
		if (WIFEXITED(c.wstatus) && (WEXITSTATUS(c.wstatus) & 1))
			r.guest_exit = WEXITSTATUS(c.wstatus) >> 1;
		else
			r.end = "error";
		finish_ours(p, w, &r, &tr);
	}
	peers_trace_free(&tr);
	bench_run_free(&r);
}

/* What a row makes of a finished pagehint run, given its --trace CSV open
 * (path: its name): the row's figures, or fail_row. */
typedef void (*vmm_result_fn)(struct peers *p, struct row *w, struct bench_run *r,
			      struct peers_trace *tr, FILE *trace, const char *path);

/* One row on pagehint run: job j on host h (its command line into
 * runs/TAG.cmd, as every row's), the row's wall time, then result. The row
 * fails if pagehint run cannot start or its trace cannot be opened; a
 * stopped bench takes nothing from the run. A temporary run folder loses
 * the trace. */
static void run_on_vmm(struct peers *p, struct row *w, const struct bench_host *h,
		       const struct bench_job *j, vmm_result_fn result)
{
	struct bench_vmm_argv a = { 0 };
	bench_vmm_argv(h, j, &a);
	save_cmd(p, w, a.argv);
	struct bench_run r;
	struct peers_trace tr;
	peers_trace_init(&tr);
	bench_run_init(&r);
	double t = mono_s();
	int e = bench_vmm_run(h, j, &r, &front_stop_signal);
	w->wall_s = mono_s() - t;
	if (e) {
		fail_row(p, w, NULL, "cannot start pagehint run: %s", strerror(-e));
	} else if (!front_stop_signal) {
		FILE *f = fopen(a.trace, "r");
		if (!f) {
			fail_row(p, w, &r, "pagehint run's trace %s: %s", a.trace, strerror(errno));
		} else {
			result(p, w, &r, &tr, f, a.trace);
			fclose(f);
		}
	}
	if (p->rundir_temp)
		unlink(a.trace);
	peers_trace_free(&tr);
	bench_run_free(&r);
}

/* Our guest on pagehint run: requests from the trace, then its verdict. */
static void vmm_guest_result(struct peers *p, struct row *w, struct bench_run *r,
			     struct peers_trace *tr, FILE *trace, const char *path)
{
	int e = peers_trace_read_vmm(tr, trace);
	if (e)
		fail_row(p, w, r, "pagehint run's trace %s: %s", path, strerror(-e));
	else
		finish_ours(p, w, r, tr);
}

static void run_vmm_guest(struct peers *p, struct row *w)
{
	char cmd[256];
	guest_cmdline(p, w, cmd, sizeof(cmd));
	struct bench_host h = {
		.hv = BENCH_HV_PAGEHINT, .kvm = true, .guest_elf = p->kernel, .self_exe = p->self,
		.cpus = p->o.cpus, .mem_mib = p->o.mem >> 20, .tmpdir = p->rundir,
	};
	struct bench_job j = {
		.cmdline = cmd, .tag = w->tag, .on_line = on_line, .keep_trace = true,
		.timeout_s = 120 + hog_s(p) + (p->o.hold_ms + p->o.idle_ms) / 1e3,
	};
	run_on_vmm(p, w, &h, &j, vmm_guest_result);
}

/* Linux on pagehint run: its verdict, requests and t0 from the trace. */
static void linux_vmm_result(struct peers *p, struct row *w, struct bench_run *r,
			     struct peers_trace *tr, FILE *trace, const char *path)
{
	(void)path;
	char why[WHY_LEN];
	double t0 = 0;
	if (peers_linux_vmm_result(r, trace, tr, &t0, why, sizeof(why)))
		fail_row(p, w, r, "%s", why);
	else
		figures(p, w, r, tr, t0);
}

/* Debian's Linux on pagehint run: the kernel, initramfs and memhog of the
 * Linux TCG row; resident memory and requests from pagehint run's trace,
 * as for our guest's pagehint rows. */
static void run_linux_vmm(struct peers *p, struct row *w)
{
	char kernel[PATH_MAX + 16], initrd[PATH_MAX + 32], cmd[256];
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", p->linux_dir);
	snprintf(initrd, sizeof(initrd), "%s/initramfs.cpio.gz", p->linux_dir);
	peers_linux_vmm_cmdline(cmd, sizeof(cmd), p->o.hog_mib, p->o.hold_ms,
				p->o.idle_ms + IDLE_MARGIN_MS);
	struct bench_host h = {
		.hv = BENCH_HV_PAGEHINT, .kvm = true, .guest_elf = kernel, .initrd = initrd,
		.self_exe = p->self, .cpus = p->o.cpus, .mem_mib = p->o.mem >> 20, .tmpdir = p->rundir,
	};
	/* Linux boots in seconds on KVM; the margin is for a loaded host */
	struct bench_job j = {
		.cmdline = cmd, .tag = w->tag, .on_line = on_line, .keep_trace = true,
		.timeout_s = 180 + hog_s(p) + (p->o.hold_ms + p->o.idle_ms) / 1e3,
	};
	run_on_vmm(p, w, &h, &j, linux_vmm_result);
}

/* ---- preparing: the Linux guest, QEMU, KVM ---- */

static bool linux_ready(const char *dir)
{
	char a[PATH_MAX + 32], b[PATH_MAX + 32];
	snprintf(a, sizeof(a), "%s/vmlinuz", dir);
	snprintf(b, sizeof(b), "%s/initramfs.cpio.gz", dir);
	return !access(a, R_OK) && !access(b, R_OK);
}

static void build_line(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "         %s\n", line);
}

/* Run a helper script to its end: its exit status, or -1 when it could
 * not start (*err: bench_child_run's error), was killed or timed out. */
static int run_script(const char *const *argv, double timeout_s, void (*on_line)(void *, const char *),
		      void *arg, int *err)
{
	struct bench_child c = { .argv = argv, .timeout_s = timeout_s, .on_line = on_line,
				 .arg = arg };
	struct bench_run r;

	bench_run_init(&r);
	*err = bench_child_run(&c, &r, &front_stop_signal);
	bench_run_free(&r);
	return *err || c.timed_out || !WIFEXITED(c.wstatus) ? -1 : WEXITSTATUS(c.wstatus);
}

/* KEY's value in a manifest of KEY=VALUE lines (the last one), into buf;
 * "6.1" when the file or the key is missing. */
static void manifest_value(const char *path, const char *key, char *buf, size_t cap)
{
	char line[256];
	size_t n = strlen(key);
	FILE *f = fopen(path, "r");

	snprintf(buf, cap, "6.1");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(buf, cap, "%.60s", line + n);
		}
	if (f)
		fclose(f);
}

/* The Linux reference guest in p->linux_dir: there, or built by
 * scripts/linux-ref/build.sh from the source tree this program was built
 * in. NULL, or why not (in why). */
static const char *prepare_linux(struct peers *p, char *why, size_t cap)
{
	if (linux_ready(p->linux_dir))
		goto version;
	char script[PATH_MAX + 64], dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", p->self);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	snprintf(script, sizeof(script), "%s/../scripts/linux-ref/build.sh", dir);
	if (access(script, X_OK)) {
		snprintf(why, cap, "no Linux reference guest in %.200s (build it with "
			 "scripts/linux-ref/build.sh, or give --linux-ref DIR)", p->linux_dir);
		return why;
	}
	say("no Linux reference guest in %s: building it (%s; Debian's kernel package, ~70 MB)",
	    p->linux_dir, script);
	setenv("LINUX_REF_DIR", p->linux_dir, 1);
	const char *argv[] = { script, NULL };
	int e, st = run_script(argv, 1800, build_line, NULL, &e);
	if (st != 0 || !linux_ready(p->linux_dir)) {
		snprintf(why, cap, "scripts/linux-ref/build.sh did not build the Linux reference guest "
			 "in %.150s (%s %d; 3: a Debian package could not be fetched)", p->linux_dir,
			 e ? "cannot start:" : "exit status", e ? e : st);
		return why;
	}
version:;
	/* "kernel_version=6.1.0-56-amd64" from the manifest */
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/manifest.txt", p->linux_dir);
	manifest_value(path, "kernel_version=", p->linux_version, sizeof(p->linux_version));
	return NULL;
}

/* The last line a child printed, into arg (a char[PATH_MAX]). */
static void last_line(void *arg, const char *line)
{
	snprintf(arg, PATH_MAX, "%s", line);
}

/* The built kernels: given (--linux-stock, --linux-pagehint), else what
 * `linux/build.sh --path VARIANT` in the source tree beside this program
 * prints: a cached kernel's path (exit 1: not built). It builds nothing,
 * and neither does the bench: a kernel takes ~15 minutes of both cores. */
static void prepare_built(struct peers *p)
{
	char script[PATH_MAX + 32];
	snprintf(script, sizeof(script), "%.*s/linux/build.sh", PATH_MAX, p->src);
	for (int k = 0; k < K_COUNT; k++) {
		struct built *b = &p->built[k];
		b->why = NULL;
		if (p->o.linux_k[k]) {
			snprintf(b->path, sizeof(b->path), "%s", p->o.linux_k[k]);
		} else if (!p->src[0] || access(script, X_OK)) {
			snprintf(b->why_buf, sizeof(b->why_buf), "no linux/build.sh beside this program to "
				 "find the %s kernel (give --linux-%s BZIMAGE)", k_names[k], k_names[k]);
			b->why = b->why_buf;
			continue;
		} else {
			const char *argv[] = { script, "--path", (char *)k_names[k], NULL };
			b->path[0] = 0;
			int e, st = run_script(argv, 60, last_line, b->path, &e);
			if (st != 0 || b->path[0] != '/' || access(b->path, R_OK)) {
				snprintf(b->why_buf, sizeof(b->why_buf),
					 "Linux 6.1 %s kernel not built (linux/build.sh --path %s: %s %d): "
					 "run linux/build.sh (stock and pagehint, ~15 min of 2 cores); "
					 "the bench does not build kernels", k_names[k], k_names[k],
					 st < 0 ? "cannot run," : "exit", st < 0 ? e : st);
				b->why = b->why_buf;
				continue;
			}
		}
		/* "release=6.1.192" from the manifest linux/build.sh keeps
		 * beside the bzImage */
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s", b->path);
		char *slash = strrchr(path, '/');
		snprintf(slash ? slash + 1 : path, sizeof(path) - (size_t)(slash ? slash + 1 - path : 0),
			 "manifest.txt");
		manifest_value(path, "release=", b->release, sizeof(b->release));
	}
}

/* The module-less initramfs for the built kernels (virtio built in):
 * scripts/linux-ref/build.sh --no-modules into p->linux_dir when the
 * source tree is beside this program (quick, cached: it rebuilds only
 * when an input changed), else whatever is there. NULL, or why not. */
static const char *prepare_initrd(struct peers *p, char *why, size_t cap)
{
	char script[PATH_MAX + 64];
	snprintf(p->initrd_builtin, sizeof(p->initrd_builtin), "%s/initramfs-builtin.cpio.gz",
		 p->linux_dir);
	snprintf(script, sizeof(script), "%.*s/scripts/linux-ref/build.sh", PATH_MAX, p->src);
	if (p->src[0] && !access(script, X_OK)) {
		setenv("LINUX_REF_DIR", p->linux_dir, 1);
		const char *argv[] = { script, "--no-modules", NULL };
		int e, st = run_script(argv, 600, build_line, NULL, &e);
		if (st != 0) {
			snprintf(why, cap, "scripts/linux-ref/build.sh --no-modules did not build %.150s "
				 "(%s %d; 3: busybox-static could not be fetched)", p->initrd_builtin,
				 e ? "cannot start:" : "exit status", e ? e : st);
			return why;
		}
	}
	if (access(p->initrd_builtin, R_OK)) {
		snprintf(why, cap, "no %.200s (scripts/linux-ref/build.sh --no-modules builds it)",
			 p->initrd_builtin);
		return why;
	}
	return NULL;
}

/* ---- the table ---- */

static const char *where(const struct peers *p, enum platform pf)
{
	switch (pf) {
	case PF_LINUX:
	case PF_BUILT:
		return "Linux TCG";
	case PF_LINUX_VMM:
		return "Linux pagehint";
	case PF_QEMU:
		return p->nokvm ? "QEMU TCG" : "QEMU KVM";
	default:
		return "pagehint";
	}
}

static void cell(char *buf, size_t cap, double v, double scale, int dec, const char *null)
{
	if (v == BENCH_NULL)
		snprintf(buf, cap, "%s", null);
	else
		snprintf(buf, cap, "%.*f", dec, v * scale);
}

/* The built kernels' churn in guest instructions, if it was planned. */
static void print_churn(FILE *f, const struct peers *p)
{
	bool any = false;
	for (unsigned i = 0; i < p->nrows; i++)
		any |= p->rows[i].churn;
	if (!any)
		return;
	fprintf(f, "\nLinux churn in guest instructions: QEMU %s TCG -icount %s (the guest's clock "
		"advances 1 ns per instruction), q35, guest %llu MiB, %d vCPU (QEMU 7.2's -icount does not "
		"bring a Linux guest's second one up); memhog's page_fault1: %u threads each map %u MiB, "
		"write a byte a page, check it, unmap; %u rounds\n",
		p->qemu_version[0] ? p->qemu_version : "?", BENCH_ICOUNT_OPTS,
		(unsigned long long)(p->o.mem >> 20), CHURN_VCPUS, p->o.cpus, CHURN_MIB, p->o.churn_rounds);
	fprintf(f, "%-14s %-8s %-9s %10s %8s %11s %7s %8s %12s\n", "engine", "kernel", "reporting",
		"pages", "Ginsn", "pages/Ginsn", "vs off", "requests", "MiB reported");
	for (unsigned i = 0; i < p->nrows; i++) {
		const struct row *w = &p->rows[i];
		if (!w->churn)
			continue;
		fprintf(f, "%-14s %-8s %-9s", w->engine, k_names[w->kernel], w->reporting ? "on" : "off");
		if (w->st != ROW_OK) {
			fprintf(f, " %s: %s\n", w->st == ROW_NOT_RUN ? "not run" : "FAILED", w->why);
			continue;
		}
		char ratio[16];
		cell(ratio, sizeof(ratio), w->ratio_vs_off, 1, 4, "-");
		fprintf(f, " %10.0f %8.3f %11.0f %7s %8zu %12.0f\n", w->pages, w->ginsn, w->per_ginsn,
			ratio, w->churn_requests, w->churn_reported_mib);
	}
	fprintf(f, "  Ginsn: 10^9 guest instructions from memhog's '@event churn' to its '@done' (the "
		"guest's ms / 1000; with sleep=off an idle vCPU's wait to its next timer counts too); "
		"pages/Ginsn: 4 KiB pages churned per Ginsn; vs off: against the reporting-off row;\n"
		"  requests, MiB reported: the reporting queue's requests and their discards in QEMU's "
		"trace during the churn (each reported page the churn takes again is a fault on the "
		"host, which the instruction count leaves out).\n");
}

/* The machine, the scenario, and what each row's "where" stands for. */
static void print_legend(FILE *f, const struct peers *p)
{
	const struct popts *o = &p->o;
	fprintf(f, "pagehint peers  %s  %s, %s, %u host CPUs\n", p->machine.date,
		p->machine.cpu_model, p->machine.kernel, p->machine.host_cpus);
	fprintf(f, "reclaim, one run per row: guest %llu MiB, %u vCPUs; memhog %llu MiB, held %ld s, "
		"freed, idle %ld s\n", (unsigned long long)(o->mem >> 20), o->cpus,
		(unsigned long long)o->hog_mib, o->hold_ms / 1000, (o->idle_ms + IDLE_MARGIN_MS) / 1000);
	fprintf(f, "t = 0 at the start of the free: Linux's '@event free' line (memhog prints it right "
		"before munmap); our guest's '@event freeing' line (a guest without one: its "
		"'@event alloc' line + the %ld s hold)\n", o->hold_ms / 1000);
	if (o->platform[PF_LINUX])
		fprintf(f, "Linux TCG = Debian's Linux %s, QEMU %s TCG (q35, virtio-balloon-pci,"
			"free-page-reporting=on), its own page reporting (engine 'linux')\n",
			p->linux_version[0] ? p->linux_version : "6.1",
			p->qemu_version[0] ? p->qemu_version : "?");
	if (o->platform[PF_LINUX_VMM])
		fprintf(f, "Linux pagehint = Debian's Linux %s with the same initramfs on the pagehint "
			"hypervisor (pagehint run, KVM; virtio-mmio balloon found in ACPI, free page "
			"reporting), its own page reporting (engine 'linux'); resident memory: guest RAM by "
			"mincore, from pagehint run's trace\n", p->linux_version[0] ? p->linux_version : "6.1");
	if (o->platform[PF_BUILT]) {
		const struct built *b = &p->built[p->built[K_STOCK].why ? K_PAGEHINT : K_STOCK];
		fprintf(f, "Linux TCG linux-stock, linux-pagehint = Linux %s as linux/build.sh builds it "
			"(virtio built in, initramfs-builtin): stock, and with pagehint's series "
			"(linux/patches) booted with page_reporting.engine=pagehint; QEMU and machine as "
			"Linux TCG's\n", b->why ? "6.1" : b->release);
	}
	if (o->platform[PF_QEMU]) {
		if (p->nokvm)
			fprintf(f, "QEMU TCG  = our guest, QEMU %s with TCG, NOT KVM: %s (microvm, "
				"virtio-balloon-device,free-page-reporting=on)\n",
				p->qemu_version[0] ? p->qemu_version : "?", p->nokvm);
		else
			fprintf(f, "QEMU KVM  = our guest, QEMU %s -accel kvm (microvm, "
				"virtio-balloon-device,free-page-reporting=on)\n",
				p->qemu_version[0] ? p->qemu_version : "?");
	}
	if (o->platform[PF_VMM])
		fprintf(f, "pagehint  = our guest on the pagehint hypervisor (pagehint run, KVM)\n");
}

/* A row per reclaim run: memory back, requests, passes. */
static void print_reclaim_rows(FILE *f, const struct peers *p)
{
	fprintf(f, "%-14s %-14s %6s %6s %6s %5s %5s %8s %10s %6s %6s %7s\n", "where", "engine", "t50 s",
		"t90 s", "t99 s", "@10s", "@35s", "req/GiB", "ranges/GiB", "passes", "gap s",
		"before");
	for (unsigned i = 0; i < p->nrows; i++) {
		const struct row *w = &p->rows[i];
		if (w->churn)
			continue;
		fprintf(f, "%-14s %-14s", where(p, w->pf), w->engine);
		if (w->st != ROW_OK) {
			fprintf(f, " %s: %s\n", w->st == ROW_NOT_RUN ? "not run" : "FAILED", w->why);
			continue;
		}
		char b[11][32];
		cell(b[0], 32, w->rf.t_ms[0], 1e-3, 1, "never");
		cell(b[1], 32, w->rf.t_ms[1], 1e-3, 1, "never");
		cell(b[2], 32, w->rf.t_ms[2], 1e-3, 1, "never");
		cell(b[3], 32, w->rf.returned_10s, 1, 2, "-");
		cell(b[4], 32, w->rf.returned_35s, 1, 2, "-");
		cell(b[5], 32, w->fig.requests_per_gib, 1, 1, "-");
		cell(b[6], 32, w->fig.ranges_per_gib, 1, 0, "-");
		snprintf(b[7], 32, "%u", w->fig.passes);
		cell(b[8], 32, w->fig.pass_gap_med_ms, 1e-3, 2, "-");
		snprintf(b[9], 32, "%zu", w->fig.requests_before);
		fprintf(f, " %6s %6s %6s %5s %5s %8s %10s %6s %6s %7s\n", b[0], b[1], b[2], b[3], b[4],
			b[5], b[6], b[7], b[8], b[9]);
	}
}

/* A row per reclaim run that ran: its passes and its range sizes. */
static void print_pass_rows(FILE *f, const struct peers *p)
{
	fprintf(f, "%-14s %-14s %-26s %-13s %s\n", "where", "engine", "requests per pass", "gap min..max",
		"range sizes after the free (x count)");
	for (unsigned i = 0; i < p->nrows; i++) {
		const struct row *w = &p->rows[i];
		if (w->st != ROW_OK || w->churn)
			continue;
		char gap[40], sizes[200];
		if (w->fig.pass_gap_min_ms == BENCH_NULL)
			snprintf(gap, sizeof(gap), "-");
		else
			snprintf(gap, sizeof(gap), "%.2f..%.2f", w->fig.pass_gap_min_ms / 1e3,
				 w->fig.pass_gap_max_ms / 1e3);
		peers_sizes_str(&w->fig, sizes, sizeof(sizes));
		fprintf(f, "%-14s %-14s %-26s %-13s %s%s\n", where(p, w->pf), w->engine, w->fig.per_pass,
			gap, w->sizes_exact ? "" : "~", sizes);
	}
}

/* What the reclaim columns mean. */
static void print_reclaim_notes(FILE *f, const struct peers *p)
{
	fprintf(f, "  t50/t90/t99: seconds until QEMU's (or pagehint run's) resident memory is 50/90/99%% "
		"of the freed MiB below its level at t = 0; @10s/@35s: share back then.\n"
		"  req/GiB, ranges/GiB: report requests (notifies of the reporting queue) and their ranges "
		"(discards, QEMU's trace events virtio_queue_notify and ram_block_discard_range) from t = 0 "
		"to the end, per GiB freed;\n"
		"  before: requests before t = 0 (boot-time free memory: Linux's initial flush, our "
		"engines' first passes). A pass: requests less than %.0f s apart; gap: median time between "
		"the starts of consecutive passes.\n", PEERS_PASS_GAP_MS / 1e3);
	if (p->o.platform[PF_VMM] || p->o.platform[PF_LINUX_VMM])
		fprintf(f, "  pagehint run: requests and ranges from its 10 ms telemetry counters; '~': "
			"each range given its sample's mean size.\n");
}

static void print_table(FILE *f, const struct peers *p)
{
	print_legend(f, p);
	fputc('\n', f);
	print_reclaim_rows(f, p);
	fputc('\n', f);
	print_pass_rows(f, p);
	print_reclaim_notes(f, p);
	print_churn(f, p);
}

/* ---- peers.json ---- */

/* ", \"key\": value" */
static void json_num(FILE *f, const char *key, double v)
{
	fprintf(f, ", \"%s\": ", key);
	bench_json_num(f, v);
}

/* A built kernel's row: which kernel, and what its command line adds. */
static void json_kernel(FILE *f, const struct peers *p, const struct row *w)
{
	if (w->pf != PF_BUILT)
		return;
	const struct built *b = &p->built[w->kernel];
	fprintf(f, ", \"kernel\": \"%s\", \"bzimage\": ", k_names[w->kernel]);
	if (b->why)
		fputs("null", f);
	else
		bench_json_str(f, b->path);
	fputs(", \"release\": ", f);
	bench_json_str(f, b->why ? "" : b->release);
	fprintf(f, ", \"append\": \"%s\"", w->kernel == K_PAGEHINT ? "page_reporting.engine=pagehint" : "");
}

/* ", \"status\": ..." and, for a row that did not run, its reason and
 * the object's end; false for such a row. */
static bool json_status(FILE *f, const struct row *w)
{
	fprintf(f, ", \"status\": \"%s\"",
		w->st == ROW_OK ? "ok" : w->st == ROW_FAILED ? "failed" : "not run");
	if (w->st == ROW_OK)
		return true;
	fputs(", \"reason\": ", f);
	bench_json_str(f, w->why);
	fputs("}", f);
	return false;
}

/* The document's start, "machine" and "scenario": the host, and the
 * reclaim runs' sizes. */
static void json_setup(FILE *f, const struct peers *p)
{
	fputs("{\n  \"machine\": ", f);
	bench_json_machine(f, &p->machine);
	fputs(", \"qemu_version\": ", f);
	bench_json_str(f, p->qemu_version);
	fputs(", \"kvm\": ", f);
	if (p->nokvm)
		bench_json_str(f, p->nokvm);
	else
		fputs("\"usable\"", f);
	fputs(", \"linux_version\": ", f);
	bench_json_str(f, p->linux_version);
	fprintf(f, "},\n  \"scenario\": {\"guest_mem_mib\": %llu, \"guest_cpus\": %u, \"memhog_mib\": %llu, "
		"\"hold_ms\": %ld, \"idle_ms\": %ld, \"pass_gap_ms\": %.0f}",
		(unsigned long long)(p->o.mem >> 20), p->o.cpus, (unsigned long long)p->o.hog_mib,
		p->o.hold_ms, p->o.idle_ms + IDLE_MARGIN_MS, PEERS_PASS_GAP_MS);
}

/* One reclaim run's object in "rows". */
static void json_reclaim_row(FILE *f, const struct peers *p, const struct row *w)
{
	fprintf(f, "{\"platform\": \"%s\", \"accel\": \"%s\", \"engine\": ", pf_names[w->pf],
		w->pf == PF_LINUX || w->pf == PF_BUILT || (w->pf == PF_QEMU && p->nokvm) ? "tcg" : "kvm");
	bench_json_str(f, w->engine);
	json_kernel(f, p, w);
	if (!json_status(f, w))
		return;
	json_num(f, "t50_ms", w->rf.t_ms[0]);
	json_num(f, "t90_ms", w->rf.t_ms[1]);
	json_num(f, "t99_ms", w->rf.t_ms[2]);
	json_num(f, "returned_10s", w->rf.returned_10s);
	json_num(f, "returned_35s", w->rf.returned_35s);
	json_num(f, "freed_mib", w->rf.freed_mib);
	json_num(f, "requests_per_gib", w->fig.requests_per_gib);
	json_num(f, "ranges_per_gib", w->fig.ranges_per_gib);
	fprintf(f, ", \"requests\": %zu, \"ranges\": %zu, \"requests_before\": %zu",
		w->fig.requests, w->fig.ranges, w->fig.requests_before);
	json_num(f, "reported_mib", w->fig.reported_mib);
	fprintf(f, ", \"passes\": %u", w->fig.passes);
	json_num(f, "pass_gap_ms", w->fig.pass_gap_med_ms);
	json_num(f, "pass_gap_min_ms", w->fig.pass_gap_min_ms);
	json_num(f, "pass_gap_max_ms", w->fig.pass_gap_max_ms);
	fputs(", \"requests_per_pass\": ", f);
	bench_json_str(f, w->fig.per_pass);
	fprintf(f, ", \"range_sizes_exact\": %s, \"range_sizes\": {",
		w->sizes_exact ? "true" : "false");
	for (unsigned k = 0; k < w->fig.nsizes; k++)
		fprintf(f, "%s\"%llu\": %zu", k ? ", " : "", (unsigned long long)w->fig.size[k].bytes,
			w->fig.size[k].count);
	fprintf(f, "}, \"range_sizes_other\": %zu}", w->fig.other_ranges);
}

/* "churn", the churn runs, if there were any. */
static void json_churn(FILE *f, const struct peers *p)
{
	unsigned k = 0;
	for (unsigned i = 0; i < p->nrows; i++) {
		const struct row *w = &p->rows[i];
		if (!w->churn)
			continue;
		if (!k++)
			fprintf(f, ",\n  \"churn\": {\"icount\": \"%s\", \"guest_mem_mib\": %llu, "
				"\"guest_cpus\": %d, \"threads\": %u, \"mib_per_thread\": %u, \"rounds\": %u, "
				"\"rows\": [", BENCH_ICOUNT_OPTS, (unsigned long long)(p->o.mem >> 20), CHURN_VCPUS,
				p->o.cpus, CHURN_MIB, p->o.churn_rounds);
		fprintf(f, "%s\n    {\"engine\": ", k > 1 ? "," : "");
		bench_json_str(f, w->engine);
		json_kernel(f, p, w);
		fprintf(f, ", \"reporting\": %s", w->reporting ? "true" : "false");
		if (!json_status(f, w))
			continue;
		json_num(f, "pages", w->pages);
		json_num(f, "ginsn", w->ginsn);
		json_num(f, "pages_per_ginsn", w->per_ginsn);
		json_num(f, "ratio_vs_off", w->ratio_vs_off);
		fprintf(f, ", \"requests\": %zu", w->churn_requests);
		json_num(f, "reported_mib", w->churn_reported_mib);
		fputs("}", f);
	}
	if (k)
		fputs("\n  ]}", f);
}

static int write_json(const char *path, const struct peers *p)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	json_setup(f, p);
	fputs(",\n  \"rows\": [", f);
	unsigned k = 0;
	for (unsigned i = 0; i < p->nrows; i++)
		if (!p->rows[i].churn) {
			fputs(k++ ? ",\n    " : "\n    ", f);
			json_reclaim_row(f, p, &p->rows[i]);
		}
	fputs("\n  ]", f);
	json_churn(f, p);
	fputs("\n}\n", f);
	return fclose(f) ? -errno : 0;
}

/* ---- the plan ---- */

static void add_row(struct peers *p, enum platform pf, const char *engine)
{
	struct row *w = &p->rows[p->nrows++];
	memset(w, 0, sizeof(*w));
	w->pf = pf;
	w->st = ROW_OK;
	w->kernel = -1;
	w->rf.t_ms[0] = w->rf.t_ms[1] = w->rf.t_ms[2] = BENCH_NULL;
	w->per_ginsn = w->ratio_vs_off = BENCH_NULL;
	snprintf(w->engine, sizeof(w->engine), "%s", engine);
	snprintf(w->tag, sizeof(w->tag), "%s-%s", pf_names[pf], engine);
}

/* A built kernel's row: reclaim, or the churn (reporting on or off). */
static void add_built(struct peers *p, const char *engine, int kernel, bool churn, bool reporting)
{
	add_row(p, PF_BUILT, engine);
	struct row *w = &p->rows[p->nrows - 1];
	w->kernel = kernel;
	w->churn = churn;
	w->reporting = reporting;
	snprintf(w->tag, sizeof(w->tag), "%s%s", churn ? "churn-" : "", engine);
}

static void not_run(struct row *w, const char *why)
{
	w->st = ROW_NOT_RUN;
	snprintf(w->why, sizeof(w->why), "%s", why);
}

/* Rows in table order; why each that cannot run here will not. */
static void plan(struct peers *p)
{
	char why[sizeof(p->rows[0].why)];
	if (p->o.platform[PF_LINUX]) {
		add_row(p, PF_LINUX, "linux");
		if (!p->have_qemu)
			not_run(&p->rows[p->nrows - 1], QEMU " cannot be run (not installed?)");
	}
	if (p->o.platform[PF_LINUX_VMM]) {
		add_row(p, PF_LINUX_VMM, "linux");
		struct row *w = &p->rows[p->nrows - 1];
		snprintf(w->tag, sizeof(w->tag), "%s", pf_names[PF_LINUX_VMM]);
		if (peers_linux_vmm_unrunnable(p->nokvm, p->virt, why, sizeof(why)))
			not_run(w, why);
	}
	unsigned built0 = p->nrows;
	if (p->o.platform[PF_BUILT]) {
		add_built(p, "linux-stock", K_STOCK, false, true);
		add_built(p, "linux-pagehint", K_PAGEHINT, false, true);
	}
	for (int pf = PF_QEMU; pf <= PF_VMM; pf++) {
		if (!p->o.platform[pf])
			continue;
		for (unsigned e = 0; e < p->o.nengines; e++) {
			add_row(p, pf, p->o.engines[e]);
			struct row *w = &p->rows[p->nrows - 1];
			if (pf == PF_QEMU && !p->have_qemu)
				not_run(w, QEMU " cannot be run (not installed?)");
			if (pf == PF_VMM && p->nokvm) {
				snprintf(why, sizeof(why), "%.200s; pagehint run needs KVM", p->nokvm);
				not_run(w, why);
			}
		}
	}
	if (p->o.platform[PF_BUILT] && p->o.churn_rounds) {
		add_built(p, "linux-stock", K_STOCK, true, true);
		add_built(p, "linux-pagehint", K_PAGEHINT, true, true);
		add_built(p, "off", K_STOCK, true, false);
	}
	/* Prepared last: building Linux is slow, and pointless when its rows
	 * cannot run anyway. */
	bool debian = false;
	for (unsigned i = 0; i < built0; i++)
		debian |= p->rows[i].st == ROW_OK;
	if (debian && prepare_linux(p, why, sizeof(why)))
		for (unsigned i = 0; i < built0; i++)
			if (p->rows[i].st == ROW_OK)
				not_run(&p->rows[i], why);
	if (!p->o.platform[PF_BUILT])
		return;
	const char *no_initrd = NULL;
	if (p->have_qemu) {
		prepare_built(p);
		if (!p->built[K_STOCK].why || !p->built[K_PAGEHINT].why)
			no_initrd = prepare_initrd(p, why, sizeof(why));
	}
	for (unsigned i = built0; i < p->nrows; i++) {
		struct row *w = &p->rows[i];
		if (w->pf != PF_BUILT || w->st != ROW_OK)
			continue;
		if (!p->have_qemu)
			not_run(w, QEMU " cannot be run (not installed?)");
		else if (p->built[w->kernel].why)
			not_run(w, p->built[w->kernel].why);
		else if (no_initrd)
			not_run(w, no_initrd);
	}
}

/* The files beside this program unless named: a path too long is cut,
 * and then not found. */
static void default_paths(struct peers *p)
{
	if (p->o.kernel)
		snprintf(p->kernel, sizeof(p->kernel), "%s", p->o.kernel);
	else
		front_guest_kernel(p->self, p->kernel, sizeof(p->kernel));
	const char *env = getenv("LINUX_REF_DIR");
	if (p->o.linux_dir)
		snprintf(p->linux_dir, sizeof(p->linux_dir), "%s", p->o.linux_dir);
	else if (env && *env)
		snprintf(p->linux_dir, sizeof(p->linux_dir), "%s", env);
	else
		front_beside(p->self, "linux-ref", p->linux_dir, sizeof(p->linux_dir));
	/* the source tree this program was built in: build/.. */
	front_beside(p->self, "..", p->src, sizeof(p->src));
}

/* This program, the kernels named, where runs leave their files; false
 * with the status if one cannot be had. */
static bool setup_files(struct peers *p)
{
	if (!front_self_path(p->self, sizeof(p->self))) {
		p->status = bench_bad("pagehint peers", "cannot find this program (/proc/self/exe)");
		return false;
	}
	default_paths(p);
	int st = 0;
	for (int k = 0; k < K_COUNT && !st; k++)
		if (p->o.linux_k[k]) {
			char flag[32];
			snprintf(flag, sizeof(flag), "--linux-%s", k_names[k]);
			st = bench_need_file("pagehint peers", flag, p->o.linux_k[k]);
		}
	if (!st && (p->o.platform[PF_QEMU] || p->o.platform[PF_VMM]))
		st = bench_need_file("pagehint peers", "guest kernel", p->kernel);
	if (!st)
		st = bench_run_dir("pagehint peers", p->o.out, "pagehint-peers", p->rundir,
				   sizeof(p->rundir), &p->rundir_temp);
	if (st) {
		p->status = st;
		return false;
	}
	return true;
}

/* Signals end the runs cleanly; the host is asked what it has; the rows
 * are planned. */
static void setup_plan(struct peers *p)
{
	front_catch_stop_signals(true);

	bench_machine_info(&p->machine);
	p->nokvm = bench_kvm_unusable(p->nokvm_buf, sizeof(p->nokvm_buf));
	FILE *cpuinfo = fopen("/proc/cpuinfo", "r");
	p->virt = cpuinfo && peers_cpu_virt(cpuinfo);
	if (cpuinfo)
		fclose(cpuinfo);
	p->have_qemu = bench_qemu_version(p->qemu_version, sizeof(p->qemu_version));
	plan(p);
}

/* Every row that can run, in table order; false if a signal stopped them. */
static bool run_rows(struct peers *p)
{
	unsigned todo = 0, done = 0, churns = 0;
	for (unsigned i = 0; i < p->nrows; i++) {
		todo += p->rows[i].st == ROW_OK;
		churns += p->rows[i].st == ROW_OK && p->rows[i].churn;
	}
	say("%u runs of the reclaim scenario (%llu MiB guest, %u vCPUs, memhog %llu MiB, hold %ld s, "
	    "idle %ld s)%s%s", todo - churns, (unsigned long long)(p->o.mem >> 20), p->o.cpus,
	    (unsigned long long)p->o.hog_mib, p->o.hold_ms / 1000, (p->o.idle_ms + IDLE_MARGIN_MS) / 1000,
	    p->nokvm ? "; QEMU runs our guest with TCG: " : "", p->nokvm ? p->nokvm : "");
	if (churns)
		say("%u Linux churn runs under -icount (%u threads x %u MiB, %u rounds)", churns, p->o.cpus,
		    CHURN_MIB, p->o.churn_rounds);
	double t_start = mono_s();
	for (unsigned i = 0; i < p->nrows && !front_stop_signal; i++) {
		struct row *w = &p->rows[i];
		if (w->st != ROW_OK) {
			say("%s %s%s: not run: %s", where(p, w->pf), w->engine, w->churn ? " churn" : "",
			    w->why);
			continue;
		}
		say("[%u/%u, %.0f s so far] %s %s%s", ++done, todo, mono_s() - t_start,
		    where(p, w->pf), w->engine, w->churn ? w->reporting ? " churn (icount)" :
		    " churn (icount), reporting off" : "");
		if (w->churn)
			run_linux_churn(p, w);
		else if (w->pf == PF_LINUX || w->pf == PF_BUILT)
			run_linux(p, w);
		else if (w->pf == PF_LINUX_VMM)
			run_linux_vmm(p, w);
		else if (w->pf == PF_QEMU)
			run_qemu_guest(p, w);
		else
			run_vmm_guest(p, w);
	}
	if (front_stop_signal) {
		fprintf(stderr, "pagehint peers: stopped by signal %d\n", (int)front_stop_signal);
		p->status = EXIT_SIGNAL;
		return false;
	}
	return true;
}

/* The churn ratios, the table on stdout, the files under --out, the
 * failures counted. */
static void report(struct peers *p)
{
	/* the churn against reporting off, which is exact (icount) */
	for (unsigned i = 0; i < p->nrows; i++) {
		const struct row *off = &p->rows[i];
		if (!off->churn || off->reporting || off->st != ROW_OK)
			continue;
		for (unsigned j = 0; j < p->nrows; j++)
			if (p->rows[j].churn && p->rows[j].st == ROW_OK)
				p->rows[j].ratio_vs_off = p->rows[j].per_ginsn / off->per_ginsn;
	}
	print_table(stdout, p);
	fflush(stdout);
	p->status = p->failures ? EXIT_FAILED : 0;
	if (p->o.out) {
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/table.txt", p->o.out);
		FILE *f = fopen(path, "w");
		if (f) {
			print_table(f, p);
			fclose(f);
		}
		snprintf(path, sizeof(path), "%s/peers.json", p->o.out);
		int e = write_json(path, p);
		if (!f || e) {
			fprintf(stderr, "pagehint peers: cannot write %s/: %s\n", p->o.out,
				strerror(e ? -e : errno));
			p->status = EXIT_FAILED;
		}
	}
	if (p->failures)
		fprintf(stderr, "pagehint peers: %u run%s failed (see above)\n", p->failures,
			p->failures > 1 ? "s" : "");
}

int bench_peers_main(int argc, const char *const *argv)
{
	struct peers *p = calloc(1, sizeof(*p));
	if (!p)
		return bench_bad("pagehint peers", "out of memory");

	/* Options: --help is status 0, a bad one 64. */
	p->status = parse(argc, argv, &p->o);
	if (p->status < 0) {
		usage(stdout);
		p->status = 0;
	} else if (!p->status && setup_files(p)) {
		/* The plan, the runs, then their report. */
		setup_plan(p);
		if (run_rows(p))
			report(p);
	}

	if (p->rundir_temp)
		bench_rm_tree(p->rundir);
	int status = p->status;
	free(p);
	return status;
}
