/* SPDX-License-Identifier: MIT */
/*
 * A minimal virtio driver for hosted tests of vmm/: guest memory is a
 * calloc'd buffer at guest-physical 0, the device is a balloon behind the
 * virtio-mmio transport, and the driver hand-builds split rings and talks
 * to the device only through virtio_mmio_read/write. Discards are
 * recorded instead of performed. Header-only: each test includes it once.
 */
#ifndef TEST_VMM_DRIVER_H
#define TEST_VMM_DRIVER_H

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "balloon.h"
#include "guest_mem.h"
#include "log.h"
#include "virtio_mmio.h"

#define T_MEM_SIZE (16u << 20)		/* 16 MiB of "guest RAM" at gpa 0 */
#define T_RING_BASE 0x10000u		/* queue q's rings at T_RING_BASE + q * T_RING_STRIDE */
#define T_RING_STRIDE 0x8000u
#define T_DATA_BASE 0x100000u		/* buffers the tests point at */
#define T_MAX_DISCARDS 256

struct t_queue {
	uint16_t num;
	uint64_t desc, avail, used;
	uint16_t next_desc;	/* descriptors handed out round-robin */
	uint16_t avail_idx;
	uint16_t last_used;
};

struct t_dev {
	uint8_t *mem;
	struct guest_mem gm;
	struct balloon_dev *b;
	struct virtio_mmio_dev *t;
	unsigned irqs;
	struct t_queue q[VIRTIO_MMIO_MAX_QUEUES];
	unsigned ndiscards;
	struct { uint64_t gpa, len; } discards[T_MAX_DISCARDS];
};

static inline void t_irq(void *opaque) { ((struct t_dev *)opaque)->irqs++; }

static inline int t_discard(void *opaque, uint64_t gpa, uint64_t len)
{
	struct t_dev *d = opaque;
	if (d->ndiscards < T_MAX_DISCARDS) {
		d->discards[d->ndiscards].gpa = gpa;
		d->discards[d->ndiscards].len = len;
	}
	d->ndiscards++;
	return 0;
}

static inline uint32_t t_rd(struct t_dev *d, uint64_t off) { return virtio_mmio_read(d->t, off, 4); }
static inline void t_wr(struct t_dev *d, uint64_t off, uint32_t v) { virtio_mmio_write(d->t, off, 4, v); }
static inline void *t_ptr(struct t_dev *d, uint64_t gpa) { return d->mem + gpa; }

/* Quiet logs unless the test runs with T_VERBOSE set. */
static inline void t_quiet_logs(void)
{
	static FILE *null;
	if (getenv("T_VERBOSE"))
		return;
	if (!null)
		null = fopen("/dev/null", "w");
	vmm_log_set_stream(null);
}

static inline struct t_dev *t_dev_new(const struct balloon_config *cfg_in)
{
	struct t_dev *d = calloc(1, sizeof(*d));
	struct balloon_config cfg = cfg_in ? *cfg_in : (struct balloon_config){ 0 };

	t_quiet_logs();
	d->mem = calloc(1, T_MEM_SIZE);
	/* faulted in, as a running guest's RAM: the exitless scanner
	 * discards only frames resident on the host */
	for (size_t i = 0; i < T_MEM_SIZE; i += 4096)	/* not a memset: calloc's zeros are known */
		((volatile uint8_t *)d->mem)[i] = 0;
	gm_init_buffer(&d->gm, d->mem, 0, T_MEM_SIZE);
	cfg.discard = t_discard;
	cfg.discard_opaque = d;
	d->b = balloon_create(&d->gm, &cfg);
	d->t = virtio_mmio_create(&d->gm, &balloon_ops, d->b, 0xd0000000);
	virtio_mmio_set_irq(d->t, t_irq, d);
	return d;
}

static inline void t_dev_free(struct t_dev *d)
{
	virtio_mmio_destroy(d->t);
	balloon_destroy(d->b);
	free(d->mem);
	free(d);
}

static inline uint64_t t_device_features(struct t_dev *d)
{
	t_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t lo = t_rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
	t_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t hi = t_rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
	return lo | hi << 32;
}

/* Status ACK|DRIVER, write features, FEATURES_OK; returns the status read
 * back (FEATURES_OK clear if refused). */
static inline uint32_t t_negotiate(struct t_dev *d, uint64_t features)
{
	t_wr(d, VIRTIO_MMIO_STATUS, 0);
	t_wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	t_wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	t_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	t_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	t_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	t_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	t_wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		VIRTIO_CONFIG_S_FEATURES_OK);
	return t_rd(d, VIRTIO_MMIO_STATUS);
}

/* Lay out queue qi with `num` entries and make it ready. */
static inline void t_setup_queue(struct t_dev *d, unsigned qi, uint16_t num)
{
	struct t_queue *q = &d->q[qi];
	uint64_t base = T_RING_BASE + (uint64_t)qi * T_RING_STRIDE;

	memset(q, 0, sizeof(*q));
	q->num = num;
	q->desc = base;
	q->avail = base + 16ULL * num;
	q->used = (q->avail + 6 + 2ULL * num + 3) & ~3ULL;
	memset(t_ptr(d, base), 0, T_RING_STRIDE);
	t_wr(d, VIRTIO_MMIO_QUEUE_SEL, qi);
	t_wr(d, VIRTIO_MMIO_QUEUE_NUM, num);
	t_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
	t_wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc >> 32));
	t_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)q->avail);
	t_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(q->avail >> 32));
	t_wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)q->used);
	t_wr(d, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(q->used >> 32));
	t_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

static inline void t_driver_ok(struct t_dev *d)
{
	t_wr(d, VIRTIO_MMIO_STATUS, t_rd(d, VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
}

#define T_F(bit) (1ULL << (bit))
#define T_FEAT_DEFAULT (T_F(VIRTIO_F_VERSION_1) | T_F(VIRTIO_BALLOON_F_STATS_VQ) | \
			T_F(VIRTIO_BALLOON_F_REPORTING))

/* The whole bring-up; queues get `num` entries. */
static inline void t_bringup(struct t_dev *d, uint64_t features, uint16_t num)
{
	t_negotiate(d, features);
	unsigned nq = 2 + !!(features & T_F(VIRTIO_BALLOON_F_STATS_VQ)) +
		      !!(features & T_F(VIRTIO_BALLOON_F_REPORTING));
	for (unsigned i = 0; i < nq; i++)
		t_setup_queue(d, i, num);
	t_driver_ok(d);
}

static inline struct vring_desc *t_desc(struct t_dev *d, unsigned qi, unsigned i)
{
	return (struct vring_desc *)t_ptr(d, d->q[qi].desc) + i;
}

/* Write a descriptor; returns its index. */
static inline uint16_t t_put_desc(struct t_dev *d, unsigned qi, uint64_t addr, uint32_t len,
				  uint16_t flags, uint16_t next)
{
	struct t_queue *q = &d->q[qi];
	uint16_t i = q->next_desc++ % q->num;
	struct vring_desc *ds = t_desc(d, qi, i);
	ds->addr = htole64(addr);
	ds->len = htole32(len);
	ds->flags = htole16(flags);
	ds->next = htole16(next);
	return i;
}

/* Make `head` available (does not kick). */
static inline void t_publish(struct t_dev *d, unsigned qi, uint16_t head)
{
	struct t_queue *q = &d->q[qi];
	struct vring_avail *a = t_ptr(d, q->avail);
	a->ring[q->avail_idx % q->num] = htole16(head);
	q->avail_idx++;
	__atomic_store_n(&a->idx, htole16(q->avail_idx), __ATOMIC_RELEASE);
}

/* Chain of n device-writable ranges (a free page report), published. */
static inline uint16_t t_add_ranges(struct t_dev *d, unsigned qi, const uint64_t *addr,
				    const uint32_t *len, unsigned n, bool writable)
{
	struct t_queue *q = &d->q[qi];
	uint16_t first = q->next_desc % q->num;
	for (unsigned i = 0; i < n; i++) {
		uint16_t flags = (writable ? VRING_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VRING_DESC_F_NEXT : 0);
		t_put_desc(d, qi, addr[i], len[i], flags, (uint16_t)((first + i + 1) % q->num));
	}
	t_publish(d, qi, first);
	return first;
}

static inline void t_kick(struct t_dev *d, unsigned qi) { t_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, qi); }

static inline uint16_t t_used_idx(struct t_dev *d, unsigned qi)
{
	struct vring_used *u = t_ptr(d, d->q[qi].used);
	return le16toh(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE));
}

static inline struct vring_used_elem t_used_elem(struct t_dev *d, unsigned qi, uint16_t i)
{
	struct vring_used *u = t_ptr(d, d->q[qi].used);
	return u->ring[i % d->q[qi].num];
}

static inline bool t_needs_reset(struct t_dev *d)
{
	return t_rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

#endif
