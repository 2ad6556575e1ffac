/* SPDX-License-Identifier: MIT */
/*
 * The Intel MultiProcessor Specification 1.4 table: the CPUs, the IOAPIC
 * and how ISA interrupts reach its pins. QEMU's microvm (acpi=off) and our
 * VMM provide one; with none, the kernel runs on the boot CPU alone.
 */
#ifndef GUEST_MPTABLE_H
#define GUEST_MPTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "layout.h"

#define MP_MAX_ROUTES 32

struct mp_info {
	bool found;
	unsigned ncpus;			/* enabled processors listed (<= MAX_CPUS) */
	unsigned listed;		/* all enabled processors in the table */
	uint32_t apic_id[MAX_CPUS];	/* the BSP first */
	uint64_t lapic_addr;
	uint64_t ioapic_addr;
	uint8_t ioapic_id;
	unsigned nroutes;
	struct {
		uint8_t bus_irq, pin, flags;
	} route[MP_MAX_ROUTES];		/* ISA bus I/O interrupt entries (INT type) */
};

extern struct mp_info mp;

/* Find and parse the table; bsp_apic is the boot CPU's local APIC id. */
void mptable_init(uint32_t bsp_apic);

/* IOAPIC pin for ISA/GSI interrupt irq: the table's entry, else irq. */
unsigned mptable_irq_pin(unsigned irq);

#endif
