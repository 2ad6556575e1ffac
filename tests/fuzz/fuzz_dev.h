/* SPDX-License-Identifier: MIT */
/*
 * The device side under fuzz: vmm/virtio_mmio.c with vmm/balloon.c behind
 * it, over fake guest RAM, as tests/unit/test_vmm_driver.h builds it, plus
 * the checks every device fuzzer makes:
 *
 *  - RAM is three exact-size heap buffers, so ASan reports any access the
 *    device makes outside guest RAM (two regions adjacent in guest-physical
 *    space but not on the host, then a gap, then a third: a merged discard
 *    run must never cross from one to the next), and a fourth of 5 MiB at
 *    4 MiB for the exitless map's 2 MiB frames (2 and 3 wholly in RAM, 4
 *    half, 0 and 1 only in part): mmap'd between PROT_NONE guard pages and
 *    zeroed per input with MADV_DONTNEED, which costs only what was
 *    touched;
 *  - a discard by the exitless scanner (inside fd_xl_poll) must be whole
 *    frames inside one region whose entries the scanner itself moved
 *    FREE -> RECLAIMING: FREE in the snapshot taken before the poll,
 *    RECLAIMING now (nothing else writes guest RAM during a poll);
 *  - the discard callback checks every discarded range: page aligned,
 *    wholly inside one RAM region, made while a queue that discards
 *    (inflate, reporting) is being handled, and covered exactly by ranges
 *    that valid descriptors of the chain being handled named: it starts
 *    where one such range starts, ends where one ends, and every page in
 *    between belongs to one. The chain is re-walked here, from guest RAM,
 *    by our own code (more lenient than the device's: a superset);
 *  - the log is counted: each kind of bad input is logged at most once
 *    per device;
 *  - any bad input the balloon saw leaves DEVICE_NEEDS_RESET set.
 *
 * One device at a time (libFuzzer runs inputs one after another): state is
 * a global, made fresh for each input.
 */
#ifndef FUZZ_DEV_H
#define FUZZ_DEV_H

#include <endian.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "balloon.h"
#include "guest_mem.h"
#include "log.h"
#include "virtio_mmio.h"
#include "vring_dev.h"

#include "fuzz_input.h"

#define FD_PAGE 4096ULL
#define FD_NREG 4
static const uint64_t fd_reg_gpa[FD_NREG] = { 0x0, 0x100000, 0x200000, 0x400000 };
static const uint64_t fd_reg_size[FD_NREG] = { 0x100000, 0x40000, 0x10000, 0x500000 };
#define FD_PAGES ((0x100000 + 0x40000 + 0x10000 + 0x500000) / FD_PAGE)
#define FD_FRAME 0x200000ULL
#define FD_TOP_FRAMES 5		/* frames up to the top of RAM, 9 MiB, rounded up */
#define FD_XL_MAX 8		/* an accepted map has at most FD_TOP_FRAMES entries */
#define FD_MMIO_BASE 0xd0000000ULL

/* Where the harness puts queue q's rings by default (inside region 0). */
#define FD_RING_BASE 0x1000ULL
#define FD_RING_STRIDE 0x2000ULL
#define FD_DATA_BASE 0x20000ULL

struct fdev {
	uint8_t *ram[FD_NREG];
	struct guest_mem gm;
	struct balloon_config cfg;
	struct balloon_dev *b;
	struct virtio_mmio_dev *t;
	struct virtio_dev_ops ops;	/* balloon_ops with handle_queue wrapped */

	/* the queue being handled, NULL outside handle_queue */
	unsigned cur_q;
	struct vring_dev *cur_vq;
	/* fd_named[] etc. hold the walk of this chain (last_avail after its
	 * pop); guest RAM does not change during one handle_queue call */
	bool walked;
	uint16_t walked_avail;

	/* the exitless poll in flight: the map and its entries before it */
	bool in_poll;
	uint64_t xl_gpa, xl_first;
	uint32_t xl_nr;
	uint8_t xl_snap[FD_XL_MAX];

	unsigned long discards, log_lines;
	unsigned long bad_seen;		/* balloon bad_inputs already checked */
	FILE *log;
};

static struct fdev fd;

/* ---- RAM ---------------------------------------------------------------- */

/* Host pointer for guest RAM, or NULL: the harness's own translate, so the
 * checks below don't rely on the code under test. */
static inline uint8_t *fd_ptr(uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < FD_NREG; i++) {
		if (gpa < fd_reg_gpa[i])
			continue;
		uint64_t off = gpa - fd_reg_gpa[i];
		if (off < fd_reg_size[i] && len <= fd_reg_size[i] - off)
			return fd.ram[i] + off;
	}
	return NULL;
}

/* Page index over all regions, or -1 outside RAM. */
static inline long fd_page_idx(uint64_t gpa)
{
	long base = 0;
	for (unsigned i = 0; i < FD_NREG; i++) {
		if (gpa >= fd_reg_gpa[i] && gpa - fd_reg_gpa[i] < fd_reg_size[i])
			return base + (long)((gpa - fd_reg_gpa[i]) / FD_PAGE);
		base += (long)(fd_reg_size[i] / FD_PAGE);
	}
	return -1;
}

/* An address for a descriptor or a ring: mostly inside RAM (often page
 * aligned), sometimes an edge: region ends, the gap, wrap-around. */
static inline uint64_t fd_addr(struct fz *f)
{
	uint8_t sel = fz_u8(f);
	unsigned r = sel % FD_NREG;
	uint64_t off = fz_u32(f) % fd_reg_size[r];

	if (sel < 160)
		return fd_reg_gpa[r] + (off & ~(FD_PAGE - 1));
	if (sel < 200)
		return fd_reg_gpa[r] + off;
	switch (sel % 12) {
	case 0: return fd_reg_gpa[r] + fd_reg_size[r] - FD_PAGE;	/* last page */
	case 1: return fd_reg_gpa[r] + fd_reg_size[r];			/* just past */
	case 2: return fd_reg_gpa[r] - FD_PAGE;				/* just before */
	case 3: return 0x180000;					/* the gap */
	case 4: return UINT64_MAX & ~(FD_PAGE - 1);			/* wraps */
	case 5: return UINT64_MAX;
	case 6: return 1ULL << 63;
	case 7: return FD_MMIO_BASE;
	case 8: return (uint64_t)fz_u32(f) << 12;			/* any pfn */
	case 9: return fd_reg_gpa[r] + fd_reg_size[r] - 1;
	case 10: return 0xfffff000ULL;
	default: return fz_u64(f);
	}
}

/* A length: mostly whole pages no larger than a region, sometimes odd. */
static inline uint32_t fd_len(struct fz *f)
{
	uint8_t sel = fz_u8(f);

	if (sel < 160)
		return (uint32_t)((fz_u8(f) % 64 + 1) * FD_PAGE);
	if (sel < 200)
		return fz_u16(f);
	switch (sel % 6) {
	case 0: return 0;
	case 1: return UINT32_MAX;
	case 2: return UINT32_MAX & ~(uint32_t)(FD_PAGE - 1);
	case 3: return (uint32_t)fd_reg_size[0];
	case 4: return (uint32_t)fd_reg_size[0] + (uint32_t)FD_PAGE;
	default: return fz_u32(f);
	}
}

/* ---- the discard check ---------------------------------------------------- */

/* Pages named by valid descriptors of the chain being handled: covered,
 * starts of a named range, ends (page after the last) of one. */
static uint8_t fd_named[FD_PAGES], fd_start[FD_PAGES + 1], fd_end[FD_PAGES + 1];

static inline long fd_end_idx(uint64_t gpa_end)
{
	/* the page index one past the range's last page */
	long i = fd_page_idx(gpa_end - FD_PAGE);
	return i < 0 ? -1 : i + 1;
}

static inline void fd_name(uint64_t gpa, uint64_t len)
{
	if (len == 0 || ((gpa | len) & (FD_PAGE - 1)) || gpa + len < gpa || !fd_ptr(gpa, len))
		return;
	long s = fd_page_idx(gpa), e = fd_end_idx(gpa + len);
	fd_start[s] = 1;
	fd_end[e] = 1;
	for (long i = s; i < e; i++)
		fd_named[i] = 1;
}

/*
 * The driver-readable bytes of the chain, in order: PFN arrays and seed-v8
 * hints are one message however the descriptors split it. Gathered up to
 * the buffer's size; fd_msg_ok is cleared by a device-writable buffer or
 * one outside RAM, which the device refuses the whole chain for.
 */
static uint8_t fd_msg[1 << 20];
static uint64_t fd_msg_len;
static bool fd_msg_ok;

/* What one descriptor names, by the role of its queue: a reported range
 * itself, or its bytes of the chain's message. */
static inline void fd_take_desc(enum balloon_queue_role role, const struct vring_desc *d)
{
	uint64_t addr = le64toh(d->addr);
	uint32_t len = le32toh(d->len);
	bool write = le16toh(d->flags) & VRING_DESC_F_WRITE;
	const uint8_t *p;

	if (role == BQ_REPORT && fd.cfg.protocol == BALLOON_PROTO_VIRTIO) {
		if (write)
			fd_name(addr, len);
		return;
	}
	if (write || !(p = fd_ptr(addr, len))) {
		fd_msg_ok = false;
		return;
	}
	uint64_t k = len < sizeof(fd_msg) - fd_msg_len ? len : sizeof(fd_msg) - fd_msg_len;
	memcpy(fd_msg + fd_msg_len, p, k);
	fd_msg_len += k;
}

/* What the chain's message names, by the role of its queue. */
static inline void fd_name_msg(enum balloon_queue_role role)
{
	const uint8_t *p = fd_msg;

	if (!fd_msg_ok)
		return;
	if (role == BQ_REPORT && fd.cfg.protocol != BALLOON_PROTO_VIRTIO) {
		/* seed-v8: le64 pfn, le32 order, le32 0 */
		for (uint64_t o = 0; o + 16 <= fd_msg_len; o += 16) {
			uint64_t pfn;
			uint32_t order;
			memcpy(&pfn, p + o, 8);
			memcpy(&order, p + o + 8, 4);
			pfn = le64toh(pfn);
			order = le32toh(order);
			if (order <= 10 && pfn < (1ULL << 52))
				fd_name(pfn << 12, FD_PAGE << order);
		}
	} else if (role == BQ_INFLATE) {
		for (uint64_t o = 0; o + 4 <= fd_msg_len; o += 4) {
			uint32_t pfn;
			memcpy(&pfn, p + o, 4);
			fd_name((uint64_t)le32toh(pfn) << 12, FD_PAGE);
		}
	}
}

/* Walk the chain the device popped last on the current queue (the head at
 * avail ring entry last_avail - 1), from guest RAM. */
static inline void fd_walk_chain(enum balloon_queue_role role)
{
	struct vmmio_queue *q = &fd.t->q[fd.cur_q];
	unsigned num = fd.cur_vq->num;
	const struct vring_avail *a = (const void *)fd_ptr(q->avail, 4 + 2ULL * num);
	const uint8_t *table = fd_ptr(q->desc, 16ULL * num);
	unsigned tsize = num;
	bool indirect = false;

	if (!a || !table)
		return;
	uint16_t slot = (uint16_t)(fd.cur_vq->last_avail - 1) % num;
	uint16_t i = le16toh(a->ring[slot]);
	/* Bounded: a loop only repeats names already taken. */
	for (unsigned steps = 0; i < tsize && steps < 2 * num + 2; steps++) {
		struct vring_desc d;
		memcpy(&d, table + 16ULL * i, sizeof(d));
		uint16_t flags = le16toh(d.flags);
		if ((flags & VRING_DESC_F_INDIRECT) && !indirect) {
			uint32_t len = le32toh(d.len);
			const uint8_t *t = fd_ptr(le64toh(d.addr), len);
			if (!t || len < 16)
				return;
			table = t;
			tsize = len / 16;
			indirect = true;
			i = 0;
			continue;
		}
		fd_take_desc(role, &d);
		if (!(flags & VRING_DESC_F_NEXT))
			return;
		i = le16toh(d.next);
	}
}

/* What the chain being handled names, once per chain. */
static inline void fd_walk_current(enum balloon_queue_role role)
{
	if (fd.walked && fd.walked_avail == fd.cur_vq->last_avail)
		return;
	fd.walked = true;
	fd.walked_avail = fd.cur_vq->last_avail;
	memset(fd_named, 0, sizeof(fd_named));
	memset(fd_start, 0, sizeof(fd_start));
	memset(fd_end, 0, sizeof(fd_end));
	fd_msg_len = 0;
	fd_msg_ok = true;
	fd_walk_chain(role);
	fd_name_msg(role);
}

static inline uint8_t fd_xl_entry(uint32_t i)
{
	uint8_t *p = fd_ptr(fd.xl_gpa + 64 + i, 1);
	return p ? __atomic_load_n(p, __ATOMIC_RELAXED) : 0;
}

/* A discard by the scanner: whole frames in one region, each claimed by
 * the scanner in this poll. */
static inline void fd_xl_discard(uint64_t gpa, uint64_t len)
{
	FZ_ASSERT(len && !(gpa % FD_FRAME) && !(len % FD_FRAME) && gpa + len > gpa,
		  "exitless discard [%#llx, +%#llx) not whole frames", (unsigned long long)gpa,
		  (unsigned long long)len);
	FZ_ASSERT(fd_ptr(gpa, len), "exitless discard [%#llx, +%#llx) not inside one RAM region",
		  (unsigned long long)gpa, (unsigned long long)len);
	for (uint64_t a = gpa; a < gpa + len; a += FD_FRAME) {
		uint64_t f = a / FD_FRAME;
		FZ_ASSERT(f >= fd.xl_first && f - fd.xl_first < fd.xl_nr,
			  "exitless discard of frame %llu outside the map", (unsigned long long)f);
		uint32_t i = (uint32_t)(f - fd.xl_first);
		FZ_ASSERT(fd.xl_snap[i] == 1 && fd_xl_entry(i) == 2,
			  "exitless discard of frame %llu: entry was %u, is %u (not claimed by the "
			  "scanner from FREE)", (unsigned long long)f, fd.xl_snap[i], fd_xl_entry(i));
	}
}

static int fd_discard(void *opaque, uint64_t gpa, uint64_t len)
{
	(void)opaque;
	fd.discards++;
	if (fd.in_poll) {
		fd_xl_discard(gpa, len);
		if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "exitless discard [%#llx, +%#llx)\n", (unsigned long long)gpa,
				(unsigned long long)len);
		return 0;
	}
	FZ_ASSERT(fd.cur_vq, "discard of [%#llx, +%#llx) outside queue handling",
		  (unsigned long long)gpa, (unsigned long long)len);
	enum balloon_queue_role role = balloon_queue_role(fd.b, fd.cur_q);
	FZ_ASSERT(role == BQ_REPORT || role == BQ_INFLATE, "discard from queue %u (role %d)",
		  fd.cur_q, role);
	FZ_ASSERT(len && !((gpa | len) & (FD_PAGE - 1)) && gpa + len > gpa,
		  "discard [%#llx, +%#llx) not whole pages", (unsigned long long)gpa,
		  (unsigned long long)len);
	FZ_ASSERT(fd_ptr(gpa, len), "discard [%#llx, +%#llx) not inside one RAM region",
		  (unsigned long long)gpa, (unsigned long long)len);

	fd_walk_current(role);
	long s = fd_page_idx(gpa), e = fd_end_idx(gpa + len);
	FZ_ASSERT(fd_start[s] && fd_end[e], "discard [%#llx, +%#llx) does not begin and end "
		  "where valid descriptors of the chain do", (unsigned long long)gpa,
		  (unsigned long long)len);
	for (long i = s; i < e; i++)
		FZ_ASSERT(fd_named[i], "discard [%#llx, +%#llx): page %#llx named by no valid "
			  "descriptor of the chain", (unsigned long long)gpa,
			  (unsigned long long)len, (unsigned long long)(gpa + (uint64_t)(i - s) * FD_PAGE));
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "discard queue %u [%#llx, +%#llx)\n", fd.cur_q,
			(unsigned long long)gpa, (unsigned long long)len);
	return 0;
}

static void fd_handle_queue(void *dev, unsigned q, struct vring_dev *vq)
{
	fd.cur_q = q;
	fd.cur_vq = vq;
	fd.walked = false;
	balloon_ops.handle_queue(dev, q, vq);
	fd.cur_vq = NULL;
}

/* ---- the log, counted ------------------------------------------------------ */

static ssize_t fd_log_write(void *c, const char *buf, size_t n)
{
	(void)c;
	for (size_t i = 0; i < n; i++)
		fd.log_lines += buf[i] == '\n';
	if (getenv("FUZZ_VERBOSE"))
		fwrite(buf, 1, n, stderr);
	return (ssize_t)n;
}

/* ---- lifecycle ----------------------------------------------------------- */

static inline void fd_create(enum balloon_protocol proto, bool no_stats, bool no_reporting)
{
	/* RAM and the log stream live as long as the process (mapping 1.3
	 * MiB afresh for every input costs more than the input); everything
	 * else is new for each input. */
	static uint8_t *ram[FD_NREG];
	static FILE *log;
	if (!log) {
		for (unsigned i = 0; i < FD_NREG - 1; i++)
			ram[i] = malloc(fd_reg_size[i]);	/* exact size: ASan's redzone follows */
		/* the frames' region: guard pages on both sides */
		uint64_t big = fd_reg_size[FD_NREG - 1];
		uint8_t *m = mmap(NULL, big + 2 * FD_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		FZ_ASSERT(m != MAP_FAILED, "mmap");
		FZ_ASSERT(!mprotect(m + FD_PAGE, big, PROT_READ | PROT_WRITE), "mprotect");
		ram[FD_NREG - 1] = m + FD_PAGE;
		log = fopencookie(NULL, "w", (cookie_io_functions_t){ .write = fd_log_write });
		setvbuf(log, NULL, _IONBF, 0);
	}
	memset(&fd, 0, sizeof(fd));
	for (unsigned i = 0; i < FD_NREG; i++) {
		fd.ram[i] = ram[i];
		if (i < FD_NREG - 1)
			memset(fd.ram[i], 0, fd_reg_size[i]);
		else
			madvise(fd.ram[i], fd_reg_size[i], MADV_DONTNEED);	/* zero again */
	}
	fd.log = log;
	gm_init_buffer(&fd.gm, fd.ram[0], fd_reg_gpa[0], fd_reg_size[0]);
	for (unsigned i = 1; i < FD_NREG; i++)
		gm_add_region(&fd.gm, fd.ram[i], fd_reg_gpa[i], fd_reg_size[i]);

	vmm_log_set_stream(fd.log);

	/* xl_manual: the exitless scanner runs only in fd_xl_poll(), on this
	 * thread, so an input replays the same way. */
	fd.cfg = (struct balloon_config){
		.protocol = proto, .no_stats = no_stats, .no_reporting = no_reporting,
		.discard = fd_discard, .xl_manual = true, .xl_no_residency_check = true,
	};
	fd.b = balloon_create(&fd.gm, &fd.cfg);
	fd.ops = balloon_ops;
	fd.ops.handle_queue = fd_handle_queue;
	fd.t = virtio_mmio_create(&fd.gm, &fd.ops, fd.b, FD_MMIO_BASE);
}

/* Each kind of bad input logged at most once per device. */
#define FD_LOG_KINDS (VRING_ERR__COUNT + VMMIO_ERR__COUNT + BAL_ERR__COUNT + XL_REF__COUNT + 2)

/* After every action: a bad input the balloon saw left NEEDS_RESET. */
static inline void fd_check(void)
{
	unsigned long bad = atomic_load(&balloon_counters(fd.b)->bad_inputs);
	if (bad != fd.bad_seen) {
		FZ_ASSERT(virtio_mmio_status(fd.t) & VIRTIO_CONFIG_S_NEEDS_RESET,
			  "%lu bad inputs, status %#x", bad - fd.bad_seen, virtio_mmio_status(fd.t));
		fd.bad_seen = bad;
	}
	FZ_ASSERT(fd.log_lines <= FD_LOG_KINDS, "%lu log lines for %d kinds", fd.log_lines,
		  FD_LOG_KINDS);
}

/* One exitless poll at now_ns, checked: an entry the scanner did not
 * claim from FREE is as it was, a claimed one is published (RECLAIMED;
 * FREE again if its discard failed), a frame not wholly in one RAM region
 * is never touched; discards are checked in fd_xl_discard(). */
static inline void fd_xl_poll(uint64_t now_ns)
{
	if (!balloon_xl_map(fd.b, &fd.xl_gpa, &fd.xl_first, &fd.xl_nr)) {
		balloon_xl_poll(fd.b, now_ns);	/* a discard now fails fd_discard's checks */
		return;
	}
	FZ_ASSERT(fd.xl_nr >= 1 && fd.xl_nr <= FD_XL_MAX && fd_ptr(fd.xl_gpa, 64 + fd.xl_nr),
		  "attached map of %u frames at %#llx", fd.xl_nr, (unsigned long long)fd.xl_gpa);
	for (uint32_t i = 0; i < fd.xl_nr; i++)
		fd.xl_snap[i] = fd_xl_entry(i);
	fd.in_poll = true;
	balloon_xl_poll(fd.b, now_ns);
	fd.in_poll = false;
	for (uint32_t i = 0; i < fd.xl_nr; i++) {
		uint8_t before = fd.xl_snap[i], now = fd_xl_entry(i);
		bool whole = fd_ptr((fd.xl_first + i) * FD_FRAME, FD_FRAME) != NULL;
		if (before != 1 || !whole)
			FZ_ASSERT(now == before, "entry %u changed %u -> %u without a claim", i, before, now);
		else
			FZ_ASSERT(now == 1 || now == 3, "entry %u left %u after the poll", i, now);
	}
}

static inline void fd_destroy(void)
{
	fd_check();
	virtio_mmio_destroy(fd.t);
	balloon_destroy(fd.b);
}

/* ---- driver-side helpers --------------------------------------------------- */

static inline uint32_t fd_rd(uint64_t off) { return virtio_mmio_read(fd.t, off, 4); }
static inline void fd_wr(uint64_t off, uint32_t v) { virtio_mmio_write(fd.t, off, 4, v); }

static inline uint32_t fd_negotiate(uint64_t features)
{
	fd_wr(VIRTIO_MMIO_STATUS, 0);
	fd_wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	fd_wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	fd_wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	fd_wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	fd_wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	fd_wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	      VIRTIO_CONFIG_S_FEATURES_OK);
	return fd_rd(VIRTIO_MMIO_STATUS);
}

static inline void fd_queue_layout(unsigned qi, uint64_t desc, uint64_t avail, uint64_t used,
				   uint32_t num)
{
	fd_wr(VIRTIO_MMIO_QUEUE_SEL, qi);
	fd_wr(VIRTIO_MMIO_QUEUE_NUM, num);
	fd_wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	fd_wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	fd_wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	fd_wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	fd_wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	fd_wr(VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	fd_wr(VIRTIO_MMIO_QUEUE_READY, 1);
}

/* Queue qi at the harness's default place, num entries. */
static inline void fd_queue_default(unsigned qi, uint32_t num)
{
	uint64_t base = FD_RING_BASE + qi * FD_RING_STRIDE;
	uint64_t avail = base + 16ULL * num;
	uint64_t used = (avail + 6 + 2ULL * num + 3) & ~3ULL;
	memset(fd_ptr(base, FD_RING_STRIDE), 0, FD_RING_STRIDE);
	fd_queue_layout(qi, base, avail, used, num);
}

#endif
