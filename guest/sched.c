/* SPDX-License-Identifier: MIT */
#include "apic.h"
#include "irq.h"
#include "sched.h"
#include "smp.h"
#include "x86.h"
#include "../core/platform.h"

struct runqueue {
	ph_spinlock_t lock;
	struct work *head;		/* lock; sorted by due_ns */
	_Atomic uint64_t next_due;	/* head's due_ns, UINT64_MAX when empty */
	atomic_int idle;		/* about to halt or halted: kick with an IPI */
	bool running;			/* this CPU only: inside run_due() */
	struct sched_stats stats;	/* this CPU only */
} __attribute__((aligned(64)));

static struct runqueue rq[MAX_CPUS];

static struct {
	void (*fn)(void *arg);
	void *arg;
} irq_handlers[NR_IRQ];

void irq_register(unsigned pin, void (*fn)(void *arg), void *arg)
{
	irq_handlers[pin].arg = arg;
	irq_handlers[pin].fn = fn;
}

void irq_dispatch(void)
{
	uint64_t pend = atomic_load_explicit(&irq_pending, memory_order_relaxed) & IRQ_DEV_MASK;
	for (unsigned pin = 0; pend && pin < NR_IRQ; pin++)
		if ((pend >> IRQ_BIT_DEV(pin)) & 1 && irq_test_clear(IRQ_BIT_DEV(pin)) &&
		    irq_handlers[pin].fn)
			irq_handlers[pin].fn(irq_handlers[pin].arg);
}

static inline bool irq_dev_pending(void)
{
	return atomic_load_explicit(&irq_pending, memory_order_relaxed) & IRQ_DEV_MASK;
}

static void rq_init_once(void)
{
	static atomic_bool done;
	if (atomic_load_explicit(&done, memory_order_acquire))
		return;
	for (unsigned i = 0; i < MAX_CPUS; i++)
		atomic_store(&rq[i].next_due, UINT64_MAX);
	atomic_store_explicit(&done, true, memory_order_release);
}

void kick_cpu(unsigned cpu)
{
	/* Pairs with the seq_cst store of idle in sleep_until(): either the
	 * sleeper sees what we published before this, or we see it idle. */
	atomic_thread_fence(memory_order_seq_cst);
	if (cpu != ph_cpu_id() && atomic_load(&rq[cpu].idle))
		lapic_ipi(cpu_apic_id[cpu], ICR_FIXED | VEC_WAKE);
}

bool queue_delayed_work_on(unsigned cpu, struct work *w, uint64_t delay_ns)
{
	struct runqueue *q = &rq[cpu];
	bool was = false;

	rq_init_once();
	if (!atomic_compare_exchange_strong(&w->pending, &was, true))
		return false;
	w->due_ns = ph_now_ns() + delay_ns;
	ph_spin_lock(&q->lock);
	struct work **pp = &q->head;
	while (*pp && (*pp)->due_ns <= w->due_ns)
		pp = &(*pp)->next;
	w->next = *pp;
	*pp = w;
	bool first = q->head == w;
	atomic_store(&q->next_due, q->head->due_ns);
	ph_spin_unlock(&q->lock);
	if (first)
		kick_cpu(cpu);
	return true;
}

/* Run everything due on this CPU, one item at a time, lock dropped. */
static void run_due(struct runqueue *q)
{
	if (q->running)
		return;
	q->running = true;
	if (irq_dev_pending())
		irq_dispatch();
	for (;;) {
		uint64_t now = ph_now_ns();
		if (atomic_load_explicit(&q->next_due, memory_order_relaxed) > now)
			break;
		ph_spin_lock(&q->lock);
		struct work *w = q->head;
		if (!w || w->due_ns > now) {
			ph_spin_unlock(&q->lock);
			break;
		}
		q->head = w->next;
		atomic_store(&q->next_due, q->head ? q->head->due_ns : UINT64_MAX);
		ph_spin_unlock(&q->lock);
		atomic_store(&w->pending, false); /* fn may queue it again */
		q->stats.works++;
		w->fn(w);
	}
	q->running = false;
}

void cond_resched(void)
{
	struct runqueue *q = &rq[ph_cpu_id()];
	if (atomic_load_explicit(&q->next_due, memory_order_relaxed) <= ph_now_ns() ||
	    irq_dev_pending())
		run_due(q);
}

/*
 * Wait for an interrupt, an IPI or deadline, whichever first. Order:
 * clear the wake flag, say we are idle, then look at the queue and done()
 * once more; an interrupt after the clear sets the flag, and the halt gate
 * refuses to sleep while it is set.
 */
static void sleep_until(struct runqueue *q, unsigned cpu, uint64_t deadline,
			bool (*done)(void *), void *arg)
{
	irq_flags[cpu].wake = 0;
	atomic_store(&q->idle, 1);
	uint64_t due = atomic_load(&q->next_due);
	if (due < deadline)
		deadline = due;
	uint64_t now = ph_now_ns();
	if ((done && done(arg)) || deadline <= now || irq_dev_pending()) {
		atomic_store(&q->idle, 0);
		return;
	}
	if (deadline - now < POLL_NS) {
		q->stats.polls++;
		while (!irq_flags[cpu].wake && ph_now_ns() < deadline &&
		       atomic_load_explicit(&q->next_due, memory_order_relaxed) > ph_now_ns() &&
		       !(done && done(arg)))
			cpu_relax();
	} else {
		if (deadline != UINT64_MAX)
			lapic_timer_arm(deadline - now);
		q->stats.halts++;
		sys_halt();
	}
	atomic_store(&q->idle, 0);
}

bool wait_until(bool (*done)(void *arg), void *arg, uint64_t deadline_ns)
{
	unsigned cpu = ph_cpu_id();
	struct runqueue *q = &rq[cpu];
	uint64_t end = deadline_ns ? deadline_ns : UINT64_MAX;
	uint64_t poll_end = ph_now_ns() + POLL_NS;

	rq_init_once();
	for (;;) {
		if (done(arg))
			return true;
		uint64_t now = ph_now_ns();
		if (now >= end)
			return false;
		run_due(q);
		if (now < poll_end)
			cpu_relax();
		else
			sleep_until(q, cpu, end, done, arg);
	}
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

void msleep(uint64_t ms)
{
	wait_until(never, 0, ph_now_ns() + ms * 1000000);
}

__attribute__((noreturn)) void idle_loop(void)
{
	unsigned cpu = ph_cpu_id();
	struct runqueue *q = &rq[cpu];

	rq_init_once();
	for (;;) {
		run_due(q);
		sleep_until(q, cpu, UINT64_MAX, 0, 0);
	}
}

struct each_cpu {
	void (*fn)(unsigned cpu, void *arg);
	void *arg;
	atomic_uint left;
	unsigned waiter;
	struct work w[MAX_CPUS];
};

/* w is e->w[cpu]: the item queued on this CPU is the one at its index. */
static void each_cpu_work(struct work *w)
{
	unsigned cpu = ph_cpu_id();
	struct each_cpu *e = (struct each_cpu *)((char *)(w - cpu) - __builtin_offsetof(struct each_cpu, w));
	unsigned waiter = e->waiter;	/* e may be gone once left hits 0 */
	e->fn(cpu, e->arg);
	if (atomic_fetch_sub(&e->left, 1) == 1)
		kick_cpu(waiter);
}

static bool each_cpu_done(void *arg)
{
	return atomic_load(&((struct each_cpu *)arg)->left) == 0;
}

void on_each_cpu(void (*fn)(unsigned cpu, void *arg), void *arg)
{
	struct each_cpu e = { .fn = fn, .arg = arg, .waiter = ph_cpu_id() };
	unsigned me = e.waiter;

	atomic_init(&e.left, nr_cpus);
	for (unsigned c = 0; c < nr_cpus; c++) {
		work_init(&e.w[c], each_cpu_work);
		if (c != me)
			queue_work_on(c, &e.w[c]);
	}
	fn(me, arg);
	atomic_fetch_sub(&e.left, 1);
	wait_until(each_cpu_done, &e, 0);
}

void sched_stats(unsigned cpu, struct sched_stats *s)
{
	*s = rq[cpu].stats;
}
