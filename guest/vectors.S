/* SPDX-License-Identifier: MIT */
/*
 * CPL0 entry points, all of them: exceptions (register dump, then the run
 * ends), device and timer interrupts (set a flag, EOI, iretq) and the int3
 * service gate. PVM emulates CPL0 at ~0.6 us per instruction, so the paths
 * that happen in normal operation are counted in instructions: an
 * interrupt is 16, a halt request 11 plus the sleep.
 *
 * Which CPU: the stack pointer. An entry from CPL3 switches to this CPU's
 * TSS rsp0, the top of kstacks[cpu]; an entry at CPL0 (an interrupt waking
 * a halt) is already on it. So cpu = (rsp - kstacks) >> KSTACK_SHIFT.
 */
#include "layout.h"

/* rcx = &irq_flags[this cpu] - irq_flags (a byte offset). */
.macro CPU_FLAGS_OFFSET reg
	mov %rsp, \reg
	sub $kstacks, \reg
	shr $KSTACK_SHIFT, \reg
	shl $IRQ_FLAGS_SHIFT, \reg
.endm

	.text

/* ---- exceptions: push a dummy error code where the CPU pushes none ---- */
.macro EXC n
	.p2align 4
exc\n:
	.if !(\n == 8 || \n == 10 || \n == 11 || \n == 12 || \n == 13 || \n == 14 || \n == 17 || \n == 21 || \n == 29 || \n == 30)
	push $0
	.endif
	push $\n
	jmp trap_common
.endm

	.irp n, 0,1,2,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	EXC \n
	.endr

/* Save every register below the hardware frame: struct trapframe. */
trap_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	call trap_fault			/* does not return */
	ud2

/* ---- int3: the service gate (DPL3), or a real breakpoint ---- */
	.p2align 4
exc3:
	cmp $SYS_MAGIC, %r11d
	jne 9f
	cmp $SYS_HALT, %eax
	je sys_halt
	cmp $SYS_WRMSR, %eax
	je sys_wrmsr
	cmp $SYS_RDMSR, %eax
	je sys_rdmsr
	cmp $SYS_STOP, %eax
	je sys_stop
9:	push $0
	push $3
	jmp trap_common

/*
 * Halt until an interrupt, unless one already came since the caller
 * cleared its wake flag (the check runs with IF=0: the gate cleared it).
 * sti's one-instruction shadow makes "sti; hlt" atomic: an interrupt
 * pending at the sti is taken after the hlt has started, and wakes it.
 */
sys_halt:
	CPU_FLAGS_OFFSET %rax
	cmpl $0, irq_flags(%rax)
	jne 1f
	sti
	hlt
	cli
1:	iretq

sys_wrmsr:
	push %rcx
	push %rdx
	mov %edi, %ecx
	mov %rsi, %rax
	mov %rsi, %rdx
	shr $32, %rdx
	wrmsr
	pop %rdx
	pop %rcx
	iretq

sys_rdmsr:
	push %rcx
	push %rdx
	mov %edi, %ecx
	rdmsr
	shl $32, %rdx
	or %rdx, %rax
	pop %rdx
	pop %rcx
	iretq

sys_stop:
	cli
1:	hlt
	jmp 1b

/* ---- interrupts: wake flag, pending bit, EOI ---- */
.macro IRQ vec
	.p2align 4
irq\vec:
	push %rax
	mov $(\vec - VEC_TIMER), %eax
	jmp irq_common
.endm

	.irp v, 0x20,0x21,0x30,0x31,0x32,0x33,0x34,0x35,0x36,0x37,0x38,0x39,0x3a,0x3b,0x3c,0x3d,0x3e,0x3f,0x40,0x41,0x42,0x43,0x44,0x45,0x46,0x47
	IRQ \v
	.endr

irq_common:
	push %rcx
	CPU_FLAGS_OFFSET %rcx
	movl $1, irq_flags(%rcx)		/* wake */
	incq irq_flags+8(%rcx)			/* count, this CPU only */
	lock btsq %rax, irq_pending(%rip)	/* which source */
	mov $(LAPIC_BASE + LAPIC_EOI), %ecx
	movl $0, (%rcx)
	pop %rcx
	pop %rax
	iretq

	.p2align 4
irq_spurious:
	iretq

/* Tables for idt_init(): stubs by vector. */
	.section .rodata
	.p2align 3
	.globl exc_stubs, irq_stubs, irq_spurious_stub
exc_stubs:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad exc\n
	.endr
irq_stubs:
	.quad irq0x20, irq0x21
	.irp v, 0x30,0x31,0x32,0x33,0x34,0x35,0x36,0x37,0x38,0x39,0x3a,0x3b,0x3c,0x3d,0x3e,0x3f,0x40,0x41,0x42,0x43,0x44,0x45,0x46,0x47
	.quad irq\v
	.endr
irq_spurious_stub:
	.quad irq_spurious
