/* SPDX-License-Identifier: MIT */
/*
 * `pagehint bench --peers` (issue 8, docs/interop.md): one reclaim run per
 * row, the same scenario everywhere (guest RAM, vCPUs, MiB freed, hold and
 * idle), on
 *
 *   Linux     Debian's Linux 6.1 under QEMU TCG (q35, virtio-balloon-pci)
 *             with its own page reporting (scripts/linux-ref/build.sh)
 *   QEMU      our guest on QEMU's microvm and virtio-balloon: -accel kvm
 *             where KVM is usable, else TCG, and the table says which
 *   pagehint  our guest under `pagehint run` (KVM only; else "not run")
 *
 * with the upstream engine on the last two (Linux's own on the first) and
 * the other engines asked for. The host records what the guest asked it to
 * discard: QEMU's trace events virtio_queue_notify and
 * ram_block_discard_range, or pagehint run's telemetry counters; the
 * figures are bench_peers_fig.c's and bench_figures.c's.
 *
 * Time zero is the start of the free. Linux's memhog prints "@event free"
 * right before munmap; our guest prints "@event freeing" before its free
 * (which checks each page and takes seconds under TCG) and "@event free"
 * after it. A guest without the freeing line: its "@event alloc" line plus
 * the hold, as docs/interop.md's first runs did.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
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

#define EXIT_FAILED 1
#define EXIT_SIGNAL 130
#define QEMU "qemu-system-x86_64"
#define IDLE_MARGIN_MS 2000	/* as bench.c: the 35 s point lies inside the run */
#define MAX_ROWS (1 + 2 * BENCH_MAX_ENGINES)

enum platform { PF_LINUX, PF_QEMU, PF_VMM, PF_COUNT };
static const char *const pf_names[PF_COUNT] = { "linux", "qemu", "pagehint" };

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	stop_flag = sig;
}

static void usage(FILE *f)
{
	fputs(
"usage: pagehint bench --peers [options]\n"
"\n"
"One reclaim run per row, the same scenario on each: Linux 6.1 (Debian's\n"
"kernel) on QEMU TCG with its own page reporting; our guest on QEMU's\n"
"virtio-balloon (KVM if usable, else TCG, and the table says so); our guest\n"
"on the pagehint hypervisor (KVM only: else the rows say \"not run\" and why).\n"
"Figures: time to 50/90/99%, share back at 10 s and 35 s, report requests\n"
"and ranges per GiB freed, range sizes, passes and their spacing, all from\n"
"the host's side.\n"
"\n"
"  --engines LIST          our guest's engines (default upstream,max-order,\n"
"                          pagehint; seed-v8 and off may be added)\n"
"  --platforms LIST        of linux,qemu,pagehint (default all three)\n"
"  --mem SIZE              guest RAM (default 4G)\n"
"  --cpus N                vCPUs (default 2)\n"
"  --hog-mib N             MiB memhog allocates and frees (default half the\n"
"                          RAM)\n"
"  --hold-ms N             memhog holds its memory this long before the free\n"
"                          (default 20000: Linux's initial flush of its\n"
"                          boot-time free memory ends before it)\n"
"  --idle-ms N             idle after the free (default 35000; 2 s more are\n"
"                          added so the 35 s point lies inside the run)\n"
"  --linux-ref DIR         the Linux reference guest (vmlinuz,\n"
"                          initramfs.cpio.gz; default $LINUX_REF_DIR, else\n"
"                          linux-ref/ beside this program). Missing: built\n"
"                          with scripts/linux-ref/build.sh when the source\n"
"                          tree is beside this program (downloads Debian's\n"
"                          kernel package, ~70 MB)\n"
"  --kernel ELF            our guest (default: pagehint-guest.elf beside\n"
"                          this program)\n"
"  --out DIR               DIR/table.txt, DIR/peers.json and per run\n"
"                          DIR/runs/TAG.{console,rss.csv,requests.csv,trace}\n"
"  --help                  this text\n"
"\n"
"Slow under TCG: 1-2 minutes per row.\n"
"Exit status: 0; 1 if a run failed; 2 bad usage; 130 interrupted. Rows that\n"
"cannot run here are not failures: the table says why.\n", f);
}

struct popts {
	char engines[BENCH_MAX_ENGINES][24];
	unsigned nengines;
	bool platform[PF_COUNT];
	unsigned cpus;
	uint64_t mem, hog_mib;
	long hold_ms, idle_ms;
	const char *out, *kernel, *linux_dir;
};

struct row {
	enum platform pf;
	char engine[24];
	enum { ROW_OK, ROW_FAILED, ROW_NOT_RUN } st;
	char why[320];
	char tag[64];
	struct bench_reclaim_fig rf;
	struct peers_fig fig;
	bool sizes_exact;
	double wall_s;
};

struct peers {
	struct popts o;
	char self[PATH_MAX], kernel[PATH_MAX + 32], linux_dir[PATH_MAX], rundir[PATH_MAX];
	bool rundir_temp;
	char nokvm_buf[200];
	const char *nokvm;		/* NULL: KVM usable */
	bool have_qemu;
	char qemu_version[40], linux_version[80];
	struct bench_machine machine;
	struct row rows[MAX_ROWS];
	unsigned nrows, failures;
};

/* Each comma-separated word of v through add(); an empty word is bad. */
static int each_word(const char *opt, const char *v, int (*add)(struct popts *, const char *, size_t),
		     struct popts *o)
{
	for (const char *p = v;;) {
		size_t l = strcspn(p, ",");
		if (!l)
			return bench_bad("pagehint bench --peers", "%s: empty item in '%s'", opt, v);
		int r = add(o, p, l);
		if (r)
			return r;
		if (!p[l])
			return 0;
		p += l + 1;
	}
}

static int add_engine(struct popts *o, const char *name, size_t len)
{
	if (len >= sizeof(o->engines[0]))
		return bench_bad("pagehint bench --peers", "--engines: bad engine name '%.*s'", (int)len, name);
	for (unsigned i = 0; i < o->nengines; i++)
		if (strlen(o->engines[i]) == len && !strncmp(o->engines[i], name, len))
			return 0;
	if (o->nengines == BENCH_MAX_ENGINES)
		return bench_bad("pagehint bench --peers", "--engines: at most %d engines", BENCH_MAX_ENGINES);
	memcpy(o->engines[o->nengines], name, len);
	o->engines[o->nengines++][len] = 0;
	return 0;
}

static int add_platform(struct popts *o, const char *name, size_t len)
{
	for (int k = 0; k < PF_COUNT; k++)
		if (strlen(pf_names[k]) == len && !strncmp(pf_names[k], name, len)) {
			o->platform[k] = true;
			return 0;
		}
	return bench_bad("pagehint bench --peers", "--platforms: '%.*s' is not linux, qemu or pagehint", (int)len, name);
}

/* 0, -1 for --help, or an exit status. */
static int parse(int argc, char **argv, struct popts *o)
{
	memset(o, 0, sizeof(*o));
	o->cpus = 2;
	o->mem = 4ULL << 30;
	o->hold_ms = 20000;
	o->idle_ms = 35000;
	bool engines_given = false, platforms_given = false;

	static const char *const flags[] = { "--peers", NULL };
	static const char *const valued[] = {
		"--engines", "--platforms", "--mem", "--cpus", "--hog-mib", "--hold-ms",
		"--idle-ms", "--linux-ref", "--kernel", "--out", NULL,
	};
	for (int i = 1; i < argc; i++) {
		struct bench_arg arg;
		int r = bench_next_arg(argc, argv, &i, flags, valued, "pagehint bench --peers", &arg);
		if (r)
			return r;
		const char *a = arg.name, *v = arg.value;
		if (!strcmp(a, "--peers"))
			continue;
		unsigned long n;
		if (!strcmp(a, "--engines")) {
			o->nengines = 0;
			engines_given = true;
			r = each_word(a, v, add_engine, o);
		} else if (!strcmp(a, "--platforms")) {
			memset(o->platform, 0, sizeof(o->platform));
			platforms_given = true;
			r = each_word(a, v, add_platform, o);
		} else if (!strcmp(a, "--mem")) {
			if (!cli_parse_size(v, &o->mem) || o->mem < (256ULL << 20) || o->mem > (64ULL << 30))
				return bench_bad("pagehint bench --peers", "--mem: '%s' is not a size from 256M to 64G", v);
		} else if (!strcmp(a, "--cpus")) {
			if (!bench_parse_ulong(v, 16, &n) || !n)
				return bench_bad("pagehint bench --peers", "--cpus: '%s' is not a number from 1 to 16", v);
			o->cpus = (unsigned)n;
		} else if (!strcmp(a, "--hog-mib")) {
			if (!bench_parse_ulong(v, 64 << 10, &n) || !n)
				return bench_bad("pagehint bench --peers", "--hog-mib: '%s' is not a number of MiB", v);
			o->hog_mib = n;
		} else if (!strcmp(a, "--hold-ms") || !strcmp(a, "--idle-ms")) {
			if (!bench_parse_ulong(v, 3600000, &n) || n < 1000 || n % 1000)
				return bench_bad("pagehint bench --peers", "%s: '%s' is not a whole number of seconds in ms (1000-3600000)",
					   a, v);
			*(a[2] == 'h' ? &o->hold_ms : &o->idle_ms) = (long)n;
		} else if (!strcmp(a, "--linux-ref")) {
			o->linux_dir = v;
		} else if (!strcmp(a, "--kernel")) {
			o->kernel = v;
		} else {
			o->out = v;
		}
		if (r)
			return r;
	}
	if (!engines_given) {
		add_engine(o, "upstream", 8);
		add_engine(o, "max-order", 9);
		add_engine(o, "pagehint", 8);
	}
	if (!platforms_given)
		for (int k = 0; k < PF_COUNT; k++)
			o->platform[k] = true;
	if (!o->hog_mib)
		o->hog_mib = (o->mem >> 20) / 2;
	if (o->hog_mib > (o->mem >> 20) * 3 / 4)
		return bench_bad("pagehint bench --peers", "--hog-mib %llu: at most 3/4 of --mem (%llu MiB)",
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
	/* bench_reclaim_figures measures from the first free line and
	 * against the resident memory at the alloc line; here both are t0:
	 * Linux's initial flush discards boot-time pages during the hold,
	 * which are not the freed memory. */
	r->free_t_ms[0] = t0;
	r->have_alloc = false;
	bench_reclaim_figures(r, &w->rf);
	peers_figures(tr, t0, r->free_mib[0], &w->fig);
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

/* Run argv (QEMU with a trace log at log), then read the trace. */
static int run_qemu(struct peers *p, struct row *w, char **argv, const char *log, double timeout_s,
		    struct bench_run *r, struct peers_trace *tr, struct bench_child *c)
{
	*c = (struct bench_child){
		.argv = argv, .timeout_s = timeout_s, .sample_rss = true, .on_line = on_line,
	};
	double t = bench_now_s();
	bench_run_init(r);
	int e = bench_child_run(c, r, &stop_flag);
	w->wall_s = bench_now_s() - t;
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
	if (stop_flag)
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

static void run_linux(struct peers *p, struct row *w)
{
	char mem[32], smp[16], append[256], kernel[PATH_MAX + 16], initrd[PATH_MAX + 32];
	char log[PATH_MAX + 96];
	snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)(p->o.mem >> 20));
	snprintf(smp, sizeof(smp), "%u", p->o.cpus);
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", p->linux_dir);
	snprintf(initrd, sizeof(initrd), "%s/initramfs.cpio.gz", p->linux_dir);
	snprintf(append, sizeof(append),
		 "console=ttyS0 loglevel=4 panic=-1 memhog.mib=%llu memhog.hold=%ld memhog.idle=%ld",
		 (unsigned long long)p->o.hog_mib, p->o.hold_ms / 1000,
		 (p->o.idle_ms + IDLE_MARGIN_MS) / 1000);
	row_file(p, w, "trace", log, sizeof(log));
	unlink(log);
	char *argv[] = {
		QEMU, "-M", "q35", "-accel", "tcg", "-m", mem, "-smp", smp,
		"-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
		"-kernel", kernel, "-initrd", initrd, "-append", append,
		"-device", "virtio-balloon-pci,free-page-reporting=on",
		"-msg", "timestamp=on", "-D", log,
		"-trace", "virtio_queue_notify", "-trace", "ram_block_discard_range", NULL,
	};
	struct bench_run r;
	struct peers_trace tr;
	struct bench_child c;
	peers_trace_init(&tr);
	/* Linux boots in ~30 s under TCG, longer on a loaded machine */
	double timeout = 180 + hog_s(p) + (p->o.hold_ms + p->o.idle_ms) / 1e3;
	if (!run_qemu(p, w, argv, log, timeout, &r, &tr, &c)) {
		/* init.sh's verdict: "@exit status=N" before it powers off */
		const char *ex = NULL;
		for (const char *s = r.console; s && (s = strstr(s, "@exit status=")); s++)
			ex = s;
		int status = ex ? atoi(ex + 13) : -1;
		if (status != 0 || r.fail_lines)
			fail_row(p, w, &r, "the Linux guest %s%s%s", status < 0 ? "did not finish" :
				 "ended with an error", r.first_error[0] ? ": " : "", r.first_error);
		else if (!r.nfree)
			fail_row(p, w, &r, "no '@event free' line from memhog");
		else
			figures(p, w, &r, &tr, r.free_t_ms[0]);
	}
	peers_trace_free(&tr);
	bench_run_free(&r);
}

static void guest_cmdline(const struct peers *p, const struct row *w, char *buf, size_t cap)
{
	snprintf(buf, cap, "engine=%s workload=memhog seed=1 quiet memhog.mib=%llu "
		 "memhog.hold_ms=%ld memhog.idle_ms=%ld", w->engine, (unsigned long long)p->o.hog_mib,
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
	char *argv[] = {
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

static void run_vmm_guest(struct peers *p, struct row *w)
{
	char cmd[256], trace[PATH_MAX + 96];
	guest_cmdline(p, w, cmd, sizeof(cmd));
	struct bench_host h = {
		.hv = BENCH_HV_PAGEHINT, .kvm = true, .guest_elf = p->kernel, .self_exe = p->self,
		.cpus = p->o.cpus, .mem_mib = p->o.mem >> 20, .tmpdir = p->rundir,
	};
	struct bench_job j = {
		.cmdline = cmd, .tag = w->tag, .on_line = on_line, .keep_trace = true,
		.timeout_s = 120 + hog_s(p) + (p->o.hold_ms + p->o.idle_ms) / 1e3,
	};
	struct bench_run r;
	struct peers_trace tr;
	peers_trace_init(&tr);
	bench_run_init(&r);
	double t = bench_now_s();
	int e = bench_vmm_run(&h, &j, &r, &stop_flag);
	w->wall_s = bench_now_s() - t;
	/* bench_vmm_run's name for it */
	snprintf(trace, sizeof(trace), "%s/%s.trace.csv", p->rundir, w->tag);
	if (e) {
		fail_row(p, w, NULL, "cannot start pagehint run: %s", strerror(-e));
	} else if (!stop_flag) {
		FILE *f = fopen(trace, "r");
		e = f ? peers_trace_read_vmm(&tr, f) : -errno;
		if (f)
			fclose(f);
		if (e)
			fail_row(p, w, &r, "pagehint run's trace %s: %s", trace, strerror(-e));
		else
			finish_ours(p, w, &r, &tr);
	}
	if (p->rundir_temp)
		unlink(trace);
	peers_trace_free(&tr);
	bench_run_free(&r);
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
	char *argv[] = { script, NULL };
	struct bench_child c = { .argv = argv, .timeout_s = 1800, .on_line = build_line };
	struct bench_run r;
	bench_run_init(&r);
	int e = bench_child_run(&c, &r, &stop_flag);
	bench_run_free(&r);
	if (e || c.timed_out || !WIFEXITED(c.wstatus) || WEXITSTATUS(c.wstatus) ||
	    !linux_ready(p->linux_dir)) {
		snprintf(why, cap, "scripts/linux-ref/build.sh did not build the Linux reference guest "
			 "in %.150s (%s %d; 3: a Debian package could not be fetched)", p->linux_dir,
			 e ? "cannot start:" : "exit status",
			 e ? e : WIFEXITED(c.wstatus) ? WEXITSTATUS(c.wstatus) : -1);
		return why;
	}
version:;
	/* "kernel_version=6.1.0-56-amd64" from the manifest */
	char path[PATH_MAX + 32], line[256];
	snprintf(path, sizeof(path), "%s/manifest.txt", p->linux_dir);
	snprintf(p->linux_version, sizeof(p->linux_version), "6.1");
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "kernel_version=", 15)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(p->linux_version, sizeof(p->linux_version), "%.60s", line + 15);
		}
	if (f)
		fclose(f);
	return NULL;
}

/* ---- the table ---- */

static const char *where(const struct peers *p, enum platform pf)
{
	switch (pf) {
	case PF_LINUX:
		return "Linux TCG";
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

static void print_table(FILE *f, const struct peers *p)
{
	const struct popts *o = &p->o;
	fprintf(f, "pagehint bench --peers  %s  %s, %s, %u host CPUs\n", p->machine.date,
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
	fputc('\n', f);

	fprintf(f, "%-10s %-10s %6s %6s %6s %5s %5s %8s %10s %6s %6s %7s\n", "where", "engine", "t50 s",
		"t90 s", "t99 s", "@10s", "@35s", "req/GiB", "ranges/GiB", "passes", "gap s",
		"before");
	for (unsigned i = 0; i < p->nrows; i++) {
		const struct row *w = &p->rows[i];
		fprintf(f, "%-10s %-10s", where(p, w->pf), w->engine);
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
	fputc('\n', f);
	fprintf(f, "%-10s %-10s %-26s %-13s %s\n", "where", "engine", "requests per pass", "gap min..max",
		"range sizes after the free (x count)");
	for (unsigned i = 0; i < p->nrows; i++) {
		const struct row *w = &p->rows[i];
		if (w->st != ROW_OK)
			continue;
		char gap[40], sizes[200];
		if (w->fig.pass_gap_min_ms == BENCH_NULL)
			snprintf(gap, sizeof(gap), "-");
		else
			snprintf(gap, sizeof(gap), "%.2f..%.2f", w->fig.pass_gap_min_ms / 1e3,
				 w->fig.pass_gap_max_ms / 1e3);
		peers_sizes_str(&w->fig, sizes, sizeof(sizes));
		fprintf(f, "%-10s %-10s %-26s %-13s %s%s\n", where(p, w->pf), w->engine, w->fig.per_pass,
			gap, w->sizes_exact ? "" : "~", sizes);
	}
	fprintf(f, "  t50/t90/t99: seconds until QEMU's (or pagehint run's) resident memory is 50/90/99%% "
		"of the freed MiB below its level at t = 0; @10s/@35s: share back then.\n"
		"  req/GiB, ranges/GiB: report requests (notifies of the reporting queue) and their ranges "
		"(discards, QEMU's trace events virtio_queue_notify and ram_block_discard_range) from t = 0 "
		"to the end, per GiB freed;\n"
		"  before: requests before t = 0 (boot-time free memory: Linux's initial flush, our "
		"engines' first passes). A pass: requests less than %.0f s apart; gap: median time between "
		"the starts of consecutive passes.\n", PEERS_PASS_GAP_MS / 1e3);
	if (o->platform[PF_VMM])
		fprintf(f, "  pagehint run: requests and ranges from its 10 ms telemetry counters; '~': "
			"each range given its sample's mean size.\n");
}

/* ---- peers.json ---- */

/* ", \"key\": value" */
static void json_num(FILE *f, const char *key, double v)
{
	fprintf(f, ", \"%s\": ", key);
	bench_json_num(f, v);
}

static int write_json(const char *path, const struct peers *p)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
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
		"\"hold_ms\": %ld, \"idle_ms\": %ld, \"pass_gap_ms\": %.0f},\n  \"rows\": [",
		(unsigned long long)(p->o.mem >> 20), p->o.cpus, (unsigned long long)p->o.hog_mib,
		p->o.hold_ms, p->o.idle_ms + IDLE_MARGIN_MS, PEERS_PASS_GAP_MS);
	for (unsigned i = 0; i < p->nrows; i++) {
		const struct row *w = &p->rows[i];
		fprintf(f, "%s\n    {\"platform\": \"%s\", \"accel\": \"%s\", \"engine\": ", i ? "," : "",
			pf_names[w->pf], w->pf == PF_LINUX || (w->pf == PF_QEMU && p->nokvm) ? "tcg" : "kvm");
		bench_json_str(f, w->engine);
		fprintf(f, ", \"status\": \"%s\"", w->st == ROW_OK ? "ok" : w->st == ROW_FAILED ? "failed"
										     : "not run");
		if (w->st != ROW_OK) {
			fputs(", \"reason\": ", f);
			bench_json_str(f, w->why);
			fputs("}", f);
			continue;
		}
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
	fputs("\n  ]\n}\n", f);
	return fclose(f) ? -errno : 0;
}

/* ---- the plan ---- */

static void add_row(struct peers *p, enum platform pf, const char *engine)
{
	struct row *w = &p->rows[p->nrows++];
	memset(w, 0, sizeof(*w));
	w->pf = pf;
	w->st = ROW_OK;
	snprintf(w->engine, sizeof(w->engine), "%s", engine);
	snprintf(w->tag, sizeof(w->tag), "%s-%s", pf_names[pf], engine);
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
	/* Prepared last: building Linux is slow, and pointless when its row
	 * cannot run anyway. */
	if (p->o.platform[PF_LINUX] && p->rows[0].st == ROW_OK && prepare_linux(p, why, sizeof(why)))
		not_run(&p->rows[0], why);
}

static void default_paths(struct peers *p)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", p->self);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	if (p->o.kernel)
		snprintf(p->kernel, sizeof(p->kernel), "%s", p->o.kernel);
	else
		snprintf(p->kernel, sizeof(p->kernel), "%s/pagehint-guest.elf", dir);
	if (p->o.linux_dir)
		snprintf(p->linux_dir, sizeof(p->linux_dir), "%s", p->o.linux_dir);
	else if (getenv("LINUX_REF_DIR") && *getenv("LINUX_REF_DIR"))
		snprintf(p->linux_dir, sizeof(p->linux_dir), "%s", getenv("LINUX_REF_DIR"));
	else
		snprintf(p->linux_dir, sizeof(p->linux_dir), "%.*s/linux-ref", PATH_MAX - 16, dir);
}

int bench_peers_main(int argc, char **argv)
{
	struct peers *p = calloc(1, sizeof(*p));
	if (!p)
		return bench_bad("pagehint bench --peers", "out of memory");
	int ret = parse(argc, argv, &p->o);
	if (ret < 0) {
		usage(stdout);
		free(p);
		return 0;
	}
	if (ret) {
		free(p);
		return ret;
	}
	ssize_t sl = readlink("/proc/self/exe", p->self, sizeof(p->self) - 1);
	if (sl <= 0) {
		free(p);
		return bench_bad("pagehint bench --peers", "cannot find this program (/proc/self/exe)");
	}
	p->self[sl] = 0;
	default_paths(p);
	if ((p->o.platform[PF_QEMU] || p->o.platform[PF_VMM]) && access(p->kernel, R_OK)) {
		ret = bench_bad("pagehint bench --peers", "guest kernel %s: %s", p->kernel, strerror(errno));
		free(p);
		return ret;
	}
	if (p->o.out) {
		snprintf(p->rundir, sizeof(p->rundir), "%.*s/runs", PATH_MAX - 8, p->o.out);
		if ((ret = bench_mkdir_p(p->rundir))) {
			ret = bench_bad("pagehint bench --peers", "--out %s: %s", p->o.out, strerror(-ret));
			free(p);
			return ret;
		}
	} else {
		snprintf(p->rundir, sizeof(p->rundir), "%s/pagehint-peers.XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(p->rundir)) {
			ret = bench_bad("pagehint bench --peers", "cannot make a temporary directory: %s", strerror(errno));
			free(p);
			return ret;
		}
		p->rundir_temp = true;
	}

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	bench_machine_info(&p->machine);
	p->nokvm = bench_kvm_unusable(p->nokvm_buf, sizeof(p->nokvm_buf));
	p->have_qemu = bench_qemu_version(p->qemu_version, sizeof(p->qemu_version));
	plan(p);

	unsigned todo = 0, done = 0;
	for (unsigned i = 0; i < p->nrows; i++)
		todo += p->rows[i].st == ROW_OK;
	say("%u runs of the reclaim scenario (%llu MiB guest, %u vCPUs, memhog %llu MiB, hold %ld s, "
	    "idle %ld s)%s%s", todo, (unsigned long long)(p->o.mem >> 20), p->o.cpus,
	    (unsigned long long)p->o.hog_mib, p->o.hold_ms / 1000, (p->o.idle_ms + IDLE_MARGIN_MS) / 1000,
	    p->nokvm ? "; QEMU runs our guest with TCG: " : "", p->nokvm ? p->nokvm : "");
	double t_start = bench_now_s();
	for (unsigned i = 0; i < p->nrows && !stop_flag; i++) {
		struct row *w = &p->rows[i];
		if (w->st != ROW_OK) {
			say("%s %s: not run: %s", where(p, w->pf), w->engine, w->why);
			continue;
		}
		say("[%u/%u, %.0f s so far] %s %s", ++done, todo, bench_now_s() - t_start, where(p, w->pf),
		    w->engine);
		if (w->pf == PF_LINUX)
			run_linux(p, w);
		else if (w->pf == PF_QEMU)
			run_qemu_guest(p, w);
		else
			run_vmm_guest(p, w);
	}
	if (stop_flag) {
		fprintf(stderr, "pagehint bench --peers: stopped by signal %d\n", (int)stop_flag);
		ret = EXIT_SIGNAL;
		goto out;
	}
	print_table(stdout, p);
	fflush(stdout);
	ret = p->failures ? EXIT_FAILED : 0;
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
			fprintf(stderr, "pagehint bench --peers: cannot write %s/: %s\n", p->o.out,
				strerror(e ? -e : errno));
			ret = EXIT_FAILED;
		}
	}
	if (p->failures)
		fprintf(stderr, "pagehint bench --peers: %u run%s failed (see above)\n", p->failures,
			p->failures > 1 ? "s" : "");
out:
	if (p->rundir_temp)
		bench_rm_tree(p->rundir);
	free(p);
	return ret;
}
