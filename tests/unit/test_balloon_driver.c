/* SPDX-License-Identifier: MIT */
/* core/balloon_driver: negotiation and queue numbering, report() chains
 * (virtio and seed-v8), waiting, inflate/deflate following num_pages, the
 * stats queue, the config-change path, and failures (DEVICE_NEEDS_RESET,
 * timeout, hostile used ring) with restart; against the fake device in
 * test_virtio_mmio_drv_fakedev.h. */
#include "test_virtio_mmio_drv_fakedev.h"

#include <sched.h>
#include <time.h>
#include <stdlib.h>

#include "balloon_driver.h"

#define ARENA_SIZE (1u << 20)
#define POOL_BASE (4u << 20) /* balloon pages come from [4 MiB, 8 MiB) */
#define POOL_PAGES 1024u
#define PG 4096u

static struct balloon_drv b;
static struct balloon_drv_config cfg;
static struct balloon_drv_ops ops;
static uint32_t pfns[POOL_PAGES];

/* the guest's page allocator, as far as the balloon sees it */
static uint8_t page_taken[POOL_PAGES];
static unsigned pages_out, alloc_limit;
static void (*on_alloc)(unsigned pages_out);
/* the guest's wait() */
static unsigned waits, halts;
static void (*on_wait)(unsigned n);
static unsigned stats_calls;

static bool t_page_alloc(void *ctx, uint64_t *pa)
{
	assert_ptr_equal(ctx, &b);
	/* never with the driver's lock held: a free may run hooks that report */
	assert_int_equal(atomic_load(&b.lock.locked), 0);
	if (on_alloc)
		on_alloc(pages_out);
	if (pages_out >= alloc_limit)
		return false;
	for (unsigned i = 0; i < POOL_PAGES; i++) {
		if (!page_taken[i]) {
			page_taken[i] = 1;
			pages_out++;
			*pa = fd.ram_base + POOL_BASE + (uint64_t)i * PG;
			return true;
		}
	}
	return false;
}

static void t_page_free(void *ctx, uint64_t pa)
{
	assert_ptr_equal(ctx, &b);
	assert_int_equal(atomic_load(&b.lock.locked), 0);
	uint64_t i = (pa - fd.ram_base - POOL_BASE) / PG;
	assert_true(i < POOL_PAGES);
	assert_true(page_taken[i]); /* never freed twice */
	page_taken[i] = 0;
	pages_out--;
}

static unsigned t_get_stats(void *ctx, struct ph_virtio_balloon_stat *st, unsigned max)
{
	(void)ctx;
	assert_true(max >= 2);
	stats_calls++;
	st[0] = (struct ph_virtio_balloon_stat){ PH_VIRTIO_BALLOON_S_MEMFREE, 1000 + stats_calls };
	st[1] = (struct ph_virtio_balloon_stat){ PH_VIRTIO_BALLOON_S_MEMTOT, 4096 };
	return 2;
}

static void t_wait(void *ctx, bool may_halt)
{
	(void)ctx;
	waits++;
	if (may_halt)
		halts++;
	if (on_wait)
		on_wait(waits);
	assert_true(waits < 1000000); /* a report that never returns fails */
}

static int setup(void **state)
{
	(void)state;
	fake_init();
	memset(page_taken, 0, sizeof(page_taken));
	pages_out = 0;
	alloc_limit = POOL_PAGES;
	waits = halts = stats_calls = 0;
	on_wait = NULL;
	on_alloc = NULL;
	ops = (struct balloon_drv_ops){
		.ctx = &b, .page_alloc = t_page_alloc, .page_free = t_page_free,
		.get_stats = t_get_stats, .wait = t_wait,
	};
	cfg = (struct balloon_drv_config){
		.queue_size = 128, .pfns = pfns, .max_pages = POOL_PAGES,
		.mem = fake_ram, .mem_len = ARENA_SIZE,
		.halt_after_ns = 1000000000ull, /* tests that want halts set it */
	};
	atomic_store(&ph_test_warnings, 0);
	ph_test_quiet_warnings = 1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ph_test_quiet_warnings = 0;
	return 0;
}

static int start(void)
{
	return balloon_drv_init(&b, &fake_regs, NULL, &ops, &cfg);
}

static void poll_until_idle(void)
{
	uint64_t start = ph_now_ns();
	while (balloon_drv_poll(&b))
		assert_true(ph_now_ns() - start < 5000000000ull); /* restarts back off */
}

static const uint64_t F_BASE = 1ull << PH_VIRTIO_F_VERSION_1 | 1ull << PH_VIRTIO_RING_F_EVENT_IDX |
			       1ull << PH_VIRTIO_BALLOON_F_MUST_TELL_HOST;

/* ---- negotiation and numbering ---- */

static void init_negotiates_everything_offered(void **state)
{
	(void)state;
	assert_true(balloon_drv_mem_bytes(&cfg) <= ARENA_SIZE);
	assert_int_equal(start(), 0);
	/* DEFLATE_ON_OOM is offered but not taken: no OOM path yet */
	assert_int_equal(fd.drv_features, F_BASE | 1ull << PH_VIRTIO_BALLOON_F_STATS_VQ |
					  1ull << PH_VIRTIO_BALLOON_F_REPORTING);
	assert_true(fd.status & PH_VIRTIO_CONFIG_S_DRIVER_OK);
	assert_false(fd.status & PH_VIRTIO_CONFIG_S_FAILED);
	assert_int_equal(balloon_drv_queue_index(&b, BDRV_Q_INFLATE), 0);
	assert_int_equal(balloon_drv_queue_index(&b, BDRV_Q_DEFLATE), 1);
	assert_int_equal(balloon_drv_queue_index(&b, BDRV_Q_STATS), 2);
	assert_int_equal(balloon_drv_queue_index(&b, BDRV_Q_REPORT), 3);
	for (unsigned q = 0; q < 4; q++) {
		assert_int_equal(fd.q[q].ready, 1);
		assert_int_equal(fd.q[q].num, 128);
	}
	assert_int_equal(fd.q[4].ready, 0);
	assert_true(balloon_drv_has_reporting(&b));
	assert_int_equal(balloon_drv_sink(&b)->capacity, 128);
	/* the stats queue was primed and kicked once */
	assert_int_equal(fd.stats_updates, 1);
	assert_int_equal(fd.q[2].notifies, 1);
	assert_int_equal(fd.nstats, 2);
	assert_int_equal(fd.stats[0].tag, PH_VIRTIO_BALLOON_S_MEMFREE);
	assert_int_equal(fd.stats[0].val, 1001);
}

static void no_stats_offered_moves_reporting_to_2(void **state)
{
	(void)state;
	fd.offered &= ~(1ull << PH_VIRTIO_BALLOON_F_STATS_VQ);
	assert_int_equal(start(), 0);
	assert_int_equal(balloon_drv_queue_index(&b, BDRV_Q_STATS), -1);
	assert_int_equal(balloon_drv_queue_index(&b, BDRV_Q_REPORT), 2);
	struct ph_range r = { 0x200000, PG };
	assert_int_equal(balloon_drv_report(&b, &r, 1), 0);
	assert_int_equal(fd.nreports, 1); /* the device found it on its queue 2 */
	assert_int_equal(fd.q[2].notifies, 1);
}

/* QEMU 7.2 creates stats at 2 whenever it offers it; we negotiate it, so
 * both agree that reporting is 3. */
static void qemu_numbering_agrees(void **state)
{
	(void)state;
	fd.qemu_numbering = true;
	assert_int_equal(start(), 0);
	assert_int_equal(balloon_drv_queue_index(&b, BDRV_Q_REPORT), 3);
	struct ph_range r = { 0x200000, PG };
	assert_int_equal(balloon_drv_report(&b, &r, 1), 0);
	assert_int_equal(fd.nreports, 1);
}

static void no_reporting_offered_still_balloons(void **state)
{
	(void)state;
	fd.offered &= ~(1ull << PH_VIRTIO_BALLOON_F_REPORTING);
	assert_int_equal(start(), 0);
	assert_false(balloon_drv_has_reporting(&b));
	assert_int_equal(balloon_drv_sink(&b)->capacity, 0);
	struct ph_range r = { 0x200000, PG };
	assert_int_equal(balloon_drv_report(&b, &r, 1), -PH_EOPNOTSUPP);
	struct ph_report_sink *s = balloon_drv_sink(&b);
	assert_int_equal(s->report(s, &r, 1), -PH_EOPNOTSUPP);
	assert_int_equal(fd.nreports, 0);
	fake_set_target(10);
	balloon_drv_interrupt(&b);
	poll_until_idle();
	assert_int_equal(fd.nballoon, 10);
}

static void reporting_can_be_declined(void **state)
{
	(void)state;
	cfg.no_reporting = true;
	assert_int_equal(start(), 0);
	assert_false(fd.drv_features & 1ull << PH_VIRTIO_BALLOON_F_REPORTING);
	assert_int_equal(balloon_drv_queue_index(&b, BDRV_Q_REPORT), -1);
	struct ph_range r = { 0x200000, PG };
	assert_int_equal(balloon_drv_report(&b, &r, 1), -PH_EOPNOTSUPP);
}

static void features_ok_refused_fails_init(void **state)
{
	(void)state;
	fd.refuse_features_ok = true;
	assert_int_equal(start(), -PH_EIO);
	assert_true(fd.status & PH_VIRTIO_CONFIG_S_FAILED);
	struct ph_range r = { 0x200000, PG };
	assert_int_equal(balloon_drv_report(&b, &r, 1), -PH_EOPNOTSUPP);
}

static void init_rejects_other_devices_and_small_arena(void **state)
{
	(void)state;
	fd.device_id = 2; /* virtio-blk */
	assert_int_equal(start(), -PH_ENODEV);
	fake_init();
	cfg.mem_len = balloon_drv_mem_bytes(&cfg) - 1;
	assert_int_equal(start(), -PH_ENOMEM);
	cfg.mem_len = ARENA_SIZE;
	cfg.queue_size = 100;
	assert_int_equal(start(), -PH_EINVAL);
	/* a smaller QueueNumMax wins */
	cfg.queue_size = 128;
	fd.queue_max = 32;
	assert_int_equal(start(), 0);
	assert_int_equal(fd.q[3].num, 32);
	assert_int_equal(balloon_drv_sink(&b)->capacity, 32);
}

/* ---- the exitless map (docs/exitless.md §1) ---- */

#define XL_MEM_OFF (2u << 20) /* the map lives in fake RAM at 2 MiB */
#define XL_FIRST_PFN 256u     /* a 64 MiB guest from 1 MiB: 32 frames */
#define XL_NPAGES (16384u - 256u)

static struct ph_xl_map xlm;
static unsigned xl_attached_calls;

static void t_xl_attached(void *ctx)
{
	assert_ptr_equal(ctx, &b);
	assert_int_equal(atomic_load(&b.lock.locked), 0);
	xl_attached_calls++;
}

static void xl_request(void)
{
	size_t len = ph_xl_mem_bytes(XL_FIRST_PFN, XL_NPAGES);
	assert_int_equal(ph_xl_init(&xlm, fake_ram + XL_MEM_OFF, len, XL_FIRST_PFN, XL_NPAGES), 0);
	cfg.xl_map = &xlm;
	ops.xl_attached = t_xl_attached;
	xl_attached_calls = 0;
	fd.offered |= 1ull << PH_VIRTIO_BALLOON_F_PH_EXITLESS;
}

/* Offered and requested: bit 23, the map queue after reporting, one
 * descriptor naming the map, accepted. */
static void xl_map_posted_and_accepted(void **state)
{
	(void)state;
	xl_request();
	fd.ram_base = 1u << 30;
	assert_int_equal(start(), 0);
	assert_true(fd.drv_features & 1ull << PH_VIRTIO_BALLOON_F_PH_EXITLESS);
	assert_int_equal(balloon_drv_queue_index(&b, BDRV_Q_REPORT), 3);
	assert_int_equal(balloon_drv_queue_index(&b, BDRV_Q_XL), 4);
	assert_int_equal(fd.q[4].ready, 1);
	assert_int_equal(fd.q[4].notifies, 1);
	assert_int_equal(fd.xl_posts, 1);
	assert_int_equal(fd.xl_desc.magic, PH_XL_MAP_MAGIC);
	assert_int_equal(fd.xl_desc.version, PH_XL_MAP_VERSION);
	assert_int_equal(fd.xl_desc.map_gpa, fd.ram_base + XL_MEM_OFF);
	assert_int_equal(fd.xl_desc.first_frame, 0);
	assert_int_equal(fd.xl_desc.nr_frames, 32);
	assert_int_equal(fd.xl_desc.entry_bytes, 1);
	assert_int_equal(balloon_drv_xl_wait(&b, 1000000000ull), BDRV_XL_ATTACHED);
	assert_int_equal(b.st.xl_accepted, 1);
	poll_until_idle();
	assert_int_equal(xl_attached_calls, 0); /* the waiter had the answer */
	/* reporting still works beside it */
	struct ph_range r = { fd.ram_base + 0x200000, PG };
	assert_int_equal(balloon_drv_report(&b, &r, 1), 0);
}

/* The map queue is numbered after what was negotiated. */
static void xl_queue_numbering(void **state)
{
	(void)state;
	xl_request();
	fd.offered &= ~(1ull << PH_VIRTIO_BALLOON_F_STATS_VQ);
	assert_int_equal(start(), 0);
	assert_int_equal(balloon_drv_queue_index(&b, BDRV_Q_XL), 3);
	assert_int_equal(balloon_drv_xl_wait(&b, 1000000000ull), BDRV_XL_ATTACHED);

	fake_init();
	xl_request();
	fd.offered &= ~(1ull << PH_VIRTIO_BALLOON_F_STATS_VQ | 1ull << PH_VIRTIO_BALLOON_F_REPORTING);
	assert_int_equal(start(), 0);
	assert_int_equal(balloon_drv_queue_index(&b, BDRV_Q_XL), 2);
	assert_int_equal(balloon_drv_xl_wait(&b, 1000000000ull), BDRV_XL_ATTACHED);
	assert_int_equal(fd.xl_posts, 1);
}

/* Not offered (QEMU), or not requested: no bit 23, no queue, OFF. */
static void xl_not_offered_or_not_requested(void **state)
{
	(void)state;
	xl_request();
	fd.offered &= ~(1ull << PH_VIRTIO_BALLOON_F_PH_EXITLESS);
	assert_int_equal(start(), 0);
	assert_false(fd.drv_features & 1ull << PH_VIRTIO_BALLOON_F_PH_EXITLESS);
	assert_int_equal(balloon_drv_queue_index(&b, BDRV_Q_XL), -1);
	assert_int_equal(balloon_drv_xl_wait(&b, 1000000000ull), BDRV_XL_OFF);

	fake_init();
	fd.offered |= 1ull << PH_VIRTIO_BALLOON_F_PH_EXITLESS;
	cfg.xl_map = NULL;
	assert_int_equal(start(), 0);
	assert_false(fd.drv_features & 1ull << PH_VIRTIO_BALLOON_F_PH_EXITLESS);
	assert_int_equal(balloon_drv_queue_index(&b, BDRV_Q_XL), -1);
	assert_int_equal(fd.xl_posts, 0);
}

/* A refusal (a status, or no status byte at all) leaves the map unused. */
static void xl_refused(void **state)
{
	(void)state;
	xl_request();
	fd.xl_answer = PH_XL_MAP_BUSY;
	assert_int_equal(start(), 0);
	assert_int_equal(balloon_drv_xl_wait(&b, 1000000000ull), BDRV_XL_REFUSED);
	assert_int_equal(b.xl_status, PH_XL_MAP_BUSY);
	assert_int_equal(b.st.xl_refused, 1);

	fake_init();
	xl_request();
	fd.xl_no_status = true;
	assert_int_equal(start(), 0);
	assert_int_equal(balloon_drv_xl_wait(&b, 1000000000ull), BDRV_XL_REFUSED);
	assert_int_equal(b.xl_status, 0xff);
	poll_until_idle();
	assert_int_equal(xl_attached_calls, 0);
}

/* No answer yet: the wait gives up (PENDING); the answer found by poll()
 * later calls xl_attached. */
static void xl_late_answer_reaches_poll(void **state)
{
	(void)state;
	xl_request();
	fd.xl_hold = true;
	assert_int_equal(start(), 0);
	assert_int_equal(balloon_drv_xl_wait(&b, 1000000ull), BDRV_XL_PENDING);
	poll_until_idle();
	assert_int_equal(xl_attached_calls, 0);
	fake_xl_release();
	poll_until_idle();
	assert_int_equal(balloon_drv_xl_state(&b), BDRV_XL_ATTACHED);
	assert_int_equal(xl_attached_calls, 1);
}

/* A reset takes the map back: FREE and RECLAIMED entries become USED,
 * RECLAIMING stays (counted); the restarted device gets the map again and
 * the guest is told to publish. */
static void xl_reset_takes_the_map_back(void **state)
{
	(void)state;
	xl_request();
	assert_int_equal(start(), 0);
	assert_int_equal(balloon_drv_xl_wait(&b, 1000000000ull), BDRV_XL_ATTACHED);
	atomic_store(&xlm.entry[1], PH_XL_FREE);
	atomic_store(&xlm.entry[2], PH_XL_RECLAIMED);
	atomic_store(&xlm.entry[3], PH_XL_RECLAIMING);
	unsigned resets = fd.resets;
	fake_needs_reset();
	balloon_drv_interrupt(&b);
	assert_true(fd.resets > resets);
	assert_int_equal(b.st.xl_resets, 1);
	assert_int_equal(b.st.xl_left_reclaiming, 1);
	assert_int_equal(ph_xl_state_of(&xlm, 1 * 512), PH_XL_USED);
	assert_int_equal(ph_xl_state_of(&xlm, 2 * 512), PH_XL_USED);
	assert_int_equal(ph_xl_state_of(&xlm, 3 * 512), PH_XL_RECLAIMING);
	assert_int_equal(balloon_drv_xl_state(&b), BDRV_XL_OFF);
	poll_until_idle();
	assert_int_equal(b.st.restarts, 1);
	assert_int_equal(fd.xl_posts, 2);
	assert_int_equal(balloon_drv_xl_state(&b), BDRV_XL_ATTACHED);
	assert_int_equal(xl_attached_calls, 1);
}

/* ---- reporting ---- */

/* n ranges -> one chain of n device-writable descriptors, one kick. */
static void report_builds_exact_chain(void **state)
{
	(void)state;
	assert_int_equal(start(), 0);
	struct ph_range r[3] = {
		{ 0x400000, 2u << 20 }, { 0x10000, PG }, { 0x7ff000, PG },
	};
	assert_int_equal(balloon_drv_report(&b, r, 3), 0);
	assert_int_equal(fd.nreports, 1);
	struct fake_chain *c = &fd.reports[0];
	assert_int_equal(c->n, 3);
	for (unsigned k = 0; k < 3; k++) {
		assert_int_equal(c->d[k].addr, r[k].addr);
		assert_int_equal(c->d[k].len, r[k].len);
		assert_int_equal(c->d[k].flags, PH_VRING_DESC_F_WRITE | (k < 2 ? PH_VRING_DESC_F_NEXT : 0));
	}
	assert_int_equal(fd.q[3].notifies, 1);
	assert_int_equal(b.st.reports, 1);
	assert_int_equal(b.st.report_ranges, 3);
	/* the queue is idle again: every descriptor free */
	assert_int_equal(virtq_num_free(&b.vq[BDRV_Q_REPORT]), 128);
	/* a second report reuses the ring and kicks once more */
	assert_int_equal(balloon_drv_report(&b, r, 1), 0);
	assert_int_equal(fd.q[3].notifies, 2);
}

static void report_rejects_bad_requests(void **state)
{
	(void)state;
	cfg.report_cap = 4;
	assert_int_equal(start(), 0);
	struct ph_report_sink *s = balloon_drv_sink(&b);
	assert_int_equal(s->capacity, 4);
	struct ph_range r[5];
	for (unsigned i = 0; i < 5; i++)
		r[i] = (struct ph_range){ 0x200000 + i * 0x10000ull, PG };
	assert_int_equal(s->report(s, r, 5), -1); /* over capacity */
	assert_int_equal(s->report(s, r, 0), 0);
	struct ph_range bad[] = {
		{ 0x200800, PG },           /* unaligned address */
		{ 0x200000, 100 },          /* unaligned length */
		{ 0x200000, 0 },            /* empty */
		{ 0x0, 1ull << 32 },        /* too long for one descriptor */
		{ ~0xfffull, 2 * PG },      /* wraps */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(s->report(s, &bad[i], 1), -PH_EINVAL);
	assert_int_equal(fd.nreports, 0);
	assert_int_equal(fd.q[3].notifies, 0);
	assert_int_equal(s->report(s, r, 4), 0);
	assert_int_equal(fd.reports[0].n, 4);
}

/* The seed's format: one device-readable buffer of {pfn, order, 0}. */
static void seed_v8_encoding(void **state)
{
	(void)state;
	cfg.protocol = BDRV_PROTO_SEED_V8;
	assert_int_equal(start(), 0);
	assert_int_equal(balloon_drv_sink(&b)->capacity, 1000);
	struct ph_range r[3] = {
		{ 0x400000, 2u << 20 }, /* pfn 0x400, order 9 */
		{ 0x1000, PG },         /* pfn 1, order 0 */
		{ 0x8000, 8 * PG },     /* pfn 8, order 3 */
	};
	assert_int_equal(balloon_drv_report(&b, r, 3), 0);
	assert_int_equal(fd.nreports, 1);
	struct fake_chain *c = &fd.reports[0];
	assert_int_equal(c->n, 1);
	assert_int_equal(c->d[0].flags, 0); /* device-readable, alone */
	assert_int_equal(c->d[0].len, 3 * sizeof(struct ph_seed_v8_entry));
	struct ph_seed_v8_entry *e = fake_gpa(c->d[0].addr, c->d[0].len);
	assert_int_equal(e[0].pfn, 0x400);
	assert_int_equal(e[0].order, 9);
	assert_int_equal(e[1].pfn, 1);
	assert_int_equal(e[1].order, 0);
	assert_int_equal(e[2].pfn, 8);
	assert_int_equal(e[2].order, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(e[i].reserved, 0);
	/* not buddy blocks */
	struct ph_range bad[] = {
		{ 0x10000, 3 * PG },      /* not a power of two */
		{ 0x1000, 2 * PG },       /* order 1 at an odd pfn */
		{ 0x0, 2048 * PG },       /* order 11 > 10 */
	};
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(balloon_drv_report(&b, &bad[i], 1), -PH_EINVAL);
	struct ph_range max = { 0x400000, 1024 * PG }; /* order 10 is fine */
	assert_int_equal(balloon_drv_report(&b, &max, 1), 0);
}

static void seed_v8_capacity_configurable(void **state)
{
	(void)state;
	cfg.protocol = BDRV_PROTO_SEED_V8;
	cfg.report_cap = 4000; /* beyond the queue size: one descriptor anyway */
	assert_int_equal(start(), 0);
	assert_int_equal(balloon_drv_sink(&b)->capacity, 4000);
	static struct ph_range r[4000];
	for (unsigned i = 0; i < 4000; i++)
		r[i] = (struct ph_range){ (uint64_t)i * PG, PG };
	assert_int_equal(balloon_drv_report(&b, r, 4000), 0);
	assert_int_equal(fd.reports[0].d[0].len, 4000 * 16);
}

static void run_device_on_third_wait(unsigned n)
{
	if (n == 3)
		fake_run();
}

/* The device answers later: report() polls through wait() until it does,
 * without halting while the wait is short. */
static void report_waits_for_the_device(void **state)
{
	(void)state;
	fd.deferred = true;
	assert_int_equal(start(), 0);
	on_wait = run_device_on_third_wait;
	struct ph_range r = { 0x200000, PG };
	assert_int_equal(balloon_drv_report(&b, &r, 1), 0);
	assert_int_equal(waits, 3);
	assert_int_equal(halts, 0);
	assert_int_equal(fd.nreports, 1);
	assert_int_equal(fd.irqs, 0); /* polling: interrupt suppressed */
}

/* A long wait arms the queue's interrupt and lets the guest halt; the
 * device's used entry then raises it. Afterwards interrupts are off again. */
static void long_wait_arms_interrupt(void **state)
{
	(void)state;
	fd.deferred = true;
	cfg.halt_after_ns = 1;
	assert_int_equal(start(), 0);
	on_wait = run_device_on_third_wait;
	struct ph_range r = { 0x200000, PG };
	assert_int_equal(balloon_drv_report(&b, &r, 1), 0);
	assert_true(halts >= 1);
	assert_int_equal(fd.irqs, 1);
	assert_int_equal(balloon_drv_interrupt(&b), PH_VIRTIO_MMIO_INT_VRING);
	assert_int_equal(fd.isr, 0);
	/* next report is answered at once: no interrupt requested */
	fd.deferred = false;
	assert_int_equal(balloon_drv_report(&b, &r, 1), 0);
	assert_int_equal(fd.irqs, 1);
}

/* ---- exits: register accesses per report (the goal: <= 2 per GiB) ---- */

/* A full request the device answers at once, as QEMU does on the vCPU
 * that writes QueueNotify, against a device that interrupts for a queue's
 * first used entry under EVENT_IDX as QEMU 7.2 does: with the guest's
 * configuration (no EVENT_IDX) it costs exactly one register access, the
 * notify: no interrupt (so no InterruptStatus read, no InterruptACK), no
 * Status read. The first request and every later one. */
static void quick_report_costs_one_notify(void **state)
{
	(void)state;
	fd.qemu_first_irq = true;
	cfg.no_event_idx = true;
	assert_int_equal(start(), 0);
	assert_false(fd.drv_features & 1ull << PH_VIRTIO_RING_F_EVENT_IDX);
	struct ph_range r[128];
	unsigned cap = balloon_drv_sink(&b)->capacity;
	assert_int_equal(cap, 128);
	for (unsigned i = 0; i < cap; i++)
		r[i] = (struct ph_range){ 0x200000 + (uint64_t)i * 2 * PG, PG };
	unsigned qi = (unsigned)balloon_drv_queue_index(&b, BDRV_Q_REPORT);
	for (unsigned round = 0; round < 3; round++) {
		unsigned acc = fd.accesses, notifies = fd.q[qi].notifies;
		unsigned st = fd.status_reads, irqs = fd.irqs;
		assert_int_equal(balloon_drv_report(&b, r, cap), 0);
		assert_int_equal(fd.q[qi].notifies - notifies, 1);
		assert_int_equal(fd.accesses - acc, 1);
		assert_int_equal(fd.status_reads - st, 0);
		assert_int_equal(fd.irqs - irqs, 0);
	}
	assert_int_equal(fd.isr, 0);
}

/* Why the guest declines EVENT_IDX: the same device then interrupts for
 * the first request, which costs InterruptStatus and InterruptACK. */
static void event_idx_costs_qemu_one_interrupt(void **state)
{
	(void)state;
	fd.qemu_first_irq = true;
	assert_int_equal(start(), 0);
	assert_true(fd.drv_features & 1ull << PH_VIRTIO_RING_F_EVENT_IDX);
	struct ph_range r = { 0x200000, PG };
	assert_int_equal(balloon_drv_report(&b, &r, 1), 0);
	assert_int_equal(fd.irqs, 1);
	unsigned acc = fd.accesses;
	assert_int_equal(balloon_drv_interrupt(&b), PH_VIRTIO_MMIO_INT_VRING);
	assert_int_equal(fd.accesses - acc, 2);
	assert_int_equal(balloon_drv_report(&b, &r, 1), 0);
	assert_int_equal(fd.irqs, 1); /* only the first */
}

static uint64_t answer_at_ns;

static void run_device_after_5ms(unsigned n)
{
	(void)n;
	struct timespec ts = { 0, 1000000 };
	nanosleep(&ts, NULL);
	if (ph_now_ns() >= answer_at_ns)
		fake_run();
}

/* A device that takes a few milliseconds (the host discarding a GiB):
 * report() polls the used ring, not Status, which is only a safety net
 * (NEEDS_RESET comes with a config interrupt): still one access. */
static void slow_report_reads_no_status(void **state)
{
	(void)state;
	fd.deferred = true;
	cfg.no_event_idx = true;
	assert_int_equal(start(), 0);
	on_wait = run_device_after_5ms;
	struct ph_range r = { 0x200000, PG };
	unsigned acc = fd.accesses, st = fd.status_reads;
	answer_at_ns = ph_now_ns() + 5000000;
	assert_int_equal(balloon_drv_report(&b, &r, 1), 0);
	assert_true(waits >= 1); /* polled meanwhile */
	assert_int_equal(fd.status_reads - st, 0);
	assert_int_equal(fd.irqs, 0);
	assert_int_equal(fd.accesses - acc, 1);
}

/* ---- the balloon ---- */

static unsigned taken_pages(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < POOL_PAGES; i++)
		n += page_taken[i];
	return n;
}

/* The device holds exactly the pages the guest gave the balloon. */
static void check_balloon_matches(unsigned n)
{
	assert_int_equal(fd.nballoon, n);
	assert_int_equal(balloon_drv_actual(&b), n);
	assert_int_equal(fd.cfg.actual, n);
	assert_int_equal(taken_pages(), n);
	for (unsigned i = 0; i < fd.nballoon; i++) {
		uint64_t idx = ((uint64_t)fd.balloon[i] * PG - POOL_BASE) / PG;
		assert_true(idx < POOL_PAGES);
		assert_true(page_taken[idx]);
	}
}

static void inflate_deflate_follow_num_pages(void **state)
{
	(void)state;
	assert_int_equal(start(), 0);
	fake_set_target(300);
	assert_int_equal(balloon_drv_interrupt(&b), PH_VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(fd.isr, 0);
	poll_until_idle();
	check_balloon_matches(300);
	assert_int_equal(fd.inflate_reqs, 2); /* 256 + 44 */
	assert_int_equal(balloon_drv_target(&b), 300);

	fake_set_target(100);
	balloon_drv_interrupt(&b);
	poll_until_idle();
	check_balloon_matches(100);
	assert_int_equal(fd.deflate_reqs, 1);

	fake_set_target(0);
	balloon_drv_interrupt(&b);
	poll_until_idle();
	check_balloon_matches(0);
	assert_int_equal(b.st.inflated, 300);
	assert_int_equal(b.st.deflated, 300);
}

/* A target set before the driver came up is followed from the start. */
static void initial_target_followed(void **state)
{
	(void)state;
	fd.cfg.num_pages = 20;
	assert_int_equal(start(), 0);
	poll_until_idle();
	check_balloon_matches(20);
}

/* Out of memory: the balloon stops short and poll() goes idle instead of
 * spinning; the next config change tries again. */
static void inflate_stops_when_memory_is_short(void **state)
{
	(void)state;
	alloc_limit = 50;
	assert_int_equal(start(), 0);
	fake_set_target(300);
	balloon_drv_interrupt(&b);
	poll_until_idle();
	check_balloon_matches(50);
	alloc_limit = POOL_PAGES;
	assert_false(balloon_drv_poll(&b));
	fake_set_target(301);
	balloon_drv_interrupt(&b);
	poll_until_idle();
	check_balloon_matches(301);
}

/* The config interrupt alone changes nothing until the work runs. */
static void config_change_is_deferred_to_poll(void **state)
{
	(void)state;
	assert_int_equal(start(), 0);
	fake_set_target(5);
	fd.gen_flips = 2; /* the device is mid-update on the first reads */
	assert_int_equal(balloon_drv_interrupt(&b), PH_VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(b.st.config_changes, 1);
	assert_int_equal(fd.nballoon, 0);
	assert_true(balloon_drv_poll(&b)); /* one batch started... */
	poll_until_idle();                 /* ...and committed */
	check_balloon_matches(5);
}

static void stats_refreshed_when_device_asks(void **state)
{
	(void)state;
	assert_int_equal(start(), 0);
	assert_int_equal(fd.stats_updates, 1);
	assert_int_equal(fd.stats[0].val, 1001);
	fake_request_stats();
	assert_int_equal(balloon_drv_interrupt(&b), PH_VIRTIO_MMIO_INT_VRING);
	poll_until_idle();
	assert_int_equal(fd.stats_updates, 2);
	assert_int_equal(fd.stats[0].val, 1002);
	assert_int_equal(fd.stats_head >= 0, 1); /* the device holds it again */
}

static void run_device(unsigned n)
{
	(void)n;
	fake_run();
}

/* Out of memory: balloon pages come back at once (the device told first),
 * and the balloon does not re-inflate until the host sets a target again. */
static void oom_deflate(void **state)
{
	(void)state;
	cfg.deflate_on_oom = true;
	assert_int_equal(start(), 0);
	assert_true(fd.drv_features & 1ull << PH_VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	fake_set_target(300);
	balloon_drv_interrupt(&b);
	poll_until_idle();
	check_balloon_matches(300);
	fd.deferred = true; /* the device answers only while we wait */
	on_wait = run_device;
	assert_int_equal(balloon_drv_oom_deflate(&b, 100), 100);
	assert_true(waits >= 1);
	check_balloon_matches(200);
	poll_until_idle();
	check_balloon_matches(200); /* no ping-pong */
	fd.deferred = false;
	fake_set_target(300);
	balloon_drv_interrupt(&b);
	poll_until_idle();
	check_balloon_matches(300);
}

static void oom_deflate_needs_the_feature(void **state)
{
	(void)state;
	assert_int_equal(start(), 0); /* offered, but the guest did not ask */
	assert_false(fd.drv_features & 1ull << PH_VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	fake_set_target(10);
	balloon_drv_interrupt(&b);
	poll_until_idle();
	assert_int_equal(balloon_drv_oom_deflate(&b, 100), 0);
	check_balloon_matches(10);
}

/* ---- failures ---- */

static void needs_reset_on_second_wait(unsigned n)
{
	if (n == 2)
		fake_needs_reset();
}

/* DEVICE_NEEDS_RESET while a report is in flight: report() fails only after
 * the device was reset; poll() brings it back and reporting works again. */
static void needs_reset_fails_report_then_restarts(void **state)
{
	(void)state;
	fd.hold_reports = true;
	cfg.status_every_ns = 1;
	assert_int_equal(start(), 0);
	unsigned resets = fd.resets;
	on_wait = needs_reset_on_second_wait;
	struct ph_range r = { 0x200000, PG };
	assert_int_equal(balloon_drv_report(&b, &r, 1), -PH_EIO);
	assert_true(fd.resets > resets);
	assert_false(balloon_drv_has_reporting(&b));
	assert_int_equal(balloon_drv_report(&b, &r, 1), -PH_EIO); /* until restarted */
	on_wait = NULL;
	fd.hold_reports = false;
	poll_until_idle();
	assert_int_equal(b.st.restarts, 1);
	assert_true(fd.status & PH_VIRTIO_CONFIG_S_DRIVER_OK);
	assert_true(balloon_drv_has_reporting(&b));
	assert_int_equal(balloon_drv_report(&b, &r, 1), 0);
	assert_int_equal(fd.stats_updates, 2); /* stats re-primed */
}

/* A device that never acknowledges: the report times out, the device is
 * reset, the ranges are the caller's again. */
static void report_times_out(void **state)
{
	(void)state;
	fd.hold_reports = true;
	cfg.report_timeout_ns = 2000000; /* 2 ms */
	assert_int_equal(start(), 0);
	struct ph_range r = { 0x200000, PG };
	unsigned resets = fd.resets;
	assert_int_equal(balloon_drv_report(&b, &r, 1), -PH_ETIMEDOUT);
	assert_int_equal(fd.resets, resets + 1);
	assert_int_equal(b.st.failures, 1);
	fd.hold_reports = false;
	poll_until_idle();
	assert_int_equal(balloon_drv_report(&b, &r, 1), 0);
}

static void hostile_used_entry(unsigned n)
{
	if (n != 2)
		return;
	struct fake_q *q = &fd.q[3];
	struct ph_vring_used *u = fake_gpa(q->used, PH_VRING_USED_BYTES(q->num));
	u->ring[u->idx % q->num] = (struct ph_vring_used_elem){ 5000, 0 };
	u->idx++;
}

/* A used entry naming no chain: caught, device reset, report fails. */
static void hostile_used_ring_on_report_queue(void **state)
{
	(void)state;
	fd.hold_reports = true;
	assert_int_equal(start(), 0);
	on_wait = hostile_used_entry;
	unsigned resets = fd.resets;
	struct ph_range r = { 0x200000, PG };
	assert_int_equal(balloon_drv_report(&b, &r, 1), -PH_EIO);
	assert_true(atomic_load(&ph_test_warnings) >= 1);
	assert_int_equal(fd.resets, resets + 1);
	assert_true(virtq_is_broken(&b.vq[BDRV_Q_REPORT]));
}

/* A failure with an inflate batch in flight: its pages go back to the
 * allocator (after the reset), then the restarted balloon refills. */
static void failure_mid_inflate_returns_pages(void **state)
{
	(void)state;
	fd.deferred = true;
	assert_int_equal(start(), 0);
	fake_set_target(100);
	balloon_drv_interrupt(&b);
	assert_true(balloon_drv_poll(&b)); /* batch of 100 in flight */
	assert_int_equal(taken_pages(), 100);
	assert_int_equal(balloon_drv_actual(&b), 0);
	fake_needs_reset();
	balloon_drv_interrupt(&b);
	assert_int_equal(taken_pages(), 0);
	assert_int_equal(balloon_drv_actual(&b), 0);
	fd.deferred = false;
	poll_until_idle();
	check_balloon_matches(100);
}

static void fail_on_tenth_alloc(unsigned n)
{
	if (n == 10) {
		fake_needs_reset();
		balloon_drv_interrupt(&b);
	}
}

/* The device fails while the driver is allocating an inflate batch (lock
 * dropped): the pages never reach the dead queue and all come back. */
static void failure_while_allocating_returns_pages(void **state)
{
	(void)state;
	assert_int_equal(start(), 0);
	fake_set_target(100);
	balloon_drv_interrupt(&b);
	on_alloc = fail_on_tenth_alloc;
	assert_true(balloon_drv_poll(&b)); /* more: restart pending */
	on_alloc = NULL;
	assert_int_equal(taken_pages(), 0);
	assert_int_equal(fd.nballoon, 0);
	poll_until_idle();
	check_balloon_matches(100);
	assert_int_equal(b.st.restarts, 1);
}

/* If the reset never completes the device may still use what it holds:
 * nothing in flight is handed back, the driver stays dead. */
static void reset_that_hangs_keeps_pages(void **state)
{
	(void)state;
	fd.deferred = true;
	assert_int_equal(start(), 0);
	fake_set_target(100);
	balloon_drv_interrupt(&b);
	assert_true(balloon_drv_poll(&b)); /* batch of 100 with the device */
	fd.reset_stuck = true;
	fake_needs_reset();
	balloon_drv_interrupt(&b);
	assert_true(b.dead);
	assert_true(atomic_load(&ph_test_warnings) >= 1);
	assert_int_equal(taken_pages(), 100); /* not returned to the allocator */
	assert_false(balloon_drv_poll(&b));
	struct ph_range r = { 0x200000, PG };
	assert_int_equal(balloon_drv_report(&b, &r, 1), -PH_EIO);
}

/* Failures separated by successes never add up to "dead": a device reset
 * now and then (the faulty-device soak) is survived indefinitely. */
static void occasional_failures_are_survived(void **state)
{
	(void)state;
	cfg.max_restarts = 2;
	cfg.status_every_ns = 1;
	assert_int_equal(start(), 0);
	struct ph_range r = { 0x200000, PG };
	for (int i = 0; i < 10; i++) {
		fd.hold_reports = true;
		on_wait = needs_reset_on_second_wait;
		waits = 0;
		assert_int_equal(balloon_drv_report(&b, &r, 1), -PH_EIO);
		on_wait = NULL;
		fd.hold_reports = false;
		poll_until_idle();
		assert_int_equal(balloon_drv_report(&b, &r, 1), 0);
	}
	assert_int_equal(b.st.restarts, 10);
	assert_false(b.dead);
}

/* Restarts are bounded: a device that keeps refusing ends up dead, and
 * report() keeps failing cleanly. */
static void restarts_are_bounded(void **state)
{
	(void)state;
	cfg.max_restarts = 2;
	assert_int_equal(start(), 0);
	fd.refuse_features_ok = true;
	fake_needs_reset();
	balloon_drv_interrupt(&b);
	poll_until_idle();
	assert_int_equal(b.st.restarts, 2);
	assert_int_equal(b.fail_streak, 2);
	assert_true(b.dead);
	assert_false(balloon_drv_poll(&b));
	struct ph_range r = { 0x200000, PG };
	assert_true(balloon_drv_report(&b, &r, 1) < 0);
}

/* ---- concurrency ---- */

#define RTHREADS 3
#define RROUNDS 200
#define RPAGES 192 /* per thread, from 1 MiB up */

static atomic_uint page_seen[FAKE_RAM_SIZE / PG];
static atomic_bool device_stop;
static atomic_uint reporter_errors, reporter_ranges;

/* A waiting reporter gives its CPU away (there are more threads than
 * CPUs here; in the guest, the device runs on the host). */
static void yield_wait(void *ctx, bool may_halt)
{
	(void)ctx;
	(void)may_halt;
	sched_yield();
}

static void *device_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&device_stop)) {
		pthread_mutex_lock(&fake_mu);
		fake_run();
		pthread_mutex_unlock(&fake_mu);
		sched_yield();
	}
	return NULL;
}

static void *reporter_thread(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	ph_test_set_cpu(t);
	unsigned seed = t + 1;
	uint64_t base = (1u << 20) + (uint64_t)t * RPAGES * PG;
	for (unsigned round = 0; round < RROUNDS; round++) {
		unsigned n = 1 + (unsigned)rand_r(&seed) % 8;
		struct ph_range r[8];
		unsigned before[8], idx[8];
		for (unsigned k = 0; k < n; k++) {
			uint64_t a = base + (uint64_t)((round * 8 + k) % RPAGES) * PG;
			r[k] = (struct ph_range){ a, PG };
			idx[k] = (unsigned)(a / PG);
			before[k] = atomic_load(&page_seen[idx[k]]);
		}
		if (balloon_drv_report(&b, r, n) != 0)
			atomic_fetch_add(&reporter_errors, 1);
		/* returned only after the device used the chain: it saw every
		 * page of this request exactly once */
		for (unsigned k = 0; k < n; k++)
			if (atomic_load(&page_seen[idx[k]]) != before[k] + 1)
				atomic_fetch_add(&reporter_errors, 1);
		atomic_fetch_add(&reporter_ranges, n);
	}
	return NULL;
}

/* Several CPUs report at once through a small queue while the device runs
 * on its own thread: no request is lost, none returns early, the queue
 * ends idle. */
static void concurrent_reports(void **state)
{
	(void)state;
	cfg.queue_size = 16; /* 3 reporters x up to 8 ranges: they queue for room */
	cfg.halt_after_ns = 20000;
	ops.wait = yield_wait;
	assert_int_equal(start(), 0);
	for (unsigned i = 0; i < FAKE_RAM_SIZE / PG; i++)
		atomic_init(&page_seen[i], 0);
	fd.page_seen = page_seen;
	fd.norecord = true;
	fd.deferred = true;
	atomic_store(&device_stop, false);
	atomic_store(&reporter_errors, 0);
	atomic_store(&reporter_ranges, 0);
	fd.threaded = true;
	pthread_t dev, rep[RTHREADS];
	assert_int_equal(pthread_create(&dev, NULL, device_thread, NULL), 0);
	for (uintptr_t t = 0; t < RTHREADS; t++)
		assert_int_equal(pthread_create(&rep[t], NULL, reporter_thread, (void *)t), 0);
	for (unsigned t = 0; t < RTHREADS; t++)
		pthread_join(rep[t], NULL);
	atomic_store(&device_stop, true);
	pthread_join(dev, NULL);
	fd.threaded = false;
	assert_int_equal(atomic_load(&reporter_errors), 0);
	assert_int_equal(atomic_load(&fd.report_chains), RTHREADS * RROUNDS);
	assert_int_equal(atomic_load(&fd.report_descs), atomic_load(&reporter_ranges));
	assert_int_equal(virtq_num_free(&b.vq[BDRV_Q_REPORT]), 16);
	assert_int_equal(b.st.reports, RTHREADS * RROUNDS);
	assert_int_equal(b.st.report_errors, 0);
	assert_false(b.broken);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(init_negotiates_everything_offered),
		T(no_stats_offered_moves_reporting_to_2),
		T(qemu_numbering_agrees),
		T(no_reporting_offered_still_balloons),
		T(reporting_can_be_declined),
		T(features_ok_refused_fails_init),
		T(init_rejects_other_devices_and_small_arena),
		T(report_builds_exact_chain),
		T(report_rejects_bad_requests),
		T(seed_v8_encoding),
		T(seed_v8_capacity_configurable),
		T(report_waits_for_the_device),
		T(quick_report_costs_one_notify),
		T(event_idx_costs_qemu_one_interrupt),
		T(slow_report_reads_no_status),
		T(long_wait_arms_interrupt),
		T(inflate_deflate_follow_num_pages),
		T(initial_target_followed),
		T(inflate_stops_when_memory_is_short),
		T(config_change_is_deferred_to_poll),
		T(stats_refreshed_when_device_asks),
		T(oom_deflate),
		T(oom_deflate_needs_the_feature),
		T(needs_reset_fails_report_then_restarts),
		T(report_times_out),
		T(hostile_used_ring_on_report_queue),
		T(failure_mid_inflate_returns_pages),
		T(failure_while_allocating_returns_pages),
		T(reset_that_hangs_keeps_pages),
		T(occasional_failures_are_survived),
		T(restarts_are_bounded),
		T(concurrent_reports),
		T(xl_map_posted_and_accepted),
		T(xl_queue_numbering),
		T(xl_not_offered_or_not_requested),
		T(xl_refused),
		T(xl_late_answer_reaches_poll),
		T(xl_reset_takes_the_map_back),
	};
	return cmocka_run_group_tests_name("balloon_driver", tests, NULL, NULL);
}
