/* SPDX-License-Identifier: MIT */
/*
 * The platform services core/ may use, and nothing else: a spinlock, the
 * current CPU, a monotonic clock, and a way to say an invariant broke.
 *
 * core/ is freestanding C: it includes only this header and <stddef.h>,
 * <stdint.h>, <stdbool.h>, <stdatomic.h>. Each build puts its own
 * platform_impl.h on the include path:
 *   guest:  guest/platform_impl.h   (per-CPU data, rdtsc clock, console)
 *   hosted: tests/shim/platform_impl.h (pthreads, clock_gettime, stderr)
 * and that file defines:
 *
 *   PH_MAX_CPUS                       upper bound on CPU ids
 *   unsigned ph_cpu_id(void)          id of the calling CPU, < PH_MAX_CPUS
 *   uint64_t ph_now_ns(void)          monotonic nanoseconds
 *   void ph_cpu_relax(void)           spin-wait hint (pause)
 *   void ph_warn(const char *file, int line, const char *msg)
 *                                     report a broken invariant; returns
 *
 * The spinlock is the same everywhere, so it lives here.
 */
#ifndef PH_PLATFORM_H
#define PH_PLATFORM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform_impl.h"

/*
 * Test-and-test-and-set lock. Acquire on lock orders everything the holder
 * reads after the lock against the previous holder's writes; release on
 * unlock publishes the holder's writes to the next one.
 */
typedef struct {
	atomic_uint locked;
} ph_spinlock_t;

#define PH_SPINLOCK_INIT { 0 }

static inline void ph_spin_init(ph_spinlock_t *l)
{
	atomic_init(&l->locked, 0);
}

static inline bool ph_spin_trylock(ph_spinlock_t *l)
{
	return atomic_load_explicit(&l->locked, memory_order_relaxed) == 0 &&
	       atomic_exchange_explicit(&l->locked, 1, memory_order_acquire) == 0;
}

static inline void ph_spin_lock(ph_spinlock_t *l)
{
	while (!ph_spin_trylock(l))
		while (atomic_load_explicit(&l->locked, memory_order_relaxed))
			ph_cpu_relax();
}

static inline void ph_spin_unlock(ph_spinlock_t *l)
{
	atomic_store_explicit(&l->locked, 0, memory_order_release);
}

/* WARN_ON-style check: evaluates to cond, reports once per call site. */
#define PH_WARN_ON(cond) ({                                        \
	bool __c = !!(cond);                                       \
	if (__builtin_expect(__c, 0))                              \
		ph_warn(__FILE__, __LINE__, #cond);                \
	__c;                                                       \
})

#endif
