/* SPDX-License-Identifier: MIT */
/*
 * Local APIC (xAPIC, MMIO at LAPIC_BASE) and IOAPIC, programmed from CPL3
 * through their user-accessible mappings. On KVM every access is an
 * in-kernel MMIO exit (~3 us on PVM), so the hot paths use few: arming the
 * timer is one write, a wake-up IPI two.
 */
#ifndef GUEST_APIC_H
#define GUEST_APIC_H

#include <stdint.h>

void lapic_init_cpu(void);	/* enable, mask LINTs, timer one-shot idle */
uint32_t lapic_id(void);
void lapic_ipi(uint32_t apic_id, uint32_t icr_low);
void lapic_timer_arm(uint64_t ns);	/* one-shot VEC_TIMER after ns (>0) */
void lapic_timer_stop(void);
uint32_t lapic_timer_start_free(void);	/* masked, max count; for calibration */
uint32_t lapic_timer_count(void);

#define ICR_INIT	0x4500
#define ICR_SIPI	0x4600
#define ICR_FIXED	0x4000

void ioapic_init(uint64_t base);
/* Deliver pin as vector to apic_id: edge-triggered, active high (see apic.c). */
void ioapic_route(unsigned pin, unsigned vector, uint32_t apic_id);
void ioapic_mask(unsigned pin);

#endif
