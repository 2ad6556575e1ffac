/* SPDX-License-Identifier: MIT */
/*
 * What the guest finds at boot, per the PVH ABI plus an MP table, and the
 * guest-physical memory map that goes with it:
 *
 *   0x0000_0000  reserved   BDA (EBDA pointer, base memory size)
 *   0x0000_1000  reserved   hvm_start_info, the memory map, the module list
 *   0x0000_1800  reserved   boot GDT (flat code/data, 32-bit TSS)
 *   0x0000_2000  reserved   command line (4 KiB, NUL-terminated)
 *   0x0000_3000  RAM        ... 0x9fc00; a Linux bzImage's zero page at
 *                           0x7000 and boot page tables at 0x9000-0xefff,
 *                           below the 64 KiB Linux keeps for itself
 *   0x0009_fc00  reserved   MP floating pointer + configuration table
 *   0x000a_0000  (legacy hole, not listed)
 *   0x000e_0000  reserved   ACPI tables (RSDP first), acpi.h
 *   0x0010_0000  RAM        ... min(mem, 3 GiB); a bzImage loads here, an
 *                           ELF at its p_paddr; an initrd at the top
 *   0xc000_0000  MMIO hole: virtio-mmio at 0xd000_0000 (IRQ 5),
 *                IOAPIC 0xfec0_0000, LAPIC 0xfee0_0000
 *   0x1_0000_0000 RAM       the rest, if --mem > 3 GiB
 */
#ifndef VMM_BOOT_H
#define VMM_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"

#define BOOT_BDA_EBDA_SEG	0x40e
#define BOOT_BDA_BASEMEM_KIB	0x413
#define BOOT_START_INFO		0x1000
#define BOOT_MEMMAP		0x1040
#define BOOT_MEMMAP_MAX		16
#define BOOT_MODLIST		0x1200	/* one hvm_modlist_entry: the initrd */
#define BOOT_GDT		0x1800
#define BOOT_CMDLINE		0x2000
#define BOOT_CMDLINE_MAX	4096	/* including the NUL */
#define BOOT_LOW_RESERVED_END	0x3000
#define BOOT_MPTABLE		0x9fc00
#define BOOT_MPTABLE_MAX	0x400
#define BOOT_BASEMEM_END	0xa0000
#define BOOT_HIGH_START		0x100000
#define BOOT_ZERO_PAGE		0x7000	/* Linux's struct boot_params */
#define BOOT_PML4		0x9000	/* identity map of the low 4 GiB: */
#define BOOT_PDPT		0xa000	/* PML4 -> PDPT -> 4 page directories */
#define BOOT_PD			0xb000	/* of 2 MiB pages, up to 0xf000 */
#define BOOT_MIN_RAM		(16ULL << 20)

/* Selectors in the boot GDT (the PVH entry state refers to them). */
#define BOOT_SEL_CODE		0x10
#define BOOT_SEL_DATA		0x18
#define BOOT_SEL_TSS		0x20
#define BOOT_GDT_ENTRIES	5

#define IOAPIC_BASE		0xfec00000u
#define LAPIC_BASE		0xfee00000u
#define VIRTIO_MMIO_BASE	0xd0000000u
#define VIRTIO_MMIO_IRQ		5
#define SERIAL_IRQ		4
#define IOAPIC_PINS		24

struct boot_device {
	uint64_t base;
	uint32_t size;
	uint8_t irq;		/* ISA IRQ = IOAPIC pin = KVM GSI */
};

struct boot_params {
	unsigned ncpus;
	const char *user_cmdline;	/* may be NULL */
	bool console;			/* add console=ttyS0 unless the user's line has console= */
	const struct boot_device *dev;
	unsigned ndev;
};

/* Write start info, memory map, command line, GDT, BDA, MP table and ACPI
 * tables into guest RAM: what a PVH kernel (ours, or Linux's vmlinux)
 * finds at its 32-bit entry. 0, or -1 with a one-line reason in err. */
int boot_setup(struct guest_mem *gm, const struct boot_params *p, char *err, size_t errlen);

/* The initrd of a PVH kernel on top of boot_setup's state: copied to the
 * top of low RAM, page-aligned and above kernel_end and 1 MiB, listed as the
 * start info's one module (Linux takes the first module as its initrd).
 * *addr gets where it went. 0, or -1 with a one-line reason in err. */
int boot_setup_pvh_initrd(struct guest_mem *gm, uint64_t kernel_end, const void *initrd,
			  size_t size, uint64_t *addr, char *err, size_t errlen);

/* A Linux bzImage on top of boot_setup's state: the kernel and initrd
 * loaded, the zero page, identity page tables and a 64-bit code segment
 * for the 64-bit boot protocol's entry. *entry gets the entry point. */
int boot_setup_bzimage(struct guest_mem *gm, const void *img, size_t size, const void *initrd,
		       size_t initrd_size, uint64_t *entry, char *err, size_t errlen);
/* Identity-map guest-physical 0..4 GiB with 2 MiB pages at BOOT_PML4. */
int boot_page_tables(struct guest_mem *gm);

/* The pieces, for tests. */
int boot_cmdline(char *buf, size_t cap, const struct boot_params *p);
unsigned boot_memmap(const struct guest_mem *gm, void *entries, unsigned max);
/* An MP 1.4 table (floating pointer at `phys`, config table after it)
 * into dst; returns its size, 0 if it doesn't fit. */
size_t mptable_build(uint8_t *dst, size_t cap, uint32_t phys, unsigned ncpus,
		     const uint8_t *dev_irqs, unsigned ndev_irqs);
void boot_gdt(uint64_t gdt[BOOT_GDT_ENTRIES]);
/* Does the command line set the key (a whole word "key=...")? */
bool boot_cmdline_has(const char *cmdline, const char *key);

#endif
