/* SPDX-License-Identifier: MIT */
/*
 * virtio-balloon driver; see balloon_driver.h for the contract.
 *
 * State machine, in one place:
 *
 *   init ──bring_up()──▶ LIVE ──device_failed()──▶ BROKEN ──poll: bring_up()──▶ LIVE
 *                          │                          │     (backing off: 0, 1, 2, 4 ms
 *                          │                          │      ... 1 s between tries)
 *                          │                          └─ reset hung, or max_restarts
 *                          │                             tries without a success in
 *                          │                             between ──▶ DEAD (stays)
 *   LIVE: poll() moves the balloon one batch at a time (op = INFLATE or
 *   DEFLATE, one chain in flight, committed to `actual` when used), keeps
 *   one stats buffer with the device, and completes report requests;
 *   report() adds a chain and waits for it.
 *
 * device_failed() is the one way out of LIVE: a hostile used ring (virtq
 * marked broken), DEVICE_NEEDS_RESET, a report timeout. It resets the
 * device first (after the reset reads back 0 the device touches no ring
 * and no buffer), and only then hands everything in flight back: report
 * requests complete with an error, an inflate batch's pages go back to the
 * allocator, a deflate batch completes. Nothing is returned while the
 * device might still use it; if the reset never completes, nothing is
 * returned at all (DEAD), and waiting reports stay waiting.
 *
 * Locking: b->lock guards all driver state and every virtq; register
 * accesses made under it are the rare ones (bring-up, Status checks);
 * QueueNotify is written after dropping it. wait() is never called with
 * the lock held.
 */
#include "balloon_driver.h"

#define DEFAULT_QSIZE       128u
#define DEFAULT_SEED_CAP    1000u /* the seed's MAX_FGPT_ENTRIES */
#define DEFAULT_HALT_NS     200000ull
#define DEFAULT_STATUS_NS   100000000ull /* a safety net: NEEDS_RESET comes
					      with a config interrupt */
#define DEFAULT_RESTARTS    8u
#define DEFAULT_TIMEOUT_NS  5000000000ull /* a request is 1 ms of host work */
#define PAGE_SHIFT          PH_VIRTIO_BALLOON_PFN_SHIFT
#define PAGE_SIZE           (1ull << PAGE_SHIFT)

#define CFG_NUM_PAGES offsetof(struct ph_virtio_balloon_config, num_pages)
#define CFG_ACTUAL    offsetof(struct ph_virtio_balloon_config, actual)

/* A report() in flight; lives on the reporter's stack, completed under
 * b->lock, never touched after done is set. */
struct bdrv_req {
	bool done;
	int status;
};

/* Non-NULL tokens for the balloon's own chains. */
static char tok_batch, tok_stats, tok_xl;

static int bdrv_sink_report(struct ph_report_sink *sink, const struct ph_range *r, unsigned n);

/* ---- arena ---- */

struct layout {
	size_t ring[BDRV_NQ], slots[BDRV_NQ], pfnbuf, statbuf, seedbuf, scratch, xl, end;
};

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static unsigned seed_cap(const struct balloon_drv_config *cfg)
{
	return cfg->report_cap ? cfg->report_cap : DEFAULT_SEED_CAP;
}

static unsigned want_qsize(const struct balloon_drv_config *cfg)
{
	return cfg->queue_size ? cfg->queue_size : DEFAULT_QSIZE;
}

static void layout(const struct balloon_drv_config *cfg, struct layout *l)
{
	unsigned q = want_qsize(cfg);
	size_t off = 0;
	for (unsigned i = 0; i < BDRV_NQ; i++) {
		off = align_up(off, 4096);
		l->ring[i] = off;
		off += virtq_contig_bytes(q);
		off = align_up(off, 16);
		l->slots[i] = off;
		off += q * sizeof(struct virtq_slot);
	}
	off = align_up(off, 16);
	l->pfnbuf = off;
	off += BDRV_PFNS_PER_BATCH * sizeof(uint32_t);
	off = align_up(off, 16);
	l->statbuf = off;
	off += PH_VIRTIO_BALLOON_S_NR * sizeof(struct ph_virtio_balloon_stat);
	off = align_up(off, 16);
	l->seedbuf = off;
	if (cfg->protocol == BDRV_PROTO_SEED_V8)
		off += (size_t)seed_cap(cfg) * sizeof(struct ph_seed_v8_entry);
	off = align_up(off, 16);
	l->scratch = off;
	off += q * sizeof(struct virtq_buf);
	off = align_up(off, 16);
	l->xl = off;	/* the map descriptor, then its status byte */
	off += sizeof(struct ph_exitless_map_desc) + 16;
	l->end = off;
}

size_t balloon_drv_mem_bytes(const struct balloon_drv_config *cfg)
{
	struct layout l;
	layout(cfg, &l);
	return l.end;
}

/* ---- helpers (all under b->lock) ---- */

static bool has_q(const struct balloon_drv *b, unsigned role)
{
	return b->qidx[role] >= 0;
}

static void tell_actual(struct balloon_drv *b)
{
	vmdrv_config_write32(&b->vm, CFG_ACTUAL, b->actual);
}

static void read_target(struct balloon_drv *b)
{
	uint32_t t;
	if (vmdrv_config_read32(&b->vm, CFG_NUM_PAGES, &t) == 0)
		b->target = t;
}

/* Queue pages for page_free() after the lock is dropped (flush_frees()).
 * At most two batches wait here: one just completed, one failed. */
static void defer_free(struct balloon_drv *b, const uint32_t *pfns, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		/* cannot happen; if it did, leaking beats freeing twice */
		if (PH_WARN_ON(b->nto_free == sizeof(b->to_free) / sizeof(b->to_free[0])))
			return;
		b->to_free[b->nto_free++] = pfns[i];
	}
}

/* Lock not held: hand deferred pages back to the allocator. */
static void flush_frees(struct balloon_drv *b)
{
	uint32_t local[BDRV_PFNS_PER_BATCH];
	for (;;) {
		ph_spin_lock(&b->lock);
		unsigned n = b->nto_free < BDRV_PFNS_PER_BATCH ? b->nto_free : BDRV_PFNS_PER_BATCH;
		b->nto_free -= n;
		for (unsigned i = 0; i < n; i++)
			local[i] = b->to_free[b->nto_free + i];
		ph_spin_unlock(&b->lock);
		if (n == 0)
			return;
		for (unsigned i = 0; i < n; i++)
			b->ops.page_free(b->ops.ctx, (uint64_t)local[i] << PAGE_SHIFT);
	}
}

/* Complete everything in flight. Only after the device was reset. */
static void release_inflight(struct balloon_drv *b, int status)
{
	for (unsigned role = 0; role < BDRV_NQ; role++) {
		if (!has_q(b, role))
			continue;
		void *tok;
		while ((tok = virtq_detach(&b->vq[role])) != NULL) {
			if (role == BDRV_Q_REPORT) {
				struct bdrv_req *req = tok;
				req->status = status;
				req->done = true;
			}
		}
	}
	b->seed_busy = false;
	b->stats_primed = false;
	if (has_q(b, BDRV_Q_XL) && b->cfg.xl_map) {
		/* §1: after the reset the host scans no more and owns no frame */
		b->st.xl_left_reclaiming += ph_xl_guest_reset(b->cfg.xl_map);
		b->st.xl_resets++;
		b->xl = BDRV_XL_OFF;
		b->xl_notify = false;
	}
	if (b->op == BDRV_OP_INFLATE) {
		/* never committed: the pages go back to the allocator */
		defer_free(b, &b->cfg.pfns[b->actual], b->batch);
	} else if (b->op == BDRV_OP_DEFLATE) {
		/* the device is reset: finish the deflate without it */
		b->actual -= b->batch;
		defer_free(b, &b->cfg.pfns[b->actual], b->batch);
		b->st.deflated += b->batch;
	}
	/* BDRV_OP_PREPARING: the allocating CPU sees op changed and frees */
	b->op = BDRV_OP_IDLE;
	b->batch = 0;
}

static void device_failed(struct balloon_drv *b, int status)
{
	if (b->broken)
		return;
	b->broken = true;
	b->st.failures++;
	for (unsigned role = 0; role < BDRV_NQ; role++)
		if (has_q(b, role))
			virtq_break(&b->vq[role]);
	if (PH_WARN_ON(vmdrv_reset(&b->vm) != 0)) {
		/* The device may still DMA: keep every buffer where it is. */
		b->dead = true;
		return;
	}
	release_inflight(b, status);
	vmdrv_fail(&b->vm);
}

/* Prime (or re-prime) the stats buffer; true if the queue needs a kick. */
static bool stats_refill(struct balloon_drv *b)
{
	if (!has_q(b, BDRV_Q_STATS) || !b->ops.get_stats || b->stats_primed)
		return false;
	unsigned n = b->ops.get_stats(b->ops.ctx, b->statbuf, PH_VIRTIO_BALLOON_S_NR);
	if (n == 0)
		return false;
	if (n > PH_VIRTIO_BALLOON_S_NR)
		n = PH_VIRTIO_BALLOON_S_NR;
	struct virtq_buf buf = {
		.addr = vmdrv_phys(&b->vm, b->statbuf),
		.len = (uint32_t)(n * sizeof(struct ph_virtio_balloon_stat)),
	};
	if (virtq_add(&b->vq[BDRV_Q_STATS], &buf, 1, &tok_stats))
		return false;
	b->stats_primed = true;
	b->st.stats_sent++;
	return virtq_kick_prepare(&b->vq[BDRV_Q_STATS]);
}

/* Post the exitless map's descriptor and status byte; true: kick. */
static bool xl_post(struct balloon_drv *b)
{
	const struct ph_xl_map *m = b->cfg.xl_map;

	*b->xldesc = (struct ph_exitless_map_desc){
		.magic = ph_le32(PH_XL_MAP_MAGIC),
		.version = ph_le32(PH_XL_MAP_VERSION),
		.map_gpa = ph_le64(vmdrv_phys(&b->vm, m->hdr)),
		.first_frame = ph_le64(m->first_frame),
		.nr_frames = ph_le32(m->nr_frames),
		.entry_bytes = ph_le32(1),
	};
	*b->xlstatus = 0xff;
	struct virtq_buf bufs[2] = {
		{ .addr = vmdrv_phys(&b->vm, b->xldesc), .len = sizeof(*b->xldesc) },
		{ .addr = vmdrv_phys(&b->vm, (const void *)b->xlstatus), .len = 1, .write = true },
	};
	if (virtq_add(&b->vq[BDRV_Q_XL], bufs, 2, &tok_xl))
		return false;
	b->xl = BDRV_XL_PENDING;
	b->xl_status = 0xff;
	b->st.xl_posts++;
	return virtq_kick_prepare(&b->vq[BDRV_Q_XL]);
}

/* The device's answer to the map, if it came. */
static void harvest_xl(struct balloon_drv *b)
{
	if (b->broken || !has_q(b, BDRV_Q_XL))
		return;
	void *tok;
	uint32_t len;
	int r;
	while ((r = virtq_get_used(&b->vq[BDRV_Q_XL], &tok, &len)) > 0) {
		if (b->xl != BDRV_XL_PENDING)
			continue;
		b->xl_status = len >= 1 ? *b->xlstatus : 0xff;
		if (b->xl_status == PH_XL_MAP_OK) {
			b->xl = BDRV_XL_ATTACHED;
			b->xl_notify = true;
			b->st.xl_accepted++;
		} else {
			b->xl = BDRV_XL_REFUSED;
			b->st.xl_refused++;
		}
	}
	if (r < 0)
		device_failed(b, -PH_EIO);
}

static unsigned pow2_floor(unsigned v)
{
	unsigned p = 1;
	while (p * 2 <= v)
		p *= 2;
	return p;
}

/* Negotiate and set up all queues; the device is live on return 0. */
static int bring_up(struct balloon_drv *b)
{
	uint64_t want = 1ull << PH_VIRTIO_F_VERSION_1 | 1ull << PH_VIRTIO_BALLOON_F_MUST_TELL_HOST |
			1ull << PH_VIRTIO_BALLOON_F_STATS_VQ;
	/* Without EVENT_IDX, avail->flags' NO_INTERRUPT silences the polled
	 * reporting queue; with it, QEMU interrupts for the first used entry
	 * of each queue whatever used_event says (two exits: InterruptStatus
	 * and InterruptACK). The balloon gains nothing from EVENT_IDX: it has
	 * at most a request or a batch per queue in flight. */
	if (!b->cfg.no_event_idx)
		want |= 1ull << PH_VIRTIO_RING_F_EVENT_IDX;
	if (!b->cfg.no_reporting)
		want |= 1ull << PH_VIRTIO_BALLOON_F_REPORTING;
	if (b->cfg.deflate_on_oom)
		want |= 1ull << PH_VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (b->cfg.xl_map)
		want |= 1ull << PH_VIRTIO_BALLOON_F_PH_EXITLESS;

	for (unsigned role = 0; role < BDRV_NQ; role++)
		b->qidx[role] = -1;
	b->sink.capacity = 0;
	b->op = BDRV_OP_IDLE;
	b->batch = 0;
	b->seed_busy = false;
	b->stats_primed = false;
	b->xl = BDRV_XL_OFF;
	b->xl_notify = false;
	b->epoch++;

	int r = vmdrv_negotiate(&b->vm, want, NULL);
	if (r)
		return r;
	bool ev = vmdrv_has(&b->vm, PH_VIRTIO_RING_F_EVENT_IDX);

	/* Linux numbering: only the queues that exist after negotiation. */
	int idx = 0;
	b->qidx[BDRV_Q_INFLATE] = idx++;
	b->qidx[BDRV_Q_DEFLATE] = idx++;
	if (vmdrv_has(&b->vm, PH_VIRTIO_BALLOON_F_STATS_VQ))
		b->qidx[BDRV_Q_STATS] = idx++;
	if (vmdrv_has(&b->vm, PH_VIRTIO_BALLOON_F_REPORTING))
		b->qidx[BDRV_Q_REPORT] = idx++;
	if (vmdrv_has(&b->vm, PH_VIRTIO_BALLOON_F_PH_EXITLESS))
		b->qidx[BDRV_Q_XL] = idx++;

	for (unsigned role = 0; role < BDRV_NQ; role++) {
		if (!has_q(b, role))
			continue;
		int max = vmdrv_queue_max(&b->vm, (unsigned)b->qidx[role]);
		if (max <= 0)
			goto fail;
		unsigned num = pow2_floor((unsigned)max < b->qsize ? (unsigned)max : b->qsize);
		if (virtq_init_contig(&b->vq[role], num, b->rings[role], b->slots[role], ev) ||
		    vmdrv_queue_enable(&b->vm, (unsigned)b->qidx[role], &b->vq[role]))
			goto fail;
	}

	if (has_q(b, BDRV_Q_REPORT)) {
		/* The reporter polls; it arms the interrupt only for long waits. */
		virtq_disable_cb(&b->vq[BDRV_Q_REPORT]);
		unsigned cap;
		if (b->cfg.protocol == BDRV_PROTO_SEED_V8) {
			cap = seed_cap(&b->cfg);
		} else {
			cap = b->vq[BDRV_Q_REPORT].num;
			if (b->cfg.report_cap && b->cfg.report_cap < cap)
				cap = b->cfg.report_cap;
		}
		b->sink.capacity = cap;
	}

	bool kick_stats = stats_refill(b);
	bool kick_xl = has_q(b, BDRV_Q_XL) && xl_post(b);
	vmdrv_driver_ok(&b->vm);
	if (kick_stats)
		vmdrv_notify(&b->vm, (unsigned)b->qidx[BDRV_Q_STATS]);
	if (kick_xl)
		vmdrv_notify(&b->vm, (unsigned)b->qidx[BDRV_Q_XL]);
	read_target(b);
	tell_actual(b);
	b->broken = false;
	b->alloc_failed = false;
	b->config_pending = false;
	return 0;
fail:
	vmdrv_fail(&b->vm);
	for (unsigned role = 0; role < BDRV_NQ; role++)
		b->qidx[role] = -1;
	b->sink.capacity = 0;
	return -PH_EIO;
}

int balloon_drv_init(struct balloon_drv *b, const struct vm_regs_ops *regs, void *regs_ctx,
		     const struct balloon_drv_ops *ops, const struct balloon_drv_config *cfg)
{
	*b = (struct balloon_drv){ .ops = *ops, .cfg = *cfg };
	ph_spin_init(&b->lock);
	b->sink.report = bdrv_sink_report;
	for (unsigned role = 0; role < BDRV_NQ; role++)
		b->qidx[role] = -1;
	b->broken = true; /* until bring_up succeeds */

	unsigned q = want_qsize(cfg);
	if (q == 0 || q > PH_VIRTQ_MAX_NUM || (q & (q - 1)) || !ops->page_alloc || !ops->page_free)
		return -PH_EINVAL;
	if (cfg->max_pages && !cfg->pfns)
		return -PH_EINVAL;
	if (cfg->xl_map && (!cfg->xl_map->hdr || !cfg->xl_map->nr_frames))
		return -PH_EINVAL;
	if (!cfg->mem || cfg->mem_len < balloon_drv_mem_bytes(cfg) || ((uintptr_t)cfg->mem & 15))
		return -PH_ENOMEM;
	b->qsize = q;

	struct layout l;
	layout(cfg, &l);
	uint8_t *mem = cfg->mem;
	for (unsigned role = 0; role < BDRV_NQ; role++) {
		b->rings[role] = mem + l.ring[role];
		b->slots[role] = (struct virtq_slot *)(mem + l.slots[role]);
	}
	b->pfnbuf = (uint32_t *)(mem + l.pfnbuf);
	b->statbuf = (struct ph_virtio_balloon_stat *)(mem + l.statbuf);
	b->seedbuf = (struct ph_seed_v8_entry *)(mem + l.seedbuf);
	b->bufs = (struct virtq_buf *)(mem + l.scratch);
	b->xldesc = (struct ph_exitless_map_desc *)(mem + l.xl);
	b->xlstatus = mem + l.xl + sizeof(struct ph_exitless_map_desc);

	int r = vmdrv_probe(&b->vm, regs, regs_ctx);
	if (r)
		return r;
	if (b->vm.device_id != PH_VIRTIO_ID_BALLOON)
		return -PH_ENODEV;
	ph_spin_lock(&b->lock);
	r = bring_up(b);
	ph_spin_unlock(&b->lock);
	return r;
}

/* ---- reporting ---- */

static int check_ranges(const struct balloon_drv *b, const struct ph_range *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = r[i].addr, len = r[i].len;
		if ((a | len) & (PAGE_SIZE - 1) || len == 0 || len > UINT32_MAX || a + len < a)
			return -PH_EINVAL;
		if (b->cfg.protocol == BDRV_PROTO_SEED_V8) {
			uint64_t pages = len >> PAGE_SHIFT;
			if ((pages & (pages - 1)) || pages > (1u << PH_SEED_V8_MAX_ORDER) ||
			    ((a >> PAGE_SHIFT) & (pages - 1)))
				return -PH_EINVAL;
		}
	}
	return 0;
}

/* Make the request available; -PH_ENOSPC when it must wait for room. */
static int report_add(struct balloon_drv *b, const struct ph_range *r, unsigned n,
		      struct bdrv_req *req)
{
	struct virtq *rq = &b->vq[BDRV_Q_REPORT];
	if (b->cfg.protocol == BDRV_PROTO_SEED_V8) {
		if (b->seed_busy)
			return -PH_ENOSPC;
		for (unsigned i = 0; i < n; i++) {
			uint64_t pages = r[i].len >> PAGE_SHIFT;
			b->seedbuf[i] = (struct ph_seed_v8_entry){
				.pfn = ph_le64(r[i].addr >> PAGE_SHIFT),
				.order = ph_le32((uint32_t)__builtin_ctzll(pages)),
			};
		}
		struct virtq_buf buf = {
			.addr = vmdrv_phys(&b->vm, b->seedbuf),
			.len = (uint32_t)(n * sizeof(struct ph_seed_v8_entry)),
		};
		int e = virtq_add(rq, &buf, 1, req);
		if (e == 0)
			b->seed_busy = true;
		return e;
	}
	struct virtq_buf *bufs = b->bufs;
	for (unsigned i = 0; i < n; i++)
		bufs[i] = (struct virtq_buf){ .addr = r[i].addr, .len = (uint32_t)r[i].len, .write = true };
	return virtq_add(rq, bufs, n, req);
}

static void harvest_report(struct balloon_drv *b)
{
	if (b->broken || !has_q(b, BDRV_Q_REPORT))
		return;
	struct virtq *rq = &b->vq[BDRV_Q_REPORT];
	void *tok;
	uint32_t len;
	int r;
	while ((r = virtq_get_used(rq, &tok, &len)) > 0) {
		struct bdrv_req *req = tok;
		req->status = 0;
		req->done = true;
		b->seed_busy = false;
		b->fail_streak = 0; /* the device works */
	}
	if (r < 0) {
		device_failed(b, -PH_EIO);
		return;
	}
	if (virtq_inflight(rq) == 0 && !rq->cb_disabled)
		virtq_disable_cb(rq);
}

struct waiter {
	uint64_t start, last_status;
};

/*
 * One step of waiting for the device (lock not held): enforce the timeout,
 * look at Status now and then, arm the interrupt for long waits, call the
 * guest's wait(). Returns after at most one wait().
 */
static void wait_step(struct balloon_drv *b, struct waiter *w, const struct bdrv_req *req)
{
	uint64_t now = ph_now_ns();
	uint64_t halt_after = b->cfg.halt_after_ns ? b->cfg.halt_after_ns : DEFAULT_HALT_NS;
	uint64_t status_every = b->cfg.status_every_ns ? b->cfg.status_every_ns : DEFAULT_STATUS_NS;

	uint64_t timeout = b->cfg.report_timeout_ns ? b->cfg.report_timeout_ns : DEFAULT_TIMEOUT_NS;
	if (now - w->start >= timeout) {
		ph_spin_lock(&b->lock);
		if (req && !req->done)
			device_failed(b, -PH_ETIMEDOUT);
		ph_spin_unlock(&b->lock);
		return;
	}
	if (now - w->last_status >= status_every) {
		w->last_status = now;
		ph_spin_lock(&b->lock);
		if (!b->broken && vmdrv_needs_reset(&b->vm))
			device_failed(b, -PH_EIO);
		ph_spin_unlock(&b->lock);
	}
	bool may_halt = false;
	if (now - w->start >= halt_after) {
		ph_spin_lock(&b->lock);
		may_halt = !b->broken && has_q(b, BDRV_Q_REPORT) &&
			   virtq_enable_cb(&b->vq[BDRV_Q_REPORT]);
		ph_spin_unlock(&b->lock);
		if (!may_halt)
			return; /* something is already used, or broken: look again */
	}
	if (b->ops.wait)
		b->ops.wait(b->ops.ctx, may_halt);
	else
		ph_cpu_relax();
}

static int report(struct balloon_drv *b, const struct ph_range *ranges, unsigned n)
{
	struct bdrv_req req = { 0 };
	struct waiter w;

	ph_spin_lock(&b->lock);
	bool negotiated = has_q(b, BDRV_Q_REPORT);
	unsigned cap = b->sink.capacity;
	ph_spin_unlock(&b->lock);
	if (!negotiated)
		return -PH_EOPNOTSUPP;
	if (n > cap)
		return -1; /* the sink contract */
	if (n == 0)
		return 0;
	int r = check_ranges(b, ranges, n);
	if (r)
		return r;

	w.start = w.last_status = ph_now_ns();
	ph_spin_lock(&b->lock);
	for (;;) {
		if (b->broken || !has_q(b, BDRV_Q_REPORT)) {
			b->st.report_errors++;
			ph_spin_unlock(&b->lock);
			return -PH_EIO;
		}
		r = report_add(b, ranges, n, &req);
		if (r != -PH_ENOSPC)
			break;
		/* Full (other CPUs' requests in flight): wait for room. */
		harvest_report(b);
		ph_spin_unlock(&b->lock);
		wait_step(b, &w, NULL);
		ph_spin_lock(&b->lock);
	}
	if (r) {
		b->st.report_errors++;
		ph_spin_unlock(&b->lock);
		return r;
	}
	unsigned qi = (unsigned)b->qidx[BDRV_Q_REPORT];
	bool kick = virtq_kick_prepare(&b->vq[BDRV_Q_REPORT]);
	b->st.reports++;
	b->st.report_ranges += n;
	if (kick)
		b->st.kicks++;
	ph_spin_unlock(&b->lock);
	if (kick)
		vmdrv_notify(&b->vm, qi);

	for (;;) {
		ph_spin_lock(&b->lock);
		harvest_report(b);
		if (req.done) {
			if (req.status)
				b->st.report_errors++;
			ph_spin_unlock(&b->lock);
			return req.status;
		}
		ph_spin_unlock(&b->lock);
		wait_step(b, &w, &req);
	}
}

int balloon_drv_report(struct balloon_drv *b, const struct ph_range *ranges, unsigned n)
{
	int r = report(b, ranges, n);
	flush_frees(b); /* a device failure may have released balloon pages */
	return r;
}

static int bdrv_sink_report(struct ph_report_sink *sink, const struct ph_range *r, unsigned n)
{
	struct balloon_drv *b = (struct balloon_drv *)((char *)sink - offsetof(struct balloon_drv, sink));
	return balloon_drv_report(b, r, n);
}

/* ---- interrupt and work ---- */

uint32_t balloon_drv_interrupt(struct balloon_drv *b)
{
	ph_spin_lock(&b->lock);
	uint32_t isr = vmdrv_interrupt_ack(&b->vm);
	if (isr)
		b->st.interrupts++;
	if (isr & PH_VIRTIO_MMIO_INT_CONFIG) {
		b->config_pending = true;
		b->st.config_changes++;
		/* A config interrupt also announces DEVICE_NEEDS_RESET. */
		if (!b->broken && vmdrv_needs_reset(&b->vm))
			device_failed(b, -PH_EIO);
	}
	ph_spin_unlock(&b->lock);
	flush_frees(b);
	return isr;
}

/* Harvest inflate/deflate/stats; returns a mask of roles to notify. */
static unsigned harvest_balloon(struct balloon_drv *b)
{
	unsigned kick = 0;
	void *tok;
	uint32_t len;
	for (unsigned role = BDRV_Q_INFLATE; role <= BDRV_Q_STATS; role++) {
		if (b->broken || !has_q(b, role))
			continue;
		int r;
		while ((r = virtq_get_used(&b->vq[role], &tok, &len)) > 0) {
			if (role == BDRV_Q_STATS) {
				b->stats_primed = false;
				if (stats_refill(b))
					kick |= 1u << role;
			} else if (b->op == (role == BDRV_Q_INFLATE ? BDRV_OP_INFLATE : BDRV_OP_DEFLATE)) {
				if (role == BDRV_Q_INFLATE) {
					b->actual += b->batch;
					b->st.inflated += b->batch;
				} else {
					b->actual -= b->batch;
					defer_free(b, &b->cfg.pfns[b->actual], b->batch);
					b->st.deflated += b->batch;
				}
				b->op = BDRV_OP_IDLE;
				b->batch = 0;
				b->fail_streak = 0;
				tell_actual(b);
			}
		}
		if (r < 0) {
			device_failed(b, -PH_EIO);
			return 0;
		}
	}
	return kick;
}

static uint32_t capped_target(const struct balloon_drv *b)
{
	return b->target < b->cfg.max_pages ? b->target : b->cfg.max_pages;
}

/* Make a batch of n pfns (already in pfnbuf) available on role's queue;
 * returns the notify mask. */
static unsigned add_batch(struct balloon_drv *b, unsigned role, unsigned n)
{
	struct virtq_buf buf = {
		.addr = vmdrv_phys(&b->vm, b->pfnbuf),
		.len = (uint32_t)(n * sizeof(uint32_t)),
	};
	if (virtq_add(&b->vq[role], &buf, 1, &tok_batch))
		return 0; /* only when broken: nothing in flight */
	b->op = role == BDRV_Q_INFLATE ? BDRV_OP_INFLATE : BDRV_OP_DEFLATE;
	b->batch = n;
	return virtq_kick_prepare(&b->vq[role]) ? 1u << role : 0;
}

/* Under the lock: start a deflate batch, or reserve an inflate of up to
 * *n pages (op = PREPARING; the caller allocates without the lock).
 * Returns the notify mask. */
static unsigned plan_batch(struct balloon_drv *b, unsigned *inflate_n)
{
	uint32_t target = capped_target(b);
	*inflate_n = 0;
	if (target > b->actual && !b->alloc_failed) {
		unsigned want = target - b->actual;
		*inflate_n = want > BDRV_PFNS_PER_BATCH ? BDRV_PFNS_PER_BATCH : want;
		b->op = BDRV_OP_PREPARING;
		return 0;
	}
	if (target < b->actual) {
		unsigned n = b->actual - target;
		if (n > BDRV_PFNS_PER_BATCH)
			n = BDRV_PFNS_PER_BATCH;
		for (unsigned i = 0; i < n; i++)
			b->pfnbuf[i] = ph_le32(b->cfg.pfns[b->actual - n + i]);
		return add_batch(b, BDRV_Q_DEFLATE, n);
	}
	return 0;
}

/* Lock not held: allocate up to want pages and, if the device is still the
 * one we planned for, send them as one inflate batch. */
static unsigned inflate(struct balloon_drv *b, unsigned want, unsigned epoch)
{
	uint32_t got[BDRV_PFNS_PER_BATCH];
	unsigned n = 0, kick = 0;
	for (; n < want; n++) {
		uint64_t pa;
		if (!b->ops.page_alloc(b->ops.ctx, &pa))
			break;
		got[n] = (uint32_t)(pa >> PAGE_SHIFT);
	}
	ph_spin_lock(&b->lock);
	if (b->broken || b->epoch != epoch || b->op != BDRV_OP_PREPARING) {
		defer_free(b, got, n); /* the device went away meanwhile */
	} else {
		b->op = BDRV_OP_IDLE;
		if (n < want)
			b->alloc_failed = true; /* retry on the next config change */
		for (unsigned i = 0; i < n; i++) {
			b->cfg.pfns[b->actual + i] = got[i];
			b->pfnbuf[i] = ph_le32(got[i]);
		}
		if (n)
			kick = add_batch(b, BDRV_Q_INFLATE, n);
		if (kick)
			b->st.kicks++;
	}
	unsigned qi = (unsigned)b->qidx[BDRV_Q_INFLATE];
	ph_spin_unlock(&b->lock);
	if (kick)
		vmdrv_notify(&b->vm, qi);
	return kick;
}

bool balloon_drv_poll(struct balloon_drv *b)
{
	unsigned kick = 0, inflate_n = 0, epoch;
	int qi[BDRV_NQ];

	ph_spin_lock(&b->lock);
	if (b->broken && !b->dead) {
		unsigned max = b->cfg.max_restarts ? b->cfg.max_restarts : DEFAULT_RESTARTS;
		uint64_t now = ph_now_ns();
		if (b->fail_streak >= max) {
			b->dead = true;
		} else if (now >= b->retry_at) {
			/* back off: 0, 1, 2, 4 ... ms, at most 1 s, between tries */
			unsigned k = b->fail_streak < 11 ? b->fail_streak : 10;
			b->retry_at = now + (k ? 1000000ull << (k - 1) : 0);
			b->fail_streak++;
			b->st.restarts++;
			if (bring_up(b))
				b->broken = true;
		}
	}
	if (!b->broken) {
		if (b->config_pending) {
			b->config_pending = false;
			b->alloc_failed = false;
			read_target(b);
		}
		harvest_report(b);
		harvest_xl(b);
		kick = harvest_balloon(b);
		if (!b->broken && b->op == BDRV_OP_IDLE)
			kick |= plan_batch(b, &inflate_n);
	}
	if (b->broken)
		kick = 0;
	epoch = b->epoch;
	for (unsigned role = 0; role < BDRV_NQ; role++) {
		qi[role] = b->qidx[role];
		if (kick & (1u << role))
			b->st.kicks++;
	}
	bool xl_attached = b->xl_notify && b->xl == BDRV_XL_ATTACHED;
	b->xl_notify = false;
	ph_spin_unlock(&b->lock);
	if (xl_attached && b->ops.xl_attached)
		b->ops.xl_attached(b->ops.ctx);

	for (unsigned role = 0; role < BDRV_NQ; role++)
		if (kick & (1u << role))
			vmdrv_notify(&b->vm, (unsigned)qi[role]);
	flush_frees(b);
	if (inflate_n)
		inflate(b, inflate_n, epoch);
	flush_frees(b);

	ph_spin_lock(&b->lock);
	bool more;
	if (b->broken) {
		more = !b->dead;
	} else {
		uint32_t target = capped_target(b);
		more = b->op != BDRV_OP_IDLE ||
		       (target != b->actual && !(target > b->actual && b->alloc_failed));
	}
	ph_spin_unlock(&b->lock);
	return more;
}

enum bdrv_xl_state balloon_drv_xl_wait(struct balloon_drv *b, uint64_t timeout_ns)
{
	uint64_t start = ph_now_ns();

	for (;;) {
		ph_spin_lock(&b->lock);
		harvest_xl(b);
		enum bdrv_xl_state s = b->xl;
		if (s != BDRV_XL_PENDING)
			b->xl_notify = false; /* the caller has the answer */
		ph_spin_unlock(&b->lock);
		if (s != BDRV_XL_PENDING || ph_now_ns() - start >= timeout_ns)
			return s;
		if (b->ops.wait)
			b->ops.wait(b->ops.ctx, false);
		else
			ph_cpu_relax();
	}
}

unsigned balloon_drv_oom_deflate(struct balloon_drv *b, unsigned max)
{
	ph_spin_lock(&b->lock);
	if (b->broken || !vmdrv_has(&b->vm, PH_VIRTIO_BALLOON_F_DEFLATE_ON_OOM) ||
	    b->op != BDRV_OP_IDLE || b->actual == 0 || max == 0) {
		ph_spin_unlock(&b->lock);
		return 0;
	}
	unsigned n = max < BDRV_PFNS_PER_BATCH ? max : BDRV_PFNS_PER_BATCH;
	if (n > b->actual)
		n = b->actual;
	uint32_t before = b->actual;
	for (unsigned i = 0; i < n; i++)
		b->pfnbuf[i] = ph_le32(b->cfg.pfns[b->actual - n + i]);
	unsigned kick = add_batch(b, BDRV_Q_DEFLATE, n);
	b->alloc_failed = true; /* no re-inflating until the host speaks again */
	unsigned epoch = b->epoch, qi = (unsigned)b->qidx[BDRV_Q_DEFLATE];
	if (kick)
		b->st.kicks++;
	ph_spin_unlock(&b->lock);
	if (kick)
		vmdrv_notify(&b->vm, qi);

	/* MUST_TELL_HOST: the pages are ours only once the device used the
	 * deflate (or was reset). */
	for (;;) {
		ph_spin_lock(&b->lock);
		unsigned k = 0;
		if (!b->broken && b->epoch == epoch)
			k = harvest_balloon(b);
		bool done = b->broken || b->epoch != epoch || b->op != BDRV_OP_DEFLATE;
		uint32_t after = b->actual;
		int sq = b->qidx[BDRV_Q_STATS];
		if (k)
			b->st.kicks++;
		ph_spin_unlock(&b->lock);
		if (k && sq >= 0)
			vmdrv_notify(&b->vm, (unsigned)sq);
		if (done) {
			flush_frees(b);
			return before > after ? before - after : 0;
		}
		if (b->ops.wait)
			b->ops.wait(b->ops.ctx, false);
		else
			ph_cpu_relax();
	}
}
