/* SPDX-License-Identifier: MIT */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include "balloon.h"
#include "log.h"
#include "virtio_defs.h"
#include "clock.h"

#define BALLOON_PAGE (1ULL << VIRTIO_BALLOON_PFN_SHIFT)
/* Faulty-device mode: requests held at once (at most one per descriptor
 * of the queue, unless the driver reuses heads we hold: then no more are
 * faulted), and merged runs kept per request (more are discarded at once,
 * which is safe: the request is still in flight). */
#define BALLOON_MAX_HELD 256
#define BALLOON_MAX_RUNS 4096
#define NEVER UINT64_MAX
#define BALLOON_MAX_QUEUES 5	/* inflate, deflate, stats, reporting, map */
/* The longest message a queue takes (PFN array, stats, seed hints), in
 * bytes: 65536 seed-v8 hints of 16 bytes (report.capacity's bound), or
 * 256 Ki PFNs, where Linux sends 256 at a time. A chain may name the same
 * memory in every descriptor, so its length is bounded only by the queue
 * size times 4 GiB; a longer one is refused before any byte is read. */
#define BALLOON_MSG_MAX (1u << 20)
/* Inflated PFNs sorted and merged at once: a whole Linux message (256),
 * and a longer chain in batches of this many (work and memory bounded). */
#define BALLOON_PFN_BATCH 4096

static const char *const bal_err_str[BAL_ERR__COUNT] = {
	[BAL_ERR_OUTSIDE] = "reported range is not inside guest RAM",
	[BAL_ERR_ALIGN] = "reported range address or length is not 4 KiB aligned (or is 0)",
	[BAL_ERR_OVERFLOW] = "reported range address + length overflows",
	[BAL_ERR_DIRECTION] = "buffer has the wrong direction (readable/writable) for its queue",
	[BAL_ERR_PFN] = "inflate/deflate PFN outside guest RAM",
	[BAL_ERR_PFN_LEN] = "PFN array is not whole le32 entries, is outside guest RAM or above 1 MiB",
	[BAL_ERR_HINT_LEN] = "seed hint buffer is not whole 16-byte entries, is outside guest RAM or above 1 MiB",
	[BAL_ERR_HINT_ORDER] = "seed hint order is above 10",
	[BAL_ERR_STATS] = "stats buffer is outside guest RAM or above 1 MiB",
	[BAL_ERR_DISCARD] = "host discard failed",
};

struct balloon_dev {
	struct guest_mem *gm;
	struct balloon_config cfg;
	struct virtio_dev_hooks hooks;

	/* Config space: num_pages is the host's, actual the driver's. */
	atomic_uint num_pages;
	atomic_uint actual;
	/* When the host last changed num_pages, plus 1, until a PFN answers
	 * it; 0: none waiting. Set on the API's thread, taken on the device's. */
	_Atomic uint64_t target_changed;

	/* Below: touched only from device callbacks, which the transport
	 * serialises. */
	_Atomic uint64_t features;	/* negotiated; read by request_stats */
	bool stats_held;		/* we hold the driver's stats buffer */
	uint16_t stats_head;
	atomic_bool stats_wanted;	/* set by balloon_request_stats() */
	uint64_t *bitmap;		/* one bit per 4 KiB page in the balloon */
	uint64_t bitmap_pages;

	/* A run of adjacent ranges waiting for one discard call. */
	uint64_t run_gpa, run_len;
	/* Valid inflated PFNs of the chain in hand, not yet discarded. */
	uint32_t *pfns;
	unsigned npfns;

	/* Faulty-device mode (fault.h), also touched only from device
	 * callbacks. A request that is faulted has its merged runs collected
	 * in runs[] instead of discarded; a delayed or dropped one is then
	 * held in held[] (due: when to discard and return it; NEVER for a
	 * dropped one, whose runs are not kept). */
	uint64_t rng;
	bool collecting;		/* run_flush() appends to runs[] */
	bool failed;			/* reset fault: take nothing until reset */
	unsigned nruns;
	struct brun { uint64_t gpa, len; } *runs;
	unsigned nheld;
	struct held_req {
		uint16_t head;
		uint64_t due;		/* CLOCK_MONOTONIC ns, or NEVER */
		uint64_t popped;	/* when it came off the queue (mono_ns) */
		uint64_t bytes;
		unsigned n;
		struct brun *r;
	} held[BALLOON_MAX_HELD];
	_Atomic uint64_t next_due;	/* earliest due; read by the tick */

	struct balloon_counters c;
	_Atomic uint64_t stats_present;	/* bit per tag */
	_Atomic uint64_t stats[VIRTIO_BALLOON_S_NR];
	atomic_ulong err_count[BAL_ERR__COUNT];
	atomic_uint logged;

	/* The exitless part, when bit 23 is offered (its own lock). */
	struct xl_dev *xl;
};

static void bad_input(struct balloon_dev *b, enum balloon_err e, uint64_t a, uint64_t l)
{
	unsigned bit = 1u << e;

	atomic_fetch_add(&b->err_count[e], 1);
	if (!(atomic_fetch_or(&b->logged, bit) & bit))
		vmm_log("virtio-balloon: %s (0x%llx, 0x%llx)%s; further ones not logged",
			bal_err_str[e], (unsigned long long)a, (unsigned long long)l,
			e == BAL_ERR_DISCARD ? "" : "; not acted on, device needs reset");
	if (e == BAL_ERR_DISCARD)
		return;
	atomic_fetch_add(&b->c.bad_inputs, 1);
	if (b->hooks.needs_reset)
		b->hooks.needs_reset(b->hooks.opaque);
}

static int discard_now(struct balloon_dev *b, uint64_t gpa, uint64_t len);

/* The exitless scanner's discards go through the device's own path (and
 * its counters and log); called on the scanner thread: all atomics. */
static int xl_discard(void *opaque, uint64_t gpa, uint64_t len)
{
	return discard_now(opaque, gpa, len);
}

/* A reset fault on the scanner thread: the transport's hook only sets a
 * status bit and raises the config interrupt (atomics). */
static void xl_needs_reset(void *opaque)
{
	struct balloon_dev *b = opaque;

	if (b->hooks.needs_reset)
		b->hooks.needs_reset(b->hooks.opaque);
}

struct balloon_dev *balloon_create(struct guest_mem *gm, const struct balloon_config *cfg)
{
	struct balloon_dev *b = calloc(1, sizeof(*b));
	uint64_t top = 0;

	if (!b)
		return NULL;
	b->gm = gm;
	b->cfg = *cfg;
	for (unsigned i = 0; i < gm->nr; i++)
		if (gm->r[i].gpa + gm->r[i].size > top)
			top = gm->r[i].gpa + gm->r[i].size;
	b->bitmap_pages = top / BALLOON_PAGE;
	b->bitmap = calloc((b->bitmap_pages + 63) / 64 + 1, sizeof(uint64_t));
	if (!b->bitmap) {
		free(b);
		return NULL;
	}
	b->pfns = calloc(BALLOON_PFN_BATCH, sizeof(*b->pfns));
	if (!b->pfns) {
		balloon_destroy(b);
		return NULL;
	}
	atomic_store(&b->num_pages, cfg->target_pages);
	b->rng = cfg->fault.seed;
	atomic_store(&b->next_due, NEVER);
	if (cfg->fault.modes) {
		b->runs = calloc(BALLOON_MAX_RUNS, sizeof(*b->runs));
		if (!b->runs) {
			balloon_destroy(b);
			return NULL;
		}
	}
	if (!cfg->no_exitless) {
		struct xl_config xc = {
			.manual = cfg->xl_manual,
			.rate_frames_per_s = cfg->xl_rate_frames_per_s,
			.burst_frames = cfg->xl_burst_frames,
			.no_residency_check = cfg->xl_no_residency_check,
			.fault = cfg->fault,
			.discard = xl_discard,
			.discard_opaque = b,
			.needs_reset = xl_needs_reset,
			.needs_reset_opaque = b,
		};
		b->xl = xl_create(gm, &xc, &b->c.xl);
		if (!b->xl) {
			balloon_destroy(b);
			return NULL;
		}
	}
	return b;
}

void balloon_destroy(struct balloon_dev *b)
{
	if (!b)
		return;
	xl_destroy(b->xl);	/* the scanner first: it discards through b */
	for (unsigned i = 0; i < b->nheld; i++)
		free(b->held[i].r);
	free(b->runs);
	free(b->pfns);
	free(b->bitmap);
	free(b);
}

const struct balloon_counters *balloon_counters(const struct balloon_dev *b) { return &b->c; }
uint32_t balloon_actual(const struct balloon_dev *b) { return atomic_load(&b->actual); }

unsigned long balloon_error_count(const struct balloon_dev *b, enum balloon_err e)
{
	return (unsigned)e < BAL_ERR__COUNT ? atomic_load(&b->err_count[e]) : 0;
}

bool balloon_stat(const struct balloon_dev *b, unsigned tag, uint64_t *val)
{
	if (tag >= VIRTIO_BALLOON_S_NR || !(atomic_load(&b->stats_present) & (1ULL << tag)))
		return false;
	*val = atomic_load(&b->stats[tag]);
	return true;
}

static uint64_t now_ns(const struct balloon_dev *b)
{
	return b->cfg.clock_ns ? b->cfg.clock_ns() : mono_ns();
}

/* --- queue roles ------------------------------------------------------ */

static enum balloon_queue_role role_for(uint64_t f, unsigned q)
{
	unsigned next = 2;

	if (q == 0)
		return BQ_INFLATE;
	if (q == 1)
		return BQ_DEFLATE;
	if (f & (1ULL << VIRTIO_BALLOON_F_STATS_VQ)) {
		if (q == next)
			return BQ_STATS;
		next++;
	}
	/* VIRTIO_BALLOON_F_FREE_PAGE_HINT would come here; never offered. */
	if (f & (1ULL << VIRTIO_BALLOON_F_REPORTING)) {
		if (q == next)
			return BQ_REPORT;
		next++;
	}
	/* docs/exitless.md §1: the map queue comes after every other one. */
	if ((f & (1ULL << PH_VIRTIO_BALLOON_F_PH_EXITLESS)) && q == next)
		return BQ_MAP;
	return BQ_NONE;
}

enum balloon_queue_role balloon_queue_role(const struct balloon_dev *b, unsigned q)
{
	return role_for(b->features, q);
}

static unsigned stats_queue(uint64_t f)
{
	return (f & (1ULL << VIRTIO_BALLOON_F_STATS_VQ)) ? 2 : ~0u;
}

/* --- discarding, with merging of adjacent ranges ----------------------- */

static int do_discard(struct balloon_dev *b, uint64_t gpa, uint64_t len)
{
	if (b->cfg.discard)
		return b->cfg.discard(b->cfg.discard_opaque, gpa, len);
	return gm_discard(b->gm, gpa, len);
}

static int discard_now(struct balloon_dev *b, uint64_t gpa, uint64_t len)
{
	int r = do_discard(b, gpa, len);
	if (r == 0) {
		atomic_fetch_add(&b->c.discard_calls, 1);
		atomic_fetch_add(&b->c.discarded_bytes, len);
	} else {
		bad_input(b, BAL_ERR_DISCARD, gpa, len);
	}
	return r;
}

static void run_flush(struct balloon_dev *b)
{
	if (!b->run_len)
		return;
	if (b->collecting && b->nruns < BALLOON_MAX_RUNS)
		b->runs[b->nruns++] = (struct brun){ b->run_gpa, b->run_len };
	else
		discard_now(b, b->run_gpa, b->run_len);
	b->run_len = 0;
}

/* Queue a validated range; it joins the current run if it starts where
 * the run ends and the joined range is still inside one RAM region. */
static void run_add(struct balloon_dev *b, uint64_t gpa, uint64_t len)
{
	if (b->run_len && b->run_gpa + b->run_len == gpa &&
	    gm_translate(b->gm, b->run_gpa, b->run_len + len)) {
		b->run_len += len;
		return;
	}
	run_flush(b);
	b->run_gpa = gpa;
	b->run_len = len;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Discard the gathered PFNs: sorted, each once, adjacent ones in one call
 * (run_add keeps a call inside one RAM region). */
static void pfns_flush(struct balloon_dev *b)
{
	qsort(b->pfns, b->npfns, sizeof(*b->pfns), cmp_u32);
	for (unsigned i = 0; i < b->npfns; i++)
		if (!i || b->pfns[i] != b->pfns[i - 1])
			run_add(b, (uint64_t)b->pfns[i] << VIRTIO_BALLOON_PFN_SHIFT, BALLOON_PAGE);
	run_flush(b);
	b->npfns = 0;
}

/* A validated inflated PFN, discarded by pfns_flush (here if the batch is
 * full, else at the end of its chain). */
static void pfns_add(struct balloon_dev *b, uint32_t pfn)
{
	if (b->npfns == BALLOON_PFN_BATCH)
		pfns_flush(b);
	b->pfns[b->npfns++] = pfn;
}

/* Validate one reported range; false (and logged) if it must be skipped. */
static bool range_ok(struct balloon_dev *b, uint64_t gpa, uint64_t len)
{
	if (gpa + len < gpa) {
		bad_input(b, BAL_ERR_OVERFLOW, gpa, len);
		return false;
	}
	if (len == 0 || ((gpa | len) & (BALLOON_PAGE - 1))) {
		bad_input(b, BAL_ERR_ALIGN, gpa, len);
		return false;
	}
	if (!gm_translate(b->gm, gpa, len)) {
		bad_input(b, BAL_ERR_OUTSIDE, gpa, len);
		return false;
	}
	return true;
}

/* --- faulty-device mode -------------------------------------------------- */

static void update_next_due(struct balloon_dev *b)
{
	uint64_t due = NEVER;

	for (unsigned i = 0; i < b->nheld; i++)
		if (b->held[i].due < due)
			due = b->held[i].due;
	atomic_store(&b->next_due, due);
}

/* The fault for a request just popped; runs are collected if there is one. */
static enum fault_kind request_begin(struct balloon_dev *b)
{
	enum fault_kind k = FAULT_NONE;

	if (b->cfg.fault.modes && b->nheld < BALLOON_MAX_HELD)
		k = fault_pick(&b->cfg.fault, &b->rng);
	b->collecting = k != FAULT_NONE;
	b->nruns = 0;
	return k;
}

/*
 * Ordering of discards against a device reset (the invariant: nothing is
 * discarded after the guest may have its pages back). The guest takes the
 * pages of a request back in exactly two ways: the chain comes back used,
 * or the driver resets the device (status 0; it reads the status back as 0
 * before it returns the pages). Every discard here runs inside
 * handle_queue() and the reset inside ops_reset(), and the transport runs
 * both under its one lock, so they are totally ordered:
 *  - a held request is discarded first and only then pushed used, in one
 *    critical section (release_due), so a used chain always means "done";
 *  - a reset forgets every held request (ops_reset) before the driver can
 *    see status 0, so a discard not done by then never happens: delayed
 *    requests not yet due and dropped ones are cancelled, not run late.
 * The reset fault discards half a request and then asks for the reset;
 * that half was still in flight (the chain is never returned).
 */
static void request_end(struct balloon_dev *b, struct vring_dev *vq, uint16_t head,
			enum fault_kind k, uint64_t popped)
{
	struct held_req *h;
	uint64_t bytes = 0;

	b->collecting = false;
	for (unsigned i = 0; i < b->nruns; i++)
		bytes += b->runs[i].len;
	switch (k) {
	case FAULT_NONE:
		break;
	case FAULT_DELAY:
		h = &b->held[b->nheld];
		h->r = b->nruns ? malloc(b->nruns * sizeof(*h->r)) : NULL;
		if (b->nruns && !h->r)
			break;	/* no memory: not faulted after all */
		if (b->nruns)
			memcpy(h->r, b->runs, b->nruns * sizeof(*h->r));
		h->n = b->nruns;
		h->head = head;
		h->bytes = bytes;
		h->popped = popped;
		h->due = mono_ns() + fault_delay_ns(&b->cfg.fault, &b->rng);
		b->nheld++;
		b->nruns = 0;
		atomic_fetch_add(&b->c.faults_delayed, 1);
		update_next_due(b);
		return;
	case FAULT_DROP:
		/* Never discarded, never returned; held only to be counted
		 * when the reset cancels it. */
		h = &b->held[b->nheld++];
		*h = (struct held_req){ .head = head, .due = NEVER, .bytes = bytes };
		b->nruns = 0;
		atomic_fetch_add(&b->c.faults_dropped, 1);
		return;
	case FAULT_RESET: {
		/* Discard the first half (whole pages), then fail. */
		uint64_t budget = (bytes / 2) & ~(BALLOON_PAGE - 1);
		for (unsigned i = 0; i < b->nruns && budget; i++) {
			uint64_t len = b->runs[i].len < budget ? b->runs[i].len : budget;
			discard_now(b, b->runs[i].gpa, len);
			budget -= len;
			bytes -= len;
		}
		b->nruns = 0;
		b->failed = true;
		atomic_fetch_add(&b->c.faults_reset, 1);
		atomic_fetch_add(&b->c.canceled_bytes, bytes);
		if (b->hooks.needs_reset)
			b->hooks.needs_reset(b->hooks.opaque);
		return;
	}
	}
	/* Not faulted: discard what was collected, return the chain. */
	for (unsigned i = 0; i < b->nruns; i++)
		discard_now(b, b->runs[i].gpa, b->runs[i].len);
	b->nruns = 0;
	vring_dev_push(vq, head, 0);
	lat_hist_add(&b->c.report_latency, mono_ns() - popped);
}

/* Delayed requests whose time has come: discard, then return (see above). */
static void release_due(struct balloon_dev *b, struct vring_dev *vq)
{
	uint64_t now;

	if (atomic_load(&b->next_due) == NEVER)
		return;
	now = mono_ns();
	for (unsigned i = 0; i < b->nheld;) {
		struct held_req *h = &b->held[i];
		if (h->due > now) {
			i++;
			continue;
		}
		for (unsigned j = 0; j < h->n; j++)
			discard_now(b, h->r[j].gpa, h->r[j].len);
		vring_dev_push(vq, h->head, 0);
		lat_hist_add(&b->c.report_latency, mono_ns() - h->popped);
		atomic_fetch_add(&b->c.delayed_done, 1);
		free(h->r);
		*h = b->held[--b->nheld];
	}
	update_next_due(b);
}

/* Device reset (transport lock held): cancel every discard not yet done. */
static void fault_reset(struct balloon_dev *b)
{
	for (unsigned i = 0; i < b->nheld; i++) {
		atomic_fetch_add(&b->c.canceled, 1);
		atomic_fetch_add(&b->c.canceled_bytes, b->held[i].bytes);
		free(b->held[i].r);
	}
	b->nheld = 0;
	b->nruns = 0;
	b->collecting = false;
	b->failed = false;
	atomic_store(&b->next_due, NEVER);
}

static unsigned report_queue(uint64_t f)
{
	for (unsigned q = 0; q < BALLOON_MAX_QUEUES; q++)
		if (role_for(f, q) == BQ_REPORT)
			return q;
	return ~0u;
}

void balloon_fault_tick(struct balloon_dev *b, uint64_t now_ns)
{
	unsigned q;

	if (atomic_load(&b->next_due) > now_ns || !b->hooks.poke)
		return;
	q = report_queue(atomic_load(&b->features));
	if (q != ~0u)
		b->hooks.poke(b->hooks.opaque, q);
}

int balloon_fault_next_ms(const struct balloon_dev *b, uint64_t now_ns)
{
	uint64_t due = atomic_load(&b->next_due);

	if (due == NEVER)
		return -1;
	if (due <= now_ns)
		return 1;
	uint64_t ms = (due - now_ns + 999999) / 1000000;
	return ms > 1000 ? 1000 : (int)ms;
}

/* --- messages in driver-readable buffers --------------------------------- */

/*
 * The driver-readable bytes of a chain, read in order as one message: a
 * driver may lay a message out across descriptors as it likes, a PFN or
 * a stats entry split between two of them included (virtio 1.x 2.6.4,
 * "Message Framing"; QEMU reads them the same way). msg_open checks the
 * whole chain before anything is read, so a chain is acted on whole or
 * not at all; msg_read copies each entry out of guest memory once, and
 * the handler parses its copy.
 */
struct msg {
	const struct guest_mem *gm;
	const struct vring_chain *c;
	unsigned i;		/* element being read */
	uint32_t off;		/* bytes of it already read */
	uint64_t left;		/* bytes of the message not yet read */
};

/*
 * The message of chain c, made of entries of `entry` bytes. Empty, after
 * bad_input, if a buffer is device-writable (BAL_ERR_DIRECTION) or
 * outside guest RAM, or the total is above BALLOON_MSG_MAX or not whole
 * entries (e).
 */
static void msg_open(struct balloon_dev *b, const struct vring_chain *c, uint32_t entry,
		     enum balloon_err e, struct msg *m)
{
	uint64_t total = 0;

	*m = (struct msg){ .gm = b->gm, .c = c };
	for (unsigned i = 0; i < c->n; i++) {
		const struct vring_elem *el = &c->e[i];

		if (el->write) {
			bad_input(b, BAL_ERR_DIRECTION, el->addr, el->len);
			return;
		}
		total += el->len;	/* n <= queue size: no overflow */
		if (!gm_translate(b->gm, el->addr, el->len) || total > BALLOON_MSG_MAX) {
			bad_input(b, e, el->addr, el->len);
			return;
		}
	}
	if (total % entry) {
		bad_input(b, e, c->n ? c->e[0].addr : 0, total);
		return;
	}
	m->left = total;
}

/* Copy the next n bytes of the message to dst; false (nothing copied) if
 * fewer than n are left. */
static bool msg_read(struct msg *m, void *dst, uint32_t n)
{
	uint8_t *d = dst;

	if (m->left < n)
		return false;
	m->left -= n;
	while (n) {
		const struct vring_elem *el = &m->c->e[m->i];
		uint32_t k = el->len - m->off < n ? el->len - m->off : n;

		if (k) {
			/* inside guest RAM: msg_open checked each buffer whole */
			memcpy(d, gm_translate(m->gm, el->addr + m->off, k), k);
			d += k;
			n -= k;
			m->off += k;
		}
		if (m->off == el->len) {
			m->i++;
			m->off = 0;
		}
	}
	return true;
}

/* --- queue handlers ----------------------------------------------------- */

/* Each buffer is itself a reported range, its bytes never read: there is
 * no framing to assume; a range split over two descriptors is two
 * adjacent ranges, which run_add merges again. */
static void handle_report(struct balloon_dev *b, struct vring_dev *vq)
{
	struct vring_chain c;

	release_due(b, vq);
	while (!b->failed && vring_dev_pop(vq, &c) > 0) {
		uint64_t popped = mono_ns();
		enum fault_kind k = request_begin(b);
		atomic_fetch_add(&b->c.report_requests, 1);
		for (unsigned i = 0; i < c.n; i++) {
			const struct vring_elem *e = &c.e[i];
			/* Linux adds report buffers as device-writable. */
			if (!e->write) {
				bad_input(b, BAL_ERR_DIRECTION, e->addr, e->len);
				continue;
			}
			if (!range_ok(b, e->addr, e->len))
				continue;
			atomic_fetch_add(&b->c.report_ranges, 1);
			atomic_fetch_add(&b->c.reported_bytes, e->len);
			run_add(b, e->addr, e->len);
		}
		run_flush(b);
		/* Used length 0: we wrote nothing into the buffers. */
		request_end(b, vq, c.head, k, popped);
	}
}

static void handle_seed_hints(struct balloon_dev *b, struct vring_dev *vq)
{
	struct vring_chain c;

	release_due(b, vq);
	while (!b->failed && vring_dev_pop(vq, &c) > 0) {
		uint64_t popped = mono_ns();
		enum fault_kind k = request_begin(b);
		struct balloon_seed_hint h;
		struct msg m;

		atomic_fetch_add(&b->c.report_requests, 1);
		msg_open(b, &c, sizeof(h), BAL_ERR_HINT_LEN, &m);
		while (msg_read(&m, &h, sizeof(h))) {
			uint64_t pfn = le64toh(h.pfn);
			uint32_t order = le32toh(h.order);
			if (order > BALLOON_SEED_MAX_ORDER) {
				bad_input(b, BAL_ERR_HINT_ORDER, pfn, order);
				continue;
			}
			if (pfn > (UINT64_MAX >> VIRTIO_BALLOON_PFN_SHIFT)) {
				bad_input(b, BAL_ERR_OVERFLOW, pfn, order);
				continue;
			}
			uint64_t gpa = pfn << VIRTIO_BALLOON_PFN_SHIFT;
			uint64_t len = BALLOON_PAGE << order;
			if (!range_ok(b, gpa, len))
				continue;
			atomic_fetch_add(&b->c.report_ranges, 1);
			atomic_fetch_add(&b->c.reported_bytes, len);
			run_add(b, gpa, len);
		}
		run_flush(b);
		request_end(b, vq, c.head, k, popped);
	}
}

/* A chain taken off at `popped` has a valid PFN: the answer to a target
 * change made before it, if one waits. */
static void target_answered(struct balloon_dev *b, uint64_t popped)
{
	uint64_t t = atomic_load(&b->target_changed);

	if (!t || popped < t - 1 || !atomic_compare_exchange_strong(&b->target_changed, &t, 0))
		return;
	atomic_store(&b->c.target_latency_ns, popped - (t - 1));
	atomic_fetch_add(&b->c.target_latencies, 1);
}

static void handle_pfns(struct balloon_dev *b, struct vring_dev *vq, bool inflate)
{
	struct vring_chain c;

	while (vring_dev_pop(vq, &c) > 0) {
		uint64_t popped = now_ns(b);
		bool answered = false;
		struct msg m;
		uint32_t pfn;

		msg_open(b, &c, sizeof(pfn), BAL_ERR_PFN_LEN, &m);
		while (msg_read(&m, &pfn, sizeof(pfn))) {
			pfn = le32toh(pfn);
			uint64_t gpa = (uint64_t)pfn << VIRTIO_BALLOON_PFN_SHIFT;
			if (pfn >= b->bitmap_pages || !gm_translate(b->gm, gpa, BALLOON_PAGE)) {
				bad_input(b, BAL_ERR_PFN, gpa, BALLOON_PAGE);
				continue;
			}
			if (!answered) {
				target_answered(b, popped);
				answered = true;
			}
			uint64_t bit = 1ULL << (pfn % 64), *w = &b->bitmap[pfn / 64];
			if (inflate) {
				atomic_fetch_add(&b->c.inflate_pages, 1);
				if (!(*w & bit)) {
					*w |= bit;
					atomic_fetch_add(&b->c.balloon_pages, 1);
				}
				pfns_add(b, pfn);
			} else {
				atomic_fetch_add(&b->c.deflate_pages, 1);
				if (*w & bit) {
					*w &= ~bit;
					atomic_fetch_sub(&b->c.balloon_pages, 1);
				}
			}
		}
		/* Discarded before the chain goes back used (see request_end). */
		pfns_flush(b);
		vring_dev_push(vq, c.head, 0);
	}
}

static void handle_stats(struct balloon_dev *b, struct vring_dev *vq)
{
	struct vring_chain c;

	/* The host asked for fresh stats: hand the buffer back; the driver
	 * refills it and queues it again. */
	if (b->stats_held && atomic_exchange(&b->stats_wanted, false)) {
		vring_dev_push(vq, b->stats_head, 0);
		b->stats_held = false;
	}
	while (vring_dev_pop(vq, &c) > 0) {
		/* struct virtio_balloon_stat is packed: le16 tag, le64 val;
		 * unknown tags and a partial last entry are ignored */
		struct virtio_balloon_stat s;
		struct msg m;

		if (b->stats_held)	/* driver queued a second one: return the old */
			vring_dev_push(vq, b->stats_head, 0);
		msg_open(b, &c, 1, BAL_ERR_STATS, &m);
		while (msg_read(&m, &s, sizeof(s))) {
			unsigned tag = le16toh(s.tag);
			if (tag < VIRTIO_BALLOON_S_NR) {
				atomic_store(&b->stats[tag], le64toh(s.val));
				atomic_fetch_or(&b->stats_present, 1ULL << tag);
			}
		}
		atomic_fetch_add(&b->c.stats_updates, 1);
		b->stats_held = true;
		b->stats_head = c.head;
	}
}

/* --- virtio_dev_ops ----------------------------------------------------- */

static uint64_t ops_features(void *dev)
{
	struct balloon_dev *b = dev;
	uint64_t f = 0;

	if (!b->cfg.no_stats)
		f |= 1ULL << VIRTIO_BALLOON_F_STATS_VQ;
	if (!b->cfg.no_reporting)
		f |= 1ULL << VIRTIO_BALLOON_F_REPORTING;
	if (b->xl)
		f |= 1ULL << PH_VIRTIO_BALLOON_F_PH_EXITLESS;
	return f;
}

static unsigned ops_num_queues(void *dev, uint64_t f)
{
	(void)dev;
	return 2 + !!(f & (1ULL << VIRTIO_BALLOON_F_STATS_VQ)) +
	       !!(f & (1ULL << VIRTIO_BALLOON_F_REPORTING)) +
	       !!(f & (1ULL << PH_VIRTIO_BALLOON_F_PH_EXITLESS));
}

static void ops_set_features(void *dev, uint64_t f)
{
	atomic_store(&((struct balloon_dev *)dev)->features, f);
}

static void ops_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	struct balloon_dev *b = dev;
	struct virtio_balloon_config cfg = { 0 };

	cfg.num_pages = htole32(atomic_load(&b->num_pages));
	cfg.actual = htole32(atomic_load(&b->actual));
	if (off < sizeof(cfg) && len <= sizeof(cfg) - off)
		memcpy(buf, (uint8_t *)&cfg + off, len);
}

static void ops_config_write(void *dev, uint32_t off, const void *buf, uint32_t len)
{
	struct balloon_dev *b = dev;
	const uint32_t at = offsetof(struct virtio_balloon_config, actual);
	uint32_t v;

	/* Only `actual` is driver-writable; Linux writes it whole. */
	if (off != at || len != 4)
		return;
	memcpy(&v, buf, 4);
	atomic_store(&b->actual, le32toh(v));
}

static void ops_handle_queue(void *dev, unsigned q, struct vring_dev *vq)
{
	struct balloon_dev *b = dev;

	switch (role_for(b->features, q)) {
	case BQ_INFLATE: handle_pfns(b, vq, true); break;
	case BQ_DEFLATE: handle_pfns(b, vq, false); break;
	case BQ_STATS: handle_stats(b, vq); break;
	case BQ_REPORT:
		if (b->cfg.protocol == BALLOON_PROTO_SEED_V8)
			handle_seed_hints(b, vq);
		else
			handle_report(b, vq);
		break;
	case BQ_MAP:
		if (b->xl)
			xl_handle_queue(b->xl, vq);
		break;
	case BQ_NONE: break;
	}
}

static void ops_reset(void *dev)
{
	struct balloon_dev *b = dev;

	/* First: no scan in flight, nothing claimed, once this returns. */
	if (b->xl)
		xl_detach(b->xl);

	atomic_store(&b->features, 0);
	b->stats_held = false;
	atomic_store(&b->stats_wanted, false);
	atomic_store(&b->actual, 0);
	memset(b->bitmap, 0, ((b->bitmap_pages + 63) / 64 + 1) * sizeof(uint64_t));
	atomic_store(&b->c.balloon_pages, 0);
	b->run_len = 0;
	b->npfns = 0;
	fault_reset(b);
}

/* The driver gave up on the device (FAILED): forget the map now, as a
 * reset would (docs/exitless.md §1). */
static void ops_status(void *dev, uint32_t status)
{
	struct balloon_dev *b = dev;

	if ((status & VIRTIO_CONFIG_S_FAILED) && b->xl)
		xl_detach(b->xl);
}

static void ops_bind(void *dev, const struct virtio_dev_hooks *hooks)
{
	((struct balloon_dev *)dev)->hooks = *hooks;
}

const struct virtio_dev_ops balloon_ops = {
	.device_id = VIRTIO_ID_BALLOON,
	.queue_max = 256,
	.max_queues = BALLOON_MAX_QUEUES,
	.config_size = offsetof(struct virtio_balloon_config, free_page_hint_cmd_id),
	.features = ops_features,
	.num_queues = ops_num_queues,
	.set_features = ops_set_features,
	.config_read = ops_config_read,
	.config_write = ops_config_write,
	.handle_queue = ops_handle_queue,
	.reset = ops_reset,
	.status = ops_status,
	.bind = ops_bind,
};

void balloon_set_target(struct balloon_dev *b, uint32_t pages)
{
	/* Stamped before the driver can see the value; the same value again
	 * is no change (the driver has nothing to do). */
	if (atomic_load(&b->num_pages) != pages)
		atomic_store(&b->target_changed, now_ns(b) + 1);
	atomic_store(&b->num_pages, pages);
	if (b->hooks.config_changed)
		b->hooks.config_changed(b->hooks.opaque);
}

uint32_t balloon_target(const struct balloon_dev *b)
{
	return atomic_load(&b->num_pages);
}

uint64_t balloon_features(const struct balloon_dev *b, bool negotiated)
{
	/* ops_features reads only the configuration, fixed at creation */
	return negotiated ? atomic_load(&b->features) : ops_features((void *)b);
}

void balloon_request_stats(struct balloon_dev *b)
{
	unsigned q = stats_queue(b->features);

	if (q == ~0u || !b->hooks.poke)
		return;
	atomic_store(&b->stats_wanted, true);
	b->hooks.poke(b->hooks.opaque, q);
}

bool balloon_xl_attached(struct balloon_dev *b)
{
	return b->xl && xl_attached(b->xl);
}

bool balloon_xl_poll(struct balloon_dev *b, uint64_t now_ns)
{
	return b->xl && xl_poll(b->xl, now_ns);
}

bool balloon_xl_map(struct balloon_dev *b, uint64_t *map_gpa, uint64_t *first_frame,
		    uint32_t *nr_frames)
{
	return b->xl && xl_map_info(b->xl, map_gpa, first_frame, nr_frames);
}
