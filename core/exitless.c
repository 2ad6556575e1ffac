/* SPDX-License-Identifier: MIT */
/*
 * The exitless state map (core/exitless.h, docs/exitless.md). The state
 * machine, once:
 *
 *   USED --guest store-release--> FREE --host CAS--> RECLAIMING
 *    ^                              |                    |
 *    +------- guest CAS ------------+        host discards, then CAS
 *    +------- guest CAS ------------------ RECLAIMED <---+
 *
 * Why a frame is never used while it is discarded: the host discards only
 * between its own successful CAS FREE -> RECLAIMING and its CAS
 * RECLAIMING -> RECLAIMED; the guest uses a frame only after its own
 * successful CAS to USED, which cannot succeed from RECLAIMING. The model
 * (tests/model/exitless.pml) checks it with spin.
 *
 * Memory ordering: the guest's store of FREE is a release (its last uses
 * of the memory happen before); its CAS to USED is acq_rel (its next uses
 * happen after; on x86 a locked instruction, a full barrier). The host's
 * CAS to RECLAIMING is acquire (it sees the guest's FREE and what came
 * before), its CAS to RECLAIMED a release after the discard call returned.
 */
#include "exitless.h"
#include "buddy.h"

#define FRAME_PAGES	(1ull << PH_XL_FRAME_ORDER)
#define HDR_BYTES	sizeof(struct ph_xl_header)

static void count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* The guest's counters change under its zone lock: a load and a store,
 * not a locked add (this is the allocation path). */
static void guest_count(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

size_t ph_xl_mem_bytes(uint64_t first_pfn, uint64_t npages)
{
	if (npages == 0)
		return HDR_BYTES;
	uint64_t first = first_pfn >> PH_XL_FRAME_ORDER;
	uint64_t last = (first_pfn + npages - 1) >> PH_XL_FRAME_ORDER;
	return HDR_BYTES + (size_t)(last - first + 1);
}

static void zero_counters(struct ph_xl_map *m)
{
	atomic_init(&m->taken_free, 0);
	atomic_init(&m->taken_reclaimed, 0);
	atomic_init(&m->waits, 0);
	atomic_init(&m->wait_timeouts, 0);
	atomic_init(&m->reclaimed, 0);
	atomic_init(&m->discard_calls, 0);
	atomic_init(&m->violations, 0);
	atomic_init(&m->discard_errors, 0);
	atomic_init(&m->abandoned, 0);
	m->scan_pos = 0;
}

int ph_xl_attach(struct ph_xl_map *m, void *mem, size_t len, uint64_t first_frame,
		 uint32_t nr_frames)
{
	if (!m || !mem || ((uintptr_t)mem & 7) || len < HDR_BYTES + (size_t)nr_frames)
		return -PH_EINVAL;
	m->hdr = mem;
	m->entry = (_Atomic uint8_t *)((char *)mem + HDR_BYTES);
	m->first_frame = first_frame;
	m->nr_frames = nr_frames;
	zero_counters(m);
	return 0;
}

int ph_xl_init(struct ph_xl_map *m, void *mem, size_t len, uint64_t first_pfn, uint64_t npages)
{
	if (npages == 0 || first_pfn + npages < first_pfn)
		return -PH_EINVAL;
	uint64_t first = first_pfn >> PH_XL_FRAME_ORDER;
	uint64_t n = ((first_pfn + npages - 1) >> PH_XL_FRAME_ORDER) - first + 1;

	if (n > UINT32_MAX || len < ph_xl_mem_bytes(first_pfn, npages))
		return -PH_EINVAL;
	if (ph_xl_attach(m, mem, len, first, (uint32_t)n) != 0)
		return -PH_EINVAL;
	atomic_init(&m->hdr->free_gen, 0);
	for (uint32_t i = 0; i < m->nr_frames; i++)
		atomic_init(&m->entry[i], PH_XL_USED);
	return 0;
}

/* Index of pfn's frame, or -1 outside the map. */
static int64_t frame_of(const struct ph_xl_map *m, uint64_t pfn)
{
	uint64_t f = pfn >> PH_XL_FRAME_ORDER;

	if (f < m->first_frame || f - m->first_frame >= m->nr_frames)
		return -1;
	return (int64_t)(f - m->first_frame);
}

enum ph_xl_state ph_xl_state_of(const struct ph_xl_map *m, uint64_t pfn)
{
	int64_t i = frame_of(m, pfn);

	if (i < 0)
		return PH_XL_USED;
	return (enum ph_xl_state)atomic_load_explicit((_Atomic uint8_t *)&m->entry[i],
						      memory_order_acquire);
}

/* ---- guest ---- */

unsigned ph_xl_guest_mark_free(struct ph_xl_map *m, uint64_t pfn, unsigned order)
{
	unsigned n = 0;

	if (order < PH_XL_FRAME_ORDER)
		return 0;	/* no frame is wholly free */
	for (uint64_t p = pfn; p < pfn + (1ull << order); p += FRAME_PAGES) {
		int64_t i = frame_of(m, p);

		if (i < 0)
			continue;
		/* only the guest writes a USED entry: a load and a store */
		if (atomic_load_explicit(&m->entry[i], memory_order_relaxed) != PH_XL_USED)
			continue;	/* FREE or RECLAIMED: half of a merged block */
		atomic_store_explicit(&m->entry[i], PH_XL_FREE, memory_order_release);
		n++;
	}
	/* Only the guest writes free_gen, under its zone lock: a load and a
	 * store-release, not a locked add (this is the free path). */
	if (n)
		atomic_store_explicit(&m->hdr->free_gen,
				      atomic_load_explicit(&m->hdr->free_gen, memory_order_relaxed) + 1,
				      memory_order_release);
	return n;
}

/* One frame to USED; 0 or -PH_EBUSY after wait_ns of RECLAIMING. */
static int take_frame(struct ph_xl_map *m, int64_t i, uint64_t wait_ns)
{
	uint64_t deadline = 0;
	bool waited = false;

	for (;;) {
		uint8_t s = atomic_load_explicit(&m->entry[i], memory_order_acquire);

		switch (s) {
		case PH_XL_USED:
			return 0;	/* already ours (partly allocated) */
		case PH_XL_FREE:
		case PH_XL_RECLAIMED:
			if (atomic_compare_exchange_strong_explicit(&m->entry[i], &s, PH_XL_USED,
								    memory_order_acq_rel,
								    memory_order_acquire)) {
				guest_count(s == PH_XL_RECLAIMED ? &m->taken_reclaimed : &m->taken_free);
				return 0;
			}
			continue;	/* the host claimed it meanwhile: look again */
		case PH_XL_RECLAIMING:
			if (!waited) {
				waited = true;
				guest_count(&m->waits);
				deadline = ph_now_ns() + wait_ns;
			} else if (ph_now_ns() >= deadline) {
				guest_count(&m->wait_timeouts);
				return -PH_EBUSY;
			}
			ph_cpu_relax();
			continue;
		default:
			/* not a state the guest wrote: a broken map; keep the frame */
			PH_WARN_ON(true && "exitless: invalid state in the map");
			atomic_store_explicit(&m->entry[i], PH_XL_USED, memory_order_release);
			return 0;
		}
	}
}

int ph_xl_guest_take(struct ph_xl_map *m, uint64_t pfn, unsigned order, uint64_t wait_ns)
{
	uint64_t end = pfn + (1ull << order);
	int err = 0;

	for (uint64_t p = pfn & ~(FRAME_PAGES - 1); p < end; p += FRAME_PAGES) {
		int64_t i = frame_of(m, p);

		if (i >= 0 && take_frame(m, i, wait_ns) != 0)
			err = -PH_EBUSY;
	}
	return err;
}

unsigned ph_xl_guest_reset(struct ph_xl_map *m)
{
	unsigned left = 0;

	for (uint32_t i = 0; i < m->nr_frames; i++) {
		uint8_t s = atomic_load_explicit(&m->entry[i], memory_order_acquire);

		while (s == PH_XL_FREE || s == PH_XL_RECLAIMED) {
			if (atomic_compare_exchange_weak_explicit(&m->entry[i], &s, PH_XL_USED,
								  memory_order_acq_rel,
								  memory_order_acquire))
				break;
		}
		if (s == PH_XL_RECLAIMING)
			left++;
	}
	return left;
}

/* ---- host ---- */

/* Discard the claimed frames [from, to) and publish them; false if the
 * discard abandoned them (the scan stops). */
static bool host_flush(struct ph_xl_map *m, uint32_t from, uint32_t to, ph_xl_discard_fn discard,
		       void *ctx, unsigned *done)
{
	if (from == to)
		return true;
	uint64_t gpa = ((m->first_frame + from) * FRAME_PAGES) << PH_PAGE_SHIFT;
	uint64_t len = ((uint64_t)(to - from) * FRAME_PAGES) << PH_PAGE_SHIFT;
	int err = discard(ctx, gpa, len);

	count(&m->discard_calls, 1);
	if (err == PH_XL_ABANDON) {
		count(&m->abandoned, to - from);
		return false;
	}
	if (err)
		count(&m->discard_errors, 1);
	for (uint32_t i = from; i < to; i++) {
		uint8_t s = PH_XL_RECLAIMING;

		/* release: the discard happened before RECLAIMED is seen */
		if (!atomic_compare_exchange_strong_explicit(&m->entry[i], &s,
							     err ? PH_XL_FREE : PH_XL_RECLAIMED,
							     memory_order_release,
							     memory_order_relaxed))
			count(&m->violations, 1);
		else if (!err)
			++*done;
	}
	if (!err)
		count(&m->reclaimed, to - from);
	return true;
}

unsigned ph_xl_host_scan(struct ph_xl_map *m, unsigned max_frames, ph_xl_discard_fn discard,
			 void *ctx)
{
	unsigned done = 0;
	uint32_t n = m->nr_frames;

	if (!n)
		return 0;
	if (max_frames > n)
		max_frames = n;
	uint32_t i = m->scan_pos % n, run = i;

	for (unsigned k = 0; k < max_frames; k++) {
		uint8_t s = PH_XL_FREE;
		bool claimed = atomic_load_explicit(&m->entry[i], memory_order_relaxed) == PH_XL_FREE &&
			       atomic_compare_exchange_strong_explicit(&m->entry[i], &s,
								       PH_XL_RECLAIMING,
								       memory_order_acquire,
								       memory_order_relaxed);
		if (!claimed) {
			if (!host_flush(m, run, i, discard, ctx, &done))
				goto out;
			run = i + 1;
		}
		if (++i == n) {		/* wrap: a run never crosses the end */
			bool go_on = host_flush(m, run, i, discard, ctx, &done);
			i = run = 0;
			if (!go_on)
				goto out;
		}
	}
	host_flush(m, run, i, discard, ctx, &done);
out:
	m->scan_pos = i;
	return done;
}
