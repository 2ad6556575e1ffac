/* SPDX-License-Identifier: MIT */
/*
 * A fake virtio-mmio (version 2) balloon device for the driver tests: a
 * register file and a tiny device loop over a static buffer that plays
 * guest RAM (guest-physical address = offset into fake_ram). It is
 * deliberately small and strict: every descriptor the driver gives must lie
 * inside fake_ram, or the test fails.
 *
 * Queue roles follow Linux numbering (inflate 0, deflate 1, stats if
 * negotiated, reporting if negotiated), or QEMU 7.2's (stats always 2)
 * with fd->qemu_numbering.
 */
#ifndef TEST_VIRTIO_MMIO_DRV_FAKEDEV_H
#define TEST_VIRTIO_MMIO_DRV_FAKEDEV_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <string.h>
#include <cmocka.h>

#include "virtio_mmio_drv.h"

#define FAKE_RAM_SIZE (8u << 20)
#define FAKE_NQ 8
#define FAKE_MAX_CHAIN 256
#define FAKE_MAX_RECORD 64

enum fake_role { FR_INFLATE, FR_DEFLATE, FR_STATS, FR_REPORT, FR_XL, FR_NONE };

struct fake_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

struct fake_chain {
	uint16_t head;
	unsigned n;
	struct fake_desc d[FAKE_MAX_CHAIN];
};

struct fake_q {
	uint32_t num, ready;
	uint64_t desc, avail, used;
	uint16_t last_avail, used_idx;
	unsigned notifies;
	bool signalled;           /* qemu_first_irq: interrupted once already */
};

struct fakedev {
	/* identity and behaviour, set by the test before the driver runs */
	uint32_t magic, version, device_id, vendor;
	uint64_t offered;
	uint32_t queue_max;
	bool refuse_features_ok;  /* clear FEATURES_OK when the driver sets it */
	bool qemu_numbering;      /* stats queue at 2 whenever offered */
	bool deferred;            /* process queues only in fake_run() */
	bool hold_reports;        /* keep report chains (no used entry) */
	bool reset_stuck;         /* Status never reads back 0 */
	unsigned gen_flips;       /* bump ConfigGeneration on this many config reads */
	uint64_t ram_base;        /* guest-physical address of fake_ram[0] */
	bool threaded;            /* registers and fake_run() under fake_mu */
	bool norecord;            /* count report chains instead of keeping them */
	atomic_uint *page_seen;   /* norecord: per 4 KiB page of fake_ram, reports seen */
	uint8_t xl_answer;        /* exitless map queue: the status written back */
	bool xl_no_status;        /* ... or used length 0, nothing written */
	bool xl_hold;             /* ... or keep the chain (fake_xl_release) */
	bool qemu_first_irq;      /* as QEMU 7.2 does with EVENT_IDX: interrupt
				     for a queue's first used entry whatever
				     used_event says */

	/* registers */
	uint64_t drv_features;
	uint32_t dev_sel, drv_sel, queue_sel;
	uint32_t status, isr, generation;
	struct ph_virtio_balloon_config cfg;
	struct fake_q q[FAKE_NQ];

	/* what happened */
	unsigned resets, irqs, acks, status_writes;
	unsigned accesses;        /* register reads and writes: VM exits */
	unsigned status_reads, isr_reads;
	uint32_t status_log[32];
	struct fake_chain reports[FAKE_MAX_RECORD];
	unsigned nreports;
	uint16_t held[FAKE_MAX_RECORD];
	unsigned nheld;
	uint32_t balloon[4096]; /* pfns the device holds */
	unsigned nballoon;
	unsigned inflate_reqs, deflate_reqs;
	struct ph_virtio_balloon_stat stats[PH_VIRTIO_BALLOON_S_NR];
	unsigned nstats, stats_updates;
	int stats_head;           /* held stats buffer, -1: none */
	atomic_uint report_chains, report_descs;
	unsigned xl_posts;        /* map descriptors seen */
	struct ph_exitless_map_desc xl_desc; /* the last one */
	int xl_head;              /* held map chain, -1: none */
	uint64_t xl_status_gpa;
};

static _Alignas(4096) uint8_t fake_ram[FAKE_RAM_SIZE];
static struct fakedev fd;
static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;

static inline void fake_init(void)
{
	memset(&fd, 0, sizeof(fd));
	memset(fake_ram, 0x5a, sizeof(fake_ram));
	fd.magic = PH_VIRTIO_MMIO_MAGIC;
	fd.version = 2;
	fd.device_id = PH_VIRTIO_ID_BALLOON;
	fd.vendor = 0x554d4551;
	fd.offered = 1ull << PH_VIRTIO_F_VERSION_1 | 1ull << PH_VIRTIO_RING_F_EVENT_IDX |
		     1ull << PH_VIRTIO_BALLOON_F_MUST_TELL_HOST |
		     1ull << PH_VIRTIO_BALLOON_F_STATS_VQ |
		     1ull << PH_VIRTIO_BALLOON_F_DEFLATE_ON_OOM |
		     1ull << PH_VIRTIO_BALLOON_F_REPORTING;
	fd.queue_max = 256;
	fd.stats_head = -1;
	fd.xl_head = -1;
}

static inline bool fake_has(unsigned bit)
{
	return (fd.drv_features >> bit) & 1;
}

static inline enum fake_role fake_role(unsigned qi)
{
	if (qi == 0)
		return FR_INFLATE;
	if (qi == 1)
		return FR_DEFLATE;
	unsigned idx = 2;
	bool stats = fake_has(PH_VIRTIO_BALLOON_F_STATS_VQ) ||
		     (fd.qemu_numbering && (fd.offered >> PH_VIRTIO_BALLOON_F_STATS_VQ & 1));
	if (stats && qi == idx++)
		return FR_STATS;
	if (fake_has(PH_VIRTIO_BALLOON_F_REPORTING) && qi == idx++)
		return FR_REPORT;
	if (fake_has(PH_VIRTIO_BALLOON_F_PH_EXITLESS) && qi == idx)
		return FR_XL;
	return FR_NONE;
}

static inline void *fake_gpa(uint64_t gpa, uint64_t len)
{
	assert_true(gpa >= fd.ram_base);
	gpa -= fd.ram_base;
	assert_true(gpa <= FAKE_RAM_SIZE && len <= FAKE_RAM_SIZE - gpa);
	return fake_ram + gpa;
}

static inline uint64_t fake_phys(const void *p)
{
	const uint8_t *b = p;
	assert_true(b >= fake_ram && b < fake_ram + FAKE_RAM_SIZE);
	return fd.ram_base + (uint64_t)(b - fake_ram);
}

static inline void fake_reset(void)
{
	fd.resets++;
	fd.drv_features = 0;
	fd.status = 0;
	fd.isr = 0;
	fd.nheld = 0;
	fd.stats_head = -1;
	fd.xl_head = -1;
	memset(fd.q, 0, sizeof(fd.q));
}

static inline void fake_interrupt(uint32_t bit)
{
	fd.isr |= bit;
	fd.irqs++;
}

static inline void fake_push_used(unsigned qi, uint16_t head, uint32_t len)
{
	struct fake_q *q = &fd.q[qi];
	struct ph_vring_used *u = fake_gpa(q->used, PH_VRING_USED_BYTES(q->num));
	struct ph_vring_avail *a = fake_gpa(q->avail, PH_VRING_AVAIL_BYTES(q->num));
	u->ring[q->used_idx % q->num] = (struct ph_vring_used_elem){ head, len };
	uint16_t old = q->used_idx++;
	__atomic_store_n(&u->idx, q->used_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	bool irq;
	/* used_event and flags are the driver's to change at any time (it
	 * stores them atomically while it waits): read each once, atomically. */
	if (fake_has(PH_VIRTIO_RING_F_EVENT_IDX)) {
		uint16_t ev = __atomic_load_n(&a->ring[q->num], __ATOMIC_RELAXED);
		irq = (uint16_t)(q->used_idx - ev - 1) < (uint16_t)(q->used_idx - old);
		if (fd.qemu_first_irq && !q->signalled)
			irq = true;
		q->signalled = true;
	} else {
		irq = !(__atomic_load_n(&a->flags, __ATOMIC_RELAXED) & PH_VRING_AVAIL_F_NO_INTERRUPT);
	}
	if (irq)
		fake_interrupt(PH_VIRTIO_MMIO_INT_VRING);
}

static inline void fake_walk(unsigned qi, uint16_t head, struct fake_chain *c)
{
	struct fake_q *q = &fd.q[qi];
	struct ph_vring_desc *desc = fake_gpa(q->desc, PH_VRING_DESC_BYTES(q->num));
	c->head = head;
	c->n = 0;
	uint16_t i = head;
	for (;;) {
		assert_true(i < q->num);
		assert_true(c->n < q->num && c->n < FAKE_MAX_CHAIN); /* no loops */
		struct ph_vring_desc *d = &desc[i];
		c->d[c->n++] = (struct fake_desc){ d->addr, d->len, d->flags };
		(void)fake_gpa(d->addr, d->len);
		if (!(d->flags & PH_VRING_DESC_F_NEXT))
			break;
		i = d->next;
	}
}

static inline void fake_balloon_add(uint32_t pfn)
{
	for (unsigned i = 0; i < fd.nballoon; i++)
		assert_int_not_equal(fd.balloon[i], pfn); /* inflated twice */
	assert_true(fd.nballoon < 4096);
	fd.balloon[fd.nballoon++] = pfn;
}

static inline void fake_balloon_del(uint32_t pfn)
{
	for (unsigned i = 0; i < fd.nballoon; i++) {
		if (fd.balloon[i] == pfn) {
			fd.balloon[i] = fd.balloon[--fd.nballoon];
			return;
		}
	}
	fail_msg("deflate of pfn %u not in the balloon", pfn);
}

/* Handle everything available on queue qi. */
static inline void fake_process(unsigned qi)
{
	struct fake_q *q = &fd.q[qi];
	if (!q->ready || !(fd.status & PH_VIRTIO_CONFIG_S_DRIVER_OK) ||
	    (fd.status & PH_VIRTIO_CONFIG_S_NEEDS_RESET))
		return;
	struct ph_vring_avail *a = fake_gpa(q->avail, PH_VRING_AVAIL_BYTES(q->num));
	uint16_t aidx = __atomic_load_n(&a->idx, __ATOMIC_ACQUIRE);
	if (fake_has(PH_VIRTIO_RING_F_EVENT_IDX))
		assert_int_equal(__atomic_load_n(&a->flags, __ATOMIC_RELAXED), 0); /* spec: 0 with EVENT_IDX */
	while (q->last_avail != aidx) {
		uint16_t head = a->ring[q->last_avail++ % q->num];
		static struct fake_chain c;
		fake_walk(qi, head, &c);
		switch (fake_role(qi)) {
		case FR_INFLATE:
		case FR_DEFLATE:
			for (unsigned k = 0; k < c.n; k++) {
				assert_false(c.d[k].flags & PH_VRING_DESC_F_WRITE);
				assert_int_equal(c.d[k].len % 4, 0);
				uint32_t *pfn = fake_gpa(c.d[k].addr, c.d[k].len);
				for (unsigned j = 0; j < c.d[k].len / 4; j++)
					fake_role(qi) == FR_INFLATE ? fake_balloon_add(pfn[j])
								    : fake_balloon_del(pfn[j]);
			}
			fake_role(qi) == FR_INFLATE ? fd.inflate_reqs++ : fd.deflate_reqs++;
			fake_push_used(qi, head, 0);
			break;
		case FR_STATS:
			assert_int_equal(c.n, 1);
			assert_int_equal(c.d[0].len % sizeof(struct ph_virtio_balloon_stat), 0);
			fd.nstats = c.d[0].len / sizeof(struct ph_virtio_balloon_stat);
			assert_true(fd.nstats <= PH_VIRTIO_BALLOON_S_NR);
			memcpy(fd.stats, fake_gpa(c.d[0].addr, c.d[0].len), c.d[0].len);
			fd.stats_updates++;
			fd.stats_head = head; /* held until the device wants new stats */
			break;
		case FR_REPORT:
			atomic_fetch_add(&fd.report_chains, 1);
			atomic_fetch_add(&fd.report_descs, c.n);
			if (fd.norecord) {
				for (unsigned k = 0; k < c.n; k++) {
					assert_true(c.d[k].flags & PH_VRING_DESC_F_WRITE);
					for (uint64_t a = c.d[k].addr; a < c.d[k].addr + c.d[k].len; a += 4096)
						atomic_fetch_add(&fd.page_seen[(a - fd.ram_base) / 4096], 1);
				}
				fake_push_used(qi, head, 0);
				break;
			}
			assert_true(fd.nreports < FAKE_MAX_RECORD);
			fd.reports[fd.nreports++] = c;
			if (fd.hold_reports)
				fd.held[fd.nheld++] = head;
			else
				fake_push_used(qi, head, 0);
			break;
		case FR_XL:
			/* docs/exitless.md §1: 32 readable bytes, 1 writable */
			assert_int_equal(c.n, 2);
			assert_int_equal(c.d[0].len, sizeof(struct ph_exitless_map_desc));
			assert_int_equal(c.d[0].flags, PH_VRING_DESC_F_NEXT);
			assert_int_equal(c.d[1].len, 1);
			assert_int_equal(c.d[1].flags, PH_VRING_DESC_F_WRITE);
			memcpy(&fd.xl_desc, fake_gpa(c.d[0].addr, c.d[0].len), sizeof(fd.xl_desc));
			fd.xl_posts++;
			fd.xl_status_gpa = c.d[1].addr;
			if (fd.xl_hold) {
				fd.xl_head = head;
			} else if (fd.xl_no_status) {
				fake_push_used(qi, head, 0);
			} else {
				*(uint8_t *)fake_gpa(c.d[1].addr, 1) = fd.xl_answer;
				fake_push_used(qi, head, 1);
			}
			break;
		case FR_NONE:
			fail_msg("buffer on queue %u with no role", qi);
		}
	}
	/* EVENT_IDX: kick me for anything after what I have seen (a real
	 * device that processes on every kick does the same). */
	struct ph_vring_used *u = fake_gpa(q->used, PH_VRING_USED_BYTES(q->num));
	__atomic_store_n((uint16_t *)&u->ring[q->num], q->last_avail, __ATOMIC_RELEASE);
}

static inline void fake_run(void)
{
	for (unsigned qi = 0; qi < FAKE_NQ; qi++)
		fake_process(qi);
}

/* Give back the held report chains (device finished discarding). */
static inline void fake_release_reports(void)
{
	for (unsigned qi = 0; qi < FAKE_NQ; qi++)
		if (fake_role(qi) == FR_REPORT)
			for (unsigned i = 0; i < fd.nheld; i++)
				fake_push_used(qi, fd.held[i], 0);
	fd.nheld = 0;
}

/* Answer the held exitless map chain with fd.xl_answer. */
static inline void fake_xl_release(void)
{
	for (unsigned qi = 0; qi < FAKE_NQ; qi++)
		if (fake_role(qi) == FR_XL && fd.xl_head >= 0) {
			*(uint8_t *)fake_gpa(fd.xl_status_gpa, 1) = fd.xl_answer;
			fake_push_used(qi, (uint16_t)fd.xl_head, 1);
			fd.xl_head = -1;
		}
}

/* The host wants fresh stats: return the held buffer. */
static inline void fake_request_stats(void)
{
	for (unsigned qi = 0; qi < FAKE_NQ; qi++)
		if (fake_role(qi) == FR_STATS && fd.stats_head >= 0) {
			fake_push_used(qi, (uint16_t)fd.stats_head, 0);
			fd.stats_head = -1;
		}
}

static inline void fake_set_target(uint32_t pages)
{
	fd.cfg.num_pages = pages;
	fd.generation++;
	if (fd.status & PH_VIRTIO_CONFIG_S_DRIVER_OK)
		fake_interrupt(PH_VIRTIO_MMIO_INT_CONFIG);
}

static inline void fake_needs_reset(void)
{
	fd.status |= PH_VIRTIO_CONFIG_S_NEEDS_RESET;
	fake_interrupt(PH_VIRTIO_MMIO_INT_CONFIG);
}

static inline unsigned fake_nqueues(void)
{
	unsigned n = 0;
	while (n < FAKE_NQ && fake_role(n) != FR_NONE)
		n++;
	return n;
}

/* ---- the register file ---- */

static inline uint32_t fake_read32_impl(void *ctx, uint32_t off)
{
	(void)ctx;
	fd.accesses++;
	if (off >= PH_VIRTIO_MMIO_CONFIG) {
		assert_int_equal(off % 4, 0);
		uint32_t coff = off - PH_VIRTIO_MMIO_CONFIG;
		assert_true(coff + 4 <= sizeof(fd.cfg));
		uint32_t v;
		memcpy(&v, (uint8_t *)&fd.cfg + coff, 4);
		if (fd.gen_flips) {
			fd.gen_flips--;
			fd.generation++;
		}
		return v;
	}
	struct fake_q *q = &fd.q[fd.queue_sel % FAKE_NQ];
	switch (off) {
	case PH_VIRTIO_MMIO_MAGIC_VALUE: return fd.magic;
	case PH_VIRTIO_MMIO_VERSION: return fd.version;
	case PH_VIRTIO_MMIO_DEVICE_ID: return fd.device_id;
	case PH_VIRTIO_MMIO_VENDOR_ID: return fd.vendor;
	case PH_VIRTIO_MMIO_DEVICE_FEATURES:
		return fd.dev_sel == 0 ? (uint32_t)fd.offered
		     : fd.dev_sel == 1 ? (uint32_t)(fd.offered >> 32) : 0;
	case PH_VIRTIO_MMIO_QUEUE_NUM_MAX:
		return fd.queue_sel < fake_nqueues() ? fd.queue_max : 0;
	case PH_VIRTIO_MMIO_QUEUE_READY: return q->ready;
	case PH_VIRTIO_MMIO_INTERRUPT_STATUS: fd.isr_reads++; return fd.isr;
	case PH_VIRTIO_MMIO_STATUS:
		fd.status_reads++;
		return fd.reset_stuck && fd.status_writes ? 0x80 | fd.status : fd.status;
	case PH_VIRTIO_MMIO_CONFIG_GENERATION: return fd.generation;
	}
	fail_msg("read of write-only or unknown register 0x%x", off);
	return 0;
}

static inline void fake_set_status(uint32_t val)
{
	if (fd.status_writes < 32)
		fd.status_log[fd.status_writes] = val;
	fd.status_writes++;
	if (val == 0) {
		fake_reset();
		return;
	}
	if ((val & PH_VIRTIO_CONFIG_S_FEATURES_OK) && !(fd.status & PH_VIRTIO_CONFIG_S_FEATURES_OK)) {
		/* accept only a subset of what was offered */
		if (fd.refuse_features_ok || (fd.drv_features & ~fd.offered))
			val &= ~(uint32_t)PH_VIRTIO_CONFIG_S_FEATURES_OK;
	}
	fd.status = val | (fd.status & PH_VIRTIO_CONFIG_S_NEEDS_RESET);
}

static inline void fake_write32_impl(void *ctx, uint32_t off, uint32_t val)
{
	(void)ctx;
	fd.accesses++;
	if (off >= PH_VIRTIO_MMIO_CONFIG) {
		uint32_t coff = off - PH_VIRTIO_MMIO_CONFIG;
		assert_int_equal(coff, offsetof(struct ph_virtio_balloon_config, actual));
		fd.cfg.actual = val;
		return;
	}
	struct fake_q *q = &fd.q[fd.queue_sel % FAKE_NQ];
	switch (off) {
	case PH_VIRTIO_MMIO_DEVICE_FEATURES_SEL: fd.dev_sel = val; return;
	case PH_VIRTIO_MMIO_DRIVER_FEATURES_SEL: fd.drv_sel = val; return;
	case PH_VIRTIO_MMIO_DRIVER_FEATURES:
		assert_false(fd.status & PH_VIRTIO_CONFIG_S_FEATURES_OK);
		if (fd.drv_sel == 0)
			fd.drv_features = (fd.drv_features & ~0xffffffffull) | val;
		else if (fd.drv_sel == 1)
			fd.drv_features = (fd.drv_features & 0xffffffffull) | (uint64_t)val << 32;
		return;
	case PH_VIRTIO_MMIO_QUEUE_SEL: fd.queue_sel = val; return;
	case PH_VIRTIO_MMIO_QUEUE_NUM:
		assert_false(q->ready);
		assert_true(val && val <= fd.queue_max && !(val & (val - 1)));
		q->num = val;
		return;
	case PH_VIRTIO_MMIO_QUEUE_DESC_LOW: q->desc = (q->desc & ~0xffffffffull) | val; return;
	case PH_VIRTIO_MMIO_QUEUE_DESC_HIGH: q->desc = (q->desc & 0xffffffffull) | (uint64_t)val << 32; return;
	case PH_VIRTIO_MMIO_QUEUE_AVAIL_LOW: q->avail = (q->avail & ~0xffffffffull) | val; return;
	case PH_VIRTIO_MMIO_QUEUE_AVAIL_HIGH: q->avail = (q->avail & 0xffffffffull) | (uint64_t)val << 32; return;
	case PH_VIRTIO_MMIO_QUEUE_USED_LOW: q->used = (q->used & ~0xffffffffull) | val; return;
	case PH_VIRTIO_MMIO_QUEUE_USED_HIGH: q->used = (q->used & 0xffffffffull) | (uint64_t)val << 32; return;
	case PH_VIRTIO_MMIO_QUEUE_READY:
		assert_true(fd.status & PH_VIRTIO_CONFIG_S_FEATURES_OK);
		if (val) {
			assert_true(q->num);
			assert_int_equal(q->desc % 16, 0);
			assert_int_equal(q->avail % 2, 0);
			assert_int_equal(q->used % 4, 0);
			(void)fake_gpa(q->desc, PH_VRING_DESC_BYTES(q->num));
			(void)fake_gpa(q->avail, PH_VRING_AVAIL_BYTES(q->num));
			(void)fake_gpa(q->used, PH_VRING_USED_BYTES(q->num));
		}
		q->ready = val;
		return;
	case PH_VIRTIO_MMIO_QUEUE_NOTIFY:
		assert_true(val < FAKE_NQ);
		fd.q[val].notifies++;
		if (!fd.deferred)
			fake_process(val);
		return;
	case PH_VIRTIO_MMIO_INTERRUPT_ACK:
		fd.acks++;
		fd.isr &= ~val;
		return;
	case PH_VIRTIO_MMIO_STATUS:
		fake_set_status(val);
		return;
	}
	fail_msg("write of read-only or unknown register 0x%x", off);
}

static inline uint8_t fake_read8_impl(void *ctx, uint32_t off)
{
	(void)ctx;
	fd.accesses++;
	assert_true(off >= PH_VIRTIO_MMIO_CONFIG && off < PH_VIRTIO_MMIO_CONFIG + sizeof(fd.cfg));
	if (fd.gen_flips) {
		fd.gen_flips--;
		fd.generation++;
	}
	return ((uint8_t *)&fd.cfg)[off - PH_VIRTIO_MMIO_CONFIG];
}

/* With fd.threaded, a device thread runs fake_run() under fake_mu and
 * register accesses from any driver thread take it too. */
static inline uint32_t fake_read32(void *ctx, uint32_t off)
{
	if (!fd.threaded)
		return fake_read32_impl(ctx, off);
	pthread_mutex_lock(&fake_mu);
	uint32_t v = fake_read32_impl(ctx, off);
	pthread_mutex_unlock(&fake_mu);
	return v;
}

static inline void fake_write32(void *ctx, uint32_t off, uint32_t val)
{
	if (!fd.threaded)
		return fake_write32_impl(ctx, off, val);
	pthread_mutex_lock(&fake_mu);
	fake_write32_impl(ctx, off, val);
	pthread_mutex_unlock(&fake_mu);
}

static inline uint8_t fake_read8(void *ctx, uint32_t off)
{
	if (!fd.threaded)
		return fake_read8_impl(ctx, off);
	pthread_mutex_lock(&fake_mu);
	uint8_t v = fake_read8_impl(ctx, off);
	pthread_mutex_unlock(&fake_mu);
	return v;
}

static inline uint64_t fake_virt_to_phys(void *ctx, const void *p)
{
	(void)ctx;
	return fake_phys(p);
}

static const struct vm_regs_ops fake_regs = {
	.read32 = fake_read32,
	.write32 = fake_write32,
	.read8 = fake_read8,
	.virt_to_phys = fake_virt_to_phys,
};

#endif
