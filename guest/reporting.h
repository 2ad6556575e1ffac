/* SPDX-License-Identifier: MIT */
/*
 * Free page reporting in the guest: core/'s engine (engine= on the
 * command line, core/engine.h) over the zone and the balloon's sink, with
 * its deferred work run by guest/sched.h's per-CPU work items.
 */
#ifndef GUEST_REPORTING_H
#define GUEST_REPORTING_H

/* After virtio_init(): resolve the engine's parameters against the sink
 * (a bad combination is a bad command line) and start the engine. */
void reporting_init(void);

/* One console line with the engine's counters (nothing when off). */
void reporting_summary(void);

#endif
