/* SPDX-License-Identifier: MIT */
/*
 * Telemetry: a sampler thread records guest RAM resident on the host, what
 * the balloon discarded, report requests and ranges, VM exits by cause and
 * queue notifications. It writes them to --trace as CSV, shows a one-line
 * live view on a terminal, and at exit computes the summary
 * (--summary-json), including how fast memory came back after each
 * "@event free" the guest announced.
 *
 * Pace (docs/vmm.md, "Telemetry"): with a trace, every 10 ms and resident
 * memory by mincore (O(guest RAM) a sample). Without, resident memory from
 * O(1) counters (gm_resident_fast), every 10 ms while memory moves and for
 * a while after a console line (a minute after a free), backing off to
 * TELEMETRY_IDLE_PERIOD_NS when nothing moves; a console line also takes a
 * sample at once (telemetry_kick), so a free has a fresh baseline.
 *
 * Samples are appended under lock (the sampler and telemetry_kick); the
 * array is read only after the sampler has been joined.
 */
#ifndef VMM_TELEMETRY_H
#define VMM_TELEMETRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "console.h"
#include "exits.h"
#include "latency_hist.h"

#define TELEMETRY_PERIOD_NS 10000000ull	/* 10 ms: the full rate */
#define TELEMETRY_IDLE_PERIOD_NS 500000000ull	/* the slowest, when nothing moves */
#define TELEMETRY_HOLD_NS 1000000000ull	/* full rate this long after movement */
#define TELEMETRY_FREE_HOLD_NS 60000000000ull	/* ... and after a free: its reclaim */
#define TELEMETRY_MOVE_BYTES (2ull << 20)	/* a resident change that is movement */
#define TELEMETRY_KICK_GAP_NS 1000000ull	/* a console line samples if the last is older */
#define TELEMETRY_STATS_EVERY_NS 1000000000ull	/* balloon stats requests, by default */

struct sample {
	uint64_t t_ns;			/* since telemetry start */
	uint64_t resident;		/* bytes */
	uint64_t discarded;		/* bytes, cumulative */
	uint64_t reported;		/* bytes, cumulative */
	uint64_t requests, ranges;
	struct exit_counts x;		/* exits by cause, ioeventfd notifies by role */
	uint64_t notifies, irqs;
	uint64_t balloon_pages;
	uint64_t guest_free;		/* bytes, from the stats queue; 0 if none */
	uint64_t xl_reclaimed;		/* bytes the exitless scanner reclaimed, cumulative */
};

/* Where the sampler reads its numbers; any may be NULL. */
struct balloon_dev;
struct virtio_mmio_dev;
struct guest_mem;

struct telemetry {
	struct guest_mem *gm;
	struct balloon_dev *balloon;
	struct virtio_mmio_dev *transport;
	struct exit_stats *exits;
	atomic_ulong *ioeventfd_notifies;

	FILE *trace;			/* CSV, or NULL */
	bool live;			/* one-line view on stdout (a tty) */
	uint64_t t0_ns;			/* CLOCK_MONOTONIC at start */

	pthread_t thread;
	bool running;
	atomic_bool stop;
	pthread_mutex_t out_lock;	/* stdout: console lines vs live line */
	bool live_shown;

	/* Pace and resident source (set exact before telemetry_start). */
	bool exact;			/* every sample by mincore, at the full rate */
	pthread_mutex_t lock;		/* the sample array, pace, gm's calibration */
	pthread_cond_t wake;		/* the sampler's sleep; kick and stop end it */
	uint64_t period_ns;		/* the sampler's current period */
	uint64_t fast_until_ns;		/* full rate until then (telemetry clock) */
	bool kicked;
	size_t cal_n;			/* samples stored at the last mincore */
	uint64_t full_scans;		/* samples by mincore */
	uint64_t last_live_ns, last_stats_ns;
	_Atomic uint64_t stats_every_ns;	/* stats requests; 0: none (telemetry_set_stats_interval) */
	uint64_t cpu_ns;		/* CPU time spent sampling (thread + final scan) */

	struct sample *s;
	size_t n, cap;
};

struct reclaim {
	uint64_t mib;
	double ms[3];			/* 50, 90, 99 %; < 0: never (RECLAIM_NEVER) */
};

struct summary {
	int guest_exit;			/* < 0: the guest did not write one */
	unsigned cpus;
	uint64_t mem_mib;
	double resident_peak_mib, resident_end_mib;
	double reported_mib, discarded_mib;
	uint64_t discard_calls;		/* the device's: reports, inflates, exitless */
	uint64_t report_requests;
	uint64_t report_ranges;
	struct exit_counts exits;	/* "exits_total" is their sum */
	uint64_t data_errors;
	const char *end_reason;		/* "exit", "timeout", "crash", "error", "signal", "shutdown", ... */
	unsigned nreclaim;
	struct reclaim *reclaim;
	/* Faulty-device mode (--fault); fault_modes NULL: not written. */
	const char *fault_modes;
	uint64_t faults_delayed, faults_dropped, faults_reset, faults_canceled;
	double faults_canceled_mib;
	uint64_t device_errors;		/* bad input the device refused */
	/* The balloon at the end: num_pages the host asked for, what the
	 * guest said it holds (4 KiB pages); written as "balloon". */
	uint64_t balloon_target_pages, balloon_actual_pages;
	struct lat_hist_snap report_latency;	/* written as "report_latency" */
	/* balloon_counters' target_latencies and target_latency_ns: written
	 * as "target_latency" {"count", "last_s"}. */
	uint64_t target_latencies, target_latency_ns;
	/* The exitless map (docs/exitless.md): written as "exitless". */
	struct {
		bool offered;
		uint64_t attaches, refused, detaches, scans;
		uint64_t reclaimed_frames, discard_calls, discard_errors, violations, throttled;
		uint64_t skipped_frames;	/* claimed, not resident: no discard */
	} xl;
};

void telemetry_init(struct telemetry *t);
/* One sample now (the sampler calls it; tests too). */
void telemetry_sample(struct telemetry *t);
/* Something happened (a console line): full rate for hold_ns from now,
 * and, unless exact or sampled within TELEMETRY_KICK_GAP_NS, one O(1)
 * sample at once in the caller. */
void telemetry_kick(struct telemetry *t, uint64_t hold_ns);
/* Pace, pure: did memory move between two samples (resident by
 * TELEMETRY_MOVE_BYTES, or anything the device discarded or reclaimed)? */
bool telemetry_moved(const struct sample *prev, const struct sample *cur);
/* Pace, pure: the period after a sample at now_ns: the full rate until
 * fast_until_ns, then doubling from period_ns up to the idle period. */
uint64_t telemetry_next_period(uint64_t period_ns, uint64_t now_ns, uint64_t fast_until_ns);
/* The latest sample (under the lock, from any thread): false if none yet. */
bool telemetry_last(struct telemetry *t, struct sample *out);
/* How often the sampler asks the guest for fresh balloon stats (default
 * TELEMETRY_STATS_EVERY_NS; 0: never); from any thread. The sampler's own
 * period (up to TELEMETRY_IDLE_PERIOD_NS when idle) rounds it up. */
void telemetry_set_stats_interval(struct telemetry *t, uint64_t ns);
int telemetry_start(struct telemetry *t);
void telemetry_stop(struct telemetry *t);
void telemetry_destroy(struct telemetry *t);
/* Print a console line (with its host timestamp) without tearing the
 * live line. */
void telemetry_print_line(struct telemetry *t, const char *line, uint64_t host_ns);

/* For each free event: MiB freed and the ms from its start until 50, 90,
 * 99% of it was back (reclaim_marks.h: the baseline is the resident
 * memory at the start, or the sample the event's console line took, up
 * to TELEMETRY_KICK_GAP_NS after it, if higher), searched until the next
 * free event. out has nev entries. */
void telemetry_reclaim(const struct sample *s, size_t n, uint64_t t0_ns,
		       const struct free_event *ev, unsigned nev, struct reclaim *out);
/* What the run counted, into s: resident memory's peak and end from the
 * samples, the exits, and the device's counters (the faults only with
 * faults set). The rest of s is the caller's. */
void telemetry_summarize(const struct telemetry *t, struct summary *s, bool faults);
void telemetry_write_summary(FILE *f, const struct summary *s);
void telemetry_csv_header(FILE *f);
void telemetry_csv_row(FILE *f, const struct sample *s);

#endif
