/* SPDX-License-Identifier: MIT */
/*
 * Load a PVH kernel: an ELF64 x86-64 image whose PT_LOAD segments go to
 * their physical addresses (p_paddr) in guest RAM, and whose
 * XEN_ELFNOTE_PHYS32_ENTRY note ("Xen", type 18) gives the 32-bit
 * protected-mode entry point. The file is untrusted input: every offset
 * and size is checked, and guest memory is reached only via gm_translate.
 */
#ifndef VMM_ELF_LOADER_H
#define VMM_ELF_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"

struct elf_info {
	uint32_t pvh_entry;	/* from the note */
	uint64_t elf_entry;	/* e_entry, for information */
	uint64_t lo, hi;	/* lowest and highest guest-physical bytes loaded */
	unsigned nload;
};

/* Load from a buffer. 0, or -1 with a one-line reason in err. */
int elf_load(struct guest_mem *gm, const void *img, size_t size, struct elf_info *out,
	     char *err, size_t errlen);
/* Same, from a file. */
int elf_load_file(struct guest_mem *gm, const char *path, struct elf_info *out,
		  char *err, size_t errlen);
/* Only find the PVH entry note (no loading). 0 or -1. */
int elf_find_pvh_entry(const void *img, size_t size, uint32_t *entry, char *err, size_t errlen);

#endif
