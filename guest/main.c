/* SPDX-License-Identifier: MIT */
/*
 * kmain: the boot CPU's first code at CPL3, and the order of everything.
 */
#include "apic.h"
#include "bootinfo.h"
#include "clock.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "exit.h"
#include "mem.h"
#include "mptable.h"
#include "reporting.h"
#include "sched.h"
#include "selftest.h"
#include "smp.h"
#include "virtio.h"
#include "workload.h"

__attribute__((noreturn)) void kmain(void)
{
	/* 1. What the loader passed: command line and memory map. */
	bootinfo_init();
	cmdline_parse(boot.cmdline);
	/* 2. Time, before anything waits. */
	clock_init();
	/* 3. This CPU's local APIC, its timer's rate; the MP table; the IOAPIC. */
	lapic_init_cpu();
	lapic_calibrate();
	mptable_init(lapic_id());
	ioapic_init(mp.ioapic_addr);
	kinfo("pagehint guest: tsc %lu kHz (%s), lapic timer %lu kHz, %u cpus listed\n",
	      tsc_hz / 1000, clock_source, lapic_hz / 1000, mp.ncpus);
	/* 4. The page allocator over all usable RAM. */
	mem_init(mp.ncpus);
	/* 5. The other CPUs: each ends in idle_loop(). */
	smp_boot();
	kprintf("@boot cpus=%u mem_mib=%lu free_mib=%lu boot_ms=%lu\n", nr_cpus,
		mem_total_pages >> 8, mem_free_pages() >> 8, ph_now_ns() / 1000000);
	/* 6. Devices from virtio_mmio.device=, then the reporting engine
	 * (whose exitless map the balloon posts when it is probed). */
	virtio_init(&reporting_xl_hooks);
	reporting_init();
	/* 7. The test or the workload; then the verdict. */
	if (cfg.test != TEST_NONE && cfg.test != TEST_CORRUPT)
		selftest_run();
	else
		workload_run();
	reporting_summary();
	mem_summary();
	ph_exit(EXIT_OK);
}
