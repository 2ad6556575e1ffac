/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio devices named on the command line (virtio_mmio.device=, as
 * Linux takes them). The balloon (device id 5) is driven by core/'s
 * driver (core/balloon_driver.h); this file gives it register accessors
 * (volatile MMIO at CPL3), identity address translation, memory, the
 * allocator, and the interrupt: IOAPIC pin -> wake CPU 0 -> at CPL3,
 * balloon_drv_interrupt() and a work item running balloon_drv_poll().
 * Other device types are listed and left alone.
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <stdint.h>

#include "../core/report_sink.h"

struct ph_xl_map;

/* What the balloon asks of free page reporting, which hands it over
 * (reporting.h's reporting_xl_hooks): the exitless map to post, or NULL
 * (asked once, when a balloon is probed), and a call when the device
 * accepts the map again after a reset (no lock held). */
struct balloon_xl_hooks {
	struct ph_xl_map *(*map)(void);
	void (*attached)(void);
};

void virtio_init(const struct balloon_xl_hooks *xl);

/* The balloon's free page reporting sink; NULL without a balloon or
 * without VIRTIO_BALLOON_F_REPORTING (capacity is then 0). */
struct ph_report_sink *balloon_sink(void);

/*
 * The exitless map's answer (docs/exitless.md §1), waiting at most
 * timeout_ns for it: 1 accepted, 0 not (why: "no-balloon", "not-offered",
 * "refused", "no-answer"; *status the device's status byte, 0xff none).
 */
int balloon_xl_wait(uint64_t timeout_ns, const char **why, unsigned *status);

/* The balloon driver's exitless counters (resets, posts); 0 without one. */
void balloon_xl_counters(unsigned long *posts, unsigned long *resets,
			 unsigned long *left_reclaiming);

/* One console line: the balloon's target, size and counters. */
void balloon_summary(void);

/* test=report: isolate a few free blocks, report them, put them back. */
void balloon_selftest(void);

#endif
