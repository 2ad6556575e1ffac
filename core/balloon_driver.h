/* SPDX-License-Identifier: MIT */
/*
 * virtio-balloon driver (spec 5.5) over the virtio-mmio driver transport:
 * a real balloon (inflate/deflate following the device's num_pages), the
 * stats queue, and the free page reporting queue as a struct
 * ph_report_sink for the reporting engines.
 *
 * Features: VERSION_1, RING_EVENT_IDX (unless cfg.no_event_idx),
 * BALLOON_F_MUST_TELL_HOST (we always
 * tell), BALLOON_F_DEFLATE_ON_OOM if the guest asks for it (it needs an
 * OOM path calling balloon_drv_oom_deflate()), BALLOON_F_STATS_VQ whenever offered (as Linux does, so the queue
 * numbering agrees with QEMU, which always creates the stats queue), and
 * BALLOON_F_REPORTING unless the config says no, and pagehint's
 * BALLOON_F_PH_EXITLESS (bit 23) when the guest gives an exitless map and
 * the device offers it. Queues are numbered as Linux numbers them:
 * inflate 0, deflate 1, stats next if negotiated, (free-page-hint never),
 * reporting next if negotiated, then the exitless map queue.
 *
 * Exitless (docs/exitless.md §1): the guest sets the map up (ph_xl_init)
 * and passes it in cfg.xl_map; at each device initialisation the driver
 * posts its descriptor and a status byte on the map queue, and reads the
 * device's answer in poll() or balloon_drv_xl_wait(). When a device that
 * had the map is reset, the driver sets the map's FREE and RECLAIMED
 * entries back to USED (ph_xl_guest_reset) once the reset completed; when
 * the device accepts the map again, ops.xl_attached tells the guest to
 * publish its free blocks again. The driver never touches the allocator.
 *
 * The guest supplies, through struct balloon_drv_ops, page allocation and
 * freeing for the balloon, memory statistics, and how to wait; this file
 * knows nothing of the allocator. Memory: one arena (rings and the buffers
 * the device reads) the caller gives at init, balloon_drv_mem_bytes() big,
 * physically contiguous, and an array for the balloon's page numbers.
 *
 * Who calls what:
 *  - balloon_drv_interrupt(): from CPL3, after the guest's IRQ handler
 *    flagged this device's interrupt. Reads and acks InterruptStatus,
 *    notes a config change (new num_pages) or DEVICE_NEEDS_RESET. Cheap.
 *    Returns the InterruptStatus bits; if non-zero, schedule the poll.
 *  - balloon_drv_poll(): the work function. Harvests used buffers, moves
 *    the balloon one batch (<= 256 pages) towards num_pages, refills the
 *    stats buffer, restarts the device after a failure. Returns true while
 *    it has more to do (call again soon), false when idle.
 *  - the sink's report(): any CPU, concurrently; blocks until the device
 *    used the request (see balloon_drv_report()).
 * All state is guarded by one spinlock, never held across wait() nor
 * across the guest's page_alloc()/page_free() (a free may run reporting
 * hooks that call report()). Don't call into the driver from the IRQ
 * handler itself, nor with allocator locks held.
 */
#ifndef PH_BALLOON_DRIVER_H
#define PH_BALLOON_DRIVER_H

#include "exitless.h"
#include "platform.h"
#include "report_sink.h"
#include "virtio_defs.h"
#include "virtio_mmio_drv.h"
#include "virtq.h"

enum bdrv_protocol {
	BDRV_PROTO_VIRTIO,  /* spec: chain of device-writable (addr, len) buffers */
	BDRV_PROTO_SEED_V8, /* RFC v8 hinting_vq: one device-readable buffer of
			       struct ph_seed_v8_entry; ranges must be buddy blocks */
};

struct balloon_drv_ops {
	void *ctx;
	/* Take one 4 KiB page from the allocator for the balloon: true and
	 * its guest-physical address, or false when memory is short. */
	bool (*page_alloc)(void *ctx, uint64_t *pa);
	/* Return a balloon page to the allocator (contents are gone). */
	void (*page_free)(void *ctx, uint64_t pa);
	/* Fill up to max (tag, value) statistics, return how many. NULL: the
	 * stats queue is negotiated (queue numbering) but never primed.
	 * Called with the driver's lock held: read counters, don't call
	 * into the driver. (page_alloc/page_free are called without it.) */
	unsigned (*get_stats)(void *ctx, struct ph_virtio_balloon_stat *st, unsigned max);
	/* report() is waiting for the device. may_halt false: spin briefly
	 * (pause) and return. may_halt true: the queue's interrupt is armed,
	 * so the guest may halt until an interrupt (call
	 * balloon_drv_interrupt() after it) before returning. NULL: spin. */
	void (*wait)(void *ctx, bool may_halt);
	/* Optional: the device accepted the exitless map (again, after a
	 * reset): publish the free blocks. Called from poll() without the
	 * driver's lock; not for the answer balloon_drv_xl_wait() reads. */
	void (*xl_attached)(void *ctx);
};

struct balloon_drv_config {
	enum bdrv_protocol protocol;
	bool no_reporting;       /* don't negotiate REPORTING (engine=off) */
	bool no_event_idx;       /* don't negotiate RING_EVENT_IDX, so that the
				    polled reporting queue never interrupts
				    (QEMU ignores used_event once per queue) */
	bool deflate_on_oom;     /* negotiate DEFLATE_ON_OOM: the guest calls
				    balloon_drv_oom_deflate() when out of memory */
	unsigned queue_size;     /* ring entries wanted per queue (0: 128);
				    min with QueueNumMax, power of two */
	unsigned report_cap;     /* most ranges per report(); virtio: 0 means
				    the queue size; seed-v8: 0 means 1000 */
	uint64_t halt_after_ns;  /* poll this long before may_halt (0: 200 us) */
	uint64_t status_every_ns;/* re-check Status while waiting (0: 100 ms; a
				    safety net, NEEDS_RESET interrupts) */
	uint64_t report_timeout_ns; /* then reset the device and fail the
				    report (0: 5 s; UINT64_MAX: never) */
	unsigned max_restarts;   /* re-inits in a row without a success in
				    between before giving up (0: 8) */
	struct ph_xl_map *xl_map; /* exitless requested: the map (ph_xl_init
				    done, physically contiguous), else NULL */
	uint32_t *pfns;          /* storage for the balloon's page numbers */
	uint32_t max_pages;      /* entries in pfns: the balloon's largest size */
	void *mem;               /* the arena */
	size_t mem_len;
};

/* Counters, for telemetry and tests (read under no lock: approximate). */
struct balloon_drv_stats {
	unsigned long reports, report_ranges, report_errors;
	unsigned long kicks, interrupts, config_changes;
	unsigned long inflated, deflated; /* pages, total */
	unsigned long stats_sent;
	unsigned long failures, restarts;
	unsigned long xl_posts, xl_accepted, xl_refused; /* map descriptors */
	unsigned long xl_resets;      /* maps taken back after a reset */
	unsigned long xl_left_reclaiming; /* entries a reset found RECLAIMING */
};

/* The exitless map's standing with the device. */
enum bdrv_xl_state {
	BDRV_XL_OFF,      /* not requested, not offered, or the device reset */
	BDRV_XL_PENDING,  /* descriptor posted, no answer yet */
	BDRV_XL_ATTACHED, /* status 0: the host may scan the map */
	BDRV_XL_REFUSED,  /* another status (xl_status), or no status byte */
};

#define BDRV_Q_INFLATE 0
#define BDRV_Q_DEFLATE 1
#define BDRV_Q_STATS   2
#define BDRV_Q_REPORT  3
#define BDRV_Q_XL      4
#define BDRV_NQ        5
#define BDRV_PFNS_PER_BATCH 256

struct balloon_drv {
	struct ph_report_sink sink; /* what engines are given */
	struct vmdrv vm;
	struct balloon_drv_ops ops;
	struct balloon_drv_config cfg;
	ph_spinlock_t lock;

	/* guarded by lock */
	struct virtq vq[BDRV_NQ];
	int qidx[BDRV_NQ];        /* device queue index, -1: absent */
	unsigned qsize;           /* ring size asked for */
	struct virtq_slot *slots[BDRV_NQ];
	void *rings[BDRV_NQ];
	uint32_t *pfnbuf;         /* BDRV_PFNS_PER_BATCH le32, device-read */
	struct ph_virtio_balloon_stat *statbuf; /* S_NR entries, device-read */
	struct ph_seed_v8_entry *seedbuf;       /* report_cap entries */
	struct virtq_buf *bufs;   /* scratch for building a report chain */
	struct ph_exitless_map_desc *xldesc; /* device-read */
	volatile uint8_t *xlstatus;          /* device-written */
	enum bdrv_xl_state xl;
	uint8_t xl_status;        /* the last answer; 0xff: none */
	bool xl_notify;           /* accepted: call ops.xl_attached */
	bool seed_busy;           /* seedbuf is in flight */
	bool stats_primed;        /* statbuf is with the device */
	uint32_t target;          /* num_pages, as last read */
	uint32_t actual;          /* pages in the balloon, told to the device */
	unsigned batch;           /* pages in the inflate/deflate in flight */
	enum { BDRV_OP_IDLE, BDRV_OP_PREPARING, BDRV_OP_INFLATE, BDRV_OP_DEFLATE } op;
				  /* batch in flight (PREPARING: pages being
				     allocated, lock dropped) */
	unsigned epoch;           /* bumped by every bring-up */
	uint32_t to_free[2 * BDRV_PFNS_PER_BATCH]; /* pfns page_free() gets once
				     the lock is dropped */
	unsigned nto_free;
	bool alloc_failed;        /* last inflate found no memory */
	bool config_pending;      /* config interrupt not yet processed */
	bool broken;              /* device failed; queues dead */
	bool dead;                /* reset failed or restarts exhausted */
	unsigned fail_streak;     /* restarts since the device last worked */
	uint64_t retry_at;        /* ph_now_ns() before which no restart */
	struct balloon_drv_stats st;
};

/* Arena bytes needed for cfg (its queue_size, protocol, report_cap). */
size_t balloon_drv_mem_bytes(const struct balloon_drv_config *cfg);

/*
 * Probe the virtio-mmio device behind regs (must be a balloon), negotiate,
 * set up the queues, prime the stats queue, DRIVER_OK, read num_pages.
 * 0, or: -PH_ENODEV (not a v2 virtio-mmio balloon), -PH_ENOMEM (arena too
 * small), -PH_EINVAL (bad config), -PH_EIO (device refused features or a
 * queue), -PH_ETIMEDOUT (reset hung).
 */
int balloon_drv_init(struct balloon_drv *b, const struct vm_regs_ops *regs, void *regs_ctx,
		     const struct balloon_drv_ops *ops, const struct balloon_drv_config *cfg);

/* The report sink: capacity 0 when reporting was not negotiated. */
static inline struct ph_report_sink *balloon_drv_sink(struct balloon_drv *b)
{
	return &b->sink;
}

/*
 * report(ranges, n) (also reachable as sink->report): one request of n
 * ranges, one kick, returns once the device used it. Ranges: page aligned,
 * non-empty, < 4 GiB each; seed-v8 also needs 2^order pages aligned to
 * their size, order <= 10. Returns 0; -1 if n > capacity (sink contract);
 * -PH_EOPNOTSUPP without REPORTING; -PH_EINVAL for a bad range; -PH_EIO if
 * the device is broken or failed (it was reset, so it no longer touches the
 * ranges); -PH_ETIMEDOUT after cfg.report_timeout_ns (device reset too).
 */
int balloon_drv_report(struct balloon_drv *b, const struct ph_range *ranges, unsigned n);

uint32_t balloon_drv_interrupt(struct balloon_drv *b);
bool balloon_drv_poll(struct balloon_drv *b);

/*
 * Out of memory: give up to max (<= 256) balloon pages back to the
 * allocator now, telling the device first (deflateq, waits for it through
 * wait()). Only with DEFLATE_ON_OOM negotiated (cfg.deflate_on_oom and
 * offered); inflating then pauses until the next config change, so the
 * balloon does not take the pages straight back. Returns the pages freed
 * (0: not negotiated, balloon empty, device broken, or a batch already in
 * flight: call again). Not with allocator locks held.
 */
unsigned balloon_drv_oom_deflate(struct balloon_drv *b, unsigned max);

/*
 * Wait (through ops.wait, at most timeout_ns) until the device answered
 * the exitless map posted at initialisation; returns the state then
 * (PENDING after the timeout). Lock not held; not from the IRQ handler.
 */
enum bdrv_xl_state balloon_drv_xl_wait(struct balloon_drv *b, uint64_t timeout_ns);

static inline enum bdrv_xl_state balloon_drv_xl_state(const struct balloon_drv *b)
{
	return b->xl;
}

/* Negotiated? */
static inline bool balloon_drv_has_reporting(const struct balloon_drv *b)
{
	return b->qidx[BDRV_Q_REPORT] >= 0 && !b->broken;
}
/* Device queue index of a role (BDRV_Q_*), -1 if absent. */
static inline int balloon_drv_queue_index(const struct balloon_drv *b, unsigned role)
{
	return b->qidx[role];
}
static inline uint32_t balloon_drv_actual(const struct balloon_drv *b) { return b->actual; }
static inline uint32_t balloon_drv_target(const struct balloon_drv *b) { return b->target; }

#endif
