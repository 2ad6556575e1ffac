/* SPDX-License-Identifier: MIT */
/*
 * Deferred work, the kernel's workqueues and per-CPU kthreads in a
 * cooperative, run-to-completion form. A work item is queued on a CPU,
 * now or after a delay, and runs on that CPU when it is idle (the idle
 * loop) or reaches a scheduling point (cond_resched(), which long loops
 * call, as in Linux). An item runs to completion on the caller's stack:
 * there are no threads, so an item must not wait for another item of the
 * same CPU, and cond_resched() inside an item runs nothing (no nesting).
 *
 * Idle: a CPU with nothing due halts (int3 -> sti; hlt) until the next
 * deadline (one-shot LAPIC timer) or an interrupt; waits shorter than
 * POLL_NS are polled at CPL3 instead. Queueing work on a halted CPU wakes
 * it with an IPI; on a busy one it costs nothing more than the lock.
 *
 * Locking: each CPU's queue has a spinlock taken only at CPL3 (interrupt
 * handlers never touch queues, so it needs no interrupt masking).
 */
#ifndef GUEST_SCHED_H
#define GUEST_SCHED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define POLL_NS 200000ull	/* halt only for waits longer than this */

struct work {
	void (*fn)(struct work *w);
	struct work *next;	/* queue lock */
	uint64_t due_ns;	/* queue lock */
	atomic_bool pending;	/* queued and not yet started */
};

static inline void work_init(struct work *w, void (*fn)(struct work *))
{
	w->fn = fn;
	w->next = 0;
	atomic_init(&w->pending, false);
}

/* Queue w on cpu to run after delay_ns (0: as soon as possible). False if
 * it was already pending (it keeps its old due time). */
bool queue_delayed_work_on(unsigned cpu, struct work *w, uint64_t delay_ns);
static inline bool queue_work_on(unsigned cpu, struct work *w)
{
	return queue_delayed_work_on(cpu, w, 0);
}

/* A scheduling point: run this CPU's due work, if any. Cheap when none. */
void cond_resched(void);

/* Wake cpu if it is halted (an IPI), so it looks at its queue and flags. */
void kick_cpu(unsigned cpu);

/*
 * Wait until done(arg) is true, or deadline_ns (ph_now_ns() time; 0 for
 * none) passes; runs due work meanwhile, polls for POLL_NS, then halts.
 * Whoever makes done() true must kick_cpu() the waiter or raise an
 * interrupt routed to it. Returns done(arg).
 */
bool wait_until(bool (*done)(void *arg), void *arg, uint64_t deadline_ns);

/* Sleep ms milliseconds, running due work. */
void msleep(uint64_t ms);

/* The idle loop of the application processors. */
__attribute__((noreturn)) void idle_loop(void);

/* Run fn(cpu, arg) on every online CPU (this one too) and wait for all. */
void on_each_cpu(void (*fn)(unsigned cpu, void *arg), void *arg);

/* Counters of this CPU, for the summary. */
struct sched_stats {
	uint64_t works, halts, polls;
};
void sched_stats(unsigned cpu, struct sched_stats *s);

#endif
