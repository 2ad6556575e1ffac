/* SPDX-License-Identifier: MIT */
/*
 * The kernel command line: space-separated key=value words (and the bare
 * flag `quiet`). Every key is in the table in cmdline.c; an unknown key or
 * a bad value prints one line "pagehint: bad command line: ..." and ends the
 * run with EXIT_CMDLINE.
 */
#ifndef GUEST_CMDLINE_H
#define GUEST_CMDLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/engine.h"

enum workload { WL_MEMHOG, WL_CHURN, WL_FRAGMENT, WL_VERIFY, WL_BURST, WL_NONE };
enum test_mode { TEST_NONE, TEST_FAULT, TEST_FAULT_AP, TEST_CLOCK, TEST_IDLE, TEST_CORRUPT, TEST_REPORT, TEST_WORK, TEST_HOSTILE, TEST_EXITLESS };

#define MAX_VIRTIO_MMIO 8

struct virtio_mmio_arg {
	uint64_t base, size;
	unsigned irq;
};

struct config {
	struct ph_engine_params engine;	/* engine= and report.*= (core/engine.h) */
	enum workload workload;
	enum test_mode test;
	uint64_t seed;
	bool quiet;
	int console;			/* console=ttyS0: the one UART, which the VMM names for Linux */
	struct {
		uint64_t mib;		/* 0: three quarters of free memory */
		uint64_t rounds, hold_ms, idle_ms;
		uint64_t ms;		/* start no round after this long; 0: no limit */
	} memhog;
	struct {
		uint64_t ms, batch;
		uint64_t mib;	/* per CPU, page_fault1-like rounds; 0: batch mode */
	} churn;
	struct {
		uint64_t mib, keep, hold_ms;	/* keep: percent of pages kept */
	} fragment;
	struct {
		uint64_t ms, mib;	/* per round */
		uint64_t rounds, idle_ms;
	} verify;
	struct {
		uint64_t mib, period_ms, count;
	} burst;
	uint64_t test_ms;
	uint64_t balloon_timeout_ms;	/* a report not answered by then: reset (0: the driver's 5 s) */
	struct virtio_mmio_arg virtio[MAX_VIRTIO_MMIO];
	unsigned nr_virtio;
};

extern struct config cfg;
extern const char *const workload_names[];

/* Parse boot.cmdline into cfg (defaults first); exits on error. */
void cmdline_parse(const char *line);

#endif
