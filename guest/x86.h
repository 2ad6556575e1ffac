/* SPDX-License-Identifier: MIT */
/* x86 instructions the kernel uses, as inline functions. */
#ifndef GUEST_X86_H
#define GUEST_X86_H

#include <stdint.h>

#include "layout.h"

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
		     : "a"(leaf), "c"(sub));
}

static inline void cpu_relax(void)
{
	__builtin_ia32_pause();
}

/* MMIO: volatile accesses; the windows are mapped uncached (entry.S). */
static inline uint32_t mmio_read32(uintptr_t addr)
{
	return *(volatile uint32_t *)addr;
}

static inline void mmio_write32(uintptr_t addr, uint32_t v)
{
	*(volatile uint32_t *)addr = v;
}

/*
 * The int3 service gate (layout.h): the only way from CPL3 up to CPL0.
 * About 9 us a round trip on PVM; used for hlt and the odd MSR.
 */
static inline uint64_t sys_call(uint32_t op, uint64_t a, uint64_t b)
{
	register uint64_t magic asm("r11") = SYS_MAGIC;
	uint64_t ret = op;
	asm volatile("int3" : "+a"(ret), "+r"(magic) : "D"(a), "S"(b) : "memory");
	return ret;
}

static inline void sys_halt(void) { sys_call(SYS_HALT, 0, 0); }
static inline void sys_wrmsr(uint32_t msr, uint64_t v) { sys_call(SYS_WRMSR, msr, v); }
static inline uint64_t sys_rdmsr(uint32_t msr) { return sys_call(SYS_RDMSR, msr, 0); }

#endif
