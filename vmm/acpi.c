/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "acpi.h"
#include "boot.h"

struct acpi_header {
	char sig[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char sig[8];		/* "RSD PTR " */
	uint8_t checksum;	/* of the first 20 bytes */
	char oem_id[6];
	uint8_t revision;	/* 2: ACPI 2.0+, XSDT */
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum;	/* of all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_gas {		/* Generic Address Structure */
	uint8_t space;		/* 1: system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;	/* 1: byte */
	uint64_t address;
} __attribute__((packed));

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl, dsdt;
	uint8_t reserved0, pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt, pm1b_evt, pm1a_cnt, pm1b_cnt, pm2_cnt, pm_tmr, gpe0, gpe1;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len, gpe0_len, gpe1_len, gpe1_base,
		cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl, x_dsdt;
	struct acpi_gas x_pm1a_evt, x_pm1b_evt, x_pm1a_cnt, x_pm1b_cnt, x_pm2_cnt, x_pm_tmr,
		x_gpe0, x_gpe1;
	struct acpi_gas sleep_control, sleep_status;
	uint64_t hypervisor_id;
} __attribute__((packed));

struct madt_lapic {
	uint8_t type, length;	/* 0, 8 */
	uint8_t uid, apic_id;
	uint32_t flags;		/* bit 0: enabled */
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length;	/* 1, 12 */
	uint8_t id, reserved;
	uint32_t address, gsi_base;
} __attribute__((packed));

struct madt_override {
	uint8_t type, length;	/* 2, 10 */
	uint8_t bus, source;
	uint32_t gsi;
	uint16_t flags;		/* 0: conforms to the bus (ISA: edge, high) */
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type, length;	/* 4, 6 */
	uint8_t uid;		/* 0xff: all processors */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_header) == 36, "SDT header");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT 6.x");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT flags");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT");
_Static_assert(offsetof(struct acpi_fadt, sleep_control) == 244, "FADT sleep control");

#define FADT_RESET_REG_SUP	(1u << 10)
#define FADT_HW_REDUCED_ACPI	(1u << 20)
#define IAPC_VGA_NOT_PRESENT	(1u << 2)
#define IAPC_MSI_NOT_SUPPORTED	(1u << 3)
#define IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)

/* \_S5 as AML: Name (_S5_, Package (2) { 5, 0 }) */
static const uint8_t s5_aml[] = {
	0x08, '_', 'S', '5', '_',	/* NameOp, NameString */
	0x12, 0x05, 0x02,		/* PackageOp, PkgLength 5, NumElements 2 */
	0x0a, ACPI_S5_TYPE,		/* BytePrefix 5: SLP_TYPa */
	0x00,				/* ZeroOp: SLP_TYPb */
};

/* One virtio-mmio device as AML (ACPI 6.x §19.6, §6.4 resource data):
 *
 *   Device (VRxx) {
 *     Name (_HID, "LNRO0005")
 *     Name (_UID, n)
 *     Name (_CRS, ResourceTemplate () {
 *       Memory32Fixed (ReadWrite, base, size)
 *       Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { irq }
 *     })
 *   }
 *
 * 61 bytes, so every PkgLength fits the one-byte form (< 64). */
#define MMIO_DEV_AML 61

static size_t mmio_dev_aml(uint8_t *p, unsigned n, const struct acpi_mmio_dev *d)
{
	static const char hex[] = "0123456789ABCDEF";
	uint8_t *s = p;

	*p++ = 0x5b, *p++ = 0x82;		/* DeviceOp */
	*p++ = MMIO_DEV_AML - 2;		/* PkgLength: all but the opcode */
	*p++ = 'V', *p++ = 'R', *p++ = (uint8_t)hex[(n >> 4) & 15], *p++ = (uint8_t)hex[n & 15];
	*p++ = 0x08;				/* Name (_HID, "LNRO0005") */
	memcpy(p, "_HID", 4), p += 4;
	*p++ = 0x0d;				/* StringPrefix */
	memcpy(p, "LNRO0005", 9), p += 9;	/* with its NUL */
	*p++ = 0x08;				/* Name (_UID, n) */
	memcpy(p, "_UID", 4), p += 4;
	*p++ = 0x0a, *p++ = (uint8_t)n;		/* BytePrefix */
	*p++ = 0x08;				/* Name (_CRS, Buffer) */
	memcpy(p, "_CRS", 4), p += 4;
	*p++ = 0x11;				/* BufferOp */
	*p++ = 26;				/* PkgLength: itself, the size, 23 bytes */
	*p++ = 0x0a, *p++ = 23;			/* BufferSize */
	*p++ = 0x86, *p++ = 9, *p++ = 0;	/* Memory32Fixed, length 9 */
	*p++ = 1;				/* read/write */
	memcpy(p, &d->base, 4), p += 4;
	memcpy(p, &d->size, 4), p += 4;
	*p++ = 0x89, *p++ = 6, *p++ = 0;	/* Extended Interrupt, length 6 */
	*p++ = 0x03;				/* consumer, edge, active high, exclusive */
	*p++ = 1;				/* one interrupt */
	uint32_t irq = d->irq;
	memcpy(p, &irq, 4), p += 4;
	*p++ = 0x79, *p++ = 0;			/* End Tag, checksum 0: not checked */
	return (size_t)(p - s);
}

/* The UART, COM1, so that Linux maps its IRQ: on a hardware-reduced
 * platform Linux sets up no ISA IRQs by itself, and the legacy 8250 port
 * table alone gets no interrupt (its tty then never sends).
 *
 *   Device (COM1) {
 *     Name (_HID, EisaId ("PNP0501"))
 *     Name (_UID, 0)
 *     Name (_CRS, ResourceTemplate () {
 *       IO (Decode16, 0x3f8, 0x3f8, 1, 8)
 *       IRQNoFlags () { 4 }
 *     })
 *   }
 */
static const uint8_t com1_aml[] = {
	0x5b, 0x82, 43, 'C', 'O', 'M', '1',		/* DeviceOp, PkgLength, name */
	0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01,	/* DWord: EISA "PNP0501" */
	0x08, '_', 'U', 'I', 'D', 0x00,
	0x08, '_', 'C', 'R', 'S', 0x11, 16, 0x0a, 13,	/* Buffer of 13 bytes */
	0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,	/* IO: 16-bit decode, 0x3f8, 8 ports */
	0x22, 1 << SERIAL_IRQ, 0x00,			/* IRQNoFlags: edge, active high */
	0x79, 0x00,					/* End Tag */
};
_Static_assert(sizeof(com1_aml) == 45, "COM1's PkgLength");

/* The DSDT's AML: \_S5, then Scope (\_SB) { COM1, the devices }. */
static size_t dsdt_aml(uint8_t *p, const struct acpi_mmio_dev *dev, unsigned ndev)
{
	uint8_t *s = p;

	memcpy(p, s5_aml, sizeof(s5_aml));
	p += sizeof(s5_aml);
	/* ScopeOp, a two-byte PkgLength (it counts itself), "\_SB_" */
	size_t len = 2 + 5 + sizeof(com1_aml) + ndev * MMIO_DEV_AML;
	*p++ = 0x10;
	*p++ = (uint8_t)(0x40 | (len & 0x0f));
	*p++ = (uint8_t)(len >> 4);
	memcpy(p, "\\_SB_", 5), p += 5;
	memcpy(p, com1_aml, sizeof(com1_aml));
	p += sizeof(com1_aml);
	for (unsigned i = 0; i < ndev; i++)
		p += mmio_dev_aml(p, i, &dev[i]);
	return (size_t)(p - s);
}

static uint8_t sum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;
	while (n--)
		s += *b++;
	return s;
}

static void header(struct acpi_header *h, const char sig[4], uint32_t len, uint8_t rev)
{
	memcpy(h->sig, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, "PGHINT", 6);
	memcpy(h->oem_table_id, "PAGEHINT", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "PGHT", 4);
	h->creator_revision = 1;
	h->checksum = 0;
	h->checksum = (uint8_t)-sum(h, len);
}

static struct acpi_gas io_reg(uint16_t port)
{
	return (struct acpi_gas){ .space = 1, .bit_width = 8, .access_size = 1, .address = port };
}

static size_t align16(size_t v)
{
	return (v + 15) & ~(size_t)15;
}

size_t acpi_build(uint8_t *dst, size_t cap, uint32_t phys, unsigned ncpus,
		  const struct acpi_mmio_dev *dev, unsigned ndev)
{
	size_t rsdp_off = 0;
	size_t xsdt_off = align16(sizeof(struct acpi_rsdp));
	size_t xsdt_len = sizeof(struct acpi_header) + 2 * sizeof(uint64_t);
	size_t fadt_off = align16(xsdt_off + xsdt_len);
	size_t dsdt_off = align16(fadt_off + sizeof(struct acpi_fadt));
	size_t dsdt_len = sizeof(struct acpi_header) + sizeof(s5_aml) + 3 + 5 + sizeof(com1_aml) +
			  ndev * MMIO_DEV_AML;
	size_t madt_off = align16(dsdt_off + dsdt_len);
	size_t madt_len = sizeof(struct acpi_header) + 8 + ncpus * sizeof(struct madt_lapic) +
			  sizeof(struct madt_ioapic) + sizeof(struct madt_override) +
			  sizeof(struct madt_lapic_nmi);
	size_t total = madt_off + madt_len;

	if (ncpus == 0 || ncpus >= 255 || ndev > ACPI_MAX_MMIO_DEVS || total > cap)
		return 0;
	memset(dst, 0, total);

	/* DSDT */
	dsdt_aml(dst + dsdt_off + sizeof(struct acpi_header), dev, ndev);
	header((struct acpi_header *)(dst + dsdt_off), "DSDT", (uint32_t)dsdt_len, 2);

	/* FADT: hardware-reduced, power off and reset through I/O ports. */
	struct acpi_fadt fadt = {
		.dsdt = phys + (uint32_t)dsdt_off,
		.x_dsdt = phys + dsdt_off,
		.flags = FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP,
		.iapc_boot_arch = IAPC_VGA_NOT_PRESENT | IAPC_MSI_NOT_SUPPORTED |
				  IAPC_CMOS_RTC_NOT_PRESENT,	/* and no 8042 */
		.reset_reg = io_reg(ACPI_RESET_PORT),
		.reset_value = ACPI_RESET_VALUE,
		.minor_version = 0,
		.sleep_control = io_reg(ACPI_SLEEP_CTL_PORT),
		.sleep_status = io_reg(ACPI_SLEEP_STS_PORT),
	};
	memcpy(&fadt.hypervisor_id, "PAGEHINT", 8);
	memcpy(dst + fadt_off, &fadt, sizeof(fadt));
	header((struct acpi_header *)(dst + fadt_off), "FACP", sizeof(fadt), 6);

	/* MADT */
	uint8_t *p = dst + madt_off + sizeof(struct acpi_header);
	uint32_t lapic = LAPIC_BASE, madt_flags = 0;
	memcpy(p, &lapic, 4);
	memcpy(p + 4, &madt_flags, 4);
	p += 8;
	for (unsigned i = 0; i < ncpus; i++) {
		struct madt_lapic l = { .type = 0, .length = sizeof(l), .uid = (uint8_t)i,
					.apic_id = (uint8_t)i, .flags = 1 };
		memcpy(p, &l, sizeof(l));
		p += sizeof(l);
	}
	struct madt_ioapic io = { .type = 1, .length = sizeof(io), .id = (uint8_t)ncpus,
				  .address = IOAPIC_BASE, .gsi_base = 0 };
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	struct madt_override pit = { .type = 2, .length = sizeof(pit), .bus = 0, .source = 0,
				     .gsi = 2, .flags = 0 };
	memcpy(p, &pit, sizeof(pit));
	p += sizeof(pit);
	struct madt_lapic_nmi nmi = { .type = 4, .length = sizeof(nmi), .uid = 0xff, .lint = 1 };
	memcpy(p, &nmi, sizeof(nmi));
	header((struct acpi_header *)(dst + madt_off), "APIC", (uint32_t)madt_len, 5);

	/* XSDT */
	uint64_t entries[2] = { phys + fadt_off, phys + madt_off };
	memcpy(dst + xsdt_off + sizeof(struct acpi_header), entries, sizeof(entries));
	header((struct acpi_header *)(dst + xsdt_off), "XSDT", (uint32_t)xsdt_len, 1);

	/* RSDP */
	struct acpi_rsdp r = { .revision = 2, .length = sizeof(r), .xsdt = phys + xsdt_off };
	memcpy(r.sig, "RSD PTR ", 8);
	memcpy(r.oem_id, "PGHINT", 6);
	r.checksum = (uint8_t)-sum(&r, 20);
	r.ext_checksum = (uint8_t)-sum(&r, sizeof(r));
	memcpy(dst + rsdp_off, &r, sizeof(r));
	return total;
}
