/* SPDX-License-Identifier: MIT */
/*
 * engine=upstream: free page reporting as Linux (>= 5.7) mm/page_reporting.c
 * does it, over core/buddy's one zone.
 *
 *  - A block that enters the free lists with order >= report.order
 *    (pageblock order 9) requests a pass (page_reporting_notify_free);
 *    the request state machine is ph_work_req's (core/engine.h), and the
 *    pass runs report.delay_ms (PAGE_REPORTING_DELAY, 2 s) later.
 *  - A pass (page_reporting_process) checks the zone's watermark, then
 *    walks the free lists from report.order to 10. Linux has one list per
 *    migratetype and order; core/buddy has one per order.
 *  - Per list (page_reporting_cycle): a budget of
 *    DIV_ROUND_UP(nr_free, capacity * 16) report calls (so budget + 1 calls
 *    at most: Linux stops when the budget goes negative); Reported blocks
 *    are skipped; unreported ones are isolated into the scatter list of
 *    report.capacity (32) ranges, filled from its end as Linux does; when
 *    it is full and another unreported block comes, that block is rotated
 *    to the front of its list, the zone lock dropped, the list reported,
 *    the lock retaken, the blocks put back at the tail of their lists
 *    marked Reported unless they merged (page_reporting_drain), and the
 *    walk restarts at the list's first block. A spent budget sets
 *    REQUESTED and stops the list, with the block it stopped at rotated to
 *    the front, so the next pass starts there.
 *  - After every order, the leftover partial list is reported and drained.
 *  - A failed report puts the blocks back unreported and ends the pass.
 *
 * Watermark (page_reporting_process_zone): skip the zone when its free
 * pages are not above low_wmark + (capacity << order). core/buddy has no
 * watermarks; the low watermark is modelled as managed / 256 (0.39%),
 * about what Linux computes for a 1-4 GiB zone (min_free_kbytes =
 * sqrt(16 * KiB), low = min + 0.1% of managed: 0.38% at 2 GiB).
 *
 * Locking: block_freed runs under the zone lock and touches only the
 * request atomics; free_done queues the work; the pass holds the zone lock
 * while it walks and isolates, and drops it around every report() (the
 * sink waits for the device). The scatter list belongs to the one pass.
 */
#include "engine.h"

#define BUDGET_DIVISOR 16	/* a sixteenth of a list per pass */

struct upstream {
	struct ph_engine *e;
	unsigned order;		/* report.order */
	unsigned capacity;	/* report.capacity */
	uint64_t delay_ns;
	struct ph_work_req req;
	struct ph_engine_work work;
	struct ph_range sgl[];	/* capacity; the running pass's */
};

static size_t up_priv_bytes(const struct ph_engine_params *p, unsigned nr_cpus)
{
	(void)nr_cpus;
	return sizeof(struct upstream) + (size_t)p->capacity * sizeof(struct ph_range);
}

/* page_reporting_notify_free: zone lock held; order >= u->order (the
 * hooks' free_min_order, tested by core/buddy). */
static void up_block_freed(void *ctx, unsigned cpu, uint64_t pfn, unsigned order)
{
	struct upstream *u = ctx;

	(void)cpu;
	(void)pfn;
	(void)order;
	ph_work_req_request(&u->req);
}

static void up_free_done(void *ctx, unsigned cpu)
{
	struct upstream *u = ctx;

	ph_work_req_kick(u->e, &u->req, &u->work, cpu, u->delay_ns);
}

/* page_reporting_drain: zone lock held. */
static void up_drain(struct upstream *u, struct ph_range *sgl, unsigned n, bool reported)
{
	struct ph_zone *z = u->e->zone;

	for (unsigned i = 0; i < n; i++) {
		int r = __ph_putback_block(z, ph_range_pfn(&sgl[i]), ph_range_order(&sgl[i]),
					   PH_TAIL, reported);
		if (r == 1)
			ph_engine_count(&u->e->merged, 1);
	}
}

/* page_reporting_cycle: one free list. *offset counts down the free
 * entries of the scatter list (filled from sgl[capacity - 1] down). */
static int up_cycle(struct upstream *u, unsigned order, unsigned *offset)
{
	struct ph_engine *e = u->e;
	struct ph_zone *z = e->zone;
	uint64_t pfn, next = PH_NO_PFN;
	int err = 0;

	/* early, lockless: nothing to do on an empty list */
	if (ph_zone_nr_free(z, order) == 0)
		return 0;

	ph_zone_lock(z);
	int64_t budget = (int64_t)((ph_zone_nr_free(z, order) +
				    (uint64_t)u->capacity * BUDGET_DIVISOR - 1) /
				   ((uint64_t)u->capacity * BUDGET_DIVISOR));

	for (pfn = __ph_free_list_first(z, order); pfn != PH_NO_PFN; pfn = next) {
		next = __ph_free_list_next(z, order, pfn);

		if (__ph_page_reported(z, pfn))
			continue;

		/* budget spent: ask for another pass, stop this list here */
		if (budget < 0) {
			atomic_store(&u->req.state, PH_REQ_REQUESTED);
			next = pfn;
			break;
		}

		if (*offset) {
			if (__ph_isolate_free_block(z, pfn, order) != 0) {
				ph_engine_count(&e->isolate_failures, 1);
				next = pfn;
				break;
			}
			--*offset;
			u->sgl[*offset] = ph_block_range(pfn, order);
			continue;
		}

		/* full: the next pass (or restart) begins at this block */
		if (pfn != __ph_free_list_first(z, order))
			__ph_free_list_rotate_to_front(z, order, pfn);

		/* drop the lock before waiting for the device */
		ph_zone_unlock(z);
		err = ph_engine_report(e, u->sgl, u->capacity);
		*offset = u->capacity;
		budget--;
		ph_zone_lock(z);

		up_drain(u, u->sgl, u->capacity, err == 0);

		/* the saved cursor is stale now that the lock was dropped */
		next = __ph_free_list_first(z, order);
		if (err)
			break;
		if (ph_engine_stopping(e))
			break;
	}

	/* rotate what is left to the front of the list */
	if (next != PH_NO_PFN && next != __ph_free_list_first(z, order))
		__ph_free_list_rotate_to_front(z, order, next);
	ph_zone_unlock(z);
	return err;
}

/* page_reporting_process_zone */
static int up_process_zone(struct upstream *u)
{
	struct ph_engine *e = u->e;
	struct ph_zone *z = e->zone;
	unsigned offset = u->capacity;
	int err = 0;

	uint64_t low = ph_zone_managed_pages(z) / 256;
	uint64_t watermark = low + ((uint64_t)u->capacity << u->order);

	if (ph_zone_free_pages(z) <= watermark) {
		ph_engine_count(&e->wmark_skips, 1);
		return 0;
	}
	for (unsigned order = u->order; order < PH_MAX_ORDER; order++) {
		err = up_cycle(u, order, &offset);
		if (err)
			return err;
		if (ph_engine_stopping(e))
			break;
	}

	/* report the leftovers before going idle */
	unsigned leftover = u->capacity - offset;

	if (leftover) {
		struct ph_range *sgl = &u->sgl[offset];

		err = ph_engine_report(e, sgl, leftover);
		ph_zone_lock(z);
		up_drain(u, sgl, leftover, err == 0);
		ph_zone_unlock(z);
	}
	return err;
}

/* page_reporting_process: the delayed work. */
static void up_work(struct ph_engine_work *w)
{
	struct upstream *u = w->arg;
	struct ph_engine *e = u->e;

	ph_work_req_begin(&u->req);
	if (!ph_engine_stopping(e)) {
		ph_engine_count(&e->passes, 1);
		up_process_zone(u);
	}
	if (ph_work_req_end(&u->req)) {
		if (ph_engine_stopping(e))
			atomic_store(&u->req.state, PH_REQ_IDLE);
		else
			ph_engine_queue(e, ph_cpu_id(), &u->work, u->delay_ns);
	}
}

static int up_init(struct ph_engine *e)
{
	struct upstream *u = e->priv;

	if (e->p.order >= PH_MAX_ORDER || e->p.capacity == 0)
		return -PH_EINVAL;
	u->e = e;
	u->order = (unsigned)e->p.order;
	u->capacity = (unsigned)e->p.capacity;
	u->delay_ns = e->p.delay_ms * 1000000ull;
	atomic_init(&u->req.state, PH_REQ_IDLE);
	atomic_init(&u->req.kick, false);
	ph_engine_work_init(e, &u->work, up_work, u, 0);
	e->hooks.block_freed = up_block_freed;
	/* page_reporting_notify_free's inline page_reporting_order test */
	e->hooks.free_min_order = u->order;
	e->hooks.free_done = up_free_done;
	e->hooks.ctx = u;
	return 0;
}

/*
 * page_reporting_register() ends with "begin initial flush of zones": a
 * request, so memory that was free before the device came (boot-time free
 * memory) is reported from the first pass, PAGE_REPORTING_DELAY later,
 * without waiting for a high-order free.
 */
static void up_start(struct ph_engine *e)
{
	struct upstream *u = e->priv;

	ph_work_req_request(&u->req);
	ph_work_req_kick(e, &u->req, &u->work, ph_cpu_id(), u->delay_ns);
}

const struct ph_engine_ops ph_engine_upstream_ops = {
	.priv_bytes = up_priv_bytes,
	.init = up_init,
	.start = up_start,
};
