/* SPDX-License-Identifier: MIT */
/*
 * Time: the TSC, read at CPL3, scaled to nanoseconds (ph_now_ns() in
 * platform_impl.h). Its frequency comes from, in order: kvmclock's pvclock
 * (KVM), CPUID 0x15 or 0x40000010, a 20 ms calibration against the PIT.
 * The local APIC timer's frequency is measured against the TSC.
 */
#ifndef GUEST_CLOCK_H
#define GUEST_CLOCK_H

#include <stdint.h>

extern uint64_t tsc_hz, lapic_hz;
extern const char *clock_source;

void clock_init(void);		/* BSP, before anything waits */
void lapic_calibrate(void);	/* after lapic_init_cpu() on the BSP */

/* Spin (at CPL3) for ns nanoseconds. */
void delay_ns(uint64_t ns);

#endif
