/* SPDX-License-Identifier: MIT */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "vring_dev.h"

static const char *const err_str[VRING_ERR__COUNT] = {
	[VRING_OK] = "no error",
	[VRING_ERR_RING_RANGE] = "a ring area is outside guest RAM",
	[VRING_ERR_RING_ALIGN] = "a ring area is misaligned",
	[VRING_ERR_SIZE] = "queue size is 0, above the maximum, or not a power of 2",
	[VRING_ERR_AVAIL_IDX] = "avail index moved by more than the queue size",
	[VRING_ERR_HEAD] = "chain head index is beyond the queue size",
	[VRING_ERR_NEXT] = "descriptor next index is beyond its table",
	[VRING_ERR_LOOP] = "descriptor chain loops",
	[VRING_ERR_TOO_LONG] = "descriptor chain is longer than the queue size",
	[VRING_ERR_ORDER] = "device-readable descriptor after a device-writable one",
	[VRING_ERR_INDIRECT_FEATURE] = "indirect descriptor but VIRTIO_RING_F_INDIRECT_DESC not negotiated",
	[VRING_ERR_INDIRECT_NEXT] = "indirect descriptor also has NEXT set",
	[VRING_ERR_INDIRECT_NESTED] = "indirect descriptor inside an indirect table",
	[VRING_ERR_INDIRECT_LEN] = "indirect table length is 0 or not a multiple of 16",
	[VRING_ERR_INDIRECT_RANGE] = "indirect table is outside guest RAM",
};

const char *vring_err_str(enum vring_err e)
{
	return (unsigned)e < VRING_ERR__COUNT ? err_str[e] : "unknown error";
}

/* Areas per spec 2.7 (table 2.2): alignment and size for a given num. */
static uint64_t avail_size(uint16_t num, bool ev) { return 4 + 2ULL * num + (ev ? 2 : 0); }
static uint64_t used_size(uint16_t num, bool ev) { return 4 + 8ULL * num + (ev ? 2 : 0); }

enum vring_err vring_dev_setup(struct vring_dev *vq, const struct guest_mem *gm,
			       uint16_t num, uint64_t desc, uint64_t avail, uint64_t used,
			       bool event_idx, bool indirect)
{
	void *d, *a, *u;

	memset(vq, 0, sizeof(*vq));
	if (num == 0 || (num & (num - 1)))
		return VRING_ERR_SIZE;
	if ((desc & 15) || (avail & 1) || (used & 3))
		return VRING_ERR_RING_ALIGN;
	d = gm_translate(gm, desc, 16ULL * num);
	a = gm_translate(gm, avail, avail_size(num, event_idx));
	u = gm_translate(gm, used, used_size(num, event_idx));
	if (!d || !a || !u)
		return VRING_ERR_RING_RANGE;

	vq->elems = calloc(num, sizeof(*vq->elems));
	vq->visited = calloc((num + 63) / 64, sizeof(uint64_t));
	if (!vq->elems || !vq->visited) {
		free(vq->elems);
		free(vq->visited);
		vq->elems = NULL;
		vq->visited = NULL;
		return VRING_ERR_SIZE;
	}
	vq->gm = gm;
	vq->num = num;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->desc = d;
	vq->avail = a;
	vq->used = u;
	/* Spec 2.7.13: a fresh ring starts at index 0 on both sides. */
	vq->used_idx = vq->last_avail = vq->signalled_used = 0;
	return VRING_OK;
}

void vring_dev_teardown(struct vring_dev *vq)
{
	free(vq->elems);
	free(vq->visited);
	memset(vq, 0, sizeof(*vq));
}

static int fail(struct vring_dev *vq, enum vring_err e)
{
	if (!vq->err)
		vq->err = e;
	return -(int)vq->err;
}

/* Read the driver's descriptor once: the guest may change it under us, so
 * every check below is on this copy. */
static void read_desc(const void *table, unsigned i, struct vring_desc *out)
{
	memcpy(out, (const uint8_t *)table + 16ULL * i, sizeof(*out));
	out->addr = le64toh(out->addr);
	out->len = le32toh(out->len);
	out->flags = le16toh(out->flags);
	out->next = le16toh(out->next);
}

int vring_dev_pop(struct vring_dev *vq, struct vring_chain *c)
{
	if (vq->err)
		return -(int)vq->err;
	if (!vq->num)
		return 0;

	/* Acquire: the ring entry and descriptors the driver wrote before
	 * bumping idx are visible after this load. */
	uint16_t avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
	uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
	if (pending == 0)
		return 0;
	if (pending > vq->num)
		return fail(vq, VRING_ERR_AVAIL_IDX);

	uint16_t head = le16toh(__atomic_load_n(&vq->avail->ring[vq->last_avail % vq->num],
						__ATOMIC_RELAXED));
	if (head >= vq->num)
		return fail(vq, VRING_ERR_HEAD);

	const void *table = vq->desc;
	unsigned tsize = vq->num, i = head, n = 0, in_table = 0;
	bool indirect = false, seen_write = false;

	memset(vq->visited, 0, (vq->num + 63) / 64 * sizeof(uint64_t));
	for (;;) {
		struct vring_desc d;

		if (!indirect) {
			uint64_t bit = 1ULL << (i % 64);
			if (vq->visited[i / 64] & bit)
				return fail(vq, VRING_ERR_LOOP);
			vq->visited[i / 64] |= bit;
		} else if (++in_table > tsize) {
			/* More steps than entries: the table loops. */
			return fail(vq, VRING_ERR_LOOP);
		}
		read_desc(table, i, &d);

		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (!vq->indirect)
				return fail(vq, VRING_ERR_INDIRECT_FEATURE);
			if (indirect)
				return fail(vq, VRING_ERR_INDIRECT_NESTED);
			if (d.flags & VRING_DESC_F_NEXT)
				return fail(vq, VRING_ERR_INDIRECT_NEXT);
			if (d.len == 0 || d.len % 16)
				return fail(vq, VRING_ERR_INDIRECT_LEN);
			if (d.len / 16 > vq->num)
				return fail(vq, VRING_ERR_TOO_LONG);
			table = gm_translate(vq->gm, d.addr, d.len);
			if (!table)
				return fail(vq, VRING_ERR_INDIRECT_RANGE);
			tsize = d.len / 16;
			indirect = true;
			i = 0;
			continue;
		}

		if (n >= vq->num)
			return fail(vq, VRING_ERR_TOO_LONG);
		if (d.flags & VRING_DESC_F_WRITE)
			seen_write = true;
		else if (seen_write)
			return fail(vq, VRING_ERR_ORDER);
		vq->elems[n++] = (struct vring_elem){
			.addr = d.addr, .len = d.len,
			.write = (d.flags & VRING_DESC_F_WRITE) != 0,
		};
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (d.next >= tsize)
			return fail(vq, VRING_ERR_NEXT);
		i = d.next;
	}

	vq->last_avail++;
	c->head = head;
	c->n = n;
	c->e = vq->elems;
	return 1;
}

void vring_dev_push(struct vring_dev *vq, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e = &vq->used->ring[vq->used_idx % vq->num];

	e->id = htole32(head);
	e->len = htole32(len);
	vq->used_idx++;
	/* Release: the element is visible before the index that covers it. */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
}

bool vring_dev_should_signal(struct vring_dev *vq)
{
	uint16_t old = vq->signalled_used, now = vq->used_idx;
	bool need;

	if (!vq->num || old == now)
		return false;
	/* Full barrier: our used->idx store must be globally visible before
	 * we read the driver's used_event / flags, or we could miss the
	 * driver re-enabling interrupts (the driver does the mirror image). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx) {
		uint16_t ev = le16toh(__atomic_load_n(&vq->avail->ring[vq->num], __ATOMIC_RELAXED));
		need = vring_need_event(ev, now, old);
	} else {
		need = !(le16toh(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED)) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	}
	vq->signalled_used = now;
	return need;
}

bool vring_dev_arm_notify(struct vring_dev *vq)
{
	if (!vq->num || vq->err)
		return false;
	if (vq->event_idx) {
		/* avail_event lives after the used ring: kick us when the
		 * driver makes entry last_avail available. */
		uint16_t *avail_event = (uint16_t *)&vq->used->ring[vq->num];
		__atomic_store_n(avail_event, htole16(vq->last_avail), __ATOMIC_RELAXED);
	}
	/* Full barrier: publish avail_event before re-reading avail->idx, so
	 * a driver that added a buffer without kicking (it read the old
	 * avail_event) is seen here. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE)) != vq->last_avail;
}
