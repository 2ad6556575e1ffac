/* SPDX-License-Identifier: MIT */
#include "apic.h"
#include "clock.h"
#include "console.h"
#include "layout.h"
#include "x86.h"

enum {
	LAPIC_ID = 0x20, LAPIC_TPR = 0x80, LAPIC_SVR = 0xf0, LAPIC_ICR_LO = 0x300,
	LAPIC_ICR_HI = 0x310, LAPIC_LVT_TIMER = 0x320, LAPIC_LVT_LINT0 = 0x350,
	LAPIC_LVT_LINT1 = 0x360, LAPIC_LVT_ERROR = 0x370, LAPIC_TIMER_INIT = 0x380,
	LAPIC_TIMER_CUR = 0x390, LAPIC_TIMER_DIV = 0x3e0,
};
#define LVT_MASKED (1u << 16)

static inline uint32_t lr(unsigned reg) { return mmio_read32(LAPIC_BASE + reg); }
static inline void lw(unsigned reg, uint32_t v) { mmio_write32(LAPIC_BASE + reg, v); }

void lapic_init_cpu(void)
{
	lw(LAPIC_SVR, 0x100 | VEC_SPURIOUS);
	lw(LAPIC_TPR, 0);
	lw(LAPIC_LVT_LINT0, LVT_MASKED);	/* no 8259: devices come via the IOAPIC */
	lw(LAPIC_LVT_LINT1, LVT_MASKED);
	lw(LAPIC_LVT_ERROR, LVT_MASKED);
	lw(LAPIC_TIMER_DIV, 0xb);		/* divide by 1 */
	lw(LAPIC_TIMER_INIT, 0);
	lw(LAPIC_LVT_TIMER, VEC_TIMER);		/* one-shot, armed by a count */
}

uint32_t lapic_id(void)
{
	return lr(LAPIC_ID) >> 24;
}

void lapic_ipi(uint32_t apic_id, uint32_t icr_low)
{
	lw(LAPIC_ICR_HI, apic_id << 24);
	lw(LAPIC_ICR_LO, icr_low);
}

void lapic_timer_arm(uint64_t ns)
{
	if (ns > 4000000000ull)
		ns = 4000000000ull;	/* keeps the product below in range */
	uint64_t count = ns * (lapic_hz / 1000) / 1000000;
	if (count == 0)
		count = 1;
	if (count > 0xffffffffu)
		count = 0xffffffffu;	/* wakes early; the sleeper re-arms */
	lw(LAPIC_TIMER_INIT, (uint32_t)count);
}

void lapic_timer_stop(void)
{
	lw(LAPIC_TIMER_INIT, 0);
	lw(LAPIC_LVT_TIMER, VEC_TIMER);	/* unmasked again, idle until armed */
}

uint32_t lapic_timer_start_free(void)
{
	lw(LAPIC_LVT_TIMER, VEC_TIMER | LVT_MASKED);
	lw(LAPIC_TIMER_INIT, 0xffffffffu);
	return lr(LAPIC_TIMER_CUR);
}

uint32_t lapic_timer_count(void)
{
	return lr(LAPIC_TIMER_CUR);
}

/*
 * IOAPIC: index register at base, data window at base + 0x10; pin n's
 * redirection entry is registers 0x10 + 2n (low) and 0x11 + 2n (high).
 *
 * Every route is edge-triggered whatever the MP table says for the pin:
 * an interrupt here only wakes a CPU (handlers do not touch devices), and
 * a level-triggered line would fire again on each EOI until the driver,
 * at CPL3, acked its device. A driver acks the device, then looks at its
 * rings, so an event after the ack raises a fresh edge.
 */
static uintptr_t ioapic_base;
static unsigned ioapic_pins;

static void iow(unsigned reg, uint32_t v)
{
	mmio_write32(ioapic_base, reg);
	mmio_write32(ioapic_base + 0x10, v);
}

static uint32_t ior(unsigned reg)
{
	mmio_write32(ioapic_base, reg);
	return mmio_read32(ioapic_base + 0x10);
}

void ioapic_init(uint64_t base)
{
	ioapic_base = (uintptr_t)base;
	ioapic_pins = ((ior(1) >> 16) & 0xff) + 1;
	if (ioapic_pins > NR_IRQ)
		ioapic_pins = NR_IRQ;
	for (unsigned p = 0; p < ioapic_pins; p++)
		ioapic_mask(p);
}

void ioapic_mask(unsigned pin)
{
	iow(0x10 + 2 * pin, LVT_MASKED);
}

void ioapic_route(unsigned pin, unsigned vector, uint32_t apic_id)
{
	if (pin >= ioapic_pins) {
		kprintf("pagehint: IOAPIC pin %u out of range (%u pins)\n", pin, ioapic_pins);
		return;
	}
	iow(0x11 + 2 * pin, apic_id << 24);
	iow(0x10 + 2 * pin, vector);	/* fixed, physical, active high, edge */
}
