/* SPDX-License-Identifier: MIT */
/*
 * The device side of a virtio 1.x split virtqueue (spec 2.7), over guest
 * memory reached only through gm_translate(). Layouts are linux/virtio_ring.h.
 *
 * The transport sets a queue up when the driver writes QueueReady; a device
 * then pops descriptor chains, acts on them and pushes them back used. A
 * chain is fully validated before the device sees it: every index in
 * range, no loops, no longer than the queue, readable buffers before
 * writable ones, indirect tables only if negotiated, inside guest RAM, not
 * nested, not chained, whole descriptors. Buffers themselves are returned
 * as guest-physical (addr, len) pairs: the device decides whether and how
 * to translate them.
 *
 * A malformed ring breaks the queue: pop returns the error from then on
 * until the transport tears the queue down (device reset).
 *
 * One thread at a time per queue (the transport's lock).
 */
#ifndef VMM_VRING_DEV_H
#define VMM_VRING_DEV_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_ring.h>

#include "guest_mem.h"

#define VRING_DEV_MAX_SIZE 32768	/* spec 2.7: Queue Size max */

enum vring_err {
	VRING_OK = 0,
	VRING_ERR_RING_RANGE,	/* desc/avail/used area not in guest RAM */
	VRING_ERR_RING_ALIGN,	/* area misaligned */
	VRING_ERR_SIZE,		/* queue size 0, > max, or not a power of 2 */
	VRING_ERR_AVAIL_IDX,	/* avail idx moved more than the queue size */
	VRING_ERR_HEAD,		/* head index >= queue size */
	VRING_ERR_NEXT,		/* next index >= table size */
	VRING_ERR_LOOP,		/* a descriptor visited twice */
	VRING_ERR_TOO_LONG,	/* chain longer than the queue size */
	VRING_ERR_ORDER,	/* device-readable after device-writable */
	VRING_ERR_INDIRECT_FEATURE, /* INDIRECT without the feature */
	VRING_ERR_INDIRECT_NEXT,    /* INDIRECT together with NEXT */
	VRING_ERR_INDIRECT_NESTED,  /* INDIRECT inside an indirect table */
	VRING_ERR_INDIRECT_LEN,     /* table length 0 or not whole descriptors */
	VRING_ERR_INDIRECT_RANGE,   /* table not in guest RAM */
	VRING_ERR__COUNT
};

const char *vring_err_str(enum vring_err e);

struct vring_elem {
	uint64_t addr;
	uint32_t len;
	bool write;	/* device-writable */
};

struct vring_chain {
	uint16_t head;		/* id to push back */
	unsigned n;		/* elements in e[] */
	struct vring_elem *e;	/* owned by the queue, valid until next pop */
};

struct vring_dev {
	const struct guest_mem *gm;
	uint16_t num;
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;		/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;

	uint16_t last_avail;	/* next avail ring entry to consume */
	uint16_t used_idx;	/* our copy of used->idx */
	uint16_t signalled_used; /* used_idx when we last decided to signal */
	enum vring_err err;	/* first error; the queue is broken if set */

	struct vring_elem *elems;	/* num entries */
	uint64_t *visited;		/* num bits */
};

/* Set up over the areas the driver gave. Checks size, alignment and that
 * each area is in guest RAM. VRING_OK or the error; nothing allocated on
 * error. */
enum vring_err vring_dev_setup(struct vring_dev *vq, const struct guest_mem *gm,
			       uint16_t num, uint64_t desc, uint64_t avail, uint64_t used,
			       bool event_idx, bool indirect);
void vring_dev_teardown(struct vring_dev *vq);
static inline bool vring_dev_ready(const struct vring_dev *vq) { return vq->num != 0; }

/* 1 and *c filled: a valid chain; 0: ring empty; -err: the ring is
 * malformed (vq->err set, nothing consumed). */
int vring_dev_pop(struct vring_dev *vq, struct vring_chain *c);

/* Return a chain with `len` bytes written. Visible to the driver at once. */
void vring_dev_push(struct vring_dev *vq, uint16_t head, uint32_t len);

/* After pushes: does the driver want an interrupt (EVENT_IDX or the
 * NO_INTERRUPT flag)? Remembers the decision point. */
bool vring_dev_should_signal(struct vring_dev *vq);

/* Before sleeping: tell the driver where to kick next (EVENT_IDX) and
 * recheck; true if more buffers arrived meanwhile. */
bool vring_dev_arm_notify(struct vring_dev *vq);

#endif
