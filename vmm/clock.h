/* SPDX-License-Identifier: MIT */
/* The host's monotonic clock, the one the VMM, the bench and the tools
 * time everything with. */
#ifndef VMM_CLOCK_H
#define VMM_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline double mono_ms(void)
{
	return (double)mono_ns() / 1e6;
}

static inline double mono_s(void)
{
	return (double)mono_ns() / 1e9;
}

#endif
