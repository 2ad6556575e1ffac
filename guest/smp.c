/* SPDX-License-Identifier: MIT */
#include "apic.h"
#include "clock.h"
#include "console.h"
#include "cpu.h"
#include "lib.h"
#include "mptable.h"
#include "sched.h"
#include "smp.h"
#include "x86.h"
#include "../core/platform.h"

unsigned nr_cpus = 1;
uint32_t cpu_apic_id[MAX_CPUS];
static atomic_uint ap_arrived;		/* the id of the last AP that reached CPL3 */

extern const char tramp_start[], tramp_end[];

static bool arrived(void *id)
{
	return atomic_load_explicit(&ap_arrived, memory_order_acquire) == (uintptr_t)id;
}

/* INIT, SIPI; a second SIPI if the first was missed (MP spec B.4). */
static bool start_ap(unsigned id)
{
	ap_boot_id = id;
	ap_boot_rsp = (uint64_t)&kstacks[id][1 << KSTACK_SHIFT];
	atomic_thread_fence(memory_order_seq_cst);
	lapic_ipi(cpu_apic_id[id], ICR_INIT);
	lapic_ipi(cpu_apic_id[id], ICR_SIPI | TRAMP_BASE >> 12);
	if (wait_until(arrived, (void *)(uintptr_t)id, ph_now_ns() + 10000000))
		return true;
	lapic_ipi(cpu_apic_id[id], ICR_SIPI | TRAMP_BASE >> 12);
	return wait_until(arrived, (void *)(uintptr_t)id, ph_now_ns() + 1000000000);
}

void smp_boot(void)
{
	cpu_apic_id[0] = mp.apic_id[0];
	/* cppcheck-suppress comparePointers ; both bound the one trampoline (trampoline.S) */
	memcpy(phys_ptr(TRAMP_BASE), tramp_start, (size_t)(tramp_end - tramp_start));
	for (unsigned i = 1; i < mp.ncpus; i++) {
		unsigned id = nr_cpus;
		cpu_apic_id[id] = mp.apic_id[i];
		uint64_t t0 = ph_now_ns();
		if (!start_ap(id)) {
			kprintf("pagehint: CPU with APIC id %u did not start\n", mp.apic_id[i]);
			continue;
		}
		kinfo("cpu%u: apic %u up in %lu us\n", id, cpu_apic_id[id], (ph_now_ns() - t0) / 1000);
		nr_cpus++;
	}
}

/* First CPL3 code on an AP (from cpu.c's ap_boot). */
__attribute__((noreturn)) void ap_main(unsigned id)
{
	lapic_init_cpu();
	atomic_store_explicit(&ap_arrived, id, memory_order_release);
	kick_cpu(0);
	idle_loop();
}
