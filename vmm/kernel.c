/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bzimage.h"
#include "elf_loader.h"
#include "kernel.h"
#include "log.h"

struct mapped {
	void *p;
	size_t size;
};

static int map_file(const char *what, const char *path, struct mapped *m, char *err, size_t n)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	m->p = NULL;
	m->size = 0;
	if (fd < 0) {
		vmm_fail(err, n, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		vmm_fail(err, n, "%s %s: not a regular, non-empty file", what, path);
		return -1;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		vmm_fail(err, n, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	m->p = p;
	m->size = (size_t)st.st_size;
	return 0;
}

static void unmap(struct mapped *m)
{
	if (m->p)
		munmap(m->p, m->size);
}

int kernel_boot(struct guest_mem *gm, struct kernel_boot *kb, struct vm_entry *entry,
		enum kernel_format *format, char *err, size_t n)
{
	struct mapped k, rd = { 0 };
	char why[400];
	int r = -1;

	if (map_file("--kernel", kb->kernel, &k, err, n))
		return -1;
	if (kb->initrd && map_file("--initrd", kb->initrd, &rd, err, n))
		goto out;

	if (bz_is_bzimage(k.p, k.size)) {
		/* Linux: its console on our UART unless the line names one. */
		*format = KERNEL_BZIMAGE;
		kb->bp.console = true;
		if (boot_setup(gm, &kb->bp, err, n))
			goto out;
		*entry = (struct vm_entry){ .long_mode = true, .arg = BOOT_ZERO_PAGE };
		if (boot_setup_bzimage(gm, k.p, k.size, rd.p, rd.size, &entry->rip, why, sizeof(why))) {
			vmm_fail(err, n, "--kernel %s: %s", kb->kernel, why);
			goto out;
		}
	} else {
		struct elf_info elf;
		*format = KERNEL_PVH_ELF;
		if (kb->initrd) {
			vmm_fail(err, n, "--initrd needs a bzImage kernel; %s is not one", kb->kernel);
			goto out;
		}
		if (elf_load(gm, k.p, k.size, &elf, why, sizeof(why))) {
			vmm_fail(err, n, "--kernel %s: %s%s", kb->kernel, why,
				 memcmp(k.p, "\177ELF", k.size < 4 ? k.size : 4) ? " (nor a bzImage)" : "");
			goto out;
		}
		kb->bp.console = true;
		if (boot_setup(gm, &kb->bp, err, n))
			goto out;
		*entry = (struct vm_entry){ .long_mode = false, .rip = elf.pvh_entry,
					    .arg = BOOT_START_INFO };
	}
	r = 0;
out:
	unmap(&rd);
	unmap(&k);
	return r;
}
