/* SPDX-License-Identifier: MIT */
/* One guest run as a child process: see bench_child.c. */
#ifndef VMM_BENCH_CHILD_H
#define VMM_BENCH_CHILD_H

#include <signal.h>
#include <stdbool.h>

#include "bench.h"

struct bench_child {
	const char *const *argv;	/* argv[0] looked up in PATH */
	double timeout_s;		/* then SIGTERM, 2 s later SIGKILL */
	bool prefix_times;		/* lines carry "[ s.us] ": their time */
	bool sample_rss;		/* samples: the child's resident memory */
	/* A thread (by name) whose CPU is not the child's: the VMM's own
	 * telemetry sampler, which QEMU, sampled from outside, has not. */
	const char *exclude_thread;
	/* Another (the VMM's control API, serving the bench's scrapes): its
	 * CPU as last sampled. */
	const char *exclude_thread2;
	/* A thread (by name) whose CPU is also told apart, into r->xl_cpu_ms
	 * (the exitless scanner's: it stays in the child's total). */
	const char *count_thread;
	void (*on_line)(void *arg, const char *line);
	void (*on_sample)(void *arg, double t_ms, double rss_mib);
	void *arg;

	/* out */
	double t0_real_s;		/* CLOCK_REALTIME at t = 0 */
	int wstatus;			/* from wait4 */
	bool timed_out, stopped;
};

/* Run to the end; r gets the console's figures, samples (if sample_rss),
 * CPU time (without exclude_thread's: as sampled, and at the end as the
 * child's telemetry line says if it has one; nor exclude_thread2's, as
 * sampled), wall time and end. *stop (if not NULL) going non-zero stops
 * the child. 0, or -errno if it could not be started. */
int bench_child_run(struct bench_child *c, struct bench_run *r, volatile sig_atomic_t *stop);

#endif
