/* SPDX-License-Identifier: MIT */
/*
 * engine=max-order: the review's suggestion to the seed (M. S. Tsirkin,
 * Feb 2019, after Wei Wang's free page hint series): report only free
 * blocks of the largest order, MAX_ORDER-1 = 10 (4 MiB), in batches.
 *
 * The review gives the rule, not an implementation; this one is the
 * smallest that follows it, built from the same parts as upstream so the
 * two differ only where the designs differ:
 *  - a block that enters the free lists with order >= report.order (10)
 *    requests a pass, report.delay_ms (100 ms, ours: the origin has no
 *    number) later, with upstream's IDLE/REQUESTED/ACTIVE state machine
 *    (core/engine.h);
 *  - a pass walks the order-10 free list from its first block: Reported
 *    blocks are skipped, the others isolated, up to report.capacity (the
 *    device's queue size) per request; a full batch is reported with the
 *    zone lock dropped (the next unvisited block rotated to the front
 *    first), put back at the tail of the list marked Reported, and the
 *    walk restarts at the first block; the last partial batch likewise;
 *  - no budget and no watermark check: a pass reports every unreported
 *    4 MiB block there is; a failed report ends the pass (blocks put back
 *    unreported).
 * Order-10 blocks cannot merge, so a block stays Reported until it is
 * allocated (split) -- nothing is reported twice in between.
 *
 * Locking: as upstream (core/engine_upstream.c): block_freed touches only
 * the request atomics, free_done queues, the pass holds the zone lock to
 * walk and isolate and drops it around report().
 */
#include "engine.h"

struct maxo {
	struct ph_engine *e;
	unsigned order;
	unsigned capacity;
	uint64_t delay_ns;
	struct ph_work_req req;
	struct ph_engine_work work;
	struct ph_range batch[];	/* capacity; the running pass's */
};

static size_t mo_priv_bytes(const struct ph_engine_params *p, unsigned nr_cpus)
{
	(void)nr_cpus;
	return sizeof(struct maxo) + (size_t)p->capacity * sizeof(struct ph_range);
}

/* zone lock held; order >= m->order (free_min_order) */
static void mo_block_freed(void *ctx, unsigned cpu, uint64_t pfn, unsigned order)
{
	struct maxo *m = ctx;

	(void)cpu;
	(void)pfn;
	(void)order;
	ph_work_req_request(&m->req);
}

static void mo_free_done(void *ctx, unsigned cpu)
{
	struct maxo *m = ctx;

	ph_work_req_kick(m->e, &m->req, &m->work, cpu, m->delay_ns);
}

/* Report batch[0..n) (no lock held) and put it back; returns the report's
 * result. */
static int mo_flush(struct maxo *m, unsigned n)
{
	struct ph_engine *e = m->e;
	struct ph_zone *z = e->zone;
	int err = ph_engine_report(e, m->batch, n);

	ph_zone_lock(z);
	for (unsigned i = 0; i < n; i++)
		if (__ph_putback_block(z, ph_range_pfn(&m->batch[i]), m->order, PH_TAIL,
				       err == 0) == 1)
			ph_engine_count(&e->merged, 1);
	ph_zone_unlock(z);
	return err;
}

static void mo_pass(struct maxo *m)
{
	struct ph_engine *e = m->e;
	struct ph_zone *z = e->zone;
	unsigned n = 0;
	int err = 0;

	if (ph_zone_nr_free(z, m->order) == 0)
		return;
	ph_zone_lock(z);
	for (uint64_t pfn = __ph_free_list_first(z, m->order), next; pfn != PH_NO_PFN; pfn = next) {
		next = __ph_free_list_next(z, m->order, pfn);
		if (__ph_page_reported(z, pfn))
			continue;
		if (__ph_isolate_free_block(z, pfn, m->order) != 0) {
			ph_engine_count(&e->isolate_failures, 1);
			break;
		}
		m->batch[n++] = ph_block_range(pfn, m->order);
		if (n < m->capacity)
			continue;

		/* a full batch: the walk resumes at next, made the first */
		if (next != PH_NO_PFN)
			__ph_free_list_rotate_to_front(z, m->order, next);
		ph_zone_unlock(z);
		err = mo_flush(m, n);
		n = 0;
		if (err || ph_engine_stopping(e))
			return;
		ph_zone_lock(z);
		next = __ph_free_list_first(z, m->order);
	}
	ph_zone_unlock(z);
	if (n)
		mo_flush(m, n);
}

static void mo_work(struct ph_engine_work *w)
{
	struct maxo *m = w->arg;
	struct ph_engine *e = m->e;

	ph_work_req_begin(&m->req);
	if (!ph_engine_stopping(e)) {
		ph_engine_count(&e->passes, 1);
		mo_pass(m);
	}
	if (ph_work_req_end(&m->req)) {
		if (ph_engine_stopping(e))
			atomic_store(&m->req.state, PH_REQ_IDLE);
		else
			ph_engine_queue(e, ph_cpu_id(), &m->work, m->delay_ns);
	}
}

static int mo_init(struct ph_engine *e)
{
	struct maxo *m = e->priv;

	if (e->p.order >= PH_MAX_ORDER || e->p.capacity == 0)
		return -PH_EINVAL;
	m->e = e;
	m->order = (unsigned)e->p.order;
	m->capacity = (unsigned)e->p.capacity;
	m->delay_ns = e->p.delay_ms * 1000000ull;
	atomic_init(&m->req.state, PH_REQ_IDLE);
	atomic_init(&m->req.kick, false);
	ph_engine_work_init(e, &m->work, mo_work, m, 0);
	e->hooks.block_freed = mo_block_freed;
	e->hooks.free_min_order = m->order;
	e->hooks.free_done = mo_free_done;
	e->hooks.ctx = m;
	return 0;
}

const struct ph_engine_ops ph_engine_max_order_ops = {
	.priv_bytes = mo_priv_bytes,
	.init = mo_init,
};
