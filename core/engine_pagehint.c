/* SPDX-License-Identifier: MIT */
/*
 * engine=pagehint, standard mode: free page reporting over
 * VIRTIO_BALLOON_F_REPORTING (any device), built to give memory back about
 * as fast as the host can drop it, in few large requests, without touching
 * the allocation fast path. docs/engine-pagehint.md has the reasoning and
 * the figures.
 *
 * What it reports: free blocks of order >= report.order (9: 2 MiB) that
 * are not Reported, like upstream; unlike upstream
 *  - no budget and no fixed delay: a pass reports every unreported eligible
 *    block there is, as soon as frees have settled;
 *  - large requests: up to report.capacity ranges (the device's queue)
 *    and 2 GiB, physically contiguous blocks merged into one range (of at
 *    most 1 GiB: a descriptor's length is 32 bits), so a freed 1.5 GiB
 *    of 4 MiB blocks is one request (one exit), not 12; a request is
 *    sent once full, so memory comes back while a long pass goes on and
 *    at most 2 GiB is in flight;
 *  - the zone lock is held for at most report.hold isolations (and 256
 *    skipped Reported blocks) at a time, then dropped and retaken;
 *  - the walk goes from order 10 down, the largest blocks first.
 *
 * When: a block of order >= report.order entering the free lists (the
 * block_freed hook, zone lock held) bumps freed_gen and raises a request
 * (ph_work_req's IDLE/REQUESTED/ACTIVE, core/engine.h); free_done queues
 * the work `delay` later. The work looks at the exact amount of unreported
 * eligible free memory (the zone's per-order counters, no lock):
 *  - none: nothing to do;
 *  - at least report.trigger_mib (1024, half a full request): a pass now;
 *  - otherwise, if eligible frees came since the last look (freed_gen
 *    moved), the frees have not settled: look again `delay` later, at
 *    most report.max_delay_ms in all, then a pass anyway; if none came
 *    for `quiet_looks` looks in a row, a pass now.
 * So a big free is reported while it happens in requests of >= 1 GiB,
 * and the rest `delay` after it ends; a trickle waits at most max_delay.
 * quiet_looks (1..4) learns how gappy frees are: a pass started on quiet
 * during which eligible frees came again (the request is REQUESTED at its
 * end) was a pause, not the end, and doubles it; a pass started on quiet
 * that saw no such frees takes one off.
 *
 * Hysteresis (`delay`, between report.delay_ms (5) and report.max_delay_ms
 * (1000)): at the start of each pass, core/buddy's count of the pages
 * allocations took from reported memory (ph_zone_reported_allocated: the
 * pages handed out, not the blocks split) tells how much of what was
 * reported is being faulted back in. If that is at least a
 * quarter of what the previous pass reported (of what it reported that
 * had been freed less than max_delay before, if any: a job's first free
 * goes out with all the memory free since boot), and at least one block,
 * and the previous pass ended at most max_delay ago (a job runner, not a
 * program taking memory reported at boot), the delay becomes 1.25x that
 * interval, and at least twice what it was. While the delay is above
 * delay_ms the blocks are age-gated: block_freed stamps each eligible
 * block with the time it entered the free lists (the engine word of its
 * head, in ~1 ms units), a pass skips blocks younger than the delay and
 * comes back when the youngest is old enough. So memory freed and reused
 * within the delay is never isolated, however often the work passes,
 * while memory free for longer is reported at the next pass. A pass
 * takes only blocks that have settled then, so the work does not wait
 * for quiet while backed off. The delay halves after 4 passes in a row
 * that reported memory nobody took back and skipped no young block, and
 * is back at delay_ms at the first eligible free after 2 x max_delay
 * without any (a pattern that slow is beyond what the delay can cover).
 * The clock is the environment's (ph_engine_now: the fake scheduler's in
 * hosted tests), read on eligible frees and by the work.
 *
 * Never below a reserve: a block is isolated only while the zone keeps
 * managed/256 free pages (upstream's modelled low watermark) besides it,
 * so allocations do not fail while a large request is in flight; when the
 * reserve is reached the request is sent and the walk continues after it.
 *
 * Where allocation takes memory: blocks freed enter at the head of their
 * list, reported ones are put back at the tail, and allocation takes the
 * first block, so unreported memory is reused first (core/buddy's
 * merge_likely tail placement and ph_zone_free_range are the exceptions).
 *
 * Locking: block_freed runs under the zone lock and touches only the
 * block's engine word, freed_gen and last_free_ns (written only there, so
 * a load and a store), woke and the request atomics;
 * free_done queues the work. There is one work item: at most one look or
 * pass runs at a time, and only it touches the request being built
 * (ranges[], nr) and the fields marked "work" below. A pass takes the zone
 * lock to walk and isolate, drops it between batches of report.hold
 * blocks and around every report() (the sink waits for the device), and
 * retakes it to put the request's blocks back.
 */
#include "engine.h"

#define RANGE_MAX_PAGES	(1ull << (30 - PH_PAGE_SHIFT))	/* 1 GiB: a descriptor's length is 32 bits */
#define REQUEST_MAX_PAGES (1ull << (31 - PH_PAGE_SHIFT))	/* 2 GiB in flight per request */
#define VISIT_MAX	256	/* Reported blocks skipped per lock hold */
#define RESERVE_DIV	256	/* keep managed / 256 free pages unisolated */
#define DECAY_PASSES	4	/* passes without reuse before the delay halves */
#define QUIET_LOOKS_MAX	4	/* quiet looks needed, at most */
#define MS_NS		1000000ull
#define AGE_SHIFT	20	/* the free stamp's unit: 2^20 ns, ~1 ms */

struct pagehint {
	/* set at init */
	struct ph_engine *e;
	unsigned order, capacity, hold;
	uint64_t min_delay_ns, max_delay_ns, trigger_pages, idle_ns;

	/* free path and work */
	struct ph_work_req req;
	_Atomic uint64_t freed_gen;	/* eligible blocks freed (zone lock) */
	_Atomic uint64_t seen_gen;	/* freed_gen when the work was queued */
	_Atomic uint64_t delay_ns;	/* hysteresis: the work writes it */
	_Atomic uint64_t last_free_ns;	/* the last eligible free (zone lock) */
	atomic_bool woke;		/* an eligible free after an idle period */

	/* work */
	uint64_t waited_ns;		/* waiting for frees to settle, so far */
	unsigned quiet, quiet_looks;	/* quiet looks in a row, and needed */
	uint64_t ra_mark;		/* ph_zone_reported_allocated after the last pass */
	uint64_t last_pages;		/* pages the last pass reported */
	uint64_t last_recent;		/* of which freed less than max_delay before */
	uint64_t last_end_ns;		/* when the last pass ended */
	unsigned clean;			/* passes in a row without reuse */
	uint32_t gate, now_c;		/* this pass: the age gate and now, in stamp units */
	uint32_t ripe;			/* stamp units until the youngest skipped block is old enough */
	uint64_t young_pages;		/* this pass skipped as too young */
	bool last_young;		/* the last pass skipped young blocks */
	unsigned nr;			/* ranges in the request being built */
	uint64_t req_pages, req_blocks, pass_pages;
	uint64_t req_recent, pass_recent;	/* of those, freed within max_delay */

	/* counters (relaxed) */
	_Atomic uint64_t blocks, reallocated, backoffs, max_hold;

	struct ph_engine_work work;
	struct ph_range ranges[];	/* capacity, sorted by address (work) */
};

static size_t phe_priv_bytes(const struct ph_engine_params *p, unsigned nr_cpus)
{
	(void)nr_cpus;
	return sizeof(struct pagehint) + (size_t)p->capacity * sizeof(struct ph_range);
}

static uint64_t rd(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void wr(_Atomic uint64_t *v, uint64_t x)
{
	atomic_store_explicit(v, x, memory_order_relaxed);
}

/* Unreported free pages in blocks of order >= report.order: exact under
 * the zone lock, a snapshot without. */
static uint64_t unreported_pages(struct pagehint *h)
{
	struct ph_zone *z = h->e->zone;
	uint64_t n = 0;

	for (unsigned o = h->order; o < PH_MAX_ORDER; o++) {
		uint64_t f = ph_zone_nr_free(z, o), r = ph_zone_nr_reported(z, o);

		if (f > r)
			n += (f - r) << o;
	}
	return n;
}

/* ---- free path ---- */

/* zone lock held; order >= h->order (the hooks' free_min_order: core/buddy
 * tests it, the small blocks that are most frees never get here) */
static void phe_block_freed(void *ctx, unsigned cpu, uint64_t pfn, unsigned order)
{
	struct pagehint *h = ctx;

	(void)cpu;
	(void)order;
	uint64_t now = ph_engine_now(h->e);
	uint32_t stamp = (uint32_t)(now >> AGE_SHIFT);

	/* the zone lock serializes writers */
	if (now - rd(&h->last_free_ns) >= h->idle_ns)
		atomic_store_explicit(&h->woke, true, memory_order_relaxed);
	wr(&h->last_free_ns, now);
	*__ph_engine_word(h->e->zone, pfn) = stamp ? stamp : 1;	/* 0 is "old" */
	wr(&h->freed_gen, rd(&h->freed_gen) + 1);
	ph_work_req_request(&h->req);
}

/* no lock held */
static void phe_free_done(void *ctx, unsigned cpu)
{
	struct pagehint *h = ctx;

	if (atomic_load_explicit(&h->req.kick, memory_order_relaxed) &&
	    atomic_exchange(&h->req.kick, false)) {
		/* the work is neither queued nor running (the request found it
		 * IDLE): seen_gen is ours to set */
		wr(&h->seen_gen, rd(&h->freed_gen));
		/* after an idle period the work resets the delay: look soon */
		ph_engine_queue(h->e, cpu, &h->work,
				atomic_load_explicit(&h->woke, memory_order_relaxed) ?
				h->min_delay_ns : rd(&h->delay_ns));
	}
}

/* ---- the request being built: sorted ranges, contiguous blocks merged ---- */

/* Where a block of len bytes at addr would go: 0 it does not fit (the
 * request is full: capacity ranges it does not extend, or 2 GiB), 1 it
 * fits. *at is the insertion index (first range above addr). */
static int req_fits(struct pagehint *h, uint64_t addr, uint64_t len, unsigned *at)
{
	const uint64_t max = RANGE_MAX_PAGES << PH_PAGE_SHIFT;
	unsigned lo = 0, hi = h->nr;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (h->ranges[mid].addr > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	*at = lo;
	if (h->req_pages + (len >> PH_PAGE_SHIFT) > REQUEST_MAX_PAGES)
		return 0;
	if (h->nr < h->capacity)
		return 1;
	if (lo > 0 && h->ranges[lo - 1].addr + h->ranges[lo - 1].len == addr &&
	    h->ranges[lo - 1].len + len <= max)
		return 1;
	if (lo < h->nr && addr + len == h->ranges[lo].addr && h->ranges[lo].len + len <= max)
		return 1;
	return 0;
}

/* Add an isolated block at insertion index at (req_fits said it fits). */
static void req_add(struct pagehint *h, uint64_t addr, uint64_t len, unsigned at)
{
	const uint64_t max = RANGE_MAX_PAGES << PH_PAGE_SHIFT;
	struct ph_range *r = h->ranges;
	bool prev = at > 0 && r[at - 1].addr + r[at - 1].len == addr && r[at - 1].len + len <= max;
	bool next = at < h->nr && addr + len == r[at].addr && r[at].len + len <= max;

	h->req_pages += len >> PH_PAGE_SHIFT;
	h->req_blocks++;
	if (prev && next && r[at - 1].len + len + r[at].len <= max) {
		/* [prev][new][next] -> one range */
		r[at - 1].len += len + r[at].len;
		for (unsigned i = at; i + 1 < h->nr; i++)
			r[i] = r[i + 1];
		h->nr--;
	} else if (prev) {
		r[at - 1].len += len;
	} else if (next) {
		r[at].addr = addr;
		r[at].len += len;
	} else {
		for (unsigned i = h->nr; i > at; i--)
			r[i] = r[i - 1];
		r[at].addr = addr;
		r[at].len = len;
		h->nr++;
	}
}

/*
 * Send the request and put its blocks back: zone lock held on entry and
 * on return, dropped around report(). A range is walked block by block
 * (each head says its order); blocks go to the tail of their list,
 * Reported unless they merged (with a buddy freed meanwhile, or with an
 * earlier block of the same range). Returns report()'s result.
 */
static int req_flush(struct pagehint *h)
{
	struct ph_engine *e = h->e;
	struct ph_zone *z = e->zone;

	ph_zone_unlock(z);
	int err = ph_engine_report(e, h->ranges, h->nr);
	ph_zone_lock(z);

	for (unsigned i = 0; i < h->nr; i++) {
		uint64_t p = ph_range_pfn(&h->ranges[i]);
		uint64_t end = p + (h->ranges[i].len >> PH_PAGE_SHIFT);

		while (p < end) {
			struct ph_page_info pi;

			__ph_page_query(z, p, &pi);
			if (PH_WARN_ON((pi.kind != PH_PAGE_ISOLATED || pi.head != p) &&
				       "pagehint: a block of the request is not isolated"))
				break;
			if (__ph_putback_block(z, p, pi.order, PH_TAIL, err == 0) == 1)
				ph_engine_count(&e->merged, 1);
			p += 1ull << pi.order;
		}
	}
	if (err == 0) {
		ph_engine_count(&h->blocks, h->req_blocks);
		h->pass_pages += h->req_pages;
		h->pass_recent += h->req_recent;
	}
	h->nr = 0;
	h->req_pages = h->req_blocks = h->req_recent = 0;
	return err;
}

/* ---- a pass ---- */

enum { CYCLE_DONE, CYCLE_STOP };

static void note_hold(struct pagehint *h, unsigned isolated)
{
	uint64_t m = rd(&h->max_hold);

	if (isolated > m)
		wr(&h->max_hold, isolated);	/* only the work writes it */
}

/* The block's age in stamp units; false if no free stamped it (0 is a
 * block no free stamped: put back, split, merged without a hook). */
static bool block_age(struct pagehint *h, struct ph_zone *z, uint64_t pfn, uint32_t *age)
{
	uint32_t stamp = *__ph_engine_word(z, pfn);
	int32_t a;

	if (!stamp)
		return false;
	a = (int32_t)(h->now_c - stamp);	/* wraps after ~25 days: then old */
	*age = a < 0 ? 0 : (uint32_t)a;		/* < 0: freed since the pass began */
	return true;
}

/* Freed less than max_delay ago: a job's memory, if it comes back soon. */
static bool recently_freed(struct pagehint *h, struct ph_zone *z, uint64_t pfn)
{
	uint32_t age;

	return block_age(h, z, pfn, &age) && age < (uint32_t)(h->max_delay_ns >> AGE_SHIFT);
}

/*
 * While backed off (gate > 0): a block freed less than gate ago (its
 * stamp, written by block_freed) is left for a later pass, so memory a
 * job frees and takes back within the delay is never isolated; an
 * unstamped block is old.
 */
static bool too_young(struct pagehint *h, struct ph_zone *z, uint64_t pfn, unsigned order)
{
	uint32_t age;

	if (!h->gate || !block_age(h, z, pfn, &age))
		return false;
	if (age >= h->gate)
		return false;
	h->young_pages += 1ull << order;
	if (h->gate - age < h->ripe)
		h->ripe = h->gate - age;
	return true;
}

/*
 * One free list, from its first block. Reported blocks are skipped (the
 * first one skipped is the marker: meeting it again means the list went
 * round); unreported ones are isolated into the request. The lock is
 * dropped after report.hold isolations or VISIT_MAX skips, with the next
 * block rotated to the front so the walk resumes there; a full request is
 * sent (req_flush) and the walk restarts at the list's first block.
 * CYCLE_STOP: the pass ends (report failed, stopping, reserve reached
 * with nothing in flight).
 */
static int cycle(struct pagehint *h, unsigned order)
{
	struct ph_engine *e = h->e;
	struct ph_zone *z = e->zone;
	uint64_t reserve = ph_zone_managed_pages(z) / RESERVE_DIV;
	uint64_t marker = PH_NO_PFN, young = PH_NO_PFN, steps, pfn, next;
	unsigned isolated = 0, skipped = 0;
	int ret = CYCLE_DONE;

	if (ph_zone_nr_free(z, order) == ph_zone_nr_reported(z, order))
		return CYCLE_DONE;	/* early, lockless: nothing unreported */

	ph_zone_lock(z);
	/* a bound, should blocks keep arriving faster than we take them */
	steps = 2 * ph_zone_nr_free(z, order) + 4ull * h->capacity + 1024;
	for (pfn = __ph_free_list_first(z, order); pfn != PH_NO_PFN && steps; pfn = next, steps--) {
		if (pfn == marker)
			break;		/* round the list: the rest is Reported */
		next = __ph_free_list_next(z, order, pfn);

		if (__ph_page_reported(z, pfn)) {
			if (marker == PH_NO_PFN)
				marker = pfn;
			if (++skipped < VISIT_MAX)
				continue;
		} else if (too_young(h, z, pfn, order)) {
			if (young == PH_NO_PFN)
				young = pfn;
			if (++skipped < VISIT_MAX)
				continue;
		} else {
			uint64_t addr = pfn << PH_PAGE_SHIFT, len = PH_PAGE_SIZE << order;
			unsigned at;

			if (ph_zone_free_pages(z) < reserve + (1ull << order) ||
			    !req_fits(h, addr, len, &at)) {
				/* short of memory, or the request is full: send it */
				if (h->nr == 0) {
					ret = CYCLE_STOP;	/* the reserve, nothing in flight */
					break;
				}
				if (pfn != __ph_free_list_first(z, order))
					__ph_free_list_rotate_to_front(z, order, pfn);
				note_hold(h, isolated);
				isolated = skipped = 0;
				if (req_flush(h) != 0 || ph_engine_stopping(e)) {
					ret = CYCLE_STOP;
					break;
				}
				next = __ph_free_list_first(z, order);	/* the cursor is stale */
				continue;
			}
			bool recent = recently_freed(h, z, pfn);

			if (__ph_isolate_free_block(z, pfn, order) != 0) {
				ph_engine_count(&e->isolate_failures, 1);
				continue;
			}
			req_add(h, addr, len, at);
			if (recent)
				h->req_recent += len >> PH_PAGE_SHIFT;
			if (++isolated < h->hold)
				continue;
		}
		/* the hold is long enough: let the allocator in */
		if (next == PH_NO_PFN)
			break;
		__ph_free_list_rotate_to_front(z, order, next);
		note_hold(h, isolated);
		isolated = skipped = 0;
		ph_zone_unlock(z);
		ph_cpu_relax();
		ph_zone_lock(z);
		if (ph_engine_stopping(e)) {
			ret = CYCLE_STOP;
			break;
		}
		next = __ph_free_list_first(z, order);
	}
	note_hold(h, isolated);
	if (!steps)
		atomic_store(&h->req.state, PH_REQ_REQUESTED);	/* come back for the rest */
	/* The rotations moved the young blocks behind the Reported ones:
	 * put the first back in front, so that the job takes its own memory
	 * again, not Reported memory (no-op if it was taken meanwhile). */
	if (young != PH_NO_PFN)
		(void)__ph_free_list_rotate_to_front(z, order, young);
	ph_zone_unlock(z);
	return ret;
}

/*
 * The hysteresis, from how much Reported memory allocations took since
 * the last pass (lost pages), which ended `since` ago. Reuse within
 * max_delay (a job runner: memory freed, reported, taken back) sets the
 * delay to cover that interval with a margin, at least doubling it;
 * reuse later than that is no pattern the delay could cover (a boot's
 * reported memory taken by a program). A pass that skipped young blocks
 * means the job still runs: no decay.
 */
static void adapt(struct pagehint *h, uint64_t lost, uint64_t since)
{
	uint64_t d = rd(&h->delay_ns);

	ph_engine_count(&h->reallocated, lost);
	if (h->last_young)
		h->clean = 0;
	if (!h->last_pages)
		return;		/* nothing was reported to be reused */
	/* Against what the last pass took of recently freed memory when it
	 * took some: a job's first free is reported with all the memory free
	 * since boot (never freed since, so never reported before), and its
	 * reuse is a small share of that but all of its own. */
	uint64_t base = h->last_recent ? h->last_recent : h->last_pages;

	if (lost >= (1ull << h->order) && lost * 4 >= base &&
	    since <= h->max_delay_ns) {
		d = d ? 2 * d : MS_NS;
		if (d < since + since / 4)
			d = since + since / 4;
		if (d > h->max_delay_ns)
			d = h->max_delay_ns;
		ph_engine_count(&h->backoffs, 1);
		h->clean = 0;
	} else if (!h->last_young && ++h->clean >= DECAY_PASSES) {
		d /= 2;
		if (d < h->min_delay_ns)
			d = h->min_delay_ns;
		h->clean = 0;
	}
	wr(&h->delay_ns, d);
}

static void pass(struct pagehint *h)
{
	struct ph_engine *e = h->e;
	struct ph_zone *z = e->zone;
	int ret = CYCLE_DONE;

	ph_engine_count(&e->passes, 1);
	uint64_t now = ph_engine_now(e);

	adapt(h, ph_zone_reported_allocated(z) - h->ra_mark, now - h->last_end_ns);
	h->pass_pages = h->pass_recent = 0;
	h->young_pages = 0;
	h->ripe = UINT32_MAX;
	h->gate = 0;
	h->now_c = (uint32_t)(now >> AGE_SHIFT);
	if (rd(&h->delay_ns) > h->min_delay_ns)
		h->gate = (uint32_t)(rd(&h->delay_ns) >> AGE_SHIFT);
	for (int o = PH_MAX_ORDER - 1; o >= (int)h->order && ret == CYCLE_DONE; o--)
		ret = cycle(h, (unsigned)o);
	if (h->nr) {
		ph_zone_lock(z);
		req_flush(h);
		ph_zone_unlock(z);
	}
	h->last_pages = h->pass_pages;
	h->last_recent = h->pass_recent;
	h->last_young = h->young_pages != 0;
	h->last_end_ns = ph_engine_now(e);
	h->ra_mark = ph_zone_reported_allocated(z);
}

/* The work: look, wait for frees to settle, or pass. */
static void phe_work(struct ph_engine_work *w)
{
	struct pagehint *h = w->arg;
	struct ph_engine *e = h->e;

	ph_work_req_begin(&h->req);
	if (atomic_exchange_explicit(&h->woke, false, memory_order_relaxed)) {
		/* no eligible free for idle_ns: whatever job the delay
		 * covered is over, or its period is beyond the hysteresis */
		wr(&h->delay_ns, h->min_delay_ns);
		h->clean = 0;
	}
	if (!ph_engine_stopping(e)) {
		uint64_t gen = rd(&h->freed_gen), unrep = unreported_pages(h);
		uint64_t d = rd(&h->delay_ns);

		bool settled, backed;

		if (gen != rd(&h->seen_gen))
			h->quiet = 0;
		else
			h->quiet++;
		/* backed off, a pass takes only blocks older than the delay,
		 * which have settled: no need to wait */
		backed = d > h->min_delay_ns;
		settled = backed || h->quiet >= h->quiet_looks;
		if (unrep == 0) {
			h->waited_ns = 0;
			h->quiet = 0;
		} else if (unrep < h->trigger_pages && !settled && h->waited_ns < h->max_delay_ns) {
			/* frees are still coming: look again later; REQUESTED
			 * so that they queue nothing meanwhile */
			h->waited_ns += d ? d : MS_NS;
			wr(&h->seen_gen, gen);
			atomic_store(&h->req.state, PH_REQ_REQUESTED);
			ph_engine_queue(e, ph_cpu_id(), &h->work, d);
			return;
		} else {
			bool on_quiet = unrep < h->trigger_pages && settled && !backed;

			h->waited_ns = 0;
			h->quiet = 0;
			pass(h);
			if (on_quiet) {
				/* frees during the pass: it was a pause, not the end */
				if (atomic_load(&h->req.state) == PH_REQ_REQUESTED) {
					if (h->quiet_looks < QUIET_LOOKS_MAX)
						h->quiet_looks *= 2;
				} else if (h->quiet_looks > 1) {
					h->quiet_looks--;
				}
			}
			if (h->young_pages && !ph_engine_stopping(e)) {
				/* come back when the youngest skipped block is
				 * old enough (REQUESTED: frees queue nothing) */
				wr(&h->seen_gen, rd(&h->freed_gen));
				atomic_store(&h->req.state, PH_REQ_REQUESTED);
				ph_engine_queue(e, ph_cpu_id(), &h->work,
						((uint64_t)h->ripe << AGE_SHIFT) + MS_NS);
				return;
			}
		}
	}
	if (ph_work_req_end(&h->req)) {
		/* frees during the pass: look again after the delay */
		if (ph_engine_stopping(e)) {
			atomic_store(&h->req.state, PH_REQ_IDLE);
		} else {
			wr(&h->seen_gen, rd(&h->freed_gen));
			ph_engine_queue(e, ph_cpu_id(), &h->work, rd(&h->delay_ns));
		}
	}
}

static void phe_extra_stats(const struct ph_engine *e, struct ph_engine_stats *st)
{
	struct pagehint *h = e->priv;

	st->blocks = rd(&h->blocks);
	st->reallocated = rd(&h->reallocated);
	st->backoffs = rd(&h->backoffs);
	st->max_hold = rd(&h->max_hold);
}

static int phe_init(struct ph_engine *e)
{
	struct pagehint *h = e->priv;
	const struct ph_engine_params *p = &e->p;

	if (p->order >= PH_MAX_ORDER || p->capacity == 0 || p->hold == 0 ||
	    p->hold > PH_ENGINE_MAX_ENTRIES || p->max_delay_ms < p->delay_ms)
		return -PH_EINVAL;
	h->e = e;
	h->order = (unsigned)p->order;
	h->capacity = (unsigned)p->capacity;
	h->hold = (unsigned)p->hold;
	h->min_delay_ns = p->delay_ms * MS_NS;
	h->max_delay_ns = p->max_delay_ms * MS_NS;
	h->trigger_pages = p->trigger_mib << (20 - PH_PAGE_SHIFT);
	h->idle_ns = 2 * h->max_delay_ns;
	atomic_init(&h->req.state, PH_REQ_IDLE);
	atomic_init(&h->req.kick, false);
	atomic_init(&h->delay_ns, h->min_delay_ns);
	atomic_init(&h->last_free_ns, 0);
	atomic_init(&h->woke, false);
	h->quiet_looks = 1;
	ph_engine_work_init(e, &h->work, phe_work, h, 0);
	e->extra_stats = phe_extra_stats;
	e->hooks.block_freed = phe_block_freed;
	e->hooks.free_min_order = h->order;
	e->hooks.free_done = phe_free_done;
	e->hooks.ctx = h;
	return 0;
}

const struct ph_engine_ops ph_engine_pagehint_ops = {
	.priv_bytes = phe_priv_bytes,
	.init = phe_init,
};
