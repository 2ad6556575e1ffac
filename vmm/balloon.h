/* SPDX-License-Identifier: MIT */
/*
 * virtio-balloon device (virtio 1.x spec 5.5), transport-agnostic: it is
 * driven through struct virtio_dev_ops and never touches a register.
 *
 * Queues are numbered as Linux numbers them after negotiation: inflate 0,
 * deflate 1, then stats if STATS_VQ was negotiated, then reporting if
 * REPORTING was (free-page-hint is never offered), then the exitless map
 * queue if bit 23 was (balloon_exitless.h, docs/exitless.md). With the
 * seed-v8 protocol, feature bit 5 instead means the seed RFC's hinting
 * queue at the same position: one device-readable buffer holding an array
 * of struct balloon_seed_hint.
 *
 * Every range a driver reports is validated (inside guest RAM, 4 KiB
 * aligned address and length, no overflow, right direction); adjacent
 * valid ranges of one request are discarded with one call (inflated PFNs
 * sorted first); the chain goes back used with length 0. Bad input is logged once per kind, not acted
 * on, and sets DEVICE_NEEDS_RESET.
 */
#ifndef VMM_BALLOON_H
#define VMM_BALLOON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_balloon.h>

#include "balloon_exitless.h"
#include "fault.h"
#include "guest_mem.h"
#include "latency_hist.h"
#include "virtio_dev.h"

enum balloon_protocol { BALLOON_PROTO_VIRTIO, BALLOON_PROTO_SEED_V8 };

/* The seed RFC v8 hinting queue entry (little-endian on the wire). */
struct balloon_seed_hint {
	uint64_t pfn;
	uint32_t order;
	uint32_t reserved;
};
#define BALLOON_SEED_MAX_ORDER 10

enum balloon_queue_role { BQ_INFLATE, BQ_DEFLATE, BQ_STATS, BQ_REPORT, BQ_MAP, BQ_NONE };

enum balloon_err {
	BAL_ERR_OUTSIDE,	/* range not wholly inside guest RAM */
	BAL_ERR_ALIGN,		/* address or length not 4 KiB aligned, or 0 */
	BAL_ERR_OVERFLOW,	/* address + length overflows */
	BAL_ERR_DIRECTION,	/* device-writable where readable expected or v.v. */
	BAL_ERR_PFN,		/* inflate/deflate PFN outside guest RAM */
	BAL_ERR_PFN_LEN,	/* PFN array not whole le32s / not in RAM */
	BAL_ERR_HINT_LEN,	/* seed hint buffer not whole entries / not in RAM */
	BAL_ERR_HINT_ORDER,	/* seed hint order > 10 */
	BAL_ERR_STATS,		/* stats buffer not in RAM */
	BAL_ERR_DISCARD,	/* the host discard call failed (not the guest's fault) */
	BAL_ERR__COUNT
};

struct balloon_config {
	enum balloon_protocol protocol;
	bool no_stats;		/* don't offer STATS_VQ */
	bool no_reporting;	/* don't offer bit 5 */
	bool no_exitless;	/* don't offer bit 23 (the exitless map) */
	/* Exitless: no scanner thread, the owner calls balloon_xl_poll()
	 * (tests, the fuzzer); and its token bucket (0: defaults). */
	bool xl_manual;
	uint32_t xl_rate_frames_per_s, xl_burst_frames;
	/* Exitless: discard claimed frames even where none of their pages is
	 * resident (the fuzzer's RAM is never faulted in). */
	bool xl_no_residency_check;
	uint32_t target_pages;	/* initial num_pages */
	/* How to give a range back; NULL: gm_discard(). 0 or -errno. */
	int (*discard)(void *opaque, uint64_t gpa, uint64_t len);
	void *discard_opaque;
	/* Faulty-device mode for report requests (fault.h); modes 0: none. */
	struct fault_config fault;
	/* The clock target_latency is timed with, in ns; NULL: mono_ns()
	 * (tests give a fake one). */
	uint64_t (*clock_ns)(void);
};

struct balloon_counters {
	atomic_ulong report_requests;	/* reporting/hint chains handled */
	atomic_ulong report_ranges;	/* valid ranges in them */
	atomic_ulong reported_bytes;	/* sum of valid reported ranges */
	atomic_ulong discard_calls;
	atomic_ulong discarded_bytes;	/* all discards: reports and inflate */
	atomic_ulong bad_inputs;	/* invalid ranges, PFNs, buffers */
	atomic_ulong inflate_pages;	/* PFNs inflated (total) */
	atomic_ulong deflate_pages;
	atomic_ulong balloon_pages;	/* PFNs in the balloon now */
	atomic_ulong stats_updates;
	/* Faulty-device mode: requests faulted, by kind */
	atomic_ulong faults_delayed;
	atomic_ulong faults_dropped;
	atomic_ulong faults_reset;
	atomic_ulong delayed_done;	/* delayed requests discarded and returned */
	atomic_ulong canceled;		/* held requests a device reset forgot */
	atomic_ulong canceled_bytes;	/* bytes whose discard was so cancelled */
	/* The exitless map and its scanner (balloon_exitless.h). Its
	 * discards are also in discard_calls and discarded_bytes. */
	struct xl_counters xl;
	/* Report (and seed hint) requests, from the device taking the chain
	 * off the queue to its ranges discarded and the chain back in the
	 * used ring; a delayed one includes its delay, a dropped or reset one
	 * never returns and is not counted. */
	struct lat_hist report_latency;
	/* From the host's target change (balloon_set_target to a new value)
	 * to the device taking off a queue the first inflate or deflate chain
	 * with a valid PFN after it: the last such delay, and how many
	 * changes were so answered. */
	atomic_ulong target_latency_ns;
	atomic_ulong target_latencies;
};

struct balloon_dev;

struct balloon_dev *balloon_create(struct guest_mem *gm, const struct balloon_config *cfg);
void balloon_destroy(struct balloon_dev *b);
extern const struct virtio_dev_ops balloon_ops;

/* New target (pages of 4 KiB): config num_pages changes, config interrupt;
 * a new value starts a target_latency. 
 * Callable from any thread, outside device callbacks too (an atomic store
 * and the transport's config_changed hook): the control API's thread
 * calls it while the guest runs. */
void balloon_set_target(struct balloon_dev *b, uint32_t pages);
uint32_t balloon_target(const struct balloon_dev *b);
/* The device feature bits offered, or those the driver accepted (0 before
 * FEATURES_OK and after a reset); from any thread. */
uint64_t balloon_features(const struct balloon_dev *b, bool negotiated);
/* Ask the driver for fresh stats (returns the held stats buffer). No-op
 * unless the driver gave one. Not from inside a device callback. */
void balloon_request_stats(struct balloon_dev *b);

const struct balloon_counters *balloon_counters(const struct balloon_dev *b);
/* The latest stats: true and *val if the driver reported `tag`. */
bool balloon_stat(const struct balloon_dev *b, unsigned tag, uint64_t *val);
uint32_t balloon_actual(const struct balloon_dev *b);
/* Which role queue q has under the current negotiation. */
enum balloon_queue_role balloon_queue_role(const struct balloon_dev *b, unsigned q);
/* Faulty-device mode: run what is due (delayed requests whose time has
 * come). Cheap when nothing is due; call every few ms from a thread that
 * may take the transport lock (the device worker), never from inside a
 * device callback. */
void balloon_fault_tick(struct balloon_dev *b, uint64_t now_ns);
/* ms until the next delayed request is due (rounded up, at least 1), or -1
 * when none is held: how long the worker may sleep. */
int balloon_fault_next_ms(const struct balloon_dev *b, uint64_t now_ns);
/* Exitless: is a map attached now; one scanner poll at now_ns (for
 * xl_manual owners: tests, the fuzzer). */
bool balloon_xl_attached(struct balloon_dev *b);
bool balloon_xl_poll(struct balloon_dev *b, uint64_t now_ns);
/* The attached map (where, which frames): false if none. */
bool balloon_xl_map(struct balloon_dev *b, uint64_t *map_gpa, uint64_t *first_frame,
		    uint32_t *nr_frames);
/* How many times an error of this kind was seen. */
unsigned long balloon_error_count(const struct balloon_dev *b, enum balloon_err e);

#endif
