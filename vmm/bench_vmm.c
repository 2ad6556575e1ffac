/* SPDX-License-Identifier: MIT */
/*
 * The pagehint backend: each guest run is a `pagehint run` child (this
 * program). Its console lines carry the telemetry clock ("[ s.us] "), and
 * its --trace CSV has the samples on that clock: resident memory by
 * mincore over guest RAM, and VM exits to userspace. Its summary JSON is
 * kept beside the trace for whoever wants it; the figures are computed
 * from the trace the same way (telemetry_reclaim) for both backends. Its
 * CPU time leaves out its telemetry sampler's (docs/bench.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_child.h"
#include "bench_int.h"

/* The --trace CSV: t_ms, resident_mib, ..., exits (7th column). Samples
 * after the @done line are left out, as for QEMU. */
static int read_trace(const char *path, struct bench_run *r, double done_ms)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -EINVAL;
	}
	while (fgets(line, sizeof(line), f)) {
		double v[7];
		char *p = line;
		int k;
		for (k = 0; k < 7; k++) {
			char *end;
			v[k] = strtod(p, &end);
			if (end == p)
				break;
			p = *end == ',' ? end + 1 : end;
		}
		if (k < 7)
			continue;
		if (done_ms >= 0 && v[0] > done_ms)
			break;
		bench_run_add_sample(r, v[0], v[1], v[6]);
	}
	fclose(f);
	return 0;
}

int bench_vmm_run(const struct bench_host *h, const struct bench_job *j, struct bench_run *r,
		  volatile sig_atomic_t *stop)
{
	char mem[32], cpus[16], timeout[32], trace[4096], summary[4096];
	snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)h->mem_mib);
	snprintf(cpus, sizeof(cpus), "%u", h->cpus);
	/* The VMM's own timeout first; the bench's a little later. */
	snprintf(timeout, sizeof(timeout), "%.0f", j->timeout_s);
	snprintf(trace, sizeof(trace), "%s/%s.trace.csv", h->tmpdir, j->tag);
	snprintf(summary, sizeof(summary), "%s/%s.summary.json", h->tmpdir, j->tag);

	char *argv[] = {
		(char *)h->self_exe, "run", "--mem", mem, "--cpus", cpus, "--quiet",
		"--kernel", (char *)h->guest_elf, "--timeout", timeout,
		"--trace", trace, "--summary-json", summary, "--", (char *)j->cmdline, NULL,
	};
	/* Its CPU without its own sampler's (mincore every 10 ms, for the
	 * trace): QEMU's is sampled from outside, at no cost to QEMU. */
	struct bench_child c = {
		.argv = argv, .timeout_s = j->timeout_s + 10, .prefix_times = true,
		.exclude_thread = "ph-telemetry",
		.on_line = j->on_line, .on_sample = j->on_sample, .arg = j->arg,
	};
	int e = bench_child_run(&c, r, stop);
	if (e)
		return e;

	/* Lines were timed by their prefixes: the telemetry clock. */
	if (read_trace(trace, r, r->done ? r->done_t_ms : -1) == 0)
		r->exits_known = r->n > 0;
	if (!j->keep_trace)
		unlink(trace);

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
