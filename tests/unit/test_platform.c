/* SPDX-License-Identifier: MIT */
/* The platform services core/ relies on: the spinlock excludes, the clock
 * does not go backwards, and PH_WARN_ON reports. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <cmocka.h>

#include "platform.h"

#define THREADS 4
#define ROUNDS 200000

static ph_spinlock_t lock = PH_SPINLOCK_INIT;
static unsigned long counter; /* guarded by lock; deliberately not atomic */

static void *hammer(void *arg)
{
	ph_test_set_cpu((unsigned)(uintptr_t)arg);
	for (int i = 0; i < ROUNDS; i++) {
		ph_spin_lock(&lock);
		counter++;
		ph_spin_unlock(&lock);
	}
	return NULL;
}

static void spinlock_excludes(void **state)
{
	(void)state;
	pthread_t t[THREADS];
	for (uintptr_t i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(counter, (unsigned long)THREADS * ROUNDS);
}

static void trylock_fails_when_held(void **state)
{
	(void)state;
	ph_spinlock_t l;
	ph_spin_init(&l);
	assert_true(ph_spin_trylock(&l));
	assert_false(ph_spin_trylock(&l));
	ph_spin_unlock(&l);
	assert_true(ph_spin_trylock(&l));
}

static void clock_is_monotonic(void **state)
{
	(void)state;
	uint64_t prev = ph_now_ns();
	for (int i = 0; i < 100000; i++) {
		uint64_t now = ph_now_ns();
		assert_true(now >= prev);
		prev = now;
	}
}

static void warn_on_reports(void **state)
{
	(void)state;
	unsigned before = atomic_load(&ph_test_warnings);
	ph_test_quiet_warnings = 1;
	assert_false(PH_WARN_ON(1 + 1 == 3));
	assert_true(PH_WARN_ON(1 + 1 == 2));
	ph_test_quiet_warnings = 0;
	assert_int_equal(atomic_load(&ph_test_warnings), before + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spinlock_excludes),
		cmocka_unit_test(trylock_fails_when_held),
		cmocka_unit_test(clock_is_monotonic),
		cmocka_unit_test(warn_on_reports),
	};
	return cmocka_run_group_tests_name("platform", tests, NULL, NULL);
}
