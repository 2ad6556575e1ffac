/* SPDX-License-Identifier: MIT */
/*
 * Bringing up the other CPUs: INIT/SIPI through the local APIC to the
 * real-mode trampoline (trampoline.S), one CPU at a time. CPU ids are
 * dense, 0 the boot CPU, in MP table order.
 */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#include <stdatomic.h>
#include <stdint.h>

#include "layout.h"

extern unsigned nr_cpus;			/* online; ids 0..nr_cpus-1 */
extern uint32_t cpu_apic_id[MAX_CPUS];

/* Start every CPU of the MP table; returns when each is idling at CPL3. */
void smp_boot(void);

#endif
