/* SPDX-License-Identifier: MIT */
/* The ACPI tables as Linux walks them: RSDP → XSDT → FADT (→ DSDT), MADT;
 * every checksum, the FADT's hardware-reduced flag and its sleep and reset
 * registers on the ports the VMM handles, the DSDT's \_S5, the MADT's
 * CPUs and IOAPIC. (iasl -d disassembles the same tables without a
 * complaint: checked by hand with acpica-tools.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "acpi.h"
#include "boot.h"

static uint8_t mem[ACPI_MAX];
static const struct acpi_mmio_dev devs[2] = {
	{ .base = 0xd0000000, .size = 0x200, .irq = 5 },
	{ .base = 0xd0000200, .size = 0x200, .irq = 6 },
};

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static uint32_t u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* A table at guest-physical gpa: checked signature, length and checksum. */
static const uint8_t *table(uint64_t gpa, const char *sig)
{
	assert_true(gpa >= ACPI_BASE && gpa < ACPI_BASE + ACPI_MAX);
	const uint8_t *t = mem + (gpa - ACPI_BASE);
	assert_memory_equal(t, sig, 4);
	uint32_t len = u32(t + 4);
	assert_true(len >= 36 && gpa - ACPI_BASE + len <= ACPI_MAX);
	assert_int_equal(sum(t, len), 0);
	return t;
}

static void tables_walk_and_check(void **state)
{
	(void)state;
	size_t n = acpi_build(mem, sizeof(mem), ACPI_BASE, 3, devs, 2);
	assert_true(n > 0 && n <= sizeof(mem));

	assert_memory_equal(mem, "RSD PTR ", 8);
	assert_int_equal(sum(mem, 20), 0);
	assert_int_equal(sum(mem, 36), 0);
	assert_int_equal(mem[15], 2);			/* revision: XSDT */
	const uint8_t *xsdt = table(u64(mem + 24), "XSDT");
	assert_int_equal(u32(xsdt + 4), 36 + 2 * 8);

	const uint8_t *fadt = table(u64(xsdt + 36), "FACP");
	const uint8_t *madt = table(u64(xsdt + 44), "APIC");
	assert_int_equal(u32(fadt + 4), 276);
	assert_int_equal(fadt[8], 6);
	uint32_t flags = u32(fadt + 112);
	assert_true(flags & (1u << 20));		/* HW_REDUCED_ACPI */
	assert_true(flags & (1u << 10));		/* RESET_REG_SUP */
	/* reset register: system I/O, 8 bits, the reset port and value */
	assert_int_equal(fadt[116], 1);
	assert_int_equal(fadt[117], 8);
	assert_int_equal(u64(fadt + 120), ACPI_RESET_PORT);
	assert_int_equal(fadt[128], ACPI_RESET_VALUE);
	assert_int_equal(u64(fadt + 244 + 4), ACPI_SLEEP_CTL_PORT);
	assert_int_equal(u64(fadt + 256 + 4), ACPI_SLEEP_STS_PORT);
	assert_int_equal(fadt[244], 1);

	const uint8_t *dsdt = table(u64(fadt + 140), "DSDT");
	assert_int_equal(u32(fadt + 40), u64(fadt + 140));
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12 };
	assert_memory_equal(dsdt + 36, s5, sizeof(s5));
	assert_int_equal(dsdt[36 + 9], ACPI_S5_TYPE);	/* SLP_TYPa */
	/* then Scope (\_SB) with each virtio-mmio device: its _HID, and in
	 * its _CRS the window (Memory32Fixed) and the interrupt (Extended
	 * Interrupt, edge, active high) */
	uint32_t dlen = u32(dsdt + 4);
	const uint8_t *scope = dsdt + 36 + 11;
	assert_int_equal(scope[0], 0x10);
	assert_int_equal((scope[1] & 0x0f) | scope[2] << 4, dlen - 36 - 11 - 1);
	assert_memory_equal(scope + 3, "\\_SB_", 5);
	const uint8_t *com1 = scope + 8;		/* the UART first */
	assert_memory_equal(com1 + 3, "COM1", 4);
	const uint8_t *d = com1 + 2 + com1[2];
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(d[0], 0x5b);
		assert_int_equal(d[1], 0x82);
		assert_memory_equal(d + 13, "LNRO0005", 9);
		const uint8_t *crs = d + 38;		/* the buffer's bytes */
		assert_int_equal(crs[0], 0x86);
		assert_int_equal(u32(crs + 4), devs[i].base);
		assert_int_equal(u32(crs + 8), devs[i].size);
		assert_int_equal(crs[12], 0x89);
		assert_int_equal(crs[15], 0x03);
		assert_int_equal(u32(crs + 17), devs[i].irq);
		assert_int_equal(crs[21], 0x79);
		d += 2 + d[2];
	}
	assert_ptr_equal(d, dsdt + dlen);
	assert_int_equal(acpi_build(mem, sizeof(mem), ACPI_BASE, 1, devs, ACPI_MAX_MMIO_DEVS + 1), 0);

	/* MADT: 3 local APICs with ids 0-2, enabled; an IOAPIC at its base */
	assert_int_equal(u32(madt + 36), LAPIC_BASE);
	uint32_t len = u32(madt + 4);
	unsigned cpus = 0, ioapics = 0;
	for (uint32_t off = 44; off < len; off += madt[off + 1]) {
		assert_true(madt[off + 1] >= 2 && off + madt[off + 1] <= len);
		if (madt[off] == 0) {
			assert_int_equal(madt[off + 3], cpus);
			assert_int_equal(u32(madt + off + 4) & 1, 1);
			cpus++;
		} else if (madt[off] == 1) {
			assert_int_equal(u32(madt + off + 4), IOAPIC_BASE);
			assert_int_equal(u32(madt + off + 8), 0);
			ioapics++;
		}
	}
	assert_int_equal(cpus, 3);
	assert_int_equal(ioapics, 1);
}

static void refuses_what_does_not_fit(void **state)
{
	(void)state;
	assert_int_equal(acpi_build(mem, 100, ACPI_BASE, 2, NULL, 0), 0);
	assert_int_equal(acpi_build(mem, sizeof(mem), ACPI_BASE, 0, NULL, 0), 0);
	assert_int_equal(acpi_build(mem, sizeof(mem), ACPI_BASE, 255, NULL, 0), 0);
	assert_true(acpi_build(mem, sizeof(mem), ACPI_BASE, 254, NULL, 0) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tables_walk_and_check),
		cmocka_unit_test(refuses_what_does_not_fit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
