/* SPDX-License-Identifier: MIT */
/*
 * The balloon device's exitless mode (vmm/balloon_exitless.c) behind the
 * virtio-mmio transport, with a fake guest: 16 MiB of RAM at gpa 0 (8
 * frames), the map set up and marked by core/exitless.c's guest side.
 * Feature bit and queue numbering; the map descriptor accepted and each
 * refusal of docs/exitless.md §1/§5; the scanner reclaiming FREE frames
 * and only those (never frames outside one RAM region); reset and FAILED
 * stopping it with nothing left RECLAIMING; the faulty-device modes; a
 * hostile guest flipping entries and changing RECLAIMING ones (violations
 * counted, discards bounded, none outside the map).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "test_vmm_driver.h"
#include "exitless.h"
#include "virtio_defs.h"

#define MiB (1ull << 20)
#define FRAME (2 * MiB)
#define NFRAMES (T_MEM_SIZE / FRAME)
#define MAPQ 4			/* after inflate, deflate, stats, reporting */
#define DESC_GPA 0x100000ull
#define STATUS_GPA 0x100040ull
#define MAP_GPA 0x101000ull
#define F_XL T_F(PH_VIRTIO_BALLOON_F_PH_EXITLESS)

/* ---- the fake guest and a thread-safe discard recorder -------------------- */

struct xt {
	struct t_dev d;
	struct ph_xl_map gmap;		/* the guest's view of the map */
	uint8_t *hi;			/* a second RAM region, when a test adds one */
	pthread_mutex_t lock;
	unsigned n;
	struct { uint64_t gpa, len; } rec[256];
	uint64_t frames;		/* discarded, total */
	int fail;			/* next discards return -EIO */
	unsigned slow_ms;		/* each discard sleeps this long */
	atomic_int in_discard, discard_done;
	/* a hostile guest inside the discard: what it writes into the
	 * entries being discarded (0: nothing) */
	int overwrite;
	uint64_t lo_ok, hi_ok;		/* every discard must lie in [lo_ok, hi_ok) */
	bool outside;			/* one did not */
};

static int xt_discard(void *opaque, uint64_t gpa, uint64_t len)
{
	struct xt *x = opaque;

	atomic_store(&x->in_discard, 1);
	if (x->slow_ms)
		usleep(x->slow_ms * 1000);
	pthread_mutex_lock(&x->lock);
	if (gpa % FRAME || len % FRAME || !len || gpa < x->lo_ok || gpa + len > x->hi_ok)
		x->outside = true;
	if (x->n < 256) {
		x->rec[x->n].gpa = gpa;
		x->rec[x->n].len = len;
	}
	x->n++;
	int r = x->fail ? -EIO : 0;
	if (!r)
		x->frames += len / FRAME;
	if (x->overwrite)
		for (uint64_t a = gpa; a < gpa + len; a += FRAME)
			x->gmap.entry[a / FRAME - x->gmap.first_frame] = (uint8_t)(x->overwrite & 0xff);
	pthread_mutex_unlock(&x->lock);
	atomic_store(&x->discard_done, 1);
	return r;
}

static struct xt *xt_new(const struct balloon_config *cfg_in)
{
	struct xt *x = calloc(1, sizeof(*x));
	struct balloon_config cfg = cfg_in ? *cfg_in : (struct balloon_config){ .xl_manual = true };

	t_quiet_logs();
	pthread_mutex_init(&x->lock, NULL);
	x->hi_ok = T_MEM_SIZE;
	/* page-aligned and faulted in, as a running guest's RAM: the scanner
	 * discards only frames resident on the host */
	x->d.mem = mmap(NULL, T_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(x->d.mem != MAP_FAILED);
	memset(x->d.mem, 0, T_MEM_SIZE);
	gm_init_buffer(&x->d.gm, x->d.mem, 0, T_MEM_SIZE);
	cfg.discard = xt_discard;
	cfg.discard_opaque = x;
	x->d.b = balloon_create(&x->d.gm, &cfg);
	x->d.t = virtio_mmio_create(&x->d.gm, &balloon_ops, x->d.b, 0xd0000000);
	virtio_mmio_set_irq(x->d.t, t_irq, &x->d);
	return x;
}

static void xt_free(struct xt *x)
{
	virtio_mmio_destroy(x->d.t);
	balloon_destroy(x->d.b);
	munmap(x->d.mem, T_MEM_SIZE);
	free(x->hi);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

/* Negotiate features (plus VERSION_1), set up every queue they make. */
static void xt_bringup(struct xt *x, uint64_t features)
{
	struct t_dev *d = &x->d;
	features |= T_F(VIRTIO_F_VERSION_1);
	t_negotiate(d, features);
	unsigned nq = 2 + !!(features & T_F(VIRTIO_BALLOON_F_STATS_VQ)) +
		      !!(features & T_F(VIRTIO_BALLOON_F_REPORTING)) + !!(features & F_XL);
	for (unsigned i = 0; i < nq; i++)
		t_setup_queue(d, i, 16);
	t_driver_ok(d);
}

/* The guest's map over its RAM up to top (all USED). */
static void xt_guest_map(struct xt *x, uint64_t top)
{
	size_t len = ph_xl_mem_bytes(0, top / 4096);
	assert_int_equal(ph_xl_init(&x->gmap, t_ptr(&x->d, MAP_GPA), len, 0, top / 4096), 0);
}

static struct ph_exitless_map_desc xt_desc(uint64_t first_frame, uint32_t nr)
{
	return (struct ph_exitless_map_desc){
		.magic = htole32(PH_XL_MAP_MAGIC), .version = htole32(PH_XL_MAP_VERSION),
		.map_gpa = htole64(MAP_GPA), .first_frame = htole64(first_frame),
		.nr_frames = htole32(nr), .entry_bytes = htole32(1),
	};
}

/* Post a chain on the map queue, kick; the status byte (0xee if the
 * device wrote none) and the used length. */
static uint8_t xt_post_chain(struct xt *x, const uint64_t *addr, const uint32_t *len,
			     const bool *write, unsigned n, uint32_t *used_len)
{
	struct t_dev *d = &x->d;
	struct t_queue *q = &d->q[MAPQ];
	uint16_t first = q->next_desc % q->num, before = t_used_idx(d, MAPQ);

	*(uint8_t *)t_ptr(d, STATUS_GPA) = 0xee;
	for (unsigned i = 0; i < n; i++)
		t_put_desc(d, MAPQ, addr[i], len[i],
			   (write[i] ? VRING_DESC_F_WRITE : 0) | (i + 1 < n ? VRING_DESC_F_NEXT : 0),
			   (uint16_t)((first + i + 1) % q->num));
	t_publish(d, MAPQ, first);
	t_kick(d, MAPQ);
	assert_int_equal(t_used_idx(d, MAPQ), (uint16_t)(before + 1));
	*used_len = t_used_elem(d, MAPQ, before).len;
	return *(uint8_t *)t_ptr(d, STATUS_GPA);
}

static uint8_t xt_post(struct xt *x, const struct ph_exitless_map_desc *desc)
{
	uint64_t a[] = { DESC_GPA, STATUS_GPA };
	uint32_t l[] = { sizeof(*desc), 1 }, used;
	bool w[] = { false, true };

	memcpy(t_ptr(&x->d, DESC_GPA), desc, sizeof(*desc));
	uint8_t st = xt_post_chain(x, a, l, w, 2, &used);
	assert_int_equal(used, 1);
	return st;
}

/* The usual start: all features, map over all 16 MiB, attached. */
static struct xt *xt_attached(const struct balloon_config *cfg)
{
	struct xt *x = xt_new(cfg);
	xt_bringup(x, T_FEAT_DEFAULT | F_XL);
	xt_guest_map(x, T_MEM_SIZE);
	struct ph_exitless_map_desc d = xt_desc(0, NFRAMES);
	assert_int_equal(xt_post(x, &d), PH_XL_MAP_OK);
	assert_true(balloon_xl_attached(x->d.b));
	return x;
}

static uint8_t entry(struct xt *x, unsigned f)
{
	return atomic_load(&x->gmap.entry[f]);
}

static void mark_free(struct xt *x, unsigned f)
{
	assert_int_equal(ph_xl_guest_mark_free(&x->gmap, (uint64_t)f << 9, 9), 1);
}

static const struct xl_counters *xc(struct xt *x)
{
	return &balloon_counters(x->d.b)->xl;
}

/* Wait (for the scanner thread) until cond holds; fails after 20 s. */
#define WAIT_FOR(cond) do {                                              \
	for (int _i = 0; !(cond); _i++) {                                \
		if (_i > 20000)                                          \
			fail_msg("timed out waiting for %s", #cond);     \
		usleep(1000);                                            \
	}                                                                \
} while (0)

static void reset_device(struct xt *x)
{
	t_wr(&x->d, VIRTIO_MMIO_STATUS, 0);
}

/* ---- feature and numbering --------------------------------------------------- */

static void offered_by_default_not_with_no_exitless(void **state)
{
	(void)state;
	struct xt *x = xt_new(NULL);
	assert_true(t_device_features(&x->d) & F_XL);
	xt_free(x);
	struct balloon_config cfg = { .no_exitless = true };
	x = xt_new(&cfg);
	assert_false(t_device_features(&x->d) & F_XL);
	/* a driver that asks anyway is refused */
	t_negotiate(&x->d, T_F(VIRTIO_F_VERSION_1) | F_XL);
	assert_false(t_rd(&x->d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
	xt_free(x);
}

/* docs/exitless.md §1: 2 + stats + free-page-hint + bit 5. */
static void map_queue_after_every_other_queue(void **state)
{
	(void)state;
	static const struct { uint64_t f; unsigned q; } cases[] = {
		{ T_F(VIRTIO_BALLOON_F_STATS_VQ) | T_F(VIRTIO_BALLOON_F_REPORTING), 4 },
		{ T_F(VIRTIO_BALLOON_F_STATS_VQ), 3 },
		{ T_F(VIRTIO_BALLOON_F_REPORTING), 3 },
		{ 0, 2 },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct balloon_config cfg = { .xl_manual = true,
					      .protocol = i & 1 ? BALLOON_PROTO_SEED_V8 : BALLOON_PROTO_VIRTIO };
		struct xt *x = xt_new(&cfg);
		xt_bringup(x, cases[i].f | F_XL);
		for (unsigned q = 0; q < cases[i].q; q++)
			assert_int_not_equal(balloon_queue_role(x->d.b, q), BQ_MAP);
		assert_int_equal(balloon_queue_role(x->d.b, cases[i].q), BQ_MAP);
		assert_int_equal(balloon_queue_role(x->d.b, cases[i].q + 1), BQ_NONE);
		t_wr(&x->d, VIRTIO_MMIO_QUEUE_SEL, cases[i].q + 1);
		assert_int_equal(t_rd(&x->d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
		/* without bit 23 there is no map queue */
		xt_bringup(x, cases[i].f);
		assert_int_equal(balloon_queue_role(x->d.b, cases[i].q), BQ_NONE);
		xt_free(x);
	}
}

/* ---- the descriptor ------------------------------------------------------- */

static void valid_map_is_attached(void **state)
{
	(void)state;
	struct xt *x = xt_attached(NULL);
	assert_int_equal(xc(x)->attaches, 1);
	assert_int_equal(xc(x)->refused, 0);
	assert_false(t_needs_reset(&x->d));
	xt_free(x);
}

/* One refusal: the status, the counter, no reset needed, nothing attached,
 * logged once; and a valid map is still accepted after it. */
static void expect_refused(struct ph_exitless_map_desc d, uint8_t status, enum xl_refusal why)
{
	struct xt *x = xt_new(NULL);
	FILE *log = tmpfile();
	xt_bringup(x, T_FEAT_DEFAULT | F_XL);
	xt_guest_map(x, T_MEM_SIZE);
	vmm_log_set_stream(log);
	assert_int_equal(xt_post(x, &d), status);
	assert_int_equal(xt_post(x, &d), status);
	assert_int_equal(xc(x)->refused_by[why], 2);
	assert_int_equal(xc(x)->refused, 2);
	assert_false(balloon_xl_attached(x->d.b));
	assert_false(t_needs_reset(&x->d));
	fflush(log);
	assert_int_equal(ftell(log) > 0, 1);
	rewind(log);
	int lines = 0, ch;
	while ((ch = fgetc(log)) != EOF)
		lines += ch == '\n';
	assert_int_equal(lines, 1);
	t_quiet_logs();
	fclose(log);
	struct ph_exitless_map_desc ok = xt_desc(0, NFRAMES);
	assert_int_equal(xt_post(x, &ok), PH_XL_MAP_OK);
	xt_free(x);
}

static void bad_format_refused(void **state)
{
	(void)state;
	struct ph_exitless_map_desc d = xt_desc(0, NFRAMES);
	d.magic = htole32(0x70686d32);
	expect_refused(d, PH_XL_MAP_BAD_FORMAT, XL_REF_MAGIC);
	d = xt_desc(0, NFRAMES);
	d.version = htole32(2);
	expect_refused(d, PH_XL_MAP_BAD_FORMAT, XL_REF_VERSION);
	d = xt_desc(0, NFRAMES);
	d.entry_bytes = htole32(2);
	expect_refused(d, PH_XL_MAP_BAD_FORMAT, XL_REF_ENTRY_BYTES);
}

static void bad_range_refused(void **state)
{
	(void)state;
	struct ph_exitless_map_desc d = xt_desc(0, 0);
	expect_refused(d, PH_XL_MAP_BAD_RANGE, XL_REF_NR_FRAMES);
	d = xt_desc(0, NFRAMES);
	d.map_gpa = htole64(MAP_GPA + 8);
	expect_refused(d, PH_XL_MAP_BAD_RANGE, XL_REF_ALIGN);
	d = xt_desc(0, NFRAMES);		/* the map's entries past RAM */
	d.map_gpa = htole64(T_MEM_SIZE - 64);
	expect_refused(d, PH_XL_MAP_BAD_RANGE, XL_REF_MAP_RAM);
	d = xt_desc(0, NFRAMES);
	d.map_gpa = htole64(0xd0000000ull);	/* the device's own window */
	expect_refused(d, PH_XL_MAP_BAD_RANGE, XL_REF_MAP_RAM);
	d = xt_desc(0, NFRAMES);
	d.map_gpa = htole64(~63ull);		/* + size overflows */
	expect_refused(d, PH_XL_MAP_BAD_RANGE, XL_REF_MAP_RAM);
	d = xt_desc(0, NFRAMES + 1);		/* one frame past the top */
	expect_refused(d, PH_XL_MAP_BAD_RANGE, XL_REF_FRAMES);
	d = xt_desc(1, NFRAMES);
	expect_refused(d, PH_XL_MAP_BAD_RANGE, XL_REF_FRAMES);
	d = xt_desc(~0ull, 2);			/* first + nr overflows */
	expect_refused(d, PH_XL_MAP_BAD_RANGE, XL_REF_FRAMES);
	d = xt_desc(0, 0xffffffffu);
	expect_refused(d, PH_XL_MAP_BAD_RANGE, XL_REF_MAP_RAM);
}

/* Chains of the wrong shape: BAD_FORMAT where there is a writable byte
 * to say it, used length 0 where there is none. */
static void bad_chains_refused(void **state)
{
	(void)state;
	struct xt *x = xt_new(NULL);
	struct ph_exitless_map_desc d = xt_desc(0, NFRAMES);
	uint32_t used;

	xt_bringup(x, T_FEAT_DEFAULT | F_XL);
	xt_guest_map(x, T_MEM_SIZE);
	memcpy(t_ptr(&x->d, DESC_GPA), &d, sizeof(d));
	struct {
		unsigned n;
		uint64_t a[3];
		uint32_t l[3];
		bool w[3];
		uint8_t status;		/* 0xee: none written */
		uint32_t used;
	} cases[] = {
		{ 1, { DESC_GPA }, { 32 }, { false }, 0xee, 0 },		/* no status byte */
		{ 1, { STATUS_GPA }, { 1 }, { true }, PH_XL_MAP_BAD_FORMAT, 1 },	/* no descriptor */
		{ 2, { DESC_GPA, STATUS_GPA }, { 31, 1 }, { false, true }, PH_XL_MAP_BAD_FORMAT, 1 },
		{ 2, { DESC_GPA, STATUS_GPA }, { 33, 1 }, { false, true }, PH_XL_MAP_BAD_FORMAT, 1 },
		{ 2, { DESC_GPA, STATUS_GPA }, { 32, 4 }, { false, true }, PH_XL_MAP_BAD_FORMAT, 1 },
		{ 2, { DESC_GPA, DESC_GPA + 16 }, { 16, 16 }, { false, false }, 0xee, 0 },
		{ 3, { DESC_GPA, DESC_GPA + 16, STATUS_GPA }, { 16, 16, 1 }, { false, false, true },
		  PH_XL_MAP_BAD_FORMAT, 1 },
		{ 2, { 0xd0000000ull, STATUS_GPA }, { 32, 1 }, { false, true }, PH_XL_MAP_BAD_FORMAT, 1 },
		{ 2, { DESC_GPA, 0xd0000000ull }, { 32, 1 }, { false, true }, 0xee, 0 },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t st = xt_post_chain(x, cases[i].a, cases[i].l, cases[i].w, cases[i].n, &used);
		assert_int_equal(st, cases[i].status);
		assert_int_equal(used, cases[i].used);
		assert_false(balloon_xl_attached(x->d.b));
	}
	assert_int_equal(xc(x)->refused_by[XL_REF_DESC_RAM], 1);
	assert_int_equal(xc(x)->refused_by[XL_REF_SHAPE], 8);
	assert_false(t_needs_reset(&x->d));
	assert_int_equal(xt_post(x, &d), PH_XL_MAP_OK);
	xt_free(x);
}

static void second_map_is_busy_until_reset(void **state)
{
	(void)state;
	struct xt *x = xt_attached(NULL);
	struct ph_exitless_map_desc d = xt_desc(0, NFRAMES);
	assert_int_equal(xt_post(x, &d), PH_XL_MAP_BUSY);
	assert_int_equal(xc(x)->refused_by[XL_REF_BUSY], 1);
	assert_true(balloon_xl_attached(x->d.b));
	reset_device(x);
	assert_false(balloon_xl_attached(x->d.b));
	assert_int_equal(xc(x)->detaches, 1);
	xt_bringup(x, T_FEAT_DEFAULT | F_XL);
	assert_int_equal(xt_post(x, &d), PH_XL_MAP_OK);
	assert_int_equal(xc(x)->attaches, 2);
	xt_free(x);
}

/* ---- the scanner ---------------------------------------------------------------- */

/* Frames 1 2 FREE (adjacent: one discard), 4 USED, 5 garbage, 6
 * RECLAIMED, 7 FREE: 1 2 7 are discarded and published, nothing else is
 * touched. */
static void scan_reclaims_free_frames_only(void **state)
{
	(void)state;
	struct xt *x = xt_attached(NULL);
	mark_free(x, 1);
	mark_free(x, 2);
	mark_free(x, 7);
	atomic_store(&x->gmap.entry[5], 7);
	atomic_store(&x->gmap.entry[6], PH_XL_RECLAIMED);
	/* canary contents in a USED frame */
	memset(t_ptr(&x->d, 4 * FRAME), 0x5a, FRAME);

	assert_true(balloon_xl_poll(x->d.b, 1000));
	assert_int_equal(x->n, 2);
	assert_int_equal(x->rec[0].gpa, 1 * FRAME);
	assert_int_equal(x->rec[0].len, 2 * FRAME);
	assert_int_equal(x->rec[1].gpa, 7 * FRAME);
	assert_int_equal(x->rec[1].len, FRAME);
	assert_int_equal(entry(x, 1), PH_XL_RECLAIMED);
	assert_int_equal(entry(x, 2), PH_XL_RECLAIMED);
	assert_int_equal(entry(x, 7), PH_XL_RECLAIMED);
	assert_int_equal(entry(x, 0), PH_XL_USED);
	assert_int_equal(entry(x, 3), PH_XL_USED);
	assert_int_equal(entry(x, 4), PH_XL_USED);
	assert_int_equal(entry(x, 5), 7);
	assert_int_equal(entry(x, 6), PH_XL_RECLAIMED);
	assert_int_equal(((uint8_t *)t_ptr(&x->d, 4 * FRAME))[FRAME - 1], 0x5a);
	assert_int_equal(xc(x)->reclaimed_frames, 3);
	assert_int_equal(xc(x)->discard_calls, 2);
	assert_int_equal(balloon_counters(x->d.b)->discarded_bytes, 3 * FRAME);
	assert_int_equal(xc(x)->scans, 1);
	/* nothing new: the next poll claims nothing */
	balloon_xl_poll(x->d.b, 2000);
	assert_int_equal(x->n, 2);
	/* the guest takes frame 7 back and frees it again */
	assert_int_equal(ph_xl_guest_take(&x->gmap, 7 << 9, 9, 0), 0);
	mark_free(x, 7);
	balloon_xl_poll(x->d.b, 3000);
	assert_int_equal(x->n, 3);
	assert_int_equal(x->rec[2].gpa, 7 * FRAME);
	assert_false(x->outside);
	xt_free(x);
}

/* Frames never faulted in on the host (or already given back) are
 * published RECLAIMED with no discard call, and counted as skipped; a
 * frame with one resident page is discarded; resident runs are still
 * coalesced around the skipped ones. */
static void frames_not_resident_are_skipped(void **state)
{
	(void)state;
	struct xt *x = xt_attached(NULL);
	/* frames 2, 3 and 5 leave the host; frame 4 keeps one page */
	assert_int_equal(madvise(t_ptr(&x->d, 2 * FRAME), 4 * FRAME, MADV_DONTNEED), 0);
	((volatile uint8_t *)t_ptr(&x->d, 4 * FRAME))[4096 * 100] = 1;
	for (unsigned f = 1; f < 8; f++)
		mark_free(x, f);

	balloon_xl_poll(x->d.b, 1000);
	/* discarded: 1, 4, 6..7; skipped: 2, 3, 5 */
	assert_int_equal(x->n, 3);
	assert_int_equal(x->rec[0].gpa, 1 * FRAME);
	assert_int_equal(x->rec[0].len, FRAME);
	assert_int_equal(x->rec[1].gpa, 4 * FRAME);
	assert_int_equal(x->rec[1].len, FRAME);
	assert_int_equal(x->rec[2].gpa, 6 * FRAME);
	assert_int_equal(x->rec[2].len, 2 * FRAME);
	for (unsigned f = 1; f < 8; f++)
		assert_int_equal(entry(x, f), PH_XL_RECLAIMED);
	assert_int_equal(xc(x)->skipped_frames, 3);
	assert_int_equal(xc(x)->reclaimed_frames, 4);
	assert_int_equal(xc(x)->discard_calls, 3);
	/* the guest takes a skipped frame back, touches and frees it: now
	 * resident, it is discarded */
	assert_int_equal(ph_xl_guest_take(&x->gmap, 3 << 9, 9, 0), 0);
	memset(t_ptr(&x->d, 3 * FRAME), 0x77, 4096);
	mark_free(x, 3);
	balloon_xl_poll(x->d.b, 2000);
	assert_int_equal(x->n, 4);
	assert_int_equal(x->rec[3].gpa, 3 * FRAME);
	assert_int_equal(xc(x)->skipped_frames, 3);
	assert_false(x->outside);
	xt_free(x);

	/* without the check (the fuzzer's never-touched RAM) every claimed
	 * frame is discarded */
	struct balloon_config cfg = { .xl_manual = true, .xl_no_residency_check = true };
	x = xt_attached(&cfg);
	assert_int_equal(madvise(t_ptr(&x->d, 2 * FRAME), 2 * FRAME, MADV_DONTNEED), 0);
	for (unsigned f = 1; f < 4; f++)
		mark_free(x, f);
	balloon_xl_poll(x->d.b, 1000);
	assert_int_equal(x->n, 1);
	assert_int_equal(x->rec[0].len, 3 * FRAME);
	assert_int_equal(xc(x)->skipped_frames, 0);
	xt_free(x);
}

/* RAM: [0, 16M) and [32M, 35M); the map spans frames 0..17, holes
 * included. Frames 8..15 (the hole) and 17 (half RAM) are never claimed,
 * whatever their entries say; 16 is. */
static void frames_outside_one_region_never_claimed(void **state)
{
	(void)state;
	struct xt *x = xt_new(NULL);
	x->hi = calloc(1, 3 * MiB);
	memset(x->hi, 1, 3 * MiB);	/* resident (not 2 MiB aligned on the host either) */
	assert_true(gm_add_region(&x->d.gm, x->hi, 32 * MiB, 3 * MiB));
	x->hi_ok = 35 * MiB;
	xt_bringup(x, T_FEAT_DEFAULT | F_XL);
	xt_guest_map(x, 35 * MiB);
	assert_int_equal(x->gmap.nr_frames, 18);
	struct ph_exitless_map_desc d = xt_desc(0, 18);
	assert_int_equal(xt_post(x, &d), PH_XL_MAP_OK);
	for (unsigned f = 7; f < 18; f++)
		atomic_store(&x->gmap.entry[f], PH_XL_FREE);
	atomic_fetch_add(&x->gmap.hdr->free_gen, 1);
	balloon_xl_poll(x->d.b, 1000);
	assert_int_equal(x->n, 2);
	assert_int_equal(x->rec[0].gpa, 7 * FRAME);
	assert_int_equal(x->rec[0].len, FRAME);
	assert_int_equal(x->rec[1].gpa, 16 * FRAME);
	assert_int_equal(x->rec[1].len, FRAME);
	for (unsigned f = 8; f < 16; f++)
		assert_int_equal(entry(x, f), PH_XL_FREE);
	assert_int_equal(entry(x, 17), PH_XL_FREE);
	assert_int_equal(entry(x, 16), PH_XL_RECLAIMED);
	/* and a map reaching past 35M (frame 18) is refused */
	reset_device(x);
	xt_bringup(x, T_FEAT_DEFAULT | F_XL);
	d = xt_desc(0, 19);
	assert_int_equal(xt_post(x, &d), PH_XL_MAP_BAD_RANGE);
	assert_false(x->outside);
	xt_free(x);
}

static void failed_discard_puts_frames_back(void **state)
{
	(void)state;
	struct xt *x = xt_attached(NULL);
	mark_free(x, 3);
	x->fail = 1;
	balloon_xl_poll(x->d.b, 1000);
	assert_int_equal(entry(x, 3), PH_XL_FREE);
	assert_int_equal(xc(x)->discard_errors, 1);
	assert_int_equal(xc(x)->reclaimed_frames, 0);
	/* free_gen did not move: the periodic sweep tries again */
	x->fail = 0;
	balloon_xl_poll(x->d.b, 2000);
	assert_int_equal(entry(x, 3), PH_XL_FREE);
	balloon_xl_poll(x->d.b, 1000 + XL_SWEEP_MS * 1000000ull);
	assert_int_equal(entry(x, 3), PH_XL_RECLAIMED);
	assert_int_equal(xc(x)->reclaimed_frames, 1);
	xt_free(x);
}

/* The thread: frames marked FREE come back without any poll from us. */
static void scanner_thread_reclaims(void **state)
{
	(void)state;
	struct balloon_config cfg = { 0 };
	struct xt *x = xt_attached(&cfg);
	for (unsigned f = 1; f < NFRAMES; f++)
		mark_free(x, f);
	WAIT_FOR(atomic_load(&xc(x)->reclaimed_frames) == NFRAMES - 1);
	for (unsigned f = 1; f < NFRAMES; f++)
		assert_int_equal(entry(x, f), PH_XL_RECLAIMED);
	assert_int_equal(entry(x, 0), PH_XL_USED);
	assert_false(x->outside);
	xt_free(x);	/* joins the thread */
}

/* After a reset returns: detached, and frames marked FREE are never
 * claimed, however long we wait. */
static void reset_stops_the_scanner(void **state)
{
	(void)state;
	struct balloon_config cfg = { 0 };
	struct xt *x = xt_attached(&cfg);
	mark_free(x, 2);
	WAIT_FOR(entry(x, 2) == PH_XL_RECLAIMED);
	reset_device(x);
	assert_false(balloon_xl_attached(x->d.b));
	unsigned n = x->n;
	mark_free(x, 3);
	usleep(30 * 1000);	/* many poll periods */
	assert_int_equal(entry(x, 3), PH_XL_FREE);
	assert_int_equal(x->n, n);
	xt_free(x);
}

/* A discard in flight when the driver resets: the reset waits for it and
 * its frames are published before the reset returns (docs/exitless.md
 * §1): nothing RECLAIMING afterwards. */
static void reset_waits_for_the_discard_in_flight(void **state)
{
	(void)state;
	struct balloon_config cfg = { 0 };
	struct xt *x = xt_attached(&cfg);
	x->slow_ms = 100;
	mark_free(x, 5);
	WAIT_FOR(atomic_load(&x->in_discard));
	assert_int_equal(entry(x, 5), PH_XL_RECLAIMING);
	reset_device(x);
	assert_true(atomic_load(&x->discard_done));
	assert_int_equal(entry(x, 5), PH_XL_RECLAIMED);
	assert_false(balloon_xl_attached(x->d.b));
	xt_free(x);
}

static void failed_status_forgets_the_map(void **state)
{
	(void)state;
	struct xt *x = xt_attached(NULL);
	t_wr(&x->d, VIRTIO_MMIO_STATUS, t_rd(&x->d, VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_FAILED);
	assert_false(balloon_xl_attached(x->d.b));
	mark_free(x, 2);
	balloon_xl_poll(x->d.b, 1000);
	assert_int_equal(entry(x, 2), PH_XL_FREE);
	assert_int_equal(x->n, 0);
	xt_free(x);
}

/* ---- faulty-device mode ------------------------------------------------------------- */

/* delay-acks: the run waits, its frames RECLAIMING (the guest's bounded
 * wait sees that); a reset cuts the delay short and publishes them
 * without a discard. */
static void delayed_run_cancelled_by_reset(void **state)
{
	(void)state;
	struct balloon_config cfg = { 0 };
	fault_config_init(&cfg.fault);
	cfg.fault.modes = FAULT_DELAY;
	cfg.fault.rate = 1;
	cfg.fault.delay_max_ms = FAULT_MAX_DELAY_MS;
	struct xt *x = xt_attached(&cfg);
	mark_free(x, 6);
	WAIT_FOR(atomic_load(&xc(x)->faults_delayed) == 1);
	assert_int_equal(entry(x, 6), PH_XL_RECLAIMING);
	reset_device(x);	/* would take up to a minute if it waited */
	assert_int_equal(entry(x, 6), PH_XL_RECLAIMED);
	assert_int_equal(x->n, 0);
	assert_int_equal(xc(x)->canceled, 1);
	assert_int_equal(xc(x)->canceled_bytes, FRAME);
	assert_int_equal(xc(x)->reclaimed_frames, 0);
	xt_free(x);
}

/* reset: half the run discarded, every frame published, NEEDS_RESET, no
 * scan until the driver resets; then it works again. */
static void reset_fault_fails_the_device(void **state)
{
	(void)state;
	struct balloon_config cfg = { .xl_manual = true };
	fault_config_init(&cfg.fault);
	cfg.fault.modes = FAULT_RESET;
	cfg.fault.rate = 1;
	struct xt *x = xt_attached(&cfg);
	mark_free(x, 1);
	mark_free(x, 2);
	balloon_xl_poll(x->d.b, 1000);
	assert_true(t_needs_reset(&x->d));
	assert_int_equal(x->n, 1);
	assert_int_equal(x->rec[0].gpa, FRAME);
	assert_int_equal(x->rec[0].len, FRAME);	/* half of 4 MiB */
	assert_int_equal(entry(x, 1), PH_XL_RECLAIMED);
	assert_int_equal(entry(x, 2), PH_XL_RECLAIMED);
	assert_int_equal(xc(x)->faults_reset, 1);
	mark_free(x, 4);
	balloon_xl_poll(x->d.b, 2000);
	assert_int_equal(entry(x, 4), PH_XL_FREE);
	assert_int_equal(x->n, 1);
	reset_device(x);
	assert_false(t_needs_reset(&x->d));
	assert_false(balloon_xl_attached(x->d.b));
	xt_free(x);
}

/* drop-acks: the device loses the run: never discarded nor published,
 * its frames RECLAIMING for good (a reset does not change them: only the
 * guest's bounded wait does); the pass goes on after it. */
static void dropped_run_stays_reclaiming(void **state)
{
	(void)state;
	struct balloon_config cfg = { .xl_manual = true };
	fault_config_init(&cfg.fault);
	cfg.fault.modes = FAULT_DROP;
	cfg.fault.rate = 1;
	struct xt *x = xt_attached(&cfg);
	mark_free(x, 1);
	mark_free(x, 2);
	mark_free(x, 5);
	balloon_xl_poll(x->d.b, 1000);
	assert_int_equal(x->n, 0);
	assert_int_equal(entry(x, 1), PH_XL_RECLAIMING);
	assert_int_equal(entry(x, 2), PH_XL_RECLAIMING);
	assert_int_equal(entry(x, 5), PH_XL_RECLAIMING);
	assert_int_equal(xc(x)->faults_dropped, 2);
	assert_int_equal(xc(x)->canceled_bytes, 3 * FRAME);
	assert_false(t_needs_reset(&x->d));
	assert_int_equal(xc(x)->reclaimed_frames, 0);
	reset_device(x);
	assert_int_equal(entry(x, 1), PH_XL_RECLAIMING);
	assert_int_equal(entry(x, 5), PH_XL_RECLAIMING);
	xt_free(x);
}

/* ---- a hostile guest -------------------------------------------------------------- */

/* The guest rewrites entries the host is discarding: the final CAS
 * fails, the violation is counted, the entries stay as it wrote them. */
static void reclaiming_changed_by_the_guest(void **state)
{
	(void)state;
	static const int writes[] = { PH_XL_USED, PH_XL_FREE, 0x55 };
	for (unsigned i = 0; i < 3; i++) {
		struct xt *x = xt_attached(NULL);
		mark_free(x, 3);
		mark_free(x, 4);
		x->overwrite = writes[i] ? writes[i] : 0x100;	/* 0x100: writes USED */
		balloon_xl_poll(x->d.b, 1000);
		assert_int_equal(xc(x)->violations, 2);
		assert_int_equal(entry(x, 3), writes[i]);
		assert_int_equal(entry(x, 4), writes[i]);
		assert_int_equal(xc(x)->reclaimed_frames, 2);	/* discarded all the same */
		x->overwrite = 0;
		/* FREE entries it wrote are claimable again; others are not */
		balloon_xl_poll(x->d.b, 1000 + XL_SWEEP_MS * 1000000ull);
		assert_int_equal(x->n, writes[i] == PH_XL_FREE ? 2 : 1);
		assert_false(x->outside);
		xt_free(x);
	}
}

/* A guest that marks every frame FREE again before each poll, for one
 * second of polls: discards stay within the bucket (burst + rate x 1 s),
 * not one pass per poll. */
static void flipping_guest_costs_bounded_discards(void **state)
{
	(void)state;
	struct balloon_config cfg = { .xl_manual = true, .xl_rate_frames_per_s = 1000,
				      .xl_burst_frames = 16 };
	struct xt *x = xt_attached(&cfg);
	uint64_t now = 1000000;

	for (unsigned poll = 0; poll < 4000; poll++, now += 250000) {	/* every 0.25 ms */
		for (unsigned f = 0; f < NFRAMES; f++)
			atomic_store(&x->gmap.entry[f], PH_XL_FREE);
		atomic_fetch_add(&x->gmap.hdr->free_gen, 1);
		balloon_xl_poll(x->d.b, now);
	}
	/* 4000 polls x 8 frames = 32000 without a bound */
	assert_in_range(x->frames, 1000, 16 + 1000 + 8);
	assert_true(xc(x)->throttled > 0);
	/* a pass at a time: bumps during one queue the next */
	assert_in_range(xc(x)->scans, 2, 4000 / 8 + 1);
	assert_false(x->outside);
	xt_free(x);
}

/* A guest thread writing random states into every entry while the
 * scanner thread runs: no discard outside the map's RAM frames, no
 * crash; destroy joins the thread cleanly. */
static void *flipper(void *arg)
{
	struct xt *x = arg;
	uint64_t r = 88172645463325252ull;
	for (unsigned i = 0; i < 200000; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		atomic_store(&x->gmap.entry[r % NFRAMES], (uint8_t)((r >> 8) % 6));
		if (!(i & 63))
			atomic_fetch_add(&x->gmap.hdr->free_gen, 1);
	}
	return NULL;
}

static void random_entries_beside_the_scanner(void **state)
{
	(void)state;
	struct balloon_config cfg = { 0 };
	struct xt *x = xt_attached(&cfg);
	pthread_t t;
	pthread_create(&t, NULL, flipper, x);
	pthread_join(t, NULL);
	assert_false(x->outside);
	xt_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(offered_by_default_not_with_no_exitless),
		cmocka_unit_test(map_queue_after_every_other_queue),
		cmocka_unit_test(valid_map_is_attached),
		cmocka_unit_test(bad_format_refused),
		cmocka_unit_test(bad_range_refused),
		cmocka_unit_test(bad_chains_refused),
		cmocka_unit_test(second_map_is_busy_until_reset),
		cmocka_unit_test(scan_reclaims_free_frames_only),
		cmocka_unit_test(frames_not_resident_are_skipped),
		cmocka_unit_test(frames_outside_one_region_never_claimed),
		cmocka_unit_test(failed_discard_puts_frames_back),
		cmocka_unit_test(scanner_thread_reclaims),
		cmocka_unit_test(reset_stops_the_scanner),
		cmocka_unit_test(reset_waits_for_the_discard_in_flight),
		cmocka_unit_test(failed_status_forgets_the_map),
		cmocka_unit_test(delayed_run_cancelled_by_reset),
		cmocka_unit_test(reset_fault_fails_the_device),
		cmocka_unit_test(dropped_run_stays_reclaiming),
		cmocka_unit_test(reclaiming_changed_by_the_guest),
		cmocka_unit_test(flipping_guest_costs_bounded_discards),
		cmocka_unit_test(random_entries_beside_the_scanner),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
