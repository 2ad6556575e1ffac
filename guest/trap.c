/* SPDX-License-Identifier: MIT */
/*
 * How a run ends: exceptions (a register dump at CPL0, then EXIT_FAULT),
 * ph_exit(), panics and core/'s warnings.
 */
#include <stdarg.h>

#include "console.h"
#include "cpu.h"
#include "exit.h"
#include "x86.h"
#include "../core/platform.h"

/* What vectors.S leaves on the stack: pushed registers, then the frame. */
struct trapframe {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

static const char *const exc_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "?", "#TS",
	"#NP", "#SS", "#GP", "#PF", "?", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

atomic_uint ph_warnings;

static unsigned kstack_cpu(const void *sp)
{
	return (unsigned)(((uintptr_t)sp - (uintptr_t)kstacks) >> KSTACK_SHIFT);
}

/* Lines written with force: another CPU may have died holding the lock. */
__attribute__((format(printf, 1, 2))) static void dump(const char *fmt, ...)
{
	char buf[160];
	va_list ap;
	va_start(ap, fmt);
	int n = kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	console_write(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1, true);
}

__attribute__((noreturn)) void trap_fault(struct trapframe *tf)
{
	unsigned cpu = kstack_cpu(tf);
	uint64_t cr2;
	const char *name = exc_names[tf->vector & 31];

	if (cpu < MAX_CPUS)
		cpu_in_kernel[cpu] = true;
	asm volatile("mov %%cr2, %0" : "=r"(cr2));
	dump("@fault vector=%lu (%s) error=0x%lx cpu=%u\n", tf->vector, name ? name : "?",
	     tf->error, cpu);
	dump("  rip=%016lx cs=%04lx rflags=%08lx rsp=%016lx ss=%04lx\n", tf->rip, tf->cs,
	     tf->rflags, tf->rsp, tf->ss);
	dump("  rax=%016lx rbx=%016lx rcx=%016lx rdx=%016lx\n", tf->rax, tf->rbx, tf->rcx, tf->rdx);
	dump("  rsi=%016lx rdi=%016lx rbp=%016lx r8 =%016lx\n", tf->rsi, tf->rdi, tf->rbp, tf->r8);
	dump("  r9 =%016lx r10=%016lx r11=%016lx r12=%016lx\n", tf->r9, tf->r10, tf->r11, tf->r12);
	dump("  r13=%016lx r14=%016lx r15=%016lx cr2=%016lx\n", tf->r13, tf->r14, tf->r15, cr2);
	ph_exit(EXIT_FAULT);
}

static bool at_cpl0(void)
{
	uintptr_t sp;
	asm("mov %%rsp, %0" : "=r"(sp));
	unsigned k = kstack_cpu((void *)sp);
	return k < MAX_CPUS && cpu_in_kernel[k];
}

__attribute__((noreturn)) void ph_exit(enum exit_status status)
{
	outb(EXIT_PORT, (uint8_t)status);
	/* Still here: no exit device. Stop this CPU; the others idle. */
	dump("pagehint: exit %d (no exit device at port 0x%x); halted\n", status, EXIT_PORT);
	if (at_cpl0())
		for (;;)
			asm volatile("cli; hlt");
	for (;;)
		sys_call(SYS_STOP, 0, 0);
}

__attribute__((noreturn)) void panic_status(enum exit_status status, const char *fmt, ...)
{
	char buf[200];
	va_list ap;
	va_start(ap, fmt);
	int n = kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	console_write(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1, true);
	console_write("\n", 1, true);
	ph_exit(status);
}

void ph_warn(const char *file, int line, const char *msg)
{
	if (atomic_fetch_add(&ph_warnings, 1) < 10)
		kprintf("@warn %s:%d: %s\n", file, line, msg);
}
