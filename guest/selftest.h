/* SPDX-License-Identifier: MIT */
/*
 * The test= modes, for the script tests: fault, fault-ap (a register
 * dump from CPU 0 or the last CPU), clock (two lines test.ms apart by the
 * guest's clock), idle (sleep test.ms, count halts), work (delayed and
 * periodic work on every CPU), report (one report request to the
 * balloon from a work item on the last CPU), hostile (bad submissions to
 * the balloon's reporting queue over the raw ring, guest/hostile.c).
 * corrupt is handled by memhog.
 */
#ifndef GUEST_SELFTEST_H
#define GUEST_SELFTEST_H

void selftest_run(void);
void hostile_run(void);

#endif
