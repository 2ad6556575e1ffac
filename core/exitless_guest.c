/* SPDX-License-Identifier: MIT */
/*
 * The exitless mode's guest side over a buddy zone (core/exitless_guest.h).
 * Why the allocation hook only looks at blocks of order >= 9: a frame is
 * FREE or RECLAIMED only while it lies wholly inside a free block of order
 * >= 9 (published when such a block entered the lists, taken back by the
 * first allocation that splits or takes it). A free block below order 9
 * sits in a frame some other part of which is allocated, per-CPU or
 * isolated, so that frame is USED already: no check needed.
 */
#include "exitless_guest.h"

static void xl_block_freed(void *ctx, unsigned cpu, uint64_t pfn, unsigned order)
{
	struct ph_xl_guest *g = ctx;

	(void)cpu;	/* order >= PH_XL_FRAME_ORDER: the hooks' free_min_order */
	unsigned n = ph_xl_guest_mark_free(g->map, pfn, order);
	if (n)	/* zone lock held: a load and a store */
		atomic_store_explicit(&g->published,
				      atomic_load_explicit(&g->published, memory_order_relaxed) + n,
				      memory_order_relaxed);
}

static int xl_block_alloc(void *ctx, uint64_t pfn, unsigned order)
{
	struct ph_xl_guest *g = ctx;

	return ph_xl_guest_take(g->map, pfn, order, g->wait_ns);
}

/* Zone lock held. */
static unsigned publish_locked(struct ph_xl_guest *g)
{
	unsigned n = 0;

	for (unsigned o = PH_XL_FRAME_ORDER; o < PH_MAX_ORDER; o++)
		for (uint64_t pfn = __ph_free_list_first(g->zone, o); pfn != PH_NO_PFN;
		     pfn = __ph_free_list_next(g->zone, o, pfn))
			n += ph_xl_guest_mark_free(g->map, pfn, o);
	atomic_store_explicit(&g->published,
			      atomic_load_explicit(&g->published, memory_order_relaxed) + n,
			      memory_order_relaxed);
	atomic_fetch_add_explicit(&g->walks, 1, memory_order_relaxed);
	return n;
}

unsigned ph_xl_guest_publish(struct ph_xl_guest *g)
{
	if (!g->started)
		return 0;
	ph_zone_lock(g->zone);
	unsigned n = publish_locked(g);
	ph_zone_unlock(g->zone);
	return n;
}

int ph_xl_guest_start(struct ph_xl_guest *g, struct ph_zone *zone, struct ph_xl_map *map,
		      uint64_t wait_ns)
{
	if (!g || !zone || !map || g->started)
		return -PH_EINVAL;
	g->map = map;
	g->zone = zone;
	g->wait_ns = wait_ns ? wait_ns : PH_XL_WAIT_NS;
	atomic_init(&g->published, 0);
	atomic_init(&g->walks, 0);
	g->hooks = (struct ph_report_hooks){
		.block_freed = xl_block_freed,
		.ctx = g,
		.free_min_order = PH_XL_FRAME_ORDER,
		.block_alloc = xl_block_alloc,
		.alloc_min_order = PH_XL_FRAME_ORDER,
	};
	/* The allocation hook first: from the first FREE entry on, every
	 * allocation that could take its frame must claim it. */
	int err = ph_zone_register_report_hooks(zone, &g->hooks);
	if (err)
		return err;
	g->started = true;
	ph_xl_guest_publish(g);
	return 0;
}

void ph_xl_guest_stop(struct ph_xl_guest *g)
{
	if (!g->started)
		return;
	ph_zone_unregister_report_hooks(g->zone);
	g->started = false;
}

static uint64_t rd(const _Atomic uint64_t *c)
{
	return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

void ph_xl_guest_get_stats(const struct ph_xl_guest *g, struct ph_xl_guest_stats *st)
{
	st->published = rd(&g->published);
	st->taken_free = rd(&g->map->taken_free);
	st->taken_reclaimed = rd(&g->map->taken_reclaimed);
	st->waits = rd(&g->map->waits);
	st->wait_timeouts = rd(&g->map->wait_timeouts);
	st->removed_blocks = ph_zone_refused_blocks(g->zone);
	st->removed_pages = ph_zone_refused_pages(g->zone);
	st->walks = rd(&g->walks);
}
