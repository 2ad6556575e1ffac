/* SPDX-License-Identifier: MIT */
/*
 * Faulty-device mode (`pagehint run --fault ...`): the balloon device
 * misbehaves on purpose with free page reports, as a slow, lossy or
 * failing device would, so that the guest's recovery can be tested.
 *
 *  - delay-acks: the device is slow. The request is held; only after a
 *    random delay (1 ms .. --fault-delay-ms) are its ranges discarded and
 *    the chain returned.
 *  - drop-acks: the device loses the request: it is never discarded and
 *    never returned. The guest's report times out, it resets the device and
 *    takes its pages back.
 *  - reset: the device fails in the middle of a request: it discards the
 *    first half of the request, sets DEVICE_NEEDS_RESET (with a config
 *    interrupt) and stops taking requests until the driver resets it. The
 *    chain is never returned.
 *
 * Each request is faulted with probability --fault-rate, the kind chosen
 * uniformly among the enabled ones, from a seeded generator (--fault-seed),
 * so a run is repeatable as far as the guest's own timing allows.
 * This file holds the choice; balloon.c does the holding, discarding and
 * cancelling.
 */
#ifndef VMM_FAULT_H
#define VMM_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fault_kind {
	FAULT_NONE = 0,
	FAULT_DELAY = 1 << 0,	/* delay-acks */
	FAULT_DROP = 1 << 1,	/* drop-acks */
	FAULT_RESET = 1 << 2,	/* reset */
};

#define FAULT_DEFAULT_RATE 0.05
#define FAULT_DEFAULT_DELAY_MS 200
#define FAULT_MAX_DELAY_MS 60000

struct fault_config {
	unsigned modes;		/* FAULT_* bits; 0: no faults */
	double rate;		/* probability per request, 0..1 */
	uint64_t seed;
	uint32_t delay_max_ms;	/* delay-acks: upper bound, >= 1 */
};

/* The defaults (no modes, rate 5%, seed 1, delay up to 200 ms). */
void fault_config_init(struct fault_config *c);

/* "delay-acks,drop-acks,reset" (any subset, any order; "all" for all three,
 * "none" for none) into FAULT_* bits. 0, or -1 with the bad word in bad. */
int fault_parse_modes(const char *s, unsigned *modes, char *bad, size_t badlen);

/* "delay-acks,drop-acks,reset" for modes (for logs and the summary). */
const char *fault_modes_str(unsigned modes, char *buf, size_t len);
const char *fault_kind_name(enum fault_kind k);

/* The generator: splitmix64 over *state. */
uint64_t fault_rand(uint64_t *state);

/* The fault for the next request (FAULT_NONE most of the time). */
enum fault_kind fault_pick(const struct fault_config *c, uint64_t *state);

/* A delay-acks delay in ns: uniform in [1 ms, delay_max_ms]. */
uint64_t fault_delay_ns(const struct fault_config *c, uint64_t *state);

#endif
