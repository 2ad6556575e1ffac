/* SPDX-License-Identifier: MIT */
/*
 * The CPL0 part of CPU bring-up: IDT (once), this CPU's TSS and GDT slot,
 * lidt/ltr, then iretq to CPL3. PVM emulates each instruction here, so the
 * work is the least the hardware requires; everything else waits for CPL3.
 */
#include <stddef.h>

#include "cpu.h"
#include "irq.h"
#include "x86.h"

/* 64-bit TSS with an all-zero I/O bitmap (every port allowed: PVM checks
 * the bitmap even at IOPL 3) and the 0xff byte that must end it. */
struct tss {
	uint32_t rsvd0;
	uint64_t rsp[3];
	uint64_t rsvd1;
	uint64_t ist[7];
	uint64_t rsvd2;
	uint16_t rsvd3;
	uint16_t iomap_base;
	uint8_t iomap[8192];
	uint8_t iomap_end;
} __attribute__((packed, aligned(16)));

struct gate {
	uint16_t off0;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off1;
	uint32_t off2;
	uint32_t rsvd;
} __attribute__((packed));

uint8_t ustacks[MAX_CPUS][1 << USTACK_SHIFT] __attribute__((aligned(1 << USTACK_SHIFT)));
uint8_t kstacks[MAX_CPUS][1 << KSTACK_SHIFT] __attribute__((aligned(1 << KSTACK_SHIFT)));
static struct tss tss[MAX_CPUS];
static struct gate idt[256] __attribute__((aligned(16)));

struct irq_flags irq_flags[MAX_CPUS];
_Atomic uint64_t irq_pending;
volatile bool cpu_in_kernel[MAX_CPUS];
uint32_t start_info_paddr;
uint64_t ap_boot_rsp;
uint32_t ap_boot_id;

extern uint64_t gdt[GDT_ENTRIES];
extern const uint64_t exc_stubs[32], irq_stubs[2 + NR_IRQ], irq_spurious_stub;

static void set_gate(unsigned vec, uint64_t fn, unsigned dpl)
{
	struct gate *g = &idt[vec];
	g->off0 = (uint16_t)fn;
	g->sel = SEL_KCODE;
	g->ist = 0;
	g->type = 0x8e | dpl << 5; /* present 64-bit interrupt gate: IF=0 inside */
	g->off1 = (uint16_t)(fn >> 16);
	g->off2 = (uint32_t)(fn >> 32);
}

static void idt_init(void)
{
	for (unsigned v = 0; v < 32; v++)
		set_gate(v, exc_stubs[v], v == 3 ? 3 : 0); /* int3: the service gate */
	set_gate(VEC_TIMER, irq_stubs[0], 0);
	set_gate(VEC_WAKE, irq_stubs[1], 0);
	for (unsigned i = 0; i < NR_IRQ; i++)
		set_gate(VEC_IRQ0 + i, irq_stubs[2 + i], 0);
	set_gate(VEC_SPURIOUS, irq_spurious_stub, 0);
}

/* This CPU's TSS (stack for entries from CPL3) into its GDT slot; load. */
static void load_tables(unsigned id)
{
	struct tss *t = &tss[id];
	uint64_t base = (uint64_t)t, limit = sizeof(*t) - 1;
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = {
		sizeof(idt) - 1, (uint64_t)idt };

	t->rsp[0] = (uint64_t)&kstacks[id][1 << KSTACK_SHIFT];
	t->iomap_base = offsetof(struct tss, iomap);
	t->iomap_end = 0xff;
	gdt[5 + 2 * id] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 |
			  ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
	gdt[6 + 2 * id] = base >> 32;
	asm volatile("lidt %0" : : "m"(idtr));
	asm volatile("ltr %w0" : : "r"(SEL_TSS0 + 16 * id));
}

__attribute__((noreturn)) void boot_bsp(uint32_t start_info)
{
	start_info_paddr = start_info;
	idt_init();
	load_tables(0);
	enter_user(kmain, ustack_top(0), 0);
}

__attribute__((noreturn)) void ap_boot(unsigned id)
{
	load_tables(id);
	enter_user((void (*)(void))ap_main, ustack_top(id), id);
}
