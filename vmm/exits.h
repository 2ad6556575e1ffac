/* SPDX-License-Identifier: MIT */
/*
 * VM exits by cause. Every return of KVM_RUN to userspace is counted once,
 * under one cause: MMIO by device and register class (the virtio-mmio
 * balloon's queue notifies by queue role, its interrupt, config, status,
 * feature, queue-setup and other registers; MMIO where no device is), port
 * I/O by device (serial, the exit port, other ports), hlt, intr (KVM_EXIT_INTR
 * and KVM_RUN's EINTR/EAGAIN) and every other KVM exit reason. Queue
 * notifies that KVM turns into an ioeventfd signal never reach userspace:
 * they are counted apart, by queue role.
 *
 * The stats queue is its own cause (its notifies, and the interrupt
 * register accesses of an interrupt only it raised), so the device's cost
 * for reporting (exit_counts_device) leaves out the once-a-second stats
 * request.
 */
#ifndef VMM_EXITS_H
#define VMM_EXITS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "balloon.h"

enum exit_cause {
	/* QueueNotify writes that reached userspace, by the queue's role */
	EXIT_BALLOON_NOTIFY_INFLATE,
	EXIT_BALLOON_NOTIFY_DEFLATE,
	EXIT_BALLOON_NOTIFY_STATS,
	EXIT_BALLOON_NOTIFY_REPORT,
	EXIT_BALLOON_NOTIFY_MAP,
	EXIT_BALLOON_NOTIFY_OTHER,	/* a queue with no role */
	EXIT_BALLOON_IRQ,		/* InterruptStatus, InterruptACK */
	EXIT_BALLOON_IRQ_STATS,		/* the same, for an interrupt only the stats queue raised */
	EXIT_BALLOON_CONFIG,		/* device config space, ConfigGeneration */
	EXIT_BALLOON_STATUS,
	EXIT_BALLOON_FEATURES,		/* Device/DriverFeatures and their Sel */
	EXIT_BALLOON_QUEUE,		/* queue setup: Sel, NumMax, Num, Ready, ring addresses */
	EXIT_BALLOON_OTHER,		/* ids, legacy and shared-memory registers, holes */
	EXIT_MMIO_OTHER,		/* no device there */
	EXIT_IO_SERIAL,
	EXIT_IO_EXIT_PORT,
	EXIT_IO_ACPI,			/* the ACPI sleep and reset registers */
	EXIT_IO_OTHER,
	EXIT_HLT,
	EXIT_INTR,
	EXIT_OTHER,			/* any other KVM exit reason */
	EXIT_CAUSE_COUNT
};

#define EXIT_ROLES (BQ_NONE + 1)	/* queue roles, BQ_NONE ("other") included */

/* Summed over vCPUs; the device worker adds the ioeventfd notifies. */
struct exit_stats {
	atomic_ulong cause[EXIT_CAUSE_COUNT];
	atomic_ulong notify[EXIT_ROLES];	/* ioeventfd: no exit to userspace */
};

/* A snapshot of exit_stats. */
struct exit_counts {
	uint64_t cause[EXIT_CAUSE_COUNT];
	uint64_t notify[EXIT_ROLES];
};

/* Names as the summary JSON and (after "exits_") the trace CSV give them. */
extern const char *const exit_cause_names[EXIT_CAUSE_COUNT];
extern const char *const exit_role_names[EXIT_ROLES];

/* A virtio-mmio balloon register access at window offset off. role: the
 * queue it concerns (QueueNotify: the one written; InterruptStatus and
 * InterruptACK: the only queue whose used buffers raised the pending
 * interrupt), else BQ_NONE. */
enum exit_cause exit_cause_balloon(uint64_t off, bool write, enum balloon_queue_role role);
/* The same on transport t, the role found by queue_role(opaque, q) (NULL:
 * none known); val is what a write writes. Call it before the access: an
 * InterruptACK makes the transport forget which queues raised it. */
struct virtio_mmio_dev;
enum exit_cause exit_cause_vmmio(struct virtio_mmio_dev *t, uint64_t off, bool write, uint32_t val,
				 enum balloon_queue_role (*queue_role)(void *opaque, unsigned q),
				 void *opaque);
/* A port I/O exit. */
enum exit_cause exit_cause_port(uint16_t port);
/* A KVM exit reason other than KVM_EXIT_IO and KVM_EXIT_MMIO. */
enum exit_cause exit_cause_reason(uint32_t exit_reason);

void exit_stats_count(struct exit_stats *x, enum exit_cause c);
void exit_stats_notify(struct exit_stats *x, enum balloon_queue_role role, uint64_t n);
void exit_stats_read(const struct exit_stats *x, struct exit_counts *out);

/* Every exit to userspace: the sum of the causes. */
uint64_t exit_counts_total(const struct exit_counts *c);
uint64_t exit_counts_io(const struct exit_counts *c);
uint64_t exit_counts_mmio(const struct exit_counts *c);
uint64_t exit_counts_notifies(const struct exit_counts *c);
/* What the balloon device costs the guest outside the stats queue: its
 * register accesses that reached userspace and its ioeventfd notifies. */
uint64_t exit_counts_device(const struct exit_counts *c);

#endif
