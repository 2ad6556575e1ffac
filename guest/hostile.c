/* SPDX-License-Identifier: MIT */
/*
 * test=hostile: the guest turns against its balloon device. Using the raw
 * ring (core/virtq and the virtio-mmio registers, not the balloon driver's
 * checked path) it makes one bad submission after another on the free page
 * reporting queue: ranges outside RAM, overlapping, wrapping past 2^64,
 * unaligned; chains that loop, that are longer than the queue, whose
 * descriptor is made available twice; bad indirect tables; and queue
 * registers changed mid-use (QueueReady=0, QueueNum, QueueSel). The device
 * is reset and brought up again before each case.
 *
 * A canary region (4 MiB of guest RAM taken from the allocator, filled with
 * a known pattern, plus the page at 0x1000 whose boot data was copied long
 * ago) is named by every descriptor of the cases a device must reject
 * whatever it is: loops, indices beyond the queue, unaligned ranges, a bad
 * indirect table length, and a range whose end wraps past 2^64 to cover
 * [0, 0x2000). Cases a device may legitimately act on (the spec only says
 * the driver must not: nested indirect, INDIRECT with NEXT, a chain longer
 * than the queue, an avail index moved too far, a descriptor made
 * available twice) name only a separate "sacrifice" block nobody checks.
 * The canary must be intact after every case; the device must still work
 * at the end.
 *
 * Console: "@hostile case=NAME used=N needs_reset=0|1 canary_bad=N" per
 * case, "@hostile alive=1 ..." and then "@done test=hostile" or "@fail ...".
 * The balloon driver, brought up by virtio_init(), is left alone: its
 * interrupt pin is masked first, and the test runs on CPU 0 without a
 * scheduling point, so its work never runs meanwhile. Needs engine=off
 * (the default): a reporting engine would use the queue too.
 */
#include "../core/virtio_mmio_drv.h"
#include "../core/virtq.h"
#include "apic.h"
#include "cmdline.h"
#include "console.h"
#include "exit.h"
#include "mem.h"
#include "mptable.h"
#include "sched.h"
#include "selftest.h"
#include "x86.h"

#define NUM		16		/* ring size (QEMU offers 128, ours 256) */
#define MiB		(1ull << 20)
#define CANARY_ORDER	10		/* 4 MiB */
#define SAC_ORDER	9		/* 2 MiB */
#define WAIT_NS		300000000ull	/* for the device to answer a case */
#define FAR_AWAY	(1ull << 40)	/* 1 TiB: no guest here has RAM there */
#define LOW_CANARY	0x1000ull	/* the start info's page: copied at boot */

static uint32_t r32(void *ctx, uint32_t off) { return mmio_read32((uintptr_t)ctx + off); }
static void w32(void *ctx, uint32_t off, uint32_t v) { mmio_write32((uintptr_t)ctx + off, v); }
static uint8_t r8(void *ctx, uint32_t off) { return *(volatile uint8_t *)((uintptr_t)ctx + off); }
static uint64_t v2p(void *ctx, const void *p) { (void)ctx; return (uint64_t)(uintptr_t)p; }
static const struct vm_regs_ops regs = { r32, w32, r8, v2p };

static struct vmdrv dev;
static struct virtq vq;
static unsigned rq;			/* the reporting queue's index */
static uint8_t ring_mem[8192] __attribute__((aligned(4096)));
static struct virtq_slot slots[NUM];
static struct ph_vring_desc itable[2 * NUM] __attribute__((aligned(16)));
static uint64_t canary, sac;		/* guest-physical = virtual */

/* ---- the canary ------------------------------------------------------------ */

static uint64_t pattern(uint64_t addr) { return 0xc3a5c85c97cb3127ull ^ (addr * 0x9e3779b97f4a7c15ull); }

static void fill(uint64_t base, uint64_t len)
{
	uint64_t *p = (uint64_t *)(uintptr_t)base;
	for (uint64_t off = 0; off < len; off += 8)
		p[off / 8] = pattern(base + off);
}

static uint64_t bad_words(uint64_t base, uint64_t len)
{
	const volatile uint64_t *p = (const uint64_t *)(uintptr_t)base;
	uint64_t bad = 0;
	for (uint64_t off = 0; off < len; off += 8)
		bad += p[off / 8] != pattern(base + off);
	return bad;
}

static void canary_fill(void)
{
	fill(canary, PH_PAGE_SIZE << CANARY_ORDER);
	fill(LOW_CANARY, PH_PAGE_SIZE);
}

static uint64_t canary_bad(void)
{
	return bad_words(canary, PH_PAGE_SIZE << CANARY_ORDER) + bad_words(LOW_CANARY, PH_PAGE_SIZE);
}

/* ---- the raw ring ------------------------------------------------------------ */

/* Reset, negotiate (STATS_VQ too, so the reporting queue is 3 on QEMU and
 * on ours), set up only the reporting queue, DRIVER_OK. */
static bool bring_up(void)
{
	uint64_t want = 1ull << PH_VIRTIO_F_VERSION_1 | 1ull << PH_VIRTIO_BALLOON_F_STATS_VQ |
			1ull << PH_VIRTIO_BALLOON_F_REPORTING | 1ull << PH_VIRTIO_RING_F_INDIRECT_DESC;
	uint64_t f;

	if (vmdrv_negotiate(&dev, want, &f))
		return false;
	if (!(f & (1ull << PH_VIRTIO_BALLOON_F_REPORTING)))
		return false;
	rq = 2 + !!(f & (1ull << PH_VIRTIO_BALLOON_F_STATS_VQ));
	int max = vmdrv_queue_max(&dev, rq);
	unsigned num = NUM;
	if (max <= 0)
		return false;
	while (num > (unsigned)max)
		num /= 2;
	if (virtq_init_contig(&vq, num, ring_mem, slots, false) || vmdrv_queue_enable(&dev, rq, &vq))
		return false;
	vmdrv_driver_ok(&dev);
	return true;
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	vq.desc[i] = (struct ph_vring_desc){ addr, len, flags, next };
}

/* Make head available behind virtq's back (its bookkeeping is not used
 * again before the next bring_up). */
static void publish(uint16_t head)
{
	vq.avail->ring[vq.avail_idx & (vq.num - 1)] = head;
	vq.avail_idx++;
	__atomic_store_n(&vq.avail->idx, vq.avail_idx, __ATOMIC_RELEASE);
}

static void kick(void) { vmdrv_notify(&dev, rq); }

/* One chain of device-writable ranges through virtq_add, kicked. */
static void report(const uint64_t *addr, const uint32_t *len, unsigned n)
{
	struct virtq_buf b[4];
	static char token;
	for (unsigned i = 0; i < n; i++)
		b[i] = (struct virtq_buf){ addr[i], len[i], true };
	if (virtq_add(&vq, b, n, &token) == 0)
		kick();
}

static void report1(uint64_t addr, uint32_t len) { report(&addr, &len, 1); }

/* An indirect table of n writable 4 KiB buffers from base. */
static void table(unsigned n, uint64_t base, uint16_t last_flags)
{
	for (unsigned i = 0; i < n; i++)
		itable[i] = (struct ph_vring_desc){
			base + PH_PAGE_SIZE * i, PH_PAGE_SIZE,
			PH_VRING_DESC_F_WRITE | (i + 1 < n ? PH_VRING_DESC_F_NEXT : 0) |
				(i + 1 == n ? last_flags : 0),
			(uint16_t)(i + 1) };
}

/* ---- the cases ------------------------------------------------------------- */

static void c_out_of_ram(void) { report1(FAR_AWAY, PH_PAGE_SIZE); }
static void c_past_ram_end(void)
{
	report1(ph_zone_end_pfn(&zone) << PH_PAGE_SHIFT, 2 * PH_PAGE_SIZE);
}
/* the last page below 2^64 and then, wrapped, [0, 0x2000): the low canary */
static void c_overflowing(void) { report1(~0ull & ~(PH_PAGE_SIZE - 1), 3 * PH_PAGE_SIZE); }
static void c_unaligned_addr(void) { report1(canary + 512, PH_PAGE_SIZE); }
static void c_unaligned_len(void) { report1(canary + PH_PAGE_SIZE, 100); }
static void c_overlapping(void)
{
	uint64_t a[2] = { sac, sac + PH_PAGE_SIZE };
	uint32_t l[2] = { 2 * PH_PAGE_SIZE, 2 * PH_PAGE_SIZE };
	report(a, l, 2);
}
static void c_valid_and_bad(void)
{
	uint64_t a[2] = { sac, FAR_AWAY };
	uint32_t l[2] = { PH_PAGE_SIZE, PH_PAGE_SIZE };
	report(a, l, 2);
}
static void c_looping(void)
{
	desc(0, canary, PH_PAGE_SIZE, PH_VRING_DESC_F_WRITE | PH_VRING_DESC_F_NEXT, 1);
	desc(1, canary + PH_PAGE_SIZE, PH_PAGE_SIZE, PH_VRING_DESC_F_WRITE | PH_VRING_DESC_F_NEXT, 0);
	publish(0);
	kick();
}
static void c_self_loop(void)
{
	desc(0, canary, PH_PAGE_SIZE, PH_VRING_DESC_F_WRITE | PH_VRING_DESC_F_NEXT, 0);
	publish(0);
	kick();
}
static void c_longer_than_queue(void)
{
	table(vq.num + 1, sac, 0);
	desc(0, (uintptr_t)itable, 16 * (vq.num + 1), PH_VRING_DESC_F_INDIRECT, 0);
	publish(0);
	kick();
}
static void c_reused_in_flight(void)
{
	desc(0, sac, PH_PAGE_SIZE, PH_VRING_DESC_F_WRITE, 0);
	publish(0);
	publish(0);	/* the same descriptor again before it came back */
	kick();
}
static void c_indirect_outside(void)
{
	desc(0, FAR_AWAY, 32, PH_VRING_DESC_F_INDIRECT, 0);
	publish(0);
	kick();
}
static void c_indirect_len(void)
{
	table(2, canary, 0);
	desc(0, (uintptr_t)itable, 24, PH_VRING_DESC_F_INDIRECT, 0);
	publish(0);
	kick();
}
static void c_indirect_nested(void)
{
	table(2, sac, PH_VRING_DESC_F_INDIRECT);
	desc(0, (uintptr_t)itable, 32, PH_VRING_DESC_F_INDIRECT, 0);
	publish(0);
	kick();
}
static void c_indirect_loop(void)
{
	table(2, canary, 0);
	itable[1].flags |= PH_VRING_DESC_F_NEXT;
	itable[1].next = 0;
	desc(0, (uintptr_t)itable, 32, PH_VRING_DESC_F_INDIRECT, 0);
	publish(0);
	kick();
}
static void c_indirect_with_next(void)
{
	table(2, sac, 0);
	desc(0, (uintptr_t)itable, 32, PH_VRING_DESC_F_INDIRECT | PH_VRING_DESC_F_NEXT, 1);
	desc(1, sac + 8 * PH_PAGE_SIZE, PH_PAGE_SIZE, PH_VRING_DESC_F_WRITE, 0);
	publish(0);
	kick();
}
static void c_head_beyond(void)
{
	desc(0, canary, PH_PAGE_SIZE, PH_VRING_DESC_F_WRITE, 0);
	publish((uint16_t)(vq.num + 3));
	kick();
}
static void c_next_beyond(void)
{
	desc(0, canary, PH_PAGE_SIZE, PH_VRING_DESC_F_WRITE | PH_VRING_DESC_F_NEXT, (uint16_t)(vq.num + 3));
	publish(0);
	kick();
}
static void c_avail_jump(void)
{
	desc(0, sac, PH_PAGE_SIZE, PH_VRING_DESC_F_WRITE, 0);
	vq.avail->ring[0] = 0;
	__atomic_store_n(&vq.avail->idx, (uint16_t)(vq.num + 40), __ATOMIC_RELEASE);
	kick();
}
static void c_ready_off_mid_use(void)
{
	desc(0, sac, PH_PAGE_SIZE, PH_VRING_DESC_F_WRITE, 0);
	publish(0);
	dev.ops->write32(dev.ctx, PH_VIRTIO_MMIO_QUEUE_SEL, rq);
	dev.ops->write32(dev.ctx, PH_VIRTIO_MMIO_QUEUE_READY, 0);
	kick();
}
static void c_num_while_ready(void)
{
	dev.ops->write32(dev.ctx, PH_VIRTIO_MMIO_QUEUE_SEL, rq);
	dev.ops->write32(dev.ctx, PH_VIRTIO_MMIO_QUEUE_NUM, vq.num / 2);
	report1(sac, PH_PAGE_SIZE);
}
static void c_queue_sel_games(void)
{
	dev.ops->write32(dev.ctx, PH_VIRTIO_MMIO_QUEUE_SEL, 7);
	dev.ops->write32(dev.ctx, PH_VIRTIO_MMIO_QUEUE_NUM, 16);
	dev.ops->write32(dev.ctx, PH_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)canary);
	dev.ops->write32(dev.ctx, PH_VIRTIO_MMIO_QUEUE_READY, 1);
	dev.ops->write32(dev.ctx, PH_VIRTIO_MMIO_QUEUE_SEL, 0xffffffffu);
	dev.ops->write32(dev.ctx, PH_VIRTIO_MMIO_QUEUE_READY, 1);
	vmdrv_notify(&dev, 7);
	vmdrv_notify(&dev, 0xffff);
	dev.ops->write32(dev.ctx, PH_VIRTIO_MMIO_QUEUE_SEL, rq);
	report1(sac, PH_PAGE_SIZE);
}

struct hcase {
	const char *name;
	void (*run)(void);
};

static const struct hcase cases[] = {
	{ "out-of-ram", c_out_of_ram },
	{ "past-ram-end", c_past_ram_end },
	{ "overflowing", c_overflowing },
	{ "unaligned-addr", c_unaligned_addr },
	{ "unaligned-len", c_unaligned_len },
	{ "overlapping", c_overlapping },
	{ "valid-and-out-of-ram", c_valid_and_bad },
	{ "looping-chain", c_looping },
	{ "self-loop", c_self_loop },
	{ "longer-than-queue", c_longer_than_queue },
	{ "reused-in-flight", c_reused_in_flight },
	{ "indirect-outside-ram", c_indirect_outside },
	{ "indirect-bad-len", c_indirect_len },
	{ "indirect-nested", c_indirect_nested },
	{ "indirect-loop", c_indirect_loop },
	{ "indirect-with-next", c_indirect_with_next },
	{ "head-beyond-queue", c_head_beyond },
	{ "next-beyond-queue", c_next_beyond },
	{ "avail-idx-jump", c_avail_jump },
	{ "queue-ready-0-mid-use", c_ready_off_mid_use },
	{ "queue-num-while-ready", c_num_while_ready },
	{ "queue-sel-games", c_queue_sel_games },
};

/* Until the device used something or asked for a reset, or WAIT_NS. */
static void await(uint16_t *used, bool *needs_reset)
{
	uint64_t t0 = ph_now_ns();
	do {
		*used = __atomic_load_n(&vq.used->idx, __ATOMIC_ACQUIRE);
		*needs_reset = vmdrv_status(&dev) & PH_VIRTIO_CONFIG_S_NEEDS_RESET;
		if (*used || *needs_reset)
			return;
		cpu_relax();
	} while (ph_now_ns() - t0 < WAIT_NS);
}

static bool balloon_window(uint64_t *base, unsigned *pin)
{
	for (unsigned i = 0; i < cfg.nr_virtio; i++) {
		struct vmdrv d;
		if (vmdrv_probe(&d, &regs, (void *)(uintptr_t)cfg.virtio[i].base) == 0 &&
		    d.device_id == PH_VIRTIO_ID_BALLOON) {
			*base = cfg.virtio[i].base;
			*pin = mptable_irq_pin(cfg.virtio[i].irq);
			return true;
		}
	}
	return false;
}

void hostile_run(void)
{
	uint64_t base;
	unsigned pin, ncases = sizeof(cases) / sizeof(cases[0]);

	if (cfg.engine.kind != PH_ENGINE_OFF)
		panic_status(EXIT_CMDLINE, "@fail test=hostile needs engine=off (it takes the device)");
	if (!balloon_window(&base, &pin))
		panic_status(EXIT_FAIL, "@fail test=hostile: no virtio-mmio balloon");
	void *c = page_alloc(CANARY_ORDER), *s = page_alloc(SAC_ORDER);
	if (!c || !s)
		panic_status(EXIT_FAIL, "@fail test=hostile: no memory for the canary");
	canary = (uintptr_t)c;
	sac = (uintptr_t)s;
	canary_fill();

	/* Take the device from the driver: no interrupt reaches it, and its
	 * poll work (CPU 0) has finished once we have slept here. */
	ioapic_mask(pin);
	msleep(20);
	vmdrv_probe(&dev, &regs, (void *)(uintptr_t)base);
	kprintf("@hostile start cases=%u canary=0x%lx mib=%lu sacrifice=0x%lx\n", ncases, canary,
		(PH_PAGE_SIZE << CANARY_ORDER) >> 20, sac);

	uint64_t lost = 0;
	for (unsigned i = 0; i < ncases; i++) {
		uint16_t used = 0;
		bool nr = false;
		if (!bring_up())
			panic_status(EXIT_FAIL, "@fail test=hostile case=%s: device did not come up",
				     cases[i].name);
		cases[i].run();
		await(&used, &nr);
		uint64_t bad = canary_bad();
		kprintf("@hostile case=%s used=%u needs_reset=%d canary_bad=%lu\n", cases[i].name,
			used, nr, bad);
		if (bad)
			canary_fill();	/* so the next case is judged on its own */
		lost += bad;
		if (vmdrv_reset(&dev))
			panic_status(EXIT_FAIL, "@fail test=hostile case=%s: reset did not complete",
				     cases[i].name);
	}

	/* The device survived: a valid report still comes back. */
	uint16_t used = 0;
	bool nr = false;
	if (!bring_up())
		panic_status(EXIT_FAIL, "@fail test=hostile: device did not come up at the end");
	report1(sac, 2 * PH_PAGE_SIZE);
	await(&used, &nr);
	kprintf("@hostile alive=%d needs_reset=%d\n", used == 1, nr);
	vmdrv_reset(&dev);
	lost += canary_bad();
	if (lost)
		panic_status(EXIT_FAIL, "@fail test=hostile canary words lost=%lu", lost);
	if (used != 1 || nr)
		panic_status(EXIT_FAIL, "@fail test=hostile: the device does not work after the cases");
	kprintf("@done test=hostile cases=%u canary=intact\n", ncases);
}
