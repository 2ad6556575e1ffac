/* SPDX-License-Identifier: MIT */
/*
 * Per-CPU descriptor tables and stacks, and the CPL0 half of bring-up.
 * Each CPU spends a few hundred instructions at CPL0 (cpu.c), then enters
 * CPL3 for good; it only comes back through interrupts, exceptions and the
 * int3 gate (vectors.S).
 */
#ifndef GUEST_CPU_H
#define GUEST_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "layout.h"
#include "platform_impl.h"	/* ustacks */

extern uint8_t kstacks[MAX_CPUS][1 << KSTACK_SHIFT];

/* Set by entry.S/boot_bsp: the PVH start info's physical address. */
extern uint32_t start_info_paddr;

/* Per-CPU "am I at CPL0" flag (set by trap entry; never read from CS). */
extern volatile bool cpu_in_kernel[MAX_CPUS];

/* AP start-up hand-off (smp.c fills these before each SIPI). */
extern uint64_t ap_boot_rsp;
extern uint32_t ap_boot_id;

/* The C the assembly enters at CPL0: entry.S on the BSP, trampoline.S on
 * each AP, vectors.S on a CPU exception. */
__attribute__((noreturn)) void boot_bsp(uint32_t start_info);
__attribute__((noreturn)) void ap_boot(unsigned id);
struct trapframe;
__attribute__((noreturn)) void trap_fault(struct trapframe *tf);

/* First C code at CPL3 on the BSP and on each AP. */
__attribute__((noreturn)) void kmain(void);
__attribute__((noreturn)) void ap_main(unsigned id);

__attribute__((noreturn)) void enter_user(void (*rip)(void), uint64_t rsp, uint64_t arg);

static inline uint64_t ustack_top(unsigned cpu)
{
	/* -8: a function entered by iretq sees the stack as after a call */
	return (uint64_t)&ustacks[cpu][1 << USTACK_SHIFT] - 8;
}

#endif
