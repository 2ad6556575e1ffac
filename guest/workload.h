/* SPDX-License-Identifier: MIT */
/*
 * The workloads (workload=...): memhog, churn, fragment, verify. Each
 * writes patterns into everything it allocates and checks them before
 * freeing; a mismatch prints "@fail ..." and ends the run with EXIT_FAIL.
 * Console protocol for the host:
 *   @event alloc mib=N       everything is allocated and written
 *   @event free mib=N        N MiB were just freed (the host times reclaim
 *                            from this line)
 *   @done workload=W ...     the end, with the workload's figures
 */
#ifndef GUEST_WORKLOAD_H
#define GUEST_WORKLOAD_H

void workload_run(void);

#endif
