/* SPDX-License-Identifier: MIT */
/*
 * Physical memory: one core/buddy zone over all usable RAM of the start
 * info's memory map, minus the first MiB (BIOS data, MP table, the AP
 * trampoline), the kernel image (which holds the page tables and stacks)
 * and the zone's own memmap. RAM is identity mapped, so a pfn's page is
 * at virtual address pfn << 12; the allocator API below speaks pointers.
 */
#ifndef GUEST_MEM_H
#define GUEST_MEM_H

#include <stdint.h>

#include "../core/buddy.h"

extern struct ph_zone zone;
extern uint64_t mem_total_pages;	/* usable RAM in the map */

/* Map RAM above 4 GiB, build the zone; nr_cpus per-CPU lists. */
void mem_init(unsigned nr_cpus);

/* page_alloc's slow path: the allocation failed (see mem.c). */
void *page_alloc_wait(unsigned order);

static inline void *page_alloc(unsigned order)
{
	uint64_t pfn = ph_alloc_pages(&zone, order);
	if (__builtin_expect(pfn == PH_NO_PFN, 0))
		return page_alloc_wait(order);
	return (void *)(uintptr_t)(pfn << PH_PAGE_SHIFT);
}

static inline void page_free(void *p, unsigned order)
{
	ph_free_pages(&zone, (uintptr_t)p >> PH_PAGE_SHIFT, order);
}

/* Zeroed, physically contiguous memory for drivers (at most 4 MiB);
 * NULL if there is none. */
void *mem_alloc_contig(size_t bytes);

/* The end-of-run line: how often allocation waited for memory in flight. */
void mem_summary(void);

/* Pages the allocator could hand out now (free lists + per-CPU lists). */
static inline uint64_t mem_free_pages(void)
{
	return ph_zone_free_pages(&zone) + ph_zone_pcp_pages(&zone);
}

#endif
