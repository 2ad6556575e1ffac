/* SPDX-License-Identifier: MIT */
/*
 * The kernel a run boots, whatever its format: an ELF with a PVH note
 * (ours, or Linux's vmlinux; 64- or 32-bit) enters at its 32-bit PVH entry,
 * a bzImage at the 64-bit boot protocol's entry. Either way boot_setup
 * writes what the guest finds (memory map, command line, MP and ACPI
 * tables). A file that is neither, or truncated, or wants more than the
 * guest has, is a one-line error.
 */
#ifndef VMM_KERNEL_H
#define VMM_KERNEL_H

#include <stddef.h>

#include "boot.h"
#include "guest_mem.h"
#include "kvm_vm.h"

struct kernel_boot {
	const char *kernel;	/* path */
	const char *initrd;	/* path, or NULL */
	struct boot_params bp;	/* bp.console is set here */
};

/* Load kernel (and initrd), write the boot data, and say where the boot
 * CPU starts. 0, or -1 with a one-line reason in err. */
int kernel_boot(struct guest_mem *gm, struct kernel_boot *kb, struct vm_entry *entry,
		char *err, size_t errlen);

#endif
