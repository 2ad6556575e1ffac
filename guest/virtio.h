/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio devices named on the command line (virtio_mmio.device=, as
 * Linux takes them); the balloon (device id 5) is driven by core/'s
 * driver, with register accessors, identity address translation and the
 * interrupt hookup from here.
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <stdbool.h>

void virtio_init(void);
#endif
