/* SPDX-License-Identifier: MIT */
/*
 * Fixed numbers shared by the assembly and the C of the guest kernel:
 * segment selectors, stack geometry, interrupt vectors, the int3 service
 * ABI, the physical addresses the kernel relies on. Included from .S files,
 * so only #defines here.
 */
#ifndef GUEST_LAYOUT_H
#define GUEST_LAYOUT_H

/* Most CPUs the kernel runs (core/platform.h's PH_MAX_CPUS). */
#define MAX_CPUS	16

/* GDT selectors. TSS descriptors (16 bytes each) follow, one per CPU. */
#define SEL_KCODE	0x08
#define SEL_KDATA	0x10
#define SEL_UDATA	0x1b	/* 0x18 | RPL 3 */
#define SEL_UCODE	0x23	/* 0x20 | RPL 3 */
#define SEL_TSS0	0x28
#define GDT_ENTRIES	(5 + 2 * MAX_CPUS)

/*
 * Per-CPU stacks are arrays of naturally aligned blocks, so the stack
 * pointer alone says which CPU runs: id = (rsp - base) >> shift. CPL3 code
 * (everything but traps) runs on ustacks, CPL0 entries on kstacks (TSS rsp0).
 */
#define USTACK_SHIFT	16	/* 64 KiB */
#define KSTACK_SHIFT	14	/* 16 KiB */

/* Interrupt vectors. */
#define VEC_TIMER	0x20	/* local APIC timer */
#define VEC_WAKE	0x21	/* IPI: "you have work" */
#define VEC_IRQ0	0x30	/* IOAPIC pin n -> VEC_IRQ0 + n */
#define NR_IRQ		24
#define VEC_SPURIOUS	0xff

/*
 * The int3 service ABI (the one software gate that works on PVM and on
 * hardware): r11d = SYS_MAGIC, eax = operation, rdi/rsi = arguments,
 * result in rax. Clobbers rax and r11 only.
 */
#define SYS_MAGIC	0x50480003
#define SYS_HALT	1	/* sti; hlt unless this CPU's wake flag is set */
#define SYS_WRMSR	2	/* wrmsr(rdi, rsi) */
#define SYS_RDMSR	3	/* rax = rdmsr(rdi) */
#define SYS_STOP	4	/* cli; hlt for ever */

/* Physical addresses. */
#define TRAMP_BASE	0x8000		/* AP real-mode trampoline (SIPI vector 8) */
#define LAPIC_BASE	0xfee00000
#define LAPIC_EOI	0xb0

/* Per-CPU interrupt flags, one cache line per CPU (see irq.h). */
#define IRQ_FLAGS_SHIFT	6

/* Debug-exit port (QEMU isa-debug-exit, our VMM): write V, the VM exits. */
#define EXIT_PORT	0x501

#endif
