/* SPDX-License-Identifier: MIT */
/*
 * Boot: the PVH entry note, the 32-bit entry (start info in EBX), the switch
 * to long mode, and the static tables that make it cheap. Everything here
 * runs at CPL0, which PVM emulates instruction by instruction, so the page
 * tables and the GDT are assembled into the image rather than built at run
 * time: the whole path to C is about 20 instructions.
 */
#include "layout.h"

/* XEN_ELFNOTE_PHYS32_ENTRY: name "Xen", type 18, 32-bit entry address. */
	.section .note.Xen, "a"
	.p2align 2
	.long 4, 4, 18
	.asciz "Xen"
	.p2align 2
	.long entry32

/*
 * Page tables: identity map of the first 4 GiB with 2 MiB pages, user
 * accessible (U) and writable, accessed/dirty preset. The top 32 MiB
 * (LAPIC, IOAPIC, virtio-mmio windows) is uncached. RAM above 4 GiB is
 * mapped later from CPL3 (mem.c) into boot_pdpt's free slots.
 */
#define PDE_RAM		0xe7	/* P RW U A D PS */
#define PDE_MMIO	0xff	/* ... plus PWT PCD */
	.section .data.pgt, "aw"
	.p2align 12
	.globl boot_pml4, boot_pdpt, boot_pd
boot_pml4:
	.quad boot_pdpt + 0x67
	.fill 511, 8, 0
boot_pdpt:
	.quad boot_pd + 0x0067
	.quad boot_pd + 0x1067
	.quad boot_pd + 0x2067
	.quad boot_pd + 0x3067
	.fill 508, 8, 0
boot_pd:
	.set pa, 0
	.rept 2048
	.if pa >= 0xfe000000
	.quad pa + PDE_MMIO
	.else
	.quad pa + PDE_RAM
	.endif
	.set pa, pa + 0x200000
	.endr

/* GDT: flat 64-bit code/data for CPL0 and CPL3, then one TSS per CPU. */
	.section .data
	.p2align 4
	.globl gdt, gdt_ptr
gdt:
	.quad 0
	.quad 0x00af9b000000ffff	/* 0x08 kernel code, 64-bit */
	.quad 0x00cf93000000ffff	/* 0x10 kernel data */
	.quad 0x00cff3000000ffff	/* 0x18 user data, DPL3 */
	.quad 0x00affb000000ffff	/* 0x20 user code, 64-bit, DPL3 */
	.fill 2 * MAX_CPUS, 8, 0	/* 0x28 TSS descriptors, filled per CPU */
gdt_end:
	.p2align 3
	.word 0, 0, 0
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt

	.section .text.entry, "ax"
	.code32
	.globl entry32
entry32:
	cli
	cld
	mov %ebx, %esi			/* hvm_start_info, physical */
	lgdt gdt_ptr
	mov $SEL_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov %cr4, %eax
	or $0x20, %eax			/* PAE */
	mov %eax, %cr4
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax		/* PG | PE */
	mov %eax, %cr0
	ljmp $SEL_KCODE, $entry64

	.code64
entry64:
	mov $(kstacks + (1 << KSTACK_SHIFT)), %rsp
	mov %esi, %edi
	call boot_bsp
	ud2

/* Application processors arrive here from the trampoline, in long mode. */
	.globl ap_entry64
ap_entry64:
	mov $SEL_KDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov ap_boot_rsp(%rip), %rsp
	mov ap_boot_id(%rip), %edi
	call ap_boot
	ud2

/*
 * enter_user(rip, rsp, arg): leave CPL0 for good on this CPU: iretq to
 * CPL3 with IF=1 and IOPL=3 (port I/O allowed by IOPL and the TSS bitmap).
 */
	.globl enter_user
enter_user:
	xor %eax, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %fs
	mov %eax, %gs
	push $SEL_UDATA
	push %rsi
	push $0x3202			/* IOPL=3, IF=1, reserved bit 1 */
	push $SEL_UCODE
	push %rdi
	mov %rdx, %rdi
	iretq
