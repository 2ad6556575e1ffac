/* SPDX-License-Identifier: MIT */
/*
 * Per-CPU lists of order-0 pages (Linux's per_cpu_pages, as in 5.19+ with
 * pcp->lock). The order-0 fast path takes only the calling CPU's own pcp
 * lock, which no other CPU takes except to drain the list:
 *
 *   free:  page onto the head of this CPU's list; if count > high, move
 *          batch pages from the tail (the coldest) to the buddy under the
 *          zone lock (free_pcppages_bulk), calling the free hook per block.
 *   alloc: page off the head; if the list is empty, first move batch pages
 *          from the buddy to its tail under the zone lock (rmqueue_bulk).
 *
 * Lock order: a pcp lock, then the zone lock; never two pcp locks at once
 * (ph_zone_check excepted, which takes them in CPU order). CPUs with an id
 * >= zone->nr_cpus have no list and use the direct path.
 */
#include "buddy_internal.h"

/* Move up to n pages from the tail of pcp to the buddy. pcp lock held;
 * takes the zone lock. fn: the hooks called, for ph_call_free_done. */
static void pcp_free_bulk(struct ph_zone *z, struct ph_pcp *pcp, uint32_t n,
			  struct ph_free_notify *fn)
{
	ph_spin_lock(&z->lock);
	fn->hooks = z->hooks;
	while (n-- && pcp->count) {
		uint32_t idx = pcp->list.last;

		list_del(z->memmap, &pcp->list, idx);
		pcp->count--;
		__ph_free_one(z, idx, 0, FREE_AUTO, fn);
	}
	ph_spin_unlock(&z->lock);
}

/* Move up to batch pages from the buddy to the tail of pcp. pcp lock held. */
static void pcp_refill(struct ph_zone *z, struct ph_pcp *pcp)
{
	ph_spin_lock(&z->lock);
	for (uint32_t i = 0; i < pcp->batch; i++) {
		uint32_t idx = __ph_rmqueue(z, 0);

		if (idx == PH_NIL)
			break;
		pg_set_state(&z->memmap[idx], mk_state(PH_PG_PCP, 0));
		list_add_tail(z->memmap, &pcp->list, idx);
		pcp->count++;
	}
	ph_spin_unlock(&z->lock);
}

static uint64_t pcp_alloc(struct ph_zone *z, struct ph_pcp *pcp)
{
	uint64_t pfn = PH_NO_PFN;

	ph_spin_lock(&pcp->lock);
	if (unlikely(pcp->count == 0))
		pcp_refill(z, pcp);
	if (likely(pcp->count)) {
		uint32_t idx = pcp->list.first;

		list_del(z->memmap, &pcp->list, idx);
		pcp->count--;
		pg_set_state(&z->memmap[idx], mk_state(PH_PG_HEAD, 0));
		pfn = z->base_pfn + idx;
	}
	ph_spin_unlock(&pcp->lock);
	return pfn;
}

uint64_t ph_alloc_pages(struct ph_zone *z, unsigned order)
{
	unsigned cpu = ph_cpu_id();

	if (order != 0 || unlikely(cpu >= z->nr_cpus))
		return ph_alloc_pages_direct(z, order);

	uint64_t pfn = pcp_alloc(z, &z->pcp[cpu]);

	if (unlikely(pfn == PH_NO_PFN)) {
		/* the buddy is empty: other CPUs' lists may still hold pages */
		ph_drain_all(z);
		pfn = pcp_alloc(z, &z->pcp[cpu]);
	}
	return pfn;
}

int ph_free_pages(struct ph_zone *z, uint64_t pfn, unsigned order)
{
	unsigned cpu = ph_cpu_id();

	if (order != 0 || unlikely(cpu >= z->nr_cpus))
		return ph_free_pages_direct(z, pfn, order);

	int err = ph_check_free(z, pfn, 0);

	if (unlikely(err))
		return err;

	struct ph_pcp *pcp = &z->pcp[cpu];
	uint32_t idx = (uint32_t)(pfn - z->base_pfn);

	ph_spin_lock(&pcp->lock);
	pg_set_state(&z->memmap[idx], mk_state(PH_PG_PCP, 0));
	list_add_head(z->memmap, &pcp->list, idx);
	pcp->count++;
	if (unlikely(pcp->count > pcp->high)) {
		struct ph_free_notify fn = { NULL, cpu, false };

		pcp_free_bulk(z, pcp, pcp->batch, &fn);
		ph_spin_unlock(&pcp->lock);
		ph_call_free_done(&fn);
		return 0;
	}
	ph_spin_unlock(&pcp->lock);	/* the fast path: no hook, no zone lock */
	return 0;
}

void ph_drain_cpu(struct ph_zone *z, unsigned cpu)
{
	if (cpu >= z->nr_cpus)
		return;

	struct ph_pcp *pcp = &z->pcp[cpu];
	struct ph_free_notify fn = { NULL, ph_cpu_id(), false };

	ph_spin_lock(&pcp->lock);
	if (pcp->count)
		pcp_free_bulk(z, pcp, pcp->count, &fn);
	ph_spin_unlock(&pcp->lock);
	ph_call_free_done(&fn);
}

void ph_drain_all(struct ph_zone *z)
{
	for (unsigned cpu = 0; cpu < z->nr_cpus; cpu++)
		ph_drain_cpu(z, cpu);
}

int ph_zone_set_pcp(struct ph_zone *z, unsigned batch, unsigned high)
{
	if (batch < 1)
		return -PH_EINVAL;
	for (unsigned cpu = 0; cpu < z->nr_cpus; cpu++) {
		struct ph_pcp *pcp = &z->pcp[cpu];

		ph_spin_lock(&pcp->lock);
		pcp->batch = batch;
		pcp->high = high;
		ph_spin_unlock(&pcp->lock);
	}
	return 0;
}

unsigned ph_pcp_count(struct ph_zone *z, unsigned cpu)
{
	unsigned n;

	if (cpu >= z->nr_cpus)
		return 0;
	ph_spin_lock(&z->pcp[cpu].lock);
	n = z->pcp[cpu].count;
	ph_spin_unlock(&z->pcp[cpu].lock);
	return n;
}

uint64_t ph_zone_pcp_pages(struct ph_zone *z)
{
	uint64_t n = 0;

	for (unsigned cpu = 0; cpu < z->nr_cpus; cpu++)
		n += ph_pcp_count(z, cpu);
	return n;
}
