/* SPDX-License-Identifier: MIT */
/*
 * The workloads (workload=...): memhog, churn, fragment, verify, burst. Each
 * writes patterns into everything it allocates and checks them before
 * freeing; a mismatch prints "@fail ..." and ends the run with EXIT_FAIL.
 * Console protocol for the host:
 *   @event alloc mib=N       everything is allocated and written
 *   @event freeing [mib=N]   the free starts (the host times reclaim from
 *                            this line: engines report during the free)
 *   @event free mib=N        N MiB were just freed
 *   @event churn ms=T        churn starts
 *   @event bursts count=K mib=N period_ms=P   burst begins
 *   @event burst n=I mib=N alloc_us=A free_us=F   burst I is done
 *   @done workload=W ...     the end, with the workload's figures
 */
#ifndef GUEST_WORKLOAD_H
#define GUEST_WORKLOAD_H

void workload_run(void);

#endif
