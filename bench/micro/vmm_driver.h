/* SPDX-License-Identifier: MIT */
/*
 * The driver's side of a virtio-mmio bring-up against vmm/'s device model
 * in this process, for the benchmarks that time the device (discard_bench,
 * exitless_bench): reset, ACKNOWLEDGE|DRIVER, the features, FEATURES_OK,
 * and a queue laid out at given guest-physical addresses.
 */
#ifndef BENCH_VMM_DRIVER_H
#define BENCH_VMM_DRIVER_H

#include <stdint.h>

#include "virtio_mmio.h"

static inline void bench_wr(struct virtio_mmio_dev *t, uint64_t off, uint32_t v)
{
	virtio_mmio_write(t, off, 4, v);
}

/* true if the device kept FEATURES_OK */
static inline bool bench_negotiate(struct virtio_mmio_dev *t, uint64_t features)
{
	bench_wr(t, VIRTIO_MMIO_STATUS, 0);
	bench_wr(t, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	bench_wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	bench_wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	bench_wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	bench_wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	bench_wr(t, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		 VIRTIO_CONFIG_S_FEATURES_OK);
	return virtio_mmio_read(t, VIRTIO_MMIO_STATUS, 4) & VIRTIO_CONFIG_S_FEATURES_OK;
}

/* Queue q of num entries at desc/avail/used (gpa), ready. */
static inline void bench_queue(struct virtio_mmio_dev *t, unsigned q, uint32_t num,
			       uint64_t desc, uint64_t avail, uint64_t used)
{
	bench_wr(t, VIRTIO_MMIO_QUEUE_SEL, q);
	bench_wr(t, VIRTIO_MMIO_QUEUE_NUM, num);
	bench_wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	bench_wr(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	bench_wr(t, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	bench_wr(t, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	bench_wr(t, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	bench_wr(t, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	bench_wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
}

#endif
