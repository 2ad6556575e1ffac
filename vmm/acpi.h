/* SPDX-License-Identifier: MIT */
/*
 * The ACPI tables a Linux guest needs, no more (ACPI 6.x, hardware-reduced
 * like Firecracker's and QEMU's microvm): RSDP → XSDT → FADT (→ DSDT) and
 * MADT. Hardware-reduced means no SCI, PM timer or legacy PIC for Linux to
 * drive; what it keeps is what a VMM needs to end a run cleanly: the FADT's
 * sleep control register (S5 is power off: the DSDT holds only \_S5) and
 * its reset register. The MADT lists the CPUs' local APICs, the IOAPIC and
 * the PIT's IRQ 0 → GSI 2 override; ISA IRQs (serial 4, virtio-mmio 5) map
 * to GSIs one to one. The DSDT also lists the UART (PNP0501, port 0x3f8,
 * IRQ 4: without it Linux maps no interrupt for it) and each virtio-mmio device
 * (_HID LNRO0005, its window and interrupt), which is how a distribution's
 * Linux finds them: they build virtio_mmio without command-line devices.
 * docs/vmm.md "Linux" says why ACPI.
 */
#ifndef VMM_ACPI_H
#define VMM_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_BASE		0xe0000u	/* RSDP here: the BIOS area Linux scans */
#define ACPI_MAX		0x10000u
#define ACPI_SLEEP_CTL_PORT	0x600	/* FADT SLEEP_CONTROL_REG, 8 bits */
#define ACPI_SLEEP_STS_PORT	0x601	/* FADT SLEEP_STATUS_REG, 8 bits */
#define ACPI_RESET_PORT		0xcf9	/* FADT RESET_REG, as on PCs */
#define ACPI_RESET_VALUE	0x06
#define ACPI_S5_TYPE		5	/* \_S5's SLP_TYP */
/* A write to the sleep control register: SLP_EN (bit 5), SLP_TYP (bits 2-4). */
#define ACPI_SLEEP_EN		0x20
#define ACPI_SLEEP_TYPE(v)	(((v) >> 2) & 7)

#define ACPI_MAX_MMIO_DEVS	8

struct acpi_mmio_dev {
	uint32_t base, size;
	uint8_t irq;		/* GSI, edge-triggered, active high */
};

/* Build the tables into dst (guest-physical address phys, 16-byte
 * aligned); returns their size, 0 if cap is too small or ncpus or ndev is
 * out of range. The RSDP is at phys. */
size_t acpi_build(uint8_t *dst, size_t cap, uint32_t phys, unsigned ncpus,
		  const struct acpi_mmio_dev *dev, unsigned ndev);

#endif
