/* SPDX-License-Identifier: MIT */
/*
 * The contract between a virtio transport and the device it carries (the
 * kvmtool split): the device fills struct virtio_dev_ops and never sees a
 * transport register; the transport hands it hooks for the few things a
 * device must say back. All callbacks for one device are serialised by
 * the transport, except where marked.
 */
#ifndef VMM_VIRTIO_DEV_H
#define VMM_VIRTIO_DEV_H

#include <stdint.h>

#include "vring_dev.h"

struct virtio_dev_hooks {
	void *opaque;
	/* The device changed its config space: new generation, config
	 * interrupt. Callable from any thread, outside device callbacks too. */
	void (*config_changed)(void *opaque);
	/* The driver gave the device input it cannot act on: set
	 * DEVICE_NEEDS_RESET and tell the driver. Callable from callbacks,
	 * and from a device thread of its own (atomics only) as long as the
	 * device's reset waits for that thread first. */
	void (*needs_reset)(void *opaque);
	/* Ask the transport to run handle_queue(q) (with its usual locking
	 * and interrupt logic). Never call it from inside a device callback. */
	void (*poke)(void *opaque, unsigned q);
};

struct virtio_dev_ops {
	uint32_t device_id;		/* linux/virtio_ids.h */
	uint16_t queue_max;		/* QueueNumMax for every queue */
	unsigned max_queues;		/* upper bound of num_queues() */
	uint32_t config_size;

	/* Device feature bits offered (the transport adds VERSION_1,
	 * EVENT_IDX and INDIRECT_DESC). */
	uint64_t (*features)(void *dev);
	/* How many queues exist with these features (Linux numbering). */
	unsigned (*num_queues)(void *dev, uint64_t features);
	/* FEATURES_OK accepted with these features. */
	void (*set_features)(void *dev, uint64_t features);
	/* Config space access; off + len <= config_size is checked. */
	void (*config_read)(void *dev, uint32_t off, void *buf, uint32_t len);
	void (*config_write)(void *dev, uint32_t off, const void *buf, uint32_t len);
	/* Pop and handle everything available on queue q. */
	void (*handle_queue)(void *dev, unsigned q, struct vring_dev *vq);
	/* Device reset: forget everything negotiated and in flight. Called
	 * before the transport clears its status, so a bit the device sets
	 * from a thread of its own until reset returns is cleared too. */
	void (*reset)(void *dev);
	/* The driver wrote a non-zero status (after the transport took it);
	 * optional. FAILED tells a device the driver gave up on it. */
	void (*status)(void *dev, uint32_t status);
	/* Called once by the transport when it takes the device. */
	void (*bind)(void *dev, const struct virtio_dev_hooks *hooks);
};

#endif
