/* SPDX-License-Identifier: MIT */
/*
 * Free page reporting in the guest: core/'s engine (engine= on the
 * command line, core/engine.h) over the zone and the balloon's sink, with
 * its deferred work run by guest/sched.h's per-CPU work items.
 */
#ifndef GUEST_REPORTING_H
#define GUEST_REPORTING_H

struct balloon_xl_hooks;

/* For virtio_init(): report.mode=exitless's state map over the zone, set
 * up once (all USED) when the balloon asks for it, and what happens when
 * the device accepts it again after a reset (the free blocks published). */
extern const struct balloon_xl_hooks reporting_xl_hooks;

/* After virtio_init(): resolve the engine's parameters against the sink
 * (a bad combination is a bad command line) and start the engine. */
void reporting_init(void);

/* One console line with the engine's counters (nothing when off); in
 * exitless mode the map's counters (@xl). */
void reporting_summary(void);

/* test=exitless (engine=off): the map's guest side over the zone with a
 * stand-in host on the last CPU (a work item scanning the map and zeroing
 * what it claims), around the workload; @xltest lines. */
void reporting_xl_selftest(void);

#endif
