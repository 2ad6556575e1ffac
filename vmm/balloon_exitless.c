/* SPDX-License-Identifier: MIT */
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "balloon_exitless.h"
#include "log.h"
#include "virtio_defs.h"
#include "clock.h"

#define FRAME_SHIFT (PH_XL_FRAME_ORDER + 12)
#define FRAME_SIZE (1ULL << FRAME_SHIFT)
#define HDR_BYTES sizeof(struct ph_xl_header)
#define MS 1000000ull

/* Bits of `logged` past the refusals. */
#define LOG_VIOLATION (1u << XL_REF__COUNT)
#define LOG_ATTACH (1u << (XL_REF__COUNT + 1))

static const char *const refusal_str[XL_REF__COUNT] = {
	[XL_REF_SHAPE] = "the chain is not a device-readable 32-byte buffer and a writable byte in RAM",
	[XL_REF_DESC_RAM] = "the descriptor is not inside guest RAM",
	[XL_REF_MAGIC] = "bad magic",
	[XL_REF_VERSION] = "unknown version",
	[XL_REF_ENTRY_BYTES] = "entry_bytes is not 1",
	[XL_REF_BUSY] = "a map is already attached",
	[XL_REF_ALIGN] = "map_gpa is not 64-byte aligned",
	[XL_REF_NR_FRAMES] = "nr_frames is 0",
	[XL_REF_MAP_RAM] = "the map is not inside one guest RAM region",
	[XL_REF_FRAMES] = "the frames reach past the top of guest RAM",
};

const char *xl_refusal_str(enum xl_refusal r)
{
	return (unsigned)r < XL_REF__COUNT ? refusal_str[r] : "?";
}

static struct timespec ts_of(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000ull),
				  .tv_nsec = (long)(ns % 1000000000ull) };
}

static bool log_once(struct xl_dev *x, unsigned bit)
{
	return !(atomic_fetch_or(&x->logged, bit) & bit);
}

struct xl_dev *xl_create(struct guest_mem *gm, const struct xl_config *cfg, struct xl_counters *c)
{
	struct xl_dev *x = calloc(1, sizeof(*x));
	pthread_condattr_t ca;

	if (!x)
		return NULL;
	x->gm = gm;
	x->cfg = *cfg;
	x->c = c;
	if (!x->cfg.rate_frames_per_s)
		x->cfg.rate_frames_per_s = XL_RATE_FRAMES_PER_S;
	/* Its own generator, so the report queue's fault choices (made on
	 * another thread) stay what they were. */
	x->rng = cfg->fault.seed ^ 0x786c786c786c786cull;
	pthread_mutex_init(&x->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&x->wake, &ca);
	pthread_cond_init(&x->idle, &ca);
	pthread_condattr_destroy(&ca);
	return x;
}

void xl_destroy(struct xl_dev *x)
{
	if (!x)
		return;
	xl_detach(x);
	pthread_mutex_lock(&x->lock);
	x->stop = true;
	pthread_cond_broadcast(&x->wake);
	pthread_mutex_unlock(&x->lock);
	if (x->thread_started)
		pthread_join(x->thread, NULL);
	pthread_cond_destroy(&x->wake);
	pthread_cond_destroy(&x->idle);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

bool xl_attached(struct xl_dev *x)
{
	pthread_mutex_lock(&x->lock);
	bool a = x->attached;
	pthread_mutex_unlock(&x->lock);
	return a;
}

bool xl_map_info(struct xl_dev *x, uint64_t *map_gpa, uint64_t *first_frame, uint32_t *nr_frames)
{
	pthread_mutex_lock(&x->lock);
	bool a = x->attached;
	*map_gpa = x->map_gpa;
	*first_frame = x->first_frame;
	*nr_frames = x->nr_frames;
	pthread_mutex_unlock(&x->lock);
	return a;
}

/* --- the scanner ------------------------------------------------------------ */

/* Does any page of the frame at gpa live on the host? Where mincore can't
 * tell, say yes: the frame is then discarded as without the check. */
static bool frame_resident(struct xl_dev *x, uint64_t gpa)
{
	enum { PAGES = FRAME_SIZE / GM_PAGE_SIZE + 1 };	/* RAM may start mid-page */
	unsigned char vec[PAGES];
	uint8_t *p = gm_translate(x->gm, gpa, FRAME_SIZE);

	if (!p || sysconf(_SC_PAGESIZE) != GM_PAGE_SIZE)
		return true;
	uintptr_t a = (uintptr_t)p, lo = a & ~(uintptr_t)(GM_PAGE_SIZE - 1);
	size_t len = (a - lo + FRAME_SIZE + GM_PAGE_SIZE - 1) & ~(size_t)(GM_PAGE_SIZE - 1);
	if (mincore((void *)lo, len, vec) < 0)
		return true;
	for (size_t i = 0; i < len / GM_PAGE_SIZE; i++)
		if (vec[i] & 1)
			return true;
	return false;
}

/*
 * The frames [gpa, + frames x 2 MiB) are claimed (RECLAIMING: the guest
 * can't touch them, so what mincore says holds until they are published).
 * A frame the host never faulted in, or gave back already, costs a
 * discard call for nothing: it is published RECLAIMED as it is (counted
 * as skipped, not reclaimed); the others are discarded in runs.
 */
static int discard_resident(struct xl_dev *x, uint64_t gpa, uint64_t frames)
{
	uint64_t run = 0, skipped = 0;

	for (uint64_t i = 0; i <= frames; i++) {
		if (i < frames && (x->cfg.no_residency_check || frame_resident(x, gpa + i * FRAME_SIZE))) {
			run++;
			continue;
		}
		if (run) {
			uint64_t at = gpa + (i - run) * FRAME_SIZE;
			atomic_fetch_add(&x->c->discard_calls, 1);
			int r = x->cfg.discard(x->cfg.discard_opaque, at, run * FRAME_SIZE);
			if (r)
				return r;	/* the whole run goes back to FREE */
			run = 0;
		}
		skipped += i < frames;
	}
	if (skipped) {
		atomic_fetch_add(&x->c->skipped_frames, skipped);
		x->unreclaimed += skipped;
	}
	return 0;
}

/*
 * ph_xl_host_scan's discard callback, x->lock held: one run of adjacent
 * claimed frames, all inside one RAM region (segments never cross one).
 * Returning 0 publishes them RECLAIMED, an error puts them back to FREE.
 */
static int discard_run(void *ctx, uint64_t gpa, uint64_t len)
{
	struct xl_dev *x = ctx;
	uint64_t frames = len >> FRAME_SHIFT;
	enum fault_kind k = FAULT_NONE;

	x->tokens -= (double)frames;
	/* A detach is waiting, or the device failed: give the frames back
	 * as they are (still backed) rather than hold the reset up. */
	if (atomic_load(&x->abort) || x->failed || x->stop) {
		x->unreclaimed += frames;
		return 0;
	}
	if (x->cfg.fault.modes)
		k = fault_pick(&x->cfg.fault, &x->rng);
	if (k == FAULT_DROP) {
		/* A device that loses the run: never discarded, never
		 * published. The frames stay RECLAIMING for good (a reset does
		 * not give them back: the guest's bounded wait takes their
		 * blocks out), and this scan call ends. */
		atomic_fetch_add(&x->c->faults_dropped, 1);
		atomic_fetch_add(&x->c->canceled_bytes, len);
		return PH_XL_ABANDON;
	}
	if (k == FAULT_DELAY) {
		/* A slow device: the frames stay RECLAIMING meanwhile, so
		 * the guest's allocation path waits on them (and gives up
		 * after its bound). A detach cuts the delay short. */
		uint64_t due = mono_ns() + fault_delay_ns(&x->cfg.fault, &x->rng);
		struct timespec ts = ts_of(due);

		atomic_fetch_add(&x->c->faults_delayed, 1);
		while (!atomic_load(&x->abort) && !x->stop && mono_ns() < due)
			pthread_cond_timedwait(&x->wake, &x->lock, &ts);
		if (atomic_load(&x->abort) || x->stop) {
			atomic_fetch_add(&x->c->canceled, 1);
			atomic_fetch_add(&x->c->canceled_bytes, len);
			x->unreclaimed += frames;
			return 0;
		}
		atomic_fetch_add(&x->c->delayed_done, 1);
	} else if (k == FAULT_RESET) {
		/* The device fails halfway through the run: half discarded,
		 * all published (nothing stays RECLAIMING), then
		 * DEVICE_NEEDS_RESET and no scan until the reset. */
		uint64_t half = (len / 2) & ~(GM_PAGE_SIZE - 1);

		if (half)
			x->cfg.discard(x->cfg.discard_opaque, gpa, half);
		x->failed = true;
		atomic_fetch_add(&x->c->faults_reset, 1);
		atomic_fetch_add(&x->c->canceled_bytes, len - half);
		x->unreclaimed += frames;
		if (x->cfg.needs_reset)
			x->cfg.needs_reset(x->cfg.needs_reset_opaque);
		return 0;
	}
	return discard_resident(x, gpa, frames);
}

/* Scan n entries of m; returns how many it did (fewer when a run was
 * dropped: the core stops there). */
static unsigned scan_seg(struct xl_dev *x, struct ph_xl_map *m, unsigned n)
{
	uint64_t rec = atomic_load(&m->reclaimed), vio = atomic_load(&m->violations);
	uint64_t err = atomic_load(&m->discard_errors), ab = atomic_load(&m->abandoned);
	uint32_t pos = m->scan_pos % m->nr_frames;

	x->unreclaimed = 0;
	ph_xl_host_scan(m, n, discard_run, x);
	if (atomic_load(&m->abandoned) != ab) {
		unsigned did = (m->scan_pos + m->nr_frames - pos) % m->nr_frames;
		n = did ? did : n;
	}
	rec = atomic_load(&m->reclaimed) - rec;
	atomic_fetch_add(&x->c->reclaimed_frames, rec > x->unreclaimed ? rec - x->unreclaimed : 0);
	atomic_fetch_add(&x->c->discard_errors, atomic_load(&m->discard_errors) - err);
	vio = atomic_load(&m->violations) - vio;
	if (vio) {
		atomic_fetch_add(&x->c->violations, vio);
		if (log_once(x, LOG_VIOLATION))
			vmm_log("virtio-balloon: exitless: the guest changed a RECLAIMING map entry "
				"during its discard (frames %#llx..%#llx); the entry is left as the "
				"guest made it; further ones not logged",
				(unsigned long long)m->first_frame,
				(unsigned long long)(m->first_frame + m->nr_frames - 1));
	}
	return n;
}

static double burst(const struct xl_dev *x)
{
	return x->cfg.burst_frames ? x->cfg.burst_frames :
	       (x->claimable > XL_BURST_MIN ? x->claimable : XL_BURST_MIN);
}

static void refill(struct xl_dev *x, uint64_t now)
{
	if (!x->tokens_primed) {	/* a new map starts with a full bucket */
		x->tokens_primed = true;
		x->tokens_ns = now;
		x->tokens = burst(x);
	}
	if (now > x->tokens_ns)
		x->tokens += (double)(now - x->tokens_ns) * x->cfg.rate_frames_per_s / 1e9;
	x->tokens_ns = now > x->tokens_ns ? now : x->tokens_ns;
	if (x->tokens > burst(x))
		x->tokens = burst(x);
}

static bool pass_running(const struct xl_dev *x)
{
	for (unsigned s = 0; s < x->nseg; s++)
		if (x->seg_left[s])
			return true;
	return false;
}

static void start_pass(struct xl_dev *x)
{
	for (unsigned s = 0; s < x->nseg; s++)
		x->seg_left[s] = x->seg[s].nr_frames;
	atomic_fetch_add(&x->c->scans, 1);
}

/*
 * x->lock held. A pass covers every entry once (each segment's scan
 * resumes where it stopped, so a full count from anywhere covers all).
 * free_gen moving during a pass does not restart it, it queues one more
 * after it: a guest bumping free_gen every poll gets back-to-back passes,
 * never the first entries over and over; and one poll scans at most
 * XL_SCAN_PER_POLL entries, so a huge map costs bounded time per poll.
 */
static bool poll_locked(struct xl_dev *x, uint64_t now)
{
	unsigned budget = XL_SCAN_PER_POLL;
	bool work = false;

	if (!x->attached || x->failed || x->scanning)
		return false;
	/* acquire: the FREE entries published before the bump are seen */
	uint64_t gen = atomic_load_explicit(&x->hdr->free_gen, memory_order_acquire);
	if (gen != x->last_gen || now >= x->next_sweep_ns) {
		x->last_gen = gen;
		x->next_sweep_ns = now + XL_SWEEP_MS * MS;
		if (pass_running(x))
			x->pass_pending = true;
		else
			start_pass(x);
	}
	refill(x, now);
	x->scanning = true;
	for (unsigned s = 0; s < x->nseg; s++) {
		while (x->seg_left[s]) {
			work = true;
			if (atomic_load(&x->abort) || x->failed || x->stop || !budget)
				goto out;
			if (x->tokens < 1) {
				atomic_fetch_add(&x->c->throttled, 1);
				goto out;
			}
			/* never more entries than tokens: claims <= entries */
			unsigned n = x->seg_left[s] < XL_CHUNK ? x->seg_left[s] : XL_CHUNK;
			if ((double)n > x->tokens)
				n = (unsigned)x->tokens;
			if (n > budget)
				n = budget;
			n = scan_seg(x, &x->seg[s], n);
			x->seg_left[s] -= n;
			budget -= n;
		}
	}
	if (x->pass_pending) {	/* the next poll starts it */
		x->pass_pending = false;
		start_pass(x);
		work = true;
	}
out:
	x->scanning = false;
	pthread_cond_broadcast(&x->idle);
	return work;
}

bool xl_poll(struct xl_dev *x, uint64_t now_ns)
{
	pthread_mutex_lock(&x->lock);
	bool work = poll_locked(x, now_ns);
	pthread_mutex_unlock(&x->lock);
	return work;
}

static void *scanner_thread(void *arg)
{
	struct xl_dev *x = arg;
	unsigned period = XL_POLL_MIN_MS;

	pthread_mutex_lock(&x->lock);
	while (!x->stop) {
		if (!x->attached || x->failed) {
			pthread_cond_wait(&x->wake, &x->lock);
			period = XL_POLL_MIN_MS;
			continue;
		}
		uint64_t now = mono_ns();
		bool work = poll_locked(x, now);
		/* Back off while the guest frees nothing. */
		period = work ? XL_POLL_MIN_MS : (period * 2 > XL_POLL_MAX_MS ? XL_POLL_MAX_MS : period * 2);
		struct timespec ts = ts_of(now + period * MS);
		pthread_cond_timedwait(&x->wake, &x->lock, &ts);
	}
	pthread_mutex_unlock(&x->lock);
	return NULL;
}

/* x->lock held. The scanner must not take the process's signals (the
 * vCPU kick, SIGINT) whichever thread attached the map. */
static void start_thread(struct xl_dev *x)
{
	sigset_t all, old;

	if (x->thread_started || x->cfg.manual)
		return;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&x->thread, NULL, scanner_thread, x);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		vmm_log("virtio-balloon: exitless: cannot start the scanner: %s; no frame will be "
			"reclaimed", strerror(r));
		return;
	}
	/* named, so that the bench can count its CPU (/proc/PID/task/TID) */
	pthread_setname_np(x->thread, XL_THREAD_NAME);
	x->thread_started = true;
}

void xl_detach(struct xl_dev *x)
{
	atomic_store(&x->abort, true);
	pthread_mutex_lock(&x->lock);
	pthread_cond_broadcast(&x->wake);
	while (x->scanning)
		pthread_cond_wait(&x->idle, &x->lock);
	if (x->attached)
		atomic_fetch_add(&x->c->detaches, 1);
	x->attached = false;
	x->failed = false;
	x->nseg = 0;
	x->claimable = 0;
	x->hdr = NULL;
	atomic_store(&x->abort, false);
	pthread_mutex_unlock(&x->lock);
}

/* --- the map queue ------------------------------------------------------------ */

static uint8_t refuse(struct xl_dev *x, enum xl_refusal r, uint64_t a, uint64_t b)
{
	atomic_fetch_add(&x->c->refused, 1);
	atomic_fetch_add(&x->c->refused_by[r], 1);
	if (log_once(x, 1u << r))
		vmm_log("virtio-balloon: exitless map refused: %s (0x%llx, 0x%llx); the device "
			"works on without it; further ones of this kind not logged",
			refusal_str[r], (unsigned long long)a, (unsigned long long)b);
	switch (r) {
	case XL_REF_SHAPE:
	case XL_REF_DESC_RAM:
	case XL_REF_MAGIC:
	case XL_REF_VERSION:
	case XL_REF_ENTRY_BYTES:
		return PH_XL_MAP_BAD_FORMAT;
	case XL_REF_BUSY:
		return PH_XL_MAP_BUSY;
	default:
		return PH_XL_MAP_BAD_RANGE;
	}
}

/* Validate one chain (docs/exitless.md §1 gives the order) and attach. */
static uint8_t take_map(struct xl_dev *x, const struct vring_chain *c)
{
	struct ph_exitless_map_desc d;
	const uint8_t *p;
	uint64_t top = 0;

	/* A map the driver cannot hear about (no status byte in RAM) is
	 * not taken either. */
	if (c->n != 2 || c->e[0].write || c->e[0].len != sizeof(d) || !c->e[1].write ||
	    c->e[1].len != 1 || !gm_translate(x->gm, c->e[1].addr, 1))
		return refuse(x, XL_REF_SHAPE, c->n, c->e[0].len);
	p = gm_translate(x->gm, c->e[0].addr, sizeof(d));
	if (!p)
		return refuse(x, XL_REF_DESC_RAM, c->e[0].addr, sizeof(d));
	memcpy(&d, p, sizeof(d));	/* read once */
	uint32_t magic = le32toh(d.magic), version = le32toh(d.version);
	uint32_t nr = le32toh(d.nr_frames), eb = le32toh(d.entry_bytes);
	uint64_t map_gpa = le64toh(d.map_gpa), first = le64toh(d.first_frame);

	if (magic != PH_XL_MAP_MAGIC)
		return refuse(x, XL_REF_MAGIC, magic, 0);
	if (version != PH_XL_MAP_VERSION)
		return refuse(x, XL_REF_VERSION, version, 0);
	if (eb != 1)
		return refuse(x, XL_REF_ENTRY_BYTES, eb, 0);

	pthread_mutex_lock(&x->lock);
	uint8_t st;
	if (x->attached) {
		st = refuse(x, XL_REF_BUSY, map_gpa, nr);
		goto out;
	}
	if (map_gpa & 63) {
		st = refuse(x, XL_REF_ALIGN, map_gpa, nr);
		goto out;
	}
	if (nr == 0) {
		st = refuse(x, XL_REF_NR_FRAMES, map_gpa, nr);
		goto out;
	}
	size_t len = HDR_BYTES + nr;
	uint8_t *mem = gm_translate(x->gm, map_gpa, len);
	if (!mem) {
		st = refuse(x, XL_REF_MAP_RAM, map_gpa, len);
		goto out;
	}
	for (unsigned i = 0; i < x->gm->nr; i++)
		if (x->gm->r[i].gpa + x->gm->r[i].size > top)
			top = x->gm->r[i].gpa + x->gm->r[i].size;
	uint64_t top_frames = (top + FRAME_SIZE - 1) >> FRAME_SHIFT;
	if (first > top_frames || nr > top_frames - first) {
		st = refuse(x, XL_REF_FRAMES, first, nr);
		goto out;
	}

	/* One segment per RAM region: the frames wholly inside it. */
	x->nseg = 0;
	x->claimable = 0;
	for (unsigned i = 0; i < x->gm->nr; i++) {
		const struct gm_region *r = &x->gm->r[i];
		uint64_t lo = (r->gpa + FRAME_SIZE - 1) >> FRAME_SHIFT;
		uint64_t hi = (r->gpa + r->size) >> FRAME_SHIFT;

		if (lo < first)
			lo = first;
		if (hi > first + nr)
			hi = first + nr;
		if (lo >= hi)
			continue;
		struct ph_xl_map *m = &x->seg[x->nseg];
		if (ph_xl_attach(m, mem, len, first, nr))
			continue;	/* cannot happen: mem is 64-byte aligned, len fits */
		/* Narrow it to this region's frames: the host side reads only
		 * entry[], first_frame and nr_frames. */
		m->entry += lo - first;
		m->first_frame = lo;
		m->nr_frames = (uint32_t)(hi - lo);
		x->seg_left[x->nseg] = 0;
		x->claimable += m->nr_frames;
		x->nseg++;
	}
	x->hdr = (struct ph_xl_header *)mem;
	x->map_gpa = map_gpa;
	x->first_frame = first;
	x->nr_frames = nr;
	x->last_gen = atomic_load_explicit(&x->hdr->free_gen, memory_order_acquire);
	x->next_sweep_ns = 0;	/* first poll: a full pass */
	x->pass_pending = false;
	x->tokens_primed = false;
	x->failed = false;
	x->attached = true;
	atomic_fetch_add(&x->c->attaches, 1);
	if (log_once(x, LOG_ATTACH))
		vmm_log("virtio-balloon: exitless map attached: %u frames from %#llx at gpa %#llx, "
			"%u of them wholly in RAM (further attaches not logged)", nr,
			(unsigned long long)first << FRAME_SHIFT, (unsigned long long)map_gpa,
			x->claimable);
	start_thread(x);
	pthread_cond_broadcast(&x->wake);
	st = PH_XL_MAP_OK;
out:
	pthread_mutex_unlock(&x->lock);
	return st;
}

void xl_handle_queue(struct xl_dev *x, struct vring_dev *vq)
{
	struct vring_chain c;

	while (vring_dev_pop(vq, &c) > 0) {
		uint8_t *status = NULL;

		if (c.n && c.e[c.n - 1].write && c.e[c.n - 1].len >= 1)
			status = gm_translate(x->gm, c.e[c.n - 1].addr, 1);
		uint8_t st = take_map(x, &c);
		if (status) {
			*status = st;
			vring_dev_push(vq, c.head, 1);
		} else {
			vring_dev_push(vq, c.head, 0);
		}
	}
}
