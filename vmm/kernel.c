/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "bzimage.h"
#include "elf_loader.h"
#include "file_map.h"
#include "kernel.h"
#include "log.h"

/* The file, or "WHAT PATH: why" in err. */
static int map(const char *what, const char *path, struct file_map *m, char *err, size_t n)
{
	char why[400];

	if (!file_map(path, m, why, sizeof(why)))
		return 0;
	vmm_fail(err, n, "%s %s", what, why);
	return -1;
}

int kernel_boot(struct guest_mem *gm, struct kernel_boot *kb, struct vm_entry *entry,
		char *err, size_t n)
{
	struct file_map k, rd = { 0 };
	char why[400];
	int r = -1;

	if (map("--kernel", kb->kernel, &k, err, n))
		return -1;
	if (kb->initrd && map("--initrd", kb->initrd, &rd, err, n))
		goto out;

	/* The console on our UART unless the line names one (Linux's
	 * console=; our guest accepts it too). */
	kb->bp.console = true;
	if (bz_is_bzimage(k.p, k.size)) {
		if (boot_setup(gm, &kb->bp, err, n))
			goto out;
		*entry = (struct vm_entry){ .long_mode = true, .arg = BOOT_ZERO_PAGE };
		if (boot_setup_bzimage(gm, k.p, k.size, rd.p, rd.size, &entry->rip, why, sizeof(why))) {
			vmm_fail(err, n, "--kernel %s: %s", kb->kernel, why);
			goto out;
		}
	} else {
		struct elf_info elf;
		uint64_t at;
		if (elf_load(gm, k.p, k.size, &elf, why, sizeof(why))) {
			vmm_fail(err, n, "--kernel %s: %s%s", kb->kernel, why,
				 memcmp(k.p, "\177ELF", k.size < 4 ? k.size : 4) ? " (nor a bzImage)" : "");
			goto out;
		}
		if (boot_setup(gm, &kb->bp, err, n))
			goto out;
		if (kb->initrd && boot_setup_pvh_initrd(gm, elf.hi, rd.p, rd.size, &at, why, sizeof(why))) {
			vmm_fail(err, n, "--initrd %s: %s", kb->initrd, why);
			goto out;
		}
		*entry = (struct vm_entry){ .long_mode = false, .rip = elf.pvh_entry,
					    .arg = BOOT_START_INFO };
	}
	r = 0;
out:
	file_unmap(&rd);
	file_unmap(&k);
	return r;
}
