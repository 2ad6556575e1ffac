/* SPDX-License-Identifier: MIT */
/*
 * Hosted implementation of core/platform.h, for unit tests and hosted
 * benchmarks: a pthread stands for a CPU and says which one it is with
 * ph_test_set_cpu(); the clock is CLOCK_MONOTONIC; warnings go to stderr
 * and are counted, so a test can assert that misuse was detected.
 */
#ifndef PH_PLATFORM_IMPL_H
#define PH_PLATFORM_IMPL_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define PH_MAX_CPUS 64

extern _Thread_local unsigned ph_test_cpu;
extern atomic_uint ph_test_warnings;
extern int ph_test_quiet_warnings;

static inline void ph_test_set_cpu(unsigned cpu) { ph_test_cpu = cpu; }
static inline unsigned ph_cpu_id(void) { return ph_test_cpu; }

static inline uint64_t ph_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void ph_cpu_relax(void) { __builtin_ia32_pause(); }

static inline void ph_warn(const char *file, int line, const char *msg)
{
	atomic_fetch_add(&ph_test_warnings, 1);
	if (!ph_test_quiet_warnings)
		fprintf(stderr, "pagehint: WARNING at %s:%d: %s\n", file, line, msg);
}

#endif
