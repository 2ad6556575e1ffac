/* SPDX-License-Identifier: MIT */
/*
 * The request pattern of `pagehint peers` (bench_peers.h): what the guest
 * asked the host to discard, read on the host's side, so a Linux guest and
 * ours are measured alike. The grouping is scripts/linux-ref/analyze.py's,
 * which docs/interop.md's figures came from.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_int.h"
#include "bench_peers.h"

#define MiB (1024.0 * 1024.0)
#define MAX_QUEUES 16

void peers_trace_init(struct peers_trace *t)
{
	memset(t, 0, sizeof(*t));
	t->sizes_exact = true;
	t->queue = -1;
}

void peers_trace_free(struct peers_trace *t)
{
	free(t->req);
	free(t->len);
	peers_trace_init(t);
}

static int add_req(struct peers_trace *t, double t_ms)
{
	if (t->nreq == t->req_cap) {
		size_t cap = t->req_cap ? t->req_cap * 2 : 256;
		struct peers_req *n = realloc(t->req, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->req = n;
		t->req_cap = cap;
	}
	t->req[t->nreq++] = (struct peers_req){ .t_ms = t_ms, .first = t->nlen };
	return 0;
}

/* A range of the last request. */
static int add_range(struct peers_trace *t, uint64_t len)
{
	if (t->nlen == t->len_cap) {
		size_t cap = t->len_cap ? t->len_cap * 2 : 4096;
		uint64_t *n = realloc(t->len, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->len = n;
		t->len_cap = cap;
	}
	t->len[t->nlen++] = len;
	t->req[t->nreq - 1].nranges++;
	t->req[t->nreq - 1].bytes += len;
	return 0;
}

/* ---- QEMU's trace ---- */

/* One notify and the discards after it, before we know which queue
 * reports. */
struct group {
	double t_ms;
	int key;		/* index into keys[]; -1: discards before any notify */
	size_t first, n;
};

struct qkey {
	char vdev[24];
	int queue;
	size_t discards;
};

/* The trace read so far: every queue's notifies with their discards. */
struct qemu_scan {
	struct group *g;
	size_t ng, gcap;
	uint64_t *lens;		/* every discard's length, in trace order */
	size_t nl, lcap;
	struct qkey keys[MAX_QUEUES];
	int nkeys;
};

/* "vdev 0x55... n 3 vq 0x7f...": a group for this notify; 0 or -ENOMEM. */
static int scan_notify(struct qemu_scan *s, const char *args, double t_ms)
{
	char vdev[24];
	int q;
	if (sscanf(args, "vdev %23s n %d", vdev, &q) != 2)
		return 0;
	int k;
	for (k = 0; k < s->nkeys; k++)
		/* cppcheck-suppress legacyUninitvar ; keys[0, nkeys) are set */
		if (s->keys[k].queue == q && !strcmp(s->keys[k].vdev, vdev))
			break;
	if (k == s->nkeys) {
		if (s->nkeys == MAX_QUEUES)
			return 0;
		snprintf(s->keys[k].vdev, sizeof(s->keys[k].vdev), "%s", vdev);
		s->keys[k].queue = q;
		s->keys[k].discards = 0;
		s->nkeys++;
	}
	if (s->ng == s->gcap) {
		size_t cap = s->gcap ? s->gcap * 2 : 256;
		struct group *n = realloc(s->g, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->g = n;
		s->gcap = cap;
	}
	s->g[s->ng++] = (struct group){ .t_ms = t_ms, .key = k, .first = s->nl };
	return 0;
}

/* "pc.ram@0x7f8f08200000 + 0x400000: madvise: 1 ...": a discard of the
 * last notify's group; 0 or -ENOMEM. */
static int scan_discard(struct qemu_scan *s, const char *args)
{
	const char *plus = strstr(args, " + 0x");
	if (!plus)
		return 0;
	uint64_t len = strtoull(plus + 3, NULL, 16);
	if (s->nl == s->lcap) {
		size_t cap = s->lcap ? s->lcap * 2 : 4096;
		uint64_t *n = realloc(s->lens, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->lens = n;
		s->lcap = cap;
	}
	s->lens[s->nl++] = len;
	if (s->ng) {
		struct group *last = &s->g[s->ng - 1];
		last->n++;
		if (last->key >= 0)
			s->keys[last->key].discards++;
	}
	return 0;
}

/* The reporting queue: the one whose notifies discard the most; -1: none
 * discards. */
static int reporting_key(const struct qemu_scan *s)
{
	int best = -1;
	for (int k = 0; k < s->nkeys; k++)
		if (s->keys[k].discards && (best < 0 || s->keys[k].discards > s->keys[best].discards))
			best = k;
	return best;
}

/* The reporting queue's notifies and their discards into t. */
static int add_queue(struct peers_trace *t, const struct qemu_scan *s, int key)
{
	int err = 0;
	t->queue = s->keys[key].queue;
	for (size_t i = 0; i < s->ng && !err; i++) {
		if (s->g[i].key != key)
			continue;
		err = add_req(t, s->g[i].t_ms);
		for (size_t k = 0; k < s->g[i].n && !err; k++)
			err = add_range(t, s->lens[s->g[i].first + k]);
	}
	return err;
}

int peers_trace_read_qemu(struct peers_trace *t, FILE *f, double t0_real_s)
{
	struct qemu_scan s = { 0 };
	int err = 0;
	char line[512];

	while (!err && fgets(line, sizeof(line), f)) {
		/* "PID@SEC.USEC:name args" */
		char *at = strchr(line, '@'), *colon = at ? strchr(at, ':') : NULL;
		if (!colon)
			continue;
		double t_ms = (strtod(at + 1, NULL) - t0_real_s) * 1e3;
		const char *ev = colon + 1;
		if (!strncmp(ev, "virtio_queue_notify ", 20))
			err = scan_notify(&s, ev + 20, t_ms);
		else if (!strncmp(ev, "ram_block_discard_range ", 24))
			err = scan_discard(&s, ev + 24);
	}
	if (!err && ferror(f))
		err = -EIO;

	int key = reporting_key(&s);
	if (!err && key >= 0)
		err = add_queue(t, &s, key);
	free(s.g);
	free(s.lens);
	return err;
}

/* ---- pagehint run's telemetry ---- */

int peers_trace_read_vmm(struct peers_trace *t, FILE *f)
{
	enum { T, MIB, REQ, RNG, NCOLS };
	static const char *const names[NCOLS] = {
		"t_ms", "reported_mib", "report_requests", "report_ranges",
	};
	char line[4096];
	int col[NCOLS];
	double prev_req = 0, prev_rng = 0, prev_mib = 0;
	int err = 0;

	t->sizes_exact = false;
	if (!fgets(line, sizeof(line), f))
		return ferror(f) ? -EIO : 0;	/* the header */
	bench_csv_columns(line, names, NCOLS, col);
	for (int k = 0; k < NCOLS; k++)
		if (col[k] < 0)
			return -EINVAL;		/* not pagehint run's trace */
	while (!err && fgets(line, sizeof(line), f)) {
		double v[NCOLS];
		if (!bench_csv_row(line, col, NCOLS, v))
			continue;
		double dreq = v[REQ] - prev_req, drng = v[RNG] - prev_rng, dmib = v[MIB] - prev_mib;
		prev_req = v[REQ];
		prev_rng = v[RNG];
		prev_mib = v[MIB];
		if (dreq < 1)
			continue;
		size_t nreq = (size_t)dreq, nrng = drng > 0 ? (size_t)drng : 0;
		/* The sample's mean range, to whole 4 KiB pages. */
		uint64_t mean = nrng ? (uint64_t)(dmib * MiB / (double)nrng / 4096.0 + 0.5) * 4096 : 0;
		for (size_t i = 0; i < nreq && !err; i++) {
			err = add_req(t, v[T]);
			size_t mine = nrng / nreq + (i < nrng % nreq);
			for (size_t r = 0; r < mine && !err; r++)
				err = add_range(t, mean);
		}
	}
	if (!err && ferror(f))
		err = -EIO;
	return err;
}

double peers_t0_ours(const struct bench_run *r, double hold_ms)
{
	/* bench_figures.c times a free from its freeing line when there
	 * was one: then the start comes before the free line */
	if (r->nfree && r->free_t_ms[0] < r->free_end_t_ms[0])
		return r->free_t_ms[0];
	return r->alloc_t_ms + hold_ms;
}

/* ---- figures ---- */

void peers_run_figures(struct bench_run *r, const struct peers_trace *tr, double t0_ms,
		       struct bench_reclaim_fig *rf, struct peers_fig *f)
{
	r->free_t_ms[0] = t0_ms;
	r->have_alloc = false;
	bench_reclaim_figures(r, rf);
	peers_figures(tr, t0_ms, r->free_mib[0], f);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Most common first; equal counts: the larger size first. */
static int cmp_size(const void *a, const void *b)
{
	const struct peers_size *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* "4, 2x6, 1" from the request counts of the passes. */
static void runs_str(const unsigned *v, unsigned n, char *buf, size_t cap)
{
	size_t len = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < n;) {
		unsigned j = i;
		while (j < n && v[j] == v[i])
			j++;
		int w = j - i > 1 ? snprintf(buf + len, cap - len, "%s%ux%u", i ? ", " : "", v[i], j - i)
				  : snprintf(buf + len, cap - len, "%s%u", i ? ", " : "", v[i]);
		if (w < 0 || (size_t)w >= cap - len) {
			/* cut: say so rather than end mid-number */
			if (cap > 4)
				snprintf(buf + (len < cap - 4 ? len : cap - 4), 4, "...");
			return;
		}
		len += (size_t)w;
		i = j;
	}
}

/* The requests from first on: their ranges and bytes, per GiB freed,
 * and their passes (requests less than PEERS_PASS_GAP_MS apart) with the
 * gaps between them; -ENOMEM leaves these unknown. */
static int pass_figures(const struct peers_trace *t, size_t first, double freed_mib,
			struct peers_fig *f)
{
	unsigned *per = calloc(f->requests ? f->requests : 1, sizeof(*per));
	double *start = calloc(f->requests ? f->requests : 1, sizeof(*start));
	double bytes = 0, last = 0;
	if (!per || !start) {
		free(per);
		free(start);
		return -ENOMEM;
	}
	for (size_t i = first; i < t->nreq; i++) {
		const struct peers_req *q = &t->req[i];
		f->ranges += q->nranges;
		bytes += (double)q->bytes;
		if (!f->passes || q->t_ms - last >= PEERS_PASS_GAP_MS)
			start[f->passes++] = q->t_ms;
		per[f->passes - 1]++;
		last = q->t_ms;
	}
	f->reported_mib = bytes / MiB;
	if (freed_mib > 0) {
		f->requests_per_gib = (double)f->requests / (freed_mib / 1024.0);
		f->ranges_per_gib = (double)f->ranges / (freed_mib / 1024.0);
	}
	if (f->passes)
		runs_str(per, f->passes, f->per_pass, sizeof(f->per_pass));
	if (f->passes > 1) {
		/* gaps, sorted in place over the starts they came from */
		for (unsigned i = 0; i + 1 < f->passes; i++)
			start[i] = start[i + 1] - start[i];
		qsort(start, f->passes - 1, sizeof(*start), cmp_double);
		unsigned m = f->passes - 1;
		f->pass_gap_min_ms = start[0];
		f->pass_gap_max_ms = start[m - 1];
		f->pass_gap_med_ms = m % 2 ? start[m / 2] : (start[m / 2 - 1] + start[m / 2]) / 2;
	}
	free(per);
	free(start);
	return 0;
}

/* Range sizes of the requests from first on: sort the lengths, count
 * runs, keep the most common (unknown when out of memory). */
static void range_sizes(const struct peers_trace *t, size_t first, struct peers_fig *f)
{
	uint64_t *lens = f->ranges ? malloc(f->ranges * sizeof(*lens)) : NULL;
	if (!lens)
		return;
	size_t n = 0;
	for (size_t i = first; i < t->nreq; i++)
		for (unsigned k = 0; k < t->req[i].nranges; k++)
			lens[n++] = t->len[t->req[i].first + k];
	qsort(lens, n, sizeof(*lens), cmp_u64);
	struct peers_size *all = malloc((n ? n : 1) * sizeof(*all));
	size_t na = 0;
	for (size_t i = 0; all && i < n;) {
		size_t j = i;
		while (j < n && lens[j] == lens[i])
			j++;
		all[na++] = (struct peers_size){ .bytes = lens[i], .count = j - i };
		i = j;
	}
	if (all) {
		qsort(all, na, sizeof(*all), cmp_size);
		f->nsizes_all = na;
		for (size_t i = 0; i < na; i++) {
			if (i < PEERS_SIZES)
				f->size[f->nsizes++] = all[i];
			else
				f->other_ranges += all[i].count;
		}
	}
	free(all);
	free(lens);
}

void peers_figures(const struct peers_trace *t, double t0_ms, double freed_mib,
		   struct peers_fig *f)
{
	memset(f, 0, sizeof(*f));
	f->requests_per_gib = f->ranges_per_gib = BENCH_NULL;
	f->pass_gap_med_ms = f->pass_gap_min_ms = f->pass_gap_max_ms = BENCH_NULL;
	snprintf(f->per_pass, sizeof(f->per_pass), "-");

	size_t first = 0;
	while (first < t->nreq && t->req[first].t_ms < t0_ms)
		first++;
	f->requests_before = first;
	f->requests = t->nreq - first;

	/* out of memory: the figures stay unknown */
	if (pass_figures(t, first, freed_mib, f))
		return;
	range_sizes(t, first, f);
}

/* "4M", "512K", "6140K" */
static void size_name(uint64_t b, char *buf, size_t cap)
{
	if (b && !(b & ((1u << 20) - 1)))
		snprintf(buf, cap, "%lluM", (unsigned long long)(b >> 20));
	else if (!(b & 1023))
		snprintf(buf, cap, "%lluK", (unsigned long long)(b >> 10));
	else
		snprintf(buf, cap, "%lluB", (unsigned long long)b);
}

void peers_sizes_str(const struct peers_fig *f, char *buf, size_t cap)
{
	size_t len = 0;
	if (!f->nsizes) {
		snprintf(buf, cap, "-");
		return;
	}
	buf[0] = 0;
	for (unsigned i = 0; i < f->nsizes && len < cap; i++) {
		char name[32];
		size_name(f->size[i].bytes, name, sizeof(name));
		int w = snprintf(buf + len, cap - len, "%s%sx%zu", i ? ", " : "", name, f->size[i].count);
		len += w > 0 ? (size_t)w : 0;
	}
	if (f->other_ranges && len < cap)
		snprintf(buf + len, cap - len, ", %zu other sizes x%zu", f->nsizes_all - f->nsizes,
			 f->other_ranges);
}
