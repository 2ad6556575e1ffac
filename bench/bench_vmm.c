/* SPDX-License-Identifier: MIT */
/*
 * The pagehint backend: each guest run is a `pagehint run` child (this
 * program). Its console lines carry the telemetry clock ("[ s.us] "), and
 * its --trace CSV has the samples on that clock: resident memory by
 * mincore over guest RAM, and VM exits. The exits figure counts the
 * trace's device_exits (the balloon's register accesses and ioeventfd
 * notifies without the stats queue's: what QEMU's trace events count);
 * the total beside it every exit to userspace plus the ioeventfd
 * notifies. Its summary JSON gives the exitless scanner's counters and
 * the device's report requests; the other figures are computed from the
 * trace the same way
 * (telemetry_reclaim) for both backends. Its CPU time leaves out its
 * telemetry sampler's (docs/bench.md). A job that scrapes serves the
 * control API at TMPDIR/api.sock (one run at a time), which a thread of
 * the bench asks for /metrics during the free and the reclaim
 * (bench_scrape.c); the API thread's CPU is left out too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "balloon_exitless.h"	/* XL_THREAD_NAME */
#include "bench_child.h"
#include "bench_int.h"
#include "bench_scrape.h"

/* The trace's columns the bench reads, looked up by name in its header. */
enum { COL_T, COL_RSS, COL_DEVICE, COL_EXITS, COL_NOTIFY, NCOLS };
static const char *const col_names[NCOLS] = {
	"t_ms", "resident_mib", "device_exits", "exits", "notifications",
};

int bench_vmm_read_trace(FILE *f, struct bench_run *r, double done_ms)
{
	char line[4096];
	int col[NCOLS];
	if (!fgets(line, sizeof(line), f))
		return -EINVAL;
	bench_csv_columns(line, col_names, NCOLS, col);
	if (col[COL_T] < 0 || col[COL_RSS] < 0)
		return -EINVAL;
	bool dev = col[COL_DEVICE] >= 0, all = col[COL_EXITS] >= 0 && col[COL_NOTIFY] >= 0;
	while (fgets(line, sizeof(line), f)) {
		double v[NCOLS] = { 0 };
		if (!bench_csv_row(line, col, NCOLS, v))
			continue;
		if (done_ms >= 0 && v[COL_T] > done_ms)
			break;
		if (bench_run_add_sample(r, v[COL_T], v[COL_RSS], dev ? v[COL_DEVICE] : -1))
			break;
		r->s[r->n - 1].exits_all = all ? v[COL_EXITS] + v[COL_NOTIFY] : -1;
	}
	r->exits_known = dev && r->n > 0;
	r->exits_all_known = all && r->n > 0;
	return 0;
}

/* The number after "key": in text (up to end), or false. */
static bool json_num(const char *text, const char *end, const char *key, double *out)
{
	char k[64];
	snprintf(k, sizeof(k), "\"%s\":", key);
	const char *p = strstr(text, k);
	if (!p || (end && p >= end))
		return false;
	char *e;
	double v = strtod(p + strlen(k), &e);
	if (e == p + strlen(k))
		return false;
	*out = v;
	return true;
}

int bench_read_summary(FILE *f, struct bench_run *r)
{
	enum { CAP = 1 << 16 };	/* the summary is a few KiB */
	char *buf = malloc(CAP);
	if (!buf)
		return -ENOMEM;
	size_t n = fread(buf, 1, CAP - 1, f);
	buf[n] = 0;
	json_num(buf, NULL, "report_requests", &r->host_requests);
	const char *x = strstr(buf, "\"exitless\": {");
	if (x) {
		const char *end = strchr(x, '}');
		json_num(x, end, "reclaimed_frames", &r->xl_reclaimed_frames);
		json_num(x, end, "discard_calls", &r->xl_discard_calls);
		json_num(x, end, "skipped_frames", &r->xl_skipped_frames);
	}
	free(buf);
	return x ? 0 : -EINVAL;
}

const char *bench_vmm_no_api(const struct bench_host *h, char *buf, size_t cap)
{
	char sock[4096];

	if (h->hv == BENCH_HV_QEMU)
		return "QEMU has no control API (pagehint run --api-sock)";
	snprintf(sock, sizeof(sock), "%s/api.sock", h->tmpdir);
	if (strlen(sock) < sizeof(((struct bench_vmm_argv *)0)->api_sock))
		return NULL;
	snprintf(buf, cap, "the socket's path %.40s... is longer than a Unix socket's %zu bytes",
		 sock, sizeof(((struct bench_vmm_argv *)0)->api_sock) - 1);
	return buf;
}

void bench_vmm_argv(const struct bench_host *h, const struct bench_job *j, struct bench_vmm_argv *a)
{
	char why[160];
	snprintf(a->mem, sizeof(a->mem), "%lluM", (unsigned long long)h->mem_mib);
	snprintf(a->cpus, sizeof(a->cpus), "%u", h->cpus);
	/* The VMM's own timeout first; the bench's a little later. */
	snprintf(a->timeout, sizeof(a->timeout), "%.0f", j->timeout_s);
	snprintf(a->trace, sizeof(a->trace), "%s/%s.trace.csv", h->tmpdir, j->tag);
	snprintf(a->summary, sizeof(a->summary), "%s/%s.summary.json", h->tmpdir, j->tag);

	const char *argv[] = {
		h->self_exe, "run", "--mem", a->mem, "--cpus", a->cpus, "--quiet",
		"--kernel", h->guest_elf, "--timeout", a->timeout,
		"--trace", a->trace, "--summary-json", a->summary,
		"--populate", j->populate ? "on" : "off",
	};
	_Static_assert(sizeof(argv) / sizeof(argv[0]) + 7 <= sizeof(a->argv) / sizeof(a->argv[0]),
		       "bench_vmm_argv: argv");
	size_t n = sizeof(argv) / sizeof(argv[0]);
	memcpy(a->argv, argv, sizeof(argv));
	if (h->initrd) {
		a->argv[n++] = "--initrd";
		a->argv[n++] = h->initrd;
	}
	if (j->scrape && !bench_vmm_no_api(h, why, sizeof(why))) {
		snprintf(a->api_sock, sizeof(a->api_sock), "%s/api.sock", h->tmpdir);
		a->argv[n++] = "--api-sock";
		a->argv[n++] = a->api_sock;
	}
	a->argv[n++] = "--";
	a->argv[n++] = j->cmdline;
	a->argv[n] = NULL;
}

/* The child's lines and samples: to the scraper, then to the job's. */
struct vmm_lines {
	const struct bench_job *j;
	struct bench_scraper *scraper;
};

static void vmm_line(void *arg, const char *line)
{
	struct vmm_lines *l = arg;
	bench_scraper_line(l->scraper, line);
	if (l->j->on_line)
		l->j->on_line(l->j->arg, line);
}

static void vmm_sample(void *arg, double t_ms, double rss_mib)
{
	struct vmm_lines *l = arg;
	if (l->j->on_sample)
		l->j->on_sample(l->j->arg, t_ms, rss_mib);
}

/* TMPDIR/TAG.scrapes.csv: every scrape's answer time, to recompute the figure from. */
static void save_scrapes(const struct bench_host *h, const struct bench_job *j,
			 const struct bench_run *r)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.scrapes.csv", h->tmpdir, j->tag);
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	bench_scrape_csv(f, r);
	fclose(f);
}

int bench_vmm_run(const struct bench_host *h, const struct bench_job *j, struct bench_run *r,
		  volatile sig_atomic_t *stop)
{
	struct bench_vmm_argv a = { 0 };
	bench_vmm_argv(h, j, &a);

	/* A socket left by a run that was killed would be refused. */
	struct vmm_lines lines = { .j = j };
	if (a.api_sock[0]) {
		unlink(a.api_sock);
		lines.scraper = bench_scraper_start(a.api_sock, BENCH_SCRAPE_PERIOD_MS);
	}
	/* Its CPU without its own sampler's (mincore every 10 ms, for the
	 * trace), nor its API's while the bench scrapes it: QEMU's is
	 * sampled from outside, at no cost to QEMU. */
	struct bench_child c = {
		.argv = a.argv, .timeout_s = j->timeout_s + 10, .prefix_times = true,
		.exclude_thread = "ph-telemetry", .count_thread = XL_THREAD_NAME,
		.exclude_thread2 = a.api_sock[0] ? BENCH_API_THREAD : NULL,
		.on_line = vmm_line, .on_sample = vmm_sample, .arg = &lines,
	};
	int e = bench_child_run(&c, r, stop);
	if (lines.scraper) {
		bench_scraper_stop(lines.scraper, r);
		unlink(a.api_sock);
		save_scrapes(h, j, r);
	}
	if (e)
		return e;

	/* Lines were timed by their prefixes: the telemetry clock. */
	FILE *tf = fopen(a.trace, "r");
	if (tf) {
		bench_vmm_read_trace(tf, r, r->done ? r->done_t_ms : -1);
		fclose(tf);
	}
	if (!j->keep_trace)
		unlink(a.trace);
	FILE *sf = fopen(a.summary, "r");
	if (sf) {
		bench_read_summary(sf, r);
		fclose(sf);
	}

	if (!c.timed_out && !c.stopped && WIFEXITED(c.wstatus)) {
		int code = WEXITSTATUS(c.wstatus);
		if (code <= 4) {
			r->guest_exit = code;
		} else {
			r->end = code == 124 ? "timeout" : code == 130 ? "signal" : "error";
			if (!r->first_error[0])
				snprintf(r->first_error, sizeof(r->first_error),
					 "pagehint run exited with %d", code);
		}
	} else if (!c.timed_out && !c.stopped) {
		r->end = "error";
		snprintf(r->first_error, sizeof(r->first_error), "pagehint run died of signal %d",
			 WIFSIGNALED(c.wstatus) ? WTERMSIG(c.wstatus) : 0);
	}
	return 0;
}
