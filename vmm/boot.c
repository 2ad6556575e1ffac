/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "acpi.h"
#include "boot.h"
#include "bzimage.h"
#include "pvh.h"
#include "log.h"


bool boot_cmdline_has(const char *cmdline, const char *key)
{
	size_t k = strlen(key);

	if (!cmdline)
		return false;
	for (const char *s = cmdline; *s;) {
		while (*s == ' ')
			s++;
		if (!strncmp(s, key, k) && s[k] == '=')
			return true;
		while (*s && *s != ' ')
			s++;
	}
	return false;
}

int boot_cmdline(char *buf, size_t cap, const struct boot_params *p)
{
	size_t len = 0;
	int r;

	buf[0] = 0;
	if (p->console && !boot_cmdline_has(p->user_cmdline, "console")) {
		r = snprintf(buf, cap, "console=ttyS0");
		if (r < 0 || (size_t)r >= cap)
			return -1;
		len = (size_t)r;
	}
	/* Linux's form: virtio_mmio.device=<size>@<base>:<irq>; a user who
	 * names devices on their own line names them all. */
	unsigned ndev = boot_cmdline_has(p->user_cmdline, "virtio_mmio.device") ? 0 : p->ndev;
	for (unsigned i = 0; i < ndev; i++) {
		r = snprintf(buf + len, cap - len, "%svirtio_mmio.device=%u@%#llx:%u",
			     len ? " " : "", p->dev[i].size, (unsigned long long)p->dev[i].base,
			     p->dev[i].irq);
		if (r < 0 || (size_t)r >= cap - len)
			return -1;
		len += (size_t)r;
	}
	if (p->user_cmdline && *p->user_cmdline) {
		r = snprintf(buf + len, cap - len, "%s%s", len ? " " : "", p->user_cmdline);
		if (r < 0 || (size_t)r >= cap - len)
			return -1;
		len += (size_t)r;
	}
	return (int)len;
}

static unsigned add(struct hvm_memmap_table_entry *e, unsigned n, unsigned max,
		    uint64_t addr, uint64_t end, uint32_t type)
{
	if (end <= addr || n >= max)
		return n;
	e[n] = (struct hvm_memmap_table_entry){ .addr = addr, .size = end - addr, .type = type };
	return n + 1;
}

unsigned boot_memmap(const struct guest_mem *gm, void *entries, unsigned max)
{
	struct hvm_memmap_table_entry *e = entries;
	unsigned n = 0;

	for (unsigned i = 0; i < gm->nr; i++) {
		uint64_t a = gm->r[i].gpa, end = a + gm->r[i].size;
		if (a != 0) {
			n = add(e, n, max, a, end, XEN_HVM_MEMMAP_TYPE_RAM);
			continue;
		}
		/* The first region holds the boot data and the legacy area. */
		n = add(e, n, max, 0, BOOT_LOW_RESERVED_END, XEN_HVM_MEMMAP_TYPE_RESERVED);
		n = add(e, n, max, BOOT_LOW_RESERVED_END, BOOT_MPTABLE, XEN_HVM_MEMMAP_TYPE_RAM);
		n = add(e, n, max, BOOT_MPTABLE, BOOT_BASEMEM_END, XEN_HVM_MEMMAP_TYPE_RESERVED);
		n = add(e, n, max, ACPI_BASE, ACPI_BASE + ACPI_MAX, XEN_HVM_MEMMAP_TYPE_RESERVED);
		n = add(e, n, max, BOOT_HIGH_START, end, XEN_HVM_MEMMAP_TYPE_RAM);
	}
	return n;
}

/* --- MP table (Intel MultiProcessor Specification 1.4, chapter 4) ------- */

struct mpf {			/* floating pointer structure */
	char sig[4];		/* "_MP_" */
	uint32_t physptr;	/* configuration table */
	uint8_t length;		/* in 16-byte units: 1 */
	uint8_t spec_rev;	/* 4: version 1.4 */
	uint8_t checksum;
	uint8_t feature[5];	/* feature[0] = 0: a configuration table follows */
} __attribute__((packed));

struct mpc_header {
	char sig[4];		/* "PCMP" */
	uint16_t length;	/* base table incl. header */
	uint8_t spec_rev;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_ptr;
	uint16_t oem_size;
	uint16_t count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type;		/* 0 */
	uint8_t apic_id;
	uint8_t apic_ver;
	uint8_t flags;		/* bit 0 enabled, bit 1 boot processor */
	uint32_t signature;
	uint32_t features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type;		/* 1 */
	uint8_t bus_id;
	char bus_type[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type;		/* 2 */
	uint8_t id;
	uint8_t ver;
	uint8_t flags;		/* bit 0 usable */
	uint32_t addr;
} __attribute__((packed));

struct mpc_intsrc {		/* type 3 (I/O) and 4 (local) interrupt */
	uint8_t type;
	uint8_t irq_type;	/* 0 INT, 1 NMI, 2 SMI, 3 ExtINT */
	uint16_t flags;		/* 0: polarity/trigger conform to the bus */
	uint8_t src_bus;
	uint8_t src_irq;
	uint8_t dst_id;		/* IOAPIC id, or 0xff: all local APICs */
	uint8_t dst_pin;
} __attribute__((packed));

_Static_assert(sizeof(struct mpf) == 16, "mpf");
_Static_assert(sizeof(struct mpc_header) == 44, "mpc header");
_Static_assert(sizeof(struct mpc_cpu) == 20, "mpc cpu");
_Static_assert(sizeof(struct mpc_bus) == 8 && sizeof(struct mpc_ioapic) == 8 &&
	       sizeof(struct mpc_intsrc) == 8, "mpc entries");

static uint8_t checksum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;
	while (n--)
		s += *b++;
	return (uint8_t)-s;
}

size_t mptable_build(uint8_t *dst, size_t cap, uint32_t phys, unsigned ncpus,
		     const uint8_t *dev_irqs, unsigned ndev_irqs)
{
	/* ISA IRQs 0-15 except the cascade, with device IRQs already among
	 * them; anything above 15 gets its own entry. */
	unsigned nint = 0;
	uint8_t irq_pin[IOAPIC_PINS][2];

	for (unsigned irq = 0; irq < 16; irq++) {
		if (irq == 2)
			continue;
		/* The PC convention: ISA IRQ 0 (PIT) arrives on pin 2. */
		irq_pin[nint][0] = (uint8_t)irq;
		irq_pin[nint][1] = irq == 0 ? 2 : (uint8_t)irq;
		nint++;
	}
	for (unsigned i = 0; i < ndev_irqs; i++) {
		if (dev_irqs[i] < 16 || dev_irqs[i] >= IOAPIC_PINS)
			continue;
		irq_pin[nint][0] = dev_irqs[i];
		irq_pin[nint][1] = dev_irqs[i];
		nint++;
	}

	size_t size = sizeof(struct mpf) + sizeof(struct mpc_header) +
		      ncpus * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +
		      sizeof(struct mpc_ioapic) + (1 + nint + 2) * sizeof(struct mpc_intsrc);
	if (size > cap || ncpus == 0 || ncpus >= 255)
		return 0;
	memset(dst, 0, size);

	struct mpf *f = (struct mpf *)dst;
	struct mpc_header *h = (struct mpc_header *)(f + 1);
	uint8_t *p = (uint8_t *)(h + 1);
	uint8_t ioapic_id = (uint8_t)ncpus;	/* after the CPUs' APIC ids */
	uint16_t count = 0;

	for (unsigned i = 0; i < ncpus; i++) {
		struct mpc_cpu c = {
			.type = 0, .apic_id = (uint8_t)i, .apic_ver = 0x14,
			.flags = 1 | (i == 0 ? 2 : 0),
			.signature = 0x600,		/* family 6 */
			.features = (1u << 0) | (1u << 9),	/* FPU, APIC */
		};
		memcpy(p, &c, sizeof(c));
		p += sizeof(c);
		count++;
	}
	struct mpc_bus bus = { .type = 1, .bus_id = 0, .bus_type = { 'I', 'S', 'A', ' ', ' ', ' ' } };
	memcpy(p, &bus, sizeof(bus));
	p += sizeof(bus);
	count++;
	struct mpc_ioapic io = { .type = 2, .id = ioapic_id, .ver = 0x11, .flags = 1,
				 .addr = IOAPIC_BASE };
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	count++;
	/* The 8259 in virtual-wire mode on pin 0, as on a PC. */
	struct mpc_intsrc ext = { .type = 3, .irq_type = 3, .src_bus = 0, .src_irq = 0,
				  .dst_id = ioapic_id, .dst_pin = 0 };
	memcpy(p, &ext, sizeof(ext));
	p += sizeof(ext);
	count++;
	for (unsigned i = 0; i < nint; i++) {
		struct mpc_intsrc s = { .type = 3, .irq_type = 0, .src_bus = 0,
					.src_irq = irq_pin[i][0], .dst_id = ioapic_id,
					.dst_pin = irq_pin[i][1] };
		memcpy(p, &s, sizeof(s));
		p += sizeof(s);
		count++;
	}
	struct mpc_intsrc lint0 = { .type = 4, .irq_type = 3, .dst_id = 0xff, .dst_pin = 0 };
	struct mpc_intsrc lint1 = { .type = 4, .irq_type = 1, .dst_id = 0xff, .dst_pin = 1 };
	memcpy(p, &lint0, sizeof(lint0));
	p += sizeof(lint0);
	memcpy(p, &lint1, sizeof(lint1));
	p += sizeof(lint1);
	count += 2;

	memcpy(h->sig, "PCMP", 4);
	h->length = (uint16_t)(p - (uint8_t *)h);
	h->spec_rev = 4;
	memcpy(h->oem, "PAGEHINT", 8);
	memcpy(h->product, "PVH-KVM     ", 12);
	h->count = count;
	h->lapic = LAPIC_BASE;
	h->checksum = checksum(h, h->length);

	memcpy(f->sig, "_MP_", 4);
	f->physptr = phys + (uint32_t)sizeof(*f);
	f->length = 1;
	f->spec_rev = 4;
	f->checksum = checksum(f, sizeof(*f));
	return size;
}

void boot_gdt(uint64_t gdt[BOOT_GDT_ENTRIES])
{
	gdt[0] = 0;
	gdt[1] = 0;
	gdt[BOOT_SEL_CODE >> 3] = 0x00cf9b000000ffffULL;	/* 32-bit code, 4 GiB, accessed */
	gdt[BOOT_SEL_DATA >> 3] = 0x00cf93000000ffffULL;	/* data, 4 GiB, accessed */
	gdt[BOOT_SEL_TSS >> 3] = 0x00008b0000000067ULL;	/* 32-bit TSS (busy), base 0, limit 0x67 */
}

int boot_setup(struct guest_mem *gm, const struct boot_params *p, char *err, size_t n)
{
	struct hvm_start_info *si = gm_translate(gm, BOOT_START_INFO, sizeof(*si));
	struct hvm_memmap_table_entry *mm =
		gm_translate(gm, BOOT_MEMMAP, BOOT_MEMMAP_MAX * sizeof(*mm));
	char *cmd = gm_translate(gm, BOOT_CMDLINE, BOOT_CMDLINE_MAX);
	uint8_t *mp = gm_translate(gm, BOOT_MPTABLE, BOOT_MPTABLE_MAX);
	uint8_t *acpi = gm_translate(gm, ACPI_BASE, ACPI_MAX);
	uint64_t *gdt = gm_translate(gm, BOOT_GDT, BOOT_GDT_ENTRIES * 8);
	uint8_t *bda_ebda = gm_translate(gm, BOOT_BDA_EBDA_SEG, 2);
	uint8_t *bda_base = gm_translate(gm, BOOT_BDA_BASEMEM_KIB, 2);
	uint16_t v16;
	uint8_t irqs[ACPI_MAX_MMIO_DEVS];
	struct acpi_mmio_dev adev[ACPI_MAX_MMIO_DEVS];

	if (!si || !mm || !cmd || !mp || !acpi || !gdt || !bda_ebda || !bda_base ||
	    !gm_translate(gm, 0, BOOT_MIN_RAM))
		return vmm_fail(err, n, "guest RAM must start at 0 and hold at least %llu MiB",
			    BOOT_MIN_RAM >> 20);
	if (boot_cmdline(cmd, BOOT_CMDLINE_MAX, p) < 0)
		return vmm_fail(err, n, "guest command line longer than %d bytes", BOOT_CMDLINE_MAX - 1);
	if (p->ndev > ACPI_MAX_MMIO_DEVS)
		return vmm_fail(err, n, "too many devices");
	for (unsigned i = 0; i < p->ndev; i++) {
		irqs[i] = p->dev[i].irq;
		adev[i] = (struct acpi_mmio_dev){ .base = (uint32_t)p->dev[i].base,
						  .size = p->dev[i].size, .irq = p->dev[i].irq };
	}
	if (!mptable_build(mp, BOOT_MPTABLE_MAX, BOOT_MPTABLE, p->ncpus, irqs, p->ndev))
		return vmm_fail(err, n, "MP table for %u CPUs does not fit", p->ncpus);
	if (!acpi_build(acpi, ACPI_MAX, ACPI_BASE, p->ncpus, adev, p->ndev))
		return vmm_fail(err, n, "ACPI tables for %u CPUs do not fit", p->ncpus);

	memset(si, 0, sizeof(*si));
	si->magic = HVM_START_MAGIC;
	si->version = 1;
	si->cmdline_paddr = BOOT_CMDLINE;
	si->rsdp_paddr = ACPI_BASE;
	si->memmap_paddr = BOOT_MEMMAP;
	si->memmap_entries = boot_memmap(gm, mm, BOOT_MEMMAP_MAX);

	boot_gdt(gdt);
	/* Where a BIOS would say the EBDA and base memory end: the MP
	 * floating pointer is in the EBDA's first KiB. */
	v16 = BOOT_MPTABLE >> 4;
	memcpy(bda_ebda, &v16, 2);
	v16 = BOOT_MPTABLE >> 10;	/* KiB; 0x413 is not 2-byte aligned */
	memcpy(bda_base, &v16, 2);
	return 0;
}

/* --- PVH modules: the initrd ---------------------------------------------- */

_Static_assert(BOOT_MEMMAP + BOOT_MEMMAP_MAX * sizeof(struct hvm_memmap_table_entry) <= BOOT_MODLIST &&
	       BOOT_MODLIST + sizeof(struct hvm_modlist_entry) <= BOOT_GDT, "boot data overlaps");

int boot_setup_pvh_initrd(struct guest_mem *gm, uint64_t kernel_end, const void *initrd,
			  size_t size, uint64_t *addr, char *err, size_t n)
{
	struct hvm_start_info *si = gm_translate(gm, BOOT_START_INFO, sizeof(*si));
	struct hvm_modlist_entry *mod = gm_translate(gm, BOOT_MODLIST, sizeof(*mod));
	uint64_t top = 0;

	/* The end of the RAM region at 0: below 4 GiB, as Linux's 32-bit
	 * ramdisk_image needs. */
	for (unsigned i = 0; i < gm->nr; i++)
		if (gm->r[i].gpa == 0)
			top = gm->r[i].size;
	if (!si || !mod || !top)
		return vmm_fail(err, n, "guest RAM must start at 0 and hold at least %llu MiB",
				BOOT_MIN_RAM >> 20);
	if (size == 0)
		return vmm_fail(err, n, "initrd is empty");
	/* never over the boot data, MP and ACPI tables below 1 MiB */
	if (kernel_end < BOOT_HIGH_START)
		kernel_end = BOOT_HIGH_START;
	if (size > top || ((top - size) & ~0xfffULL) < kernel_end)
		return vmm_fail(err, n, "initrd of %zu MiB does not fit between the kernel (up to %llu MiB) and %llu MiB",
				size >> 20, (unsigned long long)(kernel_end >> 20),
				(unsigned long long)(top >> 20));
	*addr = (top - size) & ~0xfffULL;
	void *dst = gm_translate(gm, *addr, size);
	if (!dst)
		return vmm_fail(err, n, "initrd outside guest RAM");
	memcpy(dst, initrd, size);
	*mod = (struct hvm_modlist_entry){ .paddr = *addr, .size = size };
	si->nr_modules = 1;
	si->modlist_paddr = BOOT_MODLIST;
	return 0;
}

/* --- Linux bzImage: the 64-bit boot protocol -------------------------------- */

int boot_page_tables(struct guest_mem *gm)
{
	uint64_t *pml4 = gm_translate(gm, BOOT_PML4, 4096);
	uint64_t *pdpt = gm_translate(gm, BOOT_PDPT, 4096);
	uint64_t *pd = gm_translate(gm, BOOT_PD, 4 * 4096);

	if (!pml4 || !pdpt || !pd)
		return -1;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = BOOT_PDPT | 0x3;			/* present, writable */
	for (uint64_t g = 0; g < 4; g++) {
		pdpt[g] = (BOOT_PD + g * 4096) | 0x3;
		for (uint64_t i = 0; i < 512; i++)	/* present, writable, 2 MiB */
			pd[g * 512 + i] = (g << 30) | (i << 21) | 0x83;
	}
	return 0;
}

int boot_setup_bzimage(struct guest_mem *gm, const void *img, size_t size, const void *initrd,
		       size_t initrd_size, uint64_t *entry, char *err, size_t n)
{
	struct hvm_memmap_table_entry mm[BOOT_MEMMAP_MAX];
	struct bz_e820 e820[BOOT_MEMMAP_MAX];
	unsigned ne = boot_memmap(gm, mm, BOOT_MEMMAP_MAX);
	const char *cmd = gm_translate(gm, BOOT_CMDLINE, BOOT_CMDLINE_MAX);
	uint64_t *gdt = gm_translate(gm, BOOT_GDT, BOOT_GDT_ENTRIES * 8);
	struct bz_info info;

	if (!cmd || !gdt || boot_page_tables(gm))
		return vmm_fail(err, n, "guest RAM must start at 0 and hold at least %llu MiB",
				BOOT_MIN_RAM >> 20);
	for (unsigned i = 0; i < ne; i++)
		e820[i] = (struct bz_e820){ .addr = mm[i].addr, .size = mm[i].size, .type = mm[i].type };
	struct bz_boot b = {
		.zero_page = BOOT_ZERO_PAGE,
		.cmdline = BOOT_CMDLINE,
		.cmdline_len = (uint32_t)strnlen(cmd, BOOT_CMDLINE_MAX),
		.acpi_rsdp = ACPI_BASE,
		.e820 = e820,
		.ne820 = ne,
		.initrd = initrd,
		.initrd_size = initrd_size,
	};
	if (bz_load(gm, img, size, &b, &info, err, n))
		return -1;
	/* The protocol's __BOOT_CS is 64-bit code at the same selector. */
	gdt[BOOT_SEL_CODE >> 3] = 0x00af9b000000ffffULL;
	*entry = info.entry64;
	return 0;
}
