/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio (version 2, spec 4.2) driver transport, over register-access
 * callbacks so the same code runs in the guest (volatile MMIO loads and
 * stores) and in hosted tests (a fake device, or vmm/virtio_mmio.c's
 * virtio_mmio_read/write in a joint test).
 *
 * Offsets passed to the callbacks are byte offsets within the device's
 * register window (0x000 MagicValue ... 0x100+ config space). Registers
 * below 0x100 are only ever accessed with read32/write32; config space with
 * read32/write32 on naturally aligned 32-bit fields, or read8.
 *
 * virt_to_phys turns a driver pointer (ring memory, buffers inside the
 * driver's arena) into the guest-physical address the device is given:
 * identity in the guest; in hosted tests, the offset into the buffer that
 * plays guest RAM.
 *
 * Bring-up order (spec 3.1.1), each step a call:
 *   vmdrv_probe()            magic, version 2, device id
 *   vmdrv_negotiate()        reset, ACKNOWLEDGE, DRIVER, features (64 bit),
 *                            FEATURES_OK and its re-read
 *   vmdrv_queue_max() + virtq_init() + vmdrv_queue_enable()   per queue
 *   vmdrv_driver_ok()
 * No locking inside: the owner (the balloon driver) serializes.
 */
#ifndef PH_VIRTIO_MMIO_DRV_H
#define PH_VIRTIO_MMIO_DRV_H

#include "platform.h"
#include "virtio_defs.h"
#include "virtq.h"

struct vm_regs_ops {
	uint32_t (*read32)(void *ctx, uint32_t off);
	void (*write32)(void *ctx, uint32_t off, uint32_t val);
	/* config space byte read; may be NULL if vmdrv_config_read() is unused */
	uint8_t (*read8)(void *ctx, uint32_t off);
	uint64_t (*virt_to_phys)(void *ctx, const void *p);
};

struct vmdrv {
	const struct vm_regs_ops *ops;
	void *ctx;
	uint32_t device_id;
	uint32_t vendor_id;
	uint64_t device_features; /* offered, read during negotiation */
	uint64_t features;        /* negotiated (accepted with FEATURES_OK) */
};

/* Check MagicValue, Version == 2 and a non-zero DeviceID. 0 or -PH_ENODEV
 * (no device, legacy version 1, or unknown version). */
int vmdrv_probe(struct vmdrv *d, const struct vm_regs_ops *ops, void *ctx);

/* Write 0 to Status and wait (up to 100 ms) until it reads back 0.
 * 0 or -PH_ETIMEDOUT.
 * After it returns 0 the device no longer touches any ring or buffer. */
int vmdrv_reset(struct vmdrv *d);

uint32_t vmdrv_status(struct vmdrv *d);
/* Status |= bits (read-modify-write; the spec only ever adds bits). */
void vmdrv_add_status(struct vmdrv *d, uint32_t bits);
/* Tell the device we gave up on it (Status |= FAILED). */
void vmdrv_fail(struct vmdrv *d);
/* The device asked to be reset (DEVICE_NEEDS_RESET), or lost DRIVER_OK
 * behind our back (it was reset). Costs one register read. */
bool vmdrv_needs_reset(struct vmdrv *d);

/* The 64-bit DeviceFeatures (two 32-bit halves via DeviceFeaturesSel). */
uint64_t vmdrv_read_device_features(struct vmdrv *d);

/*
 * Reset, ACKNOWLEDGE, DRIVER, then accept (offered & wanted) and
 * FEATURES_OK, re-reading Status to confirm the device took them.
 * VIRTIO_F_VERSION_1 must be offered (no legacy) and is always accepted.
 * On success d->features holds the result, also returned in *out if non-NULL.
 * Errors (Status then has FAILED): -PH_ENODEV (no VERSION_1), -PH_EIO
 * (FEATURES_OK refused), -PH_ETIMEDOUT (reset did not complete).
 */
int vmdrv_negotiate(struct vmdrv *d, uint64_t wanted, uint64_t *out);

static inline bool vmdrv_has(const struct vmdrv *d, unsigned bit)
{
	return (d->features >> bit) & 1;
}

/* QueueNumMax of queue idx: > 0, -PH_ENOENT (no such queue) or -PH_EBUSY
 * (already ready: a driver must not reuse a live queue). */
int vmdrv_queue_max(struct vmdrv *d, unsigned idx);

/* Give queue idx the virtq's size and ring addresses (through virt_to_phys),
 * then QueueReady = 1 and read it back. 0 or -PH_EIO. */
int vmdrv_queue_enable(struct vmdrv *d, unsigned idx, const struct virtq *vq);

/* Status |= DRIVER_OK: the device is live. */
void vmdrv_driver_ok(struct vmdrv *d);

/* QueueNotify = idx. */
void vmdrv_notify(struct vmdrv *d, unsigned idx);

/* Read InterruptStatus and acknowledge exactly those bits; returns them
 * (PH_VIRTIO_MMIO_INT_VRING | PH_VIRTIO_MMIO_INT_CONFIG). */
uint32_t vmdrv_interrupt_ack(struct vmdrv *d);

/* Generation-consistent config reads (spec 4.2.2.2): repeat until
 * ConfigGeneration is the same before and after. off is relative to the
 * config space. 0 or -PH_EIO if the generation never settles. */
int vmdrv_config_read32(struct vmdrv *d, uint32_t off, uint32_t *val);
int vmdrv_config_read(struct vmdrv *d, uint32_t off, void *buf, uint32_t len);
void vmdrv_config_write32(struct vmdrv *d, uint32_t off, uint32_t val);

static inline uint64_t vmdrv_phys(struct vmdrv *d, const void *p)
{
	return d->ops->virt_to_phys(d->ctx, p);
}

#endif
