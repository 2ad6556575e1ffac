/* SPDX-License-Identifier: MIT */
#include "bootinfo.h"
#include "console.h"
#include "cpu.h"
#include "exit.h"
#include "lib.h"

struct bootinfo boot;

void bootinfo_init(void)
{
	const struct hvm_start_info *si = (const void *)(uintptr_t)start_info_paddr;

	if (!si || si->magic != HVM_START_MAGIC)
		panic("pagehint: no PVH start info (ebx=0x%x)", start_info_paddr);

	if (si->cmdline_paddr) {
		const char *c = (const char *)(uintptr_t)si->cmdline_paddr;
		size_t n = 0;
		while (n < BOOT_CMDLINE_MAX - 1 && c[n])
			n++;
		if (c[n])
			panic("pagehint: command line longer than %u bytes", BOOT_CMDLINE_MAX - 1);
		memcpy(boot.cmdline, c, n);
	}

	if (si->version < 1 || !si->memmap_paddr)
		panic("pagehint: start info v%u has no memory map", si->version);
	/* qboot's map is unsorted and ends with an all-zero entry */
	const struct hvm_memmap_entry *e = (const void *)(uintptr_t)si->memmap_paddr;
	for (uint32_t i = 0; i < si->memmap_entries; i++) {
		if (!e[i].size)
			continue;
		if (boot.nmap == BOOT_MAP_MAX)
			panic("pagehint: more than %u memory map entries", BOOT_MAP_MAX);
		unsigned j = boot.nmap++;
		while (j > 0 && boot.map[j - 1].addr > e[i].addr) {
			boot.map[j] = boot.map[j - 1];
			j--;
		}
		boot.map[j] = e[i];
	}
}
