/* SPDX-License-Identifier: MIT */
/*
 * Fakes for the engine tests (header-only: each test file is its own
 * binary). Include after cmocka.h.
 *
 *  - struct fsched: a deterministic scheduler for struct ph_engine_env.
 *    Time is a number the test advances ("advance 2 s, run what is due");
 *    nothing runs unless the test (or a reporter thread) says so.
 *  - struct fsink: a recording struct ph_report_sink that checks, during
 *    every report(), that each range is an isolated block on no free list,
 *    and that no block is reported twice without being allocated (or
 *    merged into another block) in between.
 */
#ifndef ENGINE_FAKES_H
#define ENGINE_FAKES_H

#include <pthread.h>
#include <stdio.h>

#include "engine.h"
#include "test_buddy_util.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* ---- fake scheduler ---- */

#define FS_MAX 256

struct fsched {
	struct ph_engine_env env;
	pthread_mutex_t mu;
	uint64_t now;
	uint64_t seq;
	unsigned n;
	struct {
		struct ph_engine_work *w;
		unsigned cpu;
		uint64_t due, seq;
	} q[FS_MAX];
	int run_as_cpu;		/* -1: run an item as its CPU; else as this one */
	unsigned runs;		/* items run */
};

static bool fs_queue(void *ctx, unsigned cpu, struct ph_engine_work *w, uint64_t delay_ns)
{
	struct fsched *s = ctx;

	if (cpu >= PH_MAX_CPUS)
		fail_msg("work queued on cpu %u", cpu);
	pthread_mutex_lock(&s->mu);
	for (unsigned i = 0; i < s->n; i++)
		if (s->q[i].w == w) {
			pthread_mutex_unlock(&s->mu);
			return false;
		}
	if (s->n == FS_MAX)
		fail_msg("fake scheduler queue full");
	s->q[s->n].w = w;
	s->q[s->n].cpu = cpu;
	s->q[s->n].due = s->now + delay_ns;
	s->q[s->n].seq = s->seq++;
	s->n++;
	pthread_mutex_unlock(&s->mu);
	return true;
}

static uint64_t fs_now(void *ctx)
{
	struct fsched *s = ctx;

	pthread_mutex_lock(&s->mu);
	uint64_t now = s->now;
	pthread_mutex_unlock(&s->mu);
	return now;
}

static inline void fs_init(struct fsched *s, unsigned nr_cpus)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->env.ctx = s;
	s->env.nr_cpus = nr_cpus;
	s->env.queue_work = fs_queue;
	s->env.now_ns = fs_now;
	s->run_as_cpu = -1;
}

/* Items queued (not yet started). */
static inline unsigned fs_pending(struct fsched *s)
{
	pthread_mutex_lock(&s->mu);
	unsigned n = s->n;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static inline uint64_t fs_next_due(struct fsched *s)
{
	uint64_t due = UINT64_MAX;

	pthread_mutex_lock(&s->mu);
	for (unsigned i = 0; i < s->n; i++)
		if (s->q[i].due < due)
			due = s->q[i].due;
	pthread_mutex_unlock(&s->mu);
	return due;
}

/* Run what is due now, earliest first (queue order among equals),
 * including items queued meanwhile that are due. Returns how many. */
static inline unsigned fs_run_due(struct fsched *s)
{
	unsigned ran = 0, me = ph_cpu_id();

	for (;;) {
		pthread_mutex_lock(&s->mu);
		int best = -1;
		for (unsigned i = 0; i < s->n; i++)
			if (s->q[i].due <= s->now &&
			    (best < 0 || s->q[i].due < s->q[best].due ||
			     (s->q[i].due == s->q[best].due && s->q[i].seq < s->q[best].seq)))
				best = (int)i;
		if (best < 0) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		struct ph_engine_work *w = s->q[best].w;
		unsigned cpu = s->q[best].cpu;
		s->q[best] = s->q[--s->n];
		pthread_mutex_unlock(&s->mu);
		ph_test_set_cpu(s->run_as_cpu < 0 ? cpu : (unsigned)s->run_as_cpu);
		w->fn(w);
		ph_test_set_cpu(me);
		ran++;
		s->runs++;
	}
	return ran;
}

static inline unsigned fs_advance(struct fsched *s, uint64_t ns)
{
	pthread_mutex_lock(&s->mu);
	s->now += ns;
	pthread_mutex_unlock(&s->mu);
	return fs_run_due(s);
}

/* Jump to each next due time and run, until nothing is queued (or max
 * items ran). Returns items run. */
static inline unsigned fs_run_all(struct fsched *s, unsigned max)
{
	unsigned ran = 0;

	while (ran < max) {
		uint64_t due = fs_next_due(s);
		if (due == UINT64_MAX)
			break;
		pthread_mutex_lock(&s->mu);
		if (due > s->now)
			s->now = due;
		pthread_mutex_unlock(&s->mu);
		ran += fs_run_due(s);
	}
	return ran;
}

/* ---- recording sink ---- */

#define FSINK_LOG 4096

struct fsink {
	struct ph_report_sink sink;	/* first: report() casts back */
	struct ph_zone *z;
	uint64_t base, npages;
	int fail;			/* what report() returns */
	bool check_dup;			/* no block reported twice (upstream, max-order) */
	bool walk_lists;		/* also look for each block on its free list */
	uint64_t *last;			/* per page: (head << 4 | order + 1) last reported */

	/* what was seen */
	unsigned calls, max_n;
	uint64_t ranges, pages;
	uint64_t per_order[PH_MAX_ORDER];
	unsigned violations, dups;
	uint64_t call_time[FSINK_LOG];	/* fake time of each call */
	unsigned call_n[FSINK_LOG];	/* its number of ranges */
	struct fsched *clock;		/* for call_time; may be NULL */

	/* called at the end of every report(), before it returns */
	void (*during)(struct fsink *s, void *arg);
	void *during_arg;
};

static inline void fsink_violation(struct fsink *s, const char *what, uint64_t pfn, unsigned order)
{
	if (s->violations++ < 8)
		fprintf(stderr, "fsink: %s: pfn %llu order %u\n", what, (unsigned long long)pfn, order);
}

static int fsink_report(struct ph_report_sink *sk, const struct ph_range *r, unsigned n)
{
	struct fsink *s = (struct fsink *)sk;

	if (n == 0 || n > sk->capacity) {
		fsink_violation(s, "bad number of ranges", n, 0);
		return -1;
	}
	ph_zone_lock(s->z);
	for (unsigned i = 0; i < n; i++) {
		uint64_t pages = r[i].len >> PH_PAGE_SHIFT, pfn = r[i].addr >> PH_PAGE_SHIFT;
		unsigned order = pages ? (unsigned)__builtin_ctzll(pages) : 0;
		struct ph_page_info pi;

		if ((r[i].addr | r[i].len) & (PH_PAGE_SIZE - 1) || !pages || (pages & (pages - 1)) ||
		    order >= PH_MAX_ORDER || (pfn & (pages - 1))) {
			fsink_violation(s, "range is not a block", pfn, order);
			continue;
		}
		__ph_page_query(s->z, pfn, &pi);
		if (pi.kind != PH_PAGE_ISOLATED || pi.head != pfn || pi.order != order)
			fsink_violation(s, "range in flight is not an isolated block", pfn, order);
		__ph_page_query(s->z, pfn + pages - 1, &pi);
		if (pi.kind != PH_PAGE_ISOLATED || pi.head != pfn)
			fsink_violation(s, "end of range in flight is not isolated", pfn, order);
		if (s->walk_lists)
			for (unsigned o = 0; o < PH_MAX_ORDER; o++)
				for (uint64_t f = __ph_free_list_first(s->z, o); f != PH_NO_PFN;
				     f = __ph_free_list_next(s->z, o, f))
					if (f >= pfn && f < pfn + pages)
						fsink_violation(s, "range in flight is on a free list", pfn, order);
	}
	ph_zone_unlock(s->z);

	if (s->calls < FSINK_LOG) {
		s->call_time[s->calls] = s->clock ? s->clock->now : 0;
		s->call_n[s->calls] = n;
	}
	s->calls++;
	if (n > s->max_n)
		s->max_n = n;
	if (!s->fail) {
		for (unsigned i = 0; i < n; i++) {
			uint64_t pfn = r[i].addr >> PH_PAGE_SHIFT, pages = r[i].len >> PH_PAGE_SHIFT;
			unsigned order = (unsigned)__builtin_ctzll(pages);
			uint64_t tag = pfn << 4 | (order + 1);

			s->ranges++;
			s->pages += pages;
			s->per_order[order]++;
			if (s->check_dup && s->last && pfn >= s->base && pfn + pages <= s->base + s->npages) {
				if (s->last[pfn - s->base] == tag && s->dups++ < 8)
					fprintf(stderr, "fsink: block pfn %llu order %u reported twice\n",
						(unsigned long long)pfn, order);
				for (uint64_t p = pfn; p < pfn + pages; p++)
					s->last[p - s->base] = tag;
			}
		}
	}
	if (s->during)
		s->during(s, s->during_arg);
	return s->fail;
}

static inline void fsink_init(struct fsink *s, struct ph_zone *z, unsigned capacity)
{
	memset(s, 0, sizeof(*s));
	s->sink.report = fsink_report;
	s->sink.capacity = capacity;
	s->z = z;
	s->base = z->base_pfn;
	s->npages = z->npages;
	s->last = calloc(z->npages, sizeof(uint64_t));
	assert_non_null(s->last);
}

static inline void fsink_fini(struct fsink *s)
{
	free(s->last);
	s->last = NULL;
}

/* The test allocated (pfn, order): forget reports of its 4 MiB region, so
 * that the rest of a split Reported block may be reported again. */
static inline void fsink_allocated(struct fsink *s, uint64_t pfn, unsigned order)
{
	uint64_t lo = pfn & ~((1ull << (PH_MAX_ORDER - 1)) - 1);
	uint64_t hi = lo + (1ull << (PH_MAX_ORDER - 1));

	(void)order;
	if (lo < s->base)
		lo = s->base;
	if (hi > s->base + s->npages)
		hi = s->base + s->npages;
	for (uint64_t p = lo; p < hi; p++)
		s->last[p - s->base] = 0;
}

static inline void fsink_reset_counts(struct fsink *s)
{
	s->calls = s->max_n = 0;
	s->ranges = s->pages = 0;
	memset(s->per_order, 0, sizeof(s->per_order));
}

/* ---- an engine in malloc'ed memory ---- */

static inline struct ph_engine *teng_create(struct ph_zone *z, struct fsink *s, struct fsched *f,
					    struct ph_engine_params *p, void **mem)
{
	const char *err = ph_engine_params_resolve(p, s ? s->sink.capacity : 0);

	if (err)
		fail_msg("resolve: %s", err);
	size_t len = ph_engine_mem_bytes(p, f->env.nr_cpus);
	*mem = aligned_alloc(64, (len + 63) & ~(size_t)63);
	assert_non_null(*mem);
	struct ph_engine *e = ph_engine_create(*mem, len, z, s ? &s->sink : NULL, &f->env, p, &err);
	if (!e)
		fail_msg("create: %s", err);
	return e;
}

/* Stop, let queued work run out, free. */
static inline void teng_destroy(struct ph_engine *e, struct fsched *f, void *mem)
{
	ph_engine_stop(e);
	fs_run_all(f, 100000);
	assert_int_equal(fs_pending(f), 0);
	free(mem);
}

/* After the engine is idle: nothing isolated, allocator consistent. */
static inline void assert_zone_settled(struct ph_zone *z)
{
	assert_int_equal(ph_zone_isolated_pages(z), 0);
	assert_int_equal(ph_zone_check(z), 0);
}

/* ---- an engine scenario: zone, scheduler, recording sink, engine ---- */

struct etest {
	struct tzone t;
	struct fsched f;
	struct fsink s;
	struct ph_engine *e;
	void *mem;
};

/*
 * npages at base, still allocated (the caller frees them, so it decides
 * what the engine sees first), 2 CPUs, a recording sink of capacity cap
 * that checks duplicates and free lists, and the engine named by the
 * command-line word ("engine=upstream") registered.
 */
static inline void etest_setup(struct etest *u, uint64_t base, uint64_t npages, unsigned cap,
			       const char *engine_word)
{
	struct ph_zone_config c = tcfg(2, 4, 16);
	struct ph_engine_params p;

	tzone_init(&u->t, base, npages, &c);
	fs_init(&u->f, 2);
	fsink_init(&u->s, u->t.z, cap);
	u->s.clock = &u->f;
	u->s.check_dup = true;
	u->s.walk_lists = true;
	ph_engine_params_init(&p);
	assert_null(ph_engine_param_word(&p, engine_word, strlen(engine_word)));
	u->e = teng_create(u->t.z, &u->s, &u->f, &p, &u->mem);
}

static inline void etest_teardown(struct etest *u)
{
	assert_int_equal(u->s.violations, 0);
	assert_int_equal(u->s.dups, 0);
	teng_destroy(u->e, &u->f, u->mem);
	assert_zone_settled(u->t.z);
	fsink_fini(&u->s);
	tzone_fini(&u->t);
}

/* ---- random direct allocations and frees with fake time passing ---- */

struct churn {
	uint64_t seed;
	unsigned ops;			/* allocations and frees */
	unsigned max_live;		/* blocks held at most */
	unsigned orders;		/* orders 0 .. orders-1 */
	unsigned every;			/* advance the clock every that many ops */
	uint64_t step_ns;		/* ... by that much */
	/* told of each allocation (e.g. to forget its earlier reports) */
	void (*allocated)(void *ctx, uint64_t pfn, unsigned order);
	void *ctx;
};

/* 55% allocations; at the end everything held is freed (the clock does
 * not move after that: the caller runs what is queued). */
static inline void churn_run(struct ph_zone *z, struct fsched *f, const struct churn *c)
{
	uint64_t *live = calloc(c->max_live, sizeof(*live)), seed = c->seed;
	unsigned *live_o = calloc(c->max_live, sizeof(*live_o)), n = 0;

	assert_non_null(live);
	assert_non_null(live_o);
	for (unsigned op = 0; op < c->ops; op++) {
		uint64_t r = trand(&seed);

		if (n < c->max_live && (n == 0 || r % 100 < 55)) {
			unsigned o = (unsigned)(r >> 8) % c->orders;
			uint64_t pfn = ph_alloc_pages_direct(z, o);
			if (pfn == PH_NO_PFN)
				continue;
			if (c->allocated)
				c->allocated(c->ctx, pfn, o);
			live[n] = pfn;
			live_o[n++] = o;
		} else {
			unsigned i = (unsigned)(r >> 20) % n;
			ph_free_pages_direct(z, live[i], live_o[i]);
			live[i] = live[--n];
			live_o[i] = live_o[n];
		}
		if (op % c->every == 0)
			fs_advance(f, c->step_ns);
	}
	while (n--)
		ph_free_pages_direct(z, live[n], live_o[n]);
	free(live);
	free(live_o);
}

static inline void churn_fsink_allocated(void *ctx, uint64_t pfn, unsigned order)
{
	fsink_allocated(ctx, pfn, order);
}

#endif
