/* SPDX-License-Identifier: MIT */
/*
 * The bench's figures, from one run record: what the guest said on its
 * console (timestamped on the samples' clock) and the resident-memory
 * series. No I/O here: tests feed synthetic runs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_int.h"
#include "guest_line.h"
#include "reclaim_marks.h"
#include "telemetry.h"	/* TELEMETRY_PERIOD_NS */

#define MiB (1024.0 * 1024.0)
#define CONSOLE_KEEP (256 * 1024)	/* console text kept for diagnostics */
#define MIN_RETURNED_MIB 1.0		/* below this, per-GiB costs are null */

void bench_run_init(struct bench_run *r)
{
	memset(r, 0, sizeof(*r));
	r->pages_per_s = BENCH_NULL;
	r->pages_per_s_med = BENCH_NULL;
	r->reported_taken_mib = BENCH_NULL;
	r->xl_published = r->xl_taken_back = r->xl_refaults = BENCH_NULL;
	r->xl_waits = r->xl_wait_timeouts = BENCH_NULL;
	r->xl_reclaimed_frames = r->xl_skipped_frames = r->xl_discard_calls = BENCH_NULL;
	r->host_requests = r->xl_cpu_ms = BENCH_NULL;
	r->guest_exit = -1;
	r->end = "error";
}

void bench_run_free(struct bench_run *r)
{
	free(r->s);
	free(r->console);
	free(r->scrape_ms);
	free(r->scrape_t_ms);
	bench_run_init(r);
}

int bench_run_add_sample(struct bench_run *r, double t_ms, double rss_mib, double exits)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4096;
		struct bench_sample *ns = realloc(r->s, cap * sizeof(*ns));
		if (!ns)
			return -1;
		r->s = ns;
		r->cap = cap;
	}
	r->s[r->n++] = (struct bench_sample){ .t_ms = t_ms, .rss_mib = rss_mib, .exits = exits,
					      .exits_all = -1 };
	return 0;
}

static void keep_console(struct bench_run *r, const char *line)
{
	size_t l = strlen(line);
	if (r->console_len + l + 2 > CONSOLE_KEEP)
		return;
	if (r->console_len + l + 2 > r->console_cap) {
		size_t cap = r->console_cap ? r->console_cap * 2 : 4096;
		while (cap < r->console_len + l + 2)
			cap *= 2;
		char *nc = realloc(r->console, cap);
		if (!nc)
			return;
		r->console = nc;
		r->console_cap = cap;
	}
	memcpy(r->console + r->console_len, line, l);
	r->console_len += l;
	r->console[r->console_len++] = '\n';
	r->console[r->console_len] = 0;
}

static void note_error(struct bench_run *r, const char *line)
{
	if (!r->first_error[0])
		snprintf(r->first_error, sizeof(r->first_error), "%s", line);
}

void bench_run_parse_line(struct bench_run *r, const char *line, double t_ms, double cpu_ms)
{
	double v;

	keep_console(r, line);
	struct guest_event_line ev = guest_event_parse(line);
	if (ev.kind == GUEST_EVENT_ALLOC) {
		if (!r->have_alloc) {
			r->have_alloc = true;
			r->alloc_t_ms = t_ms;
			r->alloc_cpu_ms = cpu_ms;
		}
	} else if (ev.kind == GUEST_EVENT_FREEING) {
		r->freeing = true;
		r->freeing_t_ms = t_ms;
		r->freeing_cpu_ms = cpu_ms;
	} else if (ev.kind == GUEST_EVENT_FREE) {
		if (ev.mib >= 0 && r->nfree < BENCH_MAX_FREE) {
			r->free_t_ms[r->nfree] = r->freeing ? r->freeing_t_ms : t_ms;
			r->free_cpu_ms[r->nfree] = r->freeing ? r->freeing_cpu_ms : cpu_ms;
			r->free_end_t_ms[r->nfree] = t_ms;
			r->free_mib[r->nfree] = ev.mib;
			r->nfree++;
		}
		r->freeing = false;
	} else if (ev.kind == GUEST_EVENT_BURSTS) {
		r->have_bursts = true;
		r->bursts_t_ms = t_ms;
		r->bursts_cpu_ms = cpu_ms;
	} else if (ev.kind == GUEST_EVENT_BURST) {
		if (ev.alloc_us >= 0 && r->nbursts < BENCH_MAX_BURSTS)
			r->burst_alloc_us[r->nbursts++] = ev.alloc_us;
	} else if (ev.kind == GUEST_EVENT_CHURN) {
		r->have_churn = true;
		r->churn_t_ms = t_ms;
		r->churn_cpu_ms = cpu_ms;
	} else if (!strncmp(line, "@engine name=pagehint mode=exitless active=1", 44)) {
		r->xl_active = true;
	} else if (!strncmp(line, "@engine name=pagehint mode=standard exitless=unavailable", 56)) {
		const char *why = strstr(line, " reason=");
		r->xl_fallback = true;
		snprintf(r->xl_fallback_reason, sizeof(r->xl_fallback_reason), "%.*s",
			 why ? (int)strcspn(why + 8, " ") : 0, why ? why + 8 : "");
	} else if (!strncmp(line, "@xl ", 4)) {
		r->have_xl = true;
		guest_line_field(line, "published", &r->xl_published);
		guest_line_field(line, "taken_back", &r->xl_taken_back);
		guest_line_field(line, "refaults", &r->xl_refaults);
		guest_line_field(line, "waits", &r->xl_waits);
		guest_line_field(line, "wait_timeouts", &r->xl_wait_timeouts);
	} else if (!strncmp(line, "@engine ", 8) && guest_line_field(line, "requests", &r->requests)) {
		r->have_engine_counts = guest_line_field(line, "mib", &r->reported_mib);
	} else if (!strncmp(line, "@mem ", 5) && guest_line_field(line, "reported_taken_mib", &v)) {
		r->reported_taken_mib = v;
	} else if (!strncmp(line, "@done ", 6)) {
		r->done = true;
		r->done_t_ms = t_ms;
		r->done_cpu_ms = cpu_ms;
		if (guest_line_field(line, "pages_per_s", &v))
			r->pages_per_s = v;
		if (guest_line_field(line, "pages_per_s_med", &v) && v > 0)
			r->pages_per_s_med = v;
		if (guest_line_field(line, "pages", &v))
			r->pages_total = v;
	} else if (!strncmp(line, "pagehint: telemetry: ", 21) && guest_line_field(line, "cpu_ms", &v)) {
		r->telemetry_cpu_ms = v;
	} else if (!strncmp(line, "@fail", 5) || !strncmp(line, "@fault", 6)) {
		r->fail_lines++;
		note_error(r, line);
	} else if (strstr(line, "bad command line")) {
		r->bad_cmdline = true;
		note_error(r, line);
	}
}

/* Index of the last sample at or before t_ms (0 if none is). */
static size_t sample_at(const struct bench_run *r, double t_ms)
{
	size_t i = 0;
	while (i + 1 < r->n && r->s[i + 1].t_ms <= t_ms)
		i++;
	return i;
}

static double per_gib(double what, double mib)
{
	return mib >= MIN_RETURNED_MIB ? what / (mib / 1024.0) : BENCH_NULL;
}

/* Where the costs and the fragmented figures count from: the sample at
 * or before the "@event alloc" line (the guest holds everything it will
 * free and has freed nothing), else the one at the free's start. The
 * reclaim marks count from the free's start (reclaim_marks.h). */
static size_t alloc_sample(const struct bench_run *r)
{
	if (r->have_alloc && r->alloc_t_ms <= r->free_t_ms[0])
		return sample_at(r, r->alloc_t_ms);
	return sample_at(r, r->free_t_ms[0]);
}

/* r's samples as reclaim_marks() reads them; NULL without memory. */
static struct reclaim_sample *series(const struct bench_run *r)
{
	struct reclaim_sample *s = malloc((r->n ? r->n : 1) * sizeof(*s));
	for (size_t i = 0; s && i < r->n; i++)
		s[i] = (struct reclaim_sample){ r->s[i].t_ms, r->s[i].rss_mib };
	return s;
}

/* The first free, searched until the second starts. */
static struct reclaim_free first_free(const struct bench_run *r)
{
	return (struct reclaim_free){
		.start_ms = r->free_t_ms[0], .end_ms = r->free_end_t_ms[0],
		.freed_mib = r->free_mib[0], .until_ms = r->nfree > 1 ? r->free_t_ms[1] : INFINITY,
	};
}

static double null_if_never(double v)
{
	return v < 0 ? BENCH_NULL : v;
}

double bench_returned_at(const struct bench_run *r, double at_ms)
{
	if (!r->nfree)
		return BENCH_NULL;
	struct reclaim_sample *s = series(r);
	struct reclaim_free f = first_free(r);
	double v = s ? reclaim_returned_at(s, r->n, &f, at_ms, TELEMETRY_PERIOD_NS / 1e6) : BENCH_NULL;
	free(s);
	return null_if_never(v);
}

void bench_reclaim_figures(const struct bench_run *r, struct bench_reclaim_fig *f)
{
	for (int k = 0; k < 3; k++)
		f->t_ms[k] = BENCH_NULL;
	f->free_ms = f->lag99_ms = BENCH_NULL;
	f->returned_10s = f->returned_35s = BENCH_NULL;
	f->exits_per_gib = f->requests_per_gib = f->host_cpu_ms_per_gib = BENCH_NULL;
	f->all_exits_per_gib = BENCH_NULL;
	f->freed_mib = f->returned_mib = BENCH_NULL;

	if (r->have_engine_counts && r->reported_mib > 0)
		f->requests_per_gib = r->requests / (r->reported_mib / 1024.0);
	/* exitless: no engine counts requests; the device's count, per GiB
	 * its scanner discarded */
	else if (r->xl_active && r->host_requests >= 0 && r->xl_reclaimed_frames > 0)
		f->requests_per_gib = r->host_requests / (r->xl_reclaimed_frames * 2 / 1024.0);
	if (!r->nfree || !r->n)
		return;

	/* The marks as `pagehint run`'s summary computes them. */
	struct reclaim_sample *s = series(r);
	struct reclaim_free fr = first_free(r);
	struct reclaim_marks m;
	reclaim_marks(s, s ? r->n : 0, &fr, &m);
	free(s);
	for (int k = 0; k < 3; k++)
		f->t_ms[k] = null_if_never(m.ms[k]);
	/* The guest's own free takes its time (under TCG, checking every
	 * word of 1.5 GiB: ~0.4 s), the same under every engine: the lag
	 * after it ended is what reporting adds. */
	double t_ev = r->free_t_ms[0], t_end = r->free_end_t_ms[0], freed = r->free_mib[0];
	if (t_end >= t_ev) {
		f->free_ms = t_end - t_ev;
		f->lag99_ms = null_if_never(m.after_end_ms[2]);
	}

	f->returned_10s = bench_returned_at(r, 10000);
	f->returned_35s = bench_returned_at(r, 35000);

	/* Costs: from the alloc line to the end, per GiB that came back. */
	const struct bench_sample *b = &r->s[alloc_sample(r)], *e = &r->s[r->n - 1];
	double cpu0 = r->have_alloc && r->alloc_t_ms <= t_ev ? r->alloc_cpu_ms : r->free_cpu_ms[0];
	f->freed_mib = freed;
	f->returned_mib = b->rss_mib > e->rss_mib ? b->rss_mib - e->rss_mib : 0;
	if (r->exits_known)
		f->exits_per_gib = per_gib(e->exits - b->exits, f->returned_mib);
	if (r->exits_all_known)
		f->all_exits_per_gib = per_gib(e->exits_all - b->exits_all, f->returned_mib);
	if (r->cpu_ms > cpu0)
		f->host_cpu_ms_per_gib = per_gib(r->cpu_ms - cpu0, f->returned_mib);
}

void bench_frag_figures(const struct bench_run *r, double hold_ms, struct bench_frag_fig *f)
{
	f->returned_mib = f->exits_per_gib = f->all_exits_per_gib = BENCH_NULL;
	if (!r->nfree || !r->n)
		return;
	/* What an engine reports while the second free runs is not memory
	 * from small free blocks: the window ends at its start (its freeing
	 * line; without one, hold_ms after the first free line). */
	double t1 = r->nfree > 1 ? r->free_t_ms[1] : r->s[r->n - 1].t_ms;
	if (t1 > r->free_end_t_ms[0] + hold_ms)
		t1 = r->free_end_t_ms[0] + hold_ms;
	size_t i0 = alloc_sample(r), i1 = sample_at(r, t1);
	double r0 = r->s[i0].rss_mib, low = r0;
	for (size_t i = i0; i <= i1; i++)
		if (r->s[i].rss_mib < low)
			low = r->s[i].rss_mib;
	f->returned_mib = r0 - low;
	if (r->exits_known)
		f->exits_per_gib = per_gib(r->s[i1].exits - r->s[i0].exits, f->returned_mib);
	if (r->exits_all_known)
		f->all_exits_per_gib = per_gib(r->s[i1].exits_all - r->s[i0].exits_all,
					       f->returned_mib);
}

void bench_xl_figures(const struct bench_run *r, double v[BENCH_XL_NFIG])
{
	for (int k = 0; k < BENCH_XL_NFIG; k++)
		v[k] = BENCH_NULL;
	if (!r->xl_active && !r->have_xl)
		return;
	v[XL_CPU] = r->xl_cpu_ms;
	v[XL_DISCARDS] = r->xl_discard_calls;
	v[XL_RECLAIMED] = r->xl_reclaimed_frames;
	v[XL_SKIPPED] = r->xl_skipped_frames;
	v[XL_TAKEN] = r->xl_taken_back;
	v[XL_WAITS] = r->xl_waits;
}

void bench_engine_args(const char *engine, char *buf, size_t cap)
{
	if (!strcmp(engine, BENCH_ENGINE_XL))
		snprintf(buf, cap, "engine=pagehint report.mode=exitless");
	else
		snprintf(buf, cap, "engine=%s", engine);
}

double bench_vs_neighbours(double x, double before, double after)
{
	if (x == BENCH_NULL || x <= 0)
		return BENCH_NULL;
	if (before > 0 && after > 0)
		return x / ((before + after) / 2);
	if (before > 0 || after > 0)
		return x / (before > 0 ? before : after);
	return BENCH_NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

void bench_burst_figures(const struct bench_run *r, struct bench_burst_fig *f)
{
	f->alloc_ms = f->resident_mean_mib = f->cpu_ms_per_burst = BENCH_NULL;
	if (r->nbursts > 1) {
		double w[BENCH_MAX_BURSTS];
		unsigned m = r->nbursts - 1;
		memcpy(w, r->burst_alloc_us + 1, m * sizeof(w[0]));
		qsort(w, m, sizeof(w[0]), cmp_double);
		f->alloc_ms = (m % 2 ? w[m / 2] : (w[m / 2 - 1] + w[m / 2]) / 2) / 1e3;
	}
	if (!r->have_bursts || !r->done)
		return;
	/* Samples are every 10 ms: a plain mean is the time average. */
	double sum = 0;
	unsigned k = 0;
	for (size_t i = 0; i < r->n; i++)
		if (r->s[i].t_ms >= r->bursts_t_ms && r->s[i].t_ms <= r->done_t_ms) {
			sum += r->s[i].rss_mib;
			k++;
		}
	if (k)
		f->resident_mean_mib = sum / k;
	if (r->nbursts && r->done_cpu_ms > r->bursts_cpu_ms)
		f->cpu_ms_per_burst = (r->done_cpu_ms - r->bursts_cpu_ms) / r->nbursts;
}

double bench_churn_pages_per_cpu_s(const struct bench_run *r)
{
	if (!r->have_churn || !r->done || r->pages_per_s < 0 || r->done_cpu_ms <= r->churn_cpu_ms)
		return BENCH_NULL;
	return r->pages_total / ((r->done_cpu_ms - r->churn_cpu_ms) / 1e3);
}

double bench_churn_pages_per_ginsn(const struct bench_run *r)
{
	/* a ns of guest time is an instruction: pages per guest second are
	 * pages per 10^9 instructions */
	return r->done && r->pages_per_s > 0 ? r->pages_per_s : BENCH_NULL;
}

struct bench_stat bench_stat_of(const double *v, unsigned n, bool null_is_never)
{
	struct bench_stat st = { BENCH_NULL, BENCH_NULL, BENCH_NULL };
	double *w = malloc((n ? n : 1) * sizeof(*w));
	unsigned m = 0, known = 0;

	if (!w)
		return st;
	for (unsigned i = 0; i < n; i++) {
		if (v[i] != BENCH_NULL) {
			w[m++] = v[i];
			known++;
		} else if (null_is_never) {
			w[m++] = INFINITY;
		}
	}
	if (known) {
		qsort(w, m, sizeof(*w), cmp_double);
		double med = m % 2 ? w[m / 2] : (w[m / 2 - 1] + w[m / 2]) / 2;
		st.min = w[0];
		st.med = isinf(med) ? BENCH_NULL : med;
		st.max = isinf(w[m - 1]) ? BENCH_NULL : w[m - 1];
	}
	free(w);
	return st;
}
