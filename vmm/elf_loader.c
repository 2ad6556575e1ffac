/* SPDX-License-Identifier: MIT */
#include <elf.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "elf_loader.h"
#include "file_map.h"
#include "pvh.h"
#include "log.h"


/* [off, off+len) inside [0, size)? Overflow-safe. */
static bool in_file(size_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

/* An ELF header and its program and section headers, whatever the class:
 * a PVH kernel may be ELF64 (ours, Linux's vmlinux) or ELF32 (x86 kernels
 * linked for 32-bit entry; QEMU accepts both). */
struct elf_view {
	const uint8_t *img;
	size_t size;
	bool is64;
	uint64_t entry, phoff, shoff;
	unsigned phnum, shnum;
	size_t phentsize, shentsize;
};

/* 0 if img holds an ELF header we can load, with its program headers
 * inside the file; else -1 and why in err. */
static int check_header(const uint8_t *img, size_t size, struct elf_view *v, char *err, size_t n)
{
	memset(v, 0, sizeof(*v));
	if (size < EI_NIDENT || memcmp(img, ELFMAG, SELFMAG))
		return vmm_fail(err, n, "not an ELF file");
	if ((img[EI_CLASS] != ELFCLASS64 && img[EI_CLASS] != ELFCLASS32) ||
	    img[EI_DATA] != ELFDATA2LSB)
		return vmm_fail(err, n, "not a little-endian 32- or 64-bit ELF");
	v->img = img;
	v->size = size;
	v->is64 = img[EI_CLASS] == ELFCLASS64;
	if (v->is64) {
		Elf64_Ehdr e;
		if (size < sizeof(e))
			return vmm_fail(err, n, "ELF header truncated");
		memcpy(&e, img, sizeof(e));
		if (e.e_machine != EM_X86_64)
			return vmm_fail(err, n, "not an x86-64 ELF (e_machine %u)", e.e_machine);
		*v = (struct elf_view){ img, size, true, e.e_entry, e.e_phoff, e.e_shoff, e.e_phnum,
					e.e_shnum, sizeof(Elf64_Phdr), sizeof(Elf64_Shdr) };
		if (e.e_phnum && e.e_phentsize != sizeof(Elf64_Phdr))
			return vmm_fail(err, n, "program header size %u, not %zu", e.e_phentsize,
					sizeof(Elf64_Phdr));
		v->shnum = e.e_shentsize == sizeof(Elf64_Shdr) ? e.e_shnum : 0;
	} else {
		Elf32_Ehdr e;
		if (size < sizeof(e))
			return vmm_fail(err, n, "ELF header truncated");
		memcpy(&e, img, sizeof(e));
		if (e.e_machine != EM_386 && e.e_machine != EM_X86_64)
			return vmm_fail(err, n, "not an x86 ELF (e_machine %u)", e.e_machine);
		*v = (struct elf_view){ img, size, false, e.e_entry, e.e_phoff, e.e_shoff, e.e_phnum,
					e.e_shnum, sizeof(Elf32_Phdr), sizeof(Elf32_Shdr) };
		if (e.e_phnum && e.e_phentsize != sizeof(Elf32_Phdr))
			return vmm_fail(err, n, "program header size %u, not %zu", e.e_phentsize,
					sizeof(Elf32_Phdr));
		v->shnum = e.e_shentsize == sizeof(Elf32_Shdr) ? e.e_shnum : 0;
	}
	if (v->phnum && !in_file(size, v->phoff, (uint64_t)v->phnum * v->phentsize))
		return vmm_fail(err, n, "program headers lie outside the file");
	if (v->shnum && !in_file(size, v->shoff, (uint64_t)v->shnum * v->shentsize))
		v->shnum = 0;	/* sections are only a fallback for notes */
	return 0;
}

/* Program header i (checked to be inside the file), as ELF64's. */
static Elf64_Phdr phdr(const struct elf_view *v, unsigned i)
{
	const uint8_t *p = v->img + v->phoff + (uint64_t)i * v->phentsize;
	Elf64_Phdr ph;

	if (v->is64) {
		memcpy(&ph, p, sizeof(ph));
		return ph;
	}
	Elf32_Phdr p32;
	memcpy(&p32, p, sizeof(p32));
	return (Elf64_Phdr){ .p_type = p32.p_type, .p_flags = p32.p_flags, .p_offset = p32.p_offset,
			     .p_vaddr = p32.p_vaddr, .p_paddr = p32.p_paddr,
			     .p_filesz = p32.p_filesz, .p_memsz = p32.p_memsz,
			     .p_align = p32.p_align };
}

/* Section header i's type, offset and size. */
static void shdr(const struct elf_view *v, unsigned i, uint32_t *type, uint64_t *off, uint64_t *len)
{
	const uint8_t *p = v->img + v->shoff + (uint64_t)i * v->shentsize;

	if (v->is64) {
		Elf64_Shdr sh;
		memcpy(&sh, p, sizeof(sh));
		*type = sh.sh_type, *off = sh.sh_offset, *len = sh.sh_size;
	} else {
		Elf32_Shdr sh;
		memcpy(&sh, p, sizeof(sh));
		*type = sh.sh_type, *off = sh.sh_offset, *len = sh.sh_size;
	}
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

static int find_pvh_entry(const struct elf_view *v, uint32_t *entry, char *err, size_t n)
{
	int r;

	for (unsigned i = 0; i < v->phnum; i++) {
		Elf64_Phdr ph = phdr(v, i);
		if (ph.p_type != PT_NOTE)
			continue;
		if (!in_file(v->size, ph.p_offset, ph.p_filesz))
			return vmm_fail(err, n, "note segment %u lies outside the file", i);
		r = scan_notes(v->img + ph.p_offset, ph.p_filesz, entry);
		if (r < 0)
			return vmm_fail(err, n, "malformed note in segment %u", i);
		if (r > 0)
			return 0;
	}
	/* Some link scripts keep notes only as sections. */
	for (unsigned i = 0; i < v->shnum; i++) {
		uint32_t type;
		uint64_t off, len;
		shdr(v, i, &type, &off, &len);
		if (type != SHT_NOTE || !in_file(v->size, off, len))
			continue;
		r = scan_notes(v->img + off, len, entry);
		if (r < 0)
			return vmm_fail(err, n, "malformed note in section %u", i);
		if (r > 0)
			return 0;
	}
	return vmm_fail(err, n, "no XEN_ELFNOTE_PHYS32_ENTRY note: not a PVH kernel");
}

int elf_find_pvh_entry(const void *img, size_t size, uint32_t *entry, char *err, size_t n)
{
	struct elf_view v;

	if (check_header(img, size, &v, err, n))
		return -1;
	return find_pvh_entry(&v, entry, err, n);
}

int elf_load(struct guest_mem *gm, const void *img_, size_t size, struct elf_info *out,
	     char *err, size_t n)
{
	const uint8_t *img = img_;
	struct elf_view v;

	memset(out, 0, sizeof(*out));
	out->lo = UINT64_MAX;
	if (check_header(img, size, &v, err, n) || find_pvh_entry(&v, &out->pvh_entry, err, n))
		return -1;
	out->elf_entry = v.entry;
	for (unsigned i = 0; i < v.phnum; i++) {
		Elf64_Phdr ph = phdr(&v, i);
		uint8_t *dst;

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
	struct file_map img;
	char why[200];
	int r;

	if (file_map(path, &img, err, n))
		return -1;
	r = elf_load(gm, img.p, img.size, out, why, sizeof(why));
	if (r)
		vmm_fail(err, n, "%s: %s", path, why);
	file_unmap(&img);
	return r;
}
