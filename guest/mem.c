/* SPDX-License-Identifier: MIT */
#include "bootinfo.h"
#include "console.h"
#include "exit.h"
#include "lib.h"
#include "mem.h"
#include "sched.h"
#include "x86.h"

struct ph_zone zone;
uint64_t mem_total_pages;

extern char _kernel_start[], _end[];
extern uint64_t boot_pdpt[512];

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define PD_POOL 60	/* page directories for RAM above 4 GiB: up to 64 GiB */

static uint64_t pd_pool[PD_POOL][512] __attribute__((aligned(4096)));

/*
 * entry.S maps the first 4 GiB; map RAM above it the same way (2 MiB,
 * user, writable), one page directory per GiB. Written at CPL3 into live
 * tables: new entries replace not-present ones, so no TLB flush is needed.
 */
static void map_high(uint64_t start, uint64_t end)
{
	static unsigned used;
	for (uint64_t gb = start / GiB; gb * GiB < end; gb++) {
		if (gb >= 512)
			panic("pagehint: RAM above 512 GiB is not mapped");
		if (!boot_pdpt[gb]) {
			if (used == PD_POOL)
				panic("pagehint: RAM above %u GiB is not mapped", PD_POOL + 4);
			uint64_t *pd = pd_pool[used++];
			for (unsigned i = 0; i < 512; i++)
				pd[i] = (gb * GiB + i * 2 * MiB) | 0xe7;
			boot_pdpt[gb] = (uint64_t)(uintptr_t)pd | 0x67;
		}
	}
}

/* Free [a, b) minus the holes, whole pages only. */
static void give(uint64_t a, uint64_t b, uint64_t hole_a, uint64_t hole_b)
{
	a = (a + 4095) & ~4095ull;
	b &= ~4095ull;
	if (hole_a < b && hole_b > a) {
		give(a, hole_a, hole_a, hole_a);
		give(hole_b, b, hole_b, hole_b);
		return;
	}
	if (b > a && ph_zone_free_range(&zone, a >> 12, (b - a) >> 12))
		panic("pagehint: cannot free RAM [%lx, %lx)", a, b);
}

void mem_init(unsigned nr_cpus)
{
	uint64_t lo = UINT64_MAX, hi = 0, kstart = (uintptr_t)_kernel_start, kend = (uintptr_t)_end;

	for (unsigned i = 0; i < boot.nmap; i++) {
		const struct hvm_memmap_entry *e = &boot.map[i];
		if (e->type != E820_RAM)
			continue;
		uint64_t a = e->addr < MiB ? MiB : e->addr, b = e->addr + e->size;
		if (b <= a)
			continue;
		if (b > 4 * GiB)
			map_high(a > 4 * GiB ? a : 4 * GiB, b);
		lo = a < lo ? a : lo;
		hi = b > hi ? b : hi;
		mem_total_pages += (b - a) >> 12;
	}
	if (hi <= lo)
		panic("pagehint: no usable RAM in the memory map");
	lo &= ~4095ull;
	hi &= ~4095ull;

	/* The memmap: the first fit above the kernel in a RAM range. */
	uint64_t npages = (hi - lo) >> 12;
	uint64_t need = (ph_zone_memmap_bytes(npages) + 4095) & ~4095ull, map = 0;
	for (unsigned i = 0; i < boot.nmap && !map; i++) {
		const struct hvm_memmap_entry *e = &boot.map[i];
		uint64_t a = e->addr > kend ? e->addr : kend;
		a = (a + 4095) & ~4095ull;
		if (e->type == E820_RAM && a >= MiB && a + need <= e->addr + e->size)
			map = a;
	}
	if (!map)
		panic("pagehint: no room for a %lu KiB memmap", need >> 10);

	struct ph_zone_config zc;
	ph_zone_default_config(npages, &zc);
	zc.nr_cpus = nr_cpus;
	if (ph_zone_init(&zone, (struct ph_page *)(uintptr_t)map, lo >> 12, npages, &zc))
		panic("pagehint: ph_zone_init failed");

	for (unsigned i = 0; i < boot.nmap; i++) {
		const struct hvm_memmap_entry *e = &boot.map[i];
		if (e->type != E820_RAM)
			continue;
		uint64_t a = e->addr < MiB ? MiB : e->addr, b = e->addr + e->size;
		/* the kernel, then the memmap */
		if (kstart < b && kend > a) {
			give(a, kstart, 0, 0);
			a = kend;
		}
		give(a, b, map, map + need);
	}
	kinfo("mem: %lu MiB usable, %lu MiB free, memmap %lu KiB at %lx\n",
	      mem_total_pages >> 8, mem_free_pages() >> 8, need >> 10, map);
}

/*
 * An allocation failed. If free memory is in flight to the host (blocks a
 * reporting engine isolated for a request), it returns to the free lists
 * when the device answers, or when the driver gives up on it (its report
 * timeout, 5 s): wait for that instead of failing an allocation the
 * memory would satisfy a moment later. A reporting engine keeps only a
 * small reserve out of its requests (core/engine_pagehint.c), so on a
 * busy or slow host a burst can meet most free memory in flight. Runs
 * due work meanwhile (the report may be queued on this CPU). Gives up
 * when nothing is isolated any more or after ALLOC_WAIT_NS.
 */
#define ALLOC_WAIT_NS 10000000000ull	/* longer than the driver's timeout */

static _Atomic uint64_t alloc_waits, alloc_wait_failures;

void *page_alloc_wait(unsigned order)
{
	uint64_t deadline = 0;

	for (;;) {
		if (!ph_zone_isolated_pages(&zone))
			break;
		uint64_t now = ph_now_ns();
		if (!deadline) {
			deadline = now + ALLOC_WAIT_NS;
			atomic_fetch_add(&alloc_waits, 1);
		} else if (now >= deadline) {
			break;
		}
		cond_resched();
		cpu_relax();
		uint64_t pfn = ph_alloc_pages(&zone, order);
		if (pfn != PH_NO_PFN)
			return (void *)(uintptr_t)(pfn << PH_PAGE_SHIFT);
	}
	if (deadline)
		atomic_fetch_add(&alloc_wait_failures, 1);
	return 0;
}

void mem_summary(void)
{
	/* reported_taken: Reported memory that allocations took back, each
	 * page of it a fault on the host (docs/design.md §5's refault cost) */
	kprintf("@mem alloc_waits=%lu alloc_wait_failures=%lu reported_taken_mib=%lu\n",
		atomic_load(&alloc_waits), atomic_load(&alloc_wait_failures),
		ph_zone_reported_allocated(&zone) >> (20 - PH_PAGE_SHIFT));
}

void *mem_alloc_contig(size_t bytes)
{
	unsigned order = 0;
	while ((PH_PAGE_SIZE << order) < bytes)
		order++;
	if (order >= PH_MAX_ORDER)
		return 0;
	void *p = page_alloc(order);
	if (p)
		memset(p, 0, PH_PAGE_SIZE << order);
	return p;
}
