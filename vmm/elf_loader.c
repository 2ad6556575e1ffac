/* SPDX-License-Identifier: MIT */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_loader.h"
#include "pvh.h"
#include "log.h"


/* [off, off+len) inside [0, size)? Overflow-safe. */
static bool in_file(size_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

/* 0 if img holds an ELF header we can load, with its program headers
 * inside the file; else -1 and why in err. */
static int check_header(const uint8_t *img, size_t size, char *err, size_t n)
{
	const Elf64_Ehdr *e = (const Elf64_Ehdr *)img;

	if (size < sizeof(*e) || memcmp(e->e_ident, ELFMAG, SELFMAG))
		return vmm_fail(err, n, "not an ELF file");
	if (e->e_ident[EI_CLASS] != ELFCLASS64 || e->e_ident[EI_DATA] != ELFDATA2LSB)
		return vmm_fail(err, n, "not a little-endian 64-bit ELF");
	if (e->e_machine != EM_X86_64)
		return vmm_fail(err, n, "not an x86-64 ELF (e_machine %u)", e->e_machine);
	if (e->e_phnum && (e->e_phentsize != sizeof(Elf64_Phdr) ||
			   !in_file(size, e->e_phoff, (uint64_t)e->e_phnum * sizeof(Elf64_Phdr))))
		return vmm_fail(err, n, "program headers lie outside the file");
	return 0;
}

/* Walk one note area for Xen's PHYS32_ENTRY. 1 found, 0 not, -1 bad. */
static int scan_notes(const uint8_t *p, uint64_t len, uint32_t *entry)
{
	uint64_t off = 0;

	while (len - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, p + off, sizeof(nh));
		off += sizeof(nh);
		uint64_t name_sz = (nh.n_namesz + 3ULL) & ~3ULL;
		uint64_t desc_sz = (nh.n_descsz + 3ULL) & ~3ULL;
		if (name_sz > len - off || desc_sz > len - off - name_sz)
			return -1;
		const uint8_t *name = p + off, *desc = p + off + name_sz;
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    !memcmp(name, "Xen", 4)) {
			/* Linux emits a 32-bit value; accept a 64-bit one
			 * that fits. */
			if (nh.n_descsz == 4) {
				memcpy(entry, desc, 4);
				return 1;
			}
			if (nh.n_descsz == 8) {
				uint64_t v;
				memcpy(&v, desc, 8);
				if (v >> 32)
					return -1;
				*entry = (uint32_t)v;
				return 1;
			}
			return -1;
		}
		off += name_sz + desc_sz;
	}
	return 0;
}

int elf_find_pvh_entry(const void *img_, size_t size, uint32_t *entry, char *err, size_t n)
{
	const uint8_t *img = img_;
	const Elf64_Ehdr *e = (const Elf64_Ehdr *)img;
	int r;

	if (check_header(img, size, err, n))
		return -1;
	for (unsigned i = 0; i < e->e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + e->e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_NOTE)
			continue;
		if (!in_file(size, ph.p_offset, ph.p_filesz))
			return vmm_fail(err, n, "note segment %u lies outside the file", i);
		r = scan_notes(img + ph.p_offset, ph.p_filesz, entry);
		if (r < 0)
			return vmm_fail(err, n, "malformed note in segment %u", i);
		if (r > 0)
			return 0;
	}
	/* Some link scripts keep notes only as sections. */
	if (e->e_shnum && e->e_shentsize == sizeof(Elf64_Shdr) &&
	    in_file(size, e->e_shoff, (uint64_t)e->e_shnum * sizeof(Elf64_Shdr))) {
		for (unsigned i = 0; i < e->e_shnum; i++) {
			Elf64_Shdr sh;
			memcpy(&sh, img + e->e_shoff + (uint64_t)i * sizeof(sh), sizeof(sh));
			if (sh.sh_type != SHT_NOTE || !in_file(size, sh.sh_offset, sh.sh_size))
				continue;
			r = scan_notes(img + sh.sh_offset, sh.sh_size, entry);
			if (r < 0)
				return vmm_fail(err, n, "malformed note in section %u", i);
			if (r > 0)
				return 0;
		}
	}
	return vmm_fail(err, n, "no XEN_ELFNOTE_PHYS32_ENTRY note: not a PVH kernel");
}

int elf_load(struct guest_mem *gm, const void *img_, size_t size, struct elf_info *out,
	     char *err, size_t n)
{
	const uint8_t *img = img_;
	const Elf64_Ehdr *e = NULL;

	memset(out, 0, sizeof(*out));
	out->lo = UINT64_MAX;
	if (elf_find_pvh_entry(img, size, &out->pvh_entry, err, n))
		return -1;
	e = (const Elf64_Ehdr *)img;
	out->elf_entry = e->e_entry;
	for (unsigned i = 0; i < e->e_phnum; i++) {
		Elf64_Phdr ph;
		uint8_t *dst;

		memcpy(&ph, img + e->e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz)
			return vmm_fail(err, n, "segment %u: file size above memory size", i);
		if (!in_file(size, ph.p_offset, ph.p_filesz))
			return vmm_fail(err, n, "segment %u lies outside the file", i);
		dst = gm_translate(gm, ph.p_paddr, ph.p_memsz);
		if (!dst)
			return vmm_fail(err, n, "segment %u [%#llx, +%#llx) is not inside guest RAM",
				    i, (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_memsz);
		memcpy(dst, img + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr < out->lo)
			out->lo = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > out->hi)
			out->hi = ph.p_paddr + ph.p_memsz;
		out->nload++;
	}
	if (!out->nload)
		return vmm_fail(err, n, "no loadable segments");
	if (out->pvh_entry < out->lo || out->pvh_entry >= out->hi)
		return vmm_fail(err, n, "PVH entry %#x is outside the loaded image", out->pvh_entry);
	return 0;
}

int elf_load_file(struct guest_mem *gm, const char *path, struct elf_info *out,
		  char *err, size_t n)
{
	struct stat st;
	void *img;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vmm_fail(err, n, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return vmm_fail(err, n, "%s: not a regular, non-empty file", path);
	}
	img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (img == MAP_FAILED)
		return vmm_fail(err, n, "%s: %s", path, strerror(errno));
	char why[200];
	r = elf_load(gm, img, (size_t)st.st_size, out, why, sizeof(why));
	if (r)
		vmm_fail(err, n, "%s: %s", path, why);
	munmap(img, (size_t)st.st_size);
	return r;
}
