/* SPDX-License-Identifier: MIT */
/*
 * engine=seed-v8: Nitesh Narayan Lal's "[RFC][Patch v8 6/7] KVM: Enables
 * the kernel to isolate and report free pages" (virt/kvm/page_hinting.c),
 * reproduced with its capacities, its scans and its locking, costs
 * included (../shared/seed/). Names in comments are the patch's.
 *
 * Per CPU (struct page_hinting):
 *   kvm_pt[report.entries = MAX_FGPT_ENTRIES 1000]   {pfn, order, zonenum}
 *   hypervisor_pagelist[1000]                        {pfn, order} isolated
 *
 * guest_free_page (block_freed): a block entering the free lists is
 * appended to this CPU's kvm_pt; while it is full, frees are not recorded
 * (the patch's `kvm_pt_idx != MAX_FGPT_ENTRIES` test). When the append
 * fills it: drain_local_pages (ph_drain_cpu), scan_array, pack_array, and
 * if it is still full wake this CPU's hinting thread. The patch does that
 * inside guest_free_page with interrupts off; here the zone lock is held
 * in block_freed, and draining takes it, so the drain, the scan and the
 * wake-up run in free_done, right after the same free drops its locks.
 *
 * scan_array: for each entry, if its page is no longer a buddy head but
 * lies in a free block (get_buddy_page), replace the entry by that block
 * (pfn, order) -- or drop it when that head is already recorded, found by
 * if_exist's linear search of the whole array (O(n^2) per scan). Entries
 * whose page is allocated stay. pack_array moves the survivors down.
 * core/buddy needs the zone lock to look at a free block: the scan takes
 * it per entry (the patch reads page flags without it).
 *
 * hinting_fn (the work item, on the CPU whose array is full): for every
 * entry, walk its range pfn by pfn, taking and dropping the zone lock at
 * every step: an allocated block of order > 0 (PageCompound) is skipped
 * whole, any other page that is not in a free block (page_ref_count,
 * per-CPU, isolated, hole) one pfn at a time; a buddy head, or the free
 * block containing the pfn (get_buddy_page), is isolated
 * (__isolate_free_page) into hypervisor_pagelist and skipped. Then
 * hyperlist_ready: one request with the whole list, wait for the device,
 * and free every block back (free_one_page: put back at the head of its
 * list, merging, NOT marked Reported -- the same memory can be reported
 * again). Every order is reported, down to 4 KiB.
 *
 * Where this differs, and why:
 *  - hypervisor_pagelist has no bound check in the patch (an array range
 *    may hold many free blocks); here, when it is full, it is reported and
 *    freed back early (one more request), then the walk goes on.
 *  - The sink carries at most report.capacity ranges per request: with the
 *    seed's hinting_vq protocol the balloon driver takes all 1000 in its
 *    one buffer (one request, as the patch's hypercall); with the standard
 *    virtio protocol a chain is at most the queue size, so the list goes
 *    as ceil(n / capacity) chains, one after the other, before anything is
 *    freed back.
 *  - An empty entry is pfn PH_NO_PFN, not 0 (pfn 0 can be memory).
 *  - __isolate_free_page's watermark check has no equivalent (no
 *    watermarks in core/buddy); isolation of a block just found free under
 *    the same lock cannot fail.
 *
 * Ownership of a CPU's arrays (the `state` word, the hand-off):
 *   CAPTURE  block_freed of this CPU appends (zone lock held, so two frees
 *            of this CPU never interleave; no other CPU touches the array)
 *   FULL     set by the append that filled it; nobody writes the array;
 *            this CPU's next free_done takes it
 *   SCAN     free_done of this CPU drains, scans, packs; block_freed
 *            drops frees (including the drain's own)
 *   WORKER   the work item owns both arrays until it sets CAPTURE again
 *            (release; block_freed reads state with acquire)
 * In the guest the worker runs on the same CPU; in hosted tests it may run
 * on another thread while this CPU keeps freeing: the states keep them
 * apart.
 */
#include "engine.h"

enum { S_CAPTURE, S_FULL, S_SCAN, S_WORKER };

struct seed_entry {		/* kvm_pt[] */
	uint64_t pfn;		/* PH_NO_PFN: empty */
	int32_t order;
	int32_t zonenum;
};

struct seed_cpu {
	atomic_int state;
	unsigned kvm_pt_idx;		/* owner: see state */
	unsigned hyp_idx;		/* worker */
	struct seed_entry *kvm_pt;	/* entries */
	struct ph_range *hyp;		/* hypervisor_pagelist, entries */
	struct ph_engine_work work;
	struct seed *s;
	/* this CPU's counters: written by block_freed (zone lock), summed
	 * by stats without a lock */
	_Atomic uint64_t captured, dropped;
} __attribute__((aligned(64)));

struct seed {
	struct ph_engine *e;
	unsigned entries;
	unsigned capacity;
	unsigned nr_cpus;
	struct seed_cpu cpu[];
};

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

static size_t cpu_bytes(unsigned entries)
{
	return ALIGN64(sizeof(struct seed_cpu)) +
	       ALIGN64((size_t)entries * sizeof(struct seed_entry)) +
	       ALIGN64((size_t)entries * sizeof(struct ph_range));
}

static size_t sv_priv_bytes(const struct ph_engine_params *p, unsigned nr_cpus)
{
	unsigned entries = p->entries == PH_PARAM_DEFAULT ? 1000 : (unsigned)p->entries;

	return ALIGN64(sizeof(struct seed)) + nr_cpus * cpu_bytes(entries);
}

static void clear_entry(struct seed_entry *en)
{
	en->pfn = PH_NO_PFN;
	en->order = -1;
	en->zonenum = -1;
}

static void bump(_Atomic uint64_t *c)
{
	/* one writer per counter (its CPU, zone lock held): no locked RMW */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* guest_free_page: zone lock held. */
static void sv_block_freed(void *ctx, unsigned cpu, uint64_t pfn, unsigned order)
{
	struct seed *s = ctx;

	if (cpu >= s->nr_cpus)
		return;

	struct seed_cpu *c = &s->cpu[cpu];

	if (atomic_load_explicit(&c->state, memory_order_acquire) != S_CAPTURE) {
		bump(&c->dropped);
		return;
	}
	struct seed_entry *en = &c->kvm_pt[c->kvm_pt_idx++];

	en->pfn = pfn;
	en->order = (int32_t)order;
	en->zonenum = 0;	/* one zone */
	bump(&c->captured);
	if (c->kvm_pt_idx == s->entries)
		atomic_store_explicit(&c->state, S_FULL, memory_order_relaxed);
}

/* if_exist: is pfn recorded anywhere in the array? */
static bool if_exist(struct seed_cpu *c, unsigned entries, uint64_t pfn)
{
	for (unsigned i = 0; i < entries; i++)
		if (c->kvm_pt[i].pfn == pfn)
			return true;
	return false;
}

/* pack_array */
static void pack_array(struct seed_cpu *c, unsigned entries)
{
	unsigned i, j = 0;

	for (i = 0; i < entries; i++) {
		if (c->kvm_pt[i].pfn == PH_NO_PFN)
			continue;
		if (i != j)
			c->kvm_pt[j] = c->kvm_pt[i];
		j++;
	}
	c->kvm_pt_idx = j;
	for (; j < entries; j++)
		clear_entry(&c->kvm_pt[j]);
}

/* scan_array */
static void scan_array(struct seed *s, struct seed_cpu *c)
{
	struct ph_engine *e = s->e;
	struct ph_zone *z = e->zone;

	for (unsigned i = 0; i < s->entries; i++) {
		struct seed_entry *en = &c->kvm_pt[i];
		struct ph_page_info pi;

		if (en->pfn == PH_NO_PFN)
			continue;
		ph_zone_lock(z);
		__ph_page_query(z, en->pfn, &pi);
		ph_zone_unlock(z);
		/* !PageBuddy(page) && get_buddy_page(page) */
		if (pi.kind != PH_PAGE_FREE || pi.head == en->pfn)
			continue;
		if (if_exist(c, s->entries, pi.head)) {
			clear_entry(en);
			ph_engine_count(&e->rescan_dropped, 1);
		} else {
			en->pfn = pi.head;
			en->order = (int32_t)pi.order;
		}
	}
	pack_array(c, s->entries);
}

/* The rest of guest_free_page, after the free dropped its locks. */
static void sv_free_done(void *ctx, unsigned cpu)
{
	struct seed *s = ctx;

	if (cpu >= s->nr_cpus)
		return;

	struct seed_cpu *c = &s->cpu[cpu];
	int full = S_FULL;

	/* only this CPU moves FULL -> SCAN; a nested free_done (from the
	 * drain below) finds SCAN and returns */
	if (atomic_load_explicit(&c->state, memory_order_relaxed) != S_FULL ||
	    !atomic_compare_exchange_strong(&c->state, &full, S_SCAN))
		return;

	/*
	 * "We are depending on the buddy free-list to identify if a page is
	 * free or not. Hence, we are dumping all the per-cpu pages back into
	 * the buddy allocator." (drain_local_pages)
	 */
	ph_drain_cpu(s->e->zone, cpu);
	ph_engine_count(&s->e->rescans, 1);
	scan_array(s, c);
	if (c->kvm_pt_idx == s->entries && !ph_engine_stopping(s->e)) {
		/* wake_up_process(hinting_task): the worker owns the arrays */
		atomic_store_explicit(&c->state, S_WORKER, memory_order_release);
		ph_engine_queue(s->e, cpu, &c->work, 0);
	} else {
		/* still full while stopping (no worker takes it): capture stays
		 * closed, or the next free writes past the array */
		atomic_store_explicit(&c->state, c->kvm_pt_idx == s->entries ? S_FULL : S_CAPTURE,
				      memory_order_release);
	}
}

/*
 * hyperlist_ready: report the isolated list (in chains of capacity when
 * the sink's requests are smaller than the list), wait, then free every
 * block back to the buddy, unreported (free_one_page).
 */
static void hyperlist_ready(struct seed *s, struct seed_cpu *c)
{
	struct ph_engine *e = s->e;
	struct ph_zone *z = e->zone;
	unsigned n = c->hyp_idx;

	for (unsigned i = 0; i < n; i += s->capacity) {
		unsigned k = n - i < s->capacity ? n - i : s->capacity;

		ph_engine_report(e, &c->hyp[i], k);
	}
	for (unsigned i = 0; i < n; i++) {
		/* free_one_page takes the zone lock per block */
		ph_zone_lock(z);
		int r = __ph_putback_block(z, ph_range_pfn(&c->hyp[i]), ph_range_order(&c->hyp[i]),
					   PH_HEAD, false);
		ph_zone_unlock(z);
		if (r == 1)
			ph_engine_count(&e->merged, 1);
	}
	c->hyp_idx = 0;
}

/* Isolate the free block (head, order) into hypervisor_pagelist: zone lock
 * held. */
static void isolate_to_list(struct seed *s, struct seed_cpu *c, uint64_t head, unsigned order)
{
	if (__ph_isolate_free_block(s->e->zone, head, order) != 0) {
		ph_engine_count(&s->e->isolate_failures, 1);
		return;
	}
	c->hyp[c->hyp_idx++] = ph_block_range(head, order);
}

/* hinting_fn */
static void sv_work(struct ph_engine_work *w)
{
	struct seed_cpu *c = w->arg;
	struct seed *s = c->s;
	struct ph_engine *e = s->e;
	struct ph_zone *z = e->zone;

	ph_engine_count(&e->passes, 1);
	for (unsigned idx = 0; idx < s->entries && !ph_engine_stopping(e); idx++) {
		struct seed_entry *en = &c->kvm_pt[idx];

		if (en->pfn == PH_NO_PFN)
			continue;

		uint64_t pfn = en->pfn;
		uint64_t pfn_end = en->pfn + (1ull << en->order) - 1;

		while (pfn <= pfn_end) {
			struct ph_page_info pi;

			ph_zone_lock(z);
			__ph_page_query(z, pfn, &pi);
			if (pi.kind == PH_PAGE_ALLOCATED && pi.order > 0) {
				/* PageCompound: skip the whole allocation */
				pfn = pi.head + (1ull << pi.order);
			} else if (pi.kind == PH_PAGE_FREE) {
				/* PageBuddy(page), or get_buddy_page(page) */
				isolate_to_list(s, c, pi.head, pi.order);
				pfn = pi.head + (1ull << pi.order);
			} else {
				/* page_ref_count, or nothing to do: next pfn */
				pfn++;
			}
			ph_zone_unlock(z);

			if (c->hyp_idx == s->entries)	/* not in the patch */
				hyperlist_ready(s, c);
		}
		clear_entry(en);
	}
	if (c->hyp_idx > 0)
		hyperlist_ready(s, c);
	for (unsigned i = 0; i < s->entries; i++)
		clear_entry(&c->kvm_pt[i]);
	c->kvm_pt_idx = 0;
	atomic_store_explicit(&c->state, S_CAPTURE, memory_order_release);
}

static void sv_stats(const struct ph_engine *e, struct ph_engine_stats *st)
{
	const struct seed *s = e->priv;

	if (!e->active && !s->e)
		return;
	for (unsigned i = 0; i < s->nr_cpus; i++) {
		st->captured += atomic_load_explicit((_Atomic uint64_t *)&s->cpu[i].captured,
						     memory_order_relaxed);
		st->dropped += atomic_load_explicit((_Atomic uint64_t *)&s->cpu[i].dropped,
						    memory_order_relaxed);
	}
}

static int sv_init(struct ph_engine *e)
{
	struct seed *s = e->priv;
	unsigned nr = e->env.nr_cpus;

	if (e->p.entries == 0 || e->p.entries > PH_ENGINE_MAX_ENTRIES || e->p.capacity == 0)
		return -PH_EINVAL;
	s->e = e;
	s->entries = (unsigned)e->p.entries;
	s->capacity = (unsigned)e->p.capacity;
	s->nr_cpus = nr;

	char *mem = (char *)s + ALIGN64(sizeof(struct seed) + nr * sizeof(struct seed_cpu));

	/* cpu[] is inline; the arrays follow, 64-byte aligned */
	for (unsigned i = 0; i < nr; i++) {
		struct seed_cpu *c = &s->cpu[i];

		atomic_init(&c->state, S_CAPTURE);
		c->s = s;
		c->kvm_pt = (struct seed_entry *)mem;
		mem += ALIGN64((size_t)s->entries * sizeof(struct seed_entry));
		c->hyp = (struct ph_range *)mem;
		mem += ALIGN64((size_t)s->entries * sizeof(struct ph_range));
		for (unsigned j = 0; j < s->entries; j++)
			clear_entry(&c->kvm_pt[j]);
		ph_engine_work_init(e, &c->work, sv_work, c, i);
	}
	e->extra_stats = sv_stats;
	e->hooks.block_freed = sv_block_freed;
	e->hooks.free_done = sv_free_done;
	e->hooks.ctx = s;
	return 0;
}

const struct ph_engine_ops ph_engine_seed_v8_ops = {
	.priv_bytes = sv_priv_bytes,
	.init = sv_init,
};
