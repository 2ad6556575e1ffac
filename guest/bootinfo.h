/* SPDX-License-Identifier: MIT */
/*
 * What the loader hands over through the PVH start info (struct
 * hvm_start_info, version >= 1, xen/include/public/arch-x86/hvm/start_info.h):
 * the command line and the E820-style memory map, copied into the kernel
 * before anything can allocate over them.
 */
#ifndef GUEST_BOOTINFO_H
#define GUEST_BOOTINFO_H

#include <stdint.h>

#define HVM_START_MAGIC		0x336ec578
#define E820_RAM		1

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;	/* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

#define BOOT_CMDLINE_MAX	2048
#define BOOT_MAP_MAX		64

struct bootinfo {
	char cmdline[BOOT_CMDLINE_MAX];
	struct hvm_memmap_entry map[BOOT_MAP_MAX];	/* sorted, no empty entries */
	unsigned nmap;
};

extern struct bootinfo boot;

/* Copy and check the start info; panics if there is none. */
void bootinfo_init(void);

#endif
