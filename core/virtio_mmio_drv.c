/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio version 2 driver transport; see virtio_mmio_drv.h.
 *
 * Ordering: every register access is an MMIO access (uncached, and a VM
 * exit), which x86 orders with all earlier and later memory accesses, so
 * the ring writes virtq_add() made are visible to the device before the
 * QueueNotify write that follows them. The callbacks must keep that
 * property (volatile accesses to UC memory in the guest; in hosted tests a
 * function call into the fake device, which is ordered anyway).
 */
#include "virtio_mmio_drv.h"

/* Bounded waits: a device that never settles is broken, not a reason to
 * hang the guest. (Each register read is a VM exit, 10-30 us here, so the
 * reset wait is bounded in time, not in reads.) */
#define RESET_TIMEOUT_NS 100000000ull /* 100 ms */
#define GENERATION_TRIES 1000u

static inline uint32_t rd(struct vmdrv *d, uint32_t off)
{
	return d->ops->read32(d->ctx, off);
}

static inline void wr(struct vmdrv *d, uint32_t off, uint32_t val)
{
	d->ops->write32(d->ctx, off, val);
}

int vmdrv_probe(struct vmdrv *d, const struct vm_regs_ops *ops, void *ctx)
{
	*d = (struct vmdrv){ .ops = ops, .ctx = ctx };
	if (rd(d, PH_VIRTIO_MMIO_MAGIC_VALUE) != PH_VIRTIO_MMIO_MAGIC)
		return -PH_ENODEV;
	if (rd(d, PH_VIRTIO_MMIO_VERSION) != 2) /* 1 is legacy: not supported */
		return -PH_ENODEV;
	d->device_id = rd(d, PH_VIRTIO_MMIO_DEVICE_ID);
	if (d->device_id == 0) /* a placeholder slot with no device behind it */
		return -PH_ENODEV;
	d->vendor_id = rd(d, PH_VIRTIO_MMIO_VENDOR_ID);
	return 0;
}

int vmdrv_reset(struct vmdrv *d)
{
	wr(d, PH_VIRTIO_MMIO_STATUS, 0);
	/* Spec 4.2.3.1: the reset is done when Status reads 0 again. */
	uint64_t start = ph_now_ns();
	do {
		if (rd(d, PH_VIRTIO_MMIO_STATUS) == 0)
			return 0;
		ph_cpu_relax();
	} while (ph_now_ns() - start < RESET_TIMEOUT_NS);
	return -PH_ETIMEDOUT;
}

uint32_t vmdrv_status(struct vmdrv *d)
{
	return rd(d, PH_VIRTIO_MMIO_STATUS);
}

void vmdrv_add_status(struct vmdrv *d, uint32_t bits)
{
	wr(d, PH_VIRTIO_MMIO_STATUS, rd(d, PH_VIRTIO_MMIO_STATUS) | bits);
}

void vmdrv_fail(struct vmdrv *d)
{
	vmdrv_add_status(d, PH_VIRTIO_CONFIG_S_FAILED);
}

bool vmdrv_needs_reset(struct vmdrv *d)
{
	uint32_t st = rd(d, PH_VIRTIO_MMIO_STATUS);
	return (st & PH_VIRTIO_CONFIG_S_NEEDS_RESET) || !(st & PH_VIRTIO_CONFIG_S_DRIVER_OK);
}

uint64_t vmdrv_read_device_features(struct vmdrv *d)
{
	wr(d, PH_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t hi = rd(d, PH_VIRTIO_MMIO_DEVICE_FEATURES);
	wr(d, PH_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t lo = rd(d, PH_VIRTIO_MMIO_DEVICE_FEATURES);
	return hi << 32 | lo;
}

int vmdrv_negotiate(struct vmdrv *d, uint64_t wanted, uint64_t *out)
{
	const uint64_t v1 = 1ull << PH_VIRTIO_F_VERSION_1;

	d->features = 0;
	if (vmdrv_reset(d))
		return -PH_ETIMEDOUT;
	vmdrv_add_status(d, PH_VIRTIO_CONFIG_S_ACKNOWLEDGE);
	vmdrv_add_status(d, PH_VIRTIO_CONFIG_S_DRIVER);

	d->device_features = vmdrv_read_device_features(d);
	if (!(d->device_features & v1)) {
		vmdrv_fail(d);
		return -PH_ENODEV;
	}
	uint64_t f = (d->device_features & wanted) | v1;
	wr(d, PH_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(d, PH_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	wr(d, PH_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(d, PH_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);

	vmdrv_add_status(d, PH_VIRTIO_CONFIG_S_FEATURES_OK);
	/* Spec 3.1.1 step 6: the device may refuse the subset we chose. */
	if (!(rd(d, PH_VIRTIO_MMIO_STATUS) & PH_VIRTIO_CONFIG_S_FEATURES_OK)) {
		vmdrv_fail(d);
		return -PH_EIO;
	}
	d->features = f;
	if (out)
		*out = f;
	return 0;
}

int vmdrv_queue_max(struct vmdrv *d, unsigned idx)
{
	wr(d, PH_VIRTIO_MMIO_QUEUE_SEL, idx);
	if (rd(d, PH_VIRTIO_MMIO_QUEUE_READY))
		return -PH_EBUSY;
	uint32_t max = rd(d, PH_VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max == 0)
		return -PH_ENOENT;
	return max > PH_VIRTQ_MAX_NUM ? (int)PH_VIRTQ_MAX_NUM : (int)max;
}

int vmdrv_queue_enable(struct vmdrv *d, unsigned idx, const struct virtq *vq)
{
	uint64_t desc = vmdrv_phys(d, vq->desc);
	uint64_t avail = vmdrv_phys(d, vq->avail);
	uint64_t used = vmdrv_phys(d, vq->used);

	wr(d, PH_VIRTIO_MMIO_QUEUE_SEL, idx);
	wr(d, PH_VIRTIO_MMIO_QUEUE_NUM, vq->num);
	wr(d, PH_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(d, PH_VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(d, PH_VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	wr(d, PH_VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	wr(d, PH_VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	wr(d, PH_VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	wr(d, PH_VIRTIO_MMIO_QUEUE_READY, 1);
	return rd(d, PH_VIRTIO_MMIO_QUEUE_READY) == 1 ? 0 : -PH_EIO;
}

void vmdrv_driver_ok(struct vmdrv *d)
{
	vmdrv_add_status(d, PH_VIRTIO_CONFIG_S_DRIVER_OK);
}

void vmdrv_notify(struct vmdrv *d, unsigned idx)
{
	wr(d, PH_VIRTIO_MMIO_QUEUE_NOTIFY, idx);
}

uint32_t vmdrv_interrupt_ack(struct vmdrv *d)
{
	uint32_t isr = rd(d, PH_VIRTIO_MMIO_INTERRUPT_STATUS);
	if (isr)
		wr(d, PH_VIRTIO_MMIO_INTERRUPT_ACK, isr);
	return isr;
}

int vmdrv_config_read32(struct vmdrv *d, uint32_t off, uint32_t *val)
{
	for (unsigned i = 0; i < GENERATION_TRIES; i++) {
		uint32_t gen = rd(d, PH_VIRTIO_MMIO_CONFIG_GENERATION);
		uint32_t v = rd(d, PH_VIRTIO_MMIO_CONFIG + off);
		if (rd(d, PH_VIRTIO_MMIO_CONFIG_GENERATION) == gen) {
			*val = ph_le32(v);
			return 0;
		}
	}
	return -PH_EIO;
}

int vmdrv_config_read(struct vmdrv *d, uint32_t off, void *buf, uint32_t len)
{
	uint8_t *b = buf;
	for (unsigned i = 0; i < GENERATION_TRIES; i++) {
		uint32_t gen = rd(d, PH_VIRTIO_MMIO_CONFIG_GENERATION);
		for (uint32_t k = 0; k < len; k++)
			b[k] = d->ops->read8(d->ctx, PH_VIRTIO_MMIO_CONFIG + off + k);
		if (rd(d, PH_VIRTIO_MMIO_CONFIG_GENERATION) == gen)
			return 0;
	}
	return -PH_EIO;
}

void vmdrv_config_write32(struct vmdrv *d, uint32_t off, uint32_t val)
{
	wr(d, PH_VIRTIO_MMIO_CONFIG + off, ph_le32(val));
}
