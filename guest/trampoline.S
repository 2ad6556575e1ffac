/* SPDX-License-Identifier: MIT */
/*
 * Application processor start-up code. smp.c copies it to TRAMP_BASE
 * (below 1 MiB) and sends SIPI with vector TRAMP_BASE >> 12; the AP starts
 * here in real mode with CS = TRAMP_BASE >> 4, IP = 0, and goes straight
 * to long mode on the BSP's page tables and GDT, then jumps to ap_entry64
 * in the kernel image.
 */
#include "layout.h"

	.section .rodata.tramp, "a"
	.code16
	.globl tramp_start, tramp_end
tramp_start:
	cli
	mov %cs, %ax
	mov %ax, %ds
	lgdtl (tramp_gdt - tramp_start)
	mov %cr4, %eax
	or $0x20, %eax			/* PAE */
	mov %eax, %cr4
	movl $boot_pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax		/* PG | PE: real mode to long mode at once */
	mov %eax, %cr0
	ljmpl $SEL_KCODE, $ap_entry64
	.p2align 2
tramp_gdt:
	.word GDT_ENTRIES * 8 - 1
	.long gdt
tramp_end:
