/* SPDX-License-Identifier: MIT */
#include "console.h"
#include "lib.h"
#include "mptable.h"

struct mp_info mp;

struct mp_fps {			/* floating pointer structure, 16 bytes */
	char sig[4];		/* "_MP_" */
	uint32_t config;	/* physical address of the configuration table */
	uint8_t len, rev, sum, feature[5];
} __attribute__((packed));

struct mp_conf {		/* configuration table header, 44 bytes */
	char sig[4];		/* "PCMP" */
	uint16_t len;		/* base table, header included */
	uint8_t rev, sum;
	char oem[8], product[12];
	uint32_t oem_table;
	uint16_t oem_size, count;	/* count: QEMU leaves 0; walk by len */
	uint32_t lapic;
	uint16_t ext_len;
	uint8_t ext_sum, rsvd;
} __attribute__((packed));

static uint8_t sum(const void *p, unsigned n)
{
	const uint8_t *b = p;
	uint8_t s = 0;
	while (n--)
		s += *b++;
	return s;
}

static const struct mp_fps *scan(uint64_t base, uint64_t len)
{
	for (uint64_t a = base; a + 16 <= base + len; a += 16) {
		const struct mp_fps *f = phys_ptr(a);
		if (!memcmp(f->sig, "_MP_", 4) && f->len == 1 && !sum(f, 16))
			return f;
	}
	return 0;
}

/* The places the spec names: EBDA's first KiB, base memory's last KiB, BIOS ROM. */
static const struct mp_fps *find(void)
{
	const struct mp_fps *f = 0;
	uint64_t ebda = (uint64_t)*(volatile uint16_t *)phys_ptr(0x40e) << 4;
	uint64_t basemem = (uint64_t)*(volatile uint16_t *)phys_ptr(0x413) << 10;
	if (ebda)
		f = scan(ebda, 1024);
	if (!f && basemem >= 1024)
		f = scan(basemem - 1024, 1024);
	if (!f)
		f = scan(0x9fc00, 1024);
	if (!f)
		f = scan(0xf0000, 0x10000);
	return f;
}

void mptable_init(uint32_t bsp_apic)
{
	const struct mp_fps *f = find();
	const struct mp_conf *c = f && f->config ? phys_ptr(f->config) : 0;

	mp.ncpus = 1;
	mp.apic_id[0] = bsp_apic;
	mp.lapic_addr = LAPIC_BASE;
	mp.ioapic_addr = 0xfec00000;
	if (!c || memcmp(c->sig, "PCMP", 4) || sum(c, c->len)) {
		kprintf("pagehint: no valid MP table; running on the boot CPU only\n");
		return;
	}
	mp.found = true;
	mp.listed = 0;
	mp.lapic_addr = c->lapic;

	int isa_bus = -1;
	const uint8_t *p = (const uint8_t *)(c + 1), *end = (const uint8_t *)c + c->len;
	while (p < end) {
		switch (p[0]) {
		case 0: /* processor: type, apic id, version, flags(1 enabled, 2 BSP) */
			if (p[3] & 1) {
				mp.listed++;
				if (p[1] != bsp_apic && mp.ncpus < MAX_CPUS)
					mp.apic_id[mp.ncpus++] = p[1];
			}
			p += 20;
			break;
		case 1: /* bus: type, id, type string */
			if (!memcmp(p + 2, "ISA", 3))
				isa_bus = p[1];
			p += 8;
			break;
		case 2: /* IOAPIC: type, id, version, flags, address */
			if ((p[3] & 1) && !mp.ioapic_id) {
				mp.ioapic_id = p[1];
				mp.ioapic_addr = *(const uint32_t *)(p + 4);
			}
			p += 8;
			break;
		case 3: /* I/O interrupt: type, int type, flags(2), bus, bus irq, ioapic, pin */
			if (p[1] == 0 && p[4] == isa_bus && mp.nroutes < MP_MAX_ROUTES) {
				mp.route[mp.nroutes].bus_irq = p[5];
				mp.route[mp.nroutes].pin = p[7];
				mp.route[mp.nroutes].flags = p[2];
				mp.nroutes++;
			}
			p += 8;
			break;
		case 4: /* local interrupt */
			p += 8;
			break;
		default:
			kprintf("pagehint: MP table entry type %u unknown; rest ignored\n", p[0]);
			p = end;
		}
	}
	if (mp.listed > MAX_CPUS)
		kprintf("pagehint: %u CPUs listed, using %u\n", mp.listed, MAX_CPUS);
}

unsigned mptable_irq_pin(unsigned irq)
{
	for (unsigned i = 0; i < mp.nroutes; i++)
		if (mp.route[i].bus_irq == irq)
			return mp.route[i].pin;
	return irq;
}
