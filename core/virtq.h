/* SPDX-License-Identifier: MIT */
/*
 * Driver side of a virtio 1.x split virtqueue (spec 2.7).
 *
 * The caller owns all memory: the three ring parts (shared with the device)
 * and an array of num private slots (never shared: the device cannot touch
 * the free list or the per-chain bookkeeping). Nothing is allocated here.
 *
 * Use:
 *   virtq_init(vq, num, desc, avail, used, slots, event_idx);
 *   virtq_add(vq, bufs, n, token);      // one chain, made available
 *   if (virtq_kick_prepare(vq)) notify the device (transport);
 *   while (virtq_get_used(vq, &token, &len) > 0) ...;  // harvest
 *   virtq_disable_cb / virtq_enable_cb  // interrupt suppression
 *
 * The device is not trusted. virtq_get_used() checks every used entry
 * before acting on it: used->idx moving by more than the chains in flight
 * (at most num), an id >= num, or an id that is not the head of a chain
 * in flight (never added, or already returned) is reported with PH_WARN_ON,
 * nothing is freed, and the queue is marked broken: every later call
 * fails with -PH_EIO. The chains still in flight are the caller's again
 * only once the device has been reset; virtq_detach() hands them back.
 *
 * Locking: none inside. One queue is used by one context at a time; the
 * caller serializes (the balloon driver holds its lock around each call).
 */
#ifndef PH_VIRTQ_H
#define PH_VIRTQ_H

#include "platform.h"
#include "virtio_defs.h"

/* One buffer of a chain: guest-physical address and length. */
struct virtq_buf {
	uint64_t addr;
	uint32_t len;
	bool write; /* device-writable (else device-readable) */
};

/* Private per-descriptor bookkeeping, array of num supplied by the caller. */
struct virtq_slot {
	void *token;       /* caller's cookie; set on a chain head in flight */
	uint32_t wlen;     /* head: bytes the device may write into the chain */
	uint16_t next;     /* private copy of the chain/free-list link */
	uint16_t ndesc;    /* head: descriptors in the chain; 0 = not a head */
};

struct virtq {
	/* shared with the device */
	struct ph_vring_desc *desc;
	struct ph_vring_avail *avail;
	struct ph_vring_used *used;
	/* private */
	struct virtq_slot *slots;
	uint16_t num;          /* power of two, 1..32768 */
	uint16_t num_free;     /* descriptors on the free list */
	uint16_t free_head;    /* first free descriptor */
	uint16_t avail_idx;    /* next avail->idx to publish (shadow) */
	uint16_t kicked_idx;   /* avail_idx at the last kick decision */
	uint16_t last_used;    /* next used entry to harvest */
	uint16_t inflight;     /* chains added and not yet harvested */
	uint16_t avail_flags;  /* shadow of avail->flags */
	bool event_idx;        /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool cb_disabled;      /* driver asked for no interrupts */
	bool broken;           /* device misbehaved; all use fails */
	uint32_t bad_len;      /* used entries whose len exceeded the chain's writable bytes (clamped) */
};

/* Bytes the caller must provide for each ring part; alignment of each part
 * must be PH_VRING_{DESC,AVAIL,USED}_ALIGN_SIZE. */
static inline size_t virtq_desc_bytes(unsigned num) { return PH_VRING_DESC_BYTES(num); }
static inline size_t virtq_avail_bytes(unsigned num) { return PH_VRING_AVAIL_BYTES(num); }
static inline size_t virtq_used_bytes(unsigned num) { return PH_VRING_USED_BYTES(num); }

/* All three parts laid out in one block (desc, avail, used; used 4-aligned
 * after avail); virtq_init_contig() uses the same layout. */
size_t virtq_contig_bytes(unsigned num);

/*
 * Initialize vq over caller memory; zeroes the rings, builds the free list,
 * interrupts enabled. num must be a power of two <= 32768. Returns 0 or
 * -PH_EINVAL (bad num, NULL or misaligned memory).
 */
int virtq_init(struct virtq *vq, unsigned num, void *desc, void *avail, void *used,
	       struct virtq_slot *slots, bool event_idx);
int virtq_init_contig(struct virtq *vq, unsigned num, void *mem,
		      struct virtq_slot *slots, bool event_idx);

/*
 * Add one chain of n buffers (in the order given; the device sees readable
 * and writable buffers in that order, the spec asks readable ones first) and
 * make it available to the device. token (non-NULL) comes back from
 * virtq_get_used(). Returns 0, -PH_ENOSPC (fewer than n free descriptors),
 * -PH_EINVAL (n == 0, token NULL, zero-length buffer) or -PH_EIO (broken).
 */
int virtq_add(struct virtq *vq, const struct virtq_buf *bufs, unsigned n, void *token);

/*
 * After one or more virtq_add(): must the device be notified? With EVENT_IDX
 * this is vring_need_event(avail_event, new, old) over the avail index moved
 * since the last call; otherwise "used->flags lacks NO_NOTIFY". False when
 * nothing was added or the queue is broken.
 */
bool virtq_kick_prepare(struct virtq *vq);

/*
 * Harvest one used chain: returns 1 and sets *token and *len (bytes the
 * device wrote), 0 when there is none, -PH_EIO when the queue is (or just
 * became) broken. The chain's descriptors go back on the free list.
 */
int virtq_get_used(struct virtq *vq, void **token, uint32_t *len);

/* True when a used entry is waiting (false when broken). */
bool virtq_has_used(struct virtq *vq);

/*
 * Ask the device not to interrupt (a hint: it may still). Without EVENT_IDX
 * sets VRING_AVAIL_F_NO_INTERRUPT; with it, moves used_event out of reach.
 */
void virtq_disable_cb(struct virtq *vq);

/*
 * Ask for an interrupt on the next used entry. Returns true if the ring was
 * empty afterwards (safe to sleep until the interrupt), false if entries
 * are already waiting (harvest them instead of sleeping).
 */
bool virtq_enable_cb(struct virtq *vq);

/* Mark the queue broken (e.g. the device was reset behind our back). */
void virtq_break(struct virtq *vq);
static inline bool virtq_is_broken(const struct virtq *vq) { return vq->broken; }

/*
 * Only after the device was reset (it no longer touches the rings): take
 * back one chain still in flight. Returns its token, or NULL when none
 * remain. The queue stays broken; virtq_init() again to reuse it.
 */
void *virtq_detach(struct virtq *vq);

static inline unsigned virtq_num_free(const struct virtq *vq) { return vq->num_free; }
static inline unsigned virtq_inflight(const struct virtq *vq) { return vq->inflight; }

#endif
