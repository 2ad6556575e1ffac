/* SPDX-License-Identifier: MIT */
/*
 * The exitless mode of the balloon device (docs/exitless.md): feature bit
 * 23, the map queue, and the scanner that reclaims the frames the guest
 * marks FREE in its state map, with no request and no VM exit.
 *
 * balloon.c owns the virtio side (features, queue numbering, reset) and
 * hands this part the map queue's chains, the reset and the driver's
 * FAILED status; this part validates the map descriptor (docs/exitless.md
 * §1, §5), attaches the map, and runs the scanner: a thread of its own
 * (never a vCPU's) that polls the map's free_gen and claims, discards and
 * publishes frames with core/exitless.c's ph_xl_host_scan.
 *
 * Which frames are ever claimed: only those wholly inside one RAM region
 * (the map may span holes; their entries are never read for a claim).
 * The map is cut into one segment per region for that.
 *
 * Locking: `lock` guards the attached map and the scanner's state. The
 * scanner holds it for a whole poll, except while a delay-acks fault makes
 * it wait; detaching (reset, FAILED) takes it, so after xl_detach()
 * returns no scan is in flight and none will start: a discard in progress
 * finishes and its frames are published RECLAIMED first. The transport's
 * lock is taken before this one (device callbacks call in here), never
 * after: the scanner never calls into the transport except for the
 * needs-reset hook, which only touches atomics.
 */
#ifndef VMM_BALLOON_EXITLESS_H
#define VMM_BALLOON_EXITLESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "exitless.h"
#include "fault.h"
#include "guest_mem.h"
#include "vring_dev.h"

/* Scanner pacing. It polls free_gen every XL_POLL_MIN_MS while there is
 * work, backing off to XL_POLL_MAX_MS when idle; a full pass every
 * XL_SWEEP_MS whatever free_gen says (frames whose discard failed are
 * FREE again); at most XL_CHUNK entries per ph_xl_host_scan call, which
 * bounds a run (32 MiB: about 2 ms of madvise even without THP) and so
 * the time a guest CPU may wait on a RECLAIMING frame (its bound is
 * PH_XL_WAIT_NS, after which it gives the block up), and checks for a detach
 * between calls. */
#define XL_POLL_MIN_MS 1
#define XL_POLL_MAX_MS 8
#define XL_SWEEP_MS 1000
#define XL_CHUNK 16
#define XL_SCAN_PER_POLL 65536	/* entries (128 GiB of frames) */
/* Discards are bounded by a token bucket of frames: XL_RATE frames a
 * second (8 GiB/s), up to the larger of the map and XL_BURST_MIN at once,
 * so a legitimate guest's free of all its memory goes back in one pass
 * and a hostile one flipping entries costs the host bounded CPU. */
#define XL_RATE_FRAMES_PER_S 4096
#define XL_BURST_MIN 512

/* The scanner thread's name (comm: at most 15 characters). */
#define XL_THREAD_NAME "ph-xl-scanner"

/* Why a map descriptor was refused (each logged once). */
enum xl_refusal {
	XL_REF_SHAPE,		/* not one readable 32-byte and one writable 1-byte buffer */
	XL_REF_DESC_RAM,	/* the descriptor is not inside guest RAM */
	XL_REF_MAGIC,
	XL_REF_VERSION,
	XL_REF_ENTRY_BYTES,
	XL_REF_BUSY,		/* a map is already attached */
	XL_REF_ALIGN,		/* map_gpa not 64-byte aligned */
	XL_REF_NR_FRAMES,	/* nr_frames 0 */
	XL_REF_MAP_RAM,		/* the map's bytes not inside one RAM region */
	XL_REF_FRAMES,		/* the frames reach past the top of guest RAM */
	XL_REF__COUNT
};

struct xl_counters {
	atomic_ulong attaches;		/* maps accepted */
	atomic_ulong refused;		/* map descriptors refused */
	atomic_ulong refused_by[XL_REF__COUNT];
	atomic_ulong detaches;		/* resets and FAILED that forgot a map */
	atomic_ulong scans;		/* passes started (free_gen moved, sweep) */
	atomic_ulong reclaimed_frames;	/* frames discarded (published RECLAIMED, unless
					   the guest changed the entry meanwhile) */
	atomic_ulong discard_calls;	/* runs discarded (each one call) */
	atomic_ulong skipped_frames;	/* claimed but not resident on the host:
					   published RECLAIMED with no discard */
	atomic_ulong discard_errors;	/* ... that failed: frames back to FREE */
	atomic_ulong violations;	/* a RECLAIMING entry the guest changed */
	atomic_ulong throttled;		/* polls that found the bucket empty */
	/* faulty-device mode */
	atomic_ulong faults_delayed, faults_dropped, faults_reset, delayed_done;
	atomic_ulong canceled;		/* delayed runs a detach cancelled */
	atomic_ulong canceled_bytes;	/* never discarded: cancelled, dropped, a
					   reset fault's second half */
};

struct xl_config {
	/* No thread: the owner calls xl_poll() (tests, the fuzzer). */
	bool manual;
	/* Token bucket (0: the defaults above). */
	uint32_t rate_frames_per_s;
	uint32_t burst_frames;
	/* Discard every claimed frame, resident on the host or not (tests
	 * whose fake guest RAM is never faulted in). */
	bool no_residency_check;
	/* Faulty-device mode: each discard run may be delayed, dropped (left
	 * RECLAIMING) or fail the device (reset). */
	struct fault_config fault;
	/* The device's discard path (it counts and logs); 0 or -errno. */
	int (*discard)(void *opaque, uint64_t gpa, uint64_t len);
	void *discard_opaque;
	/* A reset fault: ask the driver to reset the device. Atomics only. */
	void (*needs_reset)(void *opaque);
	void *needs_reset_opaque;
};

struct xl_dev {
	struct guest_mem *gm;
	struct xl_config cfg;
	struct xl_counters *c;		/* the owner's */

	pthread_mutex_t lock;
	pthread_cond_t wake;		/* the scanner: work, stop, detach */
	pthread_cond_t idle;		/* a detach: the poll in flight ended */
	pthread_t thread;
	bool thread_started;

	/* guarded by lock */
	bool stop;			/* the thread exits */
	bool attached;
	bool failed;			/* reset fault: no scans until detached */
	bool scanning;			/* inside a poll (maybe waiting in a delay) */
	atomic_bool abort;		/* a detach wants the poll to end now */
	struct ph_xl_header *hdr;
	uint64_t map_gpa, first_frame;	/* as the descriptor said */
	uint32_t nr_frames;
	struct ph_xl_map seg[GM_MAX_REGIONS];
	uint32_t seg_left[GM_MAX_REGIONS];	/* entries of the current pass to go */
	bool pass_pending;		/* free_gen moved during a pass: one more */
	unsigned nseg;
	uint32_t claimable;		/* frames in all segments */
	uint64_t last_gen;
	uint64_t next_sweep_ns;
	double tokens;			/* frames that may be discarded now */
	uint64_t tokens_ns;		/* when tokens were last refilled */
	bool tokens_primed;
	uint64_t unreclaimed;		/* this scan_seg: frames published undiscarded */
	uint64_t rng;
	atomic_uint logged;		/* bit per refusal, + violation, + attach */
};

/* NULL on ENOMEM. counters is the owner's, zeroed. */
struct xl_dev *xl_create(struct guest_mem *gm, const struct xl_config *cfg, struct xl_counters *c);
/* Detaches, stops and joins the scanner. */
void xl_destroy(struct xl_dev *x);

/* The map queue's chains (transport lock held). */
void xl_handle_queue(struct xl_dev *x, struct vring_dev *vq);
/* Forget the map (device reset, FAILED): when it returns no scan is in
 * flight, every frame the scanner claimed is published, and nothing will
 * be claimed until a new map is attached. */
void xl_detach(struct xl_dev *x);
bool xl_attached(struct xl_dev *x);
/* The attached map as its descriptor gave it: false if none. */
bool xl_map_info(struct xl_dev *x, uint64_t *map_gpa, uint64_t *first_frame, uint32_t *nr_frames);

/* One poll, as the scanner thread makes it, at time now_ns (any clock the
 * caller keeps monotonic: the bucket refills by it). Returns true if
 * there was work (a pass ran or is still going). For cfg.manual owners;
 * safe beside the thread too. */
bool xl_poll(struct xl_dev *x, uint64_t now_ns);

const char *xl_refusal_str(enum xl_refusal r);

#endif
