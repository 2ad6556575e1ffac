/* SPDX-License-Identifier: MIT */
/*
 * The joint test: core/balloon_driver (the guest's side) against the real
 * device model in vmm/ (virtio_mmio.c + balloon.c), both in this process.
 * Guest RAM is the buffer of tests/unit/test_vmm_driver.h (guest-physical
 * address = offset into it); the driver's register callbacks call
 * virtio_mmio_read/write, so QueueNotify runs the device inline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "test_vmm_driver.h"

#include "balloon_driver.h"
#include "exitless_guest.h"
#include "clock.h"

#define ARENA 0x0u              /* driver arena at gpa 0 (T_MEM_SIZE is 16 MiB) */
#define ARENA_SIZE (1u << 20)
#define POOL_BASE (8u << 20)    /* balloon pages from [8 MiB, 16 MiB) */
#define POOL_PAGES 2048u
#define PG 4096u

static struct t_dev *d;
static struct balloon_drv drv;
static struct balloon_drv_config cfg;
static uint32_t pfns[POOL_PAGES];
static uint8_t taken[POOL_PAGES];
static unsigned ntaken;

static uint32_t j_r32(void *c, uint32_t off) { (void)c; return virtio_mmio_read(d->t, off, 4); }
static void j_w32(void *c, uint32_t off, uint32_t v) { (void)c; virtio_mmio_write(d->t, off, 4, v); }
static uint8_t j_r8(void *c, uint32_t off) { (void)c; return (uint8_t)virtio_mmio_read(d->t, off, 1); }
static uint64_t j_v2p(void *c, const void *p) { (void)c; return (uint64_t)((const uint8_t *)p - d->mem); }
static const struct vm_regs_ops jregs = { j_r32, j_w32, j_r8, j_v2p };

static bool j_alloc(void *ctx, uint64_t *pa)
{
	(void)ctx;
	for (unsigned i = 0; i < POOL_PAGES; i++)
		if (!taken[i]) {
			taken[i] = 1;
			ntaken++;
			*pa = POOL_BASE + (uint64_t)i * PG;
			return true;
		}
	return false;
}

static void j_free(void *ctx, uint64_t pa)
{
	(void)ctx;
	unsigned i = (unsigned)((pa - POOL_BASE) / PG);
	assert_true(i < POOL_PAGES && taken[i]);
	taken[i] = 0;
	ntaken--;
}

static unsigned j_stats(void *ctx, struct ph_virtio_balloon_stat *st, unsigned max)
{
	(void)ctx;
	(void)max;
	st[0] = (struct ph_virtio_balloon_stat){ PH_VIRTIO_BALLOON_S_MEMFREE, 123456789 };
	return 1;
}

static const struct balloon_drv_ops jops = {
	.page_alloc = j_alloc, .page_free = j_free, .get_stats = j_stats,
};

static bool no_event_idx;	/* for the next start() */

static void start(const struct balloon_config *dev_cfg, enum bdrv_protocol proto)
{
	d = t_dev_new(dev_cfg);
	memset(taken, 0, sizeof(taken));
	ntaken = 0;
	cfg = (struct balloon_drv_config){
		.protocol = proto, .queue_size = 128, .pfns = pfns, .max_pages = POOL_PAGES,
		.mem = d->mem + ARENA, .mem_len = ARENA_SIZE,
		.status_every_ns = 1, .report_timeout_ns = 1000000000ull,
		.no_event_idx = no_event_idx,
	};
	assert_int_equal(balloon_drv_init(&drv, &jregs, NULL, &jops, &cfg), 0);
}

static int teardown(void **state)
{
	(void)state;
	t_dev_free(d);
	d = NULL;
	return 0;
}

static void poll_until_idle(void)
{
	for (int i = 0; balloon_drv_poll(&drv); i++)
		assert_true(i < 10000);
}

static void bringup_agrees_on_queues(void **state)
{
	(void)state;
	start(NULL, BDRV_PROTO_VIRTIO);
	assert_true(balloon_drv_has_reporting(&drv));
	assert_int_equal(balloon_drv_queue_index(&drv, BDRV_Q_STATS), 2);
	assert_int_equal(balloon_drv_queue_index(&drv, BDRV_Q_REPORT), 3);
	assert_int_equal(balloon_queue_role(d->b, 2), BQ_STATS);
	assert_int_equal(balloon_queue_role(d->b, 3), BQ_REPORT);
	assert_true(virtio_mmio_status(d->t) & VIRTIO_CONFIG_S_DRIVER_OK);
	assert_true(drv.vm.features & 1ull << VIRTIO_RING_F_EVENT_IDX);
}

static void report_is_discarded(void **state)
{
	(void)state;
	start(NULL, BDRV_PROTO_VIRTIO);
	struct ph_range r[3] = { { 0x200000, 2u << 20 }, { 0x500000, PG }, { 0x600000, 8 * PG } };
	struct ph_report_sink *s = balloon_drv_sink(&drv);
	assert_int_equal(s->report(s, r, 3), 0);
	assert_int_equal(d->ndiscards, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(d->discards[i].gpa, r[i].addr);
		assert_int_equal(d->discards[i].len, r[i].len);
	}
	const struct balloon_counters *c = balloon_counters(d->b);
	assert_int_equal(atomic_load(&c->report_requests), 1);
	assert_int_equal(atomic_load(&c->report_ranges), 3);
	assert_int_equal(atomic_load(&c->bad_inputs), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(s->report(s, &r[1], 1), 0);
	assert_int_equal(atomic_load(&c->report_requests), 51);
}

static void seed_v8_report_is_discarded(void **state)
{
	(void)state;
	struct balloon_config dc = { .protocol = BALLOON_PROTO_SEED_V8 };
	start(&dc, BDRV_PROTO_SEED_V8);
	struct ph_range r[2] = { { 0x400000, 1024 * PG }, { 0x3000, PG } };
	assert_int_equal(balloon_drv_report(&drv, r, 2), 0);
	const struct balloon_counters *c = balloon_counters(d->b);
	assert_int_equal(atomic_load(&c->report_ranges), 2);
	assert_int_equal(atomic_load(&c->reported_bytes), (4u << 20) + PG);
	assert_int_equal(atomic_load(&c->bad_inputs), 0);
}

static void no_reporting_device(void **state)
{
	(void)state;
	struct balloon_config dc = { .no_reporting = true };
	start(&dc, BDRV_PROTO_VIRTIO);
	struct ph_range r = { 0x200000, PG };
	assert_int_equal(balloon_drv_report(&drv, &r, 1), -PH_EOPNOTSUPP);
	assert_int_equal(balloon_drv_queue_index(&drv, BDRV_Q_STATS), 2);
}

static void balloon_follows_target(void **state)
{
	(void)state;
	start(NULL, BDRV_PROTO_VIRTIO);
	unsigned irqs = d->irqs;
	balloon_set_target(d->b, 700);
	assert_true(d->irqs > irqs); /* config interrupt */
	assert_true(balloon_drv_interrupt(&drv) & PH_VIRTIO_MMIO_INT_CONFIG);
	poll_until_idle();
	assert_int_equal(balloon_drv_actual(&drv), 700);
	assert_int_equal(balloon_actual(d->b), 700);
	assert_int_equal(atomic_load(&balloon_counters(d->b)->balloon_pages), 700);
	assert_int_equal(ntaken, 700);
	balloon_set_target(d->b, 200);
	balloon_drv_interrupt(&drv);
	poll_until_idle();
	assert_int_equal(balloon_actual(d->b), 200);
	assert_int_equal(atomic_load(&balloon_counters(d->b)->balloon_pages), 200);
	assert_int_equal(ntaken, 200);
}

/* The guest's configuration (no EVENT_IDX, docs/virtio-driver.md
 * "Waiting") with vmm/'s device: reports are discarded without an
 * interrupt (the polled queue says NO_INTERRUPT), the balloon still
 * follows its target and the stats still arrive. */
static void without_event_idx(void **state)
{
	(void)state;
	no_event_idx = true;
	start(NULL, BDRV_PROTO_VIRTIO);
	no_event_idx = false;
	assert_false(drv.vm.features & 1ull << VIRTIO_RING_F_EVENT_IDX);
	struct ph_range r = { 0x200000, 2u << 20 };
	unsigned irqs = d->irqs;
	for (int i = 0; i < 10; i++)
		assert_int_equal(balloon_drv_report(&drv, &r, 1), 0);
	assert_int_equal(d->ndiscards, 10);
	assert_int_equal(d->irqs, irqs);
	balloon_set_target(d->b, 300);
	balloon_drv_interrupt(&drv);
	poll_until_idle();
	assert_int_equal(balloon_actual(d->b), 300);
	balloon_request_stats(d->b);
	balloon_drv_interrupt(&drv);
	poll_until_idle();
	uint64_t v = 0;
	assert_true(balloon_stat(d->b, VIRTIO_BALLOON_S_MEMFREE, &v));
}

static void stats_reach_the_host(void **state)
{
	(void)state;
	start(NULL, BDRV_PROTO_VIRTIO);
	balloon_request_stats(d->b);
	balloon_drv_interrupt(&drv);
	poll_until_idle();
	uint64_t v = 0;
	assert_true(balloon_stat(d->b, VIRTIO_BALLOON_S_MEMFREE, &v));
	assert_int_equal(v, 123456789);
}

/* A range outside guest RAM: the device refuses it and asks for a reset;
 * the driver resets, restarts and reports again. */
static void bad_range_then_recovery(void **state)
{
	(void)state;
	start(NULL, BDRV_PROTO_VIRTIO);
	struct ph_range bad = { T_MEM_SIZE, PG };
	int r = balloon_drv_report(&drv, &bad, 1);
	assert_true(r == 0 || r == -PH_EIO);
	assert_int_equal(d->ndiscards, 0);
	balloon_drv_interrupt(&drv);
	poll_until_idle();
	struct ph_range good = { 0x200000, PG };
	assert_int_equal(balloon_drv_report(&drv, &good, 1), 0);
	assert_int_equal(d->ndiscards, 1);
	assert_true(drv.st.restarts >= 1);
}

/* ---- exitless: the guest's side against the real device ---- */

#define XL_MAP_GPA 0x200000u    /* the map, in guest RAM */
#define XL_ZONE_PFN 1024u       /* a zone over [4 MiB, 8 MiB): frames 2 and 3 */
#define XL_ZONE_PAGES 1024u

static struct ph_zone *xz;
static struct ph_page xmemmap[XL_ZONE_PAGES];
static struct ph_xl_map xmap;
static struct ph_xl_guest xg;
static unsigned xl_attached_calls;

static void j_xl_attached(void *ctx)
{
	(void)ctx;
	xl_attached_calls++;
	ph_xl_guest_publish(&xg);
}

static void xl_start(void)
{
	static _Alignas(64) struct ph_zone zone;
	struct balloon_config dc = { .xl_manual = true };
	static struct balloon_drv_ops ops;

	d = t_dev_new(&dc);
	xz = &zone;
	assert_int_equal(ph_zone_init(xz, xmemmap, XL_ZONE_PFN, XL_ZONE_PAGES, NULL), 0);
	assert_int_equal(ph_zone_free_range(xz, XL_ZONE_PFN, XL_ZONE_PAGES), 0);
	size_t len = ph_xl_mem_bytes(XL_ZONE_PFN, XL_ZONE_PAGES);
	assert_int_equal(ph_xl_init(&xmap, d->mem + XL_MAP_GPA, len, XL_ZONE_PFN, XL_ZONE_PAGES), 0);
	memset(&xg, 0, sizeof(xg));
	xl_attached_calls = 0;
	ops = jops;
	ops.xl_attached = j_xl_attached;
	memset(taken, 0, sizeof(taken));
	ntaken = 0;
	cfg = (struct balloon_drv_config){
		.protocol = BDRV_PROTO_VIRTIO, .queue_size = 128, .pfns = pfns, .max_pages = POOL_PAGES,
		.mem = d->mem + ARENA, .mem_len = ARENA_SIZE,
		.status_every_ns = 1, .report_timeout_ns = 1000000000ull, .xl_map = &xmap,
	};
	assert_int_equal(balloon_drv_init(&drv, &jregs, NULL, &ops, &cfg), 0);
}

/* Both sides agree on bit 23, the map queue's index and the descriptor:
 * the device accepts, scans what the guest published, discards it in one
 * call, and the guest takes a RECLAIMED frame back. */
static void xl_map_accepted_and_scanned(void **state)
{
	(void)state;
	xl_start();
	assert_true(drv.vm.features & 1ull << 23);
	assert_int_equal(balloon_drv_queue_index(&drv, BDRV_Q_XL), 4);
	assert_int_equal(balloon_queue_role(d->b, 4), BQ_MAP);
	assert_int_equal(balloon_drv_xl_wait(&drv, 1000000000ull), BDRV_XL_ATTACHED);
	assert_true(balloon_xl_attached(d->b));
	/* nothing published yet: a poll discards nothing */
	balloon_xl_poll(d->b, mono_ns());
	assert_int_equal(d->ndiscards, 0);

	assert_int_equal(ph_xl_guest_start(&xg, xz, &xmap, 0), 0);
	assert_int_equal(ph_xl_state_of(&xmap, XL_ZONE_PFN), PH_XL_FREE);
	balloon_xl_poll(d->b, mono_ns());
	assert_int_equal(d->ndiscards, 1);	/* two adjacent frames, one call */
	assert_int_equal(d->discards[0].gpa, (uint64_t)XL_ZONE_PFN * PG);
	assert_int_equal(d->discards[0].len, (uint64_t)XL_ZONE_PAGES * PG);
	assert_int_equal(ph_xl_state_of(&xmap, XL_ZONE_PFN), PH_XL_RECLAIMED);
	assert_int_equal(ph_xl_state_of(&xmap, XL_ZONE_PFN + 512), PH_XL_RECLAIMED);

	uint64_t p = ph_alloc_pages_direct(xz, 0);
	assert_int_equal(p, XL_ZONE_PFN);
	struct ph_xl_guest_stats st;
	ph_xl_guest_get_stats(&xg, &st);
	assert_int_equal(st.taken_reclaimed, 1);
	assert_int_equal(ph_xl_state_of(&xmap, XL_ZONE_PFN), PH_XL_USED);
	balloon_xl_poll(d->b, mono_ns());
	assert_int_equal(d->ndiscards, 1);	/* a USED frame is never claimed */
	assert_int_equal(ph_free_pages_direct(xz, p, 0), 0);
	assert_int_equal(ph_xl_state_of(&xmap, XL_ZONE_PFN), PH_XL_FREE);
	ph_xl_guest_stop(&xg);
}

/* The device fails (a bad report): the driver resets it (the map comes
 * back to USED), restarts it, posts the map again, the device accepts,
 * and the guest publishes again. */
static void xl_reset_and_reattach(void **state)
{
	(void)state;
	xl_start();
	assert_int_equal(balloon_drv_xl_wait(&drv, 1000000000ull), BDRV_XL_ATTACHED);
	assert_int_equal(ph_xl_guest_start(&xg, xz, &xmap, 0), 0);
	struct ph_range bad = { T_MEM_SIZE, PG };
	int r = balloon_drv_report(&drv, &bad, 1);
	assert_true(r == 0 || r == -PH_EIO);
	balloon_drv_interrupt(&drv);
	poll_until_idle();
	assert_true(drv.st.restarts >= 1);
	assert_int_equal(drv.st.xl_resets, 1);
	assert_int_equal(drv.st.xl_posts, 2);
	assert_int_equal(balloon_drv_xl_state(&drv), BDRV_XL_ATTACHED);
	assert_int_equal(xl_attached_calls, 1);
	assert_int_equal(atomic_load(&balloon_counters(d->b)->xl.attaches), 2);
	assert_int_equal(ph_xl_state_of(&xmap, XL_ZONE_PFN), PH_XL_FREE);	/* published again */
	balloon_xl_poll(d->b, mono_ns());
	assert_int_equal(ph_xl_state_of(&xmap, XL_ZONE_PFN), PH_XL_RECLAIMED);
	ph_xl_guest_stop(&xg);
}

/* ---- exitless under load: the scanner thread against allocating CPUs ---- */

#define XS_ZONE_PFN 1024u       /* [4 MiB, 16 MiB): frames 2..7 */
#define XS_ZONE_PAGES 3072u
#define XS_THREADS 2
#define XS_ROUNDS 4000

static struct ph_page xsmemmap[XS_ZONE_PAGES];
static atomic_ulong xs_zeroed;

/* The host's discard, as MADV_DONTNEED looks to the guest: zeroes. */
static int xs_discard(void *opaque, uint64_t gpa, uint64_t len)
{
	(void)opaque;
	usleep(200);	/* a slow discard: CPUs find frames RECLAIMING and wait */
	memset(d->mem + gpa, 0, len);
	atomic_fetch_add(&xs_zeroed, len);
	return 0;
}

struct xs_cpu {
	unsigned id;
	unsigned long bad;	/* a word of ours changed while we held the block */
};

static void *xs_guest(void *arg)
{
	struct xs_cpu *c = arg;
	uint64_t r = 0x9e3779b97f4a7c15ull * (c->id + 1);
	static const unsigned orders[] = { 0, 2, 9, 9, 10, 10, 10, 5 };

	ph_test_set_cpu(c->id);
	for (unsigned i = 0; i < XS_ROUNDS; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		unsigned order = orders[r % 8];
		uint64_t pfn = ph_alloc_pages_direct(xz, order);
		if (pfn == PH_NO_PFN)
			continue;
		uint64_t tag = (pfn << 8) | c->id | (uint64_t)i << 40;
		/* first and last word of every page */
		for (uint64_t p = pfn; p < pfn + (1ull << order); p++) {
			uint64_t *w = (uint64_t *)(d->mem + p * PG);
			w[0] = tag ^ p;
			w[PG / 8 - 1] = ~(tag ^ p);
		}
		sched_yield();	/* let the scanner run while we hold it */
		for (uint64_t p = pfn; p < pfn + (1ull << order); p++) {
			uint64_t *w = (uint64_t *)(d->mem + p * PG);
			if (w[0] != (tag ^ p) || w[PG / 8 - 1] != ~(tag ^ p))
				c->bad++;
		}
		assert_int_equal(ph_free_pages_direct(xz, pfn, order), 0);
	}
	return NULL;
}

/* The real scanner thread discards (zeroing) what two guest CPUs free
 * while they allocate 4 KiB - 4 MiB blocks, write and check them: no word
 * of a block a CPU holds ever changes; at the end everything free comes
 * back, and after a reset nothing is RECLAIMING. */
static void xl_scanner_thread_beside_allocating_cpus(void **state)
{
	(void)state;
	static _Alignas(64) struct ph_zone zone;
	static struct balloon_drv_ops ops;
	struct balloon_config dc = { .discard = xs_discard };

	/* t_dev_new() records discards; this test needs them to zero */
	d = calloc(1, sizeof(*d));
	t_quiet_logs();
	d->mem = calloc(1, T_MEM_SIZE);
	gm_init_buffer(&d->gm, d->mem, 0, T_MEM_SIZE);
	d->b = balloon_create(&d->gm, &dc);
	d->t = virtio_mmio_create(&d->gm, &balloon_ops, d->b, 0xd0000000);
	virtio_mmio_set_irq(d->t, t_irq, d);
	atomic_store(&xs_zeroed, 0);

	xz = &zone;
	assert_int_equal(ph_zone_init(xz, xsmemmap, XS_ZONE_PFN, XS_ZONE_PAGES, NULL), 0);
	assert_int_equal(ph_zone_free_range(xz, XS_ZONE_PFN, XS_ZONE_PAGES), 0);
	size_t len = ph_xl_mem_bytes(XS_ZONE_PFN, XS_ZONE_PAGES);
	assert_int_equal(ph_xl_init(&xmap, d->mem + XL_MAP_GPA, len, XS_ZONE_PFN, XS_ZONE_PAGES), 0);
	memset(&xg, 0, sizeof(xg));
	ops = jops;
	ops.xl_attached = j_xl_attached;
	memset(taken, 0, sizeof(taken));
	ntaken = 0;
	cfg = (struct balloon_drv_config){
		.protocol = BDRV_PROTO_VIRTIO, .queue_size = 128, .pfns = pfns, .max_pages = POOL_PAGES,
		.mem = d->mem + ARENA, .mem_len = ARENA_SIZE,
		.status_every_ns = 1, .report_timeout_ns = 1000000000ull, .xl_map = &xmap,
	};
	assert_int_equal(balloon_drv_init(&drv, &jregs, NULL, &ops, &cfg), 0);
	assert_int_equal(balloon_drv_xl_wait(&drv, 1000000000ull), BDRV_XL_ATTACHED);
	/* a 2 s wait, not the default: this host is loaded and the test's
	 * discard slow, and a CPU giving up takes the block out for good
	 * (nothing left to interleave) */
	assert_int_equal(ph_xl_guest_start(&xg, xz, &xmap, 2000000000ull), 0);

	pthread_t th[XS_THREADS];
	struct xs_cpu cpu[XS_THREADS];
	for (unsigned i = 0; i < XS_THREADS; i++) {
		cpu[i] = (struct xs_cpu){ .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, xs_guest, &cpu[i]), 0);
	}
	for (unsigned i = 0; i < XS_THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(cpu[i].bad, 0);
	}
	/* all free again: every frame comes back (RECLAIMED) */
	for (int i = 0; ; i++) {
		unsigned n = 0;
		for (uint64_t p = XS_ZONE_PFN; p < XS_ZONE_PFN + XS_ZONE_PAGES; p += 512)
			n += ph_xl_state_of(&xmap, p) == PH_XL_RECLAIMED;
		if (n == XS_ZONE_PAGES / 512)
			break;
		if (i > 20000)
			fail_msg("only %u frames reclaimed", n);
		usleep(1000);
	}
	struct ph_xl_guest_stats st;
	ph_xl_guest_get_stats(&xg, &st);
	print_message("# exitless under load: %lu MiB zeroed, %lu discards, %llu waits on "
		      "RECLAIMING, %llu refaults, %llu blocks removed\n",
		      atomic_load(&xs_zeroed) >> 20,
		      atomic_load(&balloon_counters(d->b)->xl.discard_calls),
		      (unsigned long long)st.waits, (unsigned long long)st.taken_reclaimed,
		      (unsigned long long)st.removed_blocks);
	assert_int_equal(atomic_load(&balloon_counters(d->b)->xl.violations), 0);
	assert_int_equal(st.removed_blocks, 0);
	/* a reset: when it returns nothing is RECLAIMING, and stays so */
	t_wr(d, VIRTIO_MMIO_STATUS, 0);
	for (uint64_t p = XS_ZONE_PFN; p < XS_ZONE_PFN + XS_ZONE_PAGES; p += 512)
		assert_int_not_equal(ph_xl_state_of(&xmap, p), PH_XL_RECLAIMING);
	ph_xl_guest_stop(&xg);
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(bringup_agrees_on_queues),
		T(report_is_discarded),
		T(seed_v8_report_is_discarded),
		T(no_reporting_device),
		T(balloon_follows_target),
		T(stats_reach_the_host),
		T(without_event_idx),
		T(bad_range_then_recovery),
		T(xl_map_accepted_and_scanned),
		T(xl_reset_and_reattach),
		T(xl_scanner_thread_beside_allocating_cpus),
	};
	return cmocka_run_group_tests_name("balloon_driver_vmm", tests, NULL, NULL);
}
