/* SPDX-License-Identifier: MIT */
/*
 * What the interrupt stubs (vectors.S) leave behind, the only state they
 * touch: a per-CPU wake flag and count, and one global bit per source.
 * Everything else — acking devices, running work — happens at CPL3 in
 * whoever polls these.
 */
#ifndef GUEST_IRQ_H
#define GUEST_IRQ_H

#include <stdatomic.h>
#include <stdint.h>

#include "layout.h"

struct irq_flags {
	volatile uint32_t wake;	/* set by any interrupt; cleared by idle (sched.c) */
	uint32_t pad;
	volatile uint64_t count;	/* interrupts taken by this CPU */
} __attribute__((aligned(1 << IRQ_FLAGS_SHIFT)));

extern struct irq_flags irq_flags[MAX_CPUS];

/* Bit (vector - VEC_TIMER) is set by every interrupt of that vector. */
extern _Atomic uint64_t irq_pending;
#define IRQ_BIT_TIMER	0
#define IRQ_BIT_WAKE	1
#define IRQ_BIT_DEV(n)	(VEC_IRQ0 - VEC_TIMER + (n))

#define IRQ_DEV_MASK	(((1ull << NR_IRQ) - 1) << IRQ_BIT_DEV(0))

/*
 * Device interrupt handlers, run at CPL3 by whichever CPU first sees the
 * pending bit at a scheduling point or in its idle loop (sched.c): the
 * "bottom half" of an interrupt whose top half only set the bit. The
 * IOAPIC delivers device interrupts to CPU 0, which they wake.
 */
void irq_register(unsigned pin, void (*fn)(void *arg), void *arg);
void irq_dispatch(void);

/* Test and clear one source's bit. */
static inline int irq_test_clear(unsigned bit)
{
	uint64_t m = 1ull << bit;
	if (!(atomic_load_explicit(&irq_pending, memory_order_relaxed) & m))
		return 0;
	return (atomic_fetch_and(&irq_pending, ~m) & m) != 0;
}

#endif
