/* SPDX-License-Identifier: MIT */
#include <linux/kvm.h>
#include <linux/virtio_mmio.h>

#include "acpi.h"
#include "exits.h"
#include "kvm_vm.h"	/* EXIT_PORT */
#include "serial.h"
#include "virtio_mmio.h"

const char *const exit_cause_names[EXIT_CAUSE_COUNT] = {
	[EXIT_BALLOON_NOTIFY_INFLATE] = "balloon_notify_inflate",
	[EXIT_BALLOON_NOTIFY_DEFLATE] = "balloon_notify_deflate",
	[EXIT_BALLOON_NOTIFY_STATS] = "balloon_notify_stats",
	[EXIT_BALLOON_NOTIFY_REPORT] = "balloon_notify_report",
	[EXIT_BALLOON_NOTIFY_MAP] = "balloon_notify_map",
	[EXIT_BALLOON_NOTIFY_OTHER] = "balloon_notify_other",
	[EXIT_BALLOON_IRQ] = "balloon_irq",
	[EXIT_BALLOON_IRQ_STATS] = "balloon_irq_stats",
	[EXIT_BALLOON_CONFIG] = "balloon_config",
	[EXIT_BALLOON_STATUS] = "balloon_status",
	[EXIT_BALLOON_FEATURES] = "balloon_features",
	[EXIT_BALLOON_QUEUE] = "balloon_queue",
	[EXIT_BALLOON_OTHER] = "balloon_other",
	[EXIT_MMIO_OTHER] = "mmio_other",
	[EXIT_IO_SERIAL] = "io_serial",
	[EXIT_IO_EXIT_PORT] = "io_exit_port",
	[EXIT_IO_ACPI] = "io_acpi",
	[EXIT_IO_OTHER] = "io_other",
	[EXIT_HLT] = "hlt",
	[EXIT_INTR] = "intr",
	[EXIT_OTHER] = "other_reason",
};

const char *const exit_role_names[EXIT_ROLES] = {
	[BQ_INFLATE] = "inflate", [BQ_DEFLATE] = "deflate", [BQ_STATS] = "stats",
	[BQ_REPORT] = "report", [BQ_MAP] = "map", [BQ_NONE] = "other",
};

static enum exit_cause notify_cause(enum balloon_queue_role role)
{
	switch (role) {
	case BQ_INFLATE: return EXIT_BALLOON_NOTIFY_INFLATE;
	case BQ_DEFLATE: return EXIT_BALLOON_NOTIFY_DEFLATE;
	case BQ_STATS: return EXIT_BALLOON_NOTIFY_STATS;
	case BQ_REPORT: return EXIT_BALLOON_NOTIFY_REPORT;
	case BQ_MAP: return EXIT_BALLOON_NOTIFY_MAP;
	case BQ_NONE: break;
	}
	return EXIT_BALLOON_NOTIFY_OTHER;
}

enum exit_cause exit_cause_balloon(uint64_t off, bool write, enum balloon_queue_role role)
{
	if (off >= VIRTIO_MMIO_CONFIG)
		return EXIT_BALLOON_CONFIG;
	/* A narrower access inside a register is that register's. */
	switch (off & ~3ull) {
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		return write ? notify_cause(role) : EXIT_BALLOON_OTHER;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
	case VIRTIO_MMIO_INTERRUPT_ACK:
		return role == BQ_STATS ? EXIT_BALLOON_IRQ_STATS : EXIT_BALLOON_IRQ;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return EXIT_BALLOON_CONFIG;
	case VIRTIO_MMIO_STATUS:
		return EXIT_BALLOON_STATUS;
	case VIRTIO_MMIO_DEVICE_FEATURES:
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
	case VIRTIO_MMIO_DRIVER_FEATURES:
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		return EXIT_BALLOON_FEATURES;
	case VIRTIO_MMIO_QUEUE_SEL:
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return EXIT_BALLOON_QUEUE;
	default:
		return EXIT_BALLOON_OTHER;
	}
}

enum exit_cause exit_cause_vmmio(struct virtio_mmio_dev *t, uint64_t off, bool write, uint32_t val,
				 enum balloon_queue_role (*queue_role)(void *opaque, unsigned q),
				 void *opaque)
{
	enum balloon_queue_role role = BQ_NONE;
	uint64_t reg = off & ~3ull;
	uint32_t m;

	if (!queue_role)
		return exit_cause_balloon(off, write, BQ_NONE);
	if (reg == VIRTIO_MMIO_QUEUE_NOTIFY && write && val < VIRTIO_MMIO_MAX_QUEUES) {
		role = queue_role(opaque, val);
	} else if (reg == VIRTIO_MMIO_INTERRUPT_STATUS || reg == VIRTIO_MMIO_INTERRUPT_ACK) {
		m = virtio_mmio_irq_queues(t);
		if (m && !(m & (m - 1)))	/* one queue alone */
			role = queue_role(opaque, (unsigned)__builtin_ctz(m));
	}
	return exit_cause_balloon(off, write, role);
}

enum exit_cause exit_cause_port(uint16_t port)
{
	if (port >= SERIAL_COM1 && port < SERIAL_COM1 + SERIAL_PORTS)
		return EXIT_IO_SERIAL;
	if (port >= EXIT_PORT && port < EXIT_PORT + EXIT_PORT_SIZE)
		return EXIT_IO_EXIT_PORT;
	if (port == ACPI_SLEEP_CTL_PORT || port == ACPI_SLEEP_STS_PORT || port == ACPI_RESET_PORT)
		return EXIT_IO_ACPI;
	return EXIT_IO_OTHER;
}

enum exit_cause exit_cause_reason(uint32_t exit_reason)
{
	switch (exit_reason) {
	case KVM_EXIT_HLT: return EXIT_HLT;
	case KVM_EXIT_INTR: return EXIT_INTR;
	default: return EXIT_OTHER;
	}
}

void exit_stats_count(struct exit_stats *x, enum exit_cause c)
{
	atomic_fetch_add_explicit(&x->cause[c], 1, memory_order_relaxed);
}

void exit_stats_notify(struct exit_stats *x, enum balloon_queue_role role, uint64_t n)
{
	atomic_fetch_add_explicit(&x->notify[role <= BQ_NONE ? role : BQ_NONE], n,
				  memory_order_relaxed);
}

void exit_stats_read(const struct exit_stats *x, struct exit_counts *out)
{
	for (unsigned i = 0; i < EXIT_CAUSE_COUNT; i++)
		out->cause[i] = atomic_load_explicit(&x->cause[i], memory_order_relaxed);
	for (unsigned i = 0; i < EXIT_ROLES; i++)
		out->notify[i] = atomic_load_explicit(&x->notify[i], memory_order_relaxed);
}

static uint64_t sum(const struct exit_counts *c, enum exit_cause from, enum exit_cause to)
{
	uint64_t n = 0;
	for (unsigned i = from; i <= to; i++)
		n += c->cause[i];
	return n;
}

uint64_t exit_counts_total(const struct exit_counts *c)
{
	return sum(c, 0, EXIT_CAUSE_COUNT - 1);
}

uint64_t exit_counts_io(const struct exit_counts *c)
{
	return sum(c, EXIT_IO_SERIAL, EXIT_IO_OTHER);
}

uint64_t exit_counts_mmio(const struct exit_counts *c)
{
	return sum(c, EXIT_BALLOON_NOTIFY_INFLATE, EXIT_MMIO_OTHER);
}

uint64_t exit_counts_notifies(const struct exit_counts *c)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < EXIT_ROLES; i++)
		n += c->notify[i];
	return n;
}

uint64_t exit_counts_device(const struct exit_counts *c)
{
	return sum(c, EXIT_BALLOON_NOTIFY_INFLATE, EXIT_BALLOON_OTHER) -
	       c->cause[EXIT_BALLOON_NOTIFY_STATS] - c->cause[EXIT_BALLOON_IRQ_STATS] +
	       exit_counts_notifies(c) - c->notify[BQ_STATS];
}
