/* SPDX-License-Identifier: MIT */
/* The front ends' shared pieces (cmd/front.c): stop signals and the
 * files beside this program. */
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "front.h"

static void beside_takes_the_folder(void **state)
{
	(void)state;
	char buf[64];
	assert_true(front_beside("/usr/lib/pagehint", "linux-ref", buf, sizeof(buf)));
	assert_string_equal(buf, "/usr/lib/linux-ref");
	assert_true(front_beside("/pagehint", "x", buf, sizeof(buf)));
	assert_string_equal(buf, "/x");
	assert_true(front_beside("pagehint", "x", buf, sizeof(buf)));
	assert_string_equal(buf, "./x");
	assert_true(front_beside("build/pagehint", "..", buf, sizeof(buf)));
	assert_string_equal(buf, "build/..");
}

static void beside_says_when_it_does_not_fit(void **state)
{
	(void)state;
	char buf[12];
	assert_true(front_beside("/ab/pagehint", "cdefghi", buf, sizeof(buf)));	/* 11 + NUL */
	assert_false(front_beside("/ab/pagehint", "cdefghij", buf, sizeof(buf)));
}

static void guest_kernel_beside_else_here(void **state)
{
	(void)state;
	char buf[64], small[24];
	assert_ptr_equal(front_guest_kernel("/opt/build/pagehint", buf, sizeof(buf)), buf);
	assert_string_equal(buf, "/opt/build/" FRONT_GUEST_KERNEL);
	assert_string_equal(front_guest_kernel(NULL, buf, sizeof(buf)), FRONT_GUEST_KERNEL);
	assert_string_equal(front_guest_kernel("/opt/build/pagehint", small, sizeof(small)),
			    FRONT_GUEST_KERNEL);
}

static void self_path_is_this_test(void **state)
{
	(void)state;
	char self[PATH_MAX];
	assert_true(front_self_path(self, sizeof(self)));
	assert_int_equal(self[0], '/');
	assert_non_null(strstr(self, "test_front"));
	assert_false(front_self_path(self, 1));
}

static void stop_signals_are_caught(void **state)
{
	(void)state;
	front_catch_stop_signals(true);
	front_stop_signal = 0;
	raise(SIGHUP);
	assert_int_equal(front_stop_signal, SIGHUP);
	raise(SIGTERM);
	assert_int_equal(front_stop_signal, SIGTERM);
	raise(SIGINT);
	assert_int_equal(front_stop_signal, SIGINT);
	front_stop_signal = 0;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
}

static void hangup_is_left_alone_unless_asked(void **state)
{
	(void)state;
	struct sigaction sa;
	front_catch_stop_signals(false);
	sigaction(SIGHUP, NULL, &sa);
	assert_ptr_equal(sa.sa_handler, SIG_DFL);
	sigaction(SIGTERM, NULL, &sa);
	assert_ptr_not_equal(sa.sa_handler, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(beside_takes_the_folder),
		cmocka_unit_test(beside_says_when_it_does_not_fit),
		cmocka_unit_test(guest_kernel_beside_else_here),
		cmocka_unit_test(self_path_is_this_test),
		cmocka_unit_test(stop_signals_are_caught),
		cmocka_unit_test(hangup_is_left_alone_unless_asked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
