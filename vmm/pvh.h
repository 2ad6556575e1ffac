/* SPDX-License-Identifier: MIT */
/*
 * The PVH boot ABI (Xen's xen/include/public/arch-x86/hvm/start_info.h and
 * docs/misc/pvh.pandoc), which is not in the Linux UAPI headers: what the
 * boot CPU finds at EBX on entry. All fields little-endian.
 */
#ifndef VMM_PVH_H
#define VMM_PVH_H

#include <stdint.h>

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578u

struct hvm_start_info {
	uint32_t magic;			/* HVM_START_MAGIC */
	uint32_t version;		/* 1: memmap fields valid */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;		/* NUL-terminated ASCII */
	uint64_t rsdp_paddr;		/* 0: no ACPI */
	uint64_t memmap_paddr;		/* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;			/* XEN_HVM_MEMMAP_TYPE_* (E820 numbering) */
	uint32_t reserved;
};

/* One module (Linux: the first is its initrd) at modlist_paddr. */
struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;		/* 0: none */
	uint64_t reserved;
};

#define XEN_HVM_MEMMAP_TYPE_RAM 1
#define XEN_HVM_MEMMAP_TYPE_RESERVED 2

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "modlist entry layout");

#endif
