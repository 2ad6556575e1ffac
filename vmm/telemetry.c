/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/virtio_balloon.h>

#include "balloon.h"
#include "guest_mem.h"
#include "reclaim_marks.h"
#include "telemetry.h"
#include "virtio_mmio.h"
#include "clock.h"

#define MiB (1024.0 * 1024.0)
#define LIVE_EVERY_NS 100000000ull	/* live-line updates */

void telemetry_init(struct telemetry *t)
{
	pthread_condattr_t ca;

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->out_lock, NULL);
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->wake, &ca);
	pthread_condattr_destroy(&ca);
	t->t0_ns = mono_ns();
	t->period_ns = TELEMETRY_PERIOD_NS;
	t->fast_until_ns = TELEMETRY_HOLD_NS;	/* the boot */
	atomic_store(&t->stats_every_ns, TELEMETRY_STATS_EVERY_NS);
}

bool telemetry_last(struct telemetry *t, struct sample *out)
{
	pthread_mutex_lock(&t->lock);
	bool have = t->n > 0;
	if (have)
		*out = t->s[t->n - 1];
	pthread_mutex_unlock(&t->lock);
	return have;
}

void telemetry_set_stats_interval(struct telemetry *t, uint64_t ns)
{
	atomic_store(&t->stats_every_ns, ns);
}

/* The exit columns after the others: exits_<cause>, notifications_<role>,
 * device_exits. */
static void csv_exits_header(FILE *f)
{
	for (unsigned i = 0; i < EXIT_CAUSE_COUNT; i++)
		fprintf(f, ",exits_%s", exit_cause_names[i]);
	for (unsigned i = 0; i < EXIT_ROLES; i++)
		fprintf(f, ",notifications_%s", exit_role_names[i]);
	fputs(",device_exits", f);
}

static void csv_exits(FILE *f, const struct exit_counts *x)
{
	for (unsigned i = 0; i < EXIT_CAUSE_COUNT; i++)
		fprintf(f, ",%llu", (unsigned long long)x->cause[i]);
	for (unsigned i = 0; i < EXIT_ROLES; i++)
		fprintf(f, ",%llu", (unsigned long long)x->notify[i]);
	fprintf(f, ",%llu", (unsigned long long)exit_counts_device(x));
}

void telemetry_csv_header(FILE *f)
{
	fputs("t_ms,resident_mib,discarded_mib,reported_mib,report_requests,report_ranges,"
	      "exits,exits_io,exits_mmio,exits_other,notifications,interrupts,balloon_mib,guest_free_mib,"
	      "exitless_mib", f);
	csv_exits_header(f);
	fputc('\n', f);
}

void telemetry_csv_row(FILE *f, const struct sample *s)
{
	uint64_t total = exit_counts_total(&s->x), io = exit_counts_io(&s->x),
		 mmio = exit_counts_mmio(&s->x);

	fprintf(f, "%.3f,%.3f,%.3f,%.3f,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%.3f,%.3f,%.3f",
		s->t_ns / 1e6, s->resident / MiB, s->discarded / MiB, s->reported / MiB,
		(unsigned long long)s->requests, (unsigned long long)s->ranges,
		(unsigned long long)total, (unsigned long long)io, (unsigned long long)mmio,
		(unsigned long long)(total - io - mmio), (unsigned long long)s->notifies,
		(unsigned long long)s->irqs, s->balloon_pages * 4096.0 / MiB, s->guest_free / MiB,
		s->xl_reclaimed / MiB);
	csv_exits(f, &s->x);
	fputc('\n', f);
}

static void live_line(struct telemetry *t, const struct sample *s)
{
	pthread_mutex_lock(&t->out_lock);
	printf("\r\033[K[%7.2fs] resident %7.1f MiB | discarded %7.1f MiB | %llu req %llu ranges"
	       " | exits %llu | notify %llu",
	       s->t_ns / 1e9, s->resident / MiB, s->discarded / MiB,
	       (unsigned long long)s->requests, (unsigned long long)s->ranges,
	       (unsigned long long)exit_counts_total(&s->x), (unsigned long long)s->notifies);
	if (s->guest_free)
		printf(" | guest free %.0f MiB", s->guest_free / MiB);
	if (s->xl_reclaimed)
		printf(" | exitless %.0f MiB", s->xl_reclaimed / MiB);
	fflush(stdout);
	t->live_shown = true;
	pthread_mutex_unlock(&t->out_lock);
}

void telemetry_print_line(struct telemetry *t, const char *line, uint64_t host_ns)
{
	char prefix[32];
	uint64_t rel = host_ns > t->t0_ns ? host_ns - t->t0_ns : 0;

	console_format_prefix(prefix, sizeof(prefix), rel);
	pthread_mutex_lock(&t->out_lock);
	if (t->live_shown) {
		fputs("\r\033[K", stdout);
		t->live_shown = false;
	}
	printf("%s%s\n", prefix, line);
	fflush(stdout);
	pthread_mutex_unlock(&t->out_lock);
}

bool telemetry_moved(const struct sample *prev, const struct sample *cur)
{
	uint64_t d = cur->resident > prev->resident ? cur->resident - prev->resident
						    : prev->resident - cur->resident;
	return d >= TELEMETRY_MOVE_BYTES || cur->discarded != prev->discarded ||
	       cur->reported != prev->reported || cur->requests != prev->requests ||
	       cur->balloon_pages != prev->balloon_pages || cur->xl_reclaimed != prev->xl_reclaimed;
}

uint64_t telemetry_next_period(uint64_t period_ns, uint64_t now_ns, uint64_t fast_until_ns)
{
	if (now_ns < fast_until_ns || period_ns < TELEMETRY_PERIOD_NS)
		return TELEMETRY_PERIOD_NS;
	return period_ns >= TELEMETRY_IDLE_PERIOD_NS / 2 ? TELEMETRY_IDLE_PERIOD_NS : period_ns * 2;
}

/* Guest RAM resident, under t->lock, or -1: mincore if exact (which
 * calibrates), else the O(1) figure less what the sample array (anon
 * memory too) grew by since the calibration. */
static int64_t read_resident(struct telemetry *t, bool exact)
{
	if (exact) {
		t->full_scans++;
		t->cal_n = t->n;
		return gm_resident_bytes(t->gm);
	}
	int64_t r = gm_resident_fast(t->gm);
	if (r > 0 && t->gm->backing == GM_BACKING_ANON) {
		int64_t grown = (int64_t)((t->n - t->cal_n) * sizeof(struct sample));
		r = r > grown ? r - grown : 0;
	}
	return r;
}

/* Everything but resident memory. */
static void read_counters(struct telemetry *t, struct sample *s)
{
	if (t->balloon) {
		const struct balloon_counters *c = balloon_counters(t->balloon);
		s->discarded = atomic_load(&c->discarded_bytes);
		s->reported = atomic_load(&c->reported_bytes);
		s->requests = atomic_load(&c->report_requests);
		s->ranges = atomic_load(&c->report_ranges);
		s->balloon_pages = atomic_load(&c->balloon_pages);
		s->xl_reclaimed = (uint64_t)atomic_load(&c->xl.reclaimed_frames) << 21;
		uint64_t v;
		if (balloon_stat(t->balloon, VIRTIO_BALLOON_S_MEMFREE, &v))
			s->guest_free = v;
	}
	if (t->exits)
		exit_stats_read(t->exits, &s->x);
	if (t->ioeventfd_notifies)
		s->notifies = atomic_load(t->ioeventfd_notifies);
	if (t->transport)
		s->irqs = atomic_load(&t->transport->irqs);
}

/* Append under t->lock; false without memory. Movement extends the full
 * rate. */
static bool store(struct telemetry *t, const struct sample *s)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;
		struct sample *ns = realloc(t->s, cap * sizeof(*ns));
		if (!ns)
			return false;	/* keep what we have */
		t->s = ns;
		t->cap = cap;
	}
	if (t->n && telemetry_moved(&t->s[t->n - 1], s) && t->fast_until_ns < s->t_ns + TELEMETRY_HOLD_NS)
		t->fast_until_ns = s->t_ns + TELEMETRY_HOLD_NS;
	t->s[t->n++] = *s;
	return true;
}

static void sample_now(struct telemetry *t, bool exact)
{
	struct sample s;

	pthread_mutex_lock(&t->lock);
	s = (struct sample){ .t_ns = mono_ns() - t->t0_ns };
	if (t->gm) {
		/* Not calibrated yet (or no O(1) figure): mincore. */
		exact = exact || t->exact || (t->gm->backing == GM_BACKING_ANON && !t->gm->calibrated);
		int64_t r = read_resident(t, exact);
		s.resident = r > 0 ? (uint64_t)r : 0;
	}
	read_counters(t, &s);
	bool stored = store(t, &s);
	pthread_mutex_unlock(&t->lock);
	if (!stored)
		return;

	if (t->trace)
		telemetry_csv_row(t->trace, &s);
	if (t->live && s.t_ns >= t->last_live_ns + LIVE_EVERY_NS) {
		t->last_live_ns = s.t_ns;
		live_line(t, &s);
	}
	uint64_t stats_every = atomic_load(&t->stats_every_ns);
	if (t->balloon && stats_every && s.t_ns >= t->last_stats_ns + stats_every) {
		t->last_stats_ns = s.t_ns;
		balloon_request_stats(t->balloon);
	}
}

void telemetry_sample(struct telemetry *t)
{
	sample_now(t, false);
}

void telemetry_kick(struct telemetry *t, uint64_t hold_ns)
{
	pthread_mutex_lock(&t->lock);
	uint64_t now = mono_ns() - t->t0_ns;
	if (t->fast_until_ns < now + hold_ns)
		t->fast_until_ns = now + hold_ns;
	/* The caller is the vCPU that printed, stopped in its exit: what is
	 * resident now is what was when the line ended. Only O(1) sources
	 * here, never mincore. */
	if (t->gm && !t->exact && (!t->n || t->s[t->n - 1].t_ns + TELEMETRY_KICK_GAP_NS <= now)) {
		int64_t r = read_resident(t, false);
		if (r >= 0) {
			struct sample s = { .t_ns = now, .resident = (uint64_t)r };
			read_counters(t, &s);
			store(t, &s);
		}
	}
	if (t->period_ns > TELEMETRY_PERIOD_NS) {
		t->kicked = true;
		pthread_cond_signal(&t->wake);
	}
	pthread_mutex_unlock(&t->lock);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *sampler(void *arg)
{
	struct telemetry *t = arg;
	uint64_t next = mono_ns();

	while (!atomic_load(&t->stop)) {
		telemetry_sample(t);
		pthread_mutex_lock(&t->lock);
		uint64_t now = mono_ns();
		t->period_ns = t->exact ? TELEMETRY_PERIOD_NS
					: telemetry_next_period(t->period_ns, now - t->t0_ns, t->fast_until_ns);
		/* Absolute deadlines: the period doesn't drift with the
		 * sampling cost; a sampler late by a whole period skips. */
		next += t->period_ns;
		if (next + t->period_ns < now)
			next = now;
		struct timespec ts = { .tv_sec = (time_t)(next / 1000000000u),
				       .tv_nsec = (long)(next % 1000000000u) };
		while (!atomic_load(&t->stop) && !t->kicked &&
		       pthread_cond_timedwait(&t->wake, &t->lock, &ts) != ETIMEDOUT)
			;
		if (t->kicked) {
			/* back to the full rate from now on */
			t->kicked = false;
			t->period_ns = TELEMETRY_PERIOD_NS;
			next = mono_ns();
		}
		pthread_mutex_unlock(&t->lock);
	}
	t->cpu_ns += thread_cpu_ns();
	return NULL;
}

int telemetry_start(struct telemetry *t)
{
	if (t->trace)
		telemetry_csv_header(t->trace);
	if (t->gm && !t->exact && t->gm->backing == GM_BACKING_ANON) {
		/* Calibrate the O(1) figure now, while the guest is not yet
		 * running to move memory under the scan. */
		uint64_t cpu0 = thread_cpu_ns();
		pthread_mutex_lock(&t->lock);
		gm_resident_bytes(t->gm);
		t->full_scans++;
		pthread_mutex_unlock(&t->lock);
		t->cpu_ns += thread_cpu_ns() - cpu0;
	}
	int r = pthread_create(&t->thread, NULL, sampler, t);
	if (r)
		return -r;
	/* What a bench reads in /proc to leave the sampler's CPU out. */
	pthread_setname_np(t->thread, "ph-telemetry");
	t->running = true;
	return 0;
}

void telemetry_stop(struct telemetry *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	atomic_store(&t->stop, true);
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	t->running = false;
	/* The final state, by mincore: the summary's end figure is exact. */
	uint64_t cpu0 = thread_cpu_ns();
	sample_now(t, true);
	t->cpu_ns += thread_cpu_ns() - cpu0;
	pthread_mutex_lock(&t->out_lock);
	if (t->live_shown) {
		fputs("\n", stdout);
		fflush(stdout);
		t->live_shown = false;
	}
	pthread_mutex_unlock(&t->out_lock);
	if (t->trace)
		fflush(t->trace);
}

void telemetry_destroy(struct telemetry *t)
{
	free(t->s);
	t->s = NULL;
	t->n = t->cap = 0;
	pthread_mutex_destroy(&t->out_lock);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->wake);
}

void telemetry_reclaim(const struct sample *s, size_t n, uint64_t t0_ns,
		       const struct free_event *ev, unsigned nev, struct reclaim *out)
{
	struct reclaim_sample *rs = n ? malloc(n * sizeof(*rs)) : NULL;

	for (size_t i = 0; rs && i < n; i++)
		rs[i] = (struct reclaim_sample){ s[i].t_ns / 1e6, s[i].resident / MiB };
	for (unsigned e = 0; e < nev; e++) {
		struct reclaim_free f = {
			.start_ms = ev[e].host_ns > t0_ns ? (ev[e].host_ns - t0_ns) / 1e6 : 0,
			.end_ms = -1, .freed_mib = (double)ev[e].mib, .until_ms = INFINITY,
			/* the sample the event's console line took */
			.start_slack_ms = TELEMETRY_KICK_GAP_NS / 1e6,
		};
		if (e + 1 < nev && ev[e + 1].host_ns > t0_ns)
			f.until_ms = (ev[e + 1].host_ns - t0_ns) / 1e6;
		struct reclaim_marks m;
		reclaim_marks(rs, rs ? n : 0, &f, &m);
		out[e].mib = ev[e].mib;
		for (int k = 0; k < RECLAIM_NMARKS; k++)
			out[e].ms[k] = m.ms[k];
	}
	free(rs);
}

static void json_ms(FILE *f, const char *key, double ms)
{
	if (ms < 0)
		fprintf(f, "\"%s\": null", key);
	else
		fprintf(f, "\"%s\": %.1f", key, ms);
}

/* exits_total, "exits" by cause, "ioeventfd_notifies" by queue role,
 * device_exits. */
static void json_exits(FILE *f, const struct exit_counts *x)
{
	fprintf(f, "  \"exits_total\": %llu,\n  \"exits\": {",
		(unsigned long long)exit_counts_total(x));
	for (unsigned i = 0; i < EXIT_CAUSE_COUNT; i++)
		fprintf(f, "%s\"%s\": %llu", i ? ", " : "", exit_cause_names[i],
			(unsigned long long)x->cause[i]);
	fprintf(f, "},\n  \"ioeventfd_notifies\": {\"total\": %llu",
		(unsigned long long)exit_counts_notifies(x));
	for (unsigned i = 0; i < EXIT_ROLES; i++)
		fprintf(f, ", \"%s\": %llu", exit_role_names[i], (unsigned long long)x->notify[i]);
	fprintf(f, "},\n  \"device_exits\": %llu,\n", (unsigned long long)exit_counts_device(x));
}

/* "report_latency": count, sum, quantiles (the upper bound of their
 * bucket; null when empty), max, then the buckets: le_s the upper bounds,
 * counts one more (the last above the largest bound), not cumulative. */
static void json_latency(FILE *f, const struct lat_hist_snap *h)
{
	const struct lat_hist_quantile *qs = lat_hist_quantiles;

	fprintf(f, "  \"report_latency\": {\"count\": %llu, \"sum_s\": %.9g",
		(unsigned long long)h->count, h->sum_ns / 1e9);
	for (unsigned i = 0; i < LAT_HIST_QUANTILES; i++)
		if (h->count)
			fprintf(f, ", \"%s\": %.9g", qs[i].name, lat_hist_quantile_ns(h, qs[i].q) / 1e9);
		else
			fprintf(f, ", \"%s\": null", qs[i].name);
	if (h->count)
		fprintf(f, ", \"max_s\": %.9g", h->max_ns / 1e9);
	else
		fprintf(f, ", \"max_s\": null");
	fprintf(f, ", \"le_s\": [");
	for (unsigned i = 0; i < LAT_HIST_BOUNDS; i++)
		fprintf(f, "%s%.9g", i ? ", " : "", lat_hist_bound_ns[i] / 1e9);
	fprintf(f, "], \"counts\": [");
	for (unsigned i = 0; i < LAT_HIST_BUCKETS; i++)
		fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)h->bucket[i]);
	fprintf(f, "]},\n");
}

void telemetry_write_summary(FILE *f, const struct summary *s)
{
	fprintf(f, "{\n");
	if (s->guest_exit < 0)
		fprintf(f, "  \"guest_exit\": null,\n");
	else
		fprintf(f, "  \"guest_exit\": %d,\n", s->guest_exit);
	fprintf(f, "  \"end\": \"%s\",\n", s->end_reason ? s->end_reason : "exit");
	fprintf(f, "  \"cpus\": %u,\n", s->cpus);
	fprintf(f, "  \"mem_mib\": %llu,\n", (unsigned long long)s->mem_mib);
	fprintf(f, "  \"resident_peak_mib\": %.1f,\n", s->resident_peak_mib);
	fprintf(f, "  \"resident_end_mib\": %.1f,\n", s->resident_end_mib);
	fprintf(f, "  \"reported_mib\": %.1f,\n", s->reported_mib);
	fprintf(f, "  \"discarded_mib\": %.1f,\n", s->discarded_mib);
	fprintf(f, "  \"discard_calls\": %llu,\n", (unsigned long long)s->discard_calls);
	fprintf(f, "  \"report_requests\": %llu,\n", (unsigned long long)s->report_requests);
	fprintf(f, "  \"report_ranges\": %llu,\n", (unsigned long long)s->report_ranges);
	fprintf(f, "  \"device_errors\": %llu,\n", (unsigned long long)s->device_errors);
	fprintf(f, "  \"balloon\": {\"target_mib\": %.1f, \"actual_mib\": %.1f, "
		"\"target_pages\": %llu, \"actual_pages\": %llu},\n",
		s->balloon_target_pages / 256.0, s->balloon_actual_pages / 256.0,
		(unsigned long long)s->balloon_target_pages, (unsigned long long)s->balloon_actual_pages);
	if (s->target_latencies)
		fprintf(f, "  \"target_latency\": {\"count\": %llu, \"last_s\": %.9g},\n",
			(unsigned long long)s->target_latencies, s->target_latency_ns / 1e9);
	else
		fprintf(f, "  \"target_latency\": {\"count\": 0, \"last_s\": null},\n");
	json_latency(f, &s->report_latency);
	if (s->fault_modes)
		fprintf(f, "  \"faults\": {\"modes\": \"%s\", \"delayed\": %llu, \"dropped\": %llu, "
			"\"reset\": %llu, \"canceled\": %llu, \"canceled_mib\": %.1f},\n",
			s->fault_modes, (unsigned long long)s->faults_delayed,
			(unsigned long long)s->faults_dropped, (unsigned long long)s->faults_reset,
			(unsigned long long)s->faults_canceled, s->faults_canceled_mib);
	fprintf(f, "  \"exitless\": {\"offered\": %s, \"attaches\": %llu, \"refused\": %llu, "
		"\"detaches\": %llu, \"scans\": %llu, \"reclaimed_frames\": %llu, "
		"\"reclaimed_mib\": %llu, \"discard_calls\": %llu, \"discard_errors\": %llu, "
		"\"violations\": %llu, \"throttled\": %llu, \"skipped_frames\": %llu},\n",
		s->xl.offered ? "true" : "false", (unsigned long long)s->xl.attaches,
		(unsigned long long)s->xl.refused, (unsigned long long)s->xl.detaches,
		(unsigned long long)s->xl.scans, (unsigned long long)s->xl.reclaimed_frames,
		(unsigned long long)s->xl.reclaimed_frames * 2, (unsigned long long)s->xl.discard_calls,
		(unsigned long long)s->xl.discard_errors, (unsigned long long)s->xl.violations,
		(unsigned long long)s->xl.throttled, (unsigned long long)s->xl.skipped_frames);
	json_exits(f, &s->exits);
	fprintf(f, "  \"data_errors\": %llu,\n", (unsigned long long)s->data_errors);
	fprintf(f, "  \"reclaim\": [");
	for (unsigned i = 0; i < s->nreclaim; i++) {
		const struct reclaim *r = &s->reclaim[i];
		fprintf(f, "%s\n    {\"freed_mib\": %llu, ", i ? "," : "", (unsigned long long)r->mib);
		json_ms(f, "ms_50", r->ms[0]);
		fputs(", ", f);
		json_ms(f, "ms_90", r->ms[1]);
		fputs(", ", f);
		json_ms(f, "ms_99", r->ms[2]);
		fputs("}", f);
	}
	fprintf(f, "%s]\n}\n", s->nreclaim ? "\n  " : "");
}

/* The summary's device counters, one line each: where the summary keeps
 * it, the counter in struct balloon_counters and, for a fault, the
 * exitless map's counter added to it. */
struct device_counter {
	size_t to, from, also;
	bool mib;			/* bytes, kept as MiB (a double) */
	bool fault;			/* faulty-device mode only */
};
#define S(f) offsetof(struct summary, f)
#define B(f) offsetof(struct balloon_counters, f)
#define NONE SIZE_MAX
#define COUNT(to, from) { S(to), B(from), NONE, false, false }
#define BYTES(to, from) { S(to), B(from), NONE, true, false }
#define FAULT(to, from, xl) { S(to), B(from), B(xl), false, true }
#define FAULT_BYTES(to, from, xl) { S(to), B(from), B(xl), true, true }
static const struct device_counter device_counters[] = {
	BYTES(reported_mib, reported_bytes),
	BYTES(discarded_mib, discarded_bytes),
	COUNT(discard_calls, discard_calls),
	COUNT(target_latencies, target_latencies),
	COUNT(target_latency_ns, target_latency_ns),
	COUNT(report_requests, report_requests),
	COUNT(report_ranges, report_ranges),
	COUNT(xl.attaches, xl.attaches),
	COUNT(xl.refused, xl.refused),
	COUNT(xl.detaches, xl.detaches),
	COUNT(xl.scans, xl.scans),
	COUNT(xl.reclaimed_frames, xl.reclaimed_frames),
	COUNT(xl.discard_calls, xl.discard_calls),
	COUNT(xl.skipped_frames, xl.skipped_frames),
	COUNT(xl.discard_errors, xl.discard_errors),
	COUNT(xl.violations, xl.violations),
	COUNT(xl.throttled, xl.throttled),
	FAULT(faults_delayed, faults_delayed, xl.faults_delayed),
	FAULT(faults_dropped, faults_dropped, xl.faults_dropped),
	FAULT(faults_reset, faults_reset, xl.faults_reset),
	FAULT(faults_canceled, canceled, xl.canceled),
	FAULT_BYTES(faults_canceled_mib, canceled_bytes, xl.canceled_bytes),
};

static uint64_t counter_at(const struct balloon_counters *c, size_t off)
{
	return atomic_load((const atomic_ulong *)((const char *)c + off));
}

void telemetry_summarize(const struct telemetry *t, struct summary *s, bool faults)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->s[i].resident / MiB > s->resident_peak_mib)
			s->resident_peak_mib = t->s[i].resident / MiB;
	if (t->n)
		s->resident_end_mib = t->s[t->n - 1].resident / MiB;
	if (t->exits)
		exit_stats_read(t->exits, &s->exits);
	if (!t->balloon)
		return;

	const struct balloon_counters *c = balloon_counters(t->balloon);
	lat_hist_read(&c->report_latency, &s->report_latency);
	for (size_t i = 0; i < sizeof(device_counters) / sizeof(device_counters[0]); i++) {
		const struct device_counter *d = &device_counters[i];
		if (d->fault && !faults)
			continue;
		uint64_t v = counter_at(c, d->from) + (d->also != NONE ? counter_at(c, d->also) : 0);
		double mib = v / MiB;
		if (d->mib)
			memcpy((char *)s + d->to, &mib, sizeof(mib));
		else
			memcpy((char *)s + d->to, &v, sizeof(v));
	}
	/* The transport counts every refused input, the device's included,
	 * and the reset faults we asked for ourselves: not those. */
	if (t->transport) {
		uint64_t terr = atomic_load(&t->transport->errors);
		uint64_t fres = counter_at(c, B(faults_reset)) + counter_at(c, B(xl.faults_reset));
		s->device_errors = terr > fres ? terr - fres : 0;
	}
}
