/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio version 2 transport (virtio 1.x spec 4.2.2), register layout
 * from linux/virtio_mmio.h. Drivable synchronously: a vCPU's MMIO exit (or
 * a test) calls virtio_mmio_read/write; a queue notification runs
 * virtio_mmio_notify(q), on the ioeventfd worker thread in the VMM or
 * directly in a test. Interrupts go out through a callback (an irqfd write
 * in the VMM, a counter in tests).
 *
 * Locking: `lock` serialises register accesses and queue processing, so a
 * reset waits for a queue being processed. status, interrupt status and
 * the config generation are atomics so the device hooks can change them
 * from inside queue processing.
 */
#ifndef VMM_VIRTIO_MMIO_H
#define VMM_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"
#include "virtio_dev.h"
#include "vring_dev.h"

#define VIRTIO_MMIO_WINDOW 0x200	/* registers + 256 bytes of config */
#define VIRTIO_MMIO_MAX_QUEUES 8
/* "virt" little-endian: the MagicValue register's contents (spec 4.2.2). */
#define VIRTIO_MMIO_MAGIC 0x74726976u
#define VIRTIO_MMIO_VENDOR 0x544e4850u /* "PHNT" */

/* Transport-level misuse, logged once each. */
enum vmmio_err {
	VMMIO_ERR_ACCESS_SIZE,	/* register access not 32 bits */
	VMMIO_ERR_OFFSET,	/* no such register */
	VMMIO_ERR_LEGACY,	/* legacy (version 1) register used */
	VMMIO_ERR_FEATURES,	/* FEATURES_OK refused */
	VMMIO_ERR_QUEUE_SEL,	/* queue register for a queue that doesn't exist */
	VMMIO_ERR_QUEUE_LIVE,	/* queue layout changed while ready */
	VMMIO_ERR_NOTIFY,	/* notify for a queue that doesn't exist/isn't ready */
	VMMIO_ERR__COUNT
};

struct vmmio_queue {
	uint16_t num;
	uint64_t desc, avail, used;
	struct vring_dev vq;	/* ready when vq.num != 0 */
};

struct virtio_mmio_dev {
	pthread_mutex_t lock;
	struct guest_mem *gm;
	const struct virtio_dev_ops *ops;
	void *dev;
	uint64_t base;		/* guest-physical, for messages */
	struct virtio_dev_hooks hooks;

	/* guarded by lock */
	uint64_t offered;	/* device features incl. transport bits */
	uint64_t driver_features;
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel;
	unsigned nqueues;	/* queues that exist now */
	struct vmmio_queue q[VIRTIO_MMIO_MAX_QUEUES];

	atomic_uint status;
	atomic_uint isr;	/* InterruptStatus */
	atomic_uint irq_queues;	/* bit per queue whose used buffers raised the pending VRING bit */
	atomic_uint generation;	/* ConfigGeneration */

	void (*raise_irq)(void *opaque);
	void *irq_opaque;
	void (*kick)(void *opaque, unsigned q);
	void *kick_opaque;

	/* statistics and log-once state */
	atomic_ulong irqs;
	atomic_ulong notifies;
	atomic_uint logged_vring;	/* bit per enum vring_err */
	atomic_uint logged_mmio;	/* bit per enum vmmio_err */
	atomic_ulong errors;		/* total bad-input events */
};

/* Wrap `dev` (described by ops) at guest-physical `base`. NULL on ENOMEM. */
struct virtio_mmio_dev *virtio_mmio_create(struct guest_mem *gm, const struct virtio_dev_ops *ops,
					   void *dev, uint64_t base);
void virtio_mmio_destroy(struct virtio_mmio_dev *t);

/* How interrupts leave (default: none). */
void virtio_mmio_set_irq(struct virtio_mmio_dev *t, void (*raise)(void *), void *opaque);
/* Where a QueueNotify write that reached userspace goes (default: handled
 * inline by virtio_mmio_notify on the caller's thread). */
void virtio_mmio_set_kick(struct virtio_mmio_dev *t, void (*kick)(void *, unsigned), void *opaque);

/* A driver register access at `off` within the window, size 1, 2, 4 or 8. */
uint32_t virtio_mmio_read(struct virtio_mmio_dev *t, uint64_t off, unsigned size);
void virtio_mmio_write(struct virtio_mmio_dev *t, uint64_t off, unsigned size, uint32_t val);

/* Process queue q now (what a QueueNotify means). */
void virtio_mmio_notify(struct virtio_mmio_dev *t, unsigned q);

static inline uint32_t virtio_mmio_status(struct virtio_mmio_dev *t)
{
	return atomic_load(&t->status);
}

/* The queues (a bit each) whose used buffers raised the used-buffer
 * interrupt the driver has not acknowledged yet: whose the interrupt
 * register accesses are (exit accounting). */
static inline uint32_t virtio_mmio_irq_queues(struct virtio_mmio_dev *t)
{
	return atomic_load(&t->irq_queues);
}

#endif
