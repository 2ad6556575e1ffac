/* SPDX-License-Identifier: MIT */
/*
 * The guest's implementation of core/platform.h. Everything here runs at
 * CPL3 without a trap:
 *  - ph_cpu_id(): which per-CPU stack the stack pointer is on (cpu.h);
 *    one subtraction and one shift, no MSR, no segment base.
 *  - ph_now_ns(): rdtsc scaled by the frequency clock.c found.
 */
#ifndef PH_PLATFORM_IMPL_H
#define PH_PLATFORM_IMPL_H

#include <stdatomic.h>
#include <stdint.h>

#include "layout.h"

#define PH_MAX_CPUS MAX_CPUS

extern uint8_t ustacks[MAX_CPUS][1 << USTACK_SHIFT];

static inline unsigned ph_cpu_id(void)
{
	uintptr_t sp;
	asm("mov %%rsp, %0" : "=r"(sp));
	return (unsigned)((sp - (uintptr_t)ustacks) >> USTACK_SHIFT);
}

/* clock.c: ns = ((tsc - clock_tsc0) * clock_mult) >> 32 */
extern uint64_t clock_tsc0, clock_mult;

static inline uint64_t ph_now_ns(void)
{
	uint32_t lo, hi;
	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	uint64_t d = ((uint64_t)hi << 32 | lo) - clock_tsc0;
	return (uint64_t)(((unsigned __int128)d * clock_mult) >> 32);
}

static inline void ph_cpu_relax(void)
{
	__builtin_ia32_pause();
}

/* Counted; the run fails at the end if any fired (main.c). */
extern atomic_uint ph_warnings;
void ph_warn(const char *file, int line, const char *msg);

#endif
