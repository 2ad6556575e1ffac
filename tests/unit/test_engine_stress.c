/* SPDX-License-Identifier: MIT */
/*
 * Every engine under concurrency: threads stand for CPUs and allocate and
 * free (through the per-CPU lists) while a reporter thread runs the
 * engine's work (fake time, advanced in steps: small ones for pagehint, so
 * its passes overlap the frees). The sink checks that no page in flight
 * is allocated and that every range is a run of isolated blocks (for the
 * engines that report single blocks, that it is exactly one, through the
 * shared recording sink), and "discards" it (poisons its memory), which
 * would show up as corrupted data in a live allocation. At the end the
 * allocator is consistent and no page was lost. pagehint also runs with a
 * small report.hold and capacity, so lock holds and requests are many.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <sched.h>
#include <cmocka.h>

#include "engine_fakes.h"

enum { S_CPUS = 3, S_REPORTER = 3, S_BASE = 0x100000, S_PAGES = 65536, S_OPS = 100000,
       S_LIVE = 400 };

static struct {
	struct ph_zone *z;
	struct fsched f;
	struct fsink s;
	atomic_uchar owner[S_PAGES];	/* 0 free, cpu + 1 allocated */
	uint64_t mem[S_PAGES];		/* one word of "memory" per page */
	uint64_t held[S_CPUS];		/* pages each CPU holds at the pause */
	atomic_uint errors;
	atomic_bool stop;
	bool merges;			/* the engine reports runs of blocks */
	uint64_t step_ns;		/* the reporter's fake-time step */
	pthread_barrier_t start, paused, resume;
} S;

static void s_err(const char *what, uint64_t pfn)
{
	if (atomic_fetch_add(&S.errors, 1) < 8)
		fprintf(stderr, "stress: %s at pfn %llu\n", what, (unsigned long long)pfn);
}

/* The sink's "device": nothing in flight may be allocated, every range is
 * made of isolated blocks; discard it (poison). pagehint sorts its blocks
 * and merges adjacent ones into one range, which the recording sink would refuse as "not a
 * block"; the other engines go through it too. */
static int stress_report(struct ph_report_sink *sk, const struct ph_range *r, unsigned n)
{
	struct fsink *s = (struct fsink *)sk;

	if (n == 0 || n > sk->capacity)
		s_err("bad number of ranges", n);
	ph_zone_lock(s->z);
	for (unsigned i = 0; i < n; i++) {
		uint64_t pfn = r[i].addr >> PH_PAGE_SHIFT, end = pfn + (r[i].len >> PH_PAGE_SHIFT);

		if (S.merges && i && r[i - 1].addr + r[i - 1].len > r[i].addr)
			s_err("ranges not sorted", pfn);	/* pagehint sorts to merge */
		for (uint64_t p = pfn; p < end;) {
			struct ph_page_info pi;

			__ph_page_query(s->z, p, &pi);
			if (pi.kind != PH_PAGE_ISOLATED || pi.head != p || p + (1ull << pi.order) > end) {
				s_err("range in flight is not made of isolated blocks", p);
				break;
			}
			p += 1ull << pi.order;
		}
	}
	ph_zone_unlock(s->z);
	for (unsigned i = 0; i < n; i++) {
		uint64_t pfn = r[i].addr >> PH_PAGE_SHIFT, pages = r[i].len >> PH_PAGE_SHIFT;
		for (uint64_t p = pfn; p < pfn + pages; p++) {
			if (p < S_BASE || p >= S_BASE + S_PAGES) {
				s_err("range outside the zone", p);
				continue;
			}
			if (atomic_load(&S.owner[p - S_BASE]))
				s_err("page in flight is allocated", p);
			S.mem[p - S_BASE] = 0xdeaddeaddeaddeadull;
		}
	}
	if (S.merges) {
		s->calls++;
		return 0;
	}
	return fsink_report(sk, r, n);
}

static uint64_t pattern(uint64_t p, unsigned cpu)
{
	return p * 0x9e3779b97f4a7c15ull ^ (cpu + 1);
}

static void take(uint64_t pfn, unsigned order, unsigned cpu)
{
	for (uint64_t p = pfn; p < pfn + (1ull << order); p++) {
		unsigned char zero = 0;
		if (p < S_BASE || p >= S_BASE + S_PAGES ||
		    !atomic_compare_exchange_strong(&S.owner[p - S_BASE], &zero, cpu + 1)) {
			s_err("allocated a page that is not free", p);
			continue;
		}
		S.mem[p - S_BASE] = pattern(p, cpu);
	}
}

static void give(uint64_t pfn, unsigned order, unsigned cpu)
{
	for (uint64_t p = pfn; p < pfn + (1ull << order); p++) {
		if (S.mem[p - S_BASE] != pattern(p, cpu))
			s_err("data of a live page changed (discarded while allocated?)", p);
		atomic_store(&S.owner[p - S_BASE], 0);
	}
	if (ph_free_pages(S.z, pfn, order) != 0)
		s_err("free refused", pfn);
}

static void *cpu_thread(void *arg)
{
	unsigned cpu = (unsigned)(uintptr_t)arg;
	uint64_t seed = 0xabcdefull * (cpu + 1), live[S_LIVE];
	unsigned live_o[S_LIVE], n = 0;

	ph_test_set_cpu(cpu);
	pthread_barrier_wait(&S.start);
	for (unsigned op = 0; op < S_OPS; op++) {
		uint64_t r = trand(&seed);
		if (n < S_LIVE && (n == 0 || r % 100 < 52)) {
			unsigned x = (unsigned)(r >> 8) % 100;
			unsigned order = x < 70 ? 0 : x < 97 ? 1 + (unsigned)(r >> 16) % 5
						   : 8 + (unsigned)(r >> 16) % 3;
			uint64_t pfn = ph_alloc_pages(S.z, order);
			if (pfn == PH_NO_PFN)
				continue;
			take(pfn, order, cpu);
			live[n] = pfn;
			live_o[n++] = order;
		} else {
			unsigned i = (unsigned)(r >> 24) % n;
			give(live[i], live_o[i], cpu);
			live[i] = live[--n];
			live_o[i] = live_o[n];
		}
	}
	uint64_t held = 0;
	for (unsigned i = 0; i < n; i++)
		held += 1ull << live_o[i];
	S.held[cpu] = held;
	pthread_barrier_wait(&S.paused);	/* main checks the books */
	pthread_barrier_wait(&S.resume);
	while (n) {
		n--;
		give(live[n], live_o[n], cpu);
	}
	return NULL;
}

static void *reporter_thread(void *arg)
{
	(void)arg;
	ph_test_set_cpu(S_REPORTER);
	pthread_barrier_wait(&S.start);
	while (!atomic_load(&S.stop)) {
		fs_advance(&S.f, S.step_ns);
		sched_yield();
	}
	return NULL;
}

/* engine words (engine=... first), NULL-terminated */
static void stress(const char *const *words)
{
	struct tzone t;
	struct ph_zone_config c = tcfg(S_CPUS + 1, 4, 16);
	struct ph_engine_params p;
	pthread_t th[S_CPUS], rep;
	void *mem;

	memset(S.owner, 0, sizeof(S.owner));
	atomic_store(&S.errors, 0);
	atomic_store(&S.stop, false);
	S.merges = !strcmp(words[0], "engine=pagehint");
	S.step_ns = S.merges ? 2 * MS : 200 * MS;
	tzone_init(&t, S_BASE, S_PAGES, &c);
	S.z = t.z;
	fs_init(&S.f, S_CPUS + 1);
	S.f.run_as_cpu = S_REPORTER;
	fsink_init(&S.s, t.z, 128);
	S.s.sink.report = stress_report;
	ph_engine_params_init(&p);
	for (; *words; words++)
		assert_null(ph_engine_param_word(&p, *words, strlen(*words)));
	struct ph_engine *e = teng_create(t.z, &S.s, &S.f, &p, &mem);
	ph_test_set_cpu(0);
	assert_int_equal(ph_zone_free_range(t.z, S_BASE, S_PAGES), 0);

	pthread_barrier_init(&S.start, NULL, S_CPUS + 1);
	pthread_barrier_init(&S.paused, NULL, S_CPUS + 1);
	pthread_barrier_init(&S.resume, NULL, S_CPUS + 1);
	assert_int_equal(pthread_create(&rep, NULL, reporter_thread, NULL), 0);
	for (unsigned i = 0; i < S_CPUS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, cpu_thread, (void *)(uintptr_t)i), 0);

	/* the CPUs pause holding their blocks: stop the reporter, let the
	 * work run out, then count every page */
	pthread_barrier_wait(&S.paused);
	atomic_store(&S.stop, true);
	pthread_join(rep, NULL);
	ph_test_set_cpu(S_REPORTER);
	fs_run_all(&S.f, 100000);
	ph_test_set_cpu(0);
	uint64_t held = 0;
	for (unsigned i = 0; i < S_CPUS; i++)
		held += S.held[i];
	assert_int_equal(ph_zone_isolated_pages(t.z), 0);
	assert_int_equal(ph_zone_free_pages(t.z) + ph_zone_pcp_pages(t.z) + held,
			 ph_zone_managed_pages(t.z));
	assert_int_equal(ph_zone_check(t.z), 0);
	pthread_barrier_wait(&S.resume);
	for (unsigned i = 0; i < S_CPUS; i++)
		pthread_join(th[i], NULL);

	/* everything freed: all of it comes back to the free lists */
	ph_drain_all(t.z);
	fs_run_all(&S.f, 100000);
	struct ph_engine_stats st;
	ph_engine_get_stats(e, &st);
	if (getenv("STRESS_VERBOSE"))
		fprintf(stderr, "%s: requests %llu ranges %llu blocks %llu pages %llu passes %llu "
			"reallocated %llu backoffs %llu max_hold %llu\n", S.merges ? "pagehint" : "",
			(unsigned long long)st.requests, (unsigned long long)st.ranges,
			(unsigned long long)st.blocks, (unsigned long long)st.pages,
			(unsigned long long)st.passes, (unsigned long long)st.reallocated,
			(unsigned long long)st.backoffs, (unsigned long long)st.max_hold);
	assert_true(st.requests > 0);
	assert_int_equal(S.s.violations, 0);
	assert_int_equal(atomic_load(&S.errors), 0);
	assert_int_equal(ph_zone_free_pages(t.z), ph_zone_managed_pages(t.z));
	teng_destroy(e, &S.f, mem);
	assert_zone_settled(t.z);
	pthread_barrier_destroy(&S.start);
	pthread_barrier_destroy(&S.paused);
	pthread_barrier_destroy(&S.resume);
	fsink_fini(&S.s);
	tzone_fini(&t);
}

#define STRESS(name, ...)					\
	static void name(void **state)				\
	{							\
		const char *const w[] = { __VA_ARGS__, NULL };	\
		(void)state;					\
		stress(w);					\
	}

STRESS(stress_upstream, "engine=upstream")
STRESS(stress_seed_v8, "engine=seed-v8")
STRESS(stress_max_order, "engine=max-order")
STRESS(stress_pagehint, "engine=pagehint")
/* a short wait for quiet: passes run while the CPUs free */
STRESS(stress_pagehint_short_wait, "engine=pagehint", "report.max_delay_ms=10",
       "report.trigger_mib=8")
/* many short lock holds, small requests, no waiting for quiet */
STRESS(stress_pagehint_small_holds, "engine=pagehint", "report.hold=2", "report.capacity=4",
       "report.delay_ms=0", "report.trigger_mib=0", "report.order=5")

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stress_upstream),
		cmocka_unit_test(stress_seed_v8),
		cmocka_unit_test(stress_max_order),
		cmocka_unit_test(stress_pagehint),
		cmocka_unit_test(stress_pagehint_short_wait),
		cmocka_unit_test(stress_pagehint_small_holds),
	};
	return cmocka_run_group_tests_name("engine_stress", tests, NULL, NULL);
}
