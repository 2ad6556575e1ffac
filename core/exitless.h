/* SPDX-License-Identifier: MIT */
/*
 * The exitless mode's shared state map (docs/exitless.md): one byte per
 * 2 MiB frame of guest RAM, in guest memory, that the guest and the host
 * both change with atomic compare-and-swap, so that free memory goes back
 * to the host with no request and no VM exit, and a frame is never handed
 * out while the host discards it.
 *
 *   USED        the guest owns the frame; the host never touches it
 *   FREE        wholly free in the guest, still backed: the host may claim it
 *   RECLAIMING  claimed by the host, which is discarding it
 *   RECLAIMED   free in the guest and discarded on the host
 *
 *   guest  USED -> FREE             ph_xl_guest_mark_free (store-release)
 *   guest  FREE|RECLAIMED -> USED   ph_xl_guest_take (CAS; waits out
 *                                   RECLAIMING, bounded)
 *   host   FREE -> RECLAIMING       ph_xl_host_scan (CAS), then discard,
 *          RECLAIMING -> RECLAIMED  then CAS
 *
 * The guest calls both of its functions under its zone lock (which orders
 * its own transitions); the CASes are against the host only. The host's
 * side is here too so that the hosted tests can run both against each
 * other; the VMM's scanner uses it over its mapping of guest RAM.
 *
 * Layout of the map's memory (ph_xl_mem_bytes): a 64-byte header (the
 * guest's free_gen, incremented each time it publishes FREE frames, so a
 * scanner can poll one word), then nr_frames entries.
 */
#ifndef PH_EXITLESS_H
#define PH_EXITLESS_H

#include "platform.h"

#define PH_XL_FRAME_ORDER	9	/* 2 MiB frames of 4 KiB pages */

enum ph_xl_state {
	PH_XL_USED = 0,
	PH_XL_FREE = 1,
	PH_XL_RECLAIMING = 2,
	PH_XL_RECLAIMED = 3,
};

struct ph_xl_header {
	_Atomic uint64_t free_gen;	/* guest: bumped (release) after publishing FREE */
	uint64_t reserved[7];
};

struct ph_xl_map {
	struct ph_xl_header *hdr;
	_Atomic uint8_t *entry;		/* nr_frames */
	uint64_t first_frame;		/* frame i is pfns [(first_frame + i) << 9, +512) */
	uint32_t nr_frames;
	uint32_t scan_pos;		/* host: where the next scan starts */
	/* counters (relaxed) */
	_Atomic uint64_t taken_free;		/* guest took back a FREE frame */
	_Atomic uint64_t taken_reclaimed;	/* guest took a RECLAIMED frame (refault) */
	_Atomic uint64_t waits;			/* guest found RECLAIMING and waited */
	_Atomic uint64_t wait_timeouts;		/* ... and gave up */
	_Atomic uint64_t reclaimed;		/* host: frames discarded */
	_Atomic uint64_t discard_calls;		/* host: discard calls (runs) */
	_Atomic uint64_t violations;		/* host: RECLAIMING changed under it */
	_Atomic uint64_t discard_errors;	/* host: discard failed */
	_Atomic uint64_t abandoned;		/* host: frames left RECLAIMING (PH_XL_ABANDON) */
};

/* Bytes of map memory for pfns [first_pfn, first_pfn + npages). */
size_t ph_xl_mem_bytes(uint64_t first_pfn, uint64_t npages);

/*
 * Set the map up in mem (len bytes, 8-byte aligned) for those pfns: every
 * entry USED, free_gen 0. 0 or -PH_EINVAL. (The host side attaches to
 * memory the guest set up with ph_xl_attach.)
 */
int ph_xl_init(struct ph_xl_map *m, void *mem, size_t len, uint64_t first_pfn, uint64_t npages);

/* Host: use map memory the guest initialised, for nr_frames frames from
 * first_frame (as the guest's descriptor says; the VMM checks that they
 * and mem lie inside guest RAM first). 0 or -PH_EINVAL. */
int ph_xl_attach(struct ph_xl_map *m, void *mem, size_t len, uint64_t first_frame,
		 uint32_t nr_frames);

/* The state of the frame containing pfn (PH_XL_USED outside the map). */
enum ph_xl_state ph_xl_state_of(const struct ph_xl_map *m, uint64_t pfn);

/*
 * Guest, free path: the free block (pfn, order) entered the free lists.
 * If order >= 9 its frames go USED -> FREE (frames already FREE or
 * RECLAIMED, i.e. half of a merged block, stay), with release ordering:
 * everything the guest did with the memory before happens before. Then
 * free_gen moves. Smaller blocks: nothing. Returns frames published.
 */
unsigned ph_xl_guest_mark_free(struct ph_xl_map *m, uint64_t pfn, unsigned order);

/*
 * Guest, allocation path: pages of [pfn, pfn + 2^order) are about to be
 * handed out. Every frame they touch goes to USED: FREE -> USED or
 * RECLAIMED -> USED by CAS (acquire: no use of the memory moves before
 * it); USED stays. A frame RECLAIMING is being discarded: wait (pause)
 * until the host publishes RECLAIMED, at most wait_ns. Returns 0, or
 * -PH_EBUSY if a frame was still RECLAIMING after wait_ns: the caller must
 * not use that memory (take the block off the free lists for good).
 */
int ph_xl_guest_take(struct ph_xl_map *m, uint64_t pfn, unsigned order, uint64_t wait_ns);

/*
 * Guest, after a device reset (docs/exitless.md §1): the host no longer
 * owns any frame, so every FREE and RECLAIMED entry goes back to USED (by
 * CAS; each returns to FREE when its block is published again). A
 * RECLAIMING entry, which a correct device never leaves behind, stays:
 * the allocation path's bounded wait deals with it. Returns how many
 * entries were left RECLAIMING.
 */
unsigned ph_xl_guest_reset(struct ph_xl_map *m);

/* Host: discard [gpa, gpa + len) (madvise); 0 or negative, or: */
typedef int (*ph_xl_discard_fn)(void *ctx, uint64_t gpa, uint64_t len);
/* The host gives the run up without discarding or publishing it: its
 * frames stay RECLAIMING (a faulty device that lost the work: the guest's
 * bounded wait then takes them out), and the scan stops there. */
#define PH_XL_ABANDON 1

/*
 * Host: scan up to max_frames entries from where the last scan stopped
 * (wrapping), claim each FREE frame (CAS FREE -> RECLAIMING), discard
 * runs of adjacent claimed frames with one call each, then publish them
 * (CAS RECLAIMING -> RECLAIMED; a failure is a guest protocol violation,
 * counted, the entry left as the guest made it). A failed discard puts
 * the frames back to FREE; PH_XL_ABANDON leaves them RECLAIMING and ends
 * the scan. Never writes an entry it did not claim. Returns the frames
 * reclaimed.
 */
unsigned ph_xl_host_scan(struct ph_xl_map *m, unsigned max_frames, ph_xl_discard_fn discard,
			 void *ctx);

#endif
