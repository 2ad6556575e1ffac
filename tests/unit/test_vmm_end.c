/* SPDX-License-Identifier: MIT */
/* How a run ends, without KVM: each end's name in the summary, the
 * control API's Shutdown with its own end and status, the first stop
 * winning, and a stop from another thread waking the waiter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "clock.h"
#include "kvm_vm.h"

/* What vm_init set up for the end. */
static void vm_end_fini(struct vm *vm)
{
	pthread_mutex_destroy(&vm->end_lock);
	pthread_cond_destroy(&vm->end_cond);
}

static void every_end_has_a_name(void **state)
{
	(void)state;
	for (int e = VM_END_NONE; e < VM_END__COUNT; e++) {
		const char *n = vm_end_name((enum vm_end)e);
		assert_non_null(n);
		/* only "none" (never written: a run that did not start) shares "error" */
		for (int k = VM_END_EXIT; k < e; k++)
			if (e != VM_END_ERROR && !strcmp(n, vm_end_name((enum vm_end)k)))
				fail_msg("ends %d and %d are both '%s'", k, e, n);
	}
	assert_string_equal(vm_end_name(VM_END_SIGNAL), "signal");
	assert_string_equal(vm_end_name(VM_END_SHUTDOWN), "shutdown");
	assert_string_equal(vm_end_name(VM_END_EXIT), "exit");
	assert_string_equal(vm_end_name(VM_END__COUNT), "error");
}

static void shutdown_has_its_own_end_and_status(void **state)
{
	(void)state;
	struct vm vm;

	vm_init(&vm);
	vm_shutdown(&vm);
	assert_int_equal(vm.end, VM_END_SHUTDOWN);
	assert_int_equal(vm.status, VMM_EXIT_SHUTDOWN);
	assert_int_equal(vm.status, 0);
	assert_true(atomic_load(&vm.stopping));
	assert_non_null(strstr(vm.end_msg, "control API"));
	assert_true(vm_wait(&vm, 0));
	vm_end_fini(&vm);
}

static void first_stop_wins(void **state)
{
	(void)state;
	struct vm vm;

	vm_init(&vm);
	vm_stop(&vm, VM_END_SIGNAL, VMM_EXIT_SIGNAL, "stopped by signal 15");
	vm_shutdown(&vm);
	assert_int_equal(vm.end, VM_END_SIGNAL);
	assert_int_equal(vm.status, VMM_EXIT_SIGNAL);
	vm_end_fini(&vm);

	vm_init(&vm);
	vm_shutdown(&vm);
	vm_stop(&vm, VM_END_SIGNAL, VMM_EXIT_SIGNAL, "stopped by signal 15");
	vm_stop(&vm, VM_END_TIMEOUT, VMM_EXIT_TIMEOUT, "timeout");
	assert_int_equal(vm.end, VM_END_SHUTDOWN);
	assert_int_equal(vm.status, 0);
	assert_non_null(strstr(vm.end_msg, "Shutdown"));
	vm_end_fini(&vm);
}

static void *shut(void *vm)
{
	vm_shutdown(vm);
	return NULL;
}

/* The API's thread stops the run; main, waiting, sees the end. */
static void shutdown_from_another_thread(void **state)
{
	(void)state;
	struct vm vm;
	pthread_t t;

	vm_init(&vm);
	assert_false(vm_wait(&vm, mono_ns() + 1000000));
	assert_int_equal(pthread_create(&t, NULL, shut, &vm), 0);
	/* a deadline far off (a wait may wake early: again until it) */
	uint64_t deadline = mono_ns() + 60ull * 1000000000u;
	while (!vm_wait(&vm, deadline) && mono_ns() < deadline)
		;
	pthread_join(t, NULL);
	assert_int_equal(vm.end, VM_END_SHUTDOWN);
	vm_end_fini(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_end_has_a_name),
		cmocka_unit_test(shutdown_has_its_own_end_and_status),
		cmocka_unit_test(first_stop_wins),
		cmocka_unit_test(shutdown_from_another_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
