/* SPDX-License-Identifier: MIT */
/*
 * `pagehint peers` (docs/interop.md): the reclaim scenario on
 * Linux 6.1 with its own page reporting, on our guest under QEMU, and on
 * our guest under our hypervisor, with what each guest asked the host to
 * discard.
 *
 *   bench_peers.c      the command line, the runs, the table and files
 *   bench_peers_fig.c  the request pattern from a host-side trace: report
 *                      requests, their ranges, range sizes, passes
 *   bench_peers_linux.c  the Linux guests' verdict; Linux on pagehint run:
 *                      whether it can run here, its command line, its
 *                      result
 *
 * The figure and Linux code does no I/O beyond reading a FILE it is
 * given, so tests feed it synthetic traces and runs.
 */
#ifndef VMM_BENCH_PEERS_H
#define VMM_BENCH_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* `pagehint peers`; argv is main()'s, argv[1] is "peers". */
int bench_peers_main(int argc, const char *const *argv);

/* ---- report requests as the host saw them ---- */

struct peers_req {
	double t_ms;		/* on the run's sample clock */
	size_t first;		/* its ranges: len[first .. first + nranges) */
	unsigned nranges;
	uint64_t bytes;
};

struct peers_trace {
	struct peers_req *req;
	size_t nreq, req_cap;
	uint64_t *len;		/* every range's length, request by request */
	size_t nlen, len_cap;
	/* false: the source had per-sample counters only, and each range of
	 * a sample is given the sample's mean size */
	bool sizes_exact;
	int queue;		/* QEMU: the reporting queue's index; else -1 */
};

void peers_trace_init(struct peers_trace *t);
void peers_trace_free(struct peers_trace *t);

/* QEMU's log trace backend with virtio_queue_notify and
 * ram_block_discard_range enabled ("PID@SEC.USEC:event args"): a request
 * is one notify of the queue whose notifies are followed by discards, its
 * ranges the discards up to the next notify. Times are CLOCK_REALTIME
 * seconds; t0_real_s (that clock at the run's t = 0) maps them onto the
 * run's clock. 0, or -errno on a read error (lines it does not know are
 * skipped). */
int peers_trace_read_qemu(struct peers_trace *t, FILE *f, double t0_real_s);

/* `pagehint run --trace` CSV (t_ms, ..., reported_mib in column 4,
 * report_requests and report_ranges in 5 and 6, cumulative): the
 * requests each 10 ms sample added, at its time. Sizes are not exact. */
int peers_trace_read_vmm(struct peers_trace *t, FILE *f);

/* Our guest's t = 0, the start of its first free: its "@event freeing"
 * line; from a guest without one, its "@event alloc" line + hold_ms
 * (memhog's sleep before the free). */
struct bench_run;
double peers_t0_ours(const struct bench_run *r, double hold_ms);

/* ---- the request pattern after the free ---- */

#define PEERS_PASS_GAP_MS 1000.0	/* requests closer than this: one pass */
#define PEERS_SIZES 4			/* range sizes listed, most common first */

struct peers_size {
	uint64_t bytes;
	size_t count;
};

struct peers_fig {
	size_t requests, ranges;	/* at or after t0 */
	size_t requests_before;		/* before t0 (e.g. Linux's initial flush) */
	double reported_mib;
	double requests_per_gib, ranges_per_gib;	/* per GiB freed */
	unsigned passes;
	/* gaps between the starts of consecutive passes, ms; BENCH_NULL
	 * below two passes */
	double pass_gap_med_ms, pass_gap_min_ms, pass_gap_max_ms;
	char per_pass[96];		/* requests per pass, runs: "4, 2x6, 1" */
	unsigned nsizes;
	struct peers_size size[PEERS_SIZES];	/* most common first */
	size_t other_ranges;		/* of sizes beyond those listed */
	size_t nsizes_all;		/* distinct sizes */
};

/* The figures of the requests at or after t0_ms, per GiB of freed_mib. */
void peers_figures(const struct peers_trace *t, double t0_ms, double freed_mib,
		   struct peers_fig *f);
/* "4Mx503, 2Mx11" (+ ", other x N" when more sizes), or "-". */
void peers_sizes_str(const struct peers_fig *f, char *buf, size_t cap);

/* A finished run's figures with t = 0 at t0_ms (on the samples' clock):
 * the reclaim marks and shares (bench_reclaim_figures, from t0 rather than
 * the alloc line: Linux's initial flush discards boot-time pages during
 * the hold, which are not the freed memory) and the request pattern.
 * Sets r's first free start to t0_ms and forgets its alloc line. */
struct bench_reclaim_fig;
void peers_run_figures(struct bench_run *r, const struct peers_trace *tr, double t0_ms,
		       struct bench_reclaim_fig *rf, struct peers_fig *f);

/* ---- the Linux guests ---- */

/* The Linux guest's verdict: init.sh's "@exit status=N" before it powers
 * off, no @fail line, and its @balloon line: free page reporting
 * negotiated as asked and, where asked for, the pagehint engine. NULL,
 * or why not (in why). */
const char *peers_linux_verdict(const struct bench_run *r, bool reporting, bool pagehint, char *why,
				size_t cap);

/* /proc/cpuinfo's first "flags" line has vmx or svm: KVM runs the guest
 * on the CPU's virtualization (not PVM, where a guest kernel's CPL0 is
 * emulated). */
bool peers_cpu_virt(FILE *cpuinfo);

/* Whether Linux on pagehint run can run here: NULL, or why not (in why):
 * no usable KVM (nokvm, bench_kvm_unusable's reason), or KVM without
 * VMX/SVM (virt false; Linux would not boot in useful time). */
const char *peers_linux_vmm_unrunnable(const char *nokvm, bool virt, char *why, size_t cap);

/* The Linux guest's command line on pagehint run (which adds console=),
 * memhog's scenario as on QEMU: hold and idle in whole seconds. */
void peers_linux_vmm_cmdline(char *buf, size_t cap, uint64_t hog_mib, long hold_ms, long idle_ms);

/* Linux on pagehint run, finished (r from bench_vmm_run; trace its
 * --trace CSV): NULL with tr's requests read and *t0_ms memhog's free
 * line, or why the row failed (in why): pagehint run did not end with
 * status 0, the guest's verdict, no free line, no samples, a bad trace. */
const char *peers_linux_vmm_result(const struct bench_run *r, FILE *trace, struct peers_trace *tr,
				   double *t0_ms, char *why, size_t cap);

#endif
