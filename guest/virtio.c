/* SPDX-License-Identifier: MIT */
#include "../core/balloon_driver.h"
#include "../core/buddy_report.h"
#include "apic.h"
#include "cmdline.h"
#include "console.h"
#include "exit.h"
#include "irq.h"
#include "mem.h"
#include "mptable.h"
#include "sched.h"
#include "smp.h"
#include "virtio.h"
#include "x86.h"

/* ---- register access: ctx is the window's base address ---- */

static uint32_t r32(void *ctx, uint32_t off)
{
	return mmio_read32((uintptr_t)ctx + off);
}

static void w32(void *ctx, uint32_t off, uint32_t v)
{
	mmio_write32((uintptr_t)ctx + off, v);
}

static uint8_t r8(void *ctx, uint32_t off)
{
	return *(volatile uint8_t *)((uintptr_t)ctx + off);
}

static uint64_t v2p(void *ctx, const void *p)
{
	(void)ctx;
	return (uint64_t)(uintptr_t)p;	/* identity mapping */
}

static const struct vm_regs_ops regs = { r32, w32, r8, v2p };

/* ---- the balloon ---- */

static struct balloon_drv balloon;
static bool have_balloon;
static struct work balloon_work;

static bool b_page_alloc(void *ctx, uint64_t *pa)
{
	(void)ctx;
	void *p = page_alloc(0);
	*pa = (uintptr_t)p;
	return p != 0;
}

static void b_page_free(void *ctx, uint64_t pa)
{
	(void)ctx;
	page_free((void *)(uintptr_t)pa, 0);
}

static unsigned b_stats(void *ctx, struct ph_virtio_balloon_stat *st, unsigned max)
{
	(void)ctx;
	uint64_t v[3][2] = {
		{ PH_VIRTIO_BALLOON_S_MEMFREE, mem_free_pages() << PH_PAGE_SHIFT },
		{ PH_VIRTIO_BALLOON_S_MEMTOT, mem_total_pages << PH_PAGE_SHIFT },
		{ PH_VIRTIO_BALLOON_S_AVAIL, mem_free_pages() << PH_PAGE_SHIFT },
	};
	unsigned n = 0;
	for (; n < 3 && n < max; n++) {
		st[n].tag = (uint16_t)v[n][0];
		st[n].val = v[n][1];
	}
	return n;
}

/*
 * Waiting for the device (inside report()). The interrupt wakes CPU 0;
 * whichever CPU runs the bottom half bumps irq_gen and kicks the CPUs
 * that wait here, so every waiter sees the event, whoever took it.
 */
static atomic_uint irq_gen;
static _Atomic uint64_t waiters;	/* bit per CPU in b_wait() */

static bool balloon_event(void *arg)
{
	return atomic_load(&irq_gen) != (unsigned)(uintptr_t)arg ||
	       (atomic_load(&irq_pending) & IRQ_DEV_MASK) != 0;
}

static void b_wait(void *ctx, bool may_halt)
{
	(void)ctx;
	if (!may_halt) {
		cpu_relax();
		return;
	}
	unsigned cpu = ph_cpu_id(), gen = atomic_load(&irq_gen);
	atomic_fetch_or(&waiters, 1ull << cpu);
	/* 100 ms: a safety net should an interrupt ever be lost */
	wait_until(balloon_event, (void *)(uintptr_t)gen, ph_now_ns() + 100000000);
	atomic_fetch_and(&waiters, ~(1ull << cpu));
	/* ack the device now (balloon_drv_interrupt via the bottom half):
	 * report() may run inside a work item, where nothing else would */
	irq_dispatch();
}

static const struct balloon_xl_hooks *xl_hooks;

static void b_xl_attached(void *ctx)
{
	(void)ctx;
	xl_hooks->attached();
}

static void balloon_poll_work(struct work *w)
{
	if (balloon_drv_poll(&balloon))
		queue_delayed_work_on(0, w, 100000);
}

static void balloon_irq(void *arg)
{
	(void)arg;
	if (balloon_drv_interrupt(&balloon))
		queue_work_on(0, &balloon_work);
	atomic_fetch_add(&irq_gen, 1);
	uint64_t w = atomic_load(&waiters);
	for (unsigned c = 0; w; c++, w >>= 1)
		if (w & 1)
			kick_cpu(c);
}

static void balloon_probe(const struct virtio_mmio_arg *a, unsigned pin)
{
	static const struct balloon_drv_ops ops = {
		.page_alloc = b_page_alloc,
		.page_free = b_page_free,
		.get_stats = b_stats,
		.wait = b_wait,
		.xl_attached = b_xl_attached,
	};
	/* no EVENT_IDX: the reporting queue, which report() polls, then never
	 * interrupts (docs/virtio-driver.md, "Waiting") */
	struct balloon_drv_config bc = { .protocol = BDRV_PROTO_VIRTIO, .no_event_idx = true };
	bc.xl_map = xl_hooks->map();	/* NULL unless report.mode=exitless */
	bc.report_timeout_ns = cfg.balloon_timeout_ms * 1000000;
	/* the balloon's largest size: all of RAM, one le32 pfn per page, in
	 * at most the largest block (4 MiB: a 4 GiB balloon) */
	uint64_t most = (PH_PAGE_SIZE << (PH_MAX_ORDER - 1)) / 4;
	bc.max_pages = (uint32_t)(mem_total_pages < most ? mem_total_pages : most);
	bc.pfns = mem_alloc_contig((size_t)bc.max_pages * 4);
	bc.mem_len = balloon_drv_mem_bytes(&bc);
	bc.mem = mem_alloc_contig(bc.mem_len);
	if (!bc.pfns || !bc.mem)
		panic("pagehint: no memory for the balloon driver");

	work_init(&balloon_work, balloon_poll_work);
	irq_register(pin, balloon_irq, 0);
	ioapic_route(pin, VEC_IRQ0 + pin, cpu_apic_id[0]);

	int rc = balloon_drv_init(&balloon, &regs, (void *)(uintptr_t)a->base, &ops, &bc);
	if (rc) {
		kprintf("@warn virtio: balloon at 0x%lx: init failed (%d)\n", a->base, rc);
		ioapic_mask(pin);
		return;
	}
	have_balloon = true;
	queue_work_on(0, &balloon_work);
	kprintf("@balloon features=0x%lx reporting=%d stats=%d capacity=%u report_queue=%d\n",
		balloon.vm.features, balloon_drv_has_reporting(&balloon),
		balloon_drv_queue_index(&balloon, BDRV_Q_STATS) >= 0,
		balloon_drv_sink(&balloon)->capacity,
		balloon_drv_queue_index(&balloon, BDRV_Q_REPORT));
}

void virtio_init(const struct balloon_xl_hooks *xl)
{
	xl_hooks = xl;
	for (unsigned i = 0; i < cfg.nr_virtio; i++) {
		const struct virtio_mmio_arg *a = &cfg.virtio[i];
		struct vmdrv d;
		unsigned pin = mptable_irq_pin(a->irq);
		int rc = vmdrv_probe(&d, &regs, (void *)(uintptr_t)a->base);
		if (rc) {
			uint32_t ver = r32((void *)(uintptr_t)a->base, 4);
			kinfo("virtio: 0x%lx: no virtio-mmio v2 device (version %u)\n", a->base, ver);
			continue;
		}
		kinfo("virtio: 0x%lx irq %u (pin %u): device %u\n", a->base, a->irq, pin, d.device_id);
		if (d.device_id == PH_VIRTIO_ID_BALLOON && !have_balloon)
			balloon_probe(a, pin);
	}
}

void balloon_summary(void)
{
	if (!have_balloon)
		return;
	const struct balloon_drv_stats *st = &balloon.st;
	kprintf("@balloon target=%u actual=%u inflated=%lu deflated=%lu reports=%lu interrupts=%lu\n",
		balloon_drv_target(&balloon), balloon_drv_actual(&balloon), st->inflated,
		st->deflated, st->reports, st->interrupts);
}

int balloon_xl_wait(uint64_t timeout_ns, const char **why, unsigned *status)
{
	*status = 0xff;
	if (!have_balloon) {
		*why = "no-balloon";
		return 0;
	}
	enum bdrv_xl_state s = balloon_drv_xl_wait(&balloon, timeout_ns);
	*status = balloon.xl_status;
	switch (s) {
	case BDRV_XL_ATTACHED:
		*why = "accepted";
		return 1;
	case BDRV_XL_OFF:
		*why = "not-offered";
		return 0;
	case BDRV_XL_REFUSED:
		*why = "refused";
		return 0;
	default:
		*why = "no-answer";
		return 0;
	}
}

void balloon_xl_counters(unsigned long *posts, unsigned long *resets,
			 unsigned long *left_reclaiming)
{
	*posts = have_balloon ? balloon.st.xl_posts : 0;
	*resets = have_balloon ? balloon.st.xl_resets : 0;
	*left_reclaiming = have_balloon ? balloon.st.xl_left_reclaiming : 0;
}

struct ph_report_sink *balloon_sink(void)
{
	return have_balloon && balloon_drv_has_reporting(&balloon) ? balloon_drv_sink(&balloon) : 0;
}

/*
 * Report up to 8 of the largest free blocks, as an engine would: isolate
 * under the zone lock, report with no lock held, put back as Reported.
 */
void balloon_selftest(void)
{
	struct ph_report_sink *sink = balloon_sink();
	struct ph_range r[8];
	uint64_t pfn[8];
	unsigned n = 0, order = PH_MAX_ORDER - 1;

	if (!sink) {
		kprintf("@report none: no balloon with REPORTING\n");
		return;
	}
	ph_zone_lock(&zone);
	for (uint64_t p = __ph_free_list_first(&zone, order); p != PH_NO_PFN && n < 8;) {
		uint64_t next = __ph_free_list_next(&zone, order, p);
		if (!__ph_isolate_free_block(&zone, p, order)) {
			pfn[n] = p;
			r[n].addr = p << PH_PAGE_SHIFT;
			r[n].len = PH_PAGE_SIZE << order;
			n++;
		}
		p = next;
	}
	ph_zone_unlock(&zone);
	unsigned nrep = n < sink->capacity ? n : sink->capacity;

	uint64_t t0 = ph_now_ns();
	int rc = sink->report(sink, r, nrep);
	uint64_t us = (ph_now_ns() - t0) / 1000;

	ph_zone_lock(&zone);
	for (unsigned i = 0; i < n; i++)
		__ph_putback_block(&zone, pfn[i], order, PH_TAIL, rc == 0 && i < nrep);
	ph_zone_unlock(&zone);
	kprintf("@report cpu=%u ranges=%u mib=%lu rc=%d us=%lu reported_blocks=%lu\n", ph_cpu_id(),
		nrep, ((uint64_t)nrep << order) >> 8, rc, us, ph_zone_nr_reported(&zone, order));
}
