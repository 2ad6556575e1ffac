/* SPDX-License-Identifier: MIT */
/*
 * Load a Linux bzImage for the x86 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst in Linux): the protected-mode kernel
 * goes to BZ_LOAD_ADDR, the initrd to the top of low RAM, and a zero page
 * (struct boot_params, from the kernel's UAPI <asm/bootparam.h>) carries
 * the image's own setup header, the command line's address, the e820 map
 * and the ACPI RSDP. The vCPU then enters 64-bit code at entry64 with RSI
 * pointing at the zero page. The file is untrusted: every field that sizes
 * or places something is checked against the file and guest RAM.
 */
#ifndef VMM_BZIMAGE_H
#define VMM_BZIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"

#define BZ_LOAD_ADDR	0x100000u	/* 1 MiB: where boot loaders put it */
#define BZ_MIN_VERSION	0x020c		/* 2.12: xloadflags, the 64-bit entry */

struct bz_e820 {
	uint64_t addr, size;
	uint32_t type;		/* 1 RAM, 2 reserved, 3 ACPI */
};

/* What the loader needs from the platform. */
struct bz_boot {
	uint64_t zero_page;	/* guest-physical, 4 KiB, below 4 GiB */
	uint64_t cmdline;	/* guest-physical address of the NUL-terminated line */
	uint32_t cmdline_len;	/* without the NUL */
	uint64_t acpi_rsdp;	/* 0: none */
	const struct bz_e820 *e820;
	unsigned ne820;
	const void *initrd;	/* NULL: none */
	size_t initrd_size;
};

struct bz_info {
	uint16_t version;	/* boot protocol */
	uint64_t load_addr;	/* the protected-mode kernel */
	uint64_t kernel_size;	/* bytes of it in the file */
	uint64_t entry64;	/* load_addr + 0x200 */
	uint32_t init_size;	/* memory the kernel needs from where it runs */
	uint64_t initrd_addr, initrd_size;
};

/* Does this look like a bzImage ("HdrS" in its setup header)? */
bool bz_is_bzimage(const void *img, size_t size);
/* Load img and write the zero page. 0, or -1 with a one-line reason. */
int bz_load(struct guest_mem *gm, const void *img, size_t size, const struct bz_boot *b,
	    struct bz_info *out, char *err, size_t errlen);

#endif
