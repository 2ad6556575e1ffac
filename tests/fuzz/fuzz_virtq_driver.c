/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the driver side of the split virtqueue (core/virtq.c)
 * against a hostile device. The device's half is the input: used entries
 * with any id and length, used->idx moved by any amount, and raw writes
 * anywhere in the three ring parts (they are shared memory, so a device
 * can scribble on the descriptor table and avail ring too). The driver's
 * half is ordinary use: chains added (some too long or malformed),
 * harvested, kick decisions, interrupt suppression, and after a break,
 * virtq_detach() and a fresh virtq_init().
 *
 * A model beside the queue checks: a harvested token was in flight and
 * goes out of flight (no token twice, none never added); the used length
 * reported is at most the chain's writable bytes; the free list and the
 * chains in flight partition the descriptors (nothing freed twice, nothing
 * lost); once broken, every call fails and detach hands back exactly the
 * tokens in flight, each once. The rings are exact-size heap buffers, so
 * ASan reports the driver touching anything outside them.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtq.h"

#include "fuzz_input.h"

#define MAX_NUM 128
#define MAX_ACTIONS 1024

struct tok {
	bool inflight;
	uint16_t head, ndesc;
	uint16_t desc[MAX_NUM];
	uint64_t wlen;
};

static struct {
	struct virtq vq;
	unsigned num;
	bool event_idx;
	void *desc, *avail, *used;
	size_t desc_n, avail_n, used_n;
	struct virtq_slot *slots;
	struct tok tok[MAX_NUM];	/* at most num chains in flight */
	unsigned inflight;
} m;

static void rings_init(void)
{
	int r = virtq_init(&m.vq, m.num, m.desc, m.avail, m.used, m.slots, m.event_idx);
	FZ_ASSERT(r == 0, "virtq_init %d", r);
	memset(m.tok, 0, sizeof(m.tok));
	m.inflight = 0;
}

static struct tok *free_tok(void)
{
	for (unsigned i = 0; i < m.num; i++)
		if (!m.tok[i].inflight)
			return &m.tok[i];
	return NULL;
}

static bool is_tok(void *p)
{
	return p >= (void *)m.tok && p < (void *)(m.tok + m.num) &&
	       ((uintptr_t)p - (uintptr_t)m.tok) % sizeof(struct tok) == 0;
}

/* Descriptors: in exactly one of the free list and the chains in flight. */
static void check_partition(void)
{
	uint8_t seen[MAX_NUM] = { 0 };
	unsigned used = 0;

	FZ_ASSERT(m.vq.inflight == m.inflight, "inflight %u, model %u", m.vq.inflight, m.inflight);
	for (unsigned t = 0; t < m.num; t++) {
		if (!m.tok[t].inflight)
			continue;
		for (unsigned k = 0; k < m.tok[t].ndesc; k++) {
			uint16_t d = m.tok[t].desc[k];
			FZ_ASSERT(!seen[d], "descriptor %u in two chains", d);
			seen[d] = 1;
			used++;
		}
	}
	if (m.vq.broken)
		return;	/* the free list is not used again before virtq_init */
	FZ_ASSERT(m.vq.num_free + used == m.num, "num_free %u + in flight %u != %u",
		  m.vq.num_free, used, m.num);
	uint16_t i = m.vq.free_head;
	for (unsigned k = 0; k < m.vq.num_free; k++) {
		FZ_ASSERT(i < m.num && !seen[i], "free list reaches descriptor %u twice or in use", i);
		seen[i] = 1;
		i = m.slots[i].next;
	}
}

static void add(struct fz *f)
{
	struct virtq_buf bufs[MAX_NUM + 1];
	unsigned n = fz_u8(f) < 230 ? 1 + fz_below(f, 8) : fz_below(f, m.num + 2);
	uint64_t wlen = 0;
	bool zero = false;

	for (unsigned k = 0; k < n; k++) {
		uint8_t sel = fz_u8(f);
		bufs[k] = (struct virtq_buf){
			.addr = fz_u64(f),
			.len = sel < 250 ? (uint32_t)(sel + 1) * 4096 : (sel == 250 ? 0 : fz_u32(f)),
			.write = sel & 1,
		};
		zero |= bufs[k].len == 0;
		if (bufs[k].write)
			wlen += bufs[k].len;
	}
	struct tok *t = free_tok();
	bool was_broken = m.vq.broken;
	unsigned num_free = m.vq.num_free;
	int r = virtq_add(&m.vq, bufs, n, t ? (void *)t : (void *)&m);

	if (was_broken) {
		FZ_ASSERT(r == -PH_EIO, "add on a broken queue: %d", r);
		return;
	}
	if (n == 0 || zero) {
		FZ_ASSERT(r == -PH_EINVAL, "add of a bad chain: %d", r);
		return;
	}
	if (n > num_free) {
		FZ_ASSERT(r == -PH_ENOSPC, "add of %u with %u free: %d", n, num_free, r);
		return;
	}
	FZ_ASSERT(r == 0 && t, "add of %u with %u free: %d", n, num_free, r);
	/* What the driver wrote: head in the avail ring, then the chain. */
	struct ph_vring_avail *a = m.avail;
	uint16_t head = a->ring[(uint16_t)(m.vq.avail_idx - 1) & (m.num - 1)];
	const struct ph_vring_desc *d = m.desc;
	*t = (struct tok){ .inflight = true, .head = head, .ndesc = (uint16_t)n, .wlen = wlen };
	uint16_t i = head;
	for (unsigned k = 0; k < n; k++) {
		FZ_ASSERT(i < m.num, "chain index %u", i);
		FZ_ASSERT(d[i].addr == bufs[k].addr && d[i].len == bufs[k].len,
			  "descriptor %u differs from buffer %u", i, k);
		t->desc[k] = i;
		i = d[i].next;
	}
	m.inflight++;
}

/* The device publishes one used entry (or moves the index anyhow). */
static void device_used(struct fz *f)
{
	struct ph_vring_used *u = m.used;
	uint8_t sel = fz_u8(f);
	uint32_t id;

	if (sel < 170) {	/* a head in flight, the well-behaved case */
		unsigned k = fz_below(f, m.num);
		id = m.tok[k].inflight ? m.tok[k].head : fz_below(f, m.num);
	} else if (sel < 230) {
		id = fz_below(f, m.num);	/* any descriptor: a middle one, a free one */
	} else {
		id = fz_u32(f);
	}
	uint32_t len = fz_u8(f) < 200 ? fz_u8(f) * 256u : fz_u32(f);
	uint16_t idx = u->idx;
	u->ring[idx & (m.num - 1)] = (struct ph_vring_used_elem){ id, len };
	uint16_t step = fz_u8(f) < 240 ? 1 : fz_u16(f);
	__atomic_store_n(&u->idx, (uint16_t)(idx + step), __ATOMIC_RELEASE);
}

static void harvest(void)
{
	void *token = NULL;
	uint32_t len = 0;
	bool was_broken = m.vq.broken;
	int r = virtq_get_used(&m.vq, &token, &len);

	if (was_broken) {
		FZ_ASSERT(r == -PH_EIO, "get_used on a broken queue: %d", r);
		return;
	}
	if (r <= 0) {
		FZ_ASSERT(r == 0 || (r == -PH_EIO && m.vq.broken), "get_used %d", r);
		return;
	}
	FZ_ASSERT(r == 1 && is_tok(token), "get_used handed back %p, not a token", token);
	struct tok *t = token;
	FZ_ASSERT(t->inflight, "token %ld handed back while not in flight", (long)(t - m.tok));
	FZ_ASSERT(len <= t->wlen, "used len %u > writable %llu", len, (unsigned long long)t->wlen);
	t->inflight = false;
	m.inflight--;
}

static void detach_all(void)
{
	void *token;
	unsigned n = 0;

	while ((token = virtq_detach(&m.vq)) != NULL) {
		FZ_ASSERT(is_tok(token), "detach handed back %p", token);
		struct tok *t = token;
		FZ_ASSERT(t->inflight, "detach handed back a token not in flight");
		t->inflight = false;
		m.inflight--;
		FZ_ASSERT(++n <= m.num, "detach never ends");
	}
	FZ_ASSERT(m.inflight == 0, "%u tokens in flight never detached", m.inflight);
	rings_init();
}

/* Raw bytes from the device anywhere in the shared ring memory. */
static void scribble(struct fz *f)
{
	uint8_t *p;
	size_t n;
	switch (fz_below(f, 3)) {
	case 0: p = m.desc; n = m.desc_n; break;
	case 1: p = m.avail; n = m.avail_n; break;
	default: p = m.used; n = m.used_n; break;
	}
	size_t at = fz_u16(f) % n;
	unsigned k = 1 + fz_below(f, 8);
	for (unsigned i = 0; i < k && at + i < n; i++)
		p[at + i] = fz_u8(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t c = fz_u8(&f);

	memset(&m, 0, sizeof(m));
	m.num = 1u << (c % 8);
	m.event_idx = c & 8;
	m.desc_n = virtq_desc_bytes(m.num);
	m.avail_n = virtq_avail_bytes(m.num);
	m.used_n = virtq_used_bytes(m.num);
	m.desc = aligned_alloc(16, m.desc_n);	/* 16 * num: a multiple of 16 */
	m.avail = malloc(m.avail_n);
	m.used = malloc(m.used_n);
	m.slots = malloc(m.num * sizeof(*m.slots));
	rings_init();
	ph_test_quiet_warnings = 1;

	for (unsigned a = 0; a < MAX_ACTIONS && !fz_empty(&f); a++) {
		uint8_t op = fz_u8(&f);
		switch (op % 10) {
		case 0: case 1: add(&f); break;
		case 2: case 3: device_used(&f); break;
		case 4: case 5: harvest(); break;
		case 6: scribble(&f); break;
		case 7: {
			bool broken = m.vq.broken;
			bool k = virtq_kick_prepare(&m.vq);
			FZ_ASSERT(!(broken && k), "kick on a broken queue");
			break;
		}
		case 8:
			if (op & 0x10)
				virtq_disable_cb(&m.vq);
			else if (op & 0x20)
				(void)virtq_enable_cb(&m.vq);
			else if (m.vq.broken)
				FZ_ASSERT(!virtq_has_used(&m.vq), "has_used on a broken queue");
			else
				(void)virtq_has_used(&m.vq);
			break;
		case 9:
			/* The device was reset: the caller's again. With some
			 * luck the queue is broken already; else break it. */
			if (m.vq.broken || (op & 0xf0) == 0xf0) {
				virtq_break(&m.vq);
				detach_all();
			}
			break;
		}
		check_partition();
	}
	if (!m.vq.broken)
		virtq_break(&m.vq);
	detach_all();
	free(m.desc);
	free(m.avail);
	free(m.used);
	free(m.slots);
	return 0;
}
