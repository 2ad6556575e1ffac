/* SPDX-License-Identifier: MIT */
/*
 * The test= modes, for the tests under tests/qemu: small checks of one
 * mechanism each, in place of a workload. See selftest.h.
 */
#include "clock.h"
#include "cmdline.h"
#include "console.h"
#include "irq.h"
#include "sched.h"
#include "reporting.h"
#include "selftest.h"
#include "smp.h"
#include "virtio.h"
#include "../core/platform.h"

/* test=work: delayed items on every CPU, and one that re-queues itself. */
struct test_work {
	struct work w;
	unsigned want_cpu, ran_cpu, runs;
	uint64_t due, ran_ns;
};
static struct test_work tw[MAX_CPUS + 1];
static atomic_uint tw_left;

static void test_work_fn(struct work *w)
{
	struct test_work *t = (struct test_work *)w;
	t->ran_cpu = ph_cpu_id();
	t->ran_ns = ph_now_ns();
	if (++t->runs < 5 && t == &tw[MAX_CPUS]) {
		t->due = t->ran_ns + 10000000;	/* periodic, 10 ms */
		queue_delayed_work_on(t->want_cpu, w, 10000000);
		return;
	}
	atomic_fetch_sub(&tw_left, 1);
	kick_cpu(0);
}

static bool tw_done(void *arg)
{
	(void)arg;
	return atomic_load(&tw_left) == 0;
}

static void test_work(void)
{
	uint64_t t0 = ph_now_ns();
	atomic_store(&tw_left, nr_cpus + 1);
	for (unsigned c = 0; c <= nr_cpus; c++) {
		struct test_work *t = &tw[c == nr_cpus ? MAX_CPUS : c];
		work_init(&t->w, test_work_fn);
		t->want_cpu = c == nr_cpus ? nr_cpus - 1 : c;
		t->due = t0 + (c + 1) * 50000000ull;
		queue_delayed_work_on(t->want_cpu, &t->w, t->due - t0);
	}
	bool all = wait_until(tw_done, 0, t0 + 5000000000ull);
	unsigned bad = !all;
	for (unsigned c = 0; c <= nr_cpus; c++) {
		struct test_work *t = &tw[c == nr_cpus ? MAX_CPUS : c];
		if (t->ran_cpu != t->want_cpu || t->ran_ns < t->due)
			bad++;
		kprintf("@work item=%u cpu=%u ran_on=%u runs=%u late_us=%ld\n", c, t->want_cpu,
			t->ran_cpu, t->runs, (int64_t)(t->ran_ns - t->due) / 1000);
	}
	kprintf("@work %s\n", bad ? "bad" : "ok");
}

/* A read from an address no page table maps: #PF. */
static void touch_unmapped(void)
{
	(void)*(volatile int *)0x8000000000ull;
}

/* Run fn in a work item on cpu and wait for it. */
static struct work test_item;
static void (*test_fn)(void);
static atomic_bool test_done;

static void test_item_fn(struct work *w)
{
	(void)w;
	test_fn();
	atomic_store(&test_done, true);
	kick_cpu(0);
}

static bool test_item_done(void *arg)
{
	(void)arg;
	return atomic_load(&test_done);
}

static void test_on_cpu(unsigned cpu, void (*fn)(void))
{
	test_fn = fn;
	work_init(&test_item, test_item_fn);
	queue_work_on(cpu, &test_item);
	wait_until(test_item_done, 0, 0);
}

void selftest_run(void)
{
	switch (cfg.test) {
	case TEST_FAULT:
		touch_unmapped();
		break;
	case TEST_FAULT_AP:
		test_on_cpu(nr_cpus - 1, touch_unmapped);
		break;
	case TEST_CLOCK: {
		/* the host times the gap between these two lines */
		kprintf("@clock start ms=%lu\n", cfg.test_ms);
		delay_ns(cfg.test_ms * 1000000);
		kprintf("@clock end\n");
		break;
	}
	case TEST_IDLE: {
		/* every CPU halts until a timer: counts of halts and interrupts */
		uint64_t t0 = ph_now_ns();
		msleep(cfg.test_ms);
		struct sched_stats s;
		sched_stats(0, &s);
		kprintf("@idle ms=%lu slept_ms=%lu halts=%lu irqs=%lu\n", cfg.test_ms,
			(ph_now_ns() - t0) / 1000000, s.halts, irq_flags[0].count);
		balloon_summary();
		break;
	}
	case TEST_WORK:
		test_work();
		break;
	case TEST_HOSTILE:
		hostile_run();
		break;
	case TEST_EXITLESS:
		reporting_xl_selftest();
		break;
	case TEST_REPORT:
		/* from a work item on the last CPU: the device's interrupt goes
		 * to CPU 0, the waiter must still hear of it */
		test_on_cpu(nr_cpus - 1, balloon_selftest);
		balloon_summary();
		break;
	case TEST_NONE:
	case TEST_CORRUPT:	/* the workload runs, with one word flipped */
		break;
	}
}
