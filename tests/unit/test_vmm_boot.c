/* SPDX-License-Identifier: MIT */
/* Booting a PVH guest without KVM: the ELF loader (PT_LOADs, the Xen
 * PHYS32_ENTRY note, hostile headers), hvm_start_info with the memory map
 * and command line, and the MP table as a kernel would parse it. */
#include <elf.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "elf_loader.h"
#include "guest_mem.h"
#include "pvh.h"

#define MEM (32u << 20)

/* A tiny PVH kernel: one PT_LOAD at 1 MiB (code + bss), one PT_NOTE. */
struct tiny_elf {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	struct {
		Elf64_Nhdr nh;
		char name[4];
		uint32_t desc;
	} note;
	uint8_t code[16];
};

static void make_elf(struct tiny_elf *t, uint32_t entry)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->eh.e_ident, ELFMAG, SELFMAG);
	t->eh.e_ident[EI_CLASS] = ELFCLASS64;
	t->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	t->eh.e_ident[EI_VERSION] = EV_CURRENT;
	t->eh.e_type = ET_EXEC;
	t->eh.e_machine = EM_X86_64;
	t->eh.e_version = EV_CURRENT;
	t->eh.e_entry = 0xffffffff80100000ULL;
	t->eh.e_phoff = offsetof(struct tiny_elf, ph);
	t->eh.e_ehsize = sizeof(Elf64_Ehdr);
	t->eh.e_phentsize = sizeof(Elf64_Phdr);
	t->eh.e_phnum = 2;
	t->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
				 .p_offset = offsetof(struct tiny_elf, code),
				 .p_vaddr = 0x100000, .p_paddr = 0x100000,
				 .p_filesz = sizeof(t->code), .p_memsz = 0x3000, .p_align = 16 };
	t->ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = offsetof(struct tiny_elf, note),
				 .p_filesz = sizeof(t->note), .p_align = 4 };
	t->note.nh = (Elf64_Nhdr){ .n_namesz = 4, .n_descsz = 4, .n_type = XEN_ELFNOTE_PHYS32_ENTRY };
	memcpy(t->note.name, "Xen", 4);
	t->note.desc = entry;
	for (unsigned i = 0; i < sizeof(t->code); i++)
		t->code[i] = 0xf4;	/* hlt */
}

struct fixture {
	uint8_t *mem;
	struct guest_mem gm;
	struct tiny_elf elf;
	char err[256];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->mem = calloc(1, MEM);
	gm_init_buffer(&f->gm, f->mem, 0, MEM);
	make_elf(&f->elf, 0x100004);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	free(f->mem);
	free(f);
	return 0;
}

static void loads_segments_and_finds_entry(void **state)
{
	struct fixture *f = *state;
	struct elf_info info;
	memset(f->mem + 0x100000, 0x77, 0x4000);	/* bss must be zeroed */
	assert_int_equal(elf_load(&f->gm, &f->elf, sizeof(f->elf), &info, f->err, sizeof(f->err)), 0);
	assert_int_equal(info.pvh_entry, 0x100004);
	assert_int_equal(info.lo, 0x100000);
	assert_int_equal(info.hi, 0x103000);
	assert_int_equal(f->mem[0x100000], 0xf4);
	assert_int_equal(f->mem[0x100010], 0);
	assert_int_equal(f->mem[0x102fff], 0);
	assert_int_equal(f->mem[0x103000], 0x77);
}

static void entry_as_64_bit_note(void **state)
{
	struct fixture *f = *state;
	struct {
		Elf64_Ehdr eh;
		Elf64_Phdr ph;
		Elf64_Nhdr nh;
		char name[4];
		uint64_t desc;
	} __attribute__((packed)) img;
	struct tiny_elf t;
	make_elf(&t, 0);
	memset(&img, 0, sizeof(img));
	img.eh = t.eh;
	img.eh.e_phnum = 1;
	img.eh.e_phoff = offsetof(__typeof__(img), ph);
	img.ph = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = offsetof(__typeof__(img), nh),
			       .p_filesz = 12 + 4 + 8 };
	img.nh = (Elf64_Nhdr){ .n_namesz = 4, .n_descsz = 8, .n_type = XEN_ELFNOTE_PHYS32_ENTRY };
	memcpy(img.name, "Xen", 4);
	img.desc = 0x100008;
	uint32_t e = 0;
	assert_int_equal(elf_find_pvh_entry(&img, sizeof(img), &e, f->err, sizeof(f->err)), 0);
	assert_int_equal(e, 0x100008);
	img.desc = 0x100000000ULL;	/* does not fit 32 bits */
	assert_int_not_equal(elf_find_pvh_entry(&img, sizeof(img), &e, f->err, sizeof(f->err)), 0);
}

/* The same kernel as ELF32 (x86 kernels linked for the 32-bit entry). */
struct tiny_elf32 {
	Elf32_Ehdr eh;
	Elf32_Phdr ph[2];
	struct {
		Elf32_Nhdr nh;
		char name[4];
		uint32_t desc;
	} note;
	uint8_t code[16];
};

static void make_elf32(struct tiny_elf32 *t, uint32_t entry)
{
	memset(t, 0, sizeof(*t));
	memcpy(t->eh.e_ident, ELFMAG, SELFMAG);
	t->eh.e_ident[EI_CLASS] = ELFCLASS32;
	t->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	t->eh.e_ident[EI_VERSION] = EV_CURRENT;
	t->eh.e_type = ET_EXEC;
	t->eh.e_machine = EM_386;
	t->eh.e_version = EV_CURRENT;
	t->eh.e_entry = 0x100000;
	t->eh.e_phoff = offsetof(struct tiny_elf32, ph);
	t->eh.e_ehsize = sizeof(Elf32_Ehdr);
	t->eh.e_phentsize = sizeof(Elf32_Phdr);
	t->eh.e_phnum = 2;
	t->ph[0] = (Elf32_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
				 .p_offset = offsetof(struct tiny_elf32, code),
				 .p_vaddr = 0x100000, .p_paddr = 0x100000,
				 .p_filesz = sizeof(t->code), .p_memsz = 0x2000, .p_align = 16 };
	t->ph[1] = (Elf32_Phdr){ .p_type = PT_NOTE, .p_offset = offsetof(struct tiny_elf32, note),
				 .p_filesz = sizeof(t->note), .p_align = 4 };
	t->note.nh = (Elf32_Nhdr){ .n_namesz = 4, .n_descsz = 4, .n_type = XEN_ELFNOTE_PHYS32_ENTRY };
	memcpy(t->note.name, "Xen", 4);
	t->note.desc = entry;
	for (unsigned i = 0; i < sizeof(t->code); i++)
		t->code[i] = 0xf4;
}

static void loads_elf32(void **state)
{
	struct fixture *f = *state;
	struct elf_info info;
	struct tiny_elf32 t;

	make_elf32(&t, 0x100008);
	memset(f->mem + 0x100000, 0xaa, 0x3000);
	assert_int_equal(elf_load(&f->gm, &t, sizeof(t), &info, f->err, sizeof(f->err)), 0);
	assert_int_equal(info.pvh_entry, 0x100008);
	assert_int_equal(info.lo, 0x100000);
	assert_int_equal(info.hi, 0x102000);
	assert_int_equal(f->mem[0x100000], 0xf4);
	assert_int_equal(f->mem[0x101fff], 0);		/* bss cleared */
	assert_int_equal(f->mem[0x102000], 0xaa);	/* and no further */
	/* Its headers are checked as ELF64's are. */
	t.eh.e_phnum = 1000;
	assert_int_not_equal(elf_load(&f->gm, &t, sizeof(t), &info, f->err, sizeof(f->err)), 0);
	make_elf32(&t, 0x100008);
	t.eh.e_machine = EM_ARM;
	assert_int_not_equal(elf_load(&f->gm, &t, sizeof(t), &info, f->err, sizeof(f->err)), 0);
	make_elf32(&t, 0x100008);
	assert_int_not_equal(elf_load(&f->gm, &t, sizeof(Elf32_Ehdr) - 1, &info, f->err,
				      sizeof(f->err)), 0);
	t.note.nh.n_type = 1;
	assert_int_not_equal(elf_load(&f->gm, &t, sizeof(t), &info, f->err, sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "not a PVH kernel"));
}

static void rejects_missing_note(void **state)
{
	struct fixture *f = *state;
	struct elf_info info;
	f->elf.note.nh.n_type = 1;
	assert_int_not_equal(elf_load(&f->gm, &f->elf, sizeof(f->elf), &info, f->err, sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "PVH"));
}

static void rejects_bad_headers(void **state)
{
	struct fixture *f = *state;
	struct elf_info info;
	struct tiny_elf t;

	t = f->elf;
	t.eh.e_ident[0] = 0;
	assert_int_not_equal(elf_load(&f->gm, &t, sizeof(t), &info, f->err, sizeof(f->err)), 0);
	t = f->elf;
	t.eh.e_machine = EM_386;
	assert_int_not_equal(elf_load(&f->gm, &t, sizeof(t), &info, f->err, sizeof(f->err)), 0);
	t = f->elf;
	t.eh.e_phoff = 0xfffffffffffffff0ULL;	/* offset + size overflows */
	assert_int_not_equal(elf_load(&f->gm, &t, sizeof(t), &info, f->err, sizeof(f->err)), 0);
	t = f->elf;
	t.eh.e_phnum = 1000;
	assert_int_not_equal(elf_load(&f->gm, &t, sizeof(t), &info, f->err, sizeof(f->err)), 0);
	t = f->elf;
	t.ph[0].p_filesz = 0x10000;	/* past end of file */
	t.ph[0].p_memsz = 0x10000;
	assert_int_not_equal(elf_load(&f->gm, &t, sizeof(t), &info, f->err, sizeof(f->err)), 0);
	t = f->elf;
	t.ph[0].p_paddr = MEM - 0x1000;	/* runs off guest RAM */
	assert_int_not_equal(elf_load(&f->gm, &t, sizeof(t), &info, f->err, sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "guest RAM"));
	t = f->elf;
	t.ph[0].p_paddr = 0xfffffffffffff000ULL;
	assert_int_not_equal(elf_load(&f->gm, &t, sizeof(t), &info, f->err, sizeof(f->err)), 0);
	t = f->elf;
	t.note.nh.n_descsz = 0x7fffffff;	/* note runs past its segment */
	assert_int_not_equal(elf_load(&f->gm, &t, sizeof(t), &info, f->err, sizeof(f->err)), 0);
	t = f->elf;
	t.note.desc = 0x200000;	/* entry outside the image */
	assert_int_not_equal(elf_load(&f->gm, &t, sizeof(t), &info, f->err, sizeof(f->err)), 0);
	assert_int_not_equal(elf_load(&f->gm, &t, 10, &info, f->err, sizeof(f->err)), 0);
}

static void loads_project_guest_if_built(void **state)
{
	struct fixture *f = *state;
	struct elf_info info;
	/* where make put it (BUILD=, relative to the tree, where prove runs) */
	const char *path = PH_BUILD_DIR "/pagehint-guest.elf";
	if (access(path, R_OK)) {
		skip();
		return;
	}
	assert_int_equal(elf_load_file(&f->gm, path, &info, f->err, sizeof(f->err)), 0);
	assert_true(info.pvh_entry >= info.lo && info.pvh_entry < info.hi);
	assert_true(info.lo >= BOOT_HIGH_START);
}

/* ---- start info ---------------------------------------------------------- */

static const struct boot_device dev = { VIRTIO_MMIO_BASE, 0x200, VIRTIO_MMIO_IRQ };

static void start_info_and_cmdline(void **state)
{
	struct fixture *f = *state;
	struct boot_params p = { .ncpus = 2, .user_cmdline = "workload=memhog memhog.mib=64",
				 .dev = &dev, .ndev = 1 };
	assert_int_equal(boot_setup(&f->gm, &p, f->err, sizeof(f->err)), 0);
	struct hvm_start_info *si = (void *)(f->mem + BOOT_START_INFO);
	assert_int_equal(si->magic, 0x336ec578);
	assert_int_equal(si->version, 1);
	assert_int_equal(si->nr_modules, 0);
	assert_int_equal(si->rsdp_paddr, 0xe0000);	/* ACPI's RSDP */
	assert_memory_equal(f->mem + si->rsdp_paddr, "RSD PTR ", 8);
	assert_string_equal((char *)f->mem + si->cmdline_paddr,
			    "virtio_mmio.device=512@0xd0000000:5 workload=memhog memhog.mib=64");
	/* Memory map: sorted, non-overlapping, RAM covers what it should. */
	struct hvm_memmap_table_entry *e = (void *)(f->mem + si->memmap_paddr);
	assert_int_equal(si->memmap_entries, 5);
	uint64_t ram = 0, prev_end = 0;
	for (unsigned i = 0; i < si->memmap_entries; i++) {
		assert_true(e[i].addr >= prev_end);
		assert_true(e[i].size > 0);
		prev_end = e[i].addr + e[i].size;
		if (e[i].type == XEN_HVM_MEMMAP_TYPE_RAM)
			ram += e[i].size;
	}
	assert_int_equal(e[0].type, XEN_HVM_MEMMAP_TYPE_RESERVED);	/* boot data */
	assert_true(e[0].addr <= BOOT_START_INFO && e[0].addr + e[0].size >= BOOT_CMDLINE + 4096);
	assert_int_equal(e[3].addr, 0xe0000);		/* ACPI tables */
	assert_int_equal(e[3].type, XEN_HVM_MEMMAP_TYPE_RESERVED);
	assert_int_equal(e[4].addr, 0x100000);
	assert_int_equal(e[4].addr + e[4].size, MEM);
	assert_int_equal(ram, MEM - 0x100000 + (0x9fc00 - 0x3000));
	/* BDA points at the MP table. */
	uint16_t seg;
	memcpy(&seg, f->mem + 0x40e, 2);
	assert_int_equal(seg, 0x9fc0);
}

static void memmap_splits_around_hole(void **state)
{
	(void)state;
	static uint8_t dummy[1];
	struct guest_mem gm;
	gm_init_buffer(&gm, dummy, 0, GM_LOW_RAM_END);
	gm_add_region(&gm, dummy, GM_HIGH_RAM_BASE, 1ULL << 30);
	struct hvm_memmap_table_entry e[BOOT_MEMMAP_MAX];
	unsigned n = boot_memmap(&gm, e, BOOT_MEMMAP_MAX);
	assert_int_equal(n, 6);
	assert_int_equal(e[4].addr + e[4].size, GM_LOW_RAM_END);
	assert_int_equal(e[5].addr, GM_HIGH_RAM_BASE);
	assert_int_equal(e[5].size, 1ULL << 30);
	assert_int_equal(e[5].type, XEN_HVM_MEMMAP_TYPE_RAM);
}

static void cmdline_too_long_refused(void **state)
{
	struct fixture *f = *state;
	char *big = malloc(5000);
	memset(big, 'x', 4999);
	big[4999] = 0;
	struct boot_params p = { .ncpus = 1, .user_cmdline = big, .dev = &dev, .ndev = 1 };
	assert_int_not_equal(boot_setup(&f->gm, &p, f->err, sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "command line"));
	free(big);
}

/* ---- the initrd as the first PVH module ---------------------------------- */

static void initrd_is_first_module_at_top(void **state)
{
	struct fixture *f = *state;
	struct boot_params p = { .ncpus = 1, .dev = &dev, .ndev = 1 };
	static const uint8_t rd[5000] = { 0x1f, 0x8b, 8 };
	uint64_t at = 0;
	assert_int_equal(boot_setup(&f->gm, &p, f->err, sizeof(f->err)), 0);
	assert_int_equal(boot_setup_pvh_initrd(&f->gm, 0x200000, rd, sizeof(rd), &at,
					       f->err, sizeof(f->err)), 0);
	assert_int_equal(at, (MEM - sizeof(rd)) & ~0xfffull);
	assert_memory_equal(f->mem + at, rd, sizeof(rd));
	struct hvm_start_info *si = (void *)(f->mem + BOOT_START_INFO);
	assert_int_equal(si->nr_modules, 1);
	assert_int_equal(si->modlist_paddr, BOOT_MODLIST);
	struct hvm_modlist_entry *m = (void *)(f->mem + si->modlist_paddr);
	assert_int_equal(m->paddr, at);
	assert_int_equal(m->size, sizeof(rd));
	assert_int_equal(m->cmdline_paddr, 0);
	/* The module list does not overlap the memory map or the GDT. */
	assert_true(si->memmap_paddr + si->memmap_entries * sizeof(struct hvm_memmap_table_entry) <=
		    si->modlist_paddr);
	assert_true(si->modlist_paddr + sizeof(*m) <= BOOT_GDT);
	/* It lies in RAM the memory map lists. */
	struct hvm_memmap_table_entry *e = (void *)(f->mem + si->memmap_paddr);
	bool in_ram = false;
	for (unsigned i = 0; i < si->memmap_entries; i++)
		in_ram |= e[i].type == XEN_HVM_MEMMAP_TYPE_RAM && e[i].addr <= at &&
			  at + sizeof(rd) <= e[i].addr + e[i].size;
	assert_true(in_ram);
}

static void initrd_over_kernel_refused(void **state)
{
	struct fixture *f = *state;
	struct boot_params p = { .ncpus = 1, .dev = &dev, .ndev = 1 };
	static const uint8_t rd[8192] = { 1 };
	uint64_t at = 0;
	assert_int_equal(boot_setup(&f->gm, &p, f->err, sizeof(f->err)), 0);
	/* a kernel up to the last page: no room */
	assert_int_not_equal(boot_setup_pvh_initrd(&f->gm, MEM - 4096, rd, sizeof(rd), &at,
						   f->err, sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "does not fit"));
	/* a kernel below 1 MiB: the initrd still stays above the tables there */
	assert_int_not_equal(boot_setup_pvh_initrd(&f->gm, 0x10000, rd, (size_t)MEM - 0x80000, &at,
						   f->err, sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "does not fit"));
	/* larger than RAM */
	assert_int_not_equal(boot_setup_pvh_initrd(&f->gm, 0x200000, rd, (size_t)MEM + 1, &at,
						   f->err, sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "does not fit"));
	assert_int_not_equal(boot_setup_pvh_initrd(&f->gm, 0x200000, rd, 0, &at,
						   f->err, sizeof(f->err)), 0);
	assert_non_null(strstr(f->err, "empty"));
	struct hvm_start_info *si = (void *)(f->mem + BOOT_START_INFO);
	assert_int_equal(si->nr_modules, 0);
}

/* Debian's vmlinux (scripts/linux-ref/build.sh extracts it) loads at its
 * physical addresses with the PVH entry inside, when it has been built. */
static void loads_linux_vmlinux_if_built(void **state)
{
	(void)state;
	const char *path = PH_BUILD_DIR "/linux-ref/vmlinux";
	if (access(path, R_OK)) {
		skip();
		return;
	}
	size_t mem = 256u << 20;
	uint8_t *buf = calloc(1, mem);
	struct guest_mem gm;
	struct elf_info info;
	char err[256];
	assert_non_null(buf);
	gm_init_buffer(&gm, buf, 0, mem);
	assert_int_equal(elf_load_file(&gm, path, &info, err, sizeof(err)), 0);
	assert_int_equal(info.lo, 0x1000000);	/* CONFIG_PHYSICAL_START */
	assert_true(info.pvh_entry >= info.lo && info.pvh_entry < info.hi);
	free(buf);
}

/* ---- MP table, parsed the way a kernel does ----------------------------- */

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

struct parsed_mp {
	unsigned cpus, bsp_count, buses, ioapics, ioints, lints;
	uint8_t ioapic_id, apic_ids[64];
	uint32_t ioapic_addr, lapic;
	int pin_of_irq[16 + 8];
	bool extint_pin0;
};

static void parse_mp(const uint8_t *mem, struct parsed_mp *m)
{
	memset(m, 0, sizeof(*m));
	for (unsigned i = 0; i < 24; i++)
		m->pin_of_irq[i] = -1;
	/* Scan the last KiB of base memory for the floating pointer. */
	const uint8_t *f = NULL;
	for (uint32_t a = 0x9fc00; a < 0xa0000; a += 16)
		if (!memcmp(mem + a, "_MP_", 4)) {
			f = mem + a;
			break;
		}
	assert_non_null(f);
	assert_int_equal(f[8], 1);		/* length in 16-byte units */
	assert_int_equal(sum(f, 16), 0);
	assert_int_equal(f[11], 0);		/* feature 1: config table present */
	uint32_t phys;
	memcpy(&phys, f + 4, 4);
	const uint8_t *h = mem + phys;
	assert_memory_equal(h, "PCMP", 4);
	uint16_t len;
	memcpy(&len, h + 4, 2);
	assert_int_equal(sum(h, len), 0);
	assert_int_equal(h[6], 4);
	memcpy(&m->lapic, h + 36, 4);
	/* Walk by length (QEMU's count is 0; ours is right, but don't rely). */
	const uint8_t *p = h + 44, *end = h + len;
	while (p < end) {
		switch (p[0]) {
		case 0:
			m->apic_ids[m->cpus++] = p[1];
			assert_true(p[3] & 1);
			m->bsp_count += !!(p[3] & 2);
			p += 20;
			break;
		case 1:
			assert_memory_equal(p + 2, "ISA   ", 6);
			m->buses++;
			p += 8;
			break;
		case 2:
			m->ioapics++;
			m->ioapic_id = p[1];
			assert_true(p[3] & 1);
			memcpy(&m->ioapic_addr, p + 4, 4);
			p += 8;
			break;
		case 3:
			m->ioints++;
			assert_int_equal(p[6], m->ioapic_id);
			if (p[1] == 0 && p[5] < 24)
				m->pin_of_irq[p[5]] = p[7];
			if (p[1] == 3 && p[7] == 0)
				m->extint_pin0 = true;
			p += 8;
			break;
		case 4:
			m->lints++;
			p += 8;
			break;
		default:
			fail_msg("unknown MP entry type %u", p[0]);
		}
	}
	assert_ptr_equal(p, end);
}

static void mp_table_lists_cpus_bus_ioapic_irqs(void **state)
{
	struct fixture *f = *state;
	struct boot_params p = { .ncpus = 2, .dev = &dev, .ndev = 1 };
	assert_int_equal(boot_setup(&f->gm, &p, f->err, sizeof(f->err)), 0);
	struct parsed_mp m;
	parse_mp(f->mem, &m);
	assert_int_equal(m.cpus, 2);
	assert_int_equal(m.apic_ids[0], 0);
	assert_int_equal(m.apic_ids[1], 1);
	assert_int_equal(m.bsp_count, 1);
	assert_int_equal(m.buses, 1);
	assert_int_equal(m.ioapics, 1);
	assert_int_equal(m.ioapic_addr, 0xfec00000);
	assert_int_equal(m.lapic, 0xfee00000);
	assert_true(m.ioapic_id >= 2);		/* not a CPU's APIC id */
	assert_int_equal(m.pin_of_irq[VIRTIO_MMIO_IRQ], VIRTIO_MMIO_IRQ);
	assert_int_equal(m.pin_of_irq[SERIAL_IRQ], SERIAL_IRQ);
	assert_int_equal(m.pin_of_irq[0], 2);
	assert_true(m.extint_pin0);
	assert_int_equal(m.lints, 2);
}

static void mp_table_many_cpus(void **state)
{
	struct fixture *f = *state;
	struct boot_params p = { .ncpus = 16, .dev = &dev, .ndev = 1 };
	assert_int_equal(boot_setup(&f->gm, &p, f->err, sizeof(f->err)), 0);
	struct parsed_mp m;
	parse_mp(f->mem, &m);
	assert_int_equal(m.cpus, 16);
	assert_int_equal(m.apic_ids[15], 15);
	assert_int_equal(m.ioapic_id, 16);
	uint8_t big[64];
	assert_int_equal(mptable_build(big, sizeof(big), 0x9fc00, 2, NULL, 0), 0);
}

static void gdt_is_flat(void **state)
{
	(void)state;
	uint64_t g[BOOT_GDT_ENTRIES];
	boot_gdt(g);
	/* base 0, limit 0xfffff with G=1, D=1, present, DPL 0 */
	assert_int_equal((g[BOOT_SEL_CODE >> 3] >> 40) & 0xff, 0x9b);
	assert_int_equal((g[BOOT_SEL_DATA >> 3] >> 40) & 0xff, 0x93);
	assert_int_equal((g[BOOT_SEL_CODE >> 3] >> 52) & 0xf, 0xc);
	assert_int_equal((g[BOOT_SEL_TSS >> 3] >> 40) & 0xff, 0x8b);
	assert_int_equal(g[BOOT_SEL_TSS >> 3] & 0xffff, 0x67);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(loads_segments_and_finds_entry),
		T(entry_as_64_bit_note),
		T(loads_elf32),
		T(rejects_missing_note),
		T(rejects_bad_headers),
		T(loads_project_guest_if_built),
		T(start_info_and_cmdline),
		T(memmap_splits_around_hole),
		T(cmdline_too_long_refused),
		T(initrd_is_first_module_at_top),
		T(initrd_over_kernel_refused),
		T(loads_linux_vmlinux_if_built),
		T(mp_table_lists_cpus_bus_ioapic_irqs),
		T(mp_table_many_cpus),
		T(gdt_is_flat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
