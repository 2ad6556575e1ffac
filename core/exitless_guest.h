/* SPDX-License-Identifier: MIT */
/*
 * The exitless mode's guest side over a buddy zone (docs/exitless.md §3):
 * the zone's hooks keep core/exitless's state map in step with the free
 * lists.
 *
 *   free:   a block of order >= 9 enters the free lists -> its frames
 *           USED -> FREE (ph_xl_guest_mark_free, release)
 *   alloc:  allocation takes a block of order >= 9 off a free list ->
 *           the frames it hands out go to USED by CAS, waiting out a
 *           host discard for at most wait_ns; a frame still RECLAIMING
 *           then makes the buddy take the frame's block out for good
 *   attach: every free block of order >= 9 already on the lists is
 *           published the same way (ph_xl_guest_publish)
 *
 * Blocks below 2 MiB are not published: they never cover a whole frame.
 * The hooks replace a reporting engine's on that zone (one set of hooks
 * per zone): in exitless mode nothing is reported over the virtio queue.
 * All map writes happen under the zone lock (in the hooks, or in
 * ph_xl_guest_publish), except ph_xl_guest_reset after a device reset.
 */
#ifndef PH_EXITLESS_GUEST_H
#define PH_EXITLESS_GUEST_H

#include "buddy_report.h"
#include "exitless.h"

/*
 * How long allocation waits for a host discard to finish before it takes
 * the frame out for good (docs/exitless.md §3). Not 10 ms: a host that is
 * only slow (one discard call over a long run of frames, a nested or
 * emulated host) must not cost the guest memory; test=exitless with a
 * stand-in host on QEMU TCG lost 61 frames at 10 ms. Only a broken host
 * ever makes an allocation wait this long.
 */
#define PH_XL_WAIT_NS	250000000ull

struct ph_xl_guest {
	struct ph_xl_map *map;
	struct ph_zone *zone;
	struct ph_report_hooks hooks;
	uint64_t wait_ns;
	_Atomic uint64_t published;	/* frames marked FREE (zone lock) */
	_Atomic uint64_t walks;		/* ph_xl_guest_publish calls */
	bool started;
};

struct ph_xl_guest_stats {
	uint64_t published;		/* frames USED -> FREE */
	uint64_t taken_free;		/* frames FREE -> USED by allocation */
	uint64_t taken_reclaimed;	/* RECLAIMED -> USED: refaults */
	uint64_t waits;			/* allocations that found RECLAIMING */
	uint64_t wait_timeouts;		/* ... still RECLAIMING after wait_ns */
	uint64_t removed_blocks;	/* blocks taken out for good */
	uint64_t removed_pages;
	uint64_t walks;
};

/*
 * Register the hooks on zone (-PH_EBUSY if it has an engine's) and
 * publish its free blocks. map is set up (ph_xl_init) over the zone's
 * pfns; g, map and the map's memory stay valid until ph_xl_guest_stop.
 * wait_ns 0: PH_XL_WAIT_NS. 0 or negative.
 */
int ph_xl_guest_start(struct ph_xl_guest *g, struct ph_zone *zone, struct ph_xl_map *map,
		      uint64_t wait_ns);

/*
 * Mark the frames of every free block of order >= 9 FREE (one zone-lock
 * hold): at start, and again each time the device accepted the map after
 * a reset. Returns the frames published.
 */
unsigned ph_xl_guest_publish(struct ph_xl_guest *g);

/* Unregister the hooks. Only once no host scans the map any more (the
 * device was reset): allocation no longer claims frames. */
void ph_xl_guest_stop(struct ph_xl_guest *g);

void ph_xl_guest_get_stats(const struct ph_xl_guest *g, struct ph_xl_guest_stats *st);

#endif
