/* SPDX-License-Identifier: MIT */
/*
 * Driver side of a split virtqueue; see virtq.h for the contract.
 *
 * Memory ordering. The device runs on another CPU (a VMM thread) and sees
 * the rings as plain memory, so the driver needs CPU barriers, not I/O ones:
 *  - publish: descriptors and the avail ring entry are written first, then
 *    avail->idx with a release store, so the device never sees an index
 *    that covers an entry it cannot read yet;
 *  - kick decision: a full fence between that idx store and the load of
 *    avail_event / used->flags (store->load order needs mfence on x86);
 *    otherwise both sides can miss each other's update and the kick is lost;
 *  - harvest: used->idx is read with acquire, so the used entries it covers
 *    are read after it and are not stale;
 *  - enable interrupts: a full fence between the used_event (or flags)
 *    store and the re-read of used->idx, for the same lost-wakeup reason.
 * Shared fields are read and written with single-copy-atomic accesses
 * (__atomic_*), so a field the device is writing is never torn and never
 * read twice: each used entry is copied once and then checked.
 */
#include "virtq.h"

#define LOAD16(p)      __atomic_load_n((p), __ATOMIC_RELAXED)
#define LOAD32(p)      __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE16(p, v)  __atomic_store_n((p), (v), __ATOMIC_RELAXED)

static inline uint16_t *used_event_p(struct virtq *vq)
{
	return &vq->avail->ring[vq->num];
}

static inline uint16_t *avail_event_p(struct virtq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

static inline size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

size_t virtq_contig_bytes(unsigned num)
{
	size_t used_off = align_up(virtq_desc_bytes(num) + virtq_avail_bytes(num),
				   PH_VRING_USED_ALIGN_SIZE);
	return used_off + virtq_used_bytes(num);
}

static void zero(void *p, size_t n)
{
	volatile uint8_t *b = p;
	while (n--)
		*b++ = 0;
}

int virtq_init(struct virtq *vq, unsigned num, void *desc, void *avail, void *used,
	       struct virtq_slot *slots, bool event_idx)
{
	if (!vq || !desc || !avail || !used || !slots)
		return -PH_EINVAL;
	if (num == 0 || num > PH_VIRTQ_MAX_NUM || (num & (num - 1)))
		return -PH_EINVAL;
	if (((uintptr_t)desc & (PH_VRING_DESC_ALIGN_SIZE - 1)) ||
	    ((uintptr_t)avail & (PH_VRING_AVAIL_ALIGN_SIZE - 1)) ||
	    ((uintptr_t)used & (PH_VRING_USED_ALIGN_SIZE - 1)))
		return -PH_EINVAL;

	zero(desc, virtq_desc_bytes(num));
	zero(avail, virtq_avail_bytes(num));
	zero(used, virtq_used_bytes(num));

	*vq = (struct virtq){
		.desc = desc, .avail = avail, .used = used, .slots = slots,
		.num = (uint16_t)num, .num_free = (uint16_t)num,
		.event_idx = event_idx,
	};
	/* Free list: 0 -> 1 -> ... -> num-1, kept only in private memory. */
	for (unsigned i = 0; i < num; i++)
		slots[i] = (struct virtq_slot){ .next = (uint16_t)((i + 1) & (num - 1)) };
	return 0;
}

int virtq_init_contig(struct virtq *vq, unsigned num, void *mem,
		      struct virtq_slot *slots, bool event_idx)
{
	if (!mem || num == 0 || num > PH_VIRTQ_MAX_NUM)
		return -PH_EINVAL;
	uint8_t *base = mem;
	uint8_t *avail = base + virtq_desc_bytes(num);
	uint8_t *used = base + align_up(virtq_desc_bytes(num) + virtq_avail_bytes(num),
					PH_VRING_USED_ALIGN_SIZE);
	return virtq_init(vq, num, base, avail, used, slots, event_idx);
}

int virtq_add(struct virtq *vq, const struct virtq_buf *bufs, unsigned n, void *token)
{
	if (vq->broken)
		return -PH_EIO;
	if (n == 0 || !token || !bufs)
		return -PH_EINVAL;
	for (unsigned k = 0; k < n; k++)
		if (bufs[k].len == 0)
			return -PH_EINVAL;
	if (n > vq->num_free)
		return -PH_ENOSPC;

	uint16_t head = vq->free_head, i = head;
	uint64_t wlen = 0;
	for (unsigned k = 0; k < n; k++) {
		struct ph_vring_desc *d = &vq->desc[i];
		bool last = k + 1 == n;
		uint16_t flags = (bufs[k].write ? PH_VRING_DESC_F_WRITE : 0) |
				 (last ? 0 : PH_VRING_DESC_F_NEXT);
		d->addr = ph_le64(bufs[k].addr);
		d->len = ph_le32(bufs[k].len);
		d->flags = ph_le16(flags);
		d->next = ph_le16(last ? 0 : vq->slots[i].next);
		if (bufs[k].write)
			wlen += bufs[k].len;
		i = vq->slots[i].next;
	}
	/* The chain's descriptors are exactly the first n of the free list,
	 * so their private links already form the chain. */
	vq->free_head = i;
	vq->num_free = (uint16_t)(vq->num_free - n);
	vq->slots[head].token = token;
	vq->slots[head].ndesc = (uint16_t)n;
	vq->slots[head].wlen = wlen > UINT32_MAX ? UINT32_MAX : (uint32_t)wlen;
	vq->inflight++;

	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = ph_le16(head);
	vq->avail_idx++;
	/* Release: the descriptors and the ring entry above are visible to
	 * the device before the index that covers them. */
	__atomic_store_n(&vq->avail->idx, ph_le16(vq->avail_idx), __ATOMIC_RELEASE);
	return 0;
}

bool virtq_kick_prepare(struct virtq *vq)
{
	if (vq->broken)
		return false;
	/* Full fence: our avail->idx store must be globally visible before we
	 * read the device's avail_event / NO_NOTIFY (store->load). */
	atomic_thread_fence(memory_order_seq_cst);
	uint16_t old = vq->kicked_idx, new = vq->avail_idx;
	vq->kicked_idx = new;
	if (old == new)
		return false;
	if (vq->event_idx) {
		uint16_t ev = ph_le16(LOAD16(avail_event_p(vq)));
		/* vring_need_event(): did new_idx pass ev since old? */
		return (uint16_t)(new - ev - 1) < (uint16_t)(new - old);
	}
	return !(ph_le16(LOAD16(&vq->used->flags)) & PH_VRING_USED_F_NO_NOTIFY);
}

static void mark_broken(struct virtq *vq)
{
	vq->broken = true;
}

void virtq_break(struct virtq *vq)
{
	mark_broken(vq);
}

/* Put head's chain back on the free list. head is a valid in-flight head. */
static void free_chain(struct virtq *vq, uint16_t head)
{
	struct virtq_slot *s = vq->slots;
	uint16_t n = s[head].ndesc, last = head;
	for (uint16_t k = 1; k < n; k++)
		last = s[last].next;
	s[last].next = vq->free_head;
	vq->free_head = head;
	vq->num_free = (uint16_t)(vq->num_free + n);
	s[head].token = NULL;
	s[head].ndesc = 0;
	s[head].wlen = 0;
	vq->inflight--;
}

bool virtq_has_used(struct virtq *vq)
{
	if (vq->broken)
		return false;
	return ph_le16(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE)) != vq->last_used;
}

int virtq_get_used(struct virtq *vq, void **token, uint32_t *len)
{
	if (vq->broken)
		return -PH_EIO;
	/* Acquire: the used entries below are read after the index. */
	uint16_t uidx = ph_le16(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
	uint16_t pending = (uint16_t)(uidx - vq->last_used);
	if (pending == 0)
		return 0;
	/* The device can only return chains we gave it: more than are in
	 * flight (at most num) means a corrupt or hostile used->idx. */
	if (PH_WARN_ON(pending > vq->inflight)) {
		mark_broken(vq);
		return -PH_EIO;
	}
	struct ph_vring_used_elem *e = &vq->used->ring[vq->last_used & (vq->num - 1)];
	uint32_t id = ph_le32(LOAD32(&e->id));   /* read once, then checked */
	uint32_t ulen = ph_le32(LOAD32(&e->len));
	if (PH_WARN_ON(id >= vq->num)) {
		mark_broken(vq);
		return -PH_EIO;
	}
	/* Not the head of a chain in flight: never added, a middle
	 * descriptor of a chain, or returned twice. */
	if (PH_WARN_ON(vq->slots[id].ndesc == 0)) {
		mark_broken(vq);
		return -PH_EIO;
	}
	/* A length beyond what the device may write is a device bug but
	 * harmless to us: clamp it and count it (devices in the wild get the
	 * used length wrong; Linux had to make this check optional). */
	if (ulen > vq->slots[id].wlen) {
		ulen = vq->slots[id].wlen;
		vq->bad_len++;
	}
	*token = vq->slots[id].token;
	if (len)
		*len = ulen;
	free_chain(vq, (uint16_t)id);
	vq->last_used++;

	if (vq->event_idx) {
		if (!vq->cb_disabled) {
			/* Interrupts wanted: ask for one at the next entry, and
			 * order that store before our next read of used->idx. */
			STORE16(used_event_p(vq), ph_le16(vq->last_used));
			atomic_thread_fence(memory_order_seq_cst);
		} else {
			STORE16(used_event_p(vq), ph_le16((uint16_t)(vq->last_used + vq->num)));
		}
	}
	return 1;
}

void virtq_disable_cb(struct virtq *vq)
{
	vq->cb_disabled = true;
	vq->avail_flags |= PH_VRING_AVAIL_F_NO_INTERRUPT;
	if (vq->event_idx)
		/* Spec: with EVENT_IDX avail->flags stays 0; instead put
		 * used_event where used->idx cannot reach before our next
		 * harvest (at most num entries are outstanding). */
		STORE16(used_event_p(vq), ph_le16((uint16_t)(vq->last_used + vq->num)));
	else
		STORE16(&vq->avail->flags, ph_le16(vq->avail_flags));
}

bool virtq_enable_cb(struct virtq *vq)
{
	if (vq->broken)
		return false;
	vq->cb_disabled = false;
	vq->avail_flags &= (uint16_t)~PH_VRING_AVAIL_F_NO_INTERRUPT;
	if (vq->event_idx)
		STORE16(used_event_p(vq), ph_le16(vq->last_used));
	else
		STORE16(&vq->avail->flags, ph_le16(vq->avail_flags));
	/* Full fence: the device must see the request before we look at
	 * used->idx, or an entry published in between would not interrupt. */
	atomic_thread_fence(memory_order_seq_cst);
	return ph_le16(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE)) == vq->last_used;
}

void *virtq_detach(struct virtq *vq)
{
	for (unsigned i = 0; i < vq->num; i++) {
		if (vq->slots[i].ndesc) {
			void *token = vq->slots[i].token;
			vq->broken = true;
			free_chain(vq, (uint16_t)i);
			return token;
		}
	}
	return NULL;
}
