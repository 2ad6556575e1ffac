/* SPDX-License-Identifier: MIT */
/* core/pcp.c: per-CPU lists (batch, high, refill, drain) and a stress run
 * with one thread per CPU, the free hook on and a reporting pass running. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <cmocka.h>

#include "test_buddy_util.h"

static void default_batch_and_high(void **state)
{
	(void)state;
	struct ph_zone_config c;

	ph_zone_default_config(262144, &c);	/* 1 GiB */
	assert_int_equal(c.pcp_batch, 63);
	assert_int_equal(c.pcp_high, 6 * 63);
	assert_int_equal(c.nr_cpus, PH_MAX_CPUS);
	ph_zone_default_config(1u << 24, &c);	/* 64 GiB: capped */
	assert_int_equal(c.pcp_batch, 63);
	ph_zone_default_config(65536, &c);	/* 256 MiB: 64/4 = 16 -> 24 -> 16 - 1 */
	assert_int_equal(c.pcp_batch, 15);
	ph_zone_default_config(16384, &c);	/* 64 MiB: 16/4 = 4 -> 6 -> 4 - 1 */
	assert_int_equal(c.pcp_batch, 3);
	ph_zone_default_config(100, &c);
	assert_int_equal(c.pcp_batch, 1);
}

/* An empty list is refilled with batch pages; allocation takes the head. */
static void alloc_refills_a_batch(void **state)
{
	(void)state;
	struct tzone t;
	struct ph_zone_config c = tcfg(2, 8, 32);

	tzone_init(&t, 0, 4096, &c);
	ph_zone_free_range(t.z, 0, 4096);
	assert_int_equal(ph_alloc_pages(t.z, 0), 0);
	assert_int_equal(ph_pcp_count(t.z, 0), 7);
	assert_int_equal(ph_zone_free_pages(t.z), 4096 - 8);
	for (unsigned i = 1; i < 8; i++)	/* in order: the batch went to the tail */
		assert_int_equal(ph_alloc_pages(t.z, 0), i);
	assert_int_equal(ph_pcp_count(t.z, 0), 0);
	assert_int_equal(ph_alloc_pages(t.z, 0), 8);
	assert_int_equal(ph_pcp_count(t.z, 0), 7);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* high pages stay on the list; one more sends batch pages back. */
static void free_over_high_returns_a_batch(void **state)
{
	(void)state;
	struct tzone t;
	struct ph_zone_config c = tcfg(2, 8, 32);
	uint64_t p[33];

	tzone_init(&t, 0, 4096, &c);
	ph_zone_free_range(t.z, 0, 4096);
	for (unsigned i = 0; i < 33; i++)
		p[i] = ph_alloc_pages(t.z, 0);
	ph_drain_cpu(t.z, 0);
	assert_int_equal(ph_pcp_count(t.z, 0), 0);
	uint64_t fp = ph_zone_free_pages(t.z);
	for (unsigned i = 0; i < 32; i++)
		assert_int_equal(ph_free_pages(t.z, p[i], 0), 0);
	assert_int_equal(ph_pcp_count(t.z, 0), 32);
	assert_int_equal(ph_zone_free_pages(t.z), fp);
	assert_int_equal(ph_free_pages(t.z, p[32], 0), 0);
	assert_int_equal(ph_pcp_count(t.z, 0), 33 - 8);
	assert_int_equal(ph_zone_free_pages(t.z), fp + 8);
	assert_int_equal(ph_zone_check(t.z), 0);
	ph_drain_all(t.z);
	assert_int_equal(ph_pcp_count(t.z, 0), 0);
	assert_int_equal(ph_zone_nr_free(t.z, 10), 4);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

static void set_pcp_changes_batch_and_high(void **state)
{
	(void)state;
	struct tzone t;
	struct ph_zone_config c = tcfg(2, 8, 32);

	tzone_init(&t, 0, 4096, &c);
	ph_zone_free_range(t.z, 0, 4096);
	assert_int_equal(ph_zone_set_pcp(t.z, 0, 10), -PH_EINVAL);
	assert_int_equal(ph_zone_set_pcp(t.z, 3, 0), 0);
	uint64_t a = ph_alloc_pages(t.z, 0);
	assert_int_equal(ph_pcp_count(t.z, 0), 2);
	/* high 0: a free leaves count 3 > 0, so a batch of 3 goes back */
	ph_free_pages(t.z, a, 0);
	assert_int_equal(ph_pcp_count(t.z, 0), 0);
	assert_int_equal(ph_zone_nr_free(t.z, 10), 4);
	tzone_fini(&t);
}

struct cpu_job {
	struct ph_zone *z;
	unsigned cpu, n;
	uint64_t pfns[64];
};

static void *free_on_cpu(void *arg)
{
	struct cpu_job *j = arg;
	ph_test_set_cpu(j->cpu);
	for (unsigned i = 0; i < j->n; i++)
		assert_int_equal(ph_free_pages(j->z, j->pfns[i], 0), 0);
	return NULL;
}

/* Another CPU's list is drained by whoever asks. */
static void drain_another_cpu(void **state)
{
	(void)state;
	struct tzone t;
	struct ph_zone_config c = tcfg(4, 16, 64);
	struct cpu_job j = { .cpu = 2, .n = 40 };
	pthread_t th;

	tzone_init(&t, 0, 1024, &c);
	ph_zone_free_range(t.z, 0, 1024);
	j.z = t.z;
	for (unsigned i = 0; i < j.n; i++)
		j.pfns[i] = ph_alloc_pages(t.z, 0);
	ph_drain_cpu(t.z, 0);
	pthread_create(&th, NULL, free_on_cpu, &j);
	pthread_join(th, NULL);
	assert_int_equal(ph_pcp_count(t.z, 2), 40);
	assert_int_equal(ph_zone_pcp_pages(t.z), 40);
	ph_drain_cpu(t.z, 2);	/* from CPU 0 */
	assert_int_equal(ph_pcp_count(t.z, 2), 0);
	assert_int_equal(ph_zone_nr_free(t.z, 10), 1);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* When the buddy is empty, allocation drains other CPUs' lists and
 * retries (Linux's slow path), for order 0 and for higher orders. */
static void alloc_drains_other_cpus_when_empty(void **state)
{
	(void)state;
	struct tzone t;
	struct ph_zone_config c = tcfg(4, 16, 64);
	struct cpu_job j = { .cpu = 1, .n = 16 };
	pthread_t th;

	tzone_init(&t, 0, 16, &c);
	ph_zone_free_range(t.z, 0, 16);
	j.z = t.z;
	for (unsigned i = 0; i < 16; i++)
		j.pfns[i] = ph_alloc_pages(t.z, 0);
	assert_true(ph_alloc_pages(t.z, 0) == PH_NO_PFN);
	pthread_create(&th, NULL, free_on_cpu, &j);
	pthread_join(th, NULL);
	assert_int_equal(ph_pcp_count(t.z, 1), 16);
	assert_int_equal(ph_zone_free_pages(t.z), 0);
	assert_int_equal(ph_alloc_pages(t.z, 4), 0);	/* drained, merged */
	assert_int_equal(ph_free_pages(t.z, 0, 4), 0);
	assert_true(ph_alloc_pages(t.z, 0) != PH_NO_PFN);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* A CPU id beyond the zone's lists takes the direct path. */
static void cpu_without_list_goes_direct(void **state)
{
	(void)state;
	struct tzone t;
	struct ph_zone_config c = tcfg(1, 16, 64);

	tzone_init(&t, 0, 1024, &c);
	ph_zone_free_range(t.z, 0, 1024);
	ph_test_set_cpu(3);
	uint64_t a = ph_alloc_pages(t.z, 0);
	assert_int_equal(ph_zone_free_pages(t.z), 1023);
	assert_int_equal(ph_free_pages(t.z, a, 0), 0);
	assert_int_equal(ph_zone_nr_free(t.z, 10), 1);
	ph_test_set_cpu(0);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

/* ---- stress: one thread per CPU ---- */

enum { S_CPUS = 4, S_BASE = 1000003, S_PAGES = 1 << 15, S_OPS = 200000, S_LIVE = 600,
       S_WORDS = 8 };

static struct {
	struct ph_zone *z;
	unsigned char usable[S_PAGES];
	atomic_uchar owner[S_PAGES];		/* 0 free, cpu + 1 when allocated */
	uint64_t mem[S_PAGES][S_WORDS];		/* the "memory" of each page */
	atomic_uint errors;
	pthread_barrier_t start;
} S;

static void s_err(const char *what, uint64_t pfn)
{
	if (atomic_fetch_add(&S.errors, 1) < 10)
		fprintf(stderr, "stress: %s at pfn %llu\n", what, (unsigned long long)pfn);
}

/* The hook checks, under the zone lock, that it is told about a free head
 * of that order: the block after coalescing. */
static atomic_uint hook_blocks, hook_done;

static void stress_block_freed(void *ctx, unsigned cpu, uint64_t pfn, unsigned order)
{
	struct ph_page_info pi;
	(void)ctx;
	__ph_page_query(S.z, pfn, &pi);
	if (pi.kind != PH_PAGE_FREE || pi.head != pfn || pi.order != order || cpu >= S_CPUS)
		s_err("hook told about something that is not a free head", pfn);
	atomic_fetch_add_explicit(&hook_blocks, 1, memory_order_relaxed);
}

static void stress_free_done(void *ctx, unsigned cpu)
{
	(void)ctx;
	(void)cpu;
	atomic_fetch_add_explicit(&hook_done, 1, memory_order_relaxed);
}

static const struct ph_report_hooks stress_hooks = { .block_freed = stress_block_freed, .free_done = stress_free_done, .ctx = NULL };

/*
 * A reporting pass while the others allocate and free: isolate up to 8
 * unreported blocks of order >= 5, "discard" them (poison their memory,
 * which would corrupt a live allocation if an isolated page were ever
 * handed out), and put them back Reported.
 */
static void stress_report_pass(void)
{
	uint64_t pfns[8];
	unsigned orders[8], n = 0;

	ph_zone_lock(S.z);
	for (unsigned o = PH_MAX_ORDER; o-- > 5 && n < 8;) {
		unsigned steps = 0;	/* a broken list must fail the test, not hang it */
		for (uint64_t pfn = __ph_free_list_first(S.z, o), next; pfn != PH_NO_PFN && n < 8;
		     pfn = next) {
			if (++steps > S_PAGES) {
				s_err("free list loops", pfn);
				break;
			}
			next = __ph_free_list_next(S.z, o, pfn);
			if (__ph_page_reported(S.z, pfn))
				continue;
			if (__ph_isolate_free_block(S.z, pfn, o) != 0)
				s_err("isolating a listed free block failed", pfn);
			pfns[n] = pfn;
			orders[n++] = o;
		}
	}
	ph_zone_unlock(S.z);
	for (unsigned i = 0; i < n; i++) {
		for (uint64_t p = pfns[i]; p < pfns[i] + (1ull << orders[i]); p++) {
			if (atomic_load(&S.owner[p - S_BASE]))
				s_err("isolated page is allocated", p);
			for (unsigned w = 0; w < S_WORDS; w++)
				S.mem[p - S_BASE][w] = 0xdeaddeaddeaddeadull;
		}
	}
	ph_zone_lock(S.z);
	for (unsigned i = 0; i < n; i++)
		if (__ph_putback_block(S.z, pfns[i], orders[i], PH_TAIL, true) < 0)
			s_err("putback failed", pfns[i]);
	ph_zone_unlock(S.z);
}

static void *stress_cpu(void *arg)
{
	unsigned cpu = (unsigned)(uintptr_t)arg;
	uint64_t seed = 0x1234567ull * (cpu + 1), live_pfn[S_LIVE];
	unsigned live_order[S_LIVE], nlive = 0;

	ph_test_set_cpu(cpu);
	pthread_barrier_wait(&S.start);
	for (unsigned op = 0; op < S_OPS; op++) {
		uint64_t r = trand(&seed);
		if (nlive < S_LIVE && (r % 100) < 52) {
			unsigned order = (r >> 8) % 100 < 70 ? 0 : (unsigned)((r >> 16) % 6);
			uint64_t pfn = ph_alloc_pages(S.z, order);
			if (pfn == PH_NO_PFN)
				continue;
			if (pfn < S_BASE || pfn + (1ull << order) > S_BASE + S_PAGES ||
			    (pfn & ((1ull << order) - 1))) {
				s_err("bad block", pfn);
				continue;
			}
			for (uint64_t p = pfn; p < pfn + (1ull << order); p++) {
				uint64_t i = p - S_BASE;
				unsigned char zero = 0;
				if (!S.usable[i])
					s_err("hole handed out", p);
				if (!atomic_compare_exchange_strong(&S.owner[i], &zero,
								    (unsigned char)(cpu + 1)))
					s_err("page handed out twice", p);
				for (unsigned w = 0; w < S_WORDS; w++)
					S.mem[i][w] = (p << 8) ^ ((uint64_t)cpu << 60) ^ op ^ w;
			}
			live_pfn[nlive] = pfn;
			live_order[nlive++] = order | op << 4;
		} else if (nlive) {
			unsigned k = (unsigned)((r >> 24) % nlive);
			uint64_t pfn = live_pfn[k];
			unsigned order = live_order[k] & 15, when = live_order[k] >> 4;
			live_pfn[k] = live_pfn[--nlive];
			live_order[k] = live_order[nlive];
			for (uint64_t p = pfn; p < pfn + (1ull << order); p++) {
				uint64_t i = p - S_BASE;
				for (unsigned w = 0; w < S_WORDS; w++)
					if (S.mem[i][w] != ((p << 8) ^ ((uint64_t)cpu << 60) ^ when ^ w))
						s_err("pattern overwritten", p);
				atomic_store(&S.owner[i], 0);
			}
			if (ph_free_pages(S.z, pfn, order) != 0)
				s_err("free refused", pfn);
		}
		if (op % 5000 == 4999)	/* now and then drain a neighbour */
			ph_drain_cpu(S.z, (cpu + 1) % S_CPUS);
		if (cpu == 0 && op % 500 == 0)
			stress_report_pass();
		if (cpu == 0 && op % 20000 == 0 && ph_zone_check(S.z) != 0)
			s_err("ph_zone_check failed while running", 0);
	}
	while (nlive--) {
		for (uint64_t p = live_pfn[nlive]; p < live_pfn[nlive] + (1ull << (live_order[nlive] & 15)); p++)
			atomic_store(&S.owner[p - S_BASE], 0);
		if (ph_free_pages(S.z, live_pfn[nlive], live_order[nlive] & 15) != 0)
			s_err("free refused", live_pfn[nlive]);
	}
	return NULL;
}

static void stress_four_cpus(void **state)
{
	(void)state;
	struct tzone t;
	struct ph_zone_config c = tcfg(S_CPUS, 31, 186);
	uint64_t want[PH_MAX_ORDER], nusable = 0;
	pthread_t th[S_CPUS];

	tzone_init(&t, S_BASE, S_PAGES, &c);
	S.z = t.z;
	/* usable: all but two holes, one of them splitting a 4 MiB block */
	memset(S.usable, 1, sizeof(S.usable));
	memset(S.usable + 5000, 0, 300);
	memset(S.usable + 20000, 0, 1);
	for (uint64_t i = 0; i < S_PAGES;) {
		if (!S.usable[i]) {
			i++;
			continue;
		}
		uint64_t e = i;
		while (e < S_PAGES && S.usable[e])
			e++;
		assert_int_equal(ph_zone_free_range(t.z, S_BASE + i, e - i), 0);
		nusable += e - i;
		i = e;
	}
	expected_blocks(S_BASE, S_PAGES, S.usable, want);
	assert_free_lists(t.z, want);

	assert_int_equal(ph_zone_register_report_hooks(t.z, &stress_hooks), 0);
	pthread_barrier_init(&S.start, NULL, S_CPUS);
	for (uintptr_t i = 0; i < S_CPUS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, stress_cpu, (void *)i), 0);
	for (unsigned i = 0; i < S_CPUS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&S.start);
	assert_int_equal(atomic_load(&S.errors), 0);

	ph_drain_all(t.z);
	assert_true(atomic_load(&hook_blocks) > 0);
	assert_true(atomic_load(&hook_done) > 0);
	assert_true(atomic_load(&hook_done) <= atomic_load(&hook_blocks));
	assert_int_equal(atomic_load(&S.errors), 0);
	assert_int_equal(ph_zone_pcp_pages(t.z), 0);
	assert_int_equal(ph_zone_free_pages(t.z), nusable);
	assert_free_lists(t.z, want);
	assert_int_equal(ph_zone_check(t.z), 0);
	tzone_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(default_batch_and_high),
		cmocka_unit_test(alloc_refills_a_batch),
		cmocka_unit_test(free_over_high_returns_a_batch),
		cmocka_unit_test(set_pcp_changes_batch_and_high),
		cmocka_unit_test(drain_another_cpu),
		cmocka_unit_test(alloc_drains_other_cpus_when_empty),
		cmocka_unit_test(cpu_without_list_goes_direct),
		cmocka_unit_test(stress_four_cpus),
	};
	return cmocka_run_group_tests_name("buddy_pcp", tests, NULL, NULL);
}
